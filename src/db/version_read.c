/*
 * version_read.c - reading a version: point lookups level by level (newest
 * level-0 table first), the iterators over every table of a version or of a
 * compaction's inputs, and approximate offsets. No lock needed: the caller
 * holds a reference on the version (see version_set.h).
 */
#include "db/version_set.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/filename.h"
#include "db/version_internal.h"
#include "db/memtable.h"
#include "table/merger.h"
#include "table/two_level_iter.h"
#include "util/error.h"
#include "util/internal_key.h"

/* ------------------------------------------------------------------------ */
/* Level iterator: a sorted level's file list as an index for two_level    */
/* ------------------------------------------------------------------------ */

typedef struct level_iter {
  st_iter base;
  const st_comparator *ucmp;
  st_file_meta **files;
  int n;
  int idx;        /* n = not valid */
  char value[16]; /* number:fixed64 size:fixed64 of files[idx] */
} level_iter;

static int li_valid(const st_iter *it) {
  const level_iter *l = (const level_iter *)it;
  return l->idx >= 0 && l->idx < l->n;
}
static void li_fill(level_iter *l) {
  if (l->idx >= 0 && l->idx < l->n) {
    st_put_fixed64(l->value, l->files[l->idx]->number);
    st_put_fixed64(l->value + 8, l->files[l->idx]->file_size);
  }
}
static void li_first(st_iter *it) {
  level_iter *l = (level_iter *)it;
  l->idx = 0;
  li_fill(l);
}
static void li_last(st_iter *it) {
  level_iter *l = (level_iter *)it;
  l->idx = l->n - 1;
  li_fill(l);
}
static void li_seek(st_iter *it, st_slice target) {
  level_iter *l = (level_iter *)it;
  l->idx = find_file(l->ucmp, l->files, l->n, target);
  li_fill(l);
}
static void li_next(st_iter *it) {
  level_iter *l = (level_iter *)it;
  l->idx++;
  li_fill(l);
}
static void li_prev(st_iter *it) {
  level_iter *l = (level_iter *)it;
  l->idx = l->idx == 0 ? l->n : l->idx - 1;
  li_fill(l);
}
static st_slice li_key(const st_iter *it) {
  const level_iter *l = (const level_iter *)it;
  return l->files[l->idx]->largest;
}
static st_slice li_value(const st_iter *it) {
  const level_iter *l = (const level_iter *)it;
  return st_slice_make(l->value, 16);
}
static int li_status(const st_iter *it) {
  (void)it;
  return 0;
}
static void li_destroy(st_iter *it) { free(it); }

static const st_iter_ops level_iter_ops = {li_valid,  li_first,   li_last, li_seek,
                                           li_next,   li_prev,    li_key,  li_value,
                                           li_status, li_destroy, NULL};

typedef struct level_arg {
  st_table_cache *tc;
  st_read_opts ro;
} level_arg;

static st_iter *open_level_file(void *arg, st_slice handle) {
  level_arg *a = arg;
  if (handle.size != 16) {
    st_err_corrupt("level iterator: bad file entry");
    return st_iter_empty(STRATA_ECORRUPTION);
  }
  return st_table_cache_iter(a->tc, &a->ro, st_get_fixed64(handle.data),
                             st_get_fixed64(handle.data + 8), NULL);
}

static void free_level_arg(void *a, void *unused) {
  (void)unused;
  free(a);
}

/* A concatenating iterator over a non-overlapping, sorted file list. The
 * files array must outlive it (the caller holds the version). */
static st_iter *concat_iter(st_version_set *vs, const st_read_opts *ro, st_file_meta **files,
                            int n) {
  level_iter *l = calloc(1, sizeof *l);
  level_arg *a = malloc(sizeof *a);
  if (!l || !a) {
    free(l);
    free(a);
    return NULL;
  }
  st_iter_init(&l->base, &level_iter_ops);
  l->ucmp = vs->ucmp;
  l->files = files;
  l->n = n;
  l->idx = n;
  a->tc = vs->tc;
  a->ro = *ro;
  st_iter *it = st_two_level_iter_new(&l->base, open_level_file, a);
  if (!it) {
    free(a);
    return NULL;
  }
  st_iter_on_destroy(it, free_level_arg, a, NULL);
  return it;
}

