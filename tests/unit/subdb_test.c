/* subdb_test.c - named sub-databases (strata.h "Sub-databases"): create,
 * open, list, isolation of key spaces (gets, iterators both ways, seeks,
 * boundaries between neighbouring sub-databases), the reserved range,
 * batches spanning sub-databases, drop (O(1), records discarded by
 * compaction, name reusable), statistics, persistence across reopen, and
 * the refusal with a user comparator. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "db/db_raw.h"
#include "strata.h"

static char dbpath[256];

static int setup(void **state) {
  (void)state;
  snprintf(dbpath, sizeof dbpath, "/tmp/strata_subdb_test_%d", (int)getpid());
  strata_destroy(dbpath, NULL);
  return 0;
}

static int teardown(void **state) {
  (void)state;
  strata_destroy(dbpath, NULL);
  return 0;
}

static strata_db *open_db(size_t write_buffer) {
  strata_options o;
  strata_options_init(&o);
  o.create_if_missing = 1;
  if (write_buffer) o.write_buffer_size = write_buffer;
  strata_db *db = NULL;
  if (strata_open(dbpath, &o, &db)) fail_msg("open: %s", strata_errmsg());
  return db;
}

static strata_subdb *sub(strata_db *db, const char *name) {
  strata_subdb *h = NULL;
  if (strata_subdb_open(db, name, 1, &h)) fail_msg("subdb_open %s: %s", name, strata_errmsg());
  return h;
}

static void put(strata_db *db, strata_subdb *s, const char *k, const char *v) {
  if (strata_put_in(db, s, NULL, k, strlen(k), v, strlen(v)))
    fail_msg("put %s: %s", k, strata_errmsg());
}

/* The value of k in s as a string, or NULL when absent. */
static char *get(strata_db *db, strata_subdb *s, const char *k) {
  static char out[256];
  strata_buf v = STRATA_BUF_INIT;
  int rc = strata_get_in(db, s, NULL, k, strlen(k), &v);
  if (rc == STRATA_ENOTFOUND) return NULL;
  if (rc) fail_msg("get %s: %s", k, strata_errmsg());
  snprintf(out, sizeof out, "%.*s", (int)v.size, v.data);
  strata_buf_free(&v);
  return out;
}

/* Every key of s joined by ',' (reverse: last to first). */
static char *keys(strata_db *db, strata_subdb *s, int reverse) {
  static char out[4096];
  strata_iter *it = NULL;
  assert_int_equal(strata_iter_create_in(db, s, NULL, &it), 0);
  size_t n = 0;
  int count = 0;
  out[0] = '\0';
  if (reverse)
    strata_iter_seek_to_last(it);
  else
    strata_iter_seek_to_first(it);
  while (strata_iter_valid(it)) {
    size_t klen;
    const char *k = strata_iter_key(it, &klen);
    n += (size_t)snprintf(out + n, sizeof out - n, "%s%.*s", count++ ? "," : "", (int)klen, k);
    if (reverse)
      strata_iter_prev(it);
    else
      strata_iter_next(it);
  }
  assert_int_equal(strata_iter_status(it), 0);
  strata_iter_destroy(it);
  return out;
}

static int collect(void *arg, const char *name) {
  char *out = arg;
  if (*out) strcat(out, ",");
  strcat(out, name);
  return 0;
}

static void test_create_open_list(void **state) {
  (void)state;
  strata_db *db = open_db(0);
  strata_subdb *h = NULL;
  assert_int_equal(strata_subdb_open(db, "users", 0, &h), STRATA_ENOTFOUND);
  assert_non_null(strstr(strata_errmsg(), "users"));
  strata_subdb *a = sub(db, "users"), *b = sub(db, "orders");
  assert_ptr_equal(sub(db, "users"), a);
  assert_int_equal(strata_subdb_open(db, "users", 0, &h), 0);
  assert_ptr_equal(h, a);
  assert_string_equal(strata_subdb_name(b), "orders");
  assert_int_equal(strata_subdb_open(db, "", 1, &h), STRATA_EINVAL);
  char longname[300];
  memset(longname, 'n', sizeof longname - 1);
  longname[sizeof longname - 1] = '\0';
  assert_int_equal(strata_subdb_open(db, longname, 1, &h), STRATA_EINVAL);
  longname[STRATA_SUBDB_NAME_MAX] = '\0';
  assert_int_equal(strata_subdb_open(db, longname, 1, &h), 0);
  char names[1024] = "";
  assert_int_equal(strata_subdb_list(db, collect, names), 0);
  char want[1024];
  snprintf(want, sizeof want, "%s,orders,users", longname);
  assert_string_equal(names, want);
  put(db, a, "k", "in users");
  strata_close(db);

  db = open_db(0);
  names[0] = '\0';
  assert_int_equal(strata_subdb_list(db, collect, names), 0);
  assert_string_equal(names, want);
  assert_int_equal(strata_subdb_open(db, "users", 0, &a), 0);
  assert_string_equal(get(db, a, "k"), "in users");
  strata_close(db);
}

