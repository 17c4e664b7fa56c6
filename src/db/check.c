/*
 * check.c - strata_check(): reads every file of a database, verifying
 * checksums and formats, and reports each problem found.
 *
 * Under the database's LOCK it checks, in order:
 *  - CURRENT: present, newline-terminated, naming an existing MANIFEST;
 *  - that MANIFEST, record by record (checksums, then each version edit's
 *    encoding and comparator name), and that every table it leaves live
 *    exists with the size it records;
 *  - every table in the directory: that it opens, every data block (through
 *    st_table_scan), the metaindex and every meta block it names, that keys
 *    are well-formed internal keys in increasing order, and that they lie
 *    within the range the MANIFEST records for the table;
 *  - every log: record checksums, and that each record is a well-formed
 *    write batch.
 * When CURRENT and the MANIFEST are intact they say which tables and logs
 * the database uses; the others are leftovers (a compaction cut short by a
 * crash or a close, a log already flushed) that the next open deletes, so
 * their contents are not checked. With a damaged MANIFEST every file is
 * checked, as strata_repair() would use every file.
 *
 * Nothing read is trusted: every parser used bounds-checks its input, so
 * arbitrary bytes in any file produce reports, not crashes. Problems with
 * one file (including a read error) are reported and the check goes on;
 * only running out of memory, or failing to list the directory, stops it.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/filename.h"
#include "db/log_reader.h"
#include "db/version_edit.h"
#include "db/write_batch.h"
#include "env/env.h"
#include "table/block.h"
#include "table/format.h"
#include "table/table.h"
#include "util/error.h"
#include "util/internal_key.h"

/* A table the MANIFEST leaves live (an add not cancelled by a delete). */
typedef struct named_table {
  int level;
  uint64_t number;
  uint64_t file_size;
  st_buf smallest, largest;
  int live;
} named_table;

typedef struct found_file {
  uint64_t number;
  char *name;
  const named_table *named; /* tables: the MANIFEST's record, or NULL */
} found_file;

typedef struct checker {
  const char *dbname;
  st_env *env;
  const st_comparator *ucmp;
  st_table_options topt;
  strata_check_fn report;
  void *arg;
  uint64_t problems;
  named_table *named;
  size_t nnamed, capnamed;
  st_edit_deleted *deleted;
  size_t ndeleted, capdeleted;
  found_file *tables, *logs;
  size_t ntables, nlogs;
  /* The MANIFEST's log numbers: logs below log_number (other than
   * prev_log_number) have been flushed to tables. */
  uint64_t log_number, prev_log_number;
} checker;

/* ---- reporting ------------------------------------------------------------ */

static void problem(checker *c, const char *file, uint64_t offset, int code, const char *fmt, ...)
    ST_PRINTF(5, 6);

static void problem(checker *c, const char *file, uint64_t offset, int code, const char *fmt, ...) {
  c->problems++;
  if (!c->report) return;
  char what[ST_ERRMSG_MAX + 64];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(what, sizeof what, fmt, ap);
  va_end(ap);
  c->report(c->arg, file, offset, code, what);
}

/* A library message ("Corruption: /db/000005.ldb: bad magic number") without
 * its kind and file name, which the report carries separately. */
static const char *strip_msg(const char *msg, const char *path) {
  const char *p = strstr(msg, ": ");
  if (p && p - msg < 24 && !memchr(msg, '/', (size_t)(p - msg))) msg = p + 2;
  size_t n = strlen(path);
  if (n && strncmp(msg, path, n) == 0 && msg[n] == ':' && msg[n + 1] == ' ') msg += n + 2;
  return msg;
}

static char *path_join(const char *dir, const char *name) {
  size_t a = strlen(dir), b = strlen(name);
  char *p = malloc(a + b + 2);
  if (!p) return NULL;
  memcpy(p, dir, a);
  p[a] = '/';
  memcpy(p + a + 1, name, b + 1);
  return p;
}

static int cmp_found(const void *a, const void *b) {
  uint64_t x = ((const found_file *)a)->number, y = ((const found_file *)b)->number;
  return x < y ? -1 : (x > y);
}

/* ---- CURRENT ------------------------------------------------------------- */

/* Sets *number to the MANIFEST CURRENT names, if it names one that exists;
 * returns 0 or a fatal error. */
