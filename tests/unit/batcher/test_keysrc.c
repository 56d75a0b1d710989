/*
 * test_keysrc: key sources (batcher/keysrc.c). A multi-row result streams past; its key-typed
 * columns are kept as canonical values in row order, newest result first, within bounds of
 * results, rows and bytes. keysrc_find says where a key was seen; keysrc_collect lists the
 * keys a batch would fetch. Results are written as compact strings ("id,question_id" columns,
 * "1,1;2,1" rows, "-" for NULL) so the cases read as data.
 */
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

static void
begin_cols(struct keysrc *ks, const struct fx_col *cols, int n, const char *table)
{
    struct buf b;
    buf_init(&b);
    be_row_desc_cols(&b, cols, n);
    keysrc_begin(ks, fx_body(&b), fx_body_len(&b), 77, table, "SELECT * FROM t");
    buf_free(&b); /* keysrc keeps copies, not pointers into the description */
}

static void
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
static void
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
static void
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
static void
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

/* ---- which columns are recorded ------------------------------------------------------- */

static const struct fx_col mixed_cols[] = {
    {"id", 16400, 1, INT4, 4, -1, 0},     {"big", 16400, 2, INT8, 8, -1, 1},
    {"title", 16400, 3, TEXT, -1, -1, 0}, {"uid", 16400, 4, UUID, 16, -1, 0},
    {"code", 16400, 5, BPCHAR, -1, 8, 0}, {"price", 16400, 6, NUMERIC, -1, 655366, 0},
    {"body", 16400, 7, TEXT, -1, -1, 0},  {"slug", 16400, 8, VARCHAR, -1, 54, 0},
    {"nm", 16400, 9, NAME, 64, -1, 0},    {"flag", 16400, 10, BOOL, 1, -1, 0},
    {"o", 0, 0, OID, 4, -1, 1},
};

static const struct col_want {
    const char *name;
    int index;
    enum keyval_class cls;
    const char *values;
} mixed_want[] = {
    {"id", 0, KEYVAL_CLASS_INT, "[7][42]"},
    {"big", 1, KEYVAL_CLASS_INT, "[7][-1]"},
    {"title", 2, KEYVAL_CLASS_TEXT, "[Zoë][]"},
    {"uid", 3, KEYVAL_CLASS_UUID, "[a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11]-"},
    {"body", 6, KEYVAL_CLASS_TEXT, "-[short]"}, /* 300 bytes: too long to be a key */
    {"slug", 7, KEYVAL_CLASS_TEXT, "[s1]-"},
    {"nm", 8, KEYVAL_CLASS_NAME, "[pg_class][n]"},
    {"o", 10, KEYVAL_CLASS_INT, "[12345][0]"},
};

static void
test_key_columns(void **state)
{
    struct keysrc ks;
    char long_val[300];
    (void)state;
    memset(long_val, 'x', sizeof(long_val));
    keysrc_init(&ks, 8, 1000, 1 << 20);
    begin_cols(&ks, mixed_cols, 11, "widgets");
    assert_true(ks.pending); /* nothing is parsed before the second row */
    assert_null(ks.cur);
    const struct fx_field r0[] = {
        FX_F("007"),          FX_F("\0\0\0\0\0\0\0\x07"),
        FX_F("Zoë"),          FX_F("A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11"),
        FX_F("ab  "),         FX_F("1.50"),
        {long_val, 300},      FX_F("s1"),
        FX_F("pg_class"),     FX_F("t"),
        FX_F("\0\0\x30\x39"),
    };
    const struct fx_field r1[] = {
        FX_F(" 42 "),     FX_F("\xff\xff\xff\xff\xff\xff\xff\xff"),
        FX_F(""),         FX_NULL,
        FX_F("cd"),       FX_F("2"),
        FX_F("short"),    FX_NULL,
        FX_F("n"),        FX_F("f"),
        FX_F("\0\0\0\0"),
    };
    row_fields(&ks, r0, 11);
    row_fields(&ks, r1, 11);
    keysrc_end(&ks);
    assert_int_equal(ks.count, 1);
    const struct keysrc_result *r = ks.results[0];
    assert_int_equal(r->nrows, 2);
    assert_int_equal(r->ncols, sizeof(mixed_want) / sizeof(mixed_want[0]));
    assert_int_equal(r->source_shape, 77);
    assert_string_equal(r->source_table, "widgets");
    assert_string_equal(r->source_sql, "SELECT * FROM t");
    for (size_t i = 0; i < sizeof(mixed_want) / sizeof(mixed_want[0]); i++) {
        const struct col_want *w = &mixed_want[i];
        const struct keysrc_col *c = &r->cols[i];
        char got[256];
        assert_string_equal(c->name, w->name);
        assert_int_equal(c->index, w->index);
        assert_int_equal(c->cls, w->cls);
        assert_int_equal(c->table_oid, mixed_cols[w->index].table_oid);
        assert_int_equal(c->attnum, mixed_cols[w->index].attnum);
        assert_int_equal(c->type_oid, mixed_cols[w->index].type_oid);
        assert_int_equal(c->format, mixed_cols[w->index].format);
        col_values(c, r->nrows, got, sizeof(got));
        if (strcmp(got, w->values) != 0)
            fail_msg("column %s: %s, want %s", w->name, got, w->values);
    }
    check_totals(&ks);
    keysrc_clear(&ks);
}

