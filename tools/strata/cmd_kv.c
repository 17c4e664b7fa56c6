/*
 * cmd_kv.c - strata get, put and delete: single-key operations.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

enum { OPT_SYNC = 0x100 };

/* ------------------------------------------------------------------------ */
/* get                                                                      */
/* ------------------------------------------------------------------------ */

static int not_found(const cli_cmd *cmd, const char *k, size_t klen) {
  sbuf shown = SBUF_INIT;
  if (fmt_scan(&shown, k, klen) || sbuf_terminate(&shown))
    cli_err(cmd, "not found");
  else
    cli_err(cmd, "not found: %s", shown.data);
  sbuf_free(&shown);
  return CLI_FAIL;
}

/* Looks up one key and appends "key<TAB>value\n" (scan's escapes, or hex)
 * to out. Returns CLI_OK, CLI_FAIL for a missing key (reported) or an
 * error (reported; *fatal set). */
static int get_one(const cli_cmd *cmd, strata_db *db, strata_subdb *sdb, const sbuf *key, int hex,
                   cli_out *out, strata_buf *val, int *fatal) {
  int rc = strata_get_in(db, sdb, NULL, key->data, key->len, val);
  if (rc == STRATA_ENOTFOUND) {
    cli_out_flush(out, 1); /* keep stdout and stderr in order on a tty */
    return not_found(cmd, key->data, key->len);
  }
  if (rc != STRATA_OK) {
    cli_db_err(cmd, "get", rc);
    *fatal = 1;
    return CLI_FAIL;
  }
  int bad =
      hex ? fmt_hex(&out->buf, key->data, key->len) : fmt_scan(&out->buf, key->data, key->len);
  bad |= sbuf_putc(&out->buf, '\t');
  bad |= hex ? fmt_hex(&out->buf, val->data, val->size) : fmt_scan(&out->buf, val->data, val->size);
  bad |= sbuf_putc(&out->buf, '\n');
  if (bad) {
    cli_err(cmd, "out of memory");
    *fatal = 1;
    return CLI_FAIL;
  }
  if (cli_out_flush(out, 0)) *fatal = 1; /* reported by cli_out_finish */
  return CLI_OK;
}

/* Looks up every key listed in `path`, one per line; prints found pairs as
 * scan does. Returns CLI_FAIL if any key was missing or anything failed. */
static int get_many(const cli_cmd *cmd, strata_db *db, strata_subdb *sdb, const char *path,
                    int hex) {
  FILE *in = stdin;
  const char *name = "standard input";
  if (strcmp(path, "-")) {
    in = fopen(path, "r");
    if (!in) {
      cli_err(cmd, "%s: %s", path, strerror(errno));
      return CLI_FAIL;
    }
    name = path;
  }
  cli_out out;
  cli_out_open(cmd, &out, NULL);
  strata_buf val = STRATA_BUF_INIT;
  sbuf key = SBUF_INIT;
  char *line = NULL;
  size_t cap = 0;
  ssize_t n;
  unsigned long lineno = 0;
  int status = CLI_OK, fatal = 0;
  while (!fatal && (n = getline(&line, &cap, in)) >= 0) {
    lineno++;
    if (n > 0 && line[n - 1] == '\n') n--;
    key.len = 0;
    const char *e = hex ? parse_hex(&key, line, (size_t)n) : parse_scan(&key, line, (size_t)n);
    if (e) {
      cli_err(cmd, "%s:%lu: %s", name, lineno, e);
      status = CLI_FAIL;
      break;
    }
    if (get_one(cmd, db, sdb, &key, hex, &out, &val, &fatal)) status = CLI_FAIL;
  }
  if (ferror(in)) {
    cli_err(cmd, "%s: read error: %s", name, strerror(errno));
    status = CLI_FAIL;
  }
  if (in != stdin) fclose(in);
  free(line);
  sbuf_free(&key);
  strata_buf_free(&val);
  int ostatus = cli_out_finish(cmd, &out);
  return status != CLI_OK ? status : ostatus;
}

/* Several keys given as operands: "key<TAB>value" lines, as get -f. */
static int get_keys(const cli_cmd *cmd, strata_db *db, strata_subdb *sdb, char **keys, int nkeys,
                    int hex) {
  cli_out out;
  cli_out_open(cmd, &out, NULL);
  strata_buf val = STRATA_BUF_INIT;
  sbuf key = SBUF_INIT;
  int status = CLI_OK, fatal = 0;
  for (int i = 0; i < nkeys && !fatal; i++) {
    int rc = cli_arg_bytes(cmd, "KEY", keys[i], hex, &key);
    if (rc) {
      status = rc;
      break;
    }
    if (get_one(cmd, db, sdb, &key, hex, &out, &val, &fatal)) status = CLI_FAIL;
  }
  sbuf_free(&key);
  strata_buf_free(&val);
  int ostatus = cli_out_finish(cmd, &out);
  return status != CLI_OK ? status : ostatus;
}

