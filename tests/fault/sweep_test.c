/*
 * sweep_test.c - the corruption sweep (suite.sweep): one flipped byte at a
 * time, at many offsets of every file of a small database with several
 * levels, and what each read then returns.
 *
 * The database (in memory), keys "a00000X".."a01199X" (X: a check letter
 * of the digits, so a flipped key byte never reads as another key) with
 * values that embed their key, version and a hash of themselves (so a
 * value is recognised as right, older, another key's or damaged):
 *   v0  every key, flushed in three ranges: three tables at level 2
 *   v1  even keys, flushed in two ranges: two tables at level 1
 *   v2  keys divisible by 5, and deletions of keys divisible by 11: one
 *       table at level 0
 *   v3  keys divisible by 13, then deletions of keys divisible by 17: left
 *       in the write-ahead log, one record each
 * plus the MANIFEST and CURRENT. For each file, up to STRATA_SWEEP_FLIPS
 * offsets (default 40; 20 under STRATA_TEST_SCALE=asan; every byte of
 * CURRENT) spread over it, a fifth of a table's in its last 48 bytes (the
 * footer); each flip xors one byte with a random non-zero mask. For each
 * flip, on a fresh copy: strata_open with paranoid_checks 0 and 1; on
 * success, a get of every key and a scan forward and backward, with
 * verify_checksums 0 and 1; then (paranoid_checks 0) a compaction of
 * everything and gets of every key with verify_checksums 1. A crash fails
 * the test, and so does a probe taking more than a minute (a hang).
 *
 * What each read may return, by what was flipped ("checked": the read asks
 * for verify_checksums, or the database has paranoid_checks):
 *
 *   flipped    open                   checked reads       unchecked reads
 *   ---------  ---------------------  ------------------  ------------------------
 *   table      OK (tables are opened  the right value,    also what the damaged
 *              lazily) or, paranoid,  or Corruption       bytes decode to: a
 *              Corruption naming the  naming the table    flipped value or key, a
 *              table                                      key hidden or an older
 *                                                         version shown by a
 *                                                         flipped type or sequence
 *                                                         (LevelDB's contract: no
 *                                                         check asked, none made)
 *   log        OK, the damaged        the right value, or for a key the log wrote:
 *              records dropped; or,   a state it had before the dropped record
 *              paranoid, Corruption   (LevelDB's recovery rules)
 *   MANIFEST   Corruption; or OK      the right value
 *   CURRENT    Corruption             -
 *
 * Never, whatever the options: another key's value, an older version or a
 * missing key under a checked read of a damaged table, an error other than
 * Corruption, a crash or a hang. After the compaction (which verifies what
 * it reads) checked reads still give only the right value or Corruption: the
 * damage is never rewritten under a valid checksum. A scan stops at its
 * first error, and everything it returned before is right.
 *
 * The counts of each outcome per file kind are printed at the end.
 *
 * Usage: sweep_test [--seed S] [--flips N]
 * STRATA_SWEEP_DUMP=dir writes the pristine database there first.
 */
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fault_env.h"
#include "strata.h"
#include "suite_util.h"

#define DB "/db"
#define NK 1200
#define NVER 4

/* ------------------------------------------------------------------------ */
/* Keys and values                                                          */
/* ------------------------------------------------------------------------ */

static void key_of(int k, char *out) {
  int sum = 0;
  char digits[16];
  snprintf(digits, sizeof digits, "a%05u", (unsigned)k % 100000u);
  memcpy(out, digits, 6);
  for (int i = 1; i < 6; i++)
    sum = sum * 7 + out[i];
  out[6] = (char)('A' + sum % 26);
  out[7] = '\0';
}

