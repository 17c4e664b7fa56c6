/*
 * typed.c - the codec of strata.typed, the typed object store: openleveldb's
 * on-disk encoding of str keys and Python values, in C, and the hot paths of
 * the store over it (point reads, writes, decoding iterators and pages).
 *
 * The format (openleveldb 0.1.5's, lucmos/openleveldb, backend/serializer.py;
 * facts only, written fresh here):
 *
 *   key     = part*                  the UTF-8 bytes of the str parts, in
 *                                    order, with no separator: ("a", "b") and
 *                                    "ab" are the same record b"ab"
 *   value   = tag payload
 *   tag     = "b" | "i" | "s" | "n" | "j"      one byte
 *   b: payload = the bytes, as given (a bytes object or subclass)
 *   i: payload = the int, 16-byte two's complement big-endian (int.to_bytes(
 *                16, "big", signed=True)); bool and int subclasses too. Reads
 *                accept any length, as int.from_bytes does (0 bytes: 0).
 *   s: payload = the str in UTF-8 (strict: lone surrogates are refused)
 *   n: payload = numpy.save's output, an NPY file (numpy.lib.format):
 *        npy     = "\x93NUMPY" major minor hlen header data
 *        major minor = 1 0 (hlen: u16 little-endian) | 2 0 or 3 0 (u32 LE)
 *        header  = a Python dict literal, latin-1 (3.0: UTF-8), of the keys
 *                  'descr' (a dtype string such as '<f8', or a list for a
 *                  structured dtype), 'fortran_order' (True/False) and
 *                  'shape' (a tuple of ints), padded with spaces and ended
 *                  by "\n" so that len(magic .. "\n") is a multiple of 64
 *                  (numpy >= 1.14; older files: 16, both read)
 *        data    = the elements, C order (fortran_order False) or Fortran
 *                  order; object arrays (pickles) are neither written nor read
 *   j: payload = python-rapidjson's dumps() of any other object: compact
 *                (no spaces), ensure_ascii (non-ASCII as \uXXXX, uppercase
 *                hex, surrogate pairs), floats by repr(), NaN / Infinity
 *
 * The type of a value picks its tag as functools.singledispatch does over
 * openleveldb's registrations (bytes, int, str, numpy.ndarray, object): a
 * subclass goes with its base, anything else (float, None, list, dict,
 * bytearray ...) is JSON. An int outside [-2**127, 2**127) cannot be stored
 * (OverflowError, as int.to_bytes raises for openleveldb).
 *
 * numpy is used through its Python API (no build-time dependency): the
 * store imports it only when an array is written or an 'n' value is read.
 * The header this file writes is numpy.save's (1.24's rules: sorted keys,
 * repr()s, 21-digit growth padding of the first (Fortran: last) dimension,
 * 64-byte alignment); strata/typed.py checks it against numpy.save once per
 * process and routes every array through numpy.save if they ever differ.
 *
 * Threads: the functions take and keep the GIL except around engine calls
 * (which release it as the rest of the extension does).
 */
#include "strata_py.h"

#include <stdarg.h>
#include <string.h>

/* Installed by strata/typed.py through _typed_setup(); owned. */
static PyObject *g_decode_error; /* strata.DecodeError */
static PyObject *g_json_dumps;   /* rapidjson.dumps */
static PyObject *g_json_loads;   /* rapidjson.loads (or json.loads) */
static PyObject *g_npy_encode;   /* f(array) -> NPY bytes (numpy.save's), the general path */
static PyObject *g_npy_decode;   /* f(npy_buffer, copy: bool) -> ndarray, the general path */
static PyObject *g_view_marker;  /* returned for a key ending in ... (a view) */
static PyObject *g_npy_check;    /* f() -> bool: does npy_header match numpy.save? (once) */
static int g_npy_fast = 1;       /* 0: every array through g_npy_encode */
/* numpy, filled on first use */
static PyObject *g_ndarray_type; /* numpy.ndarray */
static PyObject *g_frombuffer;   /* numpy.frombuffer */
static PyObject *g_dtype;        /* numpy.dtype */
static PyObject *g_dtype_cache;  /* dict: descr str -> dtype (simple dtypes) */

static PyObject *s_dtype, *s_str, *s_names, *s_hasobject, *s_metadata, *s_itemsize, *s_reshape,
    *s_T, *s_release;

/* ------------------------------------------------------------------------ */
/* Errors                                                                   */
/* ------------------------------------------------------------------------ */

/* Raises strata.DecodeError "cannot decode the value of key K: why", with
 * the exception in flight (if any) as its __cause__ and .key = the key. */
static PyObject *decode_error(const char *k, Py_ssize_t kl, const char *fmt, ...) {
  PyObject *cause = NULL;
  if (PyErr_Occurred()) {
    PyObject *t, *v, *tb;
    PyErr_Fetch(&t, &v, &tb);
    PyErr_NormalizeException(&t, &v, &tb);
    if (tb) PyException_SetTraceback(v, tb);
    Py_XDECREF(t);
    Py_XDECREF(tb);
    cause = v;
  }
  va_list ap;
  va_start(ap, fmt);
  PyObject *why = PyUnicode_FromFormatV(fmt, ap);
  va_end(ap);
  PyObject *key = k ? PyBytes_FromStringAndSize(k, kl) : (Py_INCREF(Py_None), Py_None);
  PyObject *ks = k ? PyUnicode_DecodeUTF8(k, kl, "backslashreplace") : NULL;
  if (!why || !key || (k && !ks)) goto out;
  PyObject *msg = k ? PyUnicode_FromFormat("cannot decode the value of key %R: %U", ks, why)
                    : PyUnicode_FromFormat("cannot decode the value: %U", why);
  if (!msg) goto out;
  PyObject *cls = g_decode_error ? g_decode_error : PyExc_ValueError;
  PyObject *exc = PyObject_CallOneArg(cls, msg);
  Py_DECREF(msg);
  if (!exc) goto out;
  PyObject_SetAttrString(exc, "key", key);
  if (cause) {
    PyException_SetCause(exc, cause); /* steals */
    Py_INCREF(cause);
    PyException_SetContext(exc, cause); /* steals */
    cause = NULL;
  }
  PyErr_SetObject(cls, exc);
  Py_DECREF(exc);
out:
  Py_XDECREF(cause);
  Py_XDECREF(why);
  Py_XDECREF(key);
  Py_XDECREF(ks);
  return NULL;
}

/* ------------------------------------------------------------------------ */
/* Keys                                                                     */
/* ------------------------------------------------------------------------ */

/* A key being built: prefix + the UTF-8 parts, in buf or on the heap. */
typedef struct tkey {
  char *p;
  Py_ssize_t n, cap;
  char *heap;
  char buf[256];
} tkey;

