/*
 * cmd_scan.c - strata scan: ordered listing of a key range.
 */
#include <getopt.h>
#include <string.h>

#include "cli.h"

enum { OPT_START = 0x100, OPT_END, OPT_PREFIX };

/* Bytewise order, shorter first on a common prefix: the database's order. */
static int keycmp(const char *a, size_t alen, const char *b, size_t blen) {
  int c = memcmp(a, b, alen < blen ? alen : blen);
  if (c) return c;
  return alen < blen ? -1 : alen > blen;
}

/* Sets *hi to the smallest key greater than every key starting with
 * prefix: drop trailing 0xff bytes, then increment the last byte. Returns 0
 * when no such key exists (prefix empty or all 0xff): no upper bound. */
static int prefix_successor(const sbuf *prefix, sbuf *hi) {
  size_t n = prefix->len;
  while (n > 0 && (unsigned char)prefix->data[n - 1] == 0xff)
    n--;
  if (n == 0) return 0;
  hi->len = 0;
  if (sbuf_append(hi, prefix->data, n)) return -1;
  hi->data[n - 1] = (char)((unsigned char)hi->data[n - 1] + 1);
  return 1;
}

static int run_scan(const cli_cmd *cmd, int argc, char **argv) {
  static const struct option longopts[] = {{"start", required_argument, NULL, OPT_START},
                                           {"end", required_argument, NULL, OPT_END},
                                           {"prefix", required_argument, NULL, OPT_PREFIX},
                                           {"reverse", no_argument, NULL, 'R'},
                                           CLI_LONGOPT_ENV,
                                           CLI_LONGOPT_DB,
                                           CLI_LONGOPT_READ_ONLY,
                                           {"limit", required_argument, NULL, 'n'},
                                           {"keys-only", no_argument, NULL, 'k'},
                                           {"hex", no_argument, NULL, 'x'},
                                           {"help", no_argument, NULL, 'h'},
                                           {NULL, 0, NULL, 0}};
  const char *start = NULL, *end = NULL, *prefix = NULL;
  int reverse = 0, keys_only = 0, hex = 0, c;
  unsigned long long limit = 0;
  int has_limit = 0;
  cli_common co;
  cli_common_init(&co);
  opterr = 0;
  while ((c = getopt_long(argc, argv, ":Rn:kxe:d:rh", longopts, NULL)) != -1) {
    if (cli_common_opt(&co, c, optarg)) continue;
    switch (c) {
    case OPT_START: start = optarg; break;
    case OPT_END: end = optarg; break;
    case OPT_PREFIX: prefix = optarg; break;
    case 'R': reverse = 1; break;
    case 'k': keys_only = 1; break;
    case 'x': hex = 1; break;
    case 'n':
      if (cli_parse_count(optarg, &limit))
        return cli_usage_error(cmd, "--limit wants a count (0 or more), not '%s'", optarg);
      has_limit = 1;
      break;
    case 'h': return cli_help(cmd);
    default: return cli_bad_option(cmd, c, argv);
    }
  }
  int rc = cli_take_dbpath(cmd, &co, argc, argv, &optind);
  if (rc || (rc = cli_operands(cmd, argc, optind, 0, 0, "DBPATH"))) return rc;

  /* The range [lo, hi): --start and --prefix both raise lo, --end and the
   * end of the prefix both lower hi. */
  sbuf lo = SBUF_INIT, hi = SBUF_INIT, tmp = SBUF_INIT;
  int has_lo = 0, has_hi = 0;
  strata_db *db = NULL;
  strata_subdb *sdb = NULL;
  strata_iter *it = NULL;
  cli_out out;
  int out_open = 0;
  if (start) {
    if ((rc = cli_arg_bytes(cmd, "--start", start, hex, &lo))) goto done;
    has_lo = 1;
  }
  if (end) {
    if ((rc = cli_arg_bytes(cmd, "--end", end, hex, &hi))) goto done;
    has_hi = 1;
  }
  if (prefix) {
    if ((rc = cli_arg_bytes(cmd, "--prefix", prefix, hex, &tmp))) goto done;
    if (!has_lo || keycmp(tmp.data, tmp.len, lo.data, lo.len) > 0) {
      lo.len = 0;
      if (sbuf_append(&lo, tmp.data, tmp.len)) goto nomem;
      has_lo = 1;
    }
    sbuf succ = SBUF_INIT;
    int s = prefix_successor(&tmp, &succ);
    if (s < 0) goto nomem;
    if (s > 0 && (!has_hi || keycmp(succ.data, succ.len, hi.data, hi.len) < 0)) {
      sbuf_free(&hi);
      hi = succ;
      has_hi = 1;
    } else {
      sbuf_free(&succ);
    }
  }

  if ((rc = cli_open_common(cmd, &co, CLI_OPEN_SHARED, &db)) ||
      (rc = cli_open_subdb(cmd, db, co.subdb, 0, &sdb)))
    goto done;
  int s = strata_iter_create_in(db, sdb, NULL, &it);
  if (s != STRATA_OK) {
    cli_db_err(cmd, "cannot create iterator", s);
    rc = CLI_FAIL;
    goto done;
  }
  cli_out_open(cmd, &out, NULL);
  out_open = 1;

  if (!reverse) {
    if (has_lo)
      strata_iter_seek(it, lo.data, lo.len);
    else
      strata_iter_seek_to_first(it);
  } else if (has_hi) {
    /* Land on the last key below hi: the first key >= hi, then one back. */
    strata_iter_seek(it, hi.data, hi.len);
    if (strata_iter_valid(it))
      strata_iter_prev(it);
    else if (strata_iter_status(it) == STRATA_OK)
      strata_iter_seek_to_last(it);
  } else {
    strata_iter_seek_to_last(it);
  }

  unsigned long long printed = 0;
  while (strata_iter_valid(it) && (!has_limit || printed < limit)) {
    size_t klen, vlen = 0;
    const char *k = strata_iter_key(it, &klen);
    if (!reverse && has_hi && keycmp(k, klen, hi.data, hi.len) >= 0) break;
    if (reverse && has_lo && keycmp(k, klen, lo.data, lo.len) < 0) break;
    int bad = hex ? fmt_hex(&out.buf, k, klen) : fmt_scan(&out.buf, k, klen);
    if (!keys_only) {
      const char *v = strata_iter_value(it, &vlen);
      bad |= sbuf_putc(&out.buf, '\t');
      bad |= hex ? fmt_hex(&out.buf, v, vlen) : fmt_scan(&out.buf, v, vlen);
    }
    bad |= sbuf_putc(&out.buf, '\n');
    if (bad) goto nomem;
    if (cli_out_flush(&out, 0)) break; /* reported by cli_out_finish */
    printed++;
    if (reverse)
      strata_iter_prev(it);
    else
      strata_iter_next(it);
  }
  s = strata_iter_status(it);
  if (s != STRATA_OK) {
    cli_db_err(cmd, "scan stopped", s);
    rc = CLI_FAIL;
  }
  goto done;

nomem:
  cli_err(cmd, "out of memory");
  rc = CLI_FAIL;
done:
  if (out_open) {
    int o = cli_out_finish(cmd, &out);
    if (!rc) rc = o;
  }
  strata_iter_destroy(it);
  strata_close(db);
  sbuf_free(&lo);
  sbuf_free(&hi);
  sbuf_free(&tmp);
  return rc;
}

