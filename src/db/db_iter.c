/*
 * db_iter.c - the user-facing iterator (strata_iter): turns the merged
 * stream of internal keys (memtables and tables, newest entry of each user
 * key first) into the user's view at one sequence number: entries newer
 * than it are invisible, each user key appears once with its newest
 * visible value, and keys whose newest visible entry is a deletion are
 * skipped.
 *
 * Moving forward, the internal iterator sits on the entry being shown.
 * Moving backward it sits just before all entries of the shown key, which
 * is then kept in saved_key/saved_value (the newest visible entry of a key
 * is the last one met going backward).
 *
 * Key ranges (subdb.h): an iterator of strata.h over the main database
 * (ITER_MAIN) hides the range reserved for sub-databases, jumping over it
 * with one seek when the comparator is bytewise (the range is contiguous
 * then) and skipping its entries one by one otherwise; an iterator over a
 * sub-database (ITER_SUBDB) stays inside [prefix, prefix_end) and shows
 * keys without the prefix; leveldb/c.h's iterators (ITER_RAW) show every
 * key, as LevelDB does.
 *
 * A transaction's iterator (txn != NULL) reads a merged stream that also
 * holds the transaction's pending writes (txn.c), and before each
 * positioning call asks the transaction whether it has ended and how many
 * writes it holds: the sequence number it reads at then covers them, and
 * next/prev first seek back to the current key if writes were added since,
 * so writes made between two calls are never stepped over.
 */
#include <stdlib.h>
#include <string.h>

#include "db/db_impl.h"
#include "db/db_iter.h"
#include "db/db_raw.h"
#include "db/subdb.h"
#include "db/txn.h"
#include "table/merger.h"
#include "util/internal_key.h"

enum { DIR_FORWARD, DIR_REVERSE };

struct strata_iter {
  strata_db *db;
  st_iter *iter; /* merged internal iterator (owned) */
  const st_comparator *ucmp;
  uint64_t sequence;
  int dir;
  int valid;
  int mode;                             /* ST_ITER_RAW, ST_ITER_MAIN or ST_ITER_SUBDB */
  int bytewise;                         /* the comparator is bytewise: ranges are contiguous */
  st_slice prefix;                      /* the range kept (SUBDB) or hidden (MAIN); borrowed */
  char prefix_end[ST_SUBDB_PREFIX_LEN]; /* the first key past that range */
  size_t prefix_end_len;
  strata_txn *txn;    /* a transaction's iterator, or NULL */
  uint64_t txn_ops;   /* the transaction's write count it reads at */
  st_buf saved_key;   /* reverse: current key; forward: key to skip */
  st_buf saved_value; /* reverse: current value */
  st_buf scratch;     /* seek targets */
  st_error err;       /* sticky; code 0 = none */
};

static int starts_with(st_slice key, st_slice prefix) {
  return key.size >= prefix.size && memcmp(key.data, prefix.data, prefix.size) == 0;
}

/* Positions the internal iterator at the first entry whose user key is >=
 * ukey (ukey's newest entry first). */
static int seek_user(strata_iter *it, const char *ukey, size_t len);
static void set_oom(strata_iter *it);

enum { RANGE_OK, RANGE_SKIP, RANGE_JUMPED, RANGE_END };

/* Moving forward onto an entry of user key ukey: may it be shown? */
static int fwd_range(strata_iter *it, st_slice ukey) {
  if (it->mode == ST_ITER_MAIN) {
    if (!st_key_is_reserved(ukey.data, ukey.size)) return RANGE_OK;
    if (!it->bytewise) return RANGE_SKIP;
    return seek_user(it, it->prefix_end, it->prefix_end_len) ? RANGE_END : RANGE_JUMPED;
  }
  /* Entries arrive at or after the prefix: one without it is past the end. */
  return starts_with(ukey, it->prefix) ? RANGE_OK : RANGE_END;
}

/* Moving backward onto an entry of user key ukey; may_move is 0 when an
 * entry of a later key has been collected already (then any key outside
 * the range ends the step, and the internal iterator must stay put). */
