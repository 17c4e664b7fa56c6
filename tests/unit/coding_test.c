/* coding_test.c - fixed-width and varint encodings (LevelDB's formats). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "util/coding.h"

static void test_fixed32(void **state) {
  (void)state;
  char b[4];
  st_put_fixed32(b, 0x04030201u);
  /* Little-endian whatever the host. */
  assert_memory_equal(b, "\x01\x02\x03\x04", 4);
  for (uint32_t v = 0; v < 100000; v++) {
    st_put_fixed32(b, v * 2654435761u);
    assert_int_equal(st_get_fixed32(b), v * 2654435761u);
  }
  st_put_fixed32(b, UINT32_MAX);
  assert_int_equal(st_get_fixed32(b), UINT32_MAX);
}

static void test_fixed64(void **state) {
  (void)state;
  char b[8];
  st_put_fixed64(b, 0x0807060504030201ull);
  assert_memory_equal(b, "\x01\x02\x03\x04\x05\x06\x07\x08", 8);
  for (int power = 0; power <= 63; power++) {
    uint64_t v = (uint64_t)1 << power;
    uint64_t cases[3] = {v - 1, v, v + 1};
    for (int i = 0; i < 3; i++) {
      st_put_fixed64(b, cases[i]);
      assert_int_equal(st_get_fixed64(b), cases[i]);
    }
  }
  st_put_fixed64(b, UINT64_MAX);
  assert_int_equal(st_get_fixed64(b), UINT64_MAX);
}

/* Encodes v, checks the length and the decode, and that every strict
 * prefix is rejected as truncated. */
static void check_varint32(uint32_t v) {
  char b[ST_MAX_VARINT32 + 4];
  memset(b, 0x55, sizeof b);
  char *end = st_put_varint32(b, v);
  int len = (int)(end - b);
  assert_int_equal(len, st_varint_length(v));
  assert_true(len >= 1 && len <= ST_MAX_VARINT32);
  uint32_t got = ~v;
  assert_ptr_equal(st_get_varint32(b, end, &got), end);
  assert_int_equal(got, v);
  /* Extra bytes after the varint are not consumed. */
  assert_ptr_equal(st_get_varint32(b, b + sizeof b, &got), end);
  assert_int_equal(got, v);
  for (int cut = 0; cut < len; cut++)
    assert_null(st_get_varint32(b, b + cut, &got));
  /* A varint32 is also a valid varint64. */
  uint64_t got64;
  assert_ptr_equal(st_get_varint64(b, end, &got64), end);
  assert_int_equal(got64, v);
}

static void check_varint64(uint64_t v) {
  char b[ST_MAX_VARINT64 + 4];
  char *end = st_put_varint64(b, v);
  int len = (int)(end - b);
  assert_int_equal(len, st_varint_length(v));
  assert_true(len >= 1 && len <= ST_MAX_VARINT64);
  uint64_t got = ~v;
  assert_ptr_equal(st_get_varint64(b, end, &got), end);
  assert_int_equal(got, v);
  for (int cut = 0; cut < len; cut++)
    assert_null(st_get_varint64(b, b + cut, &got));
  /* Too big for 32 bits: the 32-bit decoder refuses it. */
  if (v > UINT32_MAX) {
    uint32_t g32;
    assert_null(st_get_varint32(b, end, &g32));
  }
}

static void test_varint32_boundaries(void **state) {
  (void)state;
  for (int bits = 0; bits <= 32; bits++) {
    uint64_t p = (uint64_t)1 << bits;
    uint64_t cases[3] = {p - 1, p, p + 1};
    for (int i = 0; i < 3; i++)
      if (cases[i] <= UINT32_MAX) check_varint32((uint32_t)cases[i]);
  }
  /* Each length boundary: 1..5 bytes. */
  static const struct {
    uint32_t v;
    int len;
  } edges[] = {{0, 1},       {127, 1},     {128, 2},       {16383, 2},     {16384, 3},
               {2097151, 3}, {2097152, 4}, {268435455, 4}, {268435456, 5}, {UINT32_MAX, 5}};
  for (size_t i = 0; i < sizeof edges / sizeof edges[0]; i++) {
    assert_int_equal(st_varint_length(edges[i].v), edges[i].len);
    check_varint32(edges[i].v);
  }
  for (uint32_t v = 0; v < (1u << 15); v++)
    check_varint32(v);
  uint32_t x = 1;
  for (int i = 0; i < 100000; i++) {
    x = x * 1103515245u + 12345u;
    check_varint32(x);
    check_varint32(x >> (i % 32));
  }
  /* Known bytes. */
  char b[8];
  assert_int_equal(st_put_varint32(b, 300) - b, 2);
  assert_memory_equal(b, "\xac\x02", 2);
  assert_int_equal(st_put_varint32(b, UINT32_MAX) - b, 5);
  assert_memory_equal(b, "\xff\xff\xff\xff\x0f", 5);
}

