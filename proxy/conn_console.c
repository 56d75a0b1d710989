/*
 * conn_console: a connection whose startup packet named admin_database gets pgfold's console
 * (proxy/console.c) instead of an upstream. Part of the conn_int.h family.
 *
 * conn.c hands over at the point where it would connect upstream; from then on every client
 * message goes to console_on_client, and what the console queues in to_client is written as
 * usual. No upstream socket is ever opened, and the session's fold state is dropped (the
 * console runs no SQL). The login must finish within connect_timeout_ms, as a login to
 * PostgreSQL must within authentication_timeout. RELOAD is SIGHUP sent to the process itself,
 * so it takes exactly the path an operator's kill -HUP takes (main.c).
 */
#include <signal.h>
#include <unistd.h>

#include "proxy/conn_int.h"
#include "proxy/console.h"
#include "proxy/fold.h"
#include "proxy/log.h"
#include "proxy/server.h"
#include "proxy/worker.h"

static void
on_login(void *ctx, const char *sqlstate, const char *message)
{
    struct conn *c = ctx;
    uv_timer_stop(&c->timer);
    if (sqlstate)
        conn_log_login_failed(c, sqlstate, message);
    else
        conn_log_login(c);
}

static void
on_reload(void *ctx)
{
    struct conn *c = ctx;
    slog_info(&c->s, "console: RELOAD requested by %s (user %s)", c->entry.peer, c->s.user);
    kill(getpid(), SIGHUP);
}

/* The client did not finish logging in within connect_timeout_ms. */
static void
on_login_timeout(uv_timer_t *t)
{
    struct conn *c = t->data;
    if (c->dead || c->closing)
        return;
    session_fail(&c->s, "08006", "canceling authentication due to timeout");
    c->closing = true;
    conn_side_read(c, &c->client, false);
    conn_flush(c);
}

session_action
conn_console_start(struct conn *c)
{
    fold_free(c->s.fold); /* the console runs no SQL: nothing to fold */
    c->s.fold = NULL;
    const struct console_env env = {
        .srv = c->w->srv,
        .local = c->entry.local,
        .ctx = c,
        .login = on_login,
        .reload = on_reload,
    };
    c->console = console_new(&c->s, &env);
    if (!c->console) {
        session_fail(&c->s, "53200", "out of memory");
        return SESSION_CLOSE;
    }
    uv_timer_start(&c->timer, on_login_timeout, c->w->cfg.connect_timeout_ms, 0);
    return console_start(c->console);
}

session_action
conn_console_msg(struct conn *c, const struct wire_msg *m)
{
    return console_on_client(c->console, m);
}

void
conn_console_free(struct conn *c)
{
    console_free(c->console);
    c->console = NULL;
}
