/*
 * badfiles_test.c - damaged database files.
 *
 * Builds one database with Strata: several tables on more than one level
 * (keys "t..."), then a write-ahead log holding unflushed writes (keys
 * "l...", one put per log record; the log's size is recorded after each put,
 * so the test knows where every record ends). Every key is written exactly
 * once, so there is exactly one right value for each.
 *
 * Each case copies that pristine database, damages one file, reopens with
 * create_if_missing=0 and reads every key (gets and a full scan, all with
 * verify_checksums=1). Accepted outcomes, per case (see the table at the
 * bottom):
 *   - a clean open error: STRATA_ECORRUPTION or STRATA_EIO (STRATA_ENOTFOUND
 *     also for a CURRENT naming a missing MANIFEST) whose strata_errmsg()
 *     names the damaged file;
 *   - or, where LevelDB's semantics drop damaged log records instead
 *     (paranoid_checks=0), success with every undamaged record intact;
 *   - for damaged tables, reads of the damaged table may fail with
 *     ECORRUPTION/EIO naming that table, never with a wrong answer.
 * Never acceptable: a crash, a wrong value, a key that was never written,
 * a table key reported absent, or (after success) results that change
 * across another close+reopen. Each case runs in a child process so that a
 * crash is reported as that case's failure and the other cases still run.
 *
 * Usage: badfiles_test [--seed S] [--case NAME] [S]
 */
#include <signal.h>
#include <stdarg.h>
#include <sys/wait.h>

#include "strata.h"
#include "suite_util.h"

#define NTABLE_KEYS 3000
#define NLOG_KEYS 300
#define LOG_BLOCK 32768 /* LevelDB log block size: records never span a header across it */
#define LOG_HEADER 7

typedef struct key_info {
  unsigned char key[40];
  size_t klen;
  uint64_t vseed;
  uint32_t vlen;
  uint64_t log_start, log_end; /* log keys: byte range of the record in the log */
} key_info;

static uint64_t g_seed;
static key_info tkeys[NTABLE_KEYS], lkeys[NLOG_KEYS];
static char g_logname[64];  /* basename of the log holding the "l" keys */
static uint64_t g_log_size; /* its size at close */
static char g_manifest[64]; /* basename of the current MANIFEST */
static char g_table[64];    /* basename of the largest table */
static uint64_t g_table_size;
static const char *g_case = "setup";

/* _Noreturn tells compilers that nothing after a failed check runs (so no
 * variable is used unset there); format checks the arguments. */
#if defined(__GNUC__)
__attribute__((format(printf, 1, 2)))
#endif
_Noreturn static void
failf(const char *fmt, ...);

static void failf(const char *fmt, ...) {
  va_list ap;
  fflush(stdout);
  fprintf(stderr, "FAIL: seed=%llu case=%s: ", (unsigned long long)g_seed, g_case);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fprintf(stderr, "\n  reproduce: badfiles_test --seed %llu --case %s\n",
          (unsigned long long)g_seed, g_case);
  /* _exit: cases run in forked children, and a leak report of the abandoned
   * case would only bury the message above. */
  fflush(stdout);
  fflush(stderr);
  _exit(1);
}

/* Key: a tag byte ('t' table, 'l' log), the index big-endian, then 0..30
 * bytes that include NUL and 0xff; tag + index make keys unique and let a
 * scanned key be traced back to its record. */
static void make_key(key_info *k, char tag, uint32_t idx) {
  su_rng r;
  su_rng_seed(&r, su_derive(g_seed, ((uint64_t)(unsigned char)tag << 32) | idx));
  k->key[0] = (unsigned char)tag;
  k->key[1] = (unsigned char)(idx >> 24);
  k->key[2] = (unsigned char)(idx >> 16);
  k->key[3] = (unsigned char)(idx >> 8);
  k->key[4] = (unsigned char)idx;
  size_t extra = (size_t)su_rng_below(&r, 31);
  for (size_t i = 0; i < extra; i++) {
    uint64_t c = su_rng_below(&r, 4);
    k->key[5 + i] = c == 0 ? 0 : c == 1 ? 0xff : (unsigned char)su_rng_next(&r);
  }
  k->klen = 5 + extra;
  k->vseed = su_rng_next(&r);
  k->vlen = tag == 't' ? (uint32_t)su_rng_range(&r, 0, 700) : (uint32_t)su_rng_range(&r, 0, 1500);
}

