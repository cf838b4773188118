/* test_ingest.c — pantaud end to end with real parts: a mosquitto broker on a
 * free loopback port, the pantaud binary, a Paho publisher, the SQLite file. */
#include <arpa/inet.h>
#include <limits.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "harness.h"
#include "publisher.h"
#include "util.h"

#define WAIT_MS 60000 /* generous bound: sanitizer builds are slower */

struct daemon_proc {
    pid_t pid;
    int port; /* its HTTP API */
    char db[512], log[512], conf[512];
};

/* Starts pantaud against broker b; `extra_ini` (may be NULL) goes into a
 * config file. Waits for the subscription. Returns 0 or -1. */
static int daemon_start(struct daemon_proc *d, const struct broker *b, const char *name,
                        const char *extra_ini)
{
    char bin[PATH_MAX + 32];
    snprintf(bin, sizeof bin, "%s/../pantaud", harness_bin_dir());
    if (!d->db[0]) {
        snprintf(d->db, sizeof d->db, "%s/%s.db", harness_tmpdir(), name);
        snprintf(d->log, sizeof d->log, "%s/%s.log", harness_tmpdir(), name);
        snprintf(d->conf, sizeof d->conf, "%s/%s.ini", harness_tmpdir(), name);
    }
    FILE *f = fopen(d->conf, "w");
    if (!f)
        return -1;
    d->port = harness_free_port();
    fprintf(f,
            "[mqtt]\nuri = %s\nclient_id = pantaud-%s-%d\n[store]\npath = %s\n[http]\nlisten = "
            "127.0.0.1:%d\n%s",
            b->uri, name, (int)getpid(), d->db, d->port, extra_ini ? extra_ini : "");
    fclose(f);
    /* A new log per start, so waiting for "subscribed" sees this start's line. */
    char old[600];
    snprintf(old, sizeof old, "%s.old", d->log);
    rename(d->log, old);
    char *argv[] = {bin, "--allow-root", "-c", d->conf, "--log-level", "info", NULL};
    d->pid = harness_spawn(argv, d->log, NULL);
    if (d->pid < 0)
        return -1;
    return harness_wait_log(d->log, "mqtt: subscribed", 10000) ? 0 : -1;
}

/* SIGTERM; returns the exit code, or -1 if it did not exit 0 within 10 s. */
static int daemon_stop(struct daemon_proc *d)
{
    int status = harness_stop(d->pid, SIGTERM, 10000);
    d->pid = -1;
    if (status < 0 || !WIFEXITED(status))
        return -1;
    return WEXITSTATUS(status);
}

static struct publisher *open_publisher(const struct broker *b, const char *id)
{
    struct publisher *p = NULL;
    /* The pid keeps ids apart when test runs overlap: a restarted broker's
     * port may meanwhile go to another run's broker. */
    char unique[128];
    snprintf(unique, sizeof unique, "%s-%d", id, (int)getpid());
    /* A clean session: with a kept one, Paho 1.3.11 retransmits its in-flight
     * publishes itself after a broker restart and sometimes sends them
     * malformed (the broker then drops it on every reconnect); our publisher
     * resends what was not acknowledged anyway. */
    struct publisher_opts o = {
        .uri = b->uri, .client_id = unique, .window = 256, .clean_session = 1};
    if (publisher_open(&p, &o) != 0)
        return NULL;
    return p;
}

/* A day before the run: recent enough for the raw retention horizon. */
static int64_t t0_ms(void)
{
    static int64_t t0;
    if (!t0)
        t0 = (util_now_ms() / 1000 - 86400) * 1000;
    return t0;
}
#define T0 t0_ms()

/* Sample i of the "it" series: ts T0 + i, value i * 0.5. */
static int publish_range(struct publisher *p, const char *unit, int from, int to)
{
    char topic[128], payload[128];
    snprintf(topic, sizeof topic, "pantau/it-program/%s/level", unit);
    for (int i = from; i < to; i++) {
        int n = snprintf(payload, sizeof payload, "{\"value\":%.1f,\"ts\":%lld}", i * 0.5,
                         (long long)(T0 + i));
        if (publisher_send(p, topic, payload, (size_t)n, 1, 0) != 0)
            return -1;
    }
    return 0;
}

#define IT_SERIES "program=it-program&metric=level"

