/*
 * subdb.c - strata._strata.SubDB: a named sub-database (strata_subdb_*):
 * an ordered key space of its own inside one database, with the per-key
 * methods of DB (get, put, delete, iterator, raw_iterator, write_batch,
 * snapshot) and usable as db= in a write batch or transaction so one commit
 * spans several sub-databases. Also sp_sdb_arg (the db= argument), which
 * exists with or without engine support (db= may name the DB itself).
 *
 * The engine owns the handles (opening a name twice gives the same handle;
 * all are freed by strata_close), so a SubDB object is a child of its DB:
 * invalidated when it closes. After drop_db(name) the engine fails every call
 * given the handle with "sub-database ... was dropped"
 * (strata.InvalidArgumentError).
 */
#include "strata_py.h"

#include <string.h>

#ifdef SP_HAVE_SUBDB
static const char CLOSED_MSG[] = "Sub-database is closed";
#endif

int sp_sdb_arg(sp_db *d, PyObject *o, strata_subdb *dflt, strata_subdb **out) {
  if (!o || o == Py_None) {
    *out = dflt;
    return 0;
  }
  if (o == (PyObject *)d) {
    *out = NULL;
    return 0;
  }
#ifdef SP_HAVE_SUBDB
  if (PyObject_TypeCheck(o, &sp_subdb_type)) {
    sp_subdb *s = (sp_subdb *)o;
    if (s->db != d) {
      PyErr_SetString(PyExc_ValueError, "db= names a sub-database of another database");
      return -1;
    }
    if (!s->sdb) {
      sp_db_raise_slot(d, SP_E_CLOSED, CLOSED_MSG);
      return -1;
    }
    *out = s->sdb;
    return 0;
  }
#endif
  if (PyObject_TypeCheck(o, &sp_db_type)) {
    PyErr_SetString(PyExc_ValueError, "db= names another database");
    return -1;
  }
  PyErr_Format(PyExc_TypeError,
               "Argument 'db' has incorrect type (expected a SubDB of this database, the DB "
               "itself or None, got %s)",
               Py_TYPE(o)->tp_name);
  return -1;
}

#ifdef SP_HAVE_SUBDB

static int check(sp_subdb *s) {
  if (SP_UNLIKELY(!s->sdb)) {
    sp_db_raise_slot(s->db, SP_E_CLOSED, CLOSED_MSG);
    return -1;
  }
  return sp_db_check(s->db, CLOSED_MSG);
}

static void subdb_invalidate(sp_child *c) {
  sp_subdb *s = (sp_subdb *)SP_CHILD_OBJ(c);
  sp_list_del(&s->link);
  sp_list_invalidate_all(&s->pins);
  s->sdb = NULL;
}

/* _open_db(name, create, cls) -> cls instance (cls: a subclass of SubDB) */
PyObject *sp_db_open_db(PyObject *self, PyObject *args) {
  sp_db *d = (sp_db *)self;
  PyObject *name, *cls;
  int create;
  if (!PyArg_ParseTuple(args, "UpO:_open_db", &name, &create, &cls)) return NULL;
  if (!PyType_Check(cls) || !PyType_IsSubtype((PyTypeObject *)cls, &sp_subdb_type))
    return PyErr_Format(PyExc_TypeError, "cls must be a subclass of SubDB");
  Py_ssize_t n;
  const char *c = PyUnicode_AsUTF8AndSize(name, &n);
  if (!c) return NULL;
  if (n < 1 || n > STRATA_SUBDB_NAME_MAX || (Py_ssize_t)strlen(c) != n)
    return PyErr_Format(PyExc_ValueError,
                        "a sub-database name is 1 to %d bytes of UTF-8 without NUL (got %zd)",
                        STRATA_SUBDB_NAME_MAX, n);
  if (sp_db_check(d, "Database is closed")) return NULL;
  strata_subdb *h = NULL;
  int rc;
  SP_ENGINE_BEGIN(d);
  rc = strata_subdb_open(d->db, c, create, &h);
  SP_ENGINE_END();
  if (rc) return sp_db_raise(d, rc);
  sp_subdb *s = (sp_subdb *)((PyTypeObject *)cls)->tp_alloc((PyTypeObject *)cls, 0);
  if (!s) return NULL;
  Py_INCREF(d);
  s->db = d;
  s->sdb = h;
  Py_INCREF(name);
  s->name = name;
  sp_list_init(&s->pins);
  s->link.invalidate = subdb_invalidate;
  sp_list_add(&d->children, &s->link);
  return (PyObject *)s;
}

