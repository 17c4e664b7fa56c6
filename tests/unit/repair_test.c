/*
 * repair_test.c - strata_repair() and strata_check() through the public API.
 *
 * Each case builds a database with several tables (small write buffer and
 * blocks, so some tables reach level 1) and a write-ahead log of unflushed
 * writes (one put per log record; the log's size is noted after each put,
 * so the test knows where every record lies), closes it, then damages one
 * file or not. The model (model_*) remembers the value each key must have.
 *
 * What the calls return, case by case:
 *   (a) intact database: strata_check -> STRATA_OK, 0 problems;
 *       strata_repair -> STRATA_OK, nothing lost or dropped; reopened, every
 *       key has its newest value (overwrites and deletes included).
 *   (b) bytes flipped inside a table's data block: strata_check ->
 *       STRATA_ECORRUPTION naming that table at the block's offset;
 *       strata_repair -> STRATA_OK with bytes_dropped > 0, the original in
 *       lost/; reopened, each key has its value or is absent (only the keys
 *       of the damaged block), never a wrong value; a second check is clean.
 *   (c) a damaged log record: strata_check -> STRATA_ECORRUPTION naming the
 *       log; strata_repair -> STRATA_OK; only that record's key is gone.
 *   (d) a damaged MANIFEST: strata_open -> STRATA_ECORRUPTION naming the
 *       MANIFEST; strata_repair -> STRATA_OK; reopened, all data is there.
 *   (e) CURRENT deleted: strata_open -> STRATA_EINVAL (no database);
 *       strata_repair -> STRATA_OK; reopened, all data is there.
 *   (f) see (a): check of a clean database.
 *   (g) database open: strata_repair and strata_check -> STRATA_EBUSY.
 *   Missing directory, or a directory without database files: both ->
 *       STRATA_EINVAL.
 *   Garbage written into every file: strata_check -> STRATA_ECORRUPTION;
 *       strata_repair -> STRATA_OK; the database opens, no wrong values.
 *   Tables whose file numbers do not follow their age: strata_repair ->
 *       STRATA_OK, and lookups see the newest version (repair merged them).
 */
#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
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

#define NTABLE_KEYS 3000
#define NLOG_KEYS 800
#define LOG_BLOCK 32768

static char dbpath[256];

/* ---- the model ----------------------------------------------------------- */

typedef struct model_key {
  char key[16];
  char value[64]; /* "" with deleted set: must be absent */
  int deleted;
  uint64_t log_start, log_end; /* log keys: the record's bytes in the log */
} model_key;

static model_key tkeys[NTABLE_KEYS], lkeys[NLOG_KEYS];
static char logname[64]; /* basename of the log holding the log keys */

static int rm_entry(const char *p, const struct stat *st, int flag, struct FTW *ftw) {
  (void)st;
  (void)flag;
  (void)ftw;
  return remove(p);
}

static void rm_rf(const char *dir) { nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS); }

static int setup(void **state) {
  (void)state;
  snprintf(dbpath, sizeof dbpath, "/tmp/strata_repair_test_%d", (int)getpid());
  rm_rf(dbpath);
  return 0;
}

static int teardown(void **state) {
  (void)state;
  rm_rf(dbpath);
  return 0;
}

static void options(strata_options *o, size_t write_buffer) {
  strata_options_init(o);
  o->write_buffer_size = write_buffer;
  o->block_size = 256;
  o->compression = STRATA_COMPRESSION_NONE;
}

static char *file_in(const char *name) {
  static char bufs[4][512];
  static int next;
  char *b = bufs[next++ % 4];
  if ((size_t)snprintf(b, sizeof bufs[0], "%s/%s", dbpath, name) >= sizeof bufs[0])
    fail_msg("path too long");
  return b;
}

static uint64_t file_size(const char *path) {
  struct stat st;
  if (stat(path, &st) != 0) fail_msg("stat %s", path);
  return (uint64_t)st.st_size;
}

/* Finds the entry of dbpath with the given suffix (or prefix when the
 * suffix is NULL) that is largest in number order (pick = 1) or in size
 * (pick = 2). */
