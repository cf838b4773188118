/* test_audit.c — CONTRACT §8's audit log: the canonical form of an event
 * (what a client recomputes with JSON.stringify), the hash chain, its
 * verification on a real SQLite database (tampered, deleted, pruned rows),
 * and the accounts' pure checks (users.h). */
#include "audit.h"
#include "check.h"
#include "schema.h"
#include "users.h"

#include <sqlite3.h>

static const char zeros[] = "0000000000000000000000000000000000000000000000000000000000000000";

TEST(audit_event_json_canonical)
{
    static const struct {
        struct audit_event e;
        const char *want; /* python's json.dumps(separators=(',',':'), ensure_ascii=False) */
    } cases[] = {
        {{1, 1700000000000, "budi", "admin", "login", "budi", NULL, "127.0.0.1"},
         "{\"id\":1,\"ts\":1700000000000,\"user\":\"budi\",\"role\":\"admin\",\"action\":\"login\","
         "\"target\":\"budi\",\"detail\":null,\"ip\":\"127.0.0.1\"}"},
        {{2, 1700000000001, NULL, NULL, "login_failed", "a\"b\\c\n\t\x01\xc3\xbc",
          "{\"stored\":3,\"rejected\":1}", NULL},
         "{\"id\":2,\"ts\":1700000000001,\"user\":null,\"role\":null,\"action\":\"login_failed\","
         "\"target\":\"a\\\"b\\\\c\\n\\t\\u0001\xc3\xbc\",\"detail\":{\"stored\":3,\"rejected\":1},"
         "\"ip\":null}"},
        {{3, 5, NULL, "viewer", "logout", NULL, NULL, "::1"},
         "{\"id\":3,\"ts\":5,\"user\":null,\"role\":\"viewer\",\"action\":\"logout\","
         "\"target\":null,\"detail\":null,\"ip\":\"::1\"}"},
    };
    struct buf b;
    buf_init(&b, 0);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        buf_reset(&b);
        audit_event_json(&b, &cases[i].e);
        buf_append(&b, "", 1);
        CHECK_STR(b.data, cases[i].want);
    }
    buf_free(&b);
}

TEST(audit_json_str_as_javascript)
{
    /* node -e 'JSON.stringify("a\"b\\c\n\t\x01ü\b\f\r\x1f")' */
    struct buf b;
    buf_init(&b, 0);
    audit_json_str(&b, "a\"b\\c\n\t\x01\xc3\xbc\b\f\r\x1f/");
    buf_append(&b, "", 1);
    CHECK_STR(b.data, "\"a\\\"b\\\\c\\n\\t\\u0001\xc3\xbc\\b\\f\\r\\u001f/\"");
    buf_free(&b);
}

TEST(audit_chain_hash_known_values)
{
    /* Computed with python's hashlib.sha256 over the same text. */
    const char *j1 = "{\"id\":1,\"ts\":1700000000000,\"user\":\"budi\",\"role\":\"admin\","
                     "\"action\":\"login\",\"target\":\"budi\",\"detail\":null,\"ip\":"
                     "\"127.0.0.1\"}";
    const char *j2 = "{\"id\":2,\"ts\":1700000000001,\"user\":null,\"role\":null,\"action\":"
                     "\"login_failed\",\"target\":\"a\\\"b\\\\c\\n\\t\\u0001\xc3\xbc\",\"detail\":"
                     "{\"stored\":3,\"rejected\":1},\"ip\":null}";
    char h1[AUDIT_HASH_HEX + 1], h2[AUDIT_HASH_HEX + 1];
    audit_chain_hash(zeros, j1, strlen(j1), h1);
    CHECK_STR(h1, "a4015cf69b1d945b8fcd36cda04611cc980e59619583a44d67fbcb4df7bc1a6c");
    audit_chain_hash(h1, j2, strlen(j2), h2);
    CHECK_STR(h2, "c18fd11a05633f5de73fc4daf4a0369c6a9cdbda1c664c9372ad1dd478b38fd9");
}

