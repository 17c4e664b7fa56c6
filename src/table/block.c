/*
 * block.c - block parsing and the block iterator (see block.h).
 *
 * Layout read here (table/format.h):
 *   block   := entry* restart:fixed32[num_restarts] num_restarts:fixed32
 *   entry   := shared:varint32 non_shared:varint32 value_len:varint32
 *              key_delta:uint8[non_shared] value:uint8[value_len]
 * Entries occupy [0, restarts); nothing is read outside it except the
 * restart array, whose size was checked by st_block_init.
 */
#include "table/block.h"

#include <assert.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "util/coding.h"
#include "util/error.h"
#include "util/internal_key.h"

void st_block_init(st_block *b, st_block_contents *c, const char *path, uint64_t offset) {
  b->data = c->data;
  b->size = c->size;
  b->heap = c->heap;
  c->heap = NULL;
  c->data = NULL;
  c->size = 0;
  b->path = path;
  b->offset = offset;
  b->malformed = 0;
  b->verified = 0;
  b->restarts = 0;
  b->num_restarts = 0;
  if (b->size < 4) {
    b->malformed = 1;
    return;
  }
  uint32_t n = st_get_fixed32(b->data + b->size - 4);
  if (n > (b->size - 4) / 4) {
    b->malformed = 1;
    return;
  }
  b->num_restarts = n;
  b->restarts = b->size - 4 - (size_t)n * 4;
}

void st_block_release(st_block *b) {
  free(b->heap);
  b->heap = NULL;
  b->data = NULL;
  b->size = 0;
}

/* ---- iterator ---------------------------------------------------------- */

static inline int key_cmp(const st_block_iter *it, st_slice a, st_slice b) {
  return it->ucmp ? st_icmp(it->ucmp, a, b) : st_slice_cmp(a, b);
}

static inline size_t restart_point(const st_block_iter *it, uint32_t i) {
  return st_get_fixed32(it->data + it->restarts + (size_t)i * 4);
}

static void mark_end(st_block_iter *it) {
  it->current = it->next = it->restarts;
  it->restart_index = it->num_restarts;
  it->key_len = 0;
  it->value = st_slice_make("", 0);
}

/* Records damage found at block offset `at`; the iterator stays invalid
 * from now on (every positioning call checks status first). */
static void corrupt(st_block_iter *it, const char *reason, size_t at) {
  it->status = STRATA_ECORRUPTION;
  it->bad_reason = reason;
  it->bad_at = at;
  mark_end(it);
}

/* Decodes an entry header at p (entries end at limit). Returns the start of
 * the key delta, or NULL when a varint or the lengths run past limit. */
static inline const char *decode_entry(const char *p, const char *limit, uint32_t *shared,
                                       uint32_t *non_shared, uint32_t *vlen) {
  if (limit - p < 3) return NULL;
  const unsigned char *u = (const unsigned char *)p;
  if (ST_LIKELY(((u[0] | u[1] | u[2]) & 0x80) == 0)) {
    /* The common case: all three fit in one byte each. */
    *shared = u[0];
    *non_shared = u[1];
    *vlen = u[2];
    p += 3;
  } else {
    if (!(p = st_get_varint32(p, limit, shared))) return NULL;
    if (!(p = st_get_varint32(p, limit, non_shared))) return NULL;
    if (!(p = st_get_varint32(p, limit, vlen))) return NULL;
  }
  if ((size_t)(limit - p) < (uint64_t)*non_shared + *vlen) return NULL;
  return p;
}

/* Makes room for a key of n bytes, keeping the first `keep` bytes. */
static int key_reserve(st_block_iter *it, size_t n, size_t keep) {
  if (n <= it->key_cap) return 0;
  size_t cap = it->key_cap * 2;
  if (cap < n) cap = n;
  char *k = malloc(cap);
  if (!k) return STRATA_ENOMEM;
  memcpy(k, it->key, keep);
  if (it->key != it->key_inline) free(it->key);
  it->key = k;
  it->key_cap = cap;
  return 0;
}

/* Parses the entry at it->next into the current position. Returns 1 when
 * an entry was parsed, 0 at the end of the block or on damage. */
