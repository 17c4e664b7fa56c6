/*
 * loader.c - sorted bulk load (strata_loader_*): sorted tables built
 * straight from keys given in increasing order, added to the database in
 * one MANIFEST record, with no write-ahead log, no memtable and no
 * compaction rewriting them. RocksDB's external SST file ingestion is the
 * model; this is a fresh implementation within LevelDB's file formats.
 *
 * Building (strata_loader_add): each key, with the target's prefix (none
 * for the main database; `reserved 'd' id` for a sub-database, subdb.h),
 * becomes the internal key (prefixed key, sequence 0, value) and goes to a
 * table builder with the database's own table options (block size,
 * restart interval, compression, filter policy). A table is cut when it
 * reaches max_file_size, and, for a main-database load in bytewise order,
 * where the keys step over the reserved range of sub-databases, so no
 * loaded table spans it. Each table is synced and read back (footer and
 * index) when it is cut. Its file number is marked pending from the start
 * (st_db_pending_add), so the background thread, which deletes every file
 * no version names, leaves it alone.
 *
 * Adding (strata_loader_finish): the request goes to the background thread
 * (db->ingest, served by st_db_run_ingest), which alone flushes memtables
 * and runs compactions, so nothing moves entries between the memtables and
 * the levels, or changes the version, between the check and the MANIFEST
 * record:
 *   1. Check: the loaded key range [first, last] must hold no entry of the
 *      target -- in the memtable, the immutable memtable or any table of any
 *      level, deletion markers and entries only old snapshots see included.
 *      One seek per memtable and per level; a main-database load skips the
 *      reserved range (sub-database records are not main-database entries).
 *      Otherwise STRATA_EINVAL, nothing added, the tables deleted.
 *   2. Place: each table goes to the deepest level where no table's key
 *      range overlaps its own (level 0 if every level does). In a new
 *      database or an empty key range that is the last level, where nothing
 *      compacts it again.
 *   3. One version edit adding every table (st_db_log_and_apply: the
 *      directory and the MANIFEST are synced), installed for readers at
 *      once.
 *
 * Why sequence number 0: the tables are written before the load knows
 * which sequence numbers are free, and rewriting them at finish would cost
 * what the load saves. Since nothing else in the database has a user key in
 * the loaded range when finish checks, an entry at sequence 0 shadows
 * nothing and is shadowed by nothing; a put of a loaded key racing with
 * finish, or any later one, has a larger sequence number and so is newer,
 * as it should be. LevelDB 1.23 reads such entries as any others
 * (sequence 0 is a valid sequence number). The cost: a snapshot taken
 * before finish also sees the loaded entries once finish returns (RocksDB
 * assigns a global sequence number to an ingested file in that case, which
 * LevelDB's table format cannot express). strata.h says so.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/db_impl.h"
#include "db/filename.h"
#include "db/subdb.h"
#include "table/table_builder.h"
#include "util/internal_key.h"

/* A finished table of the load. */
typedef struct loaded_table {
  uint64_t number, file_size;
  st_buf smallest, largest; /* internal keys */
  int level;                /* chosen by the background thread */
} loaded_table;

enum { LOADER_OPEN, LOADER_FAILED, LOADER_FINISHED };

struct strata_loader {
  strata_db *db;
  char prefix[ST_SUBDB_PREFIX_LEN]; /* the target's key prefix */
  size_t prefix_len;                /* 0: the main database */
  strata_subdb *sdb;
  int state;
  int split_reserved; /* main database, bytewise: cut tables at the reserved range */
  st_error err;       /* why the loader failed (state LOADER_FAILED) */
  /* The internal key being added and the previous one: two buffers, swapped
   * after each add, so the order check needs no copy. Each starts with the
   * prefix. */
  st_buf ikey[2];
  int cur; /* ikey[cur] holds the previous key when has_prev */
  int has_prev;
  /* The table being written. */
  st_wfile *file;
  st_table_builder *builder;
  uint64_t number;
  st_buf smallest;
  /* Finished tables, and every file number taken (for cleanup). */
  loaded_table *tables;
  size_t ntables, cap;
  uint64_t entries;
  int manifest_tried; /* a MANIFEST record naming the tables may exist */
};

