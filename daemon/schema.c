/* schema.c — see schema.h. */
#include "schema.h"

const char *const schema_migrations[] = {
    /* 0 -> 1: series, samples, units. samples is WITHOUT ROWID keyed by
     * (series, ts): the key is the identity, and it measured 10-25 % faster
     * than a rowid table with a unique index. */
    "CREATE TABLE series ("
    "  id INTEGER PRIMARY KEY,"
    "  program TEXT NOT NULL, unit TEXT NOT NULL, metric TEXT NOT NULL,"
    "  labels TEXT NOT NULL,"     /* canonical JSON: compact, keys sorted */
    "  created INTEGER NOT NULL," /* arrival ms of its first sample */
    "  last_ts INTEGER, last_value REAL,"
    "  UNIQUE (program, unit, metric, labels));"
    "CREATE TABLE samples ("
    "  series INTEGER NOT NULL, ts INTEGER NOT NULL,"
    "  value REAL NOT NULL, arrival INTEGER NOT NULL,"
    "  PRIMARY KEY (series, ts)) WITHOUT ROWID;"
    "CREATE TABLE units ("
    "  program TEXT NOT NULL, unit TEXT NOT NULL,"
    "  online INTEGER," /* NULL until a $status arrives */
    "  status_ts INTEGER, last_seen INTEGER,"
    "  lat REAL, lon REAL, pos_ts INTEGER,"
    "  PRIMARY KEY (program, unit)) WITHOUT ROWID;",
    /* 1 -> 2: 1-minute and 1-hour rollups and their horizons (rollup.h).
     * ts % 60000 truncates toward zero: right for every ts the parser accepts
     * (>= 2000-01-01). The watermark is put past the newest sample: everything
     * stored so far is rolled up here. */
    "CREATE TABLE rollup_1m ("
    "  series INTEGER NOT NULL, ts INTEGER NOT NULL," /* ts: bucket start */
    "  min_value REAL NOT NULL, max_value REAL NOT NULL, sum_value REAL NOT NULL,"
    "  n INTEGER NOT NULL, last_value REAL NOT NULL, last_ts INTEGER NOT NULL,"
    "  PRIMARY KEY (series, ts)) WITHOUT ROWID;"
    "CREATE TABLE rollup_1h ("
    "  series INTEGER NOT NULL, ts INTEGER NOT NULL,"
    "  min_value REAL NOT NULL, max_value REAL NOT NULL, sum_value REAL NOT NULL,"
    "  n INTEGER NOT NULL, last_value REAL NOT NULL, last_ts INTEGER NOT NULL,"
    "  PRIMARY KEY (series, ts)) WITHOUT ROWID;"
    "CREATE TABLE store_meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;"
    "INSERT INTO rollup_1m SELECT series, ts - ts % 60000 AS m, min(value), max(value),"
    "  sum(value), count(*), 0, max(ts) FROM samples GROUP BY series, m;"
    "UPDATE rollup_1m SET last_value = (SELECT value FROM samples AS s"
    "  WHERE s.series = rollup_1m.series AND s.ts = rollup_1m.last_ts);"
    "INSERT INTO rollup_1h SELECT series, ts - ts % 3600000 AS h, min(min_value),"
    "  max(max_value), sum(sum_value), sum(n), 0, max(last_ts) FROM rollup_1m GROUP BY series, h;"
    "UPDATE rollup_1h SET last_value = (SELECT last_value FROM rollup_1m AS m"
    "  WHERE m.series = rollup_1h.series AND m.ts = rollup_1h.last_ts - rollup_1h.last_ts % 60000);"
    "INSERT INTO store_meta (key, value) VALUES"
    "  ('watermark', coalesce((SELECT max(ts) - max(ts) % 60000 + 60000 FROM samples), 0)),"
    "  ('raw_floor', 0), ('minute_floor', 0);",
    /* 2 -> 3: alerts (alert_store.h) and the webhook outbox (webhook.h). */
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
    "CREATE INDEX webhook_outbox_alert ON webhook_outbox (alert, id);",
    /* 3 -> 4: accounts, sessions (users.h) and the audit log (audit.h).
     * programs: "" when not limited, else "a,b". A session is stored as the
     * SHA-256 of its id. The triggers end a user's sessions in the same
     * statement that deletes the user or changes the password, so no session
     * outlives either, whoever made the change (the daemon or the command
     * line). audit's AUTOINCREMENT: an id is never reused, even after the
     * newest row is deleted; audit_anchor holds the last pruned event, which
     * the oldest kept one chains from. */
    "CREATE TABLE users ("
    "  name TEXT PRIMARY KEY, role TEXT NOT NULL, programs TEXT NOT NULL DEFAULT '',"
    "  hash TEXT NOT NULL, created INTEGER NOT NULL) WITHOUT ROWID;"
    "CREATE TABLE sessions ("
    "  id INTEGER PRIMARY KEY, sid_hash BLOB NOT NULL UNIQUE, user TEXT NOT NULL,"
    "  created INTEGER NOT NULL, last_used INTEGER NOT NULL);"
    "CREATE INDEX sessions_user ON sessions (user);"
    "CREATE TRIGGER users_deleted AFTER DELETE ON users BEGIN"
    "  DELETE FROM sessions WHERE user = old.name; END;"
    "CREATE TRIGGER users_rehashed AFTER UPDATE OF hash ON users BEGIN"
    "  DELETE FROM sessions WHERE user = old.name; END;"
    "CREATE TABLE audit ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT, ts INTEGER NOT NULL,"
    "  user TEXT, role TEXT, action TEXT NOT NULL, target TEXT, detail TEXT, ip TEXT,"
    "  hash TEXT NOT NULL);"
    "CREATE INDEX audit_ts ON audit (ts);"
    "CREATE TABLE audit_anchor (one INTEGER PRIMARY KEY CHECK (one = 1),"
    "  id INTEGER NOT NULL, hash TEXT NOT NULL);",
    /* 4 -> 5: escalation (CONTRACT §8): an alert's escalated_at (NULL until then;
     * written with its notification, so a restart neither loses nor repeats
     * it), and a notification's destination (webhook.h): 0 [alerts] webhook,
     * 1 [alerts] escalate_webhook. Rows of one alert are sent in order per
     * destination, so the index leads with (alert, dest). */
    "ALTER TABLE alerts ADD COLUMN escalated_at INTEGER;"
    "ALTER TABLE webhook_outbox ADD COLUMN dest INTEGER NOT NULL DEFAULT 0;"
    "DROP INDEX webhook_outbox_alert;"
    "CREATE INDEX webhook_outbox_alert ON webhook_outbox (alert, dest, id);",
    /* 5 -> 6: CONTRACT §7 (federation.h). fed_states: every STATE a hub
     * took, unique by (region, generated_at) so a redelivered one changes
     * nothing (INSERT OR IGNORE keeps the arrival of the first copy); a
     * rowid table, as its rows (a payload of ~10 KB) are too large for a
     * WITHOUT ROWID key (measured: 17 against 11 KiB a state). The
     * summary columns (progress, health, dims: {"governance":P,...}) are
     * worked out once on arrival, for /regions/<id>/history and the
     * evaluations without parsing each payload again. evaluations: each
     * whole EVALUATION as created; never updated. */
    "CREATE TABLE fed_states ("
    "  id INTEGER PRIMARY KEY, region TEXT NOT NULL, generated_at INTEGER NOT NULL,"
    "  arrival INTEGER NOT NULL," /* ms: its first copy's */
    "  payload TEXT NOT NULL, progress REAL, health TEXT, dims TEXT NOT NULL,"
    "  UNIQUE (region, generated_at));"
    "CREATE TABLE evaluations ("
    "  id INTEGER PRIMARY KEY, name TEXT NOT NULL, as_of INTEGER NOT NULL,"
    "  created_at INTEGER NOT NULL, created_by TEXT NOT NULL, body TEXT NOT NULL);"
    "CREATE INDEX evaluations_as_of ON evaluations (as_of);",
    /* 6 -> 7: issue 20's layout (chunkstore.h): samples rest in chunk rows,
     * one series' samples of one clock hour compressed, with their
     * aggregate. The rows are made from `samples` and the rollups by
     * store_convert (store.c) after this migration, a batch of series per
     * transaction, resumably: 'convert_next' is the next series id to
     * convert, and goes once everything is converted, counted and the old
     * tables dropped. */
    "CREATE TABLE chunks ("
    "  series INTEGER NOT NULL, start INTEGER NOT NULL," /* start: its first ts */
    "  n INTEGER NOT NULL, sum_value REAL NOT NULL, min_value REAL NOT NULL,"
    "  max_value REAL NOT NULL, last_ts INTEGER NOT NULL, last_value REAL NOT NULL,"
    "  data BLOB," /* chunk.h's encoding; NULL past the raw retention */
    "  PRIMARY KEY (series, start)) WITHOUT ROWID;"
    "INSERT OR REPLACE INTO store_meta (key, value) VALUES ('convert_next', 0);",
};

const int schema_version = (int)(sizeof schema_migrations / sizeof schema_migrations[0]);