static int run_get(const cli_cmd *cmd, int argc, char **argv) {
  static const struct option longopts[] = {{"hex", no_argument, NULL, 'x'},
                                           {"keys-from", required_argument, NULL, 'f'},
                                           CLI_LONGOPT_ENV,
                                           CLI_LONGOPT_DB,
                                           CLI_LONGOPT_READ_ONLY,
                                           {"help", no_argument, NULL, 'h'},
                                           {NULL, 0, NULL, 0}};
  int hex = 0, c;
  const char *keys_from = NULL;
  cli_common co;
  cli_common_init(&co);
  opterr = 0;
  while ((c = getopt_long(argc, argv, ":xf:e:d:rh", longopts, NULL)) != -1) {
    if (cli_common_opt(&co, c, optarg)) continue;
    switch (c) {
    case 'x': hex = 1; break;
    case 'f': keys_from = optarg; break;
    case 'h': return cli_help(cmd);
    default: return cli_bad_option(cmd, c, argv);
    }
  }
  int rc = cli_take_dbpath(cmd, &co, argc, argv, &optind);
  if (rc) return rc;
  rc = keys_from ? cli_operands(cmd, argc, optind, 0, 0, "DBPATH (keys come from -f)")
                 : cli_operands(cmd, argc, optind, 1, INT32_MAX, "DBPATH KEY...");
  if (rc) return rc;
  char **keys = argv + optind;
  int nkeys = argc - optind;

  sbuf key = SBUF_INIT;
  strata_db *db;
  strata_subdb *sdb = NULL;
  if ((nkeys == 1 && (rc = cli_arg_bytes(cmd, "KEY", keys[0], hex, &key))) ||
      (rc = cli_open_common(cmd, &co, CLI_OPEN_SHARED, &db))) {
    sbuf_free(&key);
    return rc;
  }
  if ((rc = cli_open_subdb(cmd, db, co.subdb, 0, &sdb))) {
    /* reported */
  } else if (keys_from) {
    rc = get_many(cmd, db, sdb, keys_from, hex);
  } else if (nkeys > 1) {
    rc = get_keys(cmd, db, sdb, keys, nkeys, hex);
  } else {
    strata_buf val = STRATA_BUF_INIT;
    int s = strata_get_in(db, sdb, NULL, key.data, key.len, &val);
    if (s == STRATA_ENOTFOUND) {
      rc = not_found(cmd, key.data, key.len);
    } else if (s != STRATA_OK) {
      cli_db_err(cmd, "get", s);
      rc = CLI_FAIL;
    } else {
      cli_out out;
      cli_out_open(cmd, &out, NULL);
      int bad =
          hex ? fmt_hex(&out.buf, val.data, val.size) : sbuf_append(&out.buf, val.data, val.size);
      if (bad || sbuf_putc(&out.buf, '\n')) cli_err(cmd, "out of memory");
      rc = cli_out_finish(cmd, &out);
      if (bad) rc = CLI_FAIL;
    }
    strata_buf_free(&val);
  }
  strata_close(db);
  sbuf_free(&key);
  return rc;
}

const cli_cmd cli_cmd_get = {
    "get", "print the values stored under one or more keys",
    "usage: strata get [-x] [-d NAME] [-r] DBPATH KEY...\n"
    "       strata get [-x] [-d NAME] [-r] -f FILE DBPATH\n"
    "\n"
    "With one KEY, prints the value stored under it, as raw bytes, followed by\n"
    "a newline. With several, prints \"key<TAB>value\" for each key found, in\n"
    "the order given, escaped as scan prints them (so one entry is one line).\n"
    "A missing key prints \"strata get: not found: KEY\" on standard error; the\n"
    "other keys are still printed and the exit status is then 1.\n"
    "\n"
    "  -x, --hex             KEYs are given in hex and values are printed in\n"
    "                        hex (lowercase), so any bytes can be passed.\n"
    "  -f, --keys-from FILE  look up every key listed in FILE ('-' = standard\n"
    "                        input), one per line, each written as scan prints\n"
    "                        keys (\\\\ and \\xNN escapes; hex with -x), so\n"
    "                        'strata scan --keys-only' output can be fed back.\n"
    "                        Prints \"key<TAB>value\" as for several KEYs.\n"
    "  -d, --db NAME         read sub-database NAME (:main: = main database).\n"
    "  -e, --env DBPATH      the database (instead of the DBPATH operand).\n"
    "  -r, --read-only       open read-only, beside a writer in another process\n"
    "                        (done anyway when another process holds the lock).\n"
    "  -h, --help            print this help.\n",
    run_get};

