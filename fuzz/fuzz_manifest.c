/*
 * fuzz_manifest.c - MANIFEST recovery and checking. The input is a mode
 * byte (fuzz_util.h) and a MANIFEST; CURRENT names it, beside an empty log
 * 000003.log and a small valid table 000005.ldb (which edits may name).
 * The database is opened, scanned and closed, then strata_check reads it.
 * Any outcome but a crash, a sanitizer report, a leak or a hang is fine.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "util/error.h"

static void ignore(void *arg, const char *file, uint64_t offset, int code, const char *what) {
  (void)arg;
  (void)file;
  (void)offset;
  (void)code;
  (void)what;
}

/* A table holding "a"@1 -> "x": made once by a database in memory, kept. */
static char *table;
static size_t table_len;

static void make_table(strata_logger *quiet) {
  strata_env *env = strata_env_memory();
  strata_options o = fz_options(env, quiet, 0);
  o.create_if_missing = 1;
  strata_db *db;
  if (env && strata_open("/t", &o, &db) == 0) {
    strata_put(db, NULL, "a", 1, "x", 1);
    strata_compact_range(db, NULL, 0, NULL, 0);
    strata_close(db);
    char **names;
    size_t n;
    if (env->children(env, "/t", &names, &n) == 0) {
      for (size_t i = 0; i < n; i++) {
        if (!table && strstr(names[i], ".ldb")) {
          char path[64];
          snprintf(path, sizeof path, "/t/%s", names[i]);
          strata_seqfile *f;
          if (env->new_seqfile(env, path, &f) == 0) {
            char scratch[4096];
            strata_slice got;
            while (f->read(f, sizeof scratch, scratch, &got) == 0 && got.size) {
              table = realloc(table, table_len + got.size);
              memcpy(table + table_len, got.data, got.size);
              table_len += got.size;
            }
            f->close(f);
          }
        }
        free(names[i]);
      }
      free(names);
    }
  }
  strata_env_memory_destroy(env);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  static strata_logger *quiet;
  if (!quiet && strata_logger_create(NULL, fz_quiet_log, NULL, &quiet)) return 0;
  if (!table) make_table(quiet);
  int mode = data[0];
  size_t n = size - 1;
  unsigned char *m = malloc(n ? n : 1);
  if (!m) return 0;
  memcpy(m, data + 1, n);
  if (mode & FZ_MODE_FIX_CRC) fz_fix_log_crcs(m, n);

  strata_env *env = strata_env_memory();
  if (env && env->create_dir(env, "/db") == 0 && fz_write(env, "/db/MANIFEST-000002", m, n) == 0 &&
      fz_write(env, "/db/CURRENT", "MANIFEST-000002\n", 16) == 0 &&
      fz_write(env, "/db/000003.log", "", 0) == 0 &&
      fz_write(env, "/db/000005.ldb", table, table_len) == 0) {
    strata_options o = fz_options(env, quiet, (mode & FZ_MODE_PARANOID) != 0);
    strata_db *db;
    if (strata_open("/db", &o, &db) == 0) {
      fz_scan(db, 1);
      strata_close(db);
    }
    uint64_t problems;
    strata_check("/db", &o, ignore, NULL, &problems);
  }
  strata_env_memory_destroy(env);
  free(m);
  st_err_clear();
  return 0;
}
