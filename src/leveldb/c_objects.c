/*
 * c_objects.c - leveldb/c.h's value objects: options, read/write options,
 * write batches, comparators, filter policies, caches and envs.
 *
 * Each is a malloc'd wrapper (see c_internal.h) around the Strata object or
 * options struct it stands for. LevelDB's constructors cannot report errors,
 * so they return NULL when Strata's fail (out of memory, a NULL callback).
 * Setters on a NULL object do nothing rather than crash.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "c_internal.h"
#include "db/db_raw.h"

/* ------------------------------------------------------------------------ */
/* Database options                                                         */
/* ------------------------------------------------------------------------ */

leveldb_options_t *leveldb_options_create(void) {
  leveldb_options_t *o = malloc(sizeof *o);
  if (o) strata_options_init(&o->opt); /* Strata's defaults are LevelDB 1.23's */
  return o;
}

void leveldb_options_destroy(leveldb_options_t *o) { free(o); }

void leveldb_options_set_comparator(leveldb_options_t *o, leveldb_comparator_t *c) {
  if (o) o->opt.comparator = c ? c->cmp : NULL;
}

void leveldb_options_set_filter_policy(leveldb_options_t *o, leveldb_filterpolicy_t *p) {
  if (o) o->opt.filter_policy = p ? p->policy : NULL;
}

void leveldb_options_set_create_if_missing(leveldb_options_t *o, uint8_t v) {
  if (o) o->opt.create_if_missing = v != 0;
}

void leveldb_options_set_error_if_exists(leveldb_options_t *o, uint8_t v) {
  if (o) o->opt.error_if_exists = v != 0;
}

void leveldb_options_set_paranoid_checks(leveldb_options_t *o, uint8_t v) {
  if (o) o->opt.paranoid_checks = v != 0;
}

void leveldb_options_set_env(leveldb_options_t *o, leveldb_env_t *e) {
  if (o) o->opt.env = e ? e->env : NULL;
}

void leveldb_options_set_info_log(leveldb_options_t *o, leveldb_logger_t *l) {
  /* NULL (the only value a C client can have) means the database's LOG file. */
  if (o) o->opt.info_log = l ? l->logger : NULL;
}

void leveldb_options_set_write_buffer_size(leveldb_options_t *o, size_t v) {
  if (o) o->opt.write_buffer_size = v;
}

void leveldb_options_set_max_open_files(leveldb_options_t *o, int v) {
  if (o) o->opt.max_open_files = v;
}

void leveldb_options_set_cache(leveldb_options_t *o, leveldb_cache_t *c) {
  if (o) o->opt.block_cache = c ? c->cache : NULL;
}

void leveldb_options_set_block_size(leveldb_options_t *o, size_t v) {
  if (o) o->opt.block_size = v;
}

void leveldb_options_set_block_restart_interval(leveldb_options_t *o, int v) {
  if (o) o->opt.block_restart_interval = v;
}

void leveldb_options_set_max_file_size(leveldb_options_t *o, size_t v) {
  if (o) o->opt.max_file_size = v;
}

void leveldb_options_set_compression(leveldb_options_t *o, int v) {
  /* The values are the table block type bytes in both libraries: 0 none,
   * 1 snappy, and 2 zstd (newer LevelDB's value). Anything else is kept and
   * makes leveldb_open fail with "Invalid argument", rather than writing
   * tables no reader understands. */
  if (o) o->opt.compression = v;
}

/* ------------------------------------------------------------------------ */
/* Read and write options                                                   */
/* ------------------------------------------------------------------------ */

leveldb_readoptions_t *leveldb_readoptions_create(void) {
  leveldb_readoptions_t *o = malloc(sizeof *o);
  if (o) strata_read_options_init(&o->opt);
  return o;
}

void leveldb_readoptions_destroy(leveldb_readoptions_t *o) { free(o); }

void leveldb_readoptions_set_verify_checksums(leveldb_readoptions_t *o, uint8_t v) {
  if (o) o->opt.verify_checksums = v != 0;
}

void leveldb_readoptions_set_fill_cache(leveldb_readoptions_t *o, uint8_t v) {
  if (o) o->opt.fill_cache = v != 0;
}