static void test_isolation(void **state) {
  (void)state;
  strata_db *db = open_db(0);
  strata_subdb *a = sub(db, "a"), *b = sub(db, "b");
  put(db, NULL, "k", "main");
  put(db, a, "k", "a");
  put(db, b, "k", "b");
  put(db, a, "", "empty key");
  put(db, NULL, "z", "main z");
  put(db, a, "m", "a m");
  put(db, b, "\xff\xff", "b high");
  put(db, NULL, "\xff\xff\xff", "main high"); /* above the reserved range */
  assert_string_equal(get(db, NULL, "k"), "main");
  assert_string_equal(get(db, a, "k"), "a");
  assert_string_equal(get(db, b, "k"), "b");
  assert_string_equal(get(db, a, ""), "empty key");
  assert_null(get(db, b, ""));
  assert_null(get(db, NULL, "m"));
  assert_string_equal(keys(db, NULL, 0), "k,z,\xff\xff\xff");
  assert_string_equal(keys(db, NULL, 1), "\xff\xff\xff,z,k");
  assert_string_equal(keys(db, a, 0), ",k,m");
  assert_string_equal(keys(db, a, 1), "m,k,");
  assert_string_equal(keys(db, b, 0), "k,\xff\xff");
  assert_string_equal(keys(db, b, 1), "\xff\xff,k");

  /* Seeks stay inside: past a's last key is the end, not b's first. */
  strata_iter *it = NULL;
  assert_int_equal(strata_iter_create_in(db, a, NULL, &it), 0);
  strata_iter_seek(it, "n", 1);
  assert_false(strata_iter_valid(it));
  strata_iter_seek(it, "l", 1);
  assert_true(strata_iter_valid(it));
  size_t klen;
  assert_memory_equal(strata_iter_key(it, &klen), "m", 1);
  strata_iter_prev(it);
  assert_memory_equal(strata_iter_key(it, &klen), "k", 1);
  strata_iter_prev(it);
  assert_true(strata_iter_valid(it));
  strata_iter_key(it, &klen);
  assert_int_equal(klen, 0); /* the empty key */
  strata_iter_prev(it);
  assert_false(strata_iter_valid(it));
  strata_iter_destroy(it);
  /* The main database's iterator jumps over the reserved range both
   * ways, also when it starts inside it. */
  assert_int_equal(strata_iter_create(db, NULL, &it), 0);
  strata_iter_seek(it, "\xff\xffstrata", 8);
  assert_true(strata_iter_valid(it));
  assert_memory_equal(strata_iter_key(it, &klen), "\xff\xff\xff", 3);
  strata_iter_prev(it);
  assert_memory_equal(strata_iter_key(it, &klen), "z", 1);
  strata_iter_destroy(it);
  strata_close(db);
}

