/* env_test.c - the POSIX environment: files, directories, locks, threads. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "env/env.h"
#include "util/buf.h"
#include "util/error.h"

static char tmpdir[256];

/* path of name inside the test directory (static buffer rotation so a test
 * can hold a few at once). */
static const char *tpath(const char *name) {
  static char bufs[4][512];
  static int next;
  char *b = bufs[next++ & 3];
  snprintf(b, sizeof bufs[0], "%s/%s", tmpdir, name);
  return b;
}

static void rm_rf(const char *dir) {
  DIR *d = opendir(dir);
  if (!d) return;
  struct dirent *e;
  char p[1024];
  while ((e = readdir(d))) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
    struct stat st;
    if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode))
      rm_rf(p);
    else
      unlink(p);
  }
  closedir(d);
  rmdir(dir);
}

static int group_setup(void **state) {
  (void)state;
  const char *base = getenv("TMPDIR");
  snprintf(tmpdir, sizeof tmpdir, "%s/strata_env_test.XXXXXX", base && *base ? base : "/tmp");
  return mkdtemp(tmpdir) ? 0 : -1;
}

static int group_teardown(void **state) {
  (void)state;
  rm_rf(tmpdir);
  return 0;
}

static void read_all(const char *path, st_buf *out) {
  out->size = 0;
  assert_int_equal(st_env_read_file(st_env_posix(), path, out), 0);
}

static void test_write_read_roundtrip(void **state) {
  (void)state;
  st_env *env = st_env_posix();
  const char *p = tpath("rt");
  assert_int_equal(st_env_write_file(env, p, "hello world", 11, 1), 0);
  st_buf b = ST_BUF_INIT;
  read_all(p, &b);
  assert_int_equal(b.size, 11);
  assert_memory_equal(b.data, "hello world", 11);

  /* A sequential file: exact reads, short only at the end, skip. */
  st_seqfile *f;
  char scratch[32];
  st_slice s;
  assert_int_equal(env->new_seqfile(env, p, &f), 0);
  assert_int_equal(f->read(f, 5, scratch, &s), 0);
  assert_int_equal(s.size, 5);
  assert_memory_equal(s.data, "hello", 5);
  assert_int_equal(f->skip_bytes(f, 1), 0);
  assert_int_equal(f->read(f, 32, scratch, &s), 0);
  assert_int_equal(s.size, 5);
  assert_memory_equal(s.data, "world", 5);
  assert_int_equal(f->read(f, 32, scratch, &s), 0);
  assert_int_equal(s.size, 0);
  assert_int_equal(f->skip_bytes(f, 1000), 0); /* past the end: fine */
  assert_int_equal(f->read(f, 32, scratch, &s), 0);
  assert_int_equal(s.size, 0);
  f->close(f);

  /* Truncation on reopen for writing. */
  assert_int_equal(st_env_write_file(env, p, "x", 1, 0), 0);
  read_all(p, &b);
  assert_int_equal(b.size, 1);
  st_buf_free(&b);
}

/* Appends of every size around the 64 KiB buffer reach the file intact and
 * in order. */
static void test_large_and_mixed_appends(void **state) {
  (void)state;
  st_env *env = st_env_posix();
  const char *p = tpath("mixed");
  size_t sizes[] = {0, 1, 7, 65536, 3, 65535, 65537, 100, 200000, 1, 32768, 32768, 5};
  size_t total = 0;
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
    total += sizes[i];
  char *expect = malloc(total);
  assert_non_null(expect);
  for (size_t i = 0; i < total; i++)
    expect[i] = (char)(i * 131 + (i >> 9));

  st_wfile *w;
  assert_int_equal(env->new_wfile(env, p, &w), 0);
  size_t off = 0;
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
    assert_int_equal(w->append(w, expect + off, sizes[i]), 0);
    off += sizes[i];
    if (i % 3 == 2) assert_int_equal(w->flush(w), 0);
  }
  assert_int_equal(w->close(w), 0);

  uint64_t sz;
  assert_int_equal(env->file_size(env, p, &sz), 0);
  assert_int_equal(sz, total);
  st_buf b = ST_BUF_INIT;
  read_all(p, &b);
  assert_int_equal(b.size, total);
  assert_memory_equal(b.data, expect, total);
  st_buf_free(&b);
  free(expect);
}

