/*
 * test_engine_effects: what running a statement does to the session's answer cache, over the
 * parser's whole statement corpus (tests/unit/shape_corpus.h). For every statement: a cached
 * answer is in place, the statement's effects run (in autocommit and inside a block), and the
 * cache must be empty exactly when DESIGN.md §4 says so:
 *   kept     a read (eligible lookup or not), an empty statement, BEGIN, SAVEPOINT, RELEASE,
 *            a multi-statement string of reads only, and the utilities that change no data
 *            and take no lock (FETCH, MOVE, CLOSE, DECLARE, LISTEN, NOTIFY, VACUUM, ANALYZE,
 *            CHECKPOINT, PREPARE, DEALLOCATE, SHOW, LOAD);
 *   emptied  everything else: writes, DDL and other utilities, SET/RESET/DISCARD, COMMIT,
 *            ROLLBACK, ROLLBACK TO, PREPARE TRANSACTION, statements that do not parse, and
 *            multi-statement strings that are not only reads.
 * Statements that drop prepared statements (DISCARD ALL/PLANS, DEALLOCATE) must also say so.
 * Then the transaction-block rules: a block's end empties the cache, and isolation levels are
 * followed as PostgreSQL applies them.
 */
#include <strings.h>

#include "tests/unit/batcher/engine_harness.h"
#include "tests/unit/shape_corpus.h"

/* Utility statements that change no table data and take no lock: they keep the cache (a FETCH
 * loop over a cursor keeps its loop's answers). */
static bool
spec_keeps_utility(const char *sql)
{
    static const char *const verbs[] = {"fetch ", "move ", "close ", "declare ", "listen ",
                                        "unlisten ", "notify ", "checkpoint", "vacuum",
                                        "analyze", "prepare ", "deallocate", "show ", "load "};
    for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
        if (strncasecmp(sql, verbs[i], strlen(verbs[i])) == 0 &&
            strncasecmp(sql, "prepare transaction", 19) != 0)
            return true;
    return false;
}

/* DESIGN.md §4, written from the corpus's own expectations (kind, flags), not the engine's. */
static bool
spec_empties(const struct shape_case *c, const struct shape *sh)
{
    bool read = c->kind == SHAPE_LOOKUP || c->kind == SHAPE_READ || c->kind == SHAPE_EMPTY;
    if (c->flags & SHAPE_F_MULTI)
        return !read;
    if (read)
        return false;
    if (c->kind == SHAPE_TXN)
        return sh->txn.op != SHAPE_TXN_BEGIN && sh->txn.op != SHAPE_TXN_SAVEPOINT &&
               sh->txn.op != SHAPE_TXN_RELEASE;
    if (c->kind == SHAPE_UTILITY && spec_keeps_utility(c->sql))
        return false;
    return true; /* write, session, other utility (LOCK, COPY, DDL, EXECUTE...), unknown */
}

static bool
spec_forgets(const char *sql)
{
    return strncasecmp(sql, "deallocate", 10) == 0 || strcasestr(sql, "discard all") ||
           strcasestr(sql, "discard plans");
}

/* Caches one answer (a forwarded lookup's, captured) so there is something to lose. */
static void
cache_one(struct efx *f)
{
    efx_capture(f, false);
    assert_int_equal(engine_answer_count(f->e), 1);
}

static void
run_corpus_case(void **state)
{
    struct efx *f = *state;
    const struct shape_case *c = f->user;
    for (int in_block = 0; in_block < 2; in_block++) {
        efx_restart(f);
        f->cx.txn_status = 'I';
        if (in_block) {
            (void)engine_effects(f->e, &f->cx, efx_shape(f, "BEGIN", NULL, 0));
            f->cx.txn_status = 'T';
            engine_status(f->e, &f->cx, 'I');
        }
        cache_one(f);
        struct shape *sh = efx_shape(f, c->sql, NULL, 0);
        unsigned fx = engine_effects(f->e, &f->cx, sh);
        bool emptied = engine_answer_count(f->e) == 0;
        if (emptied != spec_empties(c, sh))
            fail_msg("%s (%s): cache %s, DESIGN.md §4 says %s", c->sql,
                     in_block ? "in a block" : "autocommit", emptied ? "emptied" : "kept",
                     spec_empties(c, sh) ? "empty it" : "keep it");
        bool forgets = (fx & ENGINE_FX_FORGET_STATEMENTS) != 0;
        if (forgets != (spec_forgets(c->sql) != 0))
            fail_msg("%s: forget-statements flag %d", c->sql, forgets);
    }
}

/* An unparseable statement (the parser gave up on it: no shape) empties the cache. */
static void
test_no_shape(void **state)
{
    struct efx *f = *state;
    cache_one(f);
    (void)engine_effects(f->e, &f->cx, NULL);
    assert_int_equal(engine_answer_count(f->e), 0);
}

