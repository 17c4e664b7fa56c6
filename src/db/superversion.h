/*
 * superversion.h - what a read needs (the memtable, the immutable memtable
 * being flushed, the current version) as one reference-counted object, and
 * a per-thread cache of it, so that a point read takes what it needs
 * without a read-modify-write on a cache line other threads use (which
 * would bounce the line between cores on every read). The design follows
 * RocksDB's thread-local SuperVersion (ColumnFamilyData::
 * GetThreadLocalSuperVersion); this is a fresh C implementation of the
 * same protocol.
 *
 * Objects
 *   st_superversion  {number, mem, imm (may be NULL), current, sequence
 *                    (read-only handles only)}: holds one
 *                    reference on each of the three. Immutable once
 *                    installed; freed when its last reference goes.
 *   st_sv_registry   one per database (inside strata_db): the installed
 *                    superversion (the registry holds one reference on
 *                    it), its number, and the list of thread slots.
 *   slot             one per (thread, database) pair that has read: one
 *                    word, on a cache line of its own, holding the
 *                    thread's cached superversion (and the reference that
 *                    goes with it), or IN_USE while the thread reads, or
 *                    OBSOLETE (nothing cached).
 *
 * The protocol
 *   Install (writer side; the database mutex held): publish the new
 *   superversion and its number (release), then exchange every slot with
 *   OBSOLETE and unref the superversions taken out, then unref the old
 *   one. A slot that held IN_USE is marked OBSOLETE too, which tells its
 *   reader to unref the superversion it is using when it is done.
 *
 *   st_sv_get (reader): exchange the thread's slot with IN_USE -- a
 *   read-modify-write, but on a line only this thread writes (installs
 *   are rare), so it stays in this core's cache. If it held a
 *   superversion whose number equals the registry's (an acquire load of a
 *   line written only by installs), use it: no reference count changes.
 *   Otherwise drop what was there and take a reference on the installed
 *   one under the registry's small mutex (the slow path, once per thread
 *   after each install).
 *
 *   st_sv_put (reader): compare-and-swap the slot from IN_USE back to the
 *   superversion. If that fails an install marked the slot OBSOLETE
 *   meanwhile, and the reader unrefs the superversion instead.
 *
 *   Because an install marks every slot before the database mutex is
 *   released, anything that happens after an install completed (such as
 *   a write into the new memtable being acknowledged) is followed by
 *   every later st_sv_get seeing OBSOLETE and taking the new superversion.
 *   A slot therefore only ever caches the installed superversion, or the
 *   one an install in progress is replacing (whose reference the
 *   installer still holds until it has marked every slot).
 *
 * Lifetimes
 *   - A thread finds its slots through a small per-thread table keyed by
 *     the registry's id (unique for the life of the process, never reused,
 *     so a database closed and another opened at the same address are
 *     never confused). The table hangs on one process-wide pthread key, not
 *     one per database: PTHREAD_KEYS_MAX is small and a process may open
 *     many databases.
 *   - Thread exit (the key's destructor) drops the thread's cached
 *     references and frees its slots. The reference it drops is never the
 *     last one (see above); if it somehow were, the slot is left to the
 *     next install or the close, which hold the database mutex needed to
 *     free a version.
 *   - st_sv_registry_destroy (database close) frees every slot of the
 *     database, including those of threads still alive, and clears their
 *     table entries; those threads later find no entry and, if they read
 *     another database, register anew.
 *   - Slots are linked into their registry and their thread's table under
 *     one process-wide mutex (registration, thread exit, install, close --
 *     all rare). Lock order: database mutex, then that mutex; the
 *     registry's own mutex is never held while taking another.
 *
 * Thread-safety: st_sv_get, st_sv_put, st_sv_ref and st_sv_unref_unlocked
 * may be called from any thread without locks. st_sv_install and
 * st_sv_unref need the database mutex. st_sv_get/put pairs do not nest on
 * one registry in one thread in the library; if a user callback (say a
 * comparator) nested them, the inner st_sv_get would find IN_USE and take
 * a reference of its own, and the counts would still come out right.
 * Out of memory for a slot also falls back to taking and dropping a
 * reference: st_sv_get never fails.
 */
