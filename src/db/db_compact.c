/*
 * db_compact.c - the background thread of a database: it flushes the
 * immutable memtable to a level-0 table, runs size-triggered and manual
 * compactions, and deletes files that no version needs any more.
 *
 * One thread per database does all of it, flushes first: a waiting flush
 * blocks writers, a waiting compaction only slows reads. A long compaction
 * checks between keys whether a flush is waiting and does it in between.
 *
 * Idle compaction (beyond LevelDB): LevelDB merges level 0 into level 1
 * only once level 0 holds 4 files, so after a burst of writes up to 3 (or
 * more, if compaction is behind) level-0 tables may stay forever, and every
 * point read that misses them probes each one -- decompressing a block per
 * table. When the database has had no write for IDLE_MICROS and nothing
 * else to do, the thread merges level 0 into level 1 anyway, so reads
 * after a burst probe one table per level. It uses only otherwise idle
 * time: a write, flush or any due compaction comes first.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "db/builder.h"
#include "db/db_impl.h"
#include "db/filename.h"
#include "db/subdb.h"
#include "db/ingest.h"
#include "table/table_builder.h"
#include "util/internal_key.h"
#include "util/numset.h"

static int has_work(strata_db *db) {
  if (db->bg_error.code) return 0;
  return db->old_log != NULL || db->dir_sync_pending || db->imm != NULL ||
         (db->manual && !db->manual->done) || (db->ingest && !db->ingest->done) ||
         st_vset_needs_compaction(&db->vs);
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

/* Sub-compactions: a large compaction is split by user key into ranges
 * merged at once, one on the background thread and one on a helper thread,
 * so a 2-core machine compacts at up to twice the speed while writers wait
 * on it. Ranges split at user-key boundaries, so every entry of a key goes
 * through the same range (the drop rules look at a key's entries in order)
 * and the ranges' outputs never overlap. */
#define MAX_SUBCOMPACTIONS 2

struct compaction_state;

/* One key range (lo, hi] of a compaction and the tables it produced. */
typedef struct subcompaction {
  strata_db *db;
  struct compaction_state *cs;
  st_compaction_cursor cur;
  st_buf lo, hi;      /* user keys; a bound is open when its has_ flag is 0 */
  int has_lo, has_hi; /* entries with lo < user key <= hi belong here */
  int is_main;        /* runs on the background thread: flushes imm too */
  output *outputs;
  int noutputs, cap;
  st_wfile *file;
  st_table_builder *builder;
  int64_t total_bytes;
  int64_t imm_micros; /* time spent flushing imm in between */
  int shutdown;       /* stopped early: the database is closing */
  int rc;
  st_error err; /* a helper thread's error message (messages are per thread) */
} subcompaction;

typedef struct compaction_state {
  st_compaction *c;
  uint64_t smallest_snapshot; /* entries older than this and shadowed may go */
  uint32_t *dropped;          /* ids of dropped sub-databases (sorted, owned):
                                 their records go */
  size_t ndropped;
  subcompaction subs[MAX_SUBCOMPACTIONS];
  int nsubs;
  int64_t total_bytes;
  int manifest_tried; /* the MANIFEST write was attempted: it may name the
                         outputs even if it failed */
} compaction_state;

static void compaction_state_init(compaction_state *cs, st_compaction *c) {
  memset(cs, 0, sizeof *cs);
  cs->c = c;
}

