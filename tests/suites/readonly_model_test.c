/*
 * readonly_model_test.c - a read-only handle that catches up, against an
 * in-memory oracle.
 *
 * One process, two handles on one database directory: a writer applies a
 * random sequence of puts, deletes and batches (with small write buffers and
 * tables, so logs roll, memtables flush and compactions run in its
 * background thread), forced range compactions and close+reopen cycles (a
 * new MANIFEST each time); the oracle applies the same ops. At random
 * points the read-only handle catches up -- while the writer's background
 * thread may still be flushing, compacting and deleting files -- and must
 * then equal the oracle exactly: random gets, full scans forward and
 * backward, seeks. Views (a snapshot and an iterator taken after a
 * catch-up) are checked later, after more writes, compactions and
 * catch-ups, against a digest of the oracle at the time they were taken.
 * The read-only handle is sometimes closed and opened anew.
 *
 * Usage: readonly_model_test [--seed S] [--ops N]
 * Seed from the argument, else env STRATA_SEED, else random (printed
 * first). A mismatch prints the seed, the op number and the key, keeps the
 * database directory and exits 1.
 */
#include <stdarg.h>

#include "strata.h"
#include "suite_util.h"

#define NKEYS 1500
#define MAX_VIEWS 3

typedef struct slot {
  uint8_t present;
  uint64_t vseed;
  uint32_t vlen;
} slot;

typedef struct view {
  const strata_snapshot *snap;
  strata_iter *it;
  uint64_t digest;
  size_t count;
  long taken_at;
} view;

typedef struct model {
  uint64_t seed;
  su_rng rng;
  char *dir;
  strata_options wopt, ropt;
  strata_filter_policy *bloom;
  strata_db *w, *ro;
  slot oracle[NKEYS];
  view views[MAX_VIEWS];
  int nviews;
  long op;
  unsigned char *vbuf; /* value scratch, MAX_VLEN */
  long catchups, full_checks, view_checks, reopens, ro_reopens;
} model;

#define MAX_VLEN 40000

static void fail(model *m, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "readonly_model_test: FAIL seed %llu op %ld: ", (unsigned long long)m->seed,
          m->op);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fprintf(stderr, "\n  (last Strata message: %s)\n  database kept in %s\n", strata_errmsg(),
          m->dir);
  exit(1);
}

/* Key i: six digits, then 0..10 bytes derived from i (NUL and 0xff
 * included), so key order is index order. */
static size_t key_of(uint32_t i, unsigned char *out) {
  size_t n = (size_t)snprintf((char *)out, 8, "%06u", i);
  size_t extra = i % 11;
  uint64_t h = su_mix64(i + 1);
  for (size_t j = 0; j < extra; j++, h = su_mix64(h))
    out[n++] = (unsigned char)h;
  return n;
}

static uint32_t pick_vlen(model *m) {
  uint64_t c = su_rng_below(&m->rng, 100);
  if (c < 70) return (uint32_t)su_rng_below(&m->rng, 101);
  if (c < 95) return (uint32_t)su_rng_range(&m->rng, 100, 1000);
  return (uint32_t)su_rng_range(&m->rng, 4000, MAX_VLEN); /* crosses log blocks */
}

static void check_rc(model *m, int rc, const char *what) {
  if (rc) fail(m, "%s: error %d", what, rc);
}

/* ------------------------------------------------------------------------ */
/* Writer side                                                              */
/* ------------------------------------------------------------------------ */

static void open_writer(model *m) {
  check_rc(m, strata_open(m->dir, &m->wopt, &m->w), "writer open");
}

static void open_ro(model *m) {
  check_rc(m, strata_open(m->dir, &m->ropt, &m->ro), "read-only open");
}

static void op_put(model *m) {
  uint32_t k = (uint32_t)su_rng_below(&m->rng, NKEYS);
  unsigned char key[32];
  size_t kl = key_of(k, key);
  uint64_t vseed = su_rng_next(&m->rng);
  uint32_t vlen = pick_vlen(m);
  su_fill_value(vseed, vlen, m->vbuf);
  check_rc(m, strata_put(m->w, NULL, key, kl, m->vbuf, vlen), "put");
  m->oracle[k] = (slot){1, vseed, vlen};
}

static void op_delete(model *m) {
  uint32_t k = (uint32_t)su_rng_below(&m->rng, NKEYS);
  unsigned char key[32];
  size_t kl = key_of(k, key);
  check_rc(m, strata_delete(m->w, NULL, key, kl), "delete");
  m->oracle[k].present = 0;
}