static int find_file(const char *prefix, const char *suffix, int pick, char *out, size_t n) {
  DIR *d = opendir(dbpath);
  if (!d) return 0;
  struct dirent *e;
  int found = 0;
  uint64_t best = 0;
  while ((e = readdir(d))) {
    size_t len = strlen(e->d_name);
    if (suffix && (len < strlen(suffix) || strcmp(e->d_name + len - strlen(suffix), suffix)))
      continue;
    if (prefix && strncmp(e->d_name, prefix, strlen(prefix))) continue;
    uint64_t v = pick == 1 ? strtoull(e->d_name + (prefix ? strlen(prefix) : 0), NULL, 10)
                           : file_size(file_in(e->d_name));
    if (!found || v > best) {
      best = v;
      snprintf(out, n, "%s", e->d_name);
      found = 1;
    }
  }
  closedir(d);
  return found;
}

static void flip_bytes(const char *path, uint64_t offset, int n) {
  int fd = open(path, O_RDWR);
  if (fd < 0) fail_msg("open %s", path);
  for (int i = 0; i < n; i++) {
    unsigned char c;
    if (pread(fd, &c, 1, (off_t)(offset + (uint64_t)i)) != 1) fail_msg("read %s", path);
    c ^= 0x5a;
    if (pwrite(fd, &c, 1, (off_t)(offset + (uint64_t)i)) != 1) fail_msg("write %s", path);
  }
  close(fd);
}

/* Waits until no compaction is due (fewer than 4 level-0 tables, steady
 * for a while). Closing during a compaction leaves its unfinished output
 * behind until the next open, which check and repair would rightly see as
 * a damaged table; the cases here want exactly one damaged file. */
static void settle(strata_db *db) {
  strata_buf b = STRATA_BUF_INIT;
  int calm = 0;
  for (int i = 0; i < 1000 && calm < 3; i++) {
    if (strata_property(db, "leveldb.num-files-at-level0", &b)) fail_msg("property");
    calm = atoi(b.data) < 4 ? calm + 1 : 0;
    usleep(20000);
  }
  strata_buf_free(&b);
}

static void put(strata_db *db, model_key *m, const char *value) {
  snprintf(m->value, sizeof m->value, "%s", value);
  m->deleted = 0;
  if (strata_put(db, NULL, m->key, strlen(m->key), m->value, strlen(m->value)))
    fail_msg("put %s: %s", m->key, strata_errmsg());
}

/* Builds the database: table keys (with overwrites and deletes when
 * overwrite is set, each written once otherwise) flushed to tables, then
 * log keys left in the write-ahead log. */
static void build_db(int overwrite) {
  strata_options o;
  options(&o, 16 << 10);
  o.create_if_missing = 1;
  strata_db *db = NULL;
  if (strata_open(dbpath, &o, &db)) fail_msg("open: %s", strata_errmsg());
  char v[64];
  for (int i = 0; i < NTABLE_KEYS; i++) {
    snprintf(tkeys[i].key, sizeof tkeys[i].key, "t%05d", (i * 7919) % NTABLE_KEYS);
    snprintf(v, sizeof v, "first-value-of-t%05d-%010d", (i * 7919) % NTABLE_KEYS, i);
    put(db, &tkeys[i], v);
  }
  if (overwrite) {
    for (int i = 0; i < NTABLE_KEYS; i += 3) {
      snprintf(v, sizeof v, "second-value-%d", i);
      put(db, &tkeys[i], v);
    }
    for (int i = 0; i < NTABLE_KEYS; i += 10) {
      if (strata_delete(db, NULL, tkeys[i].key, strlen(tkeys[i].key))) fail_msg("delete");
      tkeys[i].deleted = 1;
    }
    for (int i = 1; i < NTABLE_KEYS; i += 5) {
      snprintf(v, sizeof v, "third-value-%d", i);
      put(db, &tkeys[i], v);
    }
  }
  settle(db);
  strata_close(db);

  /* A large write buffer: the log keys stay in the log. */
  options(&o, 4 << 20);
  if (strata_open(dbpath, &o, &db)) fail_msg("reopen: %s", strata_errmsg());
  settle(db);
  if (!find_file(NULL, ".log", 1, logname, sizeof logname)) fail_msg("no log");
  const char *lpath = file_in(logname);
  for (int i = 0; i < NLOG_KEYS; i++) {
    snprintf(lkeys[i].key, sizeof lkeys[i].key, "l%04d", i);
    snprintf(v, sizeof v, "log-value-%04d-padding-padding-padding-padding-padding", i);
    lkeys[i].log_start = file_size(lpath);
    put(db, &lkeys[i], v);
    lkeys[i].log_end = file_size(lpath);
  }
  strata_close(db);
}

typedef struct tally {
  int right, absent, wrong;
} tally;

