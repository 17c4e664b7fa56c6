/*
 * dumpfmt.c - encoders, decoders and the load-format reader of the strata
 * tool. See dumpfmt.h for the formats. No database calls here: everything
 * is testable from memory buffers.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* getline */
#endif

#include "dumpfmt.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------------ */
/* sbuf                                                                     */
/* ------------------------------------------------------------------------ */

int sbuf_reserve(sbuf *b, size_t extra) {
  if (b->cap - b->len > extra) return 0; /* keep one spare byte for a NUL */
  if (extra > SIZE_MAX / 2 - b->len) return -1;
  size_t need = b->len + extra + 1;
  size_t cap = b->cap ? b->cap : 64;
  while (cap < need)
    cap *= 2;
  char *p = realloc(b->data, cap);
  if (!p) return -1;
  b->data = p;
  b->cap = cap;
  return 0;
}

int sbuf_append(sbuf *b, const void *p, size_t n) {
  if (sbuf_reserve(b, n)) return -1;
  if (n) memcpy(b->data + b->len, p, n);
  b->len += n;
  return 0;
}

int sbuf_putc(sbuf *b, int c) {
  if (sbuf_reserve(b, 1)) return -1;
  b->data[b->len++] = (char)c;
  return 0;
}

int sbuf_terminate(sbuf *b) {
  if (sbuf_reserve(b, 1)) return -1;
  b->data[b->len] = '\0';
  return 0;
}

void sbuf_free(sbuf *b) {
  free(b->data);
  b->data = NULL;
  b->len = b->cap = 0;
}

/* ------------------------------------------------------------------------ */
/* Encoders                                                                 */
/* ------------------------------------------------------------------------ */

static const char hexdigits[] = "0123456789abcdef";

/* Printable ASCII, decided without the locale so the output does not depend
 * on the user's environment (mdb_dump runs in the C locale too). */
static int is_print(unsigned char c) { return c >= 0x20 && c <= 0x7e; }

int fmt_hex(sbuf *out, const void *p, size_t n) {
  const unsigned char *s = p;
  if (n > SIZE_MAX / 2 || sbuf_reserve(out, 2 * n)) return -1;
  char *d = out->data + out->len;
  for (size_t i = 0; i < n; i++) {
    *d++ = hexdigits[s[i] >> 4];
    *d++ = hexdigits[s[i] & 15];
  }
  out->len += 2 * n;
  return 0;
}

/* Shared body of the print and scan forms, which differ only in the prefix
 * of a hex escape ("\" versus "\x"). */
static int fmt_escaped(sbuf *out, const void *p, size_t n, const char *pfx, size_t pfxlen) {
  const unsigned char *s = p;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = s[i];
    int rc;
    if (c == '\\') {
      rc = sbuf_append(out, "\\\\", 2);
    } else if (is_print(c)) {
      rc = sbuf_putc(out, c);
    } else {
      rc = sbuf_reserve(out, pfxlen + 2);
      if (!rc) {
        memcpy(out->data + out->len, pfx, pfxlen);
        out->len += pfxlen;
        out->data[out->len++] = hexdigits[c >> 4];
        out->data[out->len++] = hexdigits[c & 15];
      }
    }
    if (rc) return -1;
  }
  return 0;
}

int fmt_print(sbuf *out, const void *p, size_t n) { return fmt_escaped(out, p, n, "\\", 1); }

int fmt_scan(sbuf *out, const void *p, size_t n) { return fmt_escaped(out, p, n, "\\x", 2); }

int fmt_json_string(sbuf *out, const void *p, size_t n) {
  const unsigned char *s = p;
  if (sbuf_putc(out, '"')) return -1;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = s[i];
    const char *esc = NULL;
    char u[7];
    switch (c) {
    case '"': esc = "\\\""; break;
    case '\\': esc = "\\\\"; break;
    case '\b': esc = "\\b"; break;
    case '\f': esc = "\\f"; break;
    case '\n': esc = "\\n"; break;
    case '\r': esc = "\\r"; break;
    case '\t': esc = "\\t"; break;
    default:
      if (c < 0x20) {
        snprintf(u, sizeof u, "\\u%04x", c);
        esc = u;
      }
    }
    if (esc ? sbuf_append(out, esc, strlen(esc)) : sbuf_putc(out, c)) return -1;
  }
  return sbuf_putc(out, '"');
}

