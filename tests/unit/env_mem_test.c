/* env_mem_test.c - the in-memory environment (strata_env_memory()): the
 * file, directory and lock contract env_test.c checks for POSIX, the ways
 * it knowingly differs (mkdir -p, no real disk), and a whole database run
 * on it through the public API. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "env/env.h"
#include "strata.h"
#include "util/buf.h"
#include "util/error.h"

/* Each test gets a fresh env, so no test sees another's files. */
static int env_setup(void **state) {
  st_env *env = strata_env_memory();
  if (!env) return -1;
  *state = env;
  return 0;
}

static int env_teardown(void **state) {
  strata_env_memory_destroy(*state);
  return 0;
}

static void write_file(st_env *env, const char *path, const char *data) {
  int rc = st_env_write_file(env, path, data, strlen(data), 1);
  if (rc) fail_msg("write %s: %s", path, strata_errmsg());
}

/* Asserts that path holds exactly expect. */
static void check_file(st_env *env, const char *path, const char *expect) {
  st_buf b = ST_BUF_INIT;
  int rc = st_env_read_file(env, path, &b);
  if (rc) fail_msg("read %s: %s", path, strata_errmsg());
  size_t n = strlen(expect);
  if (b.size != n || (n && memcmp(b.data, expect, n) != 0))
    fail_msg("%s: got '%.*s', expected '%s'", path, (int)b.size, b.data, expect);
  st_buf_free(&b);
}

static void assert_errmsg_has(const char *part) {
  if (!strstr(strata_errmsg(), part)) fail_msg("message '%s' lacks '%s'", strata_errmsg(), part);
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Asserts that dir's entries, sorted, are exactly the n names given. */
static void check_children(st_env *env, const char *dir, const char *const *expect, size_t n) {
  char **kids;
  size_t cnt;
  int rc = env->children(env, dir, &kids, &cnt);
  if (rc) fail_msg("children %s: %s", dir, strata_errmsg());
  assert_int_equal(cnt, n);
  if (cnt) qsort(kids, cnt, sizeof *kids, cmp_str);
  for (size_t i = 0; i < n; i++)
    assert_string_equal(kids[i], expect[i]);
  st_env_free_children(kids, cnt);
}

/* ---- files ---- */

static void test_write_read_roundtrip(void **state) {
  st_env *env = *state;
  assert_int_equal(env->create_dir(env, "/d"), 0);
  write_file(env, "/d/rt", "hello world");
  check_file(env, "/d/rt", "hello world");

  /* Exact reads, short only at the end, skips past the end. */
  st_seqfile *f;
  char scratch[32];
  st_slice s;
  assert_int_equal(env->new_seqfile(env, "/d/rt", &f), 0);
  assert_int_equal(f->read(f, 5, scratch, &s), 0);
  assert_int_equal(s.size, 5);
  assert_memory_equal(s.data, "hello", 5);
  assert_int_equal(f->skip_bytes(f, 1), 0);
  assert_int_equal(f->read(f, 32, scratch, &s), 0);
  assert_int_equal(s.size, 5);
  assert_memory_equal(s.data, "world", 5);
  assert_int_equal(f->read(f, 32, scratch, &s), 0);
  assert_int_equal(s.size, 0);
  assert_int_equal(f->skip_bytes(f, UINT64_MAX), 0); /* no overflow */
  assert_int_equal(f->read(f, 32, scratch, &s), 0);
  assert_int_equal(s.size, 0);
  f->close(f);

  /* new_wfile truncates. */
  write_file(env, "/d/rt", "x");
  check_file(env, "/d/rt", "x");

  /* An empty file. */
  write_file(env, "/d/empty", "");
  check_file(env, "/d/empty", "");
  uint64_t sz = 99;
  assert_int_equal(env->file_size(env, "/d/empty", &sz), 0);
  assert_int_equal(sz, 0);
}

/* Appends of many sizes (0, around 4 KiB growth steps, large) arrive
 * intact and in order. */
static void test_large_and_mixed_appends(void **state) {
  st_env *env = *state;
  size_t sizes[] = {0, 1, 7, 4096, 3, 4095, 4097, 100, 200000, 1, 32768, 65536, 5};
  size_t total = 0;
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
    total += sizes[i];
  char *expect = malloc(total);
  assert_non_null(expect);
  for (size_t i = 0; i < total; i++)
    expect[i] = (char)(i * 131 + (i >> 9));

  st_wfile *w;
  assert_int_equal(env->new_wfile(env, "mixed", &w), 0); /* a relative name */
  size_t off = 0;
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
    assert_int_equal(w->append(w, expect + off, sizes[i]), 0);
    off += sizes[i];
    if (i % 3 == 2) assert_int_equal(w->flush(w), 0);
  }
  assert_int_equal(w->close(w), 0);

  uint64_t sz;
  assert_int_equal(env->file_size(env, "mixed", &sz), 0);
  assert_int_equal(sz, total);
  st_buf b = ST_BUF_INIT;
  assert_int_equal(st_env_read_file(env, "mixed", &b), 0);
  assert_int_equal(b.size, total);
  assert_memory_equal(b.data, expect, total);
  st_buf_free(&b);
  free(expect);
}

