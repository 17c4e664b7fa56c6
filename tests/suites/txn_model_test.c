/*
 * txn_model_test.c - randomized model test of transactions and named
 * sub-databases against an in-memory oracle (oracle.h), beside
 * model_test.c, which covers the single key space in depth.
 *
 * Key spaces: the main database and up to NSLOTS named sub-databases, each
 * with its own oracle; one sequence counter is shared by all, as the
 * engine shares its sequence numbers. Operations: puts and deletes in any
 * key space, batches spanning several, gets and scans (forward and
 * backward, sometimes through a snapshot), snapshots, sub-database
 * creation, drop (the name comes back empty) and reopen of the handles,
 * compactions, close and reopen, and up to MAX_TXNS transactions open at
 * once: read and write, optimistic and exclusive, each doing gets, puts,
 * deletes and iterator walks over its own view (snapshot plus its pending
 * writes), then committing or aborting.
 *
 * The model knows which keys changed: a commit must fail with
 * STRATA_ECONFLICT exactly when a key the transaction read (through get,
 * found or not, or met by its iterator) or wrote has a version newer than
 * the transaction's snapshot in its key space's oracle (a delete of an
 * absent key counts: the engine writes a deletion marker), with
 * STRATA_EINVAL when a sub-database it used was dropped meanwhile, and
 * otherwise succeed and apply its writes in order.
 *
 * Usage: txn_model_test [--seed S] [--set NAME] [--ops N]
 */
#include <setjmp.h>
#include <stdarg.h>

#include "oracle.h"
#include "strata.h"
#include "suite_util.h"

#define NSLOTS 4    /* named sub-databases, besides the main database */
#define MAX_TXNS 3  /* transactions open at once */
#define MAX_SNAPS 4 /* plain snapshots held at once */
#define POOL_KEYS 600
#define MAX_VLEN 600

/* A key space: slot 0 is the main database, 1..NSLOTS named ones. */
typedef struct space {
  char name[16];     /* "s<slot>.<generation>" */
  int exists;        /* main: always */
  strata_subdb *sdb; /* NULL for the main database */
  oracle o;
  int gen;
} space;

/* One pending write of a transaction, in order. */
typedef struct pending {
  int slot;
  strata_subdb *sdb; /* the handle written through (a slot's sub-database
                        may be dropped and made anew meanwhile) */
  unsigned char key[40];
  size_t klen;
  int del;
  uint64_t vseed;
  uint32_t vlen;
} pending;

typedef struct keyref {
  int slot;
  unsigned char key[40];
  size_t klen;
} keyref;

typedef struct txn_slot {
  strata_txn *t;
  int write, exclusive;
  uint64_t seq;           /* the model's sequence at begin */
  strata_subdb *used[64]; /* sub-database handles it used */
  int nused;
  pending *ops;
  size_t nops, capops;
  keyref *reads;
  size_t nreads, capreads;
} txn_slot;

typedef struct snap_slot {
  const strata_snapshot *s;
  uint64_t seq;
} snap_slot;

typedef struct optset {
  const char *name;
  size_t write_buffer;
  int bloom_bits;
} optset;

static const optset sets[] = {
    {"small-buffer", 64 << 10, 0},
    {"bloom", 128 << 10, 10},
    {"defaults", 4 << 20, 0},
};
#define NSETS ((int)(sizeof sets / sizeof sets[0]))

typedef struct model {
  const optset *set;
  uint64_t seed;
  long op;
  su_rng rng;
  char *dir;
  strata_db *db;
  strata_options opt;
  uint64_t seq; /* the shared model sequence */
  space sp[NSLOTS + 1];
  txn_slot txns[MAX_TXNS];
  snap_slot snaps[MAX_SNAPS];
  int nsnaps;
  unsigned char *pool[POOL_KEYS];
  size_t pool_len[POOL_KEYS];
  unsigned char vbuf[MAX_VLEN];
  strata_buf getbuf;
  jmp_buf fail_jmp;
  long n_write, n_batch, n_get, n_scan, n_begin, n_commit, n_conflict, n_abort, n_txnop, n_drop,
      n_create, n_reopen, n_compact;
} model;

