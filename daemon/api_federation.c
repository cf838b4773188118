/* api_federation.c — CONTRACT §7's HTTP side: /api/v1/regions,
 * /regions/<id>, /regions/<id>/history, and the evaluations
 * (POST/GET /api/v1/evaluations, GET /evaluations/<id>).
 *
 * Loop thread. /regions and /regions/<id> are written from the
 * federation's memory (one latest STATE per region); history, the
 * evaluations' listing and bodies, and a hub's regions as of a past time
 * are read on the query pool (they may be large). An evaluation is written
 * once, whole, on the store's connection, and never changed. */
#include <jansson.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "audit.h"
#include "federation.h"
#include "kpi_engine.h"
#include "alert_engine.h"
#include "alert_store.h"
#include "parse.h"
#include "query_pool.h"
#include "util.h"
#include "wire.h"

#define JSON             "application/json"
#define REGIONS_PREFIX   "/api/v1/regions/"
#define EVALUATIONS_PATH "/api/v1/evaluations"
#define EVAL_BODY_MAX    4096
#define EVAL_NAME_MAX    200
#define ALERT_PAGE       1000

static void reply_buf(struct http_request *r, struct buf *b)
{
    if (buf_failed(b)) {
        buf_free(b);
        http_reply_error(r, 500, "out_of_memory", "out of memory");
    } else {
        http_reply(r, 200, JSON, b);
    }
}

void api_regions(struct api *a, struct http_request *r)
{
    struct buf b;
    buf_init(&b, 0);
    federation_regions_json(a->fed, &b, util_now_ms());
    reply_buf(r, &b);
}

/* ---- /regions/<id>/history, on a worker ---------------------------------- */

struct history_job {
    struct query_job job;
    struct http_deferred *reply;
    char id[SLUG_MAX + 1];
    int64_t from, to;
    int max;
    struct buf out;
    int status; /* 0, -1 database, -2 too many */
};

static void history_work(struct query_job *job, struct query_db *qdb)
{
    struct history_job *h = (struct history_job *)job;
    static const char sql[] =
        "SELECT generated_at, progress, health, dims FROM fed_states"
        " WHERE region = ?1 AND generated_at BETWEEN ?2 AND ?3 ORDER BY generated_at LIMIT ?4";
    sqlite3_stmt *st;
    h->status = -1;
    if (sqlite3_prepare_v2(query_sqlite(qdb), sql, -1, &st, NULL) != SQLITE_OK)
        return;
    sqlite3_bind_text(st, 1, h->id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, h->from);
    sqlite3_bind_int64(st, 3, h->to);
    sqlite3_bind_int64(st, 4, (int64_t)h->max + 1);
    buf_puts(&h->out, "{\"history\":[");
    int n = 0, rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (++n > h->max) {
            h->status = -2;
            sqlite3_finalize(st);
            return;
        }
        buf_printf(&h->out, "%s{\"generated_at\":%lld,\"progress\":", n > 1 ? "," : "",
                   (long long)sqlite3_column_int64(st, 0));
        if (sqlite3_column_type(st, 1) == SQLITE_NULL)
            buf_puts(&h->out, "null");
        else
            buf_json_num(&h->out, sqlite3_column_double(st, 1));
        buf_puts(&h->out, ",\"health\":");
        if (sqlite3_column_type(st, 2) == SQLITE_NULL)
            buf_puts(&h->out, "null");
        else
            buf_json_str(&h->out, (const char *)sqlite3_column_text(st, 2));
        buf_puts(&h->out, ",\"dimensions\":");
        buf_append(&h->out, sqlite3_column_text(st, 3), (size_t)sqlite3_column_bytes(st, 3));
        buf_puts(&h->out, "}");
    }
    sqlite3_finalize(st);
    buf_puts(&h->out, "]}\n");
    if (rc == SQLITE_DONE)
        h->status = 0;
}

static void history_done(struct query_job *job)
{
    struct history_job *h = (struct history_job *)job;
    if (job->status != 0 || h->status == -1 || buf_failed(&h->out)) {
        buf_free(&h->out);
        http_deferred_reply_error(h->reply, 503, "unavailable", "the database could not be read");
    } else if (h->status == -2) {
        buf_free(&h->out);
        http_deferred_reply_error(h->reply, 400, "bad_parameter",
                                  "more than %d states in [from, to] ([federation] history_max): "
                                  "ask for a shorter range",
                                  h->max);
    } else {
        http_deferred_reply(h->reply, 200, JSON, &h->out);
    }
    free(h);
}

