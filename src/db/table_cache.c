/* table_cache.c - cache of open tables (see table_cache.h). */
#include "db/table_cache.h"

#include <stdlib.h>
#include <string.h>

#include "db/filename.h"
#include "util/coding.h"
#include "util/error.h"

struct st_table_cache {
  st_env *env;
  char *dbname;
  st_table_options topt;
  st_cache *cache;
};

st_table_cache *st_table_cache_new(st_env *env, const char *dbname, const st_table_options *topt,
                                   int entries) {
  st_table_cache *tc = calloc(1, sizeof *tc);
  if (!tc) return NULL;
  tc->env = env;
  tc->dbname = strdup(dbname);
  tc->topt = *topt;
  tc->cache = st_cache_new(entries > 0 ? (size_t)entries : 1);
  if (!tc->dbname || !tc->cache) {
    st_table_cache_free(tc);
    return NULL;
  }
  return tc;
}

void st_table_cache_free(st_table_cache *tc) {
  if (!tc) return;
  st_cache_free(tc->cache);
  free(tc->dbname);
  free(tc);
}

static void delete_table(st_slice key, void *value) {
  (void)key;
  st_table_close(value);
}

/* Opens table `number` (NNNNNN.ldb, else NNNNNN.sst) and returns a held
 * cache handle on it, or NULL with the error in *rc -- STRATA_ECORRUPTION
 * for a missing file, or STRATA_ENOTFOUND with missing_ok. */
static st_cache_handle *find_table_ex(st_table_cache *tc, uint64_t number, uint64_t file_size,
                                      int *rc, int missing_ok) {
  char key[8];
  st_put_fixed64(key, number);
  st_slice k = st_slice_make(key, 8);
  st_cache_handle *h = st_cache_lookup(tc->cache, k);
  if (h) return h;

  char *path = st_table_file_name(tc->dbname, number);
  if (!path) {
    *rc = st_err(STRATA_ENOMEM, "table file name");
    return NULL;
  }
  st_rafile *file = NULL;
  int r = tc->env->new_rafile(tc->env, path, &file);
  if (r == STRATA_ENOTFOUND) {
    /* Older LevelDB named tables .sst. */
    char *sst = st_sst_table_file_name(tc->dbname, number);
    if (sst && tc->env->new_rafile(tc->env, sst, &file) == 0) {
      free(path);
      path = sst;
      r = 0;
    } else {
      free(sst);
      r = missing_ok ? st_err(STRATA_ENOTFOUND, "%s: table file is missing", path)
                     : st_err(STRATA_ECORRUPTION, "%s: table file is missing", path);
    }
  }
  st_table *t = NULL;
  if (r == 0) r = st_table_open(&tc->topt, file, file_size, path, &t);
  free(path);
  if (r) {
    /* Errors are not cached: the next read retries (the file may have been
     * restored). */
    *rc = r;
    return NULL;
  }
  h = st_cache_insert(tc->cache, k, t, 1, delete_table);
  if (!h) *rc = st_err(STRATA_ENOMEM, "table cache insert");
  return h;
}

static st_cache_handle *find_table(st_table_cache *tc, uint64_t number, uint64_t file_size,
                                   int *rc) {
  return find_table_ex(tc, number, file_size, rc, 0);
}

static void release_handle(void *cache, void *handle) { st_cache_release(cache, handle); }

st_iter *st_table_cache_iter(st_table_cache *tc, const st_read_opts *ro, uint64_t number,
                             uint64_t file_size, st_table **tablep) {
  int rc = 0;
  if (tablep) *tablep = NULL;
  st_cache_handle *h = find_table(tc, number, file_size, &rc);
  if (!h) return st_iter_empty(rc);
  st_table *t = st_cache_value(h);
  st_iter *it = st_table_iter(t, ro);
  if (!it) {
    st_cache_release(tc->cache, h);
    return NULL;
  }
  st_iter_on_destroy(it, release_handle, tc->cache, h);
  if (tablep) *tablep = t;
  return it;
}

int st_table_cache_get(st_table_cache *tc, const st_read_opts *ro, uint64_t number,
                       uint64_t file_size, st_slice ikey, void *arg,
                       int (*fn)(void *arg, st_slice k, st_slice v)) {
  int rc = 0;
  st_cache_handle *h = find_table(tc, number, file_size, &rc);
  if (!h) return rc;
  rc = st_table_get(st_cache_value(h), ro, ikey, arg, fn);
  st_cache_release(tc->cache, h);
  return rc;
}

uint64_t st_table_cache_approximate_offset(st_table_cache *tc, uint64_t number, uint64_t file_size,
                                           st_slice ikey) {
  int rc = 0;
  st_cache_handle *h = find_table(tc, number, file_size, &rc);
  if (!h) return 0;
  uint64_t off = st_table_approximate_offset(st_cache_value(h), ikey);
  st_cache_release(tc->cache, h);
  return off;
}

int st_table_cache_middle_key(st_table_cache *tc, uint64_t number, uint64_t file_size,
                              st_buf *out) {
  int rc = 0;
  st_cache_handle *h = find_table(tc, number, file_size, &rc);
  if (!h) return rc ? rc : STRATA_ENOTFOUND;
  rc = st_table_middle_key(st_cache_value(h), out);
  st_cache_release(tc->cache, h);
  return rc;
}

int st_table_cache_open(st_table_cache *tc, uint64_t number, uint64_t file_size) {
  int rc = 0;
  st_cache_handle *h = find_table_ex(tc, number, file_size, &rc, 1);
  if (!h) return rc;
  st_cache_release(tc->cache, h);
  return 0;
}

void st_table_cache_evict(st_table_cache *tc, uint64_t number) {
  char key[8];
  st_put_fixed64(key, number);
  st_cache_erase(tc->cache, st_slice_make(key, 8));
}
