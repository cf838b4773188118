/* cfg.c — see cfg.h. Options are a table of typed entries (as Redis's
 * config.c does): one place says each key's section, type, bounds and field. */
#include "cfg.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <arpa/inet.h>
#include <uv.h>

#include "inifile.h"
#include "store.h"
#include "util.h"

enum entry_type {
    T_STR,
    T_URI,
    T_URL,
    T_PREFIX,
    T_LISTEN,
    T_INT,
    T_INT64,
    T_LEVEL,
    T_BOOL,
    T_TOKEN,
    T_ADDRS,
    T_SECONDS /* an int of seconds: N, or N with s, m, h or d */
};

struct entry {
    const char *section, *key;
    enum entry_type type;
    size_t offset;
    int64_t min, max; /* T_INT, T_INT64 */
};

#define F(field) offsetof(struct cfg, field)
static const struct entry entries[] = {
    {"mqtt", "uri", T_URI, F(mqtt_uri), 0, 0},
    {"mqtt", "client_id", T_STR, F(mqtt_client_id), 0, 0},
    {"mqtt", "prefix", T_PREFIX, F(mqtt_prefix), 0, 0},
    {"mqtt", "username", T_STR, F(mqtt_username), 0, 0},
    {"mqtt", "password", T_STR, F(mqtt_password), 0, 0},
    {"mqtt", "ca_file", T_STR, F(mqtt_ca_file), 0, 0},
    {"mqtt", "cert_file", T_STR, F(mqtt_cert_file), 0, 0},
    {"mqtt", "key_file", T_STR, F(mqtt_key_file), 0, 0},
    {"mqtt", "tls_insecure", T_BOOL, F(mqtt_tls_insecure), 0, 0},
    {"mqtt", "keepalive", T_INT, F(mqtt_keepalive_s), 5, 3600},
    {"mqtt", "queue_messages", T_INT64, F(ingest_queue_msgs), 100, 10000000},
    {"mqtt", "queue_bytes", T_INT64, F(ingest_queue_bytes), 1 << 20, 1LL << 34},
    {"store", "path", T_STR, F(db_path), 0, 0},
    {"store", "retention_days", T_INT, F(retention_days), 1, 36500},
    {"store", "commit_interval_ms", T_INT, F(commit_interval_ms), 1, 10000},
    {"store", "max_series", T_INT64, F(max_series), 1, 100000000},
    {"store", "max_units", T_INT64, F(max_units), 1, 10000000},
    {"store", "max_series_per_unit", T_INT64, F(max_series_per_unit), 1, 10000000},
    {"store", "quick_check_s", T_INT, F(quick_check_s), 0, 86400},
    {"store", "wal_size_limit", T_INT64, F(wal_size_limit), 0, 1LL << 40},
    {"store", "head_max_samples", T_INT64, F(head_max_samples), 10000, 1LL << 34},
    {"ingest", "catalog_only", T_BOOL, F(catalog_only), 0, 0},
    {"http", "listen", T_LISTEN, F(listen), 0, 0},
    {"http", "dashboard", T_STR, F(dashboard_dir), 0, 0},
    {"http", "open", T_BOOL, F(http_open), 0, 0},
    {"http", "import_max_bytes", T_INT64, F(import_max_bytes), 1024, 1LL << 40},
    {"http", "max_heavy", T_INT, F(http_max_heavy), 1, 64},
    {"http", "max_conns_per_ip", T_INT, F(http_max_conns_per_ip), 1, 1000000},
    {"http", "max_conns", T_INT, F(http_max_conns), 16, 10000000},
    {"http", "min_rate_bytes", T_INT, F(http_min_rate_bytes), 1, 1 << 20},
    {"http", "min_rate_window", T_INT, F(http_min_rate_window), 1, 3600},
    {"http", "proxy", T_ADDRS, F(http_proxy), 0, 0},
    {"http", "secure_cookies", T_BOOL, F(http_secure_cookies), 0, 0},
    {"auth", "viewer", T_TOKEN, 0, CFG_ROLE_VIEWER, 0},
    {"auth", "operator", T_TOKEN, 0, CFG_ROLE_OPERATOR, 0},
    {"auth", "admin", T_TOKEN, 0, CFG_ROLE_ADMIN, 0},
    {"live", "queue", T_INT64, F(live_queue), 100, 10000000},
    {"live", "max_clients", T_INT64, F(live_max_clients), 1, 100000},
    {"live", "queue_bytes", T_INT64, F(live_queue_bytes), 64 * 1024, 1LL << 30},
    {"live", "max_filters", T_INT64, F(live_max_filters), 1, 1024},
    {"live", "max_per_credential", T_INT64, F(live_max_per_credential), 1, 100000},
    {"live", "snapshot_interval", T_INT, F(live_snapshot_interval_s), 0, 3600},
    {"units", "stale_after", T_INT, F(unit_stale_after_s), 10, 86400 * 30},
    {"log", "level", T_LEVEL, F(log_level), 0, 0},
    {"log", "stats_interval", T_INT, F(stats_interval_s), 0, 86400},
    {"log", "slow_turn_ms", T_INT, F(slow_turn_ms), 0, 60000},
    {"catalog", "file", T_STR, F(catalog_path), 0, 0},
    {"alerts", "webhook", T_URL, F(alerts_webhook), 0, 0},
    {"alerts", "webhook_token", T_STR, F(alerts_webhook_token), 0, 0},
    {"alerts", "escalate_webhook", T_URL, F(alerts_escalate_webhook), 0, 0},
    {"alerts", "escalate_webhook_token", T_STR, F(alerts_escalate_webhook_token), 0, 0},
    /* CONTRACT §8: sessions, sign-in lockout, the audit log */
    {"http", "session_idle", T_INT, F(session_idle_s), 1, 86400 * 30},
    {"http", "login_track", T_INT, F(login_track), 16, 1000000},
    {"http", "login_workers", T_INT, F(login_workers), 1, 64},
    {"http", "login_queue", T_INT, F(login_queue), 0, 100000},
    {"audit", "retention_days", T_INT, F(audit_retention_days), 400, 36500},
    {"audit", "list_max", T_INT, F(audit_list_max), 1, 1000000},
    /* CONTRACT §7: federation (federation.h) */
    {"federation", "publish", T_BOOL, F(fed_publish), 0, 0},
    {"federation", "hub", T_BOOL, F(fed_hub), 0, 0},
    {"federation", "prefix", T_PREFIX, F(fed_prefix), 0, 0},
    {"federation", "region_stale_after", T_SECONDS, F(fed_region_stale_after_s), 5, 86400 * 30},
    {"federation", "heartbeat", T_SECONDS, F(fed_heartbeat_s), 10, 300},
    {"federation", "state_retention_days", T_INT, F(fed_state_retention_days), 1, 36500},
    {"federation", "max_state_bytes", T_INT64, F(fed_max_state_bytes), 65536, 64LL << 20},
    {"federation", "max_regions", T_INT, F(fed_max_regions), 1, 100000},
    {"federation", "thin_after_days", T_INT, F(fed_thin_after_days), 1, 36500},
    {"federation", "history_max", T_INT, F(fed_history_max), 100, 10000000},
};
#undef F
#define N_ENTRIES (sizeof entries / sizeof entries[0])

