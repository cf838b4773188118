/* fuzz_catalog.c — libFuzzer target for the catalog parser (catalog.c over
 * inifile.c, CONTRACT §5, §6): the input is a catalog file. */
#define _GNU_SOURCE /* memfd_create, before any header */
#include <stdint.h>
#include <string.h>

#include "catalog.h"
#include "fuzz_file.h"

static void parse(const char *path)
{
    struct catalog *c = NULL;
    catalog_load(&c, path, fuzz_report, NULL);
    catalog_free(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fuzz_parse_file(data, size, parse);
}
