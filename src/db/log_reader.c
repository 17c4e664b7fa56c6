/*
 * log_reader.c - reads records of the log format:
 *
 *   file     := block*                    (blocks of 32768 bytes, the last
 *                                          one possibly short)
 *   block    := record* trailer?
 *   record   := checksum:fixed32 length:fixed16 type:uint8 data[length]
 *   checksum := masked crc32c(type byte ++ data)
 *   type     := ZERO(0) | FULL(1) | FIRST(2) | MIDDLE(3) | LAST(4)
 *   trailer  := < 7 bytes (zeros), too short for a header
 *
 * A user record is either one FULL fragment or FIRST MIDDLE* LAST, in that
 * order and with nothing in between.
 *
 * Recovery rules (those of LevelDB, so both read the same records from a
 * damaged log):
 *  - bad checksum: the rest of the block is dropped and reported, because
 *    the length field itself may be what is damaged, leaving no trustworthy
 *    way to find the next header in this block;
 *  - a length running past the end of the block: the rest of the block is
 *    dropped and reported -- unless the block is the file's last, where it
 *    is the tail a dying writer left behind and means end of file; but
 *    (beyond LevelDB) not when the bytes there hold an intact record -- this
 *    one, with a shorter length than its header says, or one after it: a
 *    torn tail is a strict prefix of one record with nothing after it, so
 *    that is a damaged length, which would otherwise drop this and every
 *    later record (in a MANIFEST, every later edit) without a word;
 *  - a header of ZERO type and zero length (preallocated, never written
 *    space): the rest of the block is skipped silently;
 *  - fragments out of order drop the pieces involved, with a report;
 *  - a header or fragment cut short by end of file, or a record whose
 *    later fragments are missing at end of file: end of file, no report;
 *  - beyond LevelDB: a fragment failing its checksum whose bytes from a
 *    sector boundary (a file offset that is a multiple of 512) inside it
 *    to the end of the file are all zeros is a write torn by a crash: the
 *    file's size reached the disk, its last sectors did not, and read as
 *    zeros. End of file, no report, as for a fragment cut short. Its
 *    report is held back until the reader knows: anything but zeros
 *    before the end of the file makes it damage again. (A damaged last
 *    record that merely ends in zeros is taken for a tear only when its
 *    zeros cover a sector boundary: a chance of about one in 512 per zero
 *    byte at its end.)
 */
#include "db/log_reader.h"

#include <stdlib.h>
#include <string.h>

#include "db/log_format.h"
#include "util/buf.h"
#include "util/coding.h"
#include "util/crc32c.h"
#include "util/error.h"

/* Storage writes whole sectors: a write torn by a crash stops at a file
 * offset that is a multiple of this. */
#define TEAR_ALIGN 512

/* Results of read_fragment() beyond the fragment types. */
enum { FRAG_EOF = ST_LOG_MAX_TYPE + 1, FRAG_BAD = ST_LOG_MAX_TYPE + 2 };

struct st_log_reader {
  st_seqfile *file;
  int checksum;
  st_log_corruption_fn report;
  void *arg;
  int eof;         /* the last read returned a short block */
  const char *buf; /* unconsumed bytes of the current block */
  size_t buf_len;
  uint64_t buf_end;     /* file offset just past the current block's bytes */
  uint64_t last_offset; /* start of the last record returned */
  uint64_t end_offset;  /* end of the last record returned */
  st_buf record;        /* reassembly of fragmented records */
  /* A checksum failure that may be a torn tail (see the top): reported
   * only if something other than zeros follows it. */
  int torn;
  uint64_t torn_offset;
  size_t torn_bytes;
  char block[ST_LOG_BLOCK_SIZE];
};

st_log_reader *st_log_reader_new(st_seqfile *file, int checksum, st_log_corruption_fn report,
                                 void *arg) {
  st_log_reader *r = malloc(sizeof *r);
  if (!r) {
    st_err(STRATA_ENOMEM, "cannot allocate log reader");
    return NULL;
  }
  r->file = file;
  r->checksum = checksum;
  r->report = report;
  r->arg = arg;
  r->eof = 0;
  r->buf = r->block;
  r->buf_len = 0;
  r->buf_end = 0;
  r->last_offset = 0;
  r->end_offset = 0;
  r->record = (st_buf)ST_BUF_INIT;
  r->torn = 0;
  return r;
}

void st_log_reader_free(st_log_reader *r) {
  if (!r) return;
  st_buf_free(&r->record);
  free(r);
}

