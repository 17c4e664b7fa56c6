/*
 * iterator.c - strata._strata.Iterator (plyvel's range iterator) and
 * RawIterator (LevelDB's cursor), over one engine iterator (strata_iter).
 *
 * The Iterator is a position *between* two entries of its range
 * [start, stop] (bounds included or not). next() returns the entry after the
 * position and moves past it; prev() returns the entry before the position
 * and moves before it (plyvel's semantics: prev() after next() returns the
 * same entry). A reverse iterator swaps the two. The engine iterator is kept
 * on an entry next to the position, in one of four states:
 *
 *   BEFORE_START  the position is before the range's first entry (the
 *                 engine iterator's place does not matter)
 *   AFTER_STOP    the position is after the range's last entry (idem)
 *   IN_BETWEEN    the engine is on the entry just before the position
 *   POSITIONED    the engine is on the entry just after the position
 *
 * A step that returns the entry the engine is on does not move it (prev in
 * IN_BETWEEN, next in POSITIONED), and no step moves the engine after
 * reading the entry it returns, so with buffers=True the returned value's
 * memory stays where it is until the next call that moves (see pin.c).
 *
 * Differences from plyvel 1.5 (bugs there, fixed here): a reverse
 * iteration whose first entry equals `start` returns it (plyvel returns
 * nothing); prev() after seek() does not go below `start`; seek() does not
 * land on an excluded start key, and seek() past `stop` leaves the iterator
 * after the range (plyvel lands on an included stop key); an engine error
 * met at the first step is raised instead of ending the iteration.
 */
#include "strata_py.h"

#include <string.h>

enum { BEFORE_START, AFTER_STOP, IN_BETWEEN, POSITIONED };

typedef struct sp_iter {
  PyObject_HEAD sp_child link;
  sp_db *db;
  strata_iter *it; /* NULL once closed */
  PyObject *start; /* bounds, db_prefix included; NULL: unbounded */
  PyObject *stop;
  PyObject *db_prefix;      /* a PrefixedDB's prefix, or NULL */
  Py_ssize_t db_prefix_len; /* stripped from keys returned */
  char include_start, include_stop, include_key, include_value;
  char reverse, state, buffers, busy;
  PyObject *key_views; /* buffers=True: memoryviews over copies (raw iterators'
                          keys, a write transaction's values), released at moves */
  char copy_values;    /* buffers=True in a write transaction: values are copies */
  PyObject *owner_obj; /* a transaction the iterator reads through (strong) */
  sp_pin *val_pin;     /* buffers=True: exports values in place */
  PyObject *weakreflist;
  /* Read-ahead (see readahead_fill): entries copied in one GIL release. */
  char *ra;           /* arena of [klen u32][vlen u32][key][value] */
  size_t ra_cap;      /* bytes allocated */
  size_t ra_pos;      /* offset of the next entry to return */
  size_t ra_end;      /* end of the entries */
  size_t ra_last;     /* offset of the entry returned last */
  int ra_batch;       /* entries to read at the next fill (ramps up) */
  signed char ra_dir; /* +1: filled with next(), -1: with prev(), 0: none */
  char ra_eof;        /* the fill met the end or a bound: nothing after */
  char ra_ok;         /* read-ahead allowed (no buffers, no Python comparator) */
  char typed;         /* strata.typed: str keys and decoded values (typed.c) */
} sp_iter;

static const char CLOSED_MSG[] = "Database or iterator is closed";

/* ------------------------------------------------------------------------ */
/* Engine calls                                                             */
/* ------------------------------------------------------------------------ */

enum { OP_FIRST, OP_LAST, OP_SEEK, OP_NEXT, OP_PREV };

/* Moves the engine iterator with the GIL released; returns valid(). */
static int move(sp_iter *i, int op, const char *k, size_t kl) {
  int valid;
  strata_iter *it = i->it;
  i->busy = 1;
  SP_ENGINE_BEGIN(i->db);
  switch (op) {
  case OP_FIRST: strata_iter_seek_to_first(it); break;
  case OP_LAST: strata_iter_seek_to_last(it); break;
  case OP_SEEK: strata_iter_seek(it, k, kl); break;
  case OP_NEXT: strata_iter_next(it); break;
  default: strata_iter_prev(it); break;
  }
  valid = strata_iter_valid(it);
  SP_ENGINE_END();
  i->busy = 0;
  return valid;
}

static void release_key_views(sp_iter *i) {
  PyObject *l = i->key_views;
  if (!l) return;
  i->key_views = NULL;
  for (Py_ssize_t k = 0; k < PyList_GET_SIZE(l); k++) {
    PyObject *v = PyList_GET_ITEM(l, k);
    if (Py_REFCNT(v) > 1) {
      PyObject *r = PyObject_CallMethod(v, "release", NULL);
      if (r)
        Py_DECREF(r);
      else
        PyErr_Clear(); /* exported further: harmless, it views a copy */
    }
  }
  Py_DECREF(l);
}

/* Before the engine moves: release the buffers of the current entry. */
static int before_move(sp_iter *i) {
  if (SP_LIKELY(!i->buffers)) return 0;
  if (i->val_pin && sp_pin_detach(i->val_pin, NULL)) return -1;
  release_key_views(i);
  return 0;
}

