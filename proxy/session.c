/*
 * session: the protocol state machine. See session.h for what it tracks and why.
 *
 * Data moves one way through here: a framed message comes in, its effect on the modelled
 * server state is recorded, and its bytes are appended to the outgoing buffer of the other
 * side. Server responses are matched against the pending FIFO in order; effects that exist
 * only once the server has processed a message (a statement created by Parse, a portal by
 * Bind, the unnamed statement dropped by a simple Query) are applied when its response
 * arrives, never when the request passes, so the tables mirror the server exactly even when
 * the client pipelines.
 */
#include "proxy/session.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/fold.h"
#include "proxy/stats.h"

void
session_init(struct session *s, uint64_t id, const struct config *cfg)
{
    memset(s, 0, sizeof(*s));
    s->id = id;
    s->cfg = cfg;
    s->state = SESSION_STARTUP;
    s->txn_status = 'I';
    buf_init(&s->to_client);
    buf_init(&s->to_server);
    prepared_init(&s->stmts);
    prepared_init(&s->portals);
}

void
session_close(struct session *s)
{
    fold_free(s->fold);
    s->fold = NULL;
    buf_free(&s->to_client);
    buf_free(&s->to_server);
    pending_clear(&s->fifo);
    prepared_clear(&s->stmts);
    prepared_clear(&s->portals);
}

const char *
session_state_name(session_state st)
{
    switch (st) {
    case SESSION_STARTUP:
        return "startup";
    case SESSION_AUTH:
        return "auth";
    case SESSION_READY:
        return "ready";
    case SESSION_COPY_BOTH:
        return "copy-both";
    case SESSION_CLOSING:
        return "closing";
    }
    return "?";
}

void
session_set_state(struct session *s, session_state st)
{
    switch (st) {
    case SESSION_STARTUP:
    case SESSION_AUTH:
    case SESSION_READY:
    case SESSION_COPY_BOTH:
    case SESSION_CLOSING:
        s->state = st;
        return;
    default:
        fprintf(stderr, "session_set_state: unknown state %d\n", (int)st);
        abort();
    }
}

/* Copies a string into a fixed field, truncating (names and reasons are for display). */
static void
copy_param(char *dst, size_t cap, const char *v)
{
    size_t n = strnlen(v, cap - 1);
    memcpy(dst, v, n);
    dst[n] = '\0';
}

void
session_fail(struct session *s, const char *sqlstate, const char *message)
{
    char reason[sizeof(s->close_reason)];
    wire_put_error(&s->to_client, "FATAL", sqlstate, message);
    copy_param(reason, 8, sqlstate);
    strcat(reason, " ");
    copy_param(reason + strlen(reason), sizeof(reason) - strlen(reason), message);
    memcpy(s->close_reason, reason, sizeof(reason));
    session_set_state(s, SESSION_CLOSING);
}

void
session_drop(struct session *s, const char *reason)
{
    copy_param(s->close_reason, sizeof(s->close_reason), reason);
    session_set_state(s, SESSION_CLOSING);
}

void
session_after_plain(struct session *s)
{
    const char *msg = s->gss_asked && !s->ssl_asked
                          ? "received unencrypted data after GSSAPI encryption request"
                          : "received unencrypted data after SSL request";
    wire_put_error_detail(&s->to_client, "FATAL", "08P01", msg,
                          "This could be either a client-software bug or evidence of an "
                          "attempted man-in-the-middle attack.");
    copy_param(s->close_reason, sizeof(s->close_reason), msg);
    s->answered_plain = false;
    session_set_state(s, SESSION_CLOSING);
}

static void
forward(struct buf *to, const struct wire_msg *m)
{
    buf_put(to, m->raw, m->wire_len);
}

/* ---- startup ---------------------------------------------------------------------------- */


/*
 * Is this startup packet for pgfold's console? The database it means is the one PostgreSQL
 * would use: the one it names, else the upstream's default, else the user name.
 */
