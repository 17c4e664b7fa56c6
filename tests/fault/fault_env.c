/*
 * fault_env.c - the fault-injecting env (see fault_env.h).
 *
 * State beside the memory env:
 *  - nodes: one per file ever made through this env (an inode): where its
 *    bytes are in the memory env (its name, or a trash name once it was
 *    removed or replaced while a revert may still need it), its size and
 *    how much of it is synced;
 *  - live: name -> node, the namespace as the running program sees it;
 *  - durable: name -> node, the namespace as of the directory syncs;
 *  - pending: the directory operations since, in call order.
 * A cut computes the image that survives (names from durable plus some of
 * pending, bytes from each node by the data mode) and turns the power off;
 * fe_power_on() replaces the memory env by a new one holding the image.
 */
#include "fault_env.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define TRASH_DIR "/.fault-env-trash"
#define MAX_RULES 8
#define MSG_MAX 400

typedef struct node {
  uint64_t id;
  char *loc;       /* where its bytes are in the memory env */
  uint64_t size;   /* bytes written through this env */
  uint64_t synced; /* of which durable */
  int live;        /* loc is its name in the live namespace */
  int writers;     /* writable files open on it */
  struct node *next;
} node;

typedef struct entry {
  char *path;
  node *n;
} entry;

typedef struct map {
  entry *v;
  size_t n, cap;
} map;

typedef enum op_type { OP_CREATE, OP_REMOVE, OP_RENAME } op_type;

typedef struct op {
  op_type type;
  char *path;  /* the name created or removed; a rename's source */
  char *path2; /* a rename's target */
  node *n;     /* the node created or renamed */
} op;

typedef struct rule {
  int armed;
  fe_kind kind;
  uint64_t nth, count;
  int persistent;
  char *suffix;
} rule;

typedef struct image_file {
  char *path;
  char *data;
  size_t len;
} image_file;

struct fe_env {
  strata_env base;
  strata_env *inner;
  pthread_mutex_t mu;

  node *nodes;
  uint64_t next_id;
  map live, durable;
  op *pending;
  size_t npending, cap_pending;
  char **dirs;
  size_t ndirs, cap_dirs;

  uint64_t calls[FE_NKINDS];
  uint64_t mutating;
  uint64_t injected;
  rule rules[MAX_RULES];
  fe_hook_fn hook;
  void *hook_arg;
  FILE *trace;

  int cut_armed;
  uint64_t cut_target; /* value of `mutating` at which the cut happens */
  fe_cut_opts cut_opts;
  int power_off;
  image_file *image;
  size_t nimage;
  char **image_dirs;
  size_t nimage_dirs;
  fe_cut_report report;
};

static const char *const kind_names[FE_NKINDS] = {"open",     "append", "flush",  "sync",
                                                  "close",    "read",   "rename", "remove",
                                                  "sync_dir", "mkdir",  "lock"};

const char *fe_kind_name(fe_kind kind) {
  return kind >= 0 && kind < FE_NKINDS ? kind_names[kind] : "?";
}

static fe_env *fe_of(strata_env *env) { return (fe_env *)env->state; }

static void *xmalloc(size_t n) {
  void *p = malloc(n ? n : 1);
  if (!p) {
    fprintf(stderr, "fault_env: out of memory\n");
    abort();
  }
  return p;
}

static char *xstrdup(const char *s) {
  size_t n = strlen(s) + 1;
  char *p = xmalloc(n);
  memcpy(p, s, n);
  return p;
}

/* path with runs of '/' collapsed and no trailing '/', as the memory env
 * keys its files (malloc'd). */
static char *norm(const char *path) {
  size_t n = strlen(path), j = 0;
  char *out = xmalloc(n + 1);
  for (size_t i = 0; i < n; i++) {
    if (path[i] == '/' && j > 0 && out[j - 1] == '/') continue;
    out[j++] = path[i];
  }
  while (j > 1 && out[j - 1] == '/')
    j--;
  out[j] = '\0';
  return out;
}

/* Whether normalised path's directory is normalised dir. */
static int in_dir(const char *path, const char *dir) {
  const char *slash = strrchr(path, '/');
  if (!slash) return strcmp(dir, ".") == 0;
  size_t len = slash == path ? 1 : (size_t)(slash - path);
  return strlen(dir) == len && strncmp(path, dir, len) == 0;
}

static int ends_with(const char *s, const char *suffix) {
  size_t n = strlen(s), m = strlen(suffix);
  return n >= m && memcmp(s + n - m, suffix, m) == 0;
}

/* ------------------------------------------------------------------------ */
/* Maps and nodes                                                           */
/* ------------------------------------------------------------------------ */

static entry *map_find(map *m, const char *path) {
  for (size_t i = 0; i < m->n; i++)
    if (strcmp(m->v[i].path, path) == 0) return &m->v[i];
  return NULL;
}

static node *map_get(map *m, const char *path) {
  entry *e = map_find(m, path);
  return e ? e->n : NULL;
}

