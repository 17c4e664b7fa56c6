/* arena_test.c - the memtable's bump allocator. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "util/arena.h"
#include "util/random.h"

static void test_empty(void **state) {
  (void)state;
  st_arena a;
  st_arena_init(&a);
  assert_int_equal(st_arena_memory_usage(&a), 0);
  st_arena_free(&a);
  st_arena_free(&a); /* freeing twice is harmless: free re-initialises */
}

static void test_alignment_and_small(void **state) {
  (void)state;
  st_arena a;
  st_arena_init(&a);
  char *prev = NULL;
  for (size_t n = 1; n <= 64; n++) {
    char *p = st_arena_alloc_aligned(&a, n);
    assert_non_null(p);
    assert_int_equal((uintptr_t)p % 8, 0);
    memset(p, 0xab, n);
    if (prev) assert_true(p != prev);
    prev = p;
  }
  size_t u = st_arena_memory_usage(&a);
  assert_true(u >= 4096); /* one block */
  st_arena_free(&a);
  assert_int_equal(st_arena_memory_usage(&a), 0);
}

/* A large request gets its own block and does not waste the current one:
 * small allocations after it continue in the same block. */
static void test_large_requests(void **state) {
  (void)state;
  st_arena a;
  st_arena_init(&a);
  char *s1 = st_arena_alloc_aligned(&a, 16);
  size_t u1 = st_arena_memory_usage(&a);
  char *big = st_arena_alloc_aligned(&a, 100000);
  assert_non_null(big);
  memset(big, 1, 100000);
  size_t u2 = st_arena_memory_usage(&a);
  assert_true(u2 >= u1 + 100000);
  char *s2 = st_arena_alloc_aligned(&a, 16);
  assert_ptr_equal(s2, s1 + 16);
  assert_int_equal(st_arena_memory_usage(&a), u2);
  st_arena_free(&a);
}

/* Random sizes (mostly small, some large), each filled with a pattern
 * derived from its index; at the end every allocation still holds its own
 * pattern, so none overlapped. */
static void test_random_no_overlap(void **state) {
  (void)state;
  enum { N = 20000 };
  st_arena a;
  st_arena_init(&a);
  char **ptrs = malloc(N * sizeof *ptrs);
  size_t *sizes = malloc(N * sizeof *sizes);
  assert_non_null(ptrs);
  assert_non_null(sizes);
  st_random r;
  st_random_init(&r, 301);
  size_t bytes = 0;
  for (int i = 0; i < N; i++) {
    size_t s;
    if (i % (N / 10) == 0) {
      s = i;
    } else {
      s = st_random_one_in(&r, 4000) ? st_random_uniform(&r, 6000)
          : st_random_one_in(&r, 10) ? st_random_uniform(&r, 100)
                                     : st_random_uniform(&r, 20);
    }
    if (s == 0) s = 1; /* n > 0 is required */
    char *p = st_arena_alloc_aligned(&a, s);
    assert_non_null(p);
    assert_int_equal((uintptr_t)p % 8, 0);
    for (size_t b = 0; b < s; b++)
      p[b] = (char)(i % 256);
    bytes += s;
    ptrs[i] = p;
    sizes[i] = s;
    assert_true(st_arena_memory_usage(&a) >= bytes);
    if (i > N / 10) assert_true(st_arena_memory_usage(&a) <= bytes * 1.10 + 8 * (size_t)i);
  }
  for (int i = 0; i < N; i++)
    for (size_t b = 0; b < sizes[i]; b++)
      assert_int_equal((unsigned char)ptrs[i][b], i % 256);
  st_arena_free(&a);
  free(ptrs);
  free(sizes);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_empty),
      cmocka_unit_test(test_alignment_and_small),
      cmocka_unit_test(test_large_requests),
      cmocka_unit_test(test_random_no_overlap),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
