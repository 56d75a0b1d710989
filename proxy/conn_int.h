/*
 * conn_int: the connection's state, shared by conn.c (lifetime, reading, writing,
 * backpressure), conn_up.c (the upstream leg: resolve, connect, timeouts, SSL negotiation,
 * and TLS on either side), conn_log.c (login and close lines, the SHOW CLIENTS entry) and
 * conn_console.c (pgfold's console in place of an upstream). Private to those files.
 */
#ifndef PGFOLD_CONN_INT_H
#define PGFOLD_CONN_INT_H

#include <stdbool.h>
#include <uv.h>

#include "pgwire/buf.h"
#include "proxy/conn.h"
#include "proxy/registry.h"
#include "proxy/session.h"

struct console;

struct side {
    union {
        uv_handle_t handle;
        uv_stream_t stream;
        uv_tcp_t tcp;
        uv_pipe_t pipe;
    } h;
    bool inited;
    bool reading;
    bool paused; /* reading stopped by backpressure */
    bool held;   /* client reading stopped while a batch is in flight */
    bool writing;
    struct buf in;       /* partial message carried to the next read */
    struct buf inflight; /* bytes handed to uv_write */
    struct buf enc;      /* bytes for the socket as they are: TLS records, negotiation bytes */
    struct tls *tls;     /* NULL: plain text */
    uv_write_t wreq;
};

struct conn {
    struct conn *prev, *next; /* worker's list */
    struct worker *w;
    struct session s;
    struct side client;
    struct side server;
    uv_timer_t timer; /* startup and connect timeout */
    uv_getaddrinfo_t gai;
    uv_connect_t creq;
    int handles; /* open handles and requests; freed at zero */
    bool gai_active;
    bool server_up;    /* upstream connected: to_server may be written */
    bool closing;      /* close both sides once queued writes are sent */
    bool dead;         /* handles are closing */
    bool counted;      /* counted in client_conns */
    bool server_fatal; /* the server already sent a FATAL error */
    bool cancel;       /* a CancelRequest connection: close once the upstream closed it */
    bool cancel_wait;  /* ... its request is written; waiting for the upstream to close */
    bool cancel_over;  /* ... the upstream closed, failed, or did not close in time */
    bool upstream_failed;
    bool ssl_wait; /* our SSLRequest is out; the server's one-byte answer is next */
    bool registered; /* entry is in the process's registry */
    struct console *console; /* pgfold's console answers instead of an upstream */
    uint64_t statements;     /* Query, Execute, FunctionCall the client sent once logged in */
    uint64_t fastpath;       /* ... of which FunctionCall (always forwarded) */
    struct registry_entry entry; /* what SHOW CLIENTS shows of this connection */
};

/* conn.c */
/* Starts closing both sides; the conn is freed in the last close callback. */
void conn_close(struct conn *c);
/* Drops one handle's reference; frees the conn at zero. */
void conn_unref(struct conn *c);
/* Hands what the session queued for either side to uv_write. */
void conn_flush(struct conn *c);
void conn_side_read(struct conn *c, struct side *sd, bool on);
/* Frames and delivers every whole message in p[0..n) plus what was carried over. */
void conn_feed(struct conn *c, struct side *sd, const uint8_t *p, size_t n);
void conn_client_gone(struct conn *c, const char *why);
void conn_server_gone(struct conn *c, const char *why);

/* conn_up.c */
/* The session's startup was accepted: resolve and connect the upstream, timer running. */
void conn_up_start(struct conn *c);
void conn_up_timeout(uv_timer_t *t);
/* The upstream cannot be had: FATAL 08006 naming what failed, then close. */
void conn_up_refused(struct conn *c, const char *what, const char *why);
/* The server's one-byte answer to our SSLRequest (and whatever followed it). */
void conn_up_ssl_answer(struct conn *c, const uint8_t *p, size_t n);
/* Ciphertext arrived on sd: advances the handshake, then feeds the plaintext it carries. */
void conn_up_tls_in(struct conn *c, struct side *sd, const uint8_t *p, size_t n);
void conn_up_tls_failed(struct conn *c, struct side *sd);

/* conn_log.c */
/* The client socket is open: its peer joins the registry. */
void conn_log_start(struct conn *c, bool is_unix);
/* Leaves the registry (before the conn's memory goes). */
void conn_log_end(struct conn *c);
/* The session is logged in: one info line, and its names into the registry. */
void conn_log_login(struct conn *c);
/* A login was refused (by the server or the console): counted, logged, kept as the reason. */
void conn_log_login_failed(struct conn *c, const char *sqlstate, const char *message);
/* An ErrorResponse from the server, before the session sees it. */
void conn_log_server_error(struct conn *c, const struct wire_msg *m);
/* Stores the session's state and counters for SHOW CLIENTS (after each read). */
void conn_log_publish(struct conn *c);
/* The close line: duration, statements, reason. */
void conn_log_close(struct conn *c);

/* conn_console.c */
/* The startup packet named admin_database: pgfold's console takes the session. */
session_action conn_console_start(struct conn *c);
/* One client message of a console session. */
session_action conn_console_msg(struct conn *c, const struct wire_msg *m);
void conn_console_free(struct conn *c);

#endif