static void map_set(map *m, const char *path, node *n) {
  entry *e = map_find(m, path);
  if (e) {
    e->n = n;
    return;
  }
  if (m->n == m->cap) {
    m->cap = m->cap ? m->cap * 2 : 16;
    entry *v = realloc(m->v, m->cap * sizeof *v);
    if (!v) abort();
    m->v = v;
  }
  m->v[m->n].path = xstrdup(path);
  m->v[m->n].n = n;
  m->n++;
}

static void map_del(map *m, const char *path) {
  entry *e = map_find(m, path);
  if (!e) return;
  free(e->path);
  *e = m->v[--m->n];
}

static int map_has_node(const map *m, const node *n) {
  for (size_t i = 0; i < m->n; i++)
    if (m->v[i].n == n) return 1;
  return 0;
}

static void map_clear(map *m) {
  for (size_t i = 0; i < m->n; i++)
    free(m->v[i].path);
  free(m->v);
  m->v = NULL;
  m->n = m->cap = 0;
}

static void map_copy(map *dst, const map *src) {
  memset(dst, 0, sizeof *dst);
  for (size_t i = 0; i < src->n; i++)
    map_set(dst, src->v[i].path, src->v[i].n);
}

static node *node_new(fe_env *fe, const char *loc) {
  node *n = xmalloc(sizeof *n);
  memset(n, 0, sizeof *n);
  n->id = ++fe->next_id;
  n->loc = xstrdup(loc);
  n->live = 1;
  n->next = fe->nodes;
  fe->nodes = n;
  return n;
}

/* The trash name of node n (malloc'd). */
static char *trash_name(const node *n) {
  char buf[64];
  snprintf(buf, sizeof buf, TRASH_DIR "/%llu", (unsigned long long)n->id);
  return xstrdup(buf);
}

/* Moves n's bytes out of the live namespace to its trash name. 0 or the
 * memory env's error. */
static int to_trash(fe_env *fe, node *n) {
  char *t = trash_name(n);
  int rc = fe->inner->rename(fe->inner, n->loc, t);
  if (rc) {
    free(t);
    return rc;
  }
  free(n->loc);
  n->loc = t;
  n->live = 0;
  return 0;
}

static void add_pending(fe_env *fe, op_type type, const char *path, const char *path2, node *n) {
  if (fe->npending == fe->cap_pending) {
    fe->cap_pending = fe->cap_pending ? fe->cap_pending * 2 : 16;
    op *p = realloc(fe->pending, fe->cap_pending * sizeof *p);
    if (!p) abort();
    fe->pending = p;
  }
  op *o = &fe->pending[fe->npending++];
  o->type = type;
  o->path = xstrdup(path);
  o->path2 = path2 ? xstrdup(path2) : NULL;
  o->n = n;
}

static void apply_op(map *m, const op *o) {
  switch (o->type) {
  case OP_CREATE: map_set(m, o->path, o->n); break;
  case OP_REMOVE: map_del(m, o->path); break;
  case OP_RENAME:
    map_del(m, o->path);
    map_set(m, o->path2, o->n);
    break;
  }
}

static void free_op(op *o) {
  free(o->path);
  free(o->path2);
}

/* Frees nodes no namespace, pending operation or open file can reach,
 * with their trash copies. */
static void gc(fe_env *fe) {
  node **pp = &fe->nodes;
  while (*pp) {
    node *n = *pp;
    int needed = n->live || n->writers > 0 || map_has_node(&fe->durable, n);
    for (size_t i = 0; !needed && i < fe->npending; i++)
      needed = fe->pending[i].n == n;
    if (needed) {
      pp = &n->next;
      continue;
    }
    fe->inner->remove_file(fe->inner, n->loc);
    *pp = n->next;
    free(n->loc);
    free(n);
  }
}

static void add_dir(fe_env *fe, const char *dir) {
  for (size_t i = 0; i < fe->ndirs; i++)
    if (strcmp(fe->dirs[i], dir) == 0) return;
  if (fe->ndirs == fe->cap_dirs) {
    fe->cap_dirs = fe->cap_dirs ? fe->cap_dirs * 2 : 8;
    char **d = realloc(fe->dirs, fe->cap_dirs * sizeof *d);
    if (!d) abort();
    fe->dirs = d;
  }
  fe->dirs[fe->ndirs++] = xstrdup(dir);
}

/* ------------------------------------------------------------------------ */
/* Faults and cuts                                                          */
/* ------------------------------------------------------------------------ */

