/*
 * corrupt_test.c - one flipped byte in a table, in the write-ahead log or in
 * the MANIFEST, and what each call then returns: strata_open with
 * paranoid_checks 0 and 1, strata_get and a full scan with verify_checksums
 * 0 and 1, strata_check, and strata_repair -- with what the repair keeps.
 *
 * The database, built with Strata; every key is written exactly once, so
 * each has one right value:
 *   "t" keys  6000 puts in key order through a 64 KiB write buffer, then
 *             strata_compact_range over everything (which also waits for
 *             all background work): dozens of small snappy tables on one
 *             level. Keys of the middle fifth get incompressible values, so
 *             their data blocks are stored uncompressed.
 *   "u" keys  500 puts, flushed to one more table.
 *   "w" keys  300 puts left in the write-ahead log, one record each (the
 *             log's size is noted after each put: every record's place is
 *             known). They sort after the others, and an open replays them
 *             into level 0: a scan meets them after the tables' keys.
 * The test reads the tables itself (footer, index block, data blocks;
 * snappy through libsnappy) to know which keys each data block holds.
 *
 * Cases; each probe runs on its own fresh copy of the damaged database, in
 * a child process (a crash fails that probe only):
 *   pristine      control: nothing damaged.
 *   table-snappy  a byte near the middle of a snappy-compressed data block B
 *                 of table T (neither its first nor its last block), chosen
 *                 so that the damaged block no longer decompresses (checked
 *                 with libsnappy). A byte inside a literal run would still
 *                 decompress, to wrong bytes; see table-raw for that.
 *   table-raw     a byte in the middle of the value of key V in an
 *                 uncompressed data block B of table T: the block still
 *                 parses, only its CRC tells.
 *   log-mid       a payload byte of a record R in the middle of the log,
 *                 one with more records after it in its 32 KiB log block.
 *   manifest-mid  the middle byte of the MANIFEST.
 *
 * Outcomes, as asserted. "B's keys" are the keys of the damaged block;
 * every key not named is read back right (its one written value) wherever
 * the database opens. Messages of STRATA_ECORRUPTION from reads name T and
 * B's offset.
 *
 *   table-snappy
 *     strata_open, paranoid_checks=0  STRATA_OK (tables are read lazily)
 *       get, verify_checksums=1       B's keys: STRATA_ECORRUPTION (checksum)
 *       get, verify_checksums=0       B's keys: STRATA_ECORRUPTION (bad snappy block)
 *       scan, either                  every key before B in order, then invalid with
 *                                     STRATA_ECORRUPTION; nothing after: an error in any
 *                                     level stops the scan at once (issue 13), so neither a
 *                                     key of B nor a later key of any level -- here the "u"
 *                                     keys on T's level and the "w" keys in level 0 -- shows
 *     strata_open, paranoid_checks=1  STRATA_OK; get and scan as with verify_checksums=1,
 *                                     whatever the read option says
 *     strata_check                    STRATA_ECORRUPTION, 1 problem: T at B's offset
 *     strata_repair                   STRATA_OK; B's keys gone, all else kept; report:
 *                                     tables_kept = every table + 1 (the log's), tables_lost
 *                                     0, logs_converted 1, entries_recovered = the keys kept,
 *                                     bytes_dropped = B's size + 5 (its trailer); T's readable
 *                                     entries rewritten under T's name, the original T and
 *                                     the log in lost/. The result opens with
 *                                     paranoid_checks=1, reads back with verify_checksums=1,
 *                                     and strata_check finds nothing (so for every case)
 *   table-raw
 *     strata_open, paranoid_checks=0  STRATA_OK
 *       get, verify_checksums=1       B's keys: STRATA_ECORRUPTION (checksum)
 *       get, verify_checksums=0       V: STRATA_OK with the flipped byte in its value -- no
 *                                     check is made, as in LevelDB; B's other keys right
 *       scan, verify_checksums=1      as table-snappy
 *       scan, verify_checksums=0      every key, V with the flipped byte; status STRATA_OK
 *     strata_open, paranoid_checks=1  STRATA_OK; B's keys STRATA_ECORRUPTION with either
 *                                     read option: paranoid_checks verifies every block read
 *     strata_check, strata_repair     as table-snappy
 *   log-mid
 *     strata_open, paranoid_checks=0  STRATA_OK, dropping R and the rest of R's 32 KiB log
 *                                     block (LevelDB's reader drops the rest of a block after
 *                                     a bad checksum, as its lengths can no longer be
 *                                     trusted); records before R and records in later
 *                                     blocks are kept. Gets and scans agree, with either
 *                                     verify_checksums.
 *     strata_open, paranoid_checks=1  STRATA_ECORRUPTION naming the log
 *     strata_check                    STRATA_ECORRUPTION; problems name the log only: R's
 *                                     offset (checksum mismatch, the rest of the block
 *                                     dropped), then the next block's start if a record
 *                                     dropped with R ran on into it (its orphaned tail)
 *     strata_repair                   STRATA_OK; keeps exactly the log records the
 *                                     paranoid_checks=0 open keeps; bytes_dropped = the rest
 *                                     of R's block and any orphaned tail; the log in lost/
 *   manifest-mid
 *     strata_open, either             STRATA_ECORRUPTION naming the MANIFEST
 *     strata_check                    STRATA_ECORRUPTION; problems name the MANIFEST only
 *                                     (its one record fails its checksum, leaving no
 *                                     version edit)
 *     strata_repair                   STRATA_OK; everything kept (tables and log),
 *                                     bytes_dropped 0, the old MANIFEST and the log in lost/
 *   pristine
 *     everything STRATA_OK, every key right; strata_check: 0 problems; strata_repair:
 *     nothing lost or dropped
 *
 * Usage: corrupt_test [--seed S] [--case NAME] [S]
 * The last line is "N passed, M failed" over the (case, probe) pairs.
 */
#include <snappy-c.h>
#include <stdarg.h>
#include <sys/wait.h>

#include "strata.h"
#include "suite_util.h"

#define NT 6000 /* "t" keys: tables on one level */
#define NU 500  /* "u" keys: one flushed table */
#define NL 300  /* "w" keys: the write-ahead log */
#define NKEYS (NT + NU + NL)
#define LOG_BLOCK 32768
#define LOG_HEADER 7
#define BLOCK_TRAILER 5 /* type byte + masked CRC after every table block */
#define FOOTER_SIZE 48
#define TABLE_MAGIC 0xdb4775248b80fb57ULL

