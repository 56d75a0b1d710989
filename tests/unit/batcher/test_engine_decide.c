/*
 * test_engine_decide: the engine's verdicts. A table of situations (mode, consistency,
 * transaction status, what is in flight, allow/deny lists, foreign keys known or not) and the
 * verdicts a lookup of the seed's loop gets in them: first the lookup whose key is in a recent
 * result, then, if that batched, the next key of the loop after the batch answered. Then the
 * rules one at a time: cache hits and their freshness, back-off, retries, capture tickets.
 */
#include "tests/unit/batcher/engine_harness.h"

enum { FWD = ENGINE_FORWARD, LOC = ENGINE_LOCAL, BAT = ENGINE_BATCH, FKS = ENGINE_LOAD_FKEYS };

struct verdict_case {
    const char *name;
    config_mode mode;
    config_consistency consistency;
    uint8_t txn;
    bool busy;         /* something else of the session is in flight */
    const char *begin; /* a BEGIN whose effects run first (the block's isolation) */
    const char *deny;
    const char *allow;
    bool no_source;     /* the loop's source result was never seen */
    bool fkeys_unknown; /* the database's foreign keys were not read yet */
    int first;          /* verdict on "WHERE id = 1" */
    int next;           /* verdict on "WHERE id = 2" after the batch (if first is BAT) */
};

#define RW MODE_REWRITE
#define OBS MODE_OBSERVE
#define WIN CONSISTENCY_WINDOW
#define TXN CONSISTENCY_TRANSACTION
#define SNAP CONSISTENCY_SNAPSHOT
#define RR "BEGIN ISOLATION LEVEL REPEATABLE READ"

// clang-format off
static const struct verdict_case verdicts[] = {
    {"window, autocommit: batch, then answer",     RW,  WIN,  'I', false, NULL,    NULL, NULL, false, false, BAT, LOC},
    {"window, RC block: batch, then answer",       RW,  WIN,  'T', false, "BEGIN", NULL, NULL, false, false, BAT, LOC},
    {"no source result: forward",                  RW,  WIN,  'I', false, NULL,    NULL, NULL, true,  false, FWD, FWD},
    {"observe: never batch, never answer",         OBS, WIN,  'I', false, NULL,    NULL, NULL, false, false, FWD, FWD},
    {"transaction, autocommit: forward",           RW,  TXN,  'I', false, NULL,    NULL, NULL, false, false, FWD, FWD},
    {"transaction, in a block: batch, answer",     RW,  TXN,  'T', false, "BEGIN", NULL, NULL, false, false, BAT, LOC},
    {"snapshot, READ COMMITTED block: forward",    RW,  SNAP, 'T', false, "BEGIN", NULL, NULL, false, false, FWD, FWD},
    {"snapshot, REPEATABLE READ block: batch",     RW,  SNAP, 'T', false, RR,      NULL, NULL, false, false, BAT, LOC},
    {"snapshot, autocommit: forward",              RW,  SNAP, 'I', false, NULL,    NULL, NULL, false, false, FWD, FWD},
    {"failed transaction: forward",                RW,  WIN,  'E', false, NULL,    NULL, NULL, false, false, FWD, FWD},
    {"something in flight: forward",               RW,  WIN,  'I', true,  NULL,    NULL, NULL, false, false, FWD, FWD},
    {"batch_deny names the table: forward",        RW,  WIN,  'I', false, NULL,    "polls_question", NULL, false, false, FWD, FWD},
    {"batch_deny names another table: batch",      RW,  WIN,  'I', false, NULL,    "other", NULL, false, false, BAT, LOC},
    {"batch_allow names another table: forward",   RW,  WIN,  'I', false, NULL,    NULL, "other", false, false, FWD, FWD},
    {"batch_allow names the table: batch",         RW,  WIN,  'I', false, NULL,    NULL, "polls_question", false, false, BAT, LOC},
    {"foreign keys unknown, autocommit: read them", RW, WIN,  'I', false, NULL,    NULL, NULL, false, true,  FKS, FKS},
    {"foreign keys unknown, in a block: names",    RW,  WIN,  'T', false, "BEGIN", NULL, NULL, false, true,  BAT, LOC},
    {"foreign keys unknown, busy: forward",        RW,  WIN,  'I', true,  NULL,    NULL, NULL, false, true,  FWD, FWD},
};
// clang-format on

static const char *const batch_answer[] = {"1", "1", "q1", "2", "2", "q2", "3", "3", "q3"};

