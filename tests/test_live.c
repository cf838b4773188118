/* test_live.c — the live websocket's logic without a socket: MQTT-style
 * filters, the per-client queue (batching, drops, order), sample JSON,
 * client requests and the snapshot. Clients are driven through live.c's
 * live__client_* entry points with wsi NULL, the same paths the lws callback
 * takes; the websocket itself is covered by tests/js/live.test.mjs. */
#include <jansson.h>
#include <unistd.h>

#include "buf.h"
#include "check.h"
#include "harness.h"
#include "live.h"
#include "live_client.h"
#include "store.h"

#define T0 1795000000000LL

/* ---- helpers ---- */

static struct live *new_live(size_t queue_max, size_t max_clients)
{
    struct live *l = NULL;
    struct live_opts o = {.queue_max = queue_max ? queue_max : 10000,
                          .max_clients = max_clients ? max_clients : 1000,
                          .version = "9.9.9"};
    if (live_init(&l, NULL, &o) != 0)
        return NULL;
    return l;
}

/* A connected client whose hello has been taken. */
static struct live_client *new_client(struct live *l)
{
    struct live_client *c = calloc(1, live__client_size());
    struct buf f;
    buf_init(&f, LWS_PRE);
    if (c && live__client_open(l, c, NULL) == 0 && live__client_next_frame(l, c, &f)) {
        buf_free(&f);
        return c;
    }
    buf_free(&f);
    free(c);
    return NULL;
}

static void free_client(struct live *l, struct live_client *c)
{
    live__client_close(l, c);
    free(c);
}

static struct sample smp(const char *program, const char *unit, const char *metric, int64_t ts,
                         double value)
{
    struct sample s = {.program = program,
                       .unit = unit,
                       .metric = metric,
                       .labels_json = "{}",
                       .ts = ts,
                       .value = value};
    return s;
}

static void publish1(struct live *l, const char *program, const char *unit, const char *metric,
                     int64_t ts, double value)
{
    struct sample s = smp(program, unit, metric, ts, value);
    live_publish_samples(l, &s, 1);
}

static int send_text(struct live *l, struct live_client *c, const char *text)
{
    return live__client_message(l, c, text, strlen(text));
}

/* The client's next frame parsed, or NULL when nothing is pending. */
static json_t *next_frame(struct live *l, struct live_client *c)
{
    struct buf f;
    buf_init(&f, LWS_PRE);
    json_t *j = NULL;
    if (live__client_next_frame(l, c, &f) && !buf_failed(&f)) {
        json_error_t err;
        j = json_loadb(f.data, f.len, 0, &err);
        if (!j)
            fprintf(stderr, "  frame is not JSON (%s): %.200s\n", err.text, f.data);
    }
    buf_free(&f);
    return j;
}

static const char *frame_type(json_t *frame)
{
    return json_string_value(json_object_get(frame, "type"));
}

static size_t n_samples(json_t *frame)
{
    return json_array_size(json_object_get(frame, "samples"));
}

static double sample_value(json_t *frame, size_t i)
{
    return json_number_value(
        json_object_get(json_array_get(json_object_get(frame, "samples"), i), "value"));
}

/* Every sample value pending for the client, in the order received, into
 * values[] (at most max); returns how many; frames counts samples frames. */
static size_t drain_values(struct live *l, struct live_client *c, double *values, size_t max,
                           size_t *frames)
{
    size_t n = 0;
    json_t *f;
    *frames = 0;
    while ((f = next_frame(l, c)) != NULL) {
        if (frame_type(f) && strcmp(frame_type(f), "samples") == 0) {
            (*frames)++;
            for (size_t i = 0; i < n_samples(f) && n < max; i++)
                values[n++] = sample_value(f, i);
        }
        json_decref(f);
    }
    return n;
}

/* ---- filters ---- */

