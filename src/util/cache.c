/*
 * cache.c - sharded LRU cache with reference-counted handles (see cache.h).
 *
 * Each shard keeps every cached entry in a chained hash table and on
 * exactly one of two lists:
 *   lru:    entries only the cache references, oldest first: the eviction
 *           candidates;
 *   in_use: entries some handle also references; never evicted.
 * An entry's refs counts the cache's own reference (while in_cache) plus
 * one per outstanding handle, so it moves from lru to in_use when a handle
 * is taken and back when the last handle goes. An entry erased, replaced or
 * evicted while handles remain leaves the table and both lists
 * (in_cache = 0) and is freed by its last release.
 *
 * Deleters run after the shard's mutex is dropped, so a deleter that is
 * slow (closing a table file) or that touches the cache cannot stall or
 * deadlock other threads.
 */
#include "util/cache.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "util/coding.h"
#include "util/error.h"

#define SHARD_BITS 4
#define NUM_SHARDS (1 << SHARD_BITS)

/* Links of the lru and in_use lists. A list head is a bare node (an entry,
 * with its flexible key, may not be embedded in the shard struct). */
typedef struct lnode {
  struct lnode *next;
  struct lnode *prev;
} lnode;

/* The handle a caller holds is the entry itself. */
struct st_cache_handle {
  lnode link; /* first, so a list node converts back to its entry */
  void *value;
  st_cache_deleter deleter;
  st_cache_handle *next_hash; /* hash chain; also the to-free chain */
  size_t charge;
  size_t key_len;
  uint32_t hash;
  uint32_t refs;
  int in_cache; /* 1 while the table and a list hold it */
  char key[];
};

typedef st_cache_handle entry;

/* Each shard on cache lines of its own: threads hitting different shards
 * must not bounce a line between them (a shard's mutex would otherwise
 * share a line with its neighbour's). */
typedef struct shard {
  _Alignas(64) pthread_mutex_t mu;
  size_t capacity;
  size_t usage; /* sum of charges of entries in_cache */
  lnode lru;    /* list heads: lru.next is the oldest */
  lnode in_use;
  entry **buckets;
  uint32_t nbuckets; /* power of two */
  uint32_t elems;
} shard;

struct st_cache {
  shard shards[NUM_SHARDS];
  atomic_uint_fast64_t last_id;
  /* The admission doorkeeper of st_cache_lookup_admit: hashes of keys that
   * missed once, in a direct-mapped table (a newer miss overwrites an
   * older one in the same slot). Read and written with relaxed atomics and
   * no lock: a lost update only delays or hastens one admission. */
  _Atomic uint32_t *door;
  uint32_t door_mask;
};

/* Doorkeeper slots per byte of capacity: one per KiB, i.e. about four per
 * 4 KiB block the cache can hold, so a block read again before about
 * four cache-fulls of other misses is admitted. */
#define DOOR_BYTES_PER_SLOT 1024
#define DOOR_MIN_SLOTS 64
#define DOOR_MAX_SLOTS (1u << 24)

uint32_t st_hash(const char *data, size_t n, uint32_t seed) {
  /* Murmur-like; this exact function is part of the bloom filter format. */
  const uint32_t m = 0xc6a4a793u;
  const uint32_t r = 24;
  const unsigned char *p = (const unsigned char *)data;
  uint32_t h = seed ^ ((uint32_t)n * m);
  while (n >= 4) {
    h += st_get_fixed32((const char *)p);
    h *= m;
    h ^= h >> 16;
    p += 4;
    n -= 4;
  }
  /* Bytes go in unsigned (LevelDB 1.23 fixed the sign extension of
   * earlier versions). */
  switch (n) {
  case 3: h += (uint32_t)p[2] << 16; /* fall through */
  case 2: h += (uint32_t)p[1] << 8;  /* fall through */
  case 1:
    h += p[0];
    h *= m;
    h ^= h >> r;
    break;
  default: break;
  }
  return h;
}

/* ------------------------------------------------------------------------ */
/* Lists and hash table (caller holds the shard's mutex)                    */
/* ------------------------------------------------------------------------ */

static void list_init(lnode *head) { head->next = head->prev = head; }

static void list_remove(entry *e) {
  lnode *n = &e->link;
  n->next->prev = n->prev;
  n->prev->next = n->next;
  n->next = n->prev = NULL;
}

/* Appends at the newest end. */
static void list_append(lnode *head, entry *e) {
  lnode *n = &e->link;
  n->next = head;
  n->prev = head->prev;
  n->prev->next = n;
  head->prev = n;
}

static entry *list_oldest(lnode *head) { return (entry *)head->next; }

/* The slot holding key's entry, or the empty slot at the end of its chain. */
static entry **table_find(shard *s, const char *key, size_t klen, uint32_t hash) {
  entry **pp = &s->buckets[hash & (s->nbuckets - 1)];
  while (*pp && ((*pp)->hash != hash || (*pp)->key_len != klen ||
                 (klen && memcmp((*pp)->key, key, klen) != 0)))
    pp = &(*pp)->next_hash;
  return pp;
}

