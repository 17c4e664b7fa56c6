/* loader_test.c - sorted bulk load (strata_loader_*): order and key checks,
 * empty loads, loads split over several tables, the overlap check at
 * finish (tables, deletion markers, memtables), what readers see during
 * and after, placement in the last level (no compaction needed), cleanup
 * of unfinished and failed loads, and a load racing with writers. The
 * LevelDB 1.23 side (it reads a bulk-loaded database) is in the compat
 * suite (tests/suites/compat, `strata_tool bulkload`). */
#include <dirent.h>
#include <pthread.h>
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
  snprintf(dbpath, sizeof dbpath, "/tmp/strata_loader_test_%d", (int)getpid());
  strata_destroy(dbpath, NULL);
  return 0;
}

static int teardown(void **state) {
  (void)state;
  strata_destroy(dbpath, NULL);
  return 0;
}

static strata_db *open_db(size_t max_file_size) {
  strata_options o;
  strata_options_init(&o);
  o.create_if_missing = 1;
  if (max_file_size) o.max_file_size = max_file_size;
  strata_db *db = NULL;
  if (strata_open(dbpath, &o, &db)) fail_msg("open: %s", strata_errmsg());
  return db;
}

/* The table files (.ldb) in the database directory, as a bitmap of their
 * numbers (below 4096: these tests make fewer files). */
typedef struct table_set {
  unsigned char has[4096];
} table_set;

static void list_tables(table_set *t) {
  memset(t, 0, sizeof *t);
  DIR *d = opendir(dbpath);
  assert_non_null(d);
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    size_t len = strlen(e->d_name);
    if (len > 4 && strcmp(e->d_name + len - 4, ".ldb") == 0) {
      long n = atol(e->d_name);
      assert_true(n >= 0 && n < 4096);
      t->has[n] = 1;
    }
  }
  closedir(d);
}

/* Table files present now that were not in *before. Obsolete tables are
 * deleted in the background, so files may vanish meanwhile; a loader's
 * files are new names, so a leftover one shows here. */
static int new_tables(const table_set *before) {
  table_set now;
  list_tables(&now);
  int n = 0;
  for (int i = 0; i < 4096; i++)
    n += now.has[i] && !before->has[i];
  return n;
}

static int level_files(strata_db *db, int level) {
  char name[64];
  snprintf(name, sizeof name, "leveldb.num-files-at-level%d", level);
  strata_buf b = STRATA_BUF_INIT;
  assert_int_equal(strata_property(db, name, &b), 0);
  int n = atoi(b.data);
  strata_buf_free(&b);
  return n;
}

static void key_of(int i, char *k) { snprintf(k, 17, "key%013d", i); }

static size_t value_of(int i, char *v) {
  size_t n = 20 + (size_t)(i % 80);
  for (size_t j = 0; j < n; j++)
    v[j] = (char)('a' + (i + (int)j) % 26);
  return n;
}

/* Loads keys [from, to) with step `step` and finishes; returns finish's code. */
static int load_range(strata_db *db, int from, int to, int step) {
  strata_loader *l = NULL;
  assert_int_equal(strata_loader_create(db, NULL, &l), 0);
  char k[17], v[128];
  for (int i = from; i < to; i += step) {
    key_of(i, k);
    size_t vl = value_of(i, v);
    if (strata_loader_add(l, k, 16, v, vl)) fail_msg("add %d: %s", i, strata_errmsg());
  }
  int rc = strata_loader_finish(l);
  strata_loader_destroy(l);
  return rc;
}

static void expect_loaded(strata_db *db, int i) {
  char k[17], v[128];
  key_of(i, k);
  size_t vl = value_of(i, v);
  strata_buf b = STRATA_BUF_INIT;
  int rc = strata_get(db, NULL, k, 16, &b);
  if (rc) fail_msg("get %s: %d %s", k, rc, strata_errmsg());
  assert_int_equal(b.size, vl);
  assert_memory_equal(b.data, v, vl);
  strata_buf_free(&b);
}

static void expect_absent(strata_db *db, const char *k) {
  strata_buf b = STRATA_BUF_INIT;
  assert_int_equal(strata_get(db, NULL, k, strlen(k), &b), STRATA_ENOTFOUND);
  strata_buf_free(&b);
}

/* A forward scan sees exactly keys from, from+step, ... < to, in order,
 * with their values. */
