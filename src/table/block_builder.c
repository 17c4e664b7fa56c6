/* block_builder.c - builds prefix-compressed blocks (see block_builder.h;
 * the layout is the `uncompressed block` rule of table/format.h). */
#include "table/block_builder.h"

#include <assert.h>

#include "util/coding.h"

void st_block_builder_init(st_block_builder *b, int restart_interval) {
  b->buf = (st_buf)ST_BUF_INIT;
  b->restarts = (st_buf)ST_BUF_INIT;
  b->last_key = (st_buf)ST_BUF_INIT;
  b->restart_interval = restart_interval < 1 ? 1 : restart_interval;
  b->counter = 0;
  b->num_entries = 0;
  b->finished = 0;
}

void st_block_builder_free(st_block_builder *b) {
  st_buf_free(&b->buf);
  st_buf_free(&b->restarts);
  st_buf_free(&b->last_key);
}

void st_block_builder_reset(st_block_builder *b) {
  b->buf.size = 0;
  b->restarts.size = 0;
  b->last_key.size = 0;
  b->counter = 0;
  b->num_entries = 0;
  b->finished = 0;
}

int st_block_builder_add(st_block_builder *b, st_slice key, st_slice value) {
  assert(!b->finished);
  int restart = b->num_entries == 0 || b->counter >= b->restart_interval;
  size_t shared = 0;
  if (!restart) {
    size_t min = key.size < b->last_key.size ? key.size : b->last_key.size;
    while (shared < min && key.data[shared] == b->last_key.data[shared])
      shared++;
  }
  size_t non_shared = key.size - shared;

  /* Reserve everything first so that a failure leaves the builder as it was
   * and the writes below cannot fail. */
  if (st_buf_reserve(&b->buf, 3 * ST_MAX_VARINT32 + non_shared + value.size) ||
      (restart && st_buf_reserve(&b->restarts, 4)) || st_buf_reserve(&b->last_key, non_shared))
    return STRATA_ENOMEM;

  if (restart) {
    st_buf_put_fixed32(&b->restarts, (uint32_t)b->buf.size);
    b->counter = 0;
  }
  char *p = b->buf.data + b->buf.size;
  p = st_put_varint32(p, (uint32_t)shared);
  p = st_put_varint32(p, (uint32_t)non_shared);
  p = st_put_varint32(p, (uint32_t)value.size);
  b->buf.size = (size_t)(p - b->buf.data);
  st_buf_append(&b->buf, key.data + shared, non_shared);
  st_buf_append(&b->buf, value.data, value.size);

  /* The previous key's first `shared` bytes are already right. */
  b->last_key.size = shared;
  st_buf_append(&b->last_key, key.data + shared, non_shared);
  b->counter++;
  b->num_entries++;
  return 0;
}

int st_block_builder_finish(st_block_builder *b, st_slice *out) {
  if (!b->finished) {
    /* An empty block still has one restart point (at 0), as LevelDB's. */
    if (st_buf_reserve(&b->restarts, 4) || st_buf_reserve(&b->buf, b->restarts.size + 8))
      return STRATA_ENOMEM;
    if (b->restarts.size == 0) st_buf_put_fixed32(&b->restarts, 0);
    st_buf_append(&b->buf, b->restarts.data, b->restarts.size);
    st_buf_put_fixed32(&b->buf, (uint32_t)(b->restarts.size / 4));
    b->finished = 1;
  }
  *out = st_buf_slice(&b->buf);
  return 0;
}
