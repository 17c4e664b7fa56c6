/*
 * db.c - the database: open and recovery, the write path (group commit),
 * point reads, snapshots, close. See db_impl.h for the locking rules.
 *
 * Write path: each writer joins a queue; the writer at its head gathers the
 * batches queued behind it into one group, assigns it consecutive sequence
 * numbers, appends it to the write-ahead log as one record (one write()
 * call; fdatasync too if any member asked for sync), inserts it into the
 * memtable, publishes the new last sequence, then wakes the group. Readers
 * see a write only once its sequence is published, so a batch is visible
 * all at once.
 */
#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "db/db_impl.h"
#include "db/filename.h"
#include "db/db_raw.h"
#include "db/log_reader.h"
#include "db/subdb.h"
#include "util/logger.h"
#include "util/numset.h"
#include "util/internal_key.h"

/* ------------------------------------------------------------------------ */
/* Options                                                                  */
/* ------------------------------------------------------------------------ */

void strata_options_init(strata_options *o) {
  memset(o, 0, sizeof *o);
  o->version = STRATA_OPTIONS_VERSION;
  o->write_buffer_size = 4 << 20;
  o->max_open_files = 1000;
  o->block_size = 4096;
  o->block_restart_interval = 16;
  o->max_file_size = 2 << 20;
  o->compression = STRATA_COMPRESSION_SNAPPY;
  o->zstd_level = 1;
}

void strata_read_options_init(strata_read_options *o) {
  memset(o, 0, sizeof *o);
  o->version = STRATA_OPTIONS_VERSION;
  o->fill_cache = 1;
}

void strata_write_options_init(strata_write_options *o) {
  memset(o, 0, sizeof *o);
  o->version = STRATA_OPTIONS_VERSION;
}

#define CLIP(v, lo, hi) ((v) < (lo) ? (lo) : ((v) > (hi) ? (hi) : (v)))

/* Keeps options in workable ranges (LevelDB's SanitizeOptions; our lower
 * bounds are smaller so tests can force many flushes and tiny blocks). */
static void sanitize(strata_options *o) {
  o->write_buffer_size = CLIP(o->write_buffer_size, (size_t)16 << 10, (size_t)1 << 30);
  o->max_open_files = CLIP(o->max_open_files, 20, 50000);
  o->block_size = CLIP(o->block_size, (size_t)64, (size_t)4 << 20);
  o->block_restart_interval = CLIP(o->block_restart_interval, 1, 1 << 16);
  o->max_file_size = CLIP(o->max_file_size, (size_t)16 << 10, (size_t)1 << 30);
}

/* ------------------------------------------------------------------------ */
/* Info log                                                                 */
/* ------------------------------------------------------------------------ */

void st_db_log(strata_db *db, const char *fmt, ...) {
  if (!db->info_log && !db->opts.info_log) return;
  char line[1024];
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  struct tm tm;
  localtime_r(&ts.tv_sec, &tm);
  int n = snprintf(line, sizeof line, "%04d/%02d/%02d-%02d:%02d:%02d.%06ld ", tm.tm_year + 1900,
                   tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000);
  va_list ap;
  va_start(ap, fmt);
  int m = vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
  va_end(ap);
  size_t len =
      (size_t)n +
      (m < 0 ? 0
             : ((size_t)m < sizeof line - (size_t)n - 1 ? (size_t)m : sizeof line - (size_t)n - 2));
  if (db->opts.info_log) {
    /* A user logger gets the line without the newline. */
    line[len] = '\0';
    db->opts.info_log->log(db->opts.info_log->state, line);
    return;
  }
  line[len++] = '\n';
  pthread_mutex_lock(&db->info_log_mu);
  /* The info log is advisory: its errors are ignored. */
  if (db->info_log->append(db->info_log, line, len) == 0) db->info_log->flush(db->info_log);
  pthread_mutex_unlock(&db->info_log_mu);
}

static void open_info_log(strata_db *db) {
  if (db->opts.info_log) return;  /* the user's logger replaces LOG */
  if (db->opts.read_only) return; /* read-only: never writes a file */
  char *path = st_info_log_file_name(db->dbname);
  char *old = st_old_info_log_file_name(db->dbname);
  if (path && old) {
    if (db->env->exists(db->env, path)) db->env->rename(db->env, path, old);
    if (db->env->new_wfile(db->env, path, &db->info_log) != 0) db->info_log = NULL;
  }
  free(path);
  free(old);
  st_err_clear();
}

/* ------------------------------------------------------------------------ */
/* Helpers                                                                  */
/* ------------------------------------------------------------------------ */

void st_db_record_bg_error(strata_db *db, int rc) {
  if (db->bg_error.code == 0) {
    st_error_capture(&db->bg_error, rc);
    st_db_log(db, "background error (all later writes fail): %s", db->bg_error.msg);
    pthread_cond_broadcast(&db->bg_cv);
  }
}

int st_db_pending_add(strata_db *db, uint64_t number) {
  if (db->npending == db->cap_pending) {
    size_t cap = db->cap_pending ? db->cap_pending * 2 : 16;
    uint64_t *p = realloc(db->pending, cap * sizeof *p);
    if (!p) return st_err(STRATA_ENOMEM, "pending outputs");
    db->pending = p;
    db->cap_pending = cap;
  }
  db->pending[db->npending++] = number;
  return 0;
}

void st_db_pending_remove(strata_db *db, uint64_t number) {
  for (size_t i = 0; i < db->npending; i++) {
    if (db->pending[i] == number) {
      db->pending[i] = db->pending[--db->npending];
      return;
    }
  }
}

uint64_t st_db_smallest_snapshot(strata_db *db) {
  if (db->snapshots.next != &db->snapshots) return db->snapshots.next->sequence;
  return db->vs.last_sequence;
}

st_superversion *st_db_sv_get(strata_db *db, const strata_read_options *ropt, uint64_t *seq) {
  if (db->ro) return st_ro_sv_get(db, ropt, seq); /* read-only handle: db_readonly.c */
  st_superversion *sv = st_sv_get(&db->svs);
  /* The sequence is read after the superversion is taken (st_sv_get ends
   * in an acquire, so this load cannot move up). A flush or compaction
   * whose result sv holds may have dropped entries that only snapshots
   * older than its start could see; a sequence read later is at least
   * that new. Every write acknowledged before this call is in sv: the
   * install of its memtable marked this thread's slot before the write,
   * so st_sv_get took that superversion or a newer one. seq may also cover
   * writes that went to a memtable installed after sv was taken; they
   * began during this read, which then sees the database as it was at
   * that switch -- a state it passed through. */
  *seq = atomic_load_explicit(&db->visible_sequence, memory_order_acquire);
  if (ropt && ropt->snapshot) *seq = ropt->snapshot->sequence;
  return sv;
}

