/*
 * db.c - strata._strata.DB: the database handle with plyvel's per-key API
 * (get, put, delete, write_batch, iterator, raw_iterator, snapshot,
 * get_property, approximate_sizes, compact_range, close), opening and
 * closing, the Python comparator, and the close protocol (see strata_py.h).
 *
 * strata.DB and strata.plyvel.DB are Python subclasses of this type; their
 * class attribute _strata_errors (a tuple in SP_E_* order) and
 * _strata_bytes_messages choose the exceptions raised.
 */
#include "strata_py.h"

#include <string.h>
#include <unistd.h>

/* ------------------------------------------------------------------------ */
/* Checks                                                                   */
/* ------------------------------------------------------------------------ */

int sp_db_check_slow(sp_db *d, const char *closed_msg) {
  if (d->fork_gen != sp_fork_generation && d->db) {
    sp_db_raise_slot(d, SP_E_ERROR,
                     "this database handle was opened by the parent process before fork(); "
                     "open the database again in this process (read_only=True while the "
                     "parent holds it)");
    return -1;
  }
  sp_db_raise_slot(d, SP_E_CLOSED, closed_msg);
  return -1;
}

static int check_writable(sp_db *d) {
  if (SP_UNLIKELY(d->read_only)) {
    sp_db_raise_slot(d, SP_E_READONLY, "the database was opened with read_only=True");
    return -1;
  }
  return 0;
}

/* ------------------------------------------------------------------------ */
/* Comparator                                                               */
/* ------------------------------------------------------------------------ */

/* The engine calls this from any thread, with or without the GIL: take it.
 * An exception in the callable cannot be propagated through the engine, and
 * going on with a wrong order would corrupt the database, so (as plyvel
 * does) it is printed and the process aborts. */
static int py_compare(void *state, const char *a, size_t alen, const char *b, size_t blen) {
  PyGILState_STATE g = PyGILState_Ensure();
  int r = 0;
  PyObject *ba = PyBytes_FromStringAndSize(a, (Py_ssize_t)alen);
  PyObject *bb = PyBytes_FromStringAndSize(b, (Py_ssize_t)blen);
  PyObject *res = (ba && bb) ? PyObject_CallFunctionObjArgs((PyObject *)state, ba, bb, NULL) : NULL;
  if (res) {
    PyObject *zero = PyLong_FromLong(0);
    int gt = zero ? PyObject_RichCompareBool(res, zero, Py_GT) : -1;
    int lt = (gt == 0) ? PyObject_RichCompareBool(res, zero, Py_LT) : 0;
    Py_XDECREF(zero);
    if (gt < 0 || lt < 0)
      Py_CLEAR(res);
    else
      r = gt ? 1 : lt ? -1 : 0;
    Py_XDECREF(res);
    if (gt >= 0 && lt >= 0) res = Py_None; /* mark success */
  }
  Py_XDECREF(ba);
  Py_XDECREF(bb);
  if (!res) {
    PyErr_Print();
    fprintf(stderr, "strata: FATAL: the Python comparator raised an exception or returned a "
                    "value not comparable with 0; aborting to avoid corrupting the database\n");
    abort();
  }
  PyGILState_Release(g);
  return r;
}

static void py_compare_destroy(void *state) {
  PyGILState_STATE g = PyGILState_Ensure();
  Py_DECREF((PyObject *)state);
  PyGILState_Release(g);
}

int sp_db_compare(sp_db *d, const char *a, size_t alen, const char *b, size_t blen) {
  if (SP_LIKELY(!d->py_cmp)) {
    size_t n = alen < blen ? alen : blen;
    int r = n ? memcmp(a, b, n) : 0;
    if (r) return r;
    return alen < blen ? -1 : alen > blen ? 1 : 0;
  }
  PyObject *ba = PyBytes_FromStringAndSize(a, (Py_ssize_t)alen);
  PyObject *bb = PyBytes_FromStringAndSize(b, (Py_ssize_t)blen);
  PyObject *res = (ba && bb) ? PyObject_CallFunctionObjArgs(d->py_cmp, ba, bb, NULL) : NULL;
  Py_XDECREF(ba);
  Py_XDECREF(bb);
  if (!res) return 0;
  PyObject *zero = PyLong_FromLong(0);
  int r = 0;
  if (zero) {
    int gt = PyObject_RichCompareBool(res, zero, Py_GT);
    int lt = gt == 0 ? PyObject_RichCompareBool(res, zero, Py_LT) : 0;
    r = gt > 0 ? 1 : lt > 0 ? -1 : 0;
    Py_DECREF(zero);
  }
  Py_DECREF(res);
  return r;
}

/* ------------------------------------------------------------------------ */
/* Open                                                                     */
/* ------------------------------------------------------------------------ */

static int opt_size(PyObject *o, const char *name, size_t *out) {
  if (!o || o == Py_None) return 0;
  if (!PyLong_Check(o)) {
    PyErr_Format(PyExc_TypeError, "'%s' must be an int, not %s", name, Py_TYPE(o)->tp_name);
    return -1;
  }
  Py_ssize_t v = PyLong_AsSsize_t(o);
  if (v == -1 && PyErr_Occurred()) return -1;
  if (v <= 0) {
    PyErr_Format(PyExc_ValueError, "'%s' must be positive, got %zd", name, v);
    return -1;
  }
  *out = (size_t)v;
  return 0;
}

static int opt_int(PyObject *o, const char *name, int *out) {
  size_t v = 0;
  if (!o || o == Py_None) return 0;
  if (opt_size(o, name, &v)) return -1;
  if (v > 0x7fffffff) {
    PyErr_Format(PyExc_ValueError, "'%s' is too large", name);
    return -1;
  }
  *out = (int)v;
  return 0;
}