static int check_current(checker *c, int *have, uint64_t *number) {
  *have = 0;
  char *cur = st_current_file_name(c->dbname);
  if (!cur) return st_err(STRATA_ENOMEM, "file name");
  st_buf text = ST_BUF_INIT;
  int rc = st_env_read_file(c->env, cur, &text);
  st_file_type type;
  if (rc == STRATA_ENOTFOUND) {
    problem(c, cur, 0, STRATA_ECORRUPTION, "missing: no MANIFEST is named");
    rc = 0;
  } else if (rc && rc != STRATA_ENOMEM) {
    problem(c, cur, 0, rc, "%s", strip_msg(st_errmsg(), cur));
    rc = 0;
  } else if (rc) {
    /* out of memory: stops the check */
  } else if (text.size == 0 || text.data[text.size - 1] != '\n') {
    problem(c, cur, 0, STRATA_ECORRUPTION, "does not end with a newline");
  } else {
    text.data[text.size - 1] = '\0';
    if (memchr(text.data, '\0', text.size - 1) || !st_parse_file_name(text.data, number, &type) ||
        type != ST_FILE_MANIFEST) {
      problem(c, cur, 0, STRATA_ECORRUPTION, "does not name a MANIFEST file");
    } else {
      char *m = st_manifest_file_name(c->dbname, *number);
      if (!m)
        rc = st_err(STRATA_ENOMEM, "file name");
      else if (!c->env->exists(c->env, m))
        problem(c, cur, 0, STRATA_ECORRUPTION, "names %s, which does not exist", text.data);
      else
        *have = 1;
      free(m);
    }
  }
  st_buf_free(&text);
  free(cur);
  return rc;
}

/* ---- MANIFEST -------------------------------------------------------------- */

typedef struct log_ctx {
  checker *c;
  const char *path;
} log_ctx;

static void on_damage(void *arg, uint64_t offset, size_t bytes, const char *reason) {
  log_ctx *l = arg;
  problem(l->c, l->path, offset, STRATA_ECORRUPTION, "%s (%zu bytes dropped)", reason, bytes);
}

static int add_named(checker *c, const st_edit_file *f) {
  if (c->nnamed == c->capnamed) {
    size_t cap = c->capnamed ? c->capnamed * 2 : 64;
    named_table *v = realloc(c->named, cap * sizeof *v);
    if (!v) return st_err(STRATA_ENOMEM, "check");
    c->named = v;
    c->capnamed = cap;
  }
  named_table *t = &c->named[c->nnamed];
  t->level = f->level;
  t->number = f->number;
  t->file_size = f->file_size;
  t->smallest = (st_buf)ST_BUF_INIT;
  t->largest = (st_buf)ST_BUF_INIT;
  t->live = 1;
  if (st_buf_set(&t->smallest, f->smallest.data, f->smallest.size) ||
      st_buf_set(&t->largest, f->largest.data, f->largest.size)) {
    st_buf_free(&t->smallest);
    return STRATA_ENOMEM;
  }
  c->nnamed++;
  return 0;
}

static int add_deleted(checker *c, const st_edit_deleted *d) {
  if (c->ndeleted == c->capdeleted) {
    size_t cap = c->capdeleted ? c->capdeleted * 2 : 64;
    st_edit_deleted *v = realloc(c->deleted, cap * sizeof *v);
    if (!v) return st_err(STRATA_ENOMEM, "check");
    c->deleted = v;
    c->capdeleted = cap;
  }
  c->deleted[c->ndeleted++] = *d;
  return 0;
}

static int cmp_named(const void *a, const void *b) {
  const named_table *x = a, *y = b;
  if (x->number != y->number) return x->number < y->number ? -1 : 1;
  return (x->level > y->level) - (x->level < y->level);
}

static int cmp_deleted(const void *a, const void *b) {
  const st_edit_deleted *x = a, *y = b;
  if (x->number != y->number) return x->number < y->number ? -1 : 1;
  return (x->level > y->level) - (x->level < y->level);
}

/* Marks the adds that a delete of the same (number, level) cancels. File
 * numbers are never reused, so order between edits does not matter; a
 * table moved down a level is a delete at one level plus an add at the
 * next. */