void leveldb_readoptions_set_snapshot(leveldb_readoptions_t *o, const leveldb_snapshot_t *s) {
  if (o) o->opt.snapshot = s ? s->snap : NULL;
}

leveldb_writeoptions_t *leveldb_writeoptions_create(void) {
  leveldb_writeoptions_t *o = malloc(sizeof *o);
  if (o) strata_write_options_init(&o->opt);
  return o;
}

void leveldb_writeoptions_destroy(leveldb_writeoptions_t *o) { free(o); }

void leveldb_writeoptions_set_sync(leveldb_writeoptions_t *o, uint8_t v) {
  if (o) o->opt.sync = v != 0;
}

/* ------------------------------------------------------------------------ */
/* Write batches                                                            */
/* ------------------------------------------------------------------------ */

leveldb_writebatch_t *leveldb_writebatch_create(void) {
  leveldb_writebatch_t *b = calloc(1, sizeof *b);
  if (!b) return NULL;
  if (strata_batch_create(&b->batch) != STRATA_OK) {
    free(b);
    return NULL;
  }
  return b;
}

void leveldb_writebatch_destroy(leveldb_writebatch_t *b) {
  if (!b) return;
  strata_batch_destroy(b->batch);
  free(b->error);
  free(b);
}

/* Remembers the first operation that could not be queued (see
 * c_internal.h): leveldb_write will refuse the batch with this error. */
static void note_failure(leveldb_writebatch_t *b, int rc) {
  if (rc == STRATA_OK || b->failed) return;
  b->failed = rc;
  b->error = ldbc_error_message(rc);
}

void leveldb_writebatch_clear(leveldb_writebatch_t *b) {
  if (!b) return;
  strata_batch_clear(b->batch);
  /* Clearing drops the operations, the failed one among them. */
  b->failed = 0;
  free(b->error);
  b->error = NULL;
}

void leveldb_writebatch_put(leveldb_writebatch_t *b, const char *key, size_t klen, const char *val,
                            size_t vlen) {
  if (b) note_failure(b, st_batch_put_any(b->batch, key, klen, val, vlen));
}

void leveldb_writebatch_delete(leveldb_writebatch_t *b, const char *key, size_t klen) {
  if (b) note_failure(b, st_batch_delete_any(b->batch, key, klen));
}

void leveldb_writebatch_iterate(const leveldb_writebatch_t *b, void *state,
                                void (*put)(void *, const char *k, size_t klen, const char *v,
                                            size_t vlen),
                                void (*deleted)(void *, const char *k, size_t klen)) {
  /* The callbacks have Strata's exact shape, so they are passed straight
   * through. A batch built through this API is never malformed, and
   * LevelDB's C API drops this status too. */
  if (b) (void)strata_batch_iterate(b->batch, state, put, deleted);
}

void leveldb_writebatch_append(leveldb_writebatch_t *destination,
                               const leveldb_writebatch_t *source) {
  if (!destination || !source) return;
  note_failure(destination, strata_batch_append(destination->batch, source->batch));
  /* A source that lost an operation passes the loss on: destination now
   * holds an incomplete copy of it. */
  if (source->failed && !destination->failed) {
    destination->failed = source->failed;
    destination->error = source->error ? strdup(source->error) : NULL;
  }
}

/* ------------------------------------------------------------------------ */
/* Comparators                                                              */
/* ------------------------------------------------------------------------ */

leveldb_comparator_t *leveldb_comparator_create(void *state, void (*destructor)(void *),
                                                int (*compare)(void *, const char *a, size_t alen,
                                                               const char *b, size_t blen),
                                                const char *(*name)(void *)) {
  if (!compare || !name) return NULL;
  leveldb_comparator_t *c = malloc(sizeof *c);
  if (!c) return NULL;
  /* compare and destructor have Strata's exact shape and take the user's
   * state directly; Strata copies the name, so name() is needed only now. */
  if (strata_comparator_create(name(state), state, compare, destructor, &c->cmp) != STRATA_OK) {
    free(c);
    return NULL;
  }
  return c;
}

