/* alert.h — the rules of CONTRACT §6 as pure functions: when a value rule's
 * condition holds and when it clears, how a run on a series' latest sample
 * starts, fires, ends and resolves, how silence fires and resolves, and how
 * an alert's message reads for Indonesian readers (`15.250`, `10,8 %`,
 * `2 Des 2026 14.05 WITA`).
 *
 * No I/O, no clock (times are passed in), no global state: every rule is
 * table-tested in tests/test_alert.c. alert_engine.h applies them to the
 * samples that commit and keeps the alerts; alert_store.h persists them. */
#ifndef PANTAU_ALERT_H
#define PANTAU_ALERT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "catalog.h"

/* One alert as CONTRACT §6's ALERT object describes it. Strings are owned
 * (alert_record_free); unit is NULL only if a rule ever fires on no unit,
 * metric and labels_json are NULL for a silent rule's alert. Times are epoch
 * ms; resolved_at, acked_at and escalated_at are 0 when absent. */
struct alert_record {
    int64_t id;
    char *rule, *program, *unit, *metric, *labels_json;
    int64_t series; /* the store's series id; 0 for a silent alert */
    enum rule_severity severity;
    int64_t since, fired_at, resolved_at;
    bool has_value, has_reference, has_deviation;
    double value, reference, deviation;
    char *message;
    int64_t acked_at;
    char *acked_by, *ack_note; /* NULL until acknowledged */
    int64_t escalated_at;      /* CONTRACT §8; 0 until escalated */
};

void alert_record_free(struct alert_record *a); /* its strings; NULL is a no-op */

/* *out = a copy of in that owns its strings. 0, or -1 when out of memory
 * (*out then owns nothing). */
int alert_record_copy(struct alert_record *out, const struct alert_record *in);

/* One rule's state on one series (value rules) or one unit (silent). */
struct alert_run {
    bool running; /* the condition holds since `since`; not fired yet */
    bool firing;
    int64_t since;
};

enum alert_step {
    ALERT_NONE,    /* nothing an observer sees (a run may have started or ended) */
    ALERT_FIRE,    /* fired now: *at is fired_at */
    ALERT_UPDATE,  /* still firing: the alert's value follows the sample */
    ALERT_RESOLVE, /* resolved now: *at is resolved_at */
};

/* Value rules: does `value` meet the condition / the clear bound? `ref` is
 * R for the *_reference conditions (ignored by above/below). Bounds are
 * compared as the contract writes them: value against R · (1 ± P/100). */
bool alert_holds(const struct catalog_rule *r, double value, double ref);
bool alert_clears(const struct catalog_rule *r, double value, double ref);

/* A series' new latest sample (or a replacement of its latest, or the same
 * latest again after its reference changed) with its reference R (ignored
 * by above/below rules). The caller skips samples older than the latest
 * and reference rules without an R. */
enum alert_step alert_step_value(const struct catalog_rule *r, struct alert_run *run, int64_t ts,
                                 double value, double ref, int64_t *at);

/* A silent rule on a unit last heard from at `last_heard` (arrival time),
 * checked at `now`: fires once now - last_heard >= the rule's duration
 * (since = last_heard, fired_at = since + duration) and resolves at the
 * first message after since (resolved_at = last_heard). */
enum alert_step alert_step_silent(const struct catalog_rule *r, struct alert_run *run,
                                  int64_t last_heard, int64_t now, int64_t *at);

/* ---- words for people --------------------------------------------------- */

/* value / R - 1; false when R is 0 (no deviation). */
bool alert_deviation(double value, double ref, double *out);

/* 15250 -> "15.250", 12.5 -> "12,5", -0.126 -> "-0,13": thousands with '.',
 * at most two decimals after ',', trailing zeros dropped. */
void alert_format_number(double v, char *out, size_t cap);

/* A deviation (0.108) as a percentage with one decimal: "10,8 %". */
void alert_format_percent(double deviation, char *out, size_t cap);

/* Epoch ms as local time in a zone of tz_offset_ms: "2 Des 2026 14.05 WITA"
 * (WIB, WITA, WIT; other offsets as "UTC+05.30"). */
void alert_format_time(int64_t ms, int64_t tz_offset_ms, char *out, size_t cap);

/* What a message may name. NULL fields (a silent alert's metric, value...)
 * print as "-". Labels are the series' own key/value pairs. */
struct alert_fields {
    const char *rule, *program, *unit, *metric;
    const char *const *label_keys, *const *label_values;
    int n_labels;
    bool has_value, has_reference, has_deviation;
    double value, reference, deviation;
    int64_t since;
    int64_t tz_offset_ms;
};

/* Fills the rule's template ({program} {unit} {metric} {value} {reference}
 * {deviation} {since} and {<label>}), or the default message when template
 * is NULL. A placeholder that names nothing stays as written; the text is
 * cut (on a UTF-8 boundary) to cap - 1 bytes. */
void alert_format_message(const char *template, const struct alert_fields *f, bool silent,
                          char *out, size_t cap);

#endif