/* The iterator is not valid: an error, or the end (NULL, no exception). */
static PyObject *end_or_error(sp_iter *i) {
  int st = strata_iter_status(i->it);
  if (st) return sp_db_raise(i->db, st);
  return NULL;
}

static int check(sp_iter *i) {
  if (SP_UNLIKELY(!i->it)) {
    sp_db_raise_slot(i->db, SP_E_CLOSED, CLOSED_MSG);
    return -1;
  }
  if (SP_UNLIKELY(i->db->fork_gen != sp_fork_generation))
    return sp_db_check_slow(i->db, CLOSED_MSG);
  if (SP_UNLIKELY(i->busy)) {
    PyErr_SetString(PyExc_RuntimeError,
                    "the iterator is being used by another thread (iterators are not "
                    "thread-safe)");
    return -1;
  }
  return 0;
}

static inline int cmp_key(sp_iter *i, PyObject *bound) {
  size_t kl;
  const char *k = strata_iter_key(i->it, &kl);
  return sp_db_compare(i->db, k, kl, PyBytes_AS_STRING(bound), (size_t)PyBytes_GET_SIZE(bound));
}
#define CMP_FAILED(i) ((i)->db->py_cmp && PyErr_Occurred())

/* Is the current key before the range (below start, or equal to an
 * excluded start)? -1 on comparator error. */
static int below_start(sp_iter *i) {
  if (!i->start) return 0;
  int c = cmp_key(i, i->start);
  if (CMP_FAILED(i)) return -1;
  return c < 0 || (c == 0 && !i->include_start);
}

static int above_stop(sp_iter *i) {
  if (!i->stop) return 0;
  int c = cmp_key(i, i->stop);
  if (CMP_FAILED(i)) return -1;
  return c > 0 || (c == 0 && !i->include_stop);
}

/* ------------------------------------------------------------------------ */
/* Entries                                                                  */
/* ------------------------------------------------------------------------ */

/* A memoryview over a copy of (p, n), released at the next move. */
static PyObject *copy_view(sp_iter *i, const char *p, Py_ssize_t n) {
  PyObject *b = PyBytes_FromStringAndSize(p, n);
  if (!b) return NULL;
  PyObject *mv = PyMemoryView_FromObject(b);
  Py_DECREF(b);
  if (!mv) return NULL;
  if ((!i->key_views && !(i->key_views = PyList_New(0))) || PyList_Append(i->key_views, mv)) {
    Py_DECREF(mv);
    return NULL;
  }
  return mv;
}

static PyObject *key_object(sp_iter *i, int as_buffer) {
  size_t kl;
  const char *k = strata_iter_key(i->it, &kl);
  Py_ssize_t skip = i->db_prefix_len <= (Py_ssize_t)kl ? i->db_prefix_len : 0;
  if (as_buffer) return copy_view(i, k + skip, (Py_ssize_t)kl - skip);
  if (i->typed) return sp_typed_key_object(k + skip, (Py_ssize_t)kl - skip);
  return PyBytes_FromStringAndSize(k + skip, (Py_ssize_t)kl - skip);
}

static PyObject *value_object(sp_iter *i) {
  size_t vl;
  const char *v = strata_iter_value(i->it, &vl);
  if (i->typed) {
    size_t kl;
    const char *k = strata_iter_key(i->it, &kl);
    return sp_typed_value_object(v, (Py_ssize_t)vl, k, (Py_ssize_t)kl);
  }
  if (i->buffers) {
    if (i->copy_values) return copy_view(i, v, (Py_ssize_t)vl);
    if (!i->val_pin && !(i->val_pin = sp_pin_new_borrowed(i->db))) return NULL;
    return sp_pin_view(i->val_pin, v, (Py_ssize_t)vl);
  }
  return PyBytes_FromStringAndSize(v, (Py_ssize_t)vl);
}

/* The entry the engine is on, shaped by include_key / include_value. */
static PyObject *current(sp_iter *i) {
  if (SP_LIKELY(i->include_key && i->include_value)) {
    PyObject *t = PyTuple_New(2);
    if (!t) return NULL;
    PyObject *k = key_object(i, 0);
    if (!k) {
      Py_DECREF(t);
      return NULL;
    }
    PyTuple_SET_ITEM(t, 0, k);
    PyObject *v = value_object(i);
    if (!v) {
      Py_DECREF(t);
      return NULL;
    }
    PyTuple_SET_ITEM(t, 1, v);
    return t;
  }
  if (i->include_key) return key_object(i, 0);
  if (i->include_value) return value_object(i);
  Py_RETURN_NONE;
}

/* ------------------------------------------------------------------------ */
/* Read-ahead                                                               */
/* ------------------------------------------------------------------------ */

/* Stepping through a range one entry per engine call would release and
 * retake the GIL at every entry (a quarter of the time of a scan). Instead a
 * steady walk in one direction copies the next entries -- up to ra_batch of
 * them (4, doubling to 128) and about RA_BYTES -- into an arena during one
 * release, and the following steps return them from there. The engine
 * iterator is then ahead of the position; before any other call moves it
 * (a step the other way, a seek) it is put back on the entry returned last
 * by a seek to its key, which lands exactly there: the iterator reads one
 * fixed snapshot. Not used with buffers=True (values must stay where the
 * engine keeps them) or a Python comparator (bounds need the GIL). */
#define RA_BYTES (32 * 1024)
#define RA_MAX 128

static inline uint32_t ra_u32(const char *p) {
  uint32_t v;
  memcpy(&v, p, 4);
  return v;
}

