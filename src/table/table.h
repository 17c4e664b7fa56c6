/*
 * table.h - reads a sorted table. An open table is immutable and may be
 * used by many threads at once (lookups and iterators).
 */
#ifndef ST_TABLE_H
#define ST_TABLE_H

#include <stdint.h>

#include "env/env.h"
#include "table/format.h"
#include "table/iterator.h"
#include "table/table_options.h"

typedef struct st_table st_table;

/* Opens the table in file (ownership passes to the table, which closes it;
 * on failure the file is closed too), reading the footer, index and
 * meta-index, and the filter block of opt->filter_policy: the metaindex
 * entry "filter.<policy name>" (a table written with another policy, or
 * none, is read without filters). A damaged metaindex or filter block
 * (checksum, truncation, bad layout) or a failed read of either only
 * turns filters off, unless opt->paranoid_checks: then open fails.
 * file_size is the file's length; path is used in error messages only
 * (copied). opt is copied; its ucmp, block_cache and filter_policy must
 * outlive the table.
 * Errors: STRATA_ECORRUPTION ("<path>: bad magic number", truncated file,
 * bad block checksum, "<path>: bad filter block at offset ..", ...),
 * STRATA_EIO, STRATA_ENOMEM. */
int st_table_open(const st_table_options *opt, st_rafile *file, uint64_t file_size,
                  const char *path, st_table **out);

/* st_table_open on the file at path, opened through env with its current
 * size; for tools that read a table file by name (check, repair). On
 * failure *size_out (may be NULL) still receives the size if it was read.
 * Errors as st_table_open, plus those of env's file_size and new_rafile. */
int st_table_open_path(st_env *env, const st_table_options *opt, const char *path,
                       uint64_t *size_out, st_table **out);

/* Closes the file and frees t. NULL is a no-op. */
void st_table_close(st_table *t);

/* An iterator over the table's entries (internal keys). The table must
 * outlive it. NULL when out of memory. */
st_iter *st_table_iter(st_table *t, const st_read_opts *ro);

/* The file t reads (owned by t; valid while t is open): for copying a
 * table whose name may be gone (a read-only handle's checkpoint). */
const st_rafile *st_table_file(const st_table *t);

/* Point lookup: seeks the first entry whose internal key is >= ikey and,
 * if there is one, calls fn(arg, its_key, its_value) once (the slices are
 * valid only during the call). Without an entry >= ikey fn is not called.
 * With a filter (see st_table_open), fn is not called either when the
 * filter rules ikey's user key out of the data block the index points at,
 * even if a later entry (of a greater user key) exists: callers looking
 * for ikey's user key lose nothing, and no data block is read. The filter
 * path allocates nothing.
 * Returns 0 or an error (STRATA_ECORRUPTION, STRATA_EIO, STRATA_ENOMEM), or
 * whatever non-zero fn returned. */
int st_table_get(st_table *t, const st_read_opts *ro, st_slice ikey, void *arg,
                 int (*fn)(void *arg, st_slice k, st_slice v));

/* Approximate file offset where ikey's data would begin (for approximate
 * sizes): the offset of the data block that would hold it, or the offset
 * of the meta-index block when past the last key. */
uint64_t st_table_approximate_offset(st_table *t, st_slice ikey);

/* Copies into *out the index key halfway through t's data blocks (a key
 * at or past the last key of the first half of the blocks and before the
 * first key of the second half), as an estimate of the table's median
 * key. Returns STRATA_ENOTFOUND when t has fewer than two data blocks,
 * STRATA_ENOMEM, or the index block's error. */
int st_table_middle_key(st_table *t, st_buf *out);

/* Meta blocks (format.h): finds the metaindex entry `name` (e.g.
 * "filter.leveldb.BuiltinBloomFilter2") and stores its handle in *h.
 * Returns 0, STRATA_ENOTFOUND (no such entry, or the metaindex could not
 * be read at open -- meta blocks are optional), or STRATA_ECORRUPTION. */
int st_table_find_meta(const st_table *t, const char *name, st_block_handle *h);

/* Reads the meta block at h (checksum verified) into *out, which the
 * caller frees with st_block_contents_free(). Errors as st_read_block(). */
int st_table_read_meta(const st_table *t, const st_block_handle *h, st_block_contents *out);

/* Reads every data block of t in order, for checking and repair: calls
 * entry(arg, key, value) for each entry of each readable block (may be
 * NULL) and bad_block(arg, offset, code, what) for each block that cannot
 * be read, fails its checksum, fails to decompress, does not parse, or
 * holds keys out of order (may be NULL); the scan goes on with the next
 * block. Checksums are always verified. Returns the number of bad blocks
 * (>= 0), or a negative error when the scan could not go on at all (e.g.
 * the index block is unreadable -- then bad_block has been called for it
 * too), or a negative value entry() returned to stop the scan.
 *
 * Details: a block is checked whole before any of its entries is passed
 * on, so a bad block contributes no entry. Keys must ascend within a block
 * and from the last key of the previous good block; they are otherwise
 * passed as stored (a tag of unknown type included: st_ikey_parse them).
 * entry() returns 0 (or any non-negative value) to go on; its slices are
 * valid during the call. bad_block gets the block's offset (the index
 * block's for a damaged index entry), the error code and the error
 * message ("Corruption: <path>: block checksum mismatch at offset ..."),
 * valid during the call. Reads bypass the block cache. A read error
 * (STRATA_EIO) is a bad block; running out of memory stops the scan
 * (STRATA_ENOMEM). */
int64_t st_table_scan(st_table *t, void *arg, int (*entry)(void *arg, st_slice k, st_slice v),
                      void (*bad_block)(void *arg, uint64_t offset, int code, const char *what));

#endif
