/*
 * cmd_copy.c - strata copy, copyfd and rewrite: consistent copies of a
 * database that may be in use.
 *
 *   copy      a checkpoint (strata_checkpoint: tables hard-linked on the
 *             same file system); with --compact, or when another process
 *             holds the database, a rewrite from one snapshot
 *   copyfd    a checkpoint streamed as a tar archive (libarchive, POSIX
 *             pax format) to a file descriptor; copy DB - is copyfd to 1
 *   rewrite   every database (or the named ones) re-created by sorted bulk
 *             load (strata_loader_*) from one snapshot: no dead entries,
 *             nothing left to compact
 *
 * A destination these commands create is removed again when they fail or
 * are interrupted, so a DEST that exists afterwards is complete.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

enum { OPT_COMPACT = 0x100, OPT_OUT_FD };

/* ------------------------------------------------------------------------ */
/* Rewrite by sorted bulk load                                              */
/* ------------------------------------------------------------------------ */

typedef struct names {
  char **v;
  size_t n;
} names;

static int names_add(names *ns, const char *name) {
  char **v = realloc(ns->v, (ns->n + 1) * sizeof *v);
  if (!v) return -1;
  ns->v = v;
  if (!(v[ns->n] = strdup(name))) return -1;
  ns->n++;
  return 0;
}

static void names_free(names *ns) {
  for (size_t i = 0; i < ns->n; i++)
    free(ns->v[i]);
  free(ns->v);
  ns->v = NULL;
  ns->n = 0;
}

static int list_one(void *arg, const char *name) {
  return names_add(arg, name) ? STRATA_ENOMEM : 0;
}

/* Bulk-loads one database (sdb NULL: main) of src, as of ro's snapshot,
 * into dsdb of dst. */
static int load_one(const cli_cmd *cmd, strata_db *src, strata_subdb *sdb,
                    const strata_read_options *ro, strata_db *dst, strata_subdb *dsdb,
                    cli_progress *pg, unsigned long long *records, unsigned long long *bytes) {
  strata_iter *it = NULL;
  strata_loader *l = NULL;
  int s = strata_iter_create_in(src, sdb, ro, &it);
  if (s == STRATA_OK) s = strata_loader_create(dst, dsdb, &l);
  if (s != STRATA_OK) {
    cli_progress_clear(pg);
    cli_db_err(cmd, "cannot start the copy", s);
    strata_iter_destroy(it);
    return CLI_FAIL;
  }
  int rc = CLI_OK;
  for (strata_iter_seek_to_first(it); strata_iter_valid(it); strata_iter_next(it)) {
    if (cli_interrupted()) {
      rc = CLI_INTERRUPTED;
      break;
    }
    size_t klen, vlen;
    const char *k = strata_iter_key(it, &klen);
    const char *v = strata_iter_value(it, &vlen);
    s = strata_loader_add(l, k, klen, v, vlen);
    if (s != STRATA_OK) {
      cli_progress_clear(pg);
      cli_db_err(cmd, "bulk load failed", s);
      rc = CLI_FAIL;
      break;
    }
    ++*records;
    *bytes += klen + vlen;
    cli_progress_set(pg, *records, *bytes);
  }
  if (!rc && (s = strata_iter_status(it)) != STRATA_OK) {
    cli_progress_clear(pg);
    cli_db_err(cmd, "reading the source failed", s);
    rc = CLI_FAIL;
  }
  if (!rc && (s = strata_loader_finish(l)) != STRATA_OK) {
    cli_progress_clear(pg);
    cli_db_err(cmd, "bulk load failed", s);
    rc = CLI_FAIL;
  }
  strata_loader_destroy(l);
  strata_iter_destroy(it);
  return rc;
}

/* Creates dest (which must not exist) holding the databases `only` of src
 * (NULL: the main database and every sub-database), from one snapshot, by
 * sorted bulk load. Removes dest on failure or interruption. */
