/*
 * cmd_txn.c - transactions: MULTI EXEC DISCARD WATCH UNWATCH, through
 * Strata's transactions (strata.h, "Transactions").
 *
 * MULTI queues commands (copies of their arguments). EXEC locks every key
 * the queued commands name (and the watched keys), then runs them in one
 * Strata write transaction: each sees the writes before it, and the
 * commit applies them all as one atomic batch -- a reader sees all of
 * them or none (synced per the sync mode). Errors of single commands are
 * replies inside EXEC's array, as in redis-server; nothing is rolled back.
 *
 * WATCH (on a worker: its first use in a database creates the sub-databases
 * it reads) begins a Strata write transaction and reads the watched keys
 * (their values and expiry records) in it; each WATCH call has its own, so a key
 * is watched from the moment it was named. At EXEC, after the locks are
 * taken, each watch transaction is committed with no writes: Strata's
 * optimistic check then fails with STRATA_ECONFLICT if any key it read
 * changed since -- and EXEC answers a null array, running nothing. Because
 * the locks are held from that check to the commit, no write can slip in
 * between. A watch transaction holds a snapshot (it keeps old versions from
 * compaction) until EXEC, DISCARD, UNWATCH or the connection ends.
 *
 * Inside EXEC, SCAN, KEYS, DBSIZE and PKSCANRANGE read the live database,
 * not the transaction's snapshot. FLUSHDB and FLUSHALL are refused while
 * queueing ("Command not allowed inside a transaction").
 */
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "log.h"
#include "server.h"
#include "strutil.h"

typedef struct sv_watch {
  int n, cap;
  strata_txn **txns;
  /* The watched keys (copies), locked again at EXEC. */
  int nkeys, keycap;
  char **keys;
  size_t *klen;
  int *dbi;
} sv_watch;

void sv_watch_free(sv_client *c) {
  sv_watch *wt = c->watch;
  if (!wt) return;
  for (int i = 0; i < wt->n; i++)
    strata_txn_destroy(wt->txns[i]);
  for (int i = 0; i < wt->nkeys; i++)
    free(wt->keys[i]);
  free(wt->txns);
  free(wt->keys);
  free(wt->klen);
  free(wt->dbi);
  free(wt);
  c->watch = NULL;
}

static void discard(sv_client *c) {
  sv_multi_clear(&c->multi);
  c->tflags &= ~(SV_TF_MULTI | SV_TF_DIRTY_EXEC);
  atomic_store(&c->multi_count, -1);
  sv_watch_free(c);
}

void sv_cmd_multi(sv_ctx *x) {
  if (x->c->tflags & SV_TF_MULTI) {
    sv_reply_error(x->r, "MULTI calls can not be nested");
    return;
  }
  x->c->tflags |= SV_TF_MULTI;
  atomic_store(&x->c->multi_count, 0);
  sv_reply_ok(x->r);
}

void sv_cmd_discard(sv_ctx *x) {
  if (!(x->c->tflags & SV_TF_MULTI)) {
    sv_reply_error(x->r, "DISCARD without MULTI");
    return;
  }
  discard(x->c);
  sv_reply_ok(x->r);
}

void sv_cmd_unwatch(sv_ctx *x) {
  sv_watch_free(x->c);
  sv_reply_ok(x->r);
}

static int watch_key(sv_watch *wt, int dbi, const char *k, size_t kl) {
  if (wt->nkeys == wt->keycap) {
    int cap = wt->keycap ? wt->keycap * 2 : 8;
    char **nk = realloc(wt->keys, (size_t)cap * sizeof *nk);
    if (nk) wt->keys = nk;
    size_t *nl = realloc(wt->klen, (size_t)cap * sizeof *nl);
    if (nl) wt->klen = nl;
    int *nd = realloc(wt->dbi, (size_t)cap * sizeof *nd);
    if (nd) wt->dbi = nd;
    if (!nk || !nl || !nd) return -1;
    wt->keycap = cap;
  }
  char *copy = malloc(kl + 1);
  if (!copy) return -1;
  memcpy(copy, k, kl);
  copy[kl] = '\0';
  wt->keys[wt->nkeys] = copy;
  wt->klen[wt->nkeys] = kl;
  wt->dbi[wt->nkeys] = dbi;
  wt->nkeys++;
  return 0;
}

