/*
 * issue13_test.c - regression tests of the seven defects of issue 13, one
 * test each (named after the defect), through strata.h on the
 * fault-injecting env. Each failed on the code before its fix (the commit
 * that fixed it says how).
 *
 *  1 defect1_current_dir_sync   a failed directory sync after CURRENT was
 *                               renamed: the database opens once the fault
 *                               is gone (new database and MANIFEST switch),
 *                               and after a power cut at that moment too
 *  2 defect2_error_messages     a failed sync of the temporary CURRENT, and
 *                               a failed compaction: the injected error's
 *                               own message is what the call and every later
 *                               write report
 *  3 defect3_compaction_verifies a flipped value byte in a table, paranoid
 *                               checks off: the compaction stops with
 *                               Corruption naming the table and the block,
 *                               and no read ever returns the damaged value
 *                               with an OK status
 *  4 defect4_scan_stops_at_error the newer version of a key in a damaged
 *                               block: scans forward, backward and from a
 *                               seek stop at the error, never showing the
 *                               older version from a deeper level
 *  5 defect5_log_sequence       log records with a repeated, a decreasing and
 *                               a too large sequence number: dropped and
 *                               reported like other damaged records (open
 *                               fails with paranoid_checks)
 *  6 defect6_unordered_table    a table whose keys are out of order: the
 *                               compaction fails with Corruption naming it
 *                               (user keys out of order, and one user key
 *                               with rising sequence numbers); the same
 *                               entries in two tables are no disorder
 *  7 defect7_manifest_no_leak   a MANIFEST whose edits cannot be applied:
 *                               failed opens free everything they made
 */
#include <malloc.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#if defined(__SANITIZE_ADDRESS__)
/* From the sanitizers' allocator interface (declared here: gcc does not
 * install <sanitizer/allocator_interface.h>). */
size_t __sanitizer_get_current_allocated_bytes(void);
#endif

#include "db/log_writer.h"
#include "db/version_edit.h"
#include "db/write_batch.h"
#include "fault_env.h"
#include "table/format.h"
#include "util/coding.h"
#include "util/crc32c.h"
#include "util/internal_key.h"

#define DB "/db"

static fe_env *fe;
static strata_env *env;
static strata_logger *quiet;

static void no_log(void *state, const char *line) {
  (void)state;
  (void)line;
}

static int setup(void **state) {
  (void)state;
  fe = fe_new();
  env = fe_strata_env(fe);
  return strata_logger_create(NULL, no_log, NULL, &quiet);
}

static int teardown(void **state) {
  (void)state;
  fe_free(fe);
  strata_logger_destroy(quiet);
  return 0;
}

static strata_options options(int paranoid) {
  strata_options o;
  strata_options_init(&o);
  o.env = env;
  o.create_if_missing = 1;
  o.paranoid_checks = paranoid;
  o.compression = STRATA_COMPRESSION_NONE; /* flipped bytes stay where they were put */
  o.info_log = quiet;
  return o;
}

static strata_db *open_db(int paranoid) {
  strata_options o = options(paranoid);
  strata_db *db = NULL;
  int rc = strata_open(DB, &o, &db);
  if (rc) fail_msg("open: %s", strata_errmsg());
  return db;
}

static void put(strata_db *db, const char *k, const char *v) {
  strata_write_options w;
  strata_write_options_init(&w);
  w.sync = 1;
  int rc = strata_put(db, &w, k, strlen(k), v, strlen(v));
  if (rc) fail_msg("put %s: %s", k, strata_errmsg());
}

/* get k must give expect (NULL: not found). */
static void expect_get(strata_db *db, const char *k, const char *expect) {
  strata_buf b = STRATA_BUF_INIT;
  int rc = strata_get(db, NULL, k, strlen(k), &b);
  if (!expect && rc != STRATA_ENOTFOUND)
    fail_msg("get %s: expected not found, got %d '%.*s'", k, rc, (int)b.size, b.data);
  if (expect && rc) fail_msg("get %s: %s", k, strata_errmsg());
  if (expect && (b.size != strlen(expect) || memcmp(b.data, expect, b.size)))
    fail_msg("get %s: '%.*s', expected '%s'", k, (int)b.size, b.data, expect);
  strata_buf_free(&b);
}

static void expect_msg(const char *what, const char *needle) {
  if (!strstr(strata_errmsg(), needle))
    fail_msg("%s: message '%s' does not mention '%s'", what, strata_errmsg(), needle);
}

