/*
 * strata_bench.c - the strata-bench driver.
 *
 * Runs each engine's worker (strata-bench-<engine>, found next to this
 * binary) as a child process, one at a time, --repeat rounds with the engine
 * order rotated each round so no engine always runs first (cold page cache,
 * a CPU still busy with the previous worker's files). Reads the JSON lines
 * the workers print and reports, per workload, each engine's median (and
 * min-max over rounds) of micros/op, MB/s and ops/s, and the ratio of its
 * micros/op to Strata's: how many times faster Strata is. Exits non-zero if
 * a worker fails or leaves out a workload.
 */
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "workloads.h"

extern char **environ;

#define MAX_ENGINES 8
#define MAX_ROUNDS 1000

/* Every engine a worker may exist for, in the default order. The first is
 * the baseline of the ratios. */
/* leveldb and rocksdb are Debian's builds (which keep their asserts);
 * leveldb-release and rocksdb-release are upstream releases built by hand
 * in CMake's Release mode, when the build was configured with their paths
 * (bench/CMakeLists.txt: STRATA_BENCH_LEVELDB_RELEASE_DIR,
 * STRATA_BENCH_ROCKSDB_RELEASE_DIR). */
static const char *const known_engines[] = {"strata",  "strata-ldbc",     "leveldb",
                                            "rocksdb", "leveldb-release", "rocksdb-release"};
#define NKNOWN ((int)(sizeof known_engines / sizeof known_engines[0]))

typedef struct row {
  int have;
  int unsupported; /* the engine reported it cannot run this workload */
  int threads;
  double ops, found, micros, cpu, mbs, opss;
  char levels[128];
} row;

static bench_config cfg;
static const char *engines[MAX_ENGINES];
static int nengines;
static int rounds = 1;
static row *rows;      /* [round][engine][workload] */
static long *peak_rss; /* [round][engine], KiB; -1 when not reported */

static row *row_at(int r, int e, int w) {
  return &rows[((size_t)r * MAX_ENGINES + (size_t)e) * BENCH_MAX_WORKLOADS + (size_t)w];
}

static long *rss_at(int r, int e) { return &peak_rss[(size_t)r * MAX_ENGINES + (size_t)e]; }

/* ------------------------------------------------------------------------ */
/* The workers' JSON lines                                                  */
/* ------------------------------------------------------------------------ */

/* The workers print flat objects of string and number members; this reads
 * exactly that, not JSON in general. */
typedef struct member {
  char key[32];
  char str[128];
  double num;
  int is_str;
} member;

static const char *skip_ws(const char *s) {
  while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')
    s++;
  return s;
}

static const char *parse_string(const char *s, char *out, size_t cap) {
  if (*s != '"') return NULL;
  size_t n = 0;
  for (s++; *s != '"'; s++) {
    if (*s == '\0') return NULL;
    if (*s == '\\' && s[1] != '\0') s++;
    if (n + 1 < cap) out[n++] = *s;
  }
  out[n] = '\0';
  return s + 1;
}

static int parse_object(const char *s, member *m, int max) {
  int n = 0;
  s = skip_ws(s);
  if (*s++ != '{') return -1;
  s = skip_ws(s);
  if (*s == '}') return 0;
  for (;;) {
    if (n == max) return -1;
    s = parse_string(skip_ws(s), m[n].key, sizeof m[n].key);
    if (s == NULL) return -1;
    s = skip_ws(s);
    if (*s++ != ':') return -1;
    s = skip_ws(s);
    if (*s == '"') {
      s = parse_string(s, m[n].str, sizeof m[n].str);
      if (s == NULL) return -1;
      m[n].is_str = 1;
    } else {
      char *end;
      m[n].num = strtod(s, &end);
      if (end == s) return -1;
      m[n].is_str = 0;
      s = end;
    }
    n++;
    s = skip_ws(s);
    if (*s == '}') return n;
    if (*s++ != ',') return -1;
  }
}

