/* kpi.c — see kpi.h. CONTRACT §5.1–5.3, term by term. */
#include "kpi.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

static const char *const status_names[KPI_STATUS_COUNT] = {
    [KPI_MISSED] = "missed",     [KPI_WORSENING] = "worsening",     [KPI_OFF_TRACK] = "off_track",
    [KPI_AT_RISK] = "at_risk",   [KPI_NOT_STARTED] = "not_started", [KPI_NO_DATA] = "no_data",
    [KPI_ON_TRACK] = "on_track", [KPI_ACHIEVED] = "achieved",
};

const char *kpi_status_name(enum kpi_status s)
{
    return (unsigned)s < KPI_STATUS_COUNT ? status_names[s] : "?";
}

const char *kpi_agg_name(enum kpi_agg a)
{
    static const char *const names[] = {
        [KPI_SUM] = "sum",     [KPI_COUNT] = "count",       [KPI_AVG] = "avg",
        [KPI_MIN] = "min",     [KPI_MAX] = "max",           [KPI_LAST] = "last",
        [KPI_UNITS] = "units", [KPI_DISTINCT] = "distinct",
    };
    return (unsigned)a < sizeof names / sizeof names[0] ? names[a] : "?";
}

const char *kpi_period_name(enum kpi_period p)
{
    static const char *const names[] = {
        [PERIOD_TOTAL] = "total", [PERIOD_DAY] = "day",         [PERIOD_WEEK] = "week",
        [PERIOD_MONTH] = "month", [PERIOD_QUARTER] = "quarter", [PERIOD_YEAR] = "year",
        [PERIOD_RANGE] = "range",
    };
    return (unsigned)p < sizeof names / sizeof names[0] ? names[p] : "?";
}

/* ---- periods ------------------------------------------------------------ */

static int64_t floor_div(int64_t x, int64_t m)
{
    return rollup_floor(x, m) / m;
}

/* First day (days since the epoch, local) of the month `months` after
 * (y, m). */
static int64_t month_start(int64_t y, unsigned m, int months)
{
    int64_t index = y * 12 + (int64_t)m - 1 + months;
    return util_days_from_civil(floor_div(index, 12),
                                (unsigned)(index - floor_div(index, 12) * 12) + 1, 1);
}

void kpi_calendar_period(enum kpi_period p, int64_t tz_offset_ms, int64_t t, int64_t *from,
                         int64_t *to)
{
    int64_t day = floor_div(t + tz_offset_ms, ROLLUP_DAY_MS), first = day, end = day + 1;
    int64_t y;
    unsigned m, d;
    util_civil_from_days(day, &y, &m, &d);
    switch (p) {
    case PERIOD_WEEK: /* 1970-01-01 was a Thursday: Monday is day 4 of that week's count */
        first = day - (day + 3 - floor_div(day + 3, 7) * 7);
        end = first + 7;
        break;
    case PERIOD_MONTH:
        first = month_start(y, m, 0);
        end = month_start(y, m, 1);
        break;
    case PERIOD_QUARTER:
        first = month_start(y, (m - 1) / 3 * 3 + 1, 0);
        end = month_start(y, (m - 1) / 3 * 3 + 1, 3);
        break;
    case PERIOD_YEAR:
        first = util_days_from_civil(y, 1, 1);
        end = util_days_from_civil(y + 1, 1, 1);
        break;
    default: /* PERIOD_DAY */
        break;
    }
    *from = first * ROLLUP_DAY_MS - tz_offset_ms;
    *to = end * ROLLUP_DAY_MS - tz_offset_ms - 1;
}

void kpi_period_at(const struct catalog_kpi *k, int64_t tz_offset_ms, int64_t t, int64_t *from,
                   int64_t *to)
{
    switch (k->period) {
    case PERIOD_TOTAL:
        *from = INT64_MIN;
        *to = INT64_MAX;
        return;
    case PERIOD_RANGE:
        *from = k->range_from;
        *to = k->range_to;
        return;
    default:
        kpi_calendar_period(k->period, tz_offset_ms, t, from, to);
    }
}

/* ---- current ------------------------------------------------------------ */

void kpi_acc_init(struct kpi_acc *a, enum kpi_agg agg)
{
    memset(a, 0, sizeof *a);
    a->agg = agg;
    rollup_agg_init(&a->all);
}

void kpi_acc_free(struct kpi_acc *a)
{
    if (a->seen) {
        dict_free(a->seen);
        free(a->seen);
        a->seen = NULL;
    }
}

static bool counts_keys(enum kpi_agg agg)
{
    return agg == KPI_UNITS || agg == KPI_DISTINCT;
}

void kpi_acc_add(struct kpi_acc *a, const char *key, const struct rollup_agg *agg)
{
    /* count 0 is a delta without its sample (rollup.h): nothing was seen. */
    if (rollup_agg_empty(agg) || agg->count <= 0)
        return;
    if (!counts_keys(a->agg)) {
        rollup_agg_merge(&a->all, agg);
        return;
    }
    if (!key)
        return;
    if (!a->seen) {
        if (!(a->seen = malloc(sizeof *a->seen))) {
            a->failed = true;
            return;
        }
        dict_init(a->seen);
    }
    size_t len = strlen(key);
    if (!dict_get(a->seen, key, len) && dict_put(a->seen, key, len, a) != 0)
        a->failed = true;
}

