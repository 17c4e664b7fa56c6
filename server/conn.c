/*
 * conn.c - plain and TLS socket I/O (see conn.h).
 *
 * TLS rules followed (OpenSSL's SSL_read/SSL_write manual pages): a call
 * that answers SSL_ERROR_WANT_READ or _WANT_WRITE is repeated when the
 * socket is ready; a repeated SSL_write is given at least the bytes of the
 * first try (the output only grows at its end, and
 * SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER lets the bytes move); records
 * already decrypted are drained with SSL_pending since the socket will not
 * signal them again.
 */
#include "conn.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include <openssl/err.h>

static void ssl_errtext(sv_conn *c, const char *what) {
  unsigned long e = ERR_get_error();
  if (e)
    snprintf(c->err, sizeof c->err, "%s: %s", what, ERR_reason_error_string(e));
  else
    snprintf(c->err, sizeof c->err, "%s: %s", what, errno ? strerror(errno) : "connection reset");
  ERR_clear_error();
}

int sv_tls_context(sv_config *cfg, SSL_CTX **out, char *err, size_t errcap) {
  char *cert = sv_config_strdup(cfg, &cfg->tls_cert_file);
  char *key = sv_config_strdup(cfg, &cfg->tls_key_file);
  char *ca = sv_config_strdup(cfg, &cfg->tls_ca_cert_file);
  SSL_CTX *ctx = NULL;
  int rc = -1;
  if (!cert || !key || !ca) {
    snprintf(err, errcap, "out of memory");
    goto done;
  }
  if (!*cert || !*key) {
    snprintf(err, errcap, "tls-port needs tls-cert-file and tls-key-file");
    goto done;
  }
  ctx = SSL_CTX_new(TLS_server_method());
  if (!ctx) {
    snprintf(err, errcap, "SSL_CTX_new failed");
    goto done;
  }
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                            SSL_MODE_RELEASE_BUFFERS);
  if (SSL_CTX_use_certificate_chain_file(ctx, cert) <= 0) {
    snprintf(err, errcap, "cannot load tls-cert-file '%s': %s", cert,
             ERR_reason_error_string(ERR_get_error()));
    goto done;
  }
  if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) <= 0) {
    snprintf(err, errcap, "cannot load tls-key-file '%s': %s", key,
             ERR_reason_error_string(ERR_get_error()));
    goto done;
  }
  if (!SSL_CTX_check_private_key(ctx)) {
    snprintf(err, errcap, "tls-key-file '%s' does not match tls-cert-file '%s'", key, cert);
    goto done;
  }
  long long auth = atomic_load(&cfg->tls_auth_clients);
  if (*ca) {
    if (SSL_CTX_load_verify_locations(ctx, ca, NULL) <= 0) {
      snprintf(err, errcap, "cannot load tls-ca-cert-file '%s': %s", ca,
               ERR_reason_error_string(ERR_get_error()));
      goto done;
    }
    if (auth == SV_TLS_AUTH_YES)
      SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
    else if (auth == SV_TLS_AUTH_OPTIONAL)
      SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
  } else if (auth == SV_TLS_AUTH_YES) {
    snprintf(err, errcap, "tls-auth-clients yes needs tls-ca-cert-file (or set it to no)");
    goto done;
  }
  *out = ctx;
  ctx = NULL;
  rc = 0;
done:
  SSL_CTX_free(ctx);
  free(cert);
  free(key);
  free(ca);
  return rc;
}

int sv_conn_init(sv_conn *c, int fd, SSL_CTX *ctx) {
  memset(c, 0, sizeof *c);
  c->fd = fd;
  if (!ctx) return 0;
  c->ssl = SSL_new(ctx);
  if (!c->ssl) return -1;
  SSL_set_fd(c->ssl, fd);
  SSL_set_accept_state(c->ssl);
  c->handshaking = 1;
  return 0;
}

void sv_conn_close(sv_conn *c) {
  if (c->ssl) {
    if (!c->handshaking) SSL_shutdown(c->ssl); /* one close_notify, no wait */
    SSL_free(c->ssl);
    c->ssl = NULL;
  }
  if (c->fd >= 0) close(c->fd);
  c->fd = -1;
}

