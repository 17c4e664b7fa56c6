/*
 * txn.c - strata._strata.Transaction: a transaction (strata_txn_*) with
 * py-lmdb's shape: get, put, delete, iterator, raw_iterator, commit, abort,
 * and a context manager that commits when the block ends normally and aborts
 * when it raises.
 *
 * A read transaction is a snapshot with a handle. A write transaction sees
 * its own writes and commits them atomically, optimistically: a key it read
 * or wrote that changed since it began makes the commit fail with
 * strata.ConflictError, applying nothing (see strata.h). exclusive=True
 * write transactions run one at a time (begin waits, GIL released).
 *
 * Lifetime: a child of its DB. Its iterators and buffers are its children:
 * commit/abort (or the DB's close, or garbage collection, which aborts)
 * invalidates them first, then ends and destroys the engine transaction.
 * Buffers (buffers=True): in a read transaction, zero-copy views read at its
 * snapshot through ordinary engine iterators (independent of the
 * transaction's memory); in a write transaction, views of copies (its own
 * writes may change under a view). Both are released when it ends.
 * Not thread-safe: one thread at a time (a second thread gets RuntimeError).
 */
#include "strata_py.h"

#ifdef SP_HAVE_TXN

#include <string.h>

struct sp_txn {
  PyObject_HEAD sp_child link;
  sp_db *db;
  strata_txn *txn;   /* NULL once ended and destroyed */
  strata_subdb *sdb; /* default sub-database (begin(db=...)) */
  int write;
  int buffers;
  int busy;
  sp_child children; /* iterators and buffers made from it */
  PyObject *weakreflist;
};

static const char ENDED_MSG[] = "Transaction has ended (committed, aborted or its database closed)";

strata_txn *sp_txn_handle(sp_txn *t) { return t->txn; }
int sp_txn_is_write(sp_txn *t) { return t->write; }

static int check(sp_txn *t) {
  if (SP_UNLIKELY(!t->txn)) {
    sp_db_raise_slot(t->db, SP_E_CLOSED, ENDED_MSG);
    return -1;
  }
  if (SP_UNLIKELY(t->busy)) {
    PyErr_SetString(PyExc_RuntimeError,
                    "the transaction is being used by another thread (transactions are not "
                    "thread-safe)");
    return -1;
  }
  return sp_db_check(t->db, ENDED_MSG);
}

/* Ends the transaction: invalidates its children, commits or aborts, frees
 * the engine transaction. Returns 0 or -1 with the commit's error set. */
static int txn_end(sp_txn *t, int commit) {
  strata_txn *h = t->txn;
  if (!h) return 0;
  sp_list_del(&t->link);
  sp_list_invalidate_all(&t->children);
  t->txn = NULL;
  if (t->db->fork_gen != sp_fork_generation || !t->db->db) return 0; /* leaked (fork) */
  int rc;
  t->busy = 1;
  SP_ENGINE_BEGIN(t->db);
  rc = commit ? strata_txn_commit(h) : strata_txn_abort(h);
  SP_ENGINE_END();
  t->busy = 0;
  PyObject *et = NULL, *ev = NULL, *tb = NULL;
  if (rc && commit) {
    sp_db_raise(t->db, rc); /* the message is this thread's: raise before destroy */
    PyErr_Fetch(&et, &ev, &tb);
  }
  SP_ENGINE_BEGIN(t->db);
  strata_txn_destroy(h);
  SP_ENGINE_END();
  if (et || ev) {
    PyErr_Restore(et, ev, tb);
    return -1;
  }
  return 0;
}

static void txn_invalidate(sp_child *c) { txn_end((sp_txn *)SP_CHILD_OBJ(c), 0); }

static void txn_release_idle(sp_child *c) {
  sp_txn *t = (sp_txn *)SP_CHILD_OBJ(c);
  if (!t->busy) txn_end(t, 0); /* in a call: the next wait tries again */
}