/* The key's number, or -1 for bytes that are not one of our keys. */
static int key_index(const char *key, size_t len) {
  if (len != 7 || key[0] != 'a') return -1;
  int k = 0;
  for (int i = 1; i < 6; i++) {
    if (key[i] < '0' || key[i] > '9') return -1;
    k = k * 10 + key[i] - '0';
  }
  char expect[8];
  if (k >= NK) return -1;
  key_of(k, expect);
  return memcmp(expect, key, 7) == 0 ? k : -1;
}

/* Value of key k at version v: "v<v>:<k>:" + filler + 16 hex digits of a
 * hash of what precedes them. */
static size_t value_of(int k, int v, char *out) {
  su_rng r;
  su_rng_seed(&r, su_derive((uint64_t)k, (uint64_t)v + 99));
  size_t n = (size_t)snprintf(out, 32, "v%d:%05d:", v, k);
  size_t fill = (size_t)su_rng_range(&r, 20, 150);
  for (size_t i = 0; i < fill; i++)
    out[n++] = (char)('a' + su_rng_below(&r, 26));
  n += (size_t)snprintf(out + n, 17, "%016llx", (unsigned long long)su_hash64(out, n, 7));
  return n;
}

/* Whether val is some well-formed value (of any key and version). */
static int well_formed(const char *val, size_t len) {
  if (len < 16 + 8) return 0;
  char hex[17];
  snprintf(hex, sizeof hex, "%016llx", (unsigned long long)su_hash64(val, len - 16, 7));
  return memcmp(hex, val + len - 16, 16) == 0;
}

/* The history of each key: its state after each version step (-1: absent). */
static int hist[NK][NVER + 2];
static int nhist[NK];
static int log_from[NK]; /* index in hist where the log's states begin */

static void add_state(int k, int v) {
  if (nhist[k] == 0 || hist[k][nhist[k] - 1] != v) hist[k][nhist[k]++] = v;
}

static void plan_history(void) {
  for (int k = 0; k < NK; k++) {
    nhist[k] = 0;
    add_state(k, 0);
    if (k % 2 == 0) add_state(k, 1);
    if (k % 5 == 0) add_state(k, 2);
    if (k % 11 == 0) add_state(k, -1);
    log_from[k] = nhist[k] - 1; /* the state before the log */
    if (k % 13 == 0) add_state(k, 3);
    if (k % 17 == 0) add_state(k, -1);
  }
}

/* ------------------------------------------------------------------------ */
/* Outcomes                                                                 */
/* ------------------------------------------------------------------------ */

enum { F_TABLE, F_LOG, F_MANIFEST, F_CURRENT, F_KINDS };
static const char *const kind_names[F_KINDS] = {"table", "log", "MANIFEST", "CURRENT"};

enum {
  O_RIGHT,   /* the right value (or right absence) */
  O_ERROR,   /* STRATA_ECORRUPTION */
  O_LOGDROP, /* a state the key had before a dropped log record */
  O_DAMAGED, /* bytes that are no value / no key of ours */
  O_STALE,   /* an older version of the key, or absent though present */
  O_WRONG,   /* another key's or version's intact value */
  O_NOUTCOMES
};
static const char *const outcome_names[O_NOUTCOMES] = {"right",   "Corruption", "log-dropped",
                                                       "damaged", "stale",      "WRONG"};

typedef struct tally {
  uint64_t flips, open_ok[2], open_corrupt[2];
  uint64_t checked[O_NOUTCOMES], unchecked[O_NOUTCOMES], after_compaction[O_NOUTCOMES];
  uint64_t scans_complete, scans_stopped, compactions_ok, compactions_corrupt;
} tally;

static tally tallies[F_KINDS];
static uint64_t g_seed;
static char g_case[256];

static void failf(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void failf(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "FAIL: seed=%llu %s: ", (unsigned long long)g_seed, g_case);
  vfprintf(stderr, fmt, ap);
  fprintf(stderr, "\n");
  va_end(ap);
  exit(1);
}

