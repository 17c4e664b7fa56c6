/*
 * strata_tool.c - the Strata side of the compatibility tests: the same
 * write, append and dump commands as ldb_tool (compat_common.h), through
 * strata.h. Linked with strata_static only, never with LevelDB.
 */
#include "strata.h"

#include "compat_common.h"

struct compat_db {
  strata_db *db;
  strata_read_options ro;
  strata_write_options wo, wo_sync;
  strata_batch *batch;
  strata_filter_policy *filter;
};

struct compat_iter {
  strata_iter *it;
};

static void check_rc(int rc, const char *what) {
  if (rc != STRATA_OK) {
    fprintf(stderr, "strata_tool: %s: %d (%s): %s\n", what, rc, strata_strerror(rc),
            strata_errmsg());
    exit(1);
  }
}

static compat_db *cdb_open(const char *dir, int create, const compat_profile *p) {
  compat_db *d = calloc(1, sizeof *d);
  strata_options opt;
  strata_options_init(&opt);
  opt.create_if_missing = create;
  opt.error_if_exists = create;
  opt.compression = STRATA_COMPRESSION_SNAPPY;
  opt.write_buffer_size = p->write_buffer_size;
  opt.max_file_size = p->max_file_size;
  if (p->bloom_bits > 0) {
    check_rc(strata_filter_policy_create_bloom(p->bloom_bits, &d->filter),
             "strata_filter_policy_create_bloom");
    opt.filter_policy = d->filter;
  }
  check_rc(strata_open(dir, &opt, &d->db), "strata_open");
  strata_read_options_init(&d->ro);
  d->ro.verify_checksums = 1;
  strata_write_options_init(&d->wo);
  strata_write_options_init(&d->wo_sync);
  d->wo_sync.sync = 1;
  check_rc(strata_batch_create(&d->batch), "strata_batch_create");
  return d;
}

static void cdb_close(compat_db *d) {
  strata_batch_destroy(d->batch);
  strata_close(d->db);
  strata_filter_policy_destroy(d->filter); /* after close: it must outlive the db */
  free(d);
}

static void cdb_put(compat_db *d, const void *k, size_t kl, const void *v, size_t vl, int sync) {
  check_rc(strata_put(d->db, sync ? &d->wo_sync : &d->wo, k, kl, v, vl), "strata_put");
}

static void cdb_delete(compat_db *d, const void *k, size_t kl, int sync) {
  check_rc(strata_delete(d->db, sync ? &d->wo_sync : &d->wo, k, kl), "strata_delete");
}

static void cdb_batch_put(compat_db *d, const void *k, size_t kl, const void *v, size_t vl) {
  check_rc(strata_batch_put(d->batch, k, kl, v, vl), "strata_batch_put");
}

static void cdb_batch_delete(compat_db *d, const void *k, size_t kl) {
  check_rc(strata_batch_delete(d->batch, k, kl), "strata_batch_delete");
}

static void cdb_batch_commit(compat_db *d, int sync) {
  check_rc(strata_write(d->db, sync ? &d->wo_sync : &d->wo, d->batch), "strata_write");
  strata_batch_clear(d->batch);
}

static void cdb_compact(compat_db *d, const void *b, size_t bl, const void *e, size_t el) {
  check_rc(strata_compact_range(d->db, b, bl, e, el), "strata_compact_range");
}

static int cdb_get(compat_db *d, const void *k, size_t kl, char **v, size_t *vl) {
  strata_buf buf = STRATA_BUF_INIT;
  int rc = strata_get(d->db, &d->ro, k, kl, &buf);
  *v = NULL;
  *vl = 0;
  if (rc == STRATA_ENOTFOUND) return 0;
  check_rc(rc, "strata_get");
  /* The buffer is realloc-grown by Strata, so its data is ours to free(). */
  *v = buf.data;
  *vl = buf.size;
  return 1;
}

static void cdb_print_levels(compat_db *d, const char *when) {
  fprintf(stderr, "strata_tool: tables per level %s:", when);
  strata_buf out = STRATA_BUF_INIT;
  for (int l = 0; l < 7; l++) {
    char name[64];
    snprintf(name, sizeof name, "leveldb.num-files-at-level%d", l);
    int rc = strata_property(d->db, name, &out);
    fprintf(stderr, " %s", rc == STRATA_OK ? out.data : "?");
  }
  strata_buf_free(&out);
  fputc('\n', stderr);
}

static compat_iter *cdb_iter(compat_db *d) {
  compat_iter *it = malloc(sizeof *it);
  check_rc(strata_iter_create(d->db, &d->ro, &it->it), "strata_iter_create");
  return it;
}

static void cdb_iter_free(compat_iter *it) {
  strata_iter_destroy(it->it);
  free(it);
}

static void cdb_first(compat_iter *it) { strata_iter_seek_to_first(it->it); }
static void cdb_last(compat_iter *it) { strata_iter_seek_to_last(it->it); }
static void cdb_seek(compat_iter *it, const void *k, size_t kl) { strata_iter_seek(it->it, k, kl); }
static void cdb_next(compat_iter *it) { strata_iter_next(it->it); }
static void cdb_prev(compat_iter *it) { strata_iter_prev(it->it); }

static int cdb_valid(compat_iter *it) {
  if (strata_iter_valid(it->it)) return 1;
  check_rc(strata_iter_status(it->it), "iterator");
  return 0;
}

static const char *cdb_key(compat_iter *it, size_t *kl) { return strata_iter_key(it->it, kl); }
static const char *cdb_value(compat_iter *it, size_t *vl) { return strata_iter_value(it->it, vl); }

int main(int argc, char **argv) { return compat_main(argc, argv, "strata_tool"); }