/* While pantaud runs, the newest samples are in its head: count them
 * through the API (store.h). */
static int64_t count_samples(const struct daemon_proc *d, int64_t want)
{
    return harness_wait_http_count(d->port, IT_SERIES, want, WAIT_MS);
}

/* Values are i/2 for i in [0, n): their sum times 4 is n(n-1), exactly. */
static int64_t value_sum_x4(const struct daemon_proc *d)
{
    return (int64_t)(harness_http_agg(d->port, IT_SERIES, "sum") * 4);
}

TEST(ingest_10k_qos1_exactly_once)
{
    struct broker b;
    struct daemon_proc d = {0};
    CHECK(broker_start(&b, 0) == 0);
    CHECK(daemon_start(&d, &b, "tenk", NULL) == 0);
    struct publisher *p = open_publisher(&b, "it-tenk");
    CHECK(p);
    CHECK(publish_range(p, "unit-1", 0, 10000) == 0);
    CHECK(publisher_flush(p, WAIT_MS) == 0);
    publisher_close(p, 1000);
    CHECK_INT(count_samples(&d, 10000), 10000);
    CHECK_INT(value_sum_x4(&d), (int64_t)10000 * 9999);
    CHECK_INT(daemon_stop(&d), 0);
    /* A clean stop leaves every sample in the database's chunk rows. */
    CHECK_INT(harness_count_samples(d.db, NULL), 10000);
    CHECK_INT(harness_sql_int(d.db, "SELECT min(start) FROM chunks"), T0);
    CHECK_INT(harness_sql_int(d.db, "SELECT max(last_ts) FROM chunks"), T0 + 9999);
    CHECK_INT(harness_sql_int(d.db, "SELECT count(*) FROM series"), 1);
    CHECK(broker_stop(&b) == 0);
}

TEST(ingest_survives_broker_restart)
{
    struct broker b;
    struct daemon_proc d = {0};
    CHECK(broker_start(&b, 0) == 0);
    CHECK(daemon_start(&d, &b, "restart", NULL) == 0);
    struct publisher *p = open_publisher(&b, "it-restart");
    CHECK(p);
    CHECK(publish_range(p, "unit-1", 0, 5000) == 0);
    CHECK(broker_restart(&b) == 0);
    CHECK(publish_range(p, "unit-1", 5000, 10000) == 0);
    CHECK(publisher_flush(p, WAIT_MS) == 0);
    publisher_close(p, 1000);
    CHECK_INT(count_samples(&d, 10000), 10000);
    CHECK_INT(value_sum_x4(&d), (int64_t)10000 * 9999);
    CHECK(harness_alive(d.pid));
    CHECK(harness_wait_log(d.log, "connection 2", 10000));
    CHECK_INT(daemon_stop(&d), 0);
    CHECK(broker_stop(&b) == 0);
}

TEST(ingest_keeps_what_arrives_while_stopped)
{
    struct broker b;
    struct daemon_proc d = {0};
    CHECK(broker_start(&b, 0) == 0);
    CHECK(daemon_start(&d, &b, "away", NULL) == 0);
    struct publisher *p = open_publisher(&b, "it-away");
    CHECK(p);
    CHECK(publish_range(p, "unit-1", 0, 3000) == 0);
    CHECK(publisher_flush(p, WAIT_MS) == 0);
    CHECK_INT(count_samples(&d, 3000), 3000);
    CHECK_INT(daemon_stop(&d), 0);
    /* Published while pantaud is down: the broker queues them for its session
     * (more than mosquitto's default limit of 1000). */
    CHECK(publish_range(p, "unit-1", 3000, 8000) == 0);
    CHECK(publisher_flush(p, WAIT_MS) == 0);
    CHECK(daemon_start(&d, &b, "away", NULL) == 0);
    CHECK_INT(count_samples(&d, 8000), 8000);
    CHECK_INT(value_sum_x4(&d), (int64_t)8000 * 7999);
    publisher_close(p, 1000);
    CHECK_INT(daemon_stop(&d), 0);
    CHECK(broker_stop(&b) == 0);
}

