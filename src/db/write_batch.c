/*
 * write_batch.c - strata_batch: LevelDB's WriteBatch encoding.
 *
 *   rep          := sequence:fixed64 count:fixed32 record*
 *   record       := kTypeValue(0x1) key:lenprefixed value:lenprefixed
 *                 | kTypeDeletion(0x0) key:lenprefixed
 *   lenprefixed  := length:varint32 bytes[length]
 *
 * fixed64/fixed32 are little-endian. count is the number of records; record
 * i is applied with sequence number sequence + i. The same bytes are the
 * payload of one write-ahead log record, so a log written by LevelDB replays
 * here and the other way round.
 *
 * Every reader of a rep (iterate, validate, insert_into) goes through
 * walk(), which checks each record against the grammar and the count
 * against the records before any caller-visible effect.
 */
#include "db/write_batch.h"

#include "db/db_raw.h"

#include <stdlib.h>
#include <string.h>

#include "db/memtable.h"
#include "db/subdb.h"
#include "util/error.h"
#include "util/internal_key.h"

int st_batch_init(strata_batch *b) {
  b->rep = (st_buf)ST_BUF_INIT;
  if (st_buf_reserve(&b->rep, ST_BATCH_HEADER)) return STRATA_ENOMEM;
  memset(b->rep.data, 0, ST_BATCH_HEADER);
  b->rep.size = ST_BATCH_HEADER;
  return 0;
}

void st_batch_release(strata_batch *b) {
  if (b) st_buf_free(&b->rep);
}

int strata_batch_create(strata_batch **bp) {
  if (!bp) return st_err(STRATA_EMISUSE, "strata_batch_create: NULL output");
  strata_batch *b = malloc(sizeof *b);
  if (!b) return st_err(STRATA_ENOMEM, "cannot allocate batch");
  if (st_batch_init(b)) {
    free(b);
    return STRATA_ENOMEM;
  }
  *bp = b;
  return 0;
}

void strata_batch_destroy(strata_batch *b) {
  if (!b) return;
  st_batch_release(b);
  free(b);
}

/* Bytes of a length-prefixed slice of n bytes, n <= UINT32_MAX. */
static inline uint64_t lp_size(size_t n) { return (uint64_t)st_varint_length(n) + n; }

static inline char *put_lp(char *p, const void *s, size_t n) {
  p = st_put_varint32(p, (uint32_t)n);
  if (n) memcpy(p, s, n);
  return p + n;
}

/* Appends one record whose key is pre followed by key (pre: a
 * sub-database's prefix, or empty); the batch is unchanged on error. */
static int add_record(strata_batch *b, int type, st_slice pre, const void *key, size_t klen,
                      const void *val, size_t vlen) {
  if (!b) return st_err(STRATA_EMISUSE, "NULL batch");
  if ((!key && klen) || (!val && vlen))
    return st_err(STRATA_EINVAL, "NULL key or value with a non-zero length");
  /* A key also gets an 8-byte tag inside a varint32-sized internal key. */
  if (klen > UINT32_MAX - 8 - pre.size || vlen > UINT32_MAX)
    return st_err(STRATA_EINVAL, "key or value larger than 4 GiB - 1 bytes");
  uint32_t count = st_batch_get_count(b);
  if (count == UINT32_MAX) return st_err(STRATA_EINVAL, "batch holds too many operations");

  size_t full = pre.size + klen;
  uint64_t need = 1 + lp_size(full);
  if (type == ST_TYPE_VALUE) need += lp_size(vlen);
  if (need > SIZE_MAX)
    return st_err(STRATA_ENOMEM, "batch record of %llu bytes", (unsigned long long)need);
  /* One reservation up front, so nothing is written unless all fits. */
  if (st_buf_reserve(&b->rep, (size_t)need)) return STRATA_ENOMEM;
  char *p = b->rep.data + b->rep.size;
  *p++ = (char)type;
  p = st_put_varint32(p, (uint32_t)full);
  if (pre.size) memcpy(p, pre.data, pre.size);
  p += pre.size;
  if (klen) memcpy(p, key, klen);
  p += klen;
  if (type == ST_TYPE_VALUE) p = put_lp(p, val, vlen);
  b->rep.size = (size_t)(p - b->rep.data);
  st_batch_set_count(b, count + 1);
  return 0;
}

static const st_slice no_prefix = {"", 0};