static bool
is_console(const struct session *s, bool have_db, const char *dflt)
{
    if (!s->cfg || s->cfg->admin_database[0] == '\0')
        return false;
    const char *db = have_db ? s->database : dflt[0] ? dflt : s->user;
    return strcmp(db, s->cfg->admin_database) == 0;
}

/*
 * Forwards a v3 StartupMessage, remembering user/database/application_name and adding the
 * configured default database when the client named none.
 */
static session_action
startup_v3(struct session *s, const struct wire_msg *m)
{
    struct wire_cursor c;
    wire_cursor_init(&c, m->body + 4, m->body_len - 4);
    bool have_db = false;
    while (c.left > 1) {
        const char *k = wire_get_str(&c, NULL);
        const char *v = wire_get_str(&c, NULL);
        if (c.err)
            break;
        if (strcmp(k, "user") == 0)
            copy_param(s->user, sizeof(s->user), v);
        else if (strcmp(k, "database") == 0) {
            copy_param(s->database, sizeof(s->database), v);
            have_db = true;
        } else if (strcmp(k, "application_name") == 0)
            copy_param(s->application_name, sizeof(s->application_name), v);
    }
    if (c.err || c.left != 1 || c.p[0] != 0) {
        session_fail(s, "08P01", "invalid startup packet layout: expected terminator as last byte");
        return SESSION_CLOSE;
    }
    if (s->reject) {
        session_fail(s, s->reject_state, s->reject_msg);
        return SESSION_CLOSE;
    }
    if (s->cfg && s->cfg->client_tls_sslmode == TLS_REQUIRE && !s->client_tls) {
        session_fail(s, "28000", "pgfold: SSL required (client_tls_sslmode = require)");
        return SESSION_CLOSE;
    }
    const char *dflt = s->cfg ? s->cfg->upstream_dbname : "";
    if (is_console(s, have_db, dflt)) {
        /* pgfold's console: the transport hands it every later message; the startup packet
         * goes nowhere. The database it named is the one PostgreSQL would have used. */
        copy_param(s->database, sizeof(s->database), s->cfg->admin_database);
        s->admin = true;
        session_set_state(s, SESSION_AUTH);
        return SESSION_CONNECT;
    }
    if (have_db || dflt[0] == '\0') {
        forward(&s->to_server, m);
    } else {
        /* Rebuild with database=<default> before the final terminator. */
        buf_msg_begin(&s->to_server, 0);
        buf_put(&s->to_server, m->body, m->body_len - 1);
        buf_put_str(&s->to_server, "database");
        buf_put_str(&s->to_server, dflt);
        buf_put_u8(&s->to_server, 0);
        buf_msg_end(&s->to_server);
        copy_param(s->database, sizeof(s->database), dflt);
    }
    session_set_state(s, SESSION_AUTH);
    return SESSION_CONNECT;
}

session_action
session_on_startup(struct session *s, const struct wire_msg *m)
{
    struct wire_cursor c;
    wire_cursor_init(&c, m->body, m->body_len);
    uint32_t code = (uint32_t)wire_get_i32(&c);
    switch (code) {
    case WIRE_SSL_CODE:
    case WIRE_GSSENC_CODE: {
        /* One of each per connection, as PostgreSQL does; a repeat falls to the version check. */
        bool *asked = code == WIRE_SSL_CODE ? &s->ssl_asked : &s->gss_asked;
        if (*asked)
            break;
        /* Bytes beyond the code are read and ignored, as PostgreSQL does. */
        *asked = true;
        if (code == WIRE_SSL_CODE && s->cfg && s->cfg->client_tls_sslmode != TLS_DISABLE) {
            buf_put_u8(&s->to_client, 'S');
            return SESSION_TLS;
        }
        /* 'N' tells the client to go on in plain text (GSSAPI encryption is never offered). */
        buf_put_u8(&s->to_client, 'N');
        s->answered_plain = true;
        return SESSION_CONTINUE;
    }
    case WIRE_CANCEL_CODE:
        if (m->body_len != 12) {
            /* PostgreSQL logs it (COMMERROR) and closes without a word. */
            session_drop(s, "invalid length of cancel request");
            return SESSION_CLOSE;
        }
        /* BackendKeyData was relayed unchanged, so the key names the real backend. */
        forward(&s->to_server, m);
        session_set_state(s, SESSION_CLOSING);
        return SESSION_CANCEL;
    default:
        break;
    }
    if ((code >> 16) != 3) {
        char msg[128];
        snprintf(msg, sizeof(msg),
                 "unsupported frontend protocol %u.%u: server supports 3.0 to 3.0", code >> 16,
                 code & 0xffff);
        session_fail(s, "0A000", msg);
        return SESSION_CLOSE;
    }
    return startup_v3(s, m);
}

