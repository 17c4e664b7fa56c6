/*
 * env_mem.c - the in-memory environment (strata_env_memory(), strata.h):
 * files and directories live in a hash map owned by the env and vanish
 * with it. Used by the tests, and by users who want a database that never
 * touches the disk.
 *
 * Ownership: the env owns its map, its directories and every file's bytes.
 * A file's bytes are reference counted: the name in the map holds one
 * reference and every open file object (seqfile, rafile, wfile) another,
 * so a file removed or replaced while open stays readable and writable
 * through that object, as an open descriptor keeps an unlinked inode alive
 * on POSIX. strata_env_memory_destroy() frees everything at once; every
 * file object and lock must have been closed before.
 *
 * Thread safety: all state sits behind one mutex per env, taken by every
 * operation, so every function may be called from any thread. Reads copy
 * into the caller's scratch while holding it rather than handing out
 * pointers into a file, because an append to the same file may realloc
 * its bytes; this also makes concurrent reads of one rafile safe.
 *
 * Semantics and messages follow env_posix.c so a database behaves the same
 * on both: a missing file gives STRATA_ENOTFOUND ("NotFound: <path>: No such
 * file or directory" when opening one to read it), other failures carry the
 * POSIX errno text a real file system would give (EISDIR, ENOTDIR,
 * ENOTEMPTY). Differences, all deliberate:
 * - create_dir makes missing ancestors (mkdir -p): the env starts empty,
 *   with no "/tmp" to create a database under.
 * - Writes are never buffered: append puts the bytes in the file at once,
 *   so flush and sync only report a sticky error (the only write error here
 *   is running out of memory).
 * - Opening a directory as a file fails at open, not at the first read.
 * - Locks are a set of held paths, so a LOCK removed while held stays held.
 * - Threads, clock and sleep are the POSIX env's (real pthreads, monotonic
 *   clock, real sleep).
 * Paths are opaque strings except that runs of '/' count as one and a
 * trailing '/' is ignored, so "db/" and "db//CURRENT" name what they would
 * on POSIX. Relative names have the always-present current directory as
 * parent; "/" always exists.
 *
 * The functions find their store through env->state, so a user env that
 * copies the struct and replaces some pointers (leaving state alone) still
 * works.
 */
#include "env/env.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/error.h"

/* Initial bucket count of the path map (a power of two); doubled whenever
 * the map holds more entries than buckets. */
#define MEM_BUCKETS_INIT 64

/* A file's bytes, shared by its name and its open file objects. */
typedef struct mem_file {
  size_t refs; /* the name (while linked) + open file objects; under mu */
  char *data;
  size_t size;
  size_t cap;
} mem_file;

/* One name in the map: a file or a directory. */
typedef struct mem_node {
  struct mem_node *next; /* hash chain */
  uint64_t hash;
  mem_file *file; /* NULL: a directory */
  char path[];    /* normalised */
} mem_node;

/* A held lock; its path is normalised. */
struct strata_filelock {
  struct strata_filelock *next;
  char path[];
};

typedef struct mem_env {
  st_env base;
  pthread_mutex_t mu; /* guards everything below and every mem_file */
  mem_node **buckets;
  size_t nbuckets; /* a power of two */
  size_t count;
  st_filelock *locks;
} mem_env;

static mem_env *env_of(st_env *env) { return (mem_env *)env->state; }

static int rename_err(const char *from, const char *to, int errnum) {
  if (errnum == ENOENT)
    return st_err(STRATA_ENOTFOUND, "rename %s to %s: %s", from, to, strerror(errnum));
  if (errnum == ENOMEM) return st_err(STRATA_ENOMEM, "rename %s to %s", from, to);
  return st_err(STRATA_EIO, "rename %s to %s: %s", from, to, strerror(errnum));
}

/* A malloc'd copy of path with runs of '/' collapsed and a trailing '/'
 * dropped (except for "/" itself), so that one file has one key. NULL when
 * out of memory. */
static char *norm_path(const char *path) {
  size_t n = strlen(path);
  char *out = malloc(n + 1);
  if (!out) return NULL;
  size_t j = 0;
  for (size_t i = 0; i < n; i++) {
    if (path[i] == '/' && j > 0 && out[j - 1] == '/') continue;
    out[j++] = path[i];
  }
  while (j > 1 && out[j - 1] == '/')
    j--;
  out[j] = '\0';
  return out;
}

