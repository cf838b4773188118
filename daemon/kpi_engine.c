/* kpi_engine.c — see kpi_engine.h. */
#include "kpi_engine.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "loopwatch.h"
#include "query_pool.h"
#include "agg.h"
#include "store.h"
#include "util.h"

#define TICK_MS       1000 /* recompute dirty KPIs, notice statuses moved by time */
#define NOTIFY_GAP_MS 1000 /* at most one "changed" per KPI per second */

/* A catalog shared by the engine and the jobs that read it. */
struct cat_ref {
    struct catalog *catalog;
    int refs;
};

/* One series a KPI matches, with its aggregate over the KPI's period up to
 * read_to. A read goes up to the newest ts committed when it was asked for
 * (seen_to; never past T), so a sample newer than read_to is one it has not
 * counted: the next read covers (read_to, seen_to] and merges. A sample at or
 * before read_to (late, or replacing one already read) makes the series
 * `full`: read again from the period's start. So under steady ingest a read
 * costs what arrived since the last one. */
struct kpi_series {
    int64_t id;
    char *key; /* the unit (units), the counted label's value (distinct), else NULL */
    struct rollup_agg agg;
    int64_t read_to; /* INT64_MIN: nothing read yet */
    int64_t seen_to; /* the newest ts committed, as far as the engine was told */
    bool dirty;      /* read at the next job */
    bool full;       /* ... from the period's start */
};

struct kpi_state {
    struct kpi_series *series;
    size_t n_series, cap_series;
    struct dict by_id; /* series id (8 bytes) -> index + 1 */
    int64_t period_from, period_to;
    bool dirty;         /* some series dirty */
    int64_t recheck_at; /* a sample newer than the last read: read all again then */
    bool has_current;
    double current;
    /* What `changed` last said, to report only changes. */
    bool notified;
    bool notified_has_current;
    double notified_current;
    enum kpi_status notified_status;
    int64_t notified_at;
};

/* KPIs that read one (program, metric). */
struct kpi_list {
    int n;
    int kpi[];
};

struct waiter {
    struct waiter *next;
    uint64_t need_seq; /* a job submitted at or after this one must finish */
    void (*fn)(void *ctx);
    void *ctx;
};

struct kpi_engine {
    struct kpi_engine_opts opts;
    uv_timer_t tick;
    struct cat_ref *cat;
    uint64_t gen; /* bumped by each catalog change: older jobs' results are dropped */
    struct kpi_state *kpis;
    struct dict by_metric; /* "program\x1fmetric" -> struct kpi_list */
    struct dict routes;    /* series id -> struct kpi_list of the KPIs it feeds (n may be 0) */
    int n_dirty;
    bool primed; /* the first read since the catalog changed is done */
    bool job_running;
    uint64_t seq_submitted, seq_done;
    struct waiter *waiters;
    bool stopping;
    struct log_limit errors;
};

/* ---- catalogs ------------------------------------------------------------ */

static struct cat_ref *cat_new(struct catalog *c)
{
    struct cat_ref *r = malloc(sizeof *r);
    if (r)
        *r = (struct cat_ref){c, 1};
    return r;
}

static void cat_unref(struct cat_ref *r)
{
    if (r && --r->refs == 0) {
        catalog_free(r->catalog);
        free(r);
    }
}

/* ---- per-KPI series ------------------------------------------------------- */

static void free_entry(void *ctx, const char *key, void *value)
{
    free(value);
}

static void free_state(struct kpi_engine *e)
{
    const struct catalog *c = e->cat ? e->cat->catalog : NULL;
    for (int i = 0; c && e->kpis && i < c->n_kpis; i++) {
        struct kpi_state *k = &e->kpis[i];
        for (size_t j = 0; j < k->n_series; j++)
            free(k->series[j].key);
        free(k->series);
        dict_free(&k->by_id);
    }
    free(e->kpis);
    e->kpis = NULL;
    dict_each(&e->by_metric, free_entry, NULL);
    dict_free(&e->by_metric);
    dict_each(&e->routes, free_entry, NULL);
    dict_free(&e->routes);
    e->n_dirty = 0;
}

