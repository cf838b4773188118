/* test_alert_engine.c — the alert engine (CONTRACT §6) on a real SQLite
 * store and a libuv loop, with an injected clock: a reference rule that
 * fires after `for` and resolves at its clear bound, a price that arrives
 * before its reference, a reference that changes, late and replacing
 * samples, silence by arrival time, a restart with a firing alert,
 * acknowledgement, a catalog swap that drops a rule, and escalation
 * (CONTRACT §8): due by the clock, once, prevented by an acknowledgement or
 * a resolution, kept across a restart, and changed by a reload. */
#include <stdio.h>
#include <unistd.h>
#include <uv.h>

#include "alert_engine.h"
#include "alert_store.h"
#include "check.h"
#include "harness.h"
#include "store.h"
#include "util.h"

#define MINUTE INT64_C(60000)
#define HOUR   (60 * MINUTE)
#define T0     INT64_C(1796216400000) /* 2026-12-02T13:00:00Z */

static const char catalog_text[] =
    "[regency]\nid = uji\nname = Kabupaten Uji\ntimezone = WIB\n\n"
    "[program simas]\nname = SIMAS\ndimension = economy\n\n"
    "[program paduka]\nname = PADUKA\ndimension = governance\n\n"
    "[rule mahal]\nprogram = simas\nmetric = price\nlabels = commodity=*\n"
    "above_reference = 10%\nreference = reference_price\nmatch = commodity\n"
    "clear_reference = 5%\nfor = 15m\nseverity = critical\n"
    "message = Harga {commodity} di {unit} {value} ({deviation} di atas acuan {reference})\n\n"
    "[rule stok]\nprogram = simas\nmetric = stock\nbelow = 100\nclear = 150\n\n"
    "[rule diam]\nprogram = paduka\nsilent = 1h\nunits = van-01, van-02\n";

static const char catalog_without_mahal[] =
    "[regency]\nid = uji\nname = Kabupaten Uji\ntimezone = WIB\n\n"
    "[program simas]\nname = SIMAS\ndimension = economy\n\n"
    "[rule stok]\nprogram = simas\nmetric = stock\nbelow = 100\nclear = 150\n";

/* stok escalates after 30 min, diam after 2 h; mahal never. */
static const char catalog_escalating[] =
    "[regency]\nid = uji\nname = Kabupaten Uji\ntimezone = WIB\n\n"
    "[program simas]\nname = SIMAS\ndimension = economy\n\n"
    "[program paduka]\nname = PADUKA\ndimension = governance\n\n"
    "[rule stok]\nprogram = simas\nmetric = stock\nbelow = 100\nclear = 150\nescalate = 30m\n\n"
    "[rule mahal]\nprogram = simas\nmetric = price\nabove = 1000\n\n"
    "[rule diam]\nprogram = paduka\nsilent = 1h\nescalate = 2h\n";

/* After a reload: stok's escalate shortened to 10 min, mahal escalates
 * after 1 min, diam's removed. */
static const char catalog_escalating_reloaded[] =
    "[regency]\nid = uji\nname = Kabupaten Uji\ntimezone = WIB\n\n"
    "[program simas]\nname = SIMAS\ndimension = economy\n\n"
    "[program paduka]\nname = PADUKA\ndimension = governance\n\n"
    "[rule stok]\nprogram = simas\nmetric = stock\nbelow = 100\nclear = 150\nescalate = 10m\n\n"
    "[rule mahal]\nprogram = simas\nmetric = price\nabove = 1000\nescalate = 1m\n\n"
    "[rule diam]\nprogram = paduka\nsilent = 1h\n";

#define MAX_EVENTS 32

struct event {
    char name[16];
    int64_t id, at;
};

struct env {
    uv_loop_t loop;
    char db[512];
    struct store *store;
    struct catalog *catalog, *catalog2;
    struct alert_engine *engine;
    struct event events[MAX_EVENTS];
    int n_events;
    char notes[MAX_EVENTS][16]; /* notifications persisted, by event */
    int n_notes;
};

static const char *env_catalog = catalog_text; /* what env_open loads */

