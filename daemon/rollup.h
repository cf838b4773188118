/* rollup.h — 1-minute and 1-hour rollups of every series, kept exact as
 * samples commit, plus the retention horizons that say which table can answer
 * which time range. Used by the store (write side, loop thread only) and by
 * query.c (read side: the aggregate type, the horizons, the table layout).
 *
 * Tables (schema version 2; their SQL is in schema.c):
 *   rollup_1m, rollup_1h (series, ts = bucket start) WITHOUT ROWID:
 *       min_value, max_value, sum_value, n, last_value, last_ts
 *       (last = the sample with the latest ts in the bucket)
 *   store_meta (key, value): the horizons below, as integers.
 *
 * Horizons (all epoch ms; together they describe one consistent snapshot):
 *   watermark W  (minute-aligned): every sample with ts < W is in the rollup
 *       tables; samples with ts >= W are only in `samples` (their buckets are
 *       accumulated in memory and written when W passes them). W follows the
 *       newest committed ts (capped by the wall clock) minus ROLLUP_LAG_MS,
 *       so live data is rolled up once per minute instead of once per
 *       transaction: the write cost is one minute row and one hour merge per
 *       series per minute, not per commit. A sample older than W (a late or
 *       replayed one) is merged into its buckets in the same transaction.
 *       An hour row is complete when its hour ends at or before W.
 *   raw floor RF (minute-aligned): raw samples with ts >= RF are all present;
 *       below it retention may have deleted some. RF <= W.
 *   minute floor MF (hour-aligned): minute rows with ts >= MF are all present.
 *       MF <= RF. Hour rows are kept forever.
 *
 * Replacement (a sample whose (series, ts) exists): at or above RF the
 * bucket is recomputed from the raw samples at commit (exact). Below RF the
 * raw neighbours may be gone, so the change is applied as a delta: sum, count
 * and last stay exact; min/max may keep the replaced value's extreme. A
 * sample older than the raw horizon still updates its minute and hour rows
 * (the raw row is deleted by the next prune). */
#ifndef PANTAU_ROLLUP_H
#define PANTAU_ROLLUP_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>

#include "agg.h"

/* How far W trails the newest committed ts: a unit whose clock or link lags
 * by less than this still takes the cheap (deferred) path. */
#define ROLLUP_LAG_MS (2 * ROLLUP_MINUTE_MS)
/* Minute rows are kept at least this long (and never less than raw). */
#define ROLLUP_MINUTE_RETENTION_DAYS 400

struct rollup_horizons {
    int64_t watermark, raw_floor, minute_floor;
};

/* Reads the horizons from store_meta (inside the caller's transaction for a
 * consistent snapshot). Returns 0 or -1 (logged). */
int rollup_read_horizons(sqlite3 *db, struct rollup_horizons *out);

/* --- write side: owned by the store, loop thread only ------------------- */

struct rollup;

/* Prepares statements on the store's connection (schema >= 2) and loads the
 * in-memory state: horizons, newest ts, and the buckets at or above W rebuilt
 * from raw samples. Returns 0 or -1. */
int rollup_open(struct rollup **out, sqlite3 *db);
/* Finalizes statements (before the connection closes). NULL is a no-op. */
void rollup_close(struct rollup *r);

/* A sample was inserted (its (series, ts) was new) in the open transaction.
 * Returns 0, or -1 when out of memory: the rollup then refuses to flush, so
 * the store rolls the group back rather than commit wrong rollups. */
int rollup_add(struct rollup *r, int64_t series, int64_t ts, double value);
/* A sample replaced an existing one holding old_value. Returns 0 or -1. */
int rollup_replace(struct rollup *r, int64_t series, int64_t ts, double old_value, double value);

/* Inside the open transaction, just before COMMIT: writes the buckets of late
 * samples, advances W (given the wall clock now_ms) and writes the buckets it
 * passed. Returns 0 or -1 (the caller must roll back, then rollup_reload). */
int rollup_flush(struct rollup *r, int64_t now_ms);
/* The transaction that rollup_flush wrote into committed. */
void rollup_committed(struct rollup *r);
/* The transaction rolled back: forget everything in memory and rebuild it
 * from the database. Returns 0 or -1. */
int rollup_reload(struct rollup *r);

/* Retention, in its own transaction (no group may be open): deletes raw
 * samples older than retention_days (never at or above W) and minute rows
 * older than max(retention_days, ROLLUP_MINUTE_RETENTION_DAYS), at most
 * max_rows rows per call, visiting a bounded number of series, so the loop
 * never stalls; call again while it returns max_rows. Moves RF and MF first.
 * Returns rows deleted or -1. */
int rollup_prune(struct rollup *r, int64_t now_ms, int retention_days, int max_rows);

#endif