static char *db_init_kw[] = {"name",
                             "create_if_missing",
                             "error_if_exists",
                             "paranoid_checks",
                             "write_buffer_size",
                             "max_open_files",
                             "lru_cache_size",
                             "block_size",
                             "block_restart_interval",
                             "max_file_size",
                             "compression",
                             "bloom_filter_bits",
                             "comparator",
                             "comparator_name",
                             "read_only",
                             "zstd_level",
                             "reuse_logs",
                             NULL};

static void close_engine(sp_db *d);

static int db_init(PyObject *self, PyObject *args, PyObject *kwds) {
  sp_db *d = (sp_db *)self;
  PyObject *name = NULL, *paranoid = Py_None, *wbs = Py_None, *mof = Py_None, *lru = Py_None,
           *bs = Py_None, *bri = Py_None, *mfs = Py_None, *compression = NULL, *bloom = NULL,
           *comparator = Py_None, *comparator_name = Py_None, *zstd_level = Py_None;
  int create_if_missing = 0, error_if_exists = 0, read_only = 0, reuse_logs = 0;
  if (d->db || d->open) {
    PyErr_SetString(PyExc_RuntimeError, "DB.__init__ called on an open database");
    return -1;
  }
  if (!PyArg_ParseTupleAndKeywords(args, kwds, "O|$ppOOOOOOOOOOOpOp:DB", db_init_kw, &name,
                                   &create_if_missing, &error_if_exists, &paranoid, &wbs, &mof,
                                   &lru, &bs, &bri, &mfs, &compression, &bloom, &comparator,
                                   &comparator_name, &read_only, &zstd_level, &reuse_logs))
    return -1;

  /* The error style comes from the Python class. */
  PyObject *errors = PyObject_GetAttrString((PyObject *)Py_TYPE(self), "_strata_errors");
  if (!errors) {
    PyErr_Clear();
    errors = sp_default_errors;
    Py_XINCREF(errors);
  } else if (!PyTuple_Check(errors) || PyTuple_GET_SIZE(errors) != SP_E_COUNT) {
    Py_DECREF(errors);
    PyErr_SetString(PyExc_TypeError, "_strata_errors must be a tuple of exception classes");
    return -1;
  }
  Py_XSETREF(d->errors, errors);
  PyObject *bm = PyObject_GetAttrString((PyObject *)Py_TYPE(self), "_strata_bytes_messages");
  if (bm) {
    d->bytes_messages = PyObject_IsTrue(bm) == 1;
    Py_DECREF(bm);
  } else {
    PyErr_Clear();
  }

  Py_INCREF(name);
  Py_XSETREF(d->name, name);
  PyObject *fsname = NULL;
  if (PyBytes_Check(name) || PyUnicode_Check(name) || PyObject_CheckBuffer(name) == 0) {
    if (!PyUnicode_FSConverter(name, &fsname)) {
      if (PyErr_ExceptionMatches(PyExc_TypeError)) {
        PyErr_Clear();
        PyErr_SetString(PyExc_TypeError,
                        "'name' arg must be a byte string, a unicode string or a path-like "
                        "object");
      }
      return -1;
    }
  }

#ifndef SP_HAVE_READONLY
  if (read_only) {
    /* the engine's field exists but is not implemented in this build: never
     * open read-write in its place */
    sp_db_raise_slot(d, SP_E_NOTSUP,
                     "read_only=True needs the engine's read-only opens (strata_catch_up), "
                     "which this build of Strata does not have yet");
    Py_XDECREF(fsname);
    return -1;
  }
#endif
  strata_options o;
  strata_options_init(&o);
  o.create_if_missing = create_if_missing;
  o.error_if_exists = error_if_exists;
  o.read_only = read_only;
  o.reuse_logs = reuse_logs;
  int rc = -1;
  if (paranoid != Py_None) {
    int v = PyObject_IsTrue(paranoid);
    if (v < 0) goto out;
    o.paranoid_checks = v;
  }
  if (opt_size(wbs, "write_buffer_size", &o.write_buffer_size) ||
      opt_int(mof, "max_open_files", &o.max_open_files) ||
      opt_size(bs, "block_size", &o.block_size) ||
      opt_int(bri, "block_restart_interval", &o.block_restart_interval) ||
      opt_size(mfs, "max_file_size", &o.max_file_size))
    goto out;
  if (zstd_level != Py_None) {
    if (!PyLong_Check(zstd_level)) {
      PyErr_Format(PyExc_TypeError, "'zstd_level' must be an int, not %s",
                   Py_TYPE(zstd_level)->tp_name);
      goto out;
    }
    long lv = PyLong_AsLong(zstd_level);
    if (lv == -1 && PyErr_Occurred()) goto out;
    if (lv < -131072 || lv > 22) {
      PyErr_Format(PyExc_ValueError, "'zstd_level' must be in [-131072, 22], got %ld", lv);
      goto out;
    }
    o.zstd_level = (int)lv;
  }
  /* compression: 'snappy' (default), None, 'zstd' (Strata), as str or bytes */
  if (compression && compression != Py_None) {
    const char *c = NULL;
    if (PyUnicode_Check(compression))
      c = PyUnicode_AsUTF8(compression);
    else if (PyBytes_Check(compression))
      c = PyBytes_AS_STRING(compression);
    else {
      PyErr_SetString(PyExc_TypeError, "'compression' must be None or a string");
      goto out;
    }
    if (!c) goto out;
    if (!strcmp(c, "snappy"))
      o.compression = STRATA_COMPRESSION_SNAPPY;
    else if (!strcmp(c, "zstd"))
      o.compression = STRATA_COMPRESSION_ZSTD;
    else {
      PyErr_SetString(PyExc_ValueError, "'compression' must be None, 'snappy' or 'zstd'");
      goto out;
    }
  } else if (compression == Py_None) {
    o.compression = STRATA_COMPRESSION_NONE;
  }
  if (bloom && bloom != Py_None) {
    if (!PyLong_Check(bloom)) {
      PyErr_SetString(PyExc_TypeError, "an integer is required");
      goto out;
    }
    long bits = PyLong_AsLong(bloom);
    if (bits == -1 && PyErr_Occurred()) goto out;
    if (bits > 0) {
      if (bits > 1000) {
        PyErr_Format(PyExc_ValueError, "'bloom_filter_bits' must be at most 1000, got %ld", bits);
        goto out;
      }
      if (strata_filter_policy_create_bloom((int)bits, &d->filter)) {
        sp_db_raise(d, STRATA_ENOMEM);
        goto out;
      }
      o.filter_policy = d->filter;
    }
  } else if (bloom == Py_None) {
    PyErr_SetString(PyExc_TypeError, "an integer is required");
    goto out;
  }
  if (lru != Py_None) {
    size_t cap = 0;
    if (opt_size(lru, "lru_cache_size", &cap)) goto out;
    if (strata_cache_create_lru(cap, &d->cache)) {
      sp_db_raise(d, STRATA_ENOMEM);
      goto out;
    }
    o.block_cache = d->cache;
  }
  if ((comparator == Py_None) != (comparator_name == Py_None)) {
    PyErr_SetString(PyExc_ValueError,
                    "'comparator' and 'comparator_name' must be specified together");
    goto out;
  }
  if (comparator != Py_None) {
    if (!PyCallable_Check(comparator)) {
      PyErr_SetString(PyExc_TypeError, "custom comparator object must be callable");
      goto out;
    }
    if (!PyBytes_Check(comparator_name)) {
      PyErr_Format(PyExc_TypeError,
                   "Argument 'comparator_name' has incorrect type (expected bytes, got %s)",
                   Py_TYPE(comparator_name)->tp_name);
      goto out;
    }
    if (strlen(PyBytes_AS_STRING(comparator_name)) != (size_t)PyBytes_GET_SIZE(comparator_name) ||
        PyBytes_GET_SIZE(comparator_name) == 0) {
      PyErr_SetString(PyExc_ValueError, "'comparator_name' must be non-empty and hold no NUL byte");
      goto out;
    }
    Py_INCREF(comparator); /* the comparator's state; released by its destructor */
    if (strata_comparator_create(PyBytes_AS_STRING(comparator_name), comparator, py_compare,
                                 py_compare_destroy, &d->cmp)) {
      Py_DECREF(comparator);
      sp_db_raise(d, STRATA_ENOMEM);
      goto out;
    }
    Py_INCREF(comparator);
    Py_XSETREF(d->py_cmp, comparator);
    o.comparator = d->cmp;
  }

  strata_db *db = NULL;
  int erc;
  Py_BEGIN_ALLOW_THREADS erc = strata_open(PyBytes_AS_STRING(fsname), &o, &db);
  Py_END_ALLOW_THREADS if (erc) {
    sp_db_raise(d, erc);
    goto out;
  }
  d->db = db;
  d->open = 1;
  d->read_only = read_only;
  d->fork_gen = sp_fork_generation;
  rc = 0;
out:
  Py_XDECREF(fsname);
  if (rc) close_engine(d); /* frees the comparator, filter and cache made above */
  return rc;
}

