/*
 * test_session_copy: COPY in, out and both, asynchronous messages, bad client input, and
 * the pending FIFO ring.
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
/* ---- COPY --------------------------------------------------------------------------------- */

static void
test_copy_in_simple_query(void **state)
{
    struct fx *f = *state;
    struct session *s = &f->s;
    fe_query(&f->in, "COPY t FROM STDIN");
    assert_int_equal(client(f), SESSION_CONTINUE);
    be_copy_response(&f->in, BE_COPY_IN, 2);
    assert_int_equal(server(f), SESSION_CONTINUE);
    assert_true(s->copy_in);
    assert_fifo(s, "Q");

    fx_copy_data(&f->in, "1\ta\n");
    fx_copy_data(&f->in, "2\tb\n");
    fe_flush(&f->in); /* ignored by the server during copy-in */
    fe_sync(&f->in);  /* likewise */
    assert_int_equal(client(f), SESSION_CONTINUE);
    assert_fifo(s, "Q");
    assert_true(s->copy_in);
    fx_copy_done(&f->in);
    assert_int_equal(client(f), SESSION_CONTINUE);
    assert_false(s->copy_in);
    assert_fifo(s, "Q");

    be_command_complete(&f->in, "COPY 2");
    assert_int_equal(server(f), SESSION_CONTINUE);
    assert_fifo(s, "Q");
    be_ready(&f->in, 'I');
    assert_int_equal(server(f), SESSION_CONTINUE);
    assert_fifo(s, "");
}

/* CopyFail in simple mode: ErrorResponse, then ReadyForQuery for the Query. */
static void
test_copy_in_fail_simple_query(void **state)
{
    struct fx *f = *state;
    fe_query(&f->in, "COPY t FROM STDIN");
    assert_int_equal(client(f), SESSION_CONTINUE);
    be_copy_response(&f->in, BE_COPY_IN, 1);
    assert_int_equal(server(f), SESSION_CONTINUE);
    fx_copy_data(&f->in, "1\n");
    fe_copy_fail(&f->in, "client gave up");
    assert_int_equal(client(f), SESSION_CONTINUE);
    assert_false(f->s.copy_in);
    be_error(&f->in, "57014", "COPY from stdin failed: client gave up");
    assert_int_equal(server(f), SESSION_CONTINUE);
    assert_fifo(&f->s, "Q");
    be_ready(&f->in, 'I');
    assert_int_equal(server(f), SESSION_CONTINUE);
    assert_fifo(&f->s, "");
}

/*
 * Extended COPY FROM STDIN as libpq sends it: P B E S before the CopyInResponse arrives. The
 * server ignores that Sync during copy-in, so it must leave the FIFO; the Sync libpq sends
 * after CopyDone is the one that produces ReadyForQuery.
 */
static void
test_copy_in_extended_sync_before_copy_in(void **state)
{
    struct fx *f = *state;
    struct session *s = &f->s;
    fe_parse(&f->in, "", "COPY t FROM STDIN", 0, NULL);
    fe_bind(&f->in, "", "", 0);
    fe_execute(&f->in, "", 0);
    fe_sync(&f->in);
    assert_int_equal(client(f), SESSION_CONTINUE);
    assert_fifo(s, "PBES");
    fx_empty(&f->in, BE_PARSE_COMPLETE);
    fx_empty(&f->in, BE_BIND_COMPLETE);
    assert_int_equal(server(f), SESSION_CONTINUE);
    assert_fifo(s, "ES");
    be_copy_response(&f->in, BE_COPY_IN, 1);
    assert_int_equal(server(f), SESSION_CONTINUE);
    assert_fifo(s, "E");
    assert_true(s->copy_in);

    fx_copy_data(&f->in, "1\n");
    fx_copy_data(&f->in, "2\n");
    fx_copy_done(&f->in);
    fe_sync(&f->in);
    assert_int_equal(client(f), SESSION_CONTINUE);
    assert_false(s->copy_in);
    assert_fifo(s, "ES");

    be_command_complete(&f->in, "COPY 2");
    assert_int_equal(server(f), SESSION_CONTINUE);
    assert_fifo(s, "S");
    be_ready(&f->in, 'I');
    assert_int_equal(server(f), SESSION_CONTINUE);
    assert_fifo(s, "");
    assert_false(s->fifo.skipping);
}

