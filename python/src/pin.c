/*
 * pin.c - buffers=True: memoryviews over the engine's memory, and the rule
 * that makes them safe.
 *
 * A pin (strata._strata.Pin, never seen directly: it is memoryview.obj) is
 * a buffer exporter for one value at a time. Values handed out with
 * buffers=True are memoryviews made from a pin, so the bytes are never
 * copied into a Python object.
 *
 * The rule (py-lmdb's, enforced instead of trusted):
 *   A memoryview returned with buffers=True is valid until the thing that
 *   returned it moves on or ends: an iterator's next step, seek or close; a
 *   snapshot's close; the database's close. At that moment the library
 *   releases the memoryview (memoryview.release()), so using it afterwards
 *   raises ValueError ("operation forbidden on released memoryview
 *   object") -- it never reads memory the engine has freed. Copy what you
 *   keep with bytes(view).
 *
 * Views the library cannot release (a slice of the memoryview, a
 * memoryview of it, a numpy array over it: anything still holding an
 * export of the pin) keep the memory alive instead:
 *   - an iterator refuses to move while one exists: the step raises
 *     BufferError (as bytearray and mmap refuse to resize or close while
 *     exported), and the iterator stays where it was;
 *   - an ending that cannot fail (close, a snapshot's close, the database's
 *     close, garbage collection) hands the engine resource behind the
 *     memory (an engine iterator) to the pin, which frees it when the last
 *     export is released. The database's engine close is deferred until
 *     then (its files stay locked).
 *
 * Two kinds of pins:
 *   - borrowed (an iterator's): the memory belongs to the iterator's engine
 *     iterator; the pin holds strong references to the memoryviews of the
 *     current value (a cycle the iterator breaks at every move and at its
 *     end);
 *   - owned (a get's): the pin owns an engine iterator positioned on the
 *     value (that is how a get avoids the copy), is linked on the child list
 *     of what returned it (the DB or a snapshot), and holds only a weak
 *     reference to its memoryview, so dropping the memoryview frees
 *     everything at once.
 */
#include "strata_py.h"

struct sp_pin {
  PyObject_HEAD sp_child link; /* owned pins: on their owner's list */
  sp_db *db;                   /* strong reference */
  const char *data;            /* the exported bytes; NULL when none */
  Py_ssize_t size;
  Py_ssize_t exports; /* buffers exported and not yet released */
  PyObject *views;    /* borrowed pins: memoryviews of the current data (a list) */
  PyObject *view_wr;  /* owned pins: weak reference to the memoryview */
  strata_iter *iter;  /* engine iterator the memory belongs to (owned) */
  char *heap;         /* or a malloc'd copy that is the memory (owned) */
  int dead;           /* owner ended: no new exports; free at last release */
  int counted;        /* counted in db->engine_refs */
};

static PyObject *str_release;

static int engine_usable(sp_db *d) { return d->db && d->fork_gen == sp_fork_generation; }

/* Frees the engine resource (an iterator) behind the pin's memory. */
static void free_resource(sp_pin *p) {
  strata_iter *it = p->iter;
  p->iter = NULL;
  free(p->heap);
  p->heap = NULL;
  p->data = NULL;
  p->size = 0;
  if (it && engine_usable(p->db)) {
    Py_BEGIN_ALLOW_THREADS strata_iter_destroy(it);
    Py_END_ALLOW_THREADS
  }
  if (p->counted) {
    p->counted = 0;
    sp_db_engine_unref(p->db);
  }
}

static int pin_getbuffer(PyObject *self, Py_buffer *view, int flags) {
  sp_pin *p = (sp_pin *)self;
  if (p->dead || !p->data) {
    PyErr_SetString(PyExc_BufferError,
                    "this buffer is no longer valid: the iterator, snapshot, transaction or "
                    "database that returned it has moved on or ended (copy values you keep "
                    "with bytes())");
    return -1;
  }
  if (PyBuffer_FillInfo(view, self, (void *)p->data, p->size, 1, flags)) return -1;
  p->exports++;
  return 0;
}

static void pin_releasebuffer(PyObject *self, Py_buffer *view) {
  (void)view;
  sp_pin *p = (sp_pin *)self;
  p->exports--;
  if (p->exports == 0 && p->dead) free_resource(p);
}

static PyBufferProcs pin_as_buffer = {pin_getbuffer, pin_releasebuffer};

/* Releases memoryview v if it is still usable (best effort: a view that has
 * exports of its own cannot be released; it then keeps our export). */
static void release_view(PyObject *v) {
  PyObject *r = PyObject_CallMethodNoArgs(v, str_release);
  if (r)
    Py_DECREF(r);
  else
    PyErr_Clear();
}

static sp_pin *pin_alloc(sp_db *db) {
  sp_pin *p = PyObject_New(sp_pin, &sp_pin_type);
  if (!p) return NULL;
  p->link.prev = p->link.next = NULL;
  p->link.invalidate = NULL;
  p->link.release_idle = NULL;
  Py_INCREF(db);
  p->db = db;
  p->data = NULL;
  p->size = 0;
  p->exports = 0;
  p->views = NULL;
  p->view_wr = NULL;
  p->iter = NULL;
  p->heap = NULL;
  p->dead = 0;
  p->counted = 0;
  return p;
}

