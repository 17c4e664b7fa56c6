/*
 * model_test.c - randomized model test of the whole engine.
 *
 * A long random sequence of puts, deletes, mixed batches, gets, iterator
 * walks (forward, reverse, seeks, direction changes, long-lived iterators
 * that outlive later writes), snapshots (including post-write snapshots),
 * forced compactions and close+reopen
 * cycles is applied both to Strata and to an in-memory oracle; every read is
 * compared with the oracle as it runs. The sequence is repeated over several
 * option sets that push the engine into different regimes (many flushes,
 * tiny blocks, no compression, small tables, bloom filters, zstd, a block
 * cache smaller than one block, a user comparator ordering keys in reverse).
 *
 * The oracle is a sorted array of entries, ordered by the option set's
 * comparator (the oracle's cmp: bytewise, or reverse bytewise for the set
 * that gives Strata a user comparator); each entry keeps a short list of
 * versions so reads through snapshots and iterators can be answered "as of"
 * an older sequence number. Versions nobody can see any more are dropped as soon as the last
 * snapshot or iterator that could see them goes away, so memory stays bounded.
 * Values are never stored: a value is (vseed, length) and its bytes are
 * regenerated when compared (suite_util.h: su_fill_value).
 *
 * Usage: model_test [--seed S] [--set NAME] [--ops N] [S]
 * Seed from the argument, else env STRATA_SEED, else random (printed first).
 * Every mismatch prints seed, option set, op number and key, and the set is
 * abandoned; the last line is "N passed, M failed" over the option sets and
 * the exit status is non-zero when any set failed.
 */
#include <setjmp.h>
#include <stdarg.h>

#include "strata.h"
#include "suite_util.h"

#include "oracle.h"

/* ------------------------------------------------------------------------ */
/* Test state                                                               */
/* ------------------------------------------------------------------------ */

#define MAX_SNAPS 8
#define MAX_ITERS 3
#define POOL_KEYS 5000
#define MAX_VALUE (1u << 20)

typedef struct snap_slot {
  const strata_snapshot *s;
  uint64_t seq;
  int users; /* live iterators reading through it */
} snap_slot;

/* A Strata iterator and its mirror: the model cursor is the current key (not
 * an index, because later puts insert entries into the oracle array). */
typedef struct iter_slot {
  strata_iter *it;
  const strata_snapshot *snap; /* the snapshot it reads through, or NULL */
  uint64_t seq;
  int valid;
  unsigned char *ck;
  size_t ckl, ckcap;
} iter_slot;

/* An option set: plain option fields set by apply, plus the objects run_set
 * creates for it (they must outlive the database, so the set cannot). */
typedef struct optset {
  const char *name;
  const char *why;
  void (*apply)(strata_options *);
  int bloom_bits;     /* > 0: LevelDB's bloom filter with this many bits per key */
  size_t cache_bytes; /* > 0: a block cache of this capacity instead of the 8 MiB default */
  int reverse;        /* keys ordered by a user comparator: reverse bytewise */
  int vary_tables;    /* change compression and block layout at every reopen */
} optset;

typedef struct model {
  const optset *set;
  uint64_t seed; /* the run's seed (printed for reproduction) */
  long op;       /* current operation number */
  su_rng rng;
  char *dir;
  strata_db *db;
  strata_options opt;
  strata_read_options ro;
  strata_write_options wo, wo_sync;
  oracle o;
  unsigned char *pool[POOL_KEYS];
  size_t pool_len[POOL_KEYS];
  snap_slot snaps[MAX_SNAPS];
  int nsnaps;
  iter_slot iters[MAX_ITERS];
  unsigned char *vbuf; /* scratch for generating values */
  strata_buf getbuf;
  jmp_buf fail_jmp;
  long n_put, n_del, n_batch, n_get, n_scan, n_iterop, n_snap, n_compact, n_reopen, n_big;
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
  fprintf(stderr, "\n  reproduce: model_test --seed %llu --set %s\n  db left in %s\n",
          (unsigned long long)m->seed, m->set->name, m->dir);
  longjmp(m->fail_jmp, 1);
}

static void check_rc(model *m, int rc, const char *call, const void *key, size_t klen) {
  if (rc != STRATA_OK)
    fail_at(m, key, klen, "%s returned %d (%s): %s", call, rc, strata_strerror(rc),
            strata_errmsg());
}

/* Compares bytes returned by Strata with the oracle's version. */
static void check_value(model *m, const char *what, const void *key, size_t klen, const version *v,
                        const void *got, size_t glen) {
  if (glen != v->vlen)
    fail_at(m, key, klen, "%s: value length %zu, expected %u (written at oracle seq %llu)", what,
            glen, v->vlen, (unsigned long long)v->seq);
  su_fill_value(v->vseed, v->vlen, m->vbuf);
  if (glen > 0 && memcmp(got, m->vbuf, glen) != 0) {
    size_t d = 0;
    while (((const unsigned char *)got)[d] == m->vbuf[d])
      d++;
    fail_at(m, key, klen, "%s: value bytes differ at offset %zu of %zu", what, d, glen);
  }
}

/* A valid iterator hands out real pointers even for an empty key or value
 * (as strata_get promises for values): a NULL would make the caller's
 * memcpy(dst, p, 0) undefined behaviour. */