/* What is appended is visible to other readers before close. */
static void test_written_data_visible(void **state) {
  st_env *env = *state;
  st_wfile *w;
  assert_int_equal(env->new_wfile(env, "/vis", &w), 0);
  assert_true(env->exists(env, "/vis"));
  assert_int_equal(w->append(w, "abc", 3), 0);
  assert_int_equal(w->flush(w), 0);
  uint64_t sz;
  assert_int_equal(env->file_size(env, "/vis", &sz), 0);
  assert_int_equal(sz, 3);

  /* A sequential reader opened now sees later appends too (one inode). */
  st_seqfile *f;
  char scratch[8];
  st_slice s;
  assert_int_equal(env->new_seqfile(env, "/vis", &f), 0);
  assert_int_equal(w->append(w, "def", 3), 0);
  assert_int_equal(w->sync(w), 0);
  assert_int_equal(f->read(f, 8, scratch, &s), 0);
  assert_int_equal(s.size, 6);
  assert_memory_equal(s.data, "abcdef", 6);
  f->close(f);
  assert_int_equal(env->file_size(env, "/vis", &sz), 0);
  assert_int_equal(sz, 6);
  assert_int_equal(w->close(w), 0);
}

static void test_append_mode(void **state) {
  st_env *env = *state;
  write_file(env, "/app", "abc");
  st_wfile *w;
  assert_int_equal(env->new_appendable(env, "/app", &w), 0);
  assert_int_equal(w->append(w, "def", 3), 0);
  assert_int_equal(w->sync(w), 0);
  assert_int_equal(w->append(w, "gh", 2), 0);
  assert_int_equal(w->close(w), 0);
  check_file(env, "/app", "abcdefgh");

  /* Appendable creates a missing file. */
  assert_int_equal(env->new_appendable(env, "/app_new", &w), 0);
  assert_int_equal(w->append(w, "z", 1), 0);
  assert_int_equal(w->close(w), 0);
  check_file(env, "/app_new", "z");
}

static void test_rafile(void **state) {
  st_env *env = *state;
  char data[10000];
  for (size_t i = 0; i < sizeof data; i++)
    data[i] = (char)(i % 251);
  assert_int_equal(st_env_write_file(env, "/ra", data, sizeof data, 0), 0);

  st_rafile *f;
  assert_int_equal(env->new_rafile(env, "/ra", &f), 0);
  char scratch[200];
  st_slice s;
  assert_int_equal(f->read(f, 100, 50, scratch, &s), 0);
  assert_int_equal(s.size, 50);
  assert_memory_equal(s.data, data + 100, 50);
  /* Past the end: fewer bytes, not an error. */
  assert_int_equal(f->read(f, sizeof data - 10, 100, scratch, &s), 0);
  assert_int_equal(s.size, 10);
  assert_memory_equal(s.data, data + sizeof data - 10, 10);
  assert_int_equal(f->read(f, sizeof data, 100, scratch, &s), 0);
  assert_int_equal(s.size, 0);
  assert_int_equal(f->read(f, (uint64_t)1 << 40, 100, scratch, &s), 0);
  assert_int_equal(s.size, 0);
  f->close(f);

  write_file(env, "/ra_empty", "");
  assert_int_equal(env->new_rafile(env, "/ra_empty", &f), 0);
  assert_int_equal(f->read(f, 0, 10, scratch, &s), 0);
  assert_int_equal(s.size, 0);
  f->close(f);
}

/* An open file keeps its bytes when its name is removed or replaced, as an
 * open descriptor keeps an unlinked inode. */