void leveldb_comparator_destroy(leveldb_comparator_t *c) {
  if (!c) return;
  strata_comparator_destroy(c->cmp); /* runs the user's destructor */
  free(c);
}

/* ------------------------------------------------------------------------ */
/* Filter policies                                                          */
/* ------------------------------------------------------------------------ */

/* Strata's callbacks get the wrapper as state and forward to the user's
 * functions with the user's state. */
static char *forward_create_filter(void *state, const char *const *keys, const size_t *key_lens,
                                   int n, size_t *filter_len) {
  const leveldb_filterpolicy_t *p = state;
  return p->create_filter(p->state, keys, key_lens, n, filter_len);
}

static int forward_key_may_match(void *state, const char *key, size_t klen, const char *filter,
                                 size_t filter_len) {
  const leveldb_filterpolicy_t *p = state;
  return p->key_may_match(p->state, key, klen, filter, filter_len) != 0;
}

leveldb_filterpolicy_t *leveldb_filterpolicy_create(
    void *state, void (*destructor)(void *),
    char *(*create_filter)(void *, const char *const *key_array, const size_t *key_length_array,
                           int num_keys, size_t *filter_length),
    uint8_t (*key_may_match)(void *, const char *key, size_t length, const char *filter,
                             size_t filter_length),
    const char *(*name)(void *)) {
  if (!create_filter || !key_may_match || !name) return NULL;
  leveldb_filterpolicy_t *p = malloc(sizeof *p);
  if (!p) return NULL;
  p->state = state;
  p->destructor = destructor;
  p->create_filter = create_filter;
  p->key_may_match = key_may_match;
  /* The user's destructor is run by leveldb_filterpolicy_destroy itself, so
   * Strata gets none. */
  if (strata_filter_policy_create(name(state), p, forward_create_filter, forward_key_may_match,
                                  NULL, &p->policy) != STRATA_OK) {
    free(p);
    return NULL;
  }
  return p;
}

leveldb_filterpolicy_t *leveldb_filterpolicy_create_bloom(int bits_per_key) {
  leveldb_filterpolicy_t *p = calloc(1, sizeof *p); /* no user callbacks */
  if (!p) return NULL;
  if (strata_filter_policy_create_bloom(bits_per_key, &p->policy) != STRATA_OK) {
    free(p);
    return NULL;
  }
  return p;
}

void leveldb_filterpolicy_destroy(leveldb_filterpolicy_t *p) {
  if (!p) return;
  strata_filter_policy_destroy(p->policy);
  if (p->destructor) p->destructor(p->state);
  free(p);
}

/* ------------------------------------------------------------------------ */
/* Block cache                                                              */
/* ------------------------------------------------------------------------ */

leveldb_cache_t *leveldb_cache_create_lru(size_t capacity) {
  leveldb_cache_t *c = malloc(sizeof *c);
  if (!c) return NULL;
  if (strata_cache_create_lru(capacity, &c->cache) != STRATA_OK) {
    free(c);
    return NULL;
  }
  return c;
}

void leveldb_cache_destroy(leveldb_cache_t *cache) {
  if (!cache) return;
  strata_cache_destroy(cache->cache);
  free(cache);
}

/* ------------------------------------------------------------------------ */
/* Environment                                                              */
/* ------------------------------------------------------------------------ */

leveldb_env_t *leveldb_create_default_env(void) {
  leveldb_env_t *e = malloc(sizeof *e);
  if (e) e->env = strata_env_default();
  return e;
}

/* The default env is process-wide and outlives every handle on it. */
void leveldb_env_destroy(leveldb_env_t *e) { free(e); }

char *leveldb_env_get_test_directory(leveldb_env_t *e) {
  strata_env *env = e && e->env ? e->env : strata_env_default();
  char fallback[64];
  const char *dir = getenv("TEST_TMPDIR");
  if (!dir || dir[0] == '\0') {
    snprintf(fallback, sizeof fallback, "/tmp/leveldbtest-%d", (int)geteuid());
    dir = fallback;
  }
  /* As in LevelDB the creation result is not checked: the directory usually
   * exists already, and any real problem shows when a database is made in
   * it. */
  (void)env->create_dir(env, dir);
  return strdup(dir);
}