int st_log_reader_start_at(st_log_reader *r, uint64_t offset) {
  int rc = offset ? r->file->skip_bytes(r->file, offset) : 0;
  if (rc) return rc;
  /* The first read then stops at the end of offset's block (read_fragment),
   * so the blocks after it are read whole, as from the start. */
  r->buf_end = r->last_offset = r->end_offset = offset;
  return 0;
}

uint64_t st_log_last_record_offset(const st_log_reader *r) { return r->last_offset; }

uint64_t st_log_end_offset(const st_log_reader *r) { return r->end_offset; }

/* File offset of the next unconsumed byte. */
static inline uint64_t cursor(const st_log_reader *r) { return r->buf_end - r->buf_len; }

/* A held-back checksum failure turned out not to be a torn tail. */
static void report_torn(st_log_reader *r) {
  if (!r->torn) return;
  r->torn = 0;
  if (r->report) r->report(r->arg, r->torn_offset, r->torn_bytes, "checksum mismatch");
}

static void report(st_log_reader *r, uint64_t offset, size_t bytes, const char *reason) {
  report_torn(r);
  if (r->report) r->report(r->arg, offset, bytes, reason);
}

/* Called at the end of the file, on a header whose length runs past it:
 * true when the bytes left hold an intact fragment (known type, length
 * within them, matching checksum) -- the one under this header with some
 * shorter length, or one starting further on. Then the length is damaged,
 * not a tail cut short by a crash. A scan of at most one block, only on
 * this path. */
static int damaged_length(const st_log_reader *r) {
  const unsigned char *h0 = (const unsigned char *)r->buf;
  uint32_t want = st_crc32c_unmask(st_get_fixed32(r->buf));
  uint32_t crc = st_crc32c(h0 + 6, 1);
  for (size_t n = 0;; n++) {
    if (crc == want) return 1;
    if (ST_LOG_HEADER_SIZE + n >= r->buf_len) break;
    crc = st_crc32c_extend(crc, h0 + ST_LOG_HEADER_SIZE + n, 1);
  }
  for (size_t p = 1; p + ST_LOG_HEADER_SIZE <= r->buf_len; p++) {
    const unsigned char *h = (const unsigned char *)r->buf + p;
    size_t len = (size_t)h[4] | ((size_t)h[5] << 8);
    if (h[6] < ST_LOG_FULL || h[6] > ST_LOG_LAST || p + ST_LOG_HEADER_SIZE + len > r->buf_len)
      continue;
    if (st_crc32c_unmask(st_get_fixed32((const char *)h)) == st_crc32c(h + 6, 1 + len)) return 1;
  }
  return 0;
}

/* True when the fragment at the cursor (length len) may be a torn write:
 * the zeros that end the block cover a sector boundary inside it (the
 * bytes written before the tear may end in zeros too). */
static int torn_by_zeros(const st_log_reader *r, size_t len) {
  size_t z = r->buf_len;
  while (z > 0 && r->buf[z - 1] == 0)
    z--;
  uint64_t zero_from = cursor(r) + z;
  uint64_t boundary = (zero_from + TEAR_ALIGN - 1) / TEAR_ALIGN * TEAR_ALIGN;
  return boundary < cursor(r) + ST_LOG_HEADER_SIZE + len;
}

/* True when the bytes of the current block from `from` on are all zeros. */
static int zeros_from(const st_log_reader *r, size_t from) {
  for (size_t i = from; i < r->buf_len; i++)
    if (r->buf[i]) return 0;
  return 1;
}

/* Drops the rest of the current block, reporting it unless reason is NULL. */
static void drop_block(st_log_reader *r, const char *reason) {
  if (reason && r->buf_len) report(r, cursor(r), r->buf_len, reason);
  r->buf += r->buf_len;
  r->buf_len = 0;
}

/* Reads the next physical record. Returns its type (*frag and *at, the file
 * offset of its header, set), FRAG_EOF, FRAG_BAD (something was dropped;
 * keep reading) or a negative error. */
