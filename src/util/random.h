/*
 * random.h - a small deterministic PRNG (Park-Miller "minimal standard",
 * multiplier 16807 mod 2^31-1, the generator LevelDB's db_bench and skiplist
 * use). Not thread-safe: one per thread or under a lock.
 */
#ifndef ST_RANDOM_H
#define ST_RANDOM_H

#include <stdint.h>

typedef struct st_random {
  uint32_t seed;
} st_random;

static inline void st_random_init(st_random *r, uint32_t s) {
  r->seed = s & 0x7fffffffu;
  if (r->seed == 0 || r->seed == 2147483647u) r->seed = 1;
}

static inline uint32_t st_random_next(st_random *r) {
  const uint32_t M = 2147483647u;
  uint64_t product = (uint64_t)r->seed * 16807u;
  r->seed = (uint32_t)((product >> 31) + (product & M));
  if (r->seed > M) r->seed -= M;
  return r->seed;
}

/* Uniform in [0, n-1]; n > 0. */
static inline uint32_t st_random_uniform(st_random *r, uint32_t n) { return st_random_next(r) % n; }

/* True about once in n calls. */
static inline int st_random_one_in(st_random *r, uint32_t n) { return st_random_next(r) % n == 0; }

#endif
