/*
 * cmd_txn.c - transactions: MULTI EXEC DISCARD WATCH UNWATCH.
 */
#include "client.h"
#include "server.h"

void sv_watch_free(sv_client *c) { (void)c; }

void sv_cmd_multi(sv_ctx *x) {
  if (x->c->flags & SV_CF_MULTI) {
    sv_reply_error(x->r, "MULTI calls can not be nested");
    return;
  }
  x->c->flags |= SV_CF_MULTI;
  atomic_store(&x->c->multi_count, 0);
  sv_reply_ok(x->r);
}

static void discard(sv_client *c) {
  sv_multi_clear(&c->multi);
  c->flags &= ~(SV_CF_MULTI | SV_CF_DIRTY_EXEC);
  atomic_store(&c->multi_count, -1);
  sv_watch_free(c);
}

void sv_cmd_discard(sv_ctx *x) {
  if (!(x->c->flags & SV_CF_MULTI)) {
    sv_reply_error(x->r, "DISCARD without MULTI");
    return;
  }
  discard(x->c);
  sv_reply_ok(x->r);
}

void sv_cmd_exec(sv_ctx *x) {
  if (!(x->c->flags & SV_CF_MULTI)) {
    sv_reply_error(x->r, "EXEC without MULTI");
    return;
  }
  int dirty = x->c->flags & SV_CF_DIRTY_EXEC;
  discard(x->c);
  if (dirty) {
    sv_reply_error(x->r, "-EXECABORT Transaction discarded because of previous errors.");
    return;
  }
  sv_reply_error(x->r, "EXEC needs Strata's transactions, not available in this build");
}

void sv_cmd_watch(sv_ctx *x) {
  if (x->c->flags & SV_CF_MULTI) {
    sv_reply_error(x->r, "WATCH inside MULTI is not allowed");
    return;
  }
  sv_reply_error(x->r, "WATCH needs Strata's transactions, not available in this build");
}

void sv_cmd_unwatch(sv_ctx *x) {
  sv_watch_free(x->c);
  sv_reply_ok(x->r);
}
