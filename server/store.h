/*
 * store.h - how Redis's key space maps onto the Strata database, and the
 * write contexts that make Redis's single-threaded semantics hold while
 * many threads write at once.
 *
 * Records (what the server keeps; doc/server.md has the same list):
 *   - A string key k of database 0 with value v is the main-database record
 *     k -> v: exactly what strata_put(db, k, v) writes, so the C and Python
 *     APIs, the strata tool and LevelDB read it as is.
 *   - Database n > 0 (SELECT n) is the sub-database named "redis/<n>",
 *     with the same k -> v records.
 *   - Expiry times live outside the values, in two sub-databases per
 *     Redis database n: "redis/expire/<n>" holds k -> when (8 bytes,
 *     big-endian milliseconds since the Unix epoch) and
 *     "redis/expire-at/<n>" holds when k -> "" (the same facts ordered by
 *     time, so the background sweeper finds expired keys with one seek).
 *     A key and its expiry records are always written in one batch.
 * Keys of database 0 that begin with Strata's reserved prefix
 * (STRATA_RESERVED_PREFIX: "\xff\xff" "strata" "\x00") cannot be stored:
 * such a SET answers an error; reads treat them as missing.
 *
 * Reads never take a lock: a key whose expiry time has passed reads as
 * missing at once, for every reader, whether or not the sweeper has
 * removed it yet.
 *
 * Writes go through a write context (sv_wctx): the keys the command or
 * pipelined run of commands will touch are locked first (striped mutexes,
 * taken in one order, so two contexts never deadlock), every read the
 * commands make sees the context's own earlier writes, and the writes are
 * committed as one Strata batch, synced per the sync mode -- one log
 * record and at most one fdatasync for the whole run. Because a key's
 * writers hold its lock from their read to their commit, read-modify-write
 * commands (INCR, APPEND, SET NX, ...) are atomic as in redis-server, while
 * readers, which take no lock, never wait behind a synced write.
 *
 * Thread-safety: sv_store functions may be called from any thread; one
 * sv_wctx is used by one thread.
 */
#ifndef SV_STORE_H
#define SV_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "strata.h"

typedef struct sv_store sv_store;

/* Expiry values. */
#define SV_NO_EXPIRE (-1LL)   /* the key has no expiry time */
#define SV_KEEP_EXPIRE (-2LL) /* sv_wctx_put: leave the key's expiry as it is */

/* Opens (creating when missing) the database in cfg->dir with the options
 * of cfg. Returns 0, or -1 with a message in err. */
int sv_store_open(sv_config *cfg, sv_store **out, char *err, size_t errcap);
/* Closes the database. Every write context must have ended. */
void sv_store_close(sv_store *s);
strata_db *sv_store_db(sv_store *s);

/* Wall-clock milliseconds since the Unix epoch: the clock of expiry. */
int64_t sv_now_ms(void);

/* The sub-database of Redis database dbi (NULL for 0), opening (and, with
 * create, creating) it. Returns 0 and *out (NULL when dbi == 0 or when it
 * does not exist and create == 0), or a STRATA_E* code. */
int sv_store_subdb(sv_store *s, int dbi, int create, strata_subdb **out);

/* The expiry sub-database of dbi ("redis/expire/<n>", and its companion
 * "redis/expire-at/<n>"), created when missing: WATCH reads a key's expiry
 * record through it so an EXPIRE is seen as a change. */
int sv_store_expiry_subdb(sv_store *s, int dbi, strata_subdb **out);

/* Reads key of database dbi. Returns 0 (value in *val), 1 when the key is
 * missing or expired, or a negative STRATA_E* code (strata_errmsg() set).
 * snap may be NULL. *expire (may be NULL) receives the key's expiry time
 * or SV_NO_EXPIRE. */
int sv_store_get(sv_store *s, int dbi, const char *key, size_t klen, strata_buf *val,
                 const strata_snapshot *snap, int64_t *expire);

/* 1 when database dbi has (or may have) keys with an expiry time. */
int sv_store_has_expires(sv_store *s, int dbi);

/* Approximate number of keys and of keys with an expiry in database dbi
 * (INFO keyspace). */
void sv_store_keyspace(sv_store *s, int dbi, uint64_t *keys, uint64_t *expires);

/* Makes every write acknowledged so far durable (fdatasync of the log):
 * used by "sync everysec". Returns 0 or a STRATA_E* code. */
int sv_store_sync(sv_store *s);

/* Count of writes committed without sync since the last sv_store_sync. */
uint64_t sv_store_unsynced(sv_store *s);

typedef struct sv_wctx sv_wctx;