static void on_alarm(int sig) {
  (void)sig;
  static const char msg[] = "FAIL: a probe took more than a minute (a hang): ";
  if (write(2, msg, sizeof msg - 1) < 0 || write(2, g_case, strlen(g_case)) < 0 ||
      write(2, "\n", 1) < 0)
    _exit(1);
  _exit(1);
}

/* Classifies what a read of key k gave: rc and, when found, the value. */
static int classify(int k, int rc, const char *val, size_t vlen) {
  if (rc == STRATA_ECORRUPTION) return O_ERROR;
  if (rc && rc != STRATA_ENOTFOUND) failf("key %d: error %d (%s)", k, rc, strata_errmsg());
  char buf[256];
  int got = -2; /* the version read, -1 absent, -2 none of k's */
  if (rc == STRATA_ENOTFOUND) {
    got = -1;
  } else {
    for (int v = 0; v < NVER && got == -2; v++) {
      size_t n = value_of(k, v, buf);
      if (n == vlen && memcmp(buf, val, n) == 0) got = v;
    }
  }
  if (got == hist[k][nhist[k] - 1]) return O_RIGHT;
  for (int i = log_from[k]; i < nhist[k] - 1; i++)
    if (hist[k][i] == got) return O_LOGDROP;
  if (got == -2) return well_formed(val, vlen) ? O_WRONG : O_DAMAGED;
  return O_STALE;
}

/* Whether an outcome is allowed for a read of a file of kind fk. */
static int allowed(int o, int fk, int checked) {
  switch (o) {
  case O_RIGHT:
  case O_ERROR: return 1;
  case O_LOGDROP: return fk == F_LOG;
  case O_DAMAGED:
  case O_STALE: return fk == F_TABLE && !checked;
  default: return 0;
  }
}

/* ------------------------------------------------------------------------ */
/* The database                                                             */
/* ------------------------------------------------------------------------ */

typedef struct file {
  char name[64];
  int kind;
  char *data;
  size_t len;
} file;

static file files[32];
static int nfiles;
static strata_logger *quiet;

static void no_log(void *state, const char *line) {
  (void)state;
  (void)line;
}

static strata_options options(fe_env *fe, int paranoid) {
  strata_options o;
  strata_options_init(&o);
  o.env = fe_strata_env(fe);
  o.create_if_missing = 1;
  o.paranoid_checks = paranoid;
  o.block_size = 1024;
  o.info_log = quiet;
  return o;
}

static void put_version(strata_db *db, int k, int v) {
  char key[8], val[256];
  key_of(k, key);
  size_t n = value_of(k, v, val);
  if (strata_put(db, NULL, key, 7, val, n)) failf("build: %s", strata_errmsg());
}

static void del(strata_db *db, int k) {
  char key[8];
  key_of(k, key);
  if (strata_delete(db, NULL, key, 7)) failf("build: %s", strata_errmsg());
}

/* A flush that compacts nothing: a manual compaction of an empty range. */
static void flush(strata_db *db) {
  if (strata_compact_range(db, "~", 1, "~", 1)) failf("build: flush: %s", strata_errmsg());
}

