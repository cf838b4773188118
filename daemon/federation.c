/* federation.c — see federation.h. */
#include "federation.h"

#include <jansson.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#include "alert_engine.h"
#include "federation_state.h"
#include "ingest.h"
#include "kpi_engine.h"
#include "log.h"
#include "presence.h"
#include "store.h"
#include "util.h"
#include "wire.h"

#define TICK_MS        1000    /* the publisher's look at its fingerprint */
#define MIN_GAP_MS     10000   /* CONTRACT §7: at most once every 10 s */
#define PRUNE_MS       3600000 /* the hub's retention pass */
#define PRUNE_ROWS     5000    /* rows per statement: a short write on the loop */
#define PRUNE_AGAIN_MS 1000    /* when a pass was full */

/* One region a hub has heard from: its latest STATE. */
struct region {
    char *id;
    char *name, *code, *province; /* the latest STATE's (NULL for null) */
    int64_t generated_at, last_seen;
    bool has_progress;
    double progress;
    int health; /* -1: null */
    int programs, alerts_firing;
    char *dims_json, *units_json, *payload;
};

struct federation {
    uv_loop_t *loop;
    const struct cfg *cfg;
    struct store *store;
    struct ingest *ingest;
    struct kpi_engine *kpis;
    struct alert_engine *alerts;
    int64_t (*unit_stale_ms)(void *ctx, const char *program);
    void *ctx;
    bool publish, hub;

    /* publishing */
    uv_timer_t tick;
    bool tick_open;
    uint64_t published_fp; /* of the last STATE offered */
    int64_t last_offer;    /* uv_now of it; 0: none yet */
    bool building;         /* a kpi_engine_sync is pending */
    bool stopping;
    bool warned_no_regency;

    /* the hub */
    uv_timer_t prune;
    bool prune_open;
    struct region *regions;
    int n_regions, cap_regions;
    sqlite3_stmt *insert, *prune_stmt, *thin_stmt;
    struct federation_stats stats;
};

/* ---- the publisher ---------------------------------------------------------- */

struct unit_count {
    struct federation *f;
    int64_t now;
    uint64_t n[3]; /* enum unit_status */
};

static void count_unit(void *ctx, const struct store_unit_view *u)
{
    struct unit_count *c = ctx;
    int64_t stale = c->f->unit_stale_ms(c->f->ctx, u->program);
    c->n[presence_status_of(u, c->now, stale)]++;
}

struct alert_fp {
    uint64_t h;
    struct buf *json; /* NULL: only the fingerprint */
    int n;
};

static void alert_seen(void *ctx, const struct alert_record *a)
{
    struct alert_fp *x = ctx;
    int64_t key[3] = {a->id, a->resolved_at, a->acked_at};
    x->h = fed_fp(x->h, key, sizeof key);
    if (x->json) {
        buf_puts(x->json, x->n++ ? "," : "");
        wire_alert(x->json, a);
    }
}

/* §7's change: programs' progress and health, KPIs' current and status,
 * alerts' state, unit counts. Not `expected`, `eta` and the like, which
 * move with the clock alone. */
static uint64_t fingerprint(struct federation *f, const struct wire_snapshot *s,
                            const uint64_t units[3])
{
    uint64_t h = FED_FP_INIT;
    for (int i = 0; i < s->c->n_kpis; i++) {
        const struct kpi_eval *ev = &s->evals[i];
        double cur = ev->has_current ? ev->current : 0;
        h = fed_fp(h, &ev->has_current, sizeof ev->has_current);
        h = fed_fp(h, &cur, sizeof cur);
        h = fed_fp(h, &ev->status, sizeof ev->status);
    }
    for (int p = 0; p < s->c->n_programs; p++) {
        const struct kpi_summary *sum = &s->programs[p];
        double prog = sum->has_progress ? sum->progress : -1e300;
        int health = sum->has_health ? (int)sum->health : -1;
        h = fed_fp(h, &prog, sizeof prog);
        h = fed_fp(h, &health, sizeof health);
    }
    struct alert_fp a = {h, NULL, 0};
    if (f->alerts)
        alert_engine_each_firing(f->alerts, NULL, alert_seen, &a);
    return fed_fp(a.h, units, 3 * sizeof units[0]);
}

