/* test_publisher.c — the blocking publisher against a real mosquitto: every
 * message arrives, a broker restart mid-stream loses nothing and the ack count
 * stays exact, and pantau-sim runs to its summary line. */
#include <MQTTAsync.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "harness.h"
#include "publisher.h"
#include "util.h"

#define WAIT_MS 30000

/* ---- a Paho subscriber that records which numbered messages arrived ---- */

struct sub {
    MQTTAsync client;
    pthread_mutex_t mu;
    unsigned char *seen; /* seen[i]: payload "i" arrived */
    int n;
    int distinct;
    long total;
    char **texts; /* "topic payload" of every message, when keep_texts */
    long ntexts, cap;
    bool keep_texts;
    int subscribed; /* 0 pending, 1 granted, -1 refused */
};

static int payload_index(const MQTTAsync_message *m, int n)
{
    char buf[24];
    if (m->payloadlen <= 0 || m->payloadlen >= (int)sizeof buf)
        return -1;
    memcpy(buf, m->payload, (size_t)m->payloadlen);
    buf[m->payloadlen] = '\0';
    int64_t v;
    return util_parse_int(buf, 0, n - 1, &v) == 0 ? (int)v : -1;
}

static void keep_text(struct sub *s, const char *topic, const MQTTAsync_message *m)
{
    if (s->ntexts == s->cap) {
        long cap = s->cap ? s->cap * 2 : 1024;
        char **t = realloc(s->texts, (size_t)cap * sizeof *t);
        if (!t)
            return;
        s->texts = t;
        s->cap = cap;
    }
    size_t tl = strlen(topic), len = tl + 1 + (size_t)m->payloadlen + 1;
    char *text = malloc(len);
    if (!text)
        return;
    memcpy(text, topic, tl);
    text[tl] = ' ';
    memcpy(text + tl + 1, m->payload, (size_t)m->payloadlen);
    text[len - 1] = '\0';
    s->texts[s->ntexts++] = text;
}

static int sub_on_message(void *ctx, char *topic, int topic_len, MQTTAsync_message *m)
{
    struct sub *s = ctx;
    pthread_mutex_lock(&s->mu);
    s->total++;
    int i = payload_index(m, s->n);
    if (i >= 0 && !s->seen[i]) {
        s->seen[i] = 1;
        s->distinct++;
    }
    if (s->keep_texts && !strstr(topic, "/$status"))
        keep_text(s, topic, m);
    pthread_mutex_unlock(&s->mu);
    MQTTAsync_freeMessage(&m);
    MQTTAsync_free(topic);
    return 1;
}

static void sub_set(struct sub *s, int v)
{
    pthread_mutex_lock(&s->mu);
    s->subscribed = v;
    pthread_mutex_unlock(&s->mu);
}

static void sub_on_subscribed(void *ctx, MQTTAsync_successData *d)
{
    sub_set(ctx, d->alt.qos == 0x80 ? -1 : 1);
}

static void sub_on_sub_failed(void *ctx, MQTTAsync_failureData *d)
{
    sub_set(ctx, -1);
}

static void sub_on_connected(void *ctx, MQTTAsync_successData *d)
{
    struct sub *s = ctx;
    MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;
    ro.onSuccess = sub_on_subscribed;
    ro.onFailure = sub_on_sub_failed;
    ro.context = s;
    /* Subscribed once, on the first connect only: after a broker restart the
     * subscription must come back from the broker's persisted session. */
    if (MQTTAsync_subscribe(s->client, "#", 1, &ro) != MQTTASYNC_SUCCESS)
        sub_set(s, -1);
}

static void sub_on_connect_failed(void *ctx, MQTTAsync_failureData *d)
{
    sub_set(ctx, -1);
}

