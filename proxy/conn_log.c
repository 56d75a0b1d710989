/*
 * conn_log: what a connection tells the operator: one log line at login, one for a failed
 * login (with PostgreSQL's own message), one at close, and the entry SHOW CLIENTS reads.
 *
 * Part of the conn_int.h family (conn.c, conn_up.c, conn_console.c): conn.c calls these at the
 * points where a connection starts, hears the server's verdict on a login, and ends. Nothing
 * here decides anything about the session; it only reads the conn and the session and writes
 * log lines and the registry entry.
 *
 * The close line counts statements three ways: what the client sent (Query, Execute,
 * FunctionCall, counted as conn.c delivers them), what went upstream (every Query and Execute
 * message the pending FIFO queued, pgfold's own batches included), and what pgfold answered
 * itself (the client's statements that were never forwarded).
 */
#include <stdio.h>
#include <string.h>

#include "proxy/conn_int.h"
#include "proxy/log.h"
#include "proxy/server.h"
#include "proxy/tls.h"
#include "proxy/worker.h"

/* Loopback: 127.0.0.0/8, ::1, and 127.0.0.0/8 mapped into IPv6. */
static bool
loopback(const struct sockaddr_storage *ss)
{
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)ss;
        return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
    }
    if (ss->ss_family != AF_INET6)
        return false;
    const struct in6_addr *a = &((const struct sockaddr_in6 *)ss)->sin6_addr;
    return IN6_IS_ADDR_LOOPBACK(a) || (IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127);
}

/* "127.0.0.1:5000", "[::1]:5000"; "?" when the socket has no peer any more. */
static void
peer_name(const struct sockaddr_storage *ss, char *out, size_t cap)
{
    char host[64] = "?";
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)ss;
        uv_ip4_name(in, host, sizeof(host));
        snprintf(out, cap, "%s:%u", host, ntohs(in->sin_port));
    } else if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)ss;
        uv_ip6_name(in6, host, sizeof(host));
        snprintf(out, cap, "[%s]:%u", host, ntohs(in6->sin6_port));
    } else {
        snprintf(out, cap, "?");
    }
}

void
conn_log_start(struct conn *c, bool is_unix)
{
    char peer[64] = "[local]";
    bool local = is_unix;
    if (!is_unix) {
        struct sockaddr_storage ss;
        int len = sizeof(ss);
        memset(&ss, 0, sizeof(ss));
        if (uv_tcp_getpeername(&c->client.h.tcp, (struct sockaddr *)&ss, &len) == 0) {
            peer_name(&ss, peer, sizeof(peer));
            local = loopback(&ss);
        } else {
            snprintf(peer, sizeof(peer), "?");
        }
    }
    registry_add(&c->w->srv->clients, &c->entry, c->s.id, uv_now(&c->w->loop), peer, local);
    c->registered = true;
}

void
conn_log_end(struct conn *c)
{
    if (c->registered)
        registry_remove(&c->w->srv->clients, &c->entry);
    c->registered = false;
}

static const char *
leg_tls(const struct side *sd)
{
    return sd->tls && tls_established(sd->tls) ? tls_version(sd->tls) : "off";
}

void
conn_log_login(struct conn *c)
{
    const char *ctls = leg_tls(&c->client);
    const char *stls = c->console ? "-" : leg_tls(&c->server);
    registry_login(&c->w->srv->clients, &c->entry, &c->s, ctls, stls);
    const struct log_field f[] = {
        LOG_STR("peer", c->entry.peer),     LOG_STR("user", c->s.user),
        LOG_STR("database", c->s.database), LOG_STR("application_name", c->s.application_name),
        LOG_STR("client_tls", ctls),        LOG_STR("server_tls", stls),
    };
    log_event_at(LOG_INFO, c->s.id, c->console ? "console login" : "login", f,
                 sizeof(f) / sizeof(f[0]));
}

void
conn_log_login_failed(struct conn *c, const char *sqlstate, const char *message)
{
    atomic_fetch_add(&c->w->srv->stats.login_failures_total, 1);
    if (!c->s.close_reason[0])
        snprintf(c->s.close_reason, sizeof(c->s.close_reason), "login failed: %s %s", sqlstate,
                 message);
    const struct log_field f[] = {
        LOG_STR("peer", c->entry.peer),     LOG_STR("user", c->s.user),
        LOG_STR("database", c->s.database), LOG_STR("application_name", c->s.application_name),
        LOG_STR("sqlstate", sqlstate),      LOG_STR("message", message),
    };
    log_event_at(LOG_INFO, c->s.id, "login failed", f, sizeof(f) / sizeof(f[0]));
}

void
conn_log_server_error(struct conn *c, const struct wire_msg *m)
{
    const char *sev = wire_error_field(m->body, m->body_len, 'V');
    const char *code = wire_error_field(m->body, m->body_len, 'C');
    const char *msg = wire_error_field(m->body, m->body_len, 'M');
    if (c->s.state == SESSION_AUTH) {
        /* Every error during authentication ends the login: PostgreSQL's reason, verbatim. */
        conn_log_login_failed(c, code ? code : "?", msg ? msg : "");
        return;
    }
    bool fatal = sev && (strcmp(sev, "FATAL") == 0 || strcmp(sev, "PANIC") == 0);
    if (fatal && !c->s.close_reason[0])
        snprintf(c->s.close_reason, sizeof(c->s.close_reason), "server %s %s: %s", sev,
                 code ? code : "?", msg ? msg : "");
}

void
conn_log_publish(struct conn *c)
{
    if (!c->registered)
        return;
    uint64_t forwarded = c->s.stats.queries + c->s.stats.executes + c->fastpath;
    registry_publish(&c->entry, &c->s, c->console != NULL, c->statements, forwarded);
}

void
conn_log_close(struct conn *c)
{
    uint64_t forwarded = c->s.stats.queries + c->s.stats.executes + c->fastpath;
    uint64_t folded = c->statements > forwarded ? c->statements - forwarded : 0;
    uint64_t ms = uv_now(&c->w->loop) - c->entry.started_ms;
    const char *reason = c->s.close_reason[0] ? c->s.close_reason : "closed";
    const struct log_field f[] = {
        LOG_STR("peer", c->entry.peer),
        LOG_STR("user", c->s.user),
        LOG_STR("database", c->s.database),
        LOG_NUM("duration_ms", ms),
        LOG_NUM("statements", c->statements),
        LOG_NUM("server_statements", c->s.fifo.statements),
        LOG_NUM("folded", folded),
        LOG_STR("reason", reason),
    };
    /* A cancel request, and a socket that closed before saying anything (a port probe), are
     * not sessions an operator follows: debug only, as PostgreSQL keeps quiet about both. */
    bool quiet = c->cancel || (c->s.user[0] == '\0' && !c->s.close_reason[0]);
    log_event_at(quiet ? LOG_DEBUG : LOG_INFO, c->s.id, "close", f, sizeof(f) / sizeof(f[0]));
}
