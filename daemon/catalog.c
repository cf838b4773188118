/* catalog.c — see catalog.h. The file is read once through inifile; each
 * key is checked and stored as it comes, each section is checked for
 * required and conflicting keys when the next header (or the end) arrives,
 * and what may be written in any order is settled at the end: a KPI or rule
 * may name a program defined further down, and [regency] (whose time zone
 * turns dates into instants) may come last. Until then dates are kept as day
 * numbers in the ms fields. */
#include "catalog.h"

#include <ctype.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "inifile.h"
#include "util.h"

#define DAY_MS        86400000LL
#define WIB_MS        (7 * 3600000LL)
#define LABEL_VAL_MAX 64
/* Durations past this would overflow ms arithmetic downstream; 100 years. */
#define DURATION_MAX_MS (36500 * DAY_MS)

static const char *const dimension_ids[DIM_COUNT] = {"governance", "branding", "economy",
                                                     "living",     "society",  "environment"};
static const char *const dimension_names[DIM_COUNT] = {"Smart Governance", "Smart Branding",
                                                       "Smart Economy",    "Smart Living",
                                                       "Smart Society",    "Smart Environment"};
static const char *const status_names[] = {"planned", "running", "done", NULL};
static const char *const agg_names[] = {"sum",  "count", "avg",      "min", "max",
                                        "last", "units", "distinct", NULL};
static const char *const period_names[] = {"total",   "day",  "week", "month",
                                           "quarter", "year", NULL};
static const char *const severity_names[] = {"info", "warning", "critical", NULL};

/* ---- names ---- */

static const char *name_of(const char *const *names, int n, int i)
{
    return i >= 0 && i < n ? names[i] : "?";
}

const char *catalog_dimension_id(enum catalog_dimension d)
{
    return name_of(dimension_ids, DIM_COUNT, (int)d);
}

const char *catalog_dimension_name(enum catalog_dimension d)
{
    return name_of(dimension_names, DIM_COUNT, (int)d);
}

const char *catalog_program_status_name(enum catalog_program_status s)
{
    return name_of(status_names, 3, (int)s);
}

const char *catalog_severity_name(enum rule_severity s)
{
    return name_of(severity_names, 3, (int)s);
}

/* The index of s in a NULL-terminated list, or -1. */
static int index_of(const char *const *names, const char *s)
{
    for (int i = 0; names[i]; i++)
        if (strcmp(names[i], s) == 0)
            return i;
    return -1;
}

/* ---- sections and their keys ---- */

enum kind { S_IGNORED, S_REGENCY, S_MASTERPLAN, S_PROGRAM, S_KPI, S_RULE, S_REGION };

enum { R_ID, R_NAME, R_TIMEZONE, R_CODE, R_PROVINCE };
static const char *const regency_keys[] = {"id", "name", "timezone", "code", "province", NULL};
enum { G_NAME, G_CODE, G_PROVINCE };
static const char *const region_keys[] = {"name", "code", "province", NULL};
static const char *const masterplan_keys[] = {"governance", "branding",    "economy", "living",
                                              "society",    "environment", NULL};
enum { P_NAME, P_DIMENSION, P_AGENCY, P_DESCRIPTION, P_STATUS, P_STALE_AFTER };
static const char *const program_keys[] = {"name",   "dimension",   "agency", "description",
                                           "status", "stale_after", NULL};
enum {
    K_NAME,
    K_METRIC,
    K_LABELS,
    K_UNITS,
    K_AGG,
    K_PERIOD,
    K_TARGET,
    K_BASELINE,
    K_START,
    K_DEADLINE,
    K_DISPLAY_UNIT
};
static const char *const kpi_keys[] = {"name",  "metric",   "labels",       "units",
                                       "agg",   "period",   "target",       "baseline",
                                       "start", "deadline", "display_unit", NULL};
/* The five conditions come first, in enum rule_condition's order. */
enum {
    U_SILENT = RULE_SILENT,
    U_PROGRAM,
    U_METRIC,
    U_LABELS,
    U_UNITS,
    U_REFERENCE,
    U_MATCH,
    U_CLEAR,
    U_CLEAR_REFERENCE,
    U_FOR,
    U_SEVERITY,
    U_MESSAGE,
    U_ESCALATE
};
static const char *const rule_keys[] = {
    "above",           "below",  "above_reference", "below_reference", "silent",   "program",
    "metric",          "labels", "units",           "reference",       "match",    "clear",
    "clear_reference", "for",    "severity",        "message",         "escalate", NULL};
#define MAX_KEYS 17

static const char *const *keys_of(enum kind k)
{
    switch (k) {
    case S_REGENCY:
        return regency_keys;
    case S_MASTERPLAN:
        return masterplan_keys;
    case S_PROGRAM:
        return program_keys;
    case S_KPI:
        return kpi_keys;
    case S_RULE:
        return rule_keys;
    case S_REGION:
        return region_keys;
    case S_IGNORED:
        break;
    }
    return NULL;
}

/* State of one catalog_load. */
struct parse {
    struct catalog *c;
    const char *path;
    catalog_report_fn report;
    void *ctx;
    int problems;
    bool oom;
    int regency_line, masterplan_line; /* of their headers; 0 until seen */
    char **kpi_program;                /* per KPI: the program id, resolved at the end */
    char **rule_program;               /* per rule: likewise (NULL when not given) */
    /* The section being read. */
    enum kind kind;
    const char *header; /* its name, as in the file, for messages */
    char header_buf[128];
    int line;
    int key_line[MAX_KEYS]; /* where each key was given; 0: not given */
    bool key_bad[MAX_KEYS]; /* given with a bad value (already reported) */
};

