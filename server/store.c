/*
 * store.c - the key space over Strata, and write contexts (see store.h).
 */
#include "store.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "log.h"
#include "strutil.h"

/* Lock stripes: a key's writers serialize on stripe hash(db, key) %
 * SV_STRIPES. Enough stripes that unrelated keys rarely share one. */
#define SV_STRIPES 4096

struct sv_store {
  sv_config *cfg;
  strata_db *db;
  strata_cache *cache;
  strata_filter_policy *bloom;
  uint64_t seed;
  atomic_ullong unsynced;
  pthread_mutex_t stripes[SV_STRIPES];
};

int64_t sv_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static long long cfgnum(atomic_llong *v) { return atomic_load_explicit(v, memory_order_relaxed); }

int sv_store_open(sv_config *cfg, sv_store **out, char *err, size_t errcap) {
  sv_store *s = calloc(1, sizeof *s);
  if (!s) {
    snprintf(err, errcap, "out of memory");
    return -1;
  }
  s->cfg = cfg;
  s->seed = (uint64_t)time(NULL) * 0x9e3779b97f4a7c15ULL;
  for (int i = 0; i < SV_STRIPES; i++)
    pthread_mutex_init(&s->stripes[i], NULL);
  strata_options o;
  strata_options_init(&o);
  o.create_if_missing = 1;
  o.write_buffer_size = (size_t)cfgnum(&cfg->write_buffer_size);
  long long comp = cfgnum(&cfg->compression);
  o.compression = comp == SV_COMP_SNAPPY ? STRATA_COMPRESSION_SNAPPY
                  : comp == SV_COMP_ZSTD ? STRATA_COMPRESSION_ZSTD
                                         : STRATA_COMPRESSION_NONE;
  int rc = strata_cache_create_lru((size_t)cfgnum(&cfg->cache_size), &s->cache);
  if (!rc && cfgnum(&cfg->bloom_bits) > 0)
    rc = strata_filter_policy_create_bloom((int)cfgnum(&cfg->bloom_bits), &s->bloom);
  if (rc) {
    snprintf(err, errcap, "%s", strata_errmsg());
    sv_store_close(s);
    return -1;
  }
  o.block_cache = s->cache;
  o.filter_policy = s->bloom;
  char *dir = sv_config_strdup(cfg, &cfg->dir);
  if (!dir) {
    snprintf(err, errcap, "out of memory");
    sv_store_close(s);
    return -1;
  }
  rc = strata_open(dir, &o, &s->db);
  if (rc) {
    snprintf(err, errcap, "cannot open the database in '%s': %s", dir, strata_errmsg());
    free(dir);
    sv_store_close(s);
    return -1;
  }
  free(dir);
  *out = s;
  return 0;
}

void sv_store_close(sv_store *s) {
  if (!s) return;
  strata_close(s->db);
  strata_filter_policy_destroy(s->bloom);
  strata_cache_destroy(s->cache);
  for (int i = 0; i < SV_STRIPES; i++)
    pthread_mutex_destroy(&s->stripes[i]);
  free(s);
}

strata_db *sv_store_db(sv_store *s) { return s->db; }

int sv_store_subdb(sv_store *s, int dbi, int create, strata_subdb **out) {
  (void)s;
  (void)create;
  *out = NULL;
  if (dbi == 0) return 0;
  return strata_error_set(STRATA_ENOTSUP, "SELECT of a database other than 0 needs "
                                          "sub-databases, not available in this build");
}

/* A main-database key in Strata's reserved range cannot be stored. */
int sv_store_key_reserved(int dbi, const char *key, size_t klen) {
  return dbi == 0 && klen >= STRATA_RESERVED_PREFIX_LEN &&
         memcmp(key, STRATA_RESERVED_PREFIX, STRATA_RESERVED_PREFIX_LEN) == 0;
}

