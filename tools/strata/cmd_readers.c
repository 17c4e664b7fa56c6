/*
 * cmd_readers.c - strata readers: which processes have a database open,
 * found through Linux's /proc (LMDB's reader table has no counterpart in
 * LevelDB's format: read-only openers register nowhere).
 *
 *   /proc/PID/fd/N       a symbolic link to the file a descriptor holds
 *   /proc/PID/fdinfo/N   "lock:" lines for the locks held through it
 *                        (fcntl and open-file-description locks alike)
 *   /proc/PID/maps       the files it has mapped (tables are read through
 *                        mmap, with no descriptor kept)
 *
 * A process with a descriptor of DBPATH/LOCK that holds a lock is the
 * writer; any other process with a file of DBPATH open (a table, a log, the
 * MANIFEST) is a reader (a read-only opener, or a tool reading files).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

typedef struct proc_use {
  long pid;
  int files;  /* descriptors open on files of the database */
  int writer; /* holds the LOCK */
  char comm[64];
} proc_use;

/* 1 if /proc/PID/fdinfo/FD has a "lock:" line. */
static int fd_holds_lock(const char *pid, const char *fd) {
  char path[600], line[256];
  snprintf(path, sizeof path, "/proc/%s/fdinfo/%s", pid, fd);
  FILE *f = fopen(path, "r");
  if (!f) return 0;
  int held = 0;
  while (fgets(line, sizeof line, f))
    if (!strncmp(line, "lock:", 5)) held = 1;
  fclose(f);
  return held;
}

/* The distinct files of the database one process uses. */
typedef struct name_set {
  char **v;
  size_t n;
} name_set;

static void set_add(name_set *ns, const char *name) {
  for (size_t i = 0; i < ns->n; i++)
    if (!strcmp(ns->v[i], name)) return;
  char **v = realloc(ns->v, (ns->n + 1) * sizeof *v);
  if (!v) return; /* a count one short beats no answer */
  ns->v = v;
  if ((v[ns->n] = strdup(name))) ns->n++;
}

static void set_free(name_set *ns) {
  for (size_t i = 0; i < ns->n; i++)
    free(ns->v[i]);
  free(ns->v);
}

/* The name of a file directly inside dir, or NULL. */
static const char *in_dir(const char *path, const char *dir, size_t dlen) {
  if (strncmp(path, dir, dlen) || path[dlen] != '/' || !path[dlen + 1] ||
      strchr(path + dlen + 1, '/'))
    return NULL;
  return path + dlen + 1;
}

/* Looks at one process: its descriptors (/proc/PID/fd) and its mapped files
 * (/proc/PID/maps: tables are read through mmap, with no descriptor kept).
 * Returns 1 if it uses the database. */
static int scan_proc(const char *pid, const char *dir, size_t dlen, proc_use *u) {
  char path[PATH_MAX + 64], target[PATH_MAX];
  snprintf(path, sizeof path, "/proc/%s/fd", pid);
  DIR *d = opendir(path);
  if (!d) return 0; /* gone, or not ours to see */
  memset(u, 0, sizeof *u);
  u->pid = strtol(pid, NULL, 10);
  name_set files = {NULL, 0};
  struct dirent *de;
  while ((de = readdir(d))) {
    if (de->d_name[0] == '.') continue;
    snprintf(path, sizeof path, "/proc/%s/fd/%s", pid, de->d_name);
    ssize_t n = readlink(path, target, sizeof target - 1);
    if (n <= 0) continue;
    target[n] = '\0';
    const char *name = in_dir(target, dir, dlen);
    if (!name) continue;
    set_add(&files, name);
    if (!strcmp(name, "LOCK") && fd_holds_lock(pid, de->d_name)) u->writer = 1;
  }
  closedir(d);
  snprintf(path, sizeof path, "/proc/%s/maps", pid);
  FILE *m = fopen(path, "r");
  if (m) {
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    while ((len = getline(&line, &cap, m)) > 0) {
      if (line[len - 1] == '\n') line[len - 1] = '\0';
      char *slash = strchr(line, '/'); /* the path is the last field */
      const char *name = slash ? in_dir(slash, dir, dlen) : NULL;
      if (name) set_add(&files, name);
    }
    free(line);
    fclose(m);
  }
  u->files = (int)files.n;
  set_free(&files);
  if (!u->files) return 0;
  snprintf(path, sizeof path, "/proc/%s/comm", pid);
  FILE *f = fopen(path, "r");
  if (f) {
    if (fgets(u->comm, sizeof u->comm, f)) u->comm[strcspn(u->comm, "\n")] = '\0';
    fclose(f);
  }
  if (!u->comm[0]) snprintf(u->comm, sizeof u->comm, "?");
  return 1;
}