/* The whole extended COPY pipelined before any response: P B E S d c S. */
static void
test_copy_in_extended_fully_pipelined(void **state)
{
    struct fx *f = *state;
    struct session *s = &f->s;
    fe_parse(&f->in, "", "COPY t FROM STDIN", 0, NULL);
    fe_bind(&f->in, "", "", 0);
    fe_execute(&f->in, "", 0);
    fe_sync(&f->in);
    fx_copy_data(&f->in, "1\n");
    fx_copy_done(&f->in);
    fe_sync(&f->in);
    assert_int_equal(client(f), SESSION_CONTINUE);
    assert_fifo(s, "PBEScS");

    fx_empty(&f->in, BE_PARSE_COMPLETE);
    fx_empty(&f->in, BE_BIND_COMPLETE);
    be_copy_response(&f->in, BE_COPY_IN, 1);
    assert_int_equal(server(f), SESSION_CONTINUE);
    assert_fifo(s, "ES");
    assert_false(s->copy_in); /* the client already ended it */
    be_command_complete(&f->in, "COPY 1");
    be_ready(&f->in, 'I');
    assert_int_equal(server(f), SESSION_CONTINUE);
    assert_fifo(s, "");
}

/* COPY FROM fails before CopyInResponse: the pipelined CopyDone is ignored by the server. */
static void
test_copy_in_extended_fails_before_copy(void **state)
{
    struct fx *f = *state;
    struct session *s = &f->s;
    fe_parse(&f->in, "", "COPY nosuch FROM STDIN", 0, NULL);
    fe_bind(&f->in, "", "", 0);
    fe_execute(&f->in, "", 0);
    fe_sync(&f->in);
    fx_copy_data(&f->in, "1\n");
    fx_copy_done(&f->in);
    fe_sync(&f->in);
    assert_int_equal(client(f), SESSION_CONTINUE);
    assert_fifo(s, "PBEScS");
    fx_empty(&f->in, BE_PARSE_COMPLETE);
    fx_empty(&f->in, BE_BIND_COMPLETE);
    be_error(&f->in, "42P01", "relation \"nosuch\" does not exist");
    assert_int_equal(server(f), SESSION_CONTINUE);
    assert_fifo(s, "ScS");
    be_ready(&f->in, 'I');
    assert_int_equal(server(f), SESSION_CONTINUE);
    assert_fifo(s, "S");
    be_ready(&f->in, 'I');
    assert_int_equal(server(f), SESSION_CONTINUE);
    assert_fifo(s, "");
}

/* Bad data during extended copy-in: the server skips to the client's next Sync. */
static void
test_copy_in_extended_error_during_copy(void **state)
{
    struct fx *f = *state;
    struct session *s = &f->s;
    fe_parse(&f->in, "", "COPY t FROM STDIN", 0, NULL);
    fe_bind(&f->in, "", "", 0);
    fe_execute(&f->in, "", 0);
    fe_sync(&f->in);
    assert_int_equal(client(f), SESSION_CONTINUE);
    fx_empty(&f->in, BE_PARSE_COMPLETE);
    fx_empty(&f->in, BE_BIND_COMPLETE);
    be_copy_response(&f->in, BE_COPY_IN, 1);
    assert_int_equal(server(f), SESSION_CONTINUE);
    fx_copy_data(&f->in, "not a number\n");
    assert_int_equal(client(f), SESSION_CONTINUE);
    be_error(&f->in, "22P02", "invalid input syntax for type integer");
    assert_int_equal(server(f), SESSION_CONTINUE);
    assert_false(s->copy_in);
    assert_fifo(s, "");
    assert_true(s->fifo.skipping);
    fx_copy_data(&f->in, "2\n"); /* still in flight when the error arrived */
    fx_copy_done(&f->in);
    fe_sync(&f->in);
    assert_int_equal(client(f), SESSION_CONTINUE);
    assert_fifo(s, "S");
    be_ready(&f->in, 'I');
    assert_int_equal(server(f), SESSION_CONTINUE);
    assert_fifo(s, "");
}

