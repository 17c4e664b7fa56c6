/*
 * repair.c - strata_repair(): rebuilds a database's MANIFEST from the logs
 * and tables found in its directory (the idea of LevelDB's RepairDB).
 *
 * Everything happens under the database's LOCK:
 *  1. List the directory. New files are numbered past every number used by
 *     a database file there or in <db>/lost/, so nothing a repair writes can
 *     collide with a file an earlier repair set aside.
 *  2. Replay every log, oldest first, into memtables (checksums verified;
 *     damaged records and malformed batches dropped) and write them out as
 *     new tables. The logs stay in place until step 4.
 *  3. Scan every table block by block. An intact table is kept as it is. A
 *     table with unreadable blocks, or keys that are malformed or out of
 *     order, is copied (readable entries only) to a new file that then takes
 *     the original's number -- keeping its place in level 0's newest-first
 *     order -- and the original goes to lost/. A table that cannot be opened
 *     or scanned at all goes to lost/.
 *  4. Write MANIFEST-<n> naming every kept table at level 0, point CURRENT
 *     at it, then move the converted logs and the old MANIFESTs to lost/.
 *  5. Level-0 lookups take the first table, by descending file number, that
 *     holds the key. Tables that came from deeper levels can break that
 *     order (an older version of a key in a higher-numbered table), so when
 *     the kept tables could do that the repaired database is compacted once,
 *     which merges them by sequence number.
 *
 * The new MANIFEST's log number is the next file number rather than
 * LevelDB's 0: every log present has been turned into a table, so if a
 * crash (or a failed rename) leaves a log behind after CURRENT has been
 * switched, the next open must not replay it a second time.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/builder.h"
#include "db/filename.h"
#include "db/log_reader.h"
#include "db/log_writer.h"
#include "db/memtable.h"
#include "db/table_cache.h"
#include "db/version_edit.h"
#include "db/write_batch.h"
#include "env/env.h"
#include "table/block.h"
#include "table/format.h"
#include "table/table.h"
#include "table/table_builder.h"
#include "util/error.h"
#include "util/internal_key.h"

#define LOST_DIR "lost"

/* A log or table file found in the directory. */
typedef struct found_file {
  uint64_t number;
  char *name; /* entry name in the database directory */
} found_file;

typedef struct file_list {
  found_file *v;
  size_t n, cap;
} file_list;

/* A table the new MANIFEST will name. */
typedef struct kept_table {
  uint64_t number;
  uint64_t file_size;
  uint64_t entries;
  uint64_t min_seq, max_seq;
  st_buf smallest, largest; /* internal keys */
} kept_table;

typedef struct repairer {
  const char *dbname;
  st_env *env;
  const st_comparator *ucmp;
  st_table_options topt;
  st_table_cache *tc; /* st_build_table reads back what it wrote through it */
  size_t write_buffer_size;
  uint64_t next_number;
  char *lost_dir;
  int lost_ready;
  file_list logs, tables, manifests;
  kept_table *kept;
  size_t nkept, capkept;
  strata_repair_report rep;
} repairer;

/* ---- small helpers ------------------------------------------------------ */

static char *path_join(const char *dir, const char *name) {
  size_t a = strlen(dir), b = strlen(name);
  char *p = malloc(a + b + 2);
  if (!p) return NULL;
  memcpy(p, dir, a);
  p[a] = '/';
  memcpy(p + a + 1, name, b + 1);
  return p;
}

static int list_add(file_list *l, uint64_t number, const char *name) {
  if (l->n == l->cap) {
    size_t cap = l->cap ? l->cap * 2 : 16;
    found_file *v = realloc(l->v, cap * sizeof *v);
    if (!v) return st_err(STRATA_ENOMEM, "repair: file list");
    l->v = v;
    l->cap = cap;
  }
  char *copy = strdup(name);
  if (!copy) return st_err(STRATA_ENOMEM, "repair: file list");
  l->v[l->n].number = number;
  l->v[l->n].name = copy;
  l->n++;
  return 0;
}

