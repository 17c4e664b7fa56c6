/*
 * filename.h - the names of a database's files (LevelDB's naming):
 *
 *   NNNNNN.log        write-ahead log          (6+ decimal digits)
 *   NNNNNN.ldb        sorted table (NNNNNN.sst is read too: older LevelDB)
 *   MANIFEST-NNNNNN   version edits
 *   CURRENT           name of the live MANIFEST, newline-terminated
 *   LOCK              held with an OS lock while the database is open
 *   LOG, LOG.old      info log
 *   NNNNNN.dbtmp      temporary file (a CURRENT being replaced)
 *
 * Functions that build names return malloc'd strings the caller frees, or
 * NULL when out of memory.
 */
#ifndef ST_FILENAME_H
#define ST_FILENAME_H

#include <stdint.h>

typedef enum st_file_type {
  ST_FILE_LOG,
  ST_FILE_LOCK,
  ST_FILE_TABLE,
  ST_FILE_MANIFEST,
  ST_FILE_CURRENT,
  ST_FILE_TEMP,
  ST_FILE_INFO_LOG /* LOG or LOG.old */
} st_file_type;

char *st_log_file_name(const char *db, uint64_t number);
char *st_table_file_name(const char *db, uint64_t number);     /* .ldb */
char *st_sst_table_file_name(const char *db, uint64_t number); /* .sst */
char *st_manifest_file_name(const char *db, uint64_t number);
char *st_current_file_name(const char *db);
char *st_lock_file_name(const char *db);
char *st_temp_file_name(const char *db, uint64_t number);
char *st_info_log_file_name(const char *db);
char *st_old_info_log_file_name(const char *db);

/* Parses a directory entry's name. Returns 1 and sets *number (0 when the
 * kind has none) and *type for a database file; 0 for anything else. */
int st_parse_file_name(const char *name, uint64_t *number, st_file_type *type);

struct strata_env;

/* 1 when dir holds at least one file a database is made of (CURRENT, a
 * MANIFEST, a log or a table): checked before taking the lock, which
 * would create a LOCK file in any directory. */
int st_dir_has_database_files(struct strata_env *env, const char *dir);

/* Points CURRENT at MANIFEST-<manifest_number>: writes a temp file, syncs
 * it, renames it over CURRENT and syncs the directory, so a crash leaves
 * either the old or the new CURRENT, never a torn one. *renamed is set to
 * 1 once the rename succeeded, even when the directory sync then failed:
 * from then on CURRENT may name the new MANIFEST (it does for this run, and
 * may after a crash), so the caller must keep that MANIFEST; 0 otherwise. */
int st_set_current_file(struct strata_env *env, const char *db, uint64_t manifest_number,
                        int *renamed);

#endif
