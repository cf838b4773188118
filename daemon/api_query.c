/* api_query.c — GET /api/v1/query and /api/v1/export.csv (CONTRACT §2).
 * Parameters are checked on the loop; the database work runs on a worker
 * thread (query_pool) so a long query or export never stalls ingest. */
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "log.h"
#include "parse.h"
#include "query_pool.h"
#include "util.h"

#define DAY_MS         (24LL * 3600 * 1000)
#define RAW_POINTS_MAX 500000 /* raw samples in one JSON answer; more needs step */
#define POINTS_MAX     100000
#define EXPORT_CHUNK   5000 /* rows per worker round trip of an export */

/* The checked parameters of either endpoint. */
struct query_params {
    struct query_req req;
};

/* "+07:00" / "-03:30" -> ms. */
static int parse_tz(const char *s, int64_t *out)
{
    int64_t h, m;
    char hh[3] = {0}, mm[3] = {0};
    if (strlen(s) != 6 || (s[0] != '+' && s[0] != '-') || s[3] != ':')
        return -1;
    memcpy(hh, s + 1, 2);
    memcpy(mm, s + 4, 2);
    if (util_parse_int(hh, 0, 23, &h) || util_parse_int(mm, 0, 59, &m))
        return -1;
    *out = (s[0] == '-' ? -1 : 1) * (h * 3600 + m * 60) * 1000;
    return 0;
}

/* Records the first bad parameter; always false, for `return bad_arg(...)`. */
static bool bad_arg(struct api_bad *b, const char *param, const char *why)
{
    b->param = param;
    b->why = why;
    return false;
}

static bool bad(struct http_request *r, const char *param, const char *why)
{
    http_reply_error(r, 400, "bad_parameter", "%s: %s", param, why);
    return false;
}

static bool read_filter(const struct http_request *r, struct query_filter *f,
                        bool need_program_metric, struct api_bad *b)
{
    static const char *const slugs[] = {"program", "unit", "metric"};
    const char **fields[] = {&f->program, &f->unit, &f->metric};
    for (int i = 0; i < 3; i++) {
        const char *v = http_arg(r, slugs[i]);
        if (v && !util_is_slug(v, strlen(v)))
            return bad_arg(b, slugs[i], "must be a slug ([a-z0-9][a-z0-9_-]{0,63})");
        *fields[i] = v;
    }
    if (need_program_metric && !f->program)
        return bad_arg(b, "program", "required");
    if (need_program_metric && !f->metric)
        return bad_arg(b, "metric", "required");
    for (int i = 0; i < r->n_args; i++) {
        const struct http_arg *a = &r->args[i];
        if (strncmp(a->name, "label.", 6) != 0)
            continue;
        if (!util_is_label_key(a->name + 6))
            return bad_arg(b, a->name, "label keys are [a-z0-9_]{1,32}");
        size_t vlen = strlen(a->value);
        if (vlen == 0 || vlen > 64)
            return bad_arg(b, a->name, "label values are 1-64 bytes");
        if (f->n_labels == QUERY_MAX_LABELS)
            return bad_arg(b, a->name, "at most 8 label filters");
        f->labels[f->n_labels++] = (struct query_label){a->name + 6, a->value};
    }
    return true;
}

/* A form-decoded query string turns a literal '+' into a space, so
 * "tz=+07:00" or "from=...T08:15:00+07:00" as written in CONTRACT §2 arrive
 * with a space, which is never valid there: read it as the '+' it was. */
const char *api_time_arg(const struct http_request *r, const char *name, char *buf, size_t len)
{
    const char *v = http_arg(r, name);
    if (!v || !strchr(v, ' '))
        return v;
    snprintf(buf, len, "%s", v);
    for (char *p = buf; (p = strchr(p, ' ')) != NULL; p++)
        *p = '+';
    return buf;
}

