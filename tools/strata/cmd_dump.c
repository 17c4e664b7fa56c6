/*
 * cmd_dump.c - strata dump and strata load: the whole database to text and
 * back, in the Berkeley DB / LMDB dump format (so mdb_dump and mdb_load
 * interoperate) or as JSON lines.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <errno.h>
#include <getopt.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"

enum { OPT_JSONL = 0x100, OPT_BATCH, OPT_ATOMIC, OPT_SYNC };

/* ------------------------------------------------------------------------ */
/* dump                                                                     */
/* ------------------------------------------------------------------------ */

static int run_dump(const cli_cmd *cmd, int argc, char **argv) {
  static const struct option longopts[] = {{"print", no_argument, NULL, 'p'},
                                           {"file", required_argument, NULL, 'f'},
                                           {"jsonl", no_argument, NULL, OPT_JSONL},
                                           {"help", no_argument, NULL, 'h'},
                                           {NULL, 0, NULL, 0}};
  int print = 0, jsonl = 0, c;
  const char *file = NULL;
  opterr = 0;
  while ((c = getopt_long(argc, argv, ":pf:h", longopts, NULL)) != -1) {
    switch (c) {
    case 'p': print = 1; break;
    case 'f': file = optarg; break;
    case OPT_JSONL: jsonl = 1; break;
    case 'h': return cli_help(cmd);
    default: return cli_bad_option(cmd, c, argv);
    }
  }
  int rc = cli_operands(cmd, argc, optind, 1, 1, "DBPATH");
  if (rc) return rc;
  if (print && jsonl) return cli_usage_error(cmd, "-p and --jsonl exclude each other");

  strata_db *db;
  strata_iter *it = NULL;
  if ((rc = cli_open(cmd, argv[optind], 0, &db))) return rc;
  int s = strata_iter_create(db, NULL, &it);
  if (s != STRATA_OK) {
    cli_db_err(cmd, "cannot create iterator", s);
    strata_close(db);
    return CLI_FAIL;
  }
  /* The output file is created only once the database opened, so a typo in
   * DBPATH does not leave an empty dump behind. */
  cli_out out;
  if ((rc = cli_out_open(cmd, &out, file))) {
    strata_iter_destroy(it);
    strata_close(db);
    return rc;
  }

  int bad = jsonl ? 0 : fmt_dump_header(&out.buf, print);
  for (strata_iter_seek_to_first(it); !bad && strata_iter_valid(it); strata_iter_next(it)) {
    size_t klen, vlen;
    const char *k = strata_iter_key(it, &klen);
    const char *v = strata_iter_value(it, &vlen);
    if (jsonl) {
      bad = fmt_jsonl_pair(&out.buf, k, klen, v, vlen);
    } else {
      /* Each line starts with one space: the format's mark of a data line. */
      bad = sbuf_putc(&out.buf, ' ') ||
            (print ? fmt_print(&out.buf, k, klen) : fmt_hex(&out.buf, k, klen)) ||
            sbuf_append(&out.buf, "\n ", 2) ||
            (print ? fmt_print(&out.buf, v, vlen) : fmt_hex(&out.buf, v, vlen)) ||
            sbuf_putc(&out.buf, '\n');
    }
    if (!bad && cli_out_flush(&out, 0)) break; /* reported by cli_out_finish */
  }
  s = strata_iter_status(it);
  if (bad) {
    cli_err(cmd, "out of memory");
    rc = CLI_FAIL;
  } else if (s != STRATA_OK) {
    /* No DATA=END is written, so a load of this output fails instead of
     * silently taking a partial dump for a whole one. */
    cli_db_err(cmd, "dump stopped", s);
    rc = CLI_FAIL;
  } else if (!jsonl && sbuf_append(&out.buf, "DATA=END\n", 9)) {
    cli_err(cmd, "out of memory");
    rc = CLI_FAIL;
  }
  int o = cli_out_finish(cmd, &out);
  if (!rc) rc = o;
  strata_iter_destroy(it);
  strata_close(db);
  return rc;
}

