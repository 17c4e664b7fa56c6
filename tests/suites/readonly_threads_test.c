/*
 * readonly_threads_test.c - reader threads on a read-only handle while
 * another thread keeps calling strata_catch_up on it (strata.h: catch-up
 * is thread-safe and reads go on meanwhile), with a writer handle in the
 * same process changing the database underneath:
 *
 *   - the writer thread sets the GROUP keys of group g ("g<g>-<j>") to one
 *     generation in one batch, over and over, puts other keys ("x...")
 *     now and then, compacts every few hundred batches, and closes and
 *     reopens its handle a few times (a new MANIFEST);
 *   - the catch-up thread calls strata_catch_up in a loop;
 *   - reader threads read a group through a snapshot (gets), through an
 *     iterator, or with plain gets: through a snapshot or an iterator all
 *     GROUP keys carry one generation (a batch is never seen in part), and
 *     the generations one reader sees never go back.
 * At the end one more catch-up must show exactly what the writer shows.
 * Built to be clean under ThreadSanitizer as well as ASan/UBSan.
 *
 * Usage: readonly_threads_test [--seed S] [--batches N]
 * (N also from RO_THREADS_BATCHES; 8000 by default, 3000 when
 * STRATA_TEST_SCALE is set, as for the ASan and TSan builds). Interleaving
 * is not reproducible; the op streams are.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>

#include "strata.h"
#include "suite_util.h"

#define GROUPS 16
#define GROUP 8
#define READERS 3

static uint64_t g_seed;
static char *g_dir;
static strata_options g_wopt, g_ropt;
static strata_db *g_w, *g_ro;
static atomic_int g_stop, g_failed;
static atomic_long g_catchups, g_reads;
static long g_batches;

static void failf(const char *who, const char *fmt, ...) {
  va_list ap;
  char msg[1024];
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  fprintf(stderr, "readonly_threads_test: FAIL seed %llu %s: %s (last message: %s)\n",
          (unsigned long long)g_seed, who, msg, strata_errmsg());
  atomic_store(&g_failed, 1);
  atomic_store(&g_stop, 1);
}

/* Value of a group key at generation gen: "G<gen>:" then filler, 20-400
 * bytes in all. */
static size_t gvalue(uint64_t gen, unsigned char *out) {
  size_t n = (size_t)snprintf((char *)out, 32, "G%llu:", (unsigned long long)gen);
  size_t len = 20 + (size_t)(su_mix64(gen) % 380);
  su_fill_value(gen, len - n, out + n);
  return len;
}

/* The generation a group value carries, or fails. */
static int parse_gen(const char *who, const char *v, size_t vl, uint64_t *gen) {
  unsigned char buf[512];
  char head[32];
  size_t h = vl < sizeof head - 1 ? vl : sizeof head - 1;
  memcpy(head, v, h);
  head[h] = '\0';
  unsigned long long g;
  if (sscanf(head, "G%llu:", &g) != 1) {
    failf(who, "not a group value");
    return -1;
  }
  if (gvalue(g, buf) != vl || memcmp(buf, v, vl) != 0) {
    failf(who, "group value of generation %llu damaged", g);
    return -1;
  }
  *gen = g;
  return 0;
}

static size_t gkey(int g, int j, char *out) { return (size_t)snprintf(out, 16, "g%02d-%d", g, j); }

/* ------------------------------------------------------------------------ */

static void *writer_main(void *arg) {
  (void)arg;
  su_rng r;
  su_rng_seed(&r, su_derive(g_seed, 1));
  unsigned char v[512];
  strata_batch *b = NULL;
  if (strata_batch_create(&b)) {
    failf("writer", "batch");
    return NULL;
  }
  for (long i = 1; i <= g_batches && !atomic_load(&g_stop); i++) {
    int g = (int)(i % GROUPS);
    strata_batch_clear(b);
    size_t vl = gvalue((uint64_t)i, v);
    for (int j = 0; j < GROUP; j++) {
      char k[16];
      size_t kl = gkey(g, j, k);
      if (strata_batch_put(b, k, kl, v, vl)) failf("writer", "batch put");
    }
    if (strata_write(g_w, NULL, b)) failf("writer", "write: %s", strata_errmsg());
    if (su_rng_pm(&r, 300)) {
      char k[16];
      size_t kl = (size_t)snprintf(k, sizeof k, "x%04u", (unsigned)su_rng_below(&r, 3000));
      if (strata_put(g_w, NULL, k, kl, v, vl)) failf("writer", "put");
    }
    if (i % 400 == 0 && strata_compact_range(g_w, NULL, 0, NULL, 0))
      failf("writer", "compact: %s", strata_errmsg());
    if (i % 3000 == 1500) {
      strata_close(g_w);
      g_w = NULL;
      if (strata_open(g_dir, &g_wopt, &g_w)) failf("writer", "reopen: %s", strata_errmsg());
      if (!g_w) break;
    }
  }
  strata_batch_destroy(b);
  return NULL;
}

