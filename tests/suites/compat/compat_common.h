/*
 * compat_common.h - the part of ldb_tool and strata_tool that must be
 * identical in both: the deterministic op stream, the write/append/dump
 * commands and the dump's text format. Each tool supplies a small adapter
 * (compat_db) over its own library and calls compat_main(); the two tools
 * never share a process, so each links one library only.
 *
 * Commands:
 *   write  DIR SEED N [PROFILE]  create a database and apply N ops of stream
 *                                SEED, compacting two ranges on the way (so
 *                                tables sit at several levels), then a tail of
 *                                ops with no compaction (left in the log), close
 *   append DIR SEED N [PROFILE]  reopen and do the same without creating
 *   dump   DIR [PROFILE]         print the contents (format below)
 *   churn  DIR SEED N [PROFILE]  create a database and apply ops [0, N) of the
 *                                churn stream SEED (../churn_stream.h: self-
 *                                describing values, compactions, reopens),
 *                                close: the writer that readonly_procs_test's
 *                                read-only processes follow
 *
 * PROFILE: "default" (4 MiB write buffer), "small" (64 KiB write buffer,
 * 1 MiB tables: many flushes, several levels), "bloom" (as small, with
 * LevelDB's bloom filter at 10 bits per key, so each library's point reads
 * go through filter blocks the other one wrote), "golden" (small keys and
 * values, for the few-KB database kept in tests/suites/golden).
 * Both libraries write with snappy compression.
 *
 * Dump format, one line per item, identical for both libraries when their
 * databases hold the same contents:
 *   F <key> <value>      forward scan, first to last
 *   B <key> <value>      backward scan, last to first
 *   S <probe> <key> <key2>  seek(probe) result, then the key prev() reaches
 *   G <probe> <value>    get(probe)
 *   C <forward count> <backward count> <get mismatches>
 * A byte string is lowercase hex when at most 48 bytes long, else
 * "#<length>:<128-bit digest>", so huge values keep the dump small while
 * still pinning their exact content. "-" stands for "none" (end of
 * iteration, key not found); an empty string is "''".
 */
#ifndef STRATA_COMPAT_COMMON_H
#define STRATA_COMPAT_COMMON_H

#include "../churn_stream.h"
#include "../suite_util.h"

typedef struct compat_profile {
  const char *name;
  size_t write_buffer_size;
  size_t max_file_size;
  int small_data; /* keys <= 24 bytes, values <= 64 bytes */
  int bloom_bits; /* 0: no filter policy */
} compat_profile;

static const compat_profile compat_profiles[] = {
    {"default", 4 << 20, 2 << 20, 0, 0},
    {"small", 64 << 10, 1 << 20, 0, 0},
    {"bloom", 64 << 10, 1 << 20, 0, 10},
    {"golden", 64 << 10, 2 << 20, 1, 0},
};

/* The adapter each tool implements. Every function reports its own errors
 * on stderr and exits with status 1: these are command-line tools. */
typedef struct compat_db compat_db;
typedef struct compat_iter compat_iter;

static compat_db *cdb_open(const char *dir, int create, const compat_profile *p);
static void cdb_close(compat_db *db);
static void cdb_put(compat_db *db, const void *k, size_t kl, const void *v, size_t vl, int sync);
static void cdb_delete(compat_db *db, const void *k, size_t kl, int sync);
static void cdb_batch_put(compat_db *db, const void *k, size_t kl, const void *v, size_t vl);
static void cdb_batch_delete(compat_db *db, const void *k, size_t kl);
static void cdb_batch_commit(compat_db *db, int sync); /* writes and clears the batch */
static void cdb_compact(compat_db *db, const void *b, size_t bl, const void *e, size_t el);
/* Returns 1 and a malloc'd value, or 0 when absent. */
static int cdb_get(compat_db *db, const void *k, size_t kl, char **v, size_t *vl);
static void cdb_print_levels(compat_db *db, const char *when);
static compat_iter *cdb_iter(compat_db *db);
static void cdb_iter_free(compat_iter *it);
static void cdb_first(compat_iter *it);
static void cdb_last(compat_iter *it);
static void cdb_seek(compat_iter *it, const void *k, size_t kl);
static void cdb_next(compat_iter *it);
static void cdb_prev(compat_iter *it);
/* Valid?; when not, exits if the iterator stopped on an error. */
static int cdb_valid(compat_iter *it);
static const char *cdb_key(compat_iter *it, size_t *kl);
static const char *cdb_value(compat_iter *it, size_t *vl);

static void compat_die(const char *fmt, const char *arg) {
  fprintf(stderr, fmt, arg);
  fputc('\n', stderr);
  exit(1);
}

/* ------------------------------------------------------------------------ */
/* Keys and values                                                          */
/* ------------------------------------------------------------------------ */

