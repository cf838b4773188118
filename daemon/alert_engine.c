/* alert_engine.c — see alert_engine.h.
 *
 * Shapes. A route is a series some rule reads: its latest sample, a slot
 * per value rule that matches it (the rule's run and its firing alert), and
 * the references it is a sample of. A ref is R for one reference rule and
 * one tuple of match values: its latest sample and the slots that compare
 * against it. A watch is a silent rule on one unit. Routes are found by
 * series id (routes dict; a series no rule reads maps to `no_route`), refs
 * by "rule \x1f values", watches by "rule \x1f program \x1f unit".
 *
 * Alerts. Every alert the engine holds is a struct alert: while firing it is
 * in `firing` and its slot or watch points at it; once resolved it leaves
 * both and lives on the dirty list until written, then is freed.
 *
 * Escalation (CONTRACT §8). A firing alert of a rule with `escalate` has a
 * deadline, fired_at + escalate, set when it fires or is attached (at start
 * and after a reload: the rule in use decides). The timer escalates the
 * firing alerts past their deadline that are neither acknowledged nor
 * escalated yet; `next_escalation`, the earliest deadline, lets a tick skip
 * the scan of the firing alerts until one is due. escalated_at is written
 * with its notification in one transaction, so it happens once. */
#include "alert_engine.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alert_store.h"
#include "dict.h"
#include "log.h"
#include "loopwatch.h"
#include "store.h"
#include "util.h"

#define MESSAGE_MAX 512
#define PRUNE_ROWS  1000
#define PRUNE_EVERY 12 /* ticks: once a minute with the default check_ms */

struct alert {
    struct alert_record r;
    int64_t escalate_due; /* epoch ms; INT64_MAX: never (no `escalate`, or done) */
    bool dirty;           /* a transition to write (with its notes) */
    bool stale;           /* a value that followed the series, to write by the timer */
    struct alert *next_dirty;
};

struct ref;

struct slot {
    int rule;
    struct ref *ref; /* reference rules: R for this series' match values */
    struct alert_run run;
    struct alert *alert; /* firing, or NULL */
};

struct route {
    int64_t series;
    char *program, *unit, *metric, *labels_json;
    char **keys, **values; /* the series' labels */
    int n_labels;
    bool has_latest;
    int64_t latest_ts;
    double latest_value;
    struct slot *slots;
    int n_slots;
    struct ref **feeds; /* the refs this series is a sample of */
    int n_feeds;
};

struct user {
    struct route *route;
    int slot;
};

struct ref {
    bool has;
    int64_t ts;
    double value;
    struct user *users;
    size_t n_users, cap_users;
};

struct watch {
    int rule;
    char *program, *unit;
    struct alert_run run;
    struct alert *alert;
};

struct note {
    struct note *next;
    int64_t alert_id;
    const char *event; /* a string literal */
    char *body;
};

struct rule_list {
    int n;
    int rule[];
};

struct alert_engine {
    struct alert_engine_opts o;
    const struct catalog *cat;
    struct alert_store *db;
    uv_timer_t timer;
    int64_t next_id;
    /* per catalog */
    struct dict by_metric;   /* "program\x1fmetric" -> rule_list of value rules */
    struct dict by_ref;      /* "program\x1freference" -> rule_list of reference rules */
    struct dict routes;      /* series id -> struct route, or &no_route */
    struct dict refs;        /* "rule\x1fvalues" -> struct ref */
    struct dict watches;     /* "rule\x1fprogram\x1funit" -> struct watch */
    struct dict quiet_units; /* "program\x1funit" -> number of firing silent alerts */
    size_t n_quiet;          /* firing silent alerts */
    /* alerts */
    struct alert **firing;
    size_t n_firing, cap_firing;
    struct alert *dirty;
    struct note *notes, **notes_tail;
    struct dict fired_total;     /* rule id -> (uintptr_t) count */
    struct dict escalated_total; /* rule id -> (uintptr_t) count */
    int64_t next_escalation;     /* the earliest escalate_due of a firing alert */
    struct log_limit errors;
    uint64_t ticks;
    bool stopped;
};

static struct route no_route;

static int64_t now_ms(struct alert_engine *e)
{
    return e->o.now ? e->o.now() : util_now_ms();
}

/* ---- keys ------------------------------------------------------------------ */

/* Joins parts with \x1f into buf; returns its length (0 when it does not fit). */
static size_t join(char *buf, size_t cap, const char *const *parts, int n)
{
    size_t len = 0;
    for (int i = 0; i < n; i++) {
        size_t l = strlen(parts[i] ? parts[i] : "");
        if (len + l + 2 > cap)
            return 0;
        if (i)
            buf[len++] = '\x1f';
        memcpy(buf + len, parts[i] ? parts[i] : "", l);
        len += l;
    }
    buf[len] = '\0';
    return len;
}

/* ---- alerts: the records and their writes ------------------------------------ */

static void mark_dirty(struct alert_engine *e, struct alert *a)
{
    if (a->dirty)
        return;
    a->dirty = true;
    a->next_dirty = e->dirty;
    e->dirty = a;
}

static void queue_note(struct alert_engine *e, const char *event, struct alert *a)
{
    if (!e->o.note)
        return;
    struct note *n = calloc(1, sizeof *n);
    if (!n || !(n->body = e->o.note(e->o.ctx, event, &a->r))) {
        free(n);
        log_limited(&e->errors, LOG_LVL_ERROR, "alerts: out of memory for a notification");
        return;
    }
    n->alert_id = a->r.id;
    n->event = event;
    *e->notes_tail = n;
    e->notes_tail = &n->next;
}