static bool parse_range(const struct http_request *r, int64_t now_ms, int64_t *from_ms,
                        int64_t *to_ms, struct api_bad *b)
{
    char from_buf[64], to_buf[64];
    const char *from = api_time_arg(r, "from", from_buf, sizeof from_buf);
    const char *to = api_time_arg(r, "to", to_buf, sizeof to_buf);
    *to_ms = now_ms;
    if (to &&
        (parse_time_param(to, to_ms) != 0 || *to_ms < -QUERY_TS_LIMIT || *to_ms > QUERY_TS_LIMIT))
        return bad_arg(b, "to", "epoch milliseconds or RFC 3339 with offset");
    *from_ms = *to_ms - DAY_MS;
    if (from && (parse_time_param(from, from_ms) != 0 || *from_ms < -QUERY_TS_LIMIT ||
                 *from_ms > QUERY_TS_LIMIT))
        return bad_arg(b, "from", "epoch milliseconds or RFC 3339 with offset");
    if (*from_ms > *to_ms)
        return bad_arg(b, "from", "must not be after to");
    return true;
}

bool api_read_range(struct http_request *r, int64_t *from_ms, int64_t *to_ms)
{
    struct api_bad b;
    return parse_range(r, util_now_ms(), from_ms, to_ms, &b) || bad(r, b.param, b.why);
}

static bool read_buckets(const struct http_request *r, struct query_req *q, struct api_bad *b)
{
    const char *step = http_arg(r, "step"), *points = http_arg(r, "points");
    char tz_buf[16];
    const char *agg = http_arg(r, "agg"), *tz = api_time_arg(r, "tz", tz_buf, sizeof tz_buf);
    int64_t n;
    if (step && (util_parse_int(step, 1, 100LL * 366 * DAY_MS, &q->step) != 0))
        return bad_arg(b, "step", "a positive number of milliseconds");
    if (points) {
        if (util_parse_int(points, 1, POINTS_MAX, &n) != 0)
            return bad_arg(b, "points", "an integer from 1 to 100000");
        q->points = (int)n;
    }
    if (step && points)
        return bad_arg(b, "points", "give step or points, not both");
    q->agg = QUERY_AVG;
    if (agg) {
        if (query_agg_parse(agg, &q->agg) != 0)
            return bad_arg(b, "agg", "one of avg, min, max, sum, count, last");
        if (!step && !points)
            return bad_arg(b, "agg", "needs step or points");
    }
    if (tz && parse_tz(tz, &q->tz_offset_ms) != 0)
        return bad_arg(b, "tz", "an offset like +07:00");
    if (step && (q->to - q->from) / q->step > POINTS_MAX)
        return bad_arg(b, "step", "gives more than 100000 buckets over [from, to]");
    return true;
}

bool api_query_params(const struct http_request *r, int64_t now_ms, bool export,
                      struct query_req *q, struct api_bad *b)
{
    static const char *const bucket_args[] = {"step", "points", "agg", "tz"};
    *q = (struct query_req){0};
    if (export)
        for (size_t i = 0; i < sizeof bucket_args / sizeof bucket_args[0]; i++)
            if (http_arg(r, bucket_args[i]))
                return bad_arg(b, bucket_args[i],
                               "export.csv gives raw samples: no step, points, agg or tz");
    return read_filter(r, &q->filter, !export, b) && parse_range(r, now_ms, &q->from, &q->to, b) &&
           (export || read_buckets(r, q, b));
}

/* ---- GET /api/v1/query ---- */

/* The answer is read in chunks of about ANSWER_CHUNK bytes, each on a
 * worker when the previous one has been written: a small answer is one
 * chunk and goes out whole; a large one is streamed (chunked encoding) as
 * the client reads, so a client that does not read holds one chunk. */
struct query_call {
    struct query_job job;
    struct http_deferred *reply; /* until the answer starts */
    struct http_stream *stream;  /* once it streams */
    struct query_pool *pool;
    struct query_req req;
    char *strings; /* copies of the filter's strings (the request dies first) */
    struct query_cursor cursor;
    struct buf body; /* the chunk read last */
    bool started;    /* the answer's head is in body or out */
    bool counted;    /* a raw answer's samples were counted against the cap */
    int64_t raw_count;
    bool failed;     /* a chunk after the first failed: the stream is cut */
    int status;      /* query_status */
    char error[256]; /* query_error text */
    size_t n_points; /* in the answer so far */
    size_t n_in_series;
    size_t n_series;
    int64_t step_used;
    bool listing; /* GET /series: the series and their last samples */
};