static int push_iter(st_iter ***iters, int *n, int *cap, st_iter *it) {
  if (!it) return st_err(STRATA_ENOMEM, "iterator");
  if (*n == *cap) {
    int c = *cap ? *cap * 2 : 8;
    st_iter **v = realloc(*iters, (size_t)c * sizeof *v);
    if (!v) {
      st_iter_destroy(it);
      return st_err(STRATA_ENOMEM, "iterator");
    }
    *iters = v;
    *cap = c;
  }
  (*iters)[(*n)++] = it;
  return 0;
}

int st_version_add_iterators(st_version *v, const st_read_opts *ro, st_iter ***iters, int *n,
                             int *cap) {
  st_version_set *vs = v->vset;
  for (int i = 0; i < v->nfiles[0]; i++) {
    st_file_meta *f = v->files[0][i];
    int rc =
        push_iter(iters, n, cap, st_table_cache_iter(vs->tc, ro, f->number, f->file_size, NULL));
    if (rc) return rc;
  }
  for (int l = 1; l < ST_NUM_LEVELS; l++) {
    if (v->nfiles[l] == 0) continue;
    int rc = push_iter(iters, n, cap, concat_iter(vs, ro, v->files[l], v->nfiles[l]));
    if (rc) return rc;
  }
  return 0;
}

st_iter *st_vset_make_input_iterator(st_version_set *vs, st_compaction *c) {
  /* Checksums are always verified: a damaged block read unchecked would be
   * rewritten under a valid checksum, and the damage could no longer be
   * seen (RocksDB verifies compaction inputs by default too). */
  st_read_opts ro = {1, 0};
  st_iter **iters = NULL;
  int n = 0, cap = 0, rc = 0;
  for (int w = 0; w < 2 && !rc; w++) {
    if (c->ninputs[w] == 0) continue;
    if (c->level + w == 0) {
      for (int i = 0; i < c->ninputs[w] && !rc; i++) {
        st_file_meta *f = c->inputs[w][i];
        rc = push_iter(&iters, &n, &cap,
                       st_table_cache_iter(vs->tc, &ro, f->number, f->file_size, NULL));
      }
    } else {
      rc = push_iter(&iters, &n, &cap, concat_iter(vs, &ro, c->inputs[w], c->ninputs[w]));
    }
  }
  if (rc) {
    for (int i = 0; i < n; i++)
      st_iter_destroy(iters[i]);
    free(iters);
    return NULL;
  }
  st_iter *m = st_merging_iter_new(vs->ucmp, iters, n);
  free(iters);
  return m;
}

/* A printable form of internal key k in out: 'user key'@sequence, bytes
 * outside printable ASCII as \xNN, cut after 32 bytes of user key. */
static const char *describe_ikey(st_slice k, char *out, size_t cap) {
  if (k.size < 8) {
    snprintf(out, cap, "(a %zu-byte key, too short for an internal key)", k.size);
    return out;
  }
  st_slice u = st_ikey_user(k);
  size_t o = 0;
  out[o++] = '\'';
  for (size_t i = 0; i < u.size && i < 32 && o + 8 < cap; i++) {
    unsigned char ch = (unsigned char)u.data[i];
    if (ch >= 0x20 && ch < 0x7f && ch != '\\' && ch != '\'')
      out[o++] = (char)ch;
    else
      o += (size_t)snprintf(out + o, cap - o, "\\x%02x", ch);
  }
  snprintf(out + o, cap - o, "%s'@%llu", u.size > 32 ? "..." : "",
           (unsigned long long)(st_ikey_tag(k) >> 8));
  return out;
}