static const char b64digits[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int fmt_base64(sbuf *out, const void *p, size_t n) {
  const unsigned char *s = p;
  size_t olen = (n + 2) / 3 * 4;
  if (n > SIZE_MAX / 2 || sbuf_reserve(out, olen)) return -1;
  char *d = out->data + out->len;
  size_t i = 0;
  for (; i + 3 <= n; i += 3) {
    uint32_t v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8 | s[i + 2];
    *d++ = b64digits[v >> 18];
    *d++ = b64digits[(v >> 12) & 63];
    *d++ = b64digits[(v >> 6) & 63];
    *d++ = b64digits[v & 63];
  }
  if (i < n) {
    uint32_t v = (uint32_t)s[i] << 16 | (i + 1 < n ? (uint32_t)s[i + 1] << 8 : 0);
    *d++ = b64digits[v >> 18];
    *d++ = b64digits[(v >> 12) & 63];
    *d++ = i + 1 < n ? b64digits[(v >> 6) & 63] : '=';
    *d++ = '=';
  }
  out->len += olen;
  return 0;
}

int utf8_valid(const void *p, size_t n) {
  const unsigned char *s = p;
  size_t i = 0;
  while (i < n) {
    unsigned char c = s[i];
    if (c < 0x80) {
      i++;
      continue;
    }
    size_t len;
    uint32_t cp, min;
    if ((c & 0xe0) == 0xc0) {
      len = 2, cp = c & 0x1f, min = 0x80;
    } else if ((c & 0xf0) == 0xe0) {
      len = 3, cp = c & 0x0f, min = 0x800;
    } else if ((c & 0xf8) == 0xf0) {
      len = 4, cp = c & 0x07, min = 0x10000;
    } else {
      return 0;
    }
    if (n - i < len) return 0;
    for (size_t k = 1; k < len; k++) {
      if ((s[i + k] & 0xc0) != 0x80) return 0;
      cp = cp << 6 | (s[i + k] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
    i += len;
  }
  return 1;
}

int fmt_jsonl_pair(sbuf *out, const void *k, size_t klen, const void *v, size_t vlen) {
  int kt = utf8_valid(k, klen), vt = utf8_valid(v, vlen);
  if (sbuf_append(out, kt ? "{\"key\":" : "{\"key_b64\":\"", kt ? 7 : 12)) return -1;
  if (kt ? fmt_json_string(out, k, klen) : fmt_base64(out, k, klen)) return -1;
  if (!kt && sbuf_putc(out, '"')) return -1;
  if (sbuf_append(out, vt ? ",\"value\":" : ",\"value_b64\":\"", vt ? 9 : 14)) return -1;
  if (vt ? fmt_json_string(out, v, vlen) : fmt_base64(out, v, vlen)) return -1;
  if (!vt && sbuf_putc(out, '"')) return -1;
  return sbuf_append(out, "}\n", 2);
}

/* The header up to and including "mapsize=" (when there is one). */
static int header_start(sbuf *out, int print, const char *database) {
  const char *h = print ? "VERSION=3\nformat=print\n" : "VERSION=3\nformat=bytevalue\n";
  if (sbuf_append(out, h, strlen(h))) return -1;
  if (database && (sbuf_append(out, "database=", 9) ||
                   sbuf_append(out, database, strlen(database)) || sbuf_putc(out, '\n')))
    return -1;
  return sbuf_append(out, "type=btree\n", 11);
}

int fmt_dump_header(sbuf *out, int print, const char *database, unsigned long long mapsize,
                    int pad) {
  if (header_start(out, print, database)) return -1;
  if (mapsize) {
    char num[32];
    snprintf(num, sizeof num, pad ? "mapsize=%020llu\n" : "mapsize=%llu\n", mapsize);
    if (sbuf_append(out, num, strlen(num))) return -1;
  }
  return sbuf_append(out, "HEADER=END\n", 11);
}

size_t fmt_dump_header_mapsize_at(int print, const char *database) {
  sbuf b = SBUF_INIT;
  size_t at = header_start(&b, print, database) ? 0 : b.len + 8; /* after "mapsize=" */
  sbuf_free(&b);
  return at;
}

int fmt_cdbmake_pair(sbuf *out, const void *k, size_t klen, const void *v, size_t vlen) {
  char head[48];
  int n = snprintf(head, sizeof head, "+%zu,%zu:", klen, vlen);
  if (sbuf_reserve(out, (size_t)n + klen + vlen + 3)) return -1;
  memcpy(out->data + out->len, head, (size_t)n);
  out->len += (size_t)n;
  if (klen) memcpy(out->data + out->len, k, klen);
  out->len += klen;
  out->data[out->len++] = '-';
  out->data[out->len++] = '>';
  if (vlen) memcpy(out->data + out->len, v, vlen);
  out->len += vlen;
  out->data[out->len++] = '\n';
  return 0;
}

/* LMDB's page layout (lmdb 0.9, mdb.c): a page of 4096 bytes has a 16-byte
 * header; a leaf node is 8 bytes of header plus the key and the value,
 * rounded up to an even size, plus a 2-byte index slot; a node larger than
 * the page's node maximum ((4096 - 16) / 2, even, less the index slot)
 * keeps its value on whole overflow pages (a 16-byte header each) and an
 * 8-byte page number in the node. Pages split in halves, so leaf pages
 * are counted twice (half full); branch pages, the free list and the
 * pages copy-on-write keeps are covered by the margin in mdb_map_size. */
enum { MDB_PSIZE = 4096, MDB_PAGEHDR = 16, MDB_NODEHDR = 8 };

void mdb_map_add(mdb_map_estimate *e, size_t klen, size_t vlen) {
  unsigned long long nodemax = (((MDB_PSIZE - MDB_PAGEHDR) / 2) & ~1ull) - 2;
  unsigned long long node = MDB_NODEHDR + (unsigned long long)klen + vlen;
  if (node > nodemax) {
    e->leaf_bytes += ((MDB_NODEHDR + (unsigned long long)klen + 8 + 1) & ~1ull) + 2;
    e->overflow_bytes +=
        ((unsigned long long)vlen + MDB_PAGEHDR + MDB_PSIZE - 1) / MDB_PSIZE * MDB_PSIZE;
  } else {
    e->leaf_bytes += ((node + 1) & ~1ull) + 2;
  }
}

unsigned long long mdb_map_size(const mdb_map_estimate *e) {
  unsigned long long need = 2 * e->leaf_bytes + e->overflow_bytes;
  need += need / 4 + (8ull << 20); /* branch pages, free list, meta pages */
  return (need + (1ull << 20) - 1) & ~((1ull << 20) - 1);
}

/* ------------------------------------------------------------------------ */
/* Decoders                                                                 */
/* ------------------------------------------------------------------------ */

static int hexval(unsigned char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

static const char ENOMEM_MSG[] = "out of memory";

const char *parse_hex(sbuf *out, const char *s, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (hexval((unsigned char)s[i]) < 0) return "bad hex digit";
  if (n % 2) return "odd number of hex digits";
  if (sbuf_reserve(out, n / 2)) return ENOMEM_MSG;
  for (size_t i = 0; i < n; i += 2)
    out->data[out->len++] =
        (char)(hexval((unsigned char)s[i]) << 4 | hexval((unsigned char)s[i + 1]));
  return NULL;
}

/* Shared body of the print and scan decoders; x says whether a hex escape
 * is "\xNN" (scan) or "\NN" (print). */
static const char *parse_escaped(sbuf *out, const char *s, size_t n, int x) {
  if (sbuf_reserve(out, n)) return ENOMEM_MSG; /* output is never longer */
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c != '\\') {
      out->data[out->len++] = (char)c;
      continue;
    }
    if (i + 1 < n && s[i + 1] == '\\') {
      out->data[out->len++] = '\\';
      i++;
      continue;
    }
    size_t h = i + 1 + (size_t)x; /* first hex digit */
    if ((x && (i + 1 >= n || s[i + 1] != 'x')) || h + 2 > n || hexval((unsigned char)s[h]) < 0 ||
        hexval((unsigned char)s[h + 1]) < 0)
      return x ? "bad escape (expected \\\\ or \\x and two hex digits)"
               : "bad escape (expected \\\\ or \\ and two hex digits)";
    out->data[out->len++] =
        (char)(hexval((unsigned char)s[h]) << 4 | hexval((unsigned char)s[h + 1]));
    i = h + 1;
  }
  return NULL;
}

const char *parse_print(sbuf *out, const char *s, size_t n) { return parse_escaped(out, s, n, 0); }

const char *parse_scan(sbuf *out, const char *s, size_t n) { return parse_escaped(out, s, n, 1); }

static int b64val(unsigned char c) {
  const char *p = c ? strchr(b64digits, c) : NULL;
  return p ? (int)(p - b64digits) : -1;
}

const char *parse_base64(sbuf *out, const char *s, size_t n) {
  /* Padding is optional on input; strip it, then the length must leave 0,
   * 2 or 3 characters in the last group. */
  size_t pad = 0;
  while (n > 0 && s[n - 1] == '=' && pad < 2)
    n--, pad++;
  if (pad && (n + pad) % 4) return "bad base64 padding";
  if (n % 4 == 1) return "bad base64 length";
  if (sbuf_reserve(out, n / 4 * 3 + 2)) return ENOMEM_MSG;
  uint32_t acc = 0;
  int bits = 0;
  for (size_t i = 0; i < n; i++) {
    int v = b64val((unsigned char)s[i]);
    if (v < 0) return "bad base64 character";
    acc = acc << 6 | (uint32_t)v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out->data[out->len++] = (char)(acc >> bits & 0xff);
    }
  }
  /* Bits left over must be zero, or two encodings would decode alike. */
  if (acc & ((1u << bits) - 1)) return "bad base64 (nonzero trailing bits)";
  return NULL;
}

/* ------------------------------------------------------------------------ */
/* JSON lines                                                               */
/* ------------------------------------------------------------------------ */

typedef struct jcur {
  const char *p, *end;
} jcur;

static void jws(jcur *c) {
  while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\r'))
    c->p++;
}

static void put_utf8(sbuf *out, uint32_t cp) {
  /* Space was reserved by the caller: an escape of 6 or 12 characters
   * never yields more than 4 bytes. */
  char *d = out->data + out->len;
  if (cp < 0x80) {
    *d++ = (char)cp;
  } else if (cp < 0x800) {
    *d++ = (char)(0xc0 | cp >> 6);
    *d++ = (char)(0x80 | (cp & 0x3f));
  } else if (cp < 0x10000) {
    *d++ = (char)(0xe0 | cp >> 12);
    *d++ = (char)(0x80 | (cp >> 6 & 0x3f));
    *d++ = (char)(0x80 | (cp & 0x3f));
  } else {
    *d++ = (char)(0xf0 | cp >> 18);
    *d++ = (char)(0x80 | (cp >> 12 & 0x3f));
    *d++ = (char)(0x80 | (cp >> 6 & 0x3f));
    *d++ = (char)(0x80 | (cp & 0x3f));
  }
  out->len = (size_t)(d - out->data);
}

static int hex4(const char *p, const char *end, uint32_t *v) {
  if (end - p < 4) return -1;
  *v = 0;
  for (int i = 0; i < 4; i++) {
    int h = hexval((unsigned char)p[i]);
    if (h < 0) return -1;
    *v = *v << 4 | (uint32_t)h;
  }
  return 0;
}

/* Parses a JSON string at c->p (which must be '"') into out. */
static const char *jstring(jcur *c, sbuf *out) {
  if (c->p >= c->end || *c->p != '"') return "expected a JSON string";
  c->p++;
  size_t start = out->len;
  if (sbuf_reserve(out, (size_t)(c->end - c->p))) return ENOMEM_MSG;
  for (;;) {
    if (c->p >= c->end) return "unterminated JSON string";
    unsigned char ch = (unsigned char)*c->p++;
    if (ch == '"') break;
    if (ch < 0x20) return "control character inside a JSON string (must be escaped)";
    if (ch != '\\') {
      out->data[out->len++] = (char)ch;
      continue;
    }
    if (c->p >= c->end) return "unterminated JSON string";
    ch = (unsigned char)*c->p++;
    static const char names[] = "\"\\/bfnrt", repl[] = "\"\\/\b\f\n\r\t";
    const char *simple = ch ? strchr(names, ch) : NULL;
    if (simple) {
      out->data[out->len++] = repl[simple - names];
      continue;
    }
    if (ch != 'u') return "bad escape in JSON string";
    uint32_t cp, lo;
    if (hex4(c->p, c->end, &cp)) return "bad \\u escape in JSON string";
    c->p += 4;
    if (cp >= 0xdc00 && cp <= 0xdfff) return "unpaired surrogate in JSON string";
    if (cp >= 0xd800 && cp <= 0xdbff) {
      if (c->end - c->p < 6 || c->p[0] != '\\' || c->p[1] != 'u' || hex4(c->p + 2, c->end, &lo) ||
          lo < 0xdc00 || lo > 0xdfff)
        return "unpaired surrogate in JSON string";
      c->p += 6;
      cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
    }
    put_utf8(out, cp);
  }
  if (!utf8_valid(out->data + start, out->len - start)) return "invalid UTF-8 in JSON string";
  return NULL;
}

enum { JM_KEY, JM_KEY_B64, JM_KEY_HEX, JM_VALUE, JM_VALUE_B64, JM_VALUE_HEX, JM_COUNT };
static const char *const jmember_names[JM_COUNT] = {"key",   "key_b64",   "key_hex",
                                                    "value", "value_b64", "value_hex"};

/* Parses one JSON-lines record. err receives a formatted message. */
static int parse_jsonl(const char *line, size_t n, sbuf *key, sbuf *val, char *err, size_t errsz) {
  jcur c = {line, line + n};
  sbuf name = SBUF_INIT, tmp = SBUF_INIT;
  int seen[JM_COUNT] = {0};
  const char *msg = NULL;
  int rc = -1;

  jws(&c);
  if (c.p >= c.end || *c.p != '{') {
    msg = "expected a JSON object ('{')";
    goto out;
  }
  c.p++;
  jws(&c);
  if (c.p < c.end && *c.p == '}') {
    c.p++;
  } else {
    for (;;) {
      jws(&c);
      name.len = 0;
      if ((msg = jstring(&c, &name))) goto out;
      int m;
      for (m = 0; m < JM_COUNT; m++)
        if (strlen(jmember_names[m]) == name.len && !memcmp(jmember_names[m], name.data, name.len))
          break;
      if (m == JM_COUNT) {
        sbuf_terminate(&name);
        snprintf(err, errsz,
                 "unknown member \"%.40s\" (expected key, key_b64 or key_hex and value, "
                 "value_b64 or value_hex)",
                 name.data ? name.data : "");
        goto out_formatted;
      }
      int is_key = m < JM_VALUE;
      if (seen[is_key ? JM_KEY : JM_VALUE]) {
        snprintf(err, errsz, "more than one %s member", is_key ? "key" : "value");
        goto out_formatted;
      }
      seen[is_key ? JM_KEY : JM_VALUE] = 1;
      jws(&c);
      if (c.p >= c.end || *c.p != ':') {
        msg = "expected ':' after a member name";
        goto out;
      }
      c.p++;
      jws(&c);
      if (c.p >= c.end || *c.p != '"') {
        snprintf(err, errsz, "value of \"%s\" must be a JSON string", jmember_names[m]);
        goto out_formatted;
      }
      sbuf *dst = is_key ? key : val;
      if (m == JM_KEY || m == JM_VALUE) {
        if ((msg = jstring(&c, dst))) goto out;
      } else {
        tmp.len = 0;
        if ((msg = jstring(&c, &tmp))) goto out;
        const char *e = (m == JM_KEY_B64 || m == JM_VALUE_B64)
                            ? parse_base64(dst, tmp.data, tmp.len)
                            : parse_hex(dst, tmp.data, tmp.len);
        if (e) {
          snprintf(err, errsz, "%s in \"%s\"", e, jmember_names[m]);
          goto out_formatted;
        }
      }
      jws(&c);
      if (c.p < c.end && *c.p == ',') {
        c.p++;
        continue;
      }
      if (c.p < c.end && *c.p == '}') {
        c.p++;
        break;
      }
      msg = "expected ',' or '}' in JSON object";
      goto out;
    }
  }
  jws(&c);
  if (c.p != c.end) {
    msg = "unexpected text after the JSON object (one object per line)";
  } else if (!seen[JM_KEY]) {
    msg = "missing \"key\" (or \"key_b64\"/\"key_hex\") member";
  } else if (!seen[JM_VALUE]) {
    msg = "missing \"value\" (or \"value_b64\"/\"value_hex\") member";
  } else {
    rc = 0;
  }
out:
  if (msg) snprintf(err, errsz, "%s", msg);
out_formatted:
  sbuf_free(&name);
  sbuf_free(&tmp);
  return rc;
}

/* ------------------------------------------------------------------------ */
/* Dump reader                                                              */
/* ------------------------------------------------------------------------ */

enum { ST_START, ST_HEADER, ST_DATA, ST_END };

void dump_reader_init(dump_reader *r, FILE *in, dump_mode mode) {
  memset(r, 0, sizeof *r);
  r->in = in;
  r->mode = mode;
  r->state = (mode == DUMP_PLAIN || mode == DUMP_JSONL) ? ST_DATA : ST_START;
}

void dump_reader_free(dump_reader *r) {
  free(r->line);
  r->line = NULL;
  r->line_cap = 0;
}

/* Reads one line (its '\n' dropped) into r->line. 1: a line, 0: end of
 * input, -1: read error (r->io_error set). A last line without '\n' counts. */
static int next_line(dump_reader *r) {
  errno = 0;
  ssize_t n = getline(&r->line, &r->line_cap, r->in);
  if (n < 0) {
    if (ferror(r->in)) {
      r->io_error = errno ? errno : EIO;
      return -1;
    }
    return 0;
  }
  r->lineno++;
  r->offset += (unsigned long long)n;
  if (n > 0 && r->line[n - 1] == '\n') n--;
  r->line_len = (size_t)n;
  return 1;
}

static int fail(dump_reader *r, unsigned long line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(dump_reader *r, unsigned long line, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(r->err, sizeof r->err, fmt, ap);
  va_end(ap);
  r->err_line = line ? line : 1;
  return -1;
}

static int line_is(const dump_reader *r, const char *s) {
  size_t n = strlen(s);
  return r->line_len == n && !memcmp(r->line, s, n);
}

/* Handles one header line (r->line). 0: keep reading the header, 1:
 * HEADER=END seen, -1: error. */
static int header_line(dump_reader *r) {
  const char *l = r->line;
  size_t n = r->line_len;
  if (line_is(r, "HEADER=END")) return 1;
  if (n > 0 && l[0] == ' ') return fail(r, r->lineno, "data line before HEADER=END");
  const char *eq = memchr(l, '=', n);
  if (!eq || eq == l || memchr(l, '\0', n))
    return fail(r, r->lineno,
                r->lineno == 1
                    ? "not a dump header (expected VERSION=3; plain key/value lines need -T)"
                    : "malformed header line (expected keyword=value or HEADER=END)");
  int klen = (int)(eq - l);
  const char *v = eq + 1;
  int vlen = (int)(n - (size_t)(v - l));
  /* At most 20 bytes of a value are quoted; the line is not NUL-terminated
   * where it ends (its newline may follow), so the length bounds it. */
  int vshow = vlen < 20 ? vlen : 20;
#define KEY_IS(s) (klen == (int)strlen(s) && !memcmp(l, s, (size_t)klen))
#define VAL_IS(s) (vlen == (int)strlen(s) && !memcmp(v, s, (size_t)vlen))
  if (KEY_IS("VERSION")) {
    if (!VAL_IS("3"))
      return fail(r, r->lineno, "unsupported VERSION=%.*s (only 3 is understood)", vshow, v);
  } else if (KEY_IS("format")) {
    if (VAL_IS("print"))
      r->print = 1;
    else if (VAL_IS("bytevalue"))
      r->print = 0;
    else
      return fail(r, r->lineno, "unsupported format=%.*s (expected print or bytevalue)", vshow, v);
  } else if (KEY_IS("type")) {
    if (!VAL_IS("btree"))
      return fail(r, r->lineno, "unsupported type=%.*s (only btree is understood)", vshow, v);
  } else if (KEY_IS("duplicates") || KEY_IS("dupsort") || KEY_IS("dupfixed") ||
             KEY_IS("integerdup") || KEY_IS("reversedup")) {
    /* A key with several values cannot be stored without losing some. */
    if (!VAL_IS("0"))
      return fail(r, r->lineno,
                  "%.*s=%.*s: dumps with duplicate keys cannot be loaded (one value per key)", klen,
                  l, vshow, v);
  } else if (KEY_IS("database")) {
    /* The sub-database the dump holds (mdb_dump -s NAME writes it). */
    if (vlen == 0 || (size_t)vlen >= sizeof r->database)
      return fail(r, r->lineno, "database= needs a name of 1 to %zu bytes", sizeof r->database - 1);
    memcpy(r->database, v, (size_t)vlen);
    r->database[vlen] = '\0';
  }
  /* Anything else (mapsize=, maxreaders=, db_pagesize=, ...) describes
   * the source store, not the data, and is ignored. */
#undef KEY_IS
#undef VAL_IS
  return 0;
}

/* Decodes the text after the leading space (header dumps) or the whole line
 * (plain) into out. */
static int decode_line(dump_reader *r, sbuf *out, size_t skip, const char *what) {
  const char *e = r->print ? parse_print(out, r->line + skip, r->line_len - skip)
                           : parse_hex(out, r->line + skip, r->line_len - skip);
  if (e) return fail(r, r->lineno, "%s in %s line", e, what);
  return 0;
}

static int next_header_pair(dump_reader *r, sbuf *key, sbuf *val) {
  int rc;
  while (r->state == ST_START || r->state == ST_HEADER) {
    rc = next_line(r);
    if (rc < 0) return -1;
    if (rc == 0)
      return fail(r, r->lineno,
                  r->state == ST_START ? "empty input (expected a dump header: VERSION=3)"
                                       : "unexpected end of input inside the header");
    r->state = ST_HEADER;
    rc = header_line(r);
    if (rc < 0) return -1;
    if (rc == 1) r->state = ST_DATA;
  }
  if (r->state == ST_END) return 0;

  rc = next_line(r);
  if (rc < 0) return -1;
  if (rc == 0) return fail(r, r->lineno, "unexpected end of input (no DATA=END: truncated dump?)");
  if (line_is(r, "DATA=END")) {
    r->state = ST_END;
    rc = next_line(r);
    if (rc < 0) return -1;
    if (rc > 0)
      return fail(r, r->lineno,
                  "unexpected text after DATA=END (only one database per dump is supported)");
    return 0;
  }
  if (r->line_len == 0 || r->line[0] != ' ')
    return fail(r, r->lineno, "key line must begin with a space (or be DATA=END)");
  if (decode_line(r, key, 1, "key")) return -1;
  unsigned long key_line = r->lineno;

  rc = next_line(r);
  if (rc < 0) return -1;
  if (rc == 0 || line_is(r, "DATA=END"))
    return fail(r, key_line, "key has no value line (%s)",
                rc == 0 ? "unexpected end of input" : "DATA=END follows it");
  if (r->line_len == 0 || r->line[0] != ' ')
    return fail(r, r->lineno, "value line must begin with a space");
  if (decode_line(r, val, 1, "value")) return -1;
  return 1;
}

static int next_plain_pair(dump_reader *r, sbuf *key, sbuf *val) {
  int rc = next_line(r);
  if (rc <= 0) return rc;
  r->print = 1;
  if (decode_line(r, key, 0, "key")) return -1;
  unsigned long key_line = r->lineno;
  rc = next_line(r);
  if (rc < 0) return -1;
  if (rc == 0) return fail(r, key_line, "key has no value line (unexpected end of input)");
  return decode_line(r, val, 0, "value") ? -1 : 1;
}

static int blank(const char *s, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r') return 0;
  return 1;
}

static int next_jsonl_pair(dump_reader *r, sbuf *key, sbuf *val) {
  for (;;) {
    int rc = next_line(r);
    if (rc <= 0) return rc;
    if (blank(r->line, r->line_len)) continue; /* tolerate blank lines */
    if (parse_jsonl(r->line, r->line_len, key, val, r->err, sizeof r->err)) {
      r->err_line = r->lineno;
      return -1;
    }
    return 1;
  }
}

/* ---- cdbmake ---- */

static int cdb_fail(dump_reader *r, const char *what) {
  r->err_is_record = 1;
  snprintf(r->err, sizeof r->err, "record %lu (byte %llu): %s", r->lineno, r->offset, what);
  r->err_line = r->lineno;
  return -1;
}

/* getc that counts bytes and turns a read error into io_error. The reader
 * is the stream's only user: the unlocked stdio calls save a lock per
 * byte. */
static int cdb_getc(dump_reader *r) {
  int c = getc_unlocked(r->in);
  if (c == EOF) {
    if (ferror(r->in)) r->io_error = errno ? errno : EIO;
    return EOF;
  }
  r->offset++;
  return c;
}

/* Reads a decimal length ended by `stop`. */
static int cdb_length(dump_reader *r, int stop, const char *what, size_t *out) {
  unsigned long long v = 0;
  int digits = 0, c;
  while ((c = cdb_getc(r)) >= '0' && c <= '9') {
    if (++digits > 10) break;
    v = v * 10 + (unsigned)(c - '0');
  }
  if (r->io_error) return -1;
  if (digits == 0 || digits > 10 || c != stop || v > 0xffffffffull) {
    char msg[96];
    snprintf(msg, sizeof msg, "bad %s length (expected decimal digits, then '%c')", what, stop);
    return cdb_fail(r, c == EOF ? "unexpected end of input inside a record header" : msg);
  }
  *out = (size_t)v;
  return 0;
}

/* Reads exactly n bytes into out, growing it as the bytes arrive, so a
 * length that lies costs no more memory than the input holds. */
static int cdb_bytes(dump_reader *r, sbuf *out, size_t n, const char *what) {
  while (n > 0) {
    size_t chunk = n < (1u << 20) ? n : (1u << 20);
    if (sbuf_reserve(out, chunk)) return cdb_fail(r, "out of memory");
    size_t got = fread_unlocked(out->data + out->len, 1, chunk, r->in);
    out->len += got;
    r->offset += got;
    n -= got;
    if (got < chunk) {
      if (ferror(r->in)) {
        r->io_error = errno ? errno : EIO;
        return -1;
      }
      char msg[80];
      snprintf(msg, sizeof msg, "unexpected end of input inside the %s (truncated dump?)", what);
      return cdb_fail(r, msg);
    }
  }
  return 0;
}

static int next_cdbmake_pair(dump_reader *r, sbuf *key, sbuf *val) {
  if (r->state == ST_END) return 0;
  r->lineno++; /* the record number */
  int c = cdb_getc(r);
  if (c == EOF) {
    if (r->io_error) return -1;
    return cdb_fail(r, "unexpected end of input (no blank end line: truncated dump?)");
  }
  if (c == '\n') {
    r->state = ST_END;
    if (cdb_getc(r) != EOF) return cdb_fail(r, "unexpected data after the blank end line");
    return r->io_error ? -1 : 0;
  }
  if (c != '+') return cdb_fail(r, "expected '+' at the start of a record (or the blank end line)");
  size_t klen, dlen;
  if (cdb_length(r, ',', "key", &klen) || cdb_length(r, ':', "data", &dlen)) return -1;
  if (cdb_bytes(r, key, klen, "key")) return -1;
  int a = cdb_getc(r), b = a == EOF ? EOF : cdb_getc(r);
  if (r->io_error) return -1;
  if (a != '-' || b != '>') return cdb_fail(r, "expected '->' after the key");
  if (cdb_bytes(r, val, dlen, "data")) return -1;
  c = cdb_getc(r);
  if (r->io_error) return -1;
  if (c != '\n') return cdb_fail(r, "expected a newline after the data");
  return 1;
}

int dump_reader_next(dump_reader *r, sbuf *key, sbuf *val) {
  key->len = val->len = 0;
  if (r->mode == DUMP_DETECT) {
    /* A cdbmake dump starts with '+' or, when empty, is one blank line. */
    int c = getc(r->in);
    if (c == '+' || c == '\n') {
      ungetc(c, r->in);
      r->mode = DUMP_CDBMAKE;
      r->state = ST_DATA;
      return next_cdbmake_pair(r, key, val);
    }
    if (c != EOF) ungetc(c, r->in);
  }
  if (r->mode == DUMP_CDBMAKE) return next_cdbmake_pair(r, key, val);
  if (r->mode == DUMP_DETECT) {
    /* The first line decides: a dump header never starts with '{'. */
    int rc = next_line(r);
    if (rc < 0) return -1;
    if (rc == 0) return fail(r, 1, "empty input (expected a dump header or JSON lines)");
    size_t i = 0;
    while (i < r->line_len && (r->line[i] == ' ' || r->line[i] == '\t'))
      i++;
    if (i < r->line_len && r->line[i] == '{') {
      r->mode = DUMP_JSONL;
      r->state = ST_DATA;
      if (parse_jsonl(r->line, r->line_len, key, val, r->err, sizeof r->err)) {
        r->err_line = r->lineno;
        return -1;
      }
      return 1;
    }
    r->mode = DUMP_HEADER;
    r->state = ST_HEADER;
    int h = header_line(r);
    if (h < 0) return -1;
    if (h == 1) r->state = ST_DATA;
  }
  switch (r->mode) {
  case DUMP_PLAIN: return next_plain_pair(r, key, val);
  case DUMP_JSONL: return next_jsonl_pair(r, key, val);
  default: return next_header_pair(r, key, val);
  }
}
