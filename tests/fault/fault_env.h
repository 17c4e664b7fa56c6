/*
 * fault_env.h - a fault-injecting env for tests, over the in-memory env
 * (strata_env_memory()). It passes every call on to the memory env and
 * keeps, beside it, a model of what a real file system would have made
 * durable, so a test can
 *  - make the Nth call of a kind fail (once, or from then on for good),
 *    with a message naming the call and the file, as an I/O error would;
 *  - "cut the power" at the Nth mutating call: from then on every mutating
 *    call fails and changes nothing; once every handle on the env is
 *    closed, fe_power_on() replaces the files by what survived the cut.
 *
 * The durability model (POSIX as databases must assume it):
 *  - A file's bytes are durable up to its last successful sync (of any
 *    writable file open on it). Bytes appended after it survive a cut
 *    according to the cut's data mode: dropped, replaced by zeros (the
 *    size reached the disk, the data did not), a random prefix kept (the
 *    rest dropped or zeroed: a torn write), or all kept.
 *  - Directory operations -- creating a file (new_wfile, new_appendable or
 *    lock_file of a missing name), removing and renaming one -- are durable
 *    once the directory holding the name was synced (sync_dir) after them.
 *    Until then they are pending, in call order; a cut keeps all of them,
 *    none of them, or a random prefix (a journaling file system applies
 *    them in order). A removed or replaced file stays available for a
 *    revert until its removal is durable.
 *  - new_wfile on an existing name counts as replacing the file by a new,
 *    empty one (LevelDB and Strata never truncate a file they still need).
 *  - Directories themselves are durable as soon as they are made.
 *
 * Mutating calls (counted for cuts): new_wfile, new_appendable, append,
 * flush, sync, close of a writable file, rename, remove_file, remove_dir,
 * create_dir, sync_dir, lock_file. Reads, opens for reading, exists,
 * is_dir, children and file_size are not; after a cut they still see the
 * files as they were just before it.
 *
 * Thread safety: one mutex guards the model and is held across each call
 * into the memory env (so renames, which take two steps there, look atomic
 * to other threads). Every function may be called from any thread. A hook
 * (fe_set_hook) runs under that mutex and must not call the env.
 *
 * Ownership: fe_new() returns an env the caller frees with fe_free() after
 * every database and file object using it is closed. fe_strata_env() is
 * borrowed from it.
 */
#ifndef STRATA_FAULT_ENV_H
#define STRATA_FAULT_ENV_H

#include <stdint.h>
#include <stdio.h>

#include "strata.h"

typedef struct fe_env fe_env;

/* The kinds of call a fault can be injected into. */
typedef enum fe_kind {
  FE_OPEN,     /* new_wfile, new_appendable, new_seqfile, new_rafile */
  FE_APPEND,   /* append to a writable file */
  FE_FLUSH,    /* flush of a writable file */
  FE_SYNC,     /* sync of a writable file */
  FE_CLOSE,    /* close of a writable file (it is freed all the same) */
  FE_READ,     /* read or skip of a sequential file, read of a random-access one */
  FE_RENAME,   /* rename */
  FE_REMOVE,   /* remove_file, remove_dir */
  FE_SYNC_DIR, /* sync_dir */
  FE_MKDIR,    /* create_dir */
  FE_LOCK,     /* lock_file */
  FE_NKINDS
} fe_kind;

/* "append", "sync", ...: the name used in messages. */
const char *fe_kind_name(fe_kind kind);

/* A new env over a new, empty in-memory env; NULL when out of memory. */
fe_env *fe_new(void);
/* Frees the env and its files. Every file object and database on it must
 * be closed first. NULL is a no-op. */
void fe_free(fe_env *fe);
/* The strata_env to put in strata_options.env (owned by fe). */
strata_env *fe_strata_env(fe_env *fe);

/* ---- Injected errors ---------------------------------------------------- */

/* Makes the nth call (1 = the next one) of `kind` counted from now fail
 * with STRATA_EIO and no effect; with persistent, every later call of that
 * kind fails too. With path_suffix (may be NULL; copied), only calls whose
 * path ends with it are counted and failed. At most 8 rules are armed at
 * once; returns 0, or -1 when there is no room. */
