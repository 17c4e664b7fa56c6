/*
 * cmd_watch.c - strata watch: live statistics of a database that another
 * process is using (py-lmdb's watch), through a read-only open that
 * catches up with the writer before every sample.
 *
 * What a read-only handle can see of another process: the writer's
 * sequence number (strata.last-sequence: one per put or delete, so its
 * growth is writes), the tables of every level, the write-ahead log files
 * (their growth is the bytes written to the log), and the tables that
 * appear (flushes and compactions) and disappear (compacted away). It
 * cannot see the writer's reads: there is no reads/s column.
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
#include <time.h>
#include <unistd.h>

#include "cli.h"

enum { OPT_INTERVAL = 0x100, OPT_WINDOW, OPT_CSV };
#define LEVELS 7

/* A table or log file seen in the directory. */
typedef struct file_seen {
  unsigned long long number;
  unsigned long long size;
  int is_log;
} file_seen;

typedef struct sample {
  double t;                                    /* monotonic seconds */
  unsigned long long seq;                      /* strata.last-sequence */
  unsigned long long log_written;              /* cumulative bytes appended to logs */
  unsigned long long table_written;            /* cumulative bytes of new tables */
  unsigned long long tables_made, tables_gone; /* cumulative counts */
} sample;

typedef struct watch {
  const cli_cmd *cmd;
  strata_db *db;
  const char *path;
  file_seen *files; /* as of the last sample */
  size_t nfiles;
  unsigned long long log_written, table_written, tables_made, tables_gone;
  int first;
} watch;

