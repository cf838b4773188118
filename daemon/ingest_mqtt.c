/* ingest_mqtt.c — see ingest_mqtt.h. */
#include "ingest_mqtt.h"

#include <MQTTAsync.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "parse.h"
#include "util.h"

#define RETRY_MIN_MS 1000
#define RETRY_MAX_MS 5000 /* CONTRACT §2: healthy within 10 s of the broker's return */
#define STOP_WAIT_MS 2000
#define TOPIC_MAX    512

struct ingest_mqtt {
    MQTTAsync client;
    struct ingest_queue *queue;
    uv_loop_t *loop;
    uv_async_t events; /* Paho thread -> loop: connect failed, disconnected */
    uv_timer_t timer;  /* connect retry; stop deadline */
    char *uri, *client_id, *username, *password;
    char *ca_file, *cert_file, *key_file;
    bool tls, tls_insecure;
    char topic_filter[TOPIC_MAX];
    int keepalive_s;
    uint64_t retry_ms;

    atomic_bool connected, subscribed;
    atomic_bool connect_failed; /* the loop should retry the initial connect */
    atomic_bool disconnected;   /* the stop's disconnect completed */
    atomic_uint_fast64_t connects;
    atomic_bool ever_connected; /* after the first, Paho's automatic reconnect retries */

    bool stopping;
    int handles_open;
    void (*done)(void *ctx);
    void *done_ctx;

    pthread_mutex_t log_mu; /* Paho's threads share the rate limiter */
    struct log_limit connect_errors;

    char state_filter[TOPIC_MAX]; /* "" unless a hub */
    char *state_prefix;
    size_t state_max_bytes;

    /* The publisher (ingest_mqtt_offer): pub_mu guards what follows; it is
     * never held while calling Paho. */
    pthread_mutex_t pub_mu;
    pthread_cond_t pub_cond;
    pthread_t pub_thread;
    bool pub_started, pub_stop;
    struct pub_msg *pub_next;     /* offered, not yet handed to Paho */
    struct pub_msg *pub_inflight; /* handed to Paho, PUBACK not yet seen */
    uint64_t pub_inflight_conn;   /* the connection it was sent on */
    int pub_inflight_token;       /* Paho's token of that send */
    int pub_acked_token;          /* the last PUBACK's (it may come before the send returns) */
    uint64_t pub_seq;             /* of the offers: a PUBACK names the one it acks */
    struct ingest_mqtt_pub_stats pub_stats;
};

struct pub_msg {
    char *topic, *payload;
    size_t len;
    uint64_t seq;
};

static void pub_msg_free(struct pub_msg *p)
{
    if (!p)
        return;
    free(p->topic);
    free(p->payload);
    free(p);
}

static void log_connect_error(struct ingest_mqtt *m, const char *what, int code, const char *msg)
{
    pthread_mutex_lock(&m->log_mu);
    log_limited(&m->connect_errors, LOG_LVL_WARN, "mqtt: %s %s: %s (code %d)", what, m->uri,
                msg ? msg : "no reason given", code);
    pthread_mutex_unlock(&m->log_mu);
}

/* Paho thread. Copy, hand over, return: see ingest_queue.h for the blocking. */
static int on_message(void *ctx, char *topic, int topic_len, MQTTAsync_message *msg)
{
    struct ingest_mqtt *m = ctx;
    int64_t arrival = util_now_us();
    size_t tlen = topic_len > 0 ? (size_t)topic_len : strlen(topic);
    size_t total = (size_t)msg->payloadlen;
    /* An oversize payload is rejected anyway: keep what the reject log shows. */
    size_t limit = PARSE_MAX_PAYLOAD;
    if (m->state_prefix && total > limit &&
        ingest_mqtt_is_state_topic(m->state_prefix, topic, tlen))
        limit = m->state_max_bytes;
    size_t keep = total > limit ? 1024 : total;

    if (ingest_queue_push(m->queue, topic, tlen, msg->payload, keep, total, arrival,
                          msg->retained != 0) != 0) {
        /* Stopping with a full spool: not acknowledged, so the broker
         * delivers it again after the restart (returning 0 keeps it in
         * Paho, which hands it over again). */
        return 0;
    }
    MQTTAsync_freeMessage(&msg);
    MQTTAsync_free(topic);
    return 1;
}