static int chunk_room(const struct buf *b)
{
    return buf_failed(b) ? 1 : b->len >= API_ANSWER_CHUNK ? QUERY_SINK_FULL : 0;
}

static int on_series_begin(void *ctx, const struct query_series *s)
{
    struct query_call *c = ctx;
    struct buf *b = &c->body;
    buf_puts(b, c->n_series++ ? ",\n" : "\n");
    buf_json_series_head(b, s->program, s->unit, s->metric, s->labels_json);
    buf_puts(b, ",\"points\":[");
    c->n_in_series = 0;
    return chunk_room(b);
}

static int on_point(void *ctx, int64_t ts, double value)
{
    struct query_call *c = ctx;
    if (++c->n_points > RAW_POINTS_MAX && c->step_used == 0)
        return 1; /* raw samples added since they were counted */
    buf_printf(&c->body, "%s[%lld,", c->n_in_series++ ? "," : "", (long long)ts);
    buf_json_num(&c->body, value);
    buf_puts(&c->body, "]");
    return chunk_room(&c->body);
}

static int on_series_end(void *ctx, const struct query_series *s)
{
    struct query_call *c = ctx;
    buf_puts(&c->body, "]}");
    return chunk_room(&c->body);
}

/* One series of GET /series, as the store's cache listed it before. */
static int on_listed(void *ctx, const struct query_series *s)
{
    struct query_call *c = ctx;
    struct buf *b = &c->body;
    buf_puts(b, c->n_series++ ? ",\n" : "\n");
    buf_json_series_head(b, s->program, s->unit, s->metric, s->labels_json);
    buf_puts(b, ",\"last_ts\":");
    if (s->has_last) {
        buf_printf(b, "%lld,\"last_value\":", (long long)s->last_ts);
        buf_json_num(b, s->last_value);
    } else {
        buf_puts(b, "null,\"last_value\":null");
    }
    buf_puts(b, "}");
    return chunk_room(b);
}

static void run_listing(struct query_call *c, struct query_db *db)
{
    if (!c->started)
        buf_puts(&c->body, "{\"series\":[");
    c->status = query_series_chunk(db, &c->req.filter, &c->cursor, on_listed, c);
    snprintf(c->error, sizeof c->error, "%s", query_error(db));
    if (c->status == QUERY_OK && c->cursor.done)
        buf_puts(&c->body, "]}\n");
}

static bool is_raw(const struct query_req *q)
{
    return q->step == 0 && q->points == 0;
}

static void run_query(struct query_job *job, struct query_db *db)
{
    struct query_call *c = (struct query_call *)job;
    struct query_sink sink = {c, on_series_begin, on_point, on_series_end};
    c->error[0] = '\0';
    if (c->listing) {
        run_listing(c, db);
        return;
    }
    if (is_raw(&c->req) && !c->counted) {
        c->counted = true;
        c->status = query_count_raw(db, &c->req.filter, c->req.from, c->req.to, RAW_POINTS_MAX,
                                    &c->raw_count);
        if (c->status != QUERY_OK || c->raw_count > RAW_POINTS_MAX) {
            snprintf(c->error, sizeof c->error, "%s", query_error(db));
            return;
        }
    }
    if (!c->started)
        buf_puts(&c->body, "{\"series\":[");
    c->status = query_run_chunk(db, &c->req, &c->cursor, &sink, &c->step_used);
    snprintf(c->error, sizeof c->error, "%s", query_error(db));
    if (c->status == QUERY_OK && c->cursor.done)
        buf_printf(&c->body, "],\"step\":%lld}\n", (long long)c->step_used);
}

static void free_call(struct query_call *c)
{
    buf_free(&c->body);
    query_cursor_free(&c->cursor);
    free(c->strings);
    free(c);
}