static void
run_verdict(void **state)
{
    struct efx *f = *state;
    const struct verdict_case *c = f->user;
    f->cfg.mode = c->mode;
    f->cfg.consistency = c->consistency;
    if (c->deny)
        snprintf(f->cfg.batch_deny, sizeof(f->cfg.batch_deny), "%s", c->deny);
    if (c->allow)
        snprintf(f->cfg.batch_allow, sizeof(f->cfg.batch_allow), "%s", c->allow);
    f->cat.loaded = !c->fkeys_unknown;
    if (!c->no_source)
        efx_choices(f);
    if (c->begin) {
        f->cx.txn_status = 'I';
        (void)engine_effects(f->e, &f->cx, efx_shape(f, c->begin, NULL, 0));
        f->cx.txn_status = 'T';
        engine_status(f->e, &f->cx, 'I');
    }
    f->cx.txn_status = c->txn;
    f->cx.idle = !c->busy;

    const struct answer *a = NULL;
    struct engine_plan plan;
    int v = efx_decide(f, QUESTION_SQL("1"), 0, &a, &plan);
    assert_int_equal(v, c->first);
    if (v != BAT) {
        if (c->next != c->first)
            fail_msg("%s: no batch, yet a second verdict %d", c->name, c->next);
        v = efx_decide(f, QUESTION_SQL("2"), 0, &a, &plan);
        assert_int_equal(v, c->next);
        return;
    }
    assert_int_equal(plan.savepoint, c->txn == 'T');
    assert_int_equal(plan.nkeys, 5); /* question_id 1, 1, 2, 3, 3, 4, 5 from the current row on */
    assert_string_equal(plan.array, "{\"1\",\"2\",\"3\",\"4\",\"5\"}");
    engine_plan_free(&plan);
    efx_batch_rows(f, question_cols, 2, batch_answer, 3);
    assert_int_equal(engine_batch_finish(f->e, &f->cx), ENGINE_STORED);
    v = efx_decide(f, QUESTION_SQL("1"), ENGINE_RETRY | ENGINE_RESUMED, &a, &plan);
    assert_int_equal(v, LOC); /* the lookup that triggered the batch is answered from it */
    v = efx_decide(f, QUESTION_SQL("2"), 0, &a, &plan);
    assert_int_equal(v, c->next);
}

/* ---- the rules one at a time ------------------------------------------------------------ */

/* A batch answer is byte for byte the row without its ordinal, with the statement's own
 * RowDescription and tag; a key with no rows gets SELECT 0. */
static void
test_answer_bytes(void **state)
{
    struct efx *f = *state;
    efx_choices(f);
    const struct answer *a = NULL;
    struct engine_plan plan;
    assert_int_equal(efx_decide(f, QUESTION_SQL("1"), 0, &a, &plan), BAT);
    engine_plan_free(&plan);
    static const char *const rows[] = {"1", "1", "q1", "2", "2", "q2"}; /* key 3: no row */
    efx_batch_rows(f, question_cols, 2, rows, 2);
    assert_int_equal(engine_batch_finish(f->e, &f->cx), ENGINE_STORED);

    assert_int_equal(efx_decide(f, QUESTION_SQL("2"), 0, &a, &plan), LOC);
    struct buf want;
    buf_init(&want);
    efx_question_row(&want, "2", "q2");
    assert_int_equal(a->rowslen, buf_used(&want));
    assert_memory_equal(a->rows, buf_head(&want), buf_used(&want));
    assert_string_equal(a->tag, "SELECT 1");
    buf_reset(&want);
    be_row_desc_cols(&want, question_cols, 2);
    assert_int_equal(a->desclen, buf_used(&want));
    assert_memory_equal(a->desc, buf_head(&want), buf_used(&want));
    buf_free(&want);

    assert_int_equal(efx_decide(f, QUESTION_SQL("3"), 0, &a, &plan), LOC);
    assert_int_equal(a->rowslen, 0);
    assert_string_equal(a->tag, "SELECT 0");
    assert_int_equal(f->counts[ENGINE_C_BATCHES], 1);
    assert_int_equal(f->counts[ENGINE_C_BATCH_KEYS], 5);
    assert_int_equal(f->counts[ENGINE_C_BATCH_ANSWERS], 2);
}

