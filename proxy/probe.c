/*
 * probe: one readiness check of the upstream at a time, on the main loop. See probe.h.
 *
 * A check (struct probe_try) owns a timer, a socket and, while the host name resolves, a
 * getaddrinfo request; it is freed in the last close callback (refs counts them), so the
 * probe may start the next check while the last one's handles are still closing. The answer
 * is recorded and handed to every waiter the moment it is known; closing comes after.
 *
 * The verdict on the server's first messages, as pg_isready (libpq's PQping) judges them:
 *   AuthenticationOk ... ReadyForQuery, or any other authentication request  -> ready
 *   ErrorResponse 57xxx (starting up, shutting down, in recovery), 53xxx (too many
 *   connections, out of memory), 08xxx (connection exception)                -> not ready
 *   any other ErrorResponse (no such role or database, pg_hba.conf refuses)  -> ready: the
 *   server is up and answering logins; which logins succeed is the clients' business.
 */
#include "proxy/probe.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pgwire/buf.h"
#include "pgwire/wire.h"

struct probe_try {
    struct probe *p; /* NULL once answered */
    union {
        uv_handle_t handle;
        uv_stream_t stream;
        uv_tcp_t tcp;
        uv_pipe_t pipe;
    } s;
    uv_timer_t timer;
    uv_getaddrinfo_t gai;
    uv_connect_t creq;
    uv_write_t wreq;
    int refs; /* open handles and the resolve in flight; freed at zero */
    bool sock;
    bool gai_active;
    bool authed; /* AuthenticationOk seen: wait for ReadyForQuery */
    struct buf in;
    struct buf out;
    uint8_t rbuf[1024];
};

static uint64_t
now_ms(void)
{
    return uv_hrtime() / 1000000;
}

void
probe_init(struct probe *p, uv_loop_t *loop, const struct config *cfg)
{
    memset(p, 0, sizeof(*p));
    p->loop = loop;
    p->cfg = cfg;
}

static void
unref(struct probe_try *t)
{
    if (--t->refs > 0)
        return;
    buf_free(&t->in);
    buf_free(&t->out);
    free(t);
}

static void
on_closed(uv_handle_t *h)
{
    unref(h->data);
}

/* Records the answer, tells every waiter, then closes what the check holds. */
static void
finish(struct probe_try *t, bool ready, const char *why)
{
    struct probe *p = t->p;
    if (!p)
        return;
    t->p = NULL;
    p->running = NULL;
    p->ready = ready;
    snprintf(p->why, sizeof(p->why), "%s", why);
    p->answered_ms = now_ms();
    struct probe_wait *w = p->waiters;
    p->waiters = NULL;
    while (w) {
        struct probe_wait *next = w->next;
        w->done(w, ready, p->why);
        w = next;
    }
    uv_close((uv_handle_t *)&t->timer, on_closed);
    if (t->sock)
        uv_close(&t->s.handle, on_closed);
    if (t->gai_active)
        uv_cancel((uv_req_t *)&t->gai);
}

static void
fail_uv(struct probe_try *t, const char *what, int status)
{
    char why[160];
    snprintf(why, sizeof(why), "upstream: %s: %s", what, uv_strerror(status));
    finish(t, false, why);
}

static void
on_timeout(uv_timer_t *tm)
{
    finish(tm->data, false, "upstream: no answer in time");
}

/* An ErrorResponse as the first answer: is the server up but refusing this login, or not? */
static void
judge_error(struct probe_try *t, const struct wire_msg *m)
{
    const char *code = wire_error_field(m->body, m->body_len, 'C');
    const char *msg = wire_error_field(m->body, m->body_len, 'M');
    char why[192];
    snprintf(why, sizeof(why), "upstream: %s %s", code ? code : "?", msg ? msg : "");
    bool down = !code || strncmp(code, "57", 2) == 0 || strncmp(code, "53", 2) == 0 ||
                strncmp(code, "08", 2) == 0;
    finish(t, !down, down ? why : "accepting connections");
}

/* Terminate after ReadyForQuery, so the backend ends as after any polite client. */
static void
say_goodbye(struct probe_try *t)
{
    static const uint8_t terminate[5] = {'X', 0, 0, 0, 4};
    uv_buf_t b = uv_buf_init((char *)terminate, sizeof(terminate));
    (void)uv_try_write(&t->s.stream, &b, 1);
}

/* One whole server message. Returns false once the check is answered. */
static bool
judge(struct probe_try *t, const struct wire_msg *m)
{
    struct wire_cursor c;
    switch (m->type) {
    case BE_AUTH:
        wire_cursor_init(&c, m->body, m->body_len);
        if (wire_get_i32(&c) == 0 && !c.err) {
            t->authed = true; /* trust: read on to ReadyForQuery, then say goodbye */
            return true;
        }
        finish(t, true, "accepting connections"); /* a password request: leave it there */
        return false;
    case BE_ERROR:
        judge_error(t, m);
        return false;
    case BE_READY:
        say_goodbye(t);
        finish(t, t->authed, t->authed ? "accepting connections" : "upstream: unexpected answer");
        return false;
    case BE_PARAM_STATUS:
    case BE_BACKEND_KEY:
    case BE_NOTICE:
    case BE_NEGOTIATE_VERSION:
        return true;
    default:
        finish(t, false, "upstream: unexpected answer to a startup packet");
        return false;
    }
}

static void
on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
    (void)hint;
    struct probe_try *t = h->data;
    *b = uv_buf_init((char *)t->rbuf, sizeof(t->rbuf));
}

