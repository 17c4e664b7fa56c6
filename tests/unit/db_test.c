/* db_test.c - the database through the public API (strata.h): reads,
 * writes, batches, snapshots, iterators, recovery, flushes, compaction,
 * locking, properties, destroy. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "strata.h"

static char dbpath[256];

static int setup(void **state) {
  (void)state;
  snprintf(dbpath, sizeof dbpath, "/tmp/strata_db_test_%d", (int)getpid());
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
  int rc = strata_open(dbpath, &o, &db);
  if (rc) fail_msg("open: %s", strata_errmsg());
  return db;
}

static void put(strata_db *db, const char *k, const char *v) {
  assert_int_equal(strata_put(db, NULL, k, strlen(k), v, strlen(v)), 0);
}

static void check(strata_db *db, const char *k, const char *expect) {
  strata_buf b = STRATA_BUF_INIT;
  int rc = strata_get(db, NULL, k, strlen(k), &b);
  if (!expect) {
    if (rc != STRATA_ENOTFOUND) fail_msg("%s: expected not found, got %d", k, rc);
  } else {
    if (rc) fail_msg("%s: %s", k, strata_errmsg());
    if (b.size != strlen(expect) || (b.size && memcmp(b.data, expect, b.size)))
      fail_msg("%s: got '%.*s' expected '%s'", k, (int)b.size, b.data, expect);
  }
  strata_buf_free(&b);
}

static void test_basic(void **state) {
  (void)state;
  strata_db *db = open_db(0);
  put(db, "a", "1");
  put(db, "b", "2");
  check(db, "a", "1");
  check(db, "b", "2");
  check(db, "c", NULL);
  assert_int_equal(strata_delete(db, NULL, "a", 1), 0);
  check(db, "a", NULL);
  put(db, "b", "22");
  check(db, "b", "22");
  /* Empty key and empty value. */
  assert_int_equal(strata_put(db, NULL, "", 0, "", 0), 0);
  check(db, "", "");
  strata_close(db);
}

static void test_reopen_recovers_log(void **state) {
  (void)state;
  strata_db *db = open_db(0);
  put(db, "k1", "v1");
  put(db, "k2", "v2");
  strata_delete(db, NULL, "k1", 2);
  strata_close(db);
  db = open_db(0);
  check(db, "k1", NULL);
  check(db, "k2", "v2");
  put(db, "k3", "v3");
  strata_close(db);
  db = open_db(0);
  check(db, "k2", "v2");
  check(db, "k3", "v3");
  strata_close(db);
}

static void test_lock(void **state) {
  (void)state;
  strata_db *db = open_db(0);
  strata_options o;
  strata_options_init(&o);
  strata_db *db2 = NULL;
  int rc = strata_open(dbpath, &o, &db2);
  assert_int_equal(rc, STRATA_EBUSY);
  assert_non_null(strstr(strata_errmsg(), "LOCK"));
  strata_close(db);
}

static void test_missing_and_exists(void **state) {
  (void)state;
  strata_options o;
  strata_options_init(&o);
  strata_db *db = NULL;
  assert_int_equal(strata_open(dbpath, &o, &db), STRATA_EINVAL);
  assert_null(db);
  db = open_db(0);
  strata_close(db);
  o.error_if_exists = 1;
  assert_int_equal(strata_open(dbpath, &o, &db), STRATA_EINVAL);
}

static void test_batch(void **state) {
  (void)state;
  strata_db *db = open_db(0);
  put(db, "x", "old");
  strata_batch *b = NULL;
  assert_int_equal(strata_batch_create(&b), 0);
  strata_batch_put(b, "x", 1, "new", 3);
  strata_batch_put(b, "y", 1, "yy", 2);
  strata_batch_delete(b, "y", 1);
  strata_batch_put(b, "z", 1, "zz", 2);
  assert_int_equal(strata_batch_count(b), 4);
  assert_int_equal(strata_write(db, NULL, b), 0);
  check(db, "x", "new");
  check(db, "y", NULL);
  check(db, "z", "zz");
  strata_batch_destroy(b);
  strata_close(db);
}

