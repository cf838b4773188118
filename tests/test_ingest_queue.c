/* test_ingest_queue.c — the spool: what was pushed and not released is read
 * again after the process goes away (a destroy without release stands for
 * a crash: the file is all a restart has), through wrap-arounds, torn
 * records and rewinds; never twice what was released. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "harness.h"
#include "ingest_queue.h"

#define MIB (1u << 20)

static uv_loop_t loop;
static uv_async_t wake;
static char spool_path[512];

static void on_wake(uv_async_t *h)
{
    (void)h;
}

static void setup(const char *name)
{
    uv_loop_init(&loop);
    uv_async_init(&loop, &wake, on_wake);
    snprintf(spool_path, sizeof spool_path, "%s/%s-spool", harness_tmpdir(), name);
    unlink(spool_path);
}

static void teardown(void)
{
    uv_close((uv_handle_t *)&wake, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
}

static int open_spool(struct ingest_queue *q, uint64_t size, uint64_t *replayed)
{
    return ingest_queue_open(q, spool_path, size, 1000000, &wake, replayed);
}

/* Message i: topic "t/<i>", a payload of i % 700 bytes (so records of many
 * sizes meet the end of the ring), arrival i ms and (i % 997) µs (kept to
 * 4 µs: the live delay's precision). */
static int push(struct ingest_queue *q, int i)
{
    char topic[32], payload[700];
    int tlen = snprintf(topic, sizeof topic, "t/%d", i);
    size_t plen = (size_t)i % sizeof payload;
    memset(payload, 'a' + i % 26, plen);
    return ingest_queue_push(q, topic, (size_t)tlen, payload, plen, plen,
                             (int64_t)i * 1000 + i % 997, i % 3 == 0);
}

/* The next message is message i. */
static int next_is(struct ingest_queue *q, int i)
{
    struct ingest_msg m;
    char topic[32];
    snprintf(topic, sizeof topic, "t/%d", i);
    if (!ingest_queue_next(q, &m) || strcmp(m.topic, topic) != 0 || m.arrival_ms != i ||
        m.arrival_us != (int64_t)i * 1000 + i % 997 / 4 * 4 || m.payload_len != (size_t)i % 700 ||
        m.retained != (i % 3 == 0))
        return -1;
    for (size_t k = 0; k < m.payload_len; k++)
        if (m.payload[k] != 'a' + i % 26)
            return -1;
    return 0;
}

TEST(spool_released_is_never_read_again)
{
    struct ingest_queue q;
    uint64_t replayed;
    setup("released");
    CHECK(open_spool(&q, MIB, &replayed) == 0);
    CHECK_INT(replayed, 0);
    for (int i = 0; i < 100; i++)
        CHECK(push(&q, i) == 0);
    for (int i = 0; i < 100; i++)
        CHECK(next_is(&q, i) == 0);
    struct ingest_msg m;
    CHECK(!ingest_queue_next(&q, &m));
    ingest_queue_release(&q);
    ingest_queue_destroy(&q);
    CHECK(open_spool(&q, MIB, &replayed) == 0);
    CHECK_INT(replayed, 0);
    CHECK(!ingest_queue_next(&q, &m));
    ingest_queue_destroy(&q);
    teardown();
}

/* Many laps of a 1 MiB ring, then a crash with messages read but not
 * released and others not read: the restart reads exactly those, in order. */
TEST(spool_unreleased_survive_across_laps)
{
    struct ingest_queue q;
    uint64_t replayed;
    setup("laps");
    CHECK(open_spool(&q, MIB, &replayed) == 0);
    int i = 0;
    for (int round = 0; round < 40; round++) { /* ~40 x 100 x 400 bytes: many laps */
        for (int k = 0; k < 100; k++)
            CHECK(push(&q, i + k) == 0);
        for (int k = 0; k < 100; k++)
            CHECK(next_is(&q, i + k) == 0);
        ingest_queue_release(&q);
        i += 100;
    }
    for (int k = 0; k < 1500; k++) /* more than a lap's worth is unreleased */
        CHECK(push(&q, i + k) == 0);
    for (int k = 0; k < 500; k++)
        CHECK(next_is(&q, i + k) == 0);
    struct ingest_queue_stats st;
    ingest_queue_stats(&q, &st);
    CHECK_INT(st.unreleased, 1500);
    CHECK_INT(st.waiting, 1000);
    ingest_queue_destroy(&q); /* the crash */

    CHECK(open_spool(&q, MIB, &replayed) == 0);
    CHECK_INT(replayed, 1500);
    for (int k = 0; k < 1500; k++)
        CHECK(next_is(&q, i + k) == 0);
    struct ingest_msg m;
    CHECK(!ingest_queue_next(&q, &m));
    /* Committed after the restart: not read a third time. */
    ingest_queue_release(&q);
    ingest_queue_destroy(&q);
    CHECK(open_spool(&q, MIB, &replayed) == 0);
    CHECK_INT(replayed, 0);
    ingest_queue_destroy(&q);
    teardown();
}

/* A crash in the middle of a push leaves a record without its stamp: the
 * restart reads up to it, and new pushes go on from there. */
TEST(spool_torn_record_ends_the_replay)
{
    struct ingest_queue q;
    uint64_t replayed;
    setup("torn");
    CHECK(open_spool(&q, MIB, &replayed) == 0);
    for (int i = 0; i < 9; i++)
        CHECK(push(&q, i) == 0);
    uint64_t last = q.written; /* where message 9 goes */
    CHECK(push(&q, 9) == 0);
    ingest_queue_destroy(&q);

    int fd = open(spool_path, O_RDWR);
    CHECK(fd >= 0);
    uint64_t zero = 0;
    CHECK(pwrite(fd, &zero, sizeof zero, (off_t)(4096 + last)) == (ssize_t)sizeof zero);
    close(fd);

    CHECK(open_spool(&q, MIB, &replayed) == 0);
    CHECK_INT(replayed, 9);
    CHECK_INT(q.dropped, 0); /* a torn push was never whole */
    CHECK(push(&q, 100) == 0);
    for (int i = 0; i < 9; i++)
        CHECK(next_is(&q, i) == 0);
    CHECK(next_is(&q, 100) == 0);
    ingest_queue_destroy(&q);
    teardown();
}

