/*
 * db_compact.c - the background thread of a database: it flushes the
 * immutable memtable to a level-0 table, runs size-triggered and manual
 * compactions, and deletes files that no version needs any more.
 *
 * One thread per database does all of it, flushes first: a waiting flush
 * blocks writers, a waiting compaction only slows reads. A long compaction
 * checks between keys whether a flush is waiting and does it in between.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/builder.h"
#include "db/db_impl.h"
#include "db/filename.h"
#include "table/table_builder.h"
#include "util/internal_key.h"
#include "util/numset.h"

static int has_work(strata_db *db) {
  if (db->bg_error.code) return 0;
  return db->old_log != NULL || db->dir_sync_pending || db->imm != NULL ||
         (db->manual && !db->manual->done) || st_vset_needs_compaction(&db->vs);
}

void st_db_maybe_schedule(strata_db *db) {
  if (!db->shutting_down && has_work(db)) pthread_cond_signal(&db->work_cv);
}

/* ------------------------------------------------------------------------ */
/* Memtable flush                                                           */
/* ------------------------------------------------------------------------ */

int st_db_write_level0_table(strata_db *db, st_memtable *mem, st_version_edit *edit,
                             st_version *base) {
  uint64_t start = db->env->now_micros(db->env);
  st_built_table t = {0};
  t.number = st_vset_new_file_number(&db->vs);
  int rc = st_db_pending_add(db, t.number);
  if (rc) return rc;
  st_iter *it = st_memtable_iter(mem);
  st_db_log(db, "level-0 table #%llu: started", (unsigned long long)t.number);
  pthread_mutex_unlock(&db->mu);
  if (!it)
    rc = st_err(STRATA_ENOMEM, "memtable iterator");
  else
    rc = st_build_table(db->env, db->dbname, &db->topt, db->table_cache, it, &t);
  st_iter_destroy(it);
  pthread_mutex_lock(&db->mu);
  st_db_log(db, "level-0 table #%llu: %llu bytes %s", (unsigned long long)t.number,
            (unsigned long long)t.file_size, rc ? st_errmsg() : "OK");
  st_db_pending_remove(db, t.number);

  int level = 0;
  if (!rc && t.file_size > 0) {
    /* Recovery (base == NULL) always writes to level 0: the files being
     * replayed may overlap anything. */
    if (base)
      level = st_version_pick_level_for_memtable_output(
          base, st_ikey_user(st_buf_slice(&t.smallest)), st_ikey_user(st_buf_slice(&t.largest)));
    rc = st_edit_add_file(edit, level, t.number, t.file_size, st_buf_slice(&t.smallest),
                          st_buf_slice(&t.largest));
  }
  db->stats[level].micros += (int64_t)(db->env->now_micros(db->env) - start);
  db->stats[level].bytes_written += (int64_t)t.file_size;
  st_buf_free(&t.smallest);
  st_buf_free(&t.largest);
  return rc;
}

/* Flushes imm and installs the result. REQUIRE: mu held, imm != NULL. */
static int compact_memtable(strata_db *db) {
  st_version_edit edit;
  st_edit_init(&edit);
  /* Allocated first, so the install after the edit cannot fail. */
  st_superversion *sv = st_sv_new();
  int rc = sv ? 0 : st_err(STRATA_ENOMEM, "superversion");
  st_version *base = db->vs.current;
  st_version_ref(base);
  if (!rc) rc = st_db_write_level0_table(db, db->imm, &edit, base);
  st_version_unref(base);
  if (!rc) {
    /* Logs older than the current one are no longer needed. */
    st_edit_set_prev_log_number(&edit, 0);
    st_edit_set_log_number(&edit, db->logfile_number);
    rc = st_vset_log_and_apply(&db->vs, &edit, &db->mu);
  }
  st_edit_clear(&edit);
  if (!rc) {
    /* One install for both changes: readers that still hold the previous
     * superversion read imm there, with the version before the flush. */
    st_memtable *imm = db->imm;
    db->imm = NULL;
    st_db_install_sv(db, sv);
    st_memtable_unref(imm);
    atomic_store_explicit(&db->has_imm, 0, memory_order_release);
    st_db_delete_obsolete_files(db);
  } else {
    free(sv);
    st_db_record_bg_error(db, rc);
  }
  pthread_cond_broadcast(&db->bg_cv);
  return rc;
}

