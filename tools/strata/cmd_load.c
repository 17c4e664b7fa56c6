/*
 * cmd_load.c - strata load and strata restore: pairs from text dumps into
 * the main database and sub-databases (the formats are in dumpfmt.h).
 *
 * load reads one input into one database; restore is py-lmdb's command of
 * the same name: several NAME=FILE inputs, cdbmake by default. Both parse
 * a whole write batch before writing it, so a malformed line never leaves
 * half a batch applied, and both open (and create) the database only once
 * the first batch is complete.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"

enum { OPT_JSONL = 0x100, OPT_CDBMAKE, OPT_BATCH, OPT_ATOMIC, OPT_SYNC, OPT_NO_BULK };
enum { CLI_DONE = -1 }; /* parse(): --help was printed */

/* What a load run shares across its inputs. */
typedef struct load_run {
  const cli_cmd *cmd;
  const char *dbpath;
  int existed; /* the database was there before this run */
  strata_db *db;
  strata_write_options wo;
  dump_mode mode;
  unsigned long long batch_size; /* 0 = the whole input as one batch */
  int progress;
  unsigned long long applied; /* pairs written by completed batches */
  unsigned long long batches;
  unsigned long long pairs; /* pairs parsed */
  unsigned long long bulk;  /* pairs written by sorted bulk load */
  int bulk_load;            /* may use it (not --no-bulk-load) */
  char **created;           /* sub-databases this run created (to drop on Ctrl-C) */
  size_t ncreated;
} load_run;

/* One input: a database (NULL = main, or the dump's database= line) and a
 * file (NULL or "-" = standard input). */
typedef struct load_input {
  const char *name;
  const char *file;
} load_input;

static int open_db(load_run *lr) {
  if (lr->db) return CLI_OK;
  return cli_open(lr->cmd, lr->dbpath, CLI_OPEN_CREATE, &lr->db);
}

/* Opens (creating) the target sub-database, remembering one this run made. */
static int open_target(load_run *lr, const char *name, strata_subdb **sdb) {
  *sdb = NULL;
  if (cli_is_main(name)) return CLI_OK;
  int existed = strata_subdb_open(lr->db, name, 0, sdb) == STRATA_OK;
  if (existed) return CLI_OK;
  int rc = cli_open_subdb(lr->cmd, lr->db, name, 1, sdb);
  if (rc) return rc;
  char **c = realloc(lr->created, (lr->ncreated + 1) * sizeof *c);
  if (!c || !(c[lr->ncreated] = strdup(name))) {
    if (c) lr->created = c;
    cli_err(lr->cmd, "out of memory");
    return CLI_FAIL;
  }
  lr->created = c;
  lr->ncreated++;
  return CLI_OK;
}

static int write_batch(load_run *lr, strata_batch *b) {
  uint32_t n = strata_batch_count(b);
  if (n == 0) return CLI_OK;
  int s = strata_write(lr->db, &lr->wo, b);
  if (s != STRATA_OK) {
    cli_db_err(lr->cmd, "write failed", s);
    return CLI_FAIL;
  }
  lr->applied += n;
  lr->batches++;
  strata_batch_clear(b);
  return CLI_OK;
}

/* Where an input's pairs go: sorted bulk load (strata_loader_*) while the
 * target was empty and the keys keep increasing, write batches otherwise.
 * The first key not greater than the one before finishes the bulk load
 * (what came before becomes visible at once) and sends the rest through
 * batches, whose entries are newer than any bulk-loaded one, so a key that
 * comes twice keeps its last value either way. */
typedef struct sink {
  load_run *lr;
  strata_subdb *sdb;
  strata_batch *b;
  strata_loader *l; /* non-NULL while bulk loading */
  sbuf prev;        /* the last key given to the loader */
  int has_prev;
  unsigned long long loaded; /* pairs given to the loader */
} sink;

static int keycmp(const void *a, size_t alen, const void *b, size_t blen) {
  int c = memcmp(a, b, alen < blen ? alen : blen);
  if (c) return c;
  return alen < blen ? -1 : alen > blen;
}

