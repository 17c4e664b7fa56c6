/*
 * command.h - the command table and what a command sees when it runs.
 *
 * Every command is one entry of the table in command.c: its name, arity
 * (Redis's convention: n means exactly n arguments counting the name, -n at
 * least n), flags, key positions, where it runs, its documentation and its
 * handler. COMMAND, COMMAND COUNT/INFO/DOCS/LIST, the arity errors, the
 * authentication and MULTI checks and the choice of thread all read this
 * table, so nothing about a command is written twice. Container commands
 * (CLIENT, CONFIG, COMMAND) hold a table of subcommands named
 * "container|sub" as in redis-server.
 *
 * Where a command runs (SV_RUN_*):
 *   INLINE  on the client's I/O thread, at once: reads that cost a few
 *           lookups (GET, MGET, TTL...) and connection commands. Reads take
 *           no lock, so they never wait behind a write.
 *   WRITE   on a worker thread, inside a write context (store.h): the keys
 *           are locked, the command's reads see the writes before it, and
 *           everything commits as one batch. A client's consecutive
 *           pipelined WRITE commands form one run, and the runs of every
 *           client an I/O thread read in one loop iteration go to a worker
 *           together (one commit, at most one fdatasync).
 *   WORKER  alone on a worker thread: commands whose cost grows with the
 *           data (KEYS, SCAN, DBSIZE, FLUSHDB, EXEC ...), so they never
 *           stall an I/O thread.
 */
#ifndef SV_COMMAND_H
#define SV_COMMAND_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "reply.h"
#include "store.h"

struct sv_client;

/* Flags (the names COMMAND shows are in command.c). */
#define SV_CMD_WRITE (1u << 0)
#define SV_CMD_READONLY (1u << 1)
#define SV_CMD_DENYOOM (1u << 2)
#define SV_CMD_ADMIN (1u << 3)
#define SV_CMD_NOSCRIPT (1u << 4)
#define SV_CMD_LOADING (1u << 5)
#define SV_CMD_STALE (1u << 6)
#define SV_CMD_FAST (1u << 7)
#define SV_CMD_NO_AUTH (1u << 8)
#define SV_CMD_NO_MULTI (1u << 9)
#define SV_CMD_ALLOW_BUSY (1u << 10)
#define SV_CMD_SKIP_SLOWLOG (1u << 11)

enum { SV_RUN_INLINE = 0, SV_RUN_WRITE = 1, SV_RUN_WORKER = 2 };

/* What a handler gets. argv[i] is argl[i] bytes followed by a NUL. */
typedef struct sv_ctx {
  struct sv_client *c;
  const struct sv_cmd *cmd; /* set by sv_call */
  int argc;
  char **argv;
  size_t *argl;
  sv_reply *r;     /* where the reply goes */
  sv_wctx *w;      /* the write context (WRITE and WORKER commands; locked
                      for WRITE commands), NULL inline */
  strata_buf *buf; /* a value buffer of the running thread */
  int dbi;         /* the selected database */
} sv_ctx;

typedef void (*sv_cmd_proc)(sv_ctx *x);

typedef struct sv_cmd {
  const char *name; /* lower case; "container|sub" for a subcommand */
  int arity;
  unsigned flags;
  int run;                           /* SV_RUN_* */
  int first_key, last_key, key_step; /* last_key -1: the last argument */
  sv_cmd_proc proc;
  const char *group; /* "string", "generic", "connection", "server",
                        "transactions" */
  const char *since; /* the Redis version that introduced it */
  const char *summary;
  const char *complexity;
  const char *syntax;        /* the arguments after the name, for COMMAND DOCS */
  const struct sv_cmd *subs; /* container: its subcommands */
  int nsubs;
  int index; /* position in the statistics array */
} sv_cmd;

/* Per-command statistics (INFO commandstats). */
typedef struct sv_cmdstat {
  atomic_ullong calls;
  atomic_ullong usec;
  atomic_ullong failed;
} sv_cmdstat;

/* The command named name[0, len) (case-insensitive), NULL if unknown. */
const sv_cmd *sv_cmd_lookup(const char *name, size_t len);
/* The subcommand of container cmd, NULL if unknown. */
const sv_cmd *sv_cmd_lookup_sub(const sv_cmd *cmd, const char *name, size_t len);
/* The command's Redis-style full name ("get", "client|setname"). */
static inline const char *sv_cmd_name(const sv_cmd *cmd) { return cmd->name; }

/* Calls fn for every key argument of the command (by its key positions). */
void sv_cmd_keys(const sv_cmd *cmd, int argc, char **argv, size_t *argl,
                 void (*fn)(void *arg, const char *k, size_t kl), void *arg);

/* Statistics slot of cmd. */
sv_cmdstat *sv_cmd_stat(const sv_cmd *cmd);
/* Iterates the table for INFO commandstats: fn(name, stat) per command with calls. */
void sv_cmd_each_stat(void (*fn)(void *arg, const char *name, sv_cmdstat *st), void *arg);

