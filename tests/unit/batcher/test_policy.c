/*
 * test_policy: source-column scoring and back-off (batcher/policy.c).
 *
 * Scoring is a table: a lookup's key column, a candidate source column, and the score the
 * weights documented in docs/batching.md and policy.h give it. A second table states the
 * decisions those weights exist for ("forward beats the source's own id"), so a change of
 * weights that keeps the decisions keeps that table green. Back-off is walked batch by batch.
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

#include "batcher/policy.h"

/* ---- scoring --------------------------------------------------------------------------- */

/* A candidate: the lookup's key column, and where the key was seen. */
struct cand {
    const char *table, *column;  /* lookup key column (table may be NULL) */
    const char *srctab, *srccol; /* source result's single table ("" if none), column name */
    uint32_t oid;                /* the source column's table OID; 0 = expression */
    bool prev, fk;
};

static int
score(const struct cand *c)
{
    struct keysrc_result res;
    struct keysrc_col col;
    memset(&res, 0, sizeof(res));
    memset(&col, 0, sizeof(col));
    snprintf(res.source_table, sizeof(res.source_table), "%s", c->srctab);
    snprintf(col.name, sizeof(col.name), "%s", c->srccol);
    col.table_oid = c->oid;
    col.cls = KEYVAL_CLASS_INT;
    struct keysrc_hit h = {&res, &col, 0};
    struct policy_target t = {c->table, c->column};
    return policy_score(&t, &h, c->prev, c->fk);
}

#define T 16390 /* some table OID */

static const struct score_case {
    struct cand c;
    int want;
} score_cases[] = {
    /* forward: polls_question.id fed by a question_id column */
    {{"polls_question", "id", "polls_choice", "question_id", T, false, false}, 110},
    {{"polls_question", "id", "", "question_id", T, false, false}, 110},
    /* plural tables (Rails): blog_users.id <- user_id, categories <- category_id, boxes <- box_id */
    {{"blog_users", "id", "blog_posts", "user_id", T, false, false}, 110},
    {{"categories", "id", "", "category_id", T, false, false}, 110},
    {{"boxes", "id", "", "box_id", T, false, false}, 110},
    {{"users", "id", "", "user_id", T, false, false}, 110},
    {{"userss", "id", "", "user_id", T, false, false}, 10},
    {{"poweruser", "id", "", "user_id", T, false, false}, 10}, /* not a word */
    {{"polls_question", "id", "polls_choice", "questionId", T, false, false}, 110},
    {{"Polls_Question", "ID", "", "QUESTION_ID", T, false, false}, 110},
    {{"question", "id", "", "question_id", T, false, false}, 110},
    {{"polls_subquestion", "id", "", "question_id", T, false, false}, 10}, /* not a word */
    {{"polls_question", "id", "", "answer_id", T, false, false}, 10},
    {{NULL, "id", "", "question_id", T, false, false}, 10}, /* table unknown */
    {{"polls_question", "id", "", "_id", T, false, false}, 10},
    {{"polls_question", "id", "", "Id", T, false, false}, 10},
    /* the source's own id */
    {{"polls_question", "id", "polls_choice", "id", T, false, false}, 10},
    {{"polls_question", "id", "polls_question", "id", T, false, false}, 5}, /* the row itself */
    /* reverse: polls_choice.question_id fed by polls_question.id */
    {{"polls_choice", "question_id", "polls_question", "id", T, false, false}, 110},
    {{"polls_choice", "questionId", "polls_question", "id", T, false, false}, 110},
    {{"blog_comments", "post_id", "blog_posts", "id", T, false, false}, 110},
    {{"polls_choice", "question_id", "question", "id", T, false, false}, 110},
    {{"polls_choice", "question_id", "", "id", T, false, false}, 10}, /* source table unknown */
    {{"polls_choice", "question_id", "polls_answer", "id", T, false, false}, 10},
    {{"polls_choice", "question_id", "polls_subquestion", "id", T, false, false}, 10},
    /* the same non-id name on both sides */
    {{"polls_choice", "question_id", "polls_vote", "question_id", T, false, false}, 60},
    {{"books", "author_id", "", "author_id", T, false, false}, 60},
    {{"users", "email", "", "email", T, false, false}, 60},
    {{"users", "email", "", "EMAIL", T, false, false}, 60},
    {{"users", "email", "", "login", T, false, false}, 10},
    /* evidence: the previous key in this column, a declared foreign key */
    {{"users", "email", "", "login", T, true, false}, 50},
    {{"polls_question", "id", "", "question_id", T, true, false}, 150},
    {{"users", "email", "", "login", T, false, true}, 210},
    {{"polls_question", "id", "", "question_id", T, true, true}, 350},
    /* an expression column (no table OID) */
    {{"polls_question", "id", "", "question_id", 0, false, false}, 108},
    {{"users", "email", "", "x", 0, false, false}, 8},
    /* the lowest a column can score is still a usable score */
    {{"t", "id", "t", "id", 0, false, false}, 3},
    {{NULL, NULL, "", "id", 0, false, false}, 8},
};

