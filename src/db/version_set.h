/*
 * version_set.h - versions (the set of live tables per level), the
 * MANIFEST that records every change to them, and the choice of what to
 * compact (LevelDB's leveled design: level 0 holds memtable flushes that
 * may overlap; each level L >= 1 holds non-overlapping tables and may grow
 * to 10^L MiB; L0 is compacted at 4 files).
 *
 * Locking: every function here is called with the database mutex held,
 * except st_version_get(), st_version_add_iterators() and
 * st_vset_make_input_iterator(), which only read an immutable version the
 * caller holds a reference on, and st_vset_log_and_apply(), which releases
 * the mutex while it writes the MANIFEST (only one thread -- the background
 * thread, or open -- may call it at a time).
 *
 * Implemented in three files: version_set.c (versions, builder, MANIFEST),
 * compaction.c (what to compact, overlap queries), version_read.c (point
 * lookups, iterators, approximate offsets).
 */
#ifndef ST_VERSION_SET_H
#define ST_VERSION_SET_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "db/log_writer.h"
#include "db/table_cache.h"
#include "db/version_edit.h"
#include "env/env.h"
#include "util/buf.h"
#include "util/comparator.h"

#define ST_L0_COMPACTION_TRIGGER 4 /* L0 files that start a compaction */
#define ST_L0_SLOWDOWN_TRIGGER 8   /* ... that delay each write ST_L0_SLOWDOWN_MICROS */
/* LevelDB sleeps 1 ms, partly to hand a core shared with its one background
 * thread over to compaction. Here compactions run on two threads and the
 * delay only has to slow the writer; 1 ms is also several times the cost of
 * a large write (fill100K: 530 -> 430 us per 100 KB write with 100 us, no
 * change beyond noise on small writes; doc/performance.md). */
#define ST_L0_SLOWDOWN_MICROS 100
#define ST_L0_STOP_TRIGGER 12      /* ... that stop writes until compacted */
#define ST_MAX_MEM_COMPACT_LEVEL 2 /* deepest level a flush may land in */

/* One table. Shared by versions (refs, under the db mutex); immutable but
 * for allowed_seeks, which readers decrement without the lock. */
typedef struct st_file_meta {
  int refs;
  atomic_int allowed_seeks; /* seeks allowed before a seek compaction */
  uint64_t number;
  uint64_t file_size;
  st_slice smallest; /* internal keys, stored after the struct */
  st_slice largest;
} st_file_meta;

typedef struct st_version_set st_version_set;

typedef struct st_version {
  st_version_set *vset;
  struct st_version *prev, *next;      /* list of live versions */
  atomic_int refs;                     /* taken under the db mutex; may be dropped without it
                                          (st_version_unref_unlocked) */
  st_file_meta **files[ST_NUM_LEVELS]; /* L0 by file number; others sorted */
  int nfiles[ST_NUM_LEVELS];
  double compaction_score; /* >= 1 means a compaction is needed */
  int compaction_level;
  st_file_meta *file_to_compact; /* seek compaction candidate */
  int file_to_compact_level;
} st_version;

struct st_version_set {
  st_env *env;
  char *dbname;
  const st_comparator *ucmp;
  uint64_t max_file_size;
  int paranoid_checks;
  st_table_cache *tc;

  uint64_t next_file_number;
  uint64_t manifest_file_number;
  uint64_t last_sequence;
  uint64_t log_number;
  uint64_t prev_log_number;

  st_log_writer *manifest;               /* NULL until the first log_and_apply */
  st_version dummy;                      /* head of the circular list of versions */
  st_version *current;                   /* [mu] readers without mu use the database's
                                            superversion, reinstalled on each change */
  st_buf compact_pointer[ST_NUM_LEVELS]; /* where the next compaction of
                                            each level starts */
};

/* A compaction: inputs from `level` and level+1, output to level+1. */
typedef struct st_compaction {
  int level;
  uint64_t max_output_file_size;
  st_version *input_version;
  st_version_edit edit;
  st_file_meta **inputs[2];
  int ninputs[2];
  st_file_meta **grandparents; /* level+2 files overlapping the range */
  int ngrandparents;
} st_compaction;

/* Where one pass over (part of) a compaction's keys has got to, for the
 * two queries below, which are asked with keys in increasing order. Each
 * sub-compaction has its own; a cursor may start at any key (zeroed with
 * st_compaction_cursor_init). */
typedef struct st_compaction_cursor {
  int grandparent_index;
  int seen_key;
  int64_t overlapped_bytes;
  int level_ptrs[ST_NUM_LEVELS]; /* for is_base_level_for_key */
} st_compaction_cursor;

void st_compaction_cursor_init(st_compaction_cursor *cur);

int st_vset_init(st_version_set *vs, st_env *env, const char *dbname, const st_comparator *ucmp,
                 uint64_t max_file_size, int paranoid_checks, st_table_cache *tc);
void st_vset_destroy(st_version_set *vs);

/* Reads CURRENT and the MANIFEST it names, building the current version.
 * Errors: STRATA_ECORRUPTION (naming CURRENT or the MANIFEST), STRATA_EINVAL
 * (comparator name mismatch, naming both), STRATA_EIO, STRATA_ENOMEM. */
int st_vset_recover(st_version_set *vs);

/* Applies edit to the current version, appends it to the MANIFEST (a new
 * one holding a snapshot of the whole state the first time), syncs it, and
 * installs the result as current. mu is the db mutex, held on entry and
 * exit and released during the MANIFEST write. On error current is
 * unchanged. */
int st_vset_log_and_apply(st_version_set *vs, st_version_edit *edit, pthread_mutex_t *mu);

