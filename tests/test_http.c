/* test_http.c — http.h's pure helpers: the Origin check of cookie-authorized
 * changes (CONTRACT §10) and the client's address behind trusted proxies. */
#include "check.h"
#include "http.h"

#include <stdbool.h>
#include <string.h>

/* X(name, origin, host, expected) — http_origin_matches. */
#define ORIGIN_ROWS(X)                                                                             \
    X(origin_same, "http://pantau.example:8080", "pantau.example:8080", true)                      \
    X(origin_other_port, "http://pantau.example:8081", "pantau.example:8080", false)               \
    X(origin_other_host, "http://evil.example:8080", "pantau.example:8080", false)                 \
    X(origin_http_default_port, "http://pantau.example", "pantau.example:80", true)                \
    X(origin_https_default_port, "https://pantau.example", "pantau.example:443", true)             \
    X(origin_host_without_port, "https://pantau.example", "pantau.example", true)                  \
    X(origin_host_without_port_http, "http://pantau.example", "pantau.example", true)              \
    X(origin_tls_proxy_scheme_differs, "https://pantau.example:8443", "pantau.example:8443", true) \
    X(origin_https_vs_80, "https://pantau.example", "pantau.example:80", false)                    \
    X(origin_port_vs_default, "http://pantau.example:8080", "pantau.example", false)               \
    X(origin_case, "HTTP://Pantau.Example:8080", "pantau.EXAMPLE:8080", true)                      \
    X(origin_ipv6, "http://[::1]:8080", "[::1]:8080", true)                                        \
    X(origin_ipv6_case, "http://[FE80::1]:8080", "[fe80::1]:8080", true)                           \
    X(origin_ipv6_default, "http://[::1]", "[::1]:80", true)                                       \
    X(origin_ipv6_other, "http://[::2]:8080", "[::1]:8080", false)                                 \
    X(origin_ipv6_unbracketed, "http://::1:8080", "[::1]:8080", false)                             \
    X(origin_null, "null", "pantau.example", false)                                                \
    X(origin_empty, "", "pantau.example", false)                                                   \
    X(origin_file, "file://pantau.example", "pantau.example", false)                               \
    X(origin_no_scheme, "pantau.example:8080", "pantau.example:8080", false)                       \
    X(origin_path, "http://pantau.example:8080/", "pantau.example:8080", false)                    \
    X(origin_userinfo, "http://evil@pantau.example:8080", "pantau.example:8080", false)            \
    X(origin_suffix, "http://pantau.example.evil:8080", "pantau.example:8080", false)              \
    X(origin_bad_port, "http://pantau.example:80a", "pantau.example:80", false)                    \
    X(origin_port_zero, "http://pantau.example:0", "pantau.example:0", false)                      \
    X(origin_port_too_big, "http://pantau.example:65536", "pantau.example:65536", false)           \
    X(origin_empty_port, "http://pantau.example:", "pantau.example", false)                        \
    X(origin_empty_host_header, "http://pantau.example", "", false)                                \
    X(origin_loopback_names, "http://localhost:8080", "127.0.0.1:8080", false)

#define ORIGIN_TEST(name, origin, host, want)                                                      \
    TEST(name)                                                                                     \
    {                                                                                              \
        CHECK_INT(http_origin_matches(origin, host), want);                                        \
    }
#define ROW_CASE(name, ...) CASE(name),

ORIGIN_ROWS(ORIGIN_TEST)

TEST(origin_null_pointers)
{
    CHECK(!http_origin_matches(NULL, "a"));
    CHECK(!http_origin_matches("http://a", NULL));
}

static const char proxies[][HTTP_ADDR_MAX] = {"127.0.0.9", "10.0.0.2", "fd00::9"};

/* X(name, peer, xff, expected client) — http_client_addr. */
#define CLIENT_ROWS(X)                                                                             \
    X(client_direct, "203.0.113.1", NULL, "203.0.113.1")                                           \
    X(client_direct_xff_ignored, "203.0.113.1", "198.51.100.7", "203.0.113.1")                     \
    X(client_proxy_no_xff, "127.0.0.9", NULL, "127.0.0.9")                                         \
    X(client_proxy_xff, "127.0.0.9", "198.51.100.7", "198.51.100.7")                               \
    X(client_proxy_rightmost, "127.0.0.9", "1.1.1.1, 198.51.100.7", "198.51.100.7")                \
    X(client_proxy_chain, "127.0.0.9", "1.1.1.1, 198.51.100.7, 10.0.0.2", "198.51.100.7")          \
    X(client_proxy_spaces, "127.0.0.9", "  198.51.100.7  ", "198.51.100.7")                        \
    X(client_proxy_all_proxies, "127.0.0.9", "10.0.0.2,127.0.0.9", "10.0.0.2")                     \
    X(client_proxy_garbage, "127.0.0.9", "1.1.1.1, bogus", "127.0.0.9")                            \
    X(client_proxy_garbage_left, "127.0.0.9", "bogus, 198.51.100.7", "198.51.100.7")               \
    X(client_proxy_v6, "fd00::9", "2001:DB8::1", "2001:db8::1")                                    \
    X(client_proxy_mapped, "127.0.0.9", "::ffff:198.51.100.7", "198.51.100.7")                     \
    X(client_proxy_empty, "127.0.0.9", "", "127.0.0.9")                                            \
    X(client_proxy_empty_entry, "127.0.0.9", "198.51.100.7,", "127.0.0.9")                         \
    X(client_proxy_long_entry, "127.0.0.9",                                                        \
      "1111111111111111111111111111111111111111111111111111111111111111111", "127.0.0.9")

#define CLIENT_TEST(name, peer, xff, want)                                                         \
    TEST(name)                                                                                     \
    {                                                                                              \
        char out[HTTP_ADDR_MAX];                                                                   \
        http_client_addr(peer, xff, proxies, 3, out);                                              \
        CHECK_STR(out, want);                                                                      \
    }

CLIENT_ROWS(CLIENT_TEST)

TEST(addr_normal)
{
    char out[HTTP_ADDR_MAX];
    CHECK_INT(http_addr_normal("::ffff:127.0.0.1", out, sizeof out), 0);
    CHECK_STR(out, "127.0.0.1");
    CHECK_INT(http_addr_normal("0:0:0:0:0:0:0:1", out, sizeof out), 0);
    CHECK_STR(out, "::1");
    CHECK_INT(http_addr_normal("127.0.0.1:80", out, sizeof out), -1);
    CHECK_INT(http_addr_normal("localhost", out, sizeof out), -1);
}

TEST_MAIN(ORIGIN_ROWS(ROW_CASE) CASE(origin_null_pointers), CLIENT_ROWS(ROW_CASE) CASE(addr_normal))
