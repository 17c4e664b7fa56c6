/*
 * command.c - the command table, lookup, key positions, and COMMAND's
 * replies generated from the table (COMMAND, COUNT, INFO, DOCS, LIST).
 *
 * Flags, arities and key positions are redis-server 7.0's for the commands
 * both servers have (the JSON files of src/commands there), so clients that read
 * COMMAND (cluster-aware clients, redis-cli's hints) see what they expect.
 */
#include "command.h"

#include <ctype.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "client.h"
#include "server.h"
#include "strutil.h"

const char *const sv_err_syntax = "syntax error";
const char *const sv_err_notint = "value is not an integer or out of range";
const char *const sv_err_notfloat = "value is not a valid float";

#define W SV_CMD_WRITE
#define R SV_CMD_READONLY
#define F SV_CMD_FAST
#define M SV_CMD_DENYOOM
#define NA SV_CMD_NO_AUTH
#define NM SV_CMD_NO_MULTI
#define LS (SV_CMD_LOADING | SV_CMD_STALE)
#define NS SV_CMD_NOSCRIPT
#define AB SV_CMD_ALLOW_BUSY
#define AD SV_CMD_ADMIN
#define IN SV_RUN_INLINE
#define WR SV_RUN_WRITE
#define WK SV_RUN_WORKER

#define S(name) sizeof(name) / sizeof(name[0])

static const sv_cmd client_subs[] = {
    {"client|setname", 3, NS | LS, IN, 0, 0, 0, sv_cmd_client_setname, "connection", "2.6.9",
     "Sets the connection name.", "O(1)", "connection-name", NULL, 0, 0},
    {"client|getname", 2, NS | LS, IN, 0, 0, 0, sv_cmd_client_getname, "connection", "2.6.9",
     "Returns the name of the connection.", "O(1)", "", NULL, 0, 0},
    {"client|id", 2, NS | LS, IN, 0, 0, 0, sv_cmd_client_id, "connection", "5.0.0",
     "Returns the unique client ID of the connection.", "O(1)", "", NULL, 0, 0},
    {"client|setinfo", 4, NS | LS, IN, 0, 0, 0, sv_cmd_client_setinfo, "connection", "7.2.0",
     "Sets information specific to the client or connection.", "O(1)",
     "LIB-NAME libname | LIB-VER libver", NULL, 0, 0},
    {"client|list", -2, AD | NS | LS, IN, 0, 0, 0, sv_cmd_client_list, "connection", "2.4.0",
     "Lists open connections.", "O(N) where N is the number of client connections",
     "[TYPE NORMAL] [ID client-id ...]", NULL, 0, 0},
    {"client|info", 2, NS | LS, IN, 0, 0, 0, sv_cmd_client_info, "connection", "6.2.0",
     "Returns information about the connection.", "O(1)", "", NULL, 0, 0},
    {"client|help", 2, LS, IN, 0, 0, 0, sv_cmd_client_help, "connection", "5.0.0",
     "Returns helpful text about the different subcommands.", "O(1)", "", NULL, 0, 0},
};

static const sv_cmd config_subs[] = {
    {"config|get", -3, AD | NS | LS, IN, 0, 0, 0, sv_cmd_config_get, "server", "2.0.0",
     "Returns the effective values of configuration parameters.",
     "O(N) when N is the number of configuration parameters provided", "parameter [parameter ...]",
     NULL, 0, 0},
    {"config|set", -4, AD | NS | LS, IN, 0, 0, 0, sv_cmd_config_set, "server", "2.0.0",
     "Sets configuration parameters in-flight.",
     "O(N) when N is the number of configuration parameters provided",
     "parameter value [parameter value ...]", NULL, 0, 0},
    {"config|resetstat", 2, AD | NS | LS, IN, 0, 0, 0, sv_cmd_config_resetstat, "server", "2.0.0",
     "Resets the server's statistics.", "O(1)", "", NULL, 0, 0},
    {"config|help", 2, LS, IN, 0, 0, 0, sv_cmd_config_help, "server", "5.0.0",
     "Returns helpful text about the different subcommands.", "O(1)", "", NULL, 0, 0},
};