/* ------------------------------------------------------------------------ */
/* Compaction                                                               */
/* ------------------------------------------------------------------------ */

typedef struct output {
  uint64_t number, file_size;
  st_buf smallest, largest;
} output;

typedef struct compaction_state {
  st_compaction *c;
  uint64_t smallest_snapshot; /* entries older than this and shadowed may go */
  output *outputs;
  int noutputs, cap;
  st_wfile *file;
  st_table_builder *builder;
  int64_t total_bytes;
  int manifest_tried; /* the MANIFEST write was attempted: it may name the
                         outputs even if it failed */
} compaction_state;

static int open_output(strata_db *db, compaction_state *cs) {
  pthread_mutex_lock(&db->mu);
  uint64_t number = st_vset_new_file_number(&db->vs);
  int rc = st_db_pending_add(db, number);
  pthread_mutex_unlock(&db->mu);
  if (rc) return rc;
  if (cs->noutputs == cs->cap) {
    int cap = cs->cap ? cs->cap * 2 : 8;
    output *o = realloc(cs->outputs, (size_t)cap * sizeof *o);
    if (!o) return st_err(STRATA_ENOMEM, "compaction outputs");
    cs->outputs = o;
    cs->cap = cap;
  }
  output *o = &cs->outputs[cs->noutputs++];
  memset(o, 0, sizeof *o);
  o->number = number;
  char *path = st_table_file_name(db->dbname, number);
  if (!path) return st_err(STRATA_ENOMEM, "file name");
  rc = db->env->new_wfile(db->env, path, &cs->file);
  free(path);
  if (rc) return rc;
  cs->builder = st_table_builder_new(&db->topt, cs->file);
  if (!cs->builder) return st_err(STRATA_ENOMEM, "table builder");
  return 0;
}

static int finish_output(strata_db *db, compaction_state *cs, int input_rc) {
  output *o = &cs->outputs[cs->noutputs - 1];
  int rc = input_rc;
  uint64_t entries = st_table_builder_num_entries(cs->builder);
  if (!rc)
    rc = st_table_builder_finish(cs->builder);
  else
    st_table_builder_abandon(cs->builder);
  o->file_size = st_table_builder_file_size(cs->builder);
  cs->total_bytes += (int64_t)o->file_size;
  st_table_builder_free(cs->builder);
  cs->builder = NULL;
  if (!rc) rc = cs->file->sync(cs->file);
  int crc = cs->file->close(cs->file);
  cs->file = NULL;
  if (!rc) rc = crc;
  if (!rc && entries > 0) {
    /* Check the table reads back before the MANIFEST names it. */
    st_read_opts ro = {0, 0};
    st_iter *it = st_table_cache_iter(db->table_cache, &ro, o->number, o->file_size, NULL);
    if (!it)
      rc = st_err(STRATA_ENOMEM, "table check");
    else {
      rc = st_iter_status(it);
      st_iter_destroy(it);
    }
  }
  return rc;
}

static int install_results(strata_db *db, compaction_state *cs) {
  st_compaction *c = cs->c;
  st_db_log(db, "compacted %d@%d + %d@%d files => %lld bytes", c->ninputs[0], c->level,
            c->ninputs[1], c->level + 1, (long long)cs->total_bytes);
  int rc = st_compaction_add_input_deletions(c);
  for (int i = 0; !rc && i < cs->noutputs; i++) {
    output *o = &cs->outputs[i];
    if (o->file_size == 0 || o->smallest.size == 0) continue;
    rc = st_edit_add_file(&c->edit, c->level + 1, o->number, o->file_size,
                          st_buf_slice(&o->smallest), st_buf_slice(&o->largest));
  }
  if (!rc) {
    cs->manifest_tried = 1;
    rc = st_db_log_and_apply(db, &c->edit);
  }
  return rc;
}

