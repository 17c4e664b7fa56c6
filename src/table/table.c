/*
 * table.c - reading a sorted table (see table.h; format in table/format.h).
 *
 * Open reads the footer, then keeps the index block (and the metaindex) in
 * memory for the table's lifetime. Data blocks are read on demand, through
 * the block cache when the options give one.
 */
#include "table/table.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "table/block.h"
#include "table/format.h"
#include "table/two_level_iter.h"
#include "util/coding.h"
#include "util/error.h"

/* What a data-block reader needs: the table and the read options. The
 * table holds one per combination of the two flags, so that creating an
 * iterator allocates nothing for it. */
typedef struct read_ctx {
  st_table *t;
  st_read_opts ro;
} read_ctx;

struct st_table {
  st_table_options opt;
  st_rafile *file;
  uint64_t file_size;
  char *path;
  uint64_t cache_id; /* prefix of this table's keys in opt.block_cache */
  st_block index;
  st_block metaindex; /* empty when it could not be read (see open) */
  int have_metaindex;
  st_block_handle metaindex_handle;
  read_ctx ctx[4]; /* [verify_checksums * 2 + fill_cache] */
};

/* ---- data blocks ------------------------------------------------------- */

#define CACHE_KEY_SIZE 16

/* Block cache key: the table's cache id, then the block offset. */
static st_slice cache_key(const st_table *t, uint64_t offset, char buf[CACHE_KEY_SIZE]) {
  st_put_fixed64(buf, t->cache_id);
  st_put_fixed64(buf + 8, offset);
  return st_slice_make(buf, CACHE_KEY_SIZE);
}

static void delete_cached_block(st_slice key, void *value) {
  (void)key;
  st_block_release(value);
  free(value);
}

/* Fetches the data block at h. On success either *ch is a held block-cache
 * handle whose value (*cached) is the block -- release it with
 * st_cache_release -- or *ch is NULL and *c holds contents the caller owns.
 * Only blocks in malloc'd memory are cached: a block used in place from an
 * mmap costs nothing to re-read. */
static int fetch_block(st_table *t, const st_read_opts *ro, const st_block_handle *h,
                       st_block_contents *c, const st_block **cached, st_cache_handle **ch) {
  st_cache *cache = t->opt.block_cache;
  char kbuf[CACHE_KEY_SIZE];
  st_slice key = {NULL, 0};
  *ch = NULL;
  *cached = NULL;
  if (cache) {
    key = cache_key(t, h->offset, kbuf);
    if ((*ch = st_cache_lookup(cache, key))) {
      *cached = st_cache_value(*ch);
      return 0;
    }
  }
  int rc = st_read_block(t->file, t->path, t->file_size, h, ro->verify_checksums, c);
  if (rc) return rc;
  if (cache && ro->fill_cache && c->heap) {
    st_block *b = malloc(sizeof *b);
    if (!b) {
      st_block_contents_free(c);
      return st_err(STRATA_ENOMEM, "%s: block cache entry", t->path);
    }
    st_block_init(b, c, t->path, h->offset);
    if (!(*ch = st_cache_insert(cache, key, b, b->size, delete_cached_block)))
      return st_err(STRATA_ENOMEM, "%s: block cache insert", t->path);
    *cached = b;
  }
  return 0;
}

static int bad_handle(const st_table *t) {
  return st_err_corrupt("%s: bad block handle in index block at offset %" PRIu64, t->path,
                        t->index.offset);
}

static void release_cache_handle(void *cache, void *handle) { st_cache_release(cache, handle); }

/* st_block_fn of the table iterator: an iterator over the data block whose
 * encoded handle is an index entry's value. */
