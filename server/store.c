/*
 * store.c - the key space over Strata, and write contexts (see store.h).
 *
 * Expiry records, per Redis database n (sub-databases, created with the
 * first key that gets an expiry):
 *
 *   "redis/expire/<n>"     key            -> when     (8 bytes, big-endian
 *                                                      ms since the epoch)
 *   "redis/expire-at/<n>"  when key       -> ""       (the same, by time)
 *
 * The two always change together with the key's value, in one batch. A
 * count per database of keys with an expiry (an exact count kept by the
 * write contexts) lets reads skip the expiry lookup entirely while a
 * database has none, so plain GET/SET pay nothing for the feature.
 *
 * Sub-database handles are looked up once and kept in per-database atomics;
 * FLUSHDB drops a database's sub-databases (O(1)), and a reader that raced
 * with it and meets a dropped handle reads "missing", which is what the
 * flush made true.
 */
#include "store.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "strutil.h"

/* Lock stripes: a key's writers serialize on stripe hash(db, key) %
 * SV_STRIPES. Enough stripes that unrelated keys rarely share one. */
#define SV_STRIPES 4096

enum { SUB_DATA = 0, SUB_EXP = 1, SUB_EXPAT = 2 };
static const char *const sub_fmt[3] = {"redis/%d", "redis/expire/%d", "redis/expire-at/%d"};

typedef struct sv_dbstate {
  _Atomic(strata_subdb *) sub[3]; /* NULL: not created (data of db 0: main) */
  atomic_llong nexpires;          /* keys of this database with an expiry */
} sv_dbstate;

struct sv_store {
  sv_config *cfg;
  strata_db *db;
  strata_cache *cache;
  strata_filter_policy *bloom;
  uint64_t seed;
  atomic_ullong unsynced;
  int ndbs;
  sv_dbstate *dbs;
  pthread_mutex_t subdb_mu; /* creating and dropping sub-databases */
  pthread_mutex_t stripes[SV_STRIPES];
};

int64_t sv_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static long long cfgnum(atomic_llong *v) { return atomic_load_explicit(v, memory_order_relaxed); }

static void put_be64(char *p, uint64_t v) {
  for (int i = 7; i >= 0; i--) {
    p[i] = (char)(v & 0xff);
    v >>= 8;
  }
}

static uint64_t get_be64(const char *p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; i++)
    v = (v << 8) | (unsigned char)p[i];
  return v;
}

static strata_subdb *sub_get(sv_store *s, int dbi, int which) {
  return atomic_load_explicit(&s->dbs[dbi].sub[which], memory_order_acquire);
}

static long long nexp(sv_store *s, int dbi) {
  return atomic_load_explicit(&s->dbs[dbi].nexpires, memory_order_acquire);
}

/* Records sub-databases named redis/... found at open. */
static int list_cb(void *arg, const char *name) {
  sv_store *s = arg;
  for (int which = 2; which >= 0; which--) {
    int n, end = 0;
    char fmt[32];
    snprintf(fmt, sizeof fmt, "%s%%n", sub_fmt[which]);
    if (sscanf(name, fmt, &n, &end) == 1 && end == (int)strlen(name) && n >= 0 && n < s->ndbs &&
        (which != SUB_DATA || n > 0)) {
      strata_subdb *h;
      if (strata_subdb_open(s->db, name, 0, &h) == STRATA_OK)
        atomic_store(&s->dbs[n].sub[which], h);
      return 0;
    }
  }
  return 0;
}

/* The number of keys recorded in database dbi's expiry sub-database. */
static long long count_expires(sv_store *s, int dbi) {
  strata_subdb *e = sub_get(s, dbi, SUB_EXP);
  if (!e) return 0;
  strata_iter *it;
  if (strata_iter_create_in(s->db, e, NULL, &it)) return 0;
  long long n = 0;
  for (strata_iter_seek_to_first(it); strata_iter_valid(it); strata_iter_next(it))
    n++;
  strata_iter_destroy(it);
  return n;
}

