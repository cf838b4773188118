/* test_catalog.c — the catalog parser against CONTRACT §5 and §6's rule
 * syntax: a full catalog read into the expected structure (dates as epoch ms
 * in each time zone), a table of bad catalogs each with its exact
 * "file:line: problem", several problems in one run, series matching, and
 * `pantaud --check-config --catalog`. Files go to mkstemp files in /tmp and
 * are removed afterwards. */
#include "catalog.h"
#include "check.h"
#include "harness.h"

#include <limits.h>
#include <stdbool.h>
#include <sys/wait.h>
#include <unistd.h>

static int load_text(struct catalog **c, const char *text, struct harness_problems *ps,
                     char path[64])
{
    memset(ps, 0, sizeof *ps);
    if (harness_write_tmp(path, text) != 0)
        return -101;
    int n = catalog_load(c, path, harness_problem, ps);
    unlink(path);
    return n;
}

/* True if a problem at `line` contains `phrase`, reported against `path`. */
static bool has_problem(const struct harness_problems *ps, const char *path, int line,
                        const char *phrase)
{
    for (int i = 0; i < ps->n && i < HARNESS_MAX_PROBLEMS; i++)
        if (ps->p[i].line == line && strstr(ps->p[i].text, phrase) &&
            strcmp(ps->p[i].file, path) == 0)
            return true;
    return false;
}

/* ---- a full valid catalog ---- */

static const char full_catalog[] =
    "; a regency in WITA, written after its programs\n"        /* 1 */
    "[program paduka-lamteng]\n"                               /* 2 */
    "name = PADUKA LAMTENG\n"                                  /* 3 */
    "dimension = governance\n"                                 /* 4 */
    "agency = Disdukcapil\n"                                   /* 5 */
    "description = Layanan adminduk keliling di 311 kampung\n" /* 6 */
    "status = planned\n"                                       /* 7 */
    "stale_after = 30m\n"                                      /* 8 */
    "\n"                                                       /* 9 */
    "[kpi paduka-lamteng/kampung]\n"                           /* 10 */
    "name = Kampung terlayani\n"                               /* 11 */
    "metric = visits\n"                                        /* 12 */
    "labels = doc=ktp, kampung=*\n"                            /* 13 */
    "units = van-01, van-02\n"                                 /* 14 */
    "agg = distinct:kampung\n"                                 /* 15 */
    "period = year\n"                                          /* 16 */
    "target = 311\n"                                           /* 17 */
    "baseline = 11.5\n"                                        /* 18 */
    "start = 2024-01-01\n"                                     /* 19 */
    "deadline = 2024-12-31\n"                                  /* 20 */
    "display_unit = kampung\n"                                 /* 21 */
    "[kpi simas/harga]\n"                                      /* 22: program defined later */
    "name = Harga\n"                                           /* 23 */
    "metric = price\n"                                         /* 24 */
    "agg = last\n"                                             /* 25 */
    "period = 2025-01-01..2025-03-31\n"                        /* 26 */
    "target = -2.5e3\n"                                        /* 27 */
    "[kpi simas/total]\n"                                      /* 28 */
    "name = Total\n"                                           /* 29 */
    "metric = price\n"                                         /* 30 */
    "agg = count\n"                                            /* 31 */
    "period = total\n"                                         /* 32 */
    "target = 100\n"                                           /* 33 */
    "start = 2023-06-15\n"                                     /* 34 */
    "deadline = 2026-02-28\n"                                  /* 35 */
    "[program simas]\n"                                        /* 36 */
    "name = SIMAS BAPOKTING\n"                                 /* 37 */
    "dimension = economy\n"                                    /* 38 */
    "[masterplan]\n"                                           /* 39 */
    "governance = 8/10\n"                                      /* 40 */
    "environment = 0/0\n"                                      /* 41 */
    "[rule harga-melonjak]\n"                                  /* 42 */
    "program = simas\n"                                        /* 43 */
    "metric = price\n"                                         /* 44 */
    "labels = commodity=*\n"                                   /* 45 */
    "units = pasar-bandar-jaya\n"                              /* 46 */
    "above_reference = 10%\n"                                  /* 47 */
    "reference = reference_price\n"                            /* 48 */
    "match = commodity, grade\n"                               /* 49 */
    "clear_reference = 5%\n"                                   /* 50 */
    "for = 15m\n"                                              /* 51 */
    "severity = critical\n"                                    /* 52 */
    "message = Harga {commodity} di {unit} {value}\n"          /* 53 */
    "[rule dingin]\n"                                          /* 54 */
    "program = simas\n"                                        /* 55 */
    "metric = temp\n"                                          /* 56 */
    "below = 2\n"                                              /* 57 */
    "clear = 4\n"                                              /* 58 */
    "[rule diam]\n"                                            /* 59 */
    "program = paduka-lamteng\n"                               /* 60 */
    "silent = 2h\n"                                            /* 61 */
    "[rule panas]\n"                                           /* 62 */
    "program = simas\n"                                        /* 63 */
    "metric = temp\n"                                          /* 64 */
    "above = 30\n"                                             /* 65 */
    "[regency]\n"                                              /* 66 */
    "id = lampung-tengah\n"                                    /* 67 */
    "name = Kabupaten Lampung Tengah\n"                        /* 68 */
    "timezone = WITA\n";                                       /* 69 */

