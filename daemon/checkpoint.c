/* checkpoint.c — see checkpoint.h. */
#include "checkpoint.h"

#include <sqlite3.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "loopwatch.h"
#include "util.h"

struct checkpointer {
    uv_loop_t *loop;
    uv_timer_t timer;
    uv_work_t work;
    char *path;
    sqlite3 *db; /* used only by the worker while `running` */
    bool running, stopping;
    /* Written by the worker, read on the loop after it is done. */
    int rc, log_frames;
    struct checkpoint_stats stats;
    struct log_limit errors;
};

static void run_checkpoint(uv_work_t *w)
{
    struct checkpointer *c = w->data;
    c->rc = SQLITE_OK;
    if (!c->db) {
        c->rc = sqlite3_open_v2(c->path, &c->db, SQLITE_OPEN_READWRITE, NULL);
        if (c->rc != SQLITE_OK)
            return;
    }
    c->log_frames = 0;
    c->rc = sqlite3_wal_checkpoint_v2(c->db, NULL, SQLITE_CHECKPOINT_PASSIVE, &c->log_frames, NULL);
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
        c->stats.wal_frames = c->log_frames;
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

void checkpointer_get_stats(const struct checkpointer *c, struct checkpoint_stats *out)
{
    *out = c->stats;
}
