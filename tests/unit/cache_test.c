/* cache_test.c - the sharded LRU cache and LevelDB's hash function. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "util/cache.h"
#include "util/random.h"

/* ---- st_hash: LevelDB's hash_test.cc expectations (bloom compatibility) */

static void test_hash_known_values(void **state) {
  (void)state;
  const uint32_t seed = 0xbc9f1d34u;
  static const unsigned char d1[1] = {0x62};
  static const unsigned char d2[2] = {0xc3, 0x97};
  static const unsigned char d3[3] = {0xe2, 0x99, 0xa5};
  static const unsigned char d4[4] = {0xe1, 0x80, 0xb9, 0x32};
  static const unsigned char d5[48] = {
      0x01, 0xc0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
      0x00, 0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00,
      0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x18, 0x28, 0x00, 0x00, 0x00,
      0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
  };
  assert_int_equal(st_hash(NULL, 0, seed), 0xbc9f1d34u);
  assert_int_equal(st_hash((const char *)d1, sizeof d1, seed), 0xef1345c4u);
  assert_int_equal(st_hash((const char *)d2, sizeof d2, seed), 0x5b663814u);
  assert_int_equal(st_hash((const char *)d3, sizeof d3, seed), 0x323c078fu);
  assert_int_equal(st_hash((const char *)d4, sizeof d4, seed), 0xed21633au);
  /* The 48-byte vector is hashed with a different seed in hash_test.cc. */
  assert_int_equal(st_hash((const char *)d5, sizeof d5, 0x12345678u), 0xf333dabbu);
}

/* ---- helpers ---- */

#define MAXV 20000
static int deleted[MAXV]; /* deleter calls per value number */
static size_t deleted_total;

static void del_fn(st_slice key, void *value) {
  (void)key;
  intptr_t v = (intptr_t)value;
  assert_true(v >= 0 && v < MAXV);
  deleted[v]++;
  deleted_total++;
}

static int setup(void **state) {
  (void)state;
  memset(deleted, 0, sizeof deleted);
  deleted_total = 0;
  return 0;
}

static st_slice ikey(int k, char *buf) {
  int n = snprintf(buf, 16, "k%d", k);
  return st_slice_make(buf, (size_t)n);
}

static void put(st_cache *c, int k, intptr_t v, size_t charge) {
  char b[16];
  st_cache_handle *h = st_cache_insert(c, ikey(k, b), (void *)v, charge, del_fn);
  assert_non_null(h);
  assert_int_equal((intptr_t)st_cache_value(h), v);
  st_cache_release(c, h);
}

/* The value under k, or -1 if absent. */
static intptr_t get(st_cache *c, int k) {
  char b[16];
  st_cache_handle *h = st_cache_lookup(c, ikey(k, b));
  if (!h) return -1;
  intptr_t v = (intptr_t)st_cache_value(h);
  st_cache_release(c, h);
  return v;
}

static uint32_t shard_of_key(int k) {
  char b[16];
  st_slice s = ikey(k, b);
  return st_hash(s.data, s.size, 0) >> 28;
}

/* n keys that all land in the same shard as key `base`, so LRU order among
 * them is observable. */
static void same_shard_keys(int base, int *out, int n) {
  uint32_t sh = shard_of_key(base);
  int found = 0;
  for (int k = base; found < n; k++)
    if (shard_of_key(k) == sh) out[found++] = k;
}

/* ---- tests ---- */

static void test_hit_and_miss(void **state) {
  (void)state;
  st_cache *c = st_cache_new(1000);
  assert_non_null(c);
  assert_int_equal(get(c, 100), -1);
  put(c, 100, 101, 1);
  assert_int_equal(get(c, 100), 101);
  assert_int_equal(get(c, 200), -1);
  assert_int_equal(get(c, 300), -1);
  put(c, 200, 201, 1);
  assert_int_equal(get(c, 100), 101);
  assert_int_equal(get(c, 200), 201);
  assert_int_equal(get(c, 300), -1);
  /* An empty key is a key like any other. */
  st_cache_handle *h = st_cache_insert(c, st_slice_make("", 0), (void *)7, 1, del_fn);
  st_cache_release(c, h);
  h = st_cache_lookup(c, st_slice_make("", 0));
  assert_non_null(h);
  assert_int_equal((intptr_t)st_cache_value(h), 7);
  st_cache_release(c, h);
  assert_int_equal(deleted_total, 0);
  st_cache_free(c);
  assert_int_equal(deleted_total, 3);
  assert_int_equal(deleted[101], 1);
  assert_int_equal(deleted[201], 1);
  assert_int_equal(deleted[7], 1);
}

