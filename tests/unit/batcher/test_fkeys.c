/*
 * test_fkeys: declared single-column foreign keys (batcher/fkeys.c). Rows arrive as the eight
 * text fields of FKEYS_SQL; a row that does not read as (oid, attnum, oid, attnum, 4 names) is
 * refused whole. The questions asked afterwards are "does this source column reference the
 * key column" (forward) and "is it referenced by it" (reverse); both are tables of cases
 * against one small schema, the polls app of the seed plus a self-reference.
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

#include "batcher/fkeys.h"

/* Adds a row written as 8 strings ("-" stands for SQL NULL). */
static int
add(struct fkeys *k, const char *const row[8])
{
    const char *f[8];
    size_t len[8];
    for (int i = 0; i < 8; i++) {
        f[i] = strcmp(row[i], "-") == 0 ? NULL : row[i];
        len[i] = f[i] ? strlen(f[i]) : 0;
    }
    return fkeys_add_row(k, f, len);
}

/* polls_choice(16390).question_id(2) -> polls_question(16384).id(1);
 * polls_vote(16400).choice_id(3) -> polls_choice(16390).id(1);
 * employee(16500).manager_id(4) -> employee(16500).id(1). */
static void
load_schema(struct fkeys *k)
{
    static const char *const rows[][8] = {
        {"16390", "2", "16384", "1", "polls_choice", "question_id", "polls_question", "id"},
        {"16400", "3", "16390", "1", "polls_vote", "choice_id", "polls_choice", "id"},
        {"16500", "4", "16500", "1", "employee", "manager_id", "employee", "id"},
    };
    fkeys_init(k);
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
        assert_int_equal(add(k, rows[i]), 0);
}

static void
test_init_free(void **state)
{
    struct fkeys k;
    (void)state;
    fkeys_init(&k);
    assert_int_equal(k.n, 0);
    assert_null(k.v);
    /* Nothing loaded: nothing matches. */
    assert_false(fkeys_forward(&k, 16390, 2, "polls_question", "id"));
    assert_false(fkeys_reverse(&k, "polls_choice", "question_id", 16384, 1));
    fkeys_free(&k);

    load_schema(&k);
    assert_int_equal(k.n, 3);
    fkeys_free(&k);
    assert_int_equal(k.n, 0);
    assert_false(fkeys_forward(&k, 16390, 2, "polls_question", "id"));
    fkeys_free(&k);
}

/* ---- rows ----------------------------------------------------------------------------- */

static const struct row_case {
    const char *row[8];
    int rc;
} row_cases[] = {
    {{"16390", "2", "16384", "1", "polls_choice", "question_id", "polls_question", "id"}, 0},
    {{"0", "0", "0", "0", "", "", "", ""}, 0},
    {{"4294967295", "32767", "4294967295", "32767", "a", "b", "c", "d"}, 0},
    {{"00016390", "02", "16384", "1", "t", "c", "u", "d"}, 0},        /* leading zeros */
    {{"4294967296", "2", "16384", "1", "t", "c", "u", "d"}, -EINVAL}, /* oid range */
    {{"16390", "2", "4294967296", "1", "t", "c", "u", "d"}, -EINVAL},
    {{"16390", "32768", "16384", "1", "t", "c", "u", "d"}, -EINVAL}, /* attnum range */
    {{"16390", "2", "16384", "32768", "t", "c", "u", "d"}, -EINVAL},
    {{"18446744073709551616", "2", "16384", "1", "t", "c", "u", "d"}, -EINVAL}, /* 2^64 */
    {{"18446744073709551617", "2", "16384", "1", "t", "c", "u", "d"}, -EINVAL}, /* wraps to 1 */
    {{"16390", "18446744073709551618", "16384", "1", "t", "c", "u", "d"}, -EINVAL},
    {{"99999999999999999999", "2", "16384", "1", "t", "c", "u", "d"}, -EINVAL},
    {{"999999999999999999999", "2", "16384", "1", "t", "c", "u", "d"}, -EINVAL}, /* 21 digits */
    {{"", "2", "16384", "1", "t", "c", "u", "d"}, -EINVAL},
    {{"16390", "", "16384", "1", "t", "c", "u", "d"}, -EINVAL},
    {{"-1", "2", "16384", "1", "t", "c", "u", "d"}, -EINVAL},
    {{"16390", "-2", "16384", "1", "t", "c", "u", "d"}, -EINVAL},
    {{"+16390", "2", "16384", "1", "t", "c", "u", "d"}, -EINVAL},
    {{" 16390", "2", "16384", "1", "t", "c", "u", "d"}, -EINVAL},
    {{"16390a", "2", "16384", "1", "t", "c", "u", "d"}, -EINVAL},
    {{"16390", "2", "0x10", "1", "t", "c", "u", "d"}, -EINVAL},
    {{"16390", "2", "16384", "1.0", "t", "c", "u", "d"}, -EINVAL},
    {{"-", "2", "16384", "1", "t", "c", "u", "d"}, -EINVAL}, /* NULL fields */
    {{"16390", "-", "16384", "1", "t", "c", "u", "d"}, -EINVAL},
    {{"16390", "2", "-", "1", "t", "c", "u", "d"}, -EINVAL},
    {{"16390", "2", "16384", "-", "t", "c", "u", "d"}, -EINVAL},
    {{"16390", "2", "16384", "1", "-", "c", "u", "d"}, -EINVAL},
    {{"16390", "2", "16384", "1", "t", "-", "u", "d"}, -EINVAL},
    {{"16390", "2", "16384", "1", "t", "c", "-", "d"}, -EINVAL},
    {{"16390", "2", "16384", "1", "t", "c", "u", "-"}, -EINVAL},
};

