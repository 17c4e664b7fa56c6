/* numset.c - growable sorted sets of file numbers (see numset.h). */
#include "util/numset.h"

#include <stdlib.h>

void st_numset_add(void *arg, uint64_t number) {
  st_numset *s = arg;
  if (s->n == s->cap) {
    size_t cap = s->cap ? s->cap * 2 : 64;
    uint64_t *v = realloc(s->v, cap * sizeof *v);
    if (!v) {
      s->oom = 1;
      return;
    }
    s->v = v;
    s->cap = cap;
  }
  s->v[s->n++] = number;
}

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : (x > y);
}

void st_numset_sort(st_numset *s) {
  if (s->n > 1) qsort(s->v, s->n, sizeof *s->v, cmp_u64);
}

long st_numset_index(const st_numset *s, uint64_t number) {
  size_t lo = 0, hi = s->n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (s->v[mid] < number)
      lo = mid + 1;
    else
      hi = mid;
  }
  return (lo < s->n && s->v[lo] == number) ? (long)lo : -1;
}

int st_numset_has(const st_numset *s, uint64_t number) { return st_numset_index(s, number) >= 0; }

void st_numset_free(st_numset *s) {
  free(s->v);
  s->v = NULL;
  s->n = s->cap = 0;
}
