/*
 * crash_test.c - process-crash durability and atomicity.
 *
 * Each cycle forks a child that opens the database and runs a deterministic
 * stream of writes (op i is a function of (seed, i) only): puts, deletes and
 * batches, some with sync=1, plus rare compactions. Right after each call
 * returns, the child writes i to a pipe. The parent SIGKILLs the child after
 * a random delay (sometimes during its open/recovery, usually mid-stream),
 * reads the last acknowledged index k, reopens the database itself and
 * compares the whole contents with its oracle:
 *
 *   - the database must open without error;
 *   - the state must equal ops 0..k applied, or ops 0..k+1 applied (op k+1
 *     was in flight: it may or may not have landed, but a batch lands
 *     entirely or not at all). Anything else fails.
 *
 * A process crash never loses an acknowledged write, even a non-sync one
 * (strata.h: sync=0 returns once the record is in the OS page cache), so
 * every acknowledged op must be present. The next cycle continues on the
 * same database from the first op not yet applied. Write buffers and table
 * sizes are small so kills also land during flushes and compactions. Opens
 * randomly use reuse_logs and (in the parent) paranoid_checks.
 *
 * Usage: crash_test [--seed S] [--cycles N] [S]   (seed also from STRATA_SEED)
 */
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/wait.h>

#include "strata.h"
#include "suite_util.h"

#define POOL_KEYS 1500
#define MAX_BATCH 30
#define MAX_VALUE (160u << 10)

/* ------------------------------------------------------------------------ */
/* The op stream                                                            */
/* ------------------------------------------------------------------------ */

enum { OP_PUT, OP_DEL, OP_BATCH, OP_COMPACT };

typedef struct sub_op {
  int del;
  int key; /* index into the key pool */
  uint64_t vseed;
  uint32_t vlen;
} sub_op;

typedef struct op {
  int kind;
  int sync;
  int n; /* sub-ops (1 for put/delete, 2 pool indices bounding a compaction) */
  sub_op sub[MAX_BATCH];
} op;

static unsigned char *pool[POOL_KEYS];
static size_t pool_len[POOL_KEYS];
static uint64_t g_seed;

static void make_pool(uint64_t seed) {
  su_rng r;
  su_rng_seed(&r, su_derive(seed, 0x706f6f6cULL));
  for (int i = 0; i < POOL_KEYS; i++) {
    size_t len =
        su_rng_below(&r, 20) == 0 ? (size_t)su_rng_below(&r, 3) : (size_t)su_rng_range(&r, 3, 60);
    pool[i] = malloc(len ? len : 1);
    for (size_t j = 0; j < len; j++) {
      uint64_t c = su_rng_below(&r, 8);
      pool[i][j] = c == 0 ? 0x00 : c == 1 ? 0xff : (unsigned char)su_rng_next(&r);
    }
    pool_len[i] = len;
  }
}

static int pick_key(su_rng *r) {
  /* skewed: most writes hit a hot eighth of the pool */
  return su_rng_below(r, 4) != 0 ? (int)su_rng_below(r, POOL_KEYS / 8)
                                 : (int)su_rng_below(r, POOL_KEYS);
}

static uint32_t pick_vlen(su_rng *r) {
  uint64_t c = su_rng_below(r, 100);
  if (c < 2) return (uint32_t)su_rng_range(r, 16 << 10, MAX_VALUE);
  if (c < 40) return (uint32_t)su_rng_below(r, 64);
  return (uint32_t)su_rng_range(r, 64, 2048);
}

/* Op i of the stream; depends on (seed, i) only. */
static void gen_op(uint64_t i, op *o) {
  su_rng r;
  su_rng_seed(&r, su_derive(g_seed, i));
  uint64_t c = su_rng_below(&r, 1000);
  o->sync = su_rng_below(&r, 5) == 0;
  if (c < 5) {
    o->kind = OP_COMPACT;
    o->n = 2;
    o->sub[0].key = pick_key(&r);
    o->sub[1].key = pick_key(&r);
    return;
  }
  o->kind = c < 550 ? OP_PUT : c < 700 ? OP_DEL : OP_BATCH;
  o->n = o->kind == OP_BATCH ? (int)su_rng_range(&r, 1, MAX_BATCH) : 1;
  for (int j = 0; j < o->n; j++) {
    sub_op *s = &o->sub[j];
    s->key = pick_key(&r);
    s->del = o->kind == OP_DEL || (o->kind == OP_BATCH && su_rng_below(&r, 4) == 0);
    s->vlen = s->del ? 0 : pick_vlen(&r);
    s->vseed = su_rng_next(&r);
  }
}

