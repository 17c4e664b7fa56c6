/*
 * db_readonly.c - read-only handles (strata_options.read_only) and
 * strata_catch_up(): a process reads a database that another process,
 * Strata or LevelDB, has open for writing, without the LOCK and without
 * creating, writing, renaming or deleting any file, and follows the
 * writer's changes on request.
 *
 * What a handle holds
 *   - The version (the tables) built from the MANIFEST that CURRENT names,
 *     read up to manifest_offset, the end of its last whole record.
 *   - One memtable per live write-ahead log -- a log numbered at or above
 *     the MANIFEST's log number, or equal to its previous log number --
 *     holding that log's records up to its offset, the end of the last
 *     whole record read. Nothing is ever flushed: memtables grow past
 *     write_buffer_size, and go when the writer's MANIFEST says their log
 *     is in a table.
 *   - Every table of every version it may still read, opened in its table
 *     cache, which is made too large ever to evict one: the writer deletes
 *     files at will, and an open table (a mapping or a descriptor) stays
 *     readable after its file is unlinked. Tables no version uses any more
 *     are closed at a later catch-up.
 *   - The installed superversion {mem, imm, version, sequence}: readers use
 *     it as on any handle (superversion.h), with the sequence number stored
 *     in it rather than the database's visible sequence, so a reader always
 *     pairs a version with the sequence it was gathered at.
 *
 * What every writer does (LevelDB 1.23's DBImpl and Strata's db.c and
 * db_compact.c alike); the protocol rests on these facts:
 *   W1. A write is appended to the newest log before it is visible or
 *       acknowledged, with sequence numbers above every earlier write's.
 *       Only the newest log is ever appended to.
 *   W2. A log switch creates a log numbered above every existing file and
 *       appends only there from then on: the older logs are complete.
 *   W3. A flush writes a table from one log's records, then appends one
 *       MANIFEST edit that adds the table and raises the log number past
 *       that log. Compactions append edits that add and delete tables and
 *       keep every entry a reader at the writer's latest sequence can see.
 *       An edit's last sequence is that of writes already in a log (W1).
 *   W4. A log or table is deleted only after a MANIFEST edit that makes it
 *       obsolete is complete (written and synced); an old MANIFEST only
 *       after CURRENT names its successor.
 *   W5. CURRENT is replaced by a rename: it names the old MANIFEST or the
 *       new one, never a torn name. A new MANIFEST holds its first edits
 *       whole before CURRENT names it; after that it is only appended to.
 *   W6. A record being appended (to a log or a MANIFEST) can be seen cut
 *       short at the end of the file; the log format tells a cut record
 *       from a whole one (log_reader.c), so a reader stops in front of it
 *       and reads it whole next time (st_log_reader_start_at).
 *
 * A catch-up makes attempts, each of five steps:
 *   A1. Read CURRENT. If it names the MANIFEST read so far, read the
 *       records appended after manifest_offset (a stat first: an unchanged
 *       size costs no open); if another, read the new one whole into a
 *       fresh version. Apply what was read to the version.
 *   A2. If the version changed, open every table of it not yet open.
 *   A3. List the directory: add the live logs not yet known.
 *   A4. Replay each live log, oldest first, from its offset to its last
 *       whole record (a stat first: an unchanged size costs no open).
 *   A5. Read CURRENT and the MANIFEST again, as A1. If they hold nothing
 *       new the attempt stands; if they do, it is applied and the attempt
 *       is made again (only what changed since is read). When A1-A4 found
 *       nothing new at all, A5 is skipped: every live log was listed and
 *       none had grown, so the state held is the writer's as of A1.
 * then installs the result in one step (ro_install_state): drop the
 * memtables of logs that are no longer live, choose mem and imm, and
 * install {mem, imm, version, sequence} for readers. A catch-up that
 * found nothing new installs nothing.
 *
 * Why an installed state is one the writer passed through
 *   - A5 found the MANIFEST as A1 left it, so no log it calls live was
 *     deleted before A5 (W4): A3's listing held every live log, and A4
 *     read each whole up to the moment it read it (W6).
 *   - Logs are read oldest first, and a log older than another already
 *     listed was complete (W2): what was read is every record up to some
 *     point of the write history (W1), a prefix with no hole.
 *   - The MANIFEST's tables plus every record of its live logs is the
 *     database (W3). The installed sequence is the larger of the
 *     MANIFEST's last sequence and the last record read; every entry at or
 *     below it is in the state, and records appended later to a shared
 *     memtable are above it, so readers of an older state never see them.
 *
 * Races with the writer, and what follows
 *   - CURRENT names a MANIFEST that is gone when opened (the writer
 *     reopened and replaced it, W4), a table of the version is gone at A2,
 *     or a live log at A3 or A4 (a later edit made it obsolete, W4): the
 *     attempt is made again, and its A1 reads the change, which is already
 *     complete. If A1 then finds nothing new, the file is really missing
 *     and the catch-up fails with STRATA_ECORRUPTION naming it.
 *   - Reads never open a table: every table of an installed version was
 *     opened at A2, before the install, so a read cannot meet a vanished
 *     table, and tables stay open while any version names them.
 *   - A writer that changes the MANIFEST again during every one of
 *     MAX_ATTEMPTS attempts in a row makes the catch-up give up with
 *     STRATA_EBUSY; each attempt reads only what changed since the one
 *     before, so this needs a writer editing faster than a few logs'
 *     records can be read. The handle keeps its previous state.
 *   - A failed catch-up installs nothing: readers keep the previous state.
 *     What it read (edits, log records above the installed sequence) is
 *     kept and the next catch-up goes on from there.
 *
 * Views kept: iterators keep their superversion; so do snapshots, which
 * on a read-only handle pin one (strata_snapshot.sv) instead of being only
 * a sequence number: the writer compacts away old entries that no
 * snapshot of its own needs, so an old sequence read in a newer version
 * could miss them.
 *
 * mem and imm: a superversion has two memtables. With one or two live
 * logs holding records, mem is the newest one's and imm the other's.
 * Three or more happen only when a writer died with two logs live and the
 * next one has not finished opening; then imm is a copy of all but the
 * newest, which are complete (W2), rebuilt when their set changes.
 *
 * Not followed: a database destroyed and created again under an open
 * handle (a log or MANIFEST shorter than what was read is reported as
 * STRATA_ECORRUPTION), and file systems without POSIX's guarantee that a
 * read never sees bytes past what a write has copied (W6; local Linux
 * file systems and tmpfs give it).
 *
 * Locking: ro->mu serialises catch-ups and guards struct st_readonly;
 * db->mu is taken inside it (ro->mu first) to change the version and to
 * install. Readers take neither.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/db_impl.h"
#include "db/subdb.h"
#include "db/filename.h"
#include "db/log_reader.h"
#include "util/internal_key.h"
#include "util/numset.h"

/* Attempts in a row that may lose a race before a catch-up gives up. */
#define MAX_ATTEMPTS 100

