/*
 * catchup_bench.c - what it costs a read-only handle to follow a writer:
 * Strata's strata_catch_up beside RocksDB's secondary instance
 * (rocksdb_try_catch_up_with_primary, the same job in RocksDB; LevelDB has
 * no such mode). Compiled twice: strata-bench-catchup (Strata; also the
 * driver) and strata-bench-catchup-rocksdb (Debian's librocksdb, built when
 * present); each engine runs in its own process.
 *
 * In each process: a writer handle fills --num entries (16-byte keys,
 * 100-byte values, 4 MiB write buffer, snappy), then a read-only handle
 * (a secondary for RocksDB) is opened on the same directory, and three
 * cases are timed, each call alone, wall and thread CPU time:
 *   idle        catch-up when nothing changed since the last one
 *               (--idle calls)
 *   puts        catch-up after the writer put --puts new entries into its
 *               memtable and log (--rounds rounds)
 *   puts+flush  catch-up after --puts entries and a memtable flush (a new
 *               table and MANIFEST record, a new log) (--rounds rounds)
 * Medians, with the 90th percentile. Writes are not timed. The driver
 * prints one row per engine.
 *
 * Usage: strata-bench-catchup [--num N] [--puts P] [--rounds R] [--idle I]
 *                             [--db DIR]
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#if defined(CATCHUP_ROCKSDB)
#include <rocksdb/c.h>
#define ENGINE "rocksdb"
#else
#include "strata.h"
#define ENGINE "strata"
#endif

typedef struct cfg {
  long num, puts, rounds, idle;
  const char *db;
} cfg;

static void die(const char *what, const char *msg) {
  fprintf(stderr, "%s: %s: %s\n", ENGINE, what, msg);
  exit(1);
}

static double now(clockid_t c) {
  struct timespec ts;
  clock_gettime(c, &ts);
  return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

/* Key i: 16 decimal digits (i < 10^16). */
static void make_key(long i, char *k) {
  unsigned long long x = (unsigned long long)i;
  for (int j = 15; j >= 0; j--, x /= 10)
    k[j] = (char)('0' + x % 10);
  k[16] = '\0';
}

static void make_value(long i, char *v) {
  uint64_t x = (uint64_t)i * 0x9e3779b97f4a7c15ULL;
  for (int j = 0; j < 100; j++) {
    x ^= x >> 29;
    x *= 0xbf58476d1ce4e5b9ULL;
    v[j] = (char)('a' + (x >> 59));
  }
}

/* ------------------------------------------------------------------------ */
/* The two engines                                                          */
/* ------------------------------------------------------------------------ */

#if defined(CATCHUP_ROCKSDB)
typedef struct handles {
  rocksdb_t *w, *ro;
  rocksdb_options_t *wopt, *ropt;
  rocksdb_writeoptions_t *wo;
  rocksdb_flushoptions_t *fo;
  char secondary[4200];
} handles;

static void check(char *err, const char *what) {
  if (err) die(what, err);
}

static void open_writer(handles *h, const char *path) {
  char *err = NULL;
  h->wopt = rocksdb_options_create();
  rocksdb_options_set_create_if_missing(h->wopt, 1);
  rocksdb_options_set_write_buffer_size(h->wopt, 4 << 20);
  rocksdb_options_set_compression(h->wopt, rocksdb_snappy_compression);
  h->w = rocksdb_open(h->wopt, path, &err);
  check(err, "open");
  h->wo = rocksdb_writeoptions_create();
  h->fo = rocksdb_flushoptions_create();
  rocksdb_flushoptions_set_wait(h->fo, 1);
}

static void open_reader(handles *h, const char *path) {
  char *err = NULL;
  if (strlen(path) > 4000) die("path", "too long");
  h->ropt = rocksdb_options_create();
  rocksdb_options_set_max_open_files(h->ropt, -1); /* a secondary needs it */
  snprintf(h->secondary, sizeof h->secondary, "%s-secondary", path);
  h->ro = rocksdb_open_as_secondary(h->ropt, path, h->secondary, &err);
  check(err, "open as secondary");
}

static void put(handles *h, const char *k, const char *v) {
  char *err = NULL;
  rocksdb_put(h->w, h->wo, k, 16, v, 100, &err);
  check(err, "put");
}

static void flush(handles *h) {
  char *err = NULL;
  rocksdb_flush(h->w, h->fo, &err);
  check(err, "flush");
}

