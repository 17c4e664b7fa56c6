/*
 * loader.c - strata._strata.Loader: sorted bulk load (strata_loader_*, see
 * include/strata.h) and _strata.check (strata_check). Both were added for
 * `python -m strata` (its load, restore, rewrite, copy --compact and
 * check), and are public: DB.loader() and strata.check_db().
 *
 * A Loader is a child of its DB (invalidated, and its unfinished load
 * discarded, when the DB closes: the engine wants a loader destroyed before
 * its database). add() copies the entry into the engine's chunk and may wait
 * for the loader's builder threads, so it runs with the GIL released, as
 * every engine call that can block does. One thread at a time uses a
 * loader; a second one gets RuntimeError.
 */
#include "strata_py.h"

#include <stdlib.h>
#include <string.h>

#ifdef SP_HAVE_LOADER

typedef struct sp_loader {
  PyObject_HEAD sp_child link;
  sp_db *db;
  strata_loader *l; /* NULL once finished, closed or failed */
  unsigned long long count;
  char busy;
  char finished; /* finish() succeeded */
} sp_loader;

static const char CLOSED_MSG[] = "Database or loader is closed";

/* Destroys the engine loader (deleting the tables of an unfinished load).
 * In a forked child the engine's threads are gone: the handle is leaked. */
static void loader_release(sp_loader *x) {
  sp_list_del(&x->link);
  strata_loader *l = x->l;
  x->l = NULL;
  if (l && x->db->db && x->db->fork_gen == sp_fork_generation) {
    SP_ENGINE_BEGIN(x->db);
    strata_loader_destroy(l);
    SP_ENGINE_END();
  }
}

static void loader_invalidate(sp_child *c) { loader_release((sp_loader *)SP_CHILD_OBJ(c)); }

/* DB.loader(db=None) -> Loader */
PyObject *sp_loader_new(sp_db *d, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames) {
  static const char *const names[] = {"db", NULL};
  static sp_kwlist kw = {"loader", names, 1, 0, NULL};
  PyObject *a[1];
  if (sp_parse_args(&kw, args, nargs, kwnames, a)) return NULL;
  if (sp_db_check(d, "Database is closed")) return NULL;
  strata_subdb *sdb = NULL;
  if (a[0] && sp_sdb_arg(d, a[0], NULL, &sdb)) return NULL;
  if (d->read_only)
    return sp_db_raise_slot(d, SP_E_READONLY, "the database was opened with read_only=True");
  strata_loader *l = NULL;
  int rc = strata_loader_create(d->db, sdb, &l);
  if (rc) return sp_db_raise(d, rc);
  sp_loader *x = PyObject_New(sp_loader, &sp_loader_type);
  if (!x) {
    strata_loader_destroy(l);
    return NULL;
  }
  x->link.prev = x->link.next = NULL;
  x->link.invalidate = loader_invalidate;
  x->link.release_idle = NULL;
  Py_INCREF(d);
  x->db = d;
  x->l = l;
  x->count = 0;
  x->busy = 0;
  x->finished = 0;
  sp_list_add(&d->children, &x->link);
  return (PyObject *)x;
}

static int check(sp_loader *x) {
  if (SP_UNLIKELY(x->db->fork_gen != sp_fork_generation))
    return sp_db_check_slow(x->db, CLOSED_MSG);
  if (SP_UNLIKELY(x->busy)) {
    PyErr_SetString(PyExc_RuntimeError,
                    "the loader is being used by another thread (loaders are not thread-safe)");
    return -1;
  }
  if (SP_UNLIKELY(!x->l)) {
    if (x->finished)
      PyErr_SetString(PyExc_RuntimeError, "the load is finished (a loader loads once)");
    else
      sp_db_raise_slot(x->db, SP_E_CLOSED, CLOSED_MSG);
    return -1;
  }
  return 0;
}

/* An engine error fails the loader (every later call would be
 * STRATA_EMISUSE): it is released at once, so its tables go now. */
static PyObject *fail(sp_loader *x, int rc) {
  PyObject *r = sp_db_raise(x->db, rc);
  PyObject *et, *ev, *tb;
  PyErr_Fetch(&et, &ev, &tb);
  loader_release(x);
  PyErr_Restore(et, ev, tb);
  return r;
}

static PyObject *loader_add(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
  sp_loader *x = (sp_loader *)self;
  const char *k;
  Py_ssize_t kl;
  sp_value v;
  if (nargs != 2)
    return PyErr_Format(PyExc_TypeError, "add() takes exactly 2 arguments (key, value), %zd given",
                        nargs);
  if (sp_key_arg(args[0], "key", &k, &kl) || check(x)) return NULL;
  if (sp_value_arg(args[1], "value", &v)) return NULL;
  int rc;
  x->busy = 1;
  SP_ENGINE_BEGIN(x->db);
  rc = strata_loader_add(x->l, k, (size_t)kl, v.p, (size_t)v.n);
  SP_ENGINE_END();
  x->busy = 0;
  sp_value_release(&v);
  if (rc) return fail(x, rc);
  x->count++;
  Py_RETURN_NONE;
}

