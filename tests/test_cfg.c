/* test_cfg.c — pantaud's configuration against CONTRACT §4 (defaults, option
 * overrides, --check-config's "file:line: problem" for every error) and the
 * keys listed in cfg.h. Config files are written to mkstemp files in /tmp and
 * removed afterwards. */
#include "cfg.h"
#include "check.h"
#include "harness.h"

#include <limits.h>
#include <stdbool.h>
#include <unistd.h>

static int load_text(struct cfg *c, const char *text, struct harness_problems *ps, char path[64])
{
    memset(ps, 0, sizeof *ps);
    if (cfg_defaults(c) != 0)
        return -100;
    if (harness_write_tmp(path, text) != 0)
        return -101;
    int n = cfg_load(c, path, harness_problem, ps);
    unlink(path);
    return n;
}

static bool contains(const char *hay, const char *needle)
{
    return strstr(hay, needle) != NULL;
}

/* ---- defaults ---- */

TEST(defaults_contract)
{
    struct cfg c;
    CHECK_INT(cfg_defaults(&c), 0);
    bool ok = c.mqtt_uri && strcmp(c.mqtt_uri, "tcp://127.0.0.1:1883") == 0 && c.db_path &&
              strcmp(c.db_path, "./pantau.db") == 0 && c.listen &&
              strcmp(c.listen, "127.0.0.1:8080") == 0;
    if (!ok)
        fprintf(stderr, "    uri=%s db=%s listen=%s\n", c.mqtt_uri, c.db_path, c.listen);
    cfg_free(&c);
    CHECK(ok);
}

static void check_header_defaults(const struct cfg *c)
{
    CHECK_STR(c->mqtt_client_id, "pantaud");
    CHECK_STR(c->mqtt_prefix, "pantau");
    CHECK(c->mqtt_username == NULL);
    CHECK(c->mqtt_password == NULL);
    CHECK_INT(c->mqtt_keepalive_s, 30);
    CHECK_INT(c->ingest_queue_msgs, 20000);
    CHECK_INT(c->ingest_queue_bytes, 64LL * 1024 * 1024);
    CHECK_INT(c->retention_days, 90);
    CHECK_INT(c->commit_interval_ms, 50);
    /* build/tests/ has no dashboard/ beside the binary: the installed copy. */
    CHECK_STR(c->dashboard_dir, PANTAU_DATADIR "/dashboard");
    CHECK_INT(c->log_level, LOG_LVL_INFO);
    CHECK_INT(c->stats_interval_s, 60);
    CHECK_INT(c->slow_turn_ms, 100);
    CHECK(c->path == NULL);
}

TEST(defaults_header)
{
    struct cfg c;
    CHECK_INT(cfg_defaults(&c), 0);
    check_header_defaults(&c);
    cfg_free(&c);
}

TEST(defaults_validate)
{
    struct cfg c;
    struct harness_problems ps = {0};
    CHECK_INT(cfg_defaults(&c), 0);
    int n = cfg_validate(&c, harness_problem, &ps);
    cfg_free(&c);
    if (n != 0)
        harness_problems_dump(&ps);
    CHECK_INT(n, 0);
    CHECK_INT(ps.n, 0);
}

/* ---- loading valid files ---- */

static const char full_file[] = "; pantaud test config\n"
                                "# hash comments too\n"
                                "\n"
                                "[mqtt]\n"
                                "uri = ssl://broker.lampungtengahkab.go.id:8883\n"
                                "client_id = pantaud-test\n"
                                "prefix = kab/lamteng/pantau\n"
                                "username = pantau\n"
                                "password = s3cret\n"
                                "keepalive = 45\n"
                                "queue_messages = 5000\n"
                                "queue_bytes = 8589934592\n"
                                "\n"
                                "[store]\n"
                                "path = /var/lib/pantau/pantau.db\n"
                                "retention_days = 30\n"
                                "commit_interval_ms = 100\n"
                                "\n"
                                "[http]\n"
                                "listen = 0.0.0.0:9090\n"
                                "dashboard = /usr/share/pantau/dashboard\n"
                                "\n"
                                "[auth]\n"
                                "viewer = wall-screen-0123456789\n"
                                "viewer = wall-screen-abcdefghij\n"
                                "admin = kominfo-admin-0123456789\n"
                                "\n"
                                "[log]\n"
                                "level = debug\n"
                                "stats_interval = 0\n";