static void read_back(model_key *keys, int n, tally *t) {
  strata_options o;
  options(&o, 4 << 20);
  strata_db *db = NULL;
  if (strata_open(dbpath, &o, &db)) fail_msg("open after repair: %s", strata_errmsg());
  strata_buf b = STRATA_BUF_INIT;
  for (int i = 0; i < n; i++) {
    int rc = strata_get(db, NULL, keys[i].key, strlen(keys[i].key), &b);
    if (rc == STRATA_ENOTFOUND) {
      if (keys[i].deleted)
        t->right++;
      else
        t->absent++;
    } else if (rc) {
      fail_msg("get %s: %s", keys[i].key, strata_errmsg());
    } else if (!keys[i].deleted && b.size == strlen(keys[i].value) &&
               memcmp(b.data, keys[i].value, b.size) == 0) {
      t->right++;
    } else {
      print_error("%s: got '%.*s', want %s\n", keys[i].key, (int)b.size, b.data,
                  keys[i].deleted ? "absent" : keys[i].value);
      t->wrong++;
    }
  }
  strata_buf_free(&b);
  strata_close(db);
}

/* ---- strata_check's reports ----------------------------------------------- */

typedef struct seen {
  int n;
  char file[8][512];
  uint64_t offset[8];
  int code[8];
  char what[8][256];
} seen;

static void collect(void *arg, const char *file, uint64_t offset, int code, const char *what) {
  seen *s = arg;
  if (s->n < 8) {
    snprintf(s->file[s->n], sizeof s->file[0], "%s", file);
    s->offset[s->n] = offset;
    s->code[s->n] = code;
    snprintf(s->what[s->n], sizeof s->what[0], "%s", what);
  }
  s->n++;
}

static void expect_clean_check(void) {
  seen s = {0};
  uint64_t problems = 99;
  int rc = strata_check(dbpath, NULL, collect, &s, &problems);
  if (rc != STRATA_OK)
    fail_msg("check: %d (%s), first: %s @%llu: %s", rc, strata_errmsg(), s.n ? s.file[0] : "-",
             s.n ? (unsigned long long)s.offset[0] : 0ull, s.n ? s.what[0] : "");
  assert_int_equal(problems, 0);
  assert_int_equal(s.n, 0);
}

/* ---- cases ------------------------------------------------------------------- */

/* (a) + (f) */
static void test_intact(void **state) {
  (void)state;
  build_db(1);
  expect_clean_check();
  strata_options o;
  options(&o, 16 << 10);
  strata_repair_report rep;
  assert_int_equal(strata_repair(dbpath, &o, &rep), STRATA_OK);
  assert_true(rep.tables_kept >= 2);
  assert_int_equal(rep.tables_lost, 0);
  assert_int_equal(rep.logs_converted, 1);
  assert_int_equal(rep.bytes_dropped, 0);
  assert_true(rep.entries_recovered >= NTABLE_KEYS + NLOG_KEYS - NTABLE_KEYS / 10);
  /* The converted log and the old MANIFEST were set aside. */
  struct stat st;
  assert_int_equal(stat(file_in("lost"), &st), 0);
  char lost_log[600];
  snprintf(lost_log, sizeof lost_log, "lost/%s", logname);
  assert_int_equal(stat(file_in(lost_log), &st), 0);
  tally t = {0, 0, 0};
  read_back(tkeys, NTABLE_KEYS, &t);
  read_back(lkeys, NLOG_KEYS, &t);
  assert_int_equal(t.wrong, 0);
  assert_int_equal(t.absent, 0);
  assert_int_equal(t.right, NTABLE_KEYS + NLOG_KEYS);
  expect_clean_check();
  /* A second repair of the repaired database changes nothing. */
  assert_int_equal(strata_repair(dbpath, &o, &rep), STRATA_OK);
  assert_int_equal(rep.tables_lost, 0);
  assert_int_equal(rep.bytes_dropped, 0);
  memset(&t, 0, sizeof t);
  read_back(tkeys, NTABLE_KEYS, &t);
  read_back(lkeys, NLOG_KEYS, &t);
  assert_int_equal(t.right, NTABLE_KEYS + NLOG_KEYS);
}