static void list_free(file_list *l) {
  for (size_t i = 0; i < l->n; i++)
    free(l->v[i].name);
  free(l->v);
}

/* By number, then name: of NNNNNN.ldb and NNNNNN.sst the .sst sorts second
 * and is the one renumbered (see find_files). */
static int cmp_found(const void *a, const void *b) {
  const found_file *x = a, *y = b;
  if (x->number != y->number) return x->number < y->number ? -1 : 1;
  return strcmp(x->name, y->name);
}

/* The entry name of table `number` (NNNNNN.ldb), malloc'd. */
static char *table_entry_name(uint64_t number) {
  char buf[32];
  snprintf(buf, sizeof buf, "%06llu.ldb", (unsigned long long)number);
  return strdup(buf);
}

/* Moves <db>/name to <db>/lost/name, creating lost/ the first time. A name
 * an earlier repair already set aside there gets a ".N" suffix instead of
 * replacing that file. */
static int move_to_lost(repairer *r, const char *name) {
  int rc = 0;
  if (!r->lost_ready) {
    rc = r->env->create_dir(r->env, r->lost_dir);
    if (rc) return rc;
    r->lost_ready = 1;
  }
  char *from = path_join(r->dbname, name);
  char *to = path_join(r->lost_dir, name);
  size_t len = to ? strlen(to) : 0;
  char *alt = to ? malloc(len + 24) : NULL;
  if (!from || !to || !alt) rc = st_err(STRATA_ENOMEM, "repair: file name");
  const char *dest = to;
  for (unsigned i = 1; !rc && r->env->exists(r->env, dest) && i < 1000000; i++) {
    snprintf(alt, len + 24, "%s.%u", to, i);
    dest = alt;
  }
  if (!rc) rc = r->env->rename(r->env, from, dest);
  free(from);
  free(to);
  free(alt);
  return rc;
}

/* ---- step 1: find the files --------------------------------------------- */

/* Raises next_number past every database file number in dir. */
static int note_numbers(repairer *r, const char *dir) {
  char **names = NULL;
  size_t n = 0;
  int rc = r->env->children(r->env, dir, &names, &n);
  if (rc) return rc;
  for (size_t i = 0; i < n; i++) {
    uint64_t number;
    st_file_type type;
    if (st_parse_file_name(names[i], &number, &type) && number >= r->next_number)
      r->next_number = number + 1;
  }
  st_env_free_children(names, n);
  return 0;
}

static int find_files(repairer *r) {
  char **names = NULL;
  size_t n = 0;
  int rc = r->env->children(r->env, r->dbname, &names, &n);
  if (rc) return rc;
  r->next_number = 1;
  for (size_t i = 0; i < n && !rc; i++) {
    uint64_t number;
    st_file_type type;
    if (!st_parse_file_name(names[i], &number, &type)) continue;
    if (number >= r->next_number) r->next_number = number + 1;
    if (type == ST_FILE_LOG)
      rc = list_add(&r->logs, number, names[i]);
    else if (type == ST_FILE_TABLE)
      rc = list_add(&r->tables, number, names[i]);
    else if (type == ST_FILE_MANIFEST)
      rc = list_add(&r->manifests, number, names[i]);
  }
  st_env_free_children(names, n);
  if (!rc && r->env->is_dir(r->env, r->lost_dir)) {
    r->lost_ready = 1;
    rc = note_numbers(r, r->lost_dir);
  }
  if (rc) return rc;
  if (r->logs.n > 1) qsort(r->logs.v, r->logs.n, sizeof *r->logs.v, cmp_found);
  if (r->tables.n > 1) qsort(r->tables.v, r->tables.n, sizeof *r->tables.v, cmp_found);

  /* NNNNNN.ldb and NNNNNN.sst together: the MANIFEST can name a number only
   * once, so the second file gets a fresh number (its data is kept; step 5
   * takes care of its place in the level-0 order). */
  for (size_t i = 1; i < r->tables.n && !rc; i++) {
    found_file *f = &r->tables.v[i];
    if (f->number != r->tables.v[i - 1].number) continue;
    uint64_t fresh = r->next_number++;
    char *to_name = table_entry_name(fresh);
    char *from = path_join(r->dbname, f->name);
    char *to = to_name ? path_join(r->dbname, to_name) : NULL;
    if (!from || !to) rc = st_err(STRATA_ENOMEM, "repair: file name");
    if (!rc) rc = r->env->rename(r->env, from, to);
    if (!rc) {
      free(f->name);
      f->name = to_name;
      f->number = fresh;
      to_name = NULL;
    }
    free(to_name);
    free(from);
    free(to);
  }
  return rc;
}