const cli_cmd cli_cmd_dump = {
    "dump", "write every key and value as text (db_dump/mdb_dump format or JSON lines)",
    "usage: strata dump [-p] [--jsonl] [-f FILE] DBPATH\n"
    "\n"
    "Writes every key and value, in key order, to standard output or FILE, in\n"
    "the text format of Berkeley DB's db_dump and LMDB's mdb_dump, which\n"
    "'strata load' and 'mdb_load' read back:\n"
    "\n"
    "    VERSION=3\n"
    "    format=bytevalue          (format=print with -p)\n"
    "    type=btree\n"
    "    HEADER=END\n"
    "     <key>                    one line per key, then one per value,\n"
    "     <value>                  each beginning with a single space\n"
    "    ...\n"
    "    DATA=END\n"
    "\n"
    "bytevalue writes each byte as two lowercase hex digits. print (-p) writes\n"
    "printable ASCII as itself, a backslash as \\\\ and any other byte as a\n"
    "backslash and two lowercase hex digits (\\0a). The data lines are\n"
    "byte-for-byte what mdb_dump prints for the same pairs, with one exception:\n"
    "mdb_dump -p leaves a backslash unescaped (which mdb_load then misreads);\n"
    "strata writes \\\\ as db_dump does. mdb_dump's extra header lines\n"
    "(mapsize=, maxreaders=, db_pagesize=) describe an LMDB file and are not\n"
    "written.\n"
    "\n"
    "  -p, --print      format=print instead of format=bytevalue.\n"
    "  --jsonl          JSON lines instead: one object per pair and line,\n"
    "                       {\"key\":\"...\",\"value\":\"...\"}\n"
    "                   A key or value that is not valid UTF-8 is written as\n"
    "                   \"key_b64\" or \"value_b64\" holding its base64 (RFC 4648,\n"
    "                   padded) instead. No header and no end line.\n"
    "  -f, --file FILE  write to FILE (created or truncated) instead of\n"
    "                   standard output.\n"
    "  -h, --help       print this help.\n"
    "\n"
    "The dump reads one consistent snapshot. If reading fails part way, the\n"
    "error is reported, the exit status is 1 and DATA=END is not written, so\n"
    "loading the truncated output fails rather than passing for complete.\n",
    run_dump};

/* ------------------------------------------------------------------------ */
/* load                                                                     */
/* ------------------------------------------------------------------------ */

typedef struct load_state {
  const cli_cmd *cmd;
  const char *dbpath;
  strata_db *db;
  strata_batch *batch;
  strata_write_options wo;
  unsigned long long applied; /* pairs written by earlier batches */
  unsigned long long batches;
} load_state;

/* Writes the pending batch, opening (and if need be creating) the database
 * on first use: the database is not touched until a whole batch parsed. */
static int load_flush(load_state *ls) {
  if (!ls->db && cli_open(ls->cmd, ls->dbpath, 1, &ls->db)) return CLI_FAIL;
  uint32_t n = strata_batch_count(ls->batch);
  if (n == 0) return CLI_OK;
  int s = strata_write(ls->db, &ls->wo, ls->batch);
  if (s != STRATA_OK) {
    cli_db_err(ls->cmd, "write failed", s);
    return CLI_FAIL;
  }
  ls->applied += n;
  ls->batches++;
  strata_batch_clear(ls->batch);
  return CLI_OK;
}

static int run_load(const cli_cmd *cmd, int argc, char **argv) {
  static const struct option longopts[] = {{"file", required_argument, NULL, 'f'},
                                           {"plain", no_argument, NULL, 'T'},
                                           {"jsonl", no_argument, NULL, OPT_JSONL},
                                           {"batch", required_argument, NULL, OPT_BATCH},
                                           {"atomic", no_argument, NULL, OPT_ATOMIC},
                                           {"sync", no_argument, NULL, OPT_SYNC},
                                           {"verbose", no_argument, NULL, 'v'},
                                           {"help", no_argument, NULL, 'h'},
                                           {NULL, 0, NULL, 0}};
  const char *file = NULL;
  dump_mode mode = DUMP_DETECT;
  unsigned long long batch_size = 1000;
  int atomic = 0, sync = 0, verbose = 0, c;
  opterr = 0;
  while ((c = getopt_long(argc, argv, ":f:Tvh", longopts, NULL)) != -1) {
    switch (c) {
    case 'f': file = optarg; break;
    case 'T':
    case OPT_JSONL:
      if (mode != DUMP_DETECT) return cli_usage_error(cmd, "-T and --jsonl exclude each other");
      mode = c == 'T' ? DUMP_PLAIN : DUMP_JSONL;
      break;
    case OPT_BATCH:
      if (cli_parse_count(optarg, &batch_size) || batch_size == 0 || batch_size > UINT32_MAX)
        return cli_usage_error(cmd, "--batch wants a count of pairs (1 or more), not '%s'", optarg);
      break;
    case OPT_ATOMIC: atomic = 1; break;
    case OPT_SYNC: sync = 1; break;
    case 'v': verbose = 1; break;
    case 'h': return cli_help(cmd);
    default: return cli_bad_option(cmd, c, argv);
    }
  }
  int rc = cli_operands(cmd, argc, optind, 1, 1, "DBPATH");
  if (rc) return rc;

  load_state ls = {cmd, argv[optind], NULL, NULL, {0}, 0, 0};
  strata_write_options_init(&ls.wo);
  ls.wo.sync = sync;
  struct stat st;
  if (stat(ls.dbpath, &st) == 0 && !S_ISDIR(st.st_mode)) {
    cli_err(cmd, "%s: not a database (a Strata database is a directory, this is a file)",
            ls.dbpath);
    return CLI_FAIL;
  }

  FILE *in = stdin;
  const char *name = "<stdin>";
  if (file && strcmp(file, "-")) {
    in = fopen(file, "r");
    if (!in) {
      cli_err(cmd, "%s: %s", file, strerror(errno));
      return CLI_FAIL;
    }
    name = file;
  }
  int s = strata_batch_create(&ls.batch);
  if (s != STRATA_OK) {
    cli_db_err(cmd, "cannot create a write batch", s);
    if (in != stdin) fclose(in);
    return CLI_FAIL;
  }

  dump_reader r;
  dump_reader_init(&r, in, mode);
  sbuf key = SBUF_INIT, val = SBUF_INIT;
  unsigned long long pairs = 0;
  int got;
  while ((got = dump_reader_next(&r, &key, &val)) == 1) {
    s = strata_batch_put(ls.batch, key.data, key.len, val.data, val.len);
    if (s != STRATA_OK) {
      cli_db_err(cmd, "cannot queue a pair", s);
      rc = CLI_FAIL;
      break;
    }
    pairs++;
    if (!atomic && strata_batch_count(ls.batch) >= batch_size && (rc = load_flush(&ls))) break;
  }
  if (got < 0) {
    if (r.io_error)
      cli_err(cmd, "%s: read error: %s", name, strerror(r.io_error));
    else
      cli_err(cmd, "%s:%lu: %s", name, r.err_line, r.err);
    cli_err(cmd,
            "nothing from the batch holding that line was written; %llu pairs from %llu "
            "earlier batches were",
            ls.applied, ls.batches);
    rc = CLI_FAIL;
  } else if (!rc) {
    rc = load_flush(&ls);
  }
  if (!rc && verbose)
    cli_err(cmd, "loaded %llu pairs in %llu batches from %s", pairs, ls.batches, name);

  dump_reader_free(&r);
  sbuf_free(&key);
  sbuf_free(&val);
  strata_batch_destroy(ls.batch);
  strata_close(ls.db);
  if (in != stdin) fclose(in);
  return rc;
}