static void expect_scan(strata_db *db, int from, int to, int step) {
  strata_iter *it;
  assert_int_equal(strata_iter_create(db, NULL, &it), 0);
  int i = from;
  char k[17], v[128];
  for (strata_iter_seek_to_first(it); strata_iter_valid(it); strata_iter_next(it), i += step) {
    assert_true(i < to);
    key_of(i, k);
    size_t vl = value_of(i, v);
    size_t kl, gl;
    const char *gk = strata_iter_key(it, &kl);
    const char *gv = strata_iter_value(it, &gl);
    assert_int_equal(kl, 16);
    assert_memory_equal(gk, k, 16);
    assert_int_equal(gl, vl);
    assert_memory_equal(gv, v, vl);
  }
  assert_int_equal(strata_iter_status(it), 0);
  assert_true(i >= to);
  strata_iter_destroy(it);
}

/* --- argument and order checks ---------------------------------------- */

static void test_order_violations(void **state) {
  (void)state;
  strata_db *db = open_db(0);
  table_set before;
  list_tables(&before);
  for (int equal = 0; equal < 2; equal++) {
    strata_loader *l = NULL;
    assert_int_equal(strata_loader_create(db, NULL, &l), 0);
    assert_int_equal(strata_loader_add(l, "b", 1, "1", 1), 0);
    assert_int_equal(strata_loader_add(l, "c", 1, "2", 1), 0);
    assert_int_equal(strata_loader_add(l, equal ? "c" : "a", 1, "3", 1), STRATA_EINVAL);
    assert_non_null(strstr(strata_errmsg(), "not greater than the previous key"));
    /* Failed: only destroy is useful now. */
    assert_int_equal(strata_loader_add(l, "d", 1, "4", 1), STRATA_EMISUSE);
    assert_int_equal(strata_loader_finish(l), STRATA_EMISUSE);
    strata_loader_destroy(l);
  }
  /* Nothing was added, and the tables begun are gone. */
  expect_absent(db, "b");
  assert_int_equal(new_tables(&before), 0);
  assert_int_equal(strata_loader_create(NULL, NULL, NULL), STRATA_EMISUSE);
  assert_int_equal(strata_loader_add(NULL, "a", 1, "", 0), STRATA_EMISUSE);
  assert_int_equal(strata_loader_finish(NULL), STRATA_EMISUSE);
  strata_loader_destroy(NULL);
  strata_close(db);
}

static void test_reserved_keys(void **state) {
  (void)state;
  strata_db *db = open_db(0);
  strata_loader *l = NULL;
  assert_int_equal(strata_loader_create(db, NULL, &l), 0);
  const char reserved[] = STRATA_RESERVED_PREFIX "\0abc";
  assert_int_equal(strata_loader_add(l, reserved, STRATA_RESERVED_PREFIX_LEN + 3, "v", 1),
                   STRATA_EINVAL);
  assert_non_null(strstr(strata_errmsg(), "reserved"));
  assert_int_equal(strata_loader_finish(l), STRATA_EMISUSE);
  strata_loader_destroy(l);

  /* Keys on both sides of the reserved range are main-database keys: the
   * load cuts its table there, so no loaded table covers the range. */
  assert_int_equal(strata_loader_create(db, NULL, &l), 0);
  assert_int_equal(strata_loader_add(l, "\xfe", 1, "low", 3), 0);
  assert_int_equal(strata_loader_add(l, "\xff\xff", 2, "mid", 3), 0);
  assert_int_equal(strata_loader_add(l, "\xff\xffstrat", 7, "below", 5), 0);
  assert_int_equal(strata_loader_add(l, "\xff\xffstratb", 8, "above", 5), 0);
  assert_int_equal(strata_loader_add(l, "\xff\xff\xff", 3, "high", 4), 0);
  assert_int_equal(strata_loader_finish(l), 0);
  strata_loader_destroy(l);
  assert_int_equal(level_files(db, 6), 2);
  strata_buf b = STRATA_BUF_INIT;
  assert_int_equal(strata_get(db, NULL, "\xff\xff\xff", 3, &b), 0);
  assert_memory_equal(b.data, "high", 4);
  assert_int_equal(strata_get(db, NULL, "\xff\xffstrat", 7, &b), 0);
  assert_memory_equal(b.data, "below", 5);
  strata_buf_free(&b);
  strata_close(db);
}

