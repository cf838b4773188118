/* webhook.c — see webhook.h.
 *
 * pump() decides what to send: the due rows that head their alert (no row of
 * the same alert with a lower id is left) and whose alert has nothing in
 * flight, as many as there are free transfer slots; then it arms the wake
 * timer at the earliest later next_at among the heads. It runs at start, on
 * kick, when the wake timer fires, after a delivery (the alert's next row is
 * due) and after a failure only if due rows were left waiting for a slot: a
 * failed attempt itself just moves the wake timer earlier if its retry is
 * sooner. While nothing is due and nothing is in flight the module is idle.
 *
 * Cost: the two queries of a pump scan the outbox (at most max_pending rows;
 * the (alert, id) index answers the head test), a few ms at 10,000 rows.
 * Rows due within `slack` (a quarter of first_retry_ms, at most 1 s) are
 * sent together, so a backlog of failing alerts wakes the module a few
 * times a second at most, not once per row.
 *
 * The rest is curl's multi-socket pattern: curl says which
 * socket to watch for what (on_curl_socket) and when to call it back
 * (on_curl_timer); the loop tells curl what happened (on_poll,
 * on_curl_timeout); finished transfers are collected by check_done. */
#include "webhook.h"

#include <curl/curl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "log.h"
#include "util.h"

#define ANSWER_MAX   (64 * 1024) /* bytes of an answer read before hanging up */
#define HOLD_MS      1000 /* after SQLite or curl failed us, nothing new starts for this long */
#define UNDELETED    32   /* delivered rows whose DELETE failed, retried later */
#define DEFAULT_MAX  10000
#define DEFAULT_RTRY 2000
#define DEFAULT_MAXR 600000
#define DEFAULT_GIVE (25LL * 3600 * 1000)
#define DEFAULT_TOUT 10000

/* One transfer slot; its easy handle is configured once and reused, so that
 * curl keeps connections to the endpoint alive between notifications. */
struct xfer {
    CURL *easy;
    bool busy;
    int dest; /* enum webhook_dest of the row */
    int64_t id, alert, attempts, created;
    char *body;          /* owned while busy */
    size_t answer_bytes; /* read and discarded */
    bool answer_cut;     /* we hung up after ANSWER_MAX bytes */
    char err[CURL_ERROR_SIZE];
};

/* A socket curl asked us to watch; freed in its close callback. */
struct sock {
    uv_poll_t poll;
    struct webhook *w;
    curl_socket_t fd;
    struct sock *next, **prev;
};

enum {
    ST_INSERT,
    ST_COUNT,
    ST_TRIM,
    ST_DUE,
    ST_NEXT,
    ST_DELETE,
    ST_RETRY,
    ST_SAVEPOINT,
    ST_RELEASE,
    ST_ROLLBACK_TO,
    N_ST
};

/* A head row: the lowest id of its alert for its destination (the (alert,
 * dest, id) index answers it). */
#define HEAD                                                                                       \
    "id = (SELECT min(id) FROM webhook_outbox AS p WHERE p.alert = o.alert AND p.dest = o.dest)"
/* Rows for [alerts] webhook wait while it is not configured (?N: it is). */
#define ROUTABLE(n) "(" n " OR o.dest <> 0)"

static const char *const sql[N_ST] = {
    [ST_INSERT] = "INSERT INTO webhook_outbox (alert, body, created, next_at, dest)"
                  " VALUES (?1, ?2, ?3, ?3, ?4)",
    [ST_COUNT] = "SELECT count(*) FROM webhook_outbox",
    [ST_TRIM] = "DELETE FROM webhook_outbox WHERE id IN "
                "(SELECT id FROM webhook_outbox ORDER BY id LIMIT ?1)",
    /* Columns in the order of enum due_col. */
    [ST_DUE] = "SELECT id, alert, attempts, created, body, dest FROM webhook_outbox AS o "
               "WHERE next_at <= ?1 AND " ROUTABLE("?3") " AND " HEAD " ORDER BY id LIMIT ?2",
    /* Heads from the index alone, then one rowid lookup each. */
    [ST_NEXT] = "SELECT min(o.next_at) FROM (SELECT min(id) AS id FROM webhook_outbox "
                "GROUP BY alert, dest) AS h JOIN webhook_outbox AS o ON o.id = h.id "
                "WHERE o.next_at > ?1 AND " ROUTABLE("?2"),
    [ST_DELETE] = "DELETE FROM webhook_outbox WHERE id = ?1",
    [ST_RETRY] = "UPDATE webhook_outbox SET attempts = ?2, next_at = ?3, last_error = ?4 "
                 "WHERE id = ?1",
    /* A savepoint nests inside the caller's transaction, or is one without. */
    [ST_SAVEPOINT] = "SAVEPOINT webhook_enqueue",
    [ST_RELEASE] = "RELEASE webhook_enqueue",
    [ST_ROLLBACK_TO] = "ROLLBACK TO webhook_enqueue",
};