/* ------------------------------------------------------------------------ */
/* 1. A failed directory sync after CURRENT's rename                         */
/* ------------------------------------------------------------------------ */

typedef struct after_current {
  int renamed; /* CURRENT was just renamed */
  int fired;
} after_current;

/* Fails the directory sync that follows a rename onto CURRENT. */
static int fail_sync_after_current(void *arg, fe_kind kind, const char *path, const char *path2) {
  (void)path;
  after_current *s = arg;
  if (kind == FE_RENAME && path2 && strstr(path2, "/CURRENT")) s->renamed = 1;
  if (kind == FE_SYNC_DIR && s->renamed) {
    s->renamed = 0;
    s->fired++;
    return 1;
  }
  return 0;
}

static void test_defect1_current_dir_sync(void **state) {
  (void)state;
  /* A new database: new_db's CURRENT. */
  after_current s = {0, 0};
  fe_set_hook(fe, fail_sync_after_current, &s);
  strata_options o = options(0);
  strata_db *db = NULL;
  assert_int_equal(strata_open(DB, &o, &db), STRATA_EIO);
  assert_int_equal(s.fired, 1);
  expect_msg("open", "sync_dir");
  fe_clear_faults(fe);
  db = open_db(0);
  put(db, "a", "1");
  strata_close(db);

  /* An existing database: the MANIFEST switch at open. */
  s = (after_current){0, 0};
  fe_set_hook(fe, fail_sync_after_current, &s);
  assert_int_equal(strata_open(DB, &o, &db), STRATA_EIO);
  assert_int_equal(s.fired, 1);
  fe_clear_faults(fe);
  db = open_db(0);
  expect_get(db, "a", "1");
  put(db, "b", "2");
  strata_close(db);

  /* The same, with the power lost right after the failed sync: whichever
   * CURRENT survives must name a MANIFEST that is there. */
  for (int dir = 0; dir < FE_DIR_NMODES; dir++) {
    s = (after_current){0, 0};
    fe_set_hook(fe, fail_sync_after_current, &s);
    assert_int_equal(strata_open(DB, &o, &db), STRATA_EIO);
    fe_clear_faults(fe);
    fe_cut_opts cut = {FE_DATA_DROP, (fe_dir_mode)dir, 13};
    fe_cut_now(fe, &cut);
    assert_int_equal(fe_power_on(fe), 0);
    db = open_db(0);
    expect_get(db, "a", "1");
    expect_get(db, "b", "2");
    strata_close(db);
  }
}

/* ------------------------------------------------------------------------ */
/* 2. Error messages of failed I/O                                          */
/* ------------------------------------------------------------------------ */

static int level_files(strata_db *db, int level) {
  char name[64];
  snprintf(name, sizeof name, "leveldb.num-files-at-level%d", level);
  strata_buf b = STRATA_BUF_INIT;
  assert_int_equal(strata_property(db, name, &b), 0);
  int n = atoi(b.data);
  strata_buf_free(&b);
  return n;
}

/* Flushes the memtable to a table placed where a flush would put it, and
 * compacts nothing: a manual compaction of a range that holds no key. */
static void flush(strata_db *db) {
  int rc = strata_compact_range(db, "~~~~", 4, "~~~~", 4);
  if (rc) fail_msg("flush: %s", strata_errmsg());
}

static void key_name(char *out, int i) { sprintf(out, "k%03d", i); }

static void value_of(char *out, const char *tag, int i) {
  sprintf(out, "%s-%03d-", tag, i);
  size_t n = strlen(out);
  memset(out + n, 'a' + i % 26, 80);
  out[n + 80] = '\0';
}

/* Fails the (skip + 1)th sync of a file whose path contains substr. */
typedef struct sync_target {
  const char *substr;
  int skip;
  int fired;
} sync_target;

static int fail_sync_of(void *arg, fe_kind kind, const char *path, const char *path2) {
  (void)path2;
  sync_target *t = arg;
  if (kind != FE_SYNC || t->fired || !strstr(path, t->substr)) return 0;
  if (t->skip-- > 0) return 0;
  t->fired = 1;
  return 1;
}