static void count_units(struct federation *f, int64_t now, uint64_t out[3])
{
    struct unit_count c = {f, now, {0, 0, 0}};
    store_each_unit(f->store, count_unit, &c);
    memcpy(out, c.n, sizeof c.n);
}

/* STATE (§7) as of now into b; its fingerprint into *fp. */
static int build_state(struct federation *f, int64_t now, struct buf *b, uint64_t *fp)
{
    const struct catalog *c = kpi_engine_catalog(f->kpis);
    struct wire_snapshot s;
    uint64_t units[3];
    if (wire_snapshot_take(&s, c, f->kpis, now, NULL) != 0) {
        wire_snapshot_free(&s);
        return -1;
    }
    count_units(f, now, units);
    *fp = fingerprint(f, &s, units);
    buf_puts(b, "{\"regency\":");
    wire_regency_full(b, c);
    buf_printf(b, ",\"generated_at\":%lld,\"programs\":", (long long)now);
    wire_programs(b, &s, NULL);
    buf_puts(b, ",\"dimensions\":");
    wire_dimensions(b, &s);
    buf_puts(b, ",\"alerts\":[");
    struct alert_fp a = {0, b, 0};
    if (f->alerts)
        alert_engine_each_firing(f->alerts, NULL, alert_seen, &a);
    buf_printf(b, "],\"units\":{\"online\":%llu,\"offline\":%llu,\"stale\":%llu}}",
               (unsigned long long)units[UNIT_ONLINE], (unsigned long long)units[UNIT_OFFLINE],
               (unsigned long long)units[UNIT_STALE]);
    wire_snapshot_free(&s);
    return buf_failed(b) ? -1 : 0;
}

/* After kpi_engine_sync: what committed is in the KPIs. */
static void offer_state(void *ctx)
{
    struct federation *f = ctx;
    f->building = false;
    if (f->stopping)
        return;
    const struct catalog *c = kpi_engine_catalog(f->kpis);
    struct buf b, topic;
    uint64_t fp;
    buf_init(&b, 0);
    buf_init(&topic, 0);
    buf_printf(&topic, "%s/%s/state", f->cfg->fed_prefix, c->regency_id);
    if (build_state(f, util_now_ms(), &b, &fp) != 0 || buf_failed(&topic) ||
        ingest_offer_state(f->ingest, topic.data, b.data, b.len) != 0) {
        log_warn("federation: the state could not be offered (out of memory); trying again");
    } else {
        f->published_fp = fp;
        f->last_offer = (int64_t)uv_now(f->loop);
        f->stats.published_offers++;
        log_debug("federation: state of %zu bytes offered on %s", b.len, topic.data);
    }
    buf_free(&b);
    buf_free(&topic);
}

static void on_tick(uv_timer_t *t)
{
    struct federation *f = t->data;
    const struct catalog *c = kpi_engine_catalog(f->kpis);
    if (f->building || f->stopping)
        return;
    if (!c->regency_id) {
        if (!f->warned_no_regency)
            log_warn("federation: publish = yes but no catalog names the regency: nothing sent");
        f->warned_no_regency = true;
        return;
    }
    int64_t mono = (int64_t)uv_now(f->loop);
    int64_t since = f->last_offer ? mono - f->last_offer : INT64_MAX;
    bool due = since >= (int64_t)f->cfg->fed_heartbeat_s * 1000;
    if (!due && since >= MIN_GAP_MS) {
        struct wire_snapshot s;
        uint64_t units[3];
        int64_t now = util_now_ms();
        if (wire_snapshot_take(&s, c, f->kpis, now, NULL) == 0) {
            count_units(f, now, units);
            due = fingerprint(f, &s, units) != f->published_fp;
        }
        wire_snapshot_free(&s);
    }
    if (!due)
        return;
    f->building = true;
    if (kpi_engine_sync(f->kpis, offer_state, f) != 0)
        f->building = false;
}

