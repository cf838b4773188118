/* harness.c — see harness.h.
 *
 * Children are started with fork+exec rather than posix_spawn so that each
 * can ask the kernel for SIGTERM when its parent dies (PR_SET_PDEATHSIG): a
 * test that crashes, is killed with SIGKILL, or exits through a sanitizer's
 * _exit() runs no atexit handler, and its brokers would otherwise outlive it.
 * The kernel sends that signal when the *thread* that forked exits, so spawn
 * (and restart brokers) from the main thread or one that outlives the child.
 *
 * harness_cleanup() also runs from a SIGINT/SIGTERM handler, so everything it
 * does is async-signal-safe: kill, waitpid, nanosleep, and a directory walk
 * with getdents64 and unlinkat instead of opendir (which allocates). */
#define _GNU_SOURCE /* memmem, getdents64 via syscall */
#include "harness.h"

#include "catalog.h"

#include <math.h>

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

#define MAX_CHILDREN     64
#define STOP_GRACE_MS    3000 /* cleanup: SIGTERM, then SIGKILL after this */
#define KILL_REAP_MS     5000 /* a SIGKILLed child is reaped within this */
#define BROKER_READY_MS  5000
#define BROKER_STOP_MS   10000
#define BROKER_TRIES     3 /* a free port can be taken between probe and bind */
#define POLL_MS          10
#define REMOVE_MAX_DEPTH 8

extern char **environ;

struct child {
    volatile pid_t pid; /* 0: slot unused */
    volatile sig_atomic_t reaped;
    volatile int status;
};

static bool file_contains(const char *path, off_t from, const char *needle);

static struct child children[MAX_CHILDREN];
static char tmp_dir[256];
static bool keep_tmp;
static bool initialised;

/* ---- small async-signal-safe helpers ---- */

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

static int64_t mono_ms(void)
{
    return (int64_t)(util_mono_ns() / 1000000u);
}

/* Reaps `c` if it has exited; true once reaped. */
static bool child_poll(struct child *c)
{
    if (c->reaped)
        return true;
    int status;
    pid_t r = waitpid(c->pid, &status, WNOHANG);
    if (r == c->pid || (r < 0 && errno == ECHILD)) {
        c->status = r == c->pid ? status : -1;
        c->reaped = 1;
    }
    return c->reaped;
}

/* Waits up to timeout_ms for `c` to exit. */
static bool child_wait(struct child *c, int timeout_ms)
{
    int64_t deadline = mono_ms() + timeout_ms;
    while (!child_poll(c)) {
        if (mono_ms() >= deadline)
            return false;
        sleep_ms(POLL_MS);
    }
    return true;
}

static void kill_all(void)
{
    bool any = false;
    for (int i = 0; i < MAX_CHILDREN; i++) {
        struct child *c = &children[i];
        if (c->pid > 0 && !child_poll(c)) {
            kill(c->pid, SIGTERM);
            any = true;
        }
    }
    if (!any)
        return;
    int64_t deadline = mono_ms() + STOP_GRACE_MS;
    for (int i = 0; i < MAX_CHILDREN; i++) {
        struct child *c = &children[i];
        if (c->pid <= 0 || c->reaped)
            continue;
        int64_t left = deadline - mono_ms();
        if (!child_wait(c, left > 0 ? (int)left : 0)) {
            kill(c->pid, SIGKILL);
            child_wait(c, KILL_REAP_MS);
        }
    }
}

struct dirent64_raw {
    uint64_t d_ino;
    int64_t d_off;
    unsigned short d_reclen;
    unsigned char d_type;
    char d_name[];
};

static void remove_tree_at(int dirfd, int depth);

static void remove_entry(int dirfd, const char *name, int depth)
{
    if (unlinkat(dirfd, name, 0) == 0 || (errno != EISDIR && errno != EPERM))
        return;
    int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return;
    remove_tree_at(fd, depth + 1);
    close(fd);
    unlinkat(dirfd, name, AT_REMOVEDIR);
}