static int read_fragment(st_log_reader *r, st_slice *frag, uint64_t *at) {
  for (;;) {
    if (r->buf_len < ST_LOG_HEADER_SIZE) {
      /* What is left is a trailer, or a header cut short by end of file:
       * neither is data. */
      if (!zeros_from(r, 0)) report_torn(r);
      drop_block(r, NULL);
      if (r->eof) {
        r->torn = 0; /* only zeros followed it: a torn tail */
        return FRAG_EOF;
      }
      /* A whole block, or the rest of one for a reader that started inside
       * it (st_log_reader_start_at); buf_end is a block boundary after the
       * first read. */
      size_t want = ST_LOG_BLOCK_SIZE - (size_t)(r->buf_end % ST_LOG_BLOCK_SIZE);
      st_slice got;
      int rc = r->file->read(r->file, want, r->block, &got);
      if (rc < 0) {
        r->eof = 1;
        return rc;
      }
      r->buf = got.data;
      r->buf_len = got.size;
      r->buf_end += got.size;
      if (got.size < want) r->eof = 1;
      continue;
    }

    const unsigned char *h = (const unsigned char *)r->buf;
    size_t len = (size_t)h[4] | ((size_t)h[5] << 8);
    int type = h[6];
    if (ST_LOG_HEADER_SIZE + len > r->buf_len) {
      if (r->eof && !(r->checksum && damaged_length(r))) {
        report_torn(r);      /* not zeros after it */
        drop_block(r, NULL); /* a writer died mid-record */
        return FRAG_EOF;
      }
      drop_block(r, "bad record length");
      return FRAG_BAD;
    }
    if (type == ST_LOG_ZERO && len == 0) {
      if (!zeros_from(r, 0)) report_torn(r);
      drop_block(r, NULL); /* preallocated space, never written */
      return FRAG_BAD;
    }
    if (r->checksum) {
      uint32_t want = st_crc32c_unmask(st_get_fixed32(r->buf));
      uint32_t got = st_crc32c(r->buf + 6, 1 + len);
      if (want != got) {
        if (torn_by_zeros(r, len)) {
          /* Maybe a torn tail: decided by what follows (see the top). */
          report_torn(r);
          r->torn = 1;
          r->torn_offset = cursor(r);
          r->torn_bytes = r->buf_len;
          drop_block(r, NULL);
        } else {
          drop_block(r, "checksum mismatch");
        }
        return FRAG_BAD;
      }
    }
    report_torn(r); /* a real fragment follows it */
    *frag = st_slice_make(r->buf + ST_LOG_HEADER_SIZE, len);
    *at = cursor(r);
    r->buf += ST_LOG_HEADER_SIZE + len;
    r->buf_len -= ST_LOG_HEADER_SIZE + len;
    return type;
  }
}

int st_log_read_record(st_log_reader *r, st_slice *record) {
  int in_record = 0;  /* a FIRST has been seen and its LAST has not */
  uint64_t start = 0; /* file offset of that FIRST */
  r->record.size = 0;
  for (;;) {
    st_slice frag = {NULL, 0};
    uint64_t at = 0;
    int type = read_fragment(r, &frag, &at);
    switch (type) {
    case ST_LOG_FULL:
      if (in_record) report(r, start, r->record.size, "partial record without end");
      r->record.size = 0;
      r->last_offset = at;
      r->end_offset = cursor(r);
      *record = frag;
      return 1;

    case ST_LOG_FIRST:
      if (in_record) report(r, start, r->record.size, "partial record without end");
      in_record = 1;
      start = at;
      if (st_buf_set(&r->record, frag.data, frag.size)) return STRATA_ENOMEM;
      break;

    case ST_LOG_MIDDLE:
    case ST_LOG_LAST:
      if (!in_record) {
        report(r, at, frag.size, "missing start of fragmented record");
        break;
      }
      if (st_buf_append(&r->record, frag.data, frag.size)) return STRATA_ENOMEM;
      if (type == ST_LOG_LAST) {
        r->last_offset = start;
        r->end_offset = cursor(r);
        *record = st_buf_slice(&r->record);
        return 1;
      }
      break;

    case FRAG_EOF:
      /* A record still missing fragments here was never acknowledged. */
      r->record.size = 0;
      return 0;

    case FRAG_BAD:
      if (in_record && r->torn) {
        /* The start of a record torn at the end: held back with its tail. */
        r->torn_offset = start;
        r->torn_bytes += r->record.size;
      } else if (in_record) {
        report(r, start, r->record.size, "error in middle of record");
      }
      in_record = 0;
      r->record.size = 0;
      break;

    default:
      if (type < 0) return type;
      if (in_record)
        report(r, start, r->record.size + frag.size, "unknown record type");
      else
        report(r, at, frag.size, "unknown record type");
      in_record = 0;
      r->record.size = 0;
      break;
    }
  }
}
