/* merger_test.c - the merging iterator against a sorted reference: random
 * walks mixing seeks, next and prev (so direction switches happen at every
 * kind of position), disjoint and overlapping children, duplicate keys,
 * empty children, and children that fail (which stop the merge at once). */
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
#include "table/merger.h"
#include "util/error.h"
#include "util/internal_key.h"
#include "util/random.h"

static const st_comparator *UCMP = &st_bytewise_comparator;

/* One entry of the merged reference: key, owning child, value. */
typedef struct ref {
  char key[32];
  size_t klen;
  int child;
  char val[24];
  size_t vlen;
} ref;

static int ref_cmp(const void *a, const void *b) {
  const ref *x = a, *y = b;
  int c = st_icmp(UCMP, st_slice_make(x->key, x->klen), st_slice_make(y->key, y->klen));
  if (c == 0) c = (x->child > y->child) - (x->child < y->child);
  return c;
}

static size_t make_ikey(char *dst, int user, uint64_t seq) {
  int n = snprintf(dst, 24, "u%05d", user);
  st_put_fixed64(dst + n, st_pack_tag(seq, ST_TYPE_VALUE));
  return (size_t)n + 8;
}

/* Builds one child: a block iterator over the entries of r[] that belong to
 * child c (r sorted, so each child's entries are in order). */
static st_iter *child_iter(const ref *r, int n, int c) {
  st_block_builder bb;
  st_block_builder_init(&bb, 3);
  for (int i = 0; i < n; i++) {
    if (r[i].child != c) continue;
    assert_int_equal(st_block_builder_add(&bb, st_slice_make(r[i].key, r[i].klen),
                                          st_slice_make(r[i].val, r[i].vlen)),
                     0);
  }
  st_slice out;
  assert_int_equal(st_block_builder_finish(&bb, &out), 0);
  st_block_contents contents;
  contents.heap = malloc(out.size);
  memcpy(contents.heap, out.data, out.size);
  contents.data = contents.heap;
  contents.size = out.size;
  st_block_builder_free(&bb);
  st_iter *it = st_block_iter_new_owned(&contents, UCMP, NULL, 0);
  assert_non_null(it);
  return it;
}

/* A reference of about `count` entries spread over nchild children. With
 * dup_pct > 0 some keys are held by several children (same internal key);
 * otherwise every key is unique. Some children may be empty. */
static ref *make_ref(st_random *rnd, int count, int nchild, int dup_pct, int *n) {
  ref *r = calloc((size_t)count * 3, sizeof *r);
  int m = 0;
  for (int i = 0; i < count; i++) {
    int user = (int)st_random_uniform(rnd, (uint32_t)count * 2);
    uint64_t seq = 1 + st_random_uniform(rnd, 5);
    int copies = dup_pct && (int)st_random_uniform(rnd, 100) < dup_pct
                     ? 2 + (int)st_random_uniform(rnd, 2)
                     : 1;
    for (int c = 0; c < copies; c++) {
      ref *x = &r[m++];
      x->klen = make_ikey(x->key, user, seq);
      x->child = (int)st_random_uniform(rnd, (uint32_t)nchild);
      x->vlen = (size_t)snprintf(x->val, sizeof x->val, "c%d:%d", x->child, i);
    }
  }
  qsort(r, (size_t)m, sizeof *r, ref_cmp);
  /* A child holds a key at most once: drop repeats within a child; and
   * without dup_pct drop every repeat, so that keys are unique. */
  int k = 0;
  for (int i = 0; i < m; i++) {
    int dup = 0;
    for (int j = k - 1; j >= 0 && st_icmp(UCMP, st_slice_make(r[j].key, r[j].klen),
                                          st_slice_make(r[i].key, r[i].klen)) == 0;
         j--)
      if (r[j].child == r[i].child || !dup_pct) dup = 1;
    if (!dup) r[k++] = r[i];
  }
  *n = k;
  return r;
}

