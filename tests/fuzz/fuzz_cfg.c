/* fuzz_cfg.c — libFuzzer target for the configuration parser (cfg.c over
 * inifile.c): the input is a pantau.ini. */
#define _GNU_SOURCE /* memfd_create, before any header */
#include <stdint.h>
#include <string.h>

#include "cfg.h"
#include "fuzz_file.h"

static void parse(const char *path)
{
    struct cfg c;
    if (cfg_defaults(&c) != 0)
        return;
    cfg_load(&c, path, fuzz_report, NULL);
    cfg_validate(&c, fuzz_report, NULL);
    cfg_free(&c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fuzz_parse_file(data, size, parse);
}
