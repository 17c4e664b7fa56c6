/*
 * strata.h - the public C API of Strata, an embedded, persistent, ordered
 * key-value store that reads and writes LevelDB's on-disk format.
 *
 * This header is the manual. If a function is not declared here it is not
 * part of the API.
 *
 * Conventions
 * -----------
 * - Every fallible function returns int: STRATA_OK (0) on success, a negative
 *   STRATA_E* code otherwise. strata_strerror(code) names the code;
 *   strata_errmsg() gives the detailed message (file, offset or key involved)
 *   of the last failing call *on the calling thread*, so threads sharing a
 *   handle never race on messages (libgit2's git_error_last() model).
 * - Keys and values are arbitrary byte strings, passed as (pointer, length).
 *   Input buffers are borrowed for the duration of the call only; Strata
 *   copies what it keeps.
 * - Keys are ordered bytewise (memcmp, shorter first on a common prefix), as
 *   LevelDB's default comparator "leveldb.BytewiseComparator".
 * - Options are plain structs: call the matching *_init() function first,
 *   then set the fields you care about, so the struct can grow without
 *   breaking callers.
 * - Destroy/close/release functions accept NULL and then do nothing.
 *
 * Thread safety
 * -------------
 * A strata_db handle may be used by any number of threads at once without
 * external locking (as LevelDB's DB). strata_snapshot handles may be shared
 * between threads too. strata_iter and strata_batch objects are NOT
 * thread-safe: one thread at a time (or external locking). strata_buf is the
 * caller's and must not be used by two calls at once.
 *
 * Formats: the on-disk files (write-ahead log, sorted tables, MANIFEST,
 * CURRENT) follow LevelDB 1.23's formats; see doc/formats.md and the grammar
 * comments at the top of src/db/log_format.h, src/table/format.h,
 * src/db/version_edit.c and src/db/write_batch.c.
 */
#ifndef STRATA_H
#define STRATA_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__) && !defined(STRATA_STATIC_BUILD)
#define STRATA_API __attribute__((visibility("default")))
#else
#define STRATA_API
#endif

#define STRATA_VERSION_MAJOR 0
#define STRATA_VERSION_MINOR 1

/* ------------------------------------------------------------------------ */
/* Errors                                                                   */
/* ------------------------------------------------------------------------ */

enum {
  STRATA_OK = 0,
  STRATA_ENOTFOUND = -1,   /* key (or file) not found; LevelDB's NotFound */
  STRATA_ECORRUPTION = -2, /* bad checksum, bad format, truncated file */
  STRATA_ENOTSUP = -3,     /* feature not supported (e.g. unknown compression) */
  STRATA_EINVAL = -4,      /* bad argument, or database exists/missing */
  STRATA_EIO = -5,         /* an operating-system I/O call failed */
  STRATA_EBUSY = -6,       /* database locked by another handle or process */
  STRATA_ENOMEM = -7,      /* allocation failed */
  STRATA_EMISUSE = -8,     /* API used wrongly (e.g. NULL handle, a call on
                              a transaction that has ended) */
  STRATA_ECONFLICT = -9    /* a transaction's commit found a key it read or
                              wrote changed since it began; nothing applied */
};

/* Static, human-readable name of an error code. Never NULL. Thread-safe. */
STRATA_API const char *strata_strerror(int code);

/* Detailed message of the most recent failing call made by this thread, e.g.
 * "Corruption: /db/000005.ldb: block checksum mismatch at offset 4096".
 * The pointer is valid until the next Strata call on this thread. Returns ""
 * when no call has failed on this thread. Thread-safe (per-thread storage). */
STRATA_API const char *strata_errmsg(void);

/* Sets this thread's error message to "<Kind>: <formatted text>" (Kind from
 * strata_strerror(code)) and returns code. For user-supplied callbacks (env,
 * comparator, filter policy) that fail and want to say why. */
