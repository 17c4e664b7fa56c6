/*
 * table.c - reading a sorted table (see table.h; format in table/format.h).
 *
 * Open reads the footer, then keeps the index block, the metaindex and the
 * filter block (when the options' filter policy wrote one) in memory for
 * the table's lifetime. Data blocks are read on demand, through the block
 * cache when the options give one.
 */
#include "table/table.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "table/block.h"
#include "table/filter_block.h"
#include "table/format.h"
#include "table/two_level_iter.h"
#include "util/coding.h"
#include "util/error.h"
#include "util/internal_key.h"

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
  int have_filter; /* filter usable: opt.filter_policy made filter_block */
  st_block_contents filter_block;
  st_filter_block_reader filter; /* reads filter_block */
  read_ctx ctx[4];               /* [verify_checksums * 2 + fill_cache] */
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
/* The block at h, from the block cache or the file. On return either *ch is
 * a cache handle (release it) and *cached its block, or *ch is NULL and c
 * holds the contents read (the caller owns c; see st_block_contents).
 * A block the cache does not admit yet (st_cache_lookup_admit: first read
 * of it) is not inserted; when `transient`, the caller uses it only until
 * its next block read on this thread (a point lookup), so it is read with
 * st_read_block_transient() and allocates nothing. */
static int fetch_block(st_table *t, const st_read_opts *ro, const st_block_handle *h, int transient,
                       st_block_contents *c, const st_block **cached, st_cache_handle **ch) {
  st_cache *cache = t->opt.block_cache;
  char kbuf[CACHE_KEY_SIZE];
  st_slice key = {NULL, 0};
  int admit = 0;
  *ch = NULL;
  *cached = NULL;
  if (cache) {
    key = cache_key(t, h->offset, kbuf);
    if ((*ch = st_cache_lookup_admit(cache, key, &admit))) {
      *cached = st_cache_value(*ch);
      if (!ro->verify_checksums || (*cached)->verified) return 0;
      /* Cached by a read that did not check it; this one must (a
       * compaction always does, lest it rewrite damage under a valid
       * checksum). Read it again, checked, and let the checked copy
       * replace the cached one. */
      st_cache_release(cache, *ch);
      *ch = NULL;
      *cached = NULL;
      admit = 1;
    }
    admit = admit && ro->fill_cache;
  }
  int rc = (transient && !admit)
               ? st_read_block_transient(t->file, t->path, t->file_size, h, ro->verify_checksums, c)
               : st_read_block(t->file, t->path, t->file_size, h, ro->verify_checksums, c);
  if (rc) return rc;
  if (admit && c->heap) {
    st_block *b = malloc(sizeof *b);
    if (!b) {
      st_block_contents_free(c);
      return st_err(STRATA_ENOMEM, "%s: block cache entry", t->path);
    }
    st_block_init(b, c, t->path, h->offset);
    b->verified = ro->verify_checksums;
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
  int rc = fetch_block(t, &ctx->ro, &h, 0, &c, &b, &ch);
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

/* Loads the filter block of opt.filter_policy, if the table has one. A
 * table written with another policy (or none) has no "filter.<our name>"
 * entry and is read without filters. A damaged filter block is ignored
 * too, as in LevelDB (reads stay correct, only slower), unless paranoid;
 * running out of memory is always an error. */
static int load_filter(st_table *t) {
  const st_filter_policy *p = t->opt.filter_policy;
  if (!p || !t->have_metaindex) return 0;
  st_buf name = ST_BUF_INIT;
  int rc = st_buf_append(&name, "filter.", 7);
  if (!rc) rc = st_buf_append(&name, p->name, strlen(p->name) + 1);
  st_block_handle h;
  if (!rc) rc = st_table_find_meta(t, name.data, &h);
  st_buf_free(&name);
  if (rc == STRATA_ENOTFOUND) return 0;
  if (!rc) rc = st_table_read_meta(t, &h, &t->filter_block);
  if (!rc && !st_filter_block_reader_init(
                 &t->filter, p, st_slice_make(t->filter_block.data, t->filter_block.size)))
    rc = st_err_corrupt("%s: bad filter block at offset %" PRIu64 " (size %" PRIu64 ")", t->path,
                        h.offset, h.size);
  if (!rc) {
    t->have_filter = 1;
    return 0;
  }
  st_block_contents_free(&t->filter_block);
  return (rc == STRATA_ENOMEM || t->opt.paranoid_checks) ? rc : 0;
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
   * metaindex makes the table work without them -- unless paranoid.
   * Running out of memory is no damage: it fails the open. */
  rc = st_read_block(file, p, file_size, &footer.metaindex, 1, &c);
  if (!rc) {
    st_block_init(&t->metaindex, &c, t->path, footer.metaindex.offset);
    if (t->metaindex.malformed)
      rc = st_err_corrupt("%s: bad metaindex block at offset %" PRIu64 " (size %" PRIu64 ")", p,
                          footer.metaindex.offset, footer.metaindex.size);
    else
      t->have_metaindex = 1;
  }
  if (rc && (opt->paranoid_checks || rc == STRATA_ENOMEM)) goto fail;
  if ((rc = load_filter(t))) goto fail;

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
  st_block_contents_free(&t->filter_block);
  t->file->close(t->file);
  free(t->path);
  free(t);
}

/* ---- reads ------------------------------------------------------------- */

/* st_stored_fn of the table iterator. */
static int stored_block(void *arg, st_slice value, st_slice *stored) {
  const st_table *t = ((read_ctx *)arg)->t;
  st_block_handle h;
  if (!st_block_handle_decode(value.data, value.data + value.size, &h)) return 0;
  return st_read_stored_block(t->file, t->file_size, &h, stored);
}

st_iter *st_table_iter(st_table *t, const st_read_opts *ro) {
  st_iter *index = st_block_iter_new(&t->index, t->opt.ucmp);
  if (!index) return NULL;
  read_ctx *ctx = &t->ctx[(ro->verify_checksums ? 2 : 0) + (ro->fill_cache ? 1 : 0)];
  st_iter *it = st_two_level_iter_new(index, data_block_iter, ctx);
  if (it) st_two_level_iter_set_stored_fn(it, stored_block);
  return it;
}

int st_table_get(st_table *t, const st_read_opts *ro, st_slice ikey, void *arg,
                 int (*fn)(void *arg, st_slice k, st_slice v)) {
  /* Iterators on the stack: a lookup allocates only the block it reads
   * (nothing on a block-cache hit or an mmap'd uncompressed table). */
  st_block_iter idx;
  st_block_iter_init(&idx, &t->index, t->opt.ucmp);
  st_iter_seek(&idx.base, ikey);
  int rc = 0, done = 0, first = 1;
  while (!done && st_iter_valid(&idx.base)) {
    st_slice hv = st_iter_value(&idx.base);
    st_block_handle h;
    if (!st_block_handle_decode(hv.data, hv.data + hv.size, &h)) {
      rc = bad_handle(t);
      break;
    }
    /* Only the block the index points at can hold ikey's user key (a later
     * block starts past the separator, at a greater user key), so only its
     * filter is asked. */
    if (first && t->have_filter &&
        !st_filter_block_may_match(&t->filter, h.offset, st_ikey_user(ikey)))
      break;
    first = 0;
    st_block_contents c = {NULL, 0, NULL};
    const st_block *b;
    st_cache_handle *ch;
    if ((rc = fetch_block(t, ro, &h, 1, &c, &b, &ch))) break;
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

int st_table_middle_key(st_table *t, st_buf *out) {
  st_block_iter idx;
  st_block_iter_init(&idx, &t->index, t->opt.ucmp);
  size_t n = 0;
  for (st_iter_seek_to_first(&idx.base); st_iter_valid(&idx.base); st_iter_next(&idx.base))
    n++;
  int rc = st_iter_status(&idx.base);
  if (!rc && n < 2) rc = STRATA_ENOTFOUND;
  if (!rc) {
    st_iter_seek_to_first(&idx.base);
    for (size_t i = 1; i < n / 2 && st_iter_valid(&idx.base); i++)
      st_iter_next(&idx.base);
    if (!st_iter_valid(&idx.base)) {
      rc = STRATA_ENOTFOUND;
    } else {
      st_slice k = st_iter_key(&idx.base);
      if (st_buf_set(out, k.data, k.size)) rc = STRATA_ENOMEM;
    }
  }
  st_block_iter_fini(&idx);
  return rc;
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

/* ---- scan -------------------------------------------------------------- */

/* Passes the thread's current message to bad_block. It is copied first:
 * the callback may itself set messages. */
static void report_bad(void (*bad_block)(void *, uint64_t, int, const char *), void *arg,
                       uint64_t offset, int code) {
  if (!bad_block) return;
  char what[ST_ERRMSG_MAX];
  snprintf(what, sizeof what, "%s", st_errmsg());
  bad_block(arg, offset, code, what);
}

/* Walks every entry of b checking that each parses and that keys ascend,
 * starting above *prev when have_prev. On success *last holds the block's
 * last key (unchanged for a block without entries) and *nentries the count.
 * Returns 0, STRATA_ECORRUPTION or STRATA_ENOMEM. */
static int check_block(const st_table *t, const st_block *b, st_buf *last, int *have_last,
                       uint64_t *nentries) {
  st_block_iter it;
  st_block_iter_init(&it, b, t->opt.ucmp);
  int rc = 0;
  uint64_t n = 0;
  for (st_iter_seek_to_first(&it.base); st_iter_valid(&it.base); st_iter_next(&it.base)) {
    st_slice k = st_iter_key(&it.base);
    if (*have_last && st_icmp(t->opt.ucmp, st_buf_slice(last), k) >= 0) {
      rc =
          st_err_corrupt("%s: keys out of order in block at offset %" PRIu64 " (entry %" PRIu64 ")",
                         t->path, b->offset, n);
      break;
    }
    if (st_buf_set(last, k.data, k.size)) {
      rc = STRATA_ENOMEM;
      break;
    }
    *have_last = 1;
    n++;
  }
  if (!rc) rc = st_iter_status(&it.base);
  st_block_iter_fini(&it);
  *nentries = n;
  return rc;
}

int64_t st_table_scan(st_table *t, void *arg, int (*entry)(void *arg, st_slice k, st_slice v),
                      void (*bad_block)(void *arg, uint64_t offset, int code, const char *what)) {
  st_block_iter idx;
  st_block_iter_init(&idx, &t->index, t->opt.ucmp);
  /* prev: the last key of the last good block; cur: the block being
   * checked. A good block's last key becomes prev by swapping the two. */
  st_buf prev = ST_BUF_INIT, cur = ST_BUF_INIT;
  int have_prev = 0;
  int64_t bad = 0, stop = 0;
  for (st_iter_seek_to_first(&idx.base); !stop && st_iter_valid(&idx.base);
       st_iter_next(&idx.base)) {
    st_slice hv = st_iter_value(&idx.base);
    st_block_handle h;
    if (!st_block_handle_decode(hv.data, hv.data + hv.size, &h)) {
      /* Where the block is is unknown: report the index entry's block. */
      report_bad(bad_block, arg, t->index.offset, bad_handle(t));
      bad++;
      continue;
    }
    st_block_contents c;
    int rc = st_read_block(t->file, t->path, t->file_size, &h, 1, &c);
    if (rc == STRATA_ENOMEM) {
      stop = rc;
      break;
    }
    if (rc) {
      report_bad(bad_block, arg, h.offset, rc);
      bad++;
      continue;
    }
    st_block b;
    st_block_init(&b, &c, t->path, h.offset);
    /* Check the whole block before handing out any entry: a bad block must
     * contribute nothing. */
    if (st_buf_set(&cur, prev.data, prev.size)) rc = STRATA_ENOMEM;
    int have_cur = have_prev;
    uint64_t n = 0;
    if (!rc) rc = check_block(t, &b, &cur, &have_cur, &n);
    if (rc == STRATA_ENOMEM) {
      stop = rc;
    } else if (rc) {
      report_bad(bad_block, arg, h.offset, rc);
      bad++;
    } else {
      st_block_iter it;
      st_block_iter_init(&it, &b, t->opt.ucmp);
      for (st_iter_seek_to_first(&it.base); entry && st_iter_valid(&it.base);
           st_iter_next(&it.base)) {
        int r = entry(arg, st_iter_key(&it.base), st_iter_value(&it.base));
        if (r < 0) {
          stop = r;
          break;
        }
      }
      st_block_iter_fini(&it);
      st_buf tmp = prev;
      prev = cur;
      cur = tmp;
      have_prev = have_cur;
    }
    st_block_release(&b);
  }
  if (!stop) {
    /* Damage inside the index ends the scan: later handles are lost. */
    int rc = st_iter_status(&idx.base);
    if (rc) {
      report_bad(bad_block, arg, t->index.offset, rc);
      stop = rc;
    }
  }
  st_block_iter_fini(&idx);
  st_buf_free(&prev);
  st_buf_free(&cur);
  return stop ? stop : bad;
}

int st_table_open_path(st_env *env, const st_table_options *opt, const char *path,
                       uint64_t *size_out, st_table **out) {
  uint64_t size = 0;
  st_rafile *file = NULL;
  *out = NULL;
  int rc = env->file_size(env, path, &size);
  if (size_out) *size_out = size;
  if (!rc) rc = env->new_rafile(env, path, &file);
  if (!rc) rc = st_table_open(opt, file, size, path, out);
  return rc;
}

const st_rafile *st_table_file(const st_table *t) { return t->file; }
