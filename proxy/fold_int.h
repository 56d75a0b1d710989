/*
 * fold_int: the rewrite path's protocol state, shared by fold.c (lifecycle, the simple Query
 * path, the engine's hooks), fold_group.c (extended-protocol Sync groups, the owed unnamed
 * statement) and fold_batch.c (pgfold's own traffic: the batch exchange, the foreign-key
 * read, and the routing of server responses). Not for use outside those three files.
 *
 * Every decision is the engine's (batcher/engine.h); these files only act on its verdicts.
 */
#ifndef PGFOLD_FOLD_INT_H
#define PGFOLD_FOLD_INT_H

#include "batcher/engine.h"
#include "parser/shape.h"
#include "pgwire/msg.h"
#include "proxy/fold.h"

#define FOLD_GROUP_MAX 32

/* Roles of pgfold's own pending entries (kept in pending.role). */
enum fold_role {
    ROLE_SAVEPOINT = 1,
    ROLE_SINGLE, /* Parse/Describe/Close of the client's single statement */
    ROLE_BATCH,  /* the batched query */
    ROLE_RELEASE,
    ROLE_SYNC,
    ROLE_ROLLBACK, /* recovery after a failed batch inside a transaction block */
    ROLE_RESTORE,  /* re-creating the client's unnamed statement */
    ROLE_FKEYS,    /* reading the database's foreign keys from pg_constraint */
    ROLE_VERIFY,   /* shadow verification: the client's statement again (named) */
    ROLE_VERIFY_SP, /* ... its savepoint and rollback inside a transaction block */
};

/*
 * The rewrite path's one state. While a statement is parked (FKEYS, BATCH, ROLLBACK) the
 * session takes no client message; RESUME and RETRY last only while the parked statement is
 * decided again, inside the call that ended the wait.
 *
 *   OPEN ──verdict LOAD_FKEYS──▶ FKEYS ──its ReadyForQuery──▶ RESUME ──▶ OPEN
 *   OPEN ──verdict BATCH──▶ BATCH ──Sync answered──▶ RETRY ──▶ OPEN
 *                             └─failed in a block──▶ ROLLBACK ──answered──▶ RETRY ──▶ OPEN
 *   RESUME ──verdict BATCH──▶ BATCH;  BATCH/ROLLBACK ──block aborted by pgfold──▶ OPEN
 */
enum fold_state {
    FOLD_OPEN = 0, /* deciding client messages as they come */
    FOLD_FKEYS,    /* the foreign-key read is in flight */
    FOLD_BATCH,    /* the batch is in flight */
    FOLD_ROLLBACK, /* the batch failed inside a block: ROLLBACK TO its savepoint in flight */
    FOLD_RESUME,   /* deciding the parked statement again after the foreign keys */
    FOLD_RETRY,    /* deciding the parked statement again after its batch (no new batch) */
};

/* What waits while the state is FKEYS, BATCH or ROLLBACK. */
enum fold_parked {
    PARKED_NONE = 0,
    PARKED_QUERY, /* a simple Query, in `parked` */
    PARKED_GROUP, /* the open Sync group */
};

struct gmsg {
    uint8_t type;
    size_t off, len; /* in graw */
};

struct fold {
    struct session *s;
    struct shapecache *shapes;
    struct engine *eng;
    struct shape_lits lits;
    enum fold_state state;
    enum fold_parked parked_kind;
    uint64_t recv_us; /* when the client statement being decided arrived */

    /* The open Sync group of extended-protocol messages. */
    struct buf graw;
    struct gmsg g[FOLD_GROUP_MAX];
    int gn;

    struct buf parked; /* PARKED_QUERY: the Query */
    struct buf resume; /* the parked Query while it is decided again */

    /* The batch in flight: wrapped in pgfold's savepoint, and the ErrorResponse that aborted
     * the client's block outside that savepoint (on the SAVEPOINT itself, or on the ROLLBACK
     * TO that should undo the batch). */
    bool savepoint;
    struct buf abort_err;
    /* ... and what a log line about it needs (log_batch_over_ms). */
    uint64_t batch_t0_us;
    int batch_keys;
    uint64_t batch_rows;
    char batch_sql[200];

    /* The Sync group being forwarded message by message (fold_fwd.c): */
    bool sg_open;           /* extended messages went upstream since the last Sync */
    bool sg_parsed_unnamed; /* one of them parsed the unnamed statement */
    bool sg_bound;          /* a Bind among them: its portal, statement and parameters */
    bool sg_described;      /* ... and a Describe of that portal after it */
    uint64_t sg_bind_hash;
    int sg_nres; /* ... and its result format codes (-1: more than fit) */
    int16_t sg_res[64];
    char sg_portal[64];
    char sg_portal_stmt[128];
    struct buf sg_parses; /* their Parse messages, whole */

