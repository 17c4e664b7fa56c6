/*
 * txn_threads_test.c - transactions under concurrency, on one handle:
 *
 *   - transfer threads move amounts between ACCOUNTS accounts (half in the
 *     main database, half in a sub-database) in write transactions that
 *     read both balances and write both back, retrying on STRATA_ECONFLICT;
 *     some threads use optimistic transactions, some exclusive ones; each
 *     transaction also bumps its thread's commit counter in the same
 *     transaction;
 *   - a plain writer keeps writing unrelated keys and, now and then,
 *     overwrites a "touched" key that every transfer also reads, so plain
 *     writes conflict with transactions without ever waiting for them;
 *   - reader threads sum every balance through a read transaction, a
 *     snapshot or an iterator: the total never changes (no transaction is
 *     ever seen in part).
 * At the end, each thread's counter equals the number of commits it saw
 * succeed (no lost update, no update applied twice), and the total is
 * still right after close and reopen.
 *
 * Usage: txn_threads_test [--seed S]. Interleaving is not reproducible.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>

#include "strata.h"
#include "suite_util.h"

#define ACCOUNTS 40
#define TRANSFERS 4 /* threads: even ones optimistic, odd ones exclusive */
#define READERS 2
#define START_BALANCE 1000

static uint64_t g_seed;
static strata_db *g_db;
static strata_subdb *g_sub;
static atomic_int g_stop, g_failed;
static long g_txns; /* commits per transfer thread */
static long g_committed[TRANSFERS];
static atomic_long g_conflicts;

static void failf(const char *who, const char *fmt, ...) {
  va_list ap;
  char msg[512];
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  fprintf(stderr, "FAIL: seed=%llu %s: %s\n", (unsigned long long)g_seed, who, msg);
  atomic_store(&g_failed, 1);
  atomic_store(&g_stop, 1);
}

/* Account i lives in the main database (even i) or the sub-database. */
static strata_subdb *where(int i) { return i % 2 ? g_sub : NULL; }
static size_t acct_key(int i, char *k) { return (size_t)snprintf(k, 16, "acct%03d", i); }

static long parse(const strata_buf *v) {
  char num[32];
  snprintf(num, sizeof num, "%.*s", (int)v->size, v->data);
  return strtol(num, NULL, 10);
}

static int put_long(strata_txn *t, strata_subdb *s, const char *k, size_t kl, long n) {
  char num[32];
  int len = snprintf(num, sizeof num, "%ld", n);
  return strata_txn_put(t, s, k, kl, num, (size_t)len);
}

static void *transfer_thread(void *arg) {
  int id = (int)(intptr_t)arg;
  su_rng r;
  su_rng_seed(&r, su_derive(g_seed, (uint64_t)id));
  strata_buf v = STRATA_BUF_INIT;
  char who[32];
  snprintf(who, sizeof who, "transfer thread %d", id);
  char ctr[16];
  size_t ctrl = (size_t)snprintf(ctr, sizeof ctr, "ctr%d", id);
  while (g_committed[id] < g_txns && !atomic_load(&g_stop)) {
    int a = (int)su_rng_below(&r, ACCOUNTS), b = (int)su_rng_below(&r, ACCOUNTS - 1);
    if (b >= a) b++;
    long amount = (long)su_rng_range(&r, 1, 50);
    strata_txn_options o;
    strata_txn_options_init(&o);
    o.write = 1;
    o.exclusive = id % 2;
    strata_txn *t;
    if (strata_txn_begin(g_db, &o, &t)) {
      failf(who, "begin: %s", strata_errmsg());
      break;
    }
    char ka[16], kb[16];
    size_t kal = acct_key(a, ka), kbl = acct_key(b, kb);
    int rc = strata_txn_get(t, where(a), ka, kal, &v);
    long ba = rc == 0 ? parse(&v) : -1;
    if (!rc) rc = strata_txn_get(t, where(b), kb, kbl, &v);
    long bb = rc == 0 ? parse(&v) : -1;
    if (!rc) rc = strata_txn_get(t, NULL, "touched", 7, &v);
    if (rc == STRATA_ENOTFOUND) rc = 0;
    if (!rc) rc = strata_txn_get(t, NULL, ctr, ctrl, &v);
    long c = rc == 0 ? parse(&v) : 0;
    if (rc == STRATA_ENOTFOUND) rc = 0;
    if (rc) {
      failf(who, "get: %s", strata_errmsg());
      strata_txn_destroy(t);
      break;
    }
    if (ba < amount) amount = ba; /* never below zero */
    rc = put_long(t, where(a), ka, kal, ba - amount);
    if (!rc) rc = put_long(t, where(b), kb, kbl, bb + amount);
    if (!rc) rc = put_long(t, NULL, ctr, ctrl, c + 1);
    if (!rc) rc = strata_txn_commit(t);
    strata_txn_destroy(t);
    if (rc == STRATA_ECONFLICT) {
      atomic_fetch_add(&g_conflicts, 1);
      continue;
    }
    if (rc) {
      failf(who, "commit: %d %s", rc, strata_errmsg());
      break;
    }
    g_committed[id]++;
  }
  strata_buf_free(&v);
  return NULL;
}

