/*
 * test_engine_fresh: answers across sessions (DESIGN.md §4, issue 13). Two engines, A and B,
 * share one write clock and one catalog, as two sessions of one pgfold do. A folds the seed's
 * loop; B runs something; then A's next lookup must be answered locally only if nothing B
 * confirmed could have changed it. One table row per thing B runs. Then the rules of loops
 * (an answer retires with its source) and of the strict modes.
 *
 * The catalog: polls_question, polls_choice (a cascading foreign key reaches it from
 * polls_question), polls_vote (user triggers), audit (plain, unrelated), and two views:
 * v_question over polls_question, sys_v over a system catalog, fn_question over polls_question
 * calling a user's stable function, vol_question calling a volatile one, vv_question over
 * v_question.
 */
#include "tests/unit/batcher/engine_harness.h"

struct two {
    struct efx *a, *b;
};

static void fill_catalog(struct efx *f);

static int
two_setup(void **state)
{
    void *init = *state, *sa = init, *sb = init;
    efx_setup(&sa);
    efx_setup(&sb);
    struct two *t = calloc(1, sizeof(*t));
    assert_non_null(t);
    t->a = sa;
    t->b = sb;
    /* B is another session of the same pgfold: A's clock and catalog. */
    t->b->cx.fresh = &t->a->fresh;
    t->b->cx.catalog = &t->a->cat;
    fill_catalog(t->a);
    fill_catalog(t->b); /* B's own copy, for tests of another worker */
    *state = t;
    return 0;
}

static void
fill_catalog(struct efx *f)
{
    efx_catalog_row(f, "r", "polls_question", "r", "false");
    efx_catalog_row(f, "r", "polls_choice", "r", "false");
    efx_catalog_row(f, "r", "polls_vote", "r", "true");
    efx_catalog_row(f, "r", "audit", "r", "false");
    efx_catalog_row(f, "r", "v_question", "v", "true");
    efx_catalog_row(f, "r", "sys_v", "v", "true");
    efx_catalog_row(f, "c", "polls_question", "polls_choice", "");
    efx_catalog_row(f, "v", "v_question", "polls_question", "r");
    efx_catalog_row(f, "v", "sys_v", "pg_class", "r!");
    efx_catalog_row(f, "r", "fn_question", "v", "false");
    efx_catalog_row(f, "v", "fn_question", "polls_question", "r");
    efx_catalog_row(f, "f", "fn_question", "s", "");
    efx_catalog_row(f, "r", "vol_question", "v", "false");
    efx_catalog_row(f, "v", "vol_question", "polls_question", "r");
    efx_catalog_row(f, "f", "vol_question", "v", "");
    efx_catalog_row(f, "r", "vv_question", "v", "false");
    efx_catalog_row(f, "v", "vv_question", "v_question", "v");
    catalog_finish(&f->cat);
}

static int
two_teardown(void **state)
{
    struct two *t = *state;
    void *sa = t->a, *sb = t->b;
    efx_teardown(&sb);
    efx_teardown(&sa);
    free(t);
    return 0;
}

/* B runs sql in autocommit (or, with in_block, inside a block it then commits). */
static void
b_runs(struct efx *b, const char *sql, bool in_block)
{
    if (in_block) {
        (void)engine_effects(b->e, &b->cx, efx_shape(b, "BEGIN", NULL, 0));
        b->cx.txn_status = 'T';
        engine_status(b->e, &b->cx, 'I');
    }
    (void)engine_effects(b->e, &b->cx, sql ? efx_shape(b, sql, NULL, 0) : NULL);
    engine_status(b->e, &b->cx, b->cx.txn_status); /* its own ReadyForQuery */
    if (in_block) {
        (void)engine_effects(b->e, &b->cx, efx_shape(b, "COMMIT", NULL, 0));
        b->cx.txn_status = 'I';
        engine_status(b->e, &b->cx, 'T');
    }
}

struct cross_case {
    const char *name;
    const char *sql; /* NULL: a statement the parser could not read */
    bool in_block;
    bool refused; /* A's batch answer for polls_question must be refused afterwards */
};

