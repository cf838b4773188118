/* api.c — see api.h. The endpoints answered from memory on the loop. */
#include "api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alert_engine.h"
#include "checkpoint.h"
#include "federation.h"
#include "loopwatch.h"
#include "kpi_engine.h"
#include "log.h"
#include "parse.h"
#include "presence.h"
#include "query.h"
#include "rejects.h"
#include "util.h"
#include "webhook.h"
#include "wire.h"

#define JSON "application/json"

typedef void (*handler_fn)(struct api *a, struct http_request *r);

struct route {
    const char *path;
    enum http_method method;
    enum http_role role; /* least role needed */
    handler_fn fn;
};

/* ---- reports and imports at once ---- */

#define BUSY_RETRY_S 2 /* Retry-After of a busy answer */

bool api_heavy_take(struct api *a, struct http_request *r)
{
    if (a->heavy_running >= a->cfg->http_max_heavy) {
        a->heavy_refused++;
        http_reply_busy(r, BUSY_RETRY_S,
                        "%d reports or imports are running ([http] max_heavy); retry later",
                        a->heavy_running);
        return false;
    }
    a->heavy_running++;
    return true;
}

void api_heavy_give(struct api *a)
{
    if (a->heavy_running > 0)
        a->heavy_running--;
}

/* ---- /healthz ---- */

/* What waits between the broker and the database, and whether ingest is
 * holding back after a failed write (and since when). */
static void healthz_ingest(struct buf *b, const struct ingest_stats *is)
{
    buf_printf(b,
               "\"ingest\":{\"held_back\":%s,\"waiting\":%llu,\"uncommitted\":%llu,"
               "\"spool_bytes\":%llu,\"spool_size\":%llu",
               is->held ? "true" : "false", (unsigned long long)is->queued,
               (unsigned long long)is->unreleased, (unsigned long long)is->spool_bytes,
               (unsigned long long)is->spool_size);
    if (is->held)
        buf_printf(b, ",\"held_since\":%lld", (long long)is->held_since_ms);
    buf_puts(b, "}");
}

static void get_healthz(struct api *a, struct http_request *r)
{
    struct ingest_stats is;
    struct store_stats ss;
    struct buf b;
    store_probe_writable(a->store); /* no-op while writable */
    ingest_get_stats(a->ingest, &is);
    store_get_stats(a->store, &ss);
    const char *reasons[5];
    int n = 0;
    if (!is.mqtt_connected)
        reasons[n++] = "mqtt_disconnected";
    else if (!is.mqtt_subscribed)
        reasons[n++] = "mqtt_not_subscribed";
    if (!ss.writable)
        reasons[n++] = "database_not_writable";
    if (is.held)
        reasons[n++] = "ingest_held_back";
    if (ss.corrupt) /* a read met SQLITE_CORRUPT or SQLITE_NOTADB (store.h) */
        reasons[n++] = "database_corrupt";

    buf_init(&b, 0);
    buf_printf(&b, "{\"status\":\"%s\",\"reasons\":[", n ? "degraded" : "ok");
    for (int i = 0; i < n; i++)
        buf_printf(&b, "%s\"%s\"", i ? "," : "", reasons[i]);
    buf_printf(&b, "],\"mqtt\":{\"connected\":%s,\"subscribed\":%s},\"database\":\"%s\",",
               is.mqtt_connected ? "true" : "false", is.mqtt_subscribed ? "true" : "false",
               ss.writable ? "writable" : "not_writable");
    if (!ss.writable || is.held)
        buf_printf(&b, "\"database_error\":\"%s\",", store_error_text(ss.last_error));
    healthz_ingest(&b, &is);
    buf_printf(&b, ",\"uptime_s\":%lld,\"version\":\"%s\"}\n",
               (long long)((util_now_ms() - a->started_ms) / 1000), PANTAU_VERSION);
    http_reply(r, n ? 503 : 200, JSON, &b);
}

/* ---- /metrics (Prometheus text format 0.0.4) ---- */

