/* federation_state.c — see federation_state.h. */
#include "federation_state.h"

#include <string.h>

#include "parse.h"
#include "util.h"
#include "wire.h"

static bool is_str_or_null(const json_t *v)
{
    return json_is_string(v) || json_is_null(v);
}

static bool is_num_or_null(const json_t *v)
{
    return json_is_number(v) || json_is_null(v);
}

/* The status named s, or -1. */
static int status_of(const char *s)
{
    for (int i = 0; i < KPI_STATUS_COUNT; i++)
        if (strcmp(kpi_status_name((enum kpi_status)i), s) == 0)
            return i;
    return -1;
}

/* A health or KPI status: a known name, or null when allowed. */
static bool is_status(const json_t *v, bool null_ok)
{
    if (json_is_null(v))
        return null_ok;
    return json_is_string(v) && status_of(json_string_value(v)) >= 0;
}

static int dimension_of(const char *s)
{
    for (int d = 0; d < DIM_COUNT; d++)
        if (strcmp(catalog_dimension_id((enum catalog_dimension)d), s) == 0)
            return d;
    return -1;
}

static bool is_tz(const char *s)
{
    /* ±HH:MM as wire_regency writes it */
    return strlen(s) == 6 && (s[0] == '+' || s[0] == '-') && s[1] >= '0' && s[1] <= '9' &&
           s[2] >= '0' && s[2] <= '9' && s[3] == ':' && s[4] >= '0' && s[4] <= '5' && s[5] >= '0' &&
           s[5] <= '9';
}

static int check_regency(const json_t *r, const char *topic_id, struct fed_summary *out,
                         const char **why)
{
    const json_t *id = json_object_get(r, "id"), *name = json_object_get(r, "name");
    const json_t *code = json_object_get(r, "code"), *prov = json_object_get(r, "province");
    const json_t *tz = json_object_get(r, "timezone");
    if (!json_is_object(r))
        return *why = "regency is not an object", -1;
    if (!json_is_string(id) || !util_is_slug(json_string_value(id), strlen(json_string_value(id))))
        return *why = "regency.id is not a slug", -1;
    if (strcmp(json_string_value(id), topic_id) != 0)
        return *why = "regency.id differs from the topic's", -1;
    if (!json_is_string(name) || json_string_length(name) == 0)
        return *why = "regency.name is not a non-empty string", -1;
    if (!is_str_or_null(code) ||
        (json_is_string(code) && !catalog_valid_code(json_string_value(code))))
        return *why = "regency.code is neither NN, NN.NN nor null", -1;
    if (!is_str_or_null(prov))
        return *why = "regency.province is neither a string nor null", -1;
    if (!json_is_string(tz) || !is_tz(json_string_value(tz)))
        return *why = "regency.timezone is not +HH:MM", -1;
    out->id = json_string_value(id);
    out->name = json_string_value(name);
    out->code = json_string_value(code);
    out->province = json_string_value(prov);
    return 0;
}

static int check_kpis(const json_t *kpis, const char **why)
{
    size_t i;
    const json_t *k;
    if (!json_is_array(kpis))
        return *why = "a program's kpis is not an array", -1;
    json_array_foreach(kpis, i, k)
    {
        if (!json_is_object(k) || !json_is_string(json_object_get(k, "id")) ||
            !is_num_or_null(json_object_get(k, "current")) ||
            !is_status(json_object_get(k, "status"), false))
            return *why = "a KPI lacks id, current or a status", -1;
    }
    return 0;
}

/* PROGRAMs, and the summary's progress and health (§7: mean with null as
 * 0, worst health). */
static int check_programs(const json_t *programs, struct fed_summary *out, const char **why)
{
    size_t i;
    const json_t *p;
    double sum = 0;
    int worst = -1;
    if (!json_is_array(programs))
        return *why = "programs is not an array", -1;
    json_array_foreach(programs, i, p)
    {
        const json_t *dim = json_object_get(p, "dimension"), *st = json_object_get(p, "status");
        const json_t *progress = json_object_get(p, "progress"), *h = json_object_get(p, "health");
        if (!json_is_object(p) || !json_is_string(json_object_get(p, "id")) ||
            !json_is_string(json_object_get(p, "name")))
            return *why = "a program lacks id or name", -1;
        if (!json_is_string(dim) || dimension_of(json_string_value(dim)) < 0)
            return *why = "a program's dimension is not one of the six", -1;
        if (!json_is_string(st) || (strcmp(json_string_value(st), "planned") != 0 &&
                                    strcmp(json_string_value(st), "running") != 0 &&
                                    strcmp(json_string_value(st), "done") != 0))
            return *why = "a program's status is not planned, running or done", -1;
        if (!is_num_or_null(progress) || !is_status(h, true))
            return *why = "a program's progress or health is not valid", -1;
        if (check_kpis(json_object_get(p, "kpis"), why) != 0)
            return -1;
        if (json_is_number(progress))
            sum += json_number_value(progress);
        if (json_is_string(h)) {
            int s = status_of(json_string_value(h));
            if (worst < 0 || s < worst)
                worst = s;
        }
    }
    out->programs = (int)json_array_size(programs);
    out->has_progress = out->programs > 0;
    out->progress = out->programs > 0 ? sum / out->programs : 0;
    out->has_health = worst >= 0;
    out->health = worst >= 0 ? (enum kpi_status)worst : KPI_NO_DATA;
    return 0;
}

