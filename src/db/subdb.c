/*
 * subdb.c - named sub-databases: the catalog, handles, open, drop, list and
 * statistics. The record layout is the grammar at the top of subdb.h.
 *
 * The catalog is read once at open (st_subdb_load) into the handle list;
 * from then on this handle is its only writer, and every create and drop
 * updates records and list together under subdb_mu. A drop marks the
 * handle dropped from inside the write queue, just before its batch is
 * applied (mark_dropped), so no transaction whose commit check runs after
 * the drop can write into the dropped sub-database. Its records are then
 * discarded by compactions (db_compact.c drops every record of an id in
 * dropped_ids) and a cleanup thread compacts the id's range at once, so
 * the space comes back without a delete per key.
 */
#include "db/subdb.h"

#include <stdlib.h>
#include <string.h>

#include "db/db_impl.h"
#include "table/merger.h"
#include "util/error.h"
#include "util/internal_key.h"

const char st_reserved_prefix[ST_RESERVED_LEN] = {'\xff', '\xff', 's', 't', 'r',
                                                  'a',    't',    'a', '\0'};

int st_subdb_resolve(strata_db *db, strata_subdb *sdb, st_slice *prefix) {
  if (!sdb) {
    *prefix = st_slice_make("", 0);
    return 0;
  }
  if (sdb->db != db)
    return st_err(STRATA_EINVAL, "sub-database '%s' belongs to another database", sdb->name);
  if (atomic_load_explicit(&sdb->dropped, memory_order_acquire))
    return st_err(STRATA_EINVAL, "sub-database '%s' was dropped", sdb->name);
  *prefix = st_slice_make(sdb->prefix, ST_SUBDB_PREFIX_LEN);
  return 0;
}

/* reserved kind [rest], in buf. */
static int record_key(st_buf *buf, char kind, const void *rest, size_t n) {
  buf->size = 0;
  if (st_buf_append(buf, st_reserved_prefix, ST_RESERVED_LEN) || st_buf_push(buf, kind) ||
      st_buf_append(buf, rest, n))
    return st_err(STRATA_ENOMEM, "sub-database catalog");
  return 0;
}

static strata_subdb *new_handle(strata_db *db, const char *name, size_t len, uint32_t id) {
  strata_subdb *h = calloc(1, sizeof *h + len + 1);
  if (!h) return NULL;
  h->db = db;
  h->id = id;
  atomic_init(&h->dropped, 0);
  memcpy(h->prefix, st_reserved_prefix, ST_RESERVED_LEN);
  h->prefix[ST_RESERVED_LEN] = ST_SUBDB_DATA;
  st_subdb_put_id(h->prefix + ST_RESERVED_LEN + 1, id);
  memcpy(h->name, name, len);
  h->name[len] = '\0';
  return h;
}

/* The live handle named name, or NULL. REQUIRE: subdb_mu held. */
static strata_subdb *find(strata_db *db, const char *name) {
  for (strata_subdb *h = db->subdbs; h; h = h->next)
    if (!atomic_load_explicit(&h->dropped, memory_order_relaxed) && strcmp(h->name, name) == 0)
      return h;
  return NULL;
}

/* Adds id to the sorted dropped_ids. REQUIRE: mu held. */
static int add_dropped(strata_db *db, uint32_t id) {
  size_t i = 0;
  while (i < db->ndropped && db->dropped_ids[i] < id)
    i++;
  if (i < db->ndropped && db->dropped_ids[i] == id) return 0;
  if (db->ndropped == db->cap_dropped) {
    size_t cap = db->cap_dropped ? db->cap_dropped * 2 : 8;
    uint32_t *v = realloc(db->dropped_ids, cap * sizeof *v);
    if (!v) return st_err(STRATA_ENOMEM, "dropped sub-databases");
    db->dropped_ids = v;
    db->cap_dropped = cap;
  }
  memmove(db->dropped_ids + i + 1, db->dropped_ids + i, (db->ndropped - i) * sizeof(uint32_t));
  db->dropped_ids[i] = id;
  db->ndropped++;
  return 0;
}