static int sink_finish_loader(sink *sk) {
  int s = strata_loader_finish(sk->l);
  strata_loader_destroy(sk->l);
  sk->l = NULL;
  if (s != STRATA_OK) {
    cli_db_err(sk->lr->cmd, "bulk load failed", s);
    return CLI_FAIL;
  }
  sk->lr->applied += sk->loaded;
  sk->lr->bulk += sk->loaded;
  if (sk->loaded) sk->lr->batches++;
  return CLI_OK;
}

static int sink_put(sink *sk, const void *k, size_t klen, const void *v, size_t vlen) {
  load_run *lr = sk->lr;
  int s;
  if (sk->l) {
    if (!sk->has_prev || keycmp(k, klen, sk->prev.data, sk->prev.len) > 0) {
      s = strata_loader_add(sk->l, k, klen, v, vlen);
      if (s != STRATA_OK) {
        cli_db_err(lr->cmd, "bulk load failed", s);
        return CLI_FAIL;
      }
      sk->prev.len = 0;
      if (sbuf_append(&sk->prev, k, klen)) {
        cli_err(lr->cmd, "out of memory");
        return CLI_FAIL;
      }
      sk->has_prev = 1;
      sk->loaded++;
      return CLI_OK;
    }
    int rc = sink_finish_loader(sk);
    if (rc) return rc;
  }
  s = strata_batch_put_in(sk->b, sk->sdb, k, klen, v, vlen);
  if (s != STRATA_OK) {
    cli_db_err(lr->cmd, "cannot queue a pair", s);
    return CLI_FAIL;
  }
  if (lr->batch_size && strata_batch_count(sk->b) >= lr->batch_size) return write_batch(lr, sk->b);
  return CLI_OK;
}

/* The clean end of an input: the bulk load finishes, the last batch is
 * written. */
static int sink_end(sink *sk) {
  if (sk->l) {
    int rc = sink_finish_loader(sk);
    if (rc) return rc;
  }
  return write_batch(sk->lr, sk->b);
}

/* 1 if sdb (NULL: main) holds no entry. */
static int target_empty(strata_db *db, strata_subdb *sdb) {
  strata_iter *it;
  if (strata_iter_create_in(db, sdb, NULL, &it) != STRATA_OK) return 0;
  strata_iter_seek_to_first(it);
  int empty = !strata_iter_valid(it) && strata_iter_status(it) == STRATA_OK;
  strata_iter_destroy(it);
  return empty;
}

/* 1 if the pending pairs' keys are strictly increasing. */
static int pending_sorted(const sbuf *pending) {
  size_t at = 0;
  const char *pk = NULL;
  size_t plen = 0;
  while (at < pending->len) {
    size_t lens[2];
    memcpy(lens, pending->data + at, sizeof lens);
    at += sizeof lens;
    const char *k = pending->data + at;
    if (pk && keycmp(k, lens[0], pk, plen) <= 0) return 0;
    pk = k;
    plen = lens[0];
    at += lens[0] + lens[1];
  }
  return 1;
}

/* Opens the database and the input's target (-d or NAME= wins over the
 * dump's own database= line, known once the header is read), chooses bulk
 * load for an empty target, then moves the pending pairs into the sink. */
static int start_target(load_run *lr, const load_input *in_spec, const dump_reader *r, sink *sk,
                        sbuf *pending) {
  const char *name = in_spec->name ? in_spec->name : (r->database[0] ? r->database : NULL);
  int rc;
  if ((rc = open_db(lr)) || (rc = open_target(lr, name, &sk->sdb))) return rc;
  /* --atomic holds the whole input here: bulk load only if all of it is
   * sorted, so that one step (the loader's finish) applies all of it. */
  int bulk = lr->bulk_load && (lr->batch_size || pending_sorted(pending));
  if (bulk && target_empty(lr->db, sk->sdb)) {
    int s = strata_loader_create(lr->db, sk->sdb, &sk->l);
    if (s != STRATA_OK) {
      cli_db_err(lr->cmd, "cannot start a bulk load", s);
      return CLI_FAIL;
    }
  }
  size_t at = 0;
  while (at < pending->len) {
    size_t lens[2];
    memcpy(lens, pending->data + at, sizeof lens);
    at += sizeof lens;
    const char *k = pending->data + at, *v = k + lens[0];
    at += lens[0] + lens[1];
    if ((rc = sink_put(sk, k, lens[0], v, lens[1]))) return rc;
  }
  sbuf_free(pending);
  return CLI_OK;
}

