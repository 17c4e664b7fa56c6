/*
 * env_posix.c - the default environment on POSIX systems (see env.h).
 *
 * Every descriptor is opened with O_CLOEXEC so a child exec'd by the host
 * program never inherits a table, a log or (worse) the database lock.
 * Error messages name the operation and the path; ENOENT becomes
 * STRATA_ENOTFOUND (LevelDB's NotFound) so callers can tell "missing" from
 * "broken".
 */
#include "env/env.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "util/error.h"

/* OFD locks unless the platform lacks them; ST_NO_OFD_LOCKS forces the
 * classic-lock fallback so tests can exercise it. */
#if defined(F_OFD_SETLK) && !defined(ST_NO_OFD_LOCKS)
#define HAVE_OFD_LOCKS 1
#endif

/* User-space buffer of a writable file: a log record or a table block is
 * copied here and handed to the OS with one write() at flush time. */
#define WFILE_BUF 65536

/* Read-only mmaps a process may hold at once (LevelDB's limit on 64-bit
 * hosts); beyond it tables are read with pread(). 32-bit hosts have too
 * little address space to map tables at all. */
#define MAX_MMAPS (sizeof(void *) >= 8 ? 1000 : 0)

static char *dup_str(const char *s) {
  size_t n = strlen(s) + 1;
  char *p = malloc(n);
  if (p) memcpy(p, s, n);
  return p;
}

static int open_cloexec(const char *path, int flags, mode_t mode) {
  int fd;
  do {
    fd = open(path, flags | O_CLOEXEC, mode);
  } while (fd < 0 && errno == EINTR);
  return fd;
}

/* ------------------------------------------------------------------------ */
/* Sequential files                                                         */
/* ------------------------------------------------------------------------ */

typedef struct posix_seqfile {
  st_seqfile base;
  int fd;
  char path[]; /* for error messages */
} posix_seqfile;

static int seq_read(st_seqfile *f, size_t n, char *scratch, st_slice *out) {
  posix_seqfile *s = (posix_seqfile *)f;
  size_t got = 0;
  /* Keep reading until n bytes or end of file: callers treat a short read
   * as end of file, and read() may legitimately return less (pipes, NFS,
   * signals). */
  while (got < n) {
    ssize_t r = read(s->fd, scratch + got, n - got);
    if (r < 0) {
      if (errno == EINTR) continue;
      out->data = scratch;
      out->size = 0;
      return st_err_io("read", s->path, errno);
    }
    if (r == 0) break;
    got += (size_t)r;
  }
  out->data = scratch;
  out->size = got;
  return 0;
}

static int seq_skip(st_seqfile *f, uint64_t n) {
  posix_seqfile *s = (posix_seqfile *)f;
  /* off_t is signed: a skip that large is past any real end anyway. */
  off_t delta = n > (uint64_t)INT64_MAX / 2 ? (off_t)(INT64_MAX / 2) : (off_t)n;
  if (lseek(s->fd, delta, SEEK_CUR) < 0) return st_err_io("lseek", s->path, errno);
  return 0;
}

static void seq_close(st_seqfile *f) {
  posix_seqfile *s = (posix_seqfile *)f;
  if (!s) return;
  close(s->fd);
  free(s);
}

static int posix_new_seqfile(st_env *env, const char *path, st_seqfile **out) {
  (void)env;
  *out = NULL;
  size_t plen = strlen(path) + 1;
  posix_seqfile *s = malloc(sizeof *s + plen);
  if (!s) return st_err_oom("open", path);
  int fd = open_cloexec(path, O_RDONLY, 0);
  if (fd < 0) {
    int e = errno;
    free(s);
    return st_err_open_read(path, e);
  }
  s->base.read = seq_read;
  s->base.skip_bytes = seq_skip;
  s->base.close = seq_close;
  s->fd = fd;
  memcpy(s->path, path, plen);
  *out = &s->base;
  return 0;
}

/* ------------------------------------------------------------------------ */
/* Random-access files                                                      */
/* ------------------------------------------------------------------------ */

/* Mappings still allowed; taken by a successful compare-and-swap so the
 * limit is never overshot under concurrent opens. */
static atomic_int mmap_slots = MAX_MMAPS;