/* For read-only handles (db_readonly.c), which follow a MANIFEST another
 * process writes: builds a version from the current one (or, with fresh,
 * from an empty one, for a MANIFEST read from its start) plus edits[0..n)
 * in order, and makes it current. Writes nothing; the edits' counters (log
 * number, last sequence, ...) are the caller's to keep. Errors:
 * STRATA_ECORRUPTION (tables overlapping in a level), STRATA_ENOMEM;
 * current is unchanged on error. REQUIRE: mu held. */
int st_vset_apply_edits(st_version_set *vs, st_version_edit *const *edits, size_t n, int fresh);

static inline uint64_t st_vset_new_file_number(st_version_set *vs) {
  return vs->next_file_number++;
}
static inline void st_vset_mark_file_number_used(st_version_set *vs, uint64_t n) {
  if (vs->next_file_number <= n) vs->next_file_number = n + 1;
}
/* Gives back a number from st_vset_new_file_number if it was not used. */
static inline void st_vset_reuse_file_number(st_version_set *vs, uint64_t n) {
  if (vs->next_file_number == n + 1) vs->next_file_number = n;
}

int st_vset_num_level_files(const st_version_set *vs, int level);
uint64_t st_vset_level_bytes(const st_version_set *vs, int level);

/* Calls fn(arg, number) for every table of every live version. */
void st_vset_live_files(st_version_set *vs, void (*fn)(void *, uint64_t), void *arg);

/* True when a size or seek compaction is due. */
int st_vset_needs_compaction(const st_version_set *vs);

/* The next compaction to run, or NULL (or NULL with *rc set when out of
 * memory). Caller frees with st_compaction_free(). */
st_compaction *st_vset_pick_compaction(st_version_set *vs, int *rc);

/* A compaction of the files of `level` overlapping [begin, end] (internal
 * keys, NULL = open), limited in size for level > 0; NULL if none. */
st_compaction *st_vset_compact_range(st_version_set *vs, int level, const st_slice *begin,
                                     const st_slice *end, int *rc);

/* An iterator over every input of c (merged). NULL when out of memory. */
st_iter *st_vset_make_input_iterator(st_version_set *vs, st_compaction *c);

/* Called when the merged inputs of c gave a malformed internal key or keys
 * out of order: reads each input table again to name the first one at
 * fault (keys out of order or malformed inside it, or a deeper-level table
 * whose first key is not above the previous table's last) and returns
 * STRATA_ECORRUPTION with that message, or with a general one when no
 * single table is at fault. Errors reading the tables are returned as
 * they are. Slow (a scan of every input): for the error path only. */
int st_vset_input_order_error(st_version_set *vs, st_compaction *c);

int st_compaction_is_trivial_move(const st_compaction *c);
/* Records deletion of every input file in c->edit. */
int st_compaction_add_input_deletions(st_compaction *c);
/* True if no level below the output level can hold user_key (so a deletion
 * marker for it may be dropped). */
int st_compaction_is_base_level_for_key(const st_compaction *c, st_compaction_cursor *cur,
                                        st_slice user_key);
/* True if the current output should be closed before ikey (it would
 * overlap too much of level+2). */
int st_compaction_should_stop_before(const st_compaction *c, st_compaction_cursor *cur,
                                     st_slice ikey);
void st_compaction_free(st_compaction *c); /* unrefs its input version */

void st_version_ref(st_version *v);   /* REQUIRE: mu held */
void st_version_unref(st_version *v); /* REQUIRE: mu held */
/* Drops a reference without holding mu (taking it only if this was the
 * last reference, to unlink the version). A version that is current never
 * reaches zero here, since the version set holds a reference on it. */
void st_version_unref_unlocked(st_version *v, pthread_mutex_t *mu);

/* Point lookup of user_key at sequence seq in v: ST_MEM_FOUND (value copied
 * into *val), ST_MEM_DELETED, ST_MEM_ABSENT (memtable.h codes), or an error.
 * No lock needed (caller holds a ref on v). */
typedef struct st_get_stats {
  st_file_meta *seek_file; /* the file to charge a seek, or NULL */
  int seek_level;
} st_get_stats;

int st_version_get(st_version *v, const st_read_opts *ro, st_slice lookup_ikey, st_buf *val,
                   st_get_stats *stats);

/* Like st_version_get without copying the value: the state of the newest
 * entry at or below the lookup key's sequence, and its sequence number in
 * *seq when there is one. No seek is charged. */
int st_version_newest(st_version *v, const st_read_opts *ro, st_slice lookup_ikey, uint64_t *seq);

/* Charges the seek recorded in stats (no lock needed); returns 1 when the
 * file ran out of allowed seeks (and now and then after that, until it is
 * compacted), so st_version_mark_seek_compaction should be called. */
int st_version_charge_seek(const st_get_stats *stats);
/* Makes stats' file the version's seek-compaction candidate if it has none.
 * REQUIRE: mu held. */
void st_version_mark_seek_compaction(st_version *v, const st_get_stats *stats);

/* Appends to *iters (growing it; *n updated) one iterator per L0 file and
 * one per non-empty deeper level. Errors: STRATA_ENOMEM. */
int st_version_add_iterators(st_version *v, const st_read_opts *ro, st_iter ***iters, int *n,
                             int *cap);

/* True if some file of `level` overlaps [smallest, largest] (user keys;
 * NULL = open). */
int st_version_overlap_in_level(st_version *v, int level, const st_slice *smallest_user,
                                const st_slice *largest_user);

/* The level a new memtable table with this user-key range should go to. */
int st_version_pick_level_for_memtable_output(st_version *v, st_slice smallest_user,
                                              st_slice largest_user);

/* Approximate bytes of v's tables that lie before ikey. */
uint64_t st_version_approximate_offset(st_version *v, st_slice ikey);

#endif