static const sv_cmd command_subs[] = {
    {"command|count", 2, LS, IN, 0, 0, 0, sv_cmd_command_count, "server", "2.8.13",
     "Returns a count of commands.", "O(1)", "", NULL, 0, 0},
    {"command|info", -2, LS, IN, 0, 0, 0, sv_cmd_command_info, "server", "2.8.13",
     "Returns information about one, multiple or all commands.",
     "O(N) where N is the number of commands to look up", "[command-name ...]", NULL, 0, 0},
    {"command|docs", -2, LS, IN, 0, 0, 0, sv_cmd_command_docs, "server", "7.0.0",
     "Returns documentary information about one, multiple or all commands.",
     "O(N) where N is the number of commands to look up", "[command-name ...]", NULL, 0, 0},
    {"command|list", -2, LS, IN, 0, 0, 0, sv_cmd_command_list, "server", "7.0.0",
     "Returns a list of command names.", "O(N) where N is the total number of commands",
     "[FILTERBY MODULE module-name | ACLCAT category | PATTERN pattern]", NULL, 0, 0},
    {"command|help", 2, LS, IN, 0, 0, 0, sv_cmd_command_help, "server", "5.0.0",
     "Returns helpful text about the different subcommands.", "O(1)", "", NULL, 0, 0},
};