static void metric(struct buf *b, const char *name, const char *type, const char *help,
                   uint64_t value)
{
    buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n%s %llu\n", name, help, name, type, name,
               (unsigned long long)value);
}

/* A duration in ns as a gauge in seconds (Prometheus' base unit). */
static void gauge_seconds(struct buf *b, const char *name, const char *help, uint64_t ns)
{
    buf_printf(b, "# HELP %s %s\n# TYPE %s gauge\n%s %.6f\n", name, help, name, name, ns / 1e9);
}

/* The live delay as a Prometheus histogram (cumulative buckets). */
static void live_delay(struct buf *b, const struct ingest_stats *is)
{
    const char *name = "pantau_live_delay_seconds";
    buf_printf(b,
               "# HELP %s From an MQTT message's arrival to its samples going to the "
               "websocket clients (after their commit).\n# TYPE %s histogram\n",
               name, name);
    uint64_t n = 0;
    for (int i = 0; i < INGEST_DELAY_BUCKETS; i++) {
        n += is->delay_samples[i];
        if (i < INGEST_DELAY_BUCKETS - 1)
            buf_printf(b, "%s_bucket{le=\"%g\"} %llu\n", name, ingest_delay_bounds_us[i] / 1e6,
                       (unsigned long long)n);
        else
            buf_printf(b, "%s_bucket{le=\"+Inf\"} %llu\n", name, (unsigned long long)n);
    }
    buf_printf(b, "%s_sum %.6f\n%s_count %llu\n", name, is->delay_us_sum / 1e6, name,
               (unsigned long long)n);
}

static void fired_total(void *ctx, const char *rule, uint64_t n)
{
    buf_printf(ctx, "pantau_alerts_fired_total{rule=\"%s\"} %llu\n", rule, (unsigned long long)n);
}

static void escalated_total(void *ctx, const char *rule, uint64_t n)
{
    buf_printf(ctx, "pantau_alerts_escalated_total{rule=\"%s\"} %llu\n", rule,
               (unsigned long long)n);
}

static void alert_metrics(struct buf *b, const struct alert_engine *e)
{
    uint64_t firing[3];
    alert_engine_firing_counts(e, firing);
    buf_puts(b, "# HELP pantau_alerts_firing Alerts firing now, by severity.\n"
                "# TYPE pantau_alerts_firing gauge\n");
    for (int i = SEVERITY_INFO; i <= SEVERITY_CRITICAL; i++)
        buf_printf(b, "pantau_alerts_firing{severity=\"%s\"} %llu\n", catalog_severity_name(i),
                   (unsigned long long)firing[i]);
    buf_puts(b, "# HELP pantau_alerts_fired_total Alerts fired since start, by rule.\n"
                "# TYPE pantau_alerts_fired_total counter\n");
    alert_engine_each_fired_total(e, fired_total, b);
    buf_puts(b, "# HELP pantau_alerts_escalated_total Alerts escalated since start, by rule.\n"
                "# TYPE pantau_alerts_escalated_total counter\n");
    alert_engine_each_escalated_total(e, escalated_total, b);
}

