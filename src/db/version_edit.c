/*
 * version_edit.c - MANIFEST records (LevelDB's VersionEdit encoding):
 *
 *   edit  := field*
 *   field := 1 comparator:lenprefixed          (kComparator)
 *          | 2 log_number:varint64              (kLogNumber)
 *          | 3 next_file_number:varint64        (kNextFileNumber)
 *          | 4 last_sequence:varint64           (kLastSequence)
 *          | 5 level:varint32 key:lenprefixed   (kCompactPointer)
 *          | 6 level:varint32 number:varint64   (kDeletedFile)
 *          | 7 level:varint32 number:varint64 size:varint64
 *              smallest:lenprefixed largest:lenprefixed   (kNewFile)
 *          | 9 prev_log_number:varint64         (kPrevLogNumber)
 *   each field's tag is a varint32; keys are internal keys; lenprefixed is
 *   varint32 length + bytes. Tag 8 (large value refs) is obsolete and
 *   rejected, as LevelDB 1.23 does.
 */
#include "db/version_edit.h"

#include <stdlib.h>
#include <string.h>

#include "util/error.h"

enum {
  TAG_COMPARATOR = 1,
  TAG_LOG_NUMBER = 2,
  TAG_NEXT_FILE = 3,
  TAG_LAST_SEQUENCE = 4,
  TAG_COMPACT_POINTER = 5,
  TAG_DELETED_FILE = 6,
  TAG_NEW_FILE = 7,
  TAG_PREV_LOG_NUMBER = 9
};

void st_edit_init(st_version_edit *e) { memset(e, 0, sizeof *e); }

void st_edit_clear(st_version_edit *e) {
  free(e->comparator);
  for (size_t i = 0; i < e->n_pointers; i++)
    st_buf_free(&e->pointers[i].key);
  for (size_t i = 0; i < e->n_files; i++) {
    st_buf_free(&e->files[i].smallest);
    st_buf_free(&e->files[i].largest);
  }
  free(e->pointers);
  free(e->deleted);
  free(e->files);
  st_edit_init(e);
}

int st_edit_set_comparator(st_version_edit *e, const char *name) {
  char *c = strdup(name);
  if (!c) return st_err(STRATA_ENOMEM, "version edit");
  free(e->comparator);
  e->comparator = c;
  return 0;
}

/* Grows an array of n elements of size sz by one slot (realloc each time;
 * edits are small). */
static void *grow(void *arr, size_t n, size_t sz) { return realloc(arr, (n + 1) * sz); }

int st_edit_add_file(st_version_edit *e, int level, uint64_t number, uint64_t size,
                     st_slice smallest, st_slice largest) {
  st_edit_file *f = grow(e->files, e->n_files, sizeof *f);
  if (!f) return st_err(STRATA_ENOMEM, "version edit");
  e->files = f;
  st_edit_file *nf = &f[e->n_files];
  memset(nf, 0, sizeof *nf);
  nf->level = level;
  nf->number = number;
  nf->file_size = size;
  if (st_buf_set(&nf->smallest, smallest.data, smallest.size) ||
      st_buf_set(&nf->largest, largest.data, largest.size)) {
    st_buf_free(&nf->smallest);
    st_buf_free(&nf->largest);
    return STRATA_ENOMEM;
  }
  e->n_files++;
  return 0;
}

int st_edit_delete_file(st_version_edit *e, int level, uint64_t number) {
  st_edit_deleted *d = grow(e->deleted, e->n_deleted, sizeof *d);
  if (!d) return st_err(STRATA_ENOMEM, "version edit");
  e->deleted = d;
  d[e->n_deleted].level = level;
  d[e->n_deleted].number = number;
  e->n_deleted++;
  return 0;
}

int st_edit_set_compact_pointer(st_version_edit *e, int level, st_slice key) {
  st_edit_pointer *p = grow(e->pointers, e->n_pointers, sizeof *p);
  if (!p) return st_err(STRATA_ENOMEM, "version edit");
  e->pointers = p;
  st_edit_pointer *np = &p[e->n_pointers];
  np->level = level;
  memset(&np->key, 0, sizeof np->key);
  if (st_buf_set(&np->key, key.data, key.size)) return STRATA_ENOMEM;
  e->n_pointers++;
  return 0;
}

