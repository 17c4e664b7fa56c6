/*
 * txn.h - what db_iter.c needs of a transaction (strata_txn, txn.c) to run
 * a transaction's iterator. Not thread-safe: a transaction and its
 * iterators are used by one thread at a time (strata.h).
 */
#ifndef ST_TXN_H
#define ST_TXN_H

#include <stdint.h>

#include "strata.h"
#include "util/slice.h"

/* Before a positioning call of one of txn's iterators: STRATA_EMISUSE
 * (message set) when txn has ended; else 0 and in *ops the number of
 * writes the transaction holds, all of them visible to its iterators from
 * now on. */
int st_txn_iter_check(strata_txn *txn, uint64_t *ops);

/* The sequence number at which an iterator sees txn's snapshot plus its
 * first ops writes. */
uint64_t st_txn_read_sequence(const strata_txn *txn, uint64_t ops);

/* Records that the transaction read the stored key (its commit checks it).
 * A no-op for read transactions. Errors: STRATA_ENOMEM. */
int st_txn_note_read(strata_txn *txn, st_slice key);

#endif
