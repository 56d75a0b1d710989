/*
 * session: one client's protocol state machine, from the startup packet to Terminate.
 *
 * Pure protocol: no sockets, no libuv, no clock. The connection layer (conn.c) frames bytes
 * into whole messages and hands each one to session_on_client() or session_on_server(); the
 * session appends what must be sent into to_server / to_client and tells the caller, through
 * the return value, what the transport must do next. This is what the unit tests drive with
 * byte fixtures.
 *
 * What it tracks, because a proxy that answers queries itself must know exactly where the
 * server is: the transaction status from ReadyForQuery (I/T/E); every forwarded message that
 * owes a response, in one FIFO (so pipelined Sync groups, Flush, and the skip-until-Sync rule
 * after an error are modelled, not guessed); named and unnamed statements with their SQL text
 * and parameter types, and portals, as the server confirmed them; COPY in, out and both.
 */
#ifndef PGFOLD_SESSION_H
#define PGFOLD_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "pgwire/buf.h"
#include "proxy/pending.h"
#include "proxy/prepared.h"
#include "pgwire/wire.h"

typedef enum {
    SESSION_STARTUP = 0, /* waiting for the startup packet (SSLRequest/GSSENCRequest first) */
    SESSION_AUTH,        /* startup forwarded; relaying the authentication exchange */
    SESSION_READY,       /* first ReadyForQuery seen: normal operation */
    SESSION_COPY_BOTH,   /* CopyBothResponse seen (replication): relay only, no tracking */
    SESSION_CLOSING,     /* an error or Terminate was queued; nothing more is processed */
} session_state;

/* What the transport must do after a message was handled. */
typedef enum {
    SESSION_CONTINUE = 0,
    SESSION_CONNECT, /* startup accepted: connect upstream, then send to_server */
    SESSION_CANCEL,  /* to_server holds a CancelRequest: send it on a new upstream connection */
    SESSION_CLOSE,   /* send to_client and to_server, then close both sides */
    SESSION_TLS,     /* to_client holds 'S': send it in plain text, then start TLS */
} session_action;

struct session_stats {
    uint64_t client_msgs;
    uint64_t server_msgs;
    uint64_t queries;    /* simple Query messages */
    uint64_t executes;   /* Execute messages */
    uint64_t syncs;
};

struct fold;
struct shapecache;
struct stats;

struct session {
    uint64_t id;
    session_state state;
    const struct config *cfg;
    uint8_t txn_status; /* 'I', 'T' or 'E', from the last ReadyForQuery */
    bool copy_in;       /* server is in copy-in: client Sync/Flush are ignored by it */
    bool copy_out;      /* server is sending CopyData */
    bool ssl_asked;     /* the client already had its SSLRequest answered */
    bool gss_asked;     /* ... and its GSSENCRequest */
    bool answered_plain; /* 'N' was just queued for an SSLRequest/GSSENCRequest: bytes the client
                            sent before reading it are refused (session_after_plain) */
    bool client_tls;    /* the client's connection is encrypted (set by the transport) */
    bool scs_off;       /* standard_conforming_strings is off: the parser cannot be trusted */
    bool admin;         /* the startup packet named admin_database: pgfold's own console
                           (proxy/console.c) answers, nothing goes upstream */
    bool reject;        /* answer the startup packet with reject_state, then close */
    const char *reject_state;
    const char *reject_msg;

    struct buf to_client;
    struct buf to_server;
    struct pending_fifo fifo;
    struct prepared_table stmts;
    struct prepared_table portals;
    struct session_stats stats;

    char user[64];
    char database[64];
    char application_name[64];
    int32_t backend_pid;
    int32_t backend_key;
    char close_reason[128]; /* why the session closed itself, for the log */

    struct fold *fold;         /* rewrite/observe state; NULL in passthrough */
    struct stats *st;          /* process-wide counters (NULL in unit tests) */
    uint64_t now_us;           /* monotonic, set by the transport before each delivery */
    struct shapecache *shapes; /* the worker's shape cache (not owned) */
    struct catalog *catalog;   /* the worker's catalog of this database, or NULL */
    struct fresh *fresh;       /* the process-wide write clock (NULL in unit tests) */
    uint64_t now_ms;           /* set by the transport before each delivery */
};

/* Initializes s; cfg must outlive it. Allocates nothing until messages arrive. */
void session_init(struct session *s, uint64_t id, const struct config *cfg);
/* Frees everything the session owns (buffers, FIFO, statement tables). */
void session_close(struct session *s);

/* The single place the state changes; aborts on an unknown state. */
void session_set_state(struct session *s, session_state st);
const char *session_state_name(session_state st);

/*
 * Handles one startup-phase packet (framed by wire_frame_startup). Returns a session_action;
 * SESSION_CLOSE with an ErrorResponse in to_client for a malformed packet.
 */
session_action session_on_startup(struct session *s, const struct wire_msg *m);

/* Handles one framed client message after startup. Returns a session_action. */
session_action session_on_client(struct session *s, const struct wire_msg *m);

/*
 * Forwards one client message unchanged, recording what it owes. Returns the pending entry
 * it queued (NULL when it owes nothing or the server will skip it); on a malformed message
 * queues a FATAL error and moves to CLOSING.
 */
struct pending *session_forward(struct session *s, const struct wire_msg *m);

/*
 * Queues one of pgfold's own messages for the server (msg holds exactly one whole message)
 * together with the pending entry its response will be matched against (origin
 * PEND_INTERNAL, the caller's role). The entry is pushed first and the bytes appended only
 * when that succeeded, so no message reaches the server without its entry. Returns the entry
 * (valid until the FIFO next changes), or NULL when nothing was queued (out of memory, or a
 * write error in msg): the caller must not go on as if it had been.
 */
struct pending *session_inject(struct session *s, pend_kind kind, int role, const struct buf *msg)
    __attribute__((warn_unused_result));

/* Handles one framed server message. Returns a session_action. */
session_action session_on_server(struct session *s, const struct wire_msg *m);

/*
 * Queues a FATAL ErrorResponse for the client and moves to CLOSING. reason goes to the log.
 */
void session_fail(struct session *s, const char *sqlstate, const char *message);

/*
 * Moves to CLOSING without a word to the client, as PostgreSQL does with a startup packet it
 * cannot read (a bad length, a cancel request of the wrong size): reason is only for the log.
 */
void session_drop(struct session *s, const char *reason);

/*
 * The client sent more bytes right behind an SSLRequest or GSSENCRequest, before it could have
 * read pgfold's answer ('S' or 'N'): PostgreSQL refuses them (CVE-2021-23214), and so does
 * this. Queues PostgreSQL's FATAL (with its DETAIL) and moves to CLOSING.
 */
void session_after_plain(struct session *s);

/*
 * The transport has delivered every whole message the client sent so far (what is left, if
 * anything, is part of one message). Returns what the transport must do.
 */
session_action session_client_drained(struct session *s);

/* True while the session cannot take client messages (a batch is in flight). */
bool session_blocked(const struct session *s);

/* How many forwarded messages still owe responses (0 when the session is idle). */
static inline size_t
session_pending(const struct session *s)
{
    return s->fifo.count;
}

#endif