TEST(audit_clean_text_keeps_utf8)
{
    static const struct {
        const char *in;
        size_t cap;
        const char *want;
    } cases[] = {
        {"budi", 65, "budi"},
        {"b\xc3\xbc", 65, "b\xc3\xbc"},
        {"a\xff"
         "b",
         65,
         "a\xef\xbf\xbd"
         "b"},                                                        /* an invalid byte */
        {"\xed\xa0\x80", 65, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"}, /* a surrogate */
        {"\xc0\xaf", 65, "\xef\xbf\xbd\xef\xbf\xbd"},                 /* overlong '/' */
        {"abc\xc3\xbc", 5, "abc"},                                    /* cut on a boundary */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char out[65];
        audit_clean_text(cases[i].in, strlen(cases[i].in), out, cases[i].cap);
        CHECK_STR(out, cases[i].want);
    }
}

static sqlite3 *fresh_db(void)
{
    sqlite3 *db = NULL;
    if (sqlite3_open(":memory:", &db) != SQLITE_OK)
        return NULL;
    for (int i = 0; i < schema_version; i++)
        if (sqlite3_exec(db, schema_migrations[i], NULL, NULL, NULL) != SQLITE_OK)
            return NULL;
    return db;
}

static void append_n(sqlite3 *db, int n)
{
    for (int i = 0; i < n; i++) {
        struct audit_event e = {.user = "budi",
                                .role = "admin",
                                .action = "ack",
                                .target = "7",
                                .detail = "{\"note\":\"x\"}",
                                .ip = "10.0.0.1"};
        audit_append(db, &e);
    }
}

static int verify(sqlite3 *db, int64_t *events, int64_t *bad)
{
    return audit_verify(db, events, bad);
}

TEST(audit_chain_verifies_and_catches_tampering)
{
    sqlite3 *db = fresh_db();
    CHECK(db != NULL);
    int64_t events, bad;
    CHECK_INT(verify(db, &events, &bad), 1);
    CHECK_INT(events, 0);
    append_n(db, 5);
    CHECK_INT(verify(db, &events, &bad), 1);
    CHECK_INT(events, 5);
    /* The first event hashes 64 zeros followed by its JSON. */
    sqlite3_stmt *st;
    sqlite3_prepare_v2(db, "SELECT hash FROM audit WHERE id = 1", -1, &st, NULL);
    CHECK_INT(sqlite3_step(st), SQLITE_ROW);
    char first[AUDIT_HASH_HEX + 1];
    snprintf(first, sizeof first, "%s", (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    CHECK_INT(strlen(first), 64);

    sqlite3_exec(db, "UPDATE audit SET target = '8' WHERE id = 3", NULL, NULL, NULL);
    CHECK_INT(verify(db, &events, &bad), 0);
    CHECK_INT(bad, 3);
    sqlite3_exec(db, "UPDATE audit SET target = '7' WHERE id = 3", NULL, NULL, NULL);
    CHECK_INT(verify(db, &events, &bad), 1);

    sqlite3_exec(db, "DELETE FROM audit WHERE id = 2", NULL, NULL, NULL);
    CHECK_INT(verify(db, &events, &bad), 0);
    CHECK_INT(bad, 3); /* its predecessor is missing */
    sqlite3_close(db);
}

TEST(audit_ids_never_reused_after_a_deleted_tail)
{
    sqlite3 *db = fresh_db();
    int64_t events, bad;
    append_n(db, 3);
    sqlite3_exec(db, "DELETE FROM audit WHERE id = 3", NULL, NULL, NULL);
    append_n(db, 1); /* id 4, chained to 2: the gap shows */
    CHECK_INT(verify(db, &events, &bad), 0);
    CHECK_INT(bad, 4);
    sqlite3_close(db);
}

TEST(audit_prune_keeps_an_anchor)
{
    sqlite3 *db = fresh_db();
    int64_t events, bad;
    append_n(db, 4);
    /* Age the first two events past a 400-day retention. */
    sqlite3_exec(db, "UPDATE audit SET ts = ts - 500 * 86400000 WHERE id <= 2", NULL, NULL, NULL);
    /* (their hashes no longer match, but they are about to go) */
    int64_t now = 0;
    sqlite3_stmt *st;
    sqlite3_prepare_v2(db, "SELECT max(ts) FROM audit", -1, &st, NULL);
    sqlite3_step(st);
    now = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    CHECK_INT(audit_prune(db, 400, now), 2);
    CHECK_INT(verify(db, &events, &bad), 1);
    CHECK_INT(events, 2);
    append_n(db, 1);
    CHECK_INT(verify(db, &events, &bad), 1);
    CHECK_INT(events, 3);
    sqlite3_close(db);
}

TEST(audit_list_newest_first_filtered)
{
    sqlite3 *db = fresh_db();
    append_n(db, 3);
    struct audit_event e = {.action = "user_add", .target = "ani"};
    audit_append(db, &e);
    struct buf b;
    buf_init(&b, 0);
    struct audit_filter f = {.from = 0, .to = INT64_MAX, .limit = 10};
    CHECK_INT(audit_list(db, &f, &b), 4);
    buf_append(&b, "", 1);
    CHECK(strncmp(b.data, "\n{\"id\":4,", 9) == 0);
    CHECK(strstr(b.data, "\"hash\":\"") != NULL);
    buf_reset(&b);
    f.action = "ack";
    f.limit = 2;
    CHECK_INT(audit_list(db, &f, &b), 2);
    buf_free(&b);
    sqlite3_close(db);
}

TEST(users_checks)
{
    CHECK(users_programs_valid(""));
    CHECK(users_programs_valid("pjs"));
    CHECK(users_programs_valid("pjs,simas-bapokting"));
    CHECK(!users_programs_valid("pjs,"));
    CHECK(!users_programs_valid(",pjs"));
    CHECK(!users_programs_valid("pjs,,x"));
    CHECK(!users_programs_valid("pjs,pjs"));
    CHECK(!users_programs_valid("PJS"));
    CHECK(users_programs_allow("", "any"));
    CHECK(users_programs_allow("a,pjs", "pjs"));
    CHECK(!users_programs_allow("a,pjs", "pj"));
    CHECK(!users_programs_allow("a,pjs", "pjs-2"));
    CHECK(users_password_ok("0123456789", 10));
    CHECK(!users_password_ok("012345678", 9));
    CHECK(!users_password_ok("\xc3\xbc\xc3\xbc\xc3\xbc\xc3\xbc\xc3\xbc", 10)); /* 5 characters */
    CHECK(!users_password_ok("01234\0"
                             "6789",
                             10));
    CHECK(users_role_valid("operator"));
    CHECK(!users_role_valid("root"));
}

TEST(users_hash_and_verify)
{
    char hash[USERS_HASH_MAX];
    CHECK_INT(sodium_init() >= 0, 1);
    CHECK_INT(users_hash("rahasia-sekali", 14, hash), 0);
    CHECK(strncmp(hash, "$argon2id$", 10) == 0);
    CHECK(users_verify(hash, "rahasia-sekali", 14));
    CHECK(!users_verify(hash, "rahasia-sekalI", 14));
    CHECK(!users_verify(NULL, "rahasia-sekali", 14)); /* the dummy: never true */
}

TEST_MAIN(CASE(audit_event_json_canonical), CASE(audit_json_str_as_javascript),
          CASE(audit_chain_hash_known_values), CASE(audit_clean_text_keeps_utf8),
          CASE(audit_chain_verifies_and_catches_tampering),
          CASE(audit_ids_never_reused_after_a_deleted_tail), CASE(audit_prune_keeps_an_anchor),
          CASE(audit_list_newest_first_filtered), CASE(users_checks), CASE(users_hash_and_verify))
