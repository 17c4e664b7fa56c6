/*
 * strata_py.h - the shared declarations of strata._strata, the CPython
 * extension over libstrata (include/strata.h).
 *
 * The extension is the thin, fast core: the engine calls, the buffers and the
 * hot loops. The Python modules over it (strata/__init__.py, strata/plyvel,
 * strata/lmdb) add the compatibility facades and the sugar.
 *
 * Object graph and lifetimes
 * --------------------------
 * A DB object (sp_db) owns the strata_db handle. Every object made from it
 * that holds an engine resource -- an iterator (sp_iter), a snapshot
 * (sp_snapshot), a buffer exporter (sp_pin) -- is a "child": it holds a
 * strong reference to its DB (so the DB object outlives it) and is linked,
 * through the sp_child woven into its struct, into the list of its owner
 * (the DB, or a snapshot for the buffers its gets returned). This is
 * py-lmdb's invalidation-list pattern: DB.close() walks the list and calls
 * each child's invalidate(), which releases the engine resource at once, so
 * the engine can be closed and a Python object left behind raises instead
 * of touching freed memory. A child unlinks itself when it is invalidated
 * or deallocated. Write batches hold no engine resource tied to the handle
 * and are not children; they check that the DB is open at every call.
 *
 * The GIL
 * -------
 * Every engine call that can block or take long (I/O, fsync, waiting on the
 * engine's locks, iterator steps that may read a block) runs with the GIL
 * released, between SP_ENGINE_BEGIN and SP_ENGINE_END, which also count the
 * calls in flight on the DB (sp_db.active). close() marks the DB closed
 * (new calls raise) and waits until no call is in flight before it
 * invalidates the children and closes the engine, so a close from one
 * thread never frees what another thread's call is using. The counters are
 * only touched with the GIL held.
 *
 * fork()
 * ------
 * A pthread_atfork() child handler bumps sp_fork_generation. A DB records
 * the generation it was opened in; in a child process every call on an
 * inherited DB or its children raises strata.Error, and deallocating one
 * never calls the engine (its background threads did not survive the fork,
 * and the parent still owns the files): the handle is leaked in the child.
 */
#ifndef STRATA_PY_H
#define STRATA_PY_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <strata.h>

#include <stddef.h>

#if defined(__GNUC__)
#define SP_LIKELY(x) __builtin_expect(!!(x), 1)
#define SP_UNLIKELY(x) __builtin_expect(!!(x), 0)
#else
#define SP_LIKELY(x) (x)
#define SP_UNLIKELY(x) (x)
#endif

/* ------------------------------------------------------------------------ */
/* Exceptions                                                               */
/* ------------------------------------------------------------------------ */

/* Slots of an error table: the tuple of exception classes a DB raises (set
 * by its Python class, attribute _strata_errors), so strata.DB raises
 * strata.* exceptions and strata.plyvel.DB raises plyvel's own classes with
 * plyvel's bytes messages, both with no per-call wrapper. */
enum {
  SP_E_ERROR = 0,    /* any other engine error */
  SP_E_IO,           /* STRATA_EIO */
  SP_E_CORRUPTION,   /* STRATA_ECORRUPTION */
  SP_E_LOCK,         /* STRATA_EBUSY: database held by another handle */
  SP_E_CONFLICT,     /* STRATA_ECONFLICT */
  SP_E_READONLY,     /* a write on a read-only handle */
  SP_E_ITER_INVALID, /* a raw iterator used while not valid */
  SP_E_CLOSED,       /* a call on a closed DB, iterator, snapshot ... */
  SP_E_NOTFOUND,     /* STRATA_ENOTFOUND where absence is an error */
  SP_E_INVALID,      /* STRATA_EINVAL */
  SP_E_NOTSUP,       /* STRATA_ENOTSUP */
  SP_E_COUNT
};

/* Raises the exception of error-table slot `slot` of errors (a tuple; NULL:
 * the module's default strata.* table) with message msg; as bytes when
 * bytes_messages (plyvel's style). Always returns NULL. */
PyObject *sp_raise_slot(PyObject *errors, int bytes_messages, int slot, const char *msg);

/* Raises the exception for engine result rc (a STRATA_E* code) with the
 * engine's message for the calling thread (strata_errmsg()). */
PyObject *sp_raise_engine(PyObject *errors, int bytes_messages, int rc);

/* The module's default (strata.*) table; set by strata/__init__.py through
 * _strata._set_default_errors(). Borrowed. */