void st_db_sv_put(strata_db *db, st_superversion *sv) { st_sv_put(&db->svs, sv); }

void st_db_install_sv(strata_db *db, st_superversion *fresh) {
  st_sv_install(&db->svs, fresh, db->mem, db->imm, db->vs.current);
}

int st_db_log_and_apply(strata_db *db, st_version_edit *edit) {
  /* Allocated first: once the edit is applied the install must not fail,
   * or readers would go on with the old version. */
  st_superversion *fresh = st_sv_new();
  if (!fresh) return st_err(STRATA_ENOMEM, "superversion");
  int rc = st_vset_log_and_apply(&db->vs, edit, &db->mu);
  if (rc) {
    free(fresh);
    return rc;
  }
  st_db_install_sv(db, fresh);
  return 0;
}

/* Lookup key for a point read: user_key + tag(seq, TYPE_FOR_SEEK), in buf
 * (stack) when it fits, else in big. */
static st_slice make_lookup(st_slice key, uint64_t seq, char *buf, size_t bufsz, st_buf *big) {
  if (key.size + 8 <= bufsz) {
    if (key.size) memcpy(buf, key.data, key.size);
    st_put_fixed64(buf + key.size, st_pack_tag(seq, ST_TYPE_FOR_SEEK));
    return st_slice_make(buf, key.size + 8);
  }
  if (st_ikey_append(big, key, seq, ST_TYPE_FOR_SEEK)) return st_slice_make(NULL, 0);
  return st_buf_slice(big);
}

/* ------------------------------------------------------------------------ */
/* Write path                                                               */
/* ------------------------------------------------------------------------ */

/* Finishes a log switch: syncs the directory entry of the new log (and
 * syncs and closes a previous log if one is still pending). Losing the new
 * log's entry in a machine crash loses only writes after every write of
 * the old, already synced, log -- no hole in the history -- so only a sync
 * write must wait for this; otherwise the background thread does it, off
 * the writers' path. Whoever finds it pending does it; others wait.
 * REQUIRE: mu held (released inside). */
int st_db_settle_logs(strata_db *db) {
  while (db->old_log || db->dir_sync_pending || db->settling) {
    if (db->settling) {
      pthread_cond_wait(&db->bg_cv, &db->mu);
      continue;
    }
    st_log_writer *old = db->old_log;
    int dir = db->dir_sync_pending;
    db->old_log = NULL;
    db->dir_sync_pending = 0;
    db->settling = 1;
    pthread_mutex_unlock(&db->mu);
    int rc = 0;
    if (old) {
      rc = st_log_sync(old);
      int crc = st_log_writer_close(old);
      if (!rc) rc = crc;
    }
    if (!rc && dir) rc = db->env->sync_dir(db->env, db->dbname);
    pthread_mutex_lock(&db->mu);
    db->settling = 0;
    pthread_cond_broadcast(&db->bg_cv);
    if (rc) st_db_record_bg_error(db, rc);
  }
  return db->bg_error.code ? st_error_raise(&db->bg_error) : 0;
}

/* Syncs the current log, opens a new one, and turns the memtable into the
 * immutable one for the background thread to flush. The old log is synced
 * before the switch, so no record of the new log can reach the disk ahead
 * of an older one; the POSIX file has been starting writeback every MiB,
 * so this sync only waits for the last stretch. The new log's directory
 * entry is synced later (st_db_settle_logs). REQUIRE: mu held, imm == NULL,
 * caller is the queue head (so no one writes the log meanwhile). */
static int switch_memtable(strata_db *db) {
  /* At most one unsettled old log at a time. */
  int rc = st_db_settle_logs(db);
  if (rc) return rc;
  uint64_t number = st_vset_new_file_number(&db->vs);
  char *path = st_log_file_name(db->dbname, number);
  if (!path) return st_err(STRATA_ENOMEM, "log file name");
  st_wfile *f = NULL;
  rc = db->env->new_wfile(db->env, path, &f);
  free(path);
  st_log_writer *log = NULL;
  if (!rc) {
    log = st_log_writer_new(f, 0);
    if (!log) {
      f->close(f);
      rc = st_err(STRATA_ENOMEM, "log writer");
    }
  }
  st_memtable *mem = NULL;
  if (!rc) {
    mem = st_memtable_new(db->ucmp);
    if (!mem) rc = st_err(STRATA_ENOMEM, "memtable");
  }
  st_superversion *sv = NULL;
  if (!rc) {
    sv = st_sv_new();
    if (!sv) rc = st_err(STRATA_ENOMEM, "superversion");
  }
  if (rc) {
    st_memtable_unref(mem);
    st_log_writer_close(log);
    st_vset_reuse_file_number(&db->vs, number);
    return rc;
  }
  /* mu is held across this sync: only the queue head (us) writes the log,
   * and the background thread does not need mu for long stretches. */
  rc = st_log_sync(db->log);
  if (rc) {
    st_log_writer_close(log);
    st_memtable_unref(mem);
    free(sv);
    st_vset_reuse_file_number(&db->vs, number);
    st_db_record_bg_error(db, rc);
    return rc;
  }
  db->old_log = db->log;    /* closed by st_db_settle_logs */
  db->dir_sync_pending = 1; /* the new log's directory entry */
  db->log = log;
  db->logfile_number = number;
  db->imm = db->mem;
  /* Every later write goes here (we are the queue head). */
  st_memtable_set_first_sequence(mem, db->vs.last_sequence + 1);
  db->mem = mem;
  /* Before mu is released, so no write reaches the new memtable before
   * readers are told to look there. */
  st_db_install_sv(db, sv);
  atomic_store_explicit(&db->has_imm, 1, memory_order_release);
  st_db_maybe_schedule(db);
  return 0;
}

/* Waits until the memtable has room for a write (or, with force, switches
 * to a new memtable), applying L0 back-pressure. REQUIRE: mu held, caller
 * is the queue head. */
