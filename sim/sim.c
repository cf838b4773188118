/* sim.c — pantau-sim, the field units of one regency's Smart City programs
 * publishing samples over MQTT as CONTRACT §1 describes. What each regency's
 * units are and publish is data (scenario.c, --scenario; default
 * lampung-tengah); this file interprets it with a few generators:
 *
 *   van        a mobile service touring numbered sites (PADUKA LAMTENG's
 *              vans in 311 kampung): documents by type {doc, kampung}
 *   market     staple prices and stock per market {commodity}, following a
 *              daily cycle around reference prices an office publishes
 *   counter    a unit reporting its program's figures (toddlers fed, kg
 *              sorted, tax potential…), as objects or bare numbers
 *   survey     figures measured once a year (stunting prevalence, the SPBE
 *              index), sent once at start with their historical dates
 *
 * Each unit is one MQTT connection with a retained `offline` will on its
 * $status topic and a retained `online` on connect. One thread takes the
 * samples in turn (one sample per tick, ticks paced against an absolute
 * schedule) and hands them to the unit's publisher. Units that go offline
 * (--offline-fraction) keep their samples with the time they were taken and
 * send them as JSON arrays when they return, as a van in a kampung without
 * signal would. At start, units also send what they kept since 1 January
 * (the program's `history`), so a year's KPIs have a year's data. The
 * scenario's incidents (a silent van, a dropped truck, a price spike) run on
 * a schedule from the start. Values come from per-unit generators seeded by
 * --seed, so a run's values do not depend on timing.
 *
 * --ts-mode seq is for counting runs: samples get base + i ms per unit,
 * and there is no history and there are no incidents. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "publisher.h"
#include "scenario.h"
#include "util.h"

#define MAX_UNITS_PER_PROGRAM 1000
#define ARRAY_MAX_ELEMENTS    1000   /* CONTRACT §1 */
#define ARRAY_MAX_BYTES       60000  /* under the 64 KiB payload limit */
#define OFFLINE_BUDGET        200000 /* buffered samples over all units */
#define OFFLINE_CAP_MIN       1000
#define OFFLINE_CAP_MAX       20000
#define FINAL_FLUSH_MS        30000
#define SEND_ATTEMPTS         10 /* each blocks up to 60 s in publisher_send */
#define CONNECT_THREADS       64
#define STATUS_REFRESH_S      60
#define REFERENCE_EVERY_S     3600 /* the office republishes its reference prices */
#define IDLE_SLEEP_MS         200  /* when no unit has a sample due */
#define FD_SCAN_MAX           4096 /* to find a dropping unit's socket */
#define SEQ_BASE_UNBOUNDED_MS (24LL * 3600 * 1000)
#define DAY_MS                (24LL * 3600 * 1000)

/* ---- random numbers: splitmix64, one stream per unit ---- */

struct rng {
    uint64_t s;
};

static uint64_t rng_next(struct rng *r)
{
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static double rng_unit(struct rng *r) /* [0, 1) */
{
    return (double)(rng_next(r) >> 11) * (1.0 / 9007199254740992.0);
}

static double rng_range(struct rng *r, double lo, double hi)
{
    return lo + (hi - lo) * rng_unit(r);
}

static int rng_int(struct rng *r, int n) /* [0, n) */
{
    return (int)(rng_unit(r) * n);
}

static double rng_gauss(struct rng *r)
{
    double u1 = rng_unit(r), u2 = rng_unit(r);
    return sqrt(-2.0 * log(1.0 - u1)) * cos(2.0 * M_PI * u2);
}

/* ---- options ---- */

struct options {
    const char *uri;
    const char *username; /* NULL: anonymous */
    const char *password; /* --password, else $PANTAU_SIM_PASSWORD */
    const char *ca_file;
    const char *prefix;
    const struct scenario *scenario;
    const char *programs_arg; /* NULL: all of the scenario's */
    bool programs[SCENARIO_MAX_PROGRAMS];
    int units;
    double rate;
    int64_t count;
    double duration;
    int qos;
    uint64_t seed;
    bool seeded;
    double offline_fraction;
    double offline_secs;
    double incident_speed; /* scheduled incidents come this many times sooner and shorter */
    bool ts_seq;
};

static void usage(FILE *f)
{
    fprintf(f,
            "usage: pantau-sim [options]\n"
            "Simulated field units of a regency's Smart City programs publishing samples to\n"
            "pantaud over MQTT.\n\n"
            "  --mqtt URI               broker (default tcp://127.0.0.1:1883; ssl://HOST:8883\n"
            "                           for TLS, the host as named in its certificate)\n"
            "  --ca-file FILE           the CA of an ssl:// broker (default: the system's CAs)\n"
            "  --username U             every unit signs in as U (a broker with a password file)\n"
            "  --password P             U's password; better in the environment as\n"
            "                           PANTAU_SIM_PASSWORD, where ps does not show it\n"
            "  --prefix P               topic prefix (default pantau)\n"
            "  --scenario ID            the regency (default lampung-tengah); one of:\n");
    for (int i = 0; scenario_at(i); i++) {
        const struct scenario *sc = scenario_at(i);
        fprintf(f, "                             %-15s", sc->id);
        const char *last = "";
        for (int p = 0; p < sc->nprograms; p++) {
            if (strcmp(sc->programs[p].slug, last) != 0)
                fprintf(f, "%s%s", p ? "," : " ", sc->programs[p].slug);
            last = sc->programs[p].slug;
        }
        fprintf(f, "\n");
    }
    fprintf(f,
            "  --programs LIST          comma-separated, of the scenario's programs (default all)\n"
            "  --units N                units per program, 1..%d (default 3; some programs\n"
            "                           have a fixed number, as one office)\n"
            "  --rate R                 samples per second over all units; 0 = as fast as\n"
            "                           possible (default 10)\n"
            "  --count N                stop after N samples (0 = run until SIGINT/SIGTERM)\n"
            "  --duration S             stop after S seconds (0 = no limit)\n"
            "  --qos 0|1                MQTT QoS (default 1)\n"
            "  --seed N                 seed for values and offline spells (default: clock)\n"
            "  --offline-fraction F     0..1: this fraction of units drop offline at random\n"
            "                           times, buffer their samples and send them as JSON\n"
            "                           arrays on return (default 0)\n"
            "  --offline-secs S         length of one offline spell (default 30)\n"
            "  --incident-speed N       the scenario's incidents (a price spike, a silent van,\n"
            "                           a dropped connection) start N times sooner and last\n"
            "                           N times shorter (default 1; for tests and quick looks)\n"
            "  --ts-mode now|seq        now: samples carry the time they are taken; seq:\n"
            "                           base + i ms per unit, unique per series, so runs can\n"
            "                           be counted exactly (pickups then go as objects; no\n"
            "                           history sent at start, no scheduled incidents)\n"
            "  --help                   this text\n\n"
            "One sample is one message unless its unit is offline. On exit it prints\n"
            "  pantau-sim: sent N messages (M samples) in T s: R msg/s, acked A, resent X\n"
            "where messages include the units' $status messages.\n",
            MAX_UNITS_PER_PROGRAM);
}

static int bad_arg(const char *opt, const char *val, const char *want)
{
    fprintf(stderr, "pantau-sim: bad value for --%s: '%s' (%s)\n", opt, val, want);
    return -1;
}

/* Marks every scenario program named `slug` (a market and its reference
 * office are two entries of one program). Returns how many. */
static int select_program(struct options *o, const char *slug)
{
    int n = 0;
    for (int i = 0; i < o->scenario->nprograms; i++)
        if (strcmp(o->scenario->programs[i].slug, slug) == 0) {
            o->programs[i] = true;
            n++;
        }
    return n;
}

/* Runs after every option is read, since --scenario may follow --programs. */
static int resolve_programs(struct options *o)
{
    memset(o->programs, 0, sizeof o->programs);
    if (!o->programs_arg) {
        for (int i = 0; i < o->scenario->nprograms; i++)
            o->programs[i] = true;
        return 0;
    }
    char buf[512];
    if (strlen(o->programs_arg) >= sizeof buf)
        return bad_arg("programs", o->programs_arg, "too long");
    strcpy(buf, o->programs_arg);
    int n = 0;
    char *save = NULL;
    for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        if (select_program(o, t) == 0)
            return bad_arg("programs", t, "a program of the scenario; see --help");
        n++;
    }
    return n > 0 ? 0 : bad_arg("programs", o->programs_arg, "at least one program");
}
/* A prefix is one or more topic levels, without wildcards or empty levels. */
static bool valid_prefix(const char *p)
{
    size_t n = strlen(p);
    if (n == 0 || n > 128 || p[0] == '/' || p[n - 1] == '/' || strstr(p, "//"))
        return false;
    return strpbrk(p, "+#") == NULL;
}

