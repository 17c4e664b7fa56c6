/*
 * log_format.h - the write-ahead log (and MANIFEST) record format, LevelDB's
 * doc/log_format.md:
 *
 *   file     := block*
 *   block    := record* trailer?          (each block is 32768 bytes; the
 *                                          last block of a file may be short)
 *   record   := checksum:fixed32 length:fixed16 type:uint8 data[length]
 *   checksum := masked crc32c of type byte and data
 *   type     := FULL(1) | FIRST(2) | MIDDLE(3) | LAST(4) | ZERO(0, padding
 *               written by preallocating writers, skipped)
 *   trailer  := up to 6 zero bytes, when fewer than 7 bytes (a header)
 *               remain in a block
 *
 * A user record that does not fit in the rest of a block is split into
 * FIRST, MIDDLE*, LAST fragments. fixed16 is little-endian.
 */
#ifndef ST_LOG_FORMAT_H
#define ST_LOG_FORMAT_H

enum {
  ST_LOG_ZERO = 0,
  ST_LOG_FULL = 1,
  ST_LOG_FIRST = 2,
  ST_LOG_MIDDLE = 3,
  ST_LOG_LAST = 4,
  ST_LOG_MAX_TYPE = 4
};

#define ST_LOG_BLOCK_SIZE 32768
#define ST_LOG_HEADER_SIZE 7 /* checksum 4, length 2, type 1 */

#endif
