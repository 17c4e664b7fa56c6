/* table_test.c - table builder and reader over in-memory files: round trips
 * with every compression, point lookups, approximate offsets, the block
 * cache, the zstd level, damaged or unreadable files, and the checking scan
 * (st_table_scan). Filters: filter_block_test.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "table/block.h"
#include "table/block_builder.h"
#include "table/filter_policy.h"
#include "table/format.h"
#include "table/table.h"
#include "table/table_builder.h"
#include "util/cache.h"
#include "util/crc32c.h"
#include "util/error.h"
#include "util/internal_key.h"
#include "util/random.h"

static const st_comparator *UCMP = &st_bytewise_comparator;

/* ---- in-memory files --------------------------------------------------- */

typedef struct mem_wfile {
  st_wfile base;
  st_buf *buf;
  int fail_at; /* append number that fails (and every later one); -1 never */
  int appends;
} mem_wfile;

static int mw_append(st_wfile *f, const char *data, size_t n) {
  mem_wfile *w = (mem_wfile *)f;
  if (w->fail_at >= 0 && w->appends >= w->fail_at)
    return st_err(STRATA_EIO, "append mem.ldb: injected failure");
  w->appends++;
  return st_buf_append(w->buf, data, n);
}
static int mw_flush(st_wfile *f) {
  (void)f;
  return 0;
}
static int mw_close(st_wfile *f) {
  free(f);
  return 0;
}

static st_wfile *mem_wfile_new(st_buf *buf, int fail_at) {
  mem_wfile *w = calloc(1, sizeof *w);
  assert_non_null(w);
  w->base.append = mw_append;
  w->base.flush = mw_flush;
  w->base.sync = mw_flush;
  w->base.close = mw_close;
  w->buf = buf;
  w->fail_at = fail_at;
  return &w->base;
}

enum { READ_COPY = 0, READ_MAP = 1 };

typedef struct mem_rafile {
  st_rafile base;
  const char *data; /* borrowed; outlives the file */
  size_t size;
  int mode;   /* READ_COPY: into scratch; READ_MAP: pointer into data */
  int *fail;  /* when *fail != 0 reads fail with EIO; may be NULL */
  int *reads; /* counts reads when non-NULL */
} mem_rafile;

static int mr_read(const st_rafile *f, uint64_t off, size_t n, char *scratch, st_slice *out) {
  const mem_rafile *r = (const mem_rafile *)f;
  if (r->fail && *r->fail) return st_err(STRATA_EIO, "read mem.ldb: injected failure");
  if (r->reads) (*r->reads)++;
  if (off >= r->size) {
    *out = st_slice_make(scratch, 0);
    return 0;
  }
  if (n > r->size - off) n = r->size - (size_t)off;
  if (r->mode == READ_MAP) {
    *out = st_slice_make(r->data + off, n);
  } else {
    memcpy(scratch, r->data + off, n);
    *out = st_slice_make(scratch, n);
  }
  return 0;
}
static void mr_close(st_rafile *f) { free(f); }

static st_rafile *mem_rafile_new(const char *data, size_t size, int mode, int *fail, int *reads) {
  mem_rafile *r = calloc(1, sizeof *r);
  assert_non_null(r);
  r->base.read = mr_read;
  r->base.close = mr_close;
  r->data = data;
  r->size = size;
  r->mode = mode;
  r->fail = fail;
  r->reads = reads;
  return &r->base;
}

/* ---- reference entries ------------------------------------------------- */

typedef struct entry {
  char *key;
  size_t klen;
  char *val;
  size_t vlen;
} entry;

static int entry_cmp(const void *a, const void *b) {
  const entry *x = a, *y = b;
  return st_icmp(UCMP, st_slice_make(x->key, x->klen), st_slice_make(y->key, y->klen));
}

static char *make_ikey(const char *user, size_t ulen, uint64_t seq, int type, size_t *klen) {
  char *k = malloc(ulen + 8);
  assert_non_null(k);
  if (ulen) memcpy(k, user, ulen);
  st_put_fixed64(k + ulen, st_pack_tag(seq, type));
  *klen = ulen + 8;
  return k;
}

static void fill_value(entry *x, size_t vlen, int random_bytes, st_random *r) {
  x->vlen = vlen;
  x->val = malloc(vlen + 1);
  assert_non_null(x->val);
  for (size_t j = 0; j < vlen; j++)
    x->val[j] = random_bytes ? (char)st_random_uniform(r, 256) : (char)('a' + (j / 7) % 26);
}

/* Sorts, drops exact duplicates, returns the new count. */
static int sort_entries(entry *e, int n) {
  qsort(e, (size_t)n, sizeof *e, entry_cmp);
  int m = 0;
  for (int i = 0; i < n; i++) {
    if (m > 0 && entry_cmp(&e[m - 1], &e[i]) == 0) {
      free(e[i].key);
      free(e[i].val);
      continue;
    }
    e[m++] = e[i];
  }
  return m;
}

/* nuser user keys (an empty one, NUL bytes, shared prefixes), 1-3
 * versions each, values of up to max_val bytes. */
static entry *make_entries(st_random *r, int nuser, size_t max_val, int random_vals, int *count) {
  entry *e = calloc((size_t)nuser * 3 + 1, sizeof *e);
  assert_non_null(e);
  int n = 0;
  char user[64];
  for (int i = 0; i < nuser; i++) {
    size_t ulen = 0;
    if (i > 0) {
      ulen = (size_t)snprintf(user, sizeof user, "user%07d", (int)st_random_uniform(r, 1000000));
      size_t extra = st_random_uniform(r, 6);
      for (size_t j = 0; j < extra; j++)
        user[ulen++] = (char)st_random_uniform(r, 3);
    }
    int versions = 1 + (int)st_random_uniform(r, 3);
    for (int v = 0; v < versions; v++) {
      entry *x = &e[n++];
      x->key = make_ikey(user, ulen, st_random_uniform(r, 1u << 30), (int)st_random_uniform(r, 2),
                         &x->klen);
      fill_value(x, max_val ? st_random_uniform(r, (uint32_t)max_val + 1) : 0, random_vals, r);
    }
  }
  *count = sort_entries(e, n);
  return e;
}

static void free_entries(entry *e, int n) {
  for (int i = 0; i < n; i++) {
    free(e[i].key);
    free(e[i].val);
  }
  free(e);
}