static void check_full(const struct cfg *c, const struct harness_problems *ps, int n,
                       const char *path)
{
    CHECK_INT(n, 0);
    CHECK_INT(ps->n, 0);
    CHECK_STR(c->mqtt_uri, "ssl://broker.lampungtengahkab.go.id:8883");
    CHECK_STR(c->mqtt_client_id, "pantaud-test");
    CHECK_STR(c->mqtt_prefix, "kab/lamteng/pantau");
    CHECK_STR(c->mqtt_username, "pantau");
    CHECK_STR(c->mqtt_password, "s3cret");
    CHECK_INT(c->mqtt_keepalive_s, 45);
    CHECK_INT(c->ingest_queue_msgs, 5000);
    CHECK_INT(c->ingest_queue_bytes, 8589934592LL); /* 8 GiB: needs the int64 */
    CHECK_STR(c->db_path, "/var/lib/pantau/pantau.db");
    CHECK_INT(c->retention_days, 30);
    CHECK_INT(c->commit_interval_ms, 100);
    CHECK_STR(c->listen, "0.0.0.0:9090");
    CHECK_STR(c->dashboard_dir, "/usr/share/pantau/dashboard");
    CHECK_INT(c->log_level, LOG_LVL_DEBUG);
    CHECK_INT(c->stats_interval_s, 0);
    CHECK_INT(c->n_tokens, 3);
    CHECK_STR(c->tokens[1].secret, "wall-screen-abcdefghij");
    CHECK_INT(c->tokens[1].role, CFG_ROLE_VIEWER);
    CHECK_INT(c->tokens[2].role, CFG_ROLE_ADMIN);
    CHECK_STR(c->path, path);
}

TEST(load_valid_full)
{
    struct cfg c;
    struct harness_problems ps;
    char path[64];
    int n = load_text(&c, full_file, &ps, path);
    check_full(&c, &ps, n, path);
    if (check_failed_)
        harness_problems_dump(&ps);
    struct harness_problems pv = {0};
    int nv = cfg_validate(&c, harness_problem, &pv);
    cfg_free(&c);
    CHECK_INT(nv, 0);
}

static void check_partial(const struct cfg *c, const struct harness_problems *ps, int n)
{
    CHECK_INT(n, 0);
    CHECK_INT(ps->n, 0);
    CHECK_INT(c->mqtt_keepalive_s, 10);
    CHECK_STR(c->mqtt_uri, "tcp://127.0.0.1:1883");
    CHECK_STR(c->db_path, "./pantau.db");
    CHECK_STR(c->listen, "127.0.0.1:8080");
    CHECK_INT(c->retention_days, 90);
    CHECK_INT(c->log_level, LOG_LVL_INFO);
}

TEST(load_partial_keeps_defaults)
{
    struct cfg c;
    struct harness_problems ps;
    char path[64];
    int n = load_text(&c, "[mqtt]\nkeepalive = 10\n", &ps, path);
    check_partial(&c, &ps, n);
    if (check_failed_)
        harness_problems_dump(&ps);
    cfg_free(&c);
}

TEST(load_empty_file_valid)
{
    struct cfg c;
    struct harness_problems ps;
    char path[64];
    int n = load_text(&c, "", &ps, path);
    bool ok = n == 0 && ps.n == 0 && c.mqtt_uri && strcmp(c.mqtt_uri, "tcp://127.0.0.1:1883") == 0;
    cfg_free(&c);
    CHECK(ok);
}