enum due_col { DUE_ID, DUE_ALERT, DUE_ATTEMPTS, DUE_CREATED, DUE_BODY, DUE_DEST };

/* Where a destination's rows go: its URL and headers (NULL url: none). */
struct target {
    char *url;
    struct curl_slist *headers; /* holds the token: never logged */
};

struct webhook {
    uv_loop_t *loop;
    sqlite3 *db;
    sqlite3_stmt *st[N_ST];
    struct webhook_opts o;    /* defaults filled in; urls and tokens not kept */
    struct target targets[2]; /* by enum webhook_dest */
    CURLM *multi;
    uv_timer_t curl_timer; /* curl's own timeouts */
    uv_timer_t wake_timer; /* the earliest next_at, or the end of a hold */
    int64_t wake_at;       /* ms, while wake_timer is active */
    int64_t slack_ms;      /* rows due this soon are sent now */
    struct xfer xfers[WEBHOOK_MAX_INFLIGHT];
    struct sock *socks;
    int64_t undeleted[UNDELETED];
    int n_undeleted;
    int64_t hold_until; /* ms; after a failed SQLite call or curl_multi_add_handle */
    bool repump;        /* due rows wait for a slot or for their alert's transfer */
    bool stopping;
    struct webhook_stats stats;
    struct log_limit fail_log, drop_log, db_log;
};

/* ---- SQLite ---- */

static void db_failed(struct webhook *w, sqlite3_stmt *st)
{
    log_limited(&w->db_log, LOG_LVL_WARN, "webhook: \"%s\": %s (retried later)", sqlite3_sql(st),
                sqlite3_errmsg(w->db));
    w->hold_until = util_now_ms() + HOLD_MS;
}