/* Merges the compaction's inputs into new tables at level+1, dropping
 * entries no snapshot can see. REQUIRE: mu held (released while working). */
static int do_compaction_work(strata_db *db, compaction_state *cs) {
  st_compaction *c = cs->c;
  uint64_t start = db->env->now_micros(db->env);
  int64_t imm_micros = 0;
  st_db_log(db, "compacting %d@%d + %d@%d files", c->ninputs[0], c->level, c->ninputs[1],
            c->level + 1);
  cs->smallest_snapshot = st_db_smallest_snapshot(db);
  pthread_mutex_unlock(&db->mu);

  int rc = 0;
  st_iter *input = st_vset_make_input_iterator(&db->vs, c);
  if (!input) rc = st_err(STRATA_ENOMEM, "compaction input");
  st_buf current_user_key = ST_BUF_INIT;
  int has_current = 0;
  uint64_t last_sequence_for_key = ST_MAX_SEQUENCE;
  int shutdown = 0;
  if (!rc) st_iter_seek_to_first(input);
  while (!rc && st_iter_valid(input)) {
    if (atomic_load_explicit(&db->has_imm, memory_order_acquire)) {
      /* A full memtable blocks writers: flush it first. */
      uint64_t t0 = db->env->now_micros(db->env);
      pthread_mutex_lock(&db->mu);
      if (db->imm) compact_memtable(db);
      if (db->shutting_down) shutdown = 1;
      pthread_mutex_unlock(&db->mu);
      imm_micros += (int64_t)(db->env->now_micros(db->env) - t0);
      if (shutdown) break;
    }
    st_slice key = st_iter_key(input);
    if (cs->builder && st_compaction_should_stop_before(c, key)) {
      rc = finish_output(db, cs, 0);
      if (rc) break;
    }
    int drop = 0;
    st_parsed_ikey pk;
    if (!st_ikey_parse(key, &pk)) {
      /* Keep damaged keys rather than hide them, and reset the state so
       * they cannot shadow anything. */
      st_buf_set(&current_user_key, "", 0);
      has_current = 0;
      last_sequence_for_key = ST_MAX_SEQUENCE;
    } else {
      if (!has_current || st_ucmp(db->ucmp, pk.user_key, st_buf_slice(&current_user_key)) != 0) {
        if ((rc = st_buf_set(&current_user_key, pk.user_key.data, pk.user_key.size))) break;
        has_current = 1;
        last_sequence_for_key = ST_MAX_SEQUENCE;
      }
      if (last_sequence_for_key <= cs->smallest_snapshot) {
        drop = 1; /* a newer entry of this key is visible to every snapshot */
      } else if (pk.type == ST_TYPE_DELETION && pk.sequence <= cs->smallest_snapshot &&
                 st_compaction_is_base_level_for_key(c, pk.user_key)) {
        /* No snapshot needs the marker and no deeper level has the key:
         * the deletion has nothing left to hide. */
        drop = 1;
      }
      last_sequence_for_key = pk.sequence;
    }
    if (!drop) {
      if (!cs->builder && (rc = open_output(db, cs))) break;
      output *o = &cs->outputs[cs->noutputs - 1];
      if (st_table_builder_num_entries(cs->builder) == 0)
        rc = st_buf_set(&o->smallest, key.data, key.size);
      if (!rc) rc = st_buf_set(&o->largest, key.data, key.size);
      if (!rc) rc = st_table_builder_add(cs->builder, key, st_iter_value(input));
      if (!rc && st_table_builder_file_size(cs->builder) >= c->max_output_file_size)
        rc = finish_output(db, cs, 0);
      if (rc) break;
    }
    st_iter_next(input);
  }
  if (!rc && !shutdown) {
    pthread_mutex_lock(&db->mu);
    shutdown = db->shutting_down;
    pthread_mutex_unlock(&db->mu);
  }
  if (!rc && shutdown) rc = st_err(STRATA_EIO, "database closed during compaction");
  if (!rc && input) rc = st_iter_status(input);
  if (cs->builder) {
    int r = finish_output(db, cs, rc);
    if (!rc) rc = r;
  }
  st_iter_destroy(input);
  st_buf_free(&current_user_key);

  int64_t bytes_read = 0;
  for (int w = 0; w < 2; w++)
    for (int i = 0; i < c->ninputs[w]; i++)
      bytes_read += (int64_t)c->inputs[w][i]->file_size;

  pthread_mutex_lock(&db->mu);
  st_level_stats *st = &db->stats[c->level + 1];
  st->micros += (int64_t)(db->env->now_micros(db->env) - start) - imm_micros;
  st->bytes_read += bytes_read;
  st->bytes_written += cs->total_bytes;
  if (!rc && db->bg_error.code) rc = st_error_raise(&db->bg_error);
  if (!rc) rc = install_results(db, cs);
  if (shutdown) return STRATA_EIO; /* not a background error: just stopping */
  return rc;
}

