/*
 * numset.h - a growable set of file numbers: add in any order, sort once,
 * then look up. Used to collect the live tables of every version, the logs
 * to replay, and so on. Not thread-safe; owned by its user.
 */
#ifndef ST_NUMSET_H
#define ST_NUMSET_H

#include <stddef.h>
#include <stdint.h>

typedef struct st_numset {
  uint64_t *v;
  size_t n, cap;
  int oom; /* an add failed for lack of memory: the set is incomplete */
} st_numset;

#define ST_NUMSET_INIT                                                                             \
  { NULL, 0, 0, 0 }

/* Adds number (duplicates are kept). The signature fits
 * st_vset_live_files' callback; on allocation failure it sets s->oom. */
void st_numset_add(void *s, uint64_t number);
/* Sorts ascending; call before st_numset_has. */
void st_numset_sort(st_numset *s);
/* 1 if number is in the sorted set. */
int st_numset_has(const st_numset *s, uint64_t number);
/* Index of number in the sorted set, or -1. */
long st_numset_index(const st_numset *s, uint64_t number);
void st_numset_free(st_numset *s);

#endif
