/*
 * config.c - the option table and everything driven by it (see config.h).
 *
 * Value syntax: integers in decimal; memory sizes as redis.conf writes them
 * (a number of bytes with an optional unit: k = 1000, kb = 1024, m, mb, g,
 * gb; case-insensitive); enumerations by name; strings as given (quote
 * them to include spaces).
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "resp.h"
#include "strutil.h"

enum { T_INT, T_MEM, T_ENUM, T_STR, T_LIST, T_CONST };

typedef struct sv_opt {
  const char *name;
  const char *alias; /* a redis.conf name with the same meaning, or NULL */
  int type;
  size_t off; /* of the atomic_llong or char * in sv_config */
  const char *def;
  long long min, max;
  const char *const *names; /* T_ENUM: values 0, 1, ... */
  int runtime;              /* CONFIG SET may change it */
  const char *arg;          /* for --help */
  const char *help;
} sv_opt;

static const char *const sync_names[] = {"always", "everysec", "no", NULL};
static const char *const tls_auth_names[] = {"no", "yes", "optional", NULL};
static const char *const log_names[] = {"debug", "verbose", "notice", "warning", NULL};
static const char *const comp_names[] = {"snappy", "zstd", "none", NULL};

#define OFF(f) offsetof(sv_config, f)
#define GB (1024LL * 1024 * 1024)
#define MB (1024LL * 1024)