/* A transition: written at the next flush, told to the live push now. */
static void transition(struct alert_engine *e, const char *event, struct alert *a)
{
    mark_dirty(e, a);
    queue_note(e, event, a);
    if (e->o.changed)
        e->o.changed(e->o.ctx, event, &a->r);
}

/* Writes every dirty alert (and, with `stale`, those whose value moved)
 * and the queued notes in one transaction. On failure all stays queued. */
static void flush(struct alert_engine *e, bool stale)
{
    bool any_stale = false;
    if (stale)
        for (size_t i = 0; i < e->n_firing && !any_stale; i++)
            any_stale = e->firing[i]->stale;
    if (!e->dirty && !e->notes && !any_stale)
        return;
    if (alert_store_begin(e->db) != 0)
        return;
    int rc = 0;
    for (struct alert *a = e->dirty; a && rc == 0; a = a->next_dirty)
        rc = alert_store_put(e->db, &a->r);
    for (size_t i = 0; any_stale && i < e->n_firing && rc == 0; i++)
        if (e->firing[i]->stale)
            rc = alert_store_put(e->db, &e->firing[i]->r);
    for (struct note *n = e->notes; n && rc == 0; n = n->next)
        rc = e->o.persist_note ? e->o.persist_note(e->o.ctx, n->alert_id, n->event, n->body) : 0;
    if (rc != 0 || alert_store_commit(e->db) != 0) {
        if (rc != 0)
            alert_store_rollback(e->db); /* no note written twice when retried */
        log_limited(&e->errors, LOG_LVL_WARN, "alerts: write failed; retrying in %lld ms",
                    (long long)e->o.check_ms);
        return;
    }
    for (size_t i = 0; any_stale && i < e->n_firing; i++)
        e->firing[i]->stale = false;
    while (e->dirty) {
        struct alert *a = e->dirty;
        e->dirty = a->next_dirty;
        a->dirty = a->stale = false;
        if (a->r.resolved_at) { /* resolved: freed once written */
            alert_record_free(&a->r);
            free(a);
        }
    }
    bool had_notes = e->notes != NULL;
    while (e->notes) {
        struct note *n = e->notes;
        e->notes = n->next;
        free(n->body);
        free(n);
    }
    e->notes_tail = &e->notes;
    if (had_notes && e->o.persisted)
        e->o.persisted(e->o.ctx);
}

static int add_firing(struct alert_engine *e, struct alert *a)
{
    if (e->n_firing == e->cap_firing) {
        size_t cap = e->cap_firing ? 2 * e->cap_firing : 16;
        struct alert **grown = realloc(e->firing, cap * sizeof *grown);
        if (!grown)
            return -1;
        e->firing = grown;
        e->cap_firing = cap;
    }
    e->firing[e->n_firing++] = a;
    return 0;
}

static void remove_firing(struct alert_engine *e, struct alert *a)
{
    for (size_t i = 0; i < e->n_firing; i++)
        if (e->firing[i] == a) {
            e->firing[i] = e->firing[--e->n_firing];
            return;
        }
}

static void count_in(struct dict *d, const char *rule)
{
    uintptr_t n = (uintptr_t)dict_get(d, rule, strlen(rule));
    dict_put(d, rule, strlen(rule), (void *)(n + 1));
}

static void count_fired(struct alert_engine *e, const char *rule)
{
    count_in(&e->fired_total, rule);
}

/* ---- escalation ---------------------------------------------------------------- */

/* The alert's deadline under `rule` (NULL: none): fired_at + escalate, once. */
static void set_escalation(struct alert_engine *e, struct alert *a, const struct catalog_rule *rule)
{
    a->escalate_due = INT64_MAX;
    if (!rule || !rule->escalates || a->r.escalated_at)
        return;
    a->escalate_due = a->r.fired_at + rule->escalate_ms; /* both bounded by the parsers */
    if (a->escalate_due < e->next_escalation)
        e->next_escalation = a->escalate_due;
}

/* Escalates every firing alert due by `now` that is neither acknowledged
 * nor escalated: escalated_at = now, told and notified as a transition.
 * Scans the firing alerts (in memory) only once the earliest is due. */
static void escalate_due(struct alert_engine *e, int64_t now)
{
    if (now < e->next_escalation)
        return;
    int64_t next = INT64_MAX;
    for (size_t i = 0; i < e->n_firing; i++) {
        struct alert *a = e->firing[i];
        if (a->escalate_due == INT64_MAX || a->r.acked_at || a->r.escalated_at)
            continue; /* an acknowledgement before the deadline prevents it */
        if (a->escalate_due > now) {
            next = a->escalate_due < next ? a->escalate_due : next;
            continue;
        }
        a->r.escalated_at = now;
        a->escalate_due = INT64_MAX;
        count_in(&e->escalated_total, a->r.rule);
        transition(e, "escalated", a);
    }
    e->next_escalation = next;
}

/* ---- messages ---------------------------------------------------------------- */

