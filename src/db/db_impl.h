/*
 * db_impl.h - the database handle (struct strata_db) shared by the files
 * that implement strata.h: db.c (open, close, writes, reads, snapshots),
 * db_compact.c (the background thread: memtable flushes and compactions),
 * db_iter.c (the user-facing iterator), db_props.c (properties, sizes,
 * destroy), db_readonly.c (read-only handles and strata_catch_up).
 *
 * Locking: `mu` guards every field marked [mu]. The memtable `mem` is
 * written only by the writer at the head of the write queue, without the
 * lock (readers read it lock-free, see memtable.h). Fields marked [const]
 * are set at open and never change.
 */
#ifndef ST_DB_IMPL_H
#define ST_DB_IMPL_H

#include <pthread.h>
#include <stdatomic.h>

#include "db/memtable.h"
#include "db/superversion.h"
#include "db/table_cache.h"
#include "db/version_set.h"
#include "db/write_batch.h"
#include "env/env.h"
#include "strata.h"
#include "util/error.h"

struct strata_snapshot {
  uint64_t sequence;
  struct strata_snapshot *prev, *next;
  /* Read-only handles only: the state the snapshot reads, pinned (see
   * db_readonly.c). Not set on other handles. */
  st_superversion *sv;
};

/* One caller of write(), waiting in the write queue. */
typedef struct st_writer {
  const strata_batch *batch; /* NULL: only make room (force a flush) */
  /* If not NULL, called by this writer once it heads the queue, before its
   * batch is applied and with no other write in progress (mu released): a
   * non-zero return fails the write and applies nothing. A transaction's
   * commit check (txn.c); such a writer is never grouped behind another. */
  int (*check)(void *arg);
  void *check_arg;
  strata_snapshot *snapshot; /* post-write snapshot to fill in, or NULL */
  int sync;
  int done;
  int rc;
  st_error err; /* the leader's error message, for rc != 0 */
  int cv_ready; /* cv is initialised only by a writer that has to wait */
  pthread_cond_t cv;
  struct st_writer *next;
} st_writer;

/* A strata_compact_range() request served by the background thread. */
typedef struct st_manual_compaction {
  int level;
  int done;
  int has_begin, has_end;
  st_buf begin, end; /* internal keys; begin advances as work proceeds */
  int rc;
} st_manual_compaction;

struct st_ingest; /* db/ingest.h */

typedef struct st_level_stats {
  int64_t micros, bytes_read, bytes_written;
} st_level_stats;

struct strata_db {
  char *dbname;                /* [const] */
  st_env *env;                 /* [const] */
  strata_options opts;         /* [const] sanitised */
  const st_comparator *ucmp;   /* [const] */
  struct st_readonly *ro;      /* [const] read-only handles' state (db_readonly.c), else NULL;
                                  beside what every read reads */
  st_table_options topt;       /* [const] */
  st_cache *block_cache;       /* [const] */
  strata_cache *own_cache;     /* [const] the private cache, if no shared one */
  st_table_cache *table_cache; /* [const] owned */
  st_filelock *lock;           /* [const] */
  st_wfile *info_log;          /* [const] LOG, may be NULL */
  pthread_mutex_t info_log_mu;

  /* On a cache line of its own: every write takes it, and fields the
   * background thread writes must not share its line. */
  _Alignas(64) pthread_mutex_t mu;
  pthread_cond_t bg_cv;   /* broadcast when background work finishes */
  pthread_cond_t work_cv; /* wakes the background thread */
  st_thread *bg_thread;
  st_thread *deleter; /* [mu] thread unlinking obsolete files, or NULL */
  int shutting_down;  /* [mu] */
  atomic_int has_imm; /* imm != NULL, readable without mu */

  /* Readers never take mu: they read mem, imm and the current version
   * through the installed superversion (superversion.h), which they
   * usually find cached in a slot of their own thread. Whoever changes
   * mem, imm or vs.current installs a new one (st_db_install_sv) before
   * releasing mu. */
  st_memtable *mem; /* [mu] to swap; its contents: see above */
  st_memtable *imm; /* [mu] memtable being flushed, or NULL */
  /* The last sequence number readers may see: vs.last_sequence as
   * published by the write path (release store after the memtable insert). */
  _Atomic uint64_t visible_sequence;
  st_log_writer *log;      /* [mu] to swap; written by the queue head */
  st_log_writer *old_log;  /* [mu] previous log, not yet synced and closed */
  int dir_sync_pending;    /* [mu] the new log's directory entry unsynced */
  int settling;            /* [mu] a thread is in st_db_settle_logs */
  uint64_t logfile_number; /* [mu] */

  _Alignas(64) st_writer *wq_head, *wq_tail; /* [mu] write queue */
  strata_batch group;                        /* used by the queue head only */