/* ------------------------------------------------------------------------ */
/* Tables                                                                   */
/* ------------------------------------------------------------------------ */

static int fail(strata_loader *l, int rc) {
  l->state = LOADER_FAILED;
  st_error_capture(&l->err, rc);
  return rc;
}

/* Starts table l->number. */
static int open_table(strata_loader *l, st_slice first) {
  strata_db *db = l->db;
  if (l->ntables == l->cap) {
    size_t cap = l->cap ? l->cap * 2 : 16;
    loaded_table *t = realloc(l->tables, cap * sizeof *t);
    if (!t) return st_err(STRATA_ENOMEM, "loader tables");
    l->tables = t;
    l->cap = cap;
  }
  pthread_mutex_lock(&db->mu);
  uint64_t number = st_vset_new_file_number(&db->vs);
  int rc = st_db_pending_add(db, number);
  pthread_mutex_unlock(&db->mu);
  if (rc) return rc;
  /* Recorded at once, so destroy removes the file whatever happens next. */
  loaded_table *t = &l->tables[l->ntables++];
  memset(t, 0, sizeof *t);
  t->number = number;
  l->number = number;
  char *path = st_table_file_name(db->dbname, number);
  if (!path) return st_err(STRATA_ENOMEM, "file name");
  rc = db->env->new_wfile(db->env, path, &l->file);
  free(path);
  if (rc) return rc;
  l->builder = st_table_builder_new(&db->topt, l->file);
  if (!l->builder) return st_err(STRATA_ENOMEM, "table builder");
  return st_buf_set(&l->smallest, first.data, first.size);
}

/* Finishes the current table: footer, sync, close, read-back check. */
static int close_table(strata_loader *l) {
  strata_db *db = l->db;
  loaded_table *t = &l->tables[l->ntables - 1];
  int rc = st_table_builder_finish(l->builder);
  t->file_size = st_table_builder_file_size(l->builder);
  st_table_builder_free(l->builder);
  l->builder = NULL;
  if (!rc) rc = l->file->sync(l->file);
  int crc = l->file->close(l->file);
  l->file = NULL;
  if (!rc) rc = crc;
  if (!rc) {
    t->smallest = l->smallest;
    l->smallest = (st_buf)ST_BUF_INIT;
    rc = st_buf_set(&t->largest, l->ikey[l->cur].data, l->ikey[l->cur].size);
  }
  if (!rc) {
    st_read_opts ro = {0, 0};
    st_iter *it = st_table_cache_iter(db->table_cache, &ro, t->number, t->file_size, NULL);
    if (!it) {
      rc = st_err(STRATA_ENOMEM, "table check");
    } else {
      rc = st_iter_status(it);
      st_iter_destroy(it);
    }
  }
  return rc;
}

static void free_tables(strata_loader *l) {
  for (size_t i = 0; i < l->ntables; i++) {
    st_buf_free(&l->tables[i].smallest);
    st_buf_free(&l->tables[i].largest);
  }
  free(l->tables);
  l->tables = NULL;
  l->ntables = l->cap = 0;
}

/* Deletes every table of the load (and forgets them) and forgets their numbers as pending.
 * Keeps the thread's error message. */