/* Empties the directory open as dirfd, without allocating. */
static void remove_tree_at(int dirfd, int depth)
{
    if (depth > REMOVE_MAX_DEPTH)
        return;
    char buf[4096] __attribute__((aligned(8)));
    for (int rounds = 0; rounds < 100000; rounds++) {
        long n = syscall(SYS_getdents64, dirfd, buf, sizeof buf);
        if (n <= 0)
            return;
        for (long off = 0; off < n;) {
            struct dirent64_raw *d = (struct dirent64_raw *)(buf + off);
            off += d->d_reclen;
            if (strcmp(d->d_name, ".") != 0 && strcmp(d->d_name, "..") != 0)
                remove_entry(dirfd, d->d_name, depth);
        }
    }
}

static void remove_tmp_dir(void)
{
    if (!tmp_dir[0] || keep_tmp)
        return;
    int fd = open(tmp_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd >= 0) {
        remove_tree_at(fd, 0);
        close(fd);
    }
    rmdir(tmp_dir);
    tmp_dir[0] = '\0';
}

void harness_cleanup(void)
{
    kill_all();
    remove_tmp_dir();
}

static void on_fatal_signal(int sig)
{
    static const char msg[] = "harness: interrupted, stopping child processes\n";
    ssize_t unused = write(STDERR_FILENO, msg, sizeof msg - 1);
    (void)unused;
    harness_cleanup();
    signal(sig, SIG_DFL);
    raise(sig);
}

static void harness_init(void)
{
    if (initialised)
        return;
    initialised = true;
    keep_tmp = getenv("PANTAU_KEEP_TMP") != NULL;
    atexit(harness_cleanup);
    int sigs[] = {SIGINT, SIGTERM};
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
        struct sigaction old, sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_fatal_signal;
        sigemptyset(&sa.sa_mask);
        /* Leave a handler the test installed itself alone. */
        if (sigaction(sigs[i], NULL, &old) == 0 && old.sa_handler == SIG_DFL)
            sigaction(sigs[i], &sa, NULL);
    }
}

/* ---- temp dir, ports ---- */

const char *harness_tmpdir(void)
{
    harness_init();
    if (tmp_dir[0])
        return tmp_dir;
    const char *base = getenv("TMPDIR");
    if (!base || !base[0])
        base = "/tmp";
    char path[sizeof tmp_dir];
    int n = snprintf(path, sizeof path, "%s/pantau-test-XXXXXX", base);
    if (n < 0 || (size_t)n >= sizeof path || !mkdtemp(path)) {
        log_error("harness: cannot create a temp dir under %s: %s", base, strerror(errno));
        return NULL;
    }
    memcpy(tmp_dir, path, sizeof tmp_dir);
    return tmp_dir;
}

int harness_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        log_error("harness: socket: %s", strerror(errno));
        return -1;
    }
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = 0};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof sa;
    int port = -1;
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0 &&
        getsockname(fd, (struct sockaddr *)&sa, &len) == 0)
        port = ntohs(sa.sin_port);
    else
        log_error("harness: cannot bind a loopback port: %s", strerror(errno));
    close(fd);
    return port;
}

/* ---- processes ---- */

static struct child *child_find(pid_t pid)
{
    for (int i = 0; i < MAX_CHILDREN; i++)
        if (children[i].pid == pid)
            return &children[i];
    return NULL;
}

static struct child *child_slot(void)
{
    for (int i = 0; i < MAX_CHILDREN; i++)
        if (children[i].pid == 0)
            return &children[i];
    for (int i = 0; i < MAX_CHILDREN; i++)
        if (children[i].reaped)
            return &children[i]; /* forget the oldest finished one's status */
    return NULL;
}

