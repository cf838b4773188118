/* test_federation.c — CONTRACT §7's pure parts (federation_state.h): a
 * table of STATEs each valid or refused for its reason, the summary a
 * REGION is folded from (progress with null as 0, the worst health), the
 * REGION object (stale, waiting with nulls) and /regions' order. */
#include "check.h"
#include "federation_state.h"
#include "harness.h"
#include "ingest_mqtt.h"
#include "ingest_queue.h"
#include "util.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define NOW 1796000000000LL

/* A valid STATE of regency "r" with `programs` as its programs array. */
static void state_text(char *out, size_t len, const char *regency, const char *programs,
                       long long generated_at, const char *units)
{
    snprintf(out, len,
             "{\"regency\":%s,\"generated_at\":%lld,\"programs\":%s,"
             "\"dimensions\":[{\"id\":\"governance\",\"progress\":0.5},"
             "{\"id\":\"branding\",\"progress\":null},{\"id\":\"economy\",\"progress\":1},"
             "{\"id\":\"living\",\"progress\":null},{\"id\":\"society\",\"progress\":0},"
             "{\"id\":\"environment\",\"progress\":0.25}],"
             "\"alerts\":[{\"id\":7,\"state\":\"firing\"}],\"units\":%s}",
             regency, generated_at, programs, units);
}

#define REG                                                                                        \
    "{\"id\":\"r\",\"name\":\"R\",\"code\":\"52.08\",\"province\":\"NTB\",\"timezone\":\"+08:"     \
    "00\"}"
#define KPI "{\"id\":\"k\",\"current\":3,\"status\":\"on_track\"}"
#define PROG(progress, health)                                                                     \
    "{\"id\":\"p\",\"name\":\"P\",\"dimension\":\"economy\",\"status\":\"running\","               \
    "\"progress\":" progress ",\"health\":" health ",\"kpis\":[" KPI "]}"
#define UNITS "{\"online\":3,\"offline\":1,\"stale\":0}"

static int check_text(const char *text, const char *topic_id, struct fed_summary *s,
                      const char **why)
{
    json_t *root = json_loads(text, 0, NULL);
    int rc = root ? fed_state_check(root, topic_id, NOW, s, why) : -2;
    json_decref(root);
    return rc;
}

TEST(federation_state_valid_summary)
{
    char text[4096];
    struct fed_summary s;
    const char *why = NULL;
    state_text(
        text, sizeof text, REG,
        "[" PROG("0.5", "\"at_risk\"") "," PROG("null", "\"missed\"") "," PROG("1", "null") "]",
        NOW - 1000, UNITS);
    json_t *root = json_loads(text, 0, NULL);
    CHECK_INT(fed_state_check(root, "r", NOW, &s, &why), 0);
    CHECK_STR(s.id, "r");
    CHECK_STR(s.code, "52.08");
    CHECK_INT(s.generated_at, NOW - 1000);
    CHECK_INT(s.programs, 3);
    CHECK(s.has_progress);
    CHECK_DBL(s.progress, 0.5); /* (0.5 + 0 + 1) / 3: null counts as 0 */
    CHECK(s.has_health);
    CHECK_STR(kpi_status_name(s.health), "missed");
    CHECK_INT(s.alerts_firing, 1);
    CHECK(s.dim_has[0] && !s.dim_has[1]);
    CHECK_DBL(s.dim_progress[5], 0.25);
    struct buf b;
    buf_init(&b, 0);
    fed_dims_object(&b, &s);
    CHECK_STR(b.data, "{\"governance\":0.5,\"branding\":null,\"economy\":1,\"living\":null,"
                      "\"society\":0,\"environment\":0.25}");
    buf_free(&b);
    json_decref(root);

    /* no programs: progress and health null */
    state_text(text, sizeof text, REG, "[]", NOW, UNITS);
    CHECK_INT(check_text(text, "r", &s, &why), 0);
    CHECK(!s.has_progress && !s.has_health);
    /* every health null: health null, progress still the mean */
    state_text(text, sizeof text, REG, "[" PROG("0.2", "null") "]", NOW, UNITS);
    CHECK_INT(check_text(text, "r", &s, &why), 0);
    CHECK(s.has_progress && !s.has_health);
    /* code and province null are fine; a future within 5 minutes too */
    state_text(text, sizeof text,
               "{\"id\":\"r\",\"name\":\"R\",\"code\":null,\"province\":null,\"timezone\":"
               "\"+07:00\"}",
               "[]", NOW + 299000, UNITS);
    CHECK_INT(check_text(text, "r", &s, &why), 0);
    CHECK(s.code == NULL && s.province == NULL);
}

