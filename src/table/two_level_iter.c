/* two_level_iter.c - iterator over an index of blocks (see two_level_iter.h).
 */
#include "table/two_level_iter.h"

#include <assert.h>
#include <stdlib.h>

#include "util/buf.h"
#include "util/error.h"

typedef struct two_level_iter {
  st_iter base;
  st_iter *index;
  st_block_fn block_fn;
  void *arg;
  st_iter *data;          /* over the block of the current index entry; or NULL */
  st_buf data_handle;     /* the index value `data` was opened for */
  st_error err;           /* first error met in a data block (err.code == 0:
                             none); once set the iterator stays invalid */
  st_stored_fn stored_fn; /* or NULL */
} two_level_iter;

static void set_data(two_level_iter *it, st_iter *data) {
  st_iter_destroy(it->data);
  it->data = data;
}

/* Records an error (message already set) and stops the iterator. */
static void fail(two_level_iter *it, int code) {
  if (!it->err.code) st_error_capture(&it->err, code);
  set_data(it, NULL);
}

/* Opens the data iterator for the current index entry, reusing the open one
 * when it already is for that block (a seek within the same block). */
static void init_data(two_level_iter *it) {
  if (!st_iter_valid(it->index)) {
    set_data(it, NULL);
    return;
  }
  st_slice handle = st_iter_value(it->index);
  if (it->data && st_slice_eq(handle, st_buf_slice(&it->data_handle))) return;
  if (st_buf_set(&it->data_handle, handle.data, handle.size)) {
    fail(it, STRATA_ENOMEM);
    return;
  }
  st_iter *d = it->block_fn(it->arg, handle);
  if (!d) {
    it->data_handle.size = 0;
    fail(it, st_err(STRATA_ENOMEM, "opening a block iterator"));
    return;
  }
  set_data(it, d);
}

/* After the data iterator ran off its block: stop on an error, else
 * report whether the next block should be tried. */
static int data_exhausted_ok(two_level_iter *it) {
  if (it->err.code) return 0;
  if (it->data) {
    int rc = st_iter_status(it->data);
    if (rc) {
      fail(it, rc);
      return 0;
    }
  }
  return 1;
}

/* Moves forward over empty blocks to the first entry of the next non-empty
 * one; an error stops the scan rather than silently skipping a block. */
static void skip_forward(two_level_iter *it) {
  while (!it->data || !st_iter_valid(it->data)) {
    if (!data_exhausted_ok(it)) return;
    if (!st_iter_valid(it->index)) {
      set_data(it, NULL);
      return;
    }
    st_iter_next(it->index);
    init_data(it);
    if (it->data) st_iter_seek_to_first(it->data);
  }
}

static void skip_backward(two_level_iter *it) {
  while (!it->data || !st_iter_valid(it->data)) {
    if (!data_exhausted_ok(it)) return;
    if (!st_iter_valid(it->index)) {
      set_data(it, NULL);
      return;
    }
    st_iter_prev(it->index);
    init_data(it);
    if (it->data) st_iter_seek_to_last(it->data);
  }
}

static int tl_valid(const st_iter *base) {
  const two_level_iter *it = (const two_level_iter *)base;
  return it->data != NULL && st_iter_valid(it->data);
}

static void tl_seek(st_iter *base, st_slice target) {
  two_level_iter *it = (two_level_iter *)base;
  if (it->err.code) return;
  st_iter_seek(it->index, target);
  init_data(it);
  if (it->data) st_iter_seek(it->data, target);
  skip_forward(it);
}

static void tl_seek_to_first(st_iter *base) {
  two_level_iter *it = (two_level_iter *)base;
  if (it->err.code) return;
  st_iter_seek_to_first(it->index);
  init_data(it);
  if (it->data) st_iter_seek_to_first(it->data);
  skip_forward(it);
}

static void tl_seek_to_last(st_iter *base) {
  two_level_iter *it = (two_level_iter *)base;
  if (it->err.code) return;
  st_iter_seek_to_last(it->index);
  init_data(it);
  if (it->data) st_iter_seek_to_last(it->data);
  skip_backward(it);
}

static void tl_next(st_iter *base) {
  two_level_iter *it = (two_level_iter *)base;
  assert(tl_valid(base));
  st_iter_next(it->data);
  skip_forward(it);
}

static void tl_prev(st_iter *base) {
  two_level_iter *it = (two_level_iter *)base;
  assert(tl_valid(base));
  st_iter_prev(it->data);
  skip_backward(it);
}

static st_slice tl_key(const st_iter *base) {
  const two_level_iter *it = (const two_level_iter *)base;
  return st_iter_key(it->data);
}

static st_slice tl_value(const st_iter *base) {
  const two_level_iter *it = (const two_level_iter *)base;
  return st_iter_value(it->data);
}

static int tl_status(const st_iter *base) {
  const two_level_iter *it = (const two_level_iter *)base;
  if (it->err.code) return st_error_raise(&it->err);
  int rc = st_iter_status(it->index);
  if (!rc && it->data) rc = st_iter_status(it->data);
  return rc;
}

/* The data iterator's answer, with the stored block filled in by
 * stored_fn (a table's) when the entry is alone in its block. */
static int tl_stored(const st_iter *base, st_stored_entry *out) {
  const two_level_iter *it = (const two_level_iter *)base;
  if (!it->data || !st_iter_stored(it->data, out)) return 0;
  if (out->lone && out->stored.size == 0 && it->stored_fn)
    return it->stored_fn(it->arg, st_buf_slice(&it->data_handle), &out->stored);
  return 1;
}

static void tl_destroy(st_iter *base) {
  two_level_iter *it = (two_level_iter *)base;
  st_iter_destroy(it->data);
  st_iter_destroy(it->index);
  st_buf_free(&it->data_handle);
  free(it);
}

static const st_iter_ops two_level_ops = {tl_valid,  tl_seek_to_first, tl_seek_to_last, tl_seek,
                                          tl_next,   tl_prev,          tl_key,          tl_value,
                                          tl_status, tl_destroy,       tl_stored};

st_iter *st_two_level_iter_new(st_iter *index_iter, st_block_fn block_fn, void *arg) {
  two_level_iter *it = malloc(sizeof *it);
  if (!it) {
    st_iter_destroy(index_iter);
    return NULL;
  }
  st_iter_init(&it->base, &two_level_ops);
  it->index = index_iter;
  it->block_fn = block_fn;
  it->arg = arg;
  it->data = NULL;
  it->data_handle = (st_buf)ST_BUF_INIT;
  it->err.code = 0;
  it->err.msg[0] = '\0';
  it->stored_fn = NULL;
  return &it->base;
}

void st_two_level_iter_set_stored_fn(st_iter *two_level, st_stored_fn fn) {
  ((two_level_iter *)two_level)->stored_fn = fn;
}
