/*
 * cmd_dump.c - strata dump: the main database and sub-databases to text,
 * in the Berkeley DB / LMDB dump format (so mdb_dump and mdb_load
 * interoperate), as JSON lines, or in py-lmdb's cdbmake format. The
 * formats are defined in dumpfmt.h; 'strata load' and 'strata restore'
 * read them back.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

enum { OPT_JSONL = 0x100, OPT_CDBMAKE, OPT_FORMAT };

typedef enum out_format { FMT_BYTEVALUE, FMT_PRINT, FMT_JSONL, FMT_CDBMAKE } out_format;

static const char *const format_names[] = {"bytevalue", "print", "jsonl", "cdbmake"};
static const char *const format_exts[] = {"dump", "dump", "jsonl", "cdbmake"};

/* One database to dump and where. */
typedef struct target {
  char *name;  /* sub-database; NULL = main database (owned) */
  char *file;  /* NULL = standard output (owned) */
  int created; /* this run created file */
} target;

typedef struct dump_job {
  const cli_cmd *cmd;
  strata_db *db;
  strata_read_options ro;
  out_format fmt;
  cli_progress pg;
  unsigned long long bytes, records;
  target *t;
  size_t nt;
} dump_job;

static int is_mdb(out_format f) { return f == FMT_BYTEVALUE || f == FMT_PRINT; }

/* ------------------------------------------------------------------------ */
/* Targets                                                                  */
/* ------------------------------------------------------------------------ */

static char *xstrdup(const char *s) { return s ? strdup(s) : NULL; }

static int add_target(dump_job *j, const char *name, const char *file) {
  target *t = realloc(j->t, (j->nt + 1) * sizeof *t);
  if (!t) return -1;
  j->t = t;
  t[j->nt].name = cli_is_main(name) ? NULL : xstrdup(name);
  t[j->nt].file = xstrdup(file);
  t[j->nt].created = 0;
  if ((!cli_is_main(name) && !t[j->nt].name) || (file && !t[j->nt].file)) {
    free(t[j->nt].name);
    free(t[j->nt].file);
    return -1;
  }
  j->nt++;
  return 0;
}

/* The file name of sub-database `name` under dump -a: the name itself when
 * it is made of letters, digits, '.', '_' and '-' and does not start with
 * '.', else with every other byte (and a leading '.') written as %XX; the
 * sub-database called "main" becomes "%6Dain" so it never meets the main
 * database's file. restore -a decodes the same way. */
static int encode_name(sbuf *out, const char *name) {
  static const char hex[] = "0123456789ABCDEF";
  int is_main = !strcmp(name, "main");
  for (size_t i = 0; name[i]; i++) {
    unsigned char c = (unsigned char)name[i];
    int plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                c == '_' || c == '-' || (c == '.' && i > 0);
    if (is_main && i == 0) plain = 0;
    char esc[3] = {'%', hex[c >> 4], hex[c & 15]};
    if (plain ? sbuf_putc(out, c) : sbuf_append(out, esc, 3)) return -1;
  }
  return 0;
}

typedef struct all_ctx {
  dump_job *j;
  const char *dir;
  int err;
} all_ctx;

static int add_all_one(void *arg, const char *name) {
  all_ctx *a = arg;
  sbuf f = SBUF_INIT;
  const char *ext = format_exts[a->j->fmt];
  int bad = sbuf_append(&f, a->dir, strlen(a->dir)) || sbuf_putc(&f, '/') ||
            (name ? encode_name(&f, name) : sbuf_append(&f, "main", 4)) || sbuf_putc(&f, '.') ||
            sbuf_append(&f, ext, strlen(ext)) || sbuf_terminate(&f) ||
            add_target(a->j, name, f.data);
  sbuf_free(&f);
  if (bad) a->err = STRATA_ENOMEM;
  return bad;
}

/* ------------------------------------------------------------------------ */
/* Dumping one target                                                       */
/* ------------------------------------------------------------------------ */

/* The exact map size mdb_load needs for this sub-database, by a first pass
 * over the same snapshot (used when the output cannot be rewritten in
 * place, e.g. a pipe). */