/* Doubles the bucket array. On allocation failure the table stays as it is:
 * longer chains cost time, not correctness. */
static void table_grow(shard *s) {
  uint32_t n = s->nbuckets * 2;
  entry **nb = calloc(n, sizeof *nb);
  if (!nb) return;
  for (uint32_t i = 0; i < s->nbuckets; i++) {
    entry *e = s->buckets[i];
    while (e) {
      entry *next = e->next_hash;
      entry **slot = &nb[e->hash & (n - 1)];
      e->next_hash = *slot;
      *slot = e;
      e = next;
    }
  }
  free(s->buckets);
  s->buckets = nb;
  s->nbuckets = n;
}

/* Puts e in the table; returns the entry it displaced (same key) or NULL. */
static entry *table_insert(shard *s, entry *e) {
  entry **pp = table_find(s, e->key, e->key_len, e->hash);
  entry *old = *pp;
  e->next_hash = old ? old->next_hash : NULL;
  *pp = e;
  if (!old && ++s->elems > s->nbuckets) table_grow(s);
  return old;
}

static entry *table_remove(shard *s, const char *key, size_t klen, uint32_t hash) {
  entry **pp = table_find(s, key, klen, hash);
  entry *e = *pp;
  if (e) {
    *pp = e->next_hash;
    s->elems--;
  }
  return e;
}

/* Drops one reference. An entry whose count reaches zero is pushed on
 * *dead for the caller to free once the mutex is released. */
static void unref(shard *s, entry *e, entry **dead) {
  e->refs--;
  if (e->refs == 0) {
    e->next_hash = *dead;
    *dead = e;
  } else if (e->in_cache && e->refs == 1) {
    /* Only the cache holds it now: it becomes evictable. */
    list_remove(e);
    list_append(&s->lru, e);
  }
}

static void take_ref(shard *s, entry *e) {
  if (e->in_cache && e->refs == 1) {
    list_remove(e);
    list_append(&s->in_use, e);
  }
  e->refs++;
}

/* Detaches e (already out of the table) from the cache. */
static void finish_erase(shard *s, entry *e, entry **dead) {
  if (!e) return;
  list_remove(e);
  e->in_cache = 0;
  s->usage -= e->charge;
  unref(s, e, dead);
}

static void evict_lru(shard *s, entry **dead) {
  entry *old = list_oldest(&s->lru);
  table_remove(s, old->key, old->key_len, old->hash);
  finish_erase(s, old, dead);
}

static void free_dead(entry *dead) {
  while (dead) {
    entry *next = dead->next_hash;
    dead->deleter(st_slice_make(dead->key, dead->key_len), dead->value);
    free(dead);
    dead = next;
  }
}

static shard *shard_of(st_cache *c, uint32_t hash) { return &c->shards[hash >> (32 - SHARD_BITS)]; }

static uint32_t hash_key(st_slice key) { return st_hash(key.data, key.size, 0); }

/* ------------------------------------------------------------------------ */
/* Public functions                                                         */
/* ------------------------------------------------------------------------ */

st_cache *st_cache_new(size_t capacity) {
  /* aligned_alloc honours the shards' 64-byte alignment; malloc would not. */
  size_t size = (sizeof(st_cache) + 63) & ~(size_t)63;
  st_cache *c = aligned_alloc(64, size);
  if (!c) return NULL;
  memset(c, 0, size);
  /* Round up so the shards together hold at least capacity. */
  size_t per = capacity / NUM_SHARDS + (capacity % NUM_SHARDS != 0);
  int i;
  for (i = 0; i < NUM_SHARDS; i++) {
    shard *s = &c->shards[i];
    s->capacity = per;
    list_init(&s->lru);
    list_init(&s->in_use);
    s->nbuckets = 4;
    s->buckets = calloc(s->nbuckets, sizeof *s->buckets);
    if (!s->buckets) break;
    if (pthread_mutex_init(&s->mu, NULL) != 0) {
      free(s->buckets);
      break;
    }
  }
  if (i < NUM_SHARDS) {
    while (i-- > 0) {
      pthread_mutex_destroy(&c->shards[i].mu);
      free(c->shards[i].buckets);
    }
    free(c);
    return NULL;
  }
  atomic_init(&c->last_id, 0);
  uint64_t want = capacity / DOOR_BYTES_PER_SLOT;
  uint32_t slots = DOOR_MIN_SLOTS;
  while (slots < want && slots < DOOR_MAX_SLOTS)
    slots *= 2;
  c->door = calloc(slots, sizeof *c->door);
  if (!c->door) {
    for (i = 0; i < NUM_SHARDS; i++) {
      pthread_mutex_destroy(&c->shards[i].mu);
      free(c->shards[i].buckets);
    }
    free(c);
    return NULL;
  }
  c->door_mask = slots - 1;
  return c;
}