int fe_fail_nth(fe_env *fe, fe_kind kind, uint64_t nth, int persistent, const char *path_suffix);

/* A hook consulted before each call (path2 is rename's target, else
 * NULL); returning non-zero fails the call as a rule would. Runs under the
 * env's mutex: it must not call the env. fn NULL removes the hook. */
typedef int (*fe_hook_fn)(void *arg, fe_kind kind, const char *path, const char *path2);
void fe_set_hook(fe_env *fe, fe_hook_fn fn, void *arg);

/* Disarms every rule and the hook. */
void fe_clear_faults(fe_env *fe);

/* Errors injected so far (rules and hook; power-cut failures not counted). */
uint64_t fe_injected(fe_env *fe);
/* Calls of kind made so far (failed ones included). */
uint64_t fe_calls(fe_env *fe, fe_kind kind);

/* ---- Power cuts --------------------------------------------------------- */

/* What happens at a cut to bytes not yet synced. */
typedef enum fe_data_mode {
  FE_DATA_DROP,        /* the file ends at its last sync */
  FE_DATA_ZERO,        /* the unsynced bytes read as zeros */
  FE_DATA_PREFIX,      /* a random prefix of them survives, the rest dropped */
  FE_DATA_PREFIX_ZERO, /* a random prefix survives, ending at a file offset that is a
                          multiple of 512 (a sector), and the rest reads as zeros */
  FE_DATA_KEEP,        /* all of them survive */
  FE_DATA_NMODES
} fe_data_mode;

/* What happens at a cut to directory operations not yet made durable. */
typedef enum fe_dir_mode {
  FE_DIR_REVERT, /* none survives */
  FE_DIR_PREFIX, /* a random prefix of them survives (in call order) */
  FE_DIR_KEEP,   /* all survive */
  FE_DIR_NMODES
} fe_dir_mode;

typedef struct fe_cut_opts {
  fe_data_mode data;
  fe_dir_mode dir;
  uint64_t seed; /* picks the random prefixes */
} fe_cut_opts;

/* Arms a cut at the nth mutating call counted from now (1 = the next):
 * that call and every later mutating call fail ("power is off") and do
 * nothing. Replaces an armed cut that has not happened yet. */
void fe_cut_at(fe_env *fe, uint64_t nth, const fe_cut_opts *opts);
/* Cuts the power now (if it is still on). */
void fe_cut_now(fe_env *fe, const fe_cut_opts *opts);
/* Disarms a cut that has not happened yet. */
void fe_cut_disarm(fe_env *fe);
/* 1 once the power is off. */
int fe_power_is_off(fe_env *fe);
/* Mutating calls made so far (failed ones included). */
uint64_t fe_mutating_calls(fe_env *fe);

/* Restores power after a cut: the files become exactly what survived it,
 * all of it durable, and every call works again. Every file object and
 * database on the env must be closed. Returns 0, or -1 when out of memory
 * (the env is then unusable) or when the power is on. */
int fe_power_on(fe_env *fe);

/* What the last cut did, for reports. */
typedef struct fe_cut_report {
  uint64_t files;           /* files that survived */
  uint64_t bytes_lost;      /* unsynced bytes dropped or zeroed */
  uint64_t dir_ops_pending; /* directory operations pending at the cut */
  uint64_t dir_ops_kept;    /* of which survived */
} fe_cut_report;
void fe_last_cut(fe_env *fe, fe_cut_report *out);

/* ---- Files, for tests ---------------------------------------------------- */

/* The current bytes of path into a malloc'd *data (free it) and *len.
 * 0, or a STRATA_E* code. Not counted, never failed. */
int fe_read_whole(fe_env *fe, const char *path, char **data, size_t *len);
/* Replaces path's bytes (as if written and synced; the name's durability
 * unchanged if it existed, durable if new). Not counted, never failed. */
int fe_write_whole(fe_env *fe, const char *path, const char *data, size_t len);

/* Prints every call ("sync /db/000005.log") to f (NULL: stop). */
void fe_set_trace(fe_env *fe, FILE *f);

#endif