static bool env_overridden(const char *entry, char *const extra[])
{
    const char *eq = strchr(entry, '=');
    size_t klen = eq ? (size_t)(eq - entry) : strlen(entry);
    for (size_t i = 0; extra && extra[i]; i++)
        if (strncmp(extra[i], entry, klen) == 0 && extra[i][klen] == '=')
            return true;
    return false;
}

/* environ with extra_env's entries replacing those of the same name. */
static char **build_env(char *const extra[])
{
    size_t n = 0, m = 0;
    while (environ && environ[n])
        n++;
    while (extra && extra[m])
        m++;
    char **env = calloc(n + m + 1, sizeof *env);
    if (!env)
        return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (!env_overridden(environ[i], extra))
            env[k++] = environ[i];
    for (size_t i = 0; i < m; i++)
        env[k++] = extra[i];
    return env;
}

static void close_fds(unsigned lo, unsigned hi)
{
    if (lo > hi)
        return;
#ifdef SYS_close_range
    if (syscall(SYS_close_range, lo, hi, 0) == 0)
        return;
#endif
    for (unsigned fd = lo; fd <= hi && fd < 4096; fd++)
        close((int)fd);
}

/* In the child between fork and exec: only async-signal-safe calls. */
static void exec_child(char *const argv[], char **env, int log_fd, int err_pipe, pid_t parent)
{
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent)
        _exit(127); /* the parent died before prctl took effect */
    int in = open("/dev/null", O_RDONLY);
    if (in >= 0 && in != STDIN_FILENO) {
        dup2(in, STDIN_FILENO);
        close(in);
    }
    dup2(log_fd, STDOUT_FILENO);
    dup2(log_fd, STDERR_FILENO);
    /* Not every inherited fd is close-on-exec (Paho's sockets are not): a
     * child holding a test's client socket would keep that connection
     * half-open after the test closes it. err_pipe closes itself on exec. */
    close_fds(3, (unsigned)err_pipe - 1);
    close_fds((unsigned)err_pipe + 1, ~0U);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    signal(SIGPIPE, SIG_DFL);
    if (strchr(argv[0], '/'))
        execve(argv[0], argv, env);
    else
        execvpe(argv[0], argv, env);
    int err = errno;
    ssize_t unused = write(err_pipe, &err, sizeof err);
    (void)unused;
    _exit(127);
}

pid_t harness_spawn(char *const argv[], const char *log_path, char *const extra_env[])
{
    harness_init();
    if (!argv || !argv[0]) {
        log_error("harness_spawn: empty argv");
        return -1;
    }
    struct child *c = child_slot();
    if (!c) {
        log_error("harness_spawn: more than %d children", MAX_CHILDREN);
        return -1;
    }
    const char *path = log_path ? log_path : "/dev/null";
    int log_fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    int pipefd[2] = {-1, -1};
    char **env = build_env(extra_env);
    pid_t pid = -1;
    if (log_fd < 0 || !env || pipe2(pipefd, O_CLOEXEC) != 0) {
        log_error("harness_spawn %s: cannot prepare (log %s): %s", argv[0], path, strerror(errno));
        goto out;
    }
    pid_t parent = getpid();
    pid = fork();
    if (pid == 0)
        exec_child(argv, env, log_fd, pipefd[1], parent);
    if (pid < 0) {
        log_error("harness_spawn %s: fork: %s", argv[0], strerror(errno));
        goto out;
    }
    c->pid = pid;
    c->reaped = 0;
    c->status = 0;
    close(pipefd[1]);
    pipefd[1] = -1;
    int err = 0;
    /* EOF means exec succeeded (the pipe is close-on-exec). */
    if (read(pipefd[0], &err, sizeof err) == (ssize_t)sizeof err) {
        log_error("harness_spawn %s: exec: %s", argv[0], strerror(err));
        child_wait(c, KILL_REAP_MS);
        pid = -1;
    }
out:
    if (pipefd[0] >= 0)
        close(pipefd[0]);
    if (pipefd[1] >= 0)
        close(pipefd[1]);
    if (log_fd >= 0)
        close(log_fd);
    free(env);
    return pid;
}