/* Malformed payloads of every kind, cycled. */
static const char *const bad_payloads[] = {
    "nan",
    "{\"value\":\"1\"}",
    "{\"value\":1,\"ts\":100}",
    "[]",
    "{\"value\":1,\"labels\":5}",
    "{broken",
    "\"1\"",
    "{\"value\":1,\"lat\":91,\"lon\":0}",
    "{\"ts\":1795000000000}",
    "{\"value\":1,\"metric\":\"Bad Metric\"}",
};

TEST(ingest_rejects_malformed_and_keeps_good)
{
    struct broker b;
    struct daemon_proc d = {0};
    CHECK(broker_start(&b, 0) == 0);
    CHECK(daemon_start(&d, &b, "malformed", NULL) == 0);
    struct publisher *p = open_publisher(&b, "it-malformed");
    CHECK(p);
    char payload[128];
    const size_t n_bad = sizeof bad_payloads / sizeof bad_payloads[0];
    for (int i = 0; i < 1000; i++) {
        int n =
            snprintf(payload, sizeof payload, "{\"value\":%d,\"ts\":%lld}", i, (long long)(T0 + i));
        CHECK(publisher_send(p, "pantau/it-program/unit-1/level", payload, (size_t)n, 1, 0) == 0);
        const char *bad = bad_payloads[i % n_bad];
        CHECK(publisher_send(p, "pantau/it-program/unit-1/level", bad, strlen(bad), 1, 0) == 0);
    }
    /* A bad topic, too: counted, nothing stored. */
    CHECK(publisher_send(p, "pantau/UPPER/unit/level", "1", 1, 1, 0) == 0);
    CHECK(publisher_flush(p, WAIT_MS) == 0);
    publisher_close(p, 1000);
    CHECK_INT(count_samples(&d, 1000), 1000);
    CHECK(harness_alive(d.pid));
    CHECK_INT(daemon_stop(&d), 0);
    /* The exit stats line counts each reason. */
    CHECK(harness_wait_log(d.log, "rejected=1001 ", 1000));
    CHECK(harness_wait_log(d.log, "bad_json=200 ", 1000));    /* nan, {broken */
    CHECK(harness_wait_log(d.log, "bad_value=200 ", 1000));   /* "1" as string, no value */
    CHECK(harness_wait_log(d.log, "bad_payload=100 ", 1000)); /* "1" */
    CHECK(harness_wait_log(d.log, "ts_too_old=100 ", 1000));
    CHECK(harness_wait_log(d.log, "bad_batch=100 ", 1000));
    CHECK(harness_wait_log(d.log, "bad_labels=100 ", 1000));
    CHECK(harness_wait_log(d.log, "bad_position=100 ", 1000));
    CHECK(harness_wait_log(d.log, "bad_metric=100 ", 1000));
    CHECK(harness_wait_log(d.log, "bad_topic=1 ", 1000));
    CHECK(broker_stop(&b) == 0);
}

/* A queue of 100 messages under a backlog of 100k: Paho's thread blocks on
 * the full queue (back-pressure), SIGTERM mid-drain still exits 0 at once,
 * and what was not yet taken stays at the broker for the next start. */
TEST(ingest_backpressure_and_stop_under_load)
{
    struct broker b;
    struct daemon_proc d = {0};
    const char *ini = "[mqtt]\nqueue_messages = 100\n";
    const int n = 100000; /* long enough a drain (~2 s) that SIGTERM lands inside it */
    CHECK(broker_start(&b, 0) == 0);
    CHECK(daemon_start(&d, &b, "pressure", ini) == 0); /* creates the session */
    CHECK_INT(daemon_stop(&d), 0);
    struct publisher *p = open_publisher(&b, "it-pressure");
    CHECK(p);
    CHECK(publish_range(p, "unit-1", 0, n) == 0);
    CHECK(publisher_flush(p, WAIT_MS) == 0);
    publisher_close(p, 1000);

    CHECK(daemon_start(&d, &b, "pressure", ini) == 0);
    int64_t seen = 0;
    for (int i = 0; i < WAIT_MS / 20 && seen <= 0; i++) {
        double c = harness_http_agg(d.port, IT_SERIES, "count");
        seen = c > 0 ? (int64_t)c : 0;
        if (seen <= 0)
            usleep(20000);
    }
    CHECK(seen > 0);
    CHECK_INT(daemon_stop(&d), 0); /* mid-drain, with the producer blocked */
    int64_t stored = harness_count_samples(d.db, NULL);
    CHECK(stored > 0 && stored < n);
    CHECK(harness_wait_log(d.log, "stats at exit", 1000));

    CHECK(daemon_start(&d, &b, "pressure", ini) == 0);
    CHECK_INT(count_samples(&d, n), n);
    CHECK_INT(value_sum_x4(&d), (int64_t)n * (n - 1));
    CHECK_INT(daemon_stop(&d), 0);
    CHECK(!harness_wait_log(d.log, "waits=0 ", 100)); /* the producer did wait */
    CHECK(broker_stop(&b) == 0);
}