void sv_cmd_watch(sv_ctx *x) {
  sv_client *c = x->c;
  if (c->tflags & SV_TF_MULTI) {
    sv_reply_error(x->r, "WATCH inside MULTI is not allowed");
    return;
  }
  sv_watch *wt = c->watch;
  if (!wt) {
    wt = calloc(1, sizeof *wt);
    if (!wt) {
      sv_reply_error(x->r, "out of memory");
      return;
    }
    c->watch = wt;
  }
  if (wt->n == wt->cap) {
    int cap = wt->cap ? wt->cap * 2 : 4;
    strata_txn **t = realloc(wt->txns, (size_t)cap * sizeof *t);
    if (!t) {
      sv_reply_error(x->r, "out of memory");
      return;
    }
    wt->txns = t;
    wt->cap = cap;
  }
  /* The database's key and expiry sub-databases must exist for their keys
   * to be read (and so watched). */
  strata_subdb *data, *exp;
  int rc = sv_store_subdb(sv_srv->store, x->dbi, 1, &data);
  if (!rc) rc = sv_store_expiry_subdb(sv_srv->store, x->dbi, &exp);
  strata_txn *t = NULL;
  strata_txn_options o;
  strata_txn_options_init(&o);
  o.write = 1;
  if (!rc) rc = strata_txn_begin(sv_store_db(sv_srv->store), &o, &t);
  for (int i = 1; i < x->argc && !rc; i++) {
    if (sv_store_key_reserved(x->dbi, x->argv[i], x->argl[i])) continue;
    rc = strata_txn_get(t, data, x->argv[i], x->argl[i], x->buf);
    if (rc == STRATA_ENOTFOUND) rc = 0;
    if (!rc) rc = strata_txn_get(t, exp, x->argv[i], x->argl[i], x->buf);
    if (rc == STRATA_ENOTFOUND) rc = 0;
    if (!rc && watch_key(wt, x->dbi, x->argv[i], x->argl[i]))
      rc = strata_error_set(STRATA_ENOMEM, "WATCH");
  }
  if (rc) {
    strata_txn_destroy(t);
    sv_reply_engine_error(x->r, rc);
    return;
  }
  wt->txns[wt->n++] = t;
  sv_reply_ok(x->r);
}

typedef struct want_arg {
  sv_wctx *w;
  int dbi;
  int rc;
} want_arg;

static void want_key(void *arg, const char *k, size_t kl) {
  want_arg *a = arg;
  if (!a->rc) a->rc = sv_wctx_want(a->w, a->dbi, k, kl);
}

/* Declares the keys of every queued command (following queued SELECTs)
 * and every watched key. */
static int want_all_keys(sv_client *c, sv_wctx *w, int dbi) {
  want_arg wa = {w, dbi, 0};
  long long ndb = atomic_load_explicit(&sv_srv->cfg.databases, memory_order_relaxed);
  for (int i = 0; i < c->multi.n && !wa.rc; i++) {
    sv_jobcmd *jc = &c->multi.cmds[i];
    if (jc->cmd->proc == sv_cmd_select) {
      long long id;
      if (sv_str2ll(jc->argv[1], jc->argl[1], &id) && id >= 0 && id < ndb) wa.dbi = (int)id;
      continue;
    }
    sv_cmd_keys(jc->cmd, jc->argc, jc->argv, jc->argl, want_key, &wa);
  }
  sv_watch *wt = c->watch;
  for (int i = 0; wt && i < wt->nkeys && !wa.rc; i++)
    wa.rc = sv_wctx_want(w, wt->dbi[i], wt->keys[i], wt->klen[i]);
  return wa.rc;
}

/* Commits the watch transactions (reads only: the conflict check).
 * Returns 1 when a watched key changed, 0 when none did, or an error. */