static void
test_score_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(score_cases) / sizeof(score_cases[0]); i++) {
        const struct cand *c = &score_cases[i].c;
        int got = score(c);
        if (got != score_cases[i].want)
            fail_msg("case %zu: %s.%s <- %s.%s (oid %u%s%s): %d, want %d", i,
                     c->table ? c->table : "?", c->column ? c->column : "?", c->srctab, c->srccol,
                     c->oid, c->prev ? ", prev" : "", c->fk ? ", fk" : "", got,
                     score_cases[i].want);
    }
}

/* Decisions: the winner must score strictly higher than the loser. */
static const struct beats_case {
    const char *why;
    struct cand win, lose;
} beats_cases[] = {
    {"forward beats the source's id",
     {"polls_question", "id", "polls_choice", "question_id", T, false, false},
     {"polls_question", "id", "polls_choice", "id", T, false, false}},
    {"forward beats an unrelated column with the previous key",
     {"polls_question", "id", "polls_choice", "question_id", T, false, false},
     {"polls_question", "id", "polls_choice", "votes", T, true, false}},
    {"reverse beats the same-name column",
     {"polls_choice", "question_id", "polls_question", "id", T, false, false},
     {"polls_choice", "question_id", "polls_choice", "question_id", T, false, false}},
    {"reverse beats an unrelated column",
     {"polls_choice", "question_id", "polls_question", "id", T, false, false},
     {"polls_choice", "question_id", "polls_question", "owner_id", T, false, false}},
    {"reverse beats another table's id",
     {"polls_choice", "question_id", "polls_question", "id", T, false, false},
     {"polls_choice", "question_id", "polls_answer", "id", T, false, false}},
    {"same name beats an unrelated column",
     {"books", "author_id", "", "author_id", T, false, false},
     {"books", "author_id", "", "editor_id", T, false, false}},
    {"the previous key breaks a tie",
     {"books", "author_id", "", "author_id", T, true, false},
     {"books", "author_id", "", "author_id", T, false, false}},
    {"a stored column beats an expression",
     {"polls_question", "id", "", "question_id", T, false, false},
     {"polls_question", "id", "", "question_id", 0, false, false}},
    {"a declared key beats the best names with the previous key",
     {"polls_question", "id", "", "qid", 0, false, true},
     {"polls_question", "id", "", "question_id", T, true, false}},
    {"a declared key beats reverse names with the previous key",
     {"polls_choice", "question_id", "polls_answer", "id", T, false, true},
     {"polls_choice", "question_id", "polls_question", "id", T, true, false}},
    {"a declared key beats the same name with the previous key",
     {"books", "author_id", "", "writer", 0, false, true},
     {"books", "author_id", "", "author_id", T, true, false}},
    {"another table's id beats the row's own id",
     {"polls_question", "id", "polls_choice", "id", T, false, false},
     {"polls_question", "id", "polls_question", "id", T, false, false}},
};

static void
test_score_decisions(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(beats_cases) / sizeof(beats_cases[0]); i++) {
        int w = score(&beats_cases[i].win), l = score(&beats_cases[i].lose);
        if (w <= l)
            fail_msg("%s: %d vs %d", beats_cases[i].why, w, l);
    }
}

/* Whatever the inputs, a score is positive: 0 is reserved for "do not use". */
static void
test_score_never_zero(void **state)
{
    static const char *const tables[] = {NULL, "", "t", "polls_question", "question"};
    static const char *const cols[] = {NULL, "id", "question_id", "x", "Id", "_id"};
    static const char *const srctabs[] = {"", "t", "polls_question"};
    static const char *const srccols[] = {"id", "question_id", "x", "", "ID"};
    (void)state;
    for (size_t a = 0; a < 5; a++)
        for (size_t b = 0; b < 6; b++)
            for (size_t c = 0; c < 3; c++)
                for (size_t d = 0; d < 5; d++)
                    for (int f = 0; f < 8; f++) {
                        struct cand k = {tables[a],       cols[b],      srctabs[c],  srccols[d],
                                         (f & 1) ? 0 : T, (f & 2) != 0, (f & 4) != 0};
                        assert_true(score(&k) > 0);
                    }
}

/* ---- per-shape stats ------------------------------------------------------------------ */