/* (b) */
static void test_damaged_table(void **state) {
  (void)state;
  build_db(0);
  char table[64];
  if (!find_file(NULL, ".ldb", 2, table, sizeof table)) fail_msg("no table");
  const char *tpath = file_in(table);
  uint64_t size = file_size(tpath);
  assert_true(size > 4096);
  /* A third of the way in is data: the index is a small part at the end. */
  uint64_t at = size / 3;
  flip_bytes(tpath, at, 4);

  seen s = {0};
  uint64_t problems = 0;
  assert_int_equal(strata_check(dbpath, NULL, collect, &s, &problems), STRATA_ECORRUPTION);
  assert_true(problems >= 1);
  assert_int_equal((int)problems, s.n);
  assert_string_equal(s.file[0], tpath);
  assert_int_equal(s.code[0], STRATA_ECORRUPTION);
  assert_true(s.offset[0] <= at && at - s.offset[0] < 1024);
  assert_true(s.offset[0] > 0);

  strata_options o;
  options(&o, 16 << 10);
  strata_repair_report rep;
  assert_int_equal(strata_repair(dbpath, &o, &rep), STRATA_OK);
  assert_true(rep.bytes_dropped > 0);
  assert_int_equal(rep.tables_lost, 0);
  assert_int_equal(rep.logs_converted, 1);
  char lost[600];
  snprintf(lost, sizeof lost, "lost/%s", table);
  struct stat st;
  assert_int_equal(stat(file_in(lost), &st), 0);

  tally t = {0, 0, 0};
  read_back(tkeys, NTABLE_KEYS, &t);
  assert_int_equal(t.wrong, 0);
  /* Only the damaged block's keys are gone: a few entries of 256 bytes. */
  assert_true(t.absent > 0);
  assert_true(t.absent <= 10);
  assert_int_equal(t.right + t.absent, NTABLE_KEYS);
  assert_int_equal(rep.entries_recovered, (uint64_t)(NTABLE_KEYS - t.absent + NLOG_KEYS));
  memset(&t, 0, sizeof t);
  read_back(lkeys, NLOG_KEYS, &t);
  assert_int_equal(t.right, NLOG_KEYS);
  expect_clean_check();
}

/* (c) */
static void test_damaged_log(void **state) {
  (void)state;
  build_db(0);
  /* The record that starts in one log block and ends in the next: damaging
   * its first fragment drops only the rest of that block (the fragment
   * itself), and its orphaned second fragment is skipped. */
  int victim = -1;
  for (int i = 0; i < NLOG_KEYS && victim < 0; i++)
    if (lkeys[i].log_start + 7 < LOG_BLOCK && lkeys[i].log_end > LOG_BLOCK) victim = i;
  assert_true(victim > 0);
  const char *lpath = file_in(logname);
  flip_bytes(lpath, lkeys[victim].log_start, 1); /* its checksum */

  seen s = {0};
  uint64_t problems = 0;
  assert_int_equal(strata_check(dbpath, NULL, collect, &s, &problems), STRATA_ECORRUPTION);
  assert_true(problems >= 1);
  assert_string_equal(s.file[0], lpath);
  assert_int_equal(s.offset[0], lkeys[victim].log_start);

  strata_repair_report rep;
  assert_int_equal(strata_repair(dbpath, NULL, &rep), STRATA_OK);
  assert_true(rep.bytes_dropped > 0);
  assert_true(rep.bytes_dropped < 2 * (lkeys[victim].log_end - lkeys[victim].log_start));
  assert_int_equal(rep.tables_lost, 0);

  tally t = {0, 0, 0};
  read_back(tkeys, NTABLE_KEYS, &t);
  assert_int_equal(t.right, NTABLE_KEYS);
  for (int i = 0; i < NLOG_KEYS; i++) {
    memset(&t, 0, sizeof t);
    read_back(&lkeys[i], 1, &t);
    if (i == victim)
      assert_int_equal(t.absent, 1);
    else
      assert_int_equal(t.right, 1);
  }
  expect_clean_check();
}