static void
test_add_rows(void **state)
{
    int failed = 0;
    (void)state;
    for (size_t i = 0; i < sizeof(row_cases) / sizeof(row_cases[0]); i++) {
        struct fkeys k;
        fkeys_init(&k);
        int rc = add(&k, row_cases[i].row);
        if (rc != row_cases[i].rc) {
            failed++;
            print_error("case %zu (%s, %s, %s, %s): %d, want %d\n", i, row_cases[i].row[0],
                        row_cases[i].row[1], row_cases[i].row[2], row_cases[i].row[3], rc,
                        row_cases[i].rc);
        }
        /* A refused row adds nothing; an accepted one adds one entry. */
        assert_int_equal(k.n, rc == 0 ? 1u : 0u);
        fkeys_free(&k);
    }
    if (failed)
        fail_msg("%d row case(s) failed", failed);
}

static void
test_row_fields_stored(void **state)
{
    struct fkeys k;
    char longname[200];
    (void)state;
    fkeys_init(&k);
    static const char *const row[8] = {"4294967295",   "32767",       "16384",          "1",
                                       "polls_choice", "question_id", "polls_question", "id"};
    assert_int_equal(add(&k, row), 0);
    assert_int_equal(k.v[0].rel, UINT32_MAX);
    assert_int_equal(k.v[0].att, 32767);
    assert_int_equal(k.v[0].frel, 16384);
    assert_int_equal(k.v[0].fatt, 1);
    assert_string_equal(k.v[0].relname, "polls_choice");
    assert_string_equal(k.v[0].attname, "question_id");
    assert_string_equal(k.v[0].frelname, "polls_question");
    assert_string_equal(k.v[0].fattname, "id");

    /* Fields are taken by length, not up to a NUL: names longer than 63 bytes are cut. */
    memset(longname, 'n', sizeof(longname));
    const char *f[8] = {"12345", "2", "678", "1", longname, "abcdef", longname, "id"};
    size_t len[8] = {3, 1, 3, 1, sizeof(longname), 3, 70, 2};
    assert_int_equal(fkeys_add_row(&k, f, len), 0);
    assert_int_equal(k.v[1].rel, 123);
    assert_int_equal(k.v[1].frel, 678);
    assert_int_equal(strlen(k.v[1].relname), 63);
    assert_string_equal(k.v[1].attname, "abc");
    assert_int_equal(strlen(k.v[1].frelname), 63);
    fkeys_free(&k);
}

/* ---- questions --------------------------------------------------------------------------- */

enum dir { FWD, REV };

