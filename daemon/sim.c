/* sim.c — pantau-sim, field units of three Lampung Tengah quick-win programs
 * publishing samples over MQTT as CONTRACT §1 describes:
 *
 *   paduka-lamteng   civil-registration vans (van-NN) touring kampung:
 *                    documents_issued {doc, kampung} with the van's position
 *   simas-bapokting  staple prices per market (pasar-*): price and stock {commodity}
 *   pjs              night waste pickup trucks (truck-NN): pickups as a bare
 *                    number, waste_kg as an object {zone}
 *
 * Each unit is one MQTT connection with a retained `offline` will on its
 * $status topic and a retained `online` on connect. One thread takes the
 * samples in turn (one sample per tick, ticks paced against an absolute
 * schedule) and hands them to the unit's publisher. Units that go offline
 * (--offline-fraction) keep their samples with the time they were taken and
 * send them as JSON arrays when they return, as a van in a kampung without
 * signal would. Values come from per-unit generators seeded by --seed, so a
 * run's values do not depend on timing. */
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
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "publisher.h"
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
#define SEQ_BASE_UNBOUNDED_MS (24LL * 3600 * 1000)

/* ---- the places: approximate centres of kampung/kecamatan of Lampung Tengah ---- */

struct place {
    const char *slug;
    double lat, lon;
};

static const struct place places[] = {
    {"gunung-sugih", -4.9660, 105.2710},
    {"bandar-jaya", -4.9100, 105.2180},
    {"terbanggi-besar", -4.8930, 105.2400},
    {"yukum-jaya", -4.9290, 105.2000},
    {"poncowati", -4.8610, 105.2250},
    {"seputih-banyak", -4.8020, 105.5240},
    {"kota-gajah", -5.0300, 105.2950},
    {"punggur", -5.0420, 105.3290},
    {"trimurjo", -5.0800, 105.2520},
    {"kalirejo", -5.0480, 104.9710},
    {"padang-ratu", -4.9130, 104.9320},
    {"seputih-mataram", -4.9900, 105.4400},
    {"seputih-surabaya", -4.8200, 105.6950},
    {"rumbia", -4.7400, 105.6150},
    {"bandar-mataram", -4.6700, 105.3800},
    {"terusan-nunyai", -4.7900, 105.2900},
    {"anak-tuha", -4.9700, 105.0700},
    {"bangun-rejo", -5.0400, 105.0400},
    {"bekri", -5.0800, 105.1400},
    {"way-pengubuan", -4.8700, 105.1600},
    {"seputih-agung", -4.9200, 105.3600},
    {"bumi-ratu-nuban", -5.0000, 105.1600},
    {"selagai-lingga", -4.8500, 104.9000},
    {"komering-agung", -4.9450, 105.2950},
};
#define NPLACES ((int)(sizeof places / sizeof places[0]))

/* ---- programs ---- */

enum program { PADUKA, SIMAS, PJS, NPROGRAMS };

static const char *const program_slugs[NPROGRAMS] = {"paduka-lamteng", "simas-bapokting", "pjs"};

struct commodity {
    const char *slug;
    double price;    /* rupiah per kg (or litre), around 2026 */
    double vol;      /* daily-ish relative volatility of one step */
    double stock_kg; /* a market's usual stock */
    double round_to; /* traders quote in steps of this */
};

static const struct commodity commodities[] = {
    {"beras-medium", 13500, 0.002, 12000, 100}, {"beras-premium", 15500, 0.002, 6000, 100},
    {"gula-pasir", 18000, 0.002, 2500, 100},    {"minyak-goreng", 17500, 0.003, 2000, 100},
    {"cabai-merah", 45000, 0.020, 300, 500},    {"bawang-merah", 38000, 0.012, 600, 500},
    {"bawang-putih", 39000, 0.006, 500, 500},   {"telur-ayam", 29000, 0.005, 1500, 100},
    {"daging-ayam", 37000, 0.006, 800, 500},    {"daging-sapi", 135000, 0.002, 250, 1000},
};
#define NCOMMODITIES ((int)(sizeof commodities / sizeof commodities[0]))