static int bulk_copy(const cli_cmd *cmd, strata_db *src, const char *dest, const names *only,
                     int progress) {
  names all = {NULL, 0};
  int rc = CLI_OK, s;
  if (!only) {
    /* The main database first, then the sub-databases in name order. */
    if (names_add(&all, CLI_MAIN_NAME) ||
        (s = strata_subdb_list(src, list_one, &all)) == STRATA_ENOMEM) {
      names_free(&all);
      cli_err(cmd, "out of memory");
      return CLI_FAIL;
    }
    if (s != STRATA_OK) {
      names_free(&all);
      cli_db_err(cmd, "listing sub-databases failed", s);
      return CLI_FAIL;
    }
    only = &all;
  }
  strata_subdb **sdbs = calloc(only->n + 1, sizeof *sdbs);
  if (!sdbs) {
    names_free(&all);
    cli_err(cmd, "out of memory");
    return CLI_FAIL;
  }
  for (size_t i = 0; i < only->n && !rc; i++)
    rc = cli_open_subdb(cmd, src, only->v[i], 0, &sdbs[i]);
  strata_db *dst = NULL;
  if (!rc) {
    strata_options opt;
    strata_options_init(&opt);
    opt.create_if_missing = 1;
    opt.error_if_exists = 1;
    s = strata_open(dest, &opt, &dst);
    if (s != STRATA_OK) {
      cli_db_err(cmd, "cannot create the destination", s);
      rc = CLI_FAIL;
    }
  }
  if (!rc) {
    cli_interrupt_install();
    const strata_snapshot *snap = strata_snapshot_get(src);
    strata_read_options ro;
    strata_read_options_init(&ro);
    ro.snapshot = snap;
    ro.fill_cache = 0;
    cli_progress pg;
    cli_progress_begin(&pg, progress, cmd->name, CLI_UNIT_RECORDS, 0);
    pg.extra_name = "bytes of keys and values";
    unsigned long long records = 0, bytes = 0;
    for (size_t i = 0; i < only->n && !rc; i++) {
      strata_subdb *dsdb = NULL;
      if (!cli_is_main(only->v[i]) && (rc = cli_open_subdb(cmd, dst, only->v[i], 1, &dsdb))) break;
      rc = load_one(cmd, src, sdbs[i], &ro, dst, dsdb, &pg, &records, &bytes);
    }
    cli_progress_end(&pg);
    if (snap) strata_snapshot_release(src, snap);
    if (cli_interrupted()) rc = CLI_INTERRUPTED;
  }
  if (dst) {
    strata_close(dst); /* what the loaders added is synced at their finish */
    if (rc) cli_remove_tree(dest);
  }
  if (rc == CLI_INTERRUPTED) cli_err(cmd, "interrupted; %s was removed", dest);
  free(sdbs);
  names_free(&all);
  return rc;
}

/* ------------------------------------------------------------------------ */
/* Checkpoints                                                              */
/* ------------------------------------------------------------------------ */

/* The consistent copy of a database: a checkpoint (a read-only handle --
 * another process holds the database -- checkpoints the state it opened),
 * or with compact a rewrite from one snapshot. */
static int copy_to(const cli_cmd *cmd, strata_db *db, int read_only, const char *dest, int compact,
                   int progress) {
  (void)read_only;
  if (compact) return bulk_copy(cmd, db, dest, NULL, progress);
  cli_progress pg;
  cli_progress_begin(&pg, progress, cmd->name, CLI_UNIT_BYTES, 0);
  cli_progress_tick_start(&pg);
  int s = strata_checkpoint(db, dest);
  cli_progress_end(&pg);
  if (s != STRATA_OK) {
    cli_db_err(cmd, "checkpoint failed", s);
    return CLI_FAIL;
  }
  return CLI_OK;
}

/* ------------------------------------------------------------------------ */
/* Tar streams                                                              */
/* ------------------------------------------------------------------------ */