/* Loads one input. The database is opened (and created) at the first
 * complete batch, the target sub-database then too. */
static int load_input_run(load_run *lr, const load_input *in_spec, cli_progress *pg) {
  const cli_cmd *cmd = lr->cmd;
  FILE *in = stdin;
  const char *fname = "<stdin>";
  if (in_spec->file && strcmp(in_spec->file, "-")) {
    in = fopen(in_spec->file, "r");
    if (!in) {
      cli_err(cmd, "%s: %s", in_spec->file, strerror(errno));
      return CLI_FAIL;
    }
    fname = in_spec->file;
  }
  struct stat st;
  if (pg->on && fstat(fileno(in), &st) == 0 && S_ISREG(st.st_mode))
    pg->total += (uint64_t)st.st_size;
  uint64_t base = pg->done;

  sink sk;
  memset(&sk, 0, sizeof sk);
  sk.lr = lr;
  int s = strata_batch_create(&sk.b);
  if (s != STRATA_OK) {
    cli_db_err(cmd, "cannot create a write batch", s);
    if (in != stdin) fclose(in);
    return CLI_FAIL;
  }
  dump_reader r;
  dump_reader_init(&r, in, lr->mode);
  sbuf key = SBUF_INIT, val = SBUF_INIT;
  /* Until the first batch is complete the database is not opened (so bad
   * input from the start creates nothing): its pairs wait in `pending`,
   * each as two size_t lengths and the bytes. */
  sbuf pending = SBUF_INIT;
  unsigned long long npending = 0;
  int have_target = 0, rc = CLI_OK, got = 0;
  unsigned long long before = lr->applied, batches_before = lr->batches;
  while (!cli_interrupted() && (got = dump_reader_next(&r, &key, &val)) == 1) {
    lr->pairs++;
    if (cli_progress_due(pg)) cli_progress_update(pg, base + r.offset, lr->pairs);
    if (have_target) {
      if ((rc = sink_put(&sk, key.data, key.len, val.data, val.len))) break;
      continue;
    }
    size_t lens[2] = {key.len, val.len};
    if (sbuf_append(&pending, lens, sizeof lens) || sbuf_append(&pending, key.data, key.len) ||
        sbuf_append(&pending, val.data, val.len)) {
      cli_err(cmd, "out of memory");
      rc = CLI_FAIL;
      break;
    }
    if (lr->batch_size && ++npending >= lr->batch_size) {
      if ((rc = start_target(lr, in_spec, &r, &sk, &pending))) break;
      have_target = 1;
    }
  }
  if (rc) cli_progress_clear(pg);
  if (got < 0 && !rc) {
    cli_progress_clear(pg);
    if (r.io_error)
      cli_err(cmd, "%s: read error: %s", fname, strerror(r.io_error));
    else if (r.err_is_record)
      cli_err(cmd, "%s: %s", fname, r.err);
    else
      cli_err(cmd, "%s:%lu: %s", fname, r.err_line, r.err);
    cli_err(cmd,
            "nothing from the batch holding that %s was written; %llu pairs from %llu "
            "earlier batches were",
            r.err_is_record ? "record" : "line", lr->applied - before,
            lr->batches - batches_before);
    rc = CLI_FAIL;
  } else if (!rc && !cli_interrupted()) {
    /* The end; an empty input still creates the database (and the
     * sub-database). */
    if (!have_target) rc = start_target(lr, in_spec, &r, &sk, &pending);
    if (!rc) rc = sink_end(&sk);
  }
  /* An unfinished bulk load adds nothing: its tables are deleted. */
  strata_loader_destroy(sk.l);
  sbuf_free(&sk.prev);
  sbuf_free(&pending);
  pg->done = base + r.offset;
  dump_reader_free(&r);
  sbuf_free(&key);
  sbuf_free(&val);
  strata_batch_destroy(sk.b);
  if (in != stdin) fclose(in);
  return rc;
}

