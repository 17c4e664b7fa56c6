/*
 * keyset.h - a set of byte strings (open addressing, linear probing), used
 * for a transaction's read set: the keys it read, checked at commit.
 *
 * Keys are copied into one growing buffer; slots hold a 32-bit hash and the
 * key's offset, so a lookup touches the key bytes only on a hash match.
 * Not thread-safe. Memory: about 12 bytes per slot plus the keys and a
 * length varint each.
 */
#ifndef ST_KEYSET_H
#define ST_KEYSET_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

typedef struct st_keyset_slot {
  uint32_t hash;
  uint32_t used;   /* 0: empty */
  uint64_t offset; /* of varint32(len) key in keys */
} st_keyset_slot;

typedef struct st_keyset {
  st_keyset_slot *slots;
  size_t nslots; /* a power of two, or 0 */
  size_t n;      /* keys held */
  st_buf keys;
} st_keyset;

#define ST_KEYSET_INIT                                                                             \
  { NULL, 0, 0, ST_BUF_INIT }

/* Adds key (copied) unless present. Errors: STRATA_ENOMEM, STRATA_EINVAL
 * (key of 4 GiB or more); the set is unchanged on error. */
int st_keyset_add(st_keyset *s, st_slice key);
/* 1 when key is in the set. */
int st_keyset_has(const st_keyset *s, st_slice key);
/* Calls fn(arg, key) for every key (in no particular order) until fn
 * returns non-zero, which is returned. */
int st_keyset_each(const st_keyset *s, int (*fn)(void *arg, st_slice key), void *arg);
/* Empties the set, keeping its memory. */
void st_keyset_clear(st_keyset *s);
void st_keyset_free(st_keyset *s);

#endif
