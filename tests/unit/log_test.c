/*
 * log_test.c - the write-ahead log writer and reader (db/log_writer.c,
 * db/log_reader.c) over in-memory files.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "db/log_format.h"
#include "db/log_reader.h"
#include "db/log_writer.h"
#include "util/buf.h"
#include "util/crc32c.h"
#include "util/random.h"

#define BLOCK ST_LOG_BLOCK_SIZE
#define HDR ST_LOG_HEADER_SIZE

/* ------------------------------------------------------------------------ */
/* In-memory files                                                          */
/* ------------------------------------------------------------------------ */

/* The bytes of one "file", shared by the writer and readers of a test. */
typedef struct memfile {
  st_buf data;
  int appends, flushes, syncs;
  int fail_append, fail_flush;
} memfile;

typedef struct mem_wfile {
  st_wfile base;
  memfile *mf;
} mem_wfile;

static int mw_append(st_wfile *f, const char *p, size_t n) {
  memfile *mf = ((mem_wfile *)f)->mf;
  if (mf->fail_append) return STRATA_EIO;
  mf->appends++;
  return st_buf_append(&mf->data, p, n);
}

static int mw_flush(st_wfile *f) {
  memfile *mf = ((mem_wfile *)f)->mf;
  mf->flushes++;
  return mf->fail_flush ? STRATA_EIO : 0;
}

static int mw_sync(st_wfile *f) {
  ((mem_wfile *)f)->mf->syncs++;
  return 0;
}

static int mw_close(st_wfile *f) {
  free(f);
  return 0;
}

static st_wfile *mem_wfile_new(memfile *mf) {
  mem_wfile *w = calloc(1, sizeof *w);
  assert_non_null(w);
  w->base.append = mw_append;
  w->base.flush = mw_flush;
  w->base.sync = mw_sync;
  w->base.close = mw_close;
  w->mf = mf;
  return &w->base;
}

/* Reads from a snapshot of the bytes. `direct` hands out pointers into the
 * file's own memory instead of copying into scratch (both are allowed by
 * env.h). fail_at: return STRATA_EIO once the position reaches it. */
typedef struct mem_seqfile {
  st_seqfile base;
  const char *data;
  size_t size, pos;
  int direct;
  size_t fail_at;
} mem_seqfile;

static int ms_read(st_seqfile *f, size_t n, char *scratch, st_slice *out) {
  mem_seqfile *s = (mem_seqfile *)f;
  if (s->pos >= s->fail_at) return STRATA_EIO;
  size_t left = s->size - s->pos;
  if (n > left) n = left;
  if (s->direct) {
    *out = st_slice_make(s->data + s->pos, n);
  } else {
    if (n) memcpy(scratch, s->data + s->pos, n);
    *out = st_slice_make(scratch, n);
  }
  s->pos += n;
  return 0;
}

static int ms_skip(st_seqfile *f, uint64_t n) {
  mem_seqfile *s = (mem_seqfile *)f;
  s->pos = n > s->size - s->pos ? s->size : s->pos + (size_t)n;
  return 0;
}

static void ms_close(st_seqfile *f) { free(f); }

static st_seqfile *mem_seqfile_new(const char *data, size_t size, int direct) {
  mem_seqfile *s = calloc(1, sizeof *s);
  assert_non_null(s);
  s->base.read = ms_read;
  s->base.skip_bytes = ms_skip;
  s->base.close = ms_close;
  s->data = data;
  s->size = size;
  s->direct = direct;
  s->fail_at = SIZE_MAX;
  return &s->base;
}

/* ------------------------------------------------------------------------ */
/* Helpers                                                                  */
/* ------------------------------------------------------------------------ */

typedef struct reports {
  int n;
  size_t bytes;
  uint64_t first_offset;
  char first_reason[64];
} reports;

static void on_corruption(void *arg, uint64_t offset, size_t bytes, const char *reason) {
  reports *r = arg;
  if (r->n++ == 0) {
    r->first_offset = offset;
    snprintf(r->first_reason, sizeof r->first_reason, "%s", reason);
  }
  r->bytes += bytes;
}

/* Deterministic content for record i of length n. */
static char *make_record(uint32_t i, size_t n) {
  char *p = malloc(n ? n : 1);
  assert_non_null(p);
  st_random rnd;
  st_random_init(&rnd, i * 2654435761u + 17);
  for (size_t k = 0; k < n; k++)
    p[k] = (char)st_random_next(&rnd);
  return p;
}