static void test_reserved_range(void **state) {
  (void)state;
  strata_db *db = open_db(0);
  const char rk[] = "\xff\xffstrata\x00zzz";
  size_t rlen = sizeof rk - 1;
  assert_int_equal(strata_put(db, NULL, rk, rlen, "v", 1), STRATA_EINVAL);
  assert_non_null(strstr(strata_errmsg(), "reserved"));
  assert_int_equal(strata_delete(db, NULL, rk, rlen), STRATA_EINVAL);
  strata_batch *b = NULL;
  assert_int_equal(strata_batch_create(&b), 0);
  assert_int_equal(strata_batch_put(b, rk, rlen, "v", 1), STRATA_EINVAL);
  assert_int_equal(strata_batch_count(b), 0);
  /* leveldb/c.h's entry points are LevelDB: the key is an ordinary key
   * there, and strata.h keeps it out of sight. */
  assert_int_equal(st_db_put_any(db, NULL, rk, rlen, "v", 1), 0);
  strata_buf v = STRATA_BUF_INIT;
  assert_int_equal(strata_get(db, NULL, rk, rlen, &v), STRATA_ENOTFOUND);
  assert_int_equal(st_db_get_any(db, NULL, rk, rlen, &v), 0);
  strata_buf_free(&v);
  assert_string_equal(keys(db, NULL, 0), "");
  strata_iter *it = NULL;
  assert_int_equal(st_db_iter_create_raw(db, NULL, &it), 0);
  strata_iter_seek_to_first(it);
  assert_true(strata_iter_valid(it));
  strata_iter_destroy(it);
  strata_batch_destroy(b);
  strata_close(db);
}

static void test_spanning_batch(void **state) {
  (void)state;
  strata_db *db = open_db(0);
  strata_subdb *a = sub(db, "a"), *b = sub(db, "b");
  strata_batch *batch = NULL;
  assert_int_equal(strata_batch_create(&batch), 0);
  assert_int_equal(strata_batch_put_in(batch, NULL, "x", 1, "main", 4), 0);
  assert_int_equal(strata_batch_put_in(batch, a, "x", 1, "in a", 4), 0);
  assert_int_equal(strata_batch_put_in(batch, b, "x", 1, "in b", 4), 0);
  assert_int_equal(strata_batch_delete_in(batch, a, "gone", 4), 0);
  assert_int_equal(strata_batch_count(batch), 4);
  put(db, a, "gone", "soon");
  assert_int_equal(strata_write(db, NULL, batch), 0);
  strata_batch_destroy(batch);
  strata_close(db);
  db = open_db(0);
  a = sub(db, "a");
  b = sub(db, "b");
  assert_string_equal(get(db, NULL, "x"), "main");
  assert_string_equal(get(db, a, "x"), "in a");
  assert_string_equal(get(db, b, "x"), "in b");
  assert_null(get(db, a, "gone"));
  strata_close(db);
}

/* Records of the dropped sub-database left in the tables and memtables,
 * seen through a raw iterator. */
static int raw_records_with_prefix(strata_db *db, const char *prefix, size_t plen) {
  strata_iter *it = NULL;
  assert_int_equal(st_db_iter_create_raw(db, NULL, &it), 0);
  int n = 0;
  for (strata_iter_seek(it, prefix, plen); strata_iter_valid(it); strata_iter_next(it)) {
    size_t klen;
    const char *k = strata_iter_key(it, &klen);
    if (klen < plen || memcmp(k, prefix, plen) != 0) break;
    n++;
  }
  strata_iter_destroy(it);
  return n;
}