static void
test_copy_out_simple_query(void **state)
{
    struct fx *f = *state;
    struct session *s = &f->s;
    fe_query(&f->in, "COPY t TO STDOUT");
    assert_int_equal(client(f), SESSION_CONTINUE);
    be_copy_response(&f->in, BE_COPY_OUT, 2);
    assert_int_equal(server(f), SESSION_CONTINUE);
    assert_true(s->copy_out);
    fx_copy_data(&f->in, "1\ta\n");
    be_notice(&f->in, "in the middle of a copy");
    fx_copy_data(&f->in, "2\tb\n");
    fx_copy_done(&f->in);
    assert_int_equal(server(f), SESSION_CONTINUE);
    assert_true(s->copy_out);
    assert_fifo(s, "Q");
    be_command_complete(&f->in, "COPY 2");
    assert_int_equal(server(f), SESSION_CONTINUE);
    assert_false(s->copy_out);
    assert_fifo(s, "Q");
    be_ready(&f->in, 'I');
    assert_int_equal(server(f), SESSION_CONTINUE);
    assert_fifo(s, "");
}

static void
test_copy_out_extended(void **state)
{
    struct fx *f = *state;
    struct session *s = &f->s;
    fe_parse(&f->in, "", "COPY t TO STDOUT", 0, NULL);
    fe_bind(&f->in, "", "", 0);
    fe_execute(&f->in, "", 0);
    fe_sync(&f->in);
    assert_int_equal(client(f), SESSION_CONTINUE);
    fx_empty(&f->in, BE_PARSE_COMPLETE);
    fx_empty(&f->in, BE_BIND_COMPLETE);
    be_copy_response(&f->in, BE_COPY_OUT, 1);
    fx_copy_data(&f->in, "1\n");
    fx_copy_done(&f->in);
    assert_int_equal(server(f), SESSION_CONTINUE);
    assert_fifo(s, "ES"); /* the Sync is not ignored: this is copy-out */
    be_command_complete(&f->in, "COPY 1");
    assert_int_equal(server(f), SESSION_CONTINUE);
    assert_fifo(s, "S");
    be_ready(&f->in, 'I');
    assert_int_equal(server(f), SESSION_CONTINUE);
    assert_fifo(s, "");
}

/* An ErrorResponse in the middle of copy-out ends it; the Query still owes its Z. */
static void
test_copy_out_error(void **state)
{
    struct fx *f = *state;
    fe_query(&f->in, "COPY (SELECT 1/(3-i) FROM generate_series(1,5) i) TO STDOUT");
    assert_int_equal(client(f), SESSION_CONTINUE);
    be_copy_response(&f->in, BE_COPY_OUT, 1);
    fx_copy_data(&f->in, "0\n");
    be_error(&f->in, "22012", "division by zero");
    assert_int_equal(server(f), SESSION_CONTINUE);
    assert_false(f->s.copy_out);
    assert_fifo(&f->s, "Q");
    be_ready(&f->in, 'I');
    assert_int_equal(server(f), SESSION_CONTINUE);
    assert_fifo(&f->s, "");
}

/*
 * CopyData, CopyDone and CopyFail outside COPY are accepted and ignored by PostgreSQL
 * (postgres.c: "Accept but ignore these messages"): forwarded, and they owe nothing.
 */
static void
test_stray_copy_messages(void **state)
{
    struct fx *f = *state;
    struct session *s = &f->s;
    fx_copy_data(&f->in, "late data");
    fx_copy_done(&f->in);
    fe_copy_fail(&f->in, "late");
    assert_int_equal(client(f), SESSION_CONTINUE);
    assert_fifo(s, "");
    assert_false(s->copy_in);

    /* Behind a pending Query: a marker that goes when the Query completes. */
    fe_query(&f->in, "SELECT 1");
    fx_copy_done(&f->in);
    fe_query(&f->in, "SELECT 2");
    assert_int_equal(client(f), SESSION_CONTINUE);
    assert_fifo(s, "QcQ");
    be_command_complete(&f->in, "SELECT 1");
    be_ready(&f->in, 'I');
    assert_int_equal(server(f), SESSION_CONTINUE);
    assert_fifo(s, "Q");
    be_command_complete(&f->in, "SELECT 1");
    be_ready(&f->in, 'I');
    assert_int_equal(server(f), SESSION_CONTINUE);
    assert_fifo(s, "");
}

