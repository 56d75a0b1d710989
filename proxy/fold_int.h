/*
 * fold_int: state shared by fold.c (client side: decide) and fold_batch.c (server side: run
 * batches, capture answers and key sources). Not for use outside those two files.
 */
#ifndef PGFOLD_FOLD_INT_H
#define PGFOLD_FOLD_INT_H

#include "batcher/answer.h"
#include "batcher/fkeys.h"
#include "batcher/keysrc.h"
#include "batcher/policy.h"
#include "parser/shape.h"
#include "proxy/fold.h"
#include "pgwire/msg.h"
#include "proxy/stats.h"

/* Adds to a process-wide counter (none in unit tests). */
#define FOLD_COUNT(f, field, n)                                                                   \
    do {                                                                                          \
        if ((f)->s->st)                                                                           \
            stats_add(&(f)->s->st->c.field, (n));                                                 \
    } while (0)

#define FOLD_GROUP_MAX 32
#define FOLD_MAX_SLOTS 4

/* Roles of pgfold's own pending entries (kept in pending.nparams). */
enum fold_role {
    ROLE_SAVEPOINT = 1,
    ROLE_SINGLE,   /* Parse/Describe/Close of the client's single statement */
    ROLE_BATCH,    /* the batched query */
    ROLE_RELEASE,
    ROLE_SYNC,
    ROLE_ROLLBACK, /* recovery after a failed batch inside a transaction block */
    ROLE_RESTORE,  /* re-creating the client's unnamed statement */
    ROLE_FKEYS,    /* reading the database's foreign keys from pg_constraint */
};

/* Classes of a lookup key as the lookup spelled it (they never mix in one cache key). */
enum lk_class {
    LK_NONE = 0,
    LK_INT,  /* integer literal, or an integer-typed parameter */
    LK_STR,  /* string literal or untyped text parameter: compared as written */
    LK_UUID, /* uuid-typed parameter */
    LK_TEXT, /* text/varchar/name-typed parameter */
};

struct lookup_key {
    int slot;
    enum lk_class cls;
    uint32_t param_oid; /* declared type of a parameter key, 0 if none */
    int param;          /* 1-based parameter, 0 for a literal */
    char key[KEYSRC_MAX_KEY];
    size_t keylen;
};

struct lookup {
    struct shape *shape;
    uint64_t stmt_id; /* the exact statement (text without its literal values) */
    bool extended;
    const char *sql;
    size_t sqllen;
    const struct shape_lits *lits; /* simple protocol: the text's literals */
    const struct msg_bind *bind;  /* extended protocol */
    const uint32_t *oids; /* Parse types of the statement */
    int noids;
    int nkeys;
    struct lookup_key k[FOLD_MAX_SLOTS];
    uint8_t formats[2 * MSG_MAX_PARAMS + 2];
    size_t nformats;      /* bytes of formats */
};

struct gmsg {
    uint8_t type;
    size_t off, len; /* in graw */
};

struct batch {
    bool active, failed, too_big, savepoint, rollback_sent, desc_ok;
    uint32_t id;
    int nkeys;
    char **keys;
    size_t *keylens;
    struct buf *rows;
    uint64_t *nrows;
    size_t bytes;
    struct buf single_desc; /* T body from Describe of the single statement */
    bool single_seen;
    /* The ErrorResponse that aborted the client's transaction block outside pgfold's
     * savepoint (on the SAVEPOINT itself, or on the ROLLBACK TO that should undo the batch). */
    struct buf abort_err;
    struct buf batch_desc;  /* T body of the batch (ordinal first) */
    int16_t ordfmt;
    enum lk_class cls;
    uint64_t stmt_id;
    struct buf others;
    uint8_t formats[2 * MSG_MAX_PARAMS + 2];
    size_t nformats;
    struct policy_shape *ps;
    uint32_t key_oid;      /* the type the batch binds its keys as */
    int key_pidx;          /* untyped key: its 0-based parameter in the single statement's
                              ParameterDescription; -1 when the key is typed */
    uint32_t inferred_oid; /* that ParameterDescription entry, 0 until seen */
};