static void render(struct alert_engine *e, struct alert *a, const struct catalog_rule *rule,
                   const struct route *rt)
{
    struct alert_fields f = {.rule = a->r.rule,
                             .program = a->r.program,
                             .unit = a->r.unit,
                             .metric = a->r.metric,
                             .has_value = a->r.has_value,
                             .value = a->r.value,
                             .has_reference = a->r.has_reference,
                             .reference = a->r.reference,
                             .has_deviation = a->r.has_deviation,
                             .deviation = a->r.deviation,
                             .since = a->r.since,
                             .tz_offset_ms = e->cat->tz_offset_ms};
    if (rt) {
        f.label_keys = (const char *const *)rt->keys;
        f.label_values = (const char *const *)rt->values;
        f.n_labels = rt->n_labels;
    }
    char text[MESSAGE_MAX];
    alert_format_message(rule ? rule->message : NULL, &f, a->r.series == 0, text, sizeof text);
    char *copy = strdup(text);
    if (!copy)
        return; /* keeps the old message */
    free(a->r.message);
    a->r.message = copy;
}

/* ---- value rules --------------------------------------------------------------- */

static bool is_reference_rule(const struct catalog_rule *r)
{
    return r->condition == RULE_ABOVE_REFERENCE || r->condition == RULE_BELOW_REFERENCE;
}

static void set_values(struct alert *a, const struct catalog_rule *rule, double value,
                       const struct ref *ref)
{
    a->r.has_value = true;
    a->r.value = value;
    a->r.has_reference = ref && is_reference_rule(rule);
    a->r.reference = a->r.has_reference ? ref->value : 0;
    a->r.has_deviation = a->r.has_reference && alert_deviation(value, ref->value, &a->r.deviation);
}

static struct alert *new_value_alert(struct alert_engine *e, const struct catalog_rule *rule,
                                     const struct route *rt)
{
    struct alert *a = calloc(1, sizeof *a);
    if (!a)
        return NULL;
    a->r.id = ++e->next_id;
    a->r.rule = strdup(rule->id);
    a->r.program = strdup(rt->program);
    a->r.unit = strdup(rt->unit);
    a->r.metric = strdup(rt->metric);
    a->r.labels_json = strdup(rt->labels_json);
    a->r.series = rt->series;
    a->r.severity = rule->severity;
    if (!a->r.rule || !a->r.program || !a->r.unit || !a->r.metric || !a->r.labels_json ||
        add_firing(e, a) != 0) {
        alert_record_free(&a->r);
        free(a);
        return NULL;
    }
    return a;
}

/* Steps slot i of a route on the route's latest sample. */
static void step_slot(struct alert_engine *e, struct route *rt, int i)
{
    struct slot *s = &rt->slots[i];
    const struct catalog_rule *rule = &e->cat->rules[s->rule];
    bool reference = is_reference_rule(rule);
    if (!rt->has_latest || (reference && (!s->ref || !s->ref->has)))
        return; /* "no R: not evaluated" */
    double ref = reference ? s->ref->value : 0;
    int64_t at = 0;
    switch (alert_step_value(rule, &s->run, rt->latest_ts, rt->latest_value, ref, &at)) {
    case ALERT_NONE:
        return;
    case ALERT_FIRE: {
        struct alert *a = new_value_alert(e, rule, rt);
        if (!a) {
            s->run.firing = false; /* tried again on the next sample */
            log_limited(&e->errors, LOG_LVL_ERROR, "alerts: out of memory for an alert");
            return;
        }
        a->r.since = s->run.since;
        a->r.fired_at = at;
        set_values(a, rule, rt->latest_value, s->ref);
        render(e, a, rule, rt);
        s->alert = a;
        set_escalation(e, a, rule);
        count_fired(e, rule->id);
        transition(e, "firing", a);
        return;
    }
    case ALERT_UPDATE:
        if (!s->alert)
            return;
        set_values(s->alert, rule, rt->latest_value, s->ref);
        render(e, s->alert, rule, rt);
        s->alert->stale = true;
        return;
    case ALERT_RESOLVE: {
        struct alert *a = s->alert;
        s->alert = NULL;
        if (!a)
            return;
        /* value, reference and deviation are the resolving sample's (§6);
         * the message stays what it said while firing ("… 16,7 % di atas
         * acuan"), which a resolving value would make read wrong. */
        set_values(a, rule, rt->latest_value, s->ref);
        a->r.resolved_at = at;
        remove_firing(e, a);
        transition(e, "resolved", a);
        return;
    }
    }
}

/* R changed: every series that compares against it steps again on its
 * latest sample, "as if that sample had just arrived". */
static void reference_changed(struct alert_engine *e, struct ref *ref)
{
    for (size_t i = 0; i < ref->n_users; i++)
        step_slot(e, ref->users[i].route, ref->users[i].slot);
}

/* ---- routes ---------------------------------------------------------------------- */

static const char *label_of(const struct route *rt, const char *key)
{
    for (int i = 0; i < rt->n_labels; i++)
        if (strcmp(rt->keys[i], key) == 0)
            return rt->values[i];
    return NULL;
}

/* The ref of rule r for the route's match values (created on demand). */
static struct ref *ref_for(struct alert_engine *e, int r, const struct route *rt)
{
    const struct catalog_rule *rule = &e->cat->rules[r];
    char key[1024], num[16];
    const char *parts[1 + CATALOG_MAX_LABELS * 2];
    int n = 0;
    snprintf(num, sizeof num, "%d", r);
    parts[n++] = num;
    for (int i = 0; i < rule->n_match_labels && n + 2 <= (int)(sizeof parts / sizeof parts[0]);
         i++) {
        const char *v = label_of(rt, rule->match_labels[i]);
        parts[n++] = v ? "=" : "!"; /* an absent label matches only absence */
        parts[n++] = v ? v : "";
    }
    size_t len = join(key, sizeof key, parts, n);
    if (!len)
        return NULL;
    struct ref *ref = dict_get(&e->refs, key, len);
    if (ref)
        return ref;
    if (!(ref = calloc(1, sizeof *ref)) || dict_put(&e->refs, key, len, ref) != 0) {
        free(ref);
        return NULL;
    }
    return ref;
}

