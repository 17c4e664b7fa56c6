/* error.c - per-thread error messages (see error.h). */
#include "util/error.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static _Thread_local char errbuf[ST_ERRMSG_MAX];

const char *strata_strerror(int code) {
  switch (code) {
  case STRATA_OK: return "OK";
  case STRATA_ENOTFOUND: return "NotFound";
  case STRATA_ECORRUPTION: return "Corruption";
  case STRATA_ENOTSUP: return "Not implemented";
  case STRATA_EINVAL: return "Invalid argument";
  case STRATA_EIO: return "IO error";
  case STRATA_EBUSY: return "Busy";
  case STRATA_ENOMEM: return "Out of memory";
  case STRATA_EMISUSE: return "Misuse";
  case STRATA_ECONFLICT: return "Conflict";
  default: return "Unknown error";
  }
}

const char *strata_errmsg(void) { return errbuf; }
const char *st_errmsg(void) { return errbuf; }
void st_err_clear(void) { errbuf[0] = '\0'; }

int st_err_v(int code, const char *fmt, va_list ap) {
  int n = snprintf(errbuf, sizeof errbuf, "%s: ", strata_strerror(code));
  if (n < 0 || (size_t)n >= sizeof errbuf) return code;
  int m = vsnprintf(errbuf + n, sizeof errbuf - (size_t)n, fmt, ap);
  if (m >= 0 && (size_t)(n + m) >= sizeof errbuf) memcpy(errbuf + sizeof errbuf - 4, "...", 4);
  return code;
}

int st_err(int code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  st_err_v(code, fmt, ap);
  va_end(ap);
  return code;
}

int st_err_corrupt(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  st_err_v(STRATA_ECORRUPTION, fmt, ap);
  va_end(ap);
  return STRATA_ECORRUPTION;
}

int st_err_io(const char *what, const char *path, int errnum) {
  if (errnum == ENOMEM) return st_err(STRATA_ENOMEM, "%s %s", what, path);
  return st_err(STRATA_EIO, "%s %s: %s", what, path, strerror(errnum));
}

int st_err_oom(const char *what, const char *path) {
  return st_err(STRATA_ENOMEM, "%s %s: out of memory", what, path);
}

int st_err_sys(const char *what, const char *path, int errnum) {
  if (errnum == ENOENT) return st_err(STRATA_ENOTFOUND, "%s %s: %s", what, path, strerror(errnum));
  return st_err_io(what, path, errnum);
}

int st_err_open_read(const char *path, int errnum) {
  if (errnum == ENOENT) return st_err(STRATA_ENOTFOUND, "%s: %s", path, strerror(errnum));
  return st_err_io("open", path, errnum);
}

int st_err_restore(int code, const char *msg) {
  /* A copy, not snprintf: a get of an absent key sets its message here, on
   * the hot path of every miss. */
  size_t n = strlen(msg);
  if (n >= sizeof errbuf) n = sizeof errbuf - 1;
  memcpy(errbuf, msg, n);
  errbuf[n] = '\0';
  return code;
}

void st_error_capture(st_error *e, int code) {
  e->code = code;
  snprintf(e->msg, sizeof e->msg, "%s", errbuf);
}

int st_error_raise(const st_error *e) { return st_err_restore(e->code, e->msg); }

int strata_error_set(int code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  st_err_v(code, fmt, ap);
  va_end(ap);
  return code;
}