static int make_room_for_write(strata_db *db, int force) {
  int allow_delay = !force;
  for (;;) {
    if (db->bg_error.code) return st_error_raise(&db->bg_error);
    int l0 = st_vset_num_level_files(&db->vs, 0);
    if (allow_delay && l0 >= ST_L0_SLOWDOWN_TRIGGER) {
      /* Close to the hard limit: delay this write a little rather than
       * stall one write for seconds later; each write is delayed once. */
      pthread_mutex_unlock(&db->mu);
      db->env->sleep_micros(db->env, ST_L0_SLOWDOWN_MICROS);
      pthread_mutex_lock(&db->mu);
      allow_delay = 0;
    } else if (!force && st_memtable_memory_usage(db->mem) <= db->opts.write_buffer_size) {
      return 0;
    } else if (db->imm) {
      /* The previous memtable is still being flushed. */
      pthread_cond_wait(&db->bg_cv, &db->mu);
    } else if (l0 >= ST_L0_STOP_TRIGGER) {
      st_db_log(db, "too many L0 files (%d); waiting", l0);
      pthread_cond_wait(&db->bg_cv, &db->mu);
    } else {
      int rc = switch_memtable(db);
      if (rc) return rc;
      force = 0;
    }
  }
}

/* Gathers the batches of the writers after the head into db->group (the
 * head's batch first), up to about 1 MiB -- less when the head's batch is
 * small, so a small write is not slowed down much by a big group. A sync
 * write is not added to a non-sync group. Returns the last writer taken.
 * REQUIRE: mu held. */
static st_writer *build_group(strata_db *db, int *rc) {
  st_writer *first = db->wq_head, *last = first;
  size_t size = strata_batch_size(first->batch);
  size_t max = 1 << 20;
  if (size <= (128 << 10)) max = size + (128 << 10);
  *rc = st_buf_set(&db->group.rep, first->batch->rep.data, first->batch->rep.size);
  for (st_writer *w = first->next; w && !*rc; w = w->next) {
    if (w->sync && !first->sync) break;
    if (!w->batch) break; /* a flush request is handled on its own */
    if (w->check) break;  /* its check must see every write before it */
    size_t wsz = strata_batch_size(w->batch);
    if (size + wsz > max) break;
    size += wsz;
    *rc = st_buf_append(&db->group.rep, w->batch->rep.data + ST_BATCH_HEADER,
                        w->batch->rep.size - ST_BATCH_HEADER);
    if (!*rc)
      st_batch_set_count(&db->group, st_batch_get_count(&db->group) + st_batch_get_count(w->batch));
    last = w;
  }
  return last;
}

/* Links snapshot s at sequence seq into the list. REQUIRE: mu held. */
static void link_snapshot(strata_db *db, strata_snapshot *s, uint64_t seq) {
  s->sequence = seq;
  s->next = &db->snapshots;
  s->prev = db->snapshots.prev;
  s->prev->next = s;
  s->next->prev = s;
}

static int write_queued(strata_db *db, int sync, const strata_batch *batch,
                        const strata_snapshot **post_write_snapshot, int (*check)(void *),
                        void *check_arg) {
  int rc = st_db_check_writable(db, batch ? "a write" : "a flush"); /* read-only */
  if (rc) return rc;
  st_writer w;
  w.check = check;
  w.check_arg = check_arg;
  w.snapshot = NULL;
  if (post_write_snapshot) {
    /* Allocated up front so a successful write cannot fail afterwards. */
    w.snapshot = malloc(sizeof *w.snapshot);
    if (!w.snapshot) return st_err(STRATA_ENOMEM, "post-write snapshot");
  }
  w.batch = batch;
  w.sync = sync;
  w.done = 0;
  w.rc = 0;
  w.next = NULL;
  w.cv_ready = 0;

  pthread_mutex_lock(&db->mu);
  if (db->wq_tail)
    db->wq_tail->next = &w;
  else
    db->wq_head = &w;
  db->wq_tail = &w;
  /* Signals to a writer are sent only under mu, after it queued; so a cv
   * made here, still under mu, cannot miss one. An uncontended write never
   * waits and never pays for a cv. */
  if (!w.done && db->wq_head != &w) {
    pthread_cond_init(&w.cv, NULL);
    w.cv_ready = 1;
  }
  while (!w.done && db->wq_head != &w)
    pthread_cond_wait(&w.cv, &db->mu);
  if (w.done) {
    pthread_mutex_unlock(&db->mu);
    pthread_cond_destroy(&w.cv);
    if (w.rc) {
      free(w.snapshot);
      return st_error_raise(&w.err);
    }
    if (post_write_snapshot) *post_write_snapshot = w.snapshot;
    return 0;
  }

  /* This writer is the queue head: it writes for the group. */
  rc = make_room_for_write(db, batch == NULL);
  if (!rc && w.sync) rc = st_db_settle_logs(db);
  if (!rc && check) {
    /* No write can be applied while we head the queue: the check sees the
     * state this batch will be applied to. */
    pthread_mutex_unlock(&db->mu);
    rc = check(check_arg);
    pthread_mutex_lock(&db->mu);
  }
  st_writer *last = &w;
  if (!rc && batch) {
    last = build_group(db, &rc);
    uint64_t seq = db->vs.last_sequence + 1;
    uint32_t count = st_batch_get_count(&db->group);
    if (!rc) {
      st_batch_set_sequence(&db->group, seq);
      int need_sync = w.sync;
      st_log_writer *log = db->log;
      st_memtable *mem = db->mem;
      /* Other writers only queue up while the lock is released; mem and
       * log change only under the queue head, which is us. */
      pthread_mutex_unlock(&db->mu);
      rc = st_log_add_record(log, st_batch_contents(&db->group));
      if (!rc && need_sync) rc = st_log_sync(log);
      if (!rc) rc = st_batch_insert_into(&db->group, mem);
      pthread_mutex_lock(&db->mu);
      if (rc) {
        /* Either the log may hold a torn or unsynced record, or the
         * memtable holds part of a batch whose sequence numbers are not
         * published (so they would be handed out again): refuse every
         * later write rather than pretend they are durable or consistent.
         * The log is replayed whole at the next open. */
        st_db_record_bg_error(db, rc);
      } else if (rc == 0) {
        db->vs.last_sequence = seq + count - 1;
        atomic_store_explicit(&db->visible_sequence, db->vs.last_sequence, memory_order_release);
        /* Each member's post-write snapshot ends at its own last record. */
        uint64_t end = seq - 1;
        for (st_writer *m = &w;; m = m->next) {
          end += st_batch_get_count(m->batch);
          if (m->snapshot) link_snapshot(db, m->snapshot, end);
          if (m == last) break;
        }
      }
    }
  }

  /* Wake the group's members with the result, then the next head. */
  st_error err;
  if (rc) st_error_capture(&err, rc);
  for (;;) {
    st_writer *ready = db->wq_head;
    db->wq_head = ready->next;
    if (!db->wq_head) db->wq_tail = NULL;
    if (ready != &w) {
      ready->rc = rc;
      if (rc) ready->err = err;
      ready->done = 1;
      pthread_cond_signal(&ready->cv);
    }
    if (ready == last) break;
  }
  if (db->wq_head) pthread_cond_signal(&db->wq_head->cv);
  pthread_mutex_unlock(&db->mu);
  if (w.cv_ready) pthread_cond_destroy(&w.cv);
  if (rc) {
    free(w.snapshot);
    return st_error_raise(&err);
  }
  if (post_write_snapshot) {
    if (!batch) {
      /* A flush request has no write to take a snapshot after. */
      free(w.snapshot);
      w.snapshot = NULL;
    }
    *post_write_snapshot = w.snapshot;
  }
  return rc;
}

