/* alert.c — see alert.h. */
#include "alert.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <time.h>

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

int alert_record_copy(struct alert_record *out, const struct alert_record *in)
{
    *out = *in;
    out->rule = dup_or_null(in->rule);
    out->program = dup_or_null(in->program);
    out->unit = dup_or_null(in->unit);
    out->metric = dup_or_null(in->metric);
    out->labels_json = dup_or_null(in->labels_json);
    out->message = dup_or_null(in->message);
    out->acked_by = dup_or_null(in->acked_by);
    out->ack_note = dup_or_null(in->ack_note);
    if ((in->rule && !out->rule) || (in->program && !out->program) || (in->unit && !out->unit) ||
        (in->metric && !out->metric) || (in->labels_json && !out->labels_json) ||
        (in->message && !out->message) || (in->acked_by && !out->acked_by) ||
        (in->ack_note && !out->ack_note)) {
        alert_record_free(out);
        memset(out, 0, sizeof *out);
        return -1;
    }
    return 0;
}

void alert_record_free(struct alert_record *a)
{
    if (!a)
        return;
    free(a->rule);
    free(a->program);
    free(a->unit);
    free(a->metric);
    free(a->labels_json);
    free(a->message);
    free(a->acked_by);
    free(a->ack_note);
}

bool alert_holds(const struct catalog_rule *r, double value, double ref)
{
    switch (r->condition) {
    case RULE_ABOVE:
        return value > r->threshold;
    case RULE_BELOW:
        return value < r->threshold;
    case RULE_ABOVE_REFERENCE:
        return value > ref * (1 + r->threshold / 100);
    case RULE_BELOW_REFERENCE:
        return value < ref * (1 - r->threshold / 100);
    case RULE_SILENT:
        break;
    }
    return false;
}

bool alert_clears(const struct catalog_rule *r, double value, double ref)
{
    switch (r->condition) {
    case RULE_ABOVE:
        return value <= r->clear;
    case RULE_BELOW:
        return value >= r->clear;
    case RULE_ABOVE_REFERENCE:
        return value <= ref * (1 + r->clear / 100);
    case RULE_BELOW_REFERENCE:
        return value >= ref * (1 - r->clear / 100);
    case RULE_SILENT:
        break;
    }
    return false;
}

enum alert_step alert_step_value(const struct catalog_rule *r, struct alert_run *run, int64_t ts,
                                 double value, double ref, int64_t *at)
{
    if (run->firing) {
        if (!alert_clears(r, value, ref))
            return ALERT_UPDATE; /* holding, or between the bounds: still firing */
        run->firing = false;
        *at = ts;
        return ALERT_RESOLVE;
    }
    if (!alert_holds(r, value, ref)) {
        run->running = false; /* a run that has not fired ends */
        return ALERT_NONE;
    }
    if (!run->running) {
        run->running = true;
        run->since = ts;
    }
    if (ts - run->since < r->for_ms)
        return ALERT_NONE;
    run->running = false;
    run->firing = true;
    *at = ts;
    return ALERT_FIRE;
}

enum alert_step alert_step_silent(const struct catalog_rule *r, struct alert_run *run,
                                  int64_t last_heard, int64_t now, int64_t *at)
{
    if (run->firing) {
        if (last_heard <= run->since)
            return ALERT_NONE;
        run->firing = false;
        *at = last_heard;
        return ALERT_RESOLVE;
    }
    if (now - last_heard < r->silent_ms)
        return ALERT_NONE;
    run->firing = true;
    run->since = last_heard;
    *at = last_heard + r->silent_ms;
    return ALERT_FIRE;
}

bool alert_deviation(double value, double ref, double *out)
{
    if (ref == 0)
        return false;
    *out = value / ref - 1;
    return true;
}

/* ---- numbers and times ---------------------------------------------------- */

/* |v| rounded to `decimals`, grouped: "15.250", "1.234,5" (trailing zeros
 * of the fraction dropped when trim). */
static void format_grouped(double v, int decimals, bool trim, char *out, size_t cap)
{
    char digits[64];
    double a = fabs(v);
    if (a >= 1e15) { /* no grouping for absurd magnitudes */
        snprintf(out, cap, "%s%.6g", v < 0 ? "-" : "", a);
        for (char *p = out; *p; p++)
            if (*p == '.')
                *p = ',';
        return;
    }
    snprintf(digits, sizeof digits, "%.*f", decimals, a);
    char *dot = strchr(digits, '.');
    char *frac = dot ? dot + 1 : NULL;
    if (dot)
        *dot = '\0';
    if (frac && trim) {
        size_t n = strlen(frac);
        while (n > 0 && frac[n - 1] == '0')
            frac[--n] = '\0';
    }
    bool zero =
        strspn(digits, "0") == strlen(digits) && (!frac || strspn(frac, "0") == strlen(frac));
    char tmp[96];
    size_t k = 0, n_int = strlen(digits);
    if (v < 0 && !zero)
        tmp[k++] = '-';
    for (size_t i = 0; i < n_int; i++) {
        if (i > 0 && (n_int - i) % 3 == 0)
            tmp[k++] = '.';
        tmp[k++] = digits[i];
    }
    if (frac && *frac) {
        tmp[k++] = ',';
        for (const char *p = frac; *p && k < sizeof tmp - 1; p++)
            tmp[k++] = *p;
    }
    tmp[k] = '\0';
    snprintf(out, cap, "%s", tmp);
}

