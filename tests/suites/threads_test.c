/*
 * threads_test.c - one database handle shared by many threads (strata.h:
 * "A strata_db handle may be used by any number of threads at once").
 *
 *   - writer threads, each owning the keys that start with its own tag
 *     byte: puts, deletes and batches, with a private oracle; since nobody
 *     else touches those keys, every get of its own keys must return exactly
 *     the oracle's answer while everything else runs;
 *   - a "group" writer that sets ten keys "g0".."g9" to the same generation
 *     number in one batch, again and again;
 *   - reader threads that read the ten group keys through a snapshot or an
 *     iterator: all ten must carry the same generation (batches are atomic
 *     and reads are consistent), and generations seen by one reader never
 *     go backwards;
 *   - a thread forcing compactions of random ranges.
 * At the end every writer's keys are compared with its oracle, then again
 * after close and reopen.
 *
 * Usage: threads_test [--seed S] [S]   (seed also from STRATA_SEED;
 * STRATA_THREADS_OPS sets the ops per writer). Thread
 * interleaving is not reproducible; the op streams of each thread are.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>

#include "strata.h"
#include "suite_util.h"

#define WRITERS 4
#define READERS 3
#define KEYS_PER_WRITER 600
#define GROUP 10

static uint64_t g_seed;
static strata_db *g_db;
static atomic_int g_stop;   /* set on the first failure or when writers finish */
static atomic_int g_failed; /* any failure */
static long g_ops;          /* ops per writer */

static void failf(const char *who, const char *fmt, ...) {
  va_list ap;
  char msg[1024];
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  fprintf(stderr,
          "FAIL: seed=%llu %s: %s\n  reproduce (interleaving varies): threads_test --seed %llu\n",
          (unsigned long long)g_seed, who, msg, (unsigned long long)g_seed);
  atomic_store(&g_failed, 1);
  atomic_store(&g_stop, 1);
}

/* Writer t's key i: tag byte 'a'+t, then i big-endian, then 0..20 bytes
 * derived from (t, i) including NUL and 0xff. */
static size_t wkey(int t, int i, unsigned char *out) {
  su_rng r;
  su_rng_seed(&r, su_derive(g_seed ^ 0x77726974ULL, (uint64_t)t * 100000 + (uint64_t)i));
  out[0] = (unsigned char)('a' + t);
  out[1] = (unsigned char)(i >> 8);
  out[2] = (unsigned char)i;
  size_t n = 3 + (size_t)su_rng_below(&r, 21);
  for (size_t j = 3; j < n; j++) {
    uint64_t c = su_rng_below(&r, 4);
    out[j] = c == 0 ? 0 : c == 1 ? 0xff : (unsigned char)su_rng_next(&r);
  }
  return n;
}

typedef struct wval {
  int present;
  uint64_t vseed;
  uint32_t vlen;
} wval;

typedef struct writer {
  int t;
  pthread_t th;
  wval *oracle; /* by key index */
} writer;

static int check_own_key(writer *w, int i, strata_buf *val, unsigned char *vbuf, long op) {
  unsigned char k[32];
  size_t kl = wkey(w->t, i, k);
  int rc = strata_get(g_db, NULL, k, kl, val);
  const wval *e = &w->oracle[i];
  su_hexbuf hb;
  char who[64];
  snprintf(who, sizeof who, "writer %d op %ld", w->t, op);
  if (!e->present) {
    if (rc != STRATA_ENOTFOUND) {
      failf(who, "get(%s) returned %d (%s), expected not found", su_hex(&hb, k, kl), rc,
            strata_strerror(rc));
      return -1;
    }
    return 0;
  }
  if (rc != STRATA_OK) {
    failf(who, "get(%s) returned %d (%s): %s", su_hex(&hb, k, kl), rc, strata_strerror(rc),
          strata_errmsg());
    return -1;
  }
  su_fill_value(e->vseed, e->vlen, vbuf);
  if (val->size != e->vlen || (e->vlen && memcmp(val->data, vbuf, e->vlen) != 0)) {
    failf(who, "get(%s) returned %zu bytes differing from the %u written", su_hex(&hb, k, kl),
          val->size, e->vlen);
    return -1;
  }
  return 0;
}

