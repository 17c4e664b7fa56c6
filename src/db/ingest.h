/*
 * ingest.h - adding tables built outside the write path (a sorted bulk
 * load, loader.c) to a live database: the check that their key range is
 * empty, the choice of level, and the MANIFEST record, done by the
 * background thread (ingest.c; the algorithm is at the top of loader.c).
 */
#ifndef ST_INGEST_H
#define ST_INGEST_H

#include <stddef.h>
#include <stdint.h>

#include "strata.h"
#include "util/buf.h"
#include "util/error.h"

/* One table to add: complete, synced and read back already. */
typedef struct st_ingest_table {
  uint64_t number, file_size;
  st_buf smallest, largest; /* first and last internal keys */
  int level;                /* out: where it went */
} st_ingest_table;

/* A request, owned by the thread that waits for it (on its stack). */
typedef struct st_ingest {
  st_ingest_table *tables; /* in key order, not overlapping */
  size_t ntables;
  strata_subdb *sdb; /* the target (NULL: main database); checked again */
  size_t prefix_len; /* bytes of key prefix to leave out of messages */
  int skip_reserved; /* a main-database load in bytewise order: entries
                        in the reserved range are not the target's */
  /* Set by the background thread, under the database mutex. */
  int started;        /* it took the request (and then finishes it) */
  int done;           /* rc and err are set */
  int manifest_tried; /* the MANIFEST write was attempted: it may name the tables */
  int rc;
  st_error err;
} st_ingest;

/* Hands req to the background thread and waits until it is served.
 * Returns its result: 0 (the tables are in the current version, level of
 * each in ->level), STRATA_EINVAL (the range holds an entry of the target,
 * the sub-database was dropped), STRATA_EIO (the MANIFEST write failed,
 * which stops every later write as a background error; the database is
 * closing), STRATA_ENOMEM. REQUIRE: db mutex held (released while
 * waiting). Thread-safe: requests of several threads are served one at a
 * time. */
int st_db_ingest(strata_db *db, st_ingest *req);

/* "key 'ab\x01' (3 bytes)": up to 32 bytes, printable or \x escapes, into
 * out (cap bytes); returns out. For messages. */
const char *st_describe_key(const void *key, size_t klen, char *out, size_t cap);

#endif
