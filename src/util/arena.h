/*
 * arena.h - a bump allocator for the memtable.
 *
 * Memory comes in blocks of 4 KiB (larger requests get a block of their
 * own) and is freed all at once by st_arena_free(). Not thread-safe for
 * allocation: the memtable allocates only under the database's write lock.
 * st_arena_memory_usage() may be read from any thread (relaxed atomic).
 */
#ifndef ST_ARENA_H
#define ST_ARENA_H

#include <stdatomic.h>
#include <stddef.h>

typedef struct st_arena_block st_arena_block;

typedef struct st_arena {
  char *ptr;              /* next free byte in the current block */
  size_t remaining;       /* bytes left in the current block */
  st_arena_block *blocks; /* every block, newest first */
  atomic_size_t usage;    /* bytes of blocks plus bookkeeping */
} st_arena;

void st_arena_init(st_arena *a);
void st_arena_free(st_arena *a);

/* Returns n bytes (n > 0) aligned to 8, valid until st_arena_free(). NULL
 * when malloc fails. */
void *st_arena_alloc_aligned(st_arena *a, size_t n);

static inline size_t st_arena_memory_usage(const st_arena *a) {
  return atomic_load_explicit(&a->usage, memory_order_relaxed);
}

#endif