/* ---- client messages -------------------------------------------------------------------- */

static session_action
fail_malformed(struct session *s, uint8_t type)
{
    char msg[96];
    snprintf(msg, sizeof(msg), "invalid message format (message type '%c')", type);
    session_fail(s, "08P01", msg);
    return SESSION_CLOSE;
}

/* Queues an entry unless the server will skip it (after an error, until Sync). */
static int
expect(struct session *s, struct pending *p)
{
    if (s->fifo.skipping && p->kind != PEND_SYNC) {
        pending_release(p);
        return 0;
    }
    if (p->kind == PEND_SYNC)
        s->fifo.skipping = false;
    p->t0_us = s->now_us;
    return pending_push(&s->fifo, p);
}

static int
client_parse(struct wire_cursor *c, struct pending *p)
{
    size_t nlen, qlen;
    const char *name = wire_get_str(c, &nlen);
    const char *sql = wire_get_str(c, &qlen);
    int n = wire_get_i16(c);
    if (c->err || n < 0)
        return -EPROTO;
    p->kind = PEND_PARSE;
    p->name = strdup(name);
    p->sql = strdup(sql);
    p->nparams = n;
    if (n > 0) {
        p->oids = malloc(sizeof(uint32_t) * (size_t)n);
        if (!p->oids)
            return -ENOMEM;
        for (int i = 0; i < n; i++)
            p->oids[i] = (uint32_t)wire_get_i32(c);
    }
    if (c->err)
        return -EPROTO;
    return p->name && p->sql ? 0 : -ENOMEM;
}

static int
client_bind(struct wire_cursor *c, struct pending *p)
{
    const char *portal = wire_get_str(c, NULL);
    const char *stmt = wire_get_str(c, NULL);
    if (c->err)
        return -EPROTO;
    p->kind = PEND_BIND;
    p->name = strdup(portal);
    p->stmt_name = strdup(stmt);
    return p->name && p->stmt_name ? 0 : -ENOMEM;
}

/* Describe and Close share a layout: 'S' or 'P', then a name. */
static int
client_target(struct wire_cursor *c, struct pending *p, pend_kind stmt_kind, pend_kind portal_kind)
{
    uint8_t what = wire_get_u8(c);
    const char *name = wire_get_str(c, NULL);
    if (c->err || (what != 'S' && what != 'P'))
        return -EPROTO;
    p->is_portal = what == 'P';
    p->kind = p->is_portal ? portal_kind : stmt_kind;
    p->name = strdup(name);
    return p->name ? 0 : -ENOMEM;
}

/* The client ended copy-in: the server reads its next Sync again. */
static void
client_copy_end(struct session *s)
{
    if (s->copy_in) {
        s->copy_in = false;
        return;
    }
    /* The CopyInResponse may still be on its way: mark where copy-in ends. */
    if (s->fifo.count > 0) {
        struct pending p = {.kind = PEND_COPY_END};
        (void)pending_push(&s->fifo, &p);
    }
}

