/* publisher.c — see publisher.h.
 *
 * Why the publisher keeps its own copy of every message instead of trusting
 * Paho (1.3.12, MQTT 3.1.1, measured against mosquitto 2.0.11):
 *  - cleansession=1: when the connection drops, every QoS 1 message written
 *    but not yet acknowledged gets onFailure with -11
 *    (MQTTASYNC_OPERATION_INCOMPLETE) and is forgotten; publish commands Paho
 *    had not written yet stay queued and go out after the reconnect;
 *  - cleansession=0: Paho retransmits its in-flight messages (DUP=1) on
 *    reconnect if the broker kept the session (sessionPresent=1), and calls
 *    no onFailure; if the broker lost it, they fail with -11 as above.
 * So the publisher owns the messages: a ring of `window` slots, each kept
 * until its first onSuccess. On connection loss every slot that was handed
 * to Paho is queued again, and sent again once Paho has reconnected
 * (automaticReconnect). Duplicates are possible (Paho's own retransmission
 * plus ours); the ack count stays exact because a slot is counted the first
 * time any of its sends succeeds, and later successes find it gone.
 *
 * Threads: the caller's thread does every Paho call, all sending and all
 * freeing of slots, so resends go out during the caller's next
 * publisher_send, publisher_flush or publisher_close (a caller blocked in one
 * of them is woken by the reconnect). Paho's threads only run the callbacks,
 * which take `mu` briefly, flip states and counters, and never wait for the
 * caller. `mu` is never held across a Paho call: Paho runs callbacks holding
 * its own global mutex, so holding ours while calling into Paho could
 * deadlock.
 *
 * Each MQTTAsync_sendMessage gets a small heap ticket as its context naming
 * (slot seq, connection epoch): a late callback for a send made on an earlier
 * connection, or for a slot since reused, is recognised by its seq and never
 * touches the wrong message. Tickets are freed by the callback; any Paho never
 * called back for are freed after MQTTAsync_destroy. */
#include "publisher.h"

#include <MQTTAsync.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "util.h"

#define DEFAULT_WINDOW      256
#define DEFAULT_KEEPALIVE_S 30
#define DEFAULT_CONNECT_MS  10000
#define SEND_BLOCK_MS       60000
#define WAKE_MS             100 /* longest a waiting caller sleeps between re-checks */
#define CONNECT_RETRY_MS    250 /* pause between attempts of the first connect */
#define DISCONNECT_GRACE_MS 2000
#define RECONNECT_MIN_S     1 /* Paho's automatic reconnect back-off, seconds */
#define RECONNECT_MAX_S     2

enum slot_state {
    SLOT_FREE,
    SLOT_QUEUED,   /* must be (re)sent by the caller's thread */
    SLOT_SENDING,  /* the caller is inside MQTTAsync_sendMessage for it */
    SLOT_INFLIGHT, /* handed to Paho on connection `epoch` */
    SLOT_ACKED,    /* acknowledged; freed when the ring's base passes it */
};

struct slot {
    uint64_t seq;
    enum slot_state state;
    uint64_t epoch;
    bool sent_before; /* a further send counts as a resend */
    int qos;
    int retained;
    char *topic; /* one allocation: topic, NUL, payload */
    char *payload;
    size_t len;
};

/* The context of one MQTTAsync_sendMessage. */
struct ticket {
    struct publisher *p;
    uint64_t seq;
    uint64_t epoch;
    struct ticket *prev, *next;
};

enum connect_state { CONN_PENDING, CONN_OK, CONN_FAILED };

struct publisher {
    MQTTAsync client;
    pthread_mutex_t mu;
    pthread_cond_t cond; /* on CLOCK_MONOTONIC */
    bool waiting;        /* the caller sleeps on cond */
    char *client_id;

    struct slot *slots; /* ring, slot of seq s is slots[s % window] */
    int window;
    uint64_t base;     /* oldest seq whose slot is not yet released */
    uint64_t next_seq; /* seq of the next message */
    uint64_t cursor;   /* no QUEUED slot below this seq */
    size_t queued;     /* slots in SLOT_QUEUED */
    size_t unacked;    /* slots not yet acknowledged */
    uint64_t epoch;    /* bumped on every connection loss */
    bool connected;

    enum connect_state connect;
    int connect_code;
    bool disconnect_done;

