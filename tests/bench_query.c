/* bench_query.c — figures, not pass/fail (make bench):
 *   1. ingest: store_append throughput with and without rollup maintenance,
 *      1000 series interleaved and 10 series, samples in order (live or a
 *      backlog drain) and all behind the rollup watermark (a replay: the
 *      worst case, every commit rewrites its buckets);
 *   2. a year of one series at 1-minute resolution (525,600 samples) asked
 *      for as points=1000, and other shapes, against SQL over raw samples;
 *   3. retention: pruning that year to 90 days in bounded batches;
 *   4. CSV export of 1,000,000 rows in bounded chunks: rate and memory.
 * BENCH_QUERY_SCALE (default 1) scales the ingest sample counts. */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <unistd.h>

#include "harness.h"
#include "log.h"
#include "query.h"
#include "agg.h"
#include "store.h"
#include "util.h"

#define MIN  INT64_C(60000)
#define HOUR INT64_C(3600000)
#define DAY  INT64_C(86400000)

static double scale = 1;
static char path_buf[512];

static const char *db_file(const char *name)
{
    snprintf(path_buf, sizeof path_buf, "%s/%s.db", harness_tmpdir(), name);
    unlink(path_buf);
    return path_buf;
}

static double seconds_since(uint64_t t0)
{
    return (double)(util_mono_ns() - t0) / 1e9;
}

static long max_rss_kb(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

/* Resident set now (KiB), from /proc/self/statm. */
static long rss_kb(void)
{
    long pages = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &resident) != 2)
            resident = 0;
        fclose(f);
    }
    return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

/* ---- 1. ingest ---------------------------------------------------------- */

static char labels[1000][32];

/* Appends n samples round-robin over n_series, one per series per second
 * from `start`, committing every `group` samples. Returns samples/s. */
static double ingest(const char *path, int n_series, long n, int group, bool rollups, int64_t start,
                     bool late)
{
    struct store *s;
    if (store_open(&s, path) != 0)
        return 0;
    (void)rollups; /* chunk rows are the rollups now (issue 20) */
    if (late) {    /* a newer sample first: W moves ahead of everything below */
        struct sample x = {.program = "bench",
                           .unit = "clock",
                           .metric = "tick",
                           .labels_json = "{}",
                           .ts = util_now_ms() - MIN,
                           .value = 0};
        store_append(s, &x, x.ts, NULL);
        store_commit(s);
    }
    uint64_t t0 = util_mono_ns();
    for (long i = 0; i < n; i++) {
        struct sample x = {.program = "simas-bapokting",
                           .unit = "pasar-bandar-jaya",
                           .metric = "price",
                           .labels_json = labels[i % n_series],
                           .ts = start + (i / n_series) * 1000,
                           .value = (double)(i % 9973) / 4};
        store_append(s, &x, x.ts, NULL);
        if (i % group == group - 1)
            store_commit(s);
    }
    store_commit(s);
    double rate = (double)n / seconds_since(t0);
    store_close(s);
    return rate;
}

/* Off and on alternate, best of 3 each: the machine is shared, and noise
 * only ever slows a run down. */
static void bench_ingest(void)
{
    for (int i = 0; i < 1000; i++)
        snprintf(labels[i], sizeof labels[i], "{\"commodity\":\"c%03d\"}", i);
    static const struct {
        int series;
        bool late;
        const char *what;
    } runs[] = {
        {1000, false, "1000 series interleaved, in order"},
        {10, false, "10 series, in order"},
        {1000, true, "1000 series interleaved, all late"},
        {10, true, "10 series, all late"},
    };
    long n = (long)(500000 * scale);
    printf("ingest: store_append, %ld samples, 1000 per transaction, 1 s apart per series; "
           "best of 3\n",
           n);
    printf("  %-38s %12s %12s %8s\n", "", "no rollups", "rollups", "cost");
    for (size_t r = 0; r < sizeof runs / sizeof runs[0]; r++) {
        double best[2] = {0, 0};
        for (int rep = 0; rep < 6; rep++) {
            int64_t start = util_now_ms() - 30 * DAY; /* in the past: W follows the data */
            double rate =
                ingest(db_file("ingest"), runs[r].series, n, 1000, rep % 2, start, runs[r].late);
            best[rep % 2] = rate > best[rep % 2] ? rate : best[rep % 2];
        }
        printf("  %-38s %10.0f/s %10.0f/s %7.1f%%\n", runs[r].what, best[0], best[1],
               100 * (1 - best[1] / best[0]));
    }
}

/* ---- 2. a year at 1-minute resolution ------------------------------------ */