static const char *const begin_names[] = {"write", "sync", "exclusive", "buffers", "db", NULL};
static sp_kwlist begin_kw = {"begin", begin_names, 1, 0, NULL};

PyObject *sp_txn_begin(sp_db *d, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames) {
  PyObject *a[5];
  if (sp_parse_args(&begin_kw, args, nargs, kwnames, a)) return NULL;
  int write = sp_flag(a[0], 0), sync = sp_flag(a[1], 0), excl = sp_flag(a[2], 0),
      buffers = sp_flag(a[3], 0);
  if (write < 0 || sync < 0 || excl < 0 || buffers < 0) return NULL;
  if (sp_db_check(d, "Database is closed")) return NULL;
  strata_subdb *sdb = NULL;
  if (a[4] && sp_sdb_arg(d, a[4], NULL, &sdb)) return NULL;
  if (write && d->read_only)
    return sp_db_raise_slot(d, SP_E_READONLY, "the database was opened with read_only=True");
  sp_txn *t = PyObject_New(sp_txn, &sp_txn_type);
  if (!t) return NULL;
  t->link.prev = t->link.next = NULL;
  t->link.invalidate = txn_invalidate;
  t->link.release_idle = txn_release_idle;
  Py_INCREF(d);
  t->db = d;
  t->txn = NULL;
  t->sdb = sdb;
  t->write = write;
  t->buffers = buffers;
  t->busy = 0;
  t->weakreflist = NULL;
  sp_list_init(&t->children);
  strata_txn_options o;
  strata_txn_options_init(&o);
  o.write = write;
  o.sync = sync;
  o.exclusive = excl;
  int rc;
  strata_txn *h = NULL;
  SP_ENGINE_BEGIN(d); /* exclusive: may wait for the open one */
  rc = strata_txn_begin(d->db, &o, &h);
  SP_ENGINE_END();
  if (rc) {
    Py_DECREF(t);
    return sp_db_raise(d, rc);
  }
  if (!d->open) { /* closed while we waited */
    SP_ENGINE_BEGIN(d);
    strata_txn_destroy(h);
    SP_ENGINE_END();
    Py_DECREF(t);
    return sp_db_raise_slot(d, SP_E_CLOSED, "Database is closed");
  }
  t->txn = h;
  sp_list_add(&d->children, &t->link);
  return (PyObject *)t;
}

/* ---- per-key ------------------------------------------------------------ */

static const char *const get_names[] = {"key", "default", "db", NULL};
static sp_kwlist get_kw = {"get", get_names, 2, 1, NULL};

static PyObject *t_get(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames) {
  sp_txn *t = (sp_txn *)self;
  PyObject *a[3];
  const char *k;
  Py_ssize_t kl;
  if (sp_parse_args(&get_kw, args, nargs, kwnames, a) || sp_key_arg(a[0], "key", &k, &kl) ||
      check(t))
    return NULL;
  strata_subdb *sdb = t->sdb;
  if (a[2] && sp_sdb_arg(t->db, a[2], t->sdb, &sdb)) return NULL;
  PyObject *dflt = a[1] ? a[1] : Py_None;
  if (t->buffers && !t->write) {
    /* a read transaction is its snapshot: read in place */
    strata_read_options ro;
    strata_read_options_init(&ro);
    ro.snapshot = strata_txn_snapshot(t->txn);
    return sp_get_buffer(t->db, sdb, &t->children, &ro, k, kl, dflt);
  }
  strata_buf *b = sp_scratch();
  if (!b) return PyErr_NoMemory();
  int rc;
  t->busy = 1;
  SP_ENGINE_BEGIN(t->db);
  rc = strata_txn_get(t->txn, sdb, k, (size_t)kl, b);
  SP_ENGINE_END();
  t->busy = 0;
  if (rc == STRATA_ENOTFOUND) {
    Py_INCREF(dflt);
    return dflt;
  }
  if (rc) return sp_db_raise(t->db, rc);
  PyObject *r;
  if (t->buffers) { /* a write transaction: a view of a copy */
    char *heap = malloc(b->size ? b->size : 1);
    if (!heap) return PyErr_NoMemory();
    memcpy(heap, b->data, b->size);
    r = sp_pin_heap_view(t->db, &t->children, heap, (Py_ssize_t)b->size);
  } else {
    r = PyBytes_FromStringAndSize(b->data, (Py_ssize_t)b->size);
  }
  sp_scratch_trim(b);
  return r;
}

