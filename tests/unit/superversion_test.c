/* superversion_test.c - the superversion and its per-thread slots
 * (src/db/superversion.h): reference counts stay exact, an install scrapes
 * idle threads' slots, a reader keeps a superversion installed over while
 * it reads, readers see consistent superversions and every acknowledged
 * write while installs run, and thread exit and database close free
 * everything (the ASan build checks the leaks).
 *
 * Worker threads never call cmocka asserts (they would longjmp across
 * threads): they count failures, which the main thread checks. Every wait
 * is bounded. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "db/db_impl.h"
#include "db/superversion.h"
#include "strata.h"
#include "util/internal_key.h"

#define WAIT_SECONDS 30 /* any single wait longer than this is a failure */

static char tmpdir[256];

static int scale_is_asan(void) {
  const char *s = getenv("STRATA_TEST_SCALE");
  return s && strcmp(s, "asan") == 0;
}

static int group_setup(void **state) {
  (void)state;
  const char *base = getenv("TMPDIR");
  snprintf(tmpdir, sizeof tmpdir, "%s/strata_sv_test.XXXXXX", base && *base ? base : "/tmp");
  return mkdtemp(tmpdir) ? 0 : -1;
}

static int group_teardown(void **state) {
  (void)state;
  rmdir(tmpdir);
  return 0;
}

static void db_path(const char *name, char *out, size_t n) {
  snprintf(out, n, "%s/%s", tmpdir, name);
}

static strata_db *open_db(const char *name, size_t write_buffer) {
  char path[300];
  db_path(name, path, sizeof path);
  strata_destroy(path, NULL);
  strata_options o;
  strata_options_init(&o);
  o.create_if_missing = 1;
  if (write_buffer) o.write_buffer_size = write_buffer;
  strata_db *db = NULL;
  if (strata_open(path, &o, &db)) fail_msg("open %s: %s", path, strata_errmsg());
  return db;
}

static void close_db(strata_db *db, const char *name) {
  char path[300];
  strata_close(db);
  db_path(name, path, sizeof path);
  assert_int_equal(strata_destroy(path, NULL), 0);
}

/* A point read; the result does not matter, only that it went through the
 * superversion path. */
static int touch(strata_db *db) {
  strata_buf b = STRATA_BUF_INIT;
  int rc = strata_get(db, NULL, "x", 1, &b);
  strata_buf_free(&b);
  return rc == 0 || rc == STRATA_ENOTFOUND ? 0 : -1;
}

/* The installed superversion (read under the db mutex, where it changes). */
static st_superversion *installed(strata_db *db) {
  pthread_mutex_lock(&db->mu);
  st_superversion *sv = db->svs.current;
  pthread_mutex_unlock(&db->mu);
  return sv;
}

/* The reference count of the installed superversion, read under the db
 * mutex so that no install frees it meanwhile. */
static int installed_refs(strata_db *db) {
  pthread_mutex_lock(&db->mu);
  int n = st_sv_refs(db->svs.current);
  pthread_mutex_unlock(&db->mu);
  return n;
}

/* Installs a new superversion of the same memtables and version, as a
 * flush or compaction would. */
static void reinstall(strata_db *db) {
  st_superversion *fresh = st_sv_new();
  assert_non_null(fresh);
  pthread_mutex_lock(&db->mu);
  st_db_install_sv(db, fresh);
  pthread_mutex_unlock(&db->mu);
}

static void deadline(struct timespec *ts) {
  clock_gettime(CLOCK_REALTIME, ts);
  ts->tv_sec += WAIT_SECONDS;
}

/* ------------------------------------------------------------------------ */
/* A worker thread that runs one command at a time                          */
/* ------------------------------------------------------------------------ */

enum { CMD_NONE, CMD_GET, CMD_EXIT };

typedef struct worker {
  pthread_t th;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int cmd;
  strata_db *db;
  int issued, done; /* command counts */
  int failures;
} worker;

