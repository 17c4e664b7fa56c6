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
 */
#include <stdlib.h>
#include <string.h>

#include "db/db_impl.h"
#include "db/db_iter.h"
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
  st_buf saved_key;   /* reverse: current key; forward: key to skip */
  st_buf saved_value; /* reverse: current value */
  st_error err;       /* sticky; code 0 = none */
};

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
  do {
    st_parsed_ikey pk;
    if (!st_ikey_parse(st_iter_key(it->iter), &pk)) {
      set_corrupt(it);
    } else if (pk.sequence <= it->sequence) {
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
    st_iter_next(it->iter);
  } while (st_iter_valid(it->iter));
  it->saved_key.size = 0;
  it->valid = 0;
}

/* Backward: from the internal position, collect the newest visible entry
 * of the previous user key that is not deleted. */
static void find_prev_user_entry(strata_iter *it) {
  int value_type = ST_TYPE_DELETION;
  if (st_iter_valid(it->iter)) {
    do {
      st_parsed_ikey pk;
      if (!st_ikey_parse(st_iter_key(it->iter), &pk)) {
        set_corrupt(it);
      } else if (pk.sequence <= it->sequence) {
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
    } while (st_iter_valid(it->iter));
  }
  /* The internal iterator stopped on an error: the entries of the saved
   * key may not all have been seen (a newer one may lie behind the error),
   * so it is not shown; the status tells. */
  if (value_type == ST_TYPE_DELETION ||
      (!st_iter_valid(it->iter) && st_iter_status(it->iter) != 0)) {
    /* Ran off the start. */
    it->valid = 0;
    it->saved_key.size = 0;
    it->saved_value.size = 0;
    it->dir = DIR_FORWARD;
  } else {
    it->valid = 1;
  }
}

void strata_iter_seek_to_first(strata_iter *it) {
  it->dir = DIR_FORWARD;
  it->saved_value.size = 0;
  st_iter_seek_to_first(it->iter);
  if (st_iter_valid(it->iter))
    find_next_user_entry(it, 0);
  else
    it->valid = 0;
}

void strata_iter_seek_to_last(strata_iter *it) {
  it->dir = DIR_REVERSE;
  it->saved_value.size = 0;
  st_iter_seek_to_last(it->iter);
  find_prev_user_entry(it);
}

void strata_iter_seek(strata_iter *it, const void *key, size_t klen) {
  it->dir = DIR_FORWARD;
  it->saved_value.size = 0;
  it->saved_key.size = 0;
  if (st_ikey_append(&it->saved_key, st_slice_make(key, klen), it->sequence, ST_TYPE_FOR_SEEK)) {
    set_oom(it);
    return;
  }
  st_iter_seek(it->iter, st_buf_slice(&it->saved_key));
  if (st_iter_valid(it->iter))
    find_next_user_entry(it, 0);
  else
    it->valid = 0;
}

void strata_iter_next(strata_iter *it) {
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

void strata_iter_prev(strata_iter *it) {
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

int strata_iter_valid(const strata_iter *it) { return it && it->valid; }

const char *strata_iter_key(const strata_iter *it, size_t *klen) {
  st_slice k =
      it->dir == DIR_FORWARD ? st_ikey_user(st_iter_key(it->iter)) : st_buf_slice(&it->saved_key);
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
  free(it);
}

strata_iter *st_db_iter_new(strata_db *db, st_iter *internal, uint64_t sequence) {
  strata_iter *it = calloc(1, sizeof *it);
  if (!it) {
    st_iter_destroy(internal);
    return NULL;
  }
  it->db = db;
  it->iter = internal;
  it->ucmp = db->ucmp;
  it->sequence = sequence;
  it->dir = DIR_FORWARD;
  return it;
}

static void release_sv(void *arg, void *unused) {
  (void)unused;
  st_sv_unref_unlocked(arg);
}

/* Builds the merged internal iterator over sv's memtables and version,
 * taking over the caller's reference on sv (released when the iterator is
 * destroyed, or here on failure). No lock needed. */
static int internal_iter(strata_db *db, const st_read_opts *ro, st_superversion *sv,
                         st_iter **out) {
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

int strata_iter_create(strata_db *db, const strata_read_options *ropt, strata_iter **itp) {
  if (!db || !itp) return st_err(STRATA_EMISUSE, "strata_iter_create: NULL argument");
  st_read_opts ro = st_db_read_opts(db, ropt);
  st_iter *internal = NULL;
  uint64_t seq;
  st_superversion *sv = st_db_sv_get(db, ropt, &seq);
  /* The iterator keeps sv (so its memtables and version) for its life. */
  st_sv_ref(sv);
  st_db_sv_put(db, sv);
  int rc = internal_iter(db, &ro, sv, &internal);
  if (rc) return rc;
  *itp = st_db_iter_new(db, internal, seq);
  return *itp ? 0 : st_err(STRATA_ENOMEM, "iterator");
}
