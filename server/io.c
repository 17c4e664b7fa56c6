/*
 * io.c - I/O threads (one libevent loop each), accepting connections on the
 * main thread and handing them over, client creation and teardown, the
 * read and write events, and idle timeouts.
 *
 * Other threads talk to an I/O thread only through its inbox (new
 * connections), its done list (clients whose job came back) and its stop
 * flag, all under io->mu, followed by event_active() on its notify event
 * (libevent wakes the loop through its own notification fd).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/listener.h>
#include <event2/thread.h>

#include "log.h"
#include "server.h"

typedef struct sv_newconn {
  struct sv_newconn *next;
  int fd;
  int tls;
} sv_newconn;

static long long cfgnum(atomic_llong *v) { return atomic_load_explicit(v, memory_order_relaxed); }

static void format_addr(const struct sockaddr_storage *ss, char *out, size_t cap) {
  char ip[INET6_ADDRSTRLEN] = "?";
  int port = 0;
  if (ss->ss_family == AF_INET) {
    const struct sockaddr_in *s = (const struct sockaddr_in *)ss;
    inet_ntop(AF_INET, &s->sin_addr, ip, sizeof ip);
    port = ntohs(s->sin_port);
    snprintf(out, cap, "%s:%d", ip, port);
  } else if (ss->ss_family == AF_INET6) {
    const struct sockaddr_in6 *s = (const struct sockaddr_in6 *)ss;
    inet_ntop(AF_INET6, &s->sin6_addr, ip, sizeof ip);
    port = ntohs(s->sin6_port);
    snprintf(out, cap, "[%s]:%d", ip, port);
  } else {
    snprintf(out, cap, "?:0");
  }
}

/* ------------------------------------------------------------------------ */
/* Client teardown                                                          */
/* ------------------------------------------------------------------------ */

void sv_client_free(sv_client *c) {
  if (c->flags & SV_CF_JOB) {
    /* The worker still runs its commands: finish when the job is back. */
    c->flags |= SV_CF_CLOSE_ASAP;
    return;
  }
  sv_io *io = c->io;
  if (c->prev)
    c->prev->next = c->next;
  else
    io->clients = c->next;
  if (c->next) c->next->prev = c->prev;
  io->nclients--;
  pthread_mutex_lock(&sv_srv->clients_mu);
  if (c->gprev)
    c->gprev->gnext = c->gnext;
  else
    sv_srv->all = c->gnext;
  if (c->gnext) c->gnext->gprev = c->gprev;
  pthread_mutex_unlock(&sv_srv->clients_mu);
  atomic_fetch_sub(&sv_srv->nclients, 1);

  if (c->rev) event_free(c->rev);
  if (c->wev) event_free(c->wev);
  sv_conn_close(&c->conn);
  sv_watch_free(c);
  sv_multi_clear(&c->multi);
  free(c->qb);
  sv_resp_free(&c->parser);
  free(c->argv);
  free(c->argl);
  sv_reply_free(&c->out);
  sv_reply_free(&c->job.out);
  free(c->job.cmds);
  free(c->job.argv_pool);
  free(c->job.argl_pool);
  free(c->job.copy);
  free(c->name);
  free(c->lib_name);
  free(c->lib_ver);
  free(c);
}

/* ------------------------------------------------------------------------ */
/* Events                                                                   */
/* ------------------------------------------------------------------------ */

/* Finishes a TLS handshake; returns 1 when the connection may be used. */
static int handshake(sv_client *c) {
  int rc = sv_conn_handshake(&c->conn);
  if (rc == SV_IO_DONE) {
    if (c->flags & SV_CF_WRITE_ARMED) {
      event_del(c->wev);
      c->flags &= ~SV_CF_WRITE_ARMED;
    }
    return 1;
  }
  if (rc == SV_IO_WANT_WRITE) {
    if (!(c->flags & SV_CF_WRITE_ARMED)) {
      event_add(c->wev, NULL);
      c->flags |= SV_CF_WRITE_ARMED;
    }
    return 0;
  }
  if (rc == SV_IO_WANT_READ) return 0;
  sv_log(SV_LOG_VERBOSE, "TLS handshake with %s failed: %s", c->addr, c->conn.err);
  sv_client_free(c);
  return -1;
}