/* ------------------------------------------------------------------------ */
/* The path map                                                             */
/* ------------------------------------------------------------------------ */

/* FNV-1a: short keys, few of them; anything that spreads them will do. */
static uint64_t hash_path(const char *s, size_t len) {
  uint64_t h = 14695981039346656037u;
  for (size_t i = 0; i < len; i++) {
    h ^= (unsigned char)s[i];
    h *= 1099511628211u;
  }
  return h;
}

/* The node of the first len bytes of key, or NULL. */
static mem_node *find_n(mem_env *m, const char *key, size_t len) {
  uint64_t h = hash_path(key, len);
  for (mem_node *nd = m->buckets[h & (m->nbuckets - 1)]; nd; nd = nd->next) {
    if (nd->hash == h && strncmp(nd->path, key, len) == 0 && nd->path[len] == '\0') return nd;
  }
  return NULL;
}

static mem_node *find(mem_env *m, const char *key) { return find_n(m, key, strlen(key)); }

/* An unlinked node for the first len bytes of key. */
static mem_node *node_new(const char *key, size_t len, mem_file *file) {
  mem_node *nd = malloc(sizeof *nd + len + 1);
  if (!nd) return NULL;
  memcpy(nd->path, key, len);
  nd->path[len] = '\0';
  nd->hash = hash_path(key, len);
  nd->file = file;
  nd->next = NULL;
  return nd;
}

/* Links nd into the map. Never fails: when the bucket array cannot grow,
 * chains just get longer. */
static void node_link(mem_env *m, mem_node *nd) {
  if (m->count >= m->nbuckets && m->nbuckets <= SIZE_MAX / 2 / sizeof *m->buckets) {
    size_t nb = m->nbuckets * 2;
    mem_node **b = calloc(nb, sizeof *b);
    if (b) {
      for (size_t i = 0; i < m->nbuckets; i++) {
        mem_node *p = m->buckets[i];
        while (p) {
          mem_node *next = p->next;
          p->next = b[p->hash & (nb - 1)];
          b[p->hash & (nb - 1)] = p;
          p = next;
        }
      }
      free(m->buckets);
      m->buckets = b;
      m->nbuckets = nb;
    }
  }
  mem_node **head = &m->buckets[nd->hash & (m->nbuckets - 1)];
  nd->next = *head;
  *head = nd;
  m->count++;
}

/* Takes nd out of the map without freeing it. */
static void node_unlink(mem_env *m, mem_node *nd) {
  for (mem_node **pp = &m->buckets[nd->hash & (m->nbuckets - 1)]; *pp; pp = &(*pp)->next) {
    if (*pp == nd) {
      *pp = nd->next;
      m->count--;
      return;
    }
  }
}

static void file_unref(mem_file *f) {
  if (f && --f->refs == 0) {
    free(f->data);
    free(f);
  }
}

/* The name of path inside dir when path is a direct entry of dir (both
 * normalised), else NULL. */
static const char *child_name(const char *dir, size_t dlen, const char *path) {
  const char *name;
  if (dlen == 1 && dir[0] == '/') {
    if (path[0] != '/') return NULL;
    name = path + 1;
  } else {
    if (strncmp(path, dir, dlen) != 0 || path[dlen] != '/') return NULL;
    name = path + dlen + 1;
  }
  return *name && !strchr(name, '/') ? name : NULL;
}

static int has_children(mem_env *m, const char *dir) {
  size_t dlen = strlen(dir);
  for (size_t i = 0; i < m->nbuckets; i++) {
    for (mem_node *nd = m->buckets[i]; nd; nd = nd->next) {
      if (child_name(dir, dlen, nd->path)) return 1;
    }
  }
  return 0;
}

/* 0 when a new entry key can be made (its parent is a directory), else the
 * errno POSIX would give: ENOENT (no parent, or an empty name) or ENOTDIR
 * (the parent is a file). Also the right errno for a key that is missing. */
static int parent_errno(mem_env *m, const char *key) {
  if (!*key) return ENOENT;
  const char *slash = strrchr(key, '/');
  if (!slash) return 0; /* a relative name: the current directory is there */
  size_t len = slash == key ? 1 : (size_t)(slash - key);
  mem_node *p = find_n(m, key, len);
  if (!p) return ENOENT;
  return p->file ? ENOTDIR : 0;
}

