/*
 * cmd_warm.c - strata warm: read every table of a database once, in order,
 * so that later reads find it in the page cache (py-lmdb's warm).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

typedef struct table_file {
  unsigned long long number;
  unsigned long long size;
  char *path;
} table_file;

static int by_number(const void *a, const void *b) {
  const table_file *x = a, *y = b;
  return x->number < y->number ? -1 : x->number > y->number;
}

/* "<number>.ldb" or "<number>.sst": LevelDB's table file names. */
static int table_number(const char *name, unsigned long long *n) {
  char *end;
  if (*name < '0' || *name > '9') return 0;
  errno = 0;
  *n = strtoull(name, &end, 10);
  return !errno && (!strcmp(end, ".ldb") || !strcmp(end, ".sst"));
}

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int run_warm(const cli_cmd *cmd, int argc, char **argv) {
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
  /* Not opened: warm reads files only, so it runs beside a writer; but it
   * must be a database. */
  size_t plen = strlen(path);
  char *cur = malloc(plen + sizeof "/CURRENT");
  if (!cur) {
    cli_err(cmd, "out of memory");
    return CLI_FAIL;
  }
  sprintf(cur, "%s/CURRENT", path);
  struct stat st;
  int have = stat(cur, &st) == 0;
  free(cur);
  if (!have) {
    if (!cli_exists(path))
      cli_err(cmd, "%s: no such database", path);
    else
      cli_err(cmd, "%s: not a database (no CURRENT file)", path);
    return CLI_FAIL;
  }

  DIR *d = opendir(path);
  if (!d) {
    cli_err(cmd, "%s: %s", path, strerror(errno));
    return CLI_FAIL;
  }
  table_file *t = NULL;
  size_t nt = 0;
  unsigned long long total = 0;
  struct dirent *de;
  while ((de = readdir(d))) {
    unsigned long long num;
    if (!table_number(de->d_name, &num)) continue;
    table_file *nt2 = realloc(t, (nt + 1) * sizeof *t);
    char *p = malloc(plen + strlen(de->d_name) + 2);
    if (!nt2 || !p) {
      free(p);
      if (nt2) t = nt2;
      rc = CLI_FAIL;
      cli_err(cmd, "out of memory");
      break;
    }
    t = nt2;
    sprintf(p, "%s/%s", path, de->d_name);
    /* A table compacted away since the listing is skipped below. */
    t[nt].number = num;
    t[nt].path = p;
    t[nt].size = stat(p, &st) == 0 ? (unsigned long long)st.st_size : 0;
    total += t[nt].size;
    nt++;
  }
  closedir(d);
  if (nt > 1) qsort(t, nt, sizeof *t, by_number);

  cli_interrupt_install();
  cli_progress pg;
  cli_progress_begin(&pg, co.progress, "warm", CLI_UNIT_BYTES, total);
  enum { BUF = 1 << 20 };
  char *buf = rc ? NULL : malloc(BUF);
  if (!rc && !buf) {
    cli_err(cmd, "out of memory");
    rc = CLI_FAIL;
  }
  unsigned long long done = 0;
  size_t files = 0;
  double t0 = now();
  for (size_t i = 0; i < nt && !rc && !cli_interrupted(); i++) {
    int fd = open(t[i].path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      if (errno == ENOENT) continue; /* compacted away meanwhile */
      cli_progress_clear(&pg);
      cli_err(cmd, "%s: %s", t[i].path, strerror(errno));
      rc = CLI_FAIL;
      break;
    }
    posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    ssize_t n;
    while ((n = read(fd, buf, BUF)) > 0 && !cli_interrupted()) {
      done += (unsigned long long)n;
      cli_progress_update(&pg, done, 0);
    }
    if (n < 0) {
      cli_progress_clear(&pg);
      cli_err(cmd, "%s: read error: %s", t[i].path, strerror(errno));
      rc = CLI_FAIL;
    }
    close(fd);
    files++;
  }
  double secs = now() - t0;
  pg.done = done;
  cli_progress_end(&pg);
  if (cli_interrupted()) {
    cli_err(cmd, "interrupted");
    rc = CLI_INTERRUPTED;
  } else if (!rc) {
    printf("warmed %.2f MiB in %zu tables in %.0f ms (%.1f MiB/s)\n", (double)done / 1048576.0,
           files, secs * 1000, secs > 0 ? (double)done / 1048576.0 / secs : 0.0);
    if (fflush(stdout)) rc = CLI_FAIL;
  }
  free(buf);
  for (size_t i = 0; i < nt; i++)
    free(t[i].path);
  free(t);
  return rc;
}

const cli_cmd cli_cmd_warm = {
    "warm", "read every table into the page cache, sequentially",
    "usage: strata warm [-q | --progress] DBPATH\n"
    "\n"
    "Reads every table file of the database (NNNNNN.ldb and .sst), whole and in\n"
    "file-number order, so that later reads of the database find its blocks in\n"
    "the operating system's page cache (py-lmdb's warm). Opens no database and\n"
    "takes no lock, so it runs beside a process using the database; a table\n"
    "removed by a compaction meanwhile is skipped. Prints at the end\n"
    "\n"
    "    warmed <MiB> MiB in <N> tables in <ms> ms (<rate> MiB/s)\n"
    "\n"
    "and shows a progress line on a terminal (bytes of the tables' total,\n"
    "rate, time left). The page cache may drop the data again under memory\n"
    "pressure; warm cannot pin it.\n"
    "\n"
    "  -e, --env DBPATH   the database (instead of the DBPATH operand).\n"
    "  -q, --quiet        no progress line.\n"
    "  --progress         the progress line even when stderr is no terminal.\n"
    "  -h, --help         print this help.\n"
    "\n"
    "Exit status: 0 done; 1 no database at DBPATH or a read error; 2 bad\n"
    "usage; 130 interrupted.\n",
    run_warm};
