/*
 * powerloss_test.c - simulated power losses (suite.powerloss).
 *
 * On the fault-injecting env (fault_env.h), a random workload -- puts and
 * deletes, synced and not, atomic batches, empty values, clean reopens and
 * manual compactions, through write buffers small enough that logs roll and
 * tables flush and compact all the time -- runs until the power is cut at a
 * random mutating call (or, if the workload runs out first, at its end).
 * Each cut picks what survives at random: unsynced bytes dropped, zeroed, a
 * random prefix kept (the rest dropped or zeroed) or all kept; pending
 * directory operations reverted, kept, or a prefix of them kept. A quarter
 * of the recoveries are cut again, at a random call of the open, and then
 * recovered once more.
 *
 * After every recovery the database must open, and its contents (a full
 * scan with verify_checksums, values compared byte for byte; gets agree)
 * must equal the state after some prefix of the operations, no shorter
 * than the last synced write (or clean reopen, which makes everything
 * before it durable: recovery writes the logs to synced tables, except
 * with reuse_logs; or manual compaction, which flushes the memtable first)
 * and no longer than the operation the cut interrupted.
 * So no acknowledged synced write is lost, no hole appears (nothing is
 * lost before something kept), a batch is whole or absent, and every value
 * is exact. The workload then goes on from the recovered state.
 *
 * Option sets: "small" (16 KiB write buffer, snappy), "reuse" (the same
 * with reuse_logs), "paranoid" (paranoid_checks, 256-byte blocks, no
 * compression) and "files" (32 KiB buffer, 16 KiB tables: many
 * compactions; zstd).
 *
 * Usage: powerloss_test [--seed S] [--cuts N] [--set NAME]
 * Defaults: 2000 workload cuts over the sets (500 each; cuts during
 * recovery come on top), 1000 under STRATA_TEST_SCALE=asan;
 * STRATA_POWERLOSS_CUTS overrides. The last line
 * gives the count of cuts, of cuts during recovery, of operations and of
 * bytes lost.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fault_env.h"
#include "strata.h"
#include "suite_util.h"

#define DB "/db"
#define NKEYS 300
#define MAX_OPS_PER_CYCLE 400
#define MAX_BATCH 8

typedef struct kv {
  int present;
  uint32_t vlen;
  uint64_t vseed;
  uint64_t hash; /* su_hash64 of the value's bytes */
} kv;

typedef struct entry {
  int key;
  kv val;
} entry;

enum { OP_WRITE, OP_REOPEN, OP_COMPACT };

typedef struct op {
  int type;
  int sync;
  int n; /* entries of a write */
  entry e[MAX_BATCH];
} op;

typedef struct opt_set {
  const char *name;
  size_t write_buffer, block_size, max_file_size;
  int compression, paranoid, reuse_logs;
} opt_set;

static const opt_set sets[] = {
    {"small", 16 << 10, 4096, 2 << 20, STRATA_COMPRESSION_SNAPPY, 0, 0},
    {"reuse", 16 << 10, 4096, 2 << 20, STRATA_COMPRESSION_SNAPPY, 0, 1},
    {"paranoid", 16 << 10, 256, 2 << 20, STRATA_COMPRESSION_NONE, 1, 0},
    {"files", 32 << 10, 1024, 16 << 10, STRATA_COMPRESSION_ZSTD, 0, 0},
};
#define NSETS (int)(sizeof sets / sizeof sets[0])

/* The state of one run over one option set. */
typedef struct run {
  const opt_set *set;
  uint64_t seed;
  su_rng rng;
  fe_env *fe;
  strata_logger *quiet;
  strata_db *db;
  kv model[NKEYS]; /* the state recovered last (then the start of a cycle) */
  kv cur[NKEYS];   /* model with the cycle's operations applied */
  op ops[MAX_OPS_PER_CYCLE];
  int nops;
  int cycle;
  uint64_t op_counter;
  /* results */
  uint64_t cuts, recovery_cuts, ops_done, bytes_lost;
  unsigned char *vbuf;
} run;