static void check_iter_ptrs(model *m, const void *key, size_t klen, const char *k, const char *v,
                            const char *what) {
  if (k == NULL || v == NULL)
    fail_at(m, key, klen, "%s: valid iterator returned a NULL %s pointer", what,
            k == NULL ? "key" : "value");
}

/* ------------------------------------------------------------------------ */
/* Keys and values                                                          */
/* ------------------------------------------------------------------------ */

/* Bytes that sit on comparison edges: NUL, 0x01, 0x7f/0x80, 0xfe/0xff. */
static const unsigned char edge_bytes[] = {0x00, 0x01, 'a', 'b', 'c', 0x7f, 0x80, 0xfe, 0xff};

static size_t gen_key(su_rng *r, unsigned char *out, const unsigned char *prefix_src,
                      size_t prefix_len) {
  size_t len;
  uint64_t c = su_rng_below(r, 100);
  if (c < 4)
    len = (size_t)su_rng_below(r, 4); /* 0..3, the empty key included */
  else if (c < 64)
    len = (size_t)su_rng_range(r, 4, 16);
  else if (c < 94)
    len = (size_t)su_rng_range(r, 17, 40);
  else
    len = (size_t)su_rng_range(r, 41, 100);
  size_t i = 0;
  /* Half of the keys share a prefix with an earlier key, so blocks get real
   * prefix compression and some keys are prefixes of others. */
  if (prefix_src != NULL && su_rng_below(r, 2) == 0) {
    size_t p = (size_t)su_rng_below(r, prefix_len + 1);
    if (p > len) len = p;
    memcpy(out, prefix_src, p);
    i = p;
  }
  for (; i < len; i++)
    out[i] = su_rng_below(r, 2) ? edge_bytes[su_rng_below(r, sizeof edge_bytes)]
                                : (unsigned char)su_rng_next(r);
  return len;
}

static void make_pool(model *m) {
  unsigned char buf[128];
  for (size_t i = 0; i < POOL_KEYS; i++) {
    size_t src = i ? (size_t)su_rng_below(&m->rng, i) : 0;
    size_t len = gen_key(&m->rng, buf, i ? m->pool[src] : NULL, i ? m->pool_len[src] : 0);
    m->pool[i] = malloc(len ? len : 1);
    memcpy(m->pool[i], buf, len);
    m->pool_len[i] = len;
  }
}

/* A key for a write or read: skewed towards a hot tenth of the pool so that
 * overwrites and deletes keep hitting live keys; rarely a brand-new key. */
static const unsigned char *pick_key(model *m, size_t *len, unsigned char *fresh) {
  uint64_t c = su_rng_below(&m->rng, 100);
  if (c < 3) {
    *len = gen_key(&m->rng, fresh, NULL, 0);
    return fresh;
  }
  size_t i = c < 60 ? (size_t)su_rng_below(&m->rng, POOL_KEYS / 10)
                    : (size_t)su_rng_below(&m->rng, POOL_KEYS);
  *len = m->pool_len[i];
  return m->pool[i];
}

static uint32_t pick_vlen(model *m, int allow_big) {
  uint64_t c = su_rng_below(&m->rng, 1000);
  if (allow_big && c < 1) {
    m->n_big++;
    return (uint32_t)su_rng_range(&m->rng, 100 << 10, MAX_VALUE);
  }
  if (c < 350) return (uint32_t)su_rng_below(&m->rng, 17);
  if (c < 700) return (uint32_t)su_rng_range(&m->rng, 17, 512);
  if (c < 950) return (uint32_t)su_rng_range(&m->rng, 513, 4096);
  return (uint32_t)su_rng_range(&m->rng, 4097, 10240);
}

/* ------------------------------------------------------------------------ */
/* Database lifecycle                                                       */
/* ------------------------------------------------------------------------ */

static void db_open(model *m) {
  int rc = strata_open(m->dir, &m->opt, &m->db);
  if (rc != STRATA_OK) {
    m->db = NULL;
    fail_at(m, NULL, 0, "strata_open(%s) returned %d (%s): %s", m->dir, rc, strata_strerror(rc),
            strata_errmsg());
  }
}

static void iter_drop(model *m, iter_slot *s) {
  if (s->it == NULL) return;
  strata_iter_destroy(s->it);
  s->it = NULL;
  o_unpin(&m->o, s->seq);
  for (int i = 0; i < m->nsnaps; i++)
    if (s->snap != NULL && m->snaps[i].s == s->snap) m->snaps[i].users--;
}

static void snap_release(model *m, int i) {
  strata_snapshot_release(m->db, m->snaps[i].s);
  o_unpin(&m->o, m->snaps[i].seq);
  m->snaps[i] = m->snaps[--m->nsnaps];
}

static void release_all(model *m) {
  for (int i = 0; i < MAX_ITERS; i++)
    iter_drop(m, &m->iters[i]);
  while (m->nsnaps > 0)
    snap_release(m, m->nsnaps - 1);
}

/* Full comparison of the database with the oracle's current state: a
 * forward scan, and (when `backward`) a backward scan too. */
