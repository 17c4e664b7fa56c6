/*
 * workloads.c - db_bench's workloads, flag parsing and the worker's main.
 *
 * Facts kept from LevelDB 1.23's db_bench so the numbers are comparable with
 * it: keys are "%016d" of the key number; random keys are Uniform(num) of
 * the Park-Miller "minimal standard" generator (16807 mod 2^31-1); every
 * thread of every workload gets its own generator seeded 1000 + the number
 * of threads started so far in the process, so each engine sees the same key
 * sequence; writes go through a one-entry write batch; values come from a
 * buffer of data that compresses to about half its size, built once from a
 * generator seeded 301; per-op latency is the threads' summed busy time over
 * the operations done, while throughput (ops/s, MB/s) uses wall time.
 */
#include "workloads.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define KEY_LEN 16
#define FILL100K_VALUE 100000
#define NUM_LEVELS 7

/* ------------------------------------------------------------------------ */
/* Random numbers, keys and values                                          */
/* ------------------------------------------------------------------------ */

/* Park-Miller: seed' = seed * 16807 mod (2^31 - 1), computed without a
 * division by folding the high bits back in (2^31 = 1 mod the modulus). */
typedef struct bench_rng {
  uint32_t seed;
} bench_rng;

static void rng_init(bench_rng *r, uint32_t seed) {
  r->seed = seed & 0x7fffffffu;
  /* 0 and the modulus itself are fixed points of the recurrence. */
  if (r->seed == 0 || r->seed == 2147483647u) r->seed = 1;
}

static uint32_t rng_next(bench_rng *r) {
  const uint64_t modulus = 2147483647u;
  uint64_t product = (uint64_t)r->seed * 16807u;
  uint32_t s = (uint32_t)((product >> 31) + (product & modulus));
  if (s > modulus) s -= (uint32_t)modulus;
  r->seed = s;
  return s;
}

static uint32_t rng_uniform(bench_rng *r, uint32_t n) { return rng_next(r) % n; }

/* Writes the 16 decimal digits of k, zero-padded, as "%016d" would; by hand
 * because snprintf would dominate the cost of the fastest workloads. */
static void format_key(char *out, long k) {
  for (int i = KEY_LEN - 1; i >= 0; i--) {
    out[i] = (char)('0' + k % 10);
    k /= 10;
  }
}

/* The shared value source: pieces of 100 bytes whose first half is random
 * printable text and whose second half repeats the first, so a compressor
 * halves it, as db_bench's values with --compression_ratio=0.5. */
typedef struct value_source {
  char *data;
  size_t len;
} value_source;

static int value_source_init(value_source *vs, size_t min_len) {
  const size_t piece = 100, random_part = 50;
  size_t len = 1 << 20; /* db_bench's 1 MiB */
  if (len < 2 * min_len) len = 2 * min_len;
  len = (len + piece - 1) / piece * piece;
  vs->data = malloc(len);
  if (vs->data == NULL) return -1;
  vs->len = len;
  bench_rng r;
  rng_init(&r, 301);
  for (size_t at = 0; at < len; at += piece) {
    for (size_t j = 0; j < random_part; j++)
      vs->data[at + j] = (char)(' ' + rng_uniform(&r, 95));
    for (size_t j = random_part; j < piece; j++)
      vs->data[at + j] = vs->data[at + j - random_part];
  }
  return 0;
}

/* A thread's cursor into the shared source: consecutive values differ. */
typedef struct value_cursor {
  const value_source *vs;
  size_t pos;
} value_cursor;

static const char *next_value(value_cursor *c, size_t n) {
  if (c->pos + n > c->vs->len) c->pos = 0;
  const char *v = c->vs->data + c->pos;
  c->pos += n;
  return v;
}

/* ------------------------------------------------------------------------ */
/* Flags                                                                    */
/* ------------------------------------------------------------------------ */

void bench_config_init(bench_config *cfg) {
  memset(cfg, 0, sizeof *cfg);
  cfg->num = 1000000;
  cfg->value_size = 100;
  cfg->threads = 4;
  cfg->bloom_bits = -1;
  cfg->compression = 1;
  cfg->cache_size = (size_t)8 << 20;
  cfg->write_buffer_size = (size_t)4 << 20;
  if (bench_config_set_workloads(cfg, BENCH_DEFAULT_WORKLOADS) != 0) abort();
}

void bench_config_free(bench_config *cfg) {
  free(cfg->workloads_storage);
  cfg->workloads_storage = NULL;
  cfg->nworkloads = 0;
}

