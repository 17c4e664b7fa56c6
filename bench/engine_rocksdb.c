/*
 * engine_rocksdb.c - the "rocksdb" worker: the workloads over RocksDB's C
 * API (rocksdb/c.h, Debian's librocksdb-dev).
 *
 * Options match the other engines where both have the knob: 4 MiB write
 * buffer, an LRU block cache of --cache_size, 4 KiB blocks, snappy, no
 * filter unless --bloom_bits, 1000 open files. Everything else keeps
 * RocksDB's defaults (level compaction, 64 MiB target files, two background
 * jobs), the default column family only, and the write-ahead log on for
 * every write (disable_WAL is never set), so sync means what it means for
 * LevelDB. Gets use rocksdb_get_pinned, which hands out the value in place
 * instead of copying it: RocksDB's cheapest point read from C.
 */
/* Debian's build is "rocksdb"; a Release build made by hand is
 * "rocksdb-release" (bench/CMakeLists.txt). */
#ifndef BENCH_ENGINE_NAME
#define BENCH_ENGINE_NAME "rocksdb"
#endif

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rocksdb/c.h>

#include "workloads.h"

typedef struct rdb {
  rocksdb_t *db;
  rocksdb_options_t *options;
  rocksdb_cache_t *cache;
  rocksdb_readoptions_t *ropt;
  rocksdb_writeoptions_t *wopt, *wopt_sync;
} rdb;

static int report(const char *what, char *err) {
  fprintf(stderr, "rocksdb: %s: %s\n", what, err);
  rocksdb_free(err);
  return -1;
}

static rocksdb_options_t *make_options(const bench_config *cfg, rdb *r) {
  rocksdb_options_t *o = rocksdb_options_create();
  rocksdb_options_set_create_if_missing(o, 1);
  rocksdb_options_set_write_buffer_size(o, cfg->write_buffer_size);
  rocksdb_options_set_max_open_files(o, 1000);
  rocksdb_options_set_compression(o, cfg->compression ? rocksdb_snappy_compression
                                                      : rocksdb_no_compression);
  if (r != NULL) {
    rocksdb_block_based_table_options_t *t = rocksdb_block_based_options_create();
    rocksdb_block_based_options_set_block_size(t, 4096);
    r->cache = rocksdb_cache_create_lru(cfg->cache_size);
    rocksdb_block_based_options_set_block_cache(t, r->cache);
    /* The table options take ownership of the policy. */
    if (cfg->bloom_bits >= 0)
      rocksdb_block_based_options_set_filter_policy(
          t, rocksdb_filterpolicy_create_bloom_full(cfg->bloom_bits));
    rocksdb_options_set_block_based_table_factory(o, t);
    /* The factory keeps its own copy of the table options. */
    rocksdb_block_based_options_destroy(t);
  }
  return o;
}

static void e_close(void *h) {
  rdb *r = h;
  if (r == NULL) return;
  if (r->db != NULL) rocksdb_close(r->db);
  if (r->options != NULL) rocksdb_options_destroy(r->options);
  if (r->cache != NULL) rocksdb_cache_destroy(r->cache);
  if (r->ropt != NULL) rocksdb_readoptions_destroy(r->ropt);
  if (r->wopt != NULL) rocksdb_writeoptions_destroy(r->wopt);
  if (r->wopt_sync != NULL) rocksdb_writeoptions_destroy(r->wopt_sync);
  free(r);
}

static void *e_open(const bench_config *cfg, const char *path) {
  rdb *r = calloc(1, sizeof *r);
  if (r == NULL) return NULL;
  r->options = make_options(cfg, r);
  r->ropt = rocksdb_readoptions_create();
  r->wopt = rocksdb_writeoptions_create();
  r->wopt_sync = rocksdb_writeoptions_create();
  rocksdb_writeoptions_set_sync(r->wopt_sync, 1);
  char *err = NULL;
  r->db = rocksdb_open(r->options, path, &err);
  if (err != NULL) {
    report(path, err);
    e_close(r);
    return NULL;
  }
  return r;
}

static int e_destroy(const bench_config *cfg, const char *path) {
  rocksdb_options_t *o = make_options(cfg, NULL);
  char *err = NULL;
  rocksdb_destroy_db(o, path, &err);
  rocksdb_options_destroy(o);
  return err != NULL ? report("destroy", err) : 0;
}

static void *e_reader_create(void *db) { return db; }
static void e_reader_destroy(void *reader) { (void)reader; }

static int e_get(void *h, void *reader, const char *key, size_t klen, size_t *vlen) {
  rdb *r = h;
  (void)reader;
  char *err = NULL;
  rocksdb_pinnableslice_t *p = rocksdb_get_pinned(r->db, r->ropt, key, klen, &err);
  if (err != NULL) return report("get", err);
  if (p == NULL) return 0;
  rocksdb_pinnableslice_value(p, vlen);
  rocksdb_pinnableslice_destroy(p);
  return 1;
}

static int e_put(void *h, const char *key, size_t klen, const char *val, size_t vlen, int sync) {
  rdb *r = h;
  char *err = NULL;
  rocksdb_put(r->db, sync ? r->wopt_sync : r->wopt, key, klen, val, vlen, &err);
  return err != NULL ? report("put", err) : 0;
}

static void *e_batch_create(void) { return rocksdb_writebatch_create(); }
static void e_batch_destroy(void *b) { rocksdb_writebatch_destroy(b); }
static void e_batch_clear(void *b) { rocksdb_writebatch_clear(b); }

static int e_batch_put(void *b, const char *key, size_t klen, const char *val, size_t vlen) {
  rocksdb_writebatch_put(b, key, klen, val, vlen);
  return 0;
}

static int e_batch_delete(void *b, const char *key, size_t klen) {
  rocksdb_writebatch_delete(b, key, klen);
  return 0;
}

static int e_write(void *h, void *batch, int sync) {
  rdb *r = h;
  char *err = NULL;
  rocksdb_write(r->db, sync ? r->wopt_sync : r->wopt, batch, &err);
  return err != NULL ? report("write", err) : 0;
}

static void *e_iter_create(void *h) {
  rdb *r = h;
  return rocksdb_create_iterator(r->db, r->ropt);
}

static void e_iter_destroy(void *it) { rocksdb_iter_destroy(it); }
static void e_seek_to_first(void *it) { rocksdb_iter_seek_to_first(it); }
static void e_seek_to_last(void *it) { rocksdb_iter_seek_to_last(it); }
static void e_seek(void *it, const char *key, size_t klen) { rocksdb_iter_seek(it, key, klen); }
static void e_next(void *it) { rocksdb_iter_next(it); }
static void e_prev(void *it) { rocksdb_iter_prev(it); }
static int e_valid(void *it) { return rocksdb_iter_valid(it); }
static const char *e_key(void *it, size_t *klen) { return rocksdb_iter_key(it, klen); }
static const char *e_value(void *it, size_t *vlen) { return rocksdb_iter_value(it, vlen); }

static int e_iter_status(void *it) {
  char *err = NULL;
  rocksdb_iter_get_error(it, &err);
  return err != NULL ? report("iterator", err) : 0;
}

static int e_compact(void *h) {
  rdb *r = h;
  rocksdb_compact_range(r->db, NULL, 0, NULL, 0);
  return 0;
}

static char *e_property(void *h, const char *name) {
  rdb *r = h;
  char *v = rocksdb_property_value(r->db, name);
  if (v == NULL) return NULL;
  char *out = strdup(v);
  rocksdb_free(v);
  return out;
}

static const bench_engine engine = {
    .name = BENCH_ENGINE_NAME,
    .property_prefix = "rocksdb.",
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