static void get_metrics(struct api *a, struct http_request *r)
{
    struct ingest_stats is;
    struct store_stats ss;
    struct live_stats ls;
    struct buf b;
    ingest_get_stats(a->ingest, &is);
    store_get_stats(a->store, &ss);
    live_get_stats(a->live, &ls);
    const struct rejects *rj = ingest_rejects(a->ingest);

    buf_init(&b, 0);
    metric(&b, "pantau_ingested_total", "counter", "MQTT messages taken in.", is.messages);
    metric(&b, "pantau_samples_total", "counter", "Valid samples parsed.", is.samples);
    metric(&b, "pantau_stored_total", "counter", "Samples committed to the database.",
           ss.stored_total);
    buf_puts(&b, "# HELP pantau_rejected_total Rejected messages or batch elements, by reason.\n"
                 "# TYPE pantau_rejected_total counter\n");
    for (int i = 0; i < PARSE_REASON_COUNT; i++)
        buf_printf(&b, "pantau_rejected_total{reason=\"%s\"} %llu\n", parse_reason_name(i),
                   (unsigned long long)rj->total[i]);
    metric(&b, "pantau_presence_total", "counter", "$status messages.", is.presence);
    metric(&b, "pantau_commits_total", "counter", "Database transactions committed.", ss.commits);
    metric(&b, "pantau_commit_errors_total", "counter", "Database transactions rolled back.",
           ss.commit_errors);
    metric(&b, "pantau_commit_retries_total", "counter",
           "Transactions rolled back by a failure that may pass, tried again.", ss.retries);
    metric(&b, "pantau_lost_total", "counter", "Samples the database refused for good.",
           ss.lost_total);
    metric(&b, "pantau_ingest_held_back", "gauge",
           "1 while ingest waits to retry a failed write (messages kept in the spool).", is.held);
    metric(&b, "pantau_spool_messages", "gauge",
           "Messages acknowledged to the broker and not yet committed.", is.unreleased);
    metric(&b, "pantau_spool_bytes", "gauge", "Bytes of the spool those messages take.",
           is.spool_bytes);
    metric(&b, "pantau_spool_size_bytes", "gauge", "Size of the spool.", is.spool_size);
    metric(&b, "pantau_spool_replayed_total", "counter",
           "Messages read again from the spool at start (acknowledged before a crash).",
           is.replayed);
    metric(&b, "pantau_ingest_queue_waits_total", "counter",
           "Times the MQTT thread waited on a full spool.", is.producer_waits);
    metric(&b, "pantau_ingest_queue_length", "gauge", "Messages waiting for the loop.", is.queued);
    metric(&b, "pantau_series", "gauge", "Series known.", ss.series);
    metric(&b, "pantau_head_samples", "gauge",
           "Samples in the head: committed, not yet written as chunk rows.", ss.head_points);
    metric(&b, "pantau_head_bytes", "gauge", "Memory the head holds for them.", ss.head_bytes);
    metric(&b, "pantau_head_log_bytes", "gauge", "Size of the head log (<database>-head).",
           ss.log_bytes);
    metric(&b, "pantau_units", "gauge", "Field units known.", ss.units);
    metric(&b, "pantau_mqtt_connected", "gauge", "1 while connected to the broker.",
           is.mqtt_connected);
    metric(&b, "pantau_mqtt_subscribed", "gauge", "1 while the subscription is acknowledged.",
           is.mqtt_subscribed);
    metric(&b, "pantau_mqtt_connects_total", "counter", "Connections made to the broker.",
           is.mqtt_connects);
    metric(&b, "pantau_database_writable", "gauge", "0 after a failed commit.", ss.writable);
    if (a->fed) { /* CONTRACT §7 */
        struct federation_stats fs;
        uint64_t ps[4];
        federation_get_stats(a->fed, &fs);
        ingest_state_stats(a->ingest, ps);
        metric(&b, "pantau_federation_states_total", "counter",
               "Hub: STATEs stored (a redelivered one not counted).", fs.states_taken);
        metric(&b, "pantau_federation_states_duplicate_total", "counter",
               "Hub: STATEs received again (already stored).", fs.states_duplicate);
        metric(&b, "pantau_federation_regions", "gauge", "Hub: regions heard from.",
               (uint64_t)fs.regions);
        metric(&b, "pantau_federation_published_total", "counter",
               "STATEs handed to the publisher.", ps[0]);
        metric(&b, "pantau_federation_publish_acked_total", "counter",
               "STATEs the broker acknowledged.", ps[2]);
    }
    if (a->checkpoints) {
        struct checkpoint_stats cs;
        checkpointer_get_stats(a->checkpoints, &cs);
        metric(&b, "pantau_checkpoints_total", "counter",
               "WAL checkpoints run (off the loop, on a worker thread).", cs.runs);
        metric(&b, "pantau_wal_frames", "gauge", "Frames in the WAL at the last checkpoint.",
               cs.wal_frames > 0 ? (uint64_t)cs.wal_frames : 0);
        metric(&b, "pantau_checkpoints_caught_up_total", "counter",
               "Checkpoints that copied every frame, so that the WAL restarts.", cs.caught_up);
        gauge_seconds(&b, "pantau_checkpoint_lock_seconds_max",
                      "Longest a checkpoint held the writer lock (its last, FULL pass).",
                      cs.full_ns_max);
    }
    if (a->loopwatch) {
        struct loopwatch_stats lw;
        loopwatch_get_stats(a->loopwatch, &lw);
        metric(&b, "pantau_loop_slow_turns_total", "counter",
               "Loop turns busy longer than [log] slow_turn_ms.", lw.slow_turns);
        gauge_seconds(&b, "pantau_loop_turn_seconds_max", "The longest loop turn's busy time.",
                      lw.worst_ns);
    }
    if (a->alerts)
        alert_metrics(&b, a->alerts);
    if (a->webhook) {
        struct webhook_stats ws;
        webhook_get_stats(a->webhook, &ws);
        metric(&b, "pantau_webhook_delivered_total", "counter",
               "Alert notifications the webhook answered with 2xx.", ws.delivered);
        metric(&b, "pantau_webhook_failures_total", "counter",
               "Failed webhook attempts (each retried with backoff).", ws.failures);
        metric(&b, "pantau_webhook_dropped_total", "counter",
               "Notifications dropped unsent (outbox full, or older than 25 h).", ws.dropped);
        metric(&b, "pantau_webhook_pending", "gauge", "Notifications waiting in the outbox.",
               ws.pending);
    }
    metric(&b, "pantau_ws_clients", "gauge", "Live websocket clients.", ls.clients);
    live_delay(&b, &is);
    metric(&b, "pantau_ws_frames_total", "counter", "Samples frames sent.", ls.frames_sent);
    metric(&b, "pantau_ws_samples_total", "counter", "Samples sent to websocket clients.",
           ls.samples_sent);
    metric(&b, "pantau_ws_dropped_total", "counter",
           "Samples dropped from slow websocket clients' queues.", ls.samples_dropped);
    metric(&b, "pantau_ws_fanout_yields_total", "counter",
           "Fan-outs of a group continued on a later loop turn (they ran past 3 ms).",
           ls.fanout_yields);
    buf_puts(&b, "# HELP pantau_ws_refused_total Websocket requests refused by a limit (CONTRACT "
                 "§10), by reason.\n# TYPE pantau_ws_refused_total counter\n");
    buf_printf(&b, "pantau_ws_refused_total{reason=\"too_many_filters\"} %llu\n",
               (unsigned long long)ls.refused_filters);
    buf_printf(&b, "pantau_ws_refused_total{reason=\"too_many_snapshots\"} %llu\n",
               (unsigned long long)ls.refused_snapshots);
    buf_printf(&b, "pantau_ws_refused_total{reason=\"too_many_connections\"} %llu\n",
               (unsigned long long)ls.refused_credential);
    gauge_seconds(&b, "pantau_ws_write_hold_seconds",
                  "How long writes to websocket clients are held back to coalesce frames now.",
                  ls.hold_ms * 1000000u);
    gauge_seconds(&b, "pantau_ws_write_hold_seconds_max", "The longest hold so far.",
                  ls.hold_ms_max * 1000000u);
    metric(&b, "pantau_http_requests_total", "counter", "HTTP requests answered.",
           http_requests_total(a->http));
    metric(&b, "pantau_http_heavy_running", "gauge", "Reports and imports running now.",
           (uint64_t)a->heavy_running);
    metric(&b, "pantau_http_busy_total", "counter",
           "Reports and imports refused with 503 busy ([http] max_heavy were running).",
           a->heavy_refused);
    http_reply(r, 200, "text/plain; version=0.0.4; charset=utf-8", &b);
}

