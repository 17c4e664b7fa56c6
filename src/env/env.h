/*
 * env.h - the environment: every file, directory, lock, thread and clock
 * operation Strata makes goes through an st_env, a struct of function
 * pointers, so tests and users can substitute their own (an in-memory or a
 * fault-injecting one, an I/O throttle). st_env_posix() is the default.
 *
 * All functions return 0 or a negative STRATA_E* code with the thread's
 * error message set (naming the path). Every path is a NUL-terminated file
 * system path. Functions of an env and of the files it makes may be called
 * from any thread, except that one file object is used by one thread at a
 * time.
 *
 * File objects are owned by the caller and freed by their close function
 * (which is also how their fd is closed). Every file descriptor the POSIX
 * env opens is close-on-exec.
 */
#ifndef ST_ENV_H
#define ST_ENV_H

#include <stddef.h>
#include <stdint.h>

#include "util/slice.h"

typedef struct st_env st_env;

/* Sequential reads from the start: logs and the MANIFEST. */
typedef struct st_seqfile st_seqfile;
struct st_seqfile {
  /* Reads up to n bytes. *out points at what was read: in scratch (room for
   * n bytes) or in memory the file owns until the next call. out->size == 0
   * at end of file; fewer than n bytes only at end of file. */
  int (*read)(st_seqfile *f, size_t n, char *scratch, st_slice *out);
  /* Skips n bytes forward (past the end is not an error). */
  int (*skip)(st_seqfile *f, uint64_t n);
  void (*close)(st_seqfile *f); /* frees f */
};

/* Random reads: sorted tables. Safe for concurrent reads from many threads.
 */
typedef struct st_rafile st_rafile;
struct st_rafile {
  /* Reads n bytes at offset. *out points into scratch (room for n bytes) or
   * into memory owned by the file that stays valid until close (an mmap).
   * Reading past the end yields fewer bytes (not an error); the caller
   * checks out->size. */
  int (*read)(const st_rafile *f, uint64_t offset, size_t n, char *scratch,
              st_slice *out);
  void (*close)(st_rafile *f); /* frees f */
};

/* Appending writes: logs, tables, MANIFEST. The file may buffer appends in
 * user space; flush() hands everything appended so far to the OS (a process
 * crash then loses nothing), sync() also makes it durable (fdatasync). */
typedef struct st_wfile st_wfile;
struct st_wfile {
  int (*append)(st_wfile *f, const char *data, size_t n);
  int (*flush)(st_wfile *f);
  int (*sync)(st_wfile *f); /* flush + fdatasync */
  /* Flushes, closes and frees f. Returns the first error of the flush or
   * close; f is freed either way. */
  int (*close)(st_wfile *f);
};

typedef struct st_filelock st_filelock;
typedef struct st_thread st_thread;

struct st_env {
  int (*new_seqfile)(st_env *env, const char *path, st_seqfile **out);
  int (*new_rafile)(st_env *env, const char *path, st_rafile **out);
  /* Creates or truncates path for writing. */
  int (*new_wfile)(st_env *env, const char *path, st_wfile **out);
  /* Opens path for appending, creating it if missing. */
  int (*new_appendable)(st_env *env, const char *path, st_wfile **out);
  /* 1 if path exists (file or directory), 0 if not. */
  int (*exists)(st_env *env, const char *path);
  /* 1 if path is a directory. */
  int (*is_dir)(st_env *env, const char *path);
  /* Names (not paths) of the entries of dir, excluding "." and "..".
   * *names is a malloc'd array of *n malloc'd strings; free with
   * st_env_free_children(). */
  int (*children)(st_env *env, const char *dir, char ***names, size_t *n);
  int (*remove_file)(st_env *env, const char *path);
  /* Creates dir; an existing directory is not an error. */
  int (*create_dir)(st_env *env, const char *path);
  int (*remove_dir)(st_env *env, const char *path);
  int (*file_size)(st_env *env, const char *path, uint64_t *size);
  /* Atomically replaces `to` with `from`. */
  int (*rename)(st_env *env, const char *from, const char *to);
  /* Makes the directory's entries (creates, renames) durable (fsync). */
  int (*sync_dir)(st_env *env, const char *dir);
  /* Takes an exclusive OS lock on path (created if missing). Fails with
   * STRATA_EBUSY if another handle -- in this process or another, LevelDB
   * included -- holds it. */
  int (*lock_file)(st_env *env, const char *path, st_filelock **out);
  int (*unlock_file)(st_env *env, st_filelock *lock); /* frees lock */
  /* Starts fn(arg) on a new thread; join it with thread_join. */
  int (*thread_create)(st_env *env, void (*fn)(void *arg), void *arg,
                       st_thread **out);
  void (*thread_join)(st_env *env, st_thread *t); /* frees t */
  uint64_t (*now_micros)(st_env *env); /* monotonic microseconds */
  void (*sleep_micros)(st_env *env, uint64_t micros);
  void *state; /* for user envs */
};

/* The process-wide POSIX env. Never NULL; never freed. */
st_env *st_env_posix(void);

void st_env_free_children(char **names, size_t n);

/* Convenience: write data to path (truncating) and optionally sync it. */
int st_env_write_file(st_env *env, const char *path, const char *data,
                      size_t n, int sync);
/* Convenience: read all of path into *out (an st_buf, appended). */
struct strata_buf;
int st_env_read_file(st_env *env, const char *path, struct strata_buf *out);

#endif