    bool ever_connected;
    uint64_t acked;
    uint64_t resent;
    uint64_t late_acks;    /* first acks that came for a send of an earlier connection */
    uint64_t failures;     /* onFailure callbacks, any connection */
    struct ticket tickets; /* sentinel of the outstanding tickets' list */
    struct log_limit fail_limit;
};

/* ---- time ---- */

static struct timespec mono_deadline(int ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    return ts;
}

static bool ts_before(const struct timespec *a, const struct timespec *b)
{
    return a->tv_sec < b->tv_sec || (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}

/* Sleeps on cond (mu held) until signalled, WAKE_MS pass, or the deadline.
 * Returns false once the deadline has passed. */
static bool wait_until(struct publisher *p, const struct timespec *deadline)
{
    struct timespec now, wake = mono_deadline(WAKE_MS);
    clock_gettime(CLOCK_MONOTONIC, &now);
    if (!ts_before(&now, deadline))
        return false;
    if (ts_before(deadline, &wake))
        wake = *deadline;
    p->waiting = true;
    pthread_cond_timedwait(&p->cond, &p->mu, &wake);
    p->waiting = false;
    return true;
}

/* ---- slots ---- */

static struct slot *slot_of(struct publisher *p, uint64_t seq)
{
    return &p->slots[seq % (uint64_t)p->window];
}

/* The slot holding `seq` if it is still awaiting its acknowledgement. */
static struct slot *pending_slot(struct publisher *p, uint64_t seq)
{
    if (seq < p->base || seq >= p->next_seq)
        return NULL;
    struct slot *s = slot_of(p, seq);
    if (s->seq != seq || s->state == SLOT_FREE || s->state == SLOT_ACKED)
        return NULL;
    return s;
}

static void requeue(struct publisher *p, struct slot *s)
{
    s->state = SLOT_QUEUED;
    p->queued++;
    if (s->seq < p->cursor)
        p->cursor = s->seq;
}

/* Frees acknowledged slots at the start of the ring. Only the caller's
 * thread frees: a callback freeing a slot could pull the buffer from under a
 * resend of it that the caller is passing to MQTTAsync_sendMessage. */
static void release_acked(struct publisher *p)
{
    while (p->base < p->next_seq) {
        struct slot *s = slot_of(p, p->base);
        if (s->state != SLOT_ACKED)
            break;
        free(s->topic);
        s->topic = s->payload = NULL;
        s->state = SLOT_FREE;
        p->base++;
    }
    if (p->cursor < p->base)
        p->cursor = p->base;
}

static void wake_caller(struct publisher *p)
{
    if (p->waiting)
        pthread_cond_signal(&p->cond);
}

/* ---- tickets ---- */

static struct ticket *ticket_new(struct publisher *p, uint64_t seq, uint64_t epoch)
{
    struct ticket *t = malloc(sizeof *t);
    if (!t)
        return NULL;
    t->p = p;
    t->seq = seq;
    t->epoch = epoch;
    t->next = p->tickets.next;
    t->prev = &p->tickets;
    p->tickets.next->prev = t;
    p->tickets.next = t;
    return t;
}

static void ticket_free(struct ticket *t)
{
    t->prev->next = t->next;
    t->next->prev = t->prev;
    free(t);
}

/* ---- Paho callbacks (Paho's threads; never block) ---- */

static void on_send_success(void *context, MQTTAsync_successData *data)
{
    struct ticket *t = context;
    struct publisher *p = t->p;
    pthread_mutex_lock(&p->mu);
    struct slot *s = pending_slot(p, t->seq);
    if (s) {
        if (t->epoch != p->epoch)
            p->late_acks++;
        if (s->state == SLOT_QUEUED)
            p->queued--;
        s->state = SLOT_ACKED;
        p->acked++;
        p->unacked--;
        /* Waking the caller per ack costs a context switch per message; wake
         * it when a quarter of the window is free or everything is acked. */
        if ((size_t)p->window - p->unacked >= (size_t)(p->window + 3) / 4 || p->unacked == 0)
            wake_caller(p);
    }
    ticket_free(t);
    pthread_mutex_unlock(&p->mu);
}

static void on_send_failure(void *context, MQTTAsync_failureData *data)
{
    struct ticket *t = context;
    struct publisher *p = t->p;
    pthread_mutex_lock(&p->mu);
    struct slot *s = pending_slot(p, t->seq);
    p->failures++;
    log_debug("publisher %s: send of #%llu failed (paho %d, %s connection)", p->client_id,
              (unsigned long long)t->seq, data ? data->code : 0,
              t->epoch == p->epoch ? "current" : "earlier");
    /* A failure of a send from an earlier connection changes nothing: the
     * connection loss already queued the slot again. */
    if (s && s->state == SLOT_INFLIGHT && s->epoch == t->epoch) {
        requeue(p, s);
        /* -11 is Paho failing what was in flight when the connection
         * dropped; the connection loss is logged on its own. */
        if (!data || data->code != MQTTASYNC_OPERATION_INCOMPLETE)
            log_limited(&p->fail_limit, LOG_LVL_WARN,
                        "publisher %s: send failed (paho %d), will resend", p->client_id,
                        data ? data->code : 0);
        wake_caller(p);
    }
    ticket_free(t);
    pthread_mutex_unlock(&p->mu);
}

static void on_connection_lost(void *context, char *cause)
{
    struct publisher *p = context;
    pthread_mutex_lock(&p->mu);
    p->connected = false;
    p->epoch++;
    for (uint64_t seq = p->base; seq < p->next_seq; seq++) {
        struct slot *s = slot_of(p, seq);
        if (s->state == SLOT_INFLIGHT)
            requeue(p, s);
    }
    size_t unacked = p->unacked;
    pthread_mutex_unlock(&p->mu);
    log_warn("publisher %s: connection lost (%s); %zu unacknowledged messages kept for resending",
             p->client_id, cause ? cause : "no reason given", unacked);
}

static void on_connected(void *context, char *cause)
{
    struct publisher *p = context;
    pthread_mutex_lock(&p->mu);
    p->connected = true;
    pthread_cond_broadcast(&p->cond);
    bool reconnect = p->ever_connected;
    p->ever_connected = true;
    pthread_mutex_unlock(&p->mu);
    if (reconnect)
        log_info("publisher %s: reconnected", p->client_id);
}

static void on_connect_success(void *context, MQTTAsync_successData *data)
{
    struct publisher *p = context;
    pthread_mutex_lock(&p->mu);
    p->connect = CONN_OK;
    pthread_cond_broadcast(&p->cond);
    pthread_mutex_unlock(&p->mu);
}

static void on_connect_failure(void *context, MQTTAsync_failureData *data)
{
    struct publisher *p = context;
    pthread_mutex_lock(&p->mu);
    p->connect = CONN_FAILED;
    p->connect_code = data ? data->code : MQTTASYNC_FAILURE;
    pthread_cond_broadcast(&p->cond);
    pthread_mutex_unlock(&p->mu);
}

static void on_disconnect_done(void *context, MQTTAsync_successData *data)
{
    struct publisher *p = context;
    pthread_mutex_lock(&p->mu);
    p->disconnect_done = true;
    pthread_cond_broadcast(&p->cond);
    pthread_mutex_unlock(&p->mu);
}

static void on_disconnect_failed(void *context, MQTTAsync_failureData *data)
{
    on_disconnect_done(context, NULL);
}

/* A publisher subscribes to nothing; Paho insists on this callback. */
static int on_message(void *context, char *topic, int topic_len, MQTTAsync_message *msg)
{
    MQTTAsync_freeMessage(&msg);
    MQTTAsync_free(topic);
    return 1;
}

/* ---- sending (caller's thread) ---- */

static struct slot *next_queued(struct publisher *p)
{
    for (; p->cursor < p->next_seq; p->cursor++) {
        struct slot *s = slot_of(p, p->cursor);
        if (s->state == SLOT_QUEUED)
            return s;
    }
    return NULL;
}

/* Hands one slot to Paho; mu held on entry and exit, released around the
 * call. Returns false if Paho refused it (it stays queued). */
static bool send_slot(struct publisher *p, struct slot *s)
{
    uint64_t epoch = p->epoch;
    struct ticket *t = ticket_new(p, s->seq, epoch);
    if (!t) {
        log_limited(&p->fail_limit, LOG_LVL_ERROR, "publisher %s: out of memory", p->client_id);
        return false;
    }
    s->state = SLOT_SENDING;
    p->queued--;

    MQTTAsync_message msg = MQTTAsync_message_initializer;
    msg.payload = s->payload;
    msg.payloadlen = (int)s->len;
    msg.qos = s->qos;
    msg.retained = s->retained;
    MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;
    ro.onSuccess = on_send_success;
    ro.onFailure = on_send_failure;
    ro.context = t;

    pthread_mutex_unlock(&p->mu);
    int rc = MQTTAsync_sendMessage(p->client, s->topic, &msg, &ro);
    pthread_mutex_lock(&p->mu);

    if (rc != MQTTASYNC_SUCCESS) {
        ticket_free(t); /* Paho calls back only for accepted sends */
        if (s->state == SLOT_SENDING)
            requeue(p, s);
        if (rc != MQTTASYNC_DISCONNECTED)
            log_limited(&p->fail_limit, LOG_LVL_WARN, "publisher %s: paho refused a send (%d)",
                        p->client_id, rc);
        return false;
    }
    if (s->sent_before)
        p->resent++;
    s->sent_before = true;
    if (s->state == SLOT_SENDING) {
        /* If the connection dropped during the call, Paho may drop this send
         * without a callback that names this connection: send it again. */
        if (epoch == p->epoch) {
            s->state = SLOT_INFLIGHT;
            s->epoch = epoch;
        } else {
            requeue(p, s);
        }
    }
    return true;
}

/* Sends every queued slot while connected. mu held. */
static void pump(struct publisher *p)
{
    /* Bounded: each pass either takes a slot out of the queue or stops. */
    for (size_t budget = (size_t)p->window * 2; budget > 0; budget--) {
        if (!p->connected || p->queued == 0)
            return;
        struct slot *s = next_queued(p);
        if (!s) {
            p->cursor = p->base; /* cannot happen while queued > 0; resync */
            s = next_queued(p);
            if (!s)
                return;
        }
        if (!send_slot(p, s))
            return;
    }
}

/* ---- public API ---- */

static int create_client(struct publisher *p, const struct publisher_opts *o)
{
    MQTTAsync_createOptions co = MQTTAsync_createOptions_initializer;
    co.MQTTVersion = MQTTVERSION_3_1_1;
    co.sendWhileDisconnected = 0; /* the ring buffers while disconnected */
    /* Paho counts queued commands against this even when connected: room for
     * a full window from before a reconnect plus the resends of it. */
    co.maxBufferedMessages = p->window * 4 + 16;
    int rc = MQTTAsync_createWithOptions(&p->client, o->uri, o->client_id,
                                         MQTTCLIENT_PERSISTENCE_NONE, NULL, &co);
    if (rc != MQTTASYNC_SUCCESS) {
        log_error("publisher %s: cannot create client for %s (paho %d)", o->client_id, o->uri, rc);
        p->client = NULL;
        return -1;
    }
    if (MQTTAsync_setCallbacks(p->client, p, on_connection_lost, on_message, NULL) !=
            MQTTASYNC_SUCCESS ||
        MQTTAsync_setConnected(p->client, p, on_connected) != MQTTASYNC_SUCCESS) {
        log_error("publisher %s: cannot set callbacks", o->client_id);
        return -1;
    }
    return 0;
}

/* One connect attempt; returns 0 once connected, -1 on failure or deadline. */
static int connect_once(struct publisher *p, const struct publisher_opts *o,
                        const struct timespec *deadline, int timeout_ms)
{
    MQTTAsync_willOptions will = MQTTAsync_willOptions_initializer;
    MQTTAsync_SSLOptions ssl = MQTTAsync_SSLOptions_initializer;
    MQTTAsync_connectOptions co = MQTTAsync_connectOptions_initializer;
    co.MQTTVersion = MQTTVERSION_3_1_1;
    co.keepAliveInterval = o->keepalive_s > 0 ? o->keepalive_s : DEFAULT_KEEPALIVE_S;
    co.cleansession = o->clean_session ? 1 : 0;
    co.maxInflight = p->window;
    co.connectTimeout = timeout_ms / 1000 > 0 ? timeout_ms / 1000 : 1;
    co.retryInterval = 0;
    co.automaticReconnect = 1;
    co.minRetryInterval = RECONNECT_MIN_S;
    co.maxRetryInterval = RECONNECT_MAX_S;
    co.onSuccess = on_connect_success;
    co.onFailure = on_connect_failure;
    co.context = p;
    if (o->will_topic) {
        will.topicName = o->will_topic;
        will.message = o->will_payload ? o->will_payload : "";
        will.retained = o->will_retained ? 1 : 0;
        will.qos = 1;
        co.will = &will;
    }
    co.username = o->username; /* Paho copies both */
    co.password = o->password;
    if (strncmp(o->uri, "ssl://", 6) == 0 || strncmp(o->uri, "mqtts://", 8) == 0) {
        ssl.trustStore = o->ca_file;
        ssl.enableServerCertAuth = 1;
        ssl.verify = 1; /* the broker's name must match its certificate, as for pantaud */
        co.ssl = &ssl;
    }

    pthread_mutex_lock(&p->mu);
    p->connect = CONN_PENDING;
    pthread_mutex_unlock(&p->mu);
    int rc = MQTTAsync_connect(p->client, &co);
    if (rc != MQTTASYNC_SUCCESS) {
        log_error("publisher %s: connect to %s refused (paho %d)", o->client_id, o->uri, rc);
        return -1;
    }
    pthread_mutex_lock(&p->mu);
    while (p->connect == CONN_PENDING && wait_until(p, deadline))
        ;
    enum connect_state st = p->connect;
    int code = p->connect_code;
    pthread_mutex_unlock(&p->mu);
    if (st == CONN_OK)
        return 0;
    log_debug("publisher %s: connect to %s failed (%s %d)", o->client_id, o->uri,
              st == CONN_PENDING ? "timeout" : "paho", code);
    return -1;
}

static void free_publisher(struct publisher *p)
{
    if (p->client)
        MQTTAsync_destroy(&p->client);
    /* Paho calls nothing back after destroy: what is left is ours. */
    while (p->tickets.next != &p->tickets)
        ticket_free(p->tickets.next);
    if (p->slots) {
        for (int i = 0; i < p->window; i++)
            free(p->slots[i].topic);
        free(p->slots);
    }
    pthread_cond_destroy(&p->cond);
    pthread_mutex_destroy(&p->mu);
    free(p->client_id);
    free(p);
}

static int init_sync(struct publisher *p)
{
    pthread_condattr_t attr;
    if (pthread_condattr_init(&attr) != 0)
        return -1;
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    int rc = pthread_cond_init(&p->cond, &attr);
    pthread_condattr_destroy(&attr);
    if (rc != 0)
        return -1;
    if (pthread_mutex_init(&p->mu, NULL) != 0) {
        pthread_cond_destroy(&p->cond);
        return -1;
    }
    return 0;
}

int publisher_open(struct publisher **out, const struct publisher_opts *o)
{
    if (!o || !o->uri || !o->client_id || !o->client_id[0] || o->window < 0) {
        log_error("publisher: uri and client_id are required, window must be >= 0");
        return -1;
    }
    struct publisher *p = calloc(1, sizeof *p);
    if (!p || init_sync(p) != 0) {
        log_error("publisher %s: out of memory", o->client_id);
        free(p);
        return -1;
    }
    p->tickets.next = p->tickets.prev = &p->tickets;
    p->window = o->window > 0 ? o->window : DEFAULT_WINDOW;
    p->fail_limit = (struct log_limit)LOG_LIMIT_INIT;
    p->client_id = strdup(o->client_id);
    p->slots = calloc((size_t)p->window, sizeof *p->slots);
    if (!p->client_id || !p->slots) {
        log_error("publisher %s: out of memory", o->client_id);
        goto fail;
    }
    if (create_client(p, o) != 0)
        goto fail;

    /* Paho retries only connections that were up once, so the first connect
     * is retried here until the deadline (a broker may still be starting). */
    int timeout_ms = o->connect_timeout_ms > 0 ? o->connect_timeout_ms : DEFAULT_CONNECT_MS;
    struct timespec deadline = mono_deadline(timeout_ms);
    for (int attempt = 0; attempt < 10000; attempt++) {
        if (connect_once(p, o, &deadline, timeout_ms) == 0) {
            *out = p;
            return 0;
        }
        struct timespec pause = mono_deadline(CONNECT_RETRY_MS);
        if (!ts_before(&pause, &deadline))
            break;
        clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &pause, NULL);
    }
    log_error("publisher %s: cannot connect to %s within %d ms", o->client_id, o->uri, timeout_ms);
fail:
    free_publisher(p);
    return -1;
}

