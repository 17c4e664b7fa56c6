/*
 * memtable_test.c - the memtable skiplist (db/memtable.c): lookups at
 * snapshots, iteration in both directions against a sorted reference, a
 * user comparator, and one writer racing lock-free readers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <pthread.h>
#include <stdatomic.h>

#include "db/memtable.h"
#include "util/internal_key.h"
#include "util/random.h"

static st_slice S(const char *s) { return st_slice_cstr(s); }

static int get(st_memtable *m, const char *key, uint64_t seq, st_buf *v) {
  return st_memtable_get(m, S(key), seq, v);
}

static void test_get_snapshots(void **state) {
  (void)state;
  st_memtable *m = st_memtable_new(&st_bytewise_comparator);
  assert_non_null(m);
  st_buf v = ST_BUF_INIT;
  assert_int_equal(get(m, "k", 100, &v), ST_MEM_ABSENT); /* empty table */

  size_t before = st_memtable_memory_usage(m);
  assert_int_equal(st_memtable_add(m, 1, ST_TYPE_VALUE, S("k"), S("v1")), 0);
  assert_int_equal(st_memtable_add(m, 3, ST_TYPE_VALUE, S("k"), S("v3")), 0);
  assert_int_equal(st_memtable_add(m, 5, ST_TYPE_DELETION, S("k"), S("")), 0);
  assert_int_equal(st_memtable_add(m, 7, ST_TYPE_VALUE, S("k"), S("v7")), 0);
  /* Neighbours that share a prefix or sort around "k". */
  assert_int_equal(st_memtable_add(m, 2, ST_TYPE_VALUE, S("ka"), S("ka2")), 0);
  assert_int_equal(st_memtable_add(m, 4, ST_TYPE_VALUE, st_slice_make("k\0", 2), S("k0")), 0);
  assert_int_equal(st_memtable_add(m, 6, ST_TYPE_VALUE, S("j"), S("j6")), 0);
  assert_int_equal(st_memtable_add(m, 8, ST_TYPE_VALUE, S(""), S("empty")), 0);
  assert_int_equal(st_memtable_count(m), 8);
  assert_true(st_memtable_memory_usage(m) >= before);

  const char *want[] = {NULL, "v1", "v1", "v3", "v3", NULL, NULL, "v7", "v7"};
  for (uint64_t s = 0; s <= 8; s++) {
    v.size = 0;
    int rc = get(m, "k", s, &v);
    if (s == 0) {
      assert_int_equal(rc, ST_MEM_ABSENT);
    } else if (s == 5 || s == 6) {
      assert_int_equal(rc, ST_MEM_DELETED);
    } else {
      assert_int_equal(rc, ST_MEM_FOUND);
      assert_int_equal(v.size, 2);
      assert_memory_equal(v.data, want[s], 2);
    }
  }
  assert_int_equal(get(m, "k", ST_MAX_SEQUENCE, &v), ST_MEM_FOUND);
  assert_int_equal(get(m, "k", UINT64_MAX, &v), ST_MEM_FOUND); /* clamped */
  assert_int_equal(get(m, "ka", 1, &v), ST_MEM_ABSENT);
  assert_int_equal(get(m, "ka", 2, &v), ST_MEM_FOUND);
  assert_memory_equal(v.data, "ka2", 3);
  assert_int_equal(st_memtable_get(m, st_slice_make("k\0", 2), 9, &v), ST_MEM_FOUND);
  assert_memory_equal(v.data, "k0", 2);
  assert_int_equal(get(m, "", 9, &v), ST_MEM_FOUND);
  assert_memory_equal(v.data, "empty", 5);
  assert_int_equal(get(m, "", 7, &v), ST_MEM_ABSENT);
  assert_int_equal(get(m, "i", 9, &v), ST_MEM_ABSENT);
  assert_int_equal(get(m, "kb", 9, &v), ST_MEM_ABSENT);
  assert_int_equal(get(m, "l", 9, &v), ST_MEM_ABSENT);

  /* A key too long for the stack lookup buffer, a large value, an empty
   * value. */
  char *big = malloc(100000);
  assert_non_null(big);
  for (int i = 0; i < 100000; i++)
    big[i] = (char)(i * 7);
  assert_int_equal(
      st_memtable_add(m, 10, ST_TYPE_VALUE, st_slice_make(big, 1000), st_slice_make(big, 100000)),
      0);
  assert_int_equal(st_memtable_add(m, 11, ST_TYPE_VALUE, st_slice_make(big, 999), S("")), 0);
  assert_int_equal(st_memtable_get(m, st_slice_make(big, 1000), 10, &v), ST_MEM_FOUND);
  assert_int_equal(v.size, 100000);
  assert_memory_equal(v.data, big, 100000);
  assert_int_equal(st_memtable_get(m, st_slice_make(big, 1000), 9, &v), ST_MEM_ABSENT);
  v.size = 5;
  assert_int_equal(st_memtable_get(m, st_slice_make(big, 999), 11, &v), ST_MEM_FOUND);
  assert_int_equal(v.size, 0);
  assert_true(st_memtable_memory_usage(m) > 100000);
  free(big);

  /* References: the table lives until the last one goes. */
  st_memtable_ref(m);
  st_memtable_unref(m);
  assert_int_equal(get(m, "k", 8, &v), ST_MEM_FOUND);
  st_memtable_unref(m);
  st_memtable_unref(NULL);
  st_buf_free(&v);
}