static void test_snapshot(void **state) {
  (void)state;
  strata_db *db = open_db(0);
  put(db, "s", "1");
  const strata_snapshot *snap = strata_snapshot_get(db);
  put(db, "s", "2");
  put(db, "t", "new");
  strata_read_options ro;
  strata_read_options_init(&ro);
  ro.snapshot = snap;
  strata_buf b = STRATA_BUF_INIT;
  assert_int_equal(strata_get(db, &ro, "s", 1, &b), 0);
  assert_memory_equal(b.data, "1", 1);
  assert_int_equal(strata_get(db, &ro, "t", 1, &b), STRATA_ENOTFOUND);
  /* Still visible after the memtable is flushed and compacted. */
  assert_int_equal(strata_compact_range(db, NULL, 0, NULL, 0), 0);
  assert_int_equal(strata_get(db, &ro, "s", 1, &b), 0);
  assert_memory_equal(b.data, "1", 1);
  check(db, "s", "2");
  strata_iter *it;
  assert_int_equal(strata_iter_create(db, &ro, &it), 0);
  int n = 0;
  for (strata_iter_seek_to_first(it); strata_iter_valid(it); strata_iter_next(it))
    n++;
  assert_int_equal(n, 1);
  strata_iter_destroy(it);
  strata_snapshot_release(db, snap);
  strata_buf_free(&b);
  strata_close(db);
}

/* The number in a "key%08d" key of klen bytes. The key is not
 * NUL-terminated: whatever follows it in the iterator's buffer (digits of
 * an earlier value, say) must not be read as part of it. */
static int key_index(const char *key, size_t klen) {
  char buf[32];
  if (klen < 3 || klen - 3 >= sizeof buf) return -1;
  memcpy(buf, key + 3, klen - 3);
  buf[klen - 3] = '\0';
  return atoi(buf);
}

/* Many keys through small memtables: flushes and compactions, then read
 * back everything, forward and backward, before and after reopening. */
static void test_many_keys(void **state) {
  (void)state;
  strata_db *db = open_db(64 << 10);
  const int N = 20000;
  char k[32], v[128];
  for (int i = 0; i < N; i++) {
    snprintf(k, sizeof k, "key%08d", (i * 7919) % N);
    snprintf(v, sizeof v, "value-%d-%0*d", (i * 7919) % N, 60, i);
    put(db, k, v);
  }
  for (int i = 0; i < N; i += 3) {
    snprintf(k, sizeof k, "key%08d", i);
    assert_int_equal(strata_delete(db, NULL, k, strlen(k)), 0);
  }
  for (int round = 0; round < 3; round++) {
    if (round == 1) assert_int_equal(strata_compact_range(db, NULL, 0, NULL, 0), 0);
    if (round == 2) {
      strata_close(db);
      db = open_db(64 << 10);
    }
    strata_buf b = STRATA_BUF_INIT;
    for (int i = 0; i < N; i++) {
      snprintf(k, sizeof k, "key%08d", i);
      int rc = strata_get(db, NULL, k, strlen(k), &b);
      if (i % 3 == 0) {
        if (rc != STRATA_ENOTFOUND)
          fail_msg("round %d: %s should be deleted (rc %d)", round, k, rc);
      } else {
        if (rc) fail_msg("round %d: %s: %s", round, k, strata_errmsg());
        char prefix[64];
        int pl = snprintf(prefix, sizeof prefix, "value-%d-", i);
        assert_true(b.size > (size_t)pl && memcmp(b.data, prefix, (size_t)pl) == 0);
      }
    }
    strata_buf_free(&b);
    strata_iter *it;
    assert_int_equal(strata_iter_create(db, NULL, &it), 0);
    int count = 0, last = -1;
    for (strata_iter_seek_to_first(it); strata_iter_valid(it); strata_iter_next(it)) {
      size_t kl;
      const char *kk = strata_iter_key(it, &kl);
      int idx = key_index(kk, kl);
      assert_true(idx > last);
      assert_true(idx % 3 != 0);
      last = idx;
      count++;
    }
    assert_int_equal(strata_iter_status(it), 0);
    assert_int_equal(count, N - (N + 2) / 3);
    int rcount = 0;
    last = N;
    for (strata_iter_seek_to_last(it); strata_iter_valid(it); strata_iter_prev(it)) {
      size_t kl;
      const char *kk = strata_iter_key(it, &kl);
      int idx = key_index(kk, kl);
      assert_true(idx < last);
      last = idx;
      rcount++;
    }
    assert_int_equal(rcount, count);
    /* Seek then change direction. */
    strata_iter_seek(it, "key00000100", 11);
    assert_true(strata_iter_valid(it));
    size_t kl;
    assert_memory_equal(strata_iter_key(it, &kl), "key00000100", 11);
    strata_iter_prev(it);
    assert_memory_equal(strata_iter_key(it, &kl), "key00000098", 11);
    strata_iter_next(it);
    assert_memory_equal(strata_iter_key(it, &kl), "key00000100", 11);
    strata_iter_next(it);
    assert_memory_equal(strata_iter_key(it, &kl), "key00000101", 11);
    strata_iter_destroy(it);
  }
  strata_buf p = STRATA_BUF_INIT;
  assert_int_equal(strata_property(db, "leveldb.num-files-at-level0", &p), 0);
  assert_int_equal(strata_property(db, "leveldb.stats", &p), 0);
  assert_non_null(strstr(p.data, "Level"));
  assert_int_equal(strata_property(db, "no.such.property", &p), STRATA_ENOTFOUND);
  /* strata.last-sequence: one number per put or delete. */
  assert_int_equal(strata_property(db, "strata.last-sequence", &p), 0);
  unsigned long long seq0 = strtoull(p.data, NULL, 10);
  assert_true(seq0 > 0);
  assert_int_equal(strata_put(db, NULL, "seq-a", 5, "1", 1), 0);
  assert_int_equal(strata_delete(db, NULL, "seq-a", 5), 0);
  assert_int_equal(strata_property(db, "strata.last-sequence", &p), 0);
  assert_int_equal(strtoull(p.data, NULL, 10), seq0 + 2);
  strata_buf_free(&p);
  const void *s[1] = {"key"}, *l[1] = {"key9"};
  size_t sl[1] = {3}, ll[1] = {4};
  uint64_t size = 0;
  assert_int_equal(strata_approximate_sizes(db, 1, s, sl, l, ll, &size), 0);
  assert_true(size > 100000);
  strata_close(db);
}