static void write_records(memfile *mf, uint64_t initial, const size_t *sizes, int n,
                          uint32_t first_id) {
  st_log_writer *w = st_log_writer_new(mem_wfile_new(mf), initial);
  assert_non_null(w);
  for (int i = 0; i < n; i++) {
    char *rec = make_record(first_id + (uint32_t)i, sizes[i]);
    int before = mf->appends;
    assert_int_equal(st_log_add_record(w, st_slice_make(rec, sizes[i])), 0);
    assert_int_equal(mf->appends, before + 1); /* one append per record */
    assert_int_equal(mf->flushes, mf->appends);
    assert_int_equal(st_log_writer_size(w), mf->data.size);
    free(rec);
  }
  assert_int_equal(st_log_writer_close(w), 0);
}

/* Reads every record of data, checking they are records first_id.. with
 * the given sizes. Returns the number read. */
static int read_check(const char *data, size_t size, const size_t *sizes, int n, uint32_t first_id,
                      reports *rep, int direct) {
  st_seqfile *f = mem_seqfile_new(data, size, direct);
  st_log_reader *r = st_log_reader_new(f, 1, on_corruption, rep);
  assert_non_null(r);
  int got = 0;
  st_slice rec;
  int rc;
  while ((rc = st_log_read_record(r, &rec)) == 1) {
    assert_true(got < n);
    assert_int_equal(rec.size, sizes[got]);
    char *want = make_record(first_id + (uint32_t)got, sizes[got]);
    assert_memory_equal(rec.data, want, sizes[got] ? sizes[got] : 0);
    free(want);
    got++;
  }
  assert_int_equal(rc, 0);
  st_log_reader_free(r);
  f->close(f);
  return got;
}

/* The file offset where a record written at file position pos begins (a
 * trailer may come first). */
static uint64_t record_start(uint64_t pos) {
  uint64_t room = BLOCK - pos % BLOCK;
  return room < HDR ? pos + room : pos;
}

/* ------------------------------------------------------------------------ */
/* Tests                                                                    */
/* ------------------------------------------------------------------------ */

