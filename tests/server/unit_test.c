/*
 * unit_test.c - cmocka tests of the server's pure parts: the RESP request
 * parser (resp.c), the string conversions and glob matching (strutil.c) and
 * the reply encoders (reply.c). The fuzz corpus (fuzz/corpus/resp) is
 * replayed through the fuzz harness, so every input the fuzzer ever kept is
 * a regression test here.
 */
#include <dirent.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "reply.h"
#include "resp.h"
#include "strutil.h"

/* The harness's LLVMFuzzerTestOneInput, compiled in for the replay. */
#include "../../fuzz/fuzz_resp.c"

/* Parses all of in (whole) into "arg|arg|...;" per request, or
 * "ERR:<message>" at an error, or "MORE" at the end when a request is
 * incomplete. */
static char *parse_all(const char *in, size_t n, int unauth, long long max_bulk, size_t piece) {
  static char out[1 << 18];
  size_t o = 0;
  out[0] = '\0';
  sv_resp_parser p;
  sv_resp_init(&p);
  sv_resp_limits lim = {max_bulk, unauth};
  char *buf = malloc(n + 1);
  size_t len = 0, fed = 0;
  for (;;) {
    size_t used;
    int rc = sv_resp_parse(&p, buf, len, &lim, &used);
    if (rc == SV_RESP_MORE) {
      if (fed == n) {
        if (len) o += (size_t)snprintf(out + o, sizeof out - o, "MORE");
        break;
      }
      size_t k = piece && piece < n - fed ? piece : n - fed;
      memcpy(buf + len, in + fed, k);
      len += k;
      fed += k;
      continue;
    }
    if (rc == SV_RESP_ERROR) {
      o += (size_t)snprintf(out + o, sizeof out - o, "ERR:%s", p.err);
      break;
    }
    assert_int_equal(rc, SV_RESP_REQUEST);
    char *argv[64];
    size_t argl[64];
    assert_true(p.argc <= 64);
    sv_resp_argv(&p, buf, argv, argl);
    for (int i = 0; i < p.argc; i++) {
      o += (size_t)snprintf(out + o, sizeof out - o, "%s%.*s", i ? "|" : "", (int)argl[i], argv[i]);
      assert_int_equal(argv[i][argl[i]], '\0');
    }
    o += (size_t)snprintf(out + o, sizeof out - o, ";");
    memmove(buf, buf + used, len - used);
    len -= used;
  }
  free(buf);
  sv_resp_free(&p);
  return out;
}

#define PARSE(s) parse_all(s, sizeof(s) - 1, 0, 512LL << 20, 0)

static void test_multibulk(void **state) {
  (void)state;
  assert_string_equal(PARSE("*2\r\n$3\r\nGET\r\n$1\r\nk\r\n"), "GET|k;");
  assert_string_equal(PARSE("*3\r\n$3\r\nSET\r\n$0\r\n\r\n$2\r\nab\r\n*1\r\n$4\r\nPING\r\n"),
                      "SET||ab;PING;");
  /* Empty and negative counts are requests without arguments. */
  assert_string_equal(PARSE("*0\r\n*-1\r\n*-5\r\n"), ";;;");
  /* Incomplete at every cut: waits. */
  assert_string_equal(PARSE("*2\r\n$3\r\nGET\r\n$1\r\nk"), "MORE");
  assert_string_equal(PARSE("*2\r\n$3\r"), "MORE");
  /* redis-server's leniency: the byte after CR and the two after the data
   * are not checked. */
  assert_string_equal(PARSE("*1\rx$4\ryPINGzz"), "PING;");
}