int harness_stop(pid_t pid, int sig, int timeout_ms)
{
    struct child *c = child_find(pid);
    if (!c || pid <= 0) {
        log_error("harness_stop: %d is not a child of this test", (int)pid);
        return -1;
    }
    /* Already reaped (harness_alive saw it exit): never signal a PID that
     * may have been reused; report how it ended. */
    if (!child_poll(c)) {
        kill(pid, sig);
        if (!child_wait(c, timeout_ms)) {
            log_warn("harness_stop: %d ignored signal %d for %d ms; killing it", (int)pid, sig,
                     timeout_ms);
            kill(pid, SIGKILL);
            if (!child_wait(c, KILL_REAP_MS)) {
                log_error("harness_stop: %d survives SIGKILL", (int)pid);
                return -1;
            }
        }
    }
    int status = c->status;
    c->pid = 0;
    return status;
}

bool harness_alive(pid_t pid)
{
    struct child *c = child_find(pid);
    if (!c || pid <= 0)
        return pid > 0 && kill(pid, 0) == 0;
    return !child_poll(c);
}

/* ---- broker ---- */

static const char *mosquitto_path(void)
{
    return access("/usr/sbin/mosquitto", X_OK) == 0 ? "/usr/sbin/mosquitto" : "mosquitto";
}

static int write_broker_conf(const struct broker *b)
{
    FILE *f = fopen(b->conf, "w");
    if (!f) {
        log_error("harness: cannot write %s: %s", b->conf, strerror(errno));
        return -1;
    }
    fprintf(f, "# written by tests/harness.c\n");
    fprintf(f, "listener %d 127.0.0.1\n", b->port);
    fprintf(f, "allow_anonymous true\n");
    /* As root mosquitto would switch to user mosquitto, which cannot write
     * its persistence file into our temp dir. */
    if (geteuid() == 0)
        fprintf(f, "user root\n");
    /* The default 1000 drops QoS 1 messages silently for a slow or absent
     * subscriber; a test must see every message. */
    fprintf(f, "max_queued_messages 0\n");
    fprintf(f, "max_inflight_messages 100\n");
    /* A graceful stop (SIGTERM) saves sessions, subscriptions and queued
     * messages here; broker_restart relies on it. */
    fprintf(f, "persistence true\n");
    fprintf(f, "persistence_location %s/\n", b->persist);
    fprintf(f, "autosave_interval 0\n");
    /* PUBACKs otherwise wait for Nagle and the client's delayed ACK. */
    fprintf(f, "set_tcp_nodelay true\n");
    fprintf(f, "log_dest stderr\n");
    fprintf(f, "log_type error\nlog_type warning\nlog_type notice\nlog_type information\n");
    fprintf(f, "connection_messages true\n");
    if (fclose(f) != 0) {
        log_error("harness: cannot write %s: %s", b->conf, strerror(errno));
        return -1;
    }
    return 0;
}

static int tcp_connect_ok(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return 0;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int ok = connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0;
    close(fd);
    return ok;
}

static off_t file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? st.st_size : 0;
}

/* Waits for our mosquitto to say it is running on our port (it logs the
 * port before binding, and "running" only once every listener is bound:
 * another process could own a port we thought free), then for the port to
 * accept. The log is appended across restarts: only what follows log_from
 * counts. */
static int wait_broker_ready(struct broker *b, off_t log_from)
{
    char needle[96];
    snprintf(needle, sizeof needle, "listen socket on port %d.", b->port);
    int64_t deadline = mono_ms() + BROKER_READY_MS;
    while (mono_ms() < deadline) {
        if (!harness_alive(b->pid))
            return -1;
        if (file_contains(b->log, log_from, needle) &&
            file_contains(b->log, log_from, " running") && tcp_connect_ok(b->port))
            return 0;
        sleep_ms(POLL_MS);
    }
    return -1;
}