/* An attempt lost a race with the writer: make another. */
#define RO_RETRY 1

typedef struct ro_log {
  uint64_t number;
  uint64_t offset;  /* end of the last whole record replayed */
  st_memtable *mem; /* its records; NULL while it has none */
  int listed;       /* seen by the last directory listing */
} ro_log;

typedef struct st_readonly {
  pthread_mutex_t mu; /* serialises catch-ups; guards what follows */
  /* The MANIFEST as read so far. */
  uint64_t manifest_number; /* 0: none yet */
  uint64_t manifest_offset; /* end of its last whole record */
  uint64_t log_number, prev_log_number, last_sequence;
  /* Live logs (and, until the next install, logs no longer live), by
   * number ascending. */
  ro_log *logs;
  size_t nlogs, cap_logs;
  uint64_t max_sequence;       /* largest sequence number replayed */
  uint64_t installed_sequence; /* that of the installed superversion */
  int changed;                 /* something new since the last install */
  uint64_t news;               /* counts what attempts found new (A1, A3, A4) */
  int version_changed;         /* the version changed since then */
  st_numset opened;            /* tables opened into the table cache, sorted */
  st_memtable *empty;          /* mem while no log has records */
  st_memtable *merged;         /* imm built from three or more logs, or NULL */
  uint64_t *merged_key;        /* its logs' numbers and entry counts */
  size_t merged_nkey;
  /* A file an attempt found missing; an attempt whose A1 then finds
   * nothing new reports it. */
  int missing;
  st_error missing_err;
} st_readonly;

/* ------------------------------------------------------------------------ */
/* Small helpers                                                            */
/* ------------------------------------------------------------------------ */

static int is_live_log(const st_readonly *ro, uint64_t number) {
  return number >= ro->log_number || (ro->prev_log_number != 0 && number == ro->prev_log_number);
}

/* Records that a file the state needs was not found (the thread's message
 * names it) and returns RO_RETRY. The next attempt reports it as damage if
 * no change of the MANIFEST explains it. */
static int lost_race(st_readonly *ro) {
  char msg[ST_ERRMSG_MAX];
  const char *m = st_errmsg(), *colon = strchr(m, ':');
  snprintf(msg, sizeof msg, "%s", colon ? colon + 2 : m);
  st_err_corrupt("%s (named by the MANIFEST, yet missing)", msg);
  st_error_capture(&ro->missing_err, STRATA_ECORRUPTION);
  ro->missing = 1;
  return RO_RETRY;
}

/* Reads CURRENT's MANIFEST number into *number. STRATA_ENOTFOUND when
 * CURRENT is absent. */
