/* backup.h — `pantaud --backup PATH`: a consistent copy of the database while
 * pantaud runs. Owns nothing beyond the call: its own read-only connection to
 * the database and the copy it writes. */
#ifndef PANTAU_BACKUP_H
#define PANTAU_BACKUP_H

#include <stddef.h>

/* Copies the SQLite database `db_path` to `dest` with SQLite's backup API, in
 * one read transaction (WAL: pantaud keeps writing meanwhile; the copy is the
 * database as of that transaction's start). The copy is written beside dest
 * as a temporary file created 0600, synced, and renamed over dest, so dest is
 * either the old file or a complete copy, never half of one. The copy is in
 * rollback-journal mode: one self-contained file. Returns 0, or -1 with a
 * message in err (the database is never created or changed). */
int backup_run(const char *db_path, const char *dest, char *err, size_t errlen);

#endif
