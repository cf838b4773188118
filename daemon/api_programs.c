/* api_programs.c — CONTRACT §2 and §5: /api/v1/programs, /programs/<id>,
 * /dimensions and /report, written from the KPI engine's values (kpi.h does
 * the arithmetic; this file only turns it into JSON). */
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "kpi_engine.h"
#include "parse.h"
#include "util.h"
#include "wire.h"

#define JSON "application/json"

/* ---- answers after the engine has caught up ------------------------------ */

enum view { VIEW_PROGRAMS, VIEW_PROGRAM, VIEW_DIMENSIONS };

struct pending {
    struct api *api;
    struct http_deferred *reply;
    enum view view;
    char id[SLUG_MAX + 1];
};

/* A finished JSON body as the answer, or a 500 when building it ran out of
 * memory. */
static void reply_json(struct http_deferred *d, struct buf *b)
{
    if (buf_failed(b)) {
        buf_free(b);
        http_deferred_reply_error(d, 500, "out_of_memory", "out of memory");
    } else {
        http_deferred_reply(d, 200, JSON, b);
    }
}

static void answer(void *ctx)
{
    struct pending *p = ctx;
    const struct catalog *c = kpi_engine_catalog(p->api->kpis);
    struct wire_snapshot s;
    struct buf b;
    int prog = p->view == VIEW_PROGRAM ? catalog_find_program(c, p->id) : 0;
    if (prog < 0) {
        http_deferred_reply_error(p->reply, 404, "not_found", "no such program: %s", p->id);
        free(p);
        return;
    }
    if (wire_snapshot_take(&s, c, p->api->kpis, util_now_ms(), NULL) != 0) {
        wire_snapshot_free(&s);
        http_deferred_reply_error(p->reply, 500, "out_of_memory", "out of memory");
        free(p);
        return;
    }
    buf_init(&b, 0);
    if (p->view == VIEW_PROGRAMS) {
        buf_puts(&b, "{\"regency\":");
        wire_regency(&b, c);
        buf_puts(&b, ",\"programs\":");
        wire_programs(&b, &s, NULL);
    } else if (p->view == VIEW_PROGRAM) {
        buf_puts(&b, "{\"program\":");
        wire_program(&b, &s, prog, NULL);
    } else {
        buf_puts(&b, "{\"dimensions\":");
        wire_dimensions(&b, &s);
    }
    buf_puts(&b, "}\n");
    wire_snapshot_free(&s);
    reply_json(p->reply, &b);
    free(p);
}

static void start_view(struct api *a, struct http_request *r, enum view view, const char *id)
{
    struct pending *p = calloc(1, sizeof *p);
    if (!p || !(p->reply = http_defer(r))) {
        free(p);
        http_reply_error(r, 500, "out_of_memory", "out of memory");
        return;
    }
    p->api = a;
    p->view = view;
    snprintf(p->id, sizeof p->id, "%s", id ? id : "");
    if (kpi_engine_sync(a->kpis, answer, p) != 0) {
        http_deferred_reply_error(p->reply, 500, "out_of_memory", "out of memory");
        free(p);
    }
}

void api_programs(struct api *a, struct http_request *r)
{
    start_view(a, r, VIEW_PROGRAMS, NULL);
}

void api_program(struct api *a, struct http_request *r, const char *id)
{
    if (!util_is_slug(id, strlen(id))) {
        http_reply_error(r, 404, "not_found", "no such program");
        return;
    }
    start_view(a, r, VIEW_PROGRAM, id);
}

void api_dimensions(struct api *a, struct http_request *r)
{
    start_view(a, r, VIEW_DIMENSIONS, NULL);
}

/* ---- /report ----------------------------------------------------------------- */

struct report_req {
    struct api *a;
    struct http_deferred *reply;
    int64_t generated_at;
};

static void report_done(void *ctx, const struct kpi_report *r)
{
    struct report_req *q = ctx;
    struct wire_snapshot s = {0};
    api_heavy_give(q->a);
    if (r->status != 0 || wire_snapshot_take(&s, r->catalog, NULL, r->to, r) != 0) {
        wire_snapshot_free(&s);
        http_deferred_reply_error(
            q->reply, 503, "unavailable",
            "the report could not be computed (database busy or catalog reloaded); retry");
        free(q);
        return;
    }
    struct buf b;
    buf_init(&b, 0);
    buf_puts(&b, "{\"regency\":");
    wire_regency(&b, r->catalog);
    buf_printf(&b, ",\"from\":%lld,\"to\":%lld,\"generated_at\":%lld,\"dimensions\":",
               (long long)r->from, (long long)r->to, (long long)q->generated_at);
    wire_dimensions(&b, &s);
    buf_puts(&b, ",\"programs\":");
    wire_programs(&b, &s, r);
    buf_puts(&b, ",\"alerts\":");
    wire_snapshot_free(&s);
    if (buf_failed(&b))
        reply_json(q->reply, &b);
    else
        api_alerts_answer(q->a, q->reply, &b, "}\n", r->from, r->to);
    free(q);
}

static int time_arg(struct http_request *r, const char *name, int64_t *out)
{
    char buf[64];
    const char *v = api_time_arg(r, name, buf, sizeof buf);
    if (!v) {
        http_reply_error(r, 400, "bad_parameter", "%s is required", name);
        return -1;
    }
    if (parse_time_param(v, out) != 0) {
        http_reply_error(r, 400, "bad_parameter", "%s must be epoch ms or RFC 3339", name);
        return -1;
    }
    return 0;
}

void api_report(struct api *a, struct http_request *r)
{
    int64_t from, to;
    if (time_arg(r, "from", &from) != 0 || time_arg(r, "to", &to) != 0)
        return;
    if (from > to) {
        http_reply_error(r, 400, "bad_parameter", "from is after to");
        return;
    }
    if (!api_heavy_take(a, r))
        return;
    struct report_req *q = calloc(1, sizeof *q);
    if (!q || !(q->reply = http_defer(r))) {
        free(q);
        api_heavy_give(a);
        http_reply_error(r, 500, "out_of_memory", "out of memory");
        return;
    }
    q->a = a;
    q->generated_at = util_now_ms();
    if (kpi_engine_report(a->kpis, from, to, report_done, q) != 0) {
        api_heavy_give(a);
        http_deferred_reply_error(q->reply, 503, "unavailable",
                                  "cannot start the report now; retry");
        free(q);
    }
}