static void remove_tables(strata_loader *l) {
  strata_db *db = l->db;
  st_error saved;
  st_error_capture(&saved, STRATA_EIO);
  if (l->builder) {
    st_table_builder_abandon(l->builder);
    st_table_builder_free(l->builder);
    l->builder = NULL;
  }
  if (l->file) {
    l->file->close(l->file);
    l->file = NULL;
  }
  for (size_t i = 0; i < l->ntables; i++) {
    st_table_cache_evict(db->table_cache, l->tables[i].number);
    char *path = st_table_file_name(db->dbname, l->tables[i].number);
    if (path) db->env->remove_file(db->env, path);
    free(path);
  }
  pthread_mutex_lock(&db->mu);
  for (size_t i = 0; i < l->ntables; i++)
    st_db_pending_remove(db, l->tables[i].number);
  pthread_mutex_unlock(&db->mu);
  free_tables(l);
  st_error_raise(&saved);
}

/* ------------------------------------------------------------------------ */
/* The public calls                                                         */
/* ------------------------------------------------------------------------ */

int strata_loader_create(strata_db *db, strata_subdb *sdb, strata_loader **out) {
  if (!db || !out)
    return st_err(STRATA_EMISUSE, "strata_loader_create: NULL %s", db ? "out" : "db");
  *out = NULL;
  if (db->opts.read_only)
    return st_err(STRATA_EINVAL, "strata_loader_create: read-only database %s", db->dbname);
  st_slice prefix;
  int rc = st_subdb_resolve(db, sdb, &prefix);
  if (rc) return rc;
  strata_loader *l = calloc(1, sizeof *l);
  if (!l) return st_err(STRATA_ENOMEM, "strata_loader_create");
  l->db = db;
  l->sdb = sdb;
  memcpy(l->prefix, prefix.data, prefix.size);
  l->prefix_len = prefix.size;
  l->split_reserved = !sdb && db->ucmp->bytewise;
  for (int i = 0; i < 2; i++) {
    if (st_buf_set(&l->ikey[i], l->prefix, l->prefix_len)) {
      strata_loader_destroy(l);
      return st_err(STRATA_ENOMEM, "strata_loader_create");
    }
  }
  *out = l;
  return 0;
}

/* "key 'ab..' (N bytes)" for messages: up to 32 bytes, printable or \x. */
static const char *describe_key(const void *key, size_t klen, char *out, size_t cap) {
  const unsigned char *k = key;
  size_t at = 0;
  at += (size_t)snprintf(out, cap, "key '");
  for (size_t i = 0; i < klen && i < 32 && at + 8 < cap; i++)
    at += (size_t)snprintf(out + at, cap - at,
                           k[i] >= 0x20 && k[i] < 0x7f && k[i] != '\'' ? "%c" : "\\x%02x", k[i]);
  snprintf(out + at, cap - at, "%s' (%zu bytes)", klen > 32 ? "..." : "", klen);
  return out;
}