static void test_drop(void **state) {
  (void)state;
  strata_db *db = open_db(64 << 10);
  strata_subdb *a = sub(db, "a"), *keep = sub(db, "keep");
  char k[32], v[128];
  memset(v, 'v', sizeof v - 1);
  v[sizeof v - 1] = '\0';
  for (int i = 0; i < 5000; i++) {
    snprintf(k, sizeof k, "key%06d", i);
    put(db, a, k, v);
    if (i % 10 == 0) put(db, keep, k, "kept");
  }
  /* The data records of "a": reserved 'd' id, id 1 (the first made). */
  const char aprefix[] = "\xff\xffstrata\x00"
                         "d\x00\x00\x00\x01";
  assert_int_equal(strata_compact_range(db, NULL, 0, NULL, 0), 0);
  assert_int_equal(raw_records_with_prefix(db, aprefix, sizeof aprefix - 1), 5000);

  assert_int_equal(strata_subdb_drop(db, a, NULL), 0);
  strata_buf out = STRATA_BUF_INIT;
  assert_int_equal(strata_get_in(db, a, NULL, "key000001", 9, &out), STRATA_EINVAL);
  assert_non_null(strstr(strata_errmsg(), "dropped"));
  assert_int_equal(strata_put_in(db, a, NULL, "x", 1, "y", 1), STRATA_EINVAL);
  strata_iter *it = NULL;
  assert_int_equal(strata_iter_create_in(db, a, NULL, &it), STRATA_EINVAL);
  assert_int_equal(strata_subdb_drop(db, a, NULL), STRATA_EINVAL);
  assert_int_equal(strata_subdb_drop(db, NULL, "a"), STRATA_ENOTFOUND);
  strata_subdb *h = NULL;
  assert_int_equal(strata_subdb_open(db, "a", 0, &h), STRATA_ENOTFOUND);

  /* The records go in the background (the cleanup thread's compaction). */
  int left = -1;
  for (int tries = 0; tries < 600 && left != 0; tries++) {
    left = raw_records_with_prefix(db, aprefix, sizeof aprefix - 1);
    if (left) usleep(10000);
  }
  assert_int_equal(left, 0);
  assert_string_equal(get(db, keep, "key000010"), "kept");

  /* The name again: a new, empty sub-database. */
  strata_subdb *a2 = sub(db, "a");
  assert_ptr_not_equal(a2, a);
  assert_string_equal(keys(db, a2, 0), "");
  put(db, a2, "new", "1");
  strata_close(db);

  db = open_db(0);
  a2 = sub(db, "a");
  assert_string_equal(keys(db, a2, 0), "new");
  assert_int_equal(strata_subdb_drop(db, NULL, "keep"), 0);
  strata_close(db);
  db = open_db(0);
  assert_int_equal(strata_subdb_open(db, "keep", 0, &h), STRATA_ENOTFOUND);
  char names[256] = "";
  assert_int_equal(strata_subdb_list(db, collect, names), 0);
  assert_string_equal(names, "a");
  strata_close(db);
}

static void test_stat(void **state) {
  (void)state;
  strata_db *db = open_db(256 << 10);
  strata_subdb *a = sub(db, "a"), *b = sub(db, "b");
  char k[32], v[101];
  v[100] = '\0';
  unsigned r = 12345;
  for (int i = 0; i < 20000; i++) {
    /* Values that do not compress, so bytes track entries. */
    for (int j = 0; j < 100; j++) {
      r = r * 1103515245 + 12345;
      v[j] = (char)('a' + (r >> 16) % 26);
    }
    snprintf(k, sizeof k, "%08d", i * 7919 % 20000);
    put(db, a, k, v);
    if (i < 100) put(db, b, k, v);
    if (i < 50) put(db, NULL, k, v);
  }
  strata_subdb_stats st;
  assert_int_equal(strata_compact_range(db, NULL, 0, NULL, 0), 0);
  assert_int_equal(strata_subdb_stat(db, a, &st), 0);
  /* An estimate from a sample scaled by bytes: within a quarter. */
  assert_in_range(st.entries, 15000, 25000);
  assert_in_range(st.bytes, 20000u * 60, 20000u * 140);
  assert_int_equal(strata_subdb_stat(db, b, &st), 0);
  assert_int_equal(st.entries, 100); /* small ranges are counted exactly */
  assert_int_equal(strata_subdb_stat(db, NULL, &st), 0);
  assert_int_equal(st.entries, 50);
  /* Memtable entries count exactly. */
  put(db, b, "zz1", "v");
  put(db, b, "zz2", "v");
  assert_int_equal(strata_subdb_stat(db, b, &st), 0);
  assert_int_equal(st.entries, 102);
  strata_close(db);
}

static int bytewise_rev(void *state, const char *a, size_t alen, const char *b, size_t blen) {
  (void)state;
  size_t n = alen < blen ? alen : blen;
  int r = memcmp(a, b, n);
  if (r == 0) r = alen < blen ? -1 : (alen > blen);
  return -r;
}

static void test_user_comparator(void **state) {
  (void)state;
  strata_comparator *cmp = NULL;
  assert_int_equal(strata_comparator_create("test.rev", NULL, bytewise_rev, NULL, &cmp), 0);
  strata_options o;
  strata_options_init(&o);
  o.create_if_missing = 1;
  o.comparator = cmp;
  strata_db *db = NULL;
  assert_int_equal(strata_open(dbpath, &o, &db), 0);
  strata_subdb *h = NULL;
  assert_int_equal(strata_subdb_open(db, "a", 1, &h), STRATA_ENOTSUP);
  assert_non_null(strstr(strata_errmsg(), "bytewise"));
  /* Reserved keys written as LevelDB would stay hidden from strata.h even
   * when the range is not contiguous in the user's order. */
  assert_int_equal(st_db_put_any(db, NULL, "\xff\xffstrata\x00q", 10, "v", 1), 0);
  put(db, NULL, "a", "1");
  put(db, NULL, "\xff\xff\xff", "2");
  assert_string_equal(keys(db, NULL, 0), "\xff\xff\xff,a");
  assert_string_equal(keys(db, NULL, 1), "a,\xff\xff\xff");
  strata_close(db);
  strata_comparator_destroy(cmp);
}