const cli_cmd cli_cmd_scan = {
    "scan", "list keys and values in key order, by range or prefix",
    "usage: strata scan [options] DBPATH\n"
    "\n"
    "Prints one line per key in the range, in key order (bytewise):\n"
    "    key<TAB>value\n"
    "Bytes outside printable ASCII (including TAB and newline) are shown as\n"
    "\\xNN and a backslash as \\\\, so every entry is exactly one line and the\n"
    "TAB is always the separator.\n"
    "\n"
    "  --start K         begin at the first key >= K.\n"
    "  --end K           stop before K (exclusive).\n"
    "  --prefix P        only keys that begin with P. Combines with --start and\n"
    "                    --end: the range is their intersection.\n"
    "  -R, --reverse     list from the last key of the range down to the first.\n"
    "  -n, --limit N     print at most N entries (0 prints nothing).\n"
    "  -k, --keys-only   print keys only, without the TAB and value.\n"
    "  -x, --hex         print keys and values as lowercase hex instead, and read\n"
    "                    K and P as hex.\n"
    "  -d, --db NAME     list sub-database NAME (:main: = main database).\n"
    "  -e, --env DBPATH  the database (instead of the DBPATH operand).\n"
    "  -r, --read-only   open read-only, beside a writer in another process\n"
    "                    (done anyway when another process holds the lock).\n"
    "  -h, --help        print this help.\n"
    "\n"
    "The listing reads one consistent snapshot of the database.\n",
    run_scan};