/* (d) */
static void test_damaged_manifest(void **state) {
  (void)state;
  build_db(1);
  char manifest[64];
  if (!find_file("MANIFEST-", NULL, 1, manifest, sizeof manifest)) fail_msg("no MANIFEST");
  const char *mpath = file_in(manifest);
  flip_bytes(mpath, file_size(mpath) / 2, 1);

  strata_options o;
  options(&o, 16 << 10);
  strata_db *db = NULL;
  assert_int_equal(strata_open(dbpath, &o, &db), STRATA_ECORRUPTION);
  assert_non_null(strstr(strata_errmsg(), manifest));

  seen s = {0};
  uint64_t problems = 0;
  assert_int_equal(strata_check(dbpath, NULL, collect, &s, &problems), STRATA_ECORRUPTION);
  assert_string_equal(s.file[0], mpath);

  strata_repair_report rep;
  assert_int_equal(strata_repair(dbpath, &o, &rep), STRATA_OK);
  assert_int_equal(rep.tables_lost, 0);
  assert_int_equal(rep.bytes_dropped, 0);
  snprintf(s.file[0], sizeof s.file[0], "lost/%s", manifest);
  struct stat st;
  assert_int_equal(stat(file_in(s.file[0]), &st), 0);
  tally t = {0, 0, 0};
  read_back(tkeys, NTABLE_KEYS, &t);
  read_back(lkeys, NLOG_KEYS, &t);
  assert_int_equal(t.wrong, 0);
  assert_int_equal(t.right, NTABLE_KEYS + NLOG_KEYS);
  expect_clean_check();
}

/* (e) */
static void test_missing_current(void **state) {
  (void)state;
  build_db(1);
  assert_int_equal(unlink(file_in("CURRENT")), 0);
  strata_options o;
  options(&o, 16 << 10);
  strata_db *db = NULL;
  assert_int_equal(strata_open(dbpath, &o, &db), STRATA_EINVAL);

  seen s = {0};
  uint64_t problems = 0;
  assert_int_equal(strata_check(dbpath, NULL, collect, &s, &problems), STRATA_ECORRUPTION);
  assert_string_equal(s.file[0], file_in("CURRENT"));

  strata_repair_report rep;
  assert_int_equal(strata_repair(dbpath, &o, &rep), STRATA_OK);
  tally t = {0, 0, 0};
  read_back(tkeys, NTABLE_KEYS, &t);
  read_back(lkeys, NLOG_KEYS, &t);
  assert_int_equal(t.right, NTABLE_KEYS + NLOG_KEYS);
  expect_clean_check();
}

/* (g) and a missing database. */
static void test_busy_and_missing(void **state) {
  (void)state;
  strata_options o;
  options(&o, 16 << 10);
  o.create_if_missing = 1;
  strata_db *db = NULL;
  assert_int_equal(strata_open(dbpath, &o, &db), STRATA_OK);
  assert_int_equal(strata_put(db, NULL, "k", 1, "v", 1), STRATA_OK);
  strata_repair_report rep;
  assert_int_equal(strata_repair(dbpath, NULL, &rep), STRATA_EBUSY);
  uint64_t problems = 7;
  assert_int_equal(strata_check(dbpath, NULL, NULL, NULL, &problems), STRATA_EBUSY);
  assert_int_equal(problems, 0);
  strata_close(db);
  /* Closed: both work, report may be NULL. */
  assert_int_equal(strata_check(dbpath, NULL, NULL, NULL, NULL), STRATA_OK);
  assert_int_equal(strata_repair(dbpath, NULL, NULL), STRATA_OK);

  char missing[300];
  snprintf(missing, sizeof missing, "%s/no/such/db", dbpath);
  assert_int_equal(strata_repair(missing, NULL, &rep), STRATA_EINVAL);
  assert_int_equal(strata_check(missing, NULL, NULL, NULL, NULL), STRATA_EINVAL);
  /* A directory with no database file in it is not a database either, and
   * is left untouched (no LOCK file made). */
  char empty[300];
  snprintf(empty, sizeof empty, "%s/empty", dbpath);
  assert_int_equal(mkdir(empty, 0755), 0);
  assert_int_equal(strata_repair(empty, NULL, &rep), STRATA_EINVAL);
  assert_int_equal(strata_check(empty, NULL, NULL, NULL, NULL), STRATA_EINVAL);
  assert_int_equal(rmdir(empty), 0);
}

/* Garbage in every file: check reports and never crashes; repair keeps
 * what it can and the database opens. */
