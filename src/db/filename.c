/* filename.c - database file names (see filename.h). */
#include "db/filename.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "env/env.h"
#include "util/error.h"

static char *fmt(const char *f, ...) ST_PRINTF(1, 2);
static char *fmt(const char *f, ...) {
  va_list ap;
  va_start(ap, f);
  char *s = NULL;
  if (vasprintf(&s, f, ap) < 0) s = NULL;
  va_end(ap);
  return s;
}

char *st_log_file_name(const char *db, uint64_t n) {
  return fmt("%s/%06llu.log", db, (unsigned long long)n);
}
char *st_table_file_name(const char *db, uint64_t n) {
  return fmt("%s/%06llu.ldb", db, (unsigned long long)n);
}
char *st_sst_table_file_name(const char *db, uint64_t n) {
  return fmt("%s/%06llu.sst", db, (unsigned long long)n);
}
char *st_manifest_file_name(const char *db, uint64_t n) {
  return fmt("%s/MANIFEST-%06llu", db, (unsigned long long)n);
}
char *st_current_file_name(const char *db) { return fmt("%s/CURRENT", db); }
char *st_lock_file_name(const char *db) { return fmt("%s/LOCK", db); }
char *st_temp_file_name(const char *db, uint64_t n) {
  return fmt("%s/%06llu.dbtmp", db, (unsigned long long)n);
}
char *st_info_log_file_name(const char *db) { return fmt("%s/LOG", db); }
char *st_old_info_log_file_name(const char *db) { return fmt("%s/LOG.old", db); }

/* Parses a run of decimal digits; returns the end or NULL. */
static const char *parse_number(const char *s, uint64_t *out) {
  uint64_t v = 0;
  const char *p = s;
  while (*p >= '0' && *p <= '9') {
    uint64_t d = (uint64_t)(*p - '0');
    if (v > (UINT64_MAX - d) / 10) return NULL;
    v = v * 10 + d;
    p++;
  }
  if (p == s) return NULL;
  *out = v;
  return p;
}

int st_parse_file_name(const char *name, uint64_t *number, st_file_type *type) {
  *number = 0;
  if (strcmp(name, "CURRENT") == 0) {
    *type = ST_FILE_CURRENT;
    return 1;
  }
  if (strcmp(name, "LOCK") == 0) {
    *type = ST_FILE_LOCK;
    return 1;
  }
  if (strcmp(name, "LOG") == 0 || strcmp(name, "LOG.old") == 0) {
    *type = ST_FILE_INFO_LOG;
    return 1;
  }
  if (strncmp(name, "MANIFEST-", 9) == 0) {
    const char *end = parse_number(name + 9, number);
    if (!end || *end) return 0;
    *type = ST_FILE_MANIFEST;
    return 1;
  }
  const char *end = parse_number(name, number);
  if (!end) return 0;
  if (strcmp(end, ".log") == 0)
    *type = ST_FILE_LOG;
  else if (strcmp(end, ".ldb") == 0 || strcmp(end, ".sst") == 0)
    *type = ST_FILE_TABLE;
  else if (strcmp(end, ".dbtmp") == 0)
    *type = ST_FILE_TEMP;
  else
    return 0;
  return 1;
}

int st_set_current_file(st_env *env, const char *db, uint64_t manifest_number, int *renamed) {
  char contents[64];
  int n =
      snprintf(contents, sizeof contents, "MANIFEST-%06llu\n", (unsigned long long)manifest_number);
  char *tmp = st_temp_file_name(db, manifest_number);
  char *cur = st_current_file_name(db);
  int rc = (!tmp || !cur) ? st_err(STRATA_ENOMEM, "file name") : 0;
  /* st_env_write_file removes a temporary file it could not write. */
  if (!rc) rc = st_env_write_file(env, tmp, contents, (size_t)n, 1);
  *renamed = 0;
  if (!rc) {
    rc = env->rename(env, tmp, cur);
    *renamed = rc == 0;
    if (rc) {
      /* Keep the rename's message, not the cleanup's. */
      st_error saved;
      st_error_capture(&saved, rc);
      env->remove_file(env, tmp);
      st_error_raise(&saved);
    }
  }
  if (*renamed) rc = env->sync_dir(env, db);
  free(tmp);
  free(cur);
  return rc;
}

int st_dir_has_database_files(st_env *env, const char *dir) {
  char **names = NULL;
  size_t n = 0;
  if (env->children(env, dir, &names, &n)) return 0;
  int found = 0;
  for (size_t i = 0; i < n && !found; i++) {
    uint64_t number;
    st_file_type type;
    if (st_parse_file_name(names[i], &number, &type))
      found = type == ST_FILE_CURRENT || type == ST_FILE_MANIFEST || type == ST_FILE_LOG ||
              type == ST_FILE_TABLE;
  }
  st_env_free_children(names, n);
  return found;
}
