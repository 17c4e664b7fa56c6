/* version_edit_test.c - decoding of version edits (db/version_edit.c):
 * round trip, and the comparator-name field found by the MANIFEST fuzzer
 * (a repeated field leaked the first name; a NUL passed a name off as its
 * prefix). */
#include <malloc.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "db/version_edit.h"
#include "util/buf.h"
#include "util/coding.h"

#if defined(__SANITIZE_ADDRESS__)
size_t __sanitizer_get_current_allocated_bytes(void);
#endif

static size_t allocated_bytes(void) {
#if defined(__SANITIZE_ADDRESS__)
  return __sanitizer_get_current_allocated_bytes();
#else
  return mallinfo2().uordblks;
#endif
}

/* An edit of comparator-name fields (tag 1), one per name (n bytes each). */
static void comparator_fields(st_buf *b, const char *const *names, const size_t *lens, int n) {
  for (int i = 0; i < n; i++) {
    assert_int_equal(st_buf_put_varint32(b, 1), 0);
    assert_int_equal(st_buf_put_varint32(b, (uint32_t)lens[i]), 0);
    assert_int_equal(st_buf_append(b, names[i], lens[i]), 0);
  }
}

static void test_round_trip(void **state) {
  (void)state;
  st_version_edit e, d;
  st_edit_init(&e);
  assert_int_equal(st_edit_set_comparator(&e, "leveldb.BytewiseComparator"), 0);
  st_edit_set_log_number(&e, 7);
  st_edit_set_next_file(&e, 9);
  st_edit_set_last_sequence(&e, 1234);
  st_buf rec = ST_BUF_INIT;
  assert_int_equal(st_edit_encode(&e, &rec), 0);
  st_edit_init(&d);
  assert_int_equal(st_edit_decode(&d, st_buf_slice(&rec)), 0);
  assert_string_equal(d.comparator, "leveldb.BytewiseComparator");
  assert_int_equal(d.log_number, 7);
  assert_int_equal(d.next_file_number, 9);
  assert_int_equal(d.last_sequence, 1234);
  st_edit_clear(&d);
  st_edit_clear(&e);
  st_buf_free(&rec);
}

static void test_repeated_comparator(void **state) {
  (void)state;
  const char *names[] = {"first.Comparator", "second.Comparator"};
  size_t lens[] = {16, 17};
  st_buf rec = ST_BUF_INIT;
  comparator_fields(&rec, names, lens, 2);
  size_t before = 0;
  for (int i = 0; i < 520; i++) {
    if (i == 20) before = allocated_bytes();
    st_version_edit d;
    st_edit_init(&d);
    assert_int_equal(st_edit_decode(&d, st_buf_slice(&rec)), 0);
    assert_string_equal(d.comparator, "second.Comparator"); /* the last one */
    st_edit_clear(&d);
  }
  /* Each decode leaked the first name (17 bytes) before the fix. */
  size_t after = allocated_bytes();
  if (after > before + 2000) fail_msg("500 decodes kept %zu bytes", after - before);
  st_buf_free(&rec);
}

static void test_comparator_with_nul(void **state) {
  (void)state;
  const char *names[] = {"leveldb.BytewiseComparator\0junk"};
  size_t lens[] = {31};
  st_buf rec = ST_BUF_INIT;
  comparator_fields(&rec, names, lens, 1);
  st_version_edit d;
  st_edit_init(&d);
  assert_int_equal(st_edit_decode(&d, st_buf_slice(&rec)), STRATA_ECORRUPTION);
  st_edit_clear(&d);
  st_buf_free(&rec);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_round_trip),
      cmocka_unit_test(test_repeated_comparator),
      cmocka_unit_test(test_comparator_with_nul),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