static void verify_all(model *m, int backward, const char *when) {
  strata_iter *it;
  check_rc(m, strata_iter_create(m->db, &m->ro, &it), "strata_iter_create", NULL, 0);
  uint64_t seq = m->o.seq;
  for (int pass = 0; pass < (backward ? 2 : 1); pass++) {
    long i;
    if (pass == 0) {
      strata_iter_seek_to_first(it);
      i = (long)o_fwd(&m->o, seq, 0);
    } else {
      strata_iter_seek_to_last(it);
      i = o_back(&m->o, seq, (long)m->o.n - 1);
    }
    long steps = 0;
    for (;;) {
      int expect = pass == 0 ? i < (long)m->o.n : i >= 0;
      int got = strata_iter_valid(it);
      if (!got) {
        int st = strata_iter_status(it);
        if (st != STRATA_OK)
          fail_at(m, NULL, 0, "%s: %s scan stopped at step %ld with %d (%s): %s", when,
                  pass ? "backward" : "forward", steps, st, strata_strerror(st), strata_errmsg());
      }
      if (got != expect) {
        const entry *e = expect ? m->o.e[i] : NULL;
        size_t kl = 0;
        const char *k = got ? strata_iter_key(it, &kl) : NULL;
        su_hexbuf hb;
        fail_at(m, e ? e->key : NULL, e ? e->klen : 0,
                "%s: %s scan step %ld: iterator %s, oracle %s (Strata's key %s)", when,
                pass ? "backward" : "forward", steps, got ? "valid" : "at end",
                expect ? "has the key shown" : "at end", k ? su_hex(&hb, k, kl) : "-");
      }
      if (!got) break;
      const entry *e = m->o.e[i];
      size_t kl, vl;
      const char *k = strata_iter_key(it, &kl);
      const char *v = strata_iter_value(it, &vl);
      check_iter_ptrs(m, e->key, e->klen, k, v, when);
      if (m->o.cmp(k, kl, e->key, e->klen) != 0) {
        su_hexbuf hb;
        fail_at(m, e->key, e->klen, "%s: %s scan step %ld: Strata returned key %s instead", when,
                pass ? "backward" : "forward", steps, su_hex(&hb, k, kl));
      }
      check_value(m, when, e->key, e->klen, o_visible(e, seq), v, vl);
      steps++;
      if (pass == 0) {
        strata_iter_next(it);
        i = (long)o_fwd(&m->o, seq, (size_t)i + 1);
      } else {
        strata_iter_prev(it);
        i = o_back(&m->o, seq, i - 1);
      }
    }
  }
  strata_iter_destroy(it);
}

static void reopen(model *m) {
  release_all(m);
  strata_close(m->db);
  m->db = NULL;
  /* The grab-bag set also changes table options at every reopen, so its
   * database mixes compressed and uncompressed tables of several block
   * sizes (options are per open in LevelDB, not per database). */
  if (m->set->vary_tables) {
    m->opt.compression =
        su_rng_below(&m->rng, 2) ? STRATA_COMPRESSION_SNAPPY : STRATA_COMPRESSION_NONE;
    m->opt.block_size = (size_t)256 << su_rng_below(&m->rng, 6);
    m->opt.block_restart_interval = 1 + (int)su_rng_below(&m->rng, 32);
  }
  db_open(m);
  m->n_reopen++;
  verify_all(m, su_rng_below(&m->rng, 2), "after reopen");
}

/* ------------------------------------------------------------------------ */
/* Operations                                                               */
/* ------------------------------------------------------------------------ */

static void op_put(model *m) {
  unsigned char fresh[128];
  size_t kl;
  const unsigned char *k = pick_key(m, &kl, fresh);
  uint32_t vlen = pick_vlen(m, 1);
  uint64_t vseed = su_rng_next(&m->rng);
  su_fill_value(vseed, vlen, m->vbuf);
  int sync = su_rng_pm(&m->rng, 5);
  strata_write_options wo = sync ? m->wo_sync : m->wo;
  /* Now and then ask for a post-write snapshot: it must see this put and
   * everything before it, nothing after. */
  const strata_snapshot *pws = NULL;
  int want_snap = m->nsnaps < MAX_SNAPS && su_rng_pm(&m->rng, 20);
  if (want_snap) wo.post_write_snapshot = &pws;
  check_rc(m, strata_put(m->db, &wo, k, kl, m->vbuf, vlen), "strata_put", k, kl);
  o_put(&m->o, k, kl, vseed, vlen);
  if (want_snap) {
    if (pws == NULL) fail_at(m, k, kl, "strata_put did not return the post-write snapshot");
    m->snaps[m->nsnaps].s = pws;
    m->snaps[m->nsnaps].seq = m->o.seq;
    m->snaps[m->nsnaps].users = 0;
    m->nsnaps++;
    o_pin(&m->o, m->o.seq);
  }
  m->n_put++;
}

static void op_delete(model *m) {
  unsigned char fresh[128];
  size_t kl;
  const unsigned char *k = pick_key(m, &kl, fresh);
  check_rc(m, strata_delete(m->db, &m->wo, k, kl), "strata_delete", k, kl);
  o_del(&m->o, k, kl);
  m->n_del++;
}

/* A batch of 1..40 puts and deletes, sometimes touching one key repeatedly
 * (the last op on a key must win), sometimes built as two batches appended,
 * sometimes empty-then-reused after strata_batch_clear. */
