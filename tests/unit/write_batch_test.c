/*
 * write_batch_test.c - strata_batch and its LevelDB encoding
 * (db/write_batch.c), including insertion into a memtable.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "db/memtable.h"
#include "db/write_batch.h"
#include "util/internal_key.h"

/* Collects iterate callbacks as "put(k,v)del(k)..." */
typedef struct trace {
  char s[4096];
  int calls;
} trace;

static void tr_put(void *state, const char *k, size_t klen, const char *v, size_t vlen) {
  trace *t = state;
  size_t len = strlen(t->s);
  snprintf(t->s + len, sizeof t->s - len, "put(%.*s,%.*s)", (int)klen, k, (int)vlen, v);
  t->calls++;
}

static void tr_del(void *state, const char *k, size_t klen) {
  trace *t = state;
  size_t len = strlen(t->s);
  snprintf(t->s + len, sizeof t->s - len, "del(%.*s)", (int)klen, k);
  t->calls++;
}

static void test_empty(void **state) {
  (void)state;
  strata_batch *b = NULL;
  assert_int_equal(strata_batch_create(&b), 0);
  assert_int_equal(strata_batch_count(b), 0);
  assert_int_equal(strata_batch_size(b), 12);
  st_slice c = st_batch_contents(b);
  assert_int_equal(c.size, 12);
  assert_memory_equal(c.data, "\0\0\0\0\0\0\0\0\0\0\0\0", 12);
  assert_int_equal(st_batch_validate(b), 0);
  trace t = {"", 0};
  assert_int_equal(strata_batch_iterate(b, &t, tr_put, tr_del), 0);
  assert_int_equal(t.calls, 0);
  strata_batch_destroy(b);
  strata_batch_destroy(NULL);
}

/* The exact bytes of a put and a delete, from the grammar by hand. */
static void test_encoding(void **state) {
  (void)state;
  strata_batch *b;
  assert_int_equal(strata_batch_create(&b), 0);
  assert_int_equal(strata_batch_put(b, "key", 3, "value", 5), 0);
  assert_int_equal(strata_batch_delete(b, "dk", 2), 0);
  st_batch_set_sequence(b, 0x0102030405060708ull);
  static const unsigned char want[] = {
      0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01,                /* sequence, LE fixed64 */
      0x02, 0x00, 0x00, 0x00,                                        /* count, LE fixed32 */
      0x01, 0x03, 'k',  'e',  'y',  0x05, 'v',  'a',  'l', 'u', 'e', /* put */
      0x00, 0x02, 'd',  'k'};                                        /* delete */
  st_slice c = st_batch_contents(b);
  assert_int_equal(c.size, sizeof want);
  assert_memory_equal(c.data, want, sizeof want);
  assert_int_equal(strata_batch_size(b), sizeof want);
  assert_int_equal(strata_batch_count(b), 2);
  assert_int_equal(st_batch_sequence(b), 0x0102030405060708ull);
  assert_int_equal(st_batch_get_count(b), 2);

  /* A 200-byte key takes a two-byte varint (200 = 0xc8 0x01); an empty
   * key and value take one zero byte each. */
  strata_batch_clear(b);
  char key[200];
  memset(key, 'x', sizeof key);
  assert_int_equal(strata_batch_put(b, key, sizeof key, "", 0), 0);
  assert_int_equal(strata_batch_put(b, "", 0, "", 0), 0);
  c = st_batch_contents(b);
  assert_int_equal(c.size, 12 + 1 + 2 + 200 + 1 + 1 + 1 + 1);
  assert_int_equal((unsigned char)c.data[12], 0x01);
  assert_int_equal((unsigned char)c.data[13], 0xc8);
  assert_int_equal((unsigned char)c.data[14], 0x01);
  assert_int_equal((unsigned char)c.data[215], 0x00);
  assert_memory_equal(c.data + 216, "\x01\x00\x00", 3);
  strata_batch_destroy(b);
}