extern PyObject *sp_default_errors;

/* ------------------------------------------------------------------------ */
/* Children (invalidation lists)                                            */
/* ------------------------------------------------------------------------ */

typedef struct sp_child sp_child;
struct sp_child {
  sp_child *prev, *next;
  /* Releases the child's engine resources now; called by the owner when it
   * ends (DB close, snapshot close). Must unlink the child. */
  void (*invalidate)(sp_child *self);
  /* Optional: ends the child early if it is idle (not inside an engine call);
   * DB.close() calls it while it waits for calls in flight, so a thread
   * blocked in begin(exclusive=True) behind an idle exclusive transaction is
   * released instead of waiting forever. */
  void (*release_idle)(sp_child *self);
};

/* Every child struct begins with PyObject_HEAD then an sp_child. */
typedef struct {
  PyObject_HEAD sp_child link;
} sp_childobj;

#define SP_CHILD_OBJ(l) ((PyObject *)((char *)(l)-offsetof(sp_childobj, link)))

static inline void sp_list_init(sp_child *head) { head->prev = head->next = head; }
static inline void sp_list_add(sp_child *head, sp_child *c) {
  c->next = head;
  c->prev = head->prev;
  head->prev->next = c;
  head->prev = c;
}
static inline void sp_list_del(sp_child *c) {
  if (c->next) {
    c->prev->next = c->next;
    c->next->prev = c->prev;
  }
  c->prev = c->next = NULL;
}
/* Invalidates every child linked on head (each unlinks itself). */
void sp_list_invalidate_all(sp_child *head);
/* Calls release_idle on every child of head that has one. */
void sp_list_release_idle(sp_child *head);

/* ------------------------------------------------------------------------ */
/* The database                                                             */
/* ------------------------------------------------------------------------ */

extern unsigned long sp_fork_generation;

typedef struct sp_db {
  PyObject_HEAD strata_db *db; /* engine handle; NULL once the engine is closed */
  PyObject *name;              /* as given by the user */
  PyObject *errors;            /* error table (tuple); owned */
  int bytes_messages;          /* plyvel's bytes messages */
  int open;                    /* 0 once close() began: every call raises */
  int read_only;               /* opened with read_only=True */
  int close_deferred;          /* close() done; engine closed when engine_refs == 0 */
  unsigned long fork_gen;      /* sp_fork_generation at open */
  long active;                 /* engine calls in flight with the GIL released */
  long engine_refs;            /* buffers still exported after their owner ended,
                                  keeping engine memory (and so the engine) alive */
  sp_child children;           /* iterators, snapshots, buffers */
  PyObject *py_cmp;            /* Python comparator callable, or NULL */
  strata_comparator *cmp;
  strata_filter_policy *filter;
  strata_cache *cache;
  PyObject *weakreflist;
} sp_db;

extern PyTypeObject sp_db_type;

/* Fails (returns -1 with the closed/forked exception set, closed_msg as the
 * message) unless d is open and was opened in this process. */
int sp_db_check_slow(sp_db *d, const char *closed_msg);
static inline int sp_db_check(sp_db *d, const char *closed_msg) {
  if (SP_LIKELY(d->open && d->fork_gen == sp_fork_generation)) return 0;
  return sp_db_check_slow(d, closed_msg);
}

/* Raise an engine error in d's style. */
static inline PyObject *sp_db_raise(sp_db *d, int rc) {
  return sp_raise_engine(d->errors, d->bytes_messages, rc);
}
static inline PyObject *sp_db_raise_slot(sp_db *d, int slot, const char *msg) {
  return sp_raise_slot(d->errors, d->bytes_messages, slot, msg);
}

/* Bracket an engine call that may block: counts it in flight on d and
 * releases the GIL. */
#define SP_ENGINE_BEGIN(d)                                                                         \
  do {                                                                                             \
    sp_db *sp_eng_db_ = (d);                                                                       \
    sp_eng_db_->active++;                                                                          \
    PyThreadState *sp_eng_ts_ = PyEval_SaveThread();
#define SP_ENGINE_END()                                                                            \
  PyEval_RestoreThread(sp_eng_ts_);                                                                \
  sp_eng_db_->active--;                                                                            \
  }                                                                                                \
  while (0)

/* Compares two keys in d's order (memcmp order, or the Python comparator).
 * Returns <0, 0, >0; on a comparator error returns 0 with an exception set
 * (check PyErr_Occurred() when d->py_cmp is set). */