/* ------------------------------------------------------------------------ */
/* Iteration against a sorted reference                                     */
/* ------------------------------------------------------------------------ */

typedef struct ref_entry {
  char key[16];
  size_t klen;
  uint64_t seq;
  int type;
  char val[24];
  size_t vlen;
} ref_entry;

static int reverse_order; /* the reference's user-key order is reversed */

static int ref_ucmp(const char *a, size_t alen, const char *b, size_t blen) {
  size_t n = alen < blen ? alen : blen;
  int r = memcmp(a, b, n);
  if (r == 0) r = alen < blen ? -1 : alen > blen;
  return reverse_order ? -r : r;
}

/* Order of (user key, seq) with seq descending; written independently of
 * st_icmp. */
static int ref_cmp(const void *pa, const void *pb) {
  const ref_entry *a = pa, *b = pb;
  int r = ref_ucmp(a->key, a->klen, b->key, b->klen);
  if (r) return r;
  return a->seq > b->seq ? -1 : a->seq < b->seq;
}

static int rev_compare(void *state, const char *a, size_t alen, const char *b, size_t blen) {
  (void)state;
  size_t n = alen < blen ? alen : blen;
  int r = memcmp(a, b, n);
  if (r == 0) r = alen < blen ? -1 : alen > blen;
  return -r;
}

static const st_comparator reverse_cmp = {"test.Reverse", 0, NULL, rev_compare, NULL, NULL};

static void check_at(const st_iter *it, const ref_entry *e) {
  assert_true(st_iter_valid(it));
  st_slice k = st_iter_key(it);
  st_parsed_ikey pk;
  assert_true(st_ikey_parse(k, &pk));
  assert_int_equal(pk.user_key.size, e->klen);
  assert_memory_equal(pk.user_key.data, e->key, e->klen);
  assert_int_equal(pk.sequence, e->seq);
  assert_int_equal(pk.type, e->type);
  st_slice v = st_iter_value(it);
  assert_int_equal(v.size, e->vlen);
  assert_memory_equal(v.data, e->val, e->vlen);
}

static void random_key(st_random *rnd, char *key, size_t *klen) {
  static const char alphabet[] = {'\0', 'a', 'b', (char)0xff};
  *klen = st_random_uniform(rnd, 7); /* 0..6: many empties and prefixes */
  for (size_t i = 0; i < *klen; i++)
    key[i] = alphabet[st_random_uniform(rnd, 4)];
}