static void fail_at(model *m, const void *key, size_t klen, const char *fmt, ...) {
  su_hexbuf hb;
  va_list ap;
  fflush(stdout);
  fprintf(stderr, "FAIL: seed=%llu set=%s op=%ld key=%s: ", (unsigned long long)m->seed,
          m->set->name, m->op, key ? su_hex(&hb, key, klen) : "-");
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fprintf(stderr, "\n  reproduce: txn_model_test --seed %llu --set %s\n  db left in %s\n",
          (unsigned long long)m->seed, m->set->name, m->dir);
  longjmp(m->fail_jmp, 1);
}

static void check_rc(model *m, int rc, const char *call) {
  if (rc != STRATA_OK)
    fail_at(m, NULL, 0, "%s returned %d (%s): %s", call, rc, strata_strerror(rc), strata_errmsg());
}

static void check_value(model *m, const char *what, const void *key, size_t klen, const version *v,
                        const void *got, size_t glen) {
  unsigned char want[MAX_VLEN];
  if (glen != v->vlen)
    fail_at(m, key, klen, "%s: value length %zu, expected %u", what, glen, v->vlen);
  su_fill_value(v->vseed, v->vlen, want);
  if (glen && memcmp(got, want, glen) != 0) fail_at(m, key, klen, "%s: value bytes differ", what);
}

/* ------------------------------------------------------------------------ */
/* Oracle helpers shared across key spaces                                  */
/* ------------------------------------------------------------------------ */

/* Each oracle keeps its own counter; they are all set from m->seq around
 * every write so versions carry the shared sequence. */
static void m_put(model *m, int slot, const void *k, size_t kl, uint64_t vseed, uint32_t vlen) {
  oracle *o = &m->sp[slot].o;
  o->seq = m->seq;
  o_put(o, k, kl, vseed, vlen);
  m->seq = o->seq;
}

/* A delete always leaves a version, absent key or not: the engine writes a
 * deletion marker either way, which a transaction's check sees. */
static void m_del(model *m, int slot, const void *k, size_t kl) {
  oracle *o = &m->sp[slot].o;
  o->seq = m->seq;
  version v = {++o->seq, 0, 0, 1};
  o_add_version(o, o_find_or_add(o, k, kl), v);
  m->seq = o->seq;
}

static void m_pin(model *m, uint64_t seq) {
  for (int s = 0; s <= NSLOTS; s++)
    o_pin(&m->sp[s].o, seq);
}

static void m_unpin(model *m, uint64_t seq) {
  for (int s = 0; s <= NSLOTS; s++)
    o_unpin(&m->sp[s].o, seq);
}

/* The newest version's sequence of key in slot, 0 when never written. */
static uint64_t last_change(model *m, int slot, const void *k, size_t kl) {
  entry *e = o_find(&m->sp[slot].o, k, kl);
  return e && e->nv ? e->v[e->nv - 1].seq : 0;
}

/* ------------------------------------------------------------------------ */
/* Keys, slots                                                              */
/* ------------------------------------------------------------------------ */

static const unsigned char edge[] = {0x00, 0x01, 'a', 'b', 0x7f, 0x80, 0xfe, 0xff};

static void make_pool(model *m) {
  for (int i = 0; i < POOL_KEYS; i++) {
    size_t len = (size_t)su_rng_below(&m->rng, 12);
    m->pool[i] = malloc(len ? len : 1);
    for (size_t j = 0; j < len; j++)
      m->pool[i][j] = su_rng_below(&m->rng, 2) ? edge[su_rng_below(&m->rng, sizeof edge)]
                                               : (unsigned char)su_rng_next(&m->rng);
    m->pool_len[i] = len;
  }
}

static const unsigned char *pick_key(model *m, size_t *len) {
  /* A hot fifth of the pool, so transactions meet each other's keys. */
  size_t i = su_rng_below(&m->rng, 3) ? (size_t)su_rng_below(&m->rng, POOL_KEYS / 5)
                                      : (size_t)su_rng_below(&m->rng, POOL_KEYS);
  *len = m->pool_len[i];
  return m->pool[i];
}

/* A slot whose key space exists (0 when no sub-database does). */
static int pick_slot(model *m) {
  int s = (int)su_rng_below(&m->rng, NSLOTS + 1);
  return m->sp[s].exists ? s : 0;
}

static uint32_t pick_vlen(model *m) { return (uint32_t)su_rng_below(&m->rng, MAX_VLEN); }

/* ------------------------------------------------------------------------ */
/* Scans                                                                    */
/* ------------------------------------------------------------------------ */

/* The expected view of a key space as a list of entry indexes of the
 * slot's oracle, plus a transaction's pending writes over it. */