/* ---- step 2: logs to tables --------------------------------------------- */

static void on_log_damage(void *arg, uint64_t offset, size_t bytes, const char *reason) {
  repairer *r = arg;
  (void)offset;
  (void)reason;
  r->rep.bytes_dropped += bytes;
}

/* Writes mem out as a new table and adds it to the tables to scan. */
static int flush_memtable(repairer *r, st_memtable *mem) {
  if (st_memtable_count(mem) == 0) return 0;
  st_iter *it = st_memtable_iter(mem);
  if (!it) return st_err(STRATA_ENOMEM, "repair: memtable iterator");
  st_built_table bt = {r->next_number++, 0, ST_BUF_INIT, ST_BUF_INIT};
  int rc = st_build_table(r->env, r->dbname, &r->topt, r->tc, it, &bt);
  st_iter_destroy(it);
  if (!rc && bt.file_size > 0) {
    char *name = table_entry_name(bt.number);
    rc = name ? list_add(&r->tables, bt.number, name) : st_err(STRATA_ENOMEM, "repair");
    free(name);
  }
  st_buf_free(&bt.smallest);
  st_buf_free(&bt.largest);
  return rc;
}

/* Replays one log into tables. Damage inside the log is dropped and
 * counted; only running out of memory or failing to write a table stops
 * the repair. */
static int convert_log(repairer *r, const found_file *log) {
  char *path = path_join(r->dbname, log->name);
  if (!path) return st_err(STRATA_ENOMEM, "repair: file name");
  st_env *env = r->env;
  st_seqfile *file = NULL;
  int rc = env->new_seqfile(env, path, &file);
  if (rc) {
    /* An unreadable log: everything in it is lost. */
    uint64_t size = 0;
    if (rc != STRATA_ENOMEM) {
      if (env->file_size(env, path, &size) == 0) r->rep.bytes_dropped += size;
      st_err_clear();
      rc = 0;
    }
    free(path);
    return rc;
  }
  st_log_reader *reader = st_log_reader_new(file, 1, on_log_damage, r);
  strata_batch batch;
  int have_batch = 0;
  if (!reader) rc = st_err(STRATA_ENOMEM, "repair: log reader");
  if (!rc) {
    rc = st_batch_init(&batch);
    have_batch = !rc;
  }
  st_memtable *mem = NULL;
  uint64_t mem_max_seq = 0; /* largest sequence in mem */
  while (!rc) {
    st_slice record;
    int got = st_log_read_record(reader, &record);
    if (got == STRATA_ENOMEM) rc = got;
    if (got < 0 && got != STRATA_ENOMEM) {
      /* A read error ends the log: what follows the last good record is
       * lost. */
      uint64_t size = 0;
      if (env->file_size(env, path, &size) == 0 && size > st_log_end_offset(reader))
        r->rep.bytes_dropped += size - st_log_end_offset(reader);
      st_err_clear();
    }
    if (got <= 0) break;
    if (record.size < ST_BATCH_HEADER) {
      r->rep.bytes_dropped += record.size;
      continue;
    }
    rc = st_batch_set_contents(&batch, record);
    if (rc) break;
    uint64_t seq = st_batch_sequence(&batch);
    uint32_t count = st_batch_get_count(&batch);
    /* A batch that does not parse, or whose sequence numbers could not be
     * stored in an internal key, cannot be applied. */
    if (st_batch_validate(&batch) != 0 || seq > ST_MAX_SEQUENCE ||
        (count > 0 && ST_MAX_SEQUENCE - seq < count - 1)) {
      st_err_clear();
      r->rep.bytes_dropped += record.size;
      continue;
    }
    if (count == 0) continue;
    /* Sequences go up within a healthy log. A record that reuses earlier
     * numbers goes to a memtable of its own, so no table is ever asked to
     * hold the same internal key twice. */
    if (mem && (seq <= mem_max_seq || st_memtable_memory_usage(mem) > r->write_buffer_size)) {
      rc = flush_memtable(r, mem);
      st_memtable_unref(mem);
      mem = NULL;
      if (rc) break;
    }
    if (!mem) {
      mem = st_memtable_new(r->ucmp);
      if (!mem) {
        rc = st_err(STRATA_ENOMEM, "repair: memtable");
        break;
      }
      mem_max_seq = 0;
    }
    rc = st_batch_insert_into(&batch, mem);
    if (!rc) mem_max_seq = seq + count - 1;
  }
  if (!rc && mem) rc = flush_memtable(r, mem);
  st_memtable_unref(mem);
  if (have_batch) st_batch_release(&batch);
  st_log_reader_free(reader);
  file->close(file);
  free(path);
  if (!rc) r->rep.logs_converted++;
  return rc;
}

