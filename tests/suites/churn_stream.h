/*
 * churn_stream.h - the op stream a writer process applies while read-only
 * processes follow it (`strata_tool churn`, `ldb_tool churn`: compat_common.h;
 * the readers: readonly_procs_test.c), its self-describing values, and the
 * state it leaves. Header-only and free of library calls, like
 * suite_util.h, so both tools and the test include it.
 *
 * Op i of stream SEED (churn_op):
 *   put      (55%) one key
 *   delete   (15%) one key
 *   batch    (29%) 2..12 puts and deletes, applied atomically
 *   compact   (1 in 700) a range of the key space, or everything
 *   reopen    (1 in 2500) close and open again: a new MANIFEST, CURRENT
 *             renamed, the old MANIFEST and logs deleted
 * Keys: "churn%05u" for k in [0, CHURN_KEYS).
 *
 * Value of key k written at version v (churn_value):
 *   value   := magic:"CHv1" key:fixed32 version:fixed64 len:fixed32
 *              payload[len] check:fixed64            (fixed = little-endian)
 *   payload := su_fill_value(su_derive(v, k), len)
 *   check   := su_hash64(every byte before it, 0x63687572)
 * with v = i * 64 + j for the j-th entry of op i's batch (j = 0 for a single
 * put), so each (key, version) is written once, versions grow with time, and
 * from a value a reader can regenerate op v / 64 and check that it really
 * puts this key at this version (churn_check).
 */
#ifndef STRATA_CHURN_STREAM_H
#define STRATA_CHURN_STREAM_H

#include "suite_util.h"

#define CHURN_KEYS 2000u
#define CHURN_BATCH_MAX 12
#define CHURN_VALUE_MAX (40000 + 28)

enum { CHURN_PUT, CHURN_DELETE, CHURN_BATCH, CHURN_COMPACT, CHURN_REOPEN };

typedef struct churn_entry {
  uint32_t key;
  int del;
} churn_entry;

typedef struct churn_op {
  int kind;
  int n;                          /* entries (1 for put and delete) */
  churn_entry e[CHURN_BATCH_MAX]; /* put, delete, batch */
  uint32_t lo, hi;                /* compact: key range; lo > hi means all */
} churn_op;

static inline void churn_op_of(uint64_t seed, uint64_t i, churn_op *op) {
  su_rng r;
  su_rng_seed(&r, su_derive(seed ^ 0x636875726eULL, i));
  uint64_t c = su_rng_below(&r, 17500);
  op->n = 1;
  if (c < 7) {
    op->kind = CHURN_REOPEN;
    op->n = 0;
  } else if (c < 32) {
    op->kind = CHURN_COMPACT;
    op->n = 0;
    op->lo = (uint32_t)su_rng_below(&r, CHURN_KEYS);
    op->hi = su_rng_below(&r, 4) ? op->lo + (uint32_t)su_rng_below(&r, CHURN_KEYS / 2) : 0;
  } else if (c < 9657) {
    op->kind = CHURN_PUT;
    op->e[0] = (churn_entry){(uint32_t)su_rng_below(&r, CHURN_KEYS), 0};
  } else if (c < 12282) {
    op->kind = CHURN_DELETE;
    op->e[0] = (churn_entry){(uint32_t)su_rng_below(&r, CHURN_KEYS), 1};
  } else {
    op->kind = CHURN_BATCH;
    op->n = (int)su_rng_range(&r, 2, CHURN_BATCH_MAX);
    uint32_t base = (uint32_t)su_rng_below(&r, CHURN_KEYS);
    for (int j = 0; j < op->n; j++) {
      /* Half the batches write neighbouring keys, half anywhere. */
      uint32_t k =
          (c & 1) ? (base + (uint32_t)j * 3) % CHURN_KEYS : (uint32_t)su_rng_below(&r, CHURN_KEYS);
      op->e[j] = (churn_entry){k, su_rng_below(&r, 5) == 0};
    }
  }
}

static inline size_t churn_key(uint32_t k, char *out) {
  return (size_t)snprintf(out, 16, "churn%05u", k);
}

static inline uint32_t churn_payload_len(uint64_t version, uint32_t key) {
  uint64_t h = su_derive(version ^ 0x6c656eULL, key);
  uint64_t c = h % 100;
  if (c < 70) return (uint32_t)((h >> 8) % 121);
  if (c < 97) return 120 + (uint32_t)((h >> 8) % 1400);
  return 5000 + (uint32_t)((h >> 8) % 35001); /* crosses log blocks */
}

static inline void churn_put32(unsigned char *p, uint32_t v) {
  for (int i = 0; i < 4; i++)
    p[i] = (unsigned char)(v >> (8 * i));
}
static inline void churn_put64(unsigned char *p, uint64_t v) {
  for (int i = 0; i < 8; i++)
    p[i] = (unsigned char)(v >> (8 * i));
}
static inline uint32_t churn_get32(const unsigned char *p) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; i--)
    v = (v << 8) | p[i];
  return v;
}
static inline uint64_t churn_get64(const unsigned char *p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; i--)
    v = (v << 8) | p[i];
  return v;
}

/* Writes the value of (key, version) into out (CHURN_VALUE_MAX bytes);
 * returns its length. */
static inline size_t churn_value(uint32_t key, uint64_t version, unsigned char *out) {
  uint32_t len = churn_payload_len(version, key);
  memcpy(out, "CHv1", 4);
  churn_put32(out + 4, key);
  churn_put64(out + 8, version);
  churn_put32(out + 16, len);
  su_fill_value(su_derive(version, key), len, out + 20);
  churn_put64(out + 20 + len, su_hash64(out, 20 + len, 0x63687572));
  return 20 + (size_t)len + 8;
}

/* Checks that (v, vlen), read as key `key`, is a value op v/64 of stream
 * seed wrote to that key. Returns NULL and the version in *version, or a
 * static description of what is wrong. scratch: CHURN_VALUE_MAX bytes. */
static inline const char *churn_check(uint64_t seed, uint32_t key, const void *v, size_t vlen,
                                      uint64_t *version, unsigned char *scratch) {
  const unsigned char *p = (const unsigned char *)v;
  if (vlen < 28 || memcmp(p, "CHv1", 4) != 0) return "not a churn value";
  if (churn_get32(p + 4) != key) return "a value of another key";
  uint64_t ver = churn_get64(p + 8);
  uint32_t len = churn_get32(p + 16);
  if ((size_t)len + 28 != vlen) return "wrong length";
  if (churn_get64(p + 20 + len) != su_hash64(p, 20 + len, 0x63687572)) return "bad checksum";
  size_t n = churn_value(key, ver, scratch);
  if (n != vlen || memcmp(scratch, p, n) != 0) return "payload differs";
  churn_op op;
  churn_op_of(seed, ver / 64, &op);
  int j = (int)(ver % 64);
  if (j >= op.n || op.e[j].key != key || op.e[j].del) return "no op of the stream wrote it";
  *version = ver;
  return NULL;
}

/* The state after ops [0, n): state[k] = version + 1 of key k's value, or
 * 0 when absent. */
static inline void churn_final(uint64_t seed, uint64_t n, uint64_t *state) {
  memset(state, 0, CHURN_KEYS * sizeof *state);
  for (uint64_t i = 0; i < n; i++) {
    churn_op op;
    churn_op_of(seed, i, &op);
    if (op.kind == CHURN_COMPACT || op.kind == CHURN_REOPEN) continue;
    for (int j = 0; j < op.n; j++)
      state[op.e[j].key] = op.e[j].del ? 0 : i * 64 + (uint64_t)j + 1;
  }
}

#endif
