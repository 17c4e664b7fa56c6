/*
 * format.h - the sorted-table file format (LevelDB 1.23's ".ldb"/".sst"),
 * block handles, the footer, and reading one block from a file.
 *
 * Grammar (all integers little-endian; varints as util/coding.h):
 *
 *   table           := data_block* meta_block* metaindex_block index_block
 *                      footer
 *   data_block      := block_contents trailer      entries: internal key ->
 *                                                  value, ascending
 *   meta_block      := block_contents trailer      the filter block (layout
 *                                                  in table/filter_block.c)
 *   metaindex_block := block_contents trailer      entries: meta block name
 *                                                  (e.g. "filter.<policy>",
 *                                                  bytewise order) ->
 *                                                  block_handle
 *   index_block     := block_contents trailer      one entry per data block:
 *                                                  separator internal key ->
 *                                                  block_handle
 *   footer          := metaindex:block_handle index:block_handle
 *                      zero padding to 40 bytes  magic:fixed64    (48 bytes)
 *   magic           := 0xdb4775248b80fb57
 *
 *   block_handle    := offset:varint64 size:varint64
 *                      (size counts block_contents, not the trailer; at
 *                      most 20 bytes)
 *   trailer         := type:uint8 crc:fixed32
 *                      crc = st_crc32c_mask(crc32c(block_contents ++ type))
 *   type            := 0x0 uncompressed | 0x1 snappy | 0x2 zstd
 *                      (block_contents is stored compressed as type says)
 *
 *   uncompressed block := entry* restart:fixed32* num_restarts:fixed32
 *   entry           := shared:varint32 non_shared:varint32 value_len:varint32
 *                      key_delta:uint8[non_shared] value:uint8[value_len]
 *                      (key = first `shared` bytes of the previous key ++
 *                      key_delta; shared is 0 at every restart point)
 *   restart         := offset of an entry with shared == 0, ascending; the
 *                      first is 0. One every `restart_interval` entries
 *                      (16 for data blocks, 1 for index and metaindex).
 *
 * An index separator for data block i is >= the last key of block i and <
 * the first key of block i + 1 (the last block's is >= its last key), made
 * short by the user comparator: when the user-key part could be shortened,
 * the separator is the short user key with tag (ST_MAX_SEQUENCE,
 * ST_TYPE_FOR_SEEK), otherwise the block's last internal key.
 */
#ifndef ST_FORMAT_H
#define ST_FORMAT_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "env/env.h"
#include "util/buf.h"
#include "util/slice.h"

#define ST_TABLE_MAGIC 0xdb4775248b80fb57ull
#define ST_FOOTER_SIZE 48
#define ST_BLOCK_TRAILER_SIZE 5
#define ST_MAX_BLOCK_HANDLE_SIZE (2 * ST_MAX_VARINT64)

/* Block types of the trailer (the values of strata_compression). */
enum { ST_BLOCK_NONE = 0, ST_BLOCK_SNAPPY = 1, ST_BLOCK_ZSTD = 2 };

/* zstd level used when the options give none (<= 0): the default of
 * LevelDB versions that write zstd blocks. */
#define ST_ZSTD_LEVEL 1

typedef struct st_block_handle {
  uint64_t offset; /* of the block in the file */
  uint64_t size;   /* of the stored block contents, excluding the trailer */
} st_block_handle;

/* Writes h at dst (room for ST_MAX_BLOCK_HANDLE_SIZE bytes); returns the
 * byte after it. */
char *st_block_handle_encode(const st_block_handle *h, char *dst);

/* Appends the encoding of h to b. Errors: STRATA_ENOMEM. */
int st_block_handle_append(st_buf *b, const st_block_handle *h);

/* Decodes a handle from [p, limit); returns the byte after it or NULL when
 * malformed (no message set: the caller knows which file it was). */
const char *st_block_handle_decode(const char *p, const char *limit, st_block_handle *h);

typedef struct st_footer {
  st_block_handle metaindex;
  st_block_handle index;
} st_footer;

/* Writes the 48-byte footer at dst. */
void st_footer_encode(const st_footer *f, char dst[ST_FOOTER_SIZE]);

/* Decodes the 48 bytes at p. path names the file in messages. Errors:
 * STRATA_ECORRUPTION ("<path>: not an sstable (bad magic number)", or a
 * malformed handle). */
int st_footer_decode(const char *p, const char *path, st_footer *f);

/* The (uncompressed) contents of a block read from a file. data points
 * either into memory the file owns for its lifetime (an mmap; heap == NULL)
 * or into heap, a malloc'd buffer that whoever holds the contents owns and
 * frees (st_block_contents_free, or by handing it to an st_block). */
typedef struct st_block_contents {
  const char *data;
  size_t size;
  char *heap;
} st_block_contents;

static inline void st_block_contents_free(st_block_contents *c) {
  free(c->heap);
  c->heap = NULL;
  c->data = NULL;
  c->size = 0;
}

/* Reads the block at h (contents + trailer) from file, checks its CRC if
 * verify_checksum, and decompresses it. file_size bounds the handle
 * (UINT64_MAX when unknown); path names the file in messages (borrowed).
 * On success *out holds the contents (see st_block_contents); on error *out
 * is empty and nothing needs freeing. Thread-safe as the file's read.
 * Errors: STRATA_ECORRUPTION ("<path>: truncated block read at offset ..",
 * "<path>: block checksum mismatch at offset .. (size ..)", unknown
 * compression type, bad compressed data), the file's read error (STRATA_EIO),
 * STRATA_ENOMEM. */
int st_read_block(const st_rafile *file, const char *path, uint64_t file_size,
                  const st_block_handle *h, int verify_checksum, st_block_contents *out);

/* st_read_block() for a block used once and dropped (a point lookup that
 * will not cache it): a compressed block is decompressed into a buffer
 * the calling thread keeps and reuses, so the read allocates nothing and
 * writes into memory that is already in the CPU cache. *out never owns
 * anything (heap == NULL); its data stays valid until this thread's next
 * st_read_block() or st_read_block_transient(), or until the file is
 * closed, whichever comes first. */
int st_read_block_transient(const st_rafile *file, const char *path, uint64_t file_size,
                            const st_block_handle *h, int verify_checksum, st_block_contents *out);

/* Points *out at the block at h exactly as stored -- contents (maybe
 * compressed), type byte and masked crc32c -- for copying it into another
 * table unchanged. Returns 1 when the block is there and its checksum
 * holds, else 0 (a damaged or unreadable block is simply not copied; no
 * error is left set). *out is valid as st_read_block_transient's result. */
int st_read_stored_block(const st_rafile *file, uint64_t file_size, const st_block_handle *h,
                         st_slice *out);

/* Compresses raw with `type` (ST_BLOCK_SNAPPY or ST_BLOCK_ZSTD) into out
 * (replacing its content). zstd_level is the zstd level (<= 0: ST_ZSTD_LEVEL;
 * above zstd's maximum: the maximum); snappy ignores it. Returns 0,
 * STRATA_ENOMEM, or STRATA_ENOTSUP when the compressor fails or type is
 * unknown (then store the block raw). */
int st_compress_block(int type, int zstd_level, st_slice raw, st_buf *out);

#endif
