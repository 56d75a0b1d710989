/*
 * test_engine_keys: how the engine reads a lookup's key when it is written with a cast
 * (`id = $1::int8`, `id = '2'::int8`, what ORMs and hand-written code do to pin a parameter's
 * type). A cast to a key type is read the way PostgreSQL reads it, and the batch reads its keys
 * through the same cast; a cast whose result pgfold cannot predict keeps the lookup forwarded.
 * One table: the lookup, its parameter as sent, and the verdict and batch it gets after the
 * seed's choices result (question_id 1, 1, 2, 3, 3, 4, 5).
 */
#include "tests/unit/batcher/engine_harness.h"

enum { FWD = ENGINE_FORWARD, BAT = ENGINE_BATCH };

struct key_case {
    const char *name;
    const char *sql;
    uint32_t oid;      /* the parameter's declared type (0: unspecified); no parameter if !val */
    int16_t fmt;       /* its format */
    const char *val;   /* its text, or for fmt 1 a decimal integer sent as `width` bytes */
    int width;         /* binary integer width; 0 sends val's bytes as they are */
    int verdict;
    uint32_t key_oid;  /* the batch's key array is of this type */
    const char *array; /* and holds these keys */
};

#define Q "SELECT id, question_text FROM polls_question WHERE id = "

// clang-format off
static const struct key_case cases[] = {
    {"literal string cast to int8",       Q "'2'::int8",         0, 0, NULL, 0, BAT, KEYVAL_OID_INT8, "{\"2\",\"3\",\"4\",\"5\"}"},
    {"literal with blanks cast to int8",  Q "' 2 '::bigint",     0, 0, NULL, 0, BAT, KEYVAL_OID_INT8, "{\"2\",\"3\",\"4\",\"5\"}"},
    {"CAST( AS ) spelling",               Q "CAST('2' AS int4)", 0, 0, NULL, 0, BAT, KEYVAL_OID_INT4, "{\"2\",\"3\",\"4\",\"5\"}"},
    {"integer narrowed to int2",          Q "2::int2",           0, 0, NULL, 0, BAT, KEYVAL_OID_INT2, "{\"2\",\"3\",\"4\",\"5\"}"},
    {"integer beyond the cast's range",   Q "70000::int2",       0, 0, NULL, 0, FWD, 0, NULL},
    {"not an integer",                    Q "'2x'::int8",        0, 0, NULL, 0, FWD, 0, NULL},
    {"untyped parameter cast to int8",    Q "$1::int8",          0, 0, "2", 0, BAT, KEYVAL_OID_INT8, "{\"2\",\"3\",\"4\",\"5\"}"},
    {"text parameter cast to int8",       Q "$1::int8",         25, 0, " 2", 0, BAT, KEYVAL_OID_INT8, "{\"2\",\"3\",\"4\",\"5\"}"},
    {"binary int8 parameter to int4",     Q "$1::int4",         20, 1, "2", 8, BAT, KEYVAL_OID_INT4, "{\"2\",\"3\",\"4\",\"5\"}"},
    {"binary int8 beyond int4",           Q "$1::int4",         20, 1, "4294967298", 8, FWD, 0, NULL},
    {"untyped binary parameter is int8",  Q "$1::int8",          0, 1, "2", 8, BAT, KEYVAL_OID_INT8, "{\"2\",\"3\",\"4\",\"5\"}"},
    {"untyped binary, not int8's form",   Q "$1::int8",          0, 1, "2", 0, FWD, 0, NULL},
    {"name parameter: no cast to int8",   Q "$1::int8",         19, 0, "2", 0, FWD, 0, NULL},
    {"int4 parameter cast to text",       Q "$1::text",         23, 0, "2", 0, FWD, 0, NULL},
    {"modifier may cut the value",        Q "$1::varchar(1)",    0, 0, "2", 0, FWD, 0, NULL},
    {"array cast",                        Q "$1::int8[]",        0, 0, "2", 0, FWD, 0, NULL},
    {"not a key type",                    Q "$1::numeric",       0, 0, "2", 0, FWD, 0, NULL},
    {"blank-padded char",                 Q "$1::bpchar",        0, 0, "2", 0, FWD, 0, NULL},
    {"a type of another schema",          Q "$1::app.int8",      0, 0, "2", 0, FWD, 0, NULL},
    {"pg_catalog named",                  Q "$1::pg_catalog.int8", 0, 0, "2", 0, BAT, KEYVAL_OID_INT8, "{\"2\",\"3\",\"4\",\"5\"}"},
    {"uuid cast on an int4 column",       Q "'2'::uuid",         0, 0, NULL, 0, FWD, 0, NULL},
};
// clang-format on

/* Decides the case's lookup in the simple protocol (no parameter) or the extended one. */
static int
decide_case(struct efx *f, const struct key_case *c, struct engine_plan *plan)
{
    const struct answer *a = NULL;
    if (!c->val)
        return efx_decide(f, c->sql, 0, &a, plan);
    uint32_t oids[1] = {c->oid};
    uint8_t bin[8];
    struct lookup lk = {0};
    int noids = c->oid ? 1 : 0;
    lk.shape = efx_shape(f, c->sql, oids, noids);
    lk.extended = true;
    lk.sql = c->sql;
    lk.sqllen = strlen(c->sql);
    lk.lits = &f->lits;
    lk.oids = oids;
    lk.noids = noids;
    lk.stmt_id = engine_stmt_id(c->sql, lk.sqllen, &f->lits);
    f->bind = (struct msg_bind){.portal = "", .stmt = "", .nparams = 1};
    f->bind.pfmt[0] = c->fmt;
    if (c->fmt == 1 && c->width) {
        unsigned long long v = strtoull(c->val, NULL, 10);
        for (int i = 0; i < c->width; i++)
            bin[i] = (uint8_t)(v >> (8 * (c->width - 1 - i)));
        f->bind.val[0] = bin;
        f->bind.len[0] = c->width;
    } else {
        f->bind.val[0] = (const uint8_t *)c->val;
        f->bind.len[0] = (int32_t)strlen(c->val);
    }
    lk.bind = &f->bind;
    return engine_decide(f->e, &f->cx, &lk, 0, &a, plan);
}

