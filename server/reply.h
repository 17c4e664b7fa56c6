/*
 * reply.h - building replies in RESP2 or RESP3 and holding them until the
 * socket takes them.
 *
 * A reply buffer is a list of chunks. Small replies are appended to the last
 * chunk (16 KiB chunks: one allocation serves hundreds of replies); a large
 * bulk gets a chunk of its own sized to fit. Writing to the socket consumes
 * chunks from the head (see conn.h). A buffer can be moved whole to the end
 * of another (sv_reply_move), which is how a worker's replies join a
 * client's output without a copy.
 *
 * The encoders follow the protocol version in r->resp: in RESP2 a map is an
 * array of 2n elements, a null is "$-1", a double a bulk string; in RESP3
 * they are '%', '_' and ','. Error replies are redis-server's: "-ERR " is
 * prefixed unless the message starts with an error code of its own ("-..."),
 * and CR/LF inside a formatted message become spaces.
 *
 * Thread-safety: a reply buffer is used by one thread at a time.
 */
#ifndef SV_REPLY_H
#define SV_REPLY_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#define SV_CHUNK_SIZE (16 * 1024)

typedef struct sv_chunk {
  struct sv_chunk *next;
  size_t len;  /* bytes written into data */
  size_t cap;  /* bytes appends may use (0 for a deferred length until set) */
  size_t sent; /* bytes of data already written to the socket */
  char data[];
} sv_chunk;

typedef struct sv_reply {
  sv_chunk *head, *tail;
  size_t pending;  /* bytes not yet sent */
  int resp;        /* 2 or 3 */
  int oom;         /* an allocation failed: the connection must be closed */
  uint64_t errors; /* error replies added (for INFO's error counters) */
} sv_reply;

/* A deferred length: reserved now, set once the element count is known. */
typedef sv_chunk *sv_reply_deferred;

void sv_reply_init(sv_reply *r, int resp);
/* Frees every chunk. */
void sv_reply_free(sv_reply *r);
/* Appends all of src's chunks to dst and leaves src empty (its resp kept). */
void sv_reply_move(sv_reply *dst, sv_reply *src);

/* Raw protocol bytes. */
void sv_reply_raw(sv_reply *r, const char *s, size_t n);

void sv_reply_ok(sv_reply *r);                    /* +OK */
void sv_reply_status(sv_reply *r, const char *s); /* +s */
void sv_reply_int(sv_reply *r, long long v);      /* :v */
void sv_reply_bulk(sv_reply *r, const void *s, size_t n);
void sv_reply_bulk_cstr(sv_reply *r, const char *s); /* bulk of a C string */
void sv_reply_bulk_ll(sv_reply *r, long long v);     /* bulk holding a number */
void sv_reply_null(sv_reply *r);                     /* $-1 / _ */
void sv_reply_null_array(sv_reply *r);               /* *-1 / _ */
void sv_reply_array(sv_reply *r, long long n);       /* *n */
void sv_reply_map(sv_reply *r, long long n);         /* *2n / %n */
void sv_reply_set(sv_reply *r, long long n);         /* *n / ~n */
void sv_reply_bool(sv_reply *r, int v);              /* :1 :0 / #t #f */
void sv_reply_double(sv_reply *r, double v);         /* bulk / ,v */
/* Verbatim text (INFO, CLIENT LIST): a bulk in RESP2, "=...txt:" in RESP3. */
void sv_reply_verbatim(sv_reply *r, const char *s, size_t n);
/* An error; msg without the leading '-' gets "ERR " before it. */
void sv_reply_error(sv_reply *r, const char *msg);
void sv_reply_errorf(sv_reply *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Redis's "wrong number of arguments for 'name' command". */
void sv_reply_arity_error(sv_reply *r, const char *name);

/* Deferred aggregate lengths (KEYS, SCAN: the count is known at the end). */
sv_reply_deferred sv_reply_defer(sv_reply *r);
void sv_reply_set_array(sv_reply *r, sv_reply_deferred d, long long n);
void sv_reply_set_map(sv_reply *r, sv_reply_deferred d, long long n);

/* Drops the first n unsent bytes (after the socket took them). */
void sv_reply_consume(sv_reply *r, size_t n);

#endif /* SV_REPLY_H */