/* flush() hands data to the OS: another reader sees it before close. */
static void test_flush_visible(void **state) {
  (void)state;
  st_env *env = st_env_posix();
  const char *p = tpath("flushvis");
  st_wfile *w;
  assert_int_equal(env->new_wfile(env, p, &w), 0);
  assert_int_equal(w->append(w, "abc", 3), 0);
  assert_int_equal(w->flush(w), 0);
  uint64_t sz;
  assert_int_equal(env->file_size(env, p, &sz), 0);
  assert_int_equal(sz, 3);
  assert_int_equal(w->append(w, "def", 3), 0);
  assert_int_equal(w->sync(w), 0);
  assert_int_equal(env->file_size(env, p, &sz), 0);
  assert_int_equal(sz, 6);
  assert_int_equal(w->close(w), 0);
}

static void test_append_mode(void **state) {
  (void)state;
  st_env *env = st_env_posix();
  const char *p = tpath("app");
  assert_int_equal(st_env_write_file(env, p, "abc", 3, 0), 0);
  st_wfile *w;
  assert_int_equal(env->new_appendable(env, p, &w), 0);
  assert_int_equal(w->append(w, "def", 3), 0);
  assert_int_equal(w->sync(w), 0);
  assert_int_equal(w->append(w, "gh", 2), 0);
  assert_int_equal(w->close(w), 0);
  st_buf b = ST_BUF_INIT;
  read_all(p, &b);
  assert_int_equal(b.size, 8);
  assert_memory_equal(b.data, "abcdefgh", 8);

  /* Appendable creates a missing file. */
  const char *q = tpath("app_new");
  assert_int_equal(env->new_appendable(env, q, &w), 0);
  assert_int_equal(w->append(w, "z", 1), 0);
  assert_int_equal(w->close(w), 0);
  read_all(q, &b);
  assert_int_equal(b.size, 1);
  st_buf_free(&b);
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static void test_children_and_dirs(void **state) {
  (void)state;
  st_env *env = st_env_posix();
  const char *d = tpath("kids");
  assert_int_equal(env->create_dir(env, d), 0);
  assert_int_equal(env->create_dir(env, d), 0); /* existing: fine */
  assert_true(env->is_dir(env, d));
  assert_true(env->exists(env, d));
  char p[600];
  const char *names[] = {"000001.log", "CURRENT", "LOCK"};
  for (int i = 0; i < 3; i++) {
    snprintf(p, sizeof p, "%s/%s", d, names[i]);
    assert_int_equal(st_env_write_file(env, p, "x", 1, 0), 0);
    assert_false(env->is_dir(env, p));
    assert_true(env->exists(env, p));
  }
  char **kids;
  size_t n;
  assert_int_equal(env->children(env, d, &kids, &n), 0);
  assert_int_equal(n, 3);
  qsort(kids, n, sizeof *kids, cmp_str);
  for (int i = 0; i < 3; i++)
    assert_string_equal(kids[i], names[i]);
  st_env_free_children(kids, n);

  assert_int_equal(env->sync_dir(env, d), 0);

  /* A directory that is not empty cannot be removed. */
  assert_int_equal(env->remove_dir(env, d), STRATA_EIO);
  assert_non_null(strstr(strata_errmsg(), d));
  for (int i = 0; i < 3; i++) {
    snprintf(p, sizeof p, "%s/%s", d, names[i]);
    assert_int_equal(env->remove_file(env, p), 0);
    assert_false(env->exists(env, p));
  }
  assert_int_equal(env->children(env, d, &kids, &n), 0);
  assert_int_equal(n, 0);
  st_env_free_children(kids, n);
  assert_int_equal(env->remove_dir(env, d), 0);
  assert_false(env->exists(env, d));
  assert_false(env->is_dir(env, d));

  /* Missing directory: NotFound naming it. */
  assert_int_equal(env->children(env, d, &kids, &n), STRATA_ENOTFOUND);
  assert_non_null(strstr(strata_errmsg(), d));
  st_env_free_children(NULL, 0);

  /* create_dir on a file. */
  const char *f = tpath("plainfile");
  assert_int_equal(st_env_write_file(env, f, "x", 1, 0), 0);
  assert_int_equal(env->create_dir(env, f), STRATA_EINVAL);
  assert_non_null(strstr(strata_errmsg(), "exists and is not a directory"));
  assert_non_null(strstr(strata_errmsg(), f));
}

static void test_rename_and_size(void **state) {
  (void)state;
  st_env *env = st_env_posix();
  const char *a = tpath("ren_a"), *b = tpath("ren_b");
  assert_int_equal(st_env_write_file(env, a, "12345", 5, 0), 0);
  assert_int_equal(st_env_write_file(env, b, "1", 1, 0), 0);
  assert_int_equal(env->rename(env, a, b), 0); /* replaces b */
  assert_false(env->exists(env, a));
  uint64_t sz = 99;
  assert_int_equal(env->file_size(env, b, &sz), 0);
  assert_int_equal(sz, 5);

  assert_int_equal(env->file_size(env, a, &sz), STRATA_ENOTFOUND);
  assert_non_null(strstr(strata_errmsg(), a));
  assert_int_equal(env->rename(env, a, b), STRATA_ENOTFOUND);
  assert_non_null(strstr(strata_errmsg(), a));
  assert_int_equal(env->remove_file(env, a), STRATA_ENOTFOUND);
  assert_non_null(strstr(strata_errmsg(), a));
}

/* link_file: a second name of the same file; its errors. Linking across
 * file systems (STRATA_ENOTSUP) is exercised by suite.checkpoint when the
 * machine has two. */
static void test_link_file(void **state) {
  (void)state;
  st_env *env = st_env_posix();
  assert_non_null(env->link_file);
  const char *a = tpath("link_a"), *b = tpath("link_b");
  assert_int_equal(st_env_write_file(env, a, "shared", 6, 1), 0);
  assert_int_equal(env->link_file(env, a, b), 0);
  struct stat sa, sb;
  assert_int_equal(stat(a, &sa), 0);
  assert_int_equal(stat(b, &sb), 0);
  assert_true(sa.st_ino == sb.st_ino && sa.st_nlink == 2);
  /* Removing one name leaves the other. */
  assert_int_equal(env->remove_file(env, a), 0);
  st_buf got = ST_BUF_INIT;
  read_all(b, &got);
  assert_int_equal(got.size, 6);
  assert_memory_equal(got.data, "shared", 6);
  st_buf_free(&got);
  /* Errors name both paths: a missing source, an existing target. */
  assert_int_equal(env->link_file(env, a, tpath("link_c")), STRATA_ENOTFOUND);
  assert_non_null(strstr(strata_errmsg(), a));
  assert_int_equal(st_env_write_file(env, a, "x", 1, 0), 0);
  assert_int_equal(env->link_file(env, a, b), STRATA_EIO);
  assert_non_null(strstr(strata_errmsg(), b));
  assert_non_null(strstr(strata_errmsg(), "exists"));
  /* A directory cannot be linked (EPERM on Linux: reported as "cannot"). */
  const char *d = tpath("link_dir");
  assert_int_equal(env->create_dir(env, d), 0);
  assert_int_equal(env->link_file(env, d, tpath("link_dir2")), STRATA_ENOTSUP);
  env->remove_file(env, a);
  env->remove_file(env, b);
  env->remove_dir(env, d);
}

static void test_not_found(void **state) {
  (void)state;
  st_env *env = st_env_posix();
  const char *p = tpath("no_such_file");
  char expect[700];
  snprintf(expect, sizeof expect, "NotFound: %s: No such file or directory", p);

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

  /* A write into a missing directory names the path. */
  const char *q = tpath("no_dir/file");
  st_wfile *w;
  assert_int_equal(env->new_wfile(env, q, &w), STRATA_ENOTFOUND);
  assert_non_null(strstr(strata_errmsg(), q));
  assert_int_equal(st_env_write_file(env, q, "x", 1, 0), STRATA_ENOTFOUND);
  assert_non_null(strstr(strata_errmsg(), q));
}

static void test_errors_name_path(void **state) {
  (void)state;
  st_env *env = st_env_posix();
  /* Opening a directory for writing fails with EISDIR: an I/O error. */
  st_wfile *w;
  assert_int_equal(env->new_wfile(env, tmpdir, &w), STRATA_EIO);
  assert_non_null(strstr(strata_errmsg(), "IO error: open "));
  assert_non_null(strstr(strata_errmsg(), tmpdir));
  st_seqfile *f;
  const char *p = tpath("seqdir");
  assert_int_equal(env->create_dir(env, p), 0);
  assert_int_equal(env->new_seqfile(env, p, &f), 0); /* opening a dir works */
  char scratch[8];
  st_slice s;
  assert_int_equal(f->read(f, 8, scratch, &s), STRATA_EIO); /* EISDIR */
  assert_non_null(strstr(strata_errmsg(), p));
  assert_non_null(strstr(strata_errmsg(), "read"));
  f->close(f);
}

static void test_rafile(void **state) {
  (void)state;
  st_env *env = st_env_posix();
  const char *p = tpath("ra");
  char data[10000];
  for (size_t i = 0; i < sizeof data; i++)
    data[i] = (char)(i % 251);
  assert_int_equal(st_env_write_file(env, p, data, sizeof data, 0), 0);

  st_rafile *f;
  assert_int_equal(env->new_rafile(env, p, &f), 0);
  char scratch[200];
  st_slice s;
  assert_int_equal(f->read(f, 100, 50, scratch, &s), 0);
  assert_int_equal(s.size, 50);
  assert_memory_equal(s.data, data + 100, 50);
  /* mmap'ed: the slice points into the mapping, not scratch. */
  assert_true(s.data != scratch);
  /* Past the end: fewer bytes, not an error. */
  assert_int_equal(f->read(f, sizeof data - 10, 100, scratch, &s), 0);
  assert_int_equal(s.size, 10);
  assert_memory_equal(s.data, data + sizeof data - 10, 10);
  assert_int_equal(f->read(f, sizeof data, 100, scratch, &s), 0);
  assert_int_equal(s.size, 0);
  assert_int_equal(f->read(f, (uint64_t)1 << 40, 100, scratch, &s), 0);
  assert_int_equal(s.size, 0);
  f->close(f);

  /* An empty file (not mappable). */
  const char *e = tpath("ra_empty");
  assert_int_equal(st_env_write_file(env, e, "", 0, 0), 0);
  assert_int_equal(env->new_rafile(env, e, &f), 0);
  assert_int_equal(f->read(f, 0, 10, scratch, &s), 0);
  assert_int_equal(s.size, 0);
  f->close(f);
}

/* Beyond 1000 live mappings the env reads with pread; both behave alike. */
static void test_rafile_mmap_limit(void **state) {
  (void)state;
  st_env *env = st_env_posix();
  const char *p = tpath("ra_many");
  assert_int_equal(st_env_write_file(env, p, "0123456789", 10, 0), 0);
  enum { N = 1005 };
  st_rafile **fs = calloc(N, sizeof *fs);
  assert_non_null(fs);
  char scratch[16];
  st_slice s;
  int in_scratch = 0;
  for (int i = 0; i < N; i++) {
    assert_int_equal(env->new_rafile(env, p, &fs[i]), 0);
    memset(scratch, 0, sizeof scratch);
    assert_int_equal(fs[i]->read(fs[i], 8, 16, scratch, &s), 0);
    assert_int_equal(s.size, 2);
    assert_memory_equal(s.data, "89", 2);
    if (s.data == scratch) in_scratch++;
  }
  /* The first 1000 are maps (fewer if something else holds some). */
  assert_true(in_scratch >= N - 1000);
  assert_true(in_scratch < N);
  for (int i = 0; i < N; i++)
    fs[i]->close(fs[i]);
  /* Slots come back on close. */
  assert_int_equal(env->new_rafile(env, p, &fs[0]), 0);
  assert_int_equal(fs[0]->read(fs[0], 0, 4, scratch, &s), 0);
  assert_true(s.data != scratch);
  fs[0]->close(fs[0]);
  free(fs);
}

/* ---- locks ---- */

static void test_lock_same_process(void **state) {
  (void)state;
  st_env *env = st_env_posix();
  const char *p = tpath("LOCK");
  st_filelock *l1, *l2;
  assert_int_equal(env->lock_file(env, p, &l1), 0);
  assert_true(env->exists(env, p));
  l2 = (st_filelock *)1;
  assert_int_equal(env->lock_file(env, p, &l2), STRATA_EBUSY);
  assert_null(l2);
  char expect[700];
  snprintf(expect, sizeof expect,
           "Busy: lock %s: already held by another process or another handle in this process", p);
  assert_string_equal(strata_errmsg(), expect);
  assert_int_equal(env->unlock_file(env, l1), 0);
  /* Released: can be taken again. */
  assert_int_equal(env->lock_file(env, p, &l2), 0);
  assert_int_equal(env->unlock_file(env, l2), 0);

  /* Missing directory: an error naming the path, not Busy. */
  const char *q = tpath("nodir/LOCK");
  assert_int_equal(env->lock_file(env, q, &l1), STRATA_ENOTFOUND);
  assert_non_null(strstr(strata_errmsg(), q));
}

/* Runs in a forked child: returns the exit status. */
static int child_try_lock(const char *p) {
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    st_env *env = st_env_posix();
    st_filelock *l;
    int rc = env->lock_file(env, p, &l);
    if (rc == 0) env->unlock_file(env, l);
    _exit(rc == STRATA_EBUSY ? 10 : rc == 0 ? 20 : 30);
  }
  int status;
  assert_int_equal(waitpid(pid, &status, 0), pid);
  assert_true(WIFEXITED(status));
  return WEXITSTATUS(status);
}