static void test_varint64_boundaries(void **state) {
  (void)state;
  for (int bits = 0; bits <= 64; bits++) {
    uint64_t p = bits == 64 ? 0 : (uint64_t)1 << bits;
    check_varint64(p - 1);
    if (bits < 64) {
      check_varint64(p);
      check_varint64(p + 1);
    }
  }
  for (int n = 1; n <= 10; n++) {
    /* Largest value of n bytes and the smallest of n+1. */
    uint64_t max_n = n * 7 >= 64 ? UINT64_MAX : ((uint64_t)1 << (7 * n)) - 1;
    assert_int_equal(st_varint_length(max_n), n);
    if (max_n != UINT64_MAX) assert_int_equal(st_varint_length(max_n + 1), n + 1);
  }
  char b[16];
  assert_int_equal(st_put_varint64(b, UINT64_MAX) - b, 10);
  assert_memory_equal(b, "\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 10);
  uint64_t x = 88172645463325252ull;
  for (int i = 0; i < 100000; i++) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    check_varint64(x >> (i % 64));
  }
}

static void test_varint_overlong(void **state) {
  (void)state;
  uint32_t v32;
  uint64_t v64;
  /* 5th byte of a varint32 carries more than the 4 remaining bits. */
  assert_null(
      st_get_varint32("\xff\xff\xff\xff\x1f", (const char *)"\xff\xff\xff\xff\x1f" + 5, &v32));
  assert_null(
      st_get_varint32("\x80\x80\x80\x80\x10", (const char *)"\x80\x80\x80\x80\x10" + 5, &v32));
  /* A continuation bit on the 5th byte: six or more bytes. */
  const char six[] = "\x80\x80\x80\x80\x80\x00";
  assert_null(st_get_varint32(six, six + 6, &v32));
  /* varint64: 10th byte may hold only bit 63; an 11th byte is too many. */
  const char t10[] = "\xff\xff\xff\xff\xff\xff\xff\xff\xff\x02";
  assert_null(st_get_varint64(t10, t10 + 10, &v64));
  const char e11[] = "\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x00";
  assert_null(st_get_varint64(e11, e11 + 11, &v64));
  /* All-continuation input never ends. */
  char cont[32];
  memset(cont, 0x80, sizeof cont);
  assert_null(st_get_varint32(cont, cont + sizeof cont, &v32));
  assert_null(st_get_varint64(cont, cont + sizeof cont, &v64));
  /* Empty input. */
  assert_null(st_get_varint32(cont, cont, &v32));
  assert_null(st_get_varint64(cont, cont, &v64));
  /* Padded (non-minimal) encodings decode as LevelDB decodes them. */
  const char pad[] = "\x81\x80\x00";
  assert_ptr_equal(st_get_varint32(pad, pad + 3, &v32), pad + 3);
  assert_int_equal(v32, 1);
}

static void test_length_prefixed(void **state) {
  (void)state;
  char b[300] = {0};
  char *p = st_put_varint32(b, 200);
  memset(p, 'x', 200);
  const char *end = p + 200;
  st_slice s;
  assert_ptr_equal(st_get_length_prefixed(b, end, &s), end);
  assert_int_equal(s.size, 200);
  assert_ptr_equal(s.data, p);
  /* Body shorter than the length. */
  assert_null(st_get_length_prefixed(b, end - 1, &s));
  /* Length itself truncated. */
  assert_null(st_get_length_prefixed(b, b + 1, &s));
  /* Empty slice. */
  char z[1] = {0};
  assert_ptr_equal(st_get_length_prefixed(z, z + 1, &s), z + 1);
  assert_int_equal(s.size, 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_fixed32),
      cmocka_unit_test(test_fixed64),
      cmocka_unit_test(test_varint32_boundaries),
      cmocka_unit_test(test_varint64_boundaries),
      cmocka_unit_test(test_varint_overlong),
      cmocka_unit_test(test_length_prefixed),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