int sv_store_get(sv_store *s, int dbi, const char *key, size_t klen, strata_buf *val,
                 const strata_snapshot *snap, int64_t *expire) {
  if (expire) *expire = SV_NO_EXPIRE;
  if (dbi != 0) return 1;
  if (sv_store_key_reserved(dbi, key, klen)) return 1;
  strata_read_options ro;
  const strata_read_options *rop = NULL;
  if (snap) {
    strata_read_options_init(&ro);
    ro.snapshot = snap;
    rop = &ro;
  }
  int rc = strata_get(s->db, rop, key, klen, val);
  if (rc == STRATA_ENOTFOUND) return 1;
  return rc;
}

int sv_store_has_expires(sv_store *s, int dbi) {
  (void)s;
  (void)dbi;
  return 0;
}

void sv_store_keyspace(sv_store *s, int dbi, uint64_t *keys, uint64_t *expires) {
  (void)s;
  (void)dbi;
  *keys = 0;
  *expires = 0;
}

int sv_store_sync(sv_store *s) {
  /* strata.h has no "sync the log" call; an empty batch written with sync
   * and a post-write snapshot requested is logged (a 12-byte record that
   * recovery and LevelDB skip) and fdatasync'd like any synced write, and
   * it joins the group commit of concurrent writers. */
  unsigned long long before = atomic_load(&s->unsynced);
  strata_batch *b;
  int rc = strata_batch_create(&b);
  if (rc) return rc;
  const strata_snapshot *snap = NULL;
  strata_write_options wo;
  strata_write_options_init(&wo);
  wo.sync = 1;
  wo.post_write_snapshot = &snap;
  rc = strata_write(s->db, &wo, b);
  strata_batch_destroy(b);
  if (snap) strata_snapshot_release(s->db, snap);
  if (!rc) atomic_fetch_sub(&s->unsynced, before);
  return rc;
}

uint64_t sv_store_unsynced(sv_store *s) { return atomic_load(&s->unsynced); }

long sv_store_sweep_expired(sv_store *s, long max) {
  (void)s;
  (void)max;
  return 0;
}

/* ------------------------------------------------------------------------ */
/* Ordered scans                                                            */
/* ------------------------------------------------------------------------ */

int sv_scan_begin(sv_scan *sc, sv_store *s, int dbi, const char *start, size_t slen, int reverse) {
  memset(sc, 0, sizeof *sc);
  sc->s = s;
  sc->dbi = dbi;
  sc->reverse = reverse;
  sc->now = sv_now_ms();
  if (dbi != 0) return 0; /* an empty database */
  int rc = strata_iter_create(s->db, NULL, &sc->it);
  if (rc) return rc;
  if (start) {
    strata_iter_seek(sc->it, start, slen);
    if (reverse) {
      if (!strata_iter_valid(sc->it)) {
        strata_iter_seek_to_last(sc->it);
      } else {
        size_t kl;
        const char *k = strata_iter_key(sc->it, &kl);
        /* seek lands on the first key >= start; step back unless equal */
        if (kl != slen || memcmp(k, start, slen) != 0) strata_iter_prev(sc->it);
      }
    }
  } else if (reverse) {
    strata_iter_seek_to_last(sc->it);
  } else {
    strata_iter_seek_to_first(sc->it);
  }
  return 0;
}

int sv_scan_next(sv_scan *sc, const char **k, size_t *kl, const char **v, size_t *vl) {
  if (!sc->it) return 0;
  /* The entry returned last stays valid until this call: advance now. */
  if (sc->started) {
    if (sc->reverse)
      strata_iter_prev(sc->it);
    else
      strata_iter_next(sc->it);
  }
  sc->started = 1;
  if (!strata_iter_valid(sc->it)) {
    int rc = strata_iter_status(sc->it);
    return rc ? rc : 0;
  }
  *k = strata_iter_key(sc->it, kl);
  if (v) *v = strata_iter_value(sc->it, vl);
  return 1;
}

void sv_scan_end(sv_scan *sc) {
  strata_iter_destroy(sc->it);
  strata_iter_destroy(sc->exp);
  memset(sc, 0, sizeof *sc);
}

/* ------------------------------------------------------------------------ */
/* Write contexts                                                           */
/* ------------------------------------------------------------------------ */