static void test_open_file_outlives_its_name(void **state) {
  st_env *env = *state;
  write_file(env, "/gone", "0123456789");
  st_rafile *rf;
  st_seqfile *sf;
  st_wfile *wf;
  assert_int_equal(env->new_rafile(env, "/gone", &rf), 0);
  assert_int_equal(env->new_seqfile(env, "/gone", &sf), 0);
  assert_int_equal(env->new_appendable(env, "/gone", &wf), 0);
  assert_int_equal(env->remove_file(env, "/gone"), 0);
  assert_false(env->exists(env, "/gone"));

  char scratch[32];
  st_slice s;
  assert_int_equal(rf->read(rf, 2, 3, scratch, &s), 0);
  assert_int_equal(s.size, 3);
  assert_memory_equal(s.data, "234", 3);
  /* The writer still writes into the unlinked file; its readers see it. */
  assert_int_equal(wf->append(wf, "ab", 2), 0);
  assert_int_equal(wf->close(wf), 0);
  assert_int_equal(sf->read(sf, 32, scratch, &s), 0);
  assert_int_equal(s.size, 12);
  assert_memory_equal(s.data, "0123456789ab", 12);
  sf->close(sf);
  assert_false(env->exists(env, "/gone"));

  /* A new file of the same name is another file. */
  write_file(env, "/gone", "new");
  assert_int_equal(rf->read(rf, 0, 32, scratch, &s), 0);
  assert_int_equal(s.size, 12);
  rf->close(rf);
  check_file(env, "/gone", "new");

  /* Renaming over an open file: the reader keeps the old bytes, the name
   * gets the new ones. */
  write_file(env, "/cur", "old contents");
  write_file(env, "/cur.tmp", "new contents");
  assert_int_equal(env->new_rafile(env, "/cur", &rf), 0);
  assert_int_equal(env->rename(env, "/cur.tmp", "/cur"), 0);
  assert_int_equal(rf->read(rf, 0, 32, scratch, &s), 0);
  assert_int_equal(s.size, 12);
  assert_memory_equal(s.data, "old contents", 12);
  rf->close(rf);
  check_file(env, "/cur", "new contents");

  /* Truncating an open file empties it for its readers too (O_TRUNC). */
  assert_int_equal(env->new_rafile(env, "/cur", &rf), 0);
  assert_int_equal(env->new_wfile(env, "/cur", &wf), 0);
  assert_int_equal(rf->read(rf, 0, 32, scratch, &s), 0);
  assert_int_equal(s.size, 0);
  assert_int_equal(wf->append(wf, "n", 1), 0);
  assert_int_equal(rf->read(rf, 0, 32, scratch, &s), 0);
  assert_int_equal(s.size, 1);
  assert_int_equal(wf->close(wf), 0);
  rf->close(rf);
}

/* ---- directories ---- */

static void test_children_and_dirs(void **state) {
  st_env *env = *state;
  const char *d = "/db/kids";
  assert_int_equal(env->create_dir(env, d), 0); /* makes /db too */
  assert_int_equal(env->create_dir(env, d), 0); /* existing: fine */
  assert_int_equal(env->create_dir(env, "/db/kids/"), 0);
  assert_true(env->is_dir(env, d));
  assert_true(env->is_dir(env, "/db"));
  assert_true(env->is_dir(env, "/"));
  assert_true(env->exists(env, d));
  assert_true(env->exists(env, "/db/kids/")); /* trailing '/' ignored */
  assert_true(env->is_dir(env, "//db///kids//"));

  const char *names[] = {"000001.log", "CURRENT", "LOCK", "sub"};
  char p[600];
  for (int i = 0; i < 3; i++) {
    snprintf(p, sizeof p, "%s/%s", d, names[i]);
    write_file(env, p, "x");
    assert_false(env->is_dir(env, p));
    assert_true(env->exists(env, p));
  }
  assert_int_equal(env->create_dir(env, "/db/kids/sub"), 0);
  write_file(env, "/db/kids/sub/deeper", "y"); /* not a direct entry */
  write_file(env, "/db/kidsX", "z");           /* shares the prefix only */
  check_children(env, d, names, 4);
  check_children(env, "/db/kids/", names, 4);
  const char *top[] = {"db"};
  check_children(env, "/", top, 1);
  const char *db_names[] = {"kids", "kidsX"};
  check_children(env, "/db", db_names, 2);
  /* Double slashes in a file path name the same file. */
  check_file(env, "/db//kids/sub//deeper", "y");

  assert_int_equal(env->sync_dir(env, d), 0);

  /* A directory that is not empty cannot be removed. */
  assert_int_equal(env->remove_dir(env, "/db/kids/sub"), STRATA_EIO);
  assert_errmsg_has("/db/kids/sub");
  assert_errmsg_has("Directory not empty");
  assert_int_equal(env->remove_file(env, "/db/kids/sub/deeper"), 0);
  assert_int_equal(env->remove_dir(env, "/db/kids/sub/"), 0);
  assert_false(env->exists(env, "/db/kids/sub"));
  assert_int_equal(env->remove_dir(env, d), STRATA_EIO);
  assert_errmsg_has(d);
  for (int i = 0; i < 3; i++) {
    snprintf(p, sizeof p, "%s/%s", d, names[i]);
    assert_int_equal(env->remove_file(env, p), 0);
    assert_false(env->exists(env, p));
  }
  check_children(env, d, NULL, 0);
  assert_int_equal(env->remove_dir(env, d), 0);
  assert_false(env->exists(env, d));
  assert_false(env->is_dir(env, d));

  /* Missing directory: NotFound naming it, for every directory call. */
  char **kids;
  size_t n;
  assert_int_equal(env->children(env, d, &kids, &n), STRATA_ENOTFOUND);
  assert_errmsg_has(d);
  assert_int_equal(env->remove_dir(env, d), STRATA_ENOTFOUND);
  assert_errmsg_has(d);
  assert_int_equal(env->sync_dir(env, d), STRATA_ENOTFOUND);
  assert_errmsg_has(d);

  /* A file where a directory is expected, and the reverse. */
  assert_int_equal(env->create_dir(env, "/db/kidsX"), STRATA_EINVAL);
  assert_errmsg_has("exists and is not a directory");
  assert_errmsg_has("/db/kidsX");
  assert_int_equal(env->children(env, "/db/kidsX", &kids, &n), STRATA_EIO);
  assert_errmsg_has("Not a directory");
  assert_int_equal(env->remove_dir(env, "/db/kidsX"), STRATA_EIO);
  assert_int_equal(env->create_dir(env, "/db/kidsX/under"), STRATA_EIO);
  assert_errmsg_has("/db/kidsX/under");
  assert_int_equal(env->remove_file(env, "/db"), STRATA_EIO);
  assert_errmsg_has("Is a directory");
  st_wfile *w;
  assert_int_equal(env->new_wfile(env, "/db", &w), STRATA_EIO);
  assert_errmsg_has("IO error: open /db");
  st_seqfile *sf;
  assert_int_equal(env->new_seqfile(env, "/db", &sf), STRATA_EIO);
  assert_errmsg_has("/db");
  uint64_t sz = 7;
  assert_int_equal(env->file_size(env, "/db", &sz), 0);
  assert_int_equal(sz, 0);
  /* The root stays. */
  assert_int_equal(env->remove_file(env, "/db/kidsX"), 0);
  assert_int_equal(env->remove_dir(env, "/db"), 0);
  assert_int_equal(env->remove_dir(env, "/"), STRATA_EIO);
  assert_true(env->is_dir(env, "/"));
}