/* Records what a client message will owe; returns 0, -EPROTO or -ENOMEM. */
static int
client_track(struct session *s, const struct wire_msg *m)
{
    struct wire_cursor c;
    wire_cursor_init(&c, m->body, m->body_len);
    struct pending p = {0};
    int rc = 0;
    switch (m->type) {
    case FE_QUERY:
    case FE_FUNCTION_CALL:
        s->stats.queries += m->type == FE_QUERY;
        p.kind = PEND_QUERY;
        p.fastpath = m->type == FE_FUNCTION_CALL;
        break;
    case FE_PARSE:
        rc = client_parse(&c, &p);
        break;
    case FE_BIND:
        rc = client_bind(&c, &p);
        break;
    case FE_DESCRIBE:
        rc = client_target(&c, &p, PEND_DESCRIBE_S, PEND_DESCRIBE_P);
        break;
    case FE_CLOSE:
        rc = client_target(&c, &p, PEND_CLOSE, PEND_CLOSE);
        break;
    case FE_EXECUTE:
        s->stats.executes++;
        p.kind = PEND_EXECUTE;
        break;
    case FE_SYNC:
        s->stats.syncs++;
        if (s->copy_in)
            return 0; /* ignored by the server during copy-in */
        p.kind = PEND_SYNC;
        break;
    case FE_COPY_DONE:
    case FE_COPY_FAIL:
        client_copy_end(s);
        return 0;
    case FE_FLUSH:
    case FE_COPY_DATA:
        return 0;
    default:
        return -EPROTO;
    }
    if (rc != 0) {
        pending_release(&p);
        return rc;
    }
    return expect(s, &p);
}

session_action
session_on_client(struct session *s, const struct wire_msg *m)
{
    s->stats.client_msgs++;
    switch (s->state) {
    case SESSION_AUTH:
    case SESSION_COPY_BOTH:
        forward(&s->to_server, m);
        return m->type == FE_TERMINATE ? SESSION_CLOSE : SESSION_CONTINUE;
    case SESSION_READY:
        break;
    case SESSION_STARTUP:
    case SESSION_CLOSING:
        return SESSION_CLOSE;
    default:
        abort();
    }
    if (m->type == FE_TERMINATE) {
        forward(&s->to_server, m);
        session_set_state(s, SESSION_CLOSING);
        copy_param(s->close_reason, sizeof(s->close_reason), "client terminated");
        return SESSION_CLOSE;
    }
    /* Literals are only read right with standard_conforming_strings on (docs/parser.md). */
    if (s->st && (m->type == FE_QUERY || m->type == FE_EXECUTE || m->type == FE_FUNCTION_CALL))
        stats_add(&s->st->c.client_stmts, 1);
    if (s->fold && !s->scs_off)
        return fold_client(s, m);
    session_forward(s, m);
    return s->state == SESSION_CLOSING ? SESSION_CLOSE : SESSION_CONTINUE;
}

struct pending *
session_forward(struct session *s, const struct wire_msg *m)
{
    size_t before = s->fifo.count;
    int rc = client_track(s, m);
    if (rc == -ENOMEM) {
        session_fail(s, "53200", "out of memory");
        return NULL;
    }
    if (rc != 0) {
        if (m->type == FE_PARSE || m->type == FE_BIND || m->type == FE_DESCRIBE ||
            m->type == FE_CLOSE) {
            (void)fail_malformed(s, m->type);
            return NULL;
        }
        char msg[64];
        snprintf(msg, sizeof(msg), "invalid frontend message type %d", m->type);
        session_fail(s, "08P01", msg);
        return NULL;
    }
    forward(&s->to_server, m);
    if (s->st && (m->type == FE_QUERY || m->type == FE_EXECUTE || m->type == FE_FUNCTION_CALL))
        stats_add(&s->st->c.server_stmts, 1);
    return s->fifo.count > before ? pending_at(&s->fifo, s->fifo.count - 1) : NULL;
}