/*
 * A CopyInResponse with nothing pending (a confused or hostile server) is relayed and changes
 * nothing but copy-in; the FIFO stays empty (found by fuzz_session: it used to make up an
 * entry, and the next ReadyForQuery read it from an array never allocated).
 */
static void
test_copy_in_nothing_pending(void **state)
{
    struct fx *f = *state;
    struct session *s = &f->s;
    be_copy_response(&f->in, BE_COPY_IN, 1);
    assert_int_equal(server(f), SESSION_CONTINUE);
    assert_fifo(s, "");
    assert_true(s->copy_in);
    be_ready(&f->in, 'I');
    assert_int_equal(server(f), SESSION_CONTINUE);
    assert_fifo(s, "");
    simple_query(f, "SELECT 1", "SELECT 1", 'I');
}

/* CopyBothResponse (replication): from then on every byte is relayed, nothing tracked. */
static void
test_copy_both(void **state)
{
    struct fx *f = *state;
    struct session *s = &f->s;
    fe_query(&f->in, "START_REPLICATION SLOT s LOGICAL 0/0");
    assert_int_equal(client(f), SESSION_CONTINUE);
    be_copy_response(&f->in, BE_COPY_BOTH, 0);
    assert_int_equal(server(f), SESSION_CONTINUE);
    assert_int_equal(s->state, SESSION_COPY_BOTH);

    fx_copy_data(&f->in, "w-xlogdata");
    fx_copy_data(&f->in, "k-keepalive");
    be_ready(&f->in, 'E'); /* not tracked in this state */
    assert_int_equal(server(f), SESSION_CONTINUE);
    assert_int_equal(s->txn_status, 'I');
    fx_copy_data(&f->in, "r-standby-status");
    fx_raw(&f->in, 'z', BYTES("anything")); /* relay only: no validation either */
    fx_copy_done(&f->in);
    assert_int_equal(client(f), SESSION_CONTINUE);
    assert_int_equal(s->state, SESSION_COPY_BOTH);
    assert_fifo(s, "Q");
    fe_terminate(&f->in);
    assert_int_equal(client(f), SESSION_CLOSE);
}

/* ---- asynchronous messages ---------------------------------------------------------------- */

struct async_case {
    const char *name;
    void (*build)(struct buf *);
};

static void
async_notification(struct buf *b)
{
    be_notification(b, 777, "jobs", "{\"id\": 1}");
}

static void
async_notice(struct buf *b)
{
    be_notice(b, "there is no transaction in progress");
}

static void
async_param_status(struct buf *b)
{
    be_param_status(b, "TimeZone", "Europe/Paris");
}

static const struct async_case async_cases[] = {
    {"NotificationResponse", async_notification},
    {"NoticeResponse", async_notice},
    {"ParameterStatus", async_param_status},
};

/*
 * An asynchronous message before every response of a pipelined group, and after the group:
 * each is forwarded unchanged and none consumes a FIFO entry or changes the tables.
 */
static void
test_async_messages_mid_group(void **state)
{
    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(async_cases); i++) {
        const struct async_case *ac = &async_cases[i];
        void *st;
        setup_ready(&st);
        struct fx *f = st;
        struct session *s = &f->s;
        fe_parse(&f->in, "s1", "SELECT 1", 0, NULL);
        fe_bind(&f->in, "", "s1", 0);
        fe_execute(&f->in, "", 0);
        fe_sync(&f->in);
        assert_int_equal(client(f), SESSION_CONTINUE);
        static const char *const after[] = {"BES", "ES", "ES", "S", ""};
        for (int step = 0; step < 5; step++) {
            const char *before = step == 0 ? "PBES" : after[step - 1];
            ac->build(&f->in);
            assert_int_equal(server(f), SESSION_CONTINUE);
            assert_fifo(s, before);
            switch (step) {
            case 0:
                fx_empty(&f->in, BE_PARSE_COMPLETE);
                break;
            case 1:
                fx_empty(&f->in, BE_BIND_COMPLETE);
                break;
            case 2:
                be_data_row(&f->in, "1");
                break;
            case 3:
                be_command_complete(&f->in, "SELECT 1");
                break;
            case 4:
                be_ready(&f->in, 'I');
                break;
            }
            assert_int_equal(server(f), SESSION_CONTINUE);
            assert_fifo(s, after[step]);
        }
        ac->build(&f->in); /* and while idle */
        assert_int_equal(server(f), SESSION_CONTINUE);
        assert_fifo(s, "");
        assert_stmt(s, "s1", "SELECT 1");
        assert_int_equal(s->state, SESSION_READY);
        assert_int_equal(s->txn_status, 'I');
        teardown(&st);
    }
}