static int replace_str(char **slot, const char *value)
{
    char *copy = strdup(value);
    if (!copy)
        return -1;
    free(*slot);
    *slot = copy;
    return 0;
}

#ifndef PANTAU_DATADIR
#define PANTAU_DATADIR "/usr/local/share/pantau"
#endif

/* The default [http] dashboard: "dashboard" beside the executable when it
 * is a directory (build/pantaud run from the tree serves build/dashboard,
 * what the Makefile builds there), else the installed copy,
 * $(PREFIX)/share/pantau/dashboard (PANTAU_DATADIR, set at build time). */
static int default_dashboard(char **slot)
{
    char exe[4096];
    size_t len = sizeof exe;
    if (uv_exepath(exe, &len) == 0) {
        char *slash = strrchr(exe, '/');
        struct stat st;
        if (slash && (size_t)(slash - exe) + sizeof "/dashboard" <= sizeof exe) {
            strcpy(slash, "/dashboard");
            if (stat(exe, &st) == 0 && S_ISDIR(st.st_mode))
                return replace_str(slot, exe);
        }
    }
    return replace_str(slot, PANTAU_DATADIR "/dashboard");
}

int cfg_defaults(struct cfg *c)
{
    memset(c, 0, sizeof *c);
    c->mqtt_keepalive_s = 30;
    c->ingest_queue_msgs = 20000;
    c->ingest_queue_bytes = 64LL << 20;
    c->retention_days = 90;
    c->commit_interval_ms = 50;
    c->log_level = LOG_LVL_INFO;
    c->stats_interval_s = 60;
    c->slow_turn_ms = 100;
    c->max_series = STORE_DEFAULT_MAX_SERIES;
    c->max_units = STORE_DEFAULT_MAX_UNITS;
    c->max_series_per_unit = STORE_DEFAULT_MAX_SERIES_PER_UNIT;
    c->quick_check_s = 60;
    c->wal_size_limit = STORE_DEFAULT_WAL_SIZE_LIMIT;
    c->head_max_samples = STORE_DEFAULT_HEAD_MAX_POINTS;
    c->catalog_only = 1;
    c->live_queue = 10000;
    c->live_max_clients = 1000;
    c->live_queue_bytes = 1024 * 1024;
    c->live_max_filters = 16;
    c->live_max_per_credential = 100;
    c->live_snapshot_interval_s = 10;
    c->unit_stale_after_s = 900;
    c->import_max_bytes = 256LL << 20;
    c->http_max_heavy = 4;
    c->http_max_conns_per_ip = 64;
    c->http_max_conns = 10000;
    c->http_min_rate_bytes = 1024;
    c->http_min_rate_window = 10;
    c->http_secure_cookies = -1;
    c->session_idle_s = 12 * 3600;
    c->login_track = 1024;
    c->login_workers = 1;
    c->login_queue = 64;
    c->audit_retention_days = 400;
    c->audit_list_max = 10000;
    c->fed_region_stale_after_s = 900;
    c->fed_heartbeat_s = 300;
    c->fed_state_retention_days = 400;
    c->fed_max_state_bytes = 1 << 20;
    c->fed_max_regions = 2000;
    c->fed_thin_after_days = 1;
    c->fed_history_max = 100000;
    if (replace_str(&c->mqtt_uri, "tcp://127.0.0.1:1883") ||
        replace_str(&c->mqtt_client_id, "pantaud") || replace_str(&c->mqtt_prefix, "pantau") ||
        replace_str(&c->fed_prefix, "pantau-fed") || replace_str(&c->db_path, "./pantau.db") ||
        replace_str(&c->listen, "127.0.0.1:8080") || default_dashboard(&c->dashboard_dir)) {
        cfg_free(c);
        return -1;
    }
    return 0;
}