static const char *const doc_types[] = {"ktp", "kk", "kia", "akta-lahir"};
static const int doc_weights[] = {40, 25, 20, 15}; /* percent of documents issued */

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
    const char *prefix;
    bool programs[NPROGRAMS];
    int units;
    double rate;
    int64_t count;
    double duration;
    int qos;
    uint64_t seed;
    bool seeded;
    double offline_fraction;
    double offline_secs;
    bool ts_seq;
};

static void usage(FILE *f)
{
    fprintf(f,
            "usage: pantau-sim [options]\n"
            "Simulated field units of Lampung Tengah publishing samples to pantaud over MQTT.\n\n"
            "  --mqtt URI               broker (default tcp://127.0.0.1:1883)\n"
            "  --prefix P               topic prefix (default pantau)\n"
            "  --programs LIST          comma-separated, of paduka-lamteng,simas-bapokting,pjs\n"
            "                           (default all)\n"
            "  --units N                units per program, 1..%d (default 3)\n"
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
            "  --ts-mode now|seq        now: samples carry the time they are taken; seq:\n"
            "                           base + i ms per unit, unique per series, so runs can\n"
            "                           be counted exactly (pickups then go as objects)\n"
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

static int parse_programs(struct options *o, const char *list)
{
    char buf[256];
    if (strlen(list) >= sizeof buf)
        return bad_arg("programs", list, "too long");
    strcpy(buf, list);
    memset(o->programs, 0, sizeof o->programs);
    int n = 0;
    char *save = NULL;
    for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        int i = 0;
        while (i < NPROGRAMS && strcmp(t, program_slugs[i]) != 0)
            i++;
        if (i == NPROGRAMS)
            return bad_arg("programs", t, "paduka-lamteng, simas-bapokting or pjs");
        o->programs[i] = true;
        n++;
    }
    return n > 0 ? 0 : bad_arg("programs", list, "at least one program");
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
    }
    return 0;
}