/* Old values of k000..k049 at level 2, new ones at level 1. */
static strata_db *two_level_db(void) {
  strata_db *db = open_db(0);
  char k[16], v[128];
  for (int i = 0; i < 50; i++) {
    key_name(k, i);
    value_of(v, "old", i);
    put(db, k, v);
  }
  flush(db);
  for (int i = 0; i < 50; i++) {
    key_name(k, i);
    value_of(v, "new", i);
    put(db, k, v);
  }
  flush(db);
  assert_int_equal(level_files(db, 1), 1);
  assert_int_equal(level_files(db, 2), 1);
  return db;
}

static void test_defect2_error_messages(void **state) {
  (void)state;
  /* The sync of the temporary CURRENT fails. */
  assert_int_equal(fe_fail_nth(fe, FE_SYNC, 1, 0, ".dbtmp"), 0);
  strata_options o = options(0);
  strata_db *db = NULL;
  assert_int_equal(strata_open(DB, &o, &db), STRATA_EIO);
  expect_msg("open", "IO error: sync /db/");
  expect_msg("open", ".dbtmp: Input/output error (injected");
  fe_clear_faults(fe);
  strata_destroy(DB, &o);

  /* A compaction of both levels (the memtable is empty: the only tables
   * written are the compaction's) fails syncing its output table, then
   * syncing its MANIFEST record: that message is the background error
   * every later call reports, and the database opens afterwards with
   * every value. */
  /* The first MANIFEST record synced is the flush's (of the empty
   * memtable), the second the compaction's. */
  static const sync_target targets[] = {{".ldb", 0, 0}, {"/MANIFEST-", 1, 0}};
  for (int t = 0; t < 2; t++) {
    db = two_level_db();
    sync_target target = targets[t];
    fe_set_hook(fe, fail_sync_of, &target);
    assert_int_equal(strata_compact_range(db, NULL, 0, NULL, 0), STRATA_EIO);
    assert_true(target.fired);
    char first[512];
    snprintf(first, sizeof first, "%s", strata_errmsg());
    expect_msg("compaction", "IO error: sync /db/");
    expect_msg("compaction", targets[t].substr);
    expect_msg("compaction", "Input/output error (injected");
    for (int i = 0; i < 3; i++) {
      assert_int_equal(strata_put(db, NULL, "x", 1, "y", 1), STRATA_EIO);
      assert_string_equal(strata_errmsg(), first);
    }
    strata_close(db);
    fe_clear_faults(fe);
    db = open_db(0);
    char k[16], v[128];
    for (int i = 0; i < 50; i++) {
      key_name(k, i);
      value_of(v, "new", i);
      expect_get(db, k, v);
    }
    strata_close(db);
    assert_int_equal(strata_destroy(DB, &o), 0);
  }
}

/* ------------------------------------------------------------------------ */
/* 3. Compaction verifies the blocks it reads                               */
/* ------------------------------------------------------------------------ */

/* The highest-numbered file of DB ending with suffix ("" when none), as
 * a full path in out. */
static void newest_file(const char *suffix, char *out, size_t outlen) {
  char **names;
  size_t n;
  assert_int_equal(env->children(env, DB, &names, &n), 0);
  unsigned long best = 0;
  out[0] = '\0';
  for (size_t i = 0; i < n; i++) {
    size_t len = strlen(names[i]), sl = strlen(suffix);
    if (len > sl && strcmp(names[i] + len - sl, suffix) == 0 &&
        strtoul(names[i], NULL, 10) >= best) {
      best = strtoul(names[i], NULL, 10);
      snprintf(out, outlen, "%s/%s", DB, names[i]);
    }
    free(names[i]);
  }
  free(names);
}

/* The table of DB holding needle, as a full path in out. */
static void file_with(const char *needle, char *out, size_t outlen) {
  char **names;
  size_t n;
  assert_int_equal(env->children(env, DB, &names, &n), 0);
  out[0] = '\0';
  for (size_t i = 0; i < n; i++) {
    char path[256], *data;
    size_t len;
    snprintf(path, sizeof path, "%s/%s", DB, names[i]);
    if (strstr(names[i], ".ldb") && fe_read_whole(fe, path, &data, &len) == 0) {
      if (memmem(data, len, needle, strlen(needle))) snprintf(out, outlen, "%s", path);
      free(data);
    }
    free(names[i]);
  }
  free(names);
  if (!out[0]) fail_msg("no table holds '%s'", needle);
}

