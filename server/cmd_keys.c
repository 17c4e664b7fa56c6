/*
 * cmd_keys.c - the key space: DEL UNLINK EXISTS TYPE, and the ordered
 * scans SCAN KEYS PKSCANRANGE PKRSCANRANGE.
 *
 * Keys are kept in Strata in byte order, so every scan here walks them in
 * that order, and a pattern with a literal prefix (MATCH user:*) starts at
 * the prefix and stops after it instead of visiting every key.
 *
 * SCAN cursors. redis-py and other clients need a number as the cursor
 * ("0" to start and to end). A cursor here names a remembered position:
 * the key the next call starts at, kept in a table of at most scan-cursors
 * entries (the oldest are forgotten first). A cursor that is not in the
 * table -- forgotten, from before a restart, or made up -- answers
 * "-ERR invalid cursor" instead of silently restarting. The guarantees are
 * redis-server's: a key present from the first call to the last is
 * returned (exactly once here, since the walk is ordered), a key added or
 * removed during the scan may or may not be.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "server.h"
#include "strutil.h"

/* ------------------------------------------------------------------------ */
/* DEL EXISTS TYPE                                                          */
/* ------------------------------------------------------------------------ */

void sv_cmd_del(sv_ctx *x) {
  long long n = 0;
  for (int i = 1; i < x->argc; i++) {
    const char *v;
    size_t vl;
    int rc = sv_key_get(x, x->argv[i], x->argl[i], &v, &vl, NULL);
    if (rc < 0) {
      sv_reply_engine_error(x->r, rc);
      return;
    }
    if (rc == 1) continue;
    rc = sv_wctx_del(x->w, x->dbi, x->argv[i], x->argl[i]);
    if (rc) {
      sv_reply_engine_error(x->r, rc);
      return;
    }
    n++;
  }
  sv_reply_int(x->r, n);
}

void sv_cmd_exists(sv_ctx *x) {
  long long n = 0;
  strata_db *db = sv_store_db(sv_srv->store);
  const strata_snapshot *snap = (!x->w && x->argc > 2) ? strata_snapshot_get(db) : NULL;
  for (int i = 1; i < x->argc; i++) {
    int rc;
    if (x->w) {
      const char *v;
      size_t vl;
      rc = sv_key_get(x, x->argv[i], x->argl[i], &v, &vl, NULL);
    } else {
      rc = sv_store_get(sv_srv->store, x->dbi, x->argv[i], x->argl[i], x->buf, snap, NULL);
    }
    if (rc < 0) {
      if (snap) strata_snapshot_release(db, snap);
      sv_reply_engine_error(x->r, rc);
      return;
    }
    if (rc == 0) n++;
  }
  if (snap) strata_snapshot_release(db, snap);
  sv_reply_int(x->r, n);
}

void sv_cmd_type(sv_ctx *x) {
  const char *v;
  size_t vl;
  int rc = sv_key_get(x, x->argv[1], x->argl[1], &v, &vl, NULL);
  if (rc < 0)
    sv_reply_engine_error(x->r, rc);
  else
    sv_reply_status(x->r, rc == 0 ? "string" : "none");
}

/* ------------------------------------------------------------------------ */
/* The cursor table                                                         */
/* ------------------------------------------------------------------------ */

typedef struct cursor {
  unsigned long long id;
  int dbi;
  size_t klen;
  struct cursor *older, *newer; /* age order, for forgetting */
  struct cursor *hnext;         /* hash chain */
  char key[];
} cursor;

#define CURSOR_BUCKETS 4096
#define CURSOR_MAX_BYTES (64u << 20)

static pthread_mutex_t cur_mu = PTHREAD_MUTEX_INITIALIZER;
static cursor *cur_hash[CURSOR_BUCKETS];
static cursor *cur_oldest, *cur_newest;
static long cur_count;
static size_t cur_bytes;
static unsigned long long cur_next;

static void cursor_unlink(cursor *c) {
  cursor **p = &cur_hash[c->id % CURSOR_BUCKETS];
  while (*p != c)
    p = &(*p)->hnext;
  *p = c->hnext;
  if (c->older)
    c->older->newer = c->newer;
  else
    cur_oldest = c->newer;
  if (c->newer)
    c->newer->older = c->older;
  else
    cur_newest = c->older;
  cur_count--;
  cur_bytes -= c->klen;
  free(c);
}

