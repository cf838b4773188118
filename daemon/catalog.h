/* catalog.h — a regency's masterplan: its programs, their KPIs and targets,
 * and the alert rules (CONTRACT §5, §6), read from one INI file.
 *
 * Pure data: catalog_load parses and validates a file into an immutable
 * struct catalog that owns every string in it; nothing here does I/O after
 * loading, keeps global state, or knows about the store. The KPI arithmetic
 * lives in kpi.h, the engine that keeps KPIs current in kpi_engine.h.
 *
 * Every problem is reported as "file:line: problem" through the callback,
 * one per problem (not just the first), so --check-config lists them all. A
 * catalog with problems is never returned: a reload that fails keeps the old
 * one.
 *
 * Times: dates in the file are local dates of the regency's time zone; they
 * are stored here as epoch ms. A start is the local midnight that begins the
 * day; a deadline (or a range's last day) is the last millisecond of the day
 * (the next local midnight - 1 ms), since `to` is inclusive everywhere. */
#ifndef PANTAU_CATALOG_H
#define PANTAU_CATALOG_H

#include <stdbool.h>
#include <stdint.h>

#define CATALOG_MAX_LABELS 8

enum catalog_dimension {
    DIM_GOVERNANCE,
    DIM_BRANDING,
    DIM_ECONOMY,
    DIM_LIVING,
    DIM_SOCIETY,
    DIM_ENVIRONMENT,
    DIM_COUNT
};

enum catalog_program_status { PROGRAM_PLANNED, PROGRAM_RUNNING, PROGRAM_DONE };

enum kpi_agg { KPI_SUM, KPI_COUNT, KPI_AVG, KPI_MIN, KPI_MAX, KPI_LAST, KPI_UNITS, KPI_DISTINCT };

enum kpi_period {
    PERIOD_TOTAL,
    PERIOD_DAY,
    PERIOD_WEEK, /* weeks start on Monday */
    PERIOD_MONTH,
    PERIOD_QUARTER,
    PERIOD_YEAR,
    PERIOD_RANGE /* YYYY-MM-DD..YYYY-MM-DD */
};

enum rule_condition {
    RULE_ABOVE,
    RULE_BELOW,
    RULE_ABOVE_REFERENCE,
    RULE_BELOW_REFERENCE,
    RULE_SILENT
};

enum rule_severity { SEVERITY_INFO, SEVERITY_WARNING, SEVERITY_CRITICAL };

/* A label filter "key=value"; value "*" matches any value (the key must be
 * present). */
struct catalog_label {
    char *key, *value;
};

/* Which series a KPI or a rule reads: its program's, of one metric (NULL for
 * a silent rule), having every label pair, from one of `units` (none: any). */
struct catalog_match {
    char *metric;
    struct catalog_label labels[CATALOG_MAX_LABELS];
    int n_labels;
    char **units;
    int n_units;
};

struct catalog_program {
    char *id, *name;
    char *agency, *description; /* NULL when not given */
    enum catalog_dimension dimension;
    enum catalog_program_status status; /* default running */
    int64_t stale_after_ms;             /* 0: [units] stale_after of the config */
    int line;                           /* of the section header */
};

struct catalog_kpi {
    int program;     /* index into catalog.programs */
    char *id, *name; /* id: the part after the slash */
    struct catalog_match match;
    enum kpi_agg agg;
    char *distinct_label; /* KPI_DISTINCT: the label counted */
    enum kpi_period period;
    int64_t range_from, range_to; /* PERIOD_RANGE: first ms of the first day, last ms of the last */
    double target, baseline;      /* baseline default 0; target != baseline */
    bool has_start, has_deadline; /* else the period's start / end at T */
    int64_t start, deadline;
    char *display_unit; /* NULL when not given */
    int line;
};

struct catalog_rule {
    char *id;
    int program;                /* index into catalog.programs */
    struct catalog_match match; /* match.metric NULL only for RULE_SILENT */
    enum rule_condition condition;
    double threshold;    /* above/below: X; *_reference: P (percent) */
    double clear;        /* clear / clear_reference; default the threshold */
    char *reference;     /* *_reference: the reference metric */
    char **match_labels; /* *_reference: labels that must equal the series' */
    int n_match_labels;
    int64_t silent_ms;           /* RULE_SILENT: the silence that fires */
    int64_t for_ms;              /* default 0 */
    enum rule_severity severity; /* default warning */
    char *message;               /* NULL: the default message */
    bool escalates;              /* `escalate` given (CONTRACT §8) */
    int64_t escalate_ms;         /* unacknowledged this long after fired_at: escalated */
    int line;
};

struct catalog_masterplan {
    bool given;
    int running, total;
};

/* A region a hub expects (CONTRACT §7: [region <id>]). */
struct catalog_region {
    char *id, *name;
    char *code;     /* NN or NN.NN; NULL when not given */
    char *province; /* NULL when not given */
    int line;
};

struct catalog {
    char *path; /* the file it was read from */
    char *regency_id, *regency_name;
    char *regency_code;     /* Kemendagri code NN or NN.NN; NULL when not given */
    char *regency_province; /* NULL when not given */
    int64_t tz_offset_ms;   /* WIB +07:00 (default), WITA +08:00, WIT +09:00, or ±HH:MM */
    struct catalog_masterplan masterplan[DIM_COUNT];
    struct catalog_program *programs; /* in file order */
    int n_programs;
    struct catalog_kpi *kpis; /* in file order */
    int n_kpis;
    struct catalog_rule *rules; /* in file order */
    int n_rules;
    struct catalog_region *regions; /* a hub's expected regions, in file order */
    int n_regions;
};

/* Called once per problem; line 0 when the problem belongs to no line (an
 * unreadable file). */
typedef void (*catalog_report_fn)(void *ctx, const char *file, int line, const char *problem);

/* Reads and validates `path`. Returns the number of problems (each passed to
 * report); on 0, *out is the new catalog (free with catalog_free). On
 * problems *out is NULL. Returns -1 only when out of memory. */
int catalog_load(struct catalog **out, const char *path, catalog_report_fn report, void *ctx);

/* A catalog with no regency and no programs, in WIB: what pantaud runs with
 * when none is configured. NULL when out of memory. */
struct catalog *catalog_empty(void);

/* NULL is a no-op. */
void catalog_free(struct catalog *c);

/* Names as the contract writes them: "governance", "sum", "distinct",
 * "on_track"... and the dimensions' display names ("Smart Governance"). */
const char *catalog_dimension_id(enum catalog_dimension d);
const char *catalog_dimension_name(enum catalog_dimension d);
const char *catalog_program_status_name(enum catalog_program_status s);
const char *catalog_severity_name(enum rule_severity s);

/* The program with this id, or -1. */
int catalog_find_program(const struct catalog *c, const char *id);

/* True if a series (unit, labels as canonical JSON) of the match's program
 * and metric passes its label and unit filters. */
bool catalog_match_series(const struct catalog_match *m, const char *unit, const char *labels_json);

/* The region with this id, or -1. */
int catalog_find_region(const struct catalog *c, const char *id);

/* True for a Kemendagri region code: NN or NN.NN (digits). */
bool catalog_valid_code(const char *s);

/* "+07:00" for 25200000 (buf of at least 7 bytes). */
void catalog_format_tz(int64_t tz_offset_ms, char *out);

#endif