static void on_subscribed(void *ctx, MQTTAsync_successData *resp)
{
    struct ingest_mqtt *m = ctx;
    if (resp && resp->alt.qos == 0x80) {
        log_error("mqtt: broker refused the subscription to %s", m->topic_filter);
        return;
    }
    atomic_store(&m->subscribed, true);
    log_info("mqtt: subscribed to %s (QoS %d)", m->topic_filter, resp ? resp->alt.qos : 1);
}

static void on_subscribe_failed(void *ctx, MQTTAsync_failureData *resp)
{
    struct ingest_mqtt *m = ctx;
    log_error("mqtt: subscribing to %s failed: %s", m->topic_filter,
              resp && resp->message ? resp->message : "no reason given");
}

/* Paho thread: the first connect and every automatic reconnect. */
static void on_connected(void *ctx, char *cause)
{
    struct ingest_mqtt *m = ctx;
    atomic_store(&m->connected, true);
    atomic_store(&m->ever_connected, true);
    uint64_t n = atomic_fetch_add(&m->connects, 1) + 1;
    pthread_mutex_lock(&m->log_mu);
    log_limit_clear(&m->connect_errors, LOG_LVL_INFO, "mqtt: broker reachable again");
    pthread_mutex_unlock(&m->log_mu);
    log_info("mqtt: connected to %s as %s (connection %llu)", m->uri, m->client_id,
             (unsigned long long)n);

    MQTTAsync_responseOptions opts = MQTTAsync_responseOptions_initializer;
    opts.onSuccess = on_subscribed;
    opts.onFailure = on_subscribe_failed;
    opts.context = m;
    int rc = MQTTAsync_subscribe(m->client, m->topic_filter, 1, &opts);
    if (rc != MQTTASYNC_SUCCESS)
        log_error("mqtt: subscribe to %s not sent (code %d)", m->topic_filter, rc);
    if (m->state_filter[0]) {
        MQTTAsync_responseOptions sopts = MQTTAsync_responseOptions_initializer;
        sopts.context = m;
        rc = MQTTAsync_subscribe(m->client, m->state_filter, 1, &sopts);
        if (rc != MQTTASYNC_SUCCESS)
            log_error("mqtt: subscribe to %s not sent (code %d)", m->state_filter, rc);
        else
            log_info("mqtt: subscribing to %s (federation hub)", m->state_filter);
    }
    /* The publisher sends again what the lost connection did not ack. */
    pthread_mutex_lock(&m->pub_mu);
    pthread_cond_signal(&m->pub_cond);
    pthread_mutex_unlock(&m->pub_mu);
}

static void on_connection_lost(void *ctx, char *cause)
{
    struct ingest_mqtt *m = ctx;
    atomic_store(&m->connected, false);
    atomic_store(&m->subscribed, false);
    log_warn("mqtt: connection to %s lost: %s; reconnecting", m->uri,
             cause ? cause : "no reason given");
}

static void on_connect_failed(void *ctx, MQTTAsync_failureData *resp)
{
    struct ingest_mqtt *m = ctx;
    log_connect_error(m, "cannot connect to", resp ? resp->code : 0, resp ? resp->message : NULL);
    if (atomic_load(&m->ever_connected))
        return; /* Paho's automatic reconnect is retrying */
    atomic_store(&m->connect_failed, true);
    uv_async_send(&m->events);
}