static void test_errors(void **state) {
  (void)state;
  assert_string_equal(PARSE("*x\r\n"), "ERR:Protocol error: invalid multibulk length");
  assert_string_equal(PARSE("*+1\r\n"), "ERR:Protocol error: invalid multibulk length");
  assert_string_equal(PARSE("*01\r\n"), "ERR:Protocol error: invalid multibulk length");
  assert_string_equal(PARSE("*2147483648\r\n"), "ERR:Protocol error: invalid multibulk length");
  assert_string_equal(PARSE("*1\r\n:1\r\n"), "ERR:Protocol error: expected '$', got ':'");
  /* A CR or LF in the message becomes a space (one reply line). */
  assert_string_equal(PARSE("*1\r\n\nab\r\n"), "ERR:Protocol error: expected '$', got ' '");
  assert_string_equal(PARSE("*1\r\n$-1\r\n"), "ERR:Protocol error: invalid bulk length");
  assert_string_equal(PARSE("*1\r\n$x\r\n"), "ERR:Protocol error: invalid bulk length");
  assert_string_equal(parse_all("*1\r\n$1025\r\n", 11, 0, 1024, 0),
                      "ERR:Protocol error: invalid bulk length");
  assert_string_equal(parse_all("*1\r\n$1024\r\n", 11, 0, 1024, 0), "MORE");
  /* Before authentication. */
  assert_string_equal(parse_all("*11\r\n", 5, 1, 512 << 20, 0),
                      "ERR:Protocol error: unauthenticated multibulk length");
  assert_string_equal(parse_all("*10\r\n", 5, 1, 512 << 20, 0), "MORE");
  assert_string_equal(parse_all("*1\r\n$16385\r\n", 12, 1, 512 << 20, 0),
                      "ERR:Protocol error: unauthenticated bulk length");
  assert_string_equal(parse_all("*1\r\n$16384\r\n", 12, 1, 512 << 20, 0), "MORE");
}

static void test_line_limits(void **state) {
  (void)state;
  size_t n = SV_RESP_INLINE_MAX + 1;
  char *big = malloc(n + 8);
  memset(big, 'a', n);
  assert_string_equal(parse_all(big, n, 0, 512 << 20, 0),
                      "ERR:Protocol error: too big inline request");
  assert_string_equal(parse_all(big, n - 1, 0, 512 << 20, 0), "MORE");
  big[0] = '*';
  assert_string_equal(parse_all(big, n, 0, 512 << 20, 0),
                      "ERR:Protocol error: too big mbulk count string");
  memcpy(big, "*1\r\n$", 5);
  assert_string_equal(parse_all(big, n + 4, 0, 512 << 20, 0),
                      "ERR:Protocol error: too big bulk count string");
  /* A long inline line that ends in time is accepted. */
  memset(big, 'b', n);
  big[n] = '\n';
  char *r = parse_all(big, n + 1, 0, 512 << 20, 0);
  assert_int_equal(strlen(r), n + 1);
  free(big);
}

static void test_inline(void **state) {
  (void)state;
  assert_string_equal(PARSE("SET a b\r\n"), "SET|a|b;");
  assert_string_equal(PARSE("  GET   k  \n"), "GET|k;");
  assert_string_equal(PARSE("\r\n\n"), ";;");
  assert_string_equal(PARSE("SET \"a b\" 'c d'\r\n"), "SET|a b|c d;");
  assert_string_equal(PARSE("SET \"\\x41\\n\\t\\\"\\q\" x\r\n"), "SET|A\n\t\"q|x;");
  assert_string_equal(PARSE("SET 'it\\'s' x\n"), "SET|it's|x;");
  assert_string_equal(PARSE("SET a\"b c\" d\n"), "SET|ab c|d;");
  assert_string_equal(PARSE("SET \"abc\n"), "ERR:Protocol error: unbalanced quotes in request");
  assert_string_equal(PARSE("SET \"abc\"def\n"),
                      "ERR:Protocol error: unbalanced quotes in request");
  assert_string_equal(PARSE("SET 'abc'def\n"), "ERR:Protocol error: unbalanced quotes in request");
  /* A NUL before the line's end: the line never ends (redis-server's
   * strchr stops at NUL too). */
  assert_string_equal(parse_all("PI\0NG\r\n", 7, 0, 512 << 20, 0), "MORE");
  assert_string_equal(parse_all("*1\0\r\n", 5, 0, 512 << 20, 0), "MORE");
}