const cli_cmd cli_cmd_load = {
    "load", "read pairs from a dump, plain text or JSON lines (creates the database)",
    "usage: strata load [-f FILE] [-T | --jsonl] [--batch N | --atomic] [--sync] [-v]\n"
    "                   DBPATH\n"
    "\n"
    "Reads key/value pairs from standard input or FILE and stores them in the\n"
    "database at DBPATH, creating it if it does not exist. Existing keys are\n"
    "overwritten; other keys already in the database stay.\n"
    "\n"
    "Input formats:\n"
    "  dump        what 'strata dump' and mdb_dump/db_dump write (see 'strata\n"
    "              dump --help'). format=print or format=bytevalue is taken from\n"
    "              the header; hex digits may be in either case; in print format\n"
    "              bytes other than '\\' may also appear unescaped. Header lines\n"
    "              describing the source store (database=, mapsize=, ...) are\n"
    "              ignored; duplicates=1 is refused (one value per key here).\n"
    "              The input must hold one database and end with DATA=END (a\n"
    "              dump without it is reported as truncated). mdb_dump -p does\n"
    "              not escape '\\', so its output for data holding a backslash\n"
    "              cannot be read back reliably (by mdb_load either); dump\n"
    "              such data from LMDB without -p.\n"
    "  -T, --plain as mdb_load -T: no header, a key line then a value line,\n"
    "              with print-format escapes (\\\\ and \\ + two hex digits).\n"
    "  --jsonl     one JSON object per line (blank lines skipped):\n"
    "                  {\"key\":\"text\",\"value\":\"text\"}\n"
    "              Strings are stored as their UTF-8 bytes. For arbitrary bytes\n"
    "              use \"key_b64\"/\"value_b64\" (base64) or \"key_hex\"/\n"
    "              \"value_hex\" in place of \"key\"/\"value\". Any other member\n"
    "              is an error.\n"
    "Without -T or --jsonl the format is detected: JSON lines if the first line\n"
    "starts with '{', else a dump.\n"
    "\n"
    "Options:\n"
    "  -f, --file FILE  read FILE instead of standard input ('-' = stdin).\n"
    "  --batch N        write N pairs per atomic write batch (default 1000).\n"
    "  --atomic         parse the whole input first and write it as a single\n"
    "                   batch: all of it or nothing is loaded. Holds the whole\n"
    "                   input in memory.\n"
    "  --sync           sync each batch to stable storage before the next.\n"
    "  -v, --verbose    report the number of pairs and batches written.\n"
    "  -h, --help       print this help.\n"
    "\n"
    "Errors: a malformed line (bad hex digit, odd number of hex digits, a key\n"
    "without its value line, a bad header, bad JSON, ...) stops the load with\n"
    "    strata load: FILE:LINE: what is wrong\n"
    "and exit status 1. Each batch is parsed completely before it is written,\n"
    "so nothing from the batch holding the bad line is applied; earlier\n"
    "batches have been applied (the message says how many pairs), unless\n"
    "--atomic was given. The database is opened, and created, only when the\n"
    "first batch is complete, so input that is bad from the start creates\n"
    "nothing.\n",
    run_load};
