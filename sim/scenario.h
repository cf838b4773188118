/* scenario.h — what pantau-sim simulates for one regency: its places, the
 * field units of each program and the metrics they publish, survey figures
 * entered once, and a few scheduled incidents (a van that falls silent, a
 * truck whose connection drops, a market price that spikes).
 *
 * Pure data (scenario.c), one table per regency, matching the catalog of the
 * same id in config/catalog/; sim.c interprets it. Metric names and label
 * keys here must be the ones the catalog's KPIs and rules name. */
#ifndef PANTAU_SCENARIO_H
#define PANTAU_SCENARIO_H

#include <stdbool.h>

#define SCENARIO_MAX_METRICS     3
#define SCENARIO_MAX_PROGRAMS    32
#define SCENARIO_MAX_COMMODITIES 16

enum sim_gen {
    GEN_COUNTER,   /* cycles through its metrics; values uniform in [lo, hi] */
    GEN_VAN,       /* tours numbered sites; metrics[0] per document type while serving,
                    * distance_km while driving */
    GEN_MARKET,    /* price and stock {commodity}, around the reference prices */
    GEN_REFERENCE, /* reference_price {commodity}: every commodity, again each hour */
    GEN_SURVEY,    /* its points once, at their dates; nothing after */
};

struct sim_place {
    const char *slug;
    double lat, lon;
};

struct sim_commodity {
    const char *slug;
    double price;    /* the reference price, rupiah per kg (or litre) */
    double stock_kg; /* a market's usual stock */
    double round_to; /* traders quote in steps of this */
};

struct sim_metric {
    const char *metric;
    double lo, hi; /* a live sample's value, uniform */
    int decimals;
    const char *label;         /* a label key, or NULL */
    const char *const *values; /* its values, NULL-terminated; NULL: the unit's place */
    bool bare;                 /* live samples go as bare numbers (and carry no labels) */
};

/* A survey figure: a local date (taken at noon) and its value. */
struct sim_point {
    const char *date; /* YYYY-MM-DD */
    double value;
};

struct sim_program {
    const char *slug;
    enum sim_gen gen;
    const char *unit_prefix; /* a unit is this plus its number (01, 02…) */
    bool unit_by_place;      /* …or plus its place's slug */
    int units;               /* 0: as --units says */
    bool positioned;         /* samples carry the unit's position */
    struct sim_metric metrics[SCENARIO_MAX_METRICS];
    const char *site_label;         /* GEN_VAN: the label naming the site served */
    int sites;                      /* GEN_VAN: how many (beyond the places: "<place>-2"…) */
    int history;                    /* samples each unit kept since 1 January, sent at start */
    const struct sim_point *points; /* GEN_SURVEY, ended by {NULL, 0} */
};

enum sim_event_kind {
    EV_SILENT, /* the unit sends nothing at all (a van broken down) */
    EV_DROP,   /* its connection drops: the broker publishes its `offline` will;
                * it keeps its samples and sends them on return */
    EV_SPIKE,  /* a market's price of one commodity jumps to factor x reference */
};

struct sim_event {
    enum sim_event_kind kind;
    const char *program;
    int unit;           /* 0-based within the program */
    double at_s, for_s; /* from the start of the run */
    const char *commodity;
    double factor;
};

struct scenario {
    const char *id, *name;
    int utc_offset_min; /* WIB 420, WITA 480 */
    const struct sim_place *places;
    int nplaces;
    const struct sim_commodity *commodities;
    int ncommodities;
    const struct sim_program *programs;
    int nprograms;
    const struct sim_event *events;
    int nevents;
};

/* The scenario with this id, or NULL. */
const struct scenario *scenario_find(const char *id);

/* The i-th scenario (0-based), or NULL past the last: for --help. */
const struct scenario *scenario_at(int i);

#endif
