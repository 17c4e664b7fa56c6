/*
 * reply.c - reply chunks and the RESP2/RESP3 encoders (see reply.h).
 */
#include "reply.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "strutil.h"

/* A bulk this large gets a chunk of its own instead of being split over
 * 16 KiB chunks. */
#define SV_BIG_BULK (64 * 1024)

void sv_reply_init(sv_reply *r, int resp) {
  memset(r, 0, sizeof *r);
  r->resp = resp;
}

void sv_reply_free(sv_reply *r) {
  sv_chunk *c = r->head;
  while (c) {
    sv_chunk *n = c->next;
    free(c);
    c = n;
  }
  r->head = r->tail = NULL;
  r->pending = 0;
}

void sv_reply_move(sv_reply *dst, sv_reply *src) {
  if (!src->head) return;
  if (dst->tail)
    dst->tail->next = src->head;
  else
    dst->head = src->head;
  dst->tail = src->tail;
  dst->pending += src->pending;
  dst->oom |= src->oom;
  dst->errors += src->errors;
  src->head = src->tail = NULL;
  src->pending = 0;
  src->oom = 0;
  src->errors = 0;
}

static sv_chunk *new_chunk(sv_reply *r, size_t cap) {
  sv_chunk *c = malloc(sizeof *c + cap);
  if (!c) {
    r->oom = 1;
    return NULL;
  }
  c->next = NULL;
  c->len = 0;
  c->cap = cap;
  c->sent = 0;
  if (r->tail)
    r->tail->next = c;
  else
    r->head = c;
  r->tail = c;
  return c;
}

/* Room for n contiguous bytes at the end of the buffer; NULL when out of
 * memory. The caller must then add exactly the bytes it writes with
 * commit(). */
static char *reserve(sv_reply *r, size_t n) {
  sv_chunk *t = r->tail;
  if (!t || t->cap - t->len < n) {
    t = new_chunk(r, n > SV_CHUNK_SIZE ? n : SV_CHUNK_SIZE);
    if (!t) return NULL;
  }
  return t->data + t->len;
}

static void commit(sv_reply *r, size_t n) {
  r->tail->len += n;
  r->pending += n;
}

void sv_reply_raw(sv_reply *r, const char *s, size_t n) {
  if (n == 0) return;
  sv_chunk *t = r->tail;
  if (t && t->cap - t->len >= n) {
    memcpy(t->data + t->len, s, n);
    commit(r, n);
    return;
  }
  /* Fill the tail, then put the rest in a new chunk. */
  if (t && t->cap > t->len && n < SV_BIG_BULK) {
    size_t k = t->cap - t->len;
    memcpy(t->data + t->len, s, k);
    commit(r, k);
    s += k;
    n -= k;
  }
  t = new_chunk(r, n > SV_CHUNK_SIZE ? n : SV_CHUNK_SIZE);
  if (!t) return;
  memcpy(t->data, s, n);
  commit(r, n);
}

/* "<prefix><v>\r\n" */
static void line_ll(sv_reply *r, char prefix, long long v) {
  char *p = reserve(r, SV_LONG_STR_SIZE + 3);
  if (!p) return;
  size_t n = 0;
  p[n++] = prefix;
  n += (size_t)sv_ll2str(p + n, v);
  p[n++] = '\r';
  p[n++] = '\n';
  commit(r, n);
}

void sv_reply_ok(sv_reply *r) { sv_reply_raw(r, "+OK\r\n", 5); }

void sv_reply_status(sv_reply *r, const char *s) {
  sv_reply_raw(r, "+", 1);
  sv_reply_raw(r, s, strlen(s));
  sv_reply_raw(r, "\r\n", 2);
}

void sv_reply_int(sv_reply *r, long long v) {
  if (v == 0) {
    sv_reply_raw(r, ":0\r\n", 4);
  } else if (v == 1) {
    sv_reply_raw(r, ":1\r\n", 4);
  } else {
    line_ll(r, ':', v);
  }
}

void sv_reply_bulk(sv_reply *r, const void *s, size_t n) {
  if (n < SV_BIG_BULK) {
    char *p = reserve(r, n + SV_LONG_STR_SIZE + 5);
    if (!p) return;
    size_t k = 0;
    p[k++] = '$';
    k += (size_t)sv_ll2str(p + k, (long long)n);
    p[k++] = '\r';
    p[k++] = '\n';
    if (n) memcpy(p + k, s, n);
    k += n;
    p[k++] = '\r';
    p[k++] = '\n';
    commit(r, k);
    return;
  }
  line_ll(r, '$', (long long)n);
  sv_reply_raw(r, s, n);
  sv_reply_raw(r, "\r\n", 2);
}

void sv_reply_bulk_cstr(sv_reply *r, const char *s) { sv_reply_bulk(r, s, strlen(s)); }