static void test_replace(void **state) {
  (void)state;
  st_cache *c = st_cache_new(1000);
  put(c, 100, 101, 3);
  assert_int_equal(st_cache_total_charge(c), 3);
  put(c, 100, 102, 5);
  assert_int_equal(get(c, 100), 102);
  assert_int_equal(deleted[101], 1); /* unheld: freed at once */
  assert_int_equal(st_cache_total_charge(c), 5);

  /* Replacing a held entry: the old one lives until its handle goes. */
  char b[16];
  st_cache_handle *h = st_cache_lookup(c, ikey(100, b));
  assert_non_null(h);
  put(c, 100, 103, 2);
  assert_int_equal(get(c, 100), 103);
  assert_int_equal(deleted[102], 0);
  assert_int_equal((intptr_t)st_cache_value(h), 102);
  assert_int_equal(st_cache_total_charge(c), 2);
  st_cache_release(c, h);
  assert_int_equal(deleted[102], 1);
  st_cache_free(c);
  assert_int_equal(deleted[103], 1);
  assert_int_equal(deleted_total, 3);
}

static void test_erase(void **state) {
  (void)state;
  st_cache *c = st_cache_new(1000);
  char b[16];
  st_cache_erase(c, ikey(200, b)); /* missing: no-op */
  assert_int_equal(deleted_total, 0);

  put(c, 100, 101, 1);
  put(c, 200, 201, 1);
  st_cache_erase(c, ikey(100, b));
  assert_int_equal(get(c, 100), -1);
  assert_int_equal(get(c, 200), 201);
  assert_int_equal(deleted[101], 1);
  st_cache_erase(c, ikey(100, b));
  assert_int_equal(deleted[101], 1);

  /* Erasing a held entry: gone from lookups, freed on release. */
  st_cache_handle *h = st_cache_lookup(c, ikey(200, b));
  assert_non_null(h);
  st_cache_erase(c, ikey(200, b));
  assert_int_equal(get(c, 200), -1);
  assert_int_equal(deleted[201], 0);
  assert_int_equal(st_cache_total_charge(c), 0);
  assert_int_equal((intptr_t)st_cache_value(h), 201);
  st_cache_release(c, h);
  assert_int_equal(deleted[201], 1);
  st_cache_free(c);
  assert_int_equal(deleted_total, 2);
}

static void test_eviction_order(void **state) {
  (void)state;
  /* 3 units per shard. */
  st_cache *c = st_cache_new(16 * 3);
  int k[6];
  same_shard_keys(1000, k, 6);
  put(c, k[0], 0, 1);
  put(c, k[1], 1, 1);
  put(c, k[2], 2, 1);
  assert_int_equal(get(c, k[0]), 0); /* k0 becomes the newest */
  put(c, k[3], 3, 1);                /* evicts k1, the oldest */
  assert_int_equal(get(c, k[1]), -1);
  assert_int_equal(deleted[1], 1);
  assert_int_equal(get(c, k[2]), 2); /* now order: k0 k3 k2 */
  put(c, k[4], 4, 1);                /* evicts k0 */
  assert_int_equal(get(c, k[0]), -1);
  assert_int_equal(get(c, k[3]), 3);
  assert_int_equal(get(c, k[2]), 2);
  assert_int_equal(get(c, k[4]), 4);
  /* A heavy entry pushes out as many old ones as needed. */
  put(c, k[5], 5, 2); /* order before: k3 k2 k4; must drop k3 and k2 */
  assert_int_equal(get(c, k[3]), -1);
  assert_int_equal(get(c, k[2]), -1);
  assert_int_equal(get(c, k[4]), 4);
  assert_int_equal(get(c, k[5]), 5);
  st_cache_free(c);
  for (int i = 0; i < 6; i++)
    assert_int_equal(deleted[i], 1);
}

static void test_held_not_evicted(void **state) {
  (void)state;
  st_cache *c = st_cache_new(16 * 2);
  int k[20];
  same_shard_keys(5000, k, 20);
  char b[16];
  st_cache_handle *h = st_cache_insert(c, ikey(k[0], b), (void *)(intptr_t)100, 1, del_fn);
  for (int i = 1; i < 20; i++)
    put(c, k[i], i, 1);
  /* k0 survived everything because it is held. */
  st_cache_handle *h2 = st_cache_lookup(c, ikey(k[0], b));
  assert_ptr_equal(h2, h);
  st_cache_release(c, h2);
  assert_int_equal(deleted[100], 0);
  /* Held beyond capacity: a single held entry larger than the shard. */
  st_cache_handle *big = st_cache_insert(c, ikey(k[1], b), (void *)(intptr_t)200, 100, del_fn);
  assert_int_equal((intptr_t)st_cache_value(big), 200);
  assert_int_equal(get(c, k[1]), 200);
  st_cache_release(c, big); /* now unheld and over capacity... */
  put(c, k[2], 300, 1);     /* ...so the next insert evicts it */
  assert_int_equal(get(c, k[1]), -1);
  assert_int_equal(deleted[200], 1);
  /* Released, k0 becomes evictable like the rest. */
  st_cache_release(c, h);
  put(c, k[3], 301, 1);
  put(c, k[4], 302, 1);
  assert_int_equal(get(c, k[0]), -1);
  assert_int_equal(deleted[100], 1);
  st_cache_free(c);
  for (int i = 0; i < MAXV; i++)
    assert_true(deleted[i] <= 1);
}

