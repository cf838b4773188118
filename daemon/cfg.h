/* cfg.h — pantaud's configuration: built-in defaults, an INI file (parsed by
 * inih), then command-line overrides, in that order.
 *
 * Every string in struct cfg is owned by the struct (cfg_free releases them).
 * Errors are reported as "file:line: problem" through the report callback, one
 * per problem (not just the first), so --check-config can list them all.
 *
 * File format (every key optional; see config/pantau.ini for the full list):
 *   [mqtt]   uri, client_id, prefix, username, password, keepalive,
 *            queue_messages, queue_bytes, ca_file, cert_file, key_file,
 *            tls_insecure
 *   [store]  path, retention_days, commit_interval_ms, max_series, max_units,
 *            max_series_per_unit, quick_check_s, wal_size_limit, head_max_samples
 *   [ingest] catalog_only
 *   [http]   listen, dashboard, open, import_max_bytes, max_heavy, max_conns_per_ip,
 *            max_conns, min_rate_bytes, min_rate_window, proxy, secure_cookies
 *   [auth]   viewer = TOKEN, operator = TOKEN, admin = TOKEN (each may repeat)
 *   [live]   queue, queue_bytes, max_clients, max_filters, max_per_credential,
 *            snapshot_interval
 *   [units]  stale_after
 *   [log]    level, stats_interval, slow_turn_ms
 *   [catalog] file (the program catalog, CONTRACT §5; read by catalog.h)
 *   [http]   session_idle, login_track, login_workers, login_queue;
 *   [audit]  retention_days, list_max
 *            (CONTRACT §8: sessions, sign-in lockout, the audit log)
 */
#ifndef PANTAU_CFG_H
#define PANTAU_CFG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "log.h"

/* A ladder: each role may do what the ones below it may (CONTRACT §2). */
enum cfg_role { CFG_ROLE_VIEWER = 1, CFG_ROLE_OPERATOR = 2, CFG_ROLE_ADMIN = 3 };

struct cfg_token {
    char *secret; /* never logged */
    enum cfg_role role;
};

struct cfg {
    /* [mqtt] */
    char *mqtt_uri;       /* tcp://127.0.0.1:1883 */
    char *mqtt_client_id; /* pantaud: fixed, so the broker keeps our session */
    char *mqtt_prefix;    /* pantau; one or more slug levels joined by '/' */
    char *mqtt_username;  /* NULL: anonymous */
    char *mqtt_password;
    char *mqtt_ca_file;   /* ssl://: CA certificates (default: the system's) */
    char *mqtt_cert_file; /* ssl://: client certificate, if the broker wants one */
    char *mqtt_key_file;
    int mqtt_tls_insecure;      /* ssl://: skip verifying the broker (testing only) */
    int mqtt_keepalive_s;       /* 30 */
    int64_t ingest_queue_msgs;  /* 20000 messages between Paho and the loop */
    int64_t ingest_queue_bytes; /* 64 MiB */
    /* [store] */
    char *db_path;               /* ./pantau.db */
    int retention_days;          /* 90: raw samples; rollups are kept longer */
    int commit_interval_ms;      /* 50: longest a transaction stays open under load */
    int64_t max_series;          /* 1000000: new series past this are refused (all units) */
    int64_t max_units;           /* 10000: new units past this are refused */
    int64_t max_series_per_unit; /* 1000: a unit's new series past this are refused */
    int quick_check_s;           /* 60: longest PRAGMA quick_check at start; 0 = no check */
    int64_t wal_size_limit;      /* 64 MiB: the WAL file is cut back to this at a restart */
    int64_t head_max_samples;    /* past this, the head is written out early (store.h) */
    /* [ingest] */
    int catalog_only; /* 1: with a catalog, refuse programs it does not list */
    /* [http] */
    char *listen;        /* 127.0.0.1:8080 */
    char *dashboard_dir; /* <exe dir>/dashboard if there, else $(PREFIX)/share/pantau/dashboard */
    int http_open;       /* 0: without tokens, refuse a non-loopback listen */
    int64_t import_max_bytes; /* 256 MiB: largest POST /api/v1/import.csv body */
    int http_max_heavy;       /* 4: reports and imports at once; more get 503 busy */
    /* Hostile clients (CONTRACT §10): */
    int http_max_conns_per_ip; /* 64; loopback's 127.0.0.1, ::1 and proxies exempt */
    int http_max_conns;        /* 10000 in all (lowered to fit the fd limit) */
    int http_min_rate_bytes;   /* 1024: a head or body slower than this */
    int http_min_rate_window;  /* 10 s: ...per this many seconds is closed */
    char *http_proxy;          /* NULL, or trusted proxies' addresses, ',' or ' ' apart */
    int http_secure_cookies;   /* -1: unset (on when a proxy is set), 0 or 1 */
    /* [auth] */
    struct cfg_token *tokens;
    int n_tokens;
    /* [live] */
    int64_t live_queue;              /* 10000 samples pending per websocket client */
    int64_t live_max_clients;        /* 1000 */
    int64_t live_queue_bytes;        /* 1 MiB of JSON pending per websocket client */
    int64_t live_max_filters;        /* 16 filters per subscribe */
    int64_t live_max_per_credential; /* 100 live connections per token */
    int live_snapshot_interval_s;    /* 10: least time between one client's snapshots */
    /* [units] */
    int unit_stale_after_s; /* 900: a unit heard from longer ago is "stale" */
    /* [log] */
    enum log_level log_level; /* info */
    int stats_interval_s;     /* 60: a stats line in the log; 0 = off */
    int slow_turn_ms;         /* 100: log loop turns busy this long (loopwatch.h); 0 = off */
    /* [catalog] */
    char *catalog_path; /* NULL: no catalog */

