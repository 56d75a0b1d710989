/*
 * test_session: pipelined Sync groups, errors in extended query mode, the simple Query
 * and the unnamed statement, Close and Describe.
 *
 * Each test plays one side of a conversation into session_on_startup/on_client/on_server and
 * checks what a transport would see (the action, the exact bytes queued for each side) and what
 * the session believes about the server (state, transaction status, the FIFO of messages owing
 * responses, confirmed statements and portals). Expectations follow PostgreSQL's own behaviour
 * (postgres.c, backend_startup.c, the protocol chapter), not the implementation.
 *
 * FIFO contents are written as one letter per entry: Q simple Query/FunctionCall, P Parse,
 * B Bind, d Describe statement, D Describe portal, E Execute, C Close, S Sync, c copy-end marker.
 */

#include "tests/unit/session_harness.h"
/* ---- pipelined Sync groups -------------------------------------------------------------- */

/*
 * Two groups sent before any response: P B D E S (named statement, unnamed portal) and
 * P B E S (unnamed statement). Each server response must consume the right FIFO entry, and
 * statements and portals exist only once the server confirmed them.
 */
static void
test_pipelined_groups(void **state)
{
    struct fx *f = *state;
    struct session *s = &f->s;
    const uint32_t int4[] = {23};
    fe_parse(&f->in, "stmt1", "SELECT $1::int", 1, int4);
    fe_bind(&f->in, "", "stmt1", 1);
    fe_describe(&f->in, 'P', "");
    fe_execute(&f->in, "", 0);
    fe_sync(&f->in);
    fe_parse(&f->in, "", "SELECT 2", 0, NULL);
    fe_bind(&f->in, "", "", 0);
    fe_execute(&f->in, "", 0);
    fe_sync(&f->in);
    assert_int_equal(client(f), SESSION_CONTINUE);
    assert_fifo(s, "PBDESPBES");
    const struct pending *pp = pending_at(&s->fifo, 0);
    assert_string_equal(pp->name, "stmt1");
    assert_string_equal(pp->sql, "SELECT $1::int");
    assert_int_equal(pp->nparams, 1);
    assert_int_equal(pp->oids[0], 23);
    assert_string_equal(pending_at(&s->fifo, 1)->name, "");
    assert_string_equal(pending_at(&s->fifo, 1)->stmt_name, "stmt1");
    assert_true(pending_at(&s->fifo, 2)->is_portal);
    assert_no_stmt(s, "stmt1");
    assert_no_portal(s, "");
    assert_int_equal(s->stats.executes, 2);
    assert_int_equal(s->stats.syncs, 2);

    fx_empty(&f->in, BE_PARSE_COMPLETE);
    assert_int_equal(server(f), SESSION_CONTINUE);
    assert_fifo(s, "BDESPBES");
    assert_stmt(s, "stmt1", "SELECT $1::int");
    struct prepared *p = prepared_get(&s->stmts, "stmt1");
    assert_int_equal(p->nparams, 1);
    assert_int_equal(p->param_oids[0], 23);
    assert_no_portal(s, "");

    fx_empty(&f->in, BE_BIND_COMPLETE);
    assert_int_equal(server(f), SESSION_CONTINUE);
    assert_fifo(s, "DESPBES");
    assert_portal(s, "", "stmt1");

    be_row_desc(&f->in, "int4");
    assert_int_equal(server(f), SESSION_CONTINUE);
    assert_fifo(s, "ESPBES");

    be_data_row(&f->in, "7");
    assert_int_equal(server(f), SESSION_CONTINUE);
    assert_fifo(s, "ESPBES");
    be_command_complete(&f->in, "SELECT 1");
    assert_int_equal(server(f), SESSION_CONTINUE);
    assert_fifo(s, "SPBES");

    be_ready(&f->in, 'I');
    assert_int_equal(server(f), SESSION_CONTINUE);
    assert_fifo(s, "PBES");
    assert_int_equal(s->txn_status, 'I');
    assert_no_portal(s, ""); /* the implicit transaction ended: portals with it */
    assert_stmt(s, "stmt1", "SELECT $1::int");
    assert_no_stmt(s, "");

    fx_empty(&f->in, BE_PARSE_COMPLETE);
    assert_int_equal(server(f), SESSION_CONTINUE);
    assert_fifo(s, "BES");
    assert_stmt(s, "", "SELECT 2");
    fx_empty(&f->in, BE_BIND_COMPLETE);
    be_data_row(&f->in, "2");
    assert_int_equal(server(f), SESSION_CONTINUE);
    assert_fifo(s, "ES");
    assert_portal(s, "", "");
    be_command_complete(&f->in, "SELECT 1");
    assert_int_equal(server(f), SESSION_CONTINUE);
    assert_fifo(s, "S");

    be_ready(&f->in, 'T'); /* inside a transaction block: portals survive the Sync */
    assert_int_equal(server(f), SESSION_CONTINUE);
    assert_fifo(s, "");
    assert_int_equal(s->txn_status, 'T');
    assert_portal(s, "", "");
    assert_stmt(s, "stmt1", "SELECT $1::int");
}