static void ra_clear(sp_iter *i) {
  i->ra_pos = i->ra_end = 0;
  i->ra_dir = 0;
  i->ra_eof = 0;
}

/* Does raw key k fall outside the range in direction dir (past stop going
 * forward, before start going backward)? memcmp order. */
static int ra_out_of_range(sp_iter *i, int dir, const char *k, size_t kl) {
  PyObject *b = dir > 0 ? i->stop : i->start;
  if (!b) return 0;
  int c = sp_db_compare(i->db, k, kl, PyBytes_AS_STRING(b), (size_t)PyBytes_GET_SIZE(b));
  return dir > 0 ? (c > 0 || (c == 0 && !i->include_stop))
                 : (c < 0 || (c == 0 && !i->include_start));
}

/* Fills the arena with the entries after (dir > 0) or before the engine's
 * current one, moving the engine onto the last copied. The entry returned
 * last (the engine's current one) is kept first in the arena, for a later
 * resync. The arena (raw allocator: it grows with the GIL released) starts
 * small and grows to about 2 * RA_BYTES, or to the first entry's size.
 * Returns 0, or -1 with MemoryError set. */
static int readahead_fill(sp_iter *i, int dir) {
  size_t kl0;
  const char *k0 = strata_iter_key(i->it, &kl0);
  size_t keep = 8 + kl0;
  if (keep > i->ra_cap) {
    size_t cap = keep < 4096 ? 4096 : keep;
    char *n = PyMem_RawRealloc(i->ra, cap);
    if (!n) {
      PyErr_NoMemory();
      return -1;
    }
    i->ra = n;
    i->ra_cap = cap;
  }
  uint32_t k32 = (uint32_t)kl0, v32 = 0;
  memcpy(i->ra, &k32, 4);
  memcpy(i->ra + 4, &v32, 4);
  memcpy(i->ra + 8, k0, kl0);
  i->ra_last = 0;
  i->ra_pos = i->ra_end = keep;
  i->ra_dir = (signed char)dir;
  i->ra_eof = 0;

  int want = i->ra_batch, copied = 0, eof = 0, nomem = 0;
  char *arena = i->ra;
  size_t cap = i->ra_cap, end = keep;
  strata_iter *it = i->it;
  int with_value = i->include_value;
  i->busy = 1;
  SP_ENGINE_BEGIN(i->db);
  while (copied < want && end < RA_BYTES) {
    if (dir > 0)
      strata_iter_next(it);
    else
      strata_iter_prev(it);
    if (!strata_iter_valid(it)) {
      eof = 1;
      break;
    }
    size_t kl, vl = 0;
    const char *k = strata_iter_key(it, &kl);
    if (ra_out_of_range(i, dir, k, kl)) {
      eof = 1;
      break;
    }
    const char *v = with_value ? strata_iter_value(it, &vl) : NULL;
    size_t need = 8 + kl + vl;
    if (end + need > cap) {
      size_t ncap = cap * 2;
      while (ncap < end + need)
        ncap *= 2;
      char *n = (copied == 0 || ncap <= 2 * RA_BYTES) ? PyMem_RawRealloc(arena, ncap) : NULL;
      if (!n) {
        /* too big to batch (or no memory): back onto the last copied entry;
         * the next fill starts with this one */
        if (dir > 0)
          strata_iter_prev(it);
        else
          strata_iter_next(it);
        nomem = copied == 0;
        break;
      }
      arena = n;
      cap = ncap;
    }
    memcpy(arena + end, &(uint32_t){(uint32_t)kl}, 4);
    memcpy(arena + end + 4, &(uint32_t){(uint32_t)vl}, 4);
    memcpy(arena + end + 8, k, kl);
    if (vl) memcpy(arena + end + 8 + kl, v, vl);
    end += need;
    copied++;
  }
  SP_ENGINE_END();
  i->busy = 0;
  i->ra = arena;
  i->ra_cap = cap;
  i->ra_end = end;
  i->ra_eof = (char)eof;
  if (nomem) {
    PyErr_NoMemory();
    return -1;
  }
  if (i->ra_batch < RA_MAX) i->ra_batch *= 2;
  return 0;
}

/* Puts the engine back on the entry returned last (see above). */
static int readahead_resync(sp_iter *i) {
  if (!i->ra_dir) return 0;
  if (i->ra_pos == i->ra_end && !i->ra_eof) {
    ra_clear(i); /* the engine is on the entry returned last */
    return 0;
  }
  const char *e = i->ra + i->ra_last;
  uint32_t kl = ra_u32(e);
  /* the key is copied: the seek overwrites nothing of the arena, but keep
   * the code independent of that */
  PyObject *k = PyBytes_FromStringAndSize(e + 8, kl);
  if (!k) return -1;
  ra_clear(i);
  move(i, OP_SEEK, PyBytes_AS_STRING(k), kl);
  Py_DECREF(k);
  return 0;
}