/* One allocation holding topic, NUL, payload, NUL; made before taking mu. */
static char *copy_message(const char *topic, const void *payload, size_t len, size_t *topic_len)
{
    size_t tlen = strlen(topic);
    char *buf = malloc(tlen + 1 + len + 1);
    if (!buf)
        return NULL;
    memcpy(buf, topic, tlen + 1);
    if (len)
        memcpy(buf + tlen + 1, payload, len);
    buf[tlen + 1 + len] = '\0';
    *topic_len = tlen;
    return buf;
}

static void store_message(struct publisher *p, char *buf, size_t tlen, size_t len, int qos,
                          int retained)
{
    struct slot *s = slot_of(p, p->next_seq);
    *s = (struct slot){.seq = p->next_seq,
                       .state = SLOT_QUEUED,
                       .qos = qos,
                       .retained = retained ? 1 : 0,
                       .topic = buf,
                       .payload = buf + tlen + 1,
                       .len = len};
    p->next_seq++;
    p->queued++;
    p->unacked++;
}

int publisher_send(struct publisher *p, const char *topic, const void *payload, size_t len, int qos,
                   int retained)
{
    if (!p || !topic || (len && !payload) || qos < 0 || qos > 2 || len > 268435455u) {
        log_error("publisher: bad arguments to publisher_send");
        return -1;
    }
    size_t tlen;
    char *buf = copy_message(topic, payload, len, &tlen);
    if (!buf) {
        log_error("publisher %s: out of memory for a %zu-byte message", p->client_id, len);
        return -1;
    }
    struct timespec deadline = mono_deadline(SEND_BLOCK_MS);
    pthread_mutex_lock(&p->mu);
    for (;;) {
        release_acked(p);
        pump(p);
        if (p->connected && p->next_seq - p->base < (uint64_t)p->window)
            break;
        if (!wait_until(p, &deadline)) {
            bool connected = p->connected;
            pthread_mutex_unlock(&p->mu);
            free(buf);
            log_error("publisher %s: no room to send for %d s (%s)", p->client_id,
                      SEND_BLOCK_MS / 1000, connected ? "window full" : "disconnected");
            return -1;
        }
    }
    store_message(p, buf, tlen, len, qos, retained);
    pump(p);
    pthread_mutex_unlock(&p->mu);
    return 0;
}