static int name_ok(const char *name, size_t *len) {
  if (!name) return st_err(STRATA_EMISUSE, "sub-database: NULL name");
  *len = strlen(name);
  if (*len == 0 || *len > STRATA_SUBDB_NAME_MAX)
    return st_err(STRATA_EINVAL, "sub-database name of %zu bytes (1 to %d allowed)", *len,
                  STRATA_SUBDB_NAME_MAX);
  return 0;
}

/* ------------------------------------------------------------------------ */
/* Loading the catalog                                                      */
/* ------------------------------------------------------------------------ */

int st_subdb_load(strata_db *db) {
  strata_iter *it = NULL;
  int rc = st_db_iter_create_internal(db, &it);
  if (rc) return rc;
  st_buf k = ST_BUF_INIT;
  uint32_t next = 1;
  strata_subdb *list = NULL;
  uint32_t *dropped = NULL;
  size_t ndropped = 0, cap = 0;
  /* The records sort catalog 'c', data 'd', next id 'n', dropped 'x': read
   * the catalog, then jump over the data. */
  rc = record_key(&k, ST_SUBDB_CATALOG, "", 0);
  if (!rc) strata_iter_seek(it, k.data, k.size);
  while (!rc && strata_iter_valid(it)) {
    size_t klen, vlen;
    const char *key = strata_iter_key(it, &klen);
    const char *val = strata_iter_value(it, &vlen);
    if (!st_key_is_reserved(key, klen) || klen == ST_RESERVED_LEN) break;
    char kind = key[ST_RESERVED_LEN];
    const char *rest = key + ST_RESERVED_LEN + 1;
    size_t rlen = klen - ST_RESERVED_LEN - 1;
    if (kind == ST_SUBDB_CATALOG) {
      if (vlen != 4 || rlen == 0 || rlen > STRATA_SUBDB_NAME_MAX || memchr(rest, 0, rlen)) {
        rc = st_err_corrupt("sub-database catalog: malformed record (value of %zu bytes)", vlen);
        break;
      }
      uint32_t id = st_subdb_get_id(val);
      strata_subdb *h = new_handle(db, rest, rlen, id);
      if (!h) {
        rc = st_err(STRATA_ENOMEM, "sub-database catalog");
        break;
      }
      h->next = list;
      list = h;
      if (id >= next) next = id + 1;
      strata_iter_next(it);
    } else if (kind == ST_SUBDB_DATA) {
      rc = record_key(&k, ST_SUBDB_DATA + 1, "", 0);
      if (!rc) strata_iter_seek(it, k.data, k.size);
    } else if (kind == ST_SUBDB_NEXT_ID) {
      if (vlen == 4 && st_subdb_get_id(val) > next) next = st_subdb_get_id(val);
      strata_iter_next(it);
    } else if (kind == ST_SUBDB_DROPPED) {
      if (rlen == 4) {
        uint32_t id = st_subdb_get_id(rest);
        if (ndropped == cap) {
          cap = cap ? cap * 2 : 8;
          uint32_t *v = realloc(dropped, cap * sizeof *v);
          if (!v) {
            rc = st_err(STRATA_ENOMEM, "sub-database catalog");
            break;
          }
          dropped = v;
        }
        dropped[ndropped++] = id; /* in key order: sorted */
        if (id >= next) next = id + 1;
      }
      strata_iter_next(it);
    } else {
      strata_iter_next(it);
    }
  }
  if (!rc) rc = strata_iter_status(it);
  strata_iter_destroy(it);
  st_buf_free(&k);
  if (rc) {
    while (list) {
      strata_subdb *n = list->next;
      free(list);
      list = n;
    }
    free(dropped);
    return rc;
  }
  pthread_mutex_lock(&db->subdb_mu);
  /* Replace the list (a read-only handle's catch-up reloads it): handles
   * already given out stay valid, those still named keep their identity. */
  strata_subdb *merged = db->subdbs;
  while (list) {
    strata_subdb *h = list;
    list = list->next;
    strata_subdb *old = find(db, h->name);
    if (old && old->id == h->id) {
      free(h);
      continue;
    }
    h->next = merged;
    merged = h;
  }
  /* A live handle whose id is now dropped, or gone from the catalog: the
   * writer dropped it. */
  for (strata_subdb *h = merged; h; h = h->next) {
    for (size_t i = 0; i < ndropped; i++)
      if (dropped[i] == h->id) atomic_store(&h->dropped, 1);
  }
  db->subdbs = merged;
  if (next > db->next_subdb_id) db->next_subdb_id = next;
  pthread_mutex_unlock(&db->subdb_mu);
  pthread_mutex_lock(&db->mu);
  free(db->dropped_ids);
  db->dropped_ids = dropped;
  db->ndropped = ndropped;
  db->cap_dropped = cap;
  pthread_mutex_unlock(&db->mu);
  return 0;
}