static void failf(run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3), noreturn));
static void failf(run *r, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "FAIL: seed=%llu set=%s cycle=%d: ", (unsigned long long)r->seed, r->set->name,
          r->cycle);
  vfprintf(stderr, fmt, ap);
  fprintf(stderr, "\n");
  va_end(ap);
  exit(1);
}

static void no_log(void *state, const char *line) {
  (void)state;
  (void)line;
}

static strata_options options(run *r) {
  strata_options o;
  strata_options_init(&o);
  o.env = fe_strata_env(r->fe);
  o.create_if_missing = 1;
  o.write_buffer_size = r->set->write_buffer;
  o.block_size = r->set->block_size;
  o.max_file_size = r->set->max_file_size;
  o.compression = r->set->compression;
  o.paranoid_checks = r->set->paranoid;
  o.reuse_logs = r->set->reuse_logs;
  o.info_log = r->quiet;
  return o;
}

static void key_of(int k, char *out, size_t *len) {
  /* Lengths vary (8 to 19 bytes) so blocks share prefixes unevenly. */
  *len = (size_t)snprintf(out, 32, "key%05d", k);
  size_t pad = (size_t)(su_mix64((uint64_t)k) % 12);
  memset(out + *len, 'p', pad);
  *len += pad;
}

static int key_index(const char *key, size_t len) {
  if (len < 8 || memcmp(key, "key", 3) != 0) return -1;
  int k = 0;
  for (int i = 3; i < 8; i++) {
    if (key[i] < '0' || key[i] > '9') return -1;
    k = k * 10 + (key[i] - '0');
  }
  char expect[32];
  size_t elen;
  if (k >= NKEYS) return -1;
  key_of(k, expect, &elen);
  return elen == len && memcmp(expect, key, len) == 0 ? k : -1;
}

static kv new_value(run *r) {
  kv v;
  v.present = 1;
  uint64_t pick = su_rng_below(&r->rng, 100);
  v.vlen = pick < 5    ? 0
           : pick < 90 ? (uint32_t)su_rng_range(&r->rng, 1, 200)
                       : (uint32_t)su_rng_range(&r->rng, 200, 3000);
  v.vseed = su_derive(r->seed, ++r->op_counter);
  su_fill_value(v.vseed, v.vlen, r->vbuf);
  v.hash = su_hash64(r->vbuf, v.vlen, 0);
  return v;
}

static int kv_eq(const kv *a, const kv *b) {
  if (a->present != b->present) return 0;
  return !a->present || (a->vlen == b->vlen && a->hash == b->hash);
}

/* Opens the database; 0 or the error. */
static int try_open(run *r) {
  strata_options o = options(r);
  return strata_open(DB, &o, &r->db);
}

static void close_db(run *r) {
  strata_close(r->db);
  r->db = NULL;
}

static fe_cut_opts random_cut(run *r) {
  fe_cut_opts c;
  c.data = (fe_data_mode)su_rng_below(&r->rng, FE_DATA_NMODES);
  c.dir = (fe_dir_mode)su_rng_below(&r->rng, FE_DIR_NMODES);
  c.seed = su_rng_next(&r->rng);
  return c;
}

/* Runs one operation; returns its result. */
static int do_op(run *r, op *o) {
  if (o->type == OP_REOPEN) {
    close_db(r);
    return try_open(r);
  }
  if (o->type == OP_COMPACT) return strata_compact_range(r->db, NULL, 0, NULL, 0);
  strata_write_options wo;
  strata_write_options_init(&wo);
  wo.sync = o->sync;
  char key[32];
  size_t klen;
  if (o->n == 1) {
    key_of(o->e[0].key, key, &klen);
    if (!o->e[0].val.present) return strata_delete(r->db, &wo, key, klen);
    su_fill_value(o->e[0].val.vseed, o->e[0].val.vlen, r->vbuf);
    return strata_put(r->db, &wo, key, klen, r->vbuf, o->e[0].val.vlen);
  }
  strata_batch *b;
  if (strata_batch_create(&b)) failf(r, "batch: %s", strata_errmsg());
  for (int i = 0; i < o->n; i++) {
    key_of(o->e[i].key, key, &klen);
    int rc;
    if (o->e[i].val.present) {
      su_fill_value(o->e[i].val.vseed, o->e[i].val.vlen, r->vbuf);
      rc = strata_batch_put(b, key, klen, r->vbuf, o->e[i].val.vlen);
    } else {
      rc = strata_batch_delete(b, key, klen);
    }
    if (rc) failf(r, "batch: %s", strata_errmsg());
  }
  int rc = strata_write(r->db, &wo, b);
  strata_batch_destroy(b);
  return rc;
}