/* ---- step 3: tables ------------------------------------------------------ */

/* The data-block handles of a table's index, sorted by offset: read only
 * when a scan meets a bad block, to count the bytes lost with it. */
typedef struct block_sizes {
  int loaded;
  st_block_handle *v;
  size_t n;
} block_sizes;

static void load_block_sizes(repairer *r, const char *path, uint64_t file_size, block_sizes *bs) {
  bs->loaded = 1;
  st_rafile *file = NULL;
  if (file_size < ST_FOOTER_SIZE || r->env->new_rafile(r->env, path, &file)) {
    st_err_clear();
    return;
  }
  char buf[ST_FOOTER_SIZE];
  st_slice got = {NULL, 0};
  st_footer footer;
  st_block_contents c;
  if (file->read(file, file_size - ST_FOOTER_SIZE, ST_FOOTER_SIZE, buf, &got) == 0 &&
      got.size == ST_FOOTER_SIZE && st_footer_decode(got.data, path, &footer) == 0 &&
      st_read_block(file, path, file_size, &footer.index, 1, &c) == 0) {
    st_block index;
    st_block_init(&index, &c, path, footer.index.offset);
    st_block_iter it;
    st_block_iter_init(&it, &index, r->ucmp);
    size_t cap = 0;
    for (st_iter_seek_to_first(&it.base); st_iter_valid(&it.base); st_iter_next(&it.base)) {
      st_slice v = st_iter_value(&it.base);
      st_block_handle h;
      if (!st_block_handle_decode(v.data, v.data + v.size, &h)) continue;
      if (bs->n == cap) {
        size_t ncap = cap ? cap * 2 : 64;
        st_block_handle *nv = realloc(bs->v, ncap * sizeof *nv);
        if (!nv) break; /* sizes are only for the report */
        bs->v = nv;
        cap = ncap;
      }
      bs->v[bs->n++] = h;
    }
    st_block_iter_fini(&it);
    st_block_release(&index);
  }
  file->close(file);
  st_err_clear();
}

/* What a scan of one table found. The kept entries are those a copy keeps:
 * parseable internal keys, each greater than the one before. */
typedef struct table_scan {
  repairer *r;
  const char *path;
  uint64_t file_size;
  block_sizes sizes;
  st_table_builder *copy; /* second pass: kept entries go here */
  uint64_t entries, min_seq, max_seq;
  st_buf smallest, largest; /* largest doubles as the last kept key */
  uint64_t bad_blocks, bad_entries, dropped;
  int entry_rc; /* what stopped the scan from scan_entry (a write, memory) */
} table_scan;

