/*
 * cmd_string.c - the string commands: GET SET SETNX SETEX PSETEX GETSET
 * GETDEL GETEX MGET MSET MSETNX STRLEN APPEND GETRANGE SETRANGE INCR DECR
 * INCRBY DECRBY INCRBYFLOAT.
 *
 * Semantics, option parsing and error replies follow redis-server 7.0
 * (t_string.c there): the same option combinations are syntax errors, the
 * same checks run in the same order, so the same request gets the same
 * reply. The value bytes are stored as they are: SET k v makes the record
 * k -> v. Writes run inside a write context (x->w): their keys are locked,
 * reads see the run's earlier writes, and the run commits as one batch.
 */
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "server.h"
#include "strutil.h"

#define F_NX (1 << 0)
#define F_XX (1 << 1)
#define F_EX (1 << 2)
#define F_PX (1 << 3)
#define F_KEEPTTL (1 << 4)
#define F_GET (1 << 5)
#define F_EXAT (1 << 6)
#define F_PXAT (1 << 7)
#define F_PERSIST (1 << 8)
#define F_ANY_EXPIRE (F_EX | F_PX | F_EXAT | F_PXAT)

enum { FOR_GET, FOR_SET };

static long long max_bulk(void) {
  return atomic_load_explicit(&sv_srv->cfg.proto_max_bulk_len, memory_order_relaxed);
}

/* redis-server's checkStringLength: size + append within proto-max-bulk-len. */
static int check_length(sv_ctx *x, long long size, long long append) {
  unsigned long long total = (unsigned long long)size + (unsigned long long)append;
  if (total > (unsigned long long)max_bulk() || (long long)total < size) {
    sv_reply_error(x->r, "string exceeds maximum allowed size (proto-max-bulk-len)");
    return -1;
  }
  return 0;
}

/* SET/GETEX options (parseExtendedStringArgumentsOrReply). Returns 0, or
 * -1 after replying a syntax error. *exp_arg is the index of the time. */
static int parse_options(sv_ctx *x, int kind, int *flags, int *exp_arg) {
  for (int j = kind == FOR_GET ? 2 : 3; j < x->argc; j++) {
    const char *o = x->argv[j];
    size_t l = x->argl[j];
    int next = j < x->argc - 1;
    int f = *flags;
    if (sv_streq_ci(o, l, "nx") && !(f & F_XX) && kind == FOR_SET) {
      *flags |= F_NX;
    } else if (sv_streq_ci(o, l, "xx") && !(f & F_NX) && kind == FOR_SET) {
      *flags |= F_XX;
    } else if (sv_streq_ci(o, l, "get") && kind == FOR_SET) {
      *flags |= F_GET;
    } else if (sv_streq_ci(o, l, "keepttl") && !(f & (F_PERSIST | F_ANY_EXPIRE)) &&
               kind == FOR_SET) {
      *flags |= F_KEEPTTL;
    } else if (sv_streq_ci(o, l, "persist") && kind == FOR_GET &&
               !(f & (F_ANY_EXPIRE | F_KEEPTTL))) {
      *flags |= F_PERSIST;
    } else if (sv_streq_ci(o, l, "ex") && !(f & (F_KEEPTTL | F_PERSIST | F_EXAT | F_PX | F_PXAT)) &&
               next) {
      *flags |= F_EX;
      *exp_arg = ++j;
    } else if (sv_streq_ci(o, l, "px") && !(f & (F_KEEPTTL | F_PERSIST | F_EX | F_EXAT | F_PXAT)) &&
               next) {
      *flags |= F_PX;
      *exp_arg = ++j;
    } else if (sv_streq_ci(o, l, "exat") && !(f & (F_KEEPTTL | F_PERSIST | F_EX | F_PX | F_PXAT)) &&
               next) {
      *flags |= F_EXAT;
      *exp_arg = ++j;
    } else if (sv_streq_ci(o, l, "pxat") && !(f & (F_KEEPTTL | F_PERSIST | F_EX | F_EXAT | F_PX)) &&
               next) {
      *flags |= F_PXAT;
      *exp_arg = ++j;
    } else {
      sv_reply_error(x->r, sv_err_syntax);
      return -1;
    }
  }
  return 0;
}