/* ---- the hub: regions in memory -------------------------------------------- */

static void region_clear(struct region *r)
{
    free(r->name);
    free(r->code);
    free(r->province);
    free(r->dims_json);
    free(r->units_json);
    free(r->payload);
}

static struct region *region_find(struct federation *f, const char *id)
{
    for (int i = 0; i < f->n_regions; i++)
        if (strcmp(f->regions[i].id, id) == 0)
            return &f->regions[i];
    return NULL;
}

static struct region *region_add(struct federation *f, const char *id)
{
    if (f->n_regions == f->cap_regions) {
        int cap = f->cap_regions ? f->cap_regions * 2 : 16;
        struct region *grown = realloc(f->regions, (size_t)cap * sizeof *grown);
        if (!grown)
            return NULL;
        f->regions = grown;
        f->cap_regions = cap;
    }
    struct region *r = &f->regions[f->n_regions];
    memset(r, 0, sizeof *r);
    if (!(r->id = strdup(id)))
        return NULL;
    f->n_regions++;
    return r;
}

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

/* r becomes the region of this latest STATE. */
static int region_set(struct region *r, const struct fed_summary *s, const char *payload,
                      size_t len, int64_t arrival)
{
    struct region n = {.id = r->id,
                       .generated_at = s->generated_at,
                       .last_seen = arrival,
                       .has_progress = s->has_progress,
                       .progress = s->progress,
                       .health = s->has_health ? (int)s->health : -1,
                       .programs = s->programs,
                       .alerts_firing = s->alerts_firing};
    n.name = dup_or_null(s->name);
    n.code = dup_or_null(s->code);
    n.province = dup_or_null(s->province);
    n.dims_json = json_dumps(s->dimensions, JSON_COMPACT);
    n.units_json = json_dumps(s->units, JSON_COMPACT);
    n.payload = malloc(len + 1);
    if (!n.name || (s->code && !n.code) || (s->province && !n.province) || !n.dims_json ||
        !n.units_json || !n.payload) {
        region_clear(&n);
        return -1;
    }
    memcpy(n.payload, payload, len);
    n.payload[len] = '\0';
    region_clear(r);
    *r = n;
    return 0;
}

/* ---- the hub: taking a STATE ------------------------------------------------ */

static int is_retry(int rc)
{
    rc &= 0xff;
    return rc == SQLITE_BUSY || rc == SQLITE_LOCKED || rc == SQLITE_FULL || rc == SQLITE_IOERR;
}