static int parse_number_opt(const char *name, const char *val, struct options *o)
{
    int64_t i;
    double d;
    if (strcmp(name, "units") == 0) {
        if (util_parse_int(val, 1, MAX_UNITS_PER_PROGRAM, &i) != 0)
            return bad_arg(name, val, "an integer 1..1000");
        o->units = (int)i;
    } else if (strcmp(name, "count") == 0) {
        if (util_parse_int(val, 0, INT64_MAX, &i) != 0)
            return bad_arg(name, val, "an integer >= 0");
        o->count = i;
    } else if (strcmp(name, "qos") == 0) {
        if (util_parse_int(val, 0, 1, &i) != 0)
            return bad_arg(name, val, "0 or 1");
        o->qos = (int)i;
    } else if (strcmp(name, "seed") == 0) {
        if (util_parse_int(val, 0, INT64_MAX, &i) != 0)
            return bad_arg(name, val, "an integer >= 0");
        o->seed = (uint64_t)i;
        o->seeded = true;
    } else if (strcmp(name, "rate") == 0) {
        if (util_parse_double(val, &d) != 0 || d < 0 || d > 1e7)
            return bad_arg(name, val, "a number 0..10000000");
        o->rate = d;
    } else if (strcmp(name, "duration") == 0) {
        if (util_parse_double(val, &d) != 0 || d < 0 || d > 1e9)
            return bad_arg(name, val, "seconds >= 0");
        o->duration = d;
    } else if (strcmp(name, "offline-fraction") == 0) {
        if (util_parse_double(val, &d) != 0 || d < 0 || d > 1)
            return bad_arg(name, val, "a number 0..1");
        o->offline_fraction = d;
    } else if (strcmp(name, "offline-secs") == 0) {
        if (util_parse_double(val, &d) != 0 || d <= 0 || d > 1e6)
            return bad_arg(name, val, "seconds > 0");
        o->offline_secs = d;
    } else if (strcmp(name, "incident-speed") == 0) {
        if (util_parse_double(val, &d) != 0 || d < 1 || d > 1e6)
            return bad_arg(name, val, "a factor >= 1");
        o->incident_speed = d;
    }
    return 0;
}

static int parse_string_opt(const char *name, const char *val, struct options *o)
{
    if (strcmp(name, "mqtt") == 0) {
        if (!val[0])
            return bad_arg(name, val, "a broker URI");
        o->uri = val;
    } else if (strcmp(name, "username") == 0) {
        o->username = val;
    } else if (strcmp(name, "password") == 0) {
        o->password = val;
    } else if (strcmp(name, "ca-file") == 0) {
        o->ca_file = val;
    } else if (strcmp(name, "prefix") == 0) {
        if (!valid_prefix(val))
            return bad_arg(name, val, "topic levels without + # or empty levels");
        o->prefix = val;
    } else if (strcmp(name, "programs") == 0) {
        o->programs_arg = val;
    } else if (strcmp(name, "scenario") == 0) {
        o->scenario = scenario_find(val);
        if (!o->scenario)
            return bad_arg(name, val, "a regency; see --help");
    } else if (strcmp(name, "ts-mode") == 0) {
        if (strcmp(val, "now") != 0 && strcmp(val, "seq") != 0)
            return bad_arg(name, val, "now or seq");
        o->ts_seq = strcmp(val, "seq") == 0;
    } else {
        return parse_number_opt(name, val, o);
    }
    return 0;
}