static void test_lock_other_process(void **state) {
  (void)state;
  st_env *env = st_env_posix();
  const char *p = tpath("LOCK2");
  st_filelock *l;
  assert_int_equal(env->lock_file(env, p, &l), 0);
  assert_int_equal(child_try_lock(p), 10); /* busy in the child */
  assert_int_equal(env->unlock_file(env, l), 0);
  assert_int_equal(child_try_lock(p), 20); /* free once released */
}

/* Another process holding a classic fcntl() lock -- what LevelDB takes --
 * makes lock_file fail with Busy. */
static void test_lock_vs_classic_posix_lock(void **state) {
  (void)state;
  st_env *env = st_env_posix();
  const char *p = tpath("LOCK3");
  int to_parent[2], to_child[2];
  assert_int_equal(pipe(to_parent), 0);
  assert_int_equal(pipe(to_child), 0);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    int fd = open(p, O_RDWR | O_CREAT, 0644);
    struct flock fl;
    memset(&fl, 0, sizeof fl);
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;
    char c = fd >= 0 && fcntl(fd, F_SETLK, &fl) == 0 ? 'y' : 'n';
    if (write(to_parent[1], &c, 1) != 1) _exit(1);
    if (read(to_child[0], &c, 1) != 1) _exit(1); /* hold until told */
    _exit(0);
  }
  char c;
  assert_int_equal(read(to_parent[0], &c, 1), 1);
  assert_int_equal(c, 'y');
  st_filelock *l;
  assert_int_equal(env->lock_file(env, p, &l), STRATA_EBUSY);
  c = 'x';
  assert_int_equal(write(to_child[1], &c, 1), 1);
  int status;
  assert_int_equal(waitpid(pid, &status, 0), pid);
  assert_int_equal(env->lock_file(env, p, &l), 0);
  assert_int_equal(env->unlock_file(env, l), 0);
  close(to_parent[0]);
  close(to_parent[1]);
  close(to_child[0]);
  close(to_child[1]);
}