/* ------------------------------------------------------------------------ */
/* Close                                                                    */
/* ------------------------------------------------------------------------ */

/* Closes the engine and frees what the options made. Never in a child
 * process (see strata_py.h). */
static void close_engine(sp_db *d) {
  if (d->fork_gen != sp_fork_generation && d->db) {
    d->db = NULL; /* the parent's: leaked here */
    d->cmp = NULL;
    d->filter = NULL;
    d->cache = NULL;
    return;
  }
  strata_db *db = d->db;
  d->db = NULL;
  if (db) {
    Py_BEGIN_ALLOW_THREADS strata_close(db);
    Py_END_ALLOW_THREADS
  }
  strata_comparator_destroy(d->cmp); /* its destructor needs the GIL: held */
  d->cmp = NULL;
  strata_filter_policy_destroy(d->filter);
  d->filter = NULL;
  strata_cache_destroy(d->cache);
  d->cache = NULL;
}

void sp_db_engine_unref(sp_db *d) {
  if (--d->engine_refs == 0 && d->close_deferred) {
    d->close_deferred = 0;
    close_engine(d);
  }
}

static void db_close_impl(sp_db *d) {
  if (!d->open) return;
  d->open = 0;
  if (d->fork_gen != sp_fork_generation) {
    close_engine(d); /* leaks, touching nothing */
    return;
  }
  /* Calls in flight (other threads, GIL released) finish first; idle
   * transactions end now, so a begin(exclusive=True) waiting behind one
   * returns (and raises ClosedError). */
  while (d->active > 0) {
    sp_list_release_idle(&d->children);
    Py_BEGIN_ALLOW_THREADS usleep(200);
    Py_END_ALLOW_THREADS
  }
  sp_list_invalidate_all(&d->children);
  if (d->engine_refs > 0)
    d->close_deferred = 1;
  else
    close_engine(d);
}

static PyObject *db_close(PyObject *self, PyObject *unused) {
  (void)unused;
  db_close_impl((sp_db *)self);
  Py_RETURN_NONE;
}

