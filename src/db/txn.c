/*
 * txn.c - transactions (strata_txn; the contract is in strata.h).
 *
 * A transaction is a snapshot (its sequence number S) plus, for a write
 * transaction, a write batch of its pending puts and deletes in order, and
 * a read set: the stored keys it read.
 *
 * Reading its own writes. The batch is the record of what to commit; for
 * reads, its records are also indexed in a private memtable, entry i (from
 * 1) at sequence number S + i, so the newest write of a key wins. The index
 * is built lazily -- a transaction that only writes (the common
 * read-modify-write of one key aside) never builds it -- and brought up to
 * date before each read. A transaction's iterator merges the index with
 * the database's internal iterator filtered to entries at or below S
 * (seq_filter below), and the user-facing iterator (db_iter.c) reads that
 * stream at sequence S + (number of writes): pending writes shadow the
 * snapshot, pending deletes hide keys, in both directions, with seek.
 *
 * Commit (optimistic concurrency control, after RocksDB's
 * OptimisticTransactionDB): the batch goes through the write queue with a
 * check that runs when it heads the queue, when no other write can be
 * applied until it is done: for every key read or written, the newest entry
 * of that key in the database (memtable, immutable memtable, tables) must
 * not be newer than S. A newer entry means someone else changed the key
 * since the snapshot: the commit fails with STRATA_ECONFLICT and nothing is
 * applied. Because check and apply are one step of the queue, two
 * transactions that touch a common key cannot both pass. When nothing at
 * all was written since S the check is skipped. The cost is one point
 * lookup per distinct key read and per key written.
 *
 * Exclusive write transactions (LMDB's single writer) also take the
 * database's exclusive-transaction flag for their whole life, so a second
 * one waits in strata_txn_begin; plain writes never wait for it.
 */
#include "db/txn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/db_impl.h"
#include "db/subdb.h"
#include "table/merger.h"
#include "util/internal_key.h"
#include "util/keyset.h"

struct strata_txn {
  strata_db *db;
  int write, sync, exclusive;
  int ended;
  const strata_snapshot *snap;
  int own_snap; /* snap is own_snapshot, taken by begin; dropped at destroy */
  strata_snapshot own_snapshot;
  uint64_t seq;          /* S: the snapshot's sequence number */
  strata_batch batch;    /* pending writes, in order (write transactions) */
  st_memtable *index;    /* batch's records by key, record i at S + i; NULL
                            until a read needs it */
  uint32_t indexed;      /* records of batch in index */
  size_t index_pos;      /* byte offset in batch of the next record to index */
  st_keyset reads;       /* stored keys read (write transactions) */
  strata_subdb **subdbs; /* sub-databases used, to check and to name them */
  size_t nsubdbs, cap_subdbs;
  st_buf key; /* scratch: prefix + key */
};

void strata_txn_options_init(strata_txn_options *o) {
  memset(o, 0, sizeof *o);
  o->version = STRATA_OPTIONS_VERSION;
}

/* ------------------------------------------------------------------------ */
/* Begin and end                                                            */
/* ------------------------------------------------------------------------ */

