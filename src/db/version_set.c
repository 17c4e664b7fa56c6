/*
 * version_set.c - versions and the MANIFEST (see version_set.h): building a
 * version from edits, writing and recovering the MANIFEST. The MANIFEST is
 * a log (log_format.h) of version edits (version_edit.c); CURRENT names the
 * live one. Compaction picking is in compaction.c, reads of a version in
 * version_read.c.
 */
#include "db/version_set.h"
#include "db/version_internal.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/filename.h"
#include "db/log_reader.h"
#include "util/error.h"
#include "util/internal_key.h"

/* ------------------------------------------------------------------------ */
/* Sizes                                                                    */
/* ------------------------------------------------------------------------ */

static double max_bytes_for_level(int level) {
  /* L0's limit is a file count; L1 may hold 10 MiB, each deeper level 10x. */
  double result = 10.0 * 1048576.0;
  while (level > 1) {
    result *= 10;
    level--;
  }
  return result;
}

/* ------------------------------------------------------------------------ */
/* File metadata                                                            */
/* ------------------------------------------------------------------------ */

static st_file_meta *meta_new(uint64_t number, uint64_t size, st_slice smallest, st_slice largest) {
  st_file_meta *f = malloc(sizeof *f + smallest.size + largest.size);
  if (!f) return NULL;
  char *keys = (char *)(f + 1);
  memcpy(keys, smallest.data, smallest.size);
  memcpy(keys + smallest.size, largest.data, largest.size);
  f->refs = 0;
  f->number = number;
  f->file_size = size;
  f->smallest = st_slice_make(keys, smallest.size);
  f->largest = st_slice_make(keys + smallest.size, largest.size);
  /* One seek costs about as much as compacting 40 KB (LevelDB's estimate,
   * made conservative at 16 KB per seek): a file sought that often is worth
   * compacting away. */
  int64_t seeks = (int64_t)(size / 16384);
  atomic_init(&f->allowed_seeks, seeks < 100 ? 100 : (seeks > 1 << 30 ? 1 << 30 : (int)seeks));
  return f;
}

static void meta_unref(st_file_meta *f) {
  if (--f->refs <= 0) free(f);
}

/* ------------------------------------------------------------------------ */
/* Versions                                                                 */
/* ------------------------------------------------------------------------ */

static st_version *version_new(st_version_set *vs) {
  st_version *v = calloc(1, sizeof *v);
  if (!v) return NULL;
  v->vset = vs;
  v->prev = v->next = v;
  v->compaction_level = -1;
  v->file_to_compact_level = -1;
  return v;
}

void st_version_ref(st_version *v) { atomic_fetch_add_explicit(&v->refs, 1, memory_order_relaxed); }

static void version_free(st_version *v) {
  v->prev->next = v->next;
  v->next->prev = v->prev;
  for (int l = 0; l < ST_NUM_LEVELS; l++) {
    for (int i = 0; i < v->nfiles[l]; i++)
      meta_unref(v->files[l][i]);
    free(v->files[l]);
  }
  free(v);
}

void st_version_unref(st_version *v) {
  int before = atomic_fetch_sub_explicit(&v->refs, 1, memory_order_acq_rel);
  assert(before >= 1);
  if (before == 1) version_free(v);
}

void st_version_unref_unlocked(st_version *v, pthread_mutex_t *mu) {
  if (atomic_fetch_sub_explicit(&v->refs, 1, memory_order_acq_rel) != 1) return;
  /* Last reference: nobody can take a new one (the version is not
   * current), but the list it is linked in is guarded by mu. */
  pthread_mutex_lock(mu);
  version_free(v);
  pthread_mutex_unlock(mu);
}

static void append_version(st_version_set *vs, st_version *v) {
  st_version *old = vs->current;
  st_version_ref(v);
  /* Readers do not look here: they read the database's superversion,
   * which the caller installs next (superversion.h). */
  vs->current = v;
  if (old) st_version_unref(old);
  v->prev = vs->dummy.prev;
  v->next = &vs->dummy;
  v->prev->next = v;
  v->next->prev = v;
}

/* Precomputes the best level to compact next. */
static void finalize(st_version *v) {
  double best_score = -1;
  int best_level = -1;
  for (int level = 0; level < ST_NUM_LEVELS - 1; level++) {
    double score;
    if (level == 0) {
      /* Count files, not bytes: each L0 file costs a merge on every read,
       * and with a large write buffer bytes would let too many pile up. */
      score = v->nfiles[0] / (double)ST_L0_COMPACTION_TRIGGER;
    } else {
      score =
          (double)total_file_size(v->files[level], v->nfiles[level]) / max_bytes_for_level(level);
    }
    if (score > best_score) {
      best_score = score;
      best_level = level;
    }
  }
  v->compaction_level = best_level;
  v->compaction_score = best_score;
}

