/*
 * console: pgfold's own admin console over the PostgreSQL protocol, like PgBouncer's.
 *
 * A client whose startup packet names admin_database (session.c sets session.admin) talks to
 * this instead of an upstream. It authenticates the client itself, then answers the simple
 * query protocol: SHOW STATS, SHOW PATTERNS, SHOW CLIENTS, SHOW CONFIG, SHOW VERSION, SHOW
 * HELP and RELOAD, each as PostgreSQL would answer a query (RowDescription with text-format
 * columns, DataRow, CommandComplete, ReadyForQuery), so psql's aligned, \x, -At and --csv
 * output all work. Anything else gets an ErrorResponse and the session stays usable.
 *
 * Access: over a unix socket or a loopback address the console is open (trust); elsewhere it
 * refuses the login, unless admin_token is set, which is then the password, checked with
 * SCRAM-SHA-256 everywhere (proxy/scram.c). The token is never logged or sent.
 *
 * Pure protocol, like session.c: no sockets, no libuv, no clock (the session's now_ms is the
 * time). It writes into the session's to_client buffer and returns what the transport must do;
 * what it needs from the process comes through struct console_env.
 */
#ifndef PGFOLD_CONSOLE_H
#define PGFOLD_CONSOLE_H

#include <stdbool.h>

#include "proxy/session.h"

struct server;
struct console;

struct console_env {
    struct server *srv; /* counters, patterns and the registry of clients (not owned) */
    bool local;         /* the client came over a unix socket or a loopback address */
    void *ctx;
    /* The login is over: sqlstate NULL when it succeeded, else the error the client got. */
    void (*login)(void *ctx, const char *sqlstate, const char *message);
    /* RELOAD: ask the process to re-read its configuration, as SIGHUP does. */
    void (*reload)(void *ctx);
};

/* A console for session s (which must outlive it); env is copied. NULL on ENOMEM. */
struct console *console_new(struct session *s, const struct console_env *env);
/* Frees c and wipes its secrets. NULL is ignored. */
void console_free(struct console *c);

/*
 * Right after the startup packet: refuses the login, asks for the password, or logs the
 * client in (AuthenticationOk, ParameterStatus, ReadyForQuery). Returns SESSION_CONTINUE or
 * SESSION_CLOSE (a FATAL error queued).
 */
session_action console_start(struct console *c);

/* One framed client message. Returns SESSION_CONTINUE or SESSION_CLOSE. */
session_action console_on_client(struct console *c, const struct wire_msg *m);

/* True until the client has logged in (or been refused). */
bool console_authenticating(const struct console *c);

#endif