TEST(load_over_current_values)
{
    /* cfg_load reads the file "over the current values": what the file does
     * not set keeps what was there before, not the default. */
    struct cfg c;
    struct harness_problems ps = {0};
    char path[64];
    CHECK_INT(cfg_defaults(&c), 0);
    int s = cfg_set(&c, "store", "path", "/tmp/earlier.db", harness_problem, &ps);
    int w = harness_write_tmp(path, "[http]\nlisten = 127.0.0.1:9999\n");
    int n = w == 0 ? cfg_load(&c, path, harness_problem, &ps) : -1;
    if (w == 0)
        unlink(path);
    bool ok = s == 0 && n == 0 && ps.n == 0 && c.db_path &&
              strcmp(c.db_path, "/tmp/earlier.db") == 0 && c.listen &&
              strcmp(c.listen, "127.0.0.1:9999") == 0;
    if (!ok)
        harness_problems_dump(&ps);
    cfg_free(&c);
    CHECK(ok);
}

TEST(load_every_log_level)
{
    static const struct {
        const char *name;
        enum log_level level;
    } levels[] = {{"error", LOG_LVL_ERROR},
                  {"warn", LOG_LVL_WARN},
                  {"info", LOG_LVL_INFO},
                  {"debug", LOG_LVL_DEBUG}};
    for (size_t i = 0; i < sizeof levels / sizeof levels[0]; i++) {
        char text[64];
        snprintf(text, sizeof text, "[log]\nlevel = %s\n", levels[i].name);
        struct cfg c;
        struct harness_problems ps;
        char path[64];
        int n = load_text(&c, text, &ps, path);
        enum log_level got = c.log_level;
        cfg_free(&c);
        if (n != 0)
            harness_problems_dump(&ps);
        CHECK_INT(n, 0);
        CHECK_INT(got, levels[i].level);
    }
}

/* ---- one bad line: exactly one problem, on that line, naming the culprit ---- */

struct bad_line {
    const char *text; /* the whole file */
    int line;         /* where the problem is */
    const char *word; /* the problem text names this (NULL: anything) */
};

static void run_bad_line(const struct bad_line *b)
{
    struct cfg c;
    struct harness_problems ps;
    char path[64];
    int n = load_text(&c, b->text, &ps, path);
    cfg_free(&c);
    int ok = n == 1 && ps.n == 1 && ps.p[0].line == b->line && strcmp(ps.p[0].file, path) == 0 &&
             (!b->word || contains(ps.p[0].text, b->word));
    if (!ok) {
        fprintf(stderr, "    expected 1 problem at %s:%d naming \"%s\", cfg_load returned %d\n",
                path, b->line, b->word ? b->word : "", n);
        harness_problems_dump(&ps);
    }
    CHECK(ok);
}