int st_db_write(strata_db *db, int sync, const strata_batch *batch,
                const strata_snapshot **post_write_snapshot) {
  return write_queued(db, sync, batch, post_write_snapshot, NULL, NULL);
}

int st_db_write_checked(strata_db *db, int sync, const strata_batch *batch, int (*check)(void *arg),
                        void *arg) {
  return write_queued(db, sync, batch, NULL, check, arg);
}

static int sync_flag(const strata_write_options *wopt) { return wopt ? wopt->sync : 0; }

static const strata_snapshot **post_flag(const strata_write_options *wopt) {
  return wopt ? wopt->post_write_snapshot : NULL;
}

int strata_write(strata_db *db, const strata_write_options *wopt, const strata_batch *b) {
  if (!db || !b) return st_err(STRATA_EMISUSE, "strata_write: NULL %s", db ? "batch" : "db");
  int rc = st_db_check_writable(db, "strata_write"); /* read-only, even an empty batch */
  if (rc) return rc;
  if (st_batch_get_count(b) == 0 && !post_flag(wopt)) return 0;
  return st_db_write(db, sync_flag(wopt), b, post_flag(wopt));
}

int st_db_put(strata_db *db, const strata_write_options *wopt, st_slice prefix, const void *key,
              size_t klen, const void *val, size_t vlen) {
  if (klen > 0xffffffffu - prefix.size || vlen > 0xffffffffu)
    return st_err(STRATA_EINVAL, "strata_put: key or value larger than 4 GiB - 1");
  if ((!key && klen) || (!val && vlen))
    return st_err(STRATA_EINVAL, "strata_put: NULL key or value with a non-zero length");
  /* A one-record batch built on the stack for small entries. */
  strata_batch b;
  char stackbuf[512];
  size_t full = prefix.size + klen;
  size_t need = ST_BATCH_HEADER + 1 + 2 * ST_MAX_VARINT32 + full + vlen;
  if (need <= sizeof stackbuf) {
    char *p = stackbuf;
    memset(p, 0, ST_BATCH_HEADER);
    st_put_fixed32(p + 8, 1);
    p += ST_BATCH_HEADER;
    *p++ = ST_TYPE_VALUE;
    p = st_put_varint32(p, (uint32_t)full);
    if (prefix.size) memcpy(p, prefix.data, prefix.size);
    p += prefix.size;
    if (klen) memcpy(p, key, klen);
    p += klen;
    p = st_put_varint32(p, (uint32_t)vlen);
    if (vlen) memcpy(p, val, vlen);
    p += vlen;
    b.rep.data = stackbuf;
    b.rep.size = (size_t)(p - stackbuf);
    b.rep.cap = sizeof stackbuf;
    return st_db_write(db, sync_flag(wopt), &b, post_flag(wopt));
  }
  if (st_batch_init(&b)) return STRATA_ENOMEM;
  int rc = st_batch_put_raw(&b, prefix, key, klen, val, vlen);
  if (!rc) rc = st_db_write(db, sync_flag(wopt), &b, post_flag(wopt));
  st_batch_release(&b);
  return rc;
}

int st_db_delete(strata_db *db, const strata_write_options *wopt, st_slice prefix, const void *key,
                 size_t klen) {
  if (klen > 0xffffffffu - prefix.size)
    return st_err(STRATA_EINVAL, "strata_delete: key larger than 4 GiB - 1");
  strata_batch b;
  if (st_batch_init(&b)) return STRATA_ENOMEM;
  int rc = st_batch_delete_raw(&b, prefix, key, klen);
  if (!rc) rc = st_db_write(db, sync_flag(wopt), &b, post_flag(wopt));
  st_batch_release(&b);
  return rc;
}

static const st_slice no_prefix = {"", 0};

static int reserved_key(const char *call) {
  return st_err(STRATA_EINVAL,
                "%s: key lies in the range reserved for sub-databases (it begins with "
                "\\xff\\xffstrata\\x00)",
                call);
}

int strata_put(strata_db *db, const strata_write_options *wopt, const void *key, size_t klen,
               const void *val, size_t vlen) {
  if (!db) return st_err(STRATA_EMISUSE, "strata_put: NULL db");
  if (key && st_key_is_reserved(key, klen)) return reserved_key("strata_put");
  return st_db_put(db, wopt, no_prefix, key, klen, val, vlen);
}

int strata_delete(strata_db *db, const strata_write_options *wopt, const void *key, size_t klen) {
  if (!db) return st_err(STRATA_EMISUSE, "strata_delete: NULL db");
  if (key && st_key_is_reserved(key, klen)) return reserved_key("strata_delete");
  return st_db_delete(db, wopt, no_prefix, key, klen);
}

int st_db_put_any(strata_db *db, const strata_write_options *wopt, const void *key, size_t klen,
                  const void *val, size_t vlen) {
  if (!db) return st_err(STRATA_EMISUSE, "strata_put: NULL db");
  return st_db_put(db, wopt, no_prefix, key, klen, val, vlen);
}

int st_db_delete_any(strata_db *db, const strata_write_options *wopt, const void *key,
                     size_t klen) {
  if (!db) return st_err(STRATA_EMISUSE, "strata_delete: NULL db");
  return st_db_delete(db, wopt, no_prefix, key, klen);
}

int strata_put_in(strata_db *db, strata_subdb *sdb, const strata_write_options *wopt,
                  const void *key, size_t klen, const void *val, size_t vlen) {
  if (!sdb) return strata_put(db, wopt, key, klen, val, vlen);
  if (!db) return st_err(STRATA_EMISUSE, "strata_put_in: NULL db");
  st_slice prefix;
  int rc = st_subdb_resolve(db, sdb, &prefix);
  return rc ? rc : st_db_put(db, wopt, prefix, key, klen, val, vlen);
}

int strata_delete_in(strata_db *db, strata_subdb *sdb, const strata_write_options *wopt,
                     const void *key, size_t klen) {
  if (!sdb) return strata_delete(db, wopt, key, klen);
  if (!db) return st_err(STRATA_EMISUSE, "strata_delete_in: NULL db");
  st_slice prefix;
  int rc = st_subdb_resolve(db, sdb, &prefix);
  return rc ? rc : st_db_delete(db, wopt, prefix, key, klen);
}