/* ------------------------------------------------------------------------ */
/* Keys                                                                     */
/* ------------------------------------------------------------------------ */

typedef struct key_info {
  unsigned char key[40];
  size_t klen;
  uint64_t vseed;
  uint32_t vlen;
  int table, block;            /* where the key lies (-1: the log) */
  uint64_t vfile_off;          /* uncompressed block: file offset of the value */
  uint64_t log_start, log_end; /* log keys: byte range of the record in the log */
  int sorted_pos;              /* position in bytewise key order */
} key_info;

static uint64_t g_seed;
static key_info g_keys[NKEYS]; /* "t" keys, then "u" keys, then "w" keys */
static int g_sorted[NKEYS];    /* key ids in bytewise order */
static const char *g_case = "setup", *g_probe = "-";
static const char *g_dir; /* the database the probe works on */

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
  fprintf(stderr, "FAIL: seed=%llu case=%s probe=%s: ", (unsigned long long)g_seed, g_case,
          g_probe);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fprintf(stderr, "\n  reproduce: corrupt_test --seed %llu --case %s\n", (unsigned long long)g_seed,
          g_case);
  if (g_dir != NULL) fprintf(stderr, "  db left in %s\n", g_dir);
  /* _exit: probes run in forked children, and a leak report of the
   * abandoned probe would only bury the message above. */
  fflush(stdout);
  fflush(stderr);
  _exit(1);
}

static void must(int rc, const char *what) {
  if (rc != STRATA_OK) failf("%s: %d (%s): %s", what, rc, strata_strerror(rc), strata_errmsg());
}

static int bytewise(const void *a, size_t al, const void *b, size_t bl) {
  size_t n = al < bl ? al : bl;
  int c = n ? memcmp(a, b, n) : 0;
  return c != 0 ? c : (al > bl) - (al < bl);
}

/* Key: a tag byte, the index big-endian, then 0..30 bytes that include NUL
 * and 0xff; tag + index make keys unique and let a read key be traced back.
 * Keys of the middle fifth of "t" get incompressible values (value shapes 0
 * and 1 of su_fill_value), so their blocks are stored uncompressed. */
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
  if (tag == 't' && idx >= NT * 2 / 5 && idx < NT * 3 / 5) k->vseed &= ~(uint64_t)2;
  k->vlen = tag == 'w' ? (uint32_t)su_rng_range(&r, 16, 1500) : (uint32_t)su_rng_range(&r, 16, 700);
  k->table = k->block = -1;
}

static int id_of(const key_info *k) { return (int)(k - g_keys); }

static key_info *lookup_key(const void *kp, size_t kl) {
  const unsigned char *k = kp;
  if (kl < 5) return NULL;
  uint32_t idx = ((uint32_t)k[1] << 24) | ((uint32_t)k[2] << 16) | ((uint32_t)k[3] << 8) | k[4];
  key_info *ki = NULL;
  if (k[0] == 't' && idx < NT) ki = &g_keys[idx];
  if (k[0] == 'u' && idx < NU) ki = &g_keys[NT + idx];
  if (k[0] == 'w' && idx < NL) ki = &g_keys[NT + NU + idx];
  if (ki == NULL || ki->klen != kl || memcmp(ki->key, k, kl) != 0) return NULL;
  return ki;
}

static int cmp_ids(const void *a, const void *b) {
  const key_info *x = &g_keys[*(const int *)a], *y = &g_keys[*(const int *)b];
  return bytewise(x->key, x->klen, y->key, y->klen);
}

/* ------------------------------------------------------------------------ */
/* Reading tables without Strata                                            */
/* ------------------------------------------------------------------------ */

typedef struct blockinfo {
  uint64_t off, size; /* the block's handle: contents, trailer excluded */
  int type;           /* 0 uncompressed, 1 snappy */
  int nkeys;
  int first_id; /* its first key */
} blockinfo;

typedef struct tableinfo {
  char name[32];
  blockinfo *b;
  int nb;
} tableinfo;

static tableinfo g_tables[256];
static int g_ntables;

static const unsigned char *get_varint(const unsigned char *p, const unsigned char *end,
                                       uint64_t *v) {
  uint64_t r = 0;
  for (int shift = 0; shift <= 63 && p < end; shift += 7) {
    uint64_t b = *p++;
    r |= (b & 127) << shift;
    if (!(b & 128)) {
      *v = r;
      return p;
    }
  }
  return NULL;
}

static uint64_t get_le(const unsigned char *p, int n) {
  uint64_t v = 0;
  for (int i = n - 1; i >= 0; i--)
    v = (v << 8) | p[i];
  return v;
}

/* A block's uncompressed contents: in the file buffer, or in heap. */
typedef struct contents {
  const unsigned char *d;
  size_t n;
  char *heap;
} contents;

static void read_block(const unsigned char *file, uint64_t fsize, uint64_t off, uint64_t size,
                       int *type, contents *c, const char *name) {
  if (off > fsize || size + BLOCK_TRAILER > fsize - off)
    failf("setup: %s: block handle %llu+%llu past the end", name, (unsigned long long)off,
          (unsigned long long)size);
  *type = file[off + size];
  c->heap = NULL;
  if (*type == 0) {
    c->d = file + off;
    c->n = (size_t)size;
    return;
  }
  size_t ulen;
  if (*type != 1 || snappy_uncompressed_length((const char *)file + off, size, &ulen) != SNAPPY_OK)
    failf("setup: %s: block at %llu has type %d or a bad snappy header", name,
          (unsigned long long)off, *type);
  c->heap = malloc(ulen ? ulen : 1);
  if (snappy_uncompress((const char *)file + off, size, c->heap, &ulen) != SNAPPY_OK)
    failf("setup: %s: snappy block at %llu does not decompress", name, (unsigned long long)off);
  c->d = (const unsigned char *)c->heap;
  c->n = ulen;
}

typedef void (*entry_fn)(void *arg, const unsigned char *k, size_t kl, const unsigned char *v,
                         size_t vl, size_t voff);

/* Walks a block's entries (shared, non_shared, value_len, key delta,
 * value), restart array last. */
