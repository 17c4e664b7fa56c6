/*
 * cli.h - what the subcommands of the strata tool share: the command
 * table entry, error reporting, option-error handling, opening a database
 * and buffered output.
 */
#ifndef STRATA_TOOLS_CLI_H
#define STRATA_TOOLS_CLI_H

#include <stdio.h>

#include "dumpfmt.h"
#include "interrupt.h"
#include "progress.h"
#include "strata.h"

/* Exit statuses (documented in the main usage text and strata(1)):
 * CLI_INTERRUPTED (130) is in interrupt.h. */
enum { CLI_OK = 0, CLI_FAIL = 1, CLI_USAGE = 2 };

typedef struct cli_cmd {
  const char *name;
  const char *summary; /* one line for the command list */
  const char *help;    /* the full manual of the command */
  /* argv[0] is the command name; the rest are its options and operands. */
  int (*run)(const struct cli_cmd *self, int argc, char **argv);
} cli_cmd;

extern const cli_cmd cli_cmd_get, cli_cmd_put, cli_cmd_delete, cli_cmd_scan, cli_cmd_dump,
    cli_cmd_load, cli_cmd_stat, cli_cmd_compact, cli_cmd_check, cli_cmd_repair, cli_cmd_drop,
    cli_cmd_restore, cli_cmd_edit, cli_cmd_warm, cli_cmd_copy, cli_cmd_copyfd, cli_cmd_rewrite,
    cli_cmd_watch, cli_cmd_readers, cli_cmd_shell;

/* The options every command understands the same way (py-lmdb's spellings
 * where they exist):
 *   -e, --env DBPATH   the database, instead of the first operand
 *   -d, --db NAME      a sub-database (":main:" = the main database)
 *   -r, --read-only    open without the LOCK, beside a writer
 *   -q, --quiet        no progress line
 *   --progress         a progress line even when stderr is no terminal
 * A command lists in its own getopt table the ones it takes, with the
 * CLI_LONGOPT_* entries below, and hands the option letters to
 * cli_common_opt(). */
enum { CLI_OPT_PROGRESS = 0x200 };
#define CLI_LONGOPT_ENV                                                                            \
  { "env", required_argument, NULL, 'e' }
#define CLI_LONGOPT_DB                                                                             \
  { "db", required_argument, NULL, 'd' }
#define CLI_LONGOPT_READ_ONLY                                                                      \
  { "read-only", no_argument, NULL, 'r' }
#define CLI_LONGOPT_QUIET                                                                          \
  { "quiet", no_argument, NULL, 'q' }
#define CLI_LONGOPT_PROGRESS                                                                       \
  { "progress", no_argument, NULL, CLI_OPT_PROGRESS }

typedef struct cli_common {
  const char *dbpath; /* -e, else the first operand (cli_take_dbpath) */
  const char *subdb;  /* -d; NULL or ":main:" = the main database */
  int read_only;      /* -r */
  int progress;       /* CLI_PROGRESS_*: AUTO unless -q or --progress */
} cli_common;

void cli_common_init(cli_common *co);

/* Handles option c (with its optarg) if it is one of the common ones:
 * returns 1 when consumed, 0 when c is the command's own. */
int cli_common_opt(cli_common *co, int c, const char *arg);

/* Unless -e gave the database, takes it from argv[*optind] and advances
 * *optind. Returns CLI_OK, or CLI_USAGE after reporting a missing DBPATH. */
int cli_take_dbpath(const cli_cmd *cmd, cli_common *co, int argc, char **argv, int *optind);

/* The name :main: stands for the main database in -d and NAME=FILE
 * operands (py-lmdb's spelling). */
#define CLI_MAIN_NAME ":main:"
int cli_is_main(const char *name);

/* Opens the sub-database `name` of db (NULL or ":main:": *sdb = NULL, the
 * main database), creating it when create is set. Reports a missing one
 * as "no sub-database 'NAME'". Returns CLI_OK or CLI_FAIL. */
int cli_open_subdb(const cli_cmd *cmd, strata_db *db, const char *name, int create,
                   strata_subdb **sdb);

/* "strata <cmd>: <message>\n" on stderr. */
void cli_err(const cli_cmd *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Reports a usage mistake plus a pointer to --help; returns CLI_USAGE. */
int cli_usage_error(const cli_cmd *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Prints the command's manual on stdout; returns CLI_OK. */
int cli_help(const cli_cmd *cmd);

/* Turns getopt_long's '?' or ':' result into a message naming the option;
 * returns CLI_USAGE. Commands use an optstring starting with ':' and set
 * opterr = 0 so that all messages come from here. */
int cli_bad_option(const cli_cmd *cmd, int c, char **argv);

/* Checks the number of operands left after the options (argv[optind..]). */
int cli_operands(const cli_cmd *cmd, int argc, int optind, int min, int max, const char *names);

/* Opens the database at path. Without CLI_OPEN_CREATE, a missing path or a
 * directory that holds no database is reported as such instead of being
 * created. CLI_OPEN_READ_ONLY opens it read-only (no LOCK, no file written:
 * strata_options.read_only); CLI_OPEN_SHARED opens it read-write, but
 * read-only when another process holds its LOCK (for commands that only
 * read). Returns CLI_OK with *db set, or CLI_FAIL after printing why. */
enum { CLI_OPEN_CREATE = 1, CLI_OPEN_READ_ONLY = 2, CLI_OPEN_SHARED = 4 };
int cli_open(const cli_cmd *cmd, const char *path, int flags, strata_db **db);
/* As cli_open; *read_only (if not NULL) tells whether the handle is
 * read-only (asked for, or the CLI_OPEN_SHARED fallback). */
int cli_open_ex(const cli_cmd *cmd, const char *path, int flags, strata_db **db, int *read_only);

/* cli_open of co->dbpath, read-only when co->read_only is set. */
int cli_open_common(const cli_cmd *cmd, const cli_common *co, int flags, strata_db **db);

/* 1 if path exists (as anything), else 0. */
int cli_exists(const char *path);

/* Removes a directory tree that this command created (a half-written
 * destination). Returns 0 or -1 with errno set. */
int cli_remove_tree(const char *path);

/* Parses a non-negative decimal count (for --limit, --batch). */
int cli_parse_count(const char *s, unsigned long long *out);

/* Turns a command-line key or value into bytes: as given, or hex-decoded
 * when hex is set. On a bad hex string reports it and returns CLI_USAGE. */
int cli_arg_bytes(const cli_cmd *cmd, const char *what, const char *arg, int hex, sbuf *out);

/* Output through a buffer flushed in large writes; cli_out_finish reports a
 * failed write (full disk, closed pipe) and closes a file it opened. */
typedef struct cli_out {
  FILE *f;
  const char *name; /* for messages */
  int own;          /* f was opened by cli_out_open */
  sbuf buf;
} cli_out;

int cli_out_open(const cli_cmd *cmd, cli_out *o, const char *path); /* NULL or "-" = stdout */
/* Writes out what is buffered once it passes a threshold (force: always).
 * Returns 0, or -1 after a write error (reported at finish). */
int cli_out_flush(cli_out *o, int force);
/* Flushes and closes; returns CLI_OK or CLI_FAIL after reporting the error. */
int cli_out_finish(const cli_cmd *cmd, cli_out *o);

/* Prints "strata <cmd>: <what>: <strata_errmsg()>" for a failed call. */
void cli_db_err(const cli_cmd *cmd, const char *what, int rc);

#endif /* STRATA_TOOLS_CLI_H */
