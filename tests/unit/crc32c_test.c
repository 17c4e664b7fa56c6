/* crc32c_test.c - CRC-32C values LevelDB's files depend on, and the mask. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "util/crc32c.h"
#include "util/random.h"

/* A second copy of the implementation with CPU detection forced off, so the
 * table-driven path is checked too on machines that have SSE4.2. Renaming
 * the entry point keeps it from clashing with the library's. */
#define st_crc32c_extend sw_only_crc32c_extend
#define __builtin_cpu_supports(feature) 0
#include "util/crc32c.c"
#undef __builtin_cpu_supports
#undef st_crc32c_extend

/* Bit-at-a-time reference: slow, obviously right. */
static uint32_t ref_crc(uint32_t crc, const unsigned char *p, size_t n) {
  crc = ~crc;
  while (n--) {
    crc ^= *p++;
    for (int k = 0; k < 8; k++)
      crc = (crc >> 1) ^ (0x82F63B78u & (0u - (crc & 1)));
  }
  return ~crc;
}

static void test_standard_vectors(void **state) {
  (void)state;
  unsigned char buf[32];
  memset(buf, 0, sizeof buf);
  assert_int_equal(st_crc32c(buf, sizeof buf), 0x8a9136aau);
  memset(buf, 0xff, sizeof buf);
  assert_int_equal(st_crc32c(buf, sizeof buf), 0x62a8ab43u);
  for (int i = 0; i < 32; i++)
    buf[i] = (unsigned char)i;
  assert_int_equal(st_crc32c(buf, sizeof buf), 0x46dd794eu);
  for (int i = 0; i < 32; i++)
    buf[i] = (unsigned char)(31 - i);
  assert_int_equal(st_crc32c(buf, sizeof buf), 0x113fdb5cu);
  assert_int_equal(st_crc32c("123456789", 9), 0xe3069283u);
  assert_int_equal(st_crc32c("", 0), 0);

  /* iSCSI read command PDU from RFC 3720 B.4, LevelDB's crc32c_test too. */
  static const unsigned char iscsi[48] = {
      0x01, 0xc0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
      0x00, 0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00,
      0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x18, 0x28, 0x00, 0x00, 0x00,
      0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
  };
  assert_int_equal(st_crc32c(iscsi, sizeof iscsi), 0xd9963a56u);

  /* The same through the forced-software copy. */
  memset(buf, 0, sizeof buf);
  assert_int_equal(sw_only_crc32c_extend(0, buf, sizeof buf), 0x8a9136aau);
  assert_int_equal(sw_only_crc32c_extend(0, "123456789", 9), 0xe3069283u);
  assert_int_equal(sw_only_crc32c_extend(0, iscsi, sizeof iscsi), 0xd9963a56u);
}

static void test_values_differ(void **state) {
  (void)state;
  assert_int_not_equal(st_crc32c("a", 1), st_crc32c("foo", 3));
}

static void test_extend(void **state) {
  (void)state;
  assert_int_equal(st_crc32c("hello world", 11),
                   st_crc32c_extend(st_crc32c("hello ", 6), "world", 5));
  unsigned char buf[1000];
  for (size_t i = 0; i < sizeof buf; i++)
    buf[i] = (unsigned char)(i * 7 + 1);
  uint32_t whole = st_crc32c(buf, sizeof buf);
  for (size_t cut = 0; cut <= sizeof buf; cut += 37) {
    uint32_t a = st_crc32c(buf, cut);
    assert_int_equal(st_crc32c_extend(a, buf + cut, sizeof buf - cut), whole);
  }
  /* Three pieces, and empty pieces. */
  uint32_t c = st_crc32c_extend(0, buf, 5);
  c = st_crc32c_extend(c, buf + 5, 0);
  c = st_crc32c_extend(c, buf + 5, 500);
  c = st_crc32c_extend(c, buf + 505, sizeof buf - 505);
  assert_int_equal(c, whole);
}

static void test_mask(void **state) {
  (void)state;
  uint32_t crc = st_crc32c("foo", 3);
  assert_int_not_equal(crc, st_crc32c_mask(crc));
  assert_int_not_equal(crc, st_crc32c_mask(st_crc32c_mask(crc)));
  assert_int_equal(crc, st_crc32c_unmask(st_crc32c_mask(crc)));
  assert_int_equal(crc, st_crc32c_unmask(st_crc32c_unmask(st_crc32c_mask(st_crc32c_mask(crc)))));
  st_random r;
  st_random_init(&r, 42);
  for (int i = 0; i < 100000; i++) {
    uint32_t v = st_random_next(&r) ^ (st_random_next(&r) << 16);
    assert_int_equal(st_crc32c_unmask(st_crc32c_mask(v)), v);
    assert_int_not_equal(st_crc32c_mask(v), v);
  }
  /* Edge values. */
  uint32_t edges[] = {0, 1, 0x80000000u, 0xffffffffu, ST_CRC_MASK_DELTA};
  for (size_t i = 0; i < sizeof edges / sizeof edges[0]; i++)
    assert_int_equal(st_crc32c_unmask(st_crc32c_mask(edges[i])), edges[i]);
  /* Known value: rotate right 15 then add the delta. */
  assert_int_equal(st_crc32c_mask(0), ST_CRC_MASK_DELTA);
  assert_int_equal(st_crc32c_mask(1u << 15), 1u + ST_CRC_MASK_DELTA);
}

/* Every length 0..300 at every alignment 0..15, then long random runs, for
 * the active path (hardware where available) and the software copy. */
static void test_against_reference(void **state) {
  (void)state;
  enum { BUF = 70000 };
  unsigned char *buf = malloc(BUF + 16);
  assert_non_null(buf);
  st_random r;
  st_random_init(&r, 301);
  for (size_t i = 0; i < BUF + 16; i++)
    buf[i] = (unsigned char)st_random_next(&r);
  for (size_t align = 0; align < 16; align++) {
    for (size_t n = 0; n <= 300; n++) {
      uint32_t want = ref_crc(0, buf + align, n);
      assert_int_equal(st_crc32c(buf + align, n), want);
      assert_int_equal(sw_only_crc32c_extend(0, buf + align, n), want);
    }
  }
  for (int iter = 0; iter < 200; iter++) {
    size_t off = st_random_uniform(&r, 16);
    size_t n = st_random_uniform(&r, BUF);
    uint32_t seed = st_random_next(&r);
    uint32_t want = ref_crc(seed, buf + off, n);
    assert_int_equal(st_crc32c_extend(seed, buf + off, n), want);
    assert_int_equal(sw_only_crc32c_extend(seed, buf + off, n), want);
  }
  free(buf);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_standard_vectors),
      cmocka_unit_test(test_values_differ),
      cmocka_unit_test(test_extend),
      cmocka_unit_test(test_mask),
      cmocka_unit_test(test_against_reference),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