static void op_batch(model *m) {
  struct bop {
    unsigned char key[128];
    size_t klen;
    uint64_t vseed;
    uint32_t vlen;
    int del;
  } * ops;
  /* One batch in a thousand is huge (100..400 ops of 4..12 KiB, up to
   * ~5 MB): larger than the small write buffers, one log record spanning
   * many log blocks. */
  int huge = su_rng_below(&m->rng, 1000) == 0;
  int n = huge ? (int)su_rng_range(&m->rng, 100, 400) : (int)su_rng_range(&m->rng, 1, 40);
  ops = malloc((size_t)n * sizeof *ops);
  strata_batch *b, *b2;
  check_rc(m, strata_batch_create(&b), "strata_batch_create", NULL, 0);
  check_rc(m, strata_batch_create(&b2), "strata_batch_create", NULL, 0);
  if (su_rng_below(&m->rng, 8) == 0) { /* clear must leave an empty, reusable batch */
    check_rc(m, strata_batch_put(b, "junk", 4, "x", 1), "strata_batch_put", "junk", 4);
    strata_batch_clear(b);
    if (strata_batch_count(b) != 0)
      fail_at(m, NULL, 0, "strata_batch_count after clear = %u", strata_batch_count(b));
  }
  int split = su_rng_below(&m->rng, 6) == 0 ? (int)su_rng_below(&m->rng, (uint64_t)n + 1) : n;
  for (int i = 0; i < n; i++) {
    struct bop *p = &ops[i];
    unsigned char fresh[128];
    if (i > 0 && su_rng_below(&m->rng, 6) == 0) { /* repeat an earlier key of the batch */
      const struct bop *q = &ops[su_rng_below(&m->rng, (uint64_t)i)];
      p->klen = q->klen;
      memcpy(p->key, q->key, q->klen);
    } else {
      const unsigned char *k = pick_key(m, &p->klen, fresh);
      memcpy(p->key, k, p->klen);
    }
    p->del = su_rng_below(&m->rng, 4) == 0;
    strata_batch *dst = i < split ? b : b2;
    if (p->del) {
      check_rc(m, strata_batch_delete(dst, p->key, p->klen), "strata_batch_delete", p->key,
               p->klen);
    } else {
      p->vlen = huge ? (uint32_t)su_rng_range(&m->rng, 4096, 12288) : pick_vlen(m, 0);
      p->vseed = su_rng_next(&m->rng);
      su_fill_value(p->vseed, p->vlen, m->vbuf);
      check_rc(m, strata_batch_put(dst, p->key, p->klen, m->vbuf, p->vlen), "strata_batch_put",
               p->key, p->klen);
    }
  }
  if (split < n) check_rc(m, strata_batch_append(b, b2), "strata_batch_append", NULL, 0);
  /* Appending a batch to itself repeats its ops; the state after "S then
   * S" equals the state after S, but the count doubles. */
  int self = su_rng_below(&m->rng, 20) == 0;
  if (self) check_rc(m, strata_batch_append(b, b), "strata_batch_append(b, b)", NULL, 0);
  if (strata_batch_count(b) != (uint32_t)(self ? 2 * n : n))
    fail_at(m, NULL, 0, "strata_batch_count = %u, expected %d", strata_batch_count(b),
            self ? 2 * n : n);
  int sync = su_rng_pm(&m->rng, 5);
  check_rc(m, strata_write(m->db, sync ? &m->wo_sync : &m->wo, b), "strata_write", NULL, 0);
  for (int i = 0; i < n; i++) {
    if (ops[i].del)
      o_del(&m->o, ops[i].key, ops[i].klen);
    else
      o_put(&m->o, ops[i].key, ops[i].klen, ops[i].vseed, ops[i].vlen);
  }
  strata_batch_destroy(b);
  strata_batch_destroy(b2);
  free(ops);
  m->n_batch++;
}

static void op_get(model *m) {
  unsigned char fresh[128];
  size_t kl;
  const unsigned char *k = pick_key(m, &kl, fresh);
  strata_read_options ro = m->ro;
  uint64_t seq = m->o.seq;
  if (m->nsnaps > 0 && su_rng_below(&m->rng, 4) == 0) {
    int i = (int)su_rng_below(&m->rng, (uint64_t)m->nsnaps);
    ro.snapshot = m->snaps[i].s;
    seq = m->snaps[i].seq;
  }
  ro.verify_checksums = su_rng_below(&m->rng, 2);
  ro.fill_cache = su_rng_below(&m->rng, 4) != 0;
  const entry *e = o_find(&m->o, k, kl);
  const version *v = e ? o_visible(e, seq) : NULL;
  size_t before = m->getbuf.size;
  int rc = strata_get(m->db, &ro, k, kl, &m->getbuf);
  if (v == NULL) {
    if (rc != STRATA_ENOTFOUND)
      fail_at(m, k, kl, "strata_get%s returned %d (%s), expected STRATA_ENOTFOUND %s",
              ro.snapshot ? " (snapshot)" : "", rc, strata_strerror(rc),
              rc == STRATA_OK ? "(the key is absent in the oracle)" : strata_errmsg());
    if (m->getbuf.size != before)
      fail_at(m, k, kl, "strata_get returned ENOTFOUND but changed val->size %zu -> %zu", before,
              m->getbuf.size);
  } else {
    if (rc != STRATA_OK)
      fail_at(m, k, kl, "strata_get%s returned %d (%s), expected the value written at seq %llu: %s",
              ro.snapshot ? " (snapshot)" : "", rc, strata_strerror(rc), (unsigned long long)v->seq,
              strata_errmsg());
    if (m->getbuf.data == NULL)
      fail_at(m, k, kl, "strata_get succeeded but left val->data NULL (value of %u bytes)",
              v->vlen);
    check_value(m, ro.snapshot ? "strata_get (snapshot)" : "strata_get", k, kl, v, m->getbuf.data,
                m->getbuf.size);
  }
  m->n_get++;
}