typedef struct workload workload;
static const workload *lookup(const char *name); /* the table is below the workloads */

int bench_config_set_workloads(bench_config *cfg, const char *list) {
  char *copy = strdup(list);
  if (copy == NULL) return -1;
  int n = 0;
  for (char *save = NULL, *tok = strtok_r(copy, ",", &save); tok != NULL;
       tok = strtok_r(NULL, ",", &save)) {
    if (lookup(tok) == NULL) {
      fprintf(stderr, "strata-bench: unknown benchmark '%s' (see --help)\n", tok);
      free(copy);
      return -1;
    }
    if (n == BENCH_MAX_WORKLOADS) {
      fprintf(stderr, "strata-bench: more than %d benchmarks\n", BENCH_MAX_WORKLOADS);
      free(copy);
      return -1;
    }
    cfg->workloads[n++] = tok;
  }
  if (n == 0) {
    fprintf(stderr, "strata-bench: empty --benchmarks list\n");
    free(copy);
    return -1;
  }
  free(cfg->workloads_storage);
  cfg->workloads_storage = copy;
  cfg->nworkloads = n;
  return 0;
}

static int parse_long(const char *flag, const char *s, long min, long *out) {
  char *end;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (errno != 0 || end == s || *end != '\0' || v < min) {
    fprintf(stderr, "strata-bench: bad value '%s' for --%s (an integer >= %ld)\n", s, flag, min);
    return -1;
  }
  *out = v;
  return 0;
}

int bench_config_parse(bench_config *cfg, int argc, char **argv, int *i) {
  static const char *const names[] = {"num",        "value_size",        "threads",
                                      "bloom_bits", "compression",       "cache_size",
                                      "benchmarks", "write_buffer_size", "db"};
  const char *arg = argv[*i];
  if (strncmp(arg, "--", 2) != 0) return 0;
  arg += 2;
  const char *name = NULL;
  size_t nlen = 0;
  for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
    size_t l = strlen(names[k]);
    if (strncmp(arg, names[k], l) == 0 && (arg[l] == '=' || arg[l] == '\0')) {
      name = names[k];
      nlen = l;
      break;
    }
  }
  if (name == NULL) return 0;
  const char *val;
  if (arg[nlen] == '=') {
    val = arg + nlen + 1;
  } else if (*i + 1 < argc) {
    val = argv[++*i];
  } else {
    fprintf(stderr, "strata-bench: --%s needs a value\n", name);
    return -1;
  }
  long v;
  if (strcmp(name, "num") == 0) {
    if (parse_long(name, val, 1, &v) != 0) return -1;
    if (v > INT_MAX) {
      fprintf(stderr, "strata-bench: --num above %d\n", INT_MAX);
      return -1;
    }
    cfg->num = v;
  } else if (strcmp(name, "value_size") == 0) {
    if (parse_long(name, val, 1, &v) != 0 || v > (64L << 20)) {
      fprintf(stderr, "strata-bench: --value_size must be 1..%ld\n", 64L << 20);
      return -1;
    }
    cfg->value_size = (int)v;
  } else if (strcmp(name, "threads") == 0) {
    if (parse_long(name, val, 1, &v) != 0 || v > 1024) {
      fprintf(stderr, "strata-bench: --threads must be 1..1024\n");
      return -1;
    }
    cfg->threads = (int)v;
  } else if (strcmp(name, "bloom_bits") == 0) {
    if (parse_long(name, val, -1, &v) != 0 || v > 1000) return -1;
    cfg->bloom_bits = (int)v;
  } else if (strcmp(name, "compression") == 0) {
    if (strcmp(val, "none") == 0) {
      cfg->compression = 0;
    } else if (strcmp(val, "snappy") == 0) {
      cfg->compression = 1;
    } else {
      fprintf(stderr, "strata-bench: --compression must be none or snappy\n");
      return -1;
    }
  } else if (strcmp(name, "cache_size") == 0) {
    if (parse_long(name, val, 1, &v) != 0) return -1;
    cfg->cache_size = (size_t)v;
  } else if (strcmp(name, "write_buffer_size") == 0) {
    if (parse_long(name, val, 64 << 10, &v) != 0) return -1;
    cfg->write_buffer_size = (size_t)v;
  } else if (strcmp(name, "benchmarks") == 0) {
    if (bench_config_set_workloads(cfg, val) != 0) return -1;
  } else {
    cfg->db = val;
  }
  return 1;
}

