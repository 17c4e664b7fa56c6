/* arena.c - bump allocator (see arena.h). */
#include "util/arena.h"

#include <stdlib.h>

#define ARENA_BLOCK 4096

struct st_arena_block {
  st_arena_block *next;
  /* followed by the block's bytes, 8-aligned by the header's size */
  max_align_t data[];
};

void st_arena_init(st_arena *a) {
  a->ptr = NULL;
  a->remaining = 0;
  a->blocks = NULL;
  atomic_init(&a->usage, 0);
}

void st_arena_free(st_arena *a) {
  st_arena_block *b = a->blocks;
  while (b) {
    st_arena_block *next = b->next;
    free(b);
    b = next;
  }
  st_arena_init(a);
}

static char *new_block(st_arena *a, size_t n) {
  st_arena_block *b = malloc(sizeof *b + n);
  if (!b) return NULL;
  b->next = a->blocks;
  a->blocks = b;
  atomic_fetch_add_explicit(&a->usage, n + sizeof *b, memory_order_relaxed);
  return (char *)b->data;
}

void *st_arena_alloc_aligned(st_arena *a, size_t n) {
  n = (n + 7) & ~(size_t)7;
  if (n <= a->remaining) {
    char *r = a->ptr;
    a->ptr += n;
    a->remaining -= n;
    return r;
  }
  if (n > ARENA_BLOCK / 4) return new_block(a, n); /* keep the current block */
  char *blk = new_block(a, ARENA_BLOCK);
  if (!blk) return NULL;
  a->ptr = blk + n;
  a->remaining = ARENA_BLOCK - n;
  return blk;
}
