/* store_convert.h — converts a database of schema 6 (samples, rollup_1m,
 * rollup_1h) to chunk rows (chunkstore.h), in place, at start-up.
 *
 * Per series, in id order, a batch of series per transaction: its raw
 * samples become chunk rows hour by hour; minutes and hours whose raw
 * samples retention had already deleted become rows without data (their
 * aggregate alone), so every answer the rollups gave is still given. The
 * batch's transaction also moves store_meta's 'convert_next', so a
 * conversion cut short (a crash, a stop) goes on from there at the next
 * start. Progress is logged every few seconds. At the end the samples
 * counted in `samples` must equal those in the chunk rows; then the old
 * tables are dropped and 'convert_next' deleted. A count that differs
 * stops the start (logged): the old tables are kept for a person to see.
 *
 * Loop thread (store_open), before anything else writes. */
#ifndef PANTAU_STORE_CONVERT_H
#define PANTAU_STORE_CONVERT_H

#include <sqlite3.h>

#include "chunkstore.h"

/* Returns 0 (converted, or nothing to convert) or -1 (logged). */
int store_convert(sqlite3 *db, struct chunkstore *c, const char *path);

#endif