static int read_current(strata_db *db, uint64_t *number) {
  char *path = st_current_file_name(db->dbname);
  if (!path) return st_err(STRATA_ENOMEM, "file name");
  st_buf cur = ST_BUF_INIT;
  int rc = st_env_read_file(db->env, path, &cur);
  if (!rc && (cur.size == 0 || cur.data[cur.size - 1] != '\n'))
    rc = st_err_corrupt("%s: does not end with a newline", path);
  st_file_type type;
  if (!rc) {
    cur.data[cur.size - 1] = '\0';
    if (memchr(cur.data, '\0', cur.size - 1) || !st_parse_file_name(cur.data, number, &type) ||
        type != ST_FILE_MANIFEST)
      rc = st_err_corrupt("%s: does not name a MANIFEST file", path);
  }
  st_buf_free(&cur);
  free(path);
  return rc;
}

/* ------------------------------------------------------------------------ */
/* A1 and A5: the MANIFEST                                                  */
/* ------------------------------------------------------------------------ */

typedef struct manifest_read {
  const char *path;
  int rc; /* first damage met */
} manifest_read;

static void on_manifest_damage(void *arg, uint64_t offset, size_t bytes, const char *reason) {
  manifest_read *m = arg;
  if (m->rc == 0)
    m->rc = st_err_corrupt("%s: %s at offset %llu (%zu bytes)", m->path, reason,
                           (unsigned long long)offset, bytes);
}

/* Reads the whole records of the MANIFEST at path from offset on into
 * *edits (*n of them, grown as needed) and the offset past the last one
 * into *end. STRATA_ENOTFOUND when the file is absent. */
static int read_edits(strata_db *db, const char *path, uint64_t offset, st_version_edit ***edits,
                      size_t *n, uint64_t *end) {
  st_seqfile *file = NULL;
  int rc = db->env->new_seqfile(db->env, path, &file);
  if (rc) return rc;
  manifest_read m = {path, 0};
  st_log_reader *r = st_log_reader_new(file, 1, on_manifest_damage, &m);
  rc = r ? st_log_reader_start_at(r, offset) : STRATA_ENOMEM;
  size_t cap = 0;
  while (!rc) {
    st_slice rec;
    int got = st_log_read_record(r, &rec);
    if (m.rc || got <= 0) {
      rc = m.rc ? m.rc : got;
      break;
    }
    if (*n == cap) {
      size_t c = cap ? cap * 2 : 8;
      st_version_edit **v = realloc(*edits, c * sizeof *v);
      if (!v) {
        rc = st_err(STRATA_ENOMEM, "manifest edits");
        break;
      }
      *edits = v;
      cap = c;
    }
    st_version_edit *e = malloc(sizeof *e);
    if (!e) {
      rc = st_err(STRATA_ENOMEM, "manifest edit");
      break;
    }
    st_edit_init(e);
    rc = st_edit_decode(e, rec);
    if (rc) {
      char msg[ST_ERRMSG_MAX];
      snprintf(msg, sizeof msg, "%s", st_errmsg());
      rc = st_err_corrupt("%s: %s", path, strchr(msg, ':') ? strchr(msg, ':') + 2 : msg);
    } else if (e->comparator && strcmp(e->comparator, db->ucmp->name) != 0) {
      rc = st_err(STRATA_EINVAL, "%s does not match existing comparator : %s", e->comparator,
                  db->ucmp->name);
    }
    (*edits)[(*n)++] = e;
  }
  if (r) *end = st_log_end_offset(r);
  st_log_reader_free(r);
  file->close(file);
  return rc;
}

static void free_edits(st_version_edit **edits, size_t n) {
  for (size_t i = 0; i < n; i++) {
    st_edit_clear(edits[i]);
    free(edits[i]);
  }
  free(edits);
}

/* A1/A5: brings the version up to date with the MANIFEST CURRENT names.
 * *changed is set when something new was read. Returns 0, RO_RETRY (the
 * MANIFEST named is gone) or an error. REQUIRE: ro->mu held. */