static void problem(struct parse *p, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void problem(struct parse *p, int line, const char *fmt, ...)
{
    char text[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    p->problems++;
    p->report(p->ctx, p->path, line, text);
}

static char *dup(struct parse *p, const char *s)
{
    char *copy = strdup(s);
    if (!copy)
        p->oom = true;
    return copy;
}

/* Grows *arr (of *n elements) by one zeroed element; returns it or NULL. */
static void *append(struct parse *p, void *arr_ptr, int *n, size_t size)
{
    void **arr = arr_ptr;
    char *grown = realloc(*arr, (size_t)(*n + 1) * size);
    if (!grown) {
        p->oom = true;
        return NULL;
    }
    *arr = grown;
    memset(grown + (size_t)*n * size, 0, size);
    return grown + (size_t)(*n)++ * size;
}

/* ---- values ---- */

static bool is_slug(const char *s)
{
    return util_is_slug(s, strlen(s));
}

/* `0`, or a positive integer with s, m, h or d. */
static int parse_duration(const char *s, int64_t *ms)
{
    if (strcmp(s, "0") == 0) {
        *ms = 0;
        return 0;
    }
    static const struct {
        char suffix;
        int64_t ms;
    } units[] = {{'s', 1000}, {'m', 60000}, {'h', 3600000}, {'d', DAY_MS}};
    size_t len = strlen(s);
    char digits[24];
    if (len < 2 || len > sizeof digits || s[0] < '0' || s[0] > '9')
        return -1;
    memcpy(digits, s, len - 1);
    digits[len - 1] = '\0';
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        int64_t n;
        if (s[len - 1] == units[i].suffix &&
            util_parse_int(digits, 1, DURATION_MAX_MS / units[i].ms, &n) == 0) {
            *ms = n * units[i].ms;
            return 0;
        }
    }
    return -1;
}

static bool is_leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* YYYY-MM-DD, a real calendar date; *days since 1970-01-01. */
static int parse_date(const char *s, int64_t *days)
{
    static const unsigned month_days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (strlen(s) != 10 || s[4] != '-' || s[7] != '-')
        return -1;
    for (int i = 0; i < 10; i++)
        if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
            return -1;
    int64_t y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
    unsigned m = (unsigned)((s[5] - '0') * 10 + (s[6] - '0'));
    unsigned d = (unsigned)((s[8] - '0') * 10 + (s[9] - '0'));
    if (m < 1 || m > 12 || d < 1 || d > month_days[m - 1] + (m == 2 && is_leap(y)))
        return -1;
    *days = util_days_from_civil(y, m, d);
    return 0;
}

/* WIB, WITA, WIT or ±HH:MM (hours <= 14, minutes < 60). */
static int parse_tz(const char *s, int64_t *ms)
{
    static const char *const zones[] = {"WIB", "WITA", "WIT", NULL};
    int zone = index_of(zones, s);
    if (zone >= 0) {
        *ms = WIB_MS + zone * 3600000LL;
        return 0;
    }
    if (strlen(s) != 6 || (s[0] != '+' && s[0] != '-') || s[3] != ':')
        return -1;
    for (int i = 1; i < 6; i++)
        if (i != 3 && (s[i] < '0' || s[i] > '9'))
            return -1;
    int h = (s[1] - '0') * 10 + (s[2] - '0'), m = (s[4] - '0') * 10 + (s[5] - '0');
    if (h > 14 || m >= 60)
        return -1;
    *ms = (s[0] == '-' ? -1 : 1) * (h * 3600000LL + m * 60000LL);
    return 0;
}

/* `P%` with P >= 0. */
static int parse_percent(const char *s, double *out)
{
    size_t len = strlen(s);
    char num[64];
    if (len < 2 || len > sizeof num || s[len - 1] != '%')
        return -1;
    memcpy(num, s, len - 1);
    num[len - 1] = '\0';
    return util_parse_double(num, out) == 0 && *out >= 0 ? 0 : -1;
}

/* RUNNING/TOTAL, non-negative integers, RUNNING <= TOTAL. */
static int parse_count_pair(const char *s, struct catalog_masterplan *mp)
{
    const char *slash = strchr(s, '/');
    char running[24];
    int64_t r, t;
    if (!slash || (size_t)(slash - s) >= sizeof running)
        return -1;
    memcpy(running, s, (size_t)(slash - s));
    running[slash - s] = '\0';
    if (util_parse_int(running, 0, INT32_MAX, &r) != 0 ||
        util_parse_int(slash + 1, 0, INT32_MAX, &t) != 0 || r > t)
        return -1;
    *mp = (struct catalog_masterplan){true, (int)r, (int)t};
    return 0;
}

/* Splits a comma-separated list into trimmed items in `buf` (a copy of s);
 * returns the count, or -1 for an empty item or more than max items. */
static int split_list(const char *s, char *buf, size_t buflen, char **items, int max)
{
    int n = 0;
    if (strlen(s) >= buflen)
        return -1;
    strcpy(buf, s);
    for (char *item = buf;;) {
        char *comma = strchr(item, ',');
        if (comma)
            *comma = '\0';
        item += strspn(item, " \t");
        size_t len = strlen(item);
        while (len > 0 && (item[len - 1] == ' ' || item[len - 1] == '\t'))
            item[--len] = '\0';
        if (len == 0 || n == max)
            return -1;
        items[n++] = item;
        if (!comma)
            return n;
        item = comma + 1;
    }
}

#define LIST_MAX 64

/* A list of slugs (units) or of label keys (match) into owned strings. */
static int parse_names(struct parse *p, const char *s, bool (*valid)(const char *), char ***out,
                       int *n_out)
{
    char buf[1024], *items[LIST_MAX];
    int n = split_list(s, buf, sizeof buf, items, LIST_MAX);
    if (n < 0)
        return -1;
    for (int i = 0; i < n; i++)
        if (!valid(items[i]))
            return -1;
    char **names = calloc((size_t)n, sizeof *names);
    if (!names) {
        p->oom = true;
        return -1;
    }
    for (int i = 0; i < n; i++)
        names[i] = dup(p, items[i]);
    *out = names;
    *n_out = n;
    return 0;
}

/* `k=v, k2=*` into m->labels; on a bad list writes why. */
static int parse_labels(struct parse *p, const char *s, struct catalog_match *m, char *why,
                        size_t whylen)
{
    char buf[1024], *keys[CATALOG_MAX_LABELS + 1], *values[CATALOG_MAX_LABELS];
    int n = split_list(s, buf, sizeof buf, keys, CATALOG_MAX_LABELS + 1);
    if (n < 0 || n > CATALOG_MAX_LABELS) {
        snprintf(why, whylen, "1 to %d pairs key=value separated by commas", CATALOG_MAX_LABELS);
        return -1;
    }
    for (int i = 0; i < n; i++) {
        char *eq = strchr(keys[i], '=');
        if (!eq) {
            snprintf(why, whylen, "key=value pairs (\"%s\" has no '=')", keys[i]);
            return -1;
        }
        values[i] = eq + 1 + strspn(eq + 1, " \t");
        *eq = '\0';
        for (char *e = eq; e > keys[i] && (e[-1] == ' ' || e[-1] == '\t');)
            *--e = '\0';
        if (!util_is_label_key(keys[i])) {
            snprintf(why, whylen, "label keys [a-z0-9_]{1,32} (not \"%s\")", keys[i]);
            return -1;
        }
        if (values[i][0] == '\0' || strlen(values[i]) > LABEL_VAL_MAX) {
            snprintf(why, whylen, "label values of 1 to %d bytes, or * (\"%s\")", LABEL_VAL_MAX,
                     keys[i]);
            return -1;
        }
        for (int j = 0; j < i; j++) {
            if (strcmp(keys[j], keys[i]) == 0) {
                snprintf(why, whylen, "each label once (\"%s\" is given twice)", keys[i]);
                return -1;
            }
        }
    }
    for (int i = 0; i < n; i++) {
        m->labels[i].key = dup(p, keys[i]);
        m->labels[i].value = dup(p, values[i]);
    }
    m->n_labels = n;
    return 0;
}

static bool valid_slug(const char *s)
{
    return is_slug(s);
}

static bool valid_label_key(const char *s)
{
    return util_is_label_key(s);
}

/* ---- one key of each kind of section ---- */

/* Each setter returns 0, or -1 after writing what a good value looks like
 * into `want`; the caller reports `bad KEY "VALUE": expected WANT`. */
#define WANT(...)                                                                                  \
    do {                                                                                           \
        snprintf(want, wantlen, __VA_ARGS__);                                                      \
        return -1;                                                                                 \
    } while (0)
#define WANT_TEXT     "a non-empty value"
#define WANT_SLUG     "a slug ([a-z0-9][a-z0-9_-]{0,63})"
#define WANT_DURATION "0 or a positive number with s, m, h or d (30s, 15m, 2h, 7d)"
#define WANT_NUMBER   "a number"
#define WANT_DATE     "a date YYYY-MM-DD"

static int set_text(struct parse *p, char **slot, const char *v, char *want, size_t wantlen)
{
    if (v[0] == '\0')
        WANT(WANT_TEXT);
    *slot = dup(p, v);
    return 0;
}

static int set_slug(struct parse *p, char **slot, const char *v, char *want, size_t wantlen)
{
    if (!is_slug(v))
        WANT(WANT_SLUG);
    *slot = dup(p, v);
    return 0;
}

#define WANT_CODE "a Kemendagri code NN or NN.NN (18 or 18.02)"

bool catalog_valid_code(const char *s)
{
    size_t n = strlen(s);
    if (n != 2 && n != 5)
        return false;
    for (size_t i = 0; i < n; i++)
        if (i == 2 ? s[i] != '.' : !isdigit((unsigned char)s[i]))
            return false;
    return true;
}

static int set_code(struct parse *p, char **slot, const char *v, char *want, size_t wantlen)
{
    if (!catalog_valid_code(v))
        WANT(WANT_CODE);
    *slot = dup(p, v);
    return 0;
}

static int set_regency(struct parse *p, int key, const char *v, char *want, size_t wantlen)
{
    switch (key) {
    case R_ID:
        return set_slug(p, &p->c->regency_id, v, want, wantlen);
    case R_NAME:
        return set_text(p, &p->c->regency_name, v, want, wantlen);
    case R_CODE:
        return set_code(p, &p->c->regency_code, v, want, wantlen);
    case R_PROVINCE:
        return set_text(p, &p->c->regency_province, v, want, wantlen);
    default:
        if (parse_tz(v, &p->c->tz_offset_ms) != 0)
            WANT("WIB, WITA, WIT or +HH:MM / -HH:MM");
        return 0;
    }
}

static int set_region(struct parse *p, int key, const char *v, char *want, size_t wantlen)
{
    struct catalog_region *g = &p->c->regions[p->c->n_regions - 1];
    if (key == G_NAME)
        return set_text(p, &g->name, v, want, wantlen);
    if (key == G_CODE)
        return set_code(p, &g->code, v, want, wantlen);
    return set_text(p, &g->province, v, want, wantlen);
}

static int set_masterplan(struct parse *p, int key, const char *v, char *want, size_t wantlen)
{
    if (parse_count_pair(v, &p->c->masterplan[key]) != 0)
        WANT("RUNNING/TOTAL, whole numbers with RUNNING <= TOTAL");
    return 0;
}

static int set_program(struct parse *p, int key, const char *v, char *want, size_t wantlen)
{
    struct catalog_program *pr = &p->c->programs[p->c->n_programs - 1];
    int i;
    switch (key) {
    case P_NAME:
        return set_text(p, &pr->name, v, want, wantlen);
    case P_AGENCY:
        return set_text(p, &pr->agency, v, want, wantlen);
    case P_DESCRIPTION:
        return set_text(p, &pr->description, v, want, wantlen);
    case P_DIMENSION:
        if ((i = index_of(masterplan_keys, v)) < 0)
            WANT("governance, branding, economy, living, society or environment");
        pr->dimension = (enum catalog_dimension)i;
        return 0;
    case P_STATUS:
        if ((i = index_of(status_names, v)) < 0)
            WANT("planned, running or done");
        pr->status = (enum catalog_program_status)i;
        return 0;
    default:
        if (parse_duration(v, &pr->stale_after_ms) != 0)
            WANT(WANT_DURATION);
        return 0;
    }
}

static int set_agg(struct catalog_kpi *k, struct parse *p, const char *v, char *want,
                   size_t wantlen)
{
    int i = index_of(agg_names, v);
    if (i >= 0 && i != KPI_DISTINCT) {
        k->agg = (enum kpi_agg)i;
        return 0;
    }
    if (strncmp(v, "distinct:", 9) == 0 && util_is_label_key(v + 9)) {
        k->agg = KPI_DISTINCT;
        k->distinct_label = dup(p, v + 9);
        return 0;
    }
    WANT("sum, count, avg, min, max, last, units or distinct:<label>");
}

static int set_period(struct catalog_kpi *k, const char *v, char *want, size_t wantlen)
{
    int i = index_of(period_names, v);
    if (i >= 0) {
        k->period = (enum kpi_period)i;
        return 0;
    }
    const char *dots = strstr(v, "..");
    char first[16];
    if (dots && (size_t)(dots - v) < sizeof first) {
        memcpy(first, v, (size_t)(dots - v));
        first[dots - v] = '\0';
        if (parse_date(first, &k->range_from) == 0 && parse_date(dots + 2, &k->range_to) == 0) {
            if (k->range_from > k->range_to)
                WANT("a range whose first day is not after its last");
            k->period = PERIOD_RANGE;
            return 0;
        }
    }
    WANT("total, day, week, month, quarter, year or YYYY-MM-DD..YYYY-MM-DD");
}

static int set_kpi(struct parse *p, int key, const char *v, char *want, size_t wantlen)
{
    struct catalog_kpi *k = &p->c->kpis[p->c->n_kpis - 1];
    switch (key) {
    case K_NAME:
        return set_text(p, &k->name, v, want, wantlen);
    case K_METRIC:
        return set_slug(p, &k->match.metric, v, want, wantlen);
    case K_LABELS:
        return parse_labels(p, v, &k->match, want, wantlen);
    case K_UNITS:
        if (parse_names(p, v, valid_slug, &k->match.units, &k->match.n_units) != 0)
            WANT("unit slugs separated by commas");
        return 0;
    case K_AGG:
        return set_agg(k, p, v, want, wantlen);
    case K_PERIOD:
        return set_period(k, v, want, wantlen);
    case K_TARGET:
    case K_BASELINE:
        if (util_parse_double(v, key == K_TARGET ? &k->target : &k->baseline) != 0)
            WANT(WANT_NUMBER);
        return 0;
    case K_START:
    case K_DEADLINE:
        if (parse_date(v, key == K_START ? &k->start : &k->deadline) != 0)
            WANT(WANT_DATE);
        *(key == K_START ? &k->has_start : &k->has_deadline) = true;
        return 0;
    default:
        return set_text(p, &k->display_unit, v, want, wantlen);
    }
}

static int set_rule(struct parse *p, int key, const char *v, char *want, size_t wantlen)
{
    struct catalog_rule *r = &p->c->rules[p->c->n_rules - 1];
    int i;
    switch (key) {
    case RULE_ABOVE:
    case RULE_BELOW:
        if (util_parse_double(v, &r->threshold) != 0)
            WANT(WANT_NUMBER);
        return 0;
    case RULE_ABOVE_REFERENCE:
    case RULE_BELOW_REFERENCE:
        if (parse_percent(v, &r->threshold) != 0)
            WANT("a percentage P%% (P >= 0)");
        return 0;
    case U_SILENT:
        if (parse_duration(v, &r->silent_ms) != 0 || r->silent_ms == 0)
            WANT("a duration above 0 (30s, 15m, 2h, 7d)");
        return 0;
    case U_PROGRAM:
        return set_slug(p, &p->rule_program[p->c->n_rules - 1], v, want, wantlen);
    case U_METRIC:
        return set_slug(p, &r->match.metric, v, want, wantlen);
    case U_LABELS:
        return parse_labels(p, v, &r->match, want, wantlen);
    case U_UNITS:
        if (parse_names(p, v, valid_slug, &r->match.units, &r->match.n_units) != 0)
            WANT("unit slugs separated by commas");
        return 0;
    case U_REFERENCE:
        return set_slug(p, &r->reference, v, want, wantlen);
    case U_MATCH:
        if (parse_names(p, v, valid_label_key, &r->match_labels, &r->n_match_labels) != 0)
            WANT("label keys separated by commas");
        return 0;
    case U_CLEAR:
        if (util_parse_double(v, &r->clear) != 0)
            WANT(WANT_NUMBER);
        return 0;
    case U_CLEAR_REFERENCE:
        if (parse_percent(v, &r->clear) != 0)
            WANT("a percentage C%% (C >= 0)");
        return 0;
    case U_FOR:
        if (parse_duration(v, &r->for_ms) != 0)
            WANT(WANT_DURATION);
        return 0;
    case U_SEVERITY:
        if ((i = index_of(severity_names, v)) < 0)
            WANT("info, warning or critical");
        r->severity = (enum rule_severity)i;
        return 0;
    case U_ESCALATE: /* CONTRACT §8; 0: at the first check after it fires */
        if (parse_duration(v, &r->escalate_ms) != 0)
            WANT(WANT_DURATION);
        r->escalates = true;
        return 0;
    default:
        return set_text(p, &r->message, v, want, wantlen);
    }
}

static void on_key(void *ctx, const char *section, const char *key, const char *value, int line)
{
    struct parse *p = ctx;
    if (p->oom || p->kind == S_IGNORED) {
        if (section[0] == '\0')
            problem(p, line, "key \"%s\" outside any [section]", key);
        return; /* a bad header was reported once, not again for each key */
    }
    int i = index_of(keys_of(p->kind), key);
    if (i < 0) {
        problem(p, line, "unknown key \"%s\" in [%s]", key, p->header);
        return;
    }
    if (p->key_line[i]) {
        problem(p, line, "\"%s\" given twice in [%s] (first at line %d)", key, p->header,
                p->key_line[i]);
        return;
    }
    p->key_line[i] = line;
    static int (*const setters[])(struct parse *, int, const char *, char *, size_t) = {
        [S_REGENCY] = set_regency, [S_MASTERPLAN] = set_masterplan,
        [S_PROGRAM] = set_program, [S_KPI] = set_kpi,
        [S_RULE] = set_rule,       [S_REGION] = set_region};
    char want[256];
    if (setters[p->kind](p, i, value, want, sizeof want) != 0) {
        p->key_bad[i] = true;
        problem(p, line, "bad %s \"%s\": expected %s", key, value, want);
    }
}

/* ---- section ends: required and conflicting keys ---- */

/* Reports each of `required` (indexes into the section's keys, -1 ended)
 * that was not given, at the header. */
static void require(struct parse *p, const int *required)
{
    const char *const *keys = keys_of(p->kind);
    for (int i = 0; required[i] >= 0; i++)
        if (!p->key_line[required[i]])
            problem(p, p->line, "missing required key \"%s\" in [%s]", keys[required[i]],
                    p->header);
}

/* True when key i was given with a good value. */
static bool good(const struct parse *p, int i)
{
    return p->key_line[i] && !p->key_bad[i];
}

static void end_kpi(struct parse *p)
{
    struct catalog_kpi *k = &p->c->kpis[p->c->n_kpis - 1];
    require(p, (const int[]){K_METRIC, K_AGG, K_PERIOD, K_TARGET, -1});
    if (!p->key_line[K_NAME] && k->id) /* CONTRACT §5: optional, the KPI id */
        k->name = dup(p, k->id);
    if (good(p, K_PERIOD) && k->period == PERIOD_TOTAL) {
        if (!p->key_line[K_START])
            problem(p, p->line, "missing required key \"start\" in [%s] (period total)", p->header);
        if (!p->key_line[K_DEADLINE])
            problem(p, p->line, "missing required key \"deadline\" in [%s] (period total)",
                    p->header);
    }
    if (good(p, K_TARGET) && !p->key_bad[K_BASELINE] && k->target == k->baseline)
        problem(p, p->key_line[K_TARGET], "target equals baseline (%g): progress is undefined",
                k->target);
    /* Start and deadline as known now (in days), given or the range's. */
    bool range = good(p, K_PERIOD) && k->period == PERIOD_RANGE;
    bool s_known = good(p, K_START) || range, d_known = good(p, K_DEADLINE) || range;
    int64_t s = good(p, K_START) ? k->start : k->range_from;
    int64_t d = good(p, K_DEADLINE) ? k->deadline : k->range_to;
    if (s_known && d_known && s > d)
        problem(p, p->key_line[K_START] ? p->key_line[K_START] : p->key_line[K_DEADLINE],
                "start must be before deadline");
}

/* `clear` and `clear_reference` each belong to their kind of condition,
 * on the side of the threshold that ends the alert. */
static void check_clear(struct parse *p, struct catalog_rule *r, bool reference)
{
    if (p->key_line[U_CLEAR] && reference)
        problem(p, p->key_line[U_CLEAR],
                "clear applies to above/below; use clear_reference with %s",
                rule_keys[r->condition]);
    if (p->key_line[U_CLEAR_REFERENCE] && !reference)
        problem(p, p->key_line[U_CLEAR_REFERENCE],
                "clear_reference applies to above_reference/below_reference; use clear with %s",
                rule_keys[r->condition]);
    int given = reference ? U_CLEAR_REFERENCE : U_CLEAR;
    if (!good(p, given) || !good(p, (int)r->condition)) {
        r->clear = r->threshold;
        return;
    }
    if (r->condition == RULE_ABOVE && r->clear > r->threshold)
        problem(p, p->key_line[U_CLEAR], "clear %g must be <= above %g", r->clear, r->threshold);
    else if (r->condition == RULE_BELOW && r->clear < r->threshold)
        problem(p, p->key_line[U_CLEAR], "clear %g must be >= below %g", r->clear, r->threshold);
    else if (reference && r->clear > r->threshold)
        problem(p, p->key_line[U_CLEAR_REFERENCE], "clear_reference %g%% must be <= %s %g%%",
                r->clear, rule_keys[r->condition], r->threshold);
}

static void end_rule(struct parse *p)
{
    struct catalog_rule *r = &p->c->rules[p->c->n_rules - 1];
    int first = -1, n_conditions = 0;
    for (int i = 0; i <= RULE_SILENT; i++) {
        if (!p->key_line[i])
            continue;
        n_conditions++;
        if (first < 0)
            first = i;
        else
            problem(p, p->key_line[i], "more than one condition: %s and %s", rule_keys[first],
                    rule_keys[i]);
    }
    require(p, (const int[]){U_PROGRAM, -1});
    if (first < 0) {
        problem(p, p->line,
                "[%s] needs one condition: above, below, above_reference, below_reference or "
                "silent",
                p->header);
        return;
    }
    r->condition = (enum rule_condition)first;
    bool reference = first == RULE_ABOVE_REFERENCE || first == RULE_BELOW_REFERENCE;
    if (first == RULE_SILENT) {
        /* silent watches units, not series: a metric or labels would filter nothing */
        if (p->key_line[U_METRIC])
            problem(p, p->key_line[U_METRIC], "metric does not apply to a silent rule");
        if (p->key_line[U_LABELS])
            problem(p, p->key_line[U_LABELS], "labels do not apply to a silent rule");
    } else {
        require(p, (const int[]){U_METRIC, -1});
    }
    if (reference) {
        require(p, (const int[]){U_REFERENCE, U_MATCH, -1});
    } else {
        for (int i = U_REFERENCE; i <= U_MATCH; i++)
            if (p->key_line[i])
                problem(p, p->key_line[i],
                        "%s applies only to above_reference/below_reference, not %s", rule_keys[i],
                        rule_keys[first]);
    }
    if (n_conditions > 1)
        return; /* the threshold is the last condition's: comparing clear with it misleads */
    if (first != RULE_SILENT)
        check_clear(p, r, reference);
    else if (p->key_line[U_CLEAR] || p->key_line[U_CLEAR_REFERENCE])
        problem(p, p->key_line[U_CLEAR] ? p->key_line[U_CLEAR] : p->key_line[U_CLEAR_REFERENCE],
                "a silent rule resolves when the unit publishes again: no clear");
}

static void end_section(struct parse *p)
{
    switch (p->kind) {
    case S_REGENCY:
        require(p, (const int[]){R_ID, R_NAME, -1});
        break;
    case S_PROGRAM:
        require(p, (const int[]){P_NAME, P_DIMENSION, -1});
        break;
    case S_KPI:
        end_kpi(p);
        break;
    case S_RULE:
        end_rule(p);
        break;
    case S_REGION:
        require(p, (const int[]){G_NAME, -1});
        break;
    case S_MASTERPLAN:
    case S_IGNORED:
        break;
    }
    p->kind = S_IGNORED;
}

/* ---- section headers ---- */

/* [regency] or [masterplan]: one of each. */
static enum kind begin_single(struct parse *p, int *seen_line, const char *name, int line)
{
    if (*seen_line) {
        problem(p, line, "[%s] given twice (first at line %d)", name, *seen_line);
        return S_IGNORED;
    }
    *seen_line = line;
    return strcmp(name, "regency") == 0 ? S_REGENCY : S_MASTERPLAN;
}

static enum kind begin_program(struct parse *p, const char *id, int line)
{
    struct catalog *c = p->c;
    for (int i = 0; i < c->n_programs; i++)
        if (strcmp(c->programs[i].id, id) == 0)
            problem(p, line, "duplicate program \"%s\" (first at line %d)", id,
                    c->programs[i].line);
    struct catalog_program *pr = append(p, &c->programs, &c->n_programs, sizeof *pr);
    if (!pr)
        return S_IGNORED;
    pr->status = PROGRAM_RUNNING;
    pr->line = line;
    pr->id = dup(p, id);
    return S_PROGRAM;
}

static enum kind begin_kpi(struct parse *p, const char *id, int line)
{
    struct catalog *c = p->c;
    const char *slash = strchr(id, '/');
    if (!slash || !util_is_slug(id, (size_t)(slash - id)) || !is_slug(slash + 1)) {
        problem(p, line, "bad kpi id \"%s\": expected <program>/<kpi>, two slugs", id);
        return S_IGNORED;
    }
    size_t plen = (size_t)(slash - id);
    for (int i = 0; i < c->n_kpis; i++)
        if (strncmp(p->kpi_program[i], id, plen) == 0 && p->kpi_program[i][plen] == '\0' &&
            strcmp(c->kpis[i].id, slash + 1) == 0)
            problem(p, line, "duplicate kpi \"%s\" (first at line %d)", id, c->kpis[i].line);
    char **prog = realloc(p->kpi_program, (size_t)(c->n_kpis + 1) * sizeof *prog);
    if (!prog) {
        p->oom = true;
        return S_IGNORED;
    }
    p->kpi_program = prog;
    struct catalog_kpi *k = append(p, &c->kpis, &c->n_kpis, sizeof *k);
    if (!k)
        return S_IGNORED;
    prog[c->n_kpis - 1] = strndup(id, plen);
    k->id = dup(p, slash + 1);
    k->line = line;
    if (!prog[c->n_kpis - 1])
        p->oom = true;
    return S_KPI;
}

static enum kind begin_rule(struct parse *p, const char *id, int line)
{
    struct catalog *c = p->c;
    for (int i = 0; i < c->n_rules; i++)
        if (strcmp(c->rules[i].id, id) == 0)
            problem(p, line, "duplicate rule \"%s\" (first at line %d)", id, c->rules[i].line);
    char **prog = realloc(p->rule_program, (size_t)(c->n_rules + 1) * sizeof *prog);
    if (!prog) {
        p->oom = true;
        return S_IGNORED;
    }
    p->rule_program = prog;
    struct catalog_rule *r = append(p, &c->rules, &c->n_rules, sizeof *r);
    if (!r)
        return S_IGNORED;
    prog[c->n_rules - 1] = NULL;
    r->id = dup(p, id);
    r->severity = SEVERITY_WARNING;
    r->line = line;
    return S_RULE;
}

static enum kind begin_region(struct parse *p, const char *id, int line)
{
    struct catalog *c = p->c;
    for (int i = 0; i < c->n_regions; i++)
        if (strcmp(c->regions[i].id, id) == 0)
            problem(p, line, "duplicate region \"%s\" (first at line %d)", id, c->regions[i].line);
    struct catalog_region *g = append(p, &c->regions, &c->n_regions, sizeof *g);
    if (!g)
        return S_IGNORED;
    g->id = dup(p, id);
    g->line = line;
    return S_REGION;
}

static enum kind begin_section(struct parse *p, const char *name, int line)
{
    char word[16];
    size_t wlen = strcspn(name, " \t");
    const char *id = name + wlen + strspn(name + wlen, " \t");
    if (wlen >= sizeof word)
        wlen = sizeof word - 1; /* too long for any known word: unknown below */
    memcpy(word, name, wlen);
    word[wlen] = '\0';
    bool with_id = strcmp(word, "program") == 0 || strcmp(word, "kpi") == 0 ||
                   strcmp(word, "rule") == 0 || strcmp(word, "region") == 0;
    if ((strcmp(name, "regency") == 0 || strcmp(name, "masterplan") == 0))
        return begin_single(p, name[0] == 'r' ? &p->regency_line : &p->masterplan_line, name, line);
    if (!with_id) {
        problem(p, line, "unknown section [%s]", name);
        return S_IGNORED;
    }
    if (id[0] == '\0') {
        problem(p, line, "[%s] needs an id: [%s <id>]", word, word);
        return S_IGNORED;
    }
    if (word[0] != 'k' && !is_slug(id)) {
        problem(p, line, "bad %s id \"%s\": expected " WANT_SLUG, word, id);
        return S_IGNORED;
    }
    if (word[0] == 'p')
        return begin_program(p, id, line);
    if (strcmp(word, "region") == 0)
        return begin_region(p, id, line);
    return word[0] == 'k' ? begin_kpi(p, id, line) : begin_rule(p, id, line);
}

static void on_section(void *ctx, const char *name, int line)
{
    struct parse *p = ctx;
    end_section(p);
    if (p->oom)
        return;
    memset(p->key_line, 0, sizeof p->key_line);
    memset(p->key_bad, 0, sizeof p->key_bad);
    snprintf(p->header_buf, sizeof p->header_buf, "%s", name);
    p->header = p->header_buf;
    p->line = line;
    p->kind = begin_section(p, name, line);
}

static void on_file_problem(void *ctx, int line, const char *text)
{
    problem(ctx, line, "%s", text);
}

/* ---- the end of the file: what may be written in any order ---- */

static void resolve_programs(struct parse *p)
{
    struct catalog *c = p->c;
    for (int i = 0; i < c->n_kpis; i++) {
        c->kpis[i].program = catalog_find_program(c, p->kpi_program[i]);
        if (c->kpis[i].program < 0)
            problem(p, c->kpis[i].line, "kpi \"%s/%s\": unknown program \"%s\"", p->kpi_program[i],
                    c->kpis[i].id, p->kpi_program[i]);
    }
    for (int i = 0; i < c->n_rules; i++) {
        if (!p->rule_program[i])
            continue; /* missing: reported at its section's end */
        c->rules[i].program = catalog_find_program(c, p->rule_program[i]);
        if (c->rules[i].program < 0)
            problem(p, c->rules[i].line, "rule \"%s\": unknown program \"%s\"", c->rules[i].id,
                    p->rule_program[i]);
    }
}

static int64_t day_start(int64_t days, int64_t tz)
{
    return days * DAY_MS - tz;
}

static int64_t day_end(int64_t days, int64_t tz)
{
    return (days + 1) * DAY_MS - tz - 1;
}

/* Day numbers to instants, now that the time zone is known. */
static void convert_dates(struct catalog *c)
{
    int64_t tz = c->tz_offset_ms;
    for (int i = 0; i < c->n_kpis; i++) {
        struct catalog_kpi *k = &c->kpis[i];
        if (k->period == PERIOD_RANGE) {
            k->range_from = day_start(k->range_from, tz);
            k->range_to = day_end(k->range_to, tz);
        }
        if (k->has_start)
            k->start = day_start(k->start, tz);
        if (k->has_deadline)
            k->deadline = day_end(k->deadline, tz);
    }
}

static void finish(struct parse *p)
{
    end_section(p);
    if (p->oom)
        return;
    if (!p->regency_line)
        problem(p, 0, "missing [regency] section (id, name)");
    resolve_programs(p);
    convert_dates(p->c);
}

struct catalog *catalog_empty(void)
{
    struct catalog *c = calloc(1, sizeof *c);
    if (c)
        c->tz_offset_ms = WIB_MS;
    return c;
}

int catalog_load(struct catalog **out, const char *path, catalog_report_fn report, void *ctx)
{
    static const struct inifile_ops ops = {on_section, on_key, on_file_problem};
    struct parse p = {.path = path, .report = report, .ctx = ctx, .kind = S_IGNORED};

    *out = NULL;
    if (!(p.c = catalog_empty()) || !(p.c->path = strdup(path))) {
        catalog_free(p.c);
        return -1;
    }
    if (inifile_read(path, &ops, &p) == 0)
        finish(&p);
    for (int i = 0; i < p.c->n_kpis; i++)
        free(p.kpi_program[i]);
    for (int i = 0; i < p.c->n_rules; i++)
        free(p.rule_program[i]);
    free(p.kpi_program);
    free(p.rule_program);
    if (p.oom || p.problems) {
        catalog_free(p.c);
        return p.oom ? -1 : p.problems;
    }
    *out = p.c;
    return 0;
}

/* ---- freeing and queries ---- */

static void free_match(struct catalog_match *m)
{
    free(m->metric);
    for (int i = 0; i < m->n_labels; i++) {
        free(m->labels[i].key);
        free(m->labels[i].value);
    }
    for (int i = 0; i < m->n_units; i++)
        free(m->units[i]);
    free(m->units);
}

void catalog_free(struct catalog *c)
{
    if (!c)
        return;
    for (int i = 0; i < c->n_programs; i++) {
        struct catalog_program *pr = &c->programs[i];
        free(pr->id);
        free(pr->name);
        free(pr->agency);
        free(pr->description);
    }
    for (int i = 0; i < c->n_kpis; i++) {
        struct catalog_kpi *k = &c->kpis[i];
        free(k->id);
        free(k->name);
        free_match(&k->match);
        free(k->distinct_label);
        free(k->display_unit);
    }
    for (int i = 0; i < c->n_rules; i++) {
        struct catalog_rule *r = &c->rules[i];
        free(r->id);
        free_match(&r->match);
        free(r->reference);
        for (int j = 0; j < r->n_match_labels; j++)
            free(r->match_labels[j]);
        free(r->match_labels);
        free(r->message);
    }
    free(c->programs);
    free(c->kpis);
    free(c->rules);
    free(c->path);
    for (int i = 0; i < c->n_regions; i++) {
        free(c->regions[i].id);
        free(c->regions[i].name);
        free(c->regions[i].code);
        free(c->regions[i].province);
    }
    free(c->regions);
    free(c->regency_id);
    free(c->regency_name);
    free(c->regency_code);
    free(c->regency_province);
    free(c);
}

int catalog_find_region(const struct catalog *c, const char *id)
{
    for (int i = 0; i < c->n_regions; i++)
        if (strcmp(c->regions[i].id, id) == 0)
            return i;
    return -1;
}

int catalog_find_program(const struct catalog *c, const char *id)
{
    for (int i = 0; i < c->n_programs; i++)
        if (strcmp(c->programs[i].id, id) == 0)
            return i;
    return -1;
}

bool catalog_match_series(const struct catalog_match *m, const char *unit, const char *labels_json)
{
    bool unit_ok = m->n_units == 0;
    for (int i = 0; i < m->n_units && !unit_ok; i++)
        unit_ok = strcmp(m->units[i], unit) == 0;
    if (!unit_ok)
        return false;
    if (m->n_labels == 0)
        return true;
    json_t *labels = json_loads(labels_json ? labels_json : "{}", 0, NULL);
    bool ok = json_is_object(labels);
    for (int i = 0; i < m->n_labels && ok; i++) {
        const char *have = json_string_value(json_object_get(labels, m->labels[i].key));
        ok =
            have && (strcmp(m->labels[i].value, "*") == 0 || strcmp(have, m->labels[i].value) == 0);
    }
    json_decref(labels);
    return ok;
}

void catalog_format_tz(int64_t tz_offset_ms, char *out)
{
    int64_t minutes = (tz_offset_ms < 0 ? -tz_offset_ms : tz_offset_ms) / 60000;
    snprintf(out, 7, "%c%02d:%02d", tz_offset_ms < 0 ? '-' : '+', (int)(minutes / 60 % 100),
             (int)(minutes % 60));
}