static int start_connect(struct ingest_mqtt *m)
{
    MQTTAsync_connectOptions opts = MQTTAsync_connectOptions_initializer;
    opts.keepAliveInterval = m->keepalive_s;
    opts.cleansession = 0; /* the broker keeps our subscription and queue */
    /* 3.1.1 only: left at its default, Paho's automatic reconnect steps down
     * to MQTT 3.1 after a failed try (paho.mqtt.c issue #1187), whose
     * specification limits client ids to 23 characters (mosquitto lets
     * longer ones pass; a broker that holds to it would refuse pantaud's).
     * The price: after a failed try the next waits minRetryInterval. */
    opts.MQTTVersion = MQTTVERSION_3_1_1;
    opts.automaticReconnect = 1;
    opts.minRetryInterval = RETRY_MIN_MS / 1000;
    opts.maxRetryInterval = RETRY_MAX_MS / 1000;
    opts.connectTimeout = 10;
    opts.username = m->username;
    opts.password = m->password;
    opts.onFailure = on_connect_failed;
    opts.context = m;
    MQTTAsync_SSLOptions ssl = MQTTAsync_SSLOptions_initializer;
    if (m->tls) {
        ssl.trustStore = m->ca_file; /* NULL: the system's CAs */
        ssl.keyStore = m->cert_file;
        ssl.privateKey = m->key_file;
        ssl.enableServerCertAuth = !m->tls_insecure;
        ssl.verify = !m->tls_insecure; /* the broker's name must match its certificate */
        opts.ssl = &ssl;
    }
    int rc = MQTTAsync_connect(m->client, &opts);
    if (rc != MQTTASYNC_SUCCESS) {
        log_connect_error(m, "connect request to", rc, "not accepted by Paho");
        return -1;
    }
    return 0;
}

static void on_retry_timer(uv_timer_t *t)
{
    struct ingest_mqtt *m = t->data;
    if (m->stopping || atomic_load(&m->connected))
        return;
    if (start_connect(m) != 0) {
        atomic_store(&m->connect_failed, true);
        uv_async_send(&m->events);
    }
}

static void finish_stop(struct ingest_mqtt *m);
static void on_handle_closed(uv_handle_t *h);

/* Loop thread: events from Paho's threads. */
static void on_events(uv_async_t *h)
{
    struct ingest_mqtt *m = h->data;
    if (m->stopping) {
        if (atomic_load(&m->disconnected))
            finish_stop(m);
        return;
    }
    if (atomic_exchange(&m->connect_failed, false)) {
        /* Only reached before any connection succeeded (after one, Paho's
         * automatic reconnect retries by itself), so no message can be in
         * flight and this Paho call cannot meet a blocked producer. */
        uv_timer_start(&m->timer, on_retry_timer, m->retry_ms, 0);
        m->retry_ms = m->retry_ms * 2 > RETRY_MAX_MS ? RETRY_MAX_MS : m->retry_ms * 2;
    }
}

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

/* Frees m and its copies of the options; the Paho client and the handles
 * must already be gone. Both ends of m's life (a failed start, the close
 * callback of the last handle) come here. */
static void client_free(struct ingest_mqtt *m)
{
    pub_msg_free(m->pub_next);
    pub_msg_free(m->pub_inflight);
    pthread_mutex_destroy(&m->pub_mu);
    pthread_cond_destroy(&m->pub_cond);
    free(m->state_prefix);
    free(m->uri);
    free(m->client_id);
    free(m->username);
    free(m->password);
    free(m->ca_file);
    free(m->cert_file);
    free(m->key_file);
    pthread_mutex_destroy(&m->log_mu);
    free(m);
}

