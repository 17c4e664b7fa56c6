/* filter_block_test.c - filter blocks: their exact layout, the reader's
 * checks, bloom filter accuracy, tables with filters (user and built-in
 * policies, another policy's filter, damaged filter blocks), and byte
 * compatibility with a table LevelDB 1.23 wrote (tests/unit/data). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "env/env.h"
#include "table/filter_block.h"
#include "table/filter_policy.h"
#include "table/format.h"
#include "table/table.h"
#include "table/table_builder.h"
#include "util/crc32c.h"
#include "util/error.h"
#include "util/internal_key.h"
#include "util/random.h"

static const st_comparator *UCMP = &st_bytewise_comparator;
static const st_read_opts RO = {1, 0};

/* ---- a test policy: a filter is each key's 32-bit hash ----------------- */

typedef struct hash_policy_state {
  int creates; /* create_filter calls */
  int probes;  /* key_may_match calls */
} hash_policy_state;

static uint32_t key_hash(const char *k, size_t n) {
  uint32_t h = 2166136261u; /* FNV-1a */
  for (size_t i = 0; i < n; i++)
    h = (h ^ (unsigned char)k[i]) * 16777619u;
  return h;
}

static char *hash_create(void *state, const char *const *keys, const size_t *lens, int n,
                         size_t *flen) {
  ((hash_policy_state *)state)->creates++;
  char *f = malloc((size_t)n * 4 + 1);
  for (int i = 0; i < n; i++)
    st_put_fixed32(f + (size_t)i * 4, key_hash(keys[i], lens[i]));
  *flen = (size_t)n * 4;
  return f;
}

static int hash_match(void *state, const char *key, size_t klen, const char *f, size_t flen) {
  ((hash_policy_state *)state)->probes++;
  uint32_t h = key_hash(key, klen);
  for (size_t i = 0; i + 4 <= flen; i += 4)
    if (st_get_fixed32(f + i) == h) return 1;
  return 0;
}

static strata_filter_policy *hash_policy(const char *name, hash_policy_state *s) {
  strata_filter_policy *p = NULL;
  assert_int_equal(strata_filter_policy_create(name, s, hash_create, hash_match, NULL, &p), 0);
  return p;
}

static strata_filter_policy *bloom_policy(void) {
  strata_filter_policy *p = NULL;
  assert_int_equal(strata_filter_policy_create_bloom(10, &p), 0);
  return p;
}

static st_slice S(const char *s) { return st_slice_cstr(s); }

/* ---- the block itself -------------------------------------------------- */

static void put_hash(char *p, const char *key) { st_put_fixed32(p, key_hash(key, strlen(key))); }

static void test_empty_block(void **state) {
  (void)state;
  hash_policy_state hs = {0, 0};
  strata_filter_policy *p = hash_policy("test.hash", &hs);
  st_filter_block_builder b;
  st_filter_block_builder_init(&b, p);
  assert_int_equal(st_filter_block_start(&b, 0), 0);
  st_slice out;
  assert_int_equal(st_filter_block_finish(&b, &out), 0);
  /* No filters: just the array offset 0 and base_lg 11. */
  assert_int_equal(out.size, 5);
  assert_memory_equal(out.data, "\0\0\0\0\x0b", 5);
  st_filter_block_reader r;
  assert_true(st_filter_block_reader_init(&r, p, out));
  /* Past the last filter: no answer, so "maybe". */
  assert_true(st_filter_block_may_match(&r, 0, S("foo")));
  assert_true(st_filter_block_may_match(&r, 100000, S("foo")));
  assert_int_equal(hs.creates, 0);
  st_filter_block_builder_free(&b);
  strata_filter_policy_destroy(p);
}

static void test_single_range(void **state) {
  (void)state;
  hash_policy_state hs = {0, 0};
  strata_filter_policy *p = hash_policy("test.hash", &hs);
  st_filter_block_builder b;
  st_filter_block_builder_init(&b, p);
  st_filter_block_start(&b, 100);
  st_filter_block_add_key(&b, S("foo"));
  st_filter_block_add_key(&b, S("bar"));
  st_filter_block_add_key(&b, S("box"));
  st_filter_block_start(&b, 200);
  st_filter_block_add_key(&b, S("box"));
  st_filter_block_start(&b, 300);
  st_filter_block_add_key(&b, S("hello"));
  st_slice out;
  assert_int_equal(st_filter_block_finish(&b, &out), 0);
  /* One filter of all five keys (the repeated "box" twice, as LevelDB). */
  char want[20 + 4 + 4 + 1];
  const char *keys[] = {"foo", "bar", "box", "box", "hello"};
  for (int i = 0; i < 5; i++)
    put_hash(want + 4 * i, keys[i]);
  st_put_fixed32(want + 20, 0);
  st_put_fixed32(want + 24, 20);
  want[28] = 11;
  assert_int_equal(out.size, sizeof want);
  assert_memory_equal(out.data, want, sizeof want);
  assert_int_equal(hs.creates, 1);

  st_filter_block_reader r;
  assert_true(st_filter_block_reader_init(&r, p, out));
  for (int i = 0; i < 5; i++)
    assert_true(st_filter_block_may_match(&r, 100, S(keys[i])));
  assert_false(st_filter_block_may_match(&r, 100, S("missing")));
  assert_false(st_filter_block_may_match(&r, 2047, S("other")));
  st_filter_block_builder_free(&b);
  strata_filter_policy_destroy(p);
}

