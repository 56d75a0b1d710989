/*
 * test_shapecache: which texts share a cached shape, what a hit hands back for the text in hand
 * (literal spans, the key's value, a batch spliced from that very text), LRU bounds, and that a
 * held shape outlives its eviction. Table-driven where the cases are data.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "parser/shape.h"
#include "parser/shapecache.h"

static const struct share_case {
    const char *a;
    const char *b;
    int shared; /* b is answered from a's entry */
} share_cases[] = {
    {"SELECT * FROM t WHERE id = 7", "SELECT * FROM t WHERE id = 8", 1},
    {"SELECT * FROM t WHERE id = 7 LIMIT 21", "SELECT * FROM t WHERE id = 123456789 LIMIT 21", 1},
    {"SELECT * FROM t WHERE id = 7 LIMIT 21", "SELECT * FROM t WHERE id = 7 LIMIT 5", 1},
    {"SELECT * FROM t WHERE id = -7", "SELECT * FROM t WHERE id = -8", 1},
    {"SELECT * FROM t WHERE id = 7", "SELECT * FROM t WHERE id = -7", 0},
    {"SELECT * FROM t WHERE id = 7", "SELECT * FROM t WHERE id = '7'", 0},
    {"SELECT * FROM t WHERE id = 7", "SELECT * FROM t WHERE id = 7.5", 0},
    {"SELECT * FROM t WHERE id = 7", "SELECT * FROM t WHERE id  = 7", 0},
    {"SELECT * FROM t WHERE id = 7", "select * from t where id = 7", 0},
    {"SELECT * FROM t WHERE name = 'a'", "SELECT * FROM t WHERE name = E'b\\'c'", 1},
    {"SELECT * FROM t WHERE name = 'a'", "SELECT * FROM t WHERE name = $$b'c$$", 1},
    {"SELECT * FROM t WHERE name = 'a'", "SELECT * FROM t WHERE name = 'it''s'", 1},
    {"SELECT * FROM t WHERE id = 7 -- c", "SELECT * FROM t WHERE id = 8 -- c", 1},
    {"SELECT * FROM t WHERE id = 7 -- c", "SELECT * FROM t WHERE id = 7 -- d", 0},
    {"SELECT * FROM t WHERE id = $1", "SELECT * FROM t WHERE id = $1", 1},
    {"SELECT * FROM t WHERE id = $1", "SELECT * FROM t WHERE id = $2", 0},
    {"INSERT INTO t VALUES (1, 'a')", "INSERT INTO t VALUES (2, 'b')", 1},
    {"UPDATE t SET a = 1 WHERE id = 2", "UPDATE t SET a = 3 WHERE id = 4", 1},
    {"DELETE FROM t WHERE id = 1", "DELETE FROM t WHERE id = 2", 1},
    {"SET search_path = 'a'", "SET search_path = 'b'", 0},
    {"SET x = 1", "SET x = 1", 1},
    {"PREPARE TRANSACTION 'a'", "PREPARE TRANSACTION 'b'", 0},
    {"SELECT 1; SELECT 2", "SELECT 1; SELECT 3", 0},
    {"SELECT 1; SELECT 2", "SELECT 1; SELECT 2", 1},
    {"selec 1", "selec 2", 0},
    {"selec 1", "selec 1", 1},
    {"BEGIN", "BEGIN", 1},
    {"SELECT * FROM t WHERE name = U&'a'", "SELECT * FROM t WHERE name = U&'a'", 1},
    {"SELECT * FROM t WHERE name = U&'a'", "SELECT * FROM t WHERE name = U&'b'", 0},
    {"SELECT * FROM t WHERE name = E'\\u00e9'", "SELECT * FROM t WHERE name = E'\\u00e8'", 0},
    {"SELECT * FROM t WHERE name = 'a'\n'b'", "SELECT * FROM t WHERE name = 'a'\n'b'", 1},
    {"SELECT * FROM t WHERE name = 'a'\n'b'", "SELECT * FROM t WHERE name = 'a'\n'c'", 0},
};