/* X(name, file text, line, word) */
#define BAD_LINES(X)                                                                               \
    X(err_unknown_key, "[mqtt]\nuri = tcp://127.0.0.1:1883\ncolour = red\n", 3, "colour")          \
    X(err_key_in_wrong_section, "[http]\nlisten = 127.0.0.1:8080\nkeepalive = 5\n", 3,             \
      "keepalive")                                                                                 \
    X(err_key_before_any_section, "keepalive = 5\n[mqtt]\nkeepalive = 6\n", 1, "keepalive")        \
    X(err_int_trailing_garbage, "[mqtt]\nkeepalive = 3x\n", 2, "keepalive")                        \
    X(err_int_negative, "[mqtt]\n\nkeepalive = -5\n", 3, "keepalive")                              \
    X(err_int_overflow_int64, "[mqtt]\nkeepalive = 99999999999999999999\n", 2, "keepalive")        \
    X(err_int_overflow_int, "[store]\nretention_days = 4294967296\n", 2, "retention_days")         \
    X(err_int_empty, "[store]\ncommit_interval_ms =\n", 2, "commit_interval_ms")                   \
    X(err_int_real, "[log]\nstats_interval = 1.5\n", 2, "stats_interval")                          \
    X(err_queue_bytes_garbage, "[mqtt]\nqueue_bytes = lots\n", 2, "queue_bytes")                   \
    X(err_bad_log_level, "[log]\nlevel = loud\n", 2, "level")                                      \
    X(err_bad_listen_no_port, "[http]\nlisten = 127.0.0.1\n", 2, "listen")                         \
    X(err_bad_listen_port_range, "[http]\nlisten = 127.0.0.1:70000\n", 2, "listen")                \
    X(err_bad_prefix_uppercase, "[mqtt]\nprefix = Pantau\n", 2, "prefix")                          \
    X(err_bad_prefix_trailing_slash, "[mqtt]\nprefix = pantau/\n", 2, "prefix")                    \
    X(err_bad_prefix_empty_level, "[mqtt]\nprefix = kab//pantau\n", 2, "prefix")                   \
    X(err_bad_prefix_wildcard, "[mqtt]\nprefix = pantau/#\n", 2, "prefix")                         \
    X(err_line_without_equals, "[mqtt]\nkeepalive = 5\nthis line has no equals sign\n", 3, NULL)

#define BAD_TEST(name, text, line, word)                                                           \
    TEST(name)                                                                                     \
    {                                                                                              \
        static const struct bad_line b = {text, line, word};                                       \
        run_bad_line(&b);                                                                          \
    }
#define BAD_CASE(name, text, line, word) CASE(name),

BAD_LINES(BAD_TEST)

/* An unknown section is one problem, named, at the section's line or at the
 * key under it (inih reports keys, not section headers). */
TEST(err_unknown_section)
{
    struct cfg c;
    struct harness_problems ps;
    char path[64];
    int n = load_text(&c, "[mqtt]\nkeepalive = 5\n[bogus]\nx = 1\n", &ps, path);
    cfg_free(&c);
    bool ok = n == 1 && ps.n == 1 && (ps.p[0].line == 3 || ps.p[0].line == 4) &&
              contains(ps.p[0].text, "bogus");
    if (!ok)
        harness_problems_dump(&ps);
    CHECK(ok);
}

/* A broken section header is reported on its own line; what follows it may
 * add follow-on problems ("key outside any section"), which is fine. */
TEST(err_unterminated_section)
{
    struct cfg c;
    struct harness_problems ps;
    char path[64];
    int n = load_text(&c, "[mqtt\nkeepalive = 5\n", &ps, path);
    cfg_free(&c);
    bool ok = n >= 1 && ps.n == n && ps.p[0].line == 1;
    if (!ok)
        harness_problems_dump(&ps);
    CHECK(ok);
}

/* Every problem is reported, not just the first, each with its line. */
static void check_lines(const char *text, const int *lines, int nlines)
{
    struct cfg c;
    struct harness_problems ps;
    char path[64];
    int n = load_text(&c, text, &ps, path);
    cfg_free(&c);
    bool ok = n == nlines && ps.n == nlines;
    for (int i = 0; ok && i < nlines; i++)
        ok = ps.p[i].line == lines[i] && strcmp(ps.p[i].file, path) == 0;
    if (!ok) {
        fprintf(stderr, "    expected %d problems at lines", nlines);
        for (int i = 0; i < nlines; i++)
            fprintf(stderr, " %d", lines[i]);
        fprintf(stderr, "; cfg_load returned %d\n", n);
        harness_problems_dump(&ps);
    }
    CHECK(ok);
}

TEST(err_three_problems_all_reported)
{
    static const int lines[] = {2, 5, 8};
    check_lines("[mqtt]\n"                  /* 1 */
                "keepalive = 3x\n"          /* 2: bad integer */
                "uri = tcp://127.0.0.1:1\n" /* 3 */
                "[log]\n"                   /* 4 */
                "level = loud\n"            /* 5: bad level */
                "[store]\n"                 /* 6 */
                "; a comment\n"             /* 7 */
                "bogus_key = 1\n",          /* 8: unknown key */
                lines, 3);
}