static const sv_cmd table[] = {
    /* connection */
    {"ping", -1, F, IN, 0, 0, 0, sv_cmd_ping, "connection", "1.0.0",
     "Returns the server's liveliness response.", "O(1)", "[message]", NULL, 0, 0},
    {"echo", 2, F, IN, 0, 0, 0, sv_cmd_echo, "connection", "1.0.0", "Returns the given string.",
     "O(1)", "message", NULL, 0, 0},
    {"quit", -1, AB | NS | LS | F | NA, IN, 0, 0, 0, sv_cmd_quit, "connection", "1.0.0",
     "Closes the connection.", "O(1)", "", NULL, 0, 0},
    {"hello", -1, NS | LS | F | NA | AB, IN, 0, 0, 0, sv_cmd_hello, "connection", "6.0.0",
     "Handshakes with the server.", "O(1)",
     "[protover [AUTH username password] [SETNAME clientname]]", NULL, 0, 0},
    {"auth", -2, NS | LS | F | NA | AB, IN, 0, 0, 0, sv_cmd_auth, "connection", "1.0.0",
     "Authenticates the connection.",
     "O(N) where N is the number of passwords defined for the user", "[username] password", NULL, 0,
     0},
    {"select", 2, LS | F, IN, 0, 0, 0, sv_cmd_select, "connection", "1.0.0",
     "Changes the selected database (n > 0: the sub-database redis/<n>).", "O(1)", "index", NULL, 0,
     0},
    {"client", -2, 0, IN, 0, 0, 0, NULL, "connection", "2.4.0",
     "A container for client connection commands.", "Depends on subcommand.", "", client_subs,
     S(client_subs), 0},
    /* server */
    {"info", -1, LS, IN, 0, 0, 0, sv_cmd_info, "server", "1.0.0",
     "Returns information and statistics about the server.", "O(1)", "[section [section ...]]",
     NULL, 0, 0},
    {"dbsize", 1, R | F, WK, 0, 0, 0, sv_cmd_dbsize, "server", "1.0.0",
     "Returns the number of keys in the database (counted in key order: O(N) here).", "O(N)", "",
     NULL, 0, 0},
    {"command", -1, LS, IN, 0, 0, 0, sv_cmd_command, "server", "2.8.13",
     "Returns detailed information about all commands.",
     "O(N) where N is the total number of commands", "", command_subs, S(command_subs), 0},
    {"config", -2, 0, IN, 0, 0, 0, NULL, "server", "2.0.0",
     "A container for server configuration commands.", "Depends on subcommand.", "", config_subs,
     S(config_subs), 0},
    {"time", 1, LS | F, IN, 0, 0, 0, sv_cmd_time, "server", "2.6.0", "Returns the server time.",
     "O(1)", "", NULL, 0, 0},
    {"flushdb", -1, W | NM, WK, 0, 0, 0, sv_cmd_flushdb, "server", "1.0.0",
     "Removes all keys from the current database.",
     "O(N) where N is the number of keys in the selected database", "[ASYNC | SYNC]", NULL, 0, 0},
    {"flushall", -1, W | NM, WK, 0, 0, 0, sv_cmd_flushall, "server", "1.0.0",
     "Removes all keys from all databases.",
     "O(N) where N is the total number of keys in all databases", "[ASYNC | SYNC]", NULL, 0, 0},
    {"shutdown", -1, AD | NS | LS | NM | AB, IN, 0, 0, 0, sv_cmd_shutdown, "server", "1.0.0",
     "Closes the database cleanly and stops the server.",
     "O(N) when saving, where N is the total number of keys in all databases when saving data, "
     "otherwise O(1)",
     "[NOSAVE | SAVE] [NOW] [FORCE] [ABORT]", NULL, 0, 0},
    /* string */
    {"get", 2, R | F, IN, 1, 1, 1, sv_cmd_get, "string", "1.0.0",
     "Returns the string value of a key.", "O(1)", "key", NULL, 0, 0},
    {"set", -3, W | M, WR, 1, 1, 1, sv_cmd_set, "string", "1.0.0",
     "Sets the string value of a key, ignoring its type. The key is created if it doesn't exist.",
     "O(1)",
     "key value [NX | XX] [GET] [EX seconds | PX milliseconds | EXAT unix-time-seconds | PXAT "
     "unix-time-milliseconds | KEEPTTL]",
     NULL, 0, 0},
    {"setnx", 3, W | M | F, WR, 1, 1, 1, sv_cmd_setnx, "string", "1.0.0",
     "Set the string value of a key only when the key doesn't exist.", "O(1)", "key value", NULL, 0,
     0},
    {"setex", 4, W | M, WR, 1, 1, 1, sv_cmd_setex, "string", "2.0.0",
     "Sets the string value and expiration time of a key. Creates the key if it doesn't exist.",
     "O(1)", "key seconds value", NULL, 0, 0},
    {"psetex", 4, W | M, WR, 1, 1, 1, sv_cmd_psetex, "string", "2.6.0",
     "Sets both string value and expiration time in milliseconds of a key. The key is created if "
     "it doesn't exist.",
     "O(1)", "key milliseconds value", NULL, 0, 0},
    {"getset", 3, W | M | F, WR, 1, 1, 1, sv_cmd_getset, "string", "1.0.0",
     "Returns the previous string value of a key after setting it to a new value.", "O(1)",
     "key value", NULL, 0, 0},
    {"getdel", 2, W | F, WR, 1, 1, 1, sv_cmd_getdel, "string", "6.2.0",
     "Returns the string value of a key after deleting the key.", "O(1)", "key", NULL, 0, 0},
    {"getex", -2, W | F, WR, 1, 1, 1, sv_cmd_getex, "string", "6.2.0",
     "Returns the string value of a key after setting its expiration time.", "O(1)",
     "key [EX seconds | PX milliseconds | EXAT unix-time-seconds | PXAT unix-time-milliseconds | "
     "PERSIST]",
     NULL, 0, 0},
    {"mget", -2, R | F, IN, 1, -1, 1, sv_cmd_mget, "string", "1.0.0",
     "Atomically returns the string values of one or more keys.",
     "O(N) where N is the number of keys to retrieve.", "key [key ...]", NULL, 0, 0},
    {"mset", -3, W | M, WR, 1, -1, 2, sv_cmd_mset, "string", "1.0.1",
     "Atomically creates or modifies the string values of one or more keys.",
     "O(N) where N is the number of keys to set.", "key value [key value ...]", NULL, 0, 0},
    {"msetnx", -3, W | M, WR, 1, -1, 2, sv_cmd_msetnx, "string", "1.0.1",
     "Atomically modifies the string values of one or more keys only when all keys don't exist.",
     "O(N) where N is the number of keys to set.", "key value [key value ...]", NULL, 0, 0},
    {"strlen", 2, R | F, IN, 1, 1, 1, sv_cmd_strlen, "string", "2.2.0",
     "Returns the length of a string value.", "O(1)", "key", NULL, 0, 0},
    {"append", 3, W | M | F, WR, 1, 1, 1, sv_cmd_append, "string", "2.0.0",
     "Appends a string to the value of a key. Creates the key if it doesn't exist.", "O(1)",
     "key value", NULL, 0, 0},
    {"getrange", 4, R, IN, 1, 1, 1, sv_cmd_getrange, "string", "2.4.0",
     "Returns a substring of the string stored at a key.",
     "O(N) where N is the length of the returned string.", "key start end", NULL, 0, 0},
    {"setrange", 4, W | M, WR, 1, 1, 1, sv_cmd_setrange, "string", "2.2.0",
     "Overwrites a part of a string value with another by an offset. Creates the key if it doesn't "
     "exist.",
     "O(1)", "key offset value", NULL, 0, 0},
    {"incr", 2, W | M | F, WR, 1, 1, 1, sv_cmd_incr, "string", "1.0.0",
     "Increments the integer value of a key by one. Uses 0 as initial value if the key doesn't "
     "exist.",
     "O(1)", "key", NULL, 0, 0},
    {"decr", 2, W | M | F, WR, 1, 1, 1, sv_cmd_decr, "string", "1.0.0",
     "Decrements the integer value of a key by one. Uses 0 as initial value if the key doesn't "
     "exist.",
     "O(1)", "key", NULL, 0, 0},
    {"incrby", 3, W | M | F, WR, 1, 1, 1, sv_cmd_incrby, "string", "1.0.0",
     "Increments the integer value of a key by a number. Uses 0 as initial value if the key "
     "doesn't exist.",
     "O(1)", "key increment", NULL, 0, 0},
    {"decrby", 3, W | M | F, WR, 1, 1, 1, sv_cmd_decrby, "string", "1.0.0",
     "Decrements a number from the integer value of a key. Uses 0 as initial value if the key "
     "doesn't exist.",
     "O(1)", "key decrement", NULL, 0, 0},
    {"incrbyfloat", 3, W | M | F, WR, 1, 1, 1, sv_cmd_incrbyfloat, "string", "2.6.0",
     "Increment the floating point value of a key by a number. Uses 0 as initial value if the key "
     "doesn't exist.",
     "O(1)", "key increment", NULL, 0, 0},
    /* generic (key space) */
    {"del", -2, W, WR, 1, -1, 1, sv_cmd_del, "generic", "1.0.0", "Deletes one or more keys.",
     "O(N) where N is the number of keys that will be removed.", "key [key ...]", NULL, 0, 0},
    {"unlink", -2, W | F, WR, 1, -1, 1, sv_cmd_del, "generic", "4.0.0",
     "Asynchronously deletes one or more keys.",
     "O(1) for each key removed regardless of its size.", "key [key ...]", NULL, 0, 0},
    {"exists", -2, R | F, IN, 1, -1, 1, sv_cmd_exists, "generic", "1.0.0",
     "Determines whether one or more keys exist.", "O(N) where N is the number of keys to check.",
     "key [key ...]", NULL, 0, 0},
    {"type", 2, R | F, IN, 1, 1, 1, sv_cmd_type, "generic", "1.0.0",
     "Determines the type of value stored at a key.", "O(1)", "key", NULL, 0, 0},
    {"expire", -3, W | F, WR, 1, 1, 1, sv_cmd_expire, "generic", "1.0.0",
     "Sets the expiration time of a key in seconds.", "O(1)", "key seconds [NX | XX | GT | LT]",
     NULL, 0, 0},
    {"pexpire", -3, W | F, WR, 1, 1, 1, sv_cmd_pexpire, "generic", "2.6.0",
     "Sets the expiration time of a key in milliseconds.", "O(1)",
     "key milliseconds [NX | XX | GT | LT]", NULL, 0, 0},
    {"expireat", -3, W | F, WR, 1, 1, 1, sv_cmd_expireat, "generic", "1.2.0",
     "Sets the expiration time of a key to a Unix timestamp.", "O(1)",
     "key unix-time-seconds [NX | XX | GT | LT]", NULL, 0, 0},
    {"pexpireat", -3, W | F, WR, 1, 1, 1, sv_cmd_pexpireat, "generic", "2.6.0",
     "Sets the expiration time of a key to a Unix milliseconds timestamp.", "O(1)",
     "key unix-time-milliseconds [NX | XX | GT | LT]", NULL, 0, 0},
    {"ttl", 2, R | F, IN, 1, 1, 1, sv_cmd_ttl, "generic", "1.0.0",
     "Returns the expiration time in seconds of a key.", "O(1)", "key", NULL, 0, 0},
    {"pttl", 2, R | F, IN, 1, 1, 1, sv_cmd_pttl, "generic", "2.6.0",
     "Returns the expiration time in milliseconds of a key.", "O(1)", "key", NULL, 0, 0},
    {"expiretime", 2, R | F, IN, 1, 1, 1, sv_cmd_expiretime, "generic", "7.0.0",
     "Returns the expiration time of a key as a Unix timestamp.", "O(1)", "key", NULL, 0, 0},
    {"pexpiretime", 2, R | F, IN, 1, 1, 1, sv_cmd_pexpiretime, "generic", "7.0.0",
     "Returns the expiration time of a key as a Unix milliseconds timestamp.", "O(1)", "key", NULL,
     0, 0},
    {"persist", 2, W | F, WR, 1, 1, 1, sv_cmd_persist, "generic", "2.2.0",
     "Removes the expiration time of a key.", "O(1)", "key", NULL, 0, 0},
    {"scan", -2, R, WK, 0, 0, 0, sv_cmd_scan, "generic", "2.8.0",
     "Iterates over the key names in the database, in key order.",
     "O(1) for every call. O(N) for a complete iteration.",
     "cursor [MATCH pattern] [COUNT count] [TYPE type]", NULL, 0, 0},
    {"keys", 2, R, WK, 0, 0, 0, sv_cmd_keys_cmd, "generic", "1.0.0",
     "Returns all key names that match a pattern, in key order.",
     "O(N) with N being the number of keys in the database", "pattern", NULL, 0, 0},
    {"pkscanrange", -4, R, WK, 0, 0, 0, sv_cmd_pkscanrange, "generic", "strata",
     "Returns keys (and values) from start to end inclusive, in key order (Pika's syntax).",
     "O(log(N)+M) with M the keys visited", "type start end [MATCH pattern] [LIMIT limit]", NULL, 0,
     0},
    {"pkrscanrange", -4, R, WK, 0, 0, 0, sv_cmd_pkrscanrange, "generic", "strata",
     "Returns keys (and values) from start down to end inclusive, in reverse key order (Pika's "
     "syntax).",
     "O(log(N)+M) with M the keys visited", "type start end [MATCH pattern] [LIMIT limit]", NULL, 0,
     0},
    /* transactions */
    {"multi", 1, NS | LS | F | AB, IN, 0, 0, 0, sv_cmd_multi, "transactions", "1.2.0",
     "Starts a transaction.", "O(1)", "", NULL, 0, 0},
    {"exec", 1, NS | LS | SV_CMD_SKIP_SLOWLOG, WK, 0, 0, 0, sv_cmd_exec, "transactions", "1.2.0",
     "Executes all commands in a transaction, as one Strata transaction.",
     "Depends on commands in the transaction", "", NULL, 0, 0},
    {"discard", 1, NS | LS | F | AB, IN, 0, 0, 0, sv_cmd_discard, "transactions", "2.0.0",
     "Discards a transaction.", "O(N), when N is the number of queued commands", "", NULL, 0, 0},
    {"watch", -2, NS | LS | F | AB, WK, 1, -1, 1, sv_cmd_watch, "transactions", "2.2.0",
     "Monitors changes to keys to determine the execution of a transaction.", "O(1) for every key.",
     "key [key ...]", NULL, 0, 0},
    {"unwatch", 1, NS | LS | F | AB, IN, 0, 0, 0, sv_cmd_unwatch, "transactions", "2.2.0",
     "Forgets about watched keys of a transaction.", "O(1)", "", NULL, 0, 0},
};
#define NCMDS (sizeof table / sizeof table[0])