/* Flips (xor 0x20) the byte of path at the first place `needle` occurs,
 * plus `skew`; fails when needle is absent. */
static void flip_at(const char *path, const char *needle, size_t skew) {
  char *data;
  size_t len;
  assert_int_equal(fe_read_whole(fe, path, &data, &len), 0);
  char *hit = memmem(data, len, needle, strlen(needle));
  if (!hit) fail_msg("%s: '%s' not found", path, needle);
  hit[skew] ^= 0x20;
  assert_int_equal(fe_write_whole(fe, path, data, len), 0);
  free(data);
}

static void check_report(void *arg, const char *file, uint64_t offset, int code, const char *what) {
  (void)offset;
  (void)code;
  (void)what;
  snprintf(arg, 256, "%s", file);
}

static void test_defect3_compaction_verifies(void **state) {
  (void)state;
  strata_db *db = open_db(0);
  char k[16], v[128], damaged_table[256];
  for (int i = 0; i < 50; i++) {
    key_name(k, i);
    value_of(v, "old", i);
    put(db, k, v);
  }
  flush(db);
  assert_int_equal(level_files(db, 2), 1);
  strata_close(db);
  /* One byte of k017's value, in the table at level 2. */
  newest_file(".ldb", damaged_table, sizeof damaged_table);
  flip_at(damaged_table, "old-017-", 10);

  db = open_db(0);
  strata_read_options ro;
  strata_read_options_init(&ro);
  ro.verify_checksums = 1;
  strata_buf b = STRATA_BUF_INIT;
  assert_int_equal(strata_get(db, &ro, "k017", 4, &b), STRATA_ECORRUPTION);
  /* Unchecked reads return the damaged value as stored (LevelDB's
   * contract for verify_checksums 0), and the second one puts the block
   * in the block cache, unchecked. */
  strata_read_options unchecked;
  strata_read_options_init(&unchecked);
  for (int i = 0; i < 2; i++)
    assert_int_equal(strata_get(db, &unchecked, "k017", 4, &b), 0);
  /* Overlapping writes at level 1, then a compaction of both levels. */
  for (int i = 0; i < 50; i += 2) {
    key_name(k, i);
    value_of(v, "new", i);
    put(db, k, v);
  }
  flush(db);
  assert_int_equal(level_files(db, 1), 1);
  int rc = strata_compact_range(db, NULL, 0, NULL, 0);
  assert_int_equal(rc, STRATA_ECORRUPTION);
  expect_msg("compaction", strrchr(damaged_table, '/') + 1);
  expect_msg("compaction", "block");
  /* No read may hand out the damaged value as good. */
  rc = strata_get(db, &ro, "k017", 4, &b);
  if (rc == 0) fail_msg("k017 read back with an OK status: '%.*s'", (int)b.size, b.data);
  assert_int_equal(rc, STRATA_ECORRUPTION);
  strata_buf_free(&b);
  strata_close(db);
  /* strata_check still sees the original damage. */
  strata_options o = options(0);
  char bad_file[256] = "";
  uint64_t problems = 0;
  assert_int_equal(strata_check(DB, &o, check_report, bad_file, &problems), STRATA_ECORRUPTION);
  assert_string_equal(bad_file, damaged_table);
}

/* ------------------------------------------------------------------------ */
/* 4. A scan stops at the first error                                       */
/* ------------------------------------------------------------------------ */

/* Scans db (forward, backward, or forward from seek_key) and checks every
 * key shown has its new value; the scan must end with STRATA_ECORRUPTION.
 * Returns the number of keys shown. */
static int scan_expect_error(strata_db *db, int backward, const char *seek_key) {
  strata_read_options ro;
  strata_read_options_init(&ro);
  ro.verify_checksums = 1;
  strata_iter *it;
  assert_int_equal(strata_iter_create(db, &ro, &it), 0);
  if (seek_key)
    strata_iter_seek(it, seek_key, strlen(seek_key));
  else if (backward)
    strata_iter_seek_to_last(it);
  else
    strata_iter_seek_to_first(it);
  int shown = 0;
  for (; strata_iter_valid(it); backward ? strata_iter_prev(it) : strata_iter_next(it)) {
    size_t kl, vl;
    const char *key = strata_iter_key(it, &kl), *val = strata_iter_value(it, &vl);
    char want[128], num[16];
    /* The key is not NUL-terminated: parse its digits within kl. */
    snprintf(num, sizeof num, "%.*s", kl > 1 ? (int)(kl - 1) : 0, key + 1);
    value_of(want, "new", atoi(num));
    if (vl != strlen(want) || memcmp(val, want, vl) != 0)
      fail_msg("%s scan: %.*s = '%.*s', expected '%s'", backward ? "backward" : "forward", (int)kl,
               key, (int)vl, val, want);
    shown++;
  }
  int rc = strata_iter_status(it);
  if (rc != STRATA_ECORRUPTION)
    fail_msg("%s scan ended with status %d after %d keys, expected a corruption",
             backward ? "backward" : "forward", rc, shown);
  strata_iter_destroy(it);
  return shown;
}

