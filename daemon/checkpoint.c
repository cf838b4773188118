/* checkpoint.c — see checkpoint.h.
 *
 * Why a PASSIVE checkpoint alone is not enough: SQLite restarts the WAL
 * from its beginning only when a writer begins while every frame has been
 * copied to the database. Under a steady stream the loop commits every
 * millisecond or two, so a PASSIVE checkpoint (two fsyncs long) always ends
 * with newer frames behind it: the WAL never restarted and grew by the
 * whole write volume (9 MB/s at 1,000 samples/s, 250 MB a few seconds
 * after a 50,000-sample burst), every commit appended to new blocks of an
 * ever longer file, and each checkpoint had more to read.
 *
 * So each run (every second) copies with PASSIVE passes (no lock the
 * writer needs), and once the WAL is long (RESTART_FRAMES), one FULL pass
 * takes the writer lock between two of the loop's commits to copy and sync
 * the few frames the PASSIVE passes left. The loop can wait for that lock
 * (the store's busy handler) as long as the pass holds it: two small
 * fsyncs, a millisecond or two. Waiting for readers inside that pass is
 * bounded (busy_wait) so a long query never stretches it. The writer's next
 * transaction then restarts the WAL, which never grows past RESTART_FRAMES
 * and a second's writes. */
#include "checkpoint.h"

#include <sqlite3.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "loopwatch.h"
#include "util.h"

/* The WAL is restarted (a FULL pass) once it holds this many frames (64 MiB
 * of 4 KiB pages; ~6 s at 1,000 samples/s): the loop may wait for the
 * writer lock that long each time (rounded up by the store's busy handler,
 * which sleeps 1, 2, 5, 10 ms...), so rarely; the copying itself is done
 * every second by the PASSIVE passes, so a longer WAL costs only disk. */
#define RESTART_FRAMES 16384
/* PASSIVE passes per run: the first copies the bulk, each next one what was
 * committed during the one before, so the FULL pass finds next to nothing. */
#define PASSIVE_PASSES 3
/* The FULL pass holds the writer lock through two fsyncs: when the last
 * PASSIVE pass (as many fsyncs) took longer than this, the disk is busy
 * (another process syncing) and the restart waits for a quicker second,
 * unless the WAL is already OVERDUE times past RESTART_FRAMES. */
#define QUICK_PASS_NS (8 * 1000000ull)
#define OVERDUE       4
/* The FULL pass's busy handler: polls for the writer lock (free between
 * the loop's turns) or for readers, every BUSY_POLL_NS, BUSY_POLLS times. */
#define BUSY_POLL_NS 200000
#define BUSY_POLLS   25

struct checkpointer {
    uv_loop_t *loop;
    uv_timer_t timer;
    uv_work_t work;
    char *path;
    sqlite3 *db; /* used only by the worker while `running` */
    bool running, stopping;
    int restart_frames;
    /* Written by the worker, read on the loop after it is done. */
    int rc;
    int64_t wal_frames;
    bool caught_up;
    uint64_t held_ns;              /* the FULL pass's time, holding the writer lock */
    struct checkpoint_stats stats; /* loop only */
    struct log_limit errors;
};

/* The FULL pass's busy handler: short polls, bounded in all. */
static int busy_wait(void *ctx, int calls)
{
    if (calls >= BUSY_POLLS)
        return 0;
    struct timespec ts = {0, BUSY_POLL_NS};
    nanosleep(&ts, NULL);
    return 1;
}

/* A connection learns that the database is in WAL mode, and opens the WAL,
 * only when it first reads: until then sqlite3_wal_checkpoint_v2 quietly
 * does nothing (which is what the first version of this module did, every
 * second, while the WAL grew without end). So it reads the schema once. */