/* Literal spellings of one integer key share the answer: 2, 002. */
static void
test_canonical_key(void **state)
{
    struct efx *f = *state;
    const struct answer *a = NULL;
    struct engine_plan plan;
    efx_batched(f);
    assert_int_equal(efx_decide(f, QUESTION_SQL("002"), 0, &a, &plan), LOC);
    assert_int_equal(efx_decide(f, QUESTION_SQL("9"), 0, &a, &plan), FWD); /* in no result */
    assert_int_equal(efx_decide(f, QUESTION_SQL("6"), 0, &a, &plan), FWD); /* coincidence */
}

/* Window mode outside a block: an answer older than max_staleness_ms is not used. */
static void
test_staleness(void **state)
{
    struct efx *f = *state;
    f->cfg.max_staleness_ms = 100;
    const struct answer *a = NULL;
    struct engine_plan plan;
    efx_batched(f);
    f->cx.now_ms += 100;
    assert_int_equal(efx_decide(f, QUESTION_SQL("2"), 0, &a, &plan), LOC);
    f->cx.now_ms += 1;
    assert_int_not_equal(efx_verdict(f, QUESTION_SQL("3"), 0), LOC);
}

/* A write between the batch and the lookup empties the cache. */
static void
test_write_invalidates(void **state)
{
    struct efx *f = *state;
    efx_batched(f);
    (void)engine_effects(f->e, &f->cx,
                         efx_shape(f, "UPDATE polls_question SET question_text = 'x'", NULL, 0));
    assert_int_equal(engine_answer_count(f->e), 0);
    assert_int_not_equal(efx_verdict(f, QUESTION_SQL("2"), 0), LOC);
}

/* ENGINE_RETRY never batches: after its batch a statement is answered or forwarded. */
static void
test_retry_never_batches(void **state)
{
    struct efx *f = *state;
    efx_choices(f);
    const struct answer *a = NULL;
    struct engine_plan plan;
    assert_int_equal(efx_decide(f, QUESTION_SQL("1"), ENGINE_RETRY, &a, &plan), FWD);
    assert_int_equal(efx_decide(f, QUESTION_SQL("1"), 0, &a, &plan), BAT);
    engine_plan_free(&plan);
    engine_batch_failed(f->e);
    assert_int_equal(engine_batch_finish(f->e, &f->cx), ENGINE_DISCARDED);
    assert_int_equal(efx_decide(f, QUESTION_SQL("1"), ENGINE_RETRY | ENGINE_RESUMED, &a, &plan),
                     FWD);
}

/* Batches that go unused back off: after POLICY_WASTE_STRIKES wasteful batches the shape is
 * paused, and its lookups are forwarded. */
static void
test_backoff(void **state)
{
    struct efx *f = *state;
    const struct answer *a = NULL;
    struct engine_plan plan;
    int batches = 0;
    for (int loop = 0; loop < 12; loop++) {
        efx_choices(f);
        int v = efx_decide(f, QUESTION_SQL("1"), 0, &a, &plan);
        if (v == BAT) {
            batches++;
            engine_plan_free(&plan);
            efx_batch_rows(f, question_cols, 2, batch_answer, 3);
            assert_int_equal(engine_batch_finish(f->e, &f->cx), ENGINE_STORED);
            /* only the triggering key is ever used: 1 of 3 */
            assert_int_equal(
                efx_decide(f, QUESTION_SQL("1"), ENGINE_RETRY | ENGINE_RESUMED, &a, &plan), LOC);
        }
        engine_invalidate(f->e); /* the next loop starts from nothing */
    }
    assert_true(batches > 0);
    assert_true(batches <= POLICY_WASTE_STRIKES + 1);
    const struct policy_shape *ps =
        engine_shape_stats(f->e, efx_shape(f, QUESTION_SQL("1"), NULL, 0)->fingerprint);
    assert_non_null(ps);
    assert_true(ps->lookups < ps->paused_until || ps->cautious);
}

/* A forwarded lookup's answer is captured under its ticket and answers an identical repeat
 * byte for byte; a capture that an invalidation overtook is not stored. */