static void test_iterate_and_clear(void **state) {
  (void)state;
  strata_batch *b;
  assert_int_equal(strata_batch_create(&b), 0);
  assert_int_equal(strata_batch_put(b, "a", 1, "1", 1), 0);
  assert_int_equal(strata_batch_delete(b, "b", 1), 0);
  assert_int_equal(strata_batch_put(b, "a", 1, "2", 1), 0);
  assert_int_equal(strata_batch_put(b, "c", 1, "", 0), 0);
  assert_int_equal(strata_batch_count(b), 4);
  trace t = {"", 0};
  assert_int_equal(strata_batch_iterate(b, &t, tr_put, tr_del), 0);
  assert_string_equal(t.s, "put(a,1)del(b)put(a,2)put(c,)");
  /* A NULL callback skips that kind. */
  trace t2 = {"", 0};
  assert_int_equal(strata_batch_iterate(b, &t2, NULL, tr_del), 0);
  assert_string_equal(t2.s, "del(b)");

  size_t cap = b->rep.cap;
  st_batch_set_sequence(b, 77);
  strata_batch_clear(b);
  assert_int_equal(strata_batch_count(b), 0);
  assert_int_equal(strata_batch_size(b), 12);
  assert_int_equal(st_batch_sequence(b), 0);
  assert_int_equal(b->rep.cap, cap); /* memory kept */
  assert_int_equal(strata_batch_put(b, "z", 1, "9", 1), 0);
  trace t3 = {"", 0};
  assert_int_equal(strata_batch_iterate(b, &t3, tr_put, tr_del), 0);
  assert_string_equal(t3.s, "put(z,9)");
  strata_batch_destroy(b);
}

static void test_append(void **state) {
  (void)state;
  strata_batch *a, *b;
  assert_int_equal(strata_batch_create(&a), 0);
  assert_int_equal(strata_batch_create(&b), 0);
  assert_int_equal(strata_batch_put(a, "k1", 2, "v1", 2), 0);
  assert_int_equal(strata_batch_delete(b, "k2", 2), 0);
  assert_int_equal(strata_batch_put(b, "k3", 2, "v3", 2), 0);
  st_batch_set_sequence(a, 5);
  st_batch_set_sequence(b, 99);
  assert_int_equal(strata_batch_append(a, b), 0);
  assert_int_equal(strata_batch_count(a), 3);
  assert_int_equal(st_batch_sequence(a), 5); /* dst's header kept */
  trace t = {"", 0};
  assert_int_equal(strata_batch_iterate(a, &t, tr_put, tr_del), 0);
  assert_string_equal(t.s, "put(k1,v1)del(k2)put(k3,v3)");
  assert_int_equal(strata_batch_count(b), 2); /* src unchanged */

  /* Appending an empty batch, and a batch to itself. */
  strata_batch_clear(b);
  assert_int_equal(strata_batch_append(a, b), 0);
  assert_int_equal(strata_batch_count(a), 3);
  for (int i = 0; i < 6; i++)
    assert_int_equal(strata_batch_append(a, a), 0);
  assert_int_equal(strata_batch_count(a), 3 * 64);
  assert_int_equal(st_batch_validate(a), 0);
  trace t2 = {"", 0};
  assert_int_equal(strata_batch_iterate(a, &t2, tr_put, tr_del), 0);
  assert_int_equal(t2.calls, 192);
  strata_batch_destroy(a);
  strata_batch_destroy(b);
}

