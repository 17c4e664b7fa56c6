/*
 * main.c - the strata command-line tool: finds the subcommand and hands it
 * the rest of the command line. Each subcommand lives in its own file
 * (cmd_*.c) with its manual.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"

/* In the order of 'strata --help'; each is defined in its cmd_*.c. */
static const cli_cmd *const commands[] = {
    /* keys */
    &cli_cmd_get, &cli_cmd_put, &cli_cmd_delete, &cli_cmd_edit, &cli_cmd_scan,
    /* dumps and copies */
    &cli_cmd_dump, &cli_cmd_load, &cli_cmd_restore, &cli_cmd_copy, &cli_cmd_copyfd,
    &cli_cmd_rewrite,
    /* sub-databases, statistics, processes */
    &cli_cmd_drop, &cli_cmd_stat, &cli_cmd_warm, &cli_cmd_watch, &cli_cmd_readers, &cli_cmd_shell,
    /* maintenance */
    &cli_cmd_compact, &cli_cmd_check, &cli_cmd_repair};
#define NCOMMANDS (sizeof commands / sizeof commands[0])

static void usage(FILE *f) {
  fputs("usage: strata <command> [options] DBPATH [args]\n"
        "\n"
        "Inspect and edit a Strata database (a directory in LevelDB 1.23's on-disk\n"
        "format), and move its contents in and out as text.\n"
        "\n"
        "Commands:\n",
        f);
  for (size_t i = 0; i < NCOMMANDS; i++)
    fprintf(f, "  %-8s %s\n", commands[i]->name, commands[i]->summary);
  fputs("\n"
        "'strata <command> --help' (or 'strata help <command>') gives a command's\n"
        "options and formats; 'strata help all' prints every manual; man strata\n"
        "has them all too.\n"
        "\n"
        "Options shared by the commands (py-lmdb's spellings where they exist):\n"
        "  -e, --env DBPATH   the database, instead of the DBPATH operand.\n"
        "  -d, --db NAME      a sub-database; :main: is the main database.\n"
        "  -r, --read-only    open read-only, beside a writer in another process.\n"
        "  -x, --hex          keys and values in hex.\n"
        "  -q, --quiet        no progress line; --progress forces one.\n"
        "Long commands (dump, load, restore, copy, copyfd, rewrite, compact,\n"
        "check, repair, warm) show a progress line on standard error when it is\n"
        "a terminal, and nothing otherwise.\n"
        "\n"
        "Keys and values are byte strings. On the command line they are used as\n"
        "given; a shell argument cannot hold a NUL byte, so get, put, delete and\n"
        "edit take -x to read them as hex. Options may come before or after\n"
        "DBPATH; put '--' before a KEY or VALUE that begins with '-'.\n"
        "\n"
        "Only put, edit, load and restore create a database. The other commands\n"
        "fail on a missing one, so a mistyped path never leaves an empty database\n"
        "behind.\n"
        "\n"
        "check reads every file of a database and reports damage without changing\n"
        "anything; repair then recovers what can be read (set-aside files go to\n"
        "DBPATH/lost/).\n"
        "\n"
        "A database is held open, and locked, only while a command runs. A\n"
        "command that only reads (get, scan, dump, stat, copy, rewrite) opens it\n"
        "read-only when another process holds the lock; one that writes fails\n"
        "then (\"lock ... already held\") rather than waiting.\n"
        "\n"
        "Exit status: 0 success; 1 failure (including a key get did not find, and\n"
        "damage found by check); 2 bad usage (unknown command or option, missing\n"
        "or extra operands); 130 interrupted (Ctrl-C, SIGTERM, SIGHUP: a\n"
        "half-written destination is removed or named as incomplete).\n",
        f);
}

static const cli_cmd *find(const char *name) {
  for (size_t i = 0; i < NCOMMANDS; i++)
    if (!strcmp(commands[i]->name, name)) return commands[i];
  return NULL;
}

static int help(int argc, char **argv) {
  if (argc < 3) {
    usage(stdout);
    return CLI_OK;
  }
  if (!strcmp(argv[2], "all")) {
    usage(stdout);
    for (size_t i = 0; i < NCOMMANDS; i++) {
      printf("\n");
      cli_help(commands[i]);
    }
    return CLI_OK;
  }
  const cli_cmd *c = find(argv[2]);
  if (!c) {
    fprintf(stderr, "strata help: unknown command '%s'\nTry 'strata --help'.\n", argv[2]);
    return CLI_USAGE;
  }
  return cli_help(c);
}

int main(int argc, char **argv) {
  if (argc < 2) {
    usage(stderr);
    return CLI_USAGE;
  }
  const char *name = argv[1];
  if (!strcmp(name, "--help") || !strcmp(name, "-h") || !strcmp(name, "help"))
    return help(argc, argv);
  if (!strcmp(name, "--version")) {
    printf("strata %d.%d (LevelDB 1.23 on-disk format)\n", STRATA_VERSION_MAJOR,
           STRATA_VERSION_MINOR);
    return CLI_OK;
  }
  const cli_cmd *c = find(name);
  if (!c) {
    fprintf(stderr, "strata: unknown command '%s'\nTry 'strata --help'.\n", name);
    return CLI_USAGE;
  }
  return c->run(c, argc - 1, argv + 1);
}
