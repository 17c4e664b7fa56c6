/*
 * merger.h - the merging iterator: one ordered view over n child iterators
 * (internal-key order), used for database reads and compaction. Moving in
 * either direction is supported. Duplicate keys are yielded once per child
 * that holds them. Not thread-safe.
 */
#ifndef ST_MERGER_H
#define ST_MERGER_H

#include "table/iterator.h"
#include "util/comparator.h"

/* Takes ownership of children[0..n) (destroyed with the merger; the array
 * itself is copied). ucmp borrowed. n may be 0 or 1. NULL when out of
 * memory (children are destroyed then). */
st_iter *st_merging_iter_new(const st_comparator *ucmp, st_iter **children, int n);

#endif
