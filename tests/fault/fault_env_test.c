/* fault_env_test.c - the fault-injecting env itself: pass-through, injected
 * errors (nth call, persistent, path suffix, hook, sticky file errors) and
 * power cuts (each data mode, each directory mode, removals and renames
 * reverted, calls after the cut, power on). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fault_env.h"

static fe_env *fe;
static strata_env *env;

static int setup(void **state) {
  (void)state;
  fe = fe_new();
  env = fe_strata_env(fe);
  return env->create_dir(env, "/d");
}

static int teardown(void **state) {
  (void)state;
  fe_free(fe);
  return 0;
}

/* Writes data to path through the env; sync as asked; keeps it open in
 * *keep when keep is not NULL. */
static void write_file(const char *path, const char *data, int sync, strata_wfile **keep) {
  strata_wfile *w = NULL;
  assert_int_equal(env->new_wfile(env, path, &w), 0);
  assert_int_equal(w->append(w, data, strlen(data)), 0);
  if (sync) assert_int_equal(w->sync(w), 0);
  if (keep)
    *keep = w;
  else
    assert_int_equal(w->close(w), 0);
}

static void append(strata_wfile *w, const char *data) {
  assert_int_equal(w->append(w, data, strlen(data)), 0);
}

/* path's contents must be exactly expect (NULL: missing). */
static void expect_file(const char *path, const char *expect, size_t len) {
  char *data = NULL;
  size_t n = 0;
  int rc = fe_read_whole(fe, path, &data, &n);
  if (!expect) {
    if (rc != STRATA_ENOTFOUND) fail_msg("%s: expected missing, found %zu bytes", path, n);
    return;
  }
  if (rc) fail_msg("%s: missing", path);
  if (n != len || memcmp(data, expect, len) != 0)
    fail_msg("%s: %zu bytes '%.*s', expected %zu", path, n, (int)n, data, len);
  free(data);
}

static void cut(fe_data_mode data, fe_dir_mode dir) {
  fe_cut_opts o = {data, dir, 1};
  fe_cut_now(fe, &o);
  assert_true(fe_power_is_off(fe));
  assert_int_equal(fe_power_on(fe), 0);
  assert_false(fe_power_is_off(fe));
}

static void test_pass_through(void **state) {
  (void)state;
  write_file("/d/a", "hello", 0, NULL);
  expect_file("/d/a", "hello", 5);
  assert_int_equal(env->rename(env, "/d/a", "/d/b"), 0);
  expect_file("/d/a", NULL, 0);
  expect_file("/d/b", "hello", 5);
  char **names;
  size_t n;
  assert_int_equal(env->children(env, "/d", &names, &n), 0);
  assert_int_equal(n, 1);
  assert_string_equal(names[0], "b");
  free(names[0]);
  free(names);
  strata_rafile *r;
  assert_int_equal(env->new_rafile(env, "/d/b", &r), 0);
  char scratch[8];
  strata_slice got;
  assert_int_equal(r->read(r, 1, 3, scratch, &got), 0);
  assert_int_equal(got.size, 3);
  assert_memory_equal(got.data, "ell", 3);
  r->close(r);
  assert_int_equal(env->remove_file(env, "/d/b"), 0);
  assert_int_equal(env->exists(env, "/d/b"), 0);
  assert_int_equal(env->remove_file(env, "/d/b"), STRATA_ENOTFOUND);
}

static void test_nth_call_fails_once(void **state) {
  (void)state;
  strata_wfile *w;
  write_file("/d/f", "", 0, &w);
  assert_int_equal(fe_fail_nth(fe, FE_SYNC, 2, 0, NULL), 0);
  assert_int_equal(w->sync(w), 0);
  assert_int_equal(w->sync(w), STRATA_EIO);
  assert_non_null(strstr(strata_errmsg(), "sync /d/f"));
  assert_non_null(strstr(strata_errmsg(), "injected"));
  /* The file keeps failing, with the first message, as after a real
   * failed fsync; another file is not affected (the rule fired once). */
  assert_int_equal(w->append(w, "x", 1), STRATA_EIO);
  assert_non_null(strstr(strata_errmsg(), "sync /d/f"));
  assert_int_equal(w->close(w), STRATA_EIO);
  write_file("/d/g", "ok", 1, NULL);
  assert_int_equal(fe_injected(fe), 1);
}

static void test_persistent_and_suffix(void **state) {
  (void)state;
  assert_int_equal(fe_fail_nth(fe, FE_OPEN, 1, 1, ".log"), 0);
  strata_wfile *w;
  assert_int_equal(env->new_wfile(env, "/d/1.log", &w), STRATA_EIO);
  assert_int_equal(env->new_wfile(env, "/d/2.log", &w), STRATA_EIO);
  write_file("/d/3.ldb", "table", 1, NULL);
  strata_seqfile *s;
  assert_int_equal(env->new_seqfile(env, "/d/3.ldb", &s), 0);
  s->close(s);
  assert_int_equal(fe_injected(fe), 2);
  fe_clear_faults(fe);
  write_file("/d/4.log", "log", 1, NULL);
  expect_file("/d/4.log", "log", 3);
}