int sv_store_open(sv_config *cfg, sv_store **out, char *err, size_t errcap) {
  sv_store *s = calloc(1, sizeof *s);
  if (!s) {
    snprintf(err, errcap, "out of memory");
    return -1;
  }
  s->cfg = cfg;
  s->seed = (uint64_t)time(NULL) * 0x9e3779b97f4a7c15ULL;
  s->ndbs = (int)cfgnum(&cfg->databases);
  s->dbs = calloc((size_t)s->ndbs, sizeof *s->dbs);
  pthread_mutex_init(&s->subdb_mu, NULL);
  for (int i = 0; i < SV_STRIPES; i++)
    pthread_mutex_init(&s->stripes[i], NULL);
  if (!s->dbs) {
    snprintf(err, errcap, "out of memory");
    sv_store_close(s);
    return -1;
  }
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
  rc = strata_subdb_list(s->db, list_cb, s);
  if (rc) {
    snprintf(err, errcap, "cannot list the sub-databases: %s", strata_errmsg());
    sv_store_close(s);
    return -1;
  }
  for (int i = 0; i < s->ndbs; i++)
    atomic_store(&s->dbs[i].nexpires, count_expires(s, i));
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
  pthread_mutex_destroy(&s->subdb_mu);
  free(s->dbs);
  free(s);
}

strata_db *sv_store_db(sv_store *s) { return s->db; }

/* The sub-database `which` of dbi, created when create is set. *out NULL:
 * it does not exist (or dbi 0's data: the main database). */
static int sub_open(sv_store *s, int dbi, int which, int create, strata_subdb **out) {
  *out = NULL;
  if (dbi < 0 || dbi >= s->ndbs)
    return strata_error_set(STRATA_EINVAL, "database %d does not exist", dbi);
  if (which == SUB_DATA && dbi == 0) return 0;
  strata_subdb *h = sub_get(s, dbi, which);
  if (h || !create) {
    *out = h;
    return 0;
  }
  pthread_mutex_lock(&s->subdb_mu);
  h = sub_get(s, dbi, which);
  int rc = 0;
  if (!h) {
    char name[64];
    snprintf(name, sizeof name, sub_fmt[which], dbi);
    rc = strata_subdb_open(s->db, name, 1, &h);
    if (!rc) atomic_store_explicit(&s->dbs[dbi].sub[which], h, memory_order_release);
  }
  pthread_mutex_unlock(&s->subdb_mu);
  *out = h;
  return rc;
}

int sv_store_subdb(sv_store *s, int dbi, int create, strata_subdb **out) {
  return sub_open(s, dbi, SUB_DATA, create, out);
}

int sv_store_expiry_subdb(sv_store *s, int dbi, strata_subdb **out) {
  strata_subdb *a;
  int rc = sub_open(s, dbi, SUB_EXPAT, 1, &a);
  return rc ? rc : sub_open(s, dbi, SUB_EXP, 1, out);
}

/* A main-database key in Strata's reserved range cannot be stored. */
int sv_store_key_reserved(int dbi, const char *key, size_t klen) {
  return dbi == 0 && klen >= STRATA_RESERVED_PREFIX_LEN &&
         memcmp(key, STRATA_RESERVED_PREFIX, STRATA_RESERVED_PREFIX_LEN) == 0;
}

/* A read that met a handle FLUSHDB dropped meanwhile reads "missing". */
static int dropped_race(sv_store *s, int dbi, int which, strata_subdb *h, int rc) {
  return rc == STRATA_EINVAL && h && sub_get(s, dbi, which) != h;
}

/* Reads the expiry time of key: 0 with *when, 1 when it has none. */
static int read_expire(sv_store *s, int dbi, const char *key, size_t klen,
                       const strata_read_options *ro, strata_buf *tmp, int64_t *when) {
  strata_subdb *e = sub_get(s, dbi, SUB_EXP);
  if (!e) return 1;
  int rc = strata_get_in(s->db, e, ro, key, klen, tmp);
  if (rc == STRATA_ENOTFOUND || dropped_race(s, dbi, SUB_EXP, e, rc)) return 1;
  if (rc) return rc;
  if (tmp->size != 8)
    return strata_error_set(STRATA_ECORRUPTION, "expiry record of %zu bytes", tmp->size);
  *when = (int64_t)get_be64(tmp->data);
  return 0;
}

