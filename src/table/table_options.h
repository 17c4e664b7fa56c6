/*
 * table_options.h - what the table builder and reader need to know. Keys in
 * tables are always internal keys (util/internal_key.h), ordered by the
 * internal-key order over `ucmp`.
 */
#ifndef ST_TABLE_OPTIONS_H
#define ST_TABLE_OPTIONS_H

#include <stddef.h>

#include "util/cache.h"
#include "util/comparator.h"

typedef struct st_table_options {
  const st_comparator *ucmp; /* user-key comparator (borrowed) */
  size_t block_size;         /* target uncompressed data block size */
  int restart_interval;      /* keys between restart points */
  int compression;           /* strata_compression of data blocks */
  int paranoid_checks;       /* verify every block's CRC when opening /
                                reading index and meta blocks */
  st_cache *block_cache;     /* uncompressed blocks; NULL = none (borrowed) */
  int zstd_level;            /* level for STRATA_COMPRESSION_ZSTD */
  /* Filter policy for the filter block (user keys); NULL = no filters
   * written or consulted (borrowed). */
  const struct strata_filter_policy *filter_policy;
} st_table_options;

/* Per-read options. */
typedef struct st_read_opts {
  int verify_checksums; /* check the CRC of each data block read */
  int fill_cache;       /* insert blocks read into the block cache */
} st_read_opts;

#endif