static const member *find_member(const member *m, int n, const char *key, int is_str) {
  for (int i = 0; i < n; i++)
    if (strcmp(m[i].key, key) == 0 && m[i].is_str == is_str) return &m[i];
  return NULL;
}

/* Stores one line of engine e's worker; returns 0, or -1 if malformed. */
static int take_line(int r, int e, const char *line) {
  member m[24];
  int n = parse_object(line, m, 24);
  if (n < 0) return -1;
  const member *eng = find_member(m, n, "engine", 1);
  if (eng == NULL || strcmp(eng->str, engines[e]) != 0) return -1;
  const member *rss = find_member(m, n, "peak_rss_kb", 0);
  if (rss != NULL) {
    *rss_at(r, e) = (long)rss->num;
    return 0;
  }
  const member *seq = find_member(m, n, "seq", 0), *bench = find_member(m, n, "bench", 1);
  const member *unsupported = find_member(m, n, "unsupported", 0);
  if (seq != NULL && bench != NULL && unsupported != NULL) {
    int w = (int)seq->num;
    if (w < 0 || w >= cfg.nworkloads || strcmp(bench->str, cfg.workloads[w]) != 0) return -1;
    row_at(r, e, w)->unsupported = 1;
    return 0;
  }
  const member *micros = find_member(m, n, "micros_per_op", 0);
  const member *cpu = find_member(m, n, "cpu_micros_per_op", 0);
  const member *mbs = find_member(m, n, "mb_per_s", 0), *opss = find_member(m, n, "ops_per_s", 0);
  const member *ops = find_member(m, n, "ops", 0), *found = find_member(m, n, "found", 0);
  const member *threads = find_member(m, n, "threads", 0), *lv = find_member(m, n, "levels", 1);
  if (seq == NULL || bench == NULL || micros == NULL || mbs == NULL || opss == NULL || ops == NULL)
    return -1;
  int w = (int)seq->num;
  if (w < 0 || w >= cfg.nworkloads || strcmp(bench->str, cfg.workloads[w]) != 0) return -1;
  row *x = row_at(r, e, w);
  x->have = 1;
  x->micros = micros->num;
  x->cpu = cpu != NULL ? cpu->num : 0;
  x->mbs = mbs->num;
  x->opss = opss->num;
  x->ops = ops->num;
  x->found = found != NULL ? found->num : 0;
  x->threads = threads != NULL ? (int)threads->num : 1;
  snprintf(x->levels, sizeof x->levels, "%s", lv != NULL ? lv->str : "");
  return 0;
}

/* ------------------------------------------------------------------------ */
/* Running the workers                                                      */
/* ------------------------------------------------------------------------ */

static char worker_dir[PATH_MAX];

static void worker_path(const char *engine, char *out, size_t cap) {
  snprintf(out, cap, "%s/strata-bench-%s", worker_dir, engine);
}

/* The workers live next to the driver: the directory of argv[0], or of
 * /proc/self/exe when argv[0] came from a PATH search. */
static void find_worker_dir(const char *argv0) {
  const char *slash = strrchr(argv0, '/');
  if (slash != NULL) {
    snprintf(worker_dir, sizeof worker_dir, "%.*s", (int)(slash - argv0), argv0);
    if (worker_dir[0] == '\0') snprintf(worker_dir, sizeof worker_dir, "/");
    return;
  }
  ssize_t n = readlink("/proc/self/exe", worker_dir, sizeof worker_dir - 1);
  if (n <= 0) {
    snprintf(worker_dir, sizeof worker_dir, ".");
    return;
  }
  worker_dir[n] = '\0';
  char *s = strrchr(worker_dir, '/');
  if (s != NULL) *s = '\0';
}

/* Runs engine e's worker for round r; returns 0 if it exited 0 and printed
 * well-formed lines. */