/* The bytes of a tiny record and of an empty one, checked by hand. */
static void test_exact_bytes(void **state) {
  (void)state;
  memfile mf = {0};
  st_log_writer *w = st_log_writer_new(mem_wfile_new(&mf), 0);
  assert_int_equal(st_log_add_record(w, st_slice_make("abc", 3)), 0);
  assert_int_equal(st_log_add_record(w, st_slice_make("", 0)), 0);
  assert_int_equal(st_log_sync(w), 0);
  assert_int_equal(mf.syncs, 1);
  assert_int_equal(st_log_writer_close(w), 0);

  assert_int_equal(mf.data.size, HDR + 3 + HDR);
  const unsigned char *b = (const unsigned char *)mf.data.data;
  /* FULL "abc": crc of type byte then payload, masked, little-endian. */
  uint32_t crc = st_crc32c_mask(st_crc32c("\x01"
                                          "abc",
                                          4));
  uint32_t stored =
      (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
  assert_int_equal(stored, crc);
  assert_int_equal(b[4], 3); /* length, little-endian fixed16 */
  assert_int_equal(b[5], 0);
  assert_int_equal(b[6], ST_LOG_FULL);
  assert_memory_equal(b + 7, "abc", 3);
  /* The empty record: FULL, length 0, crc of the type byte alone. */
  b += HDR + 3;
  crc = st_crc32c_mask(st_crc32c("\x01", 1));
  stored = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
  assert_int_equal(stored, crc);
  assert_int_equal(b[4], 0);
  assert_int_equal(b[5], 0);
  assert_int_equal(b[6], ST_LOG_FULL);
  /* The mask itself, as LevelDB defines it. */
  assert_int_equal(st_crc32c_mask(0), 0xa282ead8u);
  assert_int_equal(st_crc32c_unmask(st_crc32c_mask(0x12345678u)), 0x12345678u);
  st_buf_free(&mf.data);
}

/* A record spanning three blocks: FIRST, MIDDLE, LAST headers in place. */
static void test_fragment_layout(void **state) {
  (void)state;
  size_t n = 2 * (BLOCK - HDR) + 100;
  memfile mf = {0};
  write_records(&mf, 0, &n, 1, 5);
  assert_int_equal(mf.data.size, 2 * BLOCK + HDR + 100);
  const unsigned char *b = (const unsigned char *)mf.data.data;
  assert_int_equal(b[6], ST_LOG_FIRST);
  assert_int_equal(b[4] | b[5] << 8, BLOCK - HDR);
  assert_int_equal(b[BLOCK + 6], ST_LOG_MIDDLE);
  assert_int_equal(b[BLOCK + 4] | b[BLOCK + 5] << 8, BLOCK - HDR);
  assert_int_equal(b[2 * BLOCK + 6], ST_LOG_LAST);
  assert_int_equal(b[2 * BLOCK + 4] | b[2 * BLOCK + 5] << 8, 100);
  reports rep = {0};
  assert_int_equal(read_check(mf.data.data, mf.data.size, &n, 1, 5, &rep, 0), 1);
  assert_int_equal(rep.n, 0);
  st_buf_free(&mf.data);
}

/* Round trips of records of many sizes, including the block edge cases. */
static void test_round_trip(void **state) {
  (void)state;
  size_t sizes[] = {0,                     /* FULL, 7 bytes */
                    1,                     /* ends at 15 */
                    BLOCK - 15 - HDR,      /* fills block 0 exactly */
                    BLOCK - HDR,           /* fills block 1 exactly */
                    BLOCK - HDR - 3,       /* leaves 3 bytes in block 2: a trailer */
                    0,                     /* FULL at the start of block 3 */
                    BLOCK - HDR - 2 * HDR, /* leaves exactly a header's room in block 3 */
                    10,                    /* an empty FIRST there, then LAST in block 4 */
                    100000,
                    0,
                    1u << 20, /* 1 MiB: FIRST, 31 or more MIDDLEs, LAST */
                    3,
                    65536,
                    BLOCK,
                    BLOCK + 1};
  int n = (int)(sizeof sizes / sizeof sizes[0]);
  memfile mf = {0};
  write_records(&mf, 0, sizes, n, 100);
  const unsigned char *b = (const unsigned char *)mf.data.data;
  assert_int_equal(b[BLOCK + 6], ST_LOG_FULL);
  assert_int_equal(b[2 * BLOCK + 6], ST_LOG_FULL);
  assert_memory_equal(b + 3 * BLOCK - 3, "\0\0\0", 3);
  assert_int_equal(b[3 * BLOCK + 4], 0);
  assert_int_equal(b[3 * BLOCK + 6], ST_LOG_FULL);
  assert_int_equal(b[4 * BLOCK - HDR + 4], 0);
  assert_int_equal(b[4 * BLOCK - HDR + 6], ST_LOG_FIRST);
  assert_int_equal(b[4 * BLOCK + 4], 10);
  assert_int_equal(b[4 * BLOCK + 6], ST_LOG_LAST);
  for (int direct = 0; direct <= 1; direct++) {
    reports rep = {0};
    assert_int_equal(read_check(mf.data.data, mf.data.size, sizes, n, 100, &rep, direct), n);
    assert_int_equal(rep.n, 0);
  }

  /* Offsets: recompute where each record starts. */
  st_seqfile *f = mem_seqfile_new(mf.data.data, mf.data.size, 0);
  st_log_reader *r = st_log_reader_new(f, 1, NULL, NULL);
  uint64_t pos = 0;
  st_slice rec;
  for (int i = 0; i < n; i++) {
    assert_int_equal(st_log_read_record(r, &rec), 1);
    uint64_t start = record_start(pos);
    assert_int_equal(st_log_last_record_offset(r), start);
    /* Re-encoding from start to find the end. */
    uint64_t end = start, left = sizes[i];
    int first = 1;
    while (first || left) {
      uint64_t room = BLOCK - end % BLOCK;
      if (room < HDR) {
        end += room;
        room = BLOCK;
      }
      uint64_t frag = left < room - HDR ? left : room - HDR;
      end += HDR + frag;
      left -= frag;
      first = 0;
    }
    assert_int_equal(st_log_end_offset(r), end);
    pos = end;
  }
  assert_int_equal(st_log_read_record(r, &rec), 0);
  assert_int_equal(pos, mf.data.size);
  assert_int_equal(st_log_end_offset(r), mf.data.size);
  st_log_reader_free(r);
  f->close(f);
  st_buf_free(&mf.data);
}

/* The writer's block position starts from the initial file size. */
static void test_initial_offset(void **state) {
  (void)state;
  /* A first writer leaves the file 3 bytes short of a block end; a second
   * writer continuing it must write a trailer first. */
  size_t a[] = {100, BLOCK - HDR - 100 - HDR - 3};
  size_t b[] = {5, 40000, 0};
  memfile mf = {0};
  write_records(&mf, 0, a, 2, 1);
  assert_int_equal(mf.data.size, BLOCK - 3);
  write_records(&mf, mf.data.size, b, 3, 3);
  /* 3 trailer bytes, "5" at the start of block 1, "40000" as FIRST there
   * and LAST in block 2, then the empty record. */
  assert_memory_equal(mf.data.data + BLOCK - 3, "\0\0\0", 3);
  assert_int_equal(mf.data.data[BLOCK + 4], 5);
  assert_int_equal(mf.data.data[BLOCK + 6], ST_LOG_FULL);
  assert_int_equal(mf.data.data[BLOCK + HDR + 5 + 6], ST_LOG_FIRST);
  assert_int_equal(mf.data.size, 2 * BLOCK + HDR + (40000 - (BLOCK - HDR - 5 - HDR)) + HDR);

  size_t all[] = {100, BLOCK - HDR - 100 - HDR - 3, 5, 40000, 0};
  reports rep = {0};
  assert_int_equal(read_check(mf.data.data, mf.data.size, all, 5, 1, &rep, 0), 5);
  assert_int_equal(rep.n, 0);

  /* Reopened at an arbitrary position mid-block, many times over. */
  memfile mf2 = {0};
  size_t sizes[40];
  for (int i = 0; i < 40; i++) {
    sizes[i] = (size_t)(i * 977 % 5000);
    write_records(&mf2, mf2.data.size, &sizes[i], 1, 50 + (uint32_t)i);
  }
  rep = (reports){0};
  assert_int_equal(read_check(mf2.data.data, mf2.data.size, sizes, 40, 50, &rep, 1), 40);
  assert_int_equal(rep.n, 0);
  st_buf_free(&mf.data);
  st_buf_free(&mf2.data);
}

/* Preallocated (zero-filled) space is skipped silently. */
static void test_zero_padding(void **state) {
  (void)state;
  size_t a[] = {10, 20}, b[] = {30, 40};
  memfile mf = {0};
  write_records(&mf, 0, a, 2, 1);
  size_t pad = BLOCK - mf.data.size;
  assert_int_equal(st_buf_reserve(&mf.data, pad), 0);
  memset(mf.data.data + mf.data.size, 0, pad);
  mf.data.size += pad;
  write_records(&mf, mf.data.size, b, 2, 3);
  size_t all[] = {10, 20, 30, 40};
  reports rep = {0};
  assert_int_equal(read_check(mf.data.data, mf.data.size, all, 4, 1, &rep, 0), 4);
  assert_int_equal(rep.n, 0);
  st_buf_free(&mf.data);
}

/* A flipped byte: reported; the rest of its block is dropped; later blocks
 * still read. */
static void test_flipped_byte(void **state) {
  (void)state;
  /* Records that each fill one block exactly. */
  size_t sizes[4] = {BLOCK - HDR, BLOCK - HDR, BLOCK - HDR, BLOCK - HDR};
  memfile mf = {0};
  write_records(&mf, 0, sizes, 4, 10);
  mf.data.data[BLOCK + 500] ^= 0x40; /* payload of record 1 */
  st_seqfile *f = mem_seqfile_new(mf.data.data, mf.data.size, 0);
  reports rep = {0};
  st_log_reader *r = st_log_reader_new(f, 1, on_corruption, &rep);
  st_slice rec;
  uint32_t expect[] = {10, 12, 13};
  for (int i = 0; i < 3; i++) {
    assert_int_equal(st_log_read_record(r, &rec), 1);
    char *want = make_record(expect[i], BLOCK - HDR);
    assert_int_equal(rec.size, BLOCK - HDR);
    assert_memory_equal(rec.data, want, rec.size);
    free(want);
  }
  assert_int_equal(st_log_read_record(r, &rec), 0);
  assert_int_equal(rep.n, 1);
  assert_int_equal(rep.first_offset, BLOCK);
  assert_int_equal(rep.bytes, BLOCK);
  assert_string_equal(rep.first_reason, "checksum mismatch");
  st_log_reader_free(r);
  f->close(f);

  /* Small records: the damaged one and the rest of its block are lost,
   * records of the next block survive. */
  size_t small[12];
  for (int i = 0; i < 12; i++)
    small[i] = 3000;
  memfile m2 = {0};
  write_records(&m2, 0, small, 12, 20);
  /* Records 0..9 are whole in block 0 (10 * 3007 = 30070); record 10 starts
   * there as FIRST and ends in block 1. Damage record 2. */
  m2.data.data[2 * 3007 + HDR + 1] ^= 1;
  f = mem_seqfile_new(m2.data.data, m2.data.size, 1);
  rep = (reports){0};
  r = st_log_reader_new(f, 1, on_corruption, &rep);
  assert_int_equal(st_log_read_record(r, &rec), 1); /* record 0 */
  assert_int_equal(st_log_read_record(r, &rec), 1); /* record 1 */
  assert_int_equal(st_log_read_record(r, &rec), 1); /* record 11: block 1 */
  char *want = make_record(31, 3000);
  assert_memory_equal(rec.data, want, 3000);
  free(want);
  /* Record 10's LAST (309 bytes) opens block 1, then record 11. */
  assert_int_equal(st_log_last_record_offset(r), BLOCK + HDR + (3000 - (BLOCK - 10 * 3007 - HDR)));
  assert_int_equal(st_log_read_record(r, &rec), 0);
  /* Reports: the rest of block 0 (checksum), then record 10's LAST. */
  assert_int_equal(rep.n, 2);
  assert_int_equal(rep.first_offset, 2 * 3007);
  assert_string_equal(rep.first_reason, "checksum mismatch");
  assert_int_equal(rep.bytes, (BLOCK - 2 * 3007) + (3000 - (BLOCK - 10 * 3007 - HDR)));
  st_log_reader_free(r);
  f->close(f);
  st_buf_free(&mf.data);
  st_buf_free(&m2.data);
}

/* Damage in the middle fragment of a long record drops that record only. */
static void test_damaged_middle(void **state) {
  (void)state;
  size_t sizes[] = {3 * BLOCK, 10, 20};
  memfile mf = {0};
  write_records(&mf, 0, sizes, 3, 40);
  mf.data.data[BLOCK + 100] ^= 0xff;
  reports rep = {0};
  st_seqfile *f = mem_seqfile_new(mf.data.data, mf.data.size, 0);
  st_log_reader *r = st_log_reader_new(f, 1, on_corruption, &rep);
  st_slice rec;
  assert_int_equal(st_log_read_record(r, &rec), 1);
  assert_int_equal(rec.size, 10);
  assert_int_equal(st_log_read_record(r, &rec), 1);
  assert_int_equal(rec.size, 20);
  assert_int_equal(st_log_read_record(r, &rec), 0);
  assert_true(rep.n >= 2); /* the bad block, the orphaned fragments */
  st_log_reader_free(r);
  f->close(f);

  /* Without checksums the damage goes unnoticed. */
  f = mem_seqfile_new(mf.data.data, mf.data.size, 0);
  r = st_log_reader_new(f, 0, NULL, NULL);
  assert_int_equal(st_log_read_record(r, &rec), 1);
  assert_int_equal(rec.size, 3 * BLOCK);
  st_log_reader_free(r);
  f->close(f);
  st_buf_free(&mf.data);
}

/* A length field running past the block: reported, the next block reads. */
static void test_bad_length(void **state) {
  (void)state;
  size_t sizes[] = {100, 200, BLOCK - HDR - 100 - HDR - 200 - HDR, 300};
  memfile mf = {0};
  write_records(&mf, 0, sizes, 4, 60);
  size_t at = HDR + 100; /* header of record 1 */
  mf.data.data[at + 4] = (char)0xff;
  mf.data.data[at + 5] = (char)0x7f;
  reports rep = {0};
  size_t want_sizes[] = {100, 300};
  st_seqfile *f = mem_seqfile_new(mf.data.data, mf.data.size, 0);
  st_log_reader *r = st_log_reader_new(f, 1, on_corruption, &rep);
  st_slice rec;
  for (int i = 0; i < 2; i++) {
    assert_int_equal(st_log_read_record(r, &rec), 1);
    assert_int_equal(rec.size, want_sizes[i]);
  }
  assert_int_equal(st_log_read_record(r, &rec), 0);
  assert_int_equal(rep.n, 1);
  assert_string_equal(rep.first_reason, "bad record length");
  assert_int_equal(rep.first_offset, at);
  assert_int_equal(rep.bytes, BLOCK - at);
  st_log_reader_free(r);
  f->close(f);
  st_buf_free(&mf.data);
}

/* Appends one physical record with a valid checksum, as a writer that
 * misbehaves would. */
static void emit(st_buf *b, int type, const char *p, size_t n) {
  char h[HDR];
  char t = (char)type;
  uint32_t crc = st_crc32c_extend(st_crc32c(&t, 1), p, n);
  st_put_fixed32(h, st_crc32c_mask(crc));
  h[4] = (char)(n & 0xff);
  h[5] = (char)(n >> 8);
  h[6] = t;
  assert_int_equal(st_buf_append(b, h, HDR), 0);
  assert_int_equal(st_buf_append(b, p, n), 0);
}

/* Reads all records of b into a string "rec|rec|..." and counts reports. */
static void read_all(const st_buf *b, char *out, size_t cap, reports *rep) {
  st_seqfile *f = mem_seqfile_new(b->data, b->size, 0);
  st_log_reader *r = st_log_reader_new(f, 1, on_corruption, rep);
  st_slice rec;
  out[0] = '\0';
  int rc;
  while ((rc = st_log_read_record(r, &rec)) == 1) {
    size_t len = strlen(out);
    assert_true(len + rec.size + 2 < cap);
    memcpy(out + len, rec.data, rec.size);
    out[len + rec.size] = '|';
    out[len + rec.size + 1] = '\0';
  }
  assert_int_equal(rc, 0);
  st_log_reader_free(r);
  f->close(f);
}

/* Fragments out of order. */
static void test_fragment_order(void **state) {
  (void)state;
  char out[256];
  st_buf b = ST_BUF_INIT;
  reports rep = {0};

  /* MIDDLE and LAST without a FIRST. */
  emit(&b, ST_LOG_MIDDLE, "mm", 2);
  emit(&b, ST_LOG_LAST, "ll", 2);
  emit(&b, ST_LOG_FULL, "ok", 2);
  read_all(&b, out, sizeof out, &rep);
  assert_string_equal(out, "ok|");
  assert_int_equal(rep.n, 2);
  assert_int_equal(rep.first_offset, 0);
  assert_string_equal(rep.first_reason, "missing start of fragmented record");
  assert_int_equal(rep.bytes, 4);

  /* FIRST then FULL: the partial record is reported, the FULL read. */
  b.size = 0;
  rep = (reports){0};
  emit(&b, ST_LOG_FIRST, "aaa", 3);
  emit(&b, ST_LOG_FULL, "full", 4);
  read_all(&b, out, sizeof out, &rep);
  assert_string_equal(out, "full|");
  assert_int_equal(rep.n, 1);
  assert_int_equal(rep.bytes, 3);
  assert_string_equal(rep.first_reason, "partial record without end");

  /* FIRST MIDDLE then FIRST LAST: the second record is whole. */
  b.size = 0;
  rep = (reports){0};
  emit(&b, ST_LOG_FIRST, "aa", 2);
  emit(&b, ST_LOG_MIDDLE, "bb", 2);
  emit(&b, ST_LOG_FIRST, "cc", 2);
  emit(&b, ST_LOG_MIDDLE, "dd", 2);
  emit(&b, ST_LOG_LAST, "ee", 2);
  read_all(&b, out, sizeof out, &rep);
  assert_string_equal(out, "ccddee|");
  assert_int_equal(rep.n, 1);
  assert_int_equal(rep.bytes, 4);
  assert_int_equal(rep.first_offset, 0);

  /* An unknown type is reported and skipped. */
  b.size = 0;
  rep = (reports){0};
  emit(&b, 7, "zz", 2);
  emit(&b, ST_LOG_FULL, "x", 1);
  read_all(&b, out, sizeof out, &rep);
  assert_string_equal(out, "x|");
  assert_int_equal(rep.n, 1);
  assert_string_equal(rep.first_reason, "unknown record type");

  /* FIRST at the very end of the file: a writer that died; silent. */
  b.size = 0;
  rep = (reports){0};
  emit(&b, ST_LOG_FULL, "x", 1);
  emit(&b, ST_LOG_FIRST, "yy", 2);
  read_all(&b, out, sizeof out, &rep);
  assert_string_equal(out, "x|");
  assert_int_equal(rep.n, 0);
  st_buf_free(&b);
}

/* A file cut anywhere inside its last record ends silently. */
static void test_truncated_tail(void **state) {
  (void)state;
  size_t sizes[] = {50, 1000, 2 * BLOCK + 10};
  memfile mf = {0};
  write_records(&mf, 0, sizes, 3, 70);
  size_t last_start = HDR + 50 + HDR + 1000;
  size_t cuts[] = {last_start + 1,   last_start + HDR - 1,
                   last_start + HDR, last_start + HDR + 100,
                   BLOCK - 1,        BLOCK,
                   BLOCK + 3,        2 * BLOCK + HDR,
                   mf.data.size - 1};
  for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
    reports rep = {0};
    assert_int_equal(read_check(mf.data.data, cuts[i], sizes, 3, 70, &rep, (int)(i & 1)), 2);
    assert_int_equal(rep.n, 0);
  }
  /* Cut inside the second record's header or payload. */
  size_t cut2[] = {HDR + 50 + 3, HDR + 50 + HDR + 999};
  for (int i = 0; i < 2; i++) {
    reports rep = {0};
    assert_int_equal(read_check(mf.data.data, cut2[i], sizes, 3, 70, &rep, 0), 1);
    assert_int_equal(rep.n, 0);
  }
  /* An empty file. */
  reports rep = {0};
  assert_int_equal(read_check(mf.data.data, 0, sizes, 3, 70, &rep, 0), 0);
  st_buf_free(&mf.data);
}