static PyObject *db_closed_get(PyObject *self, void *c) {
  (void)c;
  return PyBool_FromLong(!((sp_db *)self)->open);
}

static PyObject *db_name_get(PyObject *self, void *c) {
  (void)c;
  sp_db *d = (sp_db *)self;
  if (!d->name) Py_RETURN_NONE;
  Py_INCREF(d->name);
  return d->name;
}

static PyObject *db_read_only_get(PyObject *self, void *c) {
  (void)c;
  return PyBool_FromLong(((sp_db *)self)->read_only);
}

static PyObject *db_enter(PyObject *self, PyObject *unused) {
  (void)unused;
  Py_INCREF(self);
  return self;
}

static PyObject *db_exit(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
  (void)args;
  (void)nargs;
  db_close_impl((sp_db *)self);
  Py_RETURN_FALSE;
}

/* ------------------------------------------------------------------------ */
/* Per-key operations                                                       */
/* ------------------------------------------------------------------------ */

/* A key behind a prefix (a PrefixedDB's): in buf when it fits, else in a
 * PyMem block returned in *heap (free it). NULL with MemoryError set. */
const char *sp_prefixed_key(PyObject *prefix, const char *k, Py_ssize_t kl, char *buf, size_t bufsz,
                            char **heap, Py_ssize_t *outlen) {
  *heap = NULL;
  if (!prefix) {
    *outlen = kl;
    return k;
  }
  Py_ssize_t pl = PyBytes_GET_SIZE(prefix);
  size_t n = (size_t)pl + (size_t)kl;
  char *dst = buf;
  if (n > bufsz) {
    dst = *heap = PyMem_Malloc(n ? n : 1);
    if (!dst) {
      PyErr_NoMemory();
      return NULL;
    }
  }
  memcpy(dst, PyBytes_AS_STRING(prefix), (size_t)pl);
  if (kl) memcpy(dst + pl, k, (size_t)kl);
  *outlen = (Py_ssize_t)n;
  return dst;
}

/* buffers=True: position an engine iterator on the key and export the
 * value where it lies (pin.c); no copy. */
PyObject *sp_get_buffer(sp_db *d, strata_subdb *sdb, sp_child *owner, const strata_read_options *ro,
                        const char *k, Py_ssize_t kl, PyObject *dflt) {
  strata_iter *it = NULL;
  int rc, st = 0, valid = 0;
  const char *kp = NULL, *vp = NULL;
  size_t klen = 0, vl = 0;
  SP_ENGINE_BEGIN(d);
  rc = sp_iter_create_in(d->db, sdb, ro, &it);
  if (!rc) {
    strata_iter_seek(it, k, (size_t)kl);
    valid = strata_iter_valid(it);
    if (valid) {
      kp = strata_iter_key(it, &klen);
      vp = strata_iter_value(it, &vl);
    } else {
      st = strata_iter_status(it);
    }
  }
  SP_ENGINE_END();
  if (rc) return sp_db_raise(d, rc);
  if (valid) {
    int c = sp_db_compare(d, kp, klen, k, (size_t)kl);
    if (!(d->py_cmp && PyErr_Occurred()) && c == 0)
      return sp_pin_owned_view(d, owner, it, vp, (Py_ssize_t)vl);
  }
  SP_ENGINE_BEGIN(d);
  strata_iter_destroy(it);
  SP_ENGINE_END();
  if (PyErr_Occurred()) return NULL;
  if (!valid && st) return sp_db_raise(d, st);
  Py_INCREF(dflt);
  return dflt;
}

static const char *const get_names[] = {"key",        "default", "verify_checksums",
                                        "fill_cache", "buffers", NULL};
static sp_kwlist get_kw = {"get", get_names, 2, 1, NULL};

PyObject *sp_do_get(sp_db *d, strata_subdb *sdb, const strata_snapshot *snap, sp_child *pin_owner,
                    PyObject *prefix, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames,
                    const char *closed_msg) {
  PyObject *a[5];
  const char *k;
  Py_ssize_t kl;
  if (sp_parse_args(&get_kw, args, nargs, kwnames, a) || sp_key_arg(a[0], "key", &k, &kl))
    return NULL;
  if (sp_db_check(d, closed_msg)) return NULL;
  strata_read_options ro;
  strata_read_options_init(&ro);
  ro.snapshot = snap;
  int buffers = 0;
  if (SP_UNLIKELY(a[2] || a[3] || a[4])) {
    int vc = sp_flag(a[2], 0), fc = sp_flag(a[3], 1);
    buffers = sp_flag(a[4], 0);
    if (vc < 0 || fc < 0 || buffers < 0) return NULL;
    ro.verify_checksums = vc;
    ro.fill_cache = fc;
  }
  char kbuf[256];
  char *heap = NULL;
  if (prefix && !(k = sp_prefixed_key(prefix, k, kl, kbuf, sizeof kbuf, &heap, &kl))) return NULL;
  PyObject *dflt = a[1] ? a[1] : Py_None;
  PyObject *r;
  if (buffers) {
    r = sp_get_buffer(d, sdb, pin_owner, &ro, k, kl, dflt);
  } else {
    strata_buf *b = sp_scratch();
    if (!b) {
      PyMem_Free(heap);
      return PyErr_NoMemory();
    }
    int rc;
    SP_ENGINE_BEGIN(d);
    rc = sp_get_in(d->db, sdb, &ro, k, (size_t)kl, b);
    SP_ENGINE_END();
    if (SP_LIKELY(rc == 0)) {
      r = PyBytes_FromStringAndSize(b->data, (Py_ssize_t)b->size);
      sp_scratch_trim(b);
    } else if (rc == STRATA_ENOTFOUND) {
      Py_INCREF(dflt);
      r = dflt;
    } else {
      r = sp_db_raise(d, rc);
    }
  }
  PyMem_Free(heap);
  return r;
}