/* ------------------------------------------------------------------------ */
/* Builder: base version + edits -> new version                             */
/* ------------------------------------------------------------------------ */

typedef struct builder {
  st_version_set *vs;
  file_list levels[ST_NUM_LEVELS]; /* each holds one reference per file */
} builder;

static int builder_init(builder *b, st_version_set *vs, st_version *base) {
  memset(b, 0, sizeof *b);
  b->vs = vs;
  for (int l = 0; l < ST_NUM_LEVELS; l++) {
    for (int i = 0; i < base->nfiles[l]; i++) {
      if (list_push(&b->levels[l], base->files[l][i])) return STRATA_ENOMEM;
      base->files[l][i]->refs++;
    }
  }
  return 0;
}

static void builder_free(builder *b) {
  for (int l = 0; l < ST_NUM_LEVELS; l++) {
    for (int i = 0; i < b->levels[l].n; i++)
      meta_unref(b->levels[l].v[i]);
    list_free(&b->levels[l]);
  }
}

static int builder_apply(builder *b, const st_version_edit *e) {
  st_version_set *vs = b->vs;
  for (size_t i = 0; i < e->n_pointers; i++) {
    st_buf *cp = &vs->compact_pointer[e->pointers[i].level];
    if (st_buf_set(cp, e->pointers[i].key.data, e->pointers[i].key.size)) return STRATA_ENOMEM;
  }
  /* Deletions first: an edit that moves a file deletes it from one level
   * and adds it to another. */
  for (size_t i = 0; i < e->n_deleted; i++) {
    file_list *l = &b->levels[e->deleted[i].level];
    for (int j = 0; j < l->n; j++) {
      if (l->v[j]->number == e->deleted[i].number) {
        meta_unref(l->v[j]);
        memmove(&l->v[j], &l->v[j + 1], (size_t)(l->n - j - 1) * sizeof l->v[0]);
        l->n--;
        break;
      }
    }
  }
  for (size_t i = 0; i < e->n_files; i++) {
    const st_edit_file *ef = &e->files[i];
    st_file_meta *f = meta_new(ef->number, ef->file_size, st_buf_slice(&ef->smallest),
                               st_buf_slice(&ef->largest));
    if (!f) return st_err(STRATA_ENOMEM, "file metadata");
    f->refs = 1;
    if (list_push(&b->levels[ef->level], f)) {
      free(f);
      return STRATA_ENOMEM;
    }
  }
  return 0;
}

static int cmp_by_smallest(const void *a, const void *b, void *arg) {
  const st_file_meta *fa = *(st_file_meta *const *)a, *fb = *(st_file_meta *const *)b;
  int r = st_icmp(arg, fa->smallest, fb->smallest);
  if (r == 0) r = fa->number < fb->number ? -1 : (fa->number > fb->number);
  return r;
}

static int cmp_by_number(const void *a, const void *b, void *arg) {
  (void)arg;
  const st_file_meta *fa = *(st_file_meta *const *)a, *fb = *(st_file_meta *const *)b;
  return fa->number < fb->number ? -1 : (fa->number > fb->number);
}

/* Moves the builder's files into v (the builder is left empty). Level 0 is
 * kept in file-number order (oldest first) so reads can go newest first;
 * deeper levels are sorted by smallest key and must not overlap. */
static int builder_save(builder *b, st_version *v) {
  const st_comparator *ucmp = b->vs->ucmp;
  for (int l = 0; l < ST_NUM_LEVELS; l++) {
    file_list *fl = &b->levels[l];
    if (fl->n > 1)
      qsort_r(fl->v, (size_t)fl->n, sizeof fl->v[0], l == 0 ? cmp_by_number : cmp_by_smallest,
              (void *)ucmp);
    for (int i = 1; l > 0 && i < fl->n; i++) {
      if (st_icmp(ucmp, fl->v[i - 1]->largest, fl->v[i]->smallest) >= 0)
        return st_err_corrupt("overlapping tables %06llu and %06llu in level %d",
                              (unsigned long long)fl->v[i - 1]->number,
                              (unsigned long long)fl->v[i]->number, l);
    }
    v->files[l] = fl->v;
    v->nfiles[l] = fl->n;
    fl->v = NULL;
    fl->n = fl->cap = 0;
  }
  return 0;
}

