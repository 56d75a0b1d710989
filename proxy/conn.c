/*
 * conn: the transport half of a session. One client socket, one upstream socket, one loop.
 *
 * Bytes flow: a read lands in the worker's scratch buffer; whole messages are handed to the
 * session straight from there, and only a trailing partial message is copied into the side's
 * own `in` buffer to wait for the rest. The session appends what must go out to to_client /
 * to_server; after each read those are handed to uv_write (one write per read, never one per
 * message). While a write is in flight new output gathers in the session buffer; when the
 * queued bytes for a side pass buffer_bytes, reading from the other side stops until the
 * write drains: a slow reader never makes pgfold's memory grow without bound.
 *
 * TLS (either side) sits between the socket and the session: ciphertext read goes into the
 * side's struct tls, plaintext out of it is fed to the session as above; what the session
 * queues is encrypted into the side's `enc` buffer, which is then what gets written. `enc`
 * also carries the few plain bytes of TLS negotiation (the 'S' answer to a client's
 * SSLRequest, our own SSLRequest to the server).
 *
 * The upstream leg (resolve, connect, SSL negotiation) and the TLS glue are in conn_up.c.
 *
 * Ownership: struct conn is freed only in the last close callback (handles counts them, and
 * an in-flight getaddrinfo counts as one).
 */
#include "proxy/conn.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proxy/conn_int.h"
#include "proxy/fold.h"
#include "proxy/log.h"
#include "proxy/server.h"
#include "proxy/session.h"
#include "proxy/tls.h"
#include "proxy/worker.h"

/* ---- list and lifetime ---------------------------------------------------------------- */

/* Drops one reference (a closed handle or a finished request); frees at zero. */
void
conn_unref(struct conn *c)
{
    if (--c->handles > 0)
        return;
    struct worker *w = c->w;
    if (c->prev)
        c->prev->next = c->next;
    else
        w->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    w->nconns--;
    if (c->counted)
        atomic_fetch_sub(&w->srv->stats.client_conns, 1);
    conn_log_end(c);
    conn_console_free(c);
    w->srv->stats.client_msgs_total += c->s.stats.client_msgs;
    w->srv->stats.server_msgs_total += c->s.stats.server_msgs;
    buf_free(&c->client.in);
    buf_free(&c->client.inflight);
    buf_free(&c->server.in);
    buf_free(&c->server.inflight);
    buf_free(&c->client.enc);
    buf_free(&c->server.enc);
    tls_free(c->client.tls);
    tls_free(c->server.tls);
    session_close(&c->s);
    free(c);
    worker_conn_removed(w);
}

static void
on_handle_closed(uv_handle_t *h)
{
    conn_unref(h->data);
}

static void
close_handle(uv_handle_t *h)
{
    if (!uv_is_closing(h))
        uv_close(h, on_handle_closed);
}

void
conn_close(struct conn *c)
{
    if (c->dead)
        return;
    c->dead = true;
    conn_log_close(c);
    close_handle((uv_handle_t *)&c->timer);
    if (c->client.inited)
        close_handle(&c->client.h.handle);
    if (c->server.inited)
        close_handle(&c->server.h.handle);
    if (c->gai_active)
        uv_cancel((uv_req_t *)&c->gai);
}

void
conn_abort_all(struct worker *w)
{
    for (struct conn *c = w->conns; c; c = c->next)
        conn_close(c);
}

void
conn_terminate_all(struct worker *w, const char *sqlstate, const char *message)
{
    for (struct conn *c = w->conns; c; c = c->next) {
        if (c->dead || c->closing)
            continue;
        session_fail(&c->s, sqlstate, message);
        c->closing = true;
        conn_flush(c);
    }
}

/* ---- writing ---------------------------------------------------------------------------- */

static size_t
queued(const struct side *sd, const struct buf *out)
{
    return buf_used(&sd->inflight) + buf_used(&sd->enc) + buf_used(out);
}

static void on_client_read(uv_stream_t *st, ssize_t n, const uv_buf_t *b);
static void on_server_read(uv_stream_t *st, ssize_t n, const uv_buf_t *b);
static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b);

void
conn_side_read(struct conn *c, struct side *sd, bool on)
{
    if (!sd->inited || c->dead || sd->reading == on)
        return;
    if (on) {
        uv_read_cb cb = sd == &c->client ? on_client_read : on_server_read;
        if (uv_read_start(&sd->h.stream, on_alloc, cb) == 0)
            sd->reading = true;
    } else {
        uv_read_stop(&sd->h.stream);
        sd->reading = false;
    }
}