/* A crash can leave the last record torn at a sector boundary, its last
 * sectors reading as zeros (the file's size reached the disk, not all its
 * data): that ends the file silently, like a cut. */
static void test_zero_torn_tail(void **state) {
  (void)state;
  size_t sizes[] = {50, 1000, 2 * BLOCK + 10};
  memfile mf = {0};
  write_records(&mf, 0, sizes, 3, 70);
  /* The last record starts at 1064 and spans three blocks. */
  size_t tears[] = {
      1536, 2048, BLOCK - 512, BLOCK + 512, 2 * BLOCK + 512, mf.data.size / 512 * 512};
  char *copy = malloc(mf.data.size);
  for (size_t i = 0; i < sizeof tears / sizeof tears[0]; i++) {
    memcpy(copy, mf.data.data, tears[i]);
    memset(copy + tears[i], 0, mf.data.size - tears[i]);
    reports rep = {0};
    assert_int_equal(read_check(copy, mf.data.size, sizes, 3, 70, &rep, (int)(i & 1)), 2);
    if (rep.n) fail_msg("tear at %zu reported: %s", tears[i], rep.first_reason);
  }
  /* Zeros that cover no sector boundary: a damaged record that happens to
   * end in zeros, not a tear. */
  size_t from = mf.data.size / 512 * 512 + 10;
  assert_true(from < mf.data.size);
  memcpy(copy, mf.data.data, mf.data.size);
  memset(copy + from, 0, mf.data.size - from);
  reports rep0 = {0};
  assert_int_equal(read_check(copy, mf.data.size, sizes, 3, 70, &rep0, 0), 2);
  assert_true(rep0.n >= 1); /* the last fragment, then the record it ends */
  assert_string_equal(rep0.first_reason, "checksum mismatch");
  /* Zeros inside a record followed by anything else are damage: a record
   * in the same block after it, or in a later block. */
  size_t sizes2[] = {50, 1000, 30, BLOCK, 40};
  st_buf_free(&mf.data);
  memset(&mf, 0, sizeof mf);
  write_records(&mf, 0, sizes2, 5, 90);
  free(copy);
  copy = malloc(mf.data.size);
  struct {
    size_t from, to;
  } holes[] = {{512, 1024},    /* record 1, record 2 follows in the block */
               {1536, BLOCK}}; /* record 3 to the block's end, record 4 after */
  for (int h = 0; h < 2; h++) {
    memcpy(copy, mf.data.data, mf.data.size);
    memset(copy + holes[h].from, 0, holes[h].to - holes[h].from);
    st_seqfile *f = mem_seqfile_new(copy, mf.data.size, 0);
    reports rep = {0};
    st_log_reader *r = st_log_reader_new(f, 1, on_corruption, &rep);
    st_slice rec;
    int got = 0;
    while (st_log_read_record(r, &rec) == 1)
      got++;
    st_log_reader_free(r);
    f->close(f);
    if (rep.n < 1) fail_msg("hole %d not reported", h);
    assert_string_equal(rep.first_reason, "checksum mismatch");
    assert_true(got >= 1 && got < 5);
  }
  free(copy);
  st_buf_free(&mf.data);
}

