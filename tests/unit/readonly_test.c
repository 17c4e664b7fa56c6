/* readonly_test.c - read-only handles (strata_options.read_only) and
 * strata_catch_up, beside a writer handle in the same process on the
 * in-memory env: the state as of the open, catch-up after puts, deletes,
 * batches, flushes, compactions and a writer that closes and reopens (a new
 * MANIFEST), snapshots and iterators that keep their view, writes refused,
 * torn log tails, three live logs, missing files and databases.
 *
 * Every read-only handle runs on a guard env: the memory env with every
 * call that could change a file, take a lock or start a thread replaced by
 * one that counts it and fails; each test ends by checking the count is 0.
 * After a catch-up with the writer idle, the read-only handle must show
 * exactly what the writer handle shows (same_as_writer). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "db/log_writer.h"
#include "db/write_batch.h"
#include "strata.h"

#define DB "/db"

static strata_env *mem;
static strata_env guard;
static int mutations;
static char mutation_what[128];

/* --- the guard env ------------------------------------------------------ */

static int refuse(const char *what, const char *path) {
  mutations++;
  snprintf(mutation_what, sizeof mutation_what, "%s %s", what, path ? path : "");
  return strata_error_set(STRATA_EIO, "guard env: %s %s refused", what, path ? path : "");
}
static int g_new_wfile(strata_env *e, const char *p, strata_wfile **o) {
  (void)e;
  *o = NULL;
  return refuse("new_wfile", p);
}
static int g_new_appendable(strata_env *e, const char *p, strata_wfile **o) {
  (void)e;
  *o = NULL;
  return refuse("new_appendable", p);
}
static int g_remove_file(strata_env *e, const char *p) {
  (void)e;
  return refuse("remove_file", p);
}
static int g_create_dir(strata_env *e, const char *p) {
  (void)e;
  return refuse("create_dir", p);
}
static int g_remove_dir(strata_env *e, const char *p) {
  (void)e;
  return refuse("remove_dir", p);
}
static int g_rename(strata_env *e, const char *f, const char *t) {
  (void)e;
  (void)t;
  return refuse("rename", f);
}
static int g_sync_dir(strata_env *e, const char *p) {
  (void)e;
  return refuse("sync_dir", p);
}
static int g_lock_file(strata_env *e, const char *p, strata_filelock **o) {
  (void)e;
  *o = NULL;
  return refuse("lock_file", p);
}
static int g_unlock_file(strata_env *e, strata_filelock *l) {
  (void)e;
  (void)l;
  return refuse("unlock_file", NULL);
}
static int g_thread_create(strata_env *e, void (*fn)(void *), void *arg, strata_thread **o) {
  (void)e;
  (void)fn;
  (void)arg;
  *o = NULL;
  return refuse("thread_create", NULL);
}

static int setup(void **state) {
  (void)state;
  mem = strata_env_memory();
  assert_non_null(mem);
  guard = *mem; /* same state: the same files */
  guard.new_wfile = g_new_wfile;
  guard.new_appendable = g_new_appendable;
  guard.remove_file = g_remove_file;
  guard.create_dir = g_create_dir;
  guard.remove_dir = g_remove_dir;
  guard.rename = g_rename;
  guard.sync_dir = g_sync_dir;
  guard.lock_file = g_lock_file;
  guard.unlock_file = g_unlock_file;
  guard.thread_create = g_thread_create;
  mutations = 0;
  mutation_what[0] = '\0';
  return 0;
}

static int teardown(void **state) {
  (void)state;
  strata_env_memory_destroy(mem);
  if (mutations)
    fail_msg("a read-only handle made %d mutating call(s), e.g. %s", mutations, mutation_what);
  return 0;
}

/* --- handles ------------------------------------------------------------ */

static strata_db *open_writer(void) {
  strata_options o;
  strata_options_init(&o);
  o.create_if_missing = 1;
  o.env = mem;
  o.write_buffer_size = 16 << 10; /* many flushes and logs */
  o.max_file_size = 16 << 10;
  o.block_size = 256;
  strata_db *db = NULL;
  if (strata_open(DB, &o, &db)) fail_msg("writer open: %s", strata_errmsg());
  return db;
}

static int try_open_ro(const char *path, strata_db **db) {
  strata_options o;
  strata_options_init(&o);
  o.read_only = 1;
  o.create_if_missing = 1; /* ignored */
  o.env = &guard;
  return strata_open(path, &o, db);
}

static strata_db *open_ro(void) {
  strata_db *db = NULL;
  if (try_open_ro(DB, &db)) fail_msg("read-only open: %s", strata_errmsg());
  return db;
}

static void catch_up(strata_db *ro) {
  if (strata_catch_up(ro)) fail_msg("catch-up: %s", strata_errmsg());
}

