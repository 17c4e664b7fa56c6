/*
 * ingest.c - adds a bulk load's tables to a live database (ingest.h): the
 * finishing steps of the algorithm at the top of loader.c, run on the
 * background thread.
 *
 * Why the background thread: it alone flushes memtables, runs compactions
 * and writes the MANIFEST (st_vset_log_and_apply allows one writer at a
 * time). Served there, between two units of its work, nothing moves entries
 * from a memtable to a table or from level to level, and no other edit is
 * built on the version, while the range is checked and the tables are
 * placed and recorded. Writers go on meanwhile: what they write is newer
 * than the load (loader.c: sequence number 0).
 */
#include "db/ingest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/db_impl.h"
#include "db/subdb.h"
#include "util/internal_key.h"

const char *st_describe_key(const void *key, size_t klen, char *out, size_t cap) {
  const unsigned char *k = key;
  size_t at = (size_t)snprintf(out, cap, "key '");
  for (size_t i = 0; i < klen && i < 32 && at + 8 < cap; i++) {
    int plain = k[i] >= 0x20 && k[i] < 0x7f && k[i] != '\'' && k[i] != '\\';
    at += (size_t)snprintf(out + at, cap - at, plain ? "%c" : "\\x%02x", k[i]);
  }
  if (at < cap) snprintf(out + at, cap - at, "%s' (%zu bytes)", klen > 32 ? "..." : "", klen);
  return out;
}

/* The user key of an internal key (the whole key if too short to be one). */
static st_slice user_part(st_slice ikey) { return ikey.size >= 8 ? st_ikey_user(ikey) : ikey; }

/* Looks through `it` for an entry of the target with a user key in
 * [lo, hi]. Returns 0 (none), STRATA_EINVAL naming the key found, or the
 * iterator's error. */
static int check_iter(strata_db *db, const st_ingest *req, st_iter *it, st_slice lo, st_slice hi) {
  st_buf target = ST_BUF_INIT;
  int rc = st_ikey_append(&target, lo, ST_MAX_SEQUENCE, ST_TYPE_FOR_SEEK);
  if (rc) return rc;
  st_iter_seek(it, st_buf_slice(&target));
  while (!rc && st_iter_valid(it)) {
    st_slice uk = user_part(st_iter_key(it));
    if (st_ucmp(db->ucmp, uk, hi) > 0) break;
    if (req->skip_reserved && st_key_is_reserved(uk.data, uk.size)) {
      /* Sub-database records are not main-database entries: on to the
       * first key after every key of the reserved range. */
      char after[ST_RESERVED_LEN];
      memcpy(after, st_reserved_prefix, ST_RESERVED_LEN);
      after[ST_RESERVED_LEN - 1] = 0x01;
      target.size = 0;
      rc = st_ikey_append(&target, st_slice_make(after, ST_RESERVED_LEN), ST_MAX_SEQUENCE,
                          ST_TYPE_FOR_SEEK);
      if (!rc) st_iter_seek(it, st_buf_slice(&target));
      continue;
    }
    st_slice shown = uk;
    if (shown.size >= req->prefix_len) {
      shown.data += req->prefix_len;
      shown.size -= req->prefix_len;
    }
    char what[160];
    rc = st_err(STRATA_EINVAL,
                "strata_loader_finish: the loaded key range already holds an entry (%s); a "
                "bulk load needs a key range with no entry at all",
                st_describe_key(shown.data, shown.size, what, sizeof what));
  }
  if (!rc) rc = st_iter_status(it);
  st_buf_free(&target);
  return rc;
}

/* No entry of the target in [lo, hi] in mem, imm or v: one seek in each
 * memtable and each level. Runs without mu (the caller holds references). */
static int check_range(strata_db *db, const st_ingest *req, st_memtable *mem, st_memtable *imm,
                       st_version *v, st_slice lo, st_slice hi) {
  int n = 0, cap = 2, rc = 0;
  st_iter **iters = malloc((size_t)cap * sizeof *iters);
  if (!iters) return st_err(STRATA_ENOMEM, "bulk load check");
  st_memtable *mems[2] = {mem, imm};
  for (int i = 0; i < 2 && !rc; i++) {
    if (!mems[i]) continue;
    if ((iters[n] = st_memtable_iter(mems[i])) == NULL)
      rc = st_err(STRATA_ENOMEM, "bulk load check");
    else
      n++;
  }
  st_read_opts ro = st_db_read_opts(db, NULL);
  ro.fill_cache = 0;
  if (!rc) rc = st_version_add_iterators(v, &ro, &iters, &n, &cap);
  for (int i = 0; i < n && !rc; i++)
    rc = check_iter(db, req, iters[i], lo, hi);
  for (int i = 0; i < n; i++)
    st_iter_destroy(iters[i]);
  free(iters);
  return rc;
}