TEST(err_three_problems_with_syntax_errors)
{
    static const int lines[] = {2, 4, 6};
    check_lines("[mqtt]\n"              /* 1 */
                "no equals here\n"      /* 2: syntax */
                "keepalive = 30\n"      /* 3 */
                "queue_messages = -1\n" /* 4: negative */
                "[http]\n"              /* 5 */
                "neither here\n",       /* 6: syntax */
                lines, 3);
}

TEST(err_missing_file)
{
    struct cfg c;
    struct harness_problems ps = {0};
    const char *path = "/tmp/pantau-test-no-such-dir/pantau.ini";
    CHECK_INT(cfg_defaults(&c), 0);
    int n = cfg_load(&c, path, harness_problem, &ps);
    bool ok = n == 1 && ps.n == 1 && ps.p[0].line == 0 && strcmp(ps.p[0].file, path) == 0 &&
              c.mqtt_uri && strcmp(c.mqtt_uri, "tcp://127.0.0.1:1883") == 0;
    if (!ok)
        harness_problems_dump(&ps);
    cfg_free(&c);
    CHECK(ok);
}

/* ---- cfg_set: command-line overrides ---- */

static void check_overrides(const struct cfg *c, const struct harness_problems *ps, const int *rc)
{
    for (int i = 0; i < 4; i++)
        CHECK_INT(rc[i], 0);
    CHECK_INT(ps->n, 0);
    CHECK_STR(c->mqtt_uri, "ssl://broker.example:8883");
    CHECK_STR(c->db_path, "/tmp/override.db");
    CHECK_STR(c->listen, "[::1]:9000");
    CHECK_INT(c->mqtt_keepalive_s, 12);
}

TEST(set_overrides_file)
{
    struct cfg c;
    struct harness_problems ps;
    char path[64];
    int n = load_text(&c, full_file, &ps, path);
    CHECK_INT(n, 0);
    int rc[4];
    rc[0] = cfg_set(&c, "mqtt", "uri", "ssl://broker.example:8883", harness_problem, &ps);
    rc[1] = cfg_set(&c, "store", "path", "/tmp/override.db", harness_problem, &ps);
    rc[2] = cfg_set(&c, "http", "listen", "[::1]:9000", harness_problem, &ps);
    rc[3] = cfg_set(&c, "mqtt", "keepalive", "12", harness_problem, &ps);
    check_overrides(&c, &ps, rc);
    if (check_failed_)
        harness_problems_dump(&ps);
    cfg_free(&c);
}

TEST(set_value_is_copied)
{
    struct cfg c;
    struct harness_problems ps = {0};
    char buf[32] = "/tmp/a.db";
    CHECK_INT(cfg_defaults(&c), 0);
    int rc = cfg_set(&c, "store", "path", buf, harness_problem, &ps);
    strcpy(buf, "XXXXXXXXX");
    bool ok = rc == 0 && c.db_path && strcmp(c.db_path, "/tmp/a.db") == 0;
    cfg_free(&c);
    CHECK(ok);
}

static void set_bad(const char *section, const char *key, const char *value)
{
    struct cfg c;
    struct harness_problems ps = {0};
    CHECK_INT(cfg_defaults(&c), 0);
    int rc = cfg_set(&c, section, key, value, harness_problem, &ps);
    bool ok = rc == -1 && ps.n == 1 && strcmp(ps.p[0].file, "command line") == 0;
    if (!ok) {
        fprintf(stderr, "    cfg_set(%s, %s, %s) returned %d\n", section, key, value, rc);
        harness_problems_dump(&ps);
    }
    cfg_free(&c);
    CHECK(ok);
}

TEST(set_bad_integer)
{
    set_bad("mqtt", "keepalive", "3x");
}

TEST(set_unknown_key)
{
    set_bad("mqtt", "colour", "red");
}