/* Statistics: one slot per command and subcommand, found by address. */
#define NSTATS (NCMDS + S(client_subs) + S(config_subs) + S(command_subs))
static sv_cmdstat stats[NSTATS];

static size_t stat_index(const sv_cmd *cmd) {
  if (cmd >= table && cmd < table + NCMDS) return (size_t)(cmd - table);
  size_t base = NCMDS;
  if (cmd >= client_subs && cmd < client_subs + S(client_subs))
    return base + (size_t)(cmd - client_subs);
  base += S(client_subs);
  if (cmd >= config_subs && cmd < config_subs + S(config_subs))
    return base + (size_t)(cmd - config_subs);
  base += S(config_subs);
  return base + (size_t)(cmd - command_subs);
}

sv_cmdstat *sv_cmd_stat(const sv_cmd *cmd) { return &stats[stat_index(cmd)]; }

void sv_cmd_each_stat(void (*fn)(void *arg, const char *name, sv_cmdstat *st), void *arg) {
  for (size_t i = 0; i < NCMDS; i++) {
    if (table[i].subs) {
      for (int k = 0; k < table[i].nsubs; k++)
        if (atomic_load(&stats[stat_index(&table[i].subs[k])].calls))
          fn(arg, table[i].subs[k].name, &stats[stat_index(&table[i].subs[k])]);
    }
    if (atomic_load(&stats[i].calls)) fn(arg, table[i].name, &stats[i]);
  }
}

