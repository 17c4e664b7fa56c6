/*
 * resp.c - the RESP request parser: a state machine over the query buffer.
 *
 * The grammar, as redis-server 7.0 accepts it (networking.c,
 * processMultibulkBuffer and processInlineBuffer; sds.c, sdssplitargs):
 *
 *   request   := multibulk | inline
 *   multibulk := '*' count CR ANY bulk{count}    ; count <= 0: no arguments
 *   bulk      := '$' length CR ANY data ANY ANY  ; data is length bytes
 *   count     := integer, <= INT_MAX            (<= 10 before authentication)
 *   length    := integer, 0 <= length <= proto-max-bulk-len
 *                                               (<= 16384 before authentication)
 *   integer   := '0' | ['-'] [1-9] [0-9]*, at most 20 characters, no '+',
 *                no spaces, no leading zeros, fits a signed 64-bit integer
 *   inline    := any byte but '*' first, up to LF; a CR before the LF is
 *                dropped; the line is split into arguments by sdssplitargs's
 *                rules (below); an empty line has no arguments
 *
 * "ANY" is redis-server's leniency, kept so both servers agree byte for byte:
 * it looks for the CR that ends a count or length line and then skips two
 * bytes without checking that the second is LF, and it skips the two bytes
 * after bulk data without checking that they are CR LF. Like redis-server's
 * strchr(), the search for CR (multibulk) or LF (inline) stops at a NUL
 * byte: a line with a NUL before its end is never complete.
 *
 * Lines are bounded: when the count line, a length line or an inline line
 * has no end yet and more than 64 KiB (SV_RESP_INLINE_MAX) are waiting, the
 * request is a protocol error. Errors, each closing the connection:
 *
 *   invalid multibulk length          count not an integer or > INT_MAX
 *   unauthenticated multibulk length  count > 10 before AUTH
 *   too big mbulk count string        no CR within 64 KiB after '*'
 *   expected '$', got 'X'             a bulk does not start with '$'
 *   invalid bulk length               length not an integer, < 0 or
 *                                     > proto-max-bulk-len
 *   unauthenticated bulk length       length > 16384 before AUTH
 *   too big bulk count string         no CR within 64 KiB after '$'
 *   too big inline request            no LF within 64 KiB of an inline line
 *   unbalanced quotes in request      inline quoting broken (below)
 *
 * Inline arguments (sdssplitargs): blanks (isspace) separate arguments; an
 * unquoted argument ends at space, tab, CR, LF or NUL. "..." may hold
 * \xHH (two hex digits), \n \r \t \b \a, and \c for any other c; '...' may
 * hold \' ; a closing quote must be followed by a blank or the end of the
 * line, and a quote left open is an error. A quote may start in the middle
 * of an argument ("ab"c is not allowed, a"bc" is the argument abc).
 */
#include "resp.h"

#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "strutil.h"

enum {
  SV_RESP_S_START = 0, /* at the first byte of a request */
  SV_RESP_S_COUNT,     /* reading the '*' count line */
  SV_RESP_S_BULK_LEN,  /* reading a '$' length line */
  SV_RESP_S_BULK_DATA  /* waiting for length + 2 bytes of data */
};

void sv_resp_init(sv_resp_parser *p) {
  memset(p, 0, sizeof *p);
  p->bulk_len = -1;
}

void sv_resp_free(sv_resp_parser *p) {
  free(p->args);
  free(p->scratch);
  sv_resp_init(p);
}

void sv_resp_reset(sv_resp_parser *p) {
  p->state = SV_RESP_S_START;
  p->is_inline = 0;
  p->cursor = 0;
  p->mb_left = 0;
  p->bulk_len = -1;
  p->argc = 0;
  p->err[0] = '\0';
}

/* The first occurrence of c in buf[from, len), stopping at a NUL byte as
 * strchr() does on redis-server's NUL-terminated query buffer. */
static const char *find_line_end(const char *buf, size_t from, size_t len, char c) {
  if (from >= len) return NULL;
  const char *s = buf + from;
  size_t n = len - from;
  const char *hit = memchr(s, c, n);
  size_t upto = hit ? (size_t)(hit - s) : n;
  if (memchr(s, '\0', upto)) return NULL;
  return hit;
}

/* Sets the protocol error; \r and \n in it become spaces (redis-server's
 * addReplyErrorFormat does the same so the reply stays one line). */
