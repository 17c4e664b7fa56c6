/*
 * buf.h - growable byte buffer (the same struct as the public strata_buf).
 *
 * The buffer owns data; st_buf_free() releases it. Appends grow the
 * allocation geometrically. Functions that can fail return 0 or
 * STRATA_ENOMEM (with the thread's message set), leaving the buffer's
 * content unchanged on failure.
 */
#ifndef ST_BUF_H
#define ST_BUF_H

#include <stddef.h>
#include <string.h>

#include "strata.h"
#include "util/coding.h"
#include "util/slice.h"

typedef strata_buf st_buf;

#define ST_BUF_INIT STRATA_BUF_INIT

void st_buf_free(st_buf *b);

/* Makes room for at least `extra` more bytes past size. */
int st_buf_reserve_slow(st_buf *b, size_t extra);

static inline int st_buf_reserve(st_buf *b, size_t extra) {
  if (ST_LIKELY(b->cap - b->size >= extra)) return 0;
  return st_buf_reserve_slow(b, extra);
}

static inline int st_buf_append(st_buf *b, const void *p, size_t n) {
  if (st_buf_reserve(b, n)) return STRATA_ENOMEM;
  if (n) memcpy(b->data + b->size, p, n);
  b->size += n;
  return 0;
}

static inline int st_buf_set(st_buf *b, const void *p, size_t n) {
  b->size = 0;
  return st_buf_append(b, p, n);
}

static inline int st_buf_push(st_buf *b, char c) {
  if (st_buf_reserve(b, 1)) return STRATA_ENOMEM;
  b->data[b->size++] = c;
  return 0;
}

static inline int st_buf_put_fixed32(st_buf *b, uint32_t v) {
  if (st_buf_reserve(b, 4)) return STRATA_ENOMEM;
  st_put_fixed32(b->data + b->size, v);
  b->size += 4;
  return 0;
}

static inline int st_buf_put_fixed64(st_buf *b, uint64_t v) {
  if (st_buf_reserve(b, 8)) return STRATA_ENOMEM;
  st_put_fixed64(b->data + b->size, v);
  b->size += 8;
  return 0;
}

static inline int st_buf_put_varint32(st_buf *b, uint32_t v) {
  if (st_buf_reserve(b, ST_MAX_VARINT32)) return STRATA_ENOMEM;
  b->size = (size_t)(st_put_varint32(b->data + b->size, v) - b->data);
  return 0;
}

static inline int st_buf_put_varint64(st_buf *b, uint64_t v) {
  if (st_buf_reserve(b, ST_MAX_VARINT64)) return STRATA_ENOMEM;
  b->size = (size_t)(st_put_varint64(b->data + b->size, v) - b->data);
  return 0;
}

/* varint32 length then the bytes. */
static inline int st_buf_put_length_prefixed(st_buf *b, st_slice s) {
  if (st_buf_reserve(b, ST_MAX_VARINT32 + s.size)) return STRATA_ENOMEM;
  st_buf_put_varint32(b, (uint32_t)s.size);
  return st_buf_append(b, s.data, s.size);
}

static inline st_slice st_buf_slice(const st_buf *b) { return st_slice_make(b->data, b->size); }

#endif
