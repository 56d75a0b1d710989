/*
 * test_verify: shadow verification's decisions (batcher/verify.h) and the engine's part in them.
 *   - digests: rows compared as a multiset, the tag and the RowDescription as bytes, the
 *     RowDescription only when one was served; malformed rows refused;
 *   - judgement: a difference is a mismatch only under the answer's own snapshot, else stale;
 *   - sampling: 0 never, 1 always, a fraction about that often;
 *   - the engine: which answers are exact (fetched in the REPEATABLE READ block still open), a
 *     mismatch stops the pattern in this session and in another sharing the process's fresh
 *     state, a stale outcome stops nothing; counters.
 */
#include "tests/unit/batcher/engine_harness.h"

static void
put_row(struct buf *b, const char *v)
{
    struct fx_field fl[1] = {{v, (int32_t)strlen(v)}};
    be_data_row_fields(b, fl, 1);
}

static void
digest_of(struct verify_digest *d, const char *const *rows, int n, const char *tag, bool desc)
{
    struct buf b;
    buf_init(&b);
    for (int i = 0; i < n; i++)
        put_row(&b, rows[i]);
    verify_digest_init(d);
    assert_int_equal(verify_digest_rows(d, buf_head(&b), buf_used(&b)), 0);
    verify_digest_tag(d, tag, strlen(tag));
    if (desc) {
        buf_reset(&b);
        be_row_desc_cols(&b, question_cols, 2);
        verify_digest_desc(d, buf_head(&b), buf_used(&b));
    }
    buf_free(&b);
}

/* Rows in another order are the same answer; another value, a missing or extra row, a
 * duplicate in place of another row, another tag or RowDescription is not. */
static void
test_digests(void **state)
{
    (void)state;
    static const char *const abc[] = {"a", "b", "c"}, *const cba[] = {"c", "b", "a"};
    static const char *const abd[] = {"a", "b", "d"}, *const ab[] = {"a", "b"};
    static const char *const aab[] = {"a", "a", "b"}, *const abb[] = {"a", "b", "b"};
    struct verify_digest x, y;
    digest_of(&x, abc, 3, "SELECT 3", true);
    digest_of(&y, cba, 3, "SELECT 3", true);
    assert_int_equal(verify_judge(&x, &y, true), VERIFY_SAME);
    assert_true(verify_digest_value(&x) == verify_digest_value(&y));
    digest_of(&y, abd, 3, "SELECT 3", true);
    assert_int_equal(verify_judge(&x, &y, true), VERIFY_MISMATCH);
    assert_false(verify_digest_value(&x) == verify_digest_value(&y));
    digest_of(&y, ab, 2, "SELECT 3", true);
    assert_int_equal(verify_judge(&x, &y, true), VERIFY_MISMATCH);
    digest_of(&y, abc, 3, "SELECT 2", true);
    assert_int_equal(verify_judge(&x, &y, true), VERIFY_MISMATCH);
    digest_of(&x, aab, 3, "SELECT 3", false);
    digest_of(&y, abb, 3, "SELECT 3", false);
    assert_int_equal(verify_judge(&x, &y, true), VERIFY_MISMATCH);
    /* no RowDescription served: the server's is not compared */
    digest_of(&x, abc, 3, "SELECT 3", false);
    digest_of(&y, abc, 3, "SELECT 3", true);
    assert_int_equal(verify_judge(&x, &y, true), VERIFY_SAME);
    /* served one, the server sent another (or none) */
    digest_of(&x, abc, 3, "SELECT 3", true);
    digest_of(&y, abc, 3, "SELECT 3", false);
    assert_int_equal(verify_judge(&x, &y, true), VERIFY_MISMATCH);
    /* nothing and nothing */
    digest_of(&x, NULL, 0, "SELECT 0", true);
    digest_of(&y, NULL, 0, "SELECT 0", true);
    assert_int_equal(verify_judge(&x, &y, false), VERIFY_SAME);
}

