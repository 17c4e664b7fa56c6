/*
 * checkpoint.c - strata_checkpoint(): a consistent copy of an open
 * database in another directory, made while the database keeps taking
 * writes (LevelDB has no such call; RocksDB's Checkpoint is the model, with
 * one difference below: the memtable is written into the copy instead of
 * being flushed in the source).
 *
 * What the copy holds: the database as of one sequence number S, read the
 * way a point read reads it (st_db_sv_get): the superversion (memtable,
 * immutable memtable, current version) is taken first, then S, the last
 * sequence number readers may see. Every write acknowledged before the call
 * began has a sequence number <= S and is in that superversion's memtables
 * or tables (the read path's own guarantee, see st_db_sv_get), and no write
 * with a number above S is copied, so the copy is the state after write S
 * (or, if a memtable switch slipped in between the two steps, the state at
 * that switch: still a prefix of the history, with every acknowledged
 * write).
 *
 * The algorithm:
 *   1. Refuse a dest_dir that exists; create it.
 *   2. Take the superversion and S (above), keeping a reference on the
 *      superversion: the tables of a referenced version are never deleted
 *      (st_db_delete_obsolete_files keeps every file of every live
 *      version), so they stay readable without holding the mutex. Under the
 *      mutex, note N, the source's next file number: every table of the
 *      version is numbered below it.
 *   3. Each table of the version gets the same name in dest_dir: a hard
 *      link (env->link_file) when the env can make one, else a copy of its
 *      bytes, synced. The first STRATA_ENOTSUP from the env (dest_dir on
 *      another file system) switches the rest of the call to copying.
 *      Tables are immutable once written, so a link shares nothing that
 *      either database will change: a compaction in either one deletes only
 *      its own name of a file.
 *   4. The entries of the memtable and the immutable memtable with sequence
 *      numbers <= S -- the newest of each user key only, as nothing in the
 *      copy can read an older one -- go into one new table, number N, at
 *      level 0. It holds the newest data, and level-0 tables are read from
 *      the highest number down, so it shadows the copied tables exactly as
 *      the memtables shadowed them. The source is not touched: no flush, no
 *      log switch, no small level-0 table left behind in it.
 *   5. MANIFEST-(N+1) in dest_dir, one record: a snapshot edit naming the
 *      comparator, log number 0 (the copy has no write-ahead log), next
 *      file number N+2, last sequence S, and every table at its level.
 *      Synced, then the directory.
 *   6. CURRENT last, through a temporary file, rename and directory sync
 *      (st_set_current_file), then the parent directory is synced so
 *      dest_dir's own entry is durable. A crash at any earlier point leaves
 *      dest_dir without CURRENT: no database, never a wrong one.
 * On an error, everything made in dest_dir is removed (CURRENT first) and
 * dest_dir with it.
 *
 * A read-only handle (db_readonly.c) checkpoints its own state -- the
 * writer process's state as of its last catch-up -- the same way, with one
 * difference: the writer may delete a table of that state at any moment,
 * so step 3 copies a table whose name is gone from the file the handle
 * keeps open (every table of its state stays open while the state lives).
 *
 * The copy opens in Strata and LevelDB 1.23: its files are ordinary
 * LevelDB files (the MANIFEST record is what LevelDB writes at the start of
 * a new MANIFEST), there is no log to replay, and it has no LOCK until an
 * open makes one. Sub-databases are ordinary records and come along.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/db_impl.h"
#include "db/filename.h"
#include "table/merger.h"
#include "table/table_builder.h"
#include "util/internal_key.h"

/* Bytes per read when a table is copied. */
#define COPY_CHUNK (1u << 20)

typedef struct ckpt {
  strata_db *db;
  st_env *env;
  const char *dest;
  int can_link; /* cleared at the first STRATA_ENOTSUP */
  char **made;  /* files created in dest (malloc'd paths) */
  size_t nmade, cap;
  int linked, copied; /* tables, for the info log */
  char *copy_buf;     /* COPY_CHUNK bytes, allocated when first needed */
} ckpt;

/* Records path (taken over) as made in dest, for the cleanup on error. */
static int remember(ckpt *c, char *path) {
  if (c->nmade == c->cap) {
    size_t cap = c->cap ? c->cap * 2 : 32;
    char **m = realloc(c->made, cap * sizeof *m);
    if (!m) {
      free(path);
      return st_err(STRATA_ENOMEM, "checkpoint");
    }
    c->made = m;
    c->cap = cap;
  }
  c->made[c->nmade++] = path;
  return 0;
}