static void *catch_up_main(void *arg) {
  (void)arg;
  while (!atomic_load(&g_stop)) {
    if (strata_catch_up(g_ro)) failf("catch-up thread", "strata_catch_up: %s", strata_errmsg());
    atomic_fetch_add(&g_catchups, 1);
    usleep(100); /* leave the writer some CPU on a busy machine */
  }
  return NULL;
}

typedef struct reader_arg {
  int id;
  uint64_t seen[GROUPS]; /* newest generation seen of each group */
} reader_arg;

static void saw(reader_arg *a, const char *who, int g, uint64_t gen) {
  if (gen < a->seen[g])
    failf(who, "group %d went back from generation %llu to %llu", g, (unsigned long long)a->seen[g],
          (unsigned long long)gen);
  a->seen[g] = gen;
}

/* All GROUP keys of group g through snapshot snap: one generation. */
static void read_group_snapshot(reader_arg *a, const char *who, int g) {
  const strata_snapshot *snap = strata_snapshot_get(g_ro);
  if (!snap) {
    failf(who, "snapshot");
    return;
  }
  strata_read_options ro;
  strata_read_options_init(&ro);
  ro.snapshot = snap;
  strata_buf buf = STRATA_BUF_INIT;
  uint64_t first = 0;
  int present = -1;
  for (int j = 0; j < GROUP && !atomic_load(&g_failed); j++) {
    char k[16];
    size_t kl = gkey(g, j, k);
    int rc = strata_get(g_ro, &ro, k, kl, &buf);
    if (rc != 0 && rc != STRATA_ENOTFOUND) {
      failf(who, "get: %s", strata_errmsg());
      break;
    }
    if (present >= 0 && present != (rc == 0)) {
      failf(who, "group %d: key %d %s, key 0 %s, in one snapshot", g, j, rc ? "absent" : "present",
            present ? "present" : "absent");
      break;
    }
    present = rc == 0;
    uint64_t gen = 0;
    if (rc == 0 && parse_gen(who, buf.data, buf.size, &gen)) break;
    if (j == 0) first = gen;
    if (gen != first)
      failf(who, "group %d: key %d at generation %llu, key 0 at %llu, in one snapshot", g, j,
            (unsigned long long)gen, (unsigned long long)first);
  }
  if (present == 1) saw(a, who, g, first);
  strata_buf_free(&buf);
  strata_snapshot_release(g_ro, snap);
}

/* Group g through an iterator: one generation. */
static void read_group_iter(reader_arg *a, const char *who, int g) {
  strata_iter *it = NULL;
  if (strata_iter_create(g_ro, NULL, &it)) {
    failf(who, "iterator: %s", strata_errmsg());
    return;
  }
  char k[16];
  size_t kl = gkey(g, 0, k);
  strata_iter_seek(it, k, kl);
  uint64_t first = 0;
  int n = 0;
  for (; strata_iter_valid(it) && n < GROUP; strata_iter_next(it), n++) {
    size_t l, vl;
    const char *key = strata_iter_key(it, &l), *v = strata_iter_value(it, &vl);
    kl = gkey(g, n, k);
    if (l != kl || memcmp(key, k, kl)) break; /* the group is absent */
    uint64_t gen;
    if (parse_gen(who, v, vl, &gen)) break;
    if (n == 0) first = gen;
    if (gen != first)
      failf(who, "group %d: key %d at generation %llu, key 0 at %llu, in one iterator", g, n,
            (unsigned long long)gen, (unsigned long long)first);
  }
  if (n != 0 && n != GROUP) failf(who, "group %d: %d of %d keys in one iterator", g, n, GROUP);
  if (strata_iter_status(it)) failf(who, "iterator: %s", strata_errmsg());
  if (n == GROUP) saw(a, who, g, first);
  strata_iter_destroy(it);
}

static void *reader_main(void *p) {
  reader_arg *a = p;
  char who[32];
  snprintf(who, sizeof who, "reader %d", a->id);
  su_rng r;
  su_rng_seed(&r, su_derive(g_seed, 100 + (uint64_t)a->id));
  strata_buf buf = STRATA_BUF_INIT;
  while (!atomic_load(&g_stop)) {
    int g = (int)su_rng_below(&r, GROUPS);
    uint64_t c = su_rng_below(&r, 3);
    if (c == 0) {
      read_group_snapshot(a, who, g);
    } else if (c == 1) {
      read_group_iter(a, who, g);
    } else {
      /* Plain gets: each sees the state installed at the time, never an
       * older one than the last. */
      char k[16];
      size_t kl = gkey(g, (int)su_rng_below(&r, GROUP), k);
      int rc = strata_get(g_ro, NULL, k, kl, &buf);
      uint64_t gen;
      if (rc != 0 && rc != STRATA_ENOTFOUND)
        failf(who, "get: %s", strata_errmsg());
      else if (rc == 0 && parse_gen(who, buf.data, buf.size, &gen) == 0 && gen < a->seen[g])
        failf(who, "group %d: a get saw generation %llu after %llu", g, (unsigned long long)gen,
              (unsigned long long)a->seen[g]);
    }
    atomic_fetch_add(&g_reads, 1);
  }
  strata_buf_free(&buf);
  return NULL;
}