static int by_name(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Writes directory dir (flat: a database has no subdirectory) as entries
 * "<top>/" and "<top>/<file>" of a pax archive on fd. */
static int tar_dir(const cli_cmd *cmd, const char *dir, const char *top, int fd, int progress) {
  DIR *d = opendir(dir);
  if (!d) {
    cli_err(cmd, "%s: %s", dir, strerror(errno));
    return CLI_FAIL;
  }
  names files = {NULL, 0};
  struct dirent *de;
  int rc = CLI_OK;
  while ((de = readdir(d)))
    if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..") && names_add(&files, de->d_name))
      rc = CLI_FAIL;
  closedir(d);
  if (rc) {
    names_free(&files);
    cli_err(cmd, "out of memory");
    return rc;
  }
  if (files.n > 1) qsort(files.v, files.n, sizeof *files.v, by_name);
  unsigned long long total = 0;
  struct stat st;
  char *path = malloc(strlen(dir) + 512);
  char *name = malloc(strlen(top) + 512);
  char *buf = malloc(1 << 20);
  if (!path || !name || !buf) {
    free(path), free(name), free(buf);
    names_free(&files);
    cli_err(cmd, "out of memory");
    return CLI_FAIL;
  }
  for (size_t i = 0; i < files.n; i++) {
    snprintf(path, strlen(dir) + 512, "%s/%s", dir, files.v[i]);
    if (stat(path, &st) == 0) total += (unsigned long long)st.st_size;
  }
  struct archive *a = archive_write_new();
  struct archive_entry *e = archive_entry_new();
  if (!a || !e || archive_write_set_format_pax_restricted(a) != ARCHIVE_OK ||
      archive_write_open_fd(a, fd) != ARCHIVE_OK) {
    cli_err(cmd, "cannot start the tar stream: %s", a ? archive_error_string(a) : "out of memory");
    rc = CLI_FAIL;
  }
  cli_progress pg;
  cli_progress_begin(&pg, progress, cmd->name, CLI_UNIT_BYTES, total);
  unsigned long long done = 0;
  time_t now = time(NULL);
  if (!rc) {
    snprintf(name, strlen(top) + 512, "%s/", top);
    archive_entry_set_pathname(e, name);
    archive_entry_set_filetype(e, AE_IFDIR);
    archive_entry_set_perm(e, 0755);
    archive_entry_set_mtime(e, now, 0);
    if (archive_write_header(a, e) != ARCHIVE_OK) {
      cli_err(cmd, "tar stream: %s", archive_error_string(a));
      rc = CLI_FAIL;
    }
  }
  for (size_t i = 0; i < files.n && !rc; i++) {
    snprintf(path, strlen(dir) + 512, "%s/%s", dir, files.v[i]);
    int in = open(path, O_RDONLY | O_CLOEXEC);
    if (in < 0 || fstat(in, &st) != 0) {
      cli_progress_clear(&pg);
      cli_err(cmd, "%s: %s", path, strerror(errno));
      if (in >= 0) close(in);
      rc = CLI_FAIL;
      break;
    }
    archive_entry_clear(e);
    snprintf(name, strlen(top) + 512, "%s/%s", top, files.v[i]);
    archive_entry_set_pathname(e, name);
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0644);
    archive_entry_set_size(e, st.st_size);
    archive_entry_set_mtime(e, st.st_mtime, 0);
    if (archive_write_header(a, e) != ARCHIVE_OK) {
      cli_progress_clear(&pg);
      cli_err(cmd, "tar stream: %s", archive_error_string(a));
      close(in);
      rc = CLI_FAIL;
      break;
    }
    ssize_t n;
    while (!rc && (n = read(in, buf, 1 << 20)) > 0) {
      if (cli_interrupted())
        rc = CLI_INTERRUPTED;
      else if (archive_write_data(a, buf, (size_t)n) != n) {
        cli_progress_clear(&pg);
        cli_err(cmd, "tar stream: %s", archive_error_string(a));
        rc = CLI_FAIL;
      }
      done += (unsigned long long)n;
      cli_progress_update(&pg, done, 0);
    }
    if (!rc && n < 0) {
      cli_err(cmd, "%s: read error: %s", path, strerror(errno));
      rc = CLI_FAIL;
    }
    close(in);
  }
  /* The end-of-archive blocks only after every file: an interrupted or
   * failed stream fails 'tar x' instead of passing for a whole copy. */
  if (a && !rc && archive_write_close(a) != ARCHIVE_OK) {
    cli_err(cmd, "tar stream: %s", archive_error_string(a));
    rc = CLI_FAIL;
  }
  pg.done = done;
  cli_progress_end(&pg);
  if (a) archive_write_free(a);
  if (e) archive_entry_free(e);
  free(path), free(name), free(buf);
  names_free(&files);
  return rc;
}

/* Makes a copy in a temporary directory beside the database (so tables are
 * hard-linked), streams it as tar to fd, removes it. */