/* The absolute expiry time (ms) of an EX/PX/EXAT/PXAT argument
 * (getExpireMillisecondsOrReply). seconds: the unit of s; relative: EX or
 * PX. Returns 0, or -1 after replying the error. */
static int expire_time(sv_ctx *x, const char *s, size_t n, int seconds, int relative,
                       long long *out) {
  long long v;
  if (!sv_str2ll(s, n, &v)) {
    sv_reply_error(x->r, sv_err_notint);
    return -1;
  }
  if (v <= 0 || (seconds && v > LLONG_MAX / 1000)) goto invalid;
  if (seconds) v *= 1000;
  if (relative) {
    long long now = sv_now_ms();
    if (v > LLONG_MAX - now) goto invalid;
    v += now;
  }
  *out = v;
  return 0;
invalid:
  sv_reply_errorf(x->r, "invalid expire time in '%s' command", x->cmd->name);
  return -1;
}

/* The current value (0), missing (1) or an error already replied (-1). */
static int lookup(sv_ctx *x, int arg, const char **v, size_t *vl, int64_t *exp) {
  int rc = sv_key_get(x, x->argv[arg], x->argl[arg], v, vl, exp);
  if (rc < 0) {
    sv_reply_engine_error(x->r, rc);
    return -1;
  }
  return rc;
}

static int put(sv_ctx *x, int arg, const char *v, size_t vl, int64_t expire, int borrow) {
  int rc = sv_wctx_put(x->w, x->dbi, x->argv[arg], x->argl[arg], v, vl, expire, borrow);
  if (rc) sv_reply_engine_error(x->r, rc);
  return rc;
}

void sv_cmd_get(sv_ctx *x) {
  const char *v;
  size_t vl;
  int rc = lookup(x, 1, &v, &vl, NULL);
  if (rc == 0)
    sv_reply_bulk(x->r, v, vl);
  else if (rc == 1)
    sv_reply_null(x->r);
}

/* setGenericCommand: SET, SETNX, SETEX, PSETEX. ok/abort: the replies on
 * success and on an NX/XX refusal (NULL: +OK / null). */
static void set_generic(sv_ctx *x, int flags, int exp_arg, int seconds, const char *ok_reply,
                        const char *abort_reply, int val_arg) {
  long long when = SV_NO_EXPIRE;
  if (exp_arg && expire_time(x, x->argv[exp_arg], x->argl[exp_arg], seconds,
                             (flags & (F_EX | F_PX)) != 0, &when))
    return;
  const char *old = NULL;
  size_t oldl = 0;
  int found = 0;
  if (flags & (F_NX | F_XX | F_GET)) {
    /* Only these need the current value: a plain SET writes blindly. */
    int rc = lookup(x, 1, &old, &oldl, NULL);
    if (rc < 0) return;
    found = rc == 0;
  }
  int refused = ((flags & F_NX) && found) || ((flags & F_XX) && !found);
  if (!refused) {
    int64_t expire = (flags & F_KEEPTTL) ? SV_KEEP_EXPIRE : exp_arg ? when : SV_NO_EXPIRE;
    if (put(x, 1, x->argv[val_arg], x->argl[val_arg], expire, 1)) return;
  }
  /* old stays valid across the put: it is the run's copy. */
  if (flags & F_GET) {
    if (found)
      sv_reply_bulk(x->r, old, oldl);
    else
      sv_reply_null(x->r);
  } else if (refused) {
    if (abort_reply)
      sv_reply_raw(x->r, abort_reply, strlen(abort_reply));
    else
      sv_reply_null(x->r);
  } else if (ok_reply) {
    sv_reply_raw(x->r, ok_reply, strlen(ok_reply));
  } else {
    sv_reply_ok(x->r);
  }
}