void st_subdb_free_all(strata_db *db) {
  strata_subdb *h = db->subdbs;
  while (h) {
    strata_subdb *n = h->next;
    free(h);
    h = n;
  }
  db->subdbs = NULL;
  free(db->dropped_ids);
  db->dropped_ids = NULL;
  db->ndropped = db->cap_dropped = 0;
}

/* ------------------------------------------------------------------------ */
/* Open, drop, list                                                         */
/* ------------------------------------------------------------------------ */

int strata_subdb_open(strata_db *db, const char *name, int create, strata_subdb **out) {
  if (!db || !out) return st_err(STRATA_EMISUSE, "strata_subdb_open: NULL argument");
  *out = NULL;
  size_t len;
  int rc = name_ok(name, &len);
  if (rc) return rc;
  if (!db->ucmp->bytewise)
    return st_err(STRATA_ENOTSUP,
                  "sub-databases need the bytewise comparator; this database uses '%s'",
                  db->ucmp->name);
  pthread_mutex_lock(&db->subdb_mu);
  strata_subdb *h = find(db, name);
  if (h) {
    *out = h;
  } else if (!create) {
    rc = st_err(STRATA_ENOTFOUND, "sub-database '%s' does not exist", name);
  } else if (db->opts.read_only) {
    rc = st_err(STRATA_EINVAL, "%s: read-only database: cannot create sub-database '%s'",
                db->dbname, name);
  } else if (db->next_subdb_id == UINT32_MAX) {
    rc = st_err(STRATA_EINVAL, "no sub-database ids left");
  } else {
    uint32_t id = db->next_subdb_id;
    char idbuf[4], nextbuf[4];
    st_subdb_put_id(idbuf, id);
    st_subdb_put_id(nextbuf, id + 1);
    strata_batch b;
    st_buf k = ST_BUF_INIT;
    rc = st_batch_init(&b);
    st_slice none = {"", 0};
    if (!rc) rc = record_key(&k, ST_SUBDB_CATALOG, name, len);
    if (!rc) rc = st_batch_put_raw(&b, none, k.data, k.size, idbuf, 4);
    if (!rc) rc = record_key(&k, ST_SUBDB_NEXT_ID, "", 0);
    if (!rc) rc = st_batch_put_raw(&b, none, k.data, k.size, nextbuf, 4);
    h = rc ? NULL : new_handle(db, name, len, id);
    if (!rc && !h) rc = st_err(STRATA_ENOMEM, "sub-database handle");
    /* Not synced: the log keeps order, so any later write into the
     * sub-database that survives a crash has its catalog record with it. */
    if (!rc) rc = st_db_write(db, 0, &b, NULL);
    if (!rc) {
      h->next = db->subdbs;
      db->subdbs = h;
      db->next_subdb_id = id + 1;
      *out = h;
    } else {
      free(h);
    }
    st_batch_release(&b);
    st_buf_free(&k);
  }
  pthread_mutex_unlock(&db->subdb_mu);
  return rc;
}

/* Runs at the head of the write queue, just before the drop's batch. */
static int mark_dropped(void *arg) {
  atomic_store_explicit(&((strata_subdb *)arg)->dropped, 1, memory_order_release);
  return 0;
}

/* The cleanup thread: compacts the ranges of dropped ids until none is
 * left (or the database closes), so their records go at once. */