/* ---- close-on-exec ---- */

#define MAX_FDS 4096

static void fd_snapshot(unsigned char *open_fds) {
  memset(open_fds, 0, MAX_FDS);
  DIR *d = opendir("/proc/self/fd");
  if (!d) {
    /* No /proc: probe every descriptor instead. */
    for (int fd = 0; fd < MAX_FDS; fd++)
      open_fds[fd] = fcntl(fd, F_GETFD) >= 0;
    return;
  }
  int self = dirfd(d);
  struct dirent *e;
  while ((e = readdir(d))) {
    int fd = atoi(e->d_name);
    if (e->d_name[0] < '0' || e->d_name[0] > '9' || fd == self || fd >= MAX_FDS) continue;
    open_fds[fd] = 1;
  }
  closedir(d);
}

static void test_cloexec(void **state) {
  (void)state;
  st_env *env = st_env_posix();
  static unsigned char before[MAX_FDS], after[MAX_FDS];
  const char *p = tpath("cloexec"), *e = tpath("cloexec_empty");
  assert_int_equal(st_env_write_file(env, p, "abc", 3, 0), 0);
  assert_int_equal(st_env_write_file(env, e, "", 0, 0), 0);

  fd_snapshot(before);
  st_seqfile *sf;
  st_rafile *rf;
  st_wfile *wf, *af;
  st_filelock *lk;
  assert_int_equal(env->new_seqfile(env, p, &sf), 0);
  assert_int_equal(env->new_rafile(env, e, &rf), 0); /* pread: keeps its fd */
  assert_int_equal(env->new_wfile(env, tpath("cloexec_w"), &wf), 0);
  assert_int_equal(env->new_appendable(env, p, &af), 0);
  assert_int_equal(env->lock_file(env, tpath("cloexec_lock"), &lk), 0);
  fd_snapshot(after);

  int fresh = 0;
  for (int fd = 0; fd < MAX_FDS; fd++) {
    if (!after[fd] || before[fd]) continue;
    fresh++;
    int flags = fcntl(fd, F_GETFD);
    assert_true(flags >= 0);
    assert_true(flags & FD_CLOEXEC);
  }
  assert_int_equal(fresh, 5);

  sf->close(sf);
  rf->close(rf);
  assert_int_equal(wf->close(wf), 0);
  assert_int_equal(af->close(af), 0);
  assert_int_equal(env->unlock_file(env, lk), 0);

  /* Everything closed again: no descriptor leaked. */
  fd_snapshot(after);
  assert_memory_equal(before, after, MAX_FDS);
}