static int reserved_key_error(const char *call) {
  return st_err(STRATA_EINVAL,
                "%s: key lies in the range reserved for sub-databases (it begins with "
                "\\xff\\xffstrata\\x00)",
                call);
}

int strata_batch_put(strata_batch *b, const void *key, size_t klen, const void *val, size_t vlen) {
  if (key && st_key_is_reserved(key, klen)) return reserved_key_error("strata_batch_put");
  return add_record(b, ST_TYPE_VALUE, no_prefix, key, klen, val, vlen);
}

int strata_batch_delete(strata_batch *b, const void *key, size_t klen) {
  if (key && st_key_is_reserved(key, klen)) return reserved_key_error("strata_batch_delete");
  return add_record(b, ST_TYPE_DELETION, no_prefix, key, klen, NULL, 0);
}

int st_batch_put_any(strata_batch *b, const void *key, size_t klen, const void *val, size_t vlen) {
  return add_record(b, ST_TYPE_VALUE, no_prefix, key, klen, val, vlen);
}

int st_batch_delete_any(strata_batch *b, const void *key, size_t klen) {
  return add_record(b, ST_TYPE_DELETION, no_prefix, key, klen, NULL, 0);
}

int st_batch_put_raw(strata_batch *b, st_slice prefix, const void *key, size_t klen,
                     const void *val, size_t vlen) {
  return add_record(b, ST_TYPE_VALUE, prefix, key, klen, val, vlen);
}

int st_batch_delete_raw(strata_batch *b, st_slice prefix, const void *key, size_t klen) {
  return add_record(b, ST_TYPE_DELETION, prefix, key, klen, NULL, 0);
}

/* The prefix of sdb's keys, checking the handle (no database to compare
 * it with here: a batch is not bound to one until it is written). */
static int batch_prefix(strata_subdb *sdb, st_slice *prefix) {
  return st_subdb_resolve(sdb ? sdb->db : NULL, sdb, prefix);
}

int strata_batch_put_in(strata_batch *b, strata_subdb *sdb, const void *key, size_t klen,
                        const void *val, size_t vlen) {
  if (!sdb) return strata_batch_put(b, key, klen, val, vlen);
  st_slice prefix;
  int rc = batch_prefix(sdb, &prefix);
  return rc ? rc : add_record(b, ST_TYPE_VALUE, prefix, key, klen, val, vlen);
}

int strata_batch_delete_in(strata_batch *b, strata_subdb *sdb, const void *key, size_t klen) {
  if (!sdb) return strata_batch_delete(b, key, klen);
  st_slice prefix;
  int rc = batch_prefix(sdb, &prefix);
  return rc ? rc : add_record(b, ST_TYPE_DELETION, prefix, key, klen, NULL, 0);
}

void strata_batch_clear(strata_batch *b) {
  if (!b) return;
  memset(b->rep.data, 0, ST_BATCH_HEADER);
  b->rep.size = ST_BATCH_HEADER;
}

uint32_t strata_batch_count(const strata_batch *b) { return b ? st_batch_get_count(b) : 0; }

size_t strata_batch_size(const strata_batch *b) { return b ? b->rep.size : 0; }

int strata_batch_append(strata_batch *dst, const strata_batch *src) {
  if (!dst || !src) return st_err(STRATA_EMISUSE, "NULL batch");
  uint32_t a = st_batch_get_count(dst), n = st_batch_get_count(src);
  if (n > UINT32_MAX - a) return st_err(STRATA_EINVAL, "batch holds too many operations");
  size_t bytes = src->rep.size - ST_BATCH_HEADER;
  if (st_buf_reserve(&dst->rep, bytes)) return STRATA_ENOMEM;
  /* Read src->rep.data only now: when dst == src the reserve moved it. */
  if (bytes) memcpy(dst->rep.data + dst->rep.size, src->rep.data + ST_BATCH_HEADER, bytes);
  dst->rep.size += bytes;
  st_batch_set_count(dst, a + n);
  return 0;
}

int st_batch_set_contents(strata_batch *b, st_slice contents) {
  if (contents.size < ST_BATCH_HEADER)
    return st_err_corrupt("write batch of %zu bytes is shorter than its 12-byte header",
                          contents.size);
  if (contents.size > b->rep.cap && st_buf_reserve(&b->rep, contents.size - b->rep.size))
    return STRATA_ENOMEM;
  memmove(b->rep.data, contents.data, contents.size);
  b->rep.size = contents.size;
  return 0;
}