void cfg_free(struct cfg *c)
{
    for (int i = 0; i < c->n_tokens; i++)
        free(c->tokens[i].secret);
    free(c->tokens);
    c->tokens = NULL;
    c->n_tokens = 0;
    free(c->http_proxy);
    c->http_proxy = NULL;
    char **strs[] = {&c->mqtt_uri,       &c->mqtt_client_id,       &c->mqtt_prefix,
                     &c->mqtt_username,  &c->mqtt_password,        &c->mqtt_ca_file,
                     &c->mqtt_cert_file, &c->mqtt_key_file,        &c->db_path,
                     &c->listen,         &c->dashboard_dir,        &c->catalog_path,
                     &c->alerts_webhook, &c->alerts_webhook_token, &c->fed_prefix};
    for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++) {
        free(*strs[i]);
        *strs[i] = NULL;
    }
    free(c->alerts_escalate_webhook); /* CONTRACT §8 */
    free(c->alerts_escalate_webhook_token);
    c->alerts_escalate_webhook = c->alerts_escalate_webhook_token = NULL;
}

int cfg_split_listen(const char *listen, char *host, size_t hostlen, int *port)
{
    const char *colon;
    const char *h = listen;
    size_t hlen;

    if (listen[0] == '[') { /* [v6]:port */
        const char *close = strchr(listen, ']');
        if (!close || close[1] != ':')
            return -1;
        h = listen + 1;
        hlen = (size_t)(close - h);
        colon = close + 1;
    } else {
        colon = strrchr(listen, ':');
        if (!colon || memchr(listen, ':', (size_t)(colon - listen)))
            return -1; /* no port, or a bare v6 address without brackets */
        hlen = (size_t)(colon - listen);
    }
    int64_t p;
    if (hlen == 0 || hlen >= hostlen || util_parse_int(colon + 1, 0, 65535, &p) != 0)
        return -1;
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    *port = (int)p;
    return 0;
}