static void *worker_main(void *arg) {
  worker *w = arg;
  pthread_mutex_lock(&w->mu);
  for (;;) {
    struct timespec ts;
    deadline(&ts);
    while (w->done == w->issued) {
      if (pthread_cond_timedwait(&w->cv, &w->mu, &ts) == ETIMEDOUT) {
        w->failures++; /* the test stopped giving commands: just leave */
        pthread_mutex_unlock(&w->mu);
        return NULL;
      }
    }
    int cmd = w->cmd;
    strata_db *db = w->db;
    pthread_mutex_unlock(&w->mu);
    if (cmd == CMD_GET && touch(db)) w->failures++;
    pthread_mutex_lock(&w->mu);
    w->done++;
    pthread_cond_broadcast(&w->cv);
    if (cmd == CMD_EXIT) break;
  }
  pthread_mutex_unlock(&w->mu);
  return NULL;
}

/* On the heap: if the test fails while the worker waits, the worker must
 * not be left with a dangling pointer into a dead stack frame. */
static worker *worker_start(void) {
  worker *w = calloc(1, sizeof *w);
  assert_non_null(w);
  pthread_mutex_init(&w->mu, NULL);
  pthread_cond_init(&w->cv, NULL);
  assert_int_equal(pthread_create(&w->th, NULL, worker_main, w), 0);
  return w;
}

/* Runs cmd on the worker and waits for it to finish. */
static void worker_do(worker *w, int cmd, strata_db *db) {
  pthread_mutex_lock(&w->mu);
  w->cmd = cmd;
  w->db = db;
  w->issued++;
  pthread_cond_broadcast(&w->cv);
  struct timespec ts;
  deadline(&ts);
  int rc = 0;
  while (w->done != w->issued && rc != ETIMEDOUT)
    rc = pthread_cond_timedwait(&w->cv, &w->mu, &ts);
  int ok = w->done == w->issued;
  pthread_mutex_unlock(&w->mu);
  if (!ok) fail_msg("worker did not finish command %d in %d s", cmd, WAIT_SECONDS);
}

static void worker_exit(worker *w) {
  worker_do(w, CMD_EXIT, NULL);
  pthread_join(w->th, NULL);
  int failures = w->failures;
  pthread_mutex_destroy(&w->mu);
  pthread_cond_destroy(&w->cv);
  free(w);
  assert_int_equal(failures, 0);
}

/* ------------------------------------------------------------------------ */
/* Reference counts and slots                                               */
/* ------------------------------------------------------------------------ */

/* An idle thread's cached superversion is taken out by the next install;
 * once the readers are gone only the database's own reference is left. */
static void test_idle_slot_scraped(void **state) {
  (void)state;
  strata_db *db = open_db("idle", 0);
  st_superversion *sv0 = installed(db);
  assert_int_equal(st_sv_refs(sv0), 1);

  assert_int_equal(touch(db), 0); /* the main thread caches sv0 */
  assert_int_equal(st_sv_registry_nslots(&db->svs), 1);
  assert_int_equal(st_sv_refs(sv0), 2);

  worker *w = worker_start();
  worker_do(w, CMD_GET, db); /* the worker caches it too, then idles */
  assert_int_equal(st_sv_registry_nslots(&db->svs), 2);
  assert_int_equal(st_sv_refs(sv0), 3);

  /* Keep sv0 alive to look at it after the install. */
  pthread_mutex_lock(&db->mu);
  st_sv_ref(sv0);
  pthread_mutex_unlock(&db->mu);
  reinstall(db);
  st_superversion *sv1 = installed(db);
  assert_ptr_not_equal(sv0, sv1);
  assert_true(atomic_load(&db->svs.number) == sv1->number);
  assert_true(sv1->number == sv0->number + 1);
  /* Neither the idle worker nor the main thread pins sv0 any more. */
  assert_int_equal(st_sv_refs(sv0), 1);
  assert_int_equal(st_sv_refs(sv1), 1);
  st_sv_unref_unlocked(sv0); /* frees it */

  worker_do(w, CMD_GET, db);
  assert_int_equal(st_sv_refs(sv1), 2);
  worker_exit(w); /* its slot goes with it, and its reference */
  assert_int_equal(st_sv_registry_nslots(&db->svs), 1);
  assert_int_equal(st_sv_refs(sv1), 1);

  /* The fast path changes no reference count. */
  assert_int_equal(touch(db), 0);
  assert_int_equal(st_sv_refs(sv1), 2);
  for (int i = 0; i < 100; i++)
    assert_int_equal(touch(db), 0);
  assert_int_equal(st_sv_refs(sv1), 2);
  close_db(db, "idle");
}

/* A superversion installed over while a thread reads it stays alive until
 * that thread puts it back, which then drops it. */