/* CONTRACT §2: with no tokens pantaud listens on loopback only "unless told
 * otherwise" ([http] open = yes). */
TEST(validate_open_listen_needs_tokens)
{
    struct cfg c;
    struct harness_problems ps = {0};
    CHECK_INT(cfg_defaults(&c), 0);
    CHECK_INT(cfg_set(&c, "http", "listen", "0.0.0.0:8080", harness_problem, &ps), 0);
    int without = cfg_validate(&c, harness_problem, &ps);
    CHECK_INT(cfg_set(&c, "http", "open", "yes", harness_problem, &ps), 0);
    int opened = cfg_validate(&c, harness_problem, &ps);
    CHECK_INT(cfg_set(&c, "http", "open", "no", harness_problem, &ps), 0);
    CHECK_INT(cfg_set(&c, "auth", "viewer", "0123456789abcdef", harness_problem, &ps), 0);
    int with_token = cfg_validate(&c, harness_problem, &ps);
    CHECK_INT(cfg_set(&c, "http", "listen", "[::1]:8080", harness_problem, &ps), 0);
    cfg_free(&c);
    CHECK_INT(without, 1);
    CHECK_INT(opened, 0);
    CHECK_INT(with_token, 0);
}

TEST(err_short_token_names_line)
{
    struct cfg c;
    struct harness_problems ps;
    char path[64];
    int n = load_text(&c, "[auth]\nadmin = 0123456789abcdef\nviewer = short\n", &ps, path);
    int tokens = c.n_tokens;
    cfg_free(&c);
    CHECK_INT(n, 1);
    CHECK_INT(ps.n, 1);
    CHECK_INT(ps.p[0].line, 3);
    CHECK_INT(tokens, 1);
}

TEST(set_unknown_section)
{
    set_bad("bogus", "uri", "tcp://127.0.0.1:1883");
}

TEST(set_bad_log_level)
{
    set_bad("log", "level", "loud");
}

/* A bad --listen is caught by cfg_set or, at the latest, by cfg_validate. */
TEST(validate_bad_listen)
{
    struct cfg c;
    struct harness_problems ps = {0};
    CHECK_INT(cfg_defaults(&c), 0);
    int rc = cfg_set(&c, "http", "listen", "nonsense", harness_problem, &ps);
    int nv = rc == 0 ? cfg_validate(&c, harness_problem, &ps) : 0;
    cfg_free(&c);
    if (!(rc == -1 || nv >= 1))
        harness_problems_dump(&ps);
    CHECK(rc == -1 || nv >= 1);
    CHECK(ps.n >= 1);
}

/* ---- cfg_split_listen ---- */

struct split_row {
    const char *in;
    int rc;
    const char *host;
    int port;
};

static void run_split(const struct split_row *r)
{
    char host[256];
    int port = -12345;
    memset(host, 'Z', sizeof host);
    int rc = cfg_split_listen(r->in, host, sizeof host, &port);
    if (r->rc == 0) {
        CHECK_INT(rc, 0);
        CHECK(memchr(host, '\0', sizeof host) != NULL);
        CHECK_STR(host, r->host);
        CHECK_INT(port, r->port);
    } else {
        CHECK_INT(rc, -1);
    }
}