static void test_multiple_ranges(void **state) {
  (void)state;
  hash_policy_state hs = {0, 0};
  strata_filter_policy *p = hash_policy("test.hash", &hs);
  st_filter_block_builder b;
  st_filter_block_builder_init(&b, p);
  st_filter_block_start(&b, 0);
  st_filter_block_add_key(&b, S("foo"));
  st_filter_block_start(&b, 2000); /* same range as 0 */
  st_filter_block_add_key(&b, S("bar"));
  st_filter_block_start(&b, 3100); /* range 1 */
  st_filter_block_add_key(&b, S("box"));
  st_filter_block_start(&b, 9000); /* range 4: ranges 2 and 3 are empty */
  st_filter_block_add_key(&b, S("box"));
  st_filter_block_add_key(&b, S("hello"));
  st_slice out;
  assert_int_equal(st_filter_block_finish(&b, &out), 0);

  char want[20 + 5 * 4 + 4 + 1];
  put_hash(want, "foo");
  put_hash(want + 4, "bar");
  put_hash(want + 8, "box");
  put_hash(want + 12, "box");
  put_hash(want + 16, "hello");
  uint32_t offs[] = {0, 8, 12, 12, 12, 20};
  for (int i = 0; i < 6; i++)
    st_put_fixed32(want + 20 + 4 * i, offs[i]);
  want[44] = 11;
  assert_int_equal(out.size, sizeof want);
  assert_memory_equal(out.data, want, sizeof want);

  st_filter_block_reader r;
  assert_true(st_filter_block_reader_init(&r, p, out));
  assert_int_equal(r.num, 5);
  assert_true(st_filter_block_may_match(&r, 0, S("foo")));
  assert_true(st_filter_block_may_match(&r, 2000, S("bar")));
  assert_false(st_filter_block_may_match(&r, 0, S("box")));
  assert_false(st_filter_block_may_match(&r, 0, S("hello")));
  assert_true(st_filter_block_may_match(&r, 3100, S("box")));
  assert_false(st_filter_block_may_match(&r, 3100, S("foo")));
  /* Empty filters match nothing. */
  assert_false(st_filter_block_may_match(&r, 4100, S("foo")));
  assert_false(st_filter_block_may_match(&r, 6200, S("box")));
  assert_true(st_filter_block_may_match(&r, 9000, S("box")));
  assert_true(st_filter_block_may_match(&r, 9000, S("hello")));
  assert_false(st_filter_block_may_match(&r, 9000, S("foo")));
  /* Beyond the filters. */
  assert_true(st_filter_block_may_match(&r, 10240, S("anything")));
  st_filter_block_builder_free(&b);
  strata_filter_policy_destroy(p);
}