static int missing_errno(mem_env *m, const char *key) {
  int e = parent_errno(m, key);
  return e ? e : ENOENT;
}

/* ------------------------------------------------------------------------ */
/* Sequential files                                                         */
/* ------------------------------------------------------------------------ */

typedef struct mem_seqfile {
  st_seqfile base;
  mem_env *env;
  mem_file *file;
  uint64_t pos;
} mem_seqfile;

static int seq_read(st_seqfile *f, size_t n, char *scratch, st_slice *out) {
  mem_seqfile *s = (mem_seqfile *)f;
  pthread_mutex_lock(&s->env->mu);
  mem_file *mf = s->file;
  size_t k = 0;
  if (s->pos < mf->size) {
    size_t avail = mf->size - (size_t)s->pos;
    k = n < avail ? n : avail;
    memcpy(scratch, mf->data + s->pos, k);
  }
  pthread_mutex_unlock(&s->env->mu);
  s->pos += k;
  out->data = scratch;
  out->size = k;
  return 0;
}

static int seq_skip(st_seqfile *f, uint64_t n) {
  mem_seqfile *s = (mem_seqfile *)f;
  /* Past the end is allowed (reads then return nothing); only overflow of
   * the position itself needs guarding. */
  s->pos = n > UINT64_MAX - s->pos ? UINT64_MAX : s->pos + n;
  return 0;
}

static void seq_close(st_seqfile *f) {
  mem_seqfile *s = (mem_seqfile *)f;
  if (!s) return;
  pthread_mutex_lock(&s->env->mu);
  file_unref(s->file);
  pthread_mutex_unlock(&s->env->mu);
  free(s);
}

/* Takes a reference on the file at path for a reader; 0 or an error. */
static int open_for_read(mem_env *m, const char *path, mem_file **out) {
  *out = NULL;
  char *key = norm_path(path);
  if (!key) return st_err_oom("open", path);
  int rc = 0;
  pthread_mutex_lock(&m->mu);
  mem_node *nd = find(m, key);
  if (!nd)
    rc = st_err_open_read(path, missing_errno(m, key));
  else if (!nd->file)
    rc = st_err_open_read(path, EISDIR);
  else {
    nd->file->refs++;
    *out = nd->file;
  }
  pthread_mutex_unlock(&m->mu);
  free(key);
  return rc;
}

static int mem_new_seqfile(st_env *env, const char *path, st_seqfile **out) {
  mem_env *m = env_of(env);
  *out = NULL;
  mem_seqfile *s = malloc(sizeof *s);
  if (!s) return st_err_oom("open", path);
  int rc = open_for_read(m, path, &s->file);
  if (rc) {
    free(s);
    return rc;
  }
  s->base.read = seq_read;
  s->base.skip_bytes = seq_skip;
  s->base.close = seq_close;
  s->env = m;
  s->pos = 0;
  *out = &s->base;
  return 0;
}

/* ------------------------------------------------------------------------ */
/* Random-access files                                                      */
/* ------------------------------------------------------------------------ */

typedef struct mem_rafile {
  st_rafile base;
  mem_env *env;
  mem_file *file;
} mem_rafile;

static int ra_read(const st_rafile *f, uint64_t offset, size_t n, char *scratch, st_slice *out) {
  const mem_rafile *r = (const mem_rafile *)f;
  pthread_mutex_lock(&r->env->mu);
  const mem_file *mf = r->file;
  size_t k = 0;
  if (offset < mf->size) {
    size_t avail = mf->size - (size_t)offset;
    k = n < avail ? n : avail;
    memcpy(scratch, mf->data + offset, k);
  }
  pthread_mutex_unlock(&r->env->mu);
  out->data = scratch;
  out->size = k;
  return 0;
}

static void ra_close(st_rafile *f) {
  mem_rafile *r = (mem_rafile *)f;
  if (!r) return;
  pthread_mutex_lock(&r->env->mu);
  file_unref(r->file);
  pthread_mutex_unlock(&r->env->mu);
  free(r);
}

static int mem_new_rafile(st_env *env, const char *path, st_rafile **out) {
  mem_env *m = env_of(env);
  *out = NULL;
  mem_rafile *r = malloc(sizeof *r);
  if (!r) return st_err_oom("open", path);
  int rc = open_for_read(m, path, &r->file);
  if (rc) {
    free(r);
    return rc;
  }
  r->base.read = ra_read;
  r->base.close = ra_close;
  r->env = m;
  *out = &r->base;
  return 0;
}

