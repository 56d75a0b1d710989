/*
 * test_session: the protocol state machine (proxy/session.c), driven with framed byte fixtures.
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
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/session.h"
#include "tests/unit/fixtures.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* One session under test, its config, and a scratch buffer the test writes messages into. */
struct fx {
    struct config cfg;
    struct session s;
    struct buf in;
};

typedef session_action (*handler_fn)(struct session *, const struct wire_msg *);

/* ---- harness -------------------------------------------------------------------------------- */

static int
setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f)); /* cfg zeroed: no default database */
    assert_non_null(f);
    session_init(&f->s, 1, &f->cfg);
    buf_init(&f->in);
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    struct fx *f = *state;
    session_close(&f->s);
    buf_free(&f->in);
    free(f);
    return 0;
}

/*
 * Frames every message in f->in (startup packets or typed messages) and hands each to fn, then
 * empties f->in. Every message but the last must return SESSION_CONTINUE; returns the last
 * action.
 */
static session_action
feed(struct fx *f, handler_fn fn, bool startup)
{
    assert_int_equal(buf_error(&f->in), 0);
    const uint8_t *p = buf_head(&f->in);
    size_t n = buf_used(&f->in), off = 0;
    session_action last = SESSION_CONTINUE;
    assert_true(n > 0);
    while (off < n) {
        assert_int_equal(last, SESSION_CONTINUE);
        struct wire_msg m;
        int rc = startup ? wire_frame_startup(p + off, n - off, &m)
                         : wire_frame(p + off, n - off, FX_MAX_MSG, &m);
        assert_int_equal(rc, 0);
        last = fn(&f->s, &m);
        off += m.wire_len;
    }
    buf_reset(&f->in);
    return last;
}

static void
assert_buf_equal(const struct buf *got, const uint8_t *want, size_t n)
{
    assert_int_equal(buf_error(got), 0);
    assert_int_equal(buf_used(got), n);
    if (n)
        assert_memory_equal(buf_head(got), want, n);
}

/*
 * Feeds f->in to fn and checks it was relayed verbatim into `to`, with nothing for `other`.
 * Empties both session buffers afterwards. Returns the last action.
 */
static session_action
relay(struct fx *f, handler_fn fn, struct buf *to, struct buf *other)
{
    struct buf sent;
    buf_init(&sent);
    buf_put(&sent, buf_head(&f->in), buf_used(&f->in));
    session_action a = feed(f, fn, false);
    assert_buf_equal(to, buf_head(&sent), buf_used(&sent));
    assert_int_equal(buf_used(other), 0);
    buf_free(&sent);
    buf_reset(&f->s.to_client);
    buf_reset(&f->s.to_server);
    return a;
}

/* Client messages in f->in, all forwarded to the server unchanged. */
static session_action
client(struct fx *f)
{
    return relay(f, session_on_client, &f->s.to_server, &f->s.to_client);
}

/* Server messages in f->in, all forwarded to the client unchanged. */
static session_action
server(struct fx *f)
{
    return relay(f, session_on_server, &f->s.to_client, &f->s.to_server);
}

static char
kind_letter(pend_kind k)
{
    switch (k) {
    case PEND_QUERY:
        return 'Q';
    case PEND_PARSE:
        return 'P';
    case PEND_BIND:
        return 'B';
    case PEND_DESCRIBE_S:
        return 'd';
    case PEND_DESCRIBE_P:
        return 'D';
    case PEND_EXECUTE:
        return 'E';
    case PEND_CLOSE:
        return 'C';
    case PEND_SYNC:
        return 'S';
    case PEND_COPY_END:
        return 'c';
    }
    return '?';
}

static void
assert_fifo(struct session *s, const char *want)
{
    char got[128];
    size_t n = s->fifo.count;
    assert_true(n < sizeof(got));
    for (size_t i = 0; i < n; i++)
        got[i] = kind_letter(pending_at(&s->fifo, i)->kind);
    got[n] = '\0';
    assert_string_equal(got, want);
    assert_int_equal(session_pending(s), n);
}

/* The statement (or portal) exists in the model; for statements, with this SQL text. */
static void
assert_stmt(struct session *s, const char *name, const char *sql)
{
    struct prepared *p = prepared_get(&s->stmts, name);
    if (!p)
        fail_msg("statement \"%s\" missing", name);
    assert_string_equal(p->sql, sql);
}

