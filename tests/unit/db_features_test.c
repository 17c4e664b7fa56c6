/* db_features_test.c - options and objects of strata.h beyond plain reads
 * and writes: custom comparators (and the name check at open), post-write
 * snapshots, reuse_logs, a user info logger, a shared block cache,
 * fill_cache, an env supplied by the user, a close during a compaction's
 * MANIFEST write. */
#include <semaphore.h>
#include <setjmp.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "strata.h"

static char dbpath[256];

static int setup(void **state) {
  (void)state;
  snprintf(dbpath, sizeof dbpath, "/tmp/strata_features_test_%d", (int)getpid());
  strata_destroy(dbpath, NULL);
  return 0;
}

static int teardown(void **state) {
  (void)state;
  strata_destroy(dbpath, NULL);
  return 0;
}

static void put(strata_db *db, const char *k, const char *v) {
  if (strata_put(db, NULL, k, strlen(k), v, strlen(v))) fail_msg("put %s: %s", k, strata_errmsg());
}

/* --- comparator ------------------------------------------------------- */

static int destroyed;

static int reverse_cmp(void *state, const char *a, size_t alen, const char *b, size_t blen) {
  (void)state;
  size_t n = alen < blen ? alen : blen;
  int r = memcmp(a, b, n);
  if (r == 0) r = alen < blen ? -1 : (alen > blen);
  return -r;
}

static void count_destroy(void *state) { (*(int *)state)++; }

static void test_reverse_comparator(void **state) {
  (void)state;
  strata_comparator *cmp = NULL;
  destroyed = 0;
  assert_int_equal(
      strata_comparator_create("test.Reverse", &destroyed, reverse_cmp, count_destroy, &cmp), 0);
  strata_options o;
  strata_options_init(&o);
  o.create_if_missing = 1;
  o.comparator = cmp;
  o.write_buffer_size = 32 << 10; /* force tables so their order is checked too */
  strata_db *db = NULL;
  assert_int_equal(strata_open(dbpath, &o, &db), 0);
  char k[16], v[64];
  for (int i = 0; i < 3000; i++) {
    snprintf(k, sizeof k, "%06d", i);
    snprintf(v, sizeof v, "v%d", i);
    put(db, k, v);
  }
  assert_int_equal(strata_compact_range(db, NULL, 0, NULL, 0), 0);
  strata_close(db);
  assert_int_equal(strata_open(dbpath, &o, &db), 0);
  strata_iter *it;
  assert_int_equal(strata_iter_create(db, NULL, &it), 0);
  int expect = 2999;
  for (strata_iter_seek_to_first(it); strata_iter_valid(it); strata_iter_next(it)) {
    size_t kl;
    const char *kk = strata_iter_key(it, &kl);
    snprintf(k, sizeof k, "%06d", expect);
    if (kl != 6 || memcmp(kk, k, 6)) fail_msg("expected %s got %.*s", k, (int)kl, kk);
    expect--;
  }
  assert_int_equal(expect, -1);
  /* Seek finds the first key >= target in the comparator's order. */
  strata_iter_seek(it, "001500x", 7);
  assert_true(strata_iter_valid(it));
  size_t kl;
  assert_memory_equal(strata_iter_key(it, &kl), "001500", 6);
  strata_iter_destroy(it);
  strata_buf b = STRATA_BUF_INIT;
  assert_int_equal(strata_get(db, NULL, "000042", 6, &b), 0);
  assert_memory_equal(b.data, "v42", 3);
  strata_buf_free(&b);
  strata_close(db);

  /* Opening with another comparator fails and names both. */
  strata_options o2;
  strata_options_init(&o2);
  strata_db *db2 = NULL;
  assert_int_equal(strata_open(dbpath, &o2, &db2), STRATA_EINVAL);
  assert_non_null(strstr(strata_errmsg(), "test.Reverse"));
  assert_non_null(strstr(strata_errmsg(), "leveldb.BytewiseComparator"));
  strata_comparator_destroy(cmp);
  assert_int_equal(destroyed, 1);
}

/* --- post-write snapshots --------------------------------------------- */