/* Reads the memory env's file at loc whole (malloc'd). */
static char *read_loc(fe_env *fe, const char *loc, size_t *len) {
  strata_seqfile *f = NULL;
  *len = 0;
  size_t cap = 4096;
  char *buf = xmalloc(cap);
  if (fe->inner->new_seqfile(fe->inner, loc, &f) != 0) return buf;
  for (;;) {
    if (cap - *len < 4096) {
      cap *= 2;
      char *b = realloc(buf, cap);
      if (!b) abort();
      buf = b;
    }
    strata_slice got;
    if (f->read(f, cap - *len, buf + *len, &got) != 0 || got.size == 0) break;
    if (got.data != buf + *len) memmove(buf + *len, got.data, got.size);
    *len += got.size;
  }
  f->close(f);
  return buf;
}

static void free_image(fe_env *fe) {
  for (size_t i = 0; i < fe->nimage; i++) {
    free(fe->image[i].path);
    free(fe->image[i].data);
  }
  free(fe->image);
  fe->image = NULL;
  fe->nimage = 0;
  for (size_t i = 0; i < fe->nimage_dirs; i++)
    free(fe->image_dirs[i]);
  free(fe->image_dirs);
  fe->image_dirs = NULL;
  fe->nimage_dirs = 0;
}