static int add_user(struct ref *ref, struct route *rt, int slot)
{
    if (ref->n_users == ref->cap_users) {
        size_t cap = ref->cap_users ? 2 * ref->cap_users : 4;
        struct user *grown = realloc(ref->users, cap * sizeof *grown);
        if (!grown)
            return -1;
        ref->users = grown;
        ref->cap_users = cap;
    }
    ref->users[ref->n_users++] = (struct user){rt, slot};
    return 0;
}

static int parse_labels(struct route *rt)
{
    json_t *o = json_loads(rt->labels_json, 0, NULL);
    if (!json_is_object(o)) {
        json_decref(o);
        return -1;
    }
    size_t n = json_object_size(o);
    rt->keys = calloc(n + 1, sizeof *rt->keys);
    rt->values = calloc(n + 1, sizeof *rt->values);
    const char *k;
    json_t *v;
    json_object_foreach(o, k, v)
    {
        if (!rt->keys || !rt->values || !json_is_string(v))
            break;
        rt->keys[rt->n_labels] = strdup(k);
        rt->values[rt->n_labels] = strdup(json_string_value(v));
        if (!rt->keys[rt->n_labels] || !rt->values[rt->n_labels])
            break;
        rt->n_labels++;
    }
    json_decref(o);
    return rt->keys && rt->values && (size_t)rt->n_labels == n ? 0 : -1;
}

static void free_route(struct route *rt)
{
    if (!rt || rt == &no_route)
        return;
    for (int i = 0; i < rt->n_labels; i++) {
        free(rt->keys[i]);
        free(rt->values[i]);
    }
    free(rt->keys);
    free(rt->values);
    free(rt->program);
    free(rt->unit);
    free(rt->metric);
    free(rt->labels_json);
    free(rt->slots);
    free(rt->feeds);
    free(rt);
}

static const struct rule_list *rules_of(const struct dict *d, const char *program,
                                        const char *metric)
{
    char key[2 * SLUG_MAX + 4];
    const char *parts[2] = {program, metric};
    size_t len = join(key, sizeof key, parts, 2);
    return len ? dict_get(d, key, len) : NULL;
}

/* Fills the route's slots and feeds from the rules that read the series. */
static int fill_route(struct alert_engine *e, struct route *rt, const struct rule_list *vals,
                      const struct rule_list *refs)
{
    rt->slots = calloc(vals ? (size_t)vals->n : 1, sizeof *rt->slots);
    rt->feeds = calloc(refs ? (size_t)refs->n : 1, sizeof *rt->feeds);
    if (!rt->slots || !rt->feeds)
        return -1;
    for (int i = 0; vals && i < vals->n; i++) {
        const struct catalog_rule *rule = &e->cat->rules[vals->rule[i]];
        if (!catalog_match_series(&rule->match, rt->unit, rt->labels_json))
            continue;
        struct slot *s = &rt->slots[rt->n_slots];
        *s = (struct slot){.rule = vals->rule[i]};
        if (is_reference_rule(rule) &&
            (!(s->ref = ref_for(e, vals->rule[i], rt)) || add_user(s->ref, rt, rt->n_slots) != 0))
            return -1;
        rt->n_slots++;
    }
    for (int i = 0; refs && i < refs->n; i++)
        if (!(rt->feeds[rt->n_feeds++] = ref_for(e, refs->rule[i], rt)))
            return -1;
    return 0;
}

/* The route of a series: looked up, or worked out once and remembered. */
static struct route *route_of(struct alert_engine *e, int64_t series, const char *program,
                              const char *unit, const char *metric, const char *labels_json)
{
    struct route *rt = dict_get(&e->routes, (const char *)&series, sizeof series);
    if (rt)
        return rt;
    const struct rule_list *vals = rules_of(&e->by_metric, program, metric);
    const struct rule_list *refs = rules_of(&e->by_ref, program, metric);
    if (!vals && !refs) {
        dict_put(&e->routes, (const char *)&series, sizeof series, &no_route);
        return &no_route;
    }
    rt = calloc(1, sizeof *rt);
    if (!rt)
        return NULL;
    rt->series = series;
    rt->program = strdup(program);
    rt->unit = strdup(unit);
    rt->metric = strdup(metric);
    rt->labels_json = strdup(labels_json);
    if (!rt->program || !rt->unit || !rt->metric || !rt->labels_json || parse_labels(rt) != 0 ||
        fill_route(e, rt, vals, refs) != 0 ||
        dict_put(&e->routes, (const char *)&series, sizeof series, rt) != 0) {
        /* refs may point at the half-built route: drop them from it */
        for (int i = 0; i < rt->n_slots; i++)
            if (rt->slots[i].ref && rt->slots[i].ref->n_users &&
                rt->slots[i].ref->users[rt->slots[i].ref->n_users - 1].route == rt)
                rt->slots[i].ref->n_users--;
        free_route(rt);
        log_limited(&e->errors, LOG_LVL_ERROR, "alerts: out of memory for a series");
        return NULL;
    }
    return rt;
}

