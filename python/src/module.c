/*
 * module.c - strata._strata: module init, exceptions, argument parsing, the
 * per-thread value buffer, fork detection and the module-level functions
 * (destroy, repair).
 */
#include "strata_py.h"

#include <pthread.h>
#include <string.h>

PyObject *sp_default_errors = NULL;
unsigned long sp_fork_generation = 0;

/* ------------------------------------------------------------------------ */
/* Exceptions                                                               */
/* ------------------------------------------------------------------------ */

/* Until strata/__init__.py installs strata.*'s classes: builtins. */
static PyObject *fallback_class(int slot) {
  switch (slot) {
  case SP_E_IO:
  case SP_E_LOCK: return PyExc_OSError;
  case SP_E_CLOSED: return PyExc_RuntimeError;
  case SP_E_INVALID: return PyExc_ValueError;
  default: return PyExc_RuntimeError;
  }
}

PyObject *sp_raise_slot(PyObject *errors, int bytes_messages, int slot, const char *msg) {
  if (!errors) errors = sp_default_errors;
  PyObject *cls = NULL;
  if (errors && PyTuple_Check(errors) && PyTuple_GET_SIZE(errors) == SP_E_COUNT)
    cls = PyTuple_GET_ITEM(errors, slot);
  if (!cls) cls = fallback_class(slot);
  if (!*msg) {
    PyErr_SetNone(cls); /* plyvel's IteratorInvalidError() has no message */
    return NULL;
  }
  /* Closed objects raise RuntimeError with a str message in plyvel too. */
  if (slot == SP_E_CLOSED) bytes_messages = 0;
  PyObject *m = bytes_messages
                    ? PyBytes_FromString(msg)
                    : PyUnicode_DecodeUTF8(msg, (Py_ssize_t)strlen(msg), "backslashreplace");
  if (!m) return NULL;
  PyErr_SetObject(cls, m);
  Py_DECREF(m);
  return NULL;
}

PyObject *sp_raise_engine(PyObject *errors, int bytes_messages, int rc) {
  const char *msg = strata_errmsg();
  if (!msg || !*msg) msg = strata_strerror(rc);
  int slot;
  switch (rc) {
  case STRATA_EIO: slot = SP_E_IO; break;
  case STRATA_ECORRUPTION: slot = SP_E_CORRUPTION; break;
  case STRATA_EBUSY: slot = SP_E_LOCK; break;
  case STRATA_ECONFLICT: slot = SP_E_CONFLICT; break;
  case STRATA_ENOTFOUND: slot = SP_E_NOTFOUND; break;
  case STRATA_ENOTSUP: slot = SP_E_NOTSUP; break;
  case STRATA_EINVAL: slot = strstr(msg, "read-only") ? SP_E_READONLY : SP_E_INVALID; break;
  case STRATA_ENOMEM: return PyErr_NoMemory();
  default: slot = SP_E_ERROR; break;
  }
  return sp_raise_slot(errors, bytes_messages, slot, msg);
}

/* ------------------------------------------------------------------------ */
/* Arguments                                                                */
/* ------------------------------------------------------------------------ */

static int intern_names(sp_kwlist *kl) {
  int n = 0;
  while (kl->names[n])
    n++;
  PyObject **arr = PyMem_Calloc((size_t)n + 1, sizeof *arr);
  if (!arr) return -1;
  for (int i = 0; i < n; i++) {
    arr[i] = PyUnicode_InternFromString(kl->names[i]);
    if (!arr[i]) {
      for (int j = 0; j < i; j++)
        Py_DECREF(arr[j]);
      PyMem_Free(arr);
      return -1;
    }
  }
  kl->interned = arr; /* kept for the life of the process */
  return 0;
}