int publisher_flush(struct publisher *p, int timeout_ms)
{
    if (!p)
        return -1;
    struct timespec deadline = mono_deadline(timeout_ms > 0 ? timeout_ms : 0);
    pthread_mutex_lock(&p->mu);
    for (;;) {
        release_acked(p);
        pump(p);
        if (p->unacked == 0)
            break;
        if (!wait_until(p, &deadline)) {
            size_t left = p->unacked;
            pthread_mutex_unlock(&p->mu);
            log_warn("publisher %s: %zu messages still unacknowledged after %d ms", p->client_id,
                     left, timeout_ms);
            return -1;
        }
    }
    release_acked(p);
    pthread_mutex_unlock(&p->mu);
    return 0;
}

uint64_t publisher_acked(const struct publisher *p)
{
    struct publisher *mp = (struct publisher *)p; /* locking is not a logical change */
    pthread_mutex_lock(&mp->mu);
    uint64_t n = mp->acked;
    pthread_mutex_unlock(&mp->mu);
    return n;
}

uint64_t publisher_resent(const struct publisher *p)
{
    struct publisher *mp = (struct publisher *)p;
    pthread_mutex_lock(&mp->mu);
    uint64_t n = mp->resent;
    pthread_mutex_unlock(&mp->mu);
    return n;
}