/* Returns 0 to run, 1 after --help, -1 on a bad argument. */
static int parse_options(int argc, char **argv, struct options *o)
{
    static const struct option longopts[] = {{"mqtt", required_argument, NULL, 0},
                                             {"username", required_argument, NULL, 0},
                                             {"password", required_argument, NULL, 0},
                                             {"ca-file", required_argument, NULL, 0},
                                             {"prefix", required_argument, NULL, 0},
                                             {"scenario", required_argument, NULL, 0},
                                             {"programs", required_argument, NULL, 0},
                                             {"units", required_argument, NULL, 0},
                                             {"rate", required_argument, NULL, 0},
                                             {"count", required_argument, NULL, 0},
                                             {"duration", required_argument, NULL, 0},
                                             {"qos", required_argument, NULL, 0},
                                             {"seed", required_argument, NULL, 0},
                                             {"offline-fraction", required_argument, NULL, 0},
                                             {"offline-secs", required_argument, NULL, 0},
                                             {"ts-mode", required_argument, NULL, 0},
                                             {"incident-speed", required_argument, NULL, 0},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    *o = (struct options){.uri = "tcp://127.0.0.1:1883",
                          .prefix = "pantau",
                          .scenario = scenario_find("lampung-tengah"),
                          .units = 3,
                          .rate = 10,
                          .qos = 1,
                          .offline_secs = 30,
                          .incident_speed = 1};
    int idx, c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", longopts, &idx)) != -1) {
        if (c == 'h') {
            usage(stdout);
            return 1;
        }
        if (c != 0) {
            fprintf(stderr, "pantau-sim: unknown option or missing value: %s\n", argv[optind - 1]);
            return -1;
        }
        if (parse_string_opt(longopts[idx].name, optarg, o) != 0)
            return -1;
    }
    if (optind < argc) {
        fprintf(stderr, "pantau-sim: unexpected argument '%s'\n", argv[optind]);
        return -1;
    }
    if (!o->password && o->username)
        o->password = getenv("PANTAU_SIM_PASSWORD");
    if (o->password && !o->username) {
        fprintf(stderr, "pantau-sim: a password without --username\n");
        return -1;
    }
    return resolve_programs(o);
}

/* ---- samples ---- */

struct sample {
    const char *metric;
    double value;
    int decimals;
    char labels[160]; /* JSON object, or "" */
    bool has_pos;
    double lat, lon;
    bool bare; /* sent live as a bare number (no labels, no ts) */
    int64_t ts;
};

/* The sample as a JSON object; `metric` is included when it differs from the
 * topic's. Returns the length, or -1 if it does not fit. */
static int format_object(const struct sample *s, const char *topic_metric, char *buf, size_t len)
{
    int n = snprintf(buf, len, "{\"value\":%.*f", s->decimals, s->value);
    if (s->labels[0] && n >= 0 && (size_t)n < len)
        n += snprintf(buf + n, len - (size_t)n, ",\"labels\":%s", s->labels);
    if (s->has_pos && n >= 0 && (size_t)n < len)
        n += snprintf(buf + n, len - (size_t)n, ",\"lat\":%.6f,\"lon\":%.6f", s->lat, s->lon);
    if (strcmp(s->metric, topic_metric) != 0 && n >= 0 && (size_t)n < len)
        n += snprintf(buf + n, len - (size_t)n, ",\"metric\":\"%s\"", s->metric);
    if (n >= 0 && (size_t)n < len)
        n += snprintf(buf + n, len - (size_t)n, ",\"ts\":%lld}", (long long)s->ts);
    return n >= 0 && (size_t)n < len ? n : -1;
}

/* ---- units ---- */

struct van {
    int site;
    double lat, lon;
    int stay_left;   /* ticks still to spend at this site */
    int travel_left; /* ticks of the drive still ahead */
};

struct market {
    double anchor[SCENARIO_MAX_COMMODITIES]; /* this market against the reference */
    double noise[SCENARIO_MAX_COMMODITIES];  /* a bounded, mean-reverting walk */
    double stock[SCENARIO_MAX_COMMODITIES];
};

struct unit {
    const struct sim_program *spec;
    int index;  /* within its program: 0, 1, … */
    int nunits; /* of its program */
    const struct sim_place *place;
    char name[SLUG_MAX + 1];
    char topic[256]; /* prefix/program/unit/ — the metric is appended */
    size_t topic_len;
    struct publisher *pub;
    struct rng rng;       /* values */
    struct rng sched_rng; /* offline spells, kept apart so values do not depend on timing */
    uint64_t tick;        /* samples taken */
    bool in_history;      /* taking the samples kept since 1 January */
    struct van van;
    struct market market;
    int next_point;         /* GEN_SURVEY */
    uint64_t next_round_ns; /* GEN_REFERENCE: when to publish the prices again */
    const struct sim_event *events[4];
    int nevents;
    int sock_fd;      /* its connection's socket, for EV_DROP; -1 unknown */
    bool dropped_now; /* in an EV_DROP spell */

    bool flaky, offline;
    uint64_t next_change_ns; /* when a flaky unit drops or returns */
    uint64_t status_due_ns;  /* when to repeat `online` */
    struct sample *buf;      /* ring of samples taken while offline */
    size_t cap, head, len;
    uint64_t dropped;
};

struct sim {
    struct options opt;
    const struct scenario *sc;
    struct unit *units;
    int nunits;
    int next_unit; /* round robin */
    uint64_t start_ns;
    int64_t seq_base_ms, year_start_ms, start_ms;
    uint64_t messages, samples;
    char *payload; /* ARRAY_MAX_BYTES + slack, reused for every flushed array */
};

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
    stop_requested = 1;
}

static const char *set_topic(struct unit *u, const char *suffix)
{
    snprintf(u->topic + u->topic_len, sizeof u->topic - u->topic_len, "%s", suffix);
    return u->topic;
}

/* Sends one message, retrying while the broker is away (each attempt blocks
 * up to 60 s); gives up after SEND_ATTEMPTS or when asked to stop. */
static int unit_send(struct sim *sim, struct unit *u, const char *suffix, const char *payload,
                     size_t len, bool retained)
{
    const char *topic = set_topic(u, suffix);
    for (int attempt = 0; attempt < SEND_ATTEMPTS; attempt++) {
        if (publisher_send(u->pub, topic, payload, len, sim->opt.qos, retained) == 0) {
            sim->messages++;
            return 0;
        }
        if (stop_requested)
            break;
        log_warn("%s: cannot send to %s yet; retrying", u->name, topic);
    }
    log_error("%s: giving up sending to %s", u->name, topic);
    return -1;
}

static int send_status(struct sim *sim, struct unit *u, const char *status)
{
    return unit_send(sim, u, "$status", status, strlen(status), true);
}

/* ---- time ---- */

static int64_t tz_ms(const struct sim *sim)
{
    return (int64_t)sim->sc->utc_offset_min * 60000;
}

/* Local noon of a YYYY-MM-DD date (a survey's figure), as epoch ms. */
static int64_t local_noon_ms(const struct sim *sim, const char *date)
{
    unsigned y = 0, m = 0, d = 0;
    if (sscanf(date, "%4u-%2u-%2u", &y, &m, &d) != 3)
        return 0;
    return util_days_from_civil(y, m, d) * DAY_MS + DAY_MS / 2 - tz_ms(sim);
}

