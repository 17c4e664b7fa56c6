/*
 * c_internal.h - the concrete structs behind leveldb/c.h's opaque handles,
 * shared by the files of the LevelDB C compatibility library.
 *
 * Each handle is a small malloc'd wrapper owning (or, where noted,
 * borrowing) one Strata object, so the LevelDB types stay distinct from
 * Strata's in the client's eyes and each destroy function knows exactly
 * what it frees.
 */
#ifndef STRATA_LEVELDB_C_INTERNAL_H
#define STRATA_LEVELDB_C_INTERNAL_H

#include "leveldb/c.h"
#include "strata.h"

struct leveldb_t {
  strata_db *db; /* owned: closed by leveldb_close */
};

struct leveldb_options_t {
  strata_options opt; /* pointers inside are borrowed from the client's objects */
};

struct leveldb_readoptions_t {
  strata_read_options opt; /* opt.snapshot borrowed from a leveldb_snapshot_t */
};

struct leveldb_writeoptions_t {
  strata_write_options opt;
};

struct leveldb_snapshot_t {
  const strata_snapshot *snap; /* owned: released by leveldb_release_snapshot */
};

struct leveldb_iterator_t {
  strata_iter *it; /* owned; NULL when creation failed */
  char *error;     /* owned: why creation failed (LevelDB format), else NULL */
};

struct leveldb_writebatch_t {
  strata_batch *batch; /* owned */
  /* LevelDB's batch functions cannot fail, Strata's can (out of memory, an
   * oversized key). The first failure is remembered here and reported by
   * leveldb_write, so a batch never silently loses an operation. */
  int failed;  /* Strata code of the first failure, or 0 */
  char *error; /* owned: its LevelDB-format message (NULL if none could be made) */
};

struct leveldb_comparator_t {
  strata_comparator *cmp; /* owned; its destroy runs the user's destructor */
};

/* The user's filter callbacks. Strata calls the trampolines in c_objects.c
 * with this struct as state, because LevelDB's key_may_match returns uint8_t
 * where Strata's returns int. */
struct leveldb_filterpolicy_t {
  strata_filter_policy *policy; /* owned */
  void *state;
  void (*destructor)(void *);
  char *(*create_filter)(void *, const char *const *, const size_t *, int, size_t *);
  uint8_t (*key_may_match)(void *, const char *, size_t, const char *, size_t);
};

struct leveldb_cache_t {
  strata_cache *cache; /* owned */
};

struct leveldb_env_t {
  strata_env *env; /* borrowed: the process-wide default env, never freed */
};

/* LevelDB's C API can only pass NULL loggers (it has no constructor); the
 * struct exists so the type is complete inside the library. */
struct leveldb_logger_t {
  strata_logger *logger; /* borrowed */
};

/* Reports a failed Strata call through LevelDB's errptr convention: builds
 * "<LevelDB kind>: <detail>" from code and this thread's strata_errmsg(),
 * frees the old *errptr and stores the new message. NULL errptr: nothing. */
void ldbc_set_error(char **errptr, int code);

/* The message ldbc_set_error would store, malloc'd (NULL if out of memory). */
char *ldbc_error_message(int code);

/* Stores a copy of an existing message (e.g. one kept in a handle). */
void ldbc_set_error_copy(char **errptr, const char *msg);

#endif