/* Neighbouring sub-databases whose keys are all 0xff bytes: the boundary
 * between ids must hold both ways. */
static void test_boundaries(void **state) {
  (void)state;
  strata_db *db = open_db(32 << 10);
  strata_subdb *s[4];
  char name[8];
  for (int i = 0; i < 4; i++) {
    snprintf(name, sizeof name, "s%d", i);
    s[i] = sub(db, name);
    put(db, s[i], "\xff", name);
    put(db, s[i], "\xff\xff\xff\xff", name);
    put(db, s[i], "", name);
  }
  for (int round = 0; round < 2; round++) {
    for (int i = 0; i < 4; i++) {
      assert_string_equal(keys(db, s[i], 0), ",\xff,\xff\xff\xff\xff");
      assert_string_equal(keys(db, s[i], 1), "\xff\xff\xff\xff,\xff,");
    }
    assert_int_equal(strata_compact_range(db, NULL, 0, NULL, 0), 0);
  }
  /* Deleting a sub-database's keys one by one leaves it empty both ways. */
  for (int i = 0; i < 4; i += 2) {
    assert_int_equal(strata_delete_in(db, s[i], NULL, "", 0), 0);
    assert_int_equal(strata_delete_in(db, s[i], NULL, "\xff", 1), 0);
    assert_int_equal(strata_delete_in(db, s[i], NULL, "\xff\xff\xff\xff", 4), 0);
    assert_string_equal(keys(db, s[i], 0), "");
    assert_string_equal(keys(db, s[i], 1), "");
  }
  assert_string_equal(keys(db, s[1], 1), "\xff\xff\xff\xff,\xff,");
  strata_close(db);
}

/* A read-only handle sees the sub-databases as of its open, and a
 * catch-up brings new ones and marks dropped ones. */
static void test_read_only(void **state) {
  (void)state;
  strata_db *db = open_db(0);
  strata_subdb *a = sub(db, "a");
  put(db, a, "k", "1");
  strata_options o;
  strata_options_init(&o);
  o.read_only = 1;
  strata_db *ro = NULL;
  assert_int_equal(strata_open(dbpath, &o, &ro), 0);
  strata_subdb *ra = NULL, *h = NULL;
  assert_int_equal(strata_subdb_open(ro, "a", 0, &ra), 0);
  assert_string_equal(get(ro, ra, "k"), "1");
  assert_int_equal(strata_subdb_open(ro, "b", 1, &h), STRATA_EINVAL);
  assert_int_equal(strata_subdb_drop(ro, ra, NULL), STRATA_EINVAL);
  strata_txn_options to;
  strata_txn_options_init(&to);
  to.write = 1;
  strata_txn *t = NULL;
  assert_int_equal(strata_txn_begin(ro, &to, &t), STRATA_EINVAL);
  /* A read transaction works, in a sub-database too. */
  assert_int_equal(strata_txn_begin(ro, NULL, &t), 0);
  strata_buf v = STRATA_BUF_INIT;
  assert_int_equal(strata_txn_get(t, ra, "k", 1, &v), 0);
  strata_buf_free(&v);
  strata_iter *it = NULL;
  assert_int_equal(strata_txn_iter_create(t, ra, NULL, &it), 0);
  strata_iter_seek_to_first(it);
  assert_true(strata_iter_valid(it));
  strata_iter_destroy(it);
  strata_txn_destroy(t);

  strata_subdb *b = sub(db, "b");
  put(db, b, "x", "2");
  assert_int_equal(strata_subdb_drop(db, a, NULL), 0);
  assert_int_equal(strata_subdb_open(ro, "b", 0, &h), STRATA_ENOTFOUND);
  assert_string_equal(get(ro, ra, "k"), "1"); /* still the state as of open */
  assert_int_equal(strata_catch_up(ro), 0);
  assert_int_equal(strata_subdb_open(ro, "b", 0, &h), 0);
  assert_string_equal(get(ro, h, "x"), "2");
  assert_int_equal(strata_get_in(ro, ra, NULL, "k", 1, &v), STRATA_EINVAL);
  assert_int_equal(strata_subdb_open(ro, "a", 0, &h), STRATA_ENOTFOUND);
  strata_close(ro);
  strata_close(db);
}