static int take_mmap_slot(void) {
  int n = atomic_load_explicit(&mmap_slots, memory_order_relaxed);
  while (n > 0) {
    if (atomic_compare_exchange_weak_explicit(&mmap_slots, &n, n - 1, memory_order_relaxed,
                                              memory_order_relaxed))
      return 1;
  }
  return 0;
}

static void give_mmap_slot(void) {
  atomic_fetch_add_explicit(&mmap_slots, 1, memory_order_relaxed);
}

typedef struct mmap_rafile {
  st_rafile base;
  const char *map;
  size_t len;
} mmap_rafile;

static int mmap_read(const st_rafile *f, uint64_t offset, size_t n, char *scratch, st_slice *out) {
  const mmap_rafile *m = (const mmap_rafile *)f;
  (void)scratch;
  /* No copy: the slice points into the mapping, which lives until close. */
  if (offset >= m->len) {
    out->data = m->map + m->len;
    out->size = 0;
    return 0;
  }
  size_t avail = m->len - (size_t)offset;
  out->data = m->map + offset;
  out->size = n < avail ? n : avail;
  return 0;
}

static void mmap_close(st_rafile *f) {
  mmap_rafile *m = (mmap_rafile *)f;
  if (!m) return;
  munmap((void *)m->map, m->len);
  give_mmap_slot();
  free(m);
}

typedef struct pread_rafile {
  st_rafile base;
  int fd;
  char path[];
} pread_rafile;

static int pread_read(const st_rafile *f, uint64_t offset, size_t n, char *scratch, st_slice *out) {
  const pread_rafile *p = (const pread_rafile *)f;
  size_t got = 0;
  /* pread() keeps no file position, so concurrent readers never interfere. */
  while (got < n) {
    ssize_t r = pread(p->fd, scratch + got, n - got, (off_t)(offset + got));
    if (r < 0) {
      if (errno == EINTR) continue;
      out->data = scratch;
      out->size = 0;
      return st_err_io("pread", p->path, errno);
    }
    if (r == 0) break;
    got += (size_t)r;
  }
  out->data = scratch;
  out->size = got;
  return 0;
}

static void pread_close(st_rafile *f) {
  pread_rafile *p = (pread_rafile *)f;
  if (!p) return;
  close(p->fd);
  free(p);
}

static int posix_new_rafile(st_env *env, const char *path, st_rafile **out) {
  (void)env;
  *out = NULL;
  int fd = open_cloexec(path, O_RDONLY, 0);
  if (fd < 0) return st_err_open_read(path, errno);

  struct stat st;
  if (fstat(fd, &st) < 0) {
    int e = errno;
    close(fd);
    return st_err_io("fstat", path, e);
  }
  /* An empty file cannot be mapped; a file larger than the address space
   * cannot either. Both use pread. */
  if (st.st_size > 0 && (uint64_t)st.st_size <= SIZE_MAX && take_mmap_slot()) {
    size_t len = (size_t)st.st_size;
    void *map = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);
    if (map != MAP_FAILED) {
      mmap_rafile *m = malloc(sizeof *m);
      if (!m) {
        munmap(map, len);
        give_mmap_slot();
        close(fd);
        return st_err_oom("open", path);
      }
      /* The mapping keeps the file alive; the fd is not needed. */
      close(fd);
      m->base.read = mmap_read;
      m->base.close = mmap_close;
      m->map = map;
      m->len = len;
      *out = &m->base;
      return 0;
    }
    /* Mapping failed (address space, odd file system): fall back. */
    give_mmap_slot();
  }

  size_t plen = strlen(path) + 1;
  pread_rafile *p = malloc(sizeof *p + plen);
  if (!p) {
    close(fd);
    return st_err_oom("open", path);
  }
  p->base.read = pread_read;
  p->base.close = pread_close;
  p->fd = fd;
  memcpy(p->path, path, plen);
  *out = &p->base;
  return 0;
}

/* ------------------------------------------------------------------------ */
/* Writable files                                                           */
/* ------------------------------------------------------------------------ */

typedef struct posix_wfile {
  st_wfile base;
  int fd;
  size_t pos;        /* bytes buffered in buf */
  int failed;        /* a write or sync failed: every later call fails */
  st_error err;      /* that failure, re-raised by every later call */
  char *path;        /* for error messages */
  uint64_t written;  /* bytes handed to the kernel (the file's length) */
  uint64_t wb_start; /* start of what is not yet submitted for writeback */
  char buf[WFILE_BUF];
} posix_wfile;