TEST(catalog_full_valid)
{
    struct catalog *c;
    struct harness_problems ps;
    char path[64];
    int n = load_text(&c, full_catalog, &ps, path);
    if (n != 0)
        harness_problems_dump(&ps);
    CHECK_INT(n, 0);
    CHECK(c);
    CHECK_STR(c->path, path);
    CHECK_STR(c->regency_id, "lampung-tengah");
    CHECK_STR(c->regency_name, "Kabupaten Lampung Tengah");
    CHECK_INT(c->tz_offset_ms, 8 * 3600000LL);
    CHECK(c->masterplan[DIM_GOVERNANCE].given);
    CHECK_INT(c->masterplan[DIM_GOVERNANCE].running, 8);
    CHECK_INT(c->masterplan[DIM_GOVERNANCE].total, 10);
    CHECK(c->masterplan[DIM_ENVIRONMENT].given);
    CHECK_INT(c->masterplan[DIM_ENVIRONMENT].total, 0);
    CHECK(!c->masterplan[DIM_ECONOMY].given);

    CHECK_INT(c->n_programs, 2);
    const struct catalog_program *p0 = &c->programs[0], *p1 = &c->programs[1];
    CHECK_STR(p0->id, "paduka-lamteng");
    CHECK_STR(p0->name, "PADUKA LAMTENG");
    CHECK_STR(p0->agency, "Disdukcapil");
    CHECK_STR(p0->description, "Layanan adminduk keliling di 311 kampung");
    CHECK_INT(p0->dimension, DIM_GOVERNANCE);
    CHECK_INT(p0->status, PROGRAM_PLANNED);
    CHECK_INT(p0->stale_after_ms, 30 * 60000);
    CHECK_INT(p0->line, 2);
    CHECK_STR(p1->id, "simas");
    CHECK(!p1->agency && !p1->description);
    CHECK_INT(p1->dimension, DIM_ECONOMY);
    CHECK_INT(p1->status, PROGRAM_RUNNING);
    CHECK_INT(p1->stale_after_ms, 0);
    CHECK_INT(catalog_find_program(c, "simas"), 1);
    CHECK_INT(catalog_find_program(c, "paduka-lamteng"), 0);
    CHECK_INT(catalog_find_program(c, "nope"), -1);

    CHECK_INT(c->n_kpis, 3);
    const struct catalog_kpi *k = &c->kpis[0];
    CHECK_INT(k->program, 0);
    CHECK_STR(k->id, "kampung");
    CHECK_STR(k->name, "Kampung terlayani");
    CHECK_STR(k->match.metric, "visits");
    CHECK_INT(k->match.n_labels, 2);
    CHECK_STR(k->match.labels[0].key, "doc");
    CHECK_STR(k->match.labels[0].value, "ktp");
    CHECK_STR(k->match.labels[1].key, "kampung");
    CHECK_STR(k->match.labels[1].value, "*");
    CHECK_INT(k->match.n_units, 2);
    CHECK_STR(k->match.units[0], "van-01");
    CHECK_STR(k->match.units[1], "van-02");
    CHECK_INT(k->agg, KPI_DISTINCT);
    CHECK_STR(k->distinct_label, "kampung");
    CHECK_INT(k->period, PERIOD_YEAR);
    CHECK_DBL(k->target, 311);
    CHECK_DBL(k->baseline, 11.5);
    CHECK(k->has_start && k->has_deadline);
    CHECK_INT(k->start, 1704038400000LL);    /* 2024-01-01T00:00+08:00 */
    CHECK_INT(k->deadline, 1735660799999LL); /* 2024-12-31T23:59:59.999+08:00 */
    CHECK_STR(k->display_unit, "kampung");
    CHECK_INT(k->line, 10);

    k = &c->kpis[1];
    CHECK_INT(k->program, 1);
    CHECK_STR(k->id, "harga");
    CHECK_INT(k->match.n_labels, 0);
    CHECK_INT(k->match.n_units, 0);
    CHECK(!k->match.units);
    CHECK_INT(k->agg, KPI_LAST);
    CHECK(!k->distinct_label);
    CHECK_INT(k->period, PERIOD_RANGE);
    CHECK_INT(k->range_from, 1735660800000LL);
    CHECK_INT(k->range_to, 1743436799999LL);
    CHECK_DBL(k->target, -2500);
    CHECK_DBL(k->baseline, 0);
    CHECK(!k->has_start && !k->has_deadline);
    CHECK(!k->display_unit);

    k = &c->kpis[2];
    CHECK_INT(k->period, PERIOD_TOTAL);
    CHECK_INT(k->agg, KPI_COUNT);
    CHECK_INT(k->start, 1686758400000LL);
    CHECK_INT(k->deadline, 1772294399999LL);

    CHECK_INT(c->n_rules, 4);
    const struct catalog_rule *r = &c->rules[0];
    CHECK_STR(r->id, "harga-melonjak");
    CHECK_INT(r->program, 1);
    CHECK_STR(r->match.metric, "price");
    CHECK_INT(r->match.n_labels, 1);
    CHECK_STR(r->match.labels[0].key, "commodity");
    CHECK_STR(r->match.labels[0].value, "*");
    CHECK_INT(r->match.n_units, 1);
    CHECK_STR(r->match.units[0], "pasar-bandar-jaya");
    CHECK_INT(r->condition, RULE_ABOVE_REFERENCE);
    CHECK_DBL(r->threshold, 10);
    CHECK_DBL(r->clear, 5);
    CHECK_STR(r->reference, "reference_price");
    CHECK_INT(r->n_match_labels, 2);
    CHECK_STR(r->match_labels[0], "commodity");
    CHECK_STR(r->match_labels[1], "grade");
    CHECK_INT(r->for_ms, 15 * 60000);
    CHECK_INT(r->severity, SEVERITY_CRITICAL);
    CHECK_STR(r->message, "Harga {commodity} di {unit} {value}");
    CHECK_INT(r->line, 42);

    r = &c->rules[1];
    CHECK_INT(r->condition, RULE_BELOW);
    CHECK_DBL(r->threshold, 2);
    CHECK_DBL(r->clear, 4);
    CHECK_INT(r->for_ms, 0);
    CHECK_INT(r->severity, SEVERITY_WARNING);
    CHECK(!r->message && !r->reference && r->n_match_labels == 0);

    r = &c->rules[2];
    CHECK_INT(r->condition, RULE_SILENT);
    CHECK_INT(r->program, 0);
    CHECK(!r->match.metric);
    CHECK_INT(r->silent_ms, 2 * 3600000LL);

    r = &c->rules[3];
    CHECK_INT(r->condition, RULE_ABOVE);
    CHECK_DBL(r->threshold, 30);
    CHECK_DBL(r->clear, 30); /* default: the threshold */
    catalog_free(c);
}