typedef struct view_item {
  const unsigned char *key;
  size_t klen;
  uint64_t vseed;
  uint32_t vlen;
} view_item;

static int item_cmp(const void *a, const void *b) {
  const view_item *x = a, *y = b;
  return bytewise_cmp(x->key, x->klen, y->key, y->klen);
}

/* True when pending write p is to key k of slot's current key space. */
static int pending_is(const model *m, const pending *p, int slot, const void *k, size_t kl) {
  return p->slot == slot && p->sdb == m->sp[slot].sdb && bytewise_cmp(p->key, p->klen, k, kl) == 0;
}

/* Builds the sorted visible items of slot at seq, overlaid with t's
 * pending writes to it (t may be NULL). Caller frees. */
static view_item *build_view(model *m, int slot, uint64_t seq, const txn_slot *t, size_t *n) {
  const oracle *o = &m->sp[slot].o;
  size_t cap = o->n + (t ? t->nops : 0) + 1, k = 0;
  view_item *v = malloc(cap * sizeof *v);
  for (size_t i = 0; i < o->n; i++) {
    const entry *e = o->e[i];
    /* The newest pending write of the key decides, if there is one. */
    const pending *p = NULL;
    for (size_t j = 0; t && j < t->nops; j++)
      if (pending_is(m, &t->ops[j], slot, e->key, e->klen)) p = &t->ops[j];
    if (p) continue; /* added below */
    const version *ver = o_visible(e, seq);
    if (ver) v[k++] = (view_item){e->key, e->klen, ver->vseed, ver->vlen};
  }
  for (size_t j = 0; t && j < t->nops; j++) {
    const pending *p = &t->ops[j];
    if (p->slot != slot || p->sdb != m->sp[slot].sdb) continue;
    int later = 0; /* a later pending write of the same key wins */
    for (size_t q = j + 1; q < t->nops && !later; q++)
      later = pending_is(m, &t->ops[q], slot, p->key, p->klen);
    if (later || p->del) continue;
    v[k++] = (view_item){p->key, p->klen, p->vseed, p->vlen};
  }
  qsort(v, k, sizeof *v, item_cmp);
  *n = k;
  return v;
}

static void note_read(txn_slot *t, int slot, const void *k, size_t kl);

/* A walk of up to 30 steps from a random seek, forward or backward, checked
 * against the view. it reads slot at seq (plus t's writes when t). */
static void walk(model *m, strata_iter *it, int slot, uint64_t seq, txn_slot *t) {
  size_t n;
  view_item *v = build_view(m, slot, seq, t, &n);
  size_t kl;
  const unsigned char *target = pick_key(m, &kl);
  int backward = su_rng_below(&m->rng, 2);
  long idx;
  uint64_t how = su_rng_below(&m->rng, 4);
  if (how == 0) {
    strata_iter_seek_to_first(it);
    idx = 0;
  } else if (how == 1) {
    strata_iter_seek_to_last(it);
    idx = (long)n - 1;
  } else {
    strata_iter_seek(it, target, kl);
    view_item probe = {target, kl, 0, 0};
    idx = 0;
    while ((size_t)idx < n && item_cmp(&v[idx], &probe) < 0)
      idx++;
  }
  long steps = (long)su_rng_range(&m->rng, 1, 30);
  for (long s = 0;; s++) {
    int expect = idx >= 0 && (size_t)idx < n;
    int got = strata_iter_valid(it);
    if (!got && strata_iter_status(it) != STRATA_OK)
      fail_at(m, NULL, 0, "scan of slot %d stopped: %s", slot, strata_errmsg());
    if (got != expect) {
      const char *from = "";
      if (expect) {
        from = " (a version of the snapshot)";
        for (size_t j = 0; t && j < t->nops; j++)
          if (pending_is(m, &t->ops[j], slot, v[idx].key, v[idx].klen))
            from = " (a pending write of the transaction)";
      }
      fail_at(m, expect ? v[idx].key : NULL, expect ? v[idx].klen : 0,
              "scan of slot %d step %ld (%s%s, %s): Strata %s, model %s%s", slot, s,
              backward ? "backward" : "forward", t ? ", in a write transaction" : "",
              how == 0   ? "from the first"
              : how == 1 ? "from the last"
                         : "from a seek",
              got ? "valid" : "at end", expect ? "has the key shown" : "at end", from);
    }
    if (!got) break;
    size_t gkl, gvl;
    const char *gk = strata_iter_key(it, &gkl), *gv = strata_iter_value(it, &gvl);
    if (bytewise_cmp(gk, gkl, v[idx].key, v[idx].klen) != 0) {
      su_hexbuf hb;
      fail_at(m, v[idx].key, v[idx].klen, "scan of slot %d step %ld: Strata shows key %s", slot, s,
              su_hex(&hb, gk, gkl));
    }
    version ver = {0, v[idx].vseed, v[idx].vlen, 0};
    check_value(m, "scan", gk, gkl, &ver, gv, gvl);
    if (t) note_read(t, slot, gk, gkl);
    if (s >= steps) break;
    if (backward) {
      strata_iter_prev(it);
      idx--;
    } else {
      strata_iter_next(it);
      idx++;
    }
  }
  free(v);
}