/* Remembers (dbi, key) under a new cursor number; 0 when out of memory. */
static unsigned long long cursor_save(int dbi, const char *key, size_t klen) {
  cursor *c = malloc(sizeof *c + klen);
  if (!c) return 0;
  c->dbi = dbi;
  c->klen = klen;
  memcpy(c->key, key, klen);
  long max = (long)atomic_load_explicit(&sv_srv->cfg.scan_cursors, memory_order_relaxed);
  pthread_mutex_lock(&cur_mu);
  if (!cur_next) {
    /* Numbers start at a random point so cursors from an earlier run of
     * the server are unlikely to name a position of this one. */
    cur_next = ((unsigned long long)sv_now_ms() * 2654435761ULL) % 1000000000000ULL + 1;
  }
  c->id = cur_next++;
  c->hnext = cur_hash[c->id % CURSOR_BUCKETS];
  cur_hash[c->id % CURSOR_BUCKETS] = c;
  c->older = cur_newest;
  c->newer = NULL;
  if (cur_newest)
    cur_newest->newer = c;
  else
    cur_oldest = c;
  cur_newest = c;
  cur_count++;
  cur_bytes += klen;
  while (cur_oldest && cur_oldest != c && (cur_count > max || cur_bytes > CURSOR_MAX_BYTES))
    cursor_unlink(cur_oldest);
  unsigned long long id = c->id;
  pthread_mutex_unlock(&cur_mu);
  return id;
}

/* Copies the key of cursor id into a malloc'd *key. Returns 0, 1 when the
 * cursor is unknown, -1 out of memory. */
static int cursor_load(unsigned long long id, int dbi, char **key, size_t *klen) {
  int rc = 1;
  pthread_mutex_lock(&cur_mu);
  for (cursor *c = cur_hash[id % CURSOR_BUCKETS]; c; c = c->hnext) {
    if (c->id == id && c->dbi == dbi) {
      *key = malloc(c->klen ? c->klen : 1);
      rc = *key ? 0 : -1;
      if (*key) {
        memcpy(*key, c->key, c->klen);
        *klen = c->klen;
      }
      break;
    }
  }
  pthread_mutex_unlock(&cur_mu);
  return rc;
}

/* ------------------------------------------------------------------------ */
/* SCAN and KEYS                                                            */
/* ------------------------------------------------------------------------ */

/* 1 when k begins with prefix p. */
static int has_prefix(const char *k, size_t kl, const char *p, size_t pl) {
  return kl >= pl && memcmp(k, p, pl) == 0;
}