/* Frees the compaction state. When the compaction failed or was cut short
 * (installed == 0) before its MANIFEST record was attempted, its output
 * tables are named by no MANIFEST: they are deleted here, so a close during a compaction leaves no
 * half-written table behind (the next open, a check or a repair would trip on it). REQUIRE: mu held
 * (released while deleting). */
static void cleanup_compaction(strata_db *db, compaction_state *cs, int installed) {
  if (cs->builder) st_table_builder_abandon(cs->builder);
  st_table_builder_free(cs->builder);
  if (cs->file) cs->file->close(cs->file);
  if (!installed && !cs->manifest_tried && cs->noutputs > 0) {
    st_error saved;
    st_error_capture(&saved, STRATA_EIO);
    pthread_mutex_unlock(&db->mu);
    for (int i = 0; i < cs->noutputs; i++) {
      st_table_cache_evict(db->table_cache, cs->outputs[i].number);
      char *path = st_table_file_name(db->dbname, cs->outputs[i].number);
      if (path) db->env->remove_file(db->env, path);
      free(path);
    }
    pthread_mutex_lock(&db->mu);
    st_error_raise(&saved); /* keep the compaction's own message */
  }
  for (int i = 0; i < cs->noutputs; i++) {
    st_db_pending_remove(db, cs->outputs[i].number);
    st_buf_free(&cs->outputs[i].smallest);
    st_buf_free(&cs->outputs[i].largest);
  }
  free(cs->outputs);
  st_compaction_free(cs->c);
}

