/*
 * cli.c - helpers shared by the subcommands of the strata tool.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include "cli.h"

#include <errno.h>
#include <ftw.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

void cli_err(const cli_cmd *cmd, const char *fmt, ...) {
  va_list ap;
  fprintf(stderr, "strata %s: ", cmd->name);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
}

int cli_usage_error(const cli_cmd *cmd, const char *fmt, ...) {
  va_list ap;
  fprintf(stderr, "strata %s: ", cmd->name);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fprintf(stderr, "\nTry 'strata %s --help'.\n", cmd->name);
  return CLI_USAGE;
}

int cli_help(const cli_cmd *cmd) {
  fputs(cmd->help, stdout);
  return CLI_OK;
}

int cli_bad_option(const cli_cmd *cmd, int c, char **argv) {
  /* A long option is the whole word just before optind (getopt has moved
   * past it); a short one may sit inside a cluster such as "-xq", so its
   * letter (optopt) is what to name. */
  const char *word = optind > 0 ? argv[optind - 1] : "";
  int is_long = word && word[0] == '-' && word[1] == '-';
  if (is_long) {
    size_t n = strcspn(word, "=");
    if (c == ':') return cli_usage_error(cmd, "option '%.*s' needs an argument", (int)n, word);
    return cli_usage_error(cmd, "unknown option '%.*s'", (int)n, word);
  }
  if (c == ':') return cli_usage_error(cmd, "option '-%c' needs an argument", optopt);
  return cli_usage_error(cmd, "unknown option '-%c'", optopt);
}

int cli_operands(const cli_cmd *cmd, int argc, int optind, int min, int max, const char *names) {
  int n = argc - optind;
  if (n < min) return cli_usage_error(cmd, "missing operand: expected %s", names);
  if (n > max) return cli_usage_error(cmd, "too many operands: expected %s", names);
  return CLI_OK;
}

void cli_db_err(const cli_cmd *cmd, const char *what, int rc) {
  const char *msg = strata_errmsg();
  cli_err(cmd, "%s: %s", what, (msg && *msg) ? msg : strata_strerror(rc));
}

int cli_open(const cli_cmd *cmd, const char *path, int flags, strata_db **db) {
  return cli_open_ex(cmd, path, flags, db, NULL);
}

int cli_open_ex(const cli_cmd *cmd, const char *path, int flags, strata_db **db, int *read_only) {
  struct stat st;
  int create = (flags & CLI_OPEN_CREATE) != 0;
  *db = NULL;
  if (!*path) {
    cli_err(cmd, "DBPATH is empty");
    return CLI_FAIL;
  }
  if (stat(path, &st) == 0) {
    if (!S_ISDIR(st.st_mode)) {
      cli_err(cmd, "%s: not a database (a Strata database is a directory, this is a file)", path);
      return CLI_FAIL;
    }
    if (!create) {
      /* Checked here so the message names the real problem; strata_open
       * would only say that CURRENT is missing. */
      size_t n = strlen(path);
      char *cur = malloc(n + sizeof "/CURRENT");
      if (!cur) {
        cli_err(cmd, "out of memory");
        return CLI_FAIL;
      }
      memcpy(cur, path, n);
      memcpy(cur + n, "/CURRENT", sizeof "/CURRENT");
      int missing = stat(cur, &st) != 0 && errno == ENOENT;
      free(cur);
      if (missing) {
        cli_err(cmd, "%s: not a database (directory has no CURRENT file)", path);
        return CLI_FAIL;
      }
    }
  } else if (errno == ENOENT && !create) {
    cli_err(cmd, "%s: no such database (only put, load, restore and edit create one)", path);
    return CLI_FAIL;
  } else if (errno != ENOENT) {
    cli_err(cmd, "%s: %s", path, strerror(errno));
    return CLI_FAIL;
  }

  strata_options opt;
  strata_options_init(&opt);
  opt.create_if_missing = create;
  opt.read_only = (flags & CLI_OPEN_READ_ONLY) != 0;
  int rc = strata_open(path, &opt, db);
  if (rc == STRATA_EBUSY && (flags & CLI_OPEN_SHARED) && !opt.read_only) {
    /* Another process writes the database: read it beside that writer. */
    opt.read_only = 1;
    opt.create_if_missing = 0;
    rc = strata_open(path, &opt, db);
  }
  if (rc != STRATA_OK) {
    size_t n = strlen(path) + 32;
    char *what = malloc(n);
    if (what) snprintf(what, n, "cannot open %s", path);
    cli_db_err(cmd, what ? what : "cannot open database", rc);
    free(what);
    *db = NULL;
    return CLI_FAIL;
  }
  if (read_only) *read_only = opt.read_only;
  return CLI_OK;
}