int st_vset_input_order_error(st_version_set *vs, st_compaction *c) {
  st_read_opts ro = {1, 0};
  st_buf prev = ST_BUF_INIT;
  uint64_t prev_file = 0;
  char a[160], b[160];
  int rc = 0;
  for (int w = 0; w < 2 && !rc; w++) {
    prev.size = 0;
    for (int i = 0; i < c->ninputs[w] && !rc; i++) {
      st_file_meta *f = c->inputs[w][i];
      if (c->level + w == 0) prev.size = 0; /* level-0 tables may overlap */
      st_iter *it = st_table_cache_iter(vs->tc, &ro, f->number, f->file_size, NULL);
      if (!it) return st_err(STRATA_ENOMEM, "compaction input check");
      char *path = st_table_file_name(vs->dbname, f->number);
      uint64_t entry = 0;
      for (st_iter_seek_to_first(it); !rc && st_iter_valid(it); st_iter_next(it), entry++) {
        st_slice k = st_iter_key(it);
        st_parsed_ikey pk;
        if (!st_ikey_parse(k, &pk))
          rc = st_err_corrupt("%s: malformed internal key %s at entry %llu (compaction input)",
                              path ? path : "?", describe_ikey(k, a, sizeof a),
                              (unsigned long long)entry);
        else if (prev.size && st_icmp(vs->ucmp, k, st_buf_slice(&prev)) <= 0 && entry > 0)
          rc = st_err_corrupt("%s: keys out of order at entry %llu: %s after %s (compaction input)",
                              path ? path : "?", (unsigned long long)entry,
                              describe_ikey(k, a, sizeof a),
                              describe_ikey(st_buf_slice(&prev), b, sizeof b));
        else if (prev.size && st_icmp(vs->ucmp, k, st_buf_slice(&prev)) <= 0)
          rc = st_err_corrupt("%s: keys out of order: its first key %s is not above the last key "
                              "%s of table %06llu of level %d (compaction input)",
                              path ? path : "?", describe_ikey(k, a, sizeof a),
                              describe_ikey(st_buf_slice(&prev), b, sizeof b),
                              (unsigned long long)prev_file, c->level + w);
        else if (st_buf_set(&prev, k.data, k.size))
          rc = st_err(STRATA_ENOMEM, "compaction input check");
      }
      if (!rc) rc = st_iter_status(it);
      st_iter_destroy(it);
      free(path);
      prev_file = f->number;
    }
  }
  st_buf_free(&prev);
  if (!rc)
    rc = st_err_corrupt("compaction of level %d: input keys out of order across its tables",
                        c->level);
  return rc;
}

/* ------------------------------------------------------------------------ */
/* Point lookups                                                            */
/* ------------------------------------------------------------------------ */

typedef struct saver {
  const st_comparator *ucmp;
  st_slice user_key;
  st_buf *val; /* NULL: only the state and sequence are wanted */
  int state;   /* ST_MEM_ABSENT / FOUND / DELETED */
  uint64_t sequence;
} saver;

static int save_value(void *arg, st_slice k, st_slice v) {
  saver *s = arg;
  st_parsed_ikey pk;
  if (!st_ikey_parse(k, &pk)) return st_err_corrupt("table holds a malformed internal key");
  if (st_ucmp(s->ucmp, pk.user_key, s->user_key) != 0) return 0;
  s->sequence = pk.sequence;
  if (pk.type == ST_TYPE_VALUE) {
    if (s->val && st_buf_set(s->val, v.data, v.size)) return STRATA_ENOMEM;
    s->state = ST_MEM_FOUND;
  } else {
    s->state = ST_MEM_DELETED;
  }
  return 0;
}

static int cmp_newest_first(const void *a, const void *b) {
  const st_file_meta *fa = *(st_file_meta *const *)a, *fb = *(st_file_meta *const *)b;
  return fa->number > fb->number ? -1 : (fa->number < fb->number);
}

