/*
 * cache.h - a sharded LRU cache with reference-counted handles (the design
 * of LevelDB's ShardedLRUCache): used for the table cache (open tables) and
 * the block cache (uncompressed blocks).
 *
 * Each entry has a key (copied in), a value pointer and a charge; the cache
 * evicts least-recently-used entries that no handle holds once the total
 * charge passes the capacity. Entries still held are not freed until
 * released. The deleter runs exactly once per entry, when it has been
 * evicted or erased (or replaced) and its last handle is released. The key
 * space is split into 16 shards by hash, each with its own mutex, so all
 * functions are thread-safe and threads rarely contend.
 */
#ifndef ST_CACHE_H
#define ST_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "util/slice.h"

typedef struct st_cache st_cache;
typedef struct st_cache_handle st_cache_handle;

typedef void (*st_cache_deleter)(st_slice key, void *value);

/* A cache holding up to `capacity` units of charge. NULL when out of memory. */
st_cache *st_cache_new(size_t capacity);
/* Frees every entry (running deleters). REQUIRE: no handle outstanding.
 * NULL is a no-op. */
void st_cache_free(st_cache *c);

/* Inserts key -> value, replacing any entry with that key, and returns a
 * handle on the new entry that the caller must release. NULL only when out
 * of memory (then the deleter has been called on value). */
st_cache_handle *st_cache_insert(st_cache *c, st_slice key, void *value, size_t charge,
                                 st_cache_deleter deleter);
/* A handle on key's entry (caller releases it), or NULL. */
st_cache_handle *st_cache_lookup(st_cache *c, st_slice key);
/* st_cache_lookup() that on a miss also says whether the caller should
 * insert what it is about to load (*admit = 1) or use it once and drop it
 * (*admit = 0; *admit is untouched on a hit). A key is admitted on its
 * second miss within a short window (a "doorkeeper", as in TinyLFU: Einziger,
 * Friedman and Manes, "TinyLFU: A Highly Efficient Cache Admission Policy",
 * 2017): a block read only once -- a scan, a uniformly random lookup into
 * data far larger than the cache -- then costs no allocation, no insertion
 * and no eviction of a block that was going to be read again, while a
 * block read twice is cached from then on. The window is about four
 * cache-fulls of misses (one slot per KiB of capacity). */
st_cache_handle *st_cache_lookup_admit(st_cache *c, st_slice key, int *admit);
void st_cache_release(st_cache *c, st_cache_handle *h);
/* The value of a handle (valid while the handle is held). */
void *st_cache_value(const st_cache_handle *h);
/* Drops key's entry from the cache (freed once unheld). */
void st_cache_erase(st_cache *c, st_slice key);
/* A new number, unique within this cache, for building keys (e.g. a
 * table's prefix in the block cache). */
uint64_t st_cache_new_id(st_cache *c);
/* Drops every unheld entry. */
void st_cache_prune(st_cache *c);
/* Sum of charges of all entries. */
size_t st_cache_total_charge(st_cache *c);

/* 32-bit hash of LevelDB's util/hash.cc (murmur-like; seed as given), used
 * for cache sharding and, with seed 0xbc9f1d34, by the bloom filter. */
uint32_t st_hash(const char *data, size_t n, uint32_t seed);

#endif