static int bwd_range(strata_iter *it, st_slice ukey, int may_move) {
  if (it->mode == ST_ITER_MAIN) {
    if (!st_key_is_reserved(ukey.data, ukey.size)) return RANGE_OK;
    if (!may_move) return RANGE_END;
    if (!it->bytewise) return RANGE_SKIP;
    if (seek_user(it, it->prefix.data, it->prefix.size)) return RANGE_END;
    if (st_iter_valid(it->iter))
      st_iter_prev(it->iter);
    else
      st_iter_seek_to_last(it->iter);
    return RANGE_JUMPED;
  }
  return starts_with(ukey, it->prefix) ? RANGE_OK : RANGE_END;
}

static void set_corrupt(strata_iter *it) {
  if (it->err.code == 0) {
    st_err_corrupt("iterator met a malformed internal key");
    st_error_capture(&it->err, STRATA_ECORRUPTION);
  }
}

static void set_oom(strata_iter *it) {
  if (it->err.code == 0) {
    st_err(STRATA_ENOMEM, "iterator");
    st_error_capture(&it->err, STRATA_ENOMEM);
  }
  it->valid = 0;
}

/* Forward: from the internal position, the next visible entry whose user
 * key is, when skipping, greater than *skip. */
static void find_next_user_entry(strata_iter *it, int skipping) {
  while (st_iter_valid(it->iter)) {
    st_parsed_ikey pk;
    if (!st_ikey_parse(st_iter_key(it->iter), &pk)) {
      set_corrupt(it);
    } else {
      if (it->mode != ST_ITER_RAW) {
        int r = fwd_range(it, pk.user_key);
        if (r == RANGE_END) break;
        if (r == RANGE_JUMPED) continue;
        if (r == RANGE_SKIP) {
          st_iter_next(it->iter);
          continue;
        }
      }
      if (pk.sequence <= it->sequence) {
        if (pk.type == ST_TYPE_DELETION) {
          /* Hide every older entry of this key. */
          if (st_buf_set(&it->saved_key, pk.user_key.data, pk.user_key.size)) {
            set_oom(it);
            return;
          }
          skipping = 1;
        } else if (!skipping || st_ucmp(it->ucmp, pk.user_key, st_buf_slice(&it->saved_key)) > 0) {
          it->valid = 1;
          it->saved_key.size = 0;
          return;
        }
      }
    }
    st_iter_next(it->iter);
  }
  it->saved_key.size = 0;
  it->valid = 0;
}

/* Backward: from the internal position, collect the newest visible entry
 * of the previous user key that is not deleted. */
static void find_prev_user_entry(strata_iter *it) {
  int value_type = ST_TYPE_DELETION;
  while (st_iter_valid(it->iter)) {
    st_parsed_ikey pk;
    if (!st_ikey_parse(st_iter_key(it->iter), &pk)) {
      set_corrupt(it);
      st_iter_prev(it->iter);
      continue;
    }
    if (it->mode != ST_ITER_RAW) {
      int r = bwd_range(it, pk.user_key, value_type == ST_TYPE_DELETION);
      /* Leaving the range ends the collection: what is saved (if
       * anything) is the key to show. */
      if (r == RANGE_END) break;
      if (r == RANGE_JUMPED) continue;
      if (r == RANGE_SKIP) {
        st_iter_prev(it->iter);
        continue;
      }
    }
    if (pk.sequence <= it->sequence) {
      if (value_type != ST_TYPE_DELETION &&
          st_ucmp(it->ucmp, pk.user_key, st_buf_slice(&it->saved_key)) < 0) {
        break; /* a full entry for the key after this one is saved */
      }
      value_type = pk.type;
      if (pk.type == ST_TYPE_DELETION) {
        it->saved_key.size = 0;
        it->saved_value.size = 0;
      } else {
        st_slice v = st_iter_value(it->iter);
        if (st_buf_set(&it->saved_key, pk.user_key.data, pk.user_key.size) ||
            st_buf_set(&it->saved_value, v.data, v.size)) {
          set_oom(it);
          return;
        }
      }
    }
    st_iter_prev(it->iter);
  }
  /* The internal iterator stopped on an error: the entries of the saved
   * key may not all have been seen (a newer one may lie behind the error),
   * so it is not shown; the status tells. */
  if (value_type == ST_TYPE_DELETION ||
      (!st_iter_valid(it->iter) && st_iter_status(it->iter) != 0)) {
    /* Ran off the start (of the range), or stopped on an error. */
    it->valid = 0;
    it->saved_key.size = 0;
    it->saved_value.size = 0;
    it->dir = DIR_FORWARD;
  } else {
    it->valid = 1;
  }
}

