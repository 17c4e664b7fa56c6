/* keyset.c - a set of byte strings; see keyset.h. */
#include "util/keyset.h"

#include <stdlib.h>
#include <string.h>

#include "util/cache.h"
#include "util/coding.h"
#include "util/error.h"

static st_slice key_at(const st_keyset *s, uint64_t offset) {
  const char *p = s->keys.data + offset;
  uint32_t len = 0;
  p = st_get_varint32(p, s->keys.data + s->keys.size, &len);
  return st_slice_make(p, len);
}

/* The slot holding key, or the empty slot where it would go. */
static st_keyset_slot *find(const st_keyset *s, st_slice key, uint32_t h) {
  size_t mask = s->nslots - 1;
  for (size_t i = h & mask;; i = (i + 1) & mask) {
    st_keyset_slot *slot = &s->slots[i];
    if (!slot->used) return slot;
    if (slot->hash == h) {
      st_slice k = key_at(s, slot->offset);
      if (k.size == key.size && (key.size == 0 || memcmp(k.data, key.data, key.size) == 0))
        return slot;
    }
  }
}

/* Doubles the table (kept at most half full, so probes stay short). */
static int grow(st_keyset *s) {
  size_t n = s->nslots ? s->nslots * 2 : 16;
  st_keyset_slot *slots = calloc(n, sizeof *slots);
  if (!slots) return st_err(STRATA_ENOMEM, "transaction read set");
  st_keyset old = *s;
  s->slots = slots;
  s->nslots = n;
  for (size_t i = 0; i < old.nslots; i++) {
    if (!old.slots[i].used) continue;
    st_keyset_slot *slot = find(s, key_at(s, old.slots[i].offset), old.slots[i].hash);
    *slot = old.slots[i];
  }
  free(old.slots);
  return 0;
}

int st_keyset_add(st_keyset *s, st_slice key) {
  if (key.size > UINT32_MAX) return st_err(STRATA_EINVAL, "key too large for a read set");
  if ((s->n + 1) * 2 > s->nslots && grow(s)) return STRATA_ENOMEM;
  uint32_t h = st_hash(key.data, key.size, 0x5eed);
  st_keyset_slot *slot = find(s, key, h);
  if (slot->used) return 0;
  uint64_t offset = s->keys.size;
  if (st_buf_put_varint32(&s->keys, (uint32_t)key.size) ||
      st_buf_append(&s->keys, key.data, key.size)) {
    s->keys.size = (size_t)offset;
    return st_err(STRATA_ENOMEM, "transaction read set");
  }
  slot->hash = h;
  slot->used = 1;
  slot->offset = offset;
  s->n++;
  return 0;
}

int st_keyset_has(const st_keyset *s, st_slice key) {
  if (s->n == 0) return 0;
  return find(s, key, st_hash(key.data, key.size, 0x5eed))->used;
}

int st_keyset_each(const st_keyset *s, int (*fn)(void *arg, st_slice key), void *arg) {
  for (size_t i = 0; i < s->nslots; i++) {
    if (!s->slots[i].used) continue;
    int rc = fn(arg, key_at(s, s->slots[i].offset));
    if (rc) return rc;
  }
  return 0;
}

void st_keyset_clear(st_keyset *s) {
  if (s->slots) memset(s->slots, 0, s->nslots * sizeof *s->slots);
  s->n = 0;
  s->keys.size = 0;
}

void st_keyset_free(st_keyset *s) {
  free(s->slots);
  st_buf_free(&s->keys);
  *s = (st_keyset)ST_KEYSET_INIT;
}
