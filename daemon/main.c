/* main.c — pantaud: wires the modules together and orders start-up and
 * shutdown. One libuv loop; see docs/ARCHITECTURE.md.
 *
 * Start:    config + catalog -> store (+ checkpointer) -> ingest (MQTT
 *           connects in the background) -> live -> query pool -> KPI engine
 *           -> api + http (listening)
 * SIGTERM/SIGINT: ingest stops (disconnect, drain, commit, last live push)
 *           -> KPI engine and checkpointer stop -> http stops (connections
 *           close) -> store closes -> handles close -> uv_run returns ->
 *           everything freed -> exit 0. A second signal while stopping exits
 *           at once with status 1.
 * SIGHUP (or POST /api/v1/reload): re-reads the config file's log level and
 *           tokens and the catalog, applied together or not at all; other
 *           settings need a restart.
 * --backup PATH: no daemon; copies the configured database to PATH and exits
 *           (backup.h). */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>
#include <uv.h>

#include "alert_engine.h"
#include "api.h"
#include "federation.h"
#include "hasher.h"
#include "backup.h"
#include "catalog.h"
#include "cfg.h"
#include "checkpoint.h"
#include "http.h"
#include "ingest.h"
#include "kpi_engine.h"
#include "live.h"
#include "log.h"
#include "loopwatch.h"
#include "presence.h"
#include "query_pool.h"
#include "store.h"
#include "users_cli.h"
#include "util.h"
#include "webhook.h"
#include "wire.h"

struct daemon {
    uv_loop_t *loop;
    struct cfg cfg;
    struct catalog *catalog; /* NULL without [catalog] file / --catalog */
    struct store *store;
    struct ingest *ingest;
    struct live *live;
    struct http_server *http;
    struct query_pool *queries;
    struct kpi_engine *kpis;
    struct alert_engine *alerts;
    struct presence *presence;
    struct federation *federation; /* CONTRACT §7 */
    struct webhook *webhook;       /* NULL without [alerts] webhook */
    struct checkpointer *checkpoints;
    struct loopwatch *loopwatch;
    struct api api;
    uv_signal_t sig_term, sig_int, sig_hup;
    uv_timer_t stats_timer, watchdog_timer, prune_timer, status_timer, flush_timer;
    uint64_t synced_ms; /* the head log's last fdatasync */
    uv_work_t sync_work;
    int sync_fd, sync_errno;            /* the fdatasync under way (-1: none) */
    uint64_t status_samples, status_ms; /* at the last STATUS=, for the rate */
    const char *backup_path;            /* --backup PATH: copy the database, exit */
    char **user_argv;                   /* `user ...` (users_cli.h): run it, exit */
    int user_argc;
    struct people *people;
    bool allow_root; /* --allow-root: run even with euid 0 */
    bool salvage;    /* --salvage: a damaged database is moved aside, not refused */
    bool stopping;
    int exit_code;
};

static void usage(FILE *out)
{
    fprintf(out, "usage: pantaud [options]\n"
                 "  -c, --config FILE     configuration file (INI); without it, built-in defaults\n"
                 "      --mqtt URI        broker, e.g. tcp://127.0.0.1:1883 or ssl://host:8883\n"
                 "      --db PATH         SQLite database file\n"
                 "      --listen HOST:PORT  HTTP and websocket address\n"
                 "      --log-level LEVEL error, warn, info or debug\n"
                 "      --catalog FILE    the program catalog; overrides [catalog] file\n"
                 "      --check-config    validate the configuration and the catalog, print\n"
                 "                        file:line: problem for each error, exit 0 if valid\n"
                 "      --backup PATH     copy the database (while pantaud runs) to PATH, exit\n"
                 "  user add NAME --role viewer|operator|admin [--programs P1,P2]\n"
                 "  user passwd NAME | user del NAME | user list\n"
                 "                        manage accounts (the password on standard input), exit\n"
                 "      --allow-root      run the daemon as root (refused without it)\n"
                 "      --salvage         a database that fails PRAGMA quick_check at start is\n"
                 "                        moved aside (<db>.damaged-<time>) and pantaud starts\n"
                 "                        with an empty one (without it: refused, exit 1)\n"
                 "  -V, --version         print the version\n"
                 "  -h, --help            this help\n");
}

static void report_problem(void *ctx, const char *file, int line, const char *problem)
{
    int *count = ctx;
    (*count)++;
    if (strcmp(file, "command line") == 0)
        fprintf(stderr, "%s: %s\n", file, problem);
    else /* file:line: problem; line 0 for what belongs to no line (file missing) */
        fprintf(stderr, "%s:%d: %s\n", file, line, problem);
}