static void
run_case(void **state)
{
    struct efx *f = *state;
    const struct key_case *c = f->user;
    efx_choices(f);
    struct engine_plan plan;
    int v = decide_case(f, c, &plan);
    assert_int_equal(v, c->verdict);
    if (v != BAT)
        return;
    int n = plan.nparams - 1;
    assert_int_equal(plan.oids[n], keyval_array_oid(c->key_oid));
    assert_string_equal(plan.array, c->array);
    /* The key's place reads the array's element through the lookup's own cast. */
    assert_non_null(strstr(plan.batch_sql, "pgfold_k.pgfold_v"));
    if (c->val) {
        assert_int_equal(plan.oids[0], c->key_oid); /* its own $1: typed, bound NULL */
        assert_null(plan.vals[0]);
    }
    engine_plan_free(&plan);
}

/* A source column holds values the lookup's cast refuses (an int8 key beyond `::int2`): they
 * are left out of the batch, which would otherwise fail as a whole. */
static void
test_refused_keys_left_out(void **state)
{
    struct efx *f = *state;
    static const struct fx_col cols[] = {
        {"id", C_OID, 1, KEYVAL_OID_INT4, 4, -1, 0},
        {"question_id", C_OID, 2, KEYVAL_OID_INT8, 8, -1, 0},
    };
    static const char *const rows[] = {"1", "2", "2", "70000", "3", "3", "4", "4", "5", "5"};
    efx_source(f, "SELECT id, question_id FROM polls_choice", cols, 2, rows, 5);
    struct engine_plan plan;
    const struct answer *a = NULL;
    assert_int_equal(efx_decide(f, Q "2::int2", 0, &a, &plan), BAT);
    assert_string_equal(plan.array, "{\"2\",\"3\",\"4\",\"5\"}");
    assert_int_equal(plan.oids[plan.nparams - 1], keyval_array_oid(KEYVAL_OID_INT2));
    engine_plan_free(&plan);
}

/* A text key column: a cast to text or varchar reads the key as it is; bpchar, which ignores
 * trailing blanks, is left to the server. */
static void
test_text_casts(void **state)
{
    struct efx *f = *state;
    static const struct fx_col cols[] = {
        {"id", C_OID, 1, KEYVAL_OID_INT4, 4, -1, 0},
        {"code", C_OID, 2, KEYVAL_OID_TEXT, -1, -1, 0},
    };
    static const char *const rows[] = {"1", "a", "2", "b", "3", "c", "4", "d", "5", "e"};
    static const char *const casts[] = {"text", "varchar", "bpchar"};
    for (int i = 0; i < 3; i++) {
        efx_restart(f);
        efx_source(f, "SELECT id, code FROM polls_choice", cols, 2, rows, 5);
        char sql[128];
        snprintf(sql, sizeof(sql), "SELECT id, code_id FROM polls_code WHERE code = 'a'::%s",
                 casts[i]);
        struct engine_plan plan;
        const struct answer *a = NULL;
        int v = efx_decide(f, sql, 0, &a, &plan);
        assert_int_equal(v, i < 2 ? BAT : FWD);
        if (v == BAT) {
            assert_string_equal(plan.array, "{\"a\",\"b\",\"c\",\"d\",\"e\"}");
            engine_plan_free(&plan);
        }
    }
}

/* An int8 key beyond `$1::int4` is an error on the server: not a key, even though the source
 * column holds it. */
static void
test_key_beyond_the_cast(void **state)
{
    struct efx *f = *state;
    static const struct fx_col cols[] = {
        {"id", C_OID, 1, KEYVAL_OID_INT4, 4, -1, 0},
        {"question_id", C_OID, 2, KEYVAL_OID_INT8, 8, -1, 0},
    };
    static const char *const rows[] = {"1", "4294967298", "2", "2", "3", "3", "4", "4"};
    efx_source(f, "SELECT id, question_id FROM polls_choice", cols, 2, rows, 4);
    static const struct key_case beyond = {"", Q "$1::int4", 20, 1, "4294967298", 8, FWD, 0, NULL};
    struct engine_plan plan;
    int v = decide_case(f, &beyond, &plan);
    if (v == BAT)
        engine_plan_free(&plan);
    assert_int_equal(v, FWD);
}

int
main(void)
{
    struct CMUnitTest table[ARRAY_LEN(cases)];
    for (size_t i = 0; i < ARRAY_LEN(cases); i++)
        table[i] = (struct CMUnitTest){cases[i].name, run_case, efx_setup, efx_teardown,
                                       (void *)&cases[i]};
    static const struct CMUnitTest fixed[] = {
        cmocka_unit_test_setup_teardown(test_refused_keys_left_out, efx_setup, efx_teardown),
        cmocka_unit_test_setup_teardown(test_text_casts, efx_setup, efx_teardown),
        cmocka_unit_test_setup_teardown(test_key_beyond_the_cast, efx_setup, efx_teardown),
    };
    int failed = _cmocka_run_group_tests("cast keys", table, ARRAY_LEN(table), NULL, NULL);
    failed += cmocka_run_group_tests_name("cast sources", fixed, NULL, NULL);
    shape_thread_exit();
    return failed;
}