/* Called by walk() for each record; a non-zero return stops the walk. */
typedef int (*record_fn)(void *state, int type, st_slice key, st_slice val);

/* Parses every record of rep, calling fn (when not NULL) on each. Returns 0,
 * STRATA_ECORRUPTION (message says what and where), or fn's error. */
static int walk(st_slice rep, record_fn fn, void *state) {
  if (rep.size < ST_BATCH_HEADER)
    return st_err_corrupt("write batch of %zu bytes is shorter than its 12-byte header", rep.size);
  uint32_t want = st_get_fixed32(rep.data + 8);
  const char *p = rep.data + ST_BATCH_HEADER, *limit = rep.data + rep.size;
  uint32_t seen = 0;
  while (p < limit) {
    size_t at = (size_t)(p - rep.data);
    int type = (unsigned char)*p++;
    st_slice key, val = {"", 0};
    if (type != ST_TYPE_VALUE && type != ST_TYPE_DELETION)
      return st_err_corrupt("write batch: unknown record tag 0x%02x at byte %zu", type, at);
    p = st_get_length_prefixed(p, limit, &key);
    if (p && type == ST_TYPE_VALUE) p = st_get_length_prefixed(p, limit, &val);
    if (!p)
      return st_err_corrupt("write batch: truncated %s record at byte %zu",
                            type == ST_TYPE_VALUE ? "put" : "delete", at);
    if (seen == UINT32_MAX) break; /* more records than a count can say */
    seen++;
    if (fn) {
      int rc = fn(state, type, key, val);
      if (rc) return rc;
    }
  }
  if (p < limit || seen != want)
    return st_err_corrupt("write batch: header count %u but the batch holds %s%u records", want,
                          p < limit ? "more than " : "", seen);
  return 0;
}

int st_batch_validate(const strata_batch *b) { return walk(st_batch_contents(b), NULL, NULL); }

int st_batch_next_record(const strata_batch *b, size_t *pos, int *type, st_slice *key,
                         st_slice *val) {
  if (*pos < ST_BATCH_HEADER) *pos = ST_BATCH_HEADER;
  const char *p = b->rep.data + *pos, *limit = b->rep.data + b->rep.size;
  if (p >= limit) return 0;
  *type = (unsigned char)*p++;
  *val = st_slice_make("", 0);
  if (*type != ST_TYPE_VALUE && *type != ST_TYPE_DELETION)
    return st_err_corrupt("write batch: unknown record tag 0x%02x at byte %zu", *type, *pos);
  p = st_get_length_prefixed(p, limit, key);
  if (p && *type == ST_TYPE_VALUE) p = st_get_length_prefixed(p, limit, val);
  if (!p) return st_err_corrupt("write batch: truncated record at byte %zu", *pos);
  *pos = (size_t)(p - b->rep.data);
  return 1;
}

typedef struct user_cb {
  void *state;
  void (*put)(void *state, const char *k, size_t klen, const char *v, size_t vlen);
  void (*del)(void *state, const char *k, size_t klen);
} user_cb;

static int call_user(void *state, int type, st_slice key, st_slice val) {
  const user_cb *u = state;
  if (type == ST_TYPE_VALUE) {
    if (u->put) u->put(u->state, key.data, key.size, val.data, val.size);
  } else if (u->del) {
    u->del(u->state, key.data, key.size);
  }
  return 0;
}

int strata_batch_iterate(const strata_batch *b, void *state,
                         void (*put)(void *state, const char *k, size_t klen, const char *v,
                                     size_t vlen),
                         void (*del)(void *state, const char *k, size_t klen)) {
  if (!b) return st_err(STRATA_EMISUSE, "NULL batch");
  /* Validate first: the callbacks see the whole batch or nothing. */
  int rc = st_batch_validate(b);
  if (rc) return rc;
  user_cb u = {state, put, del};
  return walk(st_batch_contents(b), call_user, &u);
}

typedef struct inserter {
  st_memtable *mem;
  uint64_t seq;
} inserter;

static int insert_one(void *state, int type, st_slice key, st_slice val) {
  inserter *ins = state;
  return st_memtable_add(ins->mem, ins->seq++, type, key, val);
}

int st_batch_insert_into(const strata_batch *b, st_memtable *mem) {
  int rc = st_batch_validate(b);
  if (rc) return rc;
  inserter ins = {mem, st_batch_sequence(b)};
  return walk(st_batch_contents(b), insert_one, &ins);
}