int sp_parse_args(sp_kwlist *kl, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames,
                  PyObject **out) {
  if (SP_UNLIKELY(!kl->interned) && intern_names(kl)) return -1;
  int n = 0;
  while (kl->names[n])
    out[n++] = NULL;
  if (SP_UNLIKELY(nargs > kl->npos)) {
    PyErr_Format(PyExc_TypeError, "%s() takes at most %d positional argument%s (%zd given)",
                 kl->fname, kl->npos, kl->npos == 1 ? "" : "s", nargs);
    return -1;
  }
  for (Py_ssize_t i = 0; i < nargs; i++)
    out[i] = args[i];
  if (kwnames) {
    Py_ssize_t nk = PyTuple_GET_SIZE(kwnames);
    for (Py_ssize_t k = 0; k < nk; k++) {
      PyObject *kw = PyTuple_GET_ITEM(kwnames, k);
      int found = -1;
      for (int i = 0; i < n; i++)
        if (kl->interned[i] == kw) {
          found = i;
          break;
        }
      if (found < 0)
        for (int i = 0; i < n; i++)
          if (PyUnicode_Compare(kl->interned[i], kw) == 0) {
            found = i;
            break;
          }
      if (found < 0) {
        if (!PyErr_Occurred())
          PyErr_Format(PyExc_TypeError, "%s() got an unexpected keyword argument '%U'", kl->fname,
                       kw);
        return -1;
      }
      if (out[found]) {
        PyErr_Format(PyExc_TypeError, "%s() got multiple values for argument '%s'", kl->fname,
                     kl->names[found]);
        return -1;
      }
      out[found] = args[nargs + k];
    }
  }
  for (int i = 0; i < kl->nreq; i++)
    if (!out[i]) {
      PyErr_Format(PyExc_TypeError, "%s() missing required argument '%s' (pos %d)", kl->fname,
                   kl->names[i], i + 1);
      return -1;
    }
  return 0;
}

int sp_key_arg_fail(PyObject *o, const char *argname) {
  if (!o) {
    PyErr_Format(PyExc_TypeError, "missing required argument '%s'", argname);
    return -1;
  }
  PyErr_Format(PyExc_TypeError, "Argument '%s' has incorrect type (expected bytes, got %s)",
               argname, Py_TYPE(o)->tp_name);
  return -1;
}

int sp_value_arg(PyObject *o, const char *argname, sp_value *v) {
  v->has_view = 0;
  if (SP_LIKELY(PyBytes_Check(o))) {
    v->p = PyBytes_AS_STRING(o);
    v->n = PyBytes_GET_SIZE(o);
    return 0;
  }
  if (o == Py_None) {
    PyErr_Format(PyExc_TypeError, "Argument '%s' must not be None", argname);
    return -1;
  }
  if (!PyObject_CheckBuffer(o)) {
    PyErr_Format(PyExc_TypeError,
                 "Argument '%s' has incorrect type (expected a bytes-like object, got %s)", argname,
                 Py_TYPE(o)->tp_name);
    return -1;
  }
  if (PyObject_GetBuffer(o, &v->view, PyBUF_SIMPLE)) {
    PyObject *t, *val, *tb;
    PyErr_Fetch(&t, &val, &tb);
    PyErr_Format(PyExc_TypeError,
                 "Argument '%s': a contiguous bytes-like object is required (%s given: %S)",
                 argname, Py_TYPE(o)->tp_name, val ? val : Py_None);
    Py_XDECREF(t);
    Py_XDECREF(val);
    Py_XDECREF(tb);
    return -1;
  }
  v->has_view = 1;
  v->p = v->view.buf;
  v->n = v->view.len;
  return 0;
}

/* ------------------------------------------------------------------------ */
/* The per-thread value buffer                                              */
/* ------------------------------------------------------------------------ */

/* Values are copied by strata_get into this buffer, then into the bytes
 * object returned: one allocation per get (the bytes object), none for the
 * engine's copy once the buffer has grown. A buffer left larger than
 * SCRATCH_KEEP by a big value is freed, so a thread does not hold megabytes
 * for one large read. */
#define SCRATCH_KEEP (256 * 1024)

static pthread_key_t scratch_key;
static __thread strata_buf *scratch_tls;

static void scratch_destroy(void *p) {
  strata_buf *b = p;
  strata_buf_free(b);
  PyMem_RawFree(b);
}

strata_buf *sp_scratch(void) {
  strata_buf *b = scratch_tls;
  if (SP_LIKELY(b != NULL)) return b;
  b = PyMem_RawCalloc(1, sizeof *b);
  if (!b) return NULL;
  pthread_setspecific(scratch_key, b);
  scratch_tls = b;
  return b;
}

void sp_scratch_trim(strata_buf *b) {
  if (SP_UNLIKELY(b->cap > SCRATCH_KEEP)) strata_buf_free(b);
}

/* ------------------------------------------------------------------------ */
/* Children                                                                 */
/* ------------------------------------------------------------------------ */

void sp_list_invalidate_all(sp_child *head) {
  while (head->next != head) {
    sp_child *c = head->next;
    PyObject *o = SP_CHILD_OBJ(c);
    Py_INCREF(o); /* invalidate may drop the last other reference */
    c->invalidate(c);
    if (c->next) sp_list_del(c); /* invalidate must unlink; be sure */
    Py_DECREF(o);
  }
}