/* A sorted bulk load into an empty sub-database, beside a neighbour with
 * data and the main database; the range check looks at the target only. */
static void test_bulk_load(void **state) {
  (void)state;
  strata_db *db = open_db(64 << 10);
  strata_subdb *a = sub(db, "a"), *b = sub(db, "b"), *c = sub(db, "c");
  put(db, a, "k5000", "neighbour below");
  put(db, c, "k0000", "neighbour above");
  put(db, NULL, "k0001", "main");
  strata_loader *l = NULL;
  assert_int_equal(strata_loader_create(db, b, &l), 0);
  char k[16], v[16];
  for (int i = 0; i < 20000; i++) {
    snprintf(k, sizeof k, "k%05d", i);
    snprintf(v, sizeof v, "v%d", i);
    assert_int_equal(strata_loader_add(l, k, strlen(k), v, strlen(v)), 0);
  }
  assert_int_equal(strata_loader_finish(l), 0);
  strata_loader_destroy(l);
  assert_string_equal(get(db, b, "k12345"), "v12345");
  assert_string_equal(get(db, a, "k5000"), "neighbour below");
  assert_string_equal(get(db, c, "k0000"), "neighbour above");
  assert_null(get(db, a, "k12345"));
  assert_null(get(db, NULL, "k12345"));
  strata_subdb_stats st;
  assert_int_equal(strata_subdb_stat(db, b, &st), 0);
  assert_in_range(st.entries, 15000, 25000);
  /* A second load whose range holds entries of b is refused whole... */
  assert_int_equal(strata_loader_create(db, b, &l), 0);
  assert_int_equal(strata_loader_add(l, "k09999a", 7, "x", 1), 0);
  assert_int_equal(strata_loader_add(l, "k10001a", 7, "x", 1), 0);
  assert_int_equal(strata_loader_finish(l), STRATA_EINVAL);
  strata_loader_destroy(l);
  assert_null(get(db, b, "k09999a"));
  /* ... one falling between two of its keys is not: nothing lies in it. */
  assert_int_equal(strata_loader_create(db, b, &l), 0);
  assert_int_equal(strata_loader_add(l, "k10000x", 7, "between", 7), 0);
  assert_int_equal(strata_loader_finish(l), 0);
  strata_loader_destroy(l);
  assert_string_equal(get(db, b, "k10000x"), "between");
  assert_string_equal(get(db, b, "k10001"), "v10001");
  /* A dropped sub-database takes no load. */
  assert_int_equal(strata_subdb_drop(db, c, NULL), 0);
  assert_int_equal(strata_loader_create(db, c, &l), STRATA_EINVAL);
  strata_close(db);
  db = open_db(0);
  b = sub(db, "b");
  assert_string_equal(get(db, b, "k19999"), "v19999");
  strata_iter *it = NULL;
  assert_int_equal(strata_iter_create_in(db, b, NULL, &it), 0);
  int n = 0;
  for (strata_iter_seek_to_first(it); strata_iter_valid(it); strata_iter_next(it))
    n++;
  assert_int_equal(n, 20001);
  strata_iter_destroy(it);
  strata_close(db);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_create_open_list, setup, teardown),
      cmocka_unit_test_setup_teardown(test_isolation, setup, teardown),
      cmocka_unit_test_setup_teardown(test_reserved_range, setup, teardown),
      cmocka_unit_test_setup_teardown(test_spanning_batch, setup, teardown),
      cmocka_unit_test_setup_teardown(test_drop, setup, teardown),
      cmocka_unit_test_setup_teardown(test_stat, setup, teardown),
      cmocka_unit_test_setup_teardown(test_user_comparator, setup, teardown),
      cmocka_unit_test_setup_teardown(test_boundaries, setup, teardown),
      cmocka_unit_test_setup_teardown(test_read_only, setup, teardown),
      cmocka_unit_test_setup_teardown(test_bulk_load, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