struct fold {
    struct session *s;
    struct shapecache *shapes;
    struct shape_lits lits;
    struct keysrc src;
    struct answer_cache answers;
    struct policy policy;
    uint64_t epoch;   /* bumps on every invalidation */
    uint64_t txn_seq; /* bumps when a transaction block starts */
    bool snapshot_iso;     /* the open block is REPEATABLE READ or SERIALIZABLE */
    bool default_snapshot; /* SET SESSION CHARACTERISTICS made that the session default */
    bool block_fresh;      /* the open block has run nothing yet that takes its snapshot */
    uint8_t last_status;
    uint64_t recv_us; /* when the client statement being decided arrived */
    uint64_t accounted; /* cache bytes last added to the process-wide gauge */

    /* Capture of a forwarded lookup's answer. */
    struct {
        bool on;
        bool dropped;
        struct buf key, desc, rows;
        uint64_t nrows;
        uint64_t stmt_id;
    } cap;
    struct buf last_desc; /* T body of the client's latest Describe of a portal */
    bool src_active;

    /* The open Sync group of extended-protocol messages. */
    struct buf graw;
    struct gmsg g[FOLD_GROUP_MAX];
    int gn;

    /* The client's statement waiting for the batch in flight. */
    bool blocked;
    bool parked_group;
    bool resume_retry; /* resume the parked statement as a retry (no new batch) */
    bool fk_loading;   /* this session is reading the foreign keys */
    bool resuming;     /* deciding a parked statement again: it was counted already */
    struct buf parked;
    struct buf resume; /* the parked statement while it is decided again */

    struct batch b;

    /* The client's unnamed statement, when pgfold's own Parse replaced it on the server. */
    char *owed_sql;
    uint32_t *owed_oids;
    int owed_n;

    struct buf scratch;
    struct buf others;
    struct buf key0;  /* cache key of the current lookup's first candidate, for capture */
    bool key0_valid;
};

/* fold_batch.c */
void foldb_start(struct session *s, const struct lookup *lk, const struct lookup_key *k,
                 const struct keysrc_hit *hit, const char *const *keys, const size_t *lens,
                 int nkeys, struct policy_shape *ps);
void foldb_free(struct fold *f);
/* The type a batch binds its keys as, for key k traced to source column hit (0: none). */
uint32_t foldb_key_oid(const struct lookup_key *k, const struct keysrc_hit *hit,
                       const struct policy_shape *ps);

/* fold.c */
enum fold_verdict { V_FORWARD, V_LOCAL, V_BATCH };
void fold_effects(struct fold *f, const struct shape *sh);
uint64_t fold_stmt_id(const char *sql, size_t len, const struct shape_lits *lits);
enum fold_verdict fold_decide(struct fold *f, struct lookup *lk, bool retry,
                              const struct answer **out);
void fold_mark_capture(struct fold *f, struct pending *p, const struct lookup *lk);
bool fold_cache_usable(struct fold *f);
session_action fold_query(struct session *s, const struct wire_msg *m, bool retry);
/* fold_group.c */
session_action fold_group_decide(struct session *s, bool retry);
void fold_group_flush(struct session *s, const struct lookup *lk);
void fold_cache_key(struct fold *f, const struct lookup *lk, const struct lookup_key *k,
                    const char *key, size_t keylen, struct buf *out);
void fold_resume(struct session *s);
void fold_fail_parked(struct session *s, const uint8_t *err, size_t len);
void fold_invalidate(struct fold *f);
const char *fold_backoff_name(const struct policy_shape *ps);
void fold_observe_local(struct fold *f);
void fold_log_loop(struct fold *f, struct policy_shape *ps);
void fold_account(struct fold *f);
void fold_owed_clear(struct fold *f);
void fold_unnamed_displaced(struct session *s);
struct pending *fold_internal(struct session *s, pend_kind kind, enum fold_role role);

#endif