int ingest_mqtt_start(struct ingest_mqtt **out, uv_loop_t *loop, const struct ingest_mqtt_opts *o,
                      struct ingest_queue *queue)
{
    struct ingest_mqtt *m = calloc(1, sizeof *m);
    if (!m)
        return -1;
    m->queue = queue;
    m->loop = loop;
    m->keepalive_s = o->keepalive_s;
    m->retry_ms = RETRY_MIN_MS;
    m->uri = strdup(o->uri);
    m->client_id = strdup(o->client_id);
    m->username = dup_or_null(o->username);
    m->password = dup_or_null(o->password);
    m->ca_file = dup_or_null(o->ca_file);
    m->cert_file = dup_or_null(o->cert_file);
    m->key_file = dup_or_null(o->key_file);
    m->tls_insecure = o->tls_insecure;
    m->tls = strncmp(o->uri, "ssl://", 6) == 0 || strncmp(o->uri, "mqtts://", 8) == 0 ||
             strncmp(o->uri, "wss://", 6) == 0;
    snprintf(m->topic_filter, sizeof m->topic_filter, "%s/#", o->prefix);
    pthread_mutex_init(&m->log_mu, NULL);
    pthread_mutex_init(&m->pub_mu, NULL);
    pthread_cond_init(&m->pub_cond, NULL);
    if (o->state_prefix) {
        snprintf(m->state_filter, sizeof m->state_filter, "%s/+/state", o->state_prefix);
        m->state_prefix = strdup(o->state_prefix);
        m->state_max_bytes = o->state_max_bytes ? o->state_max_bytes : PARSE_MAX_PAYLOAD;
        if (!m->state_prefix)
            goto fail;
    }
    /* Each copy that was asked for must exist: a NULL ca_file would mean
     * "the system's CAs", not "out of memory". */
    if (!m->uri || !m->client_id || (o->username && !m->username) ||
        (o->password && !m->password) || (o->ca_file && !m->ca_file) ||
        (o->cert_file && !m->cert_file) || (o->key_file && !m->key_file))
        goto fail;

    MQTTAsync_createOptions copts = MQTTAsync_createOptions_initializer;
    copts.MQTTVersion = MQTTVERSION_3_1_1;
    /* No client persistence: it writes files into the working directory and
     * adds nothing for inbound messages (platform-facts.md). */
    int rc = MQTTAsync_createWithOptions(&m->client, m->uri, m->client_id,
                                         MQTTCLIENT_PERSISTENCE_NONE, NULL, &copts);
    if (rc != MQTTASYNC_SUCCESS) {
        log_error("mqtt: cannot create a client for %s (code %d)", m->uri, rc);
        goto fail;
    }
    if (MQTTAsync_setCallbacks(m->client, m, on_connection_lost, on_message, NULL) != 0 ||
        MQTTAsync_setConnected(m->client, m, on_connected) != 0)
        goto fail;

    if ((rc = uv_async_init(loop, &m->events, on_events)) != 0) {
        log_error("mqtt: cannot create a wake handle: %s", uv_strerror(rc));
        goto fail;
    }
    m->events.data = m;
    if ((rc = uv_timer_init(loop, &m->timer)) != 0) {
        log_error("mqtt: cannot create a timer: %s", uv_strerror(rc));
        /* The async handle is in the loop: its close callback frees m. */
        MQTTAsync_destroy(&m->client);
        m->handles_open = 1;
        uv_close((uv_handle_t *)&m->events, on_handle_closed);
        return -1;
    }
    m->timer.data = m;
    m->handles_open = 2;
    if (start_connect(m) != 0) {
        atomic_store(&m->connect_failed, true);
        uv_async_send(&m->events);
    }
    *out = m;
    return 0;
fail:
    if (m->client)
        MQTTAsync_destroy(&m->client);
    client_free(m);
    return -1;
}

bool ingest_mqtt_connected(const struct ingest_mqtt *m)
{
    return atomic_load(&m->connected);
}

bool ingest_mqtt_subscribed(const struct ingest_mqtt *m)
{
    return atomic_load(&m->subscribed);
}

uint64_t ingest_mqtt_connects(const struct ingest_mqtt *m)
{
    return atomic_load(&m->connects);
}

static void on_disconnected(void *ctx, MQTTAsync_successData *resp)
{
    struct ingest_mqtt *m = ctx;
    atomic_store(&m->disconnected, true);
    uv_async_send(&m->events);
}

static void on_disconnect_failed(void *ctx, MQTTAsync_failureData *resp)
{
    on_disconnected(ctx, NULL);
}

