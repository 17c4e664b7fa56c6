/*
 * engine_ldbc.c - a worker written against LevelDB's C API (leveldb/c.h).
 *
 * Compiled twice: against Strata's leveldb/c.h shim (library strata_leveldb,
 * engine "strata-ldbc": what an unchanged LevelDB C program gets from
 * Strata) and against Debian's LevelDB 1.23 (engine "leveldb"). The build
 * passes the engine's name in BENCH_ENGINE_NAME. Gets return a malloc'd copy
 * of the value, as that API requires.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <leveldb/c.h>

#include "workloads.h"

#ifndef BENCH_ENGINE_NAME
#error "BENCH_ENGINE_NAME must name the engine this worker is built for"
#endif

typedef struct ldb {
  leveldb_t *db;
  leveldb_options_t *options;
  leveldb_cache_t *cache;
  leveldb_filterpolicy_t *filter;
  leveldb_readoptions_t *ropt;
  leveldb_writeoptions_t *wopt, *wopt_sync;
} ldb;

/* Prints and frees an error string set by the library; returns -1. */
static int report(const char *what, char *err) {
  fprintf(stderr, "%s: %s: %s\n", BENCH_ENGINE_NAME, what, err);
  leveldb_free(err);
  return -1;
}

static leveldb_options_t *make_options(const bench_config *cfg, ldb *l) {
  leveldb_options_t *o = leveldb_options_create();
  leveldb_options_set_create_if_missing(o, 1);
  leveldb_options_set_write_buffer_size(o, cfg->write_buffer_size);
  leveldb_options_set_max_open_files(o, 1000);
  leveldb_options_set_block_size(o, 4096);
  leveldb_options_set_compression(o, cfg->compression ? leveldb_snappy_compression
                                                      : leveldb_no_compression);
  if (l != NULL) {
    l->cache = leveldb_cache_create_lru(cfg->cache_size);
    leveldb_options_set_cache(o, l->cache);
    if (cfg->bloom_bits >= 0) {
      l->filter = leveldb_filterpolicy_create_bloom(cfg->bloom_bits);
      leveldb_options_set_filter_policy(o, l->filter);
    }
  }
  return o;
}

static void e_close(void *h) {
  ldb *l = h;
  if (l == NULL) return;
  /* Options, cache and filter must outlive the database. */
  if (l->db != NULL) leveldb_close(l->db);
  if (l->options != NULL) leveldb_options_destroy(l->options);
  if (l->cache != NULL) leveldb_cache_destroy(l->cache);
  if (l->filter != NULL) leveldb_filterpolicy_destroy(l->filter);
  if (l->ropt != NULL) leveldb_readoptions_destroy(l->ropt);
  if (l->wopt != NULL) leveldb_writeoptions_destroy(l->wopt);
  if (l->wopt_sync != NULL) leveldb_writeoptions_destroy(l->wopt_sync);
  free(l);
}

static void *e_open(const bench_config *cfg, const char *path) {
  ldb *l = calloc(1, sizeof *l);
  if (l == NULL) return NULL;
  l->options = make_options(cfg, l);
  l->ropt = leveldb_readoptions_create();
  l->wopt = leveldb_writeoptions_create();
  l->wopt_sync = leveldb_writeoptions_create();
  leveldb_writeoptions_set_sync(l->wopt_sync, 1);
  char *err = NULL;
  l->db = leveldb_open(l->options, path, &err);
  if (err != NULL) {
    report(path, err);
    e_close(l);
    return NULL;
  }
  return l;
}

static int e_destroy(const bench_config *cfg, const char *path) {
  leveldb_options_t *o = make_options(cfg, NULL);
  char *err = NULL;
  leveldb_destroy_db(o, path, &err);
  leveldb_options_destroy(o);
  return err != NULL ? report("destroy", err) : 0;
}

/* The API allocates every value it returns: no per-thread state. */
static void *e_reader_create(void *db) { return db; }
static void e_reader_destroy(void *r) { (void)r; }