static void test_defect4_scan_stops_at_error(void **state) {
  (void)state;
  strata_db *db = open_db(0);
  char k[16], v[128], table[256];
  for (int i = 0; i < 60; i++) {
    key_name(k, i);
    value_of(v, "old", i);
    put(db, k, v);
  }
  flush(db);
  for (int i = 0; i < 60; i++) {
    key_name(k, i);
    value_of(v, "new", i);
    put(db, k, v);
  }
  flush(db);
  assert_int_equal(level_files(db, 1), 1);
  assert_int_equal(level_files(db, 2), 1);
  strata_close(db);
  /* Damage the first data block of the level-1 table (its new values). */
  newest_file(".ldb", table, sizeof table);
  flip_at(table, "new-010-", 12);
  /* The last block too, for the backward scan. */
  flip_at(table, "new-055-", 12);

  db = open_db(0);
  assert_int_equal(scan_expect_error(db, 0, NULL), 0);
  assert_int_equal(scan_expect_error(db, 1, NULL), 0);
  scan_expect_error(db, 0, "k020");
  strata_close(db);

  /* Backward over a boundary between two tables of level 2, the lower one
   * damaged at its end: going back from k030, level 2's entry (the older
   * one) comes first; the error met when that level steps back must not
   * let k030 show with it, before its newer entry at level 1 was seen. */
  teardown(state);
  setup(state);
  db = open_db(0);
  for (int half = 0; half < 2; half++) {
    for (int i = half * 30; i < half * 30 + 30; i++) {
      key_name(k, i);
      value_of(v, "old", i);
      put(db, k, v);
    }
    flush(db);
  }
  for (int i = 0; i < 60; i++) {
    key_name(k, i);
    value_of(v, "new", i);
    put(db, k, v);
  }
  flush(db);
  assert_int_equal(level_files(db, 1), 1);
  assert_int_equal(level_files(db, 2), 2);
  strata_close(db);
  file_with("old-029-", table, sizeof table);
  flip_at(table, "old-029-", 12);
  db = open_db(0);
  /* k059 .. k031: k030 is not shown, its newer entry lies behind the error. */
  assert_int_equal(scan_expect_error(db, 1, NULL), 29);
  strata_close(db);
}

/* ------------------------------------------------------------------------ */
/* 5. Log records whose sequence numbers do not increase                    */
/* ------------------------------------------------------------------------ */

/* Appends to log `path` a record: one put of k -> v at sequence seq. */
static void append_log_record(const char *path, uint64_t seq, const char *k, const char *v) {
  uint64_t size;
  assert_int_equal(env->file_size(env, path, &size), 0);
  strata_wfile *f;
  assert_int_equal(env->new_appendable(env, path, &f), 0);
  st_log_writer *w = st_log_writer_new(f, size);
  assert_non_null(w);
  strata_batch *b;
  assert_int_equal(strata_batch_create(&b), 0);
  assert_int_equal(strata_batch_put(b, k, strlen(k), v, strlen(v)), 0);
  st_batch_set_sequence(b, seq);
  assert_int_equal(st_log_add_record(w, st_batch_contents(b)), 0);
  assert_int_equal(st_log_sync(w), 0);
  assert_int_equal(st_log_writer_close(w), 0);
  strata_batch_destroy(b);
}