static void op_batch(model *m) {
  strata_batch *b = NULL;
  check_rc(m, strata_batch_create(&b), "batch");
  int n = (int)su_rng_range(&m->rng, 2, 30);
  slot after[30];
  uint32_t keys[30];
  for (int i = 0; i < n; i++) {
    uint32_t k = (uint32_t)su_rng_below(&m->rng, NKEYS);
    unsigned char key[32];
    size_t kl = key_of(k, key);
    keys[i] = k;
    if (su_rng_pm(&m->rng, 250)) {
      check_rc(m, strata_batch_delete(b, key, kl), "batch delete");
      after[i].present = 0;
    } else {
      uint64_t vseed = su_rng_next(&m->rng);
      uint32_t vlen = (uint32_t)su_rng_below(&m->rng, 300);
      su_fill_value(vseed, vlen, m->vbuf);
      check_rc(m, strata_batch_put(b, key, kl, m->vbuf, vlen), "batch put");
      after[i] = (slot){1, vseed, vlen};
    }
  }
  check_rc(m, strata_write(m->w, NULL, b), "write");
  strata_batch_destroy(b);
  for (int i = 0; i < n; i++) /* in order: a later op of a key wins */
    m->oracle[keys[i]] = after[i];
}

static void op_compact(model *m) {
  if (su_rng_pm(&m->rng, 300)) {
    check_rc(m, strata_compact_range(m->w, NULL, 0, NULL, 0), "compact all");
    return;
  }
  unsigned char a[32], b[32];
  uint32_t x = (uint32_t)su_rng_below(&m->rng, NKEYS), y = (uint32_t)su_rng_below(&m->rng, NKEYS);
  if (x > y) {
    uint32_t t = x;
    x = y;
    y = t;
  }
  size_t al = key_of(x, a), bl = key_of(y, b);
  check_rc(m, strata_compact_range(m->w, a, al, b, bl), "compact range");
}

static void op_writer_reopen(model *m) {
  strata_close(m->w);
  open_writer(m);
  m->reopens++;
}

/* ------------------------------------------------------------------------ */
/* Read-only side                                                           */
/* ------------------------------------------------------------------------ */

static uint64_t hash_entry(uint64_t h, const void *k, size_t kl, const void *v, size_t vl) {
  h = su_hash64(k, kl, h);
  return su_hash64(v, vl, h ^ 0x5bd1e995);
}

static uint64_t oracle_digest(model *m, size_t *count) {
  uint64_t h = 1;
  *count = 0;
  for (uint32_t i = 0; i < NKEYS; i++) {
    if (!m->oracle[i].present) continue;
    unsigned char key[32];
    size_t kl = key_of(i, key);
    su_fill_value(m->oracle[i].vseed, m->oracle[i].vlen, m->vbuf);
    h = hash_entry(h, key, kl, m->vbuf, m->oracle[i].vlen);
    (*count)++;
  }
  return h;
}

static uint64_t iter_digest(model *m, strata_iter *it, size_t *count) {
  uint64_t h = 1;
  *count = 0;
  for (strata_iter_seek_to_first(it); strata_iter_valid(it); strata_iter_next(it)) {
    size_t kl, vl;
    const char *k = strata_iter_key(it, &kl), *v = strata_iter_value(it, &vl);
    h = hash_entry(h, k, kl, v, vl);
    (*count)++;
  }
  check_rc(m, strata_iter_status(it), "iterator status");
  return h;
}

static void catch_up(model *m) {
  check_rc(m, strata_catch_up(m->ro), "catch-up");
  m->catchups++;
}

static void check_get(model *m, uint32_t k, strata_buf *buf) {
  unsigned char key[32];
  size_t kl = key_of(k, key);
  int rc = strata_get(m->ro, NULL, key, kl, buf);
  const slot *s = &m->oracle[k];
  if (!s->present) {
    if (rc != STRATA_ENOTFOUND) fail(m, "get key %u: expected absent, got rc %d", k, rc);
    return;
  }
  if (rc) fail(m, "get key %u: rc %d, expected a value of %u bytes", k, rc, s->vlen);
  su_fill_value(s->vseed, s->vlen, m->vbuf);
  if (buf->size != s->vlen || memcmp(buf->data, m->vbuf, s->vlen))
    fail(m, "get key %u: %zu bytes, expected %u (or different bytes)", k, buf->size, s->vlen);
}