/* ---- /api/v1/programs, /dimensions, /report: api_programs.c ---- */

static void get_programs(struct api *a, struct http_request *r)
{
    api_programs(a, r);
}

#define PROGRAMS_PREFIX "/api/v1/programs/"
static void get_program(struct api *a, struct http_request *r)
{
    api_program(a, r, r->path + strlen(PROGRAMS_PREFIX));
}

static void get_dimensions(struct api *a, struct http_request *r)
{
    api_dimensions(a, r);
}

static void get_report(struct api *a, struct http_request *r)
{
    api_report(a, r);
}

/* ---- /api/v1/series: read from the database in chunks (api_query.c) ---- */

static bool check_slug_arg(struct http_request *r, const char *name, const char **out)
{
    *out = http_arg(r, name);
    if (*out && !util_is_slug(*out, strlen(*out))) {
        http_reply_error(r, 400, "bad_parameter", "%s must be a slug ([a-z0-9][a-z0-9_-]{0,63})",
                         name);
        return false;
    }
    return true;
}

static void get_series(struct api *a, struct http_request *r)
{
    struct query_filter f = {0};
    if (!check_slug_arg(r, "program", &f.program) || !check_slug_arg(r, "unit", &f.unit) ||
        !check_slug_arg(r, "metric", &f.metric))
        return;
    api_series(a, r, &f);
}

