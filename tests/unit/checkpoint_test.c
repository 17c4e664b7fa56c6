/* checkpoint_test.c - strata_checkpoint on one thread: argument checks,
 * the link path (tables hard-linked, nothing else shared), the copy path
 * (an env without link_file, and one whose link says STRATA_ENOTSUP), the
 * in-memory env, the copy's contents (memtable overwrites and deletions
 * over tables, nothing written after the call), independence of source and
 * copy afterwards, and cleanup when a step fails. Checkpoints taken while
 * writers run, read by LevelDB 1.23, and processes killed mid-checkpoint
 * are in tests/suites/checkpoint_live_test.c. */
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "strata.h"

static char base[256], src[300], dst[300];

static void remove_dir(const char *dir) {
  DIR *d = opendir(dir);
  if (!d) return;
  struct dirent *e;
  char path[600];
  while ((e = readdir(d)) != NULL) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    struct stat st;
    if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode))
      remove_dir(path);
    else
      unlink(path);
  }
  closedir(d);
  rmdir(dir);
}

static int setup(void **state) {
  (void)state;
  snprintf(base, sizeof base, "/tmp/strata_checkpoint_test_%d", (int)getpid());
  remove_dir(base);
  assert_int_equal(mkdir(base, 0755), 0);
  snprintf(src, sizeof src, "%s/src", base);
  snprintf(dst, sizeof dst, "%s/ckpt", base);
  return 0;
}

static int teardown(void **state) {
  (void)state;
  remove_dir(base);
  return 0;
}

static strata_db *open_at(const char *path, strata_env *env) {
  strata_options o;
  strata_options_init(&o);
  o.create_if_missing = 1;
  o.write_buffer_size = 32 << 10;
  o.max_file_size = 32 << 10;
  o.env = env;
  strata_db *db = NULL;
  int rc = strata_open(path, &o, &db);
  if (rc) fail_msg("open %s: %s", path, strata_errmsg());
  return db;
}

static void put_i(strata_db *db, int i, int version) {
  char k[32], v[64];
  snprintf(k, sizeof k, "k%06d", i);
  snprintf(v, sizeof v, "value %d of k%06d", version, i);
  if (strata_put(db, NULL, k, strlen(k), v, strlen(v))) fail_msg("put: %s", strata_errmsg());
}

static void del_i(strata_db *db, int i) {
  char k[32];
  snprintf(k, sizeof k, "k%06d", i);
  if (strata_delete(db, NULL, k, strlen(k))) fail_msg("delete: %s", strata_errmsg());
}

/* A database with tables on several levels, then overwrites and deletions
 * of table keys left in the memtable. Key i holds "value <version>"; the
 * expected versions are in want[] (-1: absent). */
#define NKEYS 4000
static int want[NKEYS];

static void fill(strata_db *db) {
  for (int i = 0; i < NKEYS; i++) {
    put_i(db, i, 0);
    want[i] = 0;
  }
  assert_int_equal(strata_compact_range(db, NULL, 0, NULL, 0), 0);
  for (int i = 0; i < NKEYS; i += 3) {
    put_i(db, i, 1);
    want[i] = 1;
  }
  /* Left in the memtable (32 KiB buffer: the last few hundred writes). */
  for (int i = 0; i < NKEYS; i += 50) {
    put_i(db, i, 2);
    put_i(db, i, 3);
    want[i] = 3;
  }
  for (int i = 7; i < NKEYS; i += 100) {
    del_i(db, i);
    want[i] = -1;
  }
}

/* The database holds exactly want[]: a scan and gets. */
static void expect_contents(strata_db *db) {
  strata_iter *it;
  assert_int_equal(strata_iter_create(db, NULL, &it), 0);
  strata_iter_seek_to_first(it);
  char k[32], v[64];
  for (int i = 0; i < NKEYS; i++) {
    if (want[i] < 0) continue;
    assert_true(strata_iter_valid(it));
    snprintf(k, sizeof k, "k%06d", i);
    snprintf(v, sizeof v, "value %d of k%06d", want[i], i);
    size_t kl, vl;
    const char *gk = strata_iter_key(it, &kl);
    const char *gv = strata_iter_value(it, &vl);
    if (kl != strlen(k) || memcmp(gk, k, kl)) fail_msg("scan: key %.*s, want %s", (int)kl, gk, k);
    if (vl != strlen(v) || memcmp(gv, v, vl))
      fail_msg("scan: %s = %.*s, want %s", k, (int)vl, gv, v);
    strata_iter_next(it);
  }
  assert_false(strata_iter_valid(it));
  assert_int_equal(strata_iter_status(it), 0);
  strata_iter_destroy(it);
  strata_buf b = STRATA_BUF_INIT;
  for (int i = 0; i < NKEYS; i += 7) {
    snprintf(k, sizeof k, "k%06d", i);
    int rc = strata_get(db, NULL, k, strlen(k), &b);
    if (want[i] < 0) {
      assert_int_equal(rc, STRATA_ENOTFOUND);
    } else {
      assert_int_equal(rc, 0);
      snprintf(v, sizeof v, "value %d of k%06d", want[i], i);
      assert_int_equal(b.size, strlen(v));
      assert_memory_equal(b.data, v, b.size);
    }
  }
  strata_buf_free(&b);
}