/* After Ctrl-C: a database this run created is removed; otherwise the
 * sub-databases it created are dropped and what stays is named. */
static int interrupted(load_run *lr) {
  const cli_cmd *cmd = lr->cmd;
  if (!lr->existed) {
    strata_close(lr->db);
    lr->db = NULL;
    if (cli_exists(lr->dbpath) && strata_destroy(lr->dbpath, NULL) != STRATA_OK)
      cli_remove_tree(lr->dbpath);
    cli_err(cmd, "interrupted; the database it was creating (%s) was removed", lr->dbpath);
    return CLI_INTERRUPTED;
  }
  for (size_t i = 0; lr->db && i < lr->ncreated; i++)
    strata_subdb_drop(lr->db, NULL, lr->created[i]);
  cli_err(cmd, "interrupted; %s is incomplete: %llu pairs in %llu whole batches were written%s",
          lr->dbpath, lr->applied, lr->batches,
          lr->ncreated ? " (sub-databases it created were dropped)" : "");
  return CLI_INTERRUPTED;
}

static void run_free(load_run *lr) {
  strata_close(lr->db);
  for (size_t i = 0; i < lr->ncreated; i++)
    free(lr->created[i]);
  free(lr->created);
}

/* Shared option parsing of load and restore. */
typedef struct load_opts {
  const char *file;
  const char *dir; /* restore -a */
  int all, verbose;
  cli_common co;
} load_opts;

static int parse(const cli_cmd *cmd, int argc, char **argv, load_run *lr, load_opts *o,
                 int is_restore) {
  static const struct option longopts[] = {{"file", required_argument, NULL, 'f'},
                                           {"plain", no_argument, NULL, 'T'},
                                           {"jsonl", no_argument, NULL, OPT_JSONL},
                                           {"cdbmake", no_argument, NULL, OPT_CDBMAKE},
                                           {"batch", required_argument, NULL, OPT_BATCH},
                                           {"atomic", no_argument, NULL, OPT_ATOMIC},
                                           {"sync", no_argument, NULL, OPT_SYNC},
                                           {"no-bulk-load", no_argument, NULL, OPT_NO_BULK},
                                           {"verbose", no_argument, NULL, 'v'},
                                           {"all", no_argument, NULL, 'a'},
                                           CLI_LONGOPT_ENV,
                                           CLI_LONGOPT_DB,
                                           CLI_LONGOPT_QUIET,
                                           CLI_LONGOPT_PROGRESS,
                                           {"help", no_argument, NULL, 'h'},
                                           {NULL, 0, NULL, 0}};
  int c, atomic = 0;
  memset(o, 0, sizeof *o);
  cli_common_init(&o->co);
  memset(lr, 0, sizeof *lr);
  lr->cmd = cmd;
  lr->mode = DUMP_DETECT;
  lr->batch_size = 1000;
  lr->bulk_load = 1;
  strata_write_options_init(&lr->wo);
  opterr = 0;
  while ((c = getopt_long(argc, argv, ":f:Tvae:d:qh", longopts, NULL)) != -1) {
    if (cli_common_opt(&o->co, c, optarg)) continue;
    switch (c) {
    case 'f': o->file = optarg; break;
    case 'T':
    case OPT_JSONL:
    case OPT_CDBMAKE: {
      dump_mode m = c == 'T' ? DUMP_PLAIN : c == OPT_JSONL ? DUMP_JSONL : DUMP_CDBMAKE;
      if (lr->mode != DUMP_DETECT && lr->mode != m)
        return cli_usage_error(cmd, "-T, --jsonl and --cdbmake exclude each other");
      lr->mode = m;
      break;
    }
    case OPT_BATCH:
      if (cli_parse_count(optarg, &lr->batch_size) || lr->batch_size == 0 ||
          lr->batch_size > UINT32_MAX)
        return cli_usage_error(cmd, "--batch wants a count of pairs (1 or more), not '%s'", optarg);
      break;
    case OPT_ATOMIC: atomic = 1; break;
    case OPT_SYNC: lr->wo.sync = 1; break;
    case OPT_NO_BULK: lr->bulk_load = 0; break;
    case 'v': o->verbose = 1; break;
    case 'a':
      if (!is_restore) {
        optopt = 'a'; /* getopt knew it (restore's): name it as an unknown one */
        return cli_bad_option(cmd, '?', argv);
      }
      o->all = 1;
      break;
    case 'h': cli_help(cmd); return CLI_DONE;
    default: return cli_bad_option(cmd, c, argv);
    }
  }
  if (atomic) lr->batch_size = 0;
  int rc = cli_take_dbpath(cmd, &o->co, argc, argv, &optind);
  if (rc) return rc;
  lr->dbpath = o->co.dbpath;
  lr->progress = o->co.progress;
  struct stat st;
  if (stat(lr->dbpath, &st) == 0 && !S_ISDIR(st.st_mode)) {
    cli_err(cmd, "%s: not a database (a Strata database is a directory, this is a file)",
            lr->dbpath);
    return CLI_FAIL;
  }
  lr->existed = cli_exists(lr->dbpath);
  return CLI_OK;
}

