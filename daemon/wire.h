/* wire.h — the JSON objects pantaud writes to its clients, in one place:
 * the API's answers, the live websocket's frames and the webhook's
 * notifications all write KPI, ALERT, unit and regency objects through
 * these, so an object reads the same wherever it goes (CONTRACT §2, §3, §5,
 * §6). Pure: each appends to a buf and touches nothing else; any thread.
 * Absent values are written as null. */
#ifndef PANTAU_WIRE_H
#define PANTAU_WIRE_H

#include <stdbool.h>
#include <stdint.h>

#include "alert.h"
#include "buf.h"
#include "catalog.h"
#include "kpi.h"
#include "kpi_engine.h"
#include "store.h"

/* A string, or null for NULL. */
void wire_opt_str(struct buf *b, const char *s);
/* A number, or null when !has. */
void wire_opt_num(struct buf *b, bool has, double v);
/* Epoch ms, or null for the unbounded ends of a total period
 * (INT64_MIN, INT64_MAX). */
void wire_time(struct buf *b, int64_t t);

/* {"id","name","timezone"} of the catalog's regency (CONTRACT §2). */
void wire_regency(struct buf *b, const struct catalog *c);
/* One KPI object as in /api/v1/programs (also the payload of kpi frames). */
void wire_kpi(struct buf *b, const struct catalog_kpi *k, const struct kpi_eval *ev);
/* The same with the report's value_at_from / value_at_to of KPI `index`. */
void wire_report_kpi(struct buf *b, const struct catalog_kpi *k, const struct kpi_eval *ev,
                     const struct kpi_report *report, int index);
/* One ALERT object (CONTRACT §6): of /api/v1/alerts, alert frames and
 * webhook notifications. */
void wire_alert(struct buf *b, const struct alert_record *a);
/* One unit as in /api/v1/units (also the payload of live "unit" frames);
 * its status as of now_ms with the program's stale_ms. */
void wire_unit(struct buf *b, const struct store_unit_view *u, int64_t now_ms, int64_t stale_ms);

/* Every KPI of a catalog evaluated at one time, and each program's
 * summary: what /programs, /dimensions, /report and the federation's STATE
 * are written from. */
struct wire_snapshot {
    const struct catalog *c;
    struct kpi_eval *evals;       /* per KPI */
    struct kpi_summary *programs; /* per program */
};
/* Evaluates every KPI of c at t: from the engine's cached values (e; loop
 * thread), or, with report, from its values as of report->to (e may be
 * NULL). Returns 0, or -1 out of memory; wire_snapshot_free either way. */
int wire_snapshot_take(struct wire_snapshot *s, const struct catalog *c, struct kpi_engine *e,
                       int64_t t, const struct kpi_report *report);
void wire_snapshot_free(struct wire_snapshot *s);
/* PROGRAM p (CONTRACT §2), its KPIs with the report's values when given. */
void wire_program(struct buf *b, const struct wire_snapshot *s, int p,
                  const struct kpi_report *report);
/* [PROGRAM...] of every program, in catalog order. */
void wire_programs(struct buf *b, const struct wire_snapshot *s, const struct kpi_report *report);
/* The six dimensions as in /api/v1/dimensions' array. */
void wire_dimensions(struct buf *b, const struct wire_snapshot *s);
/* {"id","name","code","province","timezone"}: the regency of a STATE (§7). */
void wire_regency_full(struct buf *b, const struct catalog *c);

#endif