int federation_take_state(void *ctx, const char *region_id, const char *payload, size_t len,
                          int64_t arrival_ms, const char **why)
{
    struct federation *f = ctx;
    if (!f->insert)
        return STORE_RETRY; /* stopping: it stays in the spool */
    json_error_t err;
    json_t *root = json_loadb(payload, len, JSON_REJECT_DUPLICATES, &err);
    struct fed_summary s;
    if (!root) {
        *why = "not JSON";
        return 1;
    }
    if (fed_state_check(root, region_id, arrival_ms, &s, why) != 0) {
        json_decref(root);
        return 1;
    }
    struct region *r = region_find(f, region_id);
    if (!r && f->n_regions >= f->cfg->fed_max_regions) {
        json_decref(root);
        *why = "too many regions ([federation] max_regions)";
        return 1;
    }
    struct buf dims;
    buf_init(&dims, 0);
    fed_dims_object(&dims, &s);
    if (store_begin(f->store) != 0 || buf_failed(&dims)) {
        buf_free(&dims);
        json_decref(root);
        return STORE_RETRY;
    }
    sqlite3_stmt *st = f->insert;
    sqlite3_bind_text(st, 1, region_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, s.generated_at);
    sqlite3_bind_int64(st, 3, arrival_ms);
    sqlite3_bind_text(st, 4, payload, (int)len, SQLITE_STATIC);
    if (s.has_progress)
        sqlite3_bind_double(st, 5, s.progress);
    else
        sqlite3_bind_null(st, 5);
    if (s.has_health)
        sqlite3_bind_text(st, 6, kpi_status_name(s.health), -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, 6);
    sqlite3_bind_text(st, 7, dims.data, (int)dims.len, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    bool inserted = rc == SQLITE_DONE && sqlite3_changes(sqlite3_db_handle(st)) > 0;
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    buf_free(&dims);
    if (rc != SQLITE_DONE) {
        log_error("federation: a state of %s not stored: %s", region_id, sqlite3_errstr(rc & 0xff));
        json_decref(root);
        /* A write that may pass fails the group (tried again); else it is
         * lost like a refused sample, and logged. */
        return is_retry(rc) ? STORE_RETRY : 0;
    }
    if (!inserted) {
        f->stats.states_duplicate++; /* a redelivery: the first copy's arrival stays */
    } else {
        f->stats.states_taken++;
        if (!r)
            r = region_add(f, region_id);
        if (r && (r->generated_at == 0 || s.generated_at > r->generated_at) &&
            region_set(r, &s, payload, len, arrival_ms) != 0)
            log_error("federation: out of memory for region %s", region_id);
    }
    json_decref(root);
    return 0;
}

/* ---- the hub: regions as JSON ------------------------------------------------ */

static int view_cmp(const void *a, const void *b)
{
    const struct fed_region_view *x = a, *y = b;
    return fed_region_order(x->code, x->id, y->code, y->id);
}

/* The view of heard region r, with names from the catalog where its
 * STATE has null (g: its catalog entry or NULL). */
static struct fed_region_view view_of(const struct region *r, const struct catalog_region *g)
{
    return (struct fed_region_view){.id = r->id,
                                    .name = r->name ? r->name
                                            : g     ? g->name
                                                    : NULL,
                                    .code = r->code ? r->code
                                            : g     ? g->code
                                                    : NULL,
                                    .province = r->province ? r->province
                                                : g         ? g->province
                                                            : NULL,
                                    .heard = true,
                                    .last_seen = r->last_seen,
                                    .has_progress = r->has_progress,
                                    .progress = r->progress,
                                    .health = r->health,
                                    .programs = r->programs,
                                    .alerts_firing = r->alerts_firing,
                                    .dimensions_json = r->dims_json,
                                    .units_json = r->units_json};
}

static struct fed_region_view view_of_expected(const struct catalog_region *g)
{
    return (struct fed_region_view){
        .id = g->id, .name = g->name, .code = g->code, .province = g->province, .health = -1};
}

void federation_regions_json(struct federation *f, struct buf *b, int64_t now_ms)
{
    const struct catalog *c = kpi_engine_catalog(f->kpis);
    int max = f->n_regions + c->n_regions;
    struct fed_region_view *v = calloc((size_t)max + 1, sizeof *v);
    if (!v) {
        b->failed = true; /* the caller answers 500 */
        return;
    }
    int n = 0;
    for (int i = 0; i < f->n_regions; i++) {
        int g = catalog_find_region(c, f->regions[i].id);
        v[n++] = view_of(&f->regions[i], g >= 0 ? &c->regions[g] : NULL);
    }
    for (int g = 0; g < c->n_regions; g++)
        if (!region_find(f, c->regions[g].id))
            v[n++] = view_of_expected(&c->regions[g]);
    qsort(v, (size_t)n, sizeof *v, view_cmp);
    int64_t stale_ms = (int64_t)f->cfg->fed_region_stale_after_s * 1000;
    buf_puts(b, "{\"regions\":[");
    for (int i = 0; i < n; i++) {
        buf_puts(b, i ? "," : "");
        fed_region_json(b, &v[i], now_ms, stale_ms);
    }
    buf_puts(b, "]}\n");
    free(v);
}

int federation_region_json(struct federation *f, const char *id, struct buf *b, int64_t now_ms)
{
    const struct catalog *c = kpi_engine_catalog(f->kpis);
    struct region *r = region_find(f, id);
    int g = catalog_find_region(c, id);
    if (!r && g < 0)
        return -1;
    struct fed_region_view v =
        r ? view_of(r, g >= 0 ? &c->regions[g] : NULL) : view_of_expected(&c->regions[g]);
    buf_puts(b, "{\"region\":");
    fed_region_json(b, &v, now_ms, (int64_t)f->cfg->fed_region_stale_after_s * 1000);
    buf_puts(b, ",\"state\":");
    buf_puts(b, r ? r->payload : "null");
    buf_puts(b, "}\n");
    return 0;
}

/* ---- regions as of a past time (a worker) ------------------------------------ */

int federation_expected_copy(struct federation *f, struct federation_expected *out)
{
    const struct catalog *c = kpi_engine_catalog(f->kpis);
    memset(out, 0, sizeof *out);
    out->stale_ms = (int64_t)f->cfg->fed_region_stale_after_s * 1000;
    out->at = calloc((size_t)c->n_regions + 1, sizeof *out->at);
    if (!out->at)
        return -1;
    for (int i = 0; i < c->n_regions; i++, out->n++) {
        const struct catalog_region *g = &c->regions[i];
        struct federation_expected_region *e = &out->at[i];
        e->id = strdup(g->id);
        e->name = strdup(g->name);
        e->code = dup_or_null(g->code);
        e->province = dup_or_null(g->province);
        if (!e->id || !e->name || (g->code && !e->code) || (g->province && !e->province)) {
            out->n++;
            federation_expected_free(out);
            return -1;
        }
    }
    return 0;
}

void federation_expected_free(struct federation_expected *e)
{
    for (int i = 0; i < e->n; i++) {
        free(e->at[i].id);
        free(e->at[i].name);
        free(e->at[i].code);
        free(e->at[i].province);
    }
    free(e->at);
    memset(e, 0, sizeof *e);
}

/* One stored STATE folded into a region (strings copied into r). */
static int region_from_row(struct region *r, const char *id, const char *payload, size_t len,
                           int64_t arrival)
{
    json_t *root = json_loadb(payload, len, 0, NULL);
    struct fed_summary s;
    const char *why;
    int rc = -1;
    memset(r, 0, sizeof *r);
    r->id = (char *)id;
    /* Stored states passed the check on arrival: no clock bound now. */
    if (root && fed_state_check(root, id, INT64_MAX / 2, &s, &why) == 0)
        rc = region_set(r, &s, payload, len, arrival);
    json_decref(root);
    return rc;
}

int federation_regions_as_of(struct sqlite3 *db, const struct federation_expected *e, int64_t as_of,
                             struct buf *b)
{
    static const char sql[] =
        "SELECT s.region, s.arrival, s.payload FROM fed_states s"
        " JOIN (SELECT region, max(generated_at) AS g FROM fed_states WHERE generated_at <= ?1"
        " GROUP BY region) l ON s.region = l.region AND s.generated_at = l.g";
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_int64(st, 1, as_of);
    struct region *rs = NULL;
    int n = 0, cap = 0, rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            struct region *grown = realloc(rs, (size_t)cap * sizeof *grown);
            if (!grown)
                break;
            rs = grown;
        }
        const char *id = (const char *)sqlite3_column_text(st, 0);
        char *idc = strdup(id ? id : "");
        if (idc &&
            region_from_row(&rs[n], idc, (const char *)sqlite3_column_text(st, 2),
                            (size_t)sqlite3_column_bytes(st, 2), sqlite3_column_int64(st, 1)) == 0)
            n++;
        else
            free(idc);
    }
    sqlite3_finalize(st);
    struct fed_region_view *v = calloc((size_t)(n + e->n) + 1, sizeof *v);
    int nv = 0;
    for (int i = 0; v && i < n; i++) {
        const struct catalog_region *gp = NULL;
        struct catalog_region g;
        for (int j = 0; j < e->n; j++)
            if (strcmp(e->at[j].id, rs[i].id) == 0) {
                g = (struct catalog_region){e->at[j].id, e->at[j].name, e->at[j].code,
                                            e->at[j].province, 0};
                gp = &g;
            }
        v[nv++] = view_of(&rs[i], gp);
    }
    for (int j = 0; v && j < e->n; j++) {
        bool heard = false;
        for (int i = 0; i < n && !heard; i++)
            heard = strcmp(rs[i].id, e->at[j].id) == 0;
        if (!heard)
            v[nv++] = (struct fed_region_view){.id = e->at[j].id,
                                               .name = e->at[j].name,
                                               .code = e->at[j].code,
                                               .province = e->at[j].province,
                                               .health = -1};
    }
    if (v) {
        qsort(v, (size_t)nv, sizeof *v, view_cmp);
        buf_puts(b, "[");
        for (int i = 0; i < nv; i++) {
            buf_puts(b, i ? "," : "");
            fed_region_json(b, &v[i], as_of, e->stale_ms);
        }
        buf_puts(b, "]");
    }
    for (int i = 0; i < n; i++) {
        free(rs[i].id);
        region_clear(&rs[i]);
    }
    free(rs);
    free(v);
    return v && rc == SQLITE_DONE ? 0 : -1;
}