static void expect_pos(st_iter *it, const ref *r, int n, int pos) {
  if (pos < 0 || pos >= n) {
    assert_false(st_iter_valid(it));
    return;
  }
  assert_true(st_iter_valid(it));
  st_slice k = st_iter_key(it), v = st_iter_value(it);
  assert_int_equal(k.size, r[pos].klen);
  assert_memory_equal(k.data, r[pos].key, k.size);
  assert_int_equal(v.size, r[pos].vlen);
  assert_memory_equal(v.data, r[pos].val, v.size);
}

static int lower_bound(const ref *r, int n, st_slice t) {
  int lo = 0, hi = n;
  while (lo < hi) {
    int mid = (lo + hi) / 2;
    if (st_icmp(UCMP, st_slice_make(r[mid].key, r[mid].klen), t) < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}

static st_iter *make_merger(const ref *r, int n, int nchild) {
  st_iter **kids = malloc((size_t)nchild * sizeof *kids);
  for (int c = 0; c < nchild; c++)
    kids[c] = child_iter(r, n, c);
  st_iter *m = st_merging_iter_new(UCMP, kids, nchild);
  free(kids);
  assert_non_null(m);
  return m;
}

static void random_walk(st_iter *it, const ref *r, int n, st_random *rnd, int steps) {
  /* Full scans first. */
  st_iter_seek_to_first(it);
  for (int i = 0; i < n; i++) {
    expect_pos(it, r, n, i);
    st_iter_next(it);
  }
  expect_pos(it, r, n, n);
  st_iter_seek_to_last(it);
  for (int i = n - 1; i >= 0; i--) {
    expect_pos(it, r, n, i);
    st_iter_prev(it);
  }
  expect_pos(it, r, n, -1);

  int pos = -1;
  for (int s = 0; s < steps; s++) {
    int op = (int)st_random_uniform(rnd, 10);
    int valid = pos >= 0 && pos < n;
    if (op == 0) {
      st_iter_seek_to_first(it);
      pos = 0;
    } else if (op == 1) {
      st_iter_seek_to_last(it);
      pos = n - 1;
    } else if (op == 2) {
      char key[32];
      size_t klen = make_ikey(key, (int)st_random_uniform(rnd, (uint32_t)n * 2 + 2),
                              st_random_uniform(rnd, 7));
      st_iter_seek(it, st_slice_make(key, klen));
      pos = lower_bound(r, n, st_slice_make(key, klen));
    } else if (op < 6 && valid) {
      st_iter_next(it);
      pos++;
    } else if (valid) {
      st_iter_prev(it);
      pos--;
    }
    if (pos >= n || pos < 0) pos = n; /* invalid either way */
    expect_pos(it, r, n, pos < n ? pos : -1);
  }
  assert_int_equal(st_iter_status(it), 0);
}

static void test_disjoint_children(void **state) {
  (void)state;
  st_random rnd;
  st_random_init(&rnd, 1);
  int counts[] = {2, 3, 5, 8, 20};
  for (int k = 0; k < 5; k++) {
    int n;
    ref *r = make_ref(&rnd, 400, counts[k], 0, &n);
    st_iter *m = make_merger(r, n, counts[k]);
    random_walk(m, r, n, &rnd, 4000);
    st_iter_destroy(m);
    free(r);
  }
}

static void test_overlapping_duplicates(void **state) {
  (void)state;
  /* The same internal key in several children: yielded once per child, in
   * child order going forward and the reverse going backward, also across
   * direction switches right on a duplicate. */
  st_random rnd;
  st_random_init(&rnd, 2);
  for (int round = 0; round < 6; round++) {
    int nchild = 2 + round;
    int n;
    ref *r = make_ref(&rnd, 300, nchild, 40, &n);
    st_iter *m = make_merger(r, n, nchild);
    random_walk(m, r, n, &rnd, 6000);
    /* Zig-zag at every position: next then prev returns to the same entry. */
    st_iter_seek_to_first(m);
    for (int i = 0; i < n - 1; i++) {
      expect_pos(m, r, n, i);
      st_iter_next(m);
      expect_pos(m, r, n, i + 1);
      st_iter_prev(m);
      expect_pos(m, r, n, i);
      st_iter_next(m);
    }
    st_iter_seek_to_last(m);
    for (int i = n - 1; i > 0; i--) {
      expect_pos(m, r, n, i);
      st_iter_prev(m);
      expect_pos(m, r, n, i - 1);
      st_iter_next(m);
      expect_pos(m, r, n, i);
      st_iter_prev(m);
    }
    st_iter_destroy(m);
    free(r);
  }
}

static void test_small_counts(void **state) {
  (void)state;
  st_iter *m = st_merging_iter_new(UCMP, NULL, 0);
  assert_non_null(m);
  st_iter_seek_to_first(m);
  assert_false(st_iter_valid(m));
  st_iter_seek_to_last(m);
  assert_false(st_iter_valid(m));
  assert_int_equal(st_iter_status(m), 0);
  st_iter_destroy(m);

  /* One child is returned as is. */
  st_random rnd;
  st_random_init(&rnd, 3);
  int n;
  ref *r = make_ref(&rnd, 50, 1, 0, &n);
  st_iter *only = child_iter(r, n, 0);
  st_iter *kids[1] = {only};
  m = st_merging_iter_new(UCMP, kids, 1);
  assert_ptr_equal(m, only);
  random_walk(m, r, n, &rnd, 500);
  st_iter_destroy(m);
  free(r);

  /* All children empty. */
  st_iter *empties[3] = {st_iter_empty(0), child_iter(NULL, 0, 0), st_iter_empty(0)};
  m = st_merging_iter_new(UCMP, empties, 3);
  st_iter_seek_to_first(m);
  assert_false(st_iter_valid(m));
  char key[32];
  size_t kl = make_ikey(key, 1, 1);
  st_iter_seek(m, st_slice_make(key, kl));
  assert_false(st_iter_valid(m));
  assert_int_equal(st_iter_status(m), 0);
  st_iter_destroy(m);
}

/* A child that stops with an error once it moves onto a poisoned key,
 * going either way, and stays stopped (as table iterators do). */
typedef struct failing_iter {
  st_iter base;
  st_iter *in;
  char poison[32];
  size_t plen;
  int failed;
} failing_iter;

static void fi_check(failing_iter *f) {
  if (!f->failed && st_iter_valid(f->in) &&
      st_icmp(UCMP, st_iter_key(f->in), st_slice_make(f->poison, f->plen)) == 0)
    f->failed = 1;
}
static int fi_valid(const st_iter *b) {
  const failing_iter *f = (const failing_iter *)b;
  return !f->failed && st_iter_valid(f->in);
}
static void fi_first(st_iter *b) {
  failing_iter *f = (failing_iter *)b;
  if (!f->failed) st_iter_seek_to_first(f->in), fi_check(f);
}
static void fi_last(st_iter *b) {
  failing_iter *f = (failing_iter *)b;
  if (!f->failed) st_iter_seek_to_last(f->in), fi_check(f);
}
static void fi_seek(st_iter *b, st_slice t) {
  failing_iter *f = (failing_iter *)b;
  if (!f->failed) st_iter_seek(f->in, t), fi_check(f);
}
static void fi_next(st_iter *b) {
  failing_iter *f = (failing_iter *)b;
  st_iter_next(f->in);
  fi_check(f);
}
static void fi_prev(st_iter *b) {
  failing_iter *f = (failing_iter *)b;
  st_iter_prev(f->in);
  fi_check(f);
}
static st_slice fi_key(const st_iter *b) { return st_iter_key(((const failing_iter *)b)->in); }
static st_slice fi_value(const st_iter *b) { return st_iter_value(((const failing_iter *)b)->in); }
static int fi_status(const st_iter *b) {
  const failing_iter *f = (const failing_iter *)b;
  return f->failed ? st_err_corrupt("/db/000007.ldb: poisoned block") : st_iter_status(f->in);
}
static void fi_destroy(st_iter *b) {
  failing_iter *f = (failing_iter *)b;
  st_iter_destroy(f->in);
  free(f);
}
static const st_iter_ops failing_ops = {fi_valid, fi_first, fi_last,   fi_seek,    fi_next, fi_prev,
                                        fi_key,   fi_value, fi_status, fi_destroy, NULL};

static void expect_stopped(st_iter *m, const char *msg) {
  assert_false(st_iter_valid(m));
  assert_int_equal(st_iter_status(m), STRATA_ECORRUPTION);
  assert_string_equal(strata_errmsg(), msg);
}

/* An error in any child stops the merged iterator at once, going either
 * way: entries of other children never show in place of the failed
 * child's (they could be older versions of its keys). */
static void test_failing_child(void **state) {
  (void)state;
  st_random rnd;
  st_random_init(&rnd, 4);
  int n;
  ref *r = make_ref(&rnd, 200, 3, 0, &n);
  const char *empty_msg =
      "Corruption: /db/000012.ldb: block checksum mismatch at offset 0 (size 10)";
  for (int how = 0; how < 3; how++) {
    /* A child failed from the start. */
    st_iter *kids[4];
    for (int c = 0; c < 3; c++)
      kids[c] = child_iter(r, n, c);
    st_err_corrupt("/db/000012.ldb: block checksum mismatch at offset 0 (size 10)");
    kids[3] = st_iter_empty(STRATA_ECORRUPTION);
    st_err_clear();
    st_iter *m = st_merging_iter_new(UCMP, kids, 4);
    if (how == 0) st_iter_seek_to_first(m);
    if (how == 1) st_iter_seek_to_last(m);
    if (how == 2) st_iter_seek(m, st_slice_make(r[n / 2].key, r[n / 2].klen));
    expect_stopped(m, empty_msg);
    /* Sticky: a later move does not bring it back. */
    st_iter_seek_to_first(m);
    expect_stopped(m, empty_msg);
    st_iter_destroy(m);
  }

  /* A child that fails at its entry P, the middle one of child 1: a
   * forward scan shows exactly the entries up to child 1's entry before P,
   * a backward scan exactly those down to child 1's entry after P. */
  int pidx[64], np = 0;
  for (int i = 0; i < n && np < 64; i++)
    if (r[i].child == 1) pidx[np++] = i;
  assert_true(np >= 3);
  int p = pidx[np / 2], before = pidx[np / 2 - 1], after = pidx[np / 2 + 1];
  for (int backward = 0; backward < 2; backward++) {
    st_iter *kids[3];
    for (int c = 0; c < 3; c++)
      kids[c] = child_iter(r, n, c);
    failing_iter *f = malloc(sizeof *f);
    st_iter_init(&f->base, &failing_ops);
    f->in = kids[1];
    memcpy(f->poison, r[p].key, r[p].klen);
    f->plen = r[p].klen;
    f->failed = 0;
    kids[1] = &f->base;
    st_iter *m = st_merging_iter_new(UCMP, kids, 3);
    if (!backward) {
      st_iter_seek_to_first(m);
      for (int i = 0; i <= before; i++) {
        expect_pos(m, r, n, i);
        st_iter_next(m);
      }
    } else {
      st_iter_seek_to_last(m);
      for (int i = n - 1; i >= after; i--) {
        expect_pos(m, r, n, i);
        st_iter_prev(m);
      }
    }
    expect_stopped(m, "Corruption: /db/000007.ldb: poisoned block");
    st_iter_destroy(m);
  }
  /* Changing direction onto the failure stops it too. */
  {
    st_iter *kids[3];
    for (int c = 0; c < 3; c++)
      kids[c] = child_iter(r, n, c);
    failing_iter *f = malloc(sizeof *f);
    st_iter_init(&f->base, &failing_ops);
    f->in = kids[1];
    memcpy(f->poison, r[p].key, r[p].klen);
    f->plen = r[p].klen;
    f->failed = 0;
    kids[1] = &f->base;
    st_iter *m = st_merging_iter_new(UCMP, kids, 3);
    st_iter_seek(m, st_slice_make(r[after].key, r[after].klen));
    expect_pos(m, r, n, after);
    while (st_iter_valid(m))
      st_iter_prev(m);
    expect_stopped(m, "Corruption: /db/000007.ldb: poisoned block");
    st_iter_destroy(m);
  }
  free(r);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_disjoint_children),
      cmocka_unit_test(test_overlapping_duplicates),
      cmocka_unit_test(test_small_counts),
      cmocka_unit_test(test_failing_child),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