/* The smallest catalog: defaults everywhere. */
TEST(catalog_minimal_defaults)
{
    struct catalog *c;
    struct harness_problems ps;
    char path[64];
    CHECK_INT(load_text(&c, "[regency]\nid = r\nname = R\n", &ps, path), 0);
    CHECK_INT(c->tz_offset_ms, 7 * 3600000LL);
    CHECK_INT(c->n_programs + c->n_kpis + c->n_rules, 0);
    for (int d = 0; d < DIM_COUNT; d++)
        CHECK(!c->masterplan[d].given);
    catalog_free(c);
    catalog_free(NULL);
}

/* CONTRACT §5, §7: the regency's code and province, and a hub's regions. */
TEST(catalog_code_province_regions)
{
    struct catalog *c;
    struct harness_problems ps;
    char path[64];
    CHECK_INT(load_text(&c,
                        "[regency]\nid = ntb\nname = Provinsi NTB\ncode = 52\nprovince = Nusa "
                        "Tenggara Barat\n[region lombok-utara]\nname = Kabupaten Lombok Utara\n"
                        "code = 52.08\nprovince = Nusa Tenggara Barat\n[region mataram]\n"
                        "name = Kota Mataram\n",
                        &ps, path),
              0);
    CHECK_STR(c->regency_code, "52");
    CHECK_STR(c->regency_province, "Nusa Tenggara Barat");
    CHECK_INT(c->n_regions, 2);
    CHECK_STR(c->regions[0].id, "lombok-utara");
    CHECK_STR(c->regions[0].code, "52.08");
    CHECK_STR(c->regions[0].province, "Nusa Tenggara Barat");
    CHECK(c->regions[1].code == NULL && c->regions[1].province == NULL);
    CHECK_INT(catalog_find_region(c, "mataram"), 1);
    CHECK_INT(catalog_find_region(c, "bima"), -1);
    catalog_free(c);
    CHECK_INT(load_text(&c, "[regency]\nid = r\nname = R\n", &ps, path), 0);
    CHECK(c->regency_code == NULL && c->regency_province == NULL && c->n_regions == 0);
    catalog_free(c);
}

/* CONTRACT §5: a KPI's name is optional and defaults to its id. */
TEST(catalog_kpi_name_defaults_to_id)
{
    struct catalog *c;
    struct harness_problems ps;
    char path[64];
    CHECK_INT(load_text(&c,
                        "[regency]\nid = r\nname = R\n[program p]\nname = P\ndimension = economy\n"
                        "[kpi p/kunjungan]\nmetric = m\nagg = sum\nperiod = year\ntarget = 10\n"
                        "[kpi p/named]\nname = Named\nmetric = m\nagg = sum\nperiod = year\n"
                        "target = 10\n",
                        &ps, path),
              0);
    CHECK_INT(c->n_kpis, 2);
    CHECK_STR(c->kpis[0].name, "kunjungan");
    CHECK_STR(c->kpis[1].name, "Named");
    catalog_free(c);
}