static void put(strata_db *db, const char *k, const char *v) {
  if (strata_put(db, NULL, k, strlen(k), v, strlen(v))) fail_msg("put %s: %s", k, strata_errmsg());
}

static void del(strata_db *db, const char *k) {
  if (strata_delete(db, NULL, k, strlen(k))) fail_msg("delete %s: %s", k, strata_errmsg());
}

/* The value put_range gives key i: "<tag>-<i>" padded to about 100 bytes. */
static const char *val(char *out, size_t cap, const char *tag, int i) {
  snprintf(out, cap, "%s-%06d-%090d", tag, i, i);
  return out;
}

/* Puts keys k<from>..k<to-1> (k%06d) with values val(tag, i). */
static void put_range(strata_db *db, int from, int to, const char *tag) {
  for (int i = from; i < to; i++) {
    char k[32], v[128];
    snprintf(k, sizeof k, "k%06d", i);
    put(db, k, val(v, sizeof v, tag, i));
  }
}

static void check(strata_db *db, const strata_snapshot *snap, const char *k, const char *expect) {
  strata_read_options ro;
  strata_read_options_init(&ro);
  ro.snapshot = snap;
  strata_buf b = STRATA_BUF_INIT;
  int rc = strata_get(db, &ro, k, strlen(k), &b);
  if (!expect) {
    if (rc != STRATA_ENOTFOUND)
      fail_msg("%s: expected not found, got %d (%s)", k, rc, strata_errmsg());
  } else {
    if (rc) fail_msg("%s: %s", k, strata_errmsg());
    if (b.size != strlen(expect) || memcmp(b.data, expect, b.size))
      fail_msg("%s: got '%.*s' expected '%s'", k, (int)b.size, b.data, expect);
  }
  strata_buf_free(&b);
}

/* A digest of everything an iterator shows, forward; *n gets the count. */
static uint64_t digest_iter(strata_iter *it, size_t *n) {
  uint64_t h = 1469598103934665603ULL;
  *n = 0;
  for (strata_iter_seek_to_first(it); strata_iter_valid(it); strata_iter_next(it)) {
    size_t kl, vl;
    const char *k = strata_iter_key(it, &kl), *v = strata_iter_value(it, &vl);
    for (size_t i = 0; i < kl; i++)
      h = (h ^ (unsigned char)k[i]) * 1099511628211ULL;
    h = (h ^ 0x100) * 1099511628211ULL;
    for (size_t i = 0; i < vl; i++)
      h = (h ^ (unsigned char)v[i]) * 1099511628211ULL;
    h = (h ^ 0x200) * 1099511628211ULL;
    (*n)++;
  }
  if (strata_iter_status(it)) fail_msg("iterator: %s", strata_errmsg());
  return h;
}

static uint64_t digest(strata_db *db, const strata_snapshot *snap, size_t *n) {
  strata_read_options ro;
  strata_read_options_init(&ro);
  ro.snapshot = snap;
  strata_iter *it = NULL;
  if (strata_iter_create(db, &ro, &it)) fail_msg("iterator: %s", strata_errmsg());
  uint64_t h = digest_iter(it, n);
  strata_iter_destroy(it);
  return h;
}

/* The read-only handle shows exactly what the (idle) writer shows: the same
 * entries forward and backward, and the same answer to a get of each. */
static void same_as_writer(strata_db *ro, strata_db *w) {
  strata_iter *a = NULL, *b = NULL;
  assert_int_equal(strata_iter_create(ro, NULL, &a), 0);
  assert_int_equal(strata_iter_create(w, NULL, &b), 0);
  size_t n = 0;
  strata_iter_seek_to_first(a);
  strata_iter_seek_to_first(b);
  strata_buf got = STRATA_BUF_INIT;
  while (strata_iter_valid(b)) {
    size_t kl, vl, kl2, vl2;
    const char *k = strata_iter_key(b, &kl), *v = strata_iter_value(b, &vl);
    if (!strata_iter_valid(a)) fail_msg("read-only handle ends before key %.*s", (int)kl, k);
    const char *k2 = strata_iter_key(a, &kl2), *v2 = strata_iter_value(a, &vl2);
    if (kl != kl2 || memcmp(k, k2, kl) || vl != vl2 || memcmp(v, v2, vl))
      fail_msg("entry %zu: writer has %.*s, read-only handle %.*s", n, (int)kl, k, (int)kl2, k2);
    if (strata_get(ro, NULL, k, kl, &got) || got.size != vl || memcmp(got.data, v, vl))
      fail_msg("get %.*s on the read-only handle differs", (int)kl, k);
    n++;
    strata_iter_next(a);
    strata_iter_next(b);
  }
  if (strata_iter_valid(a)) fail_msg("read-only handle has more entries than the writer (%zu)", n);
  assert_int_equal(strata_iter_status(a), 0);
  /* Backward too. */
  size_t back = 0;
  for (strata_iter_seek_to_last(a); strata_iter_valid(a); strata_iter_prev(a))
    back++;
  assert_int_equal(back, n);
  strata_buf_free(&got);
  strata_iter_destroy(a);
  strata_iter_destroy(b);
}