/* Runs the inputs in order, then reports. */
static int run_inputs(load_run *lr, const load_opts *o, load_input *ins, size_t nin) {
  cli_interrupt_install();
  cli_progress pg;
  cli_progress_begin(&pg, lr->progress, lr->cmd->name, CLI_UNIT_BYTES, 0);
  pg.extra_name = "records";
  int rc = CLI_OK;
  for (size_t i = 0; i < nin && !rc && !cli_interrupted(); i++)
    rc = load_input_run(lr, &ins[i], &pg);
  cli_progress_end(&pg);
  if (cli_interrupted()) rc = interrupted(lr);
  if (!rc && o->verbose)
    cli_err(lr->cmd, "loaded %llu pairs in %llu batches (%llu pairs by sorted bulk load)",
            lr->pairs, lr->batches, lr->bulk);
  run_free(lr);
  return rc;
}

/* ------------------------------------------------------------------------ */
/* load                                                                     */
/* ------------------------------------------------------------------------ */

static int run_load(const cli_cmd *cmd, int argc, char **argv) {
  load_run lr;
  load_opts o;
  int rc = parse(cmd, argc, argv, &lr, &o, 0);
  if (rc == CLI_DONE) return CLI_OK;
  if (rc || (rc = cli_operands(cmd, argc, optind, 0, 0, "DBPATH"))) return rc;
  load_input in = {o.co.subdb, o.file};
  return run_inputs(&lr, &o, &in, 1);
}

