/*
 * keysrc_harness: builders shared by the key-source tests (test_keysrc.c: what is recorded and
 * kept; test_keysrc_search.c: bounds, keysrc_find, keysrc_collect). Results are written as
 * compact strings ("id,question_id" columns, "1,1;2,1" rows, "-" for NULL) so the cases read
 * as data.
 */
#ifndef PGFOLD_TESTS_KEYSRC_HARNESS_H
#define PGFOLD_TESTS_KEYSRC_HARNESS_H

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "batcher/keysrc.h"
#include "tests/unit/fixtures.h"

#define INT2 KEYVAL_OID_INT2
#define INT4 KEYVAL_OID_INT4
#define INT8 KEYVAL_OID_INT8
#define OID KEYVAL_OID_OID
#define TEXT KEYVAL_OID_TEXT
#define VARCHAR KEYVAL_OID_VARCHAR
#define NAME KEYVAL_OID_NAME
#define UUID KEYVAL_OID_UUID
#define BPCHAR KEYVAL_OID_BPCHAR
#define NUMERIC 1700
#define BOOL 16

/* ---- builders ----------------------------------------------------------------------------- */

static inline void
begin_cols(struct keysrc *ks, const struct fx_col *cols, int n, const char *table)
{
    struct buf b;
    buf_init(&b);
    be_row_desc_cols(&b, cols, n);
    keysrc_begin(ks, fx_body(&b), fx_body_len(&b), 77, table, "SELECT * FROM t", 0);
    buf_free(&b); /* keysrc keeps copies, not pointers into the description */
}

static inline void
row_fields(struct keysrc *ks, const struct fx_field *f, int n)
{
    struct buf b;
    buf_init(&b);
    be_data_row_fields(&b, f, n);
    keysrc_row(ks, fx_body(&b), fx_body_len(&b));
    buf_free(&b);
}

/*
 * Records a result of int4 text columns: names "id,question_id", rows "1,1;2,1" ("-" is
 * NULL, "" no rows), from the table given (its OID is made from the name's length).
 */
static inline void
add_result(struct keysrc *ks, const char *table, const char *names, const char *rows)
{
    struct fx_col cols[8];
    char nbuf[128];
    int n = 0;
    snprintf(nbuf, sizeof(nbuf), "%s", names);
    for (char *s = strtok(nbuf, ","); s && n < 8; s = strtok(NULL, ","), n++)
        cols[n] =
            (struct fx_col){s, 16384 + (uint32_t)strlen(table), (int16_t)(n + 1), INT4, 4, -1, 0};
    begin_cols(ks, cols, n, table);
    char rbuf[4096];
    snprintf(rbuf, sizeof(rbuf), "%s", rows);
    char *save_row = NULL;
    for (char *r = strtok_r(rbuf, ";", &save_row); r; r = strtok_r(NULL, ";", &save_row)) {
        struct fx_field f[8];
        int k = 0;
        char *save_f = NULL;
        for (char *v = strtok_r(r, ",", &save_f); v && k < 8; v = strtok_r(NULL, ",", &save_f))
            f[k++] = strcmp(v, "-") == 0 ? (struct fx_field)FX_NULL
                                         : (struct fx_field){v, (int32_t)strlen(v)};
        row_fields(ks, f, k);
    }
    keysrc_end(ks);
}

/* A column's values as "[v][v]-" ("-" is absent), rows 0 .. nrows-1. */
static inline void
col_values(const struct keysrc_col *col, uint32_t nrows, char *out, size_t cap)
{
    size_t n = 0;
    out[0] = '\0';
    for (uint32_t i = 0; i < nrows; i++) {
        const char *v;
        size_t vl;
        if (keysrc_value(col, i, &v, &vl))
            n += (size_t)snprintf(out + n, cap - n, "[%.*s]", (int)vl, v);
        else
            n += (size_t)snprintf(out + n, cap - n, "-");
        assert_true(n < cap);
    }
}

/* Sum of the kept results' rows and bytes must be what the totals say. */
static inline void
check_totals(const struct keysrc *ks)
{
    size_t rows = 0, bytes = 0;
    for (int i = 0; i < ks->count; i++) {
        rows += ks->results[i]->nrows;
        bytes += ks->results[i]->bytes;
        if (i > 0)
            assert_true(ks->results[i - 1]->seq > ks->results[i]->seq);
    }
    assert_int_equal(rows, ks->rows);
    assert_int_equal(bytes, ks->bytes);
    assert_true((size_t)ks->count <= ks->max_results);
    assert_true(ks->rows <= ks->max_rows);
    if (ks->bytes > ks->max_bytes)
        fail_msg("key sources hold %zu bytes, bound %zu", ks->bytes, ks->max_bytes);
}

#endif