static void make_op(run *r, op *o) {
  uint64_t pick = su_rng_below(&r->rng, 1000);
  o->sync = su_rng_pm(&r->rng, 100);
  o->n = 0;
  if (pick < 4) {
    o->type = OP_REOPEN;
    return;
  }
  if (pick < 7) {
    o->type = OP_COMPACT;
    return;
  }
  o->type = OP_WRITE;
  o->n = pick < 150 ? (int)su_rng_range(&r->rng, 2, MAX_BATCH) : 1;
  for (int i = 0; i < o->n; i++) {
    o->e[i].key = (int)su_rng_below(&r->rng, NKEYS);
    if (su_rng_pm(&r->rng, 200))
      o->e[i].val.present = 0;
    else
      o->e[i].val = new_value(r);
  }
}

/* The database's contents, read by a full scan (checksums verified) and
 * checked against gets of a sample of keys. */
static void read_db(run *r, kv *d) {
  for (int k = 0; k < NKEYS; k++)
    d[k].present = 0;
  strata_read_options ro;
  strata_read_options_init(&ro);
  ro.verify_checksums = 1;
  strata_iter *it;
  if (strata_iter_create(r->db, &ro, &it)) failf(r, "iter: %s", strata_errmsg());
  int last = -1;
  for (strata_iter_seek_to_first(it); strata_iter_valid(it); strata_iter_next(it)) {
    size_t kl, vl;
    const char *key = strata_iter_key(it, &kl);
    const char *val = strata_iter_value(it, &vl);
    int k = key_index(key, kl);
    su_hexbuf hb;
    if (k < 0) failf(r, "scan returned key %s, never written", su_hex(&hb, key, kl));
    if (k <= last) failf(r, "scan returned key %d after %d", k, last);
    last = k;
    d[k].present = 1;
    d[k].vlen = (uint32_t)vl;
    d[k].hash = su_hash64(val, vl, 0);
  }
  if (strata_iter_status(it)) failf(r, "scan failed: %s", strata_errmsg());
  strata_iter_destroy(it);
  strata_buf b = STRATA_BUF_INIT;
  for (int i = 0; i < 20; i++) {
    int k = (int)su_rng_below(&r->rng, NKEYS);
    char key[32];
    size_t klen;
    key_of(k, key, &klen);
    int rc = strata_get(r->db, &ro, key, klen, &b);
    if (rc && rc != STRATA_ENOTFOUND) failf(r, "get key %d: %s", k, strata_errmsg());
    kv g = {rc == 0, (uint32_t)b.size, 0, rc == 0 ? su_hash64(b.data, b.size, 0) : 0};
    if (!kv_eq(&g, &d[k])) failf(r, "get and scan disagree on key %d", k);
  }
  strata_buf_free(&b);
}

/* Finds the prefix of the cycle's operations, between lo and hi (counts of
 * operations), whose state equals the database's; fails if there is none.
 * Leaves that state in r->model. */
