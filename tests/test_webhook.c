/* test_webhook.c — the webhook module on a real loop, against a small HTTP
 * receiver served by the same loop on 127.0.0.1, with the outbox in a real
 * SQLite file opened through the store (so the schema is the store's).
 *
 * The receiver reads one request per connection, records it and then does
 * what the case's decide() says: answer 200 (also with a body longer than the
 * module reads), 500 or 302, close without a word, never answer, or answer
 * with bytes that are not HTTP; it hangs up on a TLS handshake. A 10 ms
 * ticker runs beside it all and records the longest gap between its ticks,
 * so a stalled loop shows. Every wait is bounded in time. */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <signal.h>
#include <sqlite3.h>
#include <strings.h>
#include <unistd.h>
#include <uv.h>

#include "check.h"
#include "harness.h"
#include "store.h"
#include "util.h"
#include "webhook.h"

/* ---- the receiver ---- */

enum action { ANSWER_200, ANSWER_500, CLOSE, HANG, GARBAGE, REDIRECT, ANSWER_200_HUGE };

#define MAX_REQS 64

struct req {
    char content_type[64], auth[128], body[512];
    int64_t at_ms;
};

struct rx;
typedef enum action (*decide_fn)(struct rx *rx, const struct req *r);

struct conn {
    uv_tcp_t tcp;
    struct rx *rx;
    char buf[8192];
    size_t len;
    bool done; /* a request was read: nothing more is read */
    struct conn *next;
};

struct rx {
    uv_tcp_t server;
    int port;
    decide_fn decide;
    int state; /* for decide() */
    struct req reqs[MAX_REQS];
    int n_reqs;
    int first_byte; /* of the latest connection's first read; -1 none */
    struct conn *conns;
};

static void conn_closed(uv_handle_t *h)
{
    struct conn *c = h->data;
    struct conn **p = &c->rx->conns;
    while (*p != c)
        p = &(*p)->next;
    *p = c->next;
    free(c);
}

static void conn_close(struct conn *c)
{
    if (!uv_is_closing((uv_handle_t *)&c->tcp))
        uv_close((uv_handle_t *)&c->tcp, conn_closed);
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
    struct conn *c = h->data;
    *b = uv_buf_init(c->buf + c->len, (unsigned)(sizeof c->buf - 1 - c->len));
}

/* The value of header `name` (case-insensitive) in head, copied to out. */
static void header(const char *head, const char *name, char *out, size_t cap)
{
    size_t n = strlen(name);
    out[0] = '\0';
    for (const char *l = strstr(head, "\r\n"); l; l = strstr(l + 2, "\r\n")) {
        if (strncasecmp(l + 2, name, n) == 0 && l[2 + n] == ':') {
            const char *v = l + 3 + n, *end = strstr(v, "\r\n");
            while (*v == ' ')
                v++;
            snprintf(out, cap, "%.*s", (int)(end ? end - v : (long)strlen(v)), v);
            return;
        }
    }
}

static void respond(struct conn *c, const char *text)
{
    uv_buf_t b = uv_buf_init((char *)text, (unsigned)strlen(text));
    uv_try_write((uv_stream_t *)&c->tcp, &b, 1); /* a few bytes: the socket takes them */
    conn_close(c);
}

/* 200 with a 1 MiB body, more than the module reads. */
static void on_huge_written(uv_write_t *req, int status)
{
    conn_close(req->data);
    free(req);
}

