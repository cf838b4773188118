/* harness.h — real parts for integration tests: a mosquitto broker on a free
 * loopback port, child processes tracked and killed by PID, temp dirs, and
 * polling helpers bounded in time.
 *
 * Every process a test starts is recorded; harness_cleanup() (also run from
 * atexit and on SIGINT/SIGTERM of the test) kills any still alive by PID, and
 * removes the temp dir unless PANTAU_KEEP_TMP is set. */
#ifndef PANTAU_HARNESS_H
#define PANTAU_HARNESS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* A fresh temp dir for this test binary (created once, reused). */
const char *harness_tmpdir(void);

/* A catalog from its text (written to a file in the temp dir and loaded;
 * problems printed as file:line: problem), or NULL. Free with catalog_free. */
struct catalog;
struct catalog *harness_catalog(const char *text);

/* A TCP port on 127.0.0.1 that was free a moment ago. */
int harness_free_port(void);

/* Starts `argv` with stdout and stderr appended to `log_path` (NULL: /dev/null);
 * extra_env is a NULL-terminated list of "K=V" added to the environment (may be
 * NULL). Returns the PID or -1. */
pid_t harness_spawn(char *const argv[], const char *log_path, char *const extra_env[]);

/* Sends `sig` and waits up to timeout_ms for exit, then SIGKILLs. Returns the
 * exit status as from waitpid (use WIFEXITED/WEXITSTATUS), or -1. */
int harness_stop(pid_t pid, int sig, int timeout_ms);

/* True while the process runs (not reaped). */
bool harness_alive(pid_t pid);

struct broker {
    pid_t pid;
    int port;
    char uri[64];      /* tcp://127.0.0.1:PORT */
    char conf[256];    /* the generated mosquitto.conf */
    char log[256];     /* its stderr */
    char persist[256]; /* persistence directory (kept across restarts) */
};

/* Starts mosquitto on a free port with max_queued_messages raised and
 * persistence on (so a graceful restart keeps sessions), waits until it accepts
 * TCP connections (<= 5 s). port 0 = pick one. Returns 0 or -1. */
int broker_start(struct broker *b, int port);
/* SIGTERM (mosquitto saves its persistence file), wait, reap. */
int broker_stop(struct broker *b);
/* Stop then start on the same port with the same persistence. */
int broker_restart(struct broker *b);

/* Polls `path` until it contains `needle` (fixed string), up to timeout_ms.
 * Returns true if found. */
bool harness_wait_log(const char *path, const char *needle, int timeout_ms);

/* Runs `sql` (one SELECT of one integer) on the SQLite file read-only. Returns
 * the value or -1 on any error (logged to stderr). */
int64_t harness_sql_int(const char *db_path, const char *sql);
/* The same for one REAL; NAN on any error. */
double harness_sql_double(const char *db_path, const char *sql);

/* Polls harness_sql_int until it returns `want`, up to timeout_ms. Returns the
 * last value seen. */
int64_t harness_wait_sql_int(const char *db_path, const char *sql, int64_t want, int timeout_ms);

/* Samples at rest (issue 20): after a clean stop the whole head is in chunk
 * rows, so the database alone counts every sample. `where` (may be NULL)
 * filters on series' columns (program, unit, metric, labels) and chunks'
 * (start). Returns the count or -1 on any error (logged). */
int64_t harness_count_samples(const char *db_path, const char *where);

/* While pantaud runs, its head holds the newest samples: read them through
 * its HTTP API on 127.0.0.1:port. `agg` over every sample the query `args`
 * select ("program=P&metric=M[&unit=U]"), all time in one bucket: "count"
 * or "sum" (NAN on any error, logged). */
double harness_http_agg(int port, const char *args, const char *agg);
/* Polls harness_http_agg(port, args, "count") until it is `want`, up to
 * timeout_ms. Returns the last count seen (-1: no answer). */
int64_t harness_wait_http_count(int port, const char *args, int64_t want, int timeout_ms);

/* The directory of the running test binary (.../build/tests), where the
 * binaries under test are found as ../pantaud. */
const char *harness_bin_dir(void);

/* Writes `text` to a fresh file /tmp/pantau-test-XXXXXX; path gets its name.
 * Returns 0 or -1. */
int harness_write_tmp(char path[64], const char *text);

/* Records the problems a parser reports (cfg_report_fn, catalog_report_fn). */
#define HARNESS_MAX_PROBLEMS 32
struct harness_problems {
    int n;
    struct {
        char file[256];
        int line;
        char text[512];
    } p[HARNESS_MAX_PROBLEMS];
};
void harness_problem(void *problems, const char *file, int line, const char *problem);
/* Prints them to stderr (after a failed check). */
void harness_problems_dump(const struct harness_problems *ps);

/* Kills every process still alive and removes the temp dir. Idempotent. */
void harness_cleanup(void);

#endif