bool cfg_is_loopback(const char *host)
{
    return strcmp(host, "localhost") == 0 || strncmp(host, "127.", 4) == 0 ||
           strcmp(host, "::1") == 0;
}

/* One or more slugs joined by '/', as the topic prefix. */
static bool is_prefix(const char *s)
{
    const char *level = s;
    for (;;) {
        const char *slash = strchr(level, '/');
        size_t len = slash ? (size_t)(slash - level) : strlen(level);
        if (!util_is_slug(level, len))
            return false;
        if (!slash)
            return true;
        level = slash + 1;
    }
}

static bool is_broker_uri(const char *s)
{
    static const char *const schemes[] = {"tcp://",   "ssl://", "mqtt://",
                                          "mqtts://", "ws://",  "wss://"};
    for (size_t i = 0; i < sizeof schemes / sizeof schemes[0]; i++) {
        size_t n = strlen(schemes[i]);
        if (strncmp(s, schemes[i], n) == 0 && s[n] != '\0')
            return true;
    }
    return false;
}

static int parse_bool(const char *s, int *out)
{
    static const char *const yes[] = {"yes", "true", "on", "1"}, *const no[] = {"no", "false",
                                                                                "off", "0"};
    for (size_t i = 0; i < 4; i++) {
        if (strcmp(s, yes[i]) == 0 || strcmp(s, no[i]) == 0) {
            *out = strcmp(s, yes[i]) == 0;
            return 0;
        }
    }
    return -1;
}

/* Tokens are compared in constant time and never logged; a short one is
 * guessable, so it is refused. */
#define TOKEN_MIN 16

static int add_token(struct cfg *c, const char *secret, enum cfg_role role)
{
    struct cfg_token *grown = realloc(c->tokens, (size_t)(c->n_tokens + 1) * sizeof *grown);
    if (!grown)
        return -1;
    c->tokens = grown;
    if (!(grown[c->n_tokens].secret = strdup(secret)))
        return -1;
    grown[c->n_tokens++].role = role;
    return 0;
}

int cfg_each_proxy(const char *list, int (*fn)(void *ctx, const char *addr), void *ctx)
{
    char addr[64];
    for (const char *p = list; *p;) {
        size_t n = strcspn(p, ", \t");
        if (n > 0) {
            if (n >= sizeof addr)
                n = sizeof addr - 1; /* too long to be an address: fn says so */
            memcpy(addr, p, n);
            addr[n] = '\0';
            int rc = fn(ctx, addr);
            if (rc != 0)
                return rc;
        }
        p += strcspn(p, ", \t");
        p += strspn(p, ", \t");
    }
    return 0;
}

/* Counts the addresses of a list into *(int64_t *)ctx; -1 at one that is not. */
static int count_address(void *ctx, const char *addr)
{
    unsigned char bin[16];
    if (inet_pton(AF_INET, addr, bin) != 1 && inet_pton(AF_INET6, addr, bin) != 1)
        return -1;
    ++*(int64_t *)ctx;
    return 0;
}

