/*
 * db_raw.h - the engine calls of leveldb/c.h (src/leveldb/), which is
 * LevelDB: every key is an ordinary key there, the range reserved for
 * sub-databases (subdb.h) included. These are strata_put, strata_delete,
 * strata_get, strata_batch_put, strata_batch_delete and strata_iter_create
 * without the reserved-range rule; arguments, ownership, thread-safety and
 * errors are otherwise exactly those of strata.h.
 */
#ifndef ST_DB_RAW_H
#define ST_DB_RAW_H

#include <stddef.h>

#include "strata.h"

int st_db_put_any(strata_db *db, const strata_write_options *wopt, const void *key, size_t klen,
                  const void *val, size_t vlen);
int st_db_delete_any(strata_db *db, const strata_write_options *wopt, const void *key, size_t klen);
int st_db_get_any(strata_db *db, const strata_read_options *ropt, const void *key, size_t klen,
                  strata_buf *val);
int st_batch_put_any(strata_batch *b, const void *key, size_t klen, const void *val, size_t vlen);
int st_batch_delete_any(strata_batch *b, const void *key, size_t klen);
/* An iterator over every key, the reserved range included. */
int st_db_iter_create_raw(strata_db *db, const strata_read_options *ropt, strata_iter **itp);

#endif