static void test_malformed_blocks(void **state) {
  (void)state;
  strata_filter_policy *p = bloom_policy();
  st_filter_block_reader r;
  for (size_t n = 0; n < 5; n++)
    assert_false(st_filter_block_reader_init(&r, p, st_slice_make("\0\0\0\0\x0b", n)));
  /* Array offset past the end of the filters. */
  assert_false(st_filter_block_reader_init(&r, p, st_slice_make("\1\0\0\0\x0b", 5)));
  /* Offset array not a whole number of words. */
  assert_false(st_filter_block_reader_init(&r, p, st_slice_make("x\0\0\0\0\x0b", 6)));

  /* A good two-filter block, then damaged copies of it. */
  char good[8 + 8 + 4 + 1];
  memcpy(good, "abcdefgh", 8);
  st_put_fixed32(good + 8, 0);
  st_put_fixed32(good + 12, 4);
  st_put_fixed32(good + 16, 8);
  good[20] = 11;
  char bad[sizeof good];
  assert_true(st_filter_block_reader_init(&r, p, st_slice_make(good, sizeof good)));
  assert_int_equal(r.num, 2);
  memcpy(bad, good, sizeof good);
  st_put_fixed32(bad + 12, 9); /* past the filters */
  assert_false(st_filter_block_reader_init(&r, p, st_slice_make(bad, sizeof bad)));
  memcpy(bad, good, sizeof good);
  st_put_fixed32(bad + 8, 5); /* decreasing */
  assert_false(st_filter_block_reader_init(&r, p, st_slice_make(bad, sizeof bad)));
  memcpy(bad, good, sizeof good);
  bad[20] = 64; /* a shift C cannot do */
  assert_false(st_filter_block_reader_init(&r, p, st_slice_make(bad, sizeof bad)));
  bad[20] = 63;
  assert_true(st_filter_block_reader_init(&r, p, st_slice_make(bad, sizeof bad)));
  assert_true(st_filter_block_may_match(&r, UINT64_MAX, S("k")));

  /* Random damage: either rejected or safe to query (ASan watches). The
   * copy is exact-size so that any read past the end is caught. */
  st_random rnd;
  st_random_init(&rnd, 7);
  for (int round = 0; round < 2000; round++) {
    size_t n = 5 + st_random_uniform(&rnd, sizeof good - 4);
    char *d = malloc(n);
    memcpy(d, good + sizeof good - n, n);
    int flips = 1 + (int)st_random_uniform(&rnd, 3);
    for (int f = 0; f < flips; f++)
      d[st_random_uniform(&rnd, (uint32_t)n)] ^= (char)(1 + st_random_uniform(&rnd, 255));
    if (st_filter_block_reader_init(&r, p, st_slice_make(d, n))) {
      for (int q = 0; q < 8; q++)
        st_filter_block_may_match(&r, (uint64_t)st_random_next(&rnd) << (q * 4), S("key"));
    }
    free(d);
  }
  strata_filter_policy_destroy(p);
}

static int key_of(char *buf, uint32_t i) {
  /* Varying lengths, as LevelDB's bloom tests: 4-byte binary keys for
   * even i, longer text keys for odd i. */
  if (i % 2 == 0) {
    st_put_fixed32(buf, i);
    return 4;
  }
  return snprintf(buf, 32, "key-%u-%u", i, i * 7919u);
}

static void test_bloom_accuracy(void **state) {
  (void)state;
  strata_filter_policy *p = bloom_policy();
  int sizes[] = {1, 10, 100, 1000, 10000};
  for (int s = 0; s < 5; s++) {
    uint32_t n = (uint32_t)sizes[s];
    st_filter_block_builder b;
    st_filter_block_builder_init(&b, p);
    st_filter_block_start(&b, 0);
    char k[32];
    for (uint32_t i = 0; i < n; i++)
      assert_int_equal(st_filter_block_add_key(&b, st_slice_make(k, (size_t)key_of(k, i))), 0);
    st_slice out;
    assert_int_equal(st_filter_block_finish(&b, &out), 0);
    st_filter_block_reader r;
    assert_true(st_filter_block_reader_init(&r, p, out));
    /* Never a false negative. */
    for (uint32_t i = 0; i < n; i++)
      assert_true(st_filter_block_may_match(&r, 0, st_slice_make(k, (size_t)key_of(k, i))));
    /* 10 bits per key: about 1% false positives; allow 2%. */
    if (n >= 1000) {
      int fp = 0;
      for (uint32_t i = 0; i < 10000; i++)
        fp +=
            st_filter_block_may_match(&r, 0, st_slice_make(k, (size_t)key_of(k, i + 1000000000u)));
      assert_true(fp < 200);
    }
    st_filter_block_builder_free(&b);
  }
  strata_filter_policy_destroy(p);
}

/* ---- tables with filters ----------------------------------------------- */

typedef struct mem_wfile {
  st_wfile base;
  st_buf *buf;
} mem_wfile;

static int mw_append(st_wfile *f, const char *data, size_t n) {
  return st_buf_append(((mem_wfile *)f)->buf, data, n);
}
static int mw_flush(st_wfile *f) {
  (void)f;
  return 0;
}
static int mw_close(st_wfile *f) {
  free(f);
  return 0;
}

/* Reads from memory, counting reads past the open (*reads, when set). */
typedef struct mem_rafile {
  st_rafile base;
  const char *data;
  size_t size;
  int map; /* hand out pointers into data instead of copying */
  int *reads;
} mem_rafile;

static int mr_read(const st_rafile *f, uint64_t off, size_t n, char *scratch, st_slice *out) {
  const mem_rafile *r = (const mem_rafile *)f;
  if (r->reads) (*r->reads)++;
  if (off >= r->size) n = 0;
  if (n > r->size - off) n = r->size - (size_t)off;
  if (r->map) {
    *out = st_slice_make(r->data + off, n);
  } else {
    if (n) memcpy(scratch, r->data + off, n);
    *out = st_slice_make(scratch, n);
  }
  return 0;
}
static void mr_close(st_rafile *f) { free(f); }