bool kpi_acc_value(const struct kpi_acc *a, double *out)
{
    if (counts_keys(a->agg)) {
        if (!a->seen || a->seen->used == 0)
            return false;
        *out = (double)a->seen->used;
        return true;
    }
    const struct rollup_agg *g = &a->all;
    if (rollup_agg_empty(g) || g->count <= 0)
        return false;
    switch (a->agg) {
    case KPI_SUM:
        *out = g->sum;
        break;
    case KPI_COUNT:
        *out = (double)g->count;
        break;
    case KPI_MIN:
        *out = g->min;
        break;
    case KPI_MAX:
        *out = g->max;
        break;
    case KPI_LAST:
        *out = g->last;
        break;
    default: /* KPI_AVG */
        *out = g->sum / (double)g->count;
        break;
    }
    /* Two finite samples of 1.7e308 sum to inf: no value anyone can read
     * (CONTRACT §10: current null, status no_data). */
    return isfinite(*out);
}

/* ---- §5.2 ---------------------------------------------------------------- */

/* f = (T − S) / (D − S) clamped to [0, 1]. */
static double plan_fraction(int64_t t, int64_t s, int64_t d)
{
    if (t <= s)
        return 0;
    if (t >= d)
        return 1;
    return ((double)t - (double)s) / ((double)d - (double)s);
}

static enum kpi_status status_of(const struct kpi_eval *e, double f)
{
    if (!e->has_current)
        return KPI_NO_DATA;
    if (e->progress >= 1)
        return KPI_ACHIEVED;
    if (e->t > e->deadline)
        return KPI_MISSED;
    if (f == 0)
        return KPI_NOT_STARTED;
    double r = e->progress / f;
    if (r >= 0.95)
        return KPI_ON_TRACK;
    if (r >= 0.6)
        return KPI_AT_RISK;
    if (r >= 0)
        return KPI_OFF_TRACK;
    return KPI_WORSENING;
}

/* Epoch ms beyond this are not times anyone will read (±285,000 years). */
#define KPI_ETA_LIMIT 9e15

void kpi_evaluate(const struct catalog_kpi *k, int64_t tz_offset_ms, int64_t t, bool has_current,
                  double current, struct kpi_eval *out)
{
    memset(out, 0, sizeof *out);
    out->t = t;
    kpi_period_at(k, tz_offset_ms, t, &out->period_from, &out->period_to);
    out->start = k->has_start ? k->start : out->period_from;
    out->deadline = k->has_deadline ? k->deadline : out->period_to;

    double b = k->baseline, g = k->target;
    double f = plan_fraction(t, out->start, out->deadline);
    out->expected = b + (g - b) * f;
    if (has_current && !isfinite(current))
        has_current = false; /* CONTRACT §10: an aggregate that is not finite is no data */
    out->has_current = has_current;
    if (has_current) {
        out->current = current;
        out->has_progress = true;
        out->progress = (current - b) / (g - b);
        if (f > 0) {
            out->has_projected = true;
            out->projected = b + (current - b) / f;
        }
        if (out->progress > 0 && out->progress < 1) {
            double eta = (double)out->start + ((double)t - (double)out->start) / out->progress;
            if (fabs(eta) < KPI_ETA_LIMIT) {
                out->has_eta = true;
                out->eta = llround(eta);
            }
        }
    }
    out->status = status_of(out, f);
}

/* ---- §5.3 ---------------------------------------------------------------- */

void kpi_program_summary(const struct kpi_eval *const *kpis, int n, struct kpi_summary *out)
{
    memset(out, 0, sizeof *out);
    if (n <= 0)
        return;
    double sum = 0;
    out->has_health = true;
    out->health = KPI_ACHIEVED;
    for (int i = 0; i < n; i++) {
        const struct kpi_eval *e = kpis[i];
        if (e->has_progress)
            sum += e->progress < 0 ? 0 : e->progress > 1 ? 1 : e->progress;
        if (e->status < out->health)
            out->health = e->status;
    }
    out->has_progress = true;
    out->progress = sum / n;
}

void kpi_dimensions(const struct catalog *c, const struct kpi_summary *programs,
                    struct kpi_dimension out[DIM_COUNT])
{
    double sums[DIM_COUNT] = {0};
    int with_progress[DIM_COUNT] = {0};
    memset(out, 0, sizeof(struct kpi_dimension) * DIM_COUNT);
    for (int i = 0; i < c->n_programs; i++) {
        enum catalog_dimension d = c->programs[i].dimension;
        out[d].catalogued++;
        if (c->programs[i].status == PROGRAM_RUNNING)
            out[d].running++;
        if (programs[i].has_progress) {
            sums[d] += programs[i].progress;
            with_progress[d]++;
        }
    }
    for (int d = 0; d < DIM_COUNT; d++) {
        out[d].programs = out[d].catalogued;
        if (c->masterplan[d].given) {
            out[d].programs = c->masterplan[d].total;
            out[d].running = c->masterplan[d].running;
        }
        out[d].has_progress = with_progress[d] > 0;
        out[d].progress = with_progress[d] ? sums[d] / with_progress[d] : 0;
    }
}
