/*
 * internal_key.h - LevelDB's internal keys, the keys stored in memtables and
 * sorted tables.
 *
 *   internal_key := user_key tag:fixed64
 *   tag          := (sequence << 8) | type      (sequence < 2^56)
 *   type         := 0x0 deletion | 0x1 value
 *
 * Order: user key ascending (by the user comparator), then tag DEscending,
 * so the newest entry of a key comes first and a seek for (key, snapshot
 * sequence, ST_TYPE_FOR_SEEK) lands on the newest entry visible to it.
 *
 * Memtable entries and lookup keys add a varint32 length in front:
 *   memtable_entry := varint32(ikey_len) internal_key varint32(vlen) value
 *   lookup_key     := varint32(ikey_len) internal_key
 */
#ifndef ST_INTERNAL_KEY_H
#define ST_INTERNAL_KEY_H

#include <stdint.h>

#include "util/coding.h"
#include "util/comparator.h"

enum { ST_TYPE_DELETION = 0, ST_TYPE_VALUE = 1 };
#define ST_TYPE_FOR_SEEK ST_TYPE_VALUE /* highest type: seeks sort first */
#define ST_MAX_SEQUENCE ((((uint64_t)1) << 56) - 1)

static inline uint64_t st_pack_tag(uint64_t seq, int type) { return (seq << 8) | (uint64_t)type; }

/* The user-key part of an internal key (size >= 8 is the caller's duty). */
static inline st_slice st_ikey_user(st_slice ikey) {
  return st_slice_make(ikey.data, ikey.size - 8);
}

static inline uint64_t st_ikey_tag(st_slice ikey) {
  return st_get_fixed64(ikey.data + ikey.size - 8);
}

typedef struct st_parsed_ikey {
  st_slice user_key;
  uint64_t sequence;
  int type;
} st_parsed_ikey;

/* Returns 1 when ikey is well formed (>= 8 bytes, known type). */
static inline int st_ikey_parse(st_slice ikey, st_parsed_ikey *out) {
  if (ikey.size < 8) return 0;
  uint64_t tag = st_ikey_tag(ikey);
  out->user_key = st_ikey_user(ikey);
  out->sequence = tag >> 8;
  out->type = (int)(tag & 0xff);
  return out->type <= ST_TYPE_VALUE;
}

/* Internal-key order (see top). Both keys must be >= 8 bytes. */
static inline int st_icmp(const st_comparator *ucmp, st_slice a, st_slice b) {
  int r = st_ucmp(ucmp, st_ikey_user(a), st_ikey_user(b));
  if (r == 0) {
    uint64_t ta = st_ikey_tag(a), tb = st_ikey_tag(b);
    r = ta > tb ? -1 : (ta < tb);
  }
  return r;
}

/* Appends user_key + tag to b. */
static inline int st_ikey_append(st_buf *b, st_slice user_key, uint64_t seq, int type) {
  if (st_buf_reserve(b, user_key.size + 8)) return STRATA_ENOMEM;
  st_buf_append(b, user_key.data, user_key.size);
  return st_buf_put_fixed64(b, st_pack_tag(seq, type));
}

#endif