/*
 * Resumes reading a side paused by backpressure once what it feeds has drained below half:
 * the server feeds the client; the client feeds the server, and also itself (the answers
 * pgfold gives locally in rewrite mode), so it waits for both queues.
 */
static void
relieve(struct conn *c, struct side *sd)
{
    size_t half = c->w->cfg.buffer_bytes / 2;
    bool client_ok = queued(&c->client, &c->s.to_client) <= half;
    if (sd == &c->client && c->server.paused && client_ok) {
        c->server.paused = false;
        conn_side_read(c, &c->server, true);
    }
    if (c->client.paused && client_ok && queued(&c->server, &c->s.to_server) <= half) {
        c->client.paused = false;
        conn_side_read(c, &c->client, true);
    }
}

static void side_write(struct conn *c, struct side *sd, struct buf *out);

static void
on_write(uv_write_t *req, int status)
{
    struct side *sd = req->data;
    struct conn *c = req->handle->data;
    sd->writing = false;
    buf_reset(&sd->inflight);
    if (sd->inflight.cap > 4 * WORKER_READ_CHUNK)
        buf_free(&sd->inflight); /* do not keep a large buffer for an idle session */
    if (c->dead)
        return;
    if (status < 0) {
        slog_debug(&c->s, "write to %s failed: %s", sd == &c->client ? "client" : "server",
                   uv_strerror(status));
        conn_close(c);
        return;
    }
    relieve(c, sd);
    conn_flush(c);
}


/* Writes out (plaintext of the session; NULL while the upstream is still negotiating). */
static void
side_write(struct conn *c, struct side *sd, struct buf *out)
{
    if (sd->writing || !sd->inited)
        return;
    if (sd->tls && out && buf_used(out) && tls_established(sd->tls)) {
        if (tls_write(sd->tls, out) < 0 || tls_take(sd->tls, &sd->enc) < 0) {
            conn_up_tls_failed(c, sd);
            return;
        }
    }
    struct buf *plain = out;
    if (sd->tls || buf_used(&sd->enc))
        out = &sd->enc;
    if (!out || buf_used(out) == 0)
        return;
    /* Most writes fit the socket at once: try that first. A uv_write() that completes at
     * once still makes libuv 1.44 re-register the socket with epoll (one more system call
     * per message exchange); only what the socket did not take goes through uv_write(). */
    uv_buf_t now = uv_buf_init((char *)buf_head(out), (unsigned)buf_used(out));
    int n = uv_try_write(&sd->h.stream, &now, 1);
    if (n < 0 && n != UV_EAGAIN && n != UV_ENOSYS) {
        slog_debug(&c->s, "write failed: %s", uv_strerror(n));
        conn_close(c);
        return;
    }
    if (n > 0)
        buf_consume(out, (size_t)n);
    if (buf_used(out) == 0) {
        if (out == &sd->enc && !sd->tls && plain && buf_used(plain)) {
            side_write(c, sd, plain); /* negotiation bytes gone: plain text follows them */
            return;
        }
        relieve(c, sd);
        return;
    }
    buf_swap(&sd->inflight, out);
    uv_buf_t b = uv_buf_init((char *)buf_head(&sd->inflight), (unsigned)buf_used(&sd->inflight));
    sd->wreq.data = sd;
    int rc = uv_write(&sd->wreq, &sd->h.stream, &b, 1, on_write);
    if (rc < 0) {
        slog_debug(&c->s, "write failed: %s", uv_strerror(rc));
        conn_close(c);
        return;
    }
    sd->writing = true;
}

static void
cancel_wait_over(uv_timer_t *t)
{
    struct conn *c = t->data;
    c->cancel_over = true;
    conn_close(c);
}

/* Sends what the session queued; closes once everything owed has gone out when closing. */
void
conn_flush(struct conn *c)
{
    if (c->dead)
        return;
    if (buf_error(&c->s.to_client) || buf_error(&c->s.to_server)) {
        slog_error(&c->s, "out of memory building a message; closing");
        conn_close(c);
        return;
    }
    side_write(c, &c->client, &c->s.to_client);
    side_write(c, &c->server, c->server_up ? &c->s.to_server : NULL);
    if (c->dead || !c->closing)
        return;
    bool server_done = !c->server_up || (!c->server.writing && !buf_used(&c->s.to_server) &&
                                         !buf_used(&c->server.enc));
    if (c->cancel && !c->cancel_over) {
        /* The CancelRequest has to reach the server; then, as libpq's PQcancel does, wait
         * for the server to close (PgBouncer acts on a cancel only while its requester is
         * still connected), at most connect_timeout_ms. */
        if (c->server_up && server_done && !c->cancel_wait) {
            c->cancel_wait = true;
            uv_timer_start(&c->timer, cancel_wait_over, c->w->cfg.connect_timeout_ms, 0);
        }
        return;
    }
    if (!c->client.writing && !buf_used(&c->s.to_client) && !buf_used(&c->client.enc) &&
        server_done)
        conn_close(c);
}

