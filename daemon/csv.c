/* csv.c — see csv.h. */
#include "csv.h"

#include <limits.h>

void csv_init(struct csv *c)
{
    *c = (struct csv){.line = 1};
    buf_init(&c->row, 0);
}

void csv_free(struct csv *c)
{
    buf_free(&c->row);
}

const char *csv_field(const struct csv *c, int i, size_t *len)
{
    *len = c->field_at[i + 1] - c->field_at[i] - 1;
    return c->row.data + c->field_at[i];
}

static void csv_row_start(struct csv *c)
{
    buf_reset(&c->row);
    c->n_fields = 0;
    c->field_at[0] = 0;
    c->too_long = c->has_nul = c->unterminated = false;
    c->in_row = true;
    c->row_line = c->line;
    c->state = CSV_FIELD_START;
}

static void csv_char(struct csv *c, char ch)
{
    if (c->row.len >= CSV_ROW_MAX) {
        c->too_long = true;
        return;
    }
    c->has_nul |= ch == '\0';
    buf_append(&c->row, &ch, 1);
}

/* Only the first CSV_FIELDS fields are kept apart: a row with more is
 * refused whole, and a NUL per extra field would let a row of commas grow
 * `row` without bound (csv_char stops text at CSV_ROW_MAX). */
static void csv_field_end(struct csv *c)
{
    if (c->n_fields < CSV_FIELDS) {
        buf_append(&c->row, "", 1);
        c->field_at[c->n_fields + 1] = c->row.len;
    }
    if (c->n_fields < INT_MAX) /* [http] import_max_bytes may exceed 2 GiB */
        c->n_fields++;
    c->state = CSV_FIELD_START;
}

int csv_byte(struct csv *c, char ch)
{
    if (!c->in_row)
        csv_row_start(c);
    int ended = 0;
    switch (c->state) {
    case CSV_QUOTED:
        if (ch == '"')
            c->state = CSV_QUOTE;
        else
            csv_char(c, ch);
        break;
    case CSV_QUOTE:
        if (ch == '"') {
            csv_char(c, '"');
            c->state = CSV_QUOTED;
            break;
        }
        /* The quoted part ended: read on as outside quotes. */
        /* fall through */
    case CSV_FIELD_START:
    case CSV_UNQUOTED:
        if (ch == '"' && c->state == CSV_FIELD_START) {
            c->state = CSV_QUOTED;
        } else if (ch == ',') {
            csv_field_end(c);
        } else if (ch == '\n') {
            csv_field_end(c);
            c->in_row = false;
            ended = 1;
        } else if (ch != '\r') {
            csv_char(c, ch); /* a stray quote is kept as text */
            c->state = CSV_UNQUOTED;
        }
        break;
    }
    if (ch == '\n')
        c->line++;
    return ended;
}

int csv_end(struct csv *c)
{
    if (!c->in_row)
        return 0;
    c->unterminated = c->state == CSV_QUOTED;
    csv_field_end(c);
    c->in_row = false;
    return 1;
}
