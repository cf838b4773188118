/* fuzz_csv.c — libFuzzer target for the CSV reader of import.csv (csv.c):
 * the input is a body, read byte by byte as http.c would hand it over;
 * every field of every record is read to its NUL, so an offset outside the
 * row shows under ASan. */
#include <stdint.h>
#include <string.h>

#include "csv.h"

static size_t touched;

static void read_record(const struct csv *c)
{
    int n = c->n_fields < CSV_FIELDS ? c->n_fields : CSV_FIELDS;
    for (int i = 0; i < n; i++) {
        size_t len;
        const char *f = csv_field(c, i, &len);
        /* A field holds no NUL unless has_nul: then it may end early. */
        touched += strlen(f) + len;
        if (!c->has_nul && strlen(f) != len)
            __builtin_trap();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct csv c;
    csv_init(&c);
    for (size_t i = 0; i < size; i++)
        if (csv_byte(&c, (char)data[i]))
            read_record(&c);
    if (csv_end(&c))
        read_record(&c);
    csv_free(&c);
    return 0;
}