/* ---- /api/v1/units ---- */

struct unit_list {
    struct api *api;
    struct buf *out;
    size_t n;
    int64_t now_ms;
    const char *program; /* NULL: every program's */
};

int64_t api_unit_stale_ms(const struct api *a, const char *program)
{
    const struct catalog *c = a->kpis ? kpi_engine_catalog(a->kpis) : NULL;
    int p = c ? catalog_find_program(c, program) : -1;
    if (p >= 0 && c->programs[p].stale_after_ms > 0)
        return c->programs[p].stale_after_ms;
    return a->cfg->unit_stale_after_s * 1000LL;
}

static void add_unit(void *ctx, const struct store_unit_view *v)
{
    struct unit_list *l = ctx;
    if (l->program && strcmp(l->program, v->program) != 0)
        return;
    buf_puts(l->out, l->n++ ? ",\n" : "\n");
    wire_unit(l->out, v, l->now_ms, api_unit_stale_ms(l->api, v->program));
}

static void get_units(struct api *a, struct http_request *r)
{
    struct buf b;
    struct unit_list l = {
        .api = a, .out = &b, .now_ms = util_now_ms(), .program = http_arg(r, "program")};
    buf_init(&b, 0);
    buf_puts(&b, "{\"units\":[");
    store_each_unit(a->store, add_unit, &l);
    buf_puts(&b, "]}\n");
    http_reply(r, 200, JSON, &b);
}

/* ---- admin: /api/v1/rejects, /api/v1/reload ---- */

static void get_rejects(struct api *a, struct http_request *r)
{
    const struct rejects *rj = ingest_rejects(a->ingest);
    struct buf b;
    buf_init(&b, 0);
    buf_puts(&b, "{\"totals\":{");
    for (int i = 0; i < PARSE_REASON_COUNT; i++)
        buf_printf(&b, "%s\"%s\":%llu", i ? "," : "", parse_reason_name(i),
                   (unsigned long long)rj->total[i]);
    buf_puts(&b, "},\"rejects\":[");
    const struct reject_entry *e;
    for (size_t i = 0; (e = rejects_get(rj, i)) != NULL; i++) {
        buf_printf(&b,
                   "%s\n{\"time\":%lld,\"reason\":\"%s\",\"element\":%d,\"topic\":", i ? "," : "",
                   (long long)e->time_ms, parse_reason_name(e->reason), e->element);
        buf_json_bytes(&b, e->topic, strlen(e->topic));
        buf_puts(&b, ",\"detail\":");
        buf_json_bytes(&b, e->detail, strlen(e->detail));
        buf_printf(&b, ",\"payload_bytes\":%zu,\"payload\":", e->payload_total);
        buf_json_bytes(&b, e->payload, e->payload_len);
        buf_puts(&b, "}");
    }
    buf_puts(&b, "]}\n");
    http_reply(r, 200, JSON, &b);
}

