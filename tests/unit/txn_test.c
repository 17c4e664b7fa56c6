/* txn_test.c - transactions (strata.h "Transactions"): read transactions
 * as snapshots, a write transaction reading its own writes through get and
 * iterators (both ways, with seek, and writes made while iterating),
 * atomic commit, abort, conflicts (read-write, write-write, a missing key
 * that appears, a key met by an iterator) that apply nothing, exclusive
 * transactions, sub-databases in transactions, and misuse after the end. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "strata.h"

static char dbpath[256];
static strata_db *db;

static int setup(void **state) {
  (void)state;
  snprintf(dbpath, sizeof dbpath, "/tmp/strata_txn_test_%d", (int)getpid());
  strata_destroy(dbpath, NULL);
  strata_options o;
  strata_options_init(&o);
  o.create_if_missing = 1;
  o.write_buffer_size = 64 << 10;
  if (strata_open(dbpath, &o, &db)) fail_msg("open: %s", strata_errmsg());
  return 0;
}

static int teardown(void **state) {
  (void)state;
  strata_close(db);
  db = NULL;
  strata_destroy(dbpath, NULL);
  return 0;
}

static void put(strata_subdb *s, const char *k, const char *v) {
  if (strata_put_in(db, s, NULL, k, strlen(k), v, strlen(v)))
    fail_msg("put %s: %s", k, strata_errmsg());
}

static char *dbget(strata_subdb *s, const char *k) {
  static char out[256];
  strata_buf v = STRATA_BUF_INIT;
  int rc = strata_get_in(db, s, NULL, k, strlen(k), &v);
  if (rc == STRATA_ENOTFOUND) return NULL;
  if (rc) fail_msg("get %s: %s", k, strata_errmsg());
  snprintf(out, sizeof out, "%.*s", (int)v.size, v.data);
  strata_buf_free(&v);
  return out;
}

static char *tget(strata_txn *t, strata_subdb *s, const char *k) {
  static char out[256];
  strata_buf v = STRATA_BUF_INIT;
  int rc = strata_txn_get(t, s, k, strlen(k), &v);
  if (rc == STRATA_ENOTFOUND) return NULL;
  if (rc) fail_msg("txn get %s: %s", k, strata_errmsg());
  snprintf(out, sizeof out, "%.*s", (int)v.size, v.data);
  strata_buf_free(&v);
  return out;
}

static void tput(strata_txn *t, strata_subdb *s, const char *k, const char *v) {
  if (strata_txn_put(t, s, k, strlen(k), v, strlen(v)))
    fail_msg("txn put %s: %s", k, strata_errmsg());
}

static strata_txn *begin(int write) {
  strata_txn_options o;
  strata_txn_options_init(&o);
  o.write = write;
  strata_txn *t = NULL;
  if (strata_txn_begin(db, &o, &t)) fail_msg("begin: %s", strata_errmsg());
  return t;
}

/* "k=v,k=v" of an iterator, forward or backward. */
static char *dump(strata_iter *it, int reverse) {
  static char out[4096];
  size_t n = 0;
  out[0] = '\0';
  if (reverse)
    strata_iter_seek_to_last(it);
  else
    strata_iter_seek_to_first(it);
  for (; strata_iter_valid(it); reverse ? strata_iter_prev(it) : strata_iter_next(it)) {
    size_t kl, vl;
    const char *k = strata_iter_key(it, &kl), *v = strata_iter_value(it, &vl);
    n += (size_t)snprintf(out + n, sizeof out - n, "%s%.*s=%.*s", n ? "," : "", (int)kl, k, (int)vl,
                          v);
  }
  assert_int_equal(strata_iter_status(it), 0);
  return out;
}

