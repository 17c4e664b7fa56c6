/*
 * batch.c - strata._strata.WriteBatch: puts and deletes collected in a
 * strata_batch and applied atomically by write() (plyvel's WriteBatch:
 * put, delete, clear, write, append, approximate_size, context manager with
 * the `transaction` rule). It holds no engine resource tied to the database
 * handle, so it is not a child: every call checks that the database is
 * open. Not thread-safe (one thread at a time).
 */
#include "strata_py.h"

#include <string.h>

typedef struct {
  PyObject_HEAD sp_db *db;
  strata_batch *b;
  strata_subdb *sdb; /* where put/delete go by default (NULL: the main database) */
  PyObject *prefix;  /* a PrefixedDB's prefix, or NULL */
  int transaction;
  int sync;
} sp_batch;

static const char CLOSED_MSG[] = "Database is closed";

PyObject *sp_batch_new(sp_db *d, strata_subdb *sdb, PyObject *prefix, int transaction, int sync) {
  sp_batch *w = PyObject_New(sp_batch, &sp_batch_type);
  if (!w) return NULL;
  Py_INCREF(d);
  w->db = d;
  w->sdb = sdb;
  Py_XINCREF(prefix);
  w->prefix = prefix;
  w->transaction = transaction;
  w->sync = sync;
  w->b = NULL;
  if (strata_batch_create(&w->b)) {
    Py_DECREF(w);
    return PyErr_NoMemory();
  }
  return (PyObject *)w;
}

static int batch_key(sp_batch *w, PyObject *key, const char **k, Py_ssize_t *kl, char *buf,
                     size_t bufsz, char **heap) {
  if (sp_key_arg(key, "key", k, kl)) return -1;
  if (sp_db_check(w->db, CLOSED_MSG)) return -1;
  if (w->prefix && !(*k = sp_prefixed_key(w->prefix, *k, *kl, buf, bufsz, heap, kl))) return -1;
  return 0;
}

static const char *const put_names[] = {"key", "value", "db", NULL};
static sp_kwlist put_kw = {"put", put_names, 2, 2, NULL};

static PyObject *batch_put(PyObject *self, PyObject *const *args, Py_ssize_t nargs,
                           PyObject *kwnames) {
  sp_batch *w = (sp_batch *)self;
  PyObject *a[3];
  if (SP_LIKELY(nargs == 2 && !kwnames)) {
    a[0] = args[0];
    a[1] = args[1];
    a[2] = NULL;
  } else if (sp_parse_args(&put_kw, args, nargs, kwnames, a)) {
    return NULL;
  }
  const char *k;
  Py_ssize_t kl;
  char kbuf[256], *heap = NULL;
  sp_value v;
  strata_subdb *sdb = w->sdb;
  if (a[2] && sp_sdb_arg(w->db, a[2], w->sdb, &sdb)) return NULL;
  if (sp_value_arg(a[1], "value", &v)) return NULL;
  if (batch_key(w, a[0], &k, &kl, kbuf, sizeof kbuf, &heap)) {
    sp_value_release(&v);
    return NULL;
  }
  int rc = sp_batch_put_in(w->b, sdb, k, (size_t)kl, v.p, (size_t)v.n);
  sp_value_release(&v);
  PyMem_Free(heap);
  if (rc) return sp_db_raise(w->db, rc);
  Py_RETURN_NONE;
}

static const char *const delete_names[] = {"key", "db", NULL};
static sp_kwlist delete_kw = {"delete", delete_names, 1, 1, NULL};

static PyObject *batch_delete(PyObject *self, PyObject *const *args, Py_ssize_t nargs,
                              PyObject *kwnames) {
  sp_batch *w = (sp_batch *)self;
  PyObject *a[2];
  if (sp_parse_args(&delete_kw, args, nargs, kwnames, a)) return NULL;
  const char *k;
  Py_ssize_t kl;
  char kbuf[256], *heap = NULL;
  strata_subdb *sdb = w->sdb;
  if (a[1] && sp_sdb_arg(w->db, a[1], w->sdb, &sdb)) return NULL;
  if (batch_key(w, a[0], &k, &kl, kbuf, sizeof kbuf, &heap)) return NULL;
  int rc = sp_batch_delete_in(w->b, sdb, k, (size_t)kl);
  PyMem_Free(heap);
  if (rc) return sp_db_raise(w->db, rc);
  Py_RETURN_NONE;
}