static void catch_up(handles *h) {
  char *err = NULL;
  rocksdb_try_catch_up_with_primary(h->ro, &err);
  check(err, "try_catch_up_with_primary");
}

static int reader_has(handles *h, const char *k) {
  char *err = NULL;
  size_t len = 0;
  rocksdb_readoptions_t *r = rocksdb_readoptions_create();
  char *v = rocksdb_get(h->ro, r, k, 16, &len, &err);
  rocksdb_readoptions_destroy(r);
  check(err, "get");
  rocksdb_free(v);
  return v != NULL;
}

static void close_all(handles *h) {
  rocksdb_close(h->ro);
  rocksdb_close(h->w);
  rocksdb_options_destroy(h->ropt);
  rocksdb_options_destroy(h->wopt);
  rocksdb_writeoptions_destroy(h->wo);
  rocksdb_flushoptions_destroy(h->fo);
}
#else
typedef struct handles {
  strata_db *w, *ro;
} handles;

static void check(int rc, const char *what) {
  if (rc) die(what, strata_errmsg());
}

static void open_writer(handles *h, const char *path) {
  strata_options o;
  strata_options_init(&o);
  o.create_if_missing = 1;
  check(strata_open(path, &o, &h->w), "open");
}

static void open_reader(handles *h, const char *path) {
  strata_options o;
  strata_options_init(&o);
  o.read_only = 1;
  check(strata_open(path, &o, &h->ro), "open read-only");
}

static void put(handles *h, const char *k, const char *v) {
  check(strata_put(h->w, NULL, k, 16, v, 100), "put");
}

static void flush(handles *h) {
  /* A range holding no table: only the memtable flush happens. */
  static const char top[4] = {'\xff', '\xff', '\xff', '\xff'};
  check(strata_compact_range(h->w, top, 4, top, 4), "flush");
}

static void catch_up(handles *h) { check(strata_catch_up(h->ro), "catch_up"); }

static int reader_has(handles *h, const char *k) {
  strata_buf b = STRATA_BUF_INIT;
  int rc = strata_get(h->ro, NULL, k, 16, &b);
  strata_buf_free(&b);
  if (rc && rc != STRATA_ENOTFOUND) die("get", strata_errmsg());
  return rc == 0;
}

static void close_all(handles *h) {
  strata_close(h->ro);
  strata_close(h->w);
}
#endif

/* ------------------------------------------------------------------------ */
/* Measurement                                                              */
/* ------------------------------------------------------------------------ */

typedef struct timing {
  double wall, cpu; /* microseconds */
} timing;

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

/* Median and 90th percentile of n values (sorted in place). */
static void stats(double *v, long n, double *med, double *p90) {
  qsort(v, (size_t)n, sizeof *v, cmp_double);
  *med = v[n / 2];
  *p90 = v[(n * 9) / 10 < n ? (n * 9) / 10 : n - 1];
}

static timing timed_catch_up(handles *h) {
  double c0 = now(CLOCK_THREAD_CPUTIME_ID), w0 = now(CLOCK_MONOTONIC);
  catch_up(h);
  timing t = {now(CLOCK_MONOTONIC) - w0, now(CLOCK_THREAD_CPUTIME_ID) - c0};
  return t;
}

/* Prints "case wall_med wall_p90 cpu_med cpu_p90" for n timings. */
static void report(const char *name, timing *t, long n) {
  double *w = malloc((size_t)n * sizeof *w), *c = malloc((size_t)n * sizeof *c);
  for (long i = 0; i < n; i++) {
    w[i] = t[i].wall;
    c[i] = t[i].cpu;
  }
  double wm, wp, cm, cp;
  stats(w, n, &wm, &wp);
  stats(c, n, &cm, &cp);
  printf("RESULT %s %s %.1f %.1f %.1f %.1f\n", ENGINE, name, wm, wp, cm, cp);
  free(w);
  free(c);
}

static long next_key;

static void write_puts(handles *h, long n) {
  char k[17], v[100];
  for (long i = 0; i < n; i++, next_key++) {
    make_key(next_key, k);
    make_value(next_key, v);
    put(h, k, v);
  }
}