/* ---- sticky write errors ---- */

static void test_sticky_write_error(void **state) {
  (void)state;
  st_env *env = st_env_posix();
  if (access("/dev/full", W_OK) != 0) {
    skip();
    return;
  }
  st_wfile *w;
  assert_int_equal(env->new_wfile(env, "/dev/full", &w), 0);
  assert_int_equal(w->append(w, "abc", 3), 0); /* buffered */
  assert_int_equal(w->flush(w), STRATA_EIO);
  assert_non_null(strstr(strata_errmsg(), "/dev/full"));
  assert_non_null(strstr(strata_errmsg(), "write"));
  char first[ST_ERRMSG_MAX];
  snprintf(first, sizeof first, "%s", strata_errmsg());
  /* Nothing is buffered now, but the file must still refuse. */
  st_err_clear();
  assert_int_equal(w->flush(w), STRATA_EIO);
  assert_string_equal(strata_errmsg(), first);
  assert_int_equal(w->append(w, "d", 1), STRATA_EIO);
  assert_int_equal(w->sync(w), STRATA_EIO);
  st_err_clear();
  assert_int_equal(w->close(w), STRATA_EIO);
  assert_string_equal(strata_errmsg(), first);

  /* A large append that goes straight to the kernel fails the same way. */
  static char big[100000];
  assert_int_equal(env->new_wfile(env, "/dev/full", &w), 0);
  assert_int_equal(w->append(w, big, sizeof big), STRATA_EIO);
  assert_int_equal(w->append(w, "x", 1), STRATA_EIO);
  assert_int_equal(w->flush(w), STRATA_EIO);
  assert_int_equal(w->close(w), STRATA_EIO);
  /* Not st_env_write_file on /dev/full: it removes the file it failed to
   * write, and as root that would unlink the device node. */
}

