/* inifile.c — see inifile.h. inih gives its handler no line number, so the
 * reader below counts lines while handing them to inih one at a time; inih
 * calls the key handler before asking for the next line, so the count is the
 * key's line. */
#include "inifile.h"

#include <ini.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

struct read {
    const struct inifile_ops *ops;
    void *ctx;
    FILE *file;
    int line;
    bool at_line_start;
};

/* inih stops reporting after its first syntax error; checking the line shape
 * here lets --check-config list every bad line. Returns false for a line that
 * is neither blank, a comment, a [section] nor key = value. */
static bool line_has_shape(const char *s)
{
    if (*s == '\0' || *s == '\n' || *s == ';' || *s == '#')
        return true;
    if (*s == '[')
        return strchr(s, ']') != NULL;
    return strpbrk(s, "=:") != NULL && *s != '=' && *s != ':';
}

/* A header's name as inih takes it: everything between '[' and the first ']'. */
static void announce_section(struct read *r, const char *s)
{
    char name[INI_MAX_LINE];
    const char *close = strchr(s, ']');
    size_t n = (size_t)(close - s - 1);
    if (!r->ops->section || n >= sizeof name)
        return;
    memcpy(name, s + 1, n);
    name[n] = '\0';
    r->ops->section(r->ctx, name, r->line);
}

static char *read_line(char *str, int num, void *stream)
{
    struct read *r = stream;
    if (!fgets(str, num, r->file))
        return NULL;
    size_t n = strlen(str);
    if (r->at_line_start)
        r->line++;
    r->at_line_start = n > 0 && str[n - 1] == '\n';
    if (!r->at_line_start && !feof(r->file)) {
        r->ops->problem(r->ctx, r->line, "line too long");
        int ch;
        while ((ch = fgetc(r->file)) != EOF && ch != '\n')
            ;
        r->at_line_start = true;
        strcpy(str, ";\n"); /* hand inih a comment in its place */
        return str;
    }
    const char *s = str + strspn(str, " \t\r");
    if (!line_has_shape(s)) {
        r->ops->problem(r->ctx, r->line, "expected [section] or key = value");
        strcpy(str, ";\n");
    } else if (*s == '[') {
        announce_section(r, s);
    }
    return str;
}

static int on_key(void *user, const char *section, const char *key, const char *value)
{
    struct read *r = user;
    if (!key)
        return 1; /* a header, if inih was built to announce them: the reader already did */
    r->ops->key(r->ctx, section, key, value, r->line);
    return 1; /* keep going: report every problem, not just the first */
}

int inifile_read(const char *path, const struct inifile_ops *ops, void *ctx)
{
    struct read r = {.ops = ops, .ctx = ctx, .at_line_start = true};
    r.file = fopen(path, "r");
    if (!r.file) {
        ops->problem(ctx, 0, "cannot open the file");
        return -1;
    }
    ini_allow_multiline = false; /* an indented line is an error, not a continuation */
    int rc = ini_parse_stream(read_line, &r, on_key, &r);
    bool failed = ferror(r.file);
    fclose(r.file);
    if (rc == -2) {
        ops->problem(ctx, 0, "out of memory");
        return -1;
    }
    if (failed) {
        ops->problem(ctx, r.line, "read error");
        return -1;
    }
    return 0;
}