/* A hash index over the table by lower-case name, built once. */
#define NSLOTS 256
static const sv_cmd *slots[NSLOTS];
static pthread_once_t index_once = PTHREAD_ONCE_INIT;

static uint64_t name_hash(const char *s, size_t n) { return sv_hash(s, n, 0x5eed); }

static void build_index(void) {
  for (size_t i = 0; i < NCMDS; i++) {
    size_t h = (size_t)name_hash(table[i].name, strlen(table[i].name)) % NSLOTS;
    while (slots[h])
      h = (h + 1) % NSLOTS;
    slots[h] = &table[i];
  }
}

const sv_cmd *sv_cmd_lookup(const char *name, size_t len) {
  pthread_once(&index_once, build_index);
  char low[32];
  if (len == 0 || len >= sizeof low) return NULL;
  for (size_t i = 0; i < len; i++)
    low[i] = (char)tolower((unsigned char)name[i]);
  for (size_t h = (size_t)name_hash(low, len) % NSLOTS; slots[h]; h = (h + 1) % NSLOTS) {
    if (strlen(slots[h]->name) == len && !memcmp(slots[h]->name, low, len)) return slots[h];
  }
  return NULL;
}

const sv_cmd *sv_cmd_lookup_sub(const sv_cmd *cmd, const char *name, size_t len) {
  size_t base = strlen(cmd->name) + 1;
  for (int i = 0; i < cmd->nsubs; i++) {
    const char *sub = cmd->subs[i].name + base;
    if (sv_streq_ci(name, len, sub)) return &cmd->subs[i];
  }
  return NULL;
}

