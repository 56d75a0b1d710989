/*
 * conn_up: the upstream leg of a connection, and TLS on either leg.
 *
 * After the session accepted the client's startup packet: resolve the upstream host (or use
 * its unix socket), connect under connect_timeout_ms, send our own SSLRequest when the
 * upstream sslmode asks for TLS and judge the one-byte answer as libpq would (prefer falls
 * back to plain text on 'N'; bytes after the answer are refused, CVE-2021-23222). TLS records
 * of either side pass through tls_in, which feeds the plaintext to conn_feed.
 *
 * Errors end the session with FATAL 08006 (what failed and why) before both sides close.
 */
#include <stdio.h>
#include <string.h>

#include "proxy/conn_int.h"
#include "proxy/log.h"
#include "proxy/server.h"
#include "proxy/tls.h"
#include "proxy/worker.h"

/* An SSLRequest, as libpq sends it before the startup packet. */
static const uint8_t ssl_request[8] = {0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f};

void
conn_up_refused(struct conn *c, const char *what, const char *why)
{
    char msg[CONFIG_ADDR_MAX + 320];
    snprintf(msg, sizeof(msg), "pgfold: could not connect to upstream %s:%d: %s: %s",
             c->w->cfg.upstream_host, c->w->cfg.upstream_port, what, why);
    slog_warn(&c->s, "%s", msg);
    atomic_fetch_add(&c->w->srv->stats.upstream_failures_total, 1);
    c->upstream_failed = true;
    c->cancel_over = true;
    c->server_up = false;
    session_fail(&c->s, "08006", msg);
    c->closing = true;
    conn_flush(c);
}

static void
upstream_failed(struct conn *c, const char *what, int status)
{
    conn_up_refused(c, what, uv_strerror(status));
}

static void
on_connected(uv_connect_t *req, int status)
{
    struct conn *c = req->data;
    if (c->dead)
        return;
    if (status < 0) {
        upstream_failed(c, "connect", status);
        return;
    }
    if (c->server.h.handle.type == UV_TCP)
        uv_tcp_nodelay(&c->server.h.tcp, 1);
    conn_side_read(c, &c->server, true);
    if (c->w->srv->tls_client) {
        /* The connect timer keeps running until the TLS handshake is done. */
        buf_put(&c->server.enc, ssl_request, sizeof(ssl_request));
        c->ssl_wait = true;
    } else {
        uv_timer_stop(&c->timer);
        c->server_up = true;
    }
    conn_flush(c);
}

/* The server's answer to our SSLRequest: 'S' starts the handshake, 'N' is plain text. */
void
conn_up_ssl_answer(struct conn *c, const uint8_t *p, size_t n)
{
    const char *mode = c->w->cfg.upstream_sslmode;
    c->ssl_wait = false;
    if (p[0] == 'N' && strcmp(mode, "prefer") == 0) {
        uv_timer_stop(&c->timer);
        c->server_up = true;
        if (n > 1)
            conn_up_refused(c, "SSL", "received unencrypted data after SSL response");
        return;
    }
    if (p[0] == 'N') {
        conn_up_refused(c, "SSL", "server does not support SSL, but SSL was required (sslmode)");
        return;
    }
    if (p[0] != 'S') {
        conn_up_refused(c, "SSL",
                        p[0] == 'E' ? "the server answered SSLRequest with an error"
                                    : "received invalid response to SSL negotiation");
        return;
    }
    if (n > 1) {
        /* Bytes after 'S' were sent before TLS: never trust them (CVE-2021-23222). */
        conn_up_refused(c, "SSL", "received unencrypted data after SSL response");
        return;
    }
    c->server.tls =
        tls_new_client(c->w->srv->tls_client, c->w->cfg.upstream_host, c->w->cfg.upstream_sslsni);
    if (!c->server.tls) {
        conn_up_refused(c, "SSL", "out of memory");
        return;
    }
    if (tls_handshake(c->server.tls) < 0 || tls_take(c->server.tls, &c->server.enc) < 0)
        conn_up_tls_failed(c, &c->server);
}