static int64_t fake_now = T0;

static int64_t fake_clock(void)
{
    return fake_now;
}

static void on_changed(void *ctx, const char *event, const struct alert_record *a)
{
    struct env *e = ctx;
    if (e->n_events == MAX_EVENTS)
        return;
    struct event *ev = &e->events[e->n_events++];
    snprintf(ev->name, sizeof ev->name, "%s", event);
    ev->id = a->id;
    ev->at = strcmp(event, "resolved") == 0    ? a->resolved_at
             : strcmp(event, "escalated") == 0 ? a->escalated_at
                                               : a->fired_at;
}

static char *on_note(void *ctx, const char *event, const struct alert_record *a)
{
    return strdup(event);
}

static int on_persist_note(void *ctx, int64_t alert_id, const char *event, const char *body)
{
    struct env *e = ctx;
    if (e->n_notes < MAX_EVENTS && strcmp(event, body) == 0)
        snprintf(e->notes[e->n_notes++], sizeof e->notes[0], "%s", event);
    return 0;
}

static int engine_start(struct env *e)
{
    struct alert_engine_opts o = {.loop = &e->loop,
                                  .store = e->store,
                                  .changed = on_changed,
                                  .note = on_note,
                                  .persist_note = on_persist_note,
                                  .ctx = e,
                                  .now = fake_clock};
    return alert_engine_start(&e->engine, &o, e->catalog);
}

static int env_open(struct env *e)
{
    memset(e, 0, sizeof *e);
    snprintf(e->db, sizeof e->db, "%s/alerts-%d.db", harness_tmpdir(),
             (int)(util_mono_ns() % 100000));
    unlink(e->db);
    fake_now = T0;
    if (uv_loop_init(&e->loop) || store_open(&e->store, e->db) ||
        !(e->catalog = harness_catalog(env_catalog)))
        return -1;
    return engine_start(e);
}

static void engine_stop(struct env *e)
{
    alert_engine_stop(e->engine);
    uv_run(&e->loop, UV_RUN_DEFAULT);
    alert_engine_free(e->engine);
    e->engine = NULL;
}

static void env_close(struct env *e)
{
    if (e->engine)
        engine_stop(e);
    store_close(e->store);
    catalog_free(e->catalog);
    catalog_free(e->catalog2);
    uv_loop_close(&e->loop);
}

/* Stores one sample (arriving at fake_now) and hands it on as ingest does. */
static void put(struct env *e, const char *program, const char *unit, const char *metric,
                const char *labels, int64_t ts, double v)
{
    struct sample s = {.program = program,
                       .unit = unit,
                       .metric = metric,
                       .labels_json = labels,
                       .ts = ts,
                       .value = v};
    store_append(e->store, &s, fake_now, &s.series);
    store_commit(e->store);
    alert_engine_samples(e->engine, &s, 1);
}

#define CABAI "{\"commodity\":\"cabai-merah\"}"

static void price(struct env *e, const char *market, int64_t ts, double v)
{
    put(e, "simas", market, "price", CABAI, ts, v);
}

static void reference(struct env *e, int64_t ts, double v)
{
    put(e, "simas", "disperindag", "reference_price", CABAI, ts, v);
}

struct firing_list {
    struct alert_record a[8];
    int n;
};

static void collect(void *ctx, const struct alert_record *a)
{
    struct firing_list *l = ctx;
    if (l->n < 8)
        l->a[l->n++] = *a; /* strings only valid during the call: not used */
}

static int n_firing(struct env *e)
{
    struct firing_list l = {.n = 0};
    alert_engine_each_firing(e->engine, NULL, collect, &l);
    return l.n;
}