/* ------------------------------------------------------------------------ */
/* Reads                                                                    */
/* ------------------------------------------------------------------------ */

st_read_opts st_db_read_opts(const strata_db *db, const strata_read_options *ropt) {
  st_read_opts ro = {0, 1};
  if (ropt) {
    ro.verify_checksums = ropt->verify_checksums;
    ro.fill_cache = ropt->fill_cache;
  }
  /* paranoid_checks: every block read is checked, not only those asked. */
  if (db->opts.paranoid_checks) ro.verify_checksums = 1;
  return ro;
}

int st_db_get(strata_db *db, const strata_read_options *ropt, st_slice k, strata_buf *val) {
  st_read_opts ro = st_db_read_opts(db, ropt);
  uint64_t seq;
  st_superversion *sv = st_db_sv_get(db, ropt, &seq);

  st_get_stats stats = {NULL, -1};
  int r = st_memtable_get(sv->mem, k, seq, val);
  if (r == ST_MEM_ABSENT && sv->imm) r = st_memtable_get(sv->imm, k, seq, val);
  if (r == ST_MEM_ABSENT) {
    char buf[256];
    st_buf big = ST_BUF_INIT;
    st_slice lookup = make_lookup(k, seq, buf, sizeof buf, &big);
    r = lookup.data ? st_version_get(sv->current, &ro, lookup, val, &stats)
                    : st_err(STRATA_ENOMEM, "lookup key");
    st_buf_free(&big);
  }

  if (st_version_charge_seek(&stats)) {
    /* Rare: the file ran out of seeks; make it the compaction candidate. */
    pthread_mutex_lock(&db->mu);
    st_version_mark_seek_compaction(sv->current, &stats);
    st_db_maybe_schedule(db);
    pthread_mutex_unlock(&db->mu);
  }
  st_db_sv_put(db, sv);
  if (r == ST_MEM_FOUND) {
    /* An empty value still comes back with non-NULL data. */
    if (!val->data && st_buf_reserve(val, 1))
      return st_err(STRATA_ENOMEM, "strata_get: value buffer");
    return 0;
  }
  if (r == ST_MEM_ABSENT || r == ST_MEM_DELETED)
    return st_err_restore(STRATA_ENOTFOUND, "NotFound: key not found");
  return r;
}

int strata_get(strata_db *db, const strata_read_options *ropt, const void *key, size_t klen,
               strata_buf *val) {
  if (!db || !val) return st_err(STRATA_EMISUSE, "strata_get: NULL %s", db ? "value buffer" : "db");
  /* The reserved range is invisible through strata.h. */
  if (key && st_key_is_reserved(key, klen))
    return st_err_restore(STRATA_ENOTFOUND, "NotFound: key not found");
  return st_db_get(db, ropt, st_slice_make(key, klen), val);
}

int st_db_get_any(strata_db *db, const strata_read_options *ropt, const void *key, size_t klen,
                  strata_buf *val) {
  if (!db || !val) return st_err(STRATA_EMISUSE, "strata_get: NULL %s", db ? "value buffer" : "db");
  return st_db_get(db, ropt, st_slice_make(key, klen), val);
}

int strata_get_in(strata_db *db, strata_subdb *sdb, const strata_read_options *ropt,
                  const void *key, size_t klen, strata_buf *val) {
  if (!sdb) return strata_get(db, ropt, key, klen, val);
  if (!db || !val)
    return st_err(STRATA_EMISUSE, "strata_get_in: NULL %s", db ? "value buffer" : "db");
  st_slice prefix;
  int rc = st_subdb_resolve(db, sdb, &prefix);
  if (rc) return rc;
  /* prefix + key, on the stack when small. */
  char stack[256];
  char *full = stack;
  size_t n = prefix.size + klen;
  if (n > sizeof stack) {
    full = malloc(n);
    if (!full) return st_err(STRATA_ENOMEM, "strata_get_in: key");
  }
  memcpy(full, prefix.data, prefix.size);
  if (klen) memcpy(full + prefix.size, key, klen);
  rc = st_db_get(db, ropt, st_slice_make(full, n), val);
  if (full != stack) free(full);
  return rc;
}

/* ------------------------------------------------------------------------ */
/* Snapshots                                                                */
/* ------------------------------------------------------------------------ */

const strata_snapshot *strata_snapshot_get(strata_db *db) {
  if (!db) return NULL;
  strata_snapshot *s = malloc(sizeof *s);
  if (s) st_db_snapshot_take(db, s);
  return s;
}

void strata_snapshot_release(strata_db *db, const strata_snapshot *snap) {
  if (!db || !snap) return;
  strata_snapshot *s = (strata_snapshot *)snap;
  st_db_snapshot_drop(db, s);
  free(s);
}

void st_db_snapshot_take(strata_db *db, strata_snapshot *s) {
  pthread_mutex_lock(&db->mu);
  s->sequence = db->vs.last_sequence;
  s->sv = NULL;
  s->next = &db->snapshots;
  s->prev = db->snapshots.prev;
  s->prev->next = s;
  s->next->prev = s;
  pthread_mutex_unlock(&db->mu);
  if (db->ro) st_ro_snapshot_pin(db, s); /* read-only: keeps its state */
}

void st_db_snapshot_drop(strata_db *db, strata_snapshot *s) {
  pthread_mutex_lock(&db->mu);
  s->prev->next = s->next;
  s->next->prev = s->prev;
  pthread_mutex_unlock(&db->mu);
  if (db->ro) st_ro_snapshot_unpin(db, s); /* read-only */
}

/* ------------------------------------------------------------------------ */
/* Open and recovery                                                        */
/* ------------------------------------------------------------------------ */