static void disconnect(struct publisher *p, int timeout_ms)
{
    MQTTAsync_disconnectOptions dopt = MQTTAsync_disconnectOptions_initializer;
    dopt.timeout = timeout_ms;
    dopt.onSuccess = on_disconnect_done;
    dopt.onFailure = on_disconnect_failed;
    dopt.context = p;
    /* Also stops Paho's automatic reconnect when not connected right now. */
    if (MQTTAsync_disconnect(p->client, &dopt) != MQTTASYNC_SUCCESS)
        return;
    struct timespec deadline = mono_deadline(timeout_ms + DISCONNECT_GRACE_MS);
    pthread_mutex_lock(&p->mu);
    while (!p->disconnect_done && wait_until(p, &deadline))
        ;
    pthread_mutex_unlock(&p->mu);
}

void publisher_close(struct publisher *p, int flush_timeout_ms)
{
    if (!p)
        return;
    if (flush_timeout_ms > 0)
        publisher_flush(p, flush_timeout_ms);
    disconnect(p, 1000);
    log_debug("publisher %s: closed: acked %llu, resent %llu, late acks %llu, failures %llu",
              p->client_id, (unsigned long long)p->acked, (unsigned long long)p->resent,
              (unsigned long long)p->late_acks, (unsigned long long)p->failures);
    free_publisher(p);
}