struct pending *
session_inject(struct session *s, pend_kind kind, int role, const struct buf *msg)
{
    if (buf_error(msg) || buf_used(msg) == 0)
        return NULL;
    struct pending p = {.kind = kind, .origin = PEND_INTERNAL, .role = role, .t0_us = s->now_us};
    if (pending_push(&s->fifo, &p) != 0)
        return NULL;
    buf_put(&s->to_server, buf_head(msg), buf_used(msg));
    return pending_at(&s->fifo, s->fifo.count - 1);
}

session_action
session_client_drained(struct session *s)
{
    if (s->fold && s->state == SESSION_READY && !s->scs_off)
        fold_client_drained(s);
    return s->state == SESSION_CLOSING ? SESSION_CLOSE : SESSION_CONTINUE;
}

bool
session_blocked(const struct session *s)
{
    return fold_blocked(s->fold);
}

/* ---- server messages -------------------------------------------------------------------- */

/* Applies the server-side effect of a completed entry, then removes it. */
static void
complete_head(struct session *s)
{
    struct pending *h = pending_head(&s->fifo);
    if (!h)
        return;
    if (s->st && (h->kind == PEND_SYNC || h->kind == PEND_QUERY) && h->t0_us) {
        uint64_t us = s->now_us - h->t0_us;
        stats_observe(&s->st->c.upstream_latency, us);
        if (h->origin == PEND_CLIENT)
            stats_observe(&s->st->c.client_latency, us);
    }
    if (h->origin == PEND_INTERNAL) {
        fold_internal_done(s, h);
        pending_pop(&s->fifo);
        return;
    }
    int rc = 0;
    switch (h->kind) {
    case PEND_PARSE:
        rc = prepared_put(&s->stmts, h->name, h->sql, h->oids, h->nparams);
        break;
    case PEND_BIND:
        rc = prepared_put(&s->portals, h->name, h->stmt_name, NULL, 0);
        break;
    case PEND_CLOSE:
        prepared_del(h->is_portal ? &s->portals : &s->stmts, h->name);
        break;
    case PEND_QUERY:
        if (h->fastpath)
            break; /* FunctionCall leaves them alone */
        /* A simple Query drops the unnamed statement and portal (exec_simple_query). */
        prepared_del(&s->stmts, "");
        prepared_del(&s->portals, "");
        break;
    default:
        break;
    }
    (void)rc; /* on ENOMEM the entry is simply not modelled; forwarding stays correct */
    pending_pop(&s->fifo);
    /* A CopyDone/CopyFail outside copy-in is ignored by the server: drop its marker. */
    while ((h = pending_head(&s->fifo)) && h->kind == PEND_COPY_END)
        pending_pop(&s->fifo);
}

/* Completes the head only if it is the kind this response answers. */
static void
complete_if(struct session *s, pend_kind k1, pend_kind k2)
{
    struct pending *h = pending_head(&s->fifo);
    if (h && (h->kind == k1 || h->kind == k2))
        complete_head(s);
}

/* ErrorResponse: a simple Query goes on to ReadyForQuery; extended skips until Sync. */
static void
server_error(struct session *s)
{
    struct pending *h = pending_head(&s->fifo);
    s->copy_in = false;
    s->copy_out = false;
    if (!h || h->kind == PEND_QUERY || h->kind == PEND_SYNC)
        return;
    if (h->kind == PEND_PARSE && h->origin == PEND_INTERNAL)
        fold_internal_done(s, h); /* an unnamed Parse drops the old statement even if it fails */
    else if (h->kind == PEND_PARSE && h->name && h->name[0] == '\0')
        prepared_del(&s->stmts, ""); /* the old unnamed statement was dropped before parsing */
    while ((h = pending_head(&s->fifo)) && h->kind != PEND_SYNC)
        pending_pop(&s->fifo);
    if (!h)
        s->fifo.skipping = true;
}