/* CONTRACT §10: a record damaged in the middle (its length overwritten)
 * ends the replay there, and the bytes written after it that cannot be
 * replayed are counted (and logged); a torn last push drops nothing that
 * was whole. */
TEST(spool_damaged_middle_counts_the_dropped_tail)
{
    struct ingest_queue q;
    uint64_t replayed, at4 = 0;
    setup("damaged");
    CHECK(open_spool(&q, MIB, &replayed) == 0);
    for (int i = 0; i < 10; i++) {
        if (i == 4)
            at4 = q.written;
        CHECK(push(&q, i) == 0);
    }
    uint64_t end = q.written;
    ingest_queue_destroy(&q);
    CHECK(open_spool(&q, MIB, &replayed) == 0);
    CHECK_INT(q.dropped, 0); /* whole: nothing dropped */
    ingest_queue_destroy(&q);

    int fd = open(spool_path, O_RDWR);
    CHECK(fd >= 0);
    uint32_t bad = 3; /* struct rec's len, after its 8-byte stamp */
    CHECK(pwrite(fd, &bad, sizeof bad, (off_t)(4096 + at4 + 8)) == (ssize_t)sizeof bad);
    close(fd);

    CHECK(open_spool(&q, MIB, &replayed) == 0);
    CHECK_INT(replayed, 4);
    CHECK_INT(q.dropped, end - at4);
    for (int i = 0; i < 4; i++)
        CHECK(next_is(&q, i) == 0);
    ingest_queue_destroy(&q);
    teardown();
}

TEST(spool_rewind_reads_the_group_again)
{
    struct ingest_queue q;
    uint64_t replayed;
    setup("rewind");
    CHECK(open_spool(&q, MIB, &replayed) == 0);
    for (int i = 0; i < 8; i++)
        CHECK(push(&q, i) == 0);
    for (int i = 0; i < 3; i++)
        CHECK(next_is(&q, i) == 0);
    ingest_queue_release(&q);
    for (int i = 3; i < 6; i++)
        CHECK(next_is(&q, i) == 0);
    CHECK_INT(ingest_queue_rewind(&q), 3);
    for (int i = 3; i < 8; i++)
        CHECK(next_is(&q, i) == 0);
    ingest_queue_destroy(&q);
    teardown();
}

/* Full: a push after close fails (the message stays unacknowledged, with
 * the broker) rather than wait or overwrite what is not committed. */
TEST(spool_full_refuses_after_close)
{
    struct ingest_queue q;
    uint64_t replayed;
    setup("full");
    CHECK(ingest_queue_open(&q, spool_path, MIB, 50, &wake, &replayed) == 0);
    for (int i = 0; i < 50; i++)
        CHECK(push(&q, i) == 0);
    ingest_queue_close(&q);
    CHECK(push(&q, 50) == -1); /* 50 messages is the bound */
    for (int i = 0; i < 50; i++)
        CHECK(next_is(&q, i) == 0);
    CHECK(push(&q, 50) == -1); /* read is not committed */
    ingest_queue_release(&q);
    CHECK(push(&q, 50) == 0);
    CHECK(next_is(&q, 50) == 0);
    ingest_queue_destroy(&q);
    teardown();
}

TEST(spool_refuses_a_file_that_is_not_one_or_in_use)
{
    struct ingest_queue q, q2;
    uint64_t replayed;
    setup("foreign");
    FILE *f = fopen(spool_path, "w");
    CHECK(f != NULL);
    fputs("SQLite format 3\n", f);
    fclose(f);
    CHECK(open_spool(&q, MIB, &replayed) != 0);
    unlink(spool_path);
    CHECK(open_spool(&q, MIB, &replayed) == 0);
    CHECK(open_spool(&q2, MIB, &replayed) != 0); /* locked by q */
    ingest_queue_destroy(&q);
    teardown();
}

/* An empty spool takes the configured size; one with messages keeps its
 * own until they are read. */
TEST(spool_resizes_only_when_empty)
{
    struct ingest_queue q;
    uint64_t replayed;
    setup("resize");
    CHECK(open_spool(&q, MIB, &replayed) == 0);
    CHECK(push(&q, 7) == 0);
    ingest_queue_destroy(&q);
    CHECK(open_spool(&q, 2 * MIB, &replayed) == 0);
    CHECK_INT(replayed, 1);
    CHECK_INT(q.size, MIB);
    CHECK(next_is(&q, 7) == 0);
    ingest_queue_release(&q);
    ingest_queue_destroy(&q);
    CHECK(open_spool(&q, 2 * MIB, &replayed) == 0);
    CHECK_INT(replayed, 0);
    CHECK_INT(q.size, 2 * MIB);
    ingest_queue_destroy(&q);
    teardown();
}

TEST_MAIN(CASE(spool_damaged_middle_counts_the_dropped_tail),
          CASE(spool_released_is_never_read_again), CASE(spool_unreleased_survive_across_laps),
          CASE(spool_torn_record_ends_the_replay), CASE(spool_rewind_reads_the_group_again),
          CASE(spool_full_refuses_after_close),
          CASE(spool_refuses_a_file_that_is_not_one_or_in_use), CASE(spool_resizes_only_when_empty))