/* Iterator positioning, mirrored on the model cursor and checked. */
enum { IT_FIRST, IT_LAST, IT_SEEK, IT_NEXT, IT_PREV };
static const char *const it_names[] = {"seek_to_first", "seek_to_last", "seek", "next", "prev"};

static void cursor_set(iter_slot *s, const oracle *o, long idx) {
  s->valid = idx >= 0 && idx < (long)o->n;
  if (!s->valid) return;
  const entry *e = o->e[idx];
  if (e->klen > s->ckcap) {
    s->ckcap = e->klen * 2;
    s->ck = realloc(s->ck, s->ckcap);
  }
  if (e->klen) memcpy(s->ck, e->key, e->klen);
  s->ckl = e->klen;
}

static void iter_call(model *m, iter_slot *s, int what, const void *arg, size_t alen) {
  const oracle *o = &m->o;
  long idx;
  switch (what) {
  case IT_FIRST:
    strata_iter_seek_to_first(s->it);
    idx = (long)o_fwd(o, s->seq, 0);
    break;
  case IT_LAST:
    strata_iter_seek_to_last(s->it);
    idx = o_back(o, s->seq, (long)o->n - 1);
    break;
  case IT_SEEK:
    strata_iter_seek(s->it, arg, alen);
    idx = (long)o_fwd(o, s->seq, o_lower(o, arg, alen));
    break;
  case IT_NEXT:
    strata_iter_next(s->it);
    idx = (long)o_fwd(o, s->seq, o_lower(o, s->ck, s->ckl) + 1);
    break;
  default:
    strata_iter_prev(s->it);
    idx = o_back(o, s->seq, (long)o_lower(o, s->ck, s->ckl) - 1);
    break;
  }
  su_hexbuf hb1, hb2;
  const char *ctx = what == IT_SEEK ? su_hex(&hb1, arg, alen) : "";
  /* the key before the move, for the message */
  char before[160];
  snprintf(before, sizeof before, "%s", s->valid ? su_hex(&hb2, s->ck, s->ckl) : "(invalid)");
  cursor_set(s, o, idx);
  int got = strata_iter_valid(s->it);
  if (!got) {
    int st = strata_iter_status(s->it);
    if (st != STRATA_OK)
      fail_at(m, NULL, 0, "iterator %s%s (from %s) stopped with %d (%s): %s", it_names[what], ctx,
              before, st, strata_strerror(st), strata_errmsg());
  }
  if (got != s->valid)
    fail_at(m, s->valid ? s->ck : NULL, s->valid ? s->ckl : 0,
            "iterator%s %s%s (from %s): Strata %s, oracle %s", s->snap ? " (snapshot)" : "",
            it_names[what], ctx, before, got ? "valid" : "invalid",
            s->valid ? "expects the key shown" : "expects the end");
  if (!got) return;
  size_t kl, vl;
  const char *k = strata_iter_key(s->it, &kl);
  const char *v = strata_iter_value(s->it, &vl);
  check_iter_ptrs(m, s->ck, s->ckl, k, v, it_names[what]);
  if (m->o.cmp(k, kl, s->ck, s->ckl) != 0)
    fail_at(m, s->ck, s->ckl,
            "iterator%s %s%s (from %s): Strata at key %s, oracle at the key shown",
            s->snap ? " (snapshot)" : "", it_names[what], ctx, before, su_hex(&hb1, k, kl));
  const version *ver = o_visible(o_find(o, s->ck, s->ckl), s->seq);
  check_value(m, "iterator value", s->ck, s->ckl, ver, v, vl);
}

static void iter_open(model *m, iter_slot *s) {
  strata_read_options ro = m->ro;
  s->snap = NULL;
  s->seq = m->o.seq;
  if (m->nsnaps > 0 && su_rng_below(&m->rng, 3) == 0) {
    int i = (int)su_rng_below(&m->rng, (uint64_t)m->nsnaps);
    s->snap = ro.snapshot = m->snaps[i].s;
    s->seq = m->snaps[i].seq;
    m->snaps[i].users++;
  }
  ro.verify_checksums = su_rng_below(&m->rng, 2);
  ro.fill_cache = su_rng_below(&m->rng, 4) != 0;
  int rc = strata_iter_create(m->db, &ro, &s->it);
  o_pin(&m->o, s->seq);
  if (rc != STRATA_OK) {
    s->it = NULL;
    check_rc(m, rc, "strata_iter_create", NULL, 0);
  }
  s->valid = 0;
}

static void random_seek_target(model *m, unsigned char *buf, size_t *len) {
  size_t kl;
  const unsigned char *k = pick_key(m, &kl, buf);
  if (k != buf) memcpy(buf, k, kl);
  /* Sometimes perturb the key so the target falls between stored keys. */
  uint64_t c = su_rng_below(&m->rng, 4);
  if (c == 0 && kl < 127) buf[kl++] = (unsigned char)su_rng_next(&m->rng);
  if (c == 1 && kl > 0) kl--;
  if (c == 2 && kl > 0) buf[kl - 1] ^= (unsigned char)(1 + su_rng_below(&m->rng, 255));
  *len = kl;
}