/* Steps a statement that returns no row and resets it. Returns 0 or -1. */
static int run(struct webhook *w, int i)
{
    sqlite3_stmt *st = w->st[i];
    int rc = sqlite3_step(st);
    if (rc != SQLITE_DONE)
        db_failed(w, st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? 0 : -1;
}

/* Rows in the outbox, or -1. */
static int64_t count_rows(struct webhook *w)
{
    sqlite3_stmt *st = w->st[ST_COUNT];
    int64_t n = -1;
    if (sqlite3_step(st) == SQLITE_ROW)
        n = sqlite3_column_int64(st, 0);
    else
        db_failed(w, st);
    sqlite3_reset(st);
    return n;
}

/* Deletes one row; returns rows deleted (0 if it was gone already) or -1. */
static int delete_row(struct webhook *w, int64_t id)
{
    sqlite3_bind_int64(w->st[ST_DELETE], 1, id);
    if (run(w, ST_DELETE) != 0)
        return -1;
    int n = sqlite3_changes(w->db);
    w->stats.pending -= (uint64_t)n <= w->stats.pending ? (uint64_t)n : w->stats.pending;
    return n;
}

static bool is_undeleted(const struct webhook *w, int64_t id)
{
    for (int i = 0; i < w->n_undeleted; i++)
        if (w->undeleted[i] == id)
            return true;
    return false;
}

/* A delivered row that could not be deleted is kept out of the picks (so it
 * is not sent again) and its DELETE retried by the next pump. */
static void retry_undeleted(struct webhook *w)
{
    int kept = 0;
    for (int i = 0; i < w->n_undeleted; i++)
        if (delete_row(w, w->undeleted[i]) < 0)
            w->undeleted[kept++] = w->undeleted[i];
    w->n_undeleted = kept;
}

/* ---- attempts and their outcome ---- */

static int64_t backoff_ms(const struct webhook *w, int64_t attempts)
{
    int64_t d = w->o.first_retry_ms;
    for (int64_t i = 1; i < attempts && d < w->o.max_retry_ms; i++)
        d *= 2;
    return d < w->o.max_retry_ms ? d : w->o.max_retry_ms;
}

static void delivered(struct webhook *w, const struct xfer *x)
{
    w->stats.delivered++;
    if (delete_row(w, x->id) >= 0) {
        /* Not on every success: one dead alert beside a live one would
         * otherwise log every failure (the limit restarts when cleared). */
        if (w->stats.pending == 0)
            log_limit_clear(&w->fail_log, LOG_LVL_INFO, "webhook: every notification delivered");
        return;
    }
    if (w->n_undeleted < UNDELETED)
        w->undeleted[w->n_undeleted++] = x->id;
    /* else it is sent again once SQLite recovers: at least once, not exactly */
}

/* Drops a row past give_up_ms (counted) instead of scheduling it again. */
static bool given_up(struct webhook *w, int64_t id, int64_t created, int64_t now)
{
    if (now - created < w->o.give_up_ms)
        return false;
    if (delete_row(w, id) > 0) {
        w->stats.dropped++;
        log_limited(&w->drop_log, LOG_LVL_WARN,
                    "webhook: notification %lld dropped after %lld s undelivered", (long long)id,
                    (long long)((now - created) / 1000));
    }
    return true;
}

static void arm_wake_sooner(struct webhook *w, int64_t at);

static void failed(struct webhook *w, const struct xfer *x, const char *why)
{
    int64_t now = util_now_ms(), attempts = x->attempts + 1;
    w->stats.failures++;
    if (given_up(w, x->id, x->created, now))
        return;
    int64_t delay = backoff_ms(w, attempts);
    log_limited(&w->fail_log, LOG_LVL_WARN,
                "webhook: notification %lld (alert %lld) attempt %lld failed: %s; next in %lld ms",
                (long long)x->id, (long long)x->alert, (long long)attempts, why, (long long)delay);
    sqlite3_stmt *st = w->st[ST_RETRY];
    sqlite3_bind_int64(st, 1, x->id);
    sqlite3_bind_int64(st, 2, attempts);
    sqlite3_bind_int64(st, 3, now + delay);
    sqlite3_bind_text(st, 4, why, -1, SQLITE_TRANSIENT);
    if (run(w, ST_RETRY) == 0) /* else the row stays due: tried again after the hold */
        arm_wake_sooner(w, now + delay);
}

static void release(struct xfer *x)
{
    free(x->body);
    x->body = NULL;
    x->busy = false;
}

/* A finished transfer: 2xx deletes the row, anything else is a failed
 * attempt. Returns true if it was delivered. */
static bool finish(struct webhook *w, struct xfer *x, CURLcode rc)
{
    long code = 0;
    curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &code);
    bool answered = rc == CURLE_OK || (rc == CURLE_WRITE_ERROR && x->answer_cut);
    char why[CURL_ERROR_SIZE + 32];
    bool ok = answered && code >= 200 && code <= 299;
    if (ok)
        delivered(w, x);
    else {
        if (answered)
            snprintf(why, sizeof why, "HTTP status %ld", code);
        else
            snprintf(why, sizeof why, "%s", x->err[0] ? x->err : curl_easy_strerror(rc));
        failed(w, x, why);
    }
    release(x);
    return ok;
}

/* ---- curl, driven by the loop ---- */

static void pump(struct webhook *w);

static void check_done(struct webhook *w)
{
    CURLMsg *m;
    int left;
    bool again = false;
    while ((m = curl_multi_info_read(w->multi, &left)) != NULL) {
        if (m->msg != CURLMSG_DONE)
            continue;
        CURL *easy = m->easy_handle;
        CURLcode rc = m->data.result; /* m is invalid once the handle is removed */
        void *p = NULL;
        curl_easy_getinfo(easy, CURLINFO_PRIVATE, &p);
        curl_multi_remove_handle(w->multi, easy);
        /* After a delivery the alert's next row is due; a free slot matters
         * only if due rows are waiting for one. */
        again |= finish(w, p, rc) || w->repump;
    }
    if (again)
        pump(w);
}

