/* comparator.c - the bytewise comparator and separator helpers. */
#include "util/comparator.h"

const st_comparator st_bytewise_comparator = {
    "leveldb.BytewiseComparator", 1, NULL, NULL, NULL, NULL};

void st_cmp_shortest_separator(const st_comparator *c, st_buf *start,
                               st_slice limit) {
  if (!c->bytewise) {
    if (c->shortest_separator) c->shortest_separator(c->state, start, limit);
    return;
  }
  /* Find the common prefix; if the next byte of start can be bumped and stay
   * below limit, cut start just after it. */
  size_t min = start->size < limit.size ? start->size : limit.size;
  size_t i = 0;
  while (i < min && start->data[i] == limit.data[i]) i++;
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