static const char *const put_names[] = {"key", "value", "db", NULL};
static sp_kwlist put_kw = {"put", put_names, 2, 2, NULL};

static PyObject *t_put(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames) {
  sp_txn *t = (sp_txn *)self;
  PyObject *a[3];
  const char *k;
  Py_ssize_t kl;
  sp_value v;
  if (sp_parse_args(&put_kw, args, nargs, kwnames, a) || sp_key_arg(a[0], "key", &k, &kl) ||
      check(t))
    return NULL;
  strata_subdb *sdb = t->sdb;
  if (a[2] && sp_sdb_arg(t->db, a[2], t->sdb, &sdb)) return NULL;
  if (sp_value_arg(a[1], "value", &v)) return NULL;
  /* queued in memory: no GIL release needed */
  int rc = strata_txn_put(t->txn, sdb, k, (size_t)kl, v.p, (size_t)v.n);
  sp_value_release(&v);
  if (rc) {
    if (rc == STRATA_EMISUSE && !t->write)
      return sp_db_raise_slot(t->db, SP_E_READONLY,
                              "put() in a read transaction (begin(write=True) to write)");
    return sp_db_raise(t->db, rc);
  }
  Py_RETURN_NONE;
}

static const char *const delete_names[] = {"key", "db", NULL};
static sp_kwlist delete_kw = {"delete", delete_names, 1, 1, NULL};

static PyObject *t_delete(PyObject *self, PyObject *const *args, Py_ssize_t nargs,
                          PyObject *kwnames) {
  sp_txn *t = (sp_txn *)self;
  PyObject *a[2];
  const char *k;
  Py_ssize_t kl;
  if (sp_parse_args(&delete_kw, args, nargs, kwnames, a) || sp_key_arg(a[0], "key", &k, &kl) ||
      check(t))
    return NULL;
  strata_subdb *sdb = t->sdb;
  if (a[1] && sp_sdb_arg(t->db, a[1], t->sdb, &sdb)) return NULL;
  int rc = strata_txn_delete(t->txn, sdb, k, (size_t)kl);
  if (rc) {
    if (rc == STRATA_EMISUSE && !t->write)
      return sp_db_raise_slot(t->db, SP_E_READONLY,
                              "delete() in a read transaction (begin(write=True) to write)");
    return sp_db_raise(t->db, rc);
  }
  Py_RETURN_NONE;
}

/* iterator(**kwargs, db=None) / raw_iterator(**kwargs, db=None): db= is
 * taken out of the keywords, the rest are DB.iterator()'s. */
