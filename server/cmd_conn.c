/*
 * cmd_conn.c - connection commands: PING ECHO QUIT HELLO AUTH SELECT and
 * CLIENT SETNAME/GETNAME/ID/SETINFO/LIST/INFO/HELP. Replies and errors are
 * redis-server 7's.
 *
 * Authentication: there is one user, "default", whose password is
 * requirepass (none when it is empty, and then any password is accepted,
 * as redis-server's "nopass" default user does). Passwords are compared in
 * constant time.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "server.h"
#include "strutil.h"

void sv_cmd_ping(sv_ctx *x) {
  if (x->argc > 2) {
    sv_reply_arity_error(x->r, "ping");
    return;
  }
  if (x->argc == 1)
    sv_reply_raw(x->r, "+PONG\r\n", 7);
  else
    sv_reply_bulk(x->r, x->argv[1], x->argl[1]);
}

void sv_cmd_echo(sv_ctx *x) { sv_reply_bulk(x->r, x->argv[1], x->argl[1]); }

void sv_cmd_quit(sv_ctx *x) {
  sv_reply_ok(x->r);
  x->c->flags |= SV_CF_CLOSE_AFTER_REPLY;
}

/* 1 when user/pass are the default user's credentials. */
static int check_password(const char *user, size_t ulen, const char *pass, size_t plen) {
  if (ulen != 7 || memcmp(user, "default", 7) != 0) return 0;
  char *want = sv_config_strdup(&sv_srv->cfg, &sv_srv->cfg.requirepass);
  if (!want) return 0;
  int ok = !want[0] || sv_secure_equal(pass, plen, want, strlen(want));
  free(want);
  return ok;
}

static int password_configured(void) {
  char *want = sv_config_strdup(&sv_srv->cfg, &sv_srv->cfg.requirepass);
  int set = want && want[0];
  free(want);
  return set;
}

void sv_cmd_auth(sv_ctx *x) {
  if (x->argc > 3) {
    sv_reply_error(x->r, sv_err_syntax);
    return;
  }
  int ok;
  if (x->argc == 2) {
    if (!password_configured()) {
      sv_reply_error(x->r, "AUTH <password> called without any password configured for the "
                           "default user. Are you sure your configuration is correct?");
      return;
    }
    ok = check_password("default", 7, x->argv[1], x->argl[1]);
  } else {
    ok = check_password(x->argv[1], x->argl[1], x->argv[2], x->argl[2]);
  }
  if (ok) {
    x->c->authed = 1;
    sv_reply_ok(x->r);
  } else {
    sv_reply_error(x->r, "-WRONGPASS invalid username-password pair or user is disabled.");
  }
}

/* Client names: printable ASCII without spaces (CLIENT LIST stays
 * splittable by spaces); "" removes the name. */
static int set_name(sv_client *c, const char *s, size_t n, sv_reply *r) {
  for (size_t i = 0; i < n; i++) {
    if (s[i] < '!' || s[i] > '~') {
      sv_reply_error(r, "Client names cannot contain spaces, newlines or special characters.");
      return -1;
    }
  }
  char *name = NULL;
  if (n) {
    name = malloc(n + 1);
    if (!name) {
      sv_reply_error(r, "out of memory");
      return -1;
    }
    memcpy(name, s, n + 1);
  }
  pthread_mutex_lock(&sv_srv->clients_mu);
  char *old = c->name;
  c->name = name;
  pthread_mutex_unlock(&sv_srv->clients_mu);
  free(old);
  return 0;
}