/* ---- upstream connect ------------------------------------------------------------------- */









/* ---- reading ---------------------------------------------------------------------------- */

static void
on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
    (void)hint;
    struct conn *c = h->data;
    b->base = (char *)c->w->scratch;
    b->len = sizeof(c->w->scratch);
}

static session_action
frame_error(struct conn *c, bool from_client, int rc)
{
    if (!from_client) {
        slog_error(&c->s, "malformed message from server (%s)", rc == -EMSGSIZE ? "too large"
                                                                                : "bad length");
        session_fail(&c->s, "08P01", "pgfold: protocol violation from the upstream server");
        return SESSION_CLOSE;
    }
    if (c->s.state == SESSION_STARTUP) {
        /* PostgreSQL logs it (COMMERROR) and closes without a word: a client that sent
         * Terminate ahead of its startup packet (node-postgres's connect() then end()) must
         * see a plain close, not an error it reports. */
        session_drop(&c->s, "invalid length of startup packet");
        return SESSION_CLOSE;
    }
    if (rc == -EMSGSIZE)
        session_fail(&c->s, "08P01", "message too large");
    else
        session_fail(&c->s, "08P01", "invalid message length");
    slog_warn(&c->s, "client protocol violation: %s", c->s.close_reason);
    return SESSION_CLOSE;
}

static session_action
deliver(struct conn *c, bool from_client, const struct wire_msg *m)
{
    if (!from_client) {
        if (m->type == BE_ERROR) {
            const char *sev = wire_error_field(m->body, m->body_len, 'V');
            c->server_fatal = sev && (!strcmp(sev, "FATAL") || !strcmp(sev, "PANIC"));
            conn_log_server_error(c, m);
        }
        session_state before = c->s.state;
        session_action a = session_on_server(&c->s, m);
        if (before == SESSION_AUTH && c->s.state == SESSION_READY)
            conn_log_login(c);
        return a;
    }
    if (c->s.state == SESSION_STARTUP)
        return session_on_startup(&c->s, m);
    if (c->console)
        return conn_console_msg(c, m);
    if (c->s.state == SESSION_READY &&
        (m->type == FE_QUERY || m->type == FE_EXECUTE || m->type == FE_FUNCTION_CALL)) {
        c->statements++; /* the close line's and SHOW CLIENTS' count */
        c->fastpath += m->type == FE_FUNCTION_CALL;
    }
    return session_on_client(&c->s, m);
}

static void
act(struct conn *c, session_action a)
{
    switch (a) {
    case SESSION_CONTINUE:
        return;
    case SESSION_CONNECT:
        uv_timer_stop(&c->timer);
        if (c->s.admin) {
            act(c, conn_console_start(c)); /* pgfold's console: no upstream */
            return;
        }
        if (c->s.fold)
            c->s.catalog = worker_catalog(c->w, c->s.database[0] ? c->s.database : c->s.user);
        conn_up_start(c);
        return;
    case SESSION_CANCEL:
        /* The client expects no answer; the server closes after reading the request. */
        conn_side_read(c, &c->client, false);
        c->closing = true;
        c->cancel = true;
        uv_timer_stop(&c->timer);
        conn_up_start(c);
        return;
    case SESSION_CLOSE:
        c->closing = true;
        conn_side_read(c, &c->client, false);
        return;
    case SESSION_TLS:
        /* 'S' goes out in plain text; every byte after it is TLS. */
        buf_put(&c->client.enc, buf_head(&c->s.to_client), buf_used(&c->s.to_client));
        buf_reset(&c->s.to_client);
        c->client.tls = tls_new_server(c->w->srv->tls_server);
        if (!c->client.tls) {
            slog_error(&c->s, "out of memory starting TLS; closing");
            conn_close(c);
            return;
        }
        c->s.client_tls = true;
        return;
    default:
        abort();
    }
}