/* Flush owes nothing; a PortalSuspended completes one Execute and the next resumes. */
static void
test_flush_and_portal_suspended(void **state)
{
    struct fx *f = *state;
    struct session *s = &f->s;
    simple_query(f, "BEGIN", "BEGIN", 'T');
    fe_parse(&f->in, "", "SELECT generate_series(1,3)", 0, NULL);
    fe_bind(&f->in, "cur", "", 0);
    fe_execute(&f->in, "cur", 2);
    fe_flush(&f->in);
    assert_int_equal(client(f), SESSION_CONTINUE);
    assert_fifo(s, "PBE");
    fx_empty(&f->in, BE_PARSE_COMPLETE);
    fx_empty(&f->in, BE_BIND_COMPLETE);
    be_data_row(&f->in, "1");
    be_data_row(&f->in, "2");
    fx_empty(&f->in, BE_PORTAL_SUSPENDED);
    assert_int_equal(server(f), SESSION_CONTINUE);
    assert_fifo(s, "");
    assert_portal(s, "cur", "");

    fe_execute(&f->in, "cur", 2);
    fe_sync(&f->in);
    assert_int_equal(client(f), SESSION_CONTINUE);
    be_data_row(&f->in, "3");
    be_command_complete(&f->in, "SELECT 1");
    assert_int_equal(server(f), SESSION_CONTINUE);
    assert_fifo(s, "S");
    be_ready(&f->in, 'T');
    assert_int_equal(server(f), SESSION_CONTINUE);
    assert_fifo(s, "");
    assert_portal(s, "cur", "");

    simple_query(f, "COMMIT", "COMMIT", 'I');
    assert_no_portal(s, "cur");
}

/* Execute of an empty statement answers EmptyQueryResponse, which completes it. */
static void
test_execute_empty_query(void **state)
{
    struct fx *f = *state;
    fe_parse(&f->in, "", "", 0, NULL);
    fe_bind(&f->in, "", "", 0);
    fe_execute(&f->in, "", 0);
    fe_sync(&f->in);
    assert_int_equal(client(f), SESSION_CONTINUE);
    fx_empty(&f->in, BE_PARSE_COMPLETE);
    fx_empty(&f->in, BE_BIND_COMPLETE);
    fx_empty(&f->in, BE_EMPTY_QUERY);
    assert_int_equal(server(f), SESSION_CONTINUE);
    assert_fifo(&f->s, "S");
    be_ready(&f->in, 'I');
    assert_int_equal(server(f), SESSION_CONTINUE);
    assert_fifo(&f->s, "");
}

/* ---- errors in extended query mode ------------------------------------------------------ */

