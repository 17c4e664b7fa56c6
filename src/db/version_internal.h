/*
 * version_internal.h - helpers shared by the files that implement
 * version_set.h (version_set.c, compaction.c, version_read.c). Not used
 * elsewhere.
 */
#ifndef ST_VERSION_INTERNAL_H
#define ST_VERSION_INTERNAL_H

#include <stdint.h>
#include <stdlib.h>

#include "db/version_set.h"
#include "util/error.h"
#include "util/internal_key.h"

static inline int64_t total_file_size(st_file_meta **files, int n) {
  int64_t sum = 0;
  for (int i = 0; i < n; i++)
    sum += (int64_t)files[i]->file_size;
  return sum;
}

/* A compaction may pull in this many bytes of level+2 overlap per output
 * file before the output is cut, so the next compaction stays cheap. */
static inline int64_t max_grandparent_overlap(const st_version_set *vs) {
  return 10 * (int64_t)vs->max_file_size;
}

/* Expanding a compaction's level-L inputs may not take its size past this. */
static inline int64_t expanded_compaction_limit(const st_version_set *vs) {
  return 25 * (int64_t)vs->max_file_size;
}

/* Index of the first file in a sorted level whose largest key >= ikey. */
static inline int find_file(const st_comparator *ucmp, st_file_meta **files, int n, st_slice ikey) {
  int lo = 0, hi = n;
  while (lo < hi) {
    int mid = lo + (hi - lo) / 2;
    if (st_icmp(ucmp, files[mid]->largest, ikey) < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}

/* A growable array of file pointers (not owning references). */
typedef struct file_list {
  st_file_meta **v;
  int n, cap;
} file_list;

static inline int list_push(file_list *l, st_file_meta *f) {
  if (l->n == l->cap) {
    int cap = l->cap ? l->cap * 2 : 8;
    st_file_meta **v = realloc(l->v, (size_t)cap * sizeof *v);
    if (!v) return st_err(STRATA_ENOMEM, "file list");
    l->v = v;
    l->cap = cap;
  }
  l->v[l->n++] = f;
  return 0;
}

static inline void list_free(file_list *l) {
  free(l->v);
  l->v = NULL;
  l->n = l->cap = 0;
}

#endif