/* The table. Keep --help's order: network, limits, database, threads, logs. */
static const sv_opt opts[] = {
    {"port", NULL, T_INT, OFF(port), "6379", 0, 65535, NULL, 0, "<port>",
     "TCP port for plain (non-TLS) connections; 0 listens on none"},
    {"bind", NULL, T_LIST, OFF(bind), "127.0.0.1 -::1", 0, 0, NULL, 0, "<addr>...",
     "addresses to listen on (IPv4 or IPv6, '*' for all IPv4, '::' for all IPv6); an address "
     "written with a leading '-' is skipped when the system cannot bind it"},
    {"tls-port", NULL, T_INT, OFF(tls_port), "0", 0, 65535, NULL, 0, "<port>",
     "TCP port for TLS connections (OpenSSL); 0 disables TLS"},
    {"tls-cert-file", NULL, T_STR, OFF(tls_cert_file), "", 0, 0, NULL, 0, "<file>",
     "the server's certificate chain (PEM); needed with tls-port"},
    {"tls-key-file", NULL, T_STR, OFF(tls_key_file), "", 0, 0, NULL, 0, "<file>",
     "the private key of tls-cert-file (PEM, not encrypted)"},
    {"tls-ca-cert-file", NULL, T_STR, OFF(tls_ca_cert_file), "", 0, 0, NULL, 0, "<file>",
     "CA certificates (PEM) that client certificates are checked against"},
    {"tls-auth-clients", NULL, T_ENUM, OFF(tls_auth_clients), "yes", 0, 0, tls_auth_names, 0,
     "yes|no|optional",
     "with tls-ca-cert-file: yes requires a client certificate signed by it, optional checks "
     "one when given, no never asks"},

    {"requirepass", NULL, T_STR, OFF(requirepass), "", 0, 0, NULL, 1, "<password>",
     "clients must AUTH (or HELLO ... AUTH) with this password before any other command; "
     "compared in constant time; empty: no password"},
    {"maxclients", NULL, T_INT, OFF(maxclients), "10000", 1, 4294967295LL, NULL, 1, "<n>",
     "connections allowed at once; one more is answered '-ERR max number of clients reached' "
     "and closed"},
    {"timeout", NULL, T_INT, OFF(timeout), "0", 0, INT_MAX, NULL, 1, "<seconds>",
     "close a connection idle this long (no command and no pending reply); 0: never"},
    {"proto-max-bulk-len", NULL, T_MEM, OFF(proto_max_bulk_len), "512mb", 1 * MB, 4 * GB - 1, NULL,
     1, "<bytes>",
     "largest argument (and string value) a client may send; a longer bulk length is a "
     "protocol error"},
    {"client-query-buffer-limit", NULL, T_MEM, OFF(client_query_buffer_limit), "1gb", 1 * MB,
     4 * GB, NULL, 1, "<bytes>",
     "bytes of unprocessed input a connection may hold; past it the connection is closed"},
    {"client-output-pause", NULL, T_MEM, OFF(client_output_pause), "1mb", 16 * 1024, 4 * GB, NULL,
     1, "<bytes>",
     "while this many reply bytes wait for a slow reader, its further commands are not read "
     "(other connections are not affected)"},

    {"dir", NULL, T_STR, OFF(dir), "strata-db", 0, 0, NULL, 0, "<path>",
     "the Strata database directory (created when missing); it opens with the strata tool, "
     "the C and Python APIs and LevelDB once the server has stopped"},
    {"sync", "appendfsync", T_ENUM, OFF(sync), "always", 0, 0, sync_names, 1, "always|everysec|no",
     "always: every write is fdatasync'd before its reply (concurrent clients' writes share one "
     "log write and one fdatasync); everysec: the log is fdatasync'd once a second; no: the OS "
     "flushes. In every mode a process crash loses no acknowledged write"},
    {"databases", NULL, T_INT, OFF(databases), "16", 1, 100000, NULL, 0, "<n>",
     "SELECT accepts 0 .. n-1; 0 is the main database, n > 0 the sub-database \"redis/<n>\""},
    {"cache-size", NULL, T_MEM, OFF(cache_size), "256mb", 1 * MB, 1024 * GB, NULL, 0, "<bytes>",
     "the engine's block cache"},
    {"write-buffer-size", NULL, T_MEM, OFF(write_buffer_size), "4mb", 64 * 1024, 4 * GB, NULL, 0,
     "<bytes>", "bytes of writes held in the memtable before it is flushed to a table"},
    {"bloom-bits", NULL, T_INT, OFF(bloom_bits), "10", 0, 64, NULL, 0, "<n>",
     "bits per key of the bloom filter in new tables (LevelDB's); 0: no filter"},
    {"compression", NULL, T_ENUM, OFF(compression), "snappy", 0, 0, comp_names, 0,
     "snappy|zstd|none", "block compression of new tables"},

    {"io-threads", NULL, T_INT, OFF(io_threads), "0", 0, 64, NULL, 0, "<n>",
     "threads running the event loops (reads, parsing, replies, fast reads); 0: one per CPU, "
     "at most 8"},
    {"worker-threads", NULL, T_INT, OFF(worker_threads), "64", 1, 4096, NULL, 0, "<n>",
     "threads running write batches and long commands (KEYS, SCAN, EXEC...); a batch waiting "
     "for its fdatasync holds one, so it bounds the writes in flight"},
    {"scan-cursors", NULL, T_INT, OFF(scan_cursors), "10000", 16, 10000000, NULL, 1, "<n>",
     "SCAN cursors remembered; the oldest is forgotten past this (it then answers "
     "'-ERR invalid cursor')"},
    {"expire-sweep-ms", NULL, T_INT, OFF(expire_sweep_ms), "100", 1, 60000, NULL, 1, "<ms>",
     "how often expired keys are removed in the background (they vanish for readers at "
     "their expiry time regardless)"},

    {"loglevel", NULL, T_ENUM, OFF(loglevel), "notice", 0, 0, log_names, 1,
     "debug|verbose|notice|warning", "least severe log lines written"},
    {"logfile", NULL, T_STR, OFF(logfile), "", 0, 0, NULL, 0, "<file>",
     "append the log to this file; empty: standard error"},
    {"pidfile", NULL, T_STR, OFF(pidfile), "", 0, 0, NULL, 0, "<file>",
     "write the process id here at start and remove it at a clean exit"},

    /* Read-only answers for tools that ask redis-server's persistence
     * settings (redis-benchmark does): Strata always logs every write and
     * never writes RDB snapshots. */
    {"appendonly", NULL, T_CONST, 0, "yes", 0, 0, NULL, 0, NULL, NULL},
    {"save", NULL, T_CONST, 0, "", 0, 0, NULL, 0, NULL, NULL},
};
#define NOPTS (sizeof opts / sizeof opts[0])

static atomic_llong *num(sv_config *cfg, const sv_opt *o) {
  return (atomic_llong *)((char *)cfg + o->off);
}
static char **str(sv_config *cfg, const sv_opt *o) { return (char **)((char *)cfg + o->off); }

static const sv_opt *find(const char *name) {
  for (size_t i = 0; i < NOPTS; i++) {
    if (!strcasecmp(opts[i].name, name)) return &opts[i];
    if (opts[i].alias && !strcasecmp(opts[i].alias, name)) return &opts[i];
  }
  return NULL;
}