/* Creates an empty database: MANIFEST-000001 and CURRENT. */
static int new_db(strata_db *db) {
  st_version_edit e;
  st_edit_init(&e);
  int rc = st_edit_set_comparator(&e, db->ucmp->name);
  st_edit_set_log_number(&e, 0);
  st_edit_set_next_file(&e, 2);
  st_edit_set_last_sequence(&e, 0);
  char *path = st_manifest_file_name(db->dbname, 1);
  if (!path) rc = st_err(STRATA_ENOMEM, "file name");
  st_buf rec = ST_BUF_INIT;
  if (!rc) rc = st_edit_encode(&e, &rec);
  st_edit_clear(&e);
  st_wfile *f = NULL;
  if (!rc) rc = db->env->new_wfile(db->env, path, &f);
  if (!rc) {
    st_log_writer *log = st_log_writer_new(f, 0);
    if (!log) {
      f->close(f);
      rc = st_err(STRATA_ENOMEM, "log writer");
    } else {
      rc = st_log_add_record(log, st_buf_slice(&rec));
      if (!rc) rc = st_log_sync(log);
      int crc = st_log_writer_close(log);
      if (!rc) rc = crc;
    }
  }
  if (!rc) rc = db->env->sync_dir(db->env, db->dbname);
  int renamed = 0; /* CURRENT may name MANIFEST-000001: it must stay */
  if (!rc) rc = st_set_current_file(db->env, db->dbname, 1, &renamed);
  if (rc && path && !renamed) {
    st_error saved;
    st_error_capture(&saved, rc);
    db->env->remove_file(db->env, path);
    st_error_raise(&saved);
  }
  st_buf_free(&rec);
  free(path);
  return rc;
}

typedef struct log_report {
  strata_db *db;
  const char *path;
  int rc; /* set when paranoid_checks makes damage fatal */
} log_report;

static void on_log_corruption(void *arg, uint64_t offset, size_t bytes, const char *reason) {
  log_report *r = arg;
  st_db_log(r->db, "%s: dropping %zu bytes at offset %llu: %s", r->path, bytes,
            (unsigned long long)offset, reason);
  if (r->db->opts.paranoid_checks && r->rc == 0)
    r->rc = st_err_corrupt("%s: %s at offset %llu (%zu bytes)", r->path, reason,
                           (unsigned long long)offset, bytes);
}

/* Replays log `number` into *mem, flushing to level-0 tables whenever the
 * memtable fills. REQUIRE: mu held. */
static int recover_log(strata_db *db, uint64_t number, st_version_edit *edit,
                       uint64_t *max_sequence, st_memtable **mem, int *flushed,
                       uint64_t *end_offset) {
  char *path = st_log_file_name(db->dbname, number);
  if (!path) return st_err(STRATA_ENOMEM, "file name");
  st_seqfile *file = NULL;
  int rc = db->env->new_seqfile(db->env, path, &file);
  if (rc) {
    free(path);
    return rc;
  }
  st_db_log(db, "recovering log #%llu", (unsigned long long)number);
  log_report rep = {db, path, 0};
  /* Checksums are always verified: a damaged record must not be applied. */
  st_log_reader *reader = st_log_reader_new(file, 1, on_log_corruption, &rep);
  if (!reader) rc = st_err(STRATA_ENOMEM, "log reader");
  strata_batch batch;
  if (!rc && st_batch_init(&batch)) rc = STRATA_ENOMEM;
  int have_batch = !rc;
  while (!rc) {
    st_slice record;
    int r = st_log_read_record(reader, &record);
    if (rep.rc) rc = rep.rc;
    if (r <= 0 || rc) {
      if (!rc) rc = r;
      break;
    }
    if (record.size < ST_BATCH_HEADER) {
      on_log_corruption(&rep, st_log_last_record_offset(reader), record.size,
                        "log record too small for a write batch");
      rc = rep.rc;
      continue;
    }
    rc = st_batch_set_contents(&batch, record);
    if (!rc && st_batch_get_count(&batch) > 0) {
      /* Sequence numbers rise from record to record (a record of an empty
       * batch takes none). One that does not -- a damaged or crafted log
       * -- would put a second entry under an existing internal key, or
       * hide a newer write: such a record is damage like any other. */
      uint64_t seq = st_batch_sequence(&batch), count = st_batch_get_count(&batch);
      if (seq <= *max_sequence || seq > ST_MAX_SEQUENCE - (count - 1)) {
        char why[128];
        if (seq <= *max_sequence)
          snprintf(why, sizeof why, "sequence number %llu not above the last one replayed (%llu)",
                   (unsigned long long)seq, (unsigned long long)*max_sequence);
        else
          snprintf(why, sizeof why, "sequence numbers %llu + %llu past the largest (2^56 - 1)",
                   (unsigned long long)seq, (unsigned long long)count);
        on_log_corruption(&rep, st_log_last_record_offset(reader), record.size, why);
        rc = rep.rc;
        continue;
      }
    }
    if (!rc && !*mem) {
      *mem = st_memtable_new(db->ucmp);
      if (!*mem) rc = st_err(STRATA_ENOMEM, "memtable");
    }
    if (!rc) {
      int r2 = st_batch_insert_into(&batch, *mem);
      if (r2 == STRATA_ECORRUPTION) {
        on_log_corruption(&rep, st_log_last_record_offset(reader), record.size,
                          "malformed write batch");
        rc = rep.rc;
        continue;
      }
      rc = r2;
    }
    if (rc) break;
    uint64_t last = st_batch_sequence(&batch) + st_batch_get_count(&batch) - 1;
    if (st_batch_get_count(&batch) && last > *max_sequence) *max_sequence = last;
    if (st_memtable_memory_usage(*mem) > db->opts.write_buffer_size) {
      rc = st_db_write_level0_table(db, *mem, edit, NULL);
      st_memtable_unref(*mem);
      *mem = NULL;
      *flushed = 1;
    }
  }
  if (reader) *end_offset = st_log_end_offset(reader);
  if (have_batch) st_batch_release(&batch);
  st_log_reader_free(reader);
  file->close(file);
  free(path);
  return rc;
}

/* With reuse_logs, reopens the last log for appending instead of starting
 * a new one -- but only if it ends in a whole record: appending after a
 * torn tail would make the next reader drop good records behind it. */
static int reuse_log(strata_db *db, uint64_t number, uint64_t end_offset) {
  char *path = st_log_file_name(db->dbname, number);
  if (!path) return st_err(STRATA_ENOMEM, "file name");
  uint64_t size = 0;
  int rc = db->env->file_size(db->env, path, &size);
  if (rc || size != end_offset) {
    free(path);
    st_err_clear();
    return 0; /* not reusable: a new log will be made */
  }
  st_wfile *f = NULL;
  rc = db->env->new_appendable(db->env, path, &f);
  free(path);
  if (rc) return rc;
  db->log = st_log_writer_new(f, size);
  if (!db->log) {
    f->close(f);
    return st_err(STRATA_ENOMEM, "log writer");
  }
  db->logfile_number = number;
  st_db_log(db, "reusing log #%llu (%llu bytes)", (unsigned long long)number,
            (unsigned long long)size);
  return 0;
}

/* Rebuilds the state at open: MANIFEST, then every log not yet flushed.
 * REQUIRE: mu held. */
