/* checkpoint.h — WAL checkpoints off the loop thread.
 *
 * SQLite's automatic checkpoint runs inside the COMMIT that crosses its
 * threshold, on the thread that commits, and fsyncs there: on pantaud's loop
 * that stalled the live push for up to half a second under heavy writes (an
 * import, a backlog). So the store commits with wal_autocheckpoint = 0 and
 * this module, once per interval, checkpoints on a libuv worker thread
 * through a connection of its own: PASSIVE passes for the bulk (they wait
 * for no reader or writer), then, once the WAL is long, one FULL pass that
 * holds the writer lock for a millisecond or two so that every frame is
 * copied and the writer restarts the WAL from its beginning at its next
 * transaction (checkpoint.c says why this is needed under a steady stream).
 *
 * Owns that connection and a timer. Loop thread, except the checkpoint. */
#ifndef PANTAU_CHECKPOINT_H
#define PANTAU_CHECKPOINT_H

#include <stdint.h>
#include <uv.h>

struct checkpointer;

struct checkpoint_stats {
    uint64_t runs;        /* checkpoints run */
    int64_t wal_frames;   /* frames in the WAL at the last run */
    uint64_t caught_up;   /* runs that copied every frame: the WAL restarts */
    uint64_t full_ns_max; /* longest the writer lock was held for that */
};

/* Starts checkpointing `db_path` every interval_ms. Returns 0 or -1. */
int checkpointer_start(struct checkpointer **out, uv_loop_t *loop, const char *db_path,
                       unsigned interval_ms);
/* Stops the timer; a checkpoint in flight finishes on its own. */
void checkpointer_stop(struct checkpointer *c);
/* After uv_run has returned. NULL is a no-op. */
void checkpointer_free(struct checkpointer *c);

/* Tests: restart the WAL past this many frames instead of 16384. */
void checkpointer_set_restart_frames(struct checkpointer *c, int frames);

void checkpointer_get_stats(const struct checkpointer *c, struct checkpoint_stats *out);

#endif
