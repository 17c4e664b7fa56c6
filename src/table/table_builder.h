/*
 * table_builder.h - writes a sorted table (format in table/format.h) from
 * internal keys added in strictly increasing internal-key order.
 * Not thread-safe.
 */
#ifndef ST_TABLE_BUILDER_H
#define ST_TABLE_BUILDER_H

#include <stdint.h>

#include "env/env.h"
#include "table/table_options.h"

typedef struct st_table_builder st_table_builder;

/* A builder writing to file (borrowed: the caller syncs and closes it after
 * finish/abandon). opt is copied; opt->ucmp and opt->filter_policy must
 * outlive the builder. NULL when out of memory.
 * Blocks (data, index and metaindex, as LevelDB) are compressed with
 * opt->compression (SNAPPY, or ZSTD at opt->zstd_level -- 1 when <= 0; any
 * other value means none) and stored raw when that saves less than 12.5%.
 * A data block is cut once its size reaches opt->block_size. With
 * opt->filter_policy a filter block (table/filter_block.h) of the user keys
 * is written too, uncompressed, under "filter.<policy name>".
 * Without compression or with snappy the output is byte for byte what
 * LevelDB 1.23's TableBuilder writes for the same entries and options
 * (LevelDB 1.23 itself cannot read zstd blocks; later LevelDB versions
 * write the same type byte 0x2). */
st_table_builder *st_table_builder_new(const st_table_options *opt, st_wfile *file);

/* Adds an entry. REQUIRE: ikey > every key added before (internal order),
 * not finished. Errors (sticky: later calls return the same): STRATA_EIO,
 * STRATA_ENOMEM (also when a user filter policy returns no filter). */
int st_table_builder_add(st_table_builder *b, st_slice ikey, st_slice value);

/* Adds an entry whose data block is copied as it lies in another table:
 * stored is that block's contents (as stored, maybe compressed), type
 * byte and masked crc32c (st_read_stored_block), and ikey is the block's
 * only entry. The block being built, if any, is written first (shorter
 * than block_size). The caller vouches that the block holds exactly ikey
 * and its value; the filter and index learn ikey as for st_table_builder_add.
 * Same requirements and errors as st_table_builder_add. */
int st_table_builder_add_stored(st_table_builder *b, st_slice ikey, st_slice stored);

/* Writes the last data block, the meta-index, index block and footer.
 * The file is not synced. Errors: STRATA_EIO, STRATA_ENOMEM. */
int st_table_builder_finish(st_table_builder *b);

/* Stops without finishing; the caller deletes the file. */
void st_table_builder_abandon(st_table_builder *b);

uint64_t st_table_builder_num_entries(const st_table_builder *b);
/* Bytes written so far (the file size after finish). */
uint64_t st_table_builder_file_size(const st_table_builder *b);

/* Frees b (after finish or abandon). NULL is a no-op. */
void st_table_builder_free(st_table_builder *b);

#endif