/* ------------------------------------------------------------------------ */
/* Writable files                                                           */
/* ------------------------------------------------------------------------ */

typedef struct mem_wfile {
  st_wfile base;
  mem_env *env;
  mem_file *file;
  int failed;   /* an append failed: every later call fails (as on POSIX) */
  st_error err; /* that failure, re-raised by every later call */
  char path[];  /* for error messages */
} mem_wfile;

static int wfile_append(st_wfile *f, const char *data, size_t n) {
  mem_wfile *w = (mem_wfile *)f;
  if (w->failed) return st_error_raise(&w->err);
  if (n == 0) return 0;
  int rc = 0;
  pthread_mutex_lock(&w->env->mu);
  mem_file *mf = w->file;
  if (n > SIZE_MAX - mf->size) {
    rc = STRATA_ENOMEM;
  } else if (n > mf->cap - mf->size) {
    /* Doubling keeps a table's many small appends amortised O(1). */
    size_t need = mf->size + n;
    size_t cap = mf->cap ? mf->cap : 4096;
    while (cap < need && cap <= SIZE_MAX / 2)
      cap *= 2;
    if (cap < need) cap = need;
    char *p = realloc(mf->data, cap);
    if (p) {
      mf->data = p;
      mf->cap = cap;
    } else {
      rc = STRATA_ENOMEM;
    }
  }
  if (rc == 0) {
    memcpy(mf->data + mf->size, data, n);
    mf->size += n;
  }
  pthread_mutex_unlock(&w->env->mu);
  if (rc) {
    /* Part of a record may be missing from what follows: refuse all later
     * writes, like the POSIX env after a failed write. */
    w->failed = 1;
    st_error_capture(&w->err, st_err_oom("write", w->path));
  }
  return rc;
}

static int wfile_flush(st_wfile *f) {
  mem_wfile *w = (mem_wfile *)f;
  return w->failed ? st_error_raise(&w->err) : 0;
}

static int wfile_close(st_wfile *f) {
  mem_wfile *w = (mem_wfile *)f;
  if (!w) return 0;
  int rc = wfile_flush(f);
  pthread_mutex_lock(&w->env->mu);
  file_unref(w->file);
  pthread_mutex_unlock(&w->env->mu);
  free(w);
  return rc;
}

/* Opens path for writing, creating it if missing; truncate empties an
 * existing file (O_TRUNC), otherwise writes go after its contents. Writes
 * always land at the current end, which for a truncated or new file is
 * where POSIX would put them too. */
static int open_for_write(st_env *env, const char *path, int truncate, st_wfile **out) {
  mem_env *m = env_of(env);
  *out = NULL;
  size_t plen = strlen(path) + 1;
  mem_wfile *w = malloc(sizeof *w + plen);
  char *key = norm_path(path);
  mem_file *fresh = calloc(1, sizeof *fresh);
  if (!w || !key || !fresh) {
    free(w);
    free(key);
    free(fresh);
    return st_err_oom("open", path);
  }
  int rc = 0;
  pthread_mutex_lock(&m->mu);
  mem_node *nd = find(m, key);
  if (nd && !nd->file) {
    rc = st_err_sys("open", path, EISDIR);
  } else if (nd) {
    if (truncate) {
      /* Readers still holding the file see it emptied, as after O_TRUNC. */
      free(nd->file->data);
      nd->file->data = NULL;
      nd->file->size = nd->file->cap = 0;
    }
  } else {
    int e = parent_errno(m, key);
    if (e) {
      rc = st_err_sys("open", path, e);
    } else if (!(nd = node_new(key, strlen(key), fresh))) {
      rc = st_err_oom("open", path);
    } else {
      fresh->refs = 1; /* the name's */
      fresh = NULL;
      node_link(m, nd);
    }
  }
  if (rc == 0) {
    nd->file->refs++;
    w->file = nd->file;
  }
  pthread_mutex_unlock(&m->mu);
  free(fresh);
  free(key);
  if (rc) {
    free(w);
    return rc;
  }
  w->base.append = wfile_append;
  w->base.flush = wfile_flush;
  w->base.sync = wfile_flush; /* memory is as durable as it gets */
  w->base.close = wfile_close;
  w->env = m;
  w->failed = 0;
  w->err.code = 0;
  w->err.msg[0] = '\0';
  memcpy(w->path, path, plen);
  *out = &w->base;
  return 0;
}