typedef struct kv {
  st_buf key; /* internal key */
  st_buf val;
} kv;

static void kv_free(kv *e, int n) {
  for (int i = 0; i < n; i++) {
    st_buf_free(&e[i].key);
    st_buf_free(&e[i].val);
  }
  free(e);
}

static int kv_cmp(const void *a, const void *b) {
  return st_icmp(UCMP, st_buf_slice(&((const kv *)a)->key), st_buf_slice(&((const kv *)b)->key));
}

static st_buf ikey(const char *user, size_t ulen, uint64_t seq, int type) {
  st_buf b = ST_BUF_INIT;
  assert_int_equal(st_ikey_append(&b, st_slice_make(user, ulen), seq, type), 0);
  return b;
}

static st_table_options table_opts(const strata_filter_policy *p, size_t block_size, int comp) {
  st_table_options o;
  memset(&o, 0, sizeof o);
  o.ucmp = UCMP;
  o.block_size = block_size;
  o.restart_interval = 16;
  o.compression = comp;
  o.filter_policy = p;
  return o;
}

static st_buf build(const kv *e, int n, const st_table_options *o) {
  st_buf out = ST_BUF_INIT;
  mem_wfile *w = calloc(1, sizeof *w);
  w->base.append = mw_append;
  w->base.flush = mw_flush;
  w->base.sync = mw_flush;
  w->base.close = mw_close;
  w->buf = &out;
  st_table_builder *b = st_table_builder_new(o, &w->base);
  assert_non_null(b);
  for (int i = 0; i < n; i++)
    assert_int_equal(st_table_builder_add(b, st_buf_slice(&e[i].key), st_buf_slice(&e[i].val)), 0);
  assert_int_equal(st_table_builder_finish(b), 0);
  st_table_builder_free(b);
  w->base.close(&w->base);
  return out;
}

static st_table *open_counted(const st_buf *file, const st_table_options *o, int map, int *reads) {
  mem_rafile *r = calloc(1, sizeof *r);
  r->base.read = mr_read;
  r->base.close = mr_close;
  r->data = file->data;
  r->size = file->size;
  r->map = map;
  r->reads = reads;
  st_table *t = NULL;
  int rc = st_table_open(o, &r->base, file->size, "/db/000042.ldb", &t);
  if (rc) fail_msg("open: %s", strata_errmsg());
  return t;
}

typedef struct found {
  int calls;
  st_buf key, val;
} found;

static int collect(void *arg, st_slice k, st_slice v) {
  found *f = arg;
  f->calls++;
  st_buf_set(&f->key, k.data, k.size);
  st_buf_set(&f->val, v.data, v.size);
  return 0;
}

/* Looks user up at the newest sequence. Returns the data-block reads made
 * (*f gets what fn saw). */
static int lookup(st_table *t, int *reads, const char *user, size_t ulen, found *f) {
  st_buf k = ikey(user, ulen, ST_MAX_SEQUENCE, ST_TYPE_FOR_SEEK);
  f->calls = 0;
  int before = *reads;
  assert_int_equal(st_table_get(t, &RO, st_buf_slice(&k), f, collect), 0);
  st_buf_free(&k);
  return *reads - before;
}

static int fn_user_is(const found *f, const char *user, size_t ulen) {
  return f->calls == 1 && f->key.size == ulen + 8 && memcmp(f->key.data, user, ulen) == 0;
}