void sv_cmd_set(sv_ctx *x) {
  int flags = 0, exp_arg = 0;
  if (parse_options(x, FOR_SET, &flags, &exp_arg)) return;
  set_generic(x, flags, exp_arg, (flags & (F_EX | F_EXAT)) != 0, NULL, NULL, 2);
}

void sv_cmd_setnx(sv_ctx *x) { set_generic(x, F_NX, 0, 0, ":1\r\n", ":0\r\n", 2); }

void sv_cmd_setex(sv_ctx *x) { set_generic(x, F_EX, 2, 1, NULL, NULL, 3); }

void sv_cmd_psetex(sv_ctx *x) { set_generic(x, F_PX, 2, 0, NULL, NULL, 3); }

void sv_cmd_getset(sv_ctx *x) {
  const char *old;
  size_t oldl;
  int rc = lookup(x, 1, &old, &oldl, NULL);
  if (rc < 0) return;
  int found = rc == 0;
  if (put(x, 1, x->argv[2], x->argl[2], SV_NO_EXPIRE, 1)) return;
  /* old stays valid across the put: it is the run's copy. */
  if (found)
    sv_reply_bulk(x->r, old, oldl);
  else
    sv_reply_null(x->r);
}

void sv_cmd_getdel(sv_ctx *x) {
  const char *old;
  size_t oldl;
  int rc = lookup(x, 1, &old, &oldl, NULL);
  if (rc < 0) return;
  if (rc == 1) {
    sv_reply_null(x->r);
    return;
  }
  rc = sv_wctx_del(x->w, x->dbi, x->argv[1], x->argl[1]);
  if (rc) {
    sv_reply_engine_error(x->r, rc);
    return;
  }
  sv_reply_bulk(x->r, old, oldl);
}

void sv_cmd_getex(sv_ctx *x) {
  int flags = 0, exp_arg = 0;
  if (parse_options(x, FOR_GET, &flags, &exp_arg)) return;
  const char *v;
  size_t vl;
  int64_t cur;
  int rc = lookup(x, 1, &v, &vl, &cur);
  if (rc < 0) return;
  if (rc == 1) {
    sv_reply_null(x->r);
    return;
  }
  long long when = 0;
  if (exp_arg && expire_time(x, x->argv[exp_arg], x->argl[exp_arg], (flags & (F_EX | F_EXAT)) != 0,
                             (flags & (F_EX | F_PX)) != 0, &when))
    return;
  if ((flags & (F_EXAT | F_PXAT)) && when <= sv_now_ms()) {
    rc = sv_wctx_del(x->w, x->dbi, x->argv[1], x->argl[1]);
  } else if (exp_arg) {
    rc = sv_wctx_expire(x->w, x->dbi, x->argv[1], x->argl[1], when);
  } else if ((flags & F_PERSIST) && cur != SV_NO_EXPIRE) {
    rc = sv_wctx_expire(x->w, x->dbi, x->argv[1], x->argl[1], SV_NO_EXPIRE);
  }
  if (rc < 0) {
    sv_reply_engine_error(x->r, rc);
    return;
  }
  sv_reply_bulk(x->r, v, vl); /* v is the run's copy */
}

void sv_cmd_mget(sv_ctx *x) {
  sv_reply_array(x->r, x->argc - 1);
  if (x->w || x->argc == 2) {
    for (int i = 1; i < x->argc; i++) {
      const char *v;
      size_t vl;
      int rc = sv_key_get(x, x->argv[i], x->argl[i], &v, &vl, NULL);
      if (rc == 0)
        sv_reply_bulk(x->r, v, vl);
      else
        sv_reply_null(x->r); /* missing (or unreadable: MGET has no error slot) */
    }
    return;
  }
  /* Several keys: one snapshot, so a concurrent MSET is seen whole or not
   * at all, as redis-server's single thread guarantees. */
  strata_db *db = sv_store_db(sv_srv->store);
  const strata_snapshot *snap = strata_snapshot_get(db);
  for (int i = 1; i < x->argc; i++) {
    int rc = sv_store_get(sv_srv->store, x->dbi, x->argv[i], x->argl[i], x->buf, snap, NULL);
    if (rc == 0)
      sv_reply_bulk(x->r, x->buf->data, x->buf->size);
    else
      sv_reply_null(x->r);
  }
  if (snap) strata_snapshot_release(db, snap);
}