/* A NOTIFY delivered between the statements of a simple Query, and a Notice in a group. */
static void
test_async_in_simple_query(void **state)
{
    struct fx *f = *state;
    fe_query(&f->in, "LISTEN jobs; SELECT 1");
    assert_int_equal(client(f), SESSION_CONTINUE);
    be_command_complete(&f->in, "LISTEN");
    be_notification(&f->in, 1, "jobs", "");
    be_row_desc(&f->in, "?column?");
    be_notice(&f->in, "hello");
    be_data_row(&f->in, "1");
    be_command_complete(&f->in, "SELECT 1");
    assert_int_equal(server(f), SESSION_CONTINUE);
    assert_fifo(&f->s, "Q");
    be_ready(&f->in, 'I');
    be_notification(&f->in, 1, "jobs", "late");
    assert_int_equal(server(f), SESSION_CONTINUE);
    assert_fifo(&f->s, "");
}

/* ---- bad client input -------------------------------------------------------------------- */

struct bad_input_case {
    const char *name;
    uint8_t type;
    const uint8_t *body;
    size_t len;
    const char *message; /* expected M field, or NULL to check only the SQLSTATE */
};

static const struct bad_input_case bad_input_cases[] = {
    {"unknown type 'z'", 'z', BYTES(""), "invalid frontend message type 122"},
    {"type 0", 0, BYTES("x"), "invalid frontend message type 0"},
    {"PasswordMessage after startup", 'p', BYTES("secret\0"), "invalid frontend message type 112"},
    {"Parse without terminators", 'P', BYTES("abcd"), NULL},
    {"Parse with unterminated query", 'P', BYTES("s1\0" "SELECT 1"), NULL},
    {"Parse without parameter count", 'P', BYTES("s1\0" "SELECT 1\0"), NULL},
    {"Parse with fewer OIDs than counted", 'P', BYTES("s1\0" "SELECT $1\0" "\0\2" "\0\0\0\x17"),
     NULL},
    {"Parse with negative parameter count", 'P', BYTES("\0" "SELECT 1\0" "\xff\xff"), NULL},
    {"Bind with unterminated portal", 'B', BYTES("portal"), NULL},
    {"Bind with unterminated statement", 'B', BYTES("\0" "stmt"), NULL},
    {"Describe with bad subtype", 'D', BYTES("X" "s1\0"), NULL},
    {"Describe without name", 'D', BYTES("S"), NULL},
    {"Describe empty", 'D', BYTES(""), NULL},
    {"Close with bad subtype", 'C', BYTES("Q" "s1\0"), NULL},
    {"Close without name", 'C', BYTES("P"), NULL},
};

/* Each: FATAL 08P01 to the client, nothing to the server, close; later input is refused. */
static void
test_bad_client_input(void **state)
{
    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(bad_input_cases); i++) {
        const struct bad_input_case *bc = &bad_input_cases[i];
        void *st;
        setup_ready(&st);
        struct fx *f = st;
        struct session *s = &f->s;
        fx_raw(&f->in, bc->type, bc->body, bc->len);
        session_action a = feed(f, session_on_client, false);
        if (a != SESSION_CLOSE)
            fail_msg("%s: action %d, want SESSION_CLOSE", bc->name, a);
        assert_error_sent(&s->to_client, "FATAL", "08P01");
        if (bc->message)
            assert_string_equal(error_message(&s->to_client), bc->message);
        assert_int_equal(buf_used(&s->to_server), 0);
        assert_int_equal(s->state, SESSION_CLOSING);
        assert_fifo(s, "");
        buf_reset(&s->to_client);

        /* Once closing, nothing more passes in either direction. */
        fe_query(&f->in, "SELECT 1");
        assert_int_equal(feed(f, session_on_client, false), SESSION_CLOSE);
        be_ready(&f->in, 'I');
        assert_int_equal(feed(f, session_on_server, false), SESSION_CLOSE);
        assert_int_equal(buf_used(&s->to_server), 0);
        assert_int_equal(buf_used(&s->to_client), 0);
        teardown(&st);
    }
}