static PyObject *loader_finish(PyObject *self, PyObject *unused) {
  (void)unused;
  sp_loader *x = (sp_loader *)self;
  if (check(x)) return NULL;
  int rc;
  x->busy = 1;
  SP_ENGINE_BEGIN(x->db);
  rc = strata_loader_finish(x->l);
  SP_ENGINE_END();
  x->busy = 0;
  if (rc) return fail(x, rc);
  x->finished = 1;
  loader_release(x);
  Py_RETURN_NONE;
}

static PyObject *loader_close(PyObject *self, PyObject *unused) {
  (void)unused;
  sp_loader *x = (sp_loader *)self;
  if (x->busy) return PyErr_Format(PyExc_RuntimeError, "the loader is in use");
  loader_release(x);
  Py_RETURN_NONE;
}

static PyObject *loader_enter(PyObject *self, PyObject *unused) {
  (void)unused;
  Py_INCREF(self);
  return self;
}

/* Finishes when the block ends normally, discards the load when it raises
 * (a transaction's rule). */
static PyObject *loader_exit(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
  sp_loader *x = (sp_loader *)self;
  int raised = nargs > 0 && args[0] != Py_None;
  if (!raised && x->l) {
    PyObject *r = loader_finish(self, NULL);
    if (!r) return NULL;
    Py_DECREF(r);
  } else if (!x->busy) {
    loader_release(x);
  }
  Py_RETURN_FALSE;
}

static PyObject *loader_count_get(PyObject *self, void *c) {
  (void)c;
  return PyLong_FromUnsignedLongLong(((sp_loader *)self)->count);
}

static PyObject *loader_finished_get(PyObject *self, void *c) {
  (void)c;
  return PyBool_FromLong(((sp_loader *)self)->finished);
}

static PyObject *loader_closed_get(PyObject *self, void *c) {
  (void)c;
  return PyBool_FromLong(((sp_loader *)self)->l == NULL);
}

static void loader_dealloc(PyObject *self) {
  sp_loader *x = (sp_loader *)self;
  PyObject *et, *ev, *tb;
  PyErr_Fetch(&et, &ev, &tb);
  loader_release(x);
  Py_CLEAR(x->db);
  PyErr_Restore(et, ev, tb);
  PyObject_Free(self);
}

static PyMethodDef loader_methods[] = {
    {"add", (PyCFunction)(void (*)(void))loader_add, METH_FASTCALL,
     "add(key, value) -> None\n\n"
     "Adds one entry: key (bytes) must be greater than the key added before it (bytewise);\n"
     "value is any contiguous bytes-like object. Both are copied. Nothing is visible until\n"
     "finish().\n\n"
     "Raises: TypeError, strata.InvalidArgumentError (a key not greater than the previous\n"
     "one, a main-database key in the range reserved for sub-databases, a key or value over\n"
     "4 GiB), strata.IOError (a table could not be written), RuntimeError (the loader is\n"
     "finished or used by another thread), strata.ClosedError. After an error the loader is\n"
     "closed and its tables deleted.\n"
     "Thread-safety: one thread at a time; the GIL is released while the engine copies the\n"
     "entry (and waits for its builder threads)."},
    {"finish", loader_finish, METH_NOARGS,
     "finish() -> None\n\n"
     "Builds the last table, syncs it and adds every table to the database in one MANIFEST\n"
     "record: the loaded entries become visible to every reader at once, and durable. A\n"
     "load of no entry adds nothing. The target's loaded key range must hold no entry (in\n"
     "any memtable or table, deletion markers included).\n\n"
     "Raises: strata.InvalidArgumentError (the range holds an entry, named in the message;\n"
     "the sub-database was dropped), strata.IOError, RuntimeError (finished already),\n"
     "strata.ClosedError. On error nothing is added and the loader is closed.\n"
     "Thread-safety: as add()."},
    {"close", loader_close, METH_NOARGS,
     "close() -> None\n\n"
     "Ends the loader; an unfinished load adds nothing and its tables are deleted. Closing\n"
     "twice, or after finish(), is harmless.\n\n"
     "Raises: RuntimeError (another thread is inside add() or finish()).\n"
     "Thread-safety: as add()."},
    {"__enter__", loader_enter, METH_NOARGS, "Returns the loader itself."},
    {"__exit__", (PyCFunction)(void (*)(void))loader_exit, METH_FASTCALL,
     "finish() when the block ends normally, close() (discarding the load) when it "
     "raises."},
    {NULL, NULL, 0, NULL}};

static PyGetSetDef loader_getset[] = {
    {"count", loader_count_get, NULL, "Entries added so far (int).", NULL},
    {"finished", loader_finished_get, NULL, "True once finish() succeeded.", NULL},
    {"closed", loader_closed_get, NULL,
     "True once the loader is finished, closed, failed, or its database closed.", NULL},
    {NULL, NULL, NULL, NULL, NULL}};