int strata_txn_begin(strata_db *db, const strata_txn_options *opt, strata_txn **out) {
  if (!db || !out) return st_err(STRATA_EMISUSE, "strata_txn_begin: NULL %s", db ? "out" : "db");
  *out = NULL;
  strata_txn_options defaults;
  strata_txn_options_init(&defaults);
  if (!opt) opt = &defaults;
  if (opt->write && db->opts.read_only)
    return st_err(STRATA_EINVAL, "%s: read-only database: no write transaction", db->dbname);
  /* malloc, then the fields set one by one: glibc's calloc (which gcc
   * makes of malloc + memset) bypasses the per-thread cache of small
   * blocks, and made begin + destroy of a read transaction cost three
   * times a snapshot's get + release. */
  strata_txn *t = malloc(sizeof *t);
  if (t) {
    t->db = db;
    t->write = t->sync = t->exclusive = t->ended = t->own_snap = 0;
    t->snap = NULL;
    t->seq = 0;
    t->batch.rep = (st_buf)ST_BUF_INIT;
    t->index = NULL;
    t->indexed = 0;
    t->index_pos = 0;
    t->reads = (st_keyset)ST_KEYSET_INIT;
    t->subdbs = NULL;
    t->nsubdbs = t->cap_subdbs = 0;
    t->key = (st_buf)ST_BUF_INIT;
  }
  /* A read transaction has no batch: it costs a snapshot and this struct. */
  if (!t || (opt->write && st_batch_init(&t->batch))) {
    free(t);
    return st_err(STRATA_ENOMEM, "strata_txn_begin");
  }
  t->db = db;
  t->write = opt->write != 0;
  t->sync = opt->sync != 0;
  t->exclusive = t->write && opt->exclusive;
  if (t->exclusive) {
    pthread_mutex_lock(&db->txn_mu);
    if (db->exclusive_open && pthread_equal(db->exclusive_owner, pthread_self())) {
      /* Waiting would never end: the one to end the first is us. */
      pthread_mutex_unlock(&db->txn_mu);
      t->exclusive = 0; /* it holds nothing to release */
      strata_txn_destroy(t);
      return st_err(STRATA_EMISUSE,
                    "strata_txn_begin: this thread already has an exclusive write transaction "
                    "open; a second would wait for it forever");
    }
    while (db->exclusive_open)
      pthread_cond_wait(&db->txn_cv, &db->txn_mu);
    db->exclusive_open = 1;
    db->exclusive_owner = pthread_self();
    pthread_mutex_unlock(&db->txn_mu);
  }
  /* The snapshot is taken after the exclusive flag: an exclusive
   * transaction sees every write of the one before it. */
  if (opt->snapshot) {
    t->snap = opt->snapshot;
  } else {
    st_db_snapshot_take(db, &t->own_snapshot);
    t->snap = &t->own_snapshot;
    t->own_snap = 1;
  }
  t->seq = t->snap->sequence;
  *out = t;
  return 0;
}

/* Ends t: lets the next exclusive transaction in. */
static void end(strata_txn *t) {
  t->ended = 1;
  if (t->exclusive) {
    strata_db *db = t->db;
    pthread_mutex_lock(&db->txn_mu);
    db->exclusive_open = 0;
    pthread_cond_signal(&db->txn_cv);
    pthread_mutex_unlock(&db->txn_mu);
    t->exclusive = 0;
  }
}

static int ended_error(const char *call) {
  return st_err(STRATA_EMISUSE, "%s: the transaction has already committed or aborted", call);
}

int strata_txn_abort(strata_txn *t) {
  if (!t) return st_err(STRATA_EMISUSE, "strata_txn_abort: NULL transaction");
  if (t->ended) return ended_error("strata_txn_abort");
  end(t);
  return 0;
}

void strata_txn_destroy(strata_txn *t) {
  if (!t) return;
  if (!t->ended) end(t);
  if (t->own_snap) st_db_snapshot_drop(t->db, &t->own_snapshot);
  if (t->write) { /* a read transaction never fills these */
    st_batch_release(&t->batch);
    st_memtable_unref(t->index);
    st_keyset_free(&t->reads);
  }
  st_buf_free(&t->key);
  free(t->subdbs);
  free(t);
}

const strata_snapshot *strata_txn_snapshot(const strata_txn *t) { return t ? t->snap : NULL; }

int strata_txn_active(const strata_txn *t) { return t && !t->ended; }

/* ------------------------------------------------------------------------ */
/* Keys                                                                     */
/* ------------------------------------------------------------------------ */