static void on_stop_deadline(uv_timer_t *t)
{
    struct ingest_mqtt *m = t->data;
    log_warn("mqtt: no disconnect confirmation within %d ms; closing anyway", STOP_WAIT_MS);
    atomic_store(&m->disconnected, true);
    finish_stop(m);
}

static void on_handle_closed(uv_handle_t *h)
{
    struct ingest_mqtt *m = h->data;
    if (--m->handles_open > 0)
        return;
    void (*done)(void *) = m->done;
    void *ctx = m->done_ctx;
    client_free(m);
    if (done)
        done(ctx);
}

static void finish_stop(struct ingest_mqtt *m)
{
    if (!m->client)
        return; /* already finishing */
    /* Destroy waits for Paho's threads to leave our callbacks; the queue is
     * closed, so none of them is blocked on it. */
    MQTTAsync_destroy(&m->client);
    m->client = NULL;
    uv_timer_stop(&m->timer);
    uv_close((uv_handle_t *)&m->events, on_handle_closed);
    uv_close((uv_handle_t *)&m->timer, on_handle_closed);
}

void ingest_mqtt_stop(struct ingest_mqtt *m, void (*done)(void *ctx), void *ctx)
{
    m->stopping = true;
    m->done = done;
    m->done_ctx = ctx;
    ingest_queue_close(m->queue);
    uv_timer_stop(&m->timer);
    /* The queue is closed: a producer holding Paho's mutex no longer waits,
     * so the publisher gets out of Paho and the join ends. */
    if (m->pub_started) {
        pthread_mutex_lock(&m->pub_mu);
        m->pub_stop = true;
        pthread_cond_signal(&m->pub_cond);
        pthread_mutex_unlock(&m->pub_mu);
        pthread_join(m->pub_thread, NULL);
        m->pub_started = false;
    }

    MQTTAsync_disconnectOptions opts = MQTTAsync_disconnectOptions_initializer;
    opts.timeout = STOP_WAIT_MS / 2;
    opts.onSuccess = on_disconnected;
    opts.onFailure = on_disconnect_failed;
    opts.context = m;
    if (MQTTAsync_disconnect(m->client, &opts) != MQTTASYNC_SUCCESS) {
        atomic_store(&m->disconnected, true); /* was not connected */
        uv_async_send(&m->events);
        return;
    }
    uv_timer_start(&m->timer, on_stop_deadline, STOP_WAIT_MS, 0);
}

/* ---- the publisher (federation STATE) ------------------------------------- */

bool ingest_mqtt_is_state_topic(const char *state_prefix, const char *topic, size_t len)
{
    size_t plen = strlen(state_prefix);
    static const char tail[] = "/state";
    size_t tlen = sizeof tail - 1;
    if (len < plen + 1 + 1 + tlen || memcmp(topic, state_prefix, plen) != 0 || topic[plen] != '/')
        return false;
    if (memcmp(topic + len - tlen, tail, tlen) != 0)
        return false;
    const char *id = topic + plen + 1;
    size_t idlen = len - tlen - plen - 1;
    return memchr(id, '/', idlen) == NULL;
}

static void on_published(void *ctx, MQTTAsync_successData *resp)
{
    struct ingest_mqtt *m = ctx;
    pthread_mutex_lock(&m->pub_mu);
    m->pub_stats.acked++;
    m->pub_acked_token = resp ? resp->token : 0;
    if (m->pub_inflight && resp && resp->token == m->pub_inflight_token) {
        pub_msg_free(m->pub_inflight);
        m->pub_inflight = NULL;
    }
    pthread_mutex_unlock(&m->pub_mu);
}

static void on_publish_failed(void *ctx, MQTTAsync_failureData *resp)
{
    struct ingest_mqtt *m = ctx;
    pthread_mutex_lock(&m->pub_mu);
    m->pub_stats.failed++;
    m->pub_inflight_conn = UINT64_MAX; /* send it again once connected */
    pthread_cond_signal(&m->pub_cond);
    pthread_mutex_unlock(&m->pub_mu);
}