/* Every WRITEBACK_CHUNK bytes written, the kernel is asked to start writing
 * them to disk (sync_file_range WRITE: it returns at once). A later
 * fdatasync then waits only for the last stretch instead of the whole file,
 * so syncing a 4 MiB log at a memtable switch costs milliseconds, and disk
 * writes are spread out instead of bursting. */
#define WRITEBACK_CHUNK (1u << 20)

static void start_writeback(posix_wfile *w) {
#ifdef SYNC_FILE_RANGE_WRITE
  if (w->written - w->wb_start < WRITEBACK_CHUNK) return;
  /* Only a hint: an error here shows up again at fdatasync. */
  (void)sync_file_range(w->fd, (off64_t)w->wb_start, (off64_t)(w->written - w->wb_start),
                        SYNC_FILE_RANGE_WRITE);
  w->wb_start = w->written;
#else
  (void)w;
#endif
}

/* Records the thread's current error as the file's permanent state: after a
 * failed write the file's contents are unknown, and after a failed
 * fdatasync the kernel may have dropped the dirty pages, so reporting a
 * later success would be a lie. */
static int wfile_fail(posix_wfile *w, int code) {
  w->failed = 1;
  st_error_capture(&w->err, code);
  return code;
}

/* Writes the iovecs fully, retrying short writes and EINTR. */
static int write_all(posix_wfile *w, struct iovec *iov, int cnt) {
  while (cnt > 0) {
    /* Plain write() for one piece: the common case, and what tools that
     * trace or intercept write() expect to see. */
    ssize_t r = cnt == 1 ? write(w->fd, iov->iov_base, iov->iov_len) : writev(w->fd, iov, cnt);
    if (r < 0) {
      if (errno == EINTR) continue;
      return wfile_fail(w, st_err_io("write", w->path, errno));
    }
    /* No progress and no error would otherwise spin forever. */
    if (r == 0) return wfile_fail(w, st_err_io("write", w->path, EIO));
    size_t done = (size_t)r;
    w->written += done;
    while (cnt > 0 && done >= iov->iov_len) {
      done -= iov->iov_len;
      iov++;
      cnt--;
    }
    if (cnt > 0) {
      iov->iov_base = (char *)iov->iov_base + done;
      iov->iov_len -= done;
    }
  }
  start_writeback(w);
  return 0;
}

static int wfile_append(st_wfile *f, const char *data, size_t n) {
  posix_wfile *w = (posix_wfile *)f;
  if (w->failed) return st_error_raise(&w->err);
  if (n <= WFILE_BUF - w->pos) {
    if (n) memcpy(w->buf + w->pos, data, n);
    w->pos += n;
    return 0;
  }
  /* Too big for what is left: hand the buffered bytes and the new data to
   * the kernel in one writev() rather than two writes. */
  struct iovec iov[2];
  int cnt = 0;
  if (w->pos) {
    iov[cnt].iov_base = w->buf;
    iov[cnt].iov_len = w->pos;
    cnt++;
  }
  iov[cnt].iov_base = (void *)data;
  iov[cnt].iov_len = n;
  cnt++;
  w->pos = 0;
  return write_all(w, iov, cnt);
}

static int wfile_flush(st_wfile *f) {
  posix_wfile *w = (posix_wfile *)f;
  if (w->failed) return st_error_raise(&w->err);
  if (w->pos == 0) return 0;
  struct iovec iov = {w->buf, w->pos};
  w->pos = 0;
  return write_all(w, &iov, 1);
}

static int wfile_sync(st_wfile *f) {
  posix_wfile *w = (posix_wfile *)f;
  int rc = wfile_flush(f);
  if (rc) return rc;
  int r;
  do {
    r = fdatasync(w->fd);
  } while (r < 0 && errno == EINTR);
  if (r < 0) return wfile_fail(w, st_err_io("fdatasync", w->path, errno));
  return 0;
}

static int wfile_close(st_wfile *f) {
  posix_wfile *w = (posix_wfile *)f;
  if (!w) return 0;
  int rc = wfile_flush(f);
  /* close() is not retried on EINTR: on Linux the descriptor is gone
   * whatever close() returns, and a retry could close someone else's. */
  if (close(w->fd) < 0 && rc == 0) rc = st_err_io("close", w->path, errno);
  free(w->path);
  free(w);
  return rc;
}