void st_cache_free(st_cache *c) {
  if (!c) return;
  for (int i = 0; i < NUM_SHARDS; i++) {
    shard *s = &c->shards[i];
    entry *dead = NULL;
    /* With no handle outstanding every entry is on the lru list. */
    while (s->lru.next != &s->lru) {
      entry *e = list_oldest(&s->lru);
      list_remove(e);
      e->in_cache = 0;
      unref(s, e, &dead);
    }
    free_dead(dead);
    free(s->buckets);
    pthread_mutex_destroy(&s->mu);
  }
  free((void *)c->door);
  free(c);
}

st_cache_handle *st_cache_insert(st_cache *c, st_slice key, void *value, size_t charge,
                                 st_cache_deleter deleter) {
  entry *e = malloc(sizeof *e + key.size);
  if (!e) {
    deleter(key, value);
    st_err(STRATA_ENOMEM, "cache insert: out of memory");
    return NULL;
  }
  uint32_t hash = hash_key(key);
  e->value = value;
  e->deleter = deleter;
  e->next_hash = NULL;
  e->link.next = e->link.prev = NULL;
  e->charge = charge;
  e->key_len = key.size;
  e->hash = hash;
  e->refs = 1; /* the caller's handle */
  e->in_cache = 0;
  if (key.size) memcpy(e->key, key.data, key.size);

  shard *s = shard_of(c, hash);
  entry *dead = NULL;
  pthread_mutex_lock(&s->mu);
  if (s->capacity > 0) {
    /* capacity 0 turns caching off: the entry then lives only as long as
     * the returned handle. */
    e->refs++;
    e->in_cache = 1;
    list_append(&s->in_use, e);
    s->usage += charge;
    finish_erase(s, table_insert(s, e), &dead);
  }
  while (s->usage > s->capacity && s->lru.next != &s->lru)
    evict_lru(s, &dead);
  pthread_mutex_unlock(&s->mu);
  free_dead(dead);
  return e;
}

/* A handle on the entry of key (whose hash is given), or NULL. */
static entry *lookup_hashed(st_cache *c, st_slice key, uint32_t hash) {
  shard *s = shard_of(c, hash);
  pthread_mutex_lock(&s->mu);
  entry *e = *table_find(s, key.data, key.size, hash);
  if (e) take_ref(s, e);
  pthread_mutex_unlock(&s->mu);
  return e;
}

st_cache_handle *st_cache_lookup(st_cache *c, st_slice key) {
  return lookup_hashed(c, key, hash_key(key));
}

st_cache_handle *st_cache_lookup_admit(st_cache *c, st_slice key, int *admit) {
  uint32_t hash = hash_key(key);
  entry *e = lookup_hashed(c, key, hash);
  if (e) return e;
  /* The slot comes from the hash's low bits (the shard took the high
   * ones); the whole hash is the tag. */
  _Atomic uint32_t *slot = &c->door[hash & c->door_mask];
  if (atomic_load_explicit(slot, memory_order_relaxed) == hash) {
    *admit = 1;
  } else {
    atomic_store_explicit(slot, hash, memory_order_relaxed);
    *admit = 0;
  }
  return NULL;
}

void st_cache_release(st_cache *c, st_cache_handle *h) {
  shard *s = shard_of(c, h->hash);
  entry *dead = NULL;
  pthread_mutex_lock(&s->mu);
  unref(s, h, &dead);
  pthread_mutex_unlock(&s->mu);
  free_dead(dead);
}

void *st_cache_value(const st_cache_handle *h) { return h->value; }

void st_cache_erase(st_cache *c, st_slice key) {
  uint32_t hash = hash_key(key);
  shard *s = shard_of(c, hash);
  entry *dead = NULL;
  pthread_mutex_lock(&s->mu);
  finish_erase(s, table_remove(s, key.data, key.size, hash), &dead);
  pthread_mutex_unlock(&s->mu);
  free_dead(dead);
}

uint64_t st_cache_new_id(st_cache *c) {
  return atomic_fetch_add_explicit(&c->last_id, 1, memory_order_relaxed) + 1;
}

void st_cache_prune(st_cache *c) {
  for (int i = 0; i < NUM_SHARDS; i++) {
    shard *s = &c->shards[i];
    entry *dead = NULL;
    pthread_mutex_lock(&s->mu);
    while (s->lru.next != &s->lru)
      evict_lru(s, &dead);
    pthread_mutex_unlock(&s->mu);
    free_dead(dead);
  }
}

size_t st_cache_total_charge(st_cache *c) {
  size_t total = 0;
  for (int i = 0; i < NUM_SHARDS; i++) {
    shard *s = &c->shards[i];
    pthread_mutex_lock(&s->mu);
    total += s->usage;
    pthread_mutex_unlock(&s->mu);
  }
  return total;
}
