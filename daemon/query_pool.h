/* query_pool.h — read-only database work off the loop thread.
 *
 * Owns a few read-only database connections (struct query_db; WAL lets
 * them read while the loop writes) and runs jobs on libuv's worker threads: job->work gets a
 * connection of its own for the duration, job->done then runs on the loop.
 * A long query or export therefore never stalls ingest or live push.
 *
 * The pool must outlive every submitted job: close it after uv_run has
 * returned (all work done). */
#ifndef PANTAU_QUERY_POOL_H
#define PANTAU_QUERY_POOL_H

#include <uv.h>

#include "query.h"

struct query_pool;

struct query_job {
    uv_work_t req; /* internal */
    struct query_pool *pool;
    /* Worker thread: db is read-only and this job's alone until it returns. */
    void (*work)(struct query_job *job, struct query_db *db);
    /* Loop thread, after work (also when the pool had no connection). */
    void (*done)(struct query_job *job);
    int status; /* 0, or -1 if work could not run */
};

/* head: the store's (store_head), read beside the database; may be NULL. */
int query_pool_open(struct query_pool **out, uv_loop_t *loop, const char *db_path,
                    struct head *head);
void query_pool_close(struct query_pool *p);

/* Queues the job. Returns 0, or -1 if it could not be queued (done is then
 * not called). */
int query_pool_submit(struct query_pool *p, struct query_job *job);

#endif