static void run_reference(const st_comparator *ucmp) {
  enum { N = 3000 };
  reverse_order = !ucmp->bytewise;
  st_random rnd;
  st_random_init(&rnd, 42);
  ref_entry *ref = calloc(N, sizeof *ref);
  uint64_t *seqs = malloc(N * sizeof *seqs);
  assert_non_null(ref);
  assert_non_null(seqs);
  for (int i = 0; i < N; i++)
    seqs[i] = (uint64_t)i + 1;
  for (int i = N - 1; i > 0; i--) { /* shuffle: older entries arrive late */
    int j = (int)st_random_uniform(&rnd, (uint32_t)i + 1);
    uint64_t t = seqs[i];
    seqs[i] = seqs[j];
    seqs[j] = t;
  }

  st_memtable *m = st_memtable_new(ucmp);
  for (int i = 0; i < N; i++) {
    ref_entry *e = &ref[i];
    random_key(&rnd, e->key, &e->klen);
    e->seq = seqs[i];
    e->type = st_random_one_in(&rnd, 5) ? ST_TYPE_DELETION : ST_TYPE_VALUE;
    e->vlen = e->type == ST_TYPE_VALUE ? st_random_uniform(&rnd, 24) : 0;
    for (size_t k = 0; k < e->vlen; k++)
      e->val[k] = (char)st_random_next(&rnd);
    assert_int_equal(st_memtable_add(m, e->seq, e->type, st_slice_make(e->key, e->klen),
                                     st_slice_make(e->val, e->vlen)),
                     0);
  }
  qsort(ref, N, sizeof *ref, ref_cmp);

  st_iter *it = st_memtable_iter(m);
  assert_non_null(it);
  assert_false(st_iter_valid(it));
  assert_int_equal(st_iter_status(it), 0);

  /* Forward, then backward. */
  st_iter_seek_to_first(it);
  for (int i = 0; i < N; i++, st_iter_next(it))
    check_at(it, &ref[i]);
  assert_false(st_iter_valid(it));
  st_iter_seek_to_last(it);
  for (int i = N - 1; i >= 0; i--, st_iter_prev(it))
    check_at(it, &ref[i]);
  assert_false(st_iter_valid(it));

  /* Seeks to random internal keys, then a step each way. */
  st_buf target = ST_BUF_INIT;
  for (int round = 0; round < 2000; round++) {
    ref_entry probe;
    random_key(&rnd, probe.key, &probe.klen);
    probe.seq = st_random_uniform(&rnd, N + 2);
    target.size = 0;
    assert_int_equal(
        st_ikey_append(&target, st_slice_make(probe.key, probe.klen), probe.seq, ST_TYPE_FOR_SEEK),
        0);
    int lo = 0, hi = N; /* first ref >= probe */
    while (lo < hi) {
      int mid = (lo + hi) / 2;
      if (ref_cmp(&ref[mid], &probe) < 0)
        lo = mid + 1;
      else
        hi = mid;
    }
    st_iter_seek(it, st_buf_slice(&target));
    if (lo == N) {
      assert_false(st_iter_valid(it));
      continue;
    }
    check_at(it, &ref[lo]);
    if (round & 1) {
      st_iter_prev(it);
      if (lo == 0)
        assert_false(st_iter_valid(it));
      else
        check_at(it, &ref[lo - 1]);
    } else {
      st_iter_next(it);
      if (lo + 1 == N)
        assert_false(st_iter_valid(it));
      else
        check_at(it, &ref[lo + 1]);
    }

    /* get agrees: the newest entry of the key at or below the snapshot. */
    st_buf v = ST_BUF_INIT;
    int rc = st_memtable_get(m, st_slice_make(probe.key, probe.klen), probe.seq, &v);
    const ref_entry *e = &ref[lo];
    if (e->klen != probe.klen || memcmp(e->key, probe.key, probe.klen) != 0) {
      assert_int_equal(rc, ST_MEM_ABSENT);
    } else if (e->type == ST_TYPE_DELETION) {
      assert_int_equal(rc, ST_MEM_DELETED);
    } else {
      assert_int_equal(rc, ST_MEM_FOUND);
      assert_int_equal(v.size, e->vlen);
      assert_memory_equal(v.data, e->val, e->vlen);
    }
    st_buf_free(&v);
  }
  st_buf_free(&target);
  st_iter_destroy(it);
  assert_int_equal(st_memtable_count(m), N);
  st_memtable_unref(m);
  free(ref);
  free(seqs);
}

static void test_iter_bytewise(void **state) {
  (void)state;
  run_reference(&st_bytewise_comparator);
}

static void test_iter_user_comparator(void **state) {
  (void)state;
  run_reference(&reverse_cmp);
}

/* Ascending runs (linked after each level's last node without a search)
 * mixed with keys that land before the end, at the front, and on an
 * existing user key: every level must stay ordered, which a walk of the
 * whole table and a get of every key check. */