/* 1 January of the current local year, 00:00 local. */
static int64_t local_year_start_ms(const struct sim *sim, int64_t now_ms)
{
    time_t t = (time_t)((now_ms + tz_ms(sim)) / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    return util_days_from_civil(tm.tm_year + 1900, 1, 1) * DAY_MS - tz_ms(sim);
}

/* Hours since local midnight, for daily cycles. */
static double local_hour(const struct sim *sim, int64_t ts)
{
    int64_t in_day = ((ts + tz_ms(sim)) % DAY_MS + DAY_MS) % DAY_MS;
    return (double)in_day / 3600000.0;
}

/* ---- generators ---- */

static const char *pick(struct unit *u, const char *const *values)
{
    int n = 0;
    while (values[n])
        n++;
    return values[rng_int(&u->rng, n)];
}

/* The label's value: one of its values, or the unit's place. */
static const char *label_value(struct unit *u, const struct sim_metric *m)
{
    return m->values ? pick(u, m->values) : u->place->slug;
}

static void site_name(const struct sim *sim, int k, char *out, size_t len)
{
    const struct scenario *sc = sim->sc;
    if (k < sc->nplaces)
        snprintf(out, len, "%s", sc->places[k].slug);
    else
        snprintf(out, len, "%s-%d", sc->places[k % sc->nplaces].slug, k / sc->nplaces + 1);
}

/* Vans split the sites between them and tour them in order, so a year of
 * visits covers as many distinct sites as it has visits. A visit in the
 * history is short (a day's work in a few samples); a live one lasts. */
static void van_next_site(const struct sim *sim, struct unit *u)
{
    struct van *v = &u->van;
    v->site = (v->site + 1) % u->spec->sites;
    v->stay_left = u->in_history ? 2 + rng_int(&u->rng, 4) : 10 + rng_int(&u->rng, 30);
    v->travel_left = u->in_history ? 1 : 3 + rng_int(&u->rng, 4);
}

static void van_site_pos(const struct sim *sim, int k, double *lat, double *lon)
{
    const struct sim_place *p = &sim->sc->places[k % sim->sc->nplaces];
    double ring = k / sim->sc->nplaces; /* the kecamatan's other kampung, around it */
    *lat = p->lat + 0.012 * ring * sin(k);
    *lon = p->lon + 0.012 * ring * cos(k);
}

/* The van drives to its next site (its position moving along the way), then
 * serves there; documents are issued while it serves. */
static void van_sample(const struct sim *sim, struct unit *u, struct sample *s)
{
    struct van *v = &u->van;
    if (v->stay_left <= 0)
        van_next_site(sim, u);
    double lat, lon;
    van_site_pos(sim, v->site, &lat, &lon);
    s->has_pos = true;
    if (v->travel_left > 0) {
        double f = 1.0 / v->travel_left--;
        double dlat = (lat - v->lat) * f, dlon = (lon - v->lon) * f;
        v->lat += dlat;
        v->lon += dlon;
        s->metric = "distance_km";
        s->value = round(hypot(dlat, dlon) * 111.0 * 10) / 10;
        s->decimals = 1;
    } else {
        const struct sim_metric *m = &u->spec->metrics[0];
        char site[SLUG_MAX + 1];
        site_name(sim, v->site, site, sizeof site);
        v->lat = lat + rng_range(&u->rng, -0.002, 0.002);
        v->lon = lon + rng_range(&u->rng, -0.002, 0.002);
        v->stay_left--;
        s->metric = m->metric;
        s->value = rng_unit(&u->rng) < 0.2 ? 0 : round(rng_range(&u->rng, m->lo, m->hi));
        snprintf(s->labels, sizeof s->labels, "{\"%s\":\"%s\",\"%s\":\"%s\"}", m->label,
                 pick(u, m->values), u->spec->site_label, site);
    }
    s->lat = v->lat;
    s->lon = v->lon;
}

static uint64_t secs_ns(double s)
{
    return (uint64_t)(s * 1e9);
}

/* A scheduled incident is under way (sooner and shorter by --incident-speed). */
static bool event_active(const struct sim *sim, const struct sim_event *e, uint64_t now)
{
    double speed = sim->opt.incident_speed;
    uint64_t from = sim->start_ns + secs_ns(e->at_s / speed);
    return now >= from && now < from + secs_ns(e->for_s / speed);
}

static bool spiking(const struct sim *sim, const struct unit *u, int c, uint64_t now)
{
    for (int i = 0; i < u->nevents; i++) {
        const struct sim_event *e = u->events[i];
        if (e->kind == EV_SPIKE && strcmp(e->commodity, sim->sc->commodities[c].slug) == 0 &&
            event_active(sim, e, now))
            return true;
    }
    return false;
}

/* Reference x this market's level x a daily cycle (dear in the morning
 * rush, cheaper by afternoon) x a bounded walk: at most about 9 % above the
 * reference, so only a spike crosses the 10 % rule. */
static double next_price(const struct sim *sim, struct unit *u, int c, int64_t ts)
{
    const struct sim_commodity *k = &sim->sc->commodities[c];
    struct market *m = &u->market;
    m->noise[c] += 0.004 * rng_gauss(&u->rng) - 0.1 * m->noise[c];
    m->noise[c] = fmax(-0.03, fmin(0.03, m->noise[c]));
    double cycle = 0.02 * sin(2 * M_PI * (local_hour(sim, ts) - 3) / 24);
    double p = k->price * m->anchor[c] * (1 + cycle) * (1 + m->noise[c]);
    if (!sim->opt.ts_seq && spiking(sim, u, c, util_mono_ns()))
        p = k->price * rng_range(&u->rng, 1.16, 1.2);
    return round(p / k->round_to) * k->round_to;
}

/* Stock sells down and is restocked by a delivery when it runs low. */
static double next_stock(const struct sim *sim, struct unit *u, int c)
{
    struct market *m = &u->market;
    double base = sim->sc->commodities[c].stock_kg;
    m->stock[c] -= base * rng_range(&u->rng, 0.005, 0.03);
    if (m->stock[c] < base * 0.3)
        m->stock[c] += base * rng_range(&u->rng, 0.6, 0.9);
    if (m->stock[c] < 0)
        m->stock[c] = 0;
    return round(m->stock[c]);
}

static void market_sample(const struct sim *sim, struct unit *u, struct sample *s)
{
    int c = (int)(u->tick / 2 % (uint64_t)sim->sc->ncommodities);
    bool price = u->tick % 2 == 0;
    s->metric = price ? "price" : "stock";
    s->value = price ? next_price(sim, u, c, s->ts) : next_stock(sim, u, c);
    snprintf(s->labels, sizeof s->labels, "{\"commodity\":\"%s\"}", sim->sc->commodities[c].slug);
}

/* Every commodity's reference price in turn, then nothing for an hour. */
static bool reference_sample(const struct sim *sim, struct unit *u, struct sample *s)
{
    int c = u->next_point;
    if (c == 0 && util_mono_ns() < u->next_round_ns)
        return false;
    const struct sim_commodity *k = &sim->sc->commodities[c];
    s->metric = "reference_price";
    s->value = k->price;
    snprintf(s->labels, sizeof s->labels, "{\"commodity\":\"%s\"}", k->slug);
    u->next_point = (c + 1) % sim->sc->ncommodities;
    if (u->next_point == 0)
        u->next_round_ns = util_mono_ns() + (uint64_t)REFERENCE_EVERY_S * 1000000000u;
    return true;
}

/* The survey's figures once each, at their dates. */
static bool survey_sample(const struct sim *sim, struct unit *u, struct sample *s)
{
    const struct sim_point *p = &u->spec->points[u->next_point];
    if (!p->date)
        return false;
    u->next_point++;
    s->metric = u->spec->metrics[0].metric;
    s->value = p->value;
    s->decimals = u->spec->metrics[0].decimals;
    s->ts = local_noon_ms(sim, p->date);
    return true;
}

static void counter_sample(const struct sim *sim, struct unit *u, struct sample *s)
{
    int n = 0;
    while (n < SCENARIO_MAX_METRICS && u->spec->metrics[n].metric)
        n++;
    const struct sim_metric *m = &u->spec->metrics[u->tick % (uint64_t)n];
    double scale = pow(10, m->decimals);
    s->metric = m->metric;
    s->value = round(rng_range(&u->rng, m->lo, m->hi) * scale) / scale;
    s->decimals = m->decimals;
    s->bare = m->bare;
    if (m->label && !m->bare)
        snprintf(s->labels, sizeof s->labels, "{\"%s\":\"%s\"}", m->label, label_value(u, m));
    if (u->spec->positioned && !m->bare) {
        s->has_pos = true;
        s->lat = u->place->lat + rng_range(&u->rng, -0.01, 0.01);
        s->lon = u->place->lon + rng_range(&u->rng, -0.01, 0.01);
    }
}

/* Takes the unit's next sample at ts (a survey keeps its own dates).
 * Returns false when the unit has nothing to send now. */
static bool take_sample(struct sim *sim, struct unit *u, int64_t ts, struct sample *s)
{
    memset(s, 0, sizeof *s);
    s->ts = ts;
    bool taken = true;
    switch (u->spec->gen) {
    case GEN_VAN:
        van_sample(sim, u, s);
        break;
    case GEN_MARKET:
        market_sample(sim, u, s);
        break;
    case GEN_REFERENCE:
        taken = reference_sample(sim, u, s);
        break;
    case GEN_SURVEY:
        taken = survey_sample(sim, u, s);
        break;
    default:
        counter_sample(sim, u, s);
        break;
    }
    if (!taken)
        return false;
    if (sim->opt.ts_seq)
        s->ts = sim->seq_base_ms + (int64_t)u->tick;
    u->tick++;
    sim->samples++;
    return true;
}

/* ---- publishing samples ---- */

static int send_sample(struct sim *sim, struct unit *u, const struct sample *s)
{
    char buf[512];
    int n;
    /* A bare number carries no ts; in seq mode the ts must be explicit. */
    if (s->bare && !sim->opt.ts_seq)
        n = snprintf(buf, sizeof buf, "%.*f", s->decimals, s->value);
    else
        n = format_object(s, s->metric, buf, sizeof buf);
    if (n < 0 || (size_t)n >= sizeof buf) {
        log_error("%s: sample too long", u->name);
        return -1;
    }
    return unit_send(sim, u, s->metric, buf, (size_t)n, false);
}

static void buffer_sample(struct unit *u, const struct sample *s)
{
    if (u->len == u->cap) { /* full: the oldest sample is lost, as on a real unit */
        u->head = (u->head + 1) % u->cap;
        u->len--;
        if (u->dropped++ == 0)
            log_warn("%s: offline buffer full (%zu samples); dropping the oldest", u->name, u->cap);
    }
    u->buf[(u->head + u->len) % u->cap] = *s;
    u->len++;
}

/* Sends the buffered samples as JSON arrays of at most ARRAY_MAX_ELEMENTS
 * and ARRAY_MAX_BYTES each, on the topic of each array's first sample. */
static int flush_buffer(struct sim *sim, struct unit *u)
{
    char elem[512];
    while (u->len > 0) {
        const char *topic_metric = u->buf[u->head].metric;
        size_t used = 0, k = 0;
        sim->payload[used++] = '[';
        for (; k < u->len && k < ARRAY_MAX_ELEMENTS; k++) {
            const struct sample *s = &u->buf[(u->head + k) % u->cap];
            int n = format_object(s, topic_metric, elem, sizeof elem);
            if (n < 0 || used + (size_t)n + 2 > ARRAY_MAX_BYTES)
                break;
            if (k > 0)
                sim->payload[used++] = ',';
            memcpy(sim->payload + used, elem, (size_t)n);
            used += (size_t)n;
        }
        sim->payload[used++] = ']';
        if (k == 0 || unit_send(sim, u, topic_metric, sim->payload, used, false) != 0)
            return -1;
        u->head = (u->head + k) % u->cap;
        u->len -= k;
    }
    return 0;
}

/* ---- presence ---- */

static int go_offline(struct sim *sim, struct unit *u, uint64_t now)
{
    /* A unit that loses its signal cannot say so; the broker's will would.
     * The connection stays up here, so the retained status stands in for it. */
    if (send_status(sim, u, "offline") != 0)
        return -1;
    u->offline = true;
    u->next_change_ns = now + secs_ns(sim->opt.offline_secs);
    log_debug("%s: offline for %.0f s", u->name, sim->opt.offline_secs);
    return 0;
}

static int come_online(struct sim *sim, struct unit *u, uint64_t now)
{
    u->offline = false;
    u->status_due_ns = now + secs_ns(STATUS_REFRESH_S);
    double online = rng_range(&u->sched_rng, 1, 3) * sim->opt.offline_secs;
    u->next_change_ns = now + secs_ns(online);
    log_debug("%s: back online with %zu samples to send", u->name, u->len);
    if (send_status(sim, u, "online") != 0)
        return -1;
    return flush_buffer(sim, u);
}

/* An online unit repeats its retained `online` now and then: if its
 * connection dropped, the broker published its `offline` will, and the
 * publisher reconnects without telling us. */
static int refresh_status(struct sim *sim, struct unit *u, uint64_t now)
{
    if (u->offline || now < u->status_due_ns)
        return 0;
    u->status_due_ns = now + secs_ns(STATUS_REFRESH_S);
    return send_status(sim, u, "online");
}

/* ---- scheduled incidents ---- */

static bool silenced(const struct sim *sim, const struct unit *u, uint64_t now)
{
    for (int i = 0; i < u->nevents; i++)
        if (u->events[i]->kind == EV_SILENT && event_active(sim, u->events[i], now))
            return true;
    return false;
}

/* Cuts the unit's TCP connection under Paho's feet, as a truck leaving
 * coverage would: no DISCONNECT reaches the broker, so it publishes the
 * unit's retained `offline` will. The publisher reconnects by itself; the
 * unit keeps its samples until the spell ends. */
static int drop_connection(struct unit *u)
{
    if (u->sock_fd < 0 || shutdown(u->sock_fd, SHUT_RDWR) != 0) {
        log_warn("%s: cannot drop its connection; going offline politely", u->name);
        return -1;
    }
    u->offline = true;
    log_info("%s: connection dropped (its will marks it offline)", u->name);
    return 0;
}

static int update_drop(struct sim *sim, struct unit *u, uint64_t now)
{
    bool want = false;
    for (int i = 0; i < u->nevents; i++)
        want |= u->events[i]->kind == EV_DROP && event_active(sim, u->events[i], now);
    if (want == u->dropped_now)
        return 0;
    u->dropped_now = want;
    if (want)
        return drop_connection(u) == 0 ? 0 : go_offline(sim, u, now);
    log_info("%s: back after its dropped connection", u->name);
    return come_online(sim, u, now);
}

static int update_presence(struct sim *sim, struct unit *u, uint64_t now)
{
    if (!sim->opt.ts_seq && update_drop(sim, u, now) != 0)
        return -1;
    /* A silent unit says nothing at all, neither its periodic `online` nor
     * the comings and goings of a flaky link: pantaud hears from a unit by
     * its samples and its $status alike. */
    if (!sim->opt.ts_seq && silenced(sim, u, now))
        return 0;
    if (u->flaky && now >= u->next_change_ns) {
        int rc = u->offline ? come_online(sim, u, now) : go_offline(sim, u, now);
        if (rc != 0)
            return rc;
    }
    return refresh_status(sim, u, now);
}

/* ---- setup ---- */

static void unit_name(const struct unit *u, char *out, size_t len)
{
    const struct sim_program *p = u->spec;
    if (p->unit_by_place)
        snprintf(out, len, "%s%s", p->unit_prefix, u->place->slug);
    else if (p->units == 1)
        snprintf(out, len, "%s", p->unit_prefix);
    else
        snprintf(out, len, "%s%02d", p->unit_prefix, u->index + 1);
}

static void unit_init_state(const struct sim *sim, struct unit *u)
{
    const struct scenario *sc = sim->sc;
    if (u->spec->gen == GEN_VAN) {
        /* Each van starts its tour at its own share of the sites. */
        u->van.site = u->index * u->spec->sites / u->nunits - 1;
        van_site_pos(sim, u->van.site + 1, &u->van.lat, &u->van.lon);
    }
    for (int c = 0; c < sc->ncommodities; c++) {
        /* Each market sits a little above or below the reference. */
        u->market.anchor[c] = rng_range(&u->rng, 0.95, 1.04);
        u->market.stock[c] = sc->commodities[c].stock_kg * rng_range(&u->rng, 0.5, 1.0);
    }
    for (int i = 0; i < sc->nevents && u->nevents < 4; i++) {
        const struct sim_event *e = &sc->events[i];
        if (strcmp(e->program, u->spec->slug) != 0 || e->unit != u->index ||
            u->spec->gen == GEN_REFERENCE)
            continue;
        u->events[u->nevents++] = e;
        /* A spiking market sits at the reference otherwise, so that the
         * price clears the rule's 5 % bound once the spike is over. */
        for (int c = 0; e->kind == EV_SPIKE && c < sc->ncommodities; c++)
            if (strcmp(sc->commodities[c].slug, e->commodity) == 0)
                u->market.anchor[c] = 0.98;
    }
}

/* Sockets open now, to tell which one a new connection added. */
static void socket_fds(bool *is_sock)
{
    struct stat st;
    for (int fd = 0; fd < FD_SCAN_MAX; fd++)
        is_sock[fd] = fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode);
}

