/*
 * coding.h - LevelDB's integer encodings, header-only so hot paths inline.
 *
 *   fixed32/fixed64: little-endian, 4/8 bytes.
 *   varint32/varint64: 7 bits per byte, least significant group first, high
 *     bit set on every byte but the last (at most 5 / 10 bytes).
 *   length-prefixed slice: varint32 length, then the bytes.
 *
 * Decoders take [p, limit) and return the byte after what they read, or NULL
 * when the input is truncated or malformed; they never read past limit.
 */
#ifndef ST_CODING_H
#define ST_CODING_H

#include <stdint.h>
#include <string.h>

#include "util/slice.h"

#define ST_MAX_VARINT32 5
#define ST_MAX_VARINT64 10

static inline void st_put_fixed32(char *dst, uint32_t v) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  memcpy(dst, &v, 4);
#else
  dst[0] = (char)v;
  dst[1] = (char)(v >> 8);
  dst[2] = (char)(v >> 16);
  dst[3] = (char)(v >> 24);
#endif
}

static inline void st_put_fixed64(char *dst, uint64_t v) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  memcpy(dst, &v, 8);
#else
  for (int i = 0; i < 8; i++)
    dst[i] = (char)(v >> (8 * i));
#endif
}

static inline uint32_t st_get_fixed32(const char *p) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  uint32_t v;
  memcpy(&v, p, 4);
  return v;
#else
  const unsigned char *u = (const unsigned char *)p;
  return (uint32_t)u[0] | ((uint32_t)u[1] << 8) | ((uint32_t)u[2] << 16) | ((uint32_t)u[3] << 24);
#endif
}

static inline uint64_t st_get_fixed64(const char *p) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  uint64_t v;
  memcpy(&v, p, 8);
  return v;
#else
  return (uint64_t)st_get_fixed32(p) | ((uint64_t)st_get_fixed32(p + 4) << 32);
#endif
}

/* Writes v as a varint at dst (room for ST_MAX_VARINT32 bytes); returns the
 * byte after it. */
static inline char *st_put_varint32(char *dst, uint32_t v) {
  unsigned char *p = (unsigned char *)dst;
  while (v >= 128) {
    *p++ = (unsigned char)(v | 128);
    v >>= 7;
  }
  *p++ = (unsigned char)v;
  return (char *)p;
}

static inline char *st_put_varint64(char *dst, uint64_t v) {
  unsigned char *p = (unsigned char *)dst;
  while (v >= 128) {
    *p++ = (unsigned char)(v | 128);
    v >>= 7;
  }
  *p++ = (unsigned char)v;
  return (char *)p;
}

static inline int st_varint_length(uint64_t v) {
  int n = 1;
  while (v >= 128) {
    v >>= 7;
    n++;
  }
  return n;
}

const char *st_get_varint32_slow(const char *p, const char *limit, uint32_t *v);

static inline const char *st_get_varint32(const char *p, const char *limit, uint32_t *v) {
  if (ST_LIKELY(p < limit)) {
    uint32_t r = *(const unsigned char *)p;
    if (ST_LIKELY((r & 128) == 0)) {
      *v = r;
      return p + 1;
    }
  }
  return st_get_varint32_slow(p, limit, v);
}

const char *st_get_varint64(const char *p, const char *limit, uint64_t *v);

/* Reads a varint32-length-prefixed slice. */
static inline const char *st_get_length_prefixed(const char *p, const char *limit, st_slice *out) {
  uint32_t len;
  p = st_get_varint32(p, limit, &len);
  if (p == NULL || (size_t)(limit - p) < len) return NULL;
  out->data = p;
  out->size = len;
  return p + len;
}

#endif