static void test_append_fast_path(void **state) {
  (void)state;
  st_memtable *m = st_memtable_new(&st_bytewise_comparator);
  assert_non_null(m);
  st_random r;
  st_random_init(&r, 7);
  enum { N = 20000 };
  static char present[N];
  memset(present, 0, sizeof present);
  uint64_t seq = 1;
  char k[16];
  for (int i = 0; i < N; i += 2) {
    /* Mostly ascending even keys; now and then an odd key below them. */
    snprintf(k, sizeof k, "%08d", i);
    assert_int_equal(st_memtable_add(m, seq++, ST_TYPE_VALUE, S(k), S(k)), 0);
    present[i] = 1;
    if (st_random_one_in(&r, 5)) {
      int j = (int)st_random_uniform(&r, (uint32_t)i + 1) | 1;
      if (j < N && !present[j]) {
        snprintf(k, sizeof k, "%08d", j);
        assert_int_equal(st_memtable_add(m, seq++, ST_TYPE_VALUE, S(k), S(k)), 0);
        present[j] = 1;
      }
    }
  }
  /* A newer entry of the current last user key sorts before the older one:
   * not an append although its user key is the largest. */
  snprintf(k, sizeof k, "%08d", N - 2);
  assert_int_equal(st_memtable_add(m, seq++, ST_TYPE_VALUE, S(k), S("newer")), 0);

  st_iter *it = st_memtable_iter(m);
  int prev = -1, n = 0;
  uint64_t prev_seq = 0;
  for (st_iter_seek_to_first(it); st_iter_valid(it); st_iter_next(it)) {
    st_parsed_ikey pk;
    memset(&pk, 0, sizeof pk);
    assert_true(st_ikey_parse(st_iter_key(it), &pk));
    char buf[16];
    assert_true(pk.user_key.size < sizeof buf);
    memcpy(buf, pk.user_key.data, pk.user_key.size);
    buf[pk.user_key.size] = 0;
    int key = atoi(buf);
    assert_true(key > prev || (key == prev && pk.sequence < prev_seq));
    assert_true(present[key]);
    prev = key;
    prev_seq = pk.sequence;
    n++;
  }
  assert_int_equal(n, (int)st_memtable_count(m));
  st_iter_destroy(it);
  st_buf v = ST_BUF_INIT;
  for (int i = 0; i < N; i++) {
    snprintf(k, sizeof k, "%08d", i);
    v.size = 0;
    int rc = get(m, k, seq, &v);
    assert_int_equal(rc, present[i] ? ST_MEM_FOUND : ST_MEM_ABSENT);
    if (i == N - 2) assert_memory_equal(v.data, "newer", 5);
  }
  st_buf_free(&v);
  st_memtable_unref(m);
}

static void test_empty_iter(void **state) {
  (void)state;
  st_memtable *m = st_memtable_new(&st_bytewise_comparator);
  st_iter *it = st_memtable_iter(m);
  st_iter_seek_to_first(it);
  assert_false(st_iter_valid(it));
  st_iter_seek_to_last(it);
  assert_false(st_iter_valid(it));
  char t[8] = {0};
  st_iter_seek(it, st_slice_make(t, 8));
  assert_false(st_iter_valid(it));
  st_iter_destroy(it);
  st_memtable_unref(m);
}

/* ------------------------------------------------------------------------ */
/* One writer, lock-free readers                                            */
/* ------------------------------------------------------------------------ */

typedef struct race {
  st_memtable *m;
  int n;
  atomic_int published; /* entries 0..published-1 are in the table */
  atomic_int done;
  atomic_int errors;
  atomic_int passes;
  atomic_int racing_passes; /* passes that overlapped the writer on a non-empty table */
} race;

/* Entry i: key "%010u" of a bijective scramble of i, value derived from it.
 */
static uint32_t race_id(int i) { return (uint32_t)i * 2654435761u; }

static size_t race_key(int i, char *buf) {
  return (size_t)snprintf(buf, 16, "%010u", (unsigned)race_id(i));
}

static size_t value_for(st_slice key, char *buf) {
  uint32_t h = 0;
  for (size_t i = 0; i < key.size; i++)
    h = h * 31 + (unsigned char)key.data[i];
  size_t n = h % 40;
  for (size_t i = 0; i < n; i++)
    buf[i] = (char)('a' + (h + i) % 26);
  return n;
}

static void *race_writer(void *arg) {
  race *r = arg;
  char key[16], val[64];
  for (int i = 0; i < r->n; i++) {
    size_t klen = race_key(i, key);
    size_t vlen = value_for(st_slice_make(key, klen), val);
    if (st_memtable_add(r->m, (uint64_t)i + 1, ST_TYPE_VALUE, st_slice_make(key, klen),
                        st_slice_make(val, vlen)) != 0)
      atomic_fetch_add(&r->errors, 1);
    atomic_store_explicit(&r->published, i + 1, memory_order_release);
  }
  atomic_store(&r->done, 1);
  return NULL;
}

/* Checks one entry is whole: a parsable key of the expected shape and the
 * value derived from it. */
static int entry_ok(st_slice ikey, st_slice val) {
  st_parsed_ikey pk;
  if (!st_ikey_parse(ikey, &pk) || pk.type != ST_TYPE_VALUE || pk.user_key.size != 10) return 0;
  char want[64];
  size_t n = value_for(pk.user_key, want);
  return val.size == n && memcmp(val.data, want, n) == 0;
}

