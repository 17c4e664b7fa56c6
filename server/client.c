/*
 * client.c - a connection's request loop: parse what is buffered, check
 * each command against the table (existence, arity, authentication, MULTI),
 * run it inline or hand it to a worker as a job, and write the replies.
 *
 * Replies leave in request order: while a client's job is on a worker, the
 * client's later requests wait in its query buffer (its read event is off,
 * which also bounds its memory), and other clients go on. A run of
 * pipelined WRITE commands becomes one job, and the jobs of every client
 * read in one loop iteration go to a worker as one write batch (io.c):
 * they commit as one Strata batch and share one fdatasync.
 */
#include "client.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/event.h>

#include "log.h"
#include "server.h"
#include "strutil.h"

/* Commands per job, and argument bytes a job collects before it is sent
 * (a bound on the size of one group of pipelined writes). */
#define SV_JOB_MAX_CMDS 256
#define SV_JOB_MAX_BYTES (4 << 20)

static long long cfgnum(atomic_llong *v) { return atomic_load_explicit(v, memory_order_relaxed); }

static int password_set(void) {
  sv_config *cfg = &sv_srv->cfg;
  pthread_mutex_lock(&cfg->mu);
  int set = cfg->requirepass && cfg->requirepass[0];
  pthread_mutex_unlock(&cfg->mu);
  return set;
}

static sv_resp_limits limits(sv_client *c) {
  sv_resp_limits l;
  l.max_bulk = cfgnum(&sv_srv->cfg.proto_max_bulk_len);
  l.unauth = !c->authed && password_set();
  return l;
}

/* ------------------------------------------------------------------------ */
/* Read and write events                                                    */
/* ------------------------------------------------------------------------ */

static void read_on(sv_client *c) {
  if (c->flags & SV_CF_READ_OFF) {
    event_add(c->rev, NULL);
    c->flags &= ~SV_CF_READ_OFF;
  }
}

static void read_off(sv_client *c) {
  if (!(c->flags & SV_CF_READ_OFF)) {
    event_del(c->rev);
    c->flags |= SV_CF_READ_OFF;
  }
}

static void write_on(sv_client *c) {
  if (!(c->flags & SV_CF_WRITE_ARMED)) {
    event_add(c->wev, NULL);
    c->flags |= SV_CF_WRITE_ARMED;
  }
}

static void write_off(sv_client *c) {
  if (c->flags & SV_CF_WRITE_ARMED) {
    event_del(c->wev);
    c->flags &= ~SV_CF_WRITE_ARMED;
  }
}

/* ------------------------------------------------------------------------ */
/* MULTI queue                                                              */
/* ------------------------------------------------------------------------ */

void sv_multi_clear(sv_multi *m) {
  for (int i = 0; i < m->n; i++) {
    for (int k = 0; k < m->cmds[i].argc; k++)
      free(m->cmds[i].argv[k]);
    free(m->cmds[i].argv);
    free(m->cmds[i].argl);
  }
  free(m->cmds);
  memset(m, 0, sizeof *m);
}

int sv_multi_add(sv_multi *m, const sv_cmd *cmd, int argc, char **argv, size_t *argl) {
  if (m->n == m->cap) {
    int cap = m->cap ? m->cap * 2 : 8;
    sv_jobcmd *a = realloc(m->cmds, (size_t)cap * sizeof *a);
    if (!a) return -1;
    m->cmds = a;
    m->cap = cap;
  }
  sv_jobcmd *jc = &m->cmds[m->n];
  jc->cmd = cmd;
  jc->argc = argc;
  jc->argv = calloc((size_t)argc, sizeof *jc->argv);
  jc->argl = calloc((size_t)argc, sizeof *jc->argl);
  if (!jc->argv || !jc->argl) goto fail;
  for (int i = 0; i < argc; i++) {
    jc->argv[i] = malloc(argl[i] + 1);
    if (!jc->argv[i]) goto fail;
    memcpy(jc->argv[i], argv[i], argl[i]);
    jc->argv[i][argl[i]] = '\0';
    jc->argl[i] = argl[i];
  }
  m->n++;
  return 0;
fail:
  for (int i = 0; i < argc && jc->argv; i++)
    free(jc->argv[i]);
  free(jc->argv);
  free(jc->argl);
  return -1;
}