/* An env whose files fail to sync, to see st_env_write_file clean up. */
typedef struct failing_wfile {
  st_wfile base;
  st_wfile *real;
} failing_wfile;

static int fw_append(st_wfile *f, const char *d, size_t n) {
  return ((failing_wfile *)f)->real->append(((failing_wfile *)f)->real, d, n);
}
static int fw_flush(st_wfile *f) {
  return ((failing_wfile *)f)->real->flush(((failing_wfile *)f)->real);
}
static int fw_sync(st_wfile *f) {
  (void)f;
  return st_err(STRATA_EIO, "injected sync failure");
}
static int fw_close(st_wfile *f) {
  failing_wfile *w = (failing_wfile *)f;
  int rc = w->real->close(w->real);
  free(w);
  return rc;
}
static int fw_new_wfile(st_env *env, const char *path, st_wfile **out) {
  (void)env;
  failing_wfile *w = malloc(sizeof *w);
  assert_non_null(w);
  st_env *posix = st_env_posix();
  int rc = posix->new_wfile(posix, path, &w->real);
  if (rc) {
    free(w);
    return rc;
  }
  w->base.append = fw_append;
  w->base.flush = fw_flush;
  w->base.sync = fw_sync;
  w->base.close = fw_close;
  *out = &w->base;
  return 0;
}

