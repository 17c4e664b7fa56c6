/*
 * cmd_server.c - server commands: INFO DBSIZE CONFIG GET/SET/RESETSTAT/HELP
 * TIME FLUSHDB FLUSHALL SHUTDOWN.
 *
 * INFO has redis-server's sections and field names where the meaning is
 * the same (clients and tools parse them), and Strata's own figures in
 * Persistence and Keyspace: the sync mode and syncs made, the files and
 * bytes per level, the memtable and block cache, the database directory.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <event2/event.h>

#include "client.h"
#include "server.h"
#include "strutil.h"

static long long cfgnum(atomic_llong *v) { return atomic_load_explicit(v, memory_order_relaxed); }

/* A growable text for INFO. */
typedef struct text {
  char *s;
  size_t len, cap;
  int oom;
} text;

static void tprintf(text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void tprintf(text *t, const char *fmt, ...) {
  if (t->oom) return;
  for (;;) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(t->s ? t->s + t->len : NULL, t->s ? t->cap - t->len : 0, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if (t->s && t->len + (size_t)n < t->cap) {
      t->len += (size_t)n;
      return;
    }
    size_t cap = t->cap ? t->cap * 2 : 4096;
    while (cap < t->len + (size_t)n + 1)
      cap *= 2;
    char *s = realloc(t->s, cap);
    if (!s) {
      t->oom = 1;
      return;
    }
    t->s = s;
    t->cap = cap;
  }
}

static void human_bytes(char *buf, size_t cap, unsigned long long n) {
  const char *u[] = {"B", "K", "M", "G", "T"};
  double d = (double)n;
  int i = 0;
  while (d >= 1024 && i < 4) {
    d /= 1024;
    i++;
  }
  snprintf(buf, cap, "%.2f%s", d, u[i]);
}

static unsigned long long prop_u64(strata_db *db, const char *name) {
  strata_buf b = STRATA_BUF_INIT;
  unsigned long long v = 0;
  if (strata_property(db, name, &b) == STRATA_OK && b.data) v = strtoull(b.data, NULL, 10);
  strata_buf_free(&b);
  return v;
}

static void stat_line(void *arg, const char *name, sv_cmdstat *st) {
  text *t = arg;
  unsigned long long calls = atomic_load(&st->calls), us = atomic_load(&st->usec);
  tprintf(t,
          "cmdstat_%s:calls=%llu,usec=%llu,usec_per_call=%.2f,rejected_calls=0,failed_calls=%llu"
          "\r\n",
          name, calls, us, calls ? (double)us / (double)calls : 0.0,
          (unsigned long long)atomic_load(&st->failed));
}

/* Which sections INFO prints. */
enum {
  I_SERVER = 1,
  I_CLIENTS = 2,
  I_MEMORY = 4,
  I_PERSISTENCE = 8,
  I_STATS = 16,
  I_REPLICATION = 32,
  I_CPU = 64,
  I_COMMANDSTATS = 128,
  I_KEYSPACE = 256,
  I_DEFAULT = 1 | 2 | 4 | 8 | 16 | 32 | 64 | 256,
  I_ALL = 511
};

void sv_cmd_info(sv_ctx *x) {
  int want = x->argc == 1 ? I_DEFAULT : 0;
  static const struct {
    const char *name;
    int bits;
  } names[] = {{"server", I_SERVER},     {"clients", I_CLIENTS},
               {"memory", I_MEMORY},     {"persistence", I_PERSISTENCE},
               {"stats", I_STATS},       {"replication", I_REPLICATION},
               {"cpu", I_CPU},           {"commandstats", I_COMMANDSTATS},
               {"keyspace", I_KEYSPACE}, {"default", I_DEFAULT},
               {"all", I_ALL},           {"everything", I_ALL}};
  for (int i = 1; i < x->argc; i++)
    for (size_t k = 0; k < sizeof names / sizeof names[0]; k++)
      if (sv_streq_ci(x->argv[i], x->argl[i], names[k].name)) want |= names[k].bits;

  sv_server *s = sv_srv;
  strata_db *db = sv_store_db(s->store);
  text t = {0};
  int64_t now = sv_now_ms();
  int sections = 0;
#define SECTION(bit, title)                                                                        \
  if (want & (bit)) {                                                                              \
    if (sections++) tprintf(&t, "\r\n");                                                           \
    tprintf(&t, "# " title "\r\n");
#define END }
  SECTION(I_SERVER, "Server")
  struct utsname un;
  uname(&un);
  tprintf(&t,
          "redis_version:%s\r\nstrata_server_version:%s\r\nstrata_version:%d.%d\r\n"
          "redis_mode:standalone\r\nos:%s %s %s\r\narch_bits:%d\r\n"
          "multiplexing_api:libevent %s\r\nprocess_id:%d\r\nrun_id:%s\r\ntcp_port:%lld\r\n"
          "tls_port:%lld\r\nserver_time_usec:%lld\r\nuptime_in_seconds:%lld\r\n"
          "uptime_in_days:%lld\r\nio_threads_active:%d\r\nio_threads:%d\r\n"
          "worker_threads:%lld\r\n",
          SV_REDIS_VERSION, SV_VERSION, STRATA_VERSION_MAJOR, STRATA_VERSION_MINOR, un.sysname,
          un.release, un.machine, (int)(8 * sizeof(void *)), event_base_get_method(s->io[0].base),
          (int)getpid(), s->run_id, cfgnum(&s->cfg.port), cfgnum(&s->cfg.tls_port),
          (long long)now * 1000, (long long)(now - s->start_ms) / 1000,
          (long long)(now - s->start_ms) / 86400000, s->nio > 1, s->nio,
          cfgnum(&s->cfg.worker_threads));
  END SECTION(I_CLIENTS, "Clients")
      tprintf(&t, "connected_clients:%d\r\nmaxclients:%lld\r\nblocked_clients:0\r\n",
              atomic_load(&s->nclients), cfgnum(&s->cfg.maxclients));
  END SECTION(I_MEMORY, "Memory") unsigned long long mem =
      prop_u64(db, "leveldb.approximate-memory-usage");
  char h[32];
  human_bytes(h, sizeof h, mem);
  tprintf(&t,
          "used_memory:%llu\r\nused_memory_human:%s\r\nstrata_memtables_bytes:%llu\r\n"
          "strata_block_cache_capacity:%lld\r\n",
          mem, h, mem, cfgnum(&s->cfg.cache_size));
  END SECTION(I_PERSISTENCE, "Persistence") char *dir = sv_config_strdup(&s->cfg, &s->cfg.dir);
  long long sync = cfgnum(&s->cfg.sync);
  tprintf(
      &t,
      "loading:0\r\naof_enabled:1\r\nrdb_bgsave_in_progress:0\r\n"
      "strata_dir:%s\r\nstrata_sync:%s\r\nstrata_unsynced_writes:%llu\r\n"
      "strata_everysec_syncs:%llu\r\nstrata_last_sync_ms:%lld\r\n",
      dir ? dir : "", sv_config_sync_name(sync), (unsigned long long)sv_store_unsynced(s->store),
      (unsigned long long)atomic_load(&s->st_syncs), (long long)atomic_load(&s->st_last_sync_ms));
  free(dir);
  for (int level = 0; level < 7; level++) {
    char name[64];
    snprintf(name, sizeof name, "leveldb.num-files-at-level%d", level);
    unsigned long long files = prop_u64(db, name);
    snprintf(name, sizeof name, "strata.level-bytes%d", level);
    unsigned long long bytes = prop_u64(db, name);
    tprintf(&t, "strata_level%d:files=%llu,bytes=%llu\r\n", level, files, bytes);
  }
  END SECTION(I_STATS, "Stats") unsigned long long runs = atomic_load(&s->st_write_runs),
                                                   wcmds = atomic_load(&s->st_write_cmds);
  tprintf(&t,
          "total_connections_received:%llu\r\ntotal_commands_processed:%llu\r\n"
          "total_net_input_bytes:%llu\r\ntotal_net_output_bytes:%llu\r\n"
          "rejected_connections:%llu\r\nexpired_keys:%llu\r\nevicted_keys:0\r\n"
          "strata_jobs:%llu\r\nstrata_write_runs:%llu\r\nstrata_write_run_commands:%llu\r\n"
          "strata_commands_per_write_run:%.2f\r\n",
          (unsigned long long)atomic_load(&s->st_connections),
          (unsigned long long)atomic_load(&s->st_commands),
          (unsigned long long)atomic_load(&s->st_net_in),
          (unsigned long long)atomic_load(&s->st_net_out),
          (unsigned long long)atomic_load(&s->st_rejected),
          (unsigned long long)atomic_load(&s->st_expired),
          (unsigned long long)atomic_load(&s->st_jobs), runs, wcmds,
          runs ? (double)wcmds / (double)runs : 0.0);
  END SECTION(I_REPLICATION, "Replication") tprintf(&t, "role:master\r\nconnected_slaves:0\r\n");
  END SECTION(I_CPU, "CPU") struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  tprintf(&t, "used_cpu_sys:%ld.%06ld\r\nused_cpu_user:%ld.%06ld\r\n", (long)ru.ru_stime.tv_sec,
          (long)ru.ru_stime.tv_usec, (long)ru.ru_utime.tv_sec, (long)ru.ru_utime.tv_usec);
  END SECTION(I_COMMANDSTATS, "Commandstats") sv_cmd_each_stat(stat_line, &t);
  END SECTION(I_KEYSPACE, "Keyspace") long long ndb = cfgnum(&s->cfg.databases);
  for (long long i = 0; i < ndb; i++) {
    uint64_t keys, expires;
    sv_store_keyspace(s->store, (int)i, &keys, &expires);
    if (keys)
      tprintf(&t, "db%lld:keys=%llu,expires=%llu,avg_ttl=0\r\n", i, (unsigned long long)keys,
              (unsigned long long)expires);
  }
  END
#undef SECTION
#undef END
      if (t.oom) {
    sv_reply_error(x->r, "out of memory");
  }
  else {
    sv_reply_verbatim(x->r, t.s ? t.s : "", t.len);
  }
  free(t.s);
}

void sv_cmd_dbsize(sv_ctx *x) {
  /* Exact, by walking the keys: Strata keeps no count (it would cost a read
   * before every write). Runs on a worker. */
  sv_scan sc;
  int rc = sv_scan_begin(&sc, sv_srv->store, x->dbi, NULL, 0, 0);
  if (rc) {
    sv_reply_engine_error(x->r, rc);
    return;
  }
  long long n = 0;
  const char *k;
  size_t kl;
  while ((rc = sv_scan_next(&sc, &k, &kl, NULL, NULL)) > 0)
    n++;
  sv_scan_end(&sc);
  if (rc < 0)
    sv_reply_engine_error(x->r, rc);
  else
    sv_reply_int(x->r, n);
}

void sv_cmd_config_get(sv_ctx *x) {
  sv_config_get_reply(&sv_srv->cfg, x->argv + 2, x->argl + 2, x->argc - 2, x->r);
}

void sv_cmd_config_set(sv_ctx *x) {
  if (x->argc % 2) {
    sv_reply_error(x->r, sv_err_syntax);
    return;
  }
  /* Check every pair first (names, duplicates, values), then apply, so a
   * bad pair changes nothing. */
  for (int i = 2; i < x->argc; i += 2) {
    for (int k = 2; k < i; k += 2) {
      if (!strcasecmp(x->argv[k], x->argv[i])) {
        sv_reply_errorf(x->r,
                        "CONFIG SET failed (possibly related to argument '%s') - "
                        "duplicate parameter",
                        x->argv[i]);
        return;
      }
    }
    const char *why;
    int found;
    const char *val = x->argv[i + 1];
    if (sv_config_set(&sv_srv->cfg, x->argv[i], &val, 1, 1, 1, &why, &found)) {
      if (!found)
        sv_reply_errorf(x->r, "Unknown option or number of arguments for CONFIG SET - '%s'",
                        x->argv[i]);
      else
        sv_reply_errorf(x->r, "CONFIG SET failed (possibly related to argument '%s') - %s",
                        x->argv[i], why);
      return;
    }
  }
  for (int i = 2; i < x->argc; i += 2) {
    const char *why;
    int found;
    const char *val = x->argv[i + 1];
    sv_config_set(&sv_srv->cfg, x->argv[i], &val, 1, 1, 0, &why, &found);
  }
  sv_reply_ok(x->r);
}

void sv_cmd_config_resetstat(sv_ctx *x) {
  sv_server *s = sv_srv;
  atomic_store(&s->st_connections, 0);
  atomic_store(&s->st_rejected, 0);
  atomic_store(&s->st_commands, 0);
  atomic_store(&s->st_net_in, 0);
  atomic_store(&s->st_net_out, 0);
  atomic_store(&s->st_expired, 0);
  atomic_store(&s->st_jobs, 0);
  atomic_store(&s->st_write_runs, 0);
  atomic_store(&s->st_write_cmds, 0);
  sv_reply_ok(x->r);
}

void sv_cmd_config_help(sv_ctx *x) { sv_cmd_container_help(x, "config"); }

void sv_cmd_time(sv_ctx *x) {
  struct timeval tv;
  gettimeofday(&tv, NULL);
  sv_reply_array(x->r, 2);
  sv_reply_bulk_ll(x->r, (long long)tv.tv_sec);
  sv_reply_bulk_ll(x->r, (long long)tv.tv_usec);
}

/* FLUSHDB / FLUSHALL [ASYNC | SYNC]: both run at once (the deletes are
 * written in batches; the keys' space is reclaimed by compaction). */
static int flush_args(sv_ctx *x) {
  if (x->argc == 1) return 0;
  if (x->argc == 2 &&
      (sv_streq_ci(x->argv[1], x->argl[1], "sync") || sv_streq_ci(x->argv[1], x->argl[1], "async")))
    return 0;
  sv_reply_error(x->r, sv_err_syntax);
  return -1;
}

static void flush(sv_ctx *x, int all) {
  if (flush_args(x)) return;
  sv_wctx_want_all(x->w);
  sv_wctx_lock(x->w);
  int rc = 0;
  if (all) {
    long long n = cfgnum(&sv_srv->cfg.databases);
    for (long long i = 0; i < n && !rc; i++)
      rc = sv_wctx_flushdb(x->w, (int)i);
  } else {
    rc = sv_wctx_flushdb(x->w, x->dbi);
  }
  sv_wctx_reset(x->w);
  if (rc)
    sv_reply_engine_error(x->r, rc);
  else
    sv_reply_ok(x->r);
}

void sv_cmd_flushdb(sv_ctx *x) { flush(x, 0); }
void sv_cmd_flushall(sv_ctx *x) { flush(x, 1); }

void sv_cmd_shutdown(sv_ctx *x) {
  int abort = 0;
  for (int i = 1; i < x->argc; i++) {
    if (sv_streq_ci(x->argv[i], x->argl[i], "nosave") ||
        sv_streq_ci(x->argv[i], x->argl[i], "save") || sv_streq_ci(x->argv[i], x->argl[i], "now") ||
        sv_streq_ci(x->argv[i], x->argl[i], "force")) {
      continue; /* every write is already in the log: nothing to save */
    } else if (sv_streq_ci(x->argv[i], x->argl[i], "abort")) {
      abort = 1;
    } else {
      sv_reply_error(x->r, sv_err_syntax);
      return;
    }
  }
  if (abort) {
    sv_reply_error(x->r, "No shutdown in progress.");
    return;
  }
  /* No reply, as redis-server: the connection closes once the database is
   * closed and the process exits. */
  sv_server_request_shutdown();
}