static int start_broker_once(struct broker *b)
{
    if (write_broker_conf(b) != 0)
        return -1;
    char *argv[] = {(char *)mosquitto_path(), "-c", b->conf, NULL};
    off_t log_from = file_size(b->log);
    b->pid = harness_spawn(argv, b->log, NULL);
    if (b->pid < 0)
        return -1;
    if (wait_broker_ready(b, log_from) == 0)
        return 0;
    int status = harness_stop(b->pid, SIGKILL, 1000);
    log_warn("harness: mosquitto on port %d did not come up (status %d); see %s", b->port, status,
             b->log);
    b->pid = 0;
    return -1;
}

static int broker_paths(struct broker *b)
{
    const char *dir = harness_tmpdir();
    if (!dir)
        return -1;
    int n1 = snprintf(b->persist, sizeof b->persist, "%s/broker-%d", dir, b->port);
    int n2 = snprintf(b->conf, sizeof b->conf, "%s/mosquitto-%d.conf", dir, b->port);
    int n3 = snprintf(b->log, sizeof b->log, "%s/mosquitto-%d.log", dir, b->port);
    snprintf(b->uri, sizeof b->uri, "tcp://127.0.0.1:%d", b->port);
    if (n1 < 0 || n2 < 0 || n3 < 0 || (size_t)n1 >= sizeof b->persist ||
        (size_t)n2 >= sizeof b->conf || (size_t)n3 >= sizeof b->log) {
        log_error("harness: temp dir path too long: %s", dir);
        return -1;
    }
    if (mkdir(b->persist, 0755) != 0 && errno != EEXIST) {
        log_error("harness: mkdir %s: %s", b->persist, strerror(errno));
        return -1;
    }
    return 0;
}

int broker_start(struct broker *b, int port)
{
    harness_init();
    int tries = port > 0 ? 1 : BROKER_TRIES;
    for (int i = 0; i < tries; i++) {
        memset(b, 0, sizeof *b);
        b->port = port > 0 ? port : harness_free_port();
        if (b->port <= 0 || broker_paths(b) != 0)
            return -1;
        if (start_broker_once(b) == 0)
            return 0;
    }
    log_error("harness: cannot start mosquitto (log %s)", b->log);
    return -1;
}

int broker_stop(struct broker *b)
{
    if (b->pid <= 0)
        return 0;
    int status = harness_stop(b->pid, SIGTERM, BROKER_STOP_MS);
    b->pid = 0;
    if (status < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        log_error("harness: mosquitto on port %d ended badly (status %d)", b->port, status);
        return -1;
    }
    return 0;
}

int broker_restart(struct broker *b)
{
    if (broker_stop(b) != 0)
        return -1;
    /* Same port, same config, same persistence directory. */
    return start_broker_once(b);
}

/* ---- polling ---- */

/* True if the file holds `needle` after offset `from`. Reads it through each
 * time in bounded chunks: test logs are small. */
static bool file_contains(const char *path, off_t from, const char *needle)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    if (from > 0 && lseek(fd, from, SEEK_SET) != from) {
        close(fd);
        return false;
    }
    size_t nlen = strlen(needle), cap = 1 << 16, have = 0;
    char *buf = malloc(cap);
    bool found = false;
    for (int chunks = 0; buf && chunks < 4096 && !found; chunks++) {
        ssize_t n = read(fd, buf + have, cap - have);
        if (n <= 0)
            break;
        have += (size_t)n;
        found = memmem(buf, have, needle, nlen) != NULL;
        /* Keep the tail that could start a match across the next read. */
        size_t keep = have < nlen ? have : nlen;
        memmove(buf, buf + have - keep, keep);
        have = keep;
    }
    free(buf);
    close(fd);
    return found;
}