static void
test_capture_repeat(void **state)
{
    struct efx *f = *state;
    const struct answer *a = NULL;
    struct engine_plan plan;
    efx_capture(f, false);
    assert_int_equal(efx_decide(f, QUESTION_SQL("7"), 0, &a, &plan), LOC);
    assert_string_equal(a->tag, "SELECT 1");
    efx_question_row(&f->m, "7", "q7");
    assert_int_equal(a->rowslen, buf_used(&f->m));
    assert_memory_equal(a->rows, buf_head(&f->m), a->rowslen);
    buf_reset(&f->m);
    be_row_desc_cols(&f->m, question_cols, 2);
    assert_int_equal(a->desclen, buf_used(&f->m));
    assert_memory_equal(a->desc, buf_head(&f->m), a->desclen);
    buf_reset(&f->m);
    assert_int_equal(f->counts[ENGINE_C_REPEAT_ANSWERS], 1);

    engine_invalidate(f->e);
    efx_capture(f, true);
    assert_int_equal(engine_answer_count(f->e), 0);
    int v = efx_decide(f, QUESTION_SQL("7"), 0, &a, &plan);
    assert_int_not_equal(v, LOC);
    if (v == BAT)
        engine_plan_free(&plan);
}

/* No capture ticket for a lookup of no loop, in a failed transaction, in observe mode, or for
 * a lookup without keys. */
static void
test_capture_refused(void **state)
{
    struct efx *f = *state;
    const struct answer *a = NULL;
    struct engine_plan plan;
    struct lookup lk;
    struct engine_ticket t;
    efx_lookup_simple(f, QUESTION_SQL("7"), &lk);
    assert_int_equal(engine_decide(f->e, &f->cx, &lk, 0, &a, &plan), FWD);
    /* not part of any loop: 7 is in no recent result */
    assert_int_equal(engine_capture_key(f->e, &f->cx, &lk, &t), -ENOENT);
    static const struct fx_col cols[] = {{"ref", 0, 0, KEYVAL_OID_INT4, 4, -1, 0}};
    static const char *const rows[] = {"7", "8"};
    efx_source(f, "SELECT ref FROM refs", cols, 1, rows, 2);
    efx_lookup_simple(f, QUESTION_SQL("7"), &lk);
    f->cx.idle = false;
    assert_int_equal(engine_decide(f->e, &f->cx, &lk, 0, &a, &plan), FWD);
    f->cx.txn_status = 'E';
    assert_int_equal(engine_capture_key(f->e, &f->cx, &lk, &t), -ENOENT);
    f->cx.txn_status = 'I';
    f->cfg.mode = MODE_OBSERVE;
    assert_int_equal(engine_capture_key(f->e, &f->cx, &lk, &t), -ENOENT);
    f->cfg.mode = MODE_REWRITE;
    efx_lookup_simple(f, "SELECT id FROM polls_question WHERE id = 1.5", &lk);
    assert_int_equal(engine_decide(f->e, &f->cx, &lk, 0, &a, &plan), FWD);
    assert_int_equal(engine_capture_key(f->e, &f->cx, &lk, &t), -ENOENT);
}

/* The lookup counter counts a parked statement once, however often it is decided. */
static void
test_counted_once(void **state)
{
    struct efx *f = *state;
    const struct answer *a = NULL;
    struct engine_plan plan;
    efx_batched(f);
    assert_int_equal(efx_decide(f, QUESTION_SQL("1"), ENGINE_RETRY | ENGINE_RESUMED, &a, &plan),
                     LOC);
    assert_int_equal(f->counts[ENGINE_C_LOOKUPS], 1);
    assert_int_equal(f->counts[ENGINE_C_ROUNDTRIPS_SAVED], 0); /* the batch was its round trip */
    assert_int_equal(efx_decide(f, QUESTION_SQL("3"), 0, &a, &plan), LOC);
    assert_int_equal(f->counts[ENGINE_C_LOOKUPS], 2);
    assert_int_equal(f->counts[ENGINE_C_ROUNDTRIPS_SAVED], 1);
}

/* An extended-protocol lookup with a binary int8 parameter finds the text source column, and
 * its batch keeps the client's result formats. */