static int version_lookup(st_version *v, const st_read_opts *ro, st_slice lookup_ikey, st_buf *val,
                          st_get_stats *stats, uint64_t *found_seq) {
  st_version_set *vs = v->vset;
  const st_comparator *ucmp = vs->ucmp;
  saver s = {ucmp, st_ikey_user(lookup_ikey), val, ST_MEM_ABSENT, 0};
  /* A read that has to look in more than one file charges the first one a
   * seek: a file charged too often is compacted away (seek compaction). */
  st_file_meta *last_read = NULL;
  int last_level = -1;
  stats->seek_file = NULL;
  stats->seek_level = -1;
#define CHARGE(f, lvl)                                                                             \
  do {                                                                                             \
    if (!stats->seek_file && last_read) {                                                          \
      stats->seek_file = last_read;                                                                \
      stats->seek_level = last_level;                                                              \
    }                                                                                              \
    last_read = (f);                                                                               \
    last_level = (lvl);                                                                            \
  } while (0)

  /* Level 0: every file whose range holds the key, newest first. */
  if (v->nfiles[0] > 0) {
    st_file_meta *stackv[16];
    st_file_meta **tmp = stackv;
    if (v->nfiles[0] > 16) {
      tmp = malloc((size_t)v->nfiles[0] * sizeof *tmp);
      if (!tmp) return st_err(STRATA_ENOMEM, "lookup");
    }
    int nt = 0;
    for (int i = 0; i < v->nfiles[0]; i++) {
      st_file_meta *f = v->files[0][i];
      if (st_ucmp(ucmp, s.user_key, st_ikey_user(f->smallest)) >= 0 &&
          st_ucmp(ucmp, s.user_key, st_ikey_user(f->largest)) <= 0)
        tmp[nt++] = f;
    }
    if (nt > 1) qsort(tmp, (size_t)nt, sizeof *tmp, cmp_newest_first);
    int rc = 0;
    for (int i = 0; i < nt && !rc && s.state == ST_MEM_ABSENT; i++) {
      CHARGE(tmp[i], 0);
      rc = st_table_cache_get(vs->tc, ro, tmp[i]->number, tmp[i]->file_size, lookup_ikey, &s,
                              save_value);
    }
    if (tmp != stackv) free(tmp);
    if (rc) return rc;
    if (s.state != ST_MEM_ABSENT) {
      if (found_seq) *found_seq = s.sequence;
      return s.state;
    }
  }
  /* Deeper levels: at most one file per level can hold the key. */
  for (int l = 1; l < ST_NUM_LEVELS; l++) {
    int n = v->nfiles[l];
    if (n == 0) continue;
    int idx = find_file(ucmp, v->files[l], n, lookup_ikey);
    if (idx >= n) continue;
    st_file_meta *f = v->files[l][idx];
    if (st_ucmp(ucmp, s.user_key, st_ikey_user(f->smallest)) < 0) continue;
    CHARGE(f, l);
    int rc = st_table_cache_get(vs->tc, ro, f->number, f->file_size, lookup_ikey, &s, save_value);
    if (rc) return rc;
    if (s.state != ST_MEM_ABSENT) {
      if (found_seq) *found_seq = s.sequence;
      return s.state;
    }
  }
  return ST_MEM_ABSENT;
#undef CHARGE
}

int st_version_get(st_version *v, const st_read_opts *ro, st_slice lookup_ikey, st_buf *val,
                   st_get_stats *stats) {
  return version_lookup(v, ro, lookup_ikey, val, stats, NULL);
}

int st_version_newest(st_version *v, const st_read_opts *ro, st_slice lookup_ikey, uint64_t *seq) {
  st_get_stats stats;
  return version_lookup(v, ro, lookup_ikey, NULL, &stats, seq);
}

int st_version_charge_seek(const st_get_stats *stats) {
  st_file_meta *f = stats->seek_file;
  if (!f) return 0;
  int before = atomic_fetch_sub_explicit(&f->allowed_seeks, 1, memory_order_relaxed);
  /* The first charge past the allowance asks for the compaction; so does
   * every 64th after it, because the mark can be lost: it goes on the
   * version the read used, which a compaction may replace at any moment,
   * or another file may hold the version's one mark. (LevelDB retries on
   * every charge, under its mutex.) */
  return before == 1 || (before <= 0 && (before & 63) == 0);
}

void st_version_mark_seek_compaction(st_version *v, const st_get_stats *stats) {
  if (v->file_to_compact == NULL) {
    v->file_to_compact = stats->seek_file;
    v->file_to_compact_level = stats->seek_level;
  }
}

uint64_t st_version_approximate_offset(st_version *v, st_slice ikey) {
  const st_comparator *ucmp = v->vset->ucmp;
  uint64_t result = 0;
  for (int l = 0; l < ST_NUM_LEVELS; l++) {
    for (int i = 0; i < v->nfiles[l]; i++) {
      st_file_meta *f = v->files[l][i];
      if (st_icmp(ucmp, f->largest, ikey) <= 0) {
        result += f->file_size; /* entirely before ikey */
      } else if (st_icmp(ucmp, f->smallest, ikey) > 0) {
        /* Entirely after; in a sorted level so are all later files. */
        if (l > 0) break;
      } else {
        result += st_table_cache_approximate_offset(v->vset->tc, f->number, f->file_size, ikey);
      }
    }
  }
  return result;
}