static int new_wfile_flags(const char *path, int flags, st_wfile **out) {
  *out = NULL;
  posix_wfile *w = malloc(sizeof *w);
  if (!w) return st_err_oom("open", path);
  w->path = dup_str(path);
  if (!w->path) {
    free(w);
    return st_err_oom("open", path);
  }
  int fd = open_cloexec(path, flags, 0644);
  if (fd < 0) {
    int e = errno;
    free(w->path);
    free(w);
    return st_err_sys("open", path, e);
  }
  w->base.append = wfile_append;
  w->base.flush = wfile_flush;
  w->base.sync = wfile_sync;
  w->base.close = wfile_close;
  w->fd = fd;
  w->pos = 0;
  struct stat st;
  w->written = w->wb_start = fstat(fd, &st) == 0 ? (uint64_t)st.st_size : 0;
  w->failed = 0;
  w->err.code = 0;
  w->err.msg[0] = '\0';
  *out = &w->base;
  return 0;
}

static int posix_new_wfile(st_env *env, const char *path, st_wfile **out) {
  (void)env;
  return new_wfile_flags(path, O_WRONLY | O_CREAT | O_TRUNC, out);
}

static int posix_new_appendable(st_env *env, const char *path, st_wfile **out) {
  (void)env;
  return new_wfile_flags(path, O_WRONLY | O_CREAT | O_APPEND, out);
}

/* ------------------------------------------------------------------------ */
/* File system                                                              */
/* ------------------------------------------------------------------------ */

static int posix_exists(st_env *env, const char *path) {
  (void)env;
  return access(path, F_OK) == 0;
}

static int posix_is_dir(st_env *env, const char *path) {
  (void)env;
  struct stat st;
  return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static int posix_children(st_env *env, const char *dir, char ***names, size_t *n) {
  (void)env;
  *names = NULL;
  *n = 0;
  /* open() + fdopendir() rather than opendir() so close-on-exec is ours to
   * set, not the C library's choice. */
  int fd = open_cloexec(dir, O_RDONLY | O_DIRECTORY, 0);
  if (fd < 0) return st_err_sys("opendir", dir, errno);
  DIR *d = fdopendir(fd);
  if (!d) {
    int e = errno;
    close(fd);
    return st_err_sys("opendir", dir, e);
  }
  char **list = NULL;
  size_t cnt = 0, cap = 0;
  int rc = 0;
  for (;;) {
    errno = 0;
    struct dirent *ent = readdir(d);
    if (!ent) {
      if (errno) rc = st_err_io("readdir", dir, errno);
      break;
    }
    const char *nm = ent->d_name;
    if (strcmp(nm, ".") == 0 || strcmp(nm, "..") == 0) continue;
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
    if (!(list[cnt] = dup_str(nm))) {
      rc = st_err_oom("readdir", dir);
      break;
    }
    cnt++;
  }
  closedir(d);
  if (rc) {
    st_env_free_children(list, cnt);
    return rc;
  }
  *names = list;
  *n = cnt;
  return 0;
}

static int posix_remove_file(st_env *env, const char *path) {
  (void)env;
  if (unlink(path) < 0) return st_err_sys("unlink", path, errno);
  return 0;
}

static int posix_create_dir(st_env *env, const char *path) {
  (void)env;
  if (mkdir(path, 0755) == 0) return 0;
  int e = errno;
  if (e == EEXIST) {
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) return 0;
    return st_err(STRATA_EINVAL, "%s exists and is not a directory", path);
  }
  return st_err_sys("mkdir", path, e);
}

static int posix_remove_dir(st_env *env, const char *path) {
  (void)env;
  if (rmdir(path) < 0) return st_err_sys("rmdir", path, errno);
  return 0;
}

static int posix_file_size(st_env *env, const char *path, uint64_t *size) {
  (void)env;
  struct stat st;
  if (stat(path, &st) < 0) {
    *size = 0;
    return st_err_sys("stat", path, errno);
  }
  *size = (uint64_t)st.st_size;
  return 0;
}