static void on_read(evutil_socket_t fd, short what, void *arg) {
  (void)fd;
  (void)what;
  sv_client *c = arg;
  if (c->conn.handshaking) {
    int h = handshake(c);
    if (h <= 0) return;
  }
  if (c->flags & SV_CF_JOB) return;
  long long limit = cfgnum(&sv_srv->cfg.client_query_buffer_limit);
  /* Read while the socket (or TLS's decrypted records) has bytes, up to
   * 16 rounds so one busy client cannot hold the loop. */
  for (int round = 0; round < 16; round++) {
    size_t want = 16 * 1024;
    /* A big bulk argument in progress is read in large steps. */
    size_t need = sv_resp_bulk_need(&c->parser, c->qb_len - c->qb_start);
    if (need > want) want = need < (64u << 20) ? need : (64u << 20);
    if (c->qb_cap - c->qb_len < want) {
      size_t cap = c->qb_cap ? c->qb_cap : 16 * 1024;
      while (cap - c->qb_len < want)
        cap *= 2;
      char *q = realloc(c->qb, cap);
      if (!q) {
        sv_client_free(c);
        return;
      }
      c->qb = q;
      c->qb_cap = cap;
    }
    size_t got = 0, room = c->qb_cap - c->qb_len;
    int rc = sv_conn_read(&c->conn, c->qb + c->qb_len, room, &got);
    if (rc == SV_IO_EOF) {
      sv_client_free(c);
      return;
    }
    if (rc == SV_IO_ERROR) {
      sv_log(SV_LOG_VERBOSE, "Reading from client id=%llu: %s", (unsigned long long)c->id,
             c->conn.err);
      sv_client_free(c);
      return;
    }
    if (rc == SV_IO_WANT_WRITE) {
      if (!(c->flags & SV_CF_WRITE_ARMED)) {
        event_add(c->wev, NULL);
        c->flags |= SV_CF_WRITE_ARMED;
      }
      c->flags |= SV_CF_WANT_WRITE_TO_READ;
      break;
    }
    if (rc != SV_IO_DONE) break;
    c->qb_len += got;
    atomic_fetch_add_explicit(&sv_srv->st_net_in, got, memory_order_relaxed);
    if ((long long)(c->qb_len - c->qb_start) > limit) {
      sv_log(SV_LOG_WARNING, "Closing client that reached max query buffer length: id=%llu addr=%s",
             (unsigned long long)c->id, c->addr);
      sv_client_free(c);
      return;
    }
    atomic_store_explicit(&c->last_ms, sv_now_ms(), memory_order_relaxed);
    sv_client_process(c);
    if (c->flags & (SV_CF_JOB | SV_CF_OUT_PAUSED | SV_CF_CLOSE_AFTER_REPLY | SV_CF_CLOSE_ASAP))
      break;
    if (!c->conn.ssl && got < room) break; /* the socket is drained */
    if (c->conn.ssl && !sv_conn_pending(&c->conn)) break;
  }
  sv_client_flush(c);
}

static void on_write(evutil_socket_t fd, short what, void *arg) {
  (void)fd;
  (void)what;
  sv_client *c = arg;
  if (c->conn.handshaking) {
    int h = handshake(c);
    if (h <= 0) return;
  }
  if (c->flags & SV_CF_WANT_WRITE_TO_READ) {
    c->flags &= ~SV_CF_WANT_WRITE_TO_READ;
    on_read(fd, EV_READ, c);
    return;
  }
  sv_client_flush(c);
}