/* splitmix64, for the cut's random choices. */
static uint64_t next_rand(uint64_t *s) {
  uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

/* Computes what survives and turns the power off. Under mu. */
static void do_cut(fe_env *fe) {
  const fe_cut_opts *o = &fe->cut_opts;
  uint64_t rs = o->seed ^ 0x5bd1e995u;
  map ns;
  map_copy(&ns, &fe->durable);
  size_t keep = 0;
  if (o->dir == FE_DIR_KEEP) keep = fe->npending;
  if (o->dir == FE_DIR_PREFIX) keep = (size_t)(next_rand(&rs) % (fe->npending + 1));
  for (size_t i = 0; i < keep; i++)
    apply_op(&ns, &fe->pending[i]);
  memset(&fe->report, 0, sizeof fe->report);
  fe->report.dir_ops_pending = fe->npending;
  fe->report.dir_ops_kept = keep;

  free_image(fe);
  fe->image = xmalloc(ns.n * sizeof *fe->image);
  for (size_t i = 0; i < ns.n; i++) {
    node *n = ns.v[i].n;
    size_t len;
    char *data = read_loc(fe, n->loc, &len);
    size_t synced = n->synced < len ? (size_t)n->synced : len;
    size_t unsynced = len - synced, kept = unsynced, end = len;
    switch (o->data) {
    case FE_DATA_DROP: kept = 0, end = synced; break;
    case FE_DATA_ZERO: kept = 0; break;
    case FE_DATA_PREFIX:
      kept = (size_t)(next_rand(&rs) % (unsynced + 1));
      end = synced + kept;
      break;
    case FE_DATA_PREFIX_ZERO:
      /* Storage writes whole sectors: the tear is at a multiple of 512
       * (but the synced part is whole). */
      kept = (size_t)(next_rand(&rs) % (unsynced + 1));
      kept = (synced + kept) / 512 * 512 > synced ? (synced + kept) / 512 * 512 - synced : 0;
      break;
    default: break;
    }
    memset(data + synced + kept, 0, end - synced - kept);
    fe->report.bytes_lost += unsynced - kept;
    fe->image[i].path = xstrdup(ns.v[i].path);
    fe->image[i].data = data;
    fe->image[i].len = end;
  }
  fe->nimage = ns.n;
  fe->report.files = ns.n;
  map_clear(&ns);
  fe->image_dirs = xmalloc((fe->ndirs + 1) * sizeof *fe->image_dirs);
  for (size_t i = 0; i < fe->ndirs; i++)
    fe->image_dirs[i] = xstrdup(fe->dirs[i]);
  fe->nimage_dirs = fe->ndirs;
  fe->power_off = 1;
  fe->cut_armed = 0;
}

static int fail_msg(int code, char *save, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Sets the thread's message to "<Kind>: <text>" and, when save is given,
 * keeps the text there (MSG_MAX bytes) for a file that keeps failing. */
static int fail_msg(int code, char *save, const char *fmt, ...) {
  char text[MSG_MAX];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(text, sizeof text, fmt, ap);
  va_end(ap);
  if (save) snprintf(save, MSG_MAX, "%s", text);
  return strata_error_set(code, "%s", text);
}

/* Counts a call and decides whether it fails: 0 to go on, else the error
 * (message set; copied to save when given). Under mu. */
static int check_call(fe_env *fe, fe_kind kind, int mutating, const char *path, const char *path2,
                      char *save) {
  fe->calls[kind]++;
  if (fe->trace)
    fprintf(fe->trace, "fault_env: %s %s%s%s\n", kind_names[kind], path, path2 ? " " : "",
            path2 ? path2 : "");
  if (mutating) {
    fe->mutating++;
    if (!fe->power_off && fe->cut_armed && fe->mutating >= fe->cut_target) do_cut(fe);
    if (fe->power_off)
      return fail_msg(STRATA_EIO, save, "%s %s: power is off (fault env)", kind_names[kind], path);
  }
  int fail = fe->hook && fe->hook(fe->hook_arg, kind, path, path2);
  for (int i = 0; i < MAX_RULES; i++) {
    rule *r = &fe->rules[i];
    if (!r->armed || r->kind != kind || (r->suffix && !ends_with(path, r->suffix))) continue;
    r->count++;
    if (r->count == r->nth || (r->persistent && r->count > r->nth)) fail = 1;
  }
  if (!fail) return 0;
  fe->injected++;
  if (fe->trace) fprintf(fe->trace, "fault_env:   -> injected failure\n");
  return fail_msg(STRATA_EIO, save, "%s %s: Input/output error (injected by the fault env)",
                  kind_names[kind], path);
}

/* ------------------------------------------------------------------------ */
/* Files                                                                    */
/* ------------------------------------------------------------------------ */

typedef struct fe_seqfile {
  strata_seqfile base;
  fe_env *fe;
  strata_seqfile *inner;
  char *path;
} fe_seqfile;

static int seq_read(strata_seqfile *f, size_t n, char *scratch, strata_slice *out) {
  fe_seqfile *s = (fe_seqfile *)f;
  pthread_mutex_lock(&s->fe->mu);
  int rc = check_call(s->fe, FE_READ, 0, s->path, NULL, NULL);
  if (!rc) rc = s->inner->read(s->inner, n, scratch, out);
  pthread_mutex_unlock(&s->fe->mu);
  return rc;
}

static int seq_skip(strata_seqfile *f, uint64_t n) {
  fe_seqfile *s = (fe_seqfile *)f;
  pthread_mutex_lock(&s->fe->mu);
  int rc = check_call(s->fe, FE_READ, 0, s->path, NULL, NULL);
  if (!rc) rc = s->inner->skip_bytes(s->inner, n);
  pthread_mutex_unlock(&s->fe->mu);
  return rc;
}

static void seq_close(strata_seqfile *f) {
  fe_seqfile *s = (fe_seqfile *)f;
  if (!s) return;
  pthread_mutex_lock(&s->fe->mu);
  s->inner->close(s->inner);
  pthread_mutex_unlock(&s->fe->mu);
  free(s->path);
  free(s);
}

typedef struct fe_rafile {
  strata_rafile base;
  fe_env *fe;
  strata_rafile *inner;
  char *path;
} fe_rafile;

static int ra_read(const strata_rafile *f, uint64_t offset, size_t n, char *scratch,
                   strata_slice *out) {
  const fe_rafile *r = (const fe_rafile *)f;
  pthread_mutex_lock(&r->fe->mu);
  int rc = check_call(r->fe, FE_READ, 0, r->path, NULL, NULL);
  if (!rc) rc = r->inner->read(r->inner, offset, n, scratch, out);
  pthread_mutex_unlock(&r->fe->mu);
  return rc;
}

static void ra_close(strata_rafile *f) {
  fe_rafile *r = (fe_rafile *)f;
  if (!r) return;
  pthread_mutex_lock(&r->fe->mu);
  r->inner->close(r->inner);
  pthread_mutex_unlock(&r->fe->mu);
  free(r->path);
  free(r);
}

typedef struct fe_wfile {
  strata_wfile base;
  fe_env *fe;
  strata_wfile *inner;
  node *n;
  char *path;
  int failed; /* a write, flush or sync failed: every later call fails */
  int code;
  char msg[MSG_MAX];
} fe_wfile;

static int w_refail(fe_wfile *w) { return strata_error_set(w->code, "%s", w->msg); }

/* The common part of append, flush and sync. Under mu. */
static int w_check(fe_wfile *w, fe_kind kind) {
  if (w->failed) return w_refail(w);
  int rc = check_call(w->fe, kind, 1, w->path, NULL, w->msg);
  if (rc) {
    w->failed = 1;
    w->code = rc;
  }
  return rc;
}

static int w_append(strata_wfile *f, const char *data, size_t n) {
  fe_wfile *w = (fe_wfile *)f;
  pthread_mutex_lock(&w->fe->mu);
  int rc = w_check(w, FE_APPEND);
  if (!rc) rc = w->inner->append(w->inner, data, n);
  if (!rc) w->n->size += n;
  pthread_mutex_unlock(&w->fe->mu);
  return rc;
}

static int w_flush(strata_wfile *f) {
  fe_wfile *w = (fe_wfile *)f;
  pthread_mutex_lock(&w->fe->mu);
  int rc = w_check(w, FE_FLUSH);
  if (!rc) rc = w->inner->flush(w->inner);
  pthread_mutex_unlock(&w->fe->mu);
  return rc;
}

static int w_sync(strata_wfile *f) {
  fe_wfile *w = (fe_wfile *)f;
  pthread_mutex_lock(&w->fe->mu);
  int rc = w_check(w, FE_SYNC);
  if (!rc) rc = w->inner->sync(w->inner);
  if (!rc) w->n->synced = w->n->size;
  pthread_mutex_unlock(&w->fe->mu);
  return rc;
}

static int w_close(strata_wfile *f) {
  fe_wfile *w = (fe_wfile *)f;
  if (!w) return 0;
  fe_env *fe = w->fe;
  pthread_mutex_lock(&fe->mu);
  int rc = w->failed ? w_refail(w) : check_call(fe, FE_CLOSE, 1, w->path, NULL, NULL);
  int crc = w->inner->close(w->inner); /* freed whatever happened */
  w->n->writers--;
  pthread_mutex_unlock(&fe->mu);
  free(w->path);
  free(w);
  return rc ? rc : crc;
}

static fe_wfile *wrap_wfile(fe_env *fe, strata_wfile *inner, node *n, const char *path) {
  fe_wfile *w = xmalloc(sizeof *w);
  memset(w, 0, sizeof *w);
  w->base.append = w_append;
  w->base.flush = w_flush;
  w->base.sync = w_sync;
  w->base.close = w_close;
  w->fe = fe;
  w->inner = inner;
  w->n = n;
  w->path = xstrdup(path);
  n->writers++;
  return w;
}

/* ------------------------------------------------------------------------ */
/* The env's functions                                                      */
/* ------------------------------------------------------------------------ */

static int e_new_seqfile(strata_env *env, const char *path, strata_seqfile **out) {
  fe_env *fe = fe_of(env);
  *out = NULL;
  pthread_mutex_lock(&fe->mu);
  strata_seqfile *inner = NULL;
  int rc = check_call(fe, FE_OPEN, 0, path, NULL, NULL);
  if (!rc) rc = fe->inner->new_seqfile(fe->inner, path, &inner);
  pthread_mutex_unlock(&fe->mu);
  if (rc) return rc;
  fe_seqfile *s = xmalloc(sizeof *s);
  s->base.read = seq_read;
  s->base.skip_bytes = seq_skip;
  s->base.close = seq_close;
  s->fe = fe;
  s->inner = inner;
  s->path = xstrdup(path);
  *out = &s->base;
  return 0;
}

static int e_new_rafile(strata_env *env, const char *path, strata_rafile **out) {
  fe_env *fe = fe_of(env);
  *out = NULL;
  pthread_mutex_lock(&fe->mu);
  strata_rafile *inner = NULL;
  int rc = check_call(fe, FE_OPEN, 0, path, NULL, NULL);
  if (!rc) rc = fe->inner->new_rafile(fe->inner, path, &inner);
  pthread_mutex_unlock(&fe->mu);
  if (rc) return rc;
  fe_rafile *r = xmalloc(sizeof *r);
  r->base.read = ra_read;
  r->base.close = ra_close;
  r->fe = fe;
  r->inner = inner;
  r->path = xstrdup(path);
  *out = &r->base;
  return 0;
}

/* new_wfile (append == 0) and new_appendable (append == 1). */
static int open_writable(strata_env *env, const char *path, int append, strata_wfile **out) {
  fe_env *fe = fe_of(env);
  *out = NULL;
  char *key = norm(path);
  pthread_mutex_lock(&fe->mu);
  int rc = check_call(fe, FE_OPEN, 1, path, NULL, NULL);
  node *old = rc ? NULL : map_get(&fe->live, key);
  node *n = NULL;
  strata_wfile *inner = NULL;
  if (!rc && old && append) {
    rc = fe->inner->new_appendable(fe->inner, path, &inner);
    n = old;
  } else if (!rc) {
    /* A new file, or a new one replacing the old name: the old bytes go
     * to the trash in case the replacement is reverted by a cut. */
    if (old) rc = to_trash(fe, old);
    if (!rc) rc = fe->inner->new_wfile(fe->inner, path, &inner);
    if (rc && old) {
      /* Put the old file back under its name. */
      fe->inner->rename(fe->inner, old->loc, key);
      free(old->loc);
      old->loc = xstrdup(key);
      old->live = 1;
    } else if (!rc) {
      if (old) map_del(&fe->live, key);
      n = node_new(fe, key);
      map_set(&fe->live, key, n);
      add_pending(fe, OP_CREATE, key, NULL, n);
    }
  }
  fe_wfile *w = rc ? NULL : wrap_wfile(fe, inner, n, path);
  pthread_mutex_unlock(&fe->mu);
  free(key);
  if (rc) return rc;
  *out = &w->base;
  return 0;
}

static int e_new_wfile(strata_env *env, const char *path, strata_wfile **out) {
  return open_writable(env, path, 0, out);
}

static int e_new_appendable(strata_env *env, const char *path, strata_wfile **out) {
  return open_writable(env, path, 1, out);
}

static int e_exists(strata_env *env, const char *path) {
  fe_env *fe = fe_of(env);
  pthread_mutex_lock(&fe->mu);
  int r = fe->inner->exists(fe->inner, path);
  pthread_mutex_unlock(&fe->mu);
  return r;
}

static int e_is_dir(strata_env *env, const char *path) {
  fe_env *fe = fe_of(env);
  pthread_mutex_lock(&fe->mu);
  int r = fe->inner->is_dir(fe->inner, path);
  pthread_mutex_unlock(&fe->mu);
  return r;
}

static int e_children(strata_env *env, const char *dir, char ***names, size_t *n) {
  fe_env *fe = fe_of(env);
  pthread_mutex_lock(&fe->mu);
  int rc = fe->inner->children(fe->inner, dir, names, n);
  pthread_mutex_unlock(&fe->mu);
  return rc;
}

static int e_file_size(strata_env *env, const char *path, uint64_t *size) {
  fe_env *fe = fe_of(env);
  pthread_mutex_lock(&fe->mu);
  int rc = fe->inner->file_size(fe->inner, path, size);
  pthread_mutex_unlock(&fe->mu);
  return rc;
}

static int e_remove_file(strata_env *env, const char *path) {
  fe_env *fe = fe_of(env);
  char *key = norm(path);
  pthread_mutex_lock(&fe->mu);
  int rc = check_call(fe, FE_REMOVE, 1, path, NULL, NULL);
  node *n = rc ? NULL : map_get(&fe->live, key);
  if (!rc && n) {
    rc = to_trash(fe, n);
    if (!rc) {
      map_del(&fe->live, key);
      add_pending(fe, OP_REMOVE, key, NULL, n);
    }
  } else if (!rc) {
    rc = fe->inner->remove_file(fe->inner, path); /* not ours: the memory env's answer */
  }
  pthread_mutex_unlock(&fe->mu);
  free(key);
  return rc;
}

static int e_create_dir(strata_env *env, const char *path) {
  fe_env *fe = fe_of(env);
  char *key = norm(path);
  pthread_mutex_lock(&fe->mu);
  int rc = check_call(fe, FE_MKDIR, 1, path, NULL, NULL);
  if (!rc) rc = fe->inner->create_dir(fe->inner, path);
  if (!rc) add_dir(fe, key);
  pthread_mutex_unlock(&fe->mu);
  free(key);
  return rc;
}

static int e_remove_dir(strata_env *env, const char *path) {
  fe_env *fe = fe_of(env);
  char *key = norm(path);
  pthread_mutex_lock(&fe->mu);
  int rc = check_call(fe, FE_REMOVE, 1, path, NULL, NULL);
  if (!rc) rc = fe->inner->remove_dir(fe->inner, path);
  for (size_t i = 0; !rc && i < fe->ndirs; i++) {
    if (strcmp(fe->dirs[i], key) == 0) {
      free(fe->dirs[i]);
      fe->dirs[i] = fe->dirs[--fe->ndirs];
      break;
    }
  }
  pthread_mutex_unlock(&fe->mu);
  free(key);
  return rc;
}

static int e_rename(strata_env *env, const char *from, const char *to) {
  fe_env *fe = fe_of(env);
  char *kf = norm(from), *kt = norm(to);
  pthread_mutex_lock(&fe->mu);
  int rc = check_call(fe, FE_RENAME, 1, from, to, NULL);
  node *a = rc ? NULL : map_get(&fe->live, kf);
  if (!rc && a && strcmp(kf, kt) != 0) {
    node *b = map_get(&fe->live, kt);
    if (b) rc = to_trash(fe, b);
    if (!rc) rc = fe->inner->rename(fe->inner, kf, kt);
    if (rc && b && !b->live) {
      fe->inner->rename(fe->inner, b->loc, kt);
      free(b->loc);
      b->loc = xstrdup(kt);
      b->live = 1;
    } else if (!rc) {
      free(a->loc);
      a->loc = xstrdup(kt);
      map_del(&fe->live, kf);
      map_set(&fe->live, kt, a);
      add_pending(fe, OP_RENAME, kf, kt, a);
    }
  } else if (!rc && !a) {
    rc = fe->inner->rename(fe->inner, from, to); /* a directory, or an error */
  }
  pthread_mutex_unlock(&fe->mu);
  free(kf);
  free(kt);
  return rc;
}

static int e_sync_dir(strata_env *env, const char *dir) {
  fe_env *fe = fe_of(env);
  char *key = norm(dir);
  pthread_mutex_lock(&fe->mu);
  int rc = check_call(fe, FE_SYNC_DIR, 1, dir, NULL, NULL);
  if (!rc) rc = fe->inner->sync_dir(fe->inner, dir);
  if (!rc) {
    /* Every pending operation on a name in dir becomes durable. */
    size_t j = 0;
    for (size_t i = 0; i < fe->npending; i++) {
      op *o = &fe->pending[i];
      if (in_dir(o->path, key) || (o->path2 && in_dir(o->path2, key))) {
        apply_op(&fe->durable, o);
        free_op(o);
      } else {
        fe->pending[j++] = *o;
      }
    }
    fe->npending = j;
    gc(fe);
  }
  pthread_mutex_unlock(&fe->mu);
  free(key);
  return rc;
}

static int e_lock_file(strata_env *env, const char *path, strata_filelock **out) {
  fe_env *fe = fe_of(env);
  *out = NULL;
  char *key = norm(path);
  pthread_mutex_lock(&fe->mu);
  int rc = check_call(fe, FE_LOCK, 1, path, NULL, NULL);
  if (!rc) rc = fe->inner->lock_file(fe->inner, path, out);
  if (!rc && !map_get(&fe->live, key)) {
    /* lock_file made the file (as open(O_CREAT) would). */
    node *n = node_new(fe, key);
    map_set(&fe->live, key, n);
    add_pending(fe, OP_CREATE, key, NULL, n);
  }
  pthread_mutex_unlock(&fe->mu);
  free(key);
  return rc;
}

static int e_unlock_file(strata_env *env, strata_filelock *lock) {
  fe_env *fe = fe_of(env);
  pthread_mutex_lock(&fe->mu);
  int rc = fe->inner->unlock_file(fe->inner, lock);
  pthread_mutex_unlock(&fe->mu);
  return rc;
}

/* ------------------------------------------------------------------------ */
/* Construction and control                                                 */
/* ------------------------------------------------------------------------ */

fe_env *fe_new(void) {
  strata_env *inner = strata_env_memory();
  if (!inner) return NULL;
  fe_env *fe = calloc(1, sizeof *fe);
  if (!fe) {
    strata_env_memory_destroy(inner);
    return NULL;
  }
  fe->inner = inner;
  pthread_mutex_init(&fe->mu, NULL);
  inner->create_dir(inner, TRASH_DIR);
  fe->base = (strata_env){
      .new_seqfile = e_new_seqfile,
      .new_rafile = e_new_rafile,
      .new_wfile = e_new_wfile,
      .new_appendable = e_new_appendable,
      .exists = e_exists,
      .is_dir = e_is_dir,
      .children = e_children,
      .remove_file = e_remove_file,
      .create_dir = e_create_dir,
      .remove_dir = e_remove_dir,
      .file_size = e_file_size,
      .rename = e_rename,
      .sync_dir = e_sync_dir,
      .lock_file = e_lock_file,
      .unlock_file = e_unlock_file,
      .thread_create = inner->thread_create,
      .thread_join = inner->thread_join,
      .now_micros = inner->now_micros,
      .sleep_micros = inner->sleep_micros,
      .state = fe,
  };
  return fe;
}

/* Frees the model (nodes, namespaces, pending operations, rules). */
static void free_model(fe_env *fe) {
  while (fe->nodes) {
    node *n = fe->nodes;
    fe->nodes = n->next;
    free(n->loc);
    free(n);
  }
  map_clear(&fe->live);
  map_clear(&fe->durable);
  for (size_t i = 0; i < fe->npending; i++)
    free_op(&fe->pending[i]);
  free(fe->pending);
  fe->pending = NULL;
  fe->npending = fe->cap_pending = 0;
}

void fe_free(fe_env *fe) {
  if (!fe) return;
  free_model(fe);
  for (size_t i = 0; i < fe->ndirs; i++)
    free(fe->dirs[i]);
  free(fe->dirs);
  free_image(fe);
  fe_clear_faults(fe);
  strata_env_memory_destroy(fe->inner);
  pthread_mutex_destroy(&fe->mu);
  free(fe);
}

strata_env *fe_strata_env(fe_env *fe) { return &fe->base; }

int fe_fail_nth(fe_env *fe, fe_kind kind, uint64_t nth, int persistent, const char *path_suffix) {
  pthread_mutex_lock(&fe->mu);
  int rc = -1;
  for (int i = 0; i < MAX_RULES; i++) {
    rule *r = &fe->rules[i];
    if (r->armed) continue;
    r->armed = 1;
    r->kind = kind;
    r->nth = nth ? nth : 1;
    r->count = 0;
    r->persistent = persistent;
    r->suffix = path_suffix ? xstrdup(path_suffix) : NULL;
    rc = 0;
    break;
  }
  pthread_mutex_unlock(&fe->mu);
  return rc;
}

void fe_set_hook(fe_env *fe, fe_hook_fn fn, void *arg) {
  pthread_mutex_lock(&fe->mu);
  fe->hook = fn;
  fe->hook_arg = arg;
  pthread_mutex_unlock(&fe->mu);
}

void fe_clear_faults(fe_env *fe) {
  pthread_mutex_lock(&fe->mu);
  for (int i = 0; i < MAX_RULES; i++) {
    free(fe->rules[i].suffix);
    memset(&fe->rules[i], 0, sizeof fe->rules[i]);
  }
  fe->hook = NULL;
  fe->hook_arg = NULL;
  pthread_mutex_unlock(&fe->mu);
}

uint64_t fe_injected(fe_env *fe) {
  pthread_mutex_lock(&fe->mu);
  uint64_t n = fe->injected;
  pthread_mutex_unlock(&fe->mu);
  return n;
}

uint64_t fe_calls(fe_env *fe, fe_kind kind) {
  pthread_mutex_lock(&fe->mu);
  uint64_t n = fe->calls[kind];
  pthread_mutex_unlock(&fe->mu);
  return n;
}

void fe_cut_at(fe_env *fe, uint64_t nth, const fe_cut_opts *opts) {
  pthread_mutex_lock(&fe->mu);
  if (!fe->power_off) {
    fe->cut_armed = 1;
    fe->cut_target = fe->mutating + (nth ? nth : 1);
    fe->cut_opts = *opts;
  }
  pthread_mutex_unlock(&fe->mu);
}

void fe_cut_now(fe_env *fe, const fe_cut_opts *opts) {
  pthread_mutex_lock(&fe->mu);
  if (!fe->power_off) {
    fe->cut_opts = *opts;
    do_cut(fe);
  }
  pthread_mutex_unlock(&fe->mu);
}

void fe_cut_disarm(fe_env *fe) {
  pthread_mutex_lock(&fe->mu);
  fe->cut_armed = 0;
  pthread_mutex_unlock(&fe->mu);
}

int fe_power_is_off(fe_env *fe) {
  pthread_mutex_lock(&fe->mu);
  int off = fe->power_off;
  pthread_mutex_unlock(&fe->mu);
  return off;
}

uint64_t fe_mutating_calls(fe_env *fe) {
  pthread_mutex_lock(&fe->mu);
  uint64_t n = fe->mutating;
  pthread_mutex_unlock(&fe->mu);
  return n;
}

void fe_last_cut(fe_env *fe, fe_cut_report *out) {
  pthread_mutex_lock(&fe->mu);
  *out = fe->report;
  pthread_mutex_unlock(&fe->mu);
}

/* Writes data to path in inner (creating its directory); 0 or an error. */
static int put_file(strata_env *inner, const char *path, const char *data, size_t len) {
  strata_wfile *w = NULL;
  int rc = inner->new_wfile(inner, path, &w);
  if (rc) return rc;
  rc = len ? w->append(w, data, len) : 0;
  int crc = w->close(w);
  return rc ? rc : crc;
}

int fe_power_on(fe_env *fe) {
  pthread_mutex_lock(&fe->mu);
  if (!fe->power_off) {
    pthread_mutex_unlock(&fe->mu);
    return -1;
  }
  strata_env *fresh = strata_env_memory();
  int rc = fresh ? 0 : -1;
  if (!rc) fresh->create_dir(fresh, TRASH_DIR);
  for (size_t i = 0; !rc && i < fe->nimage_dirs; i++)
    rc = fresh->create_dir(fresh, fe->image_dirs[i]);
  for (size_t i = 0; !rc && i < fe->nimage; i++)
    rc = put_file(fresh, fe->image[i].path, fe->image[i].data, fe->image[i].len);
  if (rc) {
    strata_env_memory_destroy(fresh);
    pthread_mutex_unlock(&fe->mu);
    return -1;
  }
  strata_env_memory_destroy(fe->inner);
  fe->inner = fresh;
  free_model(fe);
  for (size_t i = 0; i < fe->nimage; i++) {
    node *n = node_new(fe, fe->image[i].path);
    n->size = n->synced = fe->image[i].len;
    map_set(&fe->live, fe->image[i].path, n);
    map_set(&fe->durable, fe->image[i].path, n);
  }
  for (size_t i = 0; i < fe->ndirs; i++)
    free(fe->dirs[i]);
  fe->ndirs = 0;
  for (size_t i = 0; i < fe->nimage_dirs; i++)
    add_dir(fe, fe->image_dirs[i]);
  free_image(fe);
  fe->power_off = 0;
  pthread_mutex_unlock(&fe->mu);
  return 0;
}

int fe_read_whole(fe_env *fe, const char *path, char **data, size_t *len) {
  pthread_mutex_lock(&fe->mu);
  int rc = fe->inner->exists(fe->inner, path) ? 0 : STRATA_ENOTFOUND;
  *data = rc ? NULL : read_loc(fe, path, len);
  pthread_mutex_unlock(&fe->mu);
  return rc;
}

int fe_write_whole(fe_env *fe, const char *path, const char *data, size_t len) {
  char *key = norm(path);
  pthread_mutex_lock(&fe->mu);
  int rc = put_file(fe->inner, path, data, len);
  if (!rc) {
    node *n = map_get(&fe->live, key);
    if (!n) {
      n = node_new(fe, key);
      map_set(&fe->live, key, n);
      map_set(&fe->durable, key, n);
    }
    n->size = n->synced = len;
  }
  pthread_mutex_unlock(&fe->mu);
  free(key);
  return rc;
}

void fe_set_trace(fe_env *fe, FILE *f) {
  pthread_mutex_lock(&fe->mu);
  fe->trace = f;
  pthread_mutex_unlock(&fe->mu);
}
