/*
 * pending: the FIFO of forwarded messages that still owe the client a response.
 *
 * The server answers strictly in order, so the head of this queue is always the message the
 * next response belongs to. Entries own their strings; popping frees them.
 */
#ifndef PGFOLD_PENDING_H
#define PGFOLD_PENDING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct shape;

typedef enum {
    PEND_QUERY = 0,  /* simple Query or FunctionCall: everything up to ReadyForQuery */
    PEND_PARSE,      /* ParseComplete */
    PEND_BIND,       /* BindComplete */
    PEND_DESCRIBE_S, /* ParameterDescription, then RowDescription or NoData */
    PEND_DESCRIBE_P, /* RowDescription or NoData */
    PEND_EXECUTE,    /* DataRows, then CommandComplete/EmptyQuery/PortalSuspended/copy */
    PEND_CLOSE,      /* CloseComplete */
    PEND_SYNC,       /* ReadyForQuery */
    PEND_COPY_END,   /* marker: the client ended copy-in here (CopyDone/CopyFail) */
} pend_kind;

/* Who a response belongs to. */
typedef enum {
    PEND_CLIENT = 0, /* forwarded client message: responses go to the client */
    PEND_INTERNAL,   /* pgfold's own (batch, savepoint): responses go to the batcher */
} pend_origin;

/* pending.flags */
#define PEND_F_CAPTURE (1u << 0) /* cache this lookup's answer (its cache key is in `key`) */
#define PEND_F_SOURCE (1u << 1)  /* record this result's key columns as a key source */

struct pending {
    pend_kind kind;
    pend_origin origin;
    int role;        /* PEND_INTERNAL: what pgfold sent it for (enum fold_role) */
    unsigned flags;
    uint8_t *key;    /* PEND_F_CAPTURE: the engine's capture ticket (engine_ticket), owned */
    size_t key_len;
    uint64_t source_id; /* PEND_F_SOURCE: the exact statement and its parameters (0 unknown) */
    uint8_t *desc;   /* PEND_F_SOURCE Execute: its rows' RowDescription body when none will
                        stream (described earlier), owned */
    size_t desclen;
    uint64_t portal_id; /* PEND_F_SOURCE Execute: which binding of its portal it reads */
    uint64_t t0_us;  /* PEND_QUERY/PEND_SYNC: when it was sent upstream */
    struct shape *shape; /* the statement's shape when known (a reference), for capture */
    bool is_portal;  /* Close/Describe target */
    bool fastpath;   /* PEND_QUERY from a FunctionCall, not a simple Query */
    char *name;      /* statement or portal name (Parse, Bind, Close, Describe), owned */
    char *sql;       /* Parse: the query text, owned */
    uint32_t *oids;  /* Parse: parameter type OIDs, owned */
    int nparams;
    char *stmt_name; /* Bind: the source statement, owned */
};

struct pending_fifo {
    struct pending *items;
    size_t head;
    size_t count;
    size_t cap;    /* power of two */
    bool skipping; /* the server is discarding messages until the next Sync */
    uint64_t statements; /* Query and Execute entries ever pushed: statements sent upstream */
};

/* Frees the strings an entry owns (not the entry itself). */
void pending_release(struct pending *p);
/*
 * Appends a copy of *p and takes ownership of its strings (also on failure, when they are
 * freed). Returns 0 or -ENOMEM.
 */
int pending_push(struct pending_fifo *f, struct pending *p);
/* The oldest entry, or NULL when empty. */
struct pending *pending_head(struct pending_fifo *f);
/* The i-th entry from the head (0 = head); i must be < count. */
struct pending *pending_at(struct pending_fifo *f, size_t i);
/* Frees and removes the head. */
void pending_pop(struct pending_fifo *f);
/* Removes entries i in [from, to) that are of kind k, or every entry in range if k < 0. */
void pending_remove(struct pending_fifo *f, size_t from, size_t to, int k);
/* Frees everything. */
void pending_clear(struct pending_fifo *f);

#endif