static int copy_to_fd(const cli_cmd *cmd, strata_db *db, int read_only, const char *dbpath, int fd,
                      int compact, int progress) {
  char *p1 = strdup(dbpath), *p2 = strdup(dbpath);
  if (!p1 || !p2) {
    free(p1), free(p2);
    cli_err(cmd, "out of memory");
    return CLI_FAIL;
  }
  const char *parent = dirname(p1), *top = basename(p2);
  if (!strcmp(top, "/") || !strcmp(top, ".") || !strcmp(top, "..")) top = "db";
  const char *tmpdir = getenv("TMPDIR");
  char *tmp = malloc(strlen(parent) + strlen(tmpdir ? tmpdir : "/tmp") + 64);
  char *dest = NULL;
  int rc = CLI_OK;
  if (tmp) {
    sprintf(tmp, "%s/.strata-copy-XXXXXX", parent);
    if (!mkdtemp(tmp)) {
      /* No room beside the database: a copy in TMPDIR then. */
      sprintf(tmp, "%s/strata-copy-XXXXXX", tmpdir ? tmpdir : "/tmp");
      if (!mkdtemp(tmp)) {
        cli_err(cmd, "cannot make a temporary directory: %s", strerror(errno));
        rc = CLI_FAIL;
      }
    }
  }
  if (!tmp || !(dest = malloc(strlen(tmp) + strlen(top) + 2))) {
    cli_err(cmd, "out of memory");
    rc = CLI_FAIL;
  }
  if (!rc) {
    sprintf(dest, "%s/%s", tmp, top);
    cli_interrupt_install();
    rc = copy_to(cmd, db, read_only, dest, compact, CLI_PROGRESS_OFF);
    if (!rc && !cli_interrupted()) rc = tar_dir(cmd, dest, top, fd, progress);
    if (cli_interrupted()) {
      cli_err(cmd, "interrupted; the tar stream is incomplete (tar reports its end missing)");
      rc = CLI_INTERRUPTED;
    }
  }
  if (tmp && cli_exists(tmp)) cli_remove_tree(tmp);
  free(tmp), free(dest), free(p1), free(p2);
  return rc;
}

/* ------------------------------------------------------------------------ */
/* The commands                                                             */
/* ------------------------------------------------------------------------ */

static int parse_fd(const char *s, int *fd) {
  unsigned long long v;
  if (cli_parse_count(s, &v) || v > 1 << 20) return -1;
  *fd = (int)v;
  return 0;
}

static int run_copy_like(const cli_cmd *cmd, int argc, char **argv, int is_copyfd) {
  static const struct option longopts[] = {{"compact", no_argument, NULL, OPT_COMPACT},
                                           {"out-fd", required_argument, NULL, OPT_OUT_FD},
                                           CLI_LONGOPT_ENV,
                                           CLI_LONGOPT_READ_ONLY,
                                           CLI_LONGOPT_QUIET,
                                           CLI_LONGOPT_PROGRESS,
                                           {"help", no_argument, NULL, 'h'},
                                           {NULL, 0, NULL, 0}};
  int compact = 0, fd = -1, c;
  cli_common co;
  cli_common_init(&co);
  opterr = 0;
  while ((c = getopt_long(argc, argv, ":e:rqh", longopts, NULL)) != -1) {
    if (cli_common_opt(&co, c, optarg)) continue;
    switch (c) {
    case OPT_COMPACT: compact = 1; break;
    case OPT_OUT_FD:
      if (!is_copyfd)
        return cli_usage_error(cmd, "--out-fd belongs to copyfd (copy DB - writes to 1)");
      if (parse_fd(optarg, &fd))
        return cli_usage_error(cmd, "--out-fd wants a file descriptor number, not '%s'", optarg);
      break;
    case 'h': return cli_help(cmd);
    default: return cli_bad_option(cmd, c, argv);
    }
  }
  int rc = cli_take_dbpath(cmd, &co, argc, argv, &optind);
  if (rc) return rc;
  const char *dest = NULL;
  if (is_copyfd) {
    if ((rc = cli_operands(cmd, argc, optind, 0, 0, "DBPATH (the archive goes to --out-fd)")))
      return rc;
    if (fd < 0) fd = STDOUT_FILENO;
  } else {
    if ((rc = cli_operands(cmd, argc, optind, 1, 1, "DBPATH DEST"))) return rc;
    dest = argv[optind];
    if (!strcmp(dest, "-")) fd = STDOUT_FILENO;
  }
  if (fd >= 0) {
    if (fcntl(fd, F_GETFL) < 0) return cli_usage_error(cmd, "--out-fd %d: %s", fd, strerror(errno));
    if (isatty(fd)) {
      cli_err(cmd, "not writing a tar archive to a terminal (redirect it to a file or a pipe)");
      return CLI_FAIL;
    }
  } else if (cli_exists(dest)) {
    cli_err(cmd, "%s exists (the copy goes to a new directory)", dest);
    return CLI_FAIL;
  }
  strata_db *db;
  int ro = 0;
  if ((rc = cli_open_ex(cmd, co.dbpath, co.read_only ? CLI_OPEN_READ_ONLY : CLI_OPEN_SHARED, &db,
                        &ro)))
    return rc;
  if (fd >= 0) {
    rc = copy_to_fd(cmd, db, ro, co.dbpath, fd, compact, co.progress);
  } else {
    cli_interrupt_install();
    rc = copy_to(cmd, db, ro, dest, compact, co.progress);
    if (cli_interrupted() && rc != CLI_INTERRUPTED) {
      /* Interrupted during the checkpoint, which ran to its end. */
      if (cli_exists(dest)) cli_remove_tree(dest);
      cli_err(cmd, "interrupted; %s was removed", dest);
      rc = CLI_INTERRUPTED;
    }
  }
  strata_close(db);
  return rc;
}