static void *race_reader(void *arg) {
  race *r = arg;
  st_random rnd;
  st_random_init(&rnd, (uint32_t)(uintptr_t)&rnd);
  st_iter *it = st_memtable_iter(r->m);
  st_buf v = ST_BUF_INIT;
  char key[16], want[64];
  while (!atomic_load(&r->done) || atomic_load(&r->passes) < 4) {
    /* A full forward scan: sorted, whole, at least what was published. */
    int floor = atomic_load_explicit(&r->published, memory_order_acquire);
    int seen = 0;
    char prev[16];
    size_t prev_len = 0;
    for (st_iter_seek_to_first(it); st_iter_valid(it); st_iter_next(it), seen++) {
      st_slice k = st_iter_key(it);
      if (!entry_ok(k, st_iter_value(it))) atomic_fetch_add(&r->errors, 1);
      st_slice uk = st_ikey_user(k);
      if (seen && st_slice_cmp(st_slice_make(prev, prev_len), uk) >= 0)
        atomic_fetch_add(&r->errors, 1);
      memcpy(prev, uk.data, uk.size < 16 ? uk.size : 16);
      prev_len = uk.size < 16 ? uk.size : 16;
    }
    if (seen < floor) atomic_fetch_add(&r->errors, 1);

    /* A few steps backwards from the end. */
    st_iter_seek_to_last(it);
    for (int s = 0; s < 50 && st_iter_valid(it); s++) {
      st_slice k = st_iter_key(it);
      if (!entry_ok(k, st_iter_value(it))) atomic_fetch_add(&r->errors, 1);
      memcpy(prev, k.data, 10);
      st_iter_prev(it);
      if (st_iter_valid(it) &&
          st_slice_cmp(st_ikey_user(st_iter_key(it)), st_slice_make(prev, 10)) >= 0)
        atomic_fetch_add(&r->errors, 1);
    }

    /* Point lookups of published keys. */
    for (int q = 0; q < 2000; q++) {
      int pub = atomic_load_explicit(&r->published, memory_order_acquire);
      if (pub == 0) break;
      int i = (int)st_random_uniform(&rnd, (uint32_t)pub);
      size_t klen = race_key(i, key);
      size_t wlen = value_for(st_slice_make(key, klen), want);
      int rc = st_memtable_get(r->m, st_slice_make(key, klen), ST_MAX_SEQUENCE, &v);
      if (rc != ST_MEM_FOUND || v.size != wlen || (wlen && memcmp(v.data, want, wlen) != 0))
        atomic_fetch_add(&r->errors, 1);
    }
    atomic_fetch_add(&r->passes, 1);
    if (floor > 0 && !atomic_load(&r->done)) atomic_fetch_add(&r->racing_passes, 1);
  }
  st_buf_free(&v);
  st_iter_destroy(it);
  return NULL;
}

static void test_concurrent(void **state) {
  (void)state;
  race r;
  r.m = st_memtable_new(&st_bytewise_comparator);
  r.n = 200000;
  atomic_init(&r.published, 0);
  atomic_init(&r.done, 0);
  atomic_init(&r.errors, 0);
  atomic_init(&r.passes, 0);
  atomic_init(&r.racing_passes, 0);
  pthread_t w, rd[2];
  assert_int_equal(pthread_create(&w, NULL, race_writer, &r), 0);
  for (int i = 0; i < 2; i++)
    assert_int_equal(pthread_create(&rd[i], NULL, race_reader, &r), 0);
  pthread_join(w, NULL);
  for (int i = 0; i < 2; i++)
    pthread_join(rd[i], NULL);
  assert_int_equal(atomic_load(&r.errors), 0);
  assert_true(atomic_load(&r.passes) >= 4);
  print_message("%d reader passes, %d during the writes\n", atomic_load(&r.passes),
                atomic_load(&r.racing_passes));
  assert_int_equal(st_memtable_count(r.m), (uint64_t)r.n);

  /* Afterwards: every key in order, exactly once. */
  st_iter *it = st_memtable_iter(r.m);
  int n = 0;
  for (st_iter_seek_to_first(it); st_iter_valid(it); st_iter_next(it))
    n++;
  assert_int_equal(n, r.n);
  st_iter_destroy(it);
  st_memtable_unref(r.m);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_get_snapshots),        cmocka_unit_test(test_iter_bytewise),
      cmocka_unit_test(test_iter_user_comparator), cmocka_unit_test(test_empty_iter),
      cmocka_unit_test(test_append_fast_path),     cmocka_unit_test(test_concurrent),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