int bench_config_to_args(const bench_config *cfg, char **argv, int argc, char *buf, size_t cap) {
  char list[BENCH_MAX_WORKLOADS * 24] = "";
  size_t at = 0;
  for (int i = 0; i < cfg->nworkloads; i++) {
    int n = snprintf(list + at, sizeof list - at, "%s%s", i ? "," : "", cfg->workloads[i]);
    if (n < 0 || (size_t)n >= sizeof list - at) return -1;
    at += (size_t)n;
  }
  int n = snprintf(buf, cap,
                   "--num=%ld%c--value_size=%d%c--threads=%d%c--bloom_bits=%d%c--compression=%s%c"
                   "--cache_size=%zu%c--write_buffer_size=%zu%c--benchmarks=%s",
                   cfg->num, 0, cfg->value_size, 0, cfg->threads, 0, cfg->bloom_bits, 0,
                   cfg->compression ? "snappy" : "none", 0, cfg->cache_size, 0,
                   cfg->write_buffer_size, 0, list);
  if (n < 0 || (size_t)n >= cap) return -1;
  /* The arguments were written back to back, each ending in a NUL. */
  for (char *p = buf; p < buf + n + 1; p += strlen(p) + 1)
    argv[argc++] = p;
  return argc;
}

void bench_workload_label(const bench_config *cfg, int i, char *out, size_t cap) {
  int nth = 1;
  for (int j = 0; j < i; j++)
    if (strcmp(cfg->workloads[j], cfg->workloads[i]) == 0) nth++;
  if (nth == 1)
    snprintf(out, cap, "%s", cfg->workloads[i]);
  else
    snprintf(out, cap, "%s.%d", cfg->workloads[i], nth);
}

/* ------------------------------------------------------------------------ */
/* Running threads                                                          */
/* ------------------------------------------------------------------------ */

/* What one workload run shares between its threads. */
typedef struct run_ctx {
  const bench_engine *eng;
  const bench_config *cfg;
  void *db;
  const value_source *values;
  long ops;       /* operations per measured thread */
  int value_size; /* of writes */
  int sync;       /* of writes */
  /* Start gate: threads wait until all exist, so none runs alone. */
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int ready, total, go;
  /* Measured threads finished; readwhilewriting's writer stops at all. */
  atomic_int measured_done;
  int measured_total;
} run_ctx;

typedef struct thread_state {
  run_ctx *ctx;
  pthread_t th;
  int measured; /* counted in the results (readwhilewriting's writer is not) */
  bench_rng rng;
  void (*fn)(struct thread_state *t);
  uint64_t done, bytes, found;
  double start, finish, cpu; /* cpu: seconds this thread ran on a CPU */
} thread_state;

/* Seeds continue across workloads as db_bench's thread counter does. */
static uint32_t threads_started;