void sp_list_release_idle(sp_child *head) {
  /* release_idle may unlink children: take references to them all first */
  Py_ssize_t n = 0;
  for (sp_child *c = head->next; c != head; c = c->next)
    if (c->release_idle) n++;
  if (!n) return;
  PyObject **objs = PyMem_Malloc((size_t)n * sizeof *objs);
  if (!objs) return; /* try again at the next wait */
  Py_ssize_t k = 0;
  for (sp_child *c = head->next; c != head && k < n; c = c->next)
    if (c->release_idle) {
      objs[k] = SP_CHILD_OBJ(c);
      Py_INCREF(objs[k]);
      k++;
    }
  for (Py_ssize_t j = 0; j < k; j++) {
    sp_child *c = &((sp_childobj *)objs[j])->link;
    if (c->release_idle) c->release_idle(c);
    Py_DECREF(objs[j]);
  }
  PyMem_Free(objs);
}

/* ------------------------------------------------------------------------ */
/* Module functions                                                         */
/* ------------------------------------------------------------------------ */

static PyObject *mod_set_default_errors(PyObject *self, PyObject *arg) {
  (void)self;
  if (!PyTuple_Check(arg) || PyTuple_GET_SIZE(arg) != SP_E_COUNT) {
    PyErr_Format(PyExc_TypeError, "expected a tuple of %d exception classes", SP_E_COUNT);
    return NULL;
  }
  Py_INCREF(arg);
  Py_XSETREF(sp_default_errors, arg);
  Py_RETURN_NONE;
}

/* _strata.destroy(path, errors=None, bytes_messages=False) */
static PyObject *mod_destroy(PyObject *self, PyObject *args) {
  (void)self;
  PyObject *path = NULL, *errors = Py_None;
  int bytes_messages = 0;
  if (!PyArg_ParseTuple(args, "O&|Op:destroy", PyUnicode_FSConverter, &path, &errors,
                        &bytes_messages))
    return NULL;
  int rc;
  Py_BEGIN_ALLOW_THREADS rc = strata_destroy(PyBytes_AS_STRING(path), NULL);
  Py_END_ALLOW_THREADS Py_DECREF(path);
  if (rc) return sp_raise_engine(errors == Py_None ? NULL : errors, bytes_messages, rc);
  Py_RETURN_NONE;
}

/* _strata.repair(path, errors=None, bytes_messages=False) -> dict */
static PyObject *mod_repair(PyObject *self, PyObject *args) {
  (void)self;
  PyObject *path = NULL, *errors = Py_None;
  int bytes_messages = 0;
  if (!PyArg_ParseTuple(args, "O&|Op:repair", PyUnicode_FSConverter, &path, &errors,
                        &bytes_messages))
    return NULL;
  strata_repair_report rep;
  memset(&rep, 0, sizeof rep);
  int rc;
  Py_BEGIN_ALLOW_THREADS rc = strata_repair(PyBytes_AS_STRING(path), NULL, &rep);
  Py_END_ALLOW_THREADS Py_DECREF(path);
  if (rc) return sp_raise_engine(errors == Py_None ? NULL : errors, bytes_messages, rc);
  return Py_BuildValue("{s:i,s:i,s:i,s:K,s:K}", "tables_kept", rep.tables_kept, "tables_lost",
                       rep.tables_lost, "logs_converted", rep.logs_converted, "entries_recovered",
                       (unsigned long long)rep.entries_recovered, "bytes_dropped",
                       (unsigned long long)rep.bytes_dropped);
}

/* _strata.increment(prefix) -> the smallest key greater than every key
 * that starts with prefix, or None (prefix is all 0xff bytes). */
static PyObject *mod_increment(PyObject *self, PyObject *arg) {
  (void)self;
  if (!PyBytes_Check(arg)) return PyErr_Format(PyExc_TypeError, "expected bytes");
  return sp_increment(arg);
}

PyObject *sp_increment(PyObject *prefix) {
  const unsigned char *p = (const unsigned char *)PyBytes_AS_STRING(prefix);
  Py_ssize_t i = PyBytes_GET_SIZE(prefix) - 1;
  while (i >= 0 && p[i] == 0xff)
    i--;
  if (i < 0) Py_RETURN_NONE;
  /* a fresh object (never CPython's shared one-byte bytes) */
  PyObject *r = PyBytes_FromStringAndSize(NULL, i + 1);
  if (!r) return NULL;
  memcpy(PyBytes_AS_STRING(r), p, (size_t)i + 1);
  ((unsigned char *)PyBytes_AS_STRING(r))[i]++;
  return r;
}

