/*
 * cmd_expire.c - expiry: EXPIRE PEXPIRE EXPIREAT PEXPIREAT (with NX XX GT
 * LT), TTL PTTL EXPIRETIME PEXPIRETIME, PERSIST. Semantics and errors are
 * redis-server 7.0's (expire.c there): a time already past deletes the key
 * at once; TTL answers -2 for a missing key and -1 for a key without an
 * expiry. Expiry times are kept outside the values (store.h), and a key
 * whose time has passed is missing for every reader from that moment.
 */
#include <limits.h>
#include <string.h>

#include "client.h"
#include "server.h"
#include "strutil.h"

#define E_NX 1
#define E_XX 2
#define E_GT 4
#define E_LT 8

static void expire_generic(sv_ctx *x, long long basetime, int seconds) {
  int flags = 0;
  for (int j = 3; j < x->argc; j++) {
    const char *o = x->argv[j];
    size_t l = x->argl[j];
    if (sv_streq_ci(o, l, "nx"))
      flags |= E_NX;
    else if (sv_streq_ci(o, l, "xx"))
      flags |= E_XX;
    else if (sv_streq_ci(o, l, "gt"))
      flags |= E_GT;
    else if (sv_streq_ci(o, l, "lt"))
      flags |= E_LT;
    else {
      sv_reply_errorf(x->r, "Unsupported option %s", o);
      return;
    }
  }
  if ((flags & E_NX) && (flags & (E_XX | E_GT | E_LT))) {
    sv_reply_error(x->r, "NX and XX, GT or LT options at the same time are not compatible");
    return;
  }
  if ((flags & E_GT) && (flags & E_LT)) {
    sv_reply_error(x->r, "GT and LT options at the same time are not compatible");
    return;
  }
  long long when;
  if (!sv_str2ll(x->argv[2], x->argl[2], &when)) {
    sv_reply_error(x->r, sv_err_notint);
    return;
  }
  if (seconds) {
    if (when > LLONG_MAX / 1000 || when < LLONG_MIN / 1000) goto invalid;
    when *= 1000;
  }
  if (when > LLONG_MAX - basetime) goto invalid;
  when += basetime;

  const char *v;
  size_t vl;
  int64_t cur;
  int rc = sv_key_get(x, x->argv[1], x->argl[1], &v, &vl, &cur);
  if (rc < 0) {
    sv_reply_engine_error(x->r, rc);
    return;
  }
  if (rc == 1) {
    sv_reply_int(x->r, 0);
    return;
  }
  if (flags) {
    long long c = cur == SV_NO_EXPIRE ? -1 : cur;
    if ((flags & E_NX) && c != -1) goto zero;
    if ((flags & E_XX) && c == -1) goto zero;
    if ((flags & E_GT) && (when <= c || c == -1)) goto zero;
    if ((flags & E_LT) && c != -1 && when >= c) goto zero;
  }
  if (when <= sv_now_ms())
    rc = sv_wctx_del(x->w, x->dbi, x->argv[1], x->argl[1]);
  else
    rc = sv_wctx_expire(x->w, x->dbi, x->argv[1], x->argl[1], when);
  if (rc) {
    sv_reply_engine_error(x->r, rc);
    return;
  }
  sv_reply_int(x->r, 1);
  return;
zero:
  sv_reply_int(x->r, 0);
  return;
invalid:
  sv_reply_errorf(x->r, "invalid expire time in '%s' command", x->cmd->name);
}

void sv_cmd_expire(sv_ctx *x) { expire_generic(x, sv_now_ms(), 1); }
void sv_cmd_pexpire(sv_ctx *x) { expire_generic(x, sv_now_ms(), 0); }
void sv_cmd_expireat(sv_ctx *x) { expire_generic(x, 0, 1); }
void sv_cmd_pexpireat(sv_ctx *x) { expire_generic(x, 0, 0); }

/* TTL PTTL EXPIRETIME PEXPIRETIME */
static void ttl_generic(sv_ctx *x, int ms, int absolute) {
  const char *v;
  size_t vl;
  int64_t exp;
  int rc = sv_key_get(x, x->argv[1], x->argl[1], &v, &vl, &exp);
  if (rc < 0) {
    sv_reply_engine_error(x->r, rc);
    return;
  }
  if (rc == 1) {
    sv_reply_int(x->r, -2);
    return;
  }
  if (exp == SV_NO_EXPIRE) {
    sv_reply_int(x->r, -1);
    return;
  }
  long long t = absolute ? exp : exp - sv_now_ms();
  if (t < 0) t = 0;
  sv_reply_int(x->r, ms ? t : (t + 500) / 1000);
}

void sv_cmd_ttl(sv_ctx *x) { ttl_generic(x, 0, 0); }
void sv_cmd_pttl(sv_ctx *x) { ttl_generic(x, 1, 0); }
void sv_cmd_expiretime(sv_ctx *x) { ttl_generic(x, 0, 1); }
void sv_cmd_pexpiretime(sv_ctx *x) { ttl_generic(x, 1, 1); }

void sv_cmd_persist(sv_ctx *x) {
  const char *v;
  size_t vl;
  int64_t exp;
  int rc = sv_key_get(x, x->argv[1], x->argl[1], &v, &vl, &exp);
  if (rc < 0) {
    sv_reply_engine_error(x->r, rc);
    return;
  }
  if (rc == 1 || exp == SV_NO_EXPIRE) {
    sv_reply_int(x->r, 0);
    return;
  }
  rc = sv_wctx_expire(x->w, x->dbi, x->argv[1], x->argl[1], SV_NO_EXPIRE);
  if (rc) {
    sv_reply_engine_error(x->r, rc);
    return;
  }
  sv_reply_int(x->r, 1);
}