static size_t metric_key(char *buf, size_t cap, const char *program, const char *metric)
{
    int n = snprintf(buf, cap, "%s\x1f%s", program, metric);
    return n < 0 || (size_t)n >= cap ? 0 : (size_t)n;
}

/* Appends kpi to the list under key. A new list replaces the old one only
 * once the dict holds it, so a failure leaves the dict as it was. */
static int list_append(struct dict *d, const char *key, size_t len, int kpi)
{
    struct kpi_list *old = dict_get(d, key, len);
    int n = old ? old->n : 0;
    struct kpi_list *l = malloc(sizeof *l + (size_t)(n + 1) * sizeof l->kpi[0]);
    if (!l)
        return -1;
    if (old)
        memcpy(l->kpi, old->kpi, (size_t)n * sizeof l->kpi[0]);
    l->n = n + 1;
    l->kpi[n] = kpi;
    if (dict_put(d, key, len, l) != 0) {
        free(l);
        return -1;
    }
    free(old);
    return 0;
}

/* The key a series contributes to a units / distinct KPI. */
static char *series_key_for(const struct catalog_kpi *def, const char *unit, const char *labels)
{
    if (def->agg == KPI_UNITS)
        return strdup(unit);
    if (def->agg != KPI_DISTINCT)
        return NULL;
    json_t *obj = json_loads(labels, 0, NULL);
    const char *v = json_string_value(json_object_get(obj, def->distinct_label));
    char *key = v ? strdup(v) : NULL;
    json_decref(obj);
    return key;
}

static void mark_dirty(struct kpi_engine *e, struct kpi_state *k, struct kpi_series *s)
{
    s->dirty = true;
    if (!k->dirty) {
        k->dirty = true;
        e->n_dirty++;
    }
}

/* Read again from the period's start. */
static void mark_full(struct kpi_engine *e, struct kpi_state *k, struct kpi_series *s)
{
    s->full = true;
    mark_dirty(e, k, s);
}

/* Adds a series to KPI i (if new); returns it, or NULL when out of memory. */
static struct kpi_series *add_series(struct kpi_engine *e, int i, int64_t id, const char *unit,
                                     const char *labels, int64_t newest_ts)
{
    struct kpi_state *k = &e->kpis[i];
    uintptr_t slot = (uintptr_t)dict_get(&k->by_id, (const char *)&id, sizeof id);
    if (slot)
        return &k->series[slot - 1];
    if (k->n_series == k->cap_series) {
        size_t cap = k->cap_series ? 2 * k->cap_series : 8;
        struct kpi_series *grown = realloc(k->series, cap * sizeof *grown);
        if (!grown)
            return NULL;
        k->series = grown;
        k->cap_series = cap;
    }
    struct kpi_series *s = &k->series[k->n_series];
    *s = (struct kpi_series){.id = id, .read_to = INT64_MIN, .seen_to = newest_ts, .full = true};
    rollup_agg_init(&s->agg);
    s->key = series_key_for(&e->cat->catalog->kpis[i], unit, labels);
    if (dict_put(&k->by_id, (const char *)&id, sizeof id, (void *)(uintptr_t)(k->n_series + 1))) {
        free(s->key);
        return NULL;
    }
    k->n_series++;
    mark_dirty(e, k, s);
    return s;
}

/* The KPIs a series feeds, worked out once per series and remembered. */
static const struct kpi_list *route_of(struct kpi_engine *e, int64_t id, const char *program,
                                       const char *unit, const char *metric, const char *labels)
{
    const struct kpi_list *r = dict_get(&e->routes, (const char *)&id, sizeof id);
    if (r)
        return r;
    char key[2 * SLUG_MAX + 2];
    size_t len = metric_key(key, sizeof key, program, metric);
    const struct kpi_list *candidates = len ? dict_get(&e->by_metric, key, len) : NULL;
    int n = candidates ? candidates->n : 0;
    struct kpi_list *route = malloc(sizeof *route + (size_t)n * sizeof route->kpi[0]);
    if (!route)
        return NULL;
    route->n = 0;
    for (int j = 0; j < n; j++) {
        const struct catalog_kpi *def = &e->cat->catalog->kpis[candidates->kpi[j]];
        if (catalog_match_series(&def->match, unit, labels))
            route->kpi[route->n++] = candidates->kpi[j];
    }
    if (dict_put(&e->routes, (const char *)&id, sizeof id, route) != 0) {
        free(route);
        return NULL;
    }
    return route;
}