static int sync_manifest(strata_db *db, int *changed) {
  st_readonly *ro = db->ro;
  st_env *env = db->env;
  *changed = 0;
  uint64_t number = 0;
  int rc = read_current(db, &number);
  if (rc == STRATA_ENOTFOUND)
    return st_err_corrupt("%s/CURRENT: missing (the database was destroyed?)", db->dbname);
  if (rc) return rc;
  int fresh = number != ro->manifest_number;
  uint64_t offset = fresh ? 0 : ro->manifest_offset;
  char *path = st_manifest_file_name(db->dbname, number);
  if (!path) return st_err(STRATA_ENOMEM, "file name");
  if (!fresh) {
    /* The common case, nothing new: one stat. */
    uint64_t size = 0;
    rc = env->file_size(env, path, &size);
    if (!rc && size == offset) {
      free(path);
      return 0;
    }
    if (!rc && size < offset)
      rc = st_err_corrupt("%s: shorter (%llu bytes) than what was read of it (%llu)", path,
                          (unsigned long long)size, (unsigned long long)offset);
  }
  st_version_edit **edits = NULL;
  size_t n = 0;
  uint64_t end = offset;
  if (!rc) rc = read_edits(db, path, offset, &edits, &n, &end);
  if (rc == STRATA_ENOTFOUND) {
    /* Gone: the writer replaced it, and CURRENT has moved on (W4) -- or,
     * if CURRENT still names it, it is really missing. */
    uint64_t again = 0;
    rc = read_current(db, &again);
    if (!rc && again == number) rc = st_err_corrupt("%s: named by CURRENT but missing", path);
    if (!rc) rc = RO_RETRY;
  }
  uint64_t log_number = ro->log_number, prev_log = ro->prev_log_number;
  uint64_t last_seq = ro->last_sequence;
  if (!rc && fresh) {
    int have_log = 0, have_next = 0, have_seq = 0;
    prev_log = 0;
    for (size_t i = 0; i < n; i++) {
      have_log |= edits[i]->has_log_number;
      have_next |= edits[i]->has_next_file;
      have_seq |= edits[i]->has_last_sequence;
    }
    if (!have_next) rc = st_err_corrupt("%s: no next-file-number entry", path);
    if (!rc && !have_log) rc = st_err_corrupt("%s: no log-number entry", path);
    if (!rc && !have_seq) rc = st_err_corrupt("%s: no last-sequence entry", path);
  }
  for (size_t i = 0; !rc && i < n; i++) {
    if (edits[i]->has_log_number) log_number = edits[i]->log_number;
    if (edits[i]->has_prev_log_number) prev_log = edits[i]->prev_log_number;
    if (edits[i]->has_last_sequence) last_seq = edits[i]->last_sequence;
  }
  if (!rc && (n > 0 || fresh)) {
    pthread_mutex_lock(&db->mu);
    rc = st_vset_apply_edits(&db->vs, edits, n, fresh);
    pthread_mutex_unlock(&db->mu);
    if (!rc) {
      ro->log_number = log_number;
      ro->prev_log_number = prev_log;
      if (fresh || last_seq > ro->last_sequence) ro->last_sequence = last_seq;
      ro->manifest_number = number;
      ro->version_changed = ro->changed = *changed = 1;
      ro->news++;
    }
  }
  if (!rc) ro->manifest_offset = end; /* past a cut record nothing moves */
  free_edits(edits, n);
  free(path);
  return rc;
}

/* ------------------------------------------------------------------------ */
/* A2: tables                                                               */
/* ------------------------------------------------------------------------ */

typedef struct table_ref {
  uint64_t number, size;
} table_ref;

/* Opens every table of the current version not opened yet. Returns 0,
 * RO_RETRY (one is gone) or an error. REQUIRE: ro->mu held. */
static int open_tables(strata_db *db) {
  st_readonly *ro = db->ro;
  table_ref *todo = NULL;
  size_t n = 0, cap = 0;
  int rc = 0;
  pthread_mutex_lock(&db->mu);
  st_version *v = db->vs.current;
  for (int l = 0; !rc && l < ST_NUM_LEVELS; l++) {
    for (int i = 0; !rc && i < v->nfiles[l]; i++) {
      st_file_meta *f = v->files[l][i];
      if (st_numset_has(&ro->opened, f->number)) continue;
      if (n == cap) {
        size_t c = cap ? cap * 2 : 16;
        table_ref *t = realloc(todo, c * sizeof *t);
        if (!t) {
          rc = st_err(STRATA_ENOMEM, "tables to open");
          break;
        }
        todo = t;
        cap = c;
      }
      todo[n++] = (table_ref){f->number, f->file_size};
    }
  }
  pthread_mutex_unlock(&db->mu);
  size_t done = 0;
  for (; !rc && done < n; done++) {
    rc = st_table_cache_open(db->table_cache, todo[done].number, todo[done].size);
    if (!rc) st_numset_add(&ro->opened, todo[done].number);
  }
  if (rc == STRATA_ENOTFOUND) rc = lost_race(ro); /* deleted by a later edit (W4) */
  if (ro->opened.oom && !rc) rc = st_err(STRATA_ENOMEM, "opened tables");
  st_numset_sort(&ro->opened);
  free(todo);
  return rc;
}

/* Closes tables no live version names (after an install). REQUIRE: ro->mu
 * held. */
