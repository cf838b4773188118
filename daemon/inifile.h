/* inifile.h — reads one INI file through inih for the configuration and the
 * catalog, adding what inih lacks: each key's line number, a call when a
 * [section] header begins (so empty sections and required keys can be
 * checked), and a problem for every malformed line instead of a stop at the
 * first.
 *
 * Owns nothing after inifile_read returns. Syntax: `;` and `#` comments (and
 * `;` inline after a space), `[section]`, `key = value`; an indented line is
 * an error, not a continuation. */
#ifndef PANTAU_INIFILE_H
#define PANTAU_INIFILE_H

struct inifile_ops {
    /* A header line begins section `name` (exactly as `key` will be given
     * it). May be NULL. */
    void (*section)(void *ctx, const char *name, int line);
    /* key = value, in section "" before any header. */
    void (*key)(void *ctx, const char *section, const char *key, const char *value, int line);
    /* The file itself: a malformed or too long line, an unreadable file
     * (line 0), out of memory (line 0). */
    void (*problem)(void *ctx, int line, const char *problem);
};

/* Reads `path`, calling ops in file order. Returns 0, or -1 when the file
 * could not be read to the end (already passed to ops->problem). */
int inifile_read(const char *path, const struct inifile_ops *ops, void *ctx);

#endif
