/* kpi.h — the arithmetic of CONTRACT §5.1–5.3: a KPI's period at a time T,
 * its current value from per-series aggregates, progress, expected,
 * projected, eta and status; a program's progress and health; a dimension's
 * progress. Pure: no I/O, no clock (T is always passed in), no global state,
 * so every rule is table-tested (tests/test_kpi.c).
 *
 * Where the numbers come from is kpi_engine.h's business: it reads, for each
 * series a KPI matches, the aggregate of its samples in [period.from,
 * min(period.to, T)] from the rollups, and folds them here. */
#ifndef PANTAU_KPI_H
#define PANTAU_KPI_H

#include <stdbool.h>
#include <stdint.h>

#include "catalog.h"
#include "dict.h"
#include "agg.h"

/* Worst first: the order of a program's health (§5.3). */
enum kpi_status {
    KPI_MISSED,
    KPI_WORSENING,
    KPI_OFF_TRACK,
    KPI_AT_RISK,
    KPI_NOT_STARTED,
    KPI_NO_DATA,
    KPI_ON_TRACK,
    KPI_ACHIEVED,
    KPI_STATUS_COUNT
};

const char *kpi_status_name(enum kpi_status s);
const char *kpi_agg_name(enum kpi_agg a); /* "distinct" for KPI_DISTINCT */
const char *kpi_period_name(enum kpi_period p);

/* The period containing t in a time zone (offset ms), as [*from, *to], both
 * inclusive. PERIOD_TOTAL: INT64_MIN, INT64_MAX (unbounded). */
void kpi_period_at(const struct catalog_kpi *k, int64_t tz_offset_ms, int64_t t, int64_t *from,
                   int64_t *to);

/* The calendar period (day .. year) holding t: [*from, *to]. Also used for
 * the next boundary, when the period rolls over. */
void kpi_calendar_period(enum kpi_period p, int64_t tz_offset_ms, int64_t t, int64_t *from,
                         int64_t *to);

/* ---- current: folding per-series aggregates ---------------------------- */

/* Accumulates what `current` needs over the series of one KPI. For
 * KPI_UNITS and KPI_DISTINCT it keeps the set of distinct units or label
 * values among series that have at least one sample (a dict it owns). */
struct kpi_acc {
    enum kpi_agg agg;
    struct rollup_agg all; /* the other aggs: merged over every series */
    struct dict *seen;     /* units / distinct: the values seen */
    bool failed;           /* out of memory */
};

void kpi_acc_init(struct kpi_acc *a, enum kpi_agg agg);
void kpi_acc_free(struct kpi_acc *a);
/* One series' aggregate over the range; `key` is its unit (KPI_UNITS) or
 * its value of the counted label (KPI_DISTINCT; NULL: the series lacks the
 * label and does not count), ignored otherwise. An empty aggregate (no
 * sample) adds nothing. Equal last_ts across series: the later call wins. */
void kpi_acc_add(struct kpi_acc *a, const char *key, const struct rollup_agg *agg);
/* The value of `current`; false when no sample counted (current is null). */
bool kpi_acc_value(const struct kpi_acc *a, double *out);

/* ---- §5.2 ---------------------------------------------------------------- */

struct kpi_eval {
    int64_t t;                      /* evaluated as of t */
    int64_t period_from, period_to; /* INT64_MIN / INT64_MAX for total */
    int64_t start, deadline;        /* S and D as used */
    bool has_current;
    double current;
    bool has_progress; /* false without data */
    double progress;   /* not clamped */
    double expected;   /* B + (G - B) * f */
    bool has_projected;
    double projected;
    bool has_eta;
    int64_t eta;
    enum kpi_status status;
};

/* Evaluates k at time t given its current value (has_current false: no
 * sample). */
void kpi_evaluate(const struct catalog_kpi *k, int64_t tz_offset_ms, int64_t t, bool has_current,
                  double current, struct kpi_eval *out);

/* ---- §5.3 ---------------------------------------------------------------- */

struct kpi_summary {
    bool has_progress;
    double progress; /* programs: mean of clamped progress, null as 0; dimensions: mean */
    bool has_health;
    enum kpi_status health; /* worst status */
};

/* A program's progress and health from its KPIs' evaluations. */
void kpi_program_summary(const struct kpi_eval *const *kpis, int n, struct kpi_summary *out);

/* A dimension's counts and progress. */
struct kpi_dimension {
    int programs, running, catalogued;
    bool has_progress;
    double progress;
};
/* programs[i] is the summary of catalog program i. */
void kpi_dimensions(const struct catalog *c, const struct kpi_summary *programs,
                    struct kpi_dimension out[DIM_COUNT]);

#endif
