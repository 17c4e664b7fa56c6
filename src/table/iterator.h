/*
 * iterator.h - the internal iterator interface: one shape for memtable,
 * block, table, two-level, merging and database iterators.
 *
 * An iterator is a struct whose first member is `st_iter`; ops points at its
 * functions. Keys and values returned are valid until the next positioning
 * call or destroy. Errors are sticky: status() returns 0 or the first error
 * met (and, when non-zero, sets the thread's error message again so the
 * caller can report it). Not thread-safe.
 *
 * Cleanup: up to two functions registered with st_iter_on_destroy() run
 * (in registration order) when the iterator is destroyed -- e.g. to release
 * a block-cache or table-cache handle that the iterator's memory lives in.
 */
#ifndef ST_ITERATOR_H
#define ST_ITERATOR_H

#include "util/slice.h"

typedef struct st_iter st_iter;

/* What an iterator knows of how its current entry is stored (see
 * st_iter_stored): lone is set when the entry is the only one in its data
 * block; stored is then that block exactly as it lies in its table file --
 * contents as stored (maybe compressed), type byte and masked crc32c --
 * or empty when no table level has filled it in. */
typedef struct st_stored_entry {
  int lone;
  st_slice stored;
} st_stored_entry;

typedef struct st_iter_ops {
  int (*valid)(const st_iter *it);
  void (*seek_to_first)(st_iter *it);
  void (*seek_to_last)(st_iter *it);
  void (*seek)(st_iter *it, st_slice target); /* first key >= target */
  void (*next)(st_iter *it);                  /* REQUIRE valid */
  void (*prev)(st_iter *it);                  /* REQUIRE valid */
  st_slice (*key)(const st_iter *it);         /* REQUIRE valid */
  st_slice (*value)(const st_iter *it);       /* REQUIRE valid */
  int (*status)(const st_iter *it);
  void (*destroy)(st_iter *it); /* frees the iterator's own memory */
  /* Optional (NULL: not known). REQUIRE valid. Returns 1 and fills *out
   * when the current entry's block is known (see st_stored_entry). */
  int (*stored)(const st_iter *it, st_stored_entry *out);
} st_iter_ops;

typedef void (*st_cleanup_fn)(void *arg1, void *arg2);

struct st_iter {
  const st_iter_ops *ops;
  st_cleanup_fn cleanup[2];
  void *cleanup_arg[2][2];
};

static inline void st_iter_init(st_iter *it, const st_iter_ops *ops) {
  it->ops = ops;
  it->cleanup[0] = it->cleanup[1] = NULL;
}

/* Registers fn(a1, a2) to run at destroy. At most two per iterator
 * (asserted). */
void st_iter_on_destroy(st_iter *it, st_cleanup_fn fn, void *a1, void *a2);

/* Runs the cleanups, then ops->destroy. NULL is a no-op. */
void st_iter_destroy(st_iter *it);

static inline int st_iter_valid(const st_iter *it) { return it->ops->valid(it); }
static inline void st_iter_seek_to_first(st_iter *it) { it->ops->seek_to_first(it); }
static inline void st_iter_seek_to_last(st_iter *it) { it->ops->seek_to_last(it); }
static inline void st_iter_seek(st_iter *it, st_slice t) { it->ops->seek(it, t); }
static inline void st_iter_next(st_iter *it) { it->ops->next(it); }
static inline void st_iter_prev(st_iter *it) { it->ops->prev(it); }
static inline st_slice st_iter_key(const st_iter *it) { return it->ops->key(it); }
static inline st_slice st_iter_value(const st_iter *it) { return it->ops->value(it); }
static inline int st_iter_status(const st_iter *it) { return it->ops->status(it); }

/* For a compaction that copies a block whose only entry it keeps, instead
 * of decoding and re-encoding it. Block iterators report lone, table
 * iterators add the stored block, level and merging iterators pass on
 * their current child's answer; any other iterator returns 0. The slice in
 * out->stored is valid until the thread's next block read. */
static inline int st_iter_stored(const st_iter *it, st_stored_entry *out) {
  return it->ops->stored ? it->ops->stored(it, out) : 0;
}

/* An iterator over nothing, whose status is `code` (0 for a plain empty
 * iterator; an error code to carry an error, with the thread's current
 * message captured). NULL only when out of memory. */
st_iter *st_iter_empty(int code);

#endif
