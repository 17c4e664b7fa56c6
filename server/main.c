/*
 * main.c - strata-server: start-up, the thread design, shutdown.
 *
 * Threads
 * -------
 * main thread     libevent loop with the listening sockets and the signal
 *                 handlers. An accepted connection is handed to an I/O
 *                 thread (in turn) and never touched here again.
 * I/O threads     (io-threads, one per CPU by default) one libevent loop
 *                 each, owning their connections: they read, parse (resp.c),
 *                 check commands against the table and run the INLINE ones
 *                 -- GET, MGET, EXISTS, TTL, connection and server commands
 *                 -- at once, then write replies without blocking. Reads go
 *                 to Strata without any lock of ours (Strata's reads take
 *                 the current memtables and version without waiting for
 *                 writers), so a read never waits behind a write, let alone
 *                 behind an fdatasync.
 * worker threads  (worker-threads, 64 by default) run tasks: a write batch
 *                 -- the WRITE commands of every client an I/O thread read
 *                 in one loop iteration (libevent runs the batch event at
 *                 the lowest priority, after every ready connection) -- or
 *                 one command whose cost grows with the data (KEYS, SCAN,
 *                 DBSIZE, FLUSHDB, EXEC, WATCH). A batch locks its keys
 *                 (striped mutexes taken in one order, store.c), runs each
 *                 client's commands in order, and commits one Strata batch
 *                 with strata_write, synced when `sync always`. While one
 *                 batch waits for its fdatasync, the I/O threads read the
 *                 next requests and the next batches join Strata's write
 *                 queue, which commits everything queued as one group: one
 *                 log write and one fdatasync for all of them.
 * cron thread     syncs the log once a second under `sync everysec` and
 *                 removes expired keys in the background.
 *
 * A client's replies leave in the order of its requests: while one of its
 * jobs is out, its further requests wait in its buffer (and its socket is
 * not read, which bounds its memory); other clients are not affected. A
 * slow reader only fills its own reply buffer: past client-output-pause
 * bytes its input is not read until it catches up. Nothing on an I/O thread
 * blocks on disk writes or on another client.
 *
 * Shutdown (SHUTDOWN, SIGTERM, SIGINT): stop accepting; stop the I/O loops;
 * let the workers finish the jobs already queued (their replies are not
 * sent); stop the cron thread; close the database (strata_close); then
 * close the connections -- so a client that sees its connection close can
 * open the directory at once, in Strata, the C and Python APIs or LevelDB.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/thread.h>
#include <openssl/rand.h>

#include "log.h"
#include "server.h"

sv_server *sv_srv;

static long long cfgnum(atomic_llong *v) { return atomic_load_explicit(v, memory_order_relaxed); }

void sv_server_request_shutdown(void) {
  atomic_store(&sv_srv->shutdown, 1);
  if (sv_srv->shutdown_ev) event_active(sv_srv->shutdown_ev, EV_READ, 0);
}

static void on_shutdown(evutil_socket_t fd, short what, void *arg) {
  (void)fd;
  (void)what;
  (void)arg;
  event_base_loopbreak(sv_srv->base);
}

static void on_signal(evutil_socket_t sig, short what, void *arg) {
  (void)what;
  (void)arg;
  sv_log(SV_LOG_WARNING, "Received %s, shutting down", sig == SIGINT ? "SIGINT" : "SIGTERM");
  atomic_store(&sv_srv->shutdown, 1);
  event_base_loopbreak(sv_srv->base);
}

/* The cron thread: everysec syncs and the expiry sweep. */
static void *cron_main(void *arg) {
  sv_server *s = arg;
  sv_wctx *w = sv_wctx_new(s->store);
  pthread_mutex_lock(&s->cron_mu);
  while (!s->cron_stop) {
    long long ms = cfgnum(&s->cfg.expire_sweep_ms);
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += ms / 1000;
    until.tv_nsec += (ms % 1000) * 1000000;
    if (until.tv_nsec >= 1000000000) {
      until.tv_sec++;
      until.tv_nsec -= 1000000000;
    }
    pthread_cond_timedwait(&s->cron_cv, &s->cron_mu, &until);
    if (s->cron_stop) break;
    pthread_mutex_unlock(&s->cron_mu);

    int64_t now = sv_now_ms();
    if (cfgnum(&s->cfg.sync) == SV_SYNC_EVERYSEC && sv_store_unsynced(s->store) > 0 &&
        now - atomic_load(&s->st_last_sync_ms) >= 1000) {
      int rc = sv_store_sync(s->store);
      if (rc) sv_log(SV_LOG_WARNING, "Syncing the write-ahead log failed: %s", strata_errmsg());
      atomic_store(&s->st_last_sync_ms, now);
      atomic_fetch_add(&s->st_syncs, 1);
    }
    /* Expired keys: up to 20 rounds of 1000 per tick, so a burst of
     * expiries is cleared quickly without a tick growing unbounded. */
    for (int round = 0; round < 20; round++) {
      long n = w ? sv_store_sweep_expired(s->store, w, 1000) : 0;
      if (n > 0) atomic_fetch_add(&s->st_expired, (unsigned long long)n);
      if (n < 1000) break;
    }
    pthread_mutex_lock(&s->cron_mu);
  }
  pthread_mutex_unlock(&s->cron_mu);
  sv_wctx_free(w);
  return NULL;
}