/* ---- canonical values, one column per case ---------------------------------------------- */

static const struct canon_case {
    uint32_t oid;
    int16_t fmt;
    struct fx_field val;
    const char *want; /* NULL: absent */
} canon_cases[] = {
    {INT4, 0, FX_F("007"), "7"},
    {INT4, 1, FX_F("\0\0\0\x07"), "7"},
    {INT4, 0, FX_F(" +7 "), "7"},
    {INT4, 0, FX_F("abc"), NULL},
    {INT4, 0, FX_F("2147483648"), NULL},
    {INT4, 1, FX_F("\0\0\x07"), NULL},
    {INT4, 0, FX_NULL, NULL},
    {INT2, 1, FX_F("\xff\xf9"), "-7"},
    {INT8, 0, FX_F(" -5 "), "-5"},
    {INT8, 1, FX_F("\0\0\0\0\0\0\0\x07"), "7"},
    {INT8, 1, FX_F("\0\0\0\x07"), NULL},
    {OID, 0, FX_F("4294967295"), "4294967295"},
    {UUID, 0, FX_F("A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11"), "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"},
    {UUID, 1, FX_F("\xa0\xee\xbc\x99\x9c\x0b\x4e\xf8\xbb\x6d\x6b\xb9\xbd\x38\x0a\x11"),
     "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"},
    {UUID, 0, FX_F("not-a-uuid"), NULL},
    {UUID, 0, FX_NULL, NULL},
    {TEXT, 0, FX_F("O'Brien"), "O'Brien"},
    {TEXT, 1, FX_F("abc"), "abc"},
    {TEXT, 0, FX_F(""), ""},
    {TEXT, 0, FX_NULL, NULL},
    {VARCHAR, 0, FX_F("  x  "), "  x  "},
    {NAME, 0, FX_F("pg_class"), "pg_class"},
};

static void
test_canonical_values(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(canon_cases) / sizeof(canon_cases[0]); i++) {
        const struct canon_case *c = &canon_cases[i];
        struct keysrc ks;
        struct fx_col col = {"k", 16384, 1, c->oid, -1, -1, c->fmt};
        struct fx_field other = FX_NULL;
        char got[512], want[512];
        keysrc_init(&ks, 8, 1000, 1 << 20);
        begin_cols(&ks, &col, 1, "t");
        row_fields(&ks, &c->val, 1);
        row_fields(&ks, &other, 1);
        keysrc_end(&ks);
        assert_int_equal(ks.count, 1);
        col_values(&ks.results[0]->cols[0], 1, got, sizeof(got));
        snprintf(want, sizeof(want), c->want ? "[%s]" : "-", c->want);
        if (strcmp(got, want) != 0)
            fail_msg("case %zu (oid %u fmt %d): %s, want %s", i, c->oid, c->fmt, got, want);
        keysrc_clear(&ks);
    }
}