static int run_worker(int r, int e, const char *base) {
  char bin[PATH_MAX + 64], dbflag[PATH_MAX + 8], buf[4096];
  char *argv[32];
  worker_path(engines[e], bin, sizeof bin);
  argv[0] = bin;
  int argc = bench_config_to_args(&cfg, argv, 1, buf, sizeof buf);
  if (argc < 0) {
    fprintf(stderr, "strata-bench: flags too long\n");
    return -1;
  }
  snprintf(dbflag, sizeof dbflag, "--db=%s", base);
  argv[argc++] = dbflag;
  argv[argc] = NULL;

  int fd[2];
  if (pipe(fd) != 0) {
    perror("strata-bench: pipe");
    return -1;
  }
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, fd[1], STDOUT_FILENO);
  posix_spawn_file_actions_addclose(&fa, fd[0]);
  posix_spawn_file_actions_addclose(&fa, fd[1]);
  pid_t pid;
  int rc = posix_spawn(&pid, bin, &fa, NULL, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  close(fd[1]);
  if (rc != 0) {
    fprintf(stderr, "strata-bench: cannot run %s: %s\n", bin, strerror(rc));
    close(fd[0]);
    return -1;
  }

  FILE *in = fdopen(fd[0], "r");
  char *line = NULL;
  size_t cap = 0;
  int bad = 0, lines = 0;
  while (in != NULL && getline(&line, &cap, in) > 0) {
    lines++;
    if (take_line(r, e, line) != 0) {
      fprintf(stderr, "strata-bench: %s printed an unexpected line: %s", engines[e], line);
      bad = 1;
      continue;
    }
    member m[24];
    int n = parse_object(line, m, 24);
    const member *label = find_member(m, n, "label", 1);
    const member *micros = find_member(m, n, "micros_per_op", 0);
    if (label != NULL && micros != NULL)
      fprintf(stderr, "  [round %d/%d] %-12s %-18s %12.3f micros/op\n", r + 1, rounds, engines[e],
              label->str, micros->num);
  }
  free(line);
  if (in != NULL)
    fclose(in);
  else
    close(fd[0]);

  int status;
  while (waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) {
      perror("strata-bench: waitpid");
      return -1;
    }
  if (WIFSIGNALED(status)) {
    fprintf(stderr, "strata-bench: %s worker killed by signal %d\n", engines[e], WTERMSIG(status));
    return -1;
  }
  if (WEXITSTATUS(status) != 0) {
    fprintf(stderr, "strata-bench: %s worker exited with status %d\n", engines[e],
            WEXITSTATUS(status));
    return -1;
  }
  if (lines == 0) {
    fprintf(stderr, "strata-bench: %s worker printed nothing\n", engines[e]);
    return -1;
  }
  return bad ? -1 : 0;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
  (void)st;
  (void)flag;
  (void)ftw;
  return remove(path);
}

/* ------------------------------------------------------------------------ */
/* Statistics and tables                                                    */
/* ------------------------------------------------------------------------ */

typedef struct stat3 {
  int n;
  double med, min, max;
} stat3;

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static stat3 stats_of(double *v, int n) {
  stat3 s = {n, 0, 0, 0};
  if (n == 0) return s;
  qsort(v, (size_t)n, sizeof *v, cmp_double);
  s.min = v[0];
  s.max = v[n - 1];
  s.med = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
  return s;
}

enum { F_MICROS, F_CPU, F_MBS, F_OPSS };

static double field(const row *x, int f) {
  switch (f) {
  case F_MICROS: return x->micros;
  case F_CPU: return x->cpu;
  case F_MBS: return x->mbs;
  default: return x->opss;
  }
}

static stat3 stat_field(int e, int w, int f) {
  double v[MAX_ROUNDS];
  int n = 0;
  for (int r = 0; r < rounds; r++)
    if (row_at(r, e, w)->have) v[n++] = field(row_at(r, e, w), f);
  return stats_of(v, n);
}

