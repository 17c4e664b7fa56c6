/* buf_test.c - the growable byte buffer (st_buf / strata_buf). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "util/buf.h"
#include "util/error.h"

/* Let the out-of-memory test see realloc fail instead of ASan aborting. */
const char *__asan_default_options(void);
const char *__asan_default_options(void) { return "allocator_may_return_null=1"; }

static void test_append_and_grow(void **state) {
  (void)state;
  st_buf b = ST_BUF_INIT;
  assert_int_equal(st_buf_append(&b, "", 0), 0);
  assert_int_equal(b.size, 0);
  assert_int_equal(st_buf_append(&b, "hello", 5), 0);
  assert_int_equal(st_buf_push(&b, ' '), 0);
  assert_int_equal(st_buf_append(&b, "world", 5), 0);
  assert_int_equal(b.size, 11);
  assert_memory_equal(b.data, "hello world", 11);
  assert_true(b.cap >= b.size);

  /* Grow well past the first allocation, one byte at a time. */
  for (int i = 0; i < 100000; i++)
    assert_int_equal(st_buf_push(&b, (char)i), 0);
  assert_int_equal(b.size, 100011);
  for (int i = 0; i < 100000; i++)
    assert_int_equal(b.data[11 + i], (char)i);
  assert_memory_equal(b.data, "hello world", 11);

  st_slice s = st_buf_slice(&b);
  assert_ptr_equal(s.data, b.data);
  assert_int_equal(s.size, b.size);
  st_buf_free(&b);
  assert_null(b.data);
  assert_int_equal(b.size, 0);
  assert_int_equal(b.cap, 0);
  st_buf_free(&b);
  strata_buf_free(NULL);
}

static void test_set_keeps_capacity(void **state) {
  (void)state;
  st_buf b = ST_BUF_INIT;
  char big[5000];
  memset(big, 'q', sizeof big);
  assert_int_equal(st_buf_set(&b, big, sizeof big), 0);
  size_t cap = b.cap;
  char *data = b.data;
  /* Shorter contents reuse the allocation: no shrinking, no moving. */
  for (int i = 0; i < 100; i++) {
    assert_int_equal(st_buf_set(&b, "abc", 3), 0);
    assert_int_equal(b.size, 3);
    assert_int_equal(b.cap, cap);
    assert_ptr_equal(b.data, data);
  }
  assert_memory_equal(b.data, "abc", 3);
  assert_int_equal(st_buf_set(&b, "", 0), 0);
  assert_int_equal(b.size, 0);
  st_buf_free(&b);
}

static void test_reserve(void **state) {
  (void)state;
  st_buf b = ST_BUF_INIT;
  assert_int_equal(st_buf_reserve(&b, 1000), 0);
  assert_true(b.cap >= 1000);
  assert_int_equal(b.size, 0);
  char *data = b.data;
  for (int i = 0; i < 1000; i++)
    st_buf_push(&b, 'x');
  assert_ptr_equal(b.data, data); /* reserved room was used, no realloc */
  assert_int_equal(st_buf_reserve(&b, 0), 0);
  st_buf_free(&b);
}

static void test_encodings(void **state) {
  (void)state;
  st_buf b = ST_BUF_INIT;
  assert_int_equal(st_buf_put_fixed32(&b, 0x04030201u), 0);
  assert_int_equal(st_buf_put_fixed64(&b, 0x0c0b0a0908070605ull), 0);
  assert_memory_equal(b.data, "\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c", 12);
  b.size = 0;

  uint32_t v32s[] = {0, 1, 127, 128, 300, 16384, UINT32_MAX};
  uint64_t v64s[] = {0, 1, 1ull << 35, UINT64_MAX};
  for (size_t i = 0; i < sizeof v32s / sizeof v32s[0]; i++)
    st_buf_put_varint32(&b, v32s[i]);
  for (size_t i = 0; i < sizeof v64s / sizeof v64s[0]; i++)
    st_buf_put_varint64(&b, v64s[i]);
  assert_int_equal(st_buf_put_length_prefixed(&b, st_slice_make("key", 3)), 0);
  assert_int_equal(st_buf_put_length_prefixed(&b, st_slice_make("", 0)), 0);

  const char *p = b.data, *limit = b.data + b.size;
  for (size_t i = 0; i < sizeof v32s / sizeof v32s[0]; i++) {
    uint32_t v;
    p = st_get_varint32(p, limit, &v);
    assert_non_null(p);
    assert_int_equal(v, v32s[i]);
  }
  for (size_t i = 0; i < sizeof v64s / sizeof v64s[0]; i++) {
    uint64_t v;
    p = st_get_varint64(p, limit, &v);
    assert_non_null(p);
    assert_int_equal(v, v64s[i]);
  }
  st_slice s;
  p = st_get_length_prefixed(p, limit, &s);
  assert_non_null(p);
  assert_int_equal(s.size, 3);
  assert_memory_equal(s.data, "key", 3);
  p = st_get_length_prefixed(p, limit, &s);
  assert_non_null(p);
  assert_int_equal(s.size, 0);
  assert_ptr_equal(p, limit);

  /* Encoders straddling a reallocation keep everything. */
  st_buf c = ST_BUF_INIT;
  for (uint32_t i = 0; i < 10000; i++)
    st_buf_put_varint32(&c, i * 977u);
  p = c.data;
  for (uint32_t i = 0; i < 10000; i++) {
    uint32_t v;
    p = st_get_varint32(p, c.data + c.size, &v);
    assert_non_null(p);
    assert_int_equal(v, i * 977u);
  }
  st_buf_free(&c);
  st_buf_free(&b);
}

static void test_out_of_memory(void **state) {
  (void)state;
  st_buf b = ST_BUF_INIT;
  assert_int_equal(st_buf_append(&b, "abc", 3), 0);
  size_t cap = b.cap;
  char *data = b.data;
  /* size + extra overflows size_t. */
  st_err_clear();
  assert_int_equal(st_buf_reserve(&b, SIZE_MAX), STRATA_ENOMEM);
  assert_string_not_equal(strata_errmsg(), "");
  assert_int_equal(b.size, 3);
  assert_int_equal(b.cap, cap);
  assert_ptr_equal(b.data, data);
  /* An allocation no machine can satisfy: the buffer is left as it was. */
  st_err_clear();
  assert_int_equal(st_buf_reserve(&b, SIZE_MAX / 2), STRATA_ENOMEM);
  assert_non_null(strstr(strata_errmsg(), "Out of memory"));
  assert_int_equal(b.size, 3);
  assert_int_equal(b.cap, cap);
  assert_memory_equal(b.data, "abc", 3);
  assert_int_equal(st_buf_append(&b, "d", 1), 0);
  assert_memory_equal(b.data, "abcd", 4);
  st_buf_free(&b);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_append_and_grow), cmocka_unit_test(test_set_keeps_capacity),
      cmocka_unit_test(test_reserve),         cmocka_unit_test(test_encodings),
      cmocka_unit_test(test_out_of_memory),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