static st_iter *data_block_iter(void *arg, st_slice value) {
  read_ctx *ctx = arg;
  st_table *t = ctx->t;
  st_block_handle h;
  if (!st_block_handle_decode(value.data, value.data + value.size, &h))
    return st_iter_empty(bad_handle(t));
  st_block_contents c;
  const st_block *b;
  st_cache_handle *ch;
  int rc = fetch_block(t, &ctx->ro, &h, &c, &b, &ch);
  if (rc) return st_iter_empty(rc);
  if (!ch) return st_block_iter_new_owned(&c, t->opt.ucmp, t->path, h.offset);
  st_iter *it = st_block_iter_new(b, t->opt.ucmp);
  if (!it) {
    st_cache_release(t->opt.block_cache, ch);
    return NULL;
  }
  st_iter_on_destroy(it, release_cache_handle, t->opt.block_cache, ch);
  return it;
}

/* ---- open / close ------------------------------------------------------ */

static int read_footer(const st_rafile *file, uint64_t file_size, const char *path, st_footer *f) {
  if (file_size < ST_FOOTER_SIZE)
    return st_err_corrupt("%s: file is too short to be an sstable", path);
  char buf[ST_FOOTER_SIZE];
  st_slice got = {NULL, 0};
  int rc = file->read(file, file_size - ST_FOOTER_SIZE, ST_FOOTER_SIZE, buf, &got);
  if (rc) return rc;
  if (got.size != ST_FOOTER_SIZE)
    return st_err_corrupt("%s: truncated footer read at offset %" PRIu64, path,
                          file_size - ST_FOOTER_SIZE);
  return st_footer_decode(got.data, path, f);
}

int st_table_open(const st_table_options *opt, st_rafile *file, uint64_t file_size,
                  const char *path, st_table **out) {
  *out = NULL;
  st_footer footer;
  int rc = read_footer(file, file_size, path, &footer);
  if (rc) {
    file->close(file);
    return rc;
  }
  st_table *t = calloc(1, sizeof *t);
  char *p = strdup(path);
  if (!t || !p) {
    free(t);
    free(p);
    file->close(file);
    return st_err(STRATA_ENOMEM, "%s: opening table", path);
  }
  t->opt = *opt;
  t->file = file;
  t->file_size = file_size;
  t->path = p;
  t->metaindex_handle = footer.metaindex;
  for (int i = 0; i < 4; i++) {
    t->ctx[i].t = t;
    t->ctx[i].ro.verify_checksums = i >> 1;
    t->ctx[i].ro.fill_cache = i & 1;
  }

  /* The index is read once per open and steers every lookup: always verify
   * it. */
  st_block_contents c;
  rc = st_read_block(file, p, file_size, &footer.index, 1, &c);
  if (rc) goto fail;
  st_block_init(&t->index, &c, t->path, footer.index.offset);
  if (t->index.malformed) {
    rc = st_err_corrupt("%s: bad index block at offset %" PRIu64 " (size %" PRIu64 ")", p,
                        footer.index.offset, footer.index.size);
    goto fail;
  }

  /* Meta blocks only speed reads up (a filter), so as in LevelDB a damaged
   * metaindex makes the table work without them -- unless paranoid. */
  rc = st_read_block(file, p, file_size, &footer.metaindex, 1, &c);
  if (!rc) {
    st_block_init(&t->metaindex, &c, t->path, footer.metaindex.offset);
    if (t->metaindex.malformed)
      rc = st_err_corrupt("%s: bad metaindex block at offset %" PRIu64 " (size %" PRIu64 ")", p,
                          footer.metaindex.offset, footer.metaindex.size);
    else
      t->have_metaindex = 1;
  }
  if (rc && opt->paranoid_checks) goto fail;
  rc = 0;

  if (opt->block_cache) t->cache_id = st_cache_new_id(opt->block_cache);
  *out = t;
  return 0;

fail:
  st_table_close(t);
  return rc;
}

void st_table_close(st_table *t) {
  if (!t) return;
  st_block_release(&t->index);
  st_block_release(&t->metaindex);
  t->file->close(t->file);
  free(t->path);
  free(t);
}

/* ---- reads ------------------------------------------------------------- */