/* Resolves sdb for t, remembers it, and leaves prefix + key in t->key. */
static int stored_key(strata_txn *t, strata_subdb *sdb, const void *key, size_t klen,
                      st_slice *out) {
  if ((!key && klen) || klen > UINT32_MAX - 8 - ST_SUBDB_PREFIX_LEN)
    return st_err(STRATA_EINVAL, "transaction: NULL or oversized key");
  st_slice prefix;
  int rc = st_subdb_resolve(t->db, sdb, &prefix);
  if (rc) return rc;
  if (sdb) {
    size_t i = 0;
    while (i < t->nsubdbs && t->subdbs[i] != sdb)
      i++;
    if (i == t->nsubdbs) {
      if (t->nsubdbs == t->cap_subdbs) {
        size_t cap = t->cap_subdbs ? t->cap_subdbs * 2 : 4;
        strata_subdb **v = realloc(t->subdbs, cap * sizeof *v);
        if (!v) return st_err(STRATA_ENOMEM, "transaction");
        t->subdbs = v;
        t->cap_subdbs = cap;
      }
      t->subdbs[t->nsubdbs++] = sdb;
    }
  }
  if (st_buf_set(&t->key, prefix.data, prefix.size) || st_buf_append(&t->key, key, klen))
    return st_err(STRATA_ENOMEM, "transaction key");
  *out = t->key.size ? st_buf_slice(&t->key) : st_slice_make("", 0);
  return 0;
}

/* Indexes the batch records not yet in the index (creating it). */
static int update_index(strata_txn *t) {
  if (!t->index) {
    t->index = st_memtable_new(t->db->ucmp);
    if (!t->index) return st_err(STRATA_ENOMEM, "transaction index");
  }
  for (;;) {
    int type;
    st_slice k, v;
    int r = st_batch_next_record(&t->batch, &t->index_pos, &type, &k, &v);
    if (r <= 0) return r;
    int rc = st_memtable_add(t->index, t->seq + t->indexed + 1, type, k, v);
    if (rc) return rc; /* the record stays unindexed; the next read retries */
    t->indexed++;
  }
}

int st_txn_iter_check(strata_txn *t, uint64_t *ops) {
  if (t->ended) return ended_error("transaction iterator");
  if (t->write && t->indexed < st_batch_get_count(&t->batch)) {
    int rc = update_index(t);
    if (rc) return rc;
  }
  *ops = t->indexed;
  return 0;
}

uint64_t st_txn_read_sequence(const strata_txn *t, uint64_t ops) { return t->seq + ops; }

int st_txn_note_read(strata_txn *t, st_slice key) {
  return t->write ? st_keyset_add(&t->reads, key) : 0;
}

/* ------------------------------------------------------------------------ */
/* Reads and writes                                                         */
/* ------------------------------------------------------------------------ */

int strata_txn_get(strata_txn *t, strata_subdb *sdb, const void *key, size_t klen,
                   strata_buf *val) {
  if (!t || !val) return st_err(STRATA_EMISUSE, "strata_txn_get: NULL argument");
  if (t->ended) return ended_error("strata_txn_get");
  if (!sdb && key && st_key_is_reserved(key, klen))
    return st_err_restore(STRATA_ENOTFOUND, "NotFound: key not found");
  st_slice k;
  int rc = stored_key(t, sdb, key, klen, &k);
  if (rc) return rc;
  if (t->write && st_batch_get_count(&t->batch) > 0) {
    /* The transaction's own writes first. */
    rc = update_index(t);
    if (rc) return rc;
    int r = st_memtable_get(t->index, k, ST_MAX_SEQUENCE, val);
    if (r == ST_MEM_FOUND) {
      if (!val->data && st_buf_reserve(val, 1)) return st_err(STRATA_ENOMEM, "value buffer");
      return 0;
    }
    if (r == ST_MEM_DELETED) return st_err_restore(STRATA_ENOTFOUND, "NotFound: key not found");
    if (r < 0) return r;
  }
  if (t->write && (rc = st_keyset_add(&t->reads, k))) return rc;
  strata_read_options ro;
  strata_read_options_init(&ro);
  ro.snapshot = t->snap;
  return st_db_get(t->db, &ro, k, val);
}