static key_info *lookup_key(const char *k, size_t kl) {
  if (kl < 5) return NULL;
  uint32_t idx = ((uint32_t)(unsigned char)k[1] << 24) | ((uint32_t)(unsigned char)k[2] << 16) |
                 ((uint32_t)(unsigned char)k[3] << 8) | (uint32_t)(unsigned char)k[4];
  key_info *ki = NULL;
  if (k[0] == 't' && idx < NTABLE_KEYS) ki = &tkeys[idx];
  if (k[0] == 'l' && idx < NLOG_KEYS) ki = &lkeys[idx];
  if (ki == NULL || ki->klen != kl || memcmp(ki->key, k, kl) != 0) return NULL;
  return ki;
}

/* ------------------------------------------------------------------------ */
/* Files                                                                    */
/* ------------------------------------------------------------------------ */

/* Basename of the file ending in `suffix` with the highest number (by_size
 * = 0) or the largest size (by_size = 1); returns its size, or -1. */
static long long find_file(const char *dir, const char *suffix, int by_size, char *out,
                           size_t cap) {
  DIR *d = opendir(dir);
  if (d == NULL) return -1;
  struct dirent *de;
  long long best = -1;
  unsigned long long best_num = 0;
  size_t sl = strlen(suffix);
  while ((de = readdir(d)) != NULL) {
    size_t nl = strlen(de->d_name);
    if (nl <= sl || strcmp(de->d_name + nl - sl, suffix) != 0) continue;
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
    struct stat st;
    if (stat(path, &st) != 0) continue;
    unsigned long long num = strtoull(de->d_name, NULL, 10);
    if (best < 0 || (by_size ? st.st_size > best : num > best_num)) {
      best = st.st_size;
      best_num = num;
      snprintf(out, cap, "%s", de->d_name);
    }
  }
  closedir(d);
  return best;
}

static void file_path(char *out, size_t cap, const char *dir, const char *name) {
  snprintf(out, cap, "%s/%s", dir, name);
}

static void truncate_to(const char *dir, const char *name, uint64_t size) {
  char p[4096];
  file_path(p, sizeof p, dir, name);
  if (truncate(p, (off_t)size) != 0) failf("truncate(%s): %s", p, strerror(errno));
}

static void flip_byte(const char *dir, const char *name, uint64_t off) {
  char p[4096];
  file_path(p, sizeof p, dir, name);
  int fd = open(p, O_RDWR);
  unsigned char c;
  if (fd < 0 || pread(fd, &c, 1, (off_t)off) != 1)
    failf("reading %s at %llu", p, (unsigned long long)off);
  c ^= 0x5a;
  if (pwrite(fd, &c, 1, (off_t)off) != 1) failf("writing %s", p);
  close(fd);
}

static void replace_file(const char *dir, const char *name, const char *content, size_t len) {
  char p[4096];
  file_path(p, sizeof p, dir, name);
  if (su_write_file(p, content, len) != 0) failf("writing %s", p);
}

/* ------------------------------------------------------------------------ */
/* Building the pristine database                                           */
/* ------------------------------------------------------------------------ */

static void must(int rc, const char *what) {
  if (rc != STRATA_OK) failf("%s: %d (%s): %s", what, rc, strata_strerror(rc), strata_errmsg());
}