void sv_reply_bulk_ll(sv_reply *r, long long v) {
  char buf[SV_LONG_STR_SIZE];
  int n = sv_ll2str(buf, v);
  sv_reply_bulk(r, buf, (size_t)n);
}

void sv_reply_null(sv_reply *r) {
  if (r->resp >= 3)
    sv_reply_raw(r, "_\r\n", 3);
  else
    sv_reply_raw(r, "$-1\r\n", 5);
}

void sv_reply_null_array(sv_reply *r) {
  if (r->resp >= 3)
    sv_reply_raw(r, "_\r\n", 3);
  else
    sv_reply_raw(r, "*-1\r\n", 5);
}

void sv_reply_array(sv_reply *r, long long n) { line_ll(r, '*', n); }

void sv_reply_map(sv_reply *r, long long n) {
  if (r->resp >= 3)
    line_ll(r, '%', n);
  else
    line_ll(r, '*', 2 * n);
}

void sv_reply_set(sv_reply *r, long long n) { line_ll(r, r->resp >= 3 ? '~' : '*', n); }

void sv_reply_bool(sv_reply *r, int v) {
  if (r->resp >= 3)
    sv_reply_raw(r, v ? "#t\r\n" : "#f\r\n", 4);
  else
    sv_reply_int(r, v ? 1 : 0);
}

void sv_reply_double(sv_reply *r, double v) {
  char buf[64];
  int n = snprintf(buf, sizeof buf, "%.17g", v);
  if (r->resp >= 3) {
    sv_reply_raw(r, ",", 1);
    sv_reply_raw(r, buf, (size_t)n);
    sv_reply_raw(r, "\r\n", 2);
  } else {
    sv_reply_bulk(r, buf, (size_t)n);
  }
}

void sv_reply_verbatim(sv_reply *r, const char *s, size_t n) {
  if (r->resp < 3) {
    sv_reply_bulk(r, s, n);
    return;
  }
  line_ll(r, '=', (long long)n + 4);
  sv_reply_raw(r, "txt:", 4);
  sv_reply_raw(r, s, n);
  sv_reply_raw(r, "\r\n", 2);
}

void sv_reply_error(sv_reply *r, const char *msg) {
  size_t n = strlen(msg);
  if (n == 0 || msg[0] != '-') sv_reply_raw(r, "-ERR ", 5);
  sv_reply_raw(r, msg, n);
  sv_reply_raw(r, "\r\n", 2);
  r->errors++;
}

void sv_reply_errorf(sv_reply *r, const char *fmt, ...) {
  char buf[1024];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  if (n < 0) n = 0;
  if ((size_t)n >= sizeof buf) n = (int)sizeof buf - 1;
  /* As redis-server: trim CR/LF at both ends, then map the others to spaces. */
  char *s = buf;
  while (*s == '\r' || *s == '\n')
    s++, n--;
  while (n > 0 && (s[n - 1] == '\r' || s[n - 1] == '\n'))
    n--;
  s[n] = '\0';
  for (int i = 0; i < n; i++)
    if (s[i] == '\r' || s[i] == '\n') s[i] = ' ';
  sv_reply_error(r, s);
}

void sv_reply_arity_error(sv_reply *r, const char *name) {
  sv_reply_errorf(r, "wrong number of arguments for '%s' command", name);
}

sv_reply_deferred sv_reply_defer(sv_reply *r) {
  sv_chunk *c = new_chunk(r, SV_LONG_STR_SIZE + 3);
  if (!c) return NULL;
  c->cap = 0; /* nothing is appended after a deferred length in its chunk */
  return c;
}

static void set_deferred(sv_reply *r, sv_reply_deferred d, char prefix, long long n) {
  if (!d) return;
  size_t k = 0;
  d->data[k++] = prefix;
  k += (size_t)sv_ll2str(d->data + k, n);
  d->data[k++] = '\r';
  d->data[k++] = '\n';
  d->len = k;
  r->pending += k;
}

void sv_reply_set_array(sv_reply *r, sv_reply_deferred d, long long n) {
  set_deferred(r, d, '*', n);
}

void sv_reply_set_map(sv_reply *r, sv_reply_deferred d, long long n) {
  if (r->resp >= 3)
    set_deferred(r, d, '%', n);
  else
    set_deferred(r, d, '*', 2 * n);
}

void sv_reply_consume(sv_reply *r, size_t n) {
  r->pending -= n;
  while (n && r->head) {
    sv_chunk *c = r->head;
    size_t avail = c->len - c->sent;
    if (n < avail) {
      c->sent += n;
      return;
    }
    n -= avail;
    r->head = c->next;
    if (!r->head) r->tail = NULL;
    free(c);
  }
  /* Drop fully sent empty chunks left at the head (deferred placeholders
   * are filled before a reply is sent, so none is empty and unsent). */
  while (r->head && r->head->len == r->head->sent && r->head != r->tail) {
    sv_chunk *c = r->head;
    r->head = c->next;
    free(c);
  }
}
