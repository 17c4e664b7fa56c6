/* builder.c - memtable -> level-0 table (see builder.h). */
#include "db/builder.h"

#include <stdlib.h>

#include "db/filename.h"
#include "table/table_builder.h"
#include "util/error.h"

int st_build_table(st_env *env, const char *dbname, const st_table_options *topt,
                   st_table_cache *tc, st_iter *it, st_built_table *out) {
  out->file_size = 0;
  st_iter_seek_to_first(it);
  if (!st_iter_valid(it)) return st_iter_status(it);

  char *path = st_table_file_name(dbname, out->number);
  if (!path) return st_err(STRATA_ENOMEM, "table file name");
  st_wfile *file = NULL;
  int rc = env->new_wfile(env, path, &file);
  if (rc) {
    free(path);
    return rc;
  }
  st_table_builder *b = st_table_builder_new(topt, file);
  if (!b) rc = st_err(STRATA_ENOMEM, "table builder");
  if (!rc) {
    st_slice k = st_iter_key(it);
    rc = st_buf_set(&out->smallest, k.data, k.size);
  }
  st_slice last = {0};
  for (; !rc && st_iter_valid(it); st_iter_next(it)) {
    last = st_iter_key(it);
    rc = st_table_builder_add(b, last, st_iter_value(it));
  }
  if (!rc) rc = st_buf_set(&out->largest, last.data, last.size);
  if (!rc) rc = st_iter_status(it);
  if (!rc)
    rc = st_table_builder_finish(b);
  else if (b)
    st_table_builder_abandon(b);
  if (!rc) out->file_size = st_table_builder_file_size(b);
  st_table_builder_free(b);
  /* The table must be on disk before the MANIFEST names it. */
  if (!rc) rc = file->sync(file);
  int crc = file->close(file);
  if (!rc) rc = crc;
  if (!rc) {
    /* Check the new table reads back before the MANIFEST points at it. */
    st_read_opts ro = {0, 0};
    st_iter *check = st_table_cache_iter(tc, &ro, out->number, out->file_size, NULL);
    if (!check)
      rc = st_err(STRATA_ENOMEM, "table check");
    else {
      rc = st_iter_status(check);
      st_iter_destroy(check);
    }
  }
  if (rc) {
    st_error saved;
    st_error_capture(&saved, rc);
    env->remove_file(env, path);
    st_table_cache_evict(tc, out->number);
    st_error_raise(&saved);
    out->file_size = 0;
  }
  free(path);
  return rc;
}