static void test_rename_and_size(void **state) {
  st_env *env = *state;
  const char *a = "/ren_a", *b = "/ren_b";
  write_file(env, a, "12345");
  write_file(env, b, "1");
  assert_int_equal(env->rename(env, a, b), 0); /* replaces b */
  assert_false(env->exists(env, a));
  uint64_t sz = 99;
  assert_int_equal(env->file_size(env, b, &sz), 0);
  assert_int_equal(sz, 5);
  assert_int_equal(env->rename(env, b, b), 0); /* onto itself: no-op */
  check_file(env, b, "12345");

  assert_int_equal(env->file_size(env, a, &sz), STRATA_ENOTFOUND);
  assert_errmsg_has(a);
  assert_int_equal(env->rename(env, a, b), STRATA_ENOTFOUND);
  assert_errmsg_has(a);
  assert_int_equal(env->remove_file(env, a), STRATA_ENOTFOUND);
  assert_errmsg_has(a);
  /* Into a missing directory. */
  assert_int_equal(env->rename(env, b, "/nodir/x"), STRATA_ENOTFOUND);
  assert_errmsg_has("/nodir/x");
  assert_true(env->exists(env, b));

  /* A file to a fresh name, in another directory. */
  assert_int_equal(env->create_dir(env, "/lost"), 0);
  assert_int_equal(env->rename(env, b, "/lost/b"), 0);
  check_file(env, "/lost/b", "12345");
  assert_false(env->exists(env, b));

  /* A file over a directory, a directory over a file. */
  write_file(env, "/f", "f");
  assert_int_equal(env->rename(env, "/f", "/lost"), STRATA_EIO);
  assert_int_equal(env->rename(env, "/lost", "/f"), STRATA_EIO);

  /* A directory with everything under it. */
  assert_int_equal(env->create_dir(env, "/lost/sub"), 0);
  write_file(env, "/lost/sub/c", "c");
  assert_int_equal(env->rename(env, "/lost", "/found/"), 0);
  assert_false(env->exists(env, "/lost"));
  assert_false(env->exists(env, "/lost/b"));
  check_file(env, "/found/b", "12345");
  check_file(env, "/found/sub/c", "c");
  const char *kids[] = {"b", "sub"};
  check_children(env, "/found", kids, 2);
  /* Not into itself; not over a directory that has entries; over an empty
   * one, yes. */
  assert_int_equal(env->rename(env, "/found", "/found/sub/x"), STRATA_EIO);
  assert_int_equal(env->create_dir(env, "/full"), 0);
  write_file(env, "/full/x", "x");
  assert_int_equal(env->rename(env, "/found", "/full"), STRATA_EIO);
  assert_errmsg_has("Directory not empty");
  assert_int_equal(env->create_dir(env, "/empty"), 0);
  assert_int_equal(env->rename(env, "/found", "/empty"), 0);
  check_file(env, "/empty/sub/c", "c");
  assert_false(env->is_dir(env, "/found"));
}

