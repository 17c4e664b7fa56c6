/*
 * builder.h - writes the contents of an iterator (a memtable being
 * flushed) to a new level-0 table file.
 */
#ifndef ST_BUILDER_H
#define ST_BUILDER_H

#include <stdint.h>

#include "db/table_cache.h"
#include "env/env.h"
#include "table/iterator.h"
#include "table/table_options.h"
#include "util/buf.h"

typedef struct st_built_table {
  uint64_t number;    /* in: the file number to use */
  uint64_t file_size; /* out: 0 when the iterator was empty (no file) */
  st_buf smallest;    /* out: first internal key (caller frees) */
  st_buf largest;     /* out: last internal key (caller frees) */
} st_built_table;

/* Writes every entry of it to table file `out->number` in dbname, syncs and
 * closes it, then opens it through tc to check it is readable. On error, or
 * when it has no entries, no file is left behind. */
int st_build_table(st_env *env, const char *dbname, const st_table_options *topt,
                   st_table_cache *tc, st_iter *it, st_built_table *out);

#endif
