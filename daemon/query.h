/* query.h — the read side of the store (CONTRACT §2: /series, /query,
 * /export.csv), on a read-only SQLite connection of its own.
 *
 * Thread-agnostic: no globals. A struct query_db is one connection and may be
 * used by one thread at a time; give each worker thread (uv_queue_work) its
 * own, or open one per request. WAL lets it read beside the writer; every call
 * reads one consistent snapshot (one read transaction), and a long query
 * never blocks ingest. Results stream through callbacks, so a caller can write
 * JSON or CSV incrementally; every string handed to a callback is valid only
 * during that call.
 *
 * Buckets (with a step): bucket starts are the multiples of step counted from
 * the epoch shifted by tz_offset_ms (tz +07:00 -> day buckets start at local
 * midnight); a bucket's ts is its start; each bucket aggregates exactly the
 * samples that lie in it AND in [from, to] (edge buckets are partial); empty
 * buckets are left out; `last` is the sample with the latest ts.
 *
 * How it is answered (issue 20): a series' samples are its chunk rows
 * (chunkstore.h: an hour at most each, compressed, with its aggregate)
 * merged with its points in the head (head.h: what the store has not yet
 * written as rows; the head wins a ts both hold). A row that lies wholly in
 * one bucket, with no head point among its samples, counts as its
 * aggregate; any other is decoded. The result is what a computation over
 * the raw samples gives (sums may differ in the last bits: the additions
 * happen in another order). Past the raw retention a row keeps its
 * aggregate alone: there it belongs to the bucket holding its start (the
 * edges snap to whole rows), and raw reads return what retention left.
 *
 * Series of a result are ordered by (program, unit, metric, labels); a series
 * that matches but has no sample in the range is still reported (no points). */
#ifndef PANTAU_QUERY_H
#define PANTAU_QUERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define QUERY_MAX_LABELS 8
/* Accepted range of from/to (about ±31,000 years): keeps bucket math exact. */
#define QUERY_TS_LIMIT INT64_C(1000000000000000)

enum query_agg { QUERY_AVG, QUERY_MIN, QUERY_MAX, QUERY_SUM, QUERY_COUNT, QUERY_LAST };

/* "avg", "min", "max", "sum", "count", "last" -> *out. Returns 0 or -1. */
int query_agg_parse(const char *name, enum query_agg *out);
const char *query_agg_name(enum query_agg agg);

/* Results of the calls below. QUERY_EINVAL: the request is wrong (HTTP 400;
 * query_error says why); QUERY_EDB: the database failed (500); QUERY_EABORT:
 * a callback returned non-zero. */
enum query_status { QUERY_OK = 0, QUERY_EINVAL = -1, QUERY_EDB = -2, QUERY_EABORT = -3 };

struct query_label {
    const char *key, *value; /* key [a-z0-9_]{1,32} */
};

/* Which series: every given field must match exactly; NULL = any. Labels
 * listed must be present with that value (a series may have others). */
struct query_filter {
    const char *program, *unit, *metric;
    struct query_label labels[QUERY_MAX_LABELS];
    int n_labels;
};

struct query_req {
    struct query_filter filter;
    int64_t from, to;     /* epoch ms, both inclusive; from <= to */
    int64_t step;         /* bucket width in ms; 0: `points` decides */
    int points;           /* with step 0: at most this many buckets; both 0: raw */
    enum query_agg agg;   /* for buckets; ignored for raw samples */
    int64_t tz_offset_ms; /* +07:00 = 25200000; |tz| <= 24 h */
};

/* A series as reported (strings valid during the callback only). */
struct query_series {
    int64_t id;
    const char *program, *unit, *metric;
    const char *labels_json; /* canonical JSON object, e.g. {"doc":"ktp"} */
    bool has_last;           /* false: no sample yet */
    int64_t last_ts;
    double last_value;
};

/* Every callback returns 0 to go on, non-zero to stop (-> QUERY_EABORT). */
struct query_sink {
    void *ctx;
    int (*series_begin)(void *ctx, const struct query_series *s);
    int (*point)(void *ctx, int64_t ts, double value); /* in ts order */
    int (*series_end)(void *ctx, const struct query_series *s);
};

struct query_db;

/* Opens `path` read-only (the store must have created and migrated it),
 * reading the head too when head is not NULL (store_head: the store in this
 * process; it must outlive the query_db). Returns 0 and *out, or -1 with
 * the reason logged. */
struct head;
int query_open(struct query_db **out, const char *path, struct head *head);
void query_close(struct query_db *q); /* NULL is a no-op */

/* The connection itself, for other modules' read-only work on a pool
 * thread (the audit log's listing and verification, audit.h). */
struct sqlite3 *query_sqlite(struct query_db *q);

/* Why the last call on q failed (a sentence for a person), or "". */
const char *query_error(const struct query_db *q);