/* Execute fails: the rest of its group is skipped, the next group proceeds normally. */
static void
test_error_mid_group(void **state)
{
    struct fx *f = *state;
    struct session *s = &f->s;
    fe_parse(&f->in, "s1", "INSERT INTO t VALUES (1)", 0, NULL);
    fe_bind(&f->in, "", "s1", 0);
    fe_execute(&f->in, "", 0);
    fe_describe(&f->in, 'S', "s1"); /* after the failing Execute: skipped by the server */
    fe_close(&f->in, 'S', "s1");     /* skipped too: s1 must survive */
    fe_sync(&f->in);
    fe_parse(&f->in, "s2", "SELECT 1", 0, NULL);
    fe_bind(&f->in, "", "s2", 0);
    fe_execute(&f->in, "", 0);
    fe_sync(&f->in);
    assert_int_equal(client(f), SESSION_CONTINUE);
    assert_fifo(s, "PBEdCSPBES");

    fx_empty(&f->in, BE_PARSE_COMPLETE);
    fx_empty(&f->in, BE_BIND_COMPLETE);
    assert_int_equal(server(f), SESSION_CONTINUE);
    assert_fifo(s, "EdCSPBES");
    be_error(&f->in, "23505", "duplicate key value violates unique constraint");
    assert_int_equal(server(f), SESSION_CONTINUE);
    assert_fifo(s, "SPBES");
    assert_false(s->fifo.skipping);
    be_ready(&f->in, 'I');
    assert_int_equal(server(f), SESSION_CONTINUE);
    assert_fifo(s, "PBES");
    assert_stmt(s, "s1", "INSERT INTO t VALUES (1)");

    fx_empty(&f->in, BE_PARSE_COMPLETE);
    fx_empty(&f->in, BE_BIND_COMPLETE);
    be_data_row(&f->in, "1");
    be_command_complete(&f->in, "SELECT 1");
    be_ready(&f->in, 'I');
    assert_int_equal(server(f), SESSION_CONTINUE);
    assert_fifo(s, "");
    assert_stmt(s, "s2", "SELECT 1");
    assert_stmt(s, "s1", "INSERT INTO t VALUES (1)");
}

/* A failed named Parse creates nothing; the group's Bind and Execute are skipped. */
static void
test_error_on_named_parse(void **state)
{
    struct fx *f = *state;
    fe_parse(&f->in, "bad", "SELEKT 1", 0, NULL);
    fe_bind(&f->in, "", "bad", 0);
    fe_execute(&f->in, "", 0);
    fe_sync(&f->in);
    assert_int_equal(client(f), SESSION_CONTINUE);
    be_error(&f->in, "42601", "syntax error at or near \"SELEKT\"");
    assert_int_equal(server(f), SESSION_CONTINUE);
    assert_fifo(&f->s, "S");
    be_ready(&f->in, 'I');
    assert_int_equal(server(f), SESSION_CONTINUE);
    assert_fifo(&f->s, "");
    assert_no_stmt(&f->s, "bad");
    assert_no_portal(&f->s, "");
}

/*
 * The error arrives before the client sent Sync: the server now discards everything up to
 * the next Sync, including messages the client sends after seeing the error, so none of them
 * may be expected to answer; the Sync itself is answered and the next group is normal.
 */
static void
test_error_then_client_continues_until_sync(void **state)
{
    struct fx *f = *state;
    struct session *s = &f->s;
    fe_parse(&f->in, "", "SELECT 1/0", 0, NULL);
    fe_bind(&f->in, "", "", 0);
    fe_execute(&f->in, "", 0);
    fe_flush(&f->in);
    assert_int_equal(client(f), SESSION_CONTINUE);
    assert_fifo(s, "PBE");
    fx_empty(&f->in, BE_PARSE_COMPLETE);
    fx_empty(&f->in, BE_BIND_COMPLETE);
    be_error(&f->in, "22012", "division by zero");
    assert_int_equal(server(f), SESSION_CONTINUE);
    assert_fifo(s, "");
    assert_true(s->fifo.skipping);

    /* All forwarded (the server must see them to skip them), none tracked. */
    fe_parse(&f->in, "s3", "SELECT 3", 0, NULL);
    fe_bind(&f->in, "p3", "s3", 0);
    fe_describe(&f->in, 'P', "p3");
    fe_execute(&f->in, "p3", 0);
    fe_close(&f->in, 'S', "");
    fe_query(&f->in, "SELECT 4"); /* a simple Query is skipped too (postgres.c ignore_till_sync) */
    fe_flush(&f->in);
    assert_int_equal(client(f), SESSION_CONTINUE);
    assert_fifo(s, "");
    assert_true(s->fifo.skipping);

    fe_sync(&f->in);
    assert_int_equal(client(f), SESSION_CONTINUE);
    assert_fifo(s, "S");
    assert_false(s->fifo.skipping);
    be_ready(&f->in, 'I');
    assert_int_equal(server(f), SESSION_CONTINUE);
    assert_fifo(s, "");
    assert_no_stmt(s, "s3");
    assert_stmt(s, "", "SELECT 1/0"); /* parsed fine; only its execution failed */

    fe_parse(&f->in, "s4", "SELECT 4", 0, NULL);
    fe_sync(&f->in);
    assert_int_equal(client(f), SESSION_CONTINUE);
    assert_fifo(s, "PS");
    fx_empty(&f->in, BE_PARSE_COMPLETE);
    be_ready(&f->in, 'I');
    assert_int_equal(server(f), SESSION_CONTINUE);
    assert_fifo(s, "");
    assert_stmt(s, "s4", "SELECT 4");
}

