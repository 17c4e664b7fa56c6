/* coding.c - the out-of-line parts of varint decoding (see coding.h). */
#include "util/coding.h"

const char *st_get_varint32_slow(const char *p, const char *limit, uint32_t *v) {
  uint32_t result = 0;
  for (uint32_t shift = 0; shift <= 28 && p < limit; shift += 7) {
    uint32_t byte = *(const unsigned char *)p++;
    if (byte & 128) {
      result |= (byte & 127) << shift;
    } else {
      if (shift == 28 && byte > 15) return NULL; /* overflows 32 bits */
      result |= byte << shift;
      *v = result;
      return p;
    }
  }
  return NULL;
}

const char *st_get_varint64(const char *p, const char *limit, uint64_t *v) {
  uint64_t result = 0;
  for (uint32_t shift = 0; shift <= 63 && p < limit; shift += 7) {
    uint64_t byte = *(const unsigned char *)p++;
    if (byte & 128) {
      result |= (byte & 127) << shift;
    } else {
      if (shift == 63 && byte > 1) return NULL;
      result |= byte << shift;
      *v = result;
      return p;
    }
  }
  return NULL;
}