static int scan_entry(void *arg, st_slice k, st_slice v) {
  table_scan *s = arg;
  st_parsed_ikey p;
  if (!st_ikey_parse(k, &p) ||
      (s->entries && st_icmp(s->r->ucmp, k, st_buf_slice(&s->largest)) <= 0)) {
    s->bad_entries++;
    s->dropped += k.size + v.size;
    return 0;
  }
  if (s->copy) {
    int rc = st_table_builder_add(s->copy, k, v);
    if (rc) return s->entry_rc = rc;
  }
  if (s->entries == 0) {
    if (st_buf_set(&s->smallest, k.data, k.size)) return s->entry_rc = STRATA_ENOMEM;
    s->min_seq = s->max_seq = p.sequence;
  }
  if (st_buf_set(&s->largest, k.data, k.size)) return s->entry_rc = STRATA_ENOMEM;
  if (p.sequence < s->min_seq) s->min_seq = p.sequence;
  if (p.sequence > s->max_seq) s->max_seq = p.sequence;
  s->entries++;
  return 0;
}

static void scan_bad_block(void *arg, uint64_t offset, int code, const char *what) {
  table_scan *s = arg;
  (void)code;
  (void)what;
  s->bad_blocks++;
  if (!s->sizes.loaded) load_block_sizes(s->r, s->path, s->file_size, &s->sizes);
  size_t lo = 0, hi = s->sizes.n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (s->sizes.v[mid].offset < offset)
      lo = mid + 1;
    else
      hi = mid;
  }
  if (lo < s->sizes.n && s->sizes.v[lo].offset == offset)
    s->dropped += s->sizes.v[lo].size + ST_BLOCK_TRAILER_SIZE;
}

static void scan_reset(table_scan *s) {
  s->entries = s->min_seq = s->max_seq = 0;
  s->smallest.size = s->largest.size = 0;
}

static void scan_free(table_scan *s) {
  free(s->sizes.v);
  st_buf_free(&s->smallest);
  st_buf_free(&s->largest);
}

/* Adds a table to the MANIFEST's list, taking the scan's key buffers. */
static int keep_table(repairer *r, uint64_t number, uint64_t file_size, table_scan *s) {
  if (r->nkept == r->capkept) {
    size_t cap = r->capkept ? r->capkept * 2 : 64;
    kept_table *v = realloc(r->kept, cap * sizeof *v);
    if (!v) return st_err(STRATA_ENOMEM, "repair: table list");
    r->kept = v;
    r->capkept = cap;
  }
  kept_table *k = &r->kept[r->nkept++];
  k->number = number;
  k->file_size = file_size;
  k->entries = s->entries;
  k->min_seq = s->min_seq;
  k->max_seq = s->max_seq;
  k->smallest = s->smallest;
  k->largest = s->largest;
  s->smallest = (st_buf)ST_BUF_INIT;
  s->largest = (st_buf)ST_BUF_INIT;
  r->rep.tables_kept++;
  r->rep.entries_recovered += s->entries;
  return 0;
}

/* A table none of whose entries can be kept. */
static int lose_table(repairer *r, const found_file *f) {
  r->rep.tables_lost++;
  return move_to_lost(r, f->name);
}

/* Copies the kept entries of t to a new file, then gives the copy the
 * original's number, moving the original to lost/. */