static void check_gets(model *m) {
  strata_buf buf = STRATA_BUF_INIT;
  for (int i = 0; i < 60; i++)
    check_get(m, (uint32_t)su_rng_below(&m->rng, NKEYS), &buf);
  strata_buf_free(&buf);
}

/* Entry of the iterator against oracle key k. */
static void check_entry(model *m, strata_iter *it, uint32_t k, const char *how) {
  unsigned char key[32];
  size_t kl = key_of(k, key), gkl, gvl;
  if (!strata_iter_valid(it)) fail(m, "%s: ended before key %u", how, k);
  const char *gk = strata_iter_key(it, &gkl), *gv = strata_iter_value(it, &gvl);
  if (gkl != kl || memcmp(gk, key, kl)) fail(m, "%s: expected key %u, got another key", how, k);
  su_fill_value(m->oracle[k].vseed, m->oracle[k].vlen, m->vbuf);
  if (gvl != m->oracle[k].vlen || memcmp(gv, m->vbuf, gvl))
    fail(m, "%s: key %u has a wrong value (%zu bytes, expected %u)", how, k, gvl,
         m->oracle[k].vlen);
}

static void check_full(model *m) {
  strata_iter *it = NULL;
  check_rc(m, strata_iter_create(m->ro, NULL, &it), "iterator");
  strata_iter_seek_to_first(it);
  for (uint32_t k = 0; k < NKEYS; k++) {
    if (!m->oracle[k].present) continue;
    check_entry(m, it, k, "forward scan");
    strata_iter_next(it);
  }
  if (strata_iter_valid(it)) fail(m, "forward scan: entries after the last key");
  check_rc(m, strata_iter_status(it), "forward scan status");
  if (su_rng_pm(&m->rng, 400)) {
    strata_iter_seek_to_last(it);
    for (int k = NKEYS - 1; k >= 0; k--) {
      if (!m->oracle[k].present) continue;
      check_entry(m, it, (uint32_t)k, "backward scan");
      strata_iter_prev(it);
    }
    if (strata_iter_valid(it)) fail(m, "backward scan: entries before the first key");
  }
  for (int i = 0; i < 20; i++) {
    uint32_t t = (uint32_t)su_rng_below(&m->rng, NKEYS);
    unsigned char key[32];
    size_t kl = key_of(t, key);
    strata_iter_seek(it, key, kl);
    uint32_t k = t;
    while (k < NKEYS && !m->oracle[k].present)
      k++;
    if (k == NKEYS) {
      if (strata_iter_valid(it)) fail(m, "seek to key %u: expected the end", t);
    } else {
      check_entry(m, it, k, "seek");
    }
  }
  strata_iter_destroy(it);
  m->full_checks++;
}

static void take_view(model *m) {
  if (m->nviews == MAX_VIEWS) return;
  catch_up(m);
  view *v = &m->views[m->nviews++];
  v->snap = strata_snapshot_get(m->ro);
  if (!v->snap) fail(m, "snapshot");
  check_rc(m, strata_iter_create(m->ro, NULL, &v->it), "view iterator");
  v->digest = oracle_digest(m, &v->count);
  v->taken_at = m->op;
}

static void check_view(model *m, int i) {
  view *v = &m->views[i];
  size_t n1, n2;
  strata_read_options r;
  strata_read_options_init(&r);
  r.snapshot = v->snap;
  strata_iter *it = NULL;
  check_rc(m, strata_iter_create(m->ro, &r, &it), "snapshot iterator");
  uint64_t d1 = iter_digest(m, it, &n1);
  strata_iter_destroy(it);
  uint64_t d2 = iter_digest(m, v->it, &n2);
  if (d1 != v->digest || n1 != v->count)
    fail(m, "snapshot taken at op %ld: %zu entries now, %zu then (or other contents)", v->taken_at,
         n1, v->count);
  if (d2 != v->digest || n2 != v->count)
    fail(m, "iterator made at op %ld: %zu entries now, %zu then (or other contents)", v->taken_at,
         n2, v->count);
  m->view_checks++;
}

static void drop_view(model *m, int i) {
  strata_iter_destroy(m->views[i].it);
  strata_snapshot_release(m->ro, m->views[i].snap);
  m->views[i] = m->views[--m->nviews];
}

static void ro_reopen(model *m) {
  while (m->nviews) {
    check_view(m, 0);
    drop_view(m, 0);
  }
  strata_close(m->ro);
  open_ro(m);
  m->ro_reopens++;
}