/* X(name, input, rc, host, port) */
#define SPLIT_ROWS(X)                                                                              \
    X(split_ipv4, "127.0.0.1:8080", 0, "127.0.0.1", 8080)                                          \
    X(split_ipv6_bracketed, "[::1]:80", 0, "::1", 80)                                              \
    X(split_any_v4, "0.0.0.0:65535", 0, "0.0.0.0", 65535)                                          \
    X(split_hostname, "localhost:8080", 0, "localhost", 8080)                                      \
    X(split_port_zero, "localhost:0", 0, "localhost", 0)                                           \
    X(split_ipv6_any, "[::]:8080", 0, "::", 8080)                                                  \
    X(split_missing_port, "127.0.0.1", -1, NULL, 0)                                                \
    X(split_empty_port, "127.0.0.1:", -1, NULL, 0)                                                 \
    X(split_port_65536, "127.0.0.1:65536", -1, NULL, 0)                                            \
    X(split_port_70000, "127.0.0.1:70000", -1, NULL, 0)                                            \
    X(split_port_negative, "127.0.0.1:-1", -1, NULL, 0)                                            \
    X(split_port_plus, "127.0.0.1:+80", -1, NULL, 0)                                               \
    X(split_port_space, "127.0.0.1: 80", -1, NULL, 0)                                              \
    X(split_port_garbage, "127.0.0.1:80x", -1, NULL, 0)                                            \
    X(split_port_huge, "127.0.0.1:99999999999999999999", -1, NULL, 0)                              \
    X(split_empty_host, ":8080", -1, NULL, 0)                                                      \
    X(split_empty, "", -1, NULL, 0)                                                                \
    X(split_ipv6_no_port, "[::1]", -1, NULL, 0)                                                    \
    X(split_ipv6_unclosed, "[::1:80", -1, NULL, 0)                                                 \
    X(split_ipv6_empty, "[]:80", -1, NULL, 0)                                                      \
    X(split_ipv6_junk_after_bracket, "[::1]x:80", -1, NULL, 0)

#define SPLIT_TEST(name, in, rc, host, port)                                                       \
    TEST(name)                                                                                     \
    {                                                                                              \
        static const struct split_row r = {in, rc, host, port};                                    \
        run_split(&r);                                                                             \
    }
#define SPLIT_CASE(name, in, rc, host, port) CASE(name),

SPLIT_ROWS(SPLIT_TEST)

/* host gets at most hostlen-1 characters: nothing is written past hostlen. */
TEST(split_host_buffer_bound)
{
    char host[16];
    int port = 0;
    memset(host, 'Z', sizeof host);
    int rc = cfg_split_listen("very-long-host-name.example:80", host, 8, &port);
    CHECK(memchr(host, '\0', 8) != NULL || rc == -1);
    for (size_t i = 8; i < sizeof host; i++)
        CHECK(host[i] == 'Z');
}

/* ---- [catalog] ---- */

TEST(catalog_file_key)
{
    struct cfg c;
    struct harness_problems ps;
    char path[64];
    CHECK_INT(cfg_defaults(&c), 0);
    CHECK(c.catalog_path == NULL);
    cfg_free(&c);
    int n = load_text(&c, "[catalog]\nfile = /etc/pantau/catalog.ini\n", &ps, path);
    CHECK_INT(n, 0);
    CHECK_STR(c.catalog_path, "/etc/pantau/catalog.ini");
    /* --catalog FILE is this override. */
    CHECK_INT(cfg_set(&c, "catalog", "file", "/tmp/other.ini", harness_problem, &ps), 0);
    CHECK_STR(c.catalog_path, "/tmp/other.ini");
    cfg_free(&c);
    n = load_text(&c, "[catalog]\nfile =\npath = x\n", &ps, path);
    cfg_free(&c);
    CHECK_INT(n, 2);
    CHECK_INT(ps.p[0].line, 2);
    CHECK_INT(ps.p[1].line, 3);
    CHECK(contains(ps.p[1].text, "unknown key \"path\" in [catalog]"));
}

/* ---- freeing ---- */

TEST(free_after_load_and_sets)
{
    /* Every string replaced by a load and by cfg_set is freed once (ASan). */
    struct cfg c;
    struct harness_problems ps;
    char path[64];
    load_text(&c, full_file, &ps, path);
    cfg_set(&c, "mqtt", "uri", "tcp://a:1", harness_problem, &ps);
    cfg_set(&c, "mqtt", "uri", "tcp://b:2", harness_problem, &ps);
    cfg_set(&c, "mqtt", "password", "x", harness_problem, &ps);
    cfg_free(&c);
    CHECK(1);
}