static int rewrite_table(repairer *r, const found_file *f, st_table **tp, table_scan *s) {
  uint64_t tmp_number = r->next_number++;
  char *tmp = st_table_file_name(r->dbname, tmp_number);
  char *dest = st_table_file_name(r->dbname, f->number);
  if (!tmp || !dest) {
    free(tmp);
    free(dest);
    return st_err(STRATA_ENOMEM, "repair: file name");
  }
  st_wfile *file = NULL;
  int rc = r->env->new_wfile(r->env, tmp, &file);
  if (!rc) {
    s->copy = st_table_builder_new(&r->topt, file);
    if (!s->copy) rc = st_err(STRATA_ENOMEM, "repair: table builder");
  }
  if (!rc) {
    scan_reset(s);
    int64_t n = st_table_scan(*tp, s, scan_entry, NULL);
    /* Damage that stops the scan (in the index) leaves the entries before
     * it to keep; a failed write or allocation stops the repair. */
    if (s->entry_rc)
      rc = s->entry_rc;
    else if (n == STRATA_ENOMEM)
      rc = (int)n;
    else
      st_err_clear();
  }
  uint64_t size = 0;
  if (!rc && s->entries > 0) {
    rc = st_table_builder_finish(s->copy);
    size = st_table_builder_file_size(s->copy);
  } else if (s->copy) {
    st_table_builder_abandon(s->copy);
  }
  st_table_builder_free(s->copy);
  s->copy = NULL;
  if (!rc && size > 0) rc = file->sync(file);
  if (file) {
    int crc = file->close(file);
    if (!rc) rc = crc;
  }
  st_table_close(*tp);
  *tp = NULL;
  int moved = 0;
  if (!rc && size > 0) {
    rc = move_to_lost(r, f->name);
    /* From here on the copy is the only readable version: never delete it. */
    moved = !rc;
    if (!rc) rc = r->env->rename(r->env, tmp, dest);
    if (!rc) rc = keep_table(r, f->number, size, s);
  } else if (!rc) {
    rc = lose_table(r, f); /* nothing readable */
  }
  if (!moved) {
    /* Keep the message of the failure that matters, not the removal's. */
    st_error saved;
    st_error_capture(&saved, rc);
    r->env->remove_file(r->env, tmp);
    if (rc)
      st_error_raise(&saved);
    else
      st_err_clear();
  }
  free(tmp);
  free(dest);
  return rc;
}

static int repair_table(repairer *r, const found_file *f) {
  char *path = path_join(r->dbname, f->name);
  if (!path) return st_err(STRATA_ENOMEM, "repair: file name");
  st_env *env = r->env;
  uint64_t size = 0;
  st_table *t = NULL;
  int rc = st_table_open_path(env, &r->topt, path, &size, &t);
  table_scan s = {r, path, size, {0, NULL, 0}, NULL, 0, 0, 0, ST_BUF_INIT, ST_BUF_INIT, 0, 0, 0, 0};
  int64_t bad = 0;
  if (!rc) {
    bad = st_table_scan(t, &s, scan_entry, scan_bad_block);
    if (s.entry_rc)
      rc = s.entry_rc;
    else if (bad == STRATA_ENOMEM)
      rc = (int)bad;
    else if (bad < 0 && s.entries == 0)
      rc = (int)bad;
  }
  if (rc == STRATA_ENOMEM || s.entry_rc) goto out;
  if (rc) {
    /* Cannot be opened, or nothing in it can be read. */
    st_err_clear();
    r->rep.bytes_dropped += size;
    rc = lose_table(r, f);
    goto out;
  }
  st_err_clear();
  r->rep.bytes_dropped += s.dropped;
  if (bad == 0 && s.bad_entries == 0) {
    rc = s.entries ? keep_table(r, f->number, size, &s) : lose_table(r, f);
  } else {
    rc = rewrite_table(r, f, &t, &s);
  }
out:
  st_table_close(t);
  scan_free(&s);
  free(path);
  return rc;
}

/* ---- step 4: the new MANIFEST ------------------------------------------- */