int st_edit_encode(const st_version_edit *e, st_buf *dst) {
  int rc = 0;
  if (e->comparator) {
    rc |= st_buf_put_varint32(dst, TAG_COMPARATOR);
    rc |= st_buf_put_length_prefixed(dst, st_slice_cstr(e->comparator));
  }
  if (e->has_log_number) {
    rc |= st_buf_put_varint32(dst, TAG_LOG_NUMBER);
    rc |= st_buf_put_varint64(dst, e->log_number);
  }
  if (e->has_prev_log_number) {
    rc |= st_buf_put_varint32(dst, TAG_PREV_LOG_NUMBER);
    rc |= st_buf_put_varint64(dst, e->prev_log_number);
  }
  if (e->has_next_file) {
    rc |= st_buf_put_varint32(dst, TAG_NEXT_FILE);
    rc |= st_buf_put_varint64(dst, e->next_file_number);
  }
  if (e->has_last_sequence) {
    rc |= st_buf_put_varint32(dst, TAG_LAST_SEQUENCE);
    rc |= st_buf_put_varint64(dst, e->last_sequence);
  }
  for (size_t i = 0; i < e->n_pointers; i++) {
    rc |= st_buf_put_varint32(dst, TAG_COMPACT_POINTER);
    rc |= st_buf_put_varint32(dst, (uint32_t)e->pointers[i].level);
    rc |= st_buf_put_length_prefixed(dst, st_buf_slice(&e->pointers[i].key));
  }
  for (size_t i = 0; i < e->n_deleted; i++) {
    rc |= st_buf_put_varint32(dst, TAG_DELETED_FILE);
    rc |= st_buf_put_varint32(dst, (uint32_t)e->deleted[i].level);
    rc |= st_buf_put_varint64(dst, e->deleted[i].number);
  }
  for (size_t i = 0; i < e->n_files; i++) {
    const st_edit_file *f = &e->files[i];
    rc |= st_buf_put_varint32(dst, TAG_NEW_FILE);
    rc |= st_buf_put_varint32(dst, (uint32_t)f->level);
    rc |= st_buf_put_varint64(dst, f->number);
    rc |= st_buf_put_varint64(dst, f->file_size);
    rc |= st_buf_put_length_prefixed(dst, st_buf_slice(&f->smallest));
    rc |= st_buf_put_length_prefixed(dst, st_buf_slice(&f->largest));
  }
  return rc ? st_err(STRATA_ENOMEM, "encoding version edit") : 0;
}

static const char *get_level(const char *p, const char *end, int *level) {
  uint32_t v;
  p = st_get_varint32(p, end, &v);
  if (p && v < ST_NUM_LEVELS) {
    *level = (int)v;
    return p;
  }
  return NULL;
}

static const char *get_ikey(const char *p, const char *end, st_slice *k) {
  p = st_get_length_prefixed(p, end, k);
  return (p && k->size >= 8) ? p : NULL;
}

int st_edit_decode(st_version_edit *e, st_slice src) {
  const char *p = src.data, *end = src.data + src.size;
  const char *bad = NULL;
  while (p < end && !bad) {
    uint32_t tag;
    p = st_get_varint32(p, end, &tag);
    if (!p) {
      bad = "tag";
      break;
    }
    int level;
    uint64_t a, b;
    st_slice s1, s2;
    int rc = 0;
    switch (tag) {
    case TAG_COMPARATOR:
      /* A name is a C string (LevelDB's Comparator::Name()): a NUL in it
       * is damage, or it would pass for its prefix. A repeated tag
       * replaces the name, as in LevelDB. */
      if (!(p = st_get_length_prefixed(p, end, &s1)) || memchr(s1.data, '\0', s1.size)) {
        bad = "comparator name";
        break;
      }
      free(e->comparator);
      e->comparator = strndup(s1.data, s1.size);
      if (!e->comparator) rc = st_err(STRATA_ENOMEM, "version edit");
      break;
    case TAG_LOG_NUMBER:
      if (!(p = st_get_varint64(p, end, &a))) {
        bad = "log number";
        break;
      }
      st_edit_set_log_number(e, a);
      break;
    case TAG_PREV_LOG_NUMBER:
      if (!(p = st_get_varint64(p, end, &a))) {
        bad = "previous log number";
        break;
      }
      st_edit_set_prev_log_number(e, a);
      break;
    case TAG_NEXT_FILE:
      if (!(p = st_get_varint64(p, end, &a))) {
        bad = "next file number";
        break;
      }
      st_edit_set_next_file(e, a);
      break;
    case TAG_LAST_SEQUENCE:
      if (!(p = st_get_varint64(p, end, &a))) {
        bad = "last sequence number";
        break;
      }
      st_edit_set_last_sequence(e, a);
      break;
    case TAG_COMPACT_POINTER:
      if (!(p = get_level(p, end, &level)) || !(p = get_ikey(p, end, &s1))) {
        bad = "compaction pointer";
        break;
      }
      rc = st_edit_set_compact_pointer(e, level, s1);
      break;
    case TAG_DELETED_FILE:
      if (!(p = get_level(p, end, &level)) || !(p = st_get_varint64(p, end, &a))) {
        bad = "deleted file";
        break;
      }
      rc = st_edit_delete_file(e, level, a);
      break;
    case TAG_NEW_FILE:
      if (!(p = get_level(p, end, &level)) || !(p = st_get_varint64(p, end, &a)) ||
          !(p = st_get_varint64(p, end, &b)) || !(p = get_ikey(p, end, &s1)) ||
          !(p = get_ikey(p, end, &s2))) {
        bad = "new-file entry";
        break;
      }
      rc = st_edit_add_file(e, level, a, b, s1, s2);
      break;
    default: bad = "unknown tag"; break;
    }
    if (rc) return rc;
  }
  if (bad) return st_err_corrupt("VersionEdit: bad %s", bad);
  return 0;
}