/* Ratio of engine e's micros/op to the baseline's (engine 0), per round in
 * which both ran, so a slow round of the machine affects both sides. */
static stat3 stat_ratio(int e, int w) {
  double v[MAX_ROUNDS];
  int n = 0;
  for (int r = 0; r < rounds; r++) {
    const row *x = row_at(r, e, w), *b = row_at(r, 0, w);
    if (x->have && b->have && b->micros > 0) v[n++] = x->micros / b->micros;
  }
  return stats_of(v, n);
}

static stat3 stat_rss(int e) {
  double v[MAX_ROUNDS];
  int n = 0;
  for (int r = 0; r < rounds; r++)
    if (*rss_at(r, e) >= 0) v[n++] = (double)*rss_at(r, e);
  return stats_of(v, n);
}

/* "median" or, over several rounds with `range`, "median [min-max]". */
static void cell(char *out, size_t cap, stat3 s, int prec, const char *suffix, int range) {
  if (s.n == 0)
    snprintf(out, cap, "-");
  else if (!range || s.n == 1)
    snprintf(out, cap, "%.*f%s", prec, s.med, suffix);
  else
    snprintf(out, cap, "%.*f%s [%.*f-%.*f]", prec, s.med, suffix, prec, s.min, prec, s.max);
}

static void print_tables(void) {
  /* Ranges only for micros/op and the ratio, to keep rows readable. */
  int w1 = rounds > 1 ? 26 : 12, w2 = rounds > 1 ? 22 : 8;
  printf("\nstrata-bench: num=%ld value_size=%d threads=%d bloom_bits=%d compression=%s "
         "cache_size=%zu write_buffer_size=%zu rounds=%d\n",
         cfg.num, cfg.value_size, cfg.threads, cfg.bloom_bits, cfg.compression ? "snappy" : "none",
         cfg.cache_size, cfg.write_buffer_size, rounds);
  printf("ratio = engine micros/op / %s micros/op (> 1: %s is faster); cpu/op = the measured "
         "threads' CPU time per op%s\n",
         engines[0], engines[0], rounds > 1 ? "; medians over rounds, [min-max]" : "");
  for (int w = 0; w < cfg.nworkloads; w++) {
    char label[64];
    bench_workload_label(&cfg, w, label, sizeof label);
    const row *any = NULL;
    for (int e = 0; e < nengines && any == NULL; e++)
      for (int r = 0; r < rounds && any == NULL; r++)
        if (row_at(r, e, w)->have) any = row_at(r, e, w);
    if (any != NULL)
      printf("\n%s  (%.0f ops, %d thread%s)\n", label, any->ops, any->threads,
             any->threads == 1 ? "" : "s");
    else
      printf("\n%s\n", label);
    printf("  %-12s %*s %10s %9s %10s %*s  %s\n", "engine", w1, "micros/op", "cpu/op", "MB/s",
           "ops/s", w2, "ratio", "found  files/level");
    for (int e = 0; e < nengines; e++) {
      char a[64], b[64], c[64], d[64], x[64];
      cell(a, sizeof a, stat_field(e, w, F_MICROS), 3, "", 1);
      cell(x, sizeof x, stat_field(e, w, F_CPU), 3, "", 0);
      cell(b, sizeof b, stat_field(e, w, F_MBS), 1, "", 0);
      cell(c, sizeof c, stat_field(e, w, F_OPSS), 0, "", 0);
      cell(d, sizeof d, stat_ratio(e, w), 2, "x", 1);
      const row *last = NULL;
      for (int r = 0; r < rounds; r++)
        if (row_at(r, e, w)->have) last = row_at(r, e, w);
      printf("  %-12s %*s %10s %9s %10s %*s  ", engines[e], w1, a, x, b, c, w2, d);
      if (last != NULL)
        printf("%.0f  %s\n", last->found, last->levels);
      else if (row_at(0, e, w)->unsupported)
        printf("(not supported)\n");
      else
        printf("(no result)\n");
    }
  }

  printf("\nsummary: ratio of micros/op to %s (> 1: %s is faster)\n  %-18s", engines[0], engines[0],
         "workload");
  for (int e = 1; e < nengines; e++)
    printf(" %*s", w2, engines[e]);
  printf("\n");
  for (int w = 0; w < cfg.nworkloads; w++) {
    char label[64];
    bench_workload_label(&cfg, w, label, sizeof label);
    printf("  %-18s", label);
    for (int e = 1; e < nengines; e++) {
      char d[64];
      cell(d, sizeof d, stat_ratio(e, w), 2, "x", 1);
      printf(" %*s", w2, d);
    }
    printf("\n");
  }

  printf("\npeak RSS (whole worker run)\n");
  for (int e = 0; e < nengines; e++) {
    stat3 s = stat_rss(e);
    s.med /= 1024;
    s.min /= 1024;
    s.max /= 1024;
    char a[64];
    cell(a, sizeof a, s, 1, " MiB", 1);
    printf("  %-12s %s\n", engines[e], a);
  }
}