static int txn_write(strata_txn *t, strata_subdb *sdb, int type, const void *key, size_t klen,
                     const void *val, size_t vlen, const char *call) {
  if (!t) return st_err(STRATA_EMISUSE, "%s: NULL transaction", call);
  if (t->ended) return ended_error(call);
  if (!t->write) return st_err(STRATA_EMISUSE, "%s: a read-only transaction cannot write", call);
  if (!sdb && key && st_key_is_reserved(key, klen))
    return st_err(STRATA_EINVAL, "%s: key lies in the range reserved for sub-databases", call);
  if ((!val && vlen) || vlen > UINT32_MAX)
    return st_err(STRATA_EINVAL, "%s: NULL or oversized value", call);
  st_slice k;
  int rc = stored_key(t, sdb, key, klen, &k);
  if (rc) return rc;
  st_slice none = {"", 0};
  return type == ST_TYPE_VALUE ? st_batch_put_raw(&t->batch, none, k.data, k.size, val, vlen)
                               : st_batch_delete_raw(&t->batch, none, k.data, k.size);
}

int strata_txn_put(strata_txn *t, strata_subdb *sdb, const void *key, size_t klen, const void *val,
                   size_t vlen) {
  return txn_write(t, sdb, ST_TYPE_VALUE, key, klen, val, vlen, "strata_txn_put");
}

int strata_txn_delete(strata_txn *t, strata_subdb *sdb, const void *key, size_t klen) {
  return txn_write(t, sdb, ST_TYPE_DELETION, key, klen, NULL, 0, "strata_txn_delete");
}

/* ------------------------------------------------------------------------ */
/* Iterators                                                                */
/* ------------------------------------------------------------------------ */

/* An internal iterator that hides the entries of `in` newer than seq: the
 * database as of the transaction's snapshot, to merge with its index. */
typedef struct seq_filter {
  st_iter base;
  st_iter *in;
  uint64_t seq;
} seq_filter;

static int newer(const seq_filter *f) {
  st_slice k = st_iter_key(f->in);
  /* A malformed key is passed on for db_iter to report. */
  return k.size >= 8 && (st_ikey_tag(k) >> 8) > f->seq;
}
static void skip_fwd(seq_filter *f) {
  while (st_iter_valid(f->in) && newer(f))
    st_iter_next(f->in);
}
static void skip_bwd(seq_filter *f) {
  while (st_iter_valid(f->in) && newer(f))
    st_iter_prev(f->in);
}
static int sf_valid(const st_iter *it) { return st_iter_valid(((const seq_filter *)it)->in); }
static void sf_first(st_iter *it) {
  seq_filter *f = (seq_filter *)it;
  st_iter_seek_to_first(f->in);
  skip_fwd(f);
}
static void sf_last(st_iter *it) {
  seq_filter *f = (seq_filter *)it;
  st_iter_seek_to_last(f->in);
  skip_bwd(f);
}
static void sf_seek(st_iter *it, st_slice target) {
  seq_filter *f = (seq_filter *)it;
  st_iter_seek(f->in, target);
  skip_fwd(f);
}
static void sf_next(st_iter *it) {
  seq_filter *f = (seq_filter *)it;
  st_iter_next(f->in);
  skip_fwd(f);
}
static void sf_prev(st_iter *it) {
  seq_filter *f = (seq_filter *)it;
  st_iter_prev(f->in);
  skip_bwd(f);
}
static st_slice sf_key(const st_iter *it) { return st_iter_key(((const seq_filter *)it)->in); }
static st_slice sf_value(const st_iter *it) { return st_iter_value(((const seq_filter *)it)->in); }
static int sf_status(const st_iter *it) { return st_iter_status(((const seq_filter *)it)->in); }
static void sf_destroy(st_iter *it) {
  st_iter_destroy(((seq_filter *)it)->in);
  free(it);
}
static const st_iter_ops seq_filter_ops = {sf_valid,  sf_first,   sf_last, sf_seek,
                                           sf_next,   sf_prev,    sf_key,  sf_value,
                                           sf_status, sf_destroy, NULL};