typedef struct dir_info {
  int tables, logs, manifests, current, lock, linked; /* linked: tables with st_nlink > 1 */
} dir_info;

static dir_info inspect(const char *dir) {
  dir_info di = {0};
  DIR *d = opendir(dir);
  assert_non_null(d);
  struct dirent *e;
  char path[600];
  while ((e = readdir(d)) != NULL) {
    const char *n = e->d_name;
    size_t len = strlen(n);
    snprintf(path, sizeof path, "%s/%s", dir, n);
    if (len > 4 && strcmp(n + len - 4, ".ldb") == 0) {
      di.tables++;
      struct stat st;
      assert_int_equal(stat(path, &st), 0);
      if (st.st_nlink > 1) di.linked++;
    } else if (len > 4 && strcmp(n + len - 4, ".log") == 0) {
      di.logs++;
    } else if (strncmp(n, "MANIFEST-", 9) == 0) {
      di.manifests++;
    } else if (strcmp(n, "CURRENT") == 0) {
      di.current++;
    } else if (strcmp(n, "LOCK") == 0) {
      di.lock++;
    }
  }
  closedir(d);
  return di;
}

/* --- tests ---------------------------------------------------------------- */

static void test_arguments(void **state) {
  (void)state;
  strata_db *db = open_at(src, NULL);
  put_i(db, 1, 0);
  assert_int_equal(strata_checkpoint(NULL, dst), STRATA_EMISUSE);
  assert_int_equal(strata_checkpoint(db, NULL), STRATA_EMISUSE);
  assert_int_equal(strata_checkpoint(db, ""), STRATA_EINVAL);
  /* The destination exists: a directory (even empty), a file, the source. */
  assert_int_equal(mkdir(dst, 0755), 0);
  assert_int_equal(strata_checkpoint(db, dst), STRATA_EINVAL);
  assert_non_null(strstr(strata_errmsg(), "exists"));
  assert_int_equal(rmdir(dst), 0);
  FILE *f = fopen(dst, "w");
  assert_non_null(f);
  fclose(f);
  assert_int_equal(strata_checkpoint(db, dst), STRATA_EINVAL);
  unlink(dst);
  assert_int_equal(strata_checkpoint(db, src), STRATA_EINVAL);
  /* A missing parent: an error, nothing made. */
  char deep[400];
  snprintf(deep, sizeof deep, "%s/no/such/dir", base);
  assert_int_equal(strata_checkpoint(db, deep), STRATA_ENOTFOUND);
  snprintf(deep, sizeof deep, "%s/no", base);
  struct stat st;
  assert_int_equal(stat(deep, &st), -1);
  strata_close(db);
}

/* A read-only handle checkpoints its own state, beside a writer that has
 * since overwritten and compacted away every table of that state. */