static void
test_extended_binary(void **state)
{
    struct efx *f = *state;
    efx_choices(f);
    static const char *const sql = "SELECT id, question_text FROM polls_question WHERE id = $1";
    static const uint32_t oids[1] = {KEYVAL_OID_INT8};
    static const uint8_t key[8] = {0, 0, 0, 0, 0, 0, 0, 2};
    static const uint8_t res[2] = {0, 1};
    struct lookup lk = {0};
    lk.shape = efx_shape(f, sql, oids, 1);
    lk.extended = true;
    lk.sql = sql;
    lk.sqllen = strlen(sql);
    lk.lits = &f->lits;
    lk.oids = oids;
    lk.noids = 1;
    lk.stmt_id = engine_stmt_id(sql, lk.sqllen, &f->lits);
    f->bind = (struct msg_bind){.portal = "", .stmt = "", .nparams = 1, .nres = 1, .res = res};
    f->bind.pfmt[0] = 1;
    f->bind.val[0] = key;
    f->bind.len[0] = 8;
    lk.bind = &f->bind;
    lk.formats[1] = 1;
    memcpy(lk.formats + 2, res, 2);
    lk.nformats = 4;
    const struct answer *a = NULL;
    struct engine_plan plan;
    assert_int_equal(engine_decide(f->e, &f->cx, &lk, 0, &a, &plan), BAT);
    assert_int_equal(plan.nparams, 2);
    assert_int_equal(plan.oids[0], KEYVAL_OID_INT8); /* the key's own $1: typed, bound NULL */
    assert_null(plan.vals[0]);
    assert_int_equal(plan.oids[1], keyval_array_oid(KEYVAL_OID_INT8));
    assert_int_equal(plan.nres, 1);
    assert_int_equal(plan.res[0], 1);
    assert_string_equal(plan.array, "{\"2\",\"3\",\"4\",\"5\"}"); /* from key 2's row on */
    engine_plan_free(&plan);
}

/* Several parameters, one of them the loop's key: the grade of each of one user's enrollments
 * (course_run_id = $1 AND user_id = $2). user_id is the same in every row of the source, so
 * batching on it would fetch one key; the batch is on the run, the slot whose values vary. */
static void
test_constant_slot_is_not_the_key(void **state)
{
    struct efx *f = *state;
    static const struct fx_col cols[] = {
        {"id", 2001, 1, KEYVAL_OID_INT4, 4, -1, 0},
        {"user_id", 2001, 2, KEYVAL_OID_INT4, 4, -1, 0},
        {"course_run_id", 2001, 3, KEYVAL_OID_INT4, 4, -1, 0},
    };
    static const char *const rows[] = {"1", "5", "11", "2", "5", "12", "3", "5", "13", "4", "5", "14"};
    efx_source(f, "SELECT id, user_id, course_run_id FROM enrollments WHERE user_id = 5", cols, 3,
               rows, 4);
    const struct answer *a = NULL;
    struct engine_plan plan;
    assert_int_equal(efx_decide(f, "SELECT id, grade FROM grades WHERE user_id = 5 AND "
                                   "course_run_id = 11 ORDER BY id LIMIT 1",
                                0, &a, &plan),
                     BAT);
    assert_string_equal(plan.array, "{\"11\",\"12\",\"13\",\"14\"}");
    engine_plan_free(&plan);
}

/* The loop's last distinct key: its column holds nothing else from here on, and choices.id
 * holds it only by coincidence (no name, no foreign key): forwarded, no batch. */
static void
test_no_single_key_batch(void **state)
{
    struct efx *f = *state;
    efx_choices(f); /* question_id 1, 1, 2, 3, 3, 4, 5: key 5 is the last one */
    const struct answer *a = NULL;
    struct engine_plan plan;
    assert_int_equal(efx_decide(f, QUESTION_SQL("5"), 0, &a, &plan), FWD);
    assert_int_equal(f->counts[ENGINE_C_BATCHES], 0);
}

/* A column that holds the key by coincidence only (no foreign key, no name ties ref to code)
 * is not batched on at its first lookup; once it also held the previous key, it is. */
static void
test_coincidence_waits(void **state)
{
    struct efx *f = *state;
    static const struct fx_col cols[] = {
        {"id", 2001, 1, KEYVAL_OID_INT4, 4, -1, 0},
        {"ref", 2001, 2, KEYVAL_OID_TEXT, -1, -1, 0},
    };
    static const char *const rows[] = {"1", "a", "2", "b", "3", "c", "4", "d", "5", "e"};
    efx_source(f, "SELECT id, ref FROM kid", cols, 2, rows, 5);
    assert_int_equal(efx_verdict(f, "SELECT code, txt FROM parent WHERE code = 'a'", 0), FWD);
    const struct answer *a = NULL;
    struct engine_plan plan;
    assert_int_equal(efx_decide(f, "SELECT code, txt FROM parent WHERE code = 'b'", 0, &a, &plan),
                     BAT);
    assert_string_equal(plan.array, "{\"b\",\"c\",\"d\",\"e\"}");
    engine_plan_free(&plan);
}

/* The loop's last key is still the loop's: traced to question_id (whose rows before hold other
 * keys), not to choices.id that holds 5 by coincidence (observe mode reports the pattern). */
