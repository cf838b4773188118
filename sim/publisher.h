/* publisher.h — a blocking MQTT publisher over Paho MQTTAsync, for the
 * field-unit simulator, the tests and the benchmarks (never the daemon).
 *
 * One publisher is one MQTT connection. publisher_send() returns once the
 * message is handed to Paho; at most `window` QoS>0 messages are unacknowledged
 * at a time (send blocks while the window is full). A message is kept until the
 * broker acknowledges it: if the connection drops, the publisher reconnects by
 * itself and sends every unacknowledged message again (the receiver sees at
 * least once; pantaud's (series, ts) identity makes duplicates harmless).
 * Not thread-safe: one thread drives one publisher. */
#ifndef PANTAU_PUBLISHER_H
#define PANTAU_PUBLISHER_H

#include <stddef.h>
#include <stdint.h>

struct publisher;

struct publisher_opts {
    const char *uri;          /* tcp://127.0.0.1:1883 */
    const char *client_id;    /* required; unique per connection */
    int window;               /* max unacknowledged QoS>0 messages; 0 = 256 */
    int keepalive_s;          /* 0 = 30 */
    int clean_session;        /* 1 = fresh session each connect */
    const char *will_topic;   /* optional last will (field units: $status) */
    const char *will_payload; /* e.g. "offline" */
    int will_retained;
    int connect_timeout_ms; /* publisher_open gives up after this; 0 = 10000 */
    const char *username;   /* optional: a broker with a password file */
    const char *password;
    const char *ca_file; /* ssl:// or mqtts:// only; NULL: the system's CAs */
};

/* Connects and waits for the connection. Returns 0 and *out, or -1 with the
 * reason logged. */
int publisher_open(struct publisher **out, const struct publisher_opts *opts);

/* Queues one message (copied). Blocks while `window` messages are unacked or
 * the connection is down. Returns 0, or -1 if the publisher was closed or the
 * message could not be accepted within 60 s. */
int publisher_send(struct publisher *p, const char *topic, const void *payload, size_t len, int qos,
                   int retained);

/* Waits until every message sent so far is acknowledged (QoS>0) or written
 * (QoS 0). Returns 0, or -1 on timeout. */
int publisher_flush(struct publisher *p, int timeout_ms);

/* Messages acknowledged by the broker so far, and resends after reconnects. */
uint64_t publisher_acked(const struct publisher *p);
uint64_t publisher_resent(const struct publisher *p);

/* Disconnects (after flushing up to flush_timeout_ms) and frees everything. */
void publisher_close(struct publisher *p, int flush_timeout_ms);

#endif