static const struct bad_state {
    const char *name, *regency, *programs, *units, *topic, *phrase;
    long long generated_at;
} bad_states[] = {
    {"id differs from the topic", REG, "[]", UNITS, "s", "differs from the topic", NOW},
    {"id not a slug",
     "{\"id\":\"R R\",\"name\":\"R\",\"code\":null,\"province\":null,"
     "\"timezone\":\"+07:00\"}",
     "[]", UNITS, "r", "not a slug", NOW},
    {"no name", "{\"id\":\"r\",\"code\":null,\"province\":null,\"timezone\":\"+07:00\"}", "[]",
     UNITS, "r", "regency.name", NOW},
    {"bad code",
     "{\"id\":\"r\",\"name\":\"R\",\"code\":\"5208\",\"province\":null,"
     "\"timezone\":\"+07:00\"}",
     "[]", UNITS, "r", "regency.code", NOW},
    {"code a number",
     "{\"id\":\"r\",\"name\":\"R\",\"code\":52.08,\"province\":null,"
     "\"timezone\":\"+07:00\"}",
     "[]", UNITS, "r", "regency.code", NOW},
    {"bad timezone",
     "{\"id\":\"r\",\"name\":\"R\",\"code\":null,\"province\":null,"
     "\"timezone\":\"WIB\"}",
     "[]", UNITS, "r", "timezone", NOW},
    {"from the future", REG, "[]", UNITS, "r", "5 minutes ahead", NOW + 301000},
    {"before 2000", REG, "[]", UNITS, "r", "generated_at", 12345},
    {"programs not an array", REG, "{}", UNITS, "r", "programs is not an array", NOW},
    {"program bad dimension", REG,
     "[{\"id\":\"p\",\"name\":\"P\",\"dimension\":\"space\",\"status\":\"running\","
     "\"progress\":null,\"health\":null,\"kpis\":[]}]",
     UNITS, "r", "dimension", NOW},
    {"program bad health", REG, "[" PROG("0.1", "\"great\"") "]", UNITS, "r", "health", NOW},
    {"program progress a string", REG, "[" PROG("\"0.1\"", "null") "]", UNITS, "r", "progress",
     NOW},
    {"kpi without status", REG,
     "[{\"id\":\"p\",\"name\":\"P\",\"dimension\":\"economy\",\"status\":\"running\","
     "\"progress\":null,\"health\":null,\"kpis\":[{\"id\":\"k\",\"current\":1}]}]",
     UNITS, "r", "KPI", NOW},
    {"units missing stale", REG, "[]", "{\"online\":1,\"offline\":0}", "r", "units", NOW},
    {"units negative", REG, "[]", "{\"online\":-1,\"offline\":0,\"stale\":0}", "r", "units", NOW},
};

TEST(federation_state_bad_table)
{
    for (size_t i = 0; i < sizeof bad_states / sizeof bad_states[0]; i++) {
        const struct bad_state *c = &bad_states[i];
        char text[4096];
        struct fed_summary s;
        const char *why = "";
        state_text(text, sizeof text, c->regency, c->programs, c->generated_at, c->units);
        int rc = check_text(text, c->topic, &s, &why);
        if (rc != -1 || !strstr(why, c->phrase))
            fprintf(stderr, "  case \"%s\": rc %d, why \"%s\"\n", c->name, rc, why);
        CHECK_INT(rc, -1);
        CHECK(strstr(why, c->phrase) != NULL);
    }
    /* shapes that are not a STATE at all */
    static const char *const others[] = {
        "[]",
        "42",
        "{}",
        "{\"regency\":\"r\"}",
        "{\"regency\":" REG ",\"generated_at\":1796000000000,\"programs\":[],"
        "\"dimensions\":[],\"alerts\":[],\"units\":" UNITS "}",
        "{\"regency\":" REG ",\"generated_at\":1796000000000,\"programs\":[],"
        "\"dimensions\":[{\"id\":\"branding\"},{\"id\":\"governance\"},{\"id\":\"economy\"},"
        "{\"id\":\"living\"},{\"id\":\"society\"},{\"id\":\"environment\"}],\"alerts\":[],"
        "\"units\":" UNITS "}",
        "{\"regency\":" REG ",\"generated_at\":1796000000000.5,\"programs\":[],"
        "\"dimensions\":[],\"alerts\":[],\"units\":" UNITS "}",
    };
    for (size_t i = 0; i < sizeof others / sizeof others[0]; i++) {
        struct fed_summary s;
        const char *why = "";
        CHECK(check_text(others[i], "r", &s, &why) != 0);
    }
}

