/*
 * test_shape: the statement corpus. One line per case: SQL -> kind, flags, and a one-line
 * rendering of the details (key slots of a lookup, options of transaction and session
 * statements). Each case is its own cmocka test, named after its SQL.
 *
 * Every lookup case also checks the batched SQL: each slot's LATERAL form (and = ANY form where
 * allowed) re-parses with libpg_query (through shape_analyze) and takes $(N+1); and the same
 * statement with another key literal (or, for a parameter key, another non-key literal), run
 * through a shape cache, yields a batch with the same fingerprint (and, for a key literal, the
 * very same text).
 *
 * Slot rendering: key ($n, a number, or 'string'), then [qualifier.]column@table ('?' when the
 * table cannot be told), then markers: '<' key on the left, 'in', 'cast:T', 'reused', 'any'.
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

#include "tests/unit/shape_corpus.h"


/* Appends to a fixed buffer; the corpus details are short. */
static void __attribute__((format(printf, 2, 3))) cat(char *buf, const char *fmt, ...)
{
    size_t n = strlen(buf);
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(buf + n, 2048 - n, fmt, ap);
    va_end(ap);
}

static void
render_slot(char *buf, const struct shape_slot *sl)
{
    if (sl->param > 0)
        cat(buf, "$%d", sl->param);
    else if (sl->lit_type == KEYVAL_LIT_STRING)
        cat(buf, "'%s'", sl->lit_value);
    else
        cat(buf, "%s", sl->lit_value);
    cat(buf, " %s%s%s@", sl->qualifier ? sl->qualifier : "", sl->qualifier ? "." : "", sl->column);
    if (sl->table == NULL)
        cat(buf, "?");
    else
        cat(buf, "%s%s%s", sl->schema ? sl->schema : "", sl->schema ? "." : "", sl->table);
    if (sl->flags & SHAPE_SLOT_KEY_LEFT)
        cat(buf, " <");
    if (sl->flags & SHAPE_SLOT_IN)
        cat(buf, " in");
    if (sl->flags & SHAPE_SLOT_CAST)
        cat(buf, " cast:%s", sl->cast_type);
    if (sl->flags & SHAPE_SLOT_REUSED)
        cat(buf, " reused");
    if (sl->flags & SHAPE_SLOT_ANY_OK)
        cat(buf, " any");
}

static void
render_txn(char *buf, const struct shape_txn *t)
{
    static const char *const iso[] = {"", "ru", "rc", "rr", "s"};
    if (t->isolation != SHAPE_ISO_DEFAULT)
        cat(buf, " iso=%s", iso[t->isolation]);
    if (t->read_only >= 0)
        cat(buf, " ro=%d", t->read_only);
    if (t->deferrable >= 0)
        cat(buf, " def=%d", t->deferrable);
    if (t->chain)
        cat(buf, " chain");
    if (t->name)
        cat(buf, " name=%s", t->name);
}

static void
render(char *buf, const struct shape *s)
{
    static const char *const txn_ops[] = {
        "none",    "begin",       "commit",  "rollback",        "savepoint",
        "release", "rollback_to", "prepare", "commit_prepared", "rollback_prepared"};
    static const char *const sess_ops[] = {
        "none",     "set",      "reset",           "reset_all",
        "set_role", "set_auth", "set_transaction", "set_characteristics",
        "discard"};
    static const char *const discards[] = {"", "all", "plans", "sequences", "temp"};

    buf[0] = '\0';
    if (s->kind == SHAPE_LOOKUP) {
        for (int i = 0; i < s->nslots; i++) {
            if (i > 0)
                cat(buf, " | ");
            render_slot(buf, &s->slots[i]);
        }
    } else if (s->kind == SHAPE_TXN) {
        cat(buf, "%s", txn_ops[s->txn.op]);
        render_txn(buf, &s->txn);
    } else if (s->kind == SHAPE_SESSION) {
        const struct shape_session *ss = &s->session;
        cat(buf, "%s", sess_ops[ss->op]);
        if (ss->name)
            cat(buf, " %s", ss->name);
        if (ss->is_local)
            cat(buf, " local");
        if (ss->is_reset)
            cat(buf, " reset");
        if (ss->discard)
            cat(buf, " discard=%s", discards[ss->discard]);
        if (ss->op == SHAPE_SESSION_SET_TRANSACTION || ss->op == SHAPE_SESSION_SET_CHARACTERISTICS)
            render_txn(buf, &s->txn);
    }
}