/* Copies the first size bytes of from into a new file to, synced; reads
 * through `open` when not NULL (a table the handle has open, whose name
 * may be gone), else opens from. */
static int copy_file(ckpt *c, const char *from, const char *to, uint64_t size,
                     const st_rafile *open) {
  if (!c->copy_buf && !(c->copy_buf = malloc(COPY_CHUNK)))
    return st_err(STRATA_ENOMEM, "checkpoint copy buffer");
  st_rafile *own = NULL;
  const st_rafile *in = open;
  int rc = 0;
  if (!in) {
    rc = c->env->new_rafile(c->env, from, &own);
    if (rc) return rc;
    in = own;
  }
  st_wfile *out = NULL;
  rc = c->env->new_wfile(c->env, to, &out);
  for (uint64_t off = 0; !rc && off < size;) {
    size_t n = size - off < COPY_CHUNK ? (size_t)(size - off) : COPY_CHUNK;
    st_slice got;
    rc = in->read(in, off, n, c->copy_buf, &got);
    if (!rc && got.size != n)
      rc = st_err_corrupt("%s: %llu bytes, %llu expected (the MANIFEST's size)", from,
                          (unsigned long long)(off + got.size), (unsigned long long)size);
    if (!rc) rc = out->append(out, got.data, got.size);
    off += n;
  }
  if (!rc && out) rc = out->sync(out);
  if (out) {
    int crc = out->close(out);
    if (!rc) rc = crc;
  }
  if (own) own->close(own);
  return rc;
}

/* A read-only handle's checkpoint: the writer process may delete a table of
 * the handle's state at any moment (compaction), but the handle keeps every
 * table of its state open (db_readonly.c), so a table whose name is gone is
 * copied from the open file. */
static int copy_open_table(ckpt *c, uint64_t number, uint64_t size, const char *to) {
  st_read_opts ro = {0, 0};
  st_table *t = NULL;
  st_iter *it = st_table_cache_iter(c->db->table_cache, &ro, number, size, &t);
  if (!it) return st_err(STRATA_ENOMEM, "checkpoint");
  int rc = st_iter_status(it);
  if (!rc) rc = copy_file(c, "(open table)", to, size, st_table_file(t));
  st_iter_destroy(it);
  return rc;
}

/* Gives table `number` of the source the same name in dest: a link, or a
 * copy. Tables written by LevelDB before 1.23's rename may be NNNNNN.sst. */
static int copy_table(ckpt *c, uint64_t number, uint64_t size) {
  strata_db *db = c->db;
  char *from = st_table_file_name(db->dbname, number);
  char *to = st_table_file_name(c->dest, number);
  int rc = (!from || !to) ? st_err(STRATA_ENOMEM, "file name") : 0;
  if (!rc && !c->env->exists(c->env, from)) {
    free(from);
    free(to);
    from = st_sst_table_file_name(db->dbname, number);
    to = st_sst_table_file_name(c->dest, number);
    if (!from || !to) rc = st_err(STRATA_ENOMEM, "file name");
  }
  if (!rc && c->db->ro && !c->env->exists(c->env, from)) {
    /* Deleted by the writer since the handle's state was read. */
    st_err_clear();
    free(from);
    rc = copy_open_table(c, number, size, to);
    if (!rc) c->copied++;
    remember(c, to); /* removed with the rest on error */
    return rc;
  }
  if (!rc && c->can_link) {
    rc = c->env->link_file(c->env, from, to);
    if (rc == STRATA_ENOTSUP) {
      st_db_log(db, "checkpoint %s: cannot link (%s); copying tables", c->dest, st_errmsg());
      st_err_clear();
      c->can_link = 0;
      rc = 0;
    } else if (!rc) {
      c->linked++;
      free(from);
      return remember(c, to);
    }
  }
  if (!rc) {
    rc = copy_file(c, from, to, size, NULL);
    if (!rc) {
      c->copied++;
      free(from);
      return remember(c, to);
    }
    /* A partial copy is removed with the rest. */
    remember(c, to);
    to = NULL;
  }
  free(from);
  free(to);
  return rc;
}

/* Writes the newest entry of each user key among sv's memtables with
 * sequence <= seq into table `number` in dest (level 0 of edit). No file
 * when there is no such entry. */
