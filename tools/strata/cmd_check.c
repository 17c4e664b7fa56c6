/*
 * cmd_check.c - strata check: verify every checksum and format of a
 * database without changing it (strata_check).
 */
#include <getopt.h>

#include "cli.h"

static void print_problem(void *arg, const char *file, uint64_t offset, int code,
                          const char *what) {
  (void)arg;
  (void)code;
  printf("%s: offset %llu: %s\n", file, (unsigned long long)offset, what);
}

static int run_check(const cli_cmd *cmd, int argc, char **argv) {
  static const struct option longopts[] = {CLI_LONGOPT_ENV,
                                           CLI_LONGOPT_QUIET,
                                           CLI_LONGOPT_PROGRESS,
                                           {"help", no_argument, NULL, 'h'},
                                           {NULL, 0, NULL, 0}};
  int c;
  cli_common co;
  cli_common_init(&co);
  opterr = 0;
  while ((c = getopt_long(argc, argv, ":e:qh", longopts, NULL)) != -1) {
    if (cli_common_opt(&co, c, optarg)) continue;
    switch (c) {
    case 'h': return cli_help(cmd);
    default: return cli_bad_option(cmd, c, argv);
    }
  }
  int rc = cli_take_dbpath(cmd, &co, argc, argv, &optind);
  if (rc || (rc = cli_operands(cmd, argc, optind, 0, 0, "DBPATH"))) return rc;
  const char *path = co.dbpath;
  if (!*path) {
    cli_err(cmd, "DBPATH is empty");
    return CLI_FAIL;
  }
  uint64_t problems = 0;
  cli_progress pg;
  cli_progress_begin(&pg, co.progress, "check", CLI_UNIT_BYTES, 0);
  cli_progress_tick_start(&pg);
  int s = strata_check(path, NULL, print_problem, NULL, &problems);
  cli_progress_end(&pg);
  if (s != STRATA_OK && s != STRATA_ECORRUPTION) {
    fflush(stdout);
    cli_db_err(cmd, "check failed", s);
    return CLI_FAIL;
  }
  if (problems == 0)
    printf("%s: no problems found\n", path);
  else
    printf("%s: %llu problem%s found ('strata repair' recovers what can be read)\n", path,
           (unsigned long long)problems, problems == 1 ? "" : "s");
  if (fflush(stdout) != 0) return CLI_FAIL;
  return problems ? CLI_FAIL : CLI_OK;
}

const cli_cmd cli_cmd_check = {
    "check", "verify every checksum and format, changing nothing",
    "usage: strata check [-q | --progress] DBPATH\n"
    "\n"
    "Reads every file of the database and reports what is damaged, changing\n"
    "nothing: CURRENT and the MANIFEST it names (record checksums, version\n"
    "edits, tables named but missing or of the wrong size); every table (that\n"
    "it opens, the checksum and format of every block, key order); every\n"
    "write-ahead log (record checksums, write-batch format).\n"
    "\n"
    "Each problem is printed on standard output as\n"
    "\n"
    "  <file>: offset <n>: <message>\n"
    "\n"
    "where <n> is the byte offset in the file of the damaged block or record\n"
    "(0 for a problem with the file as a whole), followed by a summary line.\n"
    "The database must not be open in another process.\n"
    "\n"
    "Exit status: 0 when nothing is wrong; 1 when a problem was found or the\n"
    "check could not run (no database at DBPATH, database in use); 2 bad usage.\n"
    "\n"
    "  -e, --env DBPATH  the database (instead of the DBPATH operand).\n"
    "  -q, --quiet  no progress line.\n"
    "  --progress   the progress line (time elapsed) even when standard error\n"
    "               is not a terminal.\n"
    "  -h, --help   print this help.\n",
    run_check};
