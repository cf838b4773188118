/* presence.c — see presence.h. */
#include "presence.h"

#include <stdlib.h>
#include <string.h>

#include "dict.h"
#include "loopwatch.h"
#include "util.h"

struct presence {
    struct presence_opts o;
    uv_timer_t timer;
    struct dict told; /* "program\x1funit" -> (uintptr_t) status + 1 */
    size_t n_stale;   /* units last told stale */
    uint64_t n_units; /* the store's unit count at the last full check */
    bool stopped;
};

const char *presence_status_name(enum unit_status s)
{
    static const char *const names[] = {"online", "offline", "stale"};
    return names[s];
}

enum unit_status presence_status_of(const struct store_unit_view *u, int64_t now, int64_t stale_ms)
{
    if (u->online == 0)
        return UNIT_OFFLINE;
    return now - u->last_seen > stale_ms ? UNIT_STALE : UNIT_ONLINE;
}

static size_t unit_key(char *buf, size_t cap, const char *program, const char *unit)
{
    size_t lp = strlen(program), lu = strlen(unit);
    if (lp + lu + 2 > cap)
        return 0;
    memcpy(buf, program, lp);
    buf[lp] = '\x1f';
    memcpy(buf + lp + 1, unit, lu + 1);
    return lp + 1 + lu;
}

/* Works out u's status; tells it when it differs from the last told (or
 * always, with force), unless quiet. */
static void check_one(struct presence *p, const struct store_unit_view *u, int64_t now, bool force,
                      bool quiet)
{
    char key[2 * SLUG_MAX + 2];
    size_t len = unit_key(key, sizeof key, u->program, u->unit);
    if (!len)
        return;
    enum unit_status s = presence_status_of(u, now, p->o.stale_ms(p->o.ctx, u->program));
    uintptr_t old = (uintptr_t)dict_get(&p->told, key, len);
    if (old == (uintptr_t)s + 1 && !force)
        return;
    if (dict_put(&p->told, key, len, (void *)((uintptr_t)s + 1)) != 0)
        return; /* out of memory: told again next time */
    p->n_stale += (s == UNIT_STALE) - (old == UNIT_STALE + 1);
    if (!quiet)
        p->o.changed(p->o.ctx, u, now);
}

struct pass {
    struct presence *p;
    int64_t now;
    bool quiet; /* remember, do not tell */
};

static void check_each(void *ctx, const struct store_unit_view *u)
{
    struct pass *pass = ctx;
    check_one(pass->p, u, pass->now, false, pass->quiet);
}

static void check_all(struct presence *p, bool quiet)
{
    struct store_stats st;
    store_get_stats(p->o.store, &st);
    p->n_units = st.units;
    struct pass pass = {p, util_now_ms(), quiet};
    store_each_unit(p->o.store, check_each, &pass);
}

void presence_check(struct presence *p)
{
    check_all(p, false);
}

static void on_timer(uv_timer_t *t)
{
    uint64_t t0 = util_mono_ns();
    presence_check(t->data);
    loopwatch_note("presence tick", t0);
}

int presence_start(struct presence **out, const struct presence_opts *o)
{
    struct presence *p = calloc(1, sizeof *p);
    if (!p)
        return -1;
    p->o = *o;
    if (p->o.check_ms <= 0)
        p->o.check_ms = 5000;
    dict_init(&p->told);
    check_all(p, true); /* what the units are at start is not news */
    uv_timer_init(o->loop, &p->timer);
    p->timer.data = p;
    uv_timer_start(&p->timer, on_timer, (uint64_t)p->o.check_ms, (uint64_t)p->o.check_ms);
    *out = p;
    return 0;
}

/* A stale unit heard from again: told at once, not at the next tick. */
static void check_unit(struct presence *p, const char *program, const char *unit, bool force)
{
    struct store_unit_view v;
    if (store_get_unit(p->o.store, program, unit, &v) == 0)
        check_one(p, &v, util_now_ms(), force, false);
}

/* The status last told (+ 1), 0 if never told. */
static uintptr_t told_of(struct presence *p, const char *program, const char *unit)
{
    char key[2 * SLUG_MAX + 2];
    size_t len = unit_key(key, sizeof key, program, unit);
    return len ? (uintptr_t)dict_get(&p->told, key, len) : 0;
}

void presence_samples(struct presence *p, const struct sample *s, size_t n)
{
    if (p->stopped)
        return;
    struct store_stats st;
    store_get_stats(p->o.store, &st);
    /* A unit appeared: it is among this group's (or came by a $status,
     * already told). Looking at the group's units, not at every unit, keeps
     * a fleet's first minutes from costing a full pass per commit. */
    bool appeared = st.units != p->n_units;
    p->n_units = st.units;
    const char *last = NULL;
    for (size_t i = 0; (appeared || p->n_stale) && i < n; i++) {
        if (s[i].unit == last) /* a batch of one unit: once */
            continue;
        last = s[i].unit;
        uintptr_t told = told_of(p, s[i].program, s[i].unit);
        if (told == 0 || told == UNIT_STALE + 1)
            check_unit(p, s[i].program, s[i].unit, false);
    }
}

void presence_status(struct presence *p, const char *program, const char *unit)
{
    if (!p->stopped)
        check_unit(p, program, unit, true);
}

void presence_stop(struct presence *p)
{
    if (!p || p->stopped)
        return;
    p->stopped = true;
    uv_timer_stop(&p->timer);
    uv_close((uv_handle_t *)&p->timer, NULL);
}

void presence_free(struct presence *p)
{
    if (!p)
        return;
    dict_free(&p->told);
    free(p);
}
