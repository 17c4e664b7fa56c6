/*
 * error.h - error codes and the per-thread error message.
 *
 * Internal functions return int: 0 or a negative STRATA_E* code (strata.h).
 * A function that returns an error sets the calling thread's message first
 * with st_err(); callers pass the code up unchanged, or replace the message
 * with one that says more. The message lives in thread-local storage, so
 * threads sharing a database never race on it.
 *
 * Every corruption report goes through st_err_corrupt(), one place to put a
 * breakpoint on (SQLite's SQLITE_CORRUPT_BKPT idea).
 */
#ifndef ST_ERROR_H
#define ST_ERROR_H

#include <stdarg.h>
#include <stddef.h>

#include "strata.h"

#if defined(__GNUC__)
#define ST_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define ST_PRINTF(a, b)
#endif

/* Size of the per-thread message buffer; longer messages are cut with "...". */
#define ST_ERRMSG_MAX 512

/* Sets this thread's message to "<Kind>: <formatted text>" (Kind from the
 * code, as LevelDB's Status::ToString: "NotFound", "Corruption", "Not
 * implemented", "Invalid argument", "IO error", ...) and returns code. */
int st_err(int code, const char *fmt, ...) ST_PRINTF(2, 3);
int st_err_v(int code, const char *fmt, va_list ap);

/* st_err(STRATA_ECORRUPTION, ...): every corruption goes through here. */
int st_err_corrupt(const char *fmt, ...) ST_PRINTF(1, 2);

/* st_err(STRATA_EIO, "<what> <path>: <strerror(errnum)>"). */
int st_err_io(const char *what, const char *path, int errnum);

/* The wording every env uses (POSIX and in-memory alike):
 * st_err_oom:      "Out of memory: <what> <path>: out of memory";
 * st_err_sys:      a failed operation on path; ENOENT is STRATA_ENOTFOUND,
 *                  anything else as st_err_io;
 * st_err_open_read: opening a file to read it; a missing file reads
 *                  "NotFound: <path>: No such file or directory", LevelDB's
 *                  wording, which callers and users match on. */
int st_err_oom(const char *what, const char *path);
int st_err_sys(const char *what, const char *path, int errnum);
int st_err_open_read(const char *path, int errnum);

/* The message set last on this thread (never NULL; "" if none). */
const char *st_errmsg(void);

/* Sets the message verbatim (it already carries its Kind prefix) and
 * returns code: used to re-raise a stored error, e.g. a database's sticky
 * background error or an iterator's status. */
int st_err_restore(int code, const char *msg);

/* Clears this thread's message. */
void st_err_clear(void);

/* A copy of an error (code + message) kept beyond the call that raised it,
 * e.g. a database's background error. */
typedef struct st_error {
  int code;
  char msg[ST_ERRMSG_MAX];
} st_error;

/* Captures code and the thread's current message into *e. */
void st_error_capture(st_error *e, int code);
/* Re-raises *e on this thread; returns e->code. */
int st_error_raise(const st_error *e);

#endif