static void
test_sharing(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(share_cases) / sizeof(share_cases[0]); i++) {
        const struct share_case *c = &share_cases[i];
        struct shapecache *sc;
        struct shape *sa, *sb;
        struct shape_lits lits = {0};
        struct shapecache_stats st;

        assert_int_equal(shapecache_new(16, &sc), 0);
        assert_int_equal(shapecache_get(sc, c->a, strlen(c->a), NULL, 0, &sa, &lits), 0);
        assert_int_equal(shapecache_get(sc, c->b, strlen(c->b), NULL, 0, &sb, &lits), 0);
        shapecache_stats(sc, &st);
        if ((sa == sb) != c->shared || st.hits != (uint64_t)c->shared)
            fail_msg("case %zu: \"%s\" then \"%s\": shared %d (hits %llu), want %d", i, c->a, c->b,
                     sa == sb, (unsigned long long)st.hits, c->shared);
        /* Whatever the entry, lits describes b itself. */
        assert_int_equal(lits.n, sb->nlits);
        for (int k = 0; k < lits.n; k++)
            assert_true(lits.v[k].off + lits.v[k].len <= strlen(c->b));
        shape_unref(sa);
        shape_unref(sb);
        shape_lits_free(&lits);
        shapecache_free(sc);
    }
}

static const char *django_1 =
    "SELECT \"polls_question\".\"id\", \"polls_question\".\"question_text\", "
    "\"polls_question\".\"pub_date\" FROM \"polls_question\" WHERE \"polls_question\".\"id\" = 1 "
    "LIMIT 21";
static const char *django_42_5 =
    "SELECT \"polls_question\".\"id\", \"polls_question\".\"question_text\", "
    "\"polls_question\".\"pub_date\" FROM \"polls_question\" WHERE \"polls_question\".\"id\" = 42 "
    "LIMIT 5";

/* A hit extracts the key of the text in hand and splices the batch from that text. */
static void
test_hit_uses_text_in_hand(void **state)
{
    struct shapecache *sc;
    struct shape *s1, *s2;
    struct shape_lits lits = {0};
    char val[32], *q;
    size_t n;

    (void)state;
    assert_int_equal(shapecache_new(16, &sc), 0);
    assert_int_equal(shapecache_get(sc, django_1, strlen(django_1), NULL, 0, &s1, &lits), 0);
    assert_int_equal(s1->kind, SHAPE_LOOKUP);
    assert_int_equal(shapecache_get(sc, django_42_5, strlen(django_42_5), NULL, 0, &s2, &lits), 0);
    assert_ptr_equal(s1, s2);
    assert_int_equal(lits.n, 2);
    assert_memory_equal(django_42_5 + lits.v[0].off, "42", 2);
    assert_int_equal(lits.v[0].len, 2);
    assert_memory_equal(django_42_5 + lits.v[1].off, "5", 1);
    assert_int_equal(
        shape_slot_value(s2, django_42_5, strlen(django_42_5), &lits, 0, val, sizeof(val), &n), 0);
    assert_int_equal(n, 2);
    assert_memory_equal(val, "42", 2);
    assert_int_equal(shape_batch_sql(s2, django_42_5, strlen(django_42_5), &lits, 0, "int8",
                                     SHAPE_BATCH_LATERAL, &q),
                     0);
    assert_non_null(strstr(q, "= (pgfold_k.pgfold_v) LIMIT 5\n) AS pgfold_t"));
    assert_null(strstr(q, "LIMIT 21"));
    free(q);
    /* shape->text is still the first text; its own slot value is its own key */
    assert_int_equal(shape_slot_value(s1, NULL, 0, NULL, 0, val, sizeof(val), &n), 0);
    assert_memory_equal(val, "1", 1);
    shape_unref(s1);
    shape_unref(s2);
    shape_lits_free(&lits);
    shapecache_free(sc);
}