static int write_manifest(repairer *r, uint64_t *manifest_number) {
  uint64_t number = r->next_number++;
  uint64_t last_seq = 0;
  for (size_t i = 0; i < r->nkept; i++)
    if (r->kept[i].max_seq > last_seq) last_seq = r->kept[i].max_seq;

  st_version_edit e;
  st_edit_init(&e);
  int rc = st_edit_set_comparator(&e, r->ucmp->name);
  st_edit_set_log_number(&e, r->next_number);
  st_edit_set_next_file(&e, r->next_number);
  st_edit_set_last_sequence(&e, last_seq);
  for (size_t i = 0; i < r->nkept && !rc; i++) {
    const kept_table *k = &r->kept[i];
    rc = st_edit_add_file(&e, 0, k->number, k->file_size, st_buf_slice(&k->smallest),
                          st_buf_slice(&k->largest));
  }
  st_buf rec = ST_BUF_INIT;
  if (!rc) rc = st_edit_encode(&e, &rec);
  st_edit_clear(&e);

  char *path = st_manifest_file_name(r->dbname, number);
  if (!rc && !path) rc = st_err(STRATA_ENOMEM, "repair: file name");
  st_wfile *f = NULL;
  if (!rc) rc = r->env->new_wfile(r->env, path, &f);
  if (!rc) {
    st_log_writer *w = st_log_writer_new(f, 0);
    if (!w) {
      f->close(f);
      rc = st_err(STRATA_ENOMEM, "repair: log writer");
    } else {
      rc = st_log_add_record(w, st_buf_slice(&rec));
      if (!rc) rc = st_log_sync(w);
      int crc = st_log_writer_close(w);
      if (!rc) rc = crc;
    }
  }
  /* CURRENT is switched last: until then the old MANIFEST stays in force. */
  int renamed = 0; /* CURRENT may name the new MANIFEST: it must stay */
  if (!rc) rc = st_set_current_file(r->env, r->dbname, number, &renamed);
  if (rc && path && !renamed) {
    st_error saved;
    st_error_capture(&saved, rc);
    r->env->remove_file(r->env, path);
    st_error_raise(&saved);
  }
  free(path);
  st_buf_free(&rec);
  *manifest_number = number;
  return rc;
}

/* ---- step 5: is the level-0 order trustworthy? --------------------------- */

/* Sorts v by smallest user key (a merge sort: qsort has no argument to
 * pass the comparator through). tmp has room for n pointers. */
static void sort_by_smallest(const st_comparator *ucmp, kept_table **v, kept_table **tmp,
                             size_t n) {
  for (size_t width = 1; width < n; width *= 2) {
    for (size_t lo = 0; lo < n; lo += 2 * width) {
      size_t mid = lo + width < n ? lo + width : n;
      size_t hi = lo + 2 * width < n ? lo + 2 * width : n;
      size_t a = lo, b = mid, k = lo;
      while (a < mid && b < hi) {
        int c = st_ucmp(ucmp, st_ikey_user(st_buf_slice(&v[b]->smallest)),
                        st_ikey_user(st_buf_slice(&v[a]->smallest)));
        tmp[k++] = c < 0 ? v[b++] : v[a++];
      }
      while (a < mid)
        tmp[k++] = v[a++];
      while (b < hi)
        tmp[k++] = v[b++];
    }
    memcpy(v, tmp, n * sizeof *v);
  }
}

/* True when two kept tables share user keys and the higher-numbered one
 * (searched first in level 0) does not hold only newer entries than the
 * other: a lookup could then stop at an older version of a key. Tables of
 * a database that only ever had level 0 (and tables made from logs) pass;
 * tables from deeper levels usually do not. */
static int needs_merge(repairer *r, int *rc) {
  *rc = 0;
  if (r->nkept < 2) return 0;
  kept_table **v = malloc(2 * r->nkept * sizeof *v);
  if (!v) {
    *rc = st_err(STRATA_ENOMEM, "repair");
    return 0;
  }
  for (size_t i = 0; i < r->nkept; i++)
    v[i] = &r->kept[i];
  sort_by_smallest(r->ucmp, v, v + r->nkept, r->nkept);
  int unsafe = 0;
  for (size_t i = 0; i < r->nkept && !unsafe; i++) {
    st_slice end = st_ikey_user(st_buf_slice(&v[i]->largest));
    for (size_t j = i + 1; j < r->nkept && !unsafe; j++) {
      if (st_ucmp(r->ucmp, st_ikey_user(st_buf_slice(&v[j]->smallest)), end) > 0) break;
      const kept_table *older = v[i]->number < v[j]->number ? v[i] : v[j];
      const kept_table *newer = older == v[i] ? v[j] : v[i];
      if (newer->min_seq <= older->max_seq) unsafe = 1;
    }
  }
  free(v);
  return unsafe;
}

