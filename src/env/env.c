/* env.c - helpers that work with any st_env (see env.h). */
#include "env/env.h"

#include <stdlib.h>

#include "util/buf.h"
#include "util/error.h"

void st_env_free_children(char **names, size_t n) {
  if (!names) return;
  for (size_t i = 0; i < n; i++)
    free(names[i]);
  free(names);
}

int st_env_write_file(st_env *env, const char *path, const char *data, size_t n, int sync) {
  st_wfile *f;
  int rc = env->new_wfile(env, path, &f);
  if (rc) return rc;
  rc = f->append(f, data, n);
  if (rc == 0 && sync) rc = f->sync(f);
  int crc = f->close(f);
  if (rc == 0) rc = crc;
  if (rc) {
    /* A half-written file (e.g. a CURRENT being replaced) must not be left
     * behind to be read later; keep the write's message, not the remove's. */
    st_error saved;
    st_error_capture(&saved, rc);
    env->remove_file(env, path);
    st_error_raise(&saved);
  }
  return rc;
}

int st_env_read_file(st_env *env, const char *path, struct strata_buf *out) {
  enum { CHUNK = 8192 };
  st_seqfile *f;
  int rc = env->new_seqfile(env, path, &f);
  if (rc) return rc;
  size_t start = out->size;
  for (;;) {
    rc = st_buf_reserve(out, CHUNK);
    if (rc) break;
    st_slice got;
    rc = f->read(f, CHUNK, out->data + out->size, &got);
    if (rc) break;
    if (got.size == 0) break;
    /* The file may hand back its own memory instead of filling scratch. */
    if (got.data != out->data + out->size) memmove(out->data + out->size, got.data, got.size);
    out->size += got.size;
  }
  f->close(f);
  if (rc) out->size = start; /* all or nothing */
  return rc;
}