static int open_output(strata_db *db, subcompaction *sub) {
  pthread_mutex_lock(&db->mu);
  uint64_t number = st_vset_new_file_number(&db->vs);
  int rc = st_db_pending_add(db, number);
  pthread_mutex_unlock(&db->mu);
  if (rc) return rc;
  if (sub->noutputs == sub->cap) {
    int cap = sub->cap ? sub->cap * 2 : 8;
    output *o = realloc(sub->outputs, (size_t)cap * sizeof *o);
    if (!o) {
      /* Not recorded as an output: forget it as pending here. */
      pthread_mutex_lock(&db->mu);
      st_db_pending_remove(db, number);
      pthread_mutex_unlock(&db->mu);
      return st_err(STRATA_ENOMEM, "compaction outputs");
    }
    sub->outputs = o;
    sub->cap = cap;
  }
  output *o = &sub->outputs[sub->noutputs++];
  memset(o, 0, sizeof *o);
  o->number = number;
  char *path = st_table_file_name(db->dbname, number);
  if (!path) return st_err(STRATA_ENOMEM, "file name");
  rc = db->env->new_wfile(db->env, path, &sub->file);
  free(path);
  if (rc) return rc;
  sub->builder = st_table_builder_new(&db->topt, sub->file);
  if (!sub->builder) return st_err(STRATA_ENOMEM, "table builder");
  return 0;
}

static int finish_output(strata_db *db, subcompaction *sub, int input_rc) {
  output *o = &sub->outputs[sub->noutputs - 1];
  int rc = input_rc;
  uint64_t entries = st_table_builder_num_entries(sub->builder);
  if (!rc)
    rc = st_table_builder_finish(sub->builder);
  else
    st_table_builder_abandon(sub->builder);
  o->file_size = st_table_builder_file_size(sub->builder);
  sub->total_bytes += (int64_t)o->file_size;
  st_table_builder_free(sub->builder);
  sub->builder = NULL;
  if (!rc) rc = sub->file->sync(sub->file);
  int crc = sub->file->close(sub->file);
  sub->file = NULL;
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
  st_db_log(db, "compacted %d@%d + %d@%d files in %d range%s => %lld bytes", c->ninputs[0],
            c->level, c->ninputs[1], c->level + 1, cs->nsubs, cs->nsubs == 1 ? "" : "s",
            (long long)cs->total_bytes);
  int rc = st_compaction_add_input_deletions(c);
  for (int s = 0; s < cs->nsubs; s++) {
    subcompaction *sub = &cs->subs[s];
    for (int i = 0; !rc && i < sub->noutputs; i++) {
      output *o = &sub->outputs[i];
      if (o->file_size == 0 || o->smallest.size == 0) continue;
      rc = st_edit_add_file(&c->edit, c->level + 1, o->number, o->file_size,
                            st_buf_slice(&o->smallest), st_buf_slice(&o->largest));
    }
  }
  if (!rc) {
    cs->manifest_tried = 1;
    rc = st_db_log_and_apply(db, &c->edit);
  }
  return rc;
}

/* The user key of an internal key, or the whole key if it is too short to
 * be one (a damaged key: it is kept, and only needs a range to go to). */
static st_slice user_part(st_slice ikey) { return ikey.size >= 8 ? st_ikey_user(ikey) : ikey; }

/* Positions input at the first entry of the range (past every entry of
 * user key lo). */
static int seek_range_start(strata_db *db, subcompaction *sub, st_iter *input) {
  if (!sub->has_lo) {
    st_iter_seek_to_first(input);
    return 0;
  }
  st_slice lo = st_buf_slice(&sub->lo);
  st_buf k = ST_BUF_INIT;
  /* Sequence 0 sorts last among lo's entries. */
  if (st_ikey_append(&k, lo, 0, 0)) return st_err(STRATA_ENOMEM, "compaction range");
  st_iter_seek(input, st_buf_slice(&k));
  st_buf_free(&k);
  while (st_iter_valid(input) && st_ucmp(db->ucmp, user_part(st_iter_key(input)), lo) <= 0)
    st_iter_next(input);
  return 0;
}

/* True when the entry at input, which the compaction keeps unchanged,
 * is the only one in its data block and that block can be copied into the
 * output as it is stored (*stored): no decompressing and compressing
 * again. For large values (fill100K's 100 KB) that is most of a
 * compaction's work. Only blocks of at least block_size (smaller ones are
 * better packed with their neighbours) and of the configured compression
 * (or none, which compressing could also have given). */