static void test_read_txn_is_a_snapshot(void **state) {
  (void)state;
  put(NULL, "a", "1");
  strata_txn *t = begin(0);
  put(NULL, "a", "2");
  put(NULL, "b", "new");
  assert_string_equal(tget(t, NULL, "a"), "1");
  assert_null(tget(t, NULL, "b"));
  strata_iter *it = NULL;
  assert_int_equal(strata_txn_iter_create(t, NULL, NULL, &it), 0);
  assert_string_equal(dump(it, 0), "a=1");
  /* Its snapshot works with the plain calls too. */
  strata_read_options ro;
  strata_read_options_init(&ro);
  ro.snapshot = strata_txn_snapshot(t);
  strata_buf v = STRATA_BUF_INIT;
  assert_int_equal(strata_get(db, &ro, "a", 1, &v), 0);
  assert_memory_equal(v.data, "1", 1);
  strata_buf_free(&v);
  assert_int_equal(strata_txn_put(t, NULL, "x", 1, "y", 1), STRATA_EMISUSE);
  assert_int_equal(strata_txn_active(t), 1);
  assert_int_equal(strata_txn_commit(t), 0);
  assert_int_equal(strata_txn_active(t), 0);
  /* After the end: misuse, never a crash. */
  assert_int_equal(strata_txn_commit(t), STRATA_EMISUSE);
  assert_int_equal(strata_txn_abort(t), STRATA_EMISUSE);
  assert_int_equal(strata_txn_get(t, NULL, "a", 1, &v), STRATA_EMISUSE);
  strata_iter_seek_to_first(it);
  assert_false(strata_iter_valid(it));
  assert_int_equal(strata_iter_status(it), STRATA_EMISUSE);
  strata_iter *it2 = NULL;
  assert_int_equal(strata_txn_iter_create(t, NULL, NULL, &it2), STRATA_EMISUSE);
  strata_iter_destroy(it);
  strata_txn_destroy(t);
}

static void test_read_your_writes(void **state) {
  (void)state;
  put(NULL, "b", "db-b");
  put(NULL, "d", "db-d");
  put(NULL, "f", "db-f");
  strata_txn *t = begin(1);
  tput(t, NULL, "a", "t-a");
  tput(t, NULL, "d", "t-d");
  assert_int_equal(strata_txn_delete(t, NULL, "f", 1), 0);
  tput(t, NULL, "g", "t-g");
  assert_string_equal(tget(t, NULL, "a"), "t-a");
  assert_string_equal(tget(t, NULL, "b"), "db-b");
  assert_string_equal(tget(t, NULL, "d"), "t-d");
  assert_null(tget(t, NULL, "f"));
  /* Not visible outside before commit. */
  assert_null(dbget(NULL, "a"));
  assert_string_equal(dbget(NULL, "f"), "db-f");

  strata_iter *it = NULL;
  assert_int_equal(strata_txn_iter_create(t, NULL, NULL, &it), 0);
  assert_string_equal(dump(it, 0), "a=t-a,b=db-b,d=t-d,g=t-g");
  assert_string_equal(dump(it, 1), "g=t-g,d=t-d,b=db-b,a=t-a");
  strata_iter_seek(it, "c", 1);
  size_t kl;
  assert_memory_equal(strata_iter_key(it, &kl), "d", 1);
  /* Writes made while iterating are seen at the next move, ahead and
   * behind, and a deleted current key is stepped over. */
  tput(t, NULL, "e", "t-e");
  strata_iter_next(it);
  assert_memory_equal(strata_iter_key(it, &kl), "e", 1);
  assert_int_equal(strata_txn_delete(t, NULL, "e", 1), 0);
  tput(t, NULL, "c", "t-c");
  strata_iter_prev(it);
  assert_memory_equal(strata_iter_key(it, &kl), "d", 1);
  strata_iter_prev(it);
  assert_memory_equal(strata_iter_key(it, &kl), "c", 1);
  assert_int_equal(strata_txn_delete(t, NULL, "d", 1), 0);
  strata_iter_next(it);
  assert_memory_equal(strata_iter_key(it, &kl), "g", 1);
  assert_int_equal(strata_txn_delete(t, NULL, "g", 1), 0);
  strata_iter_prev(it);
  assert_memory_equal(strata_iter_key(it, &kl), "c", 1);
  assert_string_equal(dump(it, 0), "a=t-a,b=db-b,c=t-c");
  strata_iter_destroy(it);

  assert_int_equal(strata_txn_commit(t), 0);
  strata_txn_destroy(t);
  assert_string_equal(dbget(NULL, "a"), "t-a");
  assert_string_equal(dbget(NULL, "c"), "t-c");
  assert_null(dbget(NULL, "d"));
  assert_null(dbget(NULL, "e"));
  assert_null(dbget(NULL, "f"));
  assert_null(dbget(NULL, "g"));
}

static void test_abort_discards(void **state) {
  (void)state;
  strata_txn *t = begin(1);
  tput(t, NULL, "a", "1");
  assert_int_equal(strata_txn_abort(t), 0);
  assert_int_equal(strata_txn_put(t, NULL, "b", 1, "2", 1), STRATA_EMISUSE);
  strata_txn_destroy(t);
  assert_null(dbget(NULL, "a"));
  /* Destroy of an open transaction aborts it. */
  t = begin(1);
  tput(t, NULL, "a", "1");
  strata_txn_destroy(t);
  assert_null(dbget(NULL, "a"));
}