int sv_store_get(sv_store *s, int dbi, const char *key, size_t klen, strata_buf *val,
                 const strata_snapshot *snap, int64_t *expire) {
  if (expire) *expire = SV_NO_EXPIRE;
  if (dbi < 0 || dbi >= s->ndbs) return 1;
  if (sv_store_key_reserved(dbi, key, klen)) return 1;
  strata_read_options ro;
  const strata_read_options *rop = NULL;
  if (snap) {
    strata_read_options_init(&ro);
    ro.snapshot = snap;
    rop = &ro;
  }
  /* The expiry first: a key whose time has passed is missing, whatever its
   * value record says (the sweeper may not have removed it yet). */
  if (nexp(s, dbi) > 0) {
    int64_t when = SV_NO_EXPIRE;
    int rc = read_expire(s, dbi, key, klen, rop, val, &when);
    if (rc < 0) return rc;
    if (rc == 0) {
      if (when <= sv_now_ms()) return 1;
      if (expire) *expire = when;
    }
  }
  strata_subdb *d = NULL;
  if (dbi > 0) {
    d = sub_get(s, dbi, SUB_DATA);
    if (!d) return 1;
  }
  int rc = strata_get_in(s->db, d, rop, key, klen, val);
  if (rc == STRATA_ENOTFOUND || dropped_race(s, dbi, SUB_DATA, d, rc)) return 1;
  return rc;
}

int sv_store_has_expires(sv_store *s, int dbi) {
  return dbi >= 0 && dbi < s->ndbs && nexp(s, dbi) > 0;
}