const cli_cmd cli_cmd_load = {
    "load", "read pairs from a dump, plain text, JSON lines or cdbmake (creates the database)",
    "usage: strata load [-f FILE] [-T | --jsonl | --cdbmake] [--batch N | --atomic]\n"
    "                   [--sync] [-d NAME] [-v] [-q | --progress] DBPATH\n"
    "\n"
    "Reads key/value pairs from standard input or FILE and stores them in the\n"
    "database at DBPATH, creating it if it does not exist. Existing keys are\n"
    "overwritten; other keys already in the database stay.\n"
    "\n"
    "Input formats:\n"
    "  dump        what 'strata dump' and mdb_dump/db_dump write (see 'strata\n"
    "              dump --help'). format=print or format=bytevalue is taken from\n"
    "              the header; hex digits may be in either case; in print format\n"
    "              bytes other than '\\' may also appear unescaped. A\n"
    "              database=NAME line loads into sub-database NAME (unless -d\n"
    "              names another); other lines describing the source store\n"
    "              (mapsize=, ...) are ignored; duplicates=1 is refused (one\n"
    "              value per key here). The input must hold one database and\n"
    "              end with DATA=END (a dump without it is reported as\n"
    "              truncated). mdb_dump -p does not escape '\\', so its output\n"
    "              for data holding a backslash cannot be read back reliably (by\n"
    "              mdb_load either); dump such data from LMDB without -p.\n"
    "  -T, --plain as mdb_load -T: no header, a key line then a value line,\n"
    "              with print-format escapes (\\\\ and \\ + two hex digits).\n"
    "  --jsonl     one JSON object per line (blank lines skipped):\n"
    "                  {\"key\":\"text\",\"value\":\"text\"}\n"
    "              Strings are stored as their UTF-8 bytes. For arbitrary bytes\n"
    "              use \"key_b64\"/\"value_b64\" (base64) or \"key_hex\"/\n"
    "              \"value_hex\" in place of \"key\"/\"value\". Any other member\n"
    "              is an error.\n"
    "  --cdbmake   py-lmdb's dump format: records \"+KLEN,DLEN:KEY->DATA\\n\",\n"
    "              then an empty line (see 'strata dump --help').\n"
    "Without -T, --jsonl or --cdbmake the format is detected: cdbmake if the\n"
    "input starts with '+' (or is a single empty line), JSON lines if the\n"
    "first line starts with '{', else a dump.\n"
    "\n"
    "Options:\n"
    "  -f, --file FILE  read FILE instead of standard input ('-' = stdin).\n"
    "  -d, --db NAME    load into sub-database NAME (created if missing;\n"
    "                   :main: = main database).\n"
    "  --batch N        write N pairs per atomic write batch (default 1000).\n"
    "  --atomic         parse the whole input first and write it as a single\n"
    "                   batch: all of it or nothing is loaded. Holds the whole\n"
    "                   input in memory.\n"
    "  --sync           sync each batch to stable storage before the next.\n"
    "  --no-bulk-load   always write batches (see below).\n"
    "  -v, --verbose    report the pairs and batches written:\n"
    "                   \"loaded N pairs in B batches (K pairs by sorted bulk\n"
    "                   load)\" on standard error.\n"
    "  -e, --env DBPATH the database (instead of the DBPATH operand).\n"
    "  -q, --quiet      no progress line.\n"
    "  --progress       a progress line (bytes read of the file's size, records,\n"
    "                   rate, time left) even when stderr is not a terminal.\n"
    "  -h, --help       print this help.\n"
    "\n"
    "Sorted bulk load: when the target (the main database or the\n"
    "sub-database) is empty, pairs go into sorted tables built straight from\n"
    "the input (strata_loader_*: no write-ahead log, no compaction) as long as\n"
    "each key is greater than the one before; the tables are added at once,\n"
    "atomically, when the input ends. The first key out of order adds what\n"
    "came before and sends the rest through write batches (a key given twice\n"
    "keeps its last value either way). A dump is sorted, so restoring one\n"
    "into a new database is one bulk load.\n"
    "\n"
    "Errors: a malformed line (bad hex digit, odd number of hex digits, a key\n"
    "without its value line, a bad header, bad JSON, a cdbmake length that\n"
    "does not match, ...) stops the load with\n"
    "    strata load: FILE:LINE: what is wrong\n"
    "    strata load: FILE: record N (byte B): what is wrong       (cdbmake)\n"
    "and exit status 1. Each batch is parsed completely before it is written,\n"
    "so nothing from the batch holding the bad line is applied; earlier\n"
    "batches have been applied (the message says how many pairs), unless\n"
    "--atomic was given; of a bulk load in progress nothing is applied. The database is opened, "
    "and created, only when the\n"
    "first batch is complete, so input that is bad from the start creates\n"
    "nothing.\n"
    "\n"
    "Interrupted (Ctrl-C, SIGTERM), load stops between two batches: a\n"
    "database it created is removed; in one that existed, the sub-databases\n"
    "it created are dropped and the message says how many pairs stay.\n"
    "Exit status 130.\n",
    run_load};

/* ------------------------------------------------------------------------ */
/* restore                                                                  */
/* ------------------------------------------------------------------------ */

/* Decodes dump -a's file name stem (see cmd_dump.c) into a sub-database
 * name; "main" is the main database. Returns NULL for a stem that is not
 * one dump -a writes. */
