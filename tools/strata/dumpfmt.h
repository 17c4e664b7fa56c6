/*
 * dumpfmt.h - the text encodings of the strata tool, kept free of any
 * database call so they can be unit-tested on their own
 * (tests/cli/dumpfmt_test.c).
 *
 * Encodings of one byte string (a key or a value):
 *   hex    lowercase hex pairs ("00ff61"); input accepts either case.
 *   print  the db_dump/mdb_dump "format=print" form: bytes 0x20..0x7e as
 *          themselves except '\' which becomes "\\", every other byte as
 *          '\' + two lowercase hex digits ("\0a"). Input also accepts raw
 *          bytes other than '\' (mdb_load does too).
 *   scan   the scan/get listing form: as print, but other bytes are
 *          "\xNN", so a listing line reads as a C string literal.
 *   json   a quoted JSON string (only for valid UTF-8 input).
 *   base64 RFC 4648 with padding.
 *
 * The dump reader parses the three load formats (dump with header, plain
 * -T text, JSON lines) one key/value pair at a time and reports the first
 * malformed line by number.
 */
#ifndef STRATA_TOOLS_DUMPFMT_H
#define STRATA_TOOLS_DUMPFMT_H

#include <stddef.h>
#include <stdio.h>

/* A growable byte buffer. Functions returning int give 0 on success and -1
 * when memory ran out (the buffer is then unchanged). */
typedef struct sbuf {
  char *data;
  size_t len;
  size_t cap;
} sbuf;

#define SBUF_INIT                                                                                  \
  { NULL, 0, 0 }

int sbuf_reserve(sbuf *b, size_t extra);
int sbuf_append(sbuf *b, const void *p, size_t n);
int sbuf_putc(sbuf *b, int c);
/* Appends a NUL that is not counted in len, so data can be used as a C
 * string. */
int sbuf_terminate(sbuf *b);
void sbuf_free(sbuf *b);

/* Encoders: append the encoding of p[0..n) to out. */
int fmt_hex(sbuf *out, const void *p, size_t n);
int fmt_print(sbuf *out, const void *p, size_t n);
int fmt_scan(sbuf *out, const void *p, size_t n);
int fmt_json_string(sbuf *out, const void *p, size_t n);
int fmt_base64(sbuf *out, const void *p, size_t n);

/* 1 if p[0..n) is well-formed UTF-8 (no overlong forms, no surrogates,
 * nothing above U+10FFFF), else 0. */
int utf8_valid(const void *p, size_t n);

/* Decoders: append the bytes that s[0..n) encodes to out. Return NULL on
 * success, else a static message saying what is wrong (out may then hold
 * part of the result). */
const char *parse_hex(sbuf *out, const char *s, size_t n);
const char *parse_print(sbuf *out, const char *s, size_t n);
const char *parse_scan(sbuf *out, const char *s, size_t n);
const char *parse_base64(sbuf *out, const char *s, size_t n);

/* Input formats of the dump reader. */
typedef enum dump_mode {
  DUMP_DETECT, /* header dump, or JSON lines if the first line starts '{' */
  DUMP_HEADER, /* VERSION=3 ... HEADER=END, " key", " value", DATA=END */
  DUMP_PLAIN,  /* mdb_load -T: key line, value line, print escapes */
  DUMP_JSONL   /* one JSON object per line, see fmt_jsonl_pair() */
} dump_mode;

typedef struct dump_reader {
  FILE *in;
  dump_mode mode;
  int print;              /* header said format=print */
  int state;              /* internal: where in the input we are */
  unsigned long lineno;   /* number of the line last read (1-based) */
  unsigned long err_line; /* line the error is about */
  char *line;             /* the line last read, without its newline */
  size_t line_len;
  size_t line_cap;
  int io_error;  /* errno of a failed read, else 0 */
  char err[256]; /* what is wrong, when next() returned -1 */
} dump_reader;

void dump_reader_init(dump_reader *r, FILE *in, dump_mode mode);
void dump_reader_free(dump_reader *r);

/* Reads the next pair into key and val (both emptied first).
 * Returns 1 for a pair, 0 at the clean end of the input, -1 on a malformed
 * input (r->err says what is wrong, r->err_line where) or a read error
 * (r->io_error != 0). */
int dump_reader_next(dump_reader *r, sbuf *key, sbuf *val);

/* Appends one JSON-lines record plus '\n':
 *   {"key":"<string>","value":"<string>"}
 * where a key or value that is not valid UTF-8 is written as
 * "key_b64"/"value_b64" with its base64 encoding instead. */
int fmt_jsonl_pair(sbuf *out, const void *k, size_t klen, const void *v, size_t vlen);

/* Appends the db_dump header ("VERSION=3" ... "HEADER=END", each line ended
 * by '\n') for format=print (print != 0) or format=bytevalue. */
int fmt_dump_header(sbuf *out, int print);

#endif /* STRATA_TOOLS_DUMPFMT_H */