static int posix_rename(st_env *env, const char *from, const char *to) {
  (void)env;
  if (rename(from, to) < 0) {
    int e = errno;
    if (e == ENOENT) return st_err(STRATA_ENOTFOUND, "rename %s to %s: %s", from, to, strerror(e));
    if (e == ENOMEM) return st_err(STRATA_ENOMEM, "rename %s to %s", from, to);
    return st_err(STRATA_EIO, "rename %s to %s: %s", from, to, strerror(e));
  }
  return 0;
}

/* A hard link. The errors that mean "this file system cannot link these
 * two paths" -- EXDEV (different file systems), EPERM (no hard links, e.g.
 * FAT, or a policy such as protected_hardlinks), EMLINK (too many links),
 * EOPNOTSUPP/ENOSYS -- become STRATA_ENOTSUP, on which callers copy. */
static int posix_link_file(st_env *env, const char *from, const char *to) {
  (void)env;
  if (link(from, to) == 0) return 0;
  int e = errno;
  if (e == EXDEV || e == EPERM || e == EMLINK || e == ENOTSUP || e == EOPNOTSUPP || e == ENOSYS)
    return st_err(STRATA_ENOTSUP, "link %s to %s: %s", from, to, strerror(e));
  if (e == ENOENT) return st_err(STRATA_ENOTFOUND, "link %s to %s: %s", from, to, strerror(e));
  if (e == ENOMEM) return st_err(STRATA_ENOMEM, "link %s to %s", from, to);
  return st_err(STRATA_EIO, "link %s to %s: %s", from, to, strerror(e));
}

static int posix_sync_dir(st_env *env, const char *dir) {
  (void)env;
  int fd = open_cloexec(dir, O_RDONLY | O_DIRECTORY, 0);
  if (fd < 0) return st_err_sys("open", dir, errno);
  int r;
  do {
    r = fsync(fd);
  } while (r < 0 && errno == EINTR);
  int rc = r < 0 ? st_err_io("fsync", dir, errno) : 0;
  close(fd);
  return rc;
}

/* ------------------------------------------------------------------------ */
/* Locks                                                                    */
/* ------------------------------------------------------------------------ */

/* An open-file-description lock (F_OFD_SETLK) belongs to the open file, not
 * the process, so a second open of the same LOCK in this process conflicts
 * with the first, and it conflicts with the classic fcntl() locks LevelDB
 * and other processes take. Where OFD locks are missing, classic locks are
 * used instead; those never conflict within one process, so a process-wide
 * list of locked paths stands in for that case. */
struct strata_filelock {
  int fd;
  int ofd; /* 1: OFD lock; 0: classic lock listed in locked_paths */
  st_filelock *next_classic;
  char path[];
};

static pthread_mutex_t locked_mu = PTHREAD_MUTEX_INITIALIZER;
static st_filelock *locked_paths; /* classic locks held, guarded by locked_mu */

static int lock_busy(const char *path) {
  return st_err(STRATA_EBUSY,
                "lock %s: already held by another process or another handle in this process", path);
}

static int set_lock(int fd, int cmd, short type) {
  struct flock fl;
  memset(&fl, 0, sizeof fl);
  fl.l_type = type;
  fl.l_whence = SEEK_SET;
  fl.l_start = 0;
  fl.l_len = 0; /* the whole file, however long it grows */
  int r;
  do {
    r = fcntl(fd, cmd, &fl);
  } while (r < 0 && errno == EINTR);
  return r;
}

static int posix_lock_file(st_env *env, const char *path, st_filelock **out) {
  (void)env;
  *out = NULL;
  size_t plen = strlen(path) + 1;
  st_filelock *l = malloc(sizeof *l + plen);
  if (!l) return st_err_oom("lock", path);
  memcpy(l->path, path, plen);
  l->next_classic = NULL;
  int fd = open_cloexec(path, O_RDWR | O_CREAT, 0644);
  if (fd < 0) {
    int e = errno;
    free(l);
    return st_err_sys("lock", path, e);
  }
  l->fd = fd;

  int e = EINVAL;
#ifdef HAVE_OFD_LOCKS
  if (set_lock(fd, F_OFD_SETLK, F_WRLCK) == 0) {
    l->ofd = 1;
    *out = l;
    return 0;
  }
  e = errno;
#endif
  if (e == EINVAL) {
    /* No OFD locks: classic lock plus the in-process list. */
    l->ofd = 0;
    pthread_mutex_lock(&locked_mu);
    for (st_filelock *p = locked_paths; p; p = p->next_classic) {
      if (strcmp(p->path, path) == 0) {
        pthread_mutex_unlock(&locked_mu);
        close(fd);
        free(l);
        return lock_busy(path);
      }
    }
    if (set_lock(fd, F_SETLK, F_WRLCK) == 0) {
      l->next_classic = locked_paths;
      locked_paths = l;
      pthread_mutex_unlock(&locked_mu);
      *out = l;
      return 0;
    }
    e = errno;
    pthread_mutex_unlock(&locked_mu);
  }
  close(fd);
  free(l);
  if (e == EAGAIN || e == EACCES) return lock_busy(path);
  return st_err_io("lock", path, e);
}