/* ------------------------------------------------------------------------ */
/* Version set                                                              */
/* ------------------------------------------------------------------------ */

int st_vset_init(st_version_set *vs, st_env *env, const char *dbname, const st_comparator *ucmp,
                 uint64_t max_file_size, int paranoid_checks, st_table_cache *tc) {
  memset(vs, 0, sizeof *vs);
  vs->env = env;
  vs->dbname = strdup(dbname);
  if (!vs->dbname) return st_err(STRATA_ENOMEM, "version set");
  vs->ucmp = ucmp;
  vs->max_file_size = max_file_size;
  vs->paranoid_checks = paranoid_checks;
  vs->tc = tc;
  vs->next_file_number = 2;
  vs->manifest_file_number = 0;
  vs->dummy.prev = vs->dummy.next = &vs->dummy;
  st_version *v = version_new(vs);
  if (!v) return st_err(STRATA_ENOMEM, "version set");
  append_version(vs, v);
  return 0;
}

void st_vset_destroy(st_version_set *vs) {
  if (vs->current) st_version_unref(vs->current);
  vs->current = NULL;
  /* Versions still referenced (leaked iterators) stay allocated. */
  st_log_writer_close(vs->manifest);
  vs->manifest = NULL;
  for (int l = 0; l < ST_NUM_LEVELS; l++)
    st_buf_free(&vs->compact_pointer[l]);
  free(vs->dbname);
  vs->dbname = NULL;
}

/* Writes a snapshot of the whole current state as one edit. */
static int write_snapshot(st_version_set *vs, st_log_writer *log) {
  st_version_edit e;
  st_edit_init(&e);
  int rc = st_edit_set_comparator(&e, vs->ucmp->name);
  for (int l = 0; !rc && l < ST_NUM_LEVELS; l++) {
    if (vs->compact_pointer[l].size)
      rc = st_edit_set_compact_pointer(&e, l, st_buf_slice(&vs->compact_pointer[l]));
  }
  for (int l = 0; !rc && l < ST_NUM_LEVELS; l++) {
    st_version *v = vs->current;
    for (int i = 0; !rc && i < v->nfiles[l]; i++) {
      st_file_meta *f = v->files[l][i];
      rc = st_edit_add_file(&e, l, f->number, f->file_size, f->smallest, f->largest);
    }
  }
  st_buf rec = ST_BUF_INIT;
  if (!rc) rc = st_edit_encode(&e, &rec);
  if (!rc) rc = st_log_add_record(log, st_buf_slice(&rec));
  st_buf_free(&rec);
  st_edit_clear(&e);
  return rc;
}