static void
on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    struct conn *c = req->data;
    c->gai_active = false;
    if (c->dead) {
        uv_freeaddrinfo(res);
        conn_unref(c);
        return;
    }
    c->handles--; /* the timer and client handles still hold the conn */
    if (status < 0) {
        upstream_failed(c, "resolve", status);
        return;
    }
    uv_tcp_init(&c->w->loop, &c->server.h.tcp);
    c->server.h.handle.data = c;
    c->server.inited = true;
    c->handles++;
    c->creq.data = c;
    int rc = uv_tcp_connect(&c->creq, &c->server.h.tcp, res->ai_addr, on_connected);
    uv_freeaddrinfo(res);
    if (rc < 0)
        upstream_failed(c, "connect", rc);
}

void
conn_up_timeout(uv_timer_t *t)
{
    struct conn *c = t->data;
    if (c->s.state == SESSION_STARTUP) {
        slog_info(&c->s, "no startup packet within %llu ms; closing",
                  (unsigned long long)c->w->cfg.connect_timeout_ms);
        conn_close(c);
        return;
    }
    upstream_failed(c, "connect", UV_ETIMEDOUT);
}

void
conn_up_start(struct conn *c)
{
    const struct config *cfg = &c->w->cfg;
    uv_timer_start(&c->timer, conn_up_timeout, cfg->connect_timeout_ms, 0);
    if (cfg->upstream_host[0] == '/') {
        char path[CONFIG_ADDR_MAX + 32];
        snprintf(path, sizeof(path), "%s/.s.PGSQL.%d", cfg->upstream_host, cfg->upstream_port);
        uv_pipe_init(&c->w->loop, &c->server.h.pipe, 0);
        c->server.h.handle.data = c;
        c->server.inited = true;
        c->handles++;
        c->creq.data = c;
        uv_pipe_connect(&c->creq, &c->server.h.pipe, path, on_connected);
        return;
    }
    char port[16];
    snprintf(port, sizeof(port), "%d", cfg->upstream_port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    c->gai.data = c;
    int rc = uv_getaddrinfo(&c->w->loop, &c->gai, on_resolved, cfg->upstream_host, port, &hints);
    if (rc < 0) {
        upstream_failed(c, "resolve", rc);
        return;
    }
    c->gai_active = true;
    c->handles++;
}

void
conn_up_tls_failed(struct conn *c, struct side *sd)
{
    if (sd == &c->client) {
        slog_info(&c->s, "client TLS: %s; closing", tls_error(sd->tls));
        conn_close(c);
    } else if (!tls_established(sd->tls)) {
        conn_up_refused(c, "SSL", tls_error(sd->tls));
    } else {
        conn_server_gone(c, tls_error(sd->tls));
    }
}

/* Ciphertext arrived on sd: advances the handshake, then feeds the plaintext it carries. */
void
conn_up_tls_in(struct conn *c, struct side *sd, const uint8_t *p, size_t n)
{
    struct tls *t = sd->tls;
    if (tls_put(t, p, n) < 0) {
        conn_up_tls_failed(c, sd);
        return;
    }
    if (!tls_established(t)) {
        int rc = tls_handshake(t);
        if (tls_take(t, &sd->enc) < 0 || rc < 0) {
            conn_up_tls_failed(c, sd);
            return;
        }
        if (rc == 0)
            return;
        slog_debug(&c->s, "%s TLS: %s %s", sd == &c->client ? "client" : "upstream", tls_version(t),
                   tls_cipher(t));
        if (sd == &c->server) {
            uv_timer_stop(&c->timer);
            c->server_up = true;
        }
    }
    /* The scratch buffer held the ciphertext, which rbio has copied: reuse it. */
    uint8_t *plain = c->w->scratch;
    for (;;) {
        long k = tls_read(t, plain, sizeof(c->w->scratch));
        if (k > 0) {
            conn_feed(c, sd, plain, (size_t)k);
            if (c->dead)
                return;
            continue;
        }
        if (tls_take(t, &sd->enc) < 0)
            k = TLS_ERROR;
        if (k == 0)
            return;
        if (sd == &c->client)
            conn_client_gone(c, k == TLS_EOF ? "TLS close_notify" : tls_error(t));
        else
            conn_server_gone(c, k == TLS_EOF ? "TLS close_notify" : tls_error(t));
        return;
    }
}
