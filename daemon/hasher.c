/* hasher.c — see hasher.h.
 *
 * The frames on a child's socket (host byte order: both ends are this
 * binary on this machine):
 *   request: u32 len | u32 id | u8 op | u32 hash_len | hash | password
 *   answer:  u32 len | u32 id | u8 result | out (no NUL)
 * len counts the bytes after itself. A child answers each request before
 * reading the next; one that breaks the protocol is killed. */
#define _GNU_SOURCE /* SCHED_IDLE, close_range */
#include "hasher.h"

#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "users.h"

#define HASHER_NICE      19
#define HEAD_REQ         13 /* u32 len, u32 id, u8 op, u32 hash_len */
#define HEAD_ANS         9  /* u32 len, u32 id, u8 result */
#define ANSWER_MAX       (HEAD_ANS + HASHER_HASH_MAX)
#define LIVED_MS         1000  /* a child that dies sooner is restarted later */
#define RESTART_FIRST_MS 1000  /* ... after this, doubling */
#define RESTART_MAX_MS   30000 /* ... up to this */

_Static_assert(HASHER_HASH_MAX == USERS_HASH_MAX, "hasher and users agree on a hash's size");

struct hasher_child {
    struct hasher *h;
    uv_process_t proc;
    uv_pipe_t pipe;
    uv_timer_t restart;
    bool alive;             /* proc runs (spawned, its exit not seen) */
    bool reading;           /* pipe open and read from */
    int closing;            /* proc/pipe closes not yet called back */
    uint64_t delay_ms;      /* before the next start once closed */
    uint64_t backoff_ms;    /* the last delay after a quick death */
    uint64_t started_ms;    /* at its spawn (uv_now) */
    struct hasher_job *job; /* the one in flight */
    char rbuf[ANSWER_MAX];
    size_t rlen;
};

struct hasher {
    uv_loop_t *loop;
    struct hasher_child *kids;
    int n;
    uint32_t next_id;
    struct hasher_job *todo, *todo_tail; /* waiting for a child, in order */
    bool stopping;
    bool failing; /* in fail_waiting: a job submitted meanwhile is its */
};

/* ---- the parent's side (loop thread) ---- */

static void spawn(struct hasher_child *c);
static void pump(struct hasher *h);

static void push(struct hasher *h, struct hasher_job *j)
{
    j->next = NULL;
    if (h->todo_tail)
        h->todo_tail->next = j;
    else
        h->todo = j;
    h->todo_tail = j;
}

static struct hasher_job *pop(struct hasher *h)
{
    struct hasher_job *j = h->todo;
    if (j && !(h->todo = j->next))
        h->todo_tail = NULL;
    return j;
}

static void finish(struct hasher_job *j, enum hasher_result r)
{
    j->result = r;
    if (r != HASHER_OK)
        j->out[0] = '\0';
    j->done(j);
}

/* Whether a job queued now would be taken within a moment. */
static bool child_soon(const struct hasher *h)
{
    for (int i = 0; i < h->n; i++)
        if (h->kids[i].alive || h->kids[i].delay_ms == 0)
            return true;
    return false;
}

/* Kills a child that broke the protocol or whose socket failed, reading
 * nothing more from it: its exit does the rest (on_child_exit). */
static void child_kill(struct hasher_child *c, const char *why)
{
    if (c->reading)
        uv_read_stop((uv_stream_t *)&c->pipe);
    c->reading = false;
    if (!c->alive)
        return;
    if (why) /* NULL: its exit will say it */
        log_error("hasher: child %d %s; killing it", c->proc.pid, why);
    uv_process_kill(&c->proc, SIGKILL);
}

struct write_req {
    uv_write_t req;
    size_t len;
    char frame[];
};

static void on_written(uv_write_t *w, int status)
{
    struct write_req *wr = (struct write_req *)w;
    struct hasher_child *c = w->data;
    sodium_memzero(wr->frame, wr->len); /* it held a password */
    free(wr);
    if (status < 0 && status != UV_ECANCELED)
        child_kill(c, "cannot be written to");
}

