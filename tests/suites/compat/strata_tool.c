/*
 * strata_tool.c - the Strata side of the compatibility tests: the same
 * write, append and dump commands as ldb_tool (compat_common.h), through
 * strata.h. Linked with strata_static only, never with LevelDB.
 *
 * With STRATA_TOOL_RAW=1 in the environment, dump reads every key as
 * leveldb/c.h (and LevelDB) do, the range reserved for sub-databases
 * included, so its output can be compared with ldb_tool's byte for byte.
 *
 * Commands of its own, for sub-databases and transactions:
 *   subdbs  DIR SEED N   open DIR, create sub-databases a, b and c, and
 *                        apply N ops to them: puts, deletes, transactions
 *                        spanning them and the main database (committed),
 *                        one dropped and made anew; compactions on the way,
 *                        a tail left in the log
 *   subdump DIR          every sub-database by name: its keys and values,
 *                        forward then backward
 *
 * Two more commands, for what LevelDB has no counterpart of (ldb_tool then
 * reads the result):
 *   bulkload DIR SEED N [PROFILE]      a new database of the first N keys of
 *                                      the key space, through a sorted bulk
 *                                      load (strata_loader_*), then a tail of
 *                                      writes left in the log
 *   checkpoint SRC DEST SEED [PROFILE] a tail of writes of stream SEED into
 *                                      SRC (left in its memtable), then
 *                                      strata_checkpoint(SRC, DEST)
 */
#include <stdlib.h>

#include "db/db_raw.h"
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

static int raw_mode(void) {
  const char *e = getenv("STRATA_TOOL_RAW");
  return e && strcmp(e, "1") == 0;
}

