/*
 * version_edit.h - a change to the set of live files, as one MANIFEST record
 * (encoding grammar at the top of version_edit.c). Not thread-safe; owned by
 * whoever builds it.
 */
#ifndef ST_VERSION_EDIT_H
#define ST_VERSION_EDIT_H

#include <stdint.h>

#include "util/buf.h"

#define ST_NUM_LEVELS 7

typedef struct st_edit_file {
  int level;
  uint64_t number;
  uint64_t file_size;
  st_buf smallest; /* internal key */
  st_buf largest;  /* internal key */
} st_edit_file;

typedef struct st_edit_deleted {
  int level;
  uint64_t number;
} st_edit_deleted;

typedef struct st_edit_pointer {
  int level;
  st_buf key; /* internal key */
} st_edit_pointer;

typedef struct st_version_edit {
  char *comparator; /* malloc'd or NULL */
  int has_log_number, has_prev_log_number, has_next_file, has_last_sequence;
  uint64_t log_number, prev_log_number, next_file_number, last_sequence;
  st_edit_pointer *pointers;
  size_t n_pointers;
  st_edit_deleted *deleted;
  size_t n_deleted;
  st_edit_file *files;
  size_t n_files;
} st_version_edit;

void st_edit_init(st_version_edit *e);
void st_edit_clear(st_version_edit *e); /* frees contents, re-inits */

int st_edit_set_comparator(st_version_edit *e, const char *name);
static inline void st_edit_set_log_number(st_version_edit *e, uint64_t n) {
  e->has_log_number = 1;
  e->log_number = n;
}
static inline void st_edit_set_prev_log_number(st_version_edit *e, uint64_t n) {
  e->has_prev_log_number = 1;
  e->prev_log_number = n;
}
static inline void st_edit_set_next_file(st_version_edit *e, uint64_t n) {
  e->has_next_file = 1;
  e->next_file_number = n;
}
static inline void st_edit_set_last_sequence(st_version_edit *e, uint64_t s) {
  e->has_last_sequence = 1;
  e->last_sequence = s;
}
/* These copy the keys. Errors: STRATA_ENOMEM. */
int st_edit_add_file(st_version_edit *e, int level, uint64_t number, uint64_t size,
                     st_slice smallest, st_slice largest);
int st_edit_delete_file(st_version_edit *e, int level, uint64_t number);
int st_edit_set_compact_pointer(st_version_edit *e, int level, st_slice key);

/* Appends the encoding to dst. Errors: STRATA_ENOMEM. */
int st_edit_encode(const st_version_edit *e, st_buf *dst);
/* Parses src into e (which must be freshly initialised). Errors:
 * STRATA_ECORRUPTION naming the bad field, STRATA_ENOMEM. */
int st_edit_decode(st_version_edit *e, st_slice src);

#endif