static int file_count(const char *suffix) {
  /* Counted on the memory env directly. */
  char **names = NULL;
  size_t n = 0;
  int count = 0;
  if (mem->children(mem, DB, &names, &n)) return -1;
  for (size_t i = 0; i < n; i++) {
    size_t l = strlen(names[i]), s = strlen(suffix);
    if (l >= s && strcmp(names[i] + l - s, suffix) == 0) count++;
    free(names[i]);
  }
  free(names);
  return count;
}

/* --- tests -------------------------------------------------------------- */

static void test_missing_database(void **state) {
  (void)state;
  strata_db *db = (strata_db *)1;
  assert_int_equal(try_open_ro("/nothing/here", &db), STRATA_EINVAL);
  assert_null(db);
  assert_non_null(strstr(strata_errmsg(), "does not exist"));
  assert_int_equal(mem->exists(mem, "/nothing/here"), 0);
  /* A directory that holds no database. */
  assert_int_equal(mem->create_dir(mem, "/empty"), 0);
  assert_int_equal(try_open_ro("/empty", &db), STRATA_EINVAL);
  assert_non_null(strstr(strata_errmsg(), "CURRENT"));
  char **names = NULL;
  size_t n = 9;
  assert_int_equal(mem->children(mem, "/empty", &names, &n), 0);
  assert_int_equal(n, 0); /* no LOCK, no LOG */
  free(names);
  /* A file where the directory should be. */
  strata_wfile *f = NULL;
  assert_int_equal(mem->new_wfile(mem, "/afile", &f), 0);
  assert_int_equal(f->close(f), 0);
  assert_int_equal(try_open_ro("/afile", &db), STRATA_EINVAL);
}

static void test_state_as_of_open(void **state) {
  (void)state;
  char v[128];
  strata_db *w = open_writer();
  put_range(w, 0, 1000, "a"); /* some in tables, some in the log */
  assert_int_not_equal(file_count(".ldb"), 0);
  strata_db *ro = open_ro();
  same_as_writer(ro, w);
  /* Later writes are not seen until a catch-up. */
  put(w, "k000001", "changed");
  del(w, "k000002");
  put(w, "zz", "new");
  check(ro, NULL, "k000002", val(v, sizeof v, "a", 2));
  check(ro, NULL, "zz", NULL);
  catch_up(ro);
  check(ro, NULL, "k000001", "changed");
  check(ro, NULL, "k000002", NULL);
  check(ro, NULL, "zz", "new");
  same_as_writer(ro, w);
  /* A catch-up with nothing new changes nothing. */
  catch_up(ro);
  catch_up(ro);
  same_as_writer(ro, w);
  strata_close(ro);
  strata_close(w);
}

static void test_catch_up_writes(void **state) {
  (void)state;
  strata_db *w = open_writer();
  strata_db *ro = open_ro(); /* an empty database */
  size_t n;
  digest(ro, NULL, &n);
  assert_int_equal(n, 0);
  for (int round = 0; round < 20; round++) {
    put_range(w, round * 50, round * 50 + 120, round % 2 ? "odd" : "even");
    for (int i = 0; i < 20; i++) {
      char k[32];
      snprintf(k, sizeof k, "k%06d", round * 37 + i * 7);
      del(w, k);
    }
    strata_batch *b = NULL;
    assert_int_equal(strata_batch_create(&b), 0);
    for (int i = 0; i < 30; i++) {
      char k[32];
      snprintf(k, sizeof k, "batch%03d", i);
      assert_int_equal(strata_batch_put(b, k, strlen(k), k, strlen(k) - (size_t)(round % 3)), 0);
      if (i % 4 == round % 4) assert_int_equal(strata_batch_delete(b, k, strlen(k)), 0);
    }
    assert_int_equal(strata_write(w, NULL, b), 0);
    strata_batch_destroy(b);
    catch_up(ro);
    same_as_writer(ro, w);
  }
  strata_close(ro);
  strata_close(w);
}

static void test_flush_and_compaction(void **state) {
  (void)state;
  strata_db *w = open_writer();
  put_range(w, 0, 2000, "one");
  strata_db *ro = open_ro();
  same_as_writer(ro, w);
  put_range(w, 0, 2000, "two");
  for (int i = 0; i < 2000; i += 3) {
    char k[32];
    snprintf(k, sizeof k, "k%06d", i);
    del(w, k);
  }
  /* Everything into tables, old tables deleted by the writer. */
  assert_int_equal(strata_compact_range(w, NULL, 0, NULL, 0), 0);
  catch_up(ro);
  same_as_writer(ro, w);
  assert_int_equal(strata_compact_range(w, "k000500", 7, "k001500", 7), 0);
  put_range(w, 1990, 2100, "three");
  catch_up(ro);
  same_as_writer(ro, w);
  /* A handle opened now reads the same. */
  strata_db *ro2 = open_ro();
  same_as_writer(ro2, w);
  strata_close(ro2);
  strata_close(ro);
  strata_close(w);
}