static void test_empty_load(void **state) {
  (void)state;
  strata_db *db = open_db(0);
  table_set before;
  list_tables(&before);
  strata_loader *l = NULL;
  assert_int_equal(strata_loader_create(db, NULL, &l), 0);
  assert_int_equal(strata_loader_finish(l), 0);
  assert_int_equal(strata_loader_finish(l), STRATA_EMISUSE); /* finished */
  assert_int_equal(strata_loader_add(l, "a", 1, "", 0), STRATA_EMISUSE);
  strata_loader_destroy(l);
  assert_int_equal(new_tables(&before), 0);
  for (int lv = 0; lv < 7; lv++)
    assert_int_equal(level_files(db, lv), 0);
  strata_close(db);
}

/* --- the data ------------------------------------------------------------ */

static void test_split_load_readable(void **state) {
  (void)state;
  /* 16 KiB tables (the smallest max_file_size): 30000 entries of ~75 bytes
   * make a load of many tables. */
  strata_db *db = open_db(16 << 10);
  const int n = 30000;
  assert_int_equal(load_range(db, 0, n, 1), 0);
  int tables = level_files(db, 6);
  assert_true(tables >= 10);
  table_set loaded;
  list_tables(&loaded);
  for (int lv = 0; lv < 6; lv++)
    assert_int_equal(level_files(db, lv), 0);
  for (int i = 0; i < n; i += 7)
    expect_loaded(db, i);
  expect_loaded(db, n - 1);
  expect_absent(db, "key");
  expect_absent(db, "key99999999999999");
  expect_scan(db, 0, n, 1);

  /* Nothing for the background thread to do: still the same tables, all
   * at the last level, after it had time to act (an idle compaction needs
   * 50 ms without writes). */
  usleep(200 * 1000);
  assert_int_equal(level_files(db, 6), tables);
  table_set later;
  list_tables(&later);
  assert_memory_equal(&later, &loaded, sizeof later);

  /* A put of a loaded key is newer than the load; so is a delete. */
  assert_int_equal(strata_put(db, NULL, "key0000000000005", 16, "new", 3), 0);
  assert_int_equal(strata_delete(db, NULL, "key0000000000006", 16), 0);
  assert_int_equal(strata_compact_range(db, NULL, 0, NULL, 0), 0);
  strata_buf b = STRATA_BUF_INIT;
  assert_int_equal(strata_get(db, NULL, "key0000000000005", 16, &b), 0);
  assert_int_equal(b.size, 3);
  assert_memory_equal(b.data, "new", 3);
  strata_buf_free(&b);
  expect_absent(db, "key0000000000006");
  strata_close(db);

  /* After a reopen. */
  db = open_db(16 << 10);
  for (int i = 0; i < n; i += 13)
    if (i != 5 && i != 6) expect_loaded(db, i);
  expect_absent(db, "key0000000000006");
  strata_close(db);
}

/* The load's range must hold nothing: a table entry, a deletion marker, a
 * memtable entry each make finish fail, and nothing is added. Entries
 * outside the range do not. */