/* A damaged length that runs past the end of the file is not taken for a
 * torn tail when an intact record lies in the bytes it covers: the record
 * itself (with a shorter length) or one after it. */
static void test_damaged_length_at_end(void **state) {
  (void)state;
  size_t sizes[] = {50, 100, 200};
  memfile mf = {0};
  write_records(&mf, 0, sizes, 3, 30);
  size_t starts[] = {0, HDR + 50, HDR + 50 + HDR + 100};
  for (int rec = 0; rec < 3; rec++) {
    char *copy = malloc(mf.data.size);
    memcpy(copy, mf.data.data, mf.data.size);
    copy[starts[rec] + 5] = 0x7f; /* length high byte: runs past the end */
    reports rep = {0};
    st_seqfile *f = mem_seqfile_new(copy, mf.data.size, 0);
    st_log_reader *r = st_log_reader_new(f, 1, on_corruption, &rep);
    st_slice out;
    int got = 0;
    while (st_log_read_record(r, &out) == 1)
      got++;
    st_log_reader_free(r);
    f->close(f);
    assert_int_equal(got, rec);
    if (rep.n != 1) fail_msg("record %d: %d reports", rec, rep.n);
    assert_string_equal(rep.first_reason, "bad record length");
    free(copy);
  }
  st_buf_free(&mf.data);
}

