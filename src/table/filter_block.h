/*
 * filter_block.h - the filter meta block of a sorted table (LevelDB's
 * "filter.<policy name>" block; layout at the top of filter_block.c).
 *
 * The block holds one filter per 2 KiB range of data-block file offsets:
 * filter i summarises the user keys of every data block whose offset lies
 * in [i * 2048, (i + 1) * 2048). A point lookup asks the filter of the
 * block the index points at before reading that block.
 *
 * The builder is used by one thread (the table builder); a reader is
 * immutable once initialised and may be used by many threads at once (as
 * the policy's key_may_match must be thread-safe).
 */
#ifndef ST_FILTER_BLOCK_H
#define ST_FILTER_BLOCK_H

#include <stddef.h>
#include <stdint.h>

#include "table/filter_policy.h"
#include "util/buf.h"
#include "util/slice.h"

/* log2 of the size of the offset range one filter covers (2 KiB); the
 * value LevelDB writes into every filter block. */
#define ST_FILTER_BASE_LG 11

typedef struct st_filter_block_builder {
  const st_filter_policy *policy; /* borrowed */
  st_buf keys;                    /* the current range's keys, each varint32-length-prefixed */
  int nkeys;                      /* keys in `keys` */
  st_slice *slices;               /* scratch: the keys as slices, for the policy */
  int slices_cap;                 /* entries allocated in slices */
  st_buf result;                  /* the filters made so far; after finish, the block */
  st_buf offsets;                 /* fixed32 offset in result of each filter made */
  uint64_t nfilters;              /* filters made (entries of offsets) */
} st_filter_block_builder;

/* Initialises an empty builder for policy (borrowed: must outlive the
 * builder). Allocates nothing. Release with st_filter_block_builder_free. */
void st_filter_block_builder_init(st_filter_block_builder *b, const st_filter_policy *policy);

void st_filter_block_builder_free(st_filter_block_builder *b);

/* Announces that the next keys belong to the data block starting at file
 * offset block_offset. Call with 0 before the first key, then with the
 * offset of each later data block; offsets never decrease. Makes the
 * filters of every range before block_offset's range.
 * Errors: STRATA_ENOMEM (also when a user policy returns no filter). */
int st_filter_block_start(st_filter_block_builder *b, uint64_t block_offset);

/* Adds a user key (copied) to the current data block. Every key given is
 * passed on to the policy, repeats included, as LevelDB does: the filter
 * bytes then match LevelDB's for the same entries. Errors: STRATA_ENOMEM. */
int st_filter_block_add_key(st_filter_block_builder *b, st_slice user_key);

/* Makes the last filter and lays out the block; *out is valid until the
 * builder is freed. Call once, after the last key.
 * Errors: STRATA_ENOMEM (also when a user policy returns no filter). */
int st_filter_block_finish(st_filter_block_builder *b, st_slice *out);

typedef struct st_filter_block_reader {
  const st_filter_policy *policy; /* borrowed */
  const char *data;               /* the block; filters lie before the offset array */
  const char *array;              /* num + 1 fixed32: each filter's start, then the
                                     array's own offset (the end of the last filter) */
  uint32_t num;                   /* filters in the block */
  int base_lg;                    /* a filter covers 2^base_lg bytes of offsets */
} st_filter_block_reader;

/* Parses the block in contents (borrowed: must outlive the reader) for
 * policy (borrowed). Returns 1, or 0 when the block is malformed (too
 * short, offsets out of bounds or decreasing, a range size that does not
 * fit in 64 bits): then the block must not be used. Sets no error message:
 * the caller knows the file. */
int st_filter_block_reader_init(st_filter_block_reader *r, const st_filter_policy *policy,
                                st_slice contents);

/* 0 when user_key is certainly absent from the data block at file offset
 * block_offset, 1 when it may be present (also when the block lies past
 * the filters: no filter is no answer). Allocates nothing. */
int st_filter_block_may_match(const st_filter_block_reader *r, uint64_t block_offset,
                              st_slice user_key);

#endif