/* Client messages before the startup packet was handled are refused. */
static void
test_client_message_before_startup(void **state)
{
    struct fx *f = *state;
    fe_query(&f->in, "SELECT 1");
    assert_int_equal(feed(f, session_on_client, false), SESSION_CLOSE);
    assert_int_equal(buf_used(&f->s.to_server), 0);
}

static void
test_terminate(void **state)
{
    struct fx *f = *state;
    fe_parse(&f->in, "", "SELECT 1", 0, NULL);
    assert_int_equal(client(f), SESSION_CONTINUE);
    fe_terminate(&f->in);
    assert_int_equal(client(f), SESSION_CLOSE);
    assert_int_equal(f->s.state, SESSION_CLOSING);
    assert_true(f->s.close_reason[0] != '\0');
}

/* ---- the pending FIFO itself ----------------------------------------------------------- */

/* Entries keep their order across ring wrap-around, growth and removal from the middle. */
static void
test_pending_ring(void **state)
{
    (void)state;
    struct pending_fifo q = {0};
    int next_in = 0, next_out = 0;
    for (int round = 0; round < 5; round++) {
        for (int i = 0; i < 11; i++) {
            struct pending p = {.kind = PEND_EXECUTE, .nparams = next_in++};
            p.name = strdup("n");
            assert_int_equal(pending_push(&q, &p), 0);
        }
        for (int i = 0; i < 7; i++) {
            assert_int_equal(pending_head(&q)->nparams, next_out++);
            pending_pop(&q);
        }
    }
    /* 20 left, wrapped in a ring of 32. Mark every third as a Sync and remove those. */
    assert_int_equal(q.count, 20);
    for (size_t i = 0; i < q.count; i += 3)
        pending_at(&q, i)->kind = PEND_SYNC;
    pending_remove(&q, 0, q.count, PEND_SYNC);
    assert_int_equal(q.count, 13);
    int want = next_out;
    for (size_t i = 0; i < q.count; i++, want++) {
        if ((want - next_out) % 3 == 0)
            want++;
        assert_int_equal(pending_at(&q, i)->nparams, want);
        assert_int_equal(pending_at(&q, i)->kind, PEND_EXECUTE);
    }
    pending_remove(&q, 2, 4, -1);
    assert_int_equal(q.count, 11);
    pending_clear(&q);
    assert_int_equal(q.count, 0);
    assert_null(pending_head(&q));
    pending_pop(&q); /* empty: no-op */
}

int
main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
#define R(f) cmocka_unit_test_setup_teardown(f, setup_ready, teardown)
    const struct CMUnitTest tests[] = {
        R(test_copy_in_simple_query),
        R(test_copy_in_fail_simple_query),
        R(test_copy_in_extended_sync_before_copy_in),
        R(test_copy_in_extended_fully_pipelined),
        R(test_copy_in_extended_fails_before_copy),
        R(test_copy_in_extended_error_during_copy),
        R(test_copy_out_simple_query),
        R(test_copy_out_extended),
        R(test_copy_out_error),
        R(test_stray_copy_messages),
        R(test_copy_in_nothing_pending),
        R(test_copy_both),
        cmocka_unit_test(test_async_messages_mid_group),
        R(test_async_in_simple_query),
        cmocka_unit_test(test_bad_client_input),
        T(test_client_message_before_startup),
        R(test_terminate),
        cmocka_unit_test(test_pending_ring),
    };
#undef T
#undef R
    return cmocka_run_group_tests(tests, NULL, NULL);
}
