/* format.c - block handles, the footer, block reads (grammar in format.h). */
#include "table/format.h"

#include <inttypes.h>
#include <pthread.h>
#include <snappy-c.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "util/coding.h"
#include "util/crc32c.h"
#include "util/error.h"

char *st_block_handle_encode(const st_block_handle *h, char *dst) {
  dst = st_put_varint64(dst, h->offset);
  return st_put_varint64(dst, h->size);
}

int st_block_handle_append(st_buf *b, const st_block_handle *h) {
  if (st_buf_reserve(b, ST_MAX_BLOCK_HANDLE_SIZE)) return STRATA_ENOMEM;
  b->size = (size_t)(st_block_handle_encode(h, b->data + b->size) - b->data);
  return 0;
}

const char *st_block_handle_decode(const char *p, const char *limit, st_block_handle *h) {
  p = st_get_varint64(p, limit, &h->offset);
  if (p) p = st_get_varint64(p, limit, &h->size);
  return p;
}

void st_footer_encode(const st_footer *f, char dst[ST_FOOTER_SIZE]) {
  /* Padding is zero so that two builds of the same table are identical. */
  memset(dst, 0, ST_FOOTER_SIZE);
  char *p = st_block_handle_encode(&f->metaindex, dst);
  st_block_handle_encode(&f->index, p);
  st_put_fixed64(dst + ST_FOOTER_SIZE - 8, ST_TABLE_MAGIC);
}

int st_footer_decode(const char *p, const char *path, st_footer *f) {
  if (st_get_fixed64(p + ST_FOOTER_SIZE - 8) != ST_TABLE_MAGIC)
    return st_err_corrupt("%s: not an sstable (bad magic number)", path);
  /* The handles must fit in the 40 bytes before the magic; the padding is
   * not checked (LevelDB does not check it either). */
  const char *limit = p + ST_FOOTER_SIZE - 8;
  const char *q = st_block_handle_decode(p, limit, &f->metaindex);
  if (q) q = st_block_handle_decode(q, limit, &f->index);
  if (!q) return st_err_corrupt("%s: bad block handle in table footer", path);
  return 0;
}

/* Each thread keeps one scratch buffer for raw block reads, so a read from
 * an mmap'd table (which ignores scratch) or of a compressed block (which
 * is decompressed elsewhere) allocates nothing for the raw bytes; and one
 * block buffer that transient reads decompress into. A pthread key, not
 * _Thread_local, so the buffers are freed when their thread exits. */
typedef struct read_scratch {
  char *p; /* raw bytes read with pread */
  size_t cap;
  char *out; /* contents of the last transient read */
  size_t out_cap;
} read_scratch;

static pthread_key_t scratch_key;
static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;

static void free_scratch(void *arg) {
  read_scratch *rs = arg;
  free(rs->p);
  free(rs->out);
  free(rs);
}

static void make_scratch_key(void) { pthread_key_create(&scratch_key, free_scratch); }

/* Makes a per-thread buffer (*p, *cap bytes) hold at least n bytes: at least
 * 64 KiB, else exactly n, so one huge block is not followed by a doubling.
 * The old contents are not kept. Returns 0 when out of memory (the buffer
 * is left as it was). */
static int reserve(char **p, size_t *cap, size_t n) {
  if (*cap >= n) return 1;
  size_t want = n < 65536 ? 65536 : n;
  char *q = malloc(want);
  if (!q) return 0;
  free(*p);
  *p = q;
  *cap = want;
  return 1;
}

/* This thread's scratch, grown to n bytes; NULL when out of memory. */
static read_scratch *get_scratch(size_t n) {
  pthread_once(&scratch_once, make_scratch_key);
  read_scratch *rs = pthread_getspecific(scratch_key);
  if (!rs) {
    rs = calloc(1, sizeof *rs);
    if (!rs || pthread_setspecific(scratch_key, rs)) {
      free(rs);
      return NULL;
    }
  }
  if (!reserve(&rs->p, &rs->cap, n)) return NULL;
  return rs;
}

/* Snappy's densest encoding is a 3-byte copy tag producing 64 bytes, so a
 * valid stream never expands more than ~21x; a larger claimed length is
 * corruption, caught before it turns into a huge allocation. */