static void settle_named(checker *c) {
  if (c->nnamed > 1) qsort(c->named, c->nnamed, sizeof *c->named, cmp_named);
  if (c->ndeleted > 1) qsort(c->deleted, c->ndeleted, sizeof *c->deleted, cmp_deleted);
  size_t j = 0;
  for (size_t i = 0; i < c->nnamed; i++) {
    named_table *t = &c->named[i];
    st_edit_deleted key = {t->level, t->number};
    while (j < c->ndeleted && cmp_deleted(&c->deleted[j], &key) < 0)
      j++;
    if (j < c->ndeleted && cmp_deleted(&c->deleted[j], &key) == 0) t->live = 0;
  }
}

/* Opens path to read it from the start. A file that cannot be opened is a
 * problem reported here (then *file is NULL and 0 is returned); only running
 * out of memory stops the check. */
static int open_seq(checker *c, const char *path, st_seqfile **file) {
  *file = NULL;
  int rc = c->env->new_seqfile(c->env, path, file);
  if (rc == 0 || rc == STRATA_ENOMEM) return rc;
  problem(c, path, 0, rc, "%s", strip_msg(st_errmsg(), path));
  return 0;
}

static int check_manifest(checker *c, uint64_t number) {
  char *path = st_manifest_file_name(c->dbname, number);
  if (!path) return st_err(STRATA_ENOMEM, "file name");
  st_seqfile *file = NULL;
  int rc = open_seq(c, path, &file);
  if (!file) {
    free(path);
    return rc;
  }
  log_ctx lc = {c, path};
  st_log_reader *reader = st_log_reader_new(file, 1, on_damage, &lc);
  if (!reader) rc = st_err(STRATA_ENOMEM, "manifest reader");
  int have_log = 0, have_next = 0, have_seq = 0, records = 0;
  while (!rc) {
    st_slice record;
    int got = st_log_read_record(reader, &record);
    if (got == STRATA_ENOMEM)
      rc = got;
    else if (got < 0)
      problem(c, path, st_log_end_offset(reader), got, "%s", strip_msg(st_errmsg(), path));
    if (got <= 0) break;
    records++;
    uint64_t off = st_log_last_record_offset(reader);
    st_version_edit e;
    st_edit_init(&e);
    int drc = st_edit_decode(&e, record);
    if (drc == STRATA_ENOMEM) {
      rc = drc;
    } else if (drc) {
      problem(c, path, off, STRATA_ECORRUPTION, "bad version edit: %s",
              strip_msg(st_errmsg(), path));
    } else {
      if (e.comparator && strcmp(e.comparator, c->ucmp->name) != 0)
        problem(c, path, off, STRATA_EINVAL, "comparator %s does not match the one given (%s)",
                e.comparator, c->ucmp->name);
      have_log |= e.has_log_number;
      if (e.has_log_number) c->log_number = e.log_number;
      if (e.has_prev_log_number) c->prev_log_number = e.prev_log_number;
      have_next |= e.has_next_file;
      have_seq |= e.has_last_sequence;
      for (size_t i = 0; !rc && i < e.n_deleted; i++)
        rc = add_deleted(c, &e.deleted[i]);
      for (size_t i = 0; !rc && i < e.n_files; i++)
        rc = add_named(c, &e.files[i]);
    }
    st_edit_clear(&e);
  }
  st_log_reader_free(reader);
  file->close(file);
  if (!rc && records == 0)
    problem(c, path, 0, STRATA_ECORRUPTION, "holds no readable version edit");
  else if (!rc && (!have_log || !have_next || !have_seq))
    problem(c, path, 0, STRATA_ECORRUPTION, "no %s entry",
            !have_next  ? "next-file-number"
            : !have_log ? "log-number"
                        : "last-sequence");
  free(path);
  if (!rc) settle_named(c);
  return rc;
}

/* ---- tables -------------------------------------------------------------------- */

typedef struct table_check {
  checker *c;
  const char *path;
  uint64_t entries;
  uint64_t bad_keys, unordered, bad_blocks;
  st_buf first, last;
} table_check;