static void test_conflicts(void **state) {
  (void)state;
  put(NULL, "x", "0");
  /* Read-write: t read x, someone wrote x. */
  strata_txn *t = begin(1);
  assert_string_equal(tget(t, NULL, "x"), "0");
  tput(t, NULL, "y", "from t");
  put(NULL, "x", "1");
  assert_int_equal(strata_txn_commit(t), STRATA_ECONFLICT);
  assert_non_null(strstr(strata_errmsg(), "Conflict: key 'x' changed since the transaction began"));
  strata_txn_destroy(t);
  assert_null(dbget(NULL, "y")); /* nothing applied */

  /* Write-write: both write z; the second to commit loses. */
  strata_txn *a = begin(1), *b = begin(1);
  tput(a, NULL, "z", "a");
  tput(b, NULL, "z", "b");
  assert_int_equal(strata_txn_commit(b), 0);
  assert_int_equal(strata_txn_commit(a), STRATA_ECONFLICT);
  strata_txn_destroy(a);
  strata_txn_destroy(b);
  assert_string_equal(dbget(NULL, "z"), "b");

  /* A key read as missing that appears is a change too. */
  t = begin(1);
  assert_null(tget(t, NULL, "ghost"));
  tput(t, NULL, "w", "1");
  put(NULL, "ghost", "boo");
  assert_int_equal(strata_txn_commit(t), STRATA_ECONFLICT);
  strata_txn_destroy(t);

  /* So is a deletion of a key the transaction read. */
  t = begin(1);
  assert_string_equal(tget(t, NULL, "ghost"), "boo");
  tput(t, NULL, "w", "1");
  assert_int_equal(strata_delete(db, NULL, "ghost", 5), 0);
  assert_int_equal(strata_txn_commit(t), STRATA_ECONFLICT);
  strata_txn_destroy(t);

  /* A key met through the transaction's iterator. */
  put(NULL, "r1", "a");
  t = begin(1);
  strata_iter *it = NULL;
  assert_int_equal(strata_txn_iter_create(t, NULL, NULL, &it), 0);
  strata_iter_seek(it, "r1", 2);
  assert_true(strata_iter_valid(it));
  strata_iter_destroy(it);
  tput(t, NULL, "w", "2");
  put(NULL, "r1", "b");
  assert_int_equal(strata_txn_commit(t), STRATA_ECONFLICT);
  strata_txn_destroy(t);

  /* Unrelated writes do not conflict, even after the flush of the
   * memtable and a compaction moved the keys into tables. */
  t = begin(1);
  assert_string_equal(tget(t, NULL, "x"), "1");
  tput(t, NULL, "x", "2");
  char k[16];
  for (int i = 0; i < 2000; i++) {
    snprintf(k, sizeof k, "other%05d", i);
    put(NULL, k, "0123456789012345678901234567890123456789");
  }
  assert_int_equal(strata_compact_range(db, NULL, 0, NULL, 0), 0);
  assert_int_equal(strata_txn_commit(t), 0);
  strata_txn_destroy(t);
  assert_string_equal(dbget(NULL, "x"), "2");

  /* A change that reached a table is still seen by the check. */
  t = begin(1);
  assert_string_equal(tget(t, NULL, "x"), "2");
  tput(t, NULL, "x", "3");
  put(NULL, "x", "outside");
  assert_int_equal(strata_compact_range(db, NULL, 0, NULL, 0), 0);
  assert_int_equal(strata_txn_commit(t), STRATA_ECONFLICT);
  strata_txn_destroy(t);
  assert_string_equal(dbget(NULL, "x"), "outside");

  /* Only reads: commit checks them. */
  t = begin(1);
  assert_string_equal(tget(t, NULL, "x"), "outside");
  put(NULL, "x", "again");
  assert_int_equal(strata_txn_commit(t), STRATA_ECONFLICT);
  strata_txn_destroy(t);

  /* Write-only: the key's change after S was flushed to a table before the
   * commit, so the check must search the tables (the memtables no longer
   * hold every write after S). */
  t = begin(1);
  tput(t, NULL, "w", "mine");
  put(NULL, "w", "theirs");
  assert_int_equal(strata_compact_range(db, NULL, 0, NULL, 0), 0);
  assert_int_equal(strata_txn_commit(t), STRATA_ECONFLICT);
  strata_txn_destroy(t);
  assert_string_equal(dbget(NULL, "w"), "theirs");

  /* A key only in a table from before S, later writes only in the
   * memtable: the memtables hold every write after S, and none is to x. */
  assert_int_equal(strata_compact_range(db, NULL, 0, NULL, 0), 0);
  t = begin(1);
  put(NULL, "unrelated", "1");
  tput(t, NULL, "x", "4");
  assert_int_equal(strata_txn_commit(t), 0);
  strata_txn_destroy(t);
  assert_string_equal(dbget(NULL, "x"), "4");
  /* ...and a change to x in the memtable is still a conflict. */
  t = begin(1);
  tput(t, NULL, "x", "5");
  put(NULL, "x", "6");
  assert_int_equal(strata_txn_commit(t), STRATA_ECONFLICT);
  strata_txn_destroy(t);
  assert_string_equal(dbget(NULL, "x"), "6");
}