void sv_cmd_hello(sv_ctx *x) {
  long long ver = 0;
  int j = 1;
  if (x->argc >= 2) {
    if (!sv_str2ll(x->argv[1], x->argl[1], &ver)) {
      sv_reply_error(x->r, "Protocol version is not an integer or out of range");
      return;
    }
    j = 2;
    if (ver < 2 || ver > 3) {
      sv_reply_error(x->r, "-NOPROTO unsupported protocol version");
      return;
    }
  }
  for (; j < x->argc; j++) {
    int more = x->argc - 1 - j;
    if (sv_streq_ci(x->argv[j], x->argl[j], "auth") && more >= 2) {
      if (!check_password(x->argv[j + 1], x->argl[j + 1], x->argv[j + 2], x->argl[j + 2])) {
        sv_reply_error(x->r, "-WRONGPASS invalid username-password pair or user is disabled.");
        return;
      }
      x->c->authed = 1;
      j += 2;
    } else if (sv_streq_ci(x->argv[j], x->argl[j], "setname") && more) {
      if (set_name(x->c, x->argv[j + 1], x->argl[j + 1], x->r)) return;
      j++;
    } else {
      sv_reply_errorf(x->r, "Syntax error in HELLO option '%s'", x->argv[j]);
      return;
    }
  }
  if (!x->c->authed && password_configured()) {
    sv_reply_error(x->r, "-NOAUTH HELLO must be called with the client already authenticated, "
                         "otherwise the HELLO AUTH <user> <pass> option can be used to "
                         "authenticate the client and select the RESP protocol version at the "
                         "same time");
    return;
  }
  if (ver) {
    pthread_mutex_lock(&sv_srv->clients_mu); /* CLIENT LIST reads it */
    x->c->resp = (int)ver;
    pthread_mutex_unlock(&sv_srv->clients_mu);
    x->r->resp = (int)ver;
  }
  sv_reply_map(x->r, 7);
  sv_reply_bulk_cstr(x->r, "server");
  sv_reply_bulk_cstr(x->r, "redis");
  sv_reply_bulk_cstr(x->r, "version");
  sv_reply_bulk_cstr(x->r, SV_REDIS_VERSION);
  sv_reply_bulk_cstr(x->r, "proto");
  sv_reply_int(x->r, x->c->resp);
  sv_reply_bulk_cstr(x->r, "id");
  sv_reply_int(x->r, (long long)x->c->id);
  sv_reply_bulk_cstr(x->r, "mode");
  sv_reply_bulk_cstr(x->r, "standalone");
  sv_reply_bulk_cstr(x->r, "role");
  sv_reply_bulk_cstr(x->r, "master");
  sv_reply_bulk_cstr(x->r, "modules");
  sv_reply_array(x->r, 0);
}

void sv_cmd_select(sv_ctx *x) {
  long long id;
  if (!sv_str2ll(x->argv[1], x->argl[1], &id)) {
    sv_reply_error(x->r, sv_err_notint);
    return;
  }
  if (id < -2147483648LL || id > 2147483647LL) {
    sv_reply_error(x->r, "value is out of range, value must between -2147483648 and 2147483647");
    return;
  }
  long long n = atomic_load_explicit(&sv_srv->cfg.databases, memory_order_relaxed);
  if (id < 0 || id >= n) {
    sv_reply_error(x->r, "DB index is out of range");
    return;
  }
  strata_subdb *sdb;
  int rc = sv_store_subdb(sv_srv->store, (int)id, 0, &sdb);
  if (rc && rc != STRATA_ENOTFOUND) {
    sv_reply_engine_error(x->r, rc);
    return;
  }
  pthread_mutex_lock(&sv_srv->clients_mu);
  x->c->db = (int)id;
  pthread_mutex_unlock(&sv_srv->clients_mu);
  x->dbi = (int)id;
  sv_reply_ok(x->r);
}

void sv_cmd_client_setname(sv_ctx *x) {
  if (set_name(x->c, x->argv[2], x->argl[2], x->r) == 0) sv_reply_ok(x->r);
}

void sv_cmd_client_getname(sv_ctx *x) {
  pthread_mutex_lock(&sv_srv->clients_mu);
  if (x->c->name)
    sv_reply_bulk_cstr(x->r, x->c->name);
  else
    sv_reply_null(x->r);
  pthread_mutex_unlock(&sv_srv->clients_mu);
}

void sv_cmd_client_id(sv_ctx *x) { sv_reply_int(x->r, (long long)x->c->id); }

void sv_cmd_client_setinfo(sv_ctx *x) {
  const char *attr = x->argv[2];
  int is_name = sv_streq_ci(attr, x->argl[2], "lib-name");
  int is_ver = sv_streq_ci(attr, x->argl[2], "lib-ver");
  if (!is_name && !is_ver) {
    sv_reply_errorf(x->r, "Unrecognized option '%s'", attr);
    return;
  }
  for (size_t i = 0; i < x->argl[3]; i++) {
    char ch = x->argv[3][i];
    if (ch < '!' || ch > '~') {
      sv_reply_errorf(x->r, "%s cannot contain spaces, newlines or special characters.",
                      is_name ? "lib-name" : "lib-ver");
      return;
    }
  }
  char *v = x->argl[3] ? strdup(x->argv[3]) : NULL;
  pthread_mutex_lock(&sv_srv->clients_mu);
  char **field = is_name ? &x->c->lib_name : &x->c->lib_ver;
  char *old = *field;
  *field = v;
  pthread_mutex_unlock(&sv_srv->clients_mu);
  free(old);
  sv_reply_ok(x->r);
}