static int mem_new_wfile(st_env *env, const char *path, st_wfile **out) {
  return open_for_write(env, path, 1, out);
}

static int mem_new_appendable(st_env *env, const char *path, st_wfile **out) {
  return open_for_write(env, path, 0, out);
}

/* ------------------------------------------------------------------------ */
/* File system                                                              */
/* ------------------------------------------------------------------------ */

/* 1: a file; 2: a directory; 0: missing (or out of memory, which the 1-or-0
 * callers cannot report). */
static int kind_of(st_env *env, const char *path) {
  mem_env *m = env_of(env);
  char *key = norm_path(path);
  if (!key) return 0;
  pthread_mutex_lock(&m->mu);
  mem_node *nd = find(m, key);
  int kind = !nd ? 0 : nd->file ? 1 : 2;
  pthread_mutex_unlock(&m->mu);
  free(key);
  return kind;
}

static int mem_exists(st_env *env, const char *path) { return kind_of(env, path) != 0; }

static int mem_is_dir(st_env *env, const char *path) { return kind_of(env, path) == 2; }

static int mem_children(st_env *env, const char *dir, char ***names, size_t *n) {
  mem_env *m = env_of(env);
  *names = NULL;
  *n = 0;
  char *key = norm_path(dir);
  if (!key) return st_err_oom("opendir", dir);
  size_t dlen = strlen(key);
  char **list = NULL;
  size_t cnt = 0, cap = 0;
  int rc = 0;
  pthread_mutex_lock(&m->mu);
  mem_node *d = find(m, key);
  if (!d) rc = st_err_sys("opendir", dir, missing_errno(m, key));
  if (d && d->file) rc = st_err_sys("opendir", dir, ENOTDIR);
  for (size_t i = 0; i < m->nbuckets && rc == 0; i++) {
    for (mem_node *nd = m->buckets[i]; nd && rc == 0; nd = nd->next) {
      const char *name = child_name(key, dlen, nd->path);
      if (!name) continue;
      if (cnt == cap) {
        size_t ncap = cap ? cap * 2 : 16;
        char **nl = realloc(list, ncap * sizeof *nl);
        if (!nl) {
          rc = st_err_oom("readdir", dir);
          break;
        }
        list = nl;
        cap = ncap;
      }
      if (!(list[cnt] = strdup(name))) {
        rc = st_err_oom("readdir", dir);
        break;
      }
      cnt++;
    }
  }
  pthread_mutex_unlock(&m->mu);
  free(key);
  if (rc) {
    st_env_free_children(list, cnt);
    return rc;
  }
  *names = list;
  *n = cnt;
  return 0;
}

static int mem_remove_file(st_env *env, const char *path) {
  mem_env *m = env_of(env);
  char *key = norm_path(path);
  if (!key) return st_err_oom("unlink", path);
  int rc = 0;
  pthread_mutex_lock(&m->mu);
  mem_node *nd = find(m, key);
  if (!nd) {
    rc = st_err_sys("unlink", path, missing_errno(m, key));
  } else if (!nd->file) {
    rc = st_err_sys("unlink", path, EISDIR); /* Linux's answer for a directory */
  } else {
    node_unlink(m, nd);
    file_unref(nd->file); /* open file objects keep the bytes */
    free(nd);
  }
  pthread_mutex_unlock(&m->mu);
  free(key);
  return rc;
}

static int mem_create_dir(st_env *env, const char *path) {
  mem_env *m = env_of(env);
  char *key = norm_path(path);
  if (!key) return st_err_oom("mkdir", path);
  int rc = 0;
  pthread_mutex_lock(&m->mu);
  mem_node *nd = find(m, key);
  if (nd) {
    if (nd->file) rc = st_err(STRATA_EINVAL, "%s exists and is not a directory", path);
  } else if (!*key) {
    rc = st_err_sys("mkdir", path, ENOENT);
  } else {
    /* Every ancestor, then key itself (len == strlen(key) on the last
     * round). A relative key's first component has no ancestor; "/" is
     * always present. */
    size_t klen = strlen(key);
    for (size_t len = 1; len <= klen && rc == 0; len++) {
      if (len < klen && key[len] != '/') continue;
      mem_node *a = find_n(m, key, len);
      if (a && a->file) {
        rc = st_err_sys("mkdir", path, ENOTDIR);
      } else if (!a) {
        if (!(a = node_new(key, len, NULL)))
          rc = st_err_oom("mkdir", path);
        else
          node_link(m, a);
      }
    }
  }
  pthread_mutex_unlock(&m->mu);
  free(key);
  return rc;
}

