/*
 * c_db.c - leveldb/c.h's database, iterator, snapshot and management
 * functions, each a thin translation onto the matching strata_* call.
 *
 * NULL option objects stand for the defaults (Strata's *_init defaults are
 * LevelDB's), and a NULL database handle reaches Strata as NULL, which
 * reports misuse instead of crashing.
 */
#include <stdlib.h>
#include <string.h>

#include "c_internal.h"
#include "db/db_iter.h"
#include "db/db_raw.h"

static strata_db *db_of(leveldb_t *db) { return db ? db->db : NULL; }

static const strata_read_options *ropt_of(const leveldb_readoptions_t *o) {
  return o ? &o->opt : NULL;
}

static const strata_write_options *wopt_of(const leveldb_writeoptions_t *o) {
  return o ? &o->opt : NULL;
}

static const strata_options *opt_of(const leveldb_options_t *o) { return o ? &o->opt : NULL; }

/* ------------------------------------------------------------------------ */
/* Database                                                                 */
/* ------------------------------------------------------------------------ */

leveldb_t *leveldb_open(const leveldb_options_t *options, const char *name, char **errptr) {
  leveldb_t *h = malloc(sizeof *h);
  if (!h) {
    ldbc_set_error(errptr, strata_error_set(STRATA_ENOMEM, "leveldb_open"));
    return NULL;
  }
  int rc = strata_open(name, opt_of(options), &h->db);
  if (rc) {
    free(h);
    ldbc_set_error(errptr, rc);
    return NULL;
  }
  return h;
}

void leveldb_close(leveldb_t *db) {
  if (!db) return;
  strata_close(db->db);
  free(db);
}

void leveldb_put(leveldb_t *db, const leveldb_writeoptions_t *options, const char *key,
                 size_t keylen, const char *val, size_t vallen, char **errptr) {
  int rc = st_db_put_any(db_of(db), wopt_of(options), key, keylen, val, vallen);
  if (rc) ldbc_set_error(errptr, rc);
}

void leveldb_delete(leveldb_t *db, const leveldb_writeoptions_t *options, const char *key,
                    size_t keylen, char **errptr) {
  int rc = st_db_delete_any(db_of(db), wopt_of(options), key, keylen);
  if (rc) ldbc_set_error(errptr, rc);
}

void leveldb_write(leveldb_t *db, const leveldb_writeoptions_t *options,
                   leveldb_writebatch_t *batch, char **errptr) {
  if (batch && batch->failed) {
    /* An operation could not be queued: writing the rest would break the
     * batch's all-or-nothing promise, so nothing is written. */
    if (batch->error)
      ldbc_set_error_copy(errptr, batch->error);
    else
      ldbc_set_error(errptr, strata_error_set(batch->failed, "write batch lost an operation"));
    return;
  }
  int rc = strata_write(db_of(db), wopt_of(options), batch ? batch->batch : NULL);
  if (rc) ldbc_set_error(errptr, rc);
}

char *leveldb_get(leveldb_t *db, const leveldb_readoptions_t *options, const char *key,
                  size_t keylen, size_t *vallen, char **errptr) {
  strata_buf val = STRATA_BUF_INIT;
  int rc = st_db_get_any(db_of(db), ropt_of(options), key, keylen, &val);
  if (rc) {
    strata_buf_free(&val);
    if (vallen) *vallen = 0;
    /* Absence is an answer, not an error (LevelDB's convention). */
    if (rc != STRATA_ENOTFOUND) ldbc_set_error(errptr, rc);
    return NULL;
  }
  /* The buffer's malloc'd storage becomes the caller's result. An empty
   * value may have left it unallocated; the caller still needs a non-NULL
   * pointer to tell "empty" from "absent". */
  char *result = val.data;
  if (!result) {
    result = malloc(1);
    if (!result) {
      if (vallen) *vallen = 0;
      ldbc_set_error(errptr, strata_error_set(STRATA_ENOMEM, "leveldb_get"));
      return NULL;
    }
  }
  if (vallen) *vallen = val.size;
  return result;
}

const leveldb_snapshot_t *leveldb_create_snapshot(leveldb_t *db) {
  leveldb_snapshot_t *s = malloc(sizeof *s);
  if (!s) return NULL;
  s->snap = strata_snapshot_get(db_of(db));
  if (!s->snap) {
    free(s);
    return NULL;
  }
  return s;
}

void leveldb_release_snapshot(leveldb_t *db, const leveldb_snapshot_t *snapshot) {
  if (!snapshot) return;
  strata_snapshot_release(db_of(db), snapshot->snap);
  /* The handle was malloc'd by leveldb_create_snapshot; const only shields
   * it from the client. */
  free((void *)snapshot);
}