void sv_store_keyspace(sv_store *s, int dbi, uint64_t *keys, uint64_t *expires) {
  *keys = 0;
  *expires = 0;
  if (dbi < 0 || dbi >= s->ndbs) return;
  strata_subdb *d = sub_get(s, dbi, SUB_DATA);
  if (dbi > 0 && !d) return;
  strata_subdb_stats st;
  if (strata_subdb_stat(s->db, d, &st) == STRATA_OK) *keys = st.entries;
  long long n = nexp(s, dbi);
  *expires = n > 0 ? (uint64_t)n : 0;
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

/* ------------------------------------------------------------------------ */
/* Ordered scans                                                            */
/* ------------------------------------------------------------------------ */

/* Positions it at the first key >= start (forward) or the last <= start. */
static void position(strata_iter *it, const char *start, size_t slen, int reverse) {
  if (!start) {
    if (reverse)
      strata_iter_seek_to_last(it);
    else
      strata_iter_seek_to_first(it);
    return;
  }
  strata_iter_seek(it, start, slen);
  if (!reverse) return;
  if (!strata_iter_valid(it)) {
    if (strata_iter_status(it) == STRATA_OK) strata_iter_seek_to_last(it);
    return;
  }
  size_t kl;
  const char *k = strata_iter_key(it, &kl);
  if (kl != slen || memcmp(k, start, slen) != 0) strata_iter_prev(it);
}

static int keycmp(const char *a, size_t al, const char *b, size_t bl) {
  int c = memcmp(a, b, al < bl ? al : bl);
  return c ? c : (al > bl) - (al < bl);
}

int sv_scan_begin(sv_scan *sc, sv_store *s, int dbi, const char *start, size_t slen, int reverse) {
  memset(sc, 0, sizeof *sc);
  sc->s = s;
  sc->dbi = dbi;
  sc->reverse = reverse;
  sc->now = sv_now_ms();
  if (dbi < 0 || dbi >= s->ndbs) return 0;
  strata_subdb *d = sub_get(s, dbi, SUB_DATA);
  if (dbi > 0 && !d) return 0; /* never written: empty */
  strata_subdb *e = nexp(s, dbi) > 0 ? sub_get(s, dbi, SUB_EXP) : NULL;
  /* One snapshot for both iterators, so a key and its expiry agree. */
  sc->snap = strata_snapshot_get(s->db);
  strata_read_options ro;
  strata_read_options_init(&ro);
  ro.snapshot = sc->snap;
  ro.fill_cache = 0; /* a scan reads each block once */
  int rc = strata_iter_create_in(s->db, d, &ro, &sc->it);
  if (rc) {
    if (dropped_race(s, dbi, SUB_DATA, d, rc)) rc = 0;
    return rc;
  }
  if (e && strata_iter_create_in(s->db, e, &ro, &sc->exp) != STRATA_OK) sc->exp = NULL;
  position(sc->it, start, slen, reverse);
  if (sc->exp) position(sc->exp, start, slen, reverse);
  return 0;
}

/* 1 when key k has an expiry time that has passed (the expiry iterator is
 * walked in step with the key iterator: both go the same way). */
static int expired(sv_scan *sc, const char *k, size_t kl) {
  strata_iter *e = sc->exp;
  while (strata_iter_valid(e)) {
    size_t el;
    const char *ek = strata_iter_key(e, &el);
    int c = keycmp(ek, el, k, kl);
    if (c == 0) {
      size_t vl;
      const char *v = strata_iter_value(e, &vl);
      return vl == 8 && (int64_t)get_be64(v) <= sc->now;
    }
    if (sc->reverse ? c < 0 : c > 0) return 0;
    if (sc->reverse)
      strata_iter_prev(e);
    else
      strata_iter_next(e);
  }
  return 0;
}

int sv_scan_next(sv_scan *sc, const char **k, size_t *kl, const char **v, size_t *vl) {
  if (!sc->it) return 0;
  for (;;) {
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
    if (sc->exp && expired(sc, *k, *kl)) continue;
    if (v) *v = strata_iter_value(sc->it, vl);
    return 1;
  }
}

void sv_scan_end(sv_scan *sc) {
  strata_iter_destroy(sc->it);
  strata_iter_destroy(sc->exp);
  if (sc->snap) strata_snapshot_release(sc->s->db, sc->snap);
  memset(sc, 0, sizeof *sc);
}

/* ------------------------------------------------------------------------ */
/* Write contexts                                                           */
/* ------------------------------------------------------------------------ */

/* What the run knows of one key it wrote: the overlay its own reads see,
 * and the expiry bookkeeping. */
typedef struct sv_ov {
  int dbi;
  const char *key;
  size_t klen;
  uint64_t hash;
  int vstate; /* 0 unknown (read the database), 1 present, 2 absent */
  const char *val;
  size_t vlen;
  int64_t idx0; /* the expiry recorded in the database before the run */
  int64_t idx;  /* the expiry recorded after the run's writes so far */
} sv_ov;

typedef struct sv_arena_block {
  struct sv_arena_block *next;
  size_t used, cap;
  char data[];
} sv_arena_block;

struct sv_wctx {
  sv_store *s;
  strata_txn *txn; /* transaction mode (EXEC): reads and writes go to it */
  int all;
  uint32_t *want;
  int nwant, wantcap;
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
  int64_t now;
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
  w->now = sv_now_ms();
  if (w->all) {
    for (int i = 0; i < SV_STRIPES; i++)
      pthread_mutex_lock(&w->s->stripes[i]);
    w->nheld = -1;
    return;
  }
  /* One order for every context (ascending stripe), so none deadlocks. */
  if (w->nwant > 1) qsort(w->want, (size_t)w->nwant, sizeof *w->want, cmp_u32);
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

void sv_wctx_begin_txn(sv_wctx *w, strata_txn *txn) { w->txn = txn; }

/* Backend: the run's batch, or the transaction. */
static int op_put(sv_wctx *w, strata_subdb *sdb, const char *k, size_t kl, const char *v,
                  size_t vl) {
  int rc = w->txn ? strata_txn_put(w->txn, sdb, k, kl, v, vl)
                  : strata_batch_put_in(w->batch, sdb, k, kl, v, vl);
  if (rc) w->failed = rc;
  return rc;
}

static int op_del(sv_wctx *w, strata_subdb *sdb, const char *k, size_t kl) {
  int rc =
      w->txn ? strata_txn_delete(w->txn, sdb, k, kl) : strata_batch_delete_in(w->batch, sdb, k, kl);
  if (rc) w->failed = rc;
  return rc;
}

static int op_get(sv_wctx *w, strata_subdb *sdb, const char *k, size_t kl, strata_buf *out) {
  return w->txn ? strata_txn_get(w->txn, sdb, k, kl, out)
                : strata_get_in(w->s->db, sdb, NULL, k, kl, out);
}

/* The expiry recorded for key (through the backend): 0 with *when, 1 none. */
static int load_expire(sv_wctx *w, int dbi, const char *key, size_t klen, int64_t *when) {
  if (!w->txn && nexp(w->s, dbi) <= 0) return 1;
  strata_subdb *e = sub_get(w->s, dbi, SUB_EXP);
  if (!e) return 1;
  int rc = op_get(w, e, key, klen, &w->rbuf);
  if (rc == STRATA_ENOTFOUND) return 1;
  if (rc) return rc;
  if (w->rbuf.size != 8) return strata_error_set(STRATA_ECORRUPTION, "expiry record");
  *when = (int64_t)get_be64(w->rbuf.data);
  return 0;
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

/* The overlay entry of key, created when new (its expiry read from the
 * database; a key whose expiry has passed starts absent). NULL with
 * *rc set on failure. */
static sv_ov *ov_get(sv_wctx *w, int dbi, const char *key, size_t klen, int *rc) {
  *rc = 0;
  uint64_t h = key_hash(w->s, dbi, key, klen);
  sv_ov *o = ov_find(w, dbi, key, klen, h);
  if (o) return o;
  int64_t when = SV_NO_EXPIRE;
  int e = load_expire(w, dbi, key, klen, &when);
  if (e < 0) {
    *rc = e;
    return NULL;
  }
  if (e == 1) when = SV_NO_EXPIRE;
  if (w->nov == w->ovcap) {
    int cap = w->ovcap ? w->ovcap * 2 : 16;
    sv_ov *a = realloc(w->ov, (size_t)cap * sizeof *a);
    if (!a) goto nomem;
    w->ov = a;
    w->ovcap = cap;
  }
  if ((size_t)(w->nov + 1) * 2 > w->nslots && ov_rehash(w, w->nslots ? w->nslots * 2 : 32))
    goto nomem;
  /* The key bytes must outlive the run: callers pass argv (stable) or
   * arena copies. */
  o = &w->ov[w->nov++];
  o->dbi = dbi;
  o->key = key;
  o->klen = klen;
  o->hash = h;
  o->vstate = (when != SV_NO_EXPIRE && when <= w->now) ? 2 : 0;
  o->val = NULL;
  o->vlen = 0;
  o->idx0 = o->idx = when;
  size_t mask = w->nslots - 1;
  size_t i = h & mask;
  while (w->slots[i])
    i = (i + 1) & mask;
  w->slots[i] = w->nov;
  return o;
nomem:
  *rc = w->failed = strata_error_set(STRATA_ENOMEM, "write context");
  return NULL;
}

/* 1 when the run sees the key as possibly present: not deleted and not
 * past an expiry time (SET ... PXAT <past> makes a key gone at once). */
static int ov_live(const sv_wctx *w, const sv_ov *o) {
  return o->vstate != 2 && !(o->idx != SV_NO_EXPIRE && o->idx <= w->now);
}

/* The logical expiry of an overlay entry: none when the key is gone. */
static int64_t ov_expire(const sv_wctx *w, const sv_ov *o) {
  return ov_live(w, o) ? o->idx : SV_NO_EXPIRE;
}

/* Makes the recorded expiry of o equal `when` (SV_NO_EXPIRE: none),
 * queueing the expiry records' changes. */
static int set_expire_records(sv_wctx *w, sv_ov *o, int64_t when) {
  if (o->idx == when) return 0;
  strata_subdb *e, *a;
  int create = when != SV_NO_EXPIRE;
  int rc = sub_open(w->s, o->dbi, SUB_EXP, create, &e);
  if (!rc) rc = sub_open(w->s, o->dbi, SUB_EXPAT, create, &a);
  if (rc) return w->failed = rc;
  size_t n = 8 + o->klen;
  char *at = arena_copy(w, NULL, n);
  if (!at) return w->failed = strata_error_set(STRATA_ENOMEM, "write context");
  memcpy(at + 8, o->key, o->klen);
  if (o->idx != SV_NO_EXPIRE && a && e) {
    put_be64(at, (uint64_t)o->idx);
    if ((rc = op_del(w, a, at, n))) return rc;
    if (when == SV_NO_EXPIRE && (rc = op_del(w, e, o->key, o->klen))) return rc;
  }
  if (when != SV_NO_EXPIRE) {
    char be[8];
    put_be64(be, (uint64_t)when);
    if ((rc = op_put(w, e, o->key, o->klen, be, 8))) return rc;
    char *at2 = arena_copy(w, NULL, n);
    if (!at2) return w->failed = strata_error_set(STRATA_ENOMEM, "write context");
    memcpy(at2, be, 8);
    memcpy(at2 + 8, o->key, o->klen);
    if ((rc = op_put(w, a, at2, n, "", 0))) return rc;
  }
  o->idx = when;
  w->pending++;
  return 0;
}

int sv_wctx_get(sv_wctx *w, int dbi, const char *key, size_t klen, const char **val, size_t *vlen,
                int64_t *expire) {
  if (expire) *expire = SV_NO_EXPIRE;
  if (dbi < 0 || dbi >= w->s->ndbs || sv_store_key_reserved(dbi, key, klen)) return 1;
  sv_ov *o = ov_find(w, dbi, key, klen, key_hash(w->s, dbi, key, klen));
  int64_t when = SV_NO_EXPIRE;
  if (o) {
    if (!ov_live(w, o)) return 1;
    if (o->vstate == 1) {
      if (expire) *expire = o->idx;
      *val = o->val;
      *vlen = o->vlen;
      return 0;
    }
    when = o->idx;
  } else {
    int e = load_expire(w, dbi, key, klen, &when);
    if (e < 0) return e;
    if (e == 1) when = SV_NO_EXPIRE;
    if (when != SV_NO_EXPIRE && when <= w->now) return 1;
  }
  strata_subdb *d = NULL;
  int rc = sub_open(w->s, dbi, SUB_DATA, 0, &d);
  if (rc) return rc;
  if (dbi > 0 && !d) return 1;
  rc = op_get(w, d, key, klen, &w->rbuf);
  if (rc == STRATA_ENOTFOUND) {
    if (o) o->vstate = 2;
    return 1;
  }
  if (rc) return rc;
  /* The value lives in the arena: rbuf is reused by the next read. */
  char *copy = arena_copy(w, w->rbuf.data, w->rbuf.size);
  if (!copy) return strata_error_set(STRATA_ENOMEM, "write context");
  if (o) {
    o->vstate = 1;
    o->val = copy;
    o->vlen = w->rbuf.size;
  }
  if (expire) *expire = when;
  *val = copy;
  *vlen = w->rbuf.size;
  return 0;
}

int sv_wctx_put(sv_wctx *w, int dbi, const char *key, size_t klen, const char *val, size_t vlen,
                int64_t expire, int borrow) {
  if (sv_store_key_reserved(dbi, key, klen))
    return strata_error_set(STRATA_EINVAL,
                            "keys beginning with \\xff\\xffstrata\\x00 are reserved by Strata");
  strata_subdb *d = NULL;
  int rc = sub_open(w->s, dbi, SUB_DATA, 1, &d);
  if (rc) return w->failed = rc;
  sv_ov *o = ov_get(w, dbi, key, klen, &rc);
  if (!o) return rc;
  const char *v = borrow ? val : arena_copy(w, val, vlen);
  if (!v) return w->failed = strata_error_set(STRATA_ENOMEM, "write context");
  int64_t when = expire == SV_KEEP_EXPIRE ? ov_expire(w, o) : expire;
  if ((rc = op_put(w, d, key, klen, v, vlen))) return rc;
  if ((rc = set_expire_records(w, o, when))) return rc;
  o->vstate = 1;
  o->val = v;
  o->vlen = vlen;
  w->pending++;
  return 0;
}

int sv_wctx_expire(sv_wctx *w, int dbi, const char *key, size_t klen, int64_t expire) {
  int rc;
  sv_ov *o = ov_get(w, dbi, key, klen, &rc);
  if (!o) return rc;
  return set_expire_records(w, o, expire);
}

int sv_wctx_del(sv_wctx *w, int dbi, const char *key, size_t klen) {
  if (dbi < 0 || dbi >= w->s->ndbs || sv_store_key_reserved(dbi, key, klen)) return 0;
  strata_subdb *d = NULL;
  int rc = sub_open(w->s, dbi, SUB_DATA, 0, &d);
  if (rc) return w->failed = rc;
  if (dbi > 0 && !d) return 0; /* the database was never written */
  sv_ov *o = ov_get(w, dbi, key, klen, &rc);
  if (!o) return rc;
  if ((rc = op_del(w, d, key, klen))) return rc;
  if ((rc = set_expire_records(w, o, SV_NO_EXPIRE))) return rc;
  o->vstate = 2;
  o->val = NULL;
  o->vlen = 0;
  w->pending++;
  return 0;
}

/* Drops sub-database `which` of dbi if it exists. REQUIRE: every lock. */
static int drop_sub(sv_store *s, int dbi, int which) {
  pthread_mutex_lock(&s->subdb_mu);
  strata_subdb *h = sub_get(s, dbi, which);
  int rc = 0;
  if (h) {
    rc = strata_subdb_drop(s->db, h, NULL);
    if (!rc) atomic_store_explicit(&s->dbs[dbi].sub[which], NULL, memory_order_release);
  }
  pthread_mutex_unlock(&s->subdb_mu);
  return rc;
}

int sv_wctx_flushdb(sv_wctx *w, int dbi) {
  sv_store *s = w->s;
  if (dbi < 0 || dbi >= s->ndbs) return 0;
  /* Expiry records first: the keys they name vanish at once either way. */
  int rc = drop_sub(s, dbi, SUB_EXP);
  if (!rc) rc = drop_sub(s, dbi, SUB_EXPAT);
  if (rc) return rc;
  atomic_store(&s->dbs[dbi].nexpires, 0);
  if (dbi > 0) return drop_sub(s, dbi, SUB_DATA); /* O(1), whatever its size */
  /* The main database: deleted in batches of 10,000 keys, each committed
   * on its own; the caller holds every lock, so no writer runs meanwhile. */
  strata_iter *it;
  rc = strata_iter_create(s->db, NULL, &it);
  if (rc) return rc;
  strata_batch *b;
  rc = strata_batch_create(&b);
  if (rc) {
    strata_iter_destroy(it);
    return rc;
  }
  strata_write_options wo;
  strata_write_options_init(&wo);
  wo.sync = cfgnum(&s->cfg->sync) == SV_SYNC_ALWAYS;
  for (strata_iter_seek_to_first(it); !rc && strata_iter_valid(it); strata_iter_next(it)) {
    size_t kl;
    const char *k = strata_iter_key(it, &kl);
    rc = strata_batch_delete(b, k, kl);
    if (!rc && strata_batch_count(b) >= 10000) {
      rc = strata_write(s->db, &wo, b);
      strata_batch_clear(b);
    }
  }
  if (!rc) rc = strata_iter_status(it);
  if (!rc) rc = strata_write(s->db, &wo, b);
  strata_batch_destroy(b);
  strata_iter_destroy(it);
  return rc;
}

int sv_wctx_pending(const sv_wctx *w) { return w->pending; }

int sv_wctx_commit(sv_wctx *w) {
  if (w->failed) return w->failed;
  if (!w->pending && !w->txn) return 0;
  /* The change in each database's count of expiring keys: raised before
   * the commit (a reader may then look for an expiry that is not there
   * yet: harmless), lowered after it (never too low while records exist). */
  long long *delta = NULL;
  int touched = 0;
  for (int i = 0; i < w->nov; i++) {
    sv_ov *o = &w->ov[i];
    int before = o->idx0 != SV_NO_EXPIRE, after = o->idx != SV_NO_EXPIRE;
    if (before == after) continue;
    if (!delta) {
      delta = calloc((size_t)w->s->ndbs, sizeof *delta);
      if (!delta) return strata_error_set(STRATA_ENOMEM, "write context");
    }
    delta[o->dbi] += after - before;
    touched = 1;
  }
  if (touched)
    for (int d = 0; d < w->s->ndbs; d++)
      if (delta[d] > 0) atomic_fetch_add(&w->s->dbs[d].nexpires, delta[d]);
  int rc;
  int sync = cfgnum(&w->s->cfg->sync) == SV_SYNC_ALWAYS;
  if (w->txn) {
    rc = strata_txn_commit(w->txn);
  } else {
    strata_write_options wo;
    strata_write_options_init(&wo);
    wo.sync = sync;
    rc = strata_write(w->s->db, &wo, w->batch);
  }
  if (!rc && !sync) atomic_fetch_add(&w->s->unsynced, 1);
  if (touched)
    for (int d = 0; d < w->s->ndbs; d++) {
      if (delta[d] < 0 && !rc) atomic_fetch_add(&w->s->dbs[d].nexpires, delta[d]);
      if (delta[d] > 0 && rc) atomic_fetch_sub(&w->s->dbs[d].nexpires, delta[d]);
    }
  free(delta);
  return rc;
}

void sv_wctx_reset(sv_wctx *w) {
  if (w->nheld) unlock_all(w);
  w->txn = NULL;
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

/* ------------------------------------------------------------------------ */
/* The expiry sweeper                                                       */
/* ------------------------------------------------------------------------ */

long sv_store_sweep_expired(sv_store *s, sv_wctx *w, long max) {
  long removed = 0;
  int64_t now = sv_now_ms();
  for (int dbi = 0; dbi < s->ndbs && removed < max; dbi++) {
    if (nexp(s, dbi) <= 0) continue;
    strata_subdb *a = sub_get(s, dbi, SUB_EXPAT);
    if (!a) continue;
    /* Collect up to max keys whose time has passed, oldest first. */
    strata_iter *it;
    if (strata_iter_create_in(s->db, a, NULL, &it)) continue;
    char **keys = NULL;
    size_t *lens = NULL;
    int64_t *whens = NULL;
    long n = 0, cap = 0;
    for (strata_iter_seek_to_first(it); strata_iter_valid(it) && removed + n < max;
         strata_iter_next(it)) {
      size_t kl;
      const char *k = strata_iter_key(it, &kl);
      if (kl < 8) continue;
      int64_t when = (int64_t)get_be64(k);
      if (when > now) break;
      if (n == cap) {
        cap = cap ? cap * 2 : 64;
        char **nk = realloc(keys, (size_t)cap * sizeof *nk);
        size_t *nl = realloc(lens, (size_t)cap * sizeof *nl);
        int64_t *nw = realloc(whens, (size_t)cap * sizeof *nw);
        if (nk) keys = nk;
        if (nl) lens = nl;
        if (nw) whens = nw;
        if (!nk || !nl || !nw) break;
      }
      keys[n] = malloc(kl - 8 + 1);
      if (!keys[n]) break;
      memcpy(keys[n], k + 8, kl - 8);
      lens[n] = kl - 8;
      whens[n] = when;
      n++;
    }
    strata_iter_destroy(it);
    if (n) {
      /* Delete them in one run: each is checked again under its lock (a
       * writer may have given it a new expiry meanwhile). */
      for (long i = 0; i < n; i++)
        sv_wctx_want(w, dbi, keys[i], lens[i]);
      sv_wctx_lock(w);
      now = w->now;
      long gone = 0;
      for (long i = 0; i < n; i++) {
        int rc;
        sv_ov *o = ov_get(w, dbi, keys[i], lens[i], &rc);
        if (!o) break;
        if (o->idx != SV_NO_EXPIRE && o->idx <= now) {
          if (sv_wctx_del(w, dbi, keys[i], lens[i])) break;
          gone++;
        } else if (o->idx != whens[i]) {
          /* A stale index record (cannot happen while writers keep both
           * records in one batch; removed if ever met). */
          strata_subdb *ad;
          if (!sub_open(s, dbi, SUB_EXPAT, 0, &ad) && ad) {
            char *at = arena_copy(w, NULL, 8 + lens[i]);
            if (at) {
              put_be64(at, (uint64_t)whens[i]);
              memcpy(at + 8, keys[i], lens[i]);
              op_del(w, ad, at, 8 + lens[i]);
              w->pending++;
            }
          }
        }
      }
      int rc = sv_wctx_commit(w);
      if (rc)
        sv_log(SV_LOG_WARNING, "Removing expired keys failed: %s", strata_errmsg());
      else
        removed += gone;
      sv_wctx_reset(w);
    }
    for (long i = 0; i < n; i++)
      free(keys[i]);
    free(keys);
    free(lens);
    free(whens);
  }
  return removed;
}
