/*
 * dumpfmt_test.c - unit tests of the strata tool's text encodings and of
 * the load-format reader (tools/strata/dumpfmt.c), without a database.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* fmemopen */
#endif

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dumpfmt.h"

/* Encodes with fn and compares with the expected text. */
static void check_enc(int (*fn)(sbuf *, const void *, size_t), const char *in, size_t n,
                      const char *want) {
  sbuf b = SBUF_INIT;
  assert_int_equal(fn(&b, in, n), 0);
  assert_int_equal(b.len, strlen(want));
  assert_memory_equal(b.data, want, b.len);
  sbuf_free(&b);
}

/* Decodes with fn; want == NULL means the decoder must reject the input. */
static void check_dec(const char *(*fn)(sbuf *, const char *, size_t), const char *in,
                      const char *want, size_t wantlen) {
  sbuf b = SBUF_INIT;
  const char *e = fn(&b, in, strlen(in));
  if (!want) {
    assert_non_null(e);
  } else {
    assert_null(e);
    assert_int_equal(b.len, wantlen);
    if (wantlen) assert_memory_equal(b.data, want, wantlen);
  }
  sbuf_free(&b);
}

static void test_hex(void **state) {
  (void)state;
  check_enc(fmt_hex,
            "\x00\xff"
            "a",
            3, "00ff61");
  check_enc(fmt_hex, "", 0, "");
  check_dec(parse_hex, "00FFa1", "\x00\xff\xa1", 3);
  check_dec(parse_hex, "", "", 0);
  check_dec(parse_hex, "0", NULL, 0);   /* odd length */
  check_dec(parse_hex, "0g", NULL, 0);  /* bad digit */
  check_dec(parse_hex, " 00", NULL, 0); /* no stray spaces */
}

static void test_print(void **state) {
  (void)state;
  /* The mdb_dump -p form, except that '\' is doubled. */
  check_enc(fmt_print, "a\\b\n\x00\x7f\xff ~", 9, "a\\\\b\\0a\\00\\7f\\ff ~");
  check_dec(parse_print, "a\\\\b\\0a\\00\\7F\\ff ~", "a\\b\n\x00\x7f\xff ~", 9);
  /* Raw bytes other than '\' are accepted, as mdb_load does. */
  check_dec(parse_print, "\t\xc3\xa9", "\t\xc3\xa9", 3);
  check_dec(parse_print, "\\", NULL, 0);
  check_dec(parse_print, "\\0", NULL, 0);
  check_dec(parse_print, "\\zz", NULL, 0);
  check_dec(parse_print, "\\x41", NULL, 0); /* scan form is not print form */
}

static void test_scan(void **state) {
  (void)state;
  check_enc(fmt_scan, "k\t\\v\x01", 5, "k\\x09\\\\v\\x01");
  check_dec(parse_scan, "k\\x09\\\\v\\x01", "k\t\\v\x01", 5);
  check_dec(parse_scan, "\\09", NULL, 0);
  check_dec(parse_scan, "\\x0", NULL, 0);
  check_dec(parse_scan, "\\", NULL, 0);
}