static void add_known_series(void *ctx, const struct store_series_view *v)
{
    struct kpi_engine *e = ctx;
    const struct kpi_list *r = route_of(e, v->id, v->program, v->unit, v->metric, v->labels_json);
    for (int j = 0; r && j < r->n; j++)
        if (!add_series(e, r->kpi[j], v->id, v->unit, v->labels_json,
                        v->has_last ? v->last_ts : INT64_MIN))
            log_limited(&e->errors, LOG_LVL_ERROR, "kpi: out of memory for a series");
}

/* Builds the state for the catalog in use: every KPI's series from the
 * store's cache, all dirty (read at the next job). */
static int build_state(struct kpi_engine *e, int64_t now)
{
    const struct catalog *c = e->cat->catalog;
    e->kpis = calloc((size_t)(c->n_kpis ? c->n_kpis : 1), sizeof *e->kpis);
    if (!e->kpis)
        return -1;
    for (int i = 0; i < c->n_kpis; i++) {
        const struct catalog_kpi *def = &c->kpis[i];
        struct kpi_state *k = &e->kpis[i];
        dict_init(&k->by_id);
        k->recheck_at = INT64_MAX;
        kpi_period_at(def, c->tz_offset_ms, now, &k->period_from, &k->period_to);
        char key[2 * SLUG_MAX + 2];
        size_t len = metric_key(key, sizeof key, c->programs[def->program].id, def->match.metric);
        if (len == 0 || list_append(&e->by_metric, key, len, i) != 0)
            return -1;
    }
    store_each_series(e->opts.store, add_known_series, e);
    return 0;
}

/* ---- folding and notifying ------------------------------------------------ */

static void fold(struct kpi_engine *e, int i)
{
    const struct catalog_kpi *def = &e->cat->catalog->kpis[i];
    struct kpi_state *k = &e->kpis[i];
    struct kpi_acc acc;
    kpi_acc_init(&acc, def->agg);
    for (size_t j = 0; j < k->n_series; j++)
        kpi_acc_add(&acc, k->series[j].key, &k->series[j].agg);
    k->has_current = kpi_acc_value(&acc, &k->current);
    if (acc.failed)
        log_limited(&e->errors, LOG_LVL_ERROR, "kpi: out of memory folding %s", def->id);
    kpi_acc_free(&acc);
}

void kpi_engine_eval(const struct kpi_engine *e, int kpi, int64_t now, struct kpi_eval *out)
{
    const struct catalog *c = e->cat->catalog;
    const struct kpi_state *k = &e->kpis[kpi];
    kpi_evaluate(&c->kpis[kpi], c->tz_offset_ms, now, k->has_current, k->current, out);
}

/* Tells `changed` about KPIs whose current or status moved, at most once a
 * second each (the next tick catches what had to wait). */
static void notify_changes(struct kpi_engine *e, int64_t now)
{
    const struct catalog *c = e->cat->catalog;
    for (int i = 0; i < c->n_kpis; i++) {
        struct kpi_state *k = &e->kpis[i];
        struct kpi_eval ev;
        kpi_engine_eval(e, i, now, &ev);
        bool same = k->notified && k->notified_has_current == ev.has_current &&
                    (!ev.has_current || k->notified_current == ev.current) &&
                    k->notified_status == ev.status;
        if (same || (k->notified && now - k->notified_at < NOTIFY_GAP_MS))
            continue;
        k->notified = true;
        k->notified_has_current = ev.has_current;
        k->notified_current = ev.current;
        k->notified_status = ev.status;
        k->notified_at = now;
        if (e->opts.changed)
            e->opts.changed(e->opts.ctx, i, &ev);
    }
}

/* ---- jobs: aggregates read on a worker ----------------------------------- */