TEST(ingest_check_config_reports_lines)
{
    char bin[PATH_MAX + 32], conf[512], log[512];
    snprintf(bin, sizeof bin, "%s/../pantaud", harness_bin_dir());
    snprintf(conf, sizeof conf, "%s/bad.ini", harness_tmpdir());
    snprintf(log, sizeof log, "%s/bad.log", harness_tmpdir());
    FILE *f = fopen(conf, "w");
    CHECK(f);
    fputs("[mqtt]\nuri = tcp://127.0.0.1:1883\nkeepalive = 3x\n\n[store]\nnope = 1\n", f);
    fclose(f);
    char *argv[] = {bin, "--check-config", "-c", conf, NULL};
    pid_t pid = harness_spawn(argv, log, NULL);
    CHECK(pid > 0);
    int status = harness_stop(pid, 0, 5000);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) != 0);
    char want[600];
    snprintf(want, sizeof want, "%s:3: keepalive", conf);
    CHECK(harness_wait_log(log, want, 1000));
    snprintf(want, sizeof want, "%s:6: unknown key \"nope\" in [store]", conf);
    CHECK(harness_wait_log(log, want, 1000));

    /* The example config shipped for operators is valid as it stands. */
    char example[PATH_MAX + 64];
    snprintf(example, sizeof example, "%s/../../config/pantau.ini", harness_bin_dir());
    char *example_argv[] = {bin, "--check-config", "-c", example, NULL};
    pid = harness_spawn(example_argv, log, NULL);
    status = harness_stop(pid, 0, 5000);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);

    /* Overrides are validated with the file: no tokens + a public listen
     * address from the command line is refused, as it would be in the file. */
    f = fopen(conf, "w");
    CHECK(f);
    fputs("[mqtt]\nuri = tcp://127.0.0.1:1883\n", f);
    fclose(f);
    char *open_argv[] = {bin, "--check-config", "-c", conf, "--listen", "0.0.0.0:8080", NULL};
    pid = harness_spawn(open_argv, log, NULL);
    status = harness_stop(pid, 0, 5000);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) != 0);
    CHECK(harness_wait_log(log, "command line: listen is not a loopback address", 1000));
}

/* A daemon that cannot listen must say so and exit non-zero, not run deaf. */
TEST(ingest_refuses_a_taken_http_port)
{
    struct broker b;
    char bin[PATH_MAX + 32], db[512], log[512], listen_arg[64];
    CHECK(broker_start(&b, 0) == 0);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    CHECK(fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0 && listen(fd, 1) == 0);
    socklen_t len = sizeof sa;
    CHECK(getsockname(fd, (struct sockaddr *)&sa, &len) == 0);
    snprintf(listen_arg, sizeof listen_arg, "127.0.0.1:%d", ntohs(sa.sin_port));
    snprintf(bin, sizeof bin, "%s/../pantaud", harness_bin_dir());
    snprintf(db, sizeof db, "%s/taken.db", harness_tmpdir());
    snprintf(log, sizeof log, "%s/taken.log", harness_tmpdir());
    char *argv[] = {bin, "--allow-root", "--mqtt", b.uri, "--db", db, "--listen", listen_arg, NULL};
    pid_t pid = harness_spawn(argv, log, NULL);
    int status = harness_stop(pid, 0, 10000);
    close(fd);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) != 0);
    CHECK(harness_wait_log(log, "http: cannot listen on", 1000));
    CHECK(broker_stop(&b) == 0);
}

/* ssl:// brokers (CONTRACT §4): a CA and a broker certificate made here by
 * openssl, mosquitto with a TLS listener beside a plain one; pantaud
 * subscribes over TLS, verifying the broker against the CA. */