static void test_write_file_failure_removes(void **state) {
  (void)state;
  st_env env = *st_env_posix();
  env.new_wfile = fw_new_wfile;
  const char *p = tpath("half_written");
  assert_int_equal(st_env_write_file(&env, p, "abc", 3, 0), 0); /* no sync: fine */
  assert_true(env.exists(&env, p));
  assert_int_equal(st_env_write_file(&env, p, "abc", 3, 1), STRATA_EIO);
  assert_string_equal(strata_errmsg(), "IO error: injected sync failure");
  assert_false(env.exists(&env, p));
}

/* ---- threads and clock ---- */

static void bump(void *arg) { (*(int *)arg)++; }

static void test_threads(void **state) {
  (void)state;
  st_env *env = st_env_posix();
  int counters[4] = {0, 0, 0, 0};
  st_thread *t[4];
  for (int i = 0; i < 4; i++)
    assert_int_equal(env->thread_create(env, bump, &counters[i], &t[i]), 0);
  for (int i = 0; i < 4; i++)
    env->thread_join(env, t[i]);
  for (int i = 0; i < 4; i++)
    assert_int_equal(counters[i], 1);
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

static void test_rafile_concurrent(void **state) {
  (void)state;
  st_env *env = st_env_posix();
  const char *p = tpath("ra_conc");
  static char data[50000];
  for (size_t i = 0; i < sizeof data; i++)
    data[i] = (char)(i * 17 + 3);
  assert_int_equal(st_env_write_file(env, p, data, sizeof data, 0), 0);
  st_rafile *f;
  assert_int_equal(env->new_rafile(env, p, &f), 0);
  reader_arg args[2] = {{f, data, sizeof data, 0}, {f, data, sizeof data, 0}};
  st_thread *t[2];
  for (int i = 0; i < 2; i++)
    assert_int_equal(env->thread_create(env, reader, &args[i], &t[i]), 0);
  for (int i = 0; i < 2; i++)
    env->thread_join(env, t[i]);
  assert_int_equal(args[0].bad + args[1].bad, 0);
  f->close(f);
}

static void test_clock(void **state) {
  (void)state;
  st_env *env = st_env_posix();
  uint64_t a = env->now_micros(env);
  env->sleep_micros(env, 20000);
  uint64_t b = env->now_micros(env);
  assert_true(b >= a + 20000);
  assert_true(b - a < 5000000);
  env->sleep_micros(env, 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_write_read_roundtrip),
      cmocka_unit_test(test_large_and_mixed_appends),
      cmocka_unit_test(test_flush_visible),
      cmocka_unit_test(test_append_mode),
      cmocka_unit_test(test_children_and_dirs),
      cmocka_unit_test(test_rename_and_size),
      cmocka_unit_test(test_link_file),
      cmocka_unit_test(test_not_found),
      cmocka_unit_test(test_errors_name_path),
      cmocka_unit_test(test_rafile),
      cmocka_unit_test(test_rafile_mmap_limit),
      cmocka_unit_test(test_lock_same_process),
      cmocka_unit_test(test_lock_other_process),
      cmocka_unit_test(test_lock_vs_classic_posix_lock),
      cmocka_unit_test(test_cloexec),
      cmocka_unit_test(test_sticky_write_error),
      cmocka_unit_test(test_write_file_failure_removes),
      cmocka_unit_test(test_threads),
      cmocka_unit_test(test_rafile_concurrent),
      cmocka_unit_test(test_clock),
  };
  return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