/* drop_db(name) */
PyObject *sp_db_drop_db(PyObject *self, PyObject *name) {
  sp_db *d = (sp_db *)self;
  const char *c = PyUnicode_Check(name) ? PyUnicode_AsUTF8(name) : NULL;
  if (!c) {
    if (!PyErr_Occurred())
      PyErr_Format(PyExc_TypeError, "Argument 'name' has incorrect type (expected str, got %s)",
                   Py_TYPE(name)->tp_name);
    return NULL;
  }
  if (sp_db_check(d, "Database is closed")) return NULL;
  if (d->read_only)
    return sp_db_raise_slot(d, SP_E_READONLY, "the database was opened with read_only=True");
  int rc;
  SP_ENGINE_BEGIN(d);
  rc = strata_subdb_drop(d->db, NULL, c);
  SP_ENGINE_END();
  if (rc) return sp_db_raise(d, rc);
  Py_RETURN_NONE;
}

static int list_one(void *arg, const char *name) {
  PyObject *l = arg, *s = PyUnicode_DecodeUTF8(name, (Py_ssize_t)strlen(name), "surrogateescape");
  if (!s) return -1;
  int r = PyList_Append(l, s);
  Py_DECREF(s);
  return r;
}

/* list_dbs() -> list[str]; the engine call runs with the GIL held (the
 * callback builds Python strings), which is short: one record per name. */
PyObject *sp_db_list_dbs(PyObject *self, PyObject *unused) {
  (void)unused;
  sp_db *d = (sp_db *)self;
  if (sp_db_check(d, "Database is closed")) return NULL;
  PyObject *l = PyList_New(0);
  if (!l) return NULL;
  int rc = strata_subdb_list(d->db, list_one, l);
  if (rc == -1 && PyErr_Occurred()) {
    Py_DECREF(l);
    return NULL;
  }
  if (rc) {
    Py_DECREF(l);
    return sp_db_raise(d, rc);
  }
  return l;
}

static PyObject *stat_of(sp_db *d, strata_subdb *sdb) {
  strata_subdb_stats st;
  memset(&st, 0, sizeof st);
  int rc;
  SP_ENGINE_BEGIN(d);
  rc = strata_subdb_stat(d->db, sdb, &st);
  SP_ENGINE_END();
  if (rc) return sp_db_raise(d, rc);
  return Py_BuildValue("{s:K,s:K}", "entries", (unsigned long long)st.entries, "bytes",
                       (unsigned long long)st.bytes);
}

/* _main_stat() -> {'entries', 'bytes'} of the main database */
PyObject *sp_db_main_stat(PyObject *self, PyObject *unused) {
  (void)unused;
  sp_db *d = (sp_db *)self;
  if (sp_db_check(d, "Database is closed")) return NULL;
  return stat_of(d, NULL);
}

/* ---- SubDB methods ------------------------------------------------------- */

static PyObject *s_get(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames) {
  sp_subdb *s = (sp_subdb *)self;
  if (check(s)) return NULL;
  return sp_do_get(s->db, s->sdb, NULL, &s->pins, NULL, args, nargs, kwnames, CLOSED_MSG);
}

static PyObject *s_put(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames) {
  sp_subdb *s = (sp_subdb *)self;
  if (check(s)) return NULL;
  return sp_do_put(s->db, s->sdb, CLOSED_MSG, args, nargs, kwnames);
}

static PyObject *s_delete(PyObject *self, PyObject *const *args, Py_ssize_t nargs,
                          PyObject *kwnames) {
  sp_subdb *s = (sp_subdb *)self;
  if (check(s)) return NULL;
  return sp_do_delete(s->db, s->sdb, CLOSED_MSG, args, nargs, kwnames);
}

static PyObject *s_write_batch(PyObject *self, PyObject *const *args, Py_ssize_t nargs,
                               PyObject *kwnames) {
  sp_subdb *s = (sp_subdb *)self;
  if (check(s)) return NULL;
  return sp_make_batch(s->db, s->sdb, NULL, args, nargs, kwnames);
}