static void build(const char *dir) {
  unsigned char *vbuf = malloc(4096);
  strata_options opt;
  strata_options_init(&opt);
  opt.create_if_missing = 1;
  opt.write_buffer_size = 64 << 10; /* many small level-0 tables */
  strata_db *db;
  must(strata_open(dir, &opt, &db), "strata_open (build)");
  for (uint32_t i = 0; i < NTABLE_KEYS; i++) {
    key_info *k = &tkeys[i];
    su_fill_value(k->vseed, k->vlen, vbuf);
    must(strata_put(db, NULL, k->key, k->klen, vbuf, k->vlen), "strata_put (table keys)");
    /* Push the first half down to deeper levels once it is written. */
    if (i == NTABLE_KEYS / 2) {
      const unsigned char lo[1] = {'t'};
      must(strata_compact_range(db, lo, 1, tkeys[i].key, tkeys[i].klen), "strata_compact_range");
    }
  }
  /* A compaction of an empty range still flushes the memtable, so every
   * table key is in a table before the log phase starts. */
  const unsigned char none[2] = {'t', 0xff};
  must(strata_compact_range(db, none, 2, none, 2), "strata_compact_range (flush)");
  strata_close(db);

  /* Log phase: a large write buffer so nothing is flushed. */
  opt.write_buffer_size = 8 << 20;
  opt.create_if_missing = 0;
  must(strata_open(dir, &opt, &db), "strata_open (log phase)");
  long long pos = find_file(dir, ".log", 0, g_logname, sizeof g_logname);
  if (pos < 0) failf("setup: no .log file after opening %s", dir);
  for (uint32_t i = 0; i < NLOG_KEYS; i++) {
    key_info *k = &lkeys[i];
    su_fill_value(k->vseed, k->vlen, vbuf);
    must(strata_put(db, NULL, k->key, k->klen, vbuf, k->vlen), "strata_put (log keys)");
    char name[64];
    long long sz = find_file(dir, ".log", 0, name, sizeof name);
    if (sz < 0 || strcmp(name, g_logname) != 0)
      failf("setup: log keys should all go to %s, found %s", g_logname, name);
    if (sz <= pos)
      failf("setup: %s did not grow after a put (size %lld): non-sync writes must reach the OS "
            "before strata_put returns",
            g_logname, sz);
    k->log_start = (uint64_t)pos;
    k->log_end = (uint64_t)sz;
    pos = sz;
  }
  strata_close(db);
  char name[64];
  long long sz = find_file(dir, ".log", 0, name, sizeof name);
  if (sz < 0 || strcmp(name, g_logname) != 0 || (uint64_t)sz != lkeys[NLOG_KEYS - 1].log_end)
    failf("setup: after close, expected %s of %llu bytes (unflushed writes stay in the log), "
          "found %s of %lld bytes",
          g_logname, (unsigned long long)lkeys[NLOG_KEYS - 1].log_end, sz < 0 ? "none" : name, sz);
  g_log_size = (uint64_t)sz;
  long long tsz = find_file(dir, ".ldb", 1, g_table, sizeof g_table);
  if (tsz <= 0) failf("setup: no .ldb table in %s", dir);
  g_table_size = (uint64_t)tsz;
  size_t clen;
  char cur[4096];
  file_path(cur, sizeof cur, dir, "CURRENT");
  unsigned char *c = su_read_file(cur, &clen);
  if (c == NULL || clen < 2 || c[clen - 1] != '\n') failf("setup: unreadable CURRENT");
  snprintf(g_manifest, sizeof g_manifest, "%.*s", (int)clen - 1, (const char *)c);
  free(c);
  free(vbuf);
}

/* ------------------------------------------------------------------------ */
/* Checking one reopen                                                      */
/* ------------------------------------------------------------------------ */

enum { MUST_HAVE, MUST_NOT_HAVE, MAY_HAVE };
enum { R_ABSENT, R_PRESENT, R_ERROR };

typedef struct policy {
  int paranoid;
  int open_ok_required;  /* success is the only acceptable outcome */
  int open_err_required; /* a clean error is the only acceptable outcome */
  int allow_notfound;    /* STRATA_ENOTFOUND accepted as the open error */
  int allow_einval_only; /* open must fail with STRATA_EINVAL (missing CURRENT) */
  const char *names[2];  /* the open error message must contain one of these */
  int table_damaged;     /* reads may fail naming names[0]; at least one must */
  int log_class[NLOG_KEYS];
} policy;

static int names_file(const policy *p, const char *msg) {
  for (int i = 0; i < 2; i++)
    if (p->names[i] != NULL && strstr(msg, p->names[i]) != NULL) return 1;
  return 0;
}

/* Reads every key with get and a full scan; fills res[] (table keys first,
 * then log keys). Returns the number of read errors seen. */