static void
test_last_key_is_the_loops(void **state)
{
    struct efx *f = *state;
    f->cfg.mode = MODE_OBSERVE;
    efx_choices(f);
    assert_int_equal(efx_verdict(f, QUESTION_SQL("5"), 0), FWD);
    assert_int_equal(f->patterns, 1);
    assert_string_equal(f->pattern_col, "question_id");
}

/* Every other key of the column is answered already: a batch would fetch the current one
 * alone, which saves nothing. */
static void
test_no_batch_of_one(void **state)
{
    struct efx *f = *state;
    efx_choices(f);
    const struct answer *a = NULL;
    struct engine_plan plan;
    assert_int_equal(efx_decide(f, QUESTION_SQL("2"), 0, &a, &plan), BAT);
    assert_string_equal(plan.array, "{\"2\",\"3\",\"4\",\"5\"}"); /* from key 2's row on */
    engine_plan_free(&plan);
    static const char *const rows[] = {"1", "2", "q2", "2", "3", "q3"};
    efx_batch_rows(f, question_cols, 2, rows, 2);
    assert_int_equal(engine_batch_finish(f->e, &f->cx), ENGINE_STORED);
    assert_int_equal(efx_decide(f, QUESTION_SQL("1"), 0, &a, &plan), FWD);
}

/* Inside a block a batch costs SAVEPOINT, the batch and RELEASE: with three keys to fetch it
 * would send as many statements as the lookups, so it is not sent; in autocommit it is. */
static void
test_block_needs_more_keys(void **state)
{
    struct efx *f = *state;
    static const char *const rows[] = {"1", "1", "a", "2", "2", "b", "3", "3", "c"};
    for (int in_block = 1; in_block >= 0; in_block--) {
        efx_restart(f);
        f->cx.txn_status = 'I';
        if (in_block) {
            (void)engine_effects(f->e, &f->cx, efx_shape(f, "BEGIN", NULL, 0));
            f->cx.txn_status = 'T';
            engine_status(f->e, &f->cx, 'I');
        }
        efx_source(f, CHOICES_SQL, choice_cols, 3, rows, 3);
        assert_int_equal(efx_verdict(f, QUESTION_SQL("1"), 0), in_block ? FWD : BAT);
    }
}

/* A nested loop: the batch's rows are the next level's key source. Choices are batched per
 * question (a reverse lookup); the votes lookup keyed by a choice id then traces to the batch's
 * rows and batches every choice id from there on. */
static void
test_batch_rows_feed_the_next_level(void **state)
{
    struct efx *f = *state;
    static const struct fx_col qcols[] = {{"id", Q_OID, 1, KEYVAL_OID_INT4, 4, -1, 0}};
    static const char *const qrows[] = {"1", "2", "3"};
    efx_source(f, "SELECT id FROM polls_question", qcols, 1, qrows, 3);
    const struct answer *a = NULL;
    struct engine_plan plan;
    static const char *const rsql =
        "SELECT id, question_id, choice_text FROM polls_choice WHERE question_id = 1";
    assert_int_equal(efx_decide(f, rsql, 0, &a, &plan), BAT);
    engine_plan_free(&plan);
    be_row_desc_cols(&f->m, choice_cols, 3);
    efx_batch_msg(f, ENGINE_PART_SINGLE);
    struct fx_col bcols[4] = {{"pgfold_ord", 0, 0, KEYVAL_OID_INT8, 8, -1, 0}};
    memcpy(bcols + 1, choice_cols, sizeof(choice_cols));
    be_row_desc_cols(&f->m, bcols, 4);
    efx_batch_msg(f, ENGINE_PART_BATCH);
    static const char *const brows[][4] = {{"1", "10", "1", "a"}, {"1", "11", "1", "b"},
                                          {"2", "20", "2", "c"}, {"3", "30", "3", "d"}};
    for (size_t i = 0; i < ARRAY_LEN(brows); i++) {
        struct fx_field fl[4];
        for (int c = 0; c < 4; c++)
            fl[c] = (struct fx_field){brows[i][c], (int32_t)strlen(brows[i][c])};
        be_data_row_fields(&f->m, fl, 4);
        efx_batch_msg(f, ENGINE_PART_BATCH);
    }
    assert_int_equal(engine_batch_finish(f->e, &f->cx), ENGINE_STORED);
    assert_int_equal(efx_decide(f, rsql, ENGINE_RETRY | ENGINE_RESUMED, &a, &plan), LOC);
    assert_int_equal(efx_decide(f, "SELECT id, n FROM polls_vote WHERE choice_id = 10", 0, &a, &plan),
                     BAT);
    assert_string_equal(plan.array, "{\"10\",\"11\",\"20\",\"30\"}");
    engine_plan_free(&plan);
}