static void tkey_init(tkey *k) {
  k->p = k->buf;
  k->n = 0;
  k->cap = sizeof k->buf;
  k->heap = NULL;
}
static void tkey_free(tkey *k) { PyMem_Free(k->heap); }

static int tkey_add(tkey *k, const char *s, Py_ssize_t n) {
  if (k->n + n > k->cap) {
    Py_ssize_t cap = k->cap * 2;
    while (cap < k->n + n)
      cap *= 2;
    char *h = PyMem_Malloc((size_t)cap);
    if (!h) {
      PyErr_NoMemory();
      return -1;
    }
    memcpy(h, k->p, (size_t)k->n);
    PyMem_Free(k->heap);
    k->heap = k->p = h;
    k->cap = cap;
  }
  memcpy(k->p + k->n, s, (size_t)n);
  k->n += n;
  return 0;
}

static int key_part_error(PyObject *o) {
  PyErr_Format(PyExc_TypeError, "str prefix or key expected, got %s", Py_TYPE(o)->tp_name);
  return -1;
}

static int tkey_add_str(tkey *k, PyObject *s) {
  if (SP_UNLIKELY(!PyUnicode_Check(s))) return key_part_error(s);
  Py_ssize_t n;
  const char *u = PyUnicode_AsUTF8AndSize(s, &n);
  if (!u) return -1;
  return tkey_add(k, u, n);
}

/* Builds prefix (bytes) + key into k. key: a str, or a tuple or list of str
 * parts, the last of which may be ... (Ellipsis: a view). Returns 0 for a
 * key, 1 for a view (k then holds the view's prefix), -1 with TypeError. */
static int build_key(tkey *k, PyObject *prefix, PyObject *key) {
  tkey_init(k);
  if (prefix && tkey_add(k, PyBytes_AS_STRING(prefix), PyBytes_GET_SIZE(prefix))) return -1;
  if (SP_LIKELY(PyUnicode_Check(key))) return tkey_add_str(k, key);
  if (key == Py_Ellipsis) return 1;
  if (!PyTuple_Check(key) && !PyList_Check(key)) return key_part_error(key);
  Py_ssize_t n = PySequence_Fast_GET_SIZE(key);
  PyObject **items = PySequence_Fast_ITEMS(key);
  if (n == 0) {
    PyErr_SetString(PyExc_TypeError,
                    "str prefix or key expected, got an empty tuple (a key is a str, or "
                    "str prefixes then a str key or ...)");
    return -1;
  }
  for (Py_ssize_t i = 0; i < n; i++) {
    if (items[i] == Py_Ellipsis && i == n - 1) return 1;
    if (tkey_add_str(k, items[i])) return -1;
  }
  return 0;
}

/* ------------------------------------------------------------------------ */
/* numpy                                                                    */
/* ------------------------------------------------------------------------ */

static int numpy_load(void) {
  if (g_frombuffer) return 0;
  PyObject *np = PyImport_ImportModule("numpy");
  if (!np) return -1;
  g_ndarray_type = PyObject_GetAttrString(np, "ndarray");
  g_frombuffer = g_ndarray_type ? PyObject_GetAttrString(np, "frombuffer") : NULL;
  g_dtype = g_frombuffer ? PyObject_GetAttrString(np, "dtype") : NULL;
  Py_DECREF(np);
  if (!g_dtype) {
    Py_CLEAR(g_ndarray_type);
    Py_CLEAR(g_frombuffer);
    return -1;
  }
  if (g_npy_check) {
    /* the header this file writes against numpy.save's, once */
    PyObject *ok = PyObject_CallNoArgs(g_npy_check);
    int t = ok ? PyObject_IsTrue(ok) : -1;
    Py_XDECREF(ok);
    if (t < 0) PyErr_WriteUnraisable(g_npy_check);
    g_npy_fast = t > 0;
  }
  return 0;
}

/* Is o a numpy array? Without importing numpy: no module, no array. */
static int is_ndarray(PyObject *o) {
  if (!g_ndarray_type) {
    static PyObject *name;
    if (!name && !(name = PyUnicode_InternFromString("numpy"))) return -1;
    PyObject *np = PyImport_GetModule(name);
    if (!np) return PyErr_Occurred() ? -1 : 0;
    Py_DECREF(np);
    if (numpy_load()) return -1;
  }
  return PyObject_TypeCheck(o, (PyTypeObject *)g_ndarray_type);
}

/* The NPY header numpy.save writes for an array of descr (a dtype string),
 * fortran_order and shape (ndim dims), appended to out (a writer below). */
typedef struct wbuf {
  char *p;
  size_t n, cap;
} wbuf;

static int wb_reserve(wbuf *w, size_t more) {
  if (w->n + more <= w->cap) return 0;
  size_t cap = w->cap ? w->cap * 2 : 256;
  while (cap < w->n + more)
    cap *= 2;
  char *p = PyMem_Realloc(w->p, cap);
  if (!p) {
    PyErr_NoMemory();
    return -1;
  }
  w->p = p;
  w->cap = cap;
  return 0;
}
static int wb_add(wbuf *w, const void *s, size_t n) {
  if (wb_reserve(w, n)) return -1;
  memcpy(w->p + w->n, s, n);
  w->n += n;
  return 0;
}
static int wb_adds(wbuf *w, const char *s) { return wb_add(w, s, strlen(s)); }

static int npy_header(wbuf *w, const char *descr_repr, int fortran, int ndim,
                      const Py_ssize_t *shape) {
  size_t start = w->n;
  /* magic, version 1.0, room for the u16 length */
  if (wb_add(w, "\x93NUMPY\x01\x00\x00\x00", 10)) return -1;
  size_t hstart = w->n;
  char num[32];
  if (wb_adds(w, "{'descr': ") || wb_adds(w, descr_repr) || wb_adds(w, ", 'fortran_order': ") ||
      wb_adds(w, fortran ? "True" : "False") || wb_adds(w, ", 'shape': ("))
    return -1;
  for (int i = 0; i < ndim; i++) {
    snprintf(num, sizeof num, "%zd", shape[i]);
    if ((i && wb_adds(w, ", ")) || wb_adds(w, num)) return -1;
  }
  if ((ndim == 1 && wb_adds(w, ",")) || wb_adds(w, "), }")) return -1;
  if (ndim > 0) {
    /* room to grow the first (Fortran: last) dimension in place */
    snprintf(num, sizeof num, "%zd", shape[fortran ? ndim - 1 : 0]);
    size_t pad = 21 - strlen(num);
    if (wb_reserve(w, pad)) return -1;
    memset(w->p + w->n, ' ', pad);
    w->n += pad;
  }
  size_t hlen = w->n - hstart + 1; /* with the final newline */
  size_t padlen = 64 - ((10 + hlen) % 64);
  if (hlen + padlen > 65535) {
    /* numpy would write version 2.0: leave it to numpy */
    w->n = start;
    return 1;
  }
  if (wb_reserve(w, padlen + 1)) return -1;
  memset(w->p + w->n, ' ', padlen);
  w->n += padlen;
  w->p[w->n++] = '\n';
  uint16_t total = (uint16_t)(hlen + padlen);
  w->p[start + 8] = (char)(total & 0xff);
  w->p[start + 9] = (char)(total >> 8);
  return 0;
}

