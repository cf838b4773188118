/* db.h — the few SQLite chores the store, the rollups and the read side all
 * do: preparing a table of statements, finalizing it, reading the schema
 * version. Owns nothing; the caller owns the connection and the statements. */
#ifndef PANTAU_DB_H
#define PANTAU_DB_H

#include <sqlite3.h>

/* Prepares sql[i] into st[i] (persistent) for i < n. On failure logs
 * "<who>: preparing ...", finalizes what was prepared and returns -1. */
int db_prepare_all(sqlite3 *db, const char *const sql[], sqlite3_stmt *st[], int n,
                   const char *who);

/* Finalizes st[0..n) and sets them to NULL; NULL entries are skipped. */
void db_finalize_all(sqlite3_stmt *st[], int n);

/* PRAGMA user_version, or -1 when it cannot be read. */
int db_user_version(sqlite3 *db);

#endif
