/*
 * test_engine_split: a batch's responses, checked and split into one answer per key. One table
 * row per situation the server can put the engine in (every key answered, keys missing,
 * several rows per key, rows of keys interleaved, an error, rows over max_batch_bytes, a
 * RowDescription that differs from the statement's, an ordinal out of range) with the outcome
 * and each key's row count; each stored answer is compared byte for byte with the rows the
 * single statement returns for its key.
 */
#include "tests/unit/batcher/engine_harness.h"

#define MAXROWS 8

struct split_case {
    const char *name;
    const char *rows[MAXROWS * 3]; /* ordinal, id, text */
    int nrows;
    uint64_t max_bytes; /* 0: the default */
    bool other_desc;    /* the single statement's RowDescription differs (a typmod) */
    bool error;         /* an ErrorResponse comes back */
    enum engine_outcome outcome;
    int discard;    /* enum engine_discard when not stored, else -1 */
    int per_key[3]; /* rows of keys 1, 2, 3 */
};

// clang-format off
static const struct split_case cases[] = {
    {"every key answered",        {"1","1","q1", "2","2","q2", "3","3","q3"}, 3, 0, false, false, ENGINE_STORED, -1, {1, 1, 1}},
    {"a key without rows",        {"1","1","q1", "3","3","q3"}, 2, 0, false, false, ENGINE_STORED, -1, {1, 0, 1}},
    {"no rows at all",            {NULL}, 0, 0, false, false, ENGINE_STORED, -1, {0, 0, 0}},
    {"several rows for one key",  {"1","1","q1", "1","1","q1b", "2","2","q2"}, 3, 0, false, false, ENGINE_STORED, -1, {2, 1, 0}},
    {"keys interleaved",          {"2","2","q2", "1","1","q1", "2","2","q2b", "3","3","q3"}, 4, 0, false, false, ENGINE_STORED, -1, {1, 2, 1}},
    {"an error",                  {"1","1","q1"}, 1, 0, false, true, ENGINE_DISCARDED, ENGINE_DISCARD_FAILED, {0}},
    {"rows over max_batch_bytes", {"1","1","q1", "2","2","q2", "3","3","q3"}, 3, 40, false, false, ENGINE_DISCARDED, ENGINE_DISCARD_SIZE, {0}},
    {"RowDescription differs",    {"1","1","q1"}, 1, 0, true, false, ENGINE_DISCARDED, ENGINE_DISCARD_ROWDESC, {0}},
    {"ordinal beyond the keys",   {"1","1","q1", "9","9","q9"}, 2, 0, false, false, ENGINE_DISCARDED, ENGINE_DISCARD_FAILED, {0}},
    {"ordinal zero",              {"0","1","q1"}, 1, 0, false, false, ENGINE_DISCARDED, ENGINE_DISCARD_FAILED, {0}},
};
// clang-format on

/* The rows the single statement returns for key k, in the batch's order. */
static void
want_rows(const struct split_case *c, int k, struct buf *out)
{
    char ord[4];
    snprintf(ord, sizeof(ord), "%d", k);
    buf_reset(out);
    for (int r = 0; r < c->nrows; r++) {
        const char *const *v = c->rows + 3 * r;
        if (strcmp(v[0], ord) != 0)
            continue;
        struct fx_field fl[2] = {{v[1], (int32_t)strlen(v[1])}, {v[2], (int32_t)strlen(v[2])}};
        be_data_row_fields(out, fl, 2);
    }
}

static void
run_split(void **state)
{
    struct efx *f = *state;
    const struct split_case *c = f->user;
    if (c->max_bytes)
        f->cfg.max_batch_bytes = c->max_bytes;
    efx_choices(f);
    const struct answer *a = NULL;
    struct engine_plan plan;
    assert_int_equal(efx_decide(f, QUESTION_SQL("1"), 0, &a, &plan), ENGINE_BATCH);
    assert_int_equal(plan.nkeys, 5);
    engine_plan_free(&plan);
    struct fx_col single[2];
    memcpy(single, question_cols, sizeof(single));
    if (c->other_desc)
        single[1].typmod = 36;
    efx_batch_rows(f, single, 2, c->rows, c->nrows);
    if (c->error) {
        be_error(&f->m, "57014", "canceling statement due to user request");
        efx_batch_msg(f, ENGINE_PART_BATCH);
    }
    assert_int_equal(engine_batch_finish(f->e, &f->cx), c->outcome);
    for (int w = 0; w < 4; w++)
        assert_int_equal(f->discards[w], w == c->discard);
    if (c->outcome != ENGINE_STORED) {
        assert_int_equal(engine_answer_count(f->e), 0);
        assert_int_equal(efx_decide(f, QUESTION_SQL("2"), 0, &a, &plan), ENGINE_FORWARD);
        return; /* the shape backs off after a failed batch */
    }
    struct buf want;
    buf_init(&want);
    static const char *const sql[3] = {QUESTION_SQL("1"), QUESTION_SQL("2"), QUESTION_SQL("3")};
    for (int k = 1; k <= 3; k++) {
        assert_int_equal(efx_decide(f, sql[k - 1], ENGINE_RETRY, &a, &plan), ENGINE_LOCAL);
        char tag[16];
        snprintf(tag, sizeof(tag), "SELECT %d", c->per_key[k - 1]);
        assert_string_equal(a->tag, tag);
        assert_int_equal(a->nrows, (uint64_t)c->per_key[k - 1]);
        want_rows(c, k, &want);
        assert_int_equal(a->rowslen, buf_used(&want));
        if (a->rowslen)
            assert_memory_equal(a->rows, buf_head(&want), a->rowslen);
    }
    buf_free(&want);
}

/* Duplicate keys in the source column are fetched once, in first-seen order, and keys the
 * cache already answers are not fetched again. */
