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

#include "strata.h"
#include "util/slice.h"

/* The env types are public (strata.h: strata_env and its file objects); the
 * st_ names are the same types. */
typedef strata_env st_env;
typedef strata_seqfile st_seqfile;
typedef strata_rafile st_rafile;
typedef strata_wfile st_wfile;
typedef strata_filelock st_filelock;
typedef strata_thread st_thread;

/* The process-wide POSIX env. Never NULL; never freed. */
st_env *st_env_posix(void);

void st_env_free_children(char **names, size_t n);

/* Convenience: write data to path (truncating) and optionally sync it. */
int st_env_write_file(st_env *env, const char *path, const char *data, size_t n, int sync);
/* Convenience: read all of path into *out (an st_buf, appended). */
struct strata_buf;
int st_env_read_file(st_env *env, const char *path, struct strata_buf *out);

#endif
