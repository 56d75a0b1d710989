/*
 * session_harness: what the test_session*.c files share: a session under test, handlers
 * that feed it framed messages, and checks on what it queued and believes. Static inline so
 * each test file takes only what it uses.
 */
#ifndef PGFOLD_TEST_SESSION_HARNESS_H
#define PGFOLD_TEST_SESSION_HARNESS_H

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

static inline int
setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f)); /* cfg zeroed: no default database */
    assert_non_null(f);
    session_init(&f->s, 1, &f->cfg);
    buf_init(&f->in);
    *state = f;
    return 0;
}

static inline int
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
static inline session_action
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

static inline void
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
static inline session_action
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
static inline session_action
client(struct fx *f)
{
    return relay(f, session_on_client, &f->s.to_server, &f->s.to_client);
}

/* Server messages in f->in, all forwarded to the client unchanged. */
static inline session_action
server(struct fx *f)
{
    return relay(f, session_on_server, &f->s.to_client, &f->s.to_server);
}

static inline char
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

static inline void
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
static inline void
assert_stmt(struct session *s, const char *name, const char *sql)
{
    struct prepared *p = prepared_get(&s->stmts, name);
    if (!p)
        fail_msg("statement \"%s\" missing", name);
    assert_string_equal(p->sql, sql);
}

static inline void
assert_no_stmt(struct session *s, const char *name)
{
    if (prepared_get(&s->stmts, name))
        fail_msg("statement \"%s\" should not exist", name);
}

static inline void
assert_portal(struct session *s, const char *name, const char *stmt)
{
    struct prepared *p = prepared_get(&s->portals, name);
    if (!p)
        fail_msg("portal \"%s\" missing", name);
    assert_string_equal(p->sql, stmt);
}

static inline void
assert_no_portal(struct session *s, const char *name)
{
    if (prepared_get(&s->portals, name))
        fail_msg("portal \"%s\" should not exist", name);
}

/* to_client holds exactly one ErrorResponse with this severity and SQLSTATE. */
static inline void
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
static inline const char *
error_message(const struct buf *b)
{
    struct wire_msg m;
    assert_int_equal(wire_frame(buf_head(b), buf_used(b), FX_MAX_MSG, &m), 0);
    const char *msg = wire_error_field(m.body, m.body_len, 'M');
    assert_non_null(msg);
    return msg;
}

static const char *const alice_db[] __attribute__((unused)) = {"user", "alice", "database", "db", NULL};

/* Startup and a trust login: the session ends in READY, 'I', with empty buffers. */
static inline void
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

static inline int
setup_ready(void **state)
{
    setup(state);
    go_ready(*state);
    return 0;
}

/* Runs a simple Query to completion; leaves the transaction status at txn. */
static inline void
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

#endif
