/* ingest_queue.c — see ingest_queue.h. */
#define _GNU_SOURCE /* fallocate's FALLOC_FL_PUNCH_HOLE */
#include "ingest_queue.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

#define SPOOL_MAGIC   "pantau-spool-v1"
#define SPOOL_HEAD_AT 4096 /* the ring starts on the second page */
/* Offsets only grow: 2^62 bytes is a century at a TB a day, and keeps
 * every sum of offsets and sizes far from wrapping. */
#define SPOOL_OFFSET_MAX (1ULL << 62)

struct spool_head {
    char magic[16];
    uint64_t size;             /* of the ring */
    _Atomic uint64_t released; /* a restart reads from here */
};

enum { REC_MSG = 1, REC_WRAP = 2 };

/* A record: this header, then topic '\0' payload, padded to 8 bytes. */
struct rec {
    _Atomic uint64_t stamp; /* its offset + 1 (never 0), written last */
    uint32_t len;           /* of the whole record */
    uint16_t kind;
    uint8_t retained;
    uint8_t arrival_sub; /* arrival's µs past arrival_ms in 4 µs units (0-249):
                          * spare room of the header, 0 in older spools */
    int64_t arrival_ms;
    uint32_t topic_len, payload_len;
    uint64_t payload_total;
    char data[];
};

#define REC_HDR sizeof(struct rec)

static uint64_t lap_left(const struct ingest_queue *q, uint64_t off)
{
    return q->size - off % q->size;
}

static struct rec *rec_at(const struct ingest_queue *q, uint64_t off)
{
    return (struct rec *)(q->ring + off % q->size);
}

/* Where the record at or after `off` starts: past the end of a lap too
 * short for a header, and past a wrap record. */
static uint64_t rec_start(const struct ingest_queue *q, uint64_t off)
{
    if (lap_left(q, off) < REC_HDR)
        off += lap_left(q, off);
    const struct rec *r = rec_at(q, off);
    if (r->kind == REC_WRAP)
        off += r->len;
    return off;
}

static uint64_t rec_len(size_t topic_len, size_t keep)
{
    return (REC_HDR + topic_len + 1 + keep + 7) & ~(uint64_t)7;
}

/* ---- opening: a new spool, or the one a previous run left ---- */

static bool stamped(const struct ingest_queue *q, uint64_t off)
{
    return atomic_load_explicit(&rec_at(q, off)->stamp, memory_order_acquire) == off + 1;
}

/* A whole message record at off, as the producer leaves it. */
static bool rec_valid(const struct ingest_queue *q, uint64_t off)
{
    const struct rec *r = rec_at(q, off);
    return stamped(q, off) && r->kind == REC_MSG && r->len <= lap_left(q, off) &&
           r->len == rec_len(r->topic_len, r->payload_len) && r->data[r->topic_len] == '\0' &&
           r->payload_total >= r->payload_len;
}

/* Bytes past `end` that a run wrote and cannot be replayed: records
 * stamped with their own offset (so written this lap: not an older lap's
 * leftovers, nor a push torn by a crash, whose stamp is never written) after
 * the first that is not whole. Only damage (a bad disk, an edit) leaves
 * them. A clean spool costs a look at the next PROBE bytes; only evidence
 * of damage there (or a stamped but broken record at `end`) has the whole
 * window looked at (once, at start: it reads every page of the ring). */
#define PROBE (1u << 20)

static uint64_t stamped_end(const struct ingest_queue *q, uint64_t o)
{
    uint64_t len = rec_at(q, o)->len;
    return o + (len >= REC_HDR && len <= lap_left(q, o) ? len : REC_HDR);
}

static uint64_t dropped_tail(const struct ingest_queue *q, uint64_t end)
{
    uint64_t limit = q->released + q->size, last = end;
    bool damaged = false;
    for (uint64_t o = end; o < limit && o < end + PROBE && !damaged; o += 8)
        damaged = lap_left(q, o) >= REC_HDR && stamped(q, o);
    for (uint64_t o = end; damaged && o < limit; o += 8) {
        if (lap_left(q, o) < REC_HDR || !stamped(q, o))
            continue;
        uint64_t stop = stamped_end(q, o) < limit ? stamped_end(q, o) : limit;
        if (stop > last)
            last = stop;
    }
    return last - end;
}

/* Finds the records written after the released offset, up to the first
 * that is not whole (a crash in the middle of a push) or is an older lap's. */
