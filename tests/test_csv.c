/* test_csv.c — the import.csv reader (csv.c): records, quotes, line
 * numbers, and that what a row can make it keep is bounded. */
#include "check.h"
#include "csv.h"

#include <string.h>

/* Feeds s; returns the number of records ended (csv_end included). */
static int feed(struct csv *c, const char *s, size_t n)
{
    int records = 0;
    for (size_t i = 0; i < n; i++)
        records += csv_byte(c, s[i]);
    return records;
}

TEST(csv_reads_quoted_fields_and_lines)
{
    struct csv c;
    csv_init(&c);
    const char *row = "1,\"a,\"\"b\"\"\",u,m,\"{}\",2.5\r\n";
    CHECK_INT(feed(&c, row, strlen(row)), 1);
    CHECK_INT(c.n_fields, 6);
    CHECK_INT(c.row_line, 1);
    size_t len;
    CHECK_STR(csv_field(&c, 1, &len), "a,\"b\"");
    CHECK_INT((int)len, 5);
    CHECK_STR(csv_field(&c, 5, &len), "2.5");
    const char *rest = "x,\"open\nline";
    CHECK_INT(feed(&c, rest, strlen(rest)), 0);
    CHECK_INT(csv_end(&c), 1);
    CHECK(c.unterminated);
    CHECK_INT(c.row_line, 2);
    CHECK_INT(csv_end(&c), 0);
    csv_free(&c);
}

/* A row of only commas once grew the row buffer by a NUL per field without
 * bound (a 256 MiB import of commas: 256 MiB kept). */
TEST(csv_row_of_commas_stays_bounded)
{
    struct csv c;
    csv_init(&c);
    for (int i = 0; i < 1000000; i++)
        csv_byte(&c, ',');
    CHECK(c.row.len <= CSV_ROW_MAX + CSV_FIELDS + 1);
    CHECK_INT(csv_byte(&c, '\n'), 1);
    CHECK_INT(c.n_fields, 1000001);
    CHECK(c.row.len <= CSV_ROW_MAX + CSV_FIELDS + 1);
    csv_free(&c);
}

TEST_MAIN(CASE(csv_reads_quoted_fields_and_lines), CASE(csv_row_of_commas_stays_bounded))