int cli_open_common(const cli_cmd *cmd, const cli_common *co, int flags, strata_db **db) {
  if (co->read_only) flags = (flags & ~CLI_OPEN_CREATE) | CLI_OPEN_READ_ONLY;
  return cli_open(cmd, co->dbpath, flags, db);
}

void cli_common_init(cli_common *co) {
  memset(co, 0, sizeof *co);
  co->progress = CLI_PROGRESS_AUTO;
}

int cli_common_opt(cli_common *co, int c, const char *arg) {
  switch (c) {
  case 'e': co->dbpath = arg; return 1;
  case 'd': co->subdb = arg; return 1;
  case 'r': co->read_only = 1; return 1;
  case 'q': co->progress = CLI_PROGRESS_OFF; return 1;
  case CLI_OPT_PROGRESS: co->progress = CLI_PROGRESS_ON; return 1;
  default: return 0;
  }
}

int cli_take_dbpath(const cli_cmd *cmd, cli_common *co, int argc, char **argv, int *optind_io) {
  if (co->dbpath) return CLI_OK;
  if (*optind_io >= argc)
    return cli_usage_error(cmd, "missing operand: expected DBPATH (or -e DBPATH)");
  co->dbpath = argv[(*optind_io)++];
  return CLI_OK;
}

int cli_is_main(const char *name) { return !name || !strcmp(name, CLI_MAIN_NAME); }

int cli_open_subdb(const cli_cmd *cmd, strata_db *db, const char *name, int create,
                   strata_subdb **sdb) {
  *sdb = NULL;
  if (cli_is_main(name)) return CLI_OK;
  int rc = strata_subdb_open(db, name, create, sdb);
  if (rc == STRATA_ENOTFOUND) {
    cli_err(cmd, "no sub-database '%s' ('strata stat' lists them)", name);
    return CLI_FAIL;
  }
  if (rc != STRATA_OK) {
    size_t n = strlen(name) + 40;
    char *what = malloc(n);
    if (what) snprintf(what, n, "cannot open sub-database '%s'", name);
    cli_db_err(cmd, what ? what : "cannot open sub-database", rc);
    free(what);
    *sdb = NULL;
    return CLI_FAIL;
  }
  return CLI_OK;
}

int cli_exists(const char *path) {
  struct stat st;
  return lstat(path, &st) == 0;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
  (void)st;
  (void)flag;
  (void)ftw;
  return remove(path);
}

int cli_remove_tree(const char *path) { return nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS); }

int cli_parse_count(const char *s, unsigned long long *out) {
  if (!s || *s < '0' || *s > '9') return -1;
  char *end;
  errno = 0;
  unsigned long long v = strtoull(s, &end, 10);
  if (errno || *end) return -1;
  *out = v;
  return 0;
}

int cli_arg_bytes(const cli_cmd *cmd, const char *what, const char *arg, int hex, sbuf *out) {
  out->len = 0;
  if (!hex) {
    if (sbuf_append(out, arg, strlen(arg))) {
      cli_err(cmd, "out of memory");
      return CLI_FAIL;
    }
    return CLI_OK;
  }
  const char *e = parse_hex(out, arg, strlen(arg));
  if (e) return cli_usage_error(cmd, "%s '%s' is not valid hex (-x): %s", what, arg, e);
  return CLI_OK;
}

int cli_out_open(const cli_cmd *cmd, cli_out *o, const char *path) {
  memset(o, 0, sizeof *o);
  if (!path || !strcmp(path, "-")) {
    o->f = stdout;
    o->name = "standard output";
    return CLI_OK;
  }
  o->f = fopen(path, "w");
  if (!o->f) {
    cli_err(cmd, "%s: cannot create: %s", path, strerror(errno));
    return CLI_FAIL;
  }
  o->name = path;
  o->own = 1;
  return CLI_OK;
}

int cli_out_flush(cli_out *o, int force) {
  if (o->buf.len == 0 || (!force && o->buf.len < 64 * 1024)) return 0;
  size_t n = fwrite(o->buf.data, 1, o->buf.len, o->f);
  int bad = n != o->buf.len;
  o->buf.len = 0;
  return bad ? -1 : 0;
}

int cli_out_finish(const cli_cmd *cmd, cli_out *o) {
  int bad = cli_out_flush(o, 1) != 0;
  bad |= fflush(o->f) != 0;
  bad |= ferror(o->f) != 0;
  int err = errno;
  if (o->own) bad |= fclose(o->f) != 0;
  sbuf_free(&o->buf);
  if (bad) {
    cli_err(cmd, "%s: write error: %s", o->name, strerror(err ? err : EIO));
    return CLI_FAIL;
  }
  return CLI_OK;
}