static int mem_remove_dir(st_env *env, const char *path) {
  mem_env *m = env_of(env);
  char *key = norm_path(path);
  if (!key) return st_err_oom("rmdir", path);
  int rc = 0;
  pthread_mutex_lock(&m->mu);
  mem_node *nd = find(m, key);
  if (!nd)
    rc = st_err_sys("rmdir", path, missing_errno(m, key));
  else if (nd->file)
    rc = st_err_sys("rmdir", path, ENOTDIR);
  else if (strcmp(key, "/") == 0)
    rc = st_err_sys("rmdir", path, EBUSY);
  else if (has_children(m, key))
    rc = st_err_sys("rmdir", path, ENOTEMPTY);
  else {
    node_unlink(m, nd);
    free(nd);
  }
  pthread_mutex_unlock(&m->mu);
  free(key);
  return rc;
}

static int mem_file_size(st_env *env, const char *path, uint64_t *size) {
  mem_env *m = env_of(env);
  *size = 0;
  char *key = norm_path(path);
  if (!key) return st_err_oom("stat", path);
  int rc = 0;
  pthread_mutex_lock(&m->mu);
  mem_node *nd = find(m, key);
  if (!nd)
    rc = st_err_sys("stat", path, missing_errno(m, key));
  else if (nd->file)
    *size = nd->file->size;
  pthread_mutex_unlock(&m->mu);
  free(key);
  return rc;
}

/* Renames a directory and everything under it: every key with prefix from
 * gets prefix to instead. All new nodes are made before any old one is
 * touched, so running out of memory changes nothing. Under mu. */
static int rename_tree(mem_env *m, const char *from, const char *to) {
  size_t flen = strlen(from), tlen = strlen(to);
  mem_node **olds = NULL, **news = NULL;
  size_t cnt = 0, cap = 0;
  int e = 0;
  for (size_t i = 0; i < m->nbuckets && !e; i++) {
    for (mem_node *nd = m->buckets[i]; nd && !e; nd = nd->next) {
      if (strncmp(nd->path, from, flen) != 0 || (nd->path[flen] != '\0' && nd->path[flen] != '/'))
        continue;
      if (cnt == cap) {
        size_t ncap = cap ? cap * 2 : 16;
        mem_node **o = realloc(olds, ncap * sizeof *o);
        if (o) olds = o;
        mem_node **nw = o ? realloc(news, ncap * sizeof *nw) : NULL;
        if (nw) news = nw;
        if (!o || !nw) {
          e = ENOMEM;
          break;
        }
        cap = ncap;
      }
      const char *rest = nd->path + flen;
      size_t rlen = strlen(rest);
      mem_node *fresh = malloc(sizeof *fresh + tlen + rlen + 1);
      if (!fresh) {
        e = ENOMEM;
        break;
      }
      memcpy(fresh->path, to, tlen);
      memcpy(fresh->path + tlen, rest, rlen + 1);
      fresh->hash = hash_path(fresh->path, tlen + rlen);
      fresh->file = nd->file;
      fresh->next = NULL;
      olds[cnt] = nd;
      news[cnt] = fresh;
      cnt++;
    }
  }
  for (size_t i = 0; i < cnt; i++) {
    if (e) {
      free(news[i]);
    } else {
      node_unlink(m, olds[i]);
      free(olds[i]);
    }
  }
  if (!e) {
    for (size_t i = 0; i < cnt; i++)
      node_link(m, news[i]);
  }
  free(olds);
  free(news);
  return e;
}