static char *decode_stem(const char *stem, size_t n) {
  char *out = malloc(n + 1);
  size_t k = 0;
  if (!out) return NULL;
  for (size_t i = 0; i < n; i++) {
    if (stem[i] != '%') {
      out[k++] = stem[i];
      continue;
    }
    unsigned v = 0;
    for (int d = 1; d <= 2; d++) {
      char c = i + (size_t)d < n ? stem[i + (size_t)d] : 0;
      int h = c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
      if (h < 0) {
        free(out);
        return NULL;
      }
      v = v * 16 + (unsigned)h;
    }
    if (v == 0) {
      free(out);
      return NULL;
    }
    out[k++] = (char)v;
    i += 2;
  }
  out[k] = '\0';
  return out;
}

static int by_name(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static int run_restore(const cli_cmd *cmd, int argc, char **argv) {
  load_run lr;
  load_opts o;
  int rc = parse(cmd, argc, argv, &lr, &o, 1);
  if (rc == CLI_DONE) return CLI_OK;
  if (rc) return rc;
  int npairs = argc - optind;
  if (o.all && (npairs || o.co.subdb))
    return cli_usage_error(cmd, "-a reads every file of a directory: no -d and no NAME=FILE");
  if (npairs && (o.co.subdb || o.file))
    return cli_usage_error(cmd, "NAME=FILE operands name their own files: no -d or -f with them");

  load_input *ins = calloc((size_t)npairs + 1, sizeof *ins);
  char **owned = NULL, **files = NULL;
  size_t nowned = 0, nin = 0;
  if (!ins) goto nomem;
  if (o.all) {
    /* Every *.cdbmake, *.dump and *.jsonl file of the directory, by name. */
    const char *dir = o.file ? o.file : ".";
    DIR *d = opendir(dir);
    if (!d) {
      cli_err(cmd, "%s: %s", dir, strerror(errno));
      free(ins);
      return CLI_FAIL;
    }
    struct dirent *de;
    size_t nf = 0;
    while ((de = readdir(d))) {
      const char *dot = strrchr(de->d_name, '.');
      if (!dot || dot == de->d_name ||
          (strcmp(dot, ".cdbmake") && strcmp(dot, ".dump") && strcmp(dot, ".jsonl")))
        continue;
      char **f = realloc(files, (nf + 1) * sizeof *f);
      if (!f) {
        closedir(d);
        goto nomem;
      }
      files = f;
      if (!(files[nf] = strdup(de->d_name))) {
        closedir(d);
        goto nomem;
      }
      nf++;
    }
    closedir(d);
    if (nf > 1) qsort(files, nf, sizeof *files, by_name);
    load_input *ni = realloc(ins, (nf + 1) * sizeof *ni);
    owned = calloc(2 * nf + 1, sizeof *owned);
    if (!ni || !owned) {
      if (ni) ins = ni;
      nowned = 0;
      for (size_t i = 0; i < nf; i++)
        free(files[i]);
      free(files);
      files = NULL;
      goto nomem;
    }
    ins = ni;
    for (size_t i = 0; i < nf; i++) {
      const char *dot = strrchr(files[i], '.');
      char *name = decode_stem(files[i], (size_t)(dot - files[i]));
      char *path = malloc(strlen(dir) + strlen(files[i]) + 2);
      if (name && path) sprintf(path, "%s/%s", dir, files[i]);
      owned[nowned++] = path;
      owned[nowned++] = name;
      if (!name) {
        rc = cli_usage_error(cmd, "%s/%s: not a file name dump -a writes", dir, files[i]);
        break;
      }
      if (!path) goto nomem;
      /* The stem "main" is the main database; "%6Dain" (decoded to "main") is
       * the sub-database of that name. */
      ins[nin].name = (dot - files[i] == 4 && !strncmp(files[i], "main", 4)) ? NULL : name;
      ins[nin].file = path;
      for (size_t k = 0; k < nin; k++)
        if (cli_is_main(ins[k].name) ? cli_is_main(ins[nin].name)
                                     : ins[nin].name && !strcmp(ins[k].name, ins[nin].name)) {
          rc = cli_usage_error(cmd, "%s: a second file for database '%s'", path, name);
          break;
        }
      nin++;
    }
    for (size_t i = 0; i < nf; i++)
      free(files[i]);
    free(files);
    files = NULL;
    if (!rc && nin == 0) {
      cli_err(cmd, "%s: no .cdbmake, .dump or .jsonl file to restore", dir);
      rc = CLI_FAIL;
    }
  } else if (npairs) {
    for (int i = optind; i < argc && !rc; i++) {
      const char *eq = strchr(argv[i], '=');
      if (!eq || eq == argv[i] || !eq[1]) {
        rc = cli_usage_error(cmd, "'%s' is not NAME=FILE", argv[i]);
        break;
      }
      argv[i][eq - argv[i]] = '\0'; /* split in place: NAME and FILE */
      ins[nin].name = cli_is_main(argv[i]) ? NULL : argv[i];
      ins[nin].file = eq + 1;
      for (size_t k = 0; k < nin; k++)
        if ((!ins[k].name && !ins[nin].name) ||
            (ins[k].name && ins[nin].name && !strcmp(ins[k].name, ins[nin].name)))
          rc = cli_usage_error(cmd, "database '%s' named twice", argv[i]);
      nin++;
    }
  } else {
    /* py-lmdb's default: the main database from main.cdbmake. -f or -d
     * name one input instead. */
    ins[0].name = o.co.subdb;
    ins[0].file = o.file ? o.file : (o.co.subdb ? "-" : "main.cdbmake");
    nin = 1;
  }
  if (!rc) {
    rc = run_inputs(&lr, &o, ins, nin);
    if (!rc && !o.verbose) {
      /* py-lmdb prints what it loaded; so does restore, on stderr so a
       * pipeline's output stays clean. Quiet with -q. */
      if (o.co.progress != CLI_PROGRESS_OFF)
        cli_err(cmd, "restored %llu pairs from %zu input%s", lr.pairs, nin, nin == 1 ? "" : "s");
    }
  } else {
    run_free(&lr);
  }
  for (size_t i = 0; i < nowned; i++)
    free(owned[i]);
  free(owned);
  free(ins);
  return rc;

nomem:
  cli_err(cmd, "out of memory");
  for (size_t i = 0; i < nowned; i++)
    free(owned[i]);
  free(owned);
  free(ins);
  run_free(&lr);
  return CLI_FAIL;
}

const cli_cmd cli_cmd_restore = {
    "restore", "load databases from cdbmake (or other) dumps, NAME=FILE each",
    "usage: strata restore [options] DBPATH [NAME=FILE...]\n"
    "       strata restore [options] -a [-f DIR] DBPATH\n"
    "       strata restore [options] [-d NAME] -f FILE DBPATH\n"
    "\n"
    "py-lmdb's restore: loads each FILE into database NAME of DBPATH (:main:\n"
    "= the main database; a sub-database is created when missing; DBPATH too).\n"
    "Without operands it reads main.cdbmake into the main database, as py-lmdb\n"
    "does; -f FILE (or '-' for standard input) and -d NAME name one input\n"
    "instead. With -a it reads every *.cdbmake, *.dump and *.jsonl file of DIR\n"
    "(default: the current directory), in name order, into the database its\n"
    "name gives, as 'strata dump -a' wrote them (main.EXT = the main database,\n"
    "%XX escapes decoded).\n"
    "\n"
    "Each input's format is detected as for 'strata load' (cdbmake, a\n"
    "db_dump/mdb_dump dump, JSON lines), or forced with --cdbmake, --jsonl or\n"
    "-T. Pairs are written in batches of --batch N (default 1000), or all of\n"
    "an input as one batch with --atomic; errors are reported and handled as\n"
    "by 'strata load', sorted input into an empty database by sorted bulk\n"
    "load. Options: -f, -d, -a, --cdbmake, --jsonl, -T, --batch, --atomic,\n"
    "--sync, --no-bulk-load, -v, -e, -q, --progress, -h, as for load.\n"
    "\n"
    "Prints \"strata restore: restored N pairs from M inputs\" on standard\n"
    "error at the end (not with -q).\n"
    "\n"
    "Exit status: 0 done; 1 an input is missing or malformed, or a write\n"
    "failed (earlier batches stay written: see 'strata load --help'); 2 bad\n"
    "usage; 130 interrupted (a database restore created is removed, else the\n"
    "sub-databases it created are dropped).\n",
    run_restore};
