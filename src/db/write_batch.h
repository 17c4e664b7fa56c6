/*
 * write_batch.h - the internals of strata_batch (public API in strata.h).
 *
 * Encoding (LevelDB's WriteBatch rep, also the payload of each write-ahead
 * log record; the grammar is repeated at the top of write_batch.c):
 *   rep    := sequence:fixed64 count:fixed32 record*
 *   record := 0x1 key:lenprefixed value:lenprefixed     (put)
 *           | 0x0 key:lenprefixed                       (delete)
 * Record i gets sequence number `sequence + i` when applied.
 */
#ifndef ST_WRITE_BATCH_H
#define ST_WRITE_BATCH_H

#include <stdint.h>

#include "strata.h"
#include "util/buf.h"

#define ST_BATCH_HEADER 12

struct strata_batch {
  st_buf rep; /* always >= ST_BATCH_HEADER bytes */
};

struct st_memtable;

/* Initialises/frees a batch embedded in another struct. */
int st_batch_init(strata_batch *b);
void st_batch_release(strata_batch *b);

static inline uint64_t st_batch_sequence(const strata_batch *b) {
  return st_get_fixed64(b->rep.data);
}
static inline void st_batch_set_sequence(strata_batch *b, uint64_t seq) {
  st_put_fixed64(b->rep.data, seq);
}
static inline uint32_t st_batch_get_count(const strata_batch *b) {
  return st_get_fixed32(b->rep.data + 8);
}
static inline void st_batch_set_count(strata_batch *b, uint32_t n) {
  st_put_fixed32(b->rep.data + 8, n);
}
static inline st_slice st_batch_contents(const strata_batch *b) { return st_buf_slice(&b->rep); }

/* Replaces b's rep with contents (e.g. a record read from a log). Errors:
 * STRATA_ECORRUPTION if shorter than the header, STRATA_ENOMEM. */
int st_batch_set_contents(strata_batch *b, st_slice contents);

/* Inserts every record into mem with sequence numbers sequence, sequence+1,
 * ... Errors: STRATA_ECORRUPTION (bad encoding or a count that disagrees
 * with the records; nothing is inserted then: the batch is checked before
 * the first insert), STRATA_ENOMEM (or STRATA_EINVAL) from the memtable --
 * then the records before the failing one ARE in mem, so the caller must
 * treat mem as damaged (e.g. fail the write path for good). */
int st_batch_insert_into(const strata_batch *b, struct st_memtable *mem);

/* Appends a put/delete of key prefix+key without the reserved-range check
 * of strata_batch_put (for leveldb/c.h, which is LevelDB and allows every
 * key, and for sub-database and catalog records). prefix may be empty.
 * Errors and atomicity as strata_batch_put. */
int st_batch_put_raw(strata_batch *b, st_slice prefix, const void *key, size_t klen,
                     const void *val, size_t vlen);
int st_batch_delete_raw(strata_batch *b, st_slice prefix, const void *key, size_t klen);

/* Reads the record at byte offset *pos (0: the first) and advances *pos:
 * returns 1 with its type (ST_TYPE_VALUE or ST_TYPE_DELETION), key and
 * value (empty for a delete; both point into b), 0 past the last record,
 * or STRATA_ECORRUPTION. */
int st_batch_next_record(const strata_batch *b, size_t *pos, int *type, st_slice *key,
                         st_slice *val);

/* Checks the encoding: every record parses and the count matches.
 * Returns 0 or STRATA_ECORRUPTION. */
int st_batch_validate(const strata_batch *b);

#endif