/* The errno of rename(from, to) on the normalised keys, 0 once done. */
static int rename_locked(mem_env *m, const char *from, const char *to) {
  mem_node *src = find(m, from);
  if (!src) return missing_errno(m, from);
  int e = parent_errno(m, to);
  if (e) return e;
  if (strcmp(from, to) == 0) return 0; /* POSIX: same file, nothing to do */
  mem_node *dst = find(m, to);
  if (src->file) {
    if (dst && !dst->file) return EISDIR;
    if (dst) {
      /* Replace dst's bytes in place: one step under the mutex, so no
       * reader ever sees to missing. Readers of the old bytes keep them. */
      file_unref(dst->file);
      dst->file = src->file;
    } else {
      mem_node *nd = node_new(to, strlen(to), src->file);
      if (!nd) return ENOMEM;
      node_link(m, nd);
    }
    node_unlink(m, src);
    free(src);
    return 0;
  }
  /* A directory: not "/", not into itself, only over an empty directory. */
  size_t flen = strlen(from);
  if (strcmp(from, "/") == 0 || strcmp(to, "/") == 0) return EBUSY;
  if (strncmp(to, from, flen) == 0 && to[flen] == '/') return EINVAL;
  if (dst && dst->file) return ENOTDIR;
  if (dst && has_children(m, to)) return ENOTEMPTY;
  if (dst) node_unlink(m, dst);
  e = rename_tree(m, from, to);
  if (e && dst)
    node_link(m, dst); /* undo: the empty target was there */
  else if (dst)
    free(dst);
  return e;
}

static int mem_rename(st_env *env, const char *from, const char *to) {
  mem_env *m = env_of(env);
  char *kf = norm_path(from), *kt = norm_path(to);
  int rc = 0;
  if (!kf || !kt) {
    rc = rename_err(from, to, ENOMEM);
  } else {
    pthread_mutex_lock(&m->mu);
    int e = rename_locked(m, kf, kt);
    pthread_mutex_unlock(&m->mu);
    if (e) rc = rename_err(from, to, e);
  }
  free(kf);
  free(kt);
  return rc;
}

/* A hard link: a second name holding a reference on the same bytes, so a
 * write through either name is seen through the other, and removing one
 * name leaves the other intact (POSIX's link(2)). */
static int mem_link_file(st_env *env, const char *from, const char *to) {
  mem_env *m = env_of(env);
  char *kf = norm_path(from), *kt = norm_path(to);
  int e = 0;
  if (!kf || !kt) {
    e = ENOMEM;
  } else {
    pthread_mutex_lock(&m->mu);
    mem_node *src = find(m, kf);
    if (!src)
      e = missing_errno(m, kf);
    else if (!src->file)
      e = EPERM; /* Linux's answer for a directory */
    else if (find(m, kt))
      e = EEXIST;
    else if ((e = parent_errno(m, kt)) == 0) {
      mem_node *nd = node_new(kt, strlen(kt), src->file);
      if (!nd) {
        e = ENOMEM;
      } else {
        src->file->refs++;
        node_link(m, nd);
      }
    }
    pthread_mutex_unlock(&m->mu);
  }
  free(kf);
  free(kt);
  if (e == 0) return 0;
  if (e == ENOENT) return st_err(STRATA_ENOTFOUND, "link %s to %s: %s", from, to, strerror(e));
  if (e == ENOMEM) return st_err(STRATA_ENOMEM, "link %s to %s", from, to);
  if (e == EPERM) /* as env_posix.c reports it */
    return st_err(STRATA_ENOTSUP, "link %s to %s: %s", from, to, strerror(e));
  return st_err(STRATA_EIO, "link %s to %s: %s", from, to, strerror(e));
}

/* Nothing to make durable; only check the directory is there, as opening
 * it would on POSIX. */
static int mem_sync_dir(st_env *env, const char *dir) {
  mem_env *m = env_of(env);
  char *key = norm_path(dir);
  if (!key) return st_err_oom("open", dir);
  int rc = 0;
  pthread_mutex_lock(&m->mu);
  mem_node *nd = find(m, key);
  if (!nd)
    rc = st_err_sys("open", dir, missing_errno(m, key));
  else if (nd->file)
    rc = st_err_sys("open", dir, ENOTDIR);
  pthread_mutex_unlock(&m->mu);
  free(key);
  return rc;
}

/* ------------------------------------------------------------------------ */
/* Locks                                                                    */
/* ------------------------------------------------------------------------ */