/* An error reported while processing Sync itself (commit failure) starts no skipping. */
static void
test_error_at_sync(void **state)
{
    struct fx *f = *state;
    fe_parse(&f->in, "", "INSERT INTO deferred VALUES (1)", 0, NULL);
    fe_bind(&f->in, "", "", 0);
    fe_execute(&f->in, "", 0);
    fe_sync(&f->in);
    assert_int_equal(client(f), SESSION_CONTINUE);
    fx_empty(&f->in, BE_PARSE_COMPLETE);
    fx_empty(&f->in, BE_BIND_COMPLETE);
    be_command_complete(&f->in, "INSERT 0 1");
    be_error(&f->in, "23503", "insert or update violates foreign key constraint");
    assert_int_equal(server(f), SESSION_CONTINUE);
    assert_fifo(&f->s, "S");
    assert_false(f->s.fifo.skipping);
    be_ready(&f->in, 'I');
    assert_int_equal(server(f), SESSION_CONTINUE);
    assert_fifo(&f->s, "");
    fe_query(&f->in, "SELECT 1");
    assert_int_equal(client(f), SESSION_CONTINUE);
    assert_fifo(&f->s, "Q");
}

/* ---- simple Query and the unnamed statement --------------------------------------------- */

/* Give the session a confirmed unnamed statement, unnamed portal and named "keep". */
static void
make_unnamed(struct fx *f)
{
    fe_parse(&f->in, "keep", "SELECT 0", 0, NULL);
    fe_parse(&f->in, "", "SELECT 1", 0, NULL);
    fe_bind(&f->in, "", "", 0);
    fe_sync(&f->in);
    assert_int_equal(client(f), SESSION_CONTINUE);
    fx_empty(&f->in, BE_PARSE_COMPLETE);
    fx_empty(&f->in, BE_PARSE_COMPLETE);
    fx_empty(&f->in, BE_BIND_COMPLETE);
    be_ready(&f->in, f->s.txn_status);
    assert_int_equal(server(f), SESSION_CONTINUE);
    assert_stmt(&f->s, "", "SELECT 1");
    assert_stmt(&f->s, "keep", "SELECT 0");
}

/* exec_simple_query drops the unnamed statement and replaces the unnamed portal. */
static void
test_simple_query_drops_unnamed(void **state)
{
    struct fx *f = *state;
    struct session *s = &f->s;
    simple_query(f, "BEGIN", "BEGIN", 'T');
    make_unnamed(f);
    assert_portal(s, "", "");

    fe_query(&f->in, "SELECT 2");
    assert_int_equal(client(f), SESSION_CONTINUE);
    assert_fifo(s, "Q");
    assert_int_equal(s->stats.queries, 2);
    be_row_desc(&f->in, "?column?");
    be_data_row(&f->in, "2");
    be_command_complete(&f->in, "SELECT 1");
    assert_int_equal(server(f), SESSION_CONTINUE);
    assert_fifo(s, "Q");
    assert_stmt(s, "", "SELECT 1"); /* not yet: the effect lands with ReadyForQuery */
    be_ready(&f->in, 'T');
    assert_int_equal(server(f), SESSION_CONTINUE);
    assert_fifo(s, "");
    assert_no_stmt(s, "");
    assert_no_portal(s, "");
    assert_stmt(s, "keep", "SELECT 0");
}

/* A simple Query that fails still dropped the unnamed statement before parsing. */
static void
test_failed_simple_query_drops_unnamed(void **state)
{
    struct fx *f = *state;
    make_unnamed(f);
    fe_query(&f->in, "SELEKT");
    assert_int_equal(client(f), SESSION_CONTINUE);
    be_error(&f->in, "42601", "syntax error");
    assert_int_equal(server(f), SESSION_CONTINUE);
    assert_fifo(&f->s, "Q");
    be_ready(&f->in, 'I');
    assert_int_equal(server(f), SESSION_CONTINUE);
    assert_fifo(&f->s, "");
    assert_no_stmt(&f->s, "");
    assert_stmt(&f->s, "keep", "SELECT 0");
}