/* readahead_pop for a typed iterator: str keys, decoded values. */
static PyObject *readahead_pop_typed(sp_iter *i, const char *k, uint32_t kl, const char *v,
                                     uint32_t vl, Py_ssize_t skip) {
  PyObject *ko = NULL, *vo = NULL;
  if (i->include_key && !(ko = sp_typed_key_object(k + skip, (Py_ssize_t)kl - skip))) return NULL;
  if (i->include_value && !(vo = sp_typed_value_object(v, vl, k, kl))) {
    Py_XDECREF(ko);
    return NULL;
  }
  if (ko && vo) {
    PyObject *t = PyTuple_New(2);
    if (!t) {
      Py_DECREF(ko);
      Py_DECREF(vo);
      return NULL;
    }
    PyTuple_SET_ITEM(t, 0, ko);
    PyTuple_SET_ITEM(t, 1, vo);
    return t;
  }
  if (ko) return ko;
  if (vo) return vo;
  Py_RETURN_NONE;
}

/* The next entry from the arena, shaped as current() shapes them. */
static PyObject *readahead_pop(sp_iter *i) {
  const char *e = i->ra + i->ra_pos;
  uint32_t kl = ra_u32(e), vl = ra_u32(e + 4);
  i->ra_last = i->ra_pos;
  i->ra_pos += 8 + (size_t)kl + vl;
  const char *k = e + 8, *v = e + 8 + kl;
  Py_ssize_t skip = i->db_prefix_len <= (Py_ssize_t)kl ? i->db_prefix_len : 0;
  if (i->typed) return readahead_pop_typed(i, k, kl, v, vl, skip);
  if (SP_LIKELY(i->include_key && i->include_value)) {
    PyObject *t = PyTuple_New(2);
    if (!t) return NULL;
    PyObject *kb = PyBytes_FromStringAndSize(k + skip, (Py_ssize_t)kl - skip);
    PyObject *vb = kb ? PyBytes_FromStringAndSize(v, vl) : NULL;
    if (!vb) {
      Py_XDECREF(kb);
      Py_DECREF(t);
      return NULL;
    }
    PyTuple_SET_ITEM(t, 0, kb);
    PyTuple_SET_ITEM(t, 1, vb);
    return t;
  }
  if (i->include_key) return PyBytes_FromStringAndSize(k + skip, (Py_ssize_t)kl - skip);
  if (i->include_value) return PyBytes_FromStringAndSize(v, vl);
  Py_RETURN_NONE;
}

/* A step in direction dir from the engine's entry (the one returned last):
 * from the arena, filling it when empty. *done is set when the range has no
 * more entries that way (NULL returned, exception set on an engine error). */
static PyObject *readahead_step(sp_iter *i, int dir, int *done) {
  *done = 0;
  if (i->ra_dir == dir && i->ra_pos < i->ra_end) return readahead_pop(i);
  if (i->ra_dir == dir && i->ra_eof) {
    ra_clear(i);
    *done = 1;
    return end_or_error(i);
  }
  if (readahead_fill(i, dir)) return NULL;
  if (i->ra_pos < i->ra_end) return readahead_pop(i);
  ra_clear(i);
  *done = 1;
  return end_or_error(i);
}

/* ------------------------------------------------------------------------ */
/* Iterator steps                                                           */
/* ------------------------------------------------------------------------ */

/* The entry after the position; NULL with no exception at the end. */
static PyObject *step_next(sp_iter *i) {
  int b;
  if (i->ra_dir < 0 && readahead_resync(i)) return NULL;
  switch (i->state) {
  case IN_BETWEEN:
    if (i->ra_ok) {
      PyObject *r = readahead_step(i, 1, &b);
      if (b) i->state = AFTER_STOP;
      return r;
    }
    if (before_move(i)) return NULL;
    if (!move(i, OP_NEXT, NULL, 0)) {
      i->state = AFTER_STOP;
      return end_or_error(i);
    }
    break;
  case POSITIONED: i->state = IN_BETWEEN; break;
  case BEFORE_START:
    if (before_move(i)) return NULL;
    if (!(i->start
              ? move(i, OP_SEEK, PyBytes_AS_STRING(i->start), (size_t)PyBytes_GET_SIZE(i->start))
              : move(i, OP_FIRST, NULL, 0)))
      return end_or_error(i);
    if ((b = below_start(i)) < 0) return NULL;
    if (b && !move(i, OP_NEXT, NULL, 0)) return end_or_error(i);
    i->state = IN_BETWEEN;
    break;
  default: return NULL;
  }
  if ((b = above_stop(i)) != 0) {
    if (b > 0) i->state = AFTER_STOP;
    return NULL;
  }
  return current(i);
}

/* The entry before the position; NULL with no exception at the end. */
static PyObject *step_prev(sp_iter *i) {
  int b;
  if (i->ra_dir > 0 && readahead_resync(i)) return NULL;
  switch (i->state) {
  case IN_BETWEEN: break;
  case POSITIONED:
    if (i->ra_ok) {
      PyObject *r = readahead_step(i, -1, &b);
      if (b) i->state = BEFORE_START;
      return r;
    }
    if (before_move(i)) return NULL;
    if (!move(i, OP_PREV, NULL, 0)) {
      i->state = BEFORE_START;
      return end_or_error(i);
    }
    if ((b = below_start(i)) != 0) {
      if (b > 0) i->state = BEFORE_START;
      return NULL;
    }
    break;
  case AFTER_STOP:
    if (before_move(i)) return NULL;
    if (!i->stop) {
      if (!move(i, OP_LAST, NULL, 0)) return end_or_error(i);
    } else if (move(i, OP_SEEK, PyBytes_AS_STRING(i->stop), (size_t)PyBytes_GET_SIZE(i->stop))) {
      /* on the first key >= stop: step back unless it is an included stop */
      if ((b = above_stop(i)) < 0) return NULL;
      if (b && !move(i, OP_PREV, NULL, 0)) return end_or_error(i);
    } else {
      int st = strata_iter_status(i->it);
      if (st) return sp_db_raise(i->db, st);
      if (!move(i, OP_LAST, NULL, 0)) return end_or_error(i);
    }
    if ((b = below_start(i)) != 0) return NULL;
    break;
  default: return NULL;
  }
  i->state = POSITIONED;
  return current(i);
}