static void test_post_write_snapshot(void **state) {
  (void)state;
  strata_options o;
  strata_options_init(&o);
  o.create_if_missing = 1;
  strata_db *db = NULL;
  assert_int_equal(strata_open(dbpath, &o, &db), 0);
  put(db, "a", "1");
  strata_write_options wo;
  strata_write_options_init(&wo);
  const strata_snapshot *snap = NULL;
  wo.post_write_snapshot = &snap;
  assert_int_equal(strata_put(db, &wo, "b", 1, "2", 1), 0);
  assert_non_null(snap);
  put(db, "a", "changed");
  put(db, "c", "3");
  strata_read_options ro;
  strata_read_options_init(&ro);
  ro.snapshot = snap;
  strata_buf v = STRATA_BUF_INIT;
  assert_int_equal(strata_get(db, &ro, "a", 1, &v), 0);
  assert_memory_equal(v.data, "1", 1);
  assert_int_equal(strata_get(db, &ro, "b", 1, &v), 0); /* its own write is in */
  assert_int_equal(strata_get(db, &ro, "c", 1, &v), STRATA_ENOTFOUND);
  strata_snapshot_release(db, snap);

  /* The same through a batch, which hands back the state after all of it. */
  strata_batch *bt;
  assert_int_equal(strata_batch_create(&bt), 0);
  strata_batch_put(bt, "x", 1, "10", 2);
  strata_batch_delete(bt, "a", 1);
  snap = NULL;
  assert_int_equal(strata_write(db, &wo, bt), 0);
  assert_non_null(snap);
  put(db, "x", "later");
  ro.snapshot = snap;
  assert_int_equal(strata_get(db, &ro, "x", 1, &v), 0);
  assert_memory_equal(v.data, "10", 2);
  assert_int_equal(strata_get(db, &ro, "a", 1, &v), STRATA_ENOTFOUND);
  strata_snapshot_release(db, snap);
  strata_batch_destroy(bt);
  strata_buf_free(&v);
  strata_close(db);
}

/* --- reuse_logs ----------------------------------------------------- */

static int count_files(const char *suffix) {
  char cmd[512];
  snprintf(cmd, sizeof cmd, "ls %s | grep -c '%s$'", dbpath, suffix);
  FILE *p = popen(cmd, "r");
  int n = 0;
  if (fscanf(p, "%d", &n) != 1) n = -1;
  pclose(p);
  return n;
}

static void test_reuse_logs(void **state) {
  (void)state;
  strata_options o;
  strata_options_init(&o);
  o.create_if_missing = 1;
  o.reuse_logs = 1;
  strata_db *db = NULL;
  assert_int_equal(strata_open(dbpath, &o, &db), 0);
  put(db, "k1", "v1");
  strata_close(db);
  for (int round = 2; round <= 4; round++) {
    assert_int_equal(strata_open(dbpath, &o, &db), 0);
    char k[8], v[8];
    snprintf(k, sizeof k, "k%d", round);
    snprintf(v, sizeof v, "v%d", round);
    put(db, k, v);
    strata_close(db);
  }
  /* Writes stayed in the one reused log: no table was written. */
  assert_int_equal(count_files(".ldb"), 0);
  assert_int_equal(count_files(".log"), 1);
  o.reuse_logs = 0;
  assert_int_equal(strata_open(dbpath, &o, &db), 0);
  strata_buf v = STRATA_BUF_INIT;
  for (int i = 1; i <= 4; i++) {
    char k[8], e[8];
    snprintf(k, sizeof k, "k%d", i);
    snprintf(e, sizeof e, "v%d", i);
    assert_int_equal(strata_get(db, NULL, k, strlen(k), &v), 0);
    assert_memory_equal(v.data, e, 2);
  }
  strata_buf_free(&v);
  strata_close(db);
  /* Without reuse the log was flushed to a table at that open. */
  assert_int_equal(count_files(".ldb"), 1);
}

/* --- logger, cache, env ----------------------------------------------- */

typedef struct log_capture {
  int lines;
  int saw_open;
} log_capture;

static void capture(void *state, const char *line) {
  log_capture *c = state;
  c->lines++;
  if (strstr(line, "opening")) c->saw_open = 1;
  assert_null(strchr(line, '\n'));
}

typedef struct counting_env {
  strata_env env;
  strata_env *base;
  int wfiles;
} counting_env;

static int counting_new_wfile(strata_env *env, const char *path, strata_wfile **out) {
  counting_env *ce = (counting_env *)env;
  ce->wfiles++;
  return ce->base->new_wfile(ce->base, path, out);
}