static void respond_huge(struct conn *c)
{
    enum { BODY = 1 << 20 };
    static char text[BODY + 128];
    int head = snprintf(text, sizeof text, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n", BODY);
    memset(text + head, 'x', BODY);
    uv_write_t *req = malloc(sizeof *req);
    uv_buf_t b = uv_buf_init(text, (unsigned)(head + BODY));
    if (!req) {
        conn_close(c);
        return;
    }
    req->data = c;
    if (uv_write(req, (uv_stream_t *)&c->tcp, &b, 1, on_huge_written) != 0) {
        free(req);
        conn_close(c);
    }
}

static void act(struct conn *c, enum action a)
{
    switch (a) {
    case ANSWER_200:
        respond(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
        break;
    case ANSWER_500:
        respond(c, "HTTP/1.1 500 Oops\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        break;
    case GARBAGE:
        respond(c, "\x01\x02 this is not HTTP at all\r\n\r\n");
        break;
    case CLOSE:
        conn_close(c);
        break;
    case REDIRECT:
        respond(c, "HTTP/1.1 302 Found\r\nLocation: /elsewhere\r\nContent-Length: 0\r\n"
                   "Connection: close\r\n\r\n");
        break;
    case ANSWER_200_HUGE:
        respond_huge(c);
        break;
    case HANG:
        break;
    }
}

/* A whole request (head + Content-Length body) in c->buf: record and act. */
static void maybe_request(struct conn *c)
{
    c->buf[c->len] = '\0';
    char *end = strstr(c->buf, "\r\n\r\n"), len[16];
    if (!end)
        return;
    *end = '\0';
    header(c->buf, "Content-Length", len, sizeof len);
    size_t body_len = (size_t)atol(len);
    if ((size_t)(end + 4 - c->buf) + body_len > c->len) {
        *end = '\r';
        return;
    }
    struct rx *rx = c->rx;
    struct req r = {.at_ms = util_now_ms()};
    header(c->buf, "Content-Type", r.content_type, sizeof r.content_type);
    header(c->buf, "Authorization", r.auth, sizeof r.auth);
    snprintf(r.body, sizeof r.body, "%.*s", (int)body_len, end + 4);
    if (rx->n_reqs < MAX_REQS)
        rx->reqs[rx->n_reqs++] = r;
    c->done = true;
    act(c, rx->decide ? rx->decide(rx, &r) : ANSWER_200);
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    struct conn *c = s->data;
    if (n < 0) {
        conn_close(c);
        return;
    }
    if (c->len == 0 && n > 0) {
        c->rx->first_byte = (unsigned char)c->buf[0];
        if (c->buf[0] == 0x16) { /* a TLS handshake: this receiver speaks plain HTTP */
            conn_close(c);
            return;
        }
    }
    c->len += (size_t)n;
    if (!c->done && !uv_is_closing((uv_handle_t *)s))
        maybe_request(c);
}

static void on_connection(uv_stream_t *server, int status)
{
    struct rx *rx = server->data;
    struct conn *c = calloc(1, sizeof *c);
    if (status < 0 || !c) {
        free(c);
        return;
    }
    c->rx = rx;
    uv_tcp_init(server->loop, &c->tcp);
    c->tcp.data = c;
    c->next = rx->conns;
    rx->conns = c;
    if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0 ||
        uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) != 0)
        conn_close(c);
}

static int rx_open(struct rx *rx, uv_loop_t *loop, decide_fn decide)
{
    struct sockaddr_in sa;
    int len = sizeof sa;
    memset(rx, 0, sizeof *rx);
    rx->decide = decide;
    rx->first_byte = -1;
    uv_ip4_addr("127.0.0.1", 0, &sa);
    uv_tcp_init(loop, &rx->server);
    rx->server.data = rx;
    if (uv_tcp_bind(&rx->server, (struct sockaddr *)&sa, 0) != 0 ||
        uv_listen((uv_stream_t *)&rx->server, 16, on_connection) != 0 ||
        uv_tcp_getsockname(&rx->server, (struct sockaddr *)&sa, &len) != 0)
        return -1;
    rx->port = ntohs(sa.sin_port);
    return 0;
}

static void rx_close(struct rx *rx)
{
    uv_close((uv_handle_t *)&rx->server, NULL);
    for (struct conn *c = rx->conns; c; c = c->next)
        conn_close(c);
}

/* ---- the loop, the store, the module ---- */

struct env {
    uv_loop_t loop;
    uv_timer_t ticker;
    uint64_t last_tick_ns, max_gap_ns;
    char db[512];
    struct store *store;
    struct webhook *hook;
    struct rx rx;
};

static void on_tick(uv_timer_t *t)
{
    struct env *e = t->data;
    uint64_t now = util_mono_ns();
    if (e->last_tick_ns && now - e->last_tick_ns > e->max_gap_ns)
        e->max_gap_ns = now - e->last_tick_ns;
    e->last_tick_ns = now;
}

/* Options every case shares; a case changes what it tests. */
static struct webhook_opts opts(struct env *e, char url[64])
{
    snprintf(url, 64, "http://127.0.0.1:%d/hook", e->rx.port);
    struct webhook_opts o = {.loop = &e->loop,
                             .db = store_db(e->store),
                             .url = url,
                             .first_retry_ms = 100,
                             .timeout_ms = 2000};
    return o;
}

/* Loop, store (on db_name, kept if it exists) and receiver; no webhook yet. */
static int env_open(struct env *e, const char *db_name, bool fresh, decide_fn decide)
{
    memset(e, 0, sizeof *e);
    signal(SIGPIPE, SIG_IGN); /* as in pantaud: a peer that hung up is an error, not a signal */
    snprintf(e->db, sizeof e->db, "%s/%s.db", harness_tmpdir(), db_name);
    if (fresh)
        unlink(e->db);
    if (uv_loop_init(&e->loop) != 0)
        return -1;
    uv_timer_init(&e->loop, &e->ticker);
    e->ticker.data = e;
    uv_timer_start(&e->ticker, on_tick, 10, 10);
    return store_open(&e->store, e->db) == 0 && rx_open(&e->rx, &e->loop, decide) == 0 ? 0 : -1;
}

static int env_start(struct env *e, struct webhook_opts *o)
{
    return webhook_start(&e->hook, o);
}

/* Stops everything and runs the loop until every handle is closed. Returns
 * uv_loop_close's answer (0 when nothing leaked a handle). */
static int env_close(struct env *e)
{
    webhook_stop(e->hook);
    rx_close(&e->rx);
    uv_close((uv_handle_t *)&e->ticker, NULL);
    for (int i = 0; i < 1000 && uv_run(&e->loop, UV_RUN_NOWAIT); i++)
        usleep(1000);
    webhook_free(e->hook);
    store_close(e->store);
    return uv_loop_close(&e->loop);
}

static struct webhook_stats stats(struct env *e)
{
    struct webhook_stats s;
    webhook_get_stats(e->hook, &s);
    return s;
}

/* Runs the loop until done(e) or timeout_ms; the ticker bounds each turn. */
static bool run_until(struct env *e, bool (*done)(struct env *), int timeout_ms)
{
    uint64_t end = util_mono_ns() + (uint64_t)timeout_ms * 1000000;
    while (!done(e) && util_mono_ns() < end)
        uv_run(&e->loop, UV_RUN_ONCE);
    return done(e);
}

static bool never(struct env *e)
{
    return false;
}

static void run_for(struct env *e, int ms)
{
    run_until(e, never, ms);
}

static int want_delivered;
static bool delivered_enough(struct env *e)
{
    return stats(e).delivered >= (uint64_t)want_delivered;
}

static int want_failures;
static bool failed_enough(struct env *e)
{
    return stats(e).failures >= (uint64_t)want_failures;
}

static int want_reqs;
static bool received_enough(struct env *e)
{
    return e->rx.n_reqs >= want_reqs;
}

static int enqueue(struct env *e, int64_t alert, const char *body)
{
    return webhook_enqueue(e->hook, alert, WEBHOOK_NOTIFY, body, util_now_ms());
}

static int64_t sql_int(struct env *e, const char *q)
{
    return harness_sql_int(e->db, q);
}

/* ---- cases ---- */

TEST(webhook_delivers_in_order_with_headers)
{
    struct env e;
    char url[64];
    CHECK(env_open(&e, "order", true, NULL) == 0);
    struct webhook_opts o = opts(&e, url);
    o.token = "s3cret-token";
    CHECK(env_start(&e, &o) == 0);
    const char *bodies[] = {"{\"event\":\"firing\",\"n\":1}", "{\"event\":\"acked\",\"n\":2}",
                            "{\"event\":\"resolved\",\"n\":3}"};
    for (int i = 0; i < 3; i++)
        CHECK(enqueue(&e, 7, bodies[i]) == 0);
    CHECK_INT(stats(&e).pending, 3);
    run_for(&e, 50);
    CHECK_INT(e.rx.n_reqs, 0); /* nothing goes out before the kick */
    webhook_kick(e.hook);
    want_delivered = 3;
    CHECK(run_until(&e, delivered_enough, 5000));
    CHECK_INT(e.rx.n_reqs, 3);
    for (int i = 0; i < 3; i++) {
        CHECK_STR(e.rx.reqs[i].body, bodies[i]);
        CHECK_STR(e.rx.reqs[i].content_type, "application/json");
        CHECK_STR(e.rx.reqs[i].auth, "Bearer s3cret-token");
    }
    struct webhook_stats s = stats(&e);
    CHECK_INT(s.pending, 0);
    CHECK_INT(s.failures, 0);
    CHECK_INT(s.dropped, 0);
    CHECK_INT(env_close(&e), 0);
    CHECK_INT(harness_sql_int(e.db, "SELECT count(*) FROM webhook_outbox"), 0);
}

TEST(webhook_without_token_sends_no_authorization)
{
    struct env e;
    char url[64];
    CHECK(env_open(&e, "notoken", true, NULL) == 0);
    struct webhook_opts o = opts(&e, url);
    CHECK(env_start(&e, &o) == 0);
    CHECK(enqueue(&e, 1, "{}") == 0);
    webhook_kick(e.hook);
    want_delivered = 1;
    CHECK(run_until(&e, delivered_enough, 5000));
    CHECK_STR(e.rx.reqs[0].auth, "");
    CHECK_STR(e.rx.reqs[0].body, "{}");
    CHECK_INT(env_close(&e), 0);
}

static enum action hang(struct rx *rx, const struct req *r);

/* 500, then a connection closed without an answer, then 200. */
static enum action fail_twice(struct rx *rx, const struct req *r)
{
    int n = rx->state++;
    return n == 0 ? ANSWER_500 : n == 1 ? CLOSE : ANSWER_200;
}

TEST(webhook_retries_with_backoff_then_delivers_once)
{
    struct env e;
    char url[64];
    CHECK(env_open(&e, "retry", true, fail_twice) == 0);
    struct webhook_opts o = opts(&e, url);
    CHECK(env_start(&e, &o) == 0);
    CHECK(enqueue(&e, 3, "{\"event\":\"firing\"}") == 0);
    webhook_kick(e.hook);
    want_failures = 1;
    CHECK(run_until(&e, failed_enough, 5000));
    CHECK_INT(sql_int(&e, "SELECT attempts FROM webhook_outbox"), 1);
    CHECK_INT(sql_int(&e, "SELECT last_error = 'HTTP status 500' FROM webhook_outbox"), 1);
    want_delivered = 1;
    CHECK(run_until(&e, delivered_enough, 5000));
    run_for(&e, 400); /* nothing more may come */
    CHECK_INT(e.rx.n_reqs, 3);
    struct webhook_stats s = stats(&e);
    CHECK_INT(s.delivered, 1);
    CHECK_INT(s.failures, 2);
    CHECK_INT(s.pending, 0);
    /* Gaps: 100 ms after the first failure, 200 after the second; the module
     * may send up to a quarter of first_retry_ms early (its batching slack),
     * and a loaded machine (ASan, 2 shared cores) late. */
    int64_t gap1 = e.rx.reqs[1].at_ms - e.rx.reqs[0].at_ms;
    int64_t gap2 = e.rx.reqs[2].at_ms - e.rx.reqs[1].at_ms;
    fprintf(stderr, "  # retry gaps %lld ms, %lld ms\n", (long long)gap1, (long long)gap2);
    CHECK(gap1 >= 75 && gap1 < 600);
    CHECK(gap2 >= 175 && gap2 < 700);
    CHECK_INT(env_close(&e), 0);
    CHECK_INT(harness_sql_int(e.db, "SELECT count(*) FROM webhook_outbox"), 0);
}

/* Alert 1's first row fails twice; everything else is accepted. */
static enum action fail_a1(struct rx *rx, const struct req *r)
{
    if (strcmp(r->body, "a1") == 0 && rx->state < 2) {
        rx->state++;
        return ANSWER_500;
    }
    return ANSWER_200;
}

static int req_index(const struct rx *rx, const char *body, int from)
{
    for (int i = from; i < rx->n_reqs; i++)
        if (strcmp(rx->reqs[i].body, body) == 0)
            return i;
    return -1;
}

TEST(webhook_keeps_order_per_alert_while_others_go)
{
    struct env e;
    char url[64];
    CHECK(env_open(&e, "peralert", true, fail_a1) == 0);
    struct webhook_opts o = opts(&e, url);
    CHECK(env_start(&e, &o) == 0);
    CHECK(enqueue(&e, 1, "a1") == 0);
    CHECK(enqueue(&e, 2, "b1") == 0);
    CHECK(enqueue(&e, 1, "a2") == 0);
    CHECK(enqueue(&e, 2, "b2") == 0);
    CHECK(enqueue(&e, 1, "a3") == 0);
    CHECK(enqueue(&e, 2, "b3") == 0);
    webhook_kick(e.hook);
    want_delivered = 6;
    CHECK(run_until(&e, delivered_enough, 5000));
    CHECK_INT(e.rx.n_reqs, 8);
    CHECK_INT(stats(&e).failures, 2);
    /* a1 three times (500, 500, 200), then a2, then a3; nothing of alert 1
     * between its attempts. */
    int a1_ok = req_index(&e.rx, "a1", req_index(&e.rx, "a1", req_index(&e.rx, "a1", 0) + 1) + 1);
    int a2 = req_index(&e.rx, "a2", 0), a3 = req_index(&e.rx, "a3", 0);
    CHECK(a1_ok >= 0 && a2 > a1_ok && a3 > a2);
    /* Alert 2 did not wait for alert 1's retries. */
    int b3 = req_index(&e.rx, "b3", 0);
    CHECK(b3 >= 0 && b3 < a1_ok);
    CHECK(req_index(&e.rx, "b2", 0) < b3 && req_index(&e.rx, "b1", 0) < req_index(&e.rx, "b2", 0));
    CHECK_INT(env_close(&e), 0);
}

/* Alert 1's endpoint never answers, alert 2's answers garbage, alert 3's is fine. */
static enum action stall_or_garbage(struct rx *rx, const struct req *r)
{
    return r->body[0] == '1' ? HANG : r->body[0] == '2' ? GARBAGE : ANSWER_200;
}

TEST(webhook_dead_or_garbage_endpoint_does_not_stall_the_loop)
{
    struct env e;
    char url[64];
    CHECK(env_open(&e, "stall", true, stall_or_garbage) == 0);
    struct webhook_opts o = opts(&e, url);
    o.timeout_ms = 300;
    CHECK(env_start(&e, &o) == 0);
    CHECK(enqueue(&e, 1, "1-hangs") == 0);
    CHECK(enqueue(&e, 2, "2-garbage") == 0);
    CHECK(enqueue(&e, 3, "3-fine") == 0);
    webhook_kick(e.hook);
    e.max_gap_ns = 0;
    run_for(&e, 1200);
    struct webhook_stats s = stats(&e);
    CHECK_INT(s.delivered, 1);
    CHECK(s.failures >= 3); /* the hang timed out, the garbage failed at least twice */
    CHECK_INT(s.pending, 2);
    fprintf(stderr, "  # longest gap between 10 ms ticks: %.1f ms\n", e.max_gap_ns / 1e6);
    /* A blocking wait on the dead endpoint would stall >= timeout_ms (300). */
    CHECK(e.max_gap_ns < 250 * 1000000ULL);
    CHECK(sql_int(&e, "SELECT attempts FROM webhook_outbox WHERE alert = 1") >= 1);
    CHECK(sql_int(&e, "SELECT attempts FROM webhook_outbox WHERE alert = 2") >= 2);
    CHECK_INT(sql_int(&e, "SELECT count(*) FROM webhook_outbox WHERE alert = 1 AND "
                          "last_error LIKE '%timed out%'"),
              1);
    CHECK_INT(env_close(&e), 0);
}

static int statements;
static int count_statement(unsigned type, void *ctx, void *p, void *x)
{
    statements++;
    return 0;
}

static int open_conns(const struct rx *rx)
{
    int n = 0;
    for (const struct conn *c = rx->conns; c; c = c->next)
        n += !uv_is_closing((const uv_handle_t *)&c->tcp);
    return n;
}

TEST(webhook_at_most_four_in_flight_the_rest_follow)
{
    struct env e;
    char url[64], body[32];
    CHECK(env_open(&e, "cap", true, hang) == 0);
    struct webhook_opts o = opts(&e, url);
    o.timeout_ms = 300;
    o.first_retry_ms = 5000; /* no retry within the case */
    CHECK(env_start(&e, &o) == 0);
    for (int i = 1; i <= 6; i++) {
        snprintf(body, sizeof body, "alert-%d", i);
        CHECK(enqueue(&e, i, body) == 0);
    }
    webhook_kick(e.hook);
    run_for(&e, 200);
    CHECK_INT(e.rx.n_reqs, WEBHOOK_MAX_INFLIGHT);
    CHECK_INT(open_conns(&e.rx), WEBHOOK_MAX_INFLIGHT);
    /* The four time out; the two left start in the slots they free. */
    want_reqs = 6;
    CHECK(run_until(&e, received_enough, 3000));
    CHECK(req_index(&e.rx, "alert-5", 0) >= 0 && req_index(&e.rx, "alert-6", 0) >= 0);
    want_failures = 6;
    CHECK(run_until(&e, failed_enough, 3000));
    /* Every row waits 5 s now: the module is idle, not polling SQLite. */
    statements = 0;
    sqlite3_trace_v2(store_db(e.store), SQLITE_TRACE_STMT, count_statement, NULL);
    run_for(&e, 500);
    sqlite3_trace_v2(store_db(e.store), 0, NULL, NULL);
    CHECK_INT(statements, 0);
    CHECK_INT(e.rx.n_reqs, 6);
    CHECK_INT(stats(&e).pending, 6);
    CHECK_INT(env_close(&e), 0);
}

TEST(webhook_https_speaks_tls)
{
    struct env e;
    char url[64];
    curl_version_info_data *v = curl_version_info(CURLVERSION_NOW);
    CHECK(v->features & CURL_VERSION_SSL);
    CHECK(env_open(&e, "tls", true, NULL) == 0);
    struct webhook_opts o = opts(&e, url);
    snprintf(url, 64, "https://127.0.0.1:%d/hook", e.rx.port);
    o.first_retry_ms = 5000;
    CHECK(env_start(&e, &o) == 0);
    CHECK(enqueue(&e, 1, "{}") == 0);
    webhook_kick(e.hook);
    e.max_gap_ns = 0;
    want_failures = 1; /* the receiver hangs up on the handshake */
    CHECK(run_until(&e, failed_enough, 5000));
    run_for(&e, 30);
    fprintf(stderr, "  # longest gap between 10 ms ticks around a TLS connect: %.1f ms\n",
            e.max_gap_ns / 1e6);
    CHECK_INT(e.rx.first_byte, 0x16); /* a TLS handshake record: a ClientHello */
    /* The second connection finds curl's CA store cached. */
    e.rx.first_byte = -1;
    CHECK(enqueue(&e, 2, "{}") == 0);
    webhook_kick(e.hook);
    e.max_gap_ns = 0;
    want_failures = 2;
    CHECK(run_until(&e, failed_enough, 5000));
    run_for(&e, 30); /* a tick after the attempt measures any stall in it */
    fprintf(stderr, "  # ... and around the second: %.1f ms\n", e.max_gap_ns / 1e6);
    CHECK_INT(e.rx.first_byte, 0x16);
    /* Parsing the bundle again costs 30-180 ms here, 200-450 ms under ASan. */
    CHECK(e.max_gap_ns < 150 * 1000000ULL);
    CHECK_INT(e.rx.n_reqs, 0);
    CHECK_INT(env_close(&e), 0);
}

/* Alert 1 is redirected, alert 2 accepted with a body too long to read. */
static enum action redirect_or_huge(struct rx *rx, const struct req *r)
{
    return strcmp(r->body, "moved") == 0 ? REDIRECT : ANSWER_200_HUGE;
}

TEST(webhook_redirect_fails_long_answer_is_cut)
{
    struct env e;
    char url[64];
    CHECK(env_open(&e, "answers", true, redirect_or_huge) == 0);
    struct webhook_opts o = opts(&e, url);
    o.first_retry_ms = 5000;
    CHECK(env_start(&e, &o) == 0);
    CHECK(enqueue(&e, 1, "moved") == 0);
    CHECK(enqueue(&e, 2, "long") == 0);
    webhook_kick(e.hook);
    want_delivered = 1;
    CHECK(run_until(&e, delivered_enough, 5000));
    want_failures = 1;
    CHECK(run_until(&e, failed_enough, 5000));
    run_for(&e, 100);
    CHECK_INT(e.rx.n_reqs, 2); /* nobody went to /elsewhere */
    CHECK_INT(sql_int(&e, "SELECT count(*) FROM webhook_outbox WHERE alert = 1 AND "
                          "last_error = 'HTTP status 302'"),
              1);
    CHECK_INT(stats(&e).pending, 1);
    CHECK_INT(env_close(&e), 0);
}

TEST(webhook_bound_drops_oldest)
{
    struct env e;
    char url[64], body[32];
    CHECK(env_open(&e, "bound", true, NULL) == 0);
    struct webhook_opts o = opts(&e, url);
    o.max_pending = 5;
    CHECK(env_start(&e, &o) == 0);
    /* Inside the caller's transaction, as the alert engine does it. */
    CHECK(sqlite3_exec(store_db(e.store), "BEGIN", NULL, NULL, NULL) == SQLITE_OK);
    for (int i = 1; i <= 8; i++) {
        snprintf(body, sizeof body, "n%d", i);
        CHECK(enqueue(&e, 100 + i % 2, body) == 0);
    }
    CHECK(sqlite3_exec(store_db(e.store), "COMMIT", NULL, NULL, NULL) == SQLITE_OK);
    struct webhook_stats s = stats(&e);
    CHECK_INT(s.dropped, 3);
    CHECK_INT(s.pending, 5);
    CHECK_INT(sql_int(&e, "SELECT count(*) FROM webhook_outbox"), 5);
    webhook_kick(e.hook);
    want_delivered = 5;
    CHECK(run_until(&e, delivered_enough, 5000));
    CHECK_INT(e.rx.n_reqs, 5);
    for (int i = 1; i <= 3; i++) {
        snprintf(body, sizeof body, "n%d", i);
        CHECK_INT(req_index(&e.rx, body, 0), -1);
    }
    CHECK(req_index(&e.rx, "n4", 0) < req_index(&e.rx, "n6", 0));
    CHECK(req_index(&e.rx, "n5", 0) < req_index(&e.rx, "n7", 0));
    CHECK_INT(env_close(&e), 0);
}

TEST(webhook_rolled_back_enqueue_leaves_nothing)
{
    struct env e;
    char url[64];
    CHECK(env_open(&e, "rollback", true, NULL) == 0);
    struct webhook_opts o = opts(&e, url);
    CHECK(env_start(&e, &o) == 0);
    CHECK(sqlite3_exec(store_db(e.store), "BEGIN", NULL, NULL, NULL) == SQLITE_OK);
    CHECK(enqueue(&e, 1, "gone") == 0);
    CHECK(sqlite3_exec(store_db(e.store), "ROLLBACK", NULL, NULL, NULL) == SQLITE_OK);
    webhook_kick(e.hook);
    CHECK_INT(stats(&e).pending, 0);
    run_for(&e, 100);
    CHECK_INT(e.rx.n_reqs, 0);
    CHECK_INT(env_close(&e), 0);
}

static enum action always_500(struct rx *rx, const struct req *r)
{
    return ANSWER_500;
}

TEST(webhook_gives_up_old_rows)
{
    struct env e;
    char url[64];
    CHECK(env_open(&e, "giveup", true, always_500) == 0);
    struct webhook_opts o = opts(&e, url);
    o.give_up_ms = 600;
    CHECK(env_start(&e, &o) == 0);
    /* One too old already (a pantaud that was down): dropped unsent. */
    CHECK(webhook_enqueue(e.hook, 1, WEBHOOK_NOTIFY, "stale", util_now_ms() - 5000) == 0);
    CHECK(enqueue(&e, 1, "after-stale") == 0);
    CHECK(enqueue(&e, 2, "refused") == 0);
    webhook_kick(e.hook);
    run_for(&e, 1500);
    struct webhook_stats s = stats(&e);
    CHECK_INT(s.dropped, 3);
    CHECK_INT(s.pending, 0);
    CHECK_INT(s.delivered, 0);
    CHECK(s.failures >= 6); /* 100, 200 and 400 ms apart: 3 or 4 attempts each */
    CHECK_INT(req_index(&e.rx, "stale", 0), -1);
    CHECK(req_index(&e.rx, "after-stale", 0) >= 0);
    CHECK_INT(sql_int(&e, "SELECT count(*) FROM webhook_outbox"), 0);
    CHECK_INT(env_close(&e), 0);
}

static enum action hang(struct rx *rx, const struct req *r)
{
    return HANG;
}

TEST(webhook_restart_sends_what_was_left)
{
    struct env e;
    char url[64];
    CHECK(env_open(&e, "restart", true, hang) == 0);
    struct webhook_opts o = opts(&e, url);
    CHECK(env_start(&e, &o) == 0);
    CHECK(enqueue(&e, 5, "r1") == 0);
    CHECK(enqueue(&e, 5, "r2") == 0);
    CHECK(enqueue(&e, 6, "r3") == 0);
    webhook_kick(e.hook);
    want_reqs = 2; /* r1 and r3 in flight, both hanging */
    CHECK(run_until(&e, received_enough, 5000));
    CHECK_INT(env_close(&e), 0); /* cancels them */
    CHECK_INT(harness_sql_int(e.db, "SELECT count(*) FROM webhook_outbox WHERE attempts = 0"), 3);

    CHECK(env_open(&e, "restart", false, NULL) == 0);
    o = opts(&e, url);
    CHECK(env_start(&e, &o) == 0);
    CHECK_INT(stats(&e).pending, 3);
    want_delivered = 3; /* no kick: start sends what it finds */
    CHECK(run_until(&e, delivered_enough, 5000));
    CHECK(req_index(&e.rx, "r1", 0) < req_index(&e.rx, "r2", 0));
    CHECK(req_index(&e.rx, "r3", 0) >= 0);
    CHECK_INT(env_close(&e), 0);
    CHECK_INT(harness_sql_int(e.db, "SELECT count(*) FROM webhook_outbox"), 0);
}

/* Another connection takes the write lock as the endpoint accepts: the
 * module's DELETE of the delivered row fails (BUSY). */
static sqlite3 *locker;
static enum action lock_then_accept(struct rx *rx, const struct req *r)
{
    if (rx->state++ == 0 && sqlite3_exec(locker, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
        fprintf(stderr, "  cannot take the write lock: %s\n", sqlite3_errmsg(locker));
    return ANSWER_200;
}

static bool outbox_empty(struct env *e)
{
    return stats(e).pending == 0;
}

TEST(webhook_busy_database_is_retried_not_resent)
{
    struct env e;
    char url[64];
    CHECK(env_open(&e, "busy", true, lock_then_accept) == 0);
    CHECK(sqlite3_open(e.db, &locker) == SQLITE_OK);
    sqlite3_busy_timeout(store_db(e.store), 20); /* the store's 1 s would hold the test up */
    struct webhook_opts o = opts(&e, url);
    CHECK(env_start(&e, &o) == 0);
    CHECK(enqueue(&e, 1, "once") == 0);
    CHECK(enqueue(&e, 1, "then") == 0);
    webhook_kick(e.hook);
    want_delivered = 1;
    CHECK(run_until(&e, delivered_enough, 5000));
    run_for(&e, 300); /* the DELETE failed; "once" must not go out again meanwhile */
    CHECK_INT(e.rx.n_reqs, 1);
    CHECK_INT(stats(&e).pending, 2);
    CHECK(sqlite3_exec(locker, "COMMIT", NULL, NULL, NULL) == SQLITE_OK);
    CHECK(run_until(&e, outbox_empty, 5000)); /* after the hold: deleted, then "then" sent */
    CHECK_INT(e.rx.n_reqs, 2);
    CHECK_STR(e.rx.reqs[1].body, "then");
    CHECK_INT(stats(&e).delivered, 2);
    sqlite3_close(locker);
    locker = NULL;
    CHECK_INT(env_close(&e), 0);
}

static struct rx esc; /* the escalation endpoint of the next case */
static bool esc_failed_twice(struct env *e)
{
    return esc.n_reqs >= 2 && e->rx.n_reqs >= 2;
}

/* CONTRACT §8: an escalation goes to [alerts] escalate_webhook with its own
 * token; a dead escalation endpoint holds back nothing of the webhook's for
 * the same alert; after a restart without it, the escalation left in the
 * outbox goes to the webhook. */
TEST(webhook_escalations_go_to_their_own_url)
{
    struct env e;
    char url[64], esc_url[64];
    CHECK(env_open(&e, "escalate", true, NULL) == 0);
    CHECK(rx_open(&esc, &e.loop, always_500) == 0);
    snprintf(esc_url, sizeof esc_url, "http://127.0.0.1:%d/escalate", esc.port);
    struct webhook_opts o = opts(&e, url);
    o.token = "notify-token";
    o.escalate_url = esc_url;
    o.escalate_token = "escalate-token";
    CHECK(env_start(&e, &o) == 0);
    CHECK_INT(webhook_dest_for(e.hook, true), WEBHOOK_ESCALATE);
    CHECK_INT(webhook_dest_for(e.hook, false), WEBHOOK_NOTIFY);
    CHECK(webhook_enqueue(e.hook, 9, WEBHOOK_NOTIFY, "firing", util_now_ms()) == 0);
    CHECK(webhook_enqueue(e.hook, 9, WEBHOOK_ESCALATE, "escalated", util_now_ms()) == 0);
    CHECK(webhook_enqueue(e.hook, 9, WEBHOOK_NOTIFY, "resolved", util_now_ms()) == 0);
    CHECK(webhook_enqueue(e.hook, 9, 7, "nowhere", util_now_ms()) != 0);
    webhook_kick(e.hook);
    CHECK(run_until(&e, esc_failed_twice, 5000));
    CHECK_INT(e.rx.n_reqs, 2);
    CHECK_STR(e.rx.reqs[0].body, "firing");
    CHECK_STR(e.rx.reqs[1].body, "resolved");
    CHECK_STR(e.rx.reqs[0].auth, "Bearer notify-token");
    for (int i = 0; i < esc.n_reqs; i++) {
        CHECK_STR(esc.reqs[i].body, "escalated");
        CHECK_STR(esc.reqs[i].auth, "Bearer escalate-token");
    }
    rx_close(&esc);
    CHECK_INT(env_close(&e), 0);
    CHECK_INT(harness_sql_int(e.db, "SELECT count(*) FROM webhook_outbox WHERE dest = 1"), 1);

    CHECK(env_open(&e, "escalate", false, NULL) == 0);
    o = opts(&e, url);
    CHECK(env_start(&e, &o) == 0);
    CHECK_INT(webhook_dest_for(e.hook, true), WEBHOOK_NOTIFY);
    want_delivered = 1;
    CHECK(run_until(&e, delivered_enough, 5000));
    CHECK_STR(e.rx.reqs[0].body, "escalated");
    CHECK_STR(e.rx.reqs[0].auth, "");
    CHECK_INT(env_close(&e), 0);

    /* Only an escalation URL: other transitions have no destination, and
     * rows for the webhook wait in the outbox untouched. */
    CHECK(env_open(&e, "escalate-only", true, NULL) == 0);
    CHECK(rx_open(&esc, &e.loop, NULL) == 0);
    snprintf(esc_url, sizeof esc_url, "http://127.0.0.1:%d/escalate", esc.port);
    o = (struct webhook_opts){.loop = &e.loop, .db = store_db(e.store), .escalate_url = esc_url};
    CHECK(env_start(&e, &o) == 0);
    CHECK_INT(webhook_dest_for(e.hook, false), -1);
    CHECK(webhook_enqueue(e.hook, 3, WEBHOOK_NOTIFY, "left", util_now_ms()) == 0);
    CHECK(webhook_enqueue(e.hook, 3, WEBHOOK_ESCALATE, "up", util_now_ms()) == 0);
    webhook_kick(e.hook);
    want_delivered = 1;
    CHECK(run_until(&e, delivered_enough, 5000));
    run_for(&e, 200);
    CHECK_INT(esc.n_reqs, 1);
    CHECK_STR(esc.reqs[0].body, "up");
    CHECK_INT(e.rx.n_reqs, 0);
    CHECK_INT(stats(&e).pending, 1);
    rx_close(&esc);
    CHECK_INT(env_close(&e), 0);
}

TEST(webhook_refuses_other_schemes_and_bad_tokens)
{
    struct env e;
    struct webhook *w = NULL;
    CHECK(env_open(&e, "scheme", true, NULL) == 0);
    struct webhook_opts o = {.loop = &e.loop, .db = store_db(e.store), .url = "ftp://x/"};
    CHECK(webhook_start(&w, &o) != 0);
    CHECK(w == NULL);
    o.url = "http://127.0.0.1:9/";
    o.token = "abc\r\nX-Injected: 1";
    CHECK(webhook_start(&w, &o) != 0);
    CHECK(w == NULL);
    o.token = NULL;
    o.escalate_url = "file:///etc/passwd";
    CHECK(webhook_start(&w, &o) != 0);
    o.escalate_url = "http://127.0.0.1:9/e";
    o.escalate_token = "x\ny";
    CHECK(webhook_start(&w, &o) != 0);
    o = (struct webhook_opts){.loop = &e.loop, .db = store_db(e.store)}; /* no URL at all */
    CHECK(webhook_start(&w, &o) != 0);
    CHECK(w == NULL);
    CHECK_INT(env_close(&e), 0); /* webhook_stop/free of NULL are no-ops */
}

TEST_MAIN(CASE(webhook_delivers_in_order_with_headers),
          CASE(webhook_without_token_sends_no_authorization),
          CASE(webhook_retries_with_backoff_then_delivers_once),
          CASE(webhook_keeps_order_per_alert_while_others_go),
          CASE(webhook_dead_or_garbage_endpoint_does_not_stall_the_loop),
          CASE(webhook_at_most_four_in_flight_the_rest_follow), CASE(webhook_https_speaks_tls),
          CASE(webhook_redirect_fails_long_answer_is_cut), CASE(webhook_bound_drops_oldest),
          CASE(webhook_rolled_back_enqueue_leaves_nothing), CASE(webhook_gives_up_old_rows),
          CASE(webhook_restart_sends_what_was_left),
          CASE(webhook_busy_database_is_retried_not_resent),
          CASE(webhook_escalations_go_to_their_own_url),
          CASE(webhook_refuses_other_schemes_and_bad_tokens))