static int sub_state(struct sub *s, int *distinct, long *total)
{
    pthread_mutex_lock(&s->mu);
    int st = s->subscribed;
    if (distinct)
        *distinct = s->distinct;
    if (total)
        *total = s->total;
    pthread_mutex_unlock(&s->mu);
    return st;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void sub_close(struct sub *s)
{
    if (s->client) {
        MQTTAsync_disconnectOptions d = MQTTAsync_disconnectOptions_initializer;
        d.timeout = 1000;
        MQTTAsync_disconnect(s->client, &d);
        MQTTAsync_destroy(&s->client);
    }
    for (long i = 0; i < s->ntexts; i++)
        free(s->texts[i]);
    free(s->texts);
    free(s->seen);
    pthread_mutex_destroy(&s->mu);
    memset(s, 0, sizeof *s);
}

/* Connects, subscribes to everything with QoS 1 and waits for the grant. */
static int sub_open(struct sub *s, const char *uri, const char *id, int clean, int n)
{
    memset(s, 0, sizeof *s);
    pthread_mutex_init(&s->mu, NULL);
    s->n = n;
    s->seen = calloc((size_t)n, 1);
    if (!s->seen ||
        MQTTAsync_create(&s->client, uri, id, MQTTCLIENT_PERSISTENCE_NONE, NULL) !=
            MQTTASYNC_SUCCESS ||
        MQTTAsync_setCallbacks(s->client, s, NULL, sub_on_message, NULL) != MQTTASYNC_SUCCESS)
        goto fail;
    MQTTAsync_connectOptions co = MQTTAsync_connectOptions_initializer;
    co.MQTTVersion = MQTTVERSION_3_1_1;
    co.cleansession = clean;
    co.keepAliveInterval = 30;
    co.automaticReconnect = 1;
    co.minRetryInterval = 1;
    co.maxRetryInterval = 2;
    co.onSuccess = sub_on_connected;
    co.onFailure = sub_on_connect_failed;
    co.context = s;
    if (MQTTAsync_connect(s->client, &co) != MQTTASYNC_SUCCESS)
        goto fail;
    for (int waited = 0; sub_state(s, NULL, NULL) == 0 && waited < 10000; waited += 10)
        sleep_ms(10);
    if (sub_state(s, NULL, NULL) == 1)
        return 0;
fail:
    fprintf(stderr, "  subscriber %s could not subscribe at %s\n", id, uri);
    sub_close(s);
    return -1;
}

/* Waits until `want` distinct numbered messages arrived; returns how many did. */
static int sub_wait_distinct(struct sub *s, int want, int timeout_ms)
{
    int distinct = 0;
    for (int waited = 0; waited <= timeout_ms; waited += 20) {
        sub_state(s, &distinct, NULL);
        if (distinct >= want)
            break;
        sleep_ms(20);
    }
    return distinct;
}

/* ---- publishing ---- */

static int open_publisher(struct publisher **p, const char *uri, const char *id)
{
    struct publisher_opts o = {.uri = uri, .client_id = id, .clean_session = 1};
    return publisher_open(p, &o);
}

static int publish_numbers(struct publisher *p, const char *topic, int from, int to,
                           atomic_int *sent)
{
    for (int i = from; i < to; i++) {
        char buf[16];
        int len = snprintf(buf, sizeof buf, "%d", i);
        if (publisher_send(p, topic, buf, (size_t)len, 1, 0) != 0)
            return -1;
        if (sent)
            atomic_store(sent, i + 1);
    }
    return 0;
}

TEST(publish_2000_all_arrive)
{
    enum { N = 2000 };
    struct broker b;
    struct sub s;
    struct publisher *p = NULL;
    CHECK(broker_start(&b, 0) == 0);
    CHECK(sub_open(&s, b.uri, "test-sub-a", 1, N) == 0);
    int sent_ok = -1, flushed = -1, distinct = 0;
    long total = 0;
    uint64_t acked = 0;
    if (open_publisher(&p, b.uri, "test-pub-a") == 0) {
        sent_ok = publish_numbers(p, "test/a", 0, N, NULL);
        flushed = publisher_flush(p, WAIT_MS);
        acked = publisher_acked(p);
        publisher_close(p, 1000);
        distinct = sub_wait_distinct(&s, N, WAIT_MS);
    }
    sub_state(&s, &distinct, &total);
    sub_close(&s);
    int stopped = broker_stop(&b);
    CHECK_INT(sent_ok, 0);
    CHECK_INT(flushed, 0);
    CHECK_INT(acked, N);
    CHECK_INT(distinct, N);
    CHECK_INT(total, N);
    CHECK_INT(stopped, 0);
}

struct pub_run {
    const char *uri;
    int n;
    int gate;              /* pause after this many until `restarting` */
    atomic_int sent;       /* messages handed to publisher_send */
    atomic_int restarting; /* set by the main thread just before the restart */
    int rc;
    uint64_t acked, resent;
};

/* Holds the stream at the gate until the main thread is about to restart the
 * broker, so the restart always lands mid-stream however the threads are
 * scheduled (bounded: 10 s). */
static void wait_for_restart(struct pub_run *r)
{
    for (int waited = 0; !atomic_load(&r->restarting) && waited < 10000; waited++)
        sleep_ms(1);
}

static void *publish_thread(void *arg)
{
    struct pub_run *r = arg;
    struct publisher *p;
    r->rc = -1;
    if (open_publisher(&p, r->uri, "test-pub-restart") != 0)
        return NULL;
    int rc = publish_numbers(p, "test/restart", 0, r->gate, &r->sent);
    wait_for_restart(r);
    if (rc == 0 && publish_numbers(p, "test/restart", r->gate, r->n, &r->sent) == 0 &&
        publisher_flush(p, WAIT_MS * 2) == 0)
        r->rc = 0;
    r->acked = publisher_acked(p);
    r->resent = publisher_resent(p);
    publisher_close(p, 1000);
    return NULL;
}

/* The broker is restarted from this (the main) thread while another thread
 * publishes: harness children must be spawned by a thread that outlives them. */
TEST(publisher_survives_broker_restart)
{
    enum { N = 5000 };
    struct broker b;
    struct sub s;
    CHECK(broker_start(&b, 0) == 0);
    CHECK(sub_open(&s, b.uri, "test-sub-persistent", 0, N) == 0);

    struct pub_run run = {.uri = b.uri, .n = N, .gate = N / 2, .rc = -1};
    pthread_t th;
    CHECK(pthread_create(&th, NULL, publish_thread, &run) == 0);
    for (int waited = 0; atomic_load(&run.sent) < N / 2 && waited < WAIT_MS; waited++)
        sleep_ms(1);
    atomic_store(&run.restarting, 1);
    int restarted = broker_restart(&b);
    /* The publisher blocks while disconnected: this is about where it stopped. */
    int sent_at_restart = atomic_load(&run.sent);
    pthread_join(th, NULL);
    int distinct = sub_wait_distinct(&s, N, WAIT_MS);
    long total = 0;
    sub_state(&s, &distinct, &total);
    sub_close(&s);
    int stopped = broker_stop(&b);
    fprintf(stderr,
            "  # restart after %d sent; acked %llu, resent %llu, received %ld (%d distinct)\n",
            sent_at_restart, (unsigned long long)run.acked, (unsigned long long)run.resent, total,
            distinct);
    CHECK_INT(restarted, 0);
    CHECK(sent_at_restart >= N / 2 && sent_at_restart < N); /* really mid-stream */
    CHECK_INT(run.rc, 0);
    CHECK_INT(run.acked, N);
    CHECK_INT(distinct, N);
    CHECK_INT(stopped, 0);
}

/* ---- pantau-sim ---- */

static int find_sim(char *out, size_t len)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash) {
            *slash = '\0';
            snprintf(out, len, "%s/../pantau-sim", exe);
            if (access(out, X_OK) == 0)
                return 0;
        }
    }
    const char *build = getenv("BUILD");
    snprintf(out, len, "%s/pantau-sim", build && build[0] ? build : "build");
    if (access(out, X_OK) == 0)
        return 0;
    fprintf(stderr, "  pantau-sim not found next to the test binary nor in $BUILD\n");
    return -1;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static long count_unique_texts(struct sub *s)
{
    pthread_mutex_lock(&s->mu);
    qsort(s->texts, (size_t)s->ntexts, sizeof *s->texts, cmp_str);
    long unique = 0;
    for (long i = 0; i < s->ntexts; i++)
        if (i == 0 || strcmp(s->texts[i], s->texts[i - 1]) != 0)
            unique++;
    pthread_mutex_unlock(&s->mu);
    return unique;
}

