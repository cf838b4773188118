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
 * persistence): "connected but receiving nothing" cannot last.
 *
 * Federation (CONTRACT §7): with state_prefix (a hub) the same session also
 * subscribes to "<state_prefix>/+/state", whose payloads may be up to
 * state_max_bytes. With ingest_mqtt_offer (a regency that publishes) a
 * publisher thread of this module sends the latest offered STATE: the loop
 * only hands it over (a mutex held for a pointer swap) and never calls
 * Paho, because Paho's mutex is global (mqttasync_mutex: one for every
 * client of the process, so a second client would not avoid it) and
 * on_message holds it while it waits for a full spool, which only the loop
 * empties. The publisher thread may wait on that mutex meanwhile; it holds
 * no lock of ours while in Paho, so the loop goes on draining and it gets
 * through. ingest_mqtt_stop closes the queue (pushes stop waiting) before
 * joining it, so the join cannot wait on a blocked producer. */
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
    const char *state_prefix; /* hub: also "<state_prefix>/+/state"; NULL: not */
    size_t state_max_bytes;   /* payloads of those kept whole up to this */
};

/* Creates the client and starts connecting; returns at once. The queue must
 * outlive the client. Returns 0 and *out, or -1 (logged). */
int ingest_mqtt_start(struct ingest_mqtt **out, uv_loop_t *loop, const struct ingest_mqtt_opts *o,
                      struct ingest_queue *queue);

/* Connected to the broker, and subscription acknowledged. Loop thread. */
bool ingest_mqtt_connected(const struct ingest_mqtt *m);
bool ingest_mqtt_subscribed(const struct ingest_mqtt *m);
uint64_t ingest_mqtt_connects(const struct ingest_mqtt *m);

/* True for "<state_prefix>/<one level>/state" (any thread; pure). */
bool ingest_mqtt_is_state_topic(const char *state_prefix, const char *topic, size_t len);

/* Loop thread, any time after start: topic and payload are copied, and
 * replace any offer not yet sent. The publisher thread sends it with QoS 1,
 * retained, as soon as the client is connected; one that Paho did not take,
 * or whose PUBACK had not come when the connection was lost, is sent again
 * after the reconnect unless a newer one replaced it. Returns 0 or -1 (out
 * of memory, or the publisher could not start: logged). */
int ingest_mqtt_offer(struct ingest_mqtt *m, const char *topic, const char *payload, size_t len);

struct ingest_mqtt_pub_stats {
    uint64_t offered, sent, acked, failed;
};
void ingest_mqtt_pub_stats(struct ingest_mqtt *m, struct ingest_mqtt_pub_stats *out);

/* Disconnects (waiting up to 2 s for Paho), destroys the client, closes the
 * loop handles, frees m, then calls done(ctx) on the loop thread. Closes the
 * queue first. Every message Paho handed over is in the queue by then. */
void ingest_mqtt_stop(struct ingest_mqtt *m, void (*done)(void *ctx), void *ctx);

#endif