/* ------------------------------------------------------------------------ */
/* The run                                                                  */
/* ------------------------------------------------------------------------ */

static void set_options(model *m) {
  strata_options_init(&m->wopt);
  m->wopt.create_if_missing = 1;
  static const size_t buffers[] = {16 << 10, 32 << 10, 64 << 10};
  static const size_t files[] = {16 << 10, 64 << 10, 256 << 10};
  static const size_t blocks[] = {256, 1024, 4096};
  m->wopt.write_buffer_size = buffers[su_rng_below(&m->rng, 3)];
  m->wopt.max_file_size = files[su_rng_below(&m->rng, 3)];
  m->wopt.block_size = blocks[su_rng_below(&m->rng, 3)];
  if (su_rng_pm(&m->rng, 300)) m->wopt.compression = STRATA_COMPRESSION_NONE;
  if (su_rng_pm(&m->rng, 500)) {
    check_rc(m, strata_filter_policy_create_bloom(10, &m->bloom), "bloom");
    m->wopt.filter_policy = m->bloom;
  }
  m->ropt = m->wopt;
  m->ropt.read_only = 1;
  if (su_rng_pm(&m->rng, 300)) m->ropt.filter_policy = NULL; /* filters unused */
  if (su_rng_pm(&m->rng, 300)) m->ropt.paranoid_checks = 1;
  printf("readonly_model_test: write buffer %zu, tables %zu, blocks %zu, %s, %s\n",
         m->wopt.write_buffer_size, m->wopt.max_file_size, m->wopt.block_size,
         m->wopt.compression ? "snappy" : "uncompressed", m->bloom ? "bloom" : "no filter");
}

int main(int argc, char **argv) {
  const char *seed_arg = NULL;
  long nops = su_scale_is_asan() ? 8000 : 30000;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc)
      seed_arg = argv[++i];
    else if (strcmp(argv[i], "--ops") == 0 && i + 1 < argc)
      nops = atol(argv[++i]);
    else {
      fprintf(stderr, "usage: readonly_model_test [--seed S] [--ops N]\n");
      return 2;
    }
  }
  if (getenv("RO_MODEL_OPS")) nops = atol(getenv("RO_MODEL_OPS"));
  static model mm;
  model *m = &mm;
  m->seed = su_pick_seed(seed_arg);
  printf("readonly_model_test: seed %llu, %ld ops (reproduce: readonly_model_test --seed %llu "
         "--ops %ld)\n",
         (unsigned long long)m->seed, nops, (unsigned long long)m->seed, nops);
  fflush(stdout);
  su_rng_seed(&m->rng, m->seed);
  m->vbuf = malloc(MAX_VLEN);
  m->dir = su_make_temp_dir("strata-romodel");
  set_options(m);
  open_writer(m);
  open_ro(m); /* an empty database */
  double t0 = su_now();
  for (m->op = 0; m->op < nops; m->op++) {
    uint64_t r = su_rng_below(&m->rng, 1000);
    if (r < 450)
      op_put(m);
    else if (r < 600)
      op_delete(m);
    else if (r < 750)
      op_batch(m);
    else if (r < 754)
      op_compact(m);
    else if (r < 756)
      op_writer_reopen(m);
    else if (r < 790) {
      catch_up(m);
      check_gets(m);
    } else if (r < 798) {
      catch_up(m);
      check_full(m);
    } else if (r < 801) {
      take_view(m);
    } else if (r < 804) {
      if (m->nviews) {
        int i = (int)su_rng_below(&m->rng, (uint64_t)m->nviews);
        check_view(m, i);
        if (su_rng_pm(&m->rng, 500)) drop_view(m, i);
      }
    } else if (r < 805) {
      ro_reopen(m);
    } else {
      op_put(m);
    }
  }
  catch_up(m);
  check_full(m);
  while (m->nviews) {
    check_view(m, 0);
    drop_view(m, 0);
  }
  /* A handle opened at the end reads the same. */
  ro_reopen(m);
  check_full(m);
  strata_close(m->ro);
  strata_close(m->w);
  strata_filter_policy_destroy(m->bloom);
  printf("readonly_model_test: passed in %.1f s: %ld catch-ups, %ld full checks, %ld view checks, "
         "%ld writer reopens, %ld read-only reopens\n",
         su_now() - t0, m->catchups, m->full_checks, m->view_checks, m->reopens, m->ro_reopens);
  su_remove_tree(m->dir);
  free(m->dir);
  free(m->vbuf);
  return 0;
}