/* Frames and delivers every whole message in p[0..n) plus what was carried over. */
void
conn_feed(struct conn *c, struct side *sd, const uint8_t *p, size_t n)
{
    bool from_client = sd == &c->client;
    const uint8_t *data = p;
    size_t len = n, off = 0;
    if (buf_used(&sd->in)) {
        buf_put(&sd->in, p, n);
        data = buf_head(&sd->in);
        len = buf_used(&sd->in);
    }
    size_t max = c->w->cfg.max_message_bytes;
    c->s.now_ms = uv_now(&c->w->loop);
    c->s.now_us = uv_hrtime() / 1000;
    while (off < len && !c->closing) {
        if (from_client && session_blocked(&c->s))
            break; /* a batch is in flight: the rest waits in client.in */
        struct wire_msg m;
        int rc = from_client && c->s.state == SESSION_STARTUP
                     ? wire_frame_startup(data + off, len - off, &m)
                     : wire_frame(data + off, len - off, max, &m);
        if (rc == -EAGAIN)
            break;
        session_action a = rc < 0 ? frame_error(c, from_client, rc) : deliver(c, from_client, &m);
        if (rc == 0)
            off += m.wire_len;
        act(c, a);
        if (rc < 0 || c->dead)
            break;
        if (a == SESSION_TLS) {
            /* Bytes sent after SSLRequest, before TLS, could have been injected by anyone
             * on the path (CVE-2021-23214): refuse them after the 'S', as PostgreSQL does. */
            if (off < len) {
                tls_free(c->client.tls);
                c->client.tls = NULL;
                c->s.client_tls = false;
                session_after_plain(&c->s);
                slog_warn(&c->s, "%s", c->s.close_reason);
                act(c, SESSION_CLOSE);
            }
            off = len;
            break;
        }
        if (c->s.answered_plain) {
            /* The same after an 'N': PostgreSQL checks its buffer after either answer. */
            c->s.answered_plain = false;
            if (off < len) {
                session_after_plain(&c->s);
                slog_warn(&c->s, "%s", c->s.close_reason);
                act(c, SESSION_CLOSE);
                off = len;
                break;
            }
        }
    }
    if (data == p) {
        if (off < len && !c->closing)
            buf_put(&sd->in, data + off, len - off);
    } else {
        buf_consume(&sd->in, off);
    }
    if (sd->in.cap > 4 * WORKER_READ_CHUNK && buf_used(&sd->in) == 0)
        buf_free(&sd->in);
    /* Every whole message the client sent is delivered: the rewrite path must not go on
     * holding any that the client may be waiting on (a pipeline without Sync). */
    if (from_client && buf_used(&sd->in) == 0 && !c->closing && !c->dead &&
        !session_blocked(&c->s))
        act(c, session_client_drained(&c->s));
    conn_log_publish(c);
}

/* Stops reading a side whose output is piling up on the other. */
static void
push_back(struct conn *c, struct side *src, struct side *dst, const struct buf *out)
{
    if (!src->paused && queued(dst, out) > c->w->cfg.buffer_bytes) {
        src->paused = true;
        conn_side_read(c, src, false);
    }
}

void
conn_client_gone(struct conn *c, const char *why)
{
    slog_debug(&c->s, "client closed: %s", why);
    if (!c->s.close_reason[0])
        snprintf(c->s.close_reason, sizeof(c->s.close_reason), "client closed the connection");
    conn_close(c);
}

void
conn_server_gone(struct conn *c, const char *why)
{
    if (!c->closing && !c->server_fatal && c->s.state != SESSION_STARTUP) {
        slog_warn(&c->s, "upstream closed the connection: %s", why);
        session_fail(&c->s, "08006", "server closed the connection unexpectedly");
    }
    if (!c->s.close_reason[0])
        snprintf(c->s.close_reason, sizeof(c->s.close_reason), "server closed the connection");
    conn_side_read(c, &c->server, false);
    c->server_up = false;
    c->closing = true;
    c->cancel_over = true; /* a CancelRequest connection: the server has acted on it */
    conn_flush(c);
}



static void
on_client_read(uv_stream_t *st, ssize_t n, const uv_buf_t *b)
{
    struct conn *c = st->data;
    if (n < 0) {
        conn_client_gone(c, uv_strerror((int)n));
        return;
    }
    if (n == 0 || c->dead)
        return;
    if (c->client.tls)
        conn_up_tls_in(c, &c->client, (const uint8_t *)b->base, (size_t)n);
    else
        conn_feed(c, &c->client, (const uint8_t *)b->base, (size_t)n);
    if (c->dead)
        return;
    push_back(c, &c->client, &c->server, &c->s.to_server);
    /* Answers given locally pile up for a client that does not read them, as server results
     * would: stop reading its requests too (PostgreSQL stops reading while it cannot send). */
    push_back(c, &c->client, &c->client, &c->s.to_client);
    if (session_blocked(&c->s) && !c->client.held) {
        c->client.held = true;
        conn_side_read(c, &c->client, false);
    }
    conn_flush(c);
}

