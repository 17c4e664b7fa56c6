/* block_test.c - block builder and block iterator: round trips, seeks in
 * both directions, restart intervals, long keys, and damaged blocks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "table/block.h"
#include "table/block_builder.h"
#include "util/error.h"
#include "util/internal_key.h"
#include "util/random.h"

/* ---- reference entries ------------------------------------------------- */

typedef struct entry {
  char *key; /* internal key */
  size_t klen;
  char *val;
  size_t vlen;
} entry;

static const st_comparator *UCMP = &st_bytewise_comparator;

static int entry_cmp(const void *a, const void *b) {
  const entry *x = a, *y = b;
  return st_icmp(UCMP, st_slice_make(x->key, x->klen), st_slice_make(y->key, y->klen));
}

static char *make_ikey(const char *user, size_t ulen, uint64_t seq, int type, size_t *klen) {
  char *k = malloc(ulen + 8);
  assert_non_null(k);
  if (ulen) memcpy(k, user, ulen);
  st_put_fixed64(k + ulen, st_pack_tag(seq, type));
  *klen = ulen + 8;
  return k;
}

/* n distinct user keys (one empty, several with NUL bytes, some sharing
 * long prefixes), each with 1-3 sequence numbers, sorted. */
static entry *make_entries(st_random *r, int nuser, size_t max_val, int *count) {
  entry *e = calloc((size_t)nuser * 3, sizeof *e);
  assert_non_null(e);
  int n = 0;
  char user[64];
  for (int i = 0; i < nuser; i++) {
    size_t ulen;
    if (i == 0) {
      ulen = 0;
    } else {
      /* "prefixNNNNN" plus random bytes (NUL included) makes keys that
       * share prefixes and that are unique by the counter. */
      ulen = (size_t)snprintf(user, sizeof user, "k%06d", i);
      size_t extra = st_random_uniform(r, 8);
      for (size_t j = 0; j < extra; j++)
        user[ulen++] = (char)st_random_uniform(r, 4);
    }
    int versions = 1 + (int)st_random_uniform(r, 3);
    for (int v = 0; v < versions; v++) {
      entry *x = &e[n++];
      x->key = make_ikey(user, ulen, 1000 + st_random_uniform(r, 100000),
                         (int)st_random_uniform(r, 2), &x->klen);
      x->vlen = max_val ? st_random_uniform(r, (uint32_t)max_val + 1) : 0;
      x->val = malloc(x->vlen + 1);
      assert_non_null(x->val);
      for (size_t j = 0; j < x->vlen; j++)
        x->val[j] = (char)('a' + (j + (size_t)n) % 26);
    }
  }
  qsort(e, (size_t)n, sizeof *e, entry_cmp);
  /* Drop exact duplicates (same user key and random sequence). */
  int m = 0;
  for (int i = 0; i < n; i++) {
    if (m > 0 && entry_cmp(&e[m - 1], &e[i]) == 0) {
      free(e[i].key);
      free(e[i].val);
      continue;
    }
    e[m++] = e[i];
  }
  *count = m;
  return e;
}

static void free_entries(entry *e, int n) {
  for (int i = 0; i < n; i++) {
    free(e[i].key);
    free(e[i].val);
  }
  free(e);
}

/* Builds a block of e[0..n) and returns a heap copy of exactly its size (so
 * that ASan sees any read past the end). */
static st_block_contents build(const entry *e, int n, int interval) {
  st_block_builder bb;
  st_block_builder_init(&bb, interval);
  for (int i = 0; i < n; i++) {
    assert_int_equal(st_block_builder_add(&bb, st_slice_make(e[i].key, e[i].klen),
                                          st_slice_make(e[i].val, e[i].vlen)),
                     0);
  }
  size_t est = st_block_builder_size_estimate(&bb);
  st_slice out;
  assert_int_equal(st_block_builder_finish(&bb, &out), 0);
  assert_int_equal(out.size, est);
  st_block_contents c;
  c.heap = malloc(out.size);
  assert_non_null(c.heap);
  memcpy(c.heap, out.data, out.size);
  c.data = c.heap;
  c.size = out.size;
  st_block_builder_free(&bb);
  return c;
}

static void expect_at(st_iter *it, const entry *e) {
  assert_true(st_iter_valid(it));
  st_slice k = st_iter_key(it), v = st_iter_value(it);
  assert_int_equal(k.size, e->klen);
  assert_memory_equal(k.data, e->key, e->klen);
  assert_int_equal(v.size, e->vlen);
  if (v.size) assert_memory_equal(v.data, e->val, e->vlen);
}