/* One key the run wrote (the overlay its own reads consult). */
typedef struct sv_ov {
  int dbi;
  const char *key;
  size_t klen;
  uint64_t hash;
  int exists; /* 0: deleted by the run */
  const char *val;
  size_t vlen;
  int64_t expire;
} sv_ov;

typedef struct sv_arena_block {
  struct sv_arena_block *next;
  size_t used, cap;
  char data[];
} sv_arena_block;

struct sv_wctx {
  sv_store *s;
  int all;
  uint32_t *want;
  int nwant, wantcap;
  uint32_t *held;
  int nheld;
  strata_batch *batch;
  int pending;
  int failed; /* a queued operation failed: the commit must fail */
  sv_ov *ov;
  int nov, ovcap;
  int *slots; /* open addressing over ov: index + 1, 0 empty */
  size_t nslots;
  sv_arena_block *arena;
  strata_buf rbuf; /* values read from the database */
};

sv_wctx *sv_wctx_new(sv_store *s) {
  sv_wctx *w = calloc(1, sizeof *w);
  if (!w) return NULL;
  w->s = s;
  if (strata_batch_create(&w->batch)) {
    free(w);
    return NULL;
  }
  return w;
}

static void arena_free(sv_wctx *w) {
  sv_arena_block *b = w->arena;
  while (b) {
    sv_arena_block *n = b->next;
    free(b);
    b = n;
  }
  w->arena = NULL;
}

void sv_wctx_free(sv_wctx *w) {
  if (!w) return;
  sv_wctx_reset(w);
  strata_batch_destroy(w->batch);
  free(w->want);
  free(w->held);
  free(w->ov);
  free(w->slots);
  strata_buf_free(&w->rbuf);
  free(w);
}

static char *arena_copy(sv_wctx *w, const char *p, size_t n) {
  sv_arena_block *b = w->arena;
  if (!b || b->cap - b->used < n) {
    size_t cap = n > 60000 ? n : 60000;
    b = malloc(sizeof *b + cap);
    if (!b) return NULL;
    b->used = 0;
    b->cap = cap;
    b->next = w->arena;
    w->arena = b;
  }
  char *d = b->data + b->used;
  if (n && p) memcpy(d, p, n);
  b->used += n;
  return d;
}

char *sv_wctx_alloc(sv_wctx *w, size_t n) { return arena_copy(w, NULL, n); }

static uint64_t key_hash(sv_store *s, int dbi, const char *key, size_t klen) {
  return sv_hash(key, klen, s->seed ^ (uint64_t)dbi);
}

int sv_wctx_want(sv_wctx *w, int dbi, const char *key, size_t klen) {
  if (w->nwant == w->wantcap) {
    int cap = w->wantcap ? w->wantcap * 2 : 16;
    uint32_t *a = realloc(w->want, (size_t)cap * sizeof *a);
    if (!a) return strata_error_set(STRATA_ENOMEM, "write context");
    w->want = a;
    w->wantcap = cap;
  }
  w->want[w->nwant++] = (uint32_t)(key_hash(w->s, dbi, key, klen) % SV_STRIPES);
  return 0;
}

void sv_wctx_want_all(sv_wctx *w) { w->all = 1; }

static int cmp_u32(const void *a, const void *b) {
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  return x < y ? -1 : x > y;
}

void sv_wctx_lock(sv_wctx *w) {
  if (w->all) {
    for (int i = 0; i < SV_STRIPES; i++)
      pthread_mutex_lock(&w->s->stripes[i]);
    w->nheld = -1;
    return;
  }
  /* One order for every context (ascending stripe), so none deadlocks. */
  qsort(w->want, (size_t)w->nwant, sizeof *w->want, cmp_u32);
  int n = 0;
  for (int i = 0; i < w->nwant; i++)
    if (i == 0 || w->want[i] != w->want[i - 1]) w->want[n++] = w->want[i];
  for (int i = 0; i < n; i++)
    pthread_mutex_lock(&w->s->stripes[w->want[i]]);
  w->nheld = n;
}