/* A date is a local day: its start and last ms move with the time zone. */
TEST(catalog_dates_in_each_time_zone)
{
    static const struct {
        const char *tz;
        int64_t offset, start, end;
    } cases[] = {
        {"WIB", 25200000, 1709139600000LL, 1709225999999LL},
        {"WITA", 28800000, 1709136000000LL, 1709222399999LL},
        {"WIT", 32400000, 1709132400000LL, 1709218799999LL},
        {"+05:30", 19800000, 1709145000000LL, 1709231399999LL},
        {"-03:30", -12600000, 1709177400000LL, 1709263799999LL},
        {"+00:00", 0, 1709164800000LL, 1709251199999LL},
        {"+14:00", 50400000, 1709114400000LL, 1709200799999LL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char text[512], path[64];
        struct catalog *c;
        struct harness_problems ps;
        snprintf(text, sizeof text,
                 "[kpi p/k]\nname = K\nmetric = m\nagg = sum\nperiod = total\ntarget = 1\n"
                 "start = 2024-02-29\ndeadline = 2024-02-29\n"
                 "[program p]\nname = P\ndimension = living\n"
                 "[regency]\nid = r\nname = R\ntimezone = %s\n",
                 cases[i].tz);
        int n = load_text(&c, text, &ps, path);
        if (n != 0) {
            fprintf(stderr, "  timezone %s:\n", cases[i].tz);
            harness_problems_dump(&ps);
        }
        CHECK_INT(n, 0);
        CHECK_INT(c->tz_offset_ms, cases[i].offset);
        CHECK_INT(c->kpis[0].start, cases[i].start);
        CHECK_INT(c->kpis[0].deadline, cases[i].end);
        char tz[8];
        catalog_format_tz(c->tz_offset_ms, tz);
        CHECK_STR(tz, cases[i].tz[0] == 'W' ? (cases[i].offset == 25200000   ? "+07:00"
                                               : cases[i].offset == 28800000 ? "+08:00"
                                                                             : "+09:00")
                                            : cases[i].tz);
        catalog_free(c);
    }
}

/* ---- bad catalogs: one problem each, at its line ---- */

/* 6 valid lines; each case's text starts at line 7. */
#define BASE "[regency]\nid = r\nname = R\n[program p]\nname = P\ndimension = economy\n"
#define KPI  "[kpi p/k]\nname = K\nmetric = m\nagg = sum\nperiod = year\ntarget = 10\n"
#define RULE "[rule r]\nprogram = p\nmetric = m\n"

static const struct bad_case {
    const char *name, *text;
    int line;
    const char *phrase;
} bad_cases[] = {
    /* sections and keys */
    {"unknown section", BASE "[widget]\nx = 1\n", 7, "unknown section [widget]"},
    {"regency with an id", BASE "[regency x]\n", 7, "unknown section [regency x]"},
    {"program without id", BASE "[program]\n", 7, "needs an id"},
    {"program bad id", BASE "[program Bad]\nname = x\n", 7, "bad program id \"Bad\""},
    {"kpi id without slash", BASE "[kpi k]\n", 7, "bad kpi id \"k\""},
    {"kpi id bad slug", BASE "[kpi p/K!]\n", 7, "bad kpi id"},
    {"rule bad id", BASE "[rule a b]\n", 7, "bad rule id"},
    {"key outside a section", "x = 1\n[regency]\nid = r\nname = R\n", 1, "outside any [section]"},
    {"unknown key", BASE "colour = red\n", 7, "unknown key \"colour\" in [program p]"},
    {"key twice", BASE "name = Q\n", 7, "\"name\" given twice in [program p] (first at line 5)"},
    {"regency twice", BASE "[regency]\n", 7, "[regency] given twice (first at line 1)"},
    {"masterplan twice", BASE "[masterplan]\n[masterplan]\n", 8, "[masterplan] given twice"},
    {"missing regency", "[program p]\nname = P\ndimension = economy\n", 0,
     "missing [regency] section"},
    {"line shape", BASE "just words\n", 7, "expected [section] or key = value"},
    {"indented continuation", BASE "  more\n", 7, "expected [section] or key = value"},
    {"line too long",
     BASE
     "description = "
     "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
     "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
     "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n",
     7, "line too long"},
    /* regency */
    {"regency missing name", "[regency]\nid = r\n", 1,
     "missing required key \"name\" in [regency]"},
    {"regency missing id", "[regency]\nname = R\n", 1, "missing required key \"id\""},
    {"regency bad id", "[regency]\nid = Lampung Tengah\nname = R\n", 2, "bad id"},
    {"regency empty name", "[regency]\nid = r\nname =\n", 3, "bad name"},
    {"regency bad code", "[regency]\nid = r\nname = R\ncode = 18.2\n", 4, "bad code \"18.2\""},
    {"regency code letters", "[regency]\nid = r\nname = R\ncode = AB\n", 4, "bad code"},
    {"regency code three parts", "[regency]\nid = r\nname = R\ncode = 18.02.01\n", 4, "bad code"},
    {"regency empty province", "[regency]\nid = r\nname = R\nprovince =\n", 4, "bad province"},
    {"region missing name", BASE "[region x]\ncode = 52\n", 7,
     "missing required key \"name\" in [region x]"},
    {"region bad id", BASE "[region X Y]\nname = X\n", 7, "bad region id"},
    {"region without id", BASE "[region]\n", 7, "needs an id"},
    {"region bad code", BASE "[region x]\nname = X\ncode = 5208\n", 9, "bad code"},
    {"region duplicate", BASE "[region x]\nname = X\n[region x]\nname = X\n", 9,
     "duplicate region \"x\""},
    {"region unknown key", BASE "[region x]\nname = X\ntimezone = WIB\n", 9,
     "unknown key \"timezone\" in [region x]"},
    {"tz JST", "[regency]\nid = r\nname = R\ntimezone = JST\n", 4, "bad timezone \"JST\""},
    {"tz hours 15", "[regency]\nid = r\nname = R\ntimezone = +15:00\n", 4, "bad timezone"},
    {"tz minutes 60", "[regency]\nid = r\nname = R\ntimezone = +07:60\n", 4, "bad timezone"},
    {"tz no sign", "[regency]\nid = r\nname = R\ntimezone = 07:00\n", 4, "bad timezone"},
    {"tz lowercase", "[regency]\nid = r\nname = R\ntimezone = wib\n", 4, "bad timezone"},
    /* masterplan */
    {"masterplan unknown dimension", BASE "[masterplan]\nsmartness = 1/2\n", 8,
     "unknown key \"smartness\" in [masterplan]"},
    {"masterplan running > total", BASE "[masterplan]\nliving = 3/2\n", 8, "bad living \"3/2\""},
    {"masterplan negative", BASE "[masterplan]\nliving = -1/2\n", 8, "bad living"},
    {"masterplan no slash", BASE "[masterplan]\nliving = 3\n", 8, "bad living"},
    {"masterplan fraction", BASE "[masterplan]\nliving = 1.5/2\n", 8, "bad living"},
    /* programs */
    {"program missing name", "[regency]\nid = r\nname = R\n[program q]\ndimension = living\n", 4,
     "missing required key \"name\" in [program q]"},
    {"program missing dimension", "[regency]\nid = r\nname = R\n[program q]\nname = Q\n", 4,
     "missing required key \"dimension\""},
    {"program bad dimension", BASE "[program q]\nname = Q\ndimension = smart\n", 9,
     "bad dimension \"smart\""},
    {"program bad status", BASE "status = paused\n", 7, "bad status \"paused\""},
    {"duplicate program", BASE "[program p]\nname = P\ndimension = living\n", 7,
     "duplicate program \"p\" (first at line 4)"},
    {"duration no unit", BASE "stale_after = 30\n", 7, "bad stale_after \"30\""},
    {"duration 0s", BASE "stale_after = 0s\n", 7, "bad stale_after"},
    {"duration week", BASE "stale_after = 1w\n", 7, "bad stale_after"},
    {"duration negative", BASE "stale_after = -5m\n", 7, "bad stale_after"},
    {"duration fraction", BASE "stale_after = 1.5h\n", 7, "bad stale_after"},
    /* KPIs */
    {"kpi unknown program",
     BASE "[kpi q/k]\nname = K\nmetric = m\nagg = sum\nperiod = year\n"
          "target = 1\n",
     7, "kpi \"q/k\": unknown program \"q\""},
    {"duplicate kpi",
     BASE KPI "[kpi p/k]\nname = K\nmetric = m\nagg = sum\nperiod = year\n"
              "target = 1\n",
     13, "duplicate kpi \"p/k\" (first at line 7)"},
    {"kpi missing metric", BASE "[kpi p/k]\nname = K\nagg = sum\nperiod = year\ntarget = 1\n", 7,
     "missing required key \"metric\""},
    {"kpi missing agg", BASE "[kpi p/k]\nname = K\nmetric = m\nperiod = year\ntarget = 1\n", 7,
     "missing required key \"agg\""},
    {"kpi missing period", BASE "[kpi p/k]\nname = K\nmetric = m\nagg = sum\ntarget = 1\n", 7,
     "missing required key \"period\""},
    {"kpi missing target", BASE "[kpi p/k]\nname = K\nmetric = m\nagg = sum\nperiod = year\n", 7,
     "missing required key \"target\""},
    {"kpi bad metric",
     BASE "[kpi p/k]\nname = K\nmetric = Visits\nagg = sum\nperiod = year\n"
          "target = 1\n",
     9, "bad metric \"Visits\""},
    {"kpi bad agg",
     BASE "[kpi p/k]\nname = K\nmetric = m\nagg = median\nperiod = year\n"
          "target = 1\n",
     10, "bad agg \"median\""},
    {"kpi distinct without label",
     BASE "[kpi p/k]\nname = K\nmetric = m\nagg = distinct\n"
          "period = year\ntarget = 1\n",
     10, "bad agg \"distinct\""},
    {"kpi distinct bad label",
     BASE "[kpi p/k]\nname = K\nmetric = m\nagg = distinct:Kampung\n"
          "period = year\ntarget = 1\n",
     10, "bad agg"},
    {"kpi bad period",
     BASE "[kpi p/k]\nname = K\nmetric = m\nagg = sum\nperiod = decade\n"
          "target = 1\n",
     11, "bad period \"decade\""},
    {"kpi range reversed",
     BASE "[kpi p/k]\nname = K\nmetric = m\nagg = sum\n"
          "period = 2024-03-01..2024-02-01\ntarget = 1\n",
     11, "bad period"},
    {"kpi range not a date",
     BASE "[kpi p/k]\nname = K\nmetric = m\nagg = sum\n"
          "period = 2023-02-29..2023-03-01\ntarget = 1\n",
     11, "bad period"},
    {"kpi bad target",
     BASE "[kpi p/k]\nname = K\nmetric = m\nagg = sum\nperiod = year\n"
          "target = 10 kampung\n",
     12, "bad target \"10 kampung\""},
    {"kpi target nan",
     BASE "[kpi p/k]\nname = K\nmetric = m\nagg = sum\nperiod = year\n"
          "target = nan\n",
     12, "bad target"},
    {"kpi target inf",
     BASE "[kpi p/k]\nname = K\nmetric = m\nagg = sum\nperiod = year\n"
          "target = inf\n",
     12, "bad target"},
    {"kpi bad baseline", BASE KPI "baseline = x\n", 13, "bad baseline"},
    {"kpi target == baseline", BASE KPI "baseline = 10\n", 12, "target equals baseline"},
    {"kpi target == default baseline",
     BASE "[kpi p/k]\nname = K\nmetric = m\nagg = sum\nperiod = year\ntarget = 0\n", 12,
     "target equals baseline"},
    {"kpi bad date", BASE KPI "start = 2024-13-01\n", 13, "bad start \"2024-13-01\""},
    {"kpi Feb 30", BASE KPI "deadline = 2024-02-30\n", 13, "bad deadline"},
    {"kpi Feb 29 not leap", BASE KPI "deadline = 1900-02-29\n", 13, "bad deadline"},
    {"kpi date short", BASE KPI "start = 2024-1-01\n", 13, "bad start"},
    {"kpi start after deadline", BASE KPI "start = 2024-06-02\ndeadline = 2024-06-01\n", 13,
     "start must be before deadline"},
    {"kpi start after range",
     BASE "[kpi p/k]\nname = K\nmetric = m\nagg = sum\n"
          "period = 2024-01-01..2024-01-31\ntarget = 1\n"
          "start = 2024-02-01\n",
     13, "start must be before deadline"},
    {"kpi deadline before range",
     BASE "[kpi p/k]\nname = K\nmetric = m\nagg = sum\n"
          "period = 2024-01-10..2024-01-31\ntarget = 1\n"
          "deadline = 2024-01-09\n",
     13, "start must be before deadline"},
    {"kpi total without start",
     BASE "[kpi p/k]\nname = K\nmetric = m\nagg = sum\n"
          "period = total\ntarget = 1\ndeadline = 2024-12-31\n",
     7, "missing required key \"start\" in [kpi p/k] (period total)"},
    {"kpi total without deadline",
     BASE "[kpi p/k]\nname = K\nmetric = m\nagg = sum\n"
          "period = total\ntarget = 1\nstart = 2024-01-01\n",
     7, "missing required key \"deadline\""},
    {"labels no =", BASE KPI "labels = doc\n", 13, "bad labels \"doc\""},
    {"labels bad key", BASE KPI "labels = Doc=ktp\n", 13, "bad labels"},
    {"labels empty value", BASE KPI "labels = doc=\n", 13, "bad labels"},
    {"labels value too long",
     BASE KPI "labels = doc=xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n",
     13, "bad labels"},
    {"labels duplicate key", BASE KPI "labels = doc=a, doc=b\n", 13, "given twice"},
    {"labels trailing comma", BASE KPI "labels = doc=a,\n", 13, "bad labels"},
    {"labels nine", BASE KPI "labels = a=1,b=1,c=1,d=1,e=1,f=1,g=1,h=1,i=1\n", 13, "bad labels"},
    {"units bad slug", BASE KPI "units = Van 01\n", 13, "bad units"},
    {"units empty item", BASE KPI "units = van-01,,van-02\n", 13, "bad units"},
    {"kpi empty display_unit", BASE KPI "display_unit =\n", 13, "bad display_unit"},
    /* rules */
    {"rule no condition", BASE RULE, 7, "needs one condition"},
    {"rule two conditions", BASE RULE "above = 1\nbelow = 0\n", 11,
     "more than one condition: above and below"},
    {"rule above and silent", BASE RULE "above = 1\nsilent = 5m\n", 11,
     "more than one condition: above and silent"},
    {"rule missing program", BASE "[rule r]\nmetric = m\nabove = 1\n", 7,
     "missing required key \"program\" in [rule r]"},
    {"rule unknown program", BASE "[rule r]\nprogram = q\nmetric = m\nabove = 1\n", 7,
     "rule \"r\": unknown program \"q\""},
    {"rule missing metric", BASE "[rule r]\nprogram = p\nabove = 1\n", 7,
     "missing required key \"metric\" in [rule r]"},
    {"duplicate rule", BASE RULE "above = 1\n" RULE "above = 2\n", 11,
     "duplicate rule \"r\" (first at line 7)"},
    {"rule bad above", BASE RULE "above = high\n", 10, "bad above \"high\""},
    {"rule bad below", BASE RULE "below = 1e999\n", 10, "bad below"},
    {"rule reference without %", BASE RULE "above_reference = 10\nreference = r\nmatch = c\n", 10,
     "bad above_reference \"10\""},
    {"rule negative percent", BASE RULE "below_reference = -5%\nreference = r\nmatch = c\n", 10,
     "bad below_reference"},
    {"rule reference missing", BASE RULE "above_reference = 10%\nmatch = c\n", 7,
     "missing required key \"reference\""},
    {"rule match missing", BASE RULE "above_reference = 10%\nreference = r\n", 7,
     "missing required key \"match\""},
    {"rule bad reference", BASE RULE "above_reference = 10%\nreference = Ref\nmatch = c\n", 11,
     "bad reference"},
    {"rule bad match", BASE RULE "above_reference = 10%\nreference = r\nmatch = c-1\n", 12,
     "bad match"},
    {"rule reference with above", BASE RULE "above = 1\nreference = r\n", 11,
     "reference applies only to above_reference/below_reference"},
    {"rule match with below", BASE RULE "below = 1\nmatch = c\n", 11, "match applies only"},
    {"rule silent zero", BASE "[rule r]\nprogram = p\nsilent = 0\n", 9, "bad silent \"0\""},
    {"rule silent no unit", BASE "[rule r]\nprogram = p\nsilent = 15\n", 9, "bad silent"},
    {"rule silent with metric", BASE RULE "silent = 15m\n", 9,
     "metric does not apply to a silent rule"},
    {"rule silent with clear", BASE "[rule r]\nprogram = p\nsilent = 15m\nclear = 1\n", 10,
     "no clear"},
    {"rule clear above X", BASE RULE "above = 10\nclear = 11\n", 11, "clear 11 must be <= above"},
    {"rule clear below X", BASE RULE "below = 10\nclear = 9\n", 11, "clear 9 must be >= below"},
    {"rule clear with reference",
     BASE RULE "above_reference = 10%\nreference = r\nmatch = c\n"
               "clear = 5\n",
     13, "clear applies to above/below"},
    {"rule clear_reference with above", BASE RULE "above = 10\nclear_reference = 5%\n", 11,
     "clear_reference applies to above_reference/below_reference"},
    {"rule clear_reference > P",
     BASE RULE "below_reference = 10%\nreference = r\nmatch = c\n"
               "clear_reference = 12%\n",
     13, "clear_reference 12% must be <= below_reference 10%"},
    {"rule bad clear_reference",
     BASE RULE "below_reference = 10%\nreference = r\nmatch = c\n"
               "clear_reference = 5\n",
     13, "bad clear_reference"},
    {"rule bad for", BASE RULE "above = 1\nfor = soon\n", 11, "bad for \"soon\""},
    {"rule bad severity", BASE RULE "above = 1\nseverity = fatal\n", 11, "bad severity"},
    {"rule bad escalate", BASE RULE "above = 1\nescalate = soon\n", 11, "bad escalate \"soon\""},
    {"rule negative escalate", BASE RULE "above = 1\nescalate = -5m\n", 11,
     "bad escalate \"-5m\": expected 0 or a positive number"},
    {"rule escalate without unit", BASE RULE "above = 1\nescalate = 30\n", 11, "bad escalate"},
    {"rule escalate twice", BASE RULE "above = 1\nescalate = 1m\nescalate = 2m\n", 12,
     "\"escalate\" given twice"},
    {"rule unknown key", BASE RULE "above = 1\nwebhook = x\n", 11,
     "unknown key \"webhook\" in [rule r]"},
};

TEST(catalog_bad_table)
{
    for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
        const struct bad_case *bc = &bad_cases[i];
        struct catalog *c = (struct catalog *)1;
        struct harness_problems ps;
        char path[64];
        int n = load_text(&c, bc->text, &ps, path);
        if (n != 1 || !has_problem(&ps, path, bc->line, bc->phrase)) {
            fprintf(stderr, "  case \"%s\": want exactly %s:%d: ...%s...\n", bc->name, path,
                    bc->line, bc->phrase);
            harness_problems_dump(&ps);
        }
        CHECK_INT(n, 1);
        CHECK(has_problem(&ps, path, bc->line, bc->phrase));
        CHECK(c == NULL);
    }
}