/* 200 {"reloaded":true}, or 422 with the problems that kept the running
 * configuration and catalog: {"error","message","problems":[{"file",
 * "line","problem"}...]}. */
static void post_reload(struct api *a, struct http_request *r)
{
    struct buf list, b;
    buf_init(&list, 0);
    buf_init(&b, 0);
    int problems = a->reload(a->reload_ctx, &list);
    struct api_actor who;
    char detail[32];
    api_actor_of(a, r, &who);
    snprintf(detail, sizeof detail, "{\"problems\":%d}", problems);
    api_audit(a, &who, "reload", NULL, detail);
    if (problems == 0) {
        buf_puts(&b, "{\"reloaded\":true}\n");
        buf_free(&list);
        http_reply(r, 200, JSON, &b);
        return;
    }
    buf_printf(&b,
               "{\"error\":\"reload_failed\",\"message\":\"%d problem%s in the configuration or "
               "the catalog; nothing changed\",\"problems\":[",
               problems, problems == 1 ? "" : "s");
    buf_append(&b, list.data ? list.data : "", list.len);
    buf_puts(&b, "]}\n");
    buf_free(&list);
    http_reply(r, 422, JSON, &b);
}

static void get_query(struct api *a, struct http_request *r)
{
    api_query(a, r);
}

static void get_export(struct api *a, struct http_request *r)
{
    api_export(a, r);
}

/* ---- /api/v1/openapi.json: docs/openapi.yaml as JSON ---- */

#define OPENAPI_MAX (4 << 20) /* far above the document's size */

/* The dashboard's build writes the document beside index.html; read per
 * request (a few tens of KiB from the page cache) so a reinstall shows at
 * once, like the dashboard's files. */
static void get_openapi(struct api *a, struct http_request *r)
{
    char path[4096];
    struct buf b;
    snprintf(path, sizeof path, "%s/openapi.json", a->cfg->dashboard_dir);
    FILE *f = fopen(path, "rb");
    buf_init(&b, 0);
    size_t n = 0;
    char chunk[16384];
    while (f && (n = fread(chunk, 1, sizeof chunk, f)) > 0 && b.len + n <= OPENAPI_MAX)
        buf_append(&b, chunk, n);
    bool ok = f && !ferror(f) && n == 0 && b.len > 0 && !buf_failed(&b);
    if (f)
        fclose(f);
    if (ok) {
        http_reply(r, 200, JSON, &b);
        return;
    }
    buf_free(&b);
    http_reply_error(r, 404, "not_found", "the API reference is not installed (%s)", path);
}