static const struct match_case {
    enum dir dir;
    uint32_t src_rel;
    int16_t src_att;
    const char *key_table, *key_column;
    bool want;
} match_cases[] = {
    /* forward: source polls_choice.question_id feeds a lookup on polls_question.id */
    {FWD, 16390, 2, "polls_question", "id", true},
    {FWD, 16400, 3, "polls_choice", "id", true},
    {FWD, 16500, 4, "employee", "id", true},                 /* self-reference */
    {FWD, 16390, 1, "polls_question", "id", false},          /* polls_choice.id */
    {FWD, 16390, 2, "polls_choice", "id", false},            /* wrong referenced table */
    {FWD, 16390, 2, "polls_question", "question_id", false}, /* wrong referenced column */
    {FWD, 16391, 2, "polls_question", "id", false},          /* another table */
    {FWD, 16384, 1, "polls_choice", "question_id", false},   /* that is the reverse */
    {FWD, 0, 2, "polls_question", "id", false},              /* an expression column */
    {FWD, 16390, 2, NULL, "id", false},
    {FWD, 16390, 2, "polls_question", NULL, false},
    {FWD, 16390, 2, "Polls_Question", "id", false},        /* names are exact */
    {FWD, 16390, 2, "public.polls_question", "id", false}, /* the parser gives no schema */
    /* reverse: source polls_question.id feeds a lookup on polls_choice.question_id */
    {REV, 16384, 1, "polls_choice", "question_id", true},
    {REV, 16390, 1, "polls_vote", "choice_id", true},
    {REV, 16500, 1, "employee", "manager_id", true},
    {REV, 16384, 2, "polls_choice", "question_id", false}, /* not the referenced column */
    {REV, 16390, 1, "polls_choice", "question_id", false}, /* another referenced table */
    {REV, 16384, 1, "polls_vote", "question_id", false},
    {REV, 16384, 1, "polls_choice", "choice_id", false},
    {REV, 16390, 2, "polls_question", "id", false}, /* that is the forward */
    {REV, 0, 1, "polls_choice", "question_id", false},
    {REV, 16384, 1, NULL, "question_id", false},
    {REV, 16384, 1, "polls_choice", NULL, false},
};

static void
test_forward_reverse(void **state)
{
    struct fkeys k;
    (void)state;
    load_schema(&k);
    for (size_t i = 0; i < sizeof(match_cases) / sizeof(match_cases[0]); i++) {
        const struct match_case *c = &match_cases[i];
        bool got = c->dir == FWD
                       ? fkeys_forward(&k, c->src_rel, c->src_att, c->key_table, c->key_column)
                       : fkeys_reverse(&k, c->key_table, c->key_column, c->src_rel, c->src_att);
        if (got != c->want)
            fail_msg("case %zu (%s %u.%d, %s.%s): %d, want %d", i,
                     c->dir == FWD ? "forward" : "reverse", c->src_rel, c->src_att,
                     c->key_table ? c->key_table : "NULL", c->key_column ? c->key_column : "NULL",
                     got, c->want);
    }
    fkeys_free(&k);
}

/* Past the first 32 entries the array grows; every entry stays findable both ways. */
static void
test_growth(void **state)
{
    struct fkeys k;
    (void)state;
    fkeys_init(&k);
    for (int i = 0; i < 1000; i++) {
        char rel[16], frel[16], relname[32], attname[32], frelname[32];
        snprintf(rel, sizeof(rel), "%d", 20000 + i);
        snprintf(frel, sizeof(frel), "%d", 30000 + i % 17);
        snprintf(relname, sizeof(relname), "child_%d", i);
        snprintf(attname, sizeof(attname), "parent%d_id", i % 17);
        snprintf(frelname, sizeof(frelname), "parent_%d", i % 17);
        const char *row[8] = {rel, "2", frel, "1", relname, attname, frelname, "id"};
        assert_int_equal(add(&k, row), 0);
        assert_int_equal(k.n, (size_t)i + 1);
        assert_true(k.cap >= k.n);
        if (i == 31)
            assert_int_equal(k.cap, 32);
    }
    assert_true(k.cap >= 1000);
    for (int i = 0; i < 1000; i++) {
        char relname[32], attname[32], frelname[32];
        snprintf(relname, sizeof(relname), "child_%d", i);
        snprintf(attname, sizeof(attname), "parent%d_id", i % 17);
        snprintf(frelname, sizeof(frelname), "parent_%d", i % 17);
        assert_true(fkeys_forward(&k, 20000 + (uint32_t)i, 2, frelname, "id"));
        assert_false(fkeys_forward(&k, 20000 + (uint32_t)i, 1, frelname, "id"));
        assert_true(fkeys_reverse(&k, relname, attname, 30000 + (uint32_t)(i % 17), 1));
        assert_false(fkeys_reverse(&k, relname, attname, 30000 + (uint32_t)((i + 1) % 17), 1));
    }
    /* The first entries survived every reallocation. */
    assert_string_equal(k.v[0].relname, "child_0");
    assert_string_equal(k.v[32].relname, "child_32");
    fkeys_free(&k);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init_free),
        cmocka_unit_test(test_add_rows),
        cmocka_unit_test(test_row_fields_stored),
        cmocka_unit_test(test_forward_reverse),
        cmocka_unit_test(test_growth),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
