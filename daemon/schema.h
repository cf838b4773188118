/* schema.h — the whole database schema, as the migrations that build it.
 *
 * Migration i brings `PRAGMA user_version` from i to i + 1; store.c runs
 * those a database lacks, each in a transaction of its own, when it opens
 * the database. Every table of every module is here, so one file shows the
 * schema entire; each module keeps only the statements that read and write
 * its tables. Never edit a shipped migration: add the next. Pure data; any
 * thread. */
#ifndef PANTAU_SCHEMA_H
#define PANTAU_SCHEMA_H

extern const char *const schema_migrations[];
/* The number of migrations: the user_version of an up-to-date database. */
extern const int schema_version;

#endif