TEST(federation_region_json_cases)
{
    struct buf b;
    buf_init(&b, 0);
    struct fed_region_view waiting = {
        .id = "kota-bima", .name = "Kota Bima", .code = "52.72", .health = -1};
    fed_region_json(&b, &waiting, NOW, 900000);
    CHECK_STR(b.data, "{\"id\":\"kota-bima\",\"name\":\"Kota Bima\",\"code\":\"52.72\","
                      "\"province\":null,\"last_seen\":null,\"stale\":true,\"progress\":null,"
                      "\"health\":null,\"dimensions\":null,\"programs\":null,"
                      "\"alerts_firing\":null,\"units\":null}");
    buf_free(&b);
    struct fed_region_view heard = {.id = "r",
                                    .name = "R",
                                    .heard = true,
                                    .last_seen = NOW - 900000,
                                    .has_progress = true,
                                    .progress = 0.5,
                                    .health = KPI_AT_RISK,
                                    .programs = 2,
                                    .alerts_firing = 1,
                                    .dimensions_json = "[]",
                                    .units_json = "{\"online\":1,\"offline\":0,\"stale\":0}"};
    buf_init(&b, 0);
    fed_region_json(&b, &heard, NOW, 900000); /* exactly at the bound: not stale yet */
    CHECK(strstr(b.data, "\"stale\":false,\"progress\":0.5,\"health\":\"at_risk\"") != NULL);
    CHECK(strstr(b.data, "\"programs\":2,\"alerts_firing\":1,\"units\":{\"online\":1") != NULL);
    buf_free(&b);
    buf_init(&b, 0);
    fed_region_json(&b, &heard, NOW + 1, 900000);
    CHECK(strstr(b.data, "\"stale\":true") != NULL);
    buf_free(&b);
}

TEST(federation_region_order_cases)
{
    CHECK(fed_region_order("52.01", "z", "52.72", "a") < 0);
    CHECK(fed_region_order("52", "z", "52.01", "a") < 0);
    CHECK(fed_region_order("52.08", "b", "52.08", "a") > 0); /* same code: by id */
    CHECK(fed_region_order(NULL, "a", "99.99", "z") > 0);    /* without a code last */
    CHECK(fed_region_order(NULL, "a", NULL, "b") < 0);
    CHECK(fed_region_order("18.02", "x", NULL, "a") < 0);
}

TEST(federation_fingerprint)
{
    uint64_t a = fed_fp(FED_FP_INIT, "abc", 3), b = fed_fp(FED_FP_INIT, "abd", 3);
    CHECK(a != b);
    CHECK(fed_fp(fed_fp(FED_FP_INIT, "ab", 2), "c", 1) == a); /* continues */
}

/* ---- the deadlock rule, deterministically (ingest_mqtt.h) ---- */

static void on_wake(uv_async_t *h)
{
    (void)h; /* the test drains by hand */
}

static void on_stopped(void *ctx)
{
    *(bool *)ctx = true;
}

/* A spool that is full, so Paho's thread waits inside on_message holding
 * Paho's global mutex; the loop offers a STATE meanwhile. The offer must
 * return at once (the loop never calls Paho): a loop-side MQTTAsync_send
 * would wait for that mutex for ever (SIGALRM ends the test then). Once
 * the spool is drained the STATE reaches the broker. */