/* A scan of a random range, forward or backward, with a fresh iterator. */
static void op_scan(model *m) {
  iter_slot s = {0};
  iter_open(m, &s);
  unsigned char a[130], b[130];
  size_t al, bl;
  random_seek_target(m, a, &al);
  random_seek_target(m, b, &bl);
  if (m->o.cmp(a, al, b, bl) > 0) {
    unsigned char t[130];
    size_t tl = al;
    memcpy(t, a, al);
    memcpy(a, b, bl);
    al = bl;
    memcpy(b, t, tl);
    bl = tl;
  }
  int whole = su_rng_below(&m->rng, 10) == 0;
  long limit = (long)su_rng_range(&m->rng, 1, 300);
  if (su_rng_below(&m->rng, 2) == 0) { /* forward over [a, b) */
    if (whole)
      iter_call(m, &s, IT_FIRST, NULL, 0);
    else
      iter_call(m, &s, IT_SEEK, a, al);
    for (long i = 0; i < limit && s.valid && m->o.cmp(s.ck, s.ckl, b, bl) < 0; i++)
      iter_call(m, &s, IT_NEXT, NULL, 0);
  } else { /* backward over [a, b): seek(b), then step back below it */
    if (whole) {
      iter_call(m, &s, IT_LAST, NULL, 0);
    } else {
      iter_call(m, &s, IT_SEEK, b, bl);
      if (s.valid)
        iter_call(m, &s, IT_PREV, NULL, 0);
      else
        iter_call(m, &s, IT_LAST, NULL, 0);
    }
    for (long i = 0; i < limit && s.valid && m->o.cmp(s.ck, s.ckl, a, al) >= 0; i++)
      iter_call(m, &s, IT_PREV, NULL, 0);
  }
  iter_drop(m, &s);
  free(s.ck);
  m->n_scan++;
}

/* One step of a long-lived iterator: it survives later writes, snapshots
 * and compactions, and must keep showing the state it was created on. */
static void op_iter(model *m) {
  iter_slot *s = &m->iters[su_rng_below(&m->rng, MAX_ITERS)];
  if (s->it == NULL) {
    iter_open(m, s);
    iter_call(m, s, IT_FIRST + (int)su_rng_below(&m->rng, 2), NULL, 0);
    m->n_iterop++;
    return;
  }
  uint64_t c = su_rng_below(&m->rng, 100);
  if (c < 8) {
    iter_drop(m, s);
  } else if (c < 20 || !s->valid) {
    unsigned char t[130];
    size_t tl;
    uint64_t d = su_rng_below(&m->rng, 6);
    random_seek_target(m, t, &tl);
    iter_call(m, s, d == 0 ? IT_FIRST : d == 1 ? IT_LAST : IT_SEEK, t, tl);
  } else {
    int dir = c < 62 ? IT_NEXT : IT_PREV;
    long steps = (long)su_rng_range(&m->rng, 1, 25);
    for (long i = 0; i < steps && s->valid; i++)
      iter_call(m, s, dir, NULL, 0);
  }
  m->n_iterop++;
}

static void op_snapshot(model *m) {
  if (m->nsnaps < MAX_SNAPS && (m->nsnaps == 0 || su_rng_below(&m->rng, 2) == 0)) {
    const strata_snapshot *s = strata_snapshot_get(m->db);
    if (s == NULL) fail_at(m, NULL, 0, "strata_snapshot_get returned NULL");
    m->snaps[m->nsnaps].s = s;
    m->snaps[m->nsnaps].seq = m->o.seq;
    m->snaps[m->nsnaps].users = 0;
    m->nsnaps++;
    o_pin(&m->o, m->o.seq);
  } else if (m->nsnaps > 0) {
    int i = (int)su_rng_below(&m->rng, (uint64_t)m->nsnaps);
    if (m->snaps[i].users == 0) snap_release(m, i);
  }
  m->n_snap++;
}

static void op_compact(model *m, int all) {
  if (all) {
    check_rc(m, strata_compact_range(m->db, NULL, 0, NULL, 0), "strata_compact_range(all)", NULL,
             0);
  } else {
    unsigned char a[130], b[130];
    size_t al, bl;
    random_seek_target(m, a, &al);
    random_seek_target(m, b, &bl);
    if (m->o.cmp(a, al, b, bl) > 0) {
      check_rc(m, strata_compact_range(m->db, b, bl, a, al), "strata_compact_range", b, bl);
    } else {
      int open_lo = su_rng_below(&m->rng, 5) == 0, open_hi = su_rng_below(&m->rng, 5) == 0;
      check_rc(m,
               strata_compact_range(m->db, open_lo ? NULL : a, open_lo ? 0 : al, open_hi ? NULL : b,
                                    open_hi ? 0 : bl),
               "strata_compact_range", a, al);
    }
  }
  m->n_compact++;
}

/* ------------------------------------------------------------------------ */
/* Option sets                                                              */
/* ------------------------------------------------------------------------ */

