/*
 * log_writer.h - appends records to a write-ahead log or MANIFEST in the
 * format of log_format.h. Not thread-safe: the database serialises writers.
 */
#ifndef ST_LOG_WRITER_H
#define ST_LOG_WRITER_H

#include <stdint.h>

#include "env/env.h"
#include "util/slice.h"

typedef struct st_log_writer st_log_writer;

/* A writer appending to file, which it takes ownership of (closed by
 * st_log_writer_close). file_size is the file's current length (0 for a
 * new file; the length of an existing log being reused), so block
 * boundaries line up. NULL when out of memory (file is then NOT closed). */
st_log_writer *st_log_writer_new(st_wfile *file, uint64_t file_size);

/* Appends one record, fragmented across blocks as needed, and hands it to
 * the OS with one write() (st_wfile flush) before returning, so a process
 * crash after return loses nothing. The record may be empty (a FULL
 * fragment of length 0). The fragments are assembled in a buffer the
 * writer keeps for the next record (released after one over 4 MiB),
 * then passed to exactly one append and one flush. Errors: STRATA_EIO,
 * STRATA_ENOMEM. After a failed append the writer's size is unchanged;
 * after a failed flush the bytes count as written (they are the file's). A
 * database should stop using a log after any error: what reached the disk
 * is unknown. */
int st_log_add_record(st_log_writer *w, st_slice record);

/* fdatasync of everything added so far. Errors: STRATA_EIO. */
int st_log_sync(st_log_writer *w);

/* Bytes written so far (the file's length). */
uint64_t st_log_writer_size(const st_log_writer *w);

/* Closes the file and frees w; returns the close's error. NULL -> 0. */
int st_log_writer_close(st_log_writer *w);

#endif