static int parse_string_opt(const char *name, const char *val, struct options *o)
{
    if (strcmp(name, "mqtt") == 0) {
        if (!val[0])
            return bad_arg(name, val, "a broker URI");
        o->uri = val;
    } else if (strcmp(name, "prefix") == 0) {
        if (!valid_prefix(val))
            return bad_arg(name, val, "topic levels without + # or empty levels");
        o->prefix = val;
    } else if (strcmp(name, "programs") == 0) {
        return parse_programs(o, val);
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
                                             {"prefix", required_argument, NULL, 0},
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
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    *o = (struct options){.uri = "tcp://127.0.0.1:1883",
                          .prefix = "pantau",
                          .programs = {true, true, true},
                          .units = 3,
                          .rate = 10,
                          .qos = 1,
                          .offline_secs = 30};
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
    return 0;
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
    int kampung;
    double lat, lon;
    int stay_left;   /* ticks still to spend in this kampung */
    int travel_left; /* ticks of the drive still ahead */
};

struct market {
    double price[NCOMMODITIES], anchor[NCOMMODITIES], stock[NCOMMODITIES];
};

struct truck {
    int zone;
    double lat, lon;
};

struct unit {
    enum program program;
    char name[SLUG_MAX + 1];
    char topic[256]; /* prefix/program/unit/ — the metric is appended */
    size_t topic_len;
    struct publisher *pub;
    struct rng rng;       /* values */
    struct rng sched_rng; /* offline spells, kept apart so values do not depend on timing */
    uint64_t tick;        /* samples taken */
    struct van van;
    struct market market;
    struct truck truck;

    bool flaky, offline;
    uint64_t next_change_ns; /* when a flaky unit drops or returns */
    uint64_t status_due_ns;  /* when to repeat `online` */
    struct sample *buf;      /* ring of samples taken while offline */
    size_t cap, head, len;
    uint64_t dropped;
};

struct sim {
    struct options opt;
    struct unit *units;
    int nunits;
    int64_t seq_base_ms;
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

/* ---- generators ---- */

static void van_pick_kampung(struct unit *u)
{
    struct van *v = &u->van;
    v->kampung = rng_int(&u->rng, NPLACES);
    v->stay_left = 10 + rng_int(&u->rng, 30);
    v->travel_left = 3 + rng_int(&u->rng, 4);
}

/* The van drives to a kampung (its position moving along the way), then
 * serves there for a while; documents are issued while it serves. */
static void paduka_sample(struct unit *u, struct sample *s)
{
    struct van *v = &u->van;
    if (v->stay_left <= 0)
        van_pick_kampung(u);
    const struct place *k = &places[v->kampung];
    int docs = 0;
    if (v->travel_left > 0) {
        double f = 1.0 / v->travel_left--;
        v->lat += (k->lat - v->lat) * f;
        v->lon += (k->lon - v->lon) * f;
    } else {
        v->lat = k->lat + rng_range(&u->rng, -0.002, 0.002);
        v->lon = k->lon + rng_range(&u->rng, -0.002, 0.002);
        v->stay_left--;
        docs = rng_unit(&u->rng) < 0.25 ? 0 : 1 + rng_int(&u->rng, 4);
    }
    int r = rng_int(&u->rng, 100), d = 0;
    while (d < 3 && r >= doc_weights[d])
        r -= doc_weights[d++];
    s->metric = "documents_issued";
    s->value = docs;
    s->decimals = 0;
    snprintf(s->labels, sizeof s->labels, "{\"doc\":\"%s\",\"kampung\":\"%s\"}", doc_types[d],
             k->slug);
    s->has_pos = true;
    s->lat = v->lat;
    s->lon = v->lon;
}

/* A small mean-reverting random walk, with now and then a spike (a bad
 * harvest, a holiday) that fades over the following steps. */
static double next_price(struct unit *u, int c)
{
    struct market *m = &u->market;
    const struct commodity *k = &commodities[c];
    double p = m->price[c];
    p += p * k->vol * rng_gauss(&u->rng) + 0.05 * (m->anchor[c] - p);
    if (rng_unit(&u->rng) < 0.002)
        p *= rng_range(&u->rng, 1.08, 1.25);
    if (p < k->price * 0.5)
        p = k->price * 0.5;
    m->price[c] = p;
    return round(p / k->round_to) * k->round_to;
}

/* Stock sells down and is restocked by a delivery when it runs low. */
static double next_stock(struct unit *u, int c)
{
    struct market *m = &u->market;
    double base = commodities[c].stock_kg;
    m->stock[c] -= base * rng_range(&u->rng, 0.005, 0.03);
    if (m->stock[c] < base * 0.3)
        m->stock[c] += base * rng_range(&u->rng, 0.6, 0.9);
    if (m->stock[c] < 0)
        m->stock[c] = 0;
    return round(m->stock[c]);
}

static void simas_sample(struct unit *u, struct sample *s)
{
    int c = (int)(u->tick / 2 % NCOMMODITIES);
    bool price = u->tick % 2 == 0;
    s->metric = price ? "price" : "stock";
    s->value = price ? next_price(u, c) : next_stock(u, c);
    s->decimals = 0;
    snprintf(s->labels, sizeof s->labels, "{\"commodity\":\"%s\"}", commodities[c].slug);
}

static void pjs_sample(struct unit *u, struct sample *s)
{
    struct truck *t = &u->truck;
    const struct place *z = &places[t->zone];
    t->lat = z->lat + rng_range(&u->rng, -0.01, 0.01);
    t->lon = z->lon + rng_range(&u->rng, -0.01, 0.01);
    if (u->tick % 2 == 0) {
        s->metric = "pickups";
        s->value = rng_int(&u->rng, 7);
        s->decimals = 0;
        s->bare = true;
    } else {
        s->metric = "waste_kg";
        s->value = round(rng_range(&u->rng, 40, 900) * 10) / 10;
        s->decimals = 1;
        snprintf(s->labels, sizeof s->labels, "{\"zone\":\"%s\"}", z->slug);
        s->has_pos = true;
        s->lat = t->lat;
        s->lon = t->lon;
    }
}

static void take_sample(struct sim *sim, struct unit *u, struct sample *s)
{
    memset(s, 0, sizeof *s);
    switch (u->program) {
    case PADUKA:
        paduka_sample(u, s);
        break;
    case SIMAS:
        simas_sample(u, s);
        break;
    default:
        pjs_sample(u, s);
        break;
    }
    s->ts = sim->opt.ts_seq ? sim->seq_base_ms + (int64_t)u->tick : util_now_ms();
    u->tick++;
    sim->samples++;
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

static uint64_t secs_ns(double s)
{
    return (uint64_t)(s * 1e9);
}

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

static int update_presence(struct sim *sim, struct unit *u, uint64_t now)
{
    if (u->flaky && now >= u->next_change_ns) {
        int rc = u->offline ? come_online(sim, u, now) : go_offline(sim, u, now);
        if (rc != 0)
            return rc;
    }
    return refresh_status(sim, u, now);
}

/* ---- setup ---- */

static void unit_name(enum program prog, int i, char *out, size_t len)
{
    if (prog == PADUKA)
        snprintf(out, len, "van-%02d", i + 1);
    else if (prog == PJS)
        snprintf(out, len, "truck-%02d", i + 1);
    else if (i < NPLACES)
        snprintf(out, len, "pasar-%s", places[i].slug);
    else
        snprintf(out, len, "pasar-%s-%d", places[i % NPLACES].slug, i / NPLACES + 1);
}

static void unit_init_state(struct unit *u, int i)
{
    struct van *v = &u->van;
    v->kampung = i % NPLACES;
    v->lat = places[v->kampung].lat;
    v->lon = places[v->kampung].lon;
    v->stay_left = 5 + rng_int(&u->rng, 20);
    for (int c = 0; c < NCOMMODITIES; c++) {
        /* Each market sits a little above or below the regency's mean. */
        u->market.anchor[c] = commodities[c].price * rng_range(&u->rng, 0.96, 1.06);
        u->market.price[c] = u->market.anchor[c];
        u->market.stock[c] = commodities[c].stock_kg * rng_range(&u->rng, 0.5, 1.0);
    }
    u->truck.zone = (i * 7 + 1) % NPLACES;
}

static int unit_connect(const struct sim *sim, struct unit *u)
{
    char client_id[128], will_topic[300];
    snprintf(client_id, sizeof client_id, "sim-%s-%s", program_slugs[u->program], u->name);
    snprintf(will_topic, sizeof will_topic, "%s$status", u->topic);
    struct publisher_opts po = {.uri = sim->opt.uri,
                                .client_id = client_id,
                                .clean_session = 1,
                                .will_topic = will_topic,
                                .will_payload = "offline",
                                .will_retained = 1};
    return publisher_open(&u->pub, &po);
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
        if (unit_connect(c->sim, &c->sim->units[i]) != 0)
            c->failed++;
    return NULL;
}

/* Connects the units from parallel threads: Paho's receive thread notices a
 * new socket only when its select() times out (up to 1 s), so connecting one
 * unit after another would cost about a second per unit. */
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
    if (failed) {
        log_error("%d of %d units could not connect to %s", failed, sim->nunits, sim->opt.uri);
        return -1;
    }
    for (int i = 0; i < sim->nunits; i++)
        if (send_status(sim, &sim->units[i], "online") != 0)
            return -1;
    return 0;
}

static int units_create(struct sim *sim)
{
    int per = sim->opt.units, n = 0;
    for (int p = 0; p < NPROGRAMS; p++)
        n += sim->opt.programs[p] ? per : 0;
    sim->units = calloc((size_t)n, sizeof *sim->units);
    if (!sim->units)
        return -1;
    for (int p = 0, k = 0; p < NPROGRAMS; p++) {
        for (int i = 0; sim->opt.programs[p] && i < per; i++, k++) {
            struct unit *u = &sim->units[k];
            u->program = (enum program)p;
            unit_name(u->program, i, u->name, sizeof u->name);
            int len = snprintf(u->topic, sizeof u->topic, "%s/%s/%s/", sim->opt.prefix,
                               program_slugs[p], u->name);
            u->topic_len = (size_t)len;
            u->rng.s = sim->opt.seed ^ (0x9e3779b97f4a7c15ULL * (uint64_t)(k + 1));
            u->sched_rng.s = ~u->rng.s;
            unit_init_state(u, i);
        }
    }
    sim->nunits = n;
    return 0;
}

/* Schedules the status refreshes and picks round(fraction * units) flaky
 * units, each given its own buffer. */
static int plan_presence(struct sim *sim, uint64_t now)
{
    for (int i = 0; i < sim->nunits; i++)
        sim->units[i].status_due_ns = now + secs_ns(STATUS_REFRESH_S);
    int want = (int)lround(sim->opt.offline_fraction * sim->nunits);
    size_t cap = OFFLINE_BUDGET / (size_t)sim->nunits;
    cap = cap < OFFLINE_CAP_MIN ? OFFLINE_CAP_MIN : cap > OFFLINE_CAP_MAX ? OFFLINE_CAP_MAX : cap;
    struct rng r = {sim->opt.seed ^ 0x5eedULL};
    for (int chosen = 0, guard = 0; chosen < want && guard < 100 * sim->nunits; guard++) {
        struct unit *u = &sim->units[rng_int(&r, sim->nunits)];
        if (u->flaky)
            continue;
        u->buf = malloc(cap * sizeof *u->buf);
        if (!u->buf)
            return -1;
        u->cap = cap;
        u->flaky = true;
        u->next_change_ns = now + secs_ns(rng_range(&u->sched_rng, 0, 2) * sim->opt.offline_secs);
        chosen++;
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

static int run(struct sim *sim, uint64_t start_ns)
{
    const struct options *o = &sim->opt;
    uint64_t limit_ns = o->duration > 0 ? secs_ns(o->duration) : UINT64_MAX;
    for (uint64_t i = 0; !stop_requested; i++) {
        if (o->count > 0 && i >= (uint64_t)o->count)
            break;
        pace(sim, start_ns, i);
        uint64_t now = util_mono_ns();
        if (stop_requested || now - start_ns >= limit_ns)
            break;
        struct unit *u = &sim->units[i % (uint64_t)sim->nunits];
        if (update_presence(sim, u, now) != 0)
            return -1;
        struct sample s;
        take_sample(sim, u, &s);
        if (u->offline)
            buffer_sample(u, &s);
        else if (send_sample(sim, u, &s) != 0)
            return -1;
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
    sim.payload = malloc(ARRAY_MAX_BYTES + 64);
    if (!sim.payload || units_create(&sim) != 0) {
        log_error("out of memory");
        goto out;
    }
    set_seq_base(&sim);
    if (connect_all(&sim) != 0)
        goto out;
    uint64_t start = util_mono_ns();
    if (plan_presence(&sim, start) != 0) {
        log_error("out of memory for offline buffers");
        goto out;
    }
    rc = run(&sim, start) == 0 ? 0 : 1;
    if (finish(&sim) != 0)
        rc = 1;
    report(&sim, start);
out:
    units_close(&sim);
    return rc;
}