/* A difference outside the answer's own snapshot is staleness, not a bug. */
static void
test_judge_stale(void **state)
{
    (void)state;
    static const char *const a[] = {"a"}, *const b[] = {"b"};
    struct verify_digest x, y;
    digest_of(&x, a, 1, "SELECT 1", true);
    digest_of(&y, b, 1, "SELECT 1", true);
    assert_int_equal(verify_judge(&x, &y, false), VERIFY_STALE);
    assert_int_equal(verify_judge(&x, &y, true), VERIFY_MISMATCH);
}

static void
test_rows_must_frame(void **state)
{
    (void)state;
    static const uint8_t cut[] = {'D', 0, 0, 0, 20, 0, 1};
    static const uint8_t tiny[] = {'D', 0, 0};
    static const uint8_t zero[] = {'D', 0, 0, 0, 0};
    struct verify_digest d;
    verify_digest_init(&d);
    assert_int_equal(verify_digest_rows(&d, cut, sizeof(cut)), -1);
    assert_int_equal(verify_digest_rows(&d, tiny, sizeof(tiny)), -1);
    assert_int_equal(verify_digest_rows(&d, zero, sizeof(zero)), -1);
    assert_int_equal(verify_digest_rows(&d, NULL, 0), 0);
}

static void
test_sample(void **state)
{
    (void)state;
    uint64_t rng = 42;
    int hits = 0;
    for (int i = 0; i < 100000; i++)
        hits += verify_sample(&rng, 10000); /* 1% */
    assert_in_range(hits, 800, 1200);
    for (int i = 0; i < 1000; i++) {
        assert_false(verify_sample(&rng, 0));
        assert_true(verify_sample(&rng, VERIFY_FRACTION_ONE));
    }
    uint64_t zero = 0; /* a zero seed still samples */
    hits = 0;
    for (int i = 0; i < 1000; i++)
        hits += verify_sample(&zero, 500000);
    assert_in_range(hits, 400, 600);
}

/* The answer the next lookup gets after the seed's batch. */
static const struct answer *
served_answer(struct efx *f)
{
    const struct answer *a = NULL;
    struct engine_plan plan;
    assert_int_equal(efx_decide(f, QUESTION_SQL("2"), 0, &a, &plan), ENGINE_LOCAL);
    return a;
}

static uint64_t
question_fp(struct efx *f)
{
    return efx_shape(f, QUESTION_SQL("2"), NULL, 0)->fingerprint;
}

/* Exact only inside the REPEATABLE READ block that fetched it. */
static void
test_exact(void **state)
{
    struct efx *f = *state;
    efx_batched(f); /* autocommit */
    assert_false(engine_answer_exact(f->e, &f->cx, served_answer(f)));

    static const char *const blocks[] = {"BEGIN", "BEGIN ISOLATION LEVEL REPEATABLE READ"};
    for (int i = 0; i < 2; i++) {
        efx_restart(f);
        f->cfg.consistency = CONSISTENCY_TRANSACTION;
        f->cx.txn_status = 'I';
        (void)engine_effects(f->e, &f->cx, efx_shape(f, blocks[i], NULL, 0));
        f->cx.txn_status = 'T';
        engine_status(f->e, &f->cx, 'I');
        efx_batched(f);
        assert_int_equal(engine_answer_exact(f->e, &f->cx, served_answer(f)), i == 1);
    }
    /* the block is over, the answer was of it */
    const struct answer *a = served_answer(f);
    f->cx.txn_status = 'I';
    assert_false(engine_answer_exact(f->e, &f->cx, a));
}

/* A mismatch: this session and any other of the process forward the pattern from now on, the
 * session's other answers are dropped; counted. */