static void scan(struct ingest_queue *q)
{
    uint64_t off = atomic_load(&q->head->released);
    q->released = q->read = q->seen = q->trimmed = off;
    for (;;) {
        uint64_t at = off;
        if (lap_left(q, at) < REC_HDR)
            at += lap_left(q, at);
        else if (stamped(q, at) && rec_at(q, at)->kind == REC_WRAP &&
                 rec_at(q, at)->len == lap_left(q, at))
            at += lap_left(q, at);
        if (!rec_valid(q, at) || at + rec_at(q, at)->len - q->released > q->size)
            break;
        off = at + rec_at(q, at)->len;
        q->n_written++;
    }
    q->written = off;
    q->dropped = dropped_tail(q, off);
}

static int map(struct ingest_queue *q, int fd)
{
    int flags = fd < 0 ? MAP_PRIVATE | MAP_ANONYMOUS : MAP_SHARED;
    void *p = mmap(NULL, q->map_len, PROT_READ | PROT_WRITE, flags, fd, 0);
    if (p == MAP_FAILED)
        return -1;
    q->head = p;
    q->ring = (char *)p + SPOOL_HEAD_AT;
    return 0;
}

/* Sizes the file (its blocks reserved now: a full disk must not turn a
 * later write into the mapping into SIGBUS) and writes an empty header. */
static int spool_create(struct ingest_queue *q, const char *path)
{
    int rc = ftruncate(q->fd, 0) != 0 ? errno : posix_fallocate(q->fd, 0, (off_t)q->map_len);
    if (rc != 0) {
        log_error("ingest: cannot reserve %llu bytes for the spool %s: %s",
                  (unsigned long long)q->map_len, path, strerror(rc));
        return -1;
    }
    if (map(q, q->fd) != 0) {
        log_error("ingest: cannot map the spool %s: %s", path, strerror(errno));
        return -1;
    }
    memcpy(q->head->magic, SPOOL_MAGIC, sizeof q->head->magic);
    q->head->size = q->size;
    atomic_store(&q->head->released, 0);
    return 0;
}

/* The header of an existing spool; false if the file is not one. */
static bool read_head(int fd, const char *path, off_t file_len, struct spool_head *h)
{
    if (file_len < SPOOL_HEAD_AT || pread(fd, h, sizeof *h, 0) != (ssize_t)sizeof *h ||
        memcmp(h->magic, SPOOL_MAGIC, sizeof h->magic) != 0 || h->size < (1u << 20) ||
        h->size % 8 != 0 || (uint64_t)file_len != SPOOL_HEAD_AT + h->size || h->released % 8 != 0 ||
        h->released > SPOOL_OFFSET_MAX) {
        log_error("ingest: %s is not a pantau spool (move it away if it is no longer needed)",
                  path);
        return false;
    }
    return true;
}

static int spool_open(struct ingest_queue *q, const char *path, uint64_t size)
{
    q->fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (q->fd < 0) {
        log_error("ingest: cannot open the spool %s: %s", path, strerror(errno));
        return -1;
    }
    if (flock(q->fd, LOCK_EX | LOCK_NB) != 0) {
        log_error("ingest: the spool %s is in use (another pantaud?): %s", path, strerror(errno));
        return -1;
    }
    struct stat st;
    struct spool_head h;
    if (fstat(q->fd, &st) != 0 || (st.st_size > 0 && !read_head(q->fd, path, st.st_size, &h)))
        return -1;
    q->size = st.st_size > 0 ? h.size : size;
    q->map_len = SPOOL_HEAD_AT + q->size;
    if (st.st_size == 0)
        return spool_create(q, path);
    if (map(q, q->fd) != 0) {
        log_error("ingest: cannot map the spool %s: %s", path, strerror(errno));
        return -1;
    }
    scan(q);
    if (q->dropped) /* CONTRACT §10 */
        log_warn("ingest: the spool %s is damaged after %llu whole messages: its tail cannot be "
                 "replayed, %llu bytes dropped",
                 path, (unsigned long long)q->n_written, (unsigned long long)q->dropped);
    if (q->written == q->released && q->size != size) { /* empty: take the configured size */
        munmap(q->head, q->map_len);
        q->head = NULL;
        q->size = size;
        q->map_len = SPOOL_HEAD_AT + size;
        return spool_create(q, path);
    }
    if (q->size != size)
        log_warn("ingest: the spool %s keeps its size (%llu bytes) until its messages are stored",
                 path, (unsigned long long)q->size);
    return 0;
}