/* The text with bytes [off, off+len) replaced by rep, in a new string. */
static char *
splice(const char *sql, uint32_t off, uint32_t len, const char *rep)
{
    size_t n = strlen(sql), r = strlen(rep);
    char *out = malloc(n - len + r + 1);

    assert_non_null(out);
    memcpy(out, sql, off);
    memcpy(out + off, rep, r);
    memcpy(out + off + r, sql + off + len, n - off - len + 1);
    return out;
}

static const char *
other_literal(enum keyval_lit t)
{
    return t == KEYVAL_LIT_INTEGER ? "4242" : t == KEYVAL_LIT_NUMERIC ? "42.5" : "'zz''q'";
}

/* A batch query must parse, take one more parameter, and never itself be a lookup. */
static uint64_t
check_batch_parses(const char *batch, int nparams)
{
    struct shape *b;
    uint64_t fp;

    assert_int_equal(shape_analyze(batch, strlen(batch), NULL, 0, &b), 0);
    if (b->kind != SHAPE_READ || b->nparams != nparams + 1)
        fail_msg("batch kind %s nparams %d (want read, %d): %s (%s)", shape_kind_name(b->kind),
                 b->nparams, nparams + 1, batch, b->error ? b->error : "");
    fp = b->fingerprint;
    shape_unref(b);
    return fp;
}

/*
 * Batches of the case's text and of a variant with one literal changed (the key literal, or
 * for a parameter key the first literal) must have the same fingerprint; with the key literal
 * changed they must be the same text.
 */
static void
check_variant(const char *sql, int slot, enum shape_batch_form form)
{
    struct shapecache *c;
    struct shape *s1, *s2;
    struct shape_lits l1 = {0}, l2 = {0};
    char *b1, *b2, *variant = NULL, val[128];
    const struct shape_slot *sl;
    const char *rep;
    size_t n;
    int lit;

    assert_int_equal(shapecache_new(8, &c), 0);
    assert_int_equal(shapecache_get(c, sql, strlen(sql), NULL, 0, &s1, &l1), 0);
    sl = &s1->slots[slot];
    lit = sl->param > 0 ? (s1->nlits > 0 ? 0 : -1) : sl->lit;
    if (lit >= 0 && s1->lits[lit].len > 0) {
        rep = other_literal(s1->lits[lit].type);
        variant = splice(sql, s1->lits[lit].off, s1->lits[lit].len, rep);
        assert_int_equal(shape_batch_sql(s1, sql, strlen(sql), &l1, slot, "int8", form, &b1), 0);
        assert_int_equal(shapecache_get(c, variant, strlen(variant), NULL, 0, &s2, &l2), 0);
        assert_int_equal(s2->kind, SHAPE_LOOKUP);
        assert_int_equal(s2->nslots, s1->nslots);
        assert_int_equal(
            shape_batch_sql(s2, variant, strlen(variant), &l2, slot, "int8", form, &b2), 0);
        assert_true(check_batch_parses(b1, s1->nparams) == check_batch_parses(b2, s2->nparams));
        if (sl->param == 0) {
            assert_string_equal(b1, b2);
            assert_int_equal(
                shape_slot_value(s2, variant, strlen(variant), &l2, slot, val, sizeof(val), &n), 0);
            assert_true(n >= 4 && memcmp(val + n - 4,
                                         rep[0] == '\'' ? "zz'q" : rep + strlen(rep) - 4, 4) == 0);
        } else {
            assert_non_null(strstr(b2, rep));
        }
        free(b1);
        free(b2);
        shape_unref(s2);
    }
    free(variant);
    shape_unref(s1);
    shape_lits_free(&l1);
    shape_lits_free(&l2);
    shapecache_free(c);
}

static void
check_batches(const struct shape *s)
{
    for (int i = 0; i < s->nslots; i++) {
        char *q = NULL;
        assert_int_equal(shape_batch_sql(s, NULL, 0, NULL, i, "int8", SHAPE_BATCH_LATERAL, &q), 0);
        assert_non_null(strstr(q, "CROSS JOIN LATERAL ("));
        check_batch_parses(q, s->nparams);
        free(q);
        check_variant(s->text, i, SHAPE_BATCH_LATERAL);
        if (!(s->slots[i].flags & SHAPE_SLOT_ANY_OK)) {
            assert_int_equal(shape_batch_sql(s, NULL, 0, NULL, i, "int8", SHAPE_BATCH_ANY, &q),
                             -EINVAL);
            continue;
        }
        assert_int_equal(shape_batch_sql(s, NULL, 0, NULL, i, "int8", SHAPE_BATCH_ANY, &q), 0);
        assert_non_null(strstr(q, " = ANY($"));
        check_batch_parses(q, s->nparams);
        free(q);
        check_variant(s->text, i, SHAPE_BATCH_ANY);
    }
}

