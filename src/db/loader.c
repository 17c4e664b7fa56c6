/*
 * loader.c - sorted bulk load (strata_loader_*): sorted tables built
 * straight from keys given in increasing order and added to the database
 * in one MANIFEST record, with no write-ahead log, no memtable and no
 * compaction rewriting them. RocksDB's external SST file ingestion is the
 * model; this is a fresh implementation within LevelDB's file formats.
 *
 * Building (strata_loader_add). Each key, behind the target's prefix (none
 * for the main database; `reserved 'd' id` for a sub-database, subdb.h),
 * becomes the internal key (prefixed key, sequence 0, value). The caller's
 * thread only checks the order and copies the entry into a chunk: the
 * entries of one future table, as `varint32 ikey_len, ikey, varint32
 * value_len, value`. A full chunk goes to one of LOADER_WORKERS threads,
 * which builds its table with the database's own table options (block
 * size, restart interval, compression, filter policy), syncs it, and reads
 * its footer and index back; meanwhile the caller fills the next chunk. So
 * a load keeps two cores busy compressing, as a stream of writes does (the
 * writer's thread and the one flushing memtables), and the tables' syncs
 * overlap the building of the next ones. At most LOADER_CHUNKS chunks
 * exist: the caller waits for a free one when the workers fall behind.
 *
 * Where a table ends: tables should be about max_file_size bytes, the
 * size compactions cut at, but a chunk's table size is known only once it
 * is built (compression). A chunk is cut at an estimate in raw bytes,
 * max_file_size times the raw-to-file ratio of the tables built so far
 * (max_file_size itself for the first ones). A main-database load in
 * bytewise order also cuts where the keys step over the reserved range of
 * sub-databases, so no loaded table spans sub-database records.
 *
 * Every table's file number is marked pending from the start
 * (st_db_pending_add), so the background thread, which deletes every file
 * no version names, leaves it alone; destroy deletes the tables of a load
 * that did not finish.
 *
 * Adding (strata_loader_finish): once every chunk is built, the tables go
 * to the background thread (st_db_ingest, ingest.c), which alone flushes
 * memtables, runs compactions and writes the MANIFEST, so nothing changes
 * the version or moves entries between the check and the record:
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
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/db_impl.h"
#include "db/filename.h"
#include "db/ingest.h"
#include "db/subdb.h"
#include "table/table_builder.h"
#include "util/internal_key.h"

#define LOADER_WORKERS 2
#define LOADER_CHUNKS (LOADER_WORKERS + 1)
/* A chunk that grew past this (a huge value) gives its memory back when
 * it is recycled. */
#define CHUNK_KEEP_MAX (64u << 20)

/* The entries of one table to be. */
typedef struct chunk {
  st_buf data; /* varint32 ikey_len, ikey, varint32 value_len, value; ... */
  uint64_t entries;
  size_t table; /* index of its table in the loader's list */
  struct chunk *next;
} chunk;

enum { LOADER_OPEN, LOADER_FAILED, LOADER_FINISHED };

struct strata_loader {
  strata_db *db;
  char prefix[ST_SUBDB_PREFIX_LEN]; /* the target's key prefix */
  size_t prefix_len;                /* 0: the main database */
  strata_subdb *sdb;
  int state;
  int split_reserved; /* main database, bytewise: cut tables at the reserved range */
  st_error err;       /* why the loader failed (state LOADER_FAILED) */
  /* The internal key being added and the previous one: two buffers,
   * swapped after each add, so the order check needs no copy. Each starts
   * with the prefix. */
  st_buf ikey[2];
  int cur; /* ikey[cur] holds the previous key when has_prev */
  int has_prev;
  uint64_t entries;
  size_t cut;         /* raw bytes at which the chunk being filled is cut */
  chunk *fill;        /* the chunk being filled (the caller's), or NULL */
  int manifest_tried; /* a MANIFEST record naming the tables may exist */

  /* Shared with the workers: under mu. */
  pthread_mutex_t mu;
  pthread_cond_t cv; /* any change below */
  chunk chunks[LOADER_CHUNKS];
  chunk *free_chunks;
  chunk *queue, *queue_tail; /* full chunks no worker has taken yet */
  int busy;                  /* chunks queued or being built */
  int stop;                  /* workers exit once the queue is empty */
  int abandon;               /* workers drop queued chunks unbuilt */
  st_thread *workers[LOADER_WORKERS];
  int nworkers;
  int worker_rc; /* the first failure of a worker, and its message */
  st_error worker_err;
  uint64_t raw_built, file_built; /* for the cut estimate */
  st_ingest_table *tables;        /* every table begun, in key order */
  size_t ntables, cap;
};

static int fail(strata_loader *l, int rc) {
  l->state = LOADER_FAILED;
  st_error_capture(&l->err, rc);
  return rc;
}

