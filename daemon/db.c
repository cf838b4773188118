/* db.c — see db.h. */
#include "db.h"

#include <stddef.h>

#include "log.h"

int db_prepare_all(sqlite3 *db, const char *const sql[], sqlite3_stmt *st[], int n, const char *who)
{
    for (int i = 0; i < n; i++) {
        if (sqlite3_prepare_v3(db, sql[i], -1, SQLITE_PREPARE_PERSISTENT, &st[i], NULL) !=
            SQLITE_OK) {
            log_error("%s: preparing \"%s\": %s", who, sql[i], sqlite3_errmsg(db));
            db_finalize_all(st, i);
            return -1;
        }
    }
    return 0;
}

void db_finalize_all(sqlite3_stmt *st[], int n)
{
    for (int i = 0; i < n; i++) {
        sqlite3_finalize(st[i]); /* a harmless no-op on NULL */
        st[i] = NULL;
    }
}

int db_user_version(sqlite3 *db)
{
    sqlite3_stmt *st;
    int v = -1;
    if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    return v;
}
