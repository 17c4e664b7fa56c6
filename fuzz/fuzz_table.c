/*
 * fuzz_table.c - a sorted table: opened, scanned, searched and compacted.
 * The input is a mode byte (fuzz_util.h; bit 2 adds a bloom filter and a
 * block cache to the reader's options) and a table file. The table is
 * opened directly and read forward and backward, with and without checksum
 * verification, searched at its first, middle and last keys, and asked for
 * its middle key and offsets. When it reads without error, it becomes
 * 000005.ldb at level 1 of a database (its key range in the MANIFEST taken
 * from its first and last keys), a key is written over its range, and a
 * compaction of everything merges the two. Any outcome but a crash, a
 * sanitizer report, a leak or a hang is fine.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "table/iterator.h"
#include "table/table.h"
#include "util/buf.h"
#include "util/comparator.h"
#include "util/error.h"
#include "util/internal_key.h"
#include "util/logger.h" /* struct strata_cache */

static int on_get(void *arg, st_slice k, st_slice v) {
  (void)v;
  *(size_t *)arg += k.size;
  return 0;
}

/* Reads the whole table; 0 when it read cleanly, with its first and last
 * keys in first and last. */
static int read_table(st_table *t, int verify, st_buf *first, st_buf *last) {
  st_read_opts ro = {verify, 1};
  st_iter *it = st_table_iter(t, &ro);
  if (!it) return STRATA_ENOMEM;
  uint64_t n = 0;
  for (st_iter_seek_to_first(it); st_iter_valid(it) && n < 100000; st_iter_next(it), n++) {
    st_slice k = st_iter_key(it);
    if (n == 0) st_buf_set(first, k.data, k.size);
    st_buf_set(last, k.data, k.size);
    st_iter_value(it);
  }
  for (st_iter_seek_to_last(it); st_iter_valid(it) && n < 200000; st_iter_prev(it), n++)
    st_iter_key(it);
  if (first->size) {
    st_iter_seek(it, st_buf_slice(first));
    if (st_iter_valid(it)) st_iter_next(it);
  }
  int rc = st_iter_status(it);
  st_iter_destroy(it);
  return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  static strata_logger *quiet;
  static strata_filter_policy *bloom;
  static strata_cache *cache;
  if (!quiet && strata_logger_create(NULL, fz_quiet_log, NULL, &quiet)) return 0;
  if (!bloom && strata_filter_policy_create_bloom(10, &bloom)) return 0;
  if (!cache && strata_cache_create_lru(1 << 20, &cache)) return 0;
  int mode = data[0];
  size_t n = size - 1;
  unsigned char *tb = malloc(n ? n : 1);
  if (!tb) return 0;
  memcpy(tb, data + 1, n);
  if (mode & FZ_MODE_FIX_CRC) fz_fix_table_crcs(tb, n);

  strata_env *env = strata_env_memory();
  st_buf first = ST_BUF_INIT, last = ST_BUF_INIT;
  int clean = 0;
  if (env && env->create_dir(env, "/db") == 0 && fz_write(env, "/db/000005.ldb", tb, n) == 0) {
    st_table_options to;
    memset(&to, 0, sizeof to);
    to.ucmp = &st_bytewise_comparator;
    to.block_size = 4096;
    to.restart_interval = 16;
    to.paranoid_checks = (mode & FZ_MODE_PARANOID) != 0;
    if (mode & 4) {
      to.filter_policy = bloom;
      to.block_cache = cache->cache;
    }
    st_table *t;
    if (st_table_open_path(env, &to, "/db/000005.ldb", NULL, &t) == 0) {
      int rc0 = read_table(t, 0, &first, &last);
      int rc1 = read_table(t, 1, &first, &last);
      clean = rc0 == 0 && rc1 == 0;
      st_read_opts ro = {1, 1};
      size_t sum = 0;
      st_buf probe = ST_BUF_INIT;
      if (first.size) st_table_get(t, &ro, st_buf_slice(&first), &sum, on_get);
      if (last.size) st_table_get(t, &ro, st_buf_slice(&last), &sum, on_get);
      if (st_table_middle_key(t, &probe) == 0 && probe.size) {
        st_table_get(t, &ro, st_buf_slice(&probe), &sum, on_get);
        st_table_approximate_offset(t, st_buf_slice(&probe));
      }
      st_buf_free(&probe);
      st_table_close(t);
    }
  }
  /* Compaction: only of tables that read cleanly and hold internal keys
   * (the MANIFEST needs a key range). */
  if (clean && first.size >= 8 && last.size >= 8 &&
      fz_write_manifest(env, "/db", 0, (uint64_t)1 << 55, 5, 1, n, st_buf_slice(&first),
                        st_buf_slice(&last)) == 0) {
    strata_options o = fz_options(env, quiet, (mode & FZ_MODE_PARANOID) != 0);
    strata_db *db;
    if (strata_open("/db", &o, &db) == 0) {
      st_slice u = st_ikey_user(st_buf_slice(&first));
      strata_put(db, NULL, u.data, u.size, "over", 4);
      strata_compact_range(db, NULL, 0, NULL, 0);
      fz_scan(db, 1);
      strata_close(db);
    }
  }
  st_buf_free(&first);
  st_buf_free(&last);
  strata_env_memory_destroy(env);
  free(tb);
  st_err_clear();
  return 0;
}