static int posix_unlock_file(st_env *env, st_filelock *l) {
  (void)env;
  if (!l) return 0;
  int rc = 0;
  if (l->ofd) {
#ifdef HAVE_OFD_LOCKS
    if (set_lock(l->fd, F_OFD_SETLK, F_UNLCK) < 0) rc = st_err_io("unlock", l->path, errno);
#endif
  } else {
    pthread_mutex_lock(&locked_mu);
    if (set_lock(l->fd, F_SETLK, F_UNLCK) < 0) rc = st_err_io("unlock", l->path, errno);
    for (st_filelock **pp = &locked_paths; *pp; pp = &(*pp)->next_classic) {
      if (*pp == l) {
        *pp = l->next_classic;
        break;
      }
    }
    pthread_mutex_unlock(&locked_mu);
  }
  /* Closing releases the lock even if the explicit unlock failed. */
  close(l->fd);
  free(l);
  return rc;
}

/* ------------------------------------------------------------------------ */
/* Threads and time                                                         */
/* ------------------------------------------------------------------------ */

struct strata_thread {
  pthread_t tid;
  void (*fn)(void *arg);
  void *arg;
};

static void *thread_main(void *p) {
  st_thread *t = p;
  t->fn(t->arg);
  return NULL;
}

static int posix_thread_create(st_env *env, void (*fn)(void *arg), void *arg, st_thread **out) {
  (void)env;
  *out = NULL;
  st_thread *t = malloc(sizeof *t);
  if (!t) return st_err(STRATA_ENOMEM, "cannot start thread: out of memory");
  t->fn = fn;
  t->arg = arg;
  int r = pthread_create(&t->tid, NULL, thread_main, t);
  if (r != 0) {
    free(t);
    if (r == ENOMEM) return st_err(STRATA_ENOMEM, "cannot start thread: out of memory");
    return st_err(STRATA_EIO, "cannot start thread: %s", strerror(r));
  }
  *out = t;
  return 0;
}

static void posix_thread_join(st_env *env, st_thread *t) {
  (void)env;
  if (!t) return;
  pthread_join(t->tid, NULL);
  free(t);
}

static uint64_t posix_now_micros(st_env *env) {
  (void)env;
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void posix_sleep_micros(st_env *env, uint64_t micros) {
  (void)env;
  struct timespec ts;
  ts.tv_sec = (time_t)(micros / 1000000u);
  ts.tv_nsec = (long)(micros % 1000000u) * 1000;
  /* A signal cuts nanosleep short; sleep the rest. */
  while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
  }
}

static st_env posix_env = {
    .new_seqfile = posix_new_seqfile,
    .new_rafile = posix_new_rafile,
    .new_wfile = posix_new_wfile,
    .new_appendable = posix_new_appendable,
    .exists = posix_exists,
    .is_dir = posix_is_dir,
    .children = posix_children,
    .remove_file = posix_remove_file,
    .create_dir = posix_create_dir,
    .remove_dir = posix_remove_dir,
    .file_size = posix_file_size,
    .rename = posix_rename,
    .sync_dir = posix_sync_dir,
    .lock_file = posix_lock_file,
    .unlock_file = posix_unlock_file,
    .thread_create = posix_thread_create,
    .thread_join = posix_thread_join,
    .now_micros = posix_now_micros,
    .sleep_micros = posix_sleep_micros,
    .state = NULL,
    .link_file = posix_link_file,
};

st_env *st_env_posix(void) { return &posix_env; }

strata_env *strata_env_default(void) { return &posix_env; }