void alert_format_number(double v, char *out, size_t cap)
{
    format_grouped(v, 2, true, out, cap);
}

void alert_format_percent(double deviation, char *out, size_t cap)
{
    format_grouped(deviation * 100, 1, false, out, cap);
    size_t len = strlen(out);
    if (len + 2 < cap)
        memcpy(out + len, " %", 3);
}

static const char *const month_id[12] = {"Jan", "Feb", "Mar", "Apr", "Mei", "Jun",
                                         "Jul", "Agu", "Sep", "Okt", "Nov", "Des"};

void alert_format_time(int64_t ms, int64_t tz_offset_ms, char *out, size_t cap)
{
    int64_t local = ms + tz_offset_ms;
    time_t secs = (time_t)(local >= 0 ? local / 1000 : -((-local + 999) / 1000));
    struct tm tm;
    gmtime_r(&secs, &tm);
    char zone[16];
    if (tz_offset_ms == 7 * 3600000LL)
        snprintf(zone, sizeof zone, "WIB");
    else if (tz_offset_ms == 8 * 3600000LL)
        snprintf(zone, sizeof zone, "WITA");
    else if (tz_offset_ms == 9 * 3600000LL)
        snprintf(zone, sizeof zone, "WIT");
    else {
        int64_t m = (tz_offset_ms < 0 ? -tz_offset_ms : tz_offset_ms) / 60000;
        snprintf(zone, sizeof zone, "UTC%c%02d.%02d", tz_offset_ms < 0 ? '-' : '+', (int)(m / 60),
                 (int)(m % 60));
    }
    snprintf(out, cap, "%d %s %d %02d.%02d %s", tm.tm_mday, month_id[tm.tm_mon], tm.tm_year + 1900,
             tm.tm_hour, tm.tm_min, zone);
}

/* ---- messages --------------------------------------------------------------- */

struct out {
    char *p;
    size_t cap, len;
};

static void put(struct out *o, const char *s, size_t n)
{
    size_t room = o->cap - 1 - o->len;
    if (n > room) {
        n = room;
        while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
            n--; /* never split a UTF-8 sequence */
    }
    memcpy(o->p + o->len, s, n);
    o->len += n;
    o->p[o->len] = '\0';
}

static void put_str(struct out *o, const char *s)
{
    put(o, s ? s : "-", strlen(s ? s : "-"));
}

/* Writes the value of placeholder name[0..n); false if it names nothing. */
static bool put_field(struct out *o, const struct alert_fields *f, const char *name, size_t n)
{
    char text[64];
#define IS(lit) (n == sizeof lit - 1 && memcmp(name, lit, n) == 0)
    if (IS("rule"))
        put_str(o, f->rule);
    else if (IS("program"))
        put_str(o, f->program);
    else if (IS("unit"))
        put_str(o, f->unit);
    else if (IS("metric"))
        put_str(o, f->metric);
    else if (IS("value") || IS("reference")) {
        bool has = IS("value") ? f->has_value : f->has_reference;
        if (has)
            alert_format_number(IS("value") ? f->value : f->reference, text, sizeof text);
        put_str(o, has ? text : NULL);
    } else if (IS("deviation")) {
        if (f->has_deviation)
            alert_format_percent(f->deviation, text, sizeof text);
        put_str(o, f->has_deviation ? text : NULL);
    } else if (IS("since")) {
        alert_format_time(f->since, f->tz_offset_ms, text, sizeof text);
        put_str(o, text);
    } else {
        for (int i = 0; i < f->n_labels; i++)
            if (strlen(f->label_keys[i]) == n && memcmp(f->label_keys[i], name, n) == 0) {
                put_str(o, f->label_values[i]);
                return true;
            }
        return false;
    }
#undef IS
    return true;
}

static void fill(struct out *o, const char *t, const struct alert_fields *f)
{
    while (*t) {
        const char *open = strchr(t, '{');
        const char *close = open ? strchr(open + 1, '}') : NULL;
        if (!open || !close) {
            put(o, t, strlen(t));
            return;
        }
        put(o, t, (size_t)(open - t));
        if (!put_field(o, f, open + 1, (size_t)(close - open - 1)))
            put(o, open, (size_t)(close - open + 1));
        t = close + 1;
    }
}

void alert_format_message(const char *template, const struct alert_fields *f, bool silent,
                          char *out, size_t cap)
{
    struct out o = {out, cap, 0};
    if (cap == 0)
        return;
    out[0] = '\0';
    if (template)
        fill(&o, template, f);
    else if (silent)
        fill(&o, "{rule}: {unit} tidak mengirim data sejak {since}", f);
    else if (f->has_reference)
        fill(&o, "{rule}: {unit} {metric} {value} (acuan {reference}, {deviation})", f);
    else
        fill(&o, "{rule}: {unit} {metric} {value}", f);
}