static int cdb_get(compat_db *d, const void *k, size_t kl, char **v, size_t *vl) {
  strata_buf buf = STRATA_BUF_INIT;
  int rc = raw_mode() ? st_db_get_any(d->db, &d->ro, k, kl, &buf)
                      : strata_get(d->db, &d->ro, k, kl, &buf);
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
  check_rc(raw_mode() ? st_db_iter_create_raw(d->db, &d->ro, &it->it)
                      : strata_iter_create(d->db, &d->ro, &it->it),
           "strata_iter_create");
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

/* ------------------------------------------------------------------------ */
/* Sub-databases and transactions                                           */
/* ------------------------------------------------------------------------ */

static void subdbs(const char *dir, uint64_t seed, uint64_t n) {
  compat_db *d = cdb_open(dir, 0, compat_find_profile("small"));
  strata_subdb *s[3];
  const char *names[3] = {"a", "b", "c"};
  for (int i = 0; i < 3; i++)
    check_rc(strata_subdb_open(d->db, names[i], 1, &s[i]), "strata_subdb_open");
  compat_bufs b = {malloc(1 << 20), malloc(1 << 20)};
  for (uint64_t i = 0; i < n; i++) {
    su_rng r;
    su_rng_seed(&r, su_derive(seed, i));
    uint64_t c = su_rng_below(&r, 100);
    int which = (int)su_rng_below(&r, 3);
    size_t kl = compat_key(compat_pick_key(&r, 1), 1, b.k);
    uint32_t vl = compat_pick_vlen(&r, 1);
    su_fill_value(su_rng_next(&r), vl, b.v);
    if (c < 60) {
      check_rc(strata_put_in(d->db, s[which], NULL, b.k, kl, b.v, vl), "strata_put_in");
    } else if (c < 70) {
      check_rc(strata_delete_in(d->db, s[which], NULL, b.k, kl), "strata_delete_in");
    } else {
      /* A transaction over two sub-databases and the main database. */
      strata_txn_options to;
      strata_txn_options_init(&to);
      to.write = 1;
      strata_txn *t;
      check_rc(strata_txn_begin(d->db, &to, &t), "strata_txn_begin");
      check_rc(strata_txn_put(t, s[which], b.k, kl, b.v, vl), "strata_txn_put");
      check_rc(strata_txn_put(t, s[(which + 1) % 3], b.k, kl, b.v, vl), "strata_txn_put");
      check_rc(strata_txn_put(t, NULL, b.k, kl, b.v, vl), "strata_txn_put");
      check_rc(strata_txn_commit(t), "strata_txn_commit");
      strata_txn_destroy(t);
    }
    if (i == n / 3) check_rc(strata_compact_range(d->db, NULL, 0, NULL, 0), "compact");
    if (i == n / 2) {
      /* Dropped and made anew: the new one holds only what follows. */
      check_rc(strata_subdb_drop(d->db, s[2], NULL), "strata_subdb_drop");
      check_rc(strata_subdb_open(d->db, "c", 1, &s[2]), "strata_subdb_open");
    }
    if (i == 2 * n / 3) check_rc(strata_compact_range(d->db, NULL, 0, NULL, 0), "compact");
  }
  free(b.k);
  free(b.v);
  cdb_close(d);
}

static int print_name(void *arg, const char *name) {
  compat_db *d = arg;
  strata_subdb *s;
  check_rc(strata_subdb_open(d->db, name, 0, &s), "strata_subdb_open");
  printf("D %s\n", name);
  strata_iter *it;
  check_rc(strata_iter_create_in(d->db, s, &d->ro, &it), "strata_iter_create_in");
  for (int pass = 0; pass < 2; pass++) {
    if (pass == 0)
      strata_iter_seek_to_first(it);
    else
      strata_iter_seek_to_last(it);
    while (strata_iter_valid(it)) {
      size_t kl, vl;
      const char *k = strata_iter_key(it, &kl), *v = strata_iter_value(it, &vl);
      fputs(pass ? "B " : "F ", stdout);
      compat_put_bytes(k, kl);
      putchar(' ');
      compat_put_bytes(v, vl);
      putchar('\n');
      if (pass == 0)
        strata_iter_next(it);
      else
        strata_iter_prev(it);
    }
    check_rc(strata_iter_status(it), "iterator");
  }
  strata_iter_destroy(it);
  return 0;
}

static void subdump(const char *dir) {
  compat_db *d = cdb_open(dir, 0, compat_find_profile("small"));
  check_rc(strata_subdb_list(d->db, print_name, d), "strata_subdb_list");
  cdb_close(d);
}

/* ------------------------------------------------------------------------ */
/* Strata-only commands: what LevelDB has no counterpart for, checked by    */
/* reading the result with ldb_tool.                                        */
/* ------------------------------------------------------------------------ */

typedef struct sorted_key {
  unsigned char *k;
  size_t len;
  uint32_t j; /* key index in the key space */
} sorted_key;

static int cmp_sorted_key(const void *a, const void *b) {
  const sorted_key *x = a, *y = b;
  size_t n = x->len < y->len ? x->len : y->len;
  int c = n ? memcmp(x->k, y->k, n) : 0;
  return c ? c : (x->len > y->len) - (x->len < y->len);
}

/* bulkload DIR SEED N [PROFILE]: creates a database holding the first N
 * keys of the key space (sorted; equal keys once) with values of stream
 * SEED, through strata_loader_*; prints the tables per level; then a tail
 * of ordinary writes left in the log, as `write` leaves one. */
static void bulkload(const char *dir, uint64_t seed, uint64_t n, const compat_profile *p) {
  uint32_t space = COMPAT_BIG_KEY + (p->small_data ? 400 : COMPAT_KEYS);
  if (n > space) n = space;
  sorted_key *keys = calloc(n ? n : 1, sizeof *keys);
  unsigned char *kb = malloc(1 << 20), *vb = malloc(1 << 20);
  for (uint32_t j = 0; j < n; j++) {
    keys[j].len = compat_key(j, p->small_data, kb);
    keys[j].k = malloc(keys[j].len ? keys[j].len : 1);
    memcpy(keys[j].k, kb, keys[j].len);
    keys[j].j = j;
  }
  qsort(keys, n, sizeof *keys, cmp_sorted_key);
  compat_db *db = cdb_open(dir, 1, p);
  strata_loader *l;
  check_rc(strata_loader_create(db->db, NULL, &l), "strata_loader_create");
  uint64_t loaded = 0;
  for (uint64_t i = 0; i < n; i++) {
    if (i > 0 && cmp_sorted_key(&keys[i - 1], &keys[i]) == 0) continue;
    su_rng r;
    su_rng_seed(&r, su_derive(seed, keys[i].j));
    uint32_t vl = compat_pick_vlen(&r, p->small_data);
    su_fill_value(su_rng_next(&r), vl, vb);
    check_rc(strata_loader_add(l, keys[i].k, keys[i].len, vb, vl), "strata_loader_add");
    loaded++;
  }
  check_rc(strata_loader_finish(l), "strata_loader_finish");
  strata_loader_destroy(l);
  fprintf(stderr, "strata_tool: %llu keys bulk-loaded\n", (unsigned long long)loaded);
  cdb_print_levels(db, "after bulk load");
  compat_bufs b = {kb, vb};
  for (uint64_t i = 0; i < 20; i++)
    compat_apply(db, seed ^ 0x7461696cULL, i, 1, &b);
  cdb_close(db);
  for (uint64_t i = 0; i < n; i++)
    free(keys[i].k);
  free(keys);
  free(kb);
  free(vb);
}

/* checkpoint SRC DEST SEED [PROFILE]: opens SRC, applies a tail of writes
 * (left in its memtable), takes a checkpoint into DEST, closes. */
static void checkpoint(const char *src, const char *dest, uint64_t seed, const compat_profile *p) {
  compat_db *db = cdb_open(src, 0, p);
  compat_bufs b = {malloc(1 << 20), malloc(1 << 20)};
  for (uint64_t i = 0; i < 50; i++)
    compat_apply(db, seed, i, 1, &b);
  check_rc(strata_checkpoint(db->db, dest), "strata_checkpoint");
  cdb_close(db);
  free(b.k);
  free(b.v);
}

int main(int argc, char **argv) {
  if ((argc == 5 || argc == 6) && strcmp(argv[1], "bulkload") == 0) {
    bulkload(argv[2], strtoull(argv[3], NULL, 0), strtoull(argv[4], NULL, 0),
             compat_find_profile(argc == 6 ? argv[5] : "default"));
    return 0;
  }
  if ((argc == 5 || argc == 6) && strcmp(argv[1], "checkpoint") == 0) {
    checkpoint(argv[2], argv[3], strtoull(argv[4], NULL, 0),
               compat_find_profile(argc == 6 ? argv[5] : "default"));
    return 0;
  }
  if (argc == 5 && strcmp(argv[1], "subdbs") == 0) {
    subdbs(argv[2], strtoull(argv[3], NULL, 0), strtoull(argv[4], NULL, 0));
    return 0;
  }
  if (argc == 3 && strcmp(argv[1], "subdump") == 0) {
    subdump(argv[2]);
    return 0;
  }
  return compat_main(argc, argv, "strata_tool");
}