static int check_entry(void *arg, st_slice k, st_slice v) {
  table_check *t = arg;
  (void)v;
  st_parsed_ikey p;
  if (!st_ikey_parse(k, &p)) {
    t->bad_keys++;
    return 0;
  }
  if (t->entries && st_icmp(t->c->ucmp, k, st_buf_slice(&t->last)) <= 0) t->unordered++;
  if (t->entries == 0 && st_buf_set(&t->first, k.data, k.size)) return STRATA_ENOMEM;
  if (st_buf_set(&t->last, k.data, k.size)) return STRATA_ENOMEM;
  t->entries++;
  return 0;
}

static void check_bad_block(void *arg, uint64_t offset, int code, const char *what) {
  table_check *t = arg;
  t->bad_blocks++;
  problem(t->c, t->path, offset, code, "%s", strip_msg(what ? what : "bad block", t->path));
}

/* The metaindex and the meta blocks it names (e.g. a bloom filter): a
 * table opens without them, so only reading them finds their damage. */
static int check_meta_blocks(checker *c, const char *path, uint64_t file_size) {
  st_rafile *file = NULL;
  int rc = c->env->new_rafile(c->env, path, &file);
  if (rc) return rc == STRATA_ENOMEM ? rc : 0; /* the open of the table saw it */
  char buf[ST_FOOTER_SIZE];
  st_slice got = {NULL, 0};
  st_footer footer;
  st_block_contents cont;
  if (file->read(file, file_size - ST_FOOTER_SIZE, ST_FOOTER_SIZE, buf, &got) != 0 ||
      got.size != ST_FOOTER_SIZE || st_footer_decode(got.data, path, &footer) != 0) {
    file->close(file);
    st_err_clear();
    return 0; /* the table's open reported the footer */
  }
  rc = st_read_block(file, path, file_size, &footer.metaindex, 1, &cont);
  if (rc) {
    if (rc != STRATA_ENOMEM) {
      problem(c, path, footer.metaindex.offset, rc, "metaindex block: %s",
              strip_msg(st_errmsg(), path));
      rc = 0;
    }
    file->close(file);
    return rc;
  }
  st_block meta;
  st_block_init(&meta, &cont, path, footer.metaindex.offset);
  st_block_iter it;
  st_block_iter_init(&it, &meta, NULL);
  for (st_iter_seek_to_first(&it.base); !rc && st_iter_valid(&it.base); st_iter_next(&it.base)) {
    st_slice k = st_iter_key(&it.base), v = st_iter_value(&it.base);
    st_block_handle h;
    if (!st_block_handle_decode(v.data, v.data + v.size, &h)) {
      problem(c, path, footer.metaindex.offset, STRATA_ECORRUPTION,
              "metaindex block: bad handle for meta block \"%.*s\"",
              (int)(k.size > 64 ? 64 : k.size), k.data);
      continue;
    }
    st_block_contents mb;
    int brc = st_read_block(file, path, file_size, &h, 1, &mb);
    if (brc == STRATA_ENOMEM)
      rc = brc;
    else if (brc)
      problem(c, path, h.offset, brc, "meta block \"%.*s\": %s", (int)(k.size > 64 ? 64 : k.size),
              k.data, strip_msg(st_errmsg(), path));
    else
      st_block_contents_free(&mb);
  }
  int s = st_iter_status(&it.base);
  if (!rc && s)
    problem(c, path, footer.metaindex.offset, s, "metaindex block: %s",
            strip_msg(st_errmsg(), path));
  st_block_iter_fini(&it);
  st_block_release(&meta);
  file->close(file);
  return rc;
}