/* link_file: two names of one file's bytes, as link(2). */
static void test_link_file(void **state) {
  st_env *env = *state;
  assert_non_null(env->link_file);
  assert_int_equal(env->create_dir(env, "/d"), 0);
  write_file(env, "/d/a", "shared");
  assert_int_equal(env->link_file(env, "/d/a", "/d/b"), 0);
  check_file(env, "/d/b", "shared");
  /* A write through one name shows through the other. */
  st_wfile *w;
  assert_int_equal(env->new_appendable(env, "/d/a", &w), 0);
  assert_int_equal(w->append(w, "+more", 5), 0);
  assert_int_equal(w->close(w), 0);
  check_file(env, "/d/b", "shared+more");
  /* Removing one name leaves the other; the bytes live on. */
  assert_int_equal(env->remove_file(env, "/d/a"), 0);
  check_file(env, "/d/b", "shared+more");
  const char *const kids[] = {"b"};
  check_children(env, "/d", kids, 1);
  /* Errors: missing source, existing target, missing target directory,
   * a directory as source. */
  assert_int_equal(env->link_file(env, "/d/a", "/d/c"), STRATA_ENOTFOUND);
  assert_errmsg_has("/d/a");
  write_file(env, "/d/a", "x");
  assert_int_equal(env->link_file(env, "/d/a", "/d/b"), STRATA_EIO);
  assert_errmsg_has("exists");
  assert_int_equal(env->link_file(env, "/d/a", "/nodir/x"), STRATA_ENOTFOUND);
  assert_int_equal(env->link_file(env, "/d", "/e"), STRATA_ENOTSUP); /* EPERM, as on POSIX */
  check_file(env, "/d/b", "shared+more");
}

static void test_not_found(void **state) {
  st_env *env = *state;
  const char *p = "/no_such_file";
  const char *expect = "NotFound: /no_such_file: No such file or directory";

  st_seqfile *sf = (st_seqfile *)1;
  assert_int_equal(env->new_seqfile(env, p, &sf), STRATA_ENOTFOUND);
  assert_null(sf);
  assert_string_equal(strata_errmsg(), expect);

  st_err_clear();
  st_rafile *rf = (st_rafile *)1;
  assert_int_equal(env->new_rafile(env, p, &rf), STRATA_ENOTFOUND);
  assert_null(rf);
  assert_string_equal(strata_errmsg(), expect);

  st_buf b = ST_BUF_INIT;
  assert_int_equal(st_env_read_file(env, p, &b), STRATA_ENOTFOUND);
  assert_int_equal(b.size, 0);
  assert_false(env->exists(env, p));
  assert_false(env->is_dir(env, p));
  assert_false(env->exists(env, ""));

  /* A write into a missing directory names the path. */
  const char *q = "/no_dir/file";
  st_wfile *w = (st_wfile *)1;
  assert_int_equal(env->new_wfile(env, q, &w), STRATA_ENOTFOUND);
  assert_null(w);
  assert_errmsg_has(q);
  assert_int_equal(env->new_appendable(env, q, &w), STRATA_ENOTFOUND);
  assert_int_equal(st_env_write_file(env, q, "x", 1, 0), STRATA_ENOTFOUND);
  assert_errmsg_has(q);
  assert_false(env->exists(env, "/no_dir"));
}

/* Two memory envs share nothing. */
static void test_envs_are_separate(void **state) {
  st_env *env = *state;
  st_env *other = strata_env_memory();
  assert_non_null(other);
  write_file(env, "/mine", "1");
  assert_false(other->exists(other, "/mine"));
  st_filelock *l1, *l2;
  assert_int_equal(env->lock_file(env, "/LOCK", &l1), 0);
  assert_int_equal(other->lock_file(other, "/LOCK", &l2), 0);
  assert_int_equal(other->unlock_file(other, l2), 0);
  assert_int_equal(env->unlock_file(env, l1), 0);
  strata_env_memory_destroy(other);
  /* Not a memory env, or NULL: nothing happens. */
  strata_env_memory_destroy(NULL);
  strata_env_memory_destroy(strata_env_default());
  check_file(env, "/mine", "1");
}

/* A user env made by copying the struct and replacing a pointer (the
 * wrapping pattern strata.h describes) keeps reaching the same files. */
static int failing_sync(st_wfile *f) {
  (void)f;
  return st_err(STRATA_EIO, "injected sync failure");
}

static st_env *inner_env;

static int failing_new_wfile(st_env *env, const char *path, st_wfile **out) {
  (void)env;
  int rc = inner_env->new_wfile(inner_env, path, out);
  /* The file object's pointers are per object here: patching one is
   * enough to make its sync fail. */
  if (rc == 0) (*out)->sync = failing_sync;
  return rc;
}