static int read_all(strata_db *db, const policy *p, int *res, const char *when) {
  su_hexbuf hb;
  unsigned char *vbuf = malloc(4096);
  strata_read_options ro;
  strata_read_options_init(&ro);
  ro.verify_checksums = 1;
  strata_buf val = STRATA_BUF_INIT;
  int errors = 0;
  for (int i = 0; i < NTABLE_KEYS + NLOG_KEYS; i++) {
    const key_info *k = i < NTABLE_KEYS ? &tkeys[i] : &lkeys[i - NTABLE_KEYS];
    int rc = strata_get(db, &ro, k->key, k->klen, &val);
    if (rc == STRATA_OK) {
      su_fill_value(k->vseed, k->vlen, vbuf);
      if (val.size != k->vlen || (k->vlen && memcmp(val.data, vbuf, k->vlen) != 0))
        failf("%s: strata_get(%s) returned a wrong value (%zu bytes, written %u)", when,
              su_hex(&hb, k->key, k->klen), val.size, k->vlen);
      res[i] = R_PRESENT;
    } else if (rc == STRATA_ENOTFOUND) {
      res[i] = R_ABSENT;
    } else if ((rc == STRATA_ECORRUPTION || rc == STRATA_EIO) && p->table_damaged) {
      if (!names_file(p, strata_errmsg()))
        failf("%s: strata_get(%s) failed with %s but the message does not name %s: \"%s\"", when,
              su_hex(&hb, k->key, k->klen), strata_strerror(rc), p->names[0], strata_errmsg());
      res[i] = R_ERROR;
      errors++;
    } else {
      failf("%s: strata_get(%s) returned %d (%s): %s", when, su_hex(&hb, k->key, k->klen), rc,
            strata_strerror(rc), strata_errmsg());
    }
    if (i < NTABLE_KEYS && res[i] == R_ABSENT)
      failf("%s: table key %s (index %d) reported absent; it was written once and never deleted",
            when, su_hex(&hb, k->key, k->klen), i);
    if (i >= NTABLE_KEYS) {
      int cls = p->log_class[i - NTABLE_KEYS];
      if (cls == MUST_HAVE && res[i] != R_PRESENT)
        failf("%s: log key %d (record ending at offset %llu of %s) lost; damage spared it", when,
              i - NTABLE_KEYS, (unsigned long long)k->log_end, g_logname);
      if (cls == MUST_NOT_HAVE && res[i] == R_PRESENT)
        failf("%s: log key %d (record at offsets %llu..%llu of %s) is present but its record is "
              "damaged or cut off",
              when, i - NTABLE_KEYS, (unsigned long long)k->log_start,
              (unsigned long long)k->log_end, g_logname);
    }
  }
  strata_buf_free(&val);

  /* The scan must yield only written keys with their values, in order, and
   * agree with the gets; with a damaged table it may stop with an error
   * naming that table. */
  strata_iter *it;
  int rc = strata_iter_create(db, &ro, &it);
  if (rc != STRATA_OK) {
    if (p->table_damaged && (rc == STRATA_ECORRUPTION || rc == STRATA_EIO) &&
        names_file(p, strata_errmsg())) {
      free(vbuf);
      return errors + 1;
    }
    failf("%s: strata_iter_create: %d (%s): %s", when, rc, strata_strerror(rc), strata_errmsg());
  }
  char *seen = calloc(NTABLE_KEYS + NLOG_KEYS, 1);
  const key_info *prev = NULL;
  for (strata_iter_seek_to_first(it); strata_iter_valid(it); strata_iter_next(it)) {
    size_t kl, vl;
    const char *k = strata_iter_key(it, &kl);
    const char *v = strata_iter_value(it, &vl);
    key_info *ki = lookup_key(k, kl);
    if (ki == NULL)
      failf("%s: scan returned key %s that was never written", when, su_hex(&hb, k, kl));
    if (prev != NULL) {
      size_t n = prev->klen < kl ? prev->klen : kl;
      int c = memcmp(prev->key, k, n);
      if (c > 0 || (c == 0 && prev->klen >= kl))
        failf("%s: scan out of order at %s", when, su_hex(&hb, k, kl));
    }
    su_fill_value(ki->vseed, ki->vlen, vbuf);
    if (vl != ki->vlen || (vl && memcmp(v, vbuf, vl) != 0))
      failf("%s: scan returned a wrong value for %s", when, su_hex(&hb, k, kl));
    long idx = ki->key[0] == 't' ? ki - tkeys : NTABLE_KEYS + (ki - lkeys);
    seen[idx] = 1;
    prev = ki;
  }
  rc = strata_iter_status(it);
  int scan_error = rc != STRATA_OK;
  if (scan_error) {
    if (!p->table_damaged || (rc != STRATA_ECORRUPTION && rc != STRATA_EIO))
      failf("%s: scan stopped with %d (%s): %s", when, rc, strata_strerror(rc), strata_errmsg());
    if (!names_file(p, strata_errmsg()))
      failf("%s: scan failed with %s but the message does not name %s: \"%s\"", when,
            strata_strerror(rc), p->names[0], strata_errmsg());
    errors++;
  }
  strata_iter_destroy(it);
  for (int i = 0; i < NTABLE_KEYS + NLOG_KEYS; i++) {
    const key_info *k = i < NTABLE_KEYS ? &tkeys[i] : &lkeys[i - NTABLE_KEYS];
    if (seen[i] && res[i] == R_ABSENT)
      failf("%s: key %s absent for strata_get but returned by the scan", when,
            su_hex(&hb, k->key, k->klen));
    if (!seen[i] && res[i] == R_PRESENT && !scan_error)
      failf("%s: key %s found by strata_get but missing from a scan that ended without error", when,
            su_hex(&hb, k->key, k->klen));
  }
  free(seen);
  free(vbuf);
  return errors;
}