/* Opens the repaired database and compacts all of it. */
static int merge_tables(const char *path, const strata_options *opt) {
  strata_options o;
  if (opt)
    o = *opt;
  else
    strata_options_init(&o);
  o.create_if_missing = 0;
  o.error_if_exists = 0;
  strata_db *db = NULL;
  int rc = strata_open(path, &o, &db);
  if (!rc) rc = strata_compact_range(db, NULL, 0, NULL, 0);
  strata_close(db);
  return rc;
}

/* ---- entry point ---------------------------------------------------------- */

#define CLIP(v, lo, hi) ((v) < (lo) ? (lo) : ((v) > (hi) ? (hi) : (v)))

int strata_repair(const char *path, const strata_options *opt, strata_repair_report *report) {
  if (report) memset(report, 0, sizeof *report);
  if (!path) return st_err(STRATA_EMISUSE, "strata_repair: NULL path");
  strata_options defaults;
  strata_options_init(&defaults);
  const strata_options *o = opt ? opt : &defaults;
  if (o->compression < STRATA_COMPRESSION_NONE || o->compression > STRATA_COMPRESSION_ZSTD)
    return st_err(STRATA_EINVAL, "unknown compression type %d", o->compression);

  repairer r;
  memset(&r, 0, sizeof r);
  r.dbname = path;
  r.env = o->env ? o->env : st_env_posix();
  r.ucmp = st_comparator_of(o->comparator);
  r.topt.ucmp = r.ucmp;
  r.topt.block_size = CLIP(o->block_size, (size_t)64, (size_t)4 << 20);
  r.topt.restart_interval = CLIP(o->block_restart_interval, 1, 1 << 16);
  r.topt.compression = o->compression;
  r.topt.zstd_level = o->zstd_level;
  r.topt.filter_policy = o->filter_policy;
  r.write_buffer_size = CLIP(o->write_buffer_size, (size_t)16 << 10, (size_t)1 << 30);
  st_env *env = r.env;

  if (!env->exists(env, path) || !env->is_dir(env, path) || !st_dir_has_database_files(env, path)) {
    st_err_clear();
    return st_err(STRATA_EINVAL, "%s: no database to repair", path);
  }
  char *lockname = st_lock_file_name(path);
  r.lost_dir = path_join(path, LOST_DIR);
  if (!lockname || !r.lost_dir) {
    free(lockname);
    free(r.lost_dir);
    return st_err(STRATA_ENOMEM, "strata_repair");
  }
  st_filelock *lock = NULL;
  int rc = env->lock_file(env, lockname, &lock);
  free(lockname);
  if (rc) {
    free(r.lost_dir);
    return rc;
  }

  r.tc = st_table_cache_new(env, path, &r.topt, 16);
  if (!r.tc) rc = st_err(STRATA_ENOMEM, "strata_repair");
  if (!rc) rc = find_files(&r);
  /* Tables made from logs are appended to r.tables and scanned with the
   * others below. */
  for (size_t i = 0; !rc && i < r.logs.n; i++)
    rc = convert_log(&r, &r.logs.v[i]);
  for (size_t i = 0; !rc && i < r.tables.n; i++)
    rc = repair_table(&r, &r.tables.v[i]);
  uint64_t manifest = 0;
  if (!rc) rc = write_manifest(&r, &manifest);
  for (size_t i = 0; !rc && i < r.logs.n; i++)
    rc = move_to_lost(&r, r.logs.v[i].name);
  for (size_t i = 0; !rc && i < r.manifests.n; i++)
    if (r.manifests.v[i].number != manifest) rc = move_to_lost(&r, r.manifests.v[i].name);
  if (!rc) rc = env->sync_dir(env, path);
  int merge = 0;
  if (!rc) merge = needs_merge(&r, &rc);

  st_table_cache_free(r.tc);
  env->unlock_file(env, lock);
  if (!rc && merge) rc = merge_tables(path, opt);

  if (report) *report = r.rep;
  for (size_t i = 0; i < r.nkept; i++) {
    st_buf_free(&r.kept[i].smallest);
    st_buf_free(&r.kept[i].largest);
  }
  free(r.kept);
  list_free(&r.logs);
  list_free(&r.tables);
  list_free(&r.manifests);
  free(r.lost_dir);
  return rc;
}