static int count_point(void *ctx, int64_t ts, double v)
{
    (*(long *)ctx)++;
    return 0;
}

/* Best and median of `reps` runs of one query, in ms. */
static void time_query(struct query_db *q, const char *what, const struct query_req *req)
{
    enum { REPS = 21 };
    double t[REPS];
    long points = 0;
    int64_t step = 0;
    for (int i = 0; i < REPS; i++) {
        points = 0;
        struct query_sink sink = {&points, NULL, count_point, NULL};
        uint64_t t0 = util_mono_ns();
        if (query_run(q, req, &sink, &step) != QUERY_OK)
            printf("  %s: failed: %s\n", what, query_error(q));
        t[i] = seconds_since(t0) * 1000;
    }
    for (int i = 1; i < REPS; i++) /* insertion sort: 21 values */
        for (int j = i; j > 0 && t[j] < t[j - 1]; j--) {
            double x = t[j];
            t[j] = t[j - 1];
            t[j - 1] = x;
        }
    printf("  %-44s %7ld points (step %9lld ms)  best %7.2f ms  median %7.2f ms\n", what, points,
           (long long)step, t[0], t[REPS / 2]);
}

/* The same buckets by SQL over the raw samples: what rollups save. */
static void run_year_queries(struct query_db *q, const char *path, int64_t from, int64_t to)
{
    struct query_req req = {.filter = {.program = "pjs", .metric = "pickups"},
                            .from = from,
                            .to = to,
                            .points = 1000,
                            .agg = QUERY_AVG};
    time_query(q, "year, points=1000, avg", &req);
    req.agg = QUERY_MAX;
    req.points = 0;
    req.step = DAY;
    req.tz_offset_ms = 7 * HOUR;
    time_query(q, "year, step=1d tz=+07:00, max", &req);
    req.agg = QUERY_LAST;
    req.step = HOUR;
    time_query(q, "year, step=1h tz=+07:00, last", &req);
    /* Half-hour offsets: UTC hour rows do not fit these buckets. */
    req.tz_offset_ms = -(3 * HOUR + 30 * MIN);
    time_query(q, "year, step=1h tz=-03:30, last", &req);
    req.step = 0;
    req.points = 1000;
    time_query(q, "year, points=1000 tz=-03:30, last", &req);
    req.tz_offset_ms = 0;
    req.from = to - DAY + 1;
    time_query(q, "last 24 h, points=1000 (2-min buckets)", &req);
    req.points = 0;
    time_query(q, "last 24 h, raw samples", &req);
}

static void bench_year(void)
{
    const char *path = db_file("year");
    struct store *s;
    if (store_open(&s, path) != 0)
        return;
    int64_t to = rollup_floor(util_now_ms(), MIN), from = to - 365 * DAY;
    uint64_t t0 = util_mono_ns();
    long n = 0;
    for (int64_t ts = from; ts < to; ts += MIN, n++) {
        struct sample x = {.program = "pjs",
                           .unit = "truck-07",
                           .metric = "pickups",
                           .labels_json = "{}",
                           .ts = ts,
                           .value = (double)(n % 97)};
        store_append(s, &x, ts, NULL);
        if (n % 1000 == 999)
            store_commit(s);
    }
    store_commit(s);
    printf("\nyear of one series at 1-minute resolution: %ld samples stored in %.2f s\n", n,
           seconds_since(t0));
    struct query_db *q;
    if (query_open(&q, path, NULL) != 0) {
        store_close(s);
        return;
    }
    run_year_queries(q, path, from, to - 1);

    /* 3. retention to 90 days, in bounded batches as the loop would run it. */
    t0 = util_mono_ns();
    double worst = 0;
    long deleted = 0, calls = 0;
    int d;
    do {
        uint64_t c0 = util_mono_ns();
        d = store_prune(s, to, 90, 10000);
        double ms = seconds_since(c0) * 1000;
        worst = ms > worst ? ms : worst;
        deleted += d > 0 ? d : 0;
        calls++;
    } while (d == 10000);
    printf("\nretention (90 days, 10000 rows per call): %ld rows in %ld calls, %.2f s; slowest "
           "call %.1f ms\n",
           deleted, calls, seconds_since(t0), worst);
    printf("after pruning (older ranges from rollups):\n");
    run_year_queries(q, path, from, to - 1);
    query_close(q);
    store_close(s);
}

/* ---- 4. CSV export -------------------------------------------------------- */

struct csv {
    FILE *out;
    char buf[1 << 16];
    size_t len;
    long rows;
};

static void csv_flush(struct csv *c)
{
    fwrite(c->buf, 1, c->len, c->out);
    c->len = 0;
}