static void test_overlap_rejected(void **state) {
  (void)state;
  strata_db *db = open_db(0);
  char k[17];
  /* Keys 0 and 1000 in a table, below and above the loads. */
  key_of(0, k);
  assert_int_equal(strata_put(db, NULL, k, 16, "lo", 2), 0);
  key_of(1000, k);
  assert_int_equal(strata_put(db, NULL, k, 16, "hi", 2), 0);
  key_of(500, k);
  assert_int_equal(strata_put(db, NULL, k, 16, "mid", 3), 0);
  assert_int_equal(strata_compact_range(db, NULL, 0, NULL, 0), 0);
  table_set tables;
  list_tables(&tables);

  /* 1. A table entry (key 500) in [100, 900]. */
  assert_int_equal(load_range(db, 100, 901, 10), STRATA_EINVAL);
  assert_non_null(strstr(strata_errmsg(), "key0000000000500"));
  assert_int_equal(new_tables(&tables), 0);
  expect_absent(db, "key0000000000100");

  /* 2. A deletion marker: of key 500 (in the memtable), then of key 800,
   * which never existed, in a table (a snapshot older than the marker
   * keeps compaction from dropping it). */
  assert_int_equal(strata_delete(db, NULL, k, 16), 0);
  assert_int_equal(load_range(db, 100, 901, 10), STRATA_EINVAL);
  const strata_snapshot *snap = strata_snapshot_get(db);
  key_of(800, k);
  assert_int_equal(strata_delete(db, NULL, k, 16), 0);
  assert_int_equal(strata_compact_range(db, NULL, 0, NULL, 0), 0);
  list_tables(&tables);
  assert_int_equal(load_range(db, 700, 901, 1), STRATA_EINVAL);
  assert_non_null(strstr(strata_errmsg(), "key0000000000800"));
  assert_int_equal(new_tables(&tables), 0);
  expect_absent(db, "key0000000000700");
  strata_snapshot_release(db, snap);

  /* 3. A memtable entry in the range. */
  key_of(777, k);
  assert_int_equal(strata_put(db, NULL, k, 16, "x", 1), 0);
  assert_int_equal(load_range(db, 600, 801, 1), STRATA_EINVAL);
  assert_non_null(strstr(strata_errmsg(), "key0000000000777"));
  assert_int_equal(new_tables(&tables), 0);
  expect_absent(db, "key0000000000600");

  /* Ranges next to the existing keys are fine: [1, 499] and [1001, ...]. */
  assert_int_equal(load_range(db, 1, 500, 1), 0);
  assert_int_equal(load_range(db, 1001, 2000, 1), 0);
  expect_loaded(db, 1);
  expect_loaded(db, 499);
  expect_loaded(db, 1999);
  strata_buf b = STRATA_BUF_INIT;
  assert_int_equal(strata_get(db, NULL, "key0000000000000", 16, &b), 0);
  assert_memory_equal(b.data, "lo", 2);
  assert_int_equal(strata_get(db, NULL, "key0000000001000", 16, &b), 0);
  assert_memory_equal(b.data, "hi", 2);
  strata_buf_free(&b);
  expect_absent(db, "key0000000000500");
  /* A second load over what the first one loaded fails too. */
  assert_int_equal(load_range(db, 1500, 1600, 1), STRATA_EINVAL);
  strata_close(db);
}

static void test_destroy_without_finish(void **state) {
  (void)state;
  strata_db *db = open_db(16 << 10);
  assert_int_equal(strata_put(db, NULL, "a", 1, "b", 1), 0);
  assert_int_equal(strata_compact_range(db, NULL, 0, NULL, 0), 0);
  table_set before;
  list_tables(&before);
  strata_loader *l = NULL;
  assert_int_equal(strata_loader_create(db, NULL, &l), 0);
  char k[17], v[128];
  for (int i = 0; i < 5000; i++) {
    key_of(i, k);
    assert_int_equal(strata_loader_add(l, k, 16, v, value_of(i, v)), 0);
  }
  strata_loader_destroy(l);
  assert_int_equal(new_tables(&before), 0);
  expect_absent(db, "key0000000000000");
  strata_close(db);
  db = open_db(16 << 10);
  assert_int_equal(new_tables(&before), 0);
  strata_close(db);
}

/* Writers keep writing other keys while a load runs; the data of both is
 * there after. An iterator made before finish does not see the load. */
typedef struct writer_arg {
  strata_db *db;
  int n;
} writer_arg;

static void *writer(void *p) {
  writer_arg *a = p;
  char k[32];
  for (int i = 0; i < a->n; i++) {
    snprintf(k, sizeof k, "w%08d", i);
    if (strata_put(a->db, NULL, k, strlen(k), k, strlen(k))) fail_msg("put: %s", strata_errmsg());
  }
  return NULL;
}

static void test_load_while_writing(void **state) {
  (void)state;
  strata_options o;
  strata_options_init(&o);
  o.create_if_missing = 1;
  o.write_buffer_size = 64 << 10; /* flushes and compactions during the load */
  o.max_file_size = 64 << 10;
  strata_db *db = NULL;
  assert_int_equal(strata_open(dbpath, &o, &db), 0);
  writer_arg a = {db, 20000};
  pthread_t t;
  assert_int_equal(pthread_create(&t, NULL, writer, &a), 0);
  strata_iter *before;
  assert_int_equal(strata_iter_create(db, NULL, &before), 0);
  assert_int_equal(load_range(db, 0, 20000, 1), 0);
  pthread_join(t, NULL);
  strata_iter_seek(before, "key", 3);
  assert_true(!strata_iter_valid(before) ||
              memcmp(strata_iter_key(before, &(size_t){0}), "key", 3));
  strata_iter_destroy(before);
  for (int i = 0; i < 20000; i += 11)
    expect_loaded(db, i);
  strata_buf b = STRATA_BUF_INIT;
  char k[32];
  for (int i = 0; i < 20000; i += 97) {
    snprintf(k, sizeof k, "w%08d", i);
    assert_int_equal(strata_get(db, NULL, k, strlen(k), &b), 0);
  }
  strata_buf_free(&b);
  strata_close(db);
}

