/* ingest_queue.h — the hand-off from Paho's receive thread to the loop, kept
 * in a spool file so that what Paho acknowledged survives a crash.
 *
 * Paho acknowledges a QoS 1 message (PUBACK) as soon as its callback returns
 * (platform-facts.md), long before the loop commits it to SQLite. So the
 * callback appends the message to a ring in a memory-mapped file: when the
 * process dies (SIGKILL, the OOM killer, an abort) what it wrote to the
 * mapping is in the kernel's page cache and reaches the file, and the next
 * start takes every message not yet committed from there. Storing is
 * idempotent (a sample is its series and ts), so a message committed just
 * before a crash and taken again after it is stored once. No syscall per
 * message; the kernel writes the pages back on its own schedule, so a power
 * cut keeps only what it wrote (as SQLite's synchronous = NORMAL).
 *
 * Positions in the ring grow for ever (a record sits at offset % size) and
 * keep this order:
 *     released <= read <= written
 * [released, read) was taken by the loop and is in the open store group;
 * [read, written) waits. After the group commits the loop releases what it
 * read (released moves, and is saved in the file's header: a restart starts
 * there). If the commit fails it rewinds (read goes back to released) and
 * takes the same messages again later. Each record carries its own offset,
 * written last, so a restart tells a whole record from a torn one or from
 * an older lap's leftovers.
 *
 * Bounded: a push waits while the ring has no room or max_msgs messages are
 * unreleased (back-pressure reaches the broker through Paho; nothing is
 * dropped). After ingest_queue_close a push that would wait fails instead:
 * the message is not acknowledged and the broker delivers it again, and the
 * loop can make Paho calls that need Paho's mutex without deadlocking
 * against a blocked producer.
 *
 * Threads: pushes from any thread; everything else on the loop thread. */
#ifndef PANTAU_INGEST_QUEUE_H
#define PANTAU_INGEST_QUEUE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

/* One message, read from the ring: valid until released or rewound. */
struct ingest_msg {
    const char *topic; /* '\0'-terminated */
    const char *payload;
    size_t payload_len;   /* bytes kept */
    size_t payload_total; /* bytes the message had (> payload_len when truncated) */
    int64_t arrival_ms;
    int64_t arrival_us; /* the same to 4 µs, the live delay's start (-1: damaged) */
    bool retained;      /* the broker replayed a retained message on (re)subscribe */
};

struct spool_head;

struct ingest_queue {
    pthread_mutex_t mu;
    pthread_cond_t not_full;
    struct spool_head *head; /* the mapping: header, then the ring */
    char *ring;
    size_t map_len;
    uint64_t size; /* of the ring */
    int fd;        /* -1 without a file; holds the spool's lock */
    size_t max_msgs;
    bool closed;
    bool idle;        /* the consumer found nothing: the next push wakes it */
    uv_async_t *wake; /* not owned */
    /* Under mu: */
    uint64_t written, n_written; /* end of the last whole record; records */
    uint64_t released, n_released;
    uint64_t producer_waits; /* times a producer blocked on a full ring */
    /* Loop thread only: */
    uint64_t read, n_read_local; /* the consumer's cursor */
    uint64_t seen;               /* `written` when the consumer last looked */
    uint64_t trimmed;            /* pages before this are out of the mapping */
    uint64_t dropped;            /* at open: bytes of a damaged tail not replayed (logged) */
};

/* Maps the spool at path (created 0600 and sized to `size` bytes if new or
 * empty; an existing spool with messages keeps its size until they are
 * committed), or anonymous memory with path NULL. Everything the spool holds
 * past its released offset becomes the queue's first messages: *replayed
 * says how many. wake is sent when a message arrives in an idle queue (and
 * once now if there are replayed messages); it must stay valid until the
 * last push. Returns 0, or -1 with the reason logged. */
int ingest_queue_open(struct ingest_queue *q, const char *path, uint64_t size, size_t max_msgs,
                      uv_async_t *wake, uint64_t *replayed);
/* Unmaps. No producer may be running. What was not released stays in the
 * file for the next start. */
void ingest_queue_destroy(struct ingest_queue *q);

/* Appends topic and up to keep_len bytes of payload (total_len is the size
 * the message really had), arrived at arrival_us (wall clock, µs: kept to
 * the ms, and to 4 µs for the live delay). Blocks while full unless closed; closed and full
 * returns -1 (so does a message larger than half the ring). Any thread. */
int ingest_queue_push(struct ingest_queue *q, const char *topic, size_t topic_len,
                      const void *payload, size_t keep_len, size_t total_len, int64_t arrival_us,
                      bool retained);

/* The next waiting message, oldest first; false when none waits. */
bool ingest_queue_next(struct ingest_queue *q, struct ingest_msg *out);
/* Everything read so far is committed: free its room (and wake producers). */
void ingest_queue_release(struct ingest_queue *q);
/* What was read and not released waits again (after a failed commit);
 * returns how many messages that is. */
uint64_t ingest_queue_rewind(struct ingest_queue *q);

/* From now on pushes never block. */
void ingest_queue_close(struct ingest_queue *q);

struct ingest_queue_stats {
    uint64_t waiting;        /* messages not yet read */
    uint64_t unreleased;     /* messages acknowledged to the broker, not yet committed */
    uint64_t bytes;          /* of the ring those take */
    uint64_t size;           /* of the ring */
    uint64_t producer_waits; /* times a producer waited for room */
};
void ingest_queue_stats(struct ingest_queue *q, struct ingest_queue_stats *out);

#endif