static double clock_seconds(clockid_t id) {
  struct timespec ts;
  clock_gettime(id, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double now_seconds(void) { return clock_seconds(CLOCK_MONOTONIC); }

/* An engine call failed: it printed why. Results already printed stay
 * valid; the driver sees the exit status. */
static void die(void) {
  fflush(NULL);
  _exit(1);
}

static void *thread_main(void *arg) {
  thread_state *t = arg;
  run_ctx *c = t->ctx;
  pthread_mutex_lock(&c->mu);
  c->ready++;
  pthread_cond_broadcast(&c->cv);
  while (!c->go)
    pthread_cond_wait(&c->cv, &c->mu);
  pthread_mutex_unlock(&c->mu);
  /* Thread CPU time as well as wall time: on a shared machine the CPU time
   * per op is far steadier, though it leaves out waits (write stalls, lock
   * hand-offs) and background compaction. */
  double cpu0 = clock_seconds(CLOCK_THREAD_CPUTIME_ID);
  t->start = now_seconds();
  t->fn(t);
  t->finish = now_seconds();
  t->cpu = clock_seconds(CLOCK_THREAD_CPUTIME_ID) - cpu0;
  if (t->measured) atomic_fetch_add(&c->measured_done, 1);
  return NULL;
}

typedef struct run_result {
  uint64_t ops, bytes, found;
  double wall, busy; /* seconds: first start to last finish; summed per thread */
  double cpu;        /* seconds on a CPU, summed per thread */
  int threads;
} run_result;

/* Runs fn in `measured` threads, plus writer_fn in one unmeasured thread
 * when not NULL (started first, so it is tid 0 as db_bench's writer). */
static run_result run_threads(run_ctx *c, int measured, void (*fn)(thread_state *),
                              void (*writer_fn)(thread_state *)) {
  int n = measured + (writer_fn != NULL);
  thread_state *ts = calloc((size_t)n, sizeof *ts);
  if (ts == NULL) {
    fprintf(stderr, "strata-bench: out of memory\n");
    die();
  }
  pthread_mutex_init(&c->mu, NULL);
  pthread_cond_init(&c->cv, NULL);
  c->ready = 0;
  c->go = 0;
  c->total = n;
  atomic_store(&c->measured_done, 0);
  c->measured_total = measured;
  for (int i = 0; i < n; i++) {
    thread_state *t = &ts[i];
    t->ctx = c;
    t->measured = !(writer_fn != NULL && i == 0);
    t->fn = t->measured ? fn : writer_fn;
    rng_init(&t->rng, 1000 + ++threads_started);
    if (pthread_create(&t->th, NULL, thread_main, t) != 0) {
      fprintf(stderr, "strata-bench: cannot create a thread\n");
      die();
    }
  }
  pthread_mutex_lock(&c->mu);
  while (c->ready < c->total)
    pthread_cond_wait(&c->cv, &c->mu);
  c->go = 1;
  pthread_cond_broadcast(&c->cv);
  pthread_mutex_unlock(&c->mu);
  for (int i = 0; i < n; i++)
    pthread_join(ts[i].th, NULL);
  pthread_cond_destroy(&c->cv);
  pthread_mutex_destroy(&c->mu);

  run_result r = {0};
  double first = 0, last = 0;
  for (int i = 0; i < n; i++) {
    thread_state *t = &ts[i];
    if (!t->measured) continue;
    if (r.threads == 0 || t->start < first) first = t->start;
    if (r.threads == 0 || t->finish > last) last = t->finish;
    r.threads++;
    r.ops += t->done;
    r.bytes += t->bytes;
    r.found += t->found;
    r.busy += t->finish - t->start;
    r.cpu += t->cpu;
  }
  r.wall = last - first;
  free(ts);
  return r;
}

/* ------------------------------------------------------------------------ */
/* Workloads                                                                */
/* ------------------------------------------------------------------------ */

/* db_bench's DoWrite: one put per batch, keys 0.. in order or Uniform(num). */
static void do_write(thread_state *t, int random) {
  run_ctx *c = t->ctx;
  const bench_engine *e = c->eng;
  value_cursor vc = {c->values, 0};
  void *batch = e->batch_create();
  if (batch == NULL) die();
  char key[KEY_LEN];
  for (long i = 0; i < c->ops; i++) {
    long k = random ? (long)rng_uniform(&t->rng, (uint32_t)c->cfg->num) : i;
    format_key(key, k);
    e->batch_clear(batch);
    if (e->batch_put(batch, key, KEY_LEN, next_value(&vc, (size_t)c->value_size),
                     (size_t)c->value_size) < 0 ||
        e->write(c->db, batch, c->sync) < 0)
      die();
    t->bytes += KEY_LEN + (uint64_t)c->value_size;
    t->done++;
  }
  e->batch_destroy(batch);
}

static void write_seq_fn(thread_state *t) { do_write(t, 0); }

/* fillseq's entries (keys 0.. in order, the same values) through the
 * engine's sorted bulk load instead of writes: the time includes finishing
 * the load (tables synced and added to the database). */
static void bulk_load_fn(thread_state *t) {
  run_ctx *c = t->ctx;
  const bench_engine *e = c->eng;
  value_cursor vc = {c->values, 0};
  void *loader = e->loader_create(c->db);
  if (loader == NULL) die();
  char key[KEY_LEN];
  for (long i = 0; i < c->ops; i++) {
    format_key(key, i);
    if (e->loader_add(loader, key, KEY_LEN, next_value(&vc, (size_t)c->value_size),
                      (size_t)c->value_size) < 0)
      die();
    t->bytes += KEY_LEN + (uint64_t)c->value_size;
    t->done++;
  }
  if (e->loader_finish(loader) < 0) die();
}
static void write_random_fn(thread_state *t) { do_write(t, 1); }

static void read_random_fn(thread_state *t) {
  run_ctx *c = t->ctx;
  const bench_engine *e = c->eng;
  void *reader = e->reader_create(c->db);
  if (reader == NULL) die();
  char key[KEY_LEN];
  for (long i = 0; i < c->ops; i++) {
    format_key(key, (long)rng_uniform(&t->rng, (uint32_t)c->cfg->num));
    size_t vlen = 0;
    int rc = e->get(c->db, reader, key, KEY_LEN, &vlen);
    if (rc < 0) die();
    if (rc == 1) {
      t->found++;
      t->bytes += KEY_LEN + vlen;
    }
    t->done++;
  }
  e->reader_destroy(reader);
}

/* db_bench 1.23 looks up the key without its last digit: never present,
 * and it sorts just before real keys, so it walks the same tables. */
static void read_missing_fn(thread_state *t) {
  run_ctx *c = t->ctx;
  const bench_engine *e = c->eng;
  void *reader = e->reader_create(c->db);
  if (reader == NULL) die();
  char key[KEY_LEN];
  for (long i = 0; i < c->ops; i++) {
    format_key(key, (long)rng_uniform(&t->rng, (uint32_t)c->cfg->num));
    size_t vlen = 0;
    int rc = e->get(c->db, reader, key, KEY_LEN - 1, &vlen);
    if (rc < 0) die();
    if (rc == 1) t->found++;
    t->done++;
  }
  e->reader_destroy(reader);
}

/* db_bench's SeekRandom: a new iterator per seek, so iterator creation is
 * part of what is measured. */
static void seek_random_fn(thread_state *t) {
  run_ctx *c = t->ctx;
  const bench_engine *e = c->eng;
  char key[KEY_LEN];
  for (long i = 0; i < c->ops; i++) {
    void *it = e->iter_create(c->db);
    if (it == NULL) die();
    format_key(key, (long)rng_uniform(&t->rng, (uint32_t)c->cfg->num));
    e->iter_seek(it, key, KEY_LEN);
    if (e->iter_valid(it)) {
      size_t klen;
      const char *k = e->iter_key(it, &klen);
      if (klen == KEY_LEN && memcmp(k, key, KEY_LEN) == 0) t->found++;
    } else if (e->iter_status(it) < 0) {
      die();
    }
    e->iter_destroy(it);
    t->done++;
  }
}

static void scan(thread_state *t, int reverse) {
  run_ctx *c = t->ctx;
  const bench_engine *e = c->eng;
  void *it = e->iter_create(c->db);
  if (it == NULL) die();
  if (reverse)
    e->iter_seek_to_last(it);
  else
    e->iter_seek_to_first(it);
  long i = 0;
  while (i < c->ops && e->iter_valid(it)) {
    size_t klen, vlen;
    e->iter_key(it, &klen);
    e->iter_value(it, &vlen);
    t->bytes += klen + vlen;
    i++;
    if (reverse)
      e->iter_prev(it);
    else
      e->iter_next(it);
  }
  if (e->iter_status(it) < 0) die();
  e->iter_destroy(it);
  t->done = (uint64_t)i;
  t->found = (uint64_t)i;
}

static void read_seq_fn(thread_state *t) { scan(t, 0); }
static void read_reverse_fn(thread_state *t) { scan(t, 1); }

static void delete_random_fn(thread_state *t) {
  run_ctx *c = t->ctx;
  const bench_engine *e = c->eng;
  void *batch = e->batch_create();
  if (batch == NULL) die();
  char key[KEY_LEN];
  for (long i = 0; i < c->ops; i++) {
    format_key(key, (long)rng_uniform(&t->rng, (uint32_t)c->cfg->num));
    e->batch_clear(batch);
    if (e->batch_delete(batch, key, KEY_LEN) < 0 || e->write(c->db, batch, c->sync) < 0) die();
    t->bytes += KEY_LEN;
    t->done++;
  }
  e->batch_destroy(batch);
}

static void compact_fn(thread_state *t) {
  if (t->ctx->eng->compact(t->ctx->db) < 0) die();
  t->done = 1;
}

/* readwhilewriting's writer: db_bench's plain Puts of random keys as fast as
 * it can until every reader is done; its work is not reported. */
static void background_writer_fn(thread_state *t) {
  run_ctx *c = t->ctx;
  const bench_engine *e = c->eng;
  value_cursor vc = {c->values, 0};
  char key[KEY_LEN];
  while (atomic_load(&c->measured_done) < c->measured_total) {
    format_key(key, (long)rng_uniform(&t->rng, (uint32_t)c->cfg->num));
    if (e->put(c->db, key, KEY_LEN, next_value(&vc, (size_t)c->value_size), (size_t)c->value_size,
               0) < 0)
      die();
    t->done++;
  }
}

/* The transaction workloads need the engine's optional hooks. */
static void need_txn(const run_ctx *c, const void *hook, const char *workload) {
  if (hook) return;
  fprintf(stderr, "%s: workload %s needs transactions, which this engine lacks\n", c->eng->name,
          workload);
  die();
}

/* Each write in a transaction of its own: fillrandom's keys and values. */
static void txn_write_fn(thread_state *t) {
  run_ctx *c = t->ctx;
  const bench_engine *e = c->eng;
  value_cursor vc = {c->values, 0};
  char key[KEY_LEN];
  for (long i = 0; i < c->ops; i++) {
    format_key(key, (long)rng_uniform(&t->rng, (uint32_t)c->cfg->num));
    if (e->txn_put(c->db, key, KEY_LEN, next_value(&vc, (size_t)c->value_size),
                   (size_t)c->value_size) < 0)
      die();
    t->bytes += KEY_LEN + (uint64_t)c->value_size;
    t->done++;
  }
}

static void snapshot_fn(thread_state *t) {
  for (long i = 0; i < t->ctx->ops; i++) {
    if (t->ctx->eng->snapshot_cycle(t->ctx->db) < 0) die();
    t->done++;
  }
}

static void read_txn_fn(thread_state *t) {
  for (long i = 0; i < t->ctx->ops; i++) {
    if (t->ctx->eng->read_txn_cycle(t->ctx->db) < 0) die();
    t->done++;
  }
}

/* readrandom through one read transaction per thread. */
static void read_random_txn_fn(thread_state *t) {
  run_ctx *c = t->ctx;
  const bench_engine *e = c->eng;
  void *reader = e->txn_reader_create(c->db);
  if (reader == NULL) die();
  char key[KEY_LEN];
  for (long i = 0; i < c->ops; i++) {
    format_key(key, (long)rng_uniform(&t->rng, (uint32_t)c->cfg->num));
    size_t vlen = 0;
    int rc = e->txn_get(c->db, reader, key, KEY_LEN, &vlen);
    if (rc < 0) die();
    if (rc == 1) {
      t->found++;
      t->bytes += KEY_LEN + vlen;
    }
    t->done++;
  }
  e->txn_reader_destroy(reader);
}

static run_result run_single(run_ctx *c, void (*fn)(thread_state *)) {
  return run_threads(c, 1, fn, NULL);
}

static long at_least_one(long n) { return n > 0 ? n : 1; }

static run_result wl_fillseq(run_ctx *c) { return run_single(c, write_seq_fn); }
static run_result wl_bulkload(run_ctx *c) { return run_single(c, bulk_load_fn); }
static run_result wl_fillrandom(run_ctx *c) { return run_single(c, write_random_fn); }
static run_result wl_fillsync(run_ctx *c) {
  c->ops = at_least_one(c->cfg->num / 1000);
  c->sync = 1;
  return run_single(c, write_random_fn);
}
static run_result wl_fill100k(run_ctx *c) {
  c->ops = at_least_one(c->cfg->num / 1000);
  c->value_size = FILL100K_VALUE;
  return run_single(c, write_random_fn);
}
static run_result wl_readrandom(run_ctx *c) { return run_single(c, read_random_fn); }
static run_result wl_readrandom_mt(run_ctx *c) {
  return run_threads(c, c->cfg->threads, read_random_fn, NULL);
}
static run_result wl_readmissing(run_ctx *c) { return run_single(c, read_missing_fn); }
static run_result wl_seekrandom(run_ctx *c) { return run_single(c, seek_random_fn); }
static run_result wl_readseq(run_ctx *c) { return run_single(c, read_seq_fn); }
static run_result wl_readreverse(run_ctx *c) { return run_single(c, read_reverse_fn); }
static run_result wl_deleterandom(run_ctx *c) { return run_single(c, delete_random_fn); }
static run_result wl_compact(run_ctx *c) { return run_single(c, compact_fn); }
static run_result wl_readwhilewriting(run_ctx *c) {
  return run_threads(c, 1, read_random_fn, background_writer_fn);
}

static run_result wl_filltxn(run_ctx *c) {
  need_txn(c, (const void *)c->eng->txn_put, "filltxn");
  return run_single(c, txn_write_fn);
}
static run_result wl_snapshot(run_ctx *c) {
  need_txn(c, (const void *)c->eng->snapshot_cycle, "snapshot");
  return run_single(c, snapshot_fn);
}
static run_result wl_readtxn(run_ctx *c) {
  need_txn(c, (const void *)c->eng->read_txn_cycle, "readtxn");
  return run_single(c, read_txn_fn);
}
static run_result wl_readrandom_txn(run_ctx *c) {
  need_txn(c, (const void *)c->eng->txn_get, "readrandom_txn");
  return run_single(c, read_random_txn_fn);
}
static run_result wl_readrandom_txn_mt(run_ctx *c) {
  need_txn(c, (const void *)c->eng->txn_get, "readrandom_txn_mt");
  return run_threads(c, c->cfg->threads, read_random_txn_fn, NULL);
}

struct workload {
  const char *name;
  int fresh_db; /* db_bench runs these on a new, empty database */
  run_result (*run)(run_ctx *c);
  const char *help;
};

static const workload workloads[] = {
    {"fillseq", 1, wl_fillseq, "num writes, keys in order, new database"},
    {"bulkload", 1, wl_bulkload,
     "fillseq's entries through a sorted bulk load, new database (strata only)"},
    {"fillsync", 1, wl_fillsync, "num/1000 synced writes, random keys, new database"},
    {"fillrandom", 1, wl_fillrandom, "num writes, random keys, new database"},
    {"overwrite", 0, wl_fillrandom, "num writes, random keys, existing database"},
    {"readrandom", 0, wl_readrandom, "num gets of random keys"},
    {"readseq", 0, wl_readseq, "scan forward over up to num entries"},
    {"readreverse", 0, wl_readreverse, "scan backward over up to num entries"},
    {"compact", 0, wl_compact, "compact the whole key range"},
    {"readmissing", 0, wl_readmissing, "num gets of absent keys"},
    {"seekrandom", 0, wl_seekrandom, "num seeks, each on a new iterator"},
    {"deleterandom", 0, wl_deleterandom, "num deletes of random keys"},
    {"fill100K", 1, wl_fill100k, "num/1000 writes of 100 KB values, new database"},
    {"readwhilewriting", 0, wl_readwhilewriting, "num gets by 1 reader while 1 writer writes"},
    {"readrandom_mt", 0, wl_readrandom_mt, "num gets of random keys in each of --threads threads"},
    {"filltxn", 1, wl_filltxn,
     "num writes, random keys, each in a write transaction of its own (strata only)"},
    {"snapshot", 0, wl_snapshot, "num snapshots taken and released (strata only)"},
    {"readtxn", 0, wl_readtxn, "num read transactions begun and ended (strata only)"},
    {"readrandom_txn", 0, wl_readrandom_txn,
     "readrandom through one read transaction (strata only)"},
    {"readrandom_txn_mt", 0, wl_readrandom_txn_mt,
     "readrandom_mt, each thread through one read transaction (strata only)"},
};

static const workload *lookup(const char *name) {
  for (size_t i = 0; i < sizeof workloads / sizeof workloads[0]; i++)
    if (strcmp(workloads[i].name, name) == 0) return &workloads[i];
  return NULL;
}

void bench_print_flag_help(void) {
  printf("Workload flags (db_bench's names and defaults, shared by every engine):\n"
         "  --num N                entries (1000000)\n"
         "  --value_size N         bytes per value (100)\n"
         "  --threads N            reader threads of readrandom_mt (4)\n"
         "  --bloom_bits N         bloom filter bits per key; -1: none (-1)\n"
         "  --compression C        none or snappy (snappy)\n"
         "  --cache_size N         block cache bytes (8388608)\n"
         "  --write_buffer_size N  memtable bytes (4194304)\n"
         "  --benchmarks LIST      comma list, run in order (default:\n"
         "                         " BENCH_DEFAULT_WORKLOADS ")\n"
         "  --db DIR               base directory of the databases (a temp dir)\n"
         "Benchmarks:\n");
  for (size_t i = 0; i < sizeof workloads / sizeof workloads[0]; i++)
    printf("  %-17s %s\n", workloads[i].name, workloads[i].help);
}

/* ------------------------------------------------------------------------ */
/* The worker                                                               */
/* ------------------------------------------------------------------------ */

static void level_files(const bench_engine *e, void *db, char *out, size_t cap) {
  size_t at = 0;
  out[0] = '\0';
  for (int l = 0; l < NUM_LEVELS; l++) {
    char name[64];
    snprintf(name, sizeof name, "%snum-files-at-level%d", e->property_prefix, l);
    char *v = e->property(db, name);
    int n = snprintf(out + at, cap - at, "%s%s", l ? "/" : "", v != NULL ? v : "?");
    free(v);
    if (n < 0 || (size_t)n >= cap - at) return;
    at += (size_t)n;
  }
}

static int reopen_fresh(const bench_engine *e, const bench_config *cfg, const char *path,
                        void **db) {
  if (*db != NULL) e->close(*db);
  *db = NULL;
  if (e->destroy(cfg, path) < 0) return -1;
  *db = e->open(cfg, path);
  return *db != NULL ? 0 : -1;
}

int bench_worker_main(int argc, char **argv, const bench_engine *e) {
  bench_config cfg;
  bench_config_init(&cfg);
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
      printf("usage: %s [flags]\nRuns the benchmarks against %s and prints one JSON line "
             "each (normally started by strata-bench).\n",
             argv[0], e->name);
      bench_print_flag_help();
      bench_config_free(&cfg);
      return 0;
    }
    int rc = bench_config_parse(&cfg, argc, argv, &i);
    if (rc == 0) fprintf(stderr, "%s: unknown flag '%s' (see --help)\n", argv[0], argv[i]);
    if (rc <= 0) {
      bench_config_free(&cfg);
      return 2;
    }
  }

  /* Each engine gets its own directory under the base so two workers (or a
   * leftover of a killed one) never share files. */
  char base[4096], path[4096 + 64];
  if (cfg.db != NULL && strlen(cfg.db) >= sizeof base) {
    fprintf(stderr, "%s: --db path too long\n", e->name);
    bench_config_free(&cfg);
    return 2;
  }
  if (cfg.db != NULL)
    snprintf(base, sizeof base, "%s", cfg.db);
  else
    snprintf(base, sizeof base, "/tmp/strata-bench-%ld", (long)getpid());
  if (mkdir(base, 0755) != 0 && errno != EEXIST) {
    fprintf(stderr, "%s: cannot create %s: %s\n", e->name, base, strerror(errno));
    bench_config_free(&cfg);
    return 1;
  }
  snprintf(path, sizeof path, "%s/%s", base, e->name);

  size_t largest = (size_t)cfg.value_size;
  for (int i = 0; i < cfg.nworkloads; i++)
    if (strcmp(cfg.workloads[i], "fill100K") == 0 && largest < FILL100K_VALUE)
      largest = FILL100K_VALUE;
  value_source values;
  if (value_source_init(&values, largest) != 0) {
    fprintf(stderr, "%s: out of memory\n", e->name);
    bench_config_free(&cfg);
    return 1;
  }

  void *db = NULL;
  if (reopen_fresh(e, &cfg, path, &db) != 0) die();
  for (int i = 0; i < cfg.nworkloads; i++) {
    const workload *w = lookup(cfg.workloads[i]);
    char label[64], levels[128];
    bench_workload_label(&cfg, i, label, sizeof label);
    if (w->run == wl_bulkload && e->loader_create == NULL) {
      /* Reported, so the driver can tell "not supported" from "missing". */
      printf("{\"engine\":\"%s\",\"bench\":\"%s\",\"label\":\"%s\",\"seq\":%d,"
             "\"unsupported\":1}\n",
             e->name, w->name, label, i);
      fflush(stdout);
      continue;
    }
    if (w->fresh_db && i > 0 && reopen_fresh(e, &cfg, path, &db) != 0) die();
    run_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    ctx.eng = e;
    ctx.cfg = &cfg;
    ctx.db = db;
    ctx.values = &values;
    ctx.ops = cfg.num;
    ctx.value_size = cfg.value_size;
    run_result r = w->run(&ctx);

    level_files(e, db, levels, sizeof levels);
    double wall = r.wall > 0 ? r.wall : 1e-9;
    double ops = r.ops > 0 ? (double)r.ops : 1;
    printf("{\"engine\":\"%s\",\"bench\":\"%s\",\"label\":\"%s\",\"seq\":%d,\"threads\":%d,"
           "\"ops\":%llu,\"bytes\":%llu,\"found\":%llu,\"seconds\":%.6f,"
           "\"micros_per_op\":%.4f,\"cpu_micros_per_op\":%.4f,\"mb_per_s\":%.3f,"
           "\"ops_per_s\":%.1f,\"levels\":\"%s\"}\n",
           e->name, w->name, label, i, r.threads, (unsigned long long)r.ops,
           (unsigned long long)r.bytes, (unsigned long long)r.found, r.wall, r.busy * 1e6 / ops,
           r.cpu * 1e6 / ops, (double)r.bytes / 1048576.0 / wall, (double)r.ops / wall, levels);
    fflush(stdout);
  }
  e->close(db);
  int rc = e->destroy(&cfg, path) < 0 ? 1 : 0;
  if (cfg.db == NULL) rmdir(base);

  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  printf("{\"engine\":\"%s\",\"peak_rss_kb\":%ld}\n", e->name, ru.ru_maxrss);
  fflush(stdout);
  free(values.data);
  bench_config_free(&cfg);
  return rc;
}