static void
run_case(void **state)
{
    const struct shape_case *c = *state;
    struct shape *s;
    char detail[2048];

    assert_int_equal(shape_analyze(c->sql, strlen(c->sql), NULL, 0, &s), 0);
    render(detail, s);
    if (s->kind != c->kind || s->flags != c->flags || strcmp(detail, c->detail) != 0)
        fail_msg("%s\n  got  kind %s flags %#x \"%s\"\n  want kind %s flags %#x \"%s\"%s%s", c->sql,
                 shape_kind_name(s->kind), s->flags, detail, shape_kind_name(c->kind), c->flags,
                 c->detail, s->error ? "\n  error: " : "", s->error ? s->error : "");
    assert_true((s->kind == SHAPE_LOOKUP) == (s->nslots > 0));
    assert_true((s->kind == SHAPE_UNKNOWN) == (s->fingerprint == 0));
    if (s->kind == SHAPE_LOOKUP)
        check_batches(s);
    shape_unref(s);
}

/* Two key literals, one shape, one batch: the corpus requirement spelled out once more. */
static void
test_same_fingerprint_two_literals(void **state)
{
    const char *a = "SELECT * FROM t WHERE t.id = 7 LIMIT 21";
    const char *b = "SELECT * FROM t WHERE t.id = 123456 LIMIT 21";
    struct shape *sa, *sb;
    char *qa, *qb;

    (void)state;
    assert_int_equal(shape_analyze(a, strlen(a), NULL, 0, &sa), 0);
    assert_int_equal(shape_analyze(b, strlen(b), NULL, 0, &sb), 0);
    assert_true(sa->fingerprint == sb->fingerprint);
    assert_int_equal(shape_batch_sql(sa, NULL, 0, NULL, 0, "int8", SHAPE_BATCH_LATERAL, &qa), 0);
    assert_int_equal(shape_batch_sql(sb, NULL, 0, NULL, 0, "int8", SHAPE_BATCH_LATERAL, &qb), 0);
    assert_string_equal(qa, qb);
    assert_string_equal(qa, "SELECT pgfold_k.pgfold_ord, pgfold_t.* FROM unnest($1::int8[]) "
                            "WITH ORDINALITY AS pgfold_k(pgfold_v, pgfold_ord) CROSS JOIN "
                            "LATERAL (SELECT * FROM t WHERE t.id = (pgfold_k.pgfold_v) LIMIT "
                            "21\n) AS pgfold_t");
    free(qa);
    free(qb);
    shape_unref(sa);
    shape_unref(sb);
}

/* The exact text of both forms for a parameter key, with other parameters kept. */
static void
test_batch_text(void **state)
{
    const char *sql = "SELECT o.* FROM orders o WHERE o.user_id = $2 AND o.status = $1 "
                      "ORDER BY o.id; -- list";
    uint32_t oids[2] = {25, 20};
    struct shape *s;
    char *q;

    (void)state;
    assert_int_equal(shape_analyze(sql, strlen(sql), oids, 2, &s), 0);
    assert_int_equal(s->kind, SHAPE_LOOKUP);
    assert_int_equal(s->nparams, 2);
    assert_int_equal(s->nslots, 2);
    assert_int_equal(s->slots[0].param, 2);
    assert_int_equal(s->slots[0].param_oid, 20);
    assert_int_equal(shape_batch_sql(s, NULL, 0, NULL, 0, "int8", SHAPE_BATCH_LATERAL, &q), 0);
    assert_string_equal(q, "SELECT pgfold_k.pgfold_ord, pgfold_t.* FROM unnest($3::int8[]) WITH "
                           "ORDINALITY AS pgfold_k(pgfold_v, pgfold_ord) CROSS JOIN LATERAL "
                           "(SELECT o.* FROM orders o WHERE o.user_id = (pgfold_k.pgfold_v) AND "
                           "o.status = $1 ORDER BY o.id\n) AS pgfold_t");
    free(q);
    assert_int_equal(shape_batch_sql(s, NULL, 0, NULL, 0, "int8", SHAPE_BATCH_ANY, &q), 0);
    assert_string_equal(q, "SELECT o.user_id AS pgfold_key, o.* FROM orders o WHERE o.user_id = "
                           "ANY($3::int8[]) AND o.status = $1 ORDER BY o.id");
    free(q);
    assert_int_equal(shape_batch_sql(s, NULL, 0, NULL, 0, "int8; DROP", SHAPE_BATCH_LATERAL, &q),
                     -EINVAL);
    assert_int_equal(shape_batch_sql(s, NULL, 0, NULL, 5, "int8", SHAPE_BATCH_LATERAL, &q),
                     -EINVAL);
    shape_unref(s);
}