static void build(void) {
  fe_env *fe = fe_new();
  strata_options o = options(fe, 0);
  strata_db *db;
  if (strata_open(DB, &o, &db)) failf("build: %s", strata_errmsg());
  for (int r = 0; r < 3; r++) {
    for (int k = r * NK / 3; k < (r + 1) * NK / 3; k++)
      put_version(db, k, 0);
    flush(db);
  }
  for (int r = 0; r < 2; r++) {
    for (int k = r * NK / 2; k < (r + 1) * NK / 2; k += 2)
      put_version(db, k, 1);
    flush(db);
  }
  for (int k = 0; k < NK; k += 5)
    put_version(db, k, 2);
  for (int k = 0; k < NK; k += 11)
    del(db, k);
  flush(db);
  for (int k = 0; k < NK; k += 13)
    put_version(db, k, 3);
  for (int k = 0; k < NK; k += 17)
    del(db, k);
  strata_buf b = STRATA_BUF_INIT;
  printf("sweep_test: levels");
  for (int l = 0; l < 3; l++) {
    char name[64];
    snprintf(name, sizeof name, "leveldb.num-files-at-level%d", l);
    if (strata_property(db, name, &b)) failf("build: %s", strata_errmsg());
    printf(" %d:%s", l, b.data);
  }
  printf(", ");
  strata_buf_free(&b);
  strata_close(db);

  char **names;
  size_t n;
  strata_env *env = fe_strata_env(fe);
  if (env->children(env, DB, &names, &n)) failf("build: %s", strata_errmsg());
  for (size_t i = 0; i < n; i++) {
    file *f = &files[nfiles];
    size_t len = strlen(names[i]);
    if (len > 4 && strcmp(names[i] + len - 4, ".ldb") == 0)
      f->kind = F_TABLE;
    else if (len > 4 && strcmp(names[i] + len - 4, ".log") == 0)
      f->kind = F_LOG;
    else if (strncmp(names[i], "MANIFEST-", 9) == 0)
      f->kind = F_MANIFEST;
    else if (strcmp(names[i], "CURRENT") == 0)
      f->kind = F_CURRENT;
    else
      f->kind = -1; /* LOCK: not part of the data */
    snprintf(f->name, sizeof f->name, "%s", names[i]);
    char path[128];
    snprintf(path, sizeof path, DB "/%.63s", names[i]);
    if (fe_read_whole(fe, path, &f->data, &f->len)) failf("build: read %s", path);
    if (f->kind >= 0 && nfiles < 31)
      nfiles++;
    else
      free(f->data);
    free(names[i]);
  }
  free(names);
  fe_free(fe);
  printf("%d files\n", nfiles);
  /* STRATA_SWEEP_DUMP=dir writes the pristine files there, to look at a
   * failing flip with other tools. */
  const char *dump = getenv("STRATA_SWEEP_DUMP");
  for (int i = 0; dump && *dump && i < nfiles; i++) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dump, files[i].name);
    if (su_write_file(path, files[i].data, files[i].len)) failf("dump: %s", path);
  }
}

/* ------------------------------------------------------------------------ */
/* Probes                                                                   */
/* ------------------------------------------------------------------------ */

static void probe_gets(strata_db *db, int fk, int verify, int paranoid, int after_compaction) {
  strata_read_options ro;
  strata_read_options_init(&ro);
  ro.verify_checksums = verify;
  int checked = verify || paranoid;
  tally *t = &tallies[fk];
  strata_buf b = STRATA_BUF_INIT;
  for (int k = 0; k < NK; k++) {
    char key[8];
    key_of(k, key);
    int rc = strata_get(db, &ro, key, 7, &b);
    int o = classify(k, rc, b.data, b.size);
    if (after_compaction)
      t->after_compaction[o]++;
    else if (checked)
      t->checked[o]++;
    else
      t->unchecked[o]++;
    if (!allowed(o, fk, checked))
      failf("get key %d (verify_checksums=%d%s): %s", k, verify,
            after_compaction ? ", after the compaction" : "", outcome_names[o]);
  }
  strata_buf_free(&b);
}