static PyObject *db_get(PyObject *self, PyObject *const *args, Py_ssize_t nargs,
                        PyObject *kwnames) {
  sp_db *d = (sp_db *)self;
  return sp_do_get(d, NULL, NULL, &d->children, NULL, args, nargs, kwnames, "Database is closed");
}

static const char *const put_names[] = {"key", "value", "sync", NULL};
static sp_kwlist put_kw = {"put", put_names, 2, 2, NULL};

PyObject *sp_do_put(sp_db *d, strata_subdb *sdb, const char *closed_msg, PyObject *const *args,
                    Py_ssize_t nargs, PyObject *kwnames) {
  PyObject *a[3];
  const char *k;
  Py_ssize_t kl;
  sp_value v;
  if (SP_LIKELY(nargs == 2 && !kwnames)) {
    a[0] = args[0];
    a[1] = args[1];
    a[2] = NULL;
  } else if (sp_parse_args(&put_kw, args, nargs, kwnames, a)) {
    return NULL;
  }
  if (sp_key_arg(a[0], "key", &k, &kl) || sp_value_arg(a[1], "value", &v)) return NULL;
  int sync = sp_flag(a[2], 0);
  if (sync < 0 || sp_db_check(d, closed_msg) || check_writable(d)) {
    sp_value_release(&v);
    return NULL;
  }
  strata_write_options wo;
  strata_write_options_init(&wo);
  wo.sync = sync;
  int rc;
  SP_ENGINE_BEGIN(d);
  rc = sp_put_in(d->db, sdb, &wo, k, (size_t)kl, v.p, (size_t)v.n);
  SP_ENGINE_END();
  sp_value_release(&v);
  if (SP_UNLIKELY(rc)) return sp_db_raise(d, rc);
  Py_RETURN_NONE;
}

static PyObject *db_put(PyObject *self, PyObject *const *args, Py_ssize_t nargs,
                        PyObject *kwnames) {
  return sp_do_put((sp_db *)self, NULL, "Database is closed", args, nargs, kwnames);
}

static const char *const delete_names[] = {"key", "sync", NULL};
static sp_kwlist delete_kw = {"delete", delete_names, 1, 1, NULL};

PyObject *sp_do_delete(sp_db *d, strata_subdb *sdb, const char *closed_msg, PyObject *const *args,
                       Py_ssize_t nargs, PyObject *kwnames) {
  PyObject *a[2];
  const char *k;
  Py_ssize_t kl;
  if (sp_parse_args(&delete_kw, args, nargs, kwnames, a) || sp_key_arg(a[0], "key", &k, &kl))
    return NULL;
  int sync = sp_flag(a[1], 0);
  if (sync < 0 || sp_db_check(d, closed_msg) || check_writable(d)) return NULL;
  strata_write_options wo;
  strata_write_options_init(&wo);
  wo.sync = sync;
  int rc;
  SP_ENGINE_BEGIN(d);
  rc = sp_delete_in(d->db, sdb, &wo, k, (size_t)kl);
  SP_ENGINE_END();
  if (rc) return sp_db_raise(d, rc);
  Py_RETURN_NONE;
}

static PyObject *db_delete(PyObject *self, PyObject *const *args, Py_ssize_t nargs,
                           PyObject *kwnames) {
  return sp_do_delete((sp_db *)self, NULL, "Database is closed", args, nargs, kwnames);
}

/* ------------------------------------------------------------------------ */
/* Factories: batches, iterators, snapshots                                  */
/* ------------------------------------------------------------------------ */

static const char *const wb_names[] = {"transaction", "sync", NULL};
static sp_kwlist wb_kw = {"write_batch", wb_names, 0, 0, NULL};

PyObject *sp_make_batch(sp_db *d, strata_subdb *sdb, PyObject *prefix, PyObject *const *args,
                        Py_ssize_t nargs, PyObject *kwnames) {
  PyObject *a[2];
  if (sp_parse_args(&wb_kw, args, nargs, kwnames, a)) return NULL;
  int tr = sp_flag(a[0], 0), sync = sp_flag(a[1], 0);
  if (tr < 0 || sync < 0 || sp_db_check(d, "Database is closed")) return NULL;
  return sp_batch_new(d, sdb, prefix, tr, sync);
}

static PyObject *db_write_batch(PyObject *self, PyObject *const *args, Py_ssize_t nargs,
                                PyObject *kwnames) {
  return sp_make_batch((sp_db *)self, NULL, NULL, args, nargs, kwnames);
}

int sp_prefix_arg(PyObject *const *args, Py_ssize_t nargs, PyObject **prefix) {
  if (nargs < 1) {
    PyErr_SetString(PyExc_TypeError, "missing required argument 'prefix'");
    return -1;
  }
  const char *p;
  Py_ssize_t n;
  if (sp_key_arg(args[0], "prefix", &p, &n)) return -1;
  *prefix = PyBytes_GET_SIZE(args[0]) ? args[0] : NULL;
  return 0;
}

static PyObject *db_prefixed_write_batch(PyObject *self, PyObject *const *args, Py_ssize_t nargs,
                                         PyObject *kwnames) {
  PyObject *prefix;
  if (sp_prefix_arg(args, nargs, &prefix)) return NULL;
  return sp_make_batch((sp_db *)self, NULL, prefix, args + 1, nargs - 1, kwnames);
}