static PyObject *iter_iternext(PyObject *self) {
  sp_iter *i = (sp_iter *)self;
  if (check(i)) return NULL;
  return i->reverse ? step_prev(i) : step_next(i);
}

static PyObject *iter_prev(PyObject *self, PyObject *unused) {
  (void)unused;
  sp_iter *i = (sp_iter *)self;
  if (check(i)) return NULL;
  PyObject *r = i->reverse ? step_next(i) : step_prev(i);
  if (!r && !PyErr_Occurred()) PyErr_SetNone(PyExc_StopIteration);
  return r;
}

static PyObject *iter_seek_to_start(PyObject *self, PyObject *unused) {
  (void)unused;
  sp_iter *i = (sp_iter *)self;
  if (check(i) || before_move(i)) return NULL;
  ra_clear(i);
  i->state = BEFORE_START;
  Py_RETURN_NONE;
}

static PyObject *iter_seek_to_stop(PyObject *self, PyObject *unused) {
  (void)unused;
  sp_iter *i = (sp_iter *)self;
  if (check(i) || before_move(i)) return NULL;
  ra_clear(i);
  i->state = AFTER_STOP;
  Py_RETURN_NONE;
}

/* seek(target): the position just before the first entry >= target,
 * target taken into the range. */
static PyObject *iter_seek(PyObject *self, PyObject *target) {
  sp_iter *i = (sp_iter *)self;
  const char *t;
  Py_ssize_t tl;
  if (sp_key_arg(target, "target", &t, &tl) || check(i) || before_move(i)) return NULL;
  ra_clear(i);
  char kbuf[256];
  char *heap = NULL;
  if (i->db_prefix && !(t = sp_prefixed_key(i->db_prefix, t, tl, kbuf, sizeof kbuf, &heap, &tl)))
    return NULL;
  if (i->start) {
    int c = sp_db_compare(i->db, t, (size_t)tl, PyBytes_AS_STRING(i->start),
                          (size_t)PyBytes_GET_SIZE(i->start));
    if (CMP_FAILED(i)) goto fail;
    if (c < 0) {
      t = PyBytes_AS_STRING(i->start);
      tl = PyBytes_GET_SIZE(i->start);
    }
  }
  if (i->stop) {
    int c = sp_db_compare(i->db, t, (size_t)tl, PyBytes_AS_STRING(i->stop),
                          (size_t)PyBytes_GET_SIZE(i->stop));
    if (CMP_FAILED(i)) goto fail;
    if (c > 0) {
      /* past the range: after its last entry (plyvel would land on an
       * included stop key) */
      PyMem_Free(heap);
      i->state = AFTER_STOP;
      Py_RETURN_NONE;
    }
  }
  int valid = move(i, OP_SEEK, t, (size_t)tl);
  PyMem_Free(heap);
  heap = NULL;
  if (valid) {
    int b = below_start(i); /* only an excluded start key */
    if (b < 0) return NULL;
    if (b) valid = move(i, OP_NEXT, NULL, 0);
  }
  if (!valid) {
    i->state = AFTER_STOP;
    int st = strata_iter_status(i->it);
    if (st) return sp_db_raise(i->db, st);
    Py_RETURN_NONE;
  }
  i->state = POSITIONED;
  Py_RETURN_NONE;
fail:
  PyMem_Free(heap);
  return NULL;
}

/* ------------------------------------------------------------------------ */
/* Raw iterator                                                             */
/* ------------------------------------------------------------------------ */

static PyObject *raw_status(sp_iter *i) {
  int st = strata_iter_status(i->it);
  if (st) return sp_db_raise(i->db, st);
  Py_RETURN_NONE;
}

static int need_valid(sp_iter *i) {
  if (check(i)) return -1;
  if (!strata_iter_valid(i->it)) {
    sp_db_raise_slot(i->db, SP_E_ITER_INVALID,
                     i->db->bytes_messages ? ""
                                           : "the raw iterator is not positioned on an entry "
                                             "(valid() is False)");
    return -1;
  }
  return 0;
}

static PyObject *raw_valid(PyObject *self, PyObject *unused) {
  (void)unused;
  sp_iter *i = (sp_iter *)self;
  if (check(i)) return NULL;
  return PyBool_FromLong(strata_iter_valid(i->it));
}

static PyObject *raw_seek_to_first(PyObject *self, PyObject *unused) {
  (void)unused;
  sp_iter *i = (sp_iter *)self;
  if (check(i) || before_move(i)) return NULL;
  move(i, OP_FIRST, NULL, 0);
  return raw_status(i);
}

static PyObject *raw_seek_to_last(PyObject *self, PyObject *unused) {
  (void)unused;
  sp_iter *i = (sp_iter *)self;
  if (check(i) || before_move(i)) return NULL;
  move(i, OP_LAST, NULL, 0);
  return raw_status(i);
}