static void
on_read(uv_stream_t *st, ssize_t n, const uv_buf_t *b)
{
    struct probe_try *t = st->data;
    if (!t->p || n == 0)
        return;
    if (n < 0) {
        fail_uv(t, "read", (int)n);
        return;
    }
    buf_put(&t->in, b->base, (size_t)n);
    struct wire_msg m;
    int rc;
    while ((rc = wire_frame(buf_head(&t->in), buf_used(&t->in), 65536, &m)) == 0) {
        bool more = judge(t, &m);
        if (!more)
            return;
        buf_consume(&t->in, m.wire_len);
    }
    if (rc != -EAGAIN || buf_error(&t->in) || buf_used(&t->in) > 65536)
        finish(t, false, "upstream: malformed answer to a startup packet");
}

static void
on_written(uv_write_t *w, int status)
{
    struct probe_try *t = w->data;
    if (status < 0 && t->p)
        fail_uv(t, "write", status);
}

/* The startup packet: protocol 3.0, user, database when the upstream names one. */
static void
send_startup(struct probe_try *t, const struct config *cfg)
{
    buf_msg_begin(&t->out, 0);
    buf_put_i32(&t->out, WIRE_PROTO_3);
    buf_put_str(&t->out, "user");
    buf_put_str(&t->out, cfg->ready_user);
    if (cfg->upstream_dbname[0]) {
        buf_put_str(&t->out, "database");
        buf_put_str(&t->out, cfg->upstream_dbname);
    }
    buf_put_str(&t->out, "application_name");
    buf_put_str(&t->out, "pgfold-ready");
    buf_put_u8(&t->out, 0);
    buf_msg_end(&t->out);
    uv_buf_t b = uv_buf_init((char *)buf_head(&t->out), (unsigned)buf_used(&t->out));
    t->wreq.data = t;
    int rc = buf_error(&t->out) ? UV_ENOMEM : uv_write(&t->wreq, &t->s.stream, &b, 1, on_written);
    if (rc == 0)
        rc = uv_read_start(&t->s.stream, on_alloc, on_read);
    if (rc < 0)
        fail_uv(t, "write", rc);
}

static void
on_connected(uv_connect_t *req, int status)
{
    struct probe_try *t = req->data;
    if (!t->p)
        return;
    if (status < 0) {
        fail_uv(t, "connect", status);
        return;
    }
    if (!t->p->cfg->ready_user[0]) {
        finish(t, true, "accepting connections (connect only: ready_user is empty)");
        return;
    }
    send_startup(t, t->p->cfg);
}

static void
on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    struct probe_try *t = req->data;
    t->gai_active = false;
    if (!t->p || status < 0) {
        if (t->p)
            fail_uv(t, "resolve", status);
        uv_freeaddrinfo(res);
        unref(t);
        return;
    }
    uv_tcp_init(t->p->loop, &t->s.tcp);
    t->s.handle.data = t;
    t->sock = true;
    t->refs++;
    t->creq.data = t;
    int rc = uv_tcp_connect(&t->creq, &t->s.tcp, res->ai_addr, on_connected);
    uv_freeaddrinfo(res);
    unref(t); /* the resolve's reference; the socket holds its own */
    if (rc < 0)
        fail_uv(t, "connect", rc);
}

/* Starts a check of p's upstream; on failure answers at once. */
static void
start(struct probe *p)
{
    struct probe_try *t = calloc(1, sizeof(*t));
    if (!t) {
        snprintf(p->why, sizeof(p->why), "out of memory");
        return;
    }
    const struct config *cfg = p->cfg;
    t->p = p;
    p->running = t;
    buf_init(&t->in);
    buf_init(&t->out);
    uv_timer_init(p->loop, &t->timer);
    t->timer.data = t;
    t->refs = 1;
    uint64_t ms =
        cfg->connect_timeout_ms < PROBE_TIMEOUT_MS ? cfg->connect_timeout_ms : PROBE_TIMEOUT_MS;
    uv_timer_start(&t->timer, on_timeout, ms, 0);
    if (cfg->upstream_host[0] == '/') {
        char path[CONFIG_ADDR_MAX + 32];
        snprintf(path, sizeof(path), "%s/.s.PGSQL.%d", cfg->upstream_host, cfg->upstream_port);
        uv_pipe_init(p->loop, &t->s.pipe, 0);
        t->s.handle.data = t;
        t->sock = true;
        t->refs++;
        t->creq.data = t;
        uv_pipe_connect(&t->creq, &t->s.pipe, path, on_connected);
        return;
    }
    char port[16];
    snprintf(port, sizeof(port), "%d", cfg->upstream_port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    t->gai.data = t;
    int rc = uv_getaddrinfo(p->loop, &t->gai, on_resolved, cfg->upstream_host, port, &hints);
    if (rc < 0) {
        fail_uv(t, "resolve", rc);
        return;
    }
    t->gai_active = true;
    t->refs++;
}

void
probe_ask(struct probe *p, struct probe_wait *w)
{
    if (p->answered_ms && now_ms() - p->answered_ms < PROBE_CACHE_MS && !p->running) {
        w->done(w, p->ready, p->why);
        return;
    }
    w->next = p->waiters;
    p->waiters = w;
    if (!p->running)
        start(p);
    if (!p->running && p->waiters) {
        /* Could not even start a check: answer every waiter now. */
        struct probe_wait *q = p->waiters;
        p->waiters = NULL;
        for (; q; q = w) {
            w = q->next;
            q->done(q, false, p->why);
        }
    }
}