  strata_snapshot snapshots; /* [mu] list head (oldest first) */

  uint64_t *pending; /* [mu] numbers of tables being written */
  size_t npending, cap_pending;

  st_version_set vs;                   /* [mu] */
  st_error bg_error;                   /* [mu] sticky; code 0 = none */
  st_manual_compaction *manual;        /* [mu] */
  struct st_ingest *ingest;            /* [mu] tables to add (ingest.h), or NULL */
  int bg_busy;                         /* [mu] background thread is working */
  st_level_stats stats[ST_NUM_LEVELS]; /* [mu] */

  st_sv_registry svs; /* the installed superversion; own cache lines */

  /* Transactions (txn.c). */
  pthread_mutex_t txn_mu;
  pthread_cond_t txn_cv;     /* an exclusive write transaction ended */
  int exclusive_open;        /* [txn_mu] an exclusive write transaction is open */
  pthread_t exclusive_owner; /* [txn_mu] the thread that began it */

  /* Sub-databases (subdb.c). Lock order: subdb_mu, then mu. */
  pthread_mutex_t subdb_mu;
  strata_subdb *subdbs;         /* [subdb_mu] every handle made (dropped ones
                                   too, until close), newest first */
  uint32_t next_subdb_id;       /* [subdb_mu] */
  uint32_t *dropped_ids;        /* [mu] sorted: compactions discard these ids'
                                   records */
  size_t ndropped, cap_dropped; /* [mu] */
  uint32_t *cleanup_ids;        /* [mu] dropped ids whose ranges the cleanup
                                   thread is to compact */
  size_t ncleanup, cap_cleanup; /* [mu] */
  st_thread *cleanup_thread;    /* [mu] */
  int cleanup_running;          /* [mu] */
};

/* --- db.c --- */
/* Records a background (or write-path) error: every later write fails with
 * it. REQUIRE: mu held. */
void st_db_record_bg_error(strata_db *db, int rc);
/* Writes a line to the info log (LOG). Thread-safe. */
void st_db_log(strata_db *db, const char *fmt, ...) ST_PRINTF(2, 3);
/* The superversion to read (mem, imm, current version) -- without mu,
 * usually without a read-modify-write on a shared cache line -- and in
 * *seq the sequence number to read at (ropt's snapshot's, or the latest
 * visible).
 * Hand it back with st_db_sv_put on the same thread; to keep it longer
 * (an iterator), take a reference with st_sv_ref first. */
st_superversion *st_db_sv_get(strata_db *db, const strata_read_options *ropt, uint64_t *seq);
void st_db_sv_put(strata_db *db, st_superversion *sv);
/* strata_snapshot_get/release on a snapshot the caller allocates (a read
 * transaction embeds its own: one allocation instead of two). take fills s
 * and links it into db's list; drop unlinks it; the memory stays the
 * caller's. Thread-safe (mu taken inside; REQUIRE: mu not held). */
void st_db_snapshot_take(strata_db *db, strata_snapshot *s);
void st_db_snapshot_drop(strata_db *db, strata_snapshot *s);
/* Installs fresh (from st_sv_new) as the superversion of db->mem, db->imm
 * and db->vs.current. Call whenever one of them changes. REQUIRE: mu held. */
void st_db_install_sv(strata_db *db, st_superversion *fresh);
/* st_vset_log_and_apply, then a superversion for the new version.
 * REQUIRE: mu held (released inside). */
int st_db_log_and_apply(strata_db *db, st_version_edit *edit);
/* The table read options for a read with ropt (may be NULL). */
st_read_opts st_db_read_opts(const strata_db *db, const strata_read_options *ropt);
/* Applies batch (NULL: force the memtable to be flushed). */
int st_db_write(strata_db *db, int sync, const strata_batch *batch,
                const strata_snapshot **post_write_snapshot);
/* Applies batch once check(arg) (see st_writer) has returned 0 at the head
 * of the write queue; returns check's error otherwise, applying nothing. */
int st_db_write_checked(strata_db *db, int sync, const strata_batch *batch, int (*check)(void *arg),
                        void *arg);
/* Point read of the stored key `key` (no reserved-range rule), as
 * strata_get. */
int st_db_get(strata_db *db, const strata_read_options *ropt, st_slice key, strata_buf *val);
/* A put or delete of the stored key prefix+key (no reserved-range rule;
 * leveldb/c.h writes every key as LevelDB does), as strata_put. */
int st_db_put(strata_db *db, const strata_write_options *wopt, st_slice prefix, const void *key,
              size_t klen, const void *val, size_t vlen);
int st_db_delete(strata_db *db, const strata_write_options *wopt, st_slice prefix, const void *key,
                 size_t klen);
