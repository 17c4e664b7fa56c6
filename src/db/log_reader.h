/*
 * log_reader.h - reads records back from a write-ahead log or MANIFEST
 * (format in log_format.h). Not thread-safe.
 *
 * Damage is reported, not fatal: a bad checksum, a bad length or an
 * unexpected fragment type drops the bytes involved (reported through the
 * corruption callback with the byte count and a reason) and reading goes
 * on at the next record. A record cut short at the end of the file (a
 * writer that died mid-record) is not reported: it was never acknowledged.
 * Nor is one whose end and everything after it to the end of the file are
 * zeros (the same, on a file system that kept the size but not the data).
 */
#ifndef ST_LOG_READER_H
#define ST_LOG_READER_H

#include <stddef.h>
#include <stdint.h>

#include "env/env.h"
#include "util/slice.h"

typedef struct st_log_reader st_log_reader;

/* Called for each dropped stretch: bytes lost and a static reason. */
typedef void (*st_log_corruption_fn)(void *arg, uint64_t offset, size_t bytes, const char *reason);

/* A reader of file (borrowed: the caller closes it after freeing the
 * reader), from its first byte, in 32 KiB reads. checksum: verify CRCs.
 * report may be NULL; its offset is the file offset where the dropped
 * bytes begin (for a dropped partial record, the offset of its FIRST
 * fragment). NULL when out of memory. */
st_log_reader *st_log_reader_new(st_seqfile *file, int checksum, st_log_corruption_fn report,
                                 void *arg);

/* Makes r start at byte `offset` of its file instead of the first: offset
 * must be where a record begins -- 0, or an st_log_end_offset() an earlier
 * reader of the same file returned -- as when a reader follows a file that
 * a writer is still appending to (db_readonly.c). Skips the file to offset
 * and keeps block boundaries where they are. Call before the first read.
 * Errors: the file's skip error. */
int st_log_reader_start_at(st_log_reader *r, uint64_t offset);

/* Reads the next record into *record (valid until the next call or free).
 * Returns 1 for a record, 0 at end of file, or a negative error (STRATA_EIO
 * from the file, STRATA_ENOMEM; after a read error the reader is at end of
 * file). */
int st_log_read_record(st_log_reader *r, st_slice *record);

/* File offset of the start of the last record returned. */
uint64_t st_log_last_record_offset(const st_log_reader *r);

/* Offset just past the last good record (the length a writer reusing the
 * file should continue from); 0 before the first record. When it is less
 * than the file's size the file ends in damage or a torn record, and an
 * appending writer would leave that garbage in front of its records. */
uint64_t st_log_end_offset(const st_log_reader *r);

void st_log_reader_free(st_log_reader *r);

#endif