/* Maps an OpenSSL result to SV_IO_*. */
static int ssl_result(sv_conn *c, int ret, const char *what) {
  int e = SSL_get_error(c->ssl, ret);
  switch (e) {
  case SSL_ERROR_WANT_READ: return SV_IO_WANT_READ;
  case SSL_ERROR_WANT_WRITE: return SV_IO_WANT_WRITE;
  case SSL_ERROR_ZERO_RETURN: return SV_IO_EOF;
  case SSL_ERROR_SYSCALL:
    if (errno == 0 || errno == ECONNRESET) {
      ERR_clear_error();
      return SV_IO_EOF;
    }
    ssl_errtext(c, what);
    return SV_IO_ERROR;
  default: ssl_errtext(c, what); return SV_IO_ERROR;
  }
}

int sv_conn_handshake(sv_conn *c) {
  if (!c->handshaking) return SV_IO_DONE;
  ERR_clear_error();
  errno = 0;
  int ret = SSL_do_handshake(c->ssl);
  if (ret == 1) {
    c->handshaking = 0;
    return SV_IO_DONE;
  }
  int r = ssl_result(c, ret, "TLS handshake");
  return r == SV_IO_EOF ? SV_IO_ERROR : r;
}

int sv_conn_read(sv_conn *c, char *buf, size_t n, size_t *got) {
  *got = 0;
  if (!c->ssl) {
    for (;;) {
      ssize_t k = read(c->fd, buf, n);
      if (k > 0) {
        *got = (size_t)k;
        return SV_IO_DONE;
      }
      if (k == 0) return SV_IO_EOF;
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return SV_IO_WANT_READ;
      if (errno == ECONNRESET) return SV_IO_EOF;
      snprintf(c->err, sizeof c->err, "read: %s", strerror(errno));
      return SV_IO_ERROR;
    }
  }
  ERR_clear_error();
  errno = 0;
  int k = SSL_read(c->ssl, buf, n > (size_t)1 << 30 ? 1 << 30 : (int)n);
  if (k > 0) {
    *got = (size_t)k;
    return SV_IO_DONE;
  }
  return ssl_result(c, k, "TLS read");
}

int sv_conn_pending(const sv_conn *c) { return c->ssl ? SSL_pending(c->ssl) : 0; }

int sv_conn_write(sv_conn *c, sv_reply *r, size_t *wrote) {
  size_t total = 0;
  int rc = SV_IO_DONE;
  while (r->pending) {
    if (!c->ssl) {
      struct iovec iov[64];
      int n = 0;
      for (sv_chunk *ch = r->head; ch && n < 64; ch = ch->next) {
        if (ch->len == ch->sent) continue;
        iov[n].iov_base = ch->data + ch->sent;
        iov[n].iov_len = ch->len - ch->sent;
        n++;
      }
      ssize_t k = writev(c->fd, iov, n);
      if (k < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
          rc = SV_IO_WANT_WRITE;
          break;
        }
        snprintf(c->err, sizeof c->err, "write: %s", strerror(errno));
        rc = SV_IO_ERROR;
        break;
      }
      sv_reply_consume(r, (size_t)k);
      total += (size_t)k;
    } else {
      sv_chunk *ch = r->head;
      while (ch && ch->len == ch->sent)
        ch = ch->next;
      if (!ch) break;
      size_t n = ch->len - ch->sent;
      ERR_clear_error();
      errno = 0;
      int k = SSL_write(c->ssl, ch->data + ch->sent, n > (size_t)1 << 30 ? 1 << 30 : (int)n);
      if (k <= 0) {
        rc = ssl_result(c, k, "TLS write");
        if (rc == SV_IO_EOF) rc = SV_IO_ERROR;
        break;
      }
      sv_reply_consume(r, (size_t)k);
      total += (size_t)k;
    }
  }
  if (wrote) *wrote = total;
  return rc;
}