static int watched_changed(sv_client *c) {
  sv_watch *wt = c->watch;
  int changed = 0, rc = 0;
  for (int i = 0; wt && i < wt->n; i++) {
    int r = strata_txn_commit(wt->txns[i]);
    if (r == STRATA_ECONFLICT)
      changed = 1;
    else if (r && !rc)
      rc = r;
  }
  return rc ? rc : changed;
}

static int is_reserved_write(const sv_jobcmd *jc, int dbi) {
  if (!(jc->cmd->flags & SV_CMD_WRITE) || jc->cmd->first_key <= 0) return 0;
  int last = jc->cmd->last_key < 0 ? jc->argc + jc->cmd->last_key : jc->cmd->last_key;
  int step = jc->cmd->key_step > 0 ? jc->cmd->key_step : 1;
  for (int i = jc->cmd->first_key; i <= last && i < jc->argc; i += step)
    if (sv_store_key_reserved(dbi, jc->argv[i], jc->argl[i])) return 1;
  return 0;
}

void sv_cmd_exec(sv_ctx *x) {
  sv_client *c = x->c;
  if (!(c->tflags & SV_TF_MULTI)) {
    sv_reply_error(x->r, "EXEC without MULTI");
    return;
  }
  if (c->tflags & SV_TF_DIRTY_EXEC) {
    discard(c);
    sv_reply_error(x->r, "-EXECABORT Transaction discarded because of previous errors.");
    return;
  }
  sv_wctx *w = x->w;
  strata_db *db = sv_store_db(sv_srv->store);
  int db0 = c->db;
  int rc = 0;
  /* With the keys locked no other writer can touch them, so the commit
   * cannot conflict; the loop is a guard that never spins in practice. */
  for (int attempt = 0; attempt < 10; attempt++) {
    rc = want_all_keys(c, w, db0);
    if (rc) break;
    sv_wctx_lock(w);
    if (attempt == 0 && c->watch) {
      int changed = watched_changed(c);
      sv_watch_free(c);
      if (changed != 0) {
        sv_wctx_reset(w);
        discard(c);
        if (changed < 0)
          sv_reply_engine_error(x->r, changed);
        else
          sv_reply_null_array(x->r);
        return;
      }
    }
    strata_txn_options o;
    strata_txn_options_init(&o);
    o.write = 1;
    o.sync = atomic_load_explicit(&sv_srv->cfg.sync, memory_order_relaxed) == SV_SYNC_ALWAYS;
    strata_txn *txn;
    rc = strata_txn_begin(db, &o, &txn);
    if (rc) {
      sv_wctx_reset(w);
      break;
    }
    sv_wctx_begin_txn(w, txn);
    sv_reply out;
    sv_reply_init(&out, x->r->resp);
    sv_reply_array(&out, c->multi.n);
    c->db = db0;
    for (int i = 0; i < c->multi.n; i++) {
      sv_jobcmd *jc = &c->multi.cmds[i];
      if (is_reserved_write(jc, c->db)) {
        sv_reply_error(&out, "keys beginning with \\xff\\xffstrata\\x00 are reserved by Strata "
                             "and cannot be written");
        continue;
      }
      sv_ctx y = {c, NULL, jc->argc, jc->argv, jc->argl, &out, w, x->buf, c->db};
      sv_call(&y, jc->cmd);
      out.resp = c->resp; /* HELLO inside the transaction */
    }
    rc = sv_wctx_commit(w);
    strata_txn_destroy(txn);
    sv_wctx_reset(w);
    if (rc == STRATA_ECONFLICT) {
      sv_reply_free(&out);
      sv_log(SV_LOG_NOTICE, "EXEC conflicted with another writer; running it again");
      continue;
    }
    if (rc) {
      sv_reply_free(&out);
      break;
    }
    sv_reply_move(x->r, &out);
    discard(c);
    return;
  }
  c->db = db0;
  discard(c);
  sv_reply_engine_error(x->r, rc ? rc : STRATA_ECONFLICT);
}