bool harness_wait_log(const char *path, const char *needle, int timeout_ms)
{
    int64_t deadline = mono_ms() + timeout_ms;
    for (;;) {
        if (file_contains(path, 0, needle))
            return true;
        if (mono_ms() >= deadline)
            return false;
        sleep_ms(20);
    }
}

/* One integer from `sql`, or -1 with the reason in err. */
static int64_t sql_int(const char *db_path, const char *sql, char *err, size_t errlen)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    int64_t v = -1;
    err[0] = '\0';
    if (sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "open %s: %s", db_path, db ? sqlite3_errmsg(db) : "no memory");
        goto out;
    }
    /* pantaud writes the file concurrently (WAL): wait out its locks. */
    sqlite3_busy_timeout(db, 5000);
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "%s", sqlite3_errmsg(db));
        goto out;
    }
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW && sqlite3_column_type(st, 0) == SQLITE_INTEGER)
        v = sqlite3_column_int64(st, 0);
    else
        snprintf(err, errlen, "%s",
                 rc == SQLITE_ROW    ? "not an integer"
                 : rc == SQLITE_DONE ? "no row"
                                     : sqlite3_errmsg(db));
out:
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

int64_t harness_sql_int(const char *db_path, const char *sql)
{
    char err[256];
    int64_t v = sql_int(db_path, sql, err, sizeof err);
    if (err[0])
        log_error("harness_sql_int: %s: %s", sql, err);
    return v;
}

int64_t harness_wait_sql_int(const char *db_path, const char *sql, int64_t want, int timeout_ms)
{
    char err[256];
    int64_t deadline = mono_ms() + timeout_ms, v;
    /* Errors are expected while the daemon creates the file; report only
     * the one the wait ends with. */
    for (;;) {
        v = sql_int(db_path, sql, err, sizeof err);
        if (v == want || mono_ms() >= deadline)
            break;
        sleep_ms(50);
    }
    if (err[0])
        log_error("harness_wait_sql_int: %s: %s", sql, err);
    return v;
}

double harness_sql_double(const char *db_path, const char *sql)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st;
    double v = NAN;
    if (sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK) {
        sqlite3_busy_timeout(db, 2000);
        if (sqlite3_step(st) == SQLITE_ROW)
            v = sqlite3_column_double(st, 0);
        sqlite3_finalize(st);
    }
    sqlite3_close(db);
    return v;
}

int64_t harness_count_samples(const char *db_path, const char *where)
{
    char sql[1024];
    if (snprintf(sql, sizeof sql,
                 "SELECT coalesce(sum(n), 0) FROM chunks JOIN series ON series.id = "
                 "chunks.series WHERE data IS NOT NULL AND (%s)",
                 where ? where : "1") >= (int)sizeof sql)
        return -1;
    return harness_sql_int(db_path, sql);
}

static size_t http_body(char *data, size_t size, size_t n, void *ctx)
{
    return fwrite(data, size, n, ctx) * size;
}

/* The JSON answer of GET http://127.0.0.1:port/path, or NULL (err says why). */
static json_t *http_get_json(int port, const char *path, char *err, size_t errlen)
{
    char url[2048], *text = NULL;
    size_t len = 0;
    long status = 0;
    json_t *j = NULL;
    err[0] = '\0';
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", port, path);
    FILE *body = open_memstream(&text, &len);
    CURL *c = curl_easy_init();
    if (!body || !c) {
        snprintf(err, errlen, "no memory");
        goto out;
    }
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, http_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, body);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 10000L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    CURLcode rc = curl_easy_perform(c);
    fflush(body);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    if (rc != CURLE_OK)
        snprintf(err, errlen, "%.256s: %s", url, curl_easy_strerror(rc));
    else if (status != 200)
        snprintf(err, errlen, "%.256s: status %ld: %.200s", url, status, text ? text : "");
    else if (!(j = json_loadb(text, len, 0, NULL)))
        snprintf(err, errlen, "%.256s: not JSON", url);