static int unit_connect(const struct sim *sim, struct unit *u)
{
    char client_id[128], will_topic[300];
    snprintf(client_id, sizeof client_id, "sim-%s-%s", u->spec->slug, u->name);
    snprintf(will_topic, sizeof will_topic, "%s$status", u->topic);
    struct publisher_opts po = {.uri = sim->opt.uri,
                                .client_id = client_id,
                                .clean_session = 1,
                                .will_topic = will_topic,
                                .will_payload = "offline",
                                .will_retained = 1,
                                .username = sim->opt.username,
                                .password = sim->opt.password,
                                .ca_file = sim->opt.ca_file};
    return publisher_open(&u->pub, &po);
}

/* Connects a unit that will drop its connection on its own, noting its
 * socket: the one socket that connecting it added. */
static int connect_dropper(const struct sim *sim, struct unit *u)
{
    static bool before[FD_SCAN_MAX], after[FD_SCAN_MAX];
    socket_fds(before);
    if (unit_connect(sim, u) != 0)
        return -1;
    socket_fds(after);
    int found = 0;
    for (int fd = 0; fd < FD_SCAN_MAX; fd++)
        if (after[fd] && !before[fd]) {
            u->sock_fd = fd;
            found++;
        }
    if (found != 1) {
        log_warn("%s: %d new sockets; it will go offline without dropping", u->name, found);
        u->sock_fd = -1;
    }
    return 0;
}