/* ------------------------------------------------------------------------ */
/* Jobs                                                                     */
/* ------------------------------------------------------------------------ */

static void job_clear(sv_job *j) {
  j->ncmds = 0;
  j->pool_used = 0;
  free(j->copy);
  j->copy = NULL;
}

/* Adds a command whose arguments point into the query buffer (or, for an
 * inline request, are copied). The argv arrays are laid out in the job's
 * pool and resolved by job_fixup once the job is complete. */
static int job_add(sv_job *j, const sv_cmd *cmd, int argc, char **argv, size_t *argl,
                   int copy_args) {
  if (j->ncmds == j->cap) {
    int cap = j->cap ? j->cap * 2 : 8;
    sv_jobcmd *a = realloc(j->cmds, (size_t)cap * sizeof *a);
    if (!a) return -1;
    j->cmds = a;
    j->cap = cap;
  }
  if (j->pool_used + (size_t)argc > j->pool_cap) {
    size_t cap = j->pool_cap ? j->pool_cap : 64;
    while (cap < j->pool_used + (size_t)argc)
      cap *= 2;
    char **av = realloc(j->argv_pool, cap * sizeof *av);
    if (!av) return -1;
    j->argv_pool = av;
    size_t *al = realloc(j->argl_pool, cap * sizeof *al);
    if (!al) return -1;
    j->argl_pool = al;
    j->pool_cap = cap;
  }
  char *copy = NULL;
  if (copy_args) {
    size_t total = 0;
    for (int i = 0; i < argc; i++)
      total += argl[i] + 1;
    copy = malloc(total ? total : 1);
    if (!copy) return -1;
    free(j->copy);
    j->copy = copy;
  }
  sv_jobcmd *jc = &j->cmds[j->ncmds++];
  jc->cmd = cmd;
  jc->argc = argc;
  jc->argv = (char **)(uintptr_t)j->pool_used; /* an offset until job_fixup */
  jc->argl = NULL;
  for (int i = 0; i < argc; i++) {
    char *a = argv[i];
    if (copy) {
      memcpy(copy, argv[i], argl[i] + 1);
      a = copy;
      copy += argl[i] + 1;
    }
    j->argv_pool[j->pool_used] = a;
    j->argl_pool[j->pool_used] = argl[i];
    j->pool_used++;
  }
  return 0;
}

static void job_fixup(sv_job *j) {
  for (int i = 0; i < j->ncmds; i++) {
    size_t off = (size_t)(uintptr_t)j->cmds[i].argv;
    j->cmds[i].argv = j->argv_pool + off;
    j->cmds[i].argl = j->argl_pool + off;
  }
}

/* ------------------------------------------------------------------------ */
/* Command checks                                                           */
/* ------------------------------------------------------------------------ */

/* Refuses a command (redis-server's rejectCommand): inside MULTI the
 * transaction is marked failed; a refused EXEC discards the transaction and
 * answers "-EXECABORT Transaction discarded because of: <error>". */
static void reject(sv_client *c, const sv_cmd *cmd, sv_reply *r, const char *err) {
  if (c->tflags & SV_TF_MULTI) c->tflags |= SV_TF_DIRTY_EXEC;
  if (cmd && cmd->proc == sv_cmd_exec) {
    sv_multi_clear(&c->multi);
    c->tflags &= ~(SV_TF_MULTI | SV_TF_DIRTY_EXEC);
    atomic_store_explicit(&c->multi_count, -1, memory_order_relaxed);
    sv_watch_free(c);
    sv_reply_errorf(r, "-EXECABORT Transaction discarded because of: %s",
                    err[0] == '-' ? err + 1 : err);
  } else {
    sv_reply_error(r, err);
  }
}