/* The batch and slot functions refuse a text the shape does not stand for. */
static void
test_foreign_text_refused(void **state)
{
    const char *other = "SELECT * FROM u WHERE id = 5";
    struct shape *s;
    struct shape_lits lits = {0};
    struct shapecache *sc;
    char *q, val[16];
    size_t n;

    (void)state;
    assert_int_equal(shapecache_new(4, &sc), 0);
    assert_int_equal(shapecache_get(sc, other, strlen(other), NULL, 0, &s, &lits), 0);
    shape_unref(s);
    assert_int_equal(shapecache_get(sc, django_1, strlen(django_1), NULL, 0, &s, &lits), 0);
    assert_int_equal(
        shape_batch_sql(s, other, strlen(other), &lits, 0, "int8", SHAPE_BATCH_LATERAL, &q),
        -EINVAL);
    assert_int_equal(shape_slot_value(s, other, strlen(other), &lits, 0, val, sizeof(val), &n),
                     -EINVAL);
    lits.n = 1;
    assert_int_equal(
        shape_batch_sql(s, django_1, strlen(django_1), &lits, 0, "int8", SHAPE_BATCH_LATERAL, &q),
        -EINVAL);
    shape_unref(s);
    shape_lits_free(&lits);
    shapecache_free(sc);
}

/* Parse parameter types are part of the key. */
static void
test_param_types_in_key(void **state)
{
    const char *sql = "SELECT * FROM t WHERE id = $1";
    uint32_t int8[1] = {20}, int4[1] = {23};
    struct shapecache *sc;
    struct shape *a, *b, *c, *d;
    struct shape_lits lits = {0};
    struct shapecache_stats st;

    (void)state;
    assert_int_equal(shapecache_new(16, &sc), 0);
    assert_int_equal(shapecache_get(sc, sql, strlen(sql), int8, 1, &a, &lits), 0);
    assert_int_equal(shapecache_get(sc, sql, strlen(sql), int4, 1, &b, &lits), 0);
    assert_int_equal(shapecache_get(sc, sql, strlen(sql), NULL, 0, &c, &lits), 0);
    assert_int_equal(shapecache_get(sc, sql, strlen(sql), int8, 1, &d, &lits), 0);
    assert_true(a != b && b != c && a != c);
    assert_ptr_equal(a, d);
    assert_int_equal(a->slots[0].param_oid, 20);
    assert_int_equal(b->slots[0].param_oid, 23);
    assert_int_equal(c->slots[0].param_oid, 0);
    shapecache_stats(sc, &st);
    assert_int_equal(st.misses, 3);
    assert_int_equal(st.hits, 1);
    shape_unref(a);
    shape_unref(b);
    shape_unref(c);
    shape_unref(d);
    shape_lits_free(&lits);
    shapecache_free(sc);
}

static int
get_hit(struct shapecache *sc, const char *sql, struct shape_lits *lits)
{
    struct shapecache_stats before, after;
    struct shape *s;

    shapecache_stats(sc, &before);
    assert_int_equal(shapecache_get(sc, sql, strlen(sql), NULL, 0, &s, lits), 0);
    shapecache_stats(sc, &after);
    shape_unref(s);
    return after.hits > before.hits;
}

/* Least recently used goes first. */
static void
test_lru(void **state)
{
    struct shapecache *sc;
    struct shape_lits lits = {0};
    struct shapecache_stats st;

    (void)state;
    assert_int_equal(shapecache_new(2, &sc), 0);
    assert_false(get_hit(sc, "SELECT 1", &lits));
    assert_false(get_hit(sc, "SELECT a FROM b", &lits));
    assert_true(get_hit(sc, "SELECT 2", &lits));         /* shares SELECT 1's skeleton */
    assert_false(get_hit(sc, "SELECT c FROM d", &lits)); /* evicts SELECT a FROM b */
    assert_true(get_hit(sc, "SELECT 1", &lits));
    assert_false(get_hit(sc, "SELECT a FROM b", &lits));
    shapecache_stats(sc, &st);
    assert_int_equal(st.evictions, 2);
    assert_int_equal(st.entries, 2);
    assert_int_equal(st.capacity, 2);
    shape_lits_free(&lits);
    shapecache_free(sc);
}

/* A shape the caller holds survives its eviction and the cache's end. */
static void
test_held_shape_outlives_cache(void **state)
{
    struct shapecache *sc;
    struct shape *held, *other;
    struct shape_lits lits = {0};

    (void)state;
    assert_int_equal(shapecache_new(1, &sc), 0);
    assert_int_equal(shapecache_get(sc, "SELECT * FROM t WHERE id = 1", 28, NULL, 0, &held, &lits),
                     0);
    assert_int_equal(shapecache_get(sc, "SHOW x", 6, NULL, 0, &other, &lits), 0);
    shape_unref(other);
    shapecache_free(sc);
    assert_int_equal(held->kind, SHAPE_LOOKUP);
    assert_int_equal(held->refs, 1);
    shape_unref(held);
    shape_lits_free(&lits);
}