static PyObject *db_iterator(PyObject *self, PyObject *const *args, Py_ssize_t nargs,
                             PyObject *kwnames) {
  return sp_iter_create((sp_db *)self, NULL, NULL, 0, args, nargs, kwnames);
}

static PyObject *db_raw_iterator(PyObject *self, PyObject *const *args, Py_ssize_t nargs,
                                 PyObject *kwnames) {
  return sp_iter_create((sp_db *)self, NULL, NULL, 1, args, nargs, kwnames);
}

static PyObject *db_prefixed_iterator(PyObject *self, PyObject *const *args, Py_ssize_t nargs,
                                      PyObject *kwnames) {
  PyObject *prefix;
  if (sp_prefix_arg(args, nargs, &prefix)) return NULL;
  return sp_iter_create((sp_db *)self, NULL, prefix, 0, args + 1, nargs - 1, kwnames);
}

static PyObject *db_iter(PyObject *self) {
  return sp_iter_create((sp_db *)self, NULL, NULL, 0, NULL, 0, NULL);
}

static PyObject *db_snapshot(PyObject *self, PyObject *unused) {
  (void)unused;
  return sp_snapshot_new((sp_db *)self, NULL, NULL);
}

static PyObject *db_prefixed_snapshot(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
  PyObject *prefix;
  if (sp_prefix_arg(args, nargs, &prefix)) return NULL;
  return sp_snapshot_new((sp_db *)self, NULL, prefix);
}

static int db_contains(PyObject *self, PyObject *key) {
  (void)self;
  (void)key;
  PyErr_SetString(PyExc_TypeError, "__contains__ is not supported ('in' and 'not in' operators)");
  return -1;
}

/* ------------------------------------------------------------------------ */
/* Maintenance and introspection                                            */
/* ------------------------------------------------------------------------ */

static PyObject *db_get_property(PyObject *self, PyObject *name) {
  sp_db *d = (sp_db *)self;
  const char *p;
  Py_ssize_t n;
  if (sp_key_arg(name, "name", &p, &n) || sp_db_check(d, "Database is closed")) return NULL;
  if (strlen(p) != (size_t)n) Py_RETURN_NONE; /* a NUL inside names no property */
  strata_buf b = STRATA_BUF_INIT;
  int rc;
  SP_ENGINE_BEGIN(d);
  rc = strata_property(d->db, p, &b);
  SP_ENGINE_END();
  PyObject *r;
  if (rc == 0)
    r = PyBytes_FromStringAndSize(b.data, (Py_ssize_t)b.size);
  else if (rc == STRATA_ENOTFOUND) {
    Py_INCREF(Py_None);
    r = Py_None;
  } else
    r = sp_db_raise(d, rc);
  strata_buf_free(&b);
  return r;
}

static const char *const cr_names[] = {"start", "stop", NULL};
static sp_kwlist cr_kw = {"compact_range", cr_names, 0, 0, NULL};

static PyObject *db_compact_range(PyObject *self, PyObject *const *args, Py_ssize_t nargs,
                                  PyObject *kwnames) {
  sp_db *d = (sp_db *)self;
  PyObject *a[2];
  const char *s = NULL, *e = NULL;
  Py_ssize_t sl = 0, el = 0;
  if (sp_parse_args(&cr_kw, args, nargs, kwnames, a)) return NULL;
  if (a[0] && a[0] != Py_None && sp_key_arg(a[0], "start", &s, &sl)) return NULL;
  if (a[1] && a[1] != Py_None && sp_key_arg(a[1], "stop", &e, &el)) return NULL;
  if (sp_db_check(d, "Database is closed") || check_writable(d)) return NULL;
  int rc;
  SP_ENGINE_BEGIN(d);
  rc = strata_compact_range(d->db, s, (size_t)sl, e, (size_t)el);
  SP_ENGINE_END();
  if (rc) return sp_db_raise(d, rc);
  Py_RETURN_NONE;
}

static PyObject *db_approximate_sizes(PyObject *self, PyObject *ranges) {
  sp_db *d = (sp_db *)self;
  if (sp_db_check(d, "Database is closed")) return NULL;
  Py_ssize_t n = PyTuple_GET_SIZE(ranges);
  if (n > 1000000) return PyErr_Format(PyExc_ValueError, "too many ranges");
  const void **starts = PyMem_Calloc((size_t)n + 1, sizeof *starts);
  const void **limits = PyMem_Calloc((size_t)n + 1, sizeof *limits);
  size_t *slen = PyMem_Calloc((size_t)n + 1, sizeof *slen);
  size_t *llen = PyMem_Calloc((size_t)n + 1, sizeof *llen);
  uint64_t *sizes = PyMem_Calloc((size_t)n + 1, sizeof *sizes);
  PyObject *r = NULL;
  if (!starts || !limits || !slen || !llen || !sizes) {
    PyErr_NoMemory();
    goto out;
  }
  for (Py_ssize_t i = 0; i < n; i++) {
    PyObject *t = PyTuple_GET_ITEM(ranges, i);
    PyObject *st, *sp;
    if (!PyTuple_Check(t) || PyTuple_GET_SIZE(t) != 2) {
      if (PySequence_Check(t) && PySequence_Size(t) == 2) {
        /* fall through with a tuple copy */
      } else {
        PyErr_Clear();
        PyErr_SetString(PyExc_TypeError, "each range must be a (start, stop) tuple");
        goto out;
      }
    }
    st = PySequence_GetItem(t, 0);
    sp = PySequence_GetItem(t, 1);
    int ok = st && sp && PyBytes_Check(st) && PyBytes_Check(sp);
    if (ok) {
      /* the ranges tuple keeps the items alive */
      starts[i] = PyBytes_AS_STRING(st);
      slen[i] = (size_t)PyBytes_GET_SIZE(st);
      limits[i] = PyBytes_AS_STRING(sp);
      llen[i] = (size_t)PyBytes_GET_SIZE(sp);
    }
    Py_XDECREF(st);
    Py_XDECREF(sp);
    if (!ok) {
      PyErr_Clear();
      PyErr_SetString(PyExc_TypeError, "Start and stop of range must be byte strings");
      goto out;
    }
  }
  int rc;
  SP_ENGINE_BEGIN(d);
  rc = strata_approximate_sizes(d->db, (int)n, starts, slen, limits, llen, sizes);
  SP_ENGINE_END();
  if (rc) {
    sp_db_raise(d, rc);
    goto out;
  }
  r = PyList_New(n);
  for (Py_ssize_t i = 0; r && i < n; i++) {
    PyObject *v = PyLong_FromUnsignedLongLong((unsigned long long)sizes[i]);
    if (!v) {
      Py_CLEAR(r);
      break;
    }
    PyList_SET_ITEM(r, i, v);
  }
out:
  PyMem_Free(starts);
  PyMem_Free(limits);
  PyMem_Free(slen);
  PyMem_Free(llen);
  PyMem_Free(sizes);
  return r;
}