static bool drops(const struct unit *u)
{
    for (int i = 0; i < u->nevents; i++)
        if (u->events[i]->kind == EV_DROP)
            return true;
    return false;
}

struct connector {
    pthread_t thread;
    const struct sim *sim;
    int first, stride;
    int failed;
};

static void *connect_some(void *arg)
{
    struct connector *c = arg;
    for (int i = c->first; i < c->sim->nunits; i += c->stride)
        if (!drops(&c->sim->units[i]) && unit_connect(c->sim, &c->sim->units[i]) != 0)
            c->failed++;
    return NULL;
}

/* Connects the units from parallel threads: Paho's receive thread notices a
 * new socket only when its select() times out (up to 1 s), so connecting one
 * unit after another would cost about a second per unit. Units that will
 * drop their connection go after, one at a time, to find their sockets. */
static int connect_all(struct sim *sim)
{
    int nthreads = sim->nunits < CONNECT_THREADS ? sim->nunits : CONNECT_THREADS;
    struct connector c[CONNECT_THREADS];
    int started = 0, failed = 0;
    for (; started < nthreads; started++) {
        c[started] = (struct connector){.sim = sim, .first = started, .stride = nthreads};
        if (pthread_create(&c[started].thread, NULL, connect_some, &c[started]) != 0)
            break;
    }
    for (int i = 0; i < started; i++) {
        pthread_join(c[i].thread, NULL);
        failed += c[i].failed;
    }
    if (started < nthreads) {
        log_error("cannot start connecting threads");
        return -1;
    }
    for (int i = 0; i < sim->nunits; i++)
        if (drops(&sim->units[i]) && connect_dropper(sim, &sim->units[i]) != 0)
            failed++;
    if (failed) {
        log_error("%d of %d units could not connect to %s", failed, sim->nunits, sim->opt.uri);
        return -1;
    }
    for (int i = 0; i < sim->nunits; i++)
        if (send_status(sim, &sim->units[i], "online") != 0)
            return -1;
    return 0;
}

