/* wire.c — see wire.h. */
#include "wire.h"

#include <stdlib.h>

#include "presence.h"

void wire_opt_str(struct buf *b, const char *s)
{
    if (s)
        buf_json_str(b, s);
    else
        buf_puts(b, "null");
}

void wire_opt_num(struct buf *b, bool has, double v)
{
    if (has)
        buf_json_num(b, v);
    else
        buf_puts(b, "null");
}

void wire_time(struct buf *b, int64_t t)
{
    if (t == INT64_MIN || t == INT64_MAX)
        buf_puts(b, "null");
    else
        buf_printf(b, "%lld", (long long)t);
}

void wire_regency(struct buf *b, const struct catalog *c)
{
    char tz[8];
    catalog_format_tz(c->tz_offset_ms, tz);
    buf_puts(b, "{\"id\":");
    wire_opt_str(b, c->regency_id);
    buf_puts(b, ",\"name\":");
    wire_opt_str(b, c->regency_name);
    buf_printf(b, ",\"timezone\":\"%s\"}", tz);
}

static void match_json(struct buf *b, const struct catalog_match *m)
{
    buf_puts(b, "\"labels\":{");
    for (int i = 0; i < m->n_labels; i++) {
        buf_puts(b, i ? "," : "");
        buf_json_str(b, m->labels[i].key);
        buf_puts(b, ":");
        buf_json_str(b, m->labels[i].value);
    }
    buf_puts(b, "},\"units\":");
    if (!m->units) {
        buf_puts(b, "null");
        return;
    }
    buf_puts(b, "[");
    for (int i = 0; i < m->n_units; i++) {
        buf_puts(b, i ? "," : "");
        buf_json_str(b, m->units[i]);
    }
    buf_puts(b, "]");
}

static void kpi_json(struct buf *b, const struct catalog_kpi *k, const struct kpi_eval *ev,
                     const struct kpi_report *report, int index)
{
    buf_puts(b, "{\"id\":");
    buf_json_str(b, k->id);
    buf_puts(b, ",\"name\":");
    buf_json_str(b, k->name);
    buf_puts(b, ",\"metric\":");
    buf_json_str(b, k->match.metric);
    buf_puts(b, ",");
    match_json(b, &k->match);
    buf_printf(b, ",\"agg\":\"%s%s%s\",\"period\":{\"from\":", kpi_agg_name(k->agg),
               k->agg == KPI_DISTINCT ? ":" : "", k->agg == KPI_DISTINCT ? k->distinct_label : "");
    wire_time(b, ev->period_from);
    buf_puts(b, ",\"to\":");
    wire_time(b, ev->period_to);
    buf_puts(b, "},\"display_unit\":");
    wire_opt_str(b, k->display_unit);
    buf_puts(b, ",\"baseline\":");
    buf_json_num(b, k->baseline);
    buf_puts(b, ",\"target\":");
    buf_json_num(b, k->target);
    buf_puts(b, ",\"start\":");
    wire_time(b, ev->start);
    buf_puts(b, ",\"deadline\":");
    wire_time(b, ev->deadline);
    buf_puts(b, ",\"current\":");
    wire_opt_num(b, ev->has_current, ev->current);
    buf_puts(b, ",\"progress\":");
    wire_opt_num(b, ev->has_progress, ev->progress);
    buf_puts(b, ",\"expected\":");
    buf_json_num(b, ev->expected);
    buf_puts(b, ",\"projected\":");
    wire_opt_num(b, ev->has_projected, ev->projected);
    buf_puts(b, ",\"eta\":");
    if (ev->has_eta)
        buf_printf(b, "%lld", (long long)ev->eta);
    else
        buf_puts(b, "null");
    buf_printf(b, ",\"status\":\"%s\"", kpi_status_name(ev->status));
    if (report) {
        buf_puts(b, ",\"value_at_from\":");
        wire_opt_num(b, report->has_at_from[index], report->at_from[index]);
        buf_puts(b, ",\"value_at_to\":");
        wire_opt_num(b, report->has_at_to[index], report->at_to[index]);
    }
    buf_puts(b, "}");
}

void wire_kpi(struct buf *b, const struct catalog_kpi *k, const struct kpi_eval *ev)
{
    kpi_json(b, k, ev, NULL, 0);
}