/* ------------------------------------------------------------------------ */
/* --json and --plot                                                        */
/* ------------------------------------------------------------------------ */

static void json_stat(FILE *f, const char *name, stat3 s) {
  fprintf(f, "\"%s\":{\"median\":%.6g,\"min\":%.6g,\"max\":%.6g}", name, s.med, s.min, s.max);
}

static int write_json(const char *path) {
  FILE *f = fopen(path, "w");
  if (f == NULL) {
    fprintf(stderr, "strata-bench: cannot write %s: %s\n", path, strerror(errno));
    return -1;
  }
  fprintf(f,
          "{\"config\":{\"num\":%ld,\"value_size\":%d,\"threads\":%d,\"bloom_bits\":%d,"
          "\"compression\":\"%s\",\"cache_size\":%zu,\"write_buffer_size\":%zu,\"rounds\":%d,"
          "\"baseline\":\"%s\",\"engines\":[",
          cfg.num, cfg.value_size, cfg.threads, cfg.bloom_bits, cfg.compression ? "snappy" : "none",
          cfg.cache_size, cfg.write_buffer_size, rounds, engines[0]);
  for (int e = 0; e < nengines; e++)
    fprintf(f, "%s\"%s\"", e ? "," : "", engines[e]);
  fprintf(f, "]},\n\"results\":[\n");
  int first = 1;
  for (int r = 0; r < rounds; r++)
    for (int e = 0; e < nengines; e++)
      for (int w = 0; w < cfg.nworkloads; w++) {
        const row *x = row_at(r, e, w);
        if (!x->have) continue;
        char label[64];
        bench_workload_label(&cfg, w, label, sizeof label);
        fprintf(
            f,
            "%s{\"engine\":\"%s\",\"bench\":\"%s\",\"label\":\"%s\",\"seq\":%d,"
            "\"round\":%d,\"threads\":%d,\"ops\":%.0f,\"found\":%.0f,\"micros_per_op\":%.4f,"
            "\"cpu_micros_per_op\":%.4f,\"mb_per_s\":%.3f,\"ops_per_s\":%.1f,\"levels\":\"%s\"}",
            first ? "" : ",\n", engines[e], cfg.workloads[w], label, w, r + 1, x->threads, x->ops,
            x->found, x->micros, x->cpu, x->mbs, x->opss, x->levels);
        first = 0;
      }
  fprintf(f, "\n],\n\"peak_rss\":[\n");
  first = 1;
  for (int r = 0; r < rounds; r++)
    for (int e = 0; e < nengines; e++)
      if (*rss_at(r, e) >= 0) {
        fprintf(f, "%s{\"engine\":\"%s\",\"round\":%d,\"peak_rss_kb\":%ld}", first ? "" : ",\n",
                engines[e], r + 1, *rss_at(r, e));
        first = 0;
      }
  fprintf(f, "\n],\n\"summary\":[\n");
  first = 1;
  for (int w = 0; w < cfg.nworkloads; w++)
    for (int e = 0; e < nengines; e++) {
      char label[64];
      bench_workload_label(&cfg, w, label, sizeof label);
      fprintf(f, "%s{\"engine\":\"%s\",\"label\":\"%s\",\"seq\":%d,", first ? "" : ",\n",
              engines[e], label, w);
      json_stat(f, "micros_per_op", stat_field(e, w, F_MICROS));
      fputc(',', f);
      json_stat(f, "cpu_micros_per_op", stat_field(e, w, F_CPU));
      fputc(',', f);
      json_stat(f, "mb_per_s", stat_field(e, w, F_MBS));
      fputc(',', f);
      json_stat(f, "ops_per_s", stat_field(e, w, F_OPSS));
      fputc(',', f);
      json_stat(f, "ratio", stat_ratio(e, w));
      fputc('}', f);
      first = 0;
    }
  fprintf(f, "\n]}\n");
  if (fclose(f) != 0) {
    fprintf(stderr, "strata-bench: cannot write %s: %s\n", path, strerror(errno));
    return -1;
  }
  printf("\nresults written to %s\n", path);
  return 0;
}