static void cleanup_thread(void *arg) {
  strata_db *db = arg;
  pthread_mutex_lock(&db->mu);
  while (db->ncleanup > 0 && !db->shutting_down) {
    uint32_t id = db->cleanup_ids[--db->ncleanup];
    pthread_mutex_unlock(&db->mu);
    char lo[ST_SUBDB_PREFIX_LEN], hi[ST_SUBDB_PREFIX_LEN];
    memcpy(lo, st_reserved_prefix, ST_RESERVED_LEN);
    lo[ST_RESERVED_LEN] = ST_SUBDB_DATA;
    st_subdb_put_id(lo + ST_RESERVED_LEN + 1, id);
    memcpy(hi, lo, sizeof hi);
    if (id == UINT32_MAX)
      hi[ST_RESERVED_LEN] = ST_SUBDB_DATA + 1;
    else
      st_subdb_put_id(hi + ST_RESERVED_LEN + 1, id + 1);
    /* The tables only: entries still in a memtable go with the next
     * compaction after their flush. Errors are the database's background
     * error, seen by later writes. */
    st_slice b = st_slice_make(lo, sizeof lo), e = st_slice_make(hi, sizeof hi);
    if (st_db_compact_tables(db, &b, &e, 1) != 0)
      st_db_log(db, "compaction of dropped sub-database #%u: %s", id, strata_errmsg());
    pthread_mutex_lock(&db->mu);
  }
  db->cleanup_running = 0;
  pthread_mutex_unlock(&db->mu);
  st_err_clear();
}

/* Queues id's range for the cleanup thread, starting it if needed.
 * REQUIRE: mu held. */
static void schedule_cleanup(strata_db *db, uint32_t id) {
  if (db->ncleanup == db->cap_cleanup) {
    size_t cap = db->cap_cleanup ? db->cap_cleanup * 2 : 8;
    uint32_t *v = realloc(db->cleanup_ids, cap * sizeof *v);
    if (!v) return; /* ordinary compactions will still discard the records */
    db->cleanup_ids = v;
    db->cap_cleanup = cap;
  }
  db->cleanup_ids[db->ncleanup++] = id;
  if (db->cleanup_running || db->shutting_down) return;
  /* The previous thread has finished its loop; join it before the next. */
  if (db->cleanup_thread) {
    st_thread *t = db->cleanup_thread;
    db->cleanup_thread = NULL;
    pthread_mutex_unlock(&db->mu);
    db->env->thread_join(db->env, t);
    pthread_mutex_lock(&db->mu);
    if (db->cleanup_running) return;
  }
  db->cleanup_running = 1;
  if (db->env->thread_create(db->env, cleanup_thread, db, &db->cleanup_thread) != 0) {
    db->cleanup_thread = NULL;
    db->cleanup_running = 0;
    st_err_clear();
  }
}

void st_subdb_join_cleanup(strata_db *db) {
  pthread_mutex_lock(&db->mu);
  st_thread *t = db->cleanup_thread;
  db->cleanup_thread = NULL;
  pthread_mutex_unlock(&db->mu);
  if (t) db->env->thread_join(db->env, t);
  free(db->cleanup_ids);
  db->cleanup_ids = NULL;
  db->ncleanup = db->cap_cleanup = 0;
}

int strata_subdb_drop(strata_db *db, strata_subdb *sdb, const char *name) {
  if (!db || (!sdb && !name)) return st_err(STRATA_EMISUSE, "strata_subdb_drop: NULL argument");
  if (db->opts.read_only)
    return st_err(STRATA_EINVAL, "%s: read-only database: cannot drop a sub-database", db->dbname);
  size_t len;
  int rc = sdb ? 0 : name_ok(name, &len);
  if (rc) return rc;
  pthread_mutex_lock(&db->subdb_mu);
  strata_subdb *h = sdb ? sdb : find(db, name);
  if (!h) {
    rc = st_err(STRATA_ENOTFOUND, "sub-database '%s' does not exist", name);
  } else if (h->db != db) {
    rc = st_err(STRATA_EINVAL, "sub-database '%s' belongs to another database", h->name);
  } else if (atomic_load(&h->dropped)) {
    rc = st_err(STRATA_EINVAL, "sub-database '%s' was dropped already", h->name);
  } else {
    char idbuf[4];
    st_subdb_put_id(idbuf, h->id);
    strata_batch b;
    st_buf k = ST_BUF_INIT;
    st_slice none = {"", 0};
    rc = st_batch_init(&b);
    if (!rc) rc = record_key(&k, ST_SUBDB_CATALOG, h->name, strlen(h->name));
    if (!rc) rc = st_batch_delete_raw(&b, none, k.data, k.size);
    if (!rc) rc = record_key(&k, ST_SUBDB_DROPPED, idbuf, 4);
    if (!rc) rc = st_batch_put_raw(&b, none, k.data, k.size, "", 0);
    /* Synced before compactions may discard the records it orphans. */
    if (!rc) rc = st_db_write_checked(db, 1, &b, mark_dropped, h);
    if (rc) {
      /* Not applied (a failed log write also stops every later write). */
      atomic_store(&h->dropped, 0);
    } else {
      pthread_mutex_lock(&db->mu);
      if (add_dropped(db, h->id) == 0) schedule_cleanup(db, h->id);
      pthread_mutex_unlock(&db->mu);
    }
    st_batch_release(&b);
    st_buf_free(&k);
  }
  pthread_mutex_unlock(&db->subdb_mu);
  return rc;
}