/* Opens the damaged copy and applies the policy. */
static void check_open(const char *dir, const policy *p) {
  strata_options opt;
  strata_options_init(&opt);
  opt.paranoid_checks = p->paranoid;
  strata_db *db = NULL;
  int rc = strata_open(dir, &opt, &db);
  if (p->allow_einval_only) {
    if (rc != STRATA_EINVAL)
      failf("strata_open returned %d (%s), expected STRATA_EINVAL: %s", rc, strata_strerror(rc),
            rc ? strata_errmsg() : "");
    return;
  }
  if (rc != STRATA_OK) {
    int code_ok = rc == STRATA_ECORRUPTION || rc == STRATA_EIO ||
                  (p->allow_notfound && rc == STRATA_ENOTFOUND);
    if (!code_ok || p->open_ok_required)
      failf("strata_open returned %d (%s): %s; expected %s", rc, strata_strerror(rc),
            strata_errmsg(), p->open_ok_required ? "success" : "STRATA_ECORRUPTION or STRATA_EIO");
    if (!names_file(p, strata_errmsg()))
      failf("strata_open failed with %s as allowed, but the message does not name %s%s%s: \"%s\"",
            strata_strerror(rc), p->names[0], p->names[1] ? " or " : "",
            p->names[1] ? p->names[1] : "", strata_errmsg());
    printf("    open failed cleanly: %s\n", strata_errmsg());
    return;
  }
  if (p->open_err_required) {
    strata_close(db);
    failf("strata_open succeeded on a damaged %s; expected a corruption error", p->names[0]);
  }
  int *res1 = calloc(NTABLE_KEYS + NLOG_KEYS, sizeof(int));
  int *res2 = calloc(NTABLE_KEYS + NLOG_KEYS, sizeof(int));
  int errors = read_all(db, p, res1, "first open");
  if (p->table_damaged && errors == 0)
    failf("no read reported the damage in %s (gets and scan with verify_checksums=1)", p->names[0]);
  strata_close(db);
  /* A second open must agree with the first: dropped records stay dropped,
   * recovered ones stay. */
  rc = strata_open(dir, &opt, &db);
  if (rc != STRATA_OK)
    failf("second strata_open returned %d (%s): %s", rc, strata_strerror(rc), strata_errmsg());
  read_all(db, p, res2, "second open");
  for (int i = 0; i < NTABLE_KEYS + NLOG_KEYS; i++)
    if (res1[i] != R_ERROR && res2[i] != R_ERROR && res1[i] != res2[i]) {
      const key_info *k = i < NTABLE_KEYS ? &tkeys[i] : &lkeys[i - NTABLE_KEYS];
      su_hexbuf hb;
      failf("key %s was %s after the first open and %s after the second",
            su_hex(&hb, k->key, k->klen), res1[i] == R_PRESENT ? "present" : "absent",
            res2[i] == R_PRESENT ? "present" : "absent");
    }
  strata_close(db);
  int present = 0;
  for (int i = NTABLE_KEYS; i < NTABLE_KEYS + NLOG_KEYS; i++)
    present += res1[i] == R_PRESENT;
  printf("    opened; %d of %d log keys recovered, %d read errors naming the file\n", present,
         NLOG_KEYS, errors);
  free(res1);
  free(res2);
}