static PyObject *s_iter_impl(sp_subdb *s, PyObject *prefix, int raw, PyObject *const *args,
                             Py_ssize_t nargs, PyObject *kwnames) {
  if (check(s)) return NULL;
  sp_iter_source src = {NULL, s->sdb, NULL, NULL};
  return sp_iter_create(s->db, &src, prefix, raw, args, nargs, kwnames);
}

static PyObject *s_iterator(PyObject *self, PyObject *const *args, Py_ssize_t nargs,
                            PyObject *kwnames) {
  return s_iter_impl((sp_subdb *)self, NULL, 0, args, nargs, kwnames);
}

static PyObject *s_raw_iterator(PyObject *self, PyObject *const *args, Py_ssize_t nargs,
                                PyObject *kwnames) {
  return s_iter_impl((sp_subdb *)self, NULL, 1, args, nargs, kwnames);
}

static PyObject *s_iter(PyObject *self) {
  return s_iter_impl((sp_subdb *)self, NULL, 0, NULL, 0, NULL);
}

static PyObject *s_prefixed_iterator(PyObject *self, PyObject *const *args, Py_ssize_t nargs,
                                     PyObject *kwnames) {
  PyObject *prefix;
  if (sp_prefix_arg(args, nargs, &prefix)) return NULL;
  return s_iter_impl((sp_subdb *)self, prefix, 0, args + 1, nargs - 1, kwnames);
}

static PyObject *s_snapshot(PyObject *self, PyObject *unused) {
  (void)unused;
  sp_subdb *s = (sp_subdb *)self;
  if (check(s)) return NULL;
  return sp_snapshot_new(s->db, s->sdb, NULL);
}

static PyObject *s_prefixed_snapshot(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
  sp_subdb *s = (sp_subdb *)self;
  PyObject *prefix;
  if (sp_prefix_arg(args, nargs, &prefix) || check(s)) return NULL;
  return sp_snapshot_new(s->db, s->sdb, prefix);
}

static PyObject *s_prefixed_write_batch(PyObject *self, PyObject *const *args, Py_ssize_t nargs,
                                        PyObject *kwnames) {
  sp_subdb *s = (sp_subdb *)self;
  PyObject *prefix;
  if (sp_prefix_arg(args, nargs, &prefix) || check(s)) return NULL;
  return sp_make_batch(s->db, s->sdb, prefix, args + 1, nargs - 1, kwnames);
}

static PyObject *s_stat(PyObject *self, PyObject *unused) {
  (void)unused;
  sp_subdb *s = (sp_subdb *)self;
  if (check(s)) return NULL;
  return stat_of(s->db, s->sdb);
}

static PyObject *s_name_get(PyObject *self, void *c) {
  (void)c;
  PyObject *n = ((sp_subdb *)self)->name;
  Py_INCREF(n);
  return n;
}

static PyObject *s_db_get(PyObject *self, void *c) {
  (void)c;
  PyObject *d = (PyObject *)((sp_subdb *)self)->db;
  Py_INCREF(d);
  return d;
}

static PyObject *s_closed_get(PyObject *self, void *c) {
  (void)c;
  return PyBool_FromLong(((sp_subdb *)self)->sdb == NULL);
}

static int s_contains(PyObject *self, PyObject *key) {
  (void)self;
  (void)key;
  PyErr_SetString(PyExc_TypeError, "__contains__ is not supported ('in' and 'not in' operators)");
  return -1;
}

static void s_dealloc(PyObject *self) {
  sp_subdb *s = (sp_subdb *)self;
  PyObject_GC_UnTrack(self);
  if (s->weakreflist) PyObject_ClearWeakRefs(self);
  sp_list_del(&s->link);
  if (s->pins.next) sp_list_invalidate_all(&s->pins);
  Py_CLEAR(s->name);
  Py_CLEAR(s->db);
  Py_TYPE(self)->tp_free(self);
}

static int s_traverse(PyObject *self, visitproc visit, void *arg) {
  Py_VISIT(((sp_subdb *)self)->db);
  return 0;
}

