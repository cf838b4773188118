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

/* Every KPI evaluated at one time, and each program's summary. */
struct snapshot {
    const struct catalog *c;
    struct kpi_eval *evals;       /* per KPI */
    struct kpi_summary *programs; /* per program */
};

static int snapshot_take(struct snapshot *s, const struct catalog *c, struct kpi_engine *e,
                         int64_t t, const struct kpi_report *report)
{
    s->c = c;
    s->evals = calloc((size_t)c->n_kpis + 1, sizeof *s->evals);
    s->programs = calloc((size_t)c->n_programs + 1, sizeof *s->programs);
    const struct kpi_eval **mine = calloc((size_t)c->n_kpis + 1, sizeof *mine);
    if (!s->evals || !s->programs || !mine) {
        free(mine);
        return -1;
    }
    for (int i = 0; i < c->n_kpis; i++) {
        if (report)
            kpi_evaluate(&c->kpis[i], c->tz_offset_ms, t, report->has_at_to[i], report->at_to[i],
                         &s->evals[i]);
        else
            kpi_engine_eval(e, i, t, &s->evals[i]);
    }
    for (int p = 0; p < c->n_programs; p++) {
        int n = 0;
        for (int i = 0; i < c->n_kpis; i++)
            if (c->kpis[i].program == p)
                mine[n++] = &s->evals[i];
        kpi_program_summary(mine, n, &s->programs[p]);
    }
    free(mine);
    return 0;
}

static void snapshot_free(struct snapshot *s)
{
    free(s->evals);
    free(s->programs);
}

static void program_json(struct buf *b, const struct snapshot *s, int p,
                         const struct kpi_report *report)
{
    const struct catalog_program *pr = &s->c->programs[p];
    const struct kpi_summary *sum = &s->programs[p];
    buf_puts(b, "{\"id\":");
    buf_json_str(b, pr->id);
    buf_puts(b, ",\"name\":");
    buf_json_str(b, pr->name);
    buf_printf(b, ",\"dimension\":\"%s\",\"agency\":", catalog_dimension_id(pr->dimension));
    wire_opt_str(b, pr->agency);
    buf_puts(b, ",\"description\":");
    wire_opt_str(b, pr->description);
    buf_printf(b, ",\"status\":\"%s\",\"progress\":", catalog_program_status_name(pr->status));
    wire_opt_num(b, sum->has_progress, sum->progress);
    buf_puts(b, ",\"health\":");
    if (sum->has_health)
        buf_printf(b, "\"%s\"", kpi_status_name(sum->health));
    else
        buf_puts(b, "null");
    buf_puts(b, ",\"kpis\":[");
    int n = 0;
    for (int i = 0; i < s->c->n_kpis; i++) {
        if (s->c->kpis[i].program != p)
            continue;
        buf_puts(b, n++ ? "," : "");
        wire_report_kpi(b, &s->c->kpis[i], &s->evals[i], report, i);
    }
    buf_puts(b, "]}");
}

static void programs_array(struct buf *b, const struct snapshot *s, const struct kpi_report *report)
{
    buf_puts(b, "[");
    for (int p = 0; p < s->c->n_programs; p++) {
        buf_puts(b, p ? "," : "");
        program_json(b, s, p, report);
    }
    buf_puts(b, "]");
}

static void dimensions_array(struct buf *b, const struct snapshot *s)
{
    struct kpi_dimension dims[DIM_COUNT];
    kpi_dimensions(s->c, s->programs, dims);
    buf_puts(b, "[");
    for (int d = 0; d < DIM_COUNT; d++) {
        buf_printf(b,
                   "%s{\"id\":\"%s\",\"name\":\"%s\",\"programs\":%d,\"running\":%d,"
                   "\"catalogued\":%d,\"progress\":",
                   d ? "," : "", catalog_dimension_id((enum catalog_dimension)d),
                   catalog_dimension_name((enum catalog_dimension)d), dims[d].programs,
                   dims[d].running, dims[d].catalogued);
        wire_opt_num(b, dims[d].has_progress, dims[d].progress);
        buf_puts(b, "}");
    }
    buf_puts(b, "]");
}

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
    struct snapshot s;
    struct buf b;
    int prog = p->view == VIEW_PROGRAM ? catalog_find_program(c, p->id) : 0;
    if (prog < 0) {
        http_deferred_reply_error(p->reply, 404, "not_found", "no such program: %s", p->id);
        free(p);
        return;
    }
    if (snapshot_take(&s, c, p->api->kpis, util_now_ms(), NULL) != 0) {
        snapshot_free(&s);
        http_deferred_reply_error(p->reply, 500, "out_of_memory", "out of memory");
        free(p);
        return;
    }
    buf_init(&b, 0);
    if (p->view == VIEW_PROGRAMS) {
        buf_puts(&b, "{\"regency\":");
        wire_regency(&b, c);
        buf_puts(&b, ",\"programs\":");
        programs_array(&b, &s, NULL);
    } else if (p->view == VIEW_PROGRAM) {
        buf_puts(&b, "{\"program\":");
        program_json(&b, &s, prog, NULL);
    } else {
        buf_puts(&b, "{\"dimensions\":");
        dimensions_array(&b, &s);
    }
    buf_puts(&b, "}\n");
    snapshot_free(&s);
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
    struct snapshot s = {0};
    api_heavy_give(q->a);
    if (r->status != 0 || snapshot_take(&s, r->catalog, NULL, r->to, r) != 0) {
        snapshot_free(&s);
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
    dimensions_array(&b, &s);
    buf_puts(&b, ",\"programs\":");
    programs_array(&b, &s, r);
    buf_puts(&b, ",\"alerts\":");
    api_alerts_array(q->a, &b, r->from, r->to);
    buf_puts(&b, "}\n");
    snapshot_free(&s);
    reply_json(q->reply, &b);
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
