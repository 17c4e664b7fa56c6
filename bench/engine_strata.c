/*
 * engine_strata.c - the "strata" worker: the workloads over Strata's native
 * API (strata.h). Gets copy into a strata_buf that each reader thread reuses,
 * so a get allocates nothing once the buffer has grown: the path a native
 * Strata user takes, and what the leveldb/c.h worker cannot do.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <strata.h>

#include "workloads.h"

typedef struct sdb {
  strata_db *db;
  strata_cache *cache;
  strata_filter_policy *filter;
  strata_write_options wopt, wopt_sync;
} sdb;

static void *fail(const char *what) {
  fprintf(stderr, "strata: %s: %s\n", what, strata_errmsg());
  return NULL;
}

static int failed(const char *what) {
  fail(what);
  return -1;
}

static void e_close(void *h) {
  sdb *s = h;
  if (s == NULL) return;
  /* The cache and filter must outlive the database. */
  strata_close(s->db);
  strata_cache_destroy(s->cache);
  strata_filter_policy_destroy(s->filter);
  free(s);
}

static void *e_open(const bench_config *cfg, const char *path) {
  sdb *s = calloc(1, sizeof *s);
  if (s == NULL) return NULL;
  strata_options o;
  strata_options_init(&o);
  o.create_if_missing = 1;
  o.write_buffer_size = cfg->write_buffer_size;
  o.max_open_files = 1000;
  o.block_size = 4096;
  o.compression = cfg->compression ? STRATA_COMPRESSION_SNAPPY : STRATA_COMPRESSION_NONE;
  if (strata_cache_create_lru(cfg->cache_size, &s->cache) != STRATA_OK) {
    e_close(s);
    return fail("cache");
  }
  o.block_cache = s->cache;
  if (cfg->bloom_bits >= 0) {
    if (strata_filter_policy_create_bloom(cfg->bloom_bits, &s->filter) != STRATA_OK) {
      e_close(s);
      return fail("bloom filter");
    }
    o.filter_policy = s->filter;
  }
  if (strata_open(path, &o, &s->db) != STRATA_OK) {
    fail(path);
    e_close(s);
    return NULL;
  }
  strata_write_options_init(&s->wopt);
  strata_write_options_init(&s->wopt_sync);
  s->wopt_sync.sync = 1;
  return s;
}

static int e_destroy(const bench_config *cfg, const char *path) {
  (void)cfg;
  return strata_destroy(path, NULL) == STRATA_OK ? 0 : failed("destroy");
}

static void *e_reader_create(void *db) {
  (void)db;
  strata_buf *b = calloc(1, sizeof *b);
  if (b == NULL) fprintf(stderr, "strata: out of memory\n");
  return b;
}

static void e_reader_destroy(void *r) {
  strata_buf_free(r);
  free(r);
}

static int e_get(void *h, void *reader, const char *key, size_t klen, size_t *vlen) {
  sdb *s = h;
  strata_buf *b = reader;
  int rc = strata_get(s->db, NULL, key, klen, b);
  if (rc == STRATA_ENOTFOUND) return 0;
  if (rc != STRATA_OK) return failed("get");
  *vlen = b->size;
  return 1;
}

static int e_put(void *h, const char *key, size_t klen, const char *val, size_t vlen, int sync) {
  sdb *s = h;
  int rc = strata_put(s->db, sync ? &s->wopt_sync : &s->wopt, key, klen, val, vlen);
  return rc == STRATA_OK ? 0 : failed("put");
}

static void *e_batch_create(void) {
  strata_batch *b;
  return strata_batch_create(&b) == STRATA_OK ? b : fail("batch");
}

static void e_batch_destroy(void *b) { strata_batch_destroy(b); }
static void e_batch_clear(void *b) { strata_batch_clear(b); }

static int e_batch_put(void *b, const char *key, size_t klen, const char *val, size_t vlen) {
  return strata_batch_put(b, key, klen, val, vlen) == STRATA_OK ? 0 : failed("batch put");
}

static int e_batch_delete(void *b, const char *key, size_t klen) {
  return strata_batch_delete(b, key, klen) == STRATA_OK ? 0 : failed("batch delete");
}

static int e_write(void *h, void *batch, int sync) {
  sdb *s = h;
  int rc = strata_write(s->db, sync ? &s->wopt_sync : &s->wopt, batch);
  return rc == STRATA_OK ? 0 : failed("write");
}

static void *e_iter_create(void *h) {
  sdb *s = h;
  strata_iter *it;
  return strata_iter_create(s->db, NULL, &it) == STRATA_OK ? it : fail("iterator");
}

