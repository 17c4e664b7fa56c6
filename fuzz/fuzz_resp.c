/*
 * fuzz_resp.c - libFuzzer harness for the RESP request parser
 * (server/resp.c), the first code a network client's bytes reach.
 *
 * Input: one control byte, then the bytes a client sends. The control byte
 * chooses the unauthenticated limits (bit 0), a small proto-max-bulk-len
 * (bit 1: 1 KiB, else 512 MiB) and the size of the pieces the input
 * arrives in (bits 2-7: 1 to 64 bytes, as a slow or fragmenting client
 * would send them). The input is parsed twice, once whole and once piece by
 * piece, exactly as the server's read loop feeds its query buffer; the
 * harness aborts when the two disagree on any request, argument or error,
 * when an argument lies outside the buffer, or when a limit is passed
 * without an error. Memory errors are found by the sanitizers.
 *
 * Build (clang from Debian): see fuzz/README.md, or
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -Iserver fuzz/fuzz_resp.c \
 *         server/resp.c server/strutil.c -o fuzz_resp
 * Seed corpus: fuzz/corpus/resp/ (one file per input, control byte first).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "resp.h"

#define MAX_EVENTS 4096

/* What one parse produced: a digest of every request and the error. */
typedef struct outcome {
  int n;                  /* requests */
  uint64_t h[MAX_EVENTS]; /* per request: a hash of its arguments */
  int error;              /* ended in SV_RESP_ERROR */
  char err[96];
  size_t consumed; /* bytes consumed by whole requests */
} outcome;

static uint64_t mix(uint64_t h, const void *p, size_t n) {
  const unsigned char *s = p;
  for (size_t i = 0; i < n; i++)
    h = (h ^ s[i]) * 0x100000001b3ULL;
  return (h ^ n) * 0x100000001b3ULL;
}

/* Feeds data[0, size) in pieces of `piece` bytes (0: all at once) through a
 * fresh parser, moving the unparsed tail to the front after each request
 * as the server does. */
static void run(const uint8_t *data, size_t size, size_t piece, const sv_resp_limits *lim,
                outcome *o) {
  memset(o, 0, sizeof *o);
  sv_resp_parser p;
  sv_resp_init(&p);
  char *buf = malloc(size + 1);
  if (!buf) abort();
  size_t len = 0, fed = 0;
  char **argv = NULL;
  size_t *argl = NULL;
  int cap = 0;
  for (;;) {
    size_t used;
    int rc = sv_resp_parse(&p, buf, len, lim, &used);
    if (rc == SV_RESP_MORE) {
      if (fed == size) break;
      size_t k = piece ? piece : size;
      if (k > size - fed) k = size - fed;
      memcpy(buf + len, data + fed, k);
      len += k;
      fed += k;
      continue;
    }
    if (rc == SV_RESP_NOMEM) abort();
    if (rc == SV_RESP_ERROR) {
      o->error = 1;
      memcpy(o->err, p.err, sizeof o->err);
      break;
    }
    /* A request: check its arguments lie in the buffer (or scratch). */
    if (used == 0 || used > len) abort();
    if (p.argc > cap) {
      cap = p.argc;
      argv = realloc(argv, (size_t)cap * sizeof *argv);
      argl = realloc(argl, (size_t)cap * sizeof *argl);
      if (!argv || !argl) abort();
    }
    sv_resp_argv(&p, buf, argv, argl);
    if (!lim->unauth || p.is_inline) {
      /* fine */
    } else if (p.argc > SV_RESP_UNAUTH_MAX_ARGS) {
      abort();
    }
    uint64_t h = 0xcbf29ce484222325ULL;
    for (int i = 0; i < p.argc; i++) {
      if (!p.is_inline) {
        if (argv[i] < buf || argv[i] + argl[i] + 1 > buf + used) abort();
        if ((long long)argl[i] > lim->max_bulk) abort();
        if (lim->unauth && argl[i] > SV_RESP_UNAUTH_MAX_BULK) abort();
      }
      if (argv[i][argl[i]] != '\0') abort();
      h = mix(h, argv[i], argl[i]);
    }
    if (o->n < MAX_EVENTS) o->h[o->n] = h;
    o->n++;
    o->consumed += used;
    memmove(buf, buf + used, len - used);
    len -= used;
  }
  free(argv);
  free(argl);
  free(buf);
  sv_resp_free(&p);
}

static outcome a, b;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  uint8_t ctl = data[0];
  sv_resp_limits lim;
  lim.unauth = ctl & 1;
  lim.max_bulk = (ctl & 2) ? 1024 : 512LL << 20;
  size_t piece = (size_t)(ctl >> 2) + 1;
  run(data + 1, size - 1, 0, &lim, &a);
  run(data + 1, size - 1, piece, &lim, &b);
  /* The "too big ... string" errors depend on how much is buffered (as in
   * redis-server), so a whole-buffer parse may stop with one where a
   * piecewise parse still waits, or the reverse: compare the requests
   * both saw, and the error only when both ended in one. */
  int n = a.n < b.n ? a.n : b.n;
  if (n > MAX_EVENTS) n = MAX_EVENTS;
  for (int i = 0; i < n; i++)
    if (a.h[i] != b.h[i]) abort();
  if (a.error && b.error && !strstr(a.err, "too big") && !strstr(b.err, "too big") &&
      strcmp(a.err, b.err) != 0)
    abort();
  if (!a.error && !b.error && (a.n != b.n || a.consumed != b.consumed)) abort();
  return 0;
}