/* Stores `value` into the field `e` names; on a bad value writes a problem. */
static int apply_entry(struct cfg *c, const struct entry *e, const char *value, char *problem,
                       size_t plen)
{
    void *field = (char *)c + e->offset;
    int64_t n;
    char host[256];
    int port;

    switch (e->type) {
    case T_URI:
        if (!is_broker_uri(value)) {
            snprintf(problem, plen, "%s: \"%s\" is not a broker URI (tcp://HOST:PORT, ssl://...)",
                     e->key, value);
            return -1;
        }
        break;
    case T_URL: /* what the webhook POSTs to: no other scheme, no spaces */
        if ((strncmp(value, "http://", 7) != 0 && strncmp(value, "https://", 8) != 0) ||
            strlen(value) <= 8 || strpbrk(value, " \t\r\n")) {
            snprintf(problem, plen, "%s: \"%s\" is not an http:// or https:// URL", e->key, value);
            return -1;
        }
        break;
    case T_PREFIX:
        if (!is_prefix(value)) {
            snprintf(problem, plen, "%s: \"%s\" is not slugs joined by '/'", e->key, value);
            return -1;
        }
        break;
    case T_LISTEN:
        if (cfg_split_listen(value, host, sizeof host, &port) != 0) {
            snprintf(problem, plen, "%s: \"%s\" is not HOST:PORT", e->key, value);
            return -1;
        }
        break;
    case T_ADDRS:
        n = 0;
        if (cfg_each_proxy(value, count_address, &n) != 0 || n == 0) {
            snprintf(problem, plen, "%s: \"%s\" is not a list of IP addresses", e->key, value);
            return -1;
        }
        break;
    case T_STR:
        if (value[0] == '\0') {
            snprintf(problem, plen, "%s: empty value", e->key);
            return -1;
        }
        break;
    case T_INT:
    case T_INT64:
        if (util_parse_int(value, e->min, e->max, &n) != 0) {
            snprintf(problem, plen, "%s: \"%s\" is not an integer in [%lld, %lld]", e->key, value,
                     (long long)e->min, (long long)e->max);
            return -1;
        }
        if (e->type == T_INT)
            *(int *)field = (int)n;
        else
            *(int64_t *)field = n;
        return 0;
    case T_SECONDS: {
        size_t len = strlen(value);
        int64_t mult = 1;
        char digits[24];
        const char *suffixes = "smhd";
        static const int64_t mults[] = {1, 60, 3600, 86400};
        const char *at = len ? strchr(suffixes, value[len - 1]) : NULL;
        if (at && *at) {
            mult = mults[at - suffixes];
            len--;
        }
        if (len == 0 || len >= sizeof digits) {
            n = -1;
        } else {
            memcpy(digits, value, len);
            digits[len] = '\0';
            if (util_parse_int(digits, 0, e->max, &n) != 0 || n > e->max / mult)
                n = -1;
            else
                n *= mult;
        }
        if (n < e->min || n > e->max) {
            snprintf(problem, plen,
                     "%s: \"%s\" is not a duration in [%llds, %llds] (N, Ns, Nm, Nh or Nd)", e->key,
                     value, (long long)e->min, (long long)e->max);
            return -1;
        }
        *(int *)field = (int)n;
        return 0;
    }
    case T_BOOL:
        if (parse_bool(value, (int *)field) != 0) {
            snprintf(problem, plen, "%s: \"%s\" is not yes or no", e->key, value);
            return -1;
        }
        return 0;
    case T_TOKEN:
        if (strlen(value) < TOKEN_MIN || strpbrk(value, " \t\"")) {
            snprintf(problem, plen,
                     "%s: a token needs at least %d characters and no spaces or quotes", e->key,
                     TOKEN_MIN);
            return -1;
        }
        if (add_token(c, value, (enum cfg_role)e->min) != 0) {
            snprintf(problem, plen, "%s: out of memory", e->key);
            return -1;
        }
        return 0;
    case T_LEVEL:
        if (log_parse_level(value, (enum log_level *)field) != 0) {
            snprintf(problem, plen, "%s: \"%s\" is not error, warn, info or debug", e->key, value);
            return -1;
        }
        return 0;
    }
    if (replace_str((char **)field, value) != 0) {
        snprintf(problem, plen, "%s: out of memory", e->key);
        return -1;
    }
    return 0;
}