/* ------------------------------------------------------------------------ */
/* Plain operations                                                         */
/* ------------------------------------------------------------------------ */

static void op_write(model *m) {
  int slot = pick_slot(m);
  size_t kl;
  const unsigned char *k = pick_key(m, &kl);
  if (su_rng_below(&m->rng, 4) == 0) {
    check_rc(m, strata_delete_in(m->db, m->sp[slot].sdb, NULL, k, kl), "strata_delete_in");
    m_del(m, slot, k, kl);
  } else {
    uint32_t vlen = pick_vlen(m);
    uint64_t vseed = su_rng_next(&m->rng);
    su_fill_value(vseed, vlen, m->vbuf);
    check_rc(m, strata_put_in(m->db, m->sp[slot].sdb, NULL, k, kl, m->vbuf, vlen), "strata_put_in");
    m_put(m, slot, k, kl, vseed, vlen);
  }
  m->n_write++;
}

static void op_batch(model *m) {
  strata_batch *b;
  check_rc(m, strata_batch_create(&b), "strata_batch_create");
  int n = (int)su_rng_range(&m->rng, 1, 12);
  pending ops[12];
  for (int i = 0; i < n; i++) {
    pending *p = &ops[i];
    p->slot = pick_slot(m);
    const unsigned char *k = pick_key(m, &p->klen);
    memcpy(p->key, k, p->klen);
    p->del = su_rng_below(&m->rng, 4) == 0;
    strata_subdb *s = m->sp[p->slot].sdb;
    if (p->del) {
      check_rc(m, strata_batch_delete_in(b, s, p->key, p->klen), "strata_batch_delete_in");
    } else {
      p->vlen = pick_vlen(m);
      p->vseed = su_rng_next(&m->rng);
      su_fill_value(p->vseed, p->vlen, m->vbuf);
      check_rc(m, strata_batch_put_in(b, s, p->key, p->klen, m->vbuf, p->vlen),
               "strata_batch_put_in");
    }
  }
  check_rc(m, strata_write(m->db, NULL, b), "strata_write");
  for (int i = 0; i < n; i++) {
    if (ops[i].del)
      m_del(m, ops[i].slot, ops[i].key, ops[i].klen);
    else
      m_put(m, ops[i].slot, ops[i].key, ops[i].klen, ops[i].vseed, ops[i].vlen);
  }
  strata_batch_destroy(b);
  m->n_batch++;
}

static void op_get(model *m) {
  int slot = pick_slot(m);
  size_t kl;
  const unsigned char *k = pick_key(m, &kl);
  strata_read_options ro;
  strata_read_options_init(&ro);
  uint64_t seq = m->seq;
  if (m->nsnaps && su_rng_below(&m->rng, 3) == 0) {
    int i = (int)su_rng_below(&m->rng, (uint64_t)m->nsnaps);
    ro.snapshot = m->snaps[i].s;
    seq = m->snaps[i].seq;
  }
  const entry *e = o_find(&m->sp[slot].o, k, kl);
  const version *v = e ? o_visible(e, seq) : NULL;
  int rc = strata_get_in(m->db, m->sp[slot].sdb, &ro, k, kl, &m->getbuf);
  if (!v && rc != STRATA_ENOTFOUND)
    fail_at(m, k, kl, "get in slot %d returned %d, expected not found", slot, rc);
  if (v) {
    if (rc) fail_at(m, k, kl, "get in slot %d returned %d: %s", slot, rc, strata_errmsg());
    check_value(m, "get", k, kl, v, m->getbuf.data, m->getbuf.size);
  }
  m->n_get++;
}