int strata_txn_iter_create(strata_txn *t, strata_subdb *sdb, const strata_read_options *ropt,
                           strata_iter **itp) {
  if (!t || !itp) return st_err(STRATA_EMISUSE, "strata_txn_iter_create: NULL argument");
  if (t->ended) return ended_error("strata_txn_iter_create");
  strata_db *db = t->db;
  st_slice prefix;
  int rc = st_subdb_resolve(db, sdb, &prefix);
  if (rc) return rc;
  if (sdb) {
    st_slice unused;
    if ((rc = stored_key(t, sdb, "", 0, &unused))) return rc; /* remember sdb */
  }
  int mode = sdb ? ST_ITER_SUBDB : ST_ITER_MAIN;
  uint64_t ops = 0;
  if (t->write && (rc = update_index(t))) return rc;
  ops = t->indexed;

  st_read_opts ro = st_db_read_opts(db, ropt);
  /* Through the snapshot: a read-only handle's snapshot pins the state it
   * was taken in, which may hold versions the current one no longer does. */
  strata_read_options at;
  strata_read_options_init(&at);
  at.snapshot = t->snap;
  uint64_t unused_seq;
  st_superversion *sv = st_db_sv_get(db, &at, &unused_seq);
  st_sv_ref(sv);
  st_db_sv_put(db, sv);
  st_iter *internal = NULL;
  rc = st_db_internal_iter(db, &ro, sv, &internal);
  if (rc) return rc;
  if (t->write) {
    /* index ++ (database at S), read at S + ops by db_iter. */
    seq_filter *f = malloc(sizeof *f);
    st_iter *pending = st_memtable_iter(t->index);
    st_iter **kids = malloc(2 * sizeof *kids);
    if (!f || !pending || !kids) {
      free(f);
      free(kids);
      st_iter_destroy(pending);
      st_iter_destroy(internal);
      return st_err(STRATA_ENOMEM, "transaction iterator");
    }
    st_iter_init(&f->base, &seq_filter_ops);
    f->in = internal;
    f->seq = t->seq;
    kids[0] = pending;
    kids[1] = &f->base;
    internal = st_merging_iter_new(db->ucmp, kids, 2);
    free(kids);
    if (!internal) return st_err(STRATA_ENOMEM, "transaction iterator");
  }
  strata_iter *it = st_db_iter_new(db, internal, t->seq + ops, mode, prefix);
  if (!it) return st_err(STRATA_ENOMEM, "transaction iterator");
  st_db_iter_set_txn(it, t, ops);
  *itp = it;
  return 0;
}

/* ------------------------------------------------------------------------ */
/* Commit                                                                   */
/* ------------------------------------------------------------------------ */

typedef struct check_ctx {
  strata_txn *t;
  st_superversion *sv;
  st_read_opts ro;
  st_buf lookup;
  int memtables_cover; /* every write after S is in sv's memtables */
} check_ctx;

/* "key 'abc\x01'" or "sub-database 'n' key '...'", for a conflict message. */
static void describe_key(const strata_txn *t, st_slice key, char *out, size_t cap) {
  const char *where = "";
  char wbuf[STRATA_SUBDB_NAME_MAX + 32];
  if (key.size >= ST_SUBDB_PREFIX_LEN && st_key_is_reserved(key.data, key.size) &&
      key.data[ST_RESERVED_LEN] == ST_SUBDB_DATA) {
    uint32_t id = st_subdb_get_id(key.data + ST_RESERVED_LEN + 1);
    for (size_t i = 0; i < t->nsubdbs; i++) {
      if (t->subdbs[i]->id == id) {
        snprintf(wbuf, sizeof wbuf, "sub-database '%s' ", t->subdbs[i]->name);
        where = wbuf;
        key.data += ST_SUBDB_PREFIX_LEN;
        key.size -= ST_SUBDB_PREFIX_LEN;
        break;
      }
    }
  }
  size_t n = (size_t)snprintf(out, cap, "%skey '", where);
  for (size_t i = 0; i < key.size && n + 8 < cap; i++) {
    unsigned char c = (unsigned char)key.data[i];
    if (i == 64) {
      n += (size_t)snprintf(out + n, cap - n, "...");
      break;
    }
    if (c >= 0x20 && c < 0x7f && c != '\\' && c != '\'')
      out[n++] = (char)c;
    else
      n += (size_t)snprintf(out + n, cap - n, "\\x%02x", c);
  }
  snprintf(out + n, cap - n, "'");
}

