/* buf.c - growable byte buffer (see buf.h). */
#include "util/buf.h"

#include <stdlib.h>

#include "util/error.h"

void strata_buf_free(strata_buf *b) {
  if (!b) return;
  free(b->data);
  b->data = NULL;
  b->size = b->cap = 0;
}

void st_buf_free(st_buf *b) { strata_buf_free(b); }

int st_buf_reserve_slow(st_buf *b, size_t extra) {
  size_t need = b->size + extra;
  if (need < b->size) return st_err(STRATA_ENOMEM, "buffer size overflow");
  size_t cap = b->cap ? b->cap : 64;
  while (cap < need) {
    size_t next = cap * 2;
    if (next < cap) {
      cap = need;
      break;
    }
    cap = next;
  }
  char *p = realloc(b->data, cap);
  if (!p) return st_err(STRATA_ENOMEM, "cannot grow buffer to %zu bytes", cap);
  b->data = p;
  b->cap = cap;
  return 0;
}
