/*
 * server.h - the one server instance: configuration, database, threads,
 * listeners, the client registry and the statistics INFO shows. The thread
 * design is explained at the top of main.c.
 */
#ifndef SV_SERVER_H
#define SV_SERVER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "client.h"
#include "config.h"
#include "store.h"

struct event_base;
struct event;
struct evconnlistener;

#define SV_VERSION "0.1.0"
/* The redis-server version whose commands and replies this server follows. */
#define SV_REDIS_VERSION "7.0.15"

/* An I/O thread: an event loop owning some connections. */
typedef struct sv_io {
  int idx;
  pthread_t thread;
  struct event_base *base;
  struct event *notify;               /* activated by other threads (new fd, job done, stop) */
  struct event *tick;                 /* once a second: idle timeouts */
  struct event *batch_ev;             /* lowest priority: sends the write batch */
  sv_client *batch_head, *batch_tail; /* clients with a write run to send */
  int batch_cmds;
  pthread_mutex_t mu; /* guards the three fields below */
  struct sv_newconn *inbox;
  sv_client *done_head, *done_tail; /* clients whose job came back */
  int stop;
  sv_client *clients; /* owned by this thread */
  int nclients;
  strata_buf buf; /* value buffer for inline reads */
} sv_io;

typedef struct sv_pool sv_pool;

typedef struct sv_server {
  sv_config cfg;
  sv_store *store;
  sv_io *io;
  int nio;
  sv_pool *pool;
  SSL_CTX *tls;
  struct event_base *base; /* the main thread: listeners, signals */
  struct event *shutdown_ev;
  struct evconnlistener **listeners;
  int nlisteners;
  atomic_uint next_io;
  pthread_t cron;
  pthread_mutex_t cron_mu;
  pthread_cond_t cron_cv;
  int cron_stop;

  /* The registry of every client, for CLIENT LIST; also guards the
   * name/lib fields of clients and the registry links. */
  pthread_mutex_t clients_mu;
  sv_client *all;
  atomic_int nclients;
  atomic_ullong next_client_id;

  atomic_int shutdown; /* SHUTDOWN or a signal asked to stop */
  int64_t start_ms;
  char run_id[41];

  /* Statistics (INFO stats) */
  atomic_ullong st_connections;
  atomic_ullong st_rejected;
  atomic_ullong st_commands;
  atomic_ullong st_net_in, st_net_out;
  atomic_ullong st_errors;
  atomic_ullong st_expired;
  atomic_ullong st_jobs;
  atomic_ullong st_write_runs, st_write_cmds;
  atomic_ullong st_syncs;
  atomic_llong st_last_sync_ms;
} sv_server;

extern sv_server *sv_srv;

/* Asks the server to stop (SHUTDOWN, SIGTERM): thread-safe. */
void sv_server_request_shutdown(void);

/* I/O threads (io.c): start n loops; stop them (closing their clients);
 * free what they left once the worker pool has stopped. */
int sv_io_start(sv_server *s, int n, char *err, size_t errcap);
void sv_io_stop(sv_server *s);
void sv_io_free(sv_server *s);
/* Listens on every bind address at port (tls: the TLS listener). */
int sv_listen(sv_server *s, int port, int tls, char *err, size_t errcap);
void sv_unlisten(sv_server *s);

/* Adds the client's write run to its I/O thread's batch, sent to a worker
 * once every ready connection of this loop iteration has been read. */
void sv_io_batch_add(sv_client *c);

/* Hands the clients of a finished task (first, then its bnext chain) back
 * to their I/O thread (worker threads). */
void sv_io_task_done(sv_client *first);

/* The worker pool (worker.c). */
int sv_pool_start(sv_pool **out, int nthreads, sv_store *store);
/* Queues a task: the jobs of first and of the clients on its bnext chain
 * (one client for a WORKER command; several for a write batch, all of one
 * I/O thread). The pool runs it and hands the clients back with
 * sv_io_task_done. */
void sv_pool_submit(sv_pool *p, sv_client *first);
/* Runs every queued job, then stops and joins the threads. */
void sv_pool_stop(sv_pool *p);
int sv_pool_busy(sv_pool *p);

/* Runs a task's commands (the worker's side; worker.c). */
void sv_task_run(sv_client *first, sv_wctx *w, strata_buf *buf);

/* Runs one command with statistics (any thread). */
void sv_call(sv_ctx *x, const sv_cmd *cmd);

#endif /* SV_SERVER_H */