static void test_defect5_log_sequence(void **state) {
  (void)state;
  strata_db *db = open_db(0);
  put(db, "a", "1"); /* sequence 1 */
  put(db, "b", "2"); /* sequence 2 */
  strata_close(db);
  char log[256];
  newest_file(".log", log, sizeof log);
  append_log_record(log, 2, "b", "repeated"); /* sequence 2 again, same key */
  append_log_record(log, 1, "c", "decreasing");
  append_log_record(log, 3, "d", "4");                       /* a good record after them */
  append_log_record(log, (uint64_t)1 << 56, "f", "too big"); /* past 2^56 - 1 */

  strata_options o = options(1);
  assert_int_equal(strata_open(DB, &o, &db), STRATA_ECORRUPTION);
  expect_msg("paranoid open", strrchr(log, '/') + 1);
  expect_msg("paranoid open", "sequence");

  db = open_db(0);
  expect_get(db, "a", "1");
  expect_get(db, "b", "2");
  expect_get(db, "c", NULL);
  expect_get(db, "d", "4");
  expect_get(db, "f", NULL);
  put(db, "e", "5");
  expect_get(db, "e", "5");
  strata_close(db);
  o = options(0);
  uint64_t problems = 1;
  char bad_file[256] = "";
  assert_int_equal(strata_check(DB, &o, check_report, bad_file, &problems), 0);
  assert_int_equal(problems, 0);
}

/* ------------------------------------------------------------------------ */
/* 6. A table whose keys are out of order                                   */
/* ------------------------------------------------------------------------ */

/* Appends a block (entries without prefix sharing, one restart) and its
 * trailer to out; h receives its handle. */
static void add_block(st_buf *out, const st_slice *keys, const st_slice *vals, int n,
                      st_block_handle *h) {
  size_t start = out->size;
  char tmp[16];
  for (int i = 0; i < n; i++) {
    char *p = st_put_varint32(tmp, 0);
    p = st_put_varint32(p, (uint32_t)keys[i].size);
    p = st_put_varint32(p, (uint32_t)vals[i].size);
    assert_int_equal(st_buf_append(out, tmp, (size_t)(p - tmp)), 0);
    assert_int_equal(st_buf_append(out, keys[i].data, keys[i].size), 0);
    assert_int_equal(st_buf_append(out, vals[i].data, vals[i].size), 0);
  }
  st_put_fixed32(tmp, 0);     /* restart[0] */
  st_put_fixed32(tmp + 4, 1); /* one restart */
  assert_int_equal(st_buf_append(out, tmp, 8), 0);
  h->offset = start;
  h->size = out->size - start;
  tmp[0] = 0; /* no compression */
  uint32_t crc = st_crc32c_extend(st_crc32c(out->data + start, h->size), tmp, 1);
  st_put_fixed32(tmp + 1, st_crc32c_mask(crc));
  assert_int_equal(st_buf_append(out, tmp, 5), 0);
}

/* A table holding the internal keys given (in the order given: no check)
 * with one data block, an empty metaindex and an index naming largest. */
static void make_table(st_buf *t, const char *const *ukeys, const uint64_t *seqs,
                       const char *const *vals, int n, st_slice largest) {
  char ik[8][32];
  st_slice keys[8], vs[8];
  for (int i = 0; i < n; i++) {
    size_t ul = strlen(ukeys[i]);
    memcpy(ik[i], ukeys[i], ul);
    st_put_fixed64(ik[i] + ul, st_pack_tag(seqs[i], ST_TYPE_VALUE));
    keys[i] = st_slice_make(ik[i], ul + 8);
    vs[i] = st_slice_make(vals[i], strlen(vals[i]));
  }
  st_block_handle data, meta, index;
  add_block(t, keys, vs, n, &data);
  add_block(t, NULL, NULL, 0, &meta);
  char hv[32];
  char *e = st_block_handle_encode(&data, hv);
  st_slice handle = st_slice_make(hv, (size_t)(e - hv));
  add_block(t, &largest, &handle, 1, &index);
  st_footer f;
  memset(&f, 0, sizeof f);
  f.metaindex = meta;
  f.index = index;
  char foot[ST_FOOTER_SIZE];
  st_footer_encode(&f, foot);
  assert_int_equal(st_buf_append(t, foot, ST_FOOTER_SIZE), 0);
}

/* Writes a database whose tables, #5 (and #6 when copies is 2, at level
 * 0 then), have the bytes of t and key range [smallest, largest]; one
 * table goes to level 1. */