/* [http] hostile-client keys: defaults, a proxy list, a bad one. */
TEST(http_hostile_keys)
{
    struct cfg c;
    struct harness_problems ps = {0};
    CHECK_INT(cfg_defaults(&c), 0);
    CHECK_INT(c.http_max_conns_per_ip, 64);
    CHECK_INT(c.http_min_rate_bytes, 1024);
    CHECK_INT(c.http_min_rate_window, 10);
    CHECK_INT(c.http_secure_cookies, -1); /* unset: on with a proxy */
    CHECK(c.http_proxy == NULL);
    CHECK_INT(cfg_set(&c, "http", "proxy", "127.0.0.9, ::1 10.0.0.2", harness_problem, &ps), 0);
    CHECK_STR(c.http_proxy, "127.0.0.9, ::1 10.0.0.2");
    CHECK_INT(cfg_set(&c, "http", "proxy", "10.0.0.2, proxy.example", harness_problem, &ps), -1);
    CHECK_INT(cfg_set(&c, "http", "proxy", " , ", harness_problem, &ps), -1);
    CHECK_INT(cfg_set(&c, "http", "max_conns_per_ip", "0", harness_problem, &ps), -1);
    CHECK_INT(cfg_set(&c, "http", "min_rate_window", "3601", harness_problem, &ps), -1);
    CHECK_INT(ps.n, 4);
    CHECK_STR(c.http_proxy, "127.0.0.9, ::1 10.0.0.2"); /* a bad value changes nothing */
    cfg_free(&c);
}

/* CONTRACT §8: [alerts] escalate_webhook is a URL as webhook is; its token
 * is a string of its own. */
TEST(alerts_escalate_keys)
{
    struct cfg c;
    struct harness_problems ps;
    char path[64];
    CHECK_INT(cfg_defaults(&c), 0);
    CHECK(c.alerts_escalate_webhook == NULL && c.alerts_escalate_webhook_token == NULL);
    cfg_free(&c);
    int n = load_text(&c,
                      "[alerts]\nescalate_webhook = https://gw.example.go.id/kepala\n"
                      "escalate_webhook_token = t0k3n\n",
                      &ps, path);
    CHECK_INT(n, 0);
    CHECK_STR(c.alerts_escalate_webhook, "https://gw.example.go.id/kepala");
    CHECK_STR(c.alerts_escalate_webhook_token, "t0k3n");
    CHECK(c.alerts_webhook == NULL);
    cfg_free(&c);
    n = load_text(&c, "[alerts]\n\nescalate_webhook = ftp://gw.example.go.id/\n", &ps, path);
    cfg_free(&c);
    CHECK_INT(n, 1);
    CHECK_INT(ps.p[0].line, 3);
    CHECK(contains(ps.p[0].text, "escalate_webhook"));
}

TEST_MAIN(CASE(alerts_escalate_keys), CASE(validate_open_listen_needs_tokens),
          CASE(err_short_token_names_line), CASE(defaults_contract), CASE(defaults_header),
          CASE(defaults_validate), CASE(load_valid_full), CASE(load_partial_keeps_defaults),
          CASE(load_empty_file_valid), CASE(load_over_current_values), CASE(load_every_log_level),
          BAD_LINES(BAD_CASE) CASE(err_unknown_section), CASE(err_unterminated_section),
          CASE(err_three_problems_all_reported), CASE(err_three_problems_with_syntax_errors),
          CASE(err_missing_file), CASE(set_overrides_file), CASE(set_value_is_copied),
          CASE(set_bad_integer), CASE(set_unknown_key), CASE(set_unknown_section),
          CASE(set_bad_log_level), CASE(validate_bad_listen),
          SPLIT_ROWS(SPLIT_CASE) CASE(split_host_buffer_bound), CASE(free_after_load_and_sets),
          CASE(catalog_file_key), CASE(http_hostile_keys))