static int prepass_mapsize(dump_job *j, strata_subdb *sdb, unsigned long long *mapsize) {
  strata_iter *it;
  mdb_map_estimate e = {0, 0};
  int s = strata_iter_create_in(j->db, sdb, &j->ro, &it);
  if (s != STRATA_OK) return s;
  for (strata_iter_seek_to_first(it); strata_iter_valid(it) && !cli_interrupted();
       strata_iter_next(it)) {
    size_t klen, vlen;
    strata_iter_key(it, &klen);
    strata_iter_value(it, &vlen);
    mdb_map_add(&e, klen, vlen);
  }
  s = strata_iter_status(it);
  strata_iter_destroy(it);
  *mapsize = mdb_map_size(&e);
  return s;
}

/* Whether the mapsize digits can be written at the end in place: out is a
 * regular file written from offset `start` without O_APPEND. */
static int patchable(FILE *f, off_t *start) {
  struct stat st;
  int fd = fileno(f);
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) return 0;
  int fl = fcntl(fd, F_GETFL);
  if (fl < 0 || (fl & O_APPEND)) return 0;
  *start = lseek(fd, 0, SEEK_CUR);
  return *start >= 0;
}

static int dump_target(dump_job *j, target *t, strata_subdb *sdb) {
  const cli_cmd *cmd = j->cmd;
  strata_iter *it = NULL;
  int s = strata_iter_create_in(j->db, sdb, &j->ro, &it);
  if (s != STRATA_OK) {
    cli_db_err(cmd, "cannot create iterator", s);
    return CLI_FAIL;
  }
  /* A regular file (new or truncated) is this dump's to remove when it is
   * interrupted; a FIFO or device it writes into is not. */
  struct stat st;
  int regular = t->file && strcmp(t->file, "-") &&
                (lstat(t->file, &st) != 0 ? errno == ENOENT : S_ISREG(st.st_mode));
  cli_out out;
  int rc = cli_out_open(cmd, &out, t->file);
  if (rc) {
    strata_iter_destroy(it);
    return rc;
  }
  t->created = regular;

  /* mdb_load sizes LMDB's map from the header's mapsize=: written exactly
   * once the dump is done where the file allows it, else computed first. */
  int print = j->fmt == FMT_PRINT;
  off_t start = 0;
  int patch = 0;
  mdb_map_estimate est = {0, 0};
  unsigned long long mapsize = 0;
  int bad = 0;
  if (is_mdb(j->fmt)) {
    fflush(out.f);
    patch = patchable(out.f, &start);
    if (!patch && (s = prepass_mapsize(j, sdb, &mapsize)) != STRATA_OK) {
      cli_db_err(cmd, "dump stopped", s);
      cli_out_finish(cmd, &out);
      strata_iter_destroy(it);
      return CLI_FAIL;
    }
    bad = fmt_dump_header(&out.buf, print, t->name, patch ? 1 : mapsize, patch);
  }

  for (strata_iter_seek_to_first(it); !bad && strata_iter_valid(it); strata_iter_next(it)) {
    if (cli_interrupted()) break;
    size_t klen, vlen;
    const char *k = strata_iter_key(it, &klen);
    const char *v = strata_iter_value(it, &vlen);
    size_t before = out.buf.len;
    switch (j->fmt) {
    case FMT_JSONL: bad = fmt_jsonl_pair(&out.buf, k, klen, v, vlen); break;
    case FMT_CDBMAKE: bad = fmt_cdbmake_pair(&out.buf, k, klen, v, vlen); break;
    default:
      /* Each line starts with one space: the format's mark of a data line. */
      mdb_map_add(&est, klen, vlen);
      bad = sbuf_putc(&out.buf, ' ') ||
            (print ? fmt_print(&out.buf, k, klen) : fmt_hex(&out.buf, k, klen)) ||
            sbuf_append(&out.buf, "\n ", 2) ||
            (print ? fmt_print(&out.buf, v, vlen) : fmt_hex(&out.buf, v, vlen)) ||
            sbuf_putc(&out.buf, '\n');
    }
    j->bytes += out.buf.len - before;
    j->records++;
    cli_progress_set(&j->pg, j->bytes, j->records);
    if (!bad && cli_out_flush(&out, 0)) break; /* reported by cli_out_finish */
  }
  s = strata_iter_status(it);
  if (cli_interrupted()) {
    rc = CLI_INTERRUPTED;
  } else if (bad) {
    cli_progress_clear(&j->pg);
    cli_err(cmd, "out of memory");
    rc = CLI_FAIL;
  } else if (s != STRATA_OK) {
    /* No end line is written, so a load of this output fails instead of
     * silently taking a partial dump for a whole one. */
    cli_progress_clear(&j->pg);
    cli_db_err(cmd, "dump stopped", s);
    rc = CLI_FAIL;
  } else if (is_mdb(j->fmt) ? sbuf_append(&out.buf, "DATA=END\n", 9)
                            : j->fmt == FMT_CDBMAKE && sbuf_putc(&out.buf, '\n')) {
    cli_err(cmd, "out of memory");
    rc = CLI_FAIL;
  }
  if (!rc && patch) {
    char num[24];
    snprintf(num, sizeof num, "%020llu", mdb_map_size(&est));
    off_t at = start + (off_t)fmt_dump_header_mapsize_at(print, t->name);
    if (cli_out_flush(&out, 1) || fflush(out.f) || pwrite(fileno(out.f), num, 20, at) != 20) {
      cli_err(cmd, "%s: cannot write the mapsize= line: %s", out.name, strerror(errno));
      rc = CLI_FAIL;
    }
  }
  int o = cli_out_finish(cmd, &out);
  if (!rc) rc = o;
  strata_iter_destroy(it);
  return rc;
}