    /* The latest Bind forwarded (kept across Syncs: a portal read in chunks, JDBC's fetch
     * size, outlives its Sync group): its portal's name and which binding it is. */
    char bound_portal[64];
    uint64_t bound_portal_id, portal_seq;

    /* The client's unnamed statement, when pgfold's own Parse replaced it on the server. */
    char *owed_sql;
    uint32_t *owed_oids;
    int owed_n;

    struct buf out; /* one of pgfold's own messages being written */

    struct fold_verify *verify; /* shadow verification (fold_verify.c); NULL until sampled */
};

/* fold.c */
/* FNV-1a over n bytes, continuing from h (0 to start); never 0. */
uint64_t fold_hash(uint64_t h, const void *p, size_t n);
void fold_set_state(struct fold *f, enum fold_state st);
struct engine_ctx fold_ctx(const struct session *s);
/* Applies a statement's effects (NULL: unparseable) to the engine and the session's tables. */
void fold_effects(struct fold *f, const struct shape *sh);
session_action fold_query(struct session *s, const struct wire_msg *m, unsigned flags);
/* Acts on a BATCH or LOAD_FKEYS verdict (frees the plan); true when the statement is parked. */
bool fold_park(struct session *s, enum engine_verdict v, struct engine_plan *plan);
void fold_observe_local(struct fold *f);

/* fold_fwd.c */
/* Forwards one client message of a Sync group with its effects (capture flags when lk). */
struct pending *fold_forward(struct session *s, const struct wire_msg *m, const struct lookup *lk);
/* A Sync or a simple Query went upstream: the forwarded Sync group is over. */
void fold_sync_group_end(struct fold *f);
/* The statement `name` as this session believes it: forwarded in this Sync group, confirmed by
 * the server, or owed. Returns false if unknown. */
bool fold_stmt_text(struct session *s, const char *name, struct msg_parse *pi);
void fold_owe(struct fold *f, const char *sql, size_t sqllen, const uint32_t *oids, int n);
void fold_owed_clear(struct fold *f);
void fold_unnamed_displaced(struct session *s);
/* Queues f->out as one of pgfold's own messages (session_inject); on failure ends the session
 * with 53200 and returns NULL. */
struct pending *fold_send(struct fold *f, pend_kind kind, enum fold_role role);
/* One statement of pgfold's own without parameters (SAVEPOINT ...) as unnamed Parse, Bind and
 * Execute, no Sync; false when fold_send ended the session. */
bool fold_send_sql(struct fold *f, const char *sql, enum fold_role role);

/* fold_group.c */
/* An extended-protocol message (Parse, Bind, Describe, Execute, Close, Sync) of the client. */
session_action fold_group_add(struct session *s, const struct wire_msg *m);
session_action fold_group_decide(struct session *s, unsigned flags);
void fold_group_flush(struct session *s, const struct lookup *lk);
void fold_group_drop(struct fold *f);
/* Does the open group Parse the unnamed statement? */
bool fold_group_parses_unnamed(const struct fold *f);

/* fold_verify.c */
/* Is nothing in flight but shadow verification (which the client does not wait on)? */
bool fold_quiet(const struct session *s);
/* A local answer was just served for lk: sampled, it is checked when the client's bytes run out.
 * desc_served: a RowDescription was part of it. Call before the answer is written. */
void fold_verify_offer(struct session *s, const struct lookup *lk, const struct answer *a,
                       bool desc_served);
/* A client message arrived: a check still waiting is skipped. */
void fold_verify_client(struct fold *f);
/* The client's bytes ran out: send the check waiting, if it still may run. */
void fold_verify_drained(struct session *s);
/* A response to a verification message; true when the client must not see it. */
bool fold_verify_response(struct session *s, const struct pending *h, const struct wire_msg *m);
/* A verification entry completed; at its Sync the outcome goes to the engine. */
void fold_verify_done(struct session *s, const struct pending *h);
void fold_verify_free(struct fold *f);
/* Test builds only (-DPGFOLD_FAULT_HOOKS): corrupts the answer about to be served. */
void fold_verify_fault(const struct answer *a);

/* fold_batch.c */
/* Puts a batch plan on the wire and parks the statement. Returns false if it could not. */
bool fold_send_batch(struct session *s, const struct engine_plan *plan);
/* Sends the foreign-key read and parks the statement. Returns false if it could not. */
bool fold_send_fkeys(struct session *s);
void fold_resume(struct session *s);
void fold_fail_parked(struct session *s, const uint8_t *err, size_t len);
/* Marks a forwarded lookup's pending entry so its answer is captured on the way back. */
void fold_mark_capture(struct fold *f, struct pending *p, const struct lookup *lk);

#endif