static void *writer_main(void *arg) {
  writer *w = arg;
  su_rng r;
  su_rng_seed(&r, su_derive(g_seed, 1000 + (uint64_t)w->t));
  unsigned char *vbuf = malloc(64 << 10), *cbuf = malloc(64 << 10);
  strata_buf val = STRATA_BUF_INIT;
  strata_batch *b;
  if (strata_batch_create(&b) != STRATA_OK) abort();
  char who[64];
  for (long op = 0; op < g_ops && !atomic_load(&g_stop); op++) {
    snprintf(who, sizeof who, "writer %d op %ld", w->t, op);
    uint64_t c = su_rng_below(&r, 100);
    int i = su_rng_below(&r, 2) ? (int)su_rng_below(&r, KEYS_PER_WRITER / 10)
                                : (int)su_rng_below(&r, KEYS_PER_WRITER);
    unsigned char k[32];
    size_t kl = wkey(w->t, i, k);
    int rc = STRATA_OK;
    if (c < 40) {
      wval v = {1, su_rng_next(&r), (uint32_t)su_rng_below(&r, su_rng_below(&r, 20) ? 600 : 40000)};
      su_fill_value(v.vseed, v.vlen, vbuf);
      /* A few sync writes, so group commit mixes sync and non-sync. */
      strata_write_options wo;
      strata_write_options_init(&wo);
      wo.sync = su_rng_below(&r, 50) == 0;
      rc = strata_put(g_db, &wo, k, kl, vbuf, v.vlen);
      w->oracle[i] = v;
    } else if (c < 55) {
      rc = strata_delete(g_db, NULL, k, kl);
      w->oracle[i].present = 0;
    } else if (c < 70) {
      strata_batch_clear(b);
      int n = (int)su_rng_range(&r, 1, 16);
      wval nv[16];
      int idx[16];
      for (int j = 0; j < n && rc == STRATA_OK; j++) {
        idx[j] = (int)su_rng_below(&r, KEYS_PER_WRITER);
        kl = wkey(w->t, idx[j], k);
        if (su_rng_below(&r, 3) == 0) {
          nv[j].present = 0;
          rc = strata_batch_delete(b, k, kl);
        } else {
          nv[j] = (wval){1, su_rng_next(&r), (uint32_t)su_rng_below(&r, 300)};
          su_fill_value(nv[j].vseed, nv[j].vlen, vbuf);
          rc = strata_batch_put(b, k, kl, vbuf, nv[j].vlen);
        }
      }
      if (rc == STRATA_OK) rc = strata_write(g_db, NULL, b);
      for (int j = 0; j < n; j++)
        w->oracle[idx[j]] = nv[j];
    } else {
      if (check_own_key(w, i, &val, cbuf, op) != 0) break;
    }
    if (rc != STRATA_OK) {
      failf(who, "write returned %d (%s): %s", rc, strata_strerror(rc), strata_errmsg());
      break;
    }
  }
  strata_batch_destroy(b);
  strata_buf_free(&val);
  free(vbuf);
  free(cbuf);
  return NULL;
}

/* The group writer: generation g goes to all ten group keys in one batch. */
static atomic_uint_fast64_t g_generation;

static void group_key(int j, unsigned char *k) {
  k[0] = 'g';
  k[1] = (unsigned char)('0' + j);
}

static void *group_main(void *arg) {
  (void)arg;
  strata_batch *b;
  if (strata_batch_create(&b) != STRATA_OK) abort();
  for (uint64_t g = 1; !atomic_load(&g_stop); g++) {
    strata_batch_clear(b);
    unsigned char k[2], v[64];
    /* The value: the generation, padded to a length that varies with it. */
    memset(v, 0, sizeof v);
    memcpy(v, &g, 8);
    size_t vl = 8 + (size_t)(g % 50);
    for (int j = 0; j < GROUP; j++) {
      group_key(j, k);
      strata_batch_put(b, k, 2, v, vl);
    }
    int rc = strata_write(g_db, NULL, b);
    if (rc != STRATA_OK) {
      failf("group writer", "strata_write returned %d (%s): %s", rc, strata_strerror(rc),
            strata_errmsg());
      break;
    }
    atomic_store(&g_generation, g);
  }
  strata_batch_destroy(b);
  return NULL;
}

