/* fuzz_cfg.c — libFuzzer target for the configuration parser (cfg.c over
 * inifile.c): the input is a pantau.ini. */
#define _GNU_SOURCE /* memfd_create, before any header */
#include <stdint.h>
#include <string.h>

#include "cfg.h"
#include "fuzz_file.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[64];
    int fd = fuzz_file(data, size, path, sizeof path);
    if (fd < 0)
        return 0;
    struct cfg c;
    if (cfg_defaults(&c) == 0) {
        cfg_load(&c, path, fuzz_report, NULL);
        cfg_validate(&c, fuzz_report, NULL);
        cfg_free(&c);
    }
    close(fd);
    return 0;
}
