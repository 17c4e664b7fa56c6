/*
 * cmd_compact.c - strata compact: rewrite a key range into the lower levels.
 *
 * Useful after a bulk load: a database left with many level-0 tables makes
 * every later open start a compaction, and a short-lived process (each
 * strata command) closes before that work can finish.
 */
#include <getopt.h>

#include "cli.h"

enum { OPT_START = 0x100, OPT_END };

static int run_compact(const cli_cmd *cmd, int argc, char **argv) {
  static const struct option longopts[] = {{"start", required_argument, NULL, OPT_START},
                                           {"end", required_argument, NULL, OPT_END},
                                           {"hex", no_argument, NULL, 'x'},
                                           CLI_LONGOPT_ENV,
                                           CLI_LONGOPT_QUIET,
                                           CLI_LONGOPT_PROGRESS,
                                           {"help", no_argument, NULL, 'h'},
                                           {NULL, 0, NULL, 0}};
  const char *start = NULL, *end = NULL;
  int hex = 0, c;
  cli_common co;
  cli_common_init(&co);
  opterr = 0;
  while ((c = getopt_long(argc, argv, ":xe:qh", longopts, NULL)) != -1) {
    if (cli_common_opt(&co, c, optarg)) continue;
    switch (c) {
    case OPT_START: start = optarg; break;
    case OPT_END: end = optarg; break;
    case 'x': hex = 1; break;
    case 'h': return cli_help(cmd);
    default: return cli_bad_option(cmd, c, argv);
    }
  }
  int rc = cli_take_dbpath(cmd, &co, argc, argv, &optind);
  if (rc || (rc = cli_operands(cmd, argc, optind, 0, 0, "DBPATH"))) return rc;
  sbuf lo = SBUF_INIT, hi = SBUF_INIT;
  strata_db *db = NULL;
  if ((start && (rc = cli_arg_bytes(cmd, "--start", start, hex, &lo))) ||
      (end && (rc = cli_arg_bytes(cmd, "--end", end, hex, &hi))) ||
      (rc = cli_open_common(cmd, &co, 0, &db)))
    goto out;
  cli_progress pg;
  cli_progress_begin(&pg, co.progress, "compact", CLI_UNIT_BYTES, 0);
  cli_progress_tick_start(&pg);
  int s = strata_compact_range(db, start ? lo.data : NULL, lo.len, end ? hi.data : NULL, hi.len);
  cli_progress_end(&pg);
  if (s != STRATA_OK) {
    cli_db_err(cmd, "compaction failed", s);
    rc = CLI_FAIL;
  }
out:
  strata_close(db);
  sbuf_free(&lo);
  sbuf_free(&hi);
  return rc;
}

const cli_cmd cli_cmd_compact = {
    "compact", "rewrite tables into the lower levels, dropping dead entries",
    "usage: strata compact [-x] [--start K] [--end K] [-q | --progress] DBPATH\n"
    "\n"
    "Flushes the memtable, then compacts the tables holding keys from --start\n"
    "to --end (both inclusive; all keys without them) down the levels, dropping\n"
    "deleted and overwritten entries. Waits until done. The contents do not\n"
    "change; later opens and reads get cheaper, notably after a large load.\n"
    "\n"
    "  --start K    first key of the range (inclusive).\n"
    "  --end K      last key of the range (inclusive).\n"
    "  -x, --hex    K is given in hex.\n"
    "  -e, --env DBPATH  the database (instead of the DBPATH operand).\n"
    "  -q, --quiet  no progress line.\n"
    "  --progress   the progress line (time elapsed) even when standard error\n"
    "               is not a terminal.\n"
    "  -h, --help   print this help.\n",
    run_compact};
