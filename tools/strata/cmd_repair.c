/*
 * cmd_repair.c - strata repair: rebuild a damaged database from the tables
 * and logs left in its directory (strata_repair).
 */
#include <getopt.h>

#include "cli.h"

static int run_repair(const cli_cmd *cmd, int argc, char **argv) {
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
  strata_repair_report rep;
  cli_progress pg;
  cli_progress_begin(&pg, co.progress, "repair", CLI_UNIT_BYTES, 0);
  cli_progress_tick_start(&pg);
  int s = strata_repair(path, NULL, &rep);
  cli_progress_end(&pg);
  if (s != STRATA_OK) {
    cli_db_err(cmd, "repair failed", s);
    return CLI_FAIL;
  }
  printf("repaired %s\n"
         "tables kept:       %d\n"
         "tables lost:       %d%s\n"
         "logs converted:    %d\n"
         "entries recovered: %llu\n"
         "bytes dropped:     %llu\n",
         path, rep.tables_kept, rep.tables_lost, rep.tables_lost ? " (moved to lost/)" : "",
         rep.logs_converted, (unsigned long long)rep.entries_recovered,
         (unsigned long long)rep.bytes_dropped);
  return fflush(stdout) == 0 ? CLI_OK : CLI_FAIL;
}

const cli_cmd cli_cmd_repair = {
    "repair", "rebuild a damaged database from its tables and logs",
    "usage: strata repair [-q | --progress] DBPATH\n"
    "\n"
    "Recovers what can be read of a damaged database (LevelDB's RepairDB) and\n"
    "makes it open again. Every write-ahead log is turned into a table, dropping\n"
    "damaged records. Every table is read block by block: one with damaged blocks\n"
    "is rewritten with the entries it can still read; one that cannot be read at\n"
    "all is set aside. A new MANIFEST then names every table kept. Logs, old\n"
    "MANIFESTs and damaged originals are moved to DBPATH/lost/, not deleted.\n"
    "\n"
    "Prints the tables kept and lost, the logs converted, the entries in the\n"
    "repaired database and the bytes of damaged records and blocks dropped.\n"
    "Entries deleted or overwritten may reappear when the record that hid them\n"
    "was lost. The database must not be open in another process.\n"
    "\n"
    "Exit status: 0 when the database was repaired; 1 when the repair could not\n"
    "be done (no database at DBPATH, database in use, I/O error).\n"
    "\n"
    "  -e, --env DBPATH  the database (instead of the DBPATH operand).\n"
    "  -q, --quiet  no progress line.\n"
    "  --progress   the progress line (time elapsed) even when standard error\n"
    "               is not a terminal.\n"
    "  -h, --help   print this help.\n",
    run_repair};