/* ------------------------------------------------------------------------ */
/* Workers                                                                  */
/* ------------------------------------------------------------------------ */

/* Writes table `number` from chunk c: built, synced, read back. */
static int build_table(strata_loader *l, const chunk *c, uint64_t number, uint64_t *size,
                       st_buf *smallest, st_buf *largest) {
  strata_db *db = l->db;
  char *path = st_table_file_name(db->dbname, number);
  if (!path) return st_err(STRATA_ENOMEM, "file name");
  st_wfile *file = NULL;
  int rc = db->env->new_wfile(db->env, path, &file);
  free(path);
  if (rc) return rc;
  st_table_builder *b = st_table_builder_new(&db->topt, file);
  if (!b) rc = st_err(STRATA_ENOMEM, "table builder");
  const char *p = c->data.data, *end = p + c->data.size;
  st_slice k = {0}, v;
  for (uint64_t i = 0; !rc && i < c->entries; i++) {
    uint32_t kl, vl;
    p = st_get_varint32(p, end, &kl);
    k = st_slice_make(p, kl);
    p = st_get_varint32(p + kl, end, &vl);
    v = st_slice_make(p, vl);
    p += vl;
    if (i == 0) rc = st_buf_set(smallest, k.data, k.size);
    if (!rc) rc = st_table_builder_add(b, k, v);
  }
  if (!rc) rc = st_buf_set(largest, k.data, k.size);
  if (!rc)
    rc = st_table_builder_finish(b);
  else if (b)
    st_table_builder_abandon(b);
  *size = b ? st_table_builder_file_size(b) : 0;
  st_table_builder_free(b);
  if (!rc) rc = file->sync(file);
  int crc = file->close(file);
  if (!rc) rc = crc;
  if (!rc) {
    st_read_opts ro = {0, 0};
    st_iter *it = st_table_cache_iter(db->table_cache, &ro, number, *size, NULL);
    if (!it) {
      rc = st_err(STRATA_ENOMEM, "table check");
    } else {
      rc = st_iter_status(it);
      st_iter_destroy(it);
    }
  }
  return rc;
}

/* Puts c back on the free list. REQUIRE: l->mu held. */
static void recycle(strata_loader *l, chunk *c) {
  if (c->data.cap > CHUNK_KEEP_MAX) st_buf_free(&c->data);
  c->data.size = 0;
  c->entries = 0;
  c->next = l->free_chunks;
  l->free_chunks = c;
}

static void worker_main(void *arg) {
  strata_loader *l = arg;
  pthread_mutex_lock(&l->mu);
  for (;;) {
    while (!l->queue && !l->stop)
      pthread_cond_wait(&l->cv, &l->mu);
    if (!l->queue) break;
    chunk *c = l->queue;
    l->queue = c->next;
    if (!l->queue) l->queue_tail = NULL;
    if (!l->abandon && !l->worker_rc) {
      uint64_t number = l->tables[c->table].number;
      pthread_mutex_unlock(&l->mu);
      uint64_t size = 0;
      st_buf smallest = ST_BUF_INIT, largest = ST_BUF_INIT;
      int rc = build_table(l, c, number, &size, &smallest, &largest);
      pthread_mutex_lock(&l->mu);
      st_ingest_table *t = &l->tables[c->table]; /* the list may have moved */
      t->file_size = size;
      t->smallest = smallest;
      t->largest = largest;
      l->raw_built += c->data.size;
      l->file_built += size;
      if (rc && !l->worker_rc) {
        l->worker_rc = rc;
        st_error_capture(&l->worker_err, rc);
      }
    }
    recycle(l, c);
    l->busy--;
    pthread_cond_broadcast(&l->cv);
  }
  pthread_mutex_unlock(&l->mu);
  st_err_clear();
}

/* Makes l->fill a free chunk, waiting for one. Returns a worker's failure
 * instead, if there was one. */
static int take_chunk(strata_loader *l) {
  pthread_mutex_lock(&l->mu);
  while (!l->free_chunks && !l->worker_rc)
    pthread_cond_wait(&l->cv, &l->mu);
  int rc = l->worker_rc ? st_error_raise(&l->worker_err) : 0;
  if (!rc) {
    l->fill = l->free_chunks;
    l->free_chunks = l->fill->next;
  }
  pthread_mutex_unlock(&l->mu);
  return rc;
}

