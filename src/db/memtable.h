/*
 * memtable.h - the in-memory table of recent writes: a skiplist of internal
 * keys in an arena (entry format in util/internal_key.h).
 *
 * Concurrency: one writer at a time (the database's write path holds the
 * writer role) may add while any number of readers get and iterate without
 * locks; readers see each entry either not at all or whole (pointers are
 * published with release stores and read with acquire loads). Entries are
 * never removed; the memory goes when the last reference is dropped.
 *
 * Lifetime: reference-counted (atomic). st_memtable_new returns a table
 * with one reference. Iterators do not take a reference: the caller keeps
 * one for the iterator's lifetime.
 */
#ifndef ST_MEMTABLE_H
#define ST_MEMTABLE_H

#include <stddef.h>
#include <stdint.h>

#include "table/iterator.h"
#include "util/buf.h"
#include "util/comparator.h"

typedef struct st_memtable st_memtable;

/* ucmp is borrowed and must outlive the table. NULL when out of memory. */
st_memtable *st_memtable_new(const st_comparator *ucmp);
void st_memtable_ref(st_memtable *m);
void st_memtable_unref(st_memtable *m); /* frees at zero; NULL is a no-op */

/* Adds (key, seq, type) -> value. type is ST_TYPE_VALUE or
 * ST_TYPE_DELETION (value empty). Single writer. REQUIRE: seq <=
 * ST_MAX_SEQUENCE. key and value are copied (one arena allocation holds the
 * skiplist node and the entry). Errors: STRATA_ENOMEM; STRATA_EINVAL when
 * the key is longer than 4 GiB - 9 bytes or the value than 4 GiB - 1 (the
 * entry's varint32 lengths); the table is unchanged on error. */
int st_memtable_add(st_memtable *m, uint64_t seq, int type, st_slice key, st_slice value);

enum { ST_MEM_ABSENT = 0, ST_MEM_FOUND = 1, ST_MEM_DELETED = 2 };

/* Looks up the newest entry of key with sequence <= seq (a seq above
 * ST_MAX_SEQUENCE means "all"). Returns ST_MEM_FOUND (value copied into
 * *val with st_buf_set), ST_MEM_DELETED, ST_MEM_ABSENT (val untouched in
 * both), or STRATA_ENOMEM. Lock-free; safe while the writer adds. */
int st_memtable_get(st_memtable *m, st_slice key, uint64_t seq, st_buf *val);

/* The newest entry of key at any sequence number: ST_MEM_FOUND or
 * ST_MEM_DELETED with its sequence number in *seq, or ST_MEM_ABSENT. For a
 * transaction's commit check. Lock-free like get. Errors: STRATA_ENOMEM. */
int st_memtable_newest(st_memtable *m, st_slice key, uint64_t *seq);

/* The smallest sequence number the table may hold: every write with a
 * sequence number at or above it went into this table or a newer one. Set
 * by the database when the table becomes the one writes go to (the last
 * sequence number + 1); 0, the default, means unknown (a table filled by
 * recovery). A transaction's commit check uses it to skip the sorted tables
 * for a key no memtable holds. Set before the table is published. */
void st_memtable_set_first_sequence(st_memtable *m, uint64_t seq);
uint64_t st_memtable_first_sequence(const st_memtable *m);

/* An iterator over internal keys (values as stored), lock-free like get:
 * it sees entries added after its creation if it reaches them. seek()
 * takes an internal key (user key + 8-byte tag); prev() is a search from
 * the top (O(log n)). status() is always 0. NULL when out of memory. */
st_iter *st_memtable_iter(st_memtable *m);

/* Bytes allocated by the table (read from any thread). */
size_t st_memtable_memory_usage(const st_memtable *m);

/* Number of entries (approximate while a writer adds). */
uint64_t st_memtable_count(const st_memtable *m);

#endif