void sv_cmd_keys(const sv_cmd *cmd, int argc, char **argv, size_t *argl,
                 void (*fn)(void *arg, const char *k, size_t kl), void *arg) {
  if (cmd->first_key <= 0) return;
  int last = cmd->last_key < 0 ? argc + cmd->last_key : cmd->last_key;
  int step = cmd->key_step > 0 ? cmd->key_step : 1;
  for (int i = cmd->first_key; i <= last && i < argc; i += step)
    fn(arg, argv[i], argl[i]);
}

int sv_key_get(sv_ctx *x, const char *key, size_t klen, const char **val, size_t *vlen,
               int64_t *expire) {
  if (x->w) return sv_wctx_get(x->w, x->dbi, key, klen, val, vlen, expire);
  int rc = sv_store_get(sv_srv->store, x->dbi, key, klen, x->buf, NULL, expire);
  if (rc == 0) {
    *val = x->buf->data;
    *vlen = x->buf->size;
  }
  return rc;
}

void sv_reply_engine_error(sv_reply *r, int code) {
  const char *msg = strata_errmsg();
  sv_reply_errorf(r, "Strata: %s", msg && *msg ? msg : strata_strerror(code));
}

/* ------------------------------------------------------------------------ */
/* COMMAND                                                                  */
/* ------------------------------------------------------------------------ */

static const struct {
  unsigned flag;
  const char *name;
} flag_names[] = {
    {SV_CMD_WRITE, "write"},           {SV_CMD_READONLY, "readonly"},
    {SV_CMD_DENYOOM, "denyoom"},       {SV_CMD_ADMIN, "admin"},
    {SV_CMD_NOSCRIPT, "noscript"},     {SV_CMD_LOADING, "loading"},
    {SV_CMD_STALE, "stale"},           {SV_CMD_FAST, "fast"},
    {SV_CMD_NO_AUTH, "no_auth"},       {SV_CMD_NO_MULTI, "no_multi"},
    {SV_CMD_ALLOW_BUSY, "allow_busy"}, {SV_CMD_SKIP_SLOWLOG, "skip_slowlog"},
};

static int acl_categories(const sv_cmd *c, const char **out) {
  int n = 0;
  if (c->flags & SV_CMD_WRITE) out[n++] = "@write";
  if (c->flags & SV_CMD_READONLY) out[n++] = "@read";
  if (!strcmp(c->group, "string")) out[n++] = "@string";
  if (!strcmp(c->group, "generic")) out[n++] = "@keyspace";
  if (!strcmp(c->group, "connection")) out[n++] = "@connection";
  if (!strcmp(c->group, "transactions")) out[n++] = "@transaction";
  if (c->flags & SV_CMD_ADMIN) {
    out[n++] = "@admin";
    out[n++] = "@dangerous";
  }
  out[n++] = (c->flags & SV_CMD_FAST) ? "@fast" : "@slow";
  return n;
}

static void reply_info(sv_reply *r, const sv_cmd *c) {
  sv_reply_array(r, 10);
  sv_reply_bulk_cstr(r, c->name);
  sv_reply_int(r, c->arity);
  int nf = 0;
  for (size_t i = 0; i < sizeof flag_names / sizeof flag_names[0]; i++)
    if (c->flags & flag_names[i].flag) nf++;
  sv_reply_set(r, nf);
  for (size_t i = 0; i < sizeof flag_names / sizeof flag_names[0]; i++)
    if (c->flags & flag_names[i].flag) sv_reply_status(r, flag_names[i].name);
  sv_reply_int(r, c->first_key);
  sv_reply_int(r, c->last_key);
  sv_reply_int(r, c->key_step);
  const char *cats[8];
  int nc = acl_categories(c, cats);
  sv_reply_set(r, nc);
  for (int i = 0; i < nc; i++)
    sv_reply_status(r, cats[i]);
  sv_reply_set(r, 0); /* tips */
  if (c->first_key > 0) {
    /* One key specification: the keys from first_key, every key_step,
     * up to last_key (relative to the end when negative). */
    sv_reply_array(r, 1);
    sv_reply_map(r, 3);
    sv_reply_bulk_cstr(r, "flags");
    sv_reply_set(r, 2);
    sv_reply_status(r, (c->flags & SV_CMD_WRITE) ? "RW" : "RO");
    sv_reply_status(r, (c->flags & SV_CMD_WRITE) ? "UPDATE" : "ACCESS");
    sv_reply_bulk_cstr(r, "begin_search");
    sv_reply_map(r, 2);
    sv_reply_bulk_cstr(r, "type");
    sv_reply_bulk_cstr(r, "index");
    sv_reply_bulk_cstr(r, "spec");
    sv_reply_map(r, 1);
    sv_reply_bulk_cstr(r, "index");
    sv_reply_int(r, c->first_key);
    sv_reply_bulk_cstr(r, "find_keys");
    sv_reply_map(r, 2);
    sv_reply_bulk_cstr(r, "type");
    sv_reply_bulk_cstr(r, "range");
    sv_reply_bulk_cstr(r, "spec");
    sv_reply_map(r, 3);
    sv_reply_bulk_cstr(r, "lastkey");
    sv_reply_int(r, c->last_key < 0 ? c->last_key : c->last_key - c->first_key);
    sv_reply_bulk_cstr(r, "keystep");
    sv_reply_int(r, c->key_step);
    sv_reply_bulk_cstr(r, "limit");
    sv_reply_int(r, 0);
  } else {
    sv_reply_array(r, 0);
  }
  sv_reply_array(r, c->nsubs);
  for (int i = 0; i < c->nsubs; i++)
    reply_info(r, &c->subs[i]);
}