static int lower_bound(const entry *e, int n, st_slice target) {
  int lo = 0, hi = n;
  while (lo < hi) {
    int mid = (lo + hi) / 2;
    if (st_icmp(UCMP, st_slice_make(e[mid].key, e[mid].klen), target) < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}

/* ---- helpers ----------------------------------------------------------- */

static st_table_options topts(int compression, size_t block_size) {
  st_table_options o;
  memset(&o, 0, sizeof o);
  o.ucmp = UCMP;
  o.block_size = block_size;
  o.restart_interval = 16;
  o.compression = compression;
  return o;
}

/* Builds a table of e[0..n) and returns it as an exact-size heap buffer. */
static st_buf build_table(const entry *e, int n, const st_table_options *o) {
  st_buf out = ST_BUF_INIT;
  st_wfile *w = mem_wfile_new(&out, -1);
  st_table_builder *b = st_table_builder_new(o, w);
  assert_non_null(b);
  for (int i = 0; i < n; i++)
    assert_int_equal(st_table_builder_add(b, st_slice_make(e[i].key, e[i].klen),
                                          st_slice_make(e[i].val, e[i].vlen)),
                     0);
  assert_int_equal(st_table_builder_finish(b), 0);
  assert_int_equal(st_table_builder_num_entries(b), (uint64_t)n);
  assert_int_equal(st_table_builder_file_size(b), out.size);
  st_table_builder_free(b);
  assert_int_equal(w->close(w), 0);
  /* Shrink to the exact size so that ASan flags any read past the end. */
  size_t size = out.size;
  char *exact = malloc(size ? size : 1);
  memcpy(exact, out.data, size);
  st_buf_free(&out);
  out.data = exact;
  out.size = out.cap = size;
  return out;
}

static st_table *open_table(const st_buf *file, int mode, const st_table_options *o) {
  st_table *t = NULL;
  st_rafile *f = mem_rafile_new(file->data, file->size, mode, NULL, NULL);
  int rc = st_table_open(o, f, file->size, "/db/000005.ldb", &t);
  if (rc) fail_msg("open: %s", strata_errmsg());
  return t;
}

typedef struct got {
  int calls;
  st_buf key, val;
} got;

static int collect(void *arg, st_slice k, st_slice v) {
  got *g = arg;
  g->calls++;
  st_buf_set(&g->key, k.data, k.size);
  st_buf_set(&g->val, v.data, v.size);
  return 0;
}

static void expect_at(st_iter *it, const entry *e) {
  assert_true(st_iter_valid(it));
  st_slice k = st_iter_key(it), v = st_iter_value(it);
  assert_int_equal(k.size, e->klen);
  assert_memory_equal(k.data, e->key, e->klen);
  assert_int_equal(v.size, e->vlen);
  if (v.size) assert_memory_equal(v.data, e->val, e->vlen);
}

static const st_read_opts RO_VERIFY = {1, 1};
static const st_read_opts RO_PLAIN = {0, 0};

/* Point lookup of target checked against the reference. */
static void check_get(st_table *t, const st_read_opts *ro, const entry *e, int n, st_slice target) {
  got g = {0, ST_BUF_INIT, ST_BUF_INIT};
  assert_int_equal(st_table_get(t, ro, target, &g, collect), 0);
  int want = lower_bound(e, n, target);
  if (want == n) {
    assert_int_equal(g.calls, 0);
  } else {
    assert_int_equal(g.calls, 1);
    assert_int_equal(g.key.size, e[want].klen);
    assert_memory_equal(g.key.data, e[want].key, e[want].klen);
    assert_int_equal(g.val.size, e[want].vlen);
    if (e[want].vlen) assert_memory_equal(g.val.data, e[want].val, e[want].vlen);
  }
  st_buf_free(&g.key);
  st_buf_free(&g.val);
}

/* Everything a reader can do, compared with the reference: full scans both
 * ways, then `probes` random keys sought, stepped around and looked up. */
static void verify_table_probes(st_table *t, const st_read_opts *ro, const entry *e, int n,
                                st_random *r, int probes) {
  st_iter *it = st_table_iter(t, ro);
  assert_non_null(it);
  st_iter_seek_to_first(it);
  for (int i = 0; i < n; i++) {
    expect_at(it, &e[i]);
    st_iter_next(it);
  }
  assert_false(st_iter_valid(it));
  st_iter_seek_to_last(it);
  for (int i = n - 1; i >= 0; i--) {
    expect_at(it, &e[i]);
    st_iter_prev(it);
  }
  assert_false(st_iter_valid(it));

  for (int j = 0; j < probes && n > 0; j++) {
    int i = (int)st_random_uniform(r, (uint32_t)n);
    st_slice k = st_slice_make(e[i].key, e[i].klen);
    st_iter_seek(it, k);
    expect_at(it, &e[i]);
    if (i > 0) {
      st_iter_prev(it);
      expect_at(it, &e[i - 1]);
      st_iter_next(it);
      expect_at(it, &e[i]);
    }
    check_get(t, ro, e, n, k);
    /* Targets between keys: same user key, neighbouring sequences, and a
     * user key one byte longer (falls in gaps at block boundaries). */
    st_slice u = st_ikey_user(k);
    uint64_t seq = st_ikey_tag(k) >> 8;
    char *ubuf = malloc(u.size + 1);
    memcpy(ubuf, u.data, u.size);
    ubuf[u.size] = '\0';
    struct {
      size_t ulen;
      uint64_t seq;
    } tg[4] = {{u.size, seq + 1},
               {u.size, seq ? seq - 1 : 0},
               {u.size + 1, ST_MAX_SEQUENCE},
               {u.size, ST_MAX_SEQUENCE}};
    for (int s = 0; s < 4; s++) {
      size_t tl;
      char *tk = make_ikey(ubuf, tg[s].ulen, tg[s].seq, ST_TYPE_FOR_SEEK, &tl);
      st_slice target = st_slice_make(tk, tl);
      int want = lower_bound(e, n, target);
      st_iter_seek(it, target);
      if (want == n)
        assert_false(st_iter_valid(it));
      else
        expect_at(it, &e[want]);
      check_get(t, ro, e, n, target);
      free(tk);
    }
    free(ubuf);
  }
  size_t tl;
  char *tk = make_ikey("\xff\xff", 2, 0, 0, &tl);
  st_iter_seek(it, st_slice_make(tk, tl));
  assert_false(st_iter_valid(it));
  check_get(t, ro, e, n, st_slice_make(tk, tl));
  free(tk);
  assert_int_equal(st_iter_status(it), 0);
  st_iter_destroy(it);
}

static void verify_table(st_table *t, const st_read_opts *ro, const entry *e, int n, st_random *r) {
  verify_table_probes(t, ro, e, n, r, n);
}

/* Walks the index of a table file and returns the type byte of each data
 * block's trailer (up to max). */
static int data_block_types(const st_buf *file, int *types, int max) {
  st_footer f;
  assert_int_equal(st_footer_decode(file->data + file->size - ST_FOOTER_SIZE, "x", &f), 0);
  st_rafile *rf = mem_rafile_new(file->data, file->size, READ_COPY, NULL, NULL);
  st_block_contents c;
  assert_int_equal(st_read_block(rf, "x", file->size, &f.index, 1, &c), 0);
  st_block blk;
  st_block_init(&blk, &c, "x", f.index.offset);
  st_block_iter it;
  st_block_iter_init(&it, &blk, UCMP);
  int n = 0;
  for (st_iter_seek_to_first(&it.base); st_iter_valid(&it.base); st_iter_next(&it.base)) {
    st_slice v = st_iter_value(&it.base);
    st_block_handle h;
    assert_non_null(st_block_handle_decode(v.data, v.data + v.size, &h));
    if (n < max) types[n] = (unsigned char)file->data[h.offset + h.size];
    n++;
  }
  assert_int_equal(st_iter_status(&it.base), 0);
  st_block_iter_fini(&it);
  st_block_release(&blk);
  rf->close(rf);
  return n;
}

/* ---- tests ------------------------------------------------------------- */

static void test_format_coding(void **state) {
  (void)state;
  st_block_handle hs[] = {{0, 0}, {1, 127}, {128, 16384}, {UINT64_MAX, UINT64_MAX - 1}};
  for (size_t i = 0; i < 4; i++) {
    char buf[ST_MAX_BLOCK_HANDLE_SIZE];
    char *end = st_block_handle_encode(&hs[i], buf);
    st_block_handle d;
    assert_ptr_equal(st_block_handle_decode(buf, end, &d), end);
    assert_true(d.offset == hs[i].offset && d.size == hs[i].size);
    assert_null(st_block_handle_decode(buf, end - 1, &d)); /* truncated */
  }
  st_footer f = {{123456789, 4000}, {987654321012ull, 65536}}, g;
  char fb[ST_FOOTER_SIZE];
  st_footer_encode(&f, fb);
  assert_int_equal(st_get_fixed64(fb + 40), ST_TABLE_MAGIC);
  assert_int_equal(st_footer_decode(fb, "p", &g), 0);
  assert_true(g.metaindex.offset == f.metaindex.offset && g.index.size == f.index.size);
  fb[47] ^= 1;
  assert_int_equal(st_footer_decode(fb, "/x/1.ldb", &g), STRATA_ECORRUPTION);
  assert_string_equal(strata_errmsg(), "Corruption: /x/1.ldb: not an sstable (bad magic number)");
}

static void test_empty_table(void **state) {
  (void)state;
  st_table_options o = topts(STRATA_COMPRESSION_SNAPPY, 4096);
  st_buf file = build_table(NULL, 0, &o);
  st_table *t = open_table(&file, READ_COPY, &o);
  st_random r;
  st_random_init(&r, 1);
  verify_table(t, &RO_VERIFY, NULL, 0, &r);
  size_t tl;
  char *k = make_ikey("a", 1, 1, 1, &tl);
  assert_int_equal(st_table_approximate_offset(t, st_slice_make(k, tl)), 0);
  check_get(t, &RO_PLAIN, NULL, 0, st_slice_make(k, tl));
  free(k);
  st_block_handle h;
  assert_int_equal(st_table_find_meta(t, "filter.leveldb.BuiltinBloomFilter2", &h),
                   STRATA_ENOTFOUND);
  st_table_close(t);
  st_buf_free(&file);
}

static void test_roundtrip_all_compressions(void **state) {
  (void)state;
  st_random r;
  st_random_init(&r, 42);
  int n;
  entry *e = make_entries(&r, 1500, 200, 0, &n);
  int comps[] = {STRATA_COMPRESSION_NONE, STRATA_COMPRESSION_SNAPPY, STRATA_COMPRESSION_ZSTD};
  size_t sizes[] = {1, 256, 4096, 1 << 20};
  for (int c = 0; c < 3; c++) {
    for (int s = 0; s < 4; s++) {
      st_table_options o = topts(comps[c], sizes[s]);
      o.restart_interval = s == 1 ? 1 : 16;
      st_buf file = build_table(e, n, &o);
      int types[1];
      int nblocks = data_block_types(&file, types, 1);
      if (s == 0) assert_int_equal(nblocks, n); /* block_size 1: a block per entry */
      if (s == 3) assert_int_equal(nblocks, 1);
      if (s >= 2) assert_int_equal(types[0], comps[c]); /* repetitive values compress */
      for (int mode = 0; mode < 2; mode++) {
        st_table *t = open_table(&file, mode, &o);
        /* Lookups in one huge block each decode all of it: fewer probes. */
        verify_table_probes(t, mode ? &RO_VERIFY : &RO_PLAIN, e, n, &r, s == 3 ? 40 : n);
        st_table_close(t);
      }
      st_buf_free(&file);
    }
  }
  free_entries(e, n);
}

static void test_large_values_and_odd_keys(void **state) {
  (void)state;
  st_random r;
  st_random_init(&r, 5);
  int n = 0;
  entry *e = calloc(64, sizeof *e);
  const char *users[] = {"", "\0", "\0\0", "a\0b", "a\0c", "zz\xff"};
  size_t ulens[] = {0, 1, 2, 3, 3, 3};
  for (int u = 0; u < 6; u++) {
    for (int v = 0; v < 3; v++) {
      entry *x = &e[n++];
      x->key = make_ikey(users[u], ulens[u], (uint64_t)(100 - v), v == 1 ? 0 : 1, &x->klen);
      size_t vlen = (u + v) % 4 == 0 ? (1u << 20) : (size_t)(u * 1000 + v);
      fill_value(x, vlen, u % 2, &r);
    }
  }
  n = sort_entries(e, n);
  for (int c = 0; c < 3; c++) {
    st_table_options o = topts(c, 4096);
    st_buf file = build_table(e, n, &o);
    st_table *t = open_table(&file, READ_COPY, &o);
    verify_table(t, &RO_VERIFY, e, n, &r);
    st_table_close(t);
    st_buf_free(&file);
  }
  free_entries(e, n);
}

static void test_versions_across_blocks(void **state) {
  (void)state;
  /* One user key with 300 versions spread over many small blocks; a
   * lookup at every snapshot finds the newest version it may see. */
  int n = 300;
  entry *e = calloc((size_t)n, sizeof *e);
  st_random r;
  st_random_init(&r, 9);
  for (int i = 0; i < n; i++) {
    e[i].key = make_ikey("key", 3, (uint64_t)(10 * (n - i)), ST_TYPE_VALUE, &e[i].klen);
    fill_value(&e[i], 20, 0, &r);
    e[i].val[0] = (char)i;
  }
  st_table_options o = topts(STRATA_COMPRESSION_NONE, 128);
  st_buf file = build_table(e, n, &o);
  int types[1];
  assert_true(data_block_types(&file, types, 1) > 10);
  st_table *t = open_table(&file, READ_MAP, &o);
  for (uint64_t snap = 0; snap <= (uint64_t)10 * n + 5; snap += 3) {
    size_t tl;
    char *k = make_ikey("key", 3, snap, ST_TYPE_FOR_SEEK, &tl);
    check_get(t, &RO_VERIFY, e, n, st_slice_make(k, tl));
    free(k);
  }
  verify_table(t, &RO_PLAIN, e, n, &r);
  st_table_close(t);
  st_buf_free(&file);
  free_entries(e, n);
}

static void test_short_separators(void **state) {
  (void)state;
  /* Long keys that differ early: with a block per entry, the index keys
   * must be shortened, yet lookups in the gaps still find the next key. */
  int n = 50;
  entry *e = calloc((size_t)n, sizeof *e);
  st_random r;
  st_random_init(&r, 3);
  char user[200];
  for (int i = 0; i < n; i++) {
    memset(user, 'q', sizeof user);
    user[0] = (char)('!' + 2 * i); /* room for a one-byte separator */
    e[i].key = make_ikey(user, sizeof user, 7, ST_TYPE_VALUE, &e[i].klen);
    fill_value(&e[i], 10, 0, &r);
  }
  st_table_options o = topts(STRATA_COMPRESSION_NONE, 1);
  st_buf file = build_table(e, n, &o);
  /* 50 blocks of ~230 bytes, but the index holds short keys: the whole
   * file is far smaller than it would be with full keys in the index. */
  assert_true(file.size < (size_t)n * (sizeof user + 40) + 50 * 25 + 200);
  st_table *t = open_table(&file, READ_COPY, &o);
  verify_table(t, &RO_VERIFY, e, n, &r);
  for (int i = 0; i < n; i++) {
    /* "X" + "r": above key i (all 'q's after the first byte), below both
     * the separator "X"+1 and key i+1. */
    char tu[2] = {(char)('!' + 2 * i), 'r'};
    size_t tl;
    char *k = make_ikey(tu, 2, 0, 0, &tl);
    check_get(t, &RO_VERIFY, e, n, st_slice_make(k, tl));
    free(k);
  }
  st_table_close(t);
  st_buf_free(&file);
  free_entries(e, n);
}

/* One block of entries whose values are `random_len` random bytes then
 * `zero_len` zeros: the knob moves the compression ratio. */
static entry *ratio_entries(int n, size_t random_len, size_t zero_len) {
  st_random r;
  st_random_init(&r, 77);
  entry *e = calloc((size_t)n, sizeof *e);
  for (int i = 0; i < n; i++) {
    char u[16];
    int ul = snprintf(u, sizeof u, "k%05d", i);
    e[i].key = make_ikey(u, (size_t)ul, 1, 1, &e[i].klen);
    fill_value(&e[i], random_len + zero_len, 1, &r);
    memset(e[i].val + random_len, 0, zero_len);
  }
  return e;
}

static size_t block_raw_and_compressed(const entry *e, int n, int comp, size_t *compressed) {
  st_block_builder bb;
  st_block_builder_init(&bb, 16);
  for (int i = 0; i < n; i++)
    st_block_builder_add(&bb, st_slice_make(e[i].key, e[i].klen),
                         st_slice_make(e[i].val, e[i].vlen));
  st_slice raw;
  st_block_builder_finish(&bb, &raw);
  st_buf out = ST_BUF_INIT;
  assert_int_equal(st_compress_block(comp, 0, raw, &out), 0);
  *compressed = out.size;
  size_t rs = raw.size;
  st_buf_free(&out);
  st_block_builder_free(&bb);
  return rs;
}

static void test_compression_ratio_rule(void **state) {
  (void)state;
  for (int comp = 1; comp <= 2; comp++) {
    /* Uncompressible: random values are stored raw. */
    st_random r;
    st_random_init(&r, 13);
    int n;
    entry *e = make_entries(&r, 300, 300, 1, &n);
    st_table_options o = topts(comp, 4096);
    st_buf file = build_table(e, n, &o);
    int types[64];
    int nb = data_block_types(&file, types, 64);
    assert_true(nb > 5);
    for (int i = 0; i < nb && i < 64; i++)
      assert_int_equal(types[i], ST_BLOCK_NONE);
    st_table *t = open_table(&file, READ_MAP, &o);
    verify_table(t, &RO_VERIFY, e, n, &r);
    st_table_close(t);
    st_buf_free(&file);
    free_entries(e, n);

    /* Find zero padding that saves a little (under 12.5%) and padding that
     * saves more; the first is stored raw, the second compressed. */
    int below = -1, above = -1;
    for (size_t z = 0; z <= 400 && (below < 0 || above < 0); z += 4) {
      entry *x = ratio_entries(8, 400, z);
      size_t c, raw = block_raw_and_compressed(x, 8, comp, &c);
      if (c < raw && c >= raw - raw / 8 && below < 0) below = (int)z;
      if (c < raw - raw / 8 && above < 0) above = (int)z;
      free_entries(x, 8);
    }
    assert_true(below >= 0 && above > below);
    int zs[2] = {below, above}, want[2] = {ST_BLOCK_NONE, comp};
    for (int k = 0; k < 2; k++) {
      entry *x = ratio_entries(8, 400, (size_t)zs[k]);
      o = topts(comp, 1 << 20); /* one data block */
      file = build_table(x, 8, &o);
      assert_int_equal(data_block_types(&file, types, 1), 1);
      assert_int_equal(types[0], want[k]);
      t = open_table(&file, READ_COPY, &o);
      verify_table(t, &RO_VERIFY, x, 8, &r);
      st_table_close(t);
      st_buf_free(&file);
      free_entries(x, 8);
    }
  }
}

/* st_table_builder_add_stored: a table rebuilt from another's iterator,
 * copying every block whose only entry is large (as a compaction does),
 * holds the same entries, answers gets through its filter, and contains
 * each copied block byte for byte. Mixed with ordinary adds before and
 * after, so cut-short blocks and index separators around copies are
 * exercised; with and without compression, read by copy and in place. */
static void test_add_stored_blocks(void **state) {
  (void)state;
  st_random r;
  st_random_init(&r, 23);
  int n;
  entry *e = make_entries(&r, 400, 60, 0, &n);
  /* Two of every three values large: a large value after a large one has
   * a block to itself. Half of them random, so they stay large even
   * compressed. */
  for (int i = 0; i < n; i++) {
    if (i % 3 == 2) continue;
    free(e[i].val);
    fill_value(&e[i], 1500 + st_random_uniform(&r, 3000), i % 2, &r);
  }
  strata_filter_policy *bloom = NULL;
  assert_int_equal(strata_filter_policy_create_bloom(10, &bloom), 0);
  for (int comp = 0; comp < 2; comp++) {
    for (int mode = READ_COPY; mode <= READ_MAP; mode++) {
      st_table_options o = topts(comp, 1024);
      o.filter_policy = bloom;
      st_buf src = build_table(e, n, &o);
      st_table *a = open_table(&src, mode, &o);
      st_buf dst = ST_BUF_INIT;
      st_wfile *w = mem_wfile_new(&dst, -1);
      st_table_builder *b = st_table_builder_new(&o, w);
      st_buf copies[600];
      int ncopies = 0;
      st_iter *it = st_table_iter(a, &RO_VERIFY);
      for (st_iter_seek_to_first(it); st_iter_valid(it); st_iter_next(it)) {
        st_stored_entry se;
        assert_int_equal(st_iter_stored(it, &se), 1);
        if (se.lone && se.stored.size >= ST_BLOCK_TRAILER_SIZE + o.block_size) {
          assert_true(ncopies < 600);
          copies[ncopies] = (st_buf)ST_BUF_INIT;
          assert_int_equal(st_buf_set(&copies[ncopies++], se.stored.data, se.stored.size), 0);
          assert_int_equal(st_table_builder_add_stored(b, st_iter_key(it), se.stored), 0);
        } else {
          assert_int_equal(st_table_builder_add(b, st_iter_key(it), st_iter_value(it)), 0);
        }
      }
      assert_int_equal(st_iter_status(it), 0);
      st_iter_destroy(it);
      assert_int_equal(st_table_builder_finish(b), 0);
      assert_int_equal(st_table_builder_num_entries(b), (uint64_t)n);
      st_table_builder_free(b);
      assert_int_equal(w->close(w), 0);
      /* Many of the large values sit alone in a block of their own. */
      assert_true(ncopies > n / 8);

      /* verify_table's probes of absent keys expect the next entry, which
       * a filter rightly hides: all of it without the filter, then every
       * key's get through the filter. */
      st_table_options nof = o;
      nof.filter_policy = NULL;
      st_table *t = open_table(&dst, mode, &nof);
      verify_table(t, &RO_VERIFY, e, n, &r);
      st_table_close(t);
      t = open_table(&dst, mode, &o);
      for (int i = 0; i < n; i++)
        check_get(t, &RO_VERIFY, e, n, st_slice_make(e[i].key, e[i].klen));
      st_table_close(t);
      for (int i = 0; i < ncopies; i++) {
        assert_non_null(memmem(dst.data, dst.size, copies[i].data, copies[i].size));
        st_buf_free(&copies[i]);
      }
      st_table_close(a);
      st_buf_free(&src);
      st_buf_free(&dst);
    }
  }
  strata_filter_policy_destroy(bloom);
  free_entries(e, n);
}

/* st_table_middle_key: the index key halfway through the data blocks lies
 * between the keys of the first and second halves of the entries; a table
 * of one block has none. */
static void test_middle_key(void **state) {
  (void)state;
  st_random r;
  st_random_init(&r, 22);
  int n;
  entry *e = make_entries(&r, 2000, 100, 1, &n);
  st_table_options o = topts(STRATA_COMPRESSION_NONE, 1024);
  st_buf file = build_table(e, n, &o);
  st_table *t = open_table(&file, READ_COPY, &o);
  st_buf mid = ST_BUF_INIT;
  assert_int_equal(st_table_middle_key(t, &mid), 0);
  /* Entries at or below it, then above it: the split is near the middle. */
  int below = 0;
  for (int i = 0; i < n; i++) {
    int c = st_icmp(UCMP, st_slice_make(e[i].key, e[i].klen), st_buf_slice(&mid));
    if (c <= 0) {
      assert_int_equal(below, i); /* every smaller entry comes first */
      below++;
    }
  }
  assert_true(below > n * 2 / 5 && below < n * 3 / 5);
  st_table_close(t);
  st_buf_free(&file);

  /* One block: no middle. */
  o = topts(STRATA_COMPRESSION_NONE, 1 << 20);
  file = build_table(e, 10, &o);
  t = open_table(&file, READ_COPY, &o);
  assert_int_equal(st_table_middle_key(t, &mid), STRATA_ENOTFOUND);
  st_table_close(t);
  st_buf_free(&file);
  st_buf_free(&mid);
  free_entries(e, n);
}

static void test_approximate_offsets(void **state) {
  (void)state;
  st_random r;
  st_random_init(&r, 21);
  int n;
  entry *e = make_entries(&r, 2000, 100, 1, &n);
  st_table_options o = topts(STRATA_COMPRESSION_NONE, 1024);
  st_buf file = build_table(e, n, &o);
  st_table *t = open_table(&file, READ_COPY, &o);
  uint64_t prev = 0;
  for (int i = 0; i < n; i++) {
    uint64_t off = st_table_approximate_offset(t, st_slice_make(e[i].key, e[i].klen));
    assert_true(off >= prev);
    assert_true(off < file.size);
    prev = off;
  }
  assert_int_equal(st_table_approximate_offset(t, st_slice_make(e[0].key, e[0].klen)), 0);
  /* The middle key sits roughly in the middle of the data. */
  uint64_t mid = st_table_approximate_offset(t, st_slice_make(e[n / 2].key, e[n / 2].klen));
  assert_true(mid > file.size / 3 && mid < file.size * 2 / 3);
  /* Past the last key: the end of the data (the metaindex offset). */
  size_t tl;
  char *k = make_ikey("\xff", 1, 0, 0, &tl);
  uint64_t end = st_table_approximate_offset(t, st_slice_make(k, tl));
  free(k);
  st_footer f;
  st_footer_decode(file.data + file.size - ST_FOOTER_SIZE, "x", &f);
  assert_int_equal(end, f.metaindex.offset);
  assert_true(end >= prev && end > file.size * 9 / 10);
  st_table_close(t);
  st_buf_free(&file);
  free_entries(e, n);
}

/* Offset of the first data block's contents (0) and its size. */
static st_block_handle nth_data_block(const st_buf *file, int nth) {
  st_footer f;
  st_footer_decode(file->data + file->size - ST_FOOTER_SIZE, "x", &f);
  st_rafile *rf = mem_rafile_new(file->data, file->size, READ_COPY, NULL, NULL);
  st_block_contents c;
  assert_int_equal(st_read_block(rf, "x", file->size, &f.index, 1, &c), 0);
  st_block blk;
  st_block_init(&blk, &c, "x", 0);
  st_block_iter it;
  st_block_iter_init(&it, &blk, UCMP);
  st_iter_seek_to_first(&it.base);
  for (int i = 0; i < nth; i++)
    st_iter_next(&it.base);
  assert_true(st_iter_valid(&it.base));
  st_block_handle h;
  st_slice v = st_iter_value(&it.base);
  st_block_handle_decode(v.data, v.data + v.size, &h);
  st_block_iter_fini(&it);
  st_block_release(&blk);
  rf->close(rf);
  return h;
}

static void test_checksum_corruption(void **state) {
  (void)state;
  st_random r;
  st_random_init(&r, 31);
  int n;
  entry *e = make_entries(&r, 600, 50, 0, &n);
  for (int comp = 0; comp < 3; comp++) {
    st_table_options o = topts(comp, 1024);
    st_buf file = build_table(e, n, &o);
    st_block_handle h = nth_data_block(&file, 1);
    file.data[h.offset + h.size / 2] ^= 0x40;
    st_table *t = open_table(&file, READ_COPY, &o);

    /* Verified iteration: the first block's entries, then a stop with the
     * error (the damaged block is not skipped). */
    st_iter *it = st_table_iter(t, &RO_VERIFY);
    int seen = 0;
    for (st_iter_seek_to_first(it); st_iter_valid(it); st_iter_next(it)) {
      expect_at(it, &e[seen]);
      seen++;
    }
    assert_true(seen > 0 && seen < n);
    assert_int_equal(st_iter_status(it), STRATA_ECORRUPTION);
    char want[200];
    snprintf(want, sizeof want,
             "Corruption: /db/000005.ldb: block checksum mismatch at offset %llu (size %llu)",
             (unsigned long long)h.offset, (unsigned long long)h.size);
    assert_string_equal(strata_errmsg(), want);
    /* Sticky: a later seek does not revive it. */
    st_iter_seek_to_first(it);
    assert_false(st_iter_valid(it));
    assert_int_equal(st_iter_status(it), STRATA_ECORRUPTION);
    st_iter_destroy(it);

    /* A point lookup in that block reports it too. */
    st_slice k = st_slice_make(e[seen].key, e[seen].klen);
    got g = {0, ST_BUF_INIT, ST_BUF_INIT};
    st_err_clear();
    assert_int_equal(st_table_get(t, &RO_VERIFY, k, &g, collect), STRATA_ECORRUPTION);
    assert_string_equal(strata_errmsg(), want);
    assert_int_equal(g.calls, 0);
    /* Lookups elsewhere still work. */
    check_get(t, &RO_VERIFY, e, n, st_slice_make(e[0].key, e[0].klen));

    /* Without verification: whatever comes out, no crash, and any error is
     * a corruption naming the file. */
    it = st_table_iter(t, &RO_PLAIN);
    for (st_iter_seek_to_first(it); st_iter_valid(it); st_iter_next(it)) {
    }
    int rc = st_iter_status(it);
    assert_true(rc == 0 || rc == STRATA_ECORRUPTION);
    if (rc) assert_non_null(strstr(strata_errmsg(), "/db/000005.ldb"));
    st_iter_destroy(it);
    rc = st_table_get(t, &RO_PLAIN, k, &g, collect);
    assert_true(rc == 0 || rc == STRATA_ECORRUPTION);
    st_buf_free(&g.key);
    st_buf_free(&g.val);
    st_table_close(t);
    st_buf_free(&file);
  }
  free_entries(e, n);
}

static int open_status(const char *data, size_t size, uint64_t claimed, int mode) {
  st_table_options o = topts(0, 4096);
  st_table *t = NULL;
  st_rafile *f = mem_rafile_new(data, size, mode, NULL, NULL);
  int rc = st_table_open(&o, f, claimed, "/db/000007.ldb", &t);
  if (rc == 0)
    st_table_close(t);
  else
    assert_null(t);
  return rc;
}

static void test_bad_files(void **state) {
  (void)state;
  st_random r;
  st_random_init(&r, 17);
  int n;
  entry *e = make_entries(&r, 200, 30, 0, &n);
  st_table_options o = topts(STRATA_COMPRESSION_SNAPPY, 512);
  st_buf file = build_table(e, n, &o);
  assert_int_equal(open_status(file.data, file.size, file.size, READ_COPY), 0);

  /* Bad magic. */
  file.data[file.size - 1] ^= 0x10;
  assert_int_equal(open_status(file.data, file.size, file.size, READ_MAP), STRATA_ECORRUPTION);
  assert_string_equal(strata_errmsg(),
                      "Corruption: /db/000007.ldb: not an sstable (bad magic number)");
  file.data[file.size - 1] ^= 0x10;

  /* Shorter than a footer. */
  for (size_t sz = 0; sz < ST_FOOTER_SIZE; sz += 5) {
    assert_int_equal(open_status(file.data, sz, sz, READ_COPY), STRATA_ECORRUPTION);
    assert_string_equal(strata_errmsg(),
                        "Corruption: /db/000007.ldb: file is too short to be an sstable");
  }
  /* Truncated: whatever the cut, a corruption naming the file. */
  for (size_t sz = ST_FOOTER_SIZE; sz < file.size; sz += 97) {
    assert_int_equal(open_status(file.data, sz, sz, READ_COPY), STRATA_ECORRUPTION);
    assert_non_null(strstr(strata_errmsg(), "/db/000007.ldb"));
  }
  /* The file is shorter than the size the caller believes. */
  assert_int_equal(open_status(file.data, file.size - 10, file.size, READ_COPY),
                   STRATA_ECORRUPTION);
  assert_non_null(strstr(strata_errmsg(), "/db/000007.ldb: truncated"));

  /* Damaged index block: open fails (its checksum is always checked). */
  st_footer f;
  st_footer_decode(file.data + file.size - ST_FOOTER_SIZE, "x", &f);
  file.data[f.index.offset + 1] ^= 1;
  assert_int_equal(open_status(file.data, file.size, file.size, READ_MAP), STRATA_ECORRUPTION);
  assert_non_null(strstr(strata_errmsg(), "/db/000007.ldb: block checksum mismatch at offset"));
  file.data[f.index.offset + 1] ^= 1;

  /* Index handle pointing past the end of the file. */
  st_footer bad = f;
  bad.index.offset = file.size - 10;
  char saved[ST_FOOTER_SIZE];
  memcpy(saved, file.data + file.size - ST_FOOTER_SIZE, ST_FOOTER_SIZE);
  st_footer_encode(&bad, file.data + file.size - ST_FOOTER_SIZE);
  assert_int_equal(open_status(file.data, file.size, file.size, READ_COPY), STRATA_ECORRUPTION);
  assert_non_null(strstr(strata_errmsg(), "/db/000007.ldb: truncated block read at offset"));

  /* A damaged metaindex is tolerated unless paranoid. */
  memcpy(file.data + file.size - ST_FOOTER_SIZE, saved, ST_FOOTER_SIZE);
  file.data[f.metaindex.offset] ^= 1;
  assert_int_equal(open_status(file.data, file.size, file.size, READ_COPY), 0);
  st_table *t = NULL;
  o.paranoid_checks = 1;
  st_rafile *rf = mem_rafile_new(file.data, file.size, READ_COPY, NULL, NULL);
  assert_int_equal(st_table_open(&o, rf, file.size, "/db/000007.ldb", &t), STRATA_ECORRUPTION);
  file.data[f.metaindex.offset] ^= 1;

  /* Unknown compression type in a block trailer (CRC fixed up). */
  st_block_handle h = nth_data_block(&file, 0);
  file.data[h.offset + h.size] = 9;
  uint32_t crc = st_crc32c_mask(st_crc32c(file.data + h.offset, h.size + 1));
  st_put_fixed32(file.data + h.offset + h.size + 1, crc);
  o.paranoid_checks = 0;
  t = open_table(&file, READ_COPY, &o);
  got g = {0, ST_BUF_INIT, ST_BUF_INIT};
  assert_int_equal(st_table_get(t, &RO_VERIFY, st_slice_make(e[0].key, e[0].klen), &g, collect),
                   STRATA_ECORRUPTION);
  assert_non_null(strstr(strata_errmsg(), "/db/000005.ldb: unknown compression type 9"));
  st_table_close(t);

  st_buf_free(&file);
  free_entries(e, n);
}

static void test_read_errors(void **state) {
  (void)state;
  st_random r;
  st_random_init(&r, 19);
  int n;
  entry *e = make_entries(&r, 300, 30, 0, &n);
  st_table_options o = topts(STRATA_COMPRESSION_NONE, 512);
  st_buf file = build_table(e, n, &o);
  int fail = 1;
  st_table *t = NULL;
  st_rafile *rf = mem_rafile_new(file.data, file.size, READ_COPY, &fail, NULL);
  assert_int_equal(st_table_open(&o, rf, file.size, "/db/000009.ldb", &t), STRATA_EIO);
  assert_null(t);
  assert_non_null(strstr(strata_errmsg(), "injected"));

  /* Reads failing after open: lookups and iterators report EIO. */
  fail = 0;
  rf = mem_rafile_new(file.data, file.size, READ_COPY, &fail, NULL);
  assert_int_equal(st_table_open(&o, rf, file.size, "/db/000009.ldb", &t), 0);
  fail = 1;
  got g = {0, ST_BUF_INIT, ST_BUF_INIT};
  assert_int_equal(st_table_get(t, &RO_PLAIN, st_slice_make(e[5].key, e[5].klen), &g, collect),
                   STRATA_EIO);
  st_iter *it = st_table_iter(t, &RO_PLAIN);
  st_iter_seek_to_first(it);
  assert_false(st_iter_valid(it));
  assert_int_equal(st_iter_status(it), STRATA_EIO);
  st_iter_destroy(it);
  st_table_close(t);
  st_buf_free(&file);
  free_entries(e, n);
}

static int stop_with(void *arg, st_slice k, st_slice v) {
  (void)k;
  (void)v;
  return *(int *)arg;
}

static void test_get_returns_callback_result(void **state) {
  (void)state;
  st_random r;
  st_random_init(&r, 23);
  int n;
  entry *e = make_entries(&r, 50, 10, 0, &n);
  st_table_options o = topts(0, 4096);
  st_buf file = build_table(e, n, &o);
  st_table *t = open_table(&file, READ_MAP, &o);
  int ret = 12345;
  assert_int_equal(st_table_get(t, &RO_PLAIN, st_slice_make(e[3].key, e[3].klen), &ret, stop_with),
                   12345);
  st_table_close(t);
  st_buf_free(&file);
  free_entries(e, n);
}

static void test_builder_sticky_error(void **state) {
  (void)state;
  st_random r;
  st_random_init(&r, 29);
  int n;
  entry *e = make_entries(&r, 400, 60, 0, &n);
  st_table_options o = topts(STRATA_COMPRESSION_NONE, 256);
  st_buf out = ST_BUF_INIT;
  st_wfile *w = mem_wfile_new(&out, 3);
  st_table_builder *b = st_table_builder_new(&o, w);
  int rc = 0, i = 0;
  for (; i < n && rc == 0; i++)
    rc = st_table_builder_add(b, st_slice_make(e[i].key, e[i].klen),
                              st_slice_make(e[i].val, e[i].vlen));
  assert_int_equal(rc, STRATA_EIO);
  assert_true(i < n);
  char msg[ST_ERRMSG_MAX];
  snprintf(msg, sizeof msg, "%s", strata_errmsg());
  st_err_clear();
  /* Later calls return the same error and message. */
  assert_int_equal(st_table_builder_add(b, st_slice_make(e[i].key, e[i].klen),
                                        st_slice_make(e[i].val, e[i].vlen)),
                   STRATA_EIO);
  assert_string_equal(strata_errmsg(), msg);
  st_err_clear();
  assert_int_equal(st_table_builder_finish(b), STRATA_EIO);
  assert_string_equal(strata_errmsg(), msg);
  st_table_builder_free(b);
  w->close(w);

  /* Failure at the footer (the last append). */
  st_buf good = build_table(e, 10, &o);
  for (int fail_at = 0;; fail_at++) {
    out.size = 0;
    w = mem_wfile_new(&out, fail_at);
    b = st_table_builder_new(&o, w);
    rc = 0;
    for (i = 0; i < 10 && rc == 0; i++)
      rc = st_table_builder_add(b, st_slice_make(e[i].key, e[i].klen),
                                st_slice_make(e[i].val, e[i].vlen));
    if (rc == 0) rc = st_table_builder_finish(b);
    st_table_builder_free(b);
    w->close(w);
    if (rc == 0) {
      /* No failure injected any more: the output is the whole table. */
      assert_int_equal(out.size, good.size);
      assert_memory_equal(out.data, good.data, good.size);
      break;
    }
    assert_int_equal(rc, STRATA_EIO);
  }
  /* Abandon leaves the file as it is. */
  out.size = 0;
  w = mem_wfile_new(&out, -1);
  b = st_table_builder_new(&o, w);
  assert_int_equal(st_table_builder_add(b, st_slice_make(e[0].key, e[0].klen),
                                        st_slice_make(e[0].val, e[0].vlen)),
                   0);
  st_table_builder_abandon(b);
  st_table_builder_free(b);
  w->close(w);
  st_buf_free(&good);
  st_buf_free(&out);
  free_entries(e, n);
}

static void test_fuzz_damaged_tables(void **state) {
  (void)state;
  st_random r;
  st_random_init(&r, 37);
  int n;
  entry *e = make_entries(&r, 150, 40, 0, &n);
  strata_filter_policy *bloom = NULL;
  assert_int_equal(strata_filter_policy_create_bloom(10, &bloom), 0);
  for (int comp = 0; comp < 3; comp++) {
    st_table_options o = topts(comp, 300);
    o.restart_interval = 4;
    /* With a filter block too, for two of the three. */
    if (comp > 0) o.filter_policy = bloom;
    st_buf good = build_table(e, n, &o);
    char *bad = malloc(good.size);
    for (int round = 0; round < 400; round++) {
      memcpy(bad, good.data, good.size);
      int flips = 1 + (int)st_random_uniform(&r, 3);
      for (int f = 0; f < flips; f++)
        bad[st_random_uniform(&r, (uint32_t)good.size)] ^= (char)(1 + st_random_uniform(&r, 255));
      st_table *t = NULL;
      st_rafile *rf = mem_rafile_new(bad, good.size, round % 2, NULL, NULL);
      int rc = st_table_open(&o, rf, good.size, "/db/fuzz.ldb", &t);
      if (rc) {
        assert_int_equal(rc, STRATA_ECORRUPTION);
        assert_non_null(strstr(strata_errmsg(), "/db/fuzz.ldb"));
        continue;
      }
      const st_read_opts *ro = round % 3 ? &RO_PLAIN : &RO_VERIFY;
      st_iter *it = st_table_iter(t, ro);
      int steps = 0;
      for (st_iter_seek_to_first(it); st_iter_valid(it) && steps < 5000; st_iter_next(it))
        steps++;
      for (st_iter_seek_to_last(it); st_iter_valid(it) && steps < 10000; st_iter_prev(it))
        steps++;
      rc = st_iter_status(it);
      assert_true(rc == 0 || rc == STRATA_ECORRUPTION);
      st_iter_destroy(it);
      for (int j = 0; j < 5; j++) {
        int i = (int)st_random_uniform(&r, (uint32_t)n);
        got g = {0, ST_BUF_INIT, ST_BUF_INIT};
        rc = st_table_get(t, ro, st_slice_make(e[i].key, e[i].klen), &g, collect);
        assert_true(rc == 0 || rc == STRATA_ECORRUPTION);
        st_table_approximate_offset(t, st_slice_make(e[i].key, e[i].klen));
        st_buf_free(&g.key);
        st_buf_free(&g.val);
      }
      st_table_close(t);
    }
    free(bad);
    st_buf_free(&good);
  }
  strata_filter_policy_destroy(bloom);
  free_entries(e, n);
}

static void test_block_cache(void **state) {
  (void)state;
  st_random r;
  st_random_init(&r, 41);
  int n1, n2;
  entry *e1 = make_entries(&r, 500, 60, 0, &n1);
  entry *e2 = make_entries(&r, 500, 60, 0, &n2);
  st_cache *cache = st_cache_new(8 << 20);
  assert_non_null(cache);
  st_table_options o = topts(STRATA_COMPRESSION_SNAPPY, 1024);
  o.block_cache = cache;
  st_buf f1 = build_table(e1, n1, &o), f2 = build_table(e2, n2, &o);

  /* Two tables sharing one cache: their blocks (same offsets) must not be
   * confused. */
  int fail1 = 0, reads1 = 0;
  st_table *t1 = NULL, *t2 = NULL;
  assert_int_equal(st_table_open(&o, mem_rafile_new(f1.data, f1.size, READ_COPY, &fail1, &reads1),
                                 f1.size, "/db/1.ldb", &t1),
                   0);
  t2 = open_table(&f2, READ_MAP, &o);

  /* fill_cache = 0 leaves the cache empty. */
  verify_table(t1, &RO_PLAIN, e1, n1, &r);
  assert_int_equal(st_cache_total_charge(cache), 0);

  /* fill_cache = 1: every data block read twice goes in (the cache admits a
   * block on its second miss), charged by its size. */
  st_read_opts fill = {1, 1};
  verify_table(t1, &fill, e1, n1, &r);
  size_t charge1 = st_cache_total_charge(cache);
  assert_true(charge1 > f1.size / 2);
  verify_table(t2, &fill, e2, n2, &r);
  assert_true(st_cache_total_charge(cache) > charge1);

  /* With the file unreadable, t1 is served from the cache alone. */
  fail1 = 1;
  int before = reads1;
  verify_table(t1, &fill, e1, n1, &r);
  verify_table(t1, &RO_PLAIN, e1, n1, &r);
  assert_int_equal(reads1, before);
  fail1 = 0;

  /* Iterators hold their blocks: pruning the cache under a live iterator
   * keeps its current block readable (ASan would flag a use after free). */
  st_iter *it = st_table_iter(t2, &fill);
  st_iter_seek(it, st_slice_make(e2[n2 / 2].key, e2[n2 / 2].klen));
  st_cache_prune(cache);
  expect_at(it, &e2[n2 / 2]);
  st_iter_next(it);
  expect_at(it, &e2[n2 / 2 + 1]);
  st_iter_destroy(it);

  st_table_close(t1);
  st_table_close(t2);
  /* Blocks of closed tables stay until evicted; the cache frees them. */
  st_cache_free(cache);

  /* Uncompressed blocks used in place from a mapped file are not cached;
   * the same blocks read into memory are. */
  cache = st_cache_new(8 << 20);
  o = topts(STRATA_COMPRESSION_NONE, 1024);
  o.block_cache = cache;
  st_buf f3 = build_table(e1, n1, &o);
  st_table *t3 = open_table(&f3, READ_MAP, &o);
  verify_table(t3, &fill, e1, n1, &r);
  assert_int_equal(st_cache_total_charge(cache), 0);
  st_table_close(t3);
  t3 = open_table(&f3, READ_COPY, &o);
  verify_table(t3, &fill, e1, n1, &r);
  assert_true(st_cache_total_charge(cache) > 0);
  st_table_close(t3);
  st_cache_free(cache);

  /* A tiny cache evicts constantly and stays correct. */
  cache = st_cache_new(2000);
  o.block_cache = cache;
  t3 = open_table(&f3, READ_COPY, &o);
  verify_table(t3, &fill, e1, n1, &r);
  st_table_close(t3);
  st_cache_free(cache);

  st_buf_free(&f1);
  st_buf_free(&f2);
  st_buf_free(&f3);
  free_entries(e1, n1);
  free_entries(e2, n2);
}

/* A point lookup's first read of a block leaves the cache alone (the block
 * is decompressed into the thread's buffer and dropped); the second read
 * caches it; the third is served from the cache without touching the file.
 * (Iterators follow the same rule with blocks they own: test_block_cache.) */
static void test_admission_and_transient_reads(void **state) {
  (void)state;
  st_random r;
  st_random_init(&r, 43);
  int n;
  entry *e = make_entries(&r, 400, 60, 0, &n);
  st_cache *cache = st_cache_new(8 << 20);
  assert_non_null(cache);
  for (int comp = 0; comp < 3; comp++) {
    int c = comp == 0   ? STRATA_COMPRESSION_SNAPPY
            : comp == 1 ? STRATA_COMPRESSION_ZSTD
                        : STRATA_COMPRESSION_NONE;
    st_table_options o = topts(c, 1); /* a block per entry: a get reads one block */
    o.block_cache = cache;
    st_buf f = build_table(e, n, &o);
    int fail = 0, reads = 0;
    st_table *t = NULL;
    /* READ_COPY: every block read goes through the file (and is counted). */
    assert_int_equal(st_table_open(&o, mem_rafile_new(f.data, f.size, READ_COPY, &fail, &reads),
                                   f.size, "/db/9.ldb", &t),
                     0);
    st_read_opts fill = {1, 1};
    size_t before = st_cache_total_charge(cache);
    for (int pass = 0; pass < 3; pass++) {
      int r0 = reads;
      for (int i = 0; i < n; i++)
        check_get(t, &fill, e, n, st_slice_make(e[i].key, e[i].klen));
      if (pass == 0) {
        assert_true(reads > r0);
        assert_int_equal(st_cache_total_charge(cache), before);
      } else if (pass == 1) {
        assert_true(st_cache_total_charge(cache) > before + f.size / 2);
      } else {
        /* Nearly all from the cache: a block whose doorkeeper slot another
         * block took between its two reads (a hash collision) is admitted
         * a pass later. */
        assert_true(reads - r0 < n / 8);
      }
    }
    st_table_close(t);
    st_buf_free(&f);
  }

  /* st_read_block_transient() gives the same bytes as st_read_block(), owns
   * nothing, and reuses one buffer per thread for decompressed blocks. */
  st_table_options o = topts(STRATA_COMPRESSION_SNAPPY, 1024);
  st_buf f = build_table(e, n, &o);
  st_footer ft;
  assert_int_equal(st_footer_decode(f.data + f.size - ST_FOOTER_SIZE, "x", &ft), 0);
  st_rafile *rf = mem_rafile_new(f.data, f.size, READ_MAP, NULL, NULL);
  st_block_contents idx;
  assert_int_equal(st_read_block(rf, "x", f.size, &ft.index, 1, &idx), 0);
  st_block blk;
  st_block_init(&blk, &idx, "x", ft.index.offset);
  st_block_iter it;
  st_block_iter_init(&it, &blk, UCMP);
  const char *first_data = NULL;
  int nb = 0;
  for (st_iter_seek_to_first(&it.base); st_iter_valid(&it.base); st_iter_next(&it.base)) {
    st_slice v = st_iter_value(&it.base);
    st_block_handle h;
    assert_non_null(st_block_handle_decode(v.data, v.data + v.size, &h));
    st_block_contents owned, tr;
    assert_int_equal(st_read_block(rf, "x", f.size, &h, 1, &owned), 0);
    assert_int_equal(st_read_block_transient(rf, "x", f.size, &h, 1, &tr), 0);
    assert_null(tr.heap);
    assert_int_equal(tr.size, owned.size);
    assert_memory_equal(tr.data, owned.data, owned.size);
    if ((unsigned char)f.data[h.offset + h.size] == ST_BLOCK_SNAPPY) {
      assert_ptr_not_equal(owned.heap, NULL);
      if (!first_data) first_data = tr.data;
      assert_ptr_equal(tr.data, first_data); /* the thread's one buffer */
    }
    st_block_contents_free(&owned);
    nb++;
  }
  assert_true(nb > 3);
  assert_non_null(first_data); /* repetitive values: some blocks compressed */
  st_block_iter_fini(&it);
  st_block_release(&blk);
  rf->close(rf);
  st_buf_free(&f);
  st_cache_free(cache);
  free_entries(e, n);
}

/* Appends contents and a type-0 trailer to file; *h gets its handle. */
static void append_block(st_buf *file, st_slice contents, st_block_handle *h) {
  h->offset = file->size;
  h->size = contents.size;
  st_buf_append(file, contents.data, contents.size);
  char type = 0;
  uint32_t crc = st_crc32c_extend(st_crc32c(contents.data, contents.size), &type, 1);
  st_buf_push(file, type);
  st_buf_put_fixed32(file, st_crc32c_mask(crc));
}

static void test_metaindex_lookup(void **state) {
  (void)state;
  /* A table with meta blocks, assembled by hand: meta blocks, data block,
   * metaindex, index, footer. */
  st_buf file = ST_BUF_INIT;
  st_block_handle meta_h, data_h, other_h;
  append_block(&file, st_slice_cstr("filter-bits"), &meta_h);
  append_block(&file, st_slice_cstr("other-meta"), &other_h);

  size_t kl;
  char *key = make_ikey("k", 1, 9, ST_TYPE_VALUE, &kl);
  st_block_builder bb;
  st_block_builder_init(&bb, 16);
  st_block_builder_add(&bb, st_slice_make(key, kl), st_slice_cstr("v"));
  st_slice out;
  st_block_builder_finish(&bb, &out);
  append_block(&file, out, &data_h);

  st_block_builder_free(&bb);

  st_footer f;
  char hb[ST_MAX_BLOCK_HANDLE_SIZE];
  st_block_builder_init(&bb, 1);
  st_block_builder_add(&bb, st_slice_cstr("bad.handle"), st_slice_cstr("\xff"));
  char *end = st_block_handle_encode(&meta_h, hb);
  st_block_builder_add(&bb, st_slice_cstr("filter.test"), st_slice_make(hb, (size_t)(end - hb)));
  end = st_block_handle_encode(&other_h, hb);
  st_block_builder_add(&bb, st_slice_cstr("zz.other"), st_slice_make(hb, (size_t)(end - hb)));
  st_block_builder_finish(&bb, &out);
  append_block(&file, out, &f.metaindex);

  st_block_builder_reset(&bb);
  end = st_block_handle_encode(&data_h, hb);
  st_block_builder_add(&bb, st_slice_make(key, kl), st_slice_make(hb, (size_t)(end - hb)));
  st_block_builder_finish(&bb, &out);
  append_block(&file, out, &f.index);
  st_block_builder_free(&bb);
  char fb[ST_FOOTER_SIZE];
  st_footer_encode(&f, fb);
  st_buf_append(&file, fb, sizeof fb);

  st_table_options o = topts(0, 4096);
  st_table *t = open_table(&file, READ_COPY, &o);
  st_block_handle h;
  assert_int_equal(st_table_find_meta(t, "filter.test", &h), 0);
  assert_true(h.offset == meta_h.offset && h.size == meta_h.size);
  st_block_contents c;
  assert_int_equal(st_table_read_meta(t, &h, &c), 0);
  assert_true(st_slice_eq(st_slice_make(c.data, c.size), st_slice_cstr("filter-bits")));
  st_block_contents_free(&c);
  assert_int_equal(st_table_find_meta(t, "zz.other", &h), 0);
  assert_int_equal(h.offset, other_h.offset);
  assert_int_equal(st_table_find_meta(t, "filter.none", &h), STRATA_ENOTFOUND);
  assert_int_equal(st_table_find_meta(t, "bad.handle", &h), STRATA_ECORRUPTION);
  assert_non_null(strstr(strata_errmsg(), "/db/000005.ldb: bad handle for meta block"));

  entry e = {key, kl, (char *)"v", 1};
  st_random r;
  st_random_init(&r, 61);
  verify_table(t, &RO_VERIFY, &e, 1, &r);
  assert_int_equal(st_table_approximate_offset(t, st_slice_make(key, kl)), data_h.offset);
  st_table_close(t);
  free(key);
  st_buf_free(&file);
}

/* ---- zstd level --------------------------------------------------------- */

static void test_zstd_level(void **state) {
  (void)state;
  st_random r;
  st_random_init(&r, 67);
  int n;
  entry *e = make_entries(&r, 800, 300, 0, &n);
  st_table_options o = topts(STRATA_COMPRESSION_ZSTD, 16384);
  st_buf dflt = build_table(e, n, &o); /* zstd_level 0: level 1 */
  o.zstd_level = 1;
  st_buf one = build_table(e, n, &o);
  o.zstd_level = 19;
  st_buf high = build_table(e, n, &o);
  o.zstd_level = 1000; /* above zstd's maximum: the maximum */
  st_buf over = build_table(e, n, &o);
  assert_int_equal(dflt.size, one.size);
  assert_memory_equal(dflt.data, one.data, one.size);
  /* The level reaches the compressor: a different, smaller table. */
  assert_true(high.size < one.size);
  assert_true(over.size <= high.size);
  int types[4];
  assert_true(data_block_types(&high, types, 4) > 1);
  assert_int_equal(types[0], ST_BLOCK_ZSTD);
  st_table *t = open_table(&high, READ_COPY, &o);
  verify_table_probes(t, &RO_VERIFY, e, n, &r, 200);
  st_table_close(t);
  st_buf_free(&dflt);
  st_buf_free(&one);
  st_buf_free(&high);
  st_buf_free(&over);
  free_entries(e, n);
}

/* ---- st_table_scan ------------------------------------------------------ */

typedef struct scan_log {
  const entry *e;  /* the entries expected, in order */
  const int *want; /* indexes into e of the entries the scan should yield */
  int nwant;
  int pos;        /* entries seen */
  int stop_after; /* entry() returns -42 once this many were seen; or -1 */
  int nbad;
  uint64_t bad_off[16];
  int bad_code[16];
  char what[16][200];
} scan_log;

static int scan_entry(void *arg, st_slice k, st_slice v) {
  scan_log *l = arg;
  assert_true(l->pos < l->nwant);
  const entry *x = &l->e[l->want[l->pos]];
  assert_true(st_slice_eq(k, st_slice_make(x->key, x->klen)));
  assert_true(st_slice_eq(v, st_slice_make(x->val, x->vlen)));
  l->pos++;
  return l->pos == l->stop_after ? -42 : 0;
}

static void scan_bad(void *arg, uint64_t offset, int code, const char *what) {
  scan_log *l = arg;
  if (l->nbad < 16) { /* the first 16 are kept */
    l->bad_off[l->nbad] = offset;
    l->bad_code[l->nbad] = code;
    snprintf(l->what[l->nbad], sizeof l->what[0], "%s", what);
  }
  l->nbad++;
}

/* Expects every entry but e[skip_from, skip_to). */
static int *want_all_but(int n, int skip_from, int skip_to, int *nwant) {
  int *w = malloc(sizeof *w * (size_t)(n + 1));
  int m = 0;
  for (int i = 0; i < n; i++)
    if (i < skip_from || i >= skip_to) w[m++] = i;
  *nwant = m;
  return w;
}

/* Entries of the data block at h, and its first key (malloc'd). */
static int block_entries(const st_buf *file, st_block_handle h, char **first, size_t *first_len) {
  st_rafile *rf = mem_rafile_new(file->data, file->size, READ_COPY, NULL, NULL);
  st_block_contents c;
  assert_int_equal(st_read_block(rf, "x", file->size, &h, 1, &c), 0);
  st_block blk;
  st_block_init(&blk, &c, "x", h.offset);
  st_block_iter it;
  st_block_iter_init(&it, &blk, UCMP);
  int n = 0;
  for (st_iter_seek_to_first(&it.base); st_iter_valid(&it.base); st_iter_next(&it.base)) {
    if (n++ == 0) {
      st_slice k = st_iter_key(&it.base);
      *first = malloc(k.size);
      memcpy(*first, k.data, k.size);
      *first_len = k.size;
    }
  }
  st_block_iter_fini(&it);
  st_block_release(&blk);
  rf->close(rf);
  return n;
}

static void test_scan_clean(void **state) {
  (void)state;
  st_random r;
  st_random_init(&r, 71);
  int n;
  entry *e = make_entries(&r, 700, 80, 0, &n);
  for (int comp = 0; comp < 3; comp++) {
    st_table_options o = topts(comp, 512);
    st_buf file = build_table(e, n, &o);
    st_table *t = open_table(&file, comp == 1 ? READ_MAP : READ_COPY, &o);
    scan_log l;
    memset(&l, 0, sizeof l);
    l.e = e;
    l.want = want_all_but(n, 0, 0, &l.nwant);
    l.stop_after = -1;
    assert_int_equal(st_table_scan(t, &l, scan_entry, scan_bad), 0);
    assert_int_equal(l.pos, n);
    assert_int_equal(l.nbad, 0);
    assert_int_equal(st_table_scan(t, NULL, NULL, NULL), 0);

    /* entry() stops the scan with its negative result. */
    l.pos = 0;
    l.stop_after = 3;
    assert_int_equal(st_table_scan(t, &l, scan_entry, scan_bad), -42);
    assert_int_equal(l.pos, 3);
    free((void *)l.want);
    st_table_close(t);
    st_buf_free(&file);
  }
  free_entries(e, n);
}

static void test_scan_damaged_block(void **state) {
  (void)state;
  st_random r;
  st_random_init(&r, 73);
  int n;
  entry *e = make_entries(&r, 600, 60, 0, &n);
  for (int comp = 0; comp < 3; comp++) {
    st_table_options o = topts(comp, 512);
    st_buf file = build_table(e, n, &o);
    int types[1];
    int nblocks = data_block_types(&file, types, 1);
    assert_true(nblocks > 8);
    int mid = nblocks / 2;
    st_block_handle h = nth_data_block(&file, mid);
    char *first;
    size_t first_len;
    int cnt = block_entries(&file, h, &first, &first_len);
    int from = lower_bound(e, n, st_slice_make(first, first_len));
    free(first);

    /* 0: a flipped bit (checksum); 1: a restart count that cannot fit and
     * 2: the wrong compression type, both with the CRC fixed up. */
    for (int damage = 0; damage < 3; damage++) {
      st_buf bad = ST_BUF_INIT;
      st_buf_append(&bad, file.data, file.size);
      const char *want_what;
      if (damage == 0) {
        bad.data[h.offset + h.size / 2] ^= 0x08;
        want_what = "block checksum mismatch";
      } else {
        if (damage == 1 && comp == 0) {
          st_put_fixed32(bad.data + h.offset + h.size - 4, 0x7fffffff);
          want_what = "bad restart array";
        } else if (damage == 1) {
          bad.data[h.offset + h.size] = (char)(comp == 1 ? ST_BLOCK_ZSTD : ST_BLOCK_SNAPPY);
          want_what = "-compressed block";
        } else {
          bad.data[h.offset + h.size] = 7;
          want_what = "unknown compression type 7";
        }
        uint32_t crc = st_crc32c_mask(st_crc32c(bad.data + h.offset, h.size + 1));
        st_put_fixed32(bad.data + h.offset + h.size + 1, crc);
      }
      st_table *t = open_table(&bad, READ_COPY, &o);
      scan_log l;
      memset(&l, 0, sizeof l);
      l.e = e;
      l.want = want_all_but(n, from, from + cnt, &l.nwant);
      l.stop_after = -1;
      assert_int_equal(st_table_scan(t, &l, scan_entry, scan_bad), 1);
      assert_int_equal(l.pos, n - cnt);
      assert_int_equal(l.nbad, 1);
      assert_int_equal(l.bad_off[0], h.offset);
      assert_int_equal(l.bad_code[0], STRATA_ECORRUPTION);
      assert_non_null(strstr(l.what[0], "Corruption: /db/000005.ldb: "));
      assert_non_null(strstr(l.what[0], want_what));
      free((void *)l.want);
      st_table_close(t);
      st_buf_free(&bad);
    }
    st_buf_free(&file);
  }
  free_entries(e, n);
}

static void test_scan_read_errors(void **state) {
  (void)state;
  st_random r;
  st_random_init(&r, 79);
  int n;
  entry *e = make_entries(&r, 200, 60, 0, &n);
  st_table_options o = topts(STRATA_COMPRESSION_NONE, 512);
  st_buf file = build_table(e, n, &o);
  int types[1];
  int nblocks = data_block_types(&file, types, 1);
  int fail = 0;
  st_table *t = NULL;
  assert_int_equal(st_table_open(&o, mem_rafile_new(file.data, file.size, READ_COPY, &fail, NULL),
                                 file.size, "/db/000005.ldb", &t),
                   0);
  /* Every read failing: every block reported, and the scan still ends. */
  fail = 1;
  scan_log l;
  memset(&l, 0, sizeof l);
  l.stop_after = -1;
  assert_int_equal(st_table_scan(t, &l, scan_entry, scan_bad), nblocks);
  assert_int_equal(l.pos, 0);
  assert_int_equal(l.nbad, nblocks);
  assert_int_equal(l.bad_code[0], STRATA_EIO);
  assert_int_equal(l.bad_off[1], nth_data_block(&file, 1).offset);
  st_table_close(t);
  st_buf_free(&file);
  free_entries(e, n);
}

/* A hand-made table whose data blocks are each damaged in another way. */
static void test_scan_out_of_order(void **state) {
  (void)state;
  static const char *const blocks[7][3] = {
      {"a", "b", NULL},   /* good */
      {"d", "c", NULL},   /* out of order within the block */
      {"e", "f", NULL},   /* good: compared with "b", the last good key */
      {"bb", NULL, NULL}, /* below "f", the previous good block's last key */
      {"g", NULL, NULL},  /* good */
      {"h", NULL, NULL},  /* stored as "snappy" but is not */
      {"i", NULL, NULL},  /* its handle points past the end of the file */
  };
  entry e[5];
  const char *good[5] = {"a", "b", "e", "f", "g"};
  for (int i = 0; i < 5; i++) {
    e[i].key = make_ikey(good[i], strlen(good[i]), 5, ST_TYPE_VALUE, &e[i].klen);
    e[i].val = (char *)"v";
    e[i].vlen = 1;
  }
  st_buf file = ST_BUF_INIT;
  st_block_handle hs[7];
  st_block_builder bb;
  st_block_builder_init(&bb, 16);
  for (int b = 0; b < 7; b++) {
    st_block_builder_reset(&bb);
    for (int k = 0; k < 3 && blocks[b][k]; k++) {
      size_t kl;
      char *key = make_ikey(blocks[b][k], strlen(blocks[b][k]), 5, ST_TYPE_VALUE, &kl);
      st_block_builder_add(&bb, st_slice_make(key, kl), st_slice_cstr("v"));
      free(key);
    }
    st_slice out;
    st_block_builder_finish(&bb, &out);
    append_block(&file, out, &hs[b]);
    if (b == 5) {
      st_block_handle h5 = hs[5];
      file.data[h5.offset + h5.size] = ST_BLOCK_SNAPPY;
      st_put_fixed32(file.data + h5.offset + h5.size + 1,
                     st_crc32c_mask(st_crc32c(file.data + h5.offset, h5.size + 1)));
    }
  }
  hs[6].offset = 1 << 20;
  st_footer f;
  st_block_builder_reset(&bb);
  st_slice out;
  st_block_builder_finish(&bb, &out);
  append_block(&file, out, &f.metaindex);
  st_block_builder_free(&bb);
  st_block_builder_init(&bb, 1);
  for (int b = 0; b < 7; b++) {
    char sep[8], hb[ST_MAX_BLOCK_HANDLE_SIZE];
    size_t kl;
    snprintf(sep, sizeof sep, "sep%d", b);
    char *key = make_ikey(sep, strlen(sep), 1, ST_TYPE_VALUE, &kl);
    char *end = st_block_handle_encode(&hs[b], hb);
    st_block_builder_add(&bb, st_slice_make(key, kl), st_slice_make(hb, (size_t)(end - hb)));
    free(key);
  }
  st_block_builder_finish(&bb, &out);
  append_block(&file, out, &f.index);
  st_block_builder_free(&bb);
  char fb[ST_FOOTER_SIZE];
  st_footer_encode(&f, fb);
  st_buf_append(&file, fb, sizeof fb);

  st_table_options o = topts(0, 4096);
  st_table *t = open_table(&file, READ_MAP, &o);
  scan_log l;
  memset(&l, 0, sizeof l);
  l.e = e;
  l.want = want_all_but(5, 0, 0, &l.nwant);
  l.stop_after = -1;
  assert_int_equal(st_table_scan(t, &l, scan_entry, scan_bad), 4);
  assert_int_equal(l.pos, 5);
  assert_int_equal(l.nbad, 4);
  int bad_blocks[4] = {1, 3, 5, 6};
  const char *whats[4] = {"keys out of order in block", "keys out of order in block",
                          "bad snappy-compressed block", "truncated block read"};
  for (int i = 0; i < 4; i++) {
    assert_int_equal(l.bad_off[i], hs[bad_blocks[i]].offset);
    assert_int_equal(l.bad_code[i], STRATA_ECORRUPTION);
    assert_non_null(strstr(l.what[i], whats[i]));
  }
  free((void *)l.want);
  st_table_close(t);
  st_buf_free(&file);
  for (int i = 0; i < 5; i++)
    free(e[i].key);
}

static void test_scan_damaged_index(void **state) {
  (void)state;
  st_random r;
  st_random_init(&r, 83);
  int n;
  entry *e = make_entries(&r, 300, 40, 0, &n);
  st_table_options o = topts(STRATA_COMPRESSION_NONE, 256);
  st_buf file = build_table(e, n, &o);
  int types[1];
  int nblocks = data_block_types(&file, types, 1);
  st_block_handle last = nth_data_block(&file, nblocks - 1);
  char *first;
  size_t first_len;
  int cnt = block_entries(&file, last, &first, &first_len);
  free(first);

  /* The index's last entry claims lengths running past the block; its CRC
   * is fixed up, so open succeeds and only walking the index finds it. */
  st_footer f;
  st_footer_decode(file.data + file.size - ST_FOOTER_SIZE, "x", &f);
  char *ix = file.data + f.index.offset;
  uint32_t nrestarts = st_get_fixed32(ix + f.index.size - 4);
  uint32_t last_entry = st_get_fixed32(ix + f.index.size - 4 - 4);
  assert_int_equal(nrestarts, (uint32_t)nblocks);
  ix[last_entry + 1] = 0x7f;
  ix[last_entry + 2] = 0x7f;
  st_put_fixed32(ix + f.index.size + 1, st_crc32c_mask(st_crc32c(ix, f.index.size + 1)));

  st_table *t = open_table(&file, READ_COPY, &o);
  scan_log l;
  memset(&l, 0, sizeof l);
  l.e = e;
  l.want = want_all_but(n, n - cnt, n, &l.nwant);
  l.stop_after = -1;
  assert_int_equal(st_table_scan(t, &l, scan_entry, scan_bad), STRATA_ECORRUPTION);
  assert_int_equal(l.pos, n - cnt); /* every block before the damage */
  assert_int_equal(l.nbad, 1);
  assert_int_equal(l.bad_off[0], f.index.offset);
  assert_int_equal(l.bad_code[0], STRATA_ECORRUPTION);
  assert_non_null(strstr(l.what[0], "/db/000005.ldb: bad entry in block"));
  free((void *)l.want);
  st_table_close(t);
  st_buf_free(&file);
  free_entries(e, n);
}

/* ---- compatibility with LevelDB 1.23 ------------------------------------ */

/* A table written by LevelDB 1.23's TableBuilder (internal-key comparator
 * over the bytewise one, block_size 256, snappy, restart interval 16) from
 * the entries of golden_entry(). */
static const unsigned char leveldb_golden[] = {
    0x96, 0x02, 0x38, 0x00, 0x10, 0x00, 0x6b, 0x65, 0x79, 0x2d, 0x30, 0x30, 0x30, 0x00, 0x00, 0xe8,
    0x03, 0x00, 0x01, 0x01, 0x10, 0x08, 0x08, 0x00, 0x01, 0xe7, 0x09, 0x0b, 0x14, 0x06, 0x09, 0x25,
    0x37, 0x01, 0xeb, 0x09, 0x0c, 0x00, 0x62, 0x11, 0x01, 0x00, 0x63, 0x11, 0x01, 0x00, 0x64, 0x11,
    0x01, 0x00, 0x65, 0x11, 0x01, 0x1c, 0x66, 0x05, 0x0a, 0x4a, 0x31, 0x34, 0x00, 0xee, 0x09, 0x32,
    0x11, 0x28, 0x4e, 0x29, 0x00, 0x11, 0x01, 0x00, 0x67, 0x11, 0x01, 0x00, 0x68, 0x11, 0x01, 0x00,
    0x69, 0x11, 0x01, 0x00, 0x6a, 0x11, 0x01, 0x20, 0x6b, 0x6b, 0x05, 0x0a, 0x15, 0x32, 0x31, 0x01,
    0xf1, 0x09, 0x57, 0x11, 0x76, 0x1d, 0x77, 0x1c, 0x66, 0x66, 0x06, 0x09, 0x3a, 0x38, 0x00, 0xf4,
    0x09, 0x21, 0x11, 0x8e, 0x04, 0x65, 0x66, 0x11, 0x01, 0x11, 0x65, 0x76, 0x66, 0x00, 0x24, 0x6b,
    0x6b, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0xe8, 0xdc, 0xca, 0xea, 0xca, 0x02,
    0x38, 0x00, 0x10, 0x05, 0x6b, 0x65, 0x79, 0x2d, 0x30, 0x33, 0x35, 0x00, 0x01, 0xf7, 0x03, 0x00,
    0x01, 0x01, 0x00, 0x66, 0x01, 0x01, 0x18, 0x05, 0x0a, 0x2a, 0x34, 0x32, 0x00, 0xfa, 0x09, 0x12,
    0x00, 0x67, 0x11, 0x01, 0x00, 0x68, 0x11, 0x01, 0x00, 0x69, 0x11, 0x01, 0x00, 0x6a, 0x11, 0x01,
    0x00, 0x6b, 0x05, 0x01, 0x14, 0x06, 0x09, 0x4f, 0x39, 0x01, 0xfd, 0x09, 0x36, 0x11, 0x2c, 0x62,
    0x2d, 0x00, 0x0c, 0x6b, 0x6b, 0x6b, 0x6c, 0x11, 0x01, 0x00, 0x6d, 0x11, 0x01, 0x00, 0x6e, 0x11,
    0x01, 0x00, 0x6f, 0x11, 0x01, 0x00, 0x70, 0x09, 0x01, 0x20, 0x05, 0x0a, 0x1a, 0x35, 0x36, 0x00,
    0x00, 0x04, 0x00, 0x01, 0x01, 0x11, 0x7f, 0x3e, 0x80, 0x00, 0x18, 0x6b, 0x6b, 0x07, 0x08, 0x1a,
    0x01, 0xff, 0x09, 0x81, 0x66, 0x25, 0x00, 0x18, 0x05, 0x0a, 0x3f, 0x36, 0x33, 0x01, 0x03, 0x09,
    0x4c, 0x11, 0xc2, 0x0d, 0xc3, 0xb6, 0x96, 0x00, 0x24, 0x70, 0x70, 0x00, 0x00, 0x00, 0x00, 0x01,
    0x00, 0x00, 0x00, 0x01, 0xcc, 0x35, 0x46, 0x57, 0xbd, 0x02, 0x38, 0x00, 0x10, 0x0a, 0x6b, 0x65,
    0x79, 0x2d, 0x30, 0x37, 0x30, 0x00, 0x00, 0x06, 0x04, 0x00, 0x01, 0x01, 0x00, 0x6b, 0x11, 0x01,
    0x18, 0x6c, 0x06, 0x09, 0x2f, 0x37, 0x01, 0x09, 0x09, 0x16, 0x00, 0x6c, 0x11, 0x01, 0x00, 0x6d,
    0x11, 0x01, 0x00, 0x6e, 0x11, 0x01, 0x00, 0x6f, 0x11, 0x01, 0x00, 0x70, 0x11, 0x01, 0x20, 0x71,
    0x71, 0x05, 0x0a, 0x54, 0x38, 0x34, 0x00, 0x0c, 0x09, 0x3c, 0x11, 0x32, 0x76, 0x33, 0x00, 0x0d,
    0x01, 0x00, 0x72, 0x11, 0x01, 0x00, 0x73, 0x11, 0x01, 0x00, 0x74, 0x11, 0x01, 0x00, 0x75, 0x11,
    0x01, 0x24, 0x76, 0x76, 0x76, 0x05, 0x0a, 0x1f, 0x39, 0x31, 0x01, 0x0f, 0x09, 0x61, 0x11, 0x8a,
    0x52, 0x8b, 0x00, 0x1c, 0x71, 0x71, 0x06, 0x09, 0x44, 0x38, 0x00, 0x12, 0x09, 0x2b, 0x11, 0xac,
    0x2e, 0xad, 0x00, 0x0d, 0x01, 0x11, 0x79, 0x7a, 0x7a, 0x00, 0x24, 0x76, 0x76, 0x00, 0x00, 0x00,
    0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0xae, 0xb0, 0x9f, 0x5f, 0x8f, 0x02, 0x38, 0x00, 0x10, 0x0f,
    0x6b, 0x65, 0x79, 0x2d, 0x31, 0x30, 0x35, 0x00, 0x01, 0x15, 0x04, 0x00, 0x01, 0x01, 0x00, 0x70,
    0x11, 0x01, 0x00, 0x71, 0x05, 0x01, 0x18, 0x05, 0x0a, 0x34, 0x31, 0x32, 0x00, 0x18, 0x09, 0x1c,
    0x05, 0x12, 0x01, 0x01, 0x00, 0x72, 0x11, 0x01, 0x00, 0x73, 0x11, 0x01, 0x00, 0x74, 0x11, 0x01,
    0x00, 0x75, 0x11, 0x01, 0x00, 0x76, 0x09, 0x01, 0x10, 0x07, 0x08, 0x34, 0x01, 0x17, 0xe6, 0x3f,
    0x00, 0x14, 0x06, 0x09, 0x59, 0x39, 0x01, 0x1b, 0x09, 0x40, 0x11, 0x75, 0x8a, 0x76, 0x00, 0x08,
    0x76, 0x76, 0x77, 0x11, 0x01, 0x00, 0x78, 0x11, 0x01, 0x00, 0x79, 0x11, 0x01, 0x00, 0x7a, 0x11,
    0x01, 0x3c, 0x61, 0x61, 0x61, 0x61, 0x61, 0x61, 0x61, 0x61, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00,
    0x00, 0x00, 0x01, 0xeb, 0x62, 0x0c, 0x67, 0x8c, 0x02, 0x34, 0x00, 0x0f, 0x24, 0x6b, 0x65, 0x79,
    0x2d, 0x31, 0x32, 0x36, 0x00, 0x1e, 0x04, 0x00, 0x01, 0x01, 0x00, 0x73, 0x11, 0x01, 0x00, 0x74,
    0x11, 0x01, 0x00, 0x75, 0x11, 0x01, 0x00, 0x76, 0x11, 0x01, 0x18, 0x05, 0x0a, 0x49, 0x33, 0x33,
    0x01, 0x21, 0x09, 0x31, 0x11, 0x27, 0x4a, 0x28, 0x00, 0x00, 0x77, 0x11, 0x01, 0x00, 0x78, 0x11,
    0x01, 0x00, 0x79, 0x11, 0x01, 0x00, 0x7a, 0x11, 0x01, 0x00, 0x61, 0x11, 0x01, 0x20, 0x62, 0x05,
    0x0b, 0x14, 0x34, 0x30, 0x00, 0x00, 0x24, 0x09, 0x57, 0x11, 0x75, 0x19, 0x76, 0x20, 0x77, 0x77,
    0x06, 0x09, 0x39, 0x37, 0x01, 0x27, 0x04, 0x01, 0xa7, 0x00, 0x00, 0x11, 0x8c, 0xba, 0x65, 0x00,
    0x20, 0x62, 0x62, 0x05, 0x0a, 0x04, 0x35, 0x34, 0x00, 0x2a, 0x09, 0x46, 0x2c, 0x77, 0x77, 0x77,
    0x77, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x38, 0x19, 0xe9, 0xcb, 0x9d, 0x02,
    0x34, 0x00, 0x0f, 0x29, 0x6b, 0x65, 0x79, 0x2d, 0x31, 0x36, 0x31, 0x01, 0x2d, 0x04, 0x00, 0x01,
    0x01, 0x00, 0x78, 0x11, 0x01, 0x00, 0x79, 0x11, 0x01, 0x00, 0x7a, 0x11, 0x01, 0x00, 0x61, 0x11,
    0x01, 0x00, 0x62, 0x01, 0x01, 0x14, 0x06, 0x09, 0x4e, 0x38, 0x00, 0x30, 0x09, 0x35, 0x11, 0x2b,
    0x5e, 0x2c, 0x00, 0x01, 0x01, 0x00, 0x63, 0x11, 0x01, 0x00, 0x64, 0x11, 0x01, 0x00, 0x65, 0x11,
    0x01, 0x00, 0x66, 0x11, 0x01, 0x00, 0x67, 0x05, 0x01, 0x10, 0x07, 0x08, 0x4e, 0x01, 0x2f, 0xfe,
    0x59, 0x00, 0x4e, 0x59, 0x00, 0x1c, 0x05, 0x0b, 0x19, 0x37, 0x35, 0x00, 0x01, 0x33, 0x09, 0x5c,
    0x11, 0xd7, 0x3a, 0xd8, 0x00, 0x24, 0x62, 0x62, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00,
    0x01, 0xf3, 0x5e, 0xa0, 0xce, 0x89, 0x02, 0x34, 0x00, 0x0f, 0x3e, 0x6b, 0x65, 0x79, 0x2d, 0x31,
    0x38, 0x32, 0x00, 0x36, 0x04, 0x00, 0x01, 0x01, 0x00, 0x61, 0x11, 0x01, 0x00, 0x62, 0x11, 0x01,
    0x00, 0x63, 0x11, 0x01, 0x00, 0x64, 0x11, 0x01, 0x00, 0x65, 0x11, 0x01, 0x00, 0x66, 0x11, 0x01,
    0x00, 0x67, 0x0d, 0x01, 0x14, 0x06, 0x09, 0x09, 0x39, 0x01, 0x39, 0x09, 0x4a, 0x11, 0x40, 0x1c,
    0x62, 0x05, 0x0a, 0x2e, 0x39, 0x36, 0x00, 0x3c, 0x09, 0x16, 0x11, 0x4d, 0x8e, 0x4e, 0x00, 0x24,
    0x67, 0x68, 0x04, 0x0b, 0x53, 0x32, 0x30, 0x33, 0x01, 0x3f, 0x09, 0x3c, 0x11, 0x80, 0x6a, 0x81,
    0x00, 0x04, 0x67, 0x68, 0x11, 0x01, 0x00, 0x69, 0x11, 0x01, 0x00, 0x6a, 0x11, 0x01, 0x00, 0x6b,
    0x11, 0x01, 0x00, 0x6c, 0x11, 0x01, 0x24, 0x6d, 0x6d, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00,
    0x00, 0x01, 0xac, 0xf3, 0x9f, 0xb5, 0xe0, 0x02, 0x38, 0x00, 0x10, 0x1e, 0x6b, 0x65, 0x79, 0x2d,
    0x32, 0x31, 0x30, 0x00, 0x00, 0x42, 0x04, 0x00, 0x01, 0x01, 0x00, 0x65, 0x11, 0x01, 0x00, 0x66,
    0x11, 0x01, 0x00, 0x67, 0x11, 0x01, 0x20, 0x68, 0x68, 0x68, 0x06, 0x09, 0x43, 0x37, 0x01, 0x45,
    0x09, 0x2a, 0x11, 0x20, 0x32, 0x21, 0x00, 0x09, 0x01, 0x00, 0x69, 0x11, 0x01, 0x00, 0x6a, 0x11,
    0x01, 0x00, 0x6b, 0x11, 0x01, 0x00, 0x6c, 0x11, 0x01, 0x28, 0x6d, 0x6d, 0x6d, 0x6d, 0x05, 0x0a,
    0x0e, 0x32, 0x34, 0x00, 0x48, 0x09, 0x50, 0x11, 0x67, 0x01, 0x68, 0x18, 0x68, 0x68, 0x07, 0x08,
    0x0e, 0x01, 0x47, 0x4e, 0x19, 0x00, 0x18, 0x05, 0x0a, 0x33, 0x33, 0x31, 0x01, 0x4b, 0x09, 0x1b,
    0x09, 0x6f, 0x04, 0x68, 0x68, 0xa2, 0x72, 0x00, 0x1c, 0x6d, 0x6d, 0x06, 0x09, 0x58, 0x38, 0x00,
    0x4e, 0x09, 0x3f, 0x11, 0xa7, 0x00, 0x69, 0x11, 0xa7, 0x5a, 0xa8, 0x00, 0x05, 0x01, 0x00, 0x6e,
    0x11, 0x01, 0x00, 0x6f, 0x11, 0x01, 0x00, 0x70, 0x11, 0x01, 0x00, 0x71, 0x11, 0x01, 0x38, 0x72,
    0x72, 0x72, 0x72, 0x72, 0x72, 0x72, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x6d,
    0x92, 0x9e, 0xa8, 0x87, 0x02, 0x38, 0x00, 0x10, 0x23, 0x6b, 0x65, 0x79, 0x2d, 0x32, 0x34, 0x35,
    0x00, 0x01, 0x51, 0x04, 0x00, 0x01, 0x01, 0x00, 0x6a, 0x11, 0x01, 0x00, 0x6b, 0x11, 0x01, 0x00,
    0x6c, 0x11, 0x01, 0x00, 0x6d, 0x0d, 0x01, 0x18, 0x05, 0x0a, 0x48, 0x35, 0x32, 0x00, 0x54, 0x09,
    0x30, 0x11, 0x26, 0x46, 0x27, 0x00, 0x04, 0x6d, 0x6e, 0x11, 0x01, 0x00, 0x6f, 0x11, 0x01, 0x00,
    0x70, 0x11, 0x01, 0x00, 0x71, 0x11, 0x01, 0x00, 0x72, 0x11, 0x01, 0x14, 0x06, 0x09, 0x13, 0x39,
    0x01, 0x57, 0x09, 0x54, 0x11, 0x71, 0x15, 0x72, 0x20, 0x6d, 0x6e, 0x05, 0x0a, 0x38, 0x36, 0x36,
    0x00, 0x5a, 0x09, 0x20, 0x0d, 0x88, 0xba, 0x62, 0x00, 0x20, 0x73, 0x73, 0x05, 0x0a, 0x03, 0x37,
    0x33, 0x01, 0x5d, 0x09, 0x45, 0x28, 0x6e, 0x6e, 0x6e, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00,
    0x00, 0x01, 0xf9, 0x80, 0x6d, 0xb1, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0xc0,
    0xf2, 0xa1, 0xb0, 0xe4, 0x01, 0x34, 0x00, 0x0f, 0x03, 0x6b, 0x65, 0x79, 0x2d, 0x30, 0x32, 0x38,
    0x00, 0xf4, 0x03, 0x00, 0x05, 0x01, 0x10, 0x89, 0x01, 0x00, 0x0f, 0x04, 0x05, 0x15, 0x10, 0x36,
    0x33, 0x01, 0x03, 0x04, 0x05, 0x14, 0x08, 0x8e, 0x01, 0x95, 0x15, 0x16, 0x0c, 0x39, 0x38, 0x00,
    0x12, 0x09, 0x16, 0x0c, 0xa8, 0x02, 0x8d, 0x01, 0x0d, 0x41, 0x10, 0x31, 0x31, 0x39, 0x01, 0x1b,
    0x09, 0x16, 0x08, 0xba, 0x03, 0x78, 0x0d, 0x41, 0x10, 0x31, 0x35, 0x34, 0x00, 0x2a, 0x09, 0x15,
    0x14, 0xb7, 0x04, 0x82, 0x01, 0x00, 0x10, 0x05, 0x6c, 0x14, 0x31, 0x37, 0x35, 0x00, 0x01, 0x33,
    0x09, 0x17, 0x08, 0xbe, 0x05, 0x72, 0x0d, 0x41, 0x10, 0x32, 0x30, 0x33, 0x01, 0x3f, 0x09, 0x15,
    0x08, 0xb5, 0x06, 0x7c, 0x0d, 0x41, 0x10, 0x32, 0x33, 0x38, 0x00, 0x4e, 0x09, 0x15, 0x24, 0xb6,
    0x07, 0xa8, 0x01, 0x00, 0x09, 0x03, 0x6c, 0x01, 0xff, 0x09, 0x01, 0x08, 0xe3, 0x08, 0x7e, 0x01,
    0x9a, 0x8c, 0x15, 0x00, 0x00, 0x00, 0x2b, 0x00, 0x00, 0x00, 0x41, 0x00, 0x00, 0x00, 0x56, 0x00,
    0x00, 0x00, 0x6c, 0x00, 0x00, 0x00, 0x82, 0x00, 0x00, 0x00, 0x97, 0x00, 0x00, 0x00, 0xad, 0x00,
    0x00, 0x00, 0x09, 0x00, 0x00, 0x00, 0x01, 0xe4, 0x75, 0x43, 0x21, 0xe6, 0x09, 0x08, 0xf3, 0x09,
    0xb3, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x57, 0xfb, 0x80, 0x8b, 0x24, 0x75, 0x47, 0xdb,
};

/* Entry generator shared with the program that wrote leveldb_golden: 40
 * user keys "key-NNN" (every fifth with a trailing NUL), two versions of
 * every eighth, values of repeated letters (snappy-compressible). */
static int golden_entries(entry *e) {
  int n = 0;
  for (int i = 0; i < 40; i++) {
    for (int v = 0; v < (i % 8 == 0 ? 2 : 1); v++) {
      char u[32];
      size_t ul = (size_t)snprintf(u, sizeof u, "key-%03d", i * 7);
      if (i % 5 == 0) u[ul++] = '\0';
      entry *x = &e[n++];
      x->key = make_ikey(u, ul, (uint64_t)(1000 + i * 3 - v), (i + v) % 2, &x->klen);
      x->vlen = (size_t)((i * 37) % 90);
      x->val = malloc(x->vlen + 1);
      for (size_t j = 0; j < x->vlen; j++)
        x->val[j] = (char)('a' + (j / 9 + (size_t)i) % 26);
    }
  }
  return n;
}

static void test_leveldb_compatibility(void **state) {
  (void)state;
  entry *e = calloc(80, sizeof *e);
  int n = golden_entries(e);
  st_buf gold = ST_BUF_INIT;
  st_buf_append(&gold, leveldb_golden, sizeof leveldb_golden);

  /* Strata reads LevelDB's table. */
  st_table_options o = topts(STRATA_COMPRESSION_SNAPPY, 256);
  st_random r;
  st_random_init(&r, 53);
  for (int mode = 0; mode < 2; mode++) {
    st_table *t = open_table(&gold, mode, &o);
    verify_table(t, &RO_VERIFY, e, n, &r);
    st_table_close(t);
  }
  int types[16];
  int nb = data_block_types(&gold, types, 16);
  assert_true(nb > 3);
  assert_int_equal(types[0], ST_BLOCK_SNAPPY);

  /* And writes the very same bytes from the same entries. */
  st_buf mine = build_table(e, n, &o);
  assert_int_equal(mine.size, sizeof leveldb_golden);
  assert_memory_equal(mine.data, leveldb_golden, sizeof leveldb_golden);
  st_buf_free(&mine);
  st_buf_free(&gold);
  free_entries(e, n);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_format_coding),
      cmocka_unit_test(test_empty_table),
      cmocka_unit_test(test_roundtrip_all_compressions),
      cmocka_unit_test(test_large_values_and_odd_keys),
      cmocka_unit_test(test_versions_across_blocks),
      cmocka_unit_test(test_short_separators),
      cmocka_unit_test(test_compression_ratio_rule),
      cmocka_unit_test(test_approximate_offsets),
      cmocka_unit_test(test_middle_key),
      cmocka_unit_test(test_add_stored_blocks),
      cmocka_unit_test(test_checksum_corruption),
      cmocka_unit_test(test_bad_files),
      cmocka_unit_test(test_read_errors),
      cmocka_unit_test(test_get_returns_callback_result),
      cmocka_unit_test(test_builder_sticky_error),
      cmocka_unit_test(test_fuzz_damaged_tables),
      cmocka_unit_test(test_block_cache),
      cmocka_unit_test(test_admission_and_transient_reads),
      cmocka_unit_test(test_metaindex_lookup),
      cmocka_unit_test(test_leveldb_compatibility),
      cmocka_unit_test(test_zstd_level),
      cmocka_unit_test(test_scan_clean),
      cmocka_unit_test(test_scan_damaged_block),
      cmocka_unit_test(test_scan_read_errors),
      cmocka_unit_test(test_scan_out_of_order),
      cmocka_unit_test(test_scan_damaged_index),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