/* Key j of a fixed key space shared by every seed, so that an append with
 * another seed overwrites and deletes keys of the first write. */
#define COMPAT_KEYS 20000u
#define COMPAT_BIG_KEY 7u /* key indices below this are 64 KiB..1 MiB keys */

static size_t compat_key(uint32_t j, int small, unsigned char *out) {
  su_rng r;
  su_rng_seed(&r, su_derive(0x6b65797370616365ULL, j));
  size_t len;
  if (j == COMPAT_BIG_KEY) {
    len = 0; /* the empty key */
  } else if (j < COMPAT_BIG_KEY && !small) {
    len = (size_t)su_rng_range(&r, 64 << 10, 1 << 20);
  } else {
    uint64_t c = su_rng_below(&r, 100);
    len = c < 80 ? (size_t)su_rng_range(&r, 1, 16) : (size_t)su_rng_range(&r, 17, 200);
    if (small && len > 24) len = 24;
  }
  /* Large keys are mostly a repeated byte so they share long prefixes. */
  for (size_t i = 0; i < len; i++) {
    uint64_t c = su_rng_below(&r, 5);
    out[i] = c == 0 ? 0x00 : c == 1 ? 0xff : (unsigned char)su_rng_next(&r);
  }
  return len;
}

static uint32_t compat_pick_key(su_rng *r, int small) {
  uint64_t c = su_rng_below(r, 3000);
  if (c == 0 && !small) return (uint32_t)su_rng_below(r, COMPAT_BIG_KEY);
  uint32_t space = small ? 400 : COMPAT_KEYS; /* golden: a dense key space */
  /* skewed: half the ops hit a hot twentieth of the space */
  if (su_rng_below(r, 2) == 0) return COMPAT_BIG_KEY + (uint32_t)su_rng_below(r, space / 20);
  return COMPAT_BIG_KEY + (uint32_t)su_rng_below(r, space);
}

static uint32_t compat_pick_vlen(su_rng *r, int small) {
  if (small) return (uint32_t)su_rng_below(r, 65);
  /* Mostly small, a tail up to 1 MiB; the mix keeps a 20k-op database
   * around 30 MB so the suite stays quick on an ordinary disk. */
  uint64_t c = su_rng_below(r, 10000);
  if (c < 3) return (uint32_t)su_rng_range(r, 100 << 10, 1 << 20);
  if (c < 53) return (uint32_t)su_rng_range(r, 16 << 10, 64 << 10);
  if (c < 650) return (uint32_t)su_rng_range(r, 1001, 8 << 10);
  if (c < 4350) return (uint32_t)su_rng_range(r, 33, 1000);
  return (uint32_t)su_rng_below(r, 33);
}

/* ------------------------------------------------------------------------ */
/* Commands                                                                 */
/* ------------------------------------------------------------------------ */

typedef struct compat_bufs {
  unsigned char *k, *v;
} compat_bufs;

/* Applies op i of stream `seed`: a put, a delete or a batch of 2..10. */
static void compat_apply(compat_db *db, uint64_t seed, uint64_t i, int small, compat_bufs *b) {
  su_rng r;
  su_rng_seed(&r, su_derive(seed, i));
  uint64_t c = su_rng_below(&r, 100);
  int sync = su_rng_below(&r, 1000) == 0; /* rare: each costs a disk flush */
  if (c < 60) {
    size_t kl = compat_key(compat_pick_key(&r, small), small, b->k);
    uint32_t vl = compat_pick_vlen(&r, small);
    su_fill_value(su_rng_next(&r), vl, b->v);
    cdb_put(db, b->k, kl, b->v, vl, sync);
  } else if (c < 75) {
    size_t kl = compat_key(compat_pick_key(&r, small), small, b->k);
    cdb_delete(db, b->k, kl, sync);
  } else {
    int n = (int)su_rng_range(&r, 2, 10);
    for (int j = 0; j < n; j++) {
      size_t kl = compat_key(compat_pick_key(&r, small), small, b->k);
      if (su_rng_below(&r, 4) == 0) {
        cdb_batch_delete(db, b->k, kl);
      } else {
        uint32_t vl = compat_pick_vlen(&r, small);
        if (vl > (64u << 10)) vl = 64u << 10; /* keep batches moderate */
        su_fill_value(su_rng_next(&r), vl, b->v);
        cdb_batch_put(db, b->k, kl, b->v, vl);
      }
    }
    cdb_batch_commit(db, sync);
  }
}

/* Compacts [key(a), key(b)] of the stream's key space (a > b swaps). */
static void compat_compact_keys(compat_db *db, uint32_t a, uint32_t z, int small, compat_bufs *b) {
  unsigned char *k2 = malloc(1 << 20);
  size_t l1 = compat_key(a, small, b->k), l2 = compat_key(z, small, k2);
  size_t n = l1 < l2 ? l1 : l2;
  int c = n ? memcmp(b->k, k2, n) : 0;
  if (c > 0 || (c == 0 && l1 > l2))
    cdb_compact(db, k2, l2, b->k, l1);
  else
    cdb_compact(db, b->k, l1, k2, l2);
  free(k2);
}