static int program_units(const struct sim *sim, const struct sim_program *p)
{
    return p->units > 0 ? p->units : sim->opt.units;
}

static void unit_setup(struct sim *sim, struct unit *u, const struct sim_program *p, int i, int k)
{
    const struct scenario *sc = sim->sc;
    u->spec = p;
    u->index = i;
    u->nunits = program_units(sim, p);
    u->place = sc->nplaces ? &sc->places[i % sc->nplaces] : NULL;
    u->sock_fd = -1;
    unit_name(u, u->name, sizeof u->name);
    if (p->unit_by_place && i >= sc->nplaces) /* more units than places */
        snprintf(u->name + strlen(u->name), sizeof u->name - strlen(u->name), "-%d",
                 i / sc->nplaces + 1);
    int len = snprintf(u->topic, sizeof u->topic, "%s/%s/%s/", sim->opt.prefix, p->slug, u->name);
    u->topic_len = (size_t)len;
    u->rng.s = sim->opt.seed ^ (0x9e3779b97f4a7c15ULL * (uint64_t)(k + 1));
    u->sched_rng.s = ~u->rng.s;
    unit_init_state(sim, u);
}

static int units_create(struct sim *sim)
{
    const struct scenario *sc = sim->sc;
    int n = 0;
    for (int p = 0; p < sc->nprograms; p++)
        n += sim->opt.programs[p] ? program_units(sim, &sc->programs[p]) : 0;
    sim->units = calloc(n > 0 ? (size_t)n : 1, sizeof *sim->units);
    if (!sim->units)
        return -1;
    for (int p = 0, k = 0; p < sc->nprograms; p++) {
        for (int i = 0; sim->opt.programs[p] && i < program_units(sim, &sc->programs[p]); i++) {
            unit_setup(sim, &sim->units[k], &sc->programs[p], i, k);
            k++;
        }
    }
    sim->nunits = n;
    return 0;
}

static int unit_buffer(struct unit *u, size_t cap)
{
    if (u->cap >= cap)
        return 0;
    free(u->buf);
    u->buf = malloc(cap * sizeof *u->buf);
    u->cap = u->buf ? cap : 0;
    return u->buf ? 0 : -1;
}

/* Schedules the status refreshes, picks round(fraction * units) flaky
 * units, and gives every unit that may keep samples a buffer. */
static int plan_presence(struct sim *sim, uint64_t now)
{
    for (int i = 0; i < sim->nunits; i++)
        sim->units[i].status_due_ns = now + secs_ns(STATUS_REFRESH_S);
    size_t cap = OFFLINE_BUDGET / (size_t)sim->nunits;
    cap = cap < OFFLINE_CAP_MIN ? OFFLINE_CAP_MIN : cap > OFFLINE_CAP_MAX ? OFFLINE_CAP_MAX : cap;
    int want = (int)lround(sim->opt.offline_fraction * sim->nunits);
    struct rng r = {sim->opt.seed ^ 0x5eedULL};
    for (int chosen = 0, guard = 0; chosen < want && guard < 100 * sim->nunits; guard++) {
        struct unit *u = &sim->units[rng_int(&r, sim->nunits)];
        if (u->flaky || drops(u))
            continue;
        if (unit_buffer(u, cap) != 0)
            return -1;
        u->flaky = true;
        u->next_change_ns = now + secs_ns(rng_range(&u->sched_rng, 0, 2) * sim->opt.offline_secs);
        chosen++;
    }
    for (int i = 0; i < sim->nunits; i++) {
        struct unit *u = &sim->units[i];
        if (drops(u) && unit_buffer(u, cap) != 0)
            return -1;
        if (!sim->opt.ts_seq && u->spec->history > 0 &&
            unit_buffer(u, (size_t)u->spec->history) != 0)
            return -1;
    }
    return 0;
}

/* seq timestamps end near the start time, so none lies in the future. */
static void set_seq_base(struct sim *sim)
{
    int64_t now = util_now_ms(), per_unit = -1;
    if (sim->opt.count > 0)
        per_unit = (sim->opt.count + sim->nunits - 1) / sim->nunits;
    else if (sim->opt.duration > 0 && sim->opt.rate > 0)
        per_unit = (int64_t)(sim->opt.duration * sim->opt.rate / sim->nunits) + 1;
    sim->seq_base_ms = per_unit >= 0 && per_unit < SEQ_BASE_UNBOUNDED_MS
                           ? now - per_unit - 1000
                           : now - SEQ_BASE_UNBOUNDED_MS;
}

/* ---- history: what units kept since 1 January ---- */

/* The unit's history samples spread evenly from 1 January to now, sent as
 * JSON arrays as a unit returning from a long spell without signal would.
 * Sent in full before the paced run, so a year's KPIs start with a year. */
static int send_history(struct sim *sim, struct unit *u)
{
    int n = u->spec->history;
    int64_t span = sim->start_ms - sim->year_start_ms;
    u->in_history = true;
    for (int k = 0; k < n && !stop_requested; k++) {
        struct sample s;
        int64_t ts = sim->year_start_ms + (int64_t)((k + 0.5) * (double)span / n);
        if (take_sample(sim, u, ts, &s))
            buffer_sample(u, &s);
    }
    u->in_history = false;
    return flush_buffer(sim, u);
}