static void op_scan(model *m) {
  int slot = pick_slot(m);
  strata_read_options ro;
  strata_read_options_init(&ro);
  uint64_t seq = m->seq;
  if (m->nsnaps && su_rng_below(&m->rng, 3) == 0) {
    int i = (int)su_rng_below(&m->rng, (uint64_t)m->nsnaps);
    ro.snapshot = m->snaps[i].s;
    seq = m->snaps[i].seq;
  }
  strata_iter *it;
  check_rc(m, strata_iter_create_in(m->db, m->sp[slot].sdb, &ro, &it), "strata_iter_create_in");
  walk(m, it, slot, seq, NULL);
  strata_iter_destroy(it);
  m->n_scan++;
}

static void op_snapshot(model *m) {
  if (m->nsnaps < MAX_SNAPS && su_rng_below(&m->rng, 2)) {
    m->snaps[m->nsnaps].s = strata_snapshot_get(m->db);
    m->snaps[m->nsnaps].seq = m->seq;
    m_pin(m, m->seq);
    m->nsnaps++;
  } else if (m->nsnaps) {
    int i = (int)su_rng_below(&m->rng, (uint64_t)m->nsnaps);
    strata_snapshot_release(m->db, m->snaps[i].s);
    m_unpin(m, m->snaps[i].seq);
    m->snaps[i] = m->snaps[--m->nsnaps];
  }
}

/* Creates a sub-database in an empty slot, or drops an existing one (its
 * oracle starts over: a new sub-database of the same slot is empty). */
static void op_subdb(model *m) {
  int slot = 1 + (int)su_rng_below(&m->rng, NSLOTS);
  space *sp = &m->sp[slot];
  if (!sp->exists) {
    snprintf(sp->name, sizeof sp->name, "s%d.%d", slot, sp->gen % 2); /* names come back */
    check_rc(m, strata_subdb_open(m->db, sp->name, 1, &sp->sdb), "strata_subdb_open");
    sp->exists = 1;
    m->n_create++;
    return;
  }
  if (su_rng_below(&m->rng, 3)) return; /* drops are rarer than creations */
  if (su_rng_below(&m->rng, 2))
    check_rc(m, strata_subdb_drop(m->db, sp->sdb, NULL), "strata_subdb_drop");
  else
    check_rc(m, strata_subdb_drop(m->db, NULL, sp->name), "strata_subdb_drop(name)");
  /* The old handle now refuses every call. */
  if (strata_put_in(m->db, sp->sdb, NULL, "x", 1, "y", 1) != STRATA_EINVAL)
    fail_at(m, NULL, 0, "put through the handle of dropped sub-database %s did not fail", sp->name);
  uint64_t pins_keep[MAX_SNAPS + MAX_TXNS];
  size_t np = sp->o.npins;
  memcpy(pins_keep, sp->o.pins, np * sizeof *pins_keep);
  uint64_t seq = sp->o.seq;
  o_free(&sp->o);
  sp->o.cmp = bytewise_cmp;
  sp->o.seq = seq;
  for (size_t i = 0; i < np; i++)
    o_pin(&sp->o, pins_keep[i]);
  sp->exists = 0;
  sp->sdb = NULL;
  sp->gen++;
  m->n_drop++;
}

/* ------------------------------------------------------------------------ */
/* Transactions                                                             */
/* ------------------------------------------------------------------------ */

static void note_read(txn_slot *t, int slot, const void *k, size_t kl) {
  if (!t->write) return;
  if (t->nreads == t->capreads) {
    t->capreads = t->capreads ? t->capreads * 2 : 16;
    t->reads = realloc(t->reads, t->capreads * sizeof *t->reads);
  }
  keyref *r = &t->reads[t->nreads++];
  r->slot = slot;
  r->klen = kl;
  memcpy(r->key, k, kl);
}

static void txn_forget(model *m, txn_slot *t) {
  strata_txn_destroy(t->t);
  m_unpin(m, t->seq);
  free(t->ops);
  free(t->reads);
  memset(t, 0, sizeof *t);
}