static void on_poll(uv_poll_t *p, int status, int events)
{
    struct sock *s = p->data;
    struct webhook *w = s->w;
    int flags = status < 0 ? CURL_CSELECT_ERR : 0, running;
    if (events & UV_READABLE)
        flags |= CURL_CSELECT_IN;
    if (events & UV_WRITABLE)
        flags |= CURL_CSELECT_OUT;
    curl_multi_socket_action(w->multi, s->fd, flags, &running);
    check_done(w);
}

static void on_sock_closed(uv_handle_t *h)
{
    free(h->data);
}

static void sock_close(struct sock *s)
{
    *s->prev = s->next;
    if (s->next)
        s->next->prev = s->prev;
    uv_close((uv_handle_t *)&s->poll, on_sock_closed);
}

static struct sock *sock_open(struct webhook *w, curl_socket_t fd)
{
    struct sock *s = calloc(1, sizeof *s);
    if (!s || uv_poll_init_socket(w->loop, &s->poll, fd) != 0) {
        free(s);
        return NULL;
    }
    s->poll.data = s;
    s->w = w;
    s->fd = fd;
    s->next = w->socks;
    s->prev = &w->socks;
    if (w->socks)
        w->socks->prev = &s->next;
    w->socks = s;
    curl_multi_assign(w->multi, fd, s);
    return s;
}

/* CURLMOPT_SOCKETFUNCTION: curl says what to wait for on fd. */
static int on_curl_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
    struct webhook *w = userp;
    struct sock *s = socketp;
    if (what == CURL_POLL_REMOVE) {
        if (s)
            sock_close(s);
        return 0;
    }
    if (!s && !(s = sock_open(w, fd)))
        return -1;
    int events = 0;
    if (what & CURL_POLL_IN)
        events |= UV_READABLE;
    if (what & CURL_POLL_OUT)
        events |= UV_WRITABLE;
    return uv_poll_start(&s->poll, events, on_poll) == 0 ? 0 : -1;
}

static void on_curl_timeout(uv_timer_t *t)
{
    struct webhook *w = t->data;
    int running;
    curl_multi_socket_action(w->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    check_done(w);
}

/* CURLMOPT_TIMERFUNCTION: -1 cancels; 0 means "as soon as possible", which a
 * 0 ms timer gives on the next loop iteration (curl must not be called from
 * inside its own callback). */
static int on_curl_timer(CURLM *multi, long timeout_ms, void *userp)
{
    struct webhook *w = userp;
    if (w->stopping)
        return 0;
    if (timeout_ms < 0)
        uv_timer_stop(&w->curl_timer);
    else
        uv_timer_start(&w->curl_timer, on_curl_timeout, (uint64_t)timeout_ms, 0);
    return 0;
}

/* Discards the answer; hangs up on one longer than ANSWER_MAX. */
static size_t on_answer(char *data, size_t size, size_t n, void *userp)
{
    struct xfer *x = userp;
    x->answer_bytes += size * n;
    if (x->answer_bytes > ANSWER_MAX) {
        x->answer_cut = true;
        return 0;
    }
    return size * n;
}

static int setup_easy(struct webhook *w, struct xfer *x)
{
    CURL *e = x->easy = curl_easy_init();
    if (!e)
        return -1;
    int bad = 0;
    /* URL and headers are the row's destination's, set as each transfer
     * starts; curl's connections live in the multi handle, so they are
     * still kept alive per endpoint. */
    bad |= curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    bad |= curl_easy_setopt(e, CURLOPT_POST, 1L);
    bad |= curl_easy_setopt(e, CURLOPT_USERAGENT, "pantaud/" PANTAU_VERSION);
    bad |= curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L); /* a 3xx is a failed attempt */
    bad |= curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)w->o.timeout_ms);
    bad |= curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)w->o.timeout_ms);
    bad |= curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L); /* no SIGALRM in a threaded daemon */
    /* Parsing the CA bundle takes tens of ms of the loop's time. curl keeps
     * the parsed store for 24 h, but only when it reads a bundle file alone:
     * Debian's libcurl also names a CA directory, which turns the cache off. */
    bad |= curl_easy_setopt(e, CURLOPT_CAPATH, NULL);
    bad |= curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_answer);
    bad |= curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
    bad |= curl_easy_setopt(e, CURLOPT_ERRORBUFFER, x->err);
    bad |= curl_easy_setopt(e, CURLOPT_PRIVATE, x);
    return bad ? -1 : 0;
}