struct job_item {
    int kpi;
    int64_t period_from;
    size_t n;
    int64_t *ids;
    int64_t *from;   /* per series: the period's start, or just after what was read */
    int64_t *to;     /* per series: the end of the range read */
    bool *merge;     /* per series: out adds to what was read (else replaces it) */
    uint32_t *slots; /* index in the KPI's series */
    struct rollup_agg *out;
};

struct kpi_job {
    struct query_job qj; /* first: the pool hands this back */
    struct kpi_engine *e;
    struct cat_ref *cat;
    uint64_t gen, seq;
    struct job_item *items;
    size_t n_items;
    int status;
    /* report jobs */
    bool report;
    int64_t report_from, report_to;
    void (*report_done)(void *ctx, const struct kpi_report *r);
    void *report_ctx;
    bool *report_has; /* per KPI: as of from [0, n), as of to [n, 2n) */
    double *report_val;
};

static void job_free(struct kpi_job *j)
{
    for (size_t i = 0; i < j->n_items; i++) {
        free(j->items[i].ids);
        free(j->items[i].from);
        free(j->items[i].to);
        free(j->items[i].merge);
        free(j->items[i].slots);
        free(j->items[i].out);
    }
    free(j->items);
    free(j->report_has);
    free(j->report_val);
    cat_unref(j->cat);
    free(j);
}

static void job_work(struct query_job *qj, struct query_db *db)
{
    struct kpi_job *j = (struct kpi_job *)qj;
    for (size_t i = 0; i < j->n_items && j->status == 0; i++) {
        struct job_item *it = &j->items[i];
        if (query_aggregate(db, it->ids, it->from, it->to, it->n, it->out) != QUERY_OK)
            j->status = -1;
    }
}

static struct kpi_job *job_new(struct kpi_engine *e, size_t max_items)
{
    struct kpi_job *j = calloc(1, sizeof *j);
    if (!j || !(j->items = calloc(max_items ? max_items : 1, sizeof *j->items))) {
        free(j);
        return NULL;
    }
    j->e = e;
    j->cat = e->cat;
    e->cat->refs++;
    j->gen = e->gen;
    return j;
}

/* Item for KPI i: all its series over [from, to] (a report), or the dirty
 * ones, each from where its last read ended unless it is full, up to the
 * newest ts committed for it (at most `to`). */
static int job_add_item(struct kpi_job *j, struct kpi_state *k, int i, int64_t from, int64_t to,
                        bool all)
{
    size_t n = 0;
    for (size_t s = 0; s < k->n_series; s++)
        n += all || k->series[s].dirty;
    struct job_item *it = &j->items[j->n_items++];
    *it = (struct job_item){.kpi = i, .period_from = k->period_from};
    size_t cap = n ? n : 1;
    it->ids = malloc(cap * sizeof *it->ids);
    it->from = malloc(cap * sizeof *it->from);
    it->to = malloc(cap * sizeof *it->to);
    it->merge = malloc(cap * sizeof *it->merge);
    it->slots = malloc(cap * sizeof *it->slots);
    it->out = malloc(cap * sizeof *it->out);
    if (!it->ids || !it->from || !it->to || !it->merge || !it->slots || !it->out)
        return -1;
    for (size_t s = 0; s < k->n_series; s++) {
        const struct kpi_series *se = &k->series[s];
        if (!all && !se->dirty)
            continue;
        bool merge = !all && !se->full && se->read_to != INT64_MIN;
        it->ids[it->n] = se->id;
        it->from[it->n] = merge && se->read_to + 1 > from ? se->read_to + 1 : from;
        it->to[it->n] = all || se->seen_to > to ? to : se->seen_to;
        it->merge[it->n] = merge;
        it->slots[it->n++] = (uint32_t)s;
    }
    return 0;
}

static void submit_refresh(struct kpi_engine *e);

static void wake_waiters(struct kpi_engine *e)
{
    struct waiter **p = &e->waiters;
    while (*p) {
        struct waiter *w = *p;
        /* Done when a job submitted after the request finished, or nothing
         * is pending at all. */
        if (e->seq_done >= w->need_seq || (!e->job_running && e->n_dirty == 0) || e->stopping) {
            *p = w->next;
            w->fn(w->ctx);
            free(w);
        } else {
            p = &w->next;
        }
    }
}

