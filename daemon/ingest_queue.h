/* ingest_queue.h — the hand-off from Paho's receive thread to the loop.
 *
 * Producers (Paho's callback thread) copy each message into one allocation
 * and append it under the mutex; the first message into an empty queue wakes
 * the loop with uv_async_send (as h2o's multithread.c does: later ones ride
 * on the same wake-up). The consumer (loop thread) takes messages in batches.
 *
 * Bounded: while the queue holds max_msgs messages or max_bytes bytes,
 * ingest_queue_push blocks (back-pressure reaches the broker through Paho,
 * nothing is dropped). A queue that was empty always takes one message, so a
 * single oversized message cannot wedge it. After ingest_queue_close, pushes
 * never block (they may exceed the bound): the loop can then make Paho calls
 * that need Paho's mutex without deadlocking against a blocked producer. */
#ifndef PANTAU_INGEST_QUEUE_H
#define PANTAU_INGEST_QUEUE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

struct ingest_msg {
    struct ingest_msg *next;
    int64_t arrival_ms;
    bool retained;        /* the broker replayed a retained message on (re)subscribe */
    size_t size;          /* of this allocation, for the byte bound */
    size_t payload_len;   /* bytes stored in payload */
    size_t payload_total; /* bytes the message had (> payload_len when truncated) */
    char *payload;        /* points into data, after the topic */
    char data[];          /* topic '\0' payload */
};

struct ingest_queue {
    pthread_mutex_t mu;
    pthread_cond_t not_full;
    struct ingest_msg *head, **tail;
    size_t msgs, bytes;
    size_t max_msgs, max_bytes;
    bool closed;
    uv_async_t *wake;        /* not owned */
    uint64_t pushed;         /* messages ever pushed */
    uint64_t producer_waits; /* times a producer blocked on a full queue */
};

/* wake must stay valid until the last push (after the Paho client is gone). */
int ingest_queue_init(struct ingest_queue *q, size_t max_msgs, size_t max_bytes, uv_async_t *wake);
/* Frees any messages still queued. No producer may be running. */
void ingest_queue_destroy(struct ingest_queue *q);

/* Copies topic and up to keep_len bytes of payload (total_len is the size
 * the message really had). Blocks while full unless closed. Returns 0 or -1
 * (out of memory). Any thread. */
int ingest_queue_push(struct ingest_queue *q, const char *topic, size_t topic_len,
                      const void *payload, size_t keep_len, size_t total_len, int64_t arrival_ms,
                      bool retained);

/* Detaches up to max messages (oldest first) as a NULL-terminated list the
 * caller frees with free(); wakes blocked producers. NULL when empty. */
struct ingest_msg *ingest_queue_take(struct ingest_queue *q, size_t max);

/* From now on pushes never block. */
void ingest_queue_close(struct ingest_queue *q);

/* Messages waiting and the producer waits so far, read under the lock. */
void ingest_queue_stats(struct ingest_queue *q, uint64_t *queued, uint64_t *producer_waits);

#endif