static void test_read_fault(void **state) {
  (void)state;
  write_file("/d/r", "abcdef", 1, NULL);
  strata_seqfile *s;
  assert_int_equal(env->new_seqfile(env, "/d/r", &s), 0);
  assert_int_equal(fe_fail_nth(fe, FE_READ, 1, 0, NULL), 0);
  char buf[8];
  strata_slice got;
  assert_int_equal(s->read(s, 3, buf, &got), STRATA_EIO);
  assert_non_null(strstr(strata_errmsg(), "read /d/r"));
  assert_int_equal(s->read(s, 3, buf, &got), 0);
  assert_memory_equal(got.data, "abc", 3);
  s->close(s);
}

static int hook_fail_rename_to_current(void *arg, fe_kind kind, const char *path,
                                       const char *path2) {
  (void)path;
  int *seen = arg;
  if (kind == FE_RENAME && path2 && strstr(path2, "CURRENT")) {
    (*seen)++;
    return 1;
  }
  return 0;
}

static void test_hook(void **state) {
  (void)state;
  int seen = 0;
  fe_set_hook(fe, hook_fail_rename_to_current, &seen);
  write_file("/d/tmp", "x", 1, NULL);
  assert_int_equal(env->rename(env, "/d/tmp", "/d/CURRENT"), STRATA_EIO);
  assert_int_equal(seen, 1);
  expect_file("/d/tmp", "x", 1);
  expect_file("/d/CURRENT", NULL, 0);
  fe_set_hook(fe, NULL, NULL);
  assert_int_equal(env->rename(env, "/d/tmp", "/d/CURRENT"), 0);
}

static void test_cut_data_modes(void **state) {
  (void)state;
  assert_int_equal(env->sync_dir(env, "/d"), 0);
  static const struct {
    fe_data_mode mode;
    const char *expect;
    size_t len;
  } cases[] = {
      {FE_DATA_DROP, "synced", 6},
      {FE_DATA_ZERO, "synced\0\0\0\0\0\0\0\0\0", 15},
      {FE_DATA_KEEP, "synced+unsynced", 15},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    strata_wfile *w;
    write_file("/d/f", "synced", 1, &w);
    assert_int_equal(env->sync_dir(env, "/d"), 0);
    append(w, "+unsynced");
    assert_int_equal(w->close(w), 0);
    fe_cut_opts o = {cases[i].mode, FE_DIR_KEEP, 7};
    fe_cut_now(fe, &o);
    assert_int_equal(fe_power_on(fe), 0);
    expect_file("/d/f", cases[i].expect, cases[i].len);
  }
  /* A prefix: what is kept is the synced part plus a prefix of the rest. */
  for (uint64_t seed = 0; seed < 20; seed++) {
    strata_wfile *w;
    write_file("/d/p", "synced", 1, &w);
    assert_int_equal(env->sync_dir(env, "/d"), 0);
    append(w, "+unsynced");
    w->close(w);
    fe_cut_opts o = {FE_DATA_PREFIX, FE_DIR_KEEP, seed};
    fe_cut_now(fe, &o);
    assert_int_equal(fe_power_on(fe), 0);
    char *data;
    size_t n;
    assert_int_equal(fe_read_whole(fe, "/d/p", &data, &n), 0);
    assert_in_range(n, 6, 15);
    assert_memory_equal(data, "synced+unsynced", n);
    free(data);
  }
}

static void test_cut_dir_modes(void **state) {
  (void)state;
  /* A synced file whose name was never made durable. */
  write_file("/d/new", "data", 1, NULL);
  cut(FE_DATA_KEEP, FE_DIR_REVERT);
  expect_file("/d/new", NULL, 0);
  write_file("/d/new", "data", 1, NULL);
  cut(FE_DATA_KEEP, FE_DIR_KEEP);
  expect_file("/d/new", "data", 4);
  /* After the power came back, the file is durable: a revert keeps it. */
  cut(FE_DATA_DROP, FE_DIR_REVERT);
  expect_file("/d/new", "data", 4);
}

static void test_cut_reverts_remove_and_rename(void **state) {
  (void)state;
  write_file("/d/old", "old-bytes", 1, NULL);
  write_file("/d/CURRENT", "one", 1, NULL);
  write_file("/d/tmp", "two", 1, NULL);
  assert_int_equal(env->sync_dir(env, "/d"), 0);
  assert_int_equal(env->remove_file(env, "/d/old"), 0);
  assert_int_equal(env->rename(env, "/d/tmp", "/d/CURRENT"), 0);
  expect_file("/d/old", NULL, 0);
  expect_file("/d/CURRENT", "two", 3);
  cut(FE_DATA_KEEP, FE_DIR_REVERT);
  expect_file("/d/old", "old-bytes", 9);
  expect_file("/d/CURRENT", "one", 3);
  expect_file("/d/tmp", "two", 3);
  /* The same, made durable by a directory sync. */
  assert_int_equal(env->remove_file(env, "/d/old"), 0);
  assert_int_equal(env->rename(env, "/d/tmp", "/d/CURRENT"), 0);
  assert_int_equal(env->sync_dir(env, "/d"), 0);
  cut(FE_DATA_KEEP, FE_DIR_REVERT);
  expect_file("/d/old", NULL, 0);
  expect_file("/d/CURRENT", "two", 3);
  expect_file("/d/tmp", NULL, 0);
}