/* A new latest sample of the series (or the latest replaced). */
static void apply_sample(struct alert_engine *e, struct route *rt, int64_t ts, double value)
{
    if (rt->has_latest && ts < rt->latest_ts)
        return; /* "samples older than the series' latest change no alert" */
    rt->has_latest = true;
    rt->latest_ts = ts;
    rt->latest_value = value;
    for (int i = 0; i < rt->n_slots; i++)
        step_slot(e, rt, i);
    for (int i = 0; i < rt->n_feeds; i++) {
        struct ref *ref = rt->feeds[i];
        if (ref->has && ts < ref->ts)
            continue; /* R is the latest by ts */
        bool changed = !ref->has || ref->value != value;
        ref->has = true;
        ref->ts = ts;
        ref->value = value;
        if (changed)
            reference_changed(e, ref);
    }
}

/* ---- silence ------------------------------------------------------------------------ */

static struct watch *watch_of(struct alert_engine *e, int r, const char *program, const char *unit)
{
    char key[2 * SLUG_MAX + 32], num[16];
    snprintf(num, sizeof num, "%d", r);
    const char *parts[3] = {num, program, unit};
    size_t len = join(key, sizeof key, parts, 3);
    if (!len)
        return NULL;
    struct watch *w = dict_get(&e->watches, key, len);
    if (w)
        return w;
    if (!(w = calloc(1, sizeof *w)))
        return NULL;
    w->rule = r;
    w->program = strdup(program);
    w->unit = strdup(unit);
    if (!w->program || !w->unit || dict_put(&e->watches, key, len, w) != 0) {
        free(w->program);
        free(w->unit);
        free(w);
        return NULL;
    }
    return w;
}

static void quiet_add(struct alert_engine *e, const char *program, const char *unit, int delta)
{
    char key[2 * SLUG_MAX + 4];
    const char *parts[2] = {program, unit};
    size_t len = join(key, sizeof key, parts, 2);
    if (!len)
        return;
    intptr_t n = (intptr_t)dict_get(&e->quiet_units, key, len) + delta;
    if (dict_put(&e->quiet_units, key, len, (void *)n) == 0)
        e->n_quiet = (size_t)((intptr_t)e->n_quiet + delta);
}

static struct alert *new_silent_alert(struct alert_engine *e, const struct catalog_rule *rule,
                                      const struct watch *w)
{
    struct alert *a = calloc(1, sizeof *a);
    if (!a)
        return NULL;
    a->r.id = ++e->next_id;
    a->r.rule = strdup(rule->id);
    a->r.program = strdup(w->program);
    a->r.unit = strdup(w->unit);
    a->r.severity = rule->severity;
    if (!a->r.rule || !a->r.program || !a->r.unit || add_firing(e, a) != 0) {
        alert_record_free(&a->r);
        free(a);
        return NULL;
    }
    return a;
}

static void step_watch(struct alert_engine *e, struct watch *w, int64_t last_heard, int64_t now)
{
    const struct catalog_rule *rule = &e->cat->rules[w->rule];
    int64_t at = 0;
    switch (alert_step_silent(rule, &w->run, last_heard, now, &at)) {
    case ALERT_FIRE: {
        struct alert *a = new_silent_alert(e, rule, w);
        if (!a) {
            w->run.firing = false;
            log_limited(&e->errors, LOG_LVL_ERROR, "alerts: out of memory for an alert");
            return;
        }
        a->r.since = w->run.since;
        a->r.fired_at = at;
        render(e, a, rule, NULL);
        w->alert = a;
        set_escalation(e, a, rule);
        quiet_add(e, w->program, w->unit, 1);
        count_fired(e, rule->id);
        transition(e, "firing", a);
        return;
    }
    case ALERT_RESOLVE: {
        struct alert *a = w->alert;
        w->alert = NULL;
        if (!a)
            return;
        a->r.resolved_at = at;
        remove_firing(e, a);
        quiet_add(e, w->program, w->unit, -1);
        transition(e, "resolved", a);
        return;
    }
    default:
        return;
    }
}

struct silence_pass {
    struct alert_engine *e;
    int64_t now;
    const char *only_program, *only_unit; /* a unit just heard from: only it */
};

static void check_unit(void *ctx, const struct store_unit_view *u)
{
    struct silence_pass *p = ctx;
    struct alert_engine *e = p->e;
    if (p->only_unit && (strcmp(u->program, p->only_program) || strcmp(u->unit, p->only_unit)))
        return;
    for (int r = 0; r < e->cat->n_rules; r++) {
        const struct catalog_rule *rule = &e->cat->rules[r];
        if (rule->condition != RULE_SILENT ||
            strcmp(e->cat->programs[rule->program].id, u->program) != 0 ||
            !catalog_match_series(&rule->match, u->unit, "{}") || u->last_seen <= 0)
            continue;
        struct watch *w = watch_of(e, r, u->program, u->unit);
        if (w)
            step_watch(e, w, u->last_seen, p->now);
    }
}

static bool has_silent_rules(const struct catalog *c)
{
    for (int r = 0; r < c->n_rules; r++)
        if (c->rules[r].condition == RULE_SILENT)
            return true;
    return false;
}