static void txn_begin(model *m, txn_slot *t) {
  strata_txn_options o;
  strata_txn_options_init(&o);
  o.write = su_rng_below(&m->rng, 4) != 0;
  /* One exclusive transaction at a time: a second would wait forever on
   * this single thread. */
  int excl_open = 0;
  for (int i = 0; i < MAX_TXNS; i++)
    excl_open |= m->txns[i].t && m->txns[i].exclusive;
  o.exclusive = o.write && !excl_open && su_rng_below(&m->rng, 3) == 0;
  o.sync = su_rng_below(&m->rng, 20) == 0;
  check_rc(m, strata_txn_begin(m->db, &o, &t->t), "strata_txn_begin");
  t->write = o.write;
  t->exclusive = o.exclusive;
  t->seq = m->seq;
  m_pin(m, t->seq);
  m->n_begin++;
}

/* The expected outcome of committing t now: 0, STRATA_ECONFLICT or
 * STRATA_EINVAL (a sub-database it used was dropped). */
static int expected_commit(model *m, txn_slot *t) {
  if (!t->write || (t->nops == 0 && t->nreads == 0)) return 0; /* nothing to check */
  for (int i = 0; i < t->nused; i++) {
    int live = 0;
    for (int s = 1; s <= NSLOTS; s++)
      live |= m->sp[s].sdb == t->used[i];
    if (!live) return STRATA_EINVAL;
  }
  for (size_t i = 0; i < t->nreads; i++)
    if (last_change(m, t->reads[i].slot, t->reads[i].key, t->reads[i].klen) > t->seq)
      return STRATA_ECONFLICT;
  for (size_t i = 0; i < t->nops; i++)
    if (last_change(m, t->ops[i].slot, t->ops[i].key, t->ops[i].klen) > t->seq)
      return STRATA_ECONFLICT;
  return 0;
}

static void txn_end(model *m, txn_slot *t) {
  if (su_rng_below(&m->rng, 5) == 0) {
    check_rc(m, strata_txn_abort(t->t), "strata_txn_abort");
    m->n_abort++;
  } else {
    int want = expected_commit(m, t);
    int rc = strata_txn_commit(t->t);
    if (rc != want)
      fail_at(m, NULL, 0, "commit of a %s transaction returned %d (%s: %s), model expects %d (%s)",
              t->write ? (t->exclusive ? "exclusive write" : "write") : "read", rc,
              strata_strerror(rc), strata_errmsg(), want, strata_strerror(want));
    if (rc == 0) {
      for (size_t i = 0; i < t->nops; i++) {
        pending *p = &t->ops[i];
        if (p->del)
          m_del(m, p->slot, p->key, p->klen);
        else
          m_put(m, p->slot, p->key, p->klen, p->vseed, p->vlen);
      }
      m->n_commit++;
    } else {
      m->n_conflict++;
    }
  }
  if (strata_txn_commit(t->t) != STRATA_EMISUSE)
    fail_at(m, NULL, 0, "a second commit of an ended transaction did not return STRATA_EMISUSE");
  txn_forget(m, t);
}

/* One step inside transaction t: a get, put, delete or iterator walk. */
static void txn_step(model *m, txn_slot *t) {
  int slot = pick_slot(m);
  strata_subdb *sdb = m->sp[slot].sdb;
  size_t kl;
  const unsigned char *k = pick_key(m, &kl);
  uint64_t c = su_rng_below(&m->rng, 10);
  if (sdb) {
    int seen = 0;
    for (int i = 0; i < t->nused; i++)
      seen |= t->used[i] == sdb;
    if (!seen && t->nused < 64) t->used[t->nused++] = sdb;
  }
  if (c < 4) {
    /* Expected: the newest pending write of the key, else the snapshot. */
    const pending *p = NULL;
    for (size_t i = 0; i < t->nops; i++)
      if (pending_is(m, &t->ops[i], slot, k, kl)) p = &t->ops[i];
    int rc = strata_txn_get(t->t, sdb, k, kl, &m->getbuf);
    if (p) {
      if (p->del && rc != STRATA_ENOTFOUND)
        fail_at(m, k, kl, "txn get after its delete returned %d", rc);
      if (!p->del) {
        if (rc) fail_at(m, k, kl, "txn get of its own put returned %d", rc);
        version v = {0, p->vseed, p->vlen, 0};
        check_value(m, "txn get (own write)", k, kl, &v, m->getbuf.data, m->getbuf.size);
      }
    } else {
      note_read(t, slot, k, kl);
      const entry *e = o_find(&m->sp[slot].o, k, kl);
      const version *v = e ? o_visible(e, t->seq) : NULL;
      if (!v && rc != STRATA_ENOTFOUND)
        fail_at(m, k, kl, "txn get returned %d, expected not found", rc);
      if (v) {
        if (rc) fail_at(m, k, kl, "txn get returned %d: %s", rc, strata_errmsg());
        check_value(m, "txn get", k, kl, v, m->getbuf.data, m->getbuf.size);
      }
    }
  } else if (c < 8 && t->write) {
    if (t->nops == t->capops) {
      t->capops = t->capops ? t->capops * 2 : 8;
      t->ops = realloc(t->ops, t->capops * sizeof *t->ops);
    }
    pending *p = &t->ops[t->nops];
    p->slot = slot;
    p->sdb = sdb;
    memcpy(p->key, k, kl);
    p->klen = kl;
    p->del = c == 7;
    if (p->del) {
      check_rc(m, strata_txn_delete(t->t, sdb, k, kl), "strata_txn_delete");
    } else {
      p->vlen = pick_vlen(m);
      p->vseed = su_rng_next(&m->rng);
      su_fill_value(p->vseed, p->vlen, m->vbuf);
      check_rc(m, strata_txn_put(t->t, sdb, k, kl, m->vbuf, p->vlen), "strata_txn_put");
    }
    t->nops++;
  } else {
    strata_iter *it;
    check_rc(m, strata_txn_iter_create(t->t, sdb, NULL, &it), "strata_txn_iter_create");
    walk(m, it, slot, t->seq, t->write ? t : NULL);
    strata_iter_destroy(it);
  }
  m->n_txnop++;
}

