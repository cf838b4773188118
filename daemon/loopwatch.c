/* loopwatch.c — see loopwatch.h. */
#include "loopwatch.h"

#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

#include "buf.h"
#include "log.h"
#include "util.h"

#define NOTES_MAX 8 /* distinct notes kept per turn; the rest count as not noted */

struct note {
    const char *what;
    uint64_t ns;
    uint32_t count;
};

struct loopwatch {
    uv_loop_t *loop;
    uv_prepare_t prepare;
    uint64_t slow_ns;
    uint64_t last_ns, last_idle_ns; /* at the previous prepare */
    uint64_t last_cpu_ns;           /* the loop thread's CPU time then */
    struct note notes[NOTES_MAX];
    int n_notes;
    struct loopwatch_stats stats;
    struct log_limit slow_log;
};

/* The running watch, for loopwatch_note (modules need no pointer). */
static struct loopwatch *running;

void loopwatch_note(const char *what, uint64_t since_ns)
{
    struct loopwatch *w = running;
    if (!w)
        return;
    uint64_t ns = util_mono_ns() - since_ns;
    for (int i = 0; i < w->n_notes; i++)
        if (w->notes[i].what == what) {
            w->notes[i].ns += ns;
            w->notes[i].count++;
            return;
        }
    if (w->n_notes < NOTES_MAX)
        w->notes[w->n_notes++] = (struct note){what, ns, 1};
}

/* CPU time of the calling thread: a turn that took much longer than its
 * CPU time waited (for the disk, a lock, or a CPU another process had). */
static uint64_t thread_cpu_ns(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) != 0)
        return 0;
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* The turn starts again: what libuv said it waited so far is not to be
 * trusted (see loopwatch.h), and the notes belong to the part dropped. */
static void restart_turn(struct loopwatch *w)
{
    w->last_ns = util_mono_ns();
    w->last_idle_ns = uv_metrics_idle_time(w->loop);
    w->last_cpu_ns = thread_cpu_ns();
    w->n_notes = 0;
}

void loopwatch_signal_woke(void)
{
    if (running)
        restart_turn(running);
}

static void log_slow_turn(struct loopwatch *w, uint64_t busy_ns, uint64_t cpu_ns)
{
    struct buf line;
    uint64_t noted = 0;
    buf_init(&line, 0);
    for (int i = 0; i < w->n_notes; i++) {
        const struct note *n = &w->notes[i];
        noted += n->ns;
        buf_printf(&line, "%s %.1f ms", n->what, n->ns / 1e6);
        if (n->count > 1)
            buf_printf(&line, " (x%u)", n->count);
        buf_puts(&line, ", ");
    }
    buf_printf(&line, "not noted %.1f ms", busy_ns > noted ? (busy_ns - noted) / 1e6 : 0.0);
    log_limited(&w->slow_log, LOG_LVL_WARN, "loop: a turn took %.1f ms (%.1f ms on CPU): %s",
                busy_ns / 1e6, cpu_ns / 1e6, buf_failed(&line) ? "?" : line.data);
    buf_free(&line);
}

/* Runs just before the loop waits in epoll: the time since the previous
 * prepare, minus what was spent waiting, is this turn's work. */
static void on_prepare(uv_prepare_t *h)
{
    struct loopwatch *w = h->data;
    uint64_t now = util_mono_ns();
    uint64_t idle = uv_metrics_idle_time(w->loop);
    uint64_t span = now - w->last_ns, waited = idle - w->last_idle_ns;
    uint64_t busy = span > waited ? span - waited : 0;
    uint64_t cpu = thread_cpu_ns();
    uint64_t cpu_used = cpu - w->last_cpu_ns;
    w->last_ns = now;
    w->last_idle_ns = idle;
    w->last_cpu_ns = cpu;
    w->stats.turns++;
    if (busy > w->stats.worst_ns)
        w->stats.worst_ns = busy;
    if (busy >= w->slow_ns) {
        w->stats.slow_turns++;
        log_slow_turn(w, busy, cpu_used);
    }
    w->n_notes = 0;
}

int loopwatch_start(struct loopwatch **out, uv_loop_t *loop, unsigned slow_ms)
{
    struct loopwatch *w = calloc(1, sizeof *w);
    if (!w)
        return -1;
    /* Only before the loop runs; an error means the metric is missing. */
    if (uv_loop_configure(loop, UV_METRICS_IDLE_TIME) != 0 ||
        uv_prepare_init(loop, &w->prepare) != 0) {
        free(w);
        return -1;
    }
    w->loop = loop;
    w->slow_ns = (uint64_t)slow_ms * 1000000u;
    w->prepare.data = w;
    restart_turn(w);
    uv_prepare_start(&w->prepare, on_prepare);
    uv_unref((uv_handle_t *)&w->prepare); /* never keeps the loop alive */
    running = w;
    *out = w;
    return 0;
}

void loopwatch_stop(struct loopwatch *w)
{
    if (!w || uv_is_closing((uv_handle_t *)&w->prepare))
        return;
    if (running == w)
        running = NULL;
    uv_close((uv_handle_t *)&w->prepare, NULL);
}

void loopwatch_free(struct loopwatch *w)
{
    if (running == w)
        running = NULL;
    free(w);
}

void loopwatch_get_stats(const struct loopwatch *w, struct loopwatch_stats *out)
{
    *out = w->stats;
}
