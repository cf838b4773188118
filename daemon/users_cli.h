/* users_cli.h — `pantaud [--db PATH] user add|passwd|del|list ...`
 * (CONTRACT §8): accounts managed from the command line, whether or not a
 * pantaud runs on the database (SQLite WAL; a write waits up to
 * USERS_CLI_BUSY_MS for the daemon's). No loop: run instead of the daemon,
 * as --backup is. Passwords come on standard input, one line. */
#ifndef PANTAU_USERS_CLI_H
#define PANTAU_USERS_CLI_H

#include "catalog.h"
#include "cfg.h"

#define USERS_CLI_BUSY_MS 10000

/* Exit codes besides 0 and 2 (usage). */
enum {
    USERS_CLI_FAILED = 1, /* the database could not be opened or written */
    USERS_CLI_WEAK = 3,   /* weak_password */
    USERS_CLI_EXISTS = 4, /* exists */
    USERS_CLI_UNKNOWN = 5 /* no such user */
};

/* argv[0] is "user". catalog may be NULL (then --programs are checked as
 * slugs only). Returns the exit code; messages go to stderr, `list` to
 * stdout. */
int users_cli_run(const struct cfg *cfg, const struct catalog *catalog, int argc, char **argv);

#endif