/* The conflict check of one key: its newest entry must be at or below S.
 * The sorted tables are searched only when a write after S may have left
 * the memtables: when the oldest memtable began after S + 1 (or its start is
 * unknown). Otherwise every write after S is in a memtable, and a key no
 * memtable holds is unchanged. (Bulk-loaded entries have sequence number 0
 * and never conflict; see loader.c.) */
static int check_key(void *arg, st_slice key) {
  check_ctx *c = arg;
  st_superversion *sv = c->sv;
  uint64_t seq = 0;
  int r = st_memtable_newest(sv->mem, key, &seq);
  if (r == ST_MEM_ABSENT && sv->imm) r = st_memtable_newest(sv->imm, key, &seq);
  if (r == ST_MEM_ABSENT && c->memtables_cover) return 0;
  if (r == ST_MEM_ABSENT) {
    c->lookup.size = 0;
    if (st_ikey_append(&c->lookup, key, ST_MAX_SEQUENCE, ST_TYPE_FOR_SEEK))
      return st_err(STRATA_ENOMEM, "transaction commit");
    r = st_version_newest(sv->current, &c->ro, st_buf_slice(&c->lookup), &seq);
  }
  if (r < 0) return r;
  if (r != ST_MEM_ABSENT && seq > c->t->seq) {
    char what[400];
    describe_key(c->t, key, what, sizeof what);
    return st_err(STRATA_ECONFLICT, "%s changed since the transaction began", what);
  }
  return 0;
}

/* Every key read or written must be unchanged since S. Runs at the head of
 * the write queue (or, for a transaction without writes, on its own). */
static int check_commit(void *arg) {
  strata_txn *t = arg;
  strata_db *db = t->db;
  for (size_t i = 0; i < t->nsubdbs; i++) {
    if (atomic_load_explicit(&t->subdbs[i]->dropped, memory_order_acquire))
      return st_err(STRATA_EINVAL, "sub-database '%s' was dropped during the transaction",
                    t->subdbs[i]->name);
  }
  /* Nothing written since the snapshot: nothing can have changed. */
  if (atomic_load_explicit(&db->visible_sequence, memory_order_acquire) == t->seq) return 0;
  check_ctx c;
  c.t = t;
  uint64_t unused;
  c.sv = st_db_sv_get(db, NULL, &unused);
  c.ro = st_db_read_opts(db, NULL);
  c.lookup = (st_buf)ST_BUF_INIT;
  uint64_t first = st_memtable_first_sequence(c.sv->imm ? c.sv->imm : c.sv->mem);
  c.memtables_cover = first != 0 && first <= t->seq + 1;
  int rc = st_keyset_each(&t->reads, check_key, &c);
  size_t pos = 0;
  while (!rc) {
    int type;
    st_slice k, v;
    int r = st_batch_next_record(&t->batch, &pos, &type, &k, &v);
    if (r <= 0) {
      rc = r;
      break;
    }
    rc = check_key(&c, k);
  }
  st_db_sv_put(db, c.sv);
  st_buf_free(&c.lookup);
  return rc;
}

int strata_txn_commit(strata_txn *t) {
  if (!t) return st_err(STRATA_EMISUSE, "strata_txn_commit: NULL transaction");
  if (t->ended) return ended_error("strata_txn_commit");
  int rc = 0;
  if (t->write) {
    if (st_batch_get_count(&t->batch) > 0)
      rc = st_db_write_checked(t->db, t->sync, &t->batch, check_commit, t);
    else if (t->reads.n > 0)
      rc = check_commit(t); /* nothing to apply: the reads are checked */
  }
  end(t);
  return rc;
}