/* Text "007" in one result and binary 7 in another are the same key. */
static void
test_text_and_binary_same_key(void **state)
{
    struct keysrc ks;
    struct keysrc_hit hits[4];
    (void)state;
    keysrc_init(&ks, 8, 1000, 1 << 20);
    struct fx_col text_col = {"a_id", 1, 1, INT4, 4, -1, 0};
    struct fx_col bin_col = {"b_id", 2, 1, INT8, 8, -1, 1};
    const struct fx_field t[] = {FX_F("007"), FX_F("8")};
    const struct fx_field b[] = {FX_F("\0\0\0\0\0\0\0\x07"), FX_F("\0\0\0\0\0\0\0\x09")};
    begin_cols(&ks, &text_col, 1, "a");
    row_fields(&ks, &t[0], 1);
    row_fields(&ks, &t[1], 1);
    keysrc_end(&ks);
    begin_cols(&ks, &bin_col, 1, "b");
    row_fields(&ks, &b[0], 1);
    row_fields(&ks, &b[1], 1);
    keysrc_end(&ks);
    assert_int_equal(keysrc_find(&ks, KEYVAL_CLASS_INT, "7", 1, hits, 4), 2);
    assert_string_equal(hits[0].col->name, "b_id");
    assert_string_equal(hits[1].col->name, "a_id");
    assert_int_equal(hits[0].row, 0);
    assert_int_equal(hits[1].row, 0);
    assert_int_equal(keysrc_find(&ks, KEYVAL_CLASS_INT, "007", 3, hits, 4), 0);
    keysrc_clear(&ks);
}

/*
 * A text column whose values are all empty strings: its arena never allocates, yet the key ''
 * is found and collected through real pointers (keysrc_value used to compute NULL + 0, and
 * keysrc_find passed it to memcmp: undefined behaviour UBSan stops on; found by the
 * differential test, seed 114 under make asan).
 */
static void
test_empty_strings_only(void **state)
{
    struct keysrc ks;
    struct keysrc_hit hits[4];
    (void)state;
    keysrc_init(&ks, 8, 1000, 1 << 20);
    struct fx_col col = {"ref", 1, 2, TEXT, -1, -1, 0};
    const struct fx_field f[] = {FX_F(""), FX_NULL, FX_F("")};
    begin_cols(&ks, &col, 1, "t");
    for (int i = 0; i < 3; i++)
        row_fields(&ks, &f[i], 1);
    keysrc_end(&ks);
    assert_int_equal(ks.count, 1);
    const struct keysrc_col *c = &ks.results[0]->cols[0];
    const char *v = NULL;
    size_t vl = 99;
    assert_true(keysrc_value(c, 0, &v, &vl));
    assert_non_null(v);
    assert_int_equal(vl, 0);
    assert_false(keysrc_value(c, 1, &v, &vl)); /* NULL */
    assert_int_equal(keysrc_find(&ks, KEYVAL_CLASS_TEXT, "", 0, hits, 4), 1);
    assert_int_equal(hits[0].row, 0);
    const char *keys[4];
    size_t lens[4];
    int n = keysrc_collect(c, ks.results[0]->nrows, "", 0, NULL, NULL, 4, keys, lens);
    assert_int_equal(n, 1);
    assert_non_null(keys[0]);
    assert_int_equal(lens[0], 0);
    keysrc_clear(&ks);
}

