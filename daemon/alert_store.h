/* alert_store.h — the alerts' tables in the store's database (CONTRACT §6:
 * "alerts are kept in the database across restarts").
 *
 * Uses two tables (their SQL is in schema.c, migration 2 -> 3):
 *   alerts          one row per alert, firing (resolved_at NULL) or resolved;
 *                   at most one firing row per (rule, series) or (rule, unit)
 *   webhook_outbox  notifications not yet delivered (webhook.h sends them)
 * and the statements that read and write `alerts`. Loop thread only, on the
 * store's write connection (store_db), never inside a store group: every
 * write here is its own transaction, begun by the caller with
 * alert_store_begin / alert_store_commit. */
#ifndef PANTAU_ALERT_STORE_H
#define PANTAU_ALERT_STORE_H

#include <sqlite3.h>
#include <stdint.h>

#include "alert.h"

struct alert_store;

/* Prepares the statements on db (the store's write connection). */
int alert_store_open(struct alert_store **out, sqlite3 *db);
void alert_store_close(struct alert_store *s); /* NULL is a no-op */

/* One transaction around a batch of writes; 0 or -1 (logged). A failed
 * commit is rolled back. */
int alert_store_begin(struct alert_store *s);
int alert_store_commit(struct alert_store *s);
void alert_store_rollback(struct alert_store *s);

/* Inserts or replaces the row of a->id. 0 or -1 (logged). */
int alert_store_put(struct alert_store *s, const struct alert_record *a);

/* The highest id ever stored (0 for none): new alerts count on from it. */
int64_t alert_store_max_id(struct alert_store *s);

/* Calls fn with each row (valid only during the call) ... */
typedef void (*alert_store_fn)(void *ctx, const struct alert_record *a);
/* ... of every firing alert; 0 or -1. */
int alert_store_each_firing(struct alert_store *s, alert_store_fn fn, void *ctx);
/* ... of every alert whose firing [fired_at, resolved_at or now] overlaps
 * [from, to], of one program (NULL: any), newest fired_at first, at most
 * limit rows; 0 or -1. */
int alert_store_each_in(struct alert_store *s, int64_t from, int64_t to, const char *program,
                        int limit, alert_store_fn fn, void *ctx);

/* The row of id into *out (free with alert_record_free): 1, 0 when there is
 * none, -1 on error. */
int alert_store_get(struct alert_store *s, int64_t id, struct alert_record *out);

/* Deletes at most max_rows resolved alerts resolved before `before`.
 * Returns rows deleted or -1. */
int alert_store_prune(struct alert_store *s, int64_t before, int max_rows);

#endif
