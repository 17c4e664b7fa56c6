/*
 * leveldb/c.h - LevelDB 1.23's C API, implemented over Strata.
 *
 * A program written against LevelDB's <leveldb/c.h> compiles unchanged
 * against this header and links with -lstrata-leveldb instead of -lleveldb
 * (pkg-config: strata-leveldb). The declarations below are the same names,
 * signatures and constants as LevelDB 1.23's header, so the ABI matches too;
 * databases written by either library open in the other.
 *
 * Conventions (LevelDB's, kept as they are)
 * -----------------------------------------
 * - Every object is an opaque pointer made by a *_create() function and
 *   freed by the matching *_destroy() (leveldb_close for a database).
 * - Keys and values are (pointer, length) pairs of arbitrary bytes; input
 *   buffers are only borrowed for the duration of the call.
 * - Errors: a function that can fail takes "char **errptr" last. On entry
 *   *errptr must be NULL or a message an earlier call returned. On success
 *   *errptr is left alone; on failure the old message is freed and *errptr
 *   receives a new malloc'd, NUL-terminated message in LevelDB's status
 *   format: "NotFound: ...", "Corruption: ...", "Not implemented: ...",
 *   "Invalid argument: ..." or "IO error: ...".
 * - Anything returned as char* (values, property values, messages, the test
 *   directory) is malloc'd and belongs to the caller: free it with
 *   leveldb_free().
 * - Booleans are uint8_t: 0 is false, anything else true.
 *
 * Not offered (as in LevelDB's C API): option getters, key shortening for
 * custom comparators, user-written envs, caches, iterators or loggers.
 *
 * Where this implementation is more forgiving than LevelDB (which requires
 * every pointer argument to be non-NULL): NULL option objects mean the
 * defaults, NULL handles passed to destroy/close functions are ignored, and
 * a NULL database name is reported through *errptr instead of crashing.
 */
