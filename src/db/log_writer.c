/*
 * log_writer.c - appends records in the log format of log_format.h.
 *
 * Each record, with every fragment header and any block trailer it needs,
 * is laid out in one reusable buffer and handed to the file with a single
 * append and a single flush: a non-sync write costs one write() call and a
 * record is never half in user space when the call returns.
 */
#include "db/log_writer.h"

#include <stdlib.h>
#include <string.h>

#include "db/log_format.h"
#include "util/buf.h"
#include "util/coding.h"
#include "util/crc32c.h"
#include "util/error.h"

/* A scratch buffer grown past this by one huge record is released after it
 * rather than kept for the life of the log. Above the database's largest
 * group commit (about 1 MiB), so ordinary writes never reallocate it. */
#define KEEP_SCRATCH_MAX (4u << 20)

struct st_log_writer {
  st_wfile *file;
  uint64_t size;                          /* bytes of the file, including what we appended */
  size_t block_off;                       /* position inside the current 32 KiB block */
  st_buf scratch;                         /* one record's bytes as they go to the file */
  uint32_t type_crc[ST_LOG_MAX_TYPE + 1]; /* crc32c of each type byte alone,
                                             extended over the payload */
};

st_log_writer *st_log_writer_new(st_wfile *file, uint64_t file_size) {
  st_log_writer *w = malloc(sizeof *w);
  if (!w) {
    st_err(STRATA_ENOMEM, "cannot allocate log writer");
    return NULL;
  }
  w->file = file;
  w->size = file_size;
  w->block_off = (size_t)(file_size % ST_LOG_BLOCK_SIZE);
  w->scratch = (st_buf)ST_BUF_INIT;
  for (int t = 0; t <= ST_LOG_MAX_TYPE; t++) {
    char c = (char)t;
    w->type_crc[t] = st_crc32c(&c, 1);
  }
  return w;
}

/* Upper bound of the bytes that a payload of n bytes becomes: every
 * fragment adds a header and may be preceded by a trailer of < 7 bytes.
 * Returns 0 on overflow. */
static size_t encoded_bound(size_t n) {
  size_t frags = n / (ST_LOG_BLOCK_SIZE - ST_LOG_HEADER_SIZE) + 2;
  size_t extra = frags * (2 * ST_LOG_HEADER_SIZE);
  return n + extra < n ? 0 : n + extra;
}

int st_log_add_record(st_log_writer *w, st_slice record) {
  static const char zeros[ST_LOG_HEADER_SIZE] = {0};
  st_buf *out = &w->scratch;
  size_t bound = encoded_bound(record.size);
  if (bound == 0) return st_err(STRATA_ENOMEM, "log record of %zu bytes too large", record.size);
  out->size = 0;
  if (st_buf_reserve(out, bound)) return STRATA_ENOMEM;

  /* The buffer is big enough for the worst case, so the loop writes into it
   * directly. A do-while: an empty record still gets a FULL header. */
  const char *p = record.data;
  size_t left = record.size;
  size_t off = w->block_off;
  int first = 1;
  do {
    size_t room = ST_LOG_BLOCK_SIZE - off;
    if (room < ST_LOG_HEADER_SIZE) {
      /* No header fits: zero trailer, next block. */
      memcpy(out->data + out->size, zeros, room);
      out->size += room;
      off = 0;
      room = ST_LOG_BLOCK_SIZE;
    }
    size_t avail = room - ST_LOG_HEADER_SIZE;
    size_t frag = left < avail ? left : avail;
    int last = frag == left;
    int type = first ? (last ? ST_LOG_FULL : ST_LOG_FIRST) : (last ? ST_LOG_LAST : ST_LOG_MIDDLE);

    char *h = out->data + out->size;
    uint32_t crc = st_crc32c_extend(w->type_crc[type], p, frag);
    st_put_fixed32(h, st_crc32c_mask(crc));
    h[4] = (char)(frag & 0xff);
    h[5] = (char)(frag >> 8);
    h[6] = (char)type;
    if (frag) memcpy(h + ST_LOG_HEADER_SIZE, p, frag);
    out->size += ST_LOG_HEADER_SIZE + frag;
    off += ST_LOG_HEADER_SIZE + frag;

    p += frag;
    left -= frag;
    first = 0;
  } while (left > 0);

  int rc = w->file->append(w->file, out->data, out->size);
  if (rc == 0) {
    /* Once appended the bytes belong to the file (a failed flush may still
     * be retried by a later flush), so the block position moves on. */
    w->size += out->size;
    w->block_off = off;
    rc = w->file->flush(w->file);
  }
  if (out->cap > KEEP_SCRATCH_MAX) st_buf_free(out);
  return rc;
}

int st_log_sync(st_log_writer *w) { return w->file->sync(w->file); }

uint64_t st_log_writer_size(const st_log_writer *w) { return w->size; }

int st_log_writer_close(st_log_writer *w) {
  if (!w) return 0;
  int rc = w->file->close(w->file);
  st_buf_free(&w->scratch);
  free(w);
  return rc;
}