static void test_writer_reopens(void **state) {
  (void)state;
  strata_db *w = open_writer();
  put_range(w, 0, 300, "first");
  strata_db *ro = open_ro();
  for (int round = 0; round < 6; round++) {
    strata_close(w);   /* the log stays; the next open replays it */
    w = open_writer(); /* a new MANIFEST, CURRENT renamed, old files deleted */
    put_range(w, round * 40, round * 40 + 200, round % 2 ? "odd" : "even");
    if (round % 2) assert_int_equal(strata_compact_range(w, NULL, 0, NULL, 0), 0);
    catch_up(ro);
    same_as_writer(ro, w);
  }
  /* Two reopens between catch-ups. */
  strata_close(w);
  w = open_writer();
  put(w, "between", "1");
  strata_close(w);
  w = open_writer();
  put(w, "between", "2");
  catch_up(ro);
  check(ro, NULL, "between", "2");
  same_as_writer(ro, w);
  strata_close(ro);
  strata_close(w);
}

static void test_views_kept(void **state) {
  (void)state;
  char v[128];
  strata_db *w = open_writer();
  put_range(w, 0, 1500, "old");
  strata_db *ro = open_ro();
  size_t n0, n1, n2;
  uint64_t d0 = digest(ro, NULL, &n0);
  const strata_snapshot *snap = strata_snapshot_get(ro);
  assert_non_null(snap);
  strata_iter *it = NULL;
  assert_int_equal(strata_iter_create(ro, NULL, &it), 0);
  strata_iter_seek_to_first(it); /* positioned before the writer changes anything */
  assert_true(strata_iter_valid(it));

  /* The writer overwrites and deletes everything and compacts: the old
   * values exist nowhere but in tables the read-only handle still holds. */
  put_range(w, 0, 1500, "new");
  for (int i = 0; i < 1500; i += 2) {
    char k[32];
    snprintf(k, sizeof k, "k%06d", i);
    del(w, k);
  }
  assert_int_equal(strata_compact_range(w, NULL, 0, NULL, 0), 0);
  strata_close(w);
  w = open_writer(); /* and a new MANIFEST */
  put(w, "k000000", "after-reopen");
  assert_int_equal(strata_compact_range(w, NULL, 0, NULL, 0), 0);
  catch_up(ro);
  same_as_writer(ro, w);

  /* The snapshot and the iterator still read the state as of before. */
  check(ro, snap, "k000000", val(v, sizeof v, "old", 0));
  check(ro, snap, "k000001", val(v, sizeof v, "old", 1));
  check(ro, NULL, "k000000", "after-reopen");
  check(ro, NULL, "k000002", NULL);
  assert_int_equal(digest(ro, snap, &n1), d0);
  assert_int_equal(n1, n0);
  assert_int_equal(digest_iter(it, &n2), d0);
  assert_int_equal(n2, n0);
  /* Catching up more does not move them either. */
  put(w, "k000001", "x");
  catch_up(ro);
  assert_int_equal(digest(ro, snap, &n1), d0);
  strata_iter_destroy(it);
  strata_snapshot_release(ro, snap);
  /* Tables the released views held are closed at a later catch-up. */
  put(w, "k000003", "y");
  catch_up(ro);
  same_as_writer(ro, w);
  strata_close(ro);
  strata_close(w);
}