/* Values up to KEYSRC_MAX_KEY bytes are keys; longer ones are absent; names cut at 63. */
static void
test_long_values(void **state)
{
    static const struct {
        uint32_t oid;
        int32_t len;
        int32_t want; /* canonical length, -1 absent */
    } cases[] = {
        {TEXT, KEYSRC_MAX_KEY, KEYSRC_MAX_KEY},
        {TEXT, KEYSRC_MAX_KEY + 1, -1},
        {TEXT, 300, -1},
        {VARCHAR, 255, 255},
        {NAME, 100, 63},
    };
    char val[400];
    memset(val, 'x', sizeof(val));
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct keysrc ks;
        struct fx_col col = {"k", 1, 1, cases[i].oid, -1, -1, 0};
        struct fx_field f = {val, cases[i].len};
        const char *v;
        size_t vl = 0;
        keysrc_init(&ks, 8, 1000, 1 << 20);
        begin_cols(&ks, &col, 1, "t");
        row_fields(&ks, &f, 1);
        row_fields(&ks, &f, 1);
        keysrc_end(&ks);
        assert_int_equal(ks.count, 1);
        bool present = keysrc_value(&ks.results[0]->cols[0], 0, &v, &vl);
        if (present != (cases[i].want >= 0) || (present && vl != (size_t)cases[i].want))
            fail_msg("case %zu: present %d len %zu, want %d", i, present, vl, cases[i].want);
        keysrc_clear(&ks);
    }
}

/* ---- which results are kept -------------------------------------------------------------- */

static void
test_row_count_kept(void **state)
{
    static const struct {
        const char *rows;
        int kept;
    } cases[] = {
        {"", 0}, {"1", 0}, {"1;2", 1}, {"1;2;3", 1}, {"-;-", 1}, {"5;5", 1},
    };
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct keysrc ks;
        keysrc_init(&ks, 8, 1000, 1 << 20);
        add_result(&ks, "t", "id", cases[i].rows);
        if (ks.count != cases[i].kept)
            fail_msg("rows \"%s\": %d results, want %d", cases[i].rows, ks.count, cases[i].kept);
        assert_null(ks.cur);
        check_totals(&ks);
        keysrc_clear(&ks);
    }
}

static void
test_no_key_columns_or_bad_desc(void **state)
{
    struct keysrc ks;
    const struct fx_col cols[] = {
        {"price", 1, 1, NUMERIC, -1, -1, 0},
        {"code", 1, 2, BPCHAR, -1, 8, 0},
        {"flag", 1, 3, BOOL, 1, -1, 0},
    };
    const struct fx_field f[] = {FX_F("1"), FX_F("a"), FX_F("t")};
    (void)state;
    keysrc_init(&ks, 8, 1000, 1 << 20);
    begin_cols(&ks, cols, 3, "t");
    assert_null(ks.cur);
    row_fields(&ks, f, 3);
    row_fields(&ks, f, 3);
    keysrc_end(&ks);
    assert_int_equal(ks.count, 0);

    /* A RowDescription that does not parse records nothing. */
    keysrc_begin(&ks, (const uint8_t *)"\0\x01id", 4, 0, NULL, NULL);
    assert_null(ks.cur);
    keysrc_begin(&ks, NULL, 0, 0, NULL, NULL);
    assert_null(ks.cur);
    /* Zero columns. */
    keysrc_begin(&ks, (const uint8_t *)"\0\0", 2, 0, NULL, NULL);
    assert_null(ks.cur);
    /* Rows and ends without a result being recorded are ignored. */
    row_fields(&ks, f, 3);
    keysrc_end(&ks);
    assert_int_equal(ks.count, 0);
    keysrc_clear(&ks);
}

/* Bad DataRows abort the result (a short row, a bad length); the next result is unaffected. */
static void
test_bad_rows_abort(void **state)
{
    struct keysrc ks;
    const struct fx_col cols[] = {
        {"name", 1, 1, NUMERIC, -1, -1, 0},
        {"id", 1, 2, INT4, 4, -1, 0},
    };
    const struct fx_field good[] = {FX_F("1.5"), FX_F("1")};
    const struct fx_field shortrow[] = {FX_F("1.5")};
    (void)state;
    keysrc_init(&ks, 8, 1000, 1 << 20);

    begin_cols(&ks, cols, 2, "t");
    row_fields(&ks, good, 2);
    row_fields(&ks, shortrow, 1);
    assert_null(ks.cur);
    row_fields(&ks, good, 2);
    keysrc_end(&ks);
    assert_int_equal(ks.count, 0);

    begin_cols(&ks, cols, 2, "t");
    row_fields(&ks, good, 2);
    keysrc_row(&ks, (const uint8_t *)"\0\x02\0\0\0\x03xyz\xff\xff\xff\xfe", 13); /* len -2 */
    assert_null(ks.cur);
    keysrc_end(&ks);
    assert_int_equal(ks.count, 0);

    begin_cols(&ks, cols, 2, "t");
    row_fields(&ks, good, 2);
    keysrc_row(&ks, (const uint8_t *)"\0\x02\0\0\0\x03xyz\0\0\0\x09zz", 15); /* value cut */
    assert_null(ks.cur);

    add_result(&ks, "t", "id", "1;2");
    assert_int_equal(ks.count, 1);
    check_totals(&ks);
    keysrc_clear(&ks);
}