int st_db_pending_add(strata_db *db, uint64_t number);     /* mu held */
void st_db_pending_remove(strata_db *db, uint64_t number); /* mu held */
uint64_t st_db_smallest_snapshot(strata_db *db);           /* mu held */

/* Syncs the previous log and the directory after a log switch, if not done
 * yet. REQUIRE: mu held (released inside). */
int st_db_settle_logs(strata_db *db);

/* --- db_compact.c --- */
void st_db_bg_thread(void *arg);
/* Waits for the thread deleting obsolete files, if one is running. Called
 * by close before the database is freed (and the LOCK released). */
void st_db_join_deleter(strata_db *db);
/* Wakes the background thread if there is work. REQUIRE: mu held. */
void st_db_maybe_schedule(strata_db *db);
/* Compacts the tables overlapping [begin, end] (user keys; NULL: open)
 * level by level down to the deepest level holding any, as
 * strata_compact_range without flushing the memtable first; with rewrite,
 * the deepest level's tables are compacted one level further too, so
 * every table in the range is rewritten (what discards a dropped
 * sub-database's records). Returns early (STRATA_EIO, "database is
 * closing") when the database closes. */
int st_db_compact_tables(strata_db *db, const st_slice *begin, const st_slice *end, int rewrite);
/* Flushes mem to a level-0 table during recovery (no version base) or imm
 * at run time; adds the file to edit. REQUIRE: mu held (released inside). */
int st_db_write_level0_table(strata_db *db, st_memtable *mem, st_version_edit *edit,
                             st_version *base);
/* Deletes files no version needs. REQUIRE: mu held (released inside). */
void st_db_delete_obsolete_files(strata_db *db);

/* --- db_readonly.c: read-only handles (hooks in db.c marked "read-only") --- */
/* Table cache entries of a read-only handle: its cache must never evict a
 * table (db_readonly.c explains why); this many is never reached. */
#define ST_RO_TABLE_CACHE_ENTRIES (1 << 24)
/* Reads the state of db, set up by strata_open up to its version set,
 * without taking the lock or writing. db->ro is set (freed by st_ro_free
 * even on error). */
int st_ro_open(strata_db *db);
void st_ro_free(strata_db *db); /* NULL db->ro: no-op */
/* STRATA_EINVAL "read-only database: <what> is not allowed ...". */
int st_ro_refuse_write(strata_db *db, const char *what);
/* 0 on a handle that may write, else st_ro_refuse_write's error. For every
 * call that would write. */
static inline int st_db_check_writable(strata_db *db, const char *what) {
  return db->ro ? st_ro_refuse_write(db, what) : 0;
}
/* st_db_sv_get of a read-only handle: the installed superversion and its
 * own sequence number, or a snapshot's pinned superversion. */
st_superversion *st_ro_sv_get(strata_db *db, const strata_read_options *ropt, uint64_t *seq);
/* A read-only handle's snapshot pins the installed superversion (and takes
 * its sequence number); unpin drops it. */
void st_ro_snapshot_pin(strata_db *db, strata_snapshot *s);
void st_ro_snapshot_unpin(strata_db *db, strata_snapshot *s);
/* --- ingest.c --- */
/* Serves db->ingest (not yet done): checks the tables against the
 * database, adds them, sets done. Called by the background thread.
 * REQUIRE: mu held (released inside). */
void st_db_run_ingest(strata_db *db);

/* --- db_iter.c --- */
/* What an iterator shows: every key (leveldb/c.h), the main database
 * without the reserved range (strata.h), or one sub-database. */
enum { ST_ITER_RAW, ST_ITER_MAIN, ST_ITER_SUBDB };
/* An iterator over internal iterator `internal` (owned) showing the user
 * view at `sequence` in mode; prefix is the sub-database's key prefix
 * (SUBDB; borrowed, must outlive the iterator), ignored otherwise. NULL
 * when out of memory (internal is destroyed then). */
strata_iter *st_db_iter_new(strata_db *db, st_iter *internal, uint64_t sequence, int mode,
                            st_slice prefix);
/* Makes it a transaction's iterator (db_iter.c's top comment), reading the
 * transaction's state at write count ops. */
void st_db_iter_set_txn(strata_iter *it, strata_txn *txn, uint64_t ops);
/* A raw iterator (every key) over the current state for the library's
 * own reads (the sub-database catalog at open): it takes no thread slot
 * (superversion.h). */
int st_db_iter_create_internal(strata_db *db, strata_iter **itp);
/* The merged internal iterator over sv's memtables and version, taking
 * over the caller's reference on sv (released when the iterator is
 * destroyed, or here on failure). No lock needed. */
int st_db_internal_iter(strata_db *db, const st_read_opts *ro, st_superversion *sv, st_iter **out);

#endif