static void put_u32(char *p, uint32_t v)
{
    memcpy(p, &v, 4);
}

static uint32_t get_u32(const char *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

/* Sends j to the idle child c. */
static void send_job(struct hasher_child *c, struct hasher_job *j)
{
    size_t hl = j->hash ? strlen(j->hash) : 0, len = HEAD_REQ + hl + j->password_len;
    struct write_req *wr = malloc(sizeof *wr + len);
    if (!wr) {
        log_error("hasher: out of memory");
        finish(j, HASHER_FAILED);
        return;
    }
    j->id = ++c->h->next_id;
    wr->len = len;
    put_u32(wr->frame, (uint32_t)(len - 4));
    put_u32(wr->frame + 4, j->id);
    wr->frame[8] = (char)j->op;
    put_u32(wr->frame + 9, (uint32_t)hl);
    memcpy(wr->frame + HEAD_REQ, j->hash ? j->hash : "", hl);
    memcpy(wr->frame + HEAD_REQ + hl, j->password, j->password_len);
    uv_buf_t b = uv_buf_init(wr->frame, (unsigned)len);
    wr->req.data = c;
    c->job = j;
    int rc = uv_write(&wr->req, (uv_stream_t *)&c->pipe, &b, 1, on_written);
    if (rc != 0) {
        sodium_memzero(wr->frame, len);
        free(wr);
        child_kill(c, "cannot be written to"); /* on_child_exit fails j */
    }
}

/* Hands waiting jobs to idle children. */
static void pump(struct hasher *h)
{
    for (int i = 0; i < h->n && h->todo; i++) {
        struct hasher_child *c = &h->kids[i];
        if (c->reading && !c->job)
            send_job(c, pop(h));
    }
}

/* Fails every waiting job: no child will take them soon. A done may submit
 * again (api_users starts its next waiting sign-in): that job lands in todo
 * and fails in turn, in this loop and not deeper in the stack. */
static void fail_waiting(struct hasher *h, enum hasher_result r)
{
    struct hasher_job *j;
    h->failing = true;
    while ((j = pop(h)) != NULL)
        finish(j, r);
    h->failing = false;
}

static void on_alloc(uv_handle_t *hd, size_t suggested, uv_buf_t *b)
{
    struct hasher_child *c = hd->data;
    (void)suggested;
    *b = uv_buf_init(c->rbuf + c->rlen, (unsigned)(sizeof c->rbuf - c->rlen));
}

/* One answer in c->rbuf: its job done. False when it breaks the protocol. */
static bool take_answer(struct hasher_child *c, size_t len)
{
    struct hasher_job *j = c->job;
    uint32_t id = get_u32(c->rbuf + 4);
    unsigned char r = (unsigned char)c->rbuf[8];
    size_t out_len = len + 4 - HEAD_ANS;
    if (!j || id != j->id || r > HASHER_FAILED || out_len >= HASHER_HASH_MAX ||
        (r == HASHER_OK && j->op == HASHER_HASH && out_len == 0))
        return false;
    memcpy(j->out, c->rbuf + HEAD_ANS, out_len);
    j->out[out_len] = '\0';
    c->job = NULL;
    finish(j, (enum hasher_result)r);
    return true;
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *b)
{
    struct hasher_child *c = s->data;
    (void)b;
    if (nread < 0) {
        /* At its end the child is gone or going: no word until its exit. */
        child_kill(c, nread == UV_EOF ? NULL : "cannot be read from");
        return;
    }
    c->rlen += (size_t)nread;
    while (c->rlen >= 4) {
        uint32_t len = get_u32(c->rbuf);
        if (len < HEAD_ANS - 4 || len > ANSWER_MAX - 4) {
            child_kill(c, "sent a malformed answer");
            return;
        }
        if (c->rlen < 4 + len)
            break;
        if (!take_answer(c, len)) {
            child_kill(c, "answered a job it was not given");
            return;
        }
        c->rlen -= 4 + len;
        memmove(c->rbuf, c->rbuf + 4 + len, c->rlen);
    }
    pump(c->h);
}

static void on_restart(uv_timer_t *t)
{
    struct hasher_child *c = t->data;
    if (!c->h->stopping)
        spawn(c);
}

/* The pipe and the process handle of a dead child are closed: the next
 * child may use them. */
static void on_closed(uv_handle_t *hd)
{
    struct hasher_child *c = hd->data;
    if (--c->closing > 0 || c->h->stopping)
        return;
    if (c->delay_ms == 0)
        spawn(c);
    else
        uv_timer_start(&c->restart, on_restart, c->delay_ms, 0);
}

/* Closes what is open of c and decides when the next child starts. */
static void child_down(struct hasher_child *c)
{
    struct hasher *h = c->h;
    uint64_t lived = uv_now(h->loop) - c->started_ms;
    if (lived >= LIVED_MS) {
        c->backoff_ms = 0;
        c->delay_ms = 0;
    } else {
        c->backoff_ms = c->backoff_ms ? c->backoff_ms * 2 : RESTART_FIRST_MS;
        if (c->backoff_ms > RESTART_MAX_MS)
            c->backoff_ms = RESTART_MAX_MS;
        c->delay_ms = c->backoff_ms;
    }
    c->reading = false;
    c->rlen = 0;
    c->closing = 2;
    uv_close((uv_handle_t *)&c->pipe, on_closed);
    uv_close((uv_handle_t *)&c->proc, on_closed);
    struct hasher_job *j = c->job;
    c->job = NULL;
    if (j)
        finish(j, h->stopping ? HASHER_CANCELLED : HASHER_FAILED);
    if (!h->stopping && !child_soon(h))
        fail_waiting(h, HASHER_FAILED);
}

static void on_child_exit(uv_process_t *p, int64_t status, int sig)
{
    struct hasher_child *c = p->data;
    int pid = p->pid;
    bool stopping = c->h->stopping;
    c->alive = false;
    child_down(c);
    if (stopping)
        return;
    char how[64];
    if (sig)
        snprintf(how, sizeof how, "killed by signal %d", sig);
    else
        snprintf(how, sizeof how, "exited with status %d", (int)status);
    if (c->delay_ms)
        log_error("hasher: child %d %s (it had run under %d ms); another in %.0f s", pid, how,
                  LIVED_MS, (double)c->delay_ms / 1000);
    else
        log_error("hasher: child %d %s; another starts", pid, how);
}

/* Child i keeps to one CPU: the i-th from the last that pantaud may use.
 * Left free, the SCHED_IDLE child ran on whichever core had just gone idle,
 * each in turn, so every core's caches met its 64 MiB: on 2 cores, 50
 * sign-ins moved the live push's p99 by 1.6-2.8 ms, median 2.1 (pantaud's
 * own part by 0.36-0.55); kept on one, by 0.1-1.9, median 0.9 (pantaud's
 * part by -0.2-0.3): make bench, seven 60 s runs each. With one CPU, or a
 * filter that forbids it: left free. */
static void pin_child(const struct hasher_child *c)
{
    cpu_set_t allowed, one;
    if (sched_getaffinity(0, sizeof allowed, &allowed) != 0 || CPU_COUNT(&allowed) < 2)
        return;
    int skip = (int)(c - c->h->kids) % CPU_COUNT(&allowed);
    for (int cpu = CPU_SETSIZE - 1; cpu >= 0; cpu--) {
        if (!CPU_ISSET(cpu, &allowed) || skip-- > 0)
            continue;
        CPU_ZERO(&one);
        CPU_SET(cpu, &one);
        (void)sched_setaffinity(c->proc.pid, sizeof one, &one);
        return;
    }
}

static void spawn(struct hasher_child *c)
{
    struct hasher *h = c->h;
    c->started_ms = uv_now(h->loop);
    c->delay_ms = 0;
    int rc = uv_pipe_init(h->loop, &c->pipe, 0);
    if (rc != 0) { /* nothing to close: try again later */
        log_error("hasher: cannot make a socket: %s", uv_strerror(rc));
        c->backoff_ms = RESTART_MAX_MS;
        c->delay_ms = RESTART_MAX_MS;
        uv_timer_start(&c->restart, on_restart, c->delay_ms, 0);
        if (!child_soon(h))
            fail_waiting(h, HASHER_FAILED);
        return;
    }
    c->pipe.data = c;
    /* The socket as the child's standard input; its errors are pantaud's
     * (the journal). */
    uv_stdio_container_t io[3] = {
        {.flags = UV_CREATE_PIPE | UV_READABLE_PIPE | UV_WRITABLE_PIPE,
         .data.stream = (uv_stream_t *)&c->pipe},
        {.flags = UV_IGNORE}, /* never written: /dev/null */
        {.flags = UV_INHERIT_FD, .data.fd = 2},
    };
    char exe[] = "/proc/self/exe", arg[] = HASHER_CHILD_ARG;
    char *args[] = {exe, arg, NULL};
    uv_process_options_t o = {
        .exit_cb = on_child_exit, .file = exe, .args = args, .stdio_count = 3, .stdio = io};
    c->proc.data = c;
    rc = uv_spawn(h->loop, &c->proc, &o);
    if (rc != 0) {
        log_error("hasher: cannot start a child: %s", uv_strerror(rc));
        child_down(c); /* a failed spawn's handle is closed too */
        return;
    }
    if ((rc = uv_read_start((uv_stream_t *)&c->pipe, on_alloc, on_read)) != 0) {
        c->alive = true;
        child_kill(c, "cannot be read from");
        return;
    }
    c->alive = c->reading = true;
    pin_child(c);
    log_info("hasher: child %d started", c->proc.pid);
    pump(h);
}

int hasher_start(struct hasher **out, uv_loop_t *loop, int n)
{
    struct hasher *h = calloc(1, sizeof *h);
    if (!h || !(h->kids = calloc((size_t)n, sizeof *h->kids))) {
        free(h);
        log_error("hasher: out of memory");
        return -1;
    }
    h->loop = loop;
    h->n = n;
    for (int i = 0; i < n; i++) {
        struct hasher_child *c = &h->kids[i];
        c->h = h;
        uv_timer_init(loop, &c->restart); /* cannot fail */
        c->restart.data = c;
        spawn(c);
    }
    *out = h;
    return 0;
}

void hasher_submit(struct hasher *h, struct hasher_job *j)
{
    size_t hl = j->hash ? strlen(j->hash) : 0;
    if (hl + j->password_len > HASHER_INPUT_MAX) {
        finish(j, HASHER_FAILED);
        return;
    }
    push(h, j);
    if (h->failing)
        return;
    if (h->stopping || !child_soon(h))
        fail_waiting(h, h->stopping ? HASHER_CANCELLED : HASHER_FAILED);
    else
        pump(h);
}

void hasher_stop(struct hasher *h)
{
    if (!h || h->stopping)
        return;
    h->stopping = true;
    fail_waiting(h, HASHER_CANCELLED);
    for (int i = 0; i < h->n; i++) {
        struct hasher_child *c = &h->kids[i];
        uv_timer_stop(&c->restart);
        uv_close((uv_handle_t *)&c->restart, NULL);
        /* Killed, not asked: a hash under way would hold pantaud's exit for
         * tens of ms for nothing. Its exit closes the rest (on_child_exit). */
        if (c->alive)
            uv_process_kill(&c->proc, SIGKILL);
        struct hasher_job *j = c->job;
        c->job = NULL;
        if (j)
            finish(j, HASHER_CANCELLED);
    }
}

void hasher_free(struct hasher *h)
{
    if (!h)
        return;
    free(h->kids);
    free(h);
}

/* ---- the child's side ---- */

/* All of len bytes, or false at the end of the socket or an error. */
static bool read_full(int fd, char *p, size_t len)
{
    while (len > 0) {
        ssize_t n = read(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        p += n;
        len -= (size_t)n;
    }
    return true;
}

static bool write_full(int fd, const char *p, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        p += n;
        len -= (size_t)n;
    }
    return true;
}

/* Low priority, no descriptor but the socket and stdout/stderr, gone with
 * pantaud, deaf to the signals pantaud handles for it. */
static void child_setup(void)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    signal(SIGINT, SIG_IGN);  /* a terminal's ^C: pantaud stops, then kills */
    signal(SIGTERM, SIG_IGN); /* systemd signals the whole cgroup */
    signal(SIGHUP, SIG_IGN);
    signal(SIGPIPE, SIG_IGN);
    if (close_range(3, ~0U, 0) != 0)
        for (int fd = 3; fd < 1024; fd++)
            close(fd);
    /* A session of its own: where the kernel groups tasks by session for
     * fairness (autogroup, sched_autogroup_enabled), a group's nice and CPU
     * are shared by its tasks, so hashing in pantaud's group made the loop
     * wait behind other sessions, whatever the child's own nice. Its own
     * group, at nice 19, costs pantaud's nothing. */
    if (setsid() >= 0) {
        FILE *ag = fopen("/proc/self/autogroup", "w");
        if (ag) {
            fprintf(ag, "%d", HASHER_NICE);
            fclose(ag); /* EACCES or no autogroup: nothing to lower */
        }
    }
    (void)setpriority(PRIO_PROCESS, 0, HASHER_NICE); /* EPERM when a filter forbids it */
    struct sched_param sp = {0};
    (void)sched_setscheduler(0, SCHED_IDLE, &sp);
    /* Last: named so, the child is set up (not "exe", from /proc/self/exe). */
    prctl(PR_SET_NAME, "pantaud-hasher");
}

