/*
 * block_builder.h - builds one block of a sorted table: prefix-compressed
 * entries, then the restart array (layout in table/format.h).
 *
 * Keys must be added in strictly increasing order (of whatever ordering the
 * block's reader will use; the builder never compares them). The builder
 * keeps its buffers across st_block_builder_reset() so a table builder
 * reuses one builder for every data block. Not thread-safe.
 */
#ifndef ST_BLOCK_BUILDER_H
#define ST_BLOCK_BUILDER_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"
#include "util/slice.h"

typedef struct st_block_builder {
  st_buf buf;           /* entries so far; after finish, the whole block */
  st_buf restarts;      /* restart offsets, already encoded as fixed32 */
  st_buf last_key;      /* the previous key, for prefix compression */
  int restart_interval; /* entries per restart point (>= 1) */
  int counter;          /* entries since the last restart point */
  uint32_t num_entries;
  int finished;
} st_block_builder;

/* Initialises an empty builder (no allocation yet). restart_interval < 1 is
 * taken as 1. Release with st_block_builder_free(). */
void st_block_builder_init(st_block_builder *b, int restart_interval);

/* Frees the builder's buffers. */
void st_block_builder_free(st_block_builder *b);

/* Empties the builder for a new block, keeping its memory. */
void st_block_builder_reset(st_block_builder *b);

/* Appends key -> value. REQUIRE: not finished; key greater than the last
 * key added; key and value shorter than 4 GiB. Both are copied.
 * Errors: STRATA_ENOMEM (the builder is unchanged then). */
int st_block_builder_add(st_block_builder *b, st_slice key, st_slice value);

/* Appends the restart array and returns the finished block in *out, valid
 * until the next reset or free. Errors: STRATA_ENOMEM. */
int st_block_builder_finish(st_block_builder *b, st_slice *out);

/* Size of the block if it were finished now. */
static inline size_t st_block_builder_size_estimate(const st_block_builder *b) {
  if (b->finished) return b->buf.size;
  return b->buf.size + (b->restarts.size ? b->restarts.size : 4) + 4;
}

static inline int st_block_builder_empty(const st_block_builder *b) { return b->num_entries == 0; }

#endif
