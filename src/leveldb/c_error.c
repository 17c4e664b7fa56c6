/*
 * c_error.c - LevelDB's error convention (char **errptr holding a malloc'd
 * Status::ToString()-style message) on top of Strata's error codes, plus
 * the small utility functions of leveldb/c.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "c_internal.h"

/* The LevelDB status kind a Strata error code is reported as. LevelDB has
 * no "busy" or "out of memory" status: a held lock is an IO error in
 * LevelDB (its LockFile fails), and misuse is the caller's bad argument. */
static const char *leveldb_kind(int code) {
  switch (code) {
  case STRATA_ENOTFOUND: return "NotFound";
  case STRATA_ECORRUPTION: return "Corruption";
  case STRATA_ENOTSUP: return "Not implemented";
  case STRATA_EINVAL:
  case STRATA_EMISUSE: return "Invalid argument";
  default: return "IO error";
  }
}

/* strata_errmsg() starts with "<Strata kind>: "; returns what follows it,
 * whichever code's kind it is (a callback may have set a message of another
 * kind than the code finally returned), or the whole message if it has no
 * such prefix. */
static const char *strip_strata_kind(const char *msg) {
  static const int codes[] = {STRATA_ENOTFOUND, STRATA_ECORRUPTION, STRATA_ENOTSUP, STRATA_EINVAL,
                              STRATA_EIO,       STRATA_EBUSY,       STRATA_ENOMEM,  STRATA_EMISUSE};
  for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
    const char *kind = strata_strerror(codes[i]);
    size_t n = strlen(kind);
    if (strncmp(msg, kind, n) == 0 && msg[n] == ':' && msg[n + 1] == ' ') return msg + n + 2;
  }
  return msg;
}

char *ldbc_error_message(int code) {
  const char *detail = strip_strata_kind(strata_errmsg());
  /* A failure that left no message still gets a readable one. */
  if (detail[0] == '\0') detail = strata_strerror(code);
  const char *kind = leveldb_kind(code);
  /* Out of memory becomes an IO error; say so, since the detail alone
   * (what was being allocated) would not. */
  const char *note = code == STRATA_ENOMEM ? "out of memory: " : "";
  size_t len = strlen(kind) + 2 + strlen(note) + strlen(detail) + 1;
  char *msg = malloc(len);
  if (msg) snprintf(msg, len, "%s: %s%s", kind, note, detail);
  return msg;
}

/* Stores msg (already malloc'd, owned from here on) as the new error. If
 * there is no memory for a message at all, an existing *errptr is kept: it
 * still tells the caller that the call failed, which a NULL would not. */
static void store(char **errptr, char *msg) {
  if (!errptr) {
    free(msg);
    return;
  }
  if (!msg) return;
  free(*errptr);
  *errptr = msg;
}

void ldbc_set_error(char **errptr, int code) {
  if (!errptr) return;
  store(errptr, ldbc_error_message(code));
}

void ldbc_set_error_copy(char **errptr, const char *msg) {
  if (!errptr) return;
  store(errptr, strdup(msg));
}

void leveldb_free(void *ptr) { free(ptr); }

int leveldb_major_version(void) { return 1; }

int leveldb_minor_version(void) { return 23; }