static void create_client(sv_io *io, int fd, int tls) {
  long long max = cfgnum(&sv_srv->cfg.maxclients);
  if (atomic_fetch_add(&sv_srv->nclients, 1) >= max) {
    atomic_fetch_sub(&sv_srv->nclients, 1);
    /* redis-server's answer, best effort, then close. */
    static const char msg[] = "-ERR max number of clients reached\r\n";
    if (!tls) {
      ssize_t w = write(fd, msg, sizeof msg - 1);
      (void)w;
    }
    atomic_fetch_add(&sv_srv->st_rejected, 1);
    close(fd);
    return;
  }
  sv_client *c = calloc(1, sizeof *c);
  if (!c || sv_conn_init(&c->conn, fd, tls ? sv_srv->tls : NULL)) {
    free(c);
    atomic_fetch_sub(&sv_srv->nclients, 1);
    close(fd);
    return;
  }
  c->id = atomic_fetch_add(&sv_srv->next_client_id, 1);
  c->io = io;
  c->resp = 2;
  c->flags = tls ? SV_CF_TLS : 0;
  c->ctime_ms = sv_now_ms();
  atomic_store(&c->last_ms, c->ctime_ms);
  atomic_store(&c->multi_count, -1);
  atomic_store(&c->last_cmd, "NULL");
  sv_resp_init(&c->parser);
  sv_reply_init(&c->out, 2);
  char *pass = sv_config_strdup(&sv_srv->cfg, &sv_srv->cfg.requirepass);
  c->authed = !pass || !pass[0];
  free(pass);
  struct sockaddr_storage ss;
  socklen_t sl = sizeof ss;
  if (getpeername(fd, (struct sockaddr *)&ss, &sl) == 0) format_addr(&ss, c->addr, sizeof c->addr);
  sl = sizeof ss;
  if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0)
    format_addr(&ss, c->laddr, sizeof c->laddr);
  c->rev = event_new(io->base, fd, EV_READ | EV_PERSIST, on_read, c);
  c->wev = event_new(io->base, fd, EV_WRITE | EV_PERSIST, on_write, c);
  c->next = io->clients;
  if (io->clients) io->clients->prev = c;
  io->clients = c;
  io->nclients++;
  pthread_mutex_lock(&sv_srv->clients_mu);
  c->gnext = sv_srv->all;
  if (sv_srv->all) sv_srv->all->gprev = c;
  sv_srv->all = c;
  pthread_mutex_unlock(&sv_srv->clients_mu);
  atomic_fetch_add(&sv_srv->st_connections, 1);
  if (!c->rev || !c->wev) {
    sv_client_free(c);
    return;
  }
  event_add(c->rev, NULL);
  if (tls) handshake(c);
}

/* ------------------------------------------------------------------------ */
/* The I/O thread                                                           */
/* ------------------------------------------------------------------------ */

static void on_notify(evutil_socket_t fd, short what, void *arg) {
  (void)fd;
  (void)what;
  sv_io *io = arg;
  pthread_mutex_lock(&io->mu);
  sv_newconn *in = io->inbox;
  io->inbox = NULL;
  sv_client *done = io->done_head;
  io->done_head = io->done_tail = NULL;
  int stop = io->stop;
  pthread_mutex_unlock(&io->mu);
  while (in) {
    sv_newconn *n = in->next;
    if (stop)
      close(in->fd);
    else
      create_client(io, in->fd, in->tls);
    free(in);
    in = n;
  }
  while (done) {
    sv_client *n = done->qnext;
    done->qnext = NULL;
    sv_client_job_done(done);
    done = n;
  }
  if (stop) event_base_loopbreak(io->base);
}

void sv_io_task_done(sv_client *first) {
  sv_io *io = first->io;
  pthread_mutex_lock(&io->mu);
  for (sv_client *c = first, *n; c; c = n) {
    n = c->bnext;
    c->bnext = NULL;
    c->qnext = NULL;
    if (io->done_tail)
      io->done_tail->qnext = c;
    else
      io->done_head = c;
    io->done_tail = c;
  }
  pthread_mutex_unlock(&io->mu);
  event_active(io->notify, EV_READ, 0);
}

/* Write batches. The write runs of every client read in one loop iteration
 * go to a worker as one task: one hand-over, one lock round, one Strata
 * batch and one fdatasync for all of them, however many clients sent
 * writes at once. The batch event has the lowest priority, so libevent runs
 * it only after every ready connection has been read. */
#define SV_BATCH_MAX_CMDS 1024

static void batch_send(sv_io *io) {
  sv_client *first = io->batch_head;
  io->batch_head = io->batch_tail = NULL;
  io->batch_cmds = 0;
  if (first) sv_pool_submit(sv_srv->pool, first);
}

static void on_batch(evutil_socket_t fd, short what, void *arg) {
  (void)fd;
  (void)what;
  batch_send(arg);
}

void sv_io_batch_add(sv_client *c) {
  sv_io *io = c->io;
  c->bnext = NULL;
  if (io->batch_tail)
    io->batch_tail->bnext = c;
  else
    io->batch_head = c;
  io->batch_tail = c;
  io->batch_cmds += c->job.ncmds;
  if (io->batch_cmds >= SV_BATCH_MAX_CMDS)
    batch_send(io);
  else if (io->batch_head == c)
    event_active(io->batch_ev, EV_READ, 0);
}