static void
test_mismatch_stops_pattern(void **state)
{
    struct efx *f = *state;
    efx_batched(f);
    (void)served_answer(f);
    engine_verified(f->e, &f->cx, question_fp(f), VERIFY_MISMATCH, 3);
    assert_int_equal(f->counts[ENGINE_C_VERIFIED], 1);
    assert_int_equal(f->counts[ENGINE_C_VERIFY_MISMATCH], 1);
    assert_int_equal(engine_answer_count(f->e), 0);
    assert_int_equal(efx_verdict(f, QUESTION_SQL("3"), 0), ENGINE_FORWARD);
    assert_true(fresh_distrusted(&f->fresh, question_fp(f)));
    /* another session of the process: no batch, no local answer for the pattern */
    efx_restart(f);
    efx_choices(f);
    uint64_t batches = f->counts[ENGINE_C_BATCHES];
    assert_int_equal(efx_verdict(f, QUESTION_SQL("1"), 0), ENGINE_FORWARD);
    assert_int_equal(f->counts[ENGINE_C_BATCHES], batches);
    /* ... and without the process-wide set (full), the session that found it still stops */
    fresh_init(&f->fresh);
    efx_restart(f);
    efx_batched(f);
    f->cx.fresh = NULL;
    engine_verified(f->e, &f->cx, question_fp(f), VERIFY_MISMATCH, 0);
    f->cx.fresh = &f->fresh;
    assert_false(fresh_distrusted(&f->fresh, question_fp(f)));
    assert_int_equal(efx_verdict(f, QUESTION_SQL("4"), 0), ENGINE_FORWARD);
}

/* Stale and same outcomes are counted and stop nothing. */
static void
test_stale_counts_only(void **state)
{
    struct efx *f = *state;
    efx_batched(f);
    engine_verified(f->e, &f->cx, question_fp(f), VERIFY_STALE, 250);
    engine_verified(f->e, &f->cx, question_fp(f), VERIFY_SAME, 0);
    engine_verify_skipped(f->e);
    assert_int_equal(f->counts[ENGINE_C_VERIFIED], 2);
    assert_int_equal(f->counts[ENGINE_C_VERIFY_STALE], 1);
    assert_int_equal(f->counts[ENGINE_C_VERIFY_MISMATCH], 0);
    assert_int_equal(f->counts[ENGINE_C_VERIFY_SKIPPED], 1);
    assert_false(fresh_distrusted(&f->fresh, question_fp(f)));
    assert_int_equal(efx_verdict(f, QUESTION_SQL("3"), 0), ENGINE_LOCAL);
}

/* The process-wide set: idempotent, bounded, fingerprint 0 allowed. */
static void
test_distrust_set(void **state)
{
    (void)state;
    static struct fresh fr;
    fresh_init(&fr);
    assert_false(fresh_distrusted(&fr, 0));
    assert_true(fresh_distrust(&fr, 0));
    assert_true(fresh_distrusted(&fr, 0));
    for (uint64_t i = 1; i < FRESH_DISTRUST; i++)
        assert_true(fresh_distrust(&fr, i + 100));
    assert_true(fresh_distrust(&fr, 101)); /* already there */
    assert_false(fresh_distrust(&fr, 99999));
    assert_false(fresh_distrusted(&fr, 99999));
    assert_true(fresh_distrusted(&fr, FRESH_DISTRUST + 99));
}

int
main(void)
{
    static const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_digests),
        cmocka_unit_test(test_judge_stale),
        cmocka_unit_test(test_rows_must_frame),
        cmocka_unit_test(test_sample),
        cmocka_unit_test(test_distrust_set),
        cmocka_unit_test_setup_teardown(test_exact, efx_setup, efx_teardown),
        cmocka_unit_test_setup_teardown(test_mismatch_stops_pattern, efx_setup, efx_teardown),
        cmocka_unit_test_setup_teardown(test_stale_counts_only, efx_setup, efx_teardown),
    };
    int failed = cmocka_run_group_tests_name("verify", tests, NULL, NULL);
    shape_thread_exit();
    return failed;
}