st_iter *st_table_iter(st_table *t, const st_read_opts *ro) {
  st_iter *index = st_block_iter_new(&t->index, t->opt.ucmp);
  if (!index) return NULL;
  read_ctx *ctx = &t->ctx[(ro->verify_checksums ? 2 : 0) + (ro->fill_cache ? 1 : 0)];
  return st_two_level_iter_new(index, data_block_iter, ctx);
}

int st_table_get(st_table *t, const st_read_opts *ro, st_slice ikey, void *arg,
                 int (*fn)(void *arg, st_slice k, st_slice v)) {
  /* Iterators on the stack: a lookup allocates only the block it reads
   * (nothing on a block-cache hit or an mmap'd uncompressed table). */
  st_block_iter idx;
  st_block_iter_init(&idx, &t->index, t->opt.ucmp);
  st_iter_seek(&idx.base, ikey);
  int rc = 0, done = 0;
  while (!done && st_iter_valid(&idx.base)) {
    st_slice hv = st_iter_value(&idx.base);
    st_block_handle h;
    if (!st_block_handle_decode(hv.data, hv.data + hv.size, &h)) {
      rc = bad_handle(t);
      break;
    }
    st_block_contents c = {NULL, 0, NULL};
    const st_block *b;
    st_cache_handle *ch;
    if ((rc = fetch_block(t, ro, &h, &c, &b, &ch))) break;
    st_block local;
    if (!ch) {
      st_block_init(&local, &c, t->path, h.offset);
      b = &local;
    }
    st_block_iter data;
    st_block_iter_init(&data, b, t->opt.ucmp);
    st_iter_seek(&data.base, ikey);
    if (st_iter_valid(&data.base)) {
      done = 1;
      rc = fn(arg, st_iter_key(&data.base), st_iter_value(&data.base));
    } else {
      rc = st_iter_status(&data.base);
    }
    st_block_iter_fini(&data);
    if (ch)
      st_cache_release(t->opt.block_cache, ch);
    else
      st_block_release(&local);
    if (rc) break;
    /* ikey is past the block's last key but not past its separator: the
     * first entry >= ikey, if any, opens the next block. */
    if (!done) st_iter_next(&idx.base);
  }
  if (!rc && !done) rc = st_iter_status(&idx.base);
  st_block_iter_fini(&idx);
  return rc;
}

uint64_t st_table_approximate_offset(st_table *t, st_slice ikey) {
  st_block_iter idx;
  st_block_iter_init(&idx, &t->index, t->opt.ucmp);
  st_iter_seek(&idx.base, ikey);
  uint64_t off = t->metaindex_handle.offset;
  if (st_iter_valid(&idx.base)) {
    st_slice hv = st_iter_value(&idx.base);
    st_block_handle h;
    /* A damaged handle falls back to the end of the data, as LevelDB. */
    if (st_block_handle_decode(hv.data, hv.data + hv.size, &h)) off = h.offset;
  }
  st_block_iter_fini(&idx);
  return off;
}

int st_table_find_meta(const st_table *t, const char *name, st_block_handle *h) {
  if (!t->have_metaindex) return STRATA_ENOTFOUND;
  st_slice want = st_slice_cstr(name);
  st_block_iter it;
  st_block_iter_init(&it, &t->metaindex, NULL);
  st_iter_seek(&it.base, want);
  int rc = STRATA_ENOTFOUND;
  if (st_iter_valid(&it.base) && st_slice_eq(st_iter_key(&it.base), want)) {
    st_slice v = st_iter_value(&it.base);
    rc = st_block_handle_decode(v.data, v.data + v.size, h)
             ? 0
             : st_err_corrupt("%s: bad handle for meta block \"%s\"", t->path, name);
  } else {
    int s = st_iter_status(&it.base);
    if (s) rc = s;
  }
  st_block_iter_fini(&it);
  return rc;
}

int st_table_read_meta(const st_table *t, const st_block_handle *h, st_block_contents *out) {
  return st_read_block(t->file, t->path, t->file_size, h, 1, out);
}
