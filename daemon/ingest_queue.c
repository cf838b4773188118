/* ingest_queue.c — see ingest_queue.h. */
#include "ingest_queue.h"

#include <stdlib.h>
#include <string.h>

int ingest_queue_init(struct ingest_queue *q, size_t max_msgs, size_t max_bytes, uv_async_t *wake)
{
    memset(q, 0, sizeof *q);
    if (pthread_mutex_init(&q->mu, NULL) != 0)
        return -1;
    if (pthread_cond_init(&q->not_full, NULL) != 0) {
        pthread_mutex_destroy(&q->mu);
        return -1;
    }
    q->tail = &q->head;
    q->max_msgs = max_msgs;
    q->max_bytes = max_bytes;
    q->wake = wake;
    return 0;
}

void ingest_queue_destroy(struct ingest_queue *q)
{
    struct ingest_msg *m = q->head;
    while (m) {
        struct ingest_msg *next = m->next;
        free(m);
        m = next;
    }
    q->head = NULL;
    pthread_cond_destroy(&q->not_full);
    pthread_mutex_destroy(&q->mu);
}

static bool is_full(const struct ingest_queue *q)
{
    return q->msgs > 0 && (q->msgs >= q->max_msgs || q->bytes >= q->max_bytes);
}

int ingest_queue_push(struct ingest_queue *q, const char *topic, size_t topic_len,
                      const void *payload, size_t keep_len, size_t total_len, int64_t arrival_ms,
                      bool retained)
{
    size_t size = sizeof(struct ingest_msg) + topic_len + 1 + keep_len;
    struct ingest_msg *m = malloc(size);
    if (!m)
        return -1;
    m->next = NULL;
    m->size = size;
    m->arrival_ms = arrival_ms;
    m->retained = retained;
    m->payload_len = keep_len;
    m->payload_total = total_len;
    memcpy(m->data, topic, topic_len);
    m->data[topic_len] = '\0';
    m->payload = m->data + topic_len + 1;
    memcpy(m->payload, payload, keep_len);

    pthread_mutex_lock(&q->mu);
    if (is_full(q) && !q->closed) {
        q->producer_waits++;
        while (is_full(q) && !q->closed)
            pthread_cond_wait(&q->not_full, &q->mu);
    }
    bool was_empty = q->head == NULL;
    *q->tail = m;
    q->tail = &m->next;
    q->msgs++;
    q->bytes += size;
    q->pushed++;
    pthread_mutex_unlock(&q->mu);
    if (was_empty)
        uv_async_send(q->wake);
    return 0;
}

struct ingest_msg *ingest_queue_take(struct ingest_queue *q, size_t max)
{
    pthread_mutex_lock(&q->mu);
    struct ingest_msg *first = q->head, *last = NULL, *m = q->head;
    size_t n = 0;
    for (; m && n < max; m = m->next, n++) {
        q->bytes -= m->size;
        last = m;
    }
    if (last) {
        q->head = last->next;
        last->next = NULL;
        if (!q->head)
            q->tail = &q->head;
        q->msgs -= n;
        pthread_cond_broadcast(&q->not_full);
    }
    pthread_mutex_unlock(&q->mu);
    return last ? first : NULL;
}

void ingest_queue_close(struct ingest_queue *q)
{
    pthread_mutex_lock(&q->mu);
    q->closed = true;
    pthread_cond_broadcast(&q->not_full);
    pthread_mutex_unlock(&q->mu);
}

void ingest_queue_stats(struct ingest_queue *q, uint64_t *queued, uint64_t *producer_waits)
{
    pthread_mutex_lock(&q->mu);
    *queued = q->msgs;
    *producer_waits = q->producer_waits;
    pthread_mutex_unlock(&q->mu);
}