static void
test_shape_table(void **state)
{
    struct policy p;
    (void)state;
    policy_init(&p);
    struct policy_shape *a = policy_shape(&p, 42);
    assert_non_null(a);
    assert_int_equal(a->id, 42);
    assert_int_equal(a->lookups, 0);
    assert_false(a->cautious);
    assert_ptr_equal(policy_shape(&p, 42), a);
    a->lookups = 7;

    /* Many ids, several with equal low bits, through a few table growths. */
    for (uint64_t i = 0; i < 2000; i++) {
        uint64_t id = (i % 2 ? i << 20 : i * 0x9e3779b97f4a7c15ULL) + 1000;
        struct policy_shape *s = policy_shape(&p, id);
        assert_non_null(s);
        assert_int_equal(s->id, id);
        s->batches = i;
    }
    for (uint64_t i = 0; i < 2000; i++) {
        uint64_t id = (i % 2 ? i << 20 : i * 0x9e3779b97f4a7c15ULL) + 1000;
        struct policy_shape *s = policy_shape(&p, id);
        if (s->batches != i)
            fail_msg("shape %llu lost its stats", (unsigned long long)id);
    }
    assert_ptr_equal(policy_shape(&p, 42), a);
    assert_int_equal(a->lookups, 7);
    assert_int_equal(p.count, 2001);
    policy_free(&p);
    assert_int_equal(p.count, 0);
    assert_non_null(policy_shape(&p, 1)); /* usable after a free */
    policy_free(&p);
}

static void
test_remember(void **state)
{
    struct policy p;
    char big[KEYSRC_MAX_KEY + 50];
    (void)state;
    policy_init(&p);
    struct policy_shape *s = policy_shape(&p, 1);
    policy_remember(s, "17", 2);
    assert_int_equal(s->prev_key_len, 2);
    assert_memory_equal(s->prev_key, "17", 2);
    policy_remember(s, "", 0);
    assert_int_equal(s->prev_key_len, 0);
    memset(big, 'k', sizeof(big));
    policy_remember(s, big, sizeof(big));
    assert_int_equal(s->prev_key_len, KEYSRC_MAX_KEY);
    policy_free(&p);
}

/* ---- back-off ---------------------------------------------------------------------------- */

/* One batch of `fetched` keys of which `used` were served, then its review. */
static void
batch(struct policy_shape *s, uint32_t id, uint64_t fetched, uint64_t used)
{
    policy_review(s); /* the previous batch, if any, has had its chance */
    policy_batch_done(s, id, fetched);
    for (uint64_t i = 0; i < used; i++)
        policy_key_used(s, id);
}

/* Which used/fetched ratios count as waste (below POLICY_WASTE_RATIO). */
static void
test_waste_ratio(void **state)
{
    static const struct {
        uint64_t fetched, used;
        bool waste;
    } cases[] = {
        {10, 0, true}, {10, 4, true}, {10, 5, false}, {10, 10, false},   {2, 1, false},
        {3, 1, true},  {1, 0, true},  {1, 1, false},  {1000, 499, true}, {1000, 500, false},
    };
    (void)state;
    assert_true(POLICY_WASTE_RATIO > 0.4 && POLICY_WASTE_RATIO <= 0.5); /* the table's premise */
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct policy p;
        policy_init(&p);
        struct policy_shape *s = policy_shape(&p, 1);
        batch(s, 1, cases[i].fetched, cases[i].used);
        policy_review(s);
        if (s->cautious != cases[i].waste || s->strikes != (cases[i].waste ? 1u : 0u))
            fail_msg("%llu of %llu used: cautious %d strikes %u, want waste %d",
                     (unsigned long long)cases[i].used, (unsigned long long)cases[i].fetched,
                     s->cautious, s->strikes, cases[i].waste);
        assert_int_equal(s->keys_fetched, cases[i].fetched);
        assert_int_equal(s->keys_used, cases[i].used);
        policy_free(&p);
    }
}

static void
test_fresh_shape_may_batch(void **state)
{
    struct policy p;
    (void)state;
    policy_init(&p);
    struct policy_shape *s = policy_shape(&p, 1);
    assert_true(policy_may_batch(s, false));
    assert_true(policy_may_batch(s, true));
    policy_review(s); /* no batch yet: nothing to judge */
    assert_false(s->cautious);
    assert_int_equal(s->strikes, 0);
    policy_free(&p);
}