int ingest_queue_open(struct ingest_queue *q, const char *path, uint64_t size, size_t max_msgs,
                      uv_async_t *wake, uint64_t *replayed)
{
    memset(q, 0, sizeof *q);
    q->fd = -1;
    q->max_msgs = max_msgs;
    q->wake = wake;
    q->idle = true;
    size &= ~(uint64_t)7;
    int rc;
    if (path) {
        rc = spool_open(q, path, size);
    } else {
        q->size = size;
        q->map_len = SPOOL_HEAD_AT + size;
        rc = map(q, -1);
        if (rc != 0)
            log_error("ingest: cannot map %llu bytes: %s", (unsigned long long)q->map_len,
                      strerror(errno));
    }
    if (rc == 0 && pthread_mutex_init(&q->mu, NULL) == 0) {
        if (pthread_cond_init(&q->not_full, NULL) == 0) {
            *replayed = q->n_written;
            if (q->n_written)
                uv_async_send(wake);
            return 0;
        }
        pthread_mutex_destroy(&q->mu);
    }
    if (q->head)
        munmap(q->head, q->map_len);
    if (q->fd >= 0)
        close(q->fd);
    return -1;
}

void ingest_queue_destroy(struct ingest_queue *q)
{
    if (q->head)
        munmap(q->head, q->map_len);
    q->head = NULL;
    if (q->fd >= 0)
        close(q->fd); /* and with it the lock */
    q->fd = -1;
    pthread_cond_destroy(&q->not_full);
    pthread_mutex_destroy(&q->mu);
}

/* ---- the producer ---- */

static void put_rec(struct ingest_queue *q, uint64_t off, const char *topic, size_t topic_len,
                    const void *payload, size_t keep_len, size_t total_len, int64_t arrival_us,
                    bool retained, uint64_t len)
{
    struct rec *r = rec_at(q, off);
    r->len = (uint32_t)len;
    r->kind = REC_MSG;
    r->retained = retained;
    r->arrival_ms = arrival_us / 1000;
    r->arrival_sub = (uint8_t)(arrival_us % 1000 / 4);
    r->topic_len = (uint32_t)topic_len;
    r->payload_len = (uint32_t)keep_len;
    r->payload_total = total_len;
    memcpy(r->data, topic, topic_len);
    r->data[topic_len] = '\0';
    memcpy(r->data + topic_len + 1, payload, keep_len);
    atomic_store_explicit(&r->stamp, off + 1, memory_order_release);
}

/* Bytes to leave at the end of the lap before a record of len. */
static uint64_t skip_for(const struct ingest_queue *q, uint64_t len)
{
    uint64_t left = lap_left(q, q->written);
    return left < len ? left : 0;
}

static bool has_room(const struct ingest_queue *q, uint64_t len)
{
    return q->written + skip_for(q, len) + len - q->released <= q->size &&
           q->n_written - q->n_released < q->max_msgs;
}

int ingest_queue_push(struct ingest_queue *q, const char *topic, size_t topic_len,
                      const void *payload, size_t keep_len, size_t total_len, int64_t arrival_us,
                      bool retained)
{
    uint64_t len = rec_len(topic_len, keep_len);
    if (len > q->size / 2) /* [mqtt] queue_bytes >= 1 MiB and MQTT's limits keep it under */
        return -1;
    pthread_mutex_lock(&q->mu);
    if (!has_room(q, len)) {
        q->producer_waits++;
        while (!has_room(q, len) && !q->closed)
            pthread_cond_wait(&q->not_full, &q->mu);
        if (!has_room(q, len)) {
            pthread_mutex_unlock(&q->mu);
            return -1;
        }
    }
    uint64_t off = q->written, skip = skip_for(q, len);
    if (skip >= REC_HDR) {
        struct rec *w = rec_at(q, off);
        w->len = (uint32_t)skip;
        w->kind = REC_WRAP;
        atomic_store_explicit(&w->stamp, off + 1, memory_order_release);
    }
    off += skip;
    put_rec(q, off, topic, topic_len, payload, keep_len, total_len, arrival_us, retained, len);
    q->written = off + len;
    q->n_written++;
    bool wake = q->idle;
    q->idle = false;
    pthread_mutex_unlock(&q->mu);
    if (wake)
        uv_async_send(q->wake);
    return 0;
}

/* ---- the consumer (loop thread) ---- */

/* A record's arrival in µs; -1 when a damaged spool's arrival_ms is out of
 * range (its live delay is not counted). */
static int64_t rec_arrival_us(const struct rec *r)
{
    if (r->arrival_ms < 0 || r->arrival_ms > INT64_MAX / 1000 - 1)
        return -1;
    return r->arrival_ms * 1000 + (r->arrival_sub < 250 ? r->arrival_sub : 249) * 4;
}

