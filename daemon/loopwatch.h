/* loopwatch.h — the loop's slow turns, found and explained.
 *
 * Every module runs on one loop thread, so one callback that takes 80 ms
 * holds back every websocket frame by 80 ms. This module measures each
 * turn's busy time (the turn minus the time libuv spent waiting in epoll,
 * from its idle-time metric) and logs each turn over a threshold with the
 * work noted in it: what ran and for how long, e.g.
 *     loop: a turn took 83.1 ms: live write 2.4 ms (x40), kpi tick 0.2 ms,
 *     not noted 80.5 ms
 * Modules note their callbacks with loopwatch_note(); what is not noted
 * (ingest's drain and commit, lws's own reading and writing) is the rest.
 *
 * Owns a prepare handle and one process-wide record of the current turn
 * (there is one loop per pantaud). Loop thread only. */
#ifndef PANTAU_LOOPWATCH_H
#define PANTAU_LOOPWATCH_H

#include <stdint.h>
#include <uv.h>

struct loopwatch;

struct loopwatch_stats {
    uint64_t turns;      /* turns measured */
    uint64_t slow_turns; /* turns over the threshold */
    uint64_t worst_ns;   /* the longest turn's busy time */
};

/* Configures the loop's idle-time metric (before uv_run) and starts
 * watching; turns over slow_ms are logged (rate-limited). Returns 0 or -1. */
int loopwatch_start(struct loopwatch **out, uv_loop_t *loop, unsigned slow_ms);
/* Closes the handle; the memory goes in loopwatch_free after uv_run. */
void loopwatch_stop(struct loopwatch *w);
/* NULL is a no-op. */
void loopwatch_free(struct loopwatch *w);
void loopwatch_get_stats(const struct loopwatch *w, struct loopwatch_stats *out);

/* Notes that `what` (a string literal: compared by address) ran from
 * since_ns (util_mono_ns()) until now, in the current turn. Costs a clock
 * read; a no-op when no loopwatch runs. */
void loopwatch_note(const char *what, uint64_t since_ns);

/* Call first in a signal handle's callback. libuv 1.44 loses the wait a
 * signal interrupts: epoll_wait returns EINTR and libuv restarts the wait
 * and its idle clock without counting what was waited, so the idle time
 * before a SIGHUP would count as busy ("a turn took 680 ms"). This turn is
 * measured from here instead; what ran before it in the same poll (other
 * I/O callbacks of that batch) goes uncounted. A no-op when no loopwatch
 * runs. */
void loopwatch_signal_woke(void);

#endif