static void close_unused_tables(strata_db *db) {
  st_readonly *ro = db->ro;
  st_numset live = ST_NUMSET_INIT;
  pthread_mutex_lock(&db->mu);
  st_vset_live_files(&db->vs, st_numset_add, &live);
  pthread_mutex_unlock(&db->mu);
  if (live.oom) {
    st_numset_free(&live); /* keep them all open: only memory is lost */
    return;
  }
  st_numset_sort(&live);
  size_t kept = 0;
  for (size_t i = 0; i < ro->opened.n; i++) {
    uint64_t number = ro->opened.v[i];
    if (st_numset_has(&live, number))
      ro->opened.v[kept++] = number;
    else
      st_table_cache_evict(db->table_cache, number);
  }
  ro->opened.n = kept;
  st_numset_free(&live);
}

/* ------------------------------------------------------------------------ */
/* A3 and A4: logs                                                          */
/* ------------------------------------------------------------------------ */

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

/* A3: adds every live log of the directory not known yet. Returns 0,
 * RO_RETRY (a live log is gone) or an error. REQUIRE: ro->mu held. */
static int list_logs(strata_db *db) {
  st_readonly *ro = db->ro;
  char **names = NULL;
  size_t nnames = 0;
  int rc = db->env->children(db->env, db->dbname, &names, &nnames);
  if (rc) return rc;
  uint64_t *found = malloc((nnames ? nnames : 1) * sizeof *found);
  size_t nfound = 0;
  if (!found) rc = st_err(STRATA_ENOMEM, "log list");
  for (size_t i = 0; !rc && i < nnames; i++) {
    uint64_t number;
    st_file_type type;
    if (st_parse_file_name(names[i], &number, &type) && type == ST_FILE_LOG &&
        is_live_log(ro, number))
      found[nfound++] = number;
  }
  st_env_free_children(names, nnames);
  if (rc) return rc;
  qsort(found, nfound, sizeof *found, cmp_u64);
  for (size_t i = 0; i < ro->nlogs; i++)
    ro->logs[i].listed = 0;
  for (size_t i = 0; !rc && i < nfound; i++) {
    size_t j = 0;
    while (j < ro->nlogs && ro->logs[j].number < found[i])
      j++;
    if (j < ro->nlogs && ro->logs[j].number == found[i]) {
      ro->logs[j].listed = 1;
      continue;
    }
    if (ro->nlogs == ro->cap_logs) {
      size_t c = ro->cap_logs ? ro->cap_logs * 2 : 4;
      ro_log *v = realloc(ro->logs, c * sizeof *v);
      if (!v) {
        rc = st_err(STRATA_ENOMEM, "log list");
        break;
      }
      ro->logs = v;
      ro->cap_logs = c;
    }
    memmove(&ro->logs[j + 1], &ro->logs[j], (ro->nlogs - j) * sizeof *ro->logs);
    ro->logs[j] = (ro_log){found[i], 0, NULL, 1};
    ro->nlogs++;
    ro->news++;
  }
  free(found);
  for (size_t i = 0; !rc && i < ro->nlogs; i++) {
    if (!ro->logs[i].listed && is_live_log(ro, ro->logs[i].number)) {
      /* Made obsolete by an edit A1 has not read yet (W4). */
      char *p = st_log_file_name(db->dbname, ro->logs[i].number);
      st_err(STRATA_ENOTFOUND, "%s: live log is gone", p ? p : "log");
      rc = lost_race(ro);
      free(p);
    }
  }
  return rc;
}

typedef struct log_read {
  strata_db *db;
  const char *path;
  int rc; /* set when paranoid_checks makes damage fatal */
} log_read;

static void on_log_damage(void *arg, uint64_t offset, size_t bytes, const char *reason) {
  log_read *r = arg;
  st_db_log(r->db, "%s: dropping %zu bytes at offset %llu: %s", r->path, bytes,
            (unsigned long long)offset, reason);
  if (r->db->opts.paranoid_checks && r->rc == 0)
    r->rc = st_err_corrupt("%s: %s at offset %llu (%zu bytes)", r->path, reason,
                           (unsigned long long)offset, bytes);
}

/* A4 for one log: replays its whole records after lg->offset into lg->mem.
 * Returns 0, RO_RETRY (the log is gone) or an error. */