static void test_wrapped_env(void **state) {
  st_env *env = *state;
  st_env wrap = *env;
  inner_env = env;
  wrap.new_wfile = failing_new_wfile;
  assert_int_equal(st_env_write_file(&wrap, "/half", "abc", 3, 0), 0);
  assert_true(env->exists(env, "/half"));
  assert_true(wrap.exists(&wrap, "/half"));
  assert_int_equal(st_env_write_file(&wrap, "/half", "abc", 3, 1), STRATA_EIO);
  assert_string_equal(strata_errmsg(), "IO error: injected sync failure");
  assert_false(env->exists(env, "/half"));
  /* Destroying through the copy is refused; the real env stays usable. */
  strata_env_memory_destroy(&wrap);
  write_file(env, "/still", "here");
  check_file(env, "/still", "here");
}

/* ---- locks ---- */

static void test_lock(void **state) {
  st_env *env = *state;
  assert_int_equal(env->create_dir(env, "/db"), 0);
  const char *p = "/db/LOCK";
  st_filelock *l1, *l2;
  assert_int_equal(env->lock_file(env, p, &l1), 0);
  assert_true(env->exists(env, p)); /* created */
  l2 = (st_filelock *)1;
  assert_int_equal(env->lock_file(env, p, &l2), STRATA_EBUSY);
  assert_null(l2);
  assert_string_equal(strata_errmsg(),
                      "Busy: lock /db/LOCK: already held by another handle in this process");
  /* The same file by another spelling is the same lock. */
  assert_int_equal(env->lock_file(env, "/db//LOCK", &l2), STRATA_EBUSY);
  assert_errmsg_has("/db//LOCK");
  assert_int_equal(env->unlock_file(env, l1), 0);
  /* Released: can be taken again. */
  assert_int_equal(env->lock_file(env, p, &l2), 0);
  assert_int_equal(env->unlock_file(env, l2), 0);
  assert_int_equal(env->unlock_file(env, NULL), 0);

  /* An existing file keeps its contents when locked. */
  write_file(env, "/db/LOCK2", "keep");
  assert_int_equal(env->lock_file(env, "/db/LOCK2", &l1), 0);
  check_file(env, "/db/LOCK2", "keep");
  assert_int_equal(env->unlock_file(env, l1), 0);

  /* Missing directory: an error naming the path, not Busy. */
  assert_int_equal(env->lock_file(env, "/nodir/LOCK", &l1), STRATA_ENOTFOUND);
  assert_errmsg_has("/nodir/LOCK");
  assert_int_equal(env->lock_file(env, "/db", &l1), STRATA_EIO);
}

/* ---- threads and clock ---- */

static void bump(void *arg) { (*(int *)arg)++; }

static void test_threads_and_clock(void **state) {
  st_env *env = *state;
  int counters[4] = {0, 0, 0, 0};
  st_thread *t[4];
  for (int i = 0; i < 4; i++)
    assert_int_equal(env->thread_create(env, bump, &counters[i], &t[i]), 0);
  for (int i = 0; i < 4; i++)
    env->thread_join(env, t[i]);
  for (int i = 0; i < 4; i++)
    assert_int_equal(counters[i], 1);

  uint64_t a = env->now_micros(env);
  env->sleep_micros(env, 20000);
  uint64_t b = env->now_micros(env);
  assert_true(b >= a + 20000);
  assert_true(b - a < 5000000);
  env->sleep_micros(env, 0);
}

typedef struct reader_arg {
  const st_rafile *f;
  const char *expect;
  size_t len;
  int bad;
} reader_arg;

static void reader(void *p) {
  reader_arg *a = p;
  char scratch[64];
  for (int i = 0; i < 20000; i++) {
    size_t off = (size_t)(i * 7919) % a->len;
    st_slice s;
    if (a->f->read(a->f, off, sizeof scratch, scratch, &s) != 0) a->bad++;
    size_t want = a->len - off < sizeof scratch ? a->len - off : sizeof scratch;
    if (s.size != want || memcmp(s.data, a->expect + off, want) != 0) a->bad++;
  }
}

typedef struct writer_arg {
  st_wfile *w;
  int bad;
} writer_arg;

static void writer(void *p) {
  writer_arg *a = p;
  char rec[100];
  memset(rec, 'w', sizeof rec);
  /* Enough appends to move the file's bytes many times while the readers
   * run. */
  for (int i = 0; i < 20000; i++)
    if (a->w->append(a->w, rec, sizeof rec) != 0) a->bad++;
}