static int seek_user(strata_iter *it, const char *ukey, size_t len) {
  /* The newest entry of ukey sorts first among its entries. */
  it->scratch.size = 0;
  if (st_ikey_append(&it->scratch, st_slice_make(ukey, len), ST_MAX_SEQUENCE, ST_TYPE_FOR_SEEK)) {
    set_oom(it);
    return STRATA_ENOMEM;
  }
  st_iter_seek(it->iter, st_buf_slice(&it->scratch));
  return 0;
}

/* ------------------------------------------------------------------------ */
/* Transactions' iterators                                                  */
/* ------------------------------------------------------------------------ */

enum { OP_FIRST, OP_LAST, OP_SEEK, OP_NEXT, OP_PREV };

static void do_seek_to_first(strata_iter *it);
static void do_seek_to_last(strata_iter *it);
static void do_seek(strata_iter *it, const void *key, size_t klen);
static void do_next(strata_iter *it);
static void do_prev(strata_iter *it);

/* Before a positioning call of a transaction's iterator: fails it when the
 * transaction has ended; picks up writes made since the last call (for
 * next and prev, by seeking back to the current key first, so a write that
 * went between the current key and the next is not stepped over). Returns
 * 0 to go on with op. */
static int txn_before(strata_iter *it, int op) {
  uint64_t ops;
  int rc = st_txn_iter_check(it->txn, &ops);
  if (rc) {
    if (it->err.code == 0) st_error_capture(&it->err, rc);
    it->valid = 0;
    return rc;
  }
  if (ops == it->txn_ops) return 0;
  it->txn_ops = ops;
  it->sequence = st_txn_read_sequence(it->txn, ops);
  if ((op != OP_NEXT && op != OP_PREV) || !it->valid) return 0;
  /* Re-find the current key in the new state. */
  st_buf cur = ST_BUF_INIT;
  size_t klen;
  const char *k = strata_iter_key(it, &klen);
  if (st_buf_set(&cur, k, klen)) {
    set_oom(it);
    return STRATA_ENOMEM;
  }
  do_seek(it, cur.data, cur.size);
  if (it->valid) {
    const char *now = strata_iter_key(it, &klen);
    int same = klen == cur.size && (klen == 0 || memcmp(now, cur.data, klen) == 0);
    /* next from a key the transaction deleted: the seek already moved
     * past it. */
    if (op == OP_NEXT && !same) {
      st_buf_free(&cur);
      return 1;
    }
  } else if (op == OP_PREV && it->err.code == 0) {
    /* Every key from the current one on is gone: the last key left is
     * the one before it. */
    do_seek_to_last(it);
    st_buf_free(&cur);
    return 1;
  }
  st_buf_free(&cur);
  return 0;
}

/* After a positioning call: the key shown was read by the transaction. */
static void txn_after(strata_iter *it) {
  if (!it->valid) return;
  st_slice k =
      it->dir == DIR_FORWARD ? st_ikey_user(st_iter_key(it->iter)) : st_buf_slice(&it->saved_key);
  if (st_txn_note_read(it->txn, k)) set_oom(it);
}