char *leveldb_property_value(leveldb_t *db, const char *propname) {
  if (!db || !propname) return NULL;
  strata_buf out = STRATA_BUF_INIT;
  if (strata_property(db->db, propname, &out) != STRATA_OK) {
    strata_buf_free(&out);
    return NULL;
  }
  /* strata_property NUL-terminates, so its storage is the C string to hand
   * over; an empty value may not have allocated any. */
  return out.data ? out.data : strdup("");
}

void leveldb_approximate_sizes(leveldb_t *db, int num_ranges, const char *const *range_start_key,
                               const size_t *range_start_key_len,
                               const char *const *range_limit_key,
                               const size_t *range_limit_key_len, uint64_t *sizes) {
  if (num_ranges <= 0 || !sizes) return;
  /* char and void pointers share one representation, so the key arrays
   * can be passed as Strata's untyped ones. */
  int rc = strata_approximate_sizes(db_of(db), num_ranges, (const void *const *)range_start_key,
                                    range_start_key_len, (const void *const *)range_limit_key,
                                    range_limit_key_len, sizes);
  /* LevelDB's signature has no error channel; an unknown size is 0. */
  if (rc) memset(sizes, 0, (size_t)num_ranges * sizeof *sizes);
}

void leveldb_compact_range(leveldb_t *db, const char *start_key, size_t start_key_len,
                           const char *limit_key, size_t limit_key_len) {
  /* No error channel here either (LevelDB's CompactRange returns nothing):
   * a failure resurfaces on later writes or reads. */
  (void)strata_compact_range(db_of(db), start_key, start_key ? start_key_len : 0, limit_key,
                             limit_key ? limit_key_len : 0);
}

/* ------------------------------------------------------------------------ */
/* Whole-database management                                                */
/* ------------------------------------------------------------------------ */

void leveldb_destroy_db(const leveldb_options_t *options, const char *name, char **errptr) {
  int rc = strata_destroy(name, opt_of(options));
  if (rc) ldbc_set_error(errptr, rc);
}

void leveldb_repair_db(const leveldb_options_t *options, const char *name, char **errptr) {
  int rc = strata_repair(name, opt_of(options), NULL);
  if (rc) ldbc_set_error(errptr, rc);
}

/* ------------------------------------------------------------------------ */
/* Iterators                                                                */
/* ------------------------------------------------------------------------ */

leveldb_iterator_t *leveldb_create_iterator(leveldb_t *db, const leveldb_readoptions_t *options) {
  leveldb_iterator_t *it = calloc(1, sizeof *it);
  if (!it) return NULL;
  int rc = st_db_iter_create_raw(db_of(db), ropt_of(options), &it->it);
  if (rc) {
    /* LevelDB hands back an iterator that is never valid and reports the
     * error through leveldb_iter_get_error; do the same. Without even room
     * for the message, NULL is the only honest answer. */
    it->it = NULL;
    it->error = ldbc_error_message(rc);
    if (!it->error) {
      free(it);
      return NULL;
    }
  }
  return it;
}

void leveldb_iter_destroy(leveldb_iterator_t *it) {
  if (!it) return;
  strata_iter_destroy(it->it);
  free(it->error);
  free(it);
}

uint8_t leveldb_iter_valid(const leveldb_iterator_t *it) {
  return it && it->it && strata_iter_valid(it->it) ? 1 : 0;
}

void leveldb_iter_seek_to_first(leveldb_iterator_t *it) {
  if (it && it->it) strata_iter_seek_to_first(it->it);
}

void leveldb_iter_seek_to_last(leveldb_iterator_t *it) {
  if (it && it->it) strata_iter_seek_to_last(it->it);
}

void leveldb_iter_seek(leveldb_iterator_t *it, const char *k, size_t klen) {
  if (it && it->it) strata_iter_seek(it->it, k, klen);
}

/* Moving an iterator that is not valid is a caller bug LevelDB asserts on;
 * here it leaves the iterator where it is. */
void leveldb_iter_next(leveldb_iterator_t *it) {
  /* strata_iter_next leaves an iterator that is not valid alone. */
  if (it && it->it) strata_iter_next(it->it);
}

void leveldb_iter_prev(leveldb_iterator_t *it) {
  if (it && it->it) strata_iter_prev(it->it);
}

const char *leveldb_iter_key(const leveldb_iterator_t *it, size_t *klen) {
  if (it && it->it) return st_db_iter_key_if_valid(it->it, klen);
  if (klen) *klen = 0;
  return NULL;
}

const char *leveldb_iter_value(const leveldb_iterator_t *it, size_t *vlen) {
  if (it && it->it) return st_db_iter_value_if_valid(it->it, vlen);
  if (vlen) *vlen = 0;
  return NULL;
}

void leveldb_iter_get_error(const leveldb_iterator_t *it, char **errptr) {
  if (!it) return;
  if (it->error) {
    ldbc_set_error_copy(errptr, it->error);
    return;
  }
  int rc = strata_iter_status(it->it); /* also sets strata_errmsg() */
  if (rc) ldbc_set_error(errptr, rc);
}
