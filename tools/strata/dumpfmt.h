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
 * Whole-dump formats: the db_dump/mdb_dump text format (header, then a
 * key line and a value line per pair, each starting with a space, then
 * DATA=END), mdb_load -T plain text, JSON lines (see fmt_jsonl_pair), and
 * py-lmdb's cdbmake format (the input format of D. J. Bernstein's cdbmake,
 * as `python -m lmdb dump` writes it), whose grammar is
 *
 *   dump   = *record end
 *   record = "+" klen "," dlen ":" key "->" data LF
 *   end    = LF
 *   klen, dlen = 1*DIGIT   (decimal byte counts of key and data, no sign,
 *                           no leading "+", at most 10 digits, < 2^32)
 *   key, data  = exactly klen (dlen) bytes, any values (NUL, LF, "->"...)
 *
 * The dump reader parses these load formats one key/value pair at a time
 * and reports the first malformed line (record, for cdbmake) by number.
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
  DUMP_JSONL,  /* one JSON object per line, see fmt_jsonl_pair() */
  DUMP_CDBMAKE /* py-lmdb's cdbmake records (grammar above) */
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
  int io_error;              /* errno of a failed read, else 0 */
  char err[256];             /* what is wrong, when next() returned -1 */
  int err_is_record;         /* cdbmake: err_line is a record number */
  unsigned long long offset; /* bytes consumed */
  char database[256];        /* header's database=NAME, "" if none */
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
 * by '\n') for format=print (print != 0) or format=bytevalue, as mdb_dump
 * writes it: a "database=NAME" line when database is not NULL, and a
 * "mapsize=N" line when mapsize is not 0 (N zero-padded to 20 digits when
 * pad is set, so that it can be rewritten in place once known). */
int fmt_dump_header(sbuf *out, int print, const char *database, unsigned long long mapsize,
                    int pad);

/* Where the 20 digits of a padded mapsize start in fmt_dump_header's
 * output, or 0 without mapsize. */
size_t fmt_dump_header_mapsize_at(int print, const char *database);

/* Appends one cdbmake record "+klen,dlen:key->data\n". */
int fmt_cdbmake_pair(sbuf *out, const void *k, size_t klen, const void *v, size_t vlen);

/* LMDB's map size (bytes) that mdb_load needs to hold the pairs added:
 * mdb_load has no other way to size its map than the dump header's
 * mapsize= line (mdb_dump writes the source map's size there), and a dump
 * without it fails with MDB_MAP_FULL past LMDB's default of 1 MiB. The
 * estimate follows LMDB's page layout (see dumpfmt.c) with room for half-
 * full pages after splits, and is rounded up to a multiple of 1 MiB. */
typedef struct mdb_map_estimate {
  unsigned long long leaf_bytes;     /* nodes on leaf pages */
  unsigned long long overflow_bytes; /* whole overflow pages of big values */
} mdb_map_estimate;
void mdb_map_add(mdb_map_estimate *e, size_t klen, size_t vlen);
unsigned long long mdb_map_size(const mdb_map_estimate *e);

#endif /* STRATA_TOOLS_DUMPFMT_H */