#ifndef ST_SUPERVERSION_H
#define ST_SUPERVERSION_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "db/memtable.h"
#include "db/version_set.h"

typedef struct st_superversion {
  /* Read by every read; never written once installed. */
  uint64_t number; /* the registry's install count when installed */
  st_memtable *mem;
  st_memtable *imm;    /* may be NULL */
  st_version *current; /* the current version when installed */
  pthread_mutex_t *mu; /* the database mutex (to free a version) */
  /* Read-only handles (db_readonly.c): the last sequence number of this
   * state, which every read through it uses, set before the install (a
   * handle's sequence and its memtables and version change together).
   * 0 and unused on other handles. */
  uint64_t sequence;
  /* Written by slow paths and iterators only: kept off the line above. */
  _Alignas(64) atomic_int refs;
} st_superversion;

typedef struct st_sv_slot st_sv_slot;

typedef struct st_sv_registry {
  /* Read by every read; written only by installs. */
  _Alignas(64) _Atomic uint64_t number; /* number of the installed superversion */
  uint64_t id;                          /* [const] unique; keys thread tables */
  /* Installs and slow paths. */
  _Alignas(64) pthread_mutex_t mu; /* guards taking a reference on current */
  st_superversion *current;        /* [db mu + mu to change; mu to ref] */
  pthread_mutex_t *db_mu;          /* [const] */
  st_sv_slot *slots;               /* [process-wide slot mutex] */
  int nslots;                      /* [process-wide slot mutex] */
} st_sv_registry;

/* Initialises r, with nothing installed yet. db_mu is the database mutex. */
void st_sv_registry_init(st_sv_registry *r, pthread_mutex_t *db_mu);

/* Frees every slot (of every thread) and drops the installed superversion.
 * REQUIRE: no read of this registry in flight or to come (database close);
 * no other thread needs db_mu. Safe on a registry that never installed. */
void st_sv_registry_destroy(st_sv_registry *r);

/* A blank superversion for st_sv_install, allocated ahead so an install
 * cannot fail halfway. NULL when out of memory. Free an unused one with
 * free(). */
st_superversion *st_sv_new(void);

/* Makes fresh (from st_sv_new) the installed superversion of {mem, imm,
 * v}, taking a reference on each, and marks every thread's slot OBSOLETE
 * (see the protocol above). REQUIRE: db mu held. */
void st_sv_install(st_sv_registry *r, st_superversion *fresh, st_memtable *mem, st_memtable *imm,
                   st_version *v);

/* The installed superversion for this thread to read; hand it back with
 * st_sv_put. Usually no atomic on a shared line. Never NULL (after the
 * first install). */
st_superversion *st_sv_get(st_sv_registry *r);
/* Ends the use of sv from st_sv_get (on the same thread). */
void st_sv_put(st_sv_registry *r, st_superversion *sv);

/* A reference on the installed superversion taken without this thread's
 * slot (so without registering one): for one-off reads by the library
 * itself, such as open reading the sub-database catalog. Drop it with
 * st_sv_unref_unlocked. */
st_superversion *st_sv_acquire(st_sv_registry *r);

/* An extra reference (for an iterator, which keeps sv past st_sv_put). */
void st_sv_ref(st_superversion *sv);
/* Drops a reference, freeing sv at zero. REQUIRE: db mu held. */
void st_sv_unref(st_superversion *sv);
/* Drops a reference without db mu held (takes it only if a version has to
 * be freed). */
void st_sv_unref_unlocked(st_superversion *sv);

/* For tests: the reference count of sv, and how many slots r has. */
int st_sv_refs(const st_superversion *sv);
int st_sv_registry_nslots(st_sv_registry *r);

#endif
