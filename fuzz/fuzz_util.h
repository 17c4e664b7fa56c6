/*
 * fuzz_util.h - helpers shared by the fuzzers (header-only; each fuzzer is
 * one program): the in-memory database directory they build around an
 * input, and "checksum fix-ups" that recompute every checksum of a log or
 * a table so that mutations get past the CRCs and reach the code behind
 * them (the parsers of write batches, version edits and blocks, recovery,
 * compaction).
 *
 * Input layout of the file fuzzers (log, table, MANIFEST): one mode byte,
 * then the file's bytes. Mode bit 0: fix the checksums first; bit 1: open
 * with paranoid_checks; the other bits are free for each fuzzer.
 */
#ifndef STRATA_FUZZ_UTIL_H
#define STRATA_FUZZ_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/log_format.h"
#include "db/log_writer.h"
#include "db/version_edit.h"
#include "strata.h"
#include "table/format.h"
#include "util/coding.h"
#include "util/crc32c.h"

#define FZ_MODE_FIX_CRC 1
#define FZ_MODE_PARANOID 2

/* Writes data to path in env (truncating); 0 or an error. */
static inline int fz_write(strata_env *env, const char *path, const void *data, size_t n) {
  strata_wfile *w;
  int rc = env->new_wfile(env, path, &w);
  if (rc) return rc;
  rc = n ? w->append(w, (const char *)data, n) : 0;
  int crc = w->close(w);
  return rc ? rc : crc;
}

/* Recomputes the checksum of every record of a log-format file (a
 * write-ahead log or a MANIFEST) in place, walking the 32 KiB blocks as the
 * reader does; stops at a header whose length runs out of its block. */
static inline void fz_fix_log_crcs(unsigned char *d, size_t n) {
  size_t pos = 0;
  while (pos < n) {
    size_t block_end = (pos / ST_LOG_BLOCK_SIZE + 1) * ST_LOG_BLOCK_SIZE;
    if (block_end > n) block_end = n;
    if (block_end - pos < ST_LOG_HEADER_SIZE) {
      pos = block_end;
      continue;
    }
    size_t len = (size_t)d[pos + 4] | ((size_t)d[pos + 5] << 8);
    if (pos + ST_LOG_HEADER_SIZE + len > block_end) return;
    uint32_t crc = st_crc32c(d + pos + 6, 1 + len);
    st_put_fixed32((char *)d + pos, st_crc32c_mask(crc));
    pos += ST_LOG_HEADER_SIZE + len;
  }
}

/* Recomputes the trailer checksum of the block at h, if it lies inside. */
static inline int fz_fix_block(unsigned char *d, size_t n, const st_block_handle *h) {
  if (h->offset > n || h->size > n - h->offset || n - h->offset - h->size < ST_BLOCK_TRAILER_SIZE)
    return 0;
  size_t end = (size_t)(h->offset + h->size);
  uint32_t crc = st_crc32c(d + h->offset, h->size + 1); /* contents and type byte */
  st_put_fixed32((char *)d + end + 1, st_crc32c_mask(crc));
  return 1;
}

/* Calls fix on the handle stored as the value of each entry of the
 * (uncompressed) block at h, as the index and metaindex blocks hold. */
static inline void fz_fix_blocks_named_by(unsigned char *d, size_t n, const st_block_handle *h,
                                          int depth) {
  if (!fz_fix_block(d, n, h) || depth > 1 || d[h->offset + h->size] != 0 || h->size < 4) return;
  const char *b = (const char *)d + h->offset, *end = b + h->size;
  uint32_t nrestarts = st_get_fixed32(end - 4);
  if (nrestarts > (h->size - 4) / 4) return;
  const char *limit = end - 4 - 4 * (size_t)nrestarts, *p = b;
  while (p < limit) {
    uint32_t shared, unshared, vlen;
    if (!(p = st_get_varint32(p, limit, &shared)) || !(p = st_get_varint32(p, limit, &unshared)) ||
        !(p = st_get_varint32(p, limit, &vlen)))
      return;
    if ((size_t)(limit - p) < (size_t)unshared + vlen) return;
    p += unshared;
    st_block_handle bh;
    if (st_block_handle_decode(p, p + vlen, &bh)) fz_fix_blocks_named_by(d, n, &bh, depth + 1);
    p += vlen;
  }
}

