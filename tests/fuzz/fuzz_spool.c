/* fuzz_spool.c — libFuzzer target for reading a spool a previous run left
 * (ingest_queue.c): the input is the ring's first bytes (the rest zero), its
 * first 8 bytes the header's released offset. Opening must find only whole
 * records inside the ring, and every message read must lie inside it with
 * its topic ending where it says; pushing after them must not disturb them.
 * The file stands for one a crash, a bad disk or an operator left. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ingest_queue.h"
#include "log.h"

#define RING  (1u << 20)
#define HEAD  4096
#define MAGIC "pantau-spool-v1"

static char path[64];
static uv_loop_t loop;
static uv_async_t wake;

static void on_wake(uv_async_t *h)
{
    (void)h;
}

static void setup(void)
{
    snprintf(path, sizeof path, "/tmp/fuzz-spool-%d", (int)getpid());
    uv_loop_init(&loop);
    uv_async_init(&loop, &wake, on_wake);
    log_set_level(LOG_LVL_ERROR);
}

static void write_spool(const uint8_t *data, size_t size)
{
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    if (fd < 0)
        abort();
    char head[32] = MAGIC;
    uint64_t ring = RING, released = 0;
    memcpy(head + 16, &ring, 8);
    if (size >= 8) {
        memcpy(&released, data, 8);
        if (released & 1) /* mostly a plausible offset; else as it came */
            released &= 0xfffffffff8u;
        data += 8;
        size -= 8;
    }
    memcpy(head + 24, &released, 8);
    if (ftruncate(fd, HEAD + RING) != 0 || pwrite(fd, head, sizeof head, 0) != sizeof head)
        abort();
    size = size < RING ? size : RING;
    /* Where the ring's reading starts, so the records land where they are
     * looked for whatever the offset. */
    size_t at = (size_t)(released % RING), first = size < RING - at ? size : RING - at;
    if (pwrite(fd, data, first, (off_t)(HEAD + at)) != (ssize_t)first ||
        pwrite(fd, data + first, size - first, HEAD) != (ssize_t)(size - first))
        abort();
    close(fd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!path[0])
        setup();
    write_spool(data, size);
    struct ingest_queue q;
    uint64_t replayed;
    if (ingest_queue_open(&q, path, RING, 1000000, &wake, &replayed) != 0)
        return 0;
    struct ingest_msg m;
    uint64_t n = 0;
    while (ingest_queue_next(&q, &m)) {
        if (m.topic < q.ring || m.payload + m.payload_len > q.ring + q.size ||
            m.topic + strlen(m.topic) + 1 > m.payload || m.payload_len > m.payload_total)
            __builtin_trap();
        n++;
    }
    if (n != replayed)
        __builtin_trap();
    /* Committed, they make room; new messages read back whole. */
    ingest_queue_release(&q);
    if (ingest_queue_push(&q, "p/u/m", 5, "1", 1, 1, 1, false) != 0 || !ingest_queue_next(&q, &m) ||
        strcmp(m.topic, "p/u/m") != 0)
        __builtin_trap();
    ingest_queue_destroy(&q);
    return 0;
}