/* The reverse-cmp set's comparator, and its key shorteners. In reverse
 * order "a <= k < b" means "b < k <= a" bytewise, so both shorteners may
 * only cut a key to one of its own prefixes (a prefix is bytewise smaller,
 * i.e. later in reverse order). */
static int reverse_compare(void *state, const char *a, size_t al, const char *b, size_t bl) {
  (void)state;
  return reverse_cmp(a, al, b, bl);
}

/* start precedes limit in reverse order, so start is bytewise greater:
 * its prefix one byte past the common prefix with limit is still bytewise
 * greater than limit, and no greater than start. */
static void reverse_separator(void *state, strata_buf *start, const char *limit, size_t llen) {
  (void)state;
  size_t n = start->size < llen ? start->size : llen, d = 0;
  while (d < n && start->data[d] == limit[d])
    d++;
  if (d + 1 < start->size) start->size = d + 1;
}

/* Any prefix of key is bytewise no greater, so in reverse order no smaller:
 * the one-byte prefix is a valid short successor. */
static void reverse_successor(void *state, strata_buf *key) {
  (void)state;
  if (key->size > 1) key->size = 1;
}

static void set_defaults(strata_options *o) { (void)o; }
static void set_small_buffer(strata_options *o) { o->write_buffer_size = 64 << 10; }
static void set_tiny_blocks(strata_options *o) {
  o->block_size = 256;
  o->block_restart_interval = 2;
  o->write_buffer_size = 256 << 10;
}
static void set_no_compression(strata_options *o) {
  o->compression = STRATA_COMPRESSION_NONE;
  o->write_buffer_size = 512 << 10;
}
static void set_small_files(strata_options *o) {
  o->max_file_size = 64 << 10;
  o->write_buffer_size = 128 << 10;
}

/* Filters, a block cache small enough to evict constantly, log reuse at
 * open and paranoid checks; run_set creates the filter and the cache. */
static void set_bloom_cache(strata_options *o) {
  o->write_buffer_size = 256 << 10;
  o->reuse_logs = 1;
  o->paranoid_checks = 1;
}

/* The bloom filter alone, with many tables: gets of absent and deleted keys
 * are answered through the filters of tables at every level, and every get
 * of a live key passes filters that must not say "no". */
static void set_bloom(strata_options *o) { o->write_buffer_size = 128 << 10; }

/* zstd (LevelDB's reserved type 2) at a level above the default, with
 * enough flushes that most data is read back from compressed blocks. */
static void set_zstd(strata_options *o) {
  o->compression = STRATA_COMPRESSION_ZSTD;
  o->zstd_level = 3;
  o->write_buffer_size = 128 << 10;
}

/* A 4 KiB block cache: 16 shards of 256 bytes, each smaller than any
 * block, so a block stays cached only while a reader holds it or until the
 * next insert into its shard; lookups still hit blocks that long-lived
 * iterators hold, and those must stay valid through every eviction. */
static void set_tiny_cache(strata_options *o) { o->write_buffer_size = 256 << 10; }

/* A user comparator: small blocks so that many index keys go through its
 * separator and successor functions. */
static void set_reverse_cmp(strata_options *o) {
  o->write_buffer_size = 128 << 10;
  o->block_size = 1024;
}

/* The appended sets keep the earlier ones at their index, so a seed
 * reproduces the same op sequence for a set as before they were added. */
static const optset sets[] = {
    {"defaults", "LevelDB defaults (4 MiB write buffer)", set_defaults, 0, 0, 0, 0},
    {"small-buffer", "64 KiB write buffer: many flushes and compactions", set_small_buffer, 0, 0, 0,
     0},
    {"tiny-blocks", "block_size 256, restart interval 2", set_tiny_blocks, 0, 0, 0, 0},
    {"no-compression", "compression none", set_no_compression, 0, 0, 0, 0},
    {"small-files", "max_file_size 64 KiB: many tables per level", set_small_files, 0, 0, 0, 0},
    {"bloom-cache",
     "bloom filter, 32 KiB block cache, reuse_logs, paranoid_checks, table options varied at "
     "each reopen",
     set_bloom_cache, 10, 32 << 10, 0, 1},
    {"bloom", "bloom filter (10 bits per key), 128 KiB write buffer", set_bloom, 10, 0, 0, 0},
    {"zstd", "zstd compression at level 3, 128 KiB write buffer", set_zstd, 0, 0, 0, 0},
    {"tiny-cache", "4 KiB block cache: constant eviction", set_tiny_cache, 0, 4 << 10, 0, 0},
    {"reverse-cmp", "user comparator ordering keys in reverse bytewise order, block_size 1 KiB",
     set_reverse_cmp, 0, 0, 1, 0},
};
#define NSETS ((int)(sizeof sets / sizeof sets[0]))