int sp_db_compare(sp_db *d, const char *a, size_t alen, const char *b, size_t blen);

/* An engine resource left alive by a buffer after its owner ended is gone:
 * finishes a deferred close when it was the last. */
void sp_db_engine_unref(sp_db *d);

/* ------------------------------------------------------------------------ */
/* Optional engine features                                                 */
/* ------------------------------------------------------------------------ */

/* setup.py defines SP_HAVE_SUBDB, SP_HAVE_TXN, SP_HAVE_READONLY and
 * SP_HAVE_CHECKPOINT when the engine in this tree implements
 * strata_subdb_*, strata_txn_*, strata_catch_up and strata_checkpoint (they
 * are declared in strata.h before they are implemented). Without sub-database
 * support every sdb below is NULL, the main database. */
static inline int sp_get_in(strata_db *db, strata_subdb *sdb, const strata_read_options *ro,
                            const char *k, size_t kl, strata_buf *b) {
#ifdef SP_HAVE_SUBDB
  return strata_get_in(db, sdb, ro, k, kl, b);
#else
  (void)sdb;
  return strata_get(db, ro, k, kl, b);
#endif
}
static inline int sp_put_in(strata_db *db, strata_subdb *sdb, const strata_write_options *wo,
                            const char *k, size_t kl, const char *v, size_t vl) {
#ifdef SP_HAVE_SUBDB
  return strata_put_in(db, sdb, wo, k, kl, v, vl);
#else
  (void)sdb;
  return strata_put(db, wo, k, kl, v, vl);
#endif
}
static inline int sp_delete_in(strata_db *db, strata_subdb *sdb, const strata_write_options *wo,
                               const char *k, size_t kl) {
#ifdef SP_HAVE_SUBDB
  return strata_delete_in(db, sdb, wo, k, kl);
#else
  (void)sdb;
  return strata_delete(db, wo, k, kl);
#endif
}
static inline int sp_iter_create_in(strata_db *db, strata_subdb *sdb, const strata_read_options *ro,
                                    strata_iter **it) {
#ifdef SP_HAVE_SUBDB
  return strata_iter_create_in(db, sdb, ro, it);
#else
  (void)sdb;
  return strata_iter_create(db, ro, it);
#endif
}
static inline int sp_batch_put_in(strata_batch *b, strata_subdb *sdb, const char *k, size_t kl,
                                  const char *v, size_t vl) {
#ifdef SP_HAVE_SUBDB
  return strata_batch_put_in(b, sdb, k, kl, v, vl);
#else
  (void)sdb;
  return strata_batch_put(b, k, kl, v, vl);
#endif
}
static inline int sp_batch_delete_in(strata_batch *b, strata_subdb *sdb, const char *k, size_t kl) {
#ifdef SP_HAVE_SUBDB
  return strata_batch_delete_in(b, sdb, k, kl);
#else
  (void)sdb;
  return strata_batch_delete(b, k, kl);
#endif
}

/* ------------------------------------------------------------------------ */
/* Arguments                                                                */
/* ------------------------------------------------------------------------ */

/* Keyword table of a METH_FASTCALL | METH_KEYWORDS method: names[0..npos)
 * may be given by position, the rest only by keyword. */
typedef struct sp_kwlist {
  const char *fname;        /* for messages, e.g. "get" */
  const char *const *names; /* NULL-terminated */
  int npos;                 /* how many may be positional */
  int nreq;                 /* how many are required (the first nreq) */
  PyObject **interned;      /* lazily filled, one per name */
} sp_kwlist;

/* Fills out[i] (borrowed, NULL when not given) from a vectorcall's
 * arguments. Returns 0, or -1 with TypeError set. */
int sp_parse_args(sp_kwlist *kl, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames,
                  PyObject **out);

/* A key: exact bytes (or a subclass). Sets TypeError naming argname and the
 * type given. */
int sp_key_arg_fail(PyObject *o, const char *argname);
static inline int sp_key_arg(PyObject *o, const char *argname, const char **p, Py_ssize_t *n) {
  if (SP_LIKELY(o && PyBytes_Check(o))) {
    *p = PyBytes_AS_STRING(o);
    *n = PyBytes_GET_SIZE(o);
    return 0;
  }
  *p = NULL;
  *n = 0;
  return sp_key_arg_fail(o, argname);
}

/* A value: any object exporting a contiguous buffer. release with
 * sp_value_release. */
