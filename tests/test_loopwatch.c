/* test_loopwatch.c — the slow-turn watch counts work, not waiting, when a
 * signal wakes the loop.
 *
 * A real loop and a real signal: a helper thread (which blocks the signal,
 * so the kernel delivers it to the loop's thread, interrupting epoll_wait)
 * sends SIGUSR1 after the loop has waited WAIT_MS; the signal's callback
 * does `work_ms` of work and arms a timer that ends the loop a turn later,
 * after the prepare that measures the signal's turn. */
#include "check.h"
#include "loopwatch.h"
#include "util.h"

#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <time.h>
#include <unistd.h>

#define SLOW_MS 100
#define WAIT_MS 300 /* idle before the signal: three times SLOW_MS */

struct run {
    uv_loop_t loop;
    uv_signal_t sig;
    uv_timer_t end;
    struct loopwatch *watch;
    bool woke;        /* the callback tells the watch, as main.c's does */
    unsigned work_ms; /* busy time in the signal's callback */
    struct loopwatch_stats stats;
};

static void *send_signal(void *arg)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    struct timespec ts = {0, WAIT_MS * 1000000L};
    nanosleep(&ts, NULL);
    kill(getpid(), SIGUSR1);
    return arg;
}

static void on_end(uv_timer_t *t)
{
    struct run *r = t->data;
    loopwatch_get_stats(r->watch, &r->stats);
    loopwatch_stop(r->watch);
    uv_close((uv_handle_t *)&r->end, NULL);
}

static void on_signal(uv_signal_t *s, int signum)
{
    struct run *r = s->data;
    if (r->woke)
        loopwatch_signal_woke();
    uint64_t until = util_mono_ns() + (uint64_t)r->work_ms * 1000000u;
    while (util_mono_ns() < until)
        ; /* work: the loop is busy, not waiting */
    uv_close((uv_handle_t *)&r->sig, NULL);
    uv_update_time(&r->loop); /* the timer must not fire before the next prepare */
    uv_timer_start(&r->end, on_end, 20, 0);
}

/* Returns the watch's stats after one signal, or slow_turns = 99 if the
 * set-up failed. */
static struct loopwatch_stats signal_turn(bool woke, unsigned work_ms)
{
    struct run r = {.woke = woke, .work_ms = work_ms, .stats = {.slow_turns = 99}};
    pthread_t th;
    if (uv_loop_init(&r.loop) != 0 || loopwatch_start(&r.watch, &r.loop, SLOW_MS) != 0)
        return r.stats;
    uv_signal_init(&r.loop, &r.sig);
    uv_timer_init(&r.loop, &r.end);
    r.sig.data = r.end.data = &r;
    uv_signal_start(&r.sig, on_signal, SIGUSR1);
    if (pthread_create(&th, NULL, send_signal, NULL) != 0)
        abort();
    uv_run(&r.loop, UV_RUN_DEFAULT);
    pthread_join(th, NULL);
    if (uv_loop_close(&r.loop) != 0)
        r.stats.slow_turns = 99;
    loopwatch_free(r.watch);
    return r.stats;
}

/* What the fix works around: libuv counts the interrupted wait as busy. If
 * this starts failing, libuv counts it right and loopwatch_signal_woke may
 * go. */
TEST(libuv_counts_an_interrupted_wait_as_busy)
{
    struct loopwatch_stats s = signal_turn(false, 0);
    CHECK_INT(s.slow_turns, 1);
    CHECK(s.worst_ns >= (WAIT_MS - 50) * 1000000ull);
}

TEST(signal_after_idle_is_not_a_slow_turn)
{
    struct loopwatch_stats s = signal_turn(true, 0);
    CHECK(s.turns >= 2);
    CHECK_INT(s.slow_turns, 0);
    CHECK(s.worst_ns < SLOW_MS * 1000000ull);
}

TEST(slow_work_in_a_signal_callback_still_counts)
{
    struct loopwatch_stats s = signal_turn(true, 2 * SLOW_MS);
    CHECK_INT(s.slow_turns, 1);
    CHECK(s.worst_ns >= 2 * SLOW_MS * 1000000ull);
    CHECK(s.worst_ns < (2 * SLOW_MS + WAIT_MS) * 1000000ull);
}

TEST_MAIN(CASE(libuv_counts_an_interrupted_wait_as_busy),
          CASE(signal_after_idle_is_not_a_slow_turn),
          CASE(slow_work_in_a_signal_callback_still_counts))