static double mono(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int num_prop(strata_db *db, const char *name, strata_buf *b, unsigned long long *v) {
  if (strata_property(db, name, b) != STRATA_OK || !b->size) return -1;
  *v = strtoull(b->data, NULL, 10);
  return 0;
}

static const file_seen *find_file(const file_seen *f, size_t n, unsigned long long number,
                                  int is_log) {
  for (size_t i = 0; i < n; i++)
    if (f[i].number == number && f[i].is_log == is_log) return &f[i];
  return NULL;
}

/* Lists the tables and logs of the directory and adds what changed since
 * the last listing to the cumulative counters. */
static int scan_files(watch *w) {
  DIR *d = opendir(w->path);
  if (!d) return -1;
  file_seen *now = NULL;
  size_t n = 0;
  struct dirent *de;
  char *p = malloc(strlen(w->path) + 300);
  if (!p) {
    closedir(d);
    return -1;
  }
  while ((de = readdir(d))) {
    char *end;
    if (de->d_name[0] < '0' || de->d_name[0] > '9') continue;
    unsigned long long num = strtoull(de->d_name, &end, 10);
    int is_log = !strcmp(end, ".log");
    if (!is_log && strcmp(end, ".ldb") && strcmp(end, ".sst")) continue;
    struct stat st;
    sprintf(p, "%s/%s", w->path, de->d_name);
    if (stat(p, &st) != 0) continue; /* deleted meanwhile */
    file_seen *nn = realloc(now, (n + 1) * sizeof *nn);
    if (!nn) {
      free(now), free(p);
      closedir(d);
      return -1;
    }
    now = nn;
    now[n].number = num;
    now[n].size = (unsigned long long)st.st_size;
    now[n].is_log = is_log;
    n++;
  }
  closedir(d);
  free(p);
  if (!w->first) {
    for (size_t i = 0; i < n; i++) {
      const file_seen *old = find_file(w->files, w->nfiles, now[i].number, now[i].is_log);
      if (now[i].is_log) {
        w->log_written += now[i].size - (old && old->size <= now[i].size ? old->size : 0);
      } else if (!old) {
        w->tables_made++;
        w->table_written += now[i].size;
      }
    }
    for (size_t i = 0; i < w->nfiles; i++)
      if (!w->files[i].is_log && !find_file(now, n, w->files[i].number, 0)) w->tables_gone++;
  }
  free(w->files);
  w->files = now;
  w->nfiles = n;
  w->first = 0;
  return 0;
}

typedef struct stats {
  unsigned long long entries, seq, mem, files[LEVELS], bytes[LEVELS], tables;
} stats;

static int count_subdb(void *arg, const char *name) {
  void **a = arg;
  strata_db *db = a[0];
  unsigned long long *entries = a[1];
  strata_subdb *sdb;
  strata_subdb_stats st;
  if (strata_subdb_open(db, name, 0, &sdb) == STRATA_OK &&
      strata_subdb_stat(db, sdb, &st) == STRATA_OK)
    *entries += st.entries;
  return 0;
}

static int take(watch *w, sample *s, stats *st) {
  strata_buf b = STRATA_BUF_INIT;
  char name[64];
  int rc = strata_catch_up(w->db);
  if (rc != STRATA_OK) {
    cli_db_err(w->cmd, "catch-up failed", rc);
    return CLI_FAIL;
  }
  memset(st, 0, sizeof *st);
  s->t = mono();
  if (num_prop(w->db, "strata.last-sequence", &b, &st->seq)) st->seq = 0;
  if (num_prop(w->db, "leveldb.approximate-memory-usage", &b, &st->mem)) st->mem = 0;
  for (int l = 0; l < LEVELS; l++) {
    snprintf(name, sizeof name, "leveldb.num-files-at-level%d", l);
    if (num_prop(w->db, name, &b, &st->files[l])) st->files[l] = 0;
    snprintf(name, sizeof name, "strata.level-bytes%d", l);
    if (num_prop(w->db, name, &b, &st->bytes[l])) st->bytes[l] = 0;
    st->tables += st->files[l];
  }
  strata_buf_free(&b);
  strata_subdb_stats ms;
  if (strata_subdb_stat(w->db, NULL, &ms) == STRATA_OK) st->entries = ms.entries;
  void *args[2] = {w->db, &st->entries};
  strata_subdb_list(w->db, count_subdb, args);
  if (scan_files(w)) {
    cli_err(w->cmd, "%s: cannot list the files: %s", w->path, strerror(errno));
    return CLI_FAIL;
  }
  s->seq = st->seq;
  s->log_written = w->log_written;
  s->table_written = w->table_written;
  s->tables_made = w->tables_made;
  s->tables_gone = w->tables_gone;
  return CLI_OK;
}

static double per_s(unsigned long long a, unsigned long long b, double dt) {
  return dt > 0 && b >= a ? (double)(b - a) / dt : 0.0;
}

static void draw_terminal(const watch *w, const stats *st, const sample *o, const sample *s,
                          double interval, int window) {
  double dt = s->t - o->t;
  time_t now = time(NULL);
  char when[32];
  strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", localtime(&now));
  printf("\033[H\033[2J");
  printf("strata watch %s   every %.3g s, rates over the last %d samples   %s\n\n", w->path,
         interval, window, when);
  printf("entries      ~%llu\n", st->entries);
  printf("sequence     %llu\n", st->seq);
  printf("writes/s     %.1f\n", per_s(o->seq, s->seq, dt));
  printf("log          %.2f MiB/s\n", per_s(o->log_written, s->log_written, dt) / 1048576.0);
  printf("tables       %llu; made %.2f/s, %.2f MiB/s (flushes, compactions); removed %.2f/s\n",
         st->tables, per_s(o->tables_made, s->tables_made, dt),
         per_s(o->table_written, s->table_written, dt) / 1048576.0,
         per_s(o->tables_gone, s->tables_gone, dt));
  printf("memtables    %.2f MiB (this handle's copy of what the writer has not flushed)\n\n",
         (double)st->mem / 1048576.0);
  printf("level  files          MiB\n");
  for (int l = 0; l < LEVELS; l++)
    printf("%5d  %5llu  %11.2f\n", l, st->files[l], (double)st->bytes[l] / 1048576.0);
  printf("\nCtrl-C ends.\n");
  fflush(stdout);
}

static void csv_header(void) {
  printf("time,entries,sequence,writes_per_s,log_bytes_per_s,tables,tables_made_per_s,"
         "table_bytes_per_s,tables_removed_per_s,memtable_bytes");
  for (int l = 0; l < LEVELS; l++)
    printf(",l%d_files,l%d_bytes", l, l);
  printf("\n");
}

static void csv_row(const stats *st, const sample *o, const sample *s) {
  double dt = s->t - o->t;
  struct timespec rt;
  clock_gettime(CLOCK_REALTIME, &rt);
  printf("%.3f,%llu,%llu,%.1f,%.0f,%llu,%.3f,%.0f,%.3f,%llu",
         (double)rt.tv_sec + (double)rt.tv_nsec / 1e9, st->entries, st->seq,
         per_s(o->seq, s->seq, dt), per_s(o->log_written, s->log_written, dt), st->tables,
         per_s(o->tables_made, s->tables_made, dt), per_s(o->table_written, s->table_written, dt),
         per_s(o->tables_gone, s->tables_gone, dt), st->mem);
  for (int l = 0; l < LEVELS; l++)
    printf(",%llu,%llu", st->files[l], st->bytes[l]);
  printf("\n");
  fflush(stdout);
}

/* Sleeps `secs`, returning early on a signal. */
static void nap(double secs) {
  struct timespec ts = {(time_t)secs, (long)((secs - (double)(time_t)secs) * 1e9)};
  while (!cli_interrupted() && nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

static int run_watch(const cli_cmd *cmd, int argc, char **argv) {
  static const struct option longopts[] = {{"interval", required_argument, NULL, OPT_INTERVAL},
                                           {"window", required_argument, NULL, OPT_WINDOW},
                                           {"csv", no_argument, NULL, OPT_CSV},
                                           {"count", required_argument, NULL, 'n'},
                                           CLI_LONGOPT_ENV,
                                           {"help", no_argument, NULL, 'h'},
                                           {NULL, 0, NULL, 0}};
  double interval = 1.0;
  unsigned long long window = 10, count = 0;
  int csv = 0, c;
  cli_common co;
  cli_common_init(&co);
  opterr = 0;
  while ((c = getopt_long(argc, argv, ":n:e:h", longopts, NULL)) != -1) {
    if (cli_common_opt(&co, c, optarg)) continue;
    switch (c) {
    case OPT_INTERVAL: {
      char *end;
      errno = 0;
      interval = strtod(optarg, &end);
      if (errno || *end || !(interval >= 0.01 && interval <= 86400))
        return cli_usage_error(cmd, "--interval wants seconds from 0.01 to 86400, not '%s'",
                               optarg);
      break;
    }
    case OPT_WINDOW:
      if (cli_parse_count(optarg, &window) || window < 1 || window > 100000)
        return cli_usage_error(cmd, "--window wants a count of samples (1 or more), not '%s'",
                               optarg);
      break;
    case OPT_CSV: csv = 1; break;
    case 'n':
      if (cli_parse_count(optarg, &count))
        return cli_usage_error(cmd, "--count wants a number of samples, not '%s'", optarg);
      break;
    case 'h': return cli_help(cmd);
    default: return cli_bad_option(cmd, c, argv);
    }
  }
  int rc = cli_take_dbpath(cmd, &co, argc, argv, &optind);
  if (rc || (rc = cli_operands(cmd, argc, optind, 0, 0, "DBPATH"))) return rc;
  watch w;
  memset(&w, 0, sizeof w);
  w.cmd = cmd;
  w.path = co.dbpath;
  w.first = 1;
  if ((rc = cli_open(cmd, co.dbpath, CLI_OPEN_READ_ONLY, &w.db))) return rc;
  if (!csv && !isatty(STDOUT_FILENO)) csv = 1;
  sample *ring = calloc((size_t)window + 1, sizeof *ring);
  if (!ring) {
    strata_close(w.db);
    cli_err(cmd, "out of memory");
    return CLI_FAIL;
  }
  cli_interrupt_install();
  if (csv) csv_header();
  unsigned long long n = 0;
  size_t slots = (size_t)window + 1;
  stats st;
  while (!cli_interrupted()) {
    sample *s = &ring[n % slots];
    if ((rc = take(&w, s, &st))) break;
    /* Rates over the last `window` intervals (fewer at the start). */
    const sample *o = &ring[(n >= window ? n - window : 0) % slots];
    if (csv)
      csv_row(&st, o, s);
    else
      draw_terminal(&w, &st, o, s, interval, (int)window);
    n++;
    if (count && n >= count) break;
    nap(interval);
  }
  free(ring);
  free(w.files);
  strata_close(w.db);
  if (ferror(stdout)) {
    cli_err(cmd, "standard output: write error");
    return CLI_FAIL;
  }
  return rc; /* Ctrl-C is how watch normally ends: status 0 */
}

const cli_cmd cli_cmd_watch = {
    "watch", "live statistics of a database another process is using",
    "usage: strata watch [--interval S] [--window N] [--csv] [-n COUNT] DBPATH\n"
    "\n"
    "py-lmdb's watch. Opens the database read-only (beside its writer, e.g.\n"
    "strata-server or an application), and every S seconds catches up with\n"
    "the writer and shows:\n"
    "\n"
    "  entries      the approximate number of entries, every sub-database\n"
    "               included (strata_subdb_stat: entries overwritten or\n"
    "               deleted but not yet compacted count too)\n"
    "  sequence     the writer's newest sequence number (strata.last-sequence)\n"
    "  writes/s     its growth per second: puts and deletes per second\n"
    "  log          bytes appended to the write-ahead logs per second\n"
    "  tables       the number of tables; tables made per second and their\n"
    "               bytes per second (memtable flushes and compactions), tables\n"
    "               removed per second (compacted away)\n"
    "  memtables    bytes of this handle's copy of the writer's memtables\n"
    "  levels       files and bytes of each level 0-6\n"
    "\n"
    "Rates are averages over the last N samples (--window). Reads per second\n"
    "are not shown: a process reading the files cannot see another process's\n"
    "reads. On a terminal the table is redrawn in place; otherwise (or with\n"
    "--csv) one CSV line per sample follows a header line:\n"
    "\n"
    "    time,entries,sequence,writes_per_s,log_bytes_per_s,tables,\n"
    "    tables_made_per_s,table_bytes_per_s,tables_removed_per_s,\n"
    "    memtable_bytes,l0_files,l0_bytes,...,l6_files,l6_bytes\n"
    "\n"
    "(one line; time in Unix seconds with 3 decimals, rates per second).\n"
    "\n"
    "  --interval S       seconds between samples (default 1; 0.01 to 86400).\n"
    "  --window N         samples the rates average over (default 10).\n"
    "  --csv              CSV lines even on a terminal.\n"
    "  -n, --count COUNT  stop after COUNT samples (default: until Ctrl-C).\n"
    "  -e, --env DBPATH   the database (instead of the DBPATH operand).\n"
    "  -h, --help         print this help.\n"
    "\n"
    "Exit status: 0 when ended by COUNT or by Ctrl-C/SIGTERM (its normal end);\n"
    "1 no database at DBPATH, or a catch-up failed; 2 bad usage.\n",
    run_watch};