/* Oversized keys and values are refused before anything is read. */
static void test_too_large(void **state) {
  (void)state;
  if (sizeof(size_t) <= 4) skip();
  strata_batch *b;
  assert_int_equal(strata_batch_create(&b), 0);
  assert_int_equal(strata_batch_put(b, "a", 1, "b", 1), 0);
  size_t size = strata_batch_size(b);
  size_t huge = (size_t)UINT32_MAX + 1;
  assert_int_equal(strata_batch_put(b, "k", huge, "v", 1), STRATA_EINVAL);
  assert_int_equal(strata_batch_put(b, "k", 1, "v", huge), STRATA_EINVAL);
  assert_int_equal(strata_batch_delete(b, "k", huge), STRATA_EINVAL);
  /* The key must leave room for the 8-byte tag of its internal key. */
  assert_int_equal(strata_batch_put(b, "k", (size_t)UINT32_MAX - 7, "v", 1), STRATA_EINVAL);
  assert_int_equal(strata_batch_put(b, NULL, 3, "v", 1), STRATA_EINVAL);
  assert_int_equal(strata_batch_size(b), size);
  assert_int_equal(strata_batch_count(b), 1);
  assert_int_equal(strata_batch_put(NULL, "k", 1, "v", 1), STRATA_EMISUSE);
  strata_batch_destroy(b);
}

/* Batch-level round trip through insert_into and the memtable. */
static void test_insert_into(void **state) {
  (void)state;
  strata_batch b;
  assert_int_equal(st_batch_init(&b), 0);
  assert_int_equal(strata_batch_put(&b, "a", 1, "va", 2), 0);
  assert_int_equal(strata_batch_put(&b, "b", 1, "vb", 2), 0);
  assert_int_equal(strata_batch_delete(&b, "a", 1), 0);
  st_batch_set_sequence(&b, 100);
  st_memtable *m = st_memtable_new(&st_bytewise_comparator);
  assert_non_null(m);
  assert_int_equal(st_batch_insert_into(&b, m), 0);
  assert_int_equal(st_memtable_count(m), 3);
  st_buf v = ST_BUF_INIT;
  assert_int_equal(st_memtable_get(m, st_slice_make("a", 1), 99, &v), ST_MEM_ABSENT);
  assert_int_equal(st_memtable_get(m, st_slice_make("a", 1), 100, &v), ST_MEM_FOUND);
  assert_memory_equal(v.data, "va", 2);
  assert_int_equal(st_memtable_get(m, st_slice_make("a", 1), 101, &v), ST_MEM_FOUND);
  assert_int_equal(st_memtable_get(m, st_slice_make("a", 1), 102, &v), ST_MEM_DELETED);
  assert_int_equal(st_memtable_get(m, st_slice_make("b", 1), 100, &v), ST_MEM_ABSENT);
  assert_int_equal(st_memtable_get(m, st_slice_make("b", 1), 101, &v), ST_MEM_FOUND);
  assert_memory_equal(v.data, "vb", 2);

  /* The memtable's iterator shows the tags the batch implied. */
  st_iter *it = st_memtable_iter(m);
  st_iter_seek_to_first(it);
  st_parsed_ikey pk;
  uint64_t seqs[] = {102, 100, 101};
  int types[] = {ST_TYPE_DELETION, ST_TYPE_VALUE, ST_TYPE_VALUE};
  for (int i = 0; i < 3; i++) {
    assert_true(st_iter_valid(it));
    assert_true(st_ikey_parse(st_iter_key(it), &pk));
    assert_int_equal(pk.sequence, seqs[i]);
    assert_int_equal(pk.type, types[i]);
    st_iter_next(it);
  }
  assert_false(st_iter_valid(it));
  st_iter_destroy(it);

  /* set_contents: a batch copied from its bytes (as log replay does). */
  strata_batch c;
  assert_int_equal(st_batch_init(&c), 0);
  assert_int_equal(st_batch_set_contents(&c, st_batch_contents(&b)), 0);
  assert_int_equal(st_batch_sequence(&c), 100);
  assert_int_equal(strata_batch_count(&c), 3);
  assert_int_equal(st_batch_set_contents(&c, st_slice_make("short", 5)), STRATA_ECORRUPTION);
  assert_int_equal(strata_batch_count(&c), 3); /* unchanged */
  st_batch_release(&c);
  st_buf_free(&v);
  st_memtable_unref(m);
  st_batch_release(&b);
}