static uint64_t decode_gen(const char *v, size_t vl, int *ok) {
  uint64_t g = 0;
  *ok = vl >= 8;
  if (*ok) memcpy(&g, v, 8);
  *ok = *ok && vl == 8 + (size_t)(g % 50);
  return g;
}

typedef struct reader {
  int id;
  pthread_t th;
  long reads;
} reader;

static void *reader_main(void *arg) {
  reader *rd = arg;
  su_rng r;
  su_rng_seed(&r, su_derive(g_seed, 2000 + (uint64_t)rd->id));
  strata_buf val = STRATA_BUF_INIT;
  uint64_t last = 0;
  char who[64];
  while (!atomic_load(&g_stop)) {
    snprintf(who, sizeof who, "reader %d read %ld", rd->id, rd->reads);
    uint64_t gens[GROUP];
    int n = 0;
    if (su_rng_below(&r, 2) == 0) { /* ten gets through one snapshot */
      const strata_snapshot *s = strata_snapshot_get(g_db);
      strata_read_options ro;
      strata_read_options_init(&ro);
      ro.snapshot = s;
      for (int j = 0; j < GROUP; j++) {
        unsigned char k[2];
        group_key(j, k);
        int rc = strata_get(g_db, &ro, k, 2, &val);
        if (rc == STRATA_ENOTFOUND) break; /* before the first batch, or torn */
        int ok = 0;
        if (rc == STRATA_OK) gens[n] = decode_gen(val.data, val.size, &ok);
        if (!ok) {
          failf(who, "snapshot get of g%d returned %d (%s), %zu bytes", j, rc, strata_strerror(rc),
                val.size);
          break;
        }
        n++;
      }
      strata_snapshot_release(g_db, s);
    } else { /* one iterator over the group range */
      strata_iter *it;
      int rc = strata_iter_create(g_db, NULL, &it);
      if (rc != STRATA_OK) {
        failf(who, "strata_iter_create returned %d (%s)", rc, strata_strerror(rc));
        break;
      }
      unsigned char k0[2];
      group_key(0, k0);
      for (strata_iter_seek(it, k0, 2); strata_iter_valid(it) && n < GROUP; strata_iter_next(it)) {
        size_t kl, vl;
        const char *k = strata_iter_key(it, &kl);
        if (kl != 2 || k[0] != 'g') break;
        int ok;
        const char *v = strata_iter_value(it, &vl);
        gens[n++] = decode_gen(v, vl, &ok);
        if (!ok || k[1] != '0' + n - 1) {
          failf(who, "iterator found a malformed group entry at g%c", k[1]);
          break;
        }
      }
      if (strata_iter_status(it) != STRATA_OK)
        failf(who, "iterator stopped with %d: %s", strata_iter_status(it), strata_errmsg());
      strata_iter_destroy(it);
    }
    if (atomic_load(&g_stop)) break;
    if (n != 0 && n != GROUP) {
      failf(who, "saw %d of the %d group keys: a batch was applied partially", n, GROUP);
      break;
    }
    for (int j = 1; j < n; j++)
      if (gens[j] != gens[0]) {
        failf(who, "group keys disagree: g0 has generation %llu, g%d has %llu (torn batch)",
              (unsigned long long)gens[0], j, (unsigned long long)gens[j]);
        break;
      }
    if (n > 0 && gens[0] < last) {
      failf(who, "generation went backwards: %llu after %llu", (unsigned long long)gens[0],
            (unsigned long long)last);
      break;
    }
    if (n > 0) last = gens[0];
    rd->reads++;
  }
  strata_buf_free(&val);
  return NULL;
}

static void *compactor_main(void *arg) {
  (void)arg;
  su_rng r;
  su_rng_seed(&r, su_derive(g_seed, 3000));
  while (!atomic_load(&g_stop)) {
    unsigned char a[32], z[32];
    size_t al = wkey((int)su_rng_below(&r, WRITERS), (int)su_rng_below(&r, KEYS_PER_WRITER), a);
    size_t zl = wkey((int)su_rng_below(&r, WRITERS), (int)su_rng_below(&r, KEYS_PER_WRITER), z);
    int rc = memcmp(a, z, al < zl ? al : zl) <= 0 ? strata_compact_range(g_db, a, al, z, zl)
                                                  : strata_compact_range(g_db, z, zl, a, al);
    if (rc != STRATA_OK) {
      failf("compactor", "strata_compact_range returned %d (%s): %s", rc, strata_strerror(rc),
            strata_errmsg());
      break;
    }
    usleep(20000);
  }
  return NULL;
}