/* exec_parse_message drops the old unnamed statement before parsing the new one. */
static void
test_failed_unnamed_parse_drops_previous(void **state)
{
    struct fx *f = *state;
    make_unnamed(f);
    fe_parse(&f->in, "", "SELEKT", 0, NULL);
    fe_sync(&f->in);
    assert_int_equal(client(f), SESSION_CONTINUE);
    be_error(&f->in, "42601", "syntax error");
    assert_int_equal(server(f), SESSION_CONTINUE);
    assert_fifo(&f->s, "S");
    assert_no_stmt(&f->s, "");
    be_ready(&f->in, 'I');
    assert_int_equal(server(f), SESSION_CONTINUE);
    assert_no_stmt(&f->s, "");
    assert_stmt(&f->s, "keep", "SELECT 0");
}

/* An unnamed Parse the server skipped (an earlier message failed) leaves it in place. */
static void
test_skipped_unnamed_parse_keeps_previous(void **state)
{
    struct fx *f = *state;
    make_unnamed(f);
    fe_bind(&f->in, "", "nosuch", 0);
    fe_parse(&f->in, "", "SELECT 3", 0, NULL);
    fe_sync(&f->in);
    assert_int_equal(client(f), SESSION_CONTINUE);
    assert_fifo(&f->s, "BPS");
    be_error(&f->in, "26000", "prepared statement \"nosuch\" does not exist");
    be_ready(&f->in, 'I');
    assert_int_equal(server(f), SESSION_CONTINUE);
    assert_fifo(&f->s, "");
    assert_stmt(&f->s, "", "SELECT 1");
}

/* A failed named Parse (duplicate name) keeps the existing statement and the unnamed one. */
static void
test_failed_named_parse_keeps_existing(void **state)
{
    struct fx *f = *state;
    make_unnamed(f);
    fe_parse(&f->in, "keep", "SELECT 99", 0, NULL);
    fe_sync(&f->in);
    assert_int_equal(client(f), SESSION_CONTINUE);
    be_error(&f->in, "42P05", "prepared statement \"keep\" already exists");
    be_ready(&f->in, 'I');
    assert_int_equal(server(f), SESSION_CONTINUE);
    assert_stmt(&f->s, "keep", "SELECT 0");
    assert_stmt(&f->s, "", "SELECT 1");
}

/*
 * FunctionCall is not a simple Query: HandleFunctionRequest does not call drop_unnamed_stmt,
 * so the unnamed statement (and, inside a transaction block, the unnamed portal) survive it.
 * libpq's large-object API (lo_open, loread, ...) uses FunctionCall between extended queries.
 */
static void
test_function_call_keeps_unnamed(void **state)
{
    struct fx *f = *state;
    struct session *s = &f->s;
    simple_query(f, "BEGIN", "BEGIN", 'T');
    make_unnamed(f);
    fe_function_call(&f->in, 952); /* lo_open */
    assert_int_equal(client(f), SESSION_CONTINUE);
    assert_fifo(s, "Q");
    be_function_result(&f->in, "0");
    be_ready(&f->in, 'T');
    assert_int_equal(server(f), SESSION_CONTINUE);
    assert_fifo(s, "");
    assert_stmt(s, "", "SELECT 1");
    assert_portal(s, "", "");
}

/* ---- Close and Describe ----------------------------------------------------------------- */