/* ------------------------------------------------------------------------ */
/* The cases                                                                */
/* ------------------------------------------------------------------------ */

typedef struct dcase {
  const char *name;
  void (*run)(const char *dir, policy *p);
} dcase;

static void all_log(policy *p, int cls) {
  for (int i = 0; i < NLOG_KEYS; i++)
    p->log_class[i] = cls;
}

/* Log records that end at or before `cut` survive; the rest are gone. */
static void log_cut_at(policy *p, uint64_t cut) {
  for (int i = 0; i < NLOG_KEYS; i++)
    p->log_class[i] = lkeys[i].log_end <= cut ? MUST_HAVE : MUST_NOT_HAVE;
}

/* Control: the undamaged database reads back completely. */
static void c_pristine(const char *dir, policy *p) {
  (void)dir;
  p->open_ok_required = 1;
  all_log(p, MUST_HAVE);
}

/* Log cut in the middle (what a crash mid-append leaves): must open; the
 * record cut through and everything after it are dropped silently. */
static void c_log_truncated_mid(const char *dir, policy *p) {
  const key_info *k = &lkeys[NLOG_KEYS / 2];
  uint64_t cut = k->log_start + (k->log_end - k->log_start) / 2;
  truncate_to(dir, g_logname, cut);
  p->open_ok_required = 1;
  log_cut_at(p, cut);
}

/* Log missing its last byte: only the last record is lost. */
static void c_log_truncated_tail(const char *dir, policy *p) {
  truncate_to(dir, g_logname, g_log_size - 1);
  p->open_ok_required = 1;
  log_cut_at(p, g_log_size - 1);
}

/* Empty log: no log key survives, every table key does. */
static void c_log_empty(const char *dir, policy *p) {
  truncate_to(dir, g_logname, 0);
  p->open_ok_required = 1;
  all_log(p, MUST_NOT_HAVE);
}

/* A byte of the last record's payload flipped: its checksum fails, so
 * LevelDB (paranoid_checks=0) drops it and opens; a clean corruption error
 * naming the log is accepted too. Every earlier record must survive. */
static void c_log_flip_tail(const char *dir, policy *p) {
  const key_info *k = &lkeys[NLOG_KEYS - 1];
  flip_byte(dir, g_logname, k->log_end - 1);
  log_cut_at(p, k->log_start);
}

/* Picks a log record in the middle that lies within one log block and
 * returns the offset of one of its payload bytes. */
static int mid_record(uint64_t *off) {
  for (int i = NLOG_KEYS / 2; i < NLOG_KEYS; i++) {
    const key_info *k = &lkeys[i];
    if (k->log_start / LOG_BLOCK == (k->log_end - 1) / LOG_BLOCK &&
        k->log_end - k->log_start > LOG_HEADER + 8) {
      *off = k->log_start + LOG_HEADER + (k->log_end - k->log_start - LOG_HEADER) / 2;
      return i;
    }
  }
  failf("setup: no log record within a single block");
  return -1;
}

/* A byte flipped inside a record in the middle (paranoid_checks=0). As in
 * LevelDB: records before it survive, the damaged record is dropped, the
 * rest of its 32 KiB block may be dropped, and records starting in later
 * blocks survive. A clean corruption error naming the log is accepted. */
static void c_log_flip_mid(const char *dir, policy *p) {
  uint64_t off;
  int m = mid_record(&off);
  flip_byte(dir, g_logname, off);
  uint64_t next_block = (off / LOG_BLOCK + 1) * LOG_BLOCK;
  for (int i = 0; i < NLOG_KEYS; i++) {
    if (lkeys[i].log_end <= lkeys[m].log_start)
      p->log_class[i] = MUST_HAVE;
    else if (i == m)
      p->log_class[i] = MUST_NOT_HAVE;
    else if (lkeys[i].log_start >= next_block)
      p->log_class[i] = MUST_HAVE;
    else
      p->log_class[i] = MAY_HAVE;
  }
}

