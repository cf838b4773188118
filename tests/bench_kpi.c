/* bench_kpi.c — builds the data for the KPI figures of make bench (the
 * timing itself is scripts/bench's, through pantaud's HTTP API):
 *   bench_kpi DB CATALOG
 * writes a catalog of 50 programs x 3 KPIs (sum over the year, avg over the
 * month, distinct sites over all time) and a year of their data to DB:
 * per program 2 units x (1 hourly series of each of two metrics + 10 sites
 * visited once a day), about 2.1 million samples in 1,200 series. */
#include <stdio.h>
#include <stdlib.h>

#include "log.h"
#include "store.h"
#include "util.h"

#define PROGRAMS 50
#define HOUR     INT64_C(3600000)
#define DAY      INT64_C(86400000)

static int write_catalog(const char *path)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    static const char *const dims[] = {"governance", "branding", "economy",
                                       "living",     "society",  "environment"};
    fprintf(f, "[regency]\nid = bench\nname = Kabupaten Bench\ntimezone = WIB\n\n");
    for (int p = 0; p < PROGRAMS; p++) {
        fprintf(f, "[program p%02d]\nname = Program %d\ndimension = %s\n\n", p, p, dims[p % 6]);
        fprintf(f,
                "[kpi p%02d/total]\nname = Total\nmetric = m1\nagg = sum\nperiod = year\n"
                "target = 1000000\n\n",
                p);
        fprintf(f,
                "[kpi p%02d/mean]\nname = Mean\nmetric = m2\nagg = avg\nperiod = month\n"
                "target = 100\n\n",
                p);
        fprintf(f,
                "[kpi p%02d/sites]\nname = Sites\nmetric = m3\nagg = distinct:site\n"
                "period = total\nstart = 2025-01-01\ndeadline = 2027-12-31\ntarget = 10\n\n",
                p);
    }
    return fclose(f);
}

static int append(struct store *s, const char *program, const char *unit, const char *metric,
                  const char *labels, int64_t ts, double value)
{
    struct sample x = {.program = program,
                       .unit = unit,
                       .metric = metric,
                       .labels_json = labels,
                       .ts = ts,
                       .value = value};
    return store_append(s, &x, ts, NULL);
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: bench_kpi DB CATALOG\n");
        return 2;
    }
    log_set_level(LOG_LVL_WARN);
    if (write_catalog(argv[2]) != 0)
        return 1;
    struct store *s;
    if (store_open(&s, argv[1]) != 0)
        return 1;
    int64_t end = util_now_ms() / HOUR * HOUR, start = end - 365 * DAY;
    long n = 0;
    for (int64_t ts = start; ts < end; ts += HOUR) {
        for (int p = 0; p < PROGRAMS; p++) {
            char program[16], unit[16], labels[32];
            snprintf(program, sizeof program, "p%02d", p);
            for (int u = 0; u < 2; u++) {
                snprintf(unit, sizeof unit, "unit-%d", u);
                append(s, program, unit, "m1", "{}", ts, (double)(ts / HOUR % 7));
                append(s, program, unit, "m2", "{}", ts, (double)(ts / HOUR % 100));
                n += 2;
                if ((ts - start) % DAY == (int64_t)(p % 24) * HOUR) {
                    snprintf(labels, sizeof labels, "{\"site\":\"s%d\"}", (int)(ts / DAY % 10));
                    append(s, program, unit, "m3", labels, ts, 1);
                    n++;
                }
            }
        }
        store_commit(s);
    }
    store_close(s);
    printf("bench_kpi: %ld samples over a year, %d programs x 3 KPIs\n", n, PROGRAMS);
    return 0;
}
