/*
 * config.h - strata-server's options: one table (config.c) from which the
 * config-file parser, the command-line parser, CONFIG GET/SET and --help are
 * all driven, so they cannot disagree.
 *
 * Sources, later ones winning: the defaults, the config file (first
 * non-option argument), then "--name value" arguments. A config file holds
 * one "name value..." per line, '#' starts a comment line, values may be
 * quoted as in redis.conf. Names are case-insensitive.
 *
 * Thread-safety: numeric options are atomics read with relaxed loads (any
 * thread, any time); string options are read and written under cfg->mu.
 * Options marked runtime in the table may change through CONFIG SET while
 * the server runs; the others are fixed after start-up.
 */
#ifndef SV_CONFIG_H
#define SV_CONFIG_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>

#include "reply.h"

enum { SV_SYNC_ALWAYS = 0, SV_SYNC_EVERYSEC = 1, SV_SYNC_NO = 2 };
enum { SV_TLS_AUTH_NO = 0, SV_TLS_AUTH_YES = 1, SV_TLS_AUTH_OPTIONAL = 2 };
enum { SV_LOG_DEBUG = 0, SV_LOG_VERBOSE = 1, SV_LOG_NOTICE = 2, SV_LOG_WARNING = 3 };
enum { SV_COMP_SNAPPY = 0, SV_COMP_ZSTD = 1, SV_COMP_NONE = 2 };

typedef struct sv_config {
  pthread_mutex_t mu; /* guards the char * fields */

  /* Network */
  atomic_llong port;
  char *bind; /* space-separated addresses; "-addr" is optional */
  atomic_llong tls_port;
  char *tls_cert_file, *tls_key_file, *tls_ca_cert_file;
  atomic_llong tls_auth_clients;

  /* Safety limits */
  char *requirepass; /* "" : no password */
  atomic_llong maxclients;
  atomic_llong timeout; /* seconds; 0: never */
  atomic_llong proto_max_bulk_len;
  atomic_llong client_query_buffer_limit;
  atomic_llong client_output_pause;

  /* Database */
  char *dir;
  atomic_llong sync;
  atomic_llong databases;
  atomic_llong cache_size;
  atomic_llong write_buffer_size;
  atomic_llong bloom_bits;
  atomic_llong compression;

  /* Threads and housekeeping */
  atomic_llong io_threads;
  atomic_llong worker_threads;
  atomic_llong scan_cursors;
  atomic_llong expire_sweep_ms;

  /* Logging */
  atomic_llong loglevel;
  char *logfile;
  char *pidfile;
} sv_config;

/* Fills *cfg with the defaults. Returns 0, or -1 when out of memory. */
int sv_config_init(sv_config *cfg);
void sv_config_free(sv_config *cfg);

/* Parses argv (argv[0] is the program name): an optional config file path
 * first, then "--name value..." pairs; "--help" and "--version" set *action
 * to 'h' or 'v'. On error writes a message naming the file and line or the
 * argument into err and returns -1. */
int sv_config_parse_args(sv_config *cfg, int argc, char **argv, int *action, char *err,
                         size_t errcap);

/* Reads a config file. Errors as above. */
int sv_config_load_file(sv_config *cfg, const char *path, char *err, size_t errcap);

/* Sets one option from its text. Returns 0; or -1 with *why set to a
 * static reason ("argument must be a memory value", "can't set immutable
 * config") and *found = 0 for an unknown name. at_runtime refuses options
 * that are not runtime; dry_run checks without changing anything. */
int sv_config_set(sv_config *cfg, const char *name, const char *const *vals, int nvals,
                  int at_runtime, int dry_run, const char **why, int *found);

/* CONFIG GET pattern [pattern ...]: every option whose name (or alias)
 * matches one of the glob patterns, as a map of name -> value. */
void sv_config_get_reply(sv_config *cfg, char **pats, size_t *plen, int npats, sv_reply *r);

/* The value of a string option, copied (malloc'd, caller frees), or NULL
 * when out of memory. */
char *sv_config_strdup(sv_config *cfg, char *const *field);

/* Prints the usage and every option with its default and description. */
void sv_config_usage(FILE *out, const char *prog);

/* Names of the sync modes, for INFO. */
const char *sv_config_sync_name(long long mode);

#endif /* SV_CONFIG_H */