static void *plain_writer(void *arg) {
  (void)arg;
  su_rng r;
  su_rng_seed(&r, su_derive(g_seed, 1000));
  char k[32], val[64];
  double last_touch = su_now();
  for (long i = 0; !atomic_load(&g_stop); i++) {
    size_t kl = (size_t)snprintf(k, sizeof k, "noise%06d", (int)su_rng_below(&r, 20000));
    size_t vl = (size_t)snprintf(val, sizeof val, "%ld-0123456789012345678901234567890123", i);
    int rc = strata_put(g_db, NULL, k, kl, val, vl);
    /* Every few milliseconds (not every N writes, which on a loaded
     * machine could make every transaction conflict): a key every
     * transfer reads. */
    if (!rc && su_now() - last_touch > 0.003) {
      rc = strata_put(g_db, NULL, "touched", 7, val, vl);
      last_touch = su_now();
    }
    if (i % 64 == 0) usleep(100); /* leave the cores to the transactions */
    if (rc) {
      failf("plain writer", "put: %s", strata_errmsg());
      break;
    }
  }
  return NULL;
}

/* The sum of every balance, read three ways in turn. */
static long total(int how, const char *who) {
  strata_buf v = STRATA_BUF_INIT;
  long sum = 0;
  char k[16];
  if (how == 0) {
    strata_txn *t;
    if (strata_txn_begin(g_db, NULL, &t)) return -1;
    for (int i = 0; i < ACCOUNTS; i++) {
      size_t kl = acct_key(i, k);
      if (strata_txn_get(t, where(i), k, kl, &v)) {
        failf(who, "read transaction get: %s", strata_errmsg());
        break;
      }
      sum += parse(&v);
    }
    strata_txn_destroy(t);
  } else if (how == 1) {
    strata_read_options ro;
    strata_read_options_init(&ro);
    ro.snapshot = strata_snapshot_get(g_db);
    for (int i = 0; i < ACCOUNTS; i++) {
      size_t kl = acct_key(i, k);
      if (strata_get_in(g_db, where(i), &ro, k, kl, &v)) {
        failf(who, "snapshot get: %s", strata_errmsg());
        break;
      }
      sum += parse(&v);
    }
    strata_snapshot_release(g_db, ro.snapshot);
  } else {
    /* Two iterators over one snapshot: the main database and the
     * sub-database. */
    strata_read_options ro;
    strata_read_options_init(&ro);
    ro.snapshot = strata_snapshot_get(g_db);
    for (int s = 0; s < 2; s++) {
      strata_iter *it;
      if (strata_iter_create_in(g_db, s ? g_sub : NULL, &ro, &it)) break;
      for (strata_iter_seek(it, "acct", 4); strata_iter_valid(it); strata_iter_next(it)) {
        size_t kl, vl;
        const char *key = strata_iter_key(it, &kl), *val = strata_iter_value(it, &vl);
        if (kl < 4 || memcmp(key, "acct", 4) != 0) break;
        strata_buf tmp = {(char *)val, vl, vl};
        sum += parse(&tmp);
      }
      strata_iter_destroy(it);
    }
    strata_snapshot_release(g_db, ro.snapshot);
  }
  strata_buf_free(&v);
  return sum;
}