static PyObject *raw_seek(PyObject *self, PyObject *target) {
  sp_iter *i = (sp_iter *)self;
  const char *t;
  Py_ssize_t tl;
  if (sp_key_arg(target, "target", &t, &tl) || check(i) || before_move(i)) return NULL;
  move(i, OP_SEEK, t, (size_t)tl);
  return raw_status(i);
}

static PyObject *raw_next(PyObject *self, PyObject *unused) {
  (void)unused;
  sp_iter *i = (sp_iter *)self;
  if (need_valid(i) || before_move(i)) return NULL;
  move(i, OP_NEXT, NULL, 0);
  return raw_status(i);
}

static PyObject *raw_prev(PyObject *self, PyObject *unused) {
  (void)unused;
  sp_iter *i = (sp_iter *)self;
  if (need_valid(i) || before_move(i)) return NULL;
  move(i, OP_PREV, NULL, 0);
  return raw_status(i);
}

static PyObject *raw_key(PyObject *self, PyObject *unused) {
  (void)unused;
  sp_iter *i = (sp_iter *)self;
  if (need_valid(i)) return NULL;
  return key_object(i, i->buffers);
}

static PyObject *raw_value(PyObject *self, PyObject *unused) {
  (void)unused;
  sp_iter *i = (sp_iter *)self;
  if (need_valid(i)) return NULL;
  return value_object(i);
}

static PyObject *raw_item(PyObject *self, PyObject *unused) {
  (void)unused;
  sp_iter *i = (sp_iter *)self;
  if (need_valid(i)) return NULL;
  PyObject *k = key_object(i, i->buffers);
  if (!k) return NULL;
  PyObject *v = value_object(i);
  if (!v) {
    Py_DECREF(k);
    return NULL;
  }
  PyObject *t = PyTuple_Pack(2, k, v);
  Py_DECREF(k);
  Py_DECREF(v);
  return t;
}

/* ------------------------------------------------------------------------ */
/* Life cycle                                                               */
/* ------------------------------------------------------------------------ */

/* Releases the engine iterator now (a buffer still exported elsewhere
 * takes it over, see pin.c). */
static void iter_close_impl(sp_iter *i) {
  strata_iter *it = i->it;
  i->it = NULL;
  sp_list_del(&i->link);
  int engine_ok = i->db->fork_gen == sp_fork_generation && i->db->db;
  release_key_views(i);
  if (i->val_pin) {
    /* a value still exported elsewhere takes the engine iterator over */
    sp_pin_detach(i->val_pin, engine_ok ? &it : NULL);
    PyErr_Clear();
  }
  Py_CLEAR(i->val_pin);
  if (it && engine_ok) {
    SP_ENGINE_BEGIN(i->db);
    strata_iter_destroy(it);
    SP_ENGINE_END();
  }
}

static void iter_invalidate(sp_child *c) { iter_close_impl((sp_iter *)SP_CHILD_OBJ(c)); }

static PyObject *iter_close(PyObject *self, PyObject *unused) {
  (void)unused;
  sp_iter *i = (sp_iter *)self;
  if (i->busy) {
    PyErr_SetString(PyExc_RuntimeError, "the iterator is being used by another thread");
    return NULL;
  }
  iter_close_impl(i);
  Py_RETURN_NONE;
}

static PyObject *iter_enter(PyObject *self, PyObject *unused) {
  (void)unused;
  Py_INCREF(self);
  return self;
}

static PyObject *iter_exit(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
  (void)args;
  (void)nargs;
  iter_close_impl((sp_iter *)self);
  Py_RETURN_FALSE;
}

static PyObject *iter_self(PyObject *self) {
  Py_INCREF(self);
  return self;
}

static int iter_contains(PyObject *self, PyObject *key) {
  (void)self;
  (void)key;
  PyErr_SetString(PyExc_TypeError, "__contains__ is not supported ('in' and 'not in' operators)");
  return -1;
}

static void iter_dealloc(PyObject *self) {
  sp_iter *i = (sp_iter *)self;
  PyObject *et, *ev, *tb;
  PyErr_Fetch(&et, &ev, &tb);
  if (i->weakreflist) PyObject_ClearWeakRefs(self);
  if (i->db) iter_close_impl(i);
  PyMem_RawFree(i->ra);
  i->ra = NULL;
  Py_CLEAR(i->start);
  Py_CLEAR(i->stop);
  Py_CLEAR(i->db_prefix);
  Py_CLEAR(i->owner_obj);
  Py_CLEAR(i->db);
  PyErr_Restore(et, ev, tb);
  Py_TYPE(self)->tp_free(self);
}

/* ------------------------------------------------------------------------ */
/* Creation                                                                 */
/* ------------------------------------------------------------------------ */

static const char *const it_names[] = {"reverse",       "start",         "stop",
                                       "include_start", "include_stop",  "prefix",
                                       "include_key",   "include_value", "verify_checksums",
                                       "fill_cache",    "buffers",       NULL};
static sp_kwlist it_kw = {"iterator", it_names, 0, 0, NULL};
static const char *const raw_names[] = {"verify_checksums", "fill_cache", "buffers", NULL};
static sp_kwlist raw_kw = {"raw_iterator", raw_names, 0, 0, NULL};