/* ---- choosing what to send ---- */

struct due {
    int64_t id, alert, attempts, created;
    int dest;
    char *body;
};

static const struct xfer *alert_in_flight(const struct webhook *w, int64_t alert, int dest)
{
    for (int i = 0; i < WEBHOOK_MAX_INFLIGHT; i++)
        if (w->xfers[i].busy && w->xfers[i].alert == alert && w->xfers[i].dest == dest)
            return &w->xfers[i];
    return NULL;
}

/* A row's target: its destination's, or, for an escalation whose own URL
 * is no longer configured (a restart since), the webhook's. */
static const struct target *target_of(const struct webhook *w, int dest)
{
    if (dest == WEBHOOK_ESCALATE && w->targets[WEBHOOK_ESCALATE].url)
        return &w->targets[WEBHOOK_ESCALATE];
    return &w->targets[WEBHOOK_NOTIFY];
}

static struct xfer *free_slot(struct webhook *w)
{
    for (int i = 0; i < WEBHOOK_MAX_INFLIGHT; i++)
        if (!w->xfers[i].busy)
            return &w->xfers[i];
    return NULL;
}

/* Takes ownership of d->body. */
static void start_xfer(struct webhook *w, struct xfer *x, struct due *d)
{
    const struct target *t = target_of(w, d->dest);
    x->id = d->id;
    x->dest = d->dest;
    x->alert = d->alert;
    x->attempts = d->attempts;
    x->created = d->created;
    x->body = d->body;
    x->answer_bytes = 0;
    x->answer_cut = false;
    x->err[0] = '\0';
    curl_easy_setopt(x->easy, CURLOPT_URL, t->url);
    curl_easy_setopt(x->easy, CURLOPT_HTTPHEADER, t->headers);
    curl_easy_setopt(x->easy, CURLOPT_POSTFIELDS, x->body);
    curl_easy_setopt(x->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(x->body));
    x->busy = true;
    if (curl_multi_add_handle(w->multi, x->easy) != CURLM_OK) {
        log_limited(&w->fail_log, LOG_LVL_WARN, "webhook: cannot start a transfer");
        release(x); /* the row stays due; the pump after the hold tries again */
        w->hold_until = util_now_ms() + HOLD_MS;
    }
}

/* Reads up to max due heads into d[]; the statement is reset before any of
 * them is acted on (no writes while it steps). Returns how many, or -1. */
static int read_due(struct webhook *w, int64_t now, struct due *d, int max)
{
    sqlite3_stmt *st = w->st[ST_DUE];
    int n = 0, rc = SQLITE_DONE;
    sqlite3_bind_int64(st, 1, now);
    sqlite3_bind_int(st, 2, max);
    sqlite3_bind_int(st, 3, w->targets[WEBHOOK_NOTIFY].url != NULL);
    while (n < max && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *body = (const char *)sqlite3_column_text(st, DUE_BODY);
        d[n] = (struct due){.id = sqlite3_column_int64(st, DUE_ID),
                            .alert = sqlite3_column_int64(st, DUE_ALERT),
                            .attempts = sqlite3_column_int64(st, DUE_ATTEMPTS),
                            .created = sqlite3_column_int64(st, DUE_CREATED),
                            .dest = sqlite3_column_int(st, DUE_DEST) == WEBHOOK_ESCALATE
                                        ? WEBHOOK_ESCALATE
                                        : WEBHOOK_NOTIFY,
                            .body = strdup(body ? body : "")};
        if (!d[n].body)
            break;
        n++;
    }
    if (n < max && rc != SQLITE_DONE && rc != SQLITE_ROW) {
        db_failed(w, st);
        n = n ? n : -1;
    }
    sqlite3_reset(st);
    return n;
}

/* Whether due row d can go now; sets w->repump if it must wait for a
 * transfer to finish. */