    char *alerts_webhook;       /* NULL: no notifications; else http:// or https:// */
    char *alerts_webhook_token; /* NULL: no Authorization header; never logged */

    /* CONTRACT §8: escalations (NULL: to alerts_webhook), and their own
     * token (NULL: no Authorization header; never logged) */
    char *alerts_escalate_webhook;
    char *alerts_escalate_webhook_token;

    /* CONTRACT §8 (users.h, api_users.c, audit.h) */
    int session_idle_s;       /* [http] 43200: a session unused this long ends */
    int login_track;          /* [http] 1024: user names whose failed sign-ins are counted */
    int login_workers;        /* [http] 1: hashing child processes (a core stays the loop's) */
    int login_queue;          /* [http] 64: sign-ins waiting for a child; past it 503 */
    int audit_retention_days; /* [audit] 400 (the least): older events are pruned */
    int audit_list_max;       /* [audit] 10000: events in one /api/v1/audit answer */

    /* [federation] CONTRACT §7 (federation.h) */
    int fed_publish;              /* 0: publish this regency's STATE */
    int fed_hub;                  /* 0: collect the STATEs of others */
    char *fed_prefix;             /* pantau-fed: topic prefix of states */
    int fed_region_stale_after_s; /* 900: a region silent this long is stale */
    int fed_heartbeat_s;          /* 300: a STATE at least this often, changed or not */
    int fed_state_retention_days; /* 400: a hub's stored states older than this are pruned */
    int64_t fed_max_state_bytes;  /* 1 MiB: a hub rejects larger STATE payloads */
    int fed_max_regions;          /* 2000: a hub refuses states of regions past this */
    int fed_thin_after_days;      /* 1: older states thinned to the last of each hour */
    int fed_history_max;          /* 100000: states in one /regions/<id>/history answer */

    const char *path; /* the file loaded, or NULL (not owned) */
    /* Where listen and password were set, for cfg_validate's messages:
     * (path, line) from a file, ("command line", 0), or (NULL, 0). */
    struct cfg_origin {
        const char *file;
        int line;
    } listen_at, password_at;
};

/* Called once per problem; file is the config path, line 0 if not known. */
typedef void (*cfg_report_fn)(void *ctx, const char *file, int line, const char *problem);

/* Fills *c with the built-in defaults. Returns 0, or -1 if out of memory. */
int cfg_defaults(struct cfg *c);

/* Reads `path` over the current values of *c. Returns the number of problems
 * found (0 = valid); each was passed to report. A missing or unreadable file
 * is one problem at line 0. Checks across keys are cfg_validate's, to run
 * once every source (file, command line) has been applied. */
int cfg_load(struct cfg *c, const char *path, cfg_report_fn report, void *ctx);

/* Sets one option from the command line or a test ("mqtt", "uri", "tcp://...").
 * Returns 0 or -1 with the problem passed to report (file "command line"). */
int cfg_set(struct cfg *c, const char *section, const char *key, const char *value,
            cfg_report_fn report, void *ctx);

/* Checks what no single key can (e.g. listen address form). Returns the number
 * of problems. */
int cfg_validate(const struct cfg *c, cfg_report_fn report, void *ctx);

void cfg_free(struct cfg *c);

/* Splits "HOST:PORT" / "[v6]:PORT". Returns 0 or -1. host gets at most hostlen-1 chars. */
int cfg_split_listen(const char *listen, char *host, size_t hostlen, int *port);

/* Calls fn for each address of a [http] proxy list ("A, B C"); stops at and
 * returns fn's first non-zero return. */
int cfg_each_proxy(const char *list, int (*fn)(void *ctx, const char *addr), void *ctx);

/* True for localhost, 127.x.y.z and ::1. */
bool cfg_is_loopback(const char *host);

#endif