/* Index of the first entry >= target, n if none. */
static int lower_bound(const entry *e, int n, st_slice target) {
  int lo = 0, hi = n;
  while (lo < hi) {
    int mid = (lo + hi) / 2;
    if (st_icmp(UCMP, st_slice_make(e[mid].key, e[mid].klen), target) < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}

static void check_block(const entry *e, int n, int interval, st_random *r) {
  st_block_contents c = build(e, n, interval);
  st_iter *it = st_block_iter_new_owned(&c, UCMP, "test.ldb", 0);
  assert_non_null(it);
  assert_null(c.heap);

  st_iter_seek_to_first(it);
  for (int i = 0; i < n; i++) {
    expect_at(it, &e[i]);
    st_iter_next(it);
  }
  assert_false(st_iter_valid(it));

  st_iter_seek_to_last(it);
  for (int i = n - 1; i >= 0; i--) {
    expect_at(it, &e[i]);
    st_iter_prev(it);
  }
  assert_false(st_iter_valid(it));

  /* Exact seeks, in random order so the "already positioned" shortcut is
   * taken from both sides. */
  for (int j = 0; j < 2 * n; j++) {
    int i = (int)st_random_uniform(r, (uint32_t)n);
    st_iter_seek(it, st_slice_make(e[i].key, e[i].klen));
    expect_at(it, &e[i]);
  }
  /* Seeks between keys: same user key with a tag just above / below. */
  for (int j = 0; j < 2 * n; j++) {
    int i = (int)st_random_uniform(r, (uint32_t)n);
    st_slice u = st_ikey_user(st_slice_make(e[i].key, e[i].klen));
    uint64_t seq = st_ikey_tag(st_slice_make(e[i].key, e[i].klen)) >> 8;
    uint64_t seqs[3] = {seq + 1, seq ? seq - 1 : 0, ST_MAX_SEQUENCE};
    for (int s = 0; s < 3; s++) {
      size_t tl;
      char *t = make_ikey(u.data, u.size, seqs[s], ST_TYPE_FOR_SEEK, &tl);
      int want = lower_bound(e, n, st_slice_make(t, tl));
      st_iter_seek(it, st_slice_make(t, tl));
      if (want == n) {
        assert_false(st_iter_valid(it));
      } else {
        expect_at(it, &e[want]);
        /* And stepping around from a seek position works. */
        if (want > 0) {
          st_iter_prev(it);
          expect_at(it, &e[want - 1]);
          st_iter_next(it);
          expect_at(it, &e[want]);
        }
      }
      free(t);
    }
  }
  /* Past the end. */
  size_t tl;
  char *t = make_ikey("\xff\xff\xff\xff", 4, 0, 0, &tl);
  st_iter_seek(it, st_slice_make(t, tl));
  assert_false(st_iter_valid(it));
  free(t);
  assert_int_equal(st_iter_status(it), 0);
  st_iter_destroy(it);
}

static void test_empty_block(void **state) {
  (void)state;
  st_block_contents c = build(NULL, 0, 16);
  assert_int_equal(c.size, 8); /* restart 0 and the count 1 */
  st_block blk;
  st_block_init(&blk, &c, NULL, 0);
  assert_false(blk.malformed);
  st_block_iter it;
  st_block_iter_init(&it, &blk, UCMP);
  st_iter_seek_to_first(&it.base);
  assert_false(st_iter_valid(&it.base));
  st_iter_seek_to_last(&it.base);
  assert_false(st_iter_valid(&it.base));
  size_t tl;
  char *t = make_ikey("a", 1, 1, 1, &tl);
  st_iter_seek(&it.base, st_slice_make(t, tl));
  assert_false(st_iter_valid(&it.base));
  assert_int_equal(st_iter_status(&it.base), 0);
  free(t);
  st_block_iter_fini(&it);
  st_block_release(&blk);
}

static void test_roundtrip_intervals(void **state) {
  (void)state;
  st_random r;
  st_random_init(&r, 301);
  int n;
  entry *e = make_entries(&r, 400, 40, &n);
  int intervals[] = {1, 2, 3, 16, 1000};
  for (size_t i = 0; i < sizeof intervals / sizeof *intervals; i++)
    check_block(e, n, intervals[i], &r);
  /* Small blocks: one and two entries. */
  check_block(e, 1, 16, &r);
  check_block(e, 2, 1, &r);
  free_entries(e, n);
}

static void test_same_user_key_versions(void **state) {
  (void)state;
  /* One user key with many sequence numbers: order is by sequence,
   * descending, and a seek at a snapshot lands on the newest visible. */
  int n = 50;
  entry *e = calloc((size_t)n, sizeof *e);
  for (int i = 0; i < n; i++) {
    e[i].key = make_ikey("same\0key", 8, (uint64_t)(1000 - 10 * i), ST_TYPE_VALUE, &e[i].klen);
    e[i].val = malloc(8);
    e[i].vlen = (size_t)snprintf(e[i].val, 8, "v%d", i);
  }
  st_random r;
  st_random_init(&r, 7);
  check_block(e, n, 4, &r);

  st_block_contents c = build(e, n, 4);
  st_iter *it = st_block_iter_new_owned(&c, UCMP, NULL, 0);
  size_t tl;
  char *t = make_ikey("same\0key", 8, 555, ST_TYPE_FOR_SEEK, &tl);
  st_iter_seek(it, st_slice_make(t, tl));
  /* Sequences are 1000, 990, ...: the newest <= 555 is 550 = entry 45. */
  expect_at(it, &e[45]);
  free(t);
  st_iter_destroy(it);
  free_entries(e, n);
}

static void test_long_keys_and_values(void **state) {
  (void)state;
  /* Keys longer than the iterator's inline buffer, values up to 1 MiB. */
  int n = 12;
  entry *e = calloc((size_t)n, sizeof *e);
  char user[3000];
  for (int i = 0; i < n; i++) {
    size_t ulen = 100 + (size_t)i * 250;
    memset(user, 'x', ulen);
    user[ulen - 1] = (char)('a' + i); /* distinct, increasing */
    memset(user, 'p', 50);            /* long shared prefix */
    e[i].key = make_ikey(user, ulen, 5, ST_TYPE_VALUE, &e[i].klen);
    e[i].vlen = i == n - 1 ? (1u << 20) : (size_t)i * 1000;
    e[i].val = malloc(e[i].vlen + 1);
    memset(e[i].val, 'v' + i % 3, e[i].vlen);
  }
  qsort(e, (size_t)n, sizeof *e, entry_cmp);
  st_random r;
  st_random_init(&r, 11);
  check_block(e, n, 2, &r);
  free_entries(e, n);
}

static void test_bytewise_mode(void **state) {
  (void)state;
  /* ucmp == NULL: plain keys (shorter than 8 bytes allowed), as in the
   * metaindex. */
  const char *keys[] = {"", "a", "filter.x", "filter.y", "z"};
  st_block_builder bb;
  st_block_builder_init(&bb, 1);
  for (int i = 0; i < 5; i++)
    assert_int_equal(st_block_builder_add(&bb, st_slice_cstr(keys[i]), st_slice_cstr(keys[i])), 0);
  st_slice out;
  assert_int_equal(st_block_builder_finish(&bb, &out), 0);
  st_block_contents c = {out.data, out.size, NULL};
  st_block blk;
  st_block_init(&blk, &c, NULL, 0);
  st_block_iter it;
  st_block_iter_init(&it, &blk, NULL);
  st_iter_seek(&it.base, st_slice_cstr("filter.y"));
  assert_true(st_iter_valid(&it.base));
  assert_true(st_slice_eq(st_iter_key(&it.base), st_slice_cstr("filter.y")));
  st_iter_seek(&it.base, st_slice_cstr("filter.q"));
  assert_true(st_slice_eq(st_iter_key(&it.base), st_slice_cstr("filter.x")));
  st_iter_seek(&it.base, st_slice_cstr(""));
  assert_true(st_slice_eq(st_iter_key(&it.base), st_slice_cstr("")));
  st_iter_seek(&it.base, st_slice_cstr("zz"));
  assert_false(st_iter_valid(&it.base));
  st_block_iter_fini(&it);
  st_block_release(&blk);

  /* Reset and reuse the builder. */
  st_block_builder_reset(&bb);
  assert_true(st_block_builder_empty(&bb));
  assert_int_equal(st_block_builder_add(&bb, st_slice_cstr("only"), st_slice_cstr("1")), 0);
  assert_int_equal(st_block_builder_finish(&bb, &out), 0);
  c = (st_block_contents){out.data, out.size, NULL};
  st_block_init(&blk, &c, NULL, 0);
  st_block_iter_init(&it, &blk, NULL);
  st_iter_seek_to_last(&it.base);
  assert_true(st_slice_eq(st_iter_key(&it.base), st_slice_cstr("only")));
  st_block_iter_fini(&it);
  st_block_builder_free(&bb);
}

/* Runs every operation on a (possibly damaged) block with a bound on steps;
 * returns the final status. Any out-of-bounds read fails under ASan. */
static int exercise(const char *data, size_t size, const st_slice *targets, int ntargets) {
  char *copy = malloc(size ? size : 1);
  memcpy(copy, data, size);
  st_block_contents c = {copy, size, copy};
  st_iter *it = st_block_iter_new_owned(&c, UCMP, "bad.ldb", 4096);
  assert_non_null(it);
  int steps = 0;
  for (st_iter_seek_to_first(it); st_iter_valid(it) && steps < 10000; st_iter_next(it))
    steps++;
  for (st_iter_seek_to_last(it); st_iter_valid(it) && steps < 20000; st_iter_prev(it))
    steps++;
  for (int i = 0; i < ntargets; i++) {
    st_iter_seek(it, targets[i]);
    if (st_iter_valid(it)) {
      st_iter_prev(it);
      if (st_iter_valid(it)) st_iter_next(it);
    }
  }
  int rc = st_iter_status(it);
  st_iter_destroy(it);
  return rc;
}

static void test_corrupt_blocks(void **state) {
  (void)state;
  st_random r;
  st_random_init(&r, 99);
  int n;
  entry *e = make_entries(&r, 60, 20, &n);
  st_block_contents good = build(e, n, 4);
  st_slice targets[8];
  for (int i = 0; i < 8; i++) {
    int j = (int)st_random_uniform(&r, (uint32_t)n);
    targets[i] = st_slice_make(e[j].key, e[j].klen);
  }
  assert_int_equal(exercise(good.data, good.size, targets, 8), 0);

  /* Too small to hold the restart count. */
  for (size_t sz = 0; sz < 4; sz++) {
    assert_int_equal(exercise(good.data, sz, targets, 8), STRATA_ECORRUPTION);
    assert_non_null(strstr(strata_errmsg(), "bad.ldb"));
  }

  /* A restart count that does not fit. */
  char *bad = malloc(good.size);
  memcpy(bad, good.data, good.size);
  st_put_fixed32(bad + good.size - 4, 0xffffffffu);
  assert_int_equal(exercise(bad, good.size, targets, 8), STRATA_ECORRUPTION);
  assert_non_null(strstr(strata_errmsg(), "Corruption: bad.ldb"));
  assert_non_null(strstr(strata_errmsg(), "offset 4096"));

  /* A restart point past the entries. */
  memcpy(bad, good.data, good.size);
  st_put_fixed32(bad + good.size - 8, (uint32_t)good.size);
  assert_int_equal(exercise(bad, good.size, targets, 8), STRATA_ECORRUPTION);

  /* The first entry's `shared` made non-zero. */
  memcpy(bad, good.data, good.size);
  bad[0] = 5;
  assert_int_equal(exercise(bad, good.size, targets, 8), STRATA_ECORRUPTION);

  /* A value length running past the entries. */
  memcpy(bad, good.data, good.size);
  bad[2] = 0x7f;
  bad[1] = 0x7f;
  assert_int_equal(exercise(bad, good.size, targets, 8), STRATA_ECORRUPTION);

  /* Truncated blocks and random damage: never a crash. */
  for (size_t sz = 4; sz < good.size; sz += 7)
    exercise(good.data, sz, targets, 8);
  for (int round = 0; round < 3000; round++) {
    memcpy(bad, good.data, good.size);
    int flips = 1 + (int)st_random_uniform(&r, 4);
    for (int f = 0; f < flips; f++)
      bad[st_random_uniform(&r, (uint32_t)good.size)] = (char)st_random_uniform(&r, 256);
    int rc = exercise(bad, good.size, targets, 8);
    assert_true(rc == 0 || rc == STRATA_ECORRUPTION);
  }
  free(bad);
  st_block_contents_free(&good);
  free_entries(e, n);
}

static void test_short_internal_key_is_corruption(void **state) {
  (void)state;
  /* An internal-key block whose key has fewer than 8 bytes. */
  st_block_builder bb;
  st_block_builder_init(&bb, 16);
  assert_int_equal(st_block_builder_add(&bb, st_slice_cstr("abc"), st_slice_cstr("v")), 0);
  st_slice out;
  assert_int_equal(st_block_builder_finish(&bb, &out), 0);
  size_t tl;
  char *t = make_ikey("a", 1, 1, 1, &tl);
  st_slice target = st_slice_make(t, tl);
  assert_int_equal(exercise(out.data, out.size, &target, 1), STRATA_ECORRUPTION);
  free(t);
  st_block_builder_free(&bb);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_empty_block),
      cmocka_unit_test(test_roundtrip_intervals),
      cmocka_unit_test(test_same_user_key_versions),
      cmocka_unit_test(test_long_keys_and_values),
      cmocka_unit_test(test_bytewise_mode),
      cmocka_unit_test(test_corrupt_blocks),
      cmocka_unit_test(test_short_internal_key_is_corruption),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