static const struct route routes[] = {
    {"/healthz", HTTP_GET, ROLE_NONE, get_healthz},
    {"/api/v1/openapi.json", HTTP_GET, ROLE_VIEWER, get_openapi},
    {"/metrics", HTTP_GET, ROLE_VIEWER, get_metrics},
    {"/api/v1/programs", HTTP_GET, ROLE_VIEWER, get_programs},
    {PROGRAMS_PREFIX, HTTP_GET, ROLE_VIEWER, get_program}, /* /programs/<id> */
    {"/api/v1/dimensions", HTTP_GET, ROLE_VIEWER, get_dimensions},
    {"/api/v1/report", HTTP_GET, ROLE_VIEWER, get_report},
    {"/api/v1/series", HTTP_GET, ROLE_VIEWER, get_series},
    {"/api/v1/query", HTTP_GET, ROLE_VIEWER, get_query},
    {"/api/v1/export.csv", HTTP_GET, ROLE_VIEWER, get_export},
    {"/api/v1/units", HTTP_GET, ROLE_VIEWER, get_units},
    {"/api/v1/alerts", HTTP_GET, ROLE_VIEWER, api_alerts},
    {"/api/v1/alerts/", HTTP_POST, ROLE_OPERATOR, api_alert_ack}, /* <id>/ack */
    {"/api/v1/rejects", HTTP_GET, ROLE_ADMIN, get_rejects},
    {"/api/v1/reload", HTTP_POST, ROLE_ADMIN, post_reload},
    {"/api/v1/ingest/", HTTP_POST, ROLE_OPERATOR, api_ingest}, /* a path under it */
    {"/api/v1/import.csv", HTTP_POST, ROLE_OPERATOR, api_import},
    /* CONTRACT §8 (api_users.c); http.c lets /login through unauthenticated */
    {"/api/v1/login", HTTP_POST, ROLE_NONE, api_login},
    {"/api/v1/logout", HTTP_POST, ROLE_VIEWER, api_logout},
    {"/api/v1/me", HTTP_GET, ROLE_VIEWER, api_me},
    {"/api/v1/users", HTTP_GET, ROLE_ADMIN, api_users_list},
    {"/api/v1/users", HTTP_POST, ROLE_ADMIN, api_users_add},
    {"/api/v1/users/", HTTP_DELETE, ROLE_ADMIN, api_users_del},  /* <name> */
    {"/api/v1/users/", HTTP_POST, ROLE_ADMIN, api_users_passwd}, /* <name>/password */
    {"/api/v1/audit", HTTP_GET, ROLE_ADMIN, api_audit_list},
    {"/api/v1/audit/verify", HTTP_GET, ROLE_ADMIN, api_audit_verify},
    /* CONTRACT §7 (api_federation.c) */
    {"/api/v1/regions", HTTP_GET, ROLE_VIEWER, api_regions},
    {"/api/v1/regions/", HTTP_GET, ROLE_VIEWER, api_region}, /* <id>, <id>/history */
    {"/api/v1/evaluations", HTTP_GET, ROLE_VIEWER, api_evaluations},
    {"/api/v1/evaluations", HTTP_POST, ROLE_ADMIN, api_evaluation_create},
    {"/api/v1/evaluations/", HTTP_GET, ROLE_VIEWER, api_evaluation}, /* <id> */
};

static const char *method_name(enum http_method m)
{
    return m == HTTP_GET ? "GET" : m == HTTP_POST ? "POST" : "DELETE";
}

/* The route of r's path and method, or NULL; *other (if not NULL) is then
 * the path's route for another method, if it has one. */
static const struct route *route_of(const struct http_request *r, const struct route **other)
{
    if (other)
        *other = NULL;
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        const struct route *rt = &routes[i];
        size_t n = strlen(rt->path);
        bool under = rt->path[n - 1] == '/'; /* a route for every path under it */
        if (under ? strncmp(rt->path, r->path, n) != 0 : strcmp(rt->path, r->path) != 0)
            continue;
        /* HEAD is GET without a body (http.c sends only the headers). */
        enum http_method m = r->method == HTTP_HEAD ? HTTP_GET : r->method;
        if (m == rt->method)
            return rt;
        if (other)
            *other = rt; /* a path may have a route per method: look on */
    }
    return NULL;
}

enum http_role api_route_role(void *ctx, const struct http_request *r)
{
    const struct route *rt = route_of(r, NULL);
    return rt ? rt->role : ROLE_NONE;
}

void api_route(void *ctx, struct http_request *r)
{
    struct api *a = ctx;
    const struct route *other, *rt = route_of(r, &other);
    if (rt && !http_role_allows(r->role, rt->role)) {
        http_reply_error(r, 403, "forbidden", "%s needs the %s role", rt->path,
                         http_role_name(rt->role));
        return;
    }
    if (rt)
        rt->fn(a, r);
    else if (other)
        http_reply_error(r, 405, "method_not_allowed", "%s takes %s", other->path,
                         method_name(other->method));
    else
        http_reply_error(r, 404, "not_found", "no such endpoint: %s", r->path);
}
