/* users_cli.c — see users_cli.h. */
#include "users_cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "audit.h"
#include "log.h"
#include "store.h"
#include "users.h"
#include "util.h"

static void cli_usage(FILE *out)
{
    fprintf(out,
            "usage: pantaud [--db PATH | -c FILE] user add NAME --role viewer|operator|admin "
            "[--programs P1,P2]\n"
            "       pantaud [--db PATH | -c FILE] user passwd NAME\n"
            "       pantaud [--db PATH | -c FILE] user del NAME\n"
            "       pantaud [--db PATH | -c FILE] user list\n"
            "add and passwd read the password from standard input (one line, at least %d "
            "characters).\n",
            USERS_PASSWORD_MIN);
}

/* One line of standard input without its line end, into pw. Returns its
 * length, or -1 (nothing read, or longer than USERS_PASSWORD_MAX). */
static long read_password(char *pw, size_t cap)
{
    struct termios old, quiet;
    bool tty = isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &old) == 0;
    if (tty) {
        fputs("Password: ", stderr);
        quiet = old;
        quiet.c_lflag &= ~(tcflag_t)ECHO;
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
    }
    long n = -1;
    if (fgets(pw, (int)cap, stdin)) {
        n = (long)strlen(pw);
        bool whole = n > 0 && pw[n - 1] == '\n';
        if (!whole && !feof(stdin))
            n = -1; /* longer than cap: refused, not cut */
        else
            while (n > 0 && (pw[n - 1] == '\n' || pw[n - 1] == '\r'))
                pw[--n] = '\0';
    }
    if (tty) {
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
        fputc('\n', stderr);
    }
    return n;
}

/* A password from stdin, checked and hashed into hash. 0 or an exit code. */
static int new_hash(char hash[USERS_HASH_MAX])
{
    char pw[USERS_PASSWORD_MAX + 2];
    long n = read_password(pw, sizeof pw);
    int rc = 0;
    if (n < 0 || !users_password_ok(pw, (size_t)n)) {
        fprintf(stderr,
                "pantaud: weak_password: the password (one line on standard input) needs at "
                "least %d characters and at most %d bytes\n",
                USERS_PASSWORD_MIN, USERS_PASSWORD_MAX);
        rc = USERS_CLI_WEAK;
    } else if (users_hash(pw, (size_t)n, hash) != 0) {
        fprintf(stderr, "pantaud: out of memory hashing the password\n");
        rc = USERS_CLI_FAILED;
    }
    sodium_memzero(pw, sizeof pw);
    return rc;
}

static void audit_cli(sqlite3 *db, const char *action, const char *name, const char *detail)
{
    struct audit_event e = {.action = action, .target = name, .detail = detail};
    if (audit_append(db, &e) < 0)
        fprintf(stderr, "pantaud: warning: the audit event could not be written\n");
}

static bool programs_known(const struct catalog *c, const char *csv)
{
    if (!c || !*csv)
        return true;
    char copy[USERS_PROGRAMS_MAX + 1];
    snprintf(copy, sizeof copy, "%s", csv);
    char *save = NULL;
    for (char *p = strtok_r(copy, ",", &save); p; p = strtok_r(NULL, ",", &save))
        if (catalog_find_program(c, p) < 0) {
            fprintf(stderr, "pantaud: unknown_program: the catalog has no program %s\n", p);
            return false;
        }
    return true;
}

/* user add NAME --role R [--programs P1,P2]: options may come before or
 * after NAME. */
static int parse_add(int argc, char **argv, const char **name, const char **role,
                     const char **programs)
{
    *name = *role = NULL;
    *programs = "";
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if ((strcmp(a, "--role") == 0 || strcmp(a, "--programs") == 0) && v) {
            *(a[2] == 'r' ? role : programs) = v;
            i++;
        } else if (strncmp(a, "--role=", 7) == 0) {
            *role = a + 7;
        } else if (strncmp(a, "--programs=", 11) == 0) {
            *programs = a + 11;
        } else if (a[0] != '-' && !*name) {
            *name = a;
        } else {
            fprintf(stderr, "pantaud: user add: unexpected \"%s\"\n", a);
            return 2;
        }
    }
    if (!*name || !*role) {
        fprintf(stderr, "pantaud: user add needs NAME and --role\n");
        return 2;
    }
    return 0;
}