/* One request (body of len bytes, after its u32 len) into answer a; its
 * length. */
static size_t child_serve(char *body, size_t len, char *a)
{
    uint32_t id = get_u32(body), hl = get_u32(body + 5);
    unsigned char op = (unsigned char)body[4];
    char hash[HASHER_HASH_MAX] = "";
    enum hasher_result r = HASHER_FAILED;
    size_t out_len = 0;
    if (hl < HASHER_HASH_MAX && hl <= len - (HEAD_REQ - 4)) {
        const char *pw = body + (HEAD_REQ - 4) + hl;
        size_t pw_len = len - (HEAD_REQ - 4) - hl;
        memcpy(hash, body + (HEAD_REQ - 4), hl);
        hash[hl] = '\0';
        if (op == HASHER_HASH && users_hash(pw, pw_len, a + HEAD_ANS) == 0) {
            r = HASHER_OK;
            out_len = strlen(a + HEAD_ANS);
        } else if (op == HASHER_VERIFY) {
            r = users_verify(hash, pw, pw_len) ? HASHER_OK : HASHER_MISMATCH;
        }
    }
    put_u32(a, (uint32_t)(HEAD_ANS - 4 + out_len));
    put_u32(a + 4, id);
    a[8] = (char)r;
    return HEAD_ANS + out_len;
}

int hasher_child_main(void)
{
    struct stat st;
    if (fstat(0, &st) != 0 || !S_ISSOCK(st.st_mode)) {
        log_error("%s is for pantaud's own use (its standard input must be its socket)",
                  HASHER_CHILD_ARG);
        return 2;
    }
    child_setup();
    if (sodium_init() < 0) {
        log_error("hasher: libsodium cannot start");
        return 1;
    }
    users_verify(NULL, "", 0); /* makes the dummy hash now, not in a sign-in */
    static char body[HASHER_INPUT_MAX + HEAD_REQ];
    char head[4], answer[ANSWER_MAX];
    int rc = 0;
    while (read_full(0, head, 4)) {
        uint32_t len = get_u32(head);
        if (len < HEAD_REQ - 4 || len > sizeof body || !read_full(0, body, len)) {
            rc = 1; /* a broken frame: pantaud kills and restarts us anyway */
            break;
        }
        size_t n = child_serve(body, len, answer);
        sodium_memzero(body, len);
        bool ok = write_full(0, answer, n);
        sodium_memzero(answer, sizeof answer);
        if (!ok)
            break;
    }
    return rc;
}