/* redis.conf memory syntax; returns 0 and *v, or -1. */
static int parse_mem(const char *s, long long *v) {
  const char *u = s;
  if (*u == '-' || !*u) return -1;
  while (*u && isdigit((unsigned char)*u))
    u++;
  long long mul;
  if (!*u || !strcasecmp(u, "b"))
    mul = 1;
  else if (!strcasecmp(u, "k"))
    mul = 1000;
  else if (!strcasecmp(u, "kb"))
    mul = 1024;
  else if (!strcasecmp(u, "m"))
    mul = 1000 * 1000;
  else if (!strcasecmp(u, "mb"))
    mul = 1024 * 1024;
  else if (!strcasecmp(u, "g"))
    mul = 1000LL * 1000 * 1000;
  else if (!strcasecmp(u, "gb"))
    mul = GB;
  else
    return -1;
  if (u == s) return -1;
  errno = 0;
  char *end;
  unsigned long long x = strtoull(s, &end, 10);
  if (errno || end != u) return -1;
  if (x > (unsigned long long)LLONG_MAX / (unsigned long long)mul) return -1;
  *v = (long long)x * mul;
  return 0;
}

static int set_one(sv_config *cfg, const sv_opt *o, const char *const *vals, int nvals, int dry,
                   const char **why) {
  if (o->type == T_CONST) {
    *why = "can't set immutable config";
    return -1;
  }
  if (o->type != T_LIST && nvals != 1) {
    *why = "wrong number of arguments";
    return -1;
  }
  switch (o->type) {
  case T_INT:
  case T_MEM: {
    long long v;
    if (o->type == T_INT) {
      if (!sv_str2ll(vals[0], strlen(vals[0]), &v)) {
        *why = "argument couldn't be parsed into an integer";
        return -1;
      }
    } else if (parse_mem(vals[0], &v)) {
      *why = "argument must be a memory value";
      return -1;
    }
    if (v < o->min || v > o->max) {
      static __thread char buf[96];
      snprintf(buf, sizeof buf, "argument must be between %lld and %lld inclusive", o->min, o->max);
      *why = buf;
      return -1;
    }
    if (!dry) atomic_store_explicit(num(cfg, o), v, memory_order_relaxed);
    return 0;
  }
  case T_ENUM:
    for (int i = 0; o->names[i]; i++) {
      if (!strcasecmp(o->names[i], vals[0])) {
        if (!dry) atomic_store_explicit(num(cfg, o), i, memory_order_relaxed);
        return 0;
      }
    }
    {
      static __thread char buf[160];
      size_t k = (size_t)snprintf(buf, sizeof buf, "argument(s) must be one of the following: ");
      for (int i = 0; o->names[i] && k < sizeof buf; i++)
        k += (size_t)snprintf(buf + k, sizeof buf - k, "%s%s", i ? ", " : "", o->names[i]);
      *why = buf;
    }
    return -1;
  case T_STR:
  case T_LIST: {
    if (dry) return 0;
    size_t n = 0;
    for (int i = 0; i < nvals; i++)
      n += strlen(vals[i]) + 1;
    char *s = malloc(n + 1);
    if (!s) {
      *why = "out of memory";
      return -1;
    }
    s[0] = '\0';
    for (int i = 0; i < nvals; i++) {
      if (i) strcat(s, " ");
      strcat(s, vals[i]);
    }
    pthread_mutex_lock(&cfg->mu);
    char *old = *str(cfg, o);
    *str(cfg, o) = s;
    pthread_mutex_unlock(&cfg->mu);
    free(old);
    return 0;
  }
  }
  *why = "unknown option type";
  return -1;
}

int sv_config_init(sv_config *cfg) {
  memset(cfg, 0, sizeof *cfg);
  pthread_mutex_init(&cfg->mu, NULL);
  for (size_t i = 0; i < NOPTS; i++) {
    const sv_opt *o = &opts[i];
    if (o->type == T_CONST) continue;
    const char *v = o->def;
    const char *why;
    if (set_one(cfg, o, &v, 1, 0, &why)) return -1;
  }
  return 0;
}

void sv_config_free(sv_config *cfg) {
  for (size_t i = 0; i < NOPTS; i++) {
    if (opts[i].type == T_STR || opts[i].type == T_LIST) {
      free(*str(cfg, &opts[i]));
      *str(cfg, &opts[i]) = NULL;
    }
  }
  pthread_mutex_destroy(&cfg->mu);
}

int sv_config_set(sv_config *cfg, const char *name, const char *const *vals, int nvals,
                  int at_runtime, int dry_run, const char **why, int *found) {
  const sv_opt *o = find(name);
  *found = o != NULL;
  if (!o) {
    *why = "unknown option";
    return -1;
  }
  if (at_runtime && !o->runtime) {
    *why = "can't set immutable config";
    return -1;
  }
  return set_one(cfg, o, vals, nvals, dry_run, why);
}

/* Splits a config line with the inline-request rules (quotes as in
 * redis.conf) by running it through the RESP parser. */