static void test_prune_and_charge(void **state) {
  (void)state;
  st_cache *c = st_cache_new(1000);
  put(c, 1, 1, 10);
  put(c, 2, 2, 20);
  char b[16];
  st_cache_handle *h = st_cache_insert(c, ikey(3, b), (void *)3, 30, del_fn);
  assert_int_equal(st_cache_total_charge(c), 60);
  st_cache_prune(c);
  assert_int_equal(st_cache_total_charge(c), 30);
  assert_int_equal(get(c, 1), -1);
  assert_int_equal(get(c, 2), -1);
  assert_int_equal(deleted[1], 1);
  assert_int_equal(deleted[2], 1);
  assert_int_equal(deleted[3], 0);
  st_cache_release(c, h);
  assert_int_equal(get(c, 3), 3);
  st_cache_prune(c);
  assert_int_equal(deleted[3], 1);
  assert_int_equal(st_cache_total_charge(c), 0);
  st_cache_free(c);
  assert_int_equal(deleted_total, 3);
}

static void test_zero_capacity(void **state) {
  (void)state;
  st_cache *c = st_cache_new(0);
  char b[16];
  st_cache_handle *h = st_cache_insert(c, ikey(1, b), (void *)1, 1, del_fn);
  assert_non_null(h);
  assert_int_equal((intptr_t)st_cache_value(h), 1);
  assert_int_equal(get(c, 1), -1); /* not cached */
  assert_int_equal(deleted[1], 0);
  st_cache_release(c, h);
  assert_int_equal(deleted[1], 1);
  st_cache_free(c);
  assert_int_equal(deleted_total, 1);
}

static void test_many_entries(void **state) {
  (void)state;
  st_cache *c = st_cache_new(100000);
  for (int i = 0; i < 10000; i++)
    put(c, i, i, 1);
  assert_int_equal(st_cache_total_charge(c), 10000);
  for (int i = 0; i < 10000; i++)
    assert_int_equal(get(c, i), i);
  for (int i = 0; i < 10000; i += 2) {
    char b[16];
    st_cache_erase(c, ikey(i, b));
  }
  for (int i = 0; i < 10000; i++)
    assert_int_equal(get(c, i), i % 2 ? i : -1);
  assert_int_equal(st_cache_total_charge(c), 5000);
  st_cache_free(c);
  assert_int_equal(deleted_total, 10000);
}

static void test_new_id(void **state) {
  (void)state;
  st_cache *c = st_cache_new(10);
  uint64_t a = st_cache_new_id(c), b = st_cache_new_id(c);
  assert_true(a != b);
  assert_true(b > a);
  assert_true(a != 0);
  st_cache_free(c);
  st_cache_free(NULL);
}

/* ---- concurrency ---- */

#define MAGIC_ALIVE 0x600dcafeu
#define MAGIC_DEAD 0xdeadbeefu

typedef struct cval {
  unsigned magic;
  int key;
} cval;

static atomic_int conc_inserts, conc_deletes;

static void cdel(st_slice key, void *value) {
  cval *v = value;
  char b[16];
  int n = snprintf(b, sizeof b, "k%d", v->key);
  /* The deleter sees the entry's own key, once. */
  if (v->magic != MAGIC_ALIVE || key.size != (size_t)n || memcmp(key.data, b, key.size) != 0)
    abort();
  v->magic = MAGIC_DEAD;
  free(v);
  atomic_fetch_add(&conc_deletes, 1);
}

typedef struct worker {
  st_cache *c;
  uint32_t seed;
  int errors;
} worker;