int strata_loader_add(strata_loader *l, const void *key, size_t klen, const void *val,
                      size_t vlen) {
  if (!l) return st_err(STRATA_EMISUSE, "strata_loader_add: NULL loader");
  if (l->state != LOADER_OPEN)
    return st_err(STRATA_EMISUSE, "strata_loader_add: the loader %s",
                  l->state == LOADER_FINISHED ? "has finished"
                                              : "failed earlier (only destroy is allowed)");
  char what[160];
  if (klen > 0xffffffffu - 8 - l->prefix_len)
    return fail(l, st_err(STRATA_EINVAL, "strata_loader_add: key larger than 4 GiB - %zu bytes",
                          9 + l->prefix_len));
  if (vlen > 0xffffffffu)
    return fail(l, st_err(STRATA_EINVAL, "strata_loader_add: value larger than 4 GiB - 1 bytes"));
  if (!l->prefix_len && st_key_is_reserved(key, klen))
    return fail(l, st_err(STRATA_EINVAL,
                          "strata_loader_add: %s is in the range reserved for sub-databases "
                          "(keys beginning 0xff 0xff \"strata\" 0x00)",
                          describe_key(key, klen, what, sizeof what)));
  strata_db *db = l->db;
  st_slice uk = st_slice_make(key, klen);
  const st_buf *prev = &l->ikey[l->cur];
  int cut = 0;
  if (l->has_prev) {
    st_slice pk = st_slice_make(prev->data + l->prefix_len, prev->size - l->prefix_len - 8);
    if (st_ucmp(db->ucmp, uk, pk) <= 0)
      return fail(l, st_err(STRATA_EINVAL,
                            "strata_loader_add: %s is not greater than the previous key (keys "
                            "must be strictly increasing)",
                            describe_key(key, klen, what, sizeof what)));
    /* A main-database load stepping over the reserved range starts a new
     * table, so no table's range covers sub-database records. */
    st_slice reserved = st_slice_make(st_reserved_prefix, ST_RESERVED_LEN);
    if (l->split_reserved && l->builder && klen > 0 && ((const unsigned char *)key)[0] == 0xff &&
        st_slice_cmp(pk, reserved) < 0 && st_slice_cmp(uk, reserved) > 0)
      cut = 1;
  }
  int rc = 0;
  if (cut) rc = close_table(l);
  /* The new internal key goes into the other buffer; the previous one
   * stays intact until the add has succeeded. */
  st_buf *k = &l->ikey[!l->cur];
  k->size = l->prefix_len;
  if (!rc) rc = st_buf_append(k, key, klen);
  if (!rc) rc = st_buf_put_fixed64(k, st_pack_tag(0, ST_TYPE_VALUE));
  if (!rc && !l->builder) rc = open_table(l, st_buf_slice(k));
  if (!rc) rc = st_table_builder_add(l->builder, st_buf_slice(k), st_slice_make(val, vlen));
  if (rc) return fail(l, rc);
  l->cur = !l->cur;
  l->has_prev = 1;
  l->entries++;
  if (st_table_builder_file_size(l->builder) >= db->opts.max_file_size) {
    rc = close_table(l);
    if (rc) return fail(l, rc);
  }
  return 0;
}

/* Waits for the background thread to serve req. REQUIRE: mu held. */
static int wait_for_ingest(strata_db *db, st_ingest *req) {
  while (db->ingest && db->ingest != req) /* another loader's turn */
    pthread_cond_wait(&db->bg_cv, &db->mu);
  if (!db->shutting_down && !db->bg_error.code) {
    db->ingest = req;
    st_db_maybe_schedule(db);
  }
  /* Once the background thread has started a request it finishes it, even
   * while the database closes: req lives on this thread's stack. */
  while (db->ingest == req && !req->done &&
         (req->started || (!db->shutting_down && !db->bg_error.code)))
    pthread_cond_wait(&db->bg_cv, &db->mu);
  if (db->ingest == req) db->ingest = NULL;
  pthread_cond_broadcast(&db->bg_cv); /* a loader waiting for its turn */
  if (req->done) return req->rc ? st_error_raise(&req->err) : 0;
  if (db->bg_error.code) return st_error_raise(&db->bg_error);
  return st_err(STRATA_EIO, "strata_loader_finish: the database is closing");
}

int strata_loader_finish(strata_loader *l) {
  if (!l) return st_err(STRATA_EMISUSE, "strata_loader_finish: NULL loader");
  if (l->state != LOADER_OPEN)
    return st_err(STRATA_EMISUSE, "strata_loader_finish: the loader %s",
                  l->state == LOADER_FINISHED ? "has finished"
                                              : "failed earlier (only destroy is allowed)");
  strata_db *db = l->db;
  int rc = 0;
  if (l->builder) rc = close_table(l);
  if (rc) return fail(l, rc);
  if (l->ntables == 0) {
    l->state = LOADER_FINISHED;
    return 0;
  }
  st_ingest req;
  memset(&req, 0, sizeof req);
  req.loader = l;
  pthread_mutex_lock(&db->mu);
  rc = wait_for_ingest(db, &req);
  l->manifest_tried = req.manifest_tried;
  if (!rc) {
    /* Named by the current version now: no longer merely pending. */
    for (size_t i = 0; i < l->ntables; i++)
      st_db_pending_remove(db, l->tables[i].number);
  }
  pthread_mutex_unlock(&db->mu);
  if (rc) {
    fail(l, rc);
    /* Tables a MANIFEST record may name stay (a background error now
     * stops every write; the next open decides); others go at once. */
    if (!l->manifest_tried) remove_tables(l);
    return rc;
  }
  st_db_log(db, "bulk load: %llu entries in %zu tables added", (unsigned long long)l->entries,
            l->ntables);
  l->state = LOADER_FINISHED;
  return 0;
}