/* Drives the transactions: begin one in a free slot, step one, or end
 * one. A transaction whose sub-database was dropped is ended (its commit
 * must then fail). */
static void op_txn(model *m) {
  txn_slot *t = &m->txns[su_rng_below(&m->rng, MAX_TXNS)];
  if (!t->t) {
    txn_begin(m, t);
    return;
  }
  if (su_rng_below(&m->rng, 8) == 0)
    txn_end(m, t);
  else
    txn_step(m, t);
}

/* ------------------------------------------------------------------------ */
/* Whole-database checks, reopen                                            */
/* ------------------------------------------------------------------------ */

static void verify_slot(model *m, int slot) {
  size_t n;
  view_item *v = build_view(m, slot, m->seq, NULL, &n);
  strata_iter *it;
  check_rc(m, strata_iter_create_in(m->db, m->sp[slot].sdb, NULL, &it), "strata_iter_create_in");
  size_t i = 0;
  for (strata_iter_seek_to_first(it); strata_iter_valid(it); strata_iter_next(it), i++) {
    size_t kl, vl;
    const char *k = strata_iter_key(it, &kl), *val = strata_iter_value(it, &vl);
    if (i >= n || bytewise_cmp(k, kl, v[i].key, v[i].klen) != 0)
      fail_at(m, k, kl, "full scan of slot %d: unexpected key at %zu", slot, i);
    version ver = {0, v[i].vseed, v[i].vlen, 0};
    check_value(m, "full scan", k, kl, &ver, val, vl);
  }
  check_rc(m, strata_iter_status(it), "full scan");
  if (i != n) fail_at(m, NULL, 0, "full scan of slot %d: %zu keys, model has %zu", slot, i, n);
  strata_iter_destroy(it);
  free(v);
}

static void end_everything(model *m) {
  for (int i = 0; i < MAX_TXNS; i++)
    if (m->txns[i].t) txn_end(m, &m->txns[i]);
  while (m->nsnaps) {
    m->nsnaps--;
    strata_snapshot_release(m->db, m->snaps[m->nsnaps].s);
    m_unpin(m, m->snaps[m->nsnaps].seq);
  }
}

static void db_open(model *m) {
  check_rc(m, strata_open(m->dir, &m->opt, &m->db), "strata_open");
  for (int s = 1; s <= NSLOTS; s++) {
    m->sp[s].sdb = NULL;
    if (!m->sp[s].exists) continue;
    check_rc(m, strata_subdb_open(m->db, m->sp[s].name, 0, &m->sp[s].sdb),
             "strata_subdb_open after reopen");
  }
}

static void reopen(model *m) {
  end_everything(m);
  strata_close(m->db);
  m->db = NULL;
  db_open(m);
  for (int s = 0; s <= NSLOTS; s++)
    if (m->sp[s].exists) verify_slot(m, s);
  m->n_reopen++;
}