static void e_iter_destroy(void *it) { strata_iter_destroy(it); }
static void e_seek_to_first(void *it) { strata_iter_seek_to_first(it); }
static void e_seek_to_last(void *it) { strata_iter_seek_to_last(it); }
static void e_seek(void *it, const char *key, size_t klen) { strata_iter_seek(it, key, klen); }
static void e_next(void *it) { strata_iter_next(it); }
static void e_prev(void *it) { strata_iter_prev(it); }
static int e_valid(void *it) { return strata_iter_valid(it); }
static const char *e_key(void *it, size_t *klen) { return strata_iter_key(it, klen); }
static const char *e_value(void *it, size_t *vlen) { return strata_iter_value(it, vlen); }

static int e_iter_status(void *it) {
  return strata_iter_status(it) == STRATA_OK ? 0 : failed("iterator");
}

static int e_compact(void *h) {
  sdb *s = h;
  return strata_compact_range(s->db, NULL, 0, NULL, 0) == STRATA_OK ? 0 : failed("compact");
}

static char *e_property(void *h, const char *name) {
  sdb *s = h;
  strata_buf b = STRATA_BUF_INIT;
  char *out = NULL;
  if (strata_property(s->db, name, &b) == STRATA_OK) out = strdup(b.data);
  strata_buf_free(&b);
  return out;
}

static int e_txn_put(void *h, const char *key, size_t klen, const char *val, size_t vlen) {
  sdb *s = h;
  strata_txn_options o;
  strata_txn_options_init(&o);
  o.write = 1;
  strata_txn *t;
  if (strata_txn_begin(s->db, &o, &t) != STRATA_OK) return failed("txn begin");
  int rc = strata_txn_put(t, NULL, key, klen, val, vlen);
  if (rc == STRATA_OK) rc = strata_txn_commit(t);
  strata_txn_destroy(t);
  return rc == STRATA_OK ? 0 : failed("txn commit");
}

static int e_snapshot_cycle(void *h) {
  sdb *s = h;
  const strata_snapshot *snap = strata_snapshot_get(s->db);
  if (snap == NULL) return failed("snapshot");
  strata_snapshot_release(s->db, snap);
  return 0;
}

static int e_read_txn_cycle(void *h) {
  sdb *s = h;
  strata_txn *t;
  if (strata_txn_begin(s->db, NULL, &t) != STRATA_OK) return failed("txn begin");
  strata_txn_destroy(t);
  return 0;
}

typedef struct txn_reader {
  strata_txn *txn;
  strata_buf buf;
} txn_reader;

static void *e_txn_reader_create(void *h) {
  sdb *s = h;
  txn_reader *r = calloc(1, sizeof *r);
  if (r == NULL) return fail("txn reader");
  if (strata_txn_begin(s->db, NULL, &r->txn) != STRATA_OK) {
    free(r);
    return fail("txn begin");
  }
  return r;
}

static void e_txn_reader_destroy(void *p) {
  txn_reader *r = p;
  strata_txn_destroy(r->txn);
  strata_buf_free(&r->buf);
  free(r);
}

static int e_txn_get(void *h, void *reader, const char *key, size_t klen, size_t *vlen) {
  (void)h;
  txn_reader *r = reader;
  int rc = strata_txn_get(r->txn, NULL, key, klen, &r->buf);
  if (rc == STRATA_ENOTFOUND) return 0;
  if (rc != STRATA_OK) return failed("txn get");
  *vlen = r->buf.size;
  return 1;
}

static void *e_loader_create(void *h) {
  sdb *s = h;
  strata_loader *l;
  return strata_loader_create(s->db, NULL, &l) == STRATA_OK ? l : fail("loader");
}

static int e_loader_add(void *l, const char *key, size_t klen, const char *val, size_t vlen) {
  return strata_loader_add(l, key, klen, val, vlen) == STRATA_OK ? 0 : failed("loader add");
}

static int e_loader_finish(void *l) {
  int rc = strata_loader_finish(l) == STRATA_OK ? 0 : failed("loader finish");
  strata_loader_destroy(l);
  return rc;
}

static const bench_engine engine = {
    .name = "strata",
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
    .txn_put = e_txn_put,
    .snapshot_cycle = e_snapshot_cycle,
    .read_txn_cycle = e_read_txn_cycle,
    .txn_reader_create = e_txn_reader_create,
    .txn_reader_destroy = e_txn_reader_destroy,
    .txn_get = e_txn_get,
    .loader_create = e_loader_create,
    .loader_add = e_loader_add,
    .loader_finish = e_loader_finish,
};

int main(int argc, char **argv) { return bench_worker_main(argc, argv, &engine); }