/* ------------------------------------------------------------------------ */
/* The command                                                              */
/* ------------------------------------------------------------------------ */

static int set_format(const cli_cmd *cmd, int *fmt, int f) {
  if (*fmt >= 0 && *fmt != f)
    return cli_usage_error(cmd, "-p, --jsonl, --cdbmake and --format exclude each other");
  *fmt = f;
  return CLI_OK;
}

static int run_dump(const cli_cmd *cmd, int argc, char **argv) {
  static const struct option longopts[] = {{"print", no_argument, NULL, 'p'},
                                           {"file", required_argument, NULL, 'f'},
                                           {"jsonl", no_argument, NULL, OPT_JSONL},
                                           {"cdbmake", no_argument, NULL, OPT_CDBMAKE},
                                           {"format", required_argument, NULL, OPT_FORMAT},
                                           {"all", no_argument, NULL, 'a'},
                                           CLI_LONGOPT_ENV,
                                           CLI_LONGOPT_DB,
                                           CLI_LONGOPT_READ_ONLY,
                                           CLI_LONGOPT_QUIET,
                                           CLI_LONGOPT_PROGRESS,
                                           {"help", no_argument, NULL, 'h'},
                                           {NULL, 0, NULL, 0}};
  int fmt = -1, all = 0, c, rc;
  const char *file = NULL;
  cli_common co;
  cli_common_init(&co);
  opterr = 0;
  while ((c = getopt_long(argc, argv, ":pf:ae:d:rqh", longopts, NULL)) != -1) {
    if (cli_common_opt(&co, c, optarg)) continue;
    switch (c) {
    case 'p':
      if ((rc = set_format(cmd, &fmt, FMT_PRINT))) return rc;
      break;
    case OPT_JSONL:
      if ((rc = set_format(cmd, &fmt, FMT_JSONL))) return rc;
      break;
    case OPT_CDBMAKE:
      if ((rc = set_format(cmd, &fmt, FMT_CDBMAKE))) return rc;
      break;
    case OPT_FORMAT: {
      int f = -1;
      for (int i = 0; i < 4; i++)
        if (!strcmp(optarg, format_names[i])) f = i;
      if (f < 0)
        return cli_usage_error(
            cmd, "unknown --format '%s' (expected bytevalue, print, jsonl or cdbmake)", optarg);
      if ((rc = set_format(cmd, &fmt, f))) return rc;
      break;
    }
    case 'f': file = optarg; break;
    case 'a': all = 1; break;
    case 'h': return cli_help(cmd);
    default: return cli_bad_option(cmd, c, argv);
    }
  }
  if ((rc = cli_take_dbpath(cmd, &co, argc, argv, &optind))) return rc;
  int npairs = argc - optind;
  if (all && (npairs || co.subdb))
    return cli_usage_error(cmd, "-a dumps every database: no -d and no NAME=FILE with it");
  if (npairs && (co.subdb || file))
    return cli_usage_error(cmd, "NAME=FILE operands name their own files: no -d or -f with them");
  /* py-lmdb's dump writes cdbmake; so do its spellings here. */
  if (fmt < 0) fmt = (all || npairs) ? FMT_CDBMAKE : FMT_BYTEVALUE;

  dump_job j;
  memset(&j, 0, sizeof j);
  j.cmd = cmd;
  j.fmt = (out_format)fmt;
  for (int i = optind; i < argc; i++) {
    const char *eq = strchr(argv[i], '=');
    if (!eq || eq == argv[i] || !eq[1]) {
      rc = cli_usage_error(cmd, "'%s' is not NAME=FILE", argv[i]);
      goto out;
    }
    char *name = strndup(argv[i], (size_t)(eq - argv[i]));
    if (!name || add_target(&j, name, eq + 1)) {
      free(name);
      cli_err(cmd, "out of memory");
      rc = CLI_FAIL;
      goto out;
    }
    free(name);
    for (size_t k = 0; k + 1 < j.nt; k++) {
      if ((!j.t[k].name && !j.t[j.nt - 1].name) ||
          (j.t[k].name && j.t[j.nt - 1].name && !strcmp(j.t[k].name, j.t[j.nt - 1].name))) {
        rc = cli_usage_error(cmd, "database '%s' named twice", argv[i]);
        goto out;
      }
      if (!strcmp(j.t[k].file, j.t[j.nt - 1].file)) {
        rc = cli_usage_error(cmd, "file '%s' named twice", eq + 1);
        goto out;
      }
    }
  }

  if ((rc = cli_open_common(cmd, &co, CLI_OPEN_SHARED, &j.db))) goto out;
  if (all) {
    const char *dir = file ? file : ".";
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
      rc = cli_usage_error(cmd, "-a writes into a directory: '%s' is none (-f DIR)", dir);
      goto out;
    }
    all_ctx a = {&j, dir, 0};
    int s = add_all_one(&a, NULL) ? STRATA_ENOMEM : strata_subdb_list(j.db, add_all_one, &a);
    if (a.err || s) {
      cli_db_err(cmd, "listing sub-databases failed", a.err ? a.err : s);
      rc = CLI_FAIL;
      goto out;
    }
  } else if (j.nt == 0 && add_target(&j, co.subdb, file)) {
    cli_err(cmd, "out of memory");
    rc = CLI_FAIL;
    goto out;
  }

  /* Every sub-database must exist before any file is created, so a typo
   * leaves nothing behind. */
  strata_subdb **sdbs = calloc(j.nt ? j.nt : 1, sizeof *sdbs);
  if (!sdbs) {
    cli_err(cmd, "out of memory");
    rc = CLI_FAIL;
    goto out;
  }
  for (size_t i = 0; i < j.nt && !rc; i++)
    rc = cli_open_subdb(cmd, j.db, j.t[i].name, 0, &sdbs[i]);
  if (!rc) {
    /* One snapshot for all of them: the dumps agree with each other. */
    cli_interrupt_install();
    const strata_snapshot *snap = strata_snapshot_get(j.db);
    strata_read_options_init(&j.ro);
    j.ro.snapshot = snap;
    j.ro.fill_cache = 0; /* a dump reads everything once */
    cli_progress_begin(&j.pg, co.progress, "dump", CLI_UNIT_BYTES, 0);
    j.pg.extra_name = "records";
    for (size_t i = 0; i < j.nt && !rc; i++)
      rc = dump_target(&j, &j.t[i], sdbs[i]);
    cli_progress_end(&j.pg);
    if (snap) strata_snapshot_release(j.db, snap);
    if (rc == CLI_INTERRUPTED || cli_interrupted()) {
      /* Files of an interrupted dump are all removed: none is a dump. */
      for (size_t i = 0; i < j.nt; i++)
        if (j.t[i].created) unlink(j.t[i].file);
      cli_err(cmd, "interrupted; the files it was writing were removed");
      rc = CLI_INTERRUPTED;
    }
  }
  free(sdbs);