static void
test_abort(void **state)
{
    struct keysrc ks;
    (void)state;
    keysrc_init(&ks, 8, 1000, 1 << 20);
    add_result(&ks, "a", "id", "1;2");
    struct fx_col col = {"id", 1, 1, INT4, 4, -1, 0};
    const struct fx_field f[] = {FX_F("3"), FX_F("4")};
    begin_cols(&ks, &col, 1, "b");
    row_fields(&ks, &f[0], 1);
    row_fields(&ks, &f[1], 1);
    keysrc_abort(&ks);
    assert_null(ks.cur);
    keysrc_end(&ks); /* nothing to end */
    assert_int_equal(ks.count, 1);
    assert_int_equal(ks.rows, 2);
    struct keysrc_hit h;
    assert_int_equal(keysrc_find(&ks, KEYVAL_CLASS_INT, "3", 1, &h, 1), 0);
    keysrc_abort(&ks); /* twice is harmless */

    /* A new begin drops a result still being recorded. */
    begin_cols(&ks, &col, 1, "b");
    row_fields(&ks, &f[0], 1);
    add_result(&ks, "c", "id", "5;6");
    assert_int_equal(ks.count, 2);
    assert_int_equal(ks.results[0]->nrows, 2);
    assert_string_equal(ks.results[0]->source_table, "c");
    check_totals(&ks);

    keysrc_clear(&ks);
    assert_int_equal(ks.count, 0);
    assert_int_equal(ks.rows, 0);
    assert_int_equal(ks.bytes, 0);
    keysrc_clear(&ks);
}

/* ---- bounds --------------------------------------------------------------------------------- */

static void
test_newest_first_and_max_results(void **state)
{
    struct keysrc ks;
    char got[64];
    (void)state;
    keysrc_init(&ks, 2, 1000, 1 << 20);
    add_result(&ks, "a", "id", "1;2");
    add_result(&ks, "b", "id", "3;4");
    assert_string_equal(ks.results[0]->source_table, "b");
    assert_string_equal(ks.results[1]->source_table, "a");
    add_result(&ks, "c", "id", "5;6");
    assert_int_equal(ks.count, 2);
    assert_string_equal(ks.results[0]->source_table, "c");
    assert_string_equal(ks.results[1]->source_table, "b");
    col_values(&ks.results[1]->cols[0], 2, got, sizeof(got));
    assert_string_equal(got, "[3][4]");
    check_totals(&ks);
    keysrc_clear(&ks);

    /* More than KEYSRC_MAX_RESULTS asked for: clamped. */
    keysrc_init(&ks, 1000, 100000, 1 << 24);
    assert_int_equal(ks.max_results, KEYSRC_MAX_RESULTS);
    for (int i = 0; i < KEYSRC_MAX_RESULTS + 6; i++)
        add_result(&ks, "t", "id", "1;2");
    assert_int_equal(ks.count, KEYSRC_MAX_RESULTS);
    assert_int_equal(ks.results[0]->seq, KEYSRC_MAX_RESULTS + 6);
    check_totals(&ks);
    keysrc_clear(&ks);
}