static int run_set(uint64_t seed, int set_index, long nops) {
  model *m = calloc(1, sizeof *m);
  m->set = &sets[set_index];
  m->seed = seed;
  su_rng_seed(&m->rng, su_derive(seed, (uint64_t)set_index));
  m->dir = su_make_temp_dir("strata-txn-model");
  strata_options_init(&m->opt);
  m->opt.create_if_missing = 1;
  m->opt.write_buffer_size = m->set->write_buffer;
  strata_filter_policy *bloom = NULL;
  if (m->set->bloom_bits) strata_filter_policy_create_bloom(m->set->bloom_bits, &bloom);
  m->opt.filter_policy = bloom;
  for (int s = 0; s <= NSLOTS; s++)
    m->sp[s].o.cmp = bytewise_cmp;
  m->sp[0].exists = 1;
  make_pool(m);
  double t0 = su_now();
  int failed = setjmp(m->fail_jmp);
  if (!failed) {
    db_open(m);
    for (m->op = 0; m->op < nops; m->op++) {
      uint64_t c = su_rng_below(&m->rng, 1000);
      if (c < 200)
        op_write(m);
      else if (c < 260)
        op_batch(m);
      else if (c < 360)
        op_get(m);
      else if (c < 420)
        op_scan(m);
      else if (c < 880)
        op_txn(m);
      else if (c < 920)
        op_snapshot(m);
      else if (c < 990)
        op_subdb(m);
      else if (c < 998) {
        unsigned char a = (unsigned char)su_rng_next(&m->rng);
        check_rc(m, strata_compact_range(m->db, su_rng_below(&m->rng, 2) ? NULL : &a, 1, NULL, 0),
                 "strata_compact_range");
        m->n_compact++;
      } else {
        reopen(m);
      }
    }
    end_everything(m);
    for (int s = 0; s <= NSLOTS; s++)
      if (m->sp[s].exists) verify_slot(m, s);
    reopen(m);
  }
  double dt = su_now() - t0;
  if (!failed) {
    strata_close(m->db);
    printf("set %-13s ok: %ld ops in %.1fs (%ld writes, %ld batches, %ld gets, %ld scans; "
           "%ld transactions: %ld committed, %ld failed as expected, %ld aborted, %ld steps; "
           "%ld sub-databases created, %ld dropped; %ld compactions, %ld reopens)\n",
           m->set->name, nops, dt, m->n_write, m->n_batch, m->n_get, m->n_scan, m->n_begin,
           m->n_commit, m->n_conflict, m->n_abort, m->n_txnop, m->n_create, m->n_drop, m->n_compact,
           m->n_reopen);
    su_remove_tree(m->dir);
    strata_filter_policy_destroy(bloom);
  } else {
    printf("set %-13s FAILED after %.1fs\n", m->set->name, dt);
  }
  for (int s = 0; s <= NSLOTS; s++)
    o_free(&m->sp[s].o);
  for (int i = 0; i < POOL_KEYS; i++)
    free(m->pool[i]);
  strata_buf_free(&m->getbuf);
  free(m->dir);
  free(m);
  fflush(stdout);
  return failed;
}

int main(int argc, char **argv) {
  const char *seed_arg = NULL, *only = NULL;
  long nops = 0;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc)
      seed_arg = argv[++i];
    else if (strcmp(argv[i], "--set") == 0 && i + 1 < argc)
      only = argv[++i];
    else if (strcmp(argv[i], "--ops") == 0 && i + 1 < argc)
      nops = atol(argv[++i]);
    else if (argv[i][0] != '-')
      seed_arg = argv[i];
    else {
      fprintf(stderr, "usage: txn_model_test [--seed S] [--set NAME] [--ops N-per-set]\n");
      return 2;
    }
  }
  uint64_t seed = su_pick_seed(seed_arg);
  if (nops <= 0) nops = su_scale_is_asan() ? 50000 : 150000;
  printf("txn_model_test: seed=%llu ops/set=%ld (reproduce: txn_model_test --seed %llu)\n",
         (unsigned long long)seed, nops, (unsigned long long)seed);
  fflush(stdout);
  int passed = 0, failed = 0;
  for (int i = 0; i < NSETS; i++) {
    if (only && strcmp(only, sets[i].name) != 0) continue;
    if (run_set(seed, i, nops) == 0)
      passed++;
    else
      failed++;
  }
  printf("%d passed, %d failed\n", passed, failed);
  return failed ? 1 : 0;
}