static void walk_block(const contents *c, entry_fn fn, void *arg, const char *name) {
  if (c->n < 4) failf("setup: %s: block of %zu bytes", name, c->n);
  uint64_t nr = get_le(c->d + c->n - 4, 4);
  if (nr * 4 + 4 > c->n) failf("setup: %s: bad restart count", name);
  const unsigned char *p = c->d, *limit = c->d + c->n - 4 - nr * 4;
  unsigned char key[512];
  size_t kl = 0;
  while (p < limit) {
    uint64_t shared, nonshared, vlen;
    if (!(p = get_varint(p, limit, &shared)) || !(p = get_varint(p, limit, &nonshared)) ||
        !(p = get_varint(p, limit, &vlen)) || shared > kl || nonshared > sizeof key - shared ||
        nonshared + vlen > (uint64_t)(limit - p))
      failf("setup: %s: malformed block entry", name);
    memcpy(key + shared, p, (size_t)nonshared);
    kl = (size_t)(shared + nonshared);
    p += nonshared;
    fn(arg, key, kl, p, (size_t)vlen, (size_t)(p - c->d));
    p += vlen;
  }
}

typedef struct index_walk {
  tableinfo *t;
  int cap;
} index_walk;

static void on_index_entry(void *arg, const unsigned char *k, size_t kl, const unsigned char *v,
                           size_t vl, size_t voff) {
  (void)k;
  (void)kl;
  (void)voff;
  index_walk *w = arg;
  uint64_t off, size;
  const unsigned char *p = get_varint(v, v + vl, &off);
  if (!p || !get_varint(p, v + vl, &size)) failf("setup: %s: bad index entry", w->t->name);
  if (w->t->nb == w->cap) {
    w->cap = w->cap ? 2 * w->cap : 64;
    w->t->b = realloc(w->t->b, (size_t)w->cap * sizeof *w->t->b);
  }
  blockinfo *b = &w->t->b[w->t->nb++];
  b->off = off;
  b->size = size;
  b->nkeys = 0;
  b->first_id = -1;
}

typedef struct data_walk {
  int table, block, type;
  uint64_t block_off;
} data_walk;

static void on_data_entry(void *arg, const unsigned char *k, size_t kl, const unsigned char *v,
                          size_t vl, size_t voff) {
  data_walk *w = arg;
  tableinfo *t = &g_tables[w->table];
  su_hexbuf hb;
  if (kl < 8) failf("setup: %s: internal key of %zu bytes", t->name, kl);
  key_info *ki = lookup_key(k, kl - 8);
  if (ki == NULL) failf("setup: %s holds key %s, never written", t->name, su_hex(&hb, k, kl - 8));
  if (ki->table >= 0)
    failf("setup: key %s in two places (%s and %s)", su_hex(&hb, k, kl - 8),
          g_tables[ki->table].name, t->name);
  unsigned char *want = malloc(ki->vlen);
  su_fill_value(ki->vseed, ki->vlen, want);
  if (vl != ki->vlen || memcmp(v, want, vl) != 0)
    failf("setup: %s holds a wrong value for %s", t->name, su_hex(&hb, k, kl - 8));
  free(want);
  ki->table = w->table;
  ki->block = w->block;
  ki->vfile_off = w->type == 0 ? w->block_off + voff : 0;
  blockinfo *b = &t->b[w->block];
  if (b->nkeys++ == 0) b->first_id = id_of(ki);
}

/* Records every data block of table `name` and the keys each holds. */
static void load_table(const char *dir, const char *name) {
  if (g_ntables == (int)(sizeof g_tables / sizeof g_tables[0])) failf("setup: too many tables");
  int ti = g_ntables++;
  tableinfo *t = &g_tables[ti];
  snprintf(t->name, sizeof t->name, "%s", name);
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  size_t fsize;
  unsigned char *file = su_read_file(path, &fsize);
  if (file == NULL || fsize < FOOTER_SIZE) failf("setup: cannot read %s", path);
  const unsigned char *foot = file + fsize - FOOTER_SIZE;
  if (get_le(foot + FOOTER_SIZE - 8, 8) != TABLE_MAGIC) failf("setup: %s: bad magic", name);
  uint64_t moff, msize, ioff, isize;
  const unsigned char *p = get_varint(foot, foot + 40, &moff);
  if (p) p = get_varint(p, foot + 40, &msize);
  if (p) p = get_varint(p, foot + 40, &ioff);
  if (p) p = get_varint(p, foot + 40, &isize);
  if (!p) failf("setup: %s: bad footer", name);
  int type;
  contents c;
  read_block(file, fsize, ioff, isize, &type, &c, name);
  index_walk iw = {t, 0};
  walk_block(&c, on_index_entry, &iw, name);
  free(c.heap);
  for (int i = 0; i < t->nb; i++) {
    blockinfo *b = &t->b[i];
    read_block(file, fsize, b->off, b->size, &b->type, &c, name);
    data_walk dw = {ti, i, b->type, b->off};
    walk_block(&c, on_data_entry, &dw, name);
    free(c.heap);
  }
  free(file);
}

/* ------------------------------------------------------------------------ */
/* Building the pristine database                                           */
/* ------------------------------------------------------------------------ */

static char g_logname[64];  /* the log holding the "w" keys */
static uint64_t g_log_size; /* its size at close */
static char g_manifest[64]; /* the MANIFEST CURRENT names */

static void put_key(strata_db *db, const key_info *k, unsigned char *vbuf) {
  su_fill_value(k->vseed, k->vlen, vbuf);
  must(strata_put(db, NULL, k->key, k->klen, vbuf, k->vlen), "strata_put (build)");
}

/* Basename of the highest-numbered file ending in suffix; its size or -1. */
static long long newest_file(const char *dir, const char *suffix, char *out, size_t cap) {
  DIR *d = opendir(dir);
  if (d == NULL) return -1;
  struct dirent *de;
  long long size = -1;
  unsigned long long best = 0;
  size_t sl = strlen(suffix);
  while ((de = readdir(d)) != NULL) {
    size_t nl = strlen(de->d_name);
    if (nl <= sl || strcmp(de->d_name + nl - sl, suffix) != 0) continue;
    unsigned long long num = strtoull(de->d_name, NULL, 10);
    char path[4096];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
    if (stat(path, &st) != 0 || (size >= 0 && num < best)) continue;
    best = num;
    size = st.st_size;
    snprintf(out, cap, "%s", de->d_name);
  }
  closedir(d);
  return size;
}

