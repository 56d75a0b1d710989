/*
 * registry: every client connection of the process, for the console's SHOW CLIENTS.
 *
 * Each worker owns its connections and never lets another thread touch them; what the
 * console needs to see of them is published here instead. An entry lives inside its struct
 * conn: it joins the registry when the connection starts and leaves it (under the lock) before
 * the conn is freed, so a reader holding the lock only ever sees live entries. The owner writes
 * the strings once, under the lock, at login; the state and the counters are relaxed atomics
 * with a single writer (the owning worker), stored after every read the connection handles.
 * Readers take a copy of every entry under the lock (registry_snapshot) and render it after.
 */
#ifndef PGFOLD_REGISTRY_H
#define PGFOLD_REGISTRY_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct session;

/* What SHOW CLIENTS calls a connection's state (pg_stat_activity's words where they fit). */
typedef enum {
    REGISTRY_STARTUP = 0, /* no startup packet yet */
    REGISTRY_AUTH,        /* authenticating */
    REGISTRY_IDLE,
    REGISTRY_ACTIVE,  /* something sent to the server is still unanswered */
    REGISTRY_IDLE_TX, /* idle in transaction */
    REGISTRY_IDLE_TX_FAILED,
    REGISTRY_COPY, /* replication or COPY BOTH: relayed, not tracked */
    REGISTRY_CLOSING,
    REGISTRY_CONSOLE, /* a session of pgfold's own console */
} registry_state;

struct registry_entry {
    struct registry_entry *prev, *next; /* guarded by the registry's lock */
    uint64_t id;                        /* the session id of the log lines */
    uint64_t started_ms;                /* monotonic, uv_now's clock */
    char peer[64];                      /* "127.0.0.1:51234", "[::1]:51234", "[local]" */
    bool local;                         /* a unix socket or a loopback address */

    /* Written once by registry_login(), under the lock. */
    bool logged_in;
    char user[64];
    char database[64];
    char application_name[64];
    char client_tls[16]; /* "off" or the protocol version ("TLSv1.3") */
    char server_tls[16]; /* the same for the upstream leg; "-" for the console */

    /* Stored by the owner (registry_publish), loaded by anyone. */
    atomic_int state;                       /* registry_state */
    atomic_uint_fast64_t statements;        /* Query, Execute, FunctionCall the client sent */
    atomic_uint_fast64_t folded;            /* ... of which pgfold answered itself */
    atomic_uint_fast64_t server_statements; /* Query and Execute messages sent upstream */
};

/* A copy of one entry, as registry_snapshot hands them out. */
struct registry_row {
    uint64_t id;
    uint64_t started_ms;
    char peer[64];
    bool logged_in;
    char user[64];
    char database[64];
    char application_name[64];
    char client_tls[16];
    char server_tls[16];
    registry_state state;
    uint64_t statements;
    uint64_t folded;
    uint64_t server_statements;
};

struct registry {
    pthread_mutex_t lock;
    struct registry_entry *head; /* newest first */
    size_t count;
};

int registry_init(struct registry *r) __attribute__((warn_unused_result));
void registry_destroy(struct registry *r);

/*
 * Fills e (the caller's storage, inside its conn) and adds it. peer and local describe the
 * client's socket. e must be removed with registry_remove() before its memory goes.
 */
void registry_add(struct registry *r, struct registry_entry *e, uint64_t id, uint64_t now_ms,
                  const char *peer, bool local);
void registry_remove(struct registry *r, struct registry_entry *e);

/* The session logged in (or the console accepted it): copies its names and TLS legs. */
void registry_login(struct registry *r, struct registry_entry *e, const struct session *s,
                    const char *client_tls, const char *server_tls);

/*
 * Stores the owner's view of the session: its state, the client statements it counted
 * (forwarded or not) and how many of them it forwarded. Owner thread only.
 */
void registry_publish(struct registry_entry *e, const struct session *s, bool console,
                      uint64_t statements, uint64_t forwarded);

/*
 * Copies every entry into a malloc'd array (*rows, which the caller frees) under the lock.
 * Returns the number of rows, or -ENOMEM.
 */
long registry_snapshot(struct registry *r, struct registry_row **rows)
    __attribute__((warn_unused_result));

/* "idle", "active", "idle in transaction", ... */
const char *registry_state_name(registry_state st);

#endif