static void on_tick(evutil_socket_t fd, short what, void *arg) {
  (void)fd;
  (void)what;
  sv_io *io = arg;
  long long timeout = cfgnum(&sv_srv->cfg.timeout);
  if (timeout <= 0) return;
  int64_t now = sv_now_ms();
  sv_client *c = io->clients;
  while (c) {
    sv_client *n = c->next;
    int64_t idle = now - atomic_load_explicit(&c->last_ms, memory_order_relaxed);
    if (!(c->flags & SV_CF_JOB) && idle > timeout * 1000) {
      sv_log(SV_LOG_VERBOSE, "Closing idle client id=%llu addr=%s", (unsigned long long)c->id,
             c->addr);
      sv_client_free(c);
    }
    c = n;
  }
}

static void *io_main(void *arg) {
  sv_io *io = arg;
  /* Connections stay open until sv_io_free, after the database is closed:
   * a client that sent SHUTDOWN sees the connection close only once the
   * database can be opened by another process. */
  event_base_dispatch(io->base);
  return NULL;
}

int sv_io_start(sv_server *s, int n, char *err, size_t errcap) {
  s->io = calloc((size_t)n, sizeof *s->io);
  if (!s->io) {
    snprintf(err, errcap, "out of memory");
    return -1;
  }
  s->nio = n;
  for (int i = 0; i < n; i++) {
    sv_io *io = &s->io[i];
    io->idx = i;
    pthread_mutex_init(&io->mu, NULL);
    io->base = event_base_new();
    /* Three priorities: every event has the middle one (libevent's
     * default), the write-batch event the lowest. */
    if (!io->base || event_base_priority_init(io->base, 3)) {
      snprintf(err, errcap, "event_base_new failed");
      return -1;
    }
    io->notify = event_new(io->base, -1, EV_PERSIST | EV_READ, on_notify, io);
    io->tick = event_new(io->base, -1, EV_PERSIST, on_tick, io);
    io->batch_ev = event_new(io->base, -1, 0, on_batch, io);
    struct timeval sec = {1, 0};
    if (!io->notify || !io->tick || !io->batch_ev || event_priority_set(io->batch_ev, 2) ||
        event_add(io->notify, NULL) || event_add(io->tick, &sec)) {
      snprintf(err, errcap, "libevent: cannot add events");
      return -1;
    }
  }
  for (int i = 0; i < n; i++) {
    if (pthread_create(&s->io[i].thread, NULL, io_main, &s->io[i])) {
      snprintf(err, errcap, "cannot start I/O thread: %s", strerror(errno));
      s->nio = i;
      return -1;
    }
  }
  return 0;
}

void sv_io_stop(sv_server *s) {
  for (int i = 0; i < s->nio; i++) {
    sv_io *io = &s->io[i];
    pthread_mutex_lock(&io->mu);
    io->stop = 1;
    pthread_mutex_unlock(&io->mu);
    event_active(io->notify, EV_READ, 0);
  }
  for (int i = 0; i < s->nio; i++)
    pthread_join(s->io[i].thread, NULL);
}

/* Frees what the I/O threads left: clients whose job was out at stop. */
void sv_io_free(sv_server *s) {
  for (int i = 0; i < s->nio; i++) {
    sv_io *io = &s->io[i];
    sv_client *done = io->done_head;
    while (done) {
      sv_client *n = done->qnext;
      done->flags &= ~SV_CF_JOB;
      done = n;
    }
    while (io->clients) {
      io->clients->flags &= ~SV_CF_JOB;
      sv_client_free(io->clients);
    }
    sv_newconn *in = io->inbox;
    while (in) {
      sv_newconn *n = in->next;
      close(in->fd);
      free(in);
      in = n;
    }
    if (io->notify) event_free(io->notify);
    if (io->tick) event_free(io->tick);
    if (io->batch_ev) event_free(io->batch_ev);
    if (io->base) event_base_free(io->base);
    strata_buf_free(&io->buf);
    pthread_mutex_destroy(&io->mu);
  }
  free(s->io);
  s->io = NULL;
}

/* ------------------------------------------------------------------------ */
/* Accepting                                                                */
/* ------------------------------------------------------------------------ */