static int write_memtables(ckpt *c, st_superversion *sv, uint64_t seq, uint64_t number,
                           st_version_edit *edit) {
  strata_db *db = c->db;
  st_iter *children[2];
  int n = 0;
  children[n++] = st_memtable_iter(sv->mem);
  if (sv->imm) children[n++] = st_memtable_iter(sv->imm);
  for (int i = 0; i < n; i++) {
    if (!children[i]) {
      for (int j = 0; j < n; j++)
        st_iter_destroy(children[j]);
      return st_err(STRATA_ENOMEM, "memtable iterator");
    }
  }
  st_iter *it = st_merging_iter_new(db->ucmp, children, n);
  if (!it) return st_err(STRATA_ENOMEM, "memtable iterator");

  int rc = 0;
  st_wfile *file = NULL;
  st_table_builder *b = NULL;
  st_buf smallest = ST_BUF_INIT, largest = ST_BUF_INIT;
  int have_last = 0;
  for (st_iter_seek_to_first(it); !rc && st_iter_valid(it); st_iter_next(it)) {
    st_slice k = st_iter_key(it);
    st_parsed_ikey pk;
    if (!st_ikey_parse(k, &pk)) {
      rc = st_err_corrupt("malformed key in a memtable");
      break;
    }
    if (pk.sequence > seq) continue; /* written after the checkpoint's sequence */
    /* Entries of a key come newest first: the first one kept hides the rest. */
    if (have_last && st_ucmp(db->ucmp, pk.user_key, st_ikey_user(st_buf_slice(&largest))) == 0)
      continue;
    if (!b) {
      char *path = st_table_file_name(c->dest, number);
      if (!path) {
        rc = st_err(STRATA_ENOMEM, "file name");
        break;
      }
      rc = c->env->new_wfile(c->env, path, &file);
      if (rc) {
        free(path);
        break;
      }
      if ((rc = remember(c, path))) break;
      b = st_table_builder_new(&db->topt, file);
      if (!b) {
        rc = st_err(STRATA_ENOMEM, "table builder");
        break;
      }
      rc = st_buf_set(&smallest, k.data, k.size);
    }
    if (!rc) rc = st_buf_set(&largest, k.data, k.size);
    if (!rc) rc = st_table_builder_add(b, k, st_iter_value(it));
    have_last = 1;
  }
  if (!rc) rc = st_iter_status(it);
  st_iter_destroy(it);
  if (b) {
    if (!rc)
      rc = st_table_builder_finish(b);
    else
      st_table_builder_abandon(b);
    uint64_t size = st_table_builder_file_size(b);
    st_table_builder_free(b);
    if (!rc) rc = file->sync(file);
    if (!rc)
      rc = st_edit_add_file(edit, 0, number, size, st_buf_slice(&smallest), st_buf_slice(&largest));
  }
  if (file) {
    int crc = file->close(file);
    if (!rc) rc = crc;
  }
  st_buf_free(&smallest);
  st_buf_free(&largest);
  return rc;
}

/* Writes dest's MANIFEST-<number> holding edit, synced. */
static int write_manifest(ckpt *c, uint64_t number, const st_version_edit *edit) {
  char *path = st_manifest_file_name(c->dest, number);
  if (!path) return st_err(STRATA_ENOMEM, "file name");
  st_wfile *f = NULL;
  int rc = c->env->new_wfile(c->env, path, &f);
  if (rc) {
    free(path);
    return rc;
  }
  if ((rc = remember(c, path))) {
    f->close(f);
    return rc;
  }
  st_log_writer *log = st_log_writer_new(f, 0);
  if (!log) {
    f->close(f);
    return st_err(STRATA_ENOMEM, "manifest writer");
  }
  st_buf rec = ST_BUF_INIT;
  rc = st_edit_encode(edit, &rec);
  if (!rc) rc = st_log_add_record(log, st_buf_slice(&rec));
  if (!rc) rc = st_log_sync(log);
  int crc = st_log_writer_close(log);
  if (!rc) rc = crc;
  st_buf_free(&rec);
  return rc;
}

/* The directory holding path (path without its last component and
 * trailing slashes; "." for a bare name), malloc'd. */