/* Recomputes the checksums of a table's index, metaindex and every block
 * they name (data and meta blocks), in place. */
static inline void fz_fix_table_crcs(unsigned char *d, size_t n) {
  if (n < ST_FOOTER_SIZE) return;
  const char *f = (const char *)d + n - ST_FOOTER_SIZE;
  st_block_handle meta, index;
  const char *p = st_block_handle_decode(f, f + 40, &meta);
  if (!p || !st_block_handle_decode(p, f + 40, &index)) return;
  fz_fix_blocks_named_by(d, n, &meta, 0);
  fz_fix_blocks_named_by(d, n, &index, 0);
}

static inline void fz_quiet_log(void *state, const char *line) {
  (void)state;
  (void)line;
}

/* Options for a database in env with no info log file. quiet is created
 * once by the caller. */
static inline strata_options fz_options(strata_env *env, strata_logger *quiet, int paranoid) {
  strata_options o;
  strata_options_init(&o);
  o.env = env;
  o.info_log = quiet;
  o.paranoid_checks = paranoid;
  o.write_buffer_size = 64 << 10;
  return o;
}

/* Writes dir/MANIFEST-000002 holding one edit (bytewise comparator, log
 * number log_number, next file 100, last sequence last_seq, and the table
 * `table` at level `level` with the key range given when table != 0) and
 * dir/CURRENT naming it. 0 or an error. */
static inline int fz_write_manifest(strata_env *env, const char *dir, uint64_t log_number,
                                    uint64_t last_seq, uint64_t table, int level, uint64_t size,
                                    st_slice smallest, st_slice largest) {
  st_version_edit e;
  st_edit_init(&e);
  int rc = st_edit_set_comparator(&e, "leveldb.BytewiseComparator");
  st_edit_set_log_number(&e, log_number);
  st_edit_set_next_file(&e, 100);
  st_edit_set_last_sequence(&e, last_seq);
  if (!rc && table) rc = st_edit_add_file(&e, level, table, size, smallest, largest);
  st_buf rec = ST_BUF_INIT;
  if (!rc) rc = st_edit_encode(&e, &rec);
  st_edit_clear(&e);
  char path[256];
  snprintf(path, sizeof path, "%s/MANIFEST-000002", dir);
  strata_wfile *w = NULL;
  if (!rc) rc = env->new_wfile(env, path, &w);
  if (!rc) {
    st_log_writer *lw = st_log_writer_new(w, 0);
    if (!lw) {
      w->close(w);
      rc = STRATA_ENOMEM;
    } else {
      rc = st_log_add_record(lw, st_buf_slice(&rec));
      int crc = st_log_writer_close(lw);
      if (!rc) rc = crc;
    }
  }
  st_buf_free(&rec);
  snprintf(path, sizeof path, "%s/CURRENT", dir);
  if (!rc) rc = fz_write(env, path, "MANIFEST-000002\n", 16);
  return rc;
}

/* Reads every entry of db forward (and, with backward, backward too), with
 * verify_checksums; returns the entries seen. */
static inline uint64_t fz_scan(strata_db *db, int backward) {
  strata_read_options ro;
  strata_read_options_init(&ro);
  ro.verify_checksums = 1;
  strata_iter *it;
  if (strata_iter_create(db, &ro, &it)) return 0;
  uint64_t n = 0;
  for (strata_iter_seek_to_first(it); strata_iter_valid(it) && n < 100000; strata_iter_next(it))
    n++;
  if (backward)
    for (strata_iter_seek_to_last(it); strata_iter_valid(it) && n < 200000; strata_iter_prev(it))
      n++;
  strata_iter_status(it);
  strata_iter_destroy(it);
  return n;
}

#endif