int st_vset_log_and_apply(st_version_set *vs, st_version_edit *edit, pthread_mutex_t *mu) {
  if (edit->has_log_number) {
    assert(edit->log_number >= vs->log_number);
    assert(edit->log_number < vs->next_file_number);
  } else {
    st_edit_set_log_number(edit, vs->log_number);
  }
  if (!edit->has_prev_log_number) st_edit_set_prev_log_number(edit, vs->prev_log_number);
  st_edit_set_next_file(edit, vs->next_file_number);
  st_edit_set_last_sequence(edit, vs->last_sequence);

  st_version *v = version_new(vs);
  if (!v) return st_err(STRATA_ENOMEM, "version");
  builder b;
  int rc = builder_init(&b, vs, vs->current);
  if (!rc) rc = builder_apply(&b, edit);
  if (!rc) rc = builder_save(&b, v);
  builder_free(&b);
  if (rc) {
    /* Never referenced nor linked in: freed here, with whatever files
     * builder_save moved into it before it failed. */
    version_free(v);
    return rc;
  }
  finalize(v);

  /* The first edit after open goes to a new MANIFEST that starts with a
   * snapshot of the whole state (keeps MANIFESTs from growing forever). */
  char *new_manifest = NULL;
  st_log_writer *log = vs->manifest;
  if (!log) {
    new_manifest = st_manifest_file_name(vs->dbname, vs->manifest_file_number);
    if (!new_manifest) rc = st_err(STRATA_ENOMEM, "manifest name");
    st_wfile *f = NULL;
    if (!rc) rc = vs->env->new_wfile(vs->env, new_manifest, &f);
    if (!rc) {
      log = st_log_writer_new(f, 0);
      if (!log) {
        f->close(f);
        rc = st_err(STRATA_ENOMEM, "manifest writer");
      }
    }
    if (!rc) rc = write_snapshot(vs, log);
  }

  st_buf rec = ST_BUF_INIT;
  uint64_t manifest_number = vs->manifest_file_number;
  int current_renamed = 0; /* CURRENT may name new_manifest */
  /* Only one thread writes the MANIFEST, so the mutex can be released while
   * the record is written and synced; readers go on meanwhile. */
  pthread_mutex_unlock(mu);
  /* New tables' directory entries must be durable before the MANIFEST
   * names them, or a machine crash could leave it pointing at nothing. */
  if (!rc && edit->n_files > 0 && !new_manifest) rc = vs->env->sync_dir(vs->env, vs->dbname);
  if (!rc) rc = st_edit_encode(edit, &rec);
  if (!rc) rc = st_log_add_record(log, st_buf_slice(&rec));
  if (!rc) rc = st_log_sync(log);
  if (!rc && new_manifest) {
    /* The directory entry of the new MANIFEST must be durable before
     * CURRENT names it (st_set_current_file syncs the directory again for
     * CURRENT's rename). */
    rc = vs->env->sync_dir(vs->env, vs->dbname);
    if (!rc) rc = st_set_current_file(vs->env, vs->dbname, manifest_number, &current_renamed);
  }
  pthread_mutex_lock(mu);
  st_buf_free(&rec);

  if (rc) {
    if (new_manifest) {
      /* A MANIFEST that CURRENT may name stays: it holds the whole state
       * and this edit, so the database opens from it once the fault is
       * gone (and from the old one if the rename is lost in a crash). */
      st_error saved;
      st_error_capture(&saved, rc);
      st_log_writer_close(log);
      if (!current_renamed) vs->env->remove_file(vs->env, new_manifest);
      st_error_raise(&saved);
    }
    free(new_manifest);
    version_free(v); /* never referenced: append_version takes the first */
    return rc;
  }
  free(new_manifest);
  vs->manifest = log;
  append_version(vs, v);
  vs->log_number = edit->log_number;
  vs->prev_log_number = edit->prev_log_number;
  return 0;
}

int st_vset_apply_edits(st_version_set *vs, st_version_edit *const *edits, size_t n, int fresh) {
  st_version *base = vs->current, *empty = NULL;
  if (fresh) {
    empty = version_new(vs);
    if (!empty) return st_err(STRATA_ENOMEM, "version");
    base = empty;
    /* A MANIFEST read from its start sets every pointer it has anew. */
    for (int l = 0; l < ST_NUM_LEVELS; l++)
      vs->compact_pointer[l].size = 0;
  }
  st_version *v = version_new(vs);
  builder b;
  int rc = v ? builder_init(&b, vs, base) : st_err(STRATA_ENOMEM, "version");
  for (size_t i = 0; !rc && i < n; i++)
    rc = builder_apply(&b, edits[i]);
  if (!rc) rc = builder_save(&b, v);
  if (v) builder_free(&b);
  if (empty) version_free(empty);
  if (rc) {
    if (v) version_free(v); /* never linked nor referenced */
    return rc;
  }
  finalize(v);
  append_version(vs, v);
  return 0;
}

typedef struct manifest_report {
  const char *path;
  int rc;
} manifest_report;

static void on_manifest_corruption(void *arg, uint64_t offset, size_t bytes, const char *reason) {
  manifest_report *r = arg;
  if (r->rc == 0)
    r->rc = st_err_corrupt("%s: %s at offset %llu (%zu bytes dropped)", r->path, reason,
                           (unsigned long long)offset, bytes);
}