typedef struct sp_value {
  const char *p;
  Py_ssize_t n;
  int has_view;
  Py_buffer view;
} sp_value;
int sp_value_arg(PyObject *o, const char *argname, sp_value *v);
static inline void sp_value_release(sp_value *v) {
  if (v->has_view) PyBuffer_Release(&v->view);
  v->has_view = 0;
}

/* Truth of an optional flag argument (NULL: dflt). -1 on error. */
static inline int sp_flag(PyObject *o, int dflt) { return o ? PyObject_IsTrue(o) : dflt; }

/* The calling thread's reusable value buffer (grown as needed, trimmed when
 * a call leaves it very large; freed at thread exit). */
strata_buf *sp_scratch(void);
void sp_scratch_trim(strata_buf *b);

/* ------------------------------------------------------------------------ */
/* Buffers (buffers=True)                                                   */
/* ------------------------------------------------------------------------ */

/* A pin exports one value's bytes to memoryviews without copying them
 * (see pin.c for the rules). */
typedef struct sp_pin sp_pin;
extern PyTypeObject sp_pin_type;

/* A pin over memory owned by someone else (an iterator): data is valid
 * until sp_pin_detach(). */
sp_pin *sp_pin_new_borrowed(sp_db *db);
/* Hands out a new memoryview of (data, size) from pin p, first releasing
 * the previous one. Fails with BufferError when a view of the previous
 * value is still exported (a slice, a nested memoryview...). */
PyObject *sp_pin_view(sp_pin *p, const char *data, Py_ssize_t size);
/* Releases p's current view before its memory goes away. Returns 0, or -1
 * with BufferError set when the memory is still exported; with
 * keep_iter != NULL, the pin then takes over *keep_iter (sets it to NULL)
 * and destroys it when the last export is released. */
int sp_pin_detach(sp_pin *p, strata_iter **keep_iter);
/* A value found by an engine iterator `it` positioned on it: the pin owns
 * it; links the pin on owner (a DB's or snapshot's child list). Returns a
 * new memoryview. Steals it (destroyed on failure). */
PyObject *sp_pin_owned_view(sp_db *db, sp_child *owner, strata_iter *it, const char *data,
                            Py_ssize_t size);
/* The same over a malloc'd copy (steals heap; freed with free()). */
PyObject *sp_pin_heap_view(sp_db *db, sp_child *owner, char *heap, Py_ssize_t size);

/* ------------------------------------------------------------------------ */
/* Snapshots, iterators, batches                                            */
/* ------------------------------------------------------------------------ */

typedef struct sp_snapshot {
  PyObject_HEAD sp_child link;
  sp_db *db;
  strata_subdb *sdb;           /* the sub-database it reads (NULL: main) */
  const strata_snapshot *snap; /* NULL once closed */
  PyObject *prefix;            /* bytes or NULL (a PrefixedDB's snapshot) */
  sp_child pins;               /* buffers returned by get(buffers=True) */
} sp_snapshot;

extern PyTypeObject sp_snapshot_type;
extern PyTypeObject sp_base_iter_type, sp_iter_type, sp_raw_iter_type;
extern PyTypeObject sp_batch_type;

PyObject *sp_snapshot_new(sp_db *db, strata_subdb *sdb, PyObject *prefix);

/* Shared body of get(key, default=None, *, verify_checksums, fill_cache,
 * buffers) for DB, SubDB and Snapshot: key (with prefix in front) of sdb as
 * of snap. */
PyObject *sp_do_get(sp_db *d, strata_subdb *sdb, const strata_snapshot *snap, sp_child *pin_owner,
                    PyObject *prefix, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames,
                    const char *closed_msg);

/* Where a new iterator reads: sdb of d as of snap, or through a transaction
 * (write transactions: its own iterator; read ones: its snapshot). */
typedef struct sp_iter_source {
  sp_snapshot *snap;  /* or NULL */
  strata_subdb *sdb;  /* or NULL: the main database */
  struct sp_txn *txn; /* or NULL */
  sp_child *owner;    /* child list to join (NULL: the DB's) */
} sp_iter_source;

/* Creates a plyvel-style Iterator (raw == 0) or RawIterator (raw == 1) over
 * src from the keyword arguments of DB.iterator()/raw_iterator(). db_prefix:
 * a PrefixedDB's prefix or NULL. */
PyObject *sp_iter_create(sp_db *d, const sp_iter_source *src, PyObject *db_prefix, int raw,
                         PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames);

PyObject *sp_batch_new(sp_db *d, strata_subdb *sdb, PyObject *prefix, int transaction, int sync);