static int replay_log(strata_db *db, ro_log *lg) {
  st_readonly *ro = db->ro;
  char *path = st_log_file_name(db->dbname, lg->number);
  if (!path) return st_err(STRATA_ENOMEM, "file name");
  uint64_t size = 0;
  int rc = db->env->file_size(db->env, path, &size);
  if (!rc && size == lg->offset) {
    free(path);
    return 0; /* nothing appended: one stat */
  }
  if (!rc && size < lg->offset)
    rc = st_err_corrupt("%s: shorter (%llu bytes) than what was read of it (%llu)", path,
                        (unsigned long long)size, (unsigned long long)lg->offset);
  st_seqfile *file = NULL;
  if (!rc) rc = db->env->new_seqfile(db->env, path, &file);
  if (rc == STRATA_ENOTFOUND) {
    free(path);
    return lost_race(ro);
  }
  log_read rep = {db, path, 0};
  st_log_reader *r = NULL;
  if (!rc) {
    r = st_log_reader_new(file, 1, on_log_damage, &rep);
    rc = r ? st_log_reader_start_at(r, lg->offset) : STRATA_ENOMEM;
  }
  strata_batch batch;
  int have_batch = 0;
  if (!rc) {
    rc = st_batch_init(&batch);
    have_batch = !rc;
  }
  while (!rc) {
    st_slice rec;
    int got = st_log_read_record(r, &rec);
    if (rep.rc || got <= 0) {
      rc = rep.rc ? rep.rc : got;
      break;
    }
    if (rec.size < ST_BATCH_HEADER) {
      on_log_damage(&rep, st_log_last_record_offset(r), rec.size,
                    "log record too small for a write batch");
      rc = rep.rc;
    } else if (!(rc = st_batch_set_contents(&batch, rec))) {
      if (!lg->mem && !(lg->mem = st_memtable_new(db->ucmp)))
        rc = st_err(STRATA_ENOMEM, "memtable");
      /* A malformed batch is found before anything is inserted. */
      if (!rc) rc = st_batch_insert_into(&batch, lg->mem);
      if (rc == STRATA_ECORRUPTION) {
        on_log_damage(&rep, st_log_last_record_offset(r), rec.size, "malformed write batch");
        rc = rep.rc;
        if (!rc) {
          lg->offset = st_log_end_offset(r);
          continue;
        }
      } else if (rc) {
        /* Part of the batch may be in the memtable: start this log again
         * in a new one next time (readers of the installed state do not see
         * these entries: they are above its sequence). */
        st_memtable_unref(lg->mem);
        lg->mem = NULL;
        lg->offset = 0;
        ro->changed = 1;
        break;
      }
      uint32_t count = st_batch_get_count(&batch);
      uint64_t last = st_batch_sequence(&batch) + count - 1;
      if (count && last > ro->max_sequence) ro->max_sequence = last;
      ro->changed = 1;
    }
    if (!rc) lg->offset = st_log_end_offset(r);
  }
  ro->news++; /* the log grew (a record cut short counts: A5 decides) */
  if (have_batch) st_batch_release(&batch);
  st_log_reader_free(r);
  if (file) file->close(file);
  free(path);
  return rc;
}

/* ------------------------------------------------------------------------ */
/* Install                                                                  */
/* ------------------------------------------------------------------------ */

/* Copies every entry of the memtables src[0..n) into a new memtable *out. */
static int merge_memtables(strata_db *db, st_memtable *const *src, size_t n, st_memtable **out) {
  st_memtable *m = st_memtable_new(db->ucmp);
  int rc = m ? 0 : st_err(STRATA_ENOMEM, "memtable");
  for (size_t i = 0; !rc && i < n; i++) {
    st_iter *it = st_memtable_iter(src[i]);
    if (!it) {
      rc = st_err(STRATA_ENOMEM, "memtable iterator");
      break;
    }
    for (st_iter_seek_to_first(it); !rc && st_iter_valid(it); st_iter_next(it)) {
      st_parsed_ikey pk;
      if (!st_ikey_parse(st_iter_key(it), &pk)) {
        rc = st_err_corrupt("memtable holds a malformed internal key");
        break;
      }
      rc = st_memtable_add(m, pk.sequence, pk.type, pk.user_key, st_iter_value(it));
    }
    st_iter_destroy(it);
  }
  if (rc) {
    st_memtable_unref(m);
    return rc;
  }
  *out = m;
  return 0;
}

/* Chooses the two memtables of the state: *mem (never NULL) and *imm (may
 * be NULL), borrowed from ro. REQUIRE: ro->mu held; the logs that are no
 * longer live already dropped. */