static PyObject *db_approximate_size(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
  if (nargs != 2)
    return PyErr_Format(PyExc_TypeError, "approximate_size() takes 2 arguments (%zd given)", nargs);
  const char *p;
  Py_ssize_t n;
  if (sp_key_arg(args[0], "start", &p, &n) || sp_key_arg(args[1], "stop", &p, &n)) return NULL;
  PyObject *range = PyTuple_Pack(2, args[0], args[1]);
  PyObject *ranges = range ? PyTuple_Pack(1, range) : NULL;
  Py_XDECREF(range);
  if (!ranges) return NULL;
  PyObject *l = db_approximate_sizes(self, ranges);
  Py_DECREF(ranges);
  if (!l) return NULL;
  PyObject *v = PyList_GET_ITEM(l, 0);
  Py_INCREF(v);
  Py_DECREF(l);
  return v;
}

/* ------------------------------------------------------------------------ */
/* Transactions, read-only handles, checkpoints                             */
/* ------------------------------------------------------------------------ */

#ifdef SP_HAVE_TXN
static PyObject *db_begin(PyObject *self, PyObject *const *args, Py_ssize_t nargs,
                          PyObject *kwnames) {
  return sp_txn_begin((sp_db *)self, args, nargs, kwnames);
}
#endif

#ifdef SP_HAVE_READONLY
static PyObject *db_catch_up(PyObject *self, PyObject *unused) {
  (void)unused;
  sp_db *d = (sp_db *)self;
  if (sp_db_check(d, "Database is closed")) return NULL;
  if (!d->read_only)
    return sp_db_raise_slot(d, SP_E_INVALID,
                            "catch_up() is for a database opened with read_only=True");
  int rc;
  SP_ENGINE_BEGIN(d);
  rc = strata_catch_up(d->db);
  SP_ENGINE_END();
  if (rc) return sp_db_raise(d, rc);
  Py_RETURN_NONE;
}
#endif

#ifdef SP_HAVE_LOADER
static PyObject *db_loader(PyObject *self, PyObject *const *args, Py_ssize_t nargs,
                           PyObject *kwnames) {
  return sp_loader_new((sp_db *)self, args, nargs, kwnames);
}
#endif

#ifdef SP_HAVE_CHECKPOINT
static PyObject *db_checkpoint(PyObject *self, PyObject *arg) {
  sp_db *d = (sp_db *)self;
  PyObject *path = NULL;
  if (!PyUnicode_FSConverter(arg, &path)) return NULL;
  if (sp_db_check(d, "Database is closed")) {
    Py_DECREF(path);
    return NULL;
  }
  int rc;
  SP_ENGINE_BEGIN(d);
  rc = strata_checkpoint(d->db, PyBytes_AS_STRING(path));
  SP_ENGINE_END();
  Py_DECREF(path);
  if (rc) return sp_db_raise(d, rc);
  Py_RETURN_NONE;
}
#endif

/* ------------------------------------------------------------------------ */
/* Type                                                                     */
/* ------------------------------------------------------------------------ */

static PyObject *db_new(PyTypeObject *type, PyObject *args, PyObject *kwds) {
  (void)args;
  (void)kwds;
  sp_db *d = (sp_db *)type->tp_alloc(type, 0);
  if (!d) return NULL;
  sp_list_init(&d->children);
  return (PyObject *)d;
}

static int db_traverse(PyObject *self, visitproc visit, void *arg) {
  sp_db *d = (sp_db *)self;
  Py_VISIT(d->name);
  Py_VISIT(d->errors);
  Py_VISIT(d->py_cmp);
  return 0;
}

static int db_clear(PyObject *self) {
  sp_db *d = (sp_db *)self;
  Py_CLEAR(d->name);
  Py_CLEAR(d->py_cmp);
  return 0;
}

static void db_dealloc(PyObject *self) {
  sp_db *d = (sp_db *)self;
  PyObject_GC_UnTrack(self);
  PyObject *et, *ev, *tb;
  PyErr_Fetch(&et, &ev, &tb);
  if (d->weakreflist) PyObject_ClearWeakRefs(self);
  db_close_impl(d);
  if (d->db || d->cmp || d->filter || d->cache) close_engine(d);
  Py_CLEAR(d->name);
  Py_CLEAR(d->errors);
  Py_CLEAR(d->py_cmp);
  PyErr_Restore(et, ev, tb);
  Py_TYPE(self)->tp_free(self);
}

