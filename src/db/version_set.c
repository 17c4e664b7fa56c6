/*
 * version_set.c - versions, the MANIFEST, and compaction picking (see
 * version_set.h). The MANIFEST is a log (log_format.h) of version edits
 * (version_edit.c); CURRENT names the live one.
 */
#include "db/version_set.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/filename.h"
#include "db/log_reader.h"
#include "db/memtable.h"
#include "table/merger.h"
#include "table/two_level_iter.h"
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

static int64_t total_file_size(st_file_meta **files, int n) {
  int64_t sum = 0;
  for (int i = 0; i < n; i++)
    sum += (int64_t)files[i]->file_size;
  return sum;
}

/* A compaction may pull in this many bytes of level+2 overlap per output
 * file before the output is cut, so the next compaction stays cheap. */
static int64_t max_grandparent_overlap(const st_version_set *vs) {
  return 10 * (int64_t)vs->max_file_size;
}

/* Expanding a compaction's level-L inputs may not take its size past this. */
static int64_t expanded_compaction_limit(const st_version_set *vs) {
  return 25 * (int64_t)vs->max_file_size;
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

/* A growable array of file pointers (not owning references). */
typedef struct file_list {
  st_file_meta **v;
  int n, cap;
} file_list;

static int list_push(file_list *l, st_file_meta *f) {
  if (l->n == l->cap) {
    int cap = l->cap ? l->cap * 2 : 8;
    st_file_meta **v = realloc(l->v, (size_t)cap * sizeof *v);
    if (!v) return st_err(STRATA_ENOMEM, "file list");
    l->v = v;
    l->cap = cap;
  }
  l->v[l->n++] = f;
  return 0;
}

static void list_free(file_list *l) {
  free(l->v);
  l->v = NULL;
  l->n = l->cap = 0;
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
  if (vs->current_lock) pthread_rwlock_wrlock(vs->current_lock);
  vs->current = v;
  if (vs->current_lock) pthread_rwlock_unlock(vs->current_lock);
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
    st_version_unref(v);
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
    if (!rc) rc = st_set_current_file(vs->env, vs->dbname, manifest_number);
  }
  pthread_mutex_lock(mu);
  st_buf_free(&rec);

  if (rc) {
    if (new_manifest) {
      st_error saved;
      st_error_capture(&saved, rc);
      st_log_writer_close(log);
      vs->env->remove_file(vs->env, new_manifest);
      st_error_raise(&saved);
    }
    free(new_manifest);
    st_version_unref(v);
    return rc;
  }
  free(new_manifest);
  vs->manifest = log;
  append_version(vs, v);
  vs->log_number = edit->log_number;
  vs->prev_log_number = edit->prev_log_number;
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
    if (v) st_version_unref(v);
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

/* ------------------------------------------------------------------------ */
/* Overlap queries                                                          */
/* ------------------------------------------------------------------------ */

/* Index of the first file in a sorted level whose largest key >= ikey. */
static int find_file(const st_comparator *ucmp, st_file_meta **files, int n, st_slice ikey) {
  int lo = 0, hi = n;
  while (lo < hi) {
    int mid = lo + (hi - lo) / 2;
    if (st_icmp(ucmp, files[mid]->largest, ikey) < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}

static int after_file(const st_comparator *ucmp, const st_slice *user_key, const st_file_meta *f) {
  return user_key && st_ucmp(ucmp, *user_key, st_ikey_user(f->largest)) > 0;
}

static int before_file(const st_comparator *ucmp, const st_slice *user_key, const st_file_meta *f) {
  return user_key && st_ucmp(ucmp, *user_key, st_ikey_user(f->smallest)) < 0;
}

int st_version_overlap_in_level(st_version *v, int level, const st_slice *smallest_user,
                                const st_slice *largest_user) {
  const st_comparator *ucmp = v->vset->ucmp;
  st_file_meta **files = v->files[level];
  int n = v->nfiles[level];
  if (level == 0) {
    for (int i = 0; i < n; i++)
      if (!after_file(ucmp, smallest_user, files[i]) && !before_file(ucmp, largest_user, files[i]))
        return 1;
    return 0;
  }
  int idx = 0;
  if (smallest_user) {
    /* The smallest internal key for this user key. */
    char stackbuf[256];
    st_buf k = ST_BUF_INIT;
    st_slice key;
    if (smallest_user->size + 8 <= sizeof stackbuf) {
      memcpy(stackbuf, smallest_user->data, smallest_user->size);
      st_put_fixed64(stackbuf + smallest_user->size,
                     st_pack_tag(ST_MAX_SEQUENCE, ST_TYPE_FOR_SEEK));
      key = st_slice_make(stackbuf, smallest_user->size + 8);
    } else {
      if (st_ikey_append(&k, *smallest_user, ST_MAX_SEQUENCE, ST_TYPE_FOR_SEEK)) return 1;
      key = st_buf_slice(&k);
    }
    idx = find_file(ucmp, files, n, key);
    st_buf_free(&k);
  }
  if (idx >= n) return 0;
  return !before_file(ucmp, largest_user, files[idx]);
}

int st_version_pick_level_for_memtable_output(st_version *v, st_slice smallest_user,
                                              st_slice largest_user) {
  int level = 0;
  if (st_version_overlap_in_level(v, 0, &smallest_user, &largest_user)) return 0;
  /* Push to the next level if it does not overlap there and the level
   * after it does not overlap too much (so a later compaction of it stays
   * cheap): saves rewriting the data through L0 and L1. */
  char sb[256], lb[256];
  st_buf sbig = ST_BUF_INIT, lbig = ST_BUF_INIT;
  st_slice start, limit;
  if (smallest_user.size + 8 <= sizeof sb && largest_user.size + 8 <= sizeof lb) {
    memcpy(sb, smallest_user.data, smallest_user.size);
    st_put_fixed64(sb + smallest_user.size, st_pack_tag(ST_MAX_SEQUENCE, ST_TYPE_FOR_SEEK));
    memcpy(lb, largest_user.data, largest_user.size);
    st_put_fixed64(lb + largest_user.size, st_pack_tag(0, 0));
    start = st_slice_make(sb, smallest_user.size + 8);
    limit = st_slice_make(lb, largest_user.size + 8);
  } else {
    if (st_ikey_append(&sbig, smallest_user, ST_MAX_SEQUENCE, ST_TYPE_FOR_SEEK) ||
        st_ikey_append(&lbig, largest_user, 0, 0)) {
      st_buf_free(&sbig);
      st_buf_free(&lbig);
      return 0;
    }
    start = st_buf_slice(&sbig);
    limit = st_buf_slice(&lbig);
  }
  while (level < ST_MAX_MEM_COMPACT_LEVEL) {
    if (st_version_overlap_in_level(v, level + 1, &smallest_user, &largest_user)) break;
    if (level + 2 < ST_NUM_LEVELS) {
      /* Collect overlapping grandparent bytes. */
      int64_t sum = 0;
      st_file_meta **files = v->files[level + 2];
      for (int i = 0; i < v->nfiles[level + 2]; i++) {
        if (st_icmp(v->vset->ucmp, files[i]->largest, start) < 0) continue;
        if (st_icmp(v->vset->ucmp, files[i]->smallest, limit) > 0) continue;
        sum += (int64_t)files[i]->file_size;
      }
      if (sum > max_grandparent_overlap(v->vset)) break;
    }
    level++;
  }
  st_buf_free(&sbig);
  st_buf_free(&lbig);
  return level;
}

/* Files of `level` overlapping the user-key range of [begin, end] (internal
 * keys; NULL = open). For level 0, whose files may overlap each other, the
 * range grows to cover every file it touches, repeatedly. */
static int get_overlapping_inputs(st_version *v, int level, const st_slice *begin,
                                  const st_slice *end, file_list *out) {
  const st_comparator *ucmp = v->vset->ucmp;
  out->n = 0;
  st_slice user_begin = begin ? st_ikey_user(*begin) : st_slice_make("", 0);
  st_slice user_end = end ? st_ikey_user(*end) : st_slice_make("", 0);
  int has_begin = begin != NULL, has_end = end != NULL;
  for (int i = 0; i < v->nfiles[level];) {
    st_file_meta *f = v->files[level][i++];
    st_slice fs = st_ikey_user(f->smallest), fl = st_ikey_user(f->largest);
    if (has_begin && st_ucmp(ucmp, fl, user_begin) < 0) continue;
    if (has_end && st_ucmp(ucmp, fs, user_end) > 0) continue;
    if (list_push(out, f)) return STRATA_ENOMEM;
    if (level == 0) {
      if (has_begin && st_ucmp(ucmp, fs, user_begin) < 0) {
        user_begin = fs;
        out->n = 0;
        i = 0;
      } else if (has_end && st_ucmp(ucmp, fl, user_end) > 0) {
        user_end = fl;
        out->n = 0;
        i = 0;
      }
    }
  }
  return 0;
}

/* Smallest and largest internal keys of the files in lists a and b. */
static void get_range(const st_comparator *ucmp, const file_list *a, const file_list *b,
                      st_slice *smallest, st_slice *largest) {
  int first = 1;
  const file_list *lists[2] = {a, b};
  for (int k = 0; k < 2; k++) {
    if (!lists[k]) continue;
    for (int i = 0; i < lists[k]->n; i++) {
      st_file_meta *f = lists[k]->v[i];
      if (first || st_icmp(ucmp, f->smallest, *smallest) < 0) *smallest = f->smallest;
      if (first || st_icmp(ucmp, f->largest, *largest) > 0) *largest = f->largest;
      first = 0;
    }
  }
}

/* If a user key's entries are split across two files of a level and only
 * the first is compacted down, a read would find the older entry in this
 * level first. So pull in every file whose smallest key shares the user key
 * of the compaction's largest key (LevelDB 1.23's AddBoundaryInputs). */
static int add_boundary_inputs(const st_comparator *ucmp, st_version *v, int level,
                               file_list *files) {
  if (files->n == 0) return 0;
  st_slice largest = files->v[0]->largest;
  for (int i = 1; i < files->n; i++)
    if (st_icmp(ucmp, files->v[i]->largest, largest) > 0) largest = files->v[i]->largest;
  for (;;) {
    st_file_meta *best = NULL;
    for (int i = 0; i < v->nfiles[level]; i++) {
      st_file_meta *f = v->files[level][i];
      if (st_icmp(ucmp, f->smallest, largest) > 0 &&
          st_ucmp(ucmp, st_ikey_user(f->smallest), st_ikey_user(largest)) == 0) {
        if (!best || st_icmp(ucmp, f->smallest, best->smallest) < 0) best = f;
      }
    }
    if (!best) return 0;
    if (list_push(files, best)) return STRATA_ENOMEM;
    largest = best->largest;
  }
}

static st_compaction *compaction_new(st_version_set *vs, int level) {
  st_compaction *c = calloc(1, sizeof *c);
  if (!c) return NULL;
  c->level = level;
  c->max_output_file_size = vs->max_file_size;
  st_edit_init(&c->edit);
  c->input_version = vs->current;
  st_version_ref(c->input_version);
  return c;
}

void st_compaction_free(st_compaction *c) {
  if (!c) return;
  if (c->input_version) st_version_unref(c->input_version);
  free(c->inputs[0]);
  free(c->inputs[1]);
  free(c->grandparents);
  st_edit_clear(&c->edit);
  free(c);
}

static void take_list(st_file_meta ***dst, int *n, file_list *src) {
  free(*dst);
  *dst = src->v;
  *n = src->n;
  src->v = NULL;
  src->n = src->cap = 0;
}

static int setup_other_inputs(st_version_set *vs, st_compaction *c, file_list *in0) {
  const st_comparator *ucmp = vs->ucmp;
  st_version *v = c->input_version;
  int level = c->level;
  file_list in1 = {0}, exp0 = {0}, exp1 = {0}, grand = {0};
  int rc = add_boundary_inputs(ucmp, v, level, in0);
  st_slice smallest, largest, all_start, all_limit;
  if (!rc) {
    get_range(ucmp, in0, NULL, &smallest, &largest);
    rc = get_overlapping_inputs(v, level + 1, &smallest, &largest, &in1);
  }
  if (!rc) rc = add_boundary_inputs(ucmp, v, level + 1, &in1);
  if (!rc) {
    get_range(ucmp, in0, &in1, &all_start, &all_limit);
    /* Grow the level-L inputs if that pulls in no more level-L+1 files. */
    if (in1.n > 0) {
      rc = get_overlapping_inputs(v, level, &all_start, &all_limit, &exp0);
      if (!rc) rc = add_boundary_inputs(ucmp, v, level, &exp0);
      int64_t in1_size = total_file_size(in1.v, in1.n);
      int64_t exp0_size = total_file_size(exp0.v, exp0.n);
      if (!rc && exp0.n > in0->n && in1_size + exp0_size < expanded_compaction_limit(vs)) {
        st_slice new_start, new_limit;
        get_range(ucmp, &exp0, NULL, &new_start, &new_limit);
        rc = get_overlapping_inputs(v, level + 1, &new_start, &new_limit, &exp1);
        if (!rc) rc = add_boundary_inputs(ucmp, v, level + 1, &exp1);
        if (!rc && exp1.n == in1.n) {
          smallest = new_start;
          largest = new_limit;
          file_list t = *in0;
          *in0 = exp0;
          exp0 = t;
          t = in1;
          in1 = exp1;
          exp1 = t;
          get_range(ucmp, in0, &in1, &all_start, &all_limit);
        }
      }
    }
  }
  if (!rc && level + 2 < ST_NUM_LEVELS)
    rc = get_overlapping_inputs(v, level + 2, &all_start, &all_limit, &grand);
  if (!rc) {
    /* Start the next compaction of this level after this one's range, so
     * compactions rotate through the key space. */
    rc = st_buf_set(&vs->compact_pointer[level], largest.data, largest.size);
    if (!rc) rc = st_edit_set_compact_pointer(&c->edit, level, largest);
  }
  if (!rc) {
    take_list(&c->inputs[0], &c->ninputs[0], in0);
    take_list(&c->inputs[1], &c->ninputs[1], &in1);
    take_list(&c->grandparents, &c->ngrandparents, &grand);
  }
  list_free(&in1);
  list_free(&exp0);
  list_free(&exp1);
  list_free(&grand);
  return rc;
}

st_compaction *st_vset_pick_compaction(st_version_set *vs, int *rc) {
  st_version *cur = vs->current;
  *rc = 0;
  int level;
  file_list in0 = {0};
  st_compaction *c;
  if (cur->compaction_score >= 1) {
    level = cur->compaction_level;
    c = compaction_new(vs, level);
    if (!c) goto oom;
    /* First file after the level's compaction pointer, else wrap around. */
    for (int i = 0; i < cur->nfiles[level]; i++) {
      st_file_meta *f = cur->files[level][i];
      if (vs->compact_pointer[level].size == 0 ||
          st_icmp(vs->ucmp, f->largest, st_buf_slice(&vs->compact_pointer[level])) > 0) {
        if (list_push(&in0, f)) goto oom;
        break;
      }
    }
    if (in0.n == 0 && list_push(&in0, cur->files[level][0])) goto oom;
  } else if (cur->file_to_compact) {
    level = cur->file_to_compact_level;
    c = compaction_new(vs, level);
    if (!c || list_push(&in0, cur->file_to_compact)) goto oom;
  } else {
    return NULL;
  }
  if (level == 0) {
    /* L0 files overlap: take every one overlapping the chosen one. */
    st_slice smallest, largest;
    get_range(vs->ucmp, &in0, NULL, &smallest, &largest);
    if (get_overlapping_inputs(cur, 0, &smallest, &largest, &in0)) goto oom;
  }
  if ((*rc = setup_other_inputs(vs, c, &in0)) != 0) {
    list_free(&in0);
    st_compaction_free(c);
    return NULL;
  }
  list_free(&in0);
  return c;
oom:
  list_free(&in0);
  st_compaction_free(c);
  *rc = st_err(STRATA_ENOMEM, "picking compaction");
  return NULL;
}

st_compaction *st_vset_compact_range(st_version_set *vs, int level, const st_slice *begin,
                                     const st_slice *end, int *rc) {
  *rc = 0;
  file_list in = {0};
  if ((*rc = get_overlapping_inputs(vs->current, level, begin, end, &in)) != 0) return NULL;
  if (in.n == 0) {
    list_free(&in);
    return NULL;
  }
  /* Compact at most about one output file's worth of a deeper level at a
   * time, so a huge range does not become one huge compaction; the caller
   * loops. Level 0 files overlap, so all of them go. */
  if (level > 0) {
    int64_t total = 0;
    for (int i = 0; i < in.n; i++) {
      total += (int64_t)in.v[i]->file_size;
      if (total >= (int64_t)vs->max_file_size) {
        in.n = i + 1;
        break;
      }
    }
  }
  st_compaction *c = compaction_new(vs, level);
  if (!c) {
    list_free(&in);
    *rc = st_err(STRATA_ENOMEM, "compaction");
    return NULL;
  }
  if ((*rc = setup_other_inputs(vs, c, &in)) != 0) {
    st_compaction_free(c);
    c = NULL;
  }
  list_free(&in);
  return c;
}

int st_compaction_is_trivial_move(const st_compaction *c) {
  /* A single file with nothing to merge with can move down as it is --
   * unless that would leave it overlapping so much of level+2 that the
   * next compaction becomes expensive. */
  return c->ninputs[0] == 1 && c->ninputs[1] == 0 &&
         total_file_size(c->grandparents, c->ngrandparents) <=
             max_grandparent_overlap(c->input_version->vset);
}

int st_compaction_add_input_deletions(st_compaction *c) {
  for (int w = 0; w < 2; w++)
    for (int i = 0; i < c->ninputs[w]; i++)
      if (st_edit_delete_file(&c->edit, c->level + w, c->inputs[w][i]->number))
        return STRATA_ENOMEM;
  return 0;
}

int st_compaction_is_base_level_for_key(st_compaction *c, st_slice user_key) {
  st_version *v = c->input_version;
  const st_comparator *ucmp = v->vset->ucmp;
  /* Keys arrive in increasing order, so each level's pointer only moves
   * forward. */
  for (int lvl = c->level + 2; lvl < ST_NUM_LEVELS; lvl++) {
    st_file_meta **files = v->files[lvl];
    while (c->level_ptrs[lvl] < v->nfiles[lvl]) {
      st_file_meta *f = files[c->level_ptrs[lvl]];
      if (st_ucmp(ucmp, user_key, st_ikey_user(f->largest)) <= 0) {
        if (st_ucmp(ucmp, user_key, st_ikey_user(f->smallest)) >= 0) return 0;
        break;
      }
      c->level_ptrs[lvl]++;
    }
  }
  return 1;
}

int st_compaction_should_stop_before(st_compaction *c, st_slice ikey) {
  const st_comparator *ucmp = c->input_version->vset->ucmp;
  while (c->grandparent_index < c->ngrandparents &&
         st_icmp(ucmp, ikey, c->grandparents[c->grandparent_index]->largest) > 0) {
    if (c->seen_key)
      c->overlapped_bytes += (int64_t)c->grandparents[c->grandparent_index]->file_size;
    c->grandparent_index++;
  }
  c->seen_key = 1;
  if (c->overlapped_bytes > max_grandparent_overlap(c->input_version->vset)) {
    c->overlapped_bytes = 0;
    return 1;
  }
  return 0;
}

/* ------------------------------------------------------------------------ */
/* Level iterator: a sorted level's file list as an index for two_level    */
/* ------------------------------------------------------------------------ */

typedef struct level_iter {
  st_iter base;
  const st_comparator *ucmp;
  st_file_meta **files;
  int n;
  int idx;        /* n = not valid */
  char value[16]; /* number:fixed64 size:fixed64 of files[idx] */
} level_iter;

static int li_valid(const st_iter *it) {
  const level_iter *l = (const level_iter *)it;
  return l->idx >= 0 && l->idx < l->n;
}
static void li_fill(level_iter *l) {
  if (l->idx >= 0 && l->idx < l->n) {
    st_put_fixed64(l->value, l->files[l->idx]->number);
    st_put_fixed64(l->value + 8, l->files[l->idx]->file_size);
  }
}
static void li_first(st_iter *it) {
  level_iter *l = (level_iter *)it;
  l->idx = 0;
  li_fill(l);
}
static void li_last(st_iter *it) {
  level_iter *l = (level_iter *)it;
  l->idx = l->n - 1;
  li_fill(l);
}
static void li_seek(st_iter *it, st_slice target) {
  level_iter *l = (level_iter *)it;
  l->idx = find_file(l->ucmp, l->files, l->n, target);
  li_fill(l);
}
static void li_next(st_iter *it) {
  level_iter *l = (level_iter *)it;
  l->idx++;
  li_fill(l);
}
static void li_prev(st_iter *it) {
  level_iter *l = (level_iter *)it;
  l->idx = l->idx == 0 ? l->n : l->idx - 1;
  li_fill(l);
}
static st_slice li_key(const st_iter *it) {
  const level_iter *l = (const level_iter *)it;
  return l->files[l->idx]->largest;
}
static st_slice li_value(const st_iter *it) {
  const level_iter *l = (const level_iter *)it;
  return st_slice_make(l->value, 16);
}
static int li_status(const st_iter *it) {
  (void)it;
  return 0;
}
static void li_destroy(st_iter *it) { free(it); }

static const st_iter_ops level_iter_ops = {li_valid, li_first, li_last,  li_seek,   li_next,
                                           li_prev,  li_key,   li_value, li_status, li_destroy};

typedef struct level_arg {
  st_table_cache *tc;
  st_read_opts ro;
} level_arg;

static st_iter *open_level_file(void *arg, st_slice handle) {
  level_arg *a = arg;
  if (handle.size != 16) {
    st_err_corrupt("level iterator: bad file entry");
    return st_iter_empty(STRATA_ECORRUPTION);
  }
  return st_table_cache_iter(a->tc, &a->ro, st_get_fixed64(handle.data),
                             st_get_fixed64(handle.data + 8), NULL);
}

static void free_level_arg(void *a, void *unused) {
  (void)unused;
  free(a);
}

/* A concatenating iterator over a non-overlapping, sorted file list. The
 * files array must outlive it (the caller holds the version). */
static st_iter *concat_iter(st_version_set *vs, const st_read_opts *ro, st_file_meta **files,
                            int n) {
  level_iter *l = calloc(1, sizeof *l);
  level_arg *a = malloc(sizeof *a);
  if (!l || !a) {
    free(l);
    free(a);
    return NULL;
  }
  st_iter_init(&l->base, &level_iter_ops);
  l->ucmp = vs->ucmp;
  l->files = files;
  l->n = n;
  l->idx = n;
  a->tc = vs->tc;
  a->ro = *ro;
  st_iter *it = st_two_level_iter_new(&l->base, open_level_file, a);
  if (!it) {
    free(a);
    return NULL;
  }
  st_iter_on_destroy(it, free_level_arg, a, NULL);
  return it;
}

static int push_iter(st_iter ***iters, int *n, int *cap, st_iter *it) {
  if (!it) return st_err(STRATA_ENOMEM, "iterator");
  if (*n == *cap) {
    int c = *cap ? *cap * 2 : 8;
    st_iter **v = realloc(*iters, (size_t)c * sizeof *v);
    if (!v) {
      st_iter_destroy(it);
      return st_err(STRATA_ENOMEM, "iterator");
    }
    *iters = v;
    *cap = c;
  }
  (*iters)[(*n)++] = it;
  return 0;
}

int st_version_add_iterators(st_version *v, const st_read_opts *ro, st_iter ***iters, int *n,
                             int *cap) {
  st_version_set *vs = v->vset;
  for (int i = 0; i < v->nfiles[0]; i++) {
    st_file_meta *f = v->files[0][i];
    int rc =
        push_iter(iters, n, cap, st_table_cache_iter(vs->tc, ro, f->number, f->file_size, NULL));
    if (rc) return rc;
  }
  for (int l = 1; l < ST_NUM_LEVELS; l++) {
    if (v->nfiles[l] == 0) continue;
    int rc = push_iter(iters, n, cap, concat_iter(vs, ro, v->files[l], v->nfiles[l]));
    if (rc) return rc;
  }
  return 0;
}

st_iter *st_vset_make_input_iterator(st_version_set *vs, st_compaction *c) {
  st_read_opts ro = {vs->paranoid_checks, 0};
  st_iter **iters = NULL;
  int n = 0, cap = 0, rc = 0;
  for (int w = 0; w < 2 && !rc; w++) {
    if (c->ninputs[w] == 0) continue;
    if (c->level + w == 0) {
      for (int i = 0; i < c->ninputs[w] && !rc; i++) {
        st_file_meta *f = c->inputs[w][i];
        rc = push_iter(&iters, &n, &cap,
                       st_table_cache_iter(vs->tc, &ro, f->number, f->file_size, NULL));
      }
    } else {
      rc = push_iter(&iters, &n, &cap, concat_iter(vs, &ro, c->inputs[w], c->ninputs[w]));
    }
  }
  if (rc) {
    for (int i = 0; i < n; i++)
      st_iter_destroy(iters[i]);
    free(iters);
    return NULL;
  }
  st_iter *m = st_merging_iter_new(vs->ucmp, iters, n);
  free(iters);
  return m;
}

/* ------------------------------------------------------------------------ */
/* Point lookups                                                            */
/* ------------------------------------------------------------------------ */

typedef struct saver {
  const st_comparator *ucmp;
  st_slice user_key;
  st_buf *val;
  int state; /* ST_MEM_ABSENT / FOUND / DELETED */
  const char *path_hint;
} saver;

static int save_value(void *arg, st_slice k, st_slice v) {
  saver *s = arg;
  st_parsed_ikey pk;
  if (!st_ikey_parse(k, &pk)) return st_err_corrupt("table holds a malformed internal key");
  if (st_ucmp(s->ucmp, pk.user_key, s->user_key) != 0) return 0;
  if (pk.type == ST_TYPE_VALUE) {
    if (st_buf_set(s->val, v.data, v.size)) return STRATA_ENOMEM;
    s->state = ST_MEM_FOUND;
  } else {
    s->state = ST_MEM_DELETED;
  }
  return 0;
}

static int cmp_newest_first(const void *a, const void *b) {
  const st_file_meta *fa = *(st_file_meta *const *)a, *fb = *(st_file_meta *const *)b;
  return fa->number > fb->number ? -1 : (fa->number < fb->number);
}

int st_version_get(st_version *v, const st_read_opts *ro, st_slice lookup_ikey, st_buf *val,
                   st_get_stats *stats) {
  st_version_set *vs = v->vset;
  const st_comparator *ucmp = vs->ucmp;
  saver s = {ucmp, st_ikey_user(lookup_ikey), val, ST_MEM_ABSENT, NULL};
  /* A read that has to look in more than one file charges the first one a
   * seek: a file charged too often is compacted away (seek compaction). */
  st_file_meta *last_read = NULL;
  int last_level = -1;
  stats->seek_file = NULL;
  stats->seek_level = -1;
#define CHARGE(f, lvl)                                                                             \
  do {                                                                                             \
    if (!stats->seek_file && last_read) {                                                          \
      stats->seek_file = last_read;                                                                \
      stats->seek_level = last_level;                                                              \
    }                                                                                              \
    last_read = (f);                                                                               \
    last_level = (lvl);                                                                            \
  } while (0)

  /* Level 0: every file whose range holds the key, newest first. */
  if (v->nfiles[0] > 0) {
    st_file_meta *stackv[16];
    st_file_meta **tmp = stackv;
    if (v->nfiles[0] > 16) {
      tmp = malloc((size_t)v->nfiles[0] * sizeof *tmp);
      if (!tmp) return st_err(STRATA_ENOMEM, "lookup");
    }
    int nt = 0;
    for (int i = 0; i < v->nfiles[0]; i++) {
      st_file_meta *f = v->files[0][i];
      if (st_ucmp(ucmp, s.user_key, st_ikey_user(f->smallest)) >= 0 &&
          st_ucmp(ucmp, s.user_key, st_ikey_user(f->largest)) <= 0)
        tmp[nt++] = f;
    }
    if (nt > 1) qsort(tmp, (size_t)nt, sizeof *tmp, cmp_newest_first);
    int rc = 0;
    for (int i = 0; i < nt && !rc && s.state == ST_MEM_ABSENT; i++) {
      CHARGE(tmp[i], 0);
      rc = st_table_cache_get(vs->tc, ro, tmp[i]->number, tmp[i]->file_size, lookup_ikey, &s,
                              save_value);
    }
    if (tmp != stackv) free(tmp);
    if (rc) return rc;
    if (s.state != ST_MEM_ABSENT) return s.state;
  }
  /* Deeper levels: at most one file per level can hold the key. */
  for (int l = 1; l < ST_NUM_LEVELS; l++) {
    int n = v->nfiles[l];
    if (n == 0) continue;
    int idx = find_file(ucmp, v->files[l], n, lookup_ikey);
    if (idx >= n) continue;
    st_file_meta *f = v->files[l][idx];
    if (st_ucmp(ucmp, s.user_key, st_ikey_user(f->smallest)) < 0) continue;
    CHARGE(f, l);
    int rc = st_table_cache_get(vs->tc, ro, f->number, f->file_size, lookup_ikey, &s, save_value);
    if (rc) return rc;
    if (s.state != ST_MEM_ABSENT) return s.state;
  }
  return ST_MEM_ABSENT;
#undef CHARGE
}

int st_version_charge_seek(const st_get_stats *stats) {
  st_file_meta *f = stats->seek_file;
  return f && atomic_fetch_sub_explicit(&f->allowed_seeks, 1, memory_order_relaxed) == 1;
}

void st_version_mark_seek_compaction(st_version *v, const st_get_stats *stats) {
  if (v->file_to_compact == NULL) {
    v->file_to_compact = stats->seek_file;
    v->file_to_compact_level = stats->seek_level;
  }
}

uint64_t st_version_approximate_offset(st_version *v, st_slice ikey) {
  const st_comparator *ucmp = v->vset->ucmp;
  uint64_t result = 0;
  for (int l = 0; l < ST_NUM_LEVELS; l++) {
    for (int i = 0; i < v->nfiles[l]; i++) {
      st_file_meta *f = v->files[l][i];
      if (st_icmp(ucmp, f->largest, ikey) <= 0) {
        result += f->file_size; /* entirely before ikey */
      } else if (st_icmp(ucmp, f->smallest, ikey) > 0) {
        /* Entirely after; in a sorted level so are all later files. */
        if (l > 0) break;
      } else {
        result += st_table_cache_approximate_offset(v->vset->tc, f->number, f->file_size, ikey);
      }
    }
  }
  return result;
}