static int check_table(checker *c, const found_file *f) {
  char *path = path_join(c->dbname, f->name);
  if (!path) return st_err(STRATA_ENOMEM, "file name");
  uint64_t size = 0;
  st_table *tbl = NULL;
  int rc = st_table_open_path(c->env, &c->topt, path, &size, &tbl);
  if (rc) {
    if (rc != STRATA_ENOMEM) {
      problem(c, path, 0, rc, "cannot open table: %s", strip_msg(st_errmsg(), path));
      rc = 0;
    }
    free(path);
    return rc;
  }
  table_check t = {c, path, 0, 0, 0, 0, ST_BUF_INIT, ST_BUF_INIT};
  int64_t n = st_table_scan(tbl, &t, check_entry, check_bad_block);
  st_table_close(tbl);
  if (n == STRATA_ENOMEM) {
    rc = (int)n;
  } else if (n < 0 && t.bad_blocks == 0) {
    problem(c, path, 0, (int)n, "scan stopped: %s", strip_msg(st_errmsg(), path));
  }
  if (!rc && t.bad_keys)
    problem(c, path, 0, STRATA_ECORRUPTION, "%llu entries with malformed internal keys",
            (unsigned long long)t.bad_keys);
  if (!rc && t.unordered)
    problem(c, path, 0, STRATA_ECORRUPTION, "%llu entries out of key order",
            (unsigned long long)t.unordered);
  const named_table *nt = f->named;
  /* A table the MANIFEST names must hold only keys in the recorded range,
   * or lookups routed by that range miss them. */
  if (!rc && nt && t.entries && nt->smallest.size >= 8 && nt->largest.size >= 8 &&
      (st_icmp(c->ucmp, st_buf_slice(&t.first), st_buf_slice(&nt->smallest)) < 0 ||
       st_icmp(c->ucmp, st_buf_slice(&t.last), st_buf_slice(&nt->largest)) > 0))
    problem(c, path, 0, STRATA_ECORRUPTION,
            "holds keys outside the range the MANIFEST records for it");
  if (!rc) rc = check_meta_blocks(c, path, size);
  st_buf_free(&t.first);
  st_buf_free(&t.last);
  free(path);
  return rc;
}

/* Tables the MANIFEST leaves live: each must exist with its recorded size.
 * Also links each found table to its MANIFEST record. */
static int check_named_tables(checker *c) {
  for (size_t i = 0; i < c->nnamed; i++) {
    const named_table *nt = &c->named[i];
    if (!nt->live) continue;
    found_file key = {nt->number, NULL, NULL};
    found_file *f =
        c->ntables ? bsearch(&key, c->tables, c->ntables, sizeof *c->tables, cmp_found) : NULL;
    if (!f) {
      char *p = st_table_file_name(c->dbname, nt->number);
      if (!p) return st_err(STRATA_ENOMEM, "file name");
      problem(c, p, 0, STRATA_ECORRUPTION, "named by the MANIFEST (level %d) but missing",
              nt->level);
      free(p);
      continue;
    }
    f->named = nt;
    char *p = path_join(c->dbname, f->name);
    if (!p) return st_err(STRATA_ENOMEM, "file name");
    uint64_t size = 0;
    if (c->env->file_size(c->env, p, &size) == 0 && size != nt->file_size)
      problem(c, p, 0, STRATA_ECORRUPTION, "size is %llu bytes, the MANIFEST records %llu",
              (unsigned long long)size, (unsigned long long)nt->file_size);
    st_err_clear();
    free(p);
  }
  return 0;
}

/* ---- logs ---------------------------------------------------------------------- */

static int check_log(checker *c, const found_file *f) {
  char *path = path_join(c->dbname, f->name);
  if (!path) return st_err(STRATA_ENOMEM, "file name");
  st_seqfile *file = NULL;
  int rc = open_seq(c, path, &file);
  if (!file) {
    free(path);
    return rc;
  }
  log_ctx lc = {c, path};
  st_log_reader *reader = st_log_reader_new(file, 1, on_damage, &lc);
  strata_batch batch;
  int have_batch = 0;
  if (!reader) rc = st_err(STRATA_ENOMEM, "log reader");
  if (!rc) {
    rc = st_batch_init(&batch);
    have_batch = !rc;
  }
  while (!rc) {
    st_slice record;
    int got = st_log_read_record(reader, &record);
    if (got == STRATA_ENOMEM)
      rc = got;
    else if (got < 0)
      problem(c, path, st_log_end_offset(reader), got, "%s", strip_msg(st_errmsg(), path));
    if (got <= 0) break;
    uint64_t off = st_log_last_record_offset(reader);
    if (record.size < ST_BATCH_HEADER) {
      problem(c, path, off, STRATA_ECORRUPTION,
              "record of %zu bytes is too small for a write batch", record.size);
      continue;
    }
    rc = st_batch_set_contents(&batch, record);
    if (!rc && st_batch_validate(&batch) != 0)
      problem(c, path, off, STRATA_ECORRUPTION, "malformed write batch: %s",
              strip_msg(st_errmsg(), path));
  }
  if (have_batch) st_batch_release(&batch);
  st_log_reader_free(reader);
  file->close(file);
  free(path);
  return rc;
}