/* A source read in chunks (an Execute with a row limit, JDBC's fetch size): every chunk ends in
 * PortalSuspended, and the chunks are one result: the loop's batch spans them. */
static void
test_chunks_are_one_result(void **state)
{
    struct efx *f = *state;
    struct shape *sh = efx_shape(f, CHOICES_SQL, NULL, 0);
    struct engine_stream describe = {.kind = ENGINE_STREAM_DESCRIBE_P};
    struct engine_stream exec = {.kind = ENGINE_STREAM_EXECUTE, .source = true, .shape = sh,
                                 .portal = 7};
    be_row_desc_cols(&f->m, choice_cols, 3);
    efx_stream_msg(f, &describe);
    static const char *const rows[][3] = {{"1", "1", "a"}, {"2", "2", "b"}, {"3", "3", "c"},
                                         {"4", "4", "d"}, {"5", "5", "e"}};
    for (int chunk = 0; chunk < 3; chunk++) {
        for (int r = 2 * chunk; r < 2 * chunk + 2 && r < 5; r++) {
            struct fx_field fl[3];
            for (int c = 0; c < 3; c++)
                fl[c] = (struct fx_field){rows[r][c], (int32_t)strlen(rows[r][c])};
            be_data_row_fields(&f->m, fl, 3);
            efx_stream_msg(f, &exec);
        }
        if (chunk < 2)
            fx_empty(&f->m, BE_PORTAL_SUSPENDED);
        else
            be_command_complete(&f->m, "SELECT 5");
        efx_stream_msg(f, &exec);
    }
    assert_int_equal(engine_sources(f->e)->count, 1);
    assert_int_equal(engine_sources(f->e)->results[0]->nrows, 5);
    const struct answer *a = NULL;
    struct engine_plan plan;
    assert_int_equal(efx_decide(f, QUESTION_SQL("1"), 0, &a, &plan), BAT);
    assert_string_equal(plan.array, "{\"1\",\"2\",\"3\",\"4\",\"5\"}");
    engine_plan_free(&plan);
}

/* A lookup's own batch rows are no source of its loop: they hold keys it looked up already.
 * (ActiveRecord's post.comments.order(:created_at).last, once the posts result was evicted by
 * the loop's other results, traced to its own earlier batch and fetched nothing useful.) */
static void
test_own_rows_are_no_source(void **state)
{
    struct efx *f = *state;
    f->cfg.source_results = 2;
    efx_restart(f);
    static const struct fx_col pcols[] = {{"id", 3001, 1, KEYVAL_OID_INT4, 4, -1, 0}};
    static const char *const prow[] = {"1", "2", "3", "4", "5"};
    efx_source(f, "SELECT id FROM posts ORDER BY id", pcols, 1, prow, 5);
    static const char *const sql1 = "SELECT id, post_id FROM comments WHERE post_id = 1 ORDER BY id DESC LIMIT 1";
    static const char *const sql3 = "SELECT id, post_id FROM comments WHERE post_id = 3 ORDER BY id DESC LIMIT 1";
    const struct answer *a = NULL;
    struct engine_plan plan;
    assert_int_equal(efx_decide(f, sql1, 0, &a, &plan), BAT);
    engine_plan_free(&plan);
    static const struct fx_col ccols[] = {{"id", 3002, 1, KEYVAL_OID_INT4, 4, -1, 0},
                                          {"post_id", 3002, 2, KEYVAL_OID_INT4, 4, -1, 0}};
    be_row_desc_cols(&f->m, ccols, 2);
    efx_batch_msg(f, ENGINE_PART_SINGLE);
    static const struct fx_col bcols[] = {{"pgfold_ord", 0, 0, KEYVAL_OID_INT8, 8, -1, 0},
                                          {"id", 3002, 1, KEYVAL_OID_INT4, 4, -1, 0},
                                          {"post_id", 3002, 2, KEYVAL_OID_INT4, 4, -1, 0}};
    be_row_desc_cols(&f->m, bcols, 3);
    efx_batch_msg(f, ENGINE_PART_BATCH);
    for (int k = 1; k <= 5; k++) {
        char ord[4], id[4], post[4];
        snprintf(ord, sizeof(ord), "%d", k);
        snprintf(id, sizeof(id), "%d", 10 + k);
        snprintf(post, sizeof(post), "%d", k);
        struct fx_field fl[3] = {{ord, (int32_t)strlen(ord)}, {id, (int32_t)strlen(id)},
                                 {post, (int32_t)strlen(post)}};
        be_data_row_fields(&f->m, fl, 3);
        efx_batch_msg(f, ENGINE_PART_BATCH);
    }
    assert_int_equal(engine_batch_finish(f->e, &f->cx), ENGINE_STORED);
    static const struct fx_col ocols[] = {{"n", 0, 0, KEYVAL_OID_INT4, 4, -1, 0}};
    static const char *const orow[] = {"100", "200"};
    efx_source(f, "SELECT n FROM other", ocols, 1, orow, 2); /* the posts result goes */
    engine_invalidate(f->e);                                /* and every answer */
    assert_int_equal(efx_verdict(f, sql3, 0), FWD);
}