/* A trailing line comment without a semicolon must not swallow the closing parenthesis. */
static void
test_trailing_comment(void **state)
{
    const char *sql = "SELECT * FROM t WHERE id = $1 -- why";
    struct shape *s;
    char *q;

    (void)state;
    assert_int_equal(shape_analyze(sql, strlen(sql), NULL, 0, &s), 0);
    assert_int_equal(shape_batch_sql(s, NULL, 0, NULL, 0, "uuid", SHAPE_BATCH_LATERAL, &q), 0);
    assert_non_null(strstr(q, "-- why\n) AS pgfold_t"));
    check_batch_parses(q, 1);
    free(q);
    shape_unref(s);
}

/* The Parse message may declare more parameters than the text uses. */
static void
test_nparams_from_parse(void **state)
{
    const char *sql = "SELECT * FROM t WHERE id = $1";
    uint32_t oids[3] = {20, 25, 0};
    struct shape *s;
    char *q;

    (void)state;
    assert_int_equal(shape_analyze(sql, strlen(sql), oids, 3, &s), 0);
    assert_int_equal(s->nparams, 3);
    assert_int_equal(shape_batch_sql(s, NULL, 0, NULL, 0, "int8", SHAPE_BATCH_LATERAL, &q), 0);
    assert_non_null(strstr(q, "unnest($4::int8[])"));
    free(q);
    shape_unref(s);
}

static void
test_nul_byte(void **state)
{
    struct shape *s;

    (void)state;
    assert_int_equal(shape_analyze("SELECT 1\0; DROP TABLE t", 24, NULL, 0, &s), 0);
    assert_int_equal(s->kind, SHAPE_UNKNOWN);
    assert_non_null(s->error);
    shape_unref(s);
}

static void
test_tables_and_refs(void **state)
{
    const char *sql = "WITH c AS (SELECT * FROM s.a) SELECT * FROM c JOIN b ON b.x = c.x "
                      "JOIN b b2 ON b2.y = c.y WHERE c.id = $1";
    struct shape *s;

    (void)state;
    assert_int_equal(shape_analyze(sql, strlen(sql), NULL, 0, &s), 0);
    /* In tree order (the WITH clause comes last), CTE names dropped, duplicates merged. */
    assert_int_equal(s->ntables, 2);
    assert_null(s->tables[0].schema);
    assert_string_equal(s->tables[0].name, "b");
    assert_non_null(s->tables[1].schema);
    assert_string_equal(s->tables[1].schema, "s");
    assert_string_equal(s->tables[1].name, "a");
    assert_ptr_equal(shape_ref(s), s);
    assert_int_equal(s->refs, 2);
    shape_unref(s);
    assert_int_equal(s->refs, 1);
    assert_non_null(s->normalized);
    shape_unref(s);
    shape_unref(NULL);
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
    static const struct CMUnitTest fixed[] = {
        cmocka_unit_test(test_same_fingerprint_two_literals),
        cmocka_unit_test(test_batch_text),
        cmocka_unit_test(test_trailing_comment),
        cmocka_unit_test(test_nparams_from_parse),
        cmocka_unit_test(test_nul_byte),
        cmocka_unit_test(test_tables_and_refs),
    };
    size_t nfixed = sizeof(fixed) / sizeof(fixed[0]), n = NCASES + nfixed;
    struct CMUnitTest *tests = calloc(n, sizeof(*tests));
    char(*names)[96] = calloc(NCASES, sizeof(*names));
    int rc;

    if (tests == NULL || names == NULL)
        return 1;
    for (size_t i = 0; i < NCASES; i++) {
        snprintf(names[i], sizeof(names[i]), "corpus %03zu: %.70s", i, corpus[i].sql);
        for (char *p = names[i]; *p; p++)
            if (*p == '\n')
                *p = ' ';
        tests[i].name = names[i];
        tests[i].test_func = run_case;
        tests[i].initial_state = (void *)&corpus[i];
    }
    memcpy(tests + NCASES, fixed, sizeof(fixed));
    rc = _cmocka_run_group_tests("shape", tests, n, NULL, teardown);
    free(tests);
    free(names);
    return rc;
}