static void
test_max_rows(void **state)
{
    struct keysrc ks;
    (void)state;
    keysrc_init(&ks, 8, 5, 1 << 20);
    add_result(&ks, "a", "id", "1;2;3");
    add_result(&ks, "b", "id", "4;5");
    assert_int_equal(ks.count, 2);
    assert_int_equal(ks.rows, 5);
    add_result(&ks, "c", "id", "6;7"); /* a (3 rows) must go */
    assert_int_equal(ks.count, 2);
    assert_int_equal(ks.rows, 4);
    assert_string_equal(ks.results[1]->source_table, "b");
    add_result(&ks, "d", "id", "1;2;3;4;5"); /* exactly the bound: all others go */
    assert_int_equal(ks.count, 1);
    assert_int_equal(ks.rows, 5);
    add_result(&ks, "e", "id", "1;2;3;4;5;6"); /* over the bound: not a source at all */
    assert_int_equal(ks.count, 1);
    assert_string_equal(ks.results[0]->source_table, "d");
    assert_null(ks.cur);
    check_totals(&ks);
    keysrc_clear(&ks);
}

static void
test_max_bytes(void **state)
{
    struct keysrc ks;
    (void)state;
    /* Measure one two-row result, then allow exactly two of them. */
    keysrc_init(&ks, 8, 1000, 1 << 20);
    add_result(&ks, "a", "id", "1;2");
    size_t one = ks.results[0]->bytes;
    assert_true(one > 2);
    keysrc_clear(&ks);

    keysrc_init(&ks, 8, 1000, 2 * one);
    add_result(&ks, "a", "id", "1;2");
    add_result(&ks, "b", "id", "3;4");
    assert_int_equal(ks.count, 2);
    assert_int_equal(ks.bytes, 2 * one);
    add_result(&ks, "c", "id", "5;6");
    assert_int_equal(ks.count, 2);
    assert_string_equal(ks.results[0]->source_table, "c");
    assert_string_equal(ks.results[1]->source_table, "b");
    check_totals(&ks);
    /* A slightly larger result does not fit beside any other. */
    add_result(&ks, "d", "id", "10;20");
    assert_true(ks.results[0]->bytes > one);
    assert_int_equal(ks.count, 1);
    check_totals(&ks);
    keysrc_clear(&ks);
}

/* Whatever streams past, the kept bytes stay within max_bytes (keysrc.h: "within max_bytes"). */
static void
test_max_bytes_never_exceeded(void **state)
{
    /* Each result is measured, then recorded again with a bound one byte short of it. */
    static const struct {
        const char *rows;
    } cases[] = {
        {"1;2"},
        {"1;2;3;4;5;6;7;8"},
        {"1111;2222;3333"},
    };
    int failed = 0;
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct keysrc ks;
        keysrc_init(&ks, 8, 1000, 1 << 20);
        add_result(&ks, "t", "id", cases[i].rows);
        size_t need = ks.results[0]->bytes;
        keysrc_clear(&ks);
        keysrc_init(&ks, 8, 1000, need - 1);
        add_result(&ks, "t", "id", cases[i].rows);
        if (ks.bytes > ks.max_bytes) {
            failed++;
            print_error("rows \"%s\": %zu bytes kept, bound %zu\n", cases[i].rows, ks.bytes,
                        ks.max_bytes);
        }
        keysrc_clear(&ks);
    }
    if (failed)
        fail_msg("%d case(s) over the bound", failed);
}

/* ---- keysrc_find --------------------------------------------------------------------------- */

static void
seed_sources(struct keysrc *ks)
{
    keysrc_init(ks, 8, 1000, 1 << 20);
    add_result(ks, "polls_question", "id", "1;2;3");
    add_result(ks, "polls_choice", "id,question_id", "1,1;2,1;3,2;4,3;5,3;6,-");
    struct fx_col tcol = {"slug", 9, 1, TEXT, -1, -1, 0};
    const struct fx_field t[] = {FX_F("1"), FX_F(""), FX_NULL};
    begin_cols(ks, &tcol, 1, "tags");
    for (int i = 0; i < 3; i++)
        row_fields(ks, &t[i], 1);
    keysrc_end(ks);
}