PyTypeObject sp_loader_type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "strata._strata.Loader",
    .tp_basicsize = sizeof(sp_loader),
    .tp_dealloc = loader_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc =
        "A sorted bulk load into a new database, an empty sub-database or an empty key range\n"
        "(DB.loader(db=None); strata_loader_* of include/strata.h, modelled on RocksDB's\n"
        "SST ingestion): entries given in strictly increasing key order go straight into\n"
        "sorted tables, built on two threads of the loader's own with the database's table\n"
        "options, and finish() adds them to the database in one MANIFEST record, each table\n"
        "to the deepest level where nothing overlaps it -- no write-ahead log, no memtable,\n"
        "no compaction rewriting them. The loaded entries carry sequence number 0: a write of\n"
        "a loaded key during or after the load is always newer, and a snapshot taken before\n"
        "finish() also sees them once it returns. Memory: up to three tables' worth of\n"
        "entries (about 3 x max_file_size, uncompressed).\n\n"
        "Methods: add(key, value), finish(), close(); a context manager (finish() at the\n"
        "end of the block, close() on an exception). Attributes: count, finished, closed.\n"
        "A child of its DB: closing the DB closes the loader (discarding an unfinished\n"
        "load).\n\n"
        "Thread-safety: one thread at a time (RuntimeError otherwise); several loaders may\n"
        "run on one database at once.",
    .tp_methods = loader_methods,
    .tp_getset = loader_getset,
};

#endif /* SP_HAVE_LOADER */

/* ------------------------------------------------------------------------ */
/* check                                                                    */
/* ------------------------------------------------------------------------ */

/* The problems strata_check reports, collected without the GIL. */
typedef struct problem {
  char *file, *what;
  uint64_t offset;
  int code;
} problem;

typedef struct problems {
  problem *v;
  size_t n, cap;
  int nomem;
} problems;

static char *dup_str(const char *s) {
  size_t n = strlen(s ? s : "");
  char *d = malloc(n + 1);
  if (d) memcpy(d, s ? s : "", n + 1);
  return d;
}

static void collect(void *arg, const char *file, uint64_t offset, int code, const char *what) {
  problems *ps = arg;
  if (ps->n == ps->cap) {
    size_t cap = ps->cap ? 2 * ps->cap : 16;
    problem *v = realloc(ps->v, cap * sizeof *v);
    if (!v) {
      ps->nomem = 1;
      return;
    }
    ps->v = v;
    ps->cap = cap;
  }
  problem *p = &ps->v[ps->n];
  p->file = dup_str(file);
  p->what = dup_str(what);
  if (!p->file || !p->what) {
    free(p->file);
    free(p->what);
    ps->nomem = 1;
    return;
  }
  p->offset = offset;
  p->code = code;
  ps->n++;
}

/* _strata.check(path, errors=None, bytes_messages=False)
 *   -> [(file: str, offset: int, code: int, message: str), ...] */
PyObject *sp_mod_check(PyObject *self, PyObject *args) {
  (void)self;
  PyObject *path = NULL, *errors = Py_None;
  int bytes_messages = 0;
  if (!PyArg_ParseTuple(args, "O&|Op:check", PyUnicode_FSConverter, &path, &errors,
                        &bytes_messages))
    return NULL;
  problems ps;
  memset(&ps, 0, sizeof ps);
  uint64_t count = 0;
  int rc;
  Py_BEGIN_ALLOW_THREADS rc = strata_check(PyBytes_AS_STRING(path), NULL, collect, &ps, &count);
  Py_END_ALLOW_THREADS Py_DECREF(path);
  PyObject *list = NULL;
  if (ps.nomem) {
    PyErr_NoMemory();
  } else if (rc != STRATA_OK && rc != STRATA_ECORRUPTION) {
    sp_raise_engine(errors == Py_None ? NULL : errors, bytes_messages, rc);
  } else if ((list = PyList_New((Py_ssize_t)ps.n))) {
    for (size_t i = 0; i < ps.n; i++) {
      PyObject *file = PyUnicode_DecodeFSDefault(ps.v[i].file);
      PyObject *what =
          PyUnicode_DecodeUTF8(ps.v[i].what, (Py_ssize_t)strlen(ps.v[i].what), "backslashreplace");
      PyObject *tup = file && what
                          ? Py_BuildValue("(OKiO)", file, (unsigned long long)ps.v[i].offset,
                                          ps.v[i].code, what)
                          : NULL;
      Py_XDECREF(file);
      Py_XDECREF(what);
      if (!tup) {
        Py_CLEAR(list);
        break;
      }
      PyList_SET_ITEM(list, (Py_ssize_t)i, tup);
    }
  }
  for (size_t i = 0; i < ps.n; i++) {
    free(ps.v[i].file);
    free(ps.v[i].what);
  }
  free(ps.v);
  return list;
}
