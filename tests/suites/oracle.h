/*
 * oracle.h - the in-memory oracle of the randomized model tests
 * (model_test.c, txn_model_test.c): a sorted array of keys, each with a
 * short list of versions, so reads through snapshots and iterators can be
 * answered "as of" an older sequence number. Versions nobody can see any
 * more are dropped as soon as the last pin (snapshot, iterator or
 * transaction) that could see them goes away, so memory stays bounded.
 * Values are never stored: a value is (vseed, length) and its bytes are
 * regenerated when compared (suite_util.h: su_fill_value).
 */
#ifndef STRATA_TEST_ORACLE_H
#define STRATA_TEST_ORACLE_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct version {
  uint64_t seq;   /* oracle sequence number of the write */
  uint64_t vseed; /* content generator of the value */
  uint32_t vlen;
  uint8_t del; /* a deletion marker */
} version;

typedef struct entry {
  unsigned char *key;
  size_t klen;
  version *v; /* ascending seq; the last one is the current state */
  uint32_t nv, cap;
} entry;

typedef struct oracle {
  /* The key order of the database under test; the same function orders
   * the entries and answers every "which key comes first" of the test. */
  int (*cmp)(const void *a, size_t al, const void *b, size_t bl);
  entry **e; /* sorted by cmp; entries are never removed */
  size_t n, cap;
  uint64_t seq;   /* last sequence number handed out */
  uint64_t *pins; /* sequence numbers read by live snapshots and iterators */
  size_t npins, pcap;
} oracle;

/* Bytewise order: memcmp, shorter first on a common prefix (LevelDB's
 * default comparator). */
static inline int bytewise_cmp(const void *a, size_t al, const void *b, size_t bl) {
  size_t n = al < bl ? al : bl;
  int c = n ? memcmp(a, b, n) : 0;
  if (c != 0) return c;
  return al < bl ? -1 : (al > bl ? 1 : 0);
}

static inline int reverse_cmp(const void *a, size_t al, const void *b, size_t bl) {
  return bytewise_cmp(b, bl, a, al);
}

/* Index of the first entry whose key is >= k. */
static inline size_t o_lower(const oracle *o, const void *k, size_t kl) {
  size_t lo = 0, hi = o->n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (o->cmp(o->e[mid]->key, o->e[mid]->klen, k, kl) < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}

static inline entry *o_find(const oracle *o, const void *k, size_t kl) {
  size_t i = o_lower(o, k, kl);
  if (i < o->n && o->cmp(o->e[i]->key, o->e[i]->klen, k, kl) == 0) return o->e[i];
  return NULL;
}

static inline entry *o_find_or_add(oracle *o, const void *k, size_t kl) {
  size_t i = o_lower(o, k, kl);
  if (i < o->n && o->cmp(o->e[i]->key, o->e[i]->klen, k, kl) == 0) return o->e[i];
  if (o->n == o->cap) {
    o->cap = o->cap ? o->cap * 2 : 1024;
    o->e = realloc(o->e, o->cap * sizeof *o->e);
  }
  entry *e = calloc(1, sizeof *e);
  e->key = malloc(kl ? kl : 1);
  if (kl) memcpy(e->key, k, kl);
  e->klen = kl;
  memmove(o->e + i + 1, o->e + i, (o->n - i) * sizeof *o->e);
  o->e[i] = e;
  o->n++;
  return e;
}

static inline uint64_t o_max_pin(const oracle *o) {
  uint64_t m = 0;
  for (size_t i = 0; i < o->npins; i++)
    if (o->pins[i] > m) m = o->pins[i];
  return m;
}

/* Records a new current version. The previous current version is kept only
 * if a pinned reader took its view after it was written (and so sees it). */
static inline void o_add_version(oracle *o, entry *e, version v) {
  if (e->nv > 0 && !(o->npins > 0 && o_max_pin(o) >= e->v[e->nv - 1].seq)) {
    e->v[e->nv - 1] = v;
    return;
  }
  if (e->nv == e->cap) {
    e->cap = e->cap ? e->cap * 2 : 2;
    e->v = realloc(e->v, e->cap * sizeof *e->v);
  }
  e->v[e->nv++] = v;
}

static inline void o_put(oracle *o, const void *k, size_t kl, uint64_t vseed, uint32_t vlen) {
  version v = {++o->seq, vseed, vlen, 0};
  o_add_version(o, o_find_or_add(o, k, kl), v);
}

static inline void o_del(oracle *o, const void *k, size_t kl) {
  version v = {++o->seq, 0, 0, 1};
  entry *e = o_find(o, k, kl);
  if (e != NULL) o_add_version(o, e, v);
}

/* The version a reader at sequence `seq` sees, or NULL when the key is absent
 * for it. */
static inline const version *o_visible(const entry *e, uint64_t seq) {
  for (uint32_t i = e->nv; i > 0; i--)
    if (e->v[i - 1].seq <= seq) return e->v[i - 1].del ? NULL : &e->v[i - 1];
  return NULL;
}

static inline void o_pin(oracle *o, uint64_t seq) {
  if (o->npins == o->pcap) {
    o->pcap = o->pcap ? o->pcap * 2 : 16;
    o->pins = realloc(o->pins, o->pcap * sizeof *o->pins);
  }
  o->pins[o->npins++] = seq;
}

/* Drops one pin, then every old version that no remaining pin can see:
 * version i is visible to pin p iff v[i].seq <= p < v[i+1].seq. */
static inline void o_unpin(oracle *o, uint64_t seq) {
  for (size_t i = 0; i < o->npins; i++)
    if (o->pins[i] == seq) {
      o->pins[i] = o->pins[--o->npins];
      break;
    }
  for (size_t j = 0; j < o->n; j++) {
    entry *e = o->e[j];
    if (e->nv < 2) continue;
    uint32_t w = 0;
    for (uint32_t i = 0; i + 1 < e->nv; i++) {
      int keep = 0;
      for (size_t p = 0; p < o->npins && !keep; p++)
        keep = e->v[i].seq <= o->pins[p] && o->pins[p] < e->v[i + 1].seq;
      if (keep) e->v[w++] = e->v[i];
    }
    e->v[w++] = e->v[e->nv - 1];
    e->nv = w;
  }
}

static inline void o_free(oracle *o) {
  for (size_t i = 0; i < o->n; i++) {
    free(o->e[i]->key);
    free(o->e[i]->v);
    free(o->e[i]);
  }
  free(o->e);
  free(o->pins);
  memset(o, 0, sizeof *o);
}

/* First entry at index >= i visible at seq; returns n when none. */
static inline size_t o_fwd(const oracle *o, uint64_t seq, size_t i) {
  while (i < o->n && o_visible(o->e[i], seq) == NULL)
    i++;
  return i;
}

/* Last entry at index <= i (i may be -1) visible at seq; -1 when none. */
static inline long o_back(const oracle *o, uint64_t seq, long i) {
  while (i >= 0 && o_visible(o->e[i], seq) == NULL)
    i--;
  return i;
}

#endif