static void test_large_values(void **state) {
  (void)state;
  strata_db *db = open_db(0);
  size_t n = 1 << 20;
  char *big = malloc(n);
  for (size_t i = 0; i < n; i++)
    big[i] = (char)(i * 31 + (i >> 9));
  big[5] = 0;
  assert_int_equal(strata_put(db, NULL, "big\0key", 7, big, n), 0);
  strata_buf b = STRATA_BUF_INIT;
  assert_int_equal(strata_get(db, NULL, "big\0key", 7, &b), 0);
  assert_int_equal(b.size, n);
  assert_memory_equal(b.data, big, n);
  strata_close(db);
  db = open_db(0);
  assert_int_equal(strata_get(db, NULL, "big\0key", 7, &b), 0);
  assert_memory_equal(b.data, big, n);
  assert_int_equal(strata_compact_range(db, NULL, 0, NULL, 0), 0);
  assert_int_equal(strata_get(db, NULL, "big\0key", 7, &b), 0);
  assert_memory_equal(b.data, big, n);
  strata_buf_free(&b);
  free(big);
  strata_close(db);
}

static void test_path_is_file(void **state) {
  (void)state;
  char path[300];
  snprintf(path, sizeof path, "%s.file", dbpath);
  FILE *f = fopen(path, "w");
  fputs("x", f);
  fclose(f);
  strata_options o;
  strata_options_init(&o);
  o.create_if_missing = 1;
  strata_db *db = NULL;
  assert_int_equal(strata_open(path, &o, &db), STRATA_EINVAL);
  assert_non_null(strstr(strata_errmsg(), "not a directory"));
  unlink(path);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_basic, setup, teardown),
      cmocka_unit_test_setup_teardown(test_reopen_recovers_log, setup, teardown),
      cmocka_unit_test_setup_teardown(test_lock, setup, teardown),
      cmocka_unit_test_setup_teardown(test_missing_and_exists, setup, teardown),
      cmocka_unit_test_setup_teardown(test_batch, setup, teardown),
      cmocka_unit_test_setup_teardown(test_snapshot, setup, teardown),
      cmocka_unit_test_setup_teardown(test_many_keys, setup, teardown),
      cmocka_unit_test_setup_teardown(test_large_values, setup, teardown),
      cmocka_unit_test_setup_teardown(test_path_is_file, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