void strata_loader_destroy(strata_loader *l) {
  if (!l) return;
  if (!l->manifest_tried) {
    remove_tables(l);
  } else if (l->state != LOADER_FINISHED) {
    /* A failed MANIFEST write may name them: left on disk (see
     * strata_loader_finish), only forgotten as pending. */
    pthread_mutex_lock(&l->db->mu);
    for (size_t i = 0; i < l->ntables; i++)
      st_db_pending_remove(l->db, l->tables[i].number);
    pthread_mutex_unlock(&l->db->mu);
  }
  free_tables(l);
  st_buf_free(&l->smallest);
  st_buf_free(&l->ikey[0]);
  st_buf_free(&l->ikey[1]);
  free(l);
}

/* ------------------------------------------------------------------------ */
/* The background thread's part                                             */
/* ------------------------------------------------------------------------ */

/* The user key of an internal key (the whole key if too short to be one). */
static st_slice user_part(st_slice ikey) { return ikey.size >= 8 ? st_ikey_user(ikey) : ikey; }

/* Looks for an entry of the target with a user key in [lo, hi] through
 * it. Returns 0 (none), STRATA_EINVAL naming the key found, or the
 * iterator's error. */
static int check_iter(strata_loader *l, st_iter *it, st_slice lo, st_slice hi) {
  const st_comparator *ucmp = l->db->ucmp;
  st_buf target = ST_BUF_INIT;
  int rc = st_ikey_append(&target, lo, ST_MAX_SEQUENCE, ST_TYPE_FOR_SEEK);
  if (rc) return rc;
  st_iter_seek(it, st_buf_slice(&target));
  while (!rc && st_iter_valid(it)) {
    st_slice uk = user_part(st_iter_key(it));
    if (st_ucmp(ucmp, uk, hi) > 0) break;
    if (l->split_reserved && st_key_is_reserved(uk.data, uk.size)) {
      /* Sub-database records are not main-database entries: skip the
       * reserved range, to the first key after every key it holds. */
      char after[ST_RESERVED_LEN];
      memcpy(after, st_reserved_prefix, ST_RESERVED_LEN);
      after[ST_RESERVED_LEN - 1] = 0x01;
      target.size = 0;
      rc = st_ikey_append(&target, st_slice_make(after, ST_RESERVED_LEN), ST_MAX_SEQUENCE,
                          ST_TYPE_FOR_SEEK);
      if (!rc) st_iter_seek(it, st_buf_slice(&target));
      continue;
    }
    char what[160];
    st_slice shown = uk;
    if (l->prefix_len && shown.size >= l->prefix_len) {
      shown.data += l->prefix_len;
      shown.size -= l->prefix_len;
    }
    rc = st_err(STRATA_EINVAL,
                "strata_loader_finish: the loaded key range already holds an entry (%s); a "
                "bulk load needs a key range with no entry at all",
                describe_key(shown.data, shown.size, what, sizeof what));
  }
  if (!rc) rc = st_iter_status(it);
  st_buf_free(&target);
  return rc;
}

/* Step 1 (see the top): no entry of the target in [lo, hi] in mem, imm or
 * v. Runs without mu (the caller holds references). */