static void test_logger_cache_env(void **state) {
  (void)state;
  log_capture cap = {0, 0};
  strata_logger *lg = NULL;
  assert_int_equal(strata_logger_create(&cap, capture, NULL, &lg), 0);
  strata_cache *cache = NULL;
  assert_int_equal(strata_cache_create_lru(1 << 20, &cache), 0);
  counting_env ce;
  ce.base = strata_env_default();
  ce.env = *ce.base;
  ce.env.new_wfile = counting_new_wfile;
  ce.wfiles = 0;

  strata_options o;
  strata_options_init(&o);
  o.create_if_missing = 1;
  o.info_log = lg;
  o.block_cache = cache;
  o.env = &ce.env;
  o.compression = STRATA_COMPRESSION_SNAPPY;
  strata_db *db = NULL;
  assert_int_equal(strata_open(dbpath, &o, &db), 0);
  assert_true(cap.saw_open);
  assert_true(ce.wfiles > 0); /* the MANIFEST and log went through our env */
  char k[16], v[200];
  memset(v, 'x', sizeof v);
  for (int i = 0; i < 5000; i++) {
    snprintf(k, sizeof k, "key%06d", i);
    assert_int_equal(strata_put(db, NULL, k, strlen(k), v, sizeof v), 0);
  }
  assert_int_equal(strata_compact_range(db, NULL, 0, NULL, 0), 0);
  /* A read with fill_cache off leaves the (empty) cache empty. */
  size_t before = strata_cache_usage(cache);
  strata_read_options ro;
  strata_read_options_init(&ro);
  ro.fill_cache = 0;
  strata_buf b = STRATA_BUF_INIT;
  assert_int_equal(strata_get(db, &ro, "key000100", 9, &b), 0);
  assert_int_equal(strata_cache_usage(cache), before);
  /* With fill_cache the block lands in the shared cache (compressed blocks
   * are cached uncompressed). */
  ro.fill_cache = 1;
  assert_int_equal(strata_get(db, &ro, "key000100", 9, &b), 0);
  assert_true(strata_cache_usage(cache) > before);
  strata_buf_free(&b);
  strata_close(db);
  assert_true(cap.lines > 3);
  /* No LOG file when a logger is given. */
  char p[300];
  snprintf(p, sizeof p, "%s/LOG", dbpath);
  assert_int_not_equal(access(p, F_OK), 0);
  strata_cache_destroy(cache);
  strata_logger_destroy(lg);
}

/* --- a failed sync is sticky ------------------------------------------ */

typedef struct faulty_file {
  strata_wfile base;
  strata_wfile *inner;
} faulty_file;

static int fail_syncs; /* while set, every sync of a file fails */

static int ff_append(strata_wfile *f, const char *d, size_t n) {
  faulty_file *ff = (faulty_file *)f;
  return ff->inner->append(ff->inner, d, n);
}
static int ff_flush(strata_wfile *f) {
  faulty_file *ff = (faulty_file *)f;
  return ff->inner->flush(ff->inner);
}
static int ff_sync(strata_wfile *f) {
  faulty_file *ff = (faulty_file *)f;
  if (fail_syncs) return strata_error_set(STRATA_EIO, "injected fdatasync failure");
  return ff->inner->sync(ff->inner);
}
static int ff_close(strata_wfile *f) {
  faulty_file *ff = (faulty_file *)f;
  int rc = ff->inner->close(ff->inner);
  free(ff);
  return rc;
}
static int faulty_new_wfile(strata_env *env, const char *path, strata_wfile **out) {
  (void)env;
  strata_env *base = strata_env_default();
  strata_wfile *inner = NULL;
  int rc = base->new_wfile(base, path, &inner);
  if (rc) return rc;
  faulty_file *ff = malloc(sizeof *ff);
  ff->base.append = ff_append;
  ff->base.flush = ff_flush;
  ff->base.sync = ff_sync;
  ff->base.close = ff_close;
  ff->inner = inner;
  *out = &ff->base;
  return 0;
}

static void test_failed_sync_is_sticky(void **state) {
  (void)state;
  strata_env env = *strata_env_default();
  env.new_wfile = faulty_new_wfile;
  strata_options o;
  strata_options_init(&o);
  o.create_if_missing = 1;
  o.env = &env;
  strata_db *db = NULL;
  fail_syncs = 0;
  assert_int_equal(strata_open(dbpath, &o, &db), 0);
  strata_write_options wo;
  strata_write_options_init(&wo);
  wo.sync = 1;
  assert_int_equal(strata_put(db, &wo, "before", 6, "1", 1), 0);
  fail_syncs = 1;
  assert_int_equal(strata_put(db, &wo, "failed", 6, "2", 1), STRATA_EIO);
  assert_non_null(strstr(strata_errmsg(), "injected"));
  fail_syncs = 0;
  /* The failure is permanent for this handle: no later write is reported
   * as done, sync or not, even though the disk works again. */
  assert_int_equal(strata_put(db, NULL, "after", 5, "3", 1), STRATA_EIO);
  assert_int_equal(strata_put(db, &wo, "after", 5, "3", 1), STRATA_EIO);
  assert_int_equal(strata_delete(db, NULL, "before", 6), STRATA_EIO);
  /* Reads still work. */
  strata_buf v = STRATA_BUF_INIT;
  assert_int_equal(strata_get(db, NULL, "before", 6, &v), 0);
  strata_close(db);
  /* A new handle recovers from the log: what was acknowledged is there,
   * and nothing refused after the failure is. */
  assert_int_equal(strata_open(dbpath, &o, &db), 0);
  assert_int_equal(strata_get(db, NULL, "before", 6, &v), 0);
  assert_int_equal(strata_get(db, NULL, "after", 5, &v), STRATA_ENOTFOUND);
  assert_int_equal(strata_put(db, &wo, "after", 5, "3", 1), 0);
  strata_buf_free(&v);
  strata_close(db);
}