static bool can_start(struct webhook *w, const struct due *d)
{
    const struct xfer *busy = alert_in_flight(w, d->alert, d->dest);
    if (busy && busy->id == d->id)
        return false; /* it is this very row, in flight */
    if (busy || !free_slot(w)) {
        /* The alert's head in flight was dropped by the bound: this row waits
         * for that transfer, not for a timer. Or there is no slot. */
        w->repump = true;
        return false;
    }
    return !is_undeleted(w, d->id); /* those are retried after the hold */
}

/* Starts what is due by `until`. Returns true if rows were given up, which
 * may have made other rows heads: the caller pumps again soon. */
static bool start_due(struct webhook *w, int64_t now, int64_t until)
{
    /* Enough rows that in-flight and undeleted heads cannot hide a due one,
     * and one more to see whether any is left waiting for a slot. */
    enum { MAX = 2 * WEBHOOK_MAX_INFLIGHT + UNDELETED + 1 };
    struct due d[MAX];
    bool gave_up = false;
    w->repump = false;
    int n = read_due(w, until, d, 2 * WEBHOOK_MAX_INFLIGHT + w->n_undeleted + 1);
    for (int i = 0; i < n; i++) {
        if (can_start(w, &d[i])) {
            if (given_up(w, d[i].id, d[i].created, now))
                gave_up = true;
            else {
                start_xfer(w, free_slot(w), &d[i]);
                continue; /* the body is the transfer's now */
            }
        }
        free(d[i].body);
    }
    return gave_up;
}

static void on_wake(uv_timer_t *t)
{
    pump(t->data);
}

/* The wake timer at `at` (ms, wall clock: next_at's clock). */
static void arm_wake(struct webhook *w, int64_t at)
{
    int64_t now = util_now_ms();
    uv_timer_start(&w->wake_timer, on_wake, at > now ? (uint64_t)(at - now) : 0, 0);
    w->wake_at = at;
}

static void arm_wake_sooner(struct webhook *w, int64_t at)
{
    if (!uv_is_active((uv_handle_t *)&w->wake_timer) || at < w->wake_at)
        arm_wake(w, at);
}

/* Arms the wake timer at the earliest next_at of a head after `after`
 * (none: off). */
static void schedule_next(struct webhook *w, int64_t after)
{
    sqlite3_stmt *st = w->st[ST_NEXT];
    sqlite3_bind_int64(st, 1, after);
    sqlite3_bind_int(st, 2, w->targets[WEBHOOK_NOTIFY].url != NULL);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
        arm_wake(w, sqlite3_column_int64(st, 0));
    else if (rc == SQLITE_ROW)
        uv_timer_stop(&w->wake_timer);
    else {
        db_failed(w, st);
        arm_wake(w, w->hold_until);
    }
    sqlite3_reset(st);
}

static void pump(struct webhook *w)
{
    if (w->stopping)
        return;
    int64_t now = util_now_ms(), until = now + w->slack_ms;
    if (now >= w->hold_until && w->n_undeleted)
        retry_undeleted(w);
    if (now >= w->hold_until && start_due(w, now, until)) {
        arm_wake(w, now); /* the rows behind those given up are heads now */
        return;
    }
    if (now < w->hold_until) /* SQLite or curl failed a moment ago, maybe just now */
        arm_wake(w, w->hold_until);
    else if (!w->repump) /* else a finishing transfer pumps */
        schedule_next(w, until);
}

/* ---- the interface ---- */

static void fill_defaults(struct webhook_opts *o)
{
    if (o->max_pending <= 0)
        o->max_pending = DEFAULT_MAX;
    if (o->first_retry_ms <= 0)
        o->first_retry_ms = DEFAULT_RTRY;
    if (o->max_retry_ms <= 0)
        o->max_retry_ms = DEFAULT_MAXR;
    if (o->max_retry_ms < o->first_retry_ms)
        o->max_retry_ms = o->first_retry_ms;
    if (o->give_up_ms <= 0)
        o->give_up_ms = DEFAULT_GIVE;
    if (o->timeout_ms <= 0)
        o->timeout_ms = DEFAULT_TOUT;
}

/* Up to a quarter of the shortest backoff early: harmless, and it batches. */
static int64_t slack_ms(const struct webhook_opts *o)
{
    return o->first_retry_ms / 4 < 1000 ? o->first_retry_ms / 4 : 1000;
}