static void build(const char *dir) {
  unsigned char *vbuf = malloc(4096);
  strata_options opt;
  strata_options_init(&opt);
  opt.create_if_missing = 1;
  opt.write_buffer_size = 64 << 10;
  strata_db *db;
  must(strata_open(dir, &opt, &db), "strata_open (build)");
  for (int i = 0; i < NT; i++)
    put_key(db, &g_keys[i], vbuf);
  /* Written in key order, every flush went to the same level, below level
   * 0 (no overlap). The compaction waits for all background work, so no
   * half-written output is left behind for check and repair to find. */
  must(strata_compact_range(db, NULL, 0, NULL, 0), "strata_compact_range (all)");
  for (int i = NT; i < NT + NU; i++)
    put_key(db, &g_keys[i], vbuf);
  /* A compaction of an empty range still flushes the memtable: the "u"
   * keys become one more table. */
  const unsigned char none[1] = {'v'};
  must(strata_compact_range(db, none, 1, none, 1), "strata_compact_range (flush)");
  strata_close(db);

  /* Log phase: a large write buffer so nothing is flushed. */
  opt.create_if_missing = 0;
  opt.write_buffer_size = 8 << 20;
  must(strata_open(dir, &opt, &db), "strata_open (log phase)");
  long long pos = newest_file(dir, ".log", g_logname, sizeof g_logname);
  if (pos < 0) failf("setup: no .log file after opening %s", dir);
  for (int i = NT + NU; i < NKEYS; i++) {
    key_info *k = &g_keys[i];
    put_key(db, k, vbuf);
    char name[64];
    long long sz = newest_file(dir, ".log", name, sizeof name);
    if (sz <= pos || strcmp(name, g_logname) != 0)
      failf("setup: a put did not grow %s (size %lld): log keys must all go there, and non-sync "
            "writes must reach the OS before strata_put returns",
            g_logname, sz);
    k->log_start = (uint64_t)pos;
    k->log_end = (uint64_t)sz;
    pos = sz;
  }
  strata_close(db);
  g_log_size = (uint64_t)pos;
  char name[64];
  if (newest_file(dir, ".log", name, sizeof name) != pos || strcmp(name, g_logname) != 0)
    failf("setup: after close %s should be the newest log, of %lld bytes", g_logname, pos);

  char cur[4096];
  snprintf(cur, sizeof cur, "%s/CURRENT", dir);
  size_t clen;
  unsigned char *c = su_read_file(cur, &clen);
  if (c == NULL || clen < 2 || c[clen - 1] != '\n') failf("setup: unreadable CURRENT");
  snprintf(g_manifest, sizeof g_manifest, "%.*s", (int)clen - 1, (const char *)c);
  free(c);
  free(vbuf);

  DIR *d = opendir(dir);
  struct dirent *de;
  while (d != NULL && (de = readdir(d)) != NULL) {
    size_t nl = strlen(de->d_name);
    if (nl > 4 && strcmp(de->d_name + nl - 4, ".ldb") == 0) load_table(dir, de->d_name);
  }
  if (d != NULL) closedir(d);
  su_hexbuf hb;
  int ttables = 0;
  for (int i = 0; i < NT + NU; i++)
    if (g_keys[i].table < 0)
      failf("setup: key %s is in no table", su_hex(&hb, g_keys[i].key, g_keys[i].klen));
  for (int i = 0; i < g_ntables; i++)
    ttables += g_keys[g_tables[i].b[0].first_id].key[0] == 't';
  if (ttables < 3) failf("setup: %d tables of \"t\" keys, expected several", ttables);
}

/* ------------------------------------------------------------------------ */
/* The damage                                                               */
/* ------------------------------------------------------------------------ */

enum { C_PRISTINE, C_TABLE_SNAPPY, C_TABLE_RAW, C_LOG, C_MANIFEST, NCASES };
static const char *const case_names[NCASES] = {"pristine", "table-snappy", "table-raw", "log-mid",
                                               "manifest-mid"};

enum { X_RIGHT, X_ABSENT, X_CORRUPT, X_FLIPPED };
static const char *const x_names[] = {"its value", "absent", "STRATA_ECORRUPTION",
                                      "its value with the flipped byte"};

/* Read contexts. */
enum { CTX_V0, CTX_V1, CTX_PARANOID, CTX_REPAIRED };

typedef struct damage {
  int kind;
  char file[64];         /* basename of the damaged file ("" for pristine) */
  uint64_t file_off;     /* the byte flipped */
  int table, block;      /* table cases: the damaged block */
  int flipped_key;       /* table-raw: V */
  size_t flipped_at;     /* table-raw: offset of the flipped byte in V's value */
  int log_victim;        /* log-mid: R's key id */
  uint64_t log_hdr;      /* log-mid: offset of R's header */
  uint64_t log_next;     /* log-mid: start of the next log block */
  uint64_t log_lost_end; /* log-mid: end of the last record dropped with R */
  int log_class[NL];     /* log-mid: X_RIGHT or X_ABSENT per log key */
} damage;

static damage g_d;

static int in_damaged_block(const key_info *k) {
  return (g_d.kind == C_TABLE_SNAPPY || g_d.kind == C_TABLE_RAW) && k->table == g_d.table &&
         k->block == g_d.block;
}

static int expect(const key_info *k, int ctx) {
  if (in_damaged_block(k)) {
    if (ctx == CTX_REPAIRED) return X_ABSENT;
    if (g_d.kind == C_TABLE_RAW && ctx == CTX_V0)
      return id_of(k) == g_d.flipped_key ? X_FLIPPED : X_RIGHT;
    return X_CORRUPT;
  }
  if (g_d.kind == C_LOG && k->key[0] == 'w') return g_d.log_class[id_of(k) - NT - NU];
  return X_RIGHT;
}

/* Offset of the header of the record a put wrote at log size `start`: a
 * record never starts in the last 6 bytes of a block (they are padding). */
static uint64_t record_header(uint64_t start) {
  uint64_t left = LOG_BLOCK - start % LOG_BLOCK;
  return left < LOG_HEADER ? start + left : start;
}

/* A data block of a "t" table, neither first nor last of its table, of the
 * wanted type, whose first key is nearest to "t" key index `near`. */
static void pick_block(int type, int near) {
  long best = -1;
  for (int t = 0; t < g_ntables; t++)
    for (int b = 1; b + 1 < g_tables[t].nb; b++) {
      const blockinfo *bi = &g_tables[t].b[b];
      const key_info *first = &g_keys[bi->first_id];
      if (bi->type != type || first->key[0] != 't') continue;
      long dist = labs((long)bi->first_id - near);
      if (best < 0 || dist < best) {
        best = dist;
        g_d.table = t;
        g_d.block = b;
      }
    }
  if (best < 0) failf("setup: no %s data block inside a table", type ? "snappy" : "uncompressed");
}