static int check_dimensions(const json_t *dims, struct fed_summary *out, const char **why)
{
    if (!json_is_array(dims) || json_array_size(dims) != DIM_COUNT)
        return *why = "dimensions is not an array of the six", -1;
    for (int d = 0; d < DIM_COUNT; d++) {
        const json_t *o = json_array_get(dims, (size_t)d);
        const json_t *id = json_object_get(o, "id"), *progress = json_object_get(o, "progress");
        if (!json_is_object(o) || !json_is_string(id) ||
            strcmp(json_string_value(id), catalog_dimension_id((enum catalog_dimension)d)) != 0)
            return *why = "dimensions are not the six in order", -1;
        if (!is_num_or_null(progress))
            return *why = "a dimension's progress is not a number or null", -1;
        out->dim_has[d] = json_is_number(progress);
        out->dim_progress[d] = out->dim_has[d] ? json_number_value(progress) : 0;
    }
    out->dimensions = dims;
    return 0;
}

static int check_alerts(const json_t *alerts, struct fed_summary *out, const char **why)
{
    size_t i;
    const json_t *a;
    if (!json_is_array(alerts))
        return *why = "alerts is not an array", -1;
    json_array_foreach(alerts, i, a)
    {
        if (!json_is_object(a) || !json_is_integer(json_object_get(a, "id")) ||
            !json_is_string(json_object_get(a, "state")))
            return *why = "an alert lacks an id or a state", -1;
    }
    out->alerts_firing = (int)json_array_size(alerts);
    return 0;
}

static int check_units(const json_t *u, struct fed_summary *out, const char **why)
{
    static const char *const keys[] = {"online", "offline", "stale"};
    if (!json_is_object(u))
        return *why = "units is not an object", -1;
    for (int i = 0; i < 3; i++) {
        const json_t *n = json_object_get(u, keys[i]);
        if (!json_is_integer(n) || json_integer_value(n) < 0)
            return *why = "units needs online, offline and stale counts", -1;
    }
    out->units = u;
    return 0;
}

int fed_state_check(const json_t *root, const char *topic_id, int64_t now_ms,
                    struct fed_summary *out, const char **why)
{
    memset(out, 0, sizeof *out);
    if (!json_is_object(root))
        return *why = "not a JSON object", -1;
    const json_t *gen = json_object_get(root, "generated_at");
    if (check_regency(json_object_get(root, "regency"), topic_id, out, why) != 0)
        return -1;
    if (!json_is_integer(gen) || json_integer_value(gen) < PARSE_MIN_TS_MS)
        return *why = "generated_at is not epoch ms after 2000", -1;
    if (json_integer_value(gen) > now_ms + FED_MAX_FUTURE_MS)
        return *why = "generated_at is more than 5 minutes ahead of the hub's clock", -1;
    out->generated_at = json_integer_value(gen);
    if (check_programs(json_object_get(root, "programs"), out, why) != 0 ||
        check_dimensions(json_object_get(root, "dimensions"), out, why) != 0 ||
        check_alerts(json_object_get(root, "alerts"), out, why) != 0 ||
        check_units(json_object_get(root, "units"), out, why) != 0)
        return -1;
    return 0;
}

void fed_dims_object(struct buf *b, const struct fed_summary *s)
{
    buf_puts(b, "{");
    for (int d = 0; d < DIM_COUNT; d++) {
        buf_printf(b, "%s\"%s\":", d ? "," : "", catalog_dimension_id((enum catalog_dimension)d));
        wire_opt_num(b, s->dim_has[d], s->dim_progress[d]);
    }
    buf_puts(b, "}");
}

void fed_region_json(struct buf *b, const struct fed_region_view *r, int64_t now_ms,
                     int64_t stale_ms)
{
    bool stale = !r->heard || now_ms - r->last_seen > stale_ms;
    buf_puts(b, "{\"id\":");
    buf_json_str(b, r->id);
    buf_puts(b, ",\"name\":");
    wire_opt_str(b, r->name);
    buf_puts(b, ",\"code\":");
    wire_opt_str(b, r->code);
    buf_puts(b, ",\"province\":");
    wire_opt_str(b, r->province);
    buf_puts(b, ",\"last_seen\":");
    if (r->heard)
        buf_printf(b, "%lld", (long long)r->last_seen);
    else
        buf_puts(b, "null");
    buf_printf(b, ",\"stale\":%s,\"progress\":", stale ? "true" : "false");
    wire_opt_num(b, r->heard && r->has_progress, r->progress);
    buf_puts(b, ",\"health\":");
    if (r->heard && r->health >= 0)
        buf_printf(b, "\"%s\"", kpi_status_name((enum kpi_status)r->health));
    else
        buf_puts(b, "null");
    if (!r->heard) {
        buf_puts(b, ",\"dimensions\":null,\"programs\":null,\"alerts_firing\":null,"
                    "\"units\":null}");
        return;
    }
    buf_printf(b, ",\"dimensions\":%s,\"programs\":%d,\"alerts_firing\":%d,\"units\":%s}",
               r->dimensions_json, r->programs, r->alerts_firing, r->units_json);
}

int fed_region_order(const char *code_a, const char *id_a, const char *code_b, const char *id_b)
{
    if (code_a && code_b) {
        int c = strcmp(code_a, code_b);
        if (c)
            return c;
    } else if (code_a || code_b) {
        return code_a ? -1 : 1; /* without a code last */
    }
    return strcmp(id_a, id_b);
}

uint64_t fed_fp(uint64_t h, const void *data, size_t len)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 1099511628211ULL;
    }
    return h;
}
