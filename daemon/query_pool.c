/* query_pool.c — see query_pool.h. Connections are opened lazily and kept
 * on a free list; at most one per job in flight, so no more than libuv's
 * worker threads (4 by default) are ever open. */
#include "query_pool.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "loopwatch.h"
#include "util.h"

#define POOL_MAX 16

struct query_pool {
    uv_loop_t *loop;
    char *path;
    struct head *head;
    pthread_mutex_t mu;
    struct query_db *free_dbs[POOL_MAX];
    int n_free;
};

int query_pool_open(struct query_pool **out, uv_loop_t *loop, const char *db_path,
                    struct head *head)
{
    struct query_pool *p = calloc(1, sizeof *p);
    if (!p || !(p->path = strdup(db_path))) {
        free(p);
        return -1;
    }
    p->loop = loop;
    p->head = head;
    pthread_mutex_init(&p->mu, NULL);
    *out = p;
    return 0;
}

void query_pool_close(struct query_pool *p)
{
    if (!p)
        return;
    for (int i = 0; i < p->n_free; i++)
        query_close(p->free_dbs[i]);
    pthread_mutex_destroy(&p->mu);
    free(p->path);
    free(p);
}

static struct query_db *borrow(struct query_pool *p)
{
    struct query_db *db = NULL;
    pthread_mutex_lock(&p->mu);
    if (p->n_free > 0)
        db = p->free_dbs[--p->n_free];
    pthread_mutex_unlock(&p->mu);
    if (db)
        return db;
    return query_open(&db, p->path, p->head) == 0 ? db : NULL; /* query_open logs why not */
}

static void give_back(struct query_pool *p, struct query_db *db)
{
    pthread_mutex_lock(&p->mu);
    if (p->n_free < POOL_MAX) {
        p->free_dbs[p->n_free++] = db;
        db = NULL;
    }
    pthread_mutex_unlock(&p->mu);
    query_close(db); /* NULL is a no-op */
}

static void run_work(uv_work_t *req)
{
    struct query_job *job = req->data;
    struct query_db *db = borrow(job->pool);
    if (!db) {
        job->status = -1;
        return;
    }
    job->status = 0;
    job->work(job, db);
    give_back(job->pool, db);
}

static void after_work(uv_work_t *req, int status)
{
    struct query_job *job = req->data;
    uint64_t t0 = util_mono_ns();
    if (status != 0)
        job->status = -1; /* cancelled */
    job->done(job);
    loopwatch_note("query answer", t0);
}

int query_pool_submit(struct query_pool *p, struct query_job *job)
{
    job->pool = p;
    job->req.data = job;
    return uv_queue_work(p->loop, &job->req, run_work, after_work) == 0 ? 0 : -1;
}
