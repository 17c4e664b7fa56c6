/*
 * client.h - one connection: its input (the query buffer and the RESP
 * parser), its output (reply chunks), its state (protocol version,
 * authentication, selected database, MULTI queue, WATCH transaction) and
 * the job it may have on a worker.
 *
 * Ownership: a client belongs to one I/O thread, which alone reads, parses
 * and writes it -- except while it has a job on a worker (SV_CF_JOB): the
 * worker then runs its commands and touches only the job and the fields
 * commands read or change (db, resp, multi, watch), and the I/O thread
 * touches only its socket output (flushing replies already made). A client
 * with a job is never freed until the job is back.
 */
#ifndef SV_CLIENT_H
#define SV_CLIENT_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "command.h"
#include "conn.h"
#include "reply.h"
#include "resp.h"

struct sv_io;
struct event;

/* Client flags. */
#define SV_CF_JOB (1u << 0)               /* a job is on a worker */
#define SV_CF_CLOSE_AFTER_REPLY (1u << 1) /* close once output is written */
#define SV_CF_CLOSE_ASAP (1u << 2)        /* close now (or when the job returns) */
/* Transaction state (c->tflags): changed by commands, which may run on a
 * worker during a job, so kept apart from c->flags, which the I/O thread
 * changes (write event armed ...) even while a job is out. */
#define SV_TF_MULTI (1u << 0)              /* inside MULTI */
#define SV_TF_DIRTY_EXEC (1u << 1)         /* a command failed while queueing */
#define SV_CF_WRITE_ARMED (1u << 5)        /* the write event is pending */
#define SV_CF_READ_OFF (1u << 6)           /* the read event is removed */
#define SV_CF_OUT_PAUSED (1u << 7)         /* input paused: too much output */
#define SV_CF_TLS (1u << 8)                /* came in on the TLS port */
#define SV_CF_WANT_WRITE_TO_READ (1u << 9) /* TLS read waits for writable */

/* One command of a job (or of a MULTI queue). */
typedef struct sv_jobcmd {
  const sv_cmd *cmd;
  int argc;
  char **argv;
  size_t *argl;
} sv_jobcmd;

typedef struct sv_job {
  int ncmds, cap;
  sv_jobcmd *cmds;
  char **argv_pool; /* argv/argl storage of the commands */
  size_t *argl_pool;
  size_t pool_used, pool_cap;
  char *copy; /* arguments copied out of the parser (inline requests) */
  sv_reply out;
  uint64_t start_us;
} sv_job;

/* The MULTI queue: commands copied out of the query buffer. */
typedef struct sv_multi {
  int n, cap;
  sv_jobcmd *cmds;
} sv_multi;

typedef struct sv_client {
  uint64_t id;
  struct sv_io *io;
  sv_conn conn;
  struct event *rev, *wev;
  char addr[64], laddr[64];
  int resp;        /* 2 or 3 */
  int authed;      /* passed AUTH (or no password is set) */
  int db;          /* SELECTed database */
  unsigned flags;  /* SV_CF_*: the I/O thread's */
  unsigned tflags; /* SV_TF_*: the commands' (see above) */

  /* Input */
  char *qb;
  size_t qb_len, qb_cap;
  size_t qb_start; /* where the next unprocessed request begins */
  sv_resp_parser parser;
  char **argv; /* the request being run */
  size_t *argl;
  int argv_cap;

  /* Output */
  sv_reply out;

  /* Job and transaction state */
  sv_job job;
  sv_multi multi;
  void *watch; /* the WATCH transaction (cmd_txn.c), or NULL */

  /* Shown by CLIENT LIST (written under the server's clients_mu). */
  char *name;
  char *lib_name, *lib_ver;
  int64_t ctime_ms;
  atomic_llong last_ms;           /* last interaction */
  _Atomic(const char *) last_cmd; /* name of the last command */
  atomic_int multi_count;         /* queued MULTI commands, -1 outside */

  struct sv_client *qnext;       /* the pool's queue (a task's first client), then the done list */
  struct sv_client *bnext;       /* the other clients of the same task (a write batch) */
  struct sv_client *next, *prev; /* the I/O thread's list */
  struct sv_client *gnext, *gprev; /* the server's registry */
} sv_client;

/* Processes as many buffered requests as can run now (I/O thread). */
void sv_client_process(sv_client *c);
/* Writes pending output; arms or disarms the write event; closes the
 * client when it should be closed. Returns 0, or -1 if it was freed. */
int sv_client_flush(sv_client *c);
/* Called on the I/O thread when the client's job came back. */
void sv_client_job_done(sv_client *c);
/* Closes and frees the client (deferred while a job is out). */
void sv_client_free(sv_client *c);

/* Ends the client's WATCH transaction, if any (cmd_txn.c). */
void sv_watch_free(sv_client *c);

/* Frees a MULTI queue's commands. */
void sv_multi_clear(sv_multi *m);
/* Copies a command into the MULTI queue. Returns 0 or -1 (no memory). */
int sv_multi_add(sv_multi *m, const sv_cmd *cmd, int argc, char **argv, size_t *argl);

#endif /* SV_CLIENT_H */
