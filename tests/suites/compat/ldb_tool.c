/*
 * ldb_tool.c - the LevelDB side of the compatibility tests: write, append
 * and dump (compat_common.h) through Debian's LevelDB 1.23 C API. Linked
 * with -lleveldb only, never with Strata.
 *
 * One more command, reading table files directly (no library involved):
 *   tables DIR   for every .ldb file, walk its index block and count data
 *                blocks by compression type, and its metaindex block for
 *                filter blocks; prints
 *                "tables T unparsed X blocks B snappy S none U filters F".
 */
#include <leveldb/c.h>
#include <snappy-c.h>

#include "compat_common.h"

struct compat_db {
  leveldb_t *db;
  leveldb_options_t *opt;
  leveldb_readoptions_t *ro;
  leveldb_writeoptions_t *wo, *wo_sync;
  leveldb_writebatch_t *batch;
  leveldb_filterpolicy_t *filter;
};

struct compat_iter {
  leveldb_iterator_t *it;
};

static void check_err(char *err, const char *what) {
  if (err != NULL) {
    fprintf(stderr, "ldb_tool: %s: %s\n", what, err);
    leveldb_free(err);
    exit(1);
  }
}

static compat_db *cdb_open(const char *dir, int create, const compat_profile *p) {
  compat_db *d = calloc(1, sizeof *d);
  d->opt = leveldb_options_create();
  leveldb_options_set_create_if_missing(d->opt, create);
  leveldb_options_set_error_if_exists(d->opt, create);
  leveldb_options_set_compression(d->opt, leveldb_snappy_compression);
  leveldb_options_set_write_buffer_size(d->opt, p->write_buffer_size);
  leveldb_options_set_max_file_size(d->opt, p->max_file_size);
  if (p->bloom_bits > 0) {
    d->filter = leveldb_filterpolicy_create_bloom(p->bloom_bits);
    leveldb_options_set_filter_policy(d->opt, d->filter);
  }
  char *err = NULL;
  d->db = leveldb_open(d->opt, dir, &err);
  check_err(err, "leveldb_open");
  d->ro = leveldb_readoptions_create();
  leveldb_readoptions_set_verify_checksums(d->ro, 1);
  d->wo = leveldb_writeoptions_create();
  d->wo_sync = leveldb_writeoptions_create();
  leveldb_writeoptions_set_sync(d->wo_sync, 1);
  d->batch = leveldb_writebatch_create();
  return d;
}

static void cdb_close(compat_db *d) {
  leveldb_close(d->db);
  leveldb_writebatch_destroy(d->batch);
  leveldb_writeoptions_destroy(d->wo);
  leveldb_writeoptions_destroy(d->wo_sync);
  leveldb_readoptions_destroy(d->ro);
  leveldb_options_destroy(d->opt);
  if (d->filter != NULL) leveldb_filterpolicy_destroy(d->filter);
  free(d);
}

static void cdb_put(compat_db *d, const void *k, size_t kl, const void *v, size_t vl, int sync) {
  char *err = NULL;
  leveldb_put(d->db, sync ? d->wo_sync : d->wo, k, kl, v, vl, &err);
  check_err(err, "leveldb_put");
}

static void cdb_delete(compat_db *d, const void *k, size_t kl, int sync) {
  char *err = NULL;
  leveldb_delete(d->db, sync ? d->wo_sync : d->wo, k, kl, &err);
  check_err(err, "leveldb_delete");
}

static void cdb_batch_put(compat_db *d, const void *k, size_t kl, const void *v, size_t vl) {
  leveldb_writebatch_put(d->batch, k, kl, v, vl);
}

static void cdb_batch_delete(compat_db *d, const void *k, size_t kl) {
  leveldb_writebatch_delete(d->batch, k, kl);
}

static void cdb_batch_commit(compat_db *d, int sync) {
  char *err = NULL;
  leveldb_write(d->db, sync ? d->wo_sync : d->wo, d->batch, &err);
  check_err(err, "leveldb_write");
  leveldb_writebatch_clear(d->batch);
}

static void cdb_compact(compat_db *d, const void *b, size_t bl, const void *e, size_t el) {
  leveldb_compact_range(d->db, b, bl, e, el);
}