static char *parent_dir(const char *path) {
  size_t n = strlen(path);
  while (n > 1 && path[n - 1] == '/')
    n--;
  while (n > 0 && path[n - 1] != '/')
    n--;
  while (n > 1 && path[n - 1] == '/')
    n--;
  if (n == 0) return strdup(".");
  char *p = malloc(n + 1);
  if (p) {
    memcpy(p, path, n);
    p[n] = '\0';
  }
  return p;
}

/* Removes everything made in dest, CURRENT first, then dest itself. The
 * caller's error message is kept. */
static void cleanup(ckpt *c) {
  st_error saved;
  st_error_capture(&saved, STRATA_EIO);
  char *cur = st_current_file_name(c->dest);
  if (cur && c->env->exists(c->env, cur)) c->env->remove_file(c->env, cur);
  free(cur);
  for (size_t i = c->nmade; i-- > 0;)
    c->env->remove_file(c->env, c->made[i]);
  c->env->remove_dir(c->env, c->dest);
  st_error_raise(&saved);
}

int strata_checkpoint(strata_db *db, const char *dest_dir) {
  if (!db || !dest_dir)
    return st_err(STRATA_EMISUSE, "strata_checkpoint: NULL %s", db ? "dest_dir" : "db");
  st_env *env = db->env;
  if (!*dest_dir) return st_err(STRATA_EINVAL, "strata_checkpoint: empty destination path");
  if (env->exists(env, dest_dir))
    return st_err(STRATA_EINVAL, "strata_checkpoint: %s exists (the destination must not)",
                  dest_dir);
  int rc = env->create_dir(env, dest_dir);
  if (rc) return rc;

  ckpt c = {0};
  c.db = db;
  c.env = env;
  c.dest = dest_dir;
  c.can_link = env->link_file != NULL;

  /* Step 2: the superversion, then the sequence (see the top). */
  uint64_t seq;
  st_superversion *sv = st_db_sv_get(db, NULL, &seq);
  st_sv_ref(sv);
  st_db_sv_put(db, sv);
  pthread_mutex_lock(&db->mu);
  uint64_t mem_number = db->vs.next_file_number;
  pthread_mutex_unlock(&db->mu);
  uint64_t manifest_number = mem_number + 1;

  st_version_edit edit;
  st_edit_init(&edit);
  rc = st_edit_set_comparator(&edit, db->ucmp->name);
  st_edit_set_log_number(&edit, 0);
  st_edit_set_prev_log_number(&edit, 0);
  st_edit_set_next_file(&edit, manifest_number + 1);
  st_edit_set_last_sequence(&edit, seq);

  /* Step 3: the tables. */
  st_version *v = sv->current;
  for (int l = 0; !rc && l < ST_NUM_LEVELS; l++) {
    for (int i = 0; !rc && i < v->nfiles[l]; i++) {
      st_file_meta *f = v->files[l][i];
      rc = copy_table(&c, f->number, f->file_size);
      if (!rc) rc = st_edit_add_file(&edit, l, f->number, f->file_size, f->smallest, f->largest);
    }
  }
  /* Step 4: the memtables. */
  if (!rc) rc = write_memtables(&c, sv, seq, mem_number, &edit);
  st_sv_unref_unlocked(sv);

  /* Steps 5 and 6. */
  if (!rc) rc = write_manifest(&c, manifest_number, &edit);
  if (!rc) rc = env->sync_dir(env, dest_dir);
  /* A failure after CURRENT's rename is undone whole by cleanup(), which
   * removes CURRENT first: a checkpoint is either complete or absent. */
  int renamed = 0;
  if (!rc) rc = st_set_current_file(env, dest_dir, manifest_number, &renamed);
  if (!rc) {
    char *parent = parent_dir(dest_dir);
    if (!parent)
      rc = st_err(STRATA_ENOMEM, "file name");
    else if (env->is_dir(env, parent))
      rc = env->sync_dir(env, parent);
    free(parent);
  }

  if (rc) {
    st_db_log(db, "checkpoint %s failed: %s", dest_dir, st_errmsg());
    cleanup(&c);
  } else {
    st_db_log(db, "checkpoint %s: sequence %llu, %d tables linked, %d copied, %zu files", dest_dir,
              (unsigned long long)seq, c.linked, c.copied, c.nmade);
  }
  st_edit_clear(&edit);
  for (size_t i = 0; i < c.nmade; i++)
    free(c.made[i]);
  free(c.made);
  free(c.copy_buf);
  return rc;
}