// clang-format off
static const struct cross_case cross[] = {
    {"UPDATE of the table the answers read",       "UPDATE polls_question SET question_text = 'x' WHERE id = 2", false, true},
    {"the same UPDATE inside a block, committed",   "UPDATE polls_question SET question_text = 'x' WHERE id = 2", true, true},
    {"INSERT into the table",                       "INSERT INTO polls_question VALUES (9, 'q9')", false, true},
    {"DELETE from the table",                       "DELETE FROM polls_question WHERE id = 3", false, true},
    {"TRUNCATE of the table",                       "TRUNCATE polls_question", false, true},
    {"UPDATE of an unrelated table",                "UPDATE audit SET n = n + 1", false, false},
    {"INSERT into a table with triggers",           "INSERT INTO polls_vote VALUES (1)", false, true},
    {"INSERT into a table the catalog does not know", "INSERT INTO newtable VALUES (1)", false, true},
    {"a write through the view",                    "UPDATE v_question SET question_text = 'y'", false, true},
    {"DDL",                                         "ALTER TABLE audit ADD COLUMN m int", false, true},
    {"CALL of a procedure",                         "CALL do_things()", false, true},
    {"a SELECT of a function that may write",       "SELECT app_write(1)", false, true},
    {"EXECUTE of a prepared statement",             "EXECUTE p(1)", false, true},
    {"COMMIT PREPARED",                             "COMMIT PREPARED 'gid'", false, true},
    {"a statement the parser could not read",       NULL, false, true},
    {"a read",                                      "SELECT * FROM polls_question", false, false},
    {"SET",                                         "SET work_mem = '8MB'", false, false},
    {"LISTEN",                                      "LISTEN ch", false, false},
    {"VACUUM",                                      "VACUUM audit", false, false},
};
// clang-format on

static void
run_cross(void **state)
{
    struct two *t = *state;
    const struct cross_case *c = t->a->user;
    efx_batched(t->a);
    const struct answer *a = NULL;
    struct engine_plan plan;
    assert_int_equal(efx_decide(t->a, QUESTION_SQL("2"), 0, &a, &plan), ENGINE_LOCAL);
    b_runs(t->b, c->sql, c->in_block);
    int v = efx_decide(t->a, QUESTION_SQL("3"), 0, &a, &plan);
    if (c->refused && v == ENGINE_LOCAL)
        fail_msg("%s: A still answered from its cache", c->name);
    if (!c->refused && v != ENGINE_LOCAL)
        fail_msg("%s: A's answer refused (verdict %d)", c->name, v);
    if (v == ENGINE_BATCH)
        engine_plan_free(&plan);
}

/* While B's block is open its write is not committed, but its commit must be seen: an answer A
 * fetched in between is refused after the COMMIT too. */
static void
test_fetched_during_block(void **state)
{
    struct two *t = *state;
    struct efx *b = t->b;
    (void)engine_effects(b->e, &b->cx, efx_shape(b, "BEGIN", NULL, 0));
    b->cx.txn_status = 'T';
    engine_status(b->e, &b->cx, 'I');
    (void)engine_effects(b->e, &b->cx, efx_shape(b, "UPDATE polls_question SET v = 1", NULL, 0));
    engine_status(b->e, &b->cx, 'T');
    efx_batched(t->a); /* fetched while B's write is not committed */
    const struct answer *a = NULL;
    struct engine_plan plan;
    assert_int_equal(efx_decide(t->a, QUESTION_SQL("2"), 0, &a, &plan), ENGINE_LOCAL);
    (void)engine_effects(b->e, &b->cx, efx_shape(b, "COMMIT", NULL, 0));
    b->cx.txn_status = 'I';
    engine_status(b->e, &b->cx, 'T');
    assert_int_not_equal(efx_verdict(t->a, QUESTION_SQL("3"), 0), ENGINE_LOCAL);
}