static int on_path(const char *prog) {
  const char *path = getenv("PATH");
  if (path == NULL) path = "/usr/bin:/bin";
  while (*path != '\0') {
    const char *end = strchr(path, ':');
    size_t len = end != NULL ? (size_t)(end - path) : strlen(path);
    char full[PATH_MAX];
    if (len > 0 &&
        (size_t)snprintf(full, sizeof full, "%.*s/%s", (int)len, path, prog) < sizeof full &&
        access(full, X_OK) == 0)
      return 1;
    path += len;
    if (*path == ':') path++;
  }
  return 0;
}

/* A clustered bar chart of the median ratios, one cluster per workload and
 * one bar per peer engine. The y axis is logarithmic and every bar starts at
 * 1, so "2x faster" and "2x slower" are bars of the same length, up and
 * down. */
static int write_plot(const char *png) {
  if (nengines < 2) {
    printf("\n--plot: only one engine ran, no ratios to draw; skipping %s\n", png);
    return 0;
  }
  if (!on_path("gnuplot")) {
    printf("\n--plot: gnuplot not found on PATH (Debian: apt-get install gnuplot-nox); "
           "skipping %s\n",
           png);
    return 0;
  }
  FILE *g = popen("gnuplot", "w");
  if (g == NULL) {
    fprintf(stderr, "strata-bench: cannot run gnuplot: %s\n", strerror(errno));
    return -1;
  }
  int peers = nengines - 1;
  /* Single quotes delimit the file name in gnuplot; double them inside. */
  fprintf(g, "set terminal pngcairo size %d,640 noenhanced\nset output '",
          400 + 70 * cfg.nworkloads);
  for (const char *p = png; *p; p++)
    fprintf(g, *p == '\'' ? "''" : "%c", *p);
  fprintf(g,
          "'\n"
          "set title 'peer micros/op / %s micros/op (above 1: %s is faster); num=%ld, "
          "%d round(s)'\n"
          "set logscale y 2\nset ylabel 'ratio (log scale)'\nset grid ytics\n"
          "set xtics rotate by -40 nomirror\nset xrange [-0.6:%d.6]\n"
          "set key outside top center horizontal autotitle columnheader\n"
          "set style fill solid 0.8 border -1\n"
          "set arrow 1 from graph 0, first 1 to graph 1, first 1 nohead lw 2\n"
          "bw = 0.8 / %d\nx(i) = $0 + (i - 2 - (%d - 1) / 2.0) * bw\n"
          "$d << EOD\nworkload",
          engines[0], engines[0], cfg.num, rounds, cfg.nworkloads - 1, peers, peers);
  for (int e = 1; e < nengines; e++)
    fprintf(g, " %s", engines[e]);
  fprintf(g, "\n");
  for (int w = 0; w < cfg.nworkloads; w++) {
    char label[64];
    bench_workload_label(&cfg, w, label, sizeof label);
    fprintf(g, "%s", label);
    for (int e = 1; e < nengines; e++) {
      stat3 s = stat_ratio(e, w);
      if (s.n > 0 && s.med > 0)
        fprintf(g, " %.4f", s.med);
      else
        fprintf(g, " NaN");
    }
    fprintf(g, "\n");
  }
  fprintf(g,
          "EOD\n"
          "plot for [i=2:%d] $d using (x(i)):(column(i)):(x(i) - bw / 2):(x(i) + bw / 2):(1):"
          "(column(i)) with boxxyerror, \\\n"
          "  $d using 0:(1):xtic(1) with points pt -1 notitle\n",
          nengines);
  int rc = pclose(g);
  if (rc != 0) {
    fprintf(stderr, "strata-bench: gnuplot failed (status %d); no plot written\n", rc);
    return -1;
  }
  printf("plot written to %s\n", png);
  return 0;
}