/* The table entry for argv, or NULL after replying the error. */
static const sv_cmd *check_command(sv_client *c, int argc, char **argv, size_t *argl, sv_reply *r) {
  char err[1024];
  const sv_cmd *cmd = sv_cmd_lookup(argv[0], argl[0]);
  if (cmd && cmd->subs && argc >= 2) {
    const sv_cmd *sub = sv_cmd_lookup_sub(cmd, argv[1], argl[1]);
    if (!sub) {
      char upper[32];
      size_t n = strlen(cmd->name);
      for (size_t i = 0; i < n && i < sizeof upper - 1; i++)
        upper[i] =
            (char)(cmd->name[i] >= 'a' && cmd->name[i] <= 'z' ? cmd->name[i] - 32 : cmd->name[i]);
      upper[n < sizeof upper ? n : sizeof upper - 1] = '\0';
      snprintf(err, sizeof err, "unknown subcommand '%.128s'. Try %s HELP.", argv[1], upper);
      reject(c, NULL, r, err);
      return NULL;
    }
    cmd = sub;
  }
  if (!cmd) {
    /* redis-server's message: up to 128 bytes of the name, then the first
     * arguments quoted while the list is shorter than 128 bytes. */
    char args[512];
    size_t len = 0;
    args[0] = '\0';
    for (int i = 1; i < argc && len < 128; i++) {
      int k = snprintf(args + len, sizeof args - len, "'%.*s' ", (int)(128 - len), argv[i]);
      if (k < 0) break;
      len += (size_t)k;
      if (len >= sizeof args) len = sizeof args - 1;
    }
    snprintf(err, sizeof err, "unknown command '%.128s', with args beginning with: %s", argv[0],
             args);
    reject(c, NULL, r, err);
    return NULL;
  }
  if ((cmd->arity > 0 && cmd->arity != argc) || argc < -cmd->arity) {
    snprintf(err, sizeof err, "wrong number of arguments for '%s' command", cmd->name);
    reject(c, cmd, r, err);
    return NULL;
  }
  if (!c->authed && !(cmd->flags & SV_CMD_NO_AUTH) && password_set()) {
    reject(c, cmd, r, "-NOAUTH Authentication required.");
    return NULL;
  }
  return cmd;
}

static int is_txn_control(const sv_cmd *cmd) {
  return cmd->proc == sv_cmd_exec || cmd->proc == sv_cmd_discard || cmd->proc == sv_cmd_multi ||
         cmd->proc == sv_cmd_watch || cmd->proc == sv_cmd_quit;
}

void sv_call(sv_ctx *x, const sv_cmd *cmd) {
  sv_cmdstat *st = sv_cmd_stat(cmd);
  uint64_t errs = x->r->errors;
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  x->cmd = cmd;
  cmd->proc(x);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  uint64_t us =
      (uint64_t)(t1.tv_sec - t0.tv_sec) * 1000000 + (uint64_t)((t1.tv_nsec - t0.tv_nsec) / 1000);
  atomic_fetch_add_explicit(&st->calls, 1, memory_order_relaxed);
  atomic_fetch_add_explicit(&st->usec, us, memory_order_relaxed);
  if (x->r->errors != errs) atomic_fetch_add_explicit(&st->failed, 1, memory_order_relaxed);
  atomic_fetch_add_explicit(&sv_srv->st_commands, 1, memory_order_relaxed);
  atomic_store_explicit(&x->c->last_cmd, cmd->name, memory_order_relaxed);
}

/* Looks further into the query buffer for more WRITE commands to run in
 * the same job. Stops at the first request that is incomplete, is not a
 * valid WRITE command, or would make the job too big; that request is
 * parsed again once the job is back. */
static void job_lookahead(sv_client *c, size_t bytes) {
  sv_job *j = &c->job;
  while (j->ncmds < SV_JOB_MAX_CMDS && bytes < SV_JOB_MAX_BYTES && c->qb_start < c->qb_len) {
    size_t used;
    sv_resp_limits lim = limits(c);
    int rc = sv_resp_parse(&c->parser, c->qb + c->qb_start, c->qb_len - c->qb_start, &lim, &used);
    if (rc == SV_RESP_MORE) return; /* the parser keeps its place */
    if (rc != SV_RESP_REQUEST || c->parser.is_inline) {
      sv_resp_reset(&c->parser);
      return;
    }
    int argc = c->parser.argc;
    if (argc == 0) {
      c->qb_start += used;
      continue;
    }
    if (argc > c->argv_cap) {
      /* The same arrays the main loop uses: grown here when needed. */
      char **av = realloc(c->argv, (size_t)argc * sizeof *av);
      size_t *al = av ? realloc(c->argl, (size_t)argc * sizeof *al) : NULL;
      if (av) c->argv = av;
      if (!al) {
        sv_resp_reset(&c->parser);
        return;
      }
      c->argl = al;
      c->argv_cap = argc;
    }
    sv_resp_argv(&c->parser, c->qb + c->qb_start, c->argv, c->argl);
    const sv_cmd *cmd = sv_cmd_lookup(c->argv[0], c->argl[0]);
    if (!cmd || cmd->run != SV_RUN_WRITE || cmd->subs || (cmd->arity > 0 && cmd->arity != argc) ||
        argc < -cmd->arity || (!c->authed && password_set()) ||
        job_add(j, cmd, argc, c->argv, c->argl, 0)) {
      sv_resp_reset(&c->parser);
      return;
    }
    c->qb_start += used;
    bytes += used;
  }
}