static int send_histories(struct sim *sim)
{
    if (sim->opt.ts_seq)
        return 0;
    for (int i = 0; i < sim->nunits && !stop_requested; i++)
        if (sim->units[i].spec->history > 0 && send_history(sim, &sim->units[i]) != 0)
            return -1;
    return 0;
}

/* ---- run ---- */

/* Sleeps until tick i's slot on the schedule; never drifts, as each slot is
 * computed from the start rather than from the previous wake-up. */
static void pace(const struct sim *sim, uint64_t start_ns, uint64_t i)
{
    if (sim->opt.rate <= 0)
        return;
    uint64_t due = start_ns + (uint64_t)((double)i * 1e9 / sim->opt.rate);
    struct timespec ts = {(time_t)(due / 1000000000u), (long)(due % 1000000000u)};
    while (!stop_requested && clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
        ;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Takes the next sample in round robin from a unit that has one due (a
 * silent unit, a finished survey or an office between its rounds has none),
 * and sends or buffers it. Returns 1 when a sample was taken, 0 when no
 * unit had one, -1 on a failed send. */
static int next_sample(struct sim *sim, uint64_t now)
{
    for (int tries = 0; tries < sim->nunits; tries++) {
        struct unit *u = &sim->units[sim->next_unit];
        sim->next_unit = (sim->next_unit + 1) % sim->nunits;
        if (update_presence(sim, u, now) != 0)
            return -1;
        if (!sim->opt.ts_seq && silenced(sim, u, now))
            continue;
        struct sample s;
        if (!take_sample(sim, u, util_now_ms(), &s))
            continue;
        if (u->offline)
            buffer_sample(u, &s);
        else if (send_sample(sim, u, &s) != 0)
            return -1;
        return 1;
    }
    return 0;
}

static int run(struct sim *sim, uint64_t start_ns)
{
    const struct options *o = &sim->opt;
    uint64_t limit_ns = o->duration > 0 ? secs_ns(o->duration) : UINT64_MAX;
    for (uint64_t i = 0; !stop_requested;) {
        if (o->count > 0 && i >= (uint64_t)o->count)
            break;
        pace(sim, start_ns, i);
        uint64_t now = util_mono_ns();
        if (stop_requested || now - start_ns >= limit_ns)
            break;
        int rc = sim->nunits > 0 ? next_sample(sim, now) : 0;
        if (rc < 0)
            return -1;
        if (rc == 0)
            sleep_ms(IDLE_SLEEP_MS);
        i += (uint64_t)rc;
    }
    return 0;
}

/* Brings offline units back so nothing stays in a buffer, marks every unit
 * offline (a clean disconnect sends no will), and waits for the acks. */
static int finish(struct sim *sim)
{
    int rc = 0;
    uint64_t now = util_mono_ns();
    for (int i = 0; i < sim->nunits; i++) {
        struct unit *u = &sim->units[i];
        if (u->pub && u->offline && come_online(sim, u, now) != 0)
            rc = -1;
        if (u->pub && send_status(sim, u, "offline") != 0)
            rc = -1;
    }
    uint64_t deadline = util_mono_ns() + (uint64_t)FINAL_FLUSH_MS * 1000000u;
    for (int i = 0; i < sim->nunits; i++) {
        struct unit *u = &sim->units[i];
        uint64_t t = util_mono_ns();
        int left_ms = t < deadline ? (int)((deadline - t) / 1000000u) : 0;
        if (u->pub && publisher_flush(u->pub, left_ms) != 0)
            rc = -1;
    }
    return rc;
}

static void report(const struct sim *sim, uint64_t start_ns)
{
    uint64_t acked = 0, resent = 0, dropped = 0;
    for (int i = 0; i < sim->nunits; i++) {
        const struct unit *u = &sim->units[i];
        if (u->pub) {
            acked += publisher_acked(u->pub);
            resent += publisher_resent(u->pub);
        }
        dropped += u->dropped;
    }
    double secs = (double)(util_mono_ns() - start_ns) / 1e9;
    if (dropped)
        log_warn("%llu buffered samples were dropped by full offline buffers",
                 (unsigned long long)dropped);
    printf("pantau-sim: sent %llu messages (%llu samples) in %.2f s: %.0f msg/s, acked %llu, "
           "resent %llu\n",
           (unsigned long long)sim->messages, (unsigned long long)sim->samples, secs,
           secs > 0 ? (double)sim->messages / secs : 0.0, (unsigned long long)acked,
           (unsigned long long)resent);
    fflush(stdout);
}

static void units_close(struct sim *sim)
{
    for (int i = 0; i < sim->nunits; i++) {
        publisher_close(sim->units[i].pub, 0);
        free(sim->units[i].buf);
    }
    free(sim->units);
    free(sim->payload);
}

static void install_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal; /* no SA_RESTART: wake clock_nanosleep */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

int main(int argc, char **argv)
{
    struct sim sim = {0};
    log_set_ident("pantau-sim");
    int prc = parse_options(argc, argv, &sim.opt);
    if (prc != 0)
        return prc > 0 ? 0 : 2;
    if (!sim.opt.seeded)
        sim.opt.seed = util_mono_ns() ^ ((uint64_t)getpid() << 32);
    install_signals();

    int rc = 1;
    sim.sc = sim.opt.scenario;
    sim.payload = malloc(ARRAY_MAX_BYTES + 64);
    if (!sim.payload || units_create(&sim) != 0) {
        log_error("out of memory");
        goto out;
    }
    if (sim.nunits == 0)
        log_info("scenario %s has no field units yet; idle until stopped", sim.sc->id);
    set_seq_base(&sim);
    if (sim.nunits > 0 && connect_all(&sim) != 0)
        goto out;
    sim.start_ms = util_now_ms();
    sim.year_start_ms = local_year_start_ms(&sim, sim.start_ms);
    if (sim.nunits > 0 && plan_presence(&sim, util_mono_ns()) != 0) {
        log_error("out of memory for offline buffers");
        goto out;
    }
    if (send_histories(&sim) != 0)
        goto out;
    uint64_t start = sim.start_ns = util_mono_ns();
    rc = run(&sim, start) == 0 ? 0 : 1;
    if (finish(&sim) != 0)
        rc = 1;
    report(&sim, start);
out:
    units_close(&sim);
    return rc;
}