/* Two threads read one rafile while a third appends to another file. */
static void test_rafile_concurrent(void **state) {
  st_env *env = *state;
  static char data[50000];
  for (size_t i = 0; i < sizeof data; i++)
    data[i] = (char)(i * 17 + 3);
  assert_int_equal(st_env_write_file(env, "/ra_conc", data, sizeof data, 0), 0);
  st_rafile *f;
  assert_int_equal(env->new_rafile(env, "/ra_conc", &f), 0);
  writer_arg wa = {NULL, 0};
  assert_int_equal(env->new_wfile(env, "/growing", &wa.w), 0);
  reader_arg args[2] = {{f, data, sizeof data, 0}, {f, data, sizeof data, 0}};
  st_thread *t[3];
  assert_int_equal(env->thread_create(env, writer, &wa, &t[2]), 0);
  for (int i = 0; i < 2; i++)
    assert_int_equal(env->thread_create(env, reader, &args[i], &t[i]), 0);
  for (int i = 0; i < 3; i++)
    env->thread_join(env, t[i]);
  assert_int_equal(args[0].bad + args[1].bad + wa.bad, 0);
  assert_int_equal(wa.w->close(wa.w), 0);
  f->close(f);
  uint64_t sz;
  assert_int_equal(env->file_size(env, "/growing", &sz), 0);
  assert_int_equal(sz, 20000 * 100);
}

/* ---- a database on the memory env ---- */

enum { NKEYS = 20000 };

static void make_key(char *buf, size_t cap, int i) { snprintf(buf, cap, "key%06d", i); }

/* Values of varying length (10..209 bytes) so blocks and tables fill
 * unevenly. */
static size_t make_value(char *buf, int i) {
  size_t n = 10 + (size_t)(i * 37 % 200);
  for (size_t j = 0; j < n; j++)
    buf[j] = (char)('a' + (i + (int)j) % 26);
  return n;
}

static int deleted(int i) { return i % 7 == 3; }

static strata_db *open_db(const char *path, st_env *env, int create) {
  strata_options o;
  strata_options_init(&o);
  o.create_if_missing = create;
  o.write_buffer_size = 64 << 10; /* many flushes and compactions */
  o.env = env;
  strata_db *db = NULL;
  int rc = strata_open(path, &o, &db);
  if (rc) fail_msg("open %s: %s", path, strata_errmsg());
  return db;
}

static void verify_db(strata_db *db) {
  char k[32], v[256];
  strata_buf b = STRATA_BUF_INIT;
  for (int i = 0; i < NKEYS; i++) {
    make_key(k, sizeof k, i);
    int rc = strata_get(db, NULL, k, strlen(k), &b);
    if (deleted(i)) {
      if (rc != STRATA_ENOTFOUND) fail_msg("%s: expected not found, got %d", k, rc);
      continue;
    }
    if (rc) fail_msg("get %s: %s", k, strata_errmsg());
    size_t n = make_value(v, i);
    if (b.size != n || memcmp(b.data, v, n) != 0) fail_msg("%s: wrong value", k);
  }
  strata_buf_free(&b);

  /* Forward, then backward: every live key once, in order. */
  strata_iter *it;
  assert_int_equal(strata_iter_create(db, NULL, &it), 0);
  int i = 0, seen = 0;
  for (strata_iter_seek_to_first(it); strata_iter_valid(it); strata_iter_next(it)) {
    while (deleted(i))
      i++;
    size_t kl, vl;
    const char *key = strata_iter_key(it, &kl);
    const char *val = strata_iter_value(it, &vl);
    make_key(k, sizeof k, i);
    size_t n = make_value(v, i);
    if (kl != strlen(k) || memcmp(key, k, kl) != 0)
      fail_msg("forward: got %.*s, expected %s", (int)kl, key, k);
    if (vl != n || memcmp(val, v, n) != 0) fail_msg("forward: %s: wrong value", k);
    i++;
    seen++;
  }
  assert_int_equal(strata_iter_status(it), 0);
  int live = 0;
  for (int j = 0; j < NKEYS; j++)
    live += !deleted(j);
  assert_int_equal(seen, live);

  i = NKEYS - 1;
  seen = 0;
  for (strata_iter_seek_to_last(it); strata_iter_valid(it); strata_iter_prev(it)) {
    while (deleted(i))
      i--;
    size_t kl;
    const char *key = strata_iter_key(it, &kl);
    make_key(k, sizeof k, i);
    if (kl != strlen(k) || memcmp(key, k, kl) != 0)
      fail_msg("backward: got %.*s, expected %s", (int)kl, key, k);
    i--;
    seen++;
  }
  assert_int_equal(strata_iter_status(it), 0);
  assert_int_equal(seen, live);
  strata_iter_destroy(it);
}

