/* hasher.c — see hasher.h. */
#include "hasher.h"

#include <pthread.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "log.h"

#define HASHER_NICE 19

struct hasher {
    uv_loop_t *loop;
    uv_async_t wake; /* a thread -> the loop: jobs are done */
    pthread_t *threads;
    int n;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct hasher_job *todo, *todo_tail; /* waiting for a thread, in order */
    struct hasher_job *done, *done_tail; /* worked, waiting for the loop */
    bool stopping;
};

static void push(struct hasher_job **head, struct hasher_job **tail, struct hasher_job *j)
{
    j->next = NULL;
    if (*tail)
        (*tail)->next = j;
    else
        *head = j;
    *tail = j;
}

static struct hasher_job *pop(struct hasher_job **head, struct hasher_job **tail)
{
    struct hasher_job *j = *head;
    if (j && !(*head = j->next))
        *tail = NULL;
    return j;
}

static void *thread_main(void *arg)
{
    struct hasher *h = arg;
    /* This thread only: on Linux a thread's nice value is its own. */
    (void)setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), HASHER_NICE);
    pthread_mutex_lock(&h->mu);
    for (;;) {
        while (!h->todo && !h->stopping)
            pthread_cond_wait(&h->cv, &h->mu);
        if (h->stopping)
            break;
        struct hasher_job *j = pop(&h->todo, &h->todo_tail);
        pthread_mutex_unlock(&h->mu);
        j->work(j);
        pthread_mutex_lock(&h->mu);
        push(&h->done, &h->done_tail, j);
        uv_async_send(&h->wake);
    }
    pthread_mutex_unlock(&h->mu);
    return NULL;
}

/* The loop: every job done so far, in the order they were done. */
static void on_wake(uv_async_t *a)
{
    struct hasher *h = a->data;
    pthread_mutex_lock(&h->mu);
    struct hasher_job *list = h->done;
    h->done = h->done_tail = NULL;
    pthread_mutex_unlock(&h->mu);
    while (list) {
        struct hasher_job *j = list;
        list = j->next;
        j->done(j);
    }
}

/* Ends the threads started so far (none has a job: nothing was submitted). */
static void end_threads(struct hasher *h)
{
    pthread_mutex_lock(&h->mu);
    h->stopping = true;
    pthread_cond_broadcast(&h->cv);
    pthread_mutex_unlock(&h->mu);
    for (int i = 0; i < h->n; i++)
        pthread_join(h->threads[i], NULL); /* at most one job's work each */
    h->n = 0;
}

int hasher_start(struct hasher **out, uv_loop_t *loop, int n)
{
    struct hasher *h = calloc(1, sizeof *h);
    if (!h || !(h->threads = calloc((size_t)n, sizeof *h->threads))) {
        free(h);
        log_error("hasher: out of memory");
        return -1;
    }
    h->loop = loop;
    pthread_mutex_init(&h->mu, NULL);
    pthread_cond_init(&h->cv, NULL);
    /* The threads first: none sends a wake before a job is submitted, and
     * none can be before this returns. */
    int rc = 0;
    for (; h->n < n && rc == 0; h->n++)
        if ((rc = pthread_create(&h->threads[h->n], NULL, thread_main, h)) != 0) {
            log_error("hasher: cannot start a thread (error %d)", rc);
            break;
        }
    if (rc == 0 && (rc = uv_async_init(loop, &h->wake, on_wake)) != 0)
        log_error("hasher: cannot create a wake handle: %s", uv_strerror(rc));
    if (rc != 0) {
        end_threads(h);
        hasher_free(h);
        return -1;
    }
    h->wake.data = h;
    *out = h;
    return 0;
}

void hasher_submit(struct hasher *h, struct hasher_job *j)
{
    j->cancelled = false;
    pthread_mutex_lock(&h->mu);
    push(&h->todo, &h->todo_tail, j);
    pthread_cond_signal(&h->cv);
    pthread_mutex_unlock(&h->mu);
}

void hasher_stop(struct hasher *h)
{
    if (!h || h->stopping)
        return;
    end_threads(h);
    /* No thread is left: what is done is handed over, what waits is
     * cancelled. A done may submit again (the next waiting job): it lands
     * in todo and is cancelled in turn. */
    for (;;) {
        struct hasher_job *j = pop(&h->done, &h->done_tail);
        if (!j && (j = pop(&h->todo, &h->todo_tail)) != NULL)
            j->cancelled = true;
        if (!j)
            break;
        j->done(j);
    }
    uv_close((uv_handle_t *)&h->wake, NULL);
}

void hasher_free(struct hasher *h)
{
    if (!h)
        return;
    pthread_cond_destroy(&h->cv);
    pthread_mutex_destroy(&h->mu);
    free(h->threads);
    free(h);
}