/* Every input gives the same result whole and a byte at a time. */
static void test_piecewise(void **state) {
  (void)state;
  static const char *inputs[] = {
      "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nvalue\r\n*1\r\n$4\r\nPING\r\n",
      "SET a b\r\nGET a\r\n*2\r\n$3\r\nGET\r\n$1\r\na\r\n",
      "*2\r\n$3\r\nGET\r\n:x\r\n",
      "GET \"unterminated\r\n",
  };
  for (size_t i = 0; i < sizeof inputs / sizeof inputs[0]; i++) {
    char whole[4096];
    snprintf(whole, sizeof whole, "%s", parse_all(inputs[i], strlen(inputs[i]), 0, 1 << 20, 0));
    for (size_t piece = 1; piece <= 7; piece++)
      assert_string_equal(parse_all(inputs[i], strlen(inputs[i]), 0, 1 << 20, piece), whole);
  }
}

static void test_str2ll(void **state) {
  (void)state;
  long long v;
  assert_true(sv_str2ll("0", 1, &v) && v == 0);
  assert_true(sv_str2ll("-9223372036854775808", 20, &v) && v == LLONG_MIN);
  assert_true(sv_str2ll("9223372036854775807", 19, &v) && v == LLONG_MAX);
  assert_false(sv_str2ll("9223372036854775808", 19, &v));
  assert_false(sv_str2ll("-0", 2, &v));
  assert_false(sv_str2ll("01", 2, &v));
  assert_false(sv_str2ll("+1", 2, &v));
  assert_false(sv_str2ll(" 1", 2, &v));
  assert_false(sv_str2ll("1 ", 2, &v));
  assert_false(sv_str2ll("", 0, &v));
  assert_false(sv_str2ll("-", 1, &v));
  char buf[SV_LONG_STR_SIZE];
  assert_int_equal(sv_ll2str(buf, LLONG_MIN), 20);
  assert_memory_equal(buf, "-9223372036854775808", 20);
}

static void test_ld(void **state) {
  (void)state;
  char buf[SV_LD_STR_MAX];
  long double v;
  assert_true(sv_str2ld("10.5", 4, &v));
  sv_ld2str(buf, sizeof buf, v);
  assert_string_equal(buf, "10.5");
  assert_true(sv_str2ld("5.0e3", 5, &v));
  sv_ld2str(buf, sizeof buf, v + 200);
  assert_string_equal(buf, "5200");
  sv_ld2str(buf, sizeof buf, -0.0L);
  assert_string_equal(buf, "0");
  assert_false(sv_str2ld(" 1", 2, &v));
  assert_false(sv_str2ld("nan", 3, &v));
  assert_false(sv_str2ld("1e99999", 7, &v));
  assert_false(sv_str2ld("", 0, &v));
  assert_true(sv_str2ld("inf", 3, &v)); /* accepted; INCRBYFLOAT refuses the result */
}

static void test_glob(void **state) {
  (void)state;
#define M(p, s) sv_glob_match(p, strlen(p), s, strlen(s), 0)
  assert_true(M("*", "anything"));
  assert_true(M("h?llo", "hello"));
  assert_false(M("h?llo", "hllo"));
  assert_true(M("h[ae]llo", "hallo"));
  assert_false(M("h[^e]llo", "hello"));
  assert_true(M("h[a-b]llo", "hbllo"));
  assert_true(M("h[b-a]llo", "hallo")); /* reversed range */
  assert_true(M("h\\*llo", "h*llo"));
  assert_false(M("h\\*llo", "hello"));
  assert_true(M("user:*:name", "user:42:name"));
  assert_true(M("a*", "a"));
  assert_false(M("*", "")); /* redis-server's matcher; callers special-case "*" */
  assert_true(M("[", "[") == 0);
  assert_true(sv_glob_match("HELLO", 5, "hello", 5, 1));
  /* Pathological patterns stay fast (the give-up rule). */
  char s[200];
  memset(s, 'a', sizeof s);
  assert_false(sv_glob_match("*a*a*a*a*a*a*a*a*a*a*a*b", 24, s, sizeof s, 0));
  assert_int_equal(sv_glob_literal_prefix("user:*", 6), 5);
  assert_int_equal(sv_glob_literal_prefix("a\\*b", 4), 1);
  assert_true(sv_secure_equal("abc", 3, "abc", 3));
  assert_false(sv_secure_equal("abc", 3, "abd", 3));
  assert_false(sv_secure_equal("abc", 3, "abcd", 4));
}