static void compat_write(const char *dir, uint64_t seed, uint64_t n, const compat_profile *p,
                         int create) {
  compat_bufs b = {malloc(1 << 20), malloc(1 << 20)};
  compat_db *db = cdb_open(dir, create, p);
  su_rng r;
  su_rng_seed(&r, su_derive(seed, 0x636f6d70616374ULL));
  for (uint64_t i = 0; i < n; i++) {
    compat_apply(db, seed, i, p->small_data, &b);
    /* Compactions on the way, so tables end up on several levels: a key
     * range pushed down, the memtable flushed on its own (a compaction of a
     * range holding nothing), everything below some key (not for the tiny
     * golden database, where it would merge all into one table), and one
     * more flush. */
    if (i == n / 3) {
      uint32_t space = p->small_data ? 400 : COMPAT_KEYS;
      compat_compact_keys(db, COMPAT_BIG_KEY + (uint32_t)su_rng_below(&r, space),
                          COMPAT_BIG_KEY + (uint32_t)su_rng_below(&r, space), p->small_data, &b);
    }
    if (i == n / 2 || i == 5 * n / 6) {
      static const unsigned char top[8] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
      cdb_compact(db, top, sizeof top, top, sizeof top);
    }
    if (i == 2 * n / 3 && !p->small_data) {
      size_t kl = compat_key(COMPAT_BIG_KEY + (uint32_t)su_rng_below(&r, 400), 0, b.k);
      cdb_compact(db, NULL, 0, b.k, kl);
    }
  }
  /* The tail: no compaction after it, so it stays in the log (and the
   * memtable) when the database is closed. */
  uint64_t tail = n / 20 < 20 ? 20 : n / 20;
  for (uint64_t i = 0; i < tail; i++)
    compat_apply(db, seed ^ 0x7461696cULL, i, 1, &b);
  cdb_print_levels(db, create ? "after write" : "after append");
  cdb_close(db);
  free(b.k);
  free(b.v);
}

/* Prints a byte string; NULL prints "-" (no such key). */
static void compat_put_bytes(const char *p, size_t len) {
  static const char digits[] = "0123456789abcdef";
  if (p == NULL) {
    fputs("-", stdout);
  } else if (len == 0) {
    fputs("''", stdout);
  } else if (len <= 48) {
    for (size_t i = 0; i < len; i++) {
      putchar(digits[(unsigned char)p[i] >> 4]);
      putchar(digits[(unsigned char)p[i] & 15]);
    }
  } else {
    printf("#%zu:%016llx%016llx", len, (unsigned long long)su_hash64(p, len, 1),
           (unsigned long long)su_hash64(p, len, 2));
  }
}

static void compat_dump(const char *dir, const compat_profile *p) {
  compat_db *db = cdb_open(dir, 0, p);
  compat_iter *it = cdb_iter(db);
  unsigned long long nf = 0, nb = 0, mismatches = 0;
  size_t kl, vl;
  for (cdb_first(it); cdb_valid(it); cdb_next(it), nf++) {
    const char *k = cdb_key(it, &kl);
    const char *v = cdb_value(it, &vl);
    fputs("F ", stdout);
    compat_put_bytes(k ? k : "", kl); /* content is compared here, not pointers */
    putchar(' ');
    compat_put_bytes(v ? v : "", vl);
    putchar('\n');
  }
  for (cdb_last(it); cdb_valid(it); cdb_prev(it), nb++) {
    const char *k = cdb_key(it, &kl);
    const char *v = cdb_value(it, &vl);
    fputs("B ", stdout);
    compat_put_bytes(k ? k : "", kl); /* content is compared here, not pointers */
    putchar(' ');
    compat_put_bytes(v ? v : "", vl);
    putchar('\n');
    /* Point lookups must agree with the scan. */
    char *gv;
    size_t gl;
    if (!cdb_get(db, k, kl, &gv, &gl) || gl != vl || (vl && memcmp(gv, v, vl) != 0)) mismatches++;
    free(gv);
  }
  /* Probes: keys of the key space (present or not), some cut or extended
   * so they fall between stored keys. */
  unsigned char *probe = malloc((1 << 20) + 1);
  su_rng r;
  su_rng_seed(&r, 0x70726f6265ULL);
  for (int i = 0; i < 200; i++) {
    int small = i % 2;
    size_t pl = compat_key(compat_pick_key(&r, small), small, probe);
    uint64_t c = su_rng_below(&r, 4);
    if (c == 0) probe[pl++] = (unsigned char)su_rng_next(&r);
    if (c == 1 && pl > 0) pl--;
    cdb_seek(it, probe, pl);
    fputs("S ", stdout);
    compat_put_bytes((const char *)probe, pl);
    putchar(' ');
    if (cdb_valid(it)) {
      const char *k = cdb_key(it, &kl);
      compat_put_bytes(k, kl);
      cdb_prev(it);
    } else {
      fputs("-", stdout);
      cdb_last(it);
    }
    putchar(' ');
    if (cdb_valid(it)) {
      const char *k = cdb_key(it, &kl);
      compat_put_bytes(k, kl);
    } else {
      fputs("-", stdout);
    }
    putchar('\n');
    char *gv;
    size_t gl;
    int found = cdb_get(db, probe, pl, &gv, &gl);
    fputs("G ", stdout);
    compat_put_bytes((const char *)probe, pl);
    putchar(' ');
    /* An empty value may come back without a buffer: "found" decides. */
    compat_put_bytes(found ? (gv != NULL ? gv : "") : NULL, gl);
    putchar('\n');
    if (found) free(gv);
  }
  free(probe);
  printf("C %llu %llu %llu\n", nf, nb, mismatches);
  cdb_iter_free(it);
  cdb_close(db);
  if (fflush(stdout) != 0) exit(1);
}