/* I/O errors are returned, not reported as corruption. */
static void test_io_errors(void **state) {
  (void)state;
  memfile mf = {0};
  size_t sizes[] = {BLOCK, 10};
  write_records(&mf, 0, sizes, 2, 1);
  mem_seqfile *s = (mem_seqfile *)mem_seqfile_new(mf.data.data, mf.data.size, 0);
  s->fail_at = BLOCK;
  st_log_reader *r = st_log_reader_new(&s->base, 1, NULL, NULL);
  st_slice rec;
  assert_int_equal(st_log_read_record(r, &rec), STRATA_EIO);
  st_log_reader_free(r);
  s->base.close(&s->base);

  /* Writer: a failed append returns the error and leaves the offsets. */
  st_log_writer *w = st_log_writer_new(mem_wfile_new(&mf), mf.data.size);
  uint64_t size = st_log_writer_size(w);
  mf.fail_append = 1;
  assert_int_equal(st_log_add_record(w, st_slice_make("abc", 3)), STRATA_EIO);
  assert_int_equal(st_log_writer_size(w), size);
  mf.fail_append = 0;
  mf.fail_flush = 1;
  assert_int_equal(st_log_add_record(w, st_slice_make("abc", 3)), STRATA_EIO);
  assert_int_equal(st_log_writer_size(w), size + HDR + 3);
  mf.fail_flush = 0;
  assert_int_equal(st_log_writer_close(w), 0);
  assert_int_equal(st_log_writer_close(NULL), 0);
  st_buf_free(&mf.data);
}