static void on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int salen,
                      void *arg) {
  (void)l;
  (void)sa;
  (void)salen;
  int tls = arg != NULL;
  if (atomic_load(&sv_srv->shutdown)) {
    close(fd);
    return;
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
  evutil_make_socket_nonblocking(fd);
  /* The least loaded of two I/O threads picked in turn. */
  unsigned k = atomic_fetch_add(&sv_srv->next_io, 1);
  sv_io *io = &sv_srv->io[k % (unsigned)sv_srv->nio];
  sv_newconn *n = malloc(sizeof *n);
  if (!n) {
    close(fd);
    return;
  }
  n->fd = fd;
  n->tls = tls;
  pthread_mutex_lock(&io->mu);
  n->next = io->inbox;
  io->inbox = n;
  pthread_mutex_unlock(&io->mu);
  event_active(io->notify, EV_READ, 0);
}

static void on_accept_error(struct evconnlistener *l, void *arg) {
  (void)l;
  (void)arg;
  int e = EVUTIL_SOCKET_ERROR();
  sv_log(SV_LOG_WARNING, "Accepting a connection failed: %s", evutil_socket_error_to_string(e));
}

/* Listens on every bind address at port; tls selects the TLS listener. */
int sv_listen(sv_server *s, int port, int tls, char *err, size_t errcap) {
  char *addrs = sv_config_strdup(&s->cfg, &s->cfg.bind);
  if (!addrs) {
    snprintf(err, errcap, "out of memory");
    return -1;
  }
  int rc = 0, bound = 0;
  char *save = NULL;
  for (char *a = strtok_r(addrs, " ", &save); a; a = strtok_r(NULL, " ", &save)) {
    int optional = a[0] == '-';
    if (optional) a++;
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    socklen_t sl;
    const char *host = a;
    if (!strcmp(a, "*")) host = "0.0.0.0";
    if (strchr(host, ':')) {
      struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
      s6->sin6_family = AF_INET6;
      s6->sin6_port = htons((uint16_t)port);
      if (inet_pton(AF_INET6, host, &s6->sin6_addr) != 1) {
        snprintf(err, errcap, "bind: '%s' is not an IPv6 address", a);
        rc = -1;
        break;
      }
      sl = sizeof *s6;
    } else {
      struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
      s4->sin_family = AF_INET;
      s4->sin_port = htons((uint16_t)port);
      if (inet_pton(AF_INET, host, &s4->sin_addr) != 1) {
        snprintf(err, errcap, "bind: '%s' is not an IPv4 address", a);
        rc = -1;
        break;
      }
      sl = sizeof *s4;
    }
    int fam = ss.ss_family;
    int fd = socket(fam, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    int one = 1;
    if (fd >= 0) {
      setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
      if (fam == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    }
    if (fd < 0 || bind(fd, (struct sockaddr *)&ss, sl) || listen(fd, 511)) {
      int e = errno;
      if (fd >= 0) close(fd);
      if (optional && (e == EADDRNOTAVAIL || e == EAFNOSUPPORT || e == EPROTONOSUPPORT)) {
        sv_log(SV_LOG_NOTICE, "Skipping optional bind address %s: %s", a, strerror(e));
        continue;
      }
      snprintf(err, errcap, "cannot listen on %s port %d: %s", a, port, strerror(e));
      rc = -1;
      break;
    }
    struct evconnlistener *l =
        evconnlistener_new(s->base, on_accept, tls ? (void *)1 : NULL,
                           LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, -1, fd);
    if (!l) {
      close(fd);
      snprintf(err, errcap, "evconnlistener_new failed");
      rc = -1;
      break;
    }
    evconnlistener_set_error_cb(l, on_accept_error);
    struct evconnlistener **ls = realloc(s->listeners, (size_t)(s->nlisteners + 1) * sizeof *ls);
    if (!ls) {
      evconnlistener_free(l);
      snprintf(err, errcap, "out of memory");
      rc = -1;
      break;
    }
    s->listeners = ls;
    s->listeners[s->nlisteners++] = l;
    bound++;
    sv_log(SV_LOG_NOTICE, "Listening on %s port %d%s", a, port, tls ? " (TLS)" : "");
  }
  free(addrs);
  if (!rc && !bound) {
    snprintf(err, errcap, "no bind address could be used for port %d", port);
    rc = -1;
  }
  return rc;
}

void sv_unlisten(sv_server *s) {
  for (int i = 0; i < s->nlisteners; i++)
    evconnlistener_free(s->listeners[i]);
  free(s->listeners);
  s->listeners = NULL;
  s->nlisteners = 0;
}
