/* chunkstore.h — the `chunks` table: where samples rest once the head
 * (head.h) lets them go.
 *
 * A row holds up to CHUNKSTORE_MAX_POINTS samples of one series, all within
 * one clock hour, compressed (chunk.h), with their aggregate:
 *   chunks (series, start = ts of its first sample) WITHOUT ROWID:
 *       n, sum_value, min_value, max_value, last_ts, last_value, data
 * So an hour of a series is the rows whose start lies in it, and its
 * aggregate the merge of theirs: the rows are the hour rollup, and a minute
 * or a ragged edge is read by decoding (tens of ns a sample) instead of a
 * rollup table of its own. Past the raw retention a row keeps its aggregate
 * and loses its data (data NULL): the hour stays answerable, its samples
 * are gone.
 *
 * Writing an hour merges: the hour's rows are read, decoded, merged with
 * the new points (a new point wins an equal ts: a replacement), deleted,
 * and written again as few rows as the merge needs. Rows without data
 * (past retention) are left alone; points for such an hour are added as
 * rows of their own (a replacement there is counted twice — the samples
 * it would replace are gone).
 *
 * Threads: a struct chunkstore is one connection's statements and scratch:
 * the writer's (loop thread, inside the store's transaction) or a reader's
 * (a query worker, inside its read transaction). */
#ifndef PANTAU_CHUNKSTORE_H
#define PANTAU_CHUNKSTORE_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agg.h"
#include "chunk.h"

/* A chunk's samples at most: a 1 Hz series' hour is one row. */
#define CHUNKSTORE_MAX_POINTS 4096

struct chunkstore;

/* Prepares the statements on db (schema >= 7). 0, or -1 (logged). */
int chunkstore_open(struct chunkstore **out, sqlite3 *db);
void chunkstore_close(struct chunkstore *c); /* NULL is a no-op */

/* Writer: merges pts[0, n) (ts strictly increasing, all in one clock hour)
 * into that hour's rows of series. Returns 0, or -1 (SQLite's error kept
 * on the connection; logged by the caller). */
int chunkstore_put_hour(struct chunkstore *c, int64_t series, const struct chunk_point *pts,
                        size_t n);

/* One row, as a reader sees it (data valid during the callback; NULL
 * past retention). */
struct chunkstore_row {
    int64_t start;
    struct rollup_agg agg; /* count, sum, min, max, last, last_ts */
    const uint8_t *data;
    size_t len;
};
/* Reader: calls fn for each row of series with start in [from, to), in
 * start order, until fn returns non-zero (that value is returned). Returns
 * 0, or -1 on a SQLite error. */
int chunkstore_each(struct chunkstore *c, int64_t series, int64_t from, int64_t to,
                    int (*fn)(void *ctx, const struct chunkstore_row *row), void *ctx);
/* Decodes a row's data into c's scratch; *out valid until the next call on
 * c. Returns the number of points, or -1 (damaged: logged once per row). */
long chunkstore_decode(struct chunkstore *c, const struct chunkstore_row *row,
                       const struct chunk_point **out);

/* Writer, in a transaction of the caller's: drops the data (keeps the
 * aggregate) of at most max_rows rows of series with start < before.
 * Returns rows changed or -1. */
int chunkstore_prune(struct chunkstore *c, int64_t series, int64_t before, int max_rows);

/* The aggregate of pts[0, n). */
void chunkstore_agg(const struct chunk_point *pts, size_t n, struct rollup_agg *out);

#endif