void sv_cmd_scan(sv_ctx *x) {
  /* The cursor, as redis-server reads it (strtoul, base 10). */
  const char *cs = x->argv[1];
  char *end;
  errno = 0;
  unsigned long long cursor_id = strtoull(cs, &end, 10);
  if (isspace((unsigned char)cs[0]) || *end != '\0' || (size_t)(end - cs) != x->argl[1] ||
      errno == ERANGE) {
    sv_reply_error(x->r, "invalid cursor");
    return;
  }
  long long count = 10;
  const char *pat = NULL;
  size_t plen = 0;
  const char *type = NULL;
  for (int i = 2; i < x->argc;) {
    int left = x->argc - i;
    if (sv_streq_ci(x->argv[i], x->argl[i], "count") && left >= 2) {
      if (!sv_str2ll(x->argv[i + 1], x->argl[i + 1], &count)) {
        sv_reply_error(x->r, sv_err_notint);
        return;
      }
      if (count < 1) {
        sv_reply_error(x->r, sv_err_syntax);
        return;
      }
      i += 2;
    } else if (sv_streq_ci(x->argv[i], x->argl[i], "match") && left >= 2) {
      pat = x->argv[i + 1];
      plen = x->argl[i + 1];
      if (plen == 1 && pat[0] == '*') pat = NULL;
      i += 2;
    } else if (sv_streq_ci(x->argv[i], x->argl[i], "type") && left >= 2) {
      type = x->argv[i + 1];
      i += 2;
    } else {
      sv_reply_error(x->r, sv_err_syntax);
      return;
    }
  }
  char *start = NULL;
  size_t slen = 0;
  if (cursor_id != 0) {
    int rc = cursor_load(cursor_id, x->dbi, &start, &slen);
    if (rc) {
      sv_reply_error(x->r, rc < 0 ? "out of memory" : "invalid cursor");
      return;
    }
  }
  /* Every key is a string: TYPE string filters nothing, any other type
   * matches no key. */
  int none = type && strcasecmp(type, "string") != 0;
  size_t pfx = pat ? sv_glob_literal_prefix(pat, plen) : 0;
  if (!start && pfx) {
    start = malloc(pfx);
    if (!start) {
      sv_reply_error(x->r, "out of memory");
      return;
    }
    memcpy(start, pat, pfx);
    slen = pfx;
  }
  sv_scan sc;
  int rc = none ? 0 : sv_scan_begin(&sc, sv_srv->store, x->dbi, start, slen, 0);
  free(start);
  if (rc) {
    sv_reply_engine_error(x->r, rc);
    return;
  }
  sv_reply_array(x->r, 2);
  /* The cursor comes first in the reply but is known last: the keys are
   * gathered in a reply of their own and appended after it. */
  sv_reply keys;
  sv_reply_init(&keys, x->r->resp);
  long long n = 0, visited = 0;
  unsigned long long next = 0;
  const char *k;
  size_t kl;
  while (!none) {
    rc = sv_scan_next(&sc, &k, &kl, NULL, NULL);
    if (rc <= 0) break;
    if (pfx && !has_prefix(k, kl, pat, pfx)) break;
    if (visited == count) {
      next = cursor_save(x->dbi, k, kl);
      if (!next) rc = STRATA_ENOMEM;
      break;
    }
    visited++;
    if (pat && !sv_glob_match(pat, plen, k, kl, 0)) continue;
    sv_reply_bulk(&keys, k, kl);
    n++;
  }
  if (!none) sv_scan_end(&sc);
  if (rc < 0) {
    /* The array header is out: answer [error-as-cursor...] would break the
     * shape, so the error goes where the cursor goes. */
    sv_reply_free(&keys);
    sv_reply_engine_error(x->r, rc);
    sv_reply_array(x->r, 0);
    return;
  }
  sv_reply_bulk_ll(x->r, (long long)next);
  sv_reply_array(x->r, n);
  sv_reply_move(x->r, &keys);
}

void sv_cmd_keys_cmd(sv_ctx *x) {
  const char *pat = x->argv[1];
  size_t plen = x->argl[1];
  int all = plen == 1 && pat[0] == '*';
  size_t pfx = sv_glob_literal_prefix(pat, plen);
  sv_scan sc;
  int rc = sv_scan_begin(&sc, sv_srv->store, x->dbi, pfx ? pat : NULL, pfx, 0);
  if (rc) {
    sv_reply_engine_error(x->r, rc);
    return;
  }
  sv_reply keys;
  sv_reply_init(&keys, x->r->resp);
  long long n = 0;
  const char *k;
  size_t kl;
  while ((rc = sv_scan_next(&sc, &k, &kl, NULL, NULL)) > 0) {
    if (pfx && !has_prefix(k, kl, pat, pfx)) break;
    if (!all && !sv_glob_match(pat, plen, k, kl, 0)) continue;
    sv_reply_bulk(&keys, k, kl);
    n++;
  }
  sv_scan_end(&sc);
  if (rc < 0) {
    sv_reply_free(&keys);
    sv_reply_engine_error(x->r, rc);
    return;
  }
  sv_reply_array(x->r, n);
  sv_reply_move(x->r, &keys);
}

/* ------------------------------------------------------------------------ */
/* PKSCANRANGE / PKRSCANRANGE                                               */
/* ------------------------------------------------------------------------ */