/* A driver's catalog introspection (pg_type, pg_attribute oids) is no key source. */
static void
test_system_results_are_no_source(void **state)
{
    struct efx *f = *state;
    static const struct fx_col cols[] = {{"oid", 1247, 1, KEYVAL_OID_OID, 4, -1, 0}};
    static const char *const rows[] = {"16", "20", "23", "25"};
    efx_source(f, "SELECT oid FROM pg_type", cols, 1, rows, 4);
    assert_int_equal(engine_sources(f->e)->count, 0);
    const struct answer *a = NULL;
    struct engine_plan plan;
    assert_int_equal(efx_decide(f, "SELECT id, name FROM tags WHERE id = 20", 0, &a, &plan), FWD);
}

int
main(void)
{
    static const struct CMUnitTest fixed[] = {
        cmocka_unit_test_setup_teardown(test_answer_bytes, efx_setup, efx_teardown),
        cmocka_unit_test_setup_teardown(test_canonical_key, efx_setup, efx_teardown),
        cmocka_unit_test_setup_teardown(test_staleness, efx_setup, efx_teardown),
        cmocka_unit_test_setup_teardown(test_write_invalidates, efx_setup, efx_teardown),
        cmocka_unit_test_setup_teardown(test_retry_never_batches, efx_setup, efx_teardown),
        cmocka_unit_test_setup_teardown(test_backoff, efx_setup, efx_teardown),
        cmocka_unit_test_setup_teardown(test_capture_repeat, efx_setup, efx_teardown),
        cmocka_unit_test_setup_teardown(test_capture_refused, efx_setup, efx_teardown),
        cmocka_unit_test_setup_teardown(test_counted_once, efx_setup, efx_teardown),
        cmocka_unit_test_setup_teardown(test_extended_binary, efx_setup, efx_teardown),
        cmocka_unit_test_setup_teardown(test_constant_slot_is_not_the_key, efx_setup, efx_teardown),
        cmocka_unit_test_setup_teardown(test_no_single_key_batch, efx_setup, efx_teardown),
        cmocka_unit_test_setup_teardown(test_no_batch_of_one, efx_setup, efx_teardown),
        cmocka_unit_test_setup_teardown(test_last_key_is_the_loops, efx_setup, efx_teardown),
        cmocka_unit_test_setup_teardown(test_coincidence_waits, efx_setup, efx_teardown),
        cmocka_unit_test_setup_teardown(test_block_needs_more_keys, efx_setup, efx_teardown),
        cmocka_unit_test_setup_teardown(test_batch_rows_feed_the_next_level, efx_setup,
                                        efx_teardown),
        cmocka_unit_test_setup_teardown(test_system_results_are_no_source, efx_setup, efx_teardown),
        cmocka_unit_test_setup_teardown(test_chunks_are_one_result, efx_setup, efx_teardown),
        cmocka_unit_test_setup_teardown(test_own_rows_are_no_source, efx_setup, efx_teardown),
    };
    struct CMUnitTest table[ARRAY_LEN(verdicts)];
    for (size_t i = 0; i < ARRAY_LEN(verdicts); i++)
        table[i] = (struct CMUnitTest){verdicts[i].name, run_verdict, efx_setup, efx_teardown,
                                       (void *)&verdicts[i]};
    int failed = _cmocka_run_group_tests("verdicts", table, ARRAY_LEN(table), NULL, NULL);
    failed += cmocka_run_group_tests_name("engine rules", fixed, NULL, NULL);
    shape_thread_exit();
    return failed;
}