static void refresh_done(struct query_job *qj)
{
    struct kpi_job *j = (struct kpi_job *)qj;
    struct kpi_engine *e = j->e;
    e->job_running = false;
    e->seq_done = j->seq;
    if (j->gen == e->gen && !e->stopping) {
        if (qj->status != 0 || j->status != 0)
            log_limited(&e->errors, LOG_LVL_ERROR, "kpi: reading aggregates failed; retrying");
        for (size_t i = 0; i < j->n_items; i++) {
            struct job_item *it = &j->items[i];
            struct kpi_state *k = &e->kpis[it->kpi];
            if (it->period_from != k->period_from)
                continue; /* the period rolled over meanwhile: read again */
            for (size_t s = 0; s < it->n; s++) {
                struct kpi_series *se = &k->series[it->slots[s]];
                if (qj->status != 0 || j->status != 0)
                    mark_full(e, k, se);
                else if (it->merge[s])
                    rollup_agg_merge(&se->agg, &it->out[s]);
                else
                    se->agg = it->out[s];
            }
            fold(e, it->kpi);
        }
        e->primed = true;
        notify_changes(e, util_now_ms());
    }
    job_free(j);
    if (e->waiters && e->n_dirty > 0 && !e->stopping)
        submit_refresh(e);
    wake_waiters(e);
}

/* One job reading every dirty series of every dirty KPI. */
static void submit_refresh(struct kpi_engine *e)
{
    if (e->job_running || e->n_dirty == 0 || e->stopping)
        return;
    const struct catalog *c = e->cat->catalog;
    struct kpi_job *j = job_new(e, (size_t)e->n_dirty);
    if (!j)
        return;
    int64_t now = util_now_ms();
    for (int i = 0; i < c->n_kpis; i++) {
        struct kpi_state *k = &e->kpis[i];
        if (!k->dirty)
            continue;
        int64_t to = k->period_to < now ? k->period_to : now;
        if (job_add_item(j, k, i, k->period_from, to, false) != 0) {
            job_free(j);
            return;
        }
        /* Read up to its `to` from now on: a sample at or before it that
         * commits while the job runs makes the series full again. */
        const struct job_item *it = &j->items[j->n_items - 1];
        for (size_t s = 0; s < it->n; s++) {
            struct kpi_series *se = &k->series[it->slots[s]];
            se->read_to = it->to[s];
            se->dirty = se->full = false;
        }
        k->dirty = false;
    }
    e->n_dirty = 0;
    j->seq = ++e->seq_submitted;
    j->qj.work = job_work;
    j->qj.done = refresh_done;
    e->job_running = true;
    if (query_pool_submit(e->opts.pool, &j->qj) != 0) {
        e->job_running = false;
        log_limited(&e->errors, LOG_LVL_ERROR, "kpi: cannot queue a job");
        /* Dirty again, for the next tick. */
        for (size_t i = 0; i < j->n_items; i++)
            for (size_t s = 0; s < j->items[i].n; s++) {
                struct kpi_state *k = &e->kpis[j->items[i].kpi];
                mark_full(e, k, &k->series[j->items[i].slots[s]]);
            }
        job_free(j);
    }
}

/* ---- time ----------------------------------------------------------------- */

/* A calendar period rolled over, or a sample dated after the last read has
 * come due: every series of the KPI is read again. */
static void roll_periods(struct kpi_engine *e, int64_t now)
{
    const struct catalog *c = e->cat->catalog;
    for (int i = 0; i < c->n_kpis; i++) {
        struct kpi_state *k = &e->kpis[i];
        int64_t from, to;
        kpi_period_at(&c->kpis[i], c->tz_offset_ms, now, &from, &to);
        bool rolled = from != k->period_from || to != k->period_to;
        if (!rolled && now < k->recheck_at)
            continue;
        k->period_from = from;
        k->period_to = to;
        k->recheck_at = INT64_MAX;
        for (size_t s = 0; s < k->n_series; s++) {
            if (rolled)
                rollup_agg_init(&k->series[s].agg);
            mark_full(e, k, &k->series[s]);
        }
        if (rolled)
            fold(e, i);
    }
}

