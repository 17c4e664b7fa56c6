/*
 * table_builder.c - writes a sorted table (see table_builder.h; the format
 * is in table/format.h).
 *
 * Data blocks are cut when their estimated size reaches opt->block_size,
 * or early, before a block copied as stored from another table
 * (st_table_builder_add_stored, used by compactions).
 * The index entry of a block is written only when the first key of the
 * next block is known (or at finish), so that its separator can be a short
 * key between the two blocks instead of the block's whole last key.
 */
#include "table/table_builder.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "table/block_builder.h"
#include "table/filter_block.h"
#include "table/format.h"
#include "util/crc32c.h"
#include "util/error.h"
#include "util/internal_key.h"

struct st_table_builder {
  st_table_options opt;
  st_wfile *file;
  uint64_t offset; /* bytes written to file so far */
  int status;      /* sticky: 0 or the first error */
  st_error err;    /* its message, re-raised by every later call */
  int closed;      /* finished or abandoned */
  uint64_t num_entries;
  st_block_builder data;
  st_block_builder index;
  st_buf last_key;   /* last key added */
  st_buf separator;  /* scratch for index keys */
  st_buf compressed; /* scratch for compressed blocks */
  /* A data block has been written and its index entry awaits the first
   * key of the next block. */
  int pending_index;
  st_block_handle pending_handle;
  /* With a filter policy: the filter block, fed every key's user key and
   * told where each data block starts. */
  int has_filter;
  st_filter_block_builder filter;
};

st_table_builder *st_table_builder_new(const st_table_options *opt, st_wfile *file) {
  st_table_builder *b = calloc(1, sizeof *b);
  if (!b) return NULL;
  b->opt = *opt;
  b->file = file;
  st_block_builder_init(&b->data, opt->restart_interval);
  /* Index entries are looked up by binary search over restart points; one
   * restart per entry makes every entry a search candidate (LevelDB does
   * the same). */
  st_block_builder_init(&b->index, 1);
  b->last_key = (st_buf)ST_BUF_INIT;
  b->separator = (st_buf)ST_BUF_INIT;
  b->compressed = (st_buf)ST_BUF_INIT;
  if (opt->filter_policy) {
    b->has_filter = 1;
    st_filter_block_builder_init(&b->filter, opt->filter_policy);
    /* The first data block starts at 0; this makes no filter yet, so it
     * cannot fail. */
    st_filter_block_start(&b->filter, 0);
  }
  return b;
}

void st_table_builder_free(st_table_builder *b) {
  if (!b) return;
  st_block_builder_free(&b->data);
  st_block_builder_free(&b->index);
  st_buf_free(&b->last_key);
  st_buf_free(&b->separator);
  st_buf_free(&b->compressed);
  if (b->has_filter) st_filter_block_builder_free(&b->filter);
  free(b);
}

/* Makes rc the builder's sticky error (rc != 0, message already set). */
static int fail(st_table_builder *b, int rc) {
  if (!b->status) {
    b->status = rc;
    st_error_capture(&b->err, rc);
  }
  return rc;
}

static int sticky(const st_table_builder *b) { return st_error_raise(&b->err); }

static int append(st_table_builder *b, const char *p, size_t n) {
  int rc = b->file->append(b->file, p, n);
  if (rc) return fail(b, rc);
  b->offset += n;
  return 0;
}

/* Writes contents (already in its stored form) with its trailer; *h gets
 * where it went. */
static int write_raw_block(st_table_builder *b, st_slice contents, int type, st_block_handle *h) {
  char trailer[ST_BLOCK_TRAILER_SIZE];
  trailer[0] = (char)type;
  uint32_t crc = st_crc32c_extend(st_crc32c(contents.data, contents.size), trailer, 1);
  st_put_fixed32(trailer + 1, st_crc32c_mask(crc));
  h->offset = b->offset;
  h->size = contents.size;
  int rc = append(b, contents.data, contents.size);
  if (!rc) rc = append(b, trailer, sizeof trailer);
  return rc;
}

/* Finishes the block in bb, compresses it if asked and worth it, writes it
 * and resets bb. */