static PyObject *t_iter_impl(sp_txn *t, int raw, PyObject *const *args, Py_ssize_t nargs,
                             PyObject *kwnames) {
  if (check(t)) return NULL;
  strata_subdb *sdb = t->sdb;
  PyObject *rest_names = NULL;
  PyObject *stack[16];
  PyObject *const *use_args = args;
  Py_ssize_t nk = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;
  if (nk) {
    Py_ssize_t found = -1;
    for (Py_ssize_t i = 0; i < nk; i++)
      if (PyUnicode_CompareWithASCIIString(PyTuple_GET_ITEM(kwnames, i), "db") == 0) found = i;
    if (found >= 0) {
      if (nargs + nk > 16) return PyErr_Format(PyExc_TypeError, "too many arguments");
      if (sp_sdb_arg(t->db, args[nargs + found], t->sdb, &sdb)) return NULL;
      rest_names = PyTuple_New(nk - 1);
      if (!rest_names) return NULL;
      Py_ssize_t j = 0;
      for (Py_ssize_t i = 0; i < nargs; i++)
        stack[i] = args[i];
      for (Py_ssize_t i = 0; i < nk; i++) {
        if (i == found) continue;
        PyObject *n = PyTuple_GET_ITEM(kwnames, i);
        Py_INCREF(n);
        PyTuple_SET_ITEM(rest_names, j, n);
        stack[nargs + j] = args[nargs + i];
        j++;
      }
      use_args = stack;
      kwnames = nk > 1 ? rest_names : NULL;
    }
  }
  sp_iter_source src = {NULL, sdb, t, &t->children};
  PyObject *r = sp_iter_create(t->db, &src, NULL, raw, use_args, nargs, kwnames);
  Py_XDECREF(rest_names);
  return r;
}

static PyObject *t_iterator(PyObject *self, PyObject *const *args, Py_ssize_t nargs,
                            PyObject *kwnames) {
  return t_iter_impl((sp_txn *)self, 0, args, nargs, kwnames);
}

static PyObject *t_raw_iterator(PyObject *self, PyObject *const *args, Py_ssize_t nargs,
                                PyObject *kwnames) {
  return t_iter_impl((sp_txn *)self, 1, args, nargs, kwnames);
}

/* ---- ending --------------------------------------------------------------- */

static PyObject *t_commit(PyObject *self, PyObject *unused) {
  (void)unused;
  sp_txn *t = (sp_txn *)self;
  if (check(t) || txn_end(t, 1)) return NULL;
  Py_RETURN_NONE;
}

static PyObject *t_abort(PyObject *self, PyObject *unused) {
  (void)unused;
  sp_txn *t = (sp_txn *)self;
  if (t->busy) return PyErr_Format(PyExc_RuntimeError, "the transaction is in use");
  txn_end(t, 0); /* aborting an ended transaction is harmless */
  Py_RETURN_NONE;
}

static PyObject *t_enter(PyObject *self, PyObject *unused) {
  (void)unused;
  if (check((sp_txn *)self)) return NULL;
  Py_INCREF(self);
  return self;
}

/* py-lmdb's rule: commit when the block ends normally, abort when it raises. */
static PyObject *t_exit(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
  sp_txn *t = (sp_txn *)self;
  int raised = nargs > 0 && args[0] != Py_None;
  if (txn_end(t, !raised)) return NULL;
  Py_RETURN_FALSE;
}

static PyObject *t_write_get(PyObject *self, void *c) {
  (void)c;
  return PyBool_FromLong(((sp_txn *)self)->write);
}

static PyObject *t_active_get(PyObject *self, void *c) {
  (void)c;
  return PyBool_FromLong(((sp_txn *)self)->txn != NULL);
}

static PyObject *t_buffers_get(PyObject *self, void *c) {
  (void)c;
  return PyBool_FromLong(((sp_txn *)self)->buffers);
}

static PyObject *t_db_get(PyObject *self, void *c) {
  (void)c;
  PyObject *d = (PyObject *)((sp_txn *)self)->db;
  Py_INCREF(d);
  return d;
}

static void t_dealloc(PyObject *self) {
  sp_txn *t = (sp_txn *)self;
  PyObject *et, *ev, *tb;
  PyErr_Fetch(&et, &ev, &tb);
  if (t->weakreflist) PyObject_ClearWeakRefs(self);
  txn_end(t, 0); /* garbage collection aborts (py-lmdb's rule) */
  PyErr_Clear();
  Py_CLEAR(t->db);
  PyErr_Restore(et, ev, tb);
  PyObject_Free(self);
}