static int run_quiet(const char *cmd)
{
    char line[2100];
    if (snprintf(line, sizeof line, "%.2048s >/dev/null 2>&1", cmd) >= (int)sizeof line)
        return -1;
    return system(line);
}

TEST(ingest_over_tls)
{
    const char *dir = harness_tmpdir();
    char cmd[2048], conf[512], blog[512], ini[512], plain[64];
    snprintf(
        cmd, sizeof cmd,
        "cd %s && openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=pantau-test-ca "
        "-keyout ca.key -out ca.crt && openssl req -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 "
        "-keyout broker.key -out broker.csr && printf 'subjectAltName=IP:127.0.0.1\\n' > "
        "san.ext && openssl x509 -req -in broker.csr -CA ca.crt -CAkey ca.key "
        "-CAcreateserial -days 2 -extfile san.ext -out broker.crt",
        dir);
    CHECK(run_quiet(cmd) == 0);
    int tls_port = harness_free_port(), plain_port = harness_free_port();
    CHECK(tls_port != plain_port);
    snprintf(conf, sizeof conf, "%s/tls.conf", dir);
    snprintf(blog, sizeof blog, "%s/tls-broker.log", dir);
    FILE *f = fopen(conf, "w");
    CHECK(f);
    fprintf(f,
            "user root\nallow_anonymous true\nmax_queued_messages 0\nlog_dest stderr\n"
            "listener %d 127.0.0.1\nlistener %d 127.0.0.1\ncafile %s/ca.crt\n"
            "certfile %s/broker.crt\nkeyfile %s/broker.key\n",
            plain_port, tls_port, dir, dir, dir);
    fclose(f);
    char *bargv[] = {"mosquitto", "-c", conf, NULL};
    pid_t broker = harness_spawn(bargv, blog, NULL);
    CHECK(broker > 0);
    CHECK(harness_wait_log(blog, "running", 5000));

    struct daemon_proc d = {0};
    struct broker b = {.port = tls_port};
    snprintf(b.uri, sizeof b.uri, "ssl://127.0.0.1:%d", tls_port);
    snprintf(ini, sizeof ini, "[mqtt]\nca_file = %s/ca.crt\n", dir);
    CHECK(daemon_start(&d, &b, "tls", ini) == 0);
    struct broker plain_b = {.port = plain_port};
    snprintf(plain_b.uri, sizeof plain_b.uri, "tcp://127.0.0.1:%d", plain_port);
    snprintf(plain, sizeof plain, "it-tls");
    struct publisher *p = open_publisher(&plain_b, plain);
    CHECK(p);
    CHECK(publish_range(p, "unit-1", 0, 100) == 0);
    CHECK(publisher_flush(p, WAIT_MS) == 0);
    publisher_close(p, 1000);
    CHECK_INT(count_samples(&d, 100), 100);
    CHECK_INT(daemon_stop(&d), 0);

    /* Without the CA the broker's certificate is not trusted: no connection. */
    char bin[PATH_MAX + 32], db[512], log[512];
    snprintf(bin, sizeof bin, "%s/../pantaud", harness_bin_dir());
    snprintf(db, sizeof db, "%s/untrusted.db", dir);
    snprintf(log, sizeof log, "%s/untrusted.log", dir);
    char listen_arg[32];
    snprintf(listen_arg, sizeof listen_arg, "127.0.0.1:%d", harness_free_port());
    char *argv[] = {bin, "--allow-root", "--mqtt", b.uri, "--db", db, "--listen", listen_arg, NULL};
    pid_t untrusted = harness_spawn(argv, log, NULL);
    CHECK(harness_wait_log(log, "cannot connect to ssl://", 10000));
    CHECK(!harness_wait_log(log, "mqtt: subscribed", 100));
    CHECK(harness_stop(untrusted, SIGTERM, 10000) >= 0);
    int status = harness_stop(broker, SIGTERM, 5000);
    CHECK(WIFEXITED(status));
}

TEST_MAIN(CASE(ingest_10k_qos1_exactly_once), CASE(ingest_survives_broker_restart),
          CASE(ingest_keeps_what_arrives_while_stopped),
          CASE(ingest_rejects_malformed_and_keeps_good),
          CASE(ingest_backpressure_and_stop_under_load), CASE(ingest_check_config_reports_lines),
          CASE(ingest_refuses_a_taken_http_port), CASE(ingest_over_tls))