static void test_install_during_read(void **state) {
  (void)state;
  strata_db *db = open_db("inuse", 0);
  assert_int_equal(strata_put(db, NULL, "k", 1, "v", 1), 0);
  uint64_t seq;
  st_superversion *sv = st_db_sv_get(db, NULL, &seq);
  assert_ptr_equal(sv, installed(db));
  assert_int_equal(seq, 1);
  assert_int_equal(st_sv_refs(sv), 2); /* the db's and this read's */

  reinstall(db);
  assert_ptr_not_equal(sv, installed(db));
  assert_int_equal(st_sv_refs(sv), 1); /* only this read's */
  st_buf val = ST_BUF_INIT;
  assert_int_equal(st_memtable_get(sv->mem, st_slice_make("k", 1), seq, &val), ST_MEM_FOUND);
  assert_int_equal(val.size, 1);
  st_buf_free(&val);
  st_db_sv_put(db, sv); /* the slot was marked: this frees sv */

  st_superversion *cur = installed(db);
  assert_int_equal(st_sv_refs(cur), 1);
  sv = st_db_sv_get(db, NULL, &seq);
  assert_ptr_equal(sv, cur);
  st_db_sv_put(db, sv);
  assert_int_equal(st_sv_refs(cur), 2); /* cached in the slot */

  /* An iterator holds a reference of its own across installs. */
  strata_iter *it = NULL;
  assert_int_equal(strata_iter_create(db, NULL, &it), 0);
  assert_int_equal(st_sv_refs(cur), 3);
  reinstall(db);
  assert_int_equal(st_sv_refs(cur), 1);
  strata_iter_seek_to_first(it);
  assert_true(strata_iter_valid(it));
  strata_iter_destroy(it); /* frees cur */
  assert_int_equal(installed_refs(db), 1);
  close_db(db, "inuse");
}

/* A thread reads several databases; one is closed while the thread lives
 * and another opened (perhaps at the same address); the thread then exits
 * while the others are open. */
static void test_lifetimes(void **state) {
  (void)state;
  strata_db *a = open_db("a", 0);
  strata_db *b = open_db("b", 0);
  worker *w = worker_start();
  worker_do(w, CMD_GET, a);
  worker_do(w, CMD_GET, b);
  assert_int_equal(touch(a), 0);
  assert_int_equal(st_sv_registry_nslots(&a->svs), 2);
  assert_int_equal(st_sv_registry_nslots(&b->svs), 1);

  close_db(a, "a"); /* frees the worker's and the main thread's slots */
  strata_db *c = open_db("c", 0);
  for (int i = 0; i < 3; i++) {
    worker_do(w, CMD_GET, c);
    worker_do(w, CMD_GET, b);
  }
  assert_int_equal(touch(c), 0);
  assert_int_equal(st_sv_registry_nslots(&c->svs), 2);
  assert_int_equal(st_sv_registry_nslots(&b->svs), 1);
  assert_int_equal(installed_refs(b), 2);

  worker_exit(w);
  assert_int_equal(st_sv_registry_nslots(&b->svs), 0);
  assert_int_equal(st_sv_registry_nslots(&c->svs), 1); /* the main thread's */
  assert_int_equal(installed_refs(b), 1);
  assert_int_equal(installed_refs(c), 2);
  close_db(b, "b");

  /* Many databases opened and closed by one thread, each read once. */
  for (int i = 0; i < 20; i++) {
    strata_db *d = open_db("d", 0);
    assert_int_equal(touch(d), 0);
    assert_int_equal(touch(c), 0);
    assert_int_equal(st_sv_registry_nslots(&d->svs), 1);
    close_db(d, "d");
  }
  assert_int_equal(st_sv_registry_nslots(&c->svs), 1);
  close_db(c, "c");
}

/* ------------------------------------------------------------------------ */
/* Readers against an installer                                             */
/* ------------------------------------------------------------------------ */

typedef struct stress {
  strata_db *db;
  uint64_t base; /* registry number before the first test install */
  atomic_int stop;
  atomic_int failures;
  atomic_long reads;
} stress;

