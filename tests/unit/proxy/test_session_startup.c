/*
 * test_session_startup: the startup packet (SSL/GSS negotiation, cancel, versions,
 * default database, rejection) and the authentication relay.
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
/* ---- startup ---------------------------------------------------------------------------- */

static void
test_startup_ssl_then_startup(void **state)
{
    struct fx *f = *state;
    st_packet(&f->in, WIRE_SSL_CODE, NULL, 0);
    assert_int_equal(feed(f, session_on_startup, true), SESSION_CONTINUE);
    assert_buf_equal(&f->s.to_client, BYTES("N"));
    assert_int_equal(buf_used(&f->s.to_server), 0);
    assert_int_equal(f->s.state, SESSION_STARTUP);
    buf_reset(&f->s.to_client);

    st_startup(&f->in, alice_db);
    struct buf sent;
    buf_init(&sent);
    buf_put(&sent, buf_head(&f->in), buf_used(&f->in));
    assert_int_equal(feed(f, session_on_startup, true), SESSION_CONNECT);
    assert_buf_equal(&f->s.to_server, buf_head(&sent), buf_used(&sent));
    assert_int_equal(buf_used(&f->s.to_client), 0);
    assert_int_equal(f->s.state, SESSION_AUTH);
    assert_string_equal(f->s.user, "alice");
    assert_string_equal(f->s.database, "db");
    buf_free(&sent);
}

struct negotiate_case {
    const char *name;
    uint32_t first, second;
    bool second_answered; /* 'N' again; otherwise FATAL 0A000 as PostgreSQL does */
};

/*
 * PostgreSQL answers one SSLRequest and one GSSENCRequest per connection, in either order
 * (ProcessStartupPacket's ssl_done/gss_done); a repeated request falls through to the
 * protocol-version check and is refused with "unsupported frontend protocol 1234.5679".
 */
static const struct negotiate_case negotiate_cases[] = {
    {"SSL then GSS", WIRE_SSL_CODE, WIRE_GSSENC_CODE, true},
    {"GSS then SSL", WIRE_GSSENC_CODE, WIRE_SSL_CODE, true},
    {"SSL twice", WIRE_SSL_CODE, WIRE_SSL_CODE, false},
    {"GSS twice", WIRE_GSSENC_CODE, WIRE_GSSENC_CODE, false},
};

static void
test_startup_negotiation_requests(void **state)
{
    (void)state;
    int bad = 0;
    for (size_t i = 0; i < ARRAY_LEN(negotiate_cases); i++) {
        const struct negotiate_case *nc = &negotiate_cases[i];
        void *st;
        setup(&st);
        struct fx *f = st;
        st_packet(&f->in, nc->first, NULL, 0);
        assert_int_equal(feed(f, session_on_startup, true), SESSION_CONTINUE);
        assert_buf_equal(&f->s.to_client, BYTES("N"));
        buf_reset(&f->s.to_client);
        st_packet(&f->in, nc->second, NULL, 0);
        session_action a = feed(f, session_on_startup, true);
        bool answered = a == SESSION_CONTINUE && buf_used(&f->s.to_client) == 1 &&
                        buf_head(&f->s.to_client)[0] == 'N';
        if (answered != nc->second_answered) {
            print_error("%s: second request %s, want %s\n", nc->name,
                        answered ? "answered 'N'" : "refused",
                        nc->second_answered ? "'N'" : "FATAL 0A000 and close");
            bad++;
        } else if (!nc->second_answered) {
            assert_int_equal(a, SESSION_CLOSE);
            assert_error_sent(&f->s.to_client, "FATAL", "0A000");
            assert_int_equal(f->s.state, SESSION_CLOSING);
        }
        assert_int_equal(buf_used(&f->s.to_server), 0);
        teardown(&st);
    }
    assert_int_equal(bad, 0);
}

static void
test_startup_cancel_request(void **state)
{
    struct fx *f = *state;
    st_cancel(&f->in, 4242, 0x5eed);
    static const uint8_t want[] = "\0\0\0\x10" "\x04\xd2\x16\x2e" "\0\0\x10\x92" "\0\0\x5e\xed";
    assert_int_equal(feed(f, session_on_startup, true), SESSION_CANCEL);
    assert_buf_equal(&f->s.to_server, want, sizeof(want) - 1);
    assert_int_equal(buf_used(&f->s.to_client), 0);
    assert_int_equal(f->s.state, SESSION_CLOSING);
}

