/* iterator.c - cleanup registration and the empty/error iterator. */
#include "table/iterator.h"

#include <assert.h>
#include <stdlib.h>

#include "util/error.h"

void st_iter_on_destroy(st_iter *it, st_cleanup_fn fn, void *a1, void *a2) {
  int i = it->cleanup[0] ? 1 : 0;
  assert(it->cleanup[i] == NULL);
  it->cleanup[i] = fn;
  it->cleanup_arg[i][0] = a1;
  it->cleanup_arg[i][1] = a2;
}

void st_iter_destroy(st_iter *it) {
  if (!it) return;
  for (int i = 0; i < 2; i++)
    if (it->cleanup[i]) it->cleanup[i](it->cleanup_arg[i][0], it->cleanup_arg[i][1]);
  it->ops->destroy(it);
}

typedef struct empty_iter {
  st_iter base;
  st_error err;
} empty_iter;

static int e_valid(const st_iter *it) {
  (void)it;
  return 0;
}
static void e_noop(st_iter *it) { (void)it; }
static void e_seek(st_iter *it, st_slice t) {
  (void)it;
  (void)t;
}
static st_slice e_none(const st_iter *it) {
  (void)it;
  return st_slice_make("", 0);
}
static int e_status(const st_iter *it) {
  const empty_iter *e = (const empty_iter *)it;
  return e->err.code ? st_error_raise(&e->err) : 0;
}
static void e_destroy(st_iter *it) { free(it); }

static const st_iter_ops empty_ops = {e_valid, e_noop, e_noop,   e_seek,    e_noop, e_noop,
                                      e_none,  e_none, e_status, e_destroy, NULL};

st_iter *st_iter_empty(int code) {
  empty_iter *e = malloc(sizeof *e);
  if (!e) return NULL;
  st_iter_init(&e->base, &empty_ops);
  if (code)
    st_error_capture(&e->err, code);
  else
    e->err.code = 0;
  return &e->base;
}