static void unlock_all(sv_wctx *w) {
  if (w->nheld < 0) {
    for (int i = SV_STRIPES - 1; i >= 0; i--)
      pthread_mutex_unlock(&w->s->stripes[i]);
  } else {
    for (int i = w->nheld - 1; i >= 0; i--)
      pthread_mutex_unlock(&w->s->stripes[w->want[i]]);
  }
  w->nheld = 0;
}

static sv_ov *ov_find(sv_wctx *w, int dbi, const char *key, size_t klen, uint64_t h) {
  if (!w->nslots) return NULL;
  size_t mask = w->nslots - 1;
  for (size_t i = h & mask;; i = (i + 1) & mask) {
    int slot = w->slots[i];
    if (!slot) return NULL;
    sv_ov *o = &w->ov[slot - 1];
    if (o->hash == h && o->dbi == dbi && o->klen == klen && !memcmp(o->key, key, klen)) return o;
  }
}

static int ov_rehash(sv_wctx *w, size_t nslots) {
  int *slots = calloc(nslots, sizeof *slots);
  if (!slots) return -1;
  free(w->slots);
  w->slots = slots;
  w->nslots = nslots;
  for (int k = 0; k < w->nov; k++) {
    size_t mask = nslots - 1;
    size_t i = w->ov[k].hash & mask;
    while (slots[i])
      i = (i + 1) & mask;
    slots[i] = k + 1;
  }
  return 0;
}

/* The overlay entry of key, created (as "absent") when new. */
static sv_ov *ov_get(sv_wctx *w, int dbi, const char *key, size_t klen) {
  uint64_t h = key_hash(w->s, dbi, key, klen);
  sv_ov *o = ov_find(w, dbi, key, klen, h);
  if (o) return o;
  if (w->nov == w->ovcap) {
    int cap = w->ovcap ? w->ovcap * 2 : 16;
    sv_ov *a = realloc(w->ov, (size_t)cap * sizeof *a);
    if (!a) return NULL;
    w->ov = a;
    w->ovcap = cap;
  }
  if ((size_t)(w->nov + 1) * 2 > w->nslots && ov_rehash(w, w->nslots ? w->nslots * 2 : 32))
    return NULL;
  o = &w->ov[w->nov++];
  o->dbi = dbi;
  o->key = key;
  o->klen = klen;
  o->hash = h;
  o->exists = 0;
  o->val = NULL;
  o->vlen = 0;
  o->expire = SV_NO_EXPIRE;
  size_t mask = w->nslots - 1;
  size_t i = h & mask;
  while (w->slots[i])
    i = (i + 1) & mask;
  w->slots[i] = w->nov;
  return o;
}

int sv_wctx_get(sv_wctx *w, int dbi, const char *key, size_t klen, const char **val, size_t *vlen,
                int64_t *expire) {
  sv_ov *o = ov_find(w, dbi, key, klen, key_hash(w->s, dbi, key, klen));
  if (o) {
    if (expire) *expire = o->expire;
    if (!o->exists) return 1;
    *val = o->val;
    *vlen = o->vlen;
    return 0;
  }
  int64_t exp;
  int rc = sv_store_get(w->s, dbi, key, klen, &w->rbuf, NULL, &exp);
  if (expire) *expire = exp;
  if (rc) return rc;
  /* The value lives in the arena: rbuf is reused by the next read. */
  char *copy = arena_copy(w, w->rbuf.data, w->rbuf.size);
  if (!copy) return strata_error_set(STRATA_ENOMEM, "write context");
  *val = copy;
  *vlen = w->rbuf.size;
  return 0;
}