/* A cascading foreign key: a DELETE of polls_question reaches polls_choice's answers. */
static void
test_cascade(void **state)
{
    struct two *t = *state;
    static const struct fx_col qcols[] = {{"id", Q_OID, 1, KEYVAL_OID_INT4, 4, -1, 0}};
    static const char *const qrows[] = {"1", "2", "3"};
    efx_source(t->a, "SELECT id FROM polls_question", qcols, 1, qrows, 3);
    static const char *const sql =
        "SELECT id, question_id, choice_text FROM polls_choice WHERE question_id = 1";
    const struct answer *a = NULL;
    struct engine_plan plan;
    assert_int_equal(efx_decide(t->a, sql, 0, &a, &plan), ENGINE_BATCH);
    engine_plan_free(&plan);
    struct efx *f = t->a;
    be_row_desc_cols(&f->m, choice_cols, 3);
    efx_batch_msg(f, ENGINE_PART_SINGLE);
    struct fx_col bcols[4] = {{"pgfold_ord", 0, 0, KEYVAL_OID_INT8, 8, -1, 0}};
    memcpy(bcols + 1, choice_cols, sizeof(choice_cols));
    be_row_desc_cols(&f->m, bcols, 4);
    efx_batch_msg(f, ENGINE_PART_BATCH);
    assert_int_equal(engine_batch_finish(f->e, &f->cx), ENGINE_STORED);
    static const char *const sql2 =
        "SELECT id, question_id, choice_text FROM polls_choice WHERE question_id = 2";
    assert_int_equal(efx_decide(f, sql2, 0, &a, &plan), ENGINE_LOCAL);
    b_runs(t->b, "DELETE FROM polls_question WHERE id = 3", false);
    static const char *const sql3 =
        "SELECT id, question_id, choice_text FROM polls_choice WHERE question_id = 3";
    assert_int_not_equal(efx_verdict(f, sql3, 0), ENGINE_LOCAL);
}

/* Lookups through a view over a plain table fold, and depend on that table; a view over a
 * system catalog, and system relations themselves, are never cached. */
static void
test_views_and_system(void **state)
{
    struct two *t = *state;
    struct efx *f = t->a;
    efx_choices(f);
    const struct answer *a = NULL;
    struct engine_plan plan;
    assert_int_equal(efx_decide(f, "SELECT id, question_text FROM v_question WHERE id = 1", 0,
                                &a, &plan),
                     ENGINE_BATCH);
    engine_plan_free(&plan);
    engine_batch_failed(f->e);
    (void)engine_batch_finish(f->e, &f->cx);
    struct lookup lk;
    static const char *const never[] = {
        "SELECT oid, relname FROM sys_v WHERE oid = 1",
        "SELECT oid, relname FROM pg_class WHERE oid = 1",
        "SELECT oid, relname FROM pg_catalog.pg_class WHERE oid = 1",
        "SELECT table_name FROM information_schema.tables WHERE table_name = '1'",
    };
    for (size_t i = 0; i < ARRAY_LEN(never); i++) {
        efx_lookup_simple(f, never[i], &lk);
        if (engine_decide(f->e, &f->cx, &lk, 0, &a, &plan) != ENGINE_FORWARD)
            fail_msg("%s: not forwarded", never[i]);
        struct engine_ticket tk;
        assert_int_equal(engine_capture_key(f->e, &f->cx, &lk, &tk), -ENOENT);
    }
}

/* A view that reads more than its tables (a user's stable function, which may read any table;
 * another view) folds, and its answers depend on every write: one to an unrelated table refuses
 * them. A view calling a volatile function is never cached. */
static void
test_views_reading_more(void **state)
{
    struct two *t = *state;
    static const char *const views[] = {"fn_question", "vv_question"};
    static const char *const rows[] = {"1", "1", "q1", "2", "2", "q2", "3", "3", "q3"};
    for (size_t i = 0; i < ARRAY_LEN(views); i++) {
        struct efx *f = t->a;
        efx_restart(f);
        efx_choices(f);
        char sql[96];
        const struct answer *a = NULL;
        struct engine_plan plan;
        snprintf(sql, sizeof(sql), "SELECT id, question_text FROM %s WHERE id = 1", views[i]);
        assert_int_equal(efx_decide(f, sql, 0, &a, &plan), ENGINE_BATCH);
        engine_plan_free(&plan);
        efx_batch_rows(f, question_cols, 2, rows, 3);
        assert_int_equal(engine_batch_finish(f->e, &f->cx), ENGINE_STORED);
        snprintf(sql, sizeof(sql), "SELECT id, question_text FROM %s WHERE id = 2", views[i]);
        assert_int_equal(efx_decide(f, sql, 0, &a, &plan), ENGINE_LOCAL);
        b_runs(t->b, "UPDATE audit SET n = n + 1", false);
        snprintf(sql, sizeof(sql), "SELECT id, question_text FROM %s WHERE id = 3", views[i]);
        if (efx_verdict(f, sql, 0) == ENGINE_LOCAL)
            fail_msg("%s: answered after a write to another table", views[i]);
    }
    efx_restart(t->a);
    efx_choices(t->a);
    assert_int_equal(efx_verdict(t->a, "SELECT id, question_text FROM vol_question WHERE id = 1", 0),
                     ENGINE_FORWARD);
}