static int run(const cfg *c) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", c->db, ENGINE);
  handles h;
  memset(&h, 0, sizeof h);
  open_writer(&h, path);
  write_puts(&h, c->num);
  open_reader(&h, path);
  timing *t = malloc((size_t)(c->idle > c->rounds ? c->idle : c->rounds) * sizeof *t);

  catch_up(&h);
  for (long i = 0; i < c->idle; i++)
    t[i] = timed_catch_up(&h);
  report("idle", t, c->idle);

  for (long r = 0; r < c->rounds; r++) {
    write_puts(&h, c->puts);
    t[r] = timed_catch_up(&h);
    char k[17];
    make_key(next_key - 1, k);
    if (!reader_has(&h, k)) die("check", "a catch-up did not show the last put");
  }
  report("puts", t, c->rounds);

  for (long r = 0; r < c->rounds; r++) {
    write_puts(&h, c->puts);
    flush(&h);
    t[r] = timed_catch_up(&h);
    char k[17];
    make_key(next_key - 1, k);
    if (!reader_has(&h, k)) die("check", "a catch-up did not show the last put");
  }
  report("puts+flush", t, c->rounds);
  free(t);
  close_all(&h);
  return 0;
}

/* ------------------------------------------------------------------------ */
/* Driver (the Strata binary): runs itself, then the RocksDB worker         */
/* ------------------------------------------------------------------------ */

static int parse(int argc, char **argv, cfg *c) {
  c->num = 100000;
  c->puts = 1000;
  c->rounds = 50;
  c->idle = 10000;
  c->db = NULL;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!v) return -1;
    if (strcmp(a, "--num") == 0)
      c->num = atol(v);
    else if (strcmp(a, "--puts") == 0)
      c->puts = atol(v);
    else if (strcmp(a, "--rounds") == 0)
      c->rounds = atol(v);
    else if (strcmp(a, "--idle") == 0)
      c->idle = atol(v);
    else if (strcmp(a, "--db") == 0)
      c->db = v;
    else
      return -1;
    i++;
  }
  return c->num > 0 && c->puts > 0 && c->rounds > 0 && c->idle > 0 ? 0 : -1;
}

#if defined(CATCHUP_ROCKSDB)
int main(int argc, char **argv) {
  cfg c;
  if (parse(argc, argv, &c) || !c.db) {
    fprintf(stderr, "strata-bench-catchup-rocksdb: run by strata-bench-catchup\n");
    return 2;
  }
  return run(&c);
}
#else
/* Runs the program at path with argv, relaying its RESULT lines; returns
 * its exit status. */
static int run_worker(char *const argv[]) {
  int fd[2];
  if (pipe(fd)) return -1;
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) {
    dup2(fd[1], 1);
    close(fd[0]);
    close(fd[1]);
    execv(argv[0], argv);
    _exit(127);
  }
  close(fd[1]);
  FILE *in = fdopen(fd[0], "r");
  char line[512];
  while (in && fgets(line, sizeof line, in))
    fputs(line, stdout);
  if (in) fclose(in);
  int st = 0;
  waitpid(pid, &st, 0);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

int main(int argc, char **argv) {
  cfg c;
  if (parse(argc, argv, &c)) {
    fprintf(stderr, "usage: strata-bench-catchup [--num N] [--puts P] [--rounds R] [--idle I] "
                    "[--db DIR]\n");
    return 2;
  }
  char tmp[] = "/tmp/strata-bench-catchup-XXXXXX";
  int own = !c.db;
  if (own && !(c.db = mkdtemp(tmp))) die("mkdtemp", strerror(errno));
  printf("catch-up cost, microseconds per call: median and 90th percentile, wall and thread "
         "CPU\n%ld entries of 16+100 bytes; idle: %ld calls; puts and puts+flush: %ld rounds of "
         "%ld puts\n",
         c.num, c.idle, c.rounds, c.puts);
  printf("RESULT engine case wall_med wall_p90 cpu_med cpu_p90\n");
  int rc = run(&c);
  char self[4096];
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 20);
  if (!rc && n > 0) {
    self[n] = '\0';
    strcat(self, "-rocksdb");
    if (access(self, X_OK) == 0) {
      char num[32], puts[32], rounds[32], idle[32];
      snprintf(num, sizeof num, "%ld", c.num);
      snprintf(puts, sizeof puts, "%ld", c.puts);
      snprintf(rounds, sizeof rounds, "%ld", c.rounds);
      snprintf(idle, sizeof idle, "%ld", c.idle);
      char *wargv[] = {self,   "--num",  num,  "--puts", puts,         "--rounds",
                       rounds, "--idle", idle, "--db",   (char *)c.db, NULL};
      rc = run_worker(wargv);
    } else {
      printf("(no %s: RocksDB not measured)\n", self);
    }
  }
  if (own) {
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", c.db);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", c.db);
  }
  return rc;
}
#endif