static void test_writes_refused(void **state) {
  (void)state;
  strata_db *w = open_writer();
  put(w, "a", "1");
  strata_db *ro = open_ro();
  assert_int_equal(strata_put(ro, NULL, "b", 1, "2", 1), STRATA_EINVAL);
  assert_non_null(strstr(strata_errmsg(), "read-only database"));
  assert_int_equal(strata_delete(ro, NULL, "a", 1), STRATA_EINVAL);
  assert_non_null(strstr(strata_errmsg(), "read-only database"));
  strata_batch *b = NULL;
  assert_int_equal(strata_batch_create(&b), 0);
  assert_int_equal(strata_write(ro, NULL, b), STRATA_EINVAL); /* even an empty batch */
  assert_int_equal(strata_batch_put(b, "c", 1, "3", 1), 0);
  assert_int_equal(strata_write(ro, NULL, b), STRATA_EINVAL);
  assert_non_null(strstr(strata_errmsg(), "read-only database"));
  strata_batch_destroy(b);
  strata_write_options wo;
  strata_write_options_init(&wo);
  wo.sync = 1;
  assert_int_equal(strata_put(ro, &wo, "b", 1, "2", 1), STRATA_EINVAL);
  assert_int_equal(strata_compact_range(ro, NULL, 0, NULL, 0), STRATA_EINVAL);
  assert_non_null(strstr(strata_errmsg(), "strata_compact_range"));
  check(ro, NULL, "a", "1");
  check(ro, NULL, "b", NULL);
  /* Catch-up is for read-only handles only. */
  assert_int_equal(strata_catch_up(w), STRATA_EINVAL);
  assert_int_equal(strata_catch_up(NULL), STRATA_EMISUSE);
  /* Reads, properties and sizes work. */
  strata_buf p = STRATA_BUF_INIT;
  assert_int_equal(strata_property(ro, "leveldb.num-files-at-level0", &p), 0);
  assert_int_equal(strata_property(ro, "leveldb.approximate-memory-usage", &p), 0);
  strata_buf_free(&p);
  const void *s[1] = {""};
  const void *l[1] = {"z"};
  size_t sl[1] = {0}, ll[1] = {1};
  uint64_t sz[1];
  assert_int_equal(strata_approximate_sizes(ro, 1, s, sl, l, ll, sz), 0);
  strata_close(ro);
  strata_close(w);
}

static int lines;
static void count_line(void *st, const char *line) {
  (void)st;
  (void)line;
  lines++;
}

static void test_logger_and_no_files(void **state) {
  (void)state;
  strata_db *w = open_writer();
  put_range(w, 0, 500, "x");
  strata_close(w);
  /* Nothing changes in the directory while a read-only handle reads it. */
  char **before = NULL;
  size_t nbefore = 0;
  assert_int_equal(mem->children(mem, DB, &before, &nbefore), 0);
  strata_logger *lg = NULL;
  assert_int_equal(strata_logger_create(NULL, count_line, NULL, &lg), 0);
  strata_options o;
  strata_options_init(&o);
  o.read_only = 1;
  o.env = &guard;
  o.info_log = lg;
  o.paranoid_checks = 1;
  lines = 0;
  strata_db *ro = NULL;
  assert_int_equal(strata_open(DB, &o, &ro), 0);
  catch_up(ro);
  size_t n;
  digest(ro, NULL, &n);
  assert_int_equal(n, 500);
  strata_close(ro);
  assert_true(lines > 0); /* the user's logger gets the open */
  char **after = NULL;
  size_t nafter = 0;
  assert_int_equal(mem->children(mem, DB, &after, &nafter), 0);
  assert_int_equal(nafter, nbefore);
  for (size_t i = 0; i < nafter; i++) {
    assert_string_equal(after[i], before[i]);
    free(after[i]);
    free(before[i]);
  }
  free(after);
  free(before);
  strata_logger_destroy(lg);
}

/* Appends one log record holding a batch of one put (key, val at seq) to
 * the log file at path; with cut, only its first half. Returns the record's
 * bytes (for a later append of the rest) in *rest and *restn. */
static void append_record(const char *path, uint64_t seq, const char *key, const char *val, int cut,
                          char **rest, size_t *restn) {
  /* Encode the record through a log writer on a scratch file. */
  strata_batch *b = NULL;
  assert_int_equal(strata_batch_create(&b), 0);
  assert_int_equal(strata_batch_put(b, key, strlen(key), val, strlen(val)), 0);
  st_batch_set_sequence(b, seq);
  uint64_t size = 0;
  assert_int_equal(mem->file_size(mem, path, &size), 0);
  /* A scratch file of the same length, so blocks line up. */
  strata_wfile *sf = NULL;
  assert_int_equal(mem->new_wfile(mem, "/scratch", &sf), 0);
  char *zeros = calloc(1, size + 1);
  assert_int_equal(sf->append(sf, zeros, size), 0);
  free(zeros);
  st_log_writer *lw = st_log_writer_new(sf, size);
  assert_int_equal(st_log_add_record(lw, st_batch_contents(b)), 0);
  assert_int_equal(st_log_writer_close(lw), 0);
  strata_batch_destroy(b);
  uint64_t total = 0;
  assert_int_equal(mem->file_size(mem, "/scratch", &total), 0);
  size_t len = (size_t)(total - size);
  char *bytes = malloc(len);
  strata_seqfile *in = NULL;
  assert_int_equal(mem->new_seqfile(mem, "/scratch", &in), 0);
  assert_int_equal(in->skip_bytes(in, size), 0);
  strata_slice got;
  assert_int_equal(in->read(in, len, bytes, &got), 0);
  assert_int_equal(got.size, len);
  if (got.data != bytes) memmove(bytes, got.data, len);
  in->close(in);
  assert_int_equal(mem->remove_file(mem, "/scratch"), 0);
  size_t n = cut ? len / 2 : len;
  strata_wfile *out = NULL;
  assert_int_equal(mem->new_appendable(mem, path, &out), 0);
  assert_int_equal(out->append(out, bytes, n), 0);
  assert_int_equal(out->close(out), 0);
  if (rest) {
    *restn = len - n;
    *rest = malloc(*restn + 1);
    memcpy(*rest, bytes + n, *restn);
  }
  free(bytes);
}