static int parse_next(st_block_iter *it) {
  it->current = it->next;
  if (it->current >= it->restarts) {
    mark_end(it);
    return 0;
  }
  uint32_t shared, non_shared, vlen;
  const char *p =
      decode_entry(it->data + it->current, it->data + it->restarts, &shared, &non_shared, &vlen);
  if (!p || shared > it->key_len) {
    corrupt(it, "bad entry in block", it->current);
    return 0;
  }
  size_t klen = (size_t)shared + non_shared;
  if (it->ucmp && klen < 8) {
    corrupt(it, "internal key too short in block", it->current);
    return 0;
  }
  if (key_reserve(it, klen, shared)) {
    /* Out of memory for a huge key: report as an error of this block, the
     * iterator interface has no separate channel. */
    it->status = STRATA_ENOMEM;
    it->bad_reason = "out of memory for key in block";
    it->bad_at = it->current;
    mark_end(it);
    return 0;
  }
  memcpy(it->key + shared, p, non_shared);
  it->key_len = klen;
  it->value = st_slice_make(p + non_shared, vlen);
  it->next = (size_t)(p + non_shared + vlen - it->data);
  while (it->restart_index + 1 < it->num_restarts &&
         restart_point(it, it->restart_index + 1) < it->current)
    it->restart_index++;
  return 1;
}

/* Positions just before restart point i: parse_next() reads its entry. */
static int seek_to_restart(st_block_iter *it, uint32_t i) {
  size_t off = restart_point(it, i);
  if (off > it->restarts) {
    corrupt(it, "bad restart point in block", it->restarts + (size_t)i * 4);
    return 0;
  }
  it->key_len = 0;
  it->restart_index = i;
  it->next = off;
  return 1;
}

static int bi_valid(const st_iter *base) {
  const st_block_iter *it = (const st_block_iter *)base;
  return it->current < it->restarts;
}

static st_slice bi_key(const st_iter *base) {
  const st_block_iter *it = (const st_block_iter *)base;
  assert(bi_valid(base));
  return st_slice_make(it->key, it->key_len);
}

static st_slice bi_value(const st_iter *base) {
  const st_block_iter *it = (const st_block_iter *)base;
  assert(bi_valid(base));
  return it->value;
}

static int bi_status(const st_iter *base) {
  const st_block_iter *it = (const st_block_iter *)base;
  if (!it->status) return 0;
  const st_block *b = it->block;
  const char *path = b->path ? b->path : "(block)";
  if (it->status == STRATA_ENOMEM)
    return st_err(STRATA_ENOMEM, "%s: %s at offset %" PRIu64, path, it->bad_reason, b->offset);
  return st_err_corrupt("%s: %s at offset %" PRIu64 " (size %zu, byte %zu)", path, it->bad_reason,
                        b->offset, b->size, it->bad_at);
}

static void bi_seek_to_first(st_iter *base) {
  st_block_iter *it = (st_block_iter *)base;
  if (it->status || it->num_restarts == 0) return;
  if (seek_to_restart(it, 0)) parse_next(it);
}

static void bi_seek_to_last(st_iter *base) {
  st_block_iter *it = (st_block_iter *)base;
  if (it->status || it->num_restarts == 0) return;
  if (!seek_to_restart(it, it->num_restarts - 1)) return;
  while (parse_next(it) && it->next < it->restarts) {
  }
}

static void bi_next(st_iter *base) {
  st_block_iter *it = (st_block_iter *)base;
  assert(bi_valid(base));
  parse_next(it);
}

static void bi_prev(st_iter *base) {
  st_block_iter *it = (st_block_iter *)base;
  assert(bi_valid(base));
  /* Entries can only be decoded forwards: go back to the last restart
   * point before the current entry and scan up to the entry before it. */
  size_t original = it->current;
  while (restart_point(it, it->restart_index) >= original) {
    if (it->restart_index == 0) {
      mark_end(it);
      return;
    }
    it->restart_index--;
  }
  if (!seek_to_restart(it, it->restart_index)) return;
  while (parse_next(it) && it->next < original) {
  }
}