static PyMethodDef t_methods[] = {
    {"get", (PyCFunction)(void (*)(void))t_get, METH_FASTCALL | METH_KEYWORDS,
     "get(key, default=None, *, db=None)\n\nThe value of key (bytes) as the transaction sees "
     "it (its own writes included),\nor default. db: a SubDB (default: begin()'s db, else the "
     "main database).\nWith buffers=True: a memoryview, valid until the transaction ends (a "
     "read\ntransaction's views are zero-copy; a write transaction's are of copies).\n\n"
     "Raises: TypeError, strata.ClosedError (ended), strata.IOError,\nstrata.CorruptionError. "
     "Thread-safety: one thread at a time."},
    {"put", (PyCFunction)(void (*)(void))t_put, METH_FASTCALL | METH_KEYWORDS,
     "put(key, value, *, db=None) -> None\n\nQueues a put (copied), applied at commit. key "
     "(bytes), value (bytes-like).\n\nRaises: TypeError, strata.ClosedError (ended), "
     "strata.ReadOnlyError (a read\ntransaction), strata.InvalidArgumentError (size limits, "
     "reserved range,\ndropped sub-database). Thread-safety: one thread at a time."},
    {"delete", (PyCFunction)(void (*)(void))t_delete, METH_FASTCALL | METH_KEYWORDS,
     "delete(key, *, db=None) -> None\n\nQueues a delete, applied at commit.\n\nRaises: as "
     "put()."},
    {"iterator", (PyCFunction)(void (*)(void))t_iterator, METH_FASTCALL | METH_KEYWORDS,
     "iterator(*, db=None, **kwargs) -> Iterator\n\nAs DB.iterator(), as the transaction sees "
     "the database (a write\ntransaction's iterator sees its writes made before each step). "
     "Invalidated when\nthe transaction ends.\n\nRaises: TypeError, strata.ClosedError."},
    {"raw_iterator", (PyCFunction)(void (*)(void))t_raw_iterator, METH_FASTCALL | METH_KEYWORDS,
     "raw_iterator(*, db=None, **kwargs) -> RawIterator\n\nAs DB.raw_iterator(), through the "
     "transaction.\n\nRaises: strata.ClosedError."},
    {"commit", t_commit, METH_NOARGS,
     "commit() -> None\n\nApplies the transaction's writes atomically (a read transaction just "
     "ends)\nand ends it, whatever the result.\n\nRaises: strata.ConflictError (a key it read "
     "or wrote changed since it began:\nnothing applied), strata.ClosedError (already ended), "
     "strata.InvalidArgumentError\n(a sub-database it wrote was dropped), strata.IOError."},
    {"abort", t_abort, METH_NOARGS,
     "abort() -> None\n\nEnds the transaction, discarding its writes. Harmless when ended. "
     "Never raises\n(but RuntimeError when another thread is using it)."},
    {"__enter__", t_enter, METH_NOARGS, "Returns the transaction itself."},
    {"__exit__", (PyCFunction)(void (*)(void))t_exit, METH_FASTCALL,
     "Commits when the block ends normally, aborts when it raises."},
    {NULL, NULL, 0, NULL}};

static PyGetSetDef t_getset[] = {
    {"write", t_write_get, NULL, "True for a write transaction.", NULL},
    {"active", t_active_get, NULL, "True until it commits, aborts or its database closes.", NULL},
    {"buffers", t_buffers_get, NULL, "True when reads return memoryviews.", NULL},
    {"db", t_db_get, NULL, "The database.", NULL},
    {NULL, NULL, NULL, NULL, NULL}};

PyTypeObject sp_txn_type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "strata._strata.Transaction",
    .tp_basicsize = sizeof(sp_txn),
    .tp_dealloc = t_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "A transaction; see DB.begin(). Not thread-safe. Invalidated when its database "
              "closes;\ngarbage collection aborts it.",
    .tp_weaklistoffset = offsetof(sp_txn, weakreflist),
    .tp_methods = t_methods,
    .tp_getset = t_getset,
};

#endif /* SP_HAVE_TXN */
