/* kpi_engine.h — keeps every KPI of the catalog current as samples commit
 * (CONTRACT §5; the kpi frames of §3), and computes KPIs as of any time for
 * the evaluation report (§5.4). Loop thread only.
 *
 * Owns the catalog in use (a reload hands it a new one; the old one is freed
 * once no computation in flight uses it), and per KPI the list of series it
 * matches with each series' aggregate over the KPI's current period.
 *
 * How `current` stays cheap: a committed sample marks only its series dirty
 * in the KPIs that match it (a dict lookup per sample on the loop). Once a
 * second, one job on a query_pool worker reads the dirty series' aggregates
 * over their period from the rollups plus raw edges (query_aggregate: never
 * a scan of a year of raw samples), and the loop folds every series of the
 * KPI into `current` (kpi.h). When the calendar period rolls over (midnight,
 * a new month) the KPI's series are read again for the new period. A KPI
 * whose current or status changed is reported through `changed` at most
 * once a second; statuses that change by the passage of time alone are
 * noticed by the same one-second tick. */
#ifndef PANTAU_KPI_ENGINE_H
#define PANTAU_KPI_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "catalog.h"
#include "kpi.h"
#include "sample.h"

struct kpi_engine;
struct query_pool;
struct store;

struct kpi_engine_opts {
    uv_loop_t *loop;
    struct store *store;     /* its series cache: which series exist */
    struct query_pool *pool; /* where aggregates are read */
    /* A KPI's current or status changed (at most once a second per KPI). */
    void (*changed)(void *ctx, int kpi, const struct kpi_eval *eval);
    void *ctx;
};

/* Starts with `catalog` (taken: the engine frees it). Returns 0 or -1. */
int kpi_engine_start(struct kpi_engine **out, const struct kpi_engine_opts *opts,
                     struct catalog *catalog);

/* Replaces the catalog (taken). Every KPI is computed afresh. Returns 0, or
 * -1 when out of memory (the old catalog stays, the new one is freed). */
int kpi_engine_set_catalog(struct kpi_engine *e, struct catalog *catalog);

/* The catalog in use (valid until the next kpi_engine_set_catalog). */
const struct catalog *kpi_engine_catalog(const struct kpi_engine *e);

/* ingest's observer: these samples committed (with their series ids). */
void kpi_engine_samples(struct kpi_engine *e, const struct sample *samples, size_t n);

/* KPI `kpi` of the catalog in use, evaluated at `now` with its cached
 * current value. */
void kpi_engine_eval(const struct kpi_engine *e, int kpi, int64_t now, struct kpi_eval *out);

/* Calls fn (on the loop) once every sample committed before this call is
 * reflected in the cached values: at once when nothing is pending. So an
 * HTTP answer never shows a KPI older than the data it was asked after.
 * Returns 0 or -1 (out of memory: fn is not called). */
int kpi_engine_sync(struct kpi_engine *e, void (*fn)(void *ctx), void *ctx);

/* The evaluation report's numbers: every KPI's current as of `from` and as
 * of `to`, read and folded wholly on a query_pool worker (the series from
 * the database, the catalog in use when asked), so the loop's share does
 * not grow with the number of series. Valid only during the done callback. status 0, or -1 when the
 * database failed or the catalog changed meanwhile. */
struct kpi_report {
    int status;
    const struct catalog *catalog;
    int64_t from, to;
    const bool *has_at_from, *has_at_to; /* per KPI */
    const double *at_from, *at_to;
};
int kpi_engine_report(struct kpi_engine *e, int64_t from, int64_t to,
                      void (*done)(void *ctx, const struct kpi_report *r), void *ctx);

/* Stops the timer and answers pending syncs; jobs in flight finish on their
 * own. Call kpi_engine_free after uv_run has returned. */
void kpi_engine_stop(struct kpi_engine *e);
void kpi_engine_free(struct kpi_engine *e); /* NULL is a no-op */

#endif