static int recover(strata_db *db, st_version_edit *edit, st_memtable **reused_mem) {
  st_env *env = db->env;
  char *current = st_current_file_name(db->dbname);
  if (!current) return st_err(STRATA_ENOMEM, "file name");
  int exists = env->exists(env, current);
  int rc = 0;
  if (!exists) {
    if (db->opts.create_if_missing) {
      st_db_log(db, "creating new database");
      rc = new_db(db);
    } else {
      rc = st_err(STRATA_EINVAL, "%s: does not exist (create_if_missing is false)", current);
    }
  } else if (db->opts.error_if_exists) {
    rc = st_err(STRATA_EINVAL, "%s: exists (error_if_exists is true)", db->dbname);
  }
  free(current);
  if (rc) return rc;

  rc = st_vset_recover(&db->vs);
  if (rc) return rc;

  /* Every table the MANIFEST names must exist; logs newer than the
   * MANIFEST's log number hold writes not yet in a table. */
  st_numset expected = ST_NUMSET_INIT, logs = ST_NUMSET_INIT;
  st_vset_live_files(&db->vs, st_numset_add, &expected);
  char **names = NULL;
  size_t nnames = 0;
  rc = env->children(env, db->dbname, &names, &nnames);
  if (!rc && expected.oom) rc = st_err(STRATA_ENOMEM, "recovery");
  if (!rc) {
    st_numset_sort(&expected);
    uint8_t *seen = calloc(expected.n + 1, 1);
    if (!seen) rc = st_err(STRATA_ENOMEM, "recovery");
    for (size_t i = 0; !rc && i < nnames; i++) {
      uint64_t number;
      st_file_type type;
      if (!st_parse_file_name(names[i], &number, &type)) continue;
      st_vset_mark_file_number_used(&db->vs, number);
      if (type == ST_FILE_TABLE) {
        long hit = st_numset_index(&expected, number);
        if (hit >= 0) seen[hit] = 1;
      } else if (type == ST_FILE_LOG &&
                 (number >= db->vs.log_number || number == db->vs.prev_log_number)) {
        st_numset_add(&logs, number);
      }
    }
    for (size_t i = 0; !rc && i < expected.n; i++) {
      if (!seen[i]) {
        size_t missing = 0;
        for (size_t j = 0; j < expected.n; j++)
          missing += !seen[j];
        char *p = st_table_file_name(db->dbname, expected.v[i]);
        rc = st_err_corrupt("%zu table file(s) named by the MANIFEST are missing, e.g. %s", missing,
                            p ? p : "?");
        free(p);
      }
    }
    free(seen);
  }
  st_env_free_children(names, nnames);
  if (!rc && logs.oom) rc = st_err(STRATA_ENOMEM, "recovery");

  uint64_t max_sequence = 0;
  st_memtable *mem = NULL;
  if (!rc) {
    st_numset_sort(&logs);
    for (size_t i = 0; !rc && i < logs.n; i++) {
      int flushed = 0;
      uint64_t end = 0;
      rc = recover_log(db, logs.v[i], edit, &max_sequence, &mem, &flushed, &end);
      /* The MANIFEST may predate numbers this log used. */
      st_vset_mark_file_number_used(&db->vs, logs.v[i]);
      if (!rc && db->opts.reuse_logs && i + 1 == logs.n && !flushed)
        rc = reuse_log(db, logs.v[i], end);
      /* Each log's writes go to a table of their own before the next log:
       * only then may the last log be reused with just its memtable. */
      if (!rc && !db->log && mem && st_memtable_count(mem) > 0) {
        rc = st_db_write_level0_table(db, mem, edit, NULL);
        st_memtable_unref(mem);
        mem = NULL;
      }
    }
  }
  if (!rc && db->log) {
    /* Go on appending to the last log: its memtable stays live. */
    *reused_mem = mem;
    mem = NULL;
  }
  if (!rc && mem && st_memtable_count(mem) > 0) rc = st_db_write_level0_table(db, mem, edit, NULL);
  st_memtable_unref(mem);
  if (!rc && max_sequence > db->vs.last_sequence) db->vs.last_sequence = max_sequence;
  st_numset_free(&expected);
  st_numset_free(&logs);
  return rc;
}

static void db_free(strata_db *db) {
  st_subdb_join_cleanup(db);
  st_db_join_deleter(db);
  /* First: superversions hold references on versions of vs. */
  st_sv_registry_destroy(&db->svs);
  st_ro_free(db); /* read-only handles */
  st_memtable_unref(db->mem);
  st_memtable_unref(db->imm);
  st_log_writer_close(db->old_log);
  st_log_writer_close(db->log);
  if (db->vs.dbname) st_vset_destroy(&db->vs);
  st_table_cache_free(db->table_cache);
  strata_cache_destroy(db->own_cache);
  st_batch_release(&db->group);
  if (db->lock) db->env->unlock_file(db->env, db->lock);
  if (db->info_log) db->info_log->close(db->info_log);
  pthread_mutex_destroy(&db->info_log_mu);
  st_subdb_free_all(db);
  pthread_mutex_destroy(&db->subdb_mu);
  pthread_mutex_destroy(&db->txn_mu);
  pthread_cond_destroy(&db->txn_cv);
  pthread_mutex_destroy(&db->mu);
  pthread_cond_destroy(&db->bg_cv);
  pthread_cond_destroy(&db->work_cv);
  free(db->pending);
  free(db->dbname);
  free(db);
}