/* Until the catalog is read (or after DDL made it stale), an answer depends on every write:
 * even one to an unrelated table refuses it. B is on another worker, whose catalog was read
 * again after the DDL; A's worker is still reading its own. */
static void
test_stale_catalog(void **state)
{
    struct two *t = *state;
    t->b->cx.catalog = &t->b->cat;
    b_runs(t->b, "CREATE INDEX ON audit (n)", false); /* DDL: every catalog is stale now */
    assert_false(catalog_current(&t->a->cat, fresh_ddl(&t->a->fresh)));
    t->b->cat.ddl = fresh_ddl(&t->a->fresh); /* B's worker read its catalog again */
    t->a->cat.requested = true;              /* A's worker is reading it: not now */
    efx_batched(t->a);
    const struct answer *a = NULL;
    struct engine_plan plan;
    assert_int_equal(efx_decide(t->a, QUESTION_SQL("2"), 0, &a, &plan), ENGINE_LOCAL);
    b_runs(t->b, "UPDATE audit SET n = 0", false);
    assert_int_not_equal(efx_verdict(t->a, QUESTION_SQL("3"), 0), ENGINE_LOCAL);
}

/* A lookup over a relation the catalog does not know (created since, or temporary) depends on
 * every write, even to an unrelated table. */
static void
test_unknown_relation(void **state)
{
    struct two *t = *state;
    struct efx *f = t->a;
    efx_choices(f);
    const struct answer *a = NULL;
    struct engine_plan plan;
    static const char *const sql[] = {"SELECT id, question_text FROM new_question WHERE id = 1",
                                      "SELECT id, question_text FROM new_question WHERE id = 2"};
    assert_int_equal(efx_decide(f, sql[0], 0, &a, &plan), ENGINE_BATCH);
    engine_plan_free(&plan);
    static const char *const rows[] = {"1", "1", "q1", "2", "2", "q2"};
    efx_batch_rows(f, question_cols, 2, rows, 2);
    assert_int_equal(engine_batch_finish(f->e, &f->cx), ENGINE_STORED);
    b_runs(t->b, "UPDATE audit SET n = 1", false);
    assert_int_not_equal(efx_verdict(f, sql[1], 0), ENGINE_LOCAL);
}

/* An answer belongs to its loop: when the application runs the loop's source statement again
 * (the list page rendered again) the answers fetched for the old result retire, and the loop
 * over the new result batches anew. */
static void
test_source_rerun_retires(void **state)
{
    struct two *t = *state;
    struct efx *f = t->a;
    f->source_id = 0x5eed;
    efx_batched(f);
    const struct answer *a = NULL;
    struct engine_plan plan;
    assert_int_equal(efx_decide(f, QUESTION_SQL("2"), 0, &a, &plan), ENGINE_LOCAL);
    efx_choices(f); /* the same statement again */
    assert_int_equal(efx_decide(f, QUESTION_SQL("1"), 0, &a, &plan), ENGINE_BATCH);
    engine_plan_free(&plan);
    const struct keysrc *ks = engine_sources(f->e);
    int runs = 0;
    for (int i = 0; i < ks->count; i++)
        runs += ks->results[i]->source_id == 0x5eed;
    assert_int_equal(runs, 1); /* the old result retired */
}