static void compat_churn(const char *dir, uint64_t seed, uint64_t n, const compat_profile *p) {
  compat_db *db = cdb_open(dir, 1, p);
  unsigned char *v = malloc(CHURN_VALUE_MAX);
  char k[16], k2[16];
  for (uint64_t i = 0; i < n; i++) {
    churn_op op;
    churn_op_of(seed, i, &op);
    if (op.kind == CHURN_REOPEN) {
      cdb_close(db);
      db = cdb_open(dir, 0, p);
    } else if (op.kind == CHURN_COMPACT && op.lo > op.hi) {
      cdb_compact(db, NULL, 0, NULL, 0);
    } else if (op.kind == CHURN_COMPACT) {
      size_t l1 = churn_key(op.lo, k);
      size_t l2 = churn_key(op.hi < CHURN_KEYS ? op.hi : CHURN_KEYS - 1, k2);
      cdb_compact(db, k, l1, k2, l2);
    } else if (op.kind == CHURN_BATCH) {
      for (int j = 0; j < op.n; j++) {
        size_t kl = churn_key(op.e[j].key, k);
        if (op.e[j].del) {
          cdb_batch_delete(db, k, kl);
        } else {
          size_t vl = churn_value(op.e[j].key, i * 64 + (uint64_t)j, v);
          cdb_batch_put(db, k, kl, v, vl);
        }
      }
      cdb_batch_commit(db, 0);
    } else {
      size_t kl = churn_key(op.e[0].key, k);
      if (op.e[0].del) {
        cdb_delete(db, k, kl, 0);
      } else {
        size_t vl = churn_value(op.e[0].key, i * 64, v);
        cdb_put(db, k, kl, v, vl, 0);
      }
    }
  }
  cdb_close(db);
  free(v);
}

static const compat_profile *compat_find_profile(const char *name) {
  for (size_t i = 0; i < sizeof compat_profiles / sizeof compat_profiles[0]; i++)
    if (strcmp(compat_profiles[i].name, name) == 0) return &compat_profiles[i];
  compat_die("unknown profile %s", name);
  return NULL;
}

static int compat_main(int argc, char **argv, const char *tool) {
  if (argc >= 5 && (strcmp(argv[1], "write") == 0 || strcmp(argv[1], "append") == 0)) {
    const compat_profile *p = compat_find_profile(argc >= 6 ? argv[5] : "default");
    compat_write(argv[2], strtoull(argv[3], NULL, 0), strtoull(argv[4], NULL, 0), p,
                 strcmp(argv[1], "write") == 0);
    return 0;
  }
  if ((argc == 5 || argc == 6) && strcmp(argv[1], "churn") == 0) {
    compat_churn(argv[2], strtoull(argv[3], NULL, 0), strtoull(argv[4], NULL, 0),
                 compat_find_profile(argc == 6 ? argv[5] : "small"));
    return 0;
  }
  if ((argc == 3 || argc == 4) && strcmp(argv[1], "dump") == 0) {
    compat_dump(argv[2], compat_find_profile(argc == 4 ? argv[3] : "default"));
    return 0;
  }
  fprintf(stderr,
          "usage: %s write DIR SEED N [default|small|bloom|golden]\n"
          "       %s append DIR SEED N [default|small|bloom|golden]\n"
          "       %s dump DIR [PROFILE]\n"
          "       %s churn DIR SEED N [PROFILE]\n",
          tool, tool, tool, tool);
  return 2;
}

#endif