/* The same flip with paranoid_checks=1 must be a corruption error. */
static void c_log_flip_mid_paranoid(const char *dir, policy *p) {
  uint64_t off;
  mid_record(&off);
  flip_byte(dir, g_logname, off);
  p->paranoid = 1;
  p->open_err_required = 1;
}

/* A byte flipped in the table's first data block: open succeeds (tables are
 * read lazily) or fails naming the table; reads with verify_checksums=1 of
 * keys in that block fail with ECORRUPTION naming the table, and at least
 * one read must notice. */
static void c_table_flip_data(const char *dir, policy *p) {
  flip_byte(dir, g_table, 20);
  p->table_damaged = 1;
  all_log(p, MUST_HAVE);
}

/* Table cut to half: its footer is gone, so every read that needs it fails
 * naming it (or the open does). */
static void c_table_truncated(const char *dir, policy *p) {
  truncate_to(dir, g_table, g_table_size / 2);
  p->table_damaged = 1;
  all_log(p, MUST_HAVE);
}

/* Last byte of the footer's magic number flipped: as a truncated table. */
static void c_table_bad_magic(const char *dir, policy *p) {
  flip_byte(dir, g_table, g_table_size - 1);
  p->table_damaged = 1;
  all_log(p, MUST_HAVE);
}

/* Table deleted: LevelDB 1.23 refuses to open ("1 missing files; e.g.:
 * .../N.ldb", Corruption). A lazy open is accepted if reads of its keys
 * then fail naming it -- never "not found". */
static void c_table_missing(const char *dir, policy *p) {
  char path[4096];
  file_path(path, sizeof path, dir, g_table);
  unlink(path);
  p->table_damaged = 1;
  all_log(p, MUST_HAVE);
}

/* MANIFEST cut inside its first record: no complete version edit remains,
 * so the open must fail with a corruption naming the MANIFEST. */
static void c_manifest_truncated(const char *dir, policy *p) {
  truncate_to(dir, g_manifest, 20);
  p->open_err_required = 1;
}

static void c_manifest_empty(const char *dir, policy *p) {
  truncate_to(dir, g_manifest, 0);
  p->open_err_required = 1;
}

/* A byte flipped in the middle of the MANIFEST: its record's checksum (or
 * length/type) is bad, a corruption naming the MANIFEST. */
static void c_manifest_flip(const char *dir, policy *p) {
  char path[4096];
  file_path(path, sizeof path, dir, g_manifest);
  struct stat st;
  if (stat(path, &st) != 0) failf("stat %s", path);
  flip_byte(dir, g_manifest, (uint64_t)st.st_size / 2);
  p->open_err_required = 1;
}

/* CURRENT without the trailing newline: corruption naming CURRENT. */
static void c_current_garbage(const char *dir, policy *p) {
  replace_file(dir, "CURRENT", "\x01garbage\xff", 10);
  p->open_err_required = 1;
  p->names[0] = "CURRENT";
}

/* CURRENT naming a file that does not exist (LevelDB: Corruption "CURRENT
 * points to a non-existent descriptor file"; Strata may say ENOTFOUND). */
static void c_current_missing_manifest(const char *dir, policy *p) {
  replace_file(dir, "CURRENT", "MANIFEST-999999\n", 16);
  p->open_err_required = 1;
  p->allow_notfound = 1;
  p->names[0] = "CURRENT";
  p->names[1] = "MANIFEST-999999";
}

/* CURRENT naming something that is not a MANIFEST at all. */
static void c_current_junk_name(const char *dir, policy *p) {
  replace_file(dir, "CURRENT", "junk-name\n", 10);
  p->open_err_required = 1;
  p->allow_notfound = 1;
  p->names[0] = "CURRENT";
  p->names[1] = "junk-name";
}

static void c_current_empty(const char *dir, policy *p) {
  replace_file(dir, "CURRENT", "", 0);
  p->open_err_required = 1;
  p->names[0] = "CURRENT";
}

