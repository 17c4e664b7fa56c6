/*
 * db_props.c - introspection and maintenance outside the read/write path:
 * properties (LevelDB's names), approximate sizes, destroying a database.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/db_impl.h"
#include "db/filename.h"
#include "util/internal_key.h"

static int appendf(st_buf *b, const char *fmt, ...) ST_PRINTF(2, 3);
static int appendf(st_buf *b, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n < 0 || st_buf_reserve(b, (size_t)n + 1)) return STRATA_ENOMEM;
  va_start(ap, fmt);
  vsnprintf(b->data + b->size, (size_t)n + 1, fmt, ap);
  va_end(ap);
  b->size += (size_t)n;
  return 0;
}

/* Parses "<prefix><N>" with N a level number. */
static int level_suffix(const char *name, const char *prefix, int *level) {
  size_t n = strlen(prefix);
  if (strncmp(name, prefix, n) != 0) return 0;
  const char *p = name + n;
  if (*p < '0' || *p > '9') return 0;
  long v = strtol(p, (char **)&p, 10);
  if (*p || v < 0 || v >= ST_NUM_LEVELS) return 0;
  *level = (int)v;
  return 1;
}

int strata_property(strata_db *db, const char *name, strata_buf *out) {
  if (!db || !name || !out) return st_err(STRATA_EMISUSE, "strata_property: NULL argument");
  out->size = 0;
  int rc = 0, level;
  pthread_mutex_lock(&db->mu);
  st_version *v = db->vs.current;
  if (level_suffix(name, "leveldb.num-files-at-level", &level)) {
    rc = appendf(out, "%d", v->nfiles[level]);
  } else if (level_suffix(name, "strata.level-bytes", &level)) {
    rc = appendf(out, "%llu", (unsigned long long)st_vset_level_bytes(&db->vs, level));
  } else if (strcmp(name, "leveldb.stats") == 0) {
    rc = appendf(out, "                               Compactions\n"
                      "Level  Files Size(MB) Time(sec) Read(MB) Write(MB)\n"
                      "--------------------------------------------------\n");
    for (int l = 0; !rc && l < ST_NUM_LEVELS; l++) {
      const st_level_stats *s = &db->stats[l];
      if (v->nfiles[l] == 0 && s->micros == 0) continue;
      rc = appendf(out, "%3d %8d %8.0f %9.0f %8.0f %9.0f\n", l, v->nfiles[l],
                   (double)st_vset_level_bytes(&db->vs, l) / 1048576.0, (double)s->micros / 1e6,
                   (double)s->bytes_read / 1048576.0, (double)s->bytes_written / 1048576.0);
    }
  } else if (strcmp(name, "leveldb.sstables") == 0) {
    for (int l = 0; !rc && l < ST_NUM_LEVELS; l++) {
      rc = appendf(out, "--- level %d ---\n", l);
      for (int i = 0; !rc && i < v->nfiles[l]; i++) {
        st_file_meta *f = v->files[l][i];
        rc = appendf(out, " %llu:%llu[", (unsigned long long)f->number,
                     (unsigned long long)f->file_size);
        /* Keys as LevelDB prints them: 'user' @ seq : type. */
        st_slice ks[2] = {f->smallest, f->largest};
        for (int k = 0; !rc && k < 2; k++) {
          st_parsed_ikey pk;
          rc = appendf(out, "%s'", k ? " .. " : "");
          if (!rc && st_ikey_parse(ks[k], &pk)) {
            for (size_t j = 0; !rc && j < pk.user_key.size; j++) {
              unsigned char c = (unsigned char)pk.user_key.data[j];
              rc = (c >= ' ' && c <= '~') ? appendf(out, "%c", c) : appendf(out, "\\x%02x", c);
            }
            if (!rc) rc = appendf(out, "' @ %llu : %d", (unsigned long long)pk.sequence, pk.type);
          } else if (!rc) {
            rc = appendf(out, "(bad)'");
          }
        }
        if (!rc) rc = appendf(out, "]\n");
      }
    }
  } else if (strcmp(name, "strata.last-sequence") == 0) {
    rc = appendf(
        out, "%llu",
        (unsigned long long)atomic_load_explicit(&db->visible_sequence, memory_order_acquire));
  } else if (strcmp(name, "leveldb.approximate-memory-usage") == 0) {
    size_t total = st_cache_total_charge(db->block_cache);
    total += st_memtable_memory_usage(db->mem);
    if (db->imm) total += st_memtable_memory_usage(db->imm);
    rc = appendf(out, "%zu", total);
  } else {
    rc = st_err(STRATA_ENOTFOUND, "unknown property \"%s\"", name);
  }
  pthread_mutex_unlock(&db->mu);
  if (rc == STRATA_ENOMEM) st_err(STRATA_ENOMEM, "property %s", name);
  if (!rc && st_buf_reserve(out, 1)) rc = st_err(STRATA_ENOMEM, "property %s", name);
  if (!rc) out->data[out->size] = '\0';
  return rc;
}