sp_pin *sp_pin_new_borrowed(sp_db *db) { return pin_alloc(db); }

int sp_pin_detach(sp_pin *p, strata_iter **keep_iter) {
  PyObject *views = p->views;
  if (views) {
    p->views = NULL;
    /* Views only we hold: dropping them releases their exports. Views the
     * user still holds: release them so later use raises. */
    for (Py_ssize_t k = 0; k < PyList_GET_SIZE(views); k++) {
      PyObject *v = PyList_GET_ITEM(views, k);
      if (Py_REFCNT(v) > 1) release_view(v);
    }
    Py_DECREF(views);
  }
  if (p->exports > 0) {
    if (!keep_iter) {
      PyErr_SetString(PyExc_BufferError,
                      "cannot move the iterator: a buffer of its current value is still "
                      "exported (a slice or memoryview of it, or an object made over it); "
                      "release it, or copy it with bytes() before moving");
      return -1;
    }
    /* The memory must outlive the iterator: the pin takes the engine
     * iterator and frees it at the last release. */
    p->iter = *keep_iter;
    *keep_iter = NULL;
    p->dead = 1;
    if (p->iter && !p->counted) {
      p->counted = 1;
      p->db->engine_refs++;
    }
    return 0;
  }
  p->data = NULL;
  p->size = 0;
  return 0;
}

PyObject *sp_pin_view(sp_pin *p, const char *data, Py_ssize_t size) {
  if (!data) data = "";
  /* A new entry (the iterator moved, which detached the pin): start over.
   * The same entry again: one more view of the same memory. */
  if (!p->views || p->data != data || p->size != size) {
    if (sp_pin_detach(p, NULL)) return NULL;
    p->data = data;
    p->size = size;
  }
  if (!p->views && !(p->views = PyList_New(0))) return NULL;
  PyObject *mv = PyMemoryView_FromObject((PyObject *)p);
  if (!mv) return NULL;
  if (PyList_Append(p->views, mv)) {
    Py_DECREF(mv);
    return NULL;
  }
  return mv;
}

/* The owner (DB or snapshot) ends: release the view; free now or at the
 * last release. */
static void owned_invalidate(sp_child *c) {
  sp_pin *p = (sp_pin *)SP_CHILD_OBJ(c);
  sp_list_del(c);
  Py_INCREF(p);
  p->dead = 1;
  if (p->view_wr) {
    PyObject *v = PyWeakref_GetObject(p->view_wr);
    if (v && v != Py_None) {
      Py_INCREF(v);
      release_view(v);
      Py_DECREF(v);
    }
    Py_CLEAR(p->view_wr);
  }
  if (p->heap && p->exports == 0) free_resource(p);
  if (p->iter) {
    if (p->exports == 0)
      free_resource(p);
    else if (!p->counted) {
      p->counted = 1;
      p->db->engine_refs++;
    }
  }
  Py_DECREF(p);
}

PyObject *sp_pin_owned_view(sp_db *db, sp_child *owner, strata_iter *it, const char *data,
                            Py_ssize_t size) {
  sp_pin *p = pin_alloc(db);
  if (!p) {
    if (engine_usable(db)) strata_iter_destroy(it);
    return NULL;
  }
  p->iter = it;
  p->data = data ? data : "";
  p->size = size;
  p->link.invalidate = owned_invalidate;
  sp_list_add(owner, &p->link);
  PyObject *mv = PyMemoryView_FromObject((PyObject *)p);
  if (mv) {
    p->view_wr = PyWeakref_NewRef(mv, NULL);
    if (!p->view_wr) Py_CLEAR(mv);
  }
  Py_DECREF(p); /* the memoryview holds the pin now (or it is freed) */
  return mv;
}

PyObject *sp_pin_heap_view(sp_db *db, sp_child *owner, char *heap, Py_ssize_t size) {
  sp_pin *p = pin_alloc(db);
  if (!p) {
    free(heap);
    return NULL;
  }
  p->heap = heap;
  p->data = heap ? heap : "";
  p->size = size;
  p->link.invalidate = owned_invalidate;
  sp_list_add(owner, &p->link);
  PyObject *mv = PyMemoryView_FromObject((PyObject *)p);
  if (mv) {
    p->view_wr = PyWeakref_NewRef(mv, NULL);
    if (!p->view_wr) Py_CLEAR(mv);
  }
  Py_DECREF(p);
  return mv;
}

static void pin_dealloc(PyObject *self) {
  sp_pin *p = (sp_pin *)self;
  sp_list_del(&p->link);
  Py_CLEAR(p->view_wr);
  Py_CLEAR(p->views);
  free_resource(p);
  Py_CLEAR(p->db);
  PyObject_Free(p);
}

PyTypeObject sp_pin_type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "strata._strata.Pin",
    .tp_basicsize = sizeof(sp_pin),
    .tp_dealloc = pin_dealloc,
    .tp_as_buffer = &pin_as_buffer,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "The exporter behind the memoryviews returned with buffers=True (memoryview.obj).\n\n"
              "Not created directly. A view of it is valid until the iterator, snapshot,\n"
              "transaction or database that returned it moves on or ends; see strata.DB.",
};

int sp_pin_init_module(void) {
  str_release = PyUnicode_InternFromString("release");
  return str_release ? 0 : -1;
}