static void make_run_id(char *out) {
  unsigned char r[20];
  if (RAND_bytes(r, sizeof r) != 1) {
    for (size_t i = 0; i < sizeof r; i++)
      r[i] = (unsigned char)(rand() ^ getpid());
  }
  for (size_t i = 0; i < sizeof r; i++)
    sprintf(out + 2 * i, "%02x", r[i]);
}

int main(int argc, char **argv) {
  static sv_server server;
  sv_srv = &server;
  sv_server *s = &server;
  char err[512];
  int action;
  if (sv_config_init(&s->cfg)) {
    fprintf(stderr, "strata-server: out of memory\n");
    return 1;
  }
  if (sv_config_parse_args(&s->cfg, argc, argv, &action, err, sizeof err)) {
    fprintf(stderr, "strata-server: %s\n", err);
    return 2;
  }
  if (action == 'h') {
    sv_config_usage(stdout, "strata-server");
    return 0;
  }
  if (action == 'v') {
    printf("strata-server %s (Strata %d.%d, Redis protocol of redis %s)\n", SV_VERSION,
           STRATA_VERSION_MAJOR, STRATA_VERSION_MINOR, SV_REDIS_VERSION);
    return 0;
  }
  char *logfile = sv_config_strdup(&s->cfg, &s->cfg.logfile);
  if (sv_log_open(logfile, &s->cfg)) {
    fprintf(stderr, "strata-server: cannot open logfile '%s': %s\n", logfile, strerror(errno));
    return 1;
  }
  free(logfile);
  signal(SIGPIPE, SIG_IGN);
  evthread_use_pthreads();

  pthread_mutex_init(&s->clients_mu, NULL);
  pthread_mutex_init(&s->cron_mu, NULL);
  pthread_cond_init(&s->cron_cv, NULL);
  atomic_store(&s->next_client_id, 1);
  s->start_ms = sv_now_ms();
  make_run_id(s->run_id);
  atomic_store(&s->st_last_sync_ms, s->start_ms);

  int rc = 1, cron_started = 0;
  char *pidfile = NULL;
  struct event *sigterm = NULL, *sigint = NULL;
  if (sv_store_open(&s->cfg, &s->store, err, sizeof err)) {
    sv_log(SV_LOG_WARNING, "%s", err);
    goto out;
  }
  long long tls_port = cfgnum(&s->cfg.tls_port), port = cfgnum(&s->cfg.port);
  if (tls_port && sv_tls_context(&s->cfg, &s->tls, err, sizeof err)) {
    sv_log(SV_LOG_WARNING, "TLS: %s", err);
    goto out;
  }
  if (!port && !tls_port) {
    sv_log(SV_LOG_WARNING, "port and tls-port are both 0: nothing to listen on");
    goto out;
  }
  s->base = event_base_new();
  if (!s->base) {
    sv_log(SV_LOG_WARNING, "event_base_new failed");
    goto out;
  }
  s->shutdown_ev = event_new(s->base, -1, 0, on_shutdown, NULL);
  sigterm = evsignal_new(s->base, SIGTERM, on_signal, NULL);
  sigint = evsignal_new(s->base, SIGINT, on_signal, NULL);
  if (!s->shutdown_ev || !sigterm || !sigint || event_add(s->shutdown_ev, NULL) ||
      event_add(sigterm, NULL) || event_add(sigint, NULL)) {
    sv_log(SV_LOG_WARNING, "libevent: cannot add the signal events");
    goto out;
  }
  long long nio = cfgnum(&s->cfg.io_threads);
  if (nio == 0) {
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    nio = cpus < 1 ? 1 : cpus > 8 ? 8 : cpus;
  }
  if (sv_pool_start(&s->pool, (int)cfgnum(&s->cfg.worker_threads), s->store)) {
    sv_log(SV_LOG_WARNING, "cannot start the worker threads");
    goto out;
  }
  if (sv_io_start(s, (int)nio, err, sizeof err)) {
    sv_log(SV_LOG_WARNING, "%s", err);
    goto out;
  }
  if (pthread_create(&s->cron, NULL, cron_main, s)) {
    sv_log(SV_LOG_WARNING, "cannot start the cron thread");
    goto out;
  }
  cron_started = 1;
  /* Listening comes last: once the port accepts, the threads that serve it
   * run (clients and tests take "the port accepts" to mean "ready"). */
  if ((port && sv_listen(s, (int)port, 0, err, sizeof err)) ||
      (tls_port && sv_listen(s, (int)tls_port, 1, err, sizeof err))) {
    sv_log(SV_LOG_WARNING, "%s", err);
    goto out;
  }
  pidfile = sv_config_strdup(&s->cfg, &s->cfg.pidfile);
  if (pidfile && *pidfile) {
    FILE *f = fopen(pidfile, "w");
    if (f) {
      fprintf(f, "%d\n", (int)getpid());
      fclose(f);
    } else {
      sv_log(SV_LOG_WARNING, "cannot write pidfile '%s': %s", pidfile, strerror(errno));
    }
  }
  char *dir = sv_config_strdup(&s->cfg, &s->cfg.dir);
  sv_log(SV_LOG_NOTICE,
         "strata-server %s started, pid %d, database '%s', sync %s, %lld I/O threads, %lld "
         "workers",
         SV_VERSION, (int)getpid(), dir ? dir : "?", sv_config_sync_name(cfgnum(&s->cfg.sync)), nio,
         cfgnum(&s->cfg.worker_threads));
  free(dir);
  sv_log(SV_LOG_NOTICE, "Ready to accept connections");

  event_base_dispatch(s->base);
  sv_log(SV_LOG_WARNING, "Shutting down: closing connections, finishing queued writes");
  rc = 0;

out:
  /* Teardown, also after a failed start: each part stops if it started. */
  sv_unlisten(s);
  if (s->nio) sv_io_stop(s);
  sv_pool_stop(s->pool);
  s->pool = NULL;
  if (cron_started) {
    pthread_mutex_lock(&s->cron_mu);
    s->cron_stop = 1;
    pthread_cond_broadcast(&s->cron_cv);
    pthread_mutex_unlock(&s->cron_mu);
    pthread_join(s->cron, NULL);
  }
  sv_store_close(s->store);
  s->store = NULL;
  if (s->io) sv_io_free(s);
  if (pidfile && *pidfile && rc == 0) unlink(pidfile);
  free(pidfile);
  if (sigterm) event_free(sigterm);
  if (sigint) event_free(sigint);
  if (s->shutdown_ev) event_free(s->shutdown_ev);
  s->shutdown_ev = NULL;
  if (s->base) event_base_free(s->base);
  if (s->tls) SSL_CTX_free(s->tls);
  if (rc == 0) sv_log(SV_LOG_WARNING, "Database closed. Bye.");
  sv_log_close();
  sv_config_free(&s->cfg);
  libevent_global_shutdown();
  return rc;
}