/* The step query_run uses for `points`: the smallest step giving at most
 * `points` buckets over [from, to] under tz alignment, rounded up to whole
 * seconds (< 1 min), minutes (< 1 h) or hours so rollups can serve it.
 * 0 when points <= 0 or to < from. */
int64_t query_pick_step(int64_t from, int64_t to, int points, int64_t tz_offset_ms);

/* Runs a query: per matching series, series_begin, its points (raw samples,
 * or buckets ts = start, value = agg), series_end. *step_used (may be NULL)
 * gets the bucket width used (0 = raw). Returns a query_status. */
int query_run(struct query_db *q, const struct query_req *req, const struct query_sink *sink,
              int64_t *step_used);

/* GET /series: calls fn for each matching series with its last sample.
 * Returns a query_status. */
int query_series_list(struct query_db *q, const struct query_filter *f,
                      int (*fn)(void *ctx, const struct query_series *s), void *ctx);

/* The aggregate of each series' samples with ts in [from[i], to[i]] (inclusive;
 * from may be INT64_MIN and to INT64_MAX for all time), answered like one
 * bucket of query_run: whole hours and minutes from the rollups, raw samples
 * for the edges. out[i] belongs to series[i]; a series with no sample in its
 * range (or unknown) gets an empty aggregate. One read transaction: a
 * consistent snapshot. Returns a query_status. */
struct rollup_agg;
int query_aggregate(struct query_db *q, const int64_t *series, const int64_t *from,
                    const int64_t *to, size_t n, struct rollup_agg *out);

/* ---- answers in chunks (each its own read transaction) ----
 *
 * A large answer is read in pieces as the client takes it, so that a client
 * that does not read holds one piece, not the answer. A chunk call goes on
 * from where the cursor stands until a callback returns QUERY_SINK_FULL
 * (that item was taken: the next call goes on after it) or everything is
 * read (cursor->done). Rows committed between chunks may or may not be
 * seen (as with the export); nothing is delivered twice or skipped that
 * stayed in place. Series come in (program, unit, metric, labels) order. */
#define QUERY_SINK_FULL 2
struct query_cursor {
    bool started, done;
    bool in_series;      /* query: the last series was begun, its end not given */
    int64_t resume_from; /* ... its points go on from this ts (INT64_MIN: from) */
    char *key[4];        /* program, unit, metric, labels of that series; owned */
};
void query_cursor_free(struct query_cursor *c); /* its strings; the struct is the caller's */
/* GET /series: fn per matching series after the cursor. */
int query_series_chunk(struct query_db *q, const struct query_filter *f, struct query_cursor *cur,
                       int (*fn)(void *ctx, const struct query_series *s), void *ctx);
/* query_run in pieces: the same calls, in the same order, over the calls
 * until the cursor is done (series_begin of a series once, in the chunk
 * that starts it). */
int query_run_chunk(struct query_db *q, const struct query_req *req, struct query_cursor *cur,
                    const struct query_sink *sink, int64_t *step_used);
/* Raw samples of the matching series in [from, to], counted up to limit + 1
 * (a raw answer's cap is checked before it is streamed). */
int query_count_raw(struct query_db *q, const struct query_filter *f, int64_t from, int64_t to,
                    int64_t limit, int64_t *out);

/* The evaluation report's read (kpi_engine, on a worker): for each series
 * matching f, in one read transaction (one snapshot), keep(ctx, s) says
 * whether it counts; if so its aggregate over [from, to] (as query_aggregate
 * reads it) goes to add(ctx, s, agg). Memory does not grow with the number
 * of series. A non-zero add stops (QUERY_EABORT). Returns a query_status. */
struct query_aggregate_sink {
    void *ctx;
    bool (*keep)(void *ctx, const struct query_series *s);
    int (*add)(void *ctx, const struct query_series *s, const struct rollup_agg *agg);
};
int query_series_aggregate(struct query_db *q, const struct query_filter *f, int64_t from,
                           int64_t to, const struct query_aggregate_sink *sink);

/* Export of raw samples in bounded chunks with flat memory: each call reads
 * at most max_rows rows after the cursor (series id, then ts order), in a
 * read transaction of its own (so the WAL can checkpoint between chunks),
 * calls fn per row, and moves the cursor past the last row delivered. Start
 * with a zeroed cursor; cursor->done once everything is read. Rows appended
 * behind the cursor meanwhile are not seen; each stored row is delivered at
 * most once. Returns rows delivered (>= 0) or a negative query_status. */
struct query_export_cursor {
    int64_t series, ts; /* the last row delivered */
    bool started, done;
};
int query_export_chunk(struct query_db *q, const struct query_filter *f, int64_t from, int64_t to,
                       struct query_export_cursor *cursor, int max_rows,
                       int (*fn)(void *ctx, const struct query_series *s, int64_t ts, double value),
                       void *ctx);

#endif