/* Chooses what each case damages (from the pristine database's layout). */
static void plan(const char *pristine, int kind) {
  memset(&g_d, 0, sizeof g_d);
  g_d.kind = kind;
  g_d.table = g_d.block = g_d.flipped_key = g_d.log_victim = -1;
  if (kind == C_TABLE_SNAPPY) {
    pick_block(1, NT / 5);
    const tableinfo *t = &g_tables[g_d.table];
    const blockinfo *b = &t->b[g_d.block];
    snprintf(g_d.file, sizeof g_d.file, "%s", t->name);
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", pristine, t->name);
    size_t fsize;
    unsigned char *file = su_read_file(path, &fsize);
    char *copy = malloc(b->size), *out = NULL;
    uint64_t found = UINT64_MAX;
    /* From the middle on, the first byte whose flip breaks the stream. */
    for (uint64_t i = 0; i < b->size && found == UINT64_MAX; i++) {
      uint64_t at = (b->size / 2 + i) % b->size;
      memcpy(copy, file + b->off, b->size);
      copy[at] ^= 0x5a;
      size_t ulen;
      int ok = snappy_uncompressed_length(copy, b->size, &ulen) == SNAPPY_OK && ulen < (64u << 20);
      if (ok) {
        out = realloc(out, ulen ? ulen : 1);
        ok = snappy_uncompress(copy, b->size, out, &ulen) == SNAPPY_OK;
      }
      if (!ok) found = at;
    }
    free(copy);
    free(out);
    free(file);
    if (found == UINT64_MAX) failf("setup: no byte of the snappy block breaks it when flipped");
    g_d.file_off = b->off + found;
  } else if (kind == C_TABLE_RAW) {
    pick_block(0, NT / 2);
    const tableinfo *t = &g_tables[g_d.table];
    const blockinfo *b = &t->b[g_d.block];
    snprintf(g_d.file, sizeof g_d.file, "%s", t->name);
    /* V: the block's middle key (values are at least 16 bytes long). */
    int mid = b->nkeys / 2, n = 0;
    for (int i = 0; i < NT && g_d.flipped_key < 0; i++)
      if (g_keys[i].table == g_d.table && g_keys[i].block == g_d.block && n++ == mid)
        g_d.flipped_key = i;
    const key_info *v = &g_keys[g_d.flipped_key];
    g_d.flipped_at = v->vlen / 2;
    g_d.file_off = v->vfile_off + g_d.flipped_at;
  } else if (kind == C_LOG) {
    snprintf(g_d.file, sizeof g_d.file, "%s", g_logname);
    /* R: from the middle on, the first record within one block with at
     * least two records after it in that block. */
    for (int i = NL / 2; i < NL - 3 && g_d.log_victim < 0; i++) {
      const key_info *r = &g_keys[NT + NU + i];
      uint64_t hdr = record_header(r->log_start);
      uint64_t next = (hdr / LOG_BLOCK + 1) * LOG_BLOCK;
      if ((r->log_end - 1) / LOG_BLOCK != hdr / LOG_BLOCK) continue;
      if (record_header(g_keys[NT + NU + i + 2].log_start) >= next) continue;
      g_d.log_victim = NT + NU + i;
      g_d.log_hdr = hdr;
      g_d.log_next = next;
      g_d.file_off = hdr + LOG_HEADER + (r->log_end - hdr - LOG_HEADER) / 2;
    }
    if (g_d.log_victim < 0) failf("setup: no log record with two more after it in its block");
    for (int i = 0; i < NL; i++) {
      const key_info *k = &g_keys[NT + NU + i];
      uint64_t hdr = record_header(k->log_start);
      int lost = hdr >= g_d.log_hdr && hdr < g_d.log_next;
      g_d.log_class[i] = lost ? X_ABSENT : X_RIGHT;
      if (lost) g_d.log_lost_end = k->log_end;
    }
  } else if (kind == C_MANIFEST) {
    snprintf(g_d.file, sizeof g_d.file, "%s", g_manifest);
    char path[4096];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", pristine, g_manifest);
    if (stat(path, &st) != 0) failf("setup: stat %s", path);
    g_d.file_off = (uint64_t)st.st_size / 2;
  }
}

static void flip_byte(const char *dir, const char *name, uint64_t off) {
  char p[4096];
  snprintf(p, sizeof p, "%s/%s", dir, name);
  int fd = open(p, O_RDWR);
  unsigned char c;
  if (fd < 0 || pread(fd, &c, 1, (off_t)off) != 1)
    failf("reading %s at %llu", p, (unsigned long long)off);
  c ^= 0x5a;
  if (pwrite(fd, &c, 1, (off_t)off) != 1) failf("writing %s", p);
  close(fd);
}

/* ------------------------------------------------------------------------ */
/* Reading everything back                                                  */
/* ------------------------------------------------------------------------ */

/* A read failed as expected: the message must name the damaged table and
 * the damaged block's offset. */
static void check_corrupt_msg(const char *what, const key_info *k) {
  su_hexbuf hb;
  char off[40];
  snprintf(off, sizeof off, "offset %llu",
           (unsigned long long)g_tables[g_d.table].b[g_d.block].off);
  const char *msg = strata_errmsg();
  if (strstr(msg, g_d.file) == NULL || strstr(msg, off) == NULL)
    failf("%s%s%s: STRATA_ECORRUPTION as expected, but the message does not name %s and \"%s\": "
          "\"%s\"",
          what, k ? " " : "", k ? su_hex(&hb, k->key, k->klen) : "", g_d.file, off, msg);
}

/* Checks bytes read for key k against what ctx expects (X_RIGHT or
 * X_FLIPPED). */
static void check_value(const char *what, const key_info *k, int x, const char *v, size_t vl,
                        unsigned char *vbuf) {
  su_hexbuf hb;
  su_fill_value(k->vseed, k->vlen, vbuf);
  if (x == X_FLIPPED) vbuf[g_d.flipped_at] ^= 0x5a;
  if (vl != k->vlen || memcmp(v, vbuf, vl) != 0) {
    su_fill_value(k->vseed, k->vlen, vbuf);
    int right = vl == k->vlen && memcmp(v, vbuf, vl) == 0;
    failf("%s %s: returned %s, expected %s", what, su_hex(&hb, k->key, k->klen),
          right ? "its right value" : "a wrong value", x_names[x]);
  }
}

