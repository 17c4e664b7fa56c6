/*
 * crc32c.h - CRC-32C (Castagnoli, polynomial 0x1EDC6F41, reflected
 * 0x82F63B78) as LevelDB uses it for log records and table blocks, and
 * LevelDB's mask that keeps a CRC stored next to the data it covers from
 * looking like data: rotate right 15 bits, add 0xa282ead8.
 *
 * Uses the SSE4.2 crc32 instruction when the CPU has it (checked once at
 * run time), else a slicing-by-8 table. Thread-safe.
 */
#ifndef ST_CRC32C_H
#define ST_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* CRC-32C of data[0,n) continuing from crc (0 to start). */
uint32_t st_crc32c_extend(uint32_t crc, const void *data, size_t n);

static inline uint32_t st_crc32c(const void *data, size_t n) {
  return st_crc32c_extend(0, data, n);
}

#define ST_CRC_MASK_DELTA 0xa282ead8u

static inline uint32_t st_crc32c_mask(uint32_t crc) {
  return ((crc >> 15) | (crc << 17)) + ST_CRC_MASK_DELTA;
}

static inline uint32_t st_crc32c_unmask(uint32_t masked) {
  uint32_t rot = masked - ST_CRC_MASK_DELTA;
  return ((rot >> 17) | (rot << 15));
}

#endif