/* One CLIENT LIST line (redis-server's fields; those this server does not
 * track are 0). REQUIRE: clients_mu held. */
static int client_line(sv_client *c, char *buf, size_t cap, int64_t now) {
  int mc = atomic_load_explicit(&c->multi_count, memory_order_relaxed);
  int64_t last = atomic_load_explicit(&c->last_ms, memory_order_relaxed);
  const char *cmd = atomic_load_explicit(&c->last_cmd, memory_order_relaxed);
  return snprintf(buf, cap,
                  "id=%llu addr=%s laddr=%s fd=%d name=%s age=%lld idle=%lld flags=%s db=%d "
                  "sub=0 psub=0 ssub=0 multi=%d qbuf=0 qbuf-free=0 argv-mem=0 multi-mem=0 "
                  "rbs=0 rbp=0 obl=0 oll=0 omem=0 tot-mem=0 events=r cmd=%s user=default "
                  "redir=-1 resp=%d lib-name=%s lib-ver=%s\n",
                  (unsigned long long)c->id, c->addr, c->laddr, c->conn.fd, c->name ? c->name : "",
                  (long long)((now - c->ctime_ms) / 1000), (long long)((now - last) / 1000),
                  mc >= 0 ? "x" : "N", c->db, mc, cmd ? cmd : "NULL", c->resp,
                  c->lib_name ? c->lib_name : "", c->lib_ver ? c->lib_ver : "");
}

void sv_cmd_client_list(sv_ctx *x) {
  /* Options: TYPE normal|master|replica|pubsub, ID id... */
  int only_ids = 0, type_none = 0;
  if (x->argc > 2) {
    if (x->argc == 4 && sv_streq_ci(x->argv[2], x->argl[2], "type")) {
      if (sv_streq_ci(x->argv[3], x->argl[3], "normal"))
        type_none = 0;
      else if (sv_streq_ci(x->argv[3], x->argl[3], "master") ||
               sv_streq_ci(x->argv[3], x->argl[3], "replica") ||
               sv_streq_ci(x->argv[3], x->argl[3], "slave") ||
               sv_streq_ci(x->argv[3], x->argl[3], "pubsub"))
        type_none = 1;
      else {
        sv_reply_errorf(x->r, "Unknown client type '%s'", x->argv[3]);
        return;
      }
    } else if (x->argc >= 4 && sv_streq_ci(x->argv[2], x->argl[2], "id")) {
      only_ids = 1;
      for (int i = 3; i < x->argc; i++) {
        long long id;
        if (!sv_str2ll(x->argv[i], x->argl[i], &id) || id <= 0) {
          sv_reply_error(x->r, "Invalid client ID");
          return;
        }
      }
    } else {
      sv_reply_error(x->r, sv_err_syntax);
      return;
    }
  }
  int64_t now = sv_now_ms();
  size_t cap = 4096, len = 0;
  char *out = malloc(cap);
  if (!out) {
    sv_reply_error(x->r, "out of memory");
    return;
  }
  pthread_mutex_lock(&sv_srv->clients_mu);
  for (sv_client *c = sv_srv->all; c && !type_none; c = c->gnext) {
    if (only_ids) {
      int hit = 0;
      for (int i = 3; i < x->argc; i++) {
        long long id;
        sv_str2ll(x->argv[i], x->argl[i], &id);
        if ((unsigned long long)id == c->id) hit = 1;
      }
      if (!hit) continue;
    }
    char line[1024];
    int n = client_line(c, line, sizeof line, now);
    if (n < 0) continue;
    if ((size_t)n >= sizeof line) n = sizeof line - 1;
    if (len + (size_t)n > cap) {
      while (len + (size_t)n > cap)
        cap *= 2;
      char *o = realloc(out, cap);
      if (!o) break;
      out = o;
    }
    memcpy(out + len, line, (size_t)n);
    len += (size_t)n;
  }
  pthread_mutex_unlock(&sv_srv->clients_mu);
  sv_reply_verbatim(x->r, out, len);
  free(out);
}

void sv_cmd_client_info(sv_ctx *x) {
  char line[1024];
  pthread_mutex_lock(&sv_srv->clients_mu);
  int n = client_line(x->c, line, sizeof line, sv_now_ms());
  pthread_mutex_unlock(&sv_srv->clients_mu);
  if (n < 0) n = 0;
  if ((size_t)n >= sizeof line) n = sizeof line - 1;
  sv_reply_verbatim(x->r, line, (size_t)n);
}

void sv_cmd_client_help(sv_ctx *x) { sv_cmd_container_help(x, "client"); }
