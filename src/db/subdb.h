/*
 * subdb.h - named sub-databases (strata_subdb in strata.h): how their
 * records are laid out in the main key space, and the handles.
 *
 * Every sub-database record is an ordinary LevelDB record whose key begins
 * with the reserved prefix, so LevelDB 1.23 reads such a database as plain
 * keys and values. The grammar (also in doc/formats.md):
 *
 *   reserved := 0xff 0xff "strata" 0x00                  9 bytes
 *   id       := fixed32, big-endian (so ids sort numerically), >= 1
 *   catalog  := reserved 'c' name          -> id        one per live sub-database
 *   data     := reserved 'd' id user_key   -> value     the sub-database's records
 *   dropped  := reserved 'x' id            -> ""        id was dropped: its data
 *                                                       records are garbage
 *   next_id  := reserved 'n'               -> id        the next id to hand out
 *
 * A sub-database's keys are `reserved 'd' id` followed by the user's key, so
 * in bytewise order they sit together, in the user's order, and the empty
 * user key is allowed. Ids are never reused (next_id only grows), so a name
 * dropped and created again starts empty even while the old records are
 * still on disk. Drop writes one batch (delete the catalog record, add the
 * dropped record); compaction then discards every data record of a dropped
 * id (db_compact.c), which is what makes a drop O(1) for the caller.
 *
 * Why a byte prefix and not a separate key space per sub-database (RocksDB's
 * column families): LevelDB's format has one key space per database, and a
 * database that uses sub-databases must still open in LevelDB. Why at the
 * top of the key space: keys beginning 0xff 0xff are rare in practice, and
 * the check on the main database's write and iteration paths is one byte
 * compare for almost every key.
 */
#ifndef ST_SUBDB_H
#define ST_SUBDB_H

#include <stdatomic.h>
#include <stdint.h>

#include "strata.h"
#include "util/buf.h"
#include "util/slice.h"

#define ST_RESERVED_LEN STRATA_RESERVED_PREFIX_LEN    /* 9: the prefix and its 0x00 */
#define ST_SUBDB_PREFIX_LEN (ST_RESERVED_LEN + 1 + 4) /* reserved 'd' id */

/* The reserved prefix, 9 bytes (STRATA_RESERVED_PREFIX plus its 0x00). */
extern const char st_reserved_prefix[ST_RESERVED_LEN];

enum {
  ST_SUBDB_CATALOG = 'c',
  ST_SUBDB_DATA = 'd',
  ST_SUBDB_NEXT_ID = 'n',
  ST_SUBDB_DROPPED = 'x'
};

struct strata_subdb {
  strata_db *db;                    /* [const] */
  uint32_t id;                      /* [const] */
  atomic_int dropped;               /* set once by drop */
  char prefix[ST_SUBDB_PREFIX_LEN]; /* [const] reserved 'd' id */
  struct strata_subdb *next;        /* the database's list [subdb_mu] */
  char name[];                      /* NUL-terminated [const] */
};

/* True when key lies in the reserved range (begins with the 9 reserved
 * bytes). One byte compare for almost every key. */
static inline int st_key_is_reserved(const void *key, size_t klen) {
  const unsigned char *k = key;
  return klen >= ST_RESERVED_LEN && k[0] == 0xff &&
         memcmp(k, st_reserved_prefix, ST_RESERVED_LEN) == 0;
}

/* The key prefix of sdb's records (NULL: the main database, an empty
 * prefix) into *prefix, after checking that sdb belongs to db and has not
 * been dropped. The prefix's bytes live as long as the handle (database
 * close). Errors: STRATA_EINVAL (dropped, another database's handle). */
int st_subdb_resolve(strata_db *db, strata_subdb *sdb, st_slice *prefix);

/* Reads the catalog into db's handle list and dropped ids (at open, and at
 * a read-only handle's catch-up: handles already given out stay valid, and
 * one whose sub-database the writer dropped is marked dropped).
 * Errors: STRATA_ECORRUPTION (a malformed catalog record), STRATA_EIO,
 * STRATA_ENOMEM. */
int st_subdb_load(strata_db *db);
/* Frees every handle (database close). */
void st_subdb_free_all(strata_db *db);
/* Waits for the thread compacting dropped sub-databases' ranges (database
 * close: after the background thread has stopped, which stops it). */
void st_subdb_join_cleanup(strata_db *db);

/* Writes the 4-byte big-endian id at p. */
static inline void st_subdb_put_id(char *p, uint32_t id) {
  p[0] = (char)(id >> 24);
  p[1] = (char)(id >> 16);
  p[2] = (char)(id >> 8);
  p[3] = (char)id;
}
static inline uint32_t st_subdb_get_id(const char *p) {
  const unsigned char *u = (const unsigned char *)p;
  return ((uint32_t)u[0] << 24) | ((uint32_t)u[1] << 16) | ((uint32_t)u[2] << 8) | u[3];
}

#endif