static PyObject *batch_clear(PyObject *self, PyObject *unused) {
  (void)unused;
  sp_batch *w = (sp_batch *)self;
  if (sp_db_check(w->db, CLOSED_MSG)) return NULL;
  strata_batch_clear(w->b);
  Py_RETURN_NONE;
}

static int batch_write_impl(sp_batch *w) {
  if (sp_db_check(w->db, CLOSED_MSG)) return -1;
  if (w->db->read_only) {
    sp_db_raise_slot(w->db, SP_E_READONLY, "the database was opened with read_only=True");
    return -1;
  }
  strata_write_options wo;
  strata_write_options_init(&wo);
  wo.sync = w->sync;
  int rc;
  SP_ENGINE_BEGIN(w->db);
  rc = strata_write(w->db->db, &wo, w->b);
  SP_ENGINE_END();
  if (rc) {
    sp_db_raise(w->db, rc);
    return -1;
  }
  return 0;
}

static PyObject *batch_write(PyObject *self, PyObject *unused) {
  (void)unused;
  if (batch_write_impl((sp_batch *)self)) return NULL;
  Py_RETURN_NONE;
}

static PyObject *batch_append(PyObject *self, PyObject *src) {
  sp_batch *w = (sp_batch *)self;
  if (!PyObject_TypeCheck(src, &sp_batch_type))
    return PyErr_Format(PyExc_TypeError,
                        "Argument 'source' has incorrect type (expected WriteBatch, got %s)",
                        Py_TYPE(src)->tp_name);
  if (sp_db_check(w->db, CLOSED_MSG)) return NULL;
  int rc = strata_batch_append(w->b, ((sp_batch *)src)->b);
  if (rc) return sp_db_raise(w->db, rc);
  Py_RETURN_NONE;
}

static PyObject *batch_approximate_size(PyObject *self, PyObject *unused) {
  (void)unused;
  sp_batch *w = (sp_batch *)self;
  if (sp_db_check(w->db, CLOSED_MSG)) return NULL;
  return PyLong_FromSize_t(strata_batch_size(w->b));
}

static Py_ssize_t batch_len(PyObject *self) {
  return (Py_ssize_t)strata_batch_count(((sp_batch *)self)->b);
}

static PyObject *batch_enter(PyObject *self, PyObject *unused) {
  (void)unused;
  sp_batch *w = (sp_batch *)self;
  if (sp_db_check(w->db, CLOSED_MSG)) return NULL;
  Py_INCREF(self);
  return self;
}

/* Writes the batch when the block ends -- with transaction=True only when
 * it ends without an exception -- then clears it. */
static PyObject *batch_exit(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
  sp_batch *w = (sp_batch *)self;
  if (sp_db_check(w->db, CLOSED_MSG)) return NULL;
  int raised = nargs > 0 && args[0] != Py_None;
  if (!(w->transaction && raised)) {
    if (batch_write_impl(w)) return NULL;
  }
  strata_batch_clear(w->b);
  Py_RETURN_FALSE;
}

static void batch_dealloc(PyObject *self) {
  sp_batch *w = (sp_batch *)self;
  strata_batch_destroy(w->b);
  Py_CLEAR(w->prefix);
  Py_CLEAR(w->db);
  PyObject_Free(self);
}

#include "docs.h"

static PyMethodDef batch_methods[] = {
    {"put", (PyCFunction)(void (*)(void))batch_put, METH_FASTCALL | METH_KEYWORDS, DOC_WB_PUT},
    {"delete", (PyCFunction)(void (*)(void))batch_delete, METH_FASTCALL | METH_KEYWORDS,
     DOC_WB_DELETE},
    {"clear", batch_clear, METH_NOARGS, DOC_WB_CLEAR},
    {"write", batch_write, METH_NOARGS, DOC_WB_WRITE},
    {"append", batch_append, METH_O, DOC_WB_APPEND},
    {"approximate_size", batch_approximate_size, METH_NOARGS, DOC_WB_APPROXIMATE_SIZE},
    {"__enter__", batch_enter, METH_NOARGS, "Returns the batch itself."},
    {"__exit__", (PyCFunction)(void (*)(void))batch_exit, METH_FASTCALL, DOC_WB_EXIT},
    {NULL, NULL, 0, NULL}};

static PySequenceMethods batch_as_sequence = {.sq_length = batch_len};

PyTypeObject sp_batch_type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "strata._strata.WriteBatch",
    .tp_basicsize = sizeof(sp_batch),
    .tp_dealloc = batch_dealloc,
    .tp_as_sequence = &batch_as_sequence,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = DOC_WB,
    .tp_methods = batch_methods,
};