static int run_copy(const cli_cmd *cmd, int argc, char **argv) {
  return run_copy_like(cmd, argc, argv, 0);
}

static int run_copyfd(const cli_cmd *cmd, int argc, char **argv) {
  return run_copy_like(cmd, argc, argv, 1);
}

static int run_rewrite(const cli_cmd *cmd, int argc, char **argv) {
  static const struct option longopts[] = {{"target-env", required_argument, NULL, 'E'},
                                           CLI_LONGOPT_ENV,
                                           CLI_LONGOPT_READ_ONLY,
                                           CLI_LONGOPT_QUIET,
                                           CLI_LONGOPT_PROGRESS,
                                           {"help", no_argument, NULL, 'h'},
                                           {NULL, 0, NULL, 0}};
  const char *dest = NULL;
  int c;
  cli_common co;
  cli_common_init(&co);
  opterr = 0;
  while ((c = getopt_long(argc, argv, ":E:e:rqh", longopts, NULL)) != -1) {
    if (cli_common_opt(&co, c, optarg)) continue;
    switch (c) {
    case 'E': dest = optarg; break;
    case 'h': return cli_help(cmd);
    default: return cli_bad_option(cmd, c, argv);
    }
  }
  int rc = cli_take_dbpath(cmd, &co, argc, argv, &optind);
  if (rc) return rc;
  if (!dest) {
    if ((rc = cli_operands(cmd, argc, optind, 1, 1 << 30, "DBPATH DEST [NAME...]"))) return rc;
    dest = argv[optind++];
  }
  if (!*dest) return cli_usage_error(cmd, "DEST is empty");
  if (cli_exists(dest)) {
    cli_err(cmd, "%s exists (rewrite creates a new database)", dest);
    return CLI_FAIL;
  }
  names only = {NULL, 0};
  for (int i = optind; i < argc; i++) {
    for (size_t k = 0; k < only.n; k++)
      if (!strcmp(only.v[k], cli_is_main(argv[i]) ? CLI_MAIN_NAME : argv[i])) {
        names_free(&only);
        return cli_usage_error(cmd, "database '%s' named twice", argv[i]);
      }
    if (names_add(&only, cli_is_main(argv[i]) ? CLI_MAIN_NAME : argv[i])) {
      names_free(&only);
      cli_err(cmd, "out of memory");
      return CLI_FAIL;
    }
  }
  strata_db *db;
  if (!(rc = cli_open_common(cmd, &co, CLI_OPEN_SHARED, &db))) {
    rc = bulk_copy(cmd, db, dest, only.n ? &only : NULL, co.progress);
    strata_close(db);
  }
  names_free(&only);
  return rc;
}