static int by_role(const void *a, const void *b) {
  const proc_use *x = a, *y = b;
  if (x->writer != y->writer) return y->writer - x->writer;
  return x->pid < y->pid ? -1 : x->pid > y->pid;
}

static int run_readers(const cli_cmd *cmd, int argc, char **argv) {
  static const struct option longopts[] = {
      CLI_LONGOPT_ENV, {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
  int c;
  cli_common co;
  cli_common_init(&co);
  opterr = 0;
  while ((c = getopt_long(argc, argv, ":e:h", longopts, NULL)) != -1) {
    if (cli_common_opt(&co, c, optarg)) continue;
    switch (c) {
    case 'h': return cli_help(cmd);
    default: return cli_bad_option(cmd, c, argv);
    }
  }
  int rc = cli_take_dbpath(cmd, &co, argc, argv, &optind);
  if (rc || (rc = cli_operands(cmd, argc, optind, 0, 0, "DBPATH"))) return rc;
  char dir[PATH_MAX], cur[PATH_MAX + 16];
  struct stat st;
  if (!realpath(co.dbpath, dir)) {
    cli_err(cmd, "%s: %s", co.dbpath, errno == ENOENT ? "no such database" : strerror(errno));
    return CLI_FAIL;
  }
  snprintf(cur, sizeof cur, "%s/CURRENT", dir);
  if (stat(cur, &st) != 0) {
    cli_err(cmd, "%s: not a database (no CURRENT file)", co.dbpath);
    return CLI_FAIL;
  }
  DIR *p = opendir("/proc");
  if (!p) {
    cli_err(cmd, "/proc: %s (readers needs Linux's /proc)", strerror(errno));
    return CLI_FAIL;
  }
  proc_use *uses = NULL;
  size_t n = 0;
  size_t dlen = strlen(dir);
  long self = (long)getpid();
  struct dirent *de;
  while ((de = readdir(p))) {
    if (de->d_name[0] < '0' || de->d_name[0] > '9') continue;
    proc_use u;
    if (strtol(de->d_name, NULL, 10) == self || !scan_proc(de->d_name, dir, dlen, &u)) continue;
    proc_use *nu = realloc(uses, (n + 1) * sizeof *nu);
    if (!nu) {
      closedir(p);
      free(uses);
      cli_err(cmd, "out of memory");
      return CLI_FAIL;
    }
    uses = nu;
    uses[n++] = u;
  }
  closedir(p);
  if (n > 1) qsort(uses, n, sizeof *uses, by_role);
  if (n == 0) {
    printf("no process has %s open\n", co.dbpath);
  } else {
    printf("%-8s %-7s %-16s %s\n", "pid", "role", "command", "files");
    for (size_t i = 0; i < n; i++)
      printf("%-8ld %-7s %-16s %d\n", uses[i].pid, uses[i].writer ? "writer" : "reader",
             uses[i].comm, uses[i].files);
  }
  free(uses);
  return fflush(stdout) == 0 ? CLI_OK : CLI_FAIL;
}

const cli_cmd cli_cmd_readers = {
    "readers", "list the processes that have the database open (Linux)",
    "usage: strata readers DBPATH\n"
    "\n"
    "Lists the processes that have the database open, as LMDB's reader list\n"
    "does, one line each after a header line:\n"
    "\n"
    "    pid      role    command          files\n"
    "    4242     writer  strata-server    7\n"
    "    4250     reader  strata           5\n"
    "\n"
    "writer is the process holding DBPATH/LOCK (a Strata or LevelDB handle\n"
    "open for writing; at most one); reader is any other process with a file\n"
    "of the database open: a read-only opener ('strata ... -r', 'strata\n"
    "watch'), or a program reading the files ('strata warm', a backup). files\n"
    "counts the database's files it has open or mapped; command is the\n"
    "process name from /proc. Without any: \"no process has DBPATH open\".\n"
    "\n"
    "What it can see: it reads Linux's /proc (each process's descriptors, the\n"
    "locks held through them, its mapped files), so it needs Linux, and it\n"
    "lists only the processes whose /proc entries this user may read (all of\n"
    "them as root).\n"
    "What it cannot see: a read-only opener registers nowhere and holds no\n"
    "lock, so one that has no file of the database open or mapped at the\n"
    "moment (it has read no table yet, and its logs are read and closed) is\n"
    "not listed; nor are processes on another machine sharing the file\n"
    "system. Strata keeps no reader table,\n"
    "so there are no stale readers to clean (py-lmdb's -c has no counterpart).\n"
    "\n"
    "  -e, --env DBPATH   the database (instead of the DBPATH operand).\n"
    "  -h, --help         print this help.\n"
    "\n"
    "Exit status: 0 listed (even when none); 1 no database at DBPATH, or no\n"
    "/proc; 2 bad usage.\n",
    run_readers};