/* CopyInResponse: the server now ignores Sync and Flush until the client's CopyDone/Fail. */
static void
server_copy_in(struct session *s)
{
    s->copy_in = true;
    for (size_t i = 1; i < s->fifo.count; i++) {
        struct pending *p = pending_at(&s->fifo, i);
        if (p->kind == PEND_COPY_END) {
            pending_remove(&s->fifo, i, i + 1, -1);
            pending_remove(&s->fifo, 1, i, PEND_SYNC);
            s->copy_in = false;
            return;
        }
    }
    /* Nothing pending at all: a CopyInResponse nobody asked for (pending_remove needs
     * from <= count, or it would make up entries). */
    if (s->fifo.count > 1)
        pending_remove(&s->fifo, 1, s->fifo.count, PEND_SYNC);
}

/*
 * AuthenticationSASL lists the server's mechanisms. SCRAM-SHA-256-PLUS binds the exchange to
 * the server's TLS certificate, which the client never sees through pgfold (it sees
 * pgfold's, or no TLS at all): the proof could never match. Offer the client the mechanisms
 * without it. Returns true when it queued the rewritten message itself.
 */
static bool
strip_channel_binding(struct session *s, const struct wire_msg *m)
{
    static const char plus[] = "SCRAM-SHA-256-PLUS";
    struct wire_cursor c;
    wire_cursor_init(&c, m->body, m->body_len);
    if (wire_get_i32(&c) != 10 || c.err)
        return false;
    const uint8_t *p = m->body + 4, *end = m->body + m->body_len;
    const uint8_t *at = NULL;
    for (const uint8_t *q = p; q < end && *q;) {
        const uint8_t *z = memchr(q, 0, (size_t)(end - q));
        if (!z)
            return false; /* malformed: the client's libpq will say so */
        if ((size_t)(z - q) == sizeof(plus) - 1 && memcmp(q, plus, sizeof(plus) - 1) == 0)
            at = q;
        q = z + 1;
    }
    if (!at)
        return false;
    buf_msg_begin(&s->to_client, BE_AUTH);
    buf_put(&s->to_client, m->body, (size_t)(at - m->body));
    buf_put(&s->to_client, at + sizeof(plus), (size_t)(end - at - sizeof(plus)));
    buf_msg_end(&s->to_client);
    return true;
}

static void
server_ready(struct session *s, const struct wire_msg *m)
{
    if (m->body_len != 1)
        return;
    uint8_t before = s->txn_status;
    s->txn_status = m->body[0];
    if (s->fold)
        fold_note_status(s, before);
    if (s->state == SESSION_AUTH) {
        session_set_state(s, SESSION_READY);
        return;
    }
    struct pending *h;
    while ((h = pending_head(&s->fifo)) && h->kind != PEND_SYNC && h->kind != PEND_QUERY)
        pending_pop(&s->fifo); /* skipped after an error the model did not see coming */
    complete_head(s);
    if (s->txn_status == 'I')
        prepared_reset(&s->portals); /* portals end with their transaction */
}

/*
 * A Describe's answers, remembered on the statement or portal described: the RowDescription
 * (so the rows of a later Execute without a Describe can still be read, by fold), and for a
 * statement whose Parse gave no types, the server's ParameterDescription (so its parameters'
 * types are known: a driver that Describes a statement once and then binds binary values).
 */