static void check_prefix(run *r, int lo, int hi) {
  kv d[NKEYS];
  read_db(r, d);
  kv s[NKEYS];
  memcpy(s, r->model, sizeof s);
  int mismatch = 0;
  for (int k = 0; k < NKEYS; k++)
    mismatch += !kv_eq(&s[k], &d[k]);
  int found = -1;
  for (int p = 0; p <= hi; p++) {
    if (p >= lo && mismatch == 0) {
      found = p;
      break;
    }
    if (p == hi) break;
    op *o = &r->ops[p];
    for (int i = 0; i < o->n; i++) {
      int k = o->e[i].key;
      mismatch -= !kv_eq(&s[k], &d[k]);
      s[k] = o->e[i].val;
      mismatch += !kv_eq(&s[k], &d[k]);
    }
  }
  if (found < 0) {
    /* Describe the difference from the shortest allowed prefix. */
    memcpy(s, r->model, sizeof s);
    for (int p = 0; p < lo; p++)
      for (int i = 0; i < r->ops[p].n; i++)
        s[r->ops[p].e[i].key] = r->ops[p].e[i].val;
    int shown = 0;
    char what[512] = "";
    size_t w = 0;
    for (int k = 0; k < NKEYS && shown < 4; k++) {
      if (kv_eq(&s[k], &d[k])) continue;
      w += (size_t)snprintf(what + w, sizeof what - w,
                            " key %d: expected %s (%u bytes), found %s (%u bytes);", k,
                            s[k].present ? "a value" : "absent", s[k].vlen,
                            d[k].present ? "a value" : "absent", d[k].vlen);
      shown++;
    }
    failf(r, "contents match no prefix of %d to %d operations (of %d):%s", lo, hi, r->nops, what);
  }
  /* Byte for byte (the comparison above was by hash). */
  memcpy(r->model, s, sizeof s);
  strata_read_options ro;
  strata_read_options_init(&ro);
  strata_buf b = STRATA_BUF_INIT;
  for (int k = 0; k < NKEYS; k++) {
    if (!s[k].present) continue;
    char key[32];
    size_t klen;
    key_of(k, key, &klen);
    if (strata_get(r->db, &ro, key, klen, &b)) failf(r, "get key %d: %s", k, strata_errmsg());
    su_fill_value(s[k].vseed, s[k].vlen, r->vbuf);
    if (b.size != s[k].vlen || (b.size && memcmp(b.data, r->vbuf, b.size) != 0))
      failf(r, "key %d: value differs from the one written", k);
  }
  strata_buf_free(&b);
}

/* After a cut: power on and open, sometimes cutting the recovery too. */
static void recover(run *r) {
  if (fe_power_on(r->fe)) failf(r, "power on failed");
  if (su_rng_pm(&r->rng, 250)) {
    fe_cut_opts c = random_cut(r);
    fe_cut_at(r->fe, su_rng_range(&r->rng, 1, 40), &c);
    int rc = try_open(r);
    fe_cut_disarm(r->fe);
    if (fe_power_is_off(r->fe)) {
      /* Cut during the open, or by work it started. */
      r->recovery_cuts++;
      r->cuts++;
      fe_cut_report rep;
      fe_last_cut(r->fe, &rep);
      r->bytes_lost += rep.bytes_lost;
      if (rc == 0) close_db(r);
      if (fe_power_on(r->fe)) failf(r, "power on failed");
    } else if (rc == 0) {
      return;
    } else {
      failf(r, "open failed without a cut: %s", strata_errmsg());
    }
  }
  if (try_open(r)) failf(r, "open after the power cut failed: %s", strata_errmsg());
}