#ifndef STORAGE_LEVELDB_INCLUDE_C_H_
#define STORAGE_LEVELDB_INCLUDE_C_H_

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* Marks the public functions. The shared library is built with hidden
 * visibility, so only what carries this attribute is exported. A client may
 * define LEVELDB_EXPORT itself first (as with LevelDB's export.h). */
#if !defined(LEVELDB_EXPORT)
#if defined(__GNUC__)
#define LEVELDB_EXPORT __attribute__((visibility("default")))
#else
#define LEVELDB_EXPORT
#endif
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------ */
/* Handle types (all opaque)                                                */
/* ------------------------------------------------------------------------ */

typedef struct leveldb_t leveldb_t;                       /* an open database */
typedef struct leveldb_cache_t leveldb_cache_t;           /* LRU block cache */
typedef struct leveldb_comparator_t leveldb_comparator_t; /* user key order */
typedef struct leveldb_env_t leveldb_env_t;               /* file system access */
typedef struct leveldb_filelock_t leveldb_filelock_t;     /* no functions use it */
typedef struct leveldb_filterpolicy_t leveldb_filterpolicy_t;
typedef struct leveldb_iterator_t leveldb_iterator_t;
typedef struct leveldb_logger_t leveldb_logger_t; /* no constructor: pass NULL */
typedef struct leveldb_options_t leveldb_options_t;
typedef struct leveldb_randomfile_t leveldb_randomfile_t; /* no functions use it */
typedef struct leveldb_readoptions_t leveldb_readoptions_t;
typedef struct leveldb_seqfile_t leveldb_seqfile_t; /* no functions use it */
typedef struct leveldb_snapshot_t leveldb_snapshot_t;
typedef struct leveldb_writablefile_t leveldb_writablefile_t; /* no functions use it */
typedef struct leveldb_writebatch_t leveldb_writebatch_t;
typedef struct leveldb_writeoptions_t leveldb_writeoptions_t;

/* ------------------------------------------------------------------------ */
/* Database                                                                 */
/* ------------------------------------------------------------------------ */

/* Opens (or with create_if_missing creates) the database in directory name.
 * Returns a handle owned by the caller (free with leveldb_close), or NULL
 * with *errptr set. A missing database without create_if_missing, an
 * existing one with error_if_exists and a comparator whose name differs from
 * the one the database was created with are "Invalid argument" errors; a
 * database another handle holds open is an "IO error". */
LEVELDB_EXPORT leveldb_t *leveldb_open(const leveldb_options_t *options, const char *name,
                                       char **errptr);

/* Closes db and frees the handle. Iterators and snapshots must have been
 * released first. */
LEVELDB_EXPORT void leveldb_close(leveldb_t *db);

/* Stores key -> val, replacing any earlier value. */
LEVELDB_EXPORT void leveldb_put(leveldb_t *db, const leveldb_writeoptions_t *options,
                                const char *key, size_t keylen, const char *val, size_t vallen,
                                char **errptr);

/* Removes key; removing a missing key is not an error. */
LEVELDB_EXPORT void leveldb_delete(leveldb_t *db, const leveldb_writeoptions_t *options,
                                   const char *key, size_t keylen, char **errptr);

/* Applies every operation of batch atomically. The batch is not changed. */
LEVELDB_EXPORT void leveldb_write(leveldb_t *db, const leveldb_writeoptions_t *options,
                                  leveldb_writebatch_t *batch, char **errptr);

/* Returns a malloc'd copy of key's value (not NUL-terminated; its length in
 * *vallen), or NULL when the key is absent -- which is not an error, so
 * *errptr is untouched then. */
LEVELDB_EXPORT char *leveldb_get(leveldb_t *db, const leveldb_readoptions_t *options,
                                 const char *key, size_t keylen, size_t *vallen, char **errptr);

/* Returns a new iterator (initially not valid) over the state of db at this
 * moment, or at options' snapshot. Free it with leveldb_iter_destroy before
 * closing db. A failure to create it shows as an iterator that is never
 * valid and whose leveldb_iter_get_error reports the cause. */
LEVELDB_EXPORT leveldb_iterator_t *leveldb_create_iterator(leveldb_t *db,
                                                           const leveldb_readoptions_t *options);

/* A frozen view of db: reads through it see no later writes. Release it
 * with leveldb_release_snapshot on the same db. */
LEVELDB_EXPORT const leveldb_snapshot_t *leveldb_create_snapshot(leveldb_t *db);

LEVELDB_EXPORT void leveldb_release_snapshot(leveldb_t *db, const leveldb_snapshot_t *snapshot);

/* Returns a malloc'd, NUL-terminated value of a property such as
 * "leveldb.num-files-at-level<N>", "leveldb.stats", "leveldb.sstables" or
 * "leveldb.approximate-memory-usage"; NULL for an unknown name. */
LEVELDB_EXPORT char *leveldb_property_value(leveldb_t *db, const char *propname);

/* Fills sizes[i] with the approximate bytes of files used by the keys in
 * [range_start_key[i], range_limit_key[i]) for each of num_ranges ranges.
 * Data still in memory is not counted. */
LEVELDB_EXPORT void leveldb_approximate_sizes(leveldb_t *db, int num_ranges,
                                              const char *const *range_start_key,
                                              const size_t *range_start_key_len,
                                              const char *const *range_limit_key,
                                              const size_t *range_limit_key_len, uint64_t *sizes);

/* Compacts the keys in [start_key, limit_key]; a NULL start_key means from
 * the first key, a NULL limit_key up to the last. Blocks until done. */
LEVELDB_EXPORT void leveldb_compact_range(leveldb_t *db, const char *start_key,
                                          size_t start_key_len, const char *limit_key,
                                          size_t limit_key_len);

/* ------------------------------------------------------------------------ */
/* Whole-database management                                                */
/* ------------------------------------------------------------------------ */

/* Deletes the database's files and its directory. It must not be open. A
 * missing database is not an error. */
LEVELDB_EXPORT void leveldb_destroy_db(const leveldb_options_t *options, const char *name,
                                       char **errptr);

/* Rebuilds a damaged database from whatever logs and tables can still be
 * read. It must not be open. Some data may be lost or deleted data may
 * reappear, as with LevelDB's RepairDB. */
LEVELDB_EXPORT void leveldb_repair_db(const leveldb_options_t *options, const char *name,
                                      char **errptr);

/* ------------------------------------------------------------------------ */
/* Iterators                                                                */
/* ------------------------------------------------------------------------ */

LEVELDB_EXPORT void leveldb_iter_destroy(leveldb_iterator_t *);
/* Non-zero while the iterator is positioned at an entry. */
LEVELDB_EXPORT uint8_t leveldb_iter_valid(const leveldb_iterator_t *);
LEVELDB_EXPORT void leveldb_iter_seek_to_first(leveldb_iterator_t *);
LEVELDB_EXPORT void leveldb_iter_seek_to_last(leveldb_iterator_t *);
/* Positions at the first entry whose key is >= k. */
LEVELDB_EXPORT void leveldb_iter_seek(leveldb_iterator_t *, const char *k, size_t klen);
/* Next/prev require a valid iterator. */
LEVELDB_EXPORT void leveldb_iter_next(leveldb_iterator_t *);
LEVELDB_EXPORT void leveldb_iter_prev(leveldb_iterator_t *);
/* The current key and value, owned by the iterator and valid until it is
 * moved or destroyed. Require a valid iterator. */
LEVELDB_EXPORT const char *leveldb_iter_key(const leveldb_iterator_t *, size_t *klen);
LEVELDB_EXPORT const char *leveldb_iter_value(const leveldb_iterator_t *, size_t *vlen);
/* Sets *errptr if an error stopped the iterator; leaves it alone otherwise. */
LEVELDB_EXPORT void leveldb_iter_get_error(const leveldb_iterator_t *, char **errptr);

/* ------------------------------------------------------------------------ */
/* Write batches                                                            */
/* ------------------------------------------------------------------------ */

LEVELDB_EXPORT leveldb_writebatch_t *leveldb_writebatch_create(void);
LEVELDB_EXPORT void leveldb_writebatch_destroy(leveldb_writebatch_t *);
/* Empties the batch so it can be reused. */
LEVELDB_EXPORT void leveldb_writebatch_clear(leveldb_writebatch_t *);
LEVELDB_EXPORT void leveldb_writebatch_put(leveldb_writebatch_t *, const char *key, size_t klen,
                                           const char *val, size_t vlen);
LEVELDB_EXPORT void leveldb_writebatch_delete(leveldb_writebatch_t *, const char *key, size_t klen);
/* Calls put or deleted for each queued operation, in the order queued. */
LEVELDB_EXPORT void leveldb_writebatch_iterate(const leveldb_writebatch_t *, void *state,
                                               void (*put)(void *, const char *k, size_t klen,
                                                           const char *v, size_t vlen),
                                               void (*deleted)(void *, const char *k, size_t klen));
/* Queues a copy of every operation of source after those of destination. */
LEVELDB_EXPORT void leveldb_writebatch_append(leveldb_writebatch_t *destination,
                                              const leveldb_writebatch_t *source);

/* ------------------------------------------------------------------------ */
/* Database options                                                         */
/* ------------------------------------------------------------------------ */

/* A new options object with LevelDB's defaults. The comparator, filter
 * policy, env and cache set on it are borrowed and must outlive every
 * database opened with them. */
LEVELDB_EXPORT leveldb_options_t *leveldb_options_create(void);
LEVELDB_EXPORT void leveldb_options_destroy(leveldb_options_t *);
LEVELDB_EXPORT void leveldb_options_set_comparator(leveldb_options_t *, leveldb_comparator_t *);
LEVELDB_EXPORT void leveldb_options_set_filter_policy(leveldb_options_t *,
                                                      leveldb_filterpolicy_t *);
LEVELDB_EXPORT void leveldb_options_set_create_if_missing(leveldb_options_t *, uint8_t);
LEVELDB_EXPORT void leveldb_options_set_error_if_exists(leveldb_options_t *, uint8_t);
LEVELDB_EXPORT void leveldb_options_set_paranoid_checks(leveldb_options_t *, uint8_t);
LEVELDB_EXPORT void leveldb_options_set_env(leveldb_options_t *, leveldb_env_t *);
LEVELDB_EXPORT void leveldb_options_set_info_log(leveldb_options_t *, leveldb_logger_t *);
LEVELDB_EXPORT void leveldb_options_set_write_buffer_size(leveldb_options_t *, size_t);
LEVELDB_EXPORT void leveldb_options_set_max_open_files(leveldb_options_t *, int);
LEVELDB_EXPORT void leveldb_options_set_cache(leveldb_options_t *, leveldb_cache_t *);
LEVELDB_EXPORT void leveldb_options_set_block_size(leveldb_options_t *, size_t);
LEVELDB_EXPORT void leveldb_options_set_block_restart_interval(leveldb_options_t *, int);
LEVELDB_EXPORT void leveldb_options_set_max_file_size(leveldb_options_t *, size_t);

/* Block compression for leveldb_options_set_compression (the values are
 * the block type bytes of the table format). This implementation also
 * accepts 2, zstd (the value later LevelDB releases use; LevelDB 1.23
 * cannot read such tables); other values make leveldb_open fail. */
enum { leveldb_no_compression = 0, leveldb_snappy_compression = 1 };
LEVELDB_EXPORT void leveldb_options_set_compression(leveldb_options_t *, int);

/* ------------------------------------------------------------------------ */
/* Comparators                                                              */
/* ------------------------------------------------------------------------ */

/* A user-defined total order on keys: compare returns <0, 0 or >0 and must
 * be thread-safe. name(state) is stored in the database, which will not
 * open later with a comparator of another name; it is called once, here.
 * destructor(state) runs at leveldb_comparator_destroy. Returns NULL if
 * name is missing or memory runs out. */
LEVELDB_EXPORT leveldb_comparator_t *leveldb_comparator_create(
    void *state, void (*destructor)(void *),
    int (*compare)(void *, const char *a, size_t alen, const char *b, size_t blen),
    const char *(*name)(void *));
LEVELDB_EXPORT void leveldb_comparator_destroy(leveldb_comparator_t *);

/* ------------------------------------------------------------------------ */
/* Filter policies                                                          */
/* ------------------------------------------------------------------------ */

/* A user-defined filter: create_filter returns a malloc'd summary of
 * num_keys keys (its length in *filter_length; the library frees it), and
 * key_may_match returns non-zero unless the key is certainly not among the
 * keys the filter summarises. name(state) is called once, here, and names
 * the filter blocks in the tables. destructor(state) runs at
 * leveldb_filterpolicy_destroy. */
LEVELDB_EXPORT leveldb_filterpolicy_t *leveldb_filterpolicy_create(
    void *state, void (*destructor)(void *),
    char *(*create_filter)(void *, const char *const *key_array, const size_t *key_length_array,
                           int num_keys, size_t *filter_length),
    uint8_t (*key_may_match)(void *, const char *key, size_t length, const char *filter,
                             size_t filter_length),
    const char *(*name)(void *));
LEVELDB_EXPORT void leveldb_filterpolicy_destroy(leveldb_filterpolicy_t *);

/* LevelDB's bloom filter, bits_per_key bits per key (10: about 1% false
 * positives); compatible with tables LevelDB writes. */
LEVELDB_EXPORT leveldb_filterpolicy_t *leveldb_filterpolicy_create_bloom(int bits_per_key);

/* ------------------------------------------------------------------------ */
/* Read options                                                             */
/* ------------------------------------------------------------------------ */

LEVELDB_EXPORT leveldb_readoptions_t *leveldb_readoptions_create(void);
LEVELDB_EXPORT void leveldb_readoptions_destroy(leveldb_readoptions_t *);
LEVELDB_EXPORT void leveldb_readoptions_set_verify_checksums(leveldb_readoptions_t *, uint8_t);
LEVELDB_EXPORT void leveldb_readoptions_set_fill_cache(leveldb_readoptions_t *, uint8_t);
/* Reads made with these options see the snapshot (NULL: the current state).
 * The snapshot must stay alive while the options are used. */
LEVELDB_EXPORT void leveldb_readoptions_set_snapshot(leveldb_readoptions_t *,
                                                     const leveldb_snapshot_t *);

/* ------------------------------------------------------------------------ */
/* Write options                                                            */
/* ------------------------------------------------------------------------ */

LEVELDB_EXPORT leveldb_writeoptions_t *leveldb_writeoptions_create(void);
LEVELDB_EXPORT void leveldb_writeoptions_destroy(leveldb_writeoptions_t *);
/* Non-zero: a write returns only once it is on stable storage. */
LEVELDB_EXPORT void leveldb_writeoptions_set_sync(leveldb_writeoptions_t *, uint8_t);

/* ------------------------------------------------------------------------ */
/* Block cache                                                              */
/* ------------------------------------------------------------------------ */

/* An LRU cache of up to capacity bytes of table blocks, shareable between
 * databases; destroy it after every database using it is closed. */
LEVELDB_EXPORT leveldb_cache_t *leveldb_cache_create_lru(size_t capacity);
LEVELDB_EXPORT void leveldb_cache_destroy(leveldb_cache_t *cache);

/* ------------------------------------------------------------------------ */
/* Environment                                                              */
/* ------------------------------------------------------------------------ */

/* A handle on the process-wide POSIX environment. Destroying the handle
 * does not affect the environment itself. */
LEVELDB_EXPORT leveldb_env_t *leveldb_create_default_env(void);
LEVELDB_EXPORT void leveldb_env_destroy(leveldb_env_t *);

/* A directory for test databases: $TEST_TMPDIR if set and not empty, else
 * /tmp/leveldbtest-<effective uid>; created if missing. Returns a malloc'd
 * path (free with leveldb_free) or NULL. */
LEVELDB_EXPORT char *leveldb_env_get_test_directory(leveldb_env_t *);

/* ------------------------------------------------------------------------ */
/* Utilities                                                                */
/* ------------------------------------------------------------------------ */

/* Frees memory returned by this library (it is free()). */
LEVELDB_EXPORT void leveldb_free(void *ptr);

/* The LevelDB release whose API this is: 1.23. */
LEVELDB_EXPORT int leveldb_major_version(void);
LEVELDB_EXPORT int leveldb_minor_version(void);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* STORAGE_LEVELDB_INCLUDE_C_H_ */