const cli_cmd cli_cmd_copy = {
    "copy", "a consistent hot backup (checkpoint), or a tar stream with DEST '-'",
    "usage: strata copy [--compact] [-r] [-q | --progress] DBPATH DEST\n"
    "       strata copy [--compact] [-r] DBPATH - > backup.tar\n"
    "\n"
    "Makes a consistent copy of the database in DEST, a directory that must\n"
    "not exist, while other threads or processes may keep writing to the\n"
    "database: every write acknowledged before the copy began is in it, and\n"
    "of later ones at most a prefix, never part of a batch. The copy has\n"
    "every sub-database, opens in Strata and in LevelDB 1.23, and shares\n"
    "nothing with the source that either could change.\n"
    "\n"
    "How: a checkpoint (strata_checkpoint): the immutable tables are\n"
    "hard-linked when DEST is on the same file system (a copy of any size in\n"
    "well under a second), copied at disk speed otherwise, and the memtable\n"
    "is written into one new table. When another process holds the database\n"
    "(a writer has its LOCK), it is opened read-only and the copy is of the\n"
    "state it finds at that open, made the same way (a table the writer\n"
    "deletes meanwhile is copied from the descriptor the reader holds).\n"
    "\n"
    "With DEST '-' the copy is written to standard output as a tar archive\n"
    "(POSIX pax format, Debian's libarchive) holding one directory named as\n"
    "DBPATH's last component; 'tar x' unpacks it into an openable database.\n"
    "The copy is first made in a temporary directory beside DBPATH (or in\n"
    "TMPDIR) and removed after. Same as 'strata copyfd'.\n"
    "\n"
    "  --compact          write a fully compacted copy by sorted bulk load\n"
    "                     from one snapshot (as 'strata rewrite'): no deleted\n"
    "                     or overwritten entries, one sorted run per database.\n"
    "  -r, --read-only    open read-only (as when another process holds it).\n"
    "  -e, --env DBPATH   the database (instead of the DBPATH operand).\n"
    "  -q, --quiet        no progress line.\n"
    "  --progress         the progress line even when stderr is no terminal.\n"
    "  -h, --help         print this help.\n"
    "\n"
    "Exit status: 0 the copy is complete; 1 it failed (DEST exists, no\n"
    "database, I/O error; a partial DEST is removed); 2 bad usage; 130\n"
    "interrupted (DEST removed; a tar stream is left without its end, which\n"
    "tar reports).\n",
    run_copy};

const cli_cmd cli_cmd_copyfd = {
    "copyfd", "a consistent hot backup as a tar stream to a file descriptor",
    "usage: strata copyfd [--out-fd N] [--compact] [-r] [-q | --progress] DBPATH\n"
    "\n"
    "py-lmdb's copyfd: writes a consistent copy of the database, as a tar\n"
    "archive, to file descriptor N (default 1, standard output), e.g.\n"
    "\n"
    "    strata copyfd DBPATH | ssh host 'tar x -C /backups'\n"
    "    strata copyfd --out-fd 3 DBPATH 3>backup.tar\n"
    "\n"
    "The archive and the copy are as for 'strata copy DBPATH -' (see 'strata\n"
    "copy --help'). Refuses to write to a terminal.\n"
    "\n"
    "  --out-fd N         write the archive to descriptor N (open for writing).\n"
    "  --compact          archive a compacted copy (sorted bulk load).\n"
    "  -r, --read-only    open read-only (as when another process holds it).\n"
    "  -e, --env DBPATH   the database (instead of the DBPATH operand).\n"
    "  -q, --quiet        no progress line.\n"
    "  --progress         the progress line (bytes archived of the copy's\n"
    "                     total, rate, time left) even when stderr is no\n"
    "                     terminal.\n"
    "  -h, --help         print this help.\n"
    "\n"
    "Exit status: as for copy.\n",
    run_copyfd};

const cli_cmd cli_cmd_rewrite = {
    "rewrite", "re-create a database by sorted bulk load: no dead entries",
    "usage: strata rewrite [-r] [-q | --progress] DBPATH DEST [NAME...]\n"
    "       strata rewrite -E DEST [-r] [-q | --progress] DBPATH [NAME...]\n"
    "\n"
    "Creates the database DEST (which must not exist) holding what DBPATH\n"
    "holds, read from one snapshot and written by sorted bulk load\n"
    "(strata_loader_*): tables built straight from the sorted keys, no\n"
    "write-ahead log, no deleted or overwritten entries, nothing left for a\n"
    "compaction to do. Without NAMEs it copies the main database and every\n"
    "sub-database; with them only those (:main: = the main database).\n"
    "py-lmdb's rewrite copies only the main database when given no names;\n"
    "here all of them are copied.\n"
    "\n"
    "  -E, --target-env DEST  the destination (py-lmdb's spelling), instead of\n"
    "                     the DEST operand.\n"
    "  -r, --read-only    open DBPATH read-only (done anyway when another\n"
    "                     process holds it).\n"
    "  -e, --env DBPATH   the database (instead of the DBPATH operand).\n"
    "  -q, --quiet        no progress line.\n"
    "  --progress         the progress line (records, bytes, rate) even when\n"
    "                     stderr is no terminal.\n"
    "  -h, --help         print this help.\n"
    "\n"
    "Exit status: 0 DEST is complete; 1 failed (DEST exists, a NAME does not,\n"
    "I/O error; a partial DEST is removed); 2 bad usage; 130 interrupted\n"
    "(DEST removed).\n",
    run_rewrite};