/* One unit of background work. REQUIRE: mu held. */
static void background_work(strata_db *db) {
  if (db->old_log || db->dir_sync_pending) {
    st_db_settle_logs(db); /* an error is recorded as the background error */
    return;
  }
  if (db->imm) {
    compact_memtable(db);
    return;
  }
  int rc = 0;
  st_compaction *c;
  st_manual_compaction *m = db->manual;
  int is_manual = m && !m->done;
  st_buf manual_end = ST_BUF_INIT;
  if (is_manual) {
    st_slice b = st_buf_slice(&m->begin), e = st_buf_slice(&m->end);
    c = st_vset_compact_range(&db->vs, m->level, m->has_begin ? &b : NULL, m->has_end ? &e : NULL,
                              &rc);
    m->done = (c == NULL);
    if (c) {
      /* Remember where this piece ended: the next one starts after it. */
      st_slice last = c->inputs[0][c->ninputs[0] - 1]->largest;
      if (st_buf_set(&manual_end, last.data, last.size)) rc = STRATA_ENOMEM;
    }
  } else {
    c = st_vset_pick_compaction(&db->vs, &rc);
  }

  if (c && !rc && !is_manual && st_compaction_is_trivial_move(c)) {
    /* Move the file down a level without rewriting it. */
    st_file_meta *f = c->inputs[0][0];
    rc = st_edit_delete_file(&c->edit, c->level, f->number);
    if (!rc)
      rc = st_edit_add_file(&c->edit, c->level + 1, f->number, f->file_size, f->smallest,
                            f->largest);
    if (!rc) rc = st_db_log_and_apply(db, &c->edit);
    st_db_log(db, "moved #%llu to level-%d %llu bytes: %s", (unsigned long long)f->number,
              c->level + 1, (unsigned long long)f->file_size, rc ? st_errmsg() : "OK");
    st_compaction_free(c);
  } else if (c && !rc) {
    compaction_state cs;
    memset(&cs, 0, sizeof cs);
    cs.c = c;
    rc = do_compaction_work(db, &cs);
    cleanup_compaction(db, &cs, rc == 0);
    if (!db->shutting_down) st_db_delete_obsolete_files(db);
  } else {
    st_compaction_free(c);
  }

  if (rc && !db->shutting_down) st_db_record_bg_error(db, rc);
  if (is_manual) {
    if (rc) {
      m->rc = rc;
      m->done = 1;
    } else if (!m->done) {
      /* Only part of the range was compacted: continue after it. */
      st_buf t = m->begin;
      m->begin = manual_end;
      manual_end = t;
      m->has_begin = 1;
    }
  }
  st_buf_free(&manual_end);
}

void st_db_bg_thread(void *arg) {
  strata_db *db = arg;
  pthread_mutex_lock(&db->mu);
  while (!db->shutting_down) {
    if (!has_work(db)) {
      pthread_cond_wait(&db->work_cv, &db->mu);
      continue;
    }
    db->bg_busy = 1;
    background_work(db);
    db->bg_busy = 0;
    pthread_cond_broadcast(&db->bg_cv);
  }
  pthread_cond_broadcast(&db->bg_cv);
  pthread_mutex_unlock(&db->mu);
}

/* ------------------------------------------------------------------------ */
/* Obsolete files                                                           */
/* ------------------------------------------------------------------------ */

void st_db_delete_obsolete_files(strata_db *db) {
  /* After a background error we cannot tell whether the last edit reached
   * the MANIFEST, so nothing may be collected. */
  if (db->bg_error.code) return;
  st_numset live = ST_NUMSET_INIT;
  for (size_t i = 0; i < db->npending; i++)
    st_numset_add(&live, db->pending[i]);
  st_vset_live_files(&db->vs, st_numset_add, &live);
  if (live.oom) {
    st_numset_free(&live);
    return;
  }
  st_numset_sort(&live);
  uint64_t log_number = db->vs.log_number, prev_log = db->vs.prev_log_number;
  uint64_t manifest = db->vs.manifest_file_number;

  char **names = NULL;
  size_t n = 0;
  if (db->env->children(db->env, db->dbname, &names, &n) != 0) {
    st_numset_free(&live);
    st_err_clear();
    return;
  }
  /* Decide under the lock, delete without it: unlinking can be slow and
   * the files are unreachable already. */
  char **doomed = calloc(n + 1, sizeof *doomed);
  size_t ndoomed = 0;
  for (size_t i = 0; doomed && i < n; i++) {
    uint64_t number;
    st_file_type type;
    if (!st_parse_file_name(names[i], &number, &type)) continue;
    int keep = 1;
    switch (type) {
    case ST_FILE_LOG: keep = number >= log_number || number == prev_log; break;
    case ST_FILE_MANIFEST: keep = number >= manifest; break;
    case ST_FILE_TABLE:
    case ST_FILE_TEMP: keep = st_numset_has(&live, number); break;
    default: break;
    }
    if (keep) continue;
    if (type == ST_FILE_TABLE) st_table_cache_evict(db->table_cache, number);
    doomed[ndoomed++] = names[i];
    names[i] = NULL;
  }
  st_numset_free(&live);
  st_env_free_children(names, n);
  pthread_mutex_unlock(&db->mu);
  for (size_t i = 0; i < ndoomed; i++) {
    size_t len = strlen(db->dbname) + strlen(doomed[i]) + 2;
    char *path = malloc(len);
    if (path) {
      snprintf(path, len, "%s/%s", db->dbname, doomed[i]);
      st_db_log(db, "delete %s", doomed[i]);
      db->env->remove_file(db->env, path);
      free(path);
    }
    free(doomed[i]);
  }
  free(doomed);
  st_err_clear();
  pthread_mutex_lock(&db->mu);
}