/* Hands l->fill (not empty) to the workers as the next table. */
static int submit(strata_loader *l) {
  strata_db *db = l->db;
  pthread_mutex_lock(&db->mu);
  uint64_t number = st_vset_new_file_number(&db->vs);
  int rc = st_db_pending_add(db, number);
  pthread_mutex_unlock(&db->mu);
  if (rc) return rc;
  pthread_mutex_lock(&l->mu);
  if (l->ntables == l->cap) {
    size_t cap = l->cap ? l->cap * 2 : 16;
    st_ingest_table *t = realloc(l->tables, cap * sizeof *t);
    if (!t) rc = st_err(STRATA_ENOMEM, "loader tables");
    if (!rc) {
      l->tables = t;
      l->cap = cap;
    }
  }
  if (rc) {
    pthread_mutex_unlock(&l->mu);
    pthread_mutex_lock(&db->mu);
    st_db_pending_remove(db, number);
    pthread_mutex_unlock(&db->mu);
    return rc;
  }
  /* Listed at once, so destroy removes the file whatever happens next. */
  st_ingest_table *t = &l->tables[l->ntables];
  memset(t, 0, sizeof *t);
  t->number = number;
  chunk *c = l->fill;
  c->table = l->ntables++;
  c->next = NULL;
  if (l->queue_tail)
    l->queue_tail->next = c;
  else
    l->queue = c;
  l->queue_tail = c;
  l->busy++;
  l->fill = NULL;
  if (l->nworkers < LOADER_WORKERS && l->nworkers < l->busy) {
    /* Started as the work needs them; the first one is required. */
    if (db->env->thread_create(db->env, worker_main, l, &l->workers[l->nworkers]) == 0)
      l->nworkers++;
    else if (l->nworkers == 0) {
      char why[ST_ERRMSG_MAX];
      snprintf(why, sizeof why, "%s", st_errmsg());
      rc = st_err(STRATA_EIO, "strata_loader_add: cannot start a thread to build tables (%s)", why);
    } else
      st_err_clear();
  }
  /* The next cut, from what the tables built so far made of their bytes. */
  size_t target = l->db->opts.max_file_size;
  if (l->file_built > 0) {
    double est = (double)target * (double)l->raw_built / (double)l->file_built;
    double lo = (double)target / 2, hi = (double)target * 8;
    l->cut = (size_t)(est < lo ? lo : est > hi ? hi : est);
  }
  pthread_cond_broadcast(&l->cv);
  pthread_mutex_unlock(&l->mu);
  return rc;
}

/* Waits until every submitted chunk is built, then stops the workers
 * (abandon: drops the queued ones unbuilt). Returns a worker's failure. */
static int stop_workers(strata_loader *l, int abandon) {
  pthread_mutex_lock(&l->mu);
  if (abandon) l->abandon = 1;
  if (l->nworkers == 0) {
    /* No thread could be started: nothing will build what is queued. */
    while (l->queue) {
      chunk *c = l->queue;
      l->queue = c->next;
      recycle(l, c);
      l->busy--;
    }
    l->queue_tail = NULL;
  }
  while (l->busy > 0)
    pthread_cond_wait(&l->cv, &l->mu);
  l->stop = 1;
  pthread_cond_broadcast(&l->cv);
  int n = l->nworkers;
  l->nworkers = 0;
  int rc = l->worker_rc;
  pthread_mutex_unlock(&l->mu);
  for (int i = 0; i < n; i++)
    l->db->env->thread_join(l->db->env, l->workers[i]);
  return rc ? st_error_raise(&l->worker_err) : 0;
}

/* ------------------------------------------------------------------------ */
/* Tables                                                                   */
/* ------------------------------------------------------------------------ */

static void free_tables(strata_loader *l) {
  for (size_t i = 0; i < l->ntables; i++) {
    st_buf_free(&l->tables[i].smallest);
    st_buf_free(&l->tables[i].largest);
  }
  free(l->tables);
  l->tables = NULL;
  l->ntables = l->cap = 0;
}

/* Deletes every table of the load and forgets them (as pending too).
 * REQUIRE: no worker running. Keeps the thread's error message. */
static void remove_tables(strata_loader *l) {
  strata_db *db = l->db;
  if (l->ntables == 0) return;
  st_error saved;
  st_error_capture(&saved, STRATA_EIO);
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
  l->cut = db->opts.max_file_size;
  pthread_mutex_init(&l->mu, NULL);
  pthread_cond_init(&l->cv, NULL);
  for (int i = 0; i < LOADER_CHUNKS; i++)
    recycle(l, &l->chunks[i]);
  for (int i = 0; i < 2; i++) {
    if (st_buf_set(&l->ikey[i], l->prefix, l->prefix_len)) {
      strata_loader_destroy(l);
      return st_err(STRATA_ENOMEM, "strata_loader_create");
    }
  }
  *out = l;
  return 0;
}

static const char *state_words(const strata_loader *l) {
  return l->state == LOADER_FINISHED ? "has finished" : "failed earlier (only destroy is allowed)";
}