int st_vset_recover(st_version_set *vs) {
  st_env *env = vs->env;
  char *current = st_current_file_name(vs->dbname);
  if (!current) return st_err(STRATA_ENOMEM, "file name");
  st_buf cur = ST_BUF_INIT;
  int rc = st_env_read_file(env, current, &cur);
  if (rc == STRATA_ENOTFOUND)
    rc = st_err_corrupt("%s: missing (database has no CURRENT file)", current);
  if (!rc && (cur.size == 0 || cur.data[cur.size - 1] != '\n'))
    rc = st_err_corrupt("%s: does not end with a newline", current);
  uint64_t number = 0;
  st_file_type type;
  if (!rc) {
    cur.data[cur.size - 1] = '\0';
    if (memchr(cur.data, '\0', cur.size - 1) || !st_parse_file_name(cur.data, &number, &type) ||
        type != ST_FILE_MANIFEST)
      rc = st_err_corrupt("%s: does not name a MANIFEST file", current);
  }
  free(current);
  st_buf_free(&cur);
  if (rc) return rc;

  char *path = st_manifest_file_name(vs->dbname, number);
  if (!path) return st_err(STRATA_ENOMEM, "file name");
  st_seqfile *file = NULL;
  rc = env->new_seqfile(env, path, &file);
  if (rc == STRATA_ENOTFOUND) rc = st_err_corrupt("%s: named by CURRENT but missing", path);
  if (rc) {
    free(path);
    return rc;
  }

  manifest_report rep = {path, 0};
  st_log_reader *reader = st_log_reader_new(file, 1, on_manifest_corruption, &rep);
  builder b;
  int builder_ok = 0;
  if (!reader) rc = st_err(STRATA_ENOMEM, "manifest reader");
  if (!rc) {
    rc = builder_init(&b, vs, vs->current);
    builder_ok = 1;
  }
  int have_log = 0, have_prev = 0, have_next = 0, have_seq = 0;
  uint64_t log_number = 0, prev_log = 0, next_file = 0, last_seq = 0;
  while (!rc) {
    st_slice record;
    int r = st_log_read_record(reader, &record);
    if (rep.rc) {
      rc = rep.rc;
      break;
    }
    if (r <= 0) {
      rc = r;
      break;
    }
    st_version_edit e;
    st_edit_init(&e);
    rc = st_edit_decode(&e, record);
    if (rc) {
      /* Say which file the bad record is in. */
      char msg[ST_ERRMSG_MAX];
      snprintf(msg, sizeof msg, "%s", st_errmsg());
      rc = st_err_corrupt("%s: %s", path, strchr(msg, ':') ? strchr(msg, ':') + 2 : msg);
    }
    if (!rc && e.comparator && strcmp(e.comparator, vs->ucmp->name) != 0)
      /* LevelDB's wording: the stored name first, then the one given. */
      rc = st_err(STRATA_EINVAL, "%s does not match existing comparator : %s", e.comparator,
                  vs->ucmp->name);
    if (!rc) rc = builder_apply(&b, &e);
    if (!rc) {
      if (e.has_log_number) have_log = 1, log_number = e.log_number;
      if (e.has_prev_log_number) have_prev = 1, prev_log = e.prev_log_number;
      if (e.has_next_file) have_next = 1, next_file = e.next_file_number;
      if (e.has_last_sequence) have_seq = 1, last_seq = e.last_sequence;
    }
    st_edit_clear(&e);
  }
  st_log_reader_free(reader);
  file->close(file);

  if (!rc && !have_next) rc = st_err_corrupt("%s: no next-file-number entry", path);
  if (!rc && !have_log) rc = st_err_corrupt("%s: no log-number entry", path);
  if (!rc && !have_seq) rc = st_err_corrupt("%s: no last-sequence entry", path);
  if (!have_prev) prev_log = 0;

  st_version *v = NULL;
  if (!rc) {
    v = version_new(vs);
    if (!v) rc = st_err(STRATA_ENOMEM, "version");
  }
  if (!rc) rc = builder_save(&b, v);
  if (builder_ok) builder_free(&b);
  if (rc) {
    if (v) version_free(v); /* never referenced (see st_vset_log_and_apply) */
    free(path);
    return rc;
  }
  free(path);
  finalize(v);
  append_version(vs, v);
  vs->next_file_number = next_file;
  st_vset_mark_file_number_used(vs, prev_log);
  st_vset_mark_file_number_used(vs, log_number);
  /* Always continue in a new MANIFEST (written at the first edit). */
  vs->manifest_file_number = st_vset_new_file_number(vs);
  vs->last_sequence = last_seq;
  vs->log_number = log_number;
  vs->prev_log_number = prev_log;
  return 0;
}

int st_vset_num_level_files(const st_version_set *vs, int level) {
  return vs->current->nfiles[level];
}

uint64_t st_vset_level_bytes(const st_version_set *vs, int level) {
  return (uint64_t)total_file_size(vs->current->files[level], vs->current->nfiles[level]);
}

void st_vset_live_files(st_version_set *vs, void (*fn)(void *, uint64_t), void *arg) {
  for (st_version *v = vs->dummy.next; v != &vs->dummy; v = v->next)
    for (int l = 0; l < ST_NUM_LEVELS; l++)
      for (int i = 0; i < v->nfiles[l]; i++)
        fn(arg, v->files[l][i]->number);
}

int st_vset_needs_compaction(const st_version_set *vs) {
  return vs->current->compaction_score >= 1 || vs->current->file_to_compact != NULL;
}
