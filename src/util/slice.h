/*
 * slice.h - borrowed byte ranges (st_slice) used everywhere inside Strata.
 *
 * A slice never owns its bytes: whoever hands one out says how long the
 * bytes live. Comparisons are bytewise (memcmp, then length), the order of
 * LevelDB's BytewiseComparator.
 */
#ifndef ST_SLICE_H
#define ST_SLICE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "strata.h"

/* The same type as the public strata_slice. */
typedef strata_slice st_slice;

static inline st_slice st_slice_make(const void *data, size_t size) {
  st_slice s = {(const char *)data, size};
  return s;
}

static inline st_slice st_slice_cstr(const char *s) { return st_slice_make(s, strlen(s)); }

/* <0, 0, >0 as memcmp, shorter first when one is a prefix of the other.
 * Keys of up to 32 bytes -- the common case, and every key comparison of a
 * skiplist or block search -- are compared 8 bytes at a time inline
 * (byte-swapped so integer order is byte order) instead of calling memcmp. */
static inline int st_slice_cmp(st_slice a, st_slice b) {
  size_t n = a.size < b.size ? a.size : b.size;
#if defined(__GNUC__) && defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  if (n <= 32) {
    const char *p = a.data, *q = b.data;
    for (; n >= 8; n -= 8, p += 8, q += 8) {
      uint64_t x, y;
      memcpy(&x, p, 8);
      memcpy(&y, q, 8);
      if (x != y) return __builtin_bswap64(x) < __builtin_bswap64(y) ? -1 : 1;
    }
    for (; n; n--, p++, q++)
      if (*p != *q) return (unsigned char)*p < (unsigned char)*q ? -1 : 1;
    return (a.size < b.size) ? -1 : (a.size > b.size);
  }
#endif
  int r = n ? memcmp(a.data, b.data, n) : 0;
  if (r == 0) r = (a.size < b.size) ? -1 : (a.size > b.size);
  return r;
}

static inline int st_slice_eq(st_slice a, st_slice b) {
  return a.size == b.size && (a.size == 0 || memcmp(a.data, b.data, a.size) == 0);
}

static inline int st_slice_starts_with(st_slice s, st_slice prefix) {
  return s.size >= prefix.size &&
         (prefix.size == 0 || memcmp(s.data, prefix.data, prefix.size) == 0);
}

#if defined(__GNUC__)
#define ST_LIKELY(x) __builtin_expect(!!(x), 1)
#define ST_UNLIKELY(x) __builtin_expect(!!(x), 0)
#else
#define ST_LIKELY(x) (x)
#define ST_UNLIKELY(x) (x)
#endif

#endif