static void on_tick(uv_timer_t *t)
{
    struct kpi_engine *e = t->data;
    uint64_t t0 = util_mono_ns();
    int64_t now = util_now_ms();
    roll_periods(e, now);
    submit_refresh(e);
    if (e->primed) /* before the first read every KPI would look like no_data */
        notify_changes(e, now);
    loopwatch_note("kpi tick", t0);
}

/* ---- the interface -------------------------------------------------------- */

int kpi_engine_start(struct kpi_engine **out, const struct kpi_engine_opts *opts,
                     struct catalog *catalog)
{
    struct kpi_engine *e = calloc(1, sizeof *e);
    if (!e || !(e->cat = cat_new(catalog))) {
        free(e);
        catalog_free(catalog);
        return -1;
    }
    e->opts = *opts;
    dict_init(&e->by_metric);
    dict_init(&e->routes);
    if (build_state(e, util_now_ms()) != 0) {
        kpi_engine_free(e);
        return -1;
    }
    uv_timer_init(opts->loop, &e->tick);
    e->tick.data = e;
    uv_timer_start(&e->tick, on_tick, 0, TICK_MS);
    *out = e;
    return 0;
}

int kpi_engine_set_catalog(struct kpi_engine *e, struct catalog *catalog)
{
    struct cat_ref *fresh = cat_new(catalog);
    if (!fresh) {
        catalog_free(catalog);
        return -1;
    }
    free_state(e);
    cat_unref(e->cat);
    e->cat = fresh;
    e->gen++;
    e->primed = false;
    if (build_state(e, util_now_ms()) != 0) {
        log_error("kpi: out of memory building the KPIs of %s", catalog->path);
        return -1;
    }
    on_tick(&e->tick);
    return 0;
}

const struct catalog *kpi_engine_catalog(const struct kpi_engine *e)
{
    return e->cat->catalog;
}

void kpi_engine_samples(struct kpi_engine *e, const struct sample *samples, size_t n)
{
    if (e->cat->catalog->n_kpis == 0)
        return;
    int64_t now = util_now_ms();
    for (size_t i = 0; i < n; i++) {
        const struct sample *smp = &samples[i];
        int64_t id = smp->series;
        if (id <= 0)
            continue; /* not from the store */
        const struct kpi_list *r =
            route_of(e, id, smp->program, smp->unit, smp->metric, smp->labels_json);
        for (int j = 0; r && j < r->n; j++) {
            struct kpi_state *k = &e->kpis[r->kpi[j]];
            /* Known to the KPI even when this sample lies in another period:
             * the series is read again whenever the period rolls over. */
            struct kpi_series *s =
                add_series(e, r->kpi[j], id, smp->unit, smp->labels_json, smp->ts);
            if (!s) {
                log_limited(&e->errors, LOG_LVL_ERROR, "kpi: out of memory for a series");
                continue;
            }
            if (smp->ts < k->period_from || smp->ts > k->period_to)
                continue; /* another period's sample: current does not move */
            if (smp->ts > s->seen_to)
                s->seen_to = smp->ts;
            if (smp->ts <= s->read_to)
                mark_full(e, k, s); /* late, or replacing a sample already read */
            else
                mark_dirty(e, k, s);
            if (smp->ts > now && smp->ts < k->recheck_at)
                k->recheck_at = smp->ts; /* counts once T reaches it */
        }
    }
}

int kpi_engine_sync(struct kpi_engine *e, void (*fn)(void *ctx), void *ctx)
{
    if ((!e->job_running && e->n_dirty == 0) || e->stopping) {
        fn(ctx);
        return 0;
    }
    struct waiter *w = malloc(sizeof *w);
    if (!w)
        return -1;
    *w =
        (struct waiter){.next = e->waiters, .need_seq = e->seq_submitted + 1, .fn = fn, .ctx = ctx};
    e->waiters = w;
    submit_refresh(e);
    return 0;
}

/* ---- the report ------------------------------------------------------------ */

/* The report's numbers are read and folded on the worker, from the
 * database's series (what committed) and the job's own catalog: the loop
 * neither copies every KPI's series list nor folds them, so a report costs
 * it no more than the catalog's size, whatever the number of series. */