static int cmp_names(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int strata_subdb_list(strata_db *db, int (*fn)(void *arg, const char *name), void *arg) {
  if (!db || !fn) return st_err(STRATA_EMISUSE, "strata_subdb_list: NULL argument");
  /* Names are copied out so fn may call back into the database. */
  pthread_mutex_lock(&db->subdb_mu);
  size_t n = 0;
  for (strata_subdb *h = db->subdbs; h; h = h->next)
    n += !atomic_load(&h->dropped);
  char **names = malloc((n ? n : 1) * sizeof *names);
  size_t i = 0;
  for (strata_subdb *h = db->subdbs; names && h; h = h->next) {
    if (atomic_load(&h->dropped)) continue;
    names[i] = strdup(h->name);
    if (!names[i]) break;
    i++;
  }
  pthread_mutex_unlock(&db->subdb_mu);
  int rc = 0;
  if (!names || i < n) {
    rc = st_err(STRATA_ENOMEM, "strata_subdb_list");
  } else {
    qsort(names, n, sizeof *names, cmp_names);
    for (size_t j = 0; j < n && !rc; j++)
      rc = fn(arg, names[j]);
  }
  for (size_t j = 0; j < i; j++)
    free(names[j]);
  free(names);
  return rc;
}

const char *strata_subdb_name(const strata_subdb *sdb) { return sdb ? sdb->name : NULL; }

/* ------------------------------------------------------------------------ */
/* Statistics                                                               */
/* ------------------------------------------------------------------------ */

/* Entries sampled from the tables to estimate entries per byte. */
#define SAMPLE_ENTRIES 4096

static int before(st_slice ikey, const st_buf *hi, int has_hi) {
  return !has_hi || st_slice_cmp(st_ikey_user(ikey), st_buf_slice(hi)) < 0;
}

/* Adds the entries and bytes of [lo, hi) (user keys; hi open when !has_hi)
 * in sv to *out. */
static int stat_range(strata_db *db, st_superversion *sv, st_slice lo, const st_buf *hi, int has_hi,
                      strata_subdb_stats *out) {
  st_buf klo = ST_BUF_INIT, khi = ST_BUF_INIT;
  int rc = st_ikey_append(&klo, lo, ST_MAX_SEQUENCE, ST_TYPE_FOR_SEEK);
  if (!rc && has_hi) rc = st_ikey_append(&khi, st_buf_slice(hi), ST_MAX_SEQUENCE, ST_TYPE_FOR_SEEK);
  if (rc) goto done;
  /* Memtables: counted exactly. */
  st_memtable *mems[2] = {sv->mem, sv->imm};
  for (int m = 0; m < 2 && !rc; m++) {
    if (!mems[m]) continue;
    st_iter *it = st_memtable_iter(mems[m]);
    if (!it) {
      rc = st_err(STRATA_ENOMEM, "statistics");
      break;
    }
    for (st_iter_seek(it, st_buf_slice(&klo));
         st_iter_valid(it) && before(st_iter_key(it), hi, has_hi); st_iter_next(it)) {
      out->entries++;
      out->bytes += st_iter_key(it).size + st_iter_value(it).size;
    }
    st_iter_destroy(it);
  }
  if (rc) goto done;
  /* Tables: bytes from the index blocks; entries from a sample of up to
   * SAMPLE_ENTRIES entries, scaled by bytes. */
  st_version *v = sv->current;
  uint64_t a = st_version_approximate_offset(v, st_buf_slice(&klo)), b = 0;
  if (has_hi) {
    b = st_version_approximate_offset(v, st_buf_slice(&khi));
  } else {
    for (int l = 0; l < ST_NUM_LEVELS; l++)
      for (int i = 0; i < v->nfiles[l]; i++)
        b += v->files[l][i]->file_size;
  }
  uint64_t bytes = b > a ? b - a : 0;
  st_read_opts ro = {0, 0};
  int cap = 8, n = 0;
  st_iter **kids = malloc((size_t)cap * sizeof *kids);
  if (!kids) {
    rc = st_err(STRATA_ENOMEM, "statistics");
    goto done;
  }
  rc = st_version_add_iterators(v, &ro, &kids, &n, &cap);
  st_iter *merged = rc ? NULL : st_merging_iter_new(db->ucmp, kids, n);
  if (rc) {
    for (int i = 0; i < n; i++)
      st_iter_destroy(kids[i]);
  }
  free(kids);
  if (!rc && !merged) rc = st_err(STRATA_ENOMEM, "statistics");
  if (rc) goto done;
  uint64_t counted = 0;
  st_iter_seek(merged, st_buf_slice(&klo));
  while (counted < SAMPLE_ENTRIES && st_iter_valid(merged) &&
         before(st_iter_key(merged), hi, has_hi)) {
    counted++;
    st_iter_next(merged);
  }
  uint64_t entries = counted;
  if (counted == SAMPLE_ENTRIES && st_iter_valid(merged) &&
      before(st_iter_key(merged), hi, has_hi)) {
    uint64_t spanned = st_version_approximate_offset(v, st_iter_key(merged));
    spanned = spanned > a ? spanned - a : 0;
    if (spanned > 0 && bytes > spanned) entries = (uint64_t)((double)counted * bytes / spanned);
  }
  rc = st_iter_status(merged);
  st_iter_destroy(merged);
  out->entries += entries;
  out->bytes += bytes;
done:
  st_buf_free(&klo);
  st_buf_free(&khi);
  return rc;
}

int strata_subdb_stat(strata_db *db, strata_subdb *sdb, strata_subdb_stats *out) {
  if (!db || !out) return st_err(STRATA_EMISUSE, "strata_subdb_stat: NULL argument");
  memset(out, 0, sizeof *out);
  st_slice prefix;
  int rc = st_subdb_resolve(db, sdb, &prefix);
  if (rc) return rc;
  uint64_t unused;
  st_superversion *sv = st_db_sv_get(db, NULL, &unused);
  st_sv_ref(sv);
  st_db_sv_put(db, sv);
  st_buf hi = ST_BUF_INIT;
  if (sdb) {
    /* [prefix, prefix with the id incremented) */
    char end[ST_SUBDB_PREFIX_LEN];
    memcpy(end, prefix.data, sizeof end);
    if (sdb->id == UINT32_MAX)
      end[ST_RESERVED_LEN] = ST_SUBDB_DATA + 1;
    else
      st_subdb_put_id(end + ST_RESERVED_LEN + 1, sdb->id + 1);
    rc = st_buf_set(&hi, end, sizeof end) ? st_err(STRATA_ENOMEM, "statistics") : 0;
    if (!rc) rc = stat_range(db, sv, prefix, &hi, 1, out);
  } else {
    /* The main database: below the reserved range, and above it. */
    rc = st_buf_set(&hi, st_reserved_prefix, ST_RESERVED_LEN) ? st_err(STRATA_ENOMEM, "statistics")
                                                              : 0;
    if (!rc) rc = stat_range(db, sv, st_slice_make("", 0), &hi, 1, out);
    if (!rc) {
      char end[ST_RESERVED_LEN];
      memcpy(end, st_reserved_prefix, ST_RESERVED_LEN);
      end[ST_RESERVED_LEN - 1] = 1;
      rc = stat_range(db, sv, st_slice_make(end, sizeof end), NULL, 0, out);
    }
  }
  st_buf_free(&hi);
  st_sv_unref_unlocked(sv);
  return rc;
}