/* The descr of a simple dtype (not structured, no objects, no metadata) as
 * numpy.save writes it (repr of dtype.str), or NULL with no error for any
 * other dtype (the general path). */
static PyObject *simple_descr_repr(PyObject *arr) {
  PyObject *dt = PyObject_GetAttr(arr, s_dtype);
  if (!dt) return NULL;
  PyObject *r = NULL, *names = NULL, *hasobj = NULL, *meta = NULL, *str = NULL;
  if (!(names = PyObject_GetAttr(dt, s_names)) || !(hasobj = PyObject_GetAttr(dt, s_hasobject)) ||
      !(meta = PyObject_GetAttr(dt, s_metadata)))
    goto out;
  if (names != Py_None || hasobj != Py_False || meta != Py_None) goto out;
  if (!(str = PyObject_GetAttr(dt, s_str))) goto out;
  r = PyObject_Repr(str);
out:
  Py_DECREF(dt);
  Py_XDECREF(names);
  Py_XDECREF(hasobj);
  Py_XDECREF(meta);
  Py_XDECREF(str);
  return r;
}

/* An array's 'n' value into w (after the tag). Returns 0, or 1 when the
 * general path (numpy.save) must be taken, -1 on error. */
static int npy_encode_fast(wbuf *w, PyObject *arr) {
  if (!g_npy_fast || Py_TYPE(arr) != (PyTypeObject *)g_ndarray_type) return 1;
  PyObject *descr = simple_descr_repr(arr);
  if (!descr) return PyErr_Occurred() ? -1 : 1;
  Py_buffer view;
  if (PyObject_GetBuffer(arr, &view, PyBUF_STRIDES)) {
    /* some dtypes have no buffer format (datetime64 ...) */
    PyErr_Clear();
    Py_DECREF(descr);
    return 1;
  }
  int rc = 1, fortran;
  if (PyBuffer_IsContiguous(&view, 'C'))
    fortran = 0;
  else if (PyBuffer_IsContiguous(&view, 'F'))
    fortran = 1;
  else
    goto out; /* strided: numpy.save writes it in C order, via tobytes() */
  const char *d = PyUnicode_AsUTF8(descr);
  if (!d) {
    rc = -1;
    goto out;
  }
  rc = npy_header(w, d, fortran, view.ndim, view.shape);
  if (rc == 0) rc = wb_add(w, view.buf, (size_t)view.len);
out:
  PyBuffer_Release(&view);
  Py_DECREF(descr);
  return rc;
}

/* The parsed header of an NPY value. */
typedef struct npy_info {
  const char *descr; /* the dtype string, not terminated */
  Py_ssize_t descr_len;
  int fortran;
  int ndim;
  Py_ssize_t shape[32];
  Py_ssize_t data_off; /* offset of the data from the NPY's start */
} npy_info;

