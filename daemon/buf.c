/* buf.c — see buf.h. */
#include "buf.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void buf_init(struct buf *b, size_t reserve)
{
    memset(b, 0, sizeof *b);
    b->reserve = reserve;
}

void buf_free(struct buf *b)
{
    if (b->data)
        free(b->data - b->reserve);
    buf_init(b, b->reserve);
}

void buf_reset(struct buf *b)
{
    b->len = 0;
    b->failed = false;
}

static bool grow(struct buf *b, size_t extra)
{
    if (b->failed)
        return false;
    if (b->len + extra + 1 <= b->cap)
        return true;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + extra + 1)
        cap *= 2;
    char *base = b->data ? b->data - b->reserve : NULL;
    char *grown = realloc(base, b->reserve + cap);
    if (!grown) {
        b->failed = true;
        return false;
    }
    b->data = grown + b->reserve;
    b->cap = cap;
    return true;
}

void buf_append(struct buf *b, const void *data, size_t len)
{
    if (!grow(b, len))
        return;
    memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = '\0';
}

void buf_puts(struct buf *b, const char *s)
{
    buf_append(b, s, strlen(s));
}

void buf_printf(struct buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || !grow(b, (size_t)n))
        return;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void buf_json_str(struct buf *b, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    buf_append(b, "\"", 1);
    for (const char *run = s;; s++) {
        unsigned char c = (unsigned char)*s;
        if (c != '\0' && c >= 0x20 && c != '"' && c != '\\')
            continue;
        buf_append(b, run, (size_t)(s - run));
        if (c == '\0')
            break;
        char esc[6] = {'\\', (char)c, 0, 0, 0, 0};
        size_t n = 2;
        if (c < 0x20) {
            memcpy(esc, "\\u00", 4);
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            n = 6;
        }
        buf_append(b, esc, n);
        run = s + 1;
    }
    buf_append(b, "\"", 1);
}

void buf_json_num(struct buf *b, double v)
{
    if (!isfinite(v)) {
        buf_puts(b, "null");
        return;
    }
    /* Integral values (counts, rupiah) print as integers. */
    if (v == floor(v) && fabs(v) < 1e15) {
        buf_printf(b, "%.0f", v);
        return;
    }
    char tmp[32];
    for (int prec = 15; prec <= 17; prec++) { /* shortest form that round-trips */
        snprintf(tmp, sizeof tmp, "%.*g", prec, v);
        if (strtod(tmp, NULL) == v)
            break;
    }
    buf_puts(b, tmp);
}

void buf_json_series_head(struct buf *b, const char *program, const char *unit, const char *metric,
                          const char *labels_json)
{
    buf_puts(b, "{\"program\":");
    buf_json_str(b, program);
    buf_puts(b, ",\"unit\":");
    buf_json_str(b, unit);
    buf_puts(b, ",\"metric\":");
    buf_json_str(b, metric);
    buf_puts(b, ",\"labels\":");
    buf_puts(b, labels_json && labels_json[0] ? labels_json : "{}");
}

void buf_csv_quoted(struct buf *b, const char *s)
{
    buf_append(b, "\"", 1);
    for (const char *q; (q = strchr(s, '"')) != NULL; s = q + 1) {
        buf_append(b, s, (size_t)(q - s + 1));
        buf_append(b, "\"", 1);
    }
    buf_puts(b, s);
    buf_append(b, "\"", 1);
}

/* Length of the valid UTF-8 sequence at s (1-4), or 0 if invalid. */
static size_t utf8_len(const unsigned char *s, size_t left)
{
    size_t n;
    unsigned min;
    if (s[0] < 0x80)
        return 1;
    if ((s[0] & 0xe0) == 0xc0)
        n = 2, min = 0x80;
    else if ((s[0] & 0xf0) == 0xe0)
        n = 3, min = 0x800;
    else if ((s[0] & 0xf8) == 0xf0)
        n = 4, min = 0x10000;
    else
        return 0;
    if (n > left)
        return 0;
    unsigned cp = s[0] & (0x7f >> n);
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (s[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return n;
}

void buf_json_bytes(struct buf *b, const void *data, size_t len)
{
    const unsigned char *s = data;
    char tmp[8];
    buf_append(b, "\"", 1);
    for (size_t i = 0; i < len;) {
        size_t n = utf8_len(s + i, len - i);
        if (n == 0) {
            buf_puts(b, "\\ufffd");
            i++;
        } else if (n == 1 && (s[i] < 0x20 || s[i] == '"' || s[i] == '\\')) {
            snprintf(tmp, sizeof tmp, "\\u%04x", s[i]);
            buf_puts(b, tmp);
            i++;
        } else {
            buf_append(b, s + i, n);
            i += n;
        }
    }
    buf_append(b, "\"", 1);
}