static struct curl_slist *make_headers(const char *token)
{
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    /* No "Expect: 100-continue" round trip before a large body. */
    struct curl_slist *t = h ? curl_slist_append(h, "Expect:") : NULL;
    if (t && token && token[0]) {
        size_t len = strlen(token) + sizeof "Authorization: Bearer ";
        char *auth = malloc(len);
        if (auth) {
            snprintf(auth, len, "Authorization: Bearer %s", token);
            t = curl_slist_append(h, auth);
            memset(auth, 0, len);
            free(auth);
        } else
            t = NULL;
    }
    if (!t)
        curl_slist_free_all(h);
    return t ? h : NULL;
}

/* A destination's URL (NULL: none) and headers. */
static int setup_target(struct target *t, const char *url, const char *token)
{
    if (!url)
        return 0;
    return (t->url = strdup(url)) && (t->headers = make_headers(token)) ? 0 : -1;
}

static int setup_curl(struct webhook *w, const struct webhook_opts *o)
{
    if (setup_target(&w->targets[WEBHOOK_NOTIFY], o->url, o->token) != 0 ||
        setup_target(&w->targets[WEBHOOK_ESCALATE], o->escalate_url, o->escalate_token) != 0 ||
        !(w->multi = curl_multi_init()))
        return -1;
    curl_multi_setopt(w->multi, CURLMOPT_SOCKETFUNCTION, on_curl_socket);
    curl_multi_setopt(w->multi, CURLMOPT_SOCKETDATA, w);
    curl_multi_setopt(w->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer);
    curl_multi_setopt(w->multi, CURLMOPT_TIMERDATA, w);
    for (int i = 0; i < WEBHOOK_MAX_INFLIGHT; i++)
        if (setup_easy(w, &w->xfers[i]) != 0)
            return -1;
    return 0;
}

/* Everything but the loop handles, which are only initialized on success. */
static void free_parts(struct webhook *w)
{
    db_finalize_all(w->st, N_ST);
    for (int i = 0; i < WEBHOOK_MAX_INFLIGHT; i++) {
        curl_easy_cleanup(w->xfers[i].easy); /* NULL is a no-op */
        w->xfers[i].easy = NULL;
    }
    if (w->multi)
        curl_multi_cleanup(w->multi);
    w->multi = NULL;
    for (int i = 0; i < 2; i++) {
        curl_slist_free_all(w->targets[i].headers);
        w->targets[i].headers = NULL;
    }
}

static void free_urls(struct webhook *w)
{
    for (int i = 0; i < 2; i++) {
        free(w->targets[i].url);
        w->targets[i].url = NULL;
    }
}

static bool url_ok(const char *url)
{
    return url && (strncmp(url, "http://", 7) == 0 || strncmp(url, "https://", 8) == 0);
}