static void do_seek_to_first(strata_iter *it) {
  it->dir = DIR_FORWARD;
  it->saved_value.size = 0;
  if (it->mode == ST_ITER_SUBDB) {
    if (seek_user(it, it->prefix.data, it->prefix.size)) return;
  } else {
    st_iter_seek_to_first(it->iter);
  }
  if (st_iter_valid(it->iter))
    find_next_user_entry(it, 0);
  else
    it->valid = 0;
}

static void do_seek_to_last(strata_iter *it) {
  it->dir = DIR_REVERSE;
  it->saved_value.size = 0;
  if (it->mode == ST_ITER_SUBDB) {
    if (seek_user(it, it->prefix_end, it->prefix_end_len)) return;
    if (st_iter_valid(it->iter))
      st_iter_prev(it->iter);
    else
      st_iter_seek_to_last(it->iter);
  } else {
    st_iter_seek_to_last(it->iter);
  }
  find_prev_user_entry(it);
}

static void do_seek(strata_iter *it, const void *key, size_t klen) {
  it->dir = DIR_FORWARD;
  it->saved_value.size = 0;
  it->saved_key.size = 0;
  it->scratch.size = 0;
  int rc = 0;
  if (it->mode == ST_ITER_SUBDB) rc = st_buf_set(&it->scratch, it->prefix.data, it->prefix.size);
  if (!rc) rc = st_buf_append(&it->scratch, key, klen);
  if (!rc) rc = st_buf_put_fixed64(&it->scratch, st_pack_tag(it->sequence, ST_TYPE_FOR_SEEK));
  if (rc) {
    set_oom(it);
    return;
  }
  st_iter_seek(it->iter, st_buf_slice(&it->scratch));
  if (st_iter_valid(it->iter))
    find_next_user_entry(it, 0);
  else
    it->valid = 0;
}

static void do_next(strata_iter *it) {
  if (!it->valid) return;
  if (it->dir == DIR_REVERSE) {
    /* The internal iterator is just before the current key's entries:
     * step into them; saved_key already names the key to skip. */
    it->dir = DIR_FORWARD;
    if (!st_iter_valid(it->iter))
      st_iter_seek_to_first(it->iter);
    else
      st_iter_next(it->iter);
  } else {
    st_slice k = st_ikey_user(st_iter_key(it->iter));
    if (st_buf_set(&it->saved_key, k.data, k.size)) {
      set_oom(it);
      return;
    }
    st_iter_next(it->iter);
  }
  if (!st_iter_valid(it->iter)) {
    it->valid = 0;
    it->saved_key.size = 0;
    return;
  }
  find_next_user_entry(it, 1);
}

static void do_prev(strata_iter *it) {
  if (!it->valid) return;
  if (it->dir == DIR_FORWARD) {
    /* Step back past every entry of the current key. */
    st_slice k = st_ikey_user(st_iter_key(it->iter));
    if (st_buf_set(&it->saved_key, k.data, k.size)) {
      set_oom(it);
      return;
    }
    for (;;) {
      st_iter_prev(it->iter);
      if (!st_iter_valid(it->iter)) {
        it->valid = 0;
        it->saved_key.size = 0;
        it->saved_value.size = 0;
        return;
      }
      if (st_ucmp(it->ucmp, st_ikey_user(st_iter_key(it->iter)), st_buf_slice(&it->saved_key)) < 0)
        break;
    }
    it->dir = DIR_REVERSE;
  }
  find_prev_user_entry(it);
}

void strata_iter_seek_to_first(strata_iter *it) {
  if (it->txn && txn_before(it, OP_FIRST)) return;
  do_seek_to_first(it);
  if (it->txn) txn_after(it);
}

void strata_iter_seek_to_last(strata_iter *it) {
  if (it->txn && txn_before(it, OP_LAST)) return;
  do_seek_to_last(it);
  if (it->txn) txn_after(it);
}

void strata_iter_seek(strata_iter *it, const void *key, size_t klen) {
  if (it->txn && txn_before(it, OP_SEEK)) return;
  do_seek(it, key, klen);
  if (it->txn) txn_after(it);
}

