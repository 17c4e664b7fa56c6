/*
 * comparator.h - orderings of user keys.
 *
 * The bytewise comparator ("leveldb.BytewiseComparator", memcmp order) is
 * the default and the hot path: st_ucmp() compares it inline without an
 * indirect call. A user comparator (a later feature) is called through its
 * function pointers. A comparator is immutable after creation and safe to
 * use from any thread.
 */
#ifndef ST_COMPARATOR_H
#define ST_COMPARATOR_H

#include "util/buf.h"
#include "util/slice.h"

typedef struct st_comparator {
  const char *name; /* stored in the MANIFEST; must not change for a db */
  int bytewise;     /* 1: memcmp order, the callbacks below are unused */
  void *state;
  int (*compare)(void *state, const char *a, size_t alen, const char *b, size_t blen);
  /* Optional (NULL = leave unchanged): shorten *start to a key in
   * [*start, limit); shorten *key to a key >= *key. */
  void (*shortest_separator)(void *state, st_buf *start, const char *limit, size_t limit_len);
  void (*short_successor)(void *state, st_buf *key);
} st_comparator;

extern const st_comparator st_bytewise_comparator;

/* The public strata_comparator: an st_comparator that owns its name and
 * state. */
struct strata_comparator {
  st_comparator cmp;
  void (*destructor)(void *state);
};

/* The comparator a database uses for the given public one (NULL =
 * bytewise). */
static inline const st_comparator *st_comparator_of(const strata_comparator *c) {
  return c ? &c->cmp : &st_bytewise_comparator;
}

static inline int st_ucmp(const st_comparator *c, st_slice a, st_slice b) {
  if (ST_LIKELY(c->bytewise)) return st_slice_cmp(a, b);
  return c->compare(c->state, a.data, a.size, b.data, b.size);
}

/* If possible, changes *start (a user key) to a shorter key k with
 * *start <= k < limit. Used for index-block separators. */
void st_cmp_shortest_separator(const st_comparator *c, st_buf *start, st_slice limit);
/* If possible, changes *key to a shorter key k >= *key. */
void st_cmp_short_successor(const st_comparator *c, st_buf *key);

#endif