static void probe_scan(strata_db *db, int fk, int verify, int paranoid, int backward) {
  strata_read_options ro;
  strata_read_options_init(&ro);
  ro.verify_checksums = verify;
  int checked = verify || paranoid;
  tally *t = &tallies[fk];
  strata_iter *it;
  if (strata_iter_create(db, &ro, &it)) failf("iterator: %s", strata_errmsg());
  int last = backward ? NK : -1;
  for (backward ? strata_iter_seek_to_last(it) : strata_iter_seek_to_first(it);
       strata_iter_valid(it); backward ? strata_iter_prev(it) : strata_iter_next(it)) {
    size_t kl, vl;
    const char *key = strata_iter_key(it, &kl), *val = strata_iter_value(it, &vl);
    int k = key_index(key, kl);
    if (k < 0) {
      if (!allowed(O_DAMAGED, fk, checked)) failf("scan (verify=%d): a damaged key", verify);
      t->unchecked[O_DAMAGED]++;
      continue;
    }
    if (backward ? k >= last : k <= last) {
      if (!allowed(O_DAMAGED, fk, checked))
        failf("scan (verify=%d): key %d out of order after %d", verify, k, last);
      t->unchecked[O_DAMAGED]++;
      continue;
    }
    /* Keys skipped since the last one must be absent. */
    for (int j = backward ? k + 1 : last + 1; backward ? j < last : j < k; j++) {
      if (j < 0 || j >= NK) continue;
      int o = classify(j, STRATA_ENOTFOUND, NULL, 0);
      if (!allowed(o, fk, checked))
        failf("scan (verify=%d%s): key %d not shown: %s", verify, backward ? ", backward" : "", j,
              outcome_names[o]);
    }
    last = k;
    int o = classify(k, 0, val, vl);
    (checked ? t->checked : t->unchecked)[o]++;
    if (!allowed(o, fk, checked))
      failf("scan (verify=%d%s): key %d: %s", verify, backward ? ", backward" : "", k,
            outcome_names[o]);
  }
  int rc = strata_iter_status(it);
  strata_iter_destroy(it);
  if (rc && rc != STRATA_ECORRUPTION) failf("scan ended with error %d: %s", rc, strata_errmsg());
  if (rc) {
    t->scans_stopped++;
    return;
  }
  t->scans_complete++;
  for (int j = backward ? last - 1 : last + 1; j >= 0 && j < NK; j += backward ? -1 : 1) {
    int o = classify(j, STRATA_ENOTFOUND, NULL, 0);
    if (!allowed(o, fk, checked)) failf("scan (verify=%d): key %d missing at the end", verify, j);
  }
}

static void probe(int fi, size_t off, unsigned char mask) {
  file *f = &files[fi];
  tally *t = &tallies[f->kind];
  t->flips++;
  for (int paranoid = 0; paranoid < 2; paranoid++) {
    snprintf(g_case, sizeof g_case, "file %s offset %zu mask 0x%02x paranoid_checks=%d", f->name,
             off, mask, paranoid);
    alarm(60);
    fe_env *fe = fe_new();
    strata_env *env = fe_strata_env(fe);
    if (env->create_dir(env, DB)) failf("mkdir");
    for (int i = 0; i < nfiles; i++) {
      char path[128];
      snprintf(path, sizeof path, DB "/%.63s", files[i].name);
      if (i == fi) files[i].data[off] ^= (char)mask;
      int rc = fe_write_whole(fe, path, files[i].data, files[i].len);
      if (i == fi) files[i].data[off] ^= (char)mask;
      if (rc) failf("write %s", path);
    }
    strata_options o = options(fe, paranoid);
    strata_db *db = NULL;
    int rc = strata_open(DB, &o, &db);
    if (rc) {
      if (rc != STRATA_ECORRUPTION) failf("open: error %d (%s)", rc, strata_errmsg());
      t->open_corrupt[paranoid]++;
      fe_free(fe);
      continue;
    }
    t->open_ok[paranoid]++;
    for (int verify = 0; verify < 2; verify++) {
      probe_gets(db, f->kind, verify, paranoid, 0);
      probe_scan(db, f->kind, verify, paranoid, 0);
      probe_scan(db, f->kind, verify, paranoid, 1);
    }
    if (!paranoid) {
      rc = strata_compact_range(db, NULL, 0, NULL, 0);
      if (rc && rc != STRATA_ECORRUPTION) failf("compaction: error %d (%s)", rc, strata_errmsg());
      if (rc)
        t->compactions_corrupt++;
      else
        t->compactions_ok++;
      probe_gets(db, f->kind, 1, paranoid, 1);
    }
    strata_close(db);
    fe_free(fe);
  }
  alarm(0);
}

