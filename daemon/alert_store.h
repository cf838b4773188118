/* alert_store.h — the alerts' tables in the store's database (CONTRACT §6:
 * "alerts are kept in the database across restarts").
 *
 * Owns the SQL of two tables, created by the store's migration list:
 *   alerts          one row per alert, firing (resolved_at NULL) or resolved;
 *                   at most one firing row per (rule, series) or (rule, unit)
 *   webhook_outbox  notifications not yet delivered (webhook.h sends them)
 * and the statements that read and write `alerts`. Loop thread only, on the
 * store's write connection (store_db), never inside a store group: every
 * write here is its own transaction, begun by the caller with
 * alert_store_begin / alert_store_commit. */
#ifndef PANTAU_ALERT_STORE_H
#define PANTAU_ALERT_STORE_H

/* The migration that adds both tables (store.c lists it). */
extern const char alert_migration_sql[];

#endif