static void append_bytes(const char *path, const char *data, size_t n) {
  strata_wfile *out = NULL;
  assert_int_equal(mem->new_appendable(mem, path, &out), 0);
  assert_int_equal(out->append(out, data, n), 0);
  assert_int_equal(out->close(out), 0);
}

/* The name of the newest log of DB (the writer's live one). */
static void newest_log(char *out, size_t cap) {
  char **names = NULL;
  size_t n = 0;
  unsigned long best = 0;
  assert_int_equal(mem->children(mem, DB, &names, &n), 0);
  for (size_t i = 0; i < n; i++) {
    unsigned long num;
    char tail[8];
    if (sscanf(names[i], "%lu.%7s", &num, tail) == 2 && strcmp(tail, "log") == 0 && num > best)
      best = num;
    free(names[i]);
  }
  free(names);
  assert_true(best > 0);
  snprintf(out, cap, "%s/%06lu.log", DB, best);
}

static void test_torn_tail(void **state) {
  (void)state;
  strata_db *w = open_writer();
  put(w, "a", "1");
  strata_close(w); /* the log with "a" stays live */
  char log[64];
  newest_log(log, sizeof log);
  strata_db *ro = open_ro();
  check(ro, NULL, "a", "1");
  /* A writer in the middle of appending a record: half of it is there. */
  char *rest = NULL;
  size_t restn = 0;
  append_record(log, 2, "b", "2", 1, &rest, &restn);
  catch_up(ro); /* not corruption: stops in front of it */
  check(ro, NULL, "b", NULL);
  catch_up(ro);
  append_bytes(log, rest, restn); /* the rest arrives */
  free(rest);
  catch_up(ro);
  check(ro, NULL, "b", "2");
  /* A long record cut across a block boundary. */
  char big[70000];
  memset(big, 'v', sizeof big - 1);
  big[sizeof big - 1] = '\0';
  append_record(log, 3, "c", big, 1, &rest, &restn);
  catch_up(ro);
  check(ro, NULL, "c", NULL);
  append_bytes(log, rest, restn);
  free(rest);
  append_record(log, 4, "d", "4", 0, NULL, NULL);
  catch_up(ro);
  check(ro, NULL, "c", big);
  check(ro, NULL, "d", "4");
  strata_close(ro);
  /* The writer reads the same log the same way. */
  w = open_writer();
  check(w, NULL, "c", big);
  check(w, NULL, "d", "4");
  strata_close(w);
}

static void test_three_logs(void **state) {
  (void)state;
  /* A writer that died with two logs live, then another whose open has
   * made its new log but not yet its MANIFEST: three live logs. Made by
   * hand: logs numbered above the MANIFEST's log number. */
  strata_db *w = open_writer();
  put(w, "base", "0");
  strata_close(w);
  char log[64];
  newest_log(log, sizeof log);
  unsigned long first;
  assert_int_equal(sscanf(log + strlen(DB) + 1, "%lu", &first), 1);
  strata_db *ro = open_ro();
  uint64_t seq = 100;
  for (int i = 1; i <= 3; i++) {
    char path[64];
    snprintf(path, sizeof path, "%s/%06lu.log", DB, first + 10 * (unsigned long)i);
    strata_wfile *f = NULL;
    assert_int_equal(mem->new_wfile(mem, path, &f), 0);
    assert_int_equal(f->close(f), 0);
    for (int j = 0; j < 5; j++) {
      char k[16], v[16];
      snprintf(k, sizeof k, "k%d", j);
      snprintf(v, sizeof v, "log%d-%d", i, j);
      append_record(path, seq++, k, v, 0, NULL, NULL);
    }
    char k[16];
    snprintf(k, sizeof k, "only%d", i);
    append_record(path, seq++, k, "x", 0, NULL, NULL);
    catch_up(ro);
    check(ro, NULL, "k3", i == 1 ? "log1-3" : i == 2 ? "log2-3" : "log3-3");
    check(ro, NULL, k, "x");
    check(ro, NULL, "base", "0");
  }
  check(ro, NULL, "only1", "x");
  check(ro, NULL, "only2", "x");
  /* One more record in the newest log: the copy of the older ones is
   * kept, the newest log's memtable grows. */
  char path3[64];
  snprintf(path3, sizeof path3, "%s/%06lu.log", DB, first + 30);
  append_record(path3, seq++, "k0", "newest", 0, NULL, NULL);
  catch_up(ro);
  check(ro, NULL, "k0", "newest");
  check(ro, NULL, "k1", "log3-1");
  size_t n;
  digest(ro, NULL, &n);
  assert_int_equal(n, 1 + 5 + 3);
  strata_close(ro);
  /* The writer's recovery agrees. */
  w = open_writer();
  check(w, NULL, "k0", "newest");
  check(w, NULL, "only1", "x");
  strata_close(w);
}