/* Compares every writer's keys with its oracle (gets of each key). */
static void verify_writers(writer *w, const char *when) {
  unsigned char *vbuf = malloc(64 << 10);
  strata_buf val = STRATA_BUF_INIT;
  for (int t = 0; t < WRITERS && !atomic_load(&g_failed); t++)
    for (int i = 0; i < KEYS_PER_WRITER; i++)
      if (check_own_key(&w[t], i, &val, vbuf, -1) != 0) {
        fprintf(stderr, "  (%s)\n", when);
        break;
      }
  strata_buf_free(&val);
  free(vbuf);
}

int main(int argc, char **argv) {
  const char *seed_arg = NULL;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc)
      seed_arg = argv[++i];
    else if (argv[i][0] != '-')
      seed_arg = argv[i];
    else {
      fprintf(stderr, "usage: threads_test [--seed S] [S]\n");
      return 2;
    }
  }
  g_seed = su_pick_seed(seed_arg);
  g_ops = su_scale_is_asan() ? 30000 : 150000;
  /* STRATA_THREADS_OPS: ops per writer (make test-tsan runs fewer). */
  const char *env_ops = getenv("STRATA_THREADS_OPS");
  if (env_ops && *env_ops) g_ops = atol(env_ops);
  printf("threads_test: seed=%llu %d writers x %ld ops, %d readers, 1 group writer, 1 compactor\n",
         (unsigned long long)g_seed, WRITERS, g_ops, READERS);
  fflush(stdout);
  char *dir = su_make_temp_dir("strata-threads");
  strata_options opt;
  strata_options_init(&opt);
  opt.create_if_missing = 1;
  opt.write_buffer_size = 128 << 10;
  opt.max_file_size = 128 << 10;
  int rc = strata_open(dir, &opt, &g_db);
  if (rc != STRATA_OK) {
    fprintf(stderr, "FAIL: strata_open: %s\n", strata_errmsg());
    return 1;
  }
  double t0 = su_now();
  writer w[WRITERS];
  reader rd[READERS];
  pthread_t group, compactor;
  for (int t = 0; t < WRITERS; t++) {
    w[t].t = t;
    w[t].oracle = calloc(KEYS_PER_WRITER, sizeof(wval));
    pthread_create(&w[t].th, NULL, writer_main, &w[t]);
  }
  for (int i = 0; i < READERS; i++) {
    rd[i].id = i;
    rd[i].reads = 0;
    pthread_create(&rd[i].th, NULL, reader_main, &rd[i]);
  }
  pthread_create(&group, NULL, group_main, NULL);
  pthread_create(&compactor, NULL, compactor_main, NULL);
  for (int t = 0; t < WRITERS; t++)
    pthread_join(w[t].th, NULL);
  atomic_store(&g_stop, 1);
  for (int i = 0; i < READERS; i++)
    pthread_join(rd[i].th, NULL);
  pthread_join(group, NULL);
  pthread_join(compactor, NULL);
  long reads = 0;
  for (int i = 0; i < READERS; i++)
    reads += rd[i].reads;
  printf("ran %.1fs: %llu group generations, %ld consistent group reads\n", su_now() - t0,
         (unsigned long long)atomic_load(&g_generation), reads);

  if (!atomic_load(&g_failed)) verify_writers(w, "after all threads stopped");
  strata_close(g_db);
  if (!atomic_load(&g_failed)) {
    opt.create_if_missing = 0;
    rc = strata_open(dir, &opt, &g_db);
    if (rc != STRATA_OK) {
      failf("reopen", "strata_open returned %d (%s): %s", rc, strata_strerror(rc), strata_errmsg());
    } else {
      verify_writers(w, "after reopen");
      strata_close(g_db);
    }
  }
  int failed = atomic_load(&g_failed);
  if (!failed)
    su_remove_tree(dir);
  else
    fprintf(stderr, "  db left in %s\n", dir);
  for (int t = 0; t < WRITERS; t++)
    free(w[t].oracle);
  free(dir);
  printf("%d passed, %d failed\n", !failed, failed);
  return failed;
}