static int check_range(strata_loader *l, st_memtable *mem, st_memtable *imm, st_version *v,
                       st_slice lo, st_slice hi) {
  st_iter **iters = NULL;
  int n = 0, cap = 2, rc = 0;
  iters = malloc((size_t)cap * sizeof *iters);
  if (!iters) return st_err(STRATA_ENOMEM, "loader check");
  st_memtable *mems[2] = {mem, imm};
  for (int i = 0; i < 2 && !rc; i++) {
    if (!mems[i]) continue;
    iters[n] = st_memtable_iter(mems[i]);
    if (!iters[n])
      rc = st_err(STRATA_ENOMEM, "loader check");
    else
      n++;
  }
  st_read_opts ro = st_db_read_opts(l->db, NULL);
  ro.fill_cache = 0;
  if (!rc) rc = st_version_add_iterators(v, &ro, &iters, &n, &cap);
  for (int i = 0; i < n && !rc; i++)
    rc = check_iter(l, iters[i], lo, hi);
  for (int i = 0; i < n; i++)
    st_iter_destroy(iters[i]);
  free(iters);
  return rc;
}

/* The whole of finish's work on the database (steps 1-3). REQUIRE: mu
 * held (released inside). */
static int ingest(strata_db *db, strata_loader *l, int *manifest_tried) {
  /* A sub-database dropped while it was being loaded: its id is garbage. */
  st_slice prefix;
  int rc = st_subdb_resolve(db, l->sdb, &prefix);
  if (rc) return rc;

  st_slice lo = st_ikey_user(st_buf_slice(&l->tables[0].smallest));
  st_slice hi = st_ikey_user(st_buf_slice(&l->tables[l->ntables - 1].largest));
  st_memtable *mem = db->mem, *imm = db->imm;
  st_version *v = db->vs.current;
  st_memtable_ref(mem);
  if (imm) st_memtable_ref(imm);
  st_version_ref(v);
  pthread_mutex_unlock(&db->mu);
  rc = check_range(l, mem, imm, v, lo, hi);
  pthread_mutex_lock(&db->mu);
  st_memtable_unref(mem);
  st_memtable_unref(imm);
  st_version_unref(v);
  if (rc) return rc;

  /* Only this thread changes the version: it is still v. */
  v = db->vs.current;
  st_version_edit edit;
  st_edit_init(&edit);
  int deepest = 0;
  for (size_t i = 0; !rc && i < l->ntables; i++) {
    loaded_table *t = &l->tables[i];
    st_slice a = st_ikey_user(st_buf_slice(&t->smallest));
    st_slice b = st_ikey_user(st_buf_slice(&t->largest));
    t->level = 0;
    for (int level = ST_NUM_LEVELS - 1; level >= 1; level--) {
      if (!st_version_overlap_in_level(v, level, &a, &b)) {
        t->level = level;
        break;
      }
    }
    if (t->level > deepest) deepest = t->level;
    rc = st_edit_add_file(&edit, t->level, t->number, t->file_size, st_buf_slice(&t->smallest),
                          st_buf_slice(&t->largest));
  }
  if (!rc) {
    *manifest_tried = 1;
    rc = st_db_log_and_apply(db, &edit);
    /* The MANIFEST may or may not name the tables now: stop every write
     * rather than guess (as a failed flush or compaction does). */
    if (rc) st_db_record_bg_error(db, rc);
  }
  st_edit_clear(&edit);
  if (!rc) {
    uint64_t bytes = 0;
    for (size_t i = 0; i < l->ntables; i++)
      bytes += l->tables[i].file_size;
    db->stats[deepest].bytes_written += (int64_t)bytes;
  }
  return rc;
}

void st_db_run_ingest(strata_db *db) {
  st_ingest *req = db->ingest;
  req->started = 1;
  req->rc = ingest(db, req->loader, &req->manifest_tried);
  if (req->rc) st_error_capture(&req->err, req->rc);
  req->done = 1;
  pthread_cond_broadcast(&db->bg_cv);
}