/* ---- start, prune, stop ---------------------------------------------------- */

/* One bounded DELETE of st with its horizon: rows deleted, or -1. */
static int prune_step(sqlite3_stmt *st, int64_t before)
{
    sqlite3_bind_int64(st, 1, before);
    int rc = sqlite3_step(st);
    int n = sqlite3_changes(sqlite3_db_handle(st));
    sqlite3_reset(st);
    if (rc == SQLITE_DONE)
        return n;
    log_warn("federation: pruning old states failed: %s", sqlite3_errstr(rc & 0xff));
    return -1;
}

/* Retention: states older than state_retention_days go (each region's
 * latest stays); older than thin_after_days, only the last of each hour of
 * each region stays. A pass deletes at most PRUNE_ROWS per statement and
 * comes back soon while there is more. */
static void on_prune(uv_timer_t *t)
{
    struct federation *f = t->data;
    if (!f->prune_stmt)
        return;
    int64_t now = util_now_ms();
    int gone =
        prune_step(f->prune_stmt, now - (int64_t)f->cfg->fed_state_retention_days * 86400000LL);
    int thinned = prune_step(f->thin_stmt, now - (int64_t)f->cfg->fed_thin_after_days * 86400000LL);
    if (gone > 0 || thinned > 0)
        log_info("federation: %d state(s) past retention pruned, %d thinned", gone > 0 ? gone : 0,
                 thinned > 0 ? thinned : 0);
    bool more = gone == PRUNE_ROWS || thinned == PRUNE_ROWS;
    uv_timer_start(t, on_prune, more ? PRUNE_AGAIN_MS : PRUNE_MS, 0);
}