static void run_cycle(run *r) {
  r->nops = 0;
  memcpy(r->cur, r->model, sizeof r->cur);
  int durable = 0;   /* ops known durable */
  int attempted = 0; /* ops that may have taken effect */
  fe_cut_opts c = random_cut(r);
  fe_cut_at(r->fe, su_rng_range(&r->rng, 1, 500), &c);
  int max_ops = (int)su_rng_range(&r->rng, 20, MAX_OPS_PER_CYCLE);
  while (r->nops < max_ops && !fe_power_is_off(r->fe)) {
    op *o = &r->ops[r->nops++];
    make_op(r, o);
    attempted = r->nops;
    int rc = do_op(r, o);
    if (rc) {
      if (!fe_power_is_off(r->fe))
        failf(r, "operation %d failed before any cut: %s", r->nops, strata_errmsg());
      if (o->type == OP_REOPEN) r->db = NULL;
      break;
    }
    r->ops_done++;
    if (o->type == OP_WRITE && o->sync) durable = r->nops;
    if (o->type == OP_REOPEN && !r->set->reuse_logs) durable = r->nops;
    /* A manual compaction first flushes the memtable to a synced table
     * named by a synced MANIFEST record. */
    if (o->type == OP_COMPACT) durable = r->nops;
  }
  if (!fe_power_is_off(r->fe)) fe_cut_now(r->fe, &c);
  fe_cut_disarm(r->fe);
  fe_cut_report rep;
  fe_last_cut(r->fe, &rep);
  r->bytes_lost += rep.bytes_lost;
  r->cuts++;
  if (r->db) close_db(r);
  recover(r);
  check_prefix(r, durable, attempted);
}

static void run_set(const opt_set *set, uint64_t seed, int cuts, uint64_t *totals) {
  run *r = calloc(1, sizeof *r);
  r->set = set;
  r->seed = seed;
  su_rng_seed(&r->rng, seed);
  r->fe = fe_new();
  r->vbuf = malloc(4096);
  if (!r->fe || !r->vbuf || strata_logger_create(NULL, no_log, NULL, &r->quiet))
    failf(r, "setup: out of memory");
  if (try_open(r)) failf(r, "create: %s", strata_errmsg());
  for (r->cycle = 0; r->cycle < cuts; r->cycle++)
    run_cycle(r);
  close_db(r);
  printf("set %-8s %4llu cuts (%llu during recovery), %6llu operations, %8llu unsynced bytes "
         "lost\n",
         set->name, (unsigned long long)r->cuts, (unsigned long long)r->recovery_cuts,
         (unsigned long long)r->ops_done, (unsigned long long)r->bytes_lost);
  fflush(stdout);
  totals[0] += r->cuts;
  totals[1] += r->recovery_cuts;
  totals[2] += r->ops_done;
  totals[3] += r->bytes_lost;
  fe_free(r->fe);
  strata_logger_destroy(r->quiet);
  free(r->vbuf);
  free(r);
}

int main(int argc, char **argv) {
  const char *seed_arg = NULL, *only = NULL;
  int cuts = su_scale_is_asan() ? 1000 : 2000;
  const char *env_cuts = getenv("STRATA_POWERLOSS_CUTS");
  if (env_cuts && *env_cuts) cuts = atoi(env_cuts);
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc)
      seed_arg = argv[++i];
    else if (strcmp(argv[i], "--cuts") == 0 && i + 1 < argc)
      cuts = atoi(argv[++i]);
    else if (strcmp(argv[i], "--set") == 0 && i + 1 < argc)
      only = argv[++i];
    else {
      fprintf(stderr, "usage: %s [--seed S] [--cuts N] [--set NAME]\n", argv[0]);
      return 2;
    }
  }
  uint64_t seed = su_pick_seed(seed_arg);
  printf("powerloss_test: seed %llu, %d cuts\n", (unsigned long long)seed, cuts);
  fflush(stdout);
  double t0 = su_now();
  uint64_t totals[4] = {0, 0, 0, 0};
  int nsets = 0;
  for (int s = 0; s < NSETS; s++)
    nsets += !only || strcmp(only, sets[s].name) == 0;
  if (nsets == 0) {
    fprintf(stderr, "no option set named %s\n", only);
    return 2;
  }
  for (int s = 0; s < NSETS; s++) {
    if (only && strcmp(only, sets[s].name) != 0) continue;
    run_set(&sets[s], su_derive(seed, (uint64_t)s), (cuts + nsets - 1) / nsets, totals);
  }
  printf("%llu power cuts (%llu during recovery), %llu operations, %llu unsynced bytes lost, "
         "%.1f s: all recovered to a prefix with every synced write\n",
         (unsigned long long)totals[0], (unsigned long long)totals[1],
         (unsigned long long)totals[2], (unsigned long long)totals[3], su_now() - t0);
  return 0;
}