int main(int argc, char **argv) {
  const char *seed_arg = NULL;
  int flips = su_scale_is_asan() ? 20 : 40;
  const char *env_flips = getenv("STRATA_SWEEP_FLIPS");
  if (env_flips && *env_flips) flips = atoi(env_flips);
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc)
      seed_arg = argv[++i];
    else if (strcmp(argv[i], "--flips") == 0 && i + 1 < argc)
      flips = atoi(argv[++i]);
    else {
      fprintf(stderr, "usage: %s [--seed S] [--flips N]\n", argv[0]);
      return 2;
    }
  }
  g_seed = su_pick_seed(seed_arg);
  printf("sweep_test: seed %llu, %d flips per file\n", (unsigned long long)g_seed, flips);
  signal(SIGALRM, on_alarm);
  double t0 = su_now();
  plan_history();
  if (strata_logger_create(NULL, no_log, NULL, &quiet)) return 1;
  snprintf(g_case, sizeof g_case, "building the database");
  build();
  su_rng rng;
  su_rng_seed(&rng, g_seed);
  uint64_t total = 0;
  for (int fi = 0; fi < nfiles; fi++) {
    file *f = &files[fi];
    size_t n = f->kind == F_CURRENT ? f->len : (size_t)flips;
    if (n > f->len) n = f->len;
    /* A table's footer gets a fifth of the flips; the rest are spread
     * evenly, at a random place within each stretch. */
    size_t nfoot = f->kind == F_TABLE && f->len > 48 ? n / 5 : 0;
    for (size_t i = 0; i < n; i++) {
      size_t off;
      if (n == f->len)
        off = i;
      else if (i < nfoot)
        off = f->len - 48 + (size_t)su_rng_below(&rng, 48);
      else
        off = f->len * (i - nfoot) / (n - nfoot) +
              (size_t)su_rng_below(&rng, f->len / (n - nfoot) + 1);
      if (off >= f->len) off = f->len - 1;
      unsigned char mask = (unsigned char)su_rng_range(&rng, 1, 255);
      probe(fi, off, mask);
      total++;
    }
  }
  printf("%-8s %5s %13s %13s | %s\n", "file", "flips", "open OK p=0/1", "Corrupt p=0/1",
         "reads: checked / unchecked / checked after compaction");
  for (int k = 0; k < F_KINDS; k++) {
    tally *t = &tallies[k];
    printf("%-8s %5llu %6llu/%-6llu %6llu/%-6llu |", kind_names[k], (unsigned long long)t->flips,
           (unsigned long long)t->open_ok[0], (unsigned long long)t->open_ok[1],
           (unsigned long long)t->open_corrupt[0], (unsigned long long)t->open_corrupt[1]);
    for (int o = 0; o < O_NOUTCOMES; o++)
      if (t->checked[o] + t->unchecked[o] + t->after_compaction[o])
        printf(" %s %llu/%llu/%llu", outcome_names[o], (unsigned long long)t->checked[o],
               (unsigned long long)t->unchecked[o], (unsigned long long)t->after_compaction[o]);
    printf("; scans stopped by Corruption %llu of %llu; compactions failed %llu of %llu\n",
           (unsigned long long)t->scans_stopped,
           (unsigned long long)(t->scans_stopped + t->scans_complete),
           (unsigned long long)t->compactions_corrupt,
           (unsigned long long)(t->compactions_corrupt + t->compactions_ok));
  }
  printf("%llu byte flips, %.1f s: only right values or clean errors where checked; no crash, "
         "no hang, never another key's value\n",
         (unsigned long long)total, su_now() - t0);
  strata_logger_destroy(quiet);
  for (int i = 0; i < nfiles; i++)
    free(files[i].data);
  return 0;
}