static void region_history(struct api *a, struct http_request *r, const char *id)
{
    int64_t from, to;
    struct buf probe;
    buf_init(&probe, 0);
    int known = federation_region_json(a->fed, id, &probe, util_now_ms());
    buf_free(&probe);
    if (known != 0) {
        http_reply_error(r, 404, "not_found", "no such region: %s", id);
        return;
    }
    if (!api_read_range(r, &from, &to))
        return;
    if (!a->queries) {
        http_reply_error(r, 503, "unavailable", "no query workers");
        return;
    }
    struct history_job *h = calloc(1, sizeof *h);
    if (!h || !(h->reply = http_defer(r))) {
        free(h);
        http_reply_error(r, 500, "out_of_memory", "out of memory");
        return;
    }
    snprintf(h->id, sizeof h->id, "%s", id);
    h->from = from;
    h->to = to;
    h->max = a->cfg->fed_history_max;
    buf_init(&h->out, 0);
    h->job.work = history_work;
    h->job.done = history_done;
    if (query_pool_submit(a->queries, &h->job) != 0) {
        http_deferred_reply_error(h->reply, 503, "unavailable", "cannot read now; retry");
        buf_free(&h->out);
        free(h);
    }
}

/* GET /api/v1/regions/<id> and /regions/<id>/history */
void api_region(struct api *a, struct http_request *r)
{
    const char *rest = r->path + strlen(REGIONS_PREFIX);
    size_t idlen = strcspn(rest, "/");
    char id[SLUG_MAX + 1];
    bool history = strcmp(rest + idlen, "/history") == 0;
    if (idlen == 0 || idlen > SLUG_MAX || !util_is_slug(rest, idlen) || (rest[idlen] && !history)) {
        http_reply_error(r, 404, "not_found", "no such region");
        return;
    }
    memcpy(id, rest, idlen);
    id[idlen] = '\0';
    if (history) {
        region_history(a, r, id);
        return;
    }
    struct buf b;
    buf_init(&b, 0);
    if (federation_region_json(a->fed, id, &b, util_now_ms()) != 0) {
        buf_free(&b);
        http_reply_error(r, 404, "not_found", "no such region: %s", id);
        return;
    }
    reply_buf(r, &b);
}

/* ---- POST /api/v1/evaluations ------------------------------------------------ */

/* One creation, from the body to the 201: (hub) the regions as of as_of on
 * a worker, then (a regency, or a hub with programs) the report, then the
 * row. */
struct eval_req {
    struct query_job job; /* first: the regions' job */
    struct api *a;
    struct http_body *body; /* NULL once the client has gone */
    bool gone;
    struct api_actor who;
    struct buf text;
    bool too_large;
    char name[EVAL_NAME_MAX + 1];
    int64_t as_of, created_at;
    struct federation_expected expected;
    struct buf regions; /* the REGION array, or empty for null */
    bool has_regions;
    int regions_status;
    bool heavy;
};

static void eval_free(struct eval_req *q)
{
    if (q->heavy)
        api_heavy_give(q->a);
    buf_free(&q->text);
    buf_free(&q->regions);
    federation_expected_free(&q->expected);
    free(q);
}

static void eval_data(void *ctx, const char *p, size_t len)
{
    struct eval_req *q = ctx;
    if (q->text.len + len > EVAL_BODY_MAX)
        q->too_large = true;
    else
        buf_append(&q->text, p, len);
}

static void eval_fail(struct eval_req *q, int status, const char *code, const char *msg)
{
    if (!q->gone)
        http_body_reply_error(q->body, status, code, "%s", msg);
    eval_free(q);
}

/* The next evaluation's id: the loop is the only writer. */
static int64_t next_id(sqlite3 *db)
{
    sqlite3_stmt *st;
    int64_t id = -1;
    if (sqlite3_prepare_v2(db, "SELECT coalesce(max(id), 0) + 1 FROM evaluations", -1, &st, NULL) !=
        SQLITE_OK)
        return -1;
    if (sqlite3_step(st) == SQLITE_ROW)
        id = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return id;
}

/* Writes the EVALUATION whose report part is `report` (JSON text, or NULL
 * for null) and answers 201. */