static int add(struct users *u, sqlite3 *db, const struct catalog *cat, int argc, char **argv)
{
    const char *name, *role, *programs;
    int rc = parse_add(argc, argv, &name, &role, &programs);
    if (rc)
        return rc;
    if (!util_is_slug(name, strlen(name))) {
        fprintf(stderr, "pantaud: bad_name: NAME must be a slug ([a-z0-9][a-z0-9_-]{0,63})\n");
        return 2;
    }
    if (!users_role_valid(role)) {
        fprintf(stderr, "pantaud: bad_role: --role must be viewer, operator or admin\n");
        return 2;
    }
    if (!users_programs_valid(programs)) {
        fprintf(stderr, "pantaud: bad_programs: --programs must be distinct program ids "
                        "(slugs) separated by commas\n");
        return 2;
    }
    if (!programs_known(cat, programs))
        return 2;
    struct user_rec old;
    if (users_get(u, name, &old) == 1) {
        fprintf(stderr, "pantaud: exists: a user named %s exists\n", name);
        return USERS_CLI_EXISTS;
    }
    char hash[USERS_HASH_MAX];
    if ((rc = new_hash(hash)) != 0)
        return rc;
    rc = users_add(u, name, role, programs, hash);
    if (rc == USERS_EXISTS) {
        fprintf(stderr, "pantaud: exists: a user named %s exists\n", name);
        return USERS_CLI_EXISTS;
    }
    if (rc != 0)
        return USERS_CLI_FAILED;
    char detail[USERS_PROGRAMS_MAX * 2 + 64];
    int n = snprintf(detail, sizeof detail, "{\"role\":\"%s\",\"programs\":%s", role,
                     *programs ? "[\"" : "null");
    for (const char *p = programs; *p && n < (int)sizeof detail - 8; p++)
        n += *p == ',' ? snprintf(detail + n, sizeof detail - (size_t)n, "\",\"")
                       : snprintf(detail + n, sizeof detail - (size_t)n, "%c", *p);
    snprintf(detail + n, sizeof detail - (size_t)n, "%s}", *programs ? "\"]" : "");
    audit_cli(db, "user_add", name, detail);
    printf("pantaud: user %s added (%s)\n", name, role);
    return 0;
}

static int one_name(int argc, char **argv, const char *cmd, const char **name)
{
    if (argc != 2 || argv[1][0] == '-') {
        fprintf(stderr, "pantaud: user %s takes one NAME\n", cmd);
        return 2;
    }
    *name = argv[1];
    return 0;
}

static int passwd(struct users *u, sqlite3 *db, int argc, char **argv)
{
    const char *name;
    struct user_rec old;
    int rc = one_name(argc, argv, "passwd", &name);
    if (rc)
        return rc;
    if (!util_is_slug(name, strlen(name)) || users_get(u, name, &old) != 1) {
        fprintf(stderr, "pantaud: unknown_user: no user named %s\n", name);
        return USERS_CLI_UNKNOWN;
    }
    char hash[USERS_HASH_MAX];
    if ((rc = new_hash(hash)) != 0)
        return rc;
    rc = users_set_hash(u, name, hash);
    if (rc < 0)
        return USERS_CLI_FAILED;
    if (rc == 0) {
        fprintf(stderr, "pantaud: unknown_user: no user named %s\n", name);
        return USERS_CLI_UNKNOWN;
    }
    audit_cli(db, "user_passwd", name, NULL);
    printf("pantaud: password of %s changed; its sessions ended\n", name);
    return 0;
}

static int del(struct users *u, sqlite3 *db, int argc, char **argv)
{
    const char *name;
    int rc = one_name(argc, argv, "del", &name);
    if (rc)
        return rc;
    rc = util_is_slug(name, strlen(name)) ? users_del(u, name) : 0;
    if (rc < 0)
        return USERS_CLI_FAILED;
    if (rc == 0) {
        fprintf(stderr, "pantaud: unknown_user: no user named %s\n", name);
        return USERS_CLI_UNKNOWN;
    }
    audit_cli(db, "user_del", name, NULL);
    printf("pantaud: user %s deleted; its sessions ended\n", name);
    return 0;
}

static void print_user(void *ctx, const struct user_rec *r)
{
    printf("%s %s %s\n", r->name, r->role, r->programs[0] ? r->programs : "-");
}

static int run(const char *cmd, struct users *u, sqlite3 *db, const struct catalog *cat, int argc,
               char **argv)
{
    if (strcmp(cmd, "add") == 0)
        return add(u, db, cat, argc, argv);
    if (strcmp(cmd, "passwd") == 0)
        return passwd(u, db, argc, argv);
    if (strcmp(cmd, "del") == 0)
        return del(u, db, argc, argv);
    if (argc != 1) {
        fprintf(stderr, "pantaud: user list takes no argument\n");
        return 2;
    }
    return users_each(u, print_user, NULL) == 0 && fflush(stdout) == 0 ? 0 : USERS_CLI_FAILED;
}

int users_cli_run(const struct cfg *cfg, const struct catalog *catalog, int argc, char **argv)
{
    static const char *const cmds[] = {"add", "passwd", "del", "list"};
    bool known = false;
    for (size_t i = 0; argc >= 2 && i < sizeof cmds / sizeof cmds[0]; i++)
        known |= strcmp(argv[1], cmds[i]) == 0;
    if (!known) {
        cli_usage(stderr);
        return 2;
    }
    if (sodium_init() < 0) {
        fprintf(stderr, "pantaud: libsodium cannot start\n");
        return USERS_CLI_FAILED;
    }
    /* The store's messages (opened, migrated) are not this command's. */
    log_set_level(LOG_LVL_WARN);
    struct store *s = NULL;
    struct users *u = NULL;
    int rc = USERS_CLI_FAILED;
    if (store_open(&s, cfg->db_path) != 0) {
        fprintf(stderr, "pantaud: cannot open the database %s\n", cfg->db_path);
        goto out;
    }
    /* A running pantaud holds the write lock for a few ms at a time: wait. */
    sqlite3_busy_timeout(store_db(s), USERS_CLI_BUSY_MS);
    if (users_open(&u, store_db(s)) != 0)
        goto out;
    rc = run(argv[1], u, store_db(s), catalog, argc - 1, argv + 1);
    if (rc == USERS_CLI_FAILED)
        fprintf(stderr, "pantaud: the database %s could not be written\n", cfg->db_path);
out:
    users_close(u);
    store_close(s);
    return rc;
}
