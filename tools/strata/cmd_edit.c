/*
 * cmd_edit.c - strata edit: py-lmdb's edit, a list of sets, adds and
 * deletes applied as one atomic write (a write transaction).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

enum { OPT_SET = 0x100, OPT_SET_FILE, OPT_ADD, OPT_ADD_FILE, OPT_DELETE, OPT_SYNC };

typedef struct edit_op {
  int kind; /* OPT_SET ... OPT_DELETE */
  sbuf key, val;
} edit_op;

/* Reads a whole file into out. */
static int slurp(const cli_cmd *cmd, const char *path, sbuf *out) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    cli_err(cmd, "%s: %s", path, strerror(errno));
    return CLI_FAIL;
  }
  char buf[65536];
  size_t n;
  int rc = CLI_OK;
  while ((n = fread(buf, 1, sizeof buf, f)) > 0) {
    if (sbuf_append(out, buf, n)) {
      cli_err(cmd, "out of memory");
      rc = CLI_FAIL;
      break;
    }
  }
  if (!rc && ferror(f)) {
    cli_err(cmd, "%s: read error: %s", path, strerror(errno));
    rc = CLI_FAIL;
  }
  fclose(f);
  return rc;
}

static const char *opt_name(int kind) {
  switch (kind) {
  case OPT_SET: return "--set";
  case OPT_SET_FILE: return "--set-file";
  case OPT_ADD: return "--add";
  case OPT_ADD_FILE: return "--add-file";
  default: return "--delete";
  }
}

/* Parses one option's argument into op: KEY for --delete, else KEY=VALUE
 * or KEY=PATH (split at the first '='; with -x KEY and VALUE are hex). */
static int parse_op(const cli_cmd *cmd, edit_op *op, const char *arg, int hex) {
  const char *what = opt_name(op->kind);
  if (op->kind == OPT_DELETE) return cli_arg_bytes(cmd, "--delete KEY", arg, hex, &op->key);
  const char *eq = strchr(arg, '=');
  if (!eq)
    return cli_usage_error(
        cmd, "%s wants KEY=%s, not '%s'", what,
        (op->kind == OPT_SET_FILE || op->kind == OPT_ADD_FILE) ? "PATH" : "VALUE", arg);
  char *k = strndup(arg, (size_t)(eq - arg));
  if (!k) {
    cli_err(cmd, "out of memory");
    return CLI_FAIL;
  }
  int rc = cli_arg_bytes(cmd, "KEY", k, hex, &op->key);
  free(k);
  if (rc) return rc;
  if (op->kind == OPT_SET_FILE || op->kind == OPT_ADD_FILE) return slurp(cmd, eq + 1, &op->val);
  return cli_arg_bytes(cmd, "VALUE", eq + 1, hex, &op->val);
}