static int open_db(struct checkpointer *c)
{
    if (c->db)
        return SQLITE_OK;
    int rc = sqlite3_open_v2(c->path, &c->db, SQLITE_OPEN_READWRITE, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(c->db, "SELECT 1 FROM sqlite_schema LIMIT 1", NULL, NULL, NULL);
    if (rc == SQLITE_OK)
        sqlite3_busy_handler(c->db, busy_wait, c);
    return rc;
}

/* One checkpoint pass; *log is the frames the WAL held at its start. */
static int pass(struct checkpointer *c, int mode, int *log)
{
    int done = 0;
    int rc = sqlite3_wal_checkpoint_v2(c->db, NULL, mode, log, &done);
    if (rc == SQLITE_OK || rc == SQLITE_BUSY)
        c->wal_frames = *log;
    /* PASSIVE never waits: SQLITE_BUSY means another checkpoint ran. */
    return rc == SQLITE_OK && done == *log ? SQLITE_OK : rc == SQLITE_OK ? SQLITE_BUSY : rc;
}

/* On the worker: PASSIVE passes; once the WAL is long, one FULL pass. */
static void run_checkpoint(uv_work_t *w)
{
    struct checkpointer *c = w->data;
    c->caught_up = false;
    c->held_ns = 0;
    if ((c->rc = open_db(c)) != SQLITE_OK)
        return;
    int log = 0;
    c->rc = pass(c, SQLITE_CHECKPOINT_PASSIVE, &log);
    if (c->rc != SQLITE_OK || log < c->restart_frames) {
        if (c->rc == SQLITE_BUSY) /* readers kept frames: copied next time */
            c->rc = SQLITE_OK;
        return;
    }
    uint64_t t0 = 0;
    for (int i = 1; i < PASSIVE_PASSES && c->rc == SQLITE_OK; i++) {
        t0 = util_mono_ns();
        c->rc = pass(c, SQLITE_CHECKPOINT_PASSIVE, &log);
    }
    if (c->rc == SQLITE_OK && util_mono_ns() - t0 > QUICK_PASS_NS &&
        log < OVERDUE * c->restart_frames)
        return; /* the disk is slow now: the loop would wait as long */
    /* Even with nothing left, the writer has committed during the passes:
     * only a pass holding the writer lock sees the WAL's true end. */
    t0 = util_mono_ns();
    if (c->rc == SQLITE_OK)
        c->rc = pass(c, SQLITE_CHECKPOINT_FULL, &log);
    c->held_ns = util_mono_ns() - t0;
    c->caught_up = c->rc == SQLITE_OK;
    if (c->rc == SQLITE_BUSY) /* a reader or the writer stayed: next time */
        c->rc = SQLITE_OK;
}

static void close_db(struct checkpointer *c)
{
    if (c->db)
        sqlite3_close(c->db);
    c->db = NULL;
}

static void checkpoint_done(uv_work_t *w, int status)
{
    struct checkpointer *c = w->data;
    uint64_t t0 = util_mono_ns();
    c->running = false;
    if (status == 0 && c->rc == SQLITE_OK) {
        c->stats.runs++;
        c->stats.wal_frames = c->wal_frames;
        c->stats.caught_up += c->caught_up;
        if (c->held_ns > c->stats.full_ns_max)
            c->stats.full_ns_max = c->held_ns;
    } else if (status == 0 && c->rc != SQLITE_BUSY) {
        log_limited(&c->errors, LOG_LVL_WARN, "checkpoint: %s",
                    c->db ? sqlite3_errmsg(c->db) : sqlite3_errstr(c->rc));
        close_db(c); /* opened afresh next time */
    }
    if (c->stopping)
        close_db(c);
    loopwatch_note("checkpoint done", t0);
}

static void on_timer(uv_timer_t *t)
{
    struct checkpointer *c = t->data;
    if (c->running || c->stopping)
        return;
    c->running = true;
    if (uv_queue_work(c->loop, &c->work, run_checkpoint, checkpoint_done) != 0)
        c->running = false;
}

int checkpointer_start(struct checkpointer **out, uv_loop_t *loop, const char *db_path,
                       unsigned interval_ms)
{
    struct checkpointer *c = calloc(1, sizeof *c);
    if (!c || !(c->path = strdup(db_path))) {
        free(c);
        return -1;
    }
    c->loop = loop;
    c->restart_frames = RESTART_FRAMES;
    c->work.data = c;
    uv_timer_init(loop, &c->timer);
    c->timer.data = c;
    uv_timer_start(&c->timer, on_timer, interval_ms, interval_ms);
    *out = c;
    return 0;
}

void checkpointer_stop(struct checkpointer *c)
{
    if (!c || c->stopping)
        return;
    c->stopping = true;
    uv_timer_stop(&c->timer);
    uv_close((uv_handle_t *)&c->timer, NULL);
    if (!c->running)
        close_db(c);
}

void checkpointer_free(struct checkpointer *c)
{
    if (!c)
        return;
    close_db(c);
    free(c->path);
    free(c);
}

void checkpointer_set_restart_frames(struct checkpointer *c, int frames)
{
    c->restart_frames = frames;
}

void checkpointer_get_stats(const struct checkpointer *c, struct checkpoint_stats *out)
{
    *out = c->stats;
}