static enum http_stream_step query_next(void *ctx, struct buf *out)
{
    struct query_call *c = ctx;
    if (c->body.len) {
        buf_append(out, c->body.data, c->body.len);
        buf_reset(&c->body);
        return HTTP_STREAM_MORE;
    }
    if (c->failed)
        return HTTP_STREAM_FAIL;
    if (c->cursor.done)
        return HTTP_STREAM_DONE;
    if (query_pool_submit(c->pool, &c->job) != 0)
        return HTTP_STREAM_FAIL;
    return HTTP_STREAM_LATER;
}

static void query_release(void *ctx)
{
    free_call(ctx);
}

static const struct http_stream_ops query_stream_ops = {query_next, query_release};

/* A later chunk is read: the stream goes on (or is cut when it failed). */
static void query_chunk_done(struct query_job *job)
{
    struct query_call *c = (struct query_call *)job;
    if (job->status != 0 || c->status != QUERY_OK || buf_failed(&c->body)) {
        log_warn("query: a chunk of a streamed answer failed: %s",
                 c->error[0] ? c->error : "database or memory");
        buf_reset(&c->body);
        c->failed = true;
    }
    http_stream_resume(c->stream);
}

/* The first chunk is read: a whole answer, an error, or the start of a
 * stream. */
static void query_done(struct query_job *job)
{
    struct query_call *c = (struct query_call *)job;
    c->started = true;
    if (job->status != 0) {
        http_deferred_reply_error(c->reply, 503, "unavailable", "the database cannot be read");
    } else if (c->raw_count > RAW_POINTS_MAX ||
               (c->status == QUERY_EABORT && c->n_points > RAW_POINTS_MAX)) {
        http_deferred_reply_error(c->reply, 400, "too_many_points",
                                  "more than %d samples; narrow [from, to] or use step or points",
                                  RAW_POINTS_MAX);
    } else if (c->status != QUERY_OK || buf_failed(&c->body)) {
        int code = c->status == QUERY_EINVAL ? 400 : 500;
        http_deferred_reply_error(c->reply, code, code == 400 ? "bad_query" : "internal", "%s",
                                  c->error[0] ? c->error : "the query failed");
    } else if (c->cursor.done) {
        http_deferred_reply(c->reply, 200, "application/json", &c->body);
    } else {
        c->job.done = query_chunk_done;
        c->stream = http_deferred_stream(c->reply, "application/json", &query_stream_ops, c);
        return; /* the stream owns c now */
    }
    free_call(c);
}

/* Copies the filter's strings into one allocation owned by the call. */
static int own_filter(struct query_filter *f, char **strings)
{
    const char **fields[3 + 2 * QUERY_MAX_LABELS];
    int n = 0;
    fields[n++] = &f->program;
    fields[n++] = &f->unit;
    fields[n++] = &f->metric;
    for (int i = 0; i < f->n_labels; i++) {
        fields[n++] = &f->labels[i].key;
        fields[n++] = &f->labels[i].value;
    }
    size_t size = 0;
    for (int i = 0; i < n; i++)
        size += *fields[i] ? strlen(*fields[i]) + 1 : 0;
    char *p = *strings = malloc(size + 1);
    if (!p)
        return -1;
    for (int i = 0; i < n; i++) {
        if (!*fields[i])
            continue;
        size_t len = strlen(*fields[i]) + 1;
        memcpy(p, *fields[i], len);
        *fields[i] = p;
        p += len;
    }
    return 0;
}

static void start_call(struct api *a, struct http_request *r, struct query_params p, bool listing)
{
    struct query_call *c = calloc(1, sizeof *c);
    if (!c || own_filter(&p.req.filter, &c->strings) != 0) {
        free(c);
        http_reply_error(r, 503, "out_of_memory", "the server is out of memory");
        return;
    }
    c->req = p.req;
    c->listing = listing;
    c->pool = a->queries;
    buf_init(&c->body, 0);
    c->job.work = run_query;
    c->job.done = query_done;
    if (!(c->reply = http_defer(r))) {
        free_call(c);
        return;
    }
    if (!a->queries || query_pool_submit(a->queries, &c->job) != 0) {
        c->job.status = -1;
        query_done(&c->job);
    }
}