STRATA_API int strata_error_set(int code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* A borrowed byte range: used by the env interface below. */
typedef struct strata_slice {
  const char *data;
  size_t size;
} strata_slice;

/* ------------------------------------------------------------------------ */
/* Caller-owned output buffer                                               */
/* ------------------------------------------------------------------------ */

/* A growable byte buffer owned by the caller, used for values handed back by
 * strata_get() and strata_property(). Strata grows it with realloc() when it
 * is too small and never shrinks it, so a loop of gets that reuses one buffer
 * does not allocate once it has grown to the largest value.
 * Initialise with STRATA_BUF_INIT (or zeroes); free with strata_buf_free().
 * data is not NUL-terminated unless a function says so. */
typedef struct strata_buf {
  char *data;  /* owned by the buffer; may be NULL while cap == 0 */
  size_t size; /* bytes of valid content */
  size_t cap;  /* bytes allocated */
} strata_buf;

#define STRATA_BUF_INIT                                                                            \
  { NULL, 0, 0 }

/* Frees buf->data and resets the buffer to empty. NULL is a no-op. */
STRATA_API void strata_buf_free(strata_buf *buf);

/* ------------------------------------------------------------------------ */
/* Comparators                                                              */
/* ------------------------------------------------------------------------ */

/* A total order on user keys. The default (NULL in strata_options) is
 * bytewise order, named "leveldb.BytewiseComparator" as in LevelDB. The name
 * is stored in the MANIFEST and checked at every open: opening a database
 * with a comparator of another name fails with STRATA_EINVAL naming both.
 * compare() must be thread-safe and consistent forever for a database.
 * The comparator must outlive every database opened with it. */
typedef struct strata_comparator strata_comparator;

/* Creates a comparator. name is copied. compare returns <0, 0, >0.
 * destructor(state) runs at strata_comparator_destroy (may be NULL).
 * Errors: STRATA_EINVAL (NULL name or compare), STRATA_ENOMEM. */
STRATA_API int strata_comparator_create(const char *name, void *state,
                                        int (*compare)(void *state, const char *a, size_t alen,
                                                       const char *b, size_t blen),
                                        void (*destructor)(void *state), strata_comparator **out);

/* Optional key shorteners used to make index entries short (LevelDB's
 * FindShortestSeparator / FindShortSuccessor): shortest_separator may
 * change *start (a user key) to a shorter key k with start <= k < limit;
 * short_successor may change *key to a shorter key k >= key. Either may be
 * NULL (keys are then kept whole). */
STRATA_API void strata_comparator_set_shorteners(
    strata_comparator *c,
    void (*shortest_separator)(void *state, strata_buf *start, const char *limit, size_t limit_len),
    void (*short_successor)(void *state, strata_buf *key));

/* Runs the destructor and frees c. NULL is a no-op. */
STRATA_API void strata_comparator_destroy(strata_comparator *c);

/* ------------------------------------------------------------------------ */
/* Filter policies                                                          */
/* ------------------------------------------------------------------------ */

/* A filter policy summarises the keys of each table region so point reads
 * can skip regions that cannot hold the key. The filter is stored in the
 * table's filter block under "filter.<name>" (LevelDB's format) and used
 * only when the name matches. Must outlive every database using it. */
typedef struct strata_filter_policy strata_filter_policy;

/* LevelDB's bloom filter ("leveldb.BuiltinBloomFilter2", same hashing and
 * bit layout): bits_per_key bits of filter per key (10 gives about 1%
 * false positives). Errors: STRATA_ENOMEM. */
STRATA_API int strata_filter_policy_create_bloom(int bits_per_key, strata_filter_policy **out);

/* A user-supplied policy. create_filter returns a filter for the n keys
 * (malloc'd; Strata frees it with free()) and its length in *filter_len;
 * key_may_match returns non-zero if key may be among the keys the filter
 * was made from (a false "no" loses data). Both must be thread-safe.
 * name is copied. Errors: STRATA_EINVAL, STRATA_ENOMEM. */
STRATA_API int strata_filter_policy_create(
    const char *name, void *state,
    char *(*create_filter)(void *state, const char *const *keys, const size_t *key_lens, int n,
                           size_t *filter_len),
    int (*key_may_match)(void *state, const char *key, size_t klen, const char *filter,
                         size_t filter_len),
    void (*destructor)(void *state), strata_filter_policy **out);

STRATA_API void strata_filter_policy_destroy(strata_filter_policy *p);

/* ------------------------------------------------------------------------ */
/* Block cache                                                              */
/* ------------------------------------------------------------------------ */

/* A sharded LRU cache of uncompressed table blocks holding up to capacity
 * bytes; may be shared by several databases (thread-safe). Must outlive
 * every database using it. A block is admitted on its second read within a
 * window of about four cache-fulls of misses (TinyLFU's "doorkeeper"), so
 * blocks read once -- a scan, random reads over data much larger than the
 * cache -- do not push out blocks that are read again. */
typedef struct strata_cache strata_cache;

STRATA_API int strata_cache_create_lru(size_t capacity, strata_cache **out);
STRATA_API void strata_cache_destroy(strata_cache *c);
/* Bytes currently charged to the cache. */
STRATA_API size_t strata_cache_usage(const strata_cache *c);

/* ------------------------------------------------------------------------ */
/* Info logger                                                              */
/* ------------------------------------------------------------------------ */

/* Receives the lines of the info log (open, recovery, flushes,
 * compactions, errors) instead of the database's LOG file. log() may be
 * called from several threads at once; line has no trailing newline and is
 * valid only during the call. Must outlive every database using it. */
typedef struct strata_logger strata_logger;

STRATA_API int strata_logger_create(void *state, void (*log)(void *state, const char *line),
                                    void (*destructor)(void *state), strata_logger **out);
STRATA_API void strata_logger_destroy(strata_logger *l);

/* ------------------------------------------------------------------------ */
/* Environment                                                              */
/* ------------------------------------------------------------------------ */

/* Every file, directory, lock, thread and clock operation a database makes
 * goes through its env, a struct of function pointers. The default
 * (strata_env_default()) is POSIX. A user env may wrap it -- copy the
 * struct, replace some pointers, keep the default in state -- e.g. to
 * throttle I/O or inject faults. strata_env_memory() keeps everything in
 * memory (for tests).
 *
 * Every function returns STRATA_OK or a negative STRATA_E* code after
 * setting the thread's message (strata_error_set) naming the path. Missing
 * files give STRATA_ENOTFOUND. All functions may be called from several
 * threads; one file object is used by one thread at a time except
 * strata_rafile, which must allow concurrent reads. File objects are freed
 * by their close function. */
typedef struct strata_env strata_env;
typedef struct strata_seqfile strata_seqfile;
typedef struct strata_rafile strata_rafile;
typedef struct strata_wfile strata_wfile;
typedef struct strata_filelock strata_filelock; /* defined by each env */
typedef struct strata_thread strata_thread;     /* defined by each env */

/* Sequential reads (logs, MANIFEST). */
struct strata_seqfile {
  /* Reads up to n bytes; *out points into scratch (room for n) or into
   * memory the file owns until the next call. Fewer than n only at end of
   * file; out->size == 0 at end of file. */
  int (*read)(strata_seqfile *f, size_t n, char *scratch, strata_slice *out);
  int (*skip_bytes)(strata_seqfile *f, uint64_t n);
  void (*close)(strata_seqfile *f);
};

/* Random reads (tables); concurrent reads allowed. */
struct strata_rafile {
  /* Reads n bytes at offset; *out points into scratch or into memory owned
   * by the file until close (e.g. a mapping). Fewer bytes past the end. */
  int (*read)(const strata_rafile *f, uint64_t offset, size_t n, char *scratch, strata_slice *out);
  void (*close)(strata_rafile *f);
};

/* Appending writes (logs, tables, MANIFEST). append may buffer; flush hands
 * the data to the OS; sync makes it durable (flush + fdatasync). Once a
 * write or sync fails, the file must keep failing. */
struct strata_wfile {
  int (*append)(strata_wfile *f, const char *data, size_t n);
  int (*flush)(strata_wfile *f);
  int (*sync)(strata_wfile *f);
  int (*close)(strata_wfile *f); /* flush, close, free (freed even on error) */
};

struct strata_env {
  int (*new_seqfile)(strata_env *env, const char *path, strata_seqfile **out);
  int (*new_rafile)(strata_env *env, const char *path, strata_rafile **out);
  int (*new_wfile)(strata_env *env, const char *path, strata_wfile **out);
  int (*new_appendable)(strata_env *env, const char *path, strata_wfile **out);
  int (*exists)(strata_env *env, const char *path); /* 1 or 0 */
  int (*is_dir)(strata_env *env, const char *path); /* 1 or 0 */
  /* Entry names of dir (no "." ".."): malloc'd array of malloc'd strings. */
  int (*children)(strata_env *env, const char *dir, char ***names, size_t *n);
  int (*remove_file)(strata_env *env, const char *path);
  int (*create_dir)(strata_env *env, const char *path); /* exists: OK */
  int (*remove_dir)(strata_env *env, const char *path);
  int (*file_size)(strata_env *env, const char *path, uint64_t *size);
  int (*rename)(strata_env *env, const char *from, const char *to);
  int (*sync_dir)(strata_env *env, const char *dir);
  /* Exclusive lock; STRATA_EBUSY if held by anyone (this process or not). */
  int (*lock_file)(strata_env *env, const char *path, strata_filelock **out);
  int (*unlock_file)(strata_env *env, strata_filelock *lock);
  int (*thread_create)(strata_env *env, void (*fn)(void *arg), void *arg, strata_thread **out);
  void (*thread_join)(strata_env *env, strata_thread *t);
  uint64_t (*now_micros)(strata_env *env); /* monotonic */
  void (*sleep_micros)(strata_env *env, uint64_t micros);
  void *state; /* for user envs */
  /* Makes `to` a second name of the existing file `from` (a hard link), so
   * strata_checkpoint need not copy tables. STRATA_ENOTSUP when the file
   * system cannot (the paths are on different file systems, or it has no
   * hard links): the caller then copies the file; STRATA_ENOTFOUND when
   * `from` is missing; STRATA_EIO otherwise (e.g. `to` exists). NULL means
   * the env cannot link: callers copy. Appended after state so that a user
   * env which copies a default env and replaces some pointers keeps
   * working, and one built field by field with designated initializers
   * gets NULL (copying). */
  int (*link_file)(strata_env *env, const char *from, const char *to);
};

/* The process-wide POSIX env (never freed; every fd close-on-exec). */
STRATA_API strata_env *strata_env_default(void);
/* A new, empty in-memory env (files vanish with it). Free with
 * strata_env_memory_destroy() after every database using it is closed.
 * NULL when out of memory. */
STRATA_API strata_env *strata_env_memory(void);
STRATA_API void strata_env_memory_destroy(strata_env *env);

/* ------------------------------------------------------------------------ */
/* Options                                                                  */
/* ------------------------------------------------------------------------ */

typedef enum strata_compression {
  STRATA_COMPRESSION_NONE = 0,   /* LevelDB kNoCompression */
  STRATA_COMPRESSION_SNAPPY = 1, /* LevelDB kSnappyCompression */
  STRATA_COMPRESSION_ZSTD = 2    /* LevelDB kZstdCompression (reserved) */
} strata_compression;

#define STRATA_OPTIONS_VERSION 1

/* Options for strata_open(). Defaults (set by strata_options_init) equal
 * LevelDB 1.23's. */
typedef struct strata_options {
  unsigned version;                          /* STRATA_OPTIONS_VERSION */
  int create_if_missing;                     /* create the database if absent (default 0) */
  int error_if_exists;                       /* fail with STRATA_EINVAL if it exists (0) */
  int paranoid_checks;                       /* treat any corruption seen as fatal (0) */
  size_t write_buffer_size;                  /* bytes of memtable before it is flushed to a
                                                level-0 table (4 MiB) */
  int max_open_files;                        /* bound of open table files kept in the table
                                                cache is this minus 10 (1000) */
  size_t block_size;                         /* approximate uncompressed bytes of user data
                                                per table data block (4 KiB) */
  int block_restart_interval;                /* keys between restart points (16) */
  size_t max_file_size;                      /* bytes a table may grow to before compaction
                                                starts a new one (2 MiB) */
  int compression;                           /* a strata_compression (SNAPPY) */
  int zstd_level;                            /* zstd compression level (1) */
  const strata_comparator *comparator;       /* NULL: bytewise */
  const strata_filter_policy *filter_policy; /* NULL: no filters */
  strata_cache *block_cache;                 /* NULL: a private 8 MiB cache */
  strata_env *env;                           /* NULL: strata_env_default() */
  strata_logger *info_log;                   /* NULL: write <db>/LOG (old one: LOG.old) */
  int reuse_logs;                            /* append to the last log at open instead of
                                                flushing it to a table (0) */
  int read_only;                             /* open without the LOCK, beside a writer in
                                                another process; never write a file; follow
                                                the writer with strata_catch_up (0). See
                                                "Read-only opens" below. */
} strata_options;

/* Fills *opt with the defaults above. */
STRATA_API void strata_options_init(strata_options *opt);

typedef struct strata_snapshot strata_snapshot;

/* Options for reads and iterators. */
typedef struct strata_read_options {
  unsigned version;                /* STRATA_OPTIONS_VERSION */
  int verify_checksums;            /* check block CRCs on this read (0) */
  int fill_cache;                  /* let blocks read be cached (1): a block
                                      is cached on its second read (see the
                                      block cache); 0: never cached */
  const strata_snapshot *snapshot; /* read as of this snapshot; NULL = an
                                      implicit snapshot of the current state */
} strata_read_options;

STRATA_API void strata_read_options_init(strata_read_options *opt);

/* Options for writes. */
typedef struct strata_write_options {
  unsigned version; /* STRATA_OPTIONS_VERSION */
  int sync;         /* 1: return only after the write-ahead log record is on
                       stable storage (fdatasync). 0 (default): return once the
                       record is in the OS page cache -- a process crash loses
                       nothing acknowledged; a machine crash may lose the most
                       recent writes. */
  /* If not NULL, receives a snapshot of the state just after this write
   * was applied (LevelDB's "post-write snapshot"): it sees this write and
   * every earlier one, none after. Release it with
   * strata_snapshot_release(). Left unchanged when the write fails. */
  const struct strata_snapshot **post_write_snapshot;
} strata_write_options;

STRATA_API void strata_write_options_init(strata_write_options *opt);

/* ------------------------------------------------------------------------ */
/* Database                                                                 */
/* ------------------------------------------------------------------------ */

typedef struct strata_db strata_db;

/* Opens (and with create_if_missing, creates) the database in directory
 * `path`, replaying any write-ahead logs left by a previous process.
 * opt may be NULL for the defaults. On success *dbp receives a handle that
 * the caller owns and must close with strata_close().
 * The handle holds an OS lock on path/LOCK until closed (except a
 * read_only handle: see "Read-only opens").
 * Errors: STRATA_EINVAL (missing without create_if_missing, exists with
 * error_if_exists, path is not a directory), STRATA_EBUSY (locked by another
 * handle in this or another process), STRATA_ECORRUPTION (CURRENT, MANIFEST
 * or a log damaged), STRATA_EIO, STRATA_ENOMEM. */
STRATA_API int strata_open(const char *path, const strata_options *opt, strata_db **dbp);

/* Waits for background work to stop, releases the lock and frees the
 * handle. Iterators and snapshots must have been released first (leftover
 * ones are leaked, not freed). NULL is a no-op. Writes acknowledged before
 * close are durable as their sync flag promised; nothing is lost by closing
 * without a flush (the log is replayed at the next open). */
STRATA_API void strata_close(strata_db *db);

/* Stores key -> value, replacing any earlier value. wopt may be NULL.
 * Errors: STRATA_EIO (log write or sync failed; after a failed log write or
 * sync every later write fails too), STRATA_ENOMEM, STRATA_EINVAL (key
 * larger than 4 GiB - 9 bytes or value larger than 4 GiB - 1; a key in the
 * reserved range of sub-databases, see below; a read-only database). */
STRATA_API int strata_put(strata_db *db, const strata_write_options *wopt, const void *key,
                          size_t klen, const void *val, size_t vlen);

/* Removes key if present. Deleting a missing key is not an error. */
STRATA_API int strata_delete(strata_db *db, const strata_write_options *wopt, const void *key,
                             size_t klen);

/* Looks key up and copies its value into *val (val->size set; buffer grown
 * as needed). ropt may be NULL. Returns STRATA_ENOTFOUND when the key is
 * absent (val untouched). On success val->data is never NULL, even for an
 * empty value. Errors: STRATA_ECORRUPTION, STRATA_EIO,
 * STRATA_ENOMEM. Thread-safe; val must not be shared between threads. */
STRATA_API int strata_get(strata_db *db, const strata_read_options *ropt, const void *key,
                          size_t klen, strata_buf *val);

/* ------------------------------------------------------------------------ */
/* Write batches                                                            */
/* ------------------------------------------------------------------------ */

/* A batch of puts and deletes applied atomically and in order by
 * strata_write(). Its contents use LevelDB's batch encoding. Not thread-safe.
 */
typedef struct strata_batch strata_batch;

/* Creates an empty batch owned by the caller (free with
 * strata_batch_destroy). Errors: STRATA_ENOMEM. */
STRATA_API int strata_batch_create(strata_batch **bp);
STRATA_API void strata_batch_destroy(strata_batch *b);
/* Queue a put/delete. Errors: STRATA_ENOMEM, STRATA_EINVAL (size > 4 GiB-1,
 * or a key in the reserved range of sub-databases) -- on error the batch is
 * unchanged. */
STRATA_API int strata_batch_put(strata_batch *b, const void *key, size_t klen, const void *val,
                                size_t vlen);
STRATA_API int strata_batch_delete(strata_batch *b, const void *key, size_t klen);
/* Empties the batch, keeping its memory for reuse. */
STRATA_API void strata_batch_clear(strata_batch *b);
/* Number of operations queued. */
STRATA_API uint32_t strata_batch_count(const strata_batch *b);
/* Bytes of the batch's encoding (what it adds to the write-ahead log). */
STRATA_API size_t strata_batch_size(const strata_batch *b);
/* Calls put (for a put) or del (for a delete) for each queued operation in
 * order. Key and value pointers are valid only during the callback.
 * Returns STRATA_ECORRUPTION if the encoding is damaged. */
STRATA_API int strata_batch_iterate(const strata_batch *b, void *state,
                                    void (*put)(void *state, const char *k, size_t klen,
                                                const char *v, size_t vlen),
                                    void (*del)(void *state, const char *k, size_t klen));
/* Appends all operations of src to dst (src may be dst). Errors:
 * STRATA_ENOMEM, STRATA_EINVAL (the count would pass 2^32 - 1). */
STRATA_API int strata_batch_append(strata_batch *dst, const strata_batch *src);

/* Applies every operation of b atomically: after a crash either all of them
 * or none are present. b is not modified and may be reused. wopt may be
 * NULL. Errors as strata_put(). */
STRATA_API int strata_write(strata_db *db, const strata_write_options *wopt, const strata_batch *b);

/* ------------------------------------------------------------------------ */
/* Snapshots                                                                */
/* ------------------------------------------------------------------------ */

/* Returns a handle on the current state: reads through it see neither later
 * writes nor later deletes. Release with strata_snapshot_release() on the
 * same db. On a read-only handle it also keeps the state's memtables and
 * tables, whatever later catch-ups and the writer do, until released.
 * Returns NULL only when out of memory. Thread-safe. */
STRATA_API const strata_snapshot *strata_snapshot_get(strata_db *db);
STRATA_API void strata_snapshot_release(strata_db *db, const strata_snapshot *snap);

/* ------------------------------------------------------------------------ */
/* Iterators                                                                */
/* ------------------------------------------------------------------------ */

/* An ordered cursor over the database as of one snapshot (ropt->snapshot,
 * or the state when the iterator was created). Not thread-safe. Must be
 * destroyed before its db is closed. */
typedef struct strata_iter strata_iter;

/* Creates an iterator, initially not valid. ropt may be NULL.
 * Errors: STRATA_ENOMEM, STRATA_EIO, STRATA_ECORRUPTION. */
STRATA_API int strata_iter_create(strata_db *db, const strata_read_options *ropt,
                                  strata_iter **itp);
STRATA_API void strata_iter_destroy(strata_iter *it);

/* Positioning. After each call check strata_iter_valid(); when it is 0,
 * strata_iter_status() tells whether the end was reached (STRATA_OK) or an
 * error stopped the iterator (sticky). */
STRATA_API void strata_iter_seek_to_first(strata_iter *it);
STRATA_API void strata_iter_seek_to_last(strata_iter *it);
/* Positions at the first key >= key. */
STRATA_API void strata_iter_seek(strata_iter *it, const void *key, size_t klen);
/* REQUIRE: strata_iter_valid(it). */
STRATA_API void strata_iter_next(strata_iter *it);
STRATA_API void strata_iter_prev(strata_iter *it);
STRATA_API int strata_iter_valid(const strata_iter *it);

/* The current key/value. REQUIRE: valid. The memory is owned by the
 * iterator and stays valid until the next positioning call or destroy. */
STRATA_API const char *strata_iter_key(const strata_iter *it, size_t *klen);
STRATA_API const char *strata_iter_value(const strata_iter *it, size_t *vlen);

/* STRATA_OK, or the error that stopped the iterator (also sets
 * strata_errmsg() on this thread). */
STRATA_API int strata_iter_status(const strata_iter *it);

/* ------------------------------------------------------------------------ */
/* Sub-databases                                                            */
/* ------------------------------------------------------------------------ */

/* A named sub-database is an ordered key space of its own inside one
 * database (LMDB's named databases, RocksDB's column families): its keys
 * never meet the main database's or another sub-database's, its iterators
 * see only its keys, and any key (the empty key to any bytes) is allowed in
 * it. One write batch or transaction may span several sub-databases and the
 * main database, and is applied atomically.
 *
 * Storage. Sub-databases are ordinary LevelDB records in a reserved range
 * of the main key space: every key that begins with the 9 bytes
 * STRATA_RESERVED_PREFIX ("\xff\xff" "strata" "\x00"). The encoding is
 * given as a grammar at the top of src/db/subdb.c and in doc/formats.md.
 * Through strata.h that range is invisible: main-database iterators skip
 * it, and writing a main-database key in it fails with STRATA_EINVAL.
 * leveldb/c.h and LevelDB itself see the range as ordinary keys: they may
 * read it, compact it and write keys outside it; a program that writes or
 * deletes keys inside it damages the sub-databases.
 *
 * Sub-databases need the bytewise comparator (the default): with another
 * comparator strata_subdb_open fails with STRATA_ENOTSUP, because a user
 * order cannot keep each sub-database's keys together.
 *
 * Handles are owned by the database: opening a name twice gives the same
 * handle, and every handle is freed by strata_close (never by the caller).
 * A handle may be used from any number of threads. After the sub-database
 * is dropped its handle stays allocated until close, and every call given
 * it fails with STRATA_EINVAL ("sub-database ... was dropped"). */
typedef struct strata_subdb strata_subdb;

#define STRATA_RESERVED_PREFIX                                                                     \
  "\xff\xff"                                                                                       \
  "strata" /* followed by one 0x00 byte */
#define STRATA_RESERVED_PREFIX_LEN 9
#define STRATA_SUBDB_NAME_MAX 255 /* bytes in a sub-database name */

/* Opens the sub-database `name` (a NUL-terminated string of 1 to
 * STRATA_SUBDB_NAME_MAX bytes), creating it empty when create is non-zero
 * and it does not exist (the creation is one durable, synced write).
 * *out receives the database-owned handle.
 * Errors: STRATA_ENOTFOUND (absent and create == 0), STRATA_EINVAL (empty
 * or too long name; create on a read-only handle), STRATA_ENOTSUP (the
 * database has a user comparator), STRATA_EIO, STRATA_ENOMEM. Thread-safe. */
STRATA_API int strata_subdb_open(strata_db *db, const char *name, int create, strata_subdb **out);

/* Drops a sub-database, named by its handle (sdb) or, when sdb is NULL, by
 * name. The sub-database disappears atomically at once (one durable,
 * synced write); its records are removed in the background by compaction,
 * not by a delete per key, so the call takes the same time whatever its
 * size. A later strata_subdb_open(create) of the name makes a new, empty
 * sub-database with a new handle.
 * Errors: STRATA_ENOTFOUND (no such name), STRATA_EINVAL (handle already
 * dropped, read-only database), STRATA_EIO, STRATA_ENOMEM. Thread-safe.
 * Iterators already open on the sub-database keep their view; every later
 * call given the handle fails with STRATA_EINVAL, and a write transaction
 * that wrote to it fails to commit with STRATA_EINVAL. */
STRATA_API int strata_subdb_drop(strata_db *db, strata_subdb *sdb, const char *name);

/* Calls fn(arg, name) for every sub-database, in name order; stops early
 * and returns fn's value when it returns non-zero. name is valid during
 * the call only. Errors: STRATA_EIO, STRATA_ENOMEM. */
STRATA_API int strata_subdb_list(strata_db *db, int (*fn)(void *arg, const char *name), void *arg);

/* The handle's name (owned by the handle). */
STRATA_API const char *strata_subdb_name(const strata_subdb *sdb);

/* Approximate statistics of a sub-database (sdb) or, when sdb is NULL, of
 * the main database without the reserved range. entries counts the
 * memtables' entries exactly and estimates the tables' from their index
 * blocks and a sample of data blocks; bytes is the file-system size of the
 * tables' blocks in the range plus the memtables' bytes in it. Overwritten
 * and deleted entries not yet compacted are counted. */
typedef struct strata_subdb_stats {
  uint64_t entries; /* approximate number of entries */
  uint64_t bytes;   /* approximate bytes on disk and in memtables */
} strata_subdb_stats;

STRATA_API int strata_subdb_stat(strata_db *db, strata_subdb *sdb, strata_subdb_stats *out);

/* The per-key calls, naming a sub-database: sdb NULL means the main
 * database (and these then behave exactly as strata_put, strata_delete,
 * strata_get, strata_iter_create). Arguments, ownership and errors as for
 * those calls, plus STRATA_EINVAL for a dropped handle or one of another
 * database. Iterators over a sub-database show its keys as the user wrote
 * them (without the reserved encoding) and stop at its end. */
STRATA_API int strata_put_in(strata_db *db, strata_subdb *sdb, const strata_write_options *wopt,
                             const void *key, size_t klen, const void *val, size_t vlen);
STRATA_API int strata_delete_in(strata_db *db, strata_subdb *sdb, const strata_write_options *wopt,
                                const void *key, size_t klen);
STRATA_API int strata_get_in(strata_db *db, strata_subdb *sdb, const strata_read_options *ropt,
                             const void *key, size_t klen, strata_buf *val);
STRATA_API int strata_iter_create_in(strata_db *db, strata_subdb *sdb,
                                     const strata_read_options *ropt, strata_iter **itp);

/* Queue a put/delete of a key of sub-database sdb (NULL: the main
 * database) into b. The batch holds the key in its stored encoding (so
 * strata_batch_iterate shows sub-database keys with their reserved
 * prefix). Errors: as strata_batch_put, plus STRATA_EINVAL for a dropped
 * handle; on error the batch is unchanged. */
STRATA_API int strata_batch_put_in(strata_batch *b, strata_subdb *sdb, const void *key, size_t klen,
                                   const void *val, size_t vlen);
STRATA_API int strata_batch_delete_in(strata_batch *b, strata_subdb *sdb, const void *key,
                                      size_t klen);

/* ------------------------------------------------------------------------ */
/* Transactions                                                             */
/* ------------------------------------------------------------------------ */

/* A transaction reads one consistent view of the database (a snapshot) and,
 * if it is a write transaction, collects puts and deletes that its commit
 * applies atomically as one write batch.
 *
 * - A read transaction (write == 0) is a snapshot with a handle: it never
 *   sees a later write, and costs what strata_snapshot_get costs.
 * - A write transaction sees its own writes: strata_txn_get and its
 *   iterators merge its pending puts and deletes over its snapshot, in key
 *   order, forward and backward, with seek.
 * - Commit is optimistic (RocksDB's OptimisticTransactionDB is the model):
 *   it checks, for every key the transaction read (with strata_txn_get,
 *   found or not, or met through one of its iterators) or wrote, that the
 *   newest entry of that key in the database is not newer than the
 *   transaction's snapshot. If one is, the commit fails with
 *   STRATA_ECONFLICT ("Conflict: key '...' changed since the transaction
 *   began") and applies nothing. Otherwise its writes are applied as one
 *   batch, atomically, and (with sync) made durable before it returns. The
 *   check and the write happen as one step in the write queue, so two
 *   transactions that conflict can never both commit: committed write
 *   transactions are serializable on the keys they read and wrote.
 *   Keys an iterator skipped over (a range read) are not checked, so a key
 *   inserted into a range a transaction scanned does not make it conflict.
 *   The check costs one point lookup per key read or written, and nothing
 *   when no write at all was committed since the transaction began.
 * - Plain writes (strata_put, strata_write) never wait for an open
 *   transaction; they conflict with it only through the check above.
 * - exclusive (LMDB's model): at most one exclusive write transaction is
 *   open at a time; strata_txn_begin of a second one waits until the first
 *   commits or aborts. Two exclusive transactions therefore never conflict
 *   with each other (one can still conflict with a plain write or an
 *   optimistic transaction).
 *
 * Thread-safety: a transaction is used by one thread at a time; using one
 * from two threads at once is undefined. Ending: strata_txn_commit or
 * strata_txn_abort ends a transaction; every later call on it, and on
 * iterators made from it, fails with STRATA_EMISUSE (never a crash) until
 * strata_txn_destroy frees it. Iterators made from a transaction must be
 * destroyed before the transaction is. Transactions must be destroyed
 * before their database is closed. */
typedef struct strata_txn strata_txn;

typedef struct strata_txn_options {
  unsigned version;                /* STRATA_OPTIONS_VERSION */
  int write;                       /* 0: read-only transaction (default) */
  int sync;                        /* commit waits for fdatasync (0) */
  int exclusive;                   /* one exclusive write transaction at a
                                      time; begin waits for it (0) */
  const strata_snapshot *snapshot; /* read as of this existing snapshot
                                      (borrowed; must outlive the
                                      transaction); NULL: take one now */
} strata_txn_options;

STRATA_API void strata_txn_options_init(strata_txn_options *opt);

/* Begins a transaction; opt may be NULL (a read transaction). *out
 * receives a handle owned by the caller (free with strata_txn_destroy).
 * With exclusive, blocks while another thread's exclusive write
 * transaction is open. Errors: STRATA_EINVAL (write on a read-only
 * database), STRATA_ENOMEM, STRATA_EMISUSE (NULL argument; exclusive while
 * this thread already has an exclusive write transaction open, which would
 * wait for itself forever). */
STRATA_API int strata_txn_begin(strata_db *db, const strata_txn_options *opt, strata_txn **out);

/* Reads key of sdb (NULL: main database) as the transaction sees it.
 * Copies the value into *val. Returns STRATA_ENOTFOUND when absent (or
 * deleted by the transaction). Errors: as strata_get, plus STRATA_EMISUSE
 * (ended), STRATA_EINVAL (dropped handle). */
STRATA_API int strata_txn_get(strata_txn *txn, strata_subdb *sdb, const void *key, size_t klen,
                              strata_buf *val);

/* Queues a put or delete (copied). Errors: STRATA_EMISUSE (ended, or a
 * read transaction), STRATA_EINVAL (size limits, a main-database key in
 * the reserved range, dropped handle), STRATA_ENOMEM; the transaction is
 * unchanged on error. */
STRATA_API int strata_txn_put(strata_txn *txn, strata_subdb *sdb, const void *key, size_t klen,
                              const void *val, size_t vlen);
STRATA_API int strata_txn_delete(strata_txn *txn, strata_subdb *sdb, const void *key, size_t klen);

/* An iterator over sdb (NULL: main database) as the transaction sees it,
 * with the strata_iter calls. It sees the transaction's writes made before
 * each positioning call. ropt may be NULL (its snapshot field is ignored).
 * Errors: STRATA_EMISUSE (ended), STRATA_EINVAL, STRATA_ENOMEM. */
STRATA_API int strata_txn_iter_create(strata_txn *txn, strata_subdb *sdb,
                                      const strata_read_options *ropt, strata_iter **itp);

/* Commits (see above) and ends the transaction, whatever the result.
 * Committing a read transaction just ends it. Errors: STRATA_ECONFLICT,
 * STRATA_EMISUSE (already ended), STRATA_EINVAL (a sub-database it wrote
 * was dropped), STRATA_EIO (as strata_write), STRATA_ENOMEM. */
STRATA_API int strata_txn_commit(strata_txn *txn);

/* Ends the transaction discarding its writes. Errors: STRATA_EMISUSE when
 * it had already ended. */
STRATA_API int strata_txn_abort(strata_txn *txn);

/* Aborts the transaction if it is still open and frees it. NULL is a no-op. */
STRATA_API void strata_txn_destroy(strata_txn *txn);

/* The snapshot the transaction reads at (owned by the transaction, valid
 * until it is destroyed); usable with strata_get and strata_iter_create.
 * NULL for NULL. */
STRATA_API const strata_snapshot *strata_txn_snapshot(const strata_txn *txn);

/* 1 while the transaction is open (not committed or aborted), else 0. */
STRATA_API int strata_txn_active(const strata_txn *txn);

/* ------------------------------------------------------------------------ */
/* Read-only opens                                                          */
/* ------------------------------------------------------------------------ */

/* With strata_options.read_only set, strata_open takes no lock and never
 * creates, writes, renames or deletes a file -- no LOCK, no LOG (lines go
 * to info_log if one is given, else nowhere) -- and starts no thread, so
 * any number of processes may read a database while one process (Strata
 * or LevelDB 1.23) writes it, and a database in a read-only directory can
 * be opened. The directory and its CURRENT must exist: create_if_missing
 * and error_if_exists are ignored, and a missing database fails with
 * STRATA_EINVAL.
 *
 * The handle sees the database as of its open -- the tables the MANIFEST
 * names plus every live write-ahead log replayed into memtables -- and
 * strata_catch_up() moves it to the writer's latest state. Its memtables
 * are never flushed: they grow past write_buffer_size until the writer
 * puts their log into a table and a catch-up drops them. Every state it
 * shows is one the writer passed through (a prefix of its writes, with no
 * hole), including records the writer has logged but not yet
 * acknowledged.
 *
 * The writer deletes tables and logs as it compacts, and replaces the
 * MANIFEST when it reopens. A read-only handle keeps every table of each
 * state it may still read open (mapped, or by a descriptor), so a table
 * the writer deletes stays readable; max_open_files does not bound this,
 * so a database of T tables needs about T - 1000 free descriptors in the
 * reading process (1000 tables are mapped without one). Reads never open a
 * table and so never meet a vanished one. A catch-up that loses a race
 * with the writer (a file gone because of a change it had not read yet)
 * reads the change and tries again; it never returns a wrong value or a
 * spurious error. The protocol, and what it assumes of the writer and the
 * file system, is at the top of src/db/db_readonly.c.
 *
 * Snapshots and iterators of a read-only handle keep the state they were
 * taken in across catch-ups (a snapshot holds that state's memtables and
 * tables until it is released). Writes (strata_put, strata_delete,
 * strata_write, even of an empty batch), strata_compact_range,
 * transactions with write, sorted loads, and sub-database creation and
 * drop fail with STRATA_EINVAL ("read-only database: ..."). */

/* Moves a read-only handle to the database's latest state: re-reads
 * CURRENT, the records appended to the MANIFEST since the last catch-up
 * (the whole new MANIFEST if the writer reopened), and the records
 * appended to each live log since; drops the memtables of logs the writer
 * has flushed; then makes the new state visible to every later read at
 * once. Costs about the size of what changed: when nothing did, a read of
 * CURRENT, a directory listing and one stat per live log and MANIFEST. A
 * record the writer is still appending (cut short at the end of its file)
 * is left for the next catch-up. Iterators and snapshots made before keep
 * their view. On error the handle keeps its previous state.
 * Errors: STRATA_EINVAL (not a read-only handle), STRATA_ECORRUPTION (a
 * damaged MANIFEST, CURRENT or table; a file the MANIFEST names missing
 * with no later change to explain it; with paranoid_checks, a damaged log
 * record), STRATA_EBUSY (the writer changed the MANIFEST during each of
 * 100 attempts in a row), STRATA_EIO, STRATA_ENOMEM. Thread-safe: catch-ups
 * of one handle run one at a time, while reads go on. */
STRATA_API int strata_catch_up(strata_db *db);

/* ------------------------------------------------------------------------ */
/* Checkpoints and bulk load                                                */
/* ------------------------------------------------------------------------ */

/* Makes a consistent copy of the open database in dest_dir (which must not
 * exist; it is created, its parent must exist) while the database keeps
 * taking writes. The copy is the database as of one point in its history:
 * every write acknowledged before the call began is in it, and of later
 * writes, at most a prefix in write order (never a part of a batch).
 * Tables are hard-linked (strata_env.link_file) when dest_dir is on the
 * same file system, copied otherwise (or when the env cannot link); what
 * the memtables hold is written into one new table of the copy, so the
 * source is not flushed. The copy has its own MANIFEST and CURRENT and no
 * write-ahead log, opens in Strata and in LevelDB 1.23, and shares nothing
 * with the source but immutable table files: writes and compactions in
 * either never affect the other. Sub-databases are copied with the rest.
 * CURRENT is written last (temporary file, rename, directory sync), so a
 * crash during the call leaves the source untouched and dest_dir without
 * CURRENT (not a database); on an error, dest_dir and everything made in
 * it is removed. The algorithm is described at the top of
 * src/db/checkpoint.c. On a read-only handle the copy is the handle's own
 * state (the writer's as of the last strata_catch_up), made the same way;
 * a table the writer deleted meanwhile is copied from the file the handle
 * keeps open. Errors: STRATA_EINVAL (dest_dir exists or is empty),
 * STRATA_ENOTFOUND (dest_dir's parent is missing),
 * STRATA_EIO, STRATA_ENOMEM, STRATA_ECORRUPTION (a table shorter than the
 * MANIFEST says). Thread-safe; several checkpoints may run at once. */
STRATA_API int strata_checkpoint(strata_db *db, const char *dest_dir);

/* Sorted bulk load (RocksDB's SST ingestion is the model): builds sorted
 * tables straight from keys given in strictly increasing order, with the
 * database's table options (block size, restart interval, compression,
 * filter policy; tables of about max_file_size bytes), and adds them in
 * one MANIFEST record, each to the deepest level where no table overlaps
 * it: no write-ahead log, no memtable, no compaction rewriting them. The
 * tables are built on two threads of the loader's own while the caller
 * adds the next entries; the loader holds up to three tables' worth of
 * entries in memory, uncompressed (about 3 x max_file_size divided by the
 * compression ratio; more while one value is larger than that). For
 * filling a new database, an empty sub-database or an empty key range: at
 * finish, the loaded key range [first key, last key] must hold no entry of
 * the target (main database or sdb) in any memtable or table -- deletion
 * markers included -- or the load fails with STRATA_EINVAL and nothing is
 * added. Keys of the main database may lie on both sides of the reserved
 * range of sub-databases, whose records do not count.
 *
 * Visibility: the loaded entries become visible to every reader at once,
 * when strata_loader_finish returns, and are durable then. They carry
 * sequence number 0, so a write of a loaded key during or after the load
 * is always newer; and a snapshot taken before finish also sees them once
 * finish returns (iterators created before finish do not). The tables of
 * a load that is not finished, or that failed, are deleted (by
 * strata_loader_destroy at the latest). The algorithm is described at the
 * top of src/db/loader.c.
 *
 * Thread-safety: a loader is used by one thread at a time; several loaders
 * may run on one database at once (their finishes are serialised). A
 * loader must be destroyed before its database is closed. */
typedef struct strata_loader strata_loader;

/* Starts a load into sdb (NULL: the main database). *out is owned by the
 * caller (free with strata_loader_destroy). Makes no file itself.
 * Errors: STRATA_EINVAL (read-only database, dropped handle or
 * another database's), STRATA_ENOMEM, STRATA_EMISUSE (NULL db or out). */
STRATA_API int strata_loader_create(strata_db *db, strata_subdb *sdb, strata_loader **out);
/* Adds one entry (key and value are copied); key must be greater than the
 * previous key in the database's comparator. Errors: STRATA_EINVAL (equal
 * to or less than the previous key, a main-database key in the reserved
 * range, a key over 4 GiB - 9 bytes less the sub-database prefix, a value
 * over 4 GiB - 1), STRATA_EIO (a table could not be written or synced:
 * the builder threads' failure comes back from a later add or from
 * finish), STRATA_ENOMEM. After an error the loader is failed: every later
 * add or finish returns STRATA_EMISUSE, and only destroy is useful. */
STRATA_API int strata_loader_add(strata_loader *l, const void *key, size_t klen, const void *val,
                                 size_t vlen);
/* Finishes the last table, syncs it and adds every table to the database.
 * A load of no entry adds nothing and succeeds. Errors: STRATA_EINVAL (the
 * range holds an entry, naming its key; the sub-database was dropped
 * meanwhile), STRATA_EIO (also: the database is closing, or a background
 * error stopped its writes), STRATA_ENOMEM; on error no table is added and
 * the loader is failed (when the MANIFEST write itself failed, the
 * database stops taking writes, as after any background error, and the
 * tables stay on disk for the next open to judge). STRATA_EMISUSE after
 * finish or an error. */
STRATA_API int strata_loader_finish(strata_loader *l);
/* Frees the loader; the tables of an unfinished or failed load are
 * deleted. NULL: no-op. */
STRATA_API void strata_loader_destroy(strata_loader *l);

/* ------------------------------------------------------------------------ */
/* Maintenance and introspection                                            */
/* ------------------------------------------------------------------------ */

/* Compacts the key range [begin, end] (NULL begin = from the first key, NULL
 * end = to the last key): flushes the memtable, then pushes overlapping
 * tables down the levels, dropping deleted and overwritten entries.
 * Blocks until done. Errors: STRATA_EIO, STRATA_ECORRUPTION. */
STRATA_API int strata_compact_range(strata_db *db, const void *begin, size_t blen, const void *end,
                                    size_t elen);

/* Copies a property's value, NUL-terminated (size excludes the NUL), into
 * *out. Known properties (LevelDB's names):
 *   "leveldb.num-files-at-level<N>"   number of tables at level N
 *   "leveldb.stats"                   multi-line table of per-level files,
 *                                     bytes and compaction work
 *   "leveldb.sstables"                every table of every level
 *   "leveldb.approximate-memory-usage" bytes held by memtables
 *   "strata.level-bytes<N>"           total bytes of tables at level N
 *   "strata.last-sequence"            the sequence number of the newest
 *                                     write this handle sees (decimal):
 *                                     each put or delete of a batch takes
 *                                     one, so its growth counts writes (on
 *                                     a read-only handle, the writer's, as
 *                                     of the last catch-up)
 * Errors: STRATA_ENOTFOUND for an unknown name, STRATA_ENOMEM. */
STRATA_API int strata_property(strata_db *db, const char *name, strata_buf *out);

/* Approximate file-system bytes used by the keys in [start, limit) for each
 * of n ranges: sizes[i] for range i. Memtable contents are not counted.
 * Errors: STRATA_EIO. */
STRATA_API int strata_approximate_sizes(strata_db *db, int n, const void *const *start,
                                        const size_t *start_len, const void *const *limit,
                                        const size_t *limit_len, uint64_t *sizes);

/* Deletes every file of the database at path, then the directory if it is
 * empty. The database must not be open. A missing directory is not an
 * error. opt may be NULL. Errors: STRATA_EBUSY, STRATA_EIO. */
STRATA_API int strata_destroy(const char *path, const strata_options *opt);

/* ------------------------------------------------------------------------ */
/* Repair and verification                                                  */
/* ------------------------------------------------------------------------ */

/* What strata_repair() kept and lost. */
typedef struct strata_repair_report {
  int tables_kept;            /* tables kept (wholly or in part) */
  int tables_lost;            /* tables unreadable, moved to <db>/lost/ */
  int logs_converted;         /* logs turned into tables */
  uint64_t entries_recovered; /* entries in the repaired database's tables */
  uint64_t bytes_dropped;     /* bytes of damaged log records and table
                                 blocks that could not be read */
} strata_repair_report;

/* Recovers as much as possible of a damaged database (LevelDB's RepairDB):
 * converts every log to a table (dropping damaged records), scans every
 * table (a table with damaged blocks keeps the entries it can read; one
 * that cannot be opened is moved to <db>/lost/), and writes a new MANIFEST
 * naming every table found, all at level 0, with the largest sequence
 * number seen. Entries deleted or overwritten may reappear when the record
 * that hid them was lost. The database must not be open. report may be
 * NULL. Errors: STRATA_EBUSY (open elsewhere), STRATA_EIO, STRATA_ENOMEM,
 * STRATA_EINVAL (no database at path). */
STRATA_API int strata_repair(const char *path, const strata_options *opt,
                             strata_repair_report *report);

/* Called by strata_check() for each problem found: the file (full path),
 * the byte offset in it, the error code and a description. */
typedef void (*strata_check_fn)(void *arg, const char *file, uint64_t offset, int code,
                                const char *what);

/* Reads every block of every table, every log and the MANIFEST, verifying
 * checksums and formats, and reports each damaged file and block through
 * report (may be NULL). *problems (may be NULL) receives the count.
 * The database must not be open (the lock is taken). Returns STRATA_OK
 * when nothing is wrong, STRATA_ECORRUPTION when something is, or an error
 * that stopped the check (STRATA_EBUSY, STRATA_EIO, STRATA_EINVAL). */
STRATA_API int strata_check(const char *path, const strata_options *opt, strata_check_fn report,
                            void *arg, uint64_t *problems);

#ifdef __cplusplus
}
#endif

#endif /* STRATA_H */