/* Another statement's result (another source id) leaves the loop's answers alone. */
static void
test_other_source_keeps(void **state)
{
    struct two *t = *state;
    struct efx *f = t->a;
    f->source_id = 1;
    efx_batched(f);
    f->source_id = 2;
    static const struct fx_col cols[] = {{"n", 0, 0, KEYVAL_OID_INT4, 4, -1, 0}};
    static const char *const rows[] = {"40", "41"};
    efx_source(f, "SELECT n FROM audit", cols, 1, rows, 2);
    const struct answer *a = NULL;
    struct engine_plan plan;
    assert_int_equal(efx_decide(f, QUESTION_SQL("2"), 0, &a, &plan), ENGINE_LOCAL);
}

/* Snapshot mode: inside A's REPEATABLE READ block its answers are what its snapshot shows,
 * whatever B commits; transaction mode keeps its block's answers for the block likewise. */
static void
test_block_modes(void **state)
{
    struct two *t = *state;
    static const config_consistency modes[] = {CONSISTENCY_SNAPSHOT, CONSISTENCY_TRANSACTION};
    for (size_t i = 0; i < ARRAY_LEN(modes); i++) {
        struct efx *f = t->a;
        f->cfg.consistency = modes[i];
        efx_restart(f);
        f->cx.txn_status = 'I';
        (void)engine_effects(f->e, &f->cx,
                             efx_shape(f, "BEGIN ISOLATION LEVEL REPEATABLE READ", NULL, 0));
        f->cx.txn_status = 'T';
        engine_status(f->e, &f->cx, 'I');
        efx_batched(f);
        b_runs(t->b, "UPDATE polls_question SET question_text = 'x'", false);
        const struct answer *a = NULL;
        struct engine_plan plan;
        assert_int_equal(efx_decide(f, QUESTION_SQL("2"), 0, &a, &plan), ENGINE_LOCAL);
        /* The block ends: its answers with it. */
        (void)engine_effects(f->e, &f->cx, efx_shape(f, "COMMIT", NULL, 0));
        f->cx.txn_status = 'I';
        engine_status(f->e, &f->cx, 'T');
        assert_int_equal(engine_answer_count(f->e), 0);
    }
}

/* A session's pending writes are published at every ReadyForQuery until its block ends, and
 * forgotten once the block is over. */
static void
test_published_until_block_end(void **state)
{
    struct two *t = *state;
    struct efx *b = t->b;
    uint64_t c0 = fresh_now(&t->a->fresh);
    b_runs(b, "UPDATE audit SET n = 1", true);
    uint64_t c1 = fresh_now(&t->a->fresh);
    assert_true(c1 >= c0 + 2); /* at the UPDATE's ReadyForQuery and at the COMMIT's */
    engine_status(b->e, &b->cx, 'I');
    assert_int_equal(fresh_now(&t->a->fresh), c1); /* nothing left to publish */
}

int
main(void)
{
    struct CMUnitTest table[ARRAY_LEN(cross)];
    for (size_t i = 0; i < ARRAY_LEN(cross); i++)
        table[i] = (struct CMUnitTest){cross[i].name, run_cross, two_setup, two_teardown,
                                       (void *)&cross[i]};
    static const struct CMUnitTest fixed[] = {
        cmocka_unit_test_setup_teardown(test_fetched_during_block, two_setup, two_teardown),
        cmocka_unit_test_setup_teardown(test_cascade, two_setup, two_teardown),
        cmocka_unit_test_setup_teardown(test_views_reading_more, two_setup, two_teardown),
        cmocka_unit_test_setup_teardown(test_views_and_system, two_setup, two_teardown),
        cmocka_unit_test_setup_teardown(test_stale_catalog, two_setup, two_teardown),
        cmocka_unit_test_setup_teardown(test_unknown_relation, two_setup, two_teardown),
        cmocka_unit_test_setup_teardown(test_source_rerun_retires, two_setup, two_teardown),
        cmocka_unit_test_setup_teardown(test_other_source_keeps, two_setup, two_teardown),
        cmocka_unit_test_setup_teardown(test_block_modes, two_setup, two_teardown),
        cmocka_unit_test_setup_teardown(test_published_until_block_end, two_setup, two_teardown),
    };
    int failed = _cmocka_run_group_tests("another session writes", table, ARRAY_LEN(table),
                                         NULL, NULL);
    failed += cmocka_run_group_tests_name("freshness rules", fixed, NULL, NULL);
    shape_thread_exit();
    return failed;
}