static int e_get(void *h, void *reader, const char *key, size_t klen, size_t *vlen) {
  ldb *l = h;
  (void)reader;
  char *err = NULL;
  char *v = leveldb_get(l->db, l->ropt, key, klen, vlen, &err);
  if (err != NULL) return report("get", err);
  if (v == NULL) return 0;
  leveldb_free(v);
  return 1;
}

static int e_put(void *h, const char *key, size_t klen, const char *val, size_t vlen, int sync) {
  ldb *l = h;
  char *err = NULL;
  leveldb_put(l->db, sync ? l->wopt_sync : l->wopt, key, klen, val, vlen, &err);
  return err != NULL ? report("put", err) : 0;
}

static void *e_batch_create(void) { return leveldb_writebatch_create(); }
static void e_batch_destroy(void *b) { leveldb_writebatch_destroy(b); }
static void e_batch_clear(void *b) { leveldb_writebatch_clear(b); }

static int e_batch_put(void *b, const char *key, size_t klen, const char *val, size_t vlen) {
  leveldb_writebatch_put(b, key, klen, val, vlen);
  return 0;
}

static int e_batch_delete(void *b, const char *key, size_t klen) {
  leveldb_writebatch_delete(b, key, klen);
  return 0;
}

static int e_write(void *h, void *batch, int sync) {
  ldb *l = h;
  char *err = NULL;
  leveldb_write(l->db, sync ? l->wopt_sync : l->wopt, batch, &err);
  return err != NULL ? report("write", err) : 0;
}

static void *e_iter_create(void *h) {
  ldb *l = h;
  return leveldb_create_iterator(l->db, l->ropt);
}

static void e_iter_destroy(void *it) { leveldb_iter_destroy(it); }
static void e_seek_to_first(void *it) { leveldb_iter_seek_to_first(it); }
static void e_seek_to_last(void *it) { leveldb_iter_seek_to_last(it); }
static void e_seek(void *it, const char *key, size_t klen) { leveldb_iter_seek(it, key, klen); }
static void e_next(void *it) { leveldb_iter_next(it); }
static void e_prev(void *it) { leveldb_iter_prev(it); }
static int e_valid(void *it) { return leveldb_iter_valid(it); }
static const char *e_key(void *it, size_t *klen) { return leveldb_iter_key(it, klen); }
static const char *e_value(void *it, size_t *vlen) { return leveldb_iter_value(it, vlen); }

static int e_iter_status(void *it) {
  char *err = NULL;
  leveldb_iter_get_error(it, &err);
  return err != NULL ? report("iterator", err) : 0;
}

static int e_compact(void *h) {
  ldb *l = h;
  leveldb_compact_range(l->db, NULL, 0, NULL, 0);
  return 0;
}

static char *e_property(void *h, const char *name) {
  ldb *l = h;
  char *v = leveldb_property_value(l->db, name);
  if (v == NULL) return NULL;
  /* Callers free() it; the library's allocation goes back through it. */
  char *out = strdup(v);
  leveldb_free(v);
  return out;
}

static const bench_engine engine = {
    .name = BENCH_ENGINE_NAME,
    .property_prefix = "leveldb.",
    .open = e_open,
    .close = e_close,
    .destroy = e_destroy,
    .reader_create = e_reader_create,
    .reader_destroy = e_reader_destroy,
    .get = e_get,
    .put = e_put,
    .batch_create = e_batch_create,
    .batch_destroy = e_batch_destroy,
    .batch_clear = e_batch_clear,
    .batch_put = e_batch_put,
    .batch_delete = e_batch_delete,
    .write = e_write,
    .iter_create = e_iter_create,
    .iter_destroy = e_iter_destroy,
    .iter_seek_to_first = e_seek_to_first,
    .iter_seek_to_last = e_seek_to_last,
    .iter_seek = e_seek,
    .iter_next = e_next,
    .iter_prev = e_prev,
    .iter_valid = e_valid,
    .iter_key = e_key,
    .iter_value = e_value,
    .iter_status = e_iter_status,
    .compact = e_compact,
    .property = e_property,
};

int main(int argc, char **argv) { return bench_worker_main(argc, argv, &engine); }