#define SNAPPY_MAX_RATIO 32

/* A zstd block holds at most 128 KiB of content and takes at least 3 header
 * bytes plus one of payload (an RLE block), which bounds what n compressed
 * bytes can claim to expand to. */
#define ZSTD_BLOCK_CONTENT_MAX ((uint64_t)128 * 1024)

/* The buffer a block of ulen bytes is decompressed into: the thread's
 * block buffer (rs->out, kept and reused) when transient, else a new
 * malloc'd one that the contents will own. */
static char *output_buffer(read_scratch *rs, size_t ulen, int transient) {
  if (!transient) return malloc(ulen ? ulen : 1);
  return reserve(&rs->out, &rs->out_cap, ulen) ? rs->out : NULL;
}

static int uncompress(const char *path, const st_block_handle *h, int type, const char *src,
                      size_t n, read_scratch *rs, int transient, st_block_contents *out) {
  size_t ulen = 0;
  char *buf;
  if (type == ST_BLOCK_SNAPPY) {
    if (snappy_uncompressed_length(src, n, &ulen) != SNAPPY_OK ||
        (n < SIZE_MAX / SNAPPY_MAX_RATIO && ulen > n * SNAPPY_MAX_RATIO))
      goto bad;
    buf = output_buffer(rs, ulen, transient);
    if (!buf) goto nomem;
    size_t got = ulen;
    if (snappy_uncompress(src, n, buf, &got) != SNAPPY_OK || got != ulen) {
      if (!transient) free(buf);
      goto bad;
    }
  } else if (type == ST_BLOCK_ZSTD) {
    unsigned long long cs = ZSTD_getFrameContentSize(src, n);
    if (cs == ZSTD_CONTENTSIZE_ERROR || cs == ZSTD_CONTENTSIZE_UNKNOWN || cs > SIZE_MAX ||
        cs / ZSTD_BLOCK_CONTENT_MAX > (uint64_t)n / 4 + 1)
      goto bad;
    ulen = (size_t)cs;
    buf = output_buffer(rs, ulen, transient);
    if (!buf) goto nomem;
    size_t got = ZSTD_decompress(buf, ulen, src, n);
    if (ZSTD_isError(got) || got != ulen) {
      if (!transient) free(buf);
      goto bad;
    }
  } else {
    return st_err_corrupt("%s: unknown compression type %d in block at offset %" PRIu64
                          " (size %" PRIu64 ")",
                          path, type, h->offset, h->size);
  }
  out->data = buf;
  out->size = ulen;
  out->heap = transient ? NULL : buf;
  return 0;
bad:
  return st_err_corrupt("%s: bad %s-compressed block at offset %" PRIu64 " (size %" PRIu64 ")",
                        path, type == ST_BLOCK_SNAPPY ? "snappy" : "zstd", h->offset, h->size);
nomem:
  return st_err(STRATA_ENOMEM,
                "%s: cannot allocate %zu bytes to uncompress block at offset %" PRIu64, path, ulen,
                h->offset);
}