/* Every problem, not just the first, in one run; the file goes on after each. */
TEST(catalog_reports_every_problem)
{
    static const char text[] = "[regency]\n"              /* 1 */
                               "id = Bad Id\n"            /* 2 */
                               "timezone = +15:00\n"      /* 3: and name missing at 1 */
                               "[masterplan]\n"           /* 4 */
                               "governance = 11/10\n"     /* 5 */
                               "[program p1]\n"           /* 6 */
                               "name = P\n"               /* 7 */
                               "dimension = governance\n" /* 8 */
                               "bogus = 1\n"              /* 9 */
                               "[kpi ghost/k]\n"          /* 10 */
                               "name = K\n"               /* 11 */
                               "metric = m\n"             /* 12 */
                               "agg = sum\n"              /* 13 */
                               "period = week\n"          /* 14 */
                               "target = 5\n"             /* 15 */
                               "[rule r]\n"               /* 16 */
                               "program = p1\n"           /* 17 */
                               "metric = m\n"             /* 18 */
                               "above = 1\n"              /* 19 */
                               "below = 0\n"              /* 20 */
                               "[widget]\n"               /* 21 */
                               "garbage\n";               /* 22 */
    static const struct {
        int line;
        const char *phrase;
    } want[] = {{2, "bad id"},
                {3, "bad timezone"},
                {1, "missing required key \"name\" in [regency]"},
                {5, "bad governance"},
                {9, "unknown key \"bogus\""},
                {10, "unknown program \"ghost\""},
                {20, "more than one condition"},
                {21, "unknown section [widget]"},
                {22, "expected [section] or key = value"}};
    struct catalog *c;
    struct harness_problems ps;
    char path[64];
    int n = load_text(&c, text, &ps, path);
    if (n != (int)(sizeof want / sizeof want[0]))
        harness_problems_dump(&ps);
    CHECK_INT(n, sizeof want / sizeof want[0]);
    CHECK(c == NULL);
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        if (!has_problem(&ps, path, want[i].line, want[i].phrase)) {
            harness_problems_dump(&ps);
            CHECK_FAIL_("no problem at line %d with \"%s\"", want[i].line, want[i].phrase);
        }
    }
}