/* Too long to keep, or no cache at all: analysed every time, still correct. */
static void
test_uncached(void **state)
{
    size_t len = SHAPECACHE_MAX_TEXT + 100;
    char *big = malloc(len + 1);
    struct shapecache *sc, *off;
    struct shape *s;
    struct shape_lits lits = {0};
    struct shapecache_stats st;

    (void)state;
    assert_non_null(big);
    memset(big, ' ', len);
    memcpy(big, "SELECT * FROM t WHERE id = 5", 28);
    big[len] = '\0';
    assert_int_equal(shapecache_new(4, &sc), 0);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(shapecache_get(sc, big, len, NULL, 0, &s, &lits), 0);
        assert_int_equal(s->kind, SHAPE_LOOKUP);
        assert_int_equal(lits.n, 1);
        shape_unref(s);
    }
    shapecache_stats(sc, &st);
    assert_int_equal(st.uncached, 2);
    assert_int_equal(st.entries, 0);
    assert_int_equal(shapecache_new(0, &off), 0);
    assert_int_equal(shapecache_get(off, "SELECT 1", 8, NULL, 0, &s, &lits), 0);
    assert_int_equal(s->kind, SHAPE_READ);
    shape_unref(s);
    shapecache_stats(off, &st);
    assert_int_equal(st.uncached, 1);
    shapecache_free(off);
    shapecache_free(sc);
    shape_lits_free(&lits);
    free(big);
}

/* Exact entries hand back the shape's own literal list. */
static void
test_exact_entry_lits(void **state)
{
    const char *sql = "SELECT * FROM t WHERE a = 1 AND b = U&'x' AND c = 'y'";
    struct shapecache *sc;
    struct shape *s;
    struct shape_lits lits = {0};

    (void)state;
    assert_int_equal(shapecache_new(4, &sc), 0);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(shapecache_get(sc, sql, strlen(sql), NULL, 0, &s, &lits), 0);
        assert_false(s->shareable);
        assert_int_equal(lits.n, s->nlits);
        assert_memory_equal(lits.v, s->lits, (size_t)lits.n * sizeof(*lits.v));
        shape_unref(s);
    }
    shapecache_free(sc);
    shape_lits_free(&lits);
}

/* Many shapes through a small cache: bounded, and (under ASan) nothing leaks. */
static void
test_churn(void **state)
{
    struct shapecache *sc;
    struct shape_lits lits = {0};
    struct shapecache_stats st;
    char sql[64];

    (void)state;
    assert_int_equal(shapecache_new(50, &sc), 0);
    for (int i = 0; i < 500; i++) {
        struct shape *s;
        int n = snprintf(sql, sizeof(sql), "SELECT c%d FROM t WHERE id = %d", i % 120, i);
        assert_int_equal(shapecache_get(sc, sql, (size_t)n, NULL, 0, &s, &lits), 0);
        shape_unref(s);
    }
    shapecache_stats(sc, &st);
    assert_int_equal(st.entries, 50);
    assert_int_equal(st.hits + st.misses, 500);
    assert_int_equal(st.evictions, st.misses - 50);
    shape_lits_free(&lits);
    shapecache_free(sc);
}

static int
teardown(void **state)
{
    (void)state;
    shape_thread_exit();
    return 0;
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sharing),
        cmocka_unit_test(test_hit_uses_text_in_hand),
        cmocka_unit_test(test_foreign_text_refused),
        cmocka_unit_test(test_param_types_in_key),
        cmocka_unit_test(test_lru),
        cmocka_unit_test(test_held_shape_outlives_cache),
        cmocka_unit_test(test_uncached),
        cmocka_unit_test(test_exact_entry_lits),
        cmocka_unit_test(test_churn),
    };
    return cmocka_run_group_tests(tests, NULL, teardown);
}
