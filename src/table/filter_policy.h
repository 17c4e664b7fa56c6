/*
 * filter_policy.h - filter policies (public type strata_filter_policy):
 * LevelDB's bloom filter and user-supplied ones. A policy turns the user
 * keys of a table region into a filter, and answers "may this key be in
 * the region". Immutable after creation; thread-safe.
 */
#ifndef ST_FILTER_POLICY_H
#define ST_FILTER_POLICY_H

#include "util/buf.h"
#include "util/slice.h"

struct strata_filter_policy {
  char *name;             /* "leveldb.BuiltinBloomFilter2" for the bloom policy */
  int bloom_bits_per_key; /* > 0: the built-in bloom filter */
  int bloom_k;            /* probes per key */
  void *state;
  char *(*create_filter)(void *state, const char *const *keys, const size_t *key_lens, int n,
                         size_t *filter_len);
  int (*key_may_match)(void *state, const char *key, size_t klen, const char *filter,
                       size_t filter_len);
  void (*destructor)(void *state);
};

typedef struct strata_filter_policy st_filter_policy;

/* Appends the filter for keys[0..n) to dst. Errors: STRATA_ENOMEM. */
int st_filter_create(const st_filter_policy *p, const st_slice *keys, int n, st_buf *dst);

/* 1 if key may be in the set the filter was built from. */
int st_filter_may_match(const st_filter_policy *p, st_slice key, st_slice filter);

#endif