static int read_block(const st_rafile *file, const char *path, uint64_t file_size,
                      const st_block_handle *h, int verify_checksum, int transient,
                      st_block_contents *out) {
  out->data = NULL;
  out->size = 0;
  out->heap = NULL;
  /* Check the handle against the file first: a damaged handle must give a
   * corruption error, not a giant allocation. */
  if (h->size > SIZE_MAX - ST_BLOCK_TRAILER_SIZE || h->offset > file_size ||
      h->size + ST_BLOCK_TRAILER_SIZE > file_size - h->offset)
    goto truncated;

  size_t n = (size_t)h->size;
  size_t total = n + ST_BLOCK_TRAILER_SIZE;
  read_scratch *rs = get_scratch(total);
  if (!rs)
    return st_err(STRATA_ENOMEM, "%s: cannot allocate %zu bytes to read block at offset %" PRIu64,
                  path, total, h->offset);
  char *scratch = rs->p;
  st_slice got = {NULL, 0};
  int rc = file->read(file, h->offset, total, scratch, &got);
  if (rc) return rc;
  if (got.size != total) goto truncated;

  const char *d = got.data;
  /* The block is usually cold (a random block of a page-cached file), and
   * snappy reads it front to back, one cache miss after another: asking
   * for every line up front lets the misses overlap. */
  for (size_t i = 0; i < total; i += 64)
    __builtin_prefetch(d + i);
  int type = (unsigned char)d[n];
  if (verify_checksum) {
    uint32_t stored = st_crc32c_unmask(st_get_fixed32(d + n + 1));
    uint32_t actual = st_crc32c(d, n + 1); /* contents and the type byte */
    if (stored != actual) {
      return st_err_corrupt("%s: block checksum mismatch at offset %" PRIu64 " (size %" PRIu64 ")",
                            path, h->offset, h->size);
    }
  }

  int in_scratch = d >= scratch && d < scratch + total;
  if (type == ST_BLOCK_NONE) {
    out->data = d;
    out->size = n;
    /* Data in the file's own memory (an mmap) is used in place; data read
     * into scratch is kept: the block takes the scratch buffer over and the
     * thread gets a new one next time. Either way there is no copy. */
    if (in_scratch && !transient) {
      out->heap = scratch;
      rs->p = NULL;
      rs->cap = 0;
    }
    return 0;
  }
  return uncompress(path, h, type, d, n, rs, transient, out);

truncated:
  return st_err_corrupt("%s: truncated block read at offset %" PRIu64 " (size %" PRIu64 ")", path,
                        h->offset, h->size);
}

int st_read_block(const st_rafile *file, const char *path, uint64_t file_size,
                  const st_block_handle *h, int verify_checksum, st_block_contents *out) {
  return read_block(file, path, file_size, h, verify_checksum, 0, out);
}

int st_read_block_transient(const st_rafile *file, const char *path, uint64_t file_size,
                            const st_block_handle *h, int verify_checksum, st_block_contents *out) {
  return read_block(file, path, file_size, h, verify_checksum, 1, out);
}

int st_read_stored_block(const st_rafile *file, uint64_t file_size, const st_block_handle *h,
                         st_slice *out) {
  *out = st_slice_make(NULL, 0);
  if (h->size > SIZE_MAX - ST_BLOCK_TRAILER_SIZE || h->offset > file_size ||
      h->size + ST_BLOCK_TRAILER_SIZE > file_size - h->offset)
    return 0;
  size_t total = (size_t)h->size + ST_BLOCK_TRAILER_SIZE;
  read_scratch *rs = get_scratch(total);
  if (!rs) return 0;
  st_slice got = {NULL, 0};
  if (file->read(file, h->offset, total, rs->p, &got) || got.size != total) {
    st_err_clear();
    return 0;
  }
  /* Copied blocks keep their checksum: only an intact one may be copied. */
  uint32_t stored = st_crc32c_unmask(st_get_fixed32(got.data + h->size + 1));
  if (stored != st_crc32c(got.data, (size_t)h->size + 1)) return 0;
  *out = got;
  return 1;
}

int st_compress_block(int type, int zstd_level, st_slice raw, st_buf *out) {
  out->size = 0;
  if (type == ST_BLOCK_SNAPPY) {
    size_t cap = snappy_max_compressed_length(raw.size);
    if (st_buf_reserve(out, cap)) return STRATA_ENOMEM;
    size_t len = cap;
    if (snappy_compress(raw.data, raw.size, out->data, &len) != SNAPPY_OK)
      return st_err(STRATA_ENOTSUP, "snappy compression failed");
    out->size = len;
    return 0;
  }
  if (type == ST_BLOCK_ZSTD) {
    size_t cap = ZSTD_compressBound(raw.size);
    if (st_buf_reserve(out, cap)) return STRATA_ENOMEM;
    int level = zstd_level > 0 ? zstd_level : ST_ZSTD_LEVEL;
    if (level > ZSTD_maxCLevel()) level = ZSTD_maxCLevel();
    size_t len = ZSTD_compress(out->data, cap, raw.data, raw.size, level);
    if (ZSTD_isError(len))
      return st_err(STRATA_ENOTSUP, "zstd compression failed: %s", ZSTD_getErrorName(len));
    out->size = len;
    return 0;
  }
  return st_err(STRATA_ENOTSUP, "unknown compression type %d", type);
}