/* ------------------------------------------------------------------------ */
/* put and delete                                                           */
/* ------------------------------------------------------------------------ */

/* put and delete differ only in their operands and the call they make. */
static int run_write(const cli_cmd *cmd, int argc, char **argv, int is_put) {
  static const struct option longopts[] = {{"hex", no_argument, NULL, 'x'},
                                           {"sync", no_argument, NULL, OPT_SYNC},
                                           CLI_LONGOPT_ENV,
                                           CLI_LONGOPT_DB,
                                           {"help", no_argument, NULL, 'h'},
                                           {NULL, 0, NULL, 0}};
  int hex = 0, sync = 0, c;
  cli_common co;
  cli_common_init(&co);
  opterr = 0;
  while ((c = getopt_long(argc, argv, ":xe:d:h", longopts, NULL)) != -1) {
    if (cli_common_opt(&co, c, optarg)) continue;
    switch (c) {
    case 'x': hex = 1; break;
    case OPT_SYNC: sync = 1; break;
    case 'h': return cli_help(cmd);
    default: return cli_bad_option(cmd, c, argv);
    }
  }
  int n = is_put ? 2 : 1;
  int rc = cli_take_dbpath(cmd, &co, argc, argv, &optind);
  if (rc ||
      (rc = cli_operands(cmd, argc, optind, n, n, is_put ? "DBPATH KEY VALUE" : "DBPATH KEY")))
    return rc;

  sbuf key = SBUF_INIT, val = SBUF_INIT;
  strata_db *db = NULL;
  strata_subdb *sdb = NULL;
  /* put creates the database, and a sub-database named with -d. */
  if ((rc = cli_arg_bytes(cmd, "KEY", argv[optind], hex, &key)) ||
      (is_put && (rc = cli_arg_bytes(cmd, "VALUE", argv[optind + 1], hex, &val))) ||
      (rc = cli_open_common(cmd, &co, is_put ? CLI_OPEN_CREATE : 0, &db)) ||
      (rc = cli_open_subdb(cmd, db, co.subdb, is_put, &sdb)))
    goto out;

  strata_write_options wo;
  strata_write_options_init(&wo);
  wo.sync = sync;
  int s = is_put ? strata_put_in(db, sdb, &wo, key.data, key.len, val.data, val.len)
                 : strata_delete_in(db, sdb, &wo, key.data, key.len);
  if (s != STRATA_OK) {
    cli_db_err(cmd, is_put ? "put" : "delete", s);
    rc = CLI_FAIL;
  }
out:
  strata_close(db);
  sbuf_free(&key);
  sbuf_free(&val);
  return rc;
}

static int run_put(const cli_cmd *cmd, int argc, char **argv) {
  return run_write(cmd, argc, argv, 1);
}

static int run_delete(const cli_cmd *cmd, int argc, char **argv) {
  return run_write(cmd, argc, argv, 0);
}

const cli_cmd cli_cmd_put = {
    "put", "store a value under a key (creates the database)",
    "usage: strata put [-x] [--sync] [-d NAME] DBPATH KEY VALUE\n"
    "\n"
    "Stores VALUE under KEY, replacing any earlier value. Creates the database\n"
    "directory DBPATH if it does not exist, and the sub-database NAME (-d).\n"
    "\n"
    "  -x, --hex    KEY and VALUE are given in hex (any bytes, including NUL).\n"
    "  -d, --db NAME      write to sub-database NAME (:main: = main database).\n"
    "  -e, --env DBPATH   the database (instead of the DBPATH operand).\n"
    "  --sync       return only once the write is on stable storage (fdatasync);\n"
    "               without it a machine crash may lose the write, a process\n"
    "               crash cannot.\n"
    "  -h, --help   print this help.\n",
    run_put};

const cli_cmd cli_cmd_delete = {
    "delete", "remove a key",
    "usage: strata delete [-x] [--sync] [-d NAME] DBPATH KEY\n"
    "\n"
    "Removes KEY. Removing a key that is not there is not an error; a\n"
    "sub-database that is not there is.\n"
    "\n"
    "  -x, --hex    KEY is given in hex.\n"
    "  -d, --db NAME      delete from sub-database NAME.\n"
    "  -e, --env DBPATH   the database (instead of the DBPATH operand).\n"
    "  --sync       return only once the deletion is on stable storage.\n"
    "  -h, --help   print this help.\n",
    run_delete};