/* A unit with a firing silent alert was heard from: resolve now. */
static void heard(struct alert_engine *e, const char *program, const char *unit)
{
    char key[2 * SLUG_MAX + 4];
    const char *parts[2] = {program, unit};
    size_t len = join(key, sizeof key, parts, 2);
    if (!len || (intptr_t)dict_get(&e->quiet_units, key, len) <= 0)
        return;
    struct store_unit_view v;
    if (store_get_unit(e->o.store, program, unit, &v) != 0)
        return;
    struct silence_pass p = {e, now_ms(e), program, unit};
    check_unit(&p, &v);
}

/* ---- catalog ----------------------------------------------------------------------- */

static int list_add(struct dict *d, const char *program, const char *metric, int rule)
{
    char key[2 * SLUG_MAX + 4];
    const char *parts[2] = {program, metric};
    size_t len = join(key, sizeof key, parts, 2);
    if (!len)
        return -1;
    struct rule_list *old = dict_get(d, key, len);
    int n = old ? old->n : 0;
    struct rule_list *l = malloc(sizeof *l + (size_t)(n + 1) * sizeof l->rule[0]);
    if (!l)
        return -1;
    l->n = n + 1;
    if (old)
        memcpy(l->rule, old->rule, (size_t)n * sizeof l->rule[0]);
    l->rule[n] = rule;
    if (dict_put(d, key, len, l) != 0) {
        free(l);
        return -1;
    }
    free(old);
    return 0;
}

static void free_value(void *ctx, const char *key, void *value)
{
    free(value);
}

static void free_route_entry(void *ctx, const char *key, void *value)
{
    free_route(value);
}

static void free_ref(void *ctx, const char *key, void *value)
{
    struct ref *ref = value;
    free(ref->users);
    free(ref);
}

static void free_watch(void *ctx, const char *key, void *value)
{
    struct watch *w = value;
    free(w->program);
    free(w->unit);
    free(w);
}

static void clear_state(struct alert_engine *e)
{
    dict_each(&e->by_metric, free_value, NULL);
    dict_each(&e->by_ref, free_value, NULL);
    dict_each(&e->routes, free_route_entry, NULL);
    dict_each(&e->refs, free_ref, NULL);
    dict_each(&e->watches, free_watch, NULL);
    dict_free(&e->by_metric);
    dict_free(&e->by_ref);
    dict_free(&e->routes);
    dict_free(&e->refs);
    dict_free(&e->watches);
    dict_free(&e->quiet_units);
    e->n_quiet = 0;
}

static int index_rules(struct alert_engine *e)
{
    const struct catalog *c = e->cat;
    for (int r = 0; r < c->n_rules; r++) {
        const struct catalog_rule *rule = &c->rules[r];
        const char *program = c->programs[rule->program].id;
        if (rule->condition == RULE_SILENT)
            continue;
        if (list_add(&e->by_metric, program, rule->match.metric, r) != 0)
            return -1;
        if (is_reference_rule(rule) && list_add(&e->by_ref, program, rule->reference, r) != 0)
            return -1;
    }
    return 0;
}

/* Every series the store knows, with its latest sample: R and each series'
 * latest as of now, without stepping a rule (that happened when the
 * samples arrived). */
static void add_known_series(void *ctx, const struct store_series_view *v)
{
    struct alert_engine *e = ctx;
    struct route *rt = route_of(e, v->id, v->program, v->unit, v->metric, v->labels_json);
    if (!rt || rt == &no_route || !v->has_last)
        return;
    rt->has_latest = true;
    rt->latest_ts = v->last_ts;
    rt->latest_value = v->last_value;
    for (int i = 0; i < rt->n_feeds; i++) {
        struct ref *ref = rt->feeds[i];
        if (!ref->has || v->last_ts >= ref->ts) {
            ref->has = true;
            ref->ts = v->last_ts;
            ref->value = v->last_value;
        }
    }
}

static int rule_index(const struct catalog *c, const char *id)
{
    for (int r = 0; r < c->n_rules; r++)
        if (strcmp(c->rules[r].id, id) == 0)
            return r;
    return -1;
}

/* Puts a firing alert back on its slot or watch; false if its rule or
 * series is gone. */
static bool attach(struct alert_engine *e, struct alert *a)
{
    int r = rule_index(e->cat, a->r.rule);
    if (r < 0 || strcmp(e->cat->programs[e->cat->rules[r].program].id, a->r.program) != 0)
        return false;
    /* the rule in use decides (a reload may change or remove `escalate`) */
    set_escalation(e, a, &e->cat->rules[r]);
    if (e->cat->rules[r].condition == RULE_SILENT) {
        if (a->r.series || !a->r.unit)
            return false;
        struct watch *w = watch_of(e, r, a->r.program, a->r.unit);
        if (!w || w->alert)
            return false;
        w->alert = a;
        w->run = (struct alert_run){.firing = true, .since = a->r.since};
        quiet_add(e, a->r.program, a->r.unit, 1);
        return true;
    }
    struct route *rt = dict_get(&e->routes, (const char *)&a->r.series, sizeof a->r.series);
    for (int i = 0; rt && rt != &no_route && i < rt->n_slots; i++)
        if (rt->slots[i].rule == r && !rt->slots[i].alert) {
            rt->slots[i].alert = a;
            rt->slots[i].run = (struct alert_run){.firing = true, .since = a->r.since};
            return true;
        }
    return false;
}