static int opt_bytes(PyObject *o, const char *name, PyObject **out) {
  *out = NULL;
  if (!o || o == Py_None) return 0;
  const char *p;
  Py_ssize_t n;
  if (sp_key_arg(o, name, &p, &n)) return -1;
  *out = o;
  return 0;
}

static PyObject *concat(PyObject *a, PyObject *b) {
  PyObject *r = PyBytes_FromStringAndSize(NULL, PyBytes_GET_SIZE(a) + PyBytes_GET_SIZE(b));
  if (!r) return NULL;
  memcpy(PyBytes_AS_STRING(r), PyBytes_AS_STRING(a), (size_t)PyBytes_GET_SIZE(a));
  memcpy(PyBytes_AS_STRING(r) + PyBytes_GET_SIZE(a), PyBytes_AS_STRING(b),
         (size_t)PyBytes_GET_SIZE(b));
  return r;
}

PyObject *sp_iter_create(sp_db *d, const sp_iter_source *src, PyObject *db_prefix, int raw,
                         PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames) {
  sp_snapshot *snap = src ? src->snap : NULL;
  strata_subdb *sdb = src ? src->sdb : NULL;
  sp_child *owner = (src && src->owner) ? src->owner : &d->children;
  PyObject *a[11] = {NULL};
  PyObject *const *ra = a;
  int reverse = 0, include_start = 1, include_stop = 0, include_key = 1, include_value = 1;
  int vc = 0, fc = 1, buffers = 0;
  PyObject *start = NULL, *stop = NULL, *prefix = NULL;
  if (raw) {
    PyObject *r[3];
    if (sp_parse_args(&raw_kw, args, nargs, kwnames, r)) return NULL;
    a[8] = r[0];
    a[9] = r[1];
    a[10] = r[2];
  } else if (args || kwnames) {
    if (sp_parse_args(&it_kw, args, nargs, kwnames, a)) return NULL;
  }
  (void)ra;
  if ((reverse = sp_flag(a[0], 0)) < 0 || opt_bytes(a[1], "start", &start) ||
      opt_bytes(a[2], "stop", &stop) || (include_start = sp_flag(a[3], 1)) < 0 ||
      (include_stop = sp_flag(a[4], 0)) < 0 || opt_bytes(a[5], "prefix", &prefix) ||
      (include_key = sp_flag(a[6], 1)) < 0 || (include_value = sp_flag(a[7], 1)) < 0 ||
      (vc = sp_flag(a[8], 0)) < 0 || (fc = sp_flag(a[9], 1)) < 0 ||
      (buffers = sp_flag(a[10], 0)) < 0)
    return NULL;
  if (snap && !snap->snap)
    return sp_db_raise_slot(d, SP_E_CLOSED, "Database or snapshot is closed");
  if (sp_db_check(d, CLOSED_MSG)) return NULL;

  /* Bounds (plyvel's rules): a PrefixedDB's prefix goes in front of
   * everything; prefix= is the range [prefix, successor(prefix)). */
  PyObject *s = NULL, *e = NULL;
  Py_XINCREF(start);
  Py_XINCREF(stop);
  Py_XINCREF(prefix);
  s = start;
  e = stop;
  if (db_prefix) {
    if (prefix) {
      Py_SETREF(prefix, concat(db_prefix, prefix));
      if (!prefix) goto fail;
    } else {
      if (!s) {
        Py_INCREF(db_prefix);
        s = db_prefix;
        include_start = 1;
      } else {
        Py_SETREF(s, concat(db_prefix, s));
        if (!s) goto fail;
      }
      if (!e) {
        e = sp_increment(db_prefix);
        if (!e) goto fail;
        if (e == Py_None) Py_CLEAR(e);
        include_stop = 0;
      } else {
        Py_SETREF(e, concat(db_prefix, e));
        if (!e) goto fail;
      }
    }
  }
  if (prefix) {
    if (s || e) {
      PyErr_SetString(PyExc_TypeError, "'prefix' cannot be used together with 'start' or 'stop'");
      goto fail;
    }
    s = prefix;
    prefix = NULL;
    e = sp_increment(s);
    if (!e) goto fail;
    if (e == Py_None) Py_CLEAR(e);
    include_start = 1;
    include_stop = 0;
  }

  sp_iter *i = PyObject_New(sp_iter, raw ? &sp_raw_iter_type : &sp_iter_type);
  if (!i) goto fail;
  memset((char *)i + offsetof(sp_iter, link), 0, sizeof *i - offsetof(sp_iter, link));
  Py_INCREF(d);
  i->db = d;
  i->start = raw ? NULL : s;
  i->stop = raw ? NULL : e;
  if (raw) {
    Py_XDECREF(s);
    Py_XDECREF(e);
  }
  s = e = NULL;
  if (!raw && db_prefix) {
    Py_INCREF(db_prefix);
    i->db_prefix = db_prefix;
    i->db_prefix_len = PyBytes_GET_SIZE(db_prefix);
  }
  i->include_start = (char)include_start;
  i->include_stop = (char)include_stop;
  i->include_key = (char)include_key;
  i->include_value = (char)include_value;
  i->reverse = (char)reverse;
  i->buffers = (char)buffers;
  i->state = reverse ? AFTER_STOP : BEFORE_START;
  i->ra_ok = (char)(!raw && !buffers && !d->py_cmp);
  i->ra_batch = 4;
  strata_read_options ro;
  strata_read_options_init(&ro);
  ro.verify_checksums = vc;
  ro.fill_cache = fc;
  ro.snapshot = snap ? snap->snap : NULL;
  int rc;
  strata_iter *it = NULL;
#ifdef SP_HAVE_TXN
  sp_txn *txn = src ? src->txn : NULL;
  if (txn && sp_txn_is_write(txn)) {
    /* a write transaction's own iterator (it sees the transaction's
     * writes): no read-ahead (a write between steps must be seen), and
     * buffers are copies (its writes may move under a view) */
    i->ra_ok = 0;
    i->copy_values = (char)buffers;
    SP_ENGINE_BEGIN(d);
    rc = strata_txn_iter_create(sp_txn_handle(txn), sdb, &ro, &it);
    SP_ENGINE_END();
  } else {
    /* a read transaction is its snapshot */
    if (txn) ro.snapshot = strata_txn_snapshot(sp_txn_handle(txn));
    SP_ENGINE_BEGIN(d);
    rc = sp_iter_create_in(d->db, sdb, &ro, &it);
    SP_ENGINE_END();
  }
  if (txn) {
    Py_INCREF(txn);
    i->owner_obj = (PyObject *)txn;
  }
#else
  SP_ENGINE_BEGIN(d);
  rc = sp_iter_create_in(d->db, sdb, &ro, &it);
  SP_ENGINE_END();
#endif
  if (rc) {
    Py_DECREF(i);
    return sp_db_raise(d, rc);
  }
  i->it = it;
  i->link.invalidate = iter_invalidate;
  sp_list_add(owner, &i->link);
  return (PyObject *)i;
fail:
  Py_XDECREF(s);
  Py_XDECREF(e);
  Py_XDECREF(prefix);
  return NULL;
}