static void job_submit(sv_client *c) {
  job_fixup(&c->job);
  sv_reply_init(&c->job.out, c->resp);
  c->flags |= SV_CF_JOB;
  read_off(c);
  atomic_fetch_add_explicit(&sv_srv->st_jobs, 1, memory_order_relaxed);
  c->bnext = NULL;
  if (c->job.cmds[0].cmd->run == SV_RUN_WRITE)
    sv_io_batch_add(c); /* sent with the loop iteration's other write runs */
  else
    sv_pool_submit(sv_srv->pool, c);
}

/* Runs (or queues, or starts a job for) one request. */
static void dispatch(sv_client *c, int argc, char **argv, size_t *argl, size_t req_bytes) {
  if (sv_streq_ci(argv[0], argl[0], "host:") || sv_streq_ci(argv[0], argl[0], "post")) {
    /* An HTTP request sent to the Redis port (a cross-protocol attack from
     * a browser): redis-server closes without a reply. */
    sv_log(SV_LOG_WARNING,
           "Possible SECURITY ATTACK detected: a POST or Host: command from %s; "
           "connection closed",
           c->addr);
    c->flags |= SV_CF_CLOSE_ASAP;
    return;
  }
  const sv_cmd *cmd = check_command(c, argc, argv, argl, &c->out);
  if (!cmd) return;
  if (c->tflags & SV_TF_MULTI) {
    if (cmd->flags & SV_CMD_NO_MULTI) {
      reject(c, cmd, &c->out, "Command not allowed inside a transaction");
      return;
    }
    if (!is_txn_control(cmd)) {
      if (sv_multi_add(&c->multi, cmd, argc, argv, argl)) {
        c->flags |= SV_CF_CLOSE_ASAP;
        return;
      }
      atomic_store_explicit(&c->multi_count, c->multi.n, memory_order_relaxed);
      sv_reply_raw(&c->out, "+QUEUED\r\n", 9);
      return;
    }
  }
  if (cmd->run == SV_RUN_INLINE) {
    sv_ctx x = {c, NULL, argc, argv, argl, &c->out, NULL, &c->io->buf, c->db};
    sv_call(&x, cmd);
    return;
  }
  job_clear(&c->job);
  if (job_add(&c->job, cmd, argc, argv, argl, c->parser.is_inline)) {
    c->flags |= SV_CF_CLOSE_ASAP;
    return;
  }
  if (cmd->run == SV_RUN_WRITE) job_lookahead(c, req_bytes);
  job_submit(c);
}

/* ------------------------------------------------------------------------ */
/* The request loop                                                         */
/* ------------------------------------------------------------------------ */