/* The syntax string's top-level tokens ("key", "[NX | XX]", ...) as
 * COMMAND DOCS argument maps. */
static void reply_arguments(sv_reply *r, const char *syntax) {
  const char *tok[32];
  size_t len[32];
  int n = 0;
  const char *p = syntax;
  while (*p && n < 32) {
    while (*p == ' ')
      p++;
    if (!*p) break;
    const char *s = p;
    int depth = 0;
    while (*p && (depth > 0 || *p != ' ')) {
      if (*p == '[') depth++;
      if (*p == ']') depth--;
      p++;
    }
    tok[n] = s;
    len[n] = (size_t)(p - s);
    n++;
  }
  sv_reply_array(r, n);
  for (int i = 0; i < n; i++) {
    const char *s = tok[i];
    size_t l = len[i];
    int optional = l >= 2 && s[0] == '[' && s[l - 1] == ']';
    if (optional) {
      s++;
      l -= 2;
    }
    int multiple = l >= 4 && !memcmp(s + l - 4, " ...", 4);
    if (multiple) l -= 4;
    char name[256];
    if (l >= sizeof name) l = sizeof name - 1;
    memcpy(name, s, l);
    name[l] = '\0';
    sv_reply_map(r, 2 + (optional || multiple));
    sv_reply_bulk_cstr(r, "name");
    sv_reply_bulk_cstr(r, name);
    sv_reply_bulk_cstr(r, "type");
    sv_reply_bulk_cstr(r, !strcmp(name, "key") ? "key" : "string");
    if (optional || multiple) {
      sv_reply_bulk_cstr(r, "flags");
      sv_reply_array(r, optional + multiple);
      if (optional) sv_reply_status(r, "optional");
      if (multiple) sv_reply_status(r, "multiple");
    }
  }
}

static void reply_docs(sv_reply *r, const sv_cmd *c) {
  int fields = 4 + (c->syntax[0] ? 1 : 0) + (c->nsubs ? 1 : 0);
  sv_reply_map(r, fields);
  sv_reply_bulk_cstr(r, "summary");
  sv_reply_bulk_cstr(r, c->summary);
  sv_reply_bulk_cstr(r, "since");
  sv_reply_bulk_cstr(r, c->since);
  sv_reply_bulk_cstr(r, "group");
  sv_reply_bulk_cstr(r, c->group);
  sv_reply_bulk_cstr(r, "complexity");
  sv_reply_bulk_cstr(r, c->complexity);
  if (c->syntax[0]) {
    sv_reply_bulk_cstr(r, "arguments");
    reply_arguments(r, c->syntax);
  }
  if (c->nsubs) {
    sv_reply_bulk_cstr(r, "subcommands");
    sv_reply_map(r, c->nsubs);
    for (int i = 0; i < c->nsubs; i++) {
      sv_reply_bulk_cstr(r, c->subs[i].name);
      reply_docs(r, &c->subs[i]);
    }
  }
}

void sv_cmd_command(sv_ctx *x) {
  sv_reply_array(x->r, (long long)NCMDS);
  for (size_t i = 0; i < NCMDS; i++)
    reply_info(x->r, &table[i]);
}

void sv_cmd_command_count(sv_ctx *x) { sv_reply_int(x->r, (long long)NCMDS); }