void strata_iter_next(strata_iter *it) {
  if (it->txn) {
    int r = txn_before(it, OP_NEXT);
    if (r < 0) return;
    if (r == 0) do_next(it);
    txn_after(it);
    return;
  }
  do_next(it);
}

void strata_iter_prev(strata_iter *it) {
  if (it->txn) {
    int r = txn_before(it, OP_PREV);
    if (r < 0) return;
    if (r == 0) do_prev(it);
    txn_after(it);
    return;
  }
  do_prev(it);
}

int strata_iter_valid(const strata_iter *it) { return it && it->valid; }

const char *strata_iter_key(const strata_iter *it, size_t *klen) {
  st_slice k =
      it->dir == DIR_FORWARD ? st_ikey_user(st_iter_key(it->iter)) : st_buf_slice(&it->saved_key);
  if (it->mode == ST_ITER_SUBDB) {
    /* Shown without the sub-database's prefix. */
    k.data += it->prefix.size;
    k.size -= it->prefix.size;
  }
  if (klen) *klen = k.size;
  return k.data ? k.data : ""; /* an empty saved key may have no buffer yet */
}

const char *strata_iter_value(const strata_iter *it, size_t *vlen) {
  st_slice v = it->dir == DIR_FORWARD ? st_iter_value(it->iter) : st_buf_slice(&it->saved_value);
  if (vlen) *vlen = v.size;
  return v.data ? v.data : "";
}

const char *st_db_iter_key_if_valid(const strata_iter *it, size_t *klen) {
  if (!it->valid) {
    if (klen) *klen = 0;
    return NULL;
  }
  return strata_iter_key(it, klen);
}

const char *st_db_iter_value_if_valid(const strata_iter *it, size_t *vlen) {
  if (!it->valid) {
    if (vlen) *vlen = 0;
    return NULL;
  }
  return strata_iter_value(it, vlen);
}

int strata_iter_status(const strata_iter *it) {
  if (!it) return st_err(STRATA_EMISUSE, "strata_iter_status: NULL iterator");
  if (it->err.code) return st_error_raise(&it->err);
  return st_iter_status(it->iter);
}

void strata_iter_destroy(strata_iter *it) {
  if (!it) return;
  st_iter_destroy(it->iter);
  st_buf_free(&it->saved_key);
  st_buf_free(&it->saved_value);
  st_buf_free(&it->scratch);
  free(it);
}

strata_iter *st_db_iter_new(strata_db *db, st_iter *internal, uint64_t sequence, int mode,
                            st_slice prefix) {
  strata_iter *it = calloc(1, sizeof *it);
  if (!it) {
    st_iter_destroy(internal);
    return NULL;
  }
  it->db = db;
  it->iter = internal;
  it->ucmp = db->ucmp;
  it->bytewise = db->ucmp->bytewise;
  it->sequence = sequence;
  it->dir = DIR_FORWARD;
  it->mode = mode;
  if (mode == ST_ITER_MAIN) prefix = st_slice_make(st_reserved_prefix, ST_RESERVED_LEN);
  it->prefix = prefix;
  if (mode != ST_ITER_RAW) {
    /* The first key past every key that begins with prefix: the prefix
     * with its last byte below 0xff incremented (sub-database prefixes and
     * the reserved prefix always have one). */
    size_t n = prefix.size;
    memcpy(it->prefix_end, prefix.data, n);
    while (n > 0 && (unsigned char)it->prefix_end[n - 1] == 0xff)
      n--;
    if (n > 0) it->prefix_end[n - 1]++;
    it->prefix_end_len = n;
  }
  return it;
}

void st_db_iter_set_txn(strata_iter *it, strata_txn *txn, uint64_t ops) {
  it->txn = txn;
  it->txn_ops = ops;
}

static void release_sv(void *arg, void *unused) {
  (void)unused;
  st_sv_unref_unlocked(arg);
}