static const struct find_case {
    enum keyval_class cls;
    const char *key;
    int max;
    const char *want; /* table.column@row, newest first */
} find_cases[] = {
    {KEYVAL_CLASS_INT, "1", 8, "polls_choice.id@0 polls_choice.question_id@0 polls_question.id@0"},
    {KEYVAL_CLASS_INT, "3", 8, "polls_choice.id@2 polls_choice.question_id@3 polls_question.id@2"},
    {KEYVAL_CLASS_INT, "5", 8, "polls_choice.id@4"},
    {KEYVAL_CLASS_INT, "6", 8, "polls_choice.id@5"},
    {KEYVAL_CLASS_INT, "9", 8, ""},
    {KEYVAL_CLASS_INT, "1", 1, "polls_choice.id@0"},
    {KEYVAL_CLASS_INT, "1", 2, "polls_choice.id@0 polls_choice.question_id@0"},
    {KEYVAL_CLASS_INT, "1", 0, ""},
    {KEYVAL_CLASS_TEXT, "1", 8, "tags.slug@0"},
    {KEYVAL_CLASS_TEXT, "", 8, "tags.slug@1"}, /* the empty string, not the NULL */
    {KEYVAL_CLASS_UUID, "1", 8, ""},
    {KEYVAL_CLASS_NAME, "1", 8, ""},
    {KEYVAL_CLASS_INT, "", 8, ""},
};

static void
test_find(void **state)
{
    struct keysrc ks;
    (void)state;
    seed_sources(&ks);
    for (size_t i = 0; i < sizeof(find_cases) / sizeof(find_cases[0]); i++) {
        const struct find_case *c = &find_cases[i];
        struct keysrc_hit hits[8];
        char got[256] = "";
        size_t n = 0;
        int nh = keysrc_find(&ks, c->cls, c->key, strlen(c->key), hits, c->max);
        assert_true(nh >= 0 && nh <= c->max);
        for (int h = 0; h < nh; h++) {
            const char *v;
            size_t vl;
            assert_true(keysrc_value(hits[h].col, hits[h].row, &v, &vl));
            assert_true(vl == strlen(c->key) && memcmp(v, c->key, vl) == 0);
            n += (size_t)snprintf(got + n, sizeof(got) - n, "%s%s.%s@%u", h ? " " : "",
                                  hits[h].res->source_table, hits[h].col->name, hits[h].row);
        }
        if (strcmp(got, c->want) != 0)
            fail_msg("find %d \"%s\" max %d: \"%s\", want \"%s\"", (int)c->cls, c->key, c->max, got,
                     c->want);
    }
    keysrc_clear(&ks);
}

/* ---- keysrc_collect ----------------------------------------------------------------------- */

/* The cached callback: ctx is a list of keys separated by ',', counted per call. */
struct cached_ctx {
    const char *set;
    int calls;
};

static bool
cached(void *ctx, const char *key, size_t len)
{
    struct cached_ctx *c = ctx;
    c->calls++;
    for (const char *p = c->set; *p;) {
        const char *e = strchr(p, ',');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (n == len && memcmp(p, key, len) == 0)
            return true;
        p += n + (e != NULL);
    }
    return false;
}

static const struct collect_case {
    const char *cur;
    const char *cached; /* NULL: no callback */
    size_t max;
    const char *want;
} collect_cases[] = {
    {"5", NULL, 10, "5,3,7,9,1"},
    {"7", NULL, 10, "7,5,3,9,1"}, /* the current key first, not again later */
    {"7", NULL, 3, "7,5,3"},
    {"5", NULL, 1, "5"},
    {"5", NULL, 0, ""},
    {"42", NULL, 10, "42,5,3,7,9,1"}, /* a current key the column lacks */
    {"5", "", 10, "5,3,7,9,1"},
    {"5", "3,9", 10, "5,7,1"},
    {"5", "3,9", 2, "5,7"},
    {"5", "5,3,7,9,1", 10, "5"}, /* everything answered: just the current key */
    {"5", "5", 10, "5,3,7,9,1"}, /* the current key is never asked about */
    {"", NULL, 3, ",5,3"},
};

