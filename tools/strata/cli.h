/*
 * cli.h - what the subcommands of the strata tool share: the command
 * table entry, error reporting, option-error handling, opening a database
 * and buffered output.
 */
#ifndef STRATA_TOOLS_CLI_H
#define STRATA_TOOLS_CLI_H

#include <stdio.h>

#include "dumpfmt.h"
#include "strata.h"

/* Exit statuses (documented in the main usage text). */
enum { CLI_OK = 0, CLI_FAIL = 1, CLI_USAGE = 2 };

typedef struct cli_cmd {
  const char *name;
  const char *summary; /* one line for the command list */
  const char *help;    /* the full manual of the command */
  /* argv[0] is the command name; the rest are its options and operands. */
  int (*run)(const struct cli_cmd *self, int argc, char **argv);
} cli_cmd;

extern const cli_cmd cli_cmd_get, cli_cmd_put, cli_cmd_delete, cli_cmd_scan, cli_cmd_dump,
    cli_cmd_load, cli_cmd_stat, cli_cmd_compact, cli_cmd_check, cli_cmd_repair;

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

/* Opens the database at path. Without create, a missing path or a directory
 * that holds no database is reported as such instead of being created.
 * Returns CLI_OK with *db set, or CLI_FAIL after printing why. */
int cli_open(const cli_cmd *cmd, const char *path, int create, strata_db **db);

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