/* A token goes into a header line: no control characters (CR, LF). */
static bool token_ok(const char *token)
{
    for (const char *p = token; p && *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            return false;
    return true;
}

int webhook_start(struct webhook **out, const struct webhook_opts *o)
{
    if ((!o->url && !o->escalate_url) || (o->url && !url_ok(o->url)) ||
        (o->escalate_url && !url_ok(o->escalate_url))) {
        log_error("webhook: the URL must start with http:// or https://");
        return -1;
    }
    if (!token_ok(o->token) || !token_ok(o->escalate_token)) {
        log_error("webhook: the token holds a control character");
        return -1;
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        log_error("webhook: curl_global_init failed");
        return -1;
    }
    struct webhook *w = calloc(1, sizeof *w);
    if (!w)
        goto fail_global;
    w->loop = o->loop;
    w->db = o->db;
    w->o = *o;
    w->o.url = w->o.token = w->o.escalate_url = w->o.escalate_token = NULL;
    fill_defaults(&w->o);
    w->slack_ms = slack_ms(&w->o);
    if (setup_curl(w, o) != 0 || db_prepare_all(w->db, sql, w->st, N_ST, "webhook") != 0) {
        log_error("webhook: cannot set up");
        goto fail_parts;
    }
    int64_t n = count_rows(w);
    w->stats.pending = n > 0 ? (uint64_t)n : 0;
    w->hold_until = 0; /* a failed count holds nothing back */
    uv_timer_init(w->loop, &w->curl_timer);
    uv_timer_init(w->loop, &w->wake_timer);
    w->curl_timer.data = w->wake_timer.data = w;
    if (n > 0)
        log_info("webhook: %lld notifications left by a previous run", (long long)n);
    pump(w);
    *out = w;
    return 0;

fail_parts:
    free_parts(w);
    free_urls(w);
    free(w);
fail_global:
    curl_global_cleanup();
    return -1;
}

/* Deletes the oldest rows beyond max_pending; returns 0 or -1. */
static int trim(struct webhook *w)
{
    int64_t n = count_rows(w);
    if (n < 0)
        return -1;
    if (n > w->o.max_pending) {
        sqlite3_bind_int64(w->st[ST_TRIM], 1, n - w->o.max_pending);
        if (run(w, ST_TRIM) != 0)
            return -1;
        int gone = sqlite3_changes(w->db);
        /* Counted now; a rollback of the caller's transaction would undo it. */
        w->stats.dropped += (uint64_t)gone;
        log_limited(&w->drop_log, LOG_LVL_WARN,
                    "webhook: outbox full (%lld rows): oldest %d notifications dropped",
                    (long long)w->o.max_pending, gone);
        n -= gone;
    }
    w->stats.pending = (uint64_t)n;
    return 0;
}

int webhook_dest_for(const struct webhook *w, bool escalation)
{
    if (escalation && w->targets[WEBHOOK_ESCALATE].url)
        return WEBHOOK_ESCALATE;
    return w->targets[WEBHOOK_NOTIFY].url ? WEBHOOK_NOTIFY : -1;
}

int webhook_enqueue(struct webhook *w, int64_t alert_id, int dest, const char *body, int64_t now_ms)
{
    if (w->stopping || !body || (dest != WEBHOOK_NOTIFY && dest != WEBHOOK_ESCALATE) ||
        run(w, ST_SAVEPOINT) != 0)
        return -1;
    sqlite3_stmt *st = w->st[ST_INSERT];
    sqlite3_bind_int64(st, 1, alert_id);
    sqlite3_bind_text(st, 2, body, -1, SQLITE_STATIC); /* stepped before return */
    sqlite3_bind_int64(st, 3, now_ms);
    sqlite3_bind_int(st, 4, dest);
    int rc = run(w, ST_INSERT);
    sqlite3_clear_bindings(st);
    if (rc == 0 && trim(w) == 0 && run(w, ST_RELEASE) == 0)
        return 0;
    /* Either may fail if SQLite already rolled the transaction back. */
    sqlite3_step(w->st[ST_ROLLBACK_TO]);
    sqlite3_reset(w->st[ST_ROLLBACK_TO]);
    sqlite3_step(w->st[ST_RELEASE]);
    sqlite3_reset(w->st[ST_RELEASE]);
    return -1;
}

void webhook_kick(struct webhook *w)
{
    if (!w || w->stopping)
        return;
    int64_t n = count_rows(w); /* the caller may have rolled back enqueued rows */
    if (n >= 0)
        w->stats.pending = (uint64_t)n;
    pump(w);
}

void webhook_get_stats(const struct webhook *w, struct webhook_stats *out)
{
    *out = w->stats;
}

void webhook_stop(struct webhook *w)
{
    if (!w || w->stopping)
        return;
    w->stopping = true;
    for (int i = 0; i < WEBHOOK_MAX_INFLIGHT; i++)
        if (w->xfers[i].busy) {
            curl_multi_remove_handle(w->multi, w->xfers[i].easy);
            release(&w->xfers[i]); /* the row stays as it was */
        }
    /* Our polls go before curl closes its sockets (an fd is never watched
     * after close), and curl forgets them so it cannot hand them back. */
    while (w->socks) {
        curl_multi_assign(w->multi, w->socks->fd, NULL);
        sock_close(w->socks);
    }
    free_parts(w); /* closes curl's connections, finalizes before store_close */
    uv_close((uv_handle_t *)&w->curl_timer, NULL);
    uv_close((uv_handle_t *)&w->wake_timer, NULL);
}

void webhook_free(struct webhook *w)
{
    if (!w)
        return;
    free_urls(w);
    free(w);
    curl_global_cleanup();
}