static int copyable_block(strata_db *db, const st_iter *input, st_slice *stored) {
  st_stored_entry se;
  if (!st_iter_stored(input, &se) || !se.lone ||
      se.stored.size < ST_BLOCK_TRAILER_SIZE + db->topt.block_size)
    return 0;
  int type = (unsigned char)se.stored.data[se.stored.size - ST_BLOCK_TRAILER_SIZE];
  if (type != db->topt.compression && type != ST_BLOCK_NONE) return 0;
  *stored = se.stored;
  return 1;
}

/* True when ukey is a record of a dropped sub-database (subdb.h): nobody
 * can read it any more (ids are never reused), so every entry of it goes,
 * at any level. */
static int dropped_record(const compaction_state *cs, st_slice ukey) {
  if (ukey.size < ST_SUBDB_PREFIX_LEN || !st_key_is_reserved(ukey.data, ukey.size) ||
      ukey.data[ST_RESERVED_LEN] != ST_SUBDB_DATA)
    return 0;
  uint32_t id = st_subdb_get_id(ukey.data + ST_RESERVED_LEN + 1);
  size_t lo = 0, hi = cs->ndropped;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    if (cs->dropped[mid] < id)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo < cs->ndropped && cs->dropped[lo] == id;
}

/* Merges the compaction's inputs within sub's range into new tables,
 * dropping entries no snapshot can see. Runs without mu. */