static void
assert_no_stmt(struct session *s, const char *name)
{
    if (prepared_get(&s->stmts, name))
        fail_msg("statement \"%s\" should not exist", name);
}

static void
assert_portal(struct session *s, const char *name, const char *stmt)
{
    struct prepared *p = prepared_get(&s->portals, name);
    if (!p)
        fail_msg("portal \"%s\" missing", name);
    assert_string_equal(p->sql, stmt);
}

static void
assert_no_portal(struct session *s, const char *name)
{
    if (prepared_get(&s->portals, name))
        fail_msg("portal \"%s\" should not exist", name);
}

/* to_client holds exactly one ErrorResponse with this severity and SQLSTATE. */
static void
assert_error_sent(const struct buf *b, const char *severity, const char *sqlstate)
{
    struct wire_msg m;
    assert_int_equal(buf_error(b), 0);
    assert_int_equal(wire_frame(buf_head(b), buf_used(b), FX_MAX_MSG, &m), 0);
    assert_int_equal(m.type, BE_ERROR);
    assert_int_equal(m.wire_len, buf_used(b));
    const char *sev = wire_error_field(m.body, m.body_len, 'S');
    const char *code = wire_error_field(m.body, m.body_len, 'C');
    assert_non_null(sev);
    assert_non_null(code);
    assert_string_equal(sev, severity);
    assert_string_equal(code, sqlstate);
    assert_non_null(wire_error_field(m.body, m.body_len, 'M'));
}

/* The M field of the single ErrorResponse in b. */
static const char *
error_message(const struct buf *b)
{
    struct wire_msg m;
    assert_int_equal(wire_frame(buf_head(b), buf_used(b), FX_MAX_MSG, &m), 0);
    const char *msg = wire_error_field(m.body, m.body_len, 'M');
    assert_non_null(msg);
    return msg;
}

static const char *const alice_db[] = {"user", "alice", "database", "db", NULL};

/* Startup and a trust login: the session ends in READY, 'I', with empty buffers. */
static void
go_ready(struct fx *f)
{
    st_startup(&f->in, alice_db);
    assert_int_equal(feed(f, session_on_startup, true), SESSION_CONNECT);
    buf_reset(&f->s.to_server);
    be_auth(&f->in, 0, NULL, 0);
    be_param_status(&f->in, "server_version", "16.4");
    be_backend_key(&f->in, 4242, 0x5eed);
    be_ready(&f->in, 'I');
    assert_int_equal(server(f), SESSION_CONTINUE);
    assert_int_equal(f->s.state, SESSION_READY);
}

static int
setup_ready(void **state)
{
    setup(state);
    go_ready(*state);
    return 0;
}

/* Runs a simple Query to completion; leaves the transaction status at txn. */
static void
simple_query(struct fx *f, const char *sql, const char *tag, uint8_t txn)
{
    fe_query(&f->in, sql);
    assert_int_equal(client(f), SESSION_CONTINUE);
    be_command_complete(&f->in, tag);
    be_ready(&f->in, txn);
    assert_int_equal(server(f), SESSION_CONTINUE);
    assert_fifo(&f->s, "");
    assert_int_equal(f->s.txn_status, txn);
}

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
    const char *sqlstate;
};

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
    {"SSLRequest with a body", WIRE_SSL_CODE, BYTES("\0\0\0\0"), "08P01"},
    {"GSSENCRequest with a body", WIRE_GSSENC_CODE, BYTES("x"), "08P01"},
    {"CancelRequest too short", WIRE_CANCEL_CODE, BYTES("\0\0\0\1"), "08P01"},
    {"CancelRequest too long", WIRE_CANCEL_CODE, BYTES("\0\0\0\1" "\0\0\0\2" "\0\0\0\3"),
     "08P01"},
};

/* Each bad packet: FATAL with its SQLSTATE to the client, nothing upstream, close. */
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
        if (a != SESSION_CLOSE)
            fail_msg("%s: action %d, want SESSION_CLOSE", sc->name, a);
        assert_error_sent(&f->s.to_client, "FATAL", sc->sqlstate);
        assert_int_equal(buf_used(&f->s.to_server), 0);
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