/* After a batch answered: deliver what the client sent meanwhile, then read again. */
static void
release_client(struct conn *c)
{
    if (session_blocked(&c->s) || !c->client.held || c->dead)
        return;
    if (buf_used(&c->client.in))
        conn_feed(c, &c->client, NULL, 0);
    else if (!session_blocked(&c->s) && !c->closing)
        act(c, session_client_drained(&c->s)); /* nothing came meanwhile: as conn_feed ends */
    if (session_blocked(&c->s) || c->dead)
        return;
    c->client.held = false;
    if (!c->client.paused && !c->closing)
        conn_side_read(c, &c->client, true);
}

static void
on_server_read(uv_stream_t *st, ssize_t n, const uv_buf_t *b)
{
    struct conn *c = st->data;
    if (n < 0) {
        if (c->ssl_wait || (c->server.tls && !tls_established(c->server.tls)))
            conn_up_refused(c, "SSL", "the server closed the connection during negotiation");
        else
            conn_server_gone(c, uv_strerror((int)n));
        return;
    }
    if (n == 0 || c->dead)
        return;
    if (c->ssl_wait)
        conn_up_ssl_answer(c, (const uint8_t *)b->base, (size_t)n);
    else if (c->server.tls)
        conn_up_tls_in(c, &c->server, (const uint8_t *)b->base, (size_t)n);
    else
        conn_feed(c, &c->server, (const uint8_t *)b->base, (size_t)n);
    if (c->dead)
        return;
    push_back(c, &c->server, &c->client, &c->s.to_client);
    release_client(c);
    conn_flush(c);
}

/* ---- start ------------------------------------------------------------------------------ */

int
conn_start(struct worker *w, int fd, bool is_unix)
{
    struct conn *c = calloc(1, sizeof(*c));
    if (!c) {
        close(fd);
        return UV_ENOMEM;
    }
    c->w = w;
    struct server *srv = w->srv;
    session_init(&c->s, atomic_fetch_add(&srv->next_session_id, 1) + 1, &w->cfg);
    c->s.shapes = w->shapes;
    c->s.st = &srv->st;
    c->s.fresh = &srv->fresh;
    if (w->cfg.mode != MODE_PASSTHROUGH && w->shapes)
        c->s.fold = fold_new(&c->s, w->shapes);
    buf_init(&c->client.in);
    buf_init(&c->client.inflight);
    buf_init(&c->server.in);
    buf_init(&c->server.inflight);
    buf_init(&c->client.enc);
    buf_init(&c->server.enc);
    int rc = is_unix ? uv_pipe_init(&w->loop, &c->client.h.pipe, 0)
                     : uv_tcp_init(&w->loop, &c->client.h.tcp);
    if (rc == 0)
        rc = is_unix ? uv_pipe_open(&c->client.h.pipe, fd) : uv_tcp_open(&c->client.h.tcp, fd);
    if (rc < 0) {
        close(fd);
        session_close(&c->s);
        free(c);
        return rc;
    }
    c->client.h.handle.data = c;
    c->client.inited = true;
    conn_log_start(c, is_unix);
    uv_timer_init(&w->loop, &c->timer);
    c->timer.data = c;
    c->handles = 2;
    c->next = w->conns;
    if (w->conns)
        w->conns->prev = c;
    w->conns = c;
    w->nconns++;
    if (!is_unix)
        uv_tcp_nodelay(&c->client.h.tcp, 1);

    c->counted = true;
    uint64_t n = atomic_fetch_add(&srv->stats.client_conns, 1) + 1;
    atomic_fetch_add(&srv->stats.accepted_total, 1);
    if (n > w->cfg.max_client_conn) {
        atomic_fetch_add(&srv->stats.rejected_total, 1);
        c->s.reject = true;
        c->s.reject_state = "53300";
        c->s.reject_msg = "sorry, too many clients already";
    }
    slog_debug(&c->s, "accepted %s connection", is_unix ? "unix" : "tcp");
    uv_timer_start(&c->timer, conn_up_timeout, w->cfg.connect_timeout_ms, 0);
    conn_side_read(c, &c->client, true);
    return 0;
}