/* Hands p to Paho (pub_mu NOT held: Paho's mutex may make this wait). */
static int pub_send(struct ingest_mqtt *m, const struct pub_msg *p, int *token)
{
    MQTTAsync_responseOptions opts = MQTTAsync_responseOptions_initializer;
    opts.onSuccess = on_published;
    opts.onFailure = on_publish_failed;
    opts.context = m;
    int rc = MQTTAsync_send(m->client, p->topic, (int)p->len, p->payload, 1, 1, &opts);
    *token = opts.token;
    return rc;
}

static void *pub_main(void *arg)
{
    struct ingest_mqtt *m = arg;
    pthread_mutex_lock(&m->pub_mu);
    while (!m->pub_stop) {
        bool up = atomic_load(&m->connected);
        uint64_t conn = atomic_load(&m->connects);
        struct pub_msg *p = NULL;
        bool again = false;
        if (up && m->pub_next) {
            p = m->pub_next;
            m->pub_next = NULL;
        } else if (up && m->pub_inflight && m->pub_inflight_conn != conn) {
            p = m->pub_inflight; /* the connection it went out on is gone */
            m->pub_inflight = NULL;
            again = true;
        }
        if (!p) {
            struct timespec until;
            clock_gettime(CLOCK_REALTIME, &until);
            until.tv_sec += 1; /* a reconnect is also seen by polling */
            pthread_cond_timedwait(&m->pub_cond, &m->pub_mu, &until);
            continue;
        }
        pthread_mutex_unlock(&m->pub_mu);
        int token = 0;
        int rc = pub_send(m, p, &token);
        pthread_mutex_lock(&m->pub_mu);
        if (rc == MQTTASYNC_SUCCESS) {
            m->pub_stats.sent++;
            pub_msg_free(m->pub_inflight);
            m->pub_inflight = NULL;
            if (m->pub_acked_token == token && token != 0) {
                pub_msg_free(p); /* its PUBACK came before the send returned */
            } else {
                m->pub_inflight = p;
                m->pub_inflight_conn = conn;
                m->pub_inflight_token = token;
            }
        } else if (!m->pub_next) {
            m->pub_next = p; /* not taken: tried again, unless replaced meanwhile */
            m->pub_stats.failed++;
            if (!again) {
                struct timespec until;
                clock_gettime(CLOCK_REALTIME, &until);
                until.tv_sec += 1;
                pthread_cond_timedwait(&m->pub_cond, &m->pub_mu, &until);
            }
        } else {
            m->pub_stats.failed++;
            pub_msg_free(p);
        }
    }
    pthread_mutex_unlock(&m->pub_mu);
    return NULL;
}

int ingest_mqtt_offer(struct ingest_mqtt *m, const char *topic, const char *payload, size_t len)
{
    if (m->stopping)
        return -1; /* the publisher is joined, or about to be */
    struct pub_msg *p = calloc(1, sizeof *p);
    if (!p || !(p->topic = strdup(topic)) || !(p->payload = malloc(len ? len : 1))) {
        pub_msg_free(p);
        return -1;
    }
    memcpy(p->payload, payload, len);
    p->len = len;
    if (!m->pub_started) {
        if (pthread_create(&m->pub_thread, NULL, pub_main, m) != 0) {
            log_error("mqtt: cannot start the federation publisher thread");
            pub_msg_free(p);
            return -1;
        }
        m->pub_started = true;
    }
    pthread_mutex_lock(&m->pub_mu);
    p->seq = ++m->pub_seq;
    m->pub_stats.offered++;
    pub_msg_free(m->pub_next); /* replaced by the newer state */
    m->pub_next = p;
    pthread_cond_signal(&m->pub_cond);
    pthread_mutex_unlock(&m->pub_mu);
    return 0;
}

void ingest_mqtt_pub_stats(struct ingest_mqtt *m, struct ingest_mqtt_pub_stats *out)
{
    pthread_mutex_lock(&m->pub_mu);
    *out = m->pub_stats;
    pthread_mutex_unlock(&m->pub_mu);
}