static void eval_store(struct eval_req *q, const struct buf *report)
{
    sqlite3 *db = store_db(q->a->store);
    int64_t id = next_id(db);
    struct buf b;
    buf_init(&b, 0);
    buf_printf(&b, "{\"id\":%lld,\"name\":", (long long)id);
    buf_json_str(&b, q->name);
    buf_printf(&b, ",\"as_of\":%lld,\"created_at\":%lld,\"created_by\":", (long long)q->as_of,
               (long long)q->created_at);
    buf_json_str(&b, api_actor_name(&q->who));
    buf_puts(&b, ",\"report\":");
    if (report)
        buf_append(&b, report->data, report->len);
    else
        buf_puts(&b, "null");
    buf_puts(&b, ",\"regions\":");
    if (q->has_regions)
        buf_append(&b, q->regions.data, q->regions.len);
    else
        buf_puts(&b, "null");
    buf_puts(&b, "}");
    sqlite3_stmt *st = NULL;
    int rc = id > 0 && !buf_failed(&b)
                 ? sqlite3_prepare_v2(db,
                                      "INSERT INTO evaluations (id, name, as_of, created_at,"
                                      " created_by, body) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                                      -1, &st, NULL)
                 : SQLITE_NOMEM;
    if (rc == SQLITE_OK) {
        sqlite3_bind_int64(st, 1, id);
        sqlite3_bind_text(st, 2, q->name, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, q->as_of);
        sqlite3_bind_int64(st, 4, q->created_at);
        sqlite3_bind_text(st, 5, api_actor_name(&q->who), -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 6, b.data, (int)b.len, SQLITE_STATIC);
        rc = sqlite3_step(st) == SQLITE_DONE ? SQLITE_OK : SQLITE_ERROR;
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_OK) {
        buf_free(&b);
        eval_fail(q, 503, "unavailable", "the evaluation could not be written");
        return;
    }
    char target[24];
    snprintf(target, sizeof target, "%lld", (long long)id);
    struct buf det;
    buf_init(&det, 0);
    buf_puts(&det, "{\"name\":");
    audit_json_str(&det, q->name);
    buf_printf(&det, ",\"as_of\":%lld}", (long long)q->as_of);
    api_audit(q->a, &q->who, "evaluation", target, buf_failed(&det) ? NULL : det.data);
    buf_free(&det);
    struct buf out;
    buf_init(&out, 0);
    buf_puts(&out, "{\"evaluation\":");
    buf_append(&out, b.data, b.len);
    buf_puts(&out, "}\n");
    buf_free(&b);
    if (!q->gone)
        http_body_reply(q->body, buf_failed(&out) ? 500 : 201, JSON, &out);
    else
        buf_free(&out);
    eval_free(q);
}

struct alert_list {
    struct buf *b;
    int n;
    int64_t last_fired, last_id;
};

static void eval_alert(void *ctx, const struct alert_record *a)
{
    struct alert_list *l = ctx;
    buf_puts(l->b, l->n++ ? "," : "");
    wire_alert(l->b, a);
    l->last_fired = a->fired_at;
    l->last_id = a->id;
}

/* The report's alerts whose firing overlaps [from, to], newest first, a
 * page at a time (an evaluation is rare: the loop reads them). */
static int eval_alerts(struct api *a, struct buf *b, int64_t from, int64_t to)
{
    struct alert_list l = {b, 0, INT64_MAX, INT64_MAX};
    buf_puts(b, "[");
    if (a->alerts) {
        for (int pages = 0; pages < 10000; pages++) {
            int before = l.n;
            struct alert_page pg = {.from = from,
                                    .to = to,
                                    .before_fired = l.last_fired,
                                    .before_id = l.last_id,
                                    .limit = ALERT_PAGE};
            if (alert_engine_each_in(a->alerts, &pg, eval_alert, &l) != 0)
                return -1;
            if (l.n - before < ALERT_PAGE)
                break;
        }
    }
    buf_puts(b, "]");
    return 0;
}

static void eval_report_done(void *ctx, const struct kpi_report *r)
{
    struct eval_req *q = ctx;
    struct wire_snapshot s = {0};
    if (r->status != 0 || wire_snapshot_take(&s, r->catalog, NULL, r->to, r) != 0) {
        wire_snapshot_free(&s);
        eval_fail(q, 503, "unavailable",
                  "the report could not be computed (database busy or catalog reloaded); retry");
        return;
    }
    struct buf b;
    buf_init(&b, 0);
    buf_puts(&b, "{\"regency\":");
    wire_regency(&b, r->catalog);
    buf_printf(&b, ",\"from\":%lld,\"to\":%lld,\"generated_at\":%lld,\"dimensions\":",
               (long long)r->from, (long long)r->to, (long long)q->created_at);
    wire_dimensions(&b, &s);
    buf_puts(&b, ",\"programs\":");
    wire_programs(&b, &s, r);
    wire_snapshot_free(&s);
    buf_puts(&b, ",\"alerts\":");
    if (eval_alerts(q->a, &b, r->from, r->to) != 0) {
        buf_free(&b);
        eval_fail(q, 503, "unavailable", "the alerts could not be read; retry");
        return;
    }
    buf_puts(&b, "}");
    eval_store(q, &b);
    buf_free(&b);
}

/* After the regions (hub) or at once: the report when wanted. */
static void eval_next(struct eval_req *q)
{
    const struct catalog *c = kpi_engine_catalog(q->a->kpis);
    bool hub = federation_is_hub(q->a->fed);
    if (hub && c->n_programs == 0) {
        eval_store(q, NULL);
        return;
    }
    int64_t from, to;
    kpi_calendar_period(PERIOD_YEAR, c->tz_offset_ms, q->as_of, &from, &to);
    if (kpi_engine_report(q->a->kpis, from, q->as_of, eval_report_done, q) != 0)
        eval_fail(q, 503, "unavailable", "cannot start the report now; retry");
}

static void eval_regions_work(struct query_job *job, struct query_db *qdb)
{
    struct eval_req *q = (struct eval_req *)job;
    q->regions_status =
        federation_regions_as_of(query_sqlite(qdb), &q->expected, q->as_of, &q->regions);
}

static void eval_regions_done(struct query_job *job)
{
    struct eval_req *q = (struct eval_req *)job;
    if (job->status != 0 || q->regions_status != 0 || buf_failed(&q->regions)) {
        eval_fail(q, 503, "unavailable", "the regions' states could not be read; retry");
        return;
    }
    q->has_regions = true;
    eval_next(q);
}

/* The body {"name","as_of"}: 0, or -1 after answering 400. */
static int eval_parse(struct eval_req *q)
{
    json_error_t err;
    json_t *doc = json_loadb(q->text.data ? q->text.data : "", q->text.len, 0, &err);
    json_t *name = json_object_get(doc, "name"), *as_of = json_object_get(doc, "as_of");
    const char *msg = NULL;
    if (!json_is_object(doc))
        msg = "the body must be a JSON object {\"name\": \"...\", \"as_of\": MS}";
    else if (!json_is_string(name) || json_string_length(name) == 0 ||
             json_string_length(name) > EVAL_NAME_MAX)
        msg = "name must be a string of 1 to 200 bytes";
    else if (as_of && !json_is_null(as_of) && !json_is_integer(as_of))
        msg = "as_of must be epoch milliseconds";
    else if (json_is_integer(as_of) && json_integer_value(as_of) > q->created_at)
        msg = "as_of is in the future";
    else if (json_is_integer(as_of) && json_integer_value(as_of) < PARSE_MIN_TS_MS)
        msg = "as_of is before 2000";
    if (msg) {
        json_decref(doc);
        http_body_reply_error(q->body, 400, "bad_parameter", "%s", msg);
        return -1;
    }
    snprintf(q->name, sizeof q->name, "%s", json_string_value(name));
    q->as_of = json_is_integer(as_of) ? json_integer_value(as_of) : q->created_at;
    json_decref(doc);
    return 0;
}

static void eval_end(void *ctx)
{
    struct eval_req *q = ctx;
    q->created_at = util_now_ms();
    if (q->too_large) {
        http_body_reply_error(q->body, 413, "too_large", "the body is limited to %d bytes",
                              EVAL_BODY_MAX);
        eval_free(q);
        return;
    }
    if (eval_parse(q) != 0) {
        eval_free(q);
        return;
    }
    if (!federation_is_hub(q->a->fed)) {
        eval_next(q);
        return;
    }
    if (!q->a->queries || federation_expected_copy(q->a->fed, &q->expected) != 0) {
        eval_fail(q, 503, "unavailable", "cannot read the regions now; retry");
        return;
    }
    q->job.work = eval_regions_work;
    q->job.done = eval_regions_done;
    if (query_pool_submit(q->a->queries, &q->job) != 0)
        eval_fail(q, 503, "unavailable", "cannot read the regions now; retry");
}

/* The client left: the work goes on (the evaluation is still created),
 * only the answer is dropped. Before the body ended, nothing was started. */
static void eval_gone(void *ctx)
{
    struct eval_req *q = ctx;
    http_body_reply(q->body, 0, NULL, NULL);
    q->body = NULL;
    q->gone = true;
    if (!q->created_at)
        eval_free(q);
}

static const struct http_body_ops eval_ops = {eval_data, eval_end, eval_gone};

bool api_evaluations_streams_body(const struct http_request *r)
{
    return r->method == HTTP_POST && strcmp(r->path, EVALUATIONS_PATH) == 0;
}

void api_evaluation_create(struct api *a, struct http_request *r)
{
    if (!api_heavy_take(a, r))
        return;
    struct eval_req *q = calloc(1, sizeof *q);
    if (!q) {
        api_heavy_give(a);
        http_reply_error(r, 503, "out_of_memory", "the server is out of memory");
        return;
    }
    q->a = a;
    q->heavy = true;
    buf_init(&q->text, 0);
    buf_init(&q->regions, 0);
    api_actor_of(a, r, &q->who);
    if (!(q->body = http_body_stream(r, &eval_ops, q)))
        eval_free(q);
}

/* ---- GET /api/v1/evaluations[/<id>], on a worker ---------------------------- */

struct eval_read {
    struct query_job job;
    struct http_deferred *reply;
    int64_t id; /* 0: the listing */
    struct buf out;
    int status; /* 0, -1 database, 1 not found */
};

static void eval_read_work(struct query_job *job, struct query_db *qdb)
{
    struct eval_read *e = (struct eval_read *)job;
    sqlite3_stmt *st;
    const char *sql = e->id ? "SELECT body FROM evaluations WHERE id = ?1"
                            : "SELECT id, name, as_of, created_at, created_by FROM evaluations"
                              " ORDER BY as_of DESC, id DESC";
    e->status = -1;
    if (sqlite3_prepare_v2(query_sqlite(qdb), sql, -1, &st, NULL) != SQLITE_OK)
        return;
    int rc, n = 0;
    if (e->id) {
        sqlite3_bind_int64(st, 1, e->id);
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            buf_puts(&e->out, "{\"evaluation\":");
            buf_append(&e->out, sqlite3_column_text(st, 0), (size_t)sqlite3_column_bytes(st, 0));
            buf_puts(&e->out, "}\n");
            e->status = 0;
        } else if (rc == SQLITE_DONE) {
            e->status = 1;
        }
        sqlite3_finalize(st);
        return;
    }
    buf_puts(&e->out, "{\"evaluations\":[");
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        buf_printf(&e->out, "%s{\"id\":%lld,\"name\":", n++ ? "," : "",
                   (long long)sqlite3_column_int64(st, 0));
        buf_json_str(&e->out, (const char *)sqlite3_column_text(st, 1));
        buf_printf(&e->out, ",\"as_of\":%lld,\"created_at\":%lld,\"created_by\":",
                   (long long)sqlite3_column_int64(st, 2), (long long)sqlite3_column_int64(st, 3));
        buf_json_str(&e->out, (const char *)sqlite3_column_text(st, 4));
        buf_puts(&e->out, "}");
    }
    buf_puts(&e->out, "]}\n");
    sqlite3_finalize(st);
    if (rc == SQLITE_DONE)
        e->status = 0;
}

