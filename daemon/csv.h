/* csv.h — the RFC 4180 reader of POST /api/v1/import.csv (CONTRACT §1.1),
 * fed byte by byte, so a row may span any number of body pieces and lines.
 * Pure: no I/O; api_ingest.c turns its rows into samples. Fields of the
 * current row are kept NUL-terminated in `row`, at most CSV_ROW_MAX bytes
 * of text (a longer row is marked too_long, not grown). */
#ifndef PANTAU_CSV_H
#define PANTAU_CSV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define CSV_FIELDS  6           /* ts,program,unit,metric,labels,value */
#define CSV_ROW_MAX (16 * 1024) /* bytes of one row; longer is bad_row */

struct csv {
    enum { CSV_FIELD_START, CSV_UNQUOTED, CSV_QUOTED, CSV_QUOTE } state;
    struct buf row;
    size_t field_at[CSV_FIELDS + 1]; /* start of each field in row */
    int n_fields;                    /* fields ended so far (may pass CSV_FIELDS) */
    bool too_long, has_nul, unterminated, in_row;
    int64_t line;     /* of the byte being read, 1-based */
    int64_t row_line; /* where the current row started */
};

void csv_init(struct csv *c);
void csv_free(struct csv *c);

/* One byte. Returns 1 when it ended a record (read it with csv_field until
 * the next call), else 0. Outside quotes a CR is dropped, so CRLF and LF
 * rows both read. */
int csv_byte(struct csv *c, char ch);

/* At the end of the input: returns 1 if a last record without a line end
 * was pending (now ended; `unterminated` if inside quotes), else 0. */
int csv_end(struct csv *c);

/* Field i (0 <= i < min(n_fields, CSV_FIELDS)) of the record just ended:
 * NUL-terminated, its length in *len. */
const char *csv_field(const struct csv *c, int i, size_t *len);

#endif