/* ------------------------------------------------------------------------ */

/* The read-only handle shows what the writer shows (both idle). */
static void compare_final(void) {
  strata_iter *a = NULL, *b = NULL;
  if (strata_iter_create(g_ro, NULL, &a) || strata_iter_create(g_w, NULL, &b)) {
    failf("final", "iterators: %s", strata_errmsg());
    return;
  }
  long n = 0;
  strata_iter_seek_to_first(a);
  strata_iter_seek_to_first(b);
  for (; strata_iter_valid(b); strata_iter_next(a), strata_iter_next(b), n++) {
    size_t kl, vl, kl2, vl2;
    const char *k = strata_iter_key(b, &kl), *v = strata_iter_value(b, &vl);
    if (!strata_iter_valid(a)) {
      failf("final", "read-only handle ends after %ld entries", n);
      break;
    }
    const char *k2 = strata_iter_key(a, &kl2), *v2 = strata_iter_value(a, &vl2);
    if (kl != kl2 || memcmp(k, k2, kl) || vl != vl2 || memcmp(v, v2, vl)) {
      failf("final", "entry %ld differs from the writer's", n);
      break;
    }
  }
  if (!atomic_load(&g_failed) && strata_iter_valid(a))
    failf("final", "read-only handle has more than the writer's %ld entries", n);
  strata_iter_destroy(a);
  strata_iter_destroy(b);
  printf("readonly_threads_test: final state matches the writer's (%ld entries)\n", n);
}

int main(int argc, char **argv) {
  const char *seed_arg = NULL;
  /* Sanitizer builds (STRATA_TEST_SCALE=asan, or tsan) run fewer. */
  const char *scale = getenv("STRATA_TEST_SCALE");
  g_batches = scale && *scale ? 3000 : 8000;
  if (getenv("RO_THREADS_BATCHES")) g_batches = atol(getenv("RO_THREADS_BATCHES"));
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc)
      seed_arg = argv[++i];
    else if (strcmp(argv[i], "--batches") == 0 && i + 1 < argc)
      g_batches = atol(argv[++i]);
    else {
      fprintf(stderr, "usage: readonly_threads_test [--seed S] [--batches N]\n");
      return 2;
    }
  }
  g_seed = su_pick_seed(seed_arg);
  printf("readonly_threads_test: seed %llu, %ld batches, %d readers\n", (unsigned long long)g_seed,
         g_batches, READERS);
  fflush(stdout);
  g_dir = su_make_temp_dir("strata-rothreads");
  strata_options_init(&g_wopt);
  g_wopt.create_if_missing = 1;
  g_wopt.write_buffer_size = 32 << 10;
  g_wopt.max_file_size = 64 << 10;
  g_ropt = g_wopt;
  g_ropt.read_only = 1;
  if (strata_open(g_dir, &g_wopt, &g_w) || strata_open(g_dir, &g_ropt, &g_ro)) {
    fprintf(stderr, "open: %s\n", strata_errmsg());
    return 1;
  }
  double t0 = su_now();
  pthread_t w, c, rd[READERS];
  static reader_arg args[READERS];
  pthread_create(&c, NULL, catch_up_main, NULL);
  for (int i = 0; i < READERS; i++) {
    args[i].id = i;
    pthread_create(&rd[i], NULL, reader_main, &args[i]);
  }
  pthread_create(&w, NULL, writer_main, NULL);
  pthread_join(w, NULL);
  atomic_store(&g_stop, 1);
  pthread_join(c, NULL);
  for (int i = 0; i < READERS; i++)
    pthread_join(rd[i], NULL);
  if (!atomic_load(&g_failed)) {
    if (strata_catch_up(g_ro))
      failf("final", "catch-up: %s", strata_errmsg());
    else
      compare_final();
  }
  strata_close(g_ro);
  strata_close(g_w);
  if (atomic_load(&g_failed)) {
    fprintf(stderr, "readonly_threads_test: database kept in %s\n", g_dir);
    return 1;
  }
  printf("readonly_threads_test: passed in %.1f s: %ld catch-ups, %ld reads\n", su_now() - t0,
         atomic_load(&g_catchups), atomic_load(&g_reads));
  su_remove_tree(g_dir);
  free(g_dir);
  return 0;
}