int strata_approximate_sizes(strata_db *db, int n, const void *const *start,
                             const size_t *start_len, const void *const *limit,
                             const size_t *limit_len, uint64_t *sizes) {
  if (!db || n < 0 || (n > 0 && (!start || !start_len || !limit || !limit_len || !sizes)))
    return st_err(STRATA_EMISUSE, "strata_approximate_sizes: bad arguments");
  pthread_mutex_lock(&db->mu);
  st_version *v = db->vs.current;
  st_version_ref(v);
  pthread_mutex_unlock(&db->mu);
  int rc = 0;
  st_buf k1 = ST_BUF_INIT, k2 = ST_BUF_INIT;
  for (int i = 0; i < n && !rc; i++) {
    k1.size = k2.size = 0;
    rc = st_ikey_append(&k1, st_slice_make(start[i], start_len[i]), ST_MAX_SEQUENCE,
                        ST_TYPE_FOR_SEEK);
    if (!rc)
      rc = st_ikey_append(&k2, st_slice_make(limit[i], limit_len[i]), ST_MAX_SEQUENCE,
                          ST_TYPE_FOR_SEEK);
    if (rc) break;
    uint64_t a = st_version_approximate_offset(v, st_buf_slice(&k1));
    uint64_t b = st_version_approximate_offset(v, st_buf_slice(&k2));
    sizes[i] = b >= a ? b - a : 0;
  }
  st_buf_free(&k1);
  st_buf_free(&k2);
  st_version_unref_unlocked(v, &db->mu);
  return rc;
}

int strata_destroy(const char *path, const strata_options *opt) {
  if (!path) return st_err(STRATA_EMISUSE, "strata_destroy: NULL path");
  st_env *env = (opt && opt->env) ? opt->env : st_env_posix();
  char **names = NULL;
  size_t n = 0;
  if (!env->exists(env, path)) return 0; /* nothing to destroy */
  int rc = env->children(env, path, &names, &n);
  if (rc) return rc;
  char *lockname = st_lock_file_name(path);
  st_filelock *lock = NULL;
  rc = lockname ? env->lock_file(env, lockname, &lock) : st_err(STRATA_ENOMEM, "file name");
  if (!rc) {
    size_t plen = strlen(path);
    for (size_t i = 0; i < n && !rc; i++) {
      uint64_t number;
      st_file_type type;
      /* Only the database's own files: leave anything else alone. */
      if (!st_parse_file_name(names[i], &number, &type) || type == ST_FILE_LOCK) continue;
      char *p = malloc(plen + strlen(names[i]) + 2);
      if (!p) {
        rc = st_err(STRATA_ENOMEM, "strata_destroy");
        break;
      }
      sprintf(p, "%s/%s", path, names[i]);
      rc = env->remove_file(env, p);
      free(p);
    }
    env->unlock_file(env, lock);
    if (!rc) {
      env->remove_file(env, lockname);
      /* The directory goes only if nothing else is in it. */
      env->remove_dir(env, path);
      st_err_clear();
    }
  }
  free(lockname);
  st_env_free_children(names, n);
  return rc;
}