TEST(live_filter_match_table)
{
    static const struct {
        const char *filter, *program, *unit, *metric;
        bool match;
    } cases[] = {
        {"#", "pjs", "truck-07", "pickups", true},
        {"pjs/#", "pjs", "truck-07", "pickups", true},
        {"pjs/#", "pjsx", "truck-07", "pickups", false},
        {"pjs/truck-07/#", "pjs", "truck-07", "pickups", true},
        {"pjs/truck-07/pickups/#", "pjs", "truck-07", "pickups", true}, /* parent match */
        {"pjs/truck-07/pickups", "pjs", "truck-07", "pickups", true},
        {"pjs/truck-07/pickup", "pjs", "truck-07", "pickups", false},
        {"pjs/truck-07/pickupss", "pjs", "truck-07", "pickups", false},
        {"pjs/truck-0/pickups", "pjs", "truck-07", "pickups", false},
        {"+/+/price", "simas-bapokting", "pasar-bandar-jaya", "price", true},
        {"+/+/price", "simas-bapokting", "pasar-bandar-jaya", "stock", false},
        {"+/+/+", "a", "b", "c", true},
        {"+/+", "a", "b", "c", false}, /* too short: no implicit rest */
        {"+", "a", "b", "c", false},
        {"pjs", "pjs", "truck-07", "pickups", false},
        {"pjs/truck-07", "pjs", "truck-07", "pickups", false},
        {"+/truck-07/#", "pjs", "truck-07", "waste_kg", true},
        {"+/truck-07/#", "pjs", "truck-08", "waste_kg", false},
        {"paduka-lamteng/+/+", "paduka-lamteng", "van-03", "documents_issued", true},
        {"paduka-lamteng/+/+", "simas-bapokting", "van-03", "documents_issued", false},
        {"+/#", "a", "b", "c", true},
        {"a/+/#", "a", "b", "c", true},
        {"a/+/c/#", "a", "b", "c", true},
        {"a/+/d/#", "a", "b", "c", false},
        /* NULL unit and metric: any value (a kpi frame, CONTRACT §3) */
        {"pjs/#", "pjs", NULL, NULL, true},
        {"pjs/+/+", "pjs", NULL, NULL, true},
        {"pjs/truck-07/pickups", "pjs", NULL, NULL, true},
        {"+/+/+", "pjs", NULL, NULL, true},
        {"simas-bapokting/#", "pjs", NULL, NULL, false},
        {"pjs/+", "pjs", NULL, NULL, false},
        {"pjs", "pjs", NULL, NULL, false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        bool got =
            live_filter_match(cases[i].filter, cases[i].program, cases[i].unit, cases[i].metric);
        if (got != cases[i].match)
            CHECK_FAIL_("filter \"%s\" on %s/%s/%s: got %d", cases[i].filter, cases[i].program,
                        cases[i].unit, cases[i].metric, got);
    }
}

TEST(live_filter_valid_table)
{
    static const struct {
        const char *filter;
        bool valid;
    } cases[] = {
        {"#", true},
        {"+", true},
        {"+/+/+", true},
        {"+/+/price", true},
        {"pjs/#", true},
        {"pjs/truck-07/pickups", true},
        {"pjs/truck-07/pickups/#", true},
        {"paduka-lamteng/+/+", true},
        {"", false},
        {"/", false},
        {"pjs/", false},
        {"/pjs", false},
        {"pjs//x", false},
        {"#/pjs", false},
        {"pjs/#/x", false},
        {"pjs/a#", false},
        {"pjs/#a", false},
        {"pjs/a+", false},
        {"pjs/++", false},
        {"a/b/c/d", false},
        {"a/b/c/d/#", false},
        {"+/+/+/+", false},
        {"PJS/#", false},
        {"pjs/truck 07/x", false},
        {"-pjs/#", false},
        {"pjs/truck-07/pickups/", false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        if (live_filter_valid(cases[i].filter) != cases[i].valid)
            CHECK_FAIL_("filter \"%s\": expected %s", cases[i].filter,
                        cases[i].valid ? "valid" : "invalid");
    char longest[300];
    memset(longest, 'a', sizeof longest - 1);
    longest[sizeof longest - 1] = '\0';
    CHECK(!live_filter_valid(longest));
}

/* ---- connection and requests ---- */

TEST(live_hello_first)
{
    struct live *l = new_live(0, 0);
    CHECK(l);
    struct live_client *c = calloc(1, live__client_size());
    CHECK(c);
    CHECK_INT(live__client_open(l, c, NULL), 0);
    publish1(l, "pjs", "truck-07", "pickups", T0, 3);
    json_t *hello = next_frame(l, c);
    CHECK(hello);
    CHECK_STR(frame_type(hello), "hello");
    CHECK_STR(json_string_value(json_object_get(hello, "version")), "9.9.9");
    json_t *server_time = json_object_get(hello, "server_time");
    CHECK(json_is_integer(server_time) &&
          json_integer_value(server_time) > T0 - 10LL * 365 * 86400000);
    json_decref(hello);
    json_t *f = next_frame(l, c);
    CHECK(f);
    CHECK_STR(frame_type(f), "samples");
    json_decref(f);
    CHECK(next_frame(l, c) == NULL);
    struct live_stats st;
    live_get_stats(l, &st);
    CHECK_INT(st.clients, 1);
    free_client(l, c);
    live_get_stats(l, &st);
    CHECK_INT(st.clients, 0);
    live_free(l);
}

TEST(live_sample_json_shape)
{
    struct live *l = new_live(0, 0);
    struct live_client *c = l ? new_client(l) : NULL;
    CHECK(c);
    struct sample s = smp("simas-bapokting", "pasar-bandar-jaya", "price", T0, 14500.5);
    s.labels_json = "{\"commodity\":\"beras-medium\"}";
    live_publish_samples(l, &s, 1);
    struct buf f;
    buf_init(&f, LWS_PRE);
    CHECK(live__client_next_frame(l, c, &f));
    CHECK_STR(f.data, "{\"type\":\"samples\",\"samples\":[{\"program\":\"simas-bapokting\","
                      "\"unit\":\"pasar-bandar-jaya\",\"metric\":\"price\",\"labels\":"
                      "{\"commodity\":\"beras-medium\"},\"ts\":1795000000000,\"value\":14500.5}]}");
    buf_free(&f);
    free_client(l, c);
    live_free(l);
}

TEST(live_everything_until_subscribe_then_filters)
{
    struct live *l = new_live(0, 0);
    struct live_client *c = l ? new_client(l) : NULL;
    CHECK(c);
    publish1(l, "pjs", "truck-07", "pickups", T0, 1);
    publish1(l, "simas-bapokting", "pasar-a", "price", T0, 2);
    CHECK_INT(live__client_pending(c), 2);
    CHECK_INT(send_text(l, c, "{\"op\":\"subscribe\",\"filters\":[\"+/+/price\"]}"), 0);
    /* pending samples the new filters do not want are withdrawn */
    CHECK_INT(live__client_pending(c), 1);
    publish1(l, "pjs", "truck-07", "pickups", T0 + 1, 3);
    publish1(l, "simas-bapokting", "pasar-b", "price", T0 + 1, 4);
    publish1(l, "simas-bapokting", "pasar-b", "stock", T0 + 1, 5);
    double v[8];
    size_t frames, n = drain_values(l, c, v, 8, &frames);
    CHECK_INT(n, 2);
    CHECK_DBL(v[0], 2);
    CHECK_DBL(v[1], 4);
    CHECK_INT(frames, 1);

    /* each subscribe replaces the last */
    CHECK_INT(send_text(l, c, "{\"op\":\"subscribe\",\"filters\":[\"pjs/#\",\"x/y/z\"]}"), 0);
    publish1(l, "simas-bapokting", "pasar-b", "price", T0 + 2, 6);
    publish1(l, "pjs", "truck-08", "waste_kg", T0 + 2, 7);
    n = drain_values(l, c, v, 8, &frames);
    CHECK_INT(n, 1);
    CHECK_DBL(v[0], 7);

    /* an empty list subscribes to nothing */
    CHECK_INT(send_text(l, c, "{\"op\":\"subscribe\",\"filters\":[]}"), 0);
    publish1(l, "pjs", "truck-08", "waste_kg", T0 + 3, 8);
    CHECK(next_frame(l, c) == NULL);
    free_client(l, c);
    live_free(l);
}

TEST(live_ping_pong)
{
    struct live *l = new_live(0, 0);
    struct live_client *c = l ? new_client(l) : NULL;
    CHECK(c);
    CHECK_INT(send_text(l, c, "{\"op\":\"ping\"}"), 0);
    CHECK_INT(send_text(l, c, " { \"op\" : \"ping\" , \"extra\": 1 } "), 0);
    for (int i = 0; i < 2; i++) {
        json_t *f = next_frame(l, c);
        CHECK(f);
        CHECK_STR(frame_type(f), "pong");
        json_decref(f);
    }
    CHECK(next_frame(l, c) == NULL);
    free_client(l, c);
    live_free(l);
}

TEST(live_bad_requests_get_errors)
{
    static const char *const bad[] = {
        "{",
        "not json",
        "[1,2]",
        "\"ping\"",
        "{}",
        "{\"op\":1}",
        "{\"op\":\"dance\"}",
        "{\"op\":\"subscribe\"}",
        "{\"op\":\"subscribe\",\"filters\":\"pjs/#\"}",
        "{\"op\":\"subscribe\",\"filters\":[1]}",
        "{\"op\":\"subscribe\",\"filters\":[\"pjs/#/x\"]}",
        "{\"op\":\"subscribe\",\"filters\":[\"pjs/#\",\"\"]}",
        "{\"op\":\"subscribe\",\"filters\":[\"a/b/c/d\"]}",
        "{\"op\":\"subscribe\",\"filters\":[\"pjs/#\"],\"snapshot\":\"yes\"}",
        "{\"op\":\"ping\",\"op\":\"ping\"}",
    };
    struct live *l = new_live(0, 0);
    struct live_client *c = l ? new_client(l) : NULL;
    CHECK(c);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (send_text(l, c, bad[i]) != 0)
            CHECK_FAIL_("closed on %s", bad[i]);
        json_t *f = next_frame(l, c);
        bool ok = f && frame_type(f) && strcmp(frame_type(f), "error") == 0 &&
                  json_string_value(json_object_get(f, "error")) &&
                  strcmp(json_string_value(json_object_get(f, "error")), "bad_request") == 0 &&
                  json_is_string(json_object_get(f, "message"));
        json_decref(f);
        if (!ok)
            CHECK_FAIL_("no bad_request error frame for %s", bad[i]);
    }
    /* the failed subscribes left the client receiving everything */
    publish1(l, "pjs", "truck-07", "pickups", T0, 1);
    json_t *f = next_frame(l, c);
    CHECK(f);
    CHECK_STR(frame_type(f), "samples");
    json_decref(f);
    free_client(l, c);
    live_free(l);
}

TEST(live_max_clients)
{
    struct live *l = new_live(0, 2);
    CHECK(l);
    struct live_client *a = new_client(l), *b = new_client(l);
    CHECK(a && b);
    struct live_client *c = calloc(1, live__client_size());
    CHECK(c);
    CHECK(live__client_open(l, c, NULL) != 0);
    live__client_close(l, c); /* harmless on a client that never opened */
    free_client(l, a);
    CHECK_INT(live__client_open(l, c, NULL), 0);
    free_client(l, b);
    free_client(l, c);
    live_free(l);
}

/* ---- the queue ---- */

TEST(live_batches_in_arrival_order)
{
    struct live *l = new_live(0, 0);
    struct live_client *c = l ? new_client(l) : NULL;
    CHECK(c);
    struct sample s[1000];
    for (int i = 0; i < 1000; i++)
        s[i] = smp("pjs", i % 2 ? "truck-01" : "truck-02", "pickups", T0 + i, i);
    live_publish_samples(l, s, 500);
    live_publish_samples(l, s + 500, 500);
    double v[1000];
    size_t frames, n = drain_values(l, c, v, 1000, &frames);
    CHECK_INT(n, 1000);
    CHECK_INT(frames, 1); /* everything pending goes as one frame */
    for (int i = 0; i < 1000; i++)
        CHECK_DBL(v[i], i);
    struct live_stats st;
    live_get_stats(l, &st);
    CHECK_INT(st.frames_sent, 1);
    CHECK_INT(st.samples_sent, 1000);
    free_client(l, c);
    live_free(l);
}

TEST(live_frames_are_bounded)
{
    struct live *l = new_live(0, 0);
    struct live_client *c = l ? new_client(l) : NULL;
    CHECK(c);
    /* ~800-byte samples: 1000 of them do not fit one 256 KiB frame */
    char labels[900];
    int off = snprintf(labels, sizeof labels, "{");
    for (int k = 0; k < 8; k++)
        off += snprintf(labels + off, sizeof labels - (size_t)off, "%s\"k%d\":\"%064d\"",
                        k ? "," : "", k, k);
    snprintf(labels + off, sizeof labels - (size_t)off, "}");
    for (int i = 0; i < 1000; i++) {
        struct sample s = smp("pjs", "truck-01", "pickups", T0 + i, i);
        s.labels_json = labels;
        live_publish_samples(l, &s, 1);
    }
    struct buf f;
    buf_init(&f, LWS_PRE);
    size_t frames = 0, total = 0;
    while (live__client_next_frame(l, c, &f)) {
        CHECK(f.len <= 256 * 1024);
        json_t *j = json_loadb(f.data, f.len, 0, NULL);
        CHECK(j);
        for (size_t i = 0; i < n_samples(j); i++)
            if (sample_value(j, i) != (double)total++)
                CHECK_FAIL_("sample %zu out of order", total - 1);
        json_decref(j);
        frames++;
    }
    buf_free(&f);
    CHECK_INT(total, 1000);
    CHECK(frames >= 3 && frames <= 5);
    free_client(l, c);
    live_free(l);
}

TEST(live_overflow_drops_oldest_and_says_so)
{
    struct live *l = new_live(5, 0);
    struct live_client *slow = l ? new_client(l) : NULL;
    struct live_client *fast = l ? new_client(l) : NULL;
    CHECK(slow && fast);
    double v[16];
    size_t frames;
    for (int i = 0; i < 8; i++) {
        publish1(l, "pjs", "truck-07", "pickups", T0 + i, i);
        if (i % 2 == 1) /* the fast client keeps up */
            CHECK_INT(drain_values(l, fast, v, 16, &frames), 2);
    }
    CHECK_INT(live__client_pending(slow), 5);
    json_t *f = next_frame(l, slow);
    CHECK(f);
    CHECK_STR(frame_type(f), "dropped");
    CHECK_INT(json_integer_value(json_object_get(f, "count")), 3);
    json_decref(f);
    size_t n = drain_values(l, slow, v, 16, &frames);
    CHECK_INT(n, 5);
    for (int i = 0; i < 5; i++)
        CHECK_DBL(v[i], 3 + i); /* the newest five, in order */
    struct live_stats st;
    live_get_stats(l, &st);
    CHECK_INT(st.samples_dropped, 3);

    /* a later overflow is reported afresh */
    for (int i = 0; i < 7; i++)
        publish1(l, "pjs", "truck-07", "pickups", T0 + 100 + i, 100 + i);
    f = next_frame(l, slow);
    CHECK(f);
    CHECK_STR(frame_type(f), "dropped");
    CHECK_INT(json_integer_value(json_object_get(f, "count")), 2);
    json_decref(f);
    free_client(l, slow);
    free_client(l, fast);
    live_free(l);
}

TEST(live_one_burst_is_not_dropped)
{
    /* One committed group larger than the bound (units flushing offline
     * buffers) reaches a client that keeps up whole; if it does not read
     * before the next group, the bound applies again. */
    struct live *l = new_live(5, 0);
    struct live_client *c = l ? new_client(l) : NULL;
    CHECK(c);
    struct sample s[20];
    for (int i = 0; i < 20; i++)
        s[i] = smp("pjs", "truck-07", "pickups", T0 + i, i);
    live_publish_samples(l, s, 20);
    CHECK_INT(live__client_pending(c), 20);
    double v[32];
    size_t frames;
    CHECK_INT(drain_values(l, c, v, 32, &frames), 20);
    CHECK_DBL(v[19], 19);

    live_publish_samples(l, s, 20);
    live_publish_samples(l, s, 3); /* the first burst was not read: 18 go */
    CHECK_INT(live__client_pending(c), 5);
    json_t *f = next_frame(l, c);
    CHECK(f);
    CHECK_STR(frame_type(f), "dropped");
    CHECK_INT(json_integer_value(json_object_get(f, "count")), 18);
    json_decref(f);
    CHECK_INT(drain_values(l, c, v, 32, &frames), 5);
    CHECK_DBL(v[0], 18);
    CHECK_DBL(v[1], 19);
    CHECK_DBL(v[2], 0);
    CHECK_DBL(v[4], 2);
    free_client(l, c);
    live_free(l);
}

TEST(live_shared_sample_outlives_one_client)
{
    /* Two clients hold the same serialized sample; closing one must leave
     * the other's intact (ASan would see a use after free). */
    struct live *l = new_live(0, 0);
    struct live_client *a = l ? new_client(l) : NULL;
    struct live_client *b = l ? new_client(l) : NULL;
    CHECK(a && b);
    for (int i = 0; i < 100; i++)
        publish1(l, "pjs", "truck-07", "pickups", T0 + i, i);
    free_client(l, a);
    double v[100];
    size_t frames;
    CHECK_INT(drain_values(l, b, v, 100, &frames), 100);
    CHECK_DBL(v[99], 99);
    /* and a client that closes with samples pending releases them */
    for (int i = 0; i < 100; i++)
        publish1(l, "pjs", "truck-07", "pickups", T0 + i, i);
    free_client(l, b);
    live_free(l);
}

TEST(live_unit_and_alert_frames_keep_order)
{
    struct live *l = new_live(0, 0);
    struct live_client *c = l ? new_client(l) : NULL;
    CHECK(c);
    CHECK_INT(send_text(l, c, "{\"op\":\"subscribe\",\"filters\":[\"pjs/#\"]}"), 0);
    publish1(l, "pjs", "truck-07", "pickups", T0, 1);
    live_publish_unit(l, "pjs", "truck-07",
                      "{\"program\":\"pjs\",\"unit\":\"truck-07\",\"status\":\"offline\"}");
    live_publish_alert(l, "pjs", "truck-07", "pickups", "{\"id\":7,\"state\":\"firing\"}");
    publish1(l, "pjs", "truck-07", "pickups", T0 + 1, 2);
    static const char *const want[] = {"samples", "unit", "alert", "samples"};
    for (int i = 0; i < 4; i++) {
        json_t *f = next_frame(l, c);
        CHECK(f);
        CHECK_STR(frame_type(f), want[i]);
        if (i == 1)
            CHECK_STR(json_string_value(json_object_get(json_object_get(f, "unit"), "status")),
                      "offline");
        if (i == 2)
            CHECK_INT(json_integer_value(json_object_get(json_object_get(f, "alert"), "id")), 7);
        json_decref(f);
    }
    CHECK(next_frame(l, c) == NULL);
    free_client(l, c);
    live_free(l);
}

TEST(live_kpi_frames_follow_program_filters)
{
    struct live *l = new_live(0, 0);
    struct live_client *a = l ? new_client(l) : NULL, *b = a ? new_client(l) : NULL;
    CHECK(b);
    CHECK_INT(send_text(l, a, "{\"op\":\"subscribe\",\"filters\":[\"paduka-lamteng/+/+\"]}"), 0);
    CHECK_INT(send_text(l, b, "{\"op\":\"subscribe\",\"filters\":[\"pjs/#\"]}"), 0);
    live_publish_kpi(l, "paduka-lamteng", "{\"id\":\"kampung\",\"current\":12}");
    json_t *f = next_frame(l, a);
    CHECK(f);
    CHECK_STR(frame_type(f), "kpi");
    CHECK_STR(json_string_value(json_object_get(f, "program")), "paduka-lamteng");
    CHECK_INT(json_integer_value(json_object_get(json_object_get(f, "kpi"), "current")), 12);
    json_decref(f);
    CHECK(next_frame(l, b) == NULL);
    free_client(l, a);
    free_client(l, b);
    live_free(l);
}

TEST(live_snapshot_from_store)
{
    char path[512];
    snprintf(path, sizeof path, "%s/live-snapshot.db", harness_tmpdir());
    unlink(path);
    struct store *s;
    CHECK(store_open(&s, path) == 0);
    struct sample in[] = {
        smp("simas-bapokting", "pasar-a", "price", T0, 14000),
        smp("simas-bapokting", "pasar-a", "price", T0 + 60000, 14500),
        smp("simas-bapokting", "pasar-b", "price", T0, 15000),
        smp("simas-bapokting", "pasar-b", "stock", T0, 300),
        smp("pjs", "truck-07", "pickups", T0, 3),
    };
    in[4].labels_json = "{\"zone\":\"z1\"}";
    for (size_t i = 0; i < sizeof in / sizeof in[0]; i++)
        CHECK(store_append(s, &in[i], T0, NULL) == 0);
    CHECK(store_commit(s) == 0);

    struct live *l = NULL;
    struct live_opts o = {.queue_max = 10000, .max_clients = 10};
    CHECK(live_init(&l, s, &o) == 0);
    struct live_client *c = new_client(l);
    CHECK(c);
    publish1(l, "simas-bapokting", "pasar-a", "price", T0 - 5, 1); /* pending: superseded */
    CHECK_INT(
        send_text(l, c, "{\"op\":\"subscribe\",\"filters\":[\"+/+/price\"],\"snapshot\":true}"), 0);
    json_t *f = next_frame(l, c);
    CHECK(f);
    CHECK_STR(frame_type(f), "samples");
    CHECK_INT(n_samples(f), 2);
    double sum = sample_value(f, 0) + sample_value(f, 1);
    CHECK_DBL(sum, 14500 + 15000); /* the latest of each price series */
    json_decref(f);
    CHECK(next_frame(l, c) == NULL);

    /* labels come through; a filter matching nothing gives an empty frame */
    CHECK_INT(send_text(l, c, "{\"op\":\"subscribe\",\"filters\":[\"pjs/#\"],\"snapshot\":true}"),
              0);
    f = next_frame(l, c);
    CHECK(f);
    json_t *sample = json_array_get(json_object_get(f, "samples"), 0);
    CHECK_STR(json_string_value(json_object_get(json_object_get(sample, "labels"), "zone")), "z1");
    CHECK_INT(json_integer_value(json_object_get(sample, "ts")), T0);
    json_decref(f);
    CHECK_INT(send_text(l, c, "{\"op\":\"subscribe\",\"filters\":[\"nope/#\"],\"snapshot\":true}"),
              0);
    f = next_frame(l, c);
    CHECK(f);
    CHECK_STR(frame_type(f), "samples");
    CHECK_INT(n_samples(f), 0);
    json_decref(f);

    /* A client asking again and again without reading gets one snapshot,
     * built when it reads: repeated asks cost no memory. */
    for (int i = 0; i < 1000; i++)
        CHECK_INT(send_text(l, c, "{\"op\":\"subscribe\",\"filters\":[\"#\"],\"snapshot\":true}"),
                  0);
    CHECK_INT(live__client_pending(c), 0);
    f = next_frame(l, c);
    CHECK(f);
    CHECK_INT(n_samples(f), 4); /* every series' latest */
    json_decref(f);
    CHECK(next_frame(l, c) == NULL);
    free_client(l, c);
    live_free(l);
    store_close(s);
}

/* CONTRACT §3: "an alert frame as a sample of the alert's program/unit/
 * metric (a silent alert: any metric of its unit), a unit frame as any
 * metric of that unit". */
TEST(live_alert_and_unit_frames_follow_filters)
{
    struct live *l = new_live(0, 0);
    struct live_client *c = l ? new_client(l) : NULL;
    CHECK(c);
    CHECK_INT(send_text(l, c, "{\"op\":\"subscribe\",\"filters\":[\"simas/+/price\"]}"), 0);
    live_publish_alert(l, "simas", "pasar-a", "price", "{\"id\":1}");   /* matches */
    live_publish_alert(l, "simas", "pasar-a", "stock", "{\"id\":2}");   /* other metric */
    live_publish_alert(l, "simas", "pasar-b", NULL, "{\"id\":3}");      /* silent: any metric */
    live_publish_alert(l, "pjs", "truck-07", NULL, "{\"id\":4}");       /* other program */
    live_publish_unit(l, "simas", "pasar-a", "{\"unit\":\"pasar-a\"}"); /* any metric */
    live_publish_unit(l, "pjs", "truck-07", "{\"unit\":\"truck-07\"}");
    static const char *const want[] = {"alert", "alert", "unit"};
    static const int ids[] = {1, 3, 0};
    for (int i = 0; i < 3; i++) {
        json_t *f = next_frame(l, c);
        CHECK(f);
        CHECK_STR(frame_type(f), want[i]);
        if (ids[i])
            CHECK_INT(json_integer_value(json_object_get(json_object_get(f, "alert"), "id")),
                      ids[i]);
        json_decref(f);
    }
    CHECK(next_frame(l, c) == NULL);
    free_client(l, c);
    live_free(l);
}

/* ---- the filter index: what a client receives is what live_filter_match
 * says, for samples and for frames whose unit or metric stands for any ---- */

struct index_row {
    const char *filter;
    const char *program, *unit, *metric; /* NULL: any (kpi, unit, silent alert) */
    bool want;
};

static const struct index_row index_rows[] = {
    {"#", "p", "u", "m", true},
    {"+/+/+", "p", "u", "m", true},
    {"p/#", "p", "u", "m", true},
    {"p/#", "q", "u", "m", false},
    {"p/+/+", "p", "u", "m", true},
    {"p/u/#", "p", "u", "m", true},
    {"p/u/#", "p", "v", "m", false},
    {"p/u/m", "p", "u", "m", true},
    {"p/u/m/#", "p", "u", "m", true},
    {"p/u/m", "p", "u", "n", false},
    {"p/+/m", "p", "x", "m", true},
    {"p/+/m", "p", "x", "n", false},
    {"+/u/m", "q", "u", "m", true},
    {"+/u/m", "q", "v", "m", false},
    {"+/+/m", "q", "v", "m", true},
    {"+/+/m", "q", "v", "n", false},
    {"+/u/#", "q", "u", "z", true},
    {"+/#", "q", "u", "z", true},
    {"p", "p", "u", "m", false},   /* too short: selects nothing */
    {"p/u", "p", "u", "m", false}, /* too short: selects nothing */
    {"p/u/mm", "p", "u", "m", false},
    {"pp/u/m", "p", "u", "m", false},
    /* a unit frame: any metric of the unit */
    {"p/u/m", "p", "u", NULL, true},
    {"p/v/m", "p", "u", NULL, false},
    {"p/+/m", "p", "u", NULL, true},
    {"+/u/+", "p", "u", NULL, true},
    {"q/#", "p", "u", NULL, false},
    /* a kpi frame: any unit and metric of the program */
    {"p/#", "p", NULL, NULL, true},
    {"p/+/+", "p", NULL, NULL, true},
    {"p/u/m", "p", NULL, NULL, true},
    {"+/u/m", "p", NULL, NULL, true},
    {"q/+/+", "p", NULL, NULL, false},
    {"p/u", "p", NULL, NULL, false},
};

/* Publishes the row's topic as a sample (both levels given), a unit frame
 * (metric any) or a kpi frame (unit and metric any). */
static void publish_row(struct live *l, const struct index_row *r)
{
    if (r->metric)
        publish1(l, r->program, r->unit, r->metric, T0, 1);
    else if (r->unit)
        live_publish_unit(l, r->program, r->unit, "{}");
    else
        live_publish_kpi(l, r->program, "{}");
}

TEST(live_index_matches_like_filter_match)
{
    struct live *l = new_live(0, 0);
    CHECK(l);
    /* Every row's filter on its own client, all subscribed at once: the
     * index holds them together, as with many screens. */
    size_t n = sizeof index_rows / sizeof index_rows[0];
    struct live_client *cs[sizeof index_rows / sizeof index_rows[0]];
    for (size_t i = 0; i < n; i++) {
        CHECK((cs[i] = new_client(l)) != NULL);
        char req[256];
        snprintf(req, sizeof req, "{\"op\":\"subscribe\",\"filters\":[\"%s\"]}",
                 index_rows[i].filter);
        CHECK_INT(send_text(l, cs[i], req), 0);
    }
    for (size_t i = 0; i < n; i++) {
        const struct index_row *r = &index_rows[i];
        if (live_filter_match(r->filter, r->program, r->unit, r->metric) != r->want)
            CHECK_FAIL_("row %zu: live_filter_match(%s) disagrees with the table", i, r->filter);
        publish_row(l, r);
        for (size_t j = 0; j < n; j++) {
            const struct index_row *o = &index_rows[j];
            bool want = live_filter_match(o->filter, r->program, r->unit, r->metric);
            json_t *f = next_frame(l, cs[j]);
            if ((f != NULL) != want)
                CHECK_FAIL_("topic of row %zu, filter %s: got %s, want %s", i, o->filter,
                            f ? "a frame" : "none", want ? "a frame" : "none");
            json_decref(f);
            CHECK(next_frame(l, cs[j]) == NULL);
        }
    }
    for (size_t i = 0; i < n; i++)
        free_client(l, cs[i]);
    live_free(l);
}

TEST(live_index_one_copy_per_client_and_churn)
{
    struct live *l = new_live(0, 0);
    struct live_client *a = l ? new_client(l) : NULL, *b = a ? new_client(l) : NULL;
    CHECK(b);
    /* three filters of a match one sample: it gets it once */
    CHECK_INT(send_text(l, a,
                        "{\"op\":\"subscribe\",\"filters\":[\"p/#\",\"p/+/+\",\"+/u/m\","
                        "\"p/u/m\",\"p/u/m/#\"]}"),
              0);
    /* b churns its filters: only its last subscribe counts */
    for (int i = 0; i < 1000; i++) {
        char req[128];
        snprintf(req, sizeof req, "{\"op\":\"subscribe\",\"filters\":[\"x%d/+/+\",\"+/y%d/#\"]}", i,
                 i);
        CHECK_INT(send_text(l, b, req), 0);
    }
    CHECK_INT(send_text(l, b, "{\"op\":\"subscribe\",\"filters\":[\"+/u/+\"]}"), 0);
    publish1(l, "p", "u", "m", T0, 7);
    publish1(l, "x5", "v", "m", T0, 8); /* an old filter of b: gone */
    double v[4];
    size_t frames;
    CHECK_INT(drain_values(l, a, v, 4, &frames), 1);
    CHECK_DBL(v[0], 7);
    CHECK_INT(drain_values(l, b, v, 4, &frames), 1);
    CHECK_DBL(v[0], 7);
    /* a closed client is out of the index */
    free_client(l, a);
    publish1(l, "p", "u", "m", T0 + 1, 9);
    CHECK_INT(drain_values(l, b, v, 4, &frames), 1);
    free_client(l, b);
    live_free(l);
}

TEST(live_too_many_filters_not_applied)
{
    struct live *l = new_live(0, 0);
    struct live_client *c = l ? new_client(l) : NULL;
    CHECK(c);
    CHECK_INT(send_text(l, c, "{\"op\":\"subscribe\",\"filters\":[\"keep/#\"]}"), 0);
    struct buf req;
    buf_init(&req, 0);
    buf_puts(&req, "{\"op\":\"subscribe\",\"filters\":[");
    for (int i = 0; i < 17; i++)
        buf_printf(&req, "%s\"new%d/#\"", i ? "," : "", i);
    buf_puts(&req, "]}");
    CHECK_INT(live__client_message(l, c, req.data, req.len), 0);
    json_t *f = next_frame(l, c);
    CHECK(f);
    CHECK_STR(frame_type(f), "error");
    CHECK_STR(json_string_value(json_object_get(f, "error")), "too_many_filters");
    json_decref(f);
    publish1(l, "new1", "u", "m", T0, 1);
    publish1(l, "keep", "u", "m", T0, 2);
    double v[4];
    size_t frames;
    CHECK_INT(drain_values(l, c, v, 4, &frames), 1);
    CHECK_DBL(v[0], 2);
    /* 16 are taken */
    char *sixteen = strstr(req.data, ",\"new16/#\"");
    CHECK(sixteen);
    strcpy(sixteen, "]}");
    CHECK_INT(live__client_message(l, c, req.data, strlen(req.data)), 0);
    publish1(l, "new1", "u", "m", T0, 3);
    CHECK_INT(drain_values(l, c, v, 4, &frames), 1);
    CHECK_DBL(v[0], 3);
    buf_free(&req);
    free_client(l, c);
    live_free(l);
}

TEST(live_queue_bounded_in_bytes)
{
    struct live *l = NULL;
    struct live_opts o = {.queue_max = 1000000, .queue_bytes = 64 * 1024, .max_clients = 10};
    CHECK(live_init(&l, NULL, &o) == 0);
    struct live_client *c = new_client(l);
    CHECK(c);
    for (int i = 0; i < 5000; i++) /* ~100 bytes each: ~500 KB, one at a time */
        publish1(l, "pjs", "truck-07", "pickups", T0 + i, i);
    size_t pending = live__client_pending(c);
    CHECK(pending > 100 && pending < 1000); /* 64 KiB of ~100-byte samples */
    json_t *f = next_frame(l, c);
    CHECK(f);
    CHECK_STR(frame_type(f), "dropped");
    CHECK_INT(json_integer_value(json_object_get(f, "count")), 5000 - pending);
    json_decref(f);
    free_client(l, c);
    live_free(l);
}

/* Many series: the snapshot comes in several frames of at most 256 KiB,
 * with every series; series added meanwhile grow the cache (its walk starts
 * over: a series may come twice, never not at all); a second snapshot
 * within snapshot_interval is refused but its filters apply; live samples
 * queued meanwhile follow it. */
TEST(live_snapshot_in_frames_and_limited)
{
    char path[512];
    snprintf(path, sizeof path, "%s/live-snapshot-big.db", harness_tmpdir());
    unlink(path);
    struct store *s;
    CHECK(store_open(&s, path) == 0);
    store_set_unit_limits(s, 10000, 10000); /* 6,000 series of one unit */
    char metric[32];
    for (int i = 0; i < 6000; i++) {
        snprintf(metric, sizeof metric, "m%d", i);
        struct sample in = smp("big", "unit-a", metric, T0 + i, i);
        CHECK(store_append(s, &in, T0, NULL) == 0);
    }
    CHECK(store_commit(s) == 0);
    struct live *l = NULL;
    struct live_opts o = {.queue_max = 10000, .max_clients = 10, .snapshot_interval_ms = 60000};
    CHECK(live_init(&l, s, &o) == 0);
    struct live_client *c = new_client(l);
    CHECK(c);
    CHECK_INT(send_text(l, c, "{\"op\":\"subscribe\",\"filters\":[\"big/#\"],\"snapshot\":true}"),
              0);
    publish1(l, "big", "unit-a", "m1", T0 + 100000, -1); /* after the snapshot was asked */
    CHECK_INT(send_text(l, c, "{\"op\":\"subscribe\",\"filters\":[\"big/+/+\"],\"snapshot\":true}"),
              0);
    struct buf f;
    buf_init(&f, LWS_PRE);
    size_t frames = 0, errors = 0;
    double last_m1 = 0;
    static char seen[9000];
    while (live__client_next_frame(l, c, &f)) {
        CHECK(f.len <= 256 * 1024);
        json_t *j = json_loadb(f.data, f.len, 0, NULL);
        CHECK(j);
        if (strcmp(frame_type(j), "error") == 0) {
            CHECK_STR(json_string_value(json_object_get(j, "error")), "too_many_snapshots");
            errors++;
        } else {
            frames++;
            for (size_t i = 0; i < n_samples(j); i++) {
                json_t *sm = json_array_get(json_object_get(j, "samples"), i);
                int m = atoi(json_string_value(json_object_get(sm, "metric")) + 1);
                CHECK(m >= 0 && m < 9000);
                seen[m] = 1;
                if (m == 1)
                    last_m1 = sample_value(j, i);
            }
        }
        json_decref(j);
        if (frames == 1) { /* new series mid-snapshot: the cache grows */
            for (int i = 6000; i < 9000; i++) {
                snprintf(metric, sizeof metric, "m%d", i);
                struct sample in = smp("big", "unit-a", metric, T0 + i, i);
                CHECK(store_append(s, &in, T0, NULL) == 0);
            }
            CHECK(store_commit(s) == 0);
        }
    }
    buf_free(&f);
    CHECK_INT(errors, 1);
    CHECK(frames >= 2);
    for (int m = 0; m < 6000; m++)
        if (!seen[m])
            CHECK_FAIL_("series m%d missing from the snapshot", m);
    CHECK_DBL(last_m1, -1); /* the live sample came after the snapshot */
    free_client(l, c);
    live_free(l);
    store_close(s);
}

/* A group fanned out to many clients runs past LIVE_SLICE_NS: the rest
 * goes on at the next loop turns, in order, before anything published
 * later (here a unit frame and a second group). */
TEST(live_fan_out_yields_and_keeps_order)
{
    uv_loop_t loop;
    CHECK(uv_loop_init(&loop) == 0);
    struct live *l = NULL;
    struct live_opts o = {.loop = &loop, .queue_max = 100000, .max_clients = 1000};
    CHECK(live_init(&l, NULL, &o) == 0);
    enum { CLIENTS = 400, GROUP = 3000 };
    static struct live_client *cs[CLIENTS];
    for (int i = 0; i < CLIENTS; i++)
        CHECK((cs[i] = new_client(l)) != NULL);
    static struct sample group[GROUP];
    for (int i = 0; i < GROUP; i++)
        group[i] = smp("pjs", "truck-07", "pickups", T0 + i, i);
    live_publish_samples(l, group, GROUP);
    live_publish_unit(l, "pjs", "truck-07", "{\"unit\":\"truck-07\"}");
    publish1(l, "pjs", "truck-07", "pickups", T0 + GROUP, GROUP);
    struct live_stats st;
    live_get_stats(l, &st);
    CHECK(st.fanout_yields > 0);
    CHECK(live__client_pending(cs[CLIENTS - 1]) < GROUP); /* not reached yet */
    for (int turn = 0; turn < 10000 && live__client_pending(cs[CLIENTS - 1]) < GROUP + 2; turn++)
        uv_run(&loop, UV_RUN_NOWAIT);
    for (int i = 0; i < CLIENTS; i += 37) {
        double expect = 0;
        bool unit_seen = false;
        json_t *f;
        while ((f = next_frame(l, cs[i])) != NULL) {
            if (strcmp(frame_type(f), "unit") == 0) {
                CHECK_DBL(expect, GROUP); /* after the whole group */
                unit_seen = true;
            } else {
                CHECK_STR(frame_type(f), "samples");
                for (size_t k = 0; k < n_samples(f); k++)
                    if (sample_value(f, k) != expect++)
                        CHECK_FAIL_("client %d: sample %g out of order", i, expect - 1);
            }
            json_decref(f);
        }
        CHECK(unit_seen);
        CHECK_DBL(expect, GROUP + 1);
    }
    for (int i = 0; i < CLIENTS; i++)
        free_client(l, cs[i]);
    live_stop(l);
    uv_run(&loop, UV_RUN_DEFAULT);
    live_free(l);
    CHECK_INT(uv_loop_close(&loop), 0);
}

TEST(live_no_clients_no_work)
{
    struct live *l = new_live(0, 0);
    CHECK(l);
    publish1(l, "pjs", "truck-07", "pickups", T0, 1);
    live_publish_unit(l, "pjs", "truck-07", "{}");
    live_publish_alert(l, "pjs", "truck-07", NULL, "{}");
    struct live_stats st;
    live_get_stats(l, &st);
    CHECK_INT(st.samples_dropped, 0);
    CHECK_INT(st.frames_sent, 0);
    live_free(l);
    live_free(NULL);
}

TEST_MAIN(CASE(live_filter_match_table), CASE(live_alert_and_unit_frames_follow_filters),
          CASE(live_kpi_frames_follow_program_filters), CASE(live_filter_valid_table),
          CASE(live_hello_first), CASE(live_sample_json_shape),
          CASE(live_everything_until_subscribe_then_filters), CASE(live_ping_pong),
          CASE(live_bad_requests_get_errors), CASE(live_max_clients),
          CASE(live_batches_in_arrival_order), CASE(live_frames_are_bounded),
          CASE(live_overflow_drops_oldest_and_says_so), CASE(live_one_burst_is_not_dropped),
          CASE(live_shared_sample_outlives_one_client), CASE(live_unit_and_alert_frames_keep_order),
          CASE(live_snapshot_from_store), CASE(live_index_matches_like_filter_match),
          CASE(live_index_one_copy_per_client_and_churn), CASE(live_too_many_filters_not_applied),
          CASE(live_queue_bounded_in_bytes), CASE(live_snapshot_in_frames_and_limited),
          CASE(live_fan_out_yields_and_keeps_order), CASE(live_no_clients_no_work))