static void test_garbage(void **state) {
  (void)state;
  build_db(0);
  DIR *d = opendir(dbpath);
  assert_non_null(d);
  struct dirent *e;
  while ((e = readdir(d))) {
    if (e->d_name[0] == '.' || !strcmp(e->d_name, "LOCK") || !strncmp(e->d_name, "LOG", 3))
      continue;
    const char *p = file_in(e->d_name);
    uint64_t size = file_size(p);
    /* Overwrite a stretch in the middle and the last bytes. */
    for (uint64_t off = size / 2; off < size && off < size / 2 + 64; off += 8)
      flip_bytes(p, off, 1);
    if (size > 8) flip_bytes(p, size - 8, 8);
  }
  closedir(d);
  uint64_t problems = 0;
  assert_int_equal(strata_check(dbpath, NULL, NULL, NULL, &problems), STRATA_ECORRUPTION);
  assert_true(problems > 0);
  strata_repair_report rep;
  assert_int_equal(strata_repair(dbpath, NULL, &rep), STRATA_OK);
  assert_true(rep.tables_lost > 0); /* every footer is gone */
  tally t = {0, 0, 0};
  read_back(tkeys, NTABLE_KEYS, &t);
  read_back(lkeys, NLOG_KEYS, &t);
  assert_int_equal(t.wrong, 0);
  expect_clean_check();
}

/* Level-0 order: tables are found newest first by file number, so when a
 * table with older entries ends up with the higher number, repair must
 * merge them. Here NNNNNN.ldb and NNNNNN.sst share a number and the .sst,
 * copied from another database where key "k" has an older sequence number,
 * is renumbered above the .ldb holding the newer "k". */
static void test_level0_order(void **state) {
  (void)state;
  char other[300];
  snprintf(other, sizeof other, "%s-other", dbpath);
  rm_rf(other);
  strata_options o;
  strata_options_init(&o);
  o.create_if_missing = 1;
  strata_db *db = NULL;
  assert_int_equal(strata_open(other, &o, &db), STRATA_OK);
  assert_int_equal(strata_put(db, NULL, "k", 1, "old", 3), STRATA_OK); /* sequence 1 */
  assert_int_equal(strata_compact_range(db, NULL, 0, NULL, 0), STRATA_OK);
  strata_close(db);

  assert_int_equal(strata_open(dbpath, &o, &db), STRATA_OK);
  char key[16];
  for (int i = 0; i < 100; i++) {
    snprintf(key, sizeof key, "f%03d", i);
    assert_int_equal(strata_put(db, NULL, key, strlen(key), "filler", 6), STRATA_OK);
  }
  assert_int_equal(strata_put(db, NULL, "k", 1, "new", 3), STRATA_OK); /* sequence 101 */
  assert_int_equal(strata_compact_range(db, NULL, 0, NULL, 0), STRATA_OK);
  strata_close(db);

  char table[64], src[600], dst[600];
  if (!find_file(NULL, ".ldb", 2, table, sizeof table)) fail_msg("no table");
  char *dot = strchr(table, '.');
  snprintf(dst, sizeof dst, "%s/%.*s.sst", dbpath, (int)(dot - table), table);
  DIR *d = opendir(other);
  assert_non_null(d);
  struct dirent *e;
  src[0] = '\0';
  while ((e = readdir(d)))
    if (strstr(e->d_name, ".ldb")) snprintf(src, sizeof src, "%s/%s", other, e->d_name);
  closedir(d);
  assert_true(src[0] != '\0');
  assert_int_equal(rename(src, dst), 0);
  rm_rf(other);

  strata_repair_report rep;
  assert_int_equal(strata_repair(dbpath, NULL, &rep), STRATA_OK);
  assert_int_equal(rep.tables_kept, 2);
  assert_int_equal(rep.tables_lost, 0);
  assert_int_equal(strata_open(dbpath, NULL, &db), STRATA_OK);
  strata_buf b = STRATA_BUF_INIT;
  assert_int_equal(strata_get(db, NULL, "k", 1, &b), STRATA_OK);
  assert_int_equal(b.size, 3);
  assert_memory_equal(b.data, "new", 3);
  assert_int_equal(strata_get(db, NULL, "f050", 4, &b), STRATA_OK);
  assert_memory_equal(b.data, "filler", 6);
  strata_buf_free(&b);
  strata_close(db);
  expect_clean_check();
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_intact, setup, teardown),
      cmocka_unit_test_setup_teardown(test_damaged_table, setup, teardown),
      cmocka_unit_test_setup_teardown(test_damaged_log, setup, teardown),
      cmocka_unit_test_setup_teardown(test_damaged_manifest, setup, teardown),
      cmocka_unit_test_setup_teardown(test_missing_current, setup, teardown),
      cmocka_unit_test_setup_teardown(test_busy_and_missing, setup, teardown),
      cmocka_unit_test_setup_teardown(test_garbage, setup, teardown),
      cmocka_unit_test_setup_teardown(test_level0_order, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