/* --- a close during a compaction's install ---------------------------- */

/* The MANIFEST record of a compaction is written with the database mutex
 * released. A close that arrives then must not keep the compaction's
 * inputs on disk once the record is written: a later repair would take
 * those leftover tables for live ones. The env below holds the first
 * MANIFEST sync after a compaction has started (the logger's "compacting"
 * line) until the test has begun to close the database. */

static atomic_int compaction_started, hook_fired, close_started;
static sem_t in_install;

static void watch_compactions(void *state, const char *line) {
  (void)state;
  if (strstr(line, " compacting ")) atomic_store(&compaction_started, 1);
}

static int hold_sync(strata_wfile *f) {
  faulty_file *ff = (faulty_file *)f;
  if (atomic_load(&compaction_started) && !atomic_exchange(&hook_fired, 1)) {
    sem_post(&in_install);
    for (int i = 0; i < 1000 && !atomic_load(&close_started); i++)
      usleep(2000);
    usleep(100000); /* strata_close sets its flag meanwhile */
  }
  return ff->inner->sync(ff->inner);
}

static int holding_new_wfile(strata_env *env, const char *path, strata_wfile **out) {
  int rc = faulty_new_wfile(env, path, out);
  if (!rc && strstr(path, "/MANIFEST-")) (*out)->sync = hold_sync;
  return rc;
}

static void test_close_during_compaction_install(void **state) {
  (void)state;
  atomic_store(&compaction_started, 0);
  atomic_store(&hook_fired, 0);
  atomic_store(&close_started, 0);
  fail_syncs = 0;
  assert_int_equal(sem_init(&in_install, 0, 0), 0);
  strata_logger *lg = NULL;
  assert_int_equal(strata_logger_create(NULL, watch_compactions, NULL, &lg), 0);
  strata_env env = *strata_env_default();
  env.new_wfile = holding_new_wfile;
  strata_options o;
  strata_options_init(&o);
  o.create_if_missing = 1;
  o.env = &env;
  o.info_log = lg;
  o.write_buffer_size = 64 << 10;
  o.compression = STRATA_COMPRESSION_NONE;
  strata_db *db = NULL;
  assert_int_equal(strata_open(dbpath, &o, &db), 0);
  /* About three memtables: two or three level-0 tables, which the idle
   * compaction merges into level 1 once the writes stop. */
  char k[16], v[200];
  memset(v, 'v', sizeof v);
  for (int i = 0; i < 900; i++) {
    snprintf(k, sizeof k, "key%06d", (i * 7919) % 900);
    assert_int_equal(strata_put(db, NULL, k, strlen(k), v, sizeof v), 0);
  }
  struct timespec until;
  clock_gettime(CLOCK_REALTIME, &until);
  until.tv_sec += 20;
  if (sem_timedwait(&in_install, &until) != 0) fail_msg("no compaction reached its install");
  atomic_store(&close_started, 1);
  strata_close(db);
  int on_disk = count_files(".ldb");

  /* Every table left on disk is one the database still uses. (With
   * reuse_logs the open keeps the unflushed writes in their log rather
   * than in a new table, so the open adds no table to count.) */
  strata_options plain;
  strata_options_init(&plain);
  plain.reuse_logs = 1;
  assert_int_equal(strata_open(dbpath, &plain, &db), 0);
  strata_buf b = STRATA_BUF_INIT;
  int live = 0;
  for (int level = 0; level < 7; level++) {
    char name[64];
    snprintf(name, sizeof name, "leveldb.num-files-at-level%d", level);
    assert_int_equal(strata_property(db, name, &b), 0);
    live += atoi(b.data);
  }
  assert_true(live > 0);
  assert_int_equal(on_disk, live);
  for (int i = 0; i < 900; i++) {
    snprintf(k, sizeof k, "key%06d", i);
    assert_int_equal(strata_get(db, NULL, k, strlen(k), &b), 0);
    assert_int_equal(b.size, sizeof v);
  }
  strata_buf_free(&b);
  strata_close(db);
  strata_logger_destroy(lg);
  sem_destroy(&in_install);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_reverse_comparator, setup, teardown),
      cmocka_unit_test_setup_teardown(test_post_write_snapshot, setup, teardown),
      cmocka_unit_test_setup_teardown(test_reuse_logs, setup, teardown),
      cmocka_unit_test_setup_teardown(test_logger_cache_env, setup, teardown),
      cmocka_unit_test_setup_teardown(test_failed_sync_is_sticky, setup, teardown),
      cmocka_unit_test_setup_teardown(test_close_during_compaction_install, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