/* Reads the sim's log for "pantau-sim: sent N messages (M samples) ...". */
static long summary_samples(const char *log_path)
{
    FILE *f = fopen(log_path, "r");
    if (!f)
        return -1;
    char line[512];
    long samples = -1;
    for (int i = 0; i < 100000 && fgets(line, sizeof line, f); i++) {
        long msgs, smp;
        if (sscanf(line, "pantau-sim: sent %ld messages (%ld samples) in", &msgs, &smp) == 2 &&
            strstr(line, "msg/s, acked ") && strstr(line, ", resent "))
            samples = smp;
    }
    fclose(f);
    return samples;
}

static int wait_exit(pid_t pid, int timeout_ms)
{
    for (int waited = 0; harness_alive(pid) && waited < timeout_ms; waited += 20)
        sleep_ms(20);
    return harness_stop(pid, SIGTERM, 5000);
}

TEST(sim_runs_to_summary)
{
    enum { N = 500 };
    char sim[PATH_MAX + 32], log_path[512];
    CHECK(find_sim(sim, sizeof sim) == 0);
    struct broker b;
    struct sub s;
    CHECK(broker_start(&b, 0) == 0);
    CHECK(sub_open(&s, b.uri, "test-sub-sim", 1, 1) == 0);
    pthread_mutex_lock(&s.mu);
    s.keep_texts = true;
    pthread_mutex_unlock(&s.mu);
    snprintf(log_path, sizeof log_path, "%s/sim.log", harness_tmpdir());
    char *argv[] = {sim,   "--mqtt", b.uri, "--count", "500", "--ts-mode",
                    "seq", "--rate", "0",   "--seed",  "7",   NULL};
    pid_t pid = harness_spawn(argv, log_path, NULL);
    int status = pid > 0 ? wait_exit(pid, 60000) : -1;
    long texts = 0;
    for (int waited = 0; waited < 5000; waited += 20) {
        pthread_mutex_lock(&s.mu);
        texts = s.ntexts;
        pthread_mutex_unlock(&s.mu);
        if (texts >= N)
            break;
        sleep_ms(20);
    }
    long unique = count_unique_texts(&s);
    sub_close(&s);
    int stopped = broker_stop(&b);
    long samples = summary_samples(log_path);
    CHECK(pid > 0);
    CHECK(status >= 0 && WIFEXITED(status));
    CHECK_INT(WEXITSTATUS(status), 0);
    CHECK_INT(samples, N);
    CHECK_INT(texts, N);
    CHECK_INT(unique, N);
    CHECK_INT(stopped, 0);
}

TEST_MAIN(CASE(publish_2000_all_arrive), CASE(publisher_survives_broker_restart),
          CASE(sim_runs_to_summary))