static int merge_range(subcompaction *sub) {
  strata_db *db = sub->db;
  compaction_state *cs = sub->cs;
  st_compaction *c = cs->c;
  st_compaction_cursor_init(&sub->cur);
  int rc = 0;
  st_iter *input = st_vset_make_input_iterator(&db->vs, c);
  if (!input) rc = st_err(STRATA_ENOMEM, "compaction input");
  st_buf current_user_key = ST_BUF_INIT;
  int has_current = 0;
  uint64_t last_sequence_for_key = ST_MAX_SEQUENCE;
  st_slice hi = st_buf_slice(&sub->hi);
  if (!rc) rc = seek_range_start(db, sub, input);
  unsigned steps = 0;
  while (!rc && st_iter_valid(input)) {
    if ((++steps & 4095) == 0) {
      /* Notice a close now and then, so closing never waits for a whole
       * compaction (the main range also sees it whenever it flushes). */
      pthread_mutex_lock(&db->mu);
      sub->shutdown = db->shutting_down;
      pthread_mutex_unlock(&db->mu);
      if (sub->shutdown) break;
    }
    if (sub->is_main && atomic_load_explicit(&db->has_imm, memory_order_acquire)) {
      /* A full memtable blocks writers: flush it first. */
      uint64_t t0 = db->env->now_micros(db->env);
      pthread_mutex_lock(&db->mu);
      if (db->imm) compact_memtable(db);
      if (db->shutting_down) sub->shutdown = 1;
      pthread_mutex_unlock(&db->mu);
      sub->imm_micros += (int64_t)(db->env->now_micros(db->env) - t0);
      if (sub->shutdown) break;
    }
    st_slice key = st_iter_key(input);
    if (sub->has_hi && st_ucmp(db->ucmp, user_part(key), hi) > 0) break;
    if (sub->builder && st_compaction_should_stop_before(c, &sub->cur, key)) {
      rc = finish_output(db, sub, 0);
      if (rc) break;
    }
    int drop = 0;
    st_parsed_ikey pk;
    if (!st_ikey_parse(key, &pk)) {
      /* A malformed key (damaged input) can be neither ordered nor written:
       * the compaction stops, naming the table (which strata check and
       * repair still see as it is). */
      rc = st_vset_input_order_error(&db->vs, c);
      break;
    } else {
      /* Input out of order (damaged) would make the drop rules below lose
       * entries, and a table breaking the order every reader relies on. */
      int order = has_current ? st_ucmp(db->ucmp, pk.user_key, st_buf_slice(&current_user_key)) : 1;
      if (order < 0 || (order == 0 && pk.sequence > last_sequence_for_key)) {
        rc = st_vset_input_order_error(&db->vs, c);
        break;
      }
      if (order > 0) {
        if ((rc = st_buf_set(&current_user_key, pk.user_key.data, pk.user_key.size))) break;
        has_current = 1;
        last_sequence_for_key = ST_MAX_SEQUENCE;
      }
      if (order == 0 && pk.sequence == last_sequence_for_key) {
        /* A second copy of the entry before, from another table: repair
         * leaves both when it converts a log a flushed table already
         * holds. One is kept. */
        drop = 1;
      } else if (last_sequence_for_key <= cs->smallest_snapshot) {
        drop = 1; /* a newer entry of this key is visible to every snapshot */
      } else if (pk.type == ST_TYPE_DELETION && pk.sequence <= cs->smallest_snapshot &&
                 st_compaction_is_base_level_for_key(c, &sub->cur, pk.user_key)) {
        /* No snapshot needs the marker and no deeper level has the key:
         * the deletion has nothing left to hide. */
        drop = 1;
      }
      last_sequence_for_key = pk.sequence;
      if (!drop && cs->ndropped && dropped_record(cs, pk.user_key)) drop = 1;
    }
    if (!drop) {
      if (!sub->builder && (rc = open_output(db, sub))) break;
      output *o = &sub->outputs[sub->noutputs - 1];
      if (st_table_builder_num_entries(sub->builder) == 0)
        rc = st_buf_set(&o->smallest, key.data, key.size);
      if (!rc) rc = st_buf_set(&o->largest, key.data, key.size);
      st_slice stored;
      if (!rc)
        rc = copyable_block(db, input, &stored)
                 ? st_table_builder_add_stored(sub->builder, key, stored)
                 : st_table_builder_add(sub->builder, key, st_iter_value(input));
      if (!rc && st_table_builder_file_size(sub->builder) >= c->max_output_file_size)
        rc = finish_output(db, sub, 0);
      if (rc) break;
    }
    st_iter_next(input);
  }
  if (!rc && input) rc = st_iter_status(input);
  if (sub->builder) {
    int r = finish_output(db, sub, rc);
    if (!rc) rc = r;
  }
  st_iter_destroy(input);
  st_buf_free(&current_user_key);
  return rc;
}

static void merge_range_thread(void *arg) {
  subcompaction *sub = arg;
  sub->rc = merge_range(sub);
  if (sub->rc) st_error_capture(&sub->err, sub->rc);
}

/* The user key at which to split compaction c in two, into *split:
 *  - a boundary of its level+1 inputs with about half their bytes at or
 *    below it (those files do not overlap, so the bytes on either side
 *    are known);
 *  - failing that (fewer than two level+1 inputs, e.g. level 0 into a
 *    nearly empty level 1), the middle index key of its largest input,
 *    which estimates that file's median key: the level-0 files of random
 *    writes have much the same key distribution, so it halves them all.
 * Returns 1 when a split lies strictly inside the compaction's key range,
 * 0 when there is none (or on any error: the compaction then runs as one
 * range). */
