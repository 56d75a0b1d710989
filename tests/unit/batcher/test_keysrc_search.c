/*
 * test_keysrc_search: key sources (batcher/keysrc.c), bounds and searching: newest result
 * first within bounds of results, rows and bytes; keysrc_find says where a key was seen;
 * keysrc_collect lists the keys a batch would fetch.
 */
#include "tests/unit/batcher/keysrc_harness.h"

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
    add_result(&ks, "e", "id", "1;2;3;4;5;6"); /* over the bound: its first 5 rows are kept */
    assert_int_equal(ks.count, 1);
    assert_string_equal(ks.results[0]->source_table, "e");
    assert_int_equal(ks.results[0]->nrows, 5);
    const char *v;
    size_t vl;
    assert_true(keysrc_value(&ks.results[0]->cols[0], 4, &v, &vl));
    assert_memory_equal(v, "5", vl);
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
        cmocka_unit_test(test_newest_first_and_max_results),
        cmocka_unit_test(test_max_rows),
        cmocka_unit_test(test_max_bytes),
        cmocka_unit_test(test_max_bytes_never_exceeded),
        cmocka_unit_test(test_find),
        cmocka_unit_test(test_collect),
        cmocka_unit_test(test_collect_large),
    };
    return cmocka_run_group_tests_name("keysrc search", tests, NULL, NULL);
}