int strata_loader_add(strata_loader *l, const void *key, size_t klen, const void *val,
                      size_t vlen) {
  if (!l) return st_err(STRATA_EMISUSE, "strata_loader_add: NULL loader");
  if (l->state != LOADER_OPEN)
    return st_err(STRATA_EMISUSE, "strata_loader_add: the loader %s", state_words(l));
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
                          st_describe_key(key, klen, what, sizeof what)));
  st_slice uk = st_slice_make(key, klen);
  int rc = 0;
  if (l->has_prev) {
    const st_buf *prev = &l->ikey[l->cur];
    st_slice pk = st_slice_make(prev->data + l->prefix_len, prev->size - l->prefix_len - 8);
    if (st_ucmp(l->db->ucmp, uk, pk) <= 0)
      return fail(l, st_err(STRATA_EINVAL,
                            "strata_loader_add: %s is not greater than the previous key (keys "
                            "must be strictly increasing)",
                            st_describe_key(key, klen, what, sizeof what)));
    /* A main-database load stepping over the reserved range starts a new
     * table, so no table's range covers sub-database records. */
    st_slice reserved = st_slice_make(st_reserved_prefix, ST_RESERVED_LEN);
    if (l->split_reserved && l->fill && klen > 0 && ((const unsigned char *)key)[0] == 0xff &&
        st_slice_cmp(pk, reserved) < 0 && st_slice_cmp(uk, reserved) > 0)
      rc = submit(l);
  }
  /* The new internal key goes into the other buffer, then into the chunk. */
  st_buf *k = &l->ikey[!l->cur];
  k->size = l->prefix_len;
  if (!rc) rc = st_buf_append(k, key, klen);
  if (!rc) rc = st_buf_put_fixed64(k, st_pack_tag(0, ST_TYPE_VALUE));
  if (!rc && !l->fill) rc = take_chunk(l);
  if (!rc) {
    st_buf *d = &l->fill->data;
    rc = st_buf_reserve(d, 2 * ST_MAX_VARINT32 + k->size + vlen);
    if (!rc) {
      char *p = st_put_varint32(d->data + d->size, (uint32_t)k->size);
      memcpy(p, k->data, k->size);
      p = st_put_varint32(p + k->size, (uint32_t)vlen);
      if (vlen) memcpy(p, val, vlen);
      d->size = (size_t)(p + vlen - d->data);
      l->fill->entries++;
    }
  }
  if (rc) return fail(l, rc);
  l->cur = !l->cur;
  l->has_prev = 1;
  l->entries++;
  if (l->fill->data.size >= l->cut) {
    rc = submit(l);
    if (rc) return fail(l, rc);
  }
  return 0;
}

int strata_loader_finish(strata_loader *l) {
  if (!l) return st_err(STRATA_EMISUSE, "strata_loader_finish: NULL loader");
  if (l->state != LOADER_OPEN)
    return st_err(STRATA_EMISUSE, "strata_loader_finish: the loader %s", state_words(l));
  strata_db *db = l->db;
  int rc = 0;
  if (l->fill && l->fill->entries > 0) rc = submit(l);
  int wrc = stop_workers(l, 0);
  if (!rc) rc = wrc;
  if (rc) {
    fail(l, rc);
    remove_tables(l);
    return rc;
  }
  if (l->ntables == 0) {
    l->state = LOADER_FINISHED;
    return 0;
  }
  st_ingest req;
  memset(&req, 0, sizeof req);
  req.tables = l->tables;
  req.ntables = l->ntables;
  req.sdb = l->sdb;
  req.prefix_len = l->prefix_len;
  req.skip_reserved = l->split_reserved;
  pthread_mutex_lock(&db->mu);
  rc = st_db_ingest(db, &req);
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
  int levels[ST_NUM_LEVELS] = {0};
  for (size_t i = 0; i < l->ntables; i++)
    levels[l->tables[i].level]++;
  st_db_log(db, "bulk load: %llu entries in %zu tables added (per level: %d %d %d %d %d %d %d)",
            (unsigned long long)l->entries, l->ntables, levels[0], levels[1], levels[2], levels[3],
            levels[4], levels[5], levels[6]);
  l->state = LOADER_FINISHED;
  return 0;
}

void strata_loader_destroy(strata_loader *l) {
  if (!l) return;
  /* The thread's message still tells why the last call failed. */
  st_error saved;
  st_error_capture(&saved, STRATA_EIO);
  stop_workers(l, 1);
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
  for (int i = 0; i < LOADER_CHUNKS; i++)
    st_buf_free(&l->chunks[i].data);
  st_buf_free(&l->ikey[0]);
  st_buf_free(&l->ikey[1]);
  pthread_mutex_destroy(&l->mu);
  pthread_cond_destroy(&l->cv);
  free(l);
  st_error_raise(&saved);
}