enum {
    OPT_MQTT = 256,
    OPT_DB,
    OPT_LISTEN,
    OPT_LOG_LEVEL,
    OPT_CATALOG,
    OPT_CHECK,
    OPT_BACKUP,
    OPT_ALLOW_ROOT,
    OPT_SALVAGE
};

/* One command-line option that sets a config key; applied after the file. */
struct override {
    const char *section, *key, *value;
};

/* Returns 0 to run, 1 to exit 0 (help, version, valid --check-config),
 * -1 to exit non-zero. `overrides` has room for argc entries: every option
 * takes at least one argv word, so none is ever dropped. */
static int configure_with(struct daemon *d, int argc, char **argv, struct override *overrides)
{
    static const struct option longopts[] = {{"config", required_argument, NULL, 'c'},
                                             {"mqtt", required_argument, NULL, OPT_MQTT},
                                             {"db", required_argument, NULL, OPT_DB},
                                             {"listen", required_argument, NULL, OPT_LISTEN},
                                             {"log-level", required_argument, NULL, OPT_LOG_LEVEL},
                                             {"catalog", required_argument, NULL, OPT_CATALOG},
                                             {"check-config", no_argument, NULL, OPT_CHECK},
                                             {"backup", required_argument, NULL, OPT_BACKUP},
                                             {"allow-root", no_argument, NULL, OPT_ALLOW_ROOT},
                                             {"salvage", no_argument, NULL, OPT_SALVAGE},
                                             {"version", no_argument, NULL, 'V'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    int n_over = 0, problems = 0, opt;
    const char *config_path = NULL;
    bool check_only = false;

    /* "+": stop at the first word, so `user add NAME --role R` keeps its
     * options for users_cli. */
    while ((opt = getopt_long(argc, argv, "+c:Vh", longopts, NULL)) != -1) {
        switch (opt) {
        case 'c':
            config_path = optarg;
            break;
        case OPT_MQTT:
            overrides[n_over++] = (struct override){"mqtt", "uri", optarg};
            break;
        case OPT_DB:
            overrides[n_over++] = (struct override){"store", "path", optarg};
            break;
        case OPT_LISTEN:
            overrides[n_over++] = (struct override){"http", "listen", optarg};
            break;
        case OPT_LOG_LEVEL:
            overrides[n_over++] = (struct override){"log", "level", optarg};
            break;
        case OPT_CATALOG:
            overrides[n_over++] = (struct override){"catalog", "file", optarg};
            break;
        case OPT_CHECK:
            check_only = true;
            break;
        case OPT_BACKUP:
            d->backup_path = optarg;
            break;
        case OPT_ALLOW_ROOT:
            d->allow_root = true;
            break;
        case OPT_SALVAGE:
            d->salvage = true;
            break;
        case 'V':
            printf("pantaud %s\n", PANTAU_VERSION);
            return 1;
        case 'h':
            usage(stdout);
            return 1;
        default:
            usage(stderr);
            return -1;
        }
    }
    if (optind < argc && strcmp(argv[optind], "user") == 0) {
        d->user_argv = argv + optind;
        d->user_argc = argc - optind;
    } else if (optind < argc) {
        fprintf(stderr, "pantaud: unexpected argument \"%s\"\n", argv[optind]);
        usage(stderr);
        return -1;
    }
    if (cfg_defaults(&d->cfg) != 0) {
        fprintf(stderr, "pantaud: out of memory\n");
        return -1;
    }
    if (config_path)
        cfg_load(&d->cfg, config_path, report_problem, &problems);
    for (int i = 0; i < n_over; i++)
        cfg_set(&d->cfg, overrides[i].section, overrides[i].key, overrides[i].value, report_problem,
                &problems);
    /* Once, after every source: an override can make a file valid or not. */
    cfg_validate(&d->cfg, report_problem, &problems);
    if (problems)
        fprintf(stderr, "pantaud: %d problem%s in the configuration\n", problems,
                problems == 1 ? "" : "s");
    /* Even after config problems, so --check-config lists the catalog's too.
     * A backup needs only the database's path: a catalog's problems must not
     * stop it. */
    int catalog_problems = 0;
    if (d->cfg.catalog_path && !d->backup_path &&
        catalog_load(&d->catalog, d->cfg.catalog_path, report_problem, &catalog_problems) < 0) {
        fprintf(stderr, "pantaud: out of memory\n");
        return -1;
    }
    if (catalog_problems)
        fprintf(stderr, "pantaud: %d problem%s in the catalog %s\n", catalog_problems,
                catalog_problems == 1 ? "" : "s", d->cfg.catalog_path);
    if (problems || catalog_problems)
        return -1;
    if (check_only) {
        printf("%s: configuration is valid\n", config_path ? config_path : "built-in defaults");
        if (d->catalog)
            printf("%s: catalog is valid (%d program%s, %d KPI%s, %d rule%s)\n",
                   d->cfg.catalog_path, d->catalog->n_programs,
                   d->catalog->n_programs == 1 ? "" : "s", d->catalog->n_kpis,
                   d->catalog->n_kpis == 1 ? "" : "s", d->catalog->n_rules,
                   d->catalog->n_rules == 1 ? "" : "s");
        return 1;
    }
    return 0;
}

static int configure(struct daemon *d, int argc, char **argv)
{
    struct override *overrides = calloc((size_t)argc + 1, sizeof *overrides);
    if (!overrides) {
        fprintf(stderr, "pantaud: out of memory\n");
        return -1;
    }
    int rc = configure_with(d, argc, argv, overrides);
    free(overrides);
    return rc;
}

static void on_stats_timer(uv_timer_t *t)
{
    struct daemon *d = t->data;
    ingest_log_stats(d->ingest, "periodic");
}

/* `systemctl status pantaud` shows the last STATUS= line: ingest's figures
 * and the rate since the previous one. */
#define STATUS_INTERVAL_MS 10000
static void on_status_timer(uv_timer_t *t)
{
    struct daemon *d = t->data;
    struct ingest_stats st;
    ingest_get_stats(d->ingest, &st);
    uint64_t now = uv_now(d->loop);
    double secs = (double)(now - d->status_ms) / 1000.0;
    double rate = secs > 0 ? (double)(st.samples - d->status_samples) / secs : 0;
    d->status_samples = st.samples;
    d->status_ms = now;
    sd_notifyf(0, "STATUS=%llu samples (%.1f/s), %llu rejected, %llu queued; broker %s",
               (unsigned long long)st.samples, rate, (unsigned long long)st.rejected,
               (unsigned long long)st.queued,
               st.mqtt_subscribed  ? "subscribed"
               : st.mqtt_connected ? "connected"
                                   : "not connected");
}

/* Retention in small bites, so a big delete never stalls the loop: 5000
 * rows at a time, again after 100 ms while there is more, else each minute. */
#define PRUNE_ROWS 5000
static void on_prune_timer(uv_timer_t *t)
{
    struct daemon *d = t->data;
    uint64_t t0 = util_mono_ns();
    int n = store_prune(d->store, util_now_ms(), d->cfg.retention_days, PRUNE_ROWS);
    loopwatch_note("prune", t0);
    uv_timer_start(t, on_prune_timer, n == PRUNE_ROWS ? 100 : 60000, 0);
}

/* The head's ended hours become chunk rows a few hundred series at a time
 * (one short transaction each: the loop goes on between them), again at
 * once while more are due, else each second; the head log is synced every
 * HEADLOG_SYNC_MS, which bounds what a power cut takes (store.h). */
/* The head log's fdatasync waits for the disk: on a worker, never the loop. */
static void sync_on_worker(uv_work_t *w)
{
    struct daemon *d = w->data;
    if (fdatasync(d->sync_fd) != 0)
        d->sync_errno = errno;
}

static void sync_done(uv_work_t *w, int status)
{
    struct daemon *d = w->data;
    if (d->sync_errno)
        log_error("head log: fdatasync: %s", strerror(d->sync_errno));
    d->sync_errno = 0;
    close(d->sync_fd);
    d->sync_fd = -1;
}

#define FLUSH_SERIES    256
#define HEADLOG_SYNC_MS 10000
static void on_flush_timer(uv_timer_t *t)
{
    struct daemon *d = t->data;
    uint64_t t0 = util_mono_ns();
    int n = store_flush(d->store, util_now_ms(), FLUSH_SERIES);
    loopwatch_note("flush", t0);
    if (uv_now(d->loop) - d->synced_ms >= HEADLOG_SYNC_MS && d->sync_fd < 0) {
        d->synced_ms = uv_now(d->loop);
        d->sync_fd = store_sync_fd(d->store);
        if (d->sync_fd >= 0 &&
            uv_queue_work(d->loop, &d->sync_work, sync_on_worker, sync_done) != 0) {
            close(d->sync_fd);
            d->sync_fd = -1;
        }
    }
    uv_timer_start(t, on_flush_timer, n == FLUSH_SERIES ? 10 : 1000, 0);
}

static void on_watchdog_timer(uv_timer_t *t)
{
    /* Sent from the loop: a stuck loop stops the pings and systemd restarts us. */
    sd_notify(0, "WATCHDOG=1");
}

static void close_handle(uv_handle_t *h)
{
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

/* The last line says what pantaud cost the disk since it started (its
 * /proc/self/io): bytes it wrote, and dirty pages it dropped before they
 * were written (make bench reads it: issue 20). */
static void log_stopped(void)
{
    unsigned long long written = 0, cancelled = 0;
    FILE *f = fopen("/proc/self/io", "r");
    char line[128];
    while (f && fgets(line, sizeof line, f)) {
        sscanf(line, "write_bytes: %llu", &written);
        sscanf(line, "cancelled_write_bytes: %llu", &cancelled);
    }
    if (f)
        fclose(f);
    log_info("pantaud stopped (disk writes since start: %llu bytes, %llu of them cancelled)",
             written, cancelled);
}

/* Ingest has committed everything it received: close the rest. */
static void on_ingest_stopped(void *ctx)
{
    struct daemon *d = ctx;
    d->ingest = NULL;
    kpi_engine_stop(d->kpis);     /* jobs in flight finish; freed after the loop */
    alert_engine_stop(d->alerts); /* writes what is pending */
    presence_stop(d->presence);
    federation_close_db(d->federation); /* ingest's last group is committed */
    webhook_stop(d->webhook);           /* its rows stay in the outbox for the next start */
    checkpointer_stop(d->checkpoints);
    live_stop(d->live);
    http_stop(d->http); /* closes connections; freed after the loop ends */
    api_people_stop(d->people);
    store_close(d->store);
    d->store = NULL;
    close_handle((uv_handle_t *)&d->stats_timer);
    close_handle((uv_handle_t *)&d->watchdog_timer);
    close_handle((uv_handle_t *)&d->prune_timer);
    close_handle((uv_handle_t *)&d->flush_timer);
    close_handle((uv_handle_t *)&d->status_timer);
    close_handle((uv_handle_t *)&d->sig_term);
    close_handle((uv_handle_t *)&d->sig_int);
    close_handle((uv_handle_t *)&d->sig_hup);
    log_stopped();
}

static void begin_stop(struct daemon *d, const char *why)
{
    if (d->stopping) {
        log_warn("%s again while stopping: exiting now", why);
        _exit(1);
    }
    d->stopping = true;
    log_info("%s: stopping (committing what was received)", why);
    sd_notify(0, "STOPPING=1");
    uv_timer_stop(&d->stats_timer);
    uv_timer_stop(&d->prune_timer);
    uv_timer_stop(&d->flush_timer);
    uv_timer_stop(&d->status_timer);
    /* Stopping waits for Paho's threads (MQTTAsync_destroy) inside a turn:
     * that is not the loop being slow. */
    loopwatch_stop(d->loopwatch);
    federation_stop(d->federation); /* no more STATE offers */
    if (d->ingest)
        ingest_stop(d->ingest, on_ingest_stopped, d);
    else
        on_ingest_stopped(d);
}

/* A reload's problems: logged, counted, and listed as JSON objects
 * {"file","line","problem"} for POST /api/v1/reload (json may be NULL). */
struct reload_problems {
    int count;
    struct buf *json;
};

static void reload_problem(void *ctx, const char *file, int line, const char *problem)
{
    struct reload_problems *p = ctx;
    log_error("reload: %s:%d: %s", file, line, problem);
    if (p->json) {
        buf_puts(p->json, p->count ? "," : "");
        buf_puts(p->json, "{\"file\":");
        buf_json_str(p->json, file);
        buf_printf(p->json, ",\"line\":%d,\"problem\":", line);
        buf_json_str(p->json, problem);
        buf_puts(p->json, "}");
    }
    p->count++;
}

/* CONTRACT §10: with a catalog (and [ingest] catalog_only), ingest takes
 * samples and $status only for the programs it lists. */
static int set_ingest_programs(struct daemon *d, const struct catalog *c)
{
    if (!d->ingest)
        return 0;
    if (!c || !d->cfg.catalog_path || !d->cfg.catalog_only)
        return ingest_set_programs(d->ingest, NULL, 0);
    const char **ids = calloc((size_t)c->n_programs + 1, sizeof *ids);
    if (!ids)
        return -1;
    for (int i = 0; i < c->n_programs; i++)
        ids[i] = c->programs[i].id;
    int rc = ingest_set_programs(d->ingest, ids, c->n_programs);
    free(ids);
    return rc;
}

/* Re-reads what can change without a restart: the config file's log level
 * and tokens, and the catalog. Both are read and checked before either is
 * applied, so a file with errors changes nothing. Returns the number of
 * problems (0 = applied), each logged as file:line: problem and, with
 * problems_json, appended to it as a JSON object. */
static int reload(void *ctx, struct buf *problems_json)
{
    struct daemon *d = ctx;
    struct cfg fresh;
    struct catalog *catalog = NULL;
    struct reload_problems rp = {0, problems_json};
    if (cfg_defaults(&fresh) != 0)
        return 1;
    if (d->cfg.path) {
        cfg_load(&fresh, d->cfg.path, reload_problem, &rp);
        cfg_validate(&fresh, reload_problem, &rp);
    }
    /* The catalog named at start-up (--catalog wins over the file). */
    if (d->cfg.catalog_path && catalog_load(&catalog, d->cfg.catalog_path, reload_problem, &rp) < 0)
        reload_problem(&rp, d->cfg.catalog_path, 0, "out of memory");
    int problems = rp.count;
    if (problems == 0) {
        if (d->cfg.path) {
            log_set_level(fresh.log_level);
            if (d->http)
                http_set_tokens(d->http, &fresh);
        }
        if (catalog && d->kpis) {
            int n = catalog->n_programs;
            if (kpi_engine_set_catalog(d->kpis, catalog) != 0 ||
                (d->alerts && alert_engine_set_catalog(d->alerts, kpi_engine_catalog(d->kpis))) ||
                set_ingest_programs(d, kpi_engine_catalog(d->kpis)) != 0)
                problems++;
            else
                log_info("reload: catalog %s applied (%d program(s))", d->cfg.catalog_path, n);
            catalog = NULL;
        }
        if (d->cfg.path)
            log_info("reload: %s applied (log level, %d token(s); other settings need a restart)",
                     d->cfg.path, fresh.n_tokens);
    } else {
        log_error("reload: %d problem(s); keeping the running configuration and catalog", problems);
    }
    catalog_free(catalog);
    cfg_free(&fresh);
    return problems;
}

static void on_signal(uv_signal_t *s, int signum)
{
    struct daemon *d = s->data;
    loopwatch_signal_woke(); /* the wait the signal cut short is not work */
    if (signum == SIGHUP) {
        /* CONTRACT §8: a reload is an audit event; by a signal, nobody's
         * (user, role and ip null, as on the command line). */
        char detail[32];
        snprintf(detail, sizeof detail, "{\"problems\":%d}", reload(d, NULL));
        api_audit(&d->api, NULL, "reload", NULL, detail);
        return;
    }
    begin_stop(d, signum == SIGTERM ? "SIGTERM" : "SIGINT");
}

/* ingest -> live: what committed goes to the websocket clients. */
static void on_committed_samples(void *ctx, const struct sample *samples, size_t n)
{
    struct daemon *d = ctx;
    uint64_t t0 = util_mono_ns();
    live_publish_samples(d->live, samples, n);
    loopwatch_note("live publish", t0);
    t0 = util_mono_ns();
    kpi_engine_samples(d->kpis, samples, n);
    if (d->alerts) /* NULL while starting or after a failed start */
        alert_engine_samples(d->alerts, samples, n);
    if (d->presence)
        presence_samples(d->presence, samples, n);
    loopwatch_note("kpi+alert+presence", t0);
}

/* alert engine -> live: an alert fired, resolved, was acknowledged or
 * escalated. */
static void on_alert_changed(void *ctx, const char *event, const struct alert_record *a)
{
    struct daemon *d = ctx;
    struct buf b;
    buf_init(&b, 0);
    wire_alert(&b, a);
    if (!buf_failed(&b))
        live_publish_alert(d->live, a->program, a->unit, a->metric, b.data);
    buf_free(&b);
}

/* alert engine -> webhook: the body POSTed for a transition. */
static char *alert_note(void *ctx, const char *event, const struct alert_record *a)
{
    struct buf b;
    buf_init(&b, 0);
    buf_printf(&b, "{\"event\":\"%s\",\"alert\":", event);
    wire_alert(&b, a);
    buf_puts(&b, "}");
    if (buf_failed(&b)) {
        buf_free(&b);
        return NULL;
    }
    return b.data; /* taken */
}

/* Inside the alert engine's transaction: into the outbox with the change,
 * for its destination (CONTRACT §8: an escalation to [alerts]
 * escalate_webhook when set); nothing when the event has none. */
static int alert_note_persist(void *ctx, int64_t alert_id, const char *event, const char *body)
{
    struct daemon *d = ctx;
    int dest = webhook_dest_for(d->webhook, strcmp(event, "escalated") == 0);
    return dest < 0 ? 0 : webhook_enqueue(d->webhook, alert_id, dest, body, util_now_ms());
}

static void alert_notes_persisted(void *ctx)
{
    struct daemon *d = ctx;
    webhook_kick(d->webhook);
}

static int start_webhook(struct daemon *d)
{
    if (!d->cfg.alerts_webhook && !d->cfg.alerts_escalate_webhook)
        return 0;
    struct webhook_opts wo = {.loop = d->loop,
                              .db = store_db(d->store),
                              .url = d->cfg.alerts_webhook,
                              .token = d->cfg.alerts_webhook_token,
                              .escalate_url = d->cfg.alerts_escalate_webhook,
                              .escalate_token = d->cfg.alerts_escalate_webhook_token};
    return webhook_start(&d->webhook, &wo);
}

/* The rules of the catalog the KPI engine holds (it owns the catalog). */
static int start_alerts(struct daemon *d)
{
    if (start_webhook(d) != 0)
        return -1;
    struct alert_engine_opts ao = {.loop = d->loop,
                                   .store = d->store,
                                   .changed = on_alert_changed,
                                   .ctx = d,
                                   .retention_days = d->cfg.retention_days};
    if (d->webhook) {
        ao.note = alert_note;
        ao.persist_note = alert_note_persist;
        ao.persisted = alert_notes_persisted;
    }
    return alert_engine_start(&d->alerts, &ao, kpi_engine_catalog(d->kpis));
}

/* kpi engine -> live: a KPI's current or status changed. */
static void on_kpi_changed(void *ctx, int kpi, const struct kpi_eval *eval)
{
    struct daemon *d = ctx;
    const struct catalog *c = kpi_engine_catalog(d->kpis);
    struct buf b;
    buf_init(&b, 0);
    wire_kpi(&b, &c->kpis[kpi], eval);
    if (!buf_failed(&b))
        live_publish_kpi(d->live, c->programs[c->kpis[kpi].program].id, b.data);
    buf_free(&b);
}

/* The catalog to start with: the configured one, or an empty one (no
 * programs: /api/v1/programs answers an empty list). */
static int start_kpis(struct daemon *d)
{
    struct catalog *c = d->catalog;
    d->catalog = NULL;
    if (!c && !(c = catalog_empty()))
        return -1;
    struct kpi_engine_opts ko = {.loop = d->loop,
                                 .store = d->store,
                                 .pool = d->queries,
                                 .changed = on_kpi_changed,
                                 .ctx = d};
    return kpi_engine_start(&d->kpis, &ko, c);
}

/* ingest -> a $status arrived. */
static void on_presence(void *ctx, const char *program, const char *unit)
{
    struct daemon *d = ctx;
    if (d->alerts)
        alert_engine_presence(d->alerts, program, unit);
    if (d->presence)
        presence_status(d->presence, program, unit);
}

/* presence -> live: a unit appeared or its status changed. */
static void on_unit_changed(void *ctx, const struct store_unit_view *u, int64_t now)
{
    struct daemon *d = ctx;
    struct buf b;
    buf_init(&b, 0);
    wire_unit(&b, u, now, api_unit_stale_ms(&d->api, u->program));
    if (!buf_failed(&b))
        live_publish_unit(d->live, u->program, u->unit, b.data);
    buf_free(&b);
}

static int64_t unit_stale_ms(void *ctx, const char *program)
{
    struct daemon *d = ctx;
    return api_unit_stale_ms(&d->api, program);
}

static int start_presence(struct daemon *d)
{
    struct presence_opts po = {.loop = d->loop,
                               .store = d->store,
                               .stale_ms = unit_stale_ms,
                               .changed = on_unit_changed,
                               .ctx = d};
    return presence_start(&d->presence, &po);
}

static int start_api(struct daemon *d)
{
    struct live_opts lo = {.loop = d->loop,
                           .queue_max = (size_t)d->cfg.live_queue,
                           .max_clients = (size_t)d->cfg.live_max_clients,
                           .queue_bytes = (size_t)d->cfg.live_queue_bytes,
                           .max_filters = (size_t)d->cfg.live_max_filters,
                           .max_per_credential = (size_t)d->cfg.live_max_per_credential,
                           .snapshot_interval_ms = (uint64_t)d->cfg.live_snapshot_interval_s * 1000,
                           .version = PANTAU_VERSION};
    if (live_init(&d->live, d->store, &lo) != 0)
        return -1;
    struct ingest_observer obs = {on_committed_samples, on_presence, d};
    ingest_set_observer(d->ingest, &obs);
    if (query_pool_open(&d->queries, d->loop, d->cfg.db_path, store_head(d->store)) != 0)
        return -1;
    if (start_kpis(d) != 0 || start_alerts(d) != 0 ||
        set_ingest_programs(d, kpi_engine_catalog(d->kpis)) != 0)
        return -1;
    d->api = (struct api){.kpis = d->kpis,
                          .alerts = d->alerts,
                          .webhook = d->webhook,
                          .checkpoints = d->checkpoints,
                          .loopwatch = d->loopwatch,
                          .cfg = &d->cfg,
                          .store = d->store,
                          .ingest = d->ingest,
                          .live = d->live,
                          .queries = d->queries,
                          .loop = d->loop,
                          .started_ms = util_now_ms(),
                          .reload = reload,
                          .reload_ctx = d};
    if (api_people_open(&d->people, &d->api, store_db(d->store)) != 0)
        return -1;
    d->api.people = d->people;
    struct http_opts ho = {.cfg = &d->cfg,
                           .route = api_route,
                           .route_ctx = &d->api,
                           .streams_body = api_people_streams_body,
                           .route_role = api_route_role,
                           .session_lookup = api_session_lookup,
                           .accounts_exist = api_accounts_exist,
                           .people_ctx = d->people};
    live_protocol_init(d->live, &ho.ws_protocol);
    if (http_start(&d->http, d->loop, &ho) != 0)
        return -1;
    live_set_admit(d->live, http_admit_upgrade, d->http);
    d->api.http = d->http;
    if (start_presence(d) != 0)
        return -1;
    struct federation_opts fo = {.loop = d->loop,
                                 .cfg = &d->cfg,
                                 .store = d->store,
                                 .ingest = d->ingest,
                                 .kpis = d->kpis,
                                 .alerts = d->alerts,
                                 .unit_stale_ms = unit_stale_ms,
                                 .ctx = d};
    if (federation_start(&d->federation, &fo) != 0)
        return -1;
    d->api.fed = d->federation;
    return 0;
}

/* The daemon's own handles, in one order for init and close. */
static uv_handle_t **own_handles(struct daemon *d, size_t *n)
{
    static uv_handle_t *h[8];
    h[0] = (uv_handle_t *)&d->sig_term;
    h[1] = (uv_handle_t *)&d->sig_int;
    h[2] = (uv_handle_t *)&d->sig_hup;
    h[3] = (uv_handle_t *)&d->stats_timer;
    h[4] = (uv_handle_t *)&d->watchdog_timer;
    h[5] = (uv_handle_t *)&d->prune_timer;
    h[6] = (uv_handle_t *)&d->status_timer;
    h[7] = (uv_handle_t *)&d->flush_timer;
    *n = 8;
    return h;
}

/* Signal handles need a pipe and can fail (EMFILE); a failed init leaves
 * the handle outside the loop, so only those initialized (data set; struct
 * daemon starts zeroed) are closed. Returns
 * 0, or a uv error with nothing left open but closing handles. */
static int init_handles(struct daemon *d)
{
    size_t n, i;
    uv_handle_t **h = own_handles(d, &n);
    int rc = 0;
    for (i = 0; i < n && rc == 0; i++) {
        rc = i < 3 ? uv_signal_init(d->loop, (uv_signal_t *)h[i])
                   : uv_timer_init(d->loop, (uv_timer_t *)h[i]);
        if (rc == 0)
            h[i]->data = d;
    }
    if (rc == 0)
        rc = uv_signal_start(&d->sig_term, on_signal, SIGTERM);
    if (rc == 0)
        rc = uv_signal_start(&d->sig_int, on_signal, SIGINT);
    if (rc == 0)
        rc = uv_signal_start(&d->sig_hup, on_signal, SIGHUP);
    if (rc != 0) {
        log_error("cannot set up signal handling: %s", uv_strerror(rc));
        for (size_t j = 0; j < n; j++)
            if (h[j]->data) /* initialized */
                close_handle(h[j]);
    }
    return rc;
}

/* Returns 0, START_NOTHING (no handle open: just exit), or -1 (stop what
 * was started). */
#define START_NOTHING 1
static int start(struct daemon *d)
{
    if (init_handles(d) != 0)
        return START_NOTHING;
    if (d->cfg.slow_turn_ms > 0 &&
        loopwatch_start(&d->loopwatch, d->loop, (unsigned)d->cfg.slow_turn_ms) != 0)
        log_warn("loop: cannot measure its turns (no idle-time metric)");

    if (store_open(&d->store, d->cfg.db_path) != 0)
        return -1;
    store_set_max_series(d->store, (uint64_t)d->cfg.max_series);
    store_set_unit_limits(d->store, (uint64_t)d->cfg.max_units,
                          (uint64_t)d->cfg.max_series_per_unit);
    store_set_head_max(d->store, (uint64_t)d->cfg.head_max_samples);
    if (store_set_wal_size_limit(d->store, d->cfg.wal_size_limit) != 0)
        return -1;
    /* Checkpoints (and their fsyncs) on a worker thread, never in a COMMIT
     * on the loop: the live push does not wait for the disk. */
    if (checkpointer_start(&d->checkpoints, d->loop, d->cfg.db_path, 1000) != 0 ||
        store_set_autocheckpoint(d->store, false) != 0)
        return -1;
    if (ingest_start(&d->ingest, d->loop, &d->cfg, d->store) != 0) {
        d->ingest = NULL;
        return -1;
    }
    if (start_api(d) != 0)
        return -1;
    if (d->cfg.stats_interval_s > 0) {
        uint64_t ms = (uint64_t)d->cfg.stats_interval_s * 1000;
        uv_timer_start(&d->stats_timer, on_stats_timer, ms, ms);
    }
    uv_timer_start(&d->prune_timer, on_prune_timer, 10000, 0);
    d->synced_ms = uv_now(d->loop);
    d->sync_fd = -1;
    d->sync_work.data = d;
    uv_timer_start(&d->flush_timer, on_flush_timer, 1000, 0);
    uint64_t watchdog_us;
    if (sd_watchdog_enabled(0, &watchdog_us) > 0)
        uv_timer_start(&d->watchdog_timer, on_watchdog_timer, watchdog_us / 2000,
                       watchdog_us / 2000);
    /* Only under systemd (Type=notify): elsewhere nobody reads it. */
    if (getenv("NOTIFY_SOCKET")) {
        d->status_ms = uv_now(d->loop);
        uv_timer_start(&d->status_timer, on_status_timer, STATUS_INTERVAL_MS, STATUS_INTERVAL_MS);
    }
    sd_notify(0, "READY=1");
    log_info("pantaud %s: broker %s, prefix %s, database %s", PANTAU_VERSION, d->cfg.mqtt_uri,
             d->cfg.mqtt_prefix, d->cfg.db_path);
    return 0;
}

/* --backup PATH: no loop, no broker; the copy and an exit status. */
static int run_backup(struct daemon *d)
{
    char err[512];
    int rc = backup_run(d->cfg.db_path, d->backup_path, err, sizeof err);
    if (rc != 0)
        fprintf(stderr, "pantaud: backup failed: %s\n", err);
    else
        printf("pantaud: %s copied to %s\n", d->cfg.db_path, d->backup_path);
    catalog_free(d->catalog);
    cfg_free(&d->cfg);
    return rc == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
    struct daemon d = {0};
    uv_loop_t loop;

    log_set_ident("pantaud");
    /* A password hashing child (hasher.h): nothing else of pantaud's. */
    if (argc == 2 && strcmp(argv[1], HASHER_CHILD_ARG) == 0)
        return hasher_child_main();
    store_watch_corruption(); /* before any SQLite use: /healthz's database_corrupt */
    int rc = configure(&d, argc, argv);
    if (rc != 0) {
        catalog_free(d.catalog);
        cfg_free(&d.cfg);
        return rc > 0 ? 0 : 2;
    }
    log_set_level(d.cfg.log_level);
    if (d.backup_path)
        return run_backup(&d);
    if (d.user_argv) {
        rc = users_cli_run(&d.cfg, d.catalog, d.user_argc, d.user_argv);
        catalog_free(d.catalog);
        cfg_free(&d.cfg);
        return rc;
    }
    /* A daemon that parses what villages publish should not hold root: a
     * bug would hand over the machine. The unit runs it as User=pantau. */
    if (geteuid() == 0 && !d.allow_root) {
        fprintf(stderr, "pantaud: refusing to run as root; run it as an unprivileged user "
                        "(the systemd unit uses User=pantau), or pass --allow-root\n");
        catalog_free(d.catalog);
        cfg_free(&d.cfg);
        return 2;
    }
    /* CONTRACT §10: a damaged database is refused before anything opens it. */
    if (store_check_at_start(d.cfg.db_path, d.cfg.quick_check_s, d.salvage) != 0) {
        catalog_free(d.catalog);
        cfg_free(&d.cfg);
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);
    if (uv_loop_init(&loop) != 0) {
        log_error("cannot create the event loop");
        catalog_free(d.catalog);
        cfg_free(&d.cfg);
        return 1;
    }
    d.loop = &loop;
    rc = start(&d);
    if (rc != 0)
        d.exit_code = 1;
    if (rc < 0)
        begin_stop(&d, "start-up failed");
    uv_run(&loop, UV_RUN_DEFAULT);
    http_free(d.http); /* lws's second destroy, outside the loop */
    kpi_engine_free(d.kpis);
    alert_engine_free(d.alerts);
    presence_free(d.presence);
    federation_free(d.federation);
    webhook_free(d.webhook);
    checkpointer_free(d.checkpoints);
    loopwatch_free(d.loopwatch);
    query_pool_close(d.queries);
    api_people_free(d.people);
    live_free(d.live);
    if (uv_loop_close(&loop) != 0)
        log_error("handles left open at exit");
    catalog_free(d.catalog);
    cfg_free(&d.cfg);
    return d.exit_code;
}