static void bi_seek(st_iter *base, st_slice target) {
  st_block_iter *it = (st_block_iter *)base;
  if (it->status || it->num_restarts == 0) return;
  assert(!it->ucmp || target.size >= 8);

  /* Binary search over the restart points for the last one whose key is <
   * target; the answer is in its run (or at the start of the next). When
   * already positioned, the current key narrows the range first (a seek to
   * a nearby key, as merging iterators do, often needs no search). */
  uint32_t left = 0, right = it->num_restarts - 1;
  int cur_cmp = 0;
  int was_valid = bi_valid(base);
  if (was_valid) {
    cur_cmp = key_cmp(it, st_slice_make(it->key, it->key_len), target);
    if (cur_cmp == 0) return;
    if (cur_cmp < 0)
      left = it->restart_index;
    else
      right = it->restart_index;
  }
  const char *limit = it->data + it->restarts;
  while (left < right) {
    uint32_t mid = left + (right - left + 1) / 2;
    size_t off = restart_point(it, mid);
    uint32_t shared, non_shared, vlen;
    const char *p = off < it->restarts
                        ? decode_entry(it->data + off, limit, &shared, &non_shared, &vlen)
                        : NULL;
    if (!p || shared != 0 || (it->ucmp && non_shared < 8)) {
      corrupt(it, "bad restart entry in block", off);
      return;
    }
    /* A restart entry stores its whole key: compare it in place. */
    if (key_cmp(it, st_slice_make(p, non_shared), target) < 0)
      left = mid;
    else
      right = mid - 1;
  }

  /* Scanning on from the current entry is right when it is before target
   * and in the run the search chose. */
  if (!(was_valid && cur_cmp < 0 && left == it->restart_index)) {
    if (!seek_to_restart(it, left)) return;
  }
  while (parse_next(it)) {
    if (key_cmp(it, st_slice_make(it->key, it->key_len), target) >= 0) return;
  }
}

static void bi_destroy(st_iter *base) {
  st_block_iter *it = (st_block_iter *)base;
  st_block_iter_fini(it);
  if (it->owns_block) st_block_release((st_block *)it->block);
  free(it);
}

/* The block's only entry starts at 0 and ends where the restart array
 * begins. */
static int bi_stored(const st_iter *base, st_stored_entry *out) {
  const st_block_iter *it = (const st_block_iter *)base;
  out->lone = it->current == 0 && it->next == it->restarts;
  out->stored = st_slice_make(NULL, 0);
  return 1;
}

static const st_iter_ops block_iter_ops = {bi_valid,  bi_seek_to_first, bi_seek_to_last, bi_seek,
                                           bi_next,   bi_prev,          bi_key,          bi_value,
                                           bi_status, bi_destroy,       bi_stored};

void st_block_iter_init(st_block_iter *it, const st_block *b, const st_comparator *ucmp) {
  st_iter_init(&it->base, &block_iter_ops);
  it->ucmp = ucmp;
  it->block = b;
  it->data = b->data;
  it->restarts = b->restarts;
  it->num_restarts = b->num_restarts;
  it->key = it->key_inline;
  it->key_cap = sizeof it->key_inline;
  it->status = 0;
  it->bad_reason = NULL;
  it->bad_at = 0;
  it->owns_block = 0;
  mark_end(it);
  if (b->malformed) corrupt(it, "bad restart array in block", b->size);
}

void st_block_iter_fini(st_block_iter *it) {
  if (it->key != it->key_inline) free(it->key);
  it->key = it->key_inline;
  it->key_cap = sizeof it->key_inline;
}

st_iter *st_block_iter_new(const st_block *b, const st_comparator *ucmp) {
  st_block_iter *it = malloc(sizeof *it);
  if (!it) return NULL;
  st_block_iter_init(it, b, ucmp);
  return &it->base;
}

typedef struct owned_block_iter {
  st_block_iter it; /* first: st_iter_destroy frees this whole struct */
  st_block block;
} owned_block_iter;

st_iter *st_block_iter_new_owned(st_block_contents *c, const st_comparator *ucmp, const char *path,
                                 uint64_t offset) {
  owned_block_iter *o = malloc(sizeof *o);
  if (!o) {
    st_block_contents_free(c);
    return NULL;
  }
  st_block_init(&o->block, c, path, offset);
  st_block_iter_init(&o->it, &o->block, ucmp);
  o->it.owns_block = 1;
  return &o->it.base;
}