int sv_wctx_put(sv_wctx *w, int dbi, const char *key, size_t klen, const char *val, size_t vlen,
                int64_t expire, int borrow) {
  if (dbi != 0) return sv_store_subdb(w->s, dbi, 1, &(strata_subdb *){NULL});
  if (sv_store_key_reserved(dbi, key, klen))
    return strata_error_set(STRATA_EINVAL,
                            "keys beginning with \\xff\\xffstrata\\x00 are reserved by Strata");
  if (expire != SV_NO_EXPIRE && expire != SV_KEEP_EXPIRE)
    return strata_error_set(STRATA_ENOTSUP, "expiry times need sub-databases, not available "
                                            "in this build");
  int rc = strata_batch_put(w->batch, key, klen, val, vlen);
  if (rc) return w->failed = rc;
  const char *v = borrow ? val : arena_copy(w, val, vlen);
  sv_ov *o = ov_get(w, dbi, key, klen);
  if (!v || !o) return w->failed = strata_error_set(STRATA_ENOMEM, "write context");
  o->exists = 1;
  o->val = v;
  o->vlen = vlen;
  if (expire != SV_KEEP_EXPIRE) o->expire = expire;
  w->pending++;
  return 0;
}

int sv_wctx_expire(sv_wctx *w, int dbi, const char *key, size_t klen, int64_t expire) {
  (void)w;
  (void)dbi;
  (void)key;
  (void)klen;
  (void)expire;
  return strata_error_set(STRATA_ENOTSUP, "expiry times need sub-databases, not available in "
                                          "this build");
}

int sv_wctx_del(sv_wctx *w, int dbi, const char *key, size_t klen) {
  if (dbi != 0 || sv_store_key_reserved(dbi, key, klen)) return 0;
  int rc = strata_batch_delete(w->batch, key, klen);
  if (rc) return w->failed = rc;
  sv_ov *o = ov_get(w, dbi, key, klen);
  if (!o) return w->failed = strata_error_set(STRATA_ENOMEM, "write context");
  o->exists = 0;
  o->val = NULL;
  o->vlen = 0;
  o->expire = SV_NO_EXPIRE;
  w->pending++;
  return 0;
}

int sv_wctx_flushdb(sv_wctx *w, int dbi) {
  if (dbi != 0) return 0;
  /* Deletes in batches of 10,000 keys, each committed on its own: the
   * caller holds every lock, so no writer runs meanwhile. */
  strata_iter *it;
  int rc = strata_iter_create(w->s->db, NULL, &it);
  if (rc) return rc;
  strata_batch *b;
  rc = strata_batch_create(&b);
  if (rc) {
    strata_iter_destroy(it);
    return rc;
  }
  strata_write_options wo;
  strata_write_options_init(&wo);
  wo.sync = cfgnum(&w->s->cfg->sync) == SV_SYNC_ALWAYS;
  for (strata_iter_seek_to_first(it); !rc && strata_iter_valid(it); strata_iter_next(it)) {
    size_t kl;
    const char *k = strata_iter_key(it, &kl);
    rc = strata_batch_delete(b, k, kl);
    if (!rc && strata_batch_count(b) >= 10000) {
      rc = strata_write(w->s->db, &wo, b);
      strata_batch_clear(b);
    }
  }
  if (!rc) rc = strata_iter_status(it);
  if (!rc) rc = strata_write(w->s->db, &wo, b);
  strata_batch_destroy(b);
  strata_iter_destroy(it);
  return rc;
}

int sv_wctx_pending(const sv_wctx *w) { return w->pending; }

int sv_wctx_commit(sv_wctx *w) {
  if (w->failed) return w->failed;
  if (!w->pending) return 0;
  strata_write_options wo;
  strata_write_options_init(&wo);
  wo.sync = cfgnum(&w->s->cfg->sync) == SV_SYNC_ALWAYS;
  int rc = strata_write(w->s->db, &wo, w->batch);
  if (!rc && !wo.sync) atomic_fetch_add(&w->s->unsynced, 1);
  return rc;
}

void sv_wctx_reset(sv_wctx *w) {
  if (w->nheld) unlock_all(w);
  w->all = 0;
  w->nwant = 0;
  strata_batch_clear(w->batch);
  w->pending = 0;
  w->failed = 0;
  if (w->nov) {
    memset(w->slots, 0, w->nslots * sizeof *w->slots);
    w->nov = 0;
  }
  arena_free(w);
}