/* No CURRENT at all, create_if_missing=0: "database missing", STRATA_EINVAL
 * (strata.h), not a new empty database. */
static void c_current_deleted(const char *dir, policy *p) {
  char path[4096];
  file_path(path, sizeof path, dir, "CURRENT");
  unlink(path);
  p->allow_einval_only = 1;
}

static const dcase cases[] = {
    {"pristine", c_pristine},
    {"log-truncated-mid", c_log_truncated_mid},
    {"log-truncated-tail", c_log_truncated_tail},
    {"log-empty", c_log_empty},
    {"log-flip-tail", c_log_flip_tail},
    {"log-flip-mid", c_log_flip_mid},
    {"log-flip-mid-paranoid", c_log_flip_mid_paranoid},
    {"table-flip-data", c_table_flip_data},
    {"table-truncated", c_table_truncated},
    {"table-bad-magic", c_table_bad_magic},
    {"table-missing", c_table_missing},
    {"manifest-truncated", c_manifest_truncated},
    {"manifest-empty", c_manifest_empty},
    {"manifest-flip", c_manifest_flip},
    {"current-garbage", c_current_garbage},
    {"current-missing-manifest", c_current_missing_manifest},
    {"current-junk-name", c_current_junk_name},
    {"current-empty", c_current_empty},
    {"current-deleted", c_current_deleted},
};
#define NCASES ((int)(sizeof cases / sizeof cases[0]))

/* Runs one case in the current process; exits non-zero on failure. */
static void run_case(const char *pristine, const dcase *c) {
  g_case = c->name;
  char *dir = su_make_temp_dir("strata-badfile");
  if (su_copy_dir(pristine, dir) != 0) failf("copying %s to %s", pristine, dir);
  policy p;
  memset(&p, 0, sizeof p);
  /* Default: the damaged file's name is what the message must contain. */
  if (strncmp(c->name, "log", 3) == 0) p.names[0] = g_logname;
  if (strncmp(c->name, "table", 5) == 0) p.names[0] = g_table;
  if (strncmp(c->name, "manifest", 8) == 0) p.names[0] = g_manifest;
  c->run(dir, &p);
  check_open(dir, &p);
  su_remove_tree(dir);
  free(dir);
}

int main(int argc, char **argv) {
  const char *seed_arg = NULL, *only = NULL;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc)
      seed_arg = argv[++i];
    else if (strcmp(argv[i], "--case") == 0 && i + 1 < argc)
      only = argv[++i];
    else if (argv[i][0] != '-')
      seed_arg = argv[i];
    else {
      fprintf(stderr, "usage: badfiles_test [--seed S] [--case NAME] [S]\n");
      return 2;
    }
  }
  g_seed = su_pick_seed(seed_arg);
  printf("badfiles_test: seed=%llu (reproduce: badfiles_test --seed %llu)\n",
         (unsigned long long)g_seed, (unsigned long long)g_seed);
  for (uint32_t i = 0; i < NTABLE_KEYS; i++)
    make_key(&tkeys[i], 't', i);
  for (uint32_t i = 0; i < NLOG_KEYS; i++)
    make_key(&lkeys[i], 'l', i);
  char *pristine = su_make_temp_dir("strata-badfiles");
  build(pristine);
  printf("built %s: log %s (%llu bytes, %d records), table %s (%llu bytes), %s\n", pristine,
         g_logname, (unsigned long long)g_log_size, NLOG_KEYS, g_table,
         (unsigned long long)g_table_size, g_manifest);
  int passed = 0, failed = 0;
  for (int i = 0; i < NCASES; i++) {
    if (only != NULL && strcmp(only, cases[i].name) != 0) continue;
    printf("case %s\n", cases[i].name);
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) {
      run_case(pristine, &cases[i]);
      fflush(stdout);
      _exit(0);
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
      passed++;
    } else {
      failed++;
      if (WIFSIGNALED(status))
        fprintf(stderr, "FAIL: seed=%llu case=%s: crashed with signal %d\n",
                (unsigned long long)g_seed, cases[i].name, WTERMSIG(status));
      printf("    FAILED\n");
    }
  }
  su_remove_tree(pristine);
  free(pristine);
  printf("%d passed, %d failed\n", passed, failed);
  return failed ? 1 : 0;
}