static void mset_generic(sv_ctx *x, int nx) {
  if (x->argc % 2 == 0) {
    sv_reply_arity_error(x->r, nx ? "msetnx" : "mset");
    return;
  }
  if (nx) {
    for (int j = 1; j < x->argc; j += 2) {
      const char *v;
      size_t vl;
      int rc = lookup(x, j, &v, &vl, NULL);
      if (rc < 0) return;
      if (rc == 0) {
        sv_reply_int(x->r, 0);
        return;
      }
    }
  }
  for (int j = 1; j < x->argc; j += 2)
    if (put(x, j, x->argv[j + 1], x->argl[j + 1], SV_NO_EXPIRE, 1)) return;
  if (nx)
    sv_reply_int(x->r, 1);
  else
    sv_reply_ok(x->r);
}

void sv_cmd_mset(sv_ctx *x) { mset_generic(x, 0); }
void sv_cmd_msetnx(sv_ctx *x) { mset_generic(x, 1); }

void sv_cmd_strlen(sv_ctx *x) {
  const char *v;
  size_t vl;
  int rc = lookup(x, 1, &v, &vl, NULL);
  if (rc >= 0) sv_reply_int(x->r, rc == 0 ? (long long)vl : 0);
}

void sv_cmd_append(sv_ctx *x) {
  const char *v;
  size_t vl;
  int rc = lookup(x, 1, &v, &vl, NULL);
  if (rc < 0) return;
  if (rc == 1) {
    if (put(x, 1, x->argv[2], x->argl[2], SV_NO_EXPIRE, 1)) return;
    sv_reply_int(x->r, (long long)x->argl[2]);
    return;
  }
  if (check_length(x, (long long)vl, (long long)x->argl[2])) return;
  size_t n = vl + x->argl[2];
  char *nv = sv_wctx_alloc(x->w, n);
  if (!nv) {
    sv_reply_error(x->r, "out of memory");
    return;
  }
  memcpy(nv, v, vl);
  memcpy(nv + vl, x->argv[2], x->argl[2]);
  if (put(x, 1, nv, n, SV_KEEP_EXPIRE, 1)) return;
  sv_reply_int(x->r, (long long)n);
}

void sv_cmd_getrange(sv_ctx *x) {
  long long start, end;
  if (!sv_str2ll(x->argv[2], x->argl[2], &start) || !sv_str2ll(x->argv[3], x->argl[3], &end)) {
    sv_reply_error(x->r, sv_err_notint);
    return;
  }
  const char *v;
  size_t vl;
  int rc = lookup(x, 1, &v, &vl, NULL);
  if (rc < 0) return;
  if (rc == 1) {
    sv_reply_bulk(x->r, "", 0);
    return;
  }
  long long len = (long long)vl;
  if (start < 0 && end < 0 && start > end) {
    sv_reply_bulk(x->r, "", 0);
    return;
  }
  if (start < 0) start = len + start;
  if (end < 0) end = len + end;
  if (start < 0) start = 0;
  if (end < 0) end = 0;
  if ((unsigned long long)end >= (unsigned long long)len) end = len - 1;
  if (start > end || len == 0)
    sv_reply_bulk(x->r, "", 0);
  else
    sv_reply_bulk(x->r, v + start, (size_t)(end - start + 1));
}