static int64_t count_rows(struct env *e, const char *where)
{
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM alerts WHERE %s", where);
    sqlite3_stmt *st;
    int64_t n = -1;
    if (sqlite3_prepare_v2(store_db(e->store), sql, -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return n;
}

/* R = 45000: bound 49500 (10 %), clear 47250 (5 %), for 15 min. */
/* Every alert of [from, to] in one page of at most 100. */
static int each_in(struct alert_engine *e, int64_t from, int64_t to, const char *program,
                   alert_engine_fn fn, void *ctx)
{
    struct alert_page pg = {from, to, program, INT64_MAX, INT64_MAX, 100};
    return alert_engine_each_in(e, &pg, fn, ctx);
}

TEST(reference_rule_fires_after_for_and_resolves_at_clear)
{
    struct env e;
    CHECK(env_open(&e) == 0);
    reference(&e, T0, 45000);
    price(&e, "pasar-a", T0 + 1 * MINUTE, 49500); /* on the bound: does not hold */
    price(&e, "pasar-a", T0 + 2 * MINUTE, 50000); /* holds: since T0 + 2 min */
    price(&e, "pasar-b", T0 + 2 * MINUTE, 40000); /* another series: nothing */
    price(&e, "pasar-a", T0 + 17 * MINUTE - 1, 52000);
    CHECK_INT(e.n_events, 0);
    price(&e, "pasar-a", T0 + 17 * MINUTE, 51000);
    CHECK_INT(e.n_events, 1);
    CHECK_STR(e.events[0].name, "firing");
    CHECK_INT(e.events[0].at, T0 + 17 * MINUTE);
    struct alert_record got;
    CHECK_INT(alert_engine_ack(e.engine, e.events[0].id, "operator", NULL, &got), 1);
    CHECK_INT(got.since, T0 + 2 * MINUTE);
    CHECK_DBL(got.value, 51000);
    CHECK_DBL(got.reference, 45000);
    CHECK_DBL(got.deviation, 51000.0 / 45000 - 1);
    CHECK_INT(got.severity, SEVERITY_CRITICAL);
    CHECK_STR(got.message, "Harga cabai-merah di pasar-a 51.000 (13,3 % di atas acuan 45.000)");
    alert_record_free(&got);
    price(&e, "pasar-a", T0 + 18 * MINUTE, 48000); /* between the bounds: still firing */
    CHECK_INT(n_firing(&e), 1);
    price(&e, "pasar-a", T0 + 19 * MINUTE, 47250); /* on the clear bound: resolves */
    CHECK_INT(n_firing(&e), 0);
    CHECK_INT(e.n_events, 3); /* firing, acked, resolved */
    CHECK_STR(e.events[2].name, "resolved");
    CHECK_INT(e.events[2].at, T0 + 19 * MINUTE);
    CHECK_INT(count_rows(&e, "resolved_at = 1796217540000 AND value = 47250"), 1);
    /* the message keeps what it said while firing (48.000 was the last) */
    CHECK_INT(count_rows(&e, "message = 'Harga cabai-merah di pasar-a 48.000 (6,7 % di atas "
                             "acuan 45.000)'"),
              1);
    env_close(&e);
}

/* "no R: not evaluated"; "When a reference changes, each series that uses
 * it is evaluated again on its latest sample, as if that sample had just
 * arrived." */
TEST(reference_arriving_late_and_changing_reevaluates_the_series)
{
    struct env e;
    CHECK(env_open(&e) == 0);
    price(&e, "pasar-a", T0, 60000);
    CHECK_INT(e.n_events, 0);
    reference(&e, T0 - HOUR, 45000); /* the first R: the run starts at the price's ts */
    CHECK_INT(e.n_events, 0);
    price(&e, "pasar-a", T0 + 15 * MINUTE, 60000);
    CHECK_INT(e.n_events, 1);
    CHECK_INT(e.events[0].at, T0 + 15 * MINUTE);
    reference(&e, T0 - 2 * HOUR, 70000); /* older than R: not R */
    CHECK_INT(n_firing(&e), 1);
    reference(&e, T0 + 16 * MINUTE, 58000); /* 60000 <= 58000 * 1.05 = 60900: clears */
    CHECK_INT(n_firing(&e), 0);
    CHECK_INT(e.n_events, 2);
    CHECK_INT(e.events[1].at, T0 + 15 * MINUTE); /* the latest sample's ts */
    env_close(&e);
}

/* "Samples older than the series' latest change no alert"; a replacement
 * of the latest is a new latest. */
TEST(late_samples_change_nothing_and_a_replaced_latest_counts)
{
    struct env e;
    CHECK(env_open(&e) == 0);
    put(&e, "simas", "pasar-a", "stock", "{}", T0, 50); /* below 100: fires (for 0) */
    CHECK_INT(n_firing(&e), 1);
    put(&e, "simas", "pasar-a", "stock", "{}", T0 - MINUTE, 500); /* late */
    CHECK_INT(n_firing(&e), 1);
    put(&e, "simas", "pasar-a", "stock", "{}", T0, 120); /* replaced, in the band */
    CHECK_INT(n_firing(&e), 1);
    put(&e, "simas", "pasar-a", "stock", "{}", T0, 150); /* replaced, on clear */
    CHECK_INT(n_firing(&e), 0);
    CHECK_INT(e.n_events, 2);
    env_close(&e);
}

TEST(a_restart_keeps_the_firing_alert_and_does_not_fire_it_twice)
{
    struct env e;
    CHECK(env_open(&e) == 0);
    put(&e, "simas", "pasar-a", "stock", "{}", T0, 50);
    CHECK_INT(e.n_events, 1);
    int64_t id = e.events[0].id;
    engine_stop(&e);
    CHECK(engine_start(&e) == 0);
    CHECK_INT(n_firing(&e), 1);
    put(&e, "simas", "pasar-a", "stock", "{}", T0 + MINUTE, 40);  /* still holds */
    put(&e, "simas", "pasar-a", "stock", "{}", T0 - MINUTE, 400); /* late, after restart */
    CHECK_INT(e.n_events, 1);
    CHECK_INT(count_rows(&e, "1"), 1);
    put(&e, "simas", "pasar-a", "stock", "{}", T0 + 2 * MINUTE, 200);
    CHECK_INT(e.n_events, 2);
    CHECK_INT(e.events[1].id, id);
    put(&e, "simas", "pasar-a", "stock", "{}", T0 + 3 * MINUTE, 10); /* a new alert */
    CHECK_INT(e.n_events, 3);
    CHECK(e.events[2].id > id);
    engine_stop(&e);
    CHECK(engine_start(&e) == 0); /* ids go on after the stored ones */
    CHECK_INT(n_firing(&e), 1);
    env_close(&e);
}

/* "a unit of the program (filtered by units) that pantau has heard from
 * ... and then nothing for DURATION fires ... since = its last message's
 * arrival, fired_at = since + DURATION ... resolves as soon as it
 * publishes again (resolved_at = that arrival)". */
TEST(silence_by_arrival_time_fires_and_resolves)
{
    struct env e;
    CHECK(env_open(&e) == 0);
    int64_t heard = T0;
    put(&e, "paduka", "van-01", "docs", "{}", T0 - 5 * HOUR, 1); /* old ts, arrives now */
    put(&e, "paduka", "van-03", "docs", "{}", T0, 1);            /* not in `units` */
    fake_now = heard + HOUR - 1;
    alert_engine_tick(e.engine);
    CHECK_INT(e.n_events, 0);
    fake_now = heard + HOUR + 4000;
    alert_engine_tick(e.engine);
    CHECK_INT(e.n_events, 1);
    CHECK_INT(e.events[0].at, heard + HOUR);
    alert_engine_tick(e.engine); /* checked again: nothing new */
    CHECK_INT(e.n_events, 1);
    struct alert_record a;
    CHECK_INT(alert_engine_ack(e.engine, e.events[0].id, "admin", "dicek", &a), 1);
    CHECK(a.metric == NULL && a.labels_json == NULL && !a.has_value);
    CHECK_STR(a.unit, "van-01");
    CHECK_STR(a.message, "diam: van-01 tidak mengirim data sejak 2 Des 2026 20.00 WIB");
    alert_record_free(&a);
    fake_now = heard + 2 * HOUR;
    put(&e, "paduka", "van-01", "docs", "{}", T0, 2);
    CHECK_INT(n_firing(&e), 0);
    CHECK_STR(e.events[2].name, "resolved");
    CHECK_INT(e.events[2].at, heard + 2 * HOUR);
    env_close(&e);
}

TEST(acknowledgement_is_kept_once_and_unknown_ids_are_not_found)
{
    struct env e;
    CHECK(env_open(&e) == 0);
    put(&e, "simas", "pasar-a", "stock", "{}", T0, 50);
    int64_t id = e.events[0].id;
    struct alert_record a;
    fake_now = T0 + MINUTE;
    CHECK_INT(alert_engine_ack(e.engine, id, "operator", "petugas dikirim", &a), 1);
    CHECK_INT(a.acked_at, T0 + MINUTE);
    CHECK_STR(a.acked_by, "operator");
    CHECK_STR(a.ack_note, "petugas dikirim");
    alert_record_free(&a);
    fake_now = T0 + 2 * MINUTE;
    CHECK_INT(alert_engine_ack(e.engine, id, "admin", "lagi", &a), 1); /* unchanged */
    CHECK_INT(a.acked_at, T0 + MINUTE);
    CHECK_STR(a.acked_by, "operator");
    CHECK_STR(a.ack_note, "petugas dikirim");
    alert_record_free(&a);
    CHECK_INT(alert_engine_ack(e.engine, id + 100, "admin", NULL, &a), 0);
    /* a resolved alert, from the database */
    put(&e, "simas", "pasar-a", "stock", "{}", T0 + MINUTE, 500);
    put(&e, "simas", "pasar-b", "stock", "{}", T0, 5);
    put(&e, "simas", "pasar-b", "stock", "{}", T0 + MINUTE, 500);
    int64_t id2 = e.events[e.n_events - 1].id;
    CHECK_INT(alert_engine_ack(e.engine, id2, "operator", NULL, &a), 1);
    CHECK(a.resolved_at == T0 + MINUTE && a.acked_at == T0 + 2 * MINUTE && a.ack_note == NULL);
    alert_record_free(&a);
    CHECK_INT(count_rows(&e, "acked_by = 'operator'"), 2);
    CHECK_STR(e.events[e.n_events - 1].name, "acked");
    env_close(&e);
}

TEST(alerts_of_a_period_overlap_it)
{
    struct env e;
    CHECK(env_open(&e) == 0);
    put(&e, "simas", "pasar-a", "stock", "{}", T0, 50);           /* fired T0 */
    put(&e, "simas", "pasar-a", "stock", "{}", T0 + HOUR, 500);   /* resolved T0 + 1 h */
    put(&e, "simas", "pasar-b", "stock", "{}", T0 + 3 * HOUR, 5); /* firing since T0 + 3 h */
    struct firing_list l = {.n = 0};
    CHECK_INT(each_in(e.engine, T0 + 2 * HOUR, T0 + 4 * HOUR, NULL, collect, &l), 0);
    CHECK_INT(l.n, 1); /* only the firing one */
    l.n = 0;
    CHECK_INT(each_in(e.engine, T0 + HOUR, T0 + 4 * HOUR, NULL, collect, &l), 0);
    CHECK_INT(l.n, 2); /* the resolved one touches from */
    CHECK(l.a[0].fired_at > l.a[1].fired_at);
    l.n = 0;
    CHECK_INT(each_in(e.engine, T0 + HOUR, T0 + 4 * HOUR, "paduka", collect, &l), 0);
    CHECK_INT(l.n, 0);
    env_close(&e);
}

/* Pages by the (fired_at, id) cursor: every alert once, newest first, the
 * ties of one fired_at split across pages by id. */
TEST(alerts_of_a_period_come_in_pages)
{
    struct env e;
    CHECK(env_open(&e) == 0);
    const char *units[] = {"pasar-a", "pasar-b", "pasar-c", "pasar-d", "pasar-e"};
    for (int i = 0; i < 5; i++) /* five firing, two of them at the same ts */
        put(&e, "simas", units[i], "stock", "{}", T0 + (i < 2 ? 0 : i) * MINUTE, 5);
    struct alert_page pg = {T0, T0 + HOUR, NULL, INT64_MAX, INT64_MAX, 2};
    int64_t seen[8], n = 0;
    for (int page = 0; page < 5; page++) {
        struct firing_list l = {.n = 0};
        CHECK_INT(alert_engine_each_in(e.engine, &pg, collect, &l), 0);
        for (int i = 0; i < l.n; i++) {
            CHECK(n == 0 || l.a[i].fired_at < pg.before_fired ||
                  (l.a[i].fired_at == pg.before_fired && l.a[i].id < pg.before_id));
            seen[n++] = l.a[i].id;
            pg.before_fired = l.a[i].fired_at;
            pg.before_id = l.a[i].id;
        }
        if (l.n < 2)
            break;
    }
    CHECK_INT(n, 5);
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++)
            CHECK(seen[i] != seen[j]);
    env_close(&e);
}

TEST(a_catalog_without_the_rule_resolves_its_alert)
{
    struct env e;
    CHECK(env_open(&e) == 0);
    reference(&e, T0, 100);
    price(&e, "pasar-a", T0, 200);
    price(&e, "pasar-a", T0 + 20 * MINUTE, 200);
    put(&e, "simas", "pasar-a", "stock", "{}", T0, 50);
    CHECK_INT(n_firing(&e), 2);
    CHECK((e.catalog2 = harness_catalog(catalog_without_mahal)) != NULL);
    fake_now = T0 + HOUR;
    CHECK_INT(alert_engine_set_catalog(e.engine, e.catalog2), 0);
    CHECK_INT(n_firing(&e), 1); /* stok stays */
    CHECK_STR(e.events[e.n_events - 1].name, "resolved");
    CHECK_INT(e.events[e.n_events - 1].at, T0 + HOUR);
    put(&e, "simas", "pasar-a", "stock", "{}", T0 + MINUTE, 500); /* still resolvable */
    CHECK_INT(n_firing(&e), 0);
    env_close(&e);
}

/* ---- escalation (CONTRACT §8) ---- */

static int count_events(const struct env *e, const char *name)
{
    int n = 0;
    for (int i = 0; i < e->n_events; i++)
        n += strcmp(e->events[i].name, name) == 0;
    return n;
}

static int count_notes(const struct env *e, const char *name)
{
    int n = 0;
    for (int i = 0; i < e->n_notes; i++)
        n += strcmp(e->notes[i], name) == 0;
    return n;
}

static void rule_total(void *ctx, const char *rule, uint64_t n)
{
    if (strcmp(rule, "stok") == 0)
        *(int64_t *)ctx = (int64_t)n;
}

static int64_t escalated_total_of_stok(struct env *e)
{
    int64_t n = -1;
    alert_engine_each_escalated_total(e->engine, rule_total, &n);
    return n;
}

static int escalation_env(struct env *e)
{
    env_catalog = catalog_escalating;
    int rc = env_open(e);
    env_catalog = catalog_text;
    return rc;
}

/* "still firing and not acknowledged 30 minutes after fired_at (by the
 * clock) is escalated once, within 10 s: escalated_at is set to that
 * moment". fired_at is sample time; the deadline is by the clock. */
TEST(escalation_is_due_by_the_clock_and_happens_once)
{
    struct env e;
    CHECK(escalation_env(&e) == 0);
    CHECK_INT(escalated_total_of_stok(&e), 0);
    put(&e, "simas", "pasar-a", "stock", "{}", T0 - 5 * MINUTE, 50); /* fired_at T0 - 5 min */
    put(&e, "simas", "pasar-b", "price", "{}", T0, 5000);            /* mahal: never escalates */
    CHECK_INT(n_firing(&e), 2);
    int64_t id = e.events[0].id;
    fake_now = T0 + 25 * MINUTE - 1;
    alert_engine_tick(e.engine);
    CHECK_INT(count_events(&e, "escalated"), 0);
    CHECK_INT(count_rows(&e, "escalated_at IS NULL"), 2);
    fake_now = T0 + 25 * MINUTE + 3000; /* a tick 3 s after the deadline */
    alert_engine_tick(e.engine);
    CHECK_INT(count_events(&e, "escalated"), 1);
    CHECK_INT(e.events[e.n_events - 1].id, id);
    CHECK_INT(e.events[e.n_events - 1].at, T0 + 25 * MINUTE + 3000);
    CHECK_INT(count_notes(&e, "escalated"), 1);
    CHECK_INT(count_rows(&e, "escalated_at = 1796217903000 AND resolved_at IS NULL"), 1);
    CHECK_INT(escalated_total_of_stok(&e), 1);
    for (int i = 0; i < 3; i++) { /* later ticks, and one a day later: nothing more */
        fake_now += i < 2 ? 5000 : 24 * HOUR;
        alert_engine_tick(e.engine);
    }
    CHECK_INT(count_events(&e, "escalated"), 1);
    CHECK_INT(count_notes(&e, "escalated"), 1);
    struct alert_record a;
    CHECK_INT(alert_engine_get(e.engine, id, &a), 1);
    CHECK_INT(a.escalated_at, T0 + 25 * MINUTE + 3000);
    alert_record_free(&a);
    /* acknowledged after it escalated: acked as usual, escalated_at kept */
    CHECK_INT(alert_engine_ack(e.engine, id, "operator", NULL, &a), 1);
    CHECK_INT(a.escalated_at, T0 + 25 * MINUTE + 3000);
    alert_record_free(&a);
    /* resolving keeps it too */
    put(&e, "simas", "pasar-a", "stock", "{}", T0 + HOUR, 500);
    CHECK_INT(count_rows(&e, "escalated_at = 1796217903000 AND resolved_at IS NOT NULL"), 1);
    env_close(&e);
}

TEST(escalation_is_prevented_by_an_ack_or_a_resolution)
{
    struct env e;
    CHECK(escalation_env(&e) == 0);
    put(&e, "simas", "pasar-a", "stock", "{}", T0, 50); /* acked before its deadline */
    put(&e, "simas", "pasar-b", "stock", "{}", T0, 50); /* resolved before it */
    int64_t acked = e.events[0].id;
    fake_now = T0 + 29 * MINUTE;
    struct alert_record a;
    CHECK_INT(alert_engine_ack(e.engine, acked, "operator", "sudah ditangani", &a), 1);
    alert_record_free(&a);
    put(&e, "simas", "pasar-b", "stock", "{}", T0 + 29 * MINUTE, 200);
    CHECK_INT(n_firing(&e), 1);
    for (int i = 0; i < 4; i++) {
        fake_now = T0 + 30 * MINUTE + i * HOUR;
        alert_engine_tick(e.engine);
    }
    CHECK_INT(count_events(&e, "escalated"), 0);
    CHECK_INT(count_notes(&e, "escalated"), 0);
    CHECK_INT(count_rows(&e, "escalated_at IS NOT NULL"), 0);
    CHECK_INT(escalated_total_of_stok(&e), 0);
    env_close(&e);
}

/* "an alert that was due while pantaud was down escalates within 10 s of
 * the start"; a restart neither loses nor repeats an escalation. */
TEST(escalation_survives_a_restart_once)
{
    struct env e;
    CHECK(escalation_env(&e) == 0);
    put(&e, "simas", "pasar-a", "stock", "{}", T0, 50); /* due at T0 + 30 min */
    put(&e, "simas", "pasar-b", "stock", "{}", T0, 50); /* due too, escalated before the stop */
    put(&e, "simas", "pasar-c", "stock", "{}", T0, 50); /* acked before the stop */
    int64_t a_id = e.events[0].id, b_id = e.events[1].id, c_id = e.events[2].id;
    struct alert_record a;
    CHECK_INT(alert_engine_ack(e.engine, c_id, "operator", NULL, &a), 1);
    alert_record_free(&a);
    fake_now = T0 + 10 * MINUTE;
    engine_stop(&e);
    /* b escalated by another run of the engine on the same database, as if
     * pantaud had escalated it and stopped */
    CHECK(sqlite3_exec(store_db(e.store),
                       "UPDATE alerts SET escalated_at = 1796216500000 WHERE id = 2", NULL, NULL,
                       NULL) == SQLITE_OK);
    CHECK_INT(b_id, 2);
    fake_now = T0 + 2 * HOUR; /* pantaud was down past a's deadline */
    e.n_events = e.n_notes = 0;
    CHECK(engine_start(&e) == 0); /* no tick: at start */
    CHECK_INT(count_events(&e, "escalated"), 1);
    CHECK_INT(e.events[0].id, a_id);
    CHECK_INT(e.events[0].at, T0 + 2 * HOUR);
    CHECK_INT(count_notes(&e, "escalated"), 1);
    CHECK_INT(alert_engine_get(e.engine, b_id, &a), 1);
    CHECK_INT(a.escalated_at, 1796216500000); /* kept, not repeated */
    alert_record_free(&a);
    fake_now += HOUR;
    engine_stop(&e);
    e.n_events = e.n_notes = 0;
    CHECK(engine_start(&e) == 0);
    alert_engine_tick(e.engine);
    CHECK_INT(count_events(&e, "escalated"), 0);
    CHECK_INT(count_notes(&e, "escalated"), 0);
    CHECK_INT(alert_engine_get(e.engine, a_id, &a), 1);
    CHECK_INT(a.escalated_at, T0 + 2 * HOUR);
    alert_record_free(&a);
    CHECK_INT(count_rows(&e, "escalated_at IS NOT NULL"), 2);
    env_close(&e);
}

/* A reload: the new `escalate` applies to the firing alerts not yet
 * escalated (counted from fired_at); removing it stops what was pending. */
TEST(escalation_follows_a_reload)
{
    struct env e;
    CHECK(escalation_env(&e) == 0);
    put(&e, "simas", "pasar-a", "stock", "{}", T0 + 45 * MINUTE, 50); /* 30 min -> 10 min */
    put(&e, "simas", "pasar-a", "price", "{}", T0, 5000);             /* none -> 1 min */
    put(&e, "paduka", "van-01", "docs", "{}", T0, 1);                 /* heard at T0 */
    fake_now = T0 + HOUR + 1000;
    alert_engine_tick(e.engine); /* diam fires: fired_at T0 + 1 h, due T0 + 3 h */
    CHECK_INT(n_firing(&e), 3);
    CHECK_INT(count_events(&e, "escalated"), 0);
    CHECK((e.catalog2 = harness_catalog(catalog_escalating_reloaded)) != NULL);
    CHECK_INT(alert_engine_set_catalog(e.engine, e.catalog2), 0);
    CHECK_INT(count_events(&e, "escalated"), 2); /* both past their new deadline: at once */
    CHECK_INT(count_notes(&e, "escalated"), 2);
    fake_now = T0 + 10 * HOUR;
    alert_engine_tick(e.engine);
    CHECK_INT(count_events(&e, "escalated"), 2); /* diam's was removed */
    CHECK_INT(count_rows(&e, "escalated_at IS NOT NULL AND rule IN ('stok', 'mahal')"), 2);
    CHECK_INT(count_rows(&e, "escalated_at IS NULL AND rule = 'diam'"), 1);
    env_close(&e);
}

TEST_MAIN(CASE(reference_rule_fires_after_for_and_resolves_at_clear),
          CASE(reference_arriving_late_and_changing_reevaluates_the_series),
          CASE(late_samples_change_nothing_and_a_replaced_latest_counts),
          CASE(a_restart_keeps_the_firing_alert_and_does_not_fire_it_twice),
          CASE(silence_by_arrival_time_fires_and_resolves),
          CASE(acknowledgement_is_kept_once_and_unknown_ids_are_not_found),
          CASE(alerts_of_a_period_overlap_it), CASE(alerts_of_a_period_come_in_pages),
          CASE(a_catalog_without_the_rule_resolves_its_alert),
          CASE(escalation_is_due_by_the_clock_and_happens_once),
          CASE(escalation_is_prevented_by_an_ack_or_a_resolution),
          CASE(escalation_survives_a_restart_once), CASE(escalation_follows_a_reload))
