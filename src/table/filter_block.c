/*
 * filter_block.c - building and reading the filter meta block (see
 * filter_block.h). The layout is LevelDB 1.23's, byte for byte:
 *
 *   filter_block := filter[num] filter_offset:fixed32[num]
 *                   array_offset:fixed32 base_lg:uint8
 *   filter       := what the policy made for the user keys of the data
 *                   blocks starting in [i << base_lg, (i + 1) << base_lg),
 *                   in the order added, repeats included; empty (zero
 *                   bytes) when no block starts in that range
 *   filter_offset:  start of filter i in the block; filter i ends where
 *                   filter i + 1 starts, the last one at array_offset
 *   array_offset := offset of filter_offset[0], i.e. total filter bytes
 *   base_lg      := 11 (2 KiB ranges)
 *
 * num counts ranges up to the one holding the last data block: filters are
 * made when a data block starts beyond their range, and for the last range
 * at the end if it holds keys. An empty filter matches no key.
 */
#include "table/filter_block.h"

#include <stdlib.h>

#include "util/coding.h"
#include "util/error.h"

void st_filter_block_builder_init(st_filter_block_builder *b, const st_filter_policy *policy) {
  b->policy = policy;
  b->keys = (st_buf)ST_BUF_INIT;
  b->nkeys = 0;
  b->slices = NULL;
  b->slices_cap = 0;
  b->result = (st_buf)ST_BUF_INIT;
  b->offsets = (st_buf)ST_BUF_INIT;
  b->nfilters = 0;
}

void st_filter_block_builder_free(st_filter_block_builder *b) {
  st_buf_free(&b->keys);
  st_buf_free(&b->result);
  st_buf_free(&b->offsets);
  free(b->slices);
  b->slices = NULL;
  b->slices_cap = 0;
}

/* Ends the current range: records where its filter starts and makes the
 * filter from the keys gathered (none: an empty filter). */
static int make_filter(st_filter_block_builder *b) {
  if (st_buf_put_fixed32(&b->offsets, (uint32_t)b->result.size)) return STRATA_ENOMEM;
  b->nfilters++;
  if (b->nkeys == 0) return 0;
  if (b->nkeys > b->slices_cap) {
    int cap = b->slices_cap ? b->slices_cap : 64;
    while (cap < b->nkeys)
      cap *= 2;
    st_slice *s = realloc(b->slices, (size_t)cap * sizeof *s);
    if (!s) return st_err(STRATA_ENOMEM, "filter block: %d keys", b->nkeys);
    b->slices = s;
    b->slices_cap = cap;
  }
  /* The lengths were written by add_key and cannot be malformed. */
  const char *p = b->keys.data, *limit = b->keys.data + b->keys.size;
  for (int i = 0; i < b->nkeys; i++)
    p = st_get_length_prefixed(p, limit, &b->slices[i]);
  int rc = st_filter_create(b->policy, b->slices, b->nkeys, &b->result);
  b->keys.size = 0;
  b->nkeys = 0;
  return rc;
}

int st_filter_block_start(st_filter_block_builder *b, uint64_t block_offset) {
  uint64_t index = block_offset >> ST_FILTER_BASE_LG;
  while (b->nfilters < index) {
    int rc = make_filter(b);
    if (rc) return rc;
  }
  return 0;
}

int st_filter_block_add_key(st_filter_block_builder *b, st_slice user_key) {
  if (st_buf_put_length_prefixed(&b->keys, user_key)) return STRATA_ENOMEM;
  b->nkeys++;
  return 0;
}

int st_filter_block_finish(st_filter_block_builder *b, st_slice *out) {
  int rc = b->nkeys ? make_filter(b) : 0;
  if (rc) return rc;
  uint32_t array_offset = (uint32_t)b->result.size;
  if (st_buf_append(&b->result, b->offsets.data, b->offsets.size) ||
      st_buf_put_fixed32(&b->result, array_offset) || st_buf_push(&b->result, ST_FILTER_BASE_LG))
    return STRATA_ENOMEM;
  *out = st_buf_slice(&b->result);
  return 0;
}

int st_filter_block_reader_init(st_filter_block_reader *r, const st_filter_policy *policy,
                                st_slice contents) {
  r->policy = policy;
  r->data = contents.data;
  r->array = NULL;
  r->num = 0;
  r->base_lg = 0;
  size_t n = contents.size;
  if (n < 5) return 0;
  int base_lg = (unsigned char)contents.data[n - 1];
  uint32_t array_offset = st_get_fixed32(contents.data + n - 5);
  /* A shift of 64 or more is undefined; no writer uses one. */
  if (base_lg >= 64 || array_offset > n - 5 || (n - 5 - array_offset) % 4 != 0) return 0;
  uint32_t num = (uint32_t)((n - 5 - array_offset) / 4);
  /* Checking every offset once here lets lookups trust them. The word
   * after the last filter offset is array_offset itself, the end of the
   * last filter. */
  const char *array = contents.data + array_offset;
  uint32_t prev = 0;
  for (uint32_t i = 0; i <= num; i++) {
    uint32_t off = st_get_fixed32(array + (size_t)i * 4);
    if (off < prev || off > array_offset) return 0;
    prev = off;
  }
  r->array = array;
  r->num = num;
  r->base_lg = base_lg;
  return 1;
}

int st_filter_block_may_match(const st_filter_block_reader *r, uint64_t block_offset,
                              st_slice user_key) {
  uint64_t index = block_offset >> r->base_lg;
  if (index >= r->num) return 1;
  uint32_t start = st_get_fixed32(r->array + index * 4);
  uint32_t limit = st_get_fixed32(r->array + index * 4 + 4);
  if (start == limit) return 0;
  return st_filter_may_match(r->policy, user_key, st_slice_make(r->data + start, limit - start));
}