void api_query(struct api *a, struct http_request *r)
{
    struct query_params p;
    struct api_bad b;
    if (!api_query_params(r, util_now_ms(), false, &p.req, &b)) {
        bad(r, b.param, b.why);
        return;
    }
    start_call(a, r, p, false);
}

void api_series(struct api *a, struct http_request *r, const struct query_filter *f)
{
    struct query_params p = {.req = {.filter = *f}};
    start_call(a, r, p, true);
}

/* ---- GET /api/v1/export.csv ---- */

struct export_call {
    struct query_job job;
    struct http_stream *stream;
    struct query_filter filter;
    char *strings;
    int64_t from, to;
    struct query_export_cursor cursor;
    struct buf rows; /* filled by the worker */
    bool failed;
    bool header_sent;
    struct query_pool *pool;
};

static int on_export_row(void *ctx, const struct query_series *s, int64_t ts, double value)
{
    struct buf *b = ctx;
    buf_printf(b, "%lld,%s,%s,%s,", (long long)ts, s->program, s->unit, s->metric);
    buf_csv_quoted(b, s->labels_json); /* quoted always, even {} (CONTRACT §2) */
    buf_puts(b, ",");
    buf_json_num(b, value);
    buf_puts(b, "\r\n");
    return buf_failed(b);
}

static void run_export_chunk(struct query_job *job, struct query_db *db)
{
    struct export_call *e = (struct export_call *)job;
    int n = query_export_chunk(db, &e->filter, e->from, e->to, &e->cursor, EXPORT_CHUNK,
                               on_export_row, &e->rows);
    if (n < 0) {
        log_error("export: reading rows failed: %s", query_error(db));
        e->failed = true;
    }
}

static void export_chunk_done(struct query_job *job)
{
    struct export_call *e = (struct export_call *)job;
    if (job->status != 0)
        e->failed = true;
    http_stream_resume(e->stream);
}

static enum http_stream_step export_next(void *ctx, struct buf *out)
{
    struct export_call *e = ctx;
    if (!e->header_sent) {
        e->header_sent = true;
        buf_puts(out, "ts,program,unit,metric,labels,value\r\n");
        return HTTP_STREAM_MORE;
    }
    if (e->failed)
        return HTTP_STREAM_FAIL;
    if (e->rows.len) {
        buf_append(out, e->rows.data, e->rows.len);
        buf_reset(&e->rows);
        return HTTP_STREAM_MORE;
    }
    if (e->cursor.done)
        return HTTP_STREAM_DONE;
    if (query_pool_submit(e->pool, &e->job) != 0)
        return HTTP_STREAM_FAIL;
    return HTTP_STREAM_LATER;
}

static void export_release(void *ctx)
{
    struct export_call *e = ctx;
    buf_free(&e->rows);
    free(e->strings);
    free(e);
}

static const struct http_stream_ops export_ops = {export_next, export_release};

void api_export(struct api *a, struct http_request *r)
{
    struct query_params p;
    struct api_bad b;
    if (!api_query_params(r, util_now_ms(), true, &p.req, &b)) {
        bad(r, b.param, b.why);
        return;
    }
    if (!a->queries) {
        http_reply_error(r, 503, "unavailable", "the database cannot be read");
        return;
    }
    struct export_call *e = calloc(1, sizeof *e);
    if (!e || own_filter(&p.req.filter, &e->strings) != 0) {
        free(e);
        http_reply_error(r, 503, "out_of_memory", "the server is out of memory");
        return;
    }
    e->filter = p.req.filter;
    e->from = p.req.from;
    e->to = p.req.to;
    e->pool = a->queries;
    e->job.work = run_export_chunk;
    e->job.done = export_chunk_done;
    buf_init(&e->rows, 0);
    char name[160];
    snprintf(name, sizeof name, "pantau-%s-%s.csv", e->filter.program ? e->filter.program : "all",
             e->filter.metric ? e->filter.metric : "all");
    e->stream = http_stream_start(r, "text/csv; charset=utf-8", name, &export_ops, e);
}