static void test_read_only_handle(void **state) {
  (void)state;
  strata_db *w = open_at(src, NULL);
  fill(w);
  assert_int_equal(strata_compact_range(w, NULL, 0, NULL, 0), 0);
  strata_options o;
  strata_options_init(&o);
  o.read_only = 1;
  strata_db *ro = NULL;
  assert_int_equal(strata_open(src, &o, &ro), 0);
  /* The tables of the handle's state, to check below that they are gone. */
  char seen[64][32];
  int nseen = 0;
  DIR *d = opendir(src);
  for (struct dirent *e; d && (e = readdir(d)) != NULL && nseen < 64;)
    if (strstr(e->d_name, ".ldb") && strlen(e->d_name) < sizeof seen[0])
      memcpy(seen[nseen++], e->d_name, strlen(e->d_name) + 1);
  if (d) closedir(d);
  assert_true(nseen > 0);
  /* The state the handle sees: a key of fill(), and one in the log only. */
  assert_int_equal(strata_put(w, NULL, "in-log", 6, "1", 1), 0);
  assert_int_equal(strata_catch_up(ro), 0);
  strata_buf before = STRATA_BUF_INIT;
  assert_int_equal(strata_get(ro, NULL, "k000100", 7, &before), 0);
  /* The writer moves on: every old table replaced and deleted. */
  char k[32];
  for (int i = 0; i < 3000; i++) {
    int n = snprintf(k, sizeof k, "k%06d", i);
    assert_int_equal(strata_put(w, NULL, k, (size_t)n, "new", 3), 0);
  }
  assert_int_equal(strata_compact_range(w, NULL, 0, NULL, 0), 0);
  int gone = 0;
  for (int i = 0; i < nseen; i++) {
    char path[sizeof src + sizeof seen[0] + 1];
    snprintf(path, sizeof path, "%s/%.31s", src, seen[i]);
    struct stat st;
    gone += stat(path, &st) != 0;
  }
  assert_true(gone > 0); /* those are copied from the files the handle keeps open */
  assert_int_equal(strata_checkpoint(ro, dst), 0);
  strata_close(ro);
  strata_close(w);
  strata_db *copy = open_at(dst, NULL);
  strata_buf v = STRATA_BUF_INIT;
  assert_int_equal(strata_get(copy, NULL, "k000100", 7, &v), 0);
  assert_int_equal(v.size, before.size);
  assert_memory_equal(v.data, before.data, v.size); /* the old value, not "new" */
  assert_int_equal(strata_get(copy, NULL, "in-log", 6, &v), 0);
  strata_buf_free(&v);
  strata_buf_free(&before);
  strata_close(copy);
}

/* Same file system: tables linked; the copy has a MANIFEST and CURRENT of
 * its own and no log; source and copy then change independently. */
static void test_link_path(void **state) {
  (void)state;
  strata_db *db = open_at(src, NULL);
  fill(db);
  assert_int_equal(strata_checkpoint(db, dst), 0);
  dir_info di = inspect(dst);
  assert_int_equal(di.current, 1);
  assert_int_equal(di.manifests, 1);
  assert_int_equal(di.logs, 0);
  assert_int_equal(di.lock, 0);
  /* Every table but the one made from the memtable is a link. */
  assert_true(di.tables >= 3);
  assert_int_equal(di.linked, di.tables - 1);

  /* The source goes on: more writes and a full compaction (which deletes
   * its names of the linked tables). */
  int saved[NKEYS];
  memcpy(saved, want, sizeof saved);
  for (int i = 0; i < NKEYS; i += 2) {
    put_i(db, i, 9);
    want[i] = 9;
  }
  assert_int_equal(strata_compact_range(db, NULL, 0, NULL, 0), 0);
  expect_contents(db);

  /* The copy holds the state at the call. */
  strata_db *copy = open_at(dst, NULL);
  int now[NKEYS];
  memcpy(now, want, sizeof now);
  memcpy(want, saved, sizeof want);
  expect_contents(copy);
  /* Writing and compacting the copy leaves the source alone. */
  for (int i = 1; i < NKEYS; i += 2) {
    put_i(copy, i, 5);
    want[i] = 5;
  }
  assert_int_equal(strata_compact_range(copy, NULL, 0, NULL, 0), 0);
  expect_contents(copy);
  strata_close(copy);
  memcpy(want, now, sizeof want);
  expect_contents(db);
  strata_close(db);
  db = open_at(src, NULL);
  expect_contents(db);
  strata_close(db);
}

/* An env copied from the default with link_file NULL (a user env written
 * before link_file existed), and one whose link_file says STRATA_ENOTSUP
 * (another file system): tables are copied. */
static int link_enotsup_calls;

static int link_enotsup(strata_env *env, const char *from, const char *to) {
  (void)env;
  link_enotsup_calls++;
  return strata_error_set(STRATA_ENOTSUP, "link %s to %s: Invalid cross-device link", from, to);
}

static void test_copy_path(void **state) {
  (void)state;
  for (int variant = 0; variant < 2; variant++) {
    strata_env env = *strata_env_default();
    env.link_file = variant == 0 ? NULL : link_enotsup;
    link_enotsup_calls = 0;
    strata_db *db = open_at(src, &env);
    fill(db);
    assert_int_equal(strata_checkpoint(db, dst), 0);
    dir_info di = inspect(dst);
    assert_true(di.tables >= 3);
    assert_int_equal(di.linked, 0);
    assert_int_equal(di.logs, 0);
    assert_int_equal(di.current, 1);
    /* One failed link switches the rest of the call to copying. */
    assert_int_equal(link_enotsup_calls, variant);
    strata_db *copy = open_at(dst, NULL);
    expect_contents(copy);
    strata_close(copy);
    strata_close(db);
    remove_dir(dst);
    remove_dir(src);
  }
}