static void test_missing_table(void **state) {
  (void)state;
  strata_db *w = open_writer();
  put_range(w, 0, 500, "x");
  assert_int_equal(strata_compact_range(w, NULL, 0, NULL, 0), 0);
  strata_close(w);
  /* A table the MANIFEST names is gone, and nothing explains it. */
  char **names = NULL;
  size_t n = 0;
  assert_int_equal(mem->children(mem, DB, &names, &n), 0);
  int removed = 0;
  for (size_t i = 0; i < n; i++) {
    size_t l = strlen(names[i]);
    if (!removed && l > 4 && strcmp(names[i] + l - 4, ".ldb") == 0) {
      char p[64];
      snprintf(p, sizeof p, "%s/%s", DB, names[i]);
      assert_int_equal(mem->remove_file(mem, p), 0);
      removed = 1;
    }
    free(names[i]);
  }
  free(names);
  assert_true(removed);
  strata_db *ro = NULL;
  assert_int_equal(try_open_ro(DB, &ro), STRATA_ECORRUPTION);
  assert_non_null(strstr(strata_errmsg(), "missing"));
  assert_null(ro);
}

static void test_missing_manifest(void **state) {
  (void)state;
  strata_db *w = open_writer();
  put(w, "a", "1");
  strata_close(w);
  strata_db *ro = open_ro();
  /* CURRENT names a MANIFEST that is gone and stays gone. */
  char **names = NULL;
  size_t n = 0;
  assert_int_equal(mem->children(mem, DB, &names, &n), 0);
  for (size_t i = 0; i < n; i++) {
    if (strncmp(names[i], "MANIFEST-", 9) == 0) {
      char p[64];
      snprintf(p, sizeof p, "%s/%s", DB, names[i]);
      assert_int_equal(mem->remove_file(mem, p), 0);
    }
    free(names[i]);
  }
  free(names);
  assert_int_equal(strata_catch_up(ro), STRATA_ECORRUPTION);
  assert_non_null(strstr(strata_errmsg(), "MANIFEST"));
  check(ro, NULL, "a", "1"); /* the handle keeps its state */
  strata_close(ro);
}

static int bytewise(void *st, const char *a, size_t al, const char *b, size_t bl) {
  (void)st;
  int r = memcmp(a, b, al < bl ? al : bl);
  return r ? r : (al > bl) - (al < bl);
}

static void test_comparator_mismatch(void **state) {
  (void)state;
  strata_db *w = open_writer();
  put(w, "a", "1");
  strata_close(w);
  strata_comparator *c = NULL;
  assert_int_equal(strata_comparator_create("test.Other", NULL, bytewise, NULL, &c), 0);
  strata_options o;
  strata_options_init(&o);
  o.read_only = 1;
  o.env = &guard;
  o.comparator = c;
  strata_db *ro = NULL;
  assert_int_equal(strata_open(DB, &o, &ro), STRATA_EINVAL);
  assert_non_null(strstr(strata_errmsg(), "comparator"));
  strata_comparator_destroy(c);
}

/* --- races, injected ----------------------------------------------------
 * A read-only handle whose env lets the writer act in the middle of a
 * catch-up: when the handle lists the directory, opens or stats a file, the
 * writer may apply one atomic batch and then flush and compact everything
 * (logs and tables deleted), flush and compact a small range, or close and
 * reopen (a new MANIFEST, the old one and the old logs deleted). Every
 * window of the protocol gets hit. The state a catch-up installs must be
 * one the writer passed through: the state before the catch-up or after
 * one of the batches. */

static strata_env race_env;
static strata_db *race_writer;
static int race_budget; /* injections left in this catch-up */
static uint64_t race_rng = 88172645463325252ULL;
static uint64_t race_states[16];
static int nrace_states, race_steps;