static void
described(struct session *s, const struct wire_msg *m)
{
    struct pending *h = pending_head(&s->fifo);
    if (!h || h->origin != PEND_CLIENT || (h->kind != PEND_DESCRIBE_S && h->kind != PEND_DESCRIBE_P) ||
        !h->name)
        return;
    struct prepared *e = prepared_get(h->is_portal ? &s->portals : &s->stmts, h->name);
    if (!e)
        return;
    if (m->type == BE_PARAM_DESCRIPTION) {
        struct wire_cursor c;
        wire_cursor_init(&c, m->body, m->body_len);
        int n = wire_get_i16(&c);
        uint32_t oids[256];
        for (int i = 0; i < n && i < 256 && !c.err; i++)
            oids[i] = (uint32_t)wire_get_i32(&c);
        if (!c.err && n >= 0 && n <= 256 && prepared_set_params(e, oids, n) != 0)
            prepared_del(&s->stmts, h->name); /* out of memory: not modelled, forwarded as is */
        return;
    }
    if (prepared_set_desc(e, m->type == BE_ROW_DESCRIPTION ? m->body : NULL,
                          m->type == BE_ROW_DESCRIPTION ? m->body_len : 0) != 0)
        return; /* left undescribed: its rows are then no key source */
}

static void
server_track(struct session *s, const struct wire_msg *m)
{
    switch (m->type) {
    case BE_PARSE_COMPLETE:
        complete_if(s, PEND_PARSE, PEND_PARSE);
        break;
    case BE_BIND_COMPLETE:
        complete_if(s, PEND_BIND, PEND_BIND);
        break;
    case BE_CLOSE_COMPLETE:
        complete_if(s, PEND_CLOSE, PEND_CLOSE);
        break;
    case BE_PARAM_DESCRIPTION:
        described(s, m);
        break;
    case BE_NO_DATA:
    case BE_ROW_DESCRIPTION:
        described(s, m);
        complete_if(s, PEND_DESCRIBE_S, PEND_DESCRIBE_P);
        break;
    case BE_COMMAND_COMPLETE:
        s->copy_out = false;
        complete_if(s, PEND_EXECUTE, PEND_EXECUTE);
        break;
    case BE_EMPTY_QUERY:
    case BE_PORTAL_SUSPENDED:
        complete_if(s, PEND_EXECUTE, PEND_EXECUTE);
        break;
    case BE_ERROR:
        server_error(s);
        break;
    case BE_READY:
        server_ready(s, m);
        break;
    case BE_COPY_IN:
        server_copy_in(s);
        break;
    case BE_COPY_OUT:
        s->copy_out = true;
        break;
    case BE_COPY_BOTH:
        session_set_state(s, SESSION_COPY_BOTH);
        break;
    case BE_PARAM_STATUS: {
        struct wire_cursor c;
        wire_cursor_init(&c, m->body, m->body_len);
        const char *name = wire_get_str(&c, NULL);
        const char *value = wire_get_str(&c, NULL);
        if (!c.err && strcmp(name, "standard_conforming_strings") == 0)
            s->scs_off = strcmp(value, "on") != 0;
        break;
    }
    case BE_BACKEND_KEY:
        if (m->body_len == 8) {
            struct wire_cursor c;
            wire_cursor_init(&c, m->body, m->body_len);
            s->backend_pid = wire_get_i32(&c);
            s->backend_key = wire_get_i32(&c);
        }
        break;
    default:
        break; /* DataRow, CopyData, notices, notifications, ParameterStatus, ... */
    }
}

session_action
session_on_server(struct session *s, const struct wire_msg *m)
{
    s->stats.server_msgs++;
    if (s->state == SESSION_CLOSING)
        return SESSION_CLOSE;
    bool consumed = false;
    if (s->state == SESSION_AUTH && m->type == BE_AUTH && strip_channel_binding(s, m))
        return SESSION_CONTINUE;
    if (s->fold && s->state == SESSION_READY)
        consumed = fold_server(s, m);
    if (s->state != SESSION_COPY_BOTH)
        server_track(s, m);
    if (!consumed)
        forward(&s->to_client, m);
    else if (m->type == BE_READY)
        fold_after_ready(s);
    return s->state == SESSION_CLOSING ? SESSION_CLOSE : SESSION_CONTINUE;
}