/* PKSCANRANGE type start end [MATCH pattern] [LIMIT limit] (Pika's
 * syntax): keys k with start <= k <= end in key order ("" is unbounded),
 * at most limit (10) of them that match; the reply is [next_key, items]
 * where items are keys (type string) or key, value pairs (type
 * string_with_value), and next_key is the key the next call should start
 * at ("" when the range is exhausted). PKRSCANRANGE walks backwards from
 * start (the upper bound) down to end. */
static void pkscan(sv_ctx *x, int reverse) {
  const char *type = x->argv[1];
  size_t tl = x->argl[1];
  int with_values = sv_streq_ci(type, tl, "string_with_value");
  int strings = with_values || sv_streq_ci(type, tl, "string");
  if (!strings && !sv_streq_ci(type, tl, "hash") && !sv_streq_ci(type, tl, "set") &&
      !sv_streq_ci(type, tl, "zset") && !sv_streq_ci(type, tl, "list")) {
    sv_reply_errorf(x->r,
                    "invalid type '%s' for '%s' (string, string_with_value, hash, set, zset or "
                    "list)",
                    type, x->cmd->name);
    return;
  }
  const char *from = x->argv[2], *to = x->argv[3];
  size_t fl = x->argl[2], tol = x->argl[3];
  const char *pat = NULL;
  size_t plen = 0;
  long long limit = 10;
  for (int i = 4; i < x->argc; i++) {
    if (sv_streq_ci(x->argv[i], x->argl[i], "match") ||
        sv_streq_ci(x->argv[i], x->argl[i], "limit")) {
      if (i + 1 >= x->argc) {
        sv_reply_error(x->r, sv_err_syntax);
        return;
      }
      if (sv_streq_ci(x->argv[i], x->argl[i], "match")) {
        pat = x->argv[i + 1];
        plen = x->argl[i + 1];
      } else if (!sv_str2ll(x->argv[i + 1], x->argl[i + 1], &limit) || limit <= 0 ||
                 limit > INT_MAX) {
        sv_reply_error(x->r, sv_err_notint);
        return;
      }
      i++;
    } else {
      sv_reply_error(x->r, sv_err_syntax);
      return;
    }
  }
  sv_reply_array(x->r, 2);
  if (!strings) {
    /* Only strings are stored: other types have no keys. */
    sv_reply_bulk(x->r, "", 0);
    sv_reply_array(x->r, 0);
    return;
  }
  sv_scan sc;
  int rc = sv_scan_begin(&sc, sv_srv->store, x->dbi, fl ? from : NULL, fl, reverse);
  if (rc) {
    sv_reply_engine_error(x->r, rc);
    sv_reply_array(x->r, 0);
    return;
  }
  sv_reply items;
  sv_reply_init(&items, x->r->resp);
  long long n = 0;
  const char *k, *v;
  size_t kl, vl;
  char *next = NULL;
  size_t nextl = 0;
  while ((rc = sv_scan_next(&sc, &k, &kl, &v, &vl)) > 0) {
    if (tol) {
      size_t m = kl < tol ? kl : tol;
      int c = memcmp(k, to, m);
      if (c == 0) c = kl < tol ? -1 : kl > tol;
      if (reverse ? c < 0 : c > 0) break; /* past the end bound */
    }
    if (n == limit) {
      next = malloc(kl ? kl : 1);
      if (!next)
        rc = STRATA_ENOMEM;
      else {
        memcpy(next, k, kl);
        nextl = kl;
      }
      break;
    }
    if (pat && !sv_glob_match(pat, plen, k, kl, 0)) continue;
    sv_reply_bulk(&items, k, kl);
    if (with_values) sv_reply_bulk(&items, v, vl);
    n++;
  }
  sv_scan_end(&sc);
  if (rc < 0) {
    sv_reply_free(&items);
    free(next);
    sv_reply_engine_error(x->r, rc);
    sv_reply_array(x->r, 0);
    return;
  }
  sv_reply_bulk(x->r, next ? next : "", nextl);
  free(next);
  sv_reply_array(x->r, with_values ? 2 * n : n);
  sv_reply_move(x->r, &items);
}

void sv_cmd_pkscanrange(sv_ctx *x) { pkscan(x, 0); }
void sv_cmd_pkrscanrange(sv_ctx *x) { pkscan(x, 1); }