bool ingest_queue_next(struct ingest_queue *q, struct ingest_msg *out)
{
    if (q->read == q->seen) {
        pthread_mutex_lock(&q->mu);
        q->seen = q->written;
        q->idle = q->read == q->seen;
        pthread_mutex_unlock(&q->mu);
        if (q->read == q->seen)
            return false;
    }
    uint64_t off = rec_start(q, q->read);
    const struct rec *r = rec_at(q, off);
    *out = (struct ingest_msg){.topic = r->data,
                               .payload = r->data + r->topic_len + 1,
                               .payload_len = r->payload_len,
                               .payload_total = r->payload_total,
                               .arrival_ms = r->arrival_ms,
                               .arrival_us = rec_arrival_us(r),
                               .retained = r->retained};
    q->read = off + r->len;
    q->n_read_local++;
    return true;
}

/* Pages behind the released offset are not needed again until the ring
 * comes round, yet they would count in pantaud's RSS for ever (the whole
 * ring, once it has cycled). Dropping them from the mapping keeps RSS to
 * what is in use; for a shared file mapping the data stays in the page cache
 * and the file (a dirty page stays dirty), even where the producer is
 * already writing the next lap into the same page. Not for an anonymous
 * mapping, where it would zero that. A call per MiB, not per commit. */
#define TRIM_EVERY (1u << 20)

/* Released bytes of a file's ring are also cut out of the file: a hole,
 * then its blocks allocated again (so a later write into the mapping never
 * meets a full disk). A punched page leaves the page cache even when dirty,
 * so a message committed within the kernel's writeback delay (30 s) never
 * reaches the disk: in steady state the spool costs the disk nothing (issue
 * 20: it was ~40 bytes a sample). Only where the producers have not begun
 * the ring's next lap (pos + size >= written), under their lock, since a
 * punch drops whatever the range holds. Returns false where it cannot (the
 * caller then only drops the range from the mapping). */
static bool punch(struct ingest_queue *q, uint64_t pos, uint64_t from, uint64_t to)
{
    off_t at = (off_t)(SPOOL_HEAD_AT + from), len = (off_t)(to - from);
    pthread_mutex_lock(&q->mu);
    bool ok = pos + (to - from) + q->size >= q->written &&
              fallocate(q->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, at, len) == 0 &&
              fallocate(q->fd, FALLOC_FL_KEEP_SIZE, at, len) == 0;
    pthread_mutex_unlock(&q->mu);
    return ok;
}

static void trim(struct ingest_queue *q, uint64_t align)
{
    uint64_t upto = q->released & ~(align - 1);
    while (q->trimmed < upto) {
        uint64_t at = q->trimmed % q->size;
        uint64_t n = upto - q->trimmed;
        if (n > q->size - at)
            n = q->size - at; /* up to the end of the lap, then from its start */
        uint64_t from = (at + 4095) & ~(uint64_t)4095, to = (at + n) & ~(uint64_t)4095;
        if (to > from && !punch(q, q->trimmed + (from - at), from, to))
            madvise(q->ring + from, to - from, MADV_DONTNEED);
        q->trimmed += n;
    }
}

void ingest_queue_release(struct ingest_queue *q)
{
    if (q->released == q->read)
        return;
    pthread_mutex_lock(&q->mu);
    q->released = q->read;
    q->n_released = q->n_read_local;
    atomic_store_explicit(&q->head->released, q->read, memory_order_release);
    pthread_cond_broadcast(&q->not_full);
    pthread_mutex_unlock(&q->mu);
    /* Under load a trim per MiB; when the queue runs dry (a quiet moment),
     * every whole page released, so that what waits for writeback is only
     * what waits for the loop. */
    if (q->fd >= 0 && q->released - q->trimmed >= TRIM_EVERY)
        trim(q, TRIM_EVERY);
    else if (q->fd >= 0 && q->released == q->seen && q->released - q->trimmed >= 4096)
        trim(q, 4096);
}

uint64_t ingest_queue_rewind(struct ingest_queue *q)
{
    uint64_t n = q->n_read_local - q->n_released;
    q->read = q->released;
    q->n_read_local = q->n_released;
    return n;
}

void ingest_queue_close(struct ingest_queue *q)
{
    pthread_mutex_lock(&q->mu);
    q->closed = true;
    pthread_cond_broadcast(&q->not_full);
    pthread_mutex_unlock(&q->mu);
}

void ingest_queue_stats(struct ingest_queue *q, struct ingest_queue_stats *out)
{
    pthread_mutex_lock(&q->mu);
    out->waiting = q->n_written - q->n_read_local;
    out->unreleased = q->n_written - q->n_released;
    out->bytes = q->written - q->released;
    out->size = q->size;
    out->producer_waits = q->producer_waits;
    pthread_mutex_unlock(&q->mu);
}