/* Damaged encodings: iterate and insert_into refuse them whole. */
static void test_corrupt(void **state) {
  (void)state;
  strata_batch good;
  assert_int_equal(st_batch_init(&good), 0);
  assert_int_equal(strata_batch_put(&good, "key1", 4, "value1", 6), 0);
  assert_int_equal(strata_batch_delete(&good, "key2", 4), 0);
  assert_int_equal(strata_batch_put(&good, "key3", 4, "value3", 6), 0);
  st_batch_set_sequence(&good, 1);
  st_slice g = st_batch_contents(&good);
  /* Offsets: put(key1) at 12 (13 bytes), del(key2) at 25 (6), put(key3) at
   * 31 (13), end 44. */
  assert_int_equal(g.size, 44);

  struct {
    const char *what;
    size_t cut;       /* keep this many bytes (0 = all) */
    size_t at;        /* byte to overwrite (0 = none) */
    unsigned char to; /* its new value */
  } cases[] = {
      {"truncated in last value", 43, 0, 0},
      {"truncated in last key length", 32, 0, 0},
      {"cut after a tag", 26, 0, 0},
      {"unknown tag", 0, 25, 0x02},
      {"key length past end", 0, 26, 0x7f},
      {"value length past end", 0, 18, 0x40},
      {"malformed varint", 0, 13, 0xff},
      {"count too high", 0, 8, 4},
      {"count too low", 0, 8, 2},
      {"count zero", 0, 8, 0},
      {"count high byte", 0, 11, 1},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char buf[64];
    memcpy(buf, g.data, g.size);
    size_t n = cases[i].cut ? cases[i].cut : g.size;
    if (cases[i].at) buf[cases[i].at] = (char)cases[i].to;
    if (cases[i].at == 13) memset(buf + 13, 0xff, 5); /* a varint that never ends */
    strata_batch b;
    assert_int_equal(st_batch_init(&b), 0);
    assert_int_equal(st_batch_set_contents(&b, st_slice_make(buf, n)), 0);
    if (st_batch_validate(&b) != STRATA_ECORRUPTION) fail_msg("accepted: %s", cases[i].what);
    trace t = {"", 0};
    assert_int_equal(strata_batch_iterate(&b, &t, tr_put, tr_del), STRATA_ECORRUPTION);
    assert_int_equal(t.calls, 0); /* no callback saw a damaged batch */
    assert_string_not_equal(strata_errmsg(), "");

    st_memtable *m = st_memtable_new(&st_bytewise_comparator);
    assert_int_equal(st_batch_insert_into(&b, m), STRATA_ECORRUPTION);
    assert_int_equal(st_memtable_count(m), 0);
    st_buf v = ST_BUF_INIT;
    assert_int_equal(st_memtable_get(m, st_slice_make("key1", 4), 10, &v), ST_MEM_ABSENT);
    st_iter *it = st_memtable_iter(m);
    st_iter_seek_to_first(it);
    assert_false(st_iter_valid(it));
    st_iter_destroy(it);
    st_memtable_unref(m);
    st_batch_release(&b);
  }

  /* Every truncation of the good batch is refused. */
  for (size_t n = 12; n < g.size; n++) {
    strata_batch b;
    assert_int_equal(st_batch_init(&b), 0);
    assert_int_equal(st_batch_set_contents(&b, st_slice_make(g.data, n)), 0);
    assert_int_equal(st_batch_validate(&b), STRATA_ECORRUPTION);
    st_batch_release(&b);
  }
  st_batch_release(&good);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_empty),
      cmocka_unit_test(test_encoding),
      cmocka_unit_test(test_iterate_and_clear),
      cmocka_unit_test(test_append),
      cmocka_unit_test(test_too_large),
      cmocka_unit_test(test_insert_into),
      cmocka_unit_test(test_corrupt),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