static void test_subdbs_in_txn(void **state) {
  (void)state;
  strata_subdb *a = NULL, *b = NULL;
  assert_int_equal(strata_subdb_open(db, "a", 1, &a), 0);
  assert_int_equal(strata_subdb_open(db, "b", 1, &b), 0);
  put(a, "k", "db-a");
  strata_txn *t = begin(1);
  tput(t, a, "k", "t-a");
  tput(t, b, "k", "t-b");
  tput(t, NULL, "k", "t-main");
  tput(t, a, "l", "t-a-l");
  assert_string_equal(tget(t, a, "k"), "t-a");
  assert_string_equal(tget(t, b, "k"), "t-b");
  assert_string_equal(tget(t, NULL, "k"), "t-main");
  strata_iter *it = NULL;
  assert_int_equal(strata_txn_iter_create(t, a, NULL, &it), 0);
  assert_string_equal(dump(it, 0), "k=t-a,l=t-a-l");
  assert_string_equal(dump(it, 1), "l=t-a-l,k=t-a");
  strata_iter_destroy(it);
  assert_int_equal(strata_txn_iter_create(t, NULL, NULL, &it), 0);
  assert_string_equal(dump(it, 0), "k=t-main");
  strata_iter_destroy(it);
  /* The reserved range is not writable through the main database. */
  assert_int_equal(strata_txn_put(t, NULL, "\xff\xffstrata\x00x", 10, "v", 1), STRATA_EINVAL);
  assert_int_equal(strata_txn_commit(t), 0);
  strata_txn_destroy(t);
  assert_string_equal(dbget(a, "k"), "t-a");
  assert_string_equal(dbget(b, "k"), "t-b");
  assert_string_equal(dbget(NULL, "k"), "t-main");

  /* A conflict names the sub-database. */
  t = begin(1);
  assert_string_equal(tget(t, b, "k"), "t-b");
  tput(t, a, "m", "1");
  put(b, "k", "changed");
  assert_int_equal(strata_txn_commit(t), STRATA_ECONFLICT);
  assert_non_null(strstr(strata_errmsg(), "sub-database 'b' key 'k'"));
  strata_txn_destroy(t);

  /* Dropped while the transaction wrote to it: the commit fails whole. */
  t = begin(1);
  tput(t, NULL, "before-drop", "1");
  tput(t, a, "z", "1");
  assert_int_equal(strata_subdb_drop(db, a, NULL), 0);
  assert_int_equal(strata_txn_commit(t), STRATA_EINVAL);
  strata_txn_destroy(t);
  assert_null(dbget(NULL, "before-drop"));
}

typedef struct excl_arg {
  atomic_int began;
  atomic_int committed_first;
} excl_arg;

static void *second_exclusive(void *p) {
  excl_arg *e = p;
  strata_txn_options o;
  strata_txn_options_init(&o);
  o.write = 1;
  o.exclusive = 1;
  strata_txn *t = NULL;
  if (strata_txn_begin(db, &o, &t)) return NULL;
  /* Began only after the first ended, and sees its write. */
  atomic_store(&e->began, atomic_load(&e->committed_first) ? 1 : -1);
  strata_buf v = STRATA_BUF_INIT;
  if (strata_txn_get(t, NULL, "ex", 2, &v) != 0 || v.size != 5 || memcmp(v.data, "first", 5))
    atomic_store(&e->began, -2);
  strata_buf_free(&v);
  strata_txn_put(t, NULL, "ex", 2, "second", 6);
  if (strata_txn_commit(t) != 0) atomic_store(&e->began, -3);
  strata_txn_destroy(t);
  return NULL;
}

