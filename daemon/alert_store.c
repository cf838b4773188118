/* alert_store.c — see alert_store.h. */
#include "alert_store.h"

const char alert_migration_sql[] =
    /* state is derived: firing while resolved_at IS NULL. series is the
     * store's series id of a value rule's alert, NULL for a silent rule's. */
    "CREATE TABLE alerts ("
    "  id INTEGER PRIMARY KEY,"
    "  rule TEXT NOT NULL, severity TEXT NOT NULL, program TEXT NOT NULL,"
    "  unit TEXT, metric TEXT, labels TEXT, series INTEGER,"
    "  since INTEGER NOT NULL, fired_at INTEGER NOT NULL, resolved_at INTEGER,"
    "  value REAL, reference REAL, deviation REAL, message TEXT NOT NULL,"
    "  acked_at INTEGER, acked_by TEXT, ack_note TEXT);"
    "CREATE INDEX alerts_fired_at ON alerts (fired_at);"
    "CREATE INDEX alerts_resolved_at ON alerts (resolved_at);"
    /* Notifications in creation order (id); those of one alert are sent in
     * id order, one at a time. body is the whole JSON POSTed. */
    "CREATE TABLE webhook_outbox ("
    "  id INTEGER PRIMARY KEY,"
    "  alert INTEGER NOT NULL,"
    "  body TEXT NOT NULL,"
    "  created INTEGER NOT NULL," /* ms */
    "  attempts INTEGER NOT NULL DEFAULT 0,"
    "  next_at INTEGER NOT NULL," /* ms: not before */
    "  last_error TEXT);"
    "CREATE INDEX webhook_outbox_alert ON webhook_outbox (alert, id);";