/* The command named by argv (a name, or "container|sub"), or NULL. */
static const sv_cmd *by_fullname(const char *s, size_t n) {
  const char *bar = memchr(s, '|', n);
  if (!bar) return sv_cmd_lookup(s, n);
  const sv_cmd *c = sv_cmd_lookup(s, (size_t)(bar - s));
  if (!c || !c->subs) return NULL;
  return sv_cmd_lookup_sub(c, bar + 1, n - (size_t)(bar - s) - 1);
}

void sv_cmd_command_info(sv_ctx *x) {
  if (x->argc == 2) {
    sv_cmd_command(x);
    return;
  }
  sv_reply_array(x->r, x->argc - 2);
  for (int i = 2; i < x->argc; i++) {
    const sv_cmd *c = by_fullname(x->argv[i], x->argl[i]);
    if (c)
      reply_info(x->r, c);
    else
      sv_reply_null_array(x->r);
  }
}

void sv_cmd_command_docs(sv_ctx *x) {
  if (x->argc == 2) {
    sv_reply_map(x->r, (long long)NCMDS);
    for (size_t i = 0; i < NCMDS; i++) {
      sv_reply_bulk_cstr(x->r, table[i].name);
      reply_docs(x->r, &table[i]);
    }
    return;
  }
  int found = 0;
  for (int i = 2; i < x->argc; i++)
    found += by_fullname(x->argv[i], x->argl[i]) != NULL;
  sv_reply_map(x->r, found);
  for (int i = 2; i < x->argc; i++) {
    const sv_cmd *c = by_fullname(x->argv[i], x->argl[i]);
    if (!c) continue;
    sv_reply_bulk_cstr(x->r, c->name);
    reply_docs(x->r, c);
  }
}

void sv_cmd_command_list(sv_ctx *x) {
  const char *pat = NULL, *cat = NULL;
  size_t plen = 0;
  int none = 0;
  if (x->argc == 5 && sv_streq_ci(x->argv[2], x->argl[2], "filterby")) {
    if (sv_streq_ci(x->argv[3], x->argl[3], "pattern")) {
      pat = x->argv[4];
      plen = x->argl[4];
    } else if (sv_streq_ci(x->argv[3], x->argl[3], "aclcat")) {
      cat = x->argv[4];
    } else if (sv_streq_ci(x->argv[3], x->argl[3], "module")) {
      none = 1; /* no modules */
    } else {
      sv_reply_error(x->r, sv_err_syntax);
      return;
    }
  } else if (x->argc != 2) {
    sv_reply_error(x->r, sv_err_syntax);
    return;
  }
  sv_reply_deferred d = sv_reply_defer(x->r);
  long long n = 0;
  for (size_t i = 0; i < NCMDS && !none; i++) {
    for (int k = -1; k < table[i].nsubs; k++) {
      const sv_cmd *c = k < 0 ? &table[i] : &table[i].subs[k];
      if (pat && !sv_glob_match(pat, plen, c->name, strlen(c->name), 1)) continue;
      if (cat) {
        const char *cats[8];
        int nc = acl_categories(c, cats), hit = 0;
        for (int j = 0; j < nc; j++)
          if (!strcasecmp(cats[j] + 1, cat)) hit = 1;
        if (!hit) continue;
      }
      sv_reply_bulk_cstr(x->r, c->name);
      n++;
    }
  }
  sv_reply_set_array(x->r, d, n);
}

void sv_cmd_container_help(sv_ctx *x, const char *container) {
  const sv_cmd *c = sv_cmd_lookup(container, strlen(container));
  char upper[32];
  size_t n = strlen(container);
  for (size_t i = 0; i <= n && i < sizeof upper; i++)
    upper[i] = (char)toupper((unsigned char)container[i]);
  sv_reply_array(x->r, 1 + (c ? 2 * c->nsubs : 0));
  char line[512];
  snprintf(line, sizeof line, "%s <subcommand> [<arg> [value] [opt] ...]. Subcommands are:", upper);
  sv_reply_status(x->r, line);
  for (int i = 0; c && i < c->nsubs; i++) {
    const sv_cmd *s = &c->subs[i];
    const char *sub = s->name + n + 1;
    char subu[32];
    size_t k = 0;
    for (; sub[k] && k < sizeof subu - 1; k++)
      subu[k] = (char)toupper((unsigned char)sub[k]);
    subu[k] = '\0';
    snprintf(line, sizeof line, "%s%s%s", subu, s->syntax[0] ? " " : "", s->syntax);
    sv_reply_status(x->r, line);
    snprintf(line, sizeof line, "    %s", s->summary);
    sv_reply_status(x->r, line);
  }
}

void sv_cmd_command_help(sv_ctx *x) { sv_cmd_container_help(x, "command"); }