static int choose_memtables(strata_db *db, st_memtable **mem, st_memtable **imm) {
  st_readonly *ro = db->ro;
  st_memtable *stackv[8], **full = stackv;
  if (ro->nlogs > 8 && !(full = malloc(ro->nlogs * sizeof *full)))
    return st_err(STRATA_ENOMEM, "memtables");
  size_t n = 0;
  uint64_t keyv[16], *key = keyv;
  for (size_t i = 0; i < ro->nlogs; i++)
    if (ro->logs[i].mem && st_memtable_count(ro->logs[i].mem) > 0) full[n++] = ro->logs[i].mem;
  int rc = 0;
  *mem = n ? full[n - 1] : ro->empty;
  *imm = n == 2 ? full[0] : NULL;
  if (n > 2) {
    /* Every log but the newest is complete (W2): one copy serves until the
     * set of logs changes. */
    size_t nkey = 0;
    if (2 * (n - 1) > 16 && !(key = malloc(2 * (n - 1) * sizeof *key)))
      rc = st_err(STRATA_ENOMEM, "memtables");
    for (size_t i = 0, j = 0; !rc && i < ro->nlogs && j + 1 < n; i++) {
      if (ro->logs[i].mem != full[j]) continue;
      key[nkey++] = ro->logs[i].number;
      key[nkey++] = st_memtable_count(full[j++]);
    }
    if (!rc && (!ro->merged || ro->merged_nkey != nkey ||
                memcmp(ro->merged_key, key, nkey * sizeof *key) != 0)) {
      st_memtable *m = NULL;
      uint64_t *k = malloc(nkey * sizeof *k);
      rc = k ? merge_memtables(db, full, n - 1, &m) : st_err(STRATA_ENOMEM, "memtables");
      if (rc) {
        free(k);
      } else {
        memcpy(k, key, nkey * sizeof *k);
        st_memtable_unref(ro->merged);
        free(ro->merged_key);
        ro->merged = m;
        ro->merged_key = k;
        ro->merged_nkey = nkey;
      }
    }
    *imm = ro->merged;
  } else if (ro->merged) {
    st_memtable_unref(ro->merged);
    free(ro->merged_key);
    ro->merged = NULL;
    ro->merged_key = NULL;
    ro->merged_nkey = 0;
  }
  if (key != keyv) free(key);
  if (full != stackv) free(full);
  return rc;
}

/* Makes what the attempts gathered the state every reader sees: drops the
 * memtables of logs the writer has put in tables, and installs {mem, imm,
 * version, sequence} as one superversion. The one place a new state
 * becomes visible: state derived from the database's contents (such as a
 * catalog read from it) is reloaded here. REQUIRE: ro->mu held. */
static int ro_install_state(strata_db *db) {
  st_readonly *ro = db->ro;
  size_t kept = 0;
  for (size_t i = 0; i < ro->nlogs; i++) {
    if (is_live_log(ro, ro->logs[i].number))
      ro->logs[kept++] = ro->logs[i];
    else
      st_memtable_unref(ro->logs[i].mem); /* its records are in a table (W3) */
  }
  ro->nlogs = kept;
  st_memtable *mem = NULL, *imm = NULL;
  int rc = choose_memtables(db, &mem, &imm);
  st_superversion *sv = rc ? NULL : st_sv_new();
  if (!rc && !sv) rc = st_err(STRATA_ENOMEM, "superversion");
  if (rc) return rc;
  uint64_t seq = ro->installed_sequence;
  if (ro->last_sequence > seq) seq = ro->last_sequence;
  if (ro->max_sequence > seq) seq = ro->max_sequence;
  sv->sequence = seq;

  pthread_mutex_lock(&db->mu);
  st_memtable_ref(mem);
  if (imm) st_memtable_ref(imm);
  st_memtable_unref(db->mem);
  st_memtable_unref(db->imm);
  db->mem = mem;
  db->imm = imm;
  db->vs.last_sequence = seq;
  st_db_install_sv(db, sv);
  atomic_store_explicit(&db->visible_sequence, seq, memory_order_release);
  pthread_mutex_unlock(&db->mu);
  ro->installed_sequence = seq;
  if (ro->version_changed) close_unused_tables(db);
  ro->changed = ro->version_changed = 0;
  /* The sub-database catalog as of the new state: handles of sub-databases
   * the writer dropped are marked dropped, new ones can be opened. */
  return st_subdb_load(db);
}

/* ------------------------------------------------------------------------ */
/* Catch-up                                                                 */
/* ------------------------------------------------------------------------ */

/* One attempt (A1-A5). Returns 0, RO_RETRY or an error. */
static int attempt(strata_db *db) {
  st_readonly *ro = db->ro;
  uint64_t news = ro->news;
  int changed = 0;
  int rc = sync_manifest(db, &changed);
  if (rc == 0 && ro->missing) {
    /* The last attempt found a file missing. The edit that deleted it was
     * complete before it went (W4); if A1 found no new edit, nothing did. */
    if (!changed) return st_error_raise(&ro->missing_err);
    ro->missing = 0;
  }
  if (!rc && ro->version_changed) rc = open_tables(db);
  if (!rc) rc = list_logs(db);
  for (size_t i = 0; !rc && i < ro->nlogs; i++)
    if (is_live_log(ro, ro->logs[i].number)) rc = replay_log(db, &ro->logs[i]);
  /* Nothing new at all (the common idle case): the state is what the
   * handle already had, the writer's at the time of A1 -- every live log
   * was listed and none grew, and logs only grow -- so A5 is not needed. */
  if (!rc && ro->news == news) return 0;
  if (!rc) {
    rc = sync_manifest(db, &changed);
    if (!rc && changed) rc = RO_RETRY;
  }
  return rc;
}