void sv_client_process(sv_client *c) {
  long long pause = cfgnum(&sv_srv->cfg.client_output_pause);
  while (!(c->flags & (SV_CF_JOB | SV_CF_CLOSE_AFTER_REPLY | SV_CF_CLOSE_ASAP))) {
    if (c->out.pending > (size_t)pause) {
      c->flags |= SV_CF_OUT_PAUSED;
      read_off(c);
      break;
    }
    if (c->qb_start >= c->qb_len) break;
    size_t used;
    sv_resp_limits lim = limits(c);
    int rc = sv_resp_parse(&c->parser, c->qb + c->qb_start, c->qb_len - c->qb_start, &lim, &used);
    if (rc == SV_RESP_MORE) break;
    if (rc == SV_RESP_ERROR) {
      sv_log(SV_LOG_VERBOSE, "Protocol error (%s) from client id=%llu addr=%s", c->parser.err,
             (unsigned long long)c->id, c->addr);
      sv_reply_error(&c->out, c->parser.err);
      c->flags |= SV_CF_CLOSE_AFTER_REPLY;
      break;
    }
    if (rc == SV_RESP_NOMEM) {
      c->flags |= SV_CF_CLOSE_ASAP;
      break;
    }
    size_t start = c->qb_start;
    c->qb_start += used;
    int argc = c->parser.argc;
    if (argc == 0) continue;
    if (argc > c->argv_cap) {
      char **av = realloc(c->argv, (size_t)argc * sizeof *av);
      if (av) c->argv = av;
      size_t *al = av ? realloc(c->argl, (size_t)argc * sizeof *al) : NULL;
      if (!al) {
        c->flags |= SV_CF_CLOSE_ASAP;
        break;
      }
      c->argl = al;
      c->argv_cap = argc;
    }
    sv_resp_argv(&c->parser, c->qb + start, c->argv, c->argl);
    dispatch(c, argc, c->argv, c->argl, used);
  }
  if (!(c->flags & SV_CF_JOB) && c->qb_start > 0) {
    /* Move the unprocessed bytes (a partial request) to the front; the
     * parser's positions are relative to the request's start. */
    size_t rest = c->qb_len - c->qb_start;
    if (rest) memmove(c->qb, c->qb + c->qb_start, rest);
    c->qb_len = rest;
    c->qb_start = 0;
    if (rest == 0 && c->qb_cap > 256 * 1024) {
      free(c->qb);
      c->qb = NULL;
      c->qb_cap = 0;
    }
  }
}

void sv_client_job_done(sv_client *c) {
  sv_reply_move(&c->out, &c->job.out);
  c->out.resp = c->resp; /* a HELLO inside EXEC changed it */
  job_clear(&c->job);
  c->flags &= ~SV_CF_JOB;
  if (c->flags & SV_CF_CLOSE_ASAP) {
    sv_client_free(c);
    return;
  }
  atomic_store_explicit(&c->last_ms, sv_now_ms(), memory_order_relaxed);
  sv_client_process(c);
  if (!(c->flags & (SV_CF_JOB | SV_CF_OUT_PAUSED | SV_CF_CLOSE_AFTER_REPLY | SV_CF_CLOSE_ASAP)))
    read_on(c);
  if (sv_client_flush(c) == 0 && !(c->flags & (SV_CF_JOB | SV_CF_READ_OFF)) &&
      sv_conn_pending(&c->conn))
    event_active(c->rev, EV_READ, 0); /* TLS bytes already decrypted */
}

int sv_client_flush(sv_client *c) {
  for (;;) {
    if (c->out.oom) c->flags |= SV_CF_CLOSE_ASAP;
    if (c->flags & SV_CF_CLOSE_ASAP) {
      sv_client_free(c);
      return -1;
    }
    if (c->conn.handshaking) return 0;
    if (c->out.pending) {
      size_t wrote = 0;
      int rc = sv_conn_write(&c->conn, &c->out, &wrote);
      atomic_fetch_add_explicit(&sv_srv->st_net_out, wrote, memory_order_relaxed);
      if (rc == SV_IO_ERROR) {
        sv_log(SV_LOG_VERBOSE, "Error writing to client id=%llu: %s", (unsigned long long)c->id,
               c->conn.err);
        sv_client_free(c);
        return -1;
      }
      if (rc == SV_IO_WANT_WRITE) {
        write_on(c);
        return 0;
      }
      if (rc == SV_IO_WANT_READ) {
        /* TLS wants to read before it can write: the read event retries. */
        write_off(c);
        read_on(c);
        return 0;
      }
    }
    write_off(c);
    if (c->flags & SV_CF_CLOSE_AFTER_REPLY) {
      sv_client_free(c);
      return -1;
    }
    if ((c->flags & SV_CF_OUT_PAUSED) && !(c->flags & SV_CF_JOB)) {
      c->flags &= ~SV_CF_OUT_PAUSED;
      sv_client_process(c);
      if (!(c->flags & (SV_CF_JOB | SV_CF_OUT_PAUSED))) read_on(c);
      if (c->out.pending || (c->flags & (SV_CF_CLOSE_ASAP | SV_CF_CLOSE_AFTER_REPLY))) continue;
    }
    return 0;
  }
}