static void eval_read_done(struct query_job *job)
{
    struct eval_read *e = (struct eval_read *)job;
    if (job->status == 0 && e->status == 1) {
        buf_free(&e->out);
        http_deferred_reply_error(e->reply, 404, "not_found", "no evaluation %lld",
                                  (long long)e->id);
    } else if (job->status != 0 || e->status != 0 || buf_failed(&e->out)) {
        buf_free(&e->out);
        http_deferred_reply_error(e->reply, 503, "unavailable", "the database could not be read");
    } else {
        http_deferred_reply(e->reply, 200, JSON, &e->out);
    }
    free(e);
}

static void eval_read(struct api *a, struct http_request *r, int64_t id)
{
    if (!a->queries) {
        http_reply_error(r, 503, "unavailable", "no query workers");
        return;
    }
    struct eval_read *e = calloc(1, sizeof *e);
    if (!e || !(e->reply = http_defer(r))) {
        free(e);
        http_reply_error(r, 500, "out_of_memory", "out of memory");
        return;
    }
    e->id = id;
    buf_init(&e->out, 0);
    e->job.work = eval_read_work;
    e->job.done = eval_read_done;
    if (query_pool_submit(a->queries, &e->job) != 0) {
        http_deferred_reply_error(e->reply, 503, "unavailable", "cannot read now; retry");
        buf_free(&e->out);
        free(e);
    }
}

void api_evaluations(struct api *a, struct http_request *r)
{
    eval_read(a, r, 0);
}

void api_evaluation(struct api *a, struct http_request *r)
{
    const char *rest = r->path + strlen(EVALUATIONS_PATH "/");
    char *end = (char *)rest;
    long long id = *rest >= '1' && *rest <= '9' ? strtoll(rest, &end, 10) : 0;
    if (id <= 0 || *end != '\0') {
        http_reply_error(r, 404, "not_found", "no such evaluation");
        return;
    }
    eval_read(a, r, id);
}