int strata_open(const char *path, const strata_options *opt, strata_db **dbp) {
  if (!path || !dbp) return st_err(STRATA_EMISUSE, "strata_open: NULL %s", path ? "dbp" : "path");
  *dbp = NULL;
  strata_options defaults;
  strata_options_init(&defaults);
  if (!opt) opt = &defaults;
  if (opt->compression < STRATA_COMPRESSION_NONE || opt->compression > STRATA_COMPRESSION_ZSTD)
    return st_err(STRATA_EINVAL, "unknown compression type %d", opt->compression);

  /* Aligned as declared: fields on cache lines of their own must start
   * on one (calloc only promises 16 bytes). */
  strata_db *db = aligned_alloc(_Alignof(strata_db), sizeof *db);
  if (!db) return st_err(STRATA_ENOMEM, "strata_open");
  memset(db, 0, sizeof *db);
  db->dbname = strdup(path);
  db->env = opt->env ? opt->env : st_env_posix();
  db->opts = *opt;
  sanitize(&db->opts);
  db->ucmp = st_comparator_of(opt->comparator);
  pthread_mutex_init(&db->mu, NULL);
  st_sv_registry_init(&db->svs, &db->mu);
  pthread_mutex_init(&db->info_log_mu, NULL);
  pthread_cond_init(&db->bg_cv, NULL);
  pthread_cond_init(&db->work_cv, NULL);
  pthread_mutex_init(&db->txn_mu, NULL);
  pthread_cond_init(&db->txn_cv, NULL);
  pthread_mutex_init(&db->subdb_mu, NULL);
  db->next_subdb_id = 1;
  db->snapshots.next = db->snapshots.prev = &db->snapshots;
  int rc = db->dbname ? st_batch_init(&db->group) : st_err(STRATA_ENOMEM, "strata_open");
  if (rc) {
    st_batch_init(&db->group); /* so db_free can release it */
    db_free(db);
    return rc;
  }

  st_env *env = db->env;
  /* A regular file where the directory should be is a clear user error. */
  if (env->exists(env, path) && !env->is_dir(env, path)) {
    rc = st_err(STRATA_EINVAL, "%s: exists and is not a directory", path);
  } else if (!env->exists(env, path) && !db->opts.read_only) {
    if (!db->opts.create_if_missing)
      rc = st_err(STRATA_EINVAL, "%s: does not exist (create_if_missing is false)", path);
    else
      rc = env->create_dir(env, path);
  }
  char *lockname = rc ? NULL : st_lock_file_name(path);
  if (!rc && !lockname) rc = st_err(STRATA_ENOMEM, "strata_open");
  if (!rc && !db->opts.read_only) rc = env->lock_file(env, lockname, &db->lock);
  free(lockname);
  if (rc) {
    db_free(db);
    return rc;
  }
  open_info_log(db);
  st_db_log(db, "opening %s", path);

  if (opt->block_cache) {
    db->block_cache = opt->block_cache->cache;
  } else if (strata_cache_create_lru(8 << 20, &db->own_cache) == 0) {
    db->block_cache = db->own_cache->cache;
  }
  db->topt.ucmp = db->ucmp;
  db->topt.block_size = db->opts.block_size;
  db->topt.restart_interval = db->opts.block_restart_interval;
  db->topt.compression = db->opts.compression;
  db->topt.paranoid_checks = db->opts.paranoid_checks;
  db->topt.block_cache = db->block_cache;
  db->topt.zstd_level = db->opts.zstd_level;
  db->topt.filter_policy = db->opts.filter_policy;
  /* Keep some descriptors for logs, the MANIFEST and the info log. */
  db->table_cache = st_table_cache_new(env, path, &db->topt,
                                       db->opts.read_only ? ST_RO_TABLE_CACHE_ENTRIES
                                                          : db->opts.max_open_files - 10);
  if (!db->block_cache || !db->table_cache) rc = st_err(STRATA_ENOMEM, "strata_open");
  if (!rc)
    rc = st_vset_init(&db->vs, env, path, db->ucmp, db->opts.max_file_size,
                      db->opts.paranoid_checks, db->table_cache);
  if (!rc && db->opts.read_only) {
    /* read-only: no recovery, no log, no thread (db_readonly.c) */
    rc = st_ro_open(db);
    if (!rc) *dbp = db;
  }
  if (rc || db->opts.read_only) {
    if (rc) db_free(db);
    return rc;
  }

  st_version_edit edit;
  st_edit_init(&edit);
  pthread_mutex_lock(&db->mu);
  st_memtable *reused_mem = NULL;
  rc = recover(db, &edit, &reused_mem);
  if (!rc && db->log) {
    /* reuse_logs: the last log stays the live one, with its memtable. */
    db->mem = reused_mem;
    st_edit_set_log_number(&edit, db->logfile_number);
    st_edit_set_prev_log_number(&edit, 0);
    rc = st_vset_log_and_apply(&db->vs, &edit, &db->mu);
  } else if (!rc) {
    /* A fresh log for new writes; the recovered ones become obsolete once
     * the edit naming the new log is in the MANIFEST. */
    uint64_t number = st_vset_new_file_number(&db->vs);
    char *logname = st_log_file_name(path, number);
    st_wfile *f = NULL;
    rc = logname ? env->new_wfile(env, logname, &f) : st_err(STRATA_ENOMEM, "file name");
    free(logname);
    if (!rc) {
      db->log = st_log_writer_new(f, 0);
      if (!db->log) {
        f->close(f);
        rc = st_err(STRATA_ENOMEM, "log writer");
      }
    }
    if (!rc) {
      db->logfile_number = number;
      st_edit_set_log_number(&edit, number);
      st_edit_set_prev_log_number(&edit, 0);
      rc = st_vset_log_and_apply(&db->vs, &edit, &db->mu);
    }
  }
  if (!rc && !db->mem) {
    db->mem = st_memtable_new(db->ucmp);
    if (!db->mem)
      rc = st_err(STRATA_ENOMEM, "memtable");
    else /* recovery is over: every write from now on goes here */
      st_memtable_set_first_sequence(db->mem, db->vs.last_sequence + 1);
  }
  st_superversion *sv = NULL;
  if (!rc) {
    sv = st_sv_new();
    if (!sv) rc = st_err(STRATA_ENOMEM, "superversion");
  }
  if (!rc) {
    /* The edits above changed vs.current before any reader could run:
     * the first superversion is installed here. */
    st_db_install_sv(db, sv);
    atomic_store(&db->visible_sequence, db->vs.last_sequence);
    st_db_delete_obsolete_files(db);
  }
  if (!rc) rc = env->thread_create(env, st_db_bg_thread, db, &db->bg_thread);
  if (!rc) st_db_maybe_schedule(db);
  pthread_mutex_unlock(&db->mu);
  st_edit_clear(&edit);
  if (rc) {
    st_error saved;
    st_error_capture(&saved, rc);
    st_db_log(db, "open failed: %s", saved.msg);
    db_free(db);
    return st_error_raise(&saved);
  }
  /* The sub-database catalog, read through the database itself. */
  rc = st_subdb_load(db);
  if (rc) {
    st_error saved;
    st_error_capture(&saved, rc);
    st_db_log(db, "open failed: %s", saved.msg);
    strata_close(db);
    return st_error_raise(&saved);
  }
  st_db_log(db, "opened; last sequence %llu, log #%llu", (unsigned long long)db->vs.last_sequence,
            (unsigned long long)db->logfile_number);
  *dbp = db;
  return 0;
}

void strata_close(strata_db *db) {
  if (!db) return;
  pthread_mutex_lock(&db->mu);
  db->shutting_down = 1;
  pthread_cond_broadcast(&db->work_cv);
  pthread_mutex_unlock(&db->mu);
  if (db->bg_thread) db->env->thread_join(db->env, db->bg_thread);
  st_db_log(db, "closed");
  db_free(db);
}