void wire_report_kpi(struct buf *b, const struct catalog_kpi *k, const struct kpi_eval *ev,
                     const struct kpi_report *report, int index)
{
    kpi_json(b, k, ev, report, index);
}

static void put_time(struct buf *b, const char *key, int64_t ms)
{
    buf_printf(b, ",\"%s\":", key);
    if (ms)
        buf_printf(b, "%lld", (long long)ms);
    else
        buf_puts(b, "null");
}

static void put_real(struct buf *b, const char *key, bool has, double v)
{
    buf_printf(b, ",\"%s\":", key);
    if (has)
        buf_json_num(b, v);
    else
        buf_puts(b, "null");
}

static void put_text(struct buf *b, const char *key, const char *v)
{
    buf_printf(b, ",\"%s\":", key);
    if (v)
        buf_json_str(b, v);
    else
        buf_puts(b, "null");
}

void wire_alert(struct buf *b, const struct alert_record *a)
{
    buf_printf(b, "{\"id\":%lld", (long long)a->id);
    put_text(b, "rule", a->rule);
    put_text(b, "severity", catalog_severity_name(a->severity));
    put_text(b, "program", a->program);
    put_text(b, "unit", a->unit);
    put_text(b, "metric", a->metric);
    buf_printf(b, ",\"labels\":%s", a->labels_json ? a->labels_json : "null");
    put_text(b, "state", a->resolved_at ? "resolved" : "firing");
    put_time(b, "since", a->since);
    put_time(b, "fired_at", a->fired_at);
    put_time(b, "resolved_at", a->resolved_at);
    put_real(b, "value", a->has_value, a->value);
    put_real(b, "reference", a->has_reference, a->reference);
    put_real(b, "deviation", a->has_deviation, a->deviation);
    put_text(b, "message", a->message);
    put_time(b, "acked_at", a->acked_at);
    put_text(b, "acked_by", a->acked_by);
    put_text(b, "ack_note", a->ack_note);
    put_time(b, "escalated_at", a->escalated_at);
    buf_puts(b, "}");
}

void wire_unit(struct buf *b, const struct store_unit_view *u, int64_t now, int64_t stale_ms)
{
    buf_puts(b, "{\"program\":");
    buf_json_str(b, u->program);
    buf_puts(b, ",\"unit\":");
    buf_json_str(b, u->unit);
    buf_printf(b, ",\"status\":\"%s\",\"last_seen\":",
               presence_status_name(presence_status_of(u, now, stale_ms)));
    if (u->last_seen)
        buf_printf(b, "%lld", (long long)u->last_seen);
    else
        buf_puts(b, "null");
    if (u->has_position) {
        buf_puts(b, ",\"lat\":");
        buf_json_num(b, u->lat);
        buf_puts(b, ",\"lon\":");
        buf_json_num(b, u->lon);
    } else {
        buf_puts(b, ",\"lat\":null,\"lon\":null");
    }
    buf_puts(b, "}");
}

/* ---- programs and dimensions (CONTRACT §2, §5.3) ---- */

int wire_snapshot_take(struct wire_snapshot *s, const struct catalog *c, struct kpi_engine *e,
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

void wire_snapshot_free(struct wire_snapshot *s)
{
    free(s->evals);
    free(s->programs);
}

void wire_program(struct buf *b, const struct wire_snapshot *s, int p,
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

void wire_programs(struct buf *b, const struct wire_snapshot *s, const struct kpi_report *report)
{
    buf_puts(b, "[");
    for (int p = 0; p < s->c->n_programs; p++) {
        buf_puts(b, p ? "," : "");
        wire_program(b, s, p, report);
    }
    buf_puts(b, "]");
}

void wire_dimensions(struct buf *b, const struct wire_snapshot *s)
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

void wire_regency_full(struct buf *b, const struct catalog *c)
{
    char tz[8];
    catalog_format_tz(c->tz_offset_ms, tz);
    buf_puts(b, "{\"id\":");
    wire_opt_str(b, c->regency_id);
    buf_puts(b, ",\"name\":");
    wire_opt_str(b, c->regency_name);
    buf_puts(b, ",\"code\":");
    wire_opt_str(b, c->regency_code);
    buf_puts(b, ",\"province\":");
    wire_opt_str(b, c->regency_province);
    buf_printf(b, ",\"timezone\":\"%s\"}", tz);
}