static void test_exclusive(void **state) {
  (void)state;
  strata_txn_options o;
  strata_txn_options_init(&o);
  o.write = 1;
  o.exclusive = 1;
  o.sync = 1;
  strata_txn *t = NULL;
  assert_int_equal(strata_txn_begin(db, &o, &t), 0);
  /* A second one on the same thread would wait for itself: refused. */
  strata_txn *t2 = NULL;
  assert_int_equal(strata_txn_begin(db, &o, &t2), STRATA_EMISUSE);
  assert_null(t2);
  excl_arg e;
  atomic_init(&e.began, 0);
  atomic_init(&e.committed_first, 0);
  pthread_t th;
  assert_int_equal(pthread_create(&th, NULL, second_exclusive, &e), 0);
  /* However long we wait here, the second cannot begin. */
  usleep(50000);
  assert_int_equal(atomic_load(&e.began), 0);
  tput(t, NULL, "ex", "first");
  atomic_store(&e.committed_first, 1);
  assert_int_equal(strata_txn_commit(t), 0);
  pthread_join(th, NULL);
  assert_int_equal(atomic_load(&e.began), 1);
  strata_txn_destroy(t);
  assert_string_equal(dbget(NULL, "ex"), "second");
}

static void test_given_snapshot(void **state) {
  (void)state;
  put(NULL, "s", "old");
  const strata_snapshot *snap = strata_snapshot_get(db);
  put(NULL, "s", "new");
  strata_txn_options o;
  strata_txn_options_init(&o);
  o.snapshot = snap;
  o.write = 1;
  strata_txn *t = NULL;
  assert_int_equal(strata_txn_begin(db, &o, &t), 0);
  assert_ptr_equal(strata_txn_snapshot(t), snap);
  assert_string_equal(tget(t, NULL, "s"), "old");
  tput(t, NULL, "s", "mine");
  /* The write after the snapshot makes it conflict. */
  assert_int_equal(strata_txn_commit(t), STRATA_ECONFLICT);
  strata_txn_destroy(t);
  strata_snapshot_release(db, snap); /* the caller's, still valid */
}

/* Counters bumped by threads in transactions that retry on conflict: no
 * update is lost. */
#define NTHREADS 4
#define NINCR 200

static void *incrementer(void *p) {
  int exclusive = (int)(intptr_t)p;
  for (int i = 0; i < NINCR; i++) {
    for (;;) {
      strata_txn_options o;
      strata_txn_options_init(&o);
      o.write = 1;
      o.exclusive = exclusive;
      strata_txn *t = NULL;
      if (strata_txn_begin(db, &o, &t)) return (void *)1;
      strata_buf v = STRATA_BUF_INIT;
      int rc = strata_txn_get(t, NULL, "counter", 7, &v);
      char num[32] = "0";
      if (rc == 0) snprintf(num, sizeof num, "%.*s", (int)v.size, v.data); /* not NUL-ended */
      long n = strtol(num, NULL, 10);
      strata_buf_free(&v);
      char buf[32];
      int len = snprintf(buf, sizeof buf, "%ld", n + 1);
      strata_txn_put(t, NULL, "counter", 7, buf, (size_t)len);
      rc = strata_txn_commit(t);
      strata_txn_destroy(t);
      if (rc == 0) break;
      if (rc != STRATA_ECONFLICT) return (void *)1;
    }
  }
  return NULL;
}

static void test_no_lost_update(void **state) {
  (void)state;
  pthread_t th[NTHREADS];
  for (int i = 0; i < NTHREADS; i++)
    assert_int_equal(pthread_create(&th[i], NULL, incrementer, (void *)(intptr_t)(i % 2)), 0);
  for (int i = 0; i < NTHREADS; i++) {
    void *r;
    pthread_join(th[i], &r);
    assert_null(r);
  }
  char want[16];
  snprintf(want, sizeof want, "%d", NTHREADS * NINCR);
  assert_string_equal(dbget(NULL, "counter"), want);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_read_txn_is_a_snapshot, setup, teardown),
      cmocka_unit_test_setup_teardown(test_read_your_writes, setup, teardown),
      cmocka_unit_test_setup_teardown(test_abort_discards, setup, teardown),
      cmocka_unit_test_setup_teardown(test_conflicts, setup, teardown),
      cmocka_unit_test_setup_teardown(test_subdbs_in_txn, setup, teardown),
      cmocka_unit_test_setup_teardown(test_exclusive, setup, teardown),
      cmocka_unit_test_setup_teardown(test_given_snapshot, setup, teardown),
      cmocka_unit_test_setup_teardown(test_no_lost_update, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