/* A transaction block's end (T or E to I) empties the cache; autocommit (I to I) does not. */
static void
test_block_end(void **state)
{
    struct efx *f = *state;
    cache_one(f);
    engine_status(f->e, &f->cx, 'I');
    assert_int_equal(engine_answer_count(f->e), 1);
    f->cx.txn_status = 'T';
    engine_status(f->e, &f->cx, 'I');
    assert_int_equal(engine_answer_count(f->e), 1);
    f->cx.txn_status = 'E';
    engine_status(f->e, &f->cx, 'T');
    f->cx.txn_status = 'I';
    engine_status(f->e, &f->cx, 'E');
    assert_int_equal(engine_answer_count(f->e), 0);
}

struct iso_case {
    const char *name;
    const char *stmts[4]; /* run in order: effects, then the status they lead to */
    bool snapshot;        /* is the block believed REPEATABLE READ / SERIALIZABLE after them */
};

// clang-format off
static const struct iso_case iso[] = {
    {"BEGIN: READ COMMITTED",                      {"BEGIN"}, false},
    {"BEGIN ISOLATION LEVEL REPEATABLE READ",      {"BEGIN ISOLATION LEVEL REPEATABLE READ"}, true},
    {"BEGIN ISOLATION LEVEL SERIALIZABLE",         {"BEGIN ISOLATION LEVEL SERIALIZABLE"}, true},
    {"SET TRANSACTION right after BEGIN",          {"BEGIN", "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ"}, true},
    {"SET TRANSACTION after a query: too late",    {"BEGIN", "SELECT 1", "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ"}, false},
    {"RR, then SET TRANSACTION READ COMMITTED",    {"BEGIN ISOLATION LEVEL REPEATABLE READ", "SET TRANSACTION ISOLATION LEVEL READ COMMITTED"}, false},
    {"RR, then SET transaction_isolation",         {"BEGIN ISOLATION LEVEL REPEATABLE READ", "SET transaction_isolation = 'read committed'"}, false},
    {"session default RR, then BEGIN",             {"SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL REPEATABLE READ", "BEGIN"}, true},
    {"session default RR reset, then BEGIN",       {"SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL REPEATABLE READ", "RESET ALL", "BEGIN"}, false},
    {"COMMIT; BEGIN RR in one string",             {"BEGIN", "COMMIT; BEGIN ISOLATION LEVEL REPEATABLE READ"}, true},
    {"BEGIN RR inside an RC block, fresh",         {"BEGIN", "BEGIN ISOLATION LEVEL REPEATABLE READ"}, true},
};
// clang-format on

static void
run_iso(void **state)
{
    struct efx *f = *state;
    const struct iso_case *c = f->user;
    for (int i = 0; i < 4 && c->stmts[i]; i++) {
        struct shape *sh = efx_shape(f, c->stmts[i], NULL, 0);
        (void)engine_effects(f->e, &f->cx, sh);
        uint8_t before = f->cx.txn_status;
        bool begins = sh->kind == SHAPE_TXN && sh->txn.op == SHAPE_TXN_BEGIN;
        if (begins || (sh->flags & SHAPE_F_MULTI))
            f->cx.txn_status = 'T';
        engine_status(f->e, &f->cx, before);
    }
    assert_int_equal(engine_snapshot_block(f->e), c->snapshot);
}

int
main(void)
{
    struct CMUnitTest *table = calloc(NCASES + ARRAY_LEN(iso), sizeof(*table));
    char(*names)[96] = calloc(NCASES, sizeof(*names));
    if (!table || !names)
        return 1;
    for (size_t i = 0; i < NCASES; i++) {
        snprintf(names[i], sizeof(names[i]), "effects %03zu: %.70s", i, corpus[i].sql);
        for (char *p = names[i]; *p; p++)
            if (*p == '\n')
                *p = ' ';
        table[i] = (struct CMUnitTest){names[i], run_corpus_case, efx_setup, efx_teardown,
                                       (void *)&corpus[i]};
    }
    for (size_t i = 0; i < ARRAY_LEN(iso); i++)
        table[NCASES + i] =
            (struct CMUnitTest){iso[i].name, run_iso, efx_setup, efx_teardown, (void *)&iso[i]};
    static const struct CMUnitTest fixed[] = {
        cmocka_unit_test_setup_teardown(test_no_shape, efx_setup, efx_teardown),
        cmocka_unit_test_setup_teardown(test_block_end, efx_setup, efx_teardown),
    };
    int failed = _cmocka_run_group_tests("effects", table, NCASES + ARRAY_LEN(iso), NULL, NULL);
    failed += cmocka_run_group_tests_name("effects rules", fixed, NULL, NULL);
    free(table);
    free(names);
    shape_thread_exit();
    return failed;
}