TEST(catalog_missing_file)
{
    struct catalog *c = (struct catalog *)1;
    struct harness_problems ps = {0};
    CHECK_INT(catalog_load(&c, "/nonexistent/catalog.ini", harness_problem, &ps), 1);
    CHECK(c == NULL);
    CHECK_INT(ps.p[0].line, 0);
    CHECK_STR(ps.p[0].file, "/nonexistent/catalog.ini");
    CHECK(strstr(ps.p[0].text, "cannot open"));
}

/* Empty sections still have their required keys checked, at the header. */
TEST(catalog_empty_sections)
{
    struct catalog *c;
    struct harness_problems ps;
    char path[64];
    int n = load_text(&c, "[regency]\n[program p]\n[kpi p/k]\n[rule r]\n", &ps, path);
    CHECK(has_problem(&ps, path, 1, "missing required key \"id\""));
    CHECK(has_problem(&ps, path, 1, "missing required key \"name\""));
    CHECK(has_problem(&ps, path, 2, "missing required key \"name\" in [program p]"));
    CHECK(has_problem(&ps, path, 2, "missing required key \"dimension\""));
    CHECK(has_problem(&ps, path, 3, "missing required key \"target\""));
    CHECK(has_problem(&ps, path, 4, "needs one condition"));
    CHECK(has_problem(&ps, path, 4, "missing required key \"program\""));
    CHECK(n >= 7);
}