static PyObject *s_new(PyTypeObject *type, PyObject *args, PyObject *kwds) {
  (void)type;
  (void)args;
  (void)kwds;
  PyErr_SetString(PyExc_TypeError, "SubDB objects are made by DB.open_db()");
  return NULL;
}

#define SUBDB_DOC(m, what)                                                                         \
  m "\n\nAs DB." what ", in this sub-database (its own key space: any key, the empty one\n"        \
    "included).\n\nRaises: as DB." what ", and strata.ClosedError (its database closed),\n"        \
    "strata.InvalidArgumentError (the sub-database was dropped).\nThread-safety: as DB."

static PyMethodDef s_methods[] = {
    {"get", (PyCFunction)(void (*)(void))s_get, METH_FASTCALL | METH_KEYWORDS,
     SUBDB_DOC("get(key, default=None, *, verify_checksums=False, fill_cache=True, "
               "buffers=False)",
               "get()")},
    {"put", (PyCFunction)(void (*)(void))s_put, METH_FASTCALL | METH_KEYWORDS,
     SUBDB_DOC("put(key, value, *, sync=False) -> None", "put()")},
    {"delete", (PyCFunction)(void (*)(void))s_delete, METH_FASTCALL | METH_KEYWORDS,
     SUBDB_DOC("delete(key, *, sync=False) -> None", "delete()")},
    {"write_batch", (PyCFunction)(void (*)(void))s_write_batch, METH_FASTCALL | METH_KEYWORDS,
     SUBDB_DOC("write_batch(*, transaction=False, sync=False) -> WriteBatch", "write_batch()")},
    {"iterator", (PyCFunction)(void (*)(void))s_iterator, METH_FASTCALL | METH_KEYWORDS,
     SUBDB_DOC("iterator(**kwargs) -> Iterator", "iterator()")},
    {"raw_iterator", (PyCFunction)(void (*)(void))s_raw_iterator, METH_FASTCALL | METH_KEYWORDS,
     SUBDB_DOC("raw_iterator(**kwargs) -> RawIterator", "raw_iterator()")},
    {"snapshot", s_snapshot, METH_NOARGS, SUBDB_DOC("snapshot() -> Snapshot", "snapshot()")},
    {"stat", s_stat, METH_NOARGS,
     "stat() -> dict\n\n{'entries': approximate entries, 'bytes': approximate bytes on disk and "
     "in memtables}\n(overwritten and deleted entries not yet compacted are counted).\n\n"
     "Raises: strata.ClosedError, strata.InvalidArgumentError (dropped), strata.IOError."},
    {"_prefixed_iterator", (PyCFunction)(void (*)(void))s_prefixed_iterator,
     METH_FASTCALL | METH_KEYWORDS, "(internal)"},
    {"_prefixed_snapshot", (PyCFunction)(void (*)(void))s_prefixed_snapshot, METH_FASTCALL,
     "(internal)"},
    {"_prefixed_write_batch", (PyCFunction)(void (*)(void))s_prefixed_write_batch,
     METH_FASTCALL | METH_KEYWORDS, "(internal)"},
    {NULL, NULL, 0, NULL}};

static PyGetSetDef s_getset[] = {
    {"name", s_name_get, NULL, "The sub-database's name (str).", NULL},
    {"db", s_db_get, NULL, "The database it belongs to.", NULL},
    {"closed", s_closed_get, NULL, "True once its database closed.", NULL},
    {NULL, NULL, NULL, NULL, NULL}};

static PySequenceMethods s_as_sequence = {.sq_contains = s_contains};

PyTypeObject sp_subdb_type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "strata._strata.SubDB",
    .tp_basicsize = sizeof(sp_subdb),
    .tp_dealloc = s_dealloc,
    .tp_as_sequence = &s_as_sequence,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "A named sub-database (see DB.open_db()): DB's per-key methods over a key space of "
              "its own.\nInvalidated when its database closes.",
    .tp_traverse = s_traverse,
    .tp_weaklistoffset = offsetof(sp_subdb, weakreflist),
    .tp_iter = s_iter,
    .tp_methods = s_methods,
    .tp_getset = s_getset,
    .tp_new = s_new,
};

#endif /* SP_HAVE_SUBDB */