static PyMethodDef module_methods[] = {
    {"_set_default_errors", mod_set_default_errors, METH_O,
     "_set_default_errors(errors: tuple) -> None\n\nInstalls the exception classes raised by "
     "objects whose class names none (internal)."},
    {"destroy", mod_destroy, METH_VARARGS,
     "destroy(path, errors=None, bytes_messages=False) -> None\n\nDeletes every file of the "
     "database at path (strata_destroy). Internal: see strata.destroy_db."},
    {"repair", mod_repair, METH_VARARGS,
     "repair(path, errors=None, bytes_messages=False) -> dict\n\nRepairs the database at path "
     "(strata_repair) and returns its report. Internal: see strata.repair_db."},
    {"check", sp_mod_check, METH_VARARGS,
     "check(path, errors=None, bytes_messages=False) -> list\n\nVerifies every file of the "
     "database at path (strata_check) and returns its problems as (file, offset, code, "
     "message) tuples. Internal: see strata.check_db."},
    {"increment", mod_increment, METH_O,
     "increment(prefix: bytes) -> bytes | None\n\nThe smallest key greater than every key "
     "beginning with prefix; None when prefix is empty or all 0xff bytes."},
    {NULL, NULL, 0, NULL}};

extern int sp_pin_init_module(void);

int sp_module_add_types(PyObject *m) {
  struct {
    const char *name;
    PyTypeObject *t;
  } types[] = {
      {"DB", &sp_db_type},
      {"Snapshot", &sp_snapshot_type},
      {"BaseIterator", &sp_base_iter_type},
      {"Iterator", &sp_iter_type},
      {"RawIterator", &sp_raw_iter_type},
      {"WriteBatch", &sp_batch_type},
      {"Pin", &sp_pin_type},
#ifdef SP_HAVE_SUBDB
      {"SubDB", &sp_subdb_type},
#endif
#ifdef SP_HAVE_TXN
      {"Transaction", &sp_txn_type},
#endif
#ifdef SP_HAVE_LOADER
      {"Loader", &sp_loader_type},
#endif
  };
  if (sp_pin_init_module()) return -1;
  for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
    if (PyType_Ready(types[i].t)) return -1;
    Py_INCREF(types[i].t);
    if (PyModule_AddObject(m, types[i].name, (PyObject *)types[i].t)) {
      Py_DECREF(types[i].t);
      return -1;
    }
  }
  return 0;
}

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT,
    "strata._strata",
    "The C core of the strata package (CPython C API over libstrata). Use the strata package, "
    "not this module.",
    -1,
    module_methods,
    NULL,
    NULL,
    NULL,
    NULL};

static void after_fork_child(void) { sp_fork_generation++; }

/* FEATURES: the optional engine parts compiled in (see setup.py). */
static int add_features(PyObject *m) {
  PyObject *l = PyList_New(0);
  if (!l) return -1;
  const char *names[] = {
#ifdef SP_HAVE_SUBDB
      "subdb",
#endif
#ifdef SP_HAVE_TXN
      "txn",
#endif
#ifdef SP_HAVE_READONLY
      "read_only",
#endif
#ifdef SP_HAVE_CHECKPOINT
      "checkpoint",
#endif
#ifdef SP_HAVE_LOADER
      "loader",
#endif
      NULL};
  for (int i = 0; names[i]; i++) {
    PyObject *s = PyUnicode_FromString(names[i]);
    if (!s || PyList_Append(l, s)) {
      Py_XDECREF(s);
      Py_DECREF(l);
      return -1;
    }
    Py_DECREF(s);
  }
  PyObject *fs = PyFrozenSet_New(l);
  Py_DECREF(l);
  if (!fs) return -1;
  if (PyModule_AddObject(m, "FEATURES", fs)) {
    Py_DECREF(fs);
    return -1;
  }
  return 0;
}

PyMODINIT_FUNC PyInit__strata(void) {
  static int once = 0;
  if (!once) {
    if (pthread_key_create(&scratch_key, scratch_destroy)) return PyErr_NoMemory();
    pthread_atfork(NULL, NULL, after_fork_child);
    once = 1;
  }
  PyObject *m = PyModule_Create(&module_def);
  if (!m) return NULL;
  if (sp_module_add_types(m) || sp_typed_add(m) ||
      PyModule_AddIntConstant(m, "VERSION_MAJOR", STRATA_VERSION_MAJOR) ||
      PyModule_AddIntConstant(m, "VERSION_MINOR", STRATA_VERSION_MINOR) ||
      PyModule_AddIntConstant(m, "E_COUNT", SP_E_COUNT) || add_features(m)) {
    Py_DECREF(m);
    return NULL;
  }
  return m;
}