/* Gets every key, then scans them all; describes the outcome in *sum. */
static void read_all(strata_db *db, int verify, int ctx, char *sum, size_t cap) {
  su_hexbuf hb;
  unsigned char *vbuf = malloc(4096);
  strata_read_options ro;
  strata_read_options_init(&ro);
  ro.verify_checksums = verify;
  strata_buf val = STRATA_BUF_INIT;
  int count[4] = {0, 0, 0, 0};
  char get_msg[200] = "", scan_msg[200] = "";
  char what[64];
  snprintf(what, sizeof what, "strata_get (verify_checksums=%d)", verify);
  for (int i = 0; i < NKEYS; i++) {
    const key_info *k = &g_keys[i];
    int x = expect(k, ctx);
    int rc = strata_get(db, &ro, k->key, k->klen, &val);
    if (rc == STRATA_OK && (x == X_RIGHT || x == X_FLIPPED)) {
      check_value(what, k, x, val.data, val.size, vbuf);
    } else if (rc == STRATA_ENOTFOUND && x == X_ABSENT) {
    } else if (rc == STRATA_ECORRUPTION && x == X_CORRUPT) {
      check_corrupt_msg(what, k);
      if (!get_msg[0]) snprintf(get_msg, sizeof get_msg, "%s", strstr(strata_errmsg(), g_d.file));
    } else {
      failf("%s %s (in %s): returned %d (%s)%s%s, expected %s", what, su_hex(&hb, k->key, k->klen),
            k->table >= 0 ? g_tables[k->table].name : "the log", rc, strata_strerror(rc),
            rc < 0 ? ": " : "", rc < 0 ? strata_errmsg() : "", x_names[x]);
    }
    count[x]++;
  }
  strata_buf_free(&val);

  /* The scan: keys in order, each as expected. At the first key expected to
   * be unreadable (the cut) the scan must stop with STRATA_ECORRUPTION, after
   * returning every readable key before it and none after it (an error in
   * any input stops the merging iterator at once). */
  int cut = -1;
  for (int j = 0; j < NKEYS && cut < 0; j++)
    if (expect(&g_keys[g_sorted[j]], ctx) == X_CORRUPT) cut = j;
  snprintf(what, sizeof what, "scan (verify_checksums=%d)", verify);
  strata_iter *it;
  must(strata_iter_create(db, &ro, &it), "strata_iter_create");
  int next = 0, returned = 0, after_cut = 0;
  for (strata_iter_seek_to_first(it); strata_iter_valid(it); strata_iter_next(it)) {
    size_t kl, vl;
    const char *kp = strata_iter_key(it, &kl);
    const char *v = strata_iter_value(it, &vl);
    const key_info *k = lookup_key(kp, kl);
    if (k == NULL) failf("%s returned key %s, never written", what, su_hex(&hb, kp, kl));
    if (k->sorted_pos < next)
      failf("%s returned %s out of order or twice", what, su_hex(&hb, kp, kl));
    for (int j = next; j < k->sorted_pos; j++) {
      const key_info *s = &g_keys[g_sorted[j]];
      int xs = expect(s, ctx);
      if ((xs == X_RIGHT || xs == X_FLIPPED) && (cut < 0 || j < cut))
        failf("%s skipped %s (%s) before the damage", what, su_hex(&hb, s->key, s->klen),
              x_names[xs]);
    }
    int x = expect(k, ctx);
    if (x == X_ABSENT || x == X_CORRUPT)
      failf("%s returned %s, expected %s", what, su_hex(&hb, kp, kl),
            x == X_ABSENT ? "it to be absent" : "it to be unreadable (damaged block)");
    if (cut >= 0 && k->sorted_pos > cut)
      failf("%s returned %s after the damaged block of %s", what, su_hex(&hb, kp, kl), g_d.file);
    check_value(what, k, x, v, vl, vbuf);
    next = k->sorted_pos + 1;
    returned++;
    after_cut += cut >= 0 && k->sorted_pos > cut;
  }
  int st = strata_iter_status(it);
  for (int j = next; j < (cut < 0 ? NKEYS : cut); j++) {
    const key_info *s = &g_keys[g_sorted[j]];
    int xs = expect(s, ctx);
    if (xs == X_RIGHT || xs == X_FLIPPED)
      failf("%s ended (status %s) without returning %s", what, strata_strerror(st),
            su_hex(&hb, s->key, s->klen));
  }
  if (cut < 0 && st != STRATA_OK)
    failf("%s stopped with %d (%s): %s", what, st, strata_strerror(st), strata_errmsg());
  if (cut >= 0) {
    if (st != STRATA_ECORRUPTION)
      failf("%s ended with %d (%s) over a damaged block, expected STRATA_ECORRUPTION", what, st,
            strata_strerror(st));
    check_corrupt_msg(what, NULL);
    snprintf(scan_msg, sizeof scan_msg, "%s", strstr(strata_errmsg(), g_d.file));
  }
  strata_iter_destroy(it);
  free(vbuf);
  int o = snprintf(sum, cap, "get: %d right", count[X_RIGHT]);
  if (count[X_FLIPPED]) o += snprintf(sum + o, cap - (size_t)o, ", %d flipped", count[X_FLIPPED]);
  if (count[X_ABSENT]) o += snprintf(sum + o, cap - (size_t)o, ", %d absent", count[X_ABSENT]);
  if (count[X_CORRUPT])
    o += snprintf(sum + o, cap - (size_t)o, ", %d ECORRUPTION \"%s\"", count[X_CORRUPT], get_msg);
  if (cut < 0)
    snprintf(sum + o, cap - (size_t)o, "\n        scan: all %d, OK", returned);
  else
    snprintf(sum + o, cap - (size_t)o,
             "\n        scan: %d keys (%d after the damaged block), then ECORRUPTION \"%s\"",
             returned, after_cut, scan_msg);
}

/* ------------------------------------------------------------------------ */
/* Probes                                                                   */
/* ------------------------------------------------------------------------ */

static int names_damaged_file(const char *msg) { return g_d.file[0] && strstr(msg, g_d.file); }

/* strata_open with paranoid_checks 0 or 1, then reads with verify_checksums
 * 1 and 0 (in that order: a block an unverified read put in the cache
 * would be served to a verified read without a check). */