/* Runs one option set; returns 0 when it passed. */
static int run_set(uint64_t seed, int set_index, long nops) {
  model *m = calloc(1, sizeof *m);
  m->set = &sets[set_index];
  m->seed = seed;
  m->op = -1;
  su_rng_seed(&m->rng, su_derive(seed, (uint64_t)set_index));
  m->dir = su_make_temp_dir("strata-model");
  m->vbuf = malloc(MAX_VALUE);
  strata_options_init(&m->opt);
  m->opt.create_if_missing = 1;
  m->set->apply(&m->opt);
  m->o.cmp = m->set->reverse ? reverse_cmp : bytewise_cmp;
  strata_filter_policy *bloom = NULL;
  strata_cache *cache = NULL;
  strata_comparator *cmp = NULL;
  if ((m->set->bloom_bits > 0 &&
       strata_filter_policy_create_bloom(m->set->bloom_bits, &bloom) != STRATA_OK) ||
      (m->set->cache_bytes > 0 &&
       strata_cache_create_lru(m->set->cache_bytes, &cache) != STRATA_OK) ||
      (m->set->reverse && strata_comparator_create("strata.test.ReverseBytewise", NULL,
                                                   reverse_compare, NULL, &cmp) != STRATA_OK)) {
    fprintf(stderr, "cannot create the option set's objects: %s\n", strata_errmsg());
    exit(2);
  }
  if (cmp != NULL) strata_comparator_set_shorteners(cmp, reverse_separator, reverse_successor);
  m->opt.filter_policy = bloom;
  m->opt.block_cache = cache;
  m->opt.comparator = cmp;
  strata_read_options_init(&m->ro);
  strata_write_options_init(&m->wo);
  strata_write_options_init(&m->wo_sync);
  m->wo_sync.sync = 1;
  make_pool(m);

  double t0 = su_now();
  int failed = setjmp(m->fail_jmp);
  if (!failed) {
    db_open(m);
    long next_reopen = (long)su_rng_range(&m->rng, nops / 10, nops / 4);
    for (m->op = 0; m->op < nops; m->op++) {
      if (m->op == next_reopen) {
        reopen(m);
        next_reopen = m->op + (long)su_rng_range(&m->rng, nops / 10, nops / 4);
        continue;
      }
      if (m->op == nops / 2) { /* one guaranteed full compaction per set */
        op_compact(m, 1);
        continue;
      }
      uint64_t c = su_rng_below(&m->rng, 10000);
      if (c < 3000)
        op_put(m);
      else if (c < 4000)
        op_delete(m);
      else if (c < 4800)
        op_batch(m);
      else if (c < 7600)
        op_get(m);
      else if (c < 8300)
        op_scan(m);
      else if (c < 9600)
        op_iter(m);
      else if (c < 9993)
        op_snapshot(m);
      else if (c < 9999)
        op_compact(m, 0);
      else
        op_compact(m, 1);
    }
    /* Final state: full check, then once more after a clean reopen. */
    verify_all(m, 1, "at the end");
    reopen(m);
    verify_all(m, 1, "at the end after reopen");
  }
  double dt = su_now() - t0;
  if (!failed) {
    release_all(m);
    strata_close(m->db);
    printf("set %-15s ok: %ld ops in %.1fs (%ld puts, %ld deletes, %ld batches, %ld gets, "
           "%ld scans, %ld iterator ops, %ld snapshot ops, %ld compactions, %ld reopens, "
           "%ld values >= 100 KiB; %zu keys in the oracle)\n",
           m->set->name, nops, dt, m->n_put, m->n_del, m->n_batch, m->n_get, m->n_scan, m->n_iterop,
           m->n_snap, m->n_compact, m->n_reopen, m->n_big, m->o.n);
    su_remove_tree(m->dir);
    /* Only after the database is closed: they must outlive it. */
    strata_filter_policy_destroy(bloom);
    strata_cache_destroy(cache);
    strata_comparator_destroy(cmp);
  } else {
    /* The handle is left open on purpose: after a mismatch the engine state
     * is suspect, and the directory is kept for inspection. */
    printf("set %-15s FAILED after %.1fs (%s)\n", m->set->name, dt, m->set->why);
  }
  for (int i = 0; i < MAX_ITERS; i++)
    free(m->iters[i].ck);
  for (size_t i = 0; i < POOL_KEYS; i++)
    free(m->pool[i]);
  o_free(&m->o);
  strata_buf_free(&m->getbuf);
  free(m->vbuf);
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
      fprintf(stderr, "usage: model_test [--seed S] [--set NAME] [--ops N-per-set] [S]\n");
      return 2;
    }
  }
  uint64_t seed = su_pick_seed(seed_arg);
  /* The minimum is 200k operations per run, all option sets counted
   * together. With ten sets, a normal build runs 150k per set when scratch
   * space is tmpfs (1.5M in all, about 60 s on an idle 2-core machine, up to
   * twice that under load), 40k on a disk (where the engine's table fsyncs dominate);
   * sanitizer builds, several times slower, a fifth of the tmpfs count:
   * 30k per set, 300k in all. */
  if (nops <= 0)
    nops = su_scale_is_asan() ? 30000 : strcmp(su_scratch_base(), "/dev/shm") == 0 ? 150000 : 40000;
  printf("model_test: seed=%llu ops/set=%ld (reproduce: model_test --seed %llu)\n",
         (unsigned long long)seed, nops, (unsigned long long)seed);
  fflush(stdout);
  int passed = 0, failed = 0;
  for (int i = 0; i < NSETS; i++) {
    if (only != NULL && strcmp(only, sets[i].name) != 0) continue;
    if (run_set(seed, i, nops) == 0)
      passed++;
    else
      failed++;
  }
  if (passed + failed == 0) {
    fprintf(stderr, "model_test: no option set named %s\n", only);
    return 2;
  }
  printf("%d passed, %d failed\n", passed, failed);
  return failed ? 1 : 0;
}
