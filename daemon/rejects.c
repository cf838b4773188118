/* rejects.c — see rejects.h. */
#include "rejects.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int rejects_init(struct rejects *r)
{
    memset(r, 0, sizeof *r);
    r->ring = calloc(REJECTS_KEEP, sizeof *r->ring);
    return r->ring ? 0 : -1;
}

void rejects_free(struct rejects *r)
{
    free(r->ring);
    r->ring = NULL;
}

void rejects_add(struct rejects *r, int64_t time_ms, enum parse_reason reason, int element,
                 const char *detail, const char *topic, const void *payload, size_t kept_len,
                 size_t total_len)
{
    if ((unsigned)reason < PARSE_REASON_COUNT)
        r->total[reason]++;
    struct reject_entry *e = &r->ring[r->next];
    e->time_ms = time_ms;
    e->reason = reason;
    e->element = element;
    snprintf(e->topic, sizeof e->topic, "%s", topic);
    snprintf(e->detail, sizeof e->detail, "%s", detail ? detail : "");
    e->payload_len = kept_len < REJECTS_PAYLOAD_MAX ? kept_len : REJECTS_PAYLOAD_MAX;
    e->payload_total = total_len;
    memcpy(e->payload, payload, e->payload_len);
    r->next = (r->next + 1) % REJECTS_KEEP;
    if (r->count < REJECTS_KEEP)
        r->count++;
}

const struct reject_entry *rejects_get(const struct rejects *r, size_t i)
{
    if (i >= r->count)
        return NULL;
    return &r->ring[(r->next + REJECTS_KEEP - 1 - i) % REJECTS_KEEP];
}

uint64_t rejects_sum(const struct rejects *r)
{
    uint64_t sum = 0;
    for (int i = 0; i < PARSE_REASON_COUNT; i++)
        sum += r->total[i];
    return sum;
}