/* ------------------------------------------------------------------------ */
/* strata_compact_range                                                     */
/* ------------------------------------------------------------------------ */

/* Runs a manual compaction of one level over [begin, end] to completion. */
static int manual_compact_level(strata_db *db, int level, const st_slice *begin,
                                const st_slice *end) {
  st_manual_compaction m;
  memset(&m, 0, sizeof m);
  m.level = level;
  int rc = 0;
  if (begin) {
    m.has_begin = 1;
    rc = st_ikey_append(&m.begin, *begin, ST_MAX_SEQUENCE, ST_TYPE_FOR_SEEK);
  }
  if (!rc && end) {
    m.has_end = 1;
    rc = st_ikey_append(&m.end, *end, 0, 0);
  }
  if (rc) {
    st_buf_free(&m.begin);
    st_buf_free(&m.end);
    return rc;
  }
  pthread_mutex_lock(&db->mu);
  while (!m.done && !db->shutting_down && db->bg_error.code == 0) {
    if (db->manual == NULL) {
      db->manual = &m;
      st_db_maybe_schedule(db);
    }
    pthread_cond_wait(&db->bg_cv, &db->mu);
  }
  if (db->manual == &m) db->manual = NULL;
  /* The background thread records a failed manual compaction as the
   * database's background error, whose message says what went wrong. */
  if (db->bg_error.code)
    rc = st_error_raise(&db->bg_error);
  else if (m.rc)
    rc = st_err(m.rc, "manual compaction of level %d failed", level);
  else if (!m.done)
    rc = st_err(STRATA_EIO, "database is closing");
  pthread_cond_broadcast(&db->bg_cv);
  pthread_mutex_unlock(&db->mu);
  st_buf_free(&m.begin);
  st_buf_free(&m.end);
  return rc;
}

int strata_compact_range(strata_db *db, const void *begin, size_t blen, const void *end,
                         size_t elen) {
  if (!db) return st_err(STRATA_EMISUSE, "strata_compact_range: NULL db");
  st_slice b = st_slice_make(begin, blen), e = st_slice_make(end, elen);
  const st_slice *bp = begin ? &b : NULL, *ep = end ? &e : NULL;

  /* Deepest level holding something in the range. */
  int max_level = 1;
  pthread_mutex_lock(&db->mu);
  for (int l = 1; l < ST_NUM_LEVELS; l++)
    if (st_version_overlap_in_level(db->vs.current, l, bp, ep)) max_level = l;
  pthread_mutex_unlock(&db->mu);

  /* Flush the memtable (an empty write that forces a switch), and wait for
   * the flush to finish. */
  int rc = st_db_write(db, 0, NULL, NULL);
  if (rc) return rc;
  pthread_mutex_lock(&db->mu);
  while (db->imm && db->bg_error.code == 0)
    pthread_cond_wait(&db->bg_cv, &db->mu);
  if (db->bg_error.code) rc = st_error_raise(&db->bg_error);
  pthread_mutex_unlock(&db->mu);
  if (rc) return rc;

  for (int l = 0; l < max_level && !rc; l++)
    rc = manual_compact_level(db, l, bp, ep);
  return rc;
}