/* Values at the edges that are valid. */
TEST(catalog_edge_values)
{
    struct catalog *c;
    struct harness_problems ps;
    char path[64];
    int n = load_text(&c,
                      BASE "stale_after = 0\n"                               /* 7 */
                           "[kpi p/k]\nname = K\nmetric = m\nagg = units\n"  /* 8-11 */
                           "period = 2024-02-29..2024-02-29\ntarget = 1e3\n" /* 12-13 */
                           "start = 2024-02-29\ndeadline = 2024-02-29\n"     /* 14-15 */
                           "labels = a=1,b=2,c=3,d=4,e=5,f=6,g=7,h=x=y\n"    /* 16 */
                           "[rule r]\nprogram = p\nmetric = m\nbelow_reference = 0%\n"
                           "reference = ref\nmatch = a\nclear_reference = 0%\nfor = 0\n"
                           "[rule s]\nprogram = p\nmetric = m\nabove = -1.5\nclear = -1.5\n"
                           "severity = info\nescalate = 0\n"
                           "[rule t]\nprogram = p\nsilent = 1s\nescalate = 2s\n",
                      &ps, path);
    if (n != 0)
        harness_problems_dump(&ps);
    CHECK_INT(n, 0);
    CHECK_INT(c->programs[0].stale_after_ms, 0);
    CHECK_INT(c->kpis[0].agg, KPI_UNITS);
    CHECK_INT(c->kpis[0].range_to - c->kpis[0].range_from, 86400000 - 1);
    CHECK_INT(c->kpis[0].match.n_labels, 8);
    CHECK_STR(c->kpis[0].match.labels[7].value, "x=y");
    CHECK_INT(c->rules[0].condition, RULE_BELOW_REFERENCE);
    CHECK_DBL(c->rules[0].threshold, 0);
    CHECK_DBL(c->rules[0].clear, 0);
    CHECK_INT(c->rules[1].severity, SEVERITY_INFO);
    CHECK_DBL(c->rules[1].clear, -1.5);
    CHECK(!c->rules[0].escalates); /* not given: never escalated */
    CHECK(c->rules[1].escalates);  /* 0: at the first check after it fires */
    CHECK_INT(c->rules[1].escalate_ms, 0);
    CHECK(c->rules[2].escalates);
    CHECK_INT(c->rules[2].escalate_ms, 2000);
    catalog_free(c);
}

