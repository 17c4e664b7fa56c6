/*
 * subdb.c - named sub-databases: the catalog, handles, open, drop, list and
 * statistics. The record layout is the grammar at the top of subdb.h.
 */
#include "db/subdb.h"

#include "db/db_impl.h"
#include "util/error.h"

const char st_reserved_prefix[ST_RESERVED_LEN] = {'\xff', '\xff', 's', 't', 'r',
                                                  'a',    't',    'a', '\0'};

int st_subdb_resolve(strata_db *db, strata_subdb *sdb, st_slice *prefix) {
  if (!sdb) {
    *prefix = st_slice_make("", 0);
    return 0;
  }
  if (sdb->db != db)
    return st_err(STRATA_EINVAL, "sub-database '%s' belongs to another database", sdb->name);
  if (atomic_load_explicit(&sdb->dropped, memory_order_acquire))
    return st_err(STRATA_EINVAL, "sub-database '%s' was dropped", sdb->name);
  *prefix = st_slice_make(sdb->prefix, ST_SUBDB_PREFIX_LEN);
  return 0;
}