/* Random damage: the reader never crashes and never yields a record that
 * was not written, and yields survivors in order. */
static void test_fuzz(void **state) {
  (void)state;
  const char *scale = getenv("STRATA_TEST_SCALE");
  int rounds = scale && strcmp(scale, "asan") == 0 ? 150 : 400;
  st_random rnd;
  st_random_init(&rnd, 301);
  int reported = 0, survived = 0; /* the damage must actually be exercised */
  for (int round = 0; round < rounds; round++) {
    int n = 1 + (int)st_random_uniform(&rnd, 40);
    size_t sizes[40];
    for (int i = 0; i < n; i++) {
      uint32_t kind = st_random_uniform(&rnd, 10);
      sizes[i] = kind < 6   ? st_random_uniform(&rnd, 200)
                 : kind < 9 ? st_random_uniform(&rnd, 20000)
                            : st_random_uniform(&rnd, 3 * BLOCK);
    }
    memfile mf = {0};
    uint32_t base = (uint32_t)round * 100;
    write_records(&mf, 0, sizes, n, base);
    size_t size = mf.data.size;
    int flips = (int)st_random_uniform(&rnd, 6), zeroed = 0;
    for (int k = 0; k < flips && size; k++)
      mf.data.data[st_random_uniform(&rnd, (uint32_t)size)] ^=
          (char)(1 + st_random_uniform(&rnd, 255));
    if (st_random_one_in(&rnd, 3) && size) size = st_random_uniform(&rnd, (uint32_t)size);
    if (st_random_one_in(&rnd, 4) && size > 10) {
      size_t at = st_random_uniform(&rnd, (uint32_t)size - 10);
      size_t len = 1 + st_random_uniform(&rnd, (uint32_t)(size - at - 1));
      memset(mf.data.data + at, 0, len);
      zeroed = 1;
    }

    reports rep = {0};
    st_seqfile *f = mem_seqfile_new(mf.data.data, size, (int)(round & 1));
    st_log_reader *r = st_log_reader_new(f, 1, on_corruption, &rep);
    st_slice rec;
    int next = 0, rc;
    while ((rc = st_log_read_record(r, &rec)) == 1) {
      assert_true(st_log_last_record_offset(r) < size);
      assert_true(st_log_end_offset(r) <= size);
      /* Must equal some later written record. */
      int found = -1;
      for (int j = next; j < n && found < 0; j++) {
        if (rec.size != sizes[j]) continue;
        char *want = make_record(base + (uint32_t)j, sizes[j]);
        if (rec.size == 0 || memcmp(rec.data, want, rec.size) == 0) found = j;
        free(want);
      }
      assert_true(found >= 0);
      next = found + 1;
    }
    assert_int_equal(rc, 0);
    if (flips == 0 && !zeroed && size == mf.data.size) assert_int_equal(next, n);
    reported += rep.n > 0;
    if (rep.n > 0 && next > 0) survived++;
    st_log_reader_free(r);
    f->close(f);
    st_buf_free(&mf.data);
  }
  assert_true(reported > rounds / 10);
  assert_true(survived > 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_exact_bytes),    cmocka_unit_test(test_fragment_layout),
      cmocka_unit_test(test_round_trip),     cmocka_unit_test(test_initial_offset),
      cmocka_unit_test(test_zero_padding),   cmocka_unit_test(test_flipped_byte),
      cmocka_unit_test(test_damaged_middle), cmocka_unit_test(test_bad_length),
      cmocka_unit_test(test_fragment_order), cmocka_unit_test(test_truncated_tail),
      cmocka_unit_test(test_zero_torn_tail), cmocka_unit_test(test_damaged_length_at_end),
      cmocka_unit_test(test_io_errors),      cmocka_unit_test(test_fuzz),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