static char *flatten(sv_reply *r, size_t *n) {
  static char out[1 << 16];
  size_t o = 0;
  for (sv_chunk *c = r->head; c; c = c->next) {
    memcpy(out + o, c->data + c->sent, c->len - c->sent);
    o += c->len - c->sent;
  }
  *n = o;
  out[o] = '\0';
  return out;
}

static void test_reply(void **state) {
  (void)state;
  sv_reply r;
  size_t n;
  sv_reply_init(&r, 2);
  sv_reply_null(&r);
  sv_reply_map(&r, 1);
  sv_reply_bulk_cstr(&r, "k");
  sv_reply_int(&r, -7);
  sv_reply_errorf(&r, "bad\r\nthing\n");
  sv_reply_error(&r, "-NOAUTH x");
  assert_string_equal(flatten(&r, &n),
                      "$-1\r\n*2\r\n$1\r\nk\r\n:-7\r\n-ERR bad  thing\r\n-NOAUTH x\r\n");
  assert_int_equal(r.pending, n);
  sv_reply_free(&r);
  sv_reply_init(&r, 3);
  sv_reply_null(&r);
  sv_reply_map(&r, 1);
  sv_reply_deferred d = sv_reply_defer(&r);
  sv_reply_bulk(&r, "a", 1);
  sv_reply_bulk(&r, "b", 1);
  sv_reply_set_array(&r, d, 2);
  sv_reply_verbatim(&r, "x", 1);
  assert_string_equal(flatten(&r, &n), "_\r\n%1\r\n*2\r\n$1\r\na\r\n$1\r\nb\r\n=5\r\ntxt:x\r\n");
  assert_int_equal(r.pending, n);
  /* Consuming part of the output keeps the rest in order. */
  sv_reply_consume(&r, 7);
  assert_string_equal(flatten(&r, &n), "*2\r\n$1\r\na\r\n$1\r\nb\r\n=5\r\ntxt:x\r\n");
  sv_reply_free(&r);
  /* A big bulk in its own chunk. */
  sv_reply_init(&r, 2);
  char *big = malloc(100000);
  memset(big, 'q', 100000);
  sv_reply_int(&r, 1);
  sv_reply_bulk(&r, big, 100000);
  assert_int_equal(r.pending, 4 + 9 + 100000 + 2);
  sv_reply_free(&r);
  free(big);
}

static void test_fuzz_corpus(void **state) {
  (void)state;
  DIR *d = opendir(SV_FUZZ_CORPUS);
  assert_non_null(d);
  int files = 0;
  struct dirent *e;
  while ((e = readdir(d))) {
    if (e->d_name[0] == '.') continue;
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", SV_FUZZ_CORPUS, e->d_name);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    static uint8_t buf[1 << 20];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    LLVMFuzzerTestOneInput(buf, n); /* aborts on a disagreement */
    files++;
  }
  closedir(d);
  assert_true(files >= 20);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_multibulk),   cmocka_unit_test(test_errors),
      cmocka_unit_test(test_line_limits), cmocka_unit_test(test_inline),
      cmocka_unit_test(test_piecewise),   cmocka_unit_test(test_str2ll),
      cmocka_unit_test(test_ld),          cmocka_unit_test(test_glob),
      cmocka_unit_test(test_reply),       cmocka_unit_test(test_fuzz_corpus),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