/* n user keys "k%05d" of 2*i (one version each, a few with two). */
static kv *even_keys(int n, int *count) {
  kv *e = calloc((size_t)n * 2, sizeof *e);
  int m = 0;
  for (int i = 0; i < n; i++) {
    char u[16];
    int ul = snprintf(u, sizeof u, "k%05d", 2 * i);
    for (int v = 0; v < (i % 9 == 0 ? 2 : 1); v++) {
      e[m].key = ikey(u, (size_t)ul, (uint64_t)(100 + i - v), ST_TYPE_VALUE);
      e[m].val = (st_buf)ST_BUF_INIT;
      char val[64];
      int vl = snprintf(val, sizeof val, "value-%d-%d-%.*s", i, v, i % 30,
                        "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
      st_buf_append(&e[m].val, val, (size_t)vl);
      m++;
    }
  }
  *count = m;
  return e;
}

/* The stored filter block of a table written with policy name `name`. */
static st_slice filter_block_of(const st_buf *file, const char *name) {
  st_footer f;
  assert_int_equal(st_footer_decode(file->data + file->size - ST_FOOTER_SIZE, "x", &f), 0);
  /* Read the metaindex with a table that has no policy: find_meta only. */
  st_table_options o = table_opts(NULL, 4096, 0);
  int reads = 0;
  st_table *t = open_counted(file, &o, 1, &reads);
  char meta[128];
  snprintf(meta, sizeof meta, "filter.%s", name);
  st_block_handle h;
  assert_int_equal(st_table_find_meta(t, meta, &h), 0);
  st_table_close(t);
  /* Stored raw: type byte 0, CRC over contents and type. */
  assert_true(h.offset + h.size + ST_BLOCK_TRAILER_SIZE <= f.metaindex.offset);
  assert_int_equal(file->data[h.offset + h.size], ST_BLOCK_NONE);
  assert_int_equal(st_crc32c_unmask(st_get_fixed32(file->data + h.offset + h.size + 1)),
                   st_crc32c(file->data + h.offset, h.size + 1));
  return st_slice_make(file->data + h.offset, h.size);
}

static void test_table_user_policy(void **state) {
  (void)state;
  hash_policy_state hs = {0, 0};
  strata_filter_policy *p = hash_policy("test.hash", &hs);
  int n;
  kv *e = even_keys(400, &n);
  st_table_options o = table_opts(p, 256, STRATA_COMPRESSION_NONE);
  st_buf file = build(e, n, &o);
  assert_true(hs.creates > 5);

  /* Stored under its name; its filters parse and hold every key. */
  st_slice fb = filter_block_of(&file, "test.hash");
  st_filter_block_reader r;
  assert_true(st_filter_block_reader_init(&r, p, fb));
  assert_true(r.num > 5);

  for (int map = 0; map < 2; map++) {
    int reads = 0;
    st_table *t = open_counted(&file, &o, map, &reads);
    found f = {0, ST_BUF_INIT, ST_BUF_INIT};
    for (int i = 0; i < 400; i++) {
      char u[16];
      int ul = snprintf(u, sizeof u, "k%05d", 2 * i);
      int probes = hs.probes;
      assert_true(lookup(t, &reads, u, (size_t)ul, &f) >= 1);
      assert_true(fn_user_is(&f, u, (size_t)ul));
      assert_int_equal(hs.probes, probes + 1);
      /* Odd keys are absent: the exact-hash filter rules each one out
       * without a data-block read and without calling fn. */
      ul = snprintf(u, sizeof u, "k%05d", 2 * i + 1);
      assert_int_equal(lookup(t, &reads, u, (size_t)ul, &f), 0);
      assert_int_equal(f.calls, 0);
    }
    /* Past the last key the index has no block: no filter probe. */
    int probes = hs.probes;
    assert_int_equal(lookup(t, &reads, "z", 1, &f), 0);
    assert_int_equal(f.calls, 0);
    assert_int_equal(hs.probes, probes);
    st_buf_free(&f.key);
    st_buf_free(&f.val);
    st_table_close(t);
  }
  st_buf_free(&file);
  kv_free(e, n);
  strata_filter_policy_destroy(p);
}

static void test_other_policy_ignored(void **state) {
  (void)state;
  hash_policy_state hs = {0, 0};
  strata_filter_policy *a = hash_policy("test.hash", &hs);
  strata_filter_policy *bloom = bloom_policy();
  int n;
  kv *e = even_keys(300, &n);
  st_table_options wo = table_opts(a, 512, STRATA_COMPRESSION_NONE);
  st_buf file = build(e, n, &wo);

  /* Read with another policy, or none: no filter is used, answers stay
   * right (an absent key costs a block read and finds the next key). */
  const strata_filter_policy *readers[2] = {bloom, NULL};
  for (int k = 0; k < 2; k++) {
    st_table_options ro = table_opts(readers[k], 512, STRATA_COMPRESSION_NONE);
    int reads = 0;
    st_table *t = open_counted(&file, &ro, 0, &reads);
    st_block_handle h;
    assert_int_equal(st_table_find_meta(t, "filter.leveldb.BuiltinBloomFilter2", &h),
                     STRATA_ENOTFOUND);
    found f = {0, ST_BUF_INIT, ST_BUF_INIT};
    int probes = hs.probes;
    for (int i = 0; i < 300; i++) {
      char u[16], next[16];
      int ul = snprintf(u, sizeof u, "k%05d", 2 * i);
      assert_int_equal(lookup(t, &reads, u, (size_t)ul, &f), 1);
      assert_true(fn_user_is(&f, u, (size_t)ul));
      ul = snprintf(u, sizeof u, "k%05d", 2 * i + 1);
      assert_true(lookup(t, &reads, u, (size_t)ul, &f) >= 1);
      if (i + 1 < 300) {
        int nl = snprintf(next, sizeof next, "k%05d", 2 * i + 2);
        assert_true(fn_user_is(&f, next, (size_t)nl));
      }
    }
    assert_int_equal(hs.probes, probes);
    st_buf_free(&f.key);
    st_buf_free(&f.val);
    st_table_close(t);
  }
  st_buf_free(&file);
  kv_free(e, n);
  strata_filter_policy_destroy(a);
  strata_filter_policy_destroy(bloom);
}

static void test_empty_table_with_filter(void **state) {
  (void)state;
  strata_filter_policy *bloom = bloom_policy();
  st_table_options o = table_opts(bloom, 4096, STRATA_COMPRESSION_SNAPPY);
  st_buf file = build(NULL, 0, &o);
  st_slice fb = filter_block_of(&file, "leveldb.BuiltinBloomFilter2");
  assert_int_equal(fb.size, 5);
  assert_memory_equal(fb.data, "\0\0\0\0\x0b", 5);
  int reads = 0;
  st_table *t = open_counted(&file, &o, 0, &reads);
  found f = {0, ST_BUF_INIT, ST_BUF_INIT};
  assert_int_equal(lookup(t, &reads, "a", 1, &f), 0);
  assert_int_equal(f.calls, 0);
  st_table_close(t);
  st_buf_free(&file);
  strata_filter_policy_destroy(bloom);
}

/* Rewrites the trailer CRC of the block at h after its bytes changed. */
static void fix_crc(st_buf *file, st_block_handle h) {
  uint32_t crc = st_crc32c_mask(st_crc32c(file->data + h.offset, h.size + 1));
  st_put_fixed32(file->data + h.offset + h.size + 1, crc);
}

static int try_open(const st_buf *file, const st_table_options *o, st_table **t) {
  mem_rafile *r = calloc(1, sizeof *r);
  r->base.read = mr_read;
  r->base.close = mr_close;
  r->data = file->data;
  r->size = file->size;
  *t = NULL;
  return st_table_open(o, &r->base, file->size, "/db/000042.ldb", t);
}

static void test_damaged_filter_block(void **state) {
  (void)state;
  strata_filter_policy *bloom = bloom_policy();
  int n;
  kv *e = even_keys(300, &n);
  st_table_options o = table_opts(bloom, 512, STRATA_COMPRESSION_NONE);
  st_buf file = build(e, n, &o);
  st_slice fb = filter_block_of(&file, "leveldb.BuiltinBloomFilter2");
  st_block_handle h = {(uint64_t)(fb.data - file.data), fb.size};

  st_buf pristine = ST_BUF_INIT;
  st_buf_append(&pristine, file.data, file.size);
  for (int damage = 0; damage < 2; damage++) {
    const char *want;
    if (damage == 0) {
      file.data[h.offset + 3] ^= 0x20; /* a flipped filter bit: bad CRC */
      want = "block checksum mismatch at offset";
    } else {
      file.data[h.offset + h.size - 1] = 64; /* base_lg; CRC still good */
      fix_crc(&file, h);
      want = "bad filter block at offset";
    }
    /* Not paranoid: the filter is ignored, reads stay correct. */
    int reads = 0;
    st_table *t = open_counted(&file, &o, 0, &reads);
    found f = {0, ST_BUF_INIT, ST_BUF_INIT};
    for (int i = 0; i < 300; i += 7) {
      char u[16];
      int ul = snprintf(u, sizeof u, "k%05d", 2 * i);
      assert_int_equal(lookup(t, &reads, u, (size_t)ul, &f), 1);
      assert_true(fn_user_is(&f, u, (size_t)ul));
      ul = snprintf(u, sizeof u, "k%05d", 2 * i + 1);
      assert_true(lookup(t, &reads, u, (size_t)ul, &f) >= 1); /* no filter */
    }
    st_buf_free(&f.key);
    st_buf_free(&f.val);
    st_table_close(t);

    /* Paranoid: open fails, naming the file. */
    st_table_options po = o;
    po.paranoid_checks = 1;
    assert_int_equal(try_open(&file, &po, &t), STRATA_ECORRUPTION);
    assert_null(t);
    assert_non_null(strstr(strata_errmsg(), "Corruption: /db/000042.ldb: "));
    assert_non_null(strstr(strata_errmsg(), want));
    memcpy(file.data, pristine.data, file.size);
  }
  st_buf_free(&pristine);
  /* Undamaged: paranoid open works and uses the filter. */
  st_table_options po = o;
  po.paranoid_checks = 1;
  int reads = 0;
  st_table *t = open_counted(&file, &po, 0, &reads);
  found f = {0, ST_BUF_INIT, ST_BUF_INIT};
  int skipped = 0;
  for (int i = 0; i < 300; i++) {
    char u[16];
    int ul = snprintf(u, sizeof u, "k%05d", 2 * i + 1);
    skipped += lookup(t, &reads, u, (size_t)ul, &f) == 0;
  }
  assert_true(skipped > 280);
  st_buf_free(&f.key);
  st_buf_free(&f.val);
  st_table_close(t);
  st_buf_free(&file);
  kv_free(e, n);
  strata_filter_policy_destroy(bloom);
}

/* ---- a table LevelDB 1.23 wrote ---------------------------------------- */

/* data/leveldb_bloom.ldb was written by LevelDB 1.23 (Debian's libleveldb)
 * through its C API: a fresh database with a bloom filter policy of 10
 * bits per key, block_size 1024, snappy, the other options default, fed
 * the operations of data/leveldb_bloom.ops (240 puts, a snapshot taken,
 * then overwrites and deletions of some keys, one value 6000 incompressible
 * bytes long), then leveldb_compact_range over everything while the
 * snapshot was held: the memtable became this one table, every version
 * kept. The operation numbered n (from 1) has sequence number n. */

#ifndef STRATA_TEST_DATA_DIR
/* CMake compiles with absolute source paths: the data sits beside us. */
#define STRATA_TEST_DATA_DIR ""
#endif

static void read_data_file(const char *name, st_buf *out) {
  char path[1024];
  if (STRATA_TEST_DATA_DIR[0]) {
    snprintf(path, sizeof path, "%s/%s", STRATA_TEST_DATA_DIR, name);
  } else {
    const char *slash = strrchr(__FILE__, '/');
    int dirlen = slash ? (int)(slash - __FILE__) : 1;
    snprintf(path, sizeof path, "%.*s/data/%s", dirlen, slash ? __FILE__ : ".", name);
  }
  if (st_env_read_file(st_env_posix(), path, out)) fail_msg("%s", strata_errmsg());
}

typedef struct golden {
  st_buf file;
  kv *entries; /* in internal-key order */
  int n;
  /* The newest operation per user key, for lookups. */
  int nusers;
  char users[512][16];
  int newest[512]; /* index into entries */
} golden;

static void load_golden(golden *g) {
  memset(g, 0, sizeof *g);
  read_data_file("leveldb_bloom.ldb", &g->file);
  st_buf ops = ST_BUF_INIT;
  read_data_file("leveldb_bloom.ops", &ops);
  assert_int_equal(st_buf_push(&ops, '\0'), 0);
  g->entries = calloc(1024, sizeof *g->entries);
  uint64_t seq = 0;
  for (char *line = strtok(ops.data, "\n"); line; line = strtok(NULL, "\n")) {
    if (line[0] == '#') continue;
    char *op = line, *key = strchr(op, ' ');
    assert_non_null(key);
    *key++ = '\0';
    char *val = strchr(key, ' ');
    if (val) *val++ = '\0';
    int put = strcmp(op, "put") == 0;
    assert_true(put ? val != NULL : strcmp(op, "del") == 0);
    assert_true(g->n < 1024 && strlen(key) < 16);
    kv *x = &g->entries[g->n++];
    x->key = ikey(key, strlen(key), ++seq, put ? ST_TYPE_VALUE : ST_TYPE_DELETION);
    x->val = (st_buf)ST_BUF_INIT;
    if (put) st_buf_append(&x->val, val, strlen(val));
  }
  st_buf_free(&ops);
  qsort(g->entries, (size_t)g->n, sizeof *g->entries, kv_cmp);
  /* The first entry of each user key is its newest. */
  for (int i = 0; i < g->n; i++) {
    st_slice u = st_ikey_user(st_buf_slice(&g->entries[i].key));
    if (i > 0 && st_slice_eq(u, st_ikey_user(st_buf_slice(&g->entries[i - 1].key)))) continue;
    assert_true(g->nusers < 512);
    memcpy(g->users[g->nusers], u.data, u.size);
    g->users[g->nusers][u.size] = '\0';
    g->newest[g->nusers++] = i;
  }
}

static void free_golden(golden *g) {
  st_buf_free(&g->file);
  kv_free(g->entries, g->n);
}

static void test_leveldb_golden_read(void **state) {
  (void)state;
  golden g;
  load_golden(&g);
  assert_int_equal(g.n, 323);
  assert_int_equal(g.nusers, 240);
  strata_filter_policy *bloom = bloom_policy();
  st_table_options o = table_opts(bloom, 1024, STRATA_COMPRESSION_SNAPPY);

  for (int map = 0; map < 2; map++) {
    int reads = 0;
    st_table *t = open_counted(&g.file, &o, map, &reads);
    /* Every entry, in order: LevelDB kept every version. */
    st_iter *it = st_table_iter(t, &RO);
    int i = 0;
    for (st_iter_seek_to_first(it); st_iter_valid(it); st_iter_next(it), i++) {
      assert_true(i < g.n);
      assert_true(st_slice_eq(st_iter_key(it), st_buf_slice(&g.entries[i].key)));
      assert_true(st_slice_eq(st_iter_value(it), st_buf_slice(&g.entries[i].val)));
    }
    assert_int_equal(st_iter_status(it), 0);
    assert_int_equal(i, g.n);
    st_iter_destroy(it);

    /* Every key present: found, newest version, through LevelDB's filter. */
    found f = {0, ST_BUF_INIT, ST_BUF_INIT};
    for (int u = 0; u < g.nusers; u++) {
      assert_true(lookup(t, &reads, g.users[u], strlen(g.users[u]), &f) >= 1);
      assert_int_equal(f.calls, 1);
      assert_true(st_slice_eq(st_buf_slice(&f.key), st_buf_slice(&g.entries[g.newest[u]].key)));
      assert_true(st_slice_eq(st_buf_slice(&f.val), st_buf_slice(&g.entries[g.newest[u]].val)));
    }
    /* Absent keys between the present ones: the filter answers almost all
     * without reading a data block, and then fn is not called. */
    int skipped = 0, total_reads = 0;
    for (int k = 0; k < 720; k++) {
      if (k % 3 == 0) continue; /* present */
      char u[16];
      int ul = snprintf(u, sizeof u, "user-%05d", k);
      int r = lookup(t, &reads, u, (size_t)ul, &f);
      total_reads += r;
      if (r == 0) {
        assert_int_equal(f.calls, 0);
        skipped++;
      }
    }
    assert_true(skipped >= 480 - 10); /* 480 probes, ~1% false positives */
    assert_true(total_reads <= 20);
    st_buf_free(&f.key);
    st_buf_free(&f.val);
    st_table_close(t);
  }

  /* The same probes without a policy read a block each. */
  st_table_options plain = table_opts(NULL, 1024, STRATA_COMPRESSION_SNAPPY);
  int reads = 0;
  st_table *t = open_counted(&g.file, &plain, 0, &reads);
  found f = {0, ST_BUF_INIT, ST_BUF_INIT};
  assert_true(lookup(t, &reads, "user-00001", 10, &f) >= 1);
  assert_true(fn_user_is(&f, "user-00003", 10));
  st_buf_free(&f.key);
  st_buf_free(&f.val);
  st_table_close(t);
  strata_filter_policy_destroy(bloom);
  free_golden(&g);
}

static void test_leveldb_golden_write(void **state) {
  (void)state;
  golden g;
  load_golden(&g);
  strata_filter_policy *bloom = bloom_policy();
  st_table_options o = table_opts(bloom, 1024, STRATA_COMPRESSION_SNAPPY);
  st_buf mine = build(g.entries, g.n, &o);

  /* The filter block is LevelDB's, byte for byte: several data blocks per
   * 2 KiB range, empty ranges under the 6000-byte value, repeated user
   * keys. */
  st_slice theirs = filter_block_of(&g.file, "leveldb.BuiltinBloomFilter2");
  st_slice ours = filter_block_of(&mine, "leveldb.BuiltinBloomFilter2");
  st_filter_block_reader r;
  assert_true(st_filter_block_reader_init(&r, bloom, theirs));
  int empty = 0;
  for (uint32_t i = 0; i < r.num; i++)
    empty += st_get_fixed32(r.array + 4 * i) == st_get_fixed32(r.array + 4 * i + 4);
  assert_true(r.num >= 6);
  assert_true(empty >= 1);
  assert_int_equal(ours.size, theirs.size);
  assert_memory_equal(ours.data, theirs.data, theirs.size);
  /* And so is the whole table. */
  assert_int_equal(mine.size, g.file.size);
  assert_memory_equal(mine.data, g.file.data, g.file.size);

  st_buf_free(&mine);
  strata_filter_policy_destroy(bloom);
  free_golden(&g);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_empty_block),          cmocka_unit_test(test_single_range),
      cmocka_unit_test(test_multiple_ranges),      cmocka_unit_test(test_malformed_blocks),
      cmocka_unit_test(test_bloom_accuracy),       cmocka_unit_test(test_table_user_policy),
      cmocka_unit_test(test_other_policy_ignored), cmocka_unit_test(test_empty_table_with_filter),
      cmocka_unit_test(test_damaged_filter_block), cmocka_unit_test(test_leveldb_golden_read),
      cmocka_unit_test(test_leveldb_golden_write),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