static int split_line(sv_resp_parser *p, char *line, size_t n, char ***argv, size_t **argl,
                      int *argc) {
  char *buf = malloc(n + 2);
  if (!buf) return -2;
  memcpy(buf, line, n);
  buf[n] = '\n';
  buf[n + 1] = '\0';
  sv_resp_limits lim = {LLONG_MAX, 0};
  size_t used;
  sv_resp_reset(p);
  int rc = sv_resp_parse(p, buf, n + 1, &lim, &used);
  free(buf);
  if (rc != SV_RESP_REQUEST) return -1;
  *argc = p->argc;
  *argv = calloc((size_t)p->argc + 1, sizeof **argv);
  *argl = calloc((size_t)p->argc + 1, sizeof **argl);
  if (!*argv || !*argl) return -2;
  sv_resp_argv(p, NULL, *argv, *argl);
  return 0;
}

int sv_config_load_file(sv_config *cfg, const char *path, char *err, size_t errcap) {
  FILE *f = fopen(path, "r");
  if (!f) {
    snprintf(err, errcap, "cannot open config file '%s': %s", path, strerror(errno));
    return -1;
  }
  sv_resp_parser p;
  sv_resp_init(&p);
  char *line = NULL;
  size_t cap = 0;
  ssize_t n;
  int lineno = 0, rc = 0;
  while ((n = getline(&line, &cap, f)) >= 0) {
    lineno++;
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
      line[--n] = '\0';
    size_t i = 0;
    while (i < (size_t)n && isspace((unsigned char)line[i]))
      i++;
    if (i == (size_t)n || line[i] == '#') continue;
    if (memchr(line, '\0', (size_t)n)) {
      snprintf(err, errcap, "%s:%d: NUL byte in line", path, lineno);
      rc = -1;
      break;
    }
    char **argv = NULL;
    size_t *argl = NULL;
    int argc = 0;
    int s = split_line(&p, line + i, (size_t)n - i, &argv, &argl, &argc);
    if (s == 0 && argc >= 1) {
      const char *why = NULL;
      int found;
      if (argc < 2) {
        snprintf(err, errcap, "%s:%d: '%s' needs a value", path, lineno, argv[0]);
        rc = -1;
      } else if (sv_config_set(cfg, argv[0], (const char *const *)argv + 1, argc - 1, 0, 0, &why,
                               &found)) {
        if (!found)
          snprintf(err, errcap, "%s:%d: unknown option '%s'", path, lineno, argv[0]);
        else
          snprintf(err, errcap, "%s:%d: '%s': %s", path, lineno, argv[0], why);
        rc = -1;
      }
    } else if (s != 0) {
      snprintf(err, errcap, "%s:%d: %s", path, lineno,
               s == -2 ? "out of memory" : "unbalanced quotes");
      rc = -1;
    }
    free(argv);
    free(argl);
    if (rc) break;
  }
  free(line);
  sv_resp_free(&p);
  fclose(f);
  return rc;
}

int sv_config_parse_args(sv_config *cfg, int argc, char **argv, int *action, char *err,
                         size_t errcap) {
  *action = 0;
  int i = 1;
  for (int k = 1; k < argc; k++) {
    if (!strcmp(argv[k], "--help") || !strcmp(argv[k], "-h")) {
      *action = 'h';
      return 0;
    }
    if (!strcmp(argv[k], "--version") || !strcmp(argv[k], "-v")) {
      *action = 'v';
      return 0;
    }
  }
  if (i < argc && strncmp(argv[i], "--", 2) != 0) {
    if (sv_config_load_file(cfg, argv[i], err, errcap)) return -1;
    i++;
  }
  while (i < argc) {
    if (strncmp(argv[i], "--", 2) != 0 || !argv[i][2]) {
      snprintf(err, errcap, "unexpected argument '%s' (options are written --name value)", argv[i]);
      return -1;
    }
    const char *name = argv[i] + 2;
    int j = i + 1;
    while (j < argc && strncmp(argv[j], "--", 2) != 0)
      j++;
    /* An empty value is written --requirepass "" */
    if (j == i + 1) {
      snprintf(err, errcap, "option --%s needs a value", name);
      return -1;
    }
    const char *why;
    int found;
    if (sv_config_set(cfg, name, (const char *const *)argv + i + 1, j - i - 1, 0, 0, &why,
                      &found)) {
      if (!found)
        snprintf(err, errcap, "unknown option --%s (see --help)", name);
      else
        snprintf(err, errcap, "--%s: %s", name, why);
      return -1;
    }
    i = j;
  }
  return 0;
}