struct startup_good_case {
    const char *name;
    uint32_t code;
    const uint8_t *tail;
    size_t len;
    const char *user, *database, *app;
};

static const struct startup_good_case startup_good_cases[] = {
    {"user and database", WIRE_PROTO_3, BYTES("user\0" "alice\0" "database\0" "db\0" "\0"),
     "alice", "db", ""},
    {"user only", WIRE_PROTO_3, BYTES("user\0" "bob\0" "\0"), "bob", "", ""},
    {"application_name and options", WIRE_PROTO_3,
     BYTES("user\0" "u\0" "options\0" "-c geqo=off\0" "application_name\0" "psql\0" "\0"), "u",
     "", "psql"},
    {"empty user: the server decides", WIRE_PROTO_3, BYTES("user\0" "\0" "\0"), "", "", ""},
    {"protocol 3.2: the server negotiates", 0x00030002, BYTES("user\0" "carol\0" "\0"), "carol",
     "", ""},
    {"_pq_ option: the server negotiates", WIRE_PROTO_3,
     BYTES("user\0" "dan\0" "_pq_.foo\0" "1\0" "\0"), "dan", "", ""},
};

/* Well-formed startup packets are forwarded byte for byte and the names remembered. */
static void
test_startup_good_packets(void **state)
{
    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(startup_good_cases); i++) {
        const struct startup_good_case *sc = &startup_good_cases[i];
        void *st;
        setup(&st);
        struct fx *f = st;
        st_packet(&f->in, sc->code, sc->tail, sc->len);
        struct buf sent;
        buf_init(&sent);
        buf_put(&sent, buf_head(&f->in), buf_used(&f->in));
        session_action a = feed(f, session_on_startup, true);
        if (a != SESSION_CONNECT)
            fail_msg("%s: action %d", sc->name, a);
        assert_buf_equal(&f->s.to_server, buf_head(&sent), buf_used(&sent));
        assert_int_equal(buf_used(&f->s.to_client), 0);
        assert_int_equal(f->s.state, SESSION_AUTH);
        assert_string_equal(f->s.user, sc->user);
        assert_string_equal(f->s.database, sc->database);
        assert_string_equal(f->s.application_name, sc->app);
        buf_free(&sent);
        teardown(&st);
    }
}

struct startup_bad_case {
    const char *name;
    uint32_t code;
    const uint8_t *tail;
    size_t len;
    const char *sqlstate; /* FATAL with this SQLSTATE; "" closes without a word; "N" answers
                             'N' as to a well-formed request (PostgreSQL ignores the extra) */
};

/* What PostgreSQL 15 does with each (tests/clients/py/badinput.py compares the two live). */
static const struct startup_bad_case startup_bad_cases[] = {
    {"protocol 2.0", 0x00020000, BYTES("user\0" "alice\0" "\0"), "0A000"},
    {"protocol 4.0", 0x00040000, BYTES("user\0" "alice\0" "\0"), "0A000"},
    {"unknown negotiation code 1234.5681", (1234u << 16) | 5681, BYTES(""), "0A000"},
    {"version only, no terminator", WIRE_PROTO_3, BYTES(""), "08P01"},
    {"missing final terminator", WIRE_PROTO_3, BYTES("user\0" "alice\0"), "08P01"},
    {"unterminated value", WIRE_PROTO_3, BYTES("user\0" "alice"), "08P01"},
    {"unterminated key", WIRE_PROTO_3, BYTES("user"), "08P01"},
    {"key without value", WIRE_PROTO_3, BYTES("user\0" "\0" "database\0"), "08P01"},
    {"bytes after the terminator", WIRE_PROTO_3, BYTES("user\0" "alice\0" "\0" "x"), "08P01"},
    {"SSLRequest with a body", WIRE_SSL_CODE, BYTES("\0\0\0\0"), "N"},
    {"GSSENCRequest with a body", WIRE_GSSENC_CODE, BYTES("x"), "N"},
    {"CancelRequest too short", WIRE_CANCEL_CODE, BYTES("\0\0\0\1"), ""},
    {"CancelRequest too long", WIRE_CANCEL_CODE, BYTES("\0\0\0\1" "\0\0\0\2" "\0\0\0\3"),
     ""},
};