static int run_edit(const cli_cmd *cmd, int argc, char **argv) {
  static const struct option longopts[] = {{"set", required_argument, NULL, OPT_SET},
                                           {"set-file", required_argument, NULL, OPT_SET_FILE},
                                           {"add", required_argument, NULL, OPT_ADD},
                                           {"add-file", required_argument, NULL, OPT_ADD_FILE},
                                           {"delete", required_argument, NULL, OPT_DELETE},
                                           {"hex", no_argument, NULL, 'x'},
                                           {"sync", no_argument, NULL, OPT_SYNC},
                                           CLI_LONGOPT_ENV,
                                           CLI_LONGOPT_DB,
                                           {"help", no_argument, NULL, 'h'},
                                           {NULL, 0, NULL, 0}};
  int hex = 0, sync = 0, c, rc = CLI_OK, created = 0;
  cli_common co;
  cli_common_init(&co);
  /* Arguments are parsed after the loop, when -x is known wherever it is. */
  int nops = 0;
  int *kinds = calloc((size_t)argc + 1, sizeof *kinds);
  const char **args = calloc((size_t)argc + 1, sizeof *args);
  edit_op *ops = NULL;
  strata_db *db = NULL;
  strata_txn *txn = NULL;
  if (!kinds || !args) {
    free(kinds);
    free(args);
    cli_err(cmd, "out of memory");
    return CLI_FAIL;
  }
  opterr = 0;
  while ((c = getopt_long(argc, argv, ":xe:d:h", longopts, NULL)) != -1) {
    if (cli_common_opt(&co, c, optarg)) continue;
    switch (c) {
    case OPT_SET:
    case OPT_SET_FILE:
    case OPT_ADD:
    case OPT_ADD_FILE:
    case OPT_DELETE:
      kinds[nops] = c;
      args[nops++] = optarg;
      break;
    case 'x': hex = 1; break;
    case OPT_SYNC: sync = 1; break;
    case 'h': rc = cli_help(cmd); goto out;
    default: rc = cli_bad_option(cmd, c, argv); goto out;
    }
  }
  if ((rc = cli_take_dbpath(cmd, &co, argc, argv, &optind)) ||
      (rc = cli_operands(cmd, argc, optind, 0, 0, "DBPATH (edits come as options)")))
    goto out;
  if (nops == 0) {
    rc = cli_usage_error(cmd,
                         "nothing to do: give --set, --set-file, --add, --add-file or --delete");
    goto out;
  }
  ops = calloc((size_t)nops, sizeof *ops);
  if (!ops) {
    cli_err(cmd, "out of memory");
    rc = CLI_FAIL;
    goto out;
  }
  for (int i = 0; i < nops && !rc; i++) {
    ops[i].kind = kinds[i];
    rc = parse_op(cmd, &ops[i], args[i], hex);
  }
  if (rc) goto out;

  strata_subdb *sdb = NULL;
  if ((rc = cli_open_common(cmd, &co, CLI_OPEN_CREATE, &db))) goto out;
  /* A sub-database this edit creates is dropped again if the edit fails,
   * so a failed edit leaves nothing behind. */
  created = !cli_is_main(co.subdb) && strata_subdb_open(db, co.subdb, 0, &sdb) != STRATA_OK;
  if ((rc = cli_open_subdb(cmd, db, co.subdb, 1, &sdb))) {
    created = 0;
    goto out;
  }
  strata_txn_options to;
  strata_txn_options_init(&to);
  to.write = 1;
  to.sync = sync;
  to.exclusive = 1;
  int s = strata_txn_begin(db, &to, &txn);
  if (s != STRATA_OK) {
    cli_db_err(cmd, "cannot begin a transaction", s);
    rc = CLI_FAIL;
    goto out;
  }
  strata_buf old = STRATA_BUF_INIT;
  for (int i = 0; i < nops && !rc; i++) {
    edit_op *op = &ops[i];
    if (op->kind == OPT_ADD || op->kind == OPT_ADD_FILE) {
      /* The transaction sees its own earlier writes: adding a key an
       * earlier --set wrote fails too. */
      s = strata_txn_get(txn, sdb, op->key.data, op->key.len, &old);
      if (s == STRATA_OK) {
        sbuf shown = SBUF_INIT;
        if (fmt_scan(&shown, op->key.data, op->key.len) || sbuf_terminate(&shown))
          cli_err(cmd, "%s: the key exists; nothing was written", opt_name(op->kind));
        else
          cli_err(cmd, "%s: key '%s' exists; nothing was written", opt_name(op->kind), shown.data);
        sbuf_free(&shown);
        rc = CLI_FAIL;
        break;
      }
      if (s != STRATA_ENOTFOUND) {
        cli_db_err(cmd, "get", s);
        rc = CLI_FAIL;
        break;
      }
    }
    s = op->kind == OPT_DELETE
            ? strata_txn_delete(txn, sdb, op->key.data, op->key.len)
            : strata_txn_put(txn, sdb, op->key.data, op->key.len, op->val.data, op->val.len);
    if (s != STRATA_OK) {
      cli_db_err(cmd, opt_name(op->kind), s);
      rc = CLI_FAIL;
    }
  }
  strata_buf_free(&old);
  if (!rc) {
    s = strata_txn_commit(txn);
    if (s != STRATA_OK) {
      cli_db_err(cmd, "commit failed, nothing was written", s);
      rc = CLI_FAIL;
    }
  }

out:
  strata_txn_destroy(txn); /* aborts an uncommitted one */
  if (rc && created) strata_subdb_drop(db, NULL, co.subdb);
  strata_close(db);
  for (int i = 0; ops && i < nops; i++) {
    sbuf_free(&ops[i].key);
    sbuf_free(&ops[i].val);
  }
  free(ops);
  free(kinds);
  free(args);
  return rc;
}

const cli_cmd cli_cmd_edit = {
    "edit", "apply sets, adds and deletes as one atomic write",
    "usage: strata edit [-x] [-d NAME] [--sync] DBPATH EDIT...\n"
    "\n"
    "py-lmdb's edit. Applies the EDITs, in the order given, as one atomic\n"
    "write (a write transaction): all of them or, on any error, none.\n"
    "Creates DBPATH and the sub-database NAME if they do not exist.\n"
    "\n"
    "EDITs (each may be repeated):\n"
    "  --set KEY=VALUE        store VALUE under KEY.\n"
    "  --set-file KEY=PATH    store the contents of file PATH under KEY.\n"
    "  --add KEY=VALUE        as --set, but fail if KEY exists (nothing is\n"
    "                         written then).\n"
    "  --add-file KEY=PATH    as --set-file, failing if KEY exists.\n"
    "  --delete KEY           remove KEY (no error if it is not there).\n"
    "KEY=VALUE splits at the first '='. A later EDIT sees the earlier ones:\n"
    "--add of a key set just before fails, a --set after a --delete stores.\n"
    "\n"
    "Options:\n"
    "  -x, --hex          KEYs and VALUEs are given in hex (so a key may hold\n"
    "                     '=' or any byte); PATHs are not.\n"
    "  -d, --db NAME      edit sub-database NAME (:main: = main database).\n"
    "  --sync             return once the write is on stable storage.\n"
    "  -e, --env DBPATH   the database (instead of the DBPATH operand).\n"
    "  -h, --help         print this help.\n"
    "\n"
    "Exit status: 0 written; 1 nothing written (an --add key exists, a file\n"
    "cannot be read, a write failed); 2 bad usage (no EDIT, KEY without '=',\n"
    "bad hex).\n",
    run_edit};