static void probe_open(const char *dir, int paranoid) {
  strata_options opt;
  strata_options_init(&opt);
  opt.paranoid_checks = paranoid;
  strata_db *db = NULL;
  int rc = strata_open(dir, &opt, &db);
  int must_fail = g_d.kind == C_MANIFEST || (g_d.kind == C_LOG && paranoid);
  if (must_fail) {
    if (rc == STRATA_OK) {
      strata_close(db);
      failf("strata_open succeeded; expected STRATA_ECORRUPTION naming %s", g_d.file);
    }
    if (rc != STRATA_ECORRUPTION || !names_damaged_file(strata_errmsg()))
      failf("strata_open returned %d (%s): \"%s\"; expected STRATA_ECORRUPTION naming %s", rc,
            strata_strerror(rc), strata_errmsg(), g_d.file);
    printf("    %-13s open paranoid=%d: STRATA_ECORRUPTION \"%s\"\n", g_case, paranoid,
           strata_errmsg());
    return;
  }
  if (rc != STRATA_OK)
    failf("strata_open returned %d (%s): %s; expected success", rc, strata_strerror(rc),
          strata_errmsg());
  char s1[600], s0[600];
  read_all(db, 1, paranoid ? CTX_PARANOID : CTX_V1, s1, sizeof s1);
  read_all(db, 0, paranoid ? CTX_PARANOID : CTX_V0, s0, sizeof s0);
  strata_close(db);
  printf("    %-13s open paranoid=%d: OK\n      verify=1: %s\n      verify=0: %s\n", g_case,
         paranoid, s1, s0);
}

typedef struct reports {
  int n;
  char file[16][4096];
  uint64_t offset[16];
  int code[16];
  char what[16][256];
} reports;

static void collect(void *arg, const char *file, uint64_t offset, int code, const char *what) {
  reports *r = arg;
  if (r->n < 16) {
    snprintf(r->file[r->n], sizeof r->file[0], "%s", file);
    r->offset[r->n] = offset;
    r->code[r->n] = code;
    snprintf(r->what[r->n], sizeof r->what[0], "%s", what);
  }
  r->n++;
}

static const char *base_name(const char *path) {
  const char *s = strrchr(path, '/');
  return s ? s + 1 : path;
}

/* Runs strata_check on dir; every problem must be in the damaged file. */
static void run_check(const char *dir, int expect_clean, const char *when) {
  reports *r = calloc(1, sizeof *r);
  uint64_t problems = 12345;
  int rc = strata_check(dir, NULL, collect, r, &problems);
  if (problems != (uint64_t)r->n)
    failf("%s: strata_check counted %llu problems but reported %d", when,
          (unsigned long long)problems, r->n);
  if (expect_clean) {
    if (rc != STRATA_OK || problems != 0)
      failf("%s: strata_check returned %d (%s) with %llu problems, first %s @%llu: %s; expected "
            "a clean database",
            when, rc, strata_strerror(rc), (unsigned long long)problems, r->n ? r->file[0] : "-",
            r->n ? (unsigned long long)r->offset[0] : 0ULL, r->n ? r->what[0] : "-");
    free(r);
    return;
  }
  if (rc != STRATA_ECORRUPTION || problems == 0)
    failf("%s: strata_check returned %d (%s) with %llu problems; expected STRATA_ECORRUPTION", when,
          rc, strata_strerror(rc), (unsigned long long)problems);
  for (int i = 0; i < r->n && i < 16; i++)
    if (strcmp(base_name(r->file[i]), g_d.file) != 0)
      failf("%s: strata_check reported %s @%llu (%s); only %s is damaged", when, r->file[i],
            (unsigned long long)r->offset[i], r->what[i], g_d.file);
  if (g_d.kind == C_TABLE_SNAPPY || g_d.kind == C_TABLE_RAW) {
    uint64_t boff = g_tables[g_d.table].b[g_d.block].off;
    if (r->n != 1 || r->offset[0] != boff || r->code[0] != STRATA_ECORRUPTION)
      failf("%s: strata_check reported %d problems, first at offset %llu code %d (%s); expected "
            "one STRATA_ECORRUPTION at the damaged block's offset %llu",
            when, r->n, (unsigned long long)r->offset[0], r->code[0], r->what[0],
            (unsigned long long)boff);
  }
  if (g_d.kind == C_LOG && r->offset[0] != g_d.log_hdr)
    failf("%s: strata_check's first report is at offset %llu (%s); the damaged record starts at "
          "%llu",
          when, (unsigned long long)r->offset[0], r->what[0], (unsigned long long)g_d.log_hdr);
  printf("    %-13s check: STRATA_ECORRUPTION, %llu problem%s:", g_case,
         (unsigned long long)problems, problems == 1 ? "" : "s");
  for (int i = 0; i < r->n && i < 16; i++)
    printf(" [%s @%llu: %s]", base_name(r->file[i]), (unsigned long long)r->offset[i], r->what[i]);
  printf("\n");
  free(r);
}

static void must_exist(const char *dir, const char *sub, const char *name, const char *why) {
  char p[4096];
  struct stat st;
  snprintf(p, sizeof p, "%s/%s%s", dir, sub, name);
  if (stat(p, &st) != 0) failf("strata_repair: %s%s missing (%s)", sub, name, why);
}