TEST(federation_offer_with_a_full_spool)
{
    struct broker b;
    uv_loop_t loop;
    uv_async_t wake;
    struct ingest_queue q;
    uint64_t replayed;
    char spool[512], got[256];
    CHECK(broker_start(&b, 0) == 0);
    uv_loop_init(&loop);
    uv_async_init(&loop, &wake, on_wake);
    snprintf(spool, sizeof spool, "%s/fed-spool", harness_tmpdir());
    snprintf(got, sizeof got, "%s/fed-sub.out", harness_tmpdir());
    unlink(spool);
    CHECK(ingest_queue_open(&q, spool, 1 << 20, 20, &wake, &replayed) == 0);
    /* a subscriber for the STATE */
    char port[16];
    snprintf(port, sizeof port, "%d", b.port);
    char *sub_argv[] = {"mosquitto_sub",   "-h", "127.0.0.1", "-p", port, "-t",
                        "fedtest/r/state", "-C", "1",         "-W", "30", NULL};
    pid_t sub = harness_spawn(sub_argv, got, NULL);
    struct ingest_mqtt *m;
    struct ingest_mqtt_opts o = {
        .uri = b.uri, .client_id = "fed-offer-test", .prefix = "flood", .keepalive_s = 30};
    CHECK(ingest_mqtt_start(&m, &loop, &o, &q) == 0);
    for (int i = 0; i < 500 && !ingest_mqtt_subscribed(m); i++)
        usleep(10000);
    CHECK(ingest_mqtt_subscribed(m));
    /* The flood comes from another process: a Paho publisher in this one
     * would itself wait for Paho's mutex while on_message holds it. */
    char flood[256];
    snprintf(flood, sizeof flood,
             "seq 100 | mosquitto_pub -h 127.0.0.1 -p %d -q 1 -i fed-flood -t flood/a/b/c -l",
             b.port);
    char *flood_argv[] = {"sh", "-c", flood, NULL};
    char flood_log[256];
    snprintf(flood_log, sizeof flood_log, "%s/fed-flood.log", harness_tmpdir());
    pid_t flooder = harness_spawn(flood_argv, flood_log, NULL);
    struct ingest_queue_stats qs = {0};
    for (int i = 0; i < 500 && qs.producer_waits == 0; i++) {
        usleep(10000);
        ingest_queue_stats(&q, &qs);
    }
    CHECK(qs.producer_waits > 0); /* Paho's thread waits in on_message now */
    alarm(20);
    uint64_t t0 = util_mono_ns();
    CHECK(ingest_mqtt_offer(m, "fedtest/r/state", "{\"s\":1}", 7) == 0);
    uint64_t took_ms = (util_mono_ns() - t0) / 1000000;
    CHECK(took_ms < 100);
    /* the loop drains: the producer, then the publisher, get through */
    int drained = 0;
    for (int i = 0; i < 1000 && drained < 100; i++) {
        struct ingest_msg msg;
        while (ingest_queue_next(&q, &msg))
            drained++;
        ingest_queue_release(&q);
        usleep(5000);
    }
    CHECK_INT(drained, 100);
    CHECK(harness_stop(flooder, 0, 10000) == 0);
    CHECK(harness_stop(sub, 0, 15000) == 0); /* mosquitto_sub -C 1 exits after one */
    alarm(0);
    FILE *f = fopen(got, "r");
    char line[64] = "";
    if (f) {
        if (!fgets(line, sizeof line, f))
            line[0] = '\0';
        fclose(f);
    }
    CHECK(strncmp(line, "{\"s\":1}", 7) == 0);
    bool stopped = false;
    ingest_mqtt_stop(m, on_stopped, &stopped);
    for (int i = 0; i < 300 && !stopped; i++)
        uv_run(&loop, UV_RUN_NOWAIT), usleep(10000);
    CHECK(stopped);
    ingest_queue_destroy(&q);
    uv_close((uv_handle_t *)&wake, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK(uv_loop_close(&loop) == 0);
    CHECK(broker_stop(&b) == 0);
}

TEST_MAIN(CASE(federation_state_valid_summary), CASE(federation_state_bad_table),
          CASE(federation_region_json_cases), CASE(federation_region_order_cases),
          CASE(federation_fingerprint), CASE(federation_offer_with_a_full_spool))