static void test_base64(void **state) {
  (void)state;
  /* RFC 4648 section 10 vectors. */
  static const char *const plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
  static const char *const enc[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
  for (int i = 0; i < 7; i++) {
    check_enc(fmt_base64, plain[i], strlen(plain[i]), enc[i]);
    check_dec(parse_base64, enc[i], plain[i], strlen(plain[i]));
  }
  check_dec(parse_base64, "Zm8", "fo", 2); /* padding optional */
  check_enc(fmt_base64, "\x00\xff\xfe", 3, "AP/+");
  check_dec(parse_base64, "AP/+", "\x00\xff\xfe", 3);
  check_dec(parse_base64, "Z", NULL, 0);
  check_dec(parse_base64, "Zm9v!", NULL, 0);
  check_dec(parse_base64, "Zh==", NULL, 0); /* nonzero trailing bits */
  check_dec(parse_base64, "Zg=", NULL, 0);  /* half padding */
}

static void test_utf8(void **state) {
  (void)state;
  assert_true(utf8_valid("", 0));
  assert_true(utf8_valid("a\x00z", 3));
  assert_true(utf8_valid("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 9));
  assert_false(utf8_valid("\xff", 1));
  assert_false(utf8_valid("\xc3", 1));             /* truncated */
  assert_false(utf8_valid("\xc0\xaf", 2));         /* overlong */
  assert_false(utf8_valid("\xed\xa0\x80", 3));     /* surrogate */
  assert_false(utf8_valid("\xf4\x90\x80\x80", 4)); /* > U+10FFFF */
}

static void test_json_string(void **state) {
  (void)state;
  check_enc(fmt_json_string, "a\"\\\n\t\x01\xc3\xa9", 8, "\"a\\\"\\\\\\n\\t\\u0001\xc3\xa9\"");
  sbuf b = SBUF_INIT;
  assert_int_equal(fmt_jsonl_pair(&b, "k", 1, "v\x00", 2), 0);
  assert_int_equal(b.len, strlen("{\"key\":\"k\",\"value\":\"v\\u0000\"}\n"));
  assert_memory_equal(b.data, "{\"key\":\"k\",\"value\":\"v\\u0000\"}\n", b.len);
  b.len = 0;
  assert_int_equal(fmt_jsonl_pair(&b, "\xff", 1, "", 0), 0);
  assert_memory_equal(b.data, "{\"key_b64\":\"/w==\",\"value\":\"\"}\n", b.len);
  sbuf_free(&b);
}

/* ---- reader ------------------------------------------------------------ */

typedef struct pair {
  const char *k;
  size_t klen;
  const char *v;
  size_t vlen;
} pair;

/* Reads `text` in `mode`; expects the listed pairs, then either a clean end
 * (err_line == 0) or an error on err_line whose message contains err_sub. */
static void check_reader_n(const char *text, size_t len, dump_mode mode, const pair *pairs,
                           int npairs, unsigned long err_line, const char *err_sub) {
  FILE *f = fmemopen((void *)text, len, "r");
  assert_non_null(f);
  dump_reader r;
  dump_reader_init(&r, f, mode);
  sbuf k = SBUF_INIT, v = SBUF_INIT;
  int i = 0, rc;
  while ((rc = dump_reader_next(&r, &k, &v)) == 1) {
    assert_true(i < npairs);
    assert_int_equal(k.len, pairs[i].klen);
    assert_int_equal(v.len, pairs[i].vlen);
    if (k.len) assert_memory_equal(k.data, pairs[i].k, k.len);
    if (v.len) assert_memory_equal(v.data, pairs[i].v, v.len);
    i++;
  }
  assert_int_equal(i, npairs);
  if (err_line == 0) {
    if (rc != 0) fail_msg("unexpected error at line %lu: %s", r.err_line, r.err);
  } else {
    assert_int_equal(rc, -1);
    assert_int_equal(r.io_error, 0);
    if (r.err_line != err_line || !strstr(r.err, err_sub))
      fail_msg("got line %lu: %s; want line %lu: ...%s...", r.err_line, r.err, err_line, err_sub);
  }
  dump_reader_free(&r);
  sbuf_free(&k);
  sbuf_free(&v);
  fclose(f);
}

static void check_reader(const char *text, dump_mode mode, const pair *pairs, int npairs,
                         unsigned long err_line, const char *err_sub) {
  check_reader_n(text, strlen(text), mode, pairs, npairs, err_line, err_sub);
}

static const pair P3[] = {{"\x00\xff"
                           "a",
                           3, "", 0},
                          {"abc", 3, "\\\nA", 3}};

static void test_reader_bytevalue(void **state) {
  (void)state;
  /* What mdb_dump prints, extra LMDB header lines included. */
  check_reader("VERSION=3\nformat=bytevalue\ntype=btree\nmapsize=1048576\nmaxreaders=126\n"
               "db_pagesize=4096\nHEADER=END\n 00ff61\n \n 616263\n 5C0A41\nDATA=END\n",
               DUMP_DETECT, P3, 2, 0, NULL);
  /* No trailing newline after DATA=END is fine. */
  check_reader("VERSION=3\nHEADER=END\n 61\n 62\nDATA=END", DUMP_HEADER, (pair[]){{"a", 1, "b", 1}},
               1, 0, NULL);
}

static void test_reader_print(void **state) {
  (void)state;
  check_reader("VERSION=3\nformat=print\ntype=btree\nHEADER=END\n \\00\\ffa\n \n abc\n \\\\\\0aA\n"
               "DATA=END\n",
               DUMP_HEADER, P3, 2, 0, NULL);
}

static void test_reader_plain(void **state) {
  (void)state;
  check_reader("\\00\\ffa\n\nabc\n\\\\\\0aA\n", DUMP_PLAIN, P3, 2, 0, NULL);
  check_reader("", DUMP_PLAIN, NULL, 0, 0, NULL);
  check_reader("k1\nv1\nk2\n", DUMP_PLAIN, (pair[]){{"k1", 2, "v1", 2}}, 1, 3, "no value line");
  check_reader("k1\nv\\q\n", DUMP_PLAIN, NULL, 0, 2, "bad escape");
}

static void test_reader_jsonl(void **state) {
  (void)state;
  const char *text = "{\"key\":\"a\",\"value\":\"\"}\n"
                     "\n"
                     "  { \"value\" : \"\\u00e9\\ud83d\\ude00\\n\" , \"key\" : \"b\\\"\" }  \n"
                     "{\"key_b64\":\"AP8=\",\"value_hex\":\"00FF\"}\n";
  pair want[] = {
      {"a", 1, "", 0}, {"b\"", 2, "\xc3\xa9\xf0\x9f\x98\x80\n", 7}, {"\x00\xff", 2, "\x00\xff", 2}};
  check_reader(text, DUMP_JSONL, want, 3, 0, NULL);
  check_reader(text, DUMP_DETECT, want, 3, 0, NULL);
  check_reader("{\"key\":\"a\",\"value\":\"b\"}\n{\"key\":\"a\"}\n", DUMP_JSONL,
               (pair[]){{"a", 1, "b", 1}}, 1, 2, "missing \"value\"");
  check_reader("{\"key\":\"a\",\"value\":1}\n", DUMP_JSONL, NULL, 0, 1, "must be a JSON string");
  check_reader("{\"key\":\"a\",\"val\":\"b\"}\n", DUMP_JSONL, NULL, 0, 1, "unknown member");
  check_reader("{\"key\":\"a\",\"key_b64\":\"YQ==\",\"value\":\"\"}", DUMP_JSONL, NULL, 0, 1,
               "more than one key");
  check_reader("{\"key\":\"\\ud800\",\"value\":\"\"}", DUMP_JSONL, NULL, 0, 1, "surrogate");
  check_reader("{\"key\":\"\xff\",\"value\":\"\"}", DUMP_JSONL, NULL, 0, 1, "invalid UTF-8");
  check_reader("{\"key\":\"a\",\"value\":\"b\"} x", DUMP_JSONL, NULL, 0, 1, "after the JSON");
  check_reader("{\"key\":\"a\",\"value\":\"b\"", DUMP_JSONL, NULL, 0, 1, "expected ',' or '}'");
  check_reader("{\"key\":\"a\tb\",\"value\":\"\"}", DUMP_JSONL, NULL, 0, 1, "control character");
  check_reader("{\"key_b64\":\"!!\",\"value\":\"\"}", DUMP_JSONL, NULL, 0, 1, "base64");
}

static void test_reader_errors(void **state) {
  (void)state;
  const pair one[] = {{"a", 1, "b", 1}};
  check_reader("", DUMP_DETECT, NULL, 0, 1, "empty input");
  check_reader("", DUMP_HEADER, NULL, 0, 1, "empty input");
  check_reader("hello\nworld\n", DUMP_DETECT, NULL, 0, 1, "need -T");
  check_reader("VERSION=3\nbogus\n", DUMP_HEADER, NULL, 0, 2, "malformed header");
  check_reader("VERSION=2\n", DUMP_HEADER, NULL, 0, 1, "unsupported VERSION");
  /* The quoted value ends where the line does (not at the newline after it). */
  check_reader("VERSION=2\nHEADER=END\n", DUMP_HEADER, NULL, 0, 1,
               "unsupported VERSION=2 (only 3 is understood)");
  check_reader("VERSION=3\nduplicates=1\n", DUMP_HEADER, NULL, 0, 2,
               "duplicates=1: dumps with duplicate keys");
  check_reader("VERSION=3\nformat=ascii\n", DUMP_HEADER, NULL, 0, 2, "unsupported format");
  check_reader("VERSION=3\ntype=hash\n", DUMP_HEADER, NULL, 0, 2, "unsupported type");
  check_reader("VERSION=3\nduplicates=1\n", DUMP_HEADER, NULL, 0, 2, "duplicate keys");
  check_reader("VERSION=3\n 61\n", DUMP_HEADER, NULL, 0, 2, "before HEADER=END");
  check_reader("VERSION=3\nformat=print\n", DUMP_HEADER, NULL, 0, 2, "inside the header");
  check_reader("VERSION=3\nHEADER=END\n 61\n 62\n 6g\n 00\nDATA=END\n", DUMP_HEADER, one, 1, 5,
               "bad hex digit in key");
  check_reader("VERSION=3\nHEADER=END\n 61\n 62\n 61\n 123\nDATA=END\n", DUMP_HEADER, one, 1, 6,
               "odd number of hex digits in value");
  check_reader("VERSION=3\nHEADER=END\n 61\n 62\n 63\nDATA=END\n", DUMP_HEADER, one, 1, 5,
               "no value line");
  check_reader("VERSION=3\nHEADER=END\n 61\n 62\n 63\n", DUMP_HEADER, one, 1, 5, "no value line");
  check_reader("VERSION=3\nHEADER=END\n 61\n 62\n", DUMP_HEADER, one, 1, 4, "no DATA=END");
  check_reader("VERSION=3\nHEADER=END\n61\n 62\n", DUMP_HEADER, NULL, 0, 3, "begin with a space");
  check_reader("VERSION=3\nHEADER=END\n 61\n62\n", DUMP_HEADER, NULL, 0, 4, "begin with a space");
  check_reader("VERSION=3\nHEADER=END\n 61\n 62\nDATA=END\nVERSION=3\n", DUMP_HEADER, one, 1, 6,
               "after DATA=END");
}

static void test_cdbmake(void **state) {
  (void)state;
  /* The format's definition: +klen,dlen:key->data LF per pair, LF at the
   * end; key and data any bytes. */
  sbuf b = SBUF_INIT;
  assert_int_equal(fmt_cdbmake_pair(&b, "\0\n", 2, "->\n", 3), 0);
  assert_int_equal(fmt_cdbmake_pair(&b, "k", 1, "", 0), 0);
  assert_int_equal(sbuf_putc(&b, '\n'), 0);
  static const char want[] = "+2,3:\0\n->->\n\n+1,0:k->\n\n";
  assert_int_equal(b.len, sizeof want - 1);
  assert_memory_equal(b.data, want, b.len);
  const pair two[] = {{"\0\n", 2, "->\n", 3}, {"k", 1, "", 0}};
  check_reader_n(b.data, b.len, DUMP_CDBMAKE, two, 2, 0, NULL);
  check_reader_n(b.data, b.len, DUMP_DETECT, two, 2, 0, NULL);
  sbuf_free(&b);
  check_reader("\n", DUMP_DETECT, NULL, 0, 0, NULL); /* an empty dump */
  const pair one[] = {{"a", 1, "b", 1}};
  check_reader("+1,1:a->b\n", DUMP_CDBMAKE, one, 1, 2, "no blank end line");
  check_reader("+1,1:a->b\n\nx", DUMP_CDBMAKE, one, 1, 2, "after the blank end line");
  check_reader("+1,5:a->b\n\n", DUMP_CDBMAKE, NULL, 0, 1, "inside the data");
  check_reader("+1,1:a=>b\n\n", DUMP_CDBMAKE, NULL, 0, 1, "expected '->'");
  check_reader("+1,1:a->bb\n", DUMP_CDBMAKE, NULL, 0, 1, "newline after the data");
  check_reader("+1;1:a->b\n\n", DUMP_CDBMAKE, NULL, 0, 1, "bad key length");
  check_reader("+1,:a->b\n\n", DUMP_CDBMAKE, NULL, 0, 1, "bad data length");
  check_reader("+4294967296,1:a->b\n\n", DUMP_CDBMAKE, NULL, 0, 1, "bad key length");
  check_reader("+12345678901,1:", DUMP_CDBMAKE, NULL, 0, 1, "bad key length");
  check_reader("-1,1:a->b\n\n", DUMP_CDBMAKE, NULL, 0, 1, "expected '+'");
  /* A length past the end of the input fails as truncated, without
   * allocating what the length claims. */
  check_reader("+4000000000,1:abc", DUMP_CDBMAKE, NULL, 0, 1, "inside the key");
}

static void test_dump_header(void **state) {
  (void)state;
  sbuf b = SBUF_INIT;
  assert_int_equal(fmt_dump_header(&b, 0, NULL, 0, 0), 0);
  assert_int_equal(sbuf_terminate(&b), 0);
  assert_string_equal(b.data, "VERSION=3\nformat=bytevalue\ntype=btree\nHEADER=END\n");
  b.len = 0;
  assert_int_equal(fmt_dump_header(&b, 1, "users", 12345, 0), 0);
  assert_int_equal(sbuf_terminate(&b), 0);
  assert_string_equal(b.data, "VERSION=3\nformat=print\ndatabase=users\ntype=btree\n"
                              "mapsize=12345\nHEADER=END\n");
  b.len = 0;
  assert_int_equal(fmt_dump_header(&b, 0, "u", 1, 1), 0);
  size_t at = fmt_dump_header_mapsize_at(0, "u");
  assert_memory_equal(b.data + at, "00000000000000000001\n", 21);
  assert_memory_equal(b.data + at - 8, "mapsize=", 8);
  sbuf_free(&b);
  /* The reader takes database= and ignores mapsize=. */
  static const char hdr[] = "VERSION=3\ndatabase=s 1\nmapsize=00000000000000000099\n"
                            "HEADER=END\nDATA=END\n";
  FILE *f = fmemopen((void *)hdr, sizeof hdr - 1, "r");
  assert_non_null(f);
  dump_reader r;
  dump_reader_init(&r, f, DUMP_DETECT);
  sbuf k = SBUF_INIT, v = SBUF_INIT;
  assert_int_equal(dump_reader_next(&r, &k, &v), 0);
  assert_string_equal(r.database, "s 1");
  dump_reader_free(&r);
  fclose(f);
}

static void test_mdb_map_size(void **state) {
  (void)state;
  /* Nothing: the margin alone, a whole number of MiB. */
  mdb_map_estimate e = {0, 0};
  assert_int_equal(mdb_map_size(&e), 8ull << 20);
  /* Small pairs: each node is 8 + key + value bytes, even, plus a 2-byte
   * slot: 8+3+5 = 16 -> 18 bytes, counted twice for half-full pages. */
  mdb_map_add(&e, 3, 5);
  assert_int_equal(e.leaf_bytes, 18);
  assert_int_equal(e.overflow_bytes, 0);
  /* A value too big for a node goes to whole overflow pages (4096 bytes,
   * 16-byte header): 5000 + 16 -> 2 pages; the node keeps 8 + key + 8. */
  mdb_map_add(&e, 4, 5000);
  assert_int_equal(e.overflow_bytes, 8192);
  assert_int_equal(e.leaf_bytes, 18 + 20 + 2);
  /* A million pairs of 100 bytes need more than their 200 MB, counted
   * twice, and the result is a multiple of 1 MiB. */
  mdb_map_estimate m = {0, 0};
  for (int i = 0; i < 1000000; i++)
    mdb_map_add(&m, 20, 80);
  unsigned long long sz = mdb_map_size(&m);
  assert_true(sz > 2 * 100000000ull);
  assert_int_equal(sz % (1 << 20), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_hex),
      cmocka_unit_test(test_print),
      cmocka_unit_test(test_scan),
      cmocka_unit_test(test_base64),
      cmocka_unit_test(test_utf8),
      cmocka_unit_test(test_json_string),
      cmocka_unit_test(test_reader_bytevalue),
      cmocka_unit_test(test_reader_print),
      cmocka_unit_test(test_reader_plain),
      cmocka_unit_test(test_reader_jsonl),
      cmocka_unit_test(test_reader_errors),
      cmocka_unit_test(test_cdbmake),
      cmocka_unit_test(test_dump_header),
      cmocka_unit_test(test_mdb_map_size),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