static void
test_collect(void **state)
{
    struct keysrc ks;
    (void)state;
    keysrc_init(&ks, 8, 1000, 1 << 20);
    add_result(&ks, "polls_choice", "question_id", "5;3;5;7;-;3;9;1;x");
    const struct keysrc_result *r = ks.results[0];
    assert_int_equal(r->nrows, 9);
    for (size_t i = 0; i < sizeof(collect_cases) / sizeof(collect_cases[0]); i++) {
        const struct collect_case *c = &collect_cases[i];
        const char *keys[16];
        size_t lens[16];
        struct cached_ctx ctx = {c->cached, 0};
        int n = keysrc_collect(&r->cols[0], r->nrows, c->cur, strlen(c->cur),
                               c->cached ? cached : NULL, &ctx, c->max, keys, lens);
        char got[128] = "";
        size_t w = 0;
        assert_true(n >= 0 && (size_t)n <= c->max);
        for (int k = 0; k < n; k++)
            w += (size_t)snprintf(got + w, sizeof(got) - w, "%s%.*s", k ? "," : "", (int)lens[k],
                                  keys[k]);
        if (strcmp(got, c->want) != 0)
            fail_msg("collect cur %s cached %s max %zu: \"%s\", want \"%s\"", c->cur,
                     c->cached ? c->cached : "(none)", c->max, got, c->want);
        if (n > 0)
            assert_ptr_equal(keys[0], c->cur);
    }
    keysrc_clear(&ks);
}

/* A long column: many duplicates, max well below the distinct count. */
static void
test_collect_large(void **state)
{
    struct keysrc ks;
    struct fx_col col = {"author_id", 3, 2, INT8, 8, -1, 0};
    (void)state;
    keysrc_init(&ks, 8, 10000, 1 << 24);
    begin_cols(&ks, &col, 1, "books");
    for (int i = 0; i < 5000; i++) {
        char v[16];
        snprintf(v, sizeof(v), "%d", (i * 7) % 1500);
        struct fx_field f = {v, (int32_t)strlen(v)};
        row_fields(&ks, &f, 1);
    }
    keysrc_end(&ks);
    assert_int_equal(ks.count, 1);
    const struct keysrc_result *r = ks.results[0];
    assert_int_equal(r->nrows, 5000);
    static const char *keys[1500];
    static size_t lens[1500];
    for (size_t max = 1; max <= 1500; max = max * 3 + 1) {
        int n = keysrc_collect(&r->cols[0], r->nrows, "7", 1, NULL, NULL, max, keys, lens);
        assert_int_equal(n, (int)max);
        /* The current key, then the column's distinct values in first-seen order. */
        assert_memory_equal(keys[0], "7", 1);
        int row = 0;
        for (int k = 1; k < n; k++) {
            char want[16];
            for (;; row++) {
                snprintf(want, sizeof(want), "%d", (row * 7) % 1500);
                if (strcmp(want, "7") != 0 && row < 1500)
                    break;
            }
            row++;
            if (lens[k] != strlen(want) || memcmp(keys[k], want, lens[k]) != 0)
                fail_msg("max %zu key %d: %.*s, want %s", max, k, (int)lens[k], keys[k], want);
        }
    }
    int n = keysrc_collect(&r->cols[0], r->nrows, "7", 1, NULL, NULL, 1500, keys, lens);
    assert_int_equal(n, 1500);
    keysrc_clear(&ks);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_key_columns),
        cmocka_unit_test(test_canonical_values),
        cmocka_unit_test(test_text_and_binary_same_key),
        cmocka_unit_test(test_empty_strings_only),
        cmocka_unit_test(test_long_values),
        cmocka_unit_test(test_row_count_kept),
        cmocka_unit_test(test_no_key_columns_or_bad_desc),
        cmocka_unit_test(test_bad_rows_abort),
        cmocka_unit_test(test_abort),
        cmocka_unit_test(test_newest_first_and_max_results),
        cmocka_unit_test(test_max_rows),
        cmocka_unit_test(test_max_bytes),
        cmocka_unit_test(test_max_bytes_never_exceeded),
        cmocka_unit_test(test_find),
        cmocka_unit_test(test_collect),
        cmocka_unit_test(test_collect_large),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