static int fail(sv_resp_parser *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#include <stdarg.h>
static int fail(sv_resp_parser *p, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(p->err, sizeof p->err, fmt, ap);
  va_end(ap);
  for (char *s = p->err; *s; s++)
    if (*s == '\r' || *s == '\n') *s = ' ';
  return SV_RESP_ERROR;
}

static int push_arg(sv_resp_parser *p, size_t off, size_t len) {
  if (p->argc == p->argv_cap) {
    int cap = p->argv_cap ? p->argv_cap * 2 : 8;
    sv_resp_arg *a = realloc(p->args, (size_t)cap * sizeof *a);
    if (!a) return -1;
    p->args = a;
    p->argv_cap = cap;
  }
  p->args[p->argc].off = off;
  p->args[p->argc].len = len;
  p->argc++;
  return 0;
}

static int hexval(int c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* Splits line[0, n) (no NUL inside) into arguments written to p->scratch.
 * Returns 0, -1 on unbalanced quotes, -2 when out of memory. */
static int split_inline(sv_resp_parser *p, const char *line, size_t n) {
  /* Every argument is at most as long as its source, plus its NUL; there
   * are at most n / 2 + 1 arguments. */
  size_t need = 2 * n + 2;
  if (need > p->scratch_cap) {
    char *s = realloc(p->scratch, need);
    if (!s) return -2;
    p->scratch = s;
    p->scratch_cap = need;
  }
  char *out = p->scratch;
  size_t o = 0, i = 0;
  /* Reads past the end see NUL, as sdssplitargs does on its C string. */
#define AT(k) ((k) < n ? (unsigned char)line[k] : 0)
  for (;;) {
    while (i < n && isspace(AT(i)))
      i++;
    if (i >= n) return 0;
    size_t start = o;
    int inq = 0, insq = 0, done = 0;
    while (!done) {
      int ch = AT(i);
      if (inq) {
        if (ch == '\\' && AT(i + 1) == 'x' && hexval(AT(i + 2)) >= 0 && hexval(AT(i + 3)) >= 0) {
          out[o++] = (char)(hexval(AT(i + 2)) * 16 + hexval(AT(i + 3)));
          i += 3;
        } else if (ch == '\\' && AT(i + 1)) {
          i++;
          int e = AT(i);
          switch (e) {
          case 'n': e = '\n'; break;
          case 'r': e = '\r'; break;
          case 't': e = '\t'; break;
          case 'b': e = '\b'; break;
          case 'a': e = '\a'; break;
          default: break;
          }
          out[o++] = (char)e;
        } else if (ch == '"') {
          if (AT(i + 1) && !isspace(AT(i + 1))) return -1;
          done = 1;
        } else if (!ch) {
          return -1;
        } else {
          out[o++] = (char)ch;
        }
      } else if (insq) {
        if (ch == '\\' && AT(i + 1) == '\'') {
          i++;
          out[o++] = '\'';
        } else if (ch == '\'') {
          if (AT(i + 1) && !isspace(AT(i + 1))) return -1;
          done = 1;
        } else if (!ch) {
          return -1;
        } else {
          out[o++] = (char)ch;
        }
      } else {
        switch (ch) {
        case ' ':
        case '\n':
        case '\r':
        case '\t':
        case '\0': done = 1; break;
        case '"': inq = 1; break;
        case '\'': insq = 1; break;
        default: out[o++] = (char)ch; break;
        }
      }
      if (AT(i)) i++;
    }
#undef AT
    out[o++] = '\0';
    if (push_arg(p, start, o - 1 - start)) return -2;
  }
}

static int parse_inline(sv_resp_parser *p, char *buf, size_t len, size_t *consumed) {
  const char *nl = find_line_end(buf, 0, len, '\n');
  if (!nl) {
    if (len > SV_RESP_INLINE_MAX) return fail(p, "Protocol error: too big inline request");
    return SV_RESP_MORE;
  }
  size_t linefeed = 1;
  size_t qlen = (size_t)(nl - buf);
  if (qlen > 0 && buf[qlen - 1] == '\r') {
    qlen--;
    linefeed++;
  }
  p->argc = 0;
  int rc = split_inline(p, buf, qlen);
  if (rc == -2) return SV_RESP_NOMEM;
  if (rc == -1) return fail(p, "Protocol error: unbalanced quotes in request");
  *consumed = qlen + linefeed;
  p->is_inline = 1;
  p->state = SV_RESP_S_START;
  return SV_RESP_REQUEST;
}

int sv_resp_parse(sv_resp_parser *p, char *buf, size_t len, const sv_resp_limits *lim,
                  size_t *consumed) {
  *consumed = 0;
  if (p->state == SV_RESP_S_START) {
    if (len == 0) return SV_RESP_MORE;
    p->argc = 0;
    p->is_inline = 0;
    p->cursor = 0;
    if (buf[0] != '*') return parse_inline(p, buf, len, consumed);
    p->state = SV_RESP_S_COUNT;
  }

  if (p->state == SV_RESP_S_COUNT) {
    const char *cr = find_line_end(buf, 0, len, '\r');
    if (!cr) {
      if (len > SV_RESP_INLINE_MAX) return fail(p, "Protocol error: too big mbulk count string");
      return SV_RESP_MORE;
    }
    size_t crpos = (size_t)(cr - buf);
    if (crpos + 2 > len) return SV_RESP_MORE; /* the byte after CR */
    long long ll;
    if (!sv_str2ll(buf + 1, crpos - 1, &ll) || ll > INT_MAX)
      return fail(p, "Protocol error: invalid multibulk length");
    if (ll > SV_RESP_UNAUTH_MAX_ARGS && lim->unauth)
      return fail(p, "Protocol error: unauthenticated multibulk length");
    p->cursor = crpos + 2;
    if (ll <= 0) {
      *consumed = p->cursor;
      p->state = SV_RESP_S_START;
      return SV_RESP_REQUEST;
    }
    p->mb_left = ll;
    p->bulk_len = -1;
    /* The vector grows with the arguments that arrive, from at most 1024
     * slots (redis-server's bound too), whatever the count announced. */
    int want = ll < 1024 ? (int)ll : 1024;
    if (want > p->argv_cap) {
      sv_resp_arg *a = realloc(p->args, (size_t)want * sizeof *a);
      if (!a) return SV_RESP_NOMEM;
      p->args = a;
      p->argv_cap = want;
    }
    p->state = SV_RESP_S_BULK_LEN;
  }

  while (p->mb_left > 0) {
    if (p->state == SV_RESP_S_BULK_LEN) {
      const char *cr = find_line_end(buf, p->cursor, len, '\r');
      if (!cr) {
        if (len - p->cursor > SV_RESP_INLINE_MAX)
          return fail(p, "Protocol error: too big bulk count string");
        return SV_RESP_MORE;
      }
      size_t crpos = (size_t)(cr - buf);
      if (crpos + 2 > len) return SV_RESP_MORE;
      if (buf[p->cursor] != '$')
        return fail(p, "Protocol error: expected '$', got '%c'", buf[p->cursor]);
      long long ll;
      if (!sv_str2ll(buf + p->cursor + 1, crpos - p->cursor - 1, &ll) || ll < 0 ||
          ll > lim->max_bulk)
        return fail(p, "Protocol error: invalid bulk length");
      if (ll > SV_RESP_UNAUTH_MAX_BULK && lim->unauth)
        return fail(p, "Protocol error: unauthenticated bulk length");
      p->cursor = crpos + 2;
      p->bulk_len = ll;
      p->state = SV_RESP_S_BULK_DATA;
    }
    /* SV_RESP_S_BULK_DATA */
    if (len - p->cursor < (size_t)p->bulk_len + 2) return SV_RESP_MORE;
    if (push_arg(p, p->cursor, (size_t)p->bulk_len)) return SV_RESP_NOMEM;
    /* The first byte after the data is never checked: it becomes the
     * argument's terminating NUL. */
    buf[p->cursor + (size_t)p->bulk_len] = '\0';
    p->cursor += (size_t)p->bulk_len + 2;
    p->bulk_len = -1;
    p->mb_left--;
    p->state = SV_RESP_S_BULK_LEN;
  }
  *consumed = p->cursor;
  p->state = SV_RESP_S_START;
  return SV_RESP_REQUEST;
}

void sv_resp_argv(const sv_resp_parser *p, char *buf, char **argv, size_t *argl) {
  char *base = p->is_inline ? p->scratch : buf;
  for (int i = 0; i < p->argc; i++) {
    argv[i] = base + p->args[i].off;
    argl[i] = p->args[i].len;
  }
}

size_t sv_resp_bulk_need(const sv_resp_parser *p, size_t have) {
  if (p->state != SV_RESP_S_BULK_DATA || p->bulk_len < 0) return 0;
  size_t need = p->cursor + (size_t)p->bulk_len + 2;
  return need > have ? need - have : 0;
}