static void write_db_with_tables(const st_buf *t, int copies, st_slice smallest, st_slice largest) {
  assert_int_equal(env->create_dir(env, DB), 0);
  assert_int_equal(fe_write_whole(fe, DB "/000005.ldb", t->data, t->size), 0);
  if (copies == 2) assert_int_equal(fe_write_whole(fe, DB "/000006.ldb", t->data, t->size), 0);
  st_version_edit e;
  st_edit_init(&e);
  assert_int_equal(st_edit_set_comparator(&e, "leveldb.BytewiseComparator"), 0);
  st_edit_set_log_number(&e, 0);
  st_edit_set_next_file(&e, 7);
  st_edit_set_last_sequence(&e, 20);
  for (int i = 0; i < copies; i++)
    assert_int_equal(
        st_edit_add_file(&e, copies == 2 ? 0 : 1, 5 + (uint64_t)i, t->size, smallest, largest), 0);
  st_buf rec = ST_BUF_INIT;
  assert_int_equal(st_edit_encode(&e, &rec), 0);
  st_edit_clear(&e);
  strata_wfile *f;
  assert_int_equal(env->new_wfile(env, DB "/MANIFEST-000002", &f), 0);
  st_log_writer *w = st_log_writer_new(f, 0);
  assert_int_equal(st_log_add_record(w, st_buf_slice(&rec)), 0);
  assert_int_equal(st_log_writer_close(w), 0);
  st_buf_free(&rec);
  assert_int_equal(fe_write_whole(fe, DB "/CURRENT", "MANIFEST-000002\n", 16), 0);
}

static void test_defect6_unordered_table(void **state) {
  (void)state;
  static const struct {
    const char *ukeys[3];
    uint64_t seqs[3];
  } cases[] = {
      {{"b", "a", "c"}, {10, 11, 12}}, /* user keys out of order */
      {{"k", "k", "m"}, {5, 9, 12}},   /* one user key, rising sequence numbers */
  };
  for (size_t c = 0; c < 2; c++) {
    teardown(state);
    setup(state);
    const char *vals[3] = {"v1", "v2", "v3"};
    char lo[16], hi[16];
    memcpy(lo, "a", 1);
    st_put_fixed64(lo + 1, st_pack_tag(20, ST_TYPE_VALUE));
    memcpy(hi, "m", 1);
    st_put_fixed64(hi + 1, st_pack_tag(1, ST_TYPE_VALUE));
    st_slice smallest = st_slice_make(lo, 9), largest = st_slice_make(hi, 9);
    st_buf t = ST_BUF_INIT;
    make_table(&t, cases[c].ukeys, cases[c].seqs, vals, 3, largest);
    write_db_with_tables(&t, 1, smallest, largest);
    st_buf_free(&t);

    strata_db *db = open_db(0);
    put(db, "c", "new"); /* into level 0, over the table's range */
    int rc = strata_compact_range(db, NULL, 0, NULL, 0);
    if (rc != STRATA_ECORRUPTION)
      fail_msg("case %zu: compaction returned %d (%s), expected a corruption", c, rc,
               strata_errmsg());
    expect_msg("compaction", "000005.ldb");
    expect_msg("compaction", "out of order");
    strata_close(db);
    strata_options o = options(0);
    char bad_file[256] = "";
    assert_int_equal(strata_check(DB, &o, check_report, bad_file, NULL), STRATA_ECORRUPTION);
    assert_string_equal(bad_file, DB "/000005.ldb");
  }

  /* Not out of order: the same entries in two level-0 tables (repair
   * leaves that when it converts a log a flushed table already holds).
   * The compaction keeps one copy of each. */
  teardown(state);
  setup(state);
  const char *ukeys[3] = {"a", "b", "c"}, *vals[3] = {"v1", "v2", "v3"};
  const uint64_t seqs[3] = {10, 11, 12};
  char lo[16], hi[16];
  memcpy(lo, "a", 1);
  st_put_fixed64(lo + 1, st_pack_tag(10, ST_TYPE_VALUE));
  memcpy(hi, "c", 1);
  st_put_fixed64(hi + 1, st_pack_tag(12, ST_TYPE_VALUE));
  st_buf t = ST_BUF_INIT;
  make_table(&t, ukeys, seqs, vals, 3, st_slice_make(hi, 9));
  write_db_with_tables(&t, 2, st_slice_make(lo, 9), st_slice_make(hi, 9));
  st_buf_free(&t);
  strata_db *db = open_db(0);
  /* A snapshot older than the entries, so no drop rule hides the copy. */
  const strata_snapshot *snap = strata_snapshot_get(db);
  int rc = strata_compact_range(db, NULL, 0, NULL, 0);
  if (rc) fail_msg("compaction of duplicated entries: %s", strata_errmsg());
  expect_get(db, "a", "v1");
  expect_get(db, "b", "v2");
  expect_get(db, "c", "v3");
  strata_snapshot_release(db, snap);
  strata_close(db);
  strata_options o = options(0);
  char bad_file[256] = "";
  assert_int_equal(strata_check(DB, &o, check_report, bad_file, NULL), 0);
}