static int cdb_get(compat_db *d, const void *k, size_t kl, char **v, size_t *vl) {
  char *err = NULL;
  size_t len = 0;
  char *val = leveldb_get(d->db, d->ro, k, kl, &len, &err);
  check_err(err, "leveldb_get");
  *v = NULL;
  *vl = 0;
  if (val == NULL) return 0;
  /* leveldb_get's buffer is malloc'd by LevelDB; hand back our own copy so
   * the caller frees with free(). */
  *v = malloc(len ? len : 1);
  memcpy(*v, val, len);
  *vl = len;
  leveldb_free(val);
  return 1;
}

static void cdb_print_levels(compat_db *d, const char *when) {
  fprintf(stderr, "ldb_tool: tables per level %s:", when);
  for (int l = 0; l < 7; l++) {
    char name[64];
    snprintf(name, sizeof name, "leveldb.num-files-at-level%d", l);
    char *v = leveldb_property_value(d->db, name);
    fprintf(stderr, " %s", v ? v : "?");
    leveldb_free(v);
  }
  fputc('\n', stderr);
}

static compat_iter *cdb_iter(compat_db *d) {
  compat_iter *it = malloc(sizeof *it);
  it->it = leveldb_create_iterator(d->db, d->ro);
  return it;
}

static void cdb_iter_free(compat_iter *it) {
  leveldb_iter_destroy(it->it);
  free(it);
}

static void cdb_first(compat_iter *it) { leveldb_iter_seek_to_first(it->it); }
static void cdb_last(compat_iter *it) { leveldb_iter_seek_to_last(it->it); }
static void cdb_seek(compat_iter *it, const void *k, size_t kl) {
  leveldb_iter_seek(it->it, k, kl);
}
static void cdb_next(compat_iter *it) { leveldb_iter_next(it->it); }
static void cdb_prev(compat_iter *it) { leveldb_iter_prev(it->it); }

static int cdb_valid(compat_iter *it) {
  if (leveldb_iter_valid(it->it)) return 1;
  char *err = NULL;
  leveldb_iter_get_error(it->it, &err);
  check_err(err, "iterator");
  return 0;
}

static const char *cdb_key(compat_iter *it, size_t *kl) { return leveldb_iter_key(it->it, kl); }
static const char *cdb_value(compat_iter *it, size_t *vl) { return leveldb_iter_value(it->it, vl); }

/* ------------------------------------------------------------------------ */
/* tables: compression types of data blocks, read from the files            */
/* ------------------------------------------------------------------------ */

/* Decodes a varint64 from [*p, end); returns 0 when malformed. */
static int get_varint(const unsigned char **p, const unsigned char *end, uint64_t *out) {
  uint64_t v = 0;
  for (int shift = 0; shift <= 63 && *p < end; shift += 7) {
    unsigned char b = *(*p)++;
    v |= (uint64_t)(b & 0x7f) << shift;
    if (!(b & 0x80)) {
      *out = v;
      return 1;
    }
  }
  return 0;
}

/* The contents of the block at [off, off+size) of table f, snappy-
 * decompressed when its trailer says so; *owned receives the buffer to
 * free (NULL when the contents point into f). NULL when malformed. */
static const unsigned char *load_block(const unsigned char *f, size_t flen, uint64_t off,
                                       uint64_t size, size_t *blen, char **owned) {
  *owned = NULL;
  if (off + size + 5 > flen) return NULL;
  if (f[off + size] == 0) {
    *blen = (size_t)size;
    return f + off;
  }
  size_t ulen;
  if (f[off + size] != 1 ||
      snappy_uncompressed_length((const char *)f + off, (size_t)size, &ulen) != SNAPPY_OK)
    return NULL;
  *owned = malloc(ulen ? ulen : 1);
  if (snappy_uncompress((const char *)f + off, (size_t)size, *owned, &ulen) != SNAPPY_OK) {
    free(*owned);
    *owned = NULL;
    return NULL;
  }
  *blen = ulen;
  return (const unsigned char *)*owned;
}

/* Calls fn(key, klen, value, vlen, arg) for each entry of a block (entries
 * with shared-prefix keys, then restart offsets, then their count); 0 when
 * the block parses to its end. */