static int write_block(st_table_builder *b, st_block_builder *bb, int compression,
                       st_block_handle *h) {
  st_slice raw;
  int rc = st_block_builder_finish(bb, &raw);
  if (rc) return fail(b, rc);
  st_slice out = raw;
  int type = ST_BLOCK_NONE;
  if (compression == ST_BLOCK_SNAPPY || compression == ST_BLOCK_ZSTD) {
    rc = st_compress_block(compression, b->opt.zstd_level, raw, &b->compressed);
    if (rc == STRATA_ENOMEM) return fail(b, rc);
    /* Keep the compressed form only when it saves at least 12.5%: below
     * that, reading pays decompression for too little. A failed compressor
     * (ENOTSUP) also leaves the block raw, which is always readable. */
    if (rc == 0 && b->compressed.size < raw.size - raw.size / 8) {
      out = st_buf_slice(&b->compressed);
      type = compression;
    }
  }
  rc = write_raw_block(b, out, type, h);
  st_block_builder_reset(bb);
  return rc;
}

/* Sets b->separator to an internal key k with last_key <= k (< next when
 * next is non-NULL), as short as the user comparator can make it. */
static int make_separator(st_table_builder *b, const st_slice *next) {
  st_slice last = st_buf_slice(&b->last_key);
  st_slice last_user = st_ikey_user(last);
  if (st_buf_set(&b->separator, last_user.data, last_user.size)) return STRATA_ENOMEM;
  if (next)
    st_cmp_shortest_separator(b->opt.ucmp, &b->separator, st_ikey_user(*next));
  else
    st_cmp_short_successor(b->opt.ucmp, &b->separator);
  if (b->separator.size < last_user.size &&
      st_ucmp(b->opt.ucmp, last_user, st_buf_slice(&b->separator)) < 0) {
    /* A shorter, strictly greater user key: the largest tag makes it sort
     * before every real entry of that user key. */
    return st_buf_put_fixed64(&b->separator, st_pack_tag(ST_MAX_SEQUENCE, ST_TYPE_FOR_SEEK));
  }
  return st_buf_set(&b->separator, last.data, last.size);
}

/* Emits the pending index entry (next: the first key after the block, or
 * NULL at the end of the table). */
static int emit_index_entry(st_table_builder *b, const st_slice *next) {
  char hbuf[ST_MAX_BLOCK_HANDLE_SIZE];
  char *end = st_block_handle_encode(&b->pending_handle, hbuf);
  int rc = make_separator(b, next);
  if (!rc)
    rc = st_block_builder_add(&b->index, st_buf_slice(&b->separator),
                              st_slice_make(hbuf, (size_t)(end - hbuf)));
  if (rc) return fail(b, rc);
  b->pending_index = 0;
  return 0;
}

static int flush_data_block(st_table_builder *b) {
  if (st_block_builder_empty(&b->data)) return 0;
  assert(!b->pending_index);
  int rc = write_block(b, &b->data, b->opt.compression, &b->pending_handle);
  if (rc) return rc;
  b->pending_index = 1;
  /* The next data block, if any, starts here. */
  if (b->has_filter && (rc = st_filter_block_start(&b->filter, b->offset))) return fail(b, rc);
  return 0;
}

int st_table_builder_add(st_table_builder *b, st_slice ikey, st_slice value) {
  if (b->status) return sticky(b);
  assert(!b->closed);
  assert(ikey.size >= 8);
  assert(b->num_entries == 0 || st_icmp(b->opt.ucmp, ikey, st_buf_slice(&b->last_key)) > 0);

  if (b->pending_index && emit_index_entry(b, &ikey)) return b->status;
  int rc = st_block_builder_add(&b->data, ikey, value);
  if (!rc) rc = st_buf_set(&b->last_key, ikey.data, ikey.size);
  if (!rc && b->has_filter) rc = st_filter_block_add_key(&b->filter, st_ikey_user(ikey));
  if (rc) return fail(b, rc);
  b->num_entries++;
  if (st_block_builder_size_estimate(&b->data) >= b->opt.block_size) return flush_data_block(b);
  return 0;
}