/* ---- entry point ------------------------------------------------------------- */

static int list_files(checker *c) {
  char **names = NULL;
  size_t n = 0;
  int rc = c->env->children(c->env, c->dbname, &names, &n);
  if (rc) return rc;
  c->tables = calloc(n + 1, sizeof *c->tables);
  c->logs = calloc(n + 1, sizeof *c->logs);
  if (!c->tables || !c->logs) rc = st_err(STRATA_ENOMEM, "check");
  for (size_t i = 0; i < n && !rc; i++) {
    uint64_t number;
    st_file_type type;
    if (!st_parse_file_name(names[i], &number, &type)) continue;
    found_file *dst = NULL;
    if (type == ST_FILE_TABLE)
      dst = &c->tables[c->ntables++];
    else if (type == ST_FILE_LOG)
      dst = &c->logs[c->nlogs++];
    else
      continue;
    dst->number = number;
    dst->named = NULL;
    dst->name = strdup(names[i]);
    if (!dst->name) rc = st_err(STRATA_ENOMEM, "check");
  }
  st_env_free_children(names, n);
  if (c->ntables > 1) qsort(c->tables, c->ntables, sizeof *c->tables, cmp_found);
  if (c->nlogs > 1) qsort(c->logs, c->nlogs, sizeof *c->logs, cmp_found);
  return rc;
}

static void checker_free(checker *c) {
  for (size_t i = 0; i < c->nnamed; i++) {
    st_buf_free(&c->named[i].smallest);
    st_buf_free(&c->named[i].largest);
  }
  free(c->named);
  free(c->deleted);
  for (size_t i = 0; c->tables && i < c->ntables; i++)
    free(c->tables[i].name);
  for (size_t i = 0; c->logs && i < c->nlogs; i++)
    free(c->logs[i].name);
  free(c->tables);
  free(c->logs);
}

int strata_check(const char *path, const strata_options *opt, strata_check_fn report, void *arg,
                 uint64_t *problems) {
  if (problems) *problems = 0;
  if (!path) return st_err(STRATA_EMISUSE, "strata_check: NULL path");
  checker c;
  memset(&c, 0, sizeof c);
  c.dbname = path;
  c.env = (opt && opt->env) ? opt->env : st_env_posix();
  c.ucmp = st_comparator_of(opt ? opt->comparator : NULL);
  c.report = report;
  c.arg = arg;
  c.topt.ucmp = c.ucmp;
  c.topt.block_size = 4096;
  c.topt.restart_interval = 16;
  st_env *env = c.env;
  if (!env->exists(env, path) || !env->is_dir(env, path) || !st_dir_has_database_files(env, path)) {
    st_err_clear();
    return st_err(STRATA_EINVAL, "%s: no database to check", path);
  }
  char *lockname = st_lock_file_name(path);
  if (!lockname) return st_err(STRATA_ENOMEM, "strata_check");
  st_filelock *lock = NULL;
  int rc = env->lock_file(env, lockname, &lock);
  free(lockname);
  if (rc) return rc;

  int have_manifest = 0;
  uint64_t manifest = 0;
  rc = list_files(&c);
  if (!rc) rc = check_current(&c, &have_manifest, &manifest);
  if (!rc && have_manifest) rc = check_manifest(&c, manifest);
  /* Only an intact MANIFEST can tell leftovers from live files. */
  int trusted = !rc && have_manifest && c.problems == 0;
  if (!rc) rc = check_named_tables(&c);
  for (size_t i = 0; !rc && i < c.ntables; i++)
    if (!trusted || c.tables[i].named) rc = check_table(&c, &c.tables[i]);
  for (size_t i = 0; !rc && i < c.nlogs; i++) {
    uint64_t n = c.logs[i].number;
    if (!trusted || n >= c.log_number || n == c.prev_log_number) rc = check_log(&c, &c.logs[i]);
  }
  env->unlock_file(env, lock);
  if (problems) *problems = c.problems;
  checker_free(&c);
  if (rc) return rc;
  if (c.problems)
    return st_err_corrupt("%s: %llu problem%s found", path, (unsigned long long)c.problems,
                          c.problems == 1 ? "" : "s");
  st_err_clear();
  return 0;
}