/* Shortest of %.15g / %.17g that reads back as the same double. */
static int format_value(char *out, size_t cap, double v)
{
    int n = snprintf(out, cap, "%.15g", v);
    if (strtod(out, NULL) != v)
        n = snprintf(out, cap, "%.17g", v);
    return n;
}

/* One RFC 4180 line: labels JSON in a quoted field, quotes doubled. */
static int csv_row(void *ctx, const struct query_series *s, int64_t ts, double v)
{
    struct csv *c = ctx;
    if (c->len > sizeof c->buf - 4096)
        csv_flush(c);
    char *p = c->buf + c->len, *end = c->buf + sizeof c->buf;
    p += snprintf(p, (size_t)(end - p), "%lld,%s,%s,%s,\"", (long long)ts, s->program, s->unit,
                  s->metric);
    for (const char *l = s->labels_json; *l && p < end - 8; l++) {
        if (*l == '"')
            *p++ = '"';
        *p++ = *l;
    }
    *p++ = '"';
    *p++ = ',';
    p += format_value(p, (size_t)(end - p), v);
    *p++ = '\r';
    *p++ = '\n';
    c->len = (size_t)(p - c->buf);
    c->rows++;
    return 0;
}

/* Retention over 1000 series: half of each series' rows, then a pass with
 * nothing to delete (the per-series visits alone). */
static void bench_prune_many(const char *path, int64_t start)
{
    struct store *s;
    if (store_open(&s, path) != 0)
        return;
    for (int pass = 0; pass < 2; pass++) {
        double worst = 0;
        long deleted = 0, calls = 0;
        uint64_t t0 = util_mono_ns();
        int d;
        do {
            uint64_t c0 = util_mono_ns();
            d = store_prune(s, start + 500 * 1000 + DAY, 1, 10000);
            double ms = seconds_since(c0) * 1000;
            worst = ms > worst ? ms : worst;
            deleted += d > 0 ? d : 0;
            calls++;
        } while (d > 0 || calls < 2); /* the second call finds nothing, or ends a pass */
        printf("retention over 1000 series (10000 rows per call): %ld rows in %ld calls, %.2f s;"
               " slowest call %.1f ms\n",
               deleted, calls, seconds_since(t0), worst);
    }
    store_close(s);
}

static void bench_export(void)
{
    const char *path = db_file("export");
    struct store *s;
    if (store_open(&s, path) != 0)
        return;
    int64_t start = util_now_ms() - 10 * DAY;
    for (long i = 0; i < 1000000; i++) {
        struct sample x = {.program = "simas-bapokting",
                           .unit = "pasar-bandar-jaya",
                           .metric = "price",
                           .labels_json = labels[i % 1000],
                           .ts = start + (i / 1000) * 1000,
                           .value = 14500 + (double)(i % 977) / 8};
        store_append(s, &x, x.ts, NULL);
        if (i % 5000 == 4999)
            store_commit(s);
    }
    store_close(s);
    struct query_db *q;
    if (query_open(&q, path, NULL) != 0)
        return;
    struct csv *c = calloc(1, sizeof *c);
    if (!c || !(c->out = fopen("/dev/null", "w"))) {
        free(c);
        query_close(q);
        return;
    }
    long rss0 = rss_kb(), max0 = max_rss_kb(), chunks = 0;
    struct query_filter f = {.program = "simas-bapokting", .metric = "price"};
    struct query_export_cursor cur = {0};
    uint64_t t0 = util_mono_ns();
    while (query_export_chunk(q, &f, start, start + DAY, &cur, 10000, csv_row, c) > 0)
        chunks++;
    csv_flush(c);
    double secs = seconds_since(t0);
    printf("\nCSV export to /dev/null: %ld rows in %ld chunks of <= 10000 rows: %.2f s, "
           "%.0f rows/s\n  RSS before %ld KiB, after %ld KiB (peak before %ld, after %ld)\n",
           c->rows, chunks, secs, (double)c->rows / secs, rss0, rss_kb(), max0, max_rss_kb());
    fclose(c->out);
    free(c);
    query_close(q);
    bench_prune_many(path, start);
}

int main(void)
{
    const char *sc = getenv("BENCH_QUERY_SCALE");
    if (sc && atof(sc) > 0)
        scale = atof(sc);
    log_set_level(LOG_LVL_WARN);
    printf("pantau bench_query: SQLite %s, %ld cores\n\n", sqlite3_libversion(),
           sysconf(_SC_NPROCESSORS_ONLN));
    bench_ingest();
    bench_year();
    bench_export();
    return 0;
}