int st_table_builder_add_stored(st_table_builder *b, st_slice ikey, st_slice stored) {
  if (b->status) return sticky(b);
  assert(!b->closed);
  assert(ikey.size >= 8 && stored.size >= ST_BLOCK_TRAILER_SIZE);
  assert(b->num_entries == 0 || st_icmp(b->opt.ucmp, ikey, st_buf_slice(&b->last_key)) > 0);

  /* The block being built is cut short: the stored block goes after it. */
  if (b->pending_index && emit_index_entry(b, &ikey)) return b->status;
  if (!st_block_builder_empty(&b->data)) {
    int rc = flush_data_block(b);
    if (!rc) rc = emit_index_entry(b, &ikey);
    if (rc) return b->status;
  }
  /* The filter's current block starts here (flush_data_block, or the
   * previous block's, told it), so the key lands in the right filter. */
  int rc = st_buf_set(&b->last_key, ikey.data, ikey.size);
  if (!rc && b->has_filter) rc = st_filter_block_add_key(&b->filter, st_ikey_user(ikey));
  if (rc) return fail(b, rc);
  b->pending_handle.offset = b->offset;
  b->pending_handle.size = stored.size - ST_BLOCK_TRAILER_SIZE;
  /* Contents, type and checksum as they were: the crc covers only the
   * block itself, so it holds wherever the block goes. */
  if ((rc = append(b, stored.data, stored.size))) return rc;
  b->num_entries++;
  b->pending_index = 1;
  if (b->has_filter && (rc = st_filter_block_start(&b->filter, b->offset))) return fail(b, rc);
  return 0;
}

/* Writes the filter block and adds its entry "filter.<policy name>" to
 * the metaindex being built. */
static int add_filter_block(st_table_builder *b, st_block_builder *metaindex) {
  st_slice contents;
  st_block_handle h;
  int rc = st_filter_block_finish(&b->filter, &contents);
  if (rc) return fail(b, rc);
  if ((rc = write_raw_block(b, contents, ST_BLOCK_NONE, &h))) return rc;
  st_buf name = ST_BUF_INIT;
  char hbuf[ST_MAX_BLOCK_HANDLE_SIZE];
  char *end = st_block_handle_encode(&h, hbuf);
  const char *pname = b->opt.filter_policy->name;
  rc = st_buf_append(&name, "filter.", 7);
  if (!rc) rc = st_buf_append(&name, pname, strlen(pname));
  if (!rc)
    rc = st_block_builder_add(metaindex, st_buf_slice(&name),
                              st_slice_make(hbuf, (size_t)(end - hbuf)));
  st_buf_free(&name);
  return rc ? fail(b, rc) : 0;
}

int st_table_builder_finish(st_table_builder *b) {
  if (b->status) return sticky(b);
  assert(!b->closed);
  int rc = flush_data_block(b);
  b->closed = 1;
  if (rc) return rc;

  /* Meta blocks go between the data blocks and the metaindex, which maps
   * each one's name to its handle (in bytewise order). The only one is the
   * filter block, stored raw as LevelDB does: filters are bit arrays that
   * do not compress. The metaindex itself, like the index, is compressed
   * like data blocks, again as LevelDB does. */
  st_footer footer;
  st_block_builder metaindex;
  st_block_builder_init(&metaindex, b->opt.restart_interval);
  if (b->has_filter) rc = add_filter_block(b, &metaindex);
  if (!rc) rc = write_block(b, &metaindex, b->opt.compression, &footer.metaindex);
  st_block_builder_free(&metaindex);
  if (rc) return rc;

  if (b->pending_index && emit_index_entry(b, NULL)) return b->status;
  if ((rc = write_block(b, &b->index, b->opt.compression, &footer.index))) return rc;

  char buf[ST_FOOTER_SIZE];
  st_footer_encode(&footer, buf);
  return append(b, buf, sizeof buf);
}

void st_table_builder_abandon(st_table_builder *b) { b->closed = 1; }

uint64_t st_table_builder_num_entries(const st_table_builder *b) { return b->num_entries; }

uint64_t st_table_builder_file_size(const st_table_builder *b) { return b->offset; }