/* Builds the state for the catalog in use around the firing alerts. */
static int build(struct alert_engine *e)
{
    dict_init(&e->by_metric);
    dict_init(&e->by_ref);
    dict_init(&e->routes);
    dict_init(&e->refs);
    dict_init(&e->watches);
    dict_init(&e->quiet_units);
    e->next_escalation = INT64_MAX; /* attach() sets each deadline again */
    if (index_rules(e) != 0)
        return -1;
    store_each_series(e->o.store, add_known_series, e);
    int64_t now = now_ms(e);
    for (size_t i = 0; i < e->n_firing;) {
        struct alert *a = e->firing[i];
        if (attach(e, a)) {
            i++;
            continue;
        }
        /* its rule left the catalog (or changed program): it ends now */
        a->r.resolved_at = now;
        remove_firing(e, a);
        transition(e, "resolved", a);
    }
    return 0;
}

/* ---- start, stop ------------------------------------------------------------------ */

static void load_firing(void *ctx, const struct alert_record *row)
{
    struct alert_engine *e = ctx;
    struct alert *a = calloc(1, sizeof *a);
    if (!a)
        return;
    if (alert_record_copy(&a->r, row) != 0) {
        free(a);
        return;
    }
    if (!a->r.rule || !a->r.program || !a->r.message || add_firing(e, a) != 0) {
        alert_record_free(&a->r);
        free(a);
    }
}

static void on_timer(uv_timer_t *t)
{
    uint64_t t0 = util_mono_ns();
    alert_engine_tick(t->data);
    loopwatch_note("alert tick", t0);
}

int alert_engine_start(struct alert_engine **out, const struct alert_engine_opts *o,
                       const struct catalog *c)
{
    struct alert_engine *e = calloc(1, sizeof *e);
    if (!e)
        return -1;
    e->o = *o;
    if (e->o.check_ms <= 0)
        e->o.check_ms = 5000;
    e->cat = c;
    e->notes_tail = &e->notes;
    e->next_escalation = INT64_MAX;
    dict_init(&e->fired_total);
    dict_init(&e->escalated_total);
    if (alert_store_open(&e->db, (sqlite3 *)store_db(o->store)) != 0) {
        free(e);
        return -1;
    }
    e->next_id = alert_store_max_id(e->db);
    if (alert_store_each_firing(e->db, load_firing, e) != 0 || build(e) != 0) {
        alert_engine_free(e);
        return -1;
    }
    escalate_due(e, now_ms(e)); /* those due while pantaud was down: now */
    flush(e, false);
    uv_timer_init(o->loop, &e->timer);
    e->timer.data = e;
    uv_timer_start(&e->timer, on_timer, (uint64_t)e->o.check_ms, (uint64_t)e->o.check_ms);
    log_info("alerts: %d rule(s), %zu firing", c->n_rules, e->n_firing);
    *out = e;
    return 0;
}

int alert_engine_set_catalog(struct alert_engine *e, const struct catalog *c)
{
    for (size_t i = 0; i < e->n_firing; i++)
        e->firing[i]->stale = true; /* their series' state goes: keep what they show */
    clear_state(e);
    e->cat = c;
    int rc = build(e);
    escalate_due(e, now_ms(e)); /* a shorter `escalate` may be due already */
    flush(e, true);
    return rc;
}

void alert_engine_samples(struct alert_engine *e, const struct sample *s, size_t n)
{
    if (e->stopped)
        return;
    const char *last_unit = NULL, *last_program = NULL;
    for (size_t i = 0; i < n; i++) {
        if (e->n_quiet && (s[i].unit != last_unit || s[i].program != last_program)) {
            heard(e, s[i].program, s[i].unit);
            last_unit = s[i].unit;
            last_program = s[i].program;
        }
        if (e->cat->n_rules == 0 || !s[i].series)
            continue;
        struct route *rt =
            route_of(e, s[i].series, s[i].program, s[i].unit, s[i].metric, s[i].labels_json);
        if (rt && rt != &no_route)
            apply_sample(e, rt, s[i].ts, s[i].value);
    }
    flush(e, false);
}

void alert_engine_presence(struct alert_engine *e, const char *program, const char *unit)
{
    if (e->stopped || !e->n_quiet)
        return;
    heard(e, program, unit);
    flush(e, false);
}

void alert_engine_tick(struct alert_engine *e)
{
    if (has_silent_rules(e->cat)) {
        struct silence_pass p = {e, now_ms(e), NULL, NULL};
        store_each_unit(e->o.store, check_unit, &p);
    }
    escalate_due(e, now_ms(e));
    flush(e, true);
    if (++e->ticks % PRUNE_EVERY == 0) { /* a write lock taken, so not every tick */
        int days = e->o.retention_days > 400 ? e->o.retention_days : 400;
        alert_store_prune(e->db, now_ms(e) - (int64_t)days * 86400000, PRUNE_ROWS);
    }
}

/* ---- reading ---------------------------------------------------------------------- */

static int newest_first(const void *x, const void *y)
{
    const struct alert *a = *(struct alert *const *)x, *b = *(struct alert *const *)y;
    if (a->r.fired_at != b->r.fired_at)
        return a->r.fired_at > b->r.fired_at ? -1 : 1;
    return a->r.id > b->r.id ? -1 : a->r.id < b->r.id;
}

void alert_engine_each_firing(struct alert_engine *e, const char *program, alert_engine_fn fn,
                              void *ctx)
{
    if (e->n_firing > 1)
        qsort(e->firing, e->n_firing, sizeof e->firing[0], newest_first);
    for (size_t i = 0; i < e->n_firing; i++)
        if (!program || strcmp(program, e->firing[i]->r.program) == 0)
            fn(ctx, &e->firing[i]->r);
}