struct report_fold {
    const struct catalog_kpi *def;
    struct kpi_acc acc;
};

static bool report_keep(void *ctx, const struct query_series *s)
{
    struct report_fold *f = ctx;
    return catalog_match_series(&f->def->match, s->unit, s->labels_json);
}

static int report_add(void *ctx, const struct query_series *s, const struct rollup_agg *agg)
{
    struct report_fold *f = ctx;
    char *key = series_key_for(f->def, s->unit, s->labels_json);
    kpi_acc_add(&f->acc, key, agg);
    free(key);
    return f->acc.failed ? -1 : 0;
}

/* The range `current` reads as of t: the period at t, up to t. */
static void range_as_of(const struct catalog *c, int i, int64_t t, int64_t *from, int64_t *to)
{
    kpi_period_at(&c->kpis[i], c->tz_offset_ms, t, from, to);
    if (*to > t)
        *to = t;
}

/* Worker: every KPI's value as of report_from (slot i) and report_to
 * (slot n + i). */
static void report_work(struct query_job *qj, struct query_db *db)
{
    struct kpi_job *j = (struct kpi_job *)qj;
    const struct catalog *c = j->cat->catalog;
    size_t n = (size_t)c->n_kpis;
    for (size_t i = 0; i < n && j->status == 0; i++) {
        const struct catalog_kpi *def = &c->kpis[i];
        struct query_filter filter = {.program = c->programs[def->program].id,
                                      .metric = def->match.metric};
        for (int side = 0; side < 2 && j->status == 0; side++) {
            int64_t lo, hi;
            range_as_of(c, (int)i, side ? j->report_to : j->report_from, &lo, &hi);
            struct report_fold f = {.def = def};
            kpi_acc_init(&f.acc, def->agg);
            struct query_aggregate_sink sink = {&f, report_keep, report_add};
            if (query_series_aggregate(db, &filter, lo, hi, &sink) != QUERY_OK || f.acc.failed)
                j->status = -1;
            size_t at = i + (side ? n : 0);
            j->report_has[at] = kpi_acc_value(&f.acc, &j->report_val[at]);
            kpi_acc_free(&f.acc);
        }
    }
}

static void report_done(struct query_job *qj)
{
    struct kpi_job *j = (struct kpi_job *)qj;
    const struct catalog *c = j->cat->catalog;
    size_t n = (size_t)c->n_kpis;
    struct kpi_report r = {.catalog = c, .from = j->report_from, .to = j->report_to};
    r.status = qj->status || j->status ? -1 : 0;
    r.has_at_from = j->report_has;
    r.has_at_to = j->report_has + n;
    r.at_from = j->report_val;
    r.at_to = j->report_val + n;
    j->report_done(j->report_ctx, &r);
    job_free(j);
}

int kpi_engine_report(struct kpi_engine *e, int64_t from, int64_t to,
                      void (*done)(void *ctx, const struct kpi_report *r), void *ctx)
{
    size_t n = (size_t)e->cat->catalog->n_kpis;
    struct kpi_job *j = job_new(e, 0);
    if (!j)
        return -1;
    j->report = true;
    j->report_from = from;
    j->report_to = to;
    j->report_done = done;
    j->report_ctx = ctx;
    j->report_has = calloc(2 * n + 1, sizeof *j->report_has);
    j->report_val = calloc(2 * n + 1, sizeof *j->report_val);
    j->qj.work = report_work;
    j->qj.done = report_done;
    if (!j->report_has || !j->report_val || query_pool_submit(e->opts.pool, &j->qj) != 0) {
        job_free(j);
        return -1;
    }
    return 0;
}

void kpi_engine_stop(struct kpi_engine *e)
{
    if (!e || e->stopping)
        return;
    e->stopping = true;
    uv_timer_stop(&e->tick);
    uv_close((uv_handle_t *)&e->tick, NULL);
    wake_waiters(e);
}

void kpi_engine_free(struct kpi_engine *e)
{
    if (!e)
        return;
    free_state(e);
    cat_unref(e->cat);
    free(e);
}