char *sv_config_strdup(sv_config *cfg, char *const *field) {
  pthread_mutex_lock(&cfg->mu);
  char *s = strdup(*field ? *field : "");
  pthread_mutex_unlock(&cfg->mu);
  return s;
}

static void value_text(sv_config *cfg, const sv_opt *o, char *buf, size_t cap, char **dyn) {
  *dyn = NULL;
  switch (o->type) {
  case T_INT:
  case T_MEM:
    snprintf(buf, cap, "%lld", atomic_load_explicit(num(cfg, o), memory_order_relaxed));
    break;
  case T_ENUM:
    snprintf(buf, cap, "%s", o->names[atomic_load_explicit(num(cfg, o), memory_order_relaxed)]);
    break;
  case T_STR:
  case T_LIST: *dyn = sv_config_strdup(cfg, str(cfg, o)); break;
  case T_CONST: snprintf(buf, cap, "%s", o->def); break;
  }
}

void sv_config_get_reply(sv_config *cfg, char **pats, size_t *plen, int npats, sv_reply *r) {
  int match[NOPTS];
  int n = 0;
  for (size_t i = 0; i < NOPTS; i++) {
    match[i] = 0;
    for (int k = 0; k < npats && !match[i]; k++) {
      if (sv_glob_match(pats[k], plen[k], opts[i].name, strlen(opts[i].name), 1) ||
          (opts[i].alias &&
           sv_glob_match(pats[k], plen[k], opts[i].alias, strlen(opts[i].alias), 1)))
        match[i] = 1;
    }
    n += match[i];
  }
  sv_reply_map(r, n);
  for (size_t i = 0; i < NOPTS; i++) {
    if (!match[i]) continue;
    char buf[64], *dyn;
    value_text(cfg, &opts[i], buf, sizeof buf, &dyn);
    /* Asked by its redis.conf name only: answer with that name, as
     * clients look the reply up by the name they asked. */
    const char *name = opts[i].name;
    if (opts[i].alias) {
      int by_name = 0;
      for (int k = 0; k < npats; k++)
        if (sv_glob_match(pats[k], plen[k], opts[i].name, strlen(opts[i].name), 1)) by_name = 1;
      if (!by_name) name = opts[i].alias;
    }
    sv_reply_bulk_cstr(r, name);
    sv_reply_bulk_cstr(r, dyn ? dyn : buf);
    free(dyn);
  }
}

void sv_config_usage(FILE *out, const char *prog) {
  fprintf(out,
          "Usage: %s [config-file] [--option value ...]\n"
          "       %s --help | --version\n"
          "\n"
          "strata-server serves a Strata database (an ordered key-value store in LevelDB's\n"
          "format) over the Redis protocol (RESP2, and RESP3 after HELLO 3). Every Redis client\n"
          "works with it unchanged; SET k v stores the record k -> v that the C and Python APIs,\n"
          "the strata tool and LevelDB read. SHUTDOWN or SIGTERM/SIGINT close the database\n"
          "cleanly. See doc/server.md.\n"
          "\n"
          "A config file holds one 'option value...' per line ('#' comments, redis.conf\n"
          "quoting); --option value arguments override it. Sizes take redis.conf units\n"
          "(k, kb, m, mb, g, gb). Options marked [runtime] may be changed by CONFIG SET.\n"
          "\n"
          "Options (default in parentheses):\n",
          prog, prog);
  for (size_t i = 0; i < NOPTS; i++) {
    const sv_opt *o = &opts[i];
    if (!o->help) continue;
    fprintf(out, "  --%s %s  (%s)%s%s%s\n", o->name, o->arg, o->def[0] ? o->def : "\"\"",
            o->runtime ? " [runtime]" : "", o->alias ? "  alias: --" : "",
            o->alias ? o->alias : "");
    /* Wrap the description at 76 columns, indented by 6. */
    const char *h = o->help;
    while (*h) {
      size_t len = strlen(h);
      size_t take = len;
      if (len > 70) {
        take = 70;
        while (take > 0 && h[take] != ' ')
          take--;
        if (take == 0) take = 70;
      }
      fprintf(out, "      %.*s\n", (int)take, h);
      h += take;
      while (*h == ' ')
        h++;
    }
  }
  fprintf(out,
          "\nUnauthenticated clients (with requirepass) may send at most %d arguments of "
          "at most %d bytes\nper command, as redis-server allows; an inline command line "
          "is at most %d bytes.\n",
          SV_RESP_UNAUTH_MAX_ARGS, SV_RESP_UNAUTH_MAX_BULK, SV_RESP_INLINE_MAX);
}

const char *sv_config_sync_name(long long mode) {
  return mode >= 0 && mode <= 2 ? sync_names[mode] : "?";
}
