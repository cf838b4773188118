/* ingest_mqtt.h — pantaud's MQTT subscription (Paho MQTTAsync, MQTT 3.1.1).
 *
 * Owns the Paho client and two loop handles (a uv_async_t for Paho's events,
 * a uv_timer_t for connect retries and the stop deadline).
 *
 * Threads: Paho calls back on its own threads. messageArrived only copies the
 * message into the ingest_queue (which may block it: back-pressure) and
 * returns; connection state goes to atomics read by the loop. The loop thread
 * calls Paho only (a) to connect, when no connection exists, and (b) in
 * ingest_mqtt_stop, after the queue is closed so no producer can be blocked
 * holding Paho's mutex.
 *
 * Session: fixed client id, cleansession 0, QoS 1 on "<prefix>/#", so the
 * broker queues what field units publish while pantaud is away. Paho
 * reconnects by itself with back-off; every (re)connect subscribes again,
 * which also covers a broker that lost our session (restart without
 * persistence): "connected but receiving nothing" cannot last. */
#ifndef PANTAU_INGEST_MQTT_H
#define PANTAU_INGEST_MQTT_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "ingest_queue.h"

struct ingest_mqtt;

struct ingest_mqtt_opts {
    const char *uri, *client_id, *prefix;
    const char *username, *password;            /* NULL: anonymous */
    const char *ca_file, *cert_file, *key_file; /* ssl://; NULL: system CAs, no client cert */
    int tls_insecure;
    int keepalive_s;
};

/* Creates the client and starts connecting; returns at once. The queue must
 * outlive the client. Returns 0 and *out, or -1 (logged). */
int ingest_mqtt_start(struct ingest_mqtt **out, uv_loop_t *loop, const struct ingest_mqtt_opts *o,
                      struct ingest_queue *queue);

/* Connected to the broker, and subscription acknowledged. Loop thread. */
bool ingest_mqtt_connected(const struct ingest_mqtt *m);
bool ingest_mqtt_subscribed(const struct ingest_mqtt *m);
uint64_t ingest_mqtt_connects(const struct ingest_mqtt *m);

/* Disconnects (waiting up to 2 s for Paho), destroys the client, closes the
 * loop handles, frees m, then calls done(ctx) on the loop thread. Closes the
 * queue first. Every message Paho handed over is in the queue by then. */
void ingest_mqtt_stop(struct ingest_mqtt *m, void (*done)(void *ctx), void *ctx);

#endif