static void probe_repair(const char *dir) {
  strata_repair_report rep;
  memset(&rep, 0xff, sizeof rep);
  int rc = strata_repair(dir, NULL, &rep);
  if (rc != STRATA_OK)
    failf("strata_repair returned %d (%s): %s", rc, strata_strerror(rc), strata_errmsg());
  uint64_t keys = NKEYS, dropped_lo = 0, dropped_hi = 0;
  int table_case = g_d.kind == C_TABLE_SNAPPY || g_d.kind == C_TABLE_RAW;
  if (table_case) {
    const blockinfo *b = &g_tables[g_d.table].b[g_d.block];
    keys -= (uint64_t)b->nkeys;
    dropped_lo = dropped_hi = b->size + BLOCK_TRAILER;
  }
  if (g_d.kind == C_LOG) {
    for (int i = 0; i < NL; i++)
      keys -= g_d.log_class[i] == X_ABSENT;
    /* The rest of R's block (its trailer bytes may not count) up to the
     * end of the last record dropped with it. */
    dropped_lo = g_d.log_next - g_d.log_hdr - (LOG_HEADER - 1);
    dropped_hi = g_d.log_lost_end - g_d.log_hdr + (LOG_HEADER - 1);
  }
  /* Every table is kept (the damaged one rewritten), plus one from the log. */
  if (rep.tables_kept != g_ntables + 1 || rep.tables_lost != 0 || rep.logs_converted != 1 ||
      rep.entries_recovered != keys || rep.bytes_dropped < dropped_lo ||
      rep.bytes_dropped > dropped_hi)
    failf("strata_repair report: tables_kept %d, tables_lost %d, logs_converted %d, "
          "entries_recovered %llu, bytes_dropped %llu; expected %d, 0, 1, %llu, %llu..%llu",
          rep.tables_kept, rep.tables_lost, rep.logs_converted,
          (unsigned long long)rep.entries_recovered, (unsigned long long)rep.bytes_dropped,
          g_ntables + 1, (unsigned long long)keys, (unsigned long long)dropped_lo,
          (unsigned long long)dropped_hi);
  must_exist(dir, "lost/", g_logname, "a converted log is set aside");
  if (g_d.kind == C_MANIFEST) must_exist(dir, "lost/", g_manifest, "the old MANIFEST");
  if (table_case) {
    must_exist(dir, "lost/", g_d.file, "the damaged table");
    must_exist(dir, "", g_d.file, "the damaged table's readable entries");
  }
  /* The repaired database under the strictest settings. */
  strata_options opt;
  strata_options_init(&opt);
  opt.paranoid_checks = 1;
  strata_db *db = NULL;
  rc = strata_open(dir, &opt, &db);
  if (rc != STRATA_OK)
    failf("strata_open after repair returned %d (%s): %s", rc, strata_strerror(rc),
          strata_errmsg());
  char sum[600];
  read_all(db, 1, CTX_REPAIRED, sum, sizeof sum);
  strata_close(db);
  run_check(dir, 1, "after repair");
  printf(
      "    %-13s repair: OK (kept %d tables, lost %d, %d log converted, %llu entries, %llu bytes "
      "dropped)\n      then: %s; check clean\n",
      g_case, rep.tables_kept, rep.tables_lost, rep.logs_converted,
      (unsigned long long)rep.entries_recovered, (unsigned long long)rep.bytes_dropped, sum);
}

enum { P_OPEN, P_OPEN_PARANOID, P_CHECK, P_REPAIR, NPROBES };
static const char *const probe_names[NPROBES] = {"open", "open-paranoid", "check", "repair"};

static void run_probe(const char *pristine, int kind, int probe) {
  g_probe = probe_names[probe];
  char *dir = su_make_temp_dir("strata-corrupt");
  g_dir = dir;
  if (su_copy_dir(pristine, dir) != 0) failf("copying %s to %s", pristine, dir);
  if (kind != C_PRISTINE) flip_byte(dir, g_d.file, g_d.file_off);
  switch (probe) {
  case P_OPEN: probe_open(dir, 0); break;
  case P_OPEN_PARANOID: probe_open(dir, 1); break;
  case P_CHECK: run_check(dir, kind == C_PRISTINE, "damaged database"); break;
  default: probe_repair(dir); break;
  }
  if (kind == C_PRISTINE && probe == P_CHECK) printf("    %-13s check: OK, 0 problems\n", g_case);
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
      fprintf(stderr, "usage: corrupt_test [--seed S] [--case NAME] [S]\n");
      return 2;
    }
  }
  g_seed = su_pick_seed(seed_arg);
  printf("corrupt_test: seed=%llu (reproduce: corrupt_test --seed %llu)\n",
         (unsigned long long)g_seed, (unsigned long long)g_seed);
  for (uint32_t i = 0; i < NT; i++)
    make_key(&g_keys[i], 't', i);
  for (uint32_t i = 0; i < NU; i++)
    make_key(&g_keys[NT + i], 'u', i);
  for (uint32_t i = 0; i < NL; i++)
    make_key(&g_keys[NT + NU + i], 'w', i);
  for (int i = 0; i < NKEYS; i++)
    g_sorted[i] = i;
  qsort(g_sorted, NKEYS, sizeof g_sorted[0], cmp_ids);
  for (int i = 0; i < NKEYS; i++)
    g_keys[g_sorted[i]].sorted_pos = i;

  char *pristine = su_make_temp_dir("strata-corrupt-pristine");
  g_dir = pristine;
  build(pristine);
  printf("built %s: %d tables, log %s (%llu bytes, %d records), %s\n", pristine, g_ntables,
         g_logname, (unsigned long long)g_log_size, NL, g_manifest);
  fflush(stdout);

  int passed = 0, failed = 0;
  for (int c = 0; c < NCASES; c++) {
    if (only != NULL && strcmp(only, case_names[c]) != 0) continue;
    g_case = case_names[c];
    g_probe = "plan";
    plan(pristine, c);
    if (c == C_TABLE_SNAPPY || c == C_TABLE_RAW) {
      const blockinfo *b = &g_tables[g_d.table].b[g_d.block];
      printf("case %s: %s block %d of %d at offset %llu (%llu bytes, %s, %d keys), byte %llu",
             g_case, g_d.file, g_d.block, g_tables[g_d.table].nb, (unsigned long long)b->off,
             (unsigned long long)b->size, b->type ? "snappy" : "uncompressed", b->nkeys,
             (unsigned long long)g_d.file_off);
      if (c == C_TABLE_RAW) printf(" (in the value of the block's key %d)", b->nkeys / 2);
      printf("\n");
    } else if (c == C_LOG) {
      int lost = 0;
      for (int i = 0; i < NL; i++)
        lost += g_d.log_class[i] == X_ABSENT;
      printf("case %s: %s byte %llu, in the record at %llu; the rest of its block holds %d "
             "records\n",
             g_case, g_d.file, (unsigned long long)g_d.file_off, (unsigned long long)g_d.log_hdr,
             lost);
    } else if (c == C_MANIFEST) {
      printf("case %s: %s byte %llu\n", g_case, g_d.file, (unsigned long long)g_d.file_off);
    } else {
      printf("case %s\n", g_case);
    }
    for (int p = 0; p < NPROBES; p++) {
      fflush(stdout);
      fflush(stderr);
      pid_t pid = fork();
      if (pid < 0) {
        perror("fork");
        return 2;
      }
      if (pid == 0) {
        run_probe(pristine, c, p);
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
          fprintf(stderr, "FAIL: seed=%llu case=%s probe=%s: crashed with signal %d\n",
                  (unsigned long long)g_seed, g_case, probe_names[p], WTERMSIG(status));
        printf("    %-13s %s: FAILED\n", g_case, probe_names[p]);
      }
    }
  }
  if (passed + failed == 0) {
    fprintf(stderr, "corrupt_test: no case named %s\n", only);
    return 2;
  }
  su_remove_tree(pristine);
  free(pristine);
  for (int i = 0; i < g_ntables; i++)
    free(g_tables[i].b);
  printf("%d passed, %d failed\n", passed, failed);
  return failed ? 1 : 0;
}