int alert_engine_each_in(struct alert_engine *e, const struct alert_page *pg, alert_engine_fn fn,
                         void *ctx)
{
    if (e->stopped)
        return -1;
    flush(e, true);
    return alert_store_each_in(e->db, pg, fn, ctx);
}

static int set_ack(struct alert_record *r, int64_t now, const char *role, const char *note)
{
    char *by = strdup(role), *n = note ? strdup(note) : NULL;
    if (!by || (note && !n)) {
        free(by);
        free(n);
        return -1;
    }
    r->acked_at = now;
    r->acked_by = by;
    r->ack_note = n;
    return 0;
}

/* Acknowledging a resolved alert: it is only in the database. */
static int ack_stored(struct alert_engine *e, int64_t id, const char *role, const char *note,
                      struct alert_record *out)
{
    int found = alert_store_get(e->db, id, out);
    if (found <= 0 || out->acked_at)
        return found;
    if (set_ack(out, now_ms(e), role, note) != 0) {
        alert_record_free(out);
        return -1;
    }
    struct alert tmp = {.r = *out};
    if (alert_store_begin(e->db) != 0 || alert_store_put(e->db, out) != 0 ||
        alert_store_commit(e->db) != 0) {
        alert_record_free(out);
        return -1;
    }
    queue_note(e, "acked", &tmp);
    if (e->o.changed)
        e->o.changed(e->o.ctx, "acked", out);
    flush(e, false);
    return 1;
}

int alert_engine_ack(struct alert_engine *e, int64_t id, const char *role, const char *note,
                     struct alert_record *out)
{
    if (e->stopped)
        return -1;
    flush(e, false); /* a resolved alert still queued is written first */
    for (size_t i = 0; i < e->n_firing; i++) {
        struct alert *a = e->firing[i];
        if (a->r.id != id)
            continue;
        if (!a->r.acked_at) {
            if (set_ack(&a->r, now_ms(e), role, note) != 0)
                return -1;
            transition(e, "acked", a);
            flush(e, false);
        }
        return alert_record_copy(out, &a->r) == 0 ? 1 : -1;
    }
    return ack_stored(e, id, role, note, out);
}

int alert_engine_get(struct alert_engine *e, int64_t id, struct alert_record *out)
{
    for (size_t i = 0; i < e->n_firing; i++)
        if (e->firing[i]->r.id == id)
            return alert_record_copy(out, &e->firing[i]->r) == 0 ? 1 : -1;
    return alert_store_get(e->db, id, out);
}

void alert_engine_firing_counts(const struct alert_engine *e, uint64_t out[3])
{
    out[0] = out[1] = out[2] = 0;
    for (size_t i = 0; i < e->n_firing; i++)
        out[e->firing[i]->r.severity]++;
}

struct totals {
    void (*fn)(void *ctx, const char *rule, uint64_t n);
    void *ctx;
};

static void each_total(void *ctx, const char *key, void *value)
{
    struct totals *t = ctx;
    t->fn(t->ctx, key, (uint64_t)(uintptr_t)value);
}

void alert_engine_each_fired_total(const struct alert_engine *e,
                                   void (*fn)(void *ctx, const char *rule, uint64_t n), void *ctx)
{
    struct totals t = {fn, ctx};
    dict_each(&e->fired_total, each_total, &t);
    for (int r = 0; r < e->cat->n_rules; r++) {
        const char *id = e->cat->rules[r].id;
        if (!dict_get(&e->fired_total, id, strlen(id)))
            fn(ctx, id, 0);
    }
}

void alert_engine_each_escalated_total(const struct alert_engine *e,
                                       void (*fn)(void *ctx, const char *rule, uint64_t n),
                                       void *ctx)
{
    struct totals t = {fn, ctx};
    dict_each(&e->escalated_total, each_total, &t);
    for (int r = 0; r < e->cat->n_rules; r++) {
        const char *id = e->cat->rules[r].id;
        if (e->cat->rules[r].escalates && !dict_get(&e->escalated_total, id, strlen(id)))
            fn(ctx, id, 0);
    }
}

void alert_engine_stop(struct alert_engine *e)
{
    if (!e || e->stopped)
        return;
    e->stopped = true;
    flush(e, true);
    alert_store_close(e->db); /* its statements, before the store closes the connection */
    e->db = NULL;
    uv_timer_stop(&e->timer);
    uv_close((uv_handle_t *)&e->timer, NULL);
}

void alert_engine_free(struct alert_engine *e)
{
    if (!e)
        return;
    clear_state(e);
    for (size_t i = 0; i < e->n_firing; i++) {
        alert_record_free(&e->firing[i]->r);
        free(e->firing[i]);
    }
    free(e->firing);
    while (e->dirty) { /* resolved alerts never written */
        struct alert *a = e->dirty;
        e->dirty = a->next_dirty;
        if (a->r.resolved_at) { /* resolved: freed once written */
            alert_record_free(&a->r);
            free(a);
        }
    }
    while (e->notes) {
        struct note *n = e->notes;
        e->notes = n->next;
        free(n->body);
        free(n);
    }
    dict_free(&e->fired_total);
    dict_free(&e->escalated_total);
    alert_store_close(e->db);
    free(e);
}