/* ------------------------------------------------------------------------ */
/* main                                                                     */
/* ------------------------------------------------------------------------ */

static void usage(void) {
  printf("usage: strata-bench [flags]\n"
         "Runs LevelDB's db_bench workloads against each engine in its own process and\n"
         "compares them with Strata.\n\n"
         "Driver flags:\n"
         "  --engines LIST         comma list of strata, strata-ldbc, leveldb, rocksdb (all;\n"
         "                         the first is the baseline of the ratios)\n"
         "  --repeat N             rounds; engines interleaved, order rotated per round (1)\n"
         "  --json FILE            write every result, the medians and ratios as JSON\n"
         "  --plot FILE.png        bar chart of the ratios per workload (needs gnuplot)\n\n");
  bench_print_flag_help();
}

static int set_engines(const char *list) {
  char *copy = strdup(list);
  if (copy == NULL) return -1;
  nengines = 0;
  int rc = 0;
  for (char *save = NULL, *tok = strtok_r(copy, ",", &save); tok != NULL;
       tok = strtok_r(NULL, ",", &save)) {
    int k = 0;
    while (k < NKNOWN && strcmp(known_engines[k], tok) != 0)
      k++;
    if (k == NKNOWN) {
      fprintf(stderr, "strata-bench: unknown engine '%s' (strata, strata-ldbc, leveldb, rocksdb)\n",
              tok);
      rc = -1;
      break;
    }
    int dup = 0;
    for (int i = 0; i < nengines; i++)
      dup |= engines[i] == known_engines[k];
    if (!dup && nengines < MAX_ENGINES) engines[nengines++] = known_engines[k];
  }
  free(copy);
  if (rc == 0 && nengines == 0) {
    fprintf(stderr, "strata-bench: empty --engines list\n");
    rc = -1;
  }
  return rc;
}

static const char *flag_value(int argc, char **argv, int *i, const char *name) {
  size_t l = strlen(name);
  const char *a = argv[*i];
  if (strncmp(a, name, l) != 0) return NULL;
  if (a[l] == '=') return a + l + 1;
  if (a[l] == '\0' && *i + 1 < argc) return argv[++*i];
  return NULL;
}

