/*
 * table_cache.h - a bounded cache of open sorted tables, keyed by file
 * number (the LRU of util/cache.h holding at most `entries` tables, each
 * with its file open, or mapped). Thread-safe.
 */
#ifndef ST_TABLE_CACHE_H
#define ST_TABLE_CACHE_H

#include <stdint.h>

#include "env/env.h"
#include "table/table.h"

typedef struct st_table_cache st_table_cache;

/* dbname and topt are copied (topt's ucmp and block_cache must outlive the
 * cache). NULL when out of memory. */
st_table_cache *st_table_cache_new(st_env *env, const char *dbname, const st_table_options *topt,
                                   int entries);
void st_table_cache_free(st_table_cache *tc);

/* An iterator over table `number`; it keeps the table open until
 * destroyed. Never NULL unless out of memory: open errors come back as an
 * iterator whose status() is the error. If tablep is not NULL it receives
 * the table (valid while the iterator lives). */
st_iter *st_table_cache_iter(st_table_cache *tc, const st_read_opts *ro, uint64_t number,
                             uint64_t file_size, st_table **tablep);

/* st_table_get() on table `number`. */
int st_table_cache_get(st_table_cache *tc, const st_read_opts *ro, uint64_t number,
                       uint64_t file_size, st_slice ikey, void *arg,
                       int (*fn)(void *arg, st_slice k, st_slice v));

/* st_table_approximate_offset() on table `number` (0 if it cannot open). */
uint64_t st_table_cache_approximate_offset(st_table_cache *tc, uint64_t number, uint64_t file_size,
                                           st_slice ikey);

/* st_table_middle_key() on table `number`; its error if it cannot open. */
int st_table_cache_middle_key(st_table_cache *tc, uint64_t number, uint64_t file_size, st_buf *out);

/* Opens table `number` into the cache now if it is not there (read-only
 * handles, db_readonly.c: a table opened stays readable after the writer
 * deletes its file, so a handle opens every table of a state before it
 * reads that state; its cache is made large enough never to evict one).
 * Errors: STRATA_ENOTFOUND when neither NNNNNN.ldb nor NNNNNN.sst exists,
 * else the open's error. */
int st_table_cache_open(st_table_cache *tc, uint64_t number, uint64_t file_size);

/* Drops table `number` from the cache (its file is being deleted). */
void st_table_cache_evict(st_table_cache *tc, uint64_t number);

#endif
