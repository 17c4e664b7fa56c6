/*
 * snapshot.c - strata._strata.Snapshot: a consistent view of the database
 * as of its creation (strata_snapshot_get), with plyvel's Snapshot API:
 * get, iterator, raw_iterator, close/release, context manager. A child of
 * its DB (closed with it); the buffers its gets return are children of the
 * snapshot and are released when it closes.
 */
#include "strata_py.h"

static void snap_close_impl(sp_snapshot *s) {
  sp_list_del(&s->link);
  sp_list_invalidate_all(&s->pins);
  const strata_snapshot *snap = s->snap;
  s->snap = NULL;
  if (snap && s->db->db && s->db->fork_gen == sp_fork_generation) {
    SP_ENGINE_BEGIN(s->db);
    strata_snapshot_release(s->db->db, snap);
    SP_ENGINE_END();
  }
}

static void snap_invalidate(sp_child *c) { snap_close_impl((sp_snapshot *)SP_CHILD_OBJ(c)); }

PyObject *sp_snapshot_new(sp_db *d, strata_subdb *sdb, PyObject *prefix) {
  if (sp_db_check(d, "Cannot operate on closed LevelDB database")) return NULL;
  sp_snapshot *s = PyObject_New(sp_snapshot, &sp_snapshot_type);
  if (!s) return NULL;
  s->link.prev = s->link.next = NULL;
  s->link.invalidate = snap_invalidate;
  s->link.release_idle = NULL;
  sp_list_init(&s->pins);
  Py_INCREF(d);
  s->db = d;
  s->sdb = sdb;
  Py_XINCREF(prefix);
  s->prefix = prefix;
  const strata_snapshot *snap;
  SP_ENGINE_BEGIN(d);
  snap = strata_snapshot_get(d->db);
  SP_ENGINE_END();
  s->snap = snap;
  if (!snap) {
    Py_DECREF(s);
    return PyErr_NoMemory();
  }
  sp_list_add(&d->children, &s->link);
  return (PyObject *)s;
}

static const char CLOSED_MSG[] = "Database or snapshot is closed";

static PyObject *snap_get(PyObject *self, PyObject *const *args, Py_ssize_t nargs,
                          PyObject *kwnames) {
  sp_snapshot *s = (sp_snapshot *)self;
  if (!s->snap) return sp_db_raise_slot(s->db, SP_E_CLOSED, CLOSED_MSG);
  return sp_do_get(s->db, s->sdb, s->snap, &s->pins, s->prefix, args, nargs, kwnames, CLOSED_MSG);
}

static PyObject *snap_iterator(PyObject *self, PyObject *const *args, Py_ssize_t nargs,
                               PyObject *kwnames) {
  sp_snapshot *s = (sp_snapshot *)self;
  sp_iter_source src = {s, s->sdb, NULL, NULL};
  return sp_iter_create(s->db, &src, s->prefix, 0, args, nargs, kwnames);
}

static PyObject *snap_raw_iterator(PyObject *self, PyObject *const *args, Py_ssize_t nargs,
                                   PyObject *kwnames) {
  sp_snapshot *s = (sp_snapshot *)self;
  sp_iter_source src = {s, s->sdb, NULL, NULL};
  return sp_iter_create(s->db, &src, NULL, 1, args, nargs, kwnames);
}

static PyObject *snap_iter(PyObject *self) {
  sp_snapshot *s = (sp_snapshot *)self;
  sp_iter_source src = {s, s->sdb, NULL, NULL};
  return sp_iter_create(s->db, &src, s->prefix, 0, NULL, 0, NULL);
}

static PyObject *snap_close(PyObject *self, PyObject *unused) {
  (void)unused;
  snap_close_impl((sp_snapshot *)self);
  Py_RETURN_NONE;
}

static PyObject *snap_enter(PyObject *self, PyObject *unused) {
  (void)unused;
  Py_INCREF(self);
  return self;
}

static PyObject *snap_exit(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
  (void)args;
  (void)nargs;
  snap_close_impl((sp_snapshot *)self);
  Py_RETURN_FALSE;
}

static int snap_contains(PyObject *self, PyObject *key) {
  (void)self;
  (void)key;
  PyErr_SetString(PyExc_TypeError, "__contains__ is not supported ('in' and 'not in' operators)");
  return -1;
}

static PyObject *snap_closed_get(PyObject *self, void *c) {
  (void)c;
  return PyBool_FromLong(((sp_snapshot *)self)->snap == NULL);
}

static PyObject *snap_db_get(PyObject *self, void *c) {
  (void)c;
  PyObject *d = (PyObject *)((sp_snapshot *)self)->db;
  Py_INCREF(d);
  return d;
}

static void snap_dealloc(PyObject *self) {
  sp_snapshot *s = (sp_snapshot *)self;
  PyObject *et, *ev, *tb;
  PyErr_Fetch(&et, &ev, &tb);
  snap_close_impl(s);
  Py_CLEAR(s->prefix);
  Py_CLEAR(s->db);
  PyErr_Restore(et, ev, tb);
  PyObject_Free(self);
}

#include "docs.h"

static PyMethodDef snap_methods[] = {
    {"get", (PyCFunction)(void (*)(void))snap_get, METH_FASTCALL | METH_KEYWORDS, DOC_SNAP_GET},
    {"iterator", (PyCFunction)(void (*)(void))snap_iterator, METH_FASTCALL | METH_KEYWORDS,
     DOC_SNAP_ITERATOR},
    {"raw_iterator", (PyCFunction)(void (*)(void))snap_raw_iterator, METH_FASTCALL | METH_KEYWORDS,
     DOC_SNAP_RAW_ITERATOR},
    {"close", snap_close, METH_NOARGS, DOC_SNAP_CLOSE},
    {"release", snap_close, METH_NOARGS, "release() -> None\n\nAlias of close()."},
    {"__enter__", snap_enter, METH_NOARGS, "Returns the snapshot itself."},
    {"__exit__", (PyCFunction)(void (*)(void))snap_exit, METH_FASTCALL,
     "Closes the snapshot; exceptions propagate."},
    {NULL, NULL, 0, NULL}};

static PyGetSetDef snap_getset[] = {
    {"closed", snap_closed_get, NULL, "True once the snapshot (or its database) is closed.", NULL},
    {"db", snap_db_get, NULL, "The database the snapshot belongs to.", NULL},
    {NULL, NULL, NULL, NULL, NULL}};

static PySequenceMethods snap_as_sequence = {.sq_contains = snap_contains};

PyTypeObject sp_snapshot_type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "strata._strata.Snapshot",
    .tp_basicsize = sizeof(sp_snapshot),
    .tp_dealloc = snap_dealloc,
    .tp_as_sequence = &snap_as_sequence,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = DOC_SNAP,
    .tp_iter = snap_iter,
    .tp_methods = snap_methods,
    .tp_getset = snap_getset,
};
