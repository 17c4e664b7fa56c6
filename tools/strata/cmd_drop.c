/*
 * cmd_drop.c - strata drop: delete named sub-databases.
 */
#include <getopt.h>
#include <string.h>

#include "cli.h"

static int run_drop(const cli_cmd *cmd, int argc, char **argv) {
  static const struct option longopts[] = {
      CLI_LONGOPT_ENV, {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
  int c;
  cli_common co;
  cli_common_init(&co);
  opterr = 0;
  while ((c = getopt_long(argc, argv, ":e:h", longopts, NULL)) != -1) {
    if (cli_common_opt(&co, c, optarg)) continue;
    switch (c) {
    case 'h': return cli_help(cmd);
    default: return cli_bad_option(cmd, c, argv);
    }
  }
  int rc = cli_take_dbpath(cmd, &co, argc, argv, &optind);
  if (rc || (rc = cli_operands(cmd, argc, optind, 1, 1 << 30, "DBPATH NAME..."))) return rc;
  for (int i = optind; i < argc; i++) {
    if (cli_is_main(argv[i]))
      return cli_usage_error(cmd, "the main database (:main:) cannot be dropped");
    if (!*argv[i]) return cli_usage_error(cmd, "a sub-database name cannot be empty");
  }
  strata_db *db;
  if ((rc = cli_open_common(cmd, &co, 0, &db))) return rc;
  /* Every name must exist before any is dropped, so a typo drops nothing. */
  for (int i = optind; i < argc && !rc; i++) {
    strata_subdb *sdb;
    rc = cli_open_subdb(cmd, db, argv[i], 0, &sdb);
  }
  for (int i = optind; i < argc && !rc; i++) {
    int dup = 0;
    for (int j = optind; j < i; j++)
      dup |= !strcmp(argv[j], argv[i]);
    if (dup) continue;
    int s = strata_subdb_drop(db, NULL, argv[i]);
    if (s != STRATA_OK) {
      cli_db_err(cmd, argv[i], s);
      rc = CLI_FAIL;
    }
  }
  strata_close(db);
  return rc;
}

const cli_cmd cli_cmd_drop = {
    "drop", "delete named sub-databases",
    "usage: strata drop DBPATH NAME...\n"
    "\n"
    "Deletes the sub-databases NAME... with everything in them. Each drop is\n"
    "one durable write that takes the same short time whatever the size of\n"
    "the sub-database; its records are removed later by compaction. Every\n"
    "NAME must exist, or nothing is dropped; the main database (:main:)\n"
    "cannot be dropped. 'strata stat' lists the sub-databases.\n"
    "\n"
    "  -e, --env DBPATH   the database (instead of the DBPATH operand).\n"
    "  -h, --help         print this help.\n"
    "\n"
    "Exit status: 0 all dropped; 1 a NAME does not exist (nothing dropped) or\n"
    "a drop failed; 2 bad usage (no NAME, :main:).\n",
    run_drop};