static int gen_of(st_memtable *m, long *gen) {
  st_buf v = ST_BUF_INIT;
  int r = st_memtable_get(m, st_slice_make("gen", 3), ST_MAX_SEQUENCE, &v);
  if (r == ST_MEM_FOUND) {
    char s[32];
    snprintf(s, sizeof s, "%.*s", (int)(v.size < 31 ? v.size : 31), v.data);
    *gen = strtol(s, NULL, 10);
  }
  st_buf_free(&v);
  return r == ST_MEM_FOUND;
}

/* Install i has mem = memtable i, imm = memtable i-1 (each holding
 * gen = its number) and number base + i: a reader checks that all three
 * agree, that numbers never go back, and keeps an iterator now and then
 * across installs. */
static void *stress_reader(void *arg) {
  stress *s = arg;
  uint64_t last = 0;
  long n = 0;
  strata_iter *held = NULL;
  time_t give_up = time(NULL) + 2 * WAIT_SECONDS;
  /* At least one read even when the installer finished before this thread
   * started (a busy machine): the test asserts that reads happened. */
  while (n == 0 || (!atomic_load(&s->stop) && (n % 1024 || time(NULL) < give_up))) {
    uint64_t seq;
    st_superversion *sv = st_db_sv_get(s->db, NULL, &seq);
    int ok = sv->number >= last && sv->number <= atomic_load(&s->db->svs.number);
    last = sv->number;
    if (sv->number > s->base) {
      long i = (long)(sv->number - s->base), g = -1, gi = -1;
      ok = ok && gen_of(sv->mem, &g) && g == i;
      if (i > 1) ok = ok && sv->imm && gen_of(sv->imm, &gi) && gi == i - 1;
    }
    st_db_sv_put(s->db, sv);
    if (!ok) atomic_fetch_add(&s->failures, 1);
    if (++n % 64 == 0) {
      strata_iter_destroy(held);
      held = NULL;
      if (strata_iter_create(s->db, NULL, &held)) atomic_fetch_add(&s->failures, 1);
    }
  }
  strata_iter_destroy(held);
  atomic_fetch_add(&s->reads, n);
  return NULL;
}

static void test_readers_and_installer(void **state) {
  (void)state;
  strata_db *db = open_db("stress", 0);
  stress *s = calloc(1, sizeof *s); /* not on the stack: see worker_start */
  assert_non_null(s);
  s->db = db;
  s->base = atomic_load(&db->svs.number);
  enum { READERS = 4 };
  pthread_t th[READERS];
  for (int i = 0; i < READERS; i++)
    assert_int_equal(pthread_create(&th[i], NULL, stress_reader, s), 0);

  /* No cmocka assert until the readers are joined. */
  int installs = scale_is_asan() ? 500 : 3000, ok = 1;
  st_memtable *prev = NULL;
  for (int i = 1; i <= installs && ok; i++) {
    st_memtable *m = st_memtable_new(db->ucmp);
    st_superversion *fresh = st_sv_new();
    char v[16];
    int len = snprintf(v, sizeof v, "%d", i);
    ok = m && fresh &&
         st_memtable_add(m, 1, ST_TYPE_VALUE, st_slice_make("gen", 3),
                         st_slice_make(v, (size_t)len)) == 0;
    if (!ok) {
      st_memtable_unref(m);
      free(fresh);
      break;
    }
    pthread_mutex_lock(&db->mu);
    st_sv_install(&db->svs, fresh, m, prev, db->vs.current);
    pthread_mutex_unlock(&db->mu);
    st_memtable_unref(prev); /* the superversions hold their own */
    prev = m;
    if (i % 16 == 0) sched_yield();
  }
  atomic_store(&s->stop, 1);
  for (int i = 0; i < READERS; i++)
    pthread_join(th[i], NULL);
  st_memtable_unref(prev);
  assert_true(ok);
  assert_int_equal(atomic_load(&s->failures), 0);
  assert_true(atomic_load(&s->reads) > 0);
  free(s);

  /* The readers are gone: only the database holds the superversion. */
  assert_int_equal(st_sv_registry_nslots(&db->svs), 0);
  assert_int_equal(installed_refs(db), 1);
  reinstall(db); /* back to the database's own memtables */
  assert_int_equal(touch(db), 0);
  close_db(db, "stress");
}

/* ------------------------------------------------------------------------ */
/* Acknowledged writes while memtables switch and flush                     */
/* ------------------------------------------------------------------------ */

enum { NKEYS = 64 };

typedef struct acked {
  strata_db *db;
  atomic_long last[NKEYS]; /* last counter acknowledged for each key */
  atomic_int stop;
  atomic_int failures;
  atomic_long reads;
} acked;