/* ---- names and matching ---- */

TEST(catalog_names)
{
    CHECK_STR(catalog_dimension_id(DIM_GOVERNANCE), "governance");
    CHECK_STR(catalog_dimension_id(DIM_ENVIRONMENT), "environment");
    CHECK_STR(catalog_dimension_name(DIM_LIVING), "Smart Living");
    CHECK_STR(catalog_dimension_name(DIM_SOCIETY), "Smart Society");
    CHECK_STR(catalog_program_status_name(PROGRAM_PLANNED), "planned");
    CHECK_STR(catalog_program_status_name(PROGRAM_DONE), "done");
    CHECK_STR(catalog_severity_name(SEVERITY_CRITICAL), "critical");
    CHECK_STR(catalog_severity_name(SEVERITY_WARNING), "warning");
    char tz[8];
    catalog_format_tz(-5 * 3600000LL - 45 * 60000LL, tz);
    CHECK_STR(tz, "-05:45");
}

TEST(catalog_match_series_cases)
{
    char *units[] = {"van-01", "van-02"};
    struct catalog_match any = {.metric = "visits"};
    struct catalog_match filtered = {.metric = "visits",
                                     .labels = {{"doc", "ktp"}, {"kampung", "*"}},
                                     .n_labels = 2,
                                     .units = units,
                                     .n_units = 2};
    const struct {
        const struct catalog_match *m;
        const char *unit, *labels;
        bool want;
    } cases[] = {
        {&any, "van-09", "{}", true},
        {&any, "van-09", "{\"doc\":\"kk\"}", true},
        {&filtered, "van-01", "{\"doc\":\"ktp\",\"kampung\":\"gunung-sugih\"}", true},
        {&filtered, "van-02", "{\"doc\":\"ktp\",\"extra\":\"x\",\"kampung\":\"a\"}", true},
        {&filtered, "van-03", "{\"doc\":\"ktp\",\"kampung\":\"gunung-sugih\"}", false},
        {&filtered, "van-01", "{\"doc\":\"kk\",\"kampung\":\"gunung-sugih\"}", false},
        {&filtered, "van-01", "{\"doc\":\"ktp\"}", false}, /* '*' still needs the key */
        {&filtered, "van-01", "{}", false},
        {&filtered, "van-01", "not json", false},
        {&filtered, "van-01", "{\"doc\":\"KTP\",\"kampung\":\"a\"}", false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        bool got = catalog_match_series(cases[i].m, cases[i].unit, cases[i].labels);
        if (got != cases[i].want)
            CHECK_FAIL_("case %zu: %s %s: got %d", i, cases[i].unit, cases[i].labels, got);
    }
}

/* ---- the real binary ---- */

static int run_check(const char *catalog, const char *log)
{
    char bin[PATH_MAX + 32];
    snprintf(bin, sizeof bin, "%s/../pantaud", harness_bin_dir());
    char *argv[] = {bin, "--check-config", "--catalog", (char *)catalog, NULL};
    pid_t pid = harness_spawn(argv, log, NULL);
    if (pid <= 0)
        return -1;
    return harness_stop(pid, 0, 5000);
}

TEST(catalog_check_config_binary)
{
    char bad[512], good[512], log[512], want[600];
    snprintf(bad, sizeof bad, "%s/bad-catalog.ini", harness_tmpdir());
    snprintf(good, sizeof good, "%s/good-catalog.ini", harness_tmpdir());
    snprintf(log, sizeof log, "%s/catalog.log", harness_tmpdir());
    FILE *f = fopen(bad, "w");
    CHECK(f);
    fputs(BASE "status = paused\n[kpi q/k]\n", f);
    fclose(f);
    int status = run_check(bad, log);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) != 0);
    snprintf(want, sizeof want, "%s:7: bad status \"paused\"", bad);
    CHECK(harness_wait_log(log, want, 1000));
    snprintf(want, sizeof want, "%s:8: missing required key \"metric\" in [kpi q/k]", bad);
    CHECK(harness_wait_log(log, want, 1000));

    f = fopen(good, "w");
    CHECK(f);
    fputs(full_catalog, f);
    fclose(f);
    status = run_check(good, log);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    snprintf(want, sizeof want, "%s: catalog is valid", good);
    CHECK(harness_wait_log(log, want, 1000));
}

TEST_MAIN(CASE(catalog_full_valid), CASE(catalog_minimal_defaults),
          CASE(catalog_code_province_regions), CASE(catalog_kpi_name_defaults_to_id),
          CASE(catalog_dates_in_each_time_zone), CASE(catalog_bad_table),
          CASE(catalog_reports_every_problem), CASE(catalog_missing_file),
          CASE(catalog_empty_sections), CASE(catalog_edge_values), CASE(catalog_names),
          CASE(catalog_match_series_cases), CASE(catalog_check_config_binary))
