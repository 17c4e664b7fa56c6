/*
 * filter_policy.c - the bloom filter policy and user policies.
 *
 * Bloom filter (LevelDB's "leveldb.BuiltinBloomFilter2", bit-compatible so
 * either implementation reads the other's tables):
 *   filter := bits[ceil(max(n * bits_per_key, 64) / 8) bytes] k:uint8
 *   k      := round(bits_per_key * ln 2), clamped to [1, 30]
 * Each key sets k bits by double hashing: h = hash(key, seed 0xbc9f1d34)
 * (util/cache.h st_hash), delta = h rotated right by 17 bits, and probe i
 * sets bit (h + i * delta) mod nbits (bit b is bit b%8 of byte b/8).
 * A k above 30 marks a filter encoding we do not know: it matches all.
 */
#include "table/filter_policy.h"

#include <stdlib.h>
#include <string.h>

#include "util/cache.h"
#include "util/error.h"

#define BLOOM_SEED 0xbc9f1d34u

static uint32_t bloom_hash(st_slice key) { return st_hash(key.data, key.size, BLOOM_SEED); }

static int bloom_create(const st_filter_policy *p, const st_slice *keys, int n, st_buf *dst) {
  size_t bits = (size_t)n * (size_t)p->bloom_bits_per_key;
  if (bits < 64) bits = 64; /* tiny filters would have a high false-positive rate */
  size_t bytes = (bits + 7) / 8;
  bits = bytes * 8;
  size_t start = dst->size;
  if (st_buf_reserve(dst, bytes + 1)) return STRATA_ENOMEM;
  memset(dst->data + start, 0, bytes);
  dst->data[start + bytes] = (char)p->bloom_k;
  dst->size += bytes + 1;
  unsigned char *array = (unsigned char *)dst->data + start;
  for (int i = 0; i < n; i++) {
    uint32_t h = bloom_hash(keys[i]);
    uint32_t delta = (h >> 17) | (h << 15);
    for (int j = 0; j < p->bloom_k; j++) {
      uint32_t bitpos = (uint32_t)(h % bits);
      array[bitpos / 8] |= (unsigned char)(1u << (bitpos % 8));
      h += delta;
    }
  }
  return 0;
}

static int bloom_may_match(st_slice key, st_slice filter) {
  if (filter.size < 2) return 0;
  const unsigned char *array = (const unsigned char *)filter.data;
  size_t bits = (filter.size - 1) * 8;
  int k = array[filter.size - 1];
  if (k > 30) return 1;
  uint32_t h = bloom_hash(key);
  uint32_t delta = (h >> 17) | (h << 15);
  for (int j = 0; j < k; j++) {
    uint32_t bitpos = (uint32_t)(h % bits);
    if ((array[bitpos / 8] & (1u << (bitpos % 8))) == 0) return 0;
    h += delta;
  }
  return 1;
}

int st_filter_create(const st_filter_policy *p, const st_slice *keys, int n, st_buf *dst) {
  if (p->bloom_bits_per_key > 0) return bloom_create(p, keys, n, dst);
  /* A user policy takes parallel arrays of pointers and lengths. */
  const char **ptrs = malloc(((size_t)n + 1) * sizeof *ptrs);
  size_t *lens = malloc(((size_t)n + 1) * sizeof *lens);
  int rc = (!ptrs || !lens) ? st_err(STRATA_ENOMEM, "filter") : 0;
  for (int i = 0; !rc && i < n; i++) {
    ptrs[i] = keys[i].data;
    lens[i] = keys[i].size;
  }
  size_t flen = 0;
  char *f = rc ? NULL : p->create_filter(p->state, ptrs, lens, n, &flen);
  if (!rc && !f && flen) rc = st_err(STRATA_ENOMEM, "filter policy %s returned no filter", p->name);
  if (!rc && flen) rc = st_buf_append(dst, f, flen);
  free(f);
  free(ptrs);
  free(lens);
  return rc;
}

int st_filter_may_match(const st_filter_policy *p, st_slice key, st_slice filter) {
  if (p->bloom_bits_per_key > 0) return bloom_may_match(key, filter);
  return p->key_may_match(p->state, key.data, key.size, filter.data, filter.size) != 0;
}

int strata_filter_policy_create_bloom(int bits_per_key, strata_filter_policy **out) {
  if (!out) return st_err(STRATA_EMISUSE, "strata_filter_policy_create_bloom: NULL out");
  *out = NULL;
  if (bits_per_key < 1) bits_per_key = 1;
  strata_filter_policy *p = calloc(1, sizeof *p);
  char *name = strdup("leveldb.BuiltinBloomFilter2");
  if (!p || !name) {
    free(p);
    free(name);
    return st_err(STRATA_ENOMEM, "bloom filter policy");
  }
  p->name = name;
  p->bloom_bits_per_key = bits_per_key;
  /* k = bits_per_key * ln(2) minimises false positives. */
  int k = (int)(bits_per_key * 0.69);
  p->bloom_k = k < 1 ? 1 : (k > 30 ? 30 : k);
  *out = p;
  return 0;
}

int strata_filter_policy_create(const char *name, void *state,
                                char *(*create_filter)(void *state, const char *const *keys,
                                                       const size_t *key_lens, int n,
                                                       size_t *filter_len),
                                int (*key_may_match)(void *state, const char *key, size_t klen,
                                                     const char *filter, size_t filter_len),
                                void (*destructor)(void *state), strata_filter_policy **out) {
  if (!out) return st_err(STRATA_EMISUSE, "strata_filter_policy_create: NULL out");
  *out = NULL;
  if (!name || !create_filter || !key_may_match)
    return st_err(STRATA_EINVAL,
                  "strata_filter_policy_create: name and both callbacks are required");
  strata_filter_policy *p = calloc(1, sizeof *p);
  char *n = strdup(name);
  if (!p || !n) {
    free(p);
    free(n);
    return st_err(STRATA_ENOMEM, "filter policy");
  }
  p->name = n;
  p->state = state;
  p->create_filter = create_filter;
  p->key_may_match = key_may_match;
  p->destructor = destructor;
  *out = p;
  return 0;
}

void strata_filter_policy_destroy(strata_filter_policy *p) {
  if (!p) return;
  if (p->destructor) p->destructor(p->state);
  free(p->name);
  free(p);
}
