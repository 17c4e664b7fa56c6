/*
 * conn.h - a client socket, plain or TLS (OpenSSL from Debian), read and
 * written without blocking. The event loop (libevent) tells when a socket
 * is readable or writable; these functions then move bytes and say what
 * the connection waits for next. TLS connections finish their handshake
 * here first.
 *
 * Thread-safety: a connection is used by the one thread that owns its
 * client at a time.
 */
#ifndef SV_CONN_H
#define SV_CONN_H

#include <stddef.h>
#include <sys/types.h>

#include <openssl/ssl.h>

#include "config.h"
#include "reply.h"

typedef struct sv_conn {
  int fd;
  SSL *ssl;        /* NULL for a plain connection */
  int handshaking; /* TLS handshake not finished */
  char err[128];   /* what the last failure was (for the log) */
} sv_conn;

enum {
  SV_IO_DONE = 0,       /* finished (or: no more to do now) */
  SV_IO_WANT_READ = 1,  /* call again once the socket is readable */
  SV_IO_WANT_WRITE = 2, /* call again once the socket is writable */
  SV_IO_EOF = 3,        /* the peer closed the connection */
  SV_IO_ERROR = 4       /* a socket or TLS error (conn->err says which) */
};

/* Creates the server's TLS context from tls-cert-file, tls-key-file and
 * (optional) tls-ca-cert-file / tls-auth-clients. TLS 1.2 and 1.3.
 * Returns 0, or -1 with a message in err. */
int sv_tls_context(sv_config *cfg, SSL_CTX **out, char *err, size_t errcap);

/* Wraps fd; ctx NULL for a plain connection. Returns 0 or -1 (no memory). */
int sv_conn_init(sv_conn *c, int fd, SSL_CTX *ctx);
/* Frees TLS state and closes the socket (a TLS close_notify is attempted
 * without waiting). */
void sv_conn_close(sv_conn *c);

/* Advances a TLS handshake: SV_IO_DONE when finished, SV_IO_WANT_* or
 * SV_IO_ERROR. */
int sv_conn_handshake(sv_conn *c);

/* Reads up to n bytes into buf. Returns SV_IO_DONE with *got > 0 bytes, or
 * SV_IO_WANT_READ / SV_IO_WANT_WRITE (nothing now), SV_IO_EOF, SV_IO_ERROR. */
int sv_conn_read(sv_conn *c, char *buf, size_t n, size_t *got);
/* Bytes TLS has decrypted but not yet handed out (no socket event will
 * announce them). 0 for plain connections. */
int sv_conn_pending(const sv_conn *c);

/* Writes as much of r's pending bytes as the socket takes now, consuming
 * them from r; *wrote (may be NULL) is the number of bytes written.
 * Returns SV_IO_DONE when r is empty, SV_IO_WANT_WRITE / SV_IO_WANT_READ
 * when the socket is full, or SV_IO_ERROR. */
int sv_conn_write(sv_conn *c, sv_reply *r, size_t *wrote);

#endif /* SV_CONN_H */
