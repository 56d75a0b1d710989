/*
 * test_keysrc: key sources (batcher/keysrc.c), what is recorded. A multi-row result streams
 * past; its key-typed columns are kept as canonical values in row order. Which columns, which
 * canonical values, which results are kept. Bounds and searching: test_keysrc_search.c.
 */
#include "tests/unit/batcher/keysrc_harness.h"

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
    keysrc_begin(&ks, (const uint8_t *)"\0\x01id", 4, 0, NULL, NULL, 0);
    assert_null(ks.cur);
    keysrc_begin(&ks, NULL, 0, 0, NULL, NULL, 0);
    assert_null(ks.cur);
    /* Zero columns. */
    keysrc_begin(&ks, (const uint8_t *)"\0\0", 2, 0, NULL, NULL, 0);
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
    };
    return cmocka_run_group_tests_name("keysrc", tests, NULL, NULL);
}