static void *work(void *p) {
  worker *w = p;
  st_random rnd;
  st_random_init(&rnd, w->seed);
  st_cache_handle *held[8] = {0};
  for (int i = 0; i < 200000; i++) {
    int k = (int)st_random_uniform(&rnd, 400);
    char b[16];
    st_slice key = ikey(k, b);
    uint32_t op = st_random_uniform(&rnd, 10);
    int slot = (int)st_random_uniform(&rnd, 8);
    if (op < 3) {
      cval *v = malloc(sizeof *v);
      if (!v) abort();
      v->magic = MAGIC_ALIVE;
      v->key = k;
      atomic_fetch_add(&conc_inserts, 1);
      st_cache_handle *h = st_cache_insert(w->c, key, v, 1 + st_random_uniform(&rnd, 3), cdel);
      if (held[slot]) st_cache_release(w->c, held[slot]);
      held[slot] = h;
    } else if (op < 9) {
      st_cache_handle *h = st_cache_lookup(w->c, key);
      if (h) {
        cval *v = st_cache_value(h);
        if (v->magic != MAGIC_ALIVE || v->key != k) w->errors++;
        if (held[slot]) st_cache_release(w->c, held[slot]);
        held[slot] = h;
      }
    } else {
      st_cache_erase(w->c, key);
    }
    /* Held values must stay intact whatever the other thread does. */
    if (held[slot] && ((cval *)st_cache_value(held[slot]))->magic != MAGIC_ALIVE) w->errors++;
  }
  for (int s = 0; s < 8; s++)
    if (held[s]) st_cache_release(w->c, held[s]);
  return NULL;
}

/* The doorkeeper: a key is admitted on its second miss, a hit leaves
 * *admit alone, and a window of other misses makes a key start over. */
static void test_admission(void **state) {
  (void)state;
  st_cache *c = st_cache_new(64 * 1024); /* 64 doorkeeper slots */
  assert_non_null(c);
  char b[16];
  int admit = -1;
  assert_null(st_cache_lookup_admit(c, ikey(1, b), &admit));
  assert_int_equal(admit, 0); /* first miss: not yet */
  assert_null(st_cache_lookup_admit(c, ikey(1, b), &admit));
  assert_int_equal(admit, 1); /* second miss: admitted */
  put(c, 1, 11, 1);
  admit = -1;
  st_cache_handle *h = st_cache_lookup_admit(c, ikey(1, b), &admit);
  assert_non_null(h);
  assert_int_equal((intptr_t)st_cache_value(h), 11);
  assert_int_equal(admit, -1); /* a hit says nothing about admission */
  st_cache_release(c, h);

  /* Key 2 misses once, then thousands of other keys miss: each slot is
   * overwritten with near certainty, so key 2's next miss is a first one. */
  assert_null(st_cache_lookup_admit(c, ikey(2, b), &admit));
  assert_int_equal(admit, 0);
  for (int k = 1000; k < 9000; k++)
    assert_null(st_cache_lookup_admit(c, ikey(k, b), &admit));
  assert_null(st_cache_lookup_admit(c, ikey(2, b), &admit));
  assert_int_equal(admit, 0);
  assert_null(st_cache_lookup_admit(c, ikey(2, b), &admit));
  assert_int_equal(admit, 1);
  st_cache_free(c);
  assert_int_equal(deleted[11], 1);
}

static void test_concurrent(void **state) {
  (void)state;
  atomic_store(&conc_inserts, 0);
  atomic_store(&conc_deletes, 0);
  const size_t cap = 16 * 10;
  st_cache *c = st_cache_new(cap);
  worker w[2] = {{c, 301, 0}, {c, 7777, 0}};
  pthread_t t[2];
  for (int i = 0; i < 2; i++)
    assert_int_equal(pthread_create(&t[i], NULL, work, &w[i]), 0);
  for (int i = 0; i < 2; i++)
    assert_int_equal(pthread_join(t[i], NULL), 0);
  assert_int_equal(w[0].errors + w[1].errors, 0);
  /* Nothing held: every shard is within its capacity. */
  assert_true(st_cache_total_charge(c) <= cap);
  int live = atomic_load(&conc_inserts) - atomic_load(&conc_deletes);
  assert_true(live >= 0);
  assert_true((size_t)live <= cap);
  st_cache_free(c);
  assert_int_equal(atomic_load(&conc_inserts), atomic_load(&conc_deletes));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_hash_known_values),
      cmocka_unit_test_setup(test_hit_and_miss, setup),
      cmocka_unit_test_setup(test_replace, setup),
      cmocka_unit_test_setup(test_erase, setup),
      cmocka_unit_test_setup(test_eviction_order, setup),
      cmocka_unit_test_setup(test_held_not_evicted, setup),
      cmocka_unit_test_setup(test_prune_and_charge, setup),
      cmocka_unit_test_setup(test_zero_capacity, setup),
      cmocka_unit_test_setup(test_many_entries, setup),
      cmocka_unit_test_setup(test_new_id, setup),
      cmocka_unit_test_setup(test_admission, setup),
      cmocka_unit_test(test_concurrent),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
