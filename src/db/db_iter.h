/*
 * db_iter.h - entry points of the user-facing iterator (db_iter.c) for the
 * leveldb/c.h library, which otherwise uses only strata.h.
 *
 * LevelDB's C API checks validity before every key and value access; done
 * through strata_iter_valid() plus strata_iter_key() that is two calls
 * across translation units per access, a measurable share of a scan. These
 * do both in one. Same lifetime and thread-safety rules as strata_iter_key
 * and strata_iter_value (strata.h).
 */
#ifndef ST_DB_ITER_H
#define ST_DB_ITER_H

#include <stddef.h>

#include "strata.h"

/* The current key (*klen bytes), or NULL with *klen = 0 when it is not
 * valid. it must not be NULL; klen may be. */
const char *st_db_iter_key_if_valid(const strata_iter *it, size_t *klen);
/* The current value, or NULL with *vlen = 0 when it is not valid. */
const char *st_db_iter_value_if_valid(const strata_iter *it, size_t *vlen);

#endif