/* COMMAND and its subcommands, generated from the table. */
void sv_cmd_command(sv_ctx *x);
void sv_cmd_command_count(sv_ctx *x);
void sv_cmd_command_info(sv_ctx *x);
void sv_cmd_command_docs(sv_ctx *x);
void sv_cmd_command_list(sv_ctx *x);
void sv_cmd_command_help(sv_ctx *x);
/* "<CONTAINER> HELP": the subcommands of a container, one line each. */
void sv_cmd_container_help(sv_ctx *x, const char *container);

/* The handlers, by family (cmd_*.c). */
/* cmd_conn.c */
void sv_cmd_ping(sv_ctx *x);
void sv_cmd_echo(sv_ctx *x);
void sv_cmd_quit(sv_ctx *x);
void sv_cmd_hello(sv_ctx *x);
void sv_cmd_auth(sv_ctx *x);
void sv_cmd_select(sv_ctx *x);
void sv_cmd_client_setname(sv_ctx *x);
void sv_cmd_client_getname(sv_ctx *x);
void sv_cmd_client_id(sv_ctx *x);
void sv_cmd_client_setinfo(sv_ctx *x);
void sv_cmd_client_list(sv_ctx *x);
void sv_cmd_client_info(sv_ctx *x);
void sv_cmd_client_help(sv_ctx *x);
/* cmd_server.c */
void sv_cmd_info(sv_ctx *x);
void sv_cmd_dbsize(sv_ctx *x);
void sv_cmd_config_get(sv_ctx *x);
void sv_cmd_config_set(sv_ctx *x);
void sv_cmd_config_resetstat(sv_ctx *x);
void sv_cmd_config_help(sv_ctx *x);
void sv_cmd_time(sv_ctx *x);
void sv_cmd_flushdb(sv_ctx *x);
void sv_cmd_flushall(sv_ctx *x);
void sv_cmd_shutdown(sv_ctx *x);
/* cmd_string.c */
void sv_cmd_get(sv_ctx *x);
void sv_cmd_set(sv_ctx *x);
void sv_cmd_setnx(sv_ctx *x);
void sv_cmd_setex(sv_ctx *x);
void sv_cmd_psetex(sv_ctx *x);
void sv_cmd_getset(sv_ctx *x);
void sv_cmd_getdel(sv_ctx *x);
void sv_cmd_getex(sv_ctx *x);
void sv_cmd_mget(sv_ctx *x);
void sv_cmd_mset(sv_ctx *x);
void sv_cmd_msetnx(sv_ctx *x);
void sv_cmd_strlen(sv_ctx *x);
void sv_cmd_append(sv_ctx *x);
void sv_cmd_getrange(sv_ctx *x);
void sv_cmd_setrange(sv_ctx *x);
void sv_cmd_incr(sv_ctx *x);
void sv_cmd_decr(sv_ctx *x);
void sv_cmd_incrby(sv_ctx *x);
void sv_cmd_decrby(sv_ctx *x);
void sv_cmd_incrbyfloat(sv_ctx *x);
/* cmd_keys.c */
void sv_cmd_del(sv_ctx *x);
void sv_cmd_exists(sv_ctx *x);
void sv_cmd_type(sv_ctx *x);
void sv_cmd_scan(sv_ctx *x);
void sv_cmd_keys_cmd(sv_ctx *x);
void sv_cmd_pkscanrange(sv_ctx *x);
void sv_cmd_pkrscanrange(sv_ctx *x);
/* cmd_expire.c */
void sv_cmd_expire(sv_ctx *x);
void sv_cmd_pexpire(sv_ctx *x);
void sv_cmd_expireat(sv_ctx *x);
void sv_cmd_pexpireat(sv_ctx *x);
void sv_cmd_ttl(sv_ctx *x);
void sv_cmd_pttl(sv_ctx *x);
void sv_cmd_expiretime(sv_ctx *x);
void sv_cmd_pexpiretime(sv_ctx *x);
void sv_cmd_persist(sv_ctx *x);
/* cmd_txn.c */
void sv_cmd_multi(sv_ctx *x);
void sv_cmd_exec(sv_ctx *x);
void sv_cmd_discard(sv_ctx *x);
void sv_cmd_watch(sv_ctx *x);
void sv_cmd_unwatch(sv_ctx *x);

/* Shared replies and helpers for handlers. */
extern const char *const sv_err_syntax;   /* "syntax error" */
extern const char *const sv_err_notint;   /* "value is not an integer or out of range" */
extern const char *const sv_err_notfloat; /* "value is not a valid float" */
/* Reads key as the command sees it: through the write context when it
 * runs in one (seeing the run's own writes), else from the store. Returns
 * 0 (value in *val, valid until the next read of this command), 1 when
 * missing or expired, or a negative STRATA_E* code. expire may be NULL. */
int sv_key_get(sv_ctx *x, const char *key, size_t klen, const char **val, size_t *vlen,
               int64_t *expire);

/* Replies the engine's failure: "-ERR Strata: <message>". */
void sv_reply_engine_error(sv_reply *r, int code);

#endif /* SV_COMMAND_H */