static const char *skip_ws(const char *p, const char *e) {
  while (p < e && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
    p++;
  return p;
}

/* Parses numpy.save's header dict in its usual form: the three keys, in
 * any order, descr a plain quoted string. Returns 0 (parsed), 1 (a form
 * this parser leaves to numpy: structured descr, unusual literals), or -1
 * with a message in *why (not an NPY value). */
static int npy_parse(const char *v, Py_ssize_t n, npy_info *info, const char **why) {
  const unsigned char *u = (const unsigned char *)v;
  if (n < 10 || memcmp(v, "\x93NUMPY", 6) != 0) {
    *why = "not an NPY array (no \\x93NUMPY magic)";
    return -1;
  }
  Py_ssize_t hl, hs;
  if (u[6] == 1) {
    hl = u[8] | (u[9] << 8);
    hs = 10;
  } else if (u[6] == 2 || u[6] == 3) {
    if (n < 12) {
      *why = "truncated NPY header";
      return -1;
    }
    hl = (Py_ssize_t)((uint32_t)u[8] | ((uint32_t)u[9] << 8) | ((uint32_t)u[10] << 16) |
                      ((uint32_t)u[11] << 24));
    hs = 12;
  } else {
    *why = "unknown NPY format version";
    return -1;
  }
  if (hl > n - hs) {
    *why = "truncated NPY header";
    return -1;
  }
  info->data_off = hs + hl;
  const char *p = v + hs, *e = v + hs + hl;
  int have = 0; /* bits: descr, fortran, shape */
  p = skip_ws(p, e);
  if (p >= e || *p++ != '{') return 1;
  for (;;) {
    p = skip_ws(p, e);
    if (p < e && *p == '}') break;
    if (p >= e || *p != '\'') return 1;
    const char *k = ++p;
    while (p < e && *p != '\'')
      p++;
    if (p >= e) return 1;
    size_t kl = (size_t)(p - k);
    p = skip_ws(p + 1, e);
    if (p >= e || *p++ != ':') return 1;
    p = skip_ws(p, e);
    if (kl == 5 && !memcmp(k, "descr", 5)) {
      if (p >= e || *p != '\'') return 1; /* a list: structured, numpy's job */
      const char *d = ++p;
      while (p < e && *p != '\'' && *p != '\\')
        p++;
      if (p >= e || *p != '\'') return 1;
      info->descr = d;
      info->descr_len = p - d;
      p++;
      have |= 1;
    } else if (kl == 13 && !memcmp(k, "fortran_order", 13)) {
      if (e - p >= 4 && !memcmp(p, "True", 4)) {
        info->fortran = 1;
        p += 4;
      } else if (e - p >= 5 && !memcmp(p, "False", 5)) {
        info->fortran = 0;
        p += 5;
      } else
        return 1;
      have |= 2;
    } else if (kl == 5 && !memcmp(k, "shape", 5)) {
      if (p >= e || *p++ != '(') return 1;
      info->ndim = 0;
      for (;;) {
        p = skip_ws(p, e);
        if (p < e && *p == ')') break;
        if (p >= e || *p < '0' || *p > '9') return 1;
        Py_ssize_t d = 0;
        while (p < e && *p >= '0' && *p <= '9') {
          if (d > (PY_SSIZE_T_MAX - 9) / 10) return 1;
          d = d * 10 + (*p++ - '0');
        }
        if (info->ndim == 32) return 1;
        info->shape[info->ndim++] = d;
        p = skip_ws(p, e);
        if (p < e && *p == ',') p++;
      }
      p++;
      have |= 4;
    } else {
      return 1;
    }
    p = skip_ws(p, e);
    if (p < e && *p == ',') p++;
  }
  return have == 7 ? 0 : 1;
}

/* dtype for a simple descr string, cached. New reference. */
static PyObject *dtype_for(const char *d, Py_ssize_t dl) {
  if (!g_dtype_cache && !(g_dtype_cache = PyDict_New())) return NULL;
  PyObject *s = PyUnicode_DecodeLatin1(d, dl, NULL);
  if (!s) return NULL;
  PyObject *dt = PyDict_GetItemWithError(g_dtype_cache, s);
  if (dt) {
    Py_INCREF(dt);
    Py_DECREF(s);
    return dt;
  }
  if (PyErr_Occurred() || !(dt = PyObject_CallOneArg(g_dtype, s))) {
    Py_DECREF(s);
    return NULL;
  }
  PyObject *ho = PyObject_GetAttr(dt, s_hasobject);
  int obj = ho ? PyObject_IsTrue(ho) : -1;
  Py_XDECREF(ho);
  if (obj != 0) {
    if (obj > 0) PyErr_SetString(PyExc_ValueError, "object arrays (pickled data) are not read");
    Py_DECREF(dt);
    Py_DECREF(s);
    return NULL;
  }
  if (PyDict_GET_SIZE(g_dtype_cache) < 256) PyDict_SetItem(g_dtype_cache, s, dt);
  Py_DECREF(s);
  return dt;
}

/* An ndarray from the NPY value at v (n bytes). owner: an object exporting
 * exactly those bytes (a bytes object or a pinned memoryview) to view them
 * read-only without a copy; NULL: copy into a fresh writable array. */
static PyObject *npy_decode(const char *v, Py_ssize_t n, PyObject *owner, const char *k,
                            Py_ssize_t kl) {
  if (numpy_load()) return decode_error(k, kl, "numpy cannot be imported");
  npy_info info = {NULL, 0, 0, 0, {0}, 0};
  const char *why = NULL;
  int rc = npy_parse(v, n, &info, &why);
  if (rc < 0) return decode_error(k, kl, "%s", why);
  PyObject *buf = NULL, *arr = NULL, *dt = NULL;
  if (rc > 0) {
    /* the general path: numpy's own header parser */
    buf = owner ? (Py_INCREF(owner), owner) : PyBytes_FromStringAndSize(v, n);
    if (!buf) return NULL;
    arr = PyObject_CallFunctionObjArgs(g_npy_decode, buf, owner ? Py_False : Py_True, NULL);
    Py_DECREF(buf);
    if (!arr) return decode_error(k, kl, "not a valid NPY array");
    return arr;
  }
  if (!(dt = dtype_for(info.descr, info.descr_len))) {
    /* the reason (numpy's message, or object arrays) goes in the message */
    PyObject *t, *ev, *tb;
    PyErr_Fetch(&t, &ev, &tb);
    PyErr_NormalizeException(&t, &ev, &tb);
    PyObject *why = ev ? PyObject_Str(ev) : NULL;
    PyErr_Restore(t, ev, tb);
    PyObject *ds = PyUnicode_DecodeLatin1(info.descr, info.descr_len, NULL);
    if (ds && why) decode_error(k, kl, "bad NPY dtype %R: %U", ds, why);
    Py_XDECREF(ds);
    Py_XDECREF(why);
    return NULL;
  }
  PyObject *isz = PyObject_GetAttr(dt, s_itemsize);
  Py_ssize_t itemsize = isz ? PyLong_AsSsize_t(isz) : -1;
  Py_XDECREF(isz);
  if (itemsize < 0) {
    Py_DECREF(dt);
    return NULL;
  }
  Py_ssize_t count = 1;
  for (int i = 0; i < info.ndim; i++) {
    if (info.shape[i] && count > PY_SSIZE_T_MAX / info.shape[i]) {
      Py_DECREF(dt);
      return decode_error(k, kl, "NPY shape too large");
    }
    count *= info.shape[i];
  }
  if (itemsize && count > (n - info.data_off) / itemsize) {
    Py_DECREF(dt);
    return decode_error(k, kl,
                        "truncated NPY data: %zd elements of %zd bytes need %zd bytes, %zd "
                        "present",
                        count, itemsize, count * itemsize, n - info.data_off);
  }
  Py_ssize_t nbytes = count * itemsize;
  Py_ssize_t off = 0;
  if (owner) {
    Py_INCREF(owner);
    buf = owner;
    off = info.data_off;
  } else {
    /* a bytearray of the data alone: the array is writable (as numpy.load's)
     * and its data aligned (malloc'd) */
    buf = PyByteArray_FromStringAndSize(v + info.data_off, nbytes);
    if (!buf) {
      Py_DECREF(dt);
      return NULL;
    }
  }
  PyObject *cnt = PyLong_FromSsize_t(count), *offo = PyLong_FromSsize_t(off);
  if (cnt && offo) {
    PyObject *args[4] = {buf, dt, cnt, offo};
    arr = PyObject_Vectorcall(g_frombuffer, args, 4, NULL);
  }
  Py_XDECREF(cnt);
  Py_XDECREF(offo);
  Py_DECREF(buf);
  Py_DECREF(dt);
  if (!arr) return NULL;
  if (info.ndim == 1 && !info.fortran) return arr;
  /* shape it: C order directly; Fortran order as numpy.load does, the
   * reversed shape transposed */
  PyObject *shape = PyTuple_New(info.ndim);
  if (!shape) goto fail;
  for (int i = 0; i < info.ndim; i++) {
    PyObject *d = PyLong_FromSsize_t(info.shape[info.fortran ? info.ndim - 1 - i : i]);
    if (!d) {
      Py_DECREF(shape);
      goto fail;
    }
    PyTuple_SET_ITEM(shape, i, d);
  }
  PyObject *r = PyObject_CallMethodOneArg(arr, s_reshape, shape);
  Py_DECREF(shape);
  Py_DECREF(arr);
  if (!r || !info.fortran) return r;
  arr = PyObject_GetAttr(r, s_T);
  Py_DECREF(r);
  return arr;
fail:
  Py_DECREF(arr);
  return NULL;
}

/* ------------------------------------------------------------------------ */
/* Values                                                                   */
/* ------------------------------------------------------------------------ */

/* The 'i' payload of an int: 16 bytes big-endian two's complement. */
static int int_payload(PyObject *o, unsigned char out[16]) {
  int overflow;
  long long x = PyLong_AsLongLongAndOverflow(o, &overflow);
  if (SP_LIKELY(!overflow)) {
    if (x == -1 && PyErr_Occurred()) return -1;
    unsigned long long u = (unsigned long long)x;
    memset(out, x < 0 ? 0xff : 0, 8);
    for (int i = 15; i >= 8; i--) {
      out[i] = (unsigned char)(u & 0xff);
      u >>= 8;
    }
    return 0;
  }
#if PY_VERSION_HEX >= 0x030D0000
  Py_ssize_t need = PyLong_AsNativeBytes(o, out, 16, Py_ASNATIVEBYTES_BIG_ENDIAN);
  if (need < 0) return -1;
  if (need <= 16) return 0;
#else
  if (_PyLong_AsByteArray((PyLongObject *)o, out, 16, 0, 1) == 0) return 0;
  PyErr_Clear();
#endif
  PyErr_SetString(PyExc_OverflowError,
                  "int too big for the typed store: the 'i' encoding holds 16-byte signed "
                  "ints, -2**127 to 2**127-1 (openleveldb's format); store it as a str");
  return -1;
}

/* Encodes o as tag + payload into a new bytes object. */
static PyObject *encode_value(PyObject *o) {
  PyObject *r;
  if (PyLong_Check(o)) {
    r = PyBytes_FromStringAndSize(NULL, 17);
    if (!r) return NULL;
    PyBytes_AS_STRING(r)[0] = 'i';
    if (int_payload(o, (unsigned char *)PyBytes_AS_STRING(r) + 1)) {
      Py_DECREF(r);
      return NULL;
    }
    return r;
  }
  const char *p;
  Py_ssize_t n;
  char tag;
  PyObject *hold = NULL;
  if (PyUnicode_Check(o)) {
    if (!(p = PyUnicode_AsUTF8AndSize(o, &n))) return NULL;
    tag = 's';
  } else if (PyBytes_Check(o)) {
    p = PyBytes_AS_STRING(o);
    n = PyBytes_GET_SIZE(o);
    tag = 'b';
  } else {
    int nd = is_ndarray(o);
    if (nd < 0) return NULL;
    if (nd) {
      wbuf w = {NULL, 0, 0};
      if (wb_add(&w, "n", 1)) return NULL;
      int rc = npy_encode_fast(&w, o);
      if (rc == 0) {
        r = PyBytes_FromStringAndSize(w.p, (Py_ssize_t)w.n);
        PyMem_Free(w.p);
        return r;
      }
      PyMem_Free(w.p);
      if (rc < 0) return NULL;
      if (!(hold = PyObject_CallOneArg(g_npy_encode, o))) return NULL;
      if (!PyBytes_Check(hold)) {
        Py_DECREF(hold);
        PyErr_SetString(PyExc_TypeError, "the NPY encoder did not return bytes");
        return NULL;
      }
      p = PyBytes_AS_STRING(hold);
      n = PyBytes_GET_SIZE(hold);
      tag = 'n';
    } else {
      if (!g_json_dumps) {
        PyErr_SetString(PyExc_RuntimeError, "strata.typed is not initialised");
        return NULL;
      }
      if (!(hold = PyObject_CallOneArg(g_json_dumps, o))) return NULL;
      if (!PyUnicode_Check(hold)) {
        Py_DECREF(hold);
        PyErr_SetString(PyExc_TypeError, "the JSON encoder did not return str");
        return NULL;
      }
      if (!(p = PyUnicode_AsUTF8AndSize(hold, &n))) {
        Py_DECREF(hold);
        return NULL;
      }
      tag = 'j';
    }
  }
  r = PyBytes_FromStringAndSize(NULL, n + 1);
  if (r) {
    PyBytes_AS_STRING(r)[0] = tag;
    memcpy(PyBytes_AS_STRING(r) + 1, p, (size_t)n);
  }
  Py_XDECREF(hold);
  return r;
}

/* Decodes the stored value v (n bytes) of key k. owner: an object exporting
 * exactly v's bytes (for zero-copy 'n' and 'b' results: a pinned memoryview
 * gives read-only views); NULL: results own their memory. */
static PyObject *decode_value(const char *v, Py_ssize_t n, PyObject *owner, const char *k,
                              Py_ssize_t kl) {
  if (SP_UNLIKELY(n < 1))
    return decode_error(k, kl, "the value is empty (no type tag: not written by openleveldb)");
  const char *p = v + 1;
  Py_ssize_t pl = n - 1;
  switch (v[0]) {
  case 'i': {
    const unsigned char *u = (const unsigned char *)p;
    if (SP_LIKELY(pl == 16)) {
      /* fits in 64 bits when the high 8 bytes are the low 8's sign */
      unsigned char sx = (u[8] & 0x80) ? 0xff : 0;
      int small = 1;
      for (int i = 0; i < 8; i++)
        if (u[i] != sx) {
          small = 0;
          break;
        }
      if (small) {
        unsigned long long x = 0;
        for (int i = 8; i < 16; i++)
          x = (x << 8) | u[i];
        return PyLong_FromLongLong((long long)x);
      }
    }
    if (pl == 0) return PyLong_FromLong(0);
#if PY_VERSION_HEX >= 0x030D0000
    return PyLong_FromNativeBytes(u, (size_t)pl, Py_ASNATIVEBYTES_BIG_ENDIAN);
#else
    return _PyLong_FromByteArray(u, (size_t)pl, 0, 1);
#endif
  }
  case 's': {
    PyObject *s = PyUnicode_DecodeUTF8(p, pl, NULL);
    if (!s) return decode_error(k, kl, "an 's' value that is not UTF-8");
    return s;
  }
  case 'b':
    if (owner) return PySequence_GetSlice(owner, 1, n);
    return PyBytes_FromStringAndSize(p, pl);
  case 'j': {
    PyObject *b = PyBytes_FromStringAndSize(p, pl);
    if (!b) return NULL;
    PyObject *r = PyObject_CallOneArg(g_json_loads, b);
    Py_DECREF(b);
    if (!r) return decode_error(k, kl, "a 'j' value that is not JSON");
    return r;
  }
  case 'n': {
    if (owner) {
      /* view the NPY part of owner: slice off the tag */
      PyObject *sl = PySequence_GetSlice(owner, 1, n);
      if (!sl) return NULL;
      PyObject *r = npy_decode(p, pl, sl, k, kl);
      Py_DECREF(sl);
      return r;
    }
    return npy_decode(p, pl, NULL, k, kl);
  }
  default:
    if ((unsigned char)v[0] >= 0x20 && (unsigned char)v[0] < 0x7f)
      return decode_error(k, kl, "unknown type tag '%c' (b, i, s, n or j expected)", v[0]);
    return decode_error(k, kl, "unknown type tag 0x%02x (b, i, s, n or j expected)",
                        (unsigned char)v[0]);
  }
}

/* For iterator.c: the typed forms of an entry. */
PyObject *sp_typed_key_object(const char *k, Py_ssize_t kl) {
  PyObject *s = PyUnicode_DecodeUTF8(k, kl, NULL);
  if (!s) {
    PyObject *t, *v, *tb;
    PyErr_Fetch(&t, &v, &tb);
    Py_XDECREF(t);
    Py_XDECREF(tb);
    PyObject *kb = PyBytes_FromStringAndSize(k, kl);
    if (kb) {
      PyObject *msg = PyUnicode_FromFormat("the key %R is not UTF-8 text (not written by "
                                           "openleveldb)",
                                           kb);
      if (msg) {
        PyObject *exc =
            PyObject_CallOneArg(g_decode_error ? g_decode_error : PyExc_ValueError, msg);
        if (exc) {
          PyObject_SetAttrString(exc, "key", kb);
          if (v) PyException_SetCause(exc, v), v = NULL;
          PyErr_SetObject((PyObject *)Py_TYPE(exc), exc);
          Py_DECREF(exc);
        }
        Py_DECREF(msg);
      }
      Py_DECREF(kb);
    }
    Py_XDECREF(v);
  }
  return s;
}

PyObject *sp_typed_value_object(const char *v, Py_ssize_t vl, const char *k, Py_ssize_t kl) {
  return decode_value(v, vl, NULL, k, kl);
}

/* ------------------------------------------------------------------------ */
/* Module functions                                                         */
/* ------------------------------------------------------------------------ */

static int need_setup(void) {
  if (SP_LIKELY(g_json_loads != NULL)) return 0;
  PyErr_SetString(PyExc_RuntimeError, "strata.typed is not initialised (import strata.typed)");
  return -1;
}

/* _typed_setup(DecodeError, dumps, loads, npy_encode, npy_decode, view_marker,
 * npy_check) */
static PyObject *t_setup(PyObject *self, PyObject *args) {
  (void)self;
  PyObject *a[7];
  if (!PyArg_UnpackTuple(args, "_typed_setup", 7, 7, &a[0], &a[1], &a[2], &a[3], &a[4], &a[5],
                         &a[6]))
    return NULL;
  PyObject **slots[7] = {&g_decode_error, &g_json_dumps,  &g_json_loads, &g_npy_encode,
                         &g_npy_decode,   &g_view_marker, &g_npy_check};
  for (int i = 0; i < 7; i++) {
    Py_INCREF(a[i]);
    Py_XSETREF(*slots[i], a[i]);
  }
#define INTERN(v, s)                                                                               \
  if (!v && !(v = PyUnicode_InternFromString(s))) return NULL;
  INTERN(s_dtype, "dtype");
  INTERN(s_str, "str");
  INTERN(s_names, "names");
  INTERN(s_hasobject, "hasobject");
  INTERN(s_metadata, "metadata");
  INTERN(s_itemsize, "itemsize");
  INTERN(s_reshape, "reshape");
  INTERN(s_T, "T");
  INTERN(s_release, "release");
#undef INTERN
  Py_RETURN_NONE;
}

static PyObject *t_set_npy_fast(PyObject *self, PyObject *flag) {
  (void)self;
  int f = PyObject_IsTrue(flag);
  if (f < 0) return NULL;
  g_npy_fast = f;
  Py_RETURN_NONE;
}

static PyObject *t_encode(PyObject *self, PyObject *o) {
  (void)self;
  if (need_setup()) return NULL;
  return encode_value(o);
}

/* typed_decode(data, key=None, buffers=False): data any bytes-like object;
 * with buffers, 'n' and 'b' values are read-only views of data. */
static PyObject *t_decode(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
  (void)self;
  if (nargs < 1 || nargs > 3)
    return PyErr_Format(PyExc_TypeError,
                        "typed_decode(data, key=None, buffers=False) takes 1 to 3 arguments");
  if (need_setup()) return NULL;
  const char *k = NULL;
  Py_ssize_t kl = 0;
  if (nargs == 2 && args[1] != Py_None) {
    if (!PyBytes_Check(args[1])) return PyErr_Format(PyExc_TypeError, "key must be bytes");
    k = PyBytes_AS_STRING(args[1]);
    kl = PyBytes_GET_SIZE(args[1]);
  }
  int buffers = nargs == 3 ? PyObject_IsTrue(args[2]) : 0;
  if (buffers < 0) return NULL;
  if (PyBytes_Check(args[0]) && !buffers)
    return decode_value(PyBytes_AS_STRING(args[0]), PyBytes_GET_SIZE(args[0]), NULL, k, kl);
  Py_buffer view;
  if (PyObject_GetBuffer(args[0], &view, PyBUF_SIMPLE)) return NULL;
  PyObject *owner = NULL, *r = NULL;
  char tag = view.len ? ((const char *)view.buf)[0] : 0;
  if (buffers && (tag == 'n' || tag == 'b')) {
    PyObject *mv = PyMemoryView_FromObject(args[0]);
    /* a read-only view of it (a bytes object's already is) */
    owner = mv ? PyObject_CallMethod(mv, "toreadonly", NULL) : NULL;
    Py_XDECREF(mv);
    if (!owner) goto out;
  }
  r = decode_value(view.buf, view.len, owner, k, kl);
out:
  Py_XDECREF(owner);
  PyBuffer_Release(&view);
  return r;
}

/* typed_key(prefix, key) -> bytes, or the view marker's (prefix bytes,)
 * tuple for a key ending in ... */
static PyObject *t_key(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
  (void)self;
  if (nargs != 2 || !PyBytes_Check(args[0]))
    return PyErr_Format(PyExc_TypeError, "typed_key(prefix: bytes, key)");
  tkey k;
  int rc = build_key(&k, args[0], args[1]);
  PyObject *r = NULL;
  if (rc >= 0) {
    r = PyBytes_FromStringAndSize(k.p, k.n);
    if (r && rc == 1) Py_SETREF(r, PyTuple_Pack(1, r));
  }
  tkey_free(&k);
  return r;
}

/* Arguments shared by the point operations: (db, snapshot or None, prefix,
 * key, ...). */
static int point_args(PyObject *const *args, sp_db **d, sp_snapshot **s, PyObject **prefix) {
  if (args[0] == Py_None) {
    sp_raise_slot(NULL, 0, SP_E_CLOSED, "the typed store is closed");
    return -1;
  }
  if (!PyObject_TypeCheck(args[0], &sp_db_type)) {
    PyErr_SetString(PyExc_TypeError, "expected a strata.DB");
    return -1;
  }
  *d = (sp_db *)args[0];
  *s = NULL;
  if (args[1] != Py_None) {
    if (!PyObject_TypeCheck(args[1], &sp_snapshot_type)) {
      PyErr_SetString(PyExc_TypeError, "expected a strata.Snapshot or None");
      return -1;
    }
    *s = (sp_snapshot *)args[1];
    if (!(*s)->snap) {
      sp_db_raise_slot(*d, SP_E_CLOSED, "the snapshot is closed");
      return -1;
    }
  }
  if (!PyBytes_Check(args[2])) {
    PyErr_SetString(PyExc_TypeError, "prefix must be bytes");
    return -1;
  }
  *prefix = PyBytes_GET_SIZE(args[2]) ? args[2] : NULL;
  return need_setup() || sp_db_check(*d, "the database is closed");
}

/* typed_get(db, snapshot, prefix, key, default, buffers) -> value, default,
 * or the view marker (key ends in ...). */
static PyObject *t_get(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
  (void)self;
  sp_db *d;
  sp_snapshot *s;
  PyObject *prefix;
  if (nargs != 6) return PyErr_Format(PyExc_TypeError, "typed_get takes 6 arguments");
  if (point_args(args, &d, &s, &prefix)) return NULL;
  int buffers = PyObject_IsTrue(args[5]);
  if (buffers < 0) return NULL;
  tkey k;
  int rc = build_key(&k, prefix, args[3]);
  if (rc) {
    tkey_free(&k);
    if (rc < 0) return NULL;
    Py_INCREF(g_view_marker);
    return g_view_marker;
  }
  strata_read_options ro;
  strata_read_options_init(&ro);
  ro.snapshot = s ? s->snap : NULL;
  PyObject *r;
  if (buffers) {
    /* a memoryview of the pinned value, or None (missing) */
    PyObject *mv = sp_get_buffer(d, NULL, s ? &s->pins : &d->children, &ro, k.p, k.n, Py_None);
    if (!mv) {
      r = NULL;
    } else if (mv == Py_None) {
      Py_DECREF(mv);
      Py_INCREF(args[4]);
      r = args[4];
    } else {
      Py_buffer view;
      if (PyObject_GetBuffer(mv, &view, PyBUF_SIMPLE)) {
        r = NULL;
      } else {
        char tag = view.len ? ((const char *)view.buf)[0] : 0;
        int zero_copy = tag == 'n' || tag == 'b';
        r = decode_value(view.buf, view.len, zero_copy ? mv : NULL, k.p, k.n);
        PyBuffer_Release(&view);
      }
      Py_DECREF(mv);
    }
  } else {
    strata_buf *b = sp_scratch();
    if (!b) {
      tkey_free(&k);
      return PyErr_NoMemory();
    }
    SP_ENGINE_BEGIN(d);
    rc = strata_get(d->db, &ro, k.p, (size_t)k.n, b);
    SP_ENGINE_END();
    if (SP_LIKELY(rc == 0)) {
      r = decode_value(b->data, (Py_ssize_t)b->size, NULL, k.p, k.n);
      sp_scratch_trim(b);
    } else if (rc == STRATA_ENOTFOUND) {
      Py_INCREF(args[4]);
      r = args[4];
    } else {
      r = sp_db_raise(d, rc);
    }
  }
  tkey_free(&k);
  return r;
}

/* typed_contains(db, snapshot, prefix, key) -> bool: a point lookup. */
static PyObject *t_contains(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
  (void)self;
  sp_db *d;
  sp_snapshot *s;
  PyObject *prefix;
  if (nargs != 4) return PyErr_Format(PyExc_TypeError, "typed_contains takes 4 arguments");
  if (point_args(args, &d, &s, &prefix)) return NULL;
  tkey k;
  int rc = build_key(&k, prefix, args[3]);
  if (rc) {
    tkey_free(&k);
    if (rc > 0)
      PyErr_SetString(PyExc_TypeError, "'in' needs a key, not a view (a key ending in ...)");
    return NULL;
  }
  strata_read_options ro;
  strata_read_options_init(&ro);
  ro.snapshot = s ? s->snap : NULL;
  strata_buf *b = sp_scratch();
  if (!b) {
    tkey_free(&k);
    return PyErr_NoMemory();
  }
  SP_ENGINE_BEGIN(d);
  rc = strata_get(d->db, &ro, k.p, (size_t)k.n, b);
  SP_ENGINE_END();
  tkey_free(&k);
  sp_scratch_trim(b);
  if (rc == 0) Py_RETURN_TRUE;
  if (rc == STRATA_ENOTFOUND) Py_RETURN_FALSE;
  return sp_db_raise(d, rc);
}

/* typed_put(db, prefix, key, value, sync) -> None */
static PyObject *t_put(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
  (void)self;
  if (nargs != 5) return PyErr_Format(PyExc_TypeError, "typed_put takes 5 arguments");
  PyObject *a[3] = {args[0], Py_None, args[1]};
  sp_db *d;
  sp_snapshot *s;
  PyObject *prefix;
  if (point_args(a, &d, &s, &prefix)) return NULL;
  int sync = PyObject_IsTrue(args[4]);
  if (sync < 0) return NULL;
  if (d->read_only)
    return sp_db_raise_slot(d, SP_E_READONLY, "the database was opened with read_only=True");
  tkey k;
  int rc = build_key(&k, prefix, args[2]);
  if (rc) {
    tkey_free(&k);
    if (rc > 0) PyErr_SetString(PyExc_TypeError, "str prefix or key expected, got ellipsis");
    return NULL;
  }
  PyObject *v = encode_value(args[3]);
  if (!v) {
    tkey_free(&k);
    return NULL;
  }
  strata_write_options wo;
  strata_write_options_init(&wo);
  wo.sync = sync;
  SP_ENGINE_BEGIN(d);
  rc = strata_put(d->db, &wo, k.p, (size_t)k.n, PyBytes_AS_STRING(v), (size_t)PyBytes_GET_SIZE(v));
  SP_ENGINE_END();
  tkey_free(&k);
  Py_DECREF(v);
  if (SP_UNLIKELY(rc)) return sp_db_raise(d, rc);
  Py_RETURN_NONE;
}

/* typed_iter(iterator, strip) -> iterator: a fresh strata Iterator made to
 * yield str keys (strip bytes taken off) and decoded values. */
static PyObject *t_iter(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
  (void)self;
  if (nargs != 2) return PyErr_Format(PyExc_TypeError, "typed_iter(iterator, strip)");
  if (need_setup()) return NULL;
  Py_ssize_t strip = PyLong_AsSsize_t(args[1]);
  if (strip < 0 && PyErr_Occurred()) return NULL;
  if (sp_iter_set_typed(args[0], strip)) return NULL;
  Py_INCREF(args[0]);
  return args[0];
}

/* typed_page(items, strip, include_key, include_value, with_values) -> list:
 * a page of a remote scan (a flat list of keys, or of key, value pairs when
 * with_values) decoded as a typed iterator yields its entries. */
static PyObject *t_page(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
  (void)self;
  if (nargs != 5 || !PyList_Check(args[0]))
    return PyErr_Format(PyExc_TypeError,
                        "typed_page(items: list, strip, include_key, include_value, with_values)");
  if (need_setup()) return NULL;
  Py_ssize_t strip = PyLong_AsSsize_t(args[1]);
  int ik = PyObject_IsTrue(args[2]), iv = PyObject_IsTrue(args[3]), wv = PyObject_IsTrue(args[4]);
  if ((strip < 0 && PyErr_Occurred()) || ik < 0 || iv < 0 || wv < 0) return NULL;
  PyObject *items = args[0];
  Py_ssize_t n = PyList_GET_SIZE(items), step = wv ? 2 : 1;
  if (n % step) return PyErr_Format(PyExc_ValueError, "odd number of items in a scan page");
  PyObject *out = PyList_New(n / step);
  if (!out) return NULL;
  for (Py_ssize_t i = 0; i < n; i += step) {
    PyObject *kb = PyList_GET_ITEM(items, i);
    PyObject *vb = wv ? PyList_GET_ITEM(items, i + 1) : NULL;
    if (!PyBytes_Check(kb) || (vb && !PyBytes_Check(vb))) {
      Py_DECREF(out);
      return PyErr_Format(PyExc_TypeError, "scan page items must be bytes");
    }
    const char *k = PyBytes_AS_STRING(kb);
    Py_ssize_t kl = PyBytes_GET_SIZE(kb), sk = strip <= kl ? strip : 0;
    PyObject *ko = NULL, *vo = NULL, *e;
    if (ik && !(ko = sp_typed_key_object(k + sk, kl - sk))) goto fail;
    if (iv && vb &&
        !(vo = decode_value(PyBytes_AS_STRING(vb), PyBytes_GET_SIZE(vb), NULL, k, kl))) {
      Py_XDECREF(ko);
      goto fail;
    }
    if (ko && vo) {
      e = PyTuple_New(2);
      if (!e) {
        Py_DECREF(ko);
        Py_DECREF(vo);
        goto fail;
      }
      PyTuple_SET_ITEM(e, 0, ko);
      PyTuple_SET_ITEM(e, 1, vo);
    } else if (ko) {
      e = ko;
    } else if (vo) {
      e = vo;
    } else {
      Py_INCREF(Py_None);
      e = Py_None;
    }
    PyList_SET_ITEM(out, i / step, e);
  }
  return out;
fail:
  Py_DECREF(out);
  return NULL;
}

/* count(iterable) -> int: exhausts it in C. */
static PyObject *t_count(PyObject *self, PyObject *it) {
  (void)self;
  PyObject *i = PyObject_GetIter(it);
  if (!i) return NULL;
  Py_ssize_t n = 0;
  iternextfunc next = Py_TYPE(i)->tp_iternext;
  PyObject *x;
  while ((x = next(i)) != NULL) {
    Py_DECREF(x);
    n++;
  }
  Py_DECREF(i);
  if (PyErr_Occurred()) {
    if (!PyErr_ExceptionMatches(PyExc_StopIteration)) return NULL;
    PyErr_Clear();
  }
  return PyLong_FromSsize_t(n);
}

/* npy_header(descr_repr, fortran, shape) -> bytes: the header this module
 * writes (for the self-check against numpy.save). */
static PyObject *t_npy_header(PyObject *self, PyObject *args) {
  (void)self;
  const char *descr;
  int fortran;
  PyObject *shape;
  if (!PyArg_ParseTuple(args, "spO!", &descr, &fortran, &PyTuple_Type, &shape)) return NULL;
  Py_ssize_t nd = PyTuple_GET_SIZE(shape), dims[32];
  if (nd > 32) return PyErr_Format(PyExc_ValueError, "too many dimensions");
  for (Py_ssize_t i = 0; i < nd; i++)
    if ((dims[i] = PyLong_AsSsize_t(PyTuple_GET_ITEM(shape, i))) < 0)
      return PyErr_Occurred() ? NULL : PyErr_Format(PyExc_ValueError, "negative dimension");
  wbuf w = {NULL, 0, 0};
  int rc = npy_header(&w, descr, fortran, (int)nd, dims);
  PyObject *r = rc < 0   ? NULL
                : rc > 0 ? (Py_INCREF(Py_None), Py_None)
                         : PyBytes_FromStringAndSize(w.p, (Py_ssize_t)w.n);
  PyMem_Free(w.p);
  return r;
}

static PyMethodDef typed_methods[] = {
    {"_typed_setup", t_setup, METH_VARARGS,
     "_typed_setup(DecodeError, dumps, loads, npy_encode, npy_decode, view_marker, npy_check) "
     "(internal)"},
    {"_typed_set_npy_fast", t_set_npy_fast, METH_O,
     "_typed_set_npy_fast(flag): write NPY headers in C (True) or through numpy.save"},
    {"typed_encode", t_encode, METH_O,
     "typed_encode(value) -> bytes: openleveldb's encoding (tag + payload) of value"},
    {"typed_decode", (PyCFunction)(void (*)(void))t_decode, METH_FASTCALL,
     "typed_decode(data, key=None) -> object: the value openleveldb's encoding data holds"},
    {"typed_key", (PyCFunction)(void (*)(void))t_key, METH_FASTCALL,
     "typed_key(prefix: bytes, key) -> bytes, or (bytes,) for a key ending in ..."},
    {"typed_get", (PyCFunction)(void (*)(void))t_get, METH_FASTCALL,
     "typed_get(db, snapshot, prefix, key, default, buffers) (internal)"},
    {"typed_contains", (PyCFunction)(void (*)(void))t_contains, METH_FASTCALL,
     "typed_contains(db, snapshot, prefix, key) -> bool (internal)"},
    {"typed_put", (PyCFunction)(void (*)(void))t_put, METH_FASTCALL,
     "typed_put(db, prefix, key, value, sync) (internal)"},
    {"typed_iter", (PyCFunction)(void (*)(void))t_iter, METH_FASTCALL,
     "typed_iter(iterator, strip) -> iterator (internal)"},
    {"typed_page", (PyCFunction)(void (*)(void))t_page, METH_FASTCALL,
     "typed_page(items, strip, include_key, include_value, with_values) -> list (internal)"},
    {"count", t_count, METH_O, "count(iterable) -> int: how many items it yields"},
    {"npy_header", t_npy_header, METH_VARARGS,
     "npy_header(descr_repr, fortran, shape) -> bytes | None (internal)"},
    {NULL, NULL, 0, NULL}};

int sp_typed_add(PyObject *m) { return PyModule_AddFunctions(m, typed_methods); }
