/* comparator.c - the bytewise comparator and separator helpers. */
#include "util/comparator.h"

#include <stdlib.h>
#include <string.h>

#include "util/error.h"

const st_comparator st_bytewise_comparator = {
    "leveldb.BytewiseComparator", 1, NULL, NULL, NULL, NULL};

void st_cmp_shortest_separator(const st_comparator *c, st_buf *start, st_slice limit) {
  if (!c->bytewise) {
    if (c->shortest_separator) c->shortest_separator(c->state, start, limit.data, limit.size);
    return;
  }
  /* Find the common prefix; if the next byte of start can be bumped and stay
   * below limit, cut start just after it. */
  size_t min = start->size < limit.size ? start->size : limit.size;
  size_t i = 0;
  while (i < min && start->data[i] == limit.data[i])
    i++;
  if (i >= min) return; /* one is a prefix of the other */
  unsigned char b = (unsigned char)start->data[i];
  if (b < 0xff && b + 1 < (unsigned char)limit.data[i]) {
    start->data[i]++;
    start->size = i + 1;
  }
}

void st_cmp_short_successor(const st_comparator *c, st_buf *key) {
  if (!c->bytewise) {
    if (c->short_successor) c->short_successor(c->state, key);
    return;
  }
  for (size_t i = 0; i < key->size; i++) {
    if ((unsigned char)key->data[i] != 0xff) {
      key->data[i]++;
      key->size = i + 1;
      return;
    }
  }
  /* all 0xff: leave as is */
}

int strata_comparator_create(const char *name, void *state,
                             int (*compare)(void *state, const char *a, size_t alen, const char *b,
                                            size_t blen),
                             void (*destructor)(void *state), strata_comparator **out) {
  if (!out) return st_err(STRATA_EMISUSE, "strata_comparator_create: NULL out");
  *out = NULL;
  if (!name || !compare)
    return st_err(STRATA_EINVAL, "strata_comparator_create: %s is NULL", name ? "compare" : "name");
  strata_comparator *c = calloc(1, sizeof *c);
  char *n = strdup(name);
  if (!c || !n) {
    free(c);
    free(n);
    return st_err(STRATA_ENOMEM, "strata_comparator_create");
  }
  c->cmp.name = n;
  c->cmp.bytewise = 0;
  c->cmp.state = state;
  c->cmp.compare = compare;
  c->destructor = destructor;
  *out = c;
  return 0;
}

void strata_comparator_set_shorteners(strata_comparator *c,
                                      void (*shortest_separator)(void *state, strata_buf *start,
                                                                 const char *limit,
                                                                 size_t limit_len),
                                      void (*short_successor)(void *state, strata_buf *key)) {
  if (!c) return;
  c->cmp.shortest_separator = shortest_separator;
  c->cmp.short_successor = short_successor;
}

void strata_comparator_destroy(strata_comparator *c) {
  if (!c) return;
  if (c->destructor) c->destructor(c->cmp.state);
  free((char *)c->cmp.name);
  free(c);
}