static const struct entry *find_entry(const char *section, const char *key, bool *section_known)
{
    *section_known = false;
    for (size_t i = 0; i < N_ENTRIES; i++) {
        if (strcmp(entries[i].section, section) != 0)
            continue;
        *section_known = true;
        if (strcmp(entries[i].key, key) == 0)
            return &entries[i];
    }
    return NULL;
}

static void note_origin(struct cfg *c, const struct entry *e, const char *file, int line)
{
    struct cfg_origin at = {file, line};
    if (e->offset == offsetof(struct cfg, listen) && e->type == T_LISTEN)
        c->listen_at = at;
    else if (e->offset == offsetof(struct cfg, mqtt_password) && e->type == T_STR)
        c->password_at = at;
}

static int set_entry(struct cfg *c, const char *section, const char *key, const char *value,
                     char *problem, size_t plen, const char *file, int line)
{
    bool section_known;
    const struct entry *e = find_entry(section, key, &section_known);
    if (!e) {
        if (section_known)
            snprintf(problem, plen, "unknown key \"%s\" in [%s]", key, section);
        else if (section[0] == '\0')
            snprintf(problem, plen, "key \"%s\" outside any [section]", key);
        else
            snprintf(problem, plen, "unknown section [%s]", section);
        return -1;
    }
    note_origin(c, e, file, line);
    return apply_entry(c, e, value, problem, plen);
}

int cfg_set(struct cfg *c, const char *section, const char *key, const char *value,
            cfg_report_fn report, void *ctx)
{
    char problem[512];
    if (set_entry(c, section, key, value, problem, sizeof problem, "command line", 0) != 0) {
        report(ctx, "command line", 0, problem);
        return -1;
    }
    return 0;
}

/* State of one cfg_load, for inifile's callbacks. */
struct load {
    struct cfg *cfg;
    const char *path;
    cfg_report_fn report;
    void *ctx;
    int problems;
};

static void on_problem(void *ctx, int line, const char *problem)
{
    struct load *l = ctx;
    l->problems++;
    l->report(l->ctx, l->path, line, problem);
}

static void on_key(void *ctx, const char *section, const char *key, const char *value, int line)
{
    struct load *l = ctx;
    char problem[512];
    if (set_entry(l->cfg, section, key, value, problem, sizeof problem, l->path, line) != 0)
        on_problem(l, line, problem);
}

int cfg_load(struct cfg *c, const char *path, cfg_report_fn report, void *ctx)
{
    static const struct inifile_ops ops = {.key = on_key, .problem = on_problem};
    struct load l = {.cfg = c, .path = path, .report = report, .ctx = ctx};

    c->path = path;
    inifile_read(path, &ops, &l);
    return l.problems;
}

static void report_at(cfg_report_fn report, void *ctx, const struct cfg *c, struct cfg_origin at,
                      const char *problem)
{
    report(ctx, at.file ? at.file : c->path ? c->path : "configuration", at.line, problem);
}

int cfg_validate(const struct cfg *c, cfg_report_fn report, void *ctx)
{
    int problems = 0;
    if (!c->mqtt_username && c->mqtt_password) {
        report_at(report, ctx, c, c->password_at, "mqtt password given without a username");
        problems++;
    }
    char host[256];
    int port;
    if (c->n_tokens == 0 && !c->http_open &&
        cfg_split_listen(c->listen, host, sizeof host, &port) == 0 && !cfg_is_loopback(host)) {
        report_at(report, ctx, c, c->listen_at,
                  "listen is not a loopback address but no [auth] tokens are set (add tokens, or "
                  "set [http] open = yes to serve everyone)");
        problems++;
    }
    return problems;
}
