/*
 * two_level_iter.h - an iterator over an index iterator whose values name
 * blocks (or files): for each index entry, block_fn opens the iterator over
 * what the value names. Used for a table's index -> data blocks and for a
 * level's file list -> tables. Errors from block_fn or children are sticky
 * in status(). Not thread-safe.
 *
 * An error stops the iterator: when a second-level iterator reports a
 * non-OK status (e.g. a block failed its checksum), the two-level iterator
 * becomes invalid there, instead of skipping the block and yielding the
 * keys after it, and later positioning calls leave it invalid. status()
 * then returns the error. An index iterator error likewise ends iteration.
 */
#ifndef ST_TWO_LEVEL_ITER_H
#define ST_TWO_LEVEL_ITER_H

#include "table/iterator.h"

/* Opens the second-level iterator for index value `handle`. Returns an
 * iterator (possibly an st_iter_empty(err) carrying an error) or NULL when
 * out of memory. */
typedef st_iter *(*st_block_fn)(void *arg, st_slice handle);

/* Takes ownership of index_iter. NULL when out of memory (index_iter is
 * destroyed then). */
st_iter *st_two_level_iter_new(st_iter *index_iter, st_block_fn block_fn, void *arg);

/* Points *stored at the block that index value `handle` names, as stored
 * (see st_stored_entry). Returns 1 on success, 0 when it cannot. */
typedef int (*st_stored_fn)(void *arg, st_slice handle, st_slice *stored);

/* Makes st_iter_stored() on two_level (made by st_two_level_iter_new)
 * fill in the stored block through fn(arg, handle, ...). */
void st_two_level_iter_set_stored_fn(st_iter *two_level, st_stored_fn fn);

#endif
