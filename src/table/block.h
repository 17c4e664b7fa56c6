/*
 * block.h - a parsed block of a sorted table (layout: the `uncompressed
 * block` rule of table/format.h) and its iterator.
 *
 * Parsing never trusts the bytes: a block whose restart array does not fit
 * is marked malformed, and every varint, length and restart offset is
 * checked against the block's bounds as the iterator reads it. Damage shows
 * as an iterator whose status() is STRATA_ECORRUPTION (message naming the
 * file and block offset), never as a crash or an out-of-bounds read.
 *
 * A block is immutable once initialised and may be read by many iterators
 * on many threads at once (the block cache shares blocks). An iterator is
 * used by one thread at a time.
 */
#ifndef ST_BLOCK_H
#define ST_BLOCK_H

#include <stddef.h>
#include <stdint.h>

#include "table/format.h"
#include "table/iterator.h"
#include "util/comparator.h"

typedef struct st_block {
  const char *data;      /* the block contents */
  size_t size;           /* bytes of data */
  char *heap;            /* malloc'd buffer data lives in, owned; or NULL */
  size_t restarts;       /* offset of the restart array */
  uint32_t num_restarts; /* entries of the restart array */
  int malformed;         /* the restart array does not fit in the block */
  const char *path;      /* file the block came from, for messages; may be
                            NULL (borrowed: must outlive every iterator) */
  uint64_t offset;       /* the block's offset in that file, for messages */
  int verified;          /* its checksum was checked when it was read (set
                            by the reader; st_block_init clears it) */
} st_block;

/* Parses contents into *b, taking ownership of c->heap (c is left empty).
 * Never fails: a malformed block is recorded and its iterators report it.
 * path (borrowed, may be NULL) and offset only name the block in messages.
 */
void st_block_init(st_block *b, st_block_contents *c, const char *path, uint64_t offset);

/* Frees the buffer the block owns (if any). The st_block struct itself is
 * the caller's. REQUIRE: no iterator over b is still in use. */
void st_block_release(st_block *b);

/* Inline room for the current key: keys up to this size never allocate. */
#define ST_BLOCK_KEY_INLINE 120

/* The block iterator. Exposed so that a caller may place one on its stack
 * (st_block_iter_init/fini) for a point lookup without allocating; other
 * users go through st_block_iter_new() and the st_iter interface. Fields are
 * private.
 *
 * Order: when ucmp is non-NULL the keys are internal keys compared with
 * st_icmp(ucmp, ...) (and a key shorter than 8 bytes is corruption); when
 * ucmp is NULL they are plain byte strings in bytewise order (the
 * metaindex). The key returned lives in the iterator (rebuilt from the
 * prefix-compressed entries); the value points into the block. Both stay
 * valid until the next positioning call. */
typedef struct st_block_iter {
  st_iter base;
  const st_comparator *ucmp;
  const st_block *block;
  const char *data;
  size_t restarts; /* offset of the restart array = end of entries */
  uint32_t num_restarts;
  uint32_t restart_index; /* restart run holding the current entry */
  size_t current;         /* offset of the current entry; restarts if none */
  size_t next;            /* offset just past the current entry */
  st_slice value;
  char *key; /* key_inline or a malloc'd buffer */
  size_t key_len, key_cap;
  int status;             /* 0 or STRATA_ECORRUPTION */
  const char *bad_reason; /* static description of the damage */
  size_t bad_at;          /* offset within the block where it was found */
  int owns_block;         /* st_block_iter_new_owned: block freed with it */
  char key_inline[ST_BLOCK_KEY_INLINE];
} st_block_iter;

/* Initialises an iterator in caller memory over b (borrowed: must outlive
 * the iterator). ucmp: see above (borrowed). Never fails. Release with
 * st_block_iter_fini(), not st_iter_destroy(). */
void st_block_iter_init(st_block_iter *it, const st_block *b, const st_comparator *ucmp);

/* Frees what an initialised iterator allocated (a long key's buffer). */
void st_block_iter_fini(st_block_iter *it);

/* A heap iterator over b (borrowed: must outlive it; e.g. a block held by a
 * cache handle released by an st_iter_on_destroy cleanup). Destroy with
 * st_iter_destroy(). NULL when out of memory. */
st_iter *st_block_iter_new(const st_block *b, const st_comparator *ucmp);

/* A heap iterator that owns the block made from *c (parsed as
 * st_block_init does; ownership of c->heap passes to the iterator even on
 * failure, and c is left empty): destroying the iterator frees the block.
 * One allocation for iterator and block. NULL when out of memory. */
st_iter *st_block_iter_new_owned(st_block_contents *c, const st_comparator *ucmp, const char *path,
                                 uint64_t offset);

#endif