static void describe_op(uint64_t i, char *out, size_t cap) {
  op o;
  gen_op(i, &o);
  static const char *const names[] = {"put", "delete", "batch", "compact_range"};
  snprintf(out, cap, "op %llu = %s%s of %d key(s)", (unsigned long long)i, names[o.kind],
           o.sync ? " (sync)" : "", o.n);
}

/* ------------------------------------------------------------------------ */
/* Oracle: sorted array of (key index in the pool, value) by key bytes       */
/* ------------------------------------------------------------------------ */

typedef struct oentry {
  int key;
  uint64_t vseed;
  uint32_t vlen;
} oentry;

typedef struct oracle {
  oentry *e;
  size_t n;
} oracle;

static int key_cmp(const void *a, size_t al, const void *b, size_t bl) {
  size_t n = al < bl ? al : bl;
  int c = n ? memcmp(a, b, n) : 0;
  if (c != 0) return c;
  return al < bl ? -1 : (al > bl ? 1 : 0);
}

static size_t o_lower(const oracle *o, const void *k, size_t kl) {
  size_t lo = 0, hi = o->n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    int kk = o->e[mid].key;
    if (key_cmp(pool[kk], pool_len[kk], k, kl) < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}

/* Applies one sub-op. Two pool entries can hold equal bytes (e.g. two empty
 * keys), so the oracle is keyed by bytes, not by pool index. */
static void o_apply_sub(oracle *o, const sub_op *s) {
  size_t i = o_lower(o, pool[s->key], pool_len[s->key]);
  int found = i < o->n && key_cmp(pool[o->e[i].key], pool_len[o->e[i].key], pool[s->key],
                                  pool_len[s->key]) == 0;
  if (s->del) {
    if (found) {
      memmove(o->e + i, o->e + i + 1, (o->n - i - 1) * sizeof *o->e);
      o->n--;
    }
    return;
  }
  if (!found) {
    memmove(o->e + i + 1, o->e + i, (o->n - i) * sizeof *o->e);
    o->n++;
  }
  o->e[i].key = s->key;
  o->e[i].vseed = s->vseed;
  o->e[i].vlen = s->vlen;
}

static void o_apply(oracle *o, uint64_t i) {
  op x;
  gen_op(i, &x);
  if (x.kind == OP_COMPACT) return;
  for (int j = 0; j < x.n; j++)
    o_apply_sub(o, &x.sub[j]);
}

/* ------------------------------------------------------------------------ */
/* The child                                                                */
/* ------------------------------------------------------------------------ */

static void set_options(strata_options *opt) {
  strata_options_init(opt);
  opt->write_buffer_size = 64 << 10;
  opt->max_file_size = 64 << 10;
}

static int apply_db(strata_db *db, uint64_t i, unsigned char *vbuf, strata_batch *b) {
  op x;
  gen_op(i, &x);
  strata_write_options wo;
  strata_write_options_init(&wo);
  wo.sync = x.sync;
  const sub_op *s = &x.sub[0];
  switch (x.kind) {
  case OP_PUT:
    su_fill_value(s->vseed, s->vlen, vbuf);
    return strata_put(db, &wo, pool[s->key], pool_len[s->key], vbuf, s->vlen);
  case OP_DEL: return strata_delete(db, &wo, pool[s->key], pool_len[s->key]);
  case OP_COMPACT: {
    int a = x.sub[0].key, z = x.sub[1].key;
    if (key_cmp(pool[a], pool_len[a], pool[z], pool_len[z]) > 0) {
      int t = a;
      a = z;
      z = t;
    }
    return strata_compact_range(db, pool[a], pool_len[a], pool[z], pool_len[z]);
  }
  default:
    strata_batch_clear(b);
    for (int j = 0; j < x.n; j++) {
      s = &x.sub[j];
      int rc;
      if (s->del) {
        rc = strata_batch_delete(b, pool[s->key], pool_len[s->key]);
      } else {
        su_fill_value(s->vseed, s->vlen, vbuf);
        rc = strata_batch_put(b, pool[s->key], pool_len[s->key], vbuf, s->vlen);
      }
      if (rc != STRATA_OK) return rc;
    }
    return strata_write(db, &wo, b);
  }
}

static void child_main(const char *dir, int wfd, uint64_t start, int reuse_logs) {
  strata_options opt;
  set_options(&opt);
  opt.reuse_logs = reuse_logs;
  strata_db *db;
  int rc = strata_open(dir, &opt, &db);
  if (rc != STRATA_OK) {
    fprintf(stderr, "crash_test child: strata_open: %d (%s): %s\n", rc, strata_strerror(rc),
            strata_errmsg());
    _exit(3);
  }
  unsigned char *vbuf = malloc(MAX_VALUE);
  strata_batch *b;
  if (strata_batch_create(&b) != STRATA_OK) _exit(3);
  for (uint64_t i = start;; i++) {
    rc = apply_db(db, i, vbuf, b);
    if (rc != STRATA_OK) {
      char d[128];
      describe_op(i, d, sizeof d);
      fprintf(stderr, "crash_test child: %s failed: %d (%s): %s\n", d, rc, strata_strerror(rc),
              strata_errmsg());
      _exit(3);
    }
    /* 8-byte writes to a pipe are atomic; the parent reads the last one. */
    if (write(wfd, &i, sizeof i) != (ssize_t)sizeof i) _exit(4);
  }
}

/* ------------------------------------------------------------------------ */
/* Verification                                                             */
/* ------------------------------------------------------------------------ */

/* Compares the whole database with the oracle; on the first difference
 * writes a description into why and returns -1. A forward scan covers
 * every key; gets of every oracle key cover the point-lookup path. */
static int compare_db(strata_db *db, const oracle *o, unsigned char *vbuf, char *why, size_t cap) {
  su_hexbuf hb, hb2;
  strata_iter *it;
  int rc = strata_iter_create(db, NULL, &it);
  if (rc != STRATA_OK) {
    snprintf(why, cap, "strata_iter_create: %d (%s): %s", rc, strata_strerror(rc), strata_errmsg());
    return -1;
  }
  size_t i = 0;
  int res = 0;
  for (strata_iter_seek_to_first(it); strata_iter_valid(it); strata_iter_next(it), i++) {
    size_t kl, vl;
    const char *k = strata_iter_key(it, &kl);
    const char *v = strata_iter_value(it, &vl);
    if (i >= o->n) {
      snprintf(why, cap, "database has extra key %s after the oracle's last", su_hex(&hb, k, kl));
      res = -1;
      break;
    }
    const oentry *e = &o->e[i];
    int c = key_cmp(k, kl, pool[e->key], pool_len[e->key]);
    if (c != 0) {
      snprintf(why, cap, "scan position %zu: database key %s, oracle key %s (%s)", i,
               su_hex(&hb, k, kl), su_hex(&hb2, pool[e->key], pool_len[e->key]),
               c < 0 ? "database has a key the oracle lacks" : "database lacks the oracle's key");
      res = -1;
      break;
    }
    su_fill_value(e->vseed, e->vlen, vbuf);
    if (vl != e->vlen || (vl > 0 && memcmp(v, vbuf, vl) != 0)) {
      snprintf(why, cap, "key %s: value of %zu bytes differs from the oracle's %u bytes",
               su_hex(&hb, k, kl), vl, e->vlen);
      res = -1;
      break;
    }
  }
  if (res == 0) {
    rc = strata_iter_status(it);
    if (rc != STRATA_OK) {
      snprintf(why, cap, "scan stopped with %d (%s): %s", rc, strata_strerror(rc), strata_errmsg());
      res = -1;
    } else if (i < o->n) {
      const oentry *e = &o->e[i];
      snprintf(why, cap, "database ends after %zu keys; oracle has %zu, next %s", i, o->n,
               su_hex(&hb, pool[e->key], pool_len[e->key]));
      res = -1;
    }
  }
  strata_iter_destroy(it);
  strata_buf val = STRATA_BUF_INIT;
  for (size_t j = 0; res == 0 && j < o->n; j++) {
    const oentry *e = &o->e[j];
    rc = strata_get(db, NULL, pool[e->key], pool_len[e->key], &val);
    su_fill_value(e->vseed, e->vlen, vbuf);
    if (rc != STRATA_OK || val.size != e->vlen || (e->vlen && memcmp(val.data, vbuf, e->vlen))) {
      snprintf(why, cap, "strata_get(%s) returned %d (%s), %zu bytes; oracle has %u bytes",
               su_hex(&hb, pool[e->key], pool_len[e->key]), rc, strata_strerror(rc),
               rc == STRATA_OK ? val.size : 0, e->vlen);
      res = -1;
    }
  }
  strata_buf_free(&val);
  return res;
}

/* ------------------------------------------------------------------------ */
/* Parent                                                                   */
/* ------------------------------------------------------------------------ */

static void failf(const char *dir, int cycle, const char *fmt, ...) {
  va_list ap;
  fflush(stdout);
  fprintf(stderr, "FAIL: seed=%llu cycle=%d: ", (unsigned long long)g_seed, cycle);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fprintf(stderr, "\n  reproduce: crash_test --seed %llu (timing-dependent)\n  db left in %s\n",
          (unsigned long long)g_seed, dir);
  printf("0 passed, 1 failed\n");
  exit(1);
}

int main(int argc, char **argv) {
  const char *seed_arg = NULL;
  int cycles = 0;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc)
      seed_arg = argv[++i];
    else if (strcmp(argv[i], "--cycles") == 0 && i + 1 < argc)
      cycles = atoi(argv[++i]);
    else if (argv[i][0] != '-')
      seed_arg = argv[i];
    else {
      fprintf(stderr, "usage: crash_test [--seed S] [--cycles N] [S]\n");
      return 2;
    }
  }
  g_seed = su_pick_seed(seed_arg);
  if (cycles <= 0) cycles = su_scale_is_asan() ? 50 : 100; /* never below 50 by default */
  printf("crash_test: seed=%llu cycles=%d (reproduce: crash_test --seed %llu)\n",
         (unsigned long long)g_seed, cycles, (unsigned long long)g_seed);
  fflush(stdout);
  make_pool(g_seed);
  signal(SIGPIPE, SIG_IGN);

  char *dir = su_make_temp_dir("strata-crash");
  strata_options opt;
  set_options(&opt);
  opt.create_if_missing = 1;
  strata_db *db;
  int rc = strata_open(dir, &opt, &db);
  if (rc != STRATA_OK)
    failf(dir, -1, "creating the database: %d (%s): %s", rc, strata_strerror(rc), strata_errmsg());
  strata_close(db);
  opt.create_if_missing = 0;

  oracle o = {calloc(POOL_KEYS, sizeof(oentry)), 0};
  unsigned char *vbuf = malloc(MAX_VALUE);
  su_rng r;
  su_rng_seed(&r, su_derive(g_seed, 0x6b696c6cULL));
  uint64_t next = 0; /* first op not yet applied to the oracle */
  int progressed = 0, inflight_landed = 0;
  double t0 = su_now();

  for (int cycle = 0; cycle < cycles; cycle++) {
    /* 1 in 5 kills lands in the first 15 ms (open and log recovery), the
     * rest anywhere within 400 ms of writing. */
    int delay_ms =
        su_rng_below(&r, 5) == 0 ? (int)su_rng_below(&r, 15) : (int)su_rng_range(&r, 15, 400);
    /* Half the opens append to the previous log (reuse_logs) instead of
     * flushing it, so recovery of a reused, crash-torn log is covered; half
     * the parent's opens are paranoid, since a torn log tail left by a
     * killed process is not corruption (LevelDB treats it as end of file). */
    int child_reuse = (int)su_rng_below(&r, 2);
    opt.reuse_logs = (int)su_rng_below(&r, 2);
    opt.paranoid_checks = (int)su_rng_below(&r, 2);
    int fds[2];
    if (pipe(fds) != 0) failf(dir, cycle, "pipe: %s", strerror(errno));
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) failf(dir, cycle, "fork: %s", strerror(errno));
    if (pid == 0) {
      close(fds[0]);
      child_main(dir, fds[1], next, child_reuse);
      _exit(5);
    }
    close(fds[1]);
    uint64_t last = 0;
    int acked = 0;
    double deadline = su_now() + delay_ms / 1000.0;
    int eof = 0;
    /* Drain the pipe while waiting so the child never blocks on it. */
    for (;;) {
      double left = deadline - su_now();
      if (left <= 0) break;
      struct pollfd p = {fds[0], POLLIN, 0};
      if (poll(&p, 1, (int)(left * 1000) + 1) > 0) {
        uint64_t buf[512];
        ssize_t n = read(fds[0], buf, sizeof buf);
        if (n <= 0) {
          eof = 1;
          break;
        }
        if (n >= 8) {
          last = buf[n / 8 - 1];
          acked = 1;
        }
        if (n % 8 != 0) failf(dir, cycle, "torn read from the child's pipe");
      }
    }
    kill(pid, SIGKILL);
    for (;;) { /* whatever the child wrote before dying is still in the pipe */
      uint64_t buf[512];
      ssize_t n = read(fds[0], buf, sizeof buf);
      if (n <= 0) break;
      last = buf[n / 8 - 1];
      acked = 1;
    }
    close(fds[0]);
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (eof || !WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL)
      failf(dir, cycle, "the child stopped by itself (%s %d) before being killed; see its message",
            WIFEXITED(status) ? "exit status" : "signal",
            WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
    if (acked && last < next)
      failf(dir, cycle, "child acknowledged op %llu < start %llu", (unsigned long long)last,
            (unsigned long long)next);
    /* Every acknowledged op must be in the database. */
    uint64_t k_end = acked ? last + 1 : next; /* ops [0, k_end) acknowledged */
    for (uint64_t i = next; i < k_end; i++)
      o_apply(&o, i);
    if (acked) progressed++;

    rc = strata_open(dir, &opt, &db);
    if (rc != STRATA_OK)
      failf(dir, cycle,
            "reopening after the kill (last acknowledged op %lld, reuse_logs %d/%d, paranoid %d): "
            "%d (%s): %s",
            acked ? (long long)last : -1LL, child_reuse, opt.reuse_logs, opt.paranoid_checks, rc,
            strata_strerror(rc), strata_errmsg());
    char why_a[512], why_b[512];
    if (compare_db(db, &o, vbuf, why_a, sizeof why_a) == 0) {
      next = k_end;
    } else {
      /* Not the acknowledged state: only "op k_end landed as a whole" is
       * still acceptable. */
      o_apply(&o, k_end);
      if (compare_db(db, &o, vbuf, why_b, sizeof why_b) != 0) {
        char d[128];
        describe_op(k_end, d, sizeof d);
        failf(dir, cycle,
              "after the kill the database matches neither ops 0..%lld (%s) nor 0..%llu (%s); "
              "in-flight %s; reuse_logs %d/%d, paranoid %d",
              (long long)k_end - 1, why_a, (unsigned long long)k_end, why_b, d, child_reuse,
              opt.reuse_logs, opt.paranoid_checks);
      }
      inflight_landed++;
      next = k_end + 1;
    }
    strata_close(db);
  }
  double dt = su_now() - t0;
  printf("crash_test: %d cycles in %.1fs, %llu ops applied, %d cycles with acknowledged ops, "
         "%d in-flight ops found applied, %zu keys at the end\n",
         cycles, dt, (unsigned long long)next, progressed, inflight_landed, o.n);
  /* A run where the child almost never got to write tests nothing. */
  if (progressed < cycles / 4)
    failf(dir, cycles, "only %d of %d cycles acknowledged any write", progressed, cycles);
  printf("1 passed, 0 failed\n");
  su_remove_tree(dir);
  free(dir);
  free(vbuf);
  free(o.e);
  for (int i = 0; i < POOL_KEYS; i++)
    free(pool[i]);
  return 0;
}