static void test_read_only_handle(void **state) {
  (void)state;
  strata_db *db = open_db(0);
  strata_close(db);
  strata_options o;
  strata_options_init(&o);
  o.read_only = 1;
  assert_int_equal(strata_open(dbpath, &o, &db), 0);
  strata_loader *l = (strata_loader *)&o; /* must be reset to NULL */
  assert_int_equal(strata_loader_create(db, NULL, &l), STRATA_EINVAL);
  assert_null(l);
  assert_non_null(strstr(strata_errmsg(), "read-only"));
  strata_close(db);
}

/* Failures while building: a table file that cannot be created (seen by
 * a later add or by finish), and no thread to build with. Either way the
 * loader fails, nothing is added and destroy leaves no file. */
static strata_env *real_env;
static int fail_tables_after = -1; /* table files allowed before failing; -1: never */
static int fail_threads;

static int failing_new_wfile(strata_env *env, const char *path, strata_wfile **out) {
  (void)env;
  size_t n = strlen(path);
  if (n > 4 && strcmp(path + n - 4, ".ldb") == 0 && fail_tables_after >= 0 &&
      fail_tables_after-- == 0)
    return strata_error_set(STRATA_EIO, "open %s: injected failure", path);
  return real_env->new_wfile(real_env, path, out);
}

static int failing_thread_create(strata_env *env, void (*fn)(void *), void *arg,
                                 strata_thread **out) {
  (void)env;
  if (fail_threads) return strata_error_set(STRATA_EIO, "injected: no threads");
  return real_env->thread_create(real_env, fn, arg, out);
}

static void test_build_failures(void **state) {
  (void)state;
  real_env = strata_env_default();
  strata_env env = *real_env;
  env.new_wfile = failing_new_wfile;
  env.thread_create = failing_thread_create;
  strata_options o;
  strata_options_init(&o);
  o.create_if_missing = 1;
  o.max_file_size = 16 << 10;
  o.env = &env;
  strata_db *db = NULL;
  assert_int_equal(strata_open(dbpath, &o, &db), 0);
  table_set before;
  list_tables(&before);
  char k[17], v[128];
  for (int variant = 0; variant < 2; variant++) {
    fail_tables_after = variant == 0 ? 2 : -1;
    fail_threads = variant == 1;
    strata_loader *l = NULL;
    assert_int_equal(strata_loader_create(db, NULL, &l), 0);
    int rc = 0;
    for (int i = 0; i < 5000 && rc == 0; i++) {
      key_of(i, k);
      rc = strata_loader_add(l, k, 16, v, value_of(i, v));
    }
    if (rc == 0) rc = strata_loader_finish(l);
    assert_int_equal(rc, STRATA_EIO);
    if (!strstr(strata_errmsg(), "injected")) fail_msg("variant %d: %s", variant, strata_errmsg());
    assert_int_equal(strata_loader_finish(l), STRATA_EMISUSE);
    strata_loader_destroy(l);
    assert_int_equal(new_tables(&before), 0);
    expect_absent(db, "key0000000000000");
  }
  fail_tables_after = -1;
  fail_threads = 0;
  /* The database is fine: a load now works. */
  assert_int_equal(load_range(db, 0, 100, 1), 0);
  expect_loaded(db, 99);
  strata_close(db);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_order_violations, setup, teardown),
      cmocka_unit_test_setup_teardown(test_reserved_keys, setup, teardown),
      cmocka_unit_test_setup_teardown(test_empty_load, setup, teardown),
      cmocka_unit_test_setup_teardown(test_split_load_readable, setup, teardown),
      cmocka_unit_test_setup_teardown(test_overlap_rejected, setup, teardown),
      cmocka_unit_test_setup_teardown(test_destroy_without_finish, setup, teardown),
      cmocka_unit_test_setup_teardown(test_load_while_writing, setup, teardown),
      cmocka_unit_test_setup_teardown(test_read_only_handle, setup, teardown),
      cmocka_unit_test_setup_teardown(test_build_failures, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