out:
    if (c)
        curl_easy_cleanup(c);
    if (body)
        fclose(body);
    free(text);
    return j;
}

/* Every sample from the epoch to 2070 in one bucket per series. */
#define HTTP_ALL_TIME "&from=0&to=3162240000000&step=3162240000000&agg="

static double http_agg(int port, const char *args, const char *agg, char *err, size_t errlen)
{
    char path[1536];
    snprintf(path, sizeof path, "/api/v1/query?%s" HTTP_ALL_TIME "%s", args, agg);
    json_t *j = http_get_json(port, path, err, errlen);
    if (!j)
        return NAN;
    double v = 0;
    json_t *series = json_object_get(j, "series"), *se, *pt;
    size_t i, k;
    json_array_foreach(series, i, se) json_array_foreach(json_object_get(se, "points"), k, pt) v +=
        json_number_value(json_array_get(pt, 1));
    json_decref(j);
    return v;
}

double harness_http_agg(int port, const char *args, const char *agg)
{
    char err[512];
    double v = http_agg(port, args, agg, err, sizeof err);
    if (err[0])
        log_error("harness_http_agg: %s", err);
    return v;
}

int64_t harness_wait_http_count(int port, const char *args, int64_t want, int timeout_ms)
{
    char err[512];
    int64_t deadline = mono_ms() + timeout_ms, v;
    for (;;) {
        double d = http_agg(port, args, "count", err, sizeof err);
        v = isnan(d) ? -1 : (int64_t)d;
        if (v == want || mono_ms() >= deadline)
            break;
        sleep_ms(50);
    }
    if (err[0])
        log_error("harness_wait_http_count: %s", err);
    return v;
}

const char *harness_bin_dir(void)
{
    static char dir[PATH_MAX];
    if (!dir[0]) {
        ssize_t n = readlink("/proc/self/exe", dir, sizeof dir - 1);
        if (n <= 0)
            return ".";
        dir[n] = '\0';
        char *slash = strrchr(dir, '/');
        if (slash)
            *slash = '\0';
    }
    return dir;
}

int harness_write_tmp(char path[64], const char *text)
{
    snprintf(path, 64, "/tmp/pantau-test-XXXXXX");
    int fd = mkstemp(path);
    if (fd < 0)
        return -1;
    size_t n = strlen(text);
    ssize_t w = write(fd, text, n);
    close(fd);
    if (w < 0 || (size_t)w != n) {
        unlink(path);
        return -1;
    }
    return 0;
}

void harness_problem(void *problems, const char *file, int line, const char *problem)
{
    struct harness_problems *ps = problems;
    if (ps->n < HARNESS_MAX_PROBLEMS) {
        snprintf(ps->p[ps->n].file, sizeof ps->p[ps->n].file, "%s", file ? file : "(null)");
        ps->p[ps->n].line = line;
        snprintf(ps->p[ps->n].text, sizeof ps->p[ps->n].text, "%s", problem ? problem : "(null)");
    }
    ps->n++;
}

void harness_problems_dump(const struct harness_problems *ps)
{
    fprintf(stderr, "    %d problem(s) reported\n", ps->n);
    for (int i = 0; i < ps->n && i < HARNESS_MAX_PROBLEMS; i++)
        fprintf(stderr, "    %s:%d: %s\n", ps->p[i].file, ps->p[i].line, ps->p[i].text);
}

static void print_problem(void *ctx, const char *file, int line, const char *problem)
{
    fprintf(stderr, "%s:%d: %s\n", file, line, problem);
}

struct catalog *harness_catalog(const char *text)
{
    char path[512];
    snprintf(path, sizeof path, "%s/catalog.ini", harness_tmpdir());
    FILE *f = fopen(path, "w");
    if (!f)
        return NULL;
    fputs(text, f);
    fclose(f);
    struct catalog *c = NULL;
    return catalog_load(&c, path, print_problem, NULL) == 0 ? c : NULL;
}