#include "docs.h"

static PyMethodDef db_methods[] = {
    {"get", (PyCFunction)(void (*)(void))db_get, METH_FASTCALL | METH_KEYWORDS, DOC_DB_GET},
    {"put", (PyCFunction)(void (*)(void))db_put, METH_FASTCALL | METH_KEYWORDS, DOC_DB_PUT},
    {"delete", (PyCFunction)(void (*)(void))db_delete, METH_FASTCALL | METH_KEYWORDS,
     DOC_DB_DELETE},
    {"write_batch", (PyCFunction)(void (*)(void))db_write_batch, METH_FASTCALL | METH_KEYWORDS,
     DOC_DB_WRITE_BATCH},
    {"iterator", (PyCFunction)(void (*)(void))db_iterator, METH_FASTCALL | METH_KEYWORDS,
     DOC_DB_ITERATOR},
    {"raw_iterator", (PyCFunction)(void (*)(void))db_raw_iterator, METH_FASTCALL | METH_KEYWORDS,
     DOC_DB_RAW_ITERATOR},
    {"snapshot", db_snapshot, METH_NOARGS, DOC_DB_SNAPSHOT},
    {"get_property", db_get_property, METH_O, DOC_DB_GET_PROPERTY},
    {"compact_range", (PyCFunction)(void (*)(void))db_compact_range, METH_FASTCALL | METH_KEYWORDS,
     DOC_DB_COMPACT_RANGE},
    {"approximate_sizes", db_approximate_sizes, METH_VARARGS, DOC_DB_APPROXIMATE_SIZES},
    {"approximate_size", (PyCFunction)(void (*)(void))db_approximate_size, METH_FASTCALL,
     DOC_DB_APPROXIMATE_SIZE},
    {"close", db_close, METH_NOARGS, DOC_DB_CLOSE},
#ifdef SP_HAVE_TXN
    {"begin", (PyCFunction)(void (*)(void))db_begin, METH_FASTCALL | METH_KEYWORDS, DOC_DB_BEGIN},
#endif
#ifdef SP_HAVE_READONLY
    {"catch_up", db_catch_up, METH_NOARGS, DOC_DB_CATCH_UP},
#endif
#ifdef SP_HAVE_CHECKPOINT
    {"checkpoint", db_checkpoint, METH_O, DOC_DB_CHECKPOINT},
#endif
#ifdef SP_HAVE_LOADER
    {"loader", (PyCFunction)(void (*)(void))db_loader, METH_FASTCALL | METH_KEYWORDS,
     "loader(db=None) -> Loader\n\n"
     "Starts a sorted bulk load (strata.Loader) into db: None or the DB itself for the main\n"
     "database, or a SubDB of this database. For filling a new database, an empty\n"
     "sub-database or an empty key range: add() entries in strictly increasing key order,\n"
     "then finish() adds them all at once, as sorted tables placed in the deepest level\n"
     "where nothing overlaps them (no write-ahead log, no compaction).\n\n"
     "Raises: TypeError, ValueError (db of another database), strata.ReadOnlyError (a\n"
     "read_only handle), strata.ClosedError.\n" DOC_THREADS_DB},
#endif
#ifdef SP_HAVE_SUBDB
    {"_open_db", sp_db_open_db, METH_VARARGS, "_open_db(name, create, cls) (internal: DB.open_db)"},
    {"drop_db", sp_db_drop_db, METH_O, DOC_DB_DROP_DB},
    {"list_dbs", sp_db_list_dbs, METH_NOARGS, DOC_DB_LIST_DBS},
    {"_main_stat", sp_db_main_stat, METH_NOARGS, "_main_stat() -> dict (internal: DB.stat)"},
#endif
    {"__enter__", db_enter, METH_NOARGS, "Returns the database itself."},
    {"__exit__", (PyCFunction)(void (*)(void))db_exit, METH_FASTCALL,
     "Closes the database; exceptions propagate."},
    {"_prefixed_iterator", (PyCFunction)(void (*)(void))db_prefixed_iterator,
     METH_FASTCALL | METH_KEYWORDS, "_prefixed_iterator(prefix, **iterator_args) (internal)"},
    {"_prefixed_snapshot", (PyCFunction)(void (*)(void))db_prefixed_snapshot, METH_FASTCALL,
     "_prefixed_snapshot(prefix) (internal)"},
    {"_prefixed_write_batch", (PyCFunction)(void (*)(void))db_prefixed_write_batch,
     METH_FASTCALL | METH_KEYWORDS,
     "_prefixed_write_batch(prefix, *, transaction, sync) (internal)"},
    {NULL, NULL, 0, NULL}};

static PyGetSetDef db_getset[] = {
    {"closed", db_closed_get, NULL, "True once close() was called (bool).", NULL},
    {"name", db_name_get, NULL, "The name (directory) given at open, as given (read-only).", NULL},
    {"read_only", db_read_only_get, NULL, "True when opened with read_only=True.", NULL},
    {NULL, NULL, NULL, NULL, NULL}};

static PySequenceMethods db_as_sequence = {.sq_contains = db_contains};

PyTypeObject sp_db_type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "strata._strata.DB",
    .tp_basicsize = sizeof(sp_db),
    .tp_dealloc = db_dealloc,
    .tp_as_sequence = &db_as_sequence,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
    .tp_doc = DOC_DB,
    .tp_traverse = db_traverse,
    .tp_clear = db_clear,
    .tp_weaklistoffset = offsetof(sp_db, weakreflist),
    .tp_iter = db_iter,
    .tp_methods = db_methods,
    .tp_getset = db_getset,
    .tp_init = db_init,
    .tp_new = db_new,
};
