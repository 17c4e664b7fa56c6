/*
 * fuzz_log.c - the write-ahead log reader and recovery. The input is a
 * mode byte (fuzz_util.h) and a log file. Every record is read back with
 * the log reader and decoded as a write batch; then the file becomes
 * 000003.log of a database whose MANIFEST says nothing is flushed yet, and
 * the database is opened (recovery replays the log and flushes it to a
 * table), scanned both ways, written to, and closed. Any outcome but a
 * crash, a sanitizer report, a leak or a hang is fine.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "db/log_reader.h"
#include "db/write_batch.h"
#include "fuzz_util.h"
#include "util/error.h"

static void ignore(void *arg, uint64_t offset, size_t bytes, const char *reason) {
  (void)arg;
  (void)offset;
  (void)bytes;
  (void)reason;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  int mode = data[0];
  size_t n = size - 1;
  unsigned char *log = malloc(n ? n : 1);
  if (!log) return 0;
  memcpy(log, data + 1, n);
  if (mode & FZ_MODE_FIX_CRC) fz_fix_log_crcs(log, n);

  strata_env *env = strata_env_memory();
  strata_logger *quiet = NULL;
  if (!env || strata_logger_create(NULL, fz_quiet_log, NULL, &quiet)) goto done;
  env->create_dir(env, "/db");
  if (fz_write(env, "/db/000003.log", log, n)) goto done;

  /* The reader alone. */
  strata_seqfile *f;
  if (env->new_seqfile(env, "/db/000003.log", &f) == 0) {
    st_log_reader *r = st_log_reader_new(f, 1, ignore, NULL);
    strata_batch b;
    if (r && st_batch_init(&b) == 0) {
      st_slice rec;
      while (st_log_read_record(r, &rec) == 1)
        if (st_batch_set_contents(&b, rec) == 0) st_batch_validate(&b);
      st_batch_release(&b);
    }
    st_log_reader_free(r);
    f->close(f);
  }

  /* Recovery. */
  if (fz_write_manifest(env, "/db", 0, 0, 0, 0, 0, st_slice_make(NULL, 0),
                        st_slice_make(NULL, 0)) == 0) {
    strata_options o = fz_options(env, quiet, (mode & FZ_MODE_PARANOID) != 0);
    strata_db *db;
    if (strata_open("/db", &o, &db) == 0) {
      fz_scan(db, 1);
      strata_buf v = STRATA_BUF_INIT;
      strata_get(db, NULL, "a", 1, &v);
      strata_buf_free(&v);
      strata_put(db, NULL, "a", 1, "b", 1);
      fz_scan(db, 0);
      strata_close(db);
    }
  }

done:
  strata_logger_destroy(quiet);
  strata_env_memory_destroy(env);
  free(log);
  st_err_clear();
  return 0;
}