/* buffers=True get: key of sdb positioned on by an engine iterator (read
 * options ro), exported in place; the pin joins owner's child list. */
PyObject *sp_get_buffer(sp_db *d, strata_subdb *sdb, sp_child *owner, const strata_read_options *ro,
                        const char *k, Py_ssize_t kl, PyObject *dflt);

/* Shared bodies of the per-key methods of DB and SubDB. */
PyObject *sp_do_put(sp_db *d, strata_subdb *sdb, const char *closed_msg, PyObject *const *args,
                    Py_ssize_t nargs, PyObject *kwnames);
PyObject *sp_do_delete(sp_db *d, strata_subdb *sdb, const char *closed_msg, PyObject *const *args,
                       Py_ssize_t nargs, PyObject *kwnames);
PyObject *sp_make_batch(sp_db *d, strata_subdb *sdb, PyObject *prefix, PyObject *const *args,
                        Py_ssize_t nargs, PyObject *kwnames);
/* The prefix argument of the _prefixed_* methods (args[0]). */
int sp_prefix_arg(PyObject *const *args, Py_ssize_t nargs, PyObject **prefix);

/* ------------------------------------------------------------------------ */
/* Sub-databases and transactions                                           */
/* ------------------------------------------------------------------------ */

typedef struct sp_subdb {
  PyObject_HEAD sp_child link;
  sp_db *db;
  strata_subdb *sdb; /* engine handle (owned by the engine); NULL once closed */
  PyObject *name;    /* str */
  sp_child pins;     /* buffers returned by get(buffers=True) */
  PyObject *weakreflist;
} sp_subdb;

extern PyTypeObject sp_subdb_type;

/* The sub-database named by a db= argument: NULL or None -> dflt; the DB
 * itself -> NULL (main); a SubDB of d -> its handle. -1 with TypeError or
 * ValueError or the closed error. */
int sp_sdb_arg(sp_db *d, PyObject *o, strata_subdb *dflt, strata_subdb **out);

#ifdef SP_HAVE_SUBDB
/* DB methods over sub-databases (subdb.c) */
PyObject *sp_db_open_db(PyObject *self, PyObject *args);
PyObject *sp_db_drop_db(PyObject *self, PyObject *name);
PyObject *sp_db_list_dbs(PyObject *self, PyObject *unused);
PyObject *sp_db_main_stat(PyObject *self, PyObject *unused);
#endif

typedef struct sp_txn sp_txn;
extern PyTypeObject sp_txn_type;
#ifdef SP_HAVE_TXN
PyObject *sp_txn_begin(sp_db *d, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames);
strata_txn *sp_txn_handle(sp_txn *t);
int sp_txn_is_write(sp_txn *t);
#endif

/* Sorted bulk load and verification (loader.c) */
#ifdef SP_HAVE_LOADER
extern PyTypeObject sp_loader_type;
PyObject *sp_loader_new(sp_db *d, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames);
#endif
PyObject *sp_mod_check(PyObject *self, PyObject *args);

/* Module-level helpers shared by db.c */
PyObject *sp_increment(PyObject *prefix); /* prefix's successor, or None */
const char *sp_prefixed_key(PyObject *prefix, const char *k, Py_ssize_t kl, char *buf, size_t bufsz,
                            char **heap, Py_ssize_t *outlen);

int sp_module_add_types(PyObject *m);

/* ------------------------------------------------------------------------ */
/* The typed store's codec (typed.c; openleveldb's format)                   */
/* ------------------------------------------------------------------------ */

/* Adds typed.c's functions (typed_encode, typed_decode, typed_get ...) to
 * the module. */
int sp_typed_add(PyObject *m);
/* A typed iterator's key: the str of UTF-8 k, or NULL with
 * strata.DecodeError set. */
PyObject *sp_typed_key_object(const char *k, Py_ssize_t kl);
/* A typed iterator's value: the object the stored value v holds, or NULL
 * with strata.DecodeError (naming key k) set. */
PyObject *sp_typed_value_object(const char *v, Py_ssize_t vl, const char *k, Py_ssize_t kl);
/* Makes it (a fresh strata Iterator, not yet stepped, without buffers)
 * yield str keys with strip bytes taken off and decoded values. Returns 0,
 * or -1 with TypeError / ValueError set. */
int sp_iter_set_typed(PyObject *it, Py_ssize_t strip);

#endif /* STRATA_PY_H */
