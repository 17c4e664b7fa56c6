/*
 * resp.h - the request side of RESP (the Redis serialization protocol, RESP2
 * and RESP3 send requests the same way): an incremental parser written as a
 * state machine over the client's query buffer. The grammar it accepts is at
 * the top of resp.c; it is redis-server 7.0's, byte for byte, including its
 * protocol-error replies, so a client sees the same outcome from both servers.
 *
 * Zero copy: multibulk arguments are returned as pointers into the caller's
 * buffer (the byte after each argument is overwritten with a NUL, so every
 * argument is also a C string); inline-command arguments, which need
 * unquoting, are written to the parser's own scratch buffer.
 *
 * Limits are checked before anything is allocated: an argument count or bulk
 * length is compared with the limits the moment its line is complete, and the
 * argument vector grows with the arguments that actually arrive, never with
 * the count a client announced.
 *
 * Thread-safety: a parser belongs to one client and is used by one thread at
 * a time.
 */
#ifndef SV_RESP_H
#define SV_RESP_H

#include <stddef.h>

/* redis-server's fixed protocol limits (server.h in redis 7.0). */
#define SV_RESP_INLINE_MAX                                                                         \
  (64 * 1024)                         /* bytes of an inline request line, and                      \
                                         of a count line not yet ended */
#define SV_RESP_UNAUTH_MAX_ARGS 10    /* arguments before authentication */
#define SV_RESP_UNAUTH_MAX_BULK 16384 /* bytes per argument before auth */

typedef struct sv_resp_limits {
  long long max_bulk; /* proto-max-bulk-len: largest bulk argument, bytes */
  int unauth;         /* non-zero: the client has not authenticated yet, so
                         the unauthenticated limits apply too */
} sv_resp_limits;

typedef struct sv_resp_arg {
  size_t off; /* offset from the start of the request (multibulk) or into
                 the scratch buffer (inline) */
  size_t len;
} sv_resp_arg;

typedef struct sv_resp_parser {
  int state;         /* SV_RESP_S_* in resp.c */
  int is_inline;     /* the current request is an inline one */
  size_t cursor;     /* bytes of the current request parsed so far */
  long long mb_left; /* bulk arguments still to read */
  long long bulk_len;
  int argc;
  int argv_cap;
  sv_resp_arg *args;
  char *scratch; /* inline arguments, unquoted; NUL after each */
  size_t scratch_cap;
  char err[96]; /* the protocol error, without "-" and CRLF, after
                   SV_RESP_ERROR */
} sv_resp_parser;

enum {
  SV_RESP_MORE = 0,    /* the request is not complete: call again with more */
  SV_RESP_REQUEST = 1, /* a whole request was parsed (it may have no
                          arguments: "*0\r\n", "*-1\r\n" or an empty line,
                          which redis-server skips) */
  SV_RESP_ERROR = 2,   /* a protocol error (message in p->err); the
                          connection must be answered and closed */
  SV_RESP_NOMEM = 3    /* allocation failed */
};

/* Initialises an empty parser. */
void sv_resp_init(sv_resp_parser *p);
/* Frees what the parser holds. */
void sv_resp_free(sv_resp_parser *p);

/* Parses the request that begins at buf[0] (len bytes available). buf must
 * stay the same bytes between calls that return SV_RESP_MORE, though it may
 * move (the caller may memmove or realloc it) and grow at its end. Writes
 * inside the request (NULs after multibulk arguments).
 *
 * SV_RESP_REQUEST: *consumed is the request's length; the arguments are
 * read with sv_resp_argv() before the next call, and the parser is ready
 * for the request that begins at buf + *consumed.
 * SV_RESP_MORE: nothing is consumed; call again with the same start and
 * more bytes. SV_RESP_ERROR / SV_RESP_NOMEM: the parser must be reset
 * (sv_resp_reset) before another use. */
int sv_resp_parse(sv_resp_parser *p, char *buf, size_t len, const sv_resp_limits *lim,
                  size_t *consumed);

/* Fills argv[i] / argl[i] (room for p->argc entries) with the arguments of
 * the request just parsed from buf (the same start that was passed to
 * sv_resp_parse). The pointers stay valid while buf is unchanged and until
 * the next sv_resp_parse/sv_resp_reset call. Each argument is followed by
 * a NUL byte. */
void sv_resp_argv(const sv_resp_parser *p, char *buf, char **argv, size_t *argl);

/* Bytes still missing to complete the bulk argument being read, when the
 * request has `have` bytes so far; 0 when not inside a bulk. Lets the
 * reader size a read for a large argument. */
size_t sv_resp_bulk_need(const sv_resp_parser *p, size_t have);

/* Forgets any partial request. */
void sv_resp_reset(sv_resp_parser *p);

#endif /* SV_RESP_H */