static void
test_close_statement_and_portal(void **state)
{
    struct fx *f = *state;
    struct session *s = &f->s;
    simple_query(f, "BEGIN", "BEGIN", 'T');
    fe_parse(&f->in, "s1", "SELECT 1", 0, NULL);
    fe_bind(&f->in, "p1", "s1", 0);
    fe_sync(&f->in);
    assert_int_equal(client(f), SESSION_CONTINUE);
    fx_empty(&f->in, BE_PARSE_COMPLETE);
    fx_empty(&f->in, BE_BIND_COMPLETE);
    be_ready(&f->in, 'T');
    assert_int_equal(server(f), SESSION_CONTINUE);
    assert_stmt(s, "s1", "SELECT 1");
    assert_portal(s, "p1", "s1");

    fe_close(&f->in, 'S', "s1");
    fe_close(&f->in, 'P', "p1");
    fe_close(&f->in, 'S', "never-existed"); /* not an error in PostgreSQL */
    fe_sync(&f->in);
    assert_int_equal(client(f), SESSION_CONTINUE);
    assert_fifo(s, "CCCS");
    assert_stmt(s, "s1", "SELECT 1"); /* closed only once the server says so */

    fx_empty(&f->in, BE_CLOSE_COMPLETE);
    assert_int_equal(server(f), SESSION_CONTINUE);
    assert_fifo(s, "CCS");
    assert_no_stmt(s, "s1");
    /*
     * The portal survives: since the plan cache (8.4), DropPreparedStatement only releases the
     * statement's CachedPlanSource and the portal holds its own plan and query text. (The
     * protocol chapter's "closing a statement closes its portals" predates that.)
     */
    assert_portal(s, "p1", "s1");

    fx_empty(&f->in, BE_CLOSE_COMPLETE);
    assert_int_equal(server(f), SESSION_CONTINUE);
    assert_fifo(s, "CS");
    assert_no_portal(s, "p1");

    fx_empty(&f->in, BE_CLOSE_COMPLETE);
    be_ready(&f->in, 'T');
    assert_int_equal(server(f), SESSION_CONTINUE);
    assert_fifo(s, "");
}

struct describe_case {
    const char *name;
    uint8_t what;      /* 'S' or 'P' */
    bool param_desc;   /* the server sends ParameterDescription first ('S' only) */
    bool row_desc;     /* RowDescription; otherwise NoData */
};

static const struct describe_case describe_cases[] = {
    {"statement returning rows", 'S', true, true},
    {"statement returning nothing", 'S', true, false},
    {"portal returning rows", 'P', false, true},
    {"portal returning nothing", 'P', false, false},
};

/* Describe owes ParameterDescription (statements) then RowDescription or NoData. */
static void
test_describe(void **state)
{
    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(describe_cases); i++) {
        const struct describe_case *dc = &describe_cases[i];
        void *st;
        setup_ready(&st);
        struct fx *f = st;
        struct session *s = &f->s;
        const uint32_t int4[] = {23};
        fe_parse(&f->in, "s1", "SELECT $1", 1, int4);
        fe_bind(&f->in, "", "s1", 1);
        fe_describe(&f->in, dc->what, dc->what == 'S' ? "s1" : "");
        fe_sync(&f->in);
        assert_int_equal(client(f), SESSION_CONTINUE);
        fx_empty(&f->in, BE_PARSE_COMPLETE);
        fx_empty(&f->in, BE_BIND_COMPLETE);
        assert_int_equal(server(f), SESSION_CONTINUE);
        assert_fifo(s, dc->what == 'S' ? "dS" : "DS");
        if (dc->param_desc) {
            be_param_desc(&f->in, 23);
            assert_int_equal(server(f), SESSION_CONTINUE);
            assert_fifo(s, "dS"); /* still owes the row shape */
        }
        if (dc->row_desc)
            be_row_desc(&f->in, "x");
        else
            fx_empty(&f->in, BE_NO_DATA);
        assert_int_equal(server(f), SESSION_CONTINUE);
        assert_fifo(s, "S");
        be_ready(&f->in, 'I');
        assert_int_equal(server(f), SESSION_CONTINUE);
        assert_fifo(s, "");
        teardown(&st);
    }
}

int
main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
#define R(f) cmocka_unit_test_setup_teardown(f, setup_ready, teardown)
    const struct CMUnitTest tests[] = {
        R(test_pipelined_groups),
        R(test_flush_and_portal_suspended),
        R(test_execute_empty_query),
        R(test_error_mid_group),
        R(test_error_on_named_parse),
        R(test_error_then_client_continues_until_sync),
        R(test_error_at_sync),
        R(test_simple_query_drops_unnamed),
        R(test_failed_simple_query_drops_unnamed),
        R(test_failed_unnamed_parse_drops_previous),
        R(test_skipped_unnamed_parse_keeps_previous),
        R(test_failed_named_parse_keeps_existing),
        R(test_function_call_keeps_unnamed),
        R(test_close_statement_and_portal),
        cmocka_unit_test(test_describe),
    };
#undef T
#undef R
    return cmocka_run_group_tests(tests, NULL, NULL);
}