static int mem_lock_file(st_env *env, const char *path, st_filelock **out) {
  mem_env *m = env_of(env);
  *out = NULL;
  char *key = norm_path(path);
  size_t klen = key ? strlen(key) : 0;
  st_filelock *l = key ? malloc(sizeof *l + klen + 1) : NULL;
  mem_file *fresh = calloc(1, sizeof *fresh);
  if (!l || !fresh) {
    free(key);
    free(l);
    free(fresh);
    return st_err_oom("lock", path);
  }
  memcpy(l->path, key, klen + 1);
  int rc = 0;
  pthread_mutex_lock(&m->mu);
  for (st_filelock *p = m->locks; p && rc == 0; p = p->next) {
    if (strcmp(p->path, key) == 0)
      rc = st_err(STRATA_EBUSY, "lock %s: already held by another handle in this process", path);
  }
  mem_node *nd = rc ? NULL : find(m, key);
  if (rc == 0 && nd && !nd->file) rc = st_err_sys("lock", path, EISDIR);
  if (rc == 0 && !nd) {
    /* Like open(O_CREAT): the lock file is made if missing. */
    int e = parent_errno(m, key);
    if (e) {
      rc = st_err_sys("lock", path, e);
    } else if (!(nd = node_new(key, klen, fresh))) {
      rc = st_err_oom("lock", path);
    } else {
      fresh->refs = 1;
      fresh = NULL;
      node_link(m, nd);
    }
  }
  if (rc == 0) {
    l->next = m->locks;
    m->locks = l;
  }
  pthread_mutex_unlock(&m->mu);
  free(fresh);
  free(key);
  if (rc) {
    free(l);
    return rc;
  }
  *out = l;
  return 0;
}

static int mem_unlock_file(st_env *env, st_filelock *l) {
  mem_env *m = env_of(env);
  if (!l) return 0;
  pthread_mutex_lock(&m->mu);
  for (st_filelock **pp = &m->locks; *pp; pp = &(*pp)->next) {
    if (*pp == l) {
      *pp = l->next;
      break;
    }
  }
  pthread_mutex_unlock(&m->mu);
  free(l);
  return 0;
}

/* ------------------------------------------------------------------------ */
/* Construction                                                             */
/* ------------------------------------------------------------------------ */

strata_env *strata_env_memory(void) {
  mem_env *m = calloc(1, sizeof *m);
  if (!m) return NULL;
  m->nbuckets = MEM_BUCKETS_INIT;
  m->buckets = calloc(m->nbuckets, sizeof *m->buckets);
  mem_node *root = node_new("/", 1, NULL);
  if (!m->buckets || !root || pthread_mutex_init(&m->mu, NULL) != 0) {
    free(root);
    free(m->buckets);
    free(m);
    return NULL;
  }
  node_link(m, root);
  /* Threads and time are not file-system state: the POSIX env's real
   * pthreads, monotonic clock and sleep serve here unchanged. */
  const st_env *posix = st_env_posix();
  m->base = (st_env){
      .new_seqfile = mem_new_seqfile,
      .new_rafile = mem_new_rafile,
      .new_wfile = mem_new_wfile,
      .new_appendable = mem_new_appendable,
      .exists = mem_exists,
      .is_dir = mem_is_dir,
      .children = mem_children,
      .remove_file = mem_remove_file,
      .create_dir = mem_create_dir,
      .remove_dir = mem_remove_dir,
      .file_size = mem_file_size,
      .rename = mem_rename,
      .sync_dir = mem_sync_dir,
      .lock_file = mem_lock_file,
      .unlock_file = mem_unlock_file,
      .thread_create = posix->thread_create,
      .thread_join = posix->thread_join,
      .now_micros = posix->now_micros,
      .sleep_micros = posix->sleep_micros,
      .state = m,
      .link_file = mem_link_file,
  };
  return &m->base;
}

void strata_env_memory_destroy(strata_env *env) {
  if (!env) return;
  mem_env *m = env->state;
  /* Only the env strata_env_memory() returned, not a copy of it nor
   * another env: freeing through either would free the wrong thing. */
  if (!m || &m->base != env) return;
  for (size_t i = 0; i < m->nbuckets; i++) {
    mem_node *nd = m->buckets[i];
    while (nd) {
      mem_node *next = nd->next;
      file_unref(nd->file);
      free(nd);
      nd = next;
    }
  }
  while (m->locks) {
    st_filelock *next = m->locks->next;
    free(m->locks);
    m->locks = next;
  }
  free(m->buckets);
  pthread_mutex_destroy(&m->mu);
  free(m);
}