/* Each region's latest STATE into memory. */
static int load_regions(struct federation *f)
{
    static const char sql[] =
        "SELECT s.region, s.arrival, s.payload FROM fed_states s"
        " JOIN (SELECT region, max(generated_at) AS g FROM fed_states GROUP BY region) l"
        " ON s.region = l.region AND s.generated_at = l.g";
    sqlite3_stmt *st;
    sqlite3 *db = store_db(f->store);
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        return -1;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *id = (const char *)sqlite3_column_text(st, 0);
        struct region tmp;
        char *idc = strdup(id ? id : "");
        if (!idc)
            break;
        if (region_from_row(&tmp, idc, (const char *)sqlite3_column_text(st, 2),
                            (size_t)sqlite3_column_bytes(st, 2),
                            sqlite3_column_int64(st, 1)) != 0) {
            free(idc);
            continue;
        }
        struct region *r = region_add(f, idc);
        free(idc);
        if (!r) {
            region_clear(&tmp);
            break;
        }
        tmp.id = r->id;
        *r = tmp;
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : -1;
}

static int prepare_hub(struct federation *f)
{
    sqlite3 *db = store_db(f->store);
    static const char insert[] =
        "INSERT OR IGNORE INTO fed_states (region, generated_at, arrival, payload, progress,"
        " health, dims) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";
    /* Older than the horizon, and not the region's latest. */
    static const char prune[] =
        "DELETE FROM fed_states WHERE (region, generated_at) IN (SELECT region, generated_at"
        " FROM fed_states s WHERE generated_at < ?1 AND generated_at < (SELECT max(generated_at)"
        " FROM fed_states WHERE region = s.region) LIMIT 5000)";
    /* Older than the thinning horizon, and not the last of its hour. */
    static const char thin[] =
        "DELETE FROM fed_states WHERE (region, generated_at) IN (SELECT region, generated_at"
        " FROM fed_states s WHERE generated_at < ?1 AND EXISTS (SELECT 1 FROM fed_states n"
        " WHERE n.region = s.region AND n.generated_at > s.generated_at"
        " AND n.generated_at < (s.generated_at / 3600000 + 1) * 3600000) LIMIT 5000)";
    if (sqlite3_prepare_v3(db, insert, -1, SQLITE_PREPARE_PERSISTENT, &f->insert, NULL) !=
            SQLITE_OK ||
        sqlite3_prepare_v3(db, prune, -1, SQLITE_PREPARE_PERSISTENT, &f->prune_stmt, NULL) !=
            SQLITE_OK ||
        sqlite3_prepare_v3(db, thin, -1, SQLITE_PREPARE_PERSISTENT, &f->thin_stmt, NULL) !=
            SQLITE_OK) {
        log_error("federation: cannot prepare its statements: %s", sqlite3_errmsg(db));
        return -1;
    }
    if (load_regions(f) != 0) {
        log_error("federation: cannot read the stored states: %s", sqlite3_errmsg(db));
        return -1;
    }
    log_info("federation: hub on %s/+/state, %d region(s) known", f->cfg->fed_prefix, f->n_regions);
    return 0;
}