static int pick_split(strata_db *db, st_compaction *c, st_buf *split) {
  int64_t upper = 0;
  for (int i = 0; i < c->ninputs[1]; i++)
    upper += (int64_t)c->inputs[1][i]->file_size;
  int64_t acc = 0;
  /* Not the last file's boundary, which would leave the upper range empty. */
  for (int i = 0; i < c->ninputs[1] - 1; i++) {
    acc += (int64_t)c->inputs[1][i]->file_size;
    if (acc * 2 >= upper) {
      st_slice k = st_ikey_user(c->inputs[1][i]->largest);
      return st_buf_set(split, k.data, k.size) == 0;
    }
  }
  const st_file_meta *big = NULL, *lo = NULL, *hi = NULL;
  for (int w = 0; w < 2; w++) {
    for (int i = 0; i < c->ninputs[w]; i++) {
      const st_file_meta *f = c->inputs[w][i];
      if (!big || f->file_size > big->file_size) big = f;
      if (!lo || st_ucmp(db->ucmp, st_ikey_user(f->smallest), st_ikey_user(lo->smallest)) < 0)
        lo = f;
      if (!hi || st_ucmp(db->ucmp, st_ikey_user(f->largest), st_ikey_user(hi->largest)) > 0) hi = f;
    }
  }
  if (!big || st_table_cache_middle_key(db->table_cache, big->number, big->file_size, split)) {
    st_err_clear();
    return 0;
  }
  st_slice ikey = st_buf_slice(split);
  if (ikey.size < 8) return 0; /* not an internal key: a damaged index */
  st_slice k = st_ikey_user(ikey);
  if (st_ucmp(db->ucmp, k, st_ikey_user(lo->smallest)) <= 0 ||
      st_ucmp(db->ucmp, k, st_ikey_user(hi->largest)) >= 0)
    return 0;
  split->size = k.size; /* the user key is the internal key's prefix */
  return 1;
}

/* Splits cs's compaction into two ranges of about equal input size (see
 * pick_split). Compactions smaller than two output files stay whole: a
 * thread would cost more than it saves. */
static int plan_ranges(strata_db *db, compaction_state *cs) {
  st_compaction *c = cs->c;
  int64_t total = 0;
  for (int w = 0; w < 2; w++)
    for (int i = 0; i < c->ninputs[w]; i++)
      total += (int64_t)c->inputs[w][i]->file_size;
  cs->nsubs = 1;
  if (MAX_SUBCOMPACTIONS < 2 || total < 2 * (int64_t)c->max_output_file_size) return 0;
  st_buf split = ST_BUF_INIT;
  int have = pick_split(db, c, &split);
  int rc = 0;
  if (have) {
    subcompaction *a = &cs->subs[0], *b = &cs->subs[1];
    if (st_buf_set(&a->hi, split.data, split.size) || st_buf_set(&b->lo, split.data, split.size)) {
      rc = st_err(STRATA_ENOMEM, "compaction ranges");
    } else {
      a->has_hi = 1;
      b->has_lo = 1;
      cs->nsubs = 2;
    }
  }
  st_buf_free(&split);
  return rc;
}

/* Runs the compaction: ranges after the first on helper threads, the first
 * here; then installs the outputs. REQUIRE: mu held (released while
 * working). */