static void
test_keys_deduplicated(void **state)
{
    struct efx *f = *state;
    static const char *const rows[] = {"1", "3", "a", "2", "1", "b", "3", "3",
                                       "c", "4", "2", "d", "5", "1", "e"};
    efx_source(f, CHOICES_SQL, choice_cols, 3, rows, 5);
    const struct answer *a = NULL;
    struct engine_plan plan;
    assert_int_equal(efx_decide(f, QUESTION_SQL("3"), 0, &a, &plan), ENGINE_BATCH);
    assert_string_equal(plan.array, "{\"3\",\"1\",\"2\"}");
    engine_plan_free(&plan);
    static const char *const answer[] = {"1", "3", "q3", "2", "1", "q1"}; /* 2 has no row */
    efx_batch_rows(f, question_cols, 2, answer, 2);
    assert_int_equal(engine_batch_finish(f->e, &f->cx), ENGINE_STORED);
    /* The same loop again: every key is answered, nothing is batched. */
    efx_source(f, CHOICES_SQL, choice_cols, 3, rows, 5);
    for (const char *k = "312"; *k; k++) {
        char sql[96];
        snprintf(sql, sizeof(sql), "SELECT id, question_text FROM polls_question WHERE id = %c",
                 *k);
        assert_int_equal(efx_decide(f, sql, 0, &a, &plan), ENGINE_LOCAL);
    }
}

/* An untyped key (a string literal) that the statement reads as another type than the batch
 * bound: the batch is discarded without a back-off and the type learned; the next batch
 * binds the keys as that type. */
static void
test_untyped_key_relearned(void **state)
{
    struct efx *f = *state;
    static const struct fx_col cols[] = {{"question_id", 0, 0, KEYVAL_OID_INT8, 8, -1, 0}};
    static const char *const rows[] = {"1", "2", "3"};
    efx_source(f, "SELECT ref FROM refs", cols, 1, rows, 3);
    const struct answer *a = NULL;
    struct engine_plan plan;
    static const char *const sql = "SELECT id, question_text FROM polls_question WHERE id = '1'";
    assert_int_equal(efx_decide(f, sql, 0, &a, &plan), ENGINE_BATCH);
    assert_int_equal(plan.oids[plan.nparams - 1], keyval_array_oid(KEYVAL_OID_INT8));
    assert_non_null(strstr(plan.single_sql, "$1")); /* the literal key as a parameter */
    engine_plan_free(&plan);
    be_param_desc(&f->m, KEYVAL_OID_INT4);
    efx_batch_msg(f, ENGINE_PART_SINGLE);
    static const char *const answer[] = {"1", "1", "q1"};
    efx_batch_rows(f, question_cols, 2, answer, 1);
    assert_int_equal(engine_batch_finish(f->e, &f->cx), ENGINE_RELEARN);
    assert_int_equal(f->discards[ENGINE_DISCARD_KEYTYPE], 1);
    assert_int_equal(engine_answer_count(f->e), 0);
    static const char *const sql2 = "SELECT id, question_text FROM polls_question WHERE id = '2'";
    assert_int_equal(efx_decide(f, sql2, 0, &a, &plan), ENGINE_BATCH); /* no back-off */
    assert_int_equal(plan.oids[plan.nparams - 1], keyval_array_oid(KEYVAL_OID_INT4));
    engine_plan_free(&plan);
}

/* Inside a transaction block the answers belong to the block: they outlive
 * max_staleness_ms there, and the block's end retires them. */
static void
test_block_answers(void **state)
{
    struct efx *f = *state;
    f->cfg.max_staleness_ms = 10;
    (void)engine_effects(f->e, &f->cx, efx_shape(f, "BEGIN", NULL, 0));
    f->cx.txn_status = 'T';
    engine_status(f->e, &f->cx, 'I');
    efx_choices(f);
    const struct answer *a = NULL;
    struct engine_plan plan;
    assert_int_equal(efx_decide(f, QUESTION_SQL("1"), 0, &a, &plan), ENGINE_BATCH);
    assert_true(plan.savepoint);
    engine_plan_free(&plan);
    static const char *const answer[] = {"1", "1", "q1", "2", "2", "q2", "3", "3", "q3"};
    efx_batch_rows(f, question_cols, 2, answer, 3);
    assert_int_equal(engine_batch_finish(f->e, &f->cx), ENGINE_STORED);
    f->cx.now_ms += 5000;
    assert_int_equal(efx_decide(f, QUESTION_SQL("2"), 0, &a, &plan), ENGINE_LOCAL);
    (void)engine_effects(f->e, &f->cx, efx_shape(f, "COMMIT", NULL, 0));
    f->cx.txn_status = 'I';
    engine_status(f->e, &f->cx, 'T');
    assert_int_equal(engine_answer_count(f->e), 0);
}

int
main(void)
{
    struct CMUnitTest table[ARRAY_LEN(cases)];
    for (size_t i = 0; i < ARRAY_LEN(cases); i++)
        table[i] = (struct CMUnitTest){cases[i].name, run_split, efx_setup, efx_teardown,
                                       (void *)&cases[i]};
    static const struct CMUnitTest fixed[] = {
        cmocka_unit_test_setup_teardown(test_keys_deduplicated, efx_setup, efx_teardown),
        cmocka_unit_test_setup_teardown(test_untyped_key_relearned, efx_setup, efx_teardown),
        cmocka_unit_test_setup_teardown(test_block_answers, efx_setup, efx_teardown),
    };
    int failed = _cmocka_run_group_tests("splitting", table, ARRAY_LEN(table), NULL, NULL);
    failed += cmocka_run_group_tests_name("split rules", fixed, NULL, NULL);
    shape_thread_exit();
    return failed;
}