int federation_start(struct federation **out, const struct federation_opts *o)
{
    struct federation *f = calloc(1, sizeof *f);
    if (!f)
        return -1;
    f->loop = o->loop;
    f->cfg = o->cfg;
    f->store = o->store;
    f->ingest = o->ingest;
    f->kpis = o->kpis;
    f->alerts = o->alerts;
    f->unit_stale_ms = o->unit_stale_ms;
    f->ctx = o->ctx;
    f->publish = o->cfg->fed_publish;
    f->hub = o->cfg->fed_hub;
    *out = f;
    if (f->hub) {
        if (prepare_hub(f) != 0)
            return -1;
        struct ingest_state_handler h = {federation_take_state, f};
        ingest_set_state_handler(f->ingest, &h);
        uv_timer_init(f->loop, &f->prune);
        f->prune.data = f;
        f->prune_open = true;
        uv_timer_start(&f->prune, on_prune, 60000, 0);
    }
    if (f->publish) {
        uv_timer_init(f->loop, &f->tick);
        f->tick.data = f;
        f->tick_open = true;
        uv_timer_start(&f->tick, on_tick, TICK_MS, TICK_MS);
        log_info("federation: publishing the state on %s/<regency>/state", f->cfg->fed_prefix);
    }
    return 0;
}

bool federation_is_hub(const struct federation *f)
{
    return f && f->hub;
}

void federation_get_stats(const struct federation *f, struct federation_stats *out)
{
    *out = f->stats;
    out->regions = f->n_regions;
}

void federation_stop(struct federation *f)
{
    if (!f)
        return;
    f->stopping = true;
    if (f->tick_open) {
        uv_timer_stop(&f->tick);
        uv_close((uv_handle_t *)&f->tick, NULL);
        f->tick_open = false;
    }
    if (f->prune_open) {
        uv_timer_stop(&f->prune);
        uv_close((uv_handle_t *)&f->prune, NULL);
        f->prune_open = false;
    }
}

void federation_close_db(struct federation *f)
{
    if (!f)
        return;
    sqlite3_finalize(f->insert);
    sqlite3_finalize(f->prune_stmt);
    sqlite3_finalize(f->thin_stmt);
    f->insert = f->prune_stmt = f->thin_stmt = NULL;
}

void federation_free(struct federation *f)
{
    if (!f)
        return;
    federation_close_db(f);
    for (int i = 0; i < f->n_regions; i++) {
        free(f->regions[i].id);
        region_clear(&f->regions[i]);
    }
    free(f->regions);
    free(f);
}