static int walk_block(const unsigned char *b, size_t blen,
                      void (*fn)(const unsigned char *, size_t, const unsigned char *, size_t,
                                 void *),
                      void *arg) {
  if (blen < 4) return -1;
  uint32_t nrestarts = (uint32_t)b[blen - 4] | (uint32_t)b[blen - 3] << 8 |
                       (uint32_t)b[blen - 2] << 16 | (uint32_t)b[blen - 1] << 24;
  if ((uint64_t)nrestarts * 4 + 4 > blen) return -1;
  const unsigned char *p = b, *de = b + blen - 4 - 4 * (size_t)nrestarts;
  unsigned char *key = NULL;
  size_t klen = 0;
  while (p < de) {
    uint64_t shared, nonshared, vlen;
    if (!get_varint(&p, de, &shared) || !get_varint(&p, de, &nonshared) ||
        !get_varint(&p, de, &vlen) || shared > klen || (uint64_t)(de - p) < nonshared + vlen)
      break;
    key = realloc(key, (size_t)(shared + nonshared) + 1);
    memcpy(key + shared, p, (size_t)nonshared);
    klen = (size_t)(shared + nonshared);
    p += nonshared;
    fn(key, klen, p, (size_t)vlen, arg);
    p += vlen;
  }
  free(key);
  return p == de ? 0 : -1;
}

typedef struct table_stats {
  const unsigned char *f;
  size_t flen;
  long blocks, snappy, none, filters, bad;
} table_stats;

static void on_index_entry(const unsigned char *k, size_t kl, const unsigned char *v, size_t vl,
                           void *arg) {
  (void)k;
  (void)kl;
  table_stats *ts = arg;
  const unsigned char *ve = v + vl;
  uint64_t bo, bs;
  if (!get_varint(&v, ve, &bo) || !get_varint(&v, ve, &bs) || bo + bs + 5 > ts->flen) {
    ts->bad++;
    return;
  }
  ts->blocks++;
  if (ts->f[bo + bs] == 1) ts->snappy++;
  if (ts->f[bo + bs] == 0) ts->none++;
}

static void on_meta_entry(const unsigned char *k, size_t kl, const unsigned char *v, size_t vl,
                          void *arg) {
  (void)v;
  (void)vl;
  table_stats *ts = arg;
  if (kl > 7 && memcmp(k, "filter.", 7) == 0) ts->filters++;
}

/* Adds one table's data blocks (by compression type) and filter blocks to
 * ts; -1 if its footer, index or metaindex block does not parse. */
static int scan_table(const char *path, table_stats *ts) {
  size_t len;
  unsigned char *f = su_read_file(path, &len);
  /* Footer: metaindex handle, index handle, padding to 40 bytes, magic. */
  static const unsigned char magic[8] = {0x57, 0xfb, 0x80, 0x8b, 0x24, 0x75, 0x47, 0xdb};
  int rc = -1;
  uint64_t mo, ms, io, is;
  const unsigned char *p = f ? f + len - 48 : NULL;
  if (f != NULL && len >= 48 && memcmp(f + len - 8, magic, 8) == 0 &&
      get_varint(&p, f + len - 8, &mo) && get_varint(&p, f + len - 8, &ms) &&
      get_varint(&p, f + len - 8, &io) && get_varint(&p, f + len - 8, &is)) {
    char *o1, *o2;
    size_t ilen, mlen;
    const unsigned char *index = load_block(f, len, io, is, &ilen, &o1);
    const unsigned char *meta = load_block(f, len, mo, ms, &mlen, &o2);
    ts->f = f;
    ts->flen = len;
    long bad = ts->bad;
    if (index != NULL && meta != NULL && walk_block(index, ilen, on_index_entry, ts) == 0 &&
        walk_block(meta, mlen, on_meta_entry, ts) == 0 && ts->bad == bad)
      rc = 0;
    free(o1);
    free(o2);
  }
  free(f);
  return rc;
}

static int cmd_tables(const char *dir) {
  DIR *d = opendir(dir);
  if (d == NULL) compat_die("ldb_tool: cannot open %s", dir);
  struct dirent *e;
  long tables = 0, unparsed = 0;
  table_stats ts;
  memset(&ts, 0, sizeof ts);
  while ((e = readdir(d)) != NULL) {
    size_t n = strlen(e->d_name);
    if (n < 5 || strcmp(e->d_name + n - 4, ".ldb") != 0) continue;
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    tables++;
    /* A table that does not parse may be the unfinished output of a
     * compaction cut short by close (deleted as obsolete at the next open),
     * so it is counted, not fatal. */
    if (scan_table(path, &ts) != 0) unparsed++;
  }
  closedir(d);
  printf("tables %ld unparsed %ld blocks %ld snappy %ld none %ld filters %ld\n", tables, unparsed,
         ts.blocks, ts.snappy, ts.none, ts.filters);
  return 0;
}

int main(int argc, char **argv) {
  if (argc == 3 && strcmp(argv[1], "tables") == 0) return cmd_tables(argv[2]);
  return compat_main(argc, argv, "ldb_tool");
}