void sv_cmd_setrange(sv_ctx *x) {
  long long offset;
  if (!sv_str2ll(x->argv[2], x->argl[2], &offset)) {
    sv_reply_error(x->r, sv_err_notint);
    return;
  }
  if (offset < 0) {
    sv_reply_error(x->r, "offset is out of range");
    return;
  }
  const char *v;
  size_t vl;
  int rc = lookup(x, 1, &v, &vl, NULL);
  if (rc < 0) return;
  size_t add = x->argl[3];
  if (rc == 1) {
    if (add == 0) {
      sv_reply_int(x->r, 0);
      return;
    }
    vl = 0;
  } else if (add == 0) {
    sv_reply_int(x->r, (long long)vl);
    return;
  }
  if (check_length(x, offset, (long long)add)) return;
  size_t n = (size_t)offset + add > vl ? (size_t)offset + add : vl;
  char *nv = sv_wctx_alloc(x->w, n);
  if (!nv) {
    sv_reply_error(x->r, "out of memory");
    return;
  }
  if (vl) memcpy(nv, v, vl);
  if ((size_t)offset > vl) memset(nv + vl, 0, (size_t)offset - vl);
  memcpy(nv + offset, x->argv[3], add);
  if (put(x, 1, nv, n, rc == 1 ? SV_NO_EXPIRE : SV_KEEP_EXPIRE, 1)) return;
  sv_reply_int(x->r, (long long)n);
}

static void incr_generic(sv_ctx *x, long long incr) {
  const char *v;
  size_t vl;
  int rc = lookup(x, 1, &v, &vl, NULL);
  if (rc < 0) return;
  long long value = 0;
  if (rc == 0 && !sv_str2ll(v, vl, &value)) {
    sv_reply_error(x->r, sv_err_notint);
    return;
  }
  if ((incr < 0 && value < 0 && incr < LLONG_MIN - value) ||
      (incr > 0 && value > 0 && incr > LLONG_MAX - value)) {
    sv_reply_error(x->r, "increment or decrement would overflow");
    return;
  }
  value += incr;
  char *nv = sv_wctx_alloc(x->w, SV_LONG_STR_SIZE);
  if (!nv) {
    sv_reply_error(x->r, "out of memory");
    return;
  }
  int n = sv_ll2str(nv, value);
  if (put(x, 1, nv, (size_t)n, rc == 0 ? SV_KEEP_EXPIRE : SV_NO_EXPIRE, 1)) return;
  sv_reply_int(x->r, value);
}

void sv_cmd_incr(sv_ctx *x) { incr_generic(x, 1); }
void sv_cmd_decr(sv_ctx *x) { incr_generic(x, -1); }

void sv_cmd_incrby(sv_ctx *x) {
  long long incr;
  if (!sv_str2ll(x->argv[2], x->argl[2], &incr)) {
    sv_reply_error(x->r, sv_err_notint);
    return;
  }
  incr_generic(x, incr);
}

void sv_cmd_decrby(sv_ctx *x) {
  long long incr;
  if (!sv_str2ll(x->argv[2], x->argl[2], &incr)) {
    sv_reply_error(x->r, sv_err_notint);
    return;
  }
  if (incr == LLONG_MIN) {
    sv_reply_error(x->r, "decrement would overflow");
    return;
  }
  incr_generic(x, -incr);
}

void sv_cmd_incrbyfloat(sv_ctx *x) {
  const char *v;
  size_t vl;
  int rc = lookup(x, 1, &v, &vl, NULL);
  if (rc < 0) return;
  long double value = 0, incr;
  if ((rc == 0 && !sv_str2ld(v, vl, &value)) || !sv_str2ld(x->argv[2], x->argl[2], &incr)) {
    sv_reply_error(x->r, sv_err_notfloat);
    return;
  }
  value += incr;
  if (isnan(value) || isinf(value)) {
    sv_reply_error(x->r, "increment would produce NaN or Infinity");
    return;
  }
  char *nv = sv_wctx_alloc(x->w, SV_LD_STR_MAX);
  if (!nv) {
    sv_reply_error(x->r, "out of memory");
    return;
  }
  int n = sv_ld2str(nv, SV_LD_STR_MAX, value);
  if (put(x, 1, nv, (size_t)n, rc == 0 ? SV_KEEP_EXPIRE : SV_NO_EXPIRE, 1)) return;
  sv_reply_bulk(x->r, nv, (size_t)n);
}
