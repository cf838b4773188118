/* fuzz_file.h — the fuzz targets whose parser reads a file (cfg, catalog):
 * the input goes into a memfd, named by its /proc/self/fd path. Include it
 * after defining _GNU_SOURCE (memfd_create). */
#ifndef PANTAU_FUZZ_FILE_H
#define PANTAU_FUZZ_FILE_H

#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* Writes data into a fresh memfd and its path into path; returns the fd
 * (close it after), or -1. */
static inline int fuzz_file(const void *data, size_t size, char *path, size_t pathlen)
{
    int fd = memfd_create("fuzz", MFD_CLOEXEC);
    if (fd < 0)
        return -1;
    const char *p = data;
    while (size > 0) {
        ssize_t n = write(fd, p, size);
        if (n <= 0) {
            close(fd);
            return -1;
        }
        p += n;
        size -= (size_t)n;
    }
    snprintf(path, pathlen, "/proc/self/fd/%d", fd);
    return fd;
}

/* Runs parse on the input as a file named by its path. */
static inline int fuzz_parse_file(const void *data, size_t size, void (*parse)(const char *path))
{
    char path[64];
    int fd = fuzz_file(data, size, path, sizeof path);
    if (fd < 0)
        return 0;
    parse(path);
    close(fd);
    return 0;
}

/* The problem callback of both parsers: reads what it is given, so the
 * sanitizers see every byte of a problem's text. */
static size_t fuzz_touched;
static inline void fuzz_report(void *ctx, const char *file, int line, const char *problem)
{
    (void)ctx;
    fuzz_touched += strlen(file) + strlen(problem) + (size_t)line;
}

#endif