static void test_cut_dir_prefix_keeps_call_order(void **state) {
  (void)state;
  /* Operations: create a, create b, create c. Any prefix: if c survived,
   * so did a and b. */
  int seen[4] = {0};
  for (uint64_t seed = 0; seed < 40; seed++) {
    write_file("/d/a", "a", 1, NULL);
    write_file("/d/b", "b", 1, NULL);
    write_file("/d/c", "c", 1, NULL);
    fe_cut_opts o = {FE_DATA_KEEP, FE_DIR_PREFIX, seed};
    fe_cut_now(fe, &o);
    fe_cut_report rep;
    fe_last_cut(fe, &rep);
    assert_int_equal(fe_power_on(fe), 0);
    int a = env->exists(env, "/d/a"), b = env->exists(env, "/d/b"), c = env->exists(env, "/d/c");
    assert_true(a >= b && b >= c);
    assert_int_equal((uint64_t)(a + b + c), rep.dir_ops_kept);
    seen[a + b + c] = 1;
    env->remove_file(env, "/d/a");
    env->remove_file(env, "/d/b");
    env->remove_file(env, "/d/c");
    env->sync_dir(env, "/d");
  }
  /* 40 seeds reach every prefix length. */
  assert_true(seen[0] && seen[1] && seen[2] && seen[3]);
}

static void test_cut_at_nth_mutating_call(void **state) {
  (void)state;
  strata_wfile *w;
  write_file("/d/log", "", 1, &w);
  assert_int_equal(env->sync_dir(env, "/d"), 0);
  fe_cut_opts o = {FE_DATA_DROP, FE_DIR_REVERT, 3};
  fe_cut_at(fe, 3, &o);
  append(w, "one;");
  assert_int_equal(w->sync(w), 0);
  assert_false(fe_power_is_off(fe));
  /* The third mutating call: the power goes, the call fails. */
  assert_int_equal(w->append(w, "two;", 4), STRATA_EIO);
  assert_true(fe_power_is_off(fe));
  assert_non_null(strstr(strata_errmsg(), "power is off"));
  /* Every later mutating call fails and changes nothing; reads work. */
  strata_wfile *w2;
  assert_int_equal(env->new_wfile(env, "/d/other", &w2), STRATA_EIO);
  assert_int_equal(env->remove_file(env, "/d/log"), STRATA_EIO);
  expect_file("/d/log", "one;", 4);
  assert_int_equal(w->close(w), STRATA_EIO);
  assert_int_equal(fe_power_on(fe), 0);
  expect_file("/d/log", "one;", 4);
  expect_file("/d/other", NULL, 0);
  write_file("/d/after", "works", 1, NULL);
  expect_file("/d/after", "works", 5);
}

static void test_appendable_and_lock(void **state) {
  (void)state;
  write_file("/d/log", "base", 1, NULL);
  assert_int_equal(env->sync_dir(env, "/d"), 0);
  strata_wfile *w;
  assert_int_equal(env->new_appendable(env, "/d/log", &w), 0);
  append(w, "+more");
  w->close(w);
  expect_file("/d/log", "base+more", 9);
  strata_filelock *l;
  assert_int_equal(env->lock_file(env, "/d/LOCK", &l), 0);
  assert_int_equal(env->unlock_file(env, l), 0);
  cut(FE_DATA_DROP, FE_DIR_REVERT);
  expect_file("/d/log", "base", 4);
  assert_int_equal(env->exists(env, "/d/LOCK"), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_pass_through, setup, teardown),
      cmocka_unit_test_setup_teardown(test_nth_call_fails_once, setup, teardown),
      cmocka_unit_test_setup_teardown(test_persistent_and_suffix, setup, teardown),
      cmocka_unit_test_setup_teardown(test_read_fault, setup, teardown),
      cmocka_unit_test_setup_teardown(test_hook, setup, teardown),
      cmocka_unit_test_setup_teardown(test_cut_data_modes, setup, teardown),
      cmocka_unit_test_setup_teardown(test_cut_dir_modes, setup, teardown),
      cmocka_unit_test_setup_teardown(test_cut_reverts_remove_and_rename, setup, teardown),
      cmocka_unit_test_setup_teardown(test_cut_dir_prefix_keeps_call_order, setup, teardown),
      cmocka_unit_test_setup_teardown(test_cut_at_nth_mutating_call, setup, teardown),
      cmocka_unit_test_setup_teardown(test_appendable_and_lock, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