static void inject(void) {
  if (!race_writer || race_budget <= 0) return;
  race_rng ^= race_rng << 13;
  race_rng ^= race_rng >> 7;
  race_rng ^= race_rng << 17;
  if (race_rng % 100 >= 30) return;
  race_budget--;
  race_steps++;
  strata_batch *b = NULL;
  assert_int_equal(strata_batch_create(&b), 0);
  for (int i = 0; i < 25; i++) {
    char k[32], v[64];
    snprintf(k, sizeof k, "k%06d", (int)((race_rng >> 8) + (uint64_t)i * 7919) % 1500);
    snprintf(v, sizeof v, "race-%d-%d", race_steps, i);
    if (i % 5 == 4)
      assert_int_equal(strata_batch_delete(b, k, strlen(k)), 0);
    else
      assert_int_equal(strata_batch_put(b, k, strlen(k), v, strlen(v)), 0);
  }
  assert_int_equal(strata_write(race_writer, NULL, b), 0);
  strata_batch_destroy(b);
  size_t n;
  race_states[nrace_states++] = digest(race_writer, NULL, &n);
  switch ((race_rng >> 20) % 3) {
  case 0: assert_int_equal(strata_compact_range(race_writer, NULL, 0, NULL, 0), 0); break;
  case 1: assert_int_equal(strata_compact_range(race_writer, "k001000", 7, "k001100", 7), 0); break;
  default:
    strata_close(race_writer);
    race_writer = open_writer();
    break;
  }
}

static int r_children(strata_env *e, const char *dir, char ***names, size_t *n) {
  inject();
  return guard.children(e, dir, names, n);
}
static int r_new_seqfile(strata_env *e, const char *p, strata_seqfile **o) {
  inject();
  return guard.new_seqfile(e, p, o);
}
static int r_new_rafile(strata_env *e, const char *p, strata_rafile **o) {
  inject();
  return guard.new_rafile(e, p, o);
}
static int r_file_size(strata_env *e, const char *p, uint64_t *size) {
  inject();
  return guard.file_size(e, p, size);
}

static void test_races_injected(void **state) {
  (void)state;
  race_env = guard;
  race_env.children = r_children;
  race_env.new_seqfile = r_new_seqfile;
  race_env.new_rafile = r_new_rafile;
  race_env.file_size = r_file_size;
  race_writer = open_writer();
  put_range(race_writer, 0, 1500, "base");
  /* Sanitizer builds (STRATA_TEST_SCALE set) make fewer rounds. */
  const char *scale = getenv("STRATA_TEST_SCALE");
  int rounds = scale && *scale ? 40 : 120;
  strata_options o;
  strata_options_init(&o);
  o.read_only = 1;
  o.env = &race_env;
  strata_db *ro = NULL;
  assert_int_equal(strata_open(DB, &o, &ro), 0);
  int retried_states = 0;
  for (int round = 0; round < rounds; round++) {
    size_t n;
    nrace_states = 0;
    race_states[nrace_states++] = digest(race_writer, NULL, &n);
    race_budget = 3;
    if (strata_catch_up(ro)) fail_msg("round %d: catch-up: %s", round, strata_errmsg());
    race_budget = 0;
    /* The writer moves on and deletes what it no longer needs before the
     * state is read: every table of it must have been opened already. */
    if (round % 2) {
      put(race_writer, "k000001", "after");
      assert_int_equal(strata_compact_range(race_writer, NULL, 0, NULL, 0), 0);
      if (round % 4 == 1) {
        strata_close(race_writer);
        race_writer = open_writer();
      }
    }
    uint64_t d = digest(ro, NULL, &n);
    int hit = -1;
    for (int i = 0; i < nrace_states; i++)
      if (race_states[i] == d) hit = i;
    if (hit < 0)
      fail_msg("round %d: the read-only state is none of the %d the writer passed through", round,
               nrace_states);
    retried_states += hit > 0;
    if (round % 10 == 9) {
      catch_up(ro); /* nothing injected: the writer's latest state */
      same_as_writer(ro, race_writer);
    }
  }
  print_message("%d injected writer steps; %d catch-ups ended past at least one of them\n",
                race_steps, retried_states);
  assert_true(race_steps > rounds / 3);
  strata_close(ro);
  strata_close(race_writer);
  race_writer = NULL;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_missing_database, setup, teardown),
      cmocka_unit_test_setup_teardown(test_state_as_of_open, setup, teardown),
      cmocka_unit_test_setup_teardown(test_catch_up_writes, setup, teardown),
      cmocka_unit_test_setup_teardown(test_flush_and_compaction, setup, teardown),
      cmocka_unit_test_setup_teardown(test_writer_reopens, setup, teardown),
      cmocka_unit_test_setup_teardown(test_views_kept, setup, teardown),
      cmocka_unit_test_setup_teardown(test_writes_refused, setup, teardown),
      cmocka_unit_test_setup_teardown(test_logger_and_no_files, setup, teardown),
      cmocka_unit_test_setup_teardown(test_torn_tail, setup, teardown),
      cmocka_unit_test_setup_teardown(test_three_logs, setup, teardown),
      cmocka_unit_test_setup_teardown(test_missing_table, setup, teardown),
      cmocka_unit_test_setup_teardown(test_missing_manifest, setup, teardown),
      cmocka_unit_test_setup_teardown(test_comparator_mismatch, setup, teardown),
      cmocka_unit_test_setup_teardown(test_races_injected, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