out:
  strata_close(j.db);
  for (size_t i = 0; i < j.nt; i++) {
    free(j.t[i].name);
    free(j.t[i].file);
  }
  free(j.t);
  return rc;
}

const cli_cmd cli_cmd_dump = {
    "dump", "write databases as text (mdb_dump, JSON lines or py-lmdb's cdbmake format)",
    "usage: strata dump [FORMAT] [-d NAME] [-f FILE] [-r] [-q | --progress] DBPATH\n"
    "       strata dump [FORMAT] [-r] [-q | --progress] DBPATH NAME=FILE...\n"
    "       strata dump [FORMAT] -a [-f DIR] [-r] [-q | --progress] DBPATH\n"
    "\n"
    "Writes every key and value of a database, in key order. The first form\n"
    "dumps the main database (or sub-database NAME) to standard output or\n"
    "FILE. The second writes each named database to its FILE (:main: names\n"
    "the main database), as py-lmdb's 'dump db1=file1 db2=file2'. The third\n"
    "writes every database into directory DIR (default: the current one):\n"
    "the main database to main.EXT and each sub-database to NAME.EXT, where\n"
    "EXT is cdbmake, dump or jsonl, and a NAME byte other than a letter,\n"
    "digit, '_', '-' or a non-leading '.' is written %XX (a sub-database\n"
    "called main goes to %6Dain.EXT). All of them are read from one snapshot,\n"
    "so they agree with each other.\n"
    "\n"
    "FORMAT is --format F or a shorthand; the default is bytevalue in the\n"
    "first form and cdbmake in the other two (py-lmdb's dump format):\n"
    "  --format bytevalue  the text format of Berkeley DB's db_dump and LMDB's\n"
    "                      mdb_dump, which 'strata load' and 'mdb_load' read:\n"
    "                          VERSION=3\n"
    "                          format=bytevalue\n"
    "                          database=NAME          (for a sub-database)\n"
    "                          type=btree\n"
    "                          mapsize=N              (see below)\n"
    "                          HEADER=END\n"
    "                           <key>                 a key line, then a value\n"
    "                           <value>               line, each after a space\n"
    "                          ...\n"
    "                          DATA=END\n"
    "                      Each byte is two lowercase hex digits.\n"
    "  -p, --format print  the same with format=print: printable ASCII as\n"
    "                      itself, a backslash as \\\\, any other byte as a\n"
    "                      backslash and two lowercase hex digits (\\0a).\n"
    "  --jsonl, --format jsonl\n"
    "                      one object per pair and line:\n"
    "                          {\"key\":\"...\",\"value\":\"...\"}\n"
    "                      A key or value that is not valid UTF-8 is written as\n"
    "                      \"key_b64\" or \"value_b64\" holding its base64 (RFC\n"
    "                      4648, padded) instead. No header and no end line.\n"
    "  --cdbmake, --format cdbmake\n"
    "                      py-lmdb's format (cdbmake's input format): a record\n"
    "                          +KLEN,DLEN:KEY->DATA\n"
    "                      per pair, KLEN and DLEN the decimal byte counts and\n"
    "                      KEY and DATA the raw bytes, then one empty line.\n"
    "\n"
    "mapsize=N is the LMDB map size mdb_load needs for the data (estimated\n"
    "from LMDB's page layout with room for half-full pages): mdb_load has no\n"
    "other way to size its map, and fails with MDB_MAP_FULL past 1 MiB\n"
    "without it. Written to a regular file, N is filled in at the end (20\n"
    "digits, zero-padded); to a pipe, a first pass over the same snapshot\n"
    "computes it. The data lines are byte-for-byte what mdb_dump prints for\n"
    "the same pairs, with one exception: mdb_dump -p leaves a backslash\n"
    "unescaped (which mdb_load then misreads); strata writes \\\\ as db_dump\n"
    "does. mdb_dump's other LMDB lines (maxreaders=, db_pagesize=) are not\n"
    "written.\n"
    "\n"
    "Options:\n"
    "  -d, --db NAME      dump sub-database NAME (:main: = main database).\n"
    "  -f, --file FILE    write to FILE (created or truncated) instead of\n"
    "                     standard output; with -a, the directory.\n"
    "  -a, --all          dump every database (third form).\n"
    "  -e, --env DBPATH   the database (instead of the DBPATH operand).\n"
    "  -r, --read-only    open read-only, beside a writer in another process\n"
    "                     (done anyway when another process holds the lock).\n"
    "  -q, --quiet        no progress line.\n"
    "  --progress         a progress line (bytes written, records, rate) on\n"
    "                     standard error even when it is not a terminal.\n"
    "  -h, --help         print this help.\n"
    "\n"
    "A sub-database that does not exist is an error, reported before any file\n"
    "is created. If reading fails part way, the error is reported, the exit\n"
    "status is 1 and the end line (DATA=END, or cdbmake's empty line) is not\n"
    "written, so loading the truncated output fails rather than passing for\n"
    "complete. Interrupted (Ctrl-C), dump removes every file it created and\n"
    "exits with status 130.\n",
    run_dump};