static void
test_backoff_cautious_then_paused(void **state)
{
    struct policy p;
    (void)state;
    policy_init(&p);
    struct policy_shape *s = policy_shape(&p, 1);
    s->lookups = 10;

    /* Strike one: cautious, needs the previous key in the same column. */
    batch(s, 1, 10, 1);
    policy_review(s);
    assert_true(s->cautious);
    assert_int_equal(s->strikes, 1);
    assert_false(policy_may_batch(s, false));
    assert_true(policy_may_batch(s, true));

    /* Reviewing again without a new batch changes nothing. */
    policy_review(s);
    assert_int_equal(s->strikes, 1);

    /* Strikes up to the limit: paused for POLICY_PAUSE_LOOKUPS lookups, even with evidence. */
    for (uint32_t k = 2; k <= POLICY_WASTE_STRIKES; k++) {
        s->lookups += 3;
        batch(s, k, 10, 0);
        policy_review(s);
    }
    uint64_t paused_at = s->lookups;
    assert_int_equal(s->paused_until, paused_at + POLICY_PAUSE_LOOKUPS);
    assert_int_equal(s->strikes, 0);
    assert_false(policy_may_batch(s, true));
    assert_false(policy_may_batch(s, false));
    s->lookups = paused_at + POLICY_PAUSE_LOOKUPS - 1;
    assert_false(policy_may_batch(s, true));

    /* The pause ends; the shape is still cautious. */
    s->lookups = paused_at + POLICY_PAUSE_LOOKUPS;
    assert_true(policy_may_batch(s, true));
    assert_false(policy_may_batch(s, false));

    /* A good batch clears it. */
    batch(s, 10, 10, 8);
    policy_review(s);
    assert_false(s->cautious);
    assert_int_equal(s->strikes, 0);
    assert_true(policy_may_batch(s, false));
    assert_int_equal(s->batches, POLICY_WASTE_STRIKES + 1);
    assert_int_equal(s->keys_fetched, 10 * (POLICY_WASTE_STRIKES + 1));
    policy_free(&p);
}

/* Strikes count wasteful batches in a row: a good batch in between resets the count. */
static void
test_good_batch_resets_strikes(void **state)
{
    struct policy p;
    (void)state;
    policy_init(&p);
    struct policy_shape *s = policy_shape(&p, 1);
    uint32_t id = 0;
    for (int round = 0; round < 5; round++) {
        for (uint32_t k = 1; k < POLICY_WASTE_STRIKES; k++)
            batch(s, ++id, 10, 0);
        batch(s, ++id, 10, 10);
    }
    policy_review(s);
    assert_int_equal(s->paused_until, 0);
    assert_int_equal(s->strikes, 0);
    assert_false(s->cautious);
    policy_free(&p);
}

/* Keys served from an older batch count as used overall, not for the latest batch. */
static void
test_key_used_other_batch(void **state)
{
    struct policy p;
    (void)state;
    policy_init(&p);
    struct policy_shape *s = policy_shape(&p, 1);
    policy_batch_done(s, 1, 10);
    policy_batch_done(s, 2, 10);
    for (int i = 0; i < 10; i++)
        policy_key_used(s, 1);
    assert_int_equal(s->keys_used, 10);
    assert_int_equal(s->last_batch_used, 0);
    assert_int_equal(s->last_batch_id, 2);
    policy_review(s);
    assert_true(s->cautious);
    assert_int_equal(s->strikes, 1);

    /* And keys of the latest batch do count for it. */
    batch(s, 3, 4, 0);
    for (int i = 0; i < 2; i++)
        policy_key_used(s, 3);
    assert_int_equal(s->last_batch_used, 2);
    policy_review(s);
    assert_false(s->cautious);
    policy_free(&p);
}

/* Shapes back off independently. */
static void
test_shapes_independent(void **state)
{
    struct policy p;
    (void)state;
    policy_init(&p);
    struct policy_shape *a = policy_shape(&p, 1), *b = policy_shape(&p, 2);
    for (uint32_t k = 1; k <= POLICY_WASTE_STRIKES; k++)
        batch(a, k, 10, 0);
    policy_review(a);
    assert_false(policy_may_batch(a, true));
    assert_true(policy_may_batch(b, false));
    assert_false(b->cautious);
    policy_free(&p);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_score_table),
        cmocka_unit_test(test_score_decisions),
        cmocka_unit_test(test_score_never_zero),
        cmocka_unit_test(test_shape_table),
        cmocka_unit_test(test_remember),
        cmocka_unit_test(test_waste_ratio),
        cmocka_unit_test(test_fresh_shape_may_batch),
        cmocka_unit_test(test_backoff_cautious_then_paused),
        cmocka_unit_test(test_good_batch_resets_strikes),
        cmocka_unit_test(test_key_used_other_batch),
        cmocka_unit_test(test_shapes_independent),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