static void *reader_thread(void *arg) {
  int id = (int)(intptr_t)arg;
  char who[32];
  snprintf(who, sizeof who, "reader %d", id);
  for (long i = 0; !atomic_load(&g_stop); i++) {
    long sum = total((int)(i % 3), who);
    if (sum != (long)ACCOUNTS * START_BALANCE)
      failf(who, "read %ld as the total (way %ld), expected %ld: a transaction seen in part", sum,
            i % 3, (long)ACCOUNTS * START_BALANCE);
  }
  return NULL;
}

static void check_counters(const char *when) {
  strata_buf v = STRATA_BUF_INIT;
  for (int id = 0; id < TRANSFERS; id++) {
    char ctr[16];
    size_t ctrl = (size_t)snprintf(ctr, sizeof ctr, "ctr%d", id);
    long n = strata_get(g_db, NULL, ctr, ctrl, &v) == 0 ? parse(&v) : 0;
    if (n != g_committed[id])
      failf(when, "thread %d's counter is %ld, %ld commits succeeded", id, n, g_committed[id]);
  }
  strata_buf_free(&v);
  long sum = total(0, when);
  if (sum != (long)ACCOUNTS * START_BALANCE) failf(when, "total %ld", sum);
}

int main(int argc, char **argv) {
  const char *seed_arg = NULL;
  for (int i = 1; i < argc; i++)
    if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc) seed_arg = argv[++i];
  g_seed = su_pick_seed(seed_arg);
  g_txns = su_scale_is_asan() ? 1000 : 5000;
  printf("txn_threads_test: seed=%llu commits/thread=%ld\n", (unsigned long long)g_seed, g_txns);
  fflush(stdout);
  char *dir = su_make_temp_dir("strata-txn-threads");
  strata_options o;
  strata_options_init(&o);
  o.create_if_missing = 1;
  o.write_buffer_size = 128 << 10; /* flushes and compactions meanwhile */
  if (strata_open(dir, &o, &g_db) || strata_subdb_open(g_db, "accounts", 1, &g_sub)) {
    fprintf(stderr, "open: %s\n", strata_errmsg());
    return 1;
  }
  strata_batch *b;
  strata_batch_create(&b);
  for (int i = 0; i < ACCOUNTS; i++) {
    char k[16], v[16];
    size_t kl = acct_key(i, k);
    int vl = snprintf(v, sizeof v, "%d", START_BALANCE);
    strata_batch_put_in(b, where(i), k, kl, v, (size_t)vl);
  }
  if (strata_write(g_db, NULL, b)) return 1;
  strata_batch_destroy(b);

  pthread_t tt[TRANSFERS], rt[READERS], wt;
  double t0 = su_now();
  for (int i = 0; i < TRANSFERS; i++)
    pthread_create(&tt[i], NULL, transfer_thread, (void *)(intptr_t)i);
  for (int i = 0; i < READERS; i++)
    pthread_create(&rt[i], NULL, reader_thread, (void *)(intptr_t)i);
  pthread_create(&wt, NULL, plain_writer, NULL);
  for (int i = 0; i < TRANSFERS; i++)
    pthread_join(tt[i], NULL);
  atomic_store(&g_stop, 1);
  for (int i = 0; i < READERS; i++)
    pthread_join(rt[i], NULL);
  pthread_join(wt, NULL);
  atomic_store(&g_stop, 0);
  if (!atomic_load(&g_failed)) check_counters("at the end");
  strata_close(g_db);
  if (!atomic_load(&g_failed)) {
    if (strata_open(dir, &o, &g_db) || strata_subdb_open(g_db, "accounts", 0, &g_sub)) {
      fprintf(stderr, "reopen: %s\n", strata_errmsg());
      return 1;
    }
    check_counters("after reopen");
    strata_close(g_db);
  }
  int failed = atomic_load(&g_failed);
  printf("%s: %d threads x %ld commits, %ld conflicts retried, in %.1fs\n",
         failed ? "FAILED" : "ok", TRANSFERS, g_txns, atomic_load(&g_conflicts), su_now() - t0);
  if (!failed) su_remove_tree(dir);
  free(dir);
  return failed;
}