static int catch_up(strata_db *db) {
  st_readonly *ro = db->ro;
  int rc = RO_RETRY;
  for (int i = 0; i < MAX_ATTEMPTS && rc == RO_RETRY; i++)
    rc = attempt(db);
  if (rc == RO_RETRY) {
    ro->missing = 0;
    return st_err(STRATA_EBUSY,
                  "%s: catch-up lost the race with the writer %d times in a row (it changed the "
                  "MANIFEST during each attempt); the handle keeps its previous state",
                  db->dbname, MAX_ATTEMPTS);
  }
  if (rc) {
    ro->missing = 0;
    return rc;
  }
  return ro->changed || ro->version_changed ? ro_install_state(db) : 0;
}

int strata_catch_up(strata_db *db) {
  if (!db) return st_err(STRATA_EMISUSE, "strata_catch_up: NULL db");
  if (!db->ro)
    return st_err(STRATA_EINVAL, "strata_catch_up: %s was not opened read-only", db->dbname);
  pthread_mutex_lock(&db->ro->mu);
  int rc = catch_up(db);
  pthread_mutex_unlock(&db->ro->mu);
  return rc;
}

/* ------------------------------------------------------------------------ */
/* Open and close                                                           */
/* ------------------------------------------------------------------------ */

int st_ro_open(strata_db *db) {
  st_env *env = db->env;
  if (!env->exists(env, db->dbname))
    return st_err(STRATA_EINVAL, "%s: does not exist (a read-only open never creates one)",
                  db->dbname);
  if (!env->is_dir(env, db->dbname))
    return st_err(STRATA_EINVAL, "%s: exists and is not a directory", db->dbname);
  char *current = st_current_file_name(db->dbname);
  if (!current) return st_err(STRATA_ENOMEM, "file name");
  int exists = env->exists(env, current);
  int rc = exists ? 0
                  : st_err(STRATA_EINVAL,
                           "%s: does not exist: not a database (a read-only open "
                           "never creates one)",
                           current);
  free(current);
  if (rc) return rc;
  st_readonly *ro = calloc(1, sizeof *ro);
  if (!ro) return st_err(STRATA_ENOMEM, "strata_open");
  pthread_mutex_init(&ro->mu, NULL);
  ro->opened = (st_numset)ST_NUMSET_INIT;
  db->ro = ro;
  ro->empty = st_memtable_new(db->ucmp);
  if (!ro->empty) return st_err(STRATA_ENOMEM, "memtable");
  ro->changed = 1; /* the first state is installed whatever was found */
  pthread_mutex_lock(&ro->mu);
  rc = catch_up(db);
  pthread_mutex_unlock(&ro->mu);
  if (!rc)
    st_db_log(db, "opened %s read-only; last sequence %llu, MANIFEST #%llu, %zu live log(s)",
              db->dbname, (unsigned long long)ro->installed_sequence,
              (unsigned long long)ro->manifest_number, ro->nlogs);
  return rc;
}

void st_ro_free(strata_db *db) {
  st_readonly *ro = db->ro;
  if (!ro) return;
  for (size_t i = 0; i < ro->nlogs; i++)
    st_memtable_unref(ro->logs[i].mem);
  free(ro->logs);
  st_memtable_unref(ro->empty);
  st_memtable_unref(ro->merged);
  free(ro->merged_key);
  st_numset_free(&ro->opened);
  pthread_mutex_destroy(&ro->mu);
  free(ro);
  db->ro = NULL;
}

/* ------------------------------------------------------------------------ */
/* Hooks of db.c                                                            */
/* ------------------------------------------------------------------------ */

int st_ro_refuse_write(strata_db *db, const char *what) {
  return st_err(STRATA_EINVAL, "read-only database: %s is not allowed on %s", what, db->dbname);
}

st_superversion *st_ro_sv_get(strata_db *db, const strata_read_options *ropt, uint64_t *seq) {
  const strata_snapshot *snap = ropt ? ropt->snapshot : NULL;
  if (snap && snap->sv) {
    /* The snapshot's own state. The reference taken here is dropped by
     * st_db_sv_put (st_sv_put): it finds this thread's slot not IN_USE --
     * no st_sv_get is in progress on it -- and drops the reference. */
    st_sv_ref(snap->sv);
    *seq = snap->sequence;
    return snap->sv;
  }
  st_superversion *sv = st_sv_get(&db->svs);
  *seq = snap ? snap->sequence : sv->sequence;
  return sv;
}

void st_ro_snapshot_pin(strata_db *db, strata_snapshot *s) {
  st_superversion *sv = st_sv_get(&db->svs);
  st_sv_ref(sv);
  s->sv = sv;
  s->sequence = sv->sequence;
  st_sv_put(&db->svs, sv);
}

void st_ro_snapshot_unpin(strata_db *db, strata_snapshot *s) {
  (void)db;
  if (s->sv) st_sv_unref_unlocked(s->sv);
  s->sv = NULL;
}
