/* hasher.h — threads of pantaud's own for slow work that may wait, such as
 * hashing a password (Argon2id: tens of ms of CPU and 64 MiB each).
 *
 * Why not libuv's worker pool: those threads run at the loop's priority and
 * are shared with the queries, and on two cores a burst of sign-ins took CPU
 * from the loop, Paho's receive thread and the broker, so the wall screens'
 * live push lagged. The hasher's threads lower their own priority (nice 19)
 * once, at start: a sign-in may wait a few ms more, a wall screen may not.
 * (A thread cannot raise its priority again without privilege, which is why
 * these are threads of their own and not libuv's, borrowed and lowered.)
 *
 * hasher_start, hasher_submit, hasher_stop and hasher_free are called on the
 * loop thread; a job's `work` runs on a hasher thread, its `done` on the loop
 * thread, exactly once each (after hasher_stop, `done` of a job never run is
 * still called, with `work` skipped: job->cancelled is then true). */
#ifndef PANTAU_HASHER_H
#define PANTAU_HASHER_H

#include <stdbool.h>
#include <uv.h>

struct hasher_job {
    void (*work)(struct hasher_job *j); /* a hasher thread */
    void (*done)(struct hasher_job *j); /* the loop thread; may free j */
    bool cancelled;                     /* set when stopped before work ran */
    struct hasher_job *next;            /* hasher's */
};

struct hasher;

/* Starts n threads (n >= 1). 0, or -1 (logged) with nothing started. */
int hasher_start(struct hasher **out, uv_loop_t *loop, int n);
/* Queues j (the caller owns it until its done). Loop thread. */
void hasher_submit(struct hasher *h, struct hasher_job *j);
/* Waits for the jobs running (one hash each, at most), calls the done of
 * every job left, and closes the wake handle. Loop thread, while the loop
 * runs; NULL is a no-op. */
void hasher_stop(struct hasher *h);
/* After uv_run has returned. NULL is a no-op. */
void hasher_free(struct hasher *h);

#endif