/* Each bad packet: nothing upstream; FATAL with its SQLSTATE, or a silent close, or 'N'. */
static void
test_startup_bad_packets(void **state)
{
    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(startup_bad_cases); i++) {
        const struct startup_bad_case *sc = &startup_bad_cases[i];
        void *st;
        setup(&st);
        struct fx *f = st;
        st_packet(&f->in, sc->code, sc->tail, sc->len);
        session_action a = feed(f, session_on_startup, true);
        assert_int_equal(buf_used(&f->s.to_server), 0);
        if (strcmp(sc->sqlstate, "N") == 0) {
            if (a != SESSION_CONTINUE)
                fail_msg("%s: action %d, want SESSION_CONTINUE", sc->name, a);
            assert_int_equal(buf_used(&f->s.to_client), 1);
            assert_int_equal(buf_head(&f->s.to_client)[0], 'N');
            assert_int_equal(f->s.state, SESSION_STARTUP);
            teardown(&st);
            continue;
        }
        if (a != SESSION_CLOSE)
            fail_msg("%s: action %d, want SESSION_CLOSE", sc->name, a);
        if (sc->sqlstate[0])
            assert_error_sent(&f->s.to_client, "FATAL", sc->sqlstate);
        else
            assert_int_equal(buf_used(&f->s.to_client), 0);
        assert_int_equal(f->s.state, SESSION_CLOSING);
        assert_true(f->s.close_reason[0] != '\0');
        teardown(&st);
    }
}

static void
test_startup_unsupported_version_message(void **state)
{
    struct fx *f = *state;
    st_packet(&f->in, 0x00020000, BYTES("user\0" "alice\0" "\0"));
    assert_int_equal(feed(f, session_on_startup, true), SESSION_CLOSE);
    assert_string_equal(error_message(&f->s.to_client),
                        "unsupported frontend protocol 2.0: server supports 3.0 to 3.0");
}

/* With upstream_dbname set, a packet without database gets one before its terminator. */
static void
test_startup_default_database(void **state)
{
    struct fx *f = *state;
    strcpy(f->cfg.upstream_dbname, "appdb");
    static const char *const kv[] = {"user", "alice", "application_name", "x", NULL};
    st_startup(&f->in, kv);
    assert_int_equal(feed(f, session_on_startup, true), SESSION_CONNECT);
    assert_string_equal(f->s.database, "appdb");

    /* Parse the rebuilt packet as the server would. */
    struct wire_msg m;
    const struct buf *out = &f->s.to_server;
    assert_int_equal(wire_frame_startup(buf_head(out), buf_used(out), &m), 0);
    assert_int_equal(m.wire_len, buf_used(out));
    struct wire_cursor c;
    wire_cursor_init(&c, m.body, m.body_len);
    assert_int_equal(wire_get_i32(&c), WIRE_PROTO_3);
    static const char *const want[] = {"user", "alice", "application_name", "x",
                                       "database", "appdb"};
    for (size_t i = 0; i < ARRAY_LEN(want); i++)
        assert_string_equal(wire_get_str(&c, NULL), want[i]);
    assert_int_equal(wire_get_u8(&c), 0);
    assert_int_equal(c.left, 0);
    assert_int_equal(c.err, 0);
}

/* A database the client named wins over the default; the packet goes unchanged. */
static void
test_startup_default_database_not_overriding(void **state)
{
    struct fx *f = *state;
    strcpy(f->cfg.upstream_dbname, "appdb");
    st_startup(&f->in, alice_db);
    struct buf sent;
    buf_init(&sent);
    buf_put(&sent, buf_head(&f->in), buf_used(&f->in));
    assert_int_equal(feed(f, session_on_startup, true), SESSION_CONNECT);
    assert_buf_equal(&f->s.to_server, buf_head(&sent), buf_used(&sent));
    assert_string_equal(f->s.database, "db");
    buf_free(&sent);
}

static void
test_startup_reject(void **state)
{
    struct fx *f = *state;
    f->s.reject = true;
    f->s.reject_state = "53300";
    f->s.reject_msg = "sorry, too many clients already";
    st_startup(&f->in, alice_db);
    assert_int_equal(feed(f, session_on_startup, true), SESSION_CLOSE);
    assert_error_sent(&f->s.to_client, "FATAL", "53300");
    assert_string_equal(error_message(&f->s.to_client), "sorry, too many clients already");
    assert_int_equal(buf_used(&f->s.to_server), 0);
    assert_int_equal(f->s.state, SESSION_CLOSING);
}

/* ---- authentication relay --------------------------------------------------------------- */