static void test_memory_env(void **state) {
  (void)state;
  strata_env *env = strata_env_memory();
  assert_non_null(env);
  strata_db *db = open_at("/m/src", env);
  fill(db);
  assert_int_equal(strata_checkpoint(db, "/m/ckpt"), 0);
  assert_int_equal(strata_checkpoint(db, "/m/ckpt"), STRATA_EINVAL);
  strata_db *copy = open_at("/m/ckpt", env);
  expect_contents(copy);
  /* Linked names share bytes: compacting the source (which removes its
   * names) must not disturb the copy's. */
  assert_int_equal(strata_compact_range(db, NULL, 0, NULL, 0), 0);
  strata_close(copy);
  copy = open_at("/m/ckpt", env);
  expect_contents(copy);
  strata_close(copy);
  strata_close(db);
  strata_env_memory_destroy(env);
}

/* A checkpoint sees nothing written after it: the copy is taken while a
 * later write is pending in the same memtable. */
static void test_later_writes_absent(void **state) {
  (void)state;
  strata_db *db = open_at(src, NULL);
  fill(db);
  assert_int_equal(strata_checkpoint(db, dst), 0);
  put_i(db, NKEYS + 1, 0);
  strata_db *copy = open_at(dst, NULL);
  expect_contents(copy); /* k(NKEYS+1) would be an extra key at the end */
  /* A second checkpoint of the source has it; of the copy, too. */
  char d2[400];
  snprintf(d2, sizeof d2, "%s/ckpt2", base);
  assert_int_equal(strata_checkpoint(copy, d2), 0);
  strata_close(copy);
  copy = open_at(d2, NULL);
  expect_contents(copy);
  strata_close(copy);
  strata_close(db);
}

/* An env that fails one kind of step inside the destination. */
static strata_env *real_env;
static const char *fail_what; /* "manifest", "table", "current" */

static int failing_new_wfile(strata_env *env, const char *path, strata_wfile **out) {
  (void)env;
  if (strstr(path, "/ckpt")) {
    if ((strcmp(fail_what, "manifest") == 0 && strstr(path, "MANIFEST-")) ||
        (strcmp(fail_what, "table") == 0 && strstr(path, ".ldb")))
      return strata_error_set(STRATA_EIO, "open %s: injected failure", path);
  }
  return real_env->new_wfile(real_env, path, out);
}

static int failing_rename(strata_env *env, const char *from, const char *to) {
  (void)env;
  if (strcmp(fail_what, "current") == 0 && strstr(to, "/ckpt/CURRENT"))
    return strata_error_set(STRATA_EIO, "rename %s: injected failure", to);
  return real_env->rename(real_env, from, to);
}

static void test_failure_cleans_up(void **state) {
  (void)state;
  static const char *const steps[] = {"table", "manifest", "current"};
  for (int s = 0; s < 3; s++) {
    for (int link = 0; link < 2; link++) {
      real_env = strata_env_default();
      strata_env env = *real_env;
      env.new_wfile = failing_new_wfile;
      env.rename = failing_rename;
      if (!link) env.link_file = NULL;
      fail_what = "none";
      strata_db *db = open_at(src, &env);
      fill(db);
      fail_what = steps[s];
      assert_int_equal(strata_checkpoint(db, dst), STRATA_EIO);
      assert_non_null(strstr(strata_errmsg(), "injected failure"));
      struct stat st;
      assert_int_equal(stat(dst, &st), -1); /* nothing left behind */
      /* The source is untouched and a later checkpoint works. */
      fail_what = "none";
      expect_contents(db);
      assert_int_equal(strata_checkpoint(db, dst), 0);
      strata_close(db);
      strata_db *copy = open_at(dst, NULL);
      expect_contents(copy);
      strata_close(copy);
      remove_dir(dst);
      remove_dir(src);
    }
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_arguments, setup, teardown),
      cmocka_unit_test_setup_teardown(test_link_path, setup, teardown),
      cmocka_unit_test_setup_teardown(test_copy_path, setup, teardown),
      cmocka_unit_test_setup_teardown(test_memory_env, setup, teardown),
      cmocka_unit_test_setup_teardown(test_later_writes_absent, setup, teardown),
      cmocka_unit_test_setup_teardown(test_failure_cleans_up, setup, teardown),
      cmocka_unit_test_setup_teardown(test_read_only_handle, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