/* Check, place, record. REQUIRE: mu held (released inside). */
static int ingest(strata_db *db, st_ingest *req) {
  /* A sub-database dropped during the load: its id is garbage now. */
  st_slice prefix;
  int rc = st_subdb_resolve(db, req->sdb, &prefix);
  if (rc) return rc;

  st_slice lo = st_ikey_user(st_buf_slice(&req->tables[0].smallest));
  st_slice hi = st_ikey_user(st_buf_slice(&req->tables[req->ntables - 1].largest));
  st_memtable *mem = db->mem, *imm = db->imm;
  st_version *v = db->vs.current;
  st_memtable_ref(mem);
  if (imm) st_memtable_ref(imm);
  st_version_ref(v);
  pthread_mutex_unlock(&db->mu);
  rc = check_range(db, req, mem, imm, v, lo, hi);
  pthread_mutex_lock(&db->mu);
  st_memtable_unref(mem);
  st_memtable_unref(imm);
  st_version_unref(v);
  if (rc) return rc;

  /* This thread alone changes the version: it is still the one checked. */
  v = db->vs.current;
  st_version_edit edit;
  st_edit_init(&edit);
  uint64_t bytes[ST_NUM_LEVELS] = {0};
  for (size_t i = 0; !rc && i < req->ntables; i++) {
    st_ingest_table *t = &req->tables[i];
    st_slice a = st_ikey_user(st_buf_slice(&t->smallest));
    st_slice b = st_ikey_user(st_buf_slice(&t->largest));
    t->level = 0;
    for (int level = ST_NUM_LEVELS - 1; level >= 1; level--) {
      if (!st_version_overlap_in_level(v, level, &a, &b)) {
        t->level = level;
        break;
      }
    }
    bytes[t->level] += t->file_size;
    rc = st_edit_add_file(&edit, t->level, t->number, t->file_size, st_buf_slice(&t->smallest),
                          st_buf_slice(&t->largest));
  }
  if (!rc) {
    req->manifest_tried = 1;
    rc = st_db_log_and_apply(db, &edit);
    /* The MANIFEST may or may not name the tables now: every later write
     * fails rather than guess (as after a failed flush or compaction). */
    if (rc) st_db_record_bg_error(db, rc);
  }
  st_edit_clear(&edit);
  for (int l = 0; !rc && l < ST_NUM_LEVELS; l++)
    db->stats[l].bytes_written += (int64_t)bytes[l];
  return rc;
}

void st_db_run_ingest(strata_db *db) {
  st_ingest *req = db->ingest;
  req->started = 1;
  req->rc = ingest(db, req);
  if (req->rc) st_error_capture(&req->err, req->rc);
  req->done = 1;
  pthread_cond_broadcast(&db->bg_cv);
}

int st_db_ingest(strata_db *db, st_ingest *req) {
  while (db->ingest && db->ingest != req) /* another load's turn */
    pthread_cond_wait(&db->bg_cv, &db->mu);
  if (!db->shutting_down && !db->bg_error.code) {
    db->ingest = req;
    st_db_maybe_schedule(db);
  }
  /* Once the background thread has started a request it finishes it, even
   * while the database closes: req lives on the caller's stack. */
  while (db->ingest == req && !req->done &&
         (req->started || (!db->shutting_down && !db->bg_error.code)))
    pthread_cond_wait(&db->bg_cv, &db->mu);
  if (db->ingest == req) db->ingest = NULL;
  pthread_cond_broadcast(&db->bg_cv); /* a load waiting for its turn */
  if (req->done) return req->rc ? st_error_raise(&req->err) : 0;
  if (db->bg_error.code) return st_error_raise(&db->bg_error);
  return st_err(STRATA_EIO, "strata_loader_finish: the database is closing");
}