int st_db_internal_iter(strata_db *db, const st_read_opts *ro, st_superversion *sv, st_iter **out) {
  int cap = 4, n = 0;
  st_iter **iters = malloc((size_t)cap * sizeof *iters);
  st_iter *mi = st_memtable_iter(sv->mem);
  st_iter *ii = sv->imm ? st_memtable_iter(sv->imm) : NULL;
  int rc = (!iters || !mi || (sv->imm && !ii)) ? st_err(STRATA_ENOMEM, "iterator") : 0;
  if (!rc) {
    iters[n++] = mi;
    mi = NULL;
    if (ii) iters[n++] = ii;
    ii = NULL;
    rc = st_version_add_iterators(sv->current, ro, &iters, &n, &cap);
  }
  st_iter *merged = NULL;
  if (!rc) {
    merged = st_merging_iter_new(db->ucmp, iters, n);
    n = 0; /* the merger owns (or, failing, destroyed) the children */
    if (!merged) rc = st_err(STRATA_ENOMEM, "iterator");
  }
  st_iter_destroy(mi);
  st_iter_destroy(ii);
  for (int i = 0; i < n; i++)
    st_iter_destroy(iters[i]);
  free(iters);
  if (rc) {
    st_sv_unref_unlocked(sv);
    return rc;
  }
  st_iter_on_destroy(merged, release_sv, sv, NULL);
  *out = merged;
  return 0;
}

/* An iterator in mode over the database as of ropt (prefix: SUBDB's). */
static int iter_create(strata_db *db, const strata_read_options *ropt, int mode, st_slice prefix,
                       strata_iter **itp) {
  st_read_opts ro = st_db_read_opts(db, ropt);
  st_iter *internal = NULL;
  uint64_t seq;
  st_superversion *sv = st_db_sv_get(db, ropt, &seq);
  /* The iterator keeps sv (so its memtables and version) for its life. */
  st_sv_ref(sv);
  st_db_sv_put(db, sv);
  int rc = st_db_internal_iter(db, &ro, sv, &internal);
  if (rc) return rc;
  *itp = st_db_iter_new(db, internal, seq, mode, prefix);
  return *itp ? 0 : st_err(STRATA_ENOMEM, "iterator");
}

int strata_iter_create(strata_db *db, const strata_read_options *ropt, strata_iter **itp) {
  if (!db || !itp) return st_err(STRATA_EMISUSE, "strata_iter_create: NULL argument");
  return iter_create(db, ropt, ST_ITER_MAIN, st_slice_make("", 0), itp);
}

int st_db_iter_create_raw(strata_db *db, const strata_read_options *ropt, strata_iter **itp) {
  if (!db || !itp) return st_err(STRATA_EMISUSE, "strata_iter_create: NULL argument");
  return iter_create(db, ropt, ST_ITER_RAW, st_slice_make("", 0), itp);
}

int st_db_iter_create_internal(strata_db *db, strata_iter **itp) {
  st_read_opts ro = st_db_read_opts(db, NULL);
  st_superversion *sv = st_sv_acquire(&db->svs);
  uint64_t seq = atomic_load_explicit(&db->visible_sequence, memory_order_acquire);
  st_iter *internal = NULL;
  int rc = st_db_internal_iter(db, &ro, sv, &internal);
  if (rc) return rc;
  *itp = st_db_iter_new(db, internal, seq, ST_ITER_RAW, st_slice_make("", 0));
  return *itp ? 0 : st_err(STRATA_ENOMEM, "iterator");
}

int strata_iter_create_in(strata_db *db, strata_subdb *sdb, const strata_read_options *ropt,
                          strata_iter **itp) {
  if (!db || !itp) return st_err(STRATA_EMISUSE, "strata_iter_create_in: NULL argument");
  if (!sdb) return iter_create(db, ropt, ST_ITER_MAIN, st_slice_make("", 0), itp);
  st_slice prefix;
  int rc = st_subdb_resolve(db, sdb, &prefix);
  return rc ? rc : iter_create(db, ropt, ST_ITER_SUBDB, prefix, itp);
}