int main(int argc, char **argv) {
  const char *json = NULL, *plot = NULL;
  bench_config_init(&cfg);
  for (int k = 0; k < NKNOWN; k++)
    engines[nengines++] = known_engines[k];
  for (int i = 1; i < argc; i++) {
    const char *v;
    if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
      usage();
      return 0;
    }
    int rc = bench_config_parse(&cfg, argc, argv, &i);
    if (rc < 0) return 2;
    if (rc > 0) continue;
    if ((v = flag_value(argc, argv, &i, "--engines")) != NULL) {
      if (set_engines(v) != 0) return 2;
    } else if ((v = flag_value(argc, argv, &i, "--repeat")) != NULL) {
      char *end;
      long n = strtol(v, &end, 10);
      if (*end != '\0' || n < 1 || n > MAX_ROUNDS) {
        fprintf(stderr, "strata-bench: --repeat must be 1..%d\n", MAX_ROUNDS);
        return 2;
      }
      rounds = (int)n;
    } else if ((v = flag_value(argc, argv, &i, "--json")) != NULL) {
      json = v;
    } else if ((v = flag_value(argc, argv, &i, "--plot")) != NULL) {
      plot = v;
    } else {
      fprintf(stderr, "strata-bench: unknown flag or missing value: '%s' (see --help)\n", argv[i]);
      return 2;
    }
  }

  /* Engines whose worker was not built (library missing) are skipped. */
  find_worker_dir(argv[0]);
  int kept = 0;
  for (int e = 0; e < nengines; e++) {
    char bin[PATH_MAX + 64];
    worker_path(engines[e], bin, sizeof bin);
    if (access(bin, X_OK) != 0) {
      fprintf(stderr,
              "strata-bench: skipping %s: no worker %s (its library was not found at "
              "build time)\n",
              engines[e], bin);
      continue;
    }
    engines[kept++] = engines[e];
  }
  nengines = kept;
  if (nengines == 0) {
    fprintf(stderr, "strata-bench: no engine to run\n");
    return 1;
  }

  rows = calloc((size_t)rounds * MAX_ENGINES * BENCH_MAX_WORKLOADS, sizeof *rows);
  peak_rss = malloc((size_t)rounds * MAX_ENGINES * sizeof *peak_rss);
  if (rows == NULL || peak_rss == NULL) {
    fprintf(stderr, "strata-bench: out of memory\n");
    return 1;
  }
  for (size_t k = 0; k < (size_t)rounds * MAX_ENGINES; k++)
    peak_rss[k] = -1;

  char base[PATH_MAX];
  int made_base = 0;
  if (cfg.db != NULL) {
    snprintf(base, sizeof base, "%s", cfg.db);
    if (mkdir(base, 0755) != 0 && errno != EEXIST) {
      fprintf(stderr, "strata-bench: cannot create %s: %s\n", base, strerror(errno));
      return 1;
    }
  } else {
    snprintf(base, sizeof base, "/tmp/strata-bench-XXXXXX");
    if (mkdtemp(base) == NULL) {
      fprintf(stderr, "strata-bench: cannot create a directory in /tmp: %s\n", strerror(errno));
      return 1;
    }
    made_base = 1;
  }

  fprintf(stderr, "strata-bench: %d engine(s), %d round(s), %d workload(s), databases under %s\n",
          nengines, rounds, cfg.nworkloads, base);
  int failures = 0;
  for (int r = 0; r < rounds; r++)
    for (int k = 0; k < nengines; k++) {
      int e = (k + r) % nengines;
      if (run_worker(r, e, base) != 0) failures++;
    }
  if (made_base) nftw(base, remove_entry, 16, FTW_DEPTH | FTW_PHYS);

  int missing = 0;
  for (int r = 0; r < rounds; r++)
    for (int e = 0; e < nengines; e++) {
      for (int w = 0; w < cfg.nworkloads; w++)
        if (!row_at(r, e, w)->have && !row_at(r, e, w)->unsupported) missing++;
      if (*rss_at(r, e) < 0) missing++;
    }

  print_tables();
  int rc = failures > 0 || missing > 0;
  if (json != NULL && write_json(json) != 0) rc = 1;
  if (plot != NULL && write_plot(plot) != 0) rc = 1;
  if (failures > 0 || missing > 0)
    fprintf(stderr, "strata-bench: %d worker run(s) failed, %d result(s) missing\n", failures,
            missing);
  free(rows);
  free(peak_rss);
  bench_config_free(&cfg);
  return rc;
}