int sp_iter_set_typed(PyObject *it, Py_ssize_t strip) {
  if (Py_TYPE(it) != &sp_iter_type) {
    PyErr_SetString(PyExc_TypeError, "expected a strata Iterator");
    return -1;
  }
  sp_iter *i = (sp_iter *)it;
  if (i->buffers || i->db_prefix || i->state != (i->reverse ? AFTER_STOP : BEFORE_START) ||
      i->ra_dir) {
    PyErr_SetString(PyExc_ValueError, "a typed iterator must be fresh, without buffers or prefix");
    return -1;
  }
  i->typed = 1;
  i->db_prefix_len = strip;
  return 0;
}

#include "docs.h"

static PyMethodDef base_methods[] = {
    {"close", iter_close, METH_NOARGS, DOC_ITER_CLOSE},
    {"__enter__", iter_enter, METH_NOARGS, "Returns the iterator itself."},
    {"__exit__", (PyCFunction)(void (*)(void))iter_exit, METH_FASTCALL,
     "Closes the iterator; exceptions propagate."},
    {NULL, NULL, 0, NULL}};

static PyMethodDef iter_methods[] = {
    {"prev", iter_prev, METH_NOARGS, DOC_ITER_PREV},
    {"seek", iter_seek, METH_O, DOC_ITER_SEEK},
    {"seek_to_start", iter_seek_to_start, METH_NOARGS, DOC_ITER_SEEK_TO_START},
    {"seek_to_stop", iter_seek_to_stop, METH_NOARGS, DOC_ITER_SEEK_TO_STOP},
    {NULL, NULL, 0, NULL}};

static PyMethodDef raw_methods[] = {
    {"valid", raw_valid, METH_NOARGS, DOC_RAW_VALID},
    {"seek_to_first", raw_seek_to_first, METH_NOARGS, DOC_RAW_SEEK_TO_FIRST},
    {"seek_to_last", raw_seek_to_last, METH_NOARGS, DOC_RAW_SEEK_TO_LAST},
    {"seek", raw_seek, METH_O, DOC_RAW_SEEK},
    {"next", raw_next, METH_NOARGS, DOC_RAW_NEXT},
    {"prev", raw_prev, METH_NOARGS, DOC_RAW_PREV},
    {"key", raw_key, METH_NOARGS, DOC_RAW_KEY},
    {"value", raw_value, METH_NOARGS, DOC_RAW_VALUE},
    {"item", raw_item, METH_NOARGS, DOC_RAW_ITEM},
    {NULL, NULL, 0, NULL}};

static PySequenceMethods iter_as_sequence = {.sq_contains = iter_contains};

PyTypeObject sp_base_iter_type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "strata._strata.BaseIterator",
    .tp_basicsize = sizeof(sp_iter),
    .tp_dealloc = iter_dealloc,
    .tp_as_sequence = &iter_as_sequence,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .tp_doc = DOC_BASE_ITER,
    .tp_weaklistoffset = offsetof(sp_iter, weakreflist),
    .tp_methods = base_methods,
};

PyTypeObject sp_iter_type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "strata._strata.Iterator",
    .tp_basicsize = sizeof(sp_iter),
    .tp_dealloc = iter_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = DOC_ITER,
    .tp_iter = iter_self,
    .tp_iternext = iter_iternext,
    .tp_methods = iter_methods,
    .tp_base = &sp_base_iter_type,
};

PyTypeObject sp_raw_iter_type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "strata._strata.RawIterator",
    .tp_basicsize = sizeof(sp_iter),
    .tp_dealloc = iter_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = DOC_RAW_ITER,
    .tp_methods = raw_methods,
    .tp_base = &sp_base_iter_type,
};