static int do_compaction_work(strata_db *db, compaction_state *cs) {
  st_compaction *c = cs->c;
  uint64_t start = db->env->now_micros(db->env);
  cs->smallest_snapshot = st_db_smallest_snapshot(db);
  if (db->ndropped) {
    cs->dropped = malloc(db->ndropped * sizeof *cs->dropped);
    if (cs->dropped) {
      memcpy(cs->dropped, db->dropped_ids, db->ndropped * sizeof *cs->dropped);
      cs->ndropped = db->ndropped;
    }
  }
  pthread_mutex_unlock(&db->mu);
  /* Unlocked: the split may open an input table. */
  int rc = plan_ranges(db, cs);
  st_db_log(db, "compacting %d@%d + %d@%d files in %d range%s", c->ninputs[0], c->level,
            c->ninputs[1], c->level + 1, cs->nsubs, cs->nsubs == 1 ? "" : "s");

  strata_thread *threads[MAX_SUBCOMPACTIONS] = {NULL};
  for (int s = 0; s < cs->nsubs; s++) {
    cs->subs[s].db = db;
    cs->subs[s].cs = cs;
    cs->subs[s].is_main = (s == 0);
  }
  for (int s = 1; !rc && s < cs->nsubs; s++) {
    int trc = db->env->thread_create(db->env, merge_range_thread, &cs->subs[s], &threads[s]);
    if (trc) {
      /* No thread: merge that range here after the first. */
      threads[s] = NULL;
    }
  }
  if (!rc) {
    rc = merge_range(&cs->subs[0]);
    for (int s = 1; s < cs->nsubs; s++) {
      if (threads[s]) {
        db->env->thread_join(db->env, threads[s]);
      } else if (!rc && !cs->subs[0].shutdown) {
        cs->subs[s].is_main = 1;
        cs->subs[s].rc = merge_range(&cs->subs[s]);
        if (cs->subs[s].rc) st_error_capture(&cs->subs[s].err, cs->subs[s].rc);
      }
      if (!rc && cs->subs[s].rc) rc = st_error_raise(&cs->subs[s].err);
    }
  }
  int shutdown = 0;
  int64_t imm_micros = 0;
  for (int s = 0; s < cs->nsubs; s++) {
    shutdown |= cs->subs[s].shutdown;
    imm_micros += cs->subs[s].imm_micros;
    cs->total_bytes += cs->subs[s].total_bytes;
  }
  if (!rc && !shutdown) {
    pthread_mutex_lock(&db->mu);
    shutdown = db->shutting_down;
    pthread_mutex_unlock(&db->mu);
  }
  if (!rc && shutdown) rc = st_err(STRATA_EIO, "database closed during compaction");

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
 * tables are named by no MANIFEST: they are deleted here, so a close
 * during a compaction leaves no half-written table behind (the next open,
 * a check or a repair would trip on it). REQUIRE: mu held (released while
 * deleting). */
static void cleanup_compaction(strata_db *db, compaction_state *cs, int installed) {
  int nsubs = cs->nsubs > 0 ? cs->nsubs : 1;
  int any = 0;
  for (int s = 0; s < nsubs; s++) {
    subcompaction *sub = &cs->subs[s];
    if (sub->builder) st_table_builder_abandon(sub->builder);
    st_table_builder_free(sub->builder);
    sub->builder = NULL;
    if (sub->file) sub->file->close(sub->file);
    sub->file = NULL;
    any |= sub->noutputs > 0;
  }
  if (!installed && !cs->manifest_tried && any) {
    st_error saved;
    st_error_capture(&saved, STRATA_EIO);
    pthread_mutex_unlock(&db->mu);
    for (int s = 0; s < nsubs; s++) {
      for (int i = 0; i < cs->subs[s].noutputs; i++) {
        uint64_t number = cs->subs[s].outputs[i].number;
        st_table_cache_evict(db->table_cache, number);
        char *path = st_table_file_name(db->dbname, number);
        if (path) db->env->remove_file(db->env, path);
        free(path);
      }
    }
    pthread_mutex_lock(&db->mu);
    st_error_raise(&saved); /* keep the compaction's own message */
  }
  for (int s = 0; s < MAX_SUBCOMPACTIONS; s++) {
    subcompaction *sub = &cs->subs[s];
    for (int i = 0; i < sub->noutputs; i++) {
      st_db_pending_remove(db, sub->outputs[i].number);
      st_buf_free(&sub->outputs[i].smallest);
      st_buf_free(&sub->outputs[i].largest);
    }
    free(sub->outputs);
    st_buf_free(&sub->lo);
    st_buf_free(&sub->hi);
  }
  st_compaction_free(cs->c);
  free(cs->dropped);
}

/* Runs compaction c (which it frees) and collects the files it made
 * obsolete. REQUIRE: mu held (released while working). */
static int run_compaction(strata_db *db, st_compaction *c) {
  compaction_state cs;
  compaction_state_init(&cs, c);
  int rc = do_compaction_work(db, &cs);
  cleanup_compaction(db, &cs, rc == 0);
  /* Once installed, the inputs are garbage even if a close began while
   * the MANIFEST record was being written (mu is released then): left on
   * disk, a repair would take them for live tables. The close joins the
   * deleter thread before it releases the LOCK. After a failure nothing
   * is collected: when the MANIFEST write was tried its record may name
   * the outputs, and the deletion would also erase the message of the
   * error the caller records as the background error. */
  if (rc == 0) st_db_delete_obsolete_files(db);
  return rc;
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
  if (db->ingest && !db->ingest->done) {
    st_db_run_ingest(db); /* a bulk load's tables (ingest.c) */
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
    rc = run_compaction(db, c);
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

/* How long the database must go without a write before level 0 is
 * merged into level 1 regardless of its size. */
#define IDLE_MICROS 50000

/* True when merging level 0 into level 1 would leave reads fewer tables to
 * probe: two or more level-0 tables, or one that overlaps level 1 (a lone
 * table that does not would merely be moved). REQUIRE: mu held. */
static int idle_compaction_useful(strata_db *db) {
  st_version *v = db->vs.current;
  if (db->bg_error.code || db->shutting_down || (db->manual && !db->manual->done)) return 0;
  if (v->nfiles[0] >= 2) return 1;
  if (v->nfiles[0] == 1) {
    st_file_meta *f = v->files[0][0];
    st_slice lo = st_ikey_user(f->smallest), hi = st_ikey_user(f->largest);
    return st_version_overlap_in_level(v, 1, &lo, &hi);
  }
  return 0;
}

/* Merges every level-0 table into level 1. REQUIRE: mu held. */
static void idle_compaction(strata_db *db) {
  int rc = 0;
  st_compaction *c = st_vset_compact_range(&db->vs, 0, NULL, NULL, &rc);
  if (c && !rc) {
    st_db_log(db, "idle compaction of %d level-0 tables", c->ninputs[0]);
    rc = run_compaction(db, c);
  } else {
    st_compaction_free(c);
  }
  if (rc && !db->shutting_down) st_db_record_bg_error(db, rc);
}

/* Waits on work_cv for up to IDLE_MICROS, or until there is work, a write
 * (the last sequence number is no longer seq) or shutdown. REQUIRE: mu
 * held. */
static void wait_idle_period(strata_db *db, uint64_t seq) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  ts.tv_nsec += (long)IDLE_MICROS * 1000;
  ts.tv_sec += ts.tv_nsec / 1000000000;
  ts.tv_nsec %= 1000000000;
  int e;
  do {
    e = pthread_cond_timedwait(&db->work_cv, &db->mu, &ts);
  } while (e == 0 && !db->shutting_down && !has_work(db) && db->vs.last_sequence == seq);
}

void st_db_bg_thread(void *arg) {
  strata_db *db = arg;
  /* The last sequence number at which an idle compaction was tried: one try
   * per quiet spell, even if it could not merge everything. */
  uint64_t idle_tried_at = UINT64_MAX;
  pthread_mutex_lock(&db->mu);
  while (!db->shutting_down) {
    if (!has_work(db)) {
      uint64_t seq = db->vs.last_sequence;
      if (seq != idle_tried_at && idle_compaction_useful(db)) {
        wait_idle_period(db, seq);
        /* Any write meanwhile (the sequence moved) or new work starts the
         * quiet spell over. */
        if (db->shutting_down || has_work(db) || db->vs.last_sequence != seq) continue;
        idle_tried_at = seq;
        db->bg_busy = 1;
        idle_compaction(db);
        db->bg_busy = 0;
        pthread_cond_broadcast(&db->bg_cv);
        continue;
      }
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

/* A batch of obsolete files (names in the database directory) to unlink. */
typedef struct deletion {
  strata_db *db;
  char **names; /* owned, like each name */
  size_t n;
} deletion;

static void delete_files_now(deletion *job) {
  strata_db *db = job->db;
  for (size_t i = 0; i < job->n; i++) {
    size_t len = strlen(db->dbname) + strlen(job->names[i]) + 2;
    char *path = malloc(len);
    if (path) {
      snprintf(path, len, "%s/%s", db->dbname, job->names[i]);
      db->env->remove_file(db->env, path);
      free(path);
    }
    free(job->names[i]);
  }
  free(job->names);
}

static void delete_files(void *arg) {
  deletion *job = arg;
  delete_files_now(job);
  st_err_clear();
  free(job);
}

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
  for (size_t i = 0; i < ndoomed; i++)
    st_db_log(db, "delete %s", doomed[i]);
  st_thread *prev = db->deleter;
  db->deleter = NULL;
  pthread_mutex_unlock(&db->mu);
  if (prev) db->env->thread_join(db->env, prev);
  if (ndoomed == 0) {
    free(doomed);
    pthread_mutex_lock(&db->mu);
    return;
  }
  /* Unlinking takes milliseconds per file here (the file system frees its
   * blocks and waits for any writeback), which on the background thread
   * would hold up the next flush while writers wait for it: a thread of its
   * own does it. The files are unreachable already. */
  deletion *job = malloc(sizeof *job);
  st_thread *t = NULL;
  if (job) {
    job->db = db;
    job->names = doomed;
    job->n = ndoomed;
    if (db->env->thread_create(db->env, delete_files, job, &t) != 0) t = NULL;
  }
  if (!t) {
    /* No thread: delete them here. */
    if (job) free(job);
    deletion inline_job = {db, doomed, ndoomed};
    delete_files_now(&inline_job);
  }
  st_err_clear();
  pthread_mutex_lock(&db->mu);
  db->deleter = t;
}

void st_db_join_deleter(strata_db *db) {
  pthread_mutex_lock(&db->mu);
  st_thread *t = db->deleter;
  db->deleter = NULL;
  pthread_mutex_unlock(&db->mu);
  if (t) db->env->thread_join(db->env, t);
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

int st_db_compact_tables(strata_db *db, const st_slice *bp, const st_slice *ep, int rewrite) {
  /* Deepest level holding something in the range. */
  int max_level = 1;
  pthread_mutex_lock(&db->mu);
  for (int l = 1; l < ST_NUM_LEVELS; l++)
    if (st_version_overlap_in_level(db->vs.current, l, bp, ep)) max_level = l;
  pthread_mutex_unlock(&db->mu);
  /* Pushing the deepest level one further rewrites its tables too. */
  if (rewrite && max_level < ST_NUM_LEVELS - 1) max_level++;
  int rc = 0;
  for (int l = 0; l < max_level && !rc; l++)
    rc = manual_compact_level(db, l, bp, ep);
  return rc;
}

int strata_compact_range(strata_db *db, const void *begin, size_t blen, const void *end,
                         size_t elen) {
  if (!db) return st_err(STRATA_EMISUSE, "strata_compact_range: NULL db");
  int rc = st_db_check_writable(db, "strata_compact_range"); /* read-only */
  if (rc) return rc;
  st_slice b = st_slice_make(begin, blen), e = st_slice_make(end, elen);
  const st_slice *bp = begin ? &b : NULL, *ep = end ? &e : NULL;

  /* Flush the memtable (an empty write that forces a switch), and wait for
   * the flush to finish. */
  rc = st_db_write(db, 0, NULL, NULL);
  if (rc) return rc;
  pthread_mutex_lock(&db->mu);
  while (db->imm && db->bg_error.code == 0)
    pthread_cond_wait(&db->bg_cv, &db->mu);
  if (db->bg_error.code) rc = st_error_raise(&db->bg_error);
  pthread_mutex_unlock(&db->mu);
  if (rc) return rc;
  return st_db_compact_tables(db, bp, ep, 0);
}