static long parse_counter(const char *p, size_t n) {
  char s[32];
  snprintf(s, sizeof s, "%.*s", (int)(n < 20 ? n : 20), p);
  return strtol(s, NULL, 10);
}

static void *acked_reader(void *arg) {
  acked *a = arg;
  long seen[NKEYS];
  for (int k = 0; k < NKEYS; k++)
    seen[k] = -1;
  unsigned r = (unsigned)(uintptr_t)&seen;
  long n = 0;
  strata_buf b = STRATA_BUF_INIT;
  time_t give_up = time(NULL) + 4 * WAIT_SECONDS;
  while (!atomic_load(&a->stop) && (n % 1024 || time(NULL) < give_up)) {
    r = r * 1103515245u + 12345u;
    int k = (int)((r >> 8) % NKEYS);
    char key[16];
    int klen = snprintf(key, sizeof key, "k%03d", k);
    long want = atomic_load(&a->last[k]); /* before the read starts */
    int bad = 0;
    if (n % 32 == 31) {
      strata_iter *it = NULL;
      if (strata_iter_create(a->db, NULL, &it)) {
        bad = 1;
      } else {
        strata_iter_seek(it, key, (size_t)klen);
        size_t kl = 0, vl = 0;
        const char *kp = strata_iter_valid(it) ? strata_iter_key(it, &kl) : NULL;
        if (kp && kl == (size_t)klen && !memcmp(kp, key, kl)) {
          const char *vp = strata_iter_value(it, &vl);
          long got = parse_counter(vp, vl);
          bad = got < want;
        } else {
          bad = want >= 0;
        }
        strata_iter_destroy(it);
      }
    } else {
      int rc = strata_get(a->db, NULL, key, (size_t)klen, &b);
      if (rc == 0) {
        long got = parse_counter(b.data, b.size);
        bad = got < want || got < seen[k];
        seen[k] = got;
      } else {
        bad = rc != STRATA_ENOTFOUND || want >= 0;
      }
    }
    if (bad) atomic_fetch_add(&a->failures, 1);
    n++;
  }
  strata_buf_free(&b);
  atomic_fetch_add(&a->reads, n);
  return NULL;
}

static void test_acknowledged_writes_visible(void **state) {
  (void)state;
  strata_db *db = open_db("acked", 16 << 10); /* the smallest: many switches */
  acked *a = calloc(1, sizeof *a);
  assert_non_null(a);
  a->db = db;
  for (int k = 0; k < NKEYS; k++)
    atomic_init(&a->last[k], -1);
  uint64_t number0 = atomic_load(&db->svs.number);
  enum { READERS = 2 };
  pthread_t th[READERS];
  for (int i = 0; i < READERS; i++)
    assert_int_equal(pthread_create(&th[i], NULL, acked_reader, a), 0);

  long writes = scale_is_asan() ? 6000 : 20000;
  char val[128];
  memset(val, 'v', sizeof val);
  int failed = 0;
  for (long i = 0; i < writes && !failed; i++) {
    int k = (int)(i % NKEYS);
    char key[16];
    int klen = snprintf(key, sizeof key, "k%03d", k);
    int vlen = snprintf(val, 21, "%020ld", i);
    val[vlen] = 'v';
    failed = strata_put(db, NULL, key, (size_t)klen, val, sizeof val) != 0;
    atomic_store(&a->last[k], i); /* acknowledged */
  }
  atomic_store(&a->stop, 1);
  for (int i = 0; i < READERS; i++)
    pthread_join(th[i], NULL);
  assert_false(failed);
  assert_int_equal(atomic_load(&a->failures), 0);
  assert_true(atomic_load(&a->reads) > 0);
  /* Memtable switches, flushes and compactions each installed one. */
  assert_true(atomic_load(&db->svs.number) > number0 + 20);
  assert_int_equal(st_sv_registry_nslots(&db->svs), 0);
  assert_int_equal(installed_refs(db), 1);
  free(a);
  close_db(db, "acked");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_idle_slot_scraped),
      cmocka_unit_test(test_install_during_read),
      cmocka_unit_test(test_lifetimes),
      cmocka_unit_test(test_readers_and_installer),
      cmocka_unit_test(test_acknowledged_writes_visible),
  };
  return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