/* ------------------------------------------------------------------------ */
/* 7. A MANIFEST whose edits cannot be applied                              */
/* ------------------------------------------------------------------------ */

/* Bytes the allocator has handed out and not taken back. */
static size_t allocated_bytes(void) {
#if defined(__SANITIZE_ADDRESS__)
  return __sanitizer_get_current_allocated_bytes();
#else
  return mallinfo2().uordblks;
#endif
}

static void test_defect7_manifest_no_leak(void **state) {
  (void)state;
  /* Two overlapping tables at level 1: recovery builds the version, then
   * finds it invalid. */
  st_version_edit e;
  st_edit_init(&e);
  assert_int_equal(st_edit_set_comparator(&e, "leveldb.BytewiseComparator"), 0);
  st_edit_set_log_number(&e, 0);
  st_edit_set_next_file(&e, 10);
  st_edit_set_last_sequence(&e, 5);
  char k[4][9];
  const char *uk[4] = {"a", "m", "c", "z"};
  for (int i = 0; i < 4; i++) {
    k[i][0] = uk[i][0];
    st_put_fixed64(k[i] + 1, st_pack_tag(1, ST_TYPE_VALUE));
  }
  assert_int_equal(st_edit_add_file(&e, 0, 4, 100, st_slice_make(k[0], 9), st_slice_make(k[3], 9)),
                   0);
  assert_int_equal(st_edit_add_file(&e, 1, 5, 100, st_slice_make(k[0], 9), st_slice_make(k[1], 9)),
                   0);
  assert_int_equal(st_edit_add_file(&e, 1, 6, 100, st_slice_make(k[2], 9), st_slice_make(k[3], 9)),
                   0);
  st_buf rec = ST_BUF_INIT;
  assert_int_equal(st_edit_encode(&e, &rec), 0);
  st_edit_clear(&e);
  assert_int_equal(env->create_dir(env, DB), 0);
  strata_wfile *f;
  assert_int_equal(env->new_wfile(env, DB "/MANIFEST-000002", &f), 0);
  st_log_writer *w = st_log_writer_new(f, 0);
  assert_int_equal(st_log_add_record(w, st_buf_slice(&rec)), 0);
  assert_int_equal(st_log_writer_close(w), 0);
  st_buf_free(&rec);
  assert_int_equal(fe_write_whole(fe, DB "/CURRENT", "MANIFEST-000002\n", 16), 0);

  /* Each failed open must give back all it took. The memory env's LOCK and
   * the fault env's records of it settle after the first rounds. */
  strata_options o = options(0);
  strata_db *db = NULL;
  size_t before = 0;
  enum { WARMUP = 20, ROUNDS = 400 };
  for (int i = 0; i < WARMUP + ROUNDS; i++) {
    if (i == WARMUP) before = allocated_bytes();
    assert_int_equal(strata_open(DB, &o, &db), STRATA_ECORRUPTION);
    if (i == 0) expect_msg("open", "overlapping tables");
  }
  size_t after = allocated_bytes();
  /* One version object alone is more than 64 bytes: a leak per open would
   * add ROUNDS times that. */
  if (after > before + 64 * ROUNDS / 4)
    fail_msg("%d failed opens kept %zu bytes", ROUNDS, after - before);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_defect1_current_dir_sync, setup, teardown),
      cmocka_unit_test_setup_teardown(test_defect2_error_messages, setup, teardown),
      cmocka_unit_test_setup_teardown(test_defect3_compaction_verifies, setup, teardown),
      cmocka_unit_test_setup_teardown(test_defect4_scan_stops_at_error, setup, teardown),
      cmocka_unit_test_setup_teardown(test_defect5_log_sequence, setup, teardown),
      cmocka_unit_test_setup_teardown(test_defect6_unordered_table, setup, teardown),
      cmocka_unit_test_setup_teardown(test_defect7_manifest_no_leak, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
