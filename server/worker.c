/*
 * worker.c - the worker pool: threads that run tasks (write batches: the
 * WRITE runs of the clients an I/O thread read in one loop iteration; and
 * single WORKER commands), each thread with its own write context and
 * value buffer.
 *
 * Why a pool of many threads: Strata group-commits the writes that wait in
 * its write queue at the same time -- one log write and one fdatasync for
 * all of them -- so the more writes are in flight at once, the bigger the
 * group. Each worker holds one write in flight while it waits for its
 * group's fdatasync, so worker-threads bounds the group size; blocked
 * workers cost no CPU. The I/O threads never wait for any of this.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "server.h"

struct sv_pool {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  sv_client *head, *tail;
  int n;
  pthread_t *threads;
  int stop;
  int busy;
  sv_store *store;
};

typedef struct want_arg {
  sv_wctx *w;
  int dbi;
  int rc;
} want_arg;

static void want_key(void *arg, const char *k, size_t kl) {
  want_arg *a = arg;
  if (!a->rc) a->rc = sv_wctx_want(a->w, a->dbi, k, kl);
}

typedef struct reserved_arg {
  int dbi;
  int hit;
} reserved_arg;

static void check_reserved(void *arg, const char *k, size_t kl) {
  reserved_arg *a = arg;
  if (sv_store_key_reserved(a->dbi, k, kl)) a->hit = 1;
}

/* Runs one client's WORKER command. */
static void run_single(sv_client *c, sv_wctx *w, strata_buf *buf) {
  sv_job *j = &c->job;
  sv_ctx x = {c, NULL, j->cmds[0].argc, j->cmds[0].argv, j->cmds[0].argl, &j->out, w, buf, c->db};
  sv_call(&x, j->cmds[0].cmd);
  sv_wctx_reset(w);
}

/* Runs a write batch: the WRITE runs of several clients (first and its
 * bnext chain). Every key they name is locked, each client's commands run
 * in its order (each sees the writes before it), and everything commits as
 * one Strata batch: one log record, and with sync always one fdatasync. */
static void run_batch(sv_client *first, sv_wctx *w, strata_buf *buf) {
  int ncmds = 0, rc = 0;
  for (sv_client *c = first; c && !rc; c = c->bnext) {
    want_arg wa = {w, c->db, 0};
    for (int i = 0; i < c->job.ncmds; i++)
      sv_cmd_keys(c->job.cmds[i].cmd, c->job.cmds[i].argc, c->job.cmds[i].argv, c->job.cmds[i].argl,
                  want_key, &wa);
    rc = wa.rc;
  }
  if (!rc) {
    sv_wctx_lock(w);
    for (sv_client *c = first; c; c = c->bnext) {
      sv_job *j = &c->job;
      for (int i = 0; i < j->ncmds; i++) {
        sv_jobcmd *jc = &j->cmds[i];
        reserved_arg ra = {c->db, 0};
        sv_cmd_keys(jc->cmd, jc->argc, jc->argv, jc->argl, check_reserved, &ra);
        if (ra.hit) {
          sv_reply_error(&j->out, "keys beginning with \\xff\\xffstrata\\x00 are reserved by "
                                  "Strata and cannot be written");
          continue;
        }
        sv_ctx x = {c, NULL, jc->argc, jc->argv, jc->argl, &j->out, w, buf, c->db};
        sv_call(&x, jc->cmd);
      }
      ncmds += j->ncmds;
    }
    rc = sv_wctx_commit(w);
    if (rc) sv_log(SV_LOG_WARNING, "A write failed: %s", strata_errmsg());
  }
  if (rc) {
    /* Nothing of the batch was applied: every command answers the failure. */
    for (sv_client *c = first; c; c = c->bnext) {
      int resp = c->job.out.resp;
      sv_reply_free(&c->job.out);
      sv_reply_init(&c->job.out, resp);
      for (int i = 0; i < c->job.ncmds; i++)
        sv_reply_engine_error(&c->job.out, rc);
    }
  }
  atomic_fetch_add_explicit(&sv_srv->st_write_runs, 1, memory_order_relaxed);
  atomic_fetch_add_explicit(&sv_srv->st_write_cmds, (unsigned long long)ncmds,
                            memory_order_relaxed);
  sv_wctx_reset(w);
}

void sv_task_run(sv_client *first, sv_wctx *w, strata_buf *buf) {
  if (!w) {
    for (sv_client *c = first; c; c = c->bnext)
      for (int i = 0; i < c->job.ncmds; i++)
        sv_reply_error(&c->job.out, "out of memory");
    return;
  }
  if (first->job.cmds[0].cmd->run == SV_RUN_WRITE)
    run_batch(first, w, buf);
  else
    run_single(first, w, buf);
}

static void *worker_main(void *arg) {
  sv_pool *p = arg;
  sv_wctx *w = sv_wctx_new(p->store);
  strata_buf buf = STRATA_BUF_INIT;
  pthread_mutex_lock(&p->mu);
  for (;;) {
    while (!p->head && !p->stop)
      pthread_cond_wait(&p->cv, &p->mu);
    if (!p->head) break;
    sv_client *c = p->head;
    p->head = c->qnext;
    if (!p->head) p->tail = NULL;
    c->qnext = NULL;
    p->busy++;
    pthread_mutex_unlock(&p->mu);
    sv_task_run(c, w, &buf);
    sv_io_task_done(c);
    pthread_mutex_lock(&p->mu);
    p->busy--;
  }
  pthread_mutex_unlock(&p->mu);
  sv_wctx_free(w);
  strata_buf_free(&buf);
  return NULL;
}

int sv_pool_start(sv_pool **out, int nthreads, sv_store *store) {
  sv_pool *p = calloc(1, sizeof *p);
  if (!p) return -1;
  pthread_mutex_init(&p->mu, NULL);
  pthread_cond_init(&p->cv, NULL);
  p->store = store;
  p->threads = calloc((size_t)nthreads, sizeof *p->threads);
  if (!p->threads) {
    free(p);
    return -1;
  }
  /* Small stacks: a worker needs little, and there may be many. */
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, 256 * 1024);
  for (int i = 0; i < nthreads; i++) {
    if (pthread_create(&p->threads[i], &attr, worker_main, p)) {
      sv_log(SV_LOG_WARNING, "Started only %d of %d worker threads: %s", i, nthreads,
             strerror(errno));
      break;
    }
    p->n++;
  }
  pthread_attr_destroy(&attr);
  if (p->n == 0) {
    free(p->threads);
    free(p);
    return -1;
  }
  *out = p;
  return 0;
}

void sv_pool_submit(sv_pool *p, sv_client *c) {
  pthread_mutex_lock(&p->mu);
  c->qnext = NULL;
  if (p->tail)
    p->tail->qnext = c;
  else
    p->head = c;
  p->tail = c;
  pthread_cond_signal(&p->cv);
  pthread_mutex_unlock(&p->mu);
}

void sv_pool_stop(sv_pool *p) {
  if (!p) return;
  pthread_mutex_lock(&p->mu);
  p->stop = 1;
  pthread_cond_broadcast(&p->cv);
  pthread_mutex_unlock(&p->mu);
  for (int i = 0; i < p->n; i++)
    pthread_join(p->threads[i], NULL);
  pthread_cond_destroy(&p->cv);
  pthread_mutex_destroy(&p->mu);
  free(p->threads);
  free(p);
}

int sv_pool_busy(sv_pool *p) {
  pthread_mutex_lock(&p->mu);
  int b = p->busy;
  pthread_mutex_unlock(&p->mu);
  return b;
}