static void test_database_on_memory_env(void **state) {
  st_env *env = *state;
  char path[128];
  snprintf(path, sizeof path, "/tmp/strata_env_mem_test_%d/db", (int)getpid());
  const char *parent_end = strrchr(path, '/');
  char parent[128];
  snprintf(parent, sizeof parent, "%.*s", (int)(parent_end - path), path);
  assert_int_not_equal(access(parent, F_OK), 0);

  strata_db *db = open_db(path, env, 1);
  /* A second handle on the same database is refused by the env's lock. */
  strata_options o;
  strata_options_init(&o);
  o.env = env;
  strata_db *db2 = NULL;
  assert_int_equal(strata_open(path, &o, &db2), STRATA_EBUSY);
  assert_null(db2);

  char k[32], v[256];
  for (int i = 0; i < NKEYS; i++) {
    make_key(k, sizeof k, i);
    size_t n = make_value(v, i);
    if (strata_put(db, NULL, k, strlen(k), v, n) != 0) fail_msg("put: %s", strata_errmsg());
  }
  for (int i = 0; i < NKEYS; i++) {
    if (!deleted(i)) continue;
    make_key(k, sizeof k, i);
    assert_int_equal(strata_delete(db, NULL, k, strlen(k)), 0);
  }
  if (strata_compact_range(db, NULL, 0, NULL, 0) != 0) fail_msg("compact: %s", strata_errmsg());
  verify_db(db);

  /* Tables were written (to the memory env) and compacted below level 0. */
  strata_buf prop = STRATA_BUF_INIT;
  assert_int_equal(strata_property(db, "leveldb.num-files-at-level0", &prop), 0);
  assert_string_equal(prop.data, "0");
  long deeper = 0;
  for (int level = 1; level < 7; level++) {
    char name[64];
    snprintf(name, sizeof name, "leveldb.num-files-at-level%d", level);
    assert_int_equal(strata_property(db, name, &prop), 0);
    deeper += atol(prop.data);
  }
  assert_true(deeper > 0);
  strata_buf_free(&prop);
  strata_close(db);

  /* The database's files are in the env, with their usual names. */
  char **kids;
  size_t n;
  assert_int_equal(env->children(env, path, &kids, &n), 0);
  int current = 0, lock = 0, manifest = 0, tables = 0;
  for (size_t i = 0; i < n; i++) {
    current += strcmp(kids[i], "CURRENT") == 0;
    lock += strcmp(kids[i], "LOCK") == 0;
    manifest += strncmp(kids[i], "MANIFEST-", 9) == 0;
    tables += strstr(kids[i], ".ldb") != NULL;
  }
  st_env_free_children(kids, n);
  assert_int_equal(current, 1);
  assert_int_equal(lock, 1);
  assert_int_equal(manifest, 1);
  assert_true(tables > 0);

  /* Reopen on the same env: everything is still there. */
  db = open_db(path, env, 0);
  verify_db(db);
  strata_close(db);

  /* Nothing reached the real file system. */
  assert_int_not_equal(access(path, F_OK), 0);
  assert_int_not_equal(access(parent, F_OK), 0);

  o.env = env;
  assert_int_equal(strata_destroy(path, &o), 0);
  assert_false(env->exists(env, path));
  assert_true(env->is_dir(env, parent)); /* destroy removes only the db */
  /* Gone for good: opening without create_if_missing fails. */
  assert_int_equal(strata_open(path, &o, &db2), STRATA_EINVAL);
  assert_int_not_equal(access(parent, F_OK), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_write_read_roundtrip, env_setup, env_teardown),
      cmocka_unit_test_setup_teardown(test_large_and_mixed_appends, env_setup, env_teardown),
      cmocka_unit_test_setup_teardown(test_written_data_visible, env_setup, env_teardown),
      cmocka_unit_test_setup_teardown(test_append_mode, env_setup, env_teardown),
      cmocka_unit_test_setup_teardown(test_rafile, env_setup, env_teardown),
      cmocka_unit_test_setup_teardown(test_open_file_outlives_its_name, env_setup, env_teardown),
      cmocka_unit_test_setup_teardown(test_children_and_dirs, env_setup, env_teardown),
      cmocka_unit_test_setup_teardown(test_rename_and_size, env_setup, env_teardown),
      cmocka_unit_test_setup_teardown(test_link_file, env_setup, env_teardown),
      cmocka_unit_test_setup_teardown(test_not_found, env_setup, env_teardown),
      cmocka_unit_test_setup_teardown(test_envs_are_separate, env_setup, env_teardown),
      cmocka_unit_test_setup_teardown(test_wrapped_env, env_setup, env_teardown),
      cmocka_unit_test_setup_teardown(test_lock, env_setup, env_teardown),
      cmocka_unit_test_setup_teardown(test_threads_and_clock, env_setup, env_teardown),
      cmocka_unit_test_setup_teardown(test_rafile_concurrent, env_setup, env_teardown),
      cmocka_unit_test_setup_teardown(test_database_on_memory_env, env_setup, env_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