/* SCRAM: every R and p passes unchanged; K is remembered; Z ends the relay. */
static void
test_auth_scram_relay(void **state)
{
    struct fx *f = *state;
    st_startup(&f->in, alice_db);
    assert_int_equal(feed(f, session_on_startup, true), SESSION_CONNECT);
    buf_reset(&f->s.to_server);

    be_auth(&f->in, 10, BYTES("SCRAM-SHA-256\0" "\0"));
    assert_int_equal(server(f), SESSION_CONTINUE);
    fe_sasl_initial(&f->in, "SCRAM-SHA-256", "n,,n=,r=abc");
    assert_int_equal(client(f), SESSION_CONTINUE);
    be_auth(&f->in, 11, BYTES("r=abcdef,s=c2FsdA==,i=4096"));
    assert_int_equal(server(f), SESSION_CONTINUE);
    fe_sasl_response(&f->in, "c=biws,r=abcdef,p=cHJvb2Y=");
    assert_int_equal(client(f), SESSION_CONTINUE);
    be_auth(&f->in, 12, BYTES("v=c2lnbmF0dXJl"));
    be_auth(&f->in, 0, NULL, 0);
    assert_int_equal(server(f), SESSION_CONTINUE);
    assert_int_equal(f->s.state, SESSION_AUTH);

    be_param_status(&f->in, "client_encoding", "UTF8");
    be_param_status(&f->in, "server_version", "16.4");
    be_backend_key(&f->in, 31337, -559038737);
    assert_int_equal(server(f), SESSION_CONTINUE);
    assert_int_equal(f->s.backend_pid, 31337);
    assert_int_equal(f->s.backend_key, -559038737);
    assert_int_equal(f->s.state, SESSION_AUTH);

    be_ready(&f->in, 'I');
    assert_int_equal(server(f), SESSION_CONTINUE);
    assert_int_equal(f->s.state, SESSION_READY);
    assert_int_equal(f->s.txn_status, 'I');
    assert_fifo(&f->s, "");
}

/* md5 and cleartext password messages pass unchanged; the first Z's status is kept. */
static void
test_auth_md5_relay(void **state)
{
    struct fx *f = *state;
    st_startup(&f->in, alice_db);
    assert_int_equal(feed(f, session_on_startup, true), SESSION_CONNECT);
    buf_reset(&f->s.to_server);
    be_auth(&f->in, 5, BYTES("salt"));
    assert_int_equal(server(f), SESSION_CONTINUE);
    fe_password(&f->in, "md50123456789abcdef0123456789abcdef");
    assert_int_equal(client(f), SESSION_CONTINUE);
    be_auth(&f->in, 0, NULL, 0);
    be_backend_key(&f->in, 1, 2);
    be_ready(&f->in, 'T'); /* not what a server sends, but the status must come from Z */
    assert_int_equal(server(f), SESSION_CONTINUE);
    assert_int_equal(f->s.state, SESSION_READY);
    assert_int_equal(f->s.txn_status, 'T');
}

/* A failed login is relayed; a client Terminate during auth is relayed and closes. */
static void
test_auth_failure_and_terminate(void **state)
{
    struct fx *f = *state;
    st_startup(&f->in, alice_db);
    assert_int_equal(feed(f, session_on_startup, true), SESSION_CONNECT);
    buf_reset(&f->s.to_server);
    be_auth(&f->in, 3, NULL, 0);
    assert_int_equal(server(f), SESSION_CONTINUE);
    be_error_typed(&f->in, BE_ERROR, "FATAL", "28P01", "password authentication failed");
    assert_int_equal(server(f), SESSION_CONTINUE);
    assert_int_equal(f->s.state, SESSION_AUTH);
    fe_terminate(&f->in);
    assert_int_equal(client(f), SESSION_CLOSE);
}

int
main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
#define R(f) cmocka_unit_test_setup_teardown(f, setup_ready, teardown)
    const struct CMUnitTest tests[] = {
        T(test_startup_ssl_then_startup),
        cmocka_unit_test(test_startup_negotiation_requests),
        T(test_startup_cancel_request),
        cmocka_unit_test(test_startup_good_packets),
        cmocka_unit_test(test_startup_bad_packets),
        T(test_startup_unsupported_version_message),
        T(test_startup_default_database),
        T(test_startup_default_database_not_overriding),
        T(test_startup_reject),
        T(test_auth_scram_relay),
        T(test_auth_md5_relay),
        T(test_auth_failure_and_terminate),
    };
#undef T
#undef R
    return cmocka_run_group_tests(tests, NULL, NULL);
}