/* Removes up to max keys whose expiry time has passed (the background
 * sweeper), through write context w (the caller's). Returns how many were
 * removed, or a negative code. */
long sv_store_sweep_expired(sv_store *s, sv_wctx *w, long max);

/* Ordered iteration over database dbi, skipping expired keys: an iterator
 * over the key records and, when the database has expiring keys, one over
 * its expiry records, walked together. */
typedef struct sv_scan {
  sv_store *s;
  int dbi;
  strata_iter *it;
  strata_iter *exp; /* NULL when no key of dbi has an expiry */
  const strata_snapshot *snap;
  int reverse;
  int started; /* the iterator's entry was returned: advance first */
  int64_t now;
} sv_scan;

/* Starts at the first key >= start (forward) or the last key <= start
 * (reverse); start NULL: from the first (last) key. Returns 0 or a code. */
int sv_scan_begin(sv_scan *sc, sv_store *s, int dbi, const char *start, size_t slen, int reverse);
/* The current key/value (valid until the next call), skipping expired ones;
 * returns 1 with a key, 0 at the end, or a negative code. */
int sv_scan_next(sv_scan *sc, const char **k, size_t *kl, const char **v, size_t *vl);
void sv_scan_end(sv_scan *sc);

/* ------------------------------------------------------------------------ */
/* Write contexts                                                           */
/* ------------------------------------------------------------------------ */

/* A context for one run of write commands on this thread. Allocates; NULL
 * when out of memory. Reused across runs (sv_wctx_reset). */
sv_wctx *sv_wctx_new(sv_store *s);
void sv_wctx_free(sv_wctx *w);

/* Transaction mode (EXEC): the run's reads and writes go to txn (its
 * snapshot and its own writes), and sv_wctx_commit commits it. Call after
 * sv_wctx_lock; sv_wctx_reset leaves the mode (the caller destroys txn). */
void sv_wctx_begin_txn(sv_wctx *w, strata_txn *txn);

/* Declares a key the run will touch; call for every key before
 * sv_wctx_lock. key must stay valid until sv_wctx_reset. */
int sv_wctx_want(sv_wctx *w, int dbi, const char *key, size_t klen);
/* Declares every key of every database: the run excludes all writers
 * (FLUSHDB, FLUSHALL). */
void sv_wctx_want_all(sv_wctx *w);
/* Takes the locks of the declared keys (blocking). */
void sv_wctx_lock(sv_wctx *w);

/* Reads key as the run sees it (its own writes first). Returns 0 with
 * *val and *vlen pointing to memory valid until the run ends, 1 when missing
 * or expired, or a negative code. expire may be NULL. */
int sv_wctx_get(sv_wctx *w, int dbi, const char *key, size_t klen, const char **val, size_t *vlen,
                int64_t *expire);
/* Memory for a value the run builds (APPEND, INCR ...), valid until the
 * run ends; pass it to sv_wctx_put with borrow set. NULL when out of
 * memory. */
char *sv_wctx_alloc(sv_wctx *w, size_t n);

/* Queues key = val with expire (a time in ms, SV_NO_EXPIRE, or
 * SV_KEEP_EXPIRE). val is copied unless borrow is set (then it must stay
 * valid until the run ends). Returns 0 or a negative code with
 * strata_errmsg() set (the run is then unchanged). */
int sv_wctx_put(sv_wctx *w, int dbi, const char *key, size_t klen, const char *val, size_t vlen,
                int64_t expire, int borrow);
/* Queues a change of key's expiry time (SV_NO_EXPIRE removes it); the key
 * must exist as the run sees it. */
int sv_wctx_expire(sv_wctx *w, int dbi, const char *key, size_t klen, int64_t expire);
/* Queues the deletion of key (and its expiry). */
int sv_wctx_del(sv_wctx *w, int dbi, const char *key, size_t klen);
/* Deletes every key of database dbi (FLUSHDB); needs sv_wctx_want_all.
 * Applied at once (not at commit). */
int sv_wctx_flushdb(sv_wctx *w, int dbi);

/* 1 when key cannot be stored in database dbi (Strata's reserved range). */
int sv_store_key_reserved(int dbi, const char *key, size_t klen);

/* Number of writes queued. */
int sv_wctx_pending(const sv_wctx *w);
/* Commits the queued writes as one batch, synced per the sync mode.
 * Returns 0 or a negative code; on failure nothing was applied. A run in
 * which a put, expire or delete failed (out of memory) fails here too, so
 * a run is applied whole or not at all. */
int sv_wctx_commit(sv_wctx *w);
/* Releases the locks and forgets the run. */
void sv_wctx_reset(sv_wctx *w);

#endif /* SV_STORE_H */
