/* rejects.h — what ingest refused: counters by reason and the most recent
 * rejected messages (time, reason, topic, first 1 KiB of payload) for an
 * operator to inspect. Owned and touched by the loop thread only.
 *
 * The ring holds at most REJECTS_KEEP entries; adding to a full ring
 * overwrites the oldest. Memory is allocated once, in rejects_init. */
#ifndef PANTAU_REJECTS_H
#define PANTAU_REJECTS_H

#include <stddef.h>
#include <stdint.h>

#include "parse.h"

#define REJECTS_KEEP        1000
#define REJECTS_TOPIC_MAX   256
#define REJECTS_PAYLOAD_MAX 1024

struct reject_entry {
    int64_t time_ms;
    enum parse_reason reason;
    int element; /* index in a batch, -1 for the whole message */
    char topic[REJECTS_TOPIC_MAX];
    char detail[128];
    size_t payload_len;   /* bytes kept in payload (<= REJECTS_PAYLOAD_MAX) */
    size_t payload_total; /* the message's full size */
    unsigned char payload[REJECTS_PAYLOAD_MAX];
};

struct rejects {
    uint64_t total[PARSE_REASON_COUNT];
    struct reject_entry *ring; /* REJECTS_KEEP entries */
    size_t next;               /* where the next entry goes */
    size_t count;              /* entries in use, <= REJECTS_KEEP */
};

int rejects_init(struct rejects *r);
void rejects_free(struct rejects *r);

/* Counts one rejection and remembers it (payload truncated to 1 KiB). */
void rejects_add(struct rejects *r, int64_t time_ms, enum parse_reason reason, int element,
                 const char *detail, const char *topic, const void *payload, size_t kept_len,
                 size_t total_len);

/* The i-th most recent entry (0 = newest), or NULL past the end. */
const struct reject_entry *rejects_get(const struct rejects *r, size_t i);

uint64_t rejects_sum(const struct rejects *r);

#endif
