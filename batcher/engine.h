/*
 * engine: the fold engine of one session. Detect, speculate, answer: every decision of the
 * rewrite and observe paths, from plain data, with no socket, no clock and no log.
 *
 * proxy/ owns the protocol (Sync groups, pending entries, the bytes on both sockets) and
 * feeds the engine what it sees, each call with a context (struct engine_ctx: the clock, the
 * transaction status, whether anything is in flight, the config, the foreign keys). The engine
 * answers with a verdict and keeps its own state:
 *
 *   engine_effects / engine_status    what a statement or a ReadyForQuery does to the caches
 *   engine_decide                     a lookup: answer locally / batch with this plan / read
 *                                     the foreign keys first / forward
 *   engine_batch_*                    the batch's responses, checked and split per key
 *   engine_stream                     a forwarded result streaming back: its answer captured
 *                                     for reuse, its key-typed columns recorded as key sources
 *
 * Counters, pattern reports and the lines worth logging go out through struct engine_hooks,
 * so the caller decides where they land (process-wide stats, the log); in unit tests the
 * hooks may be NULL.
 *
 * Ownership: an engine belongs to one session and one thread. Pointers it returns (answers,
 * the plan's strings) stay valid until the next engine call, except where noted.
 */
#ifndef PGFOLD_ENGINE_H
#define PGFOLD_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "batcher/answer.h"
#include "batcher/catalog.h"
#include "batcher/fresh.h"
#include "batcher/keysrc.h"
#include "batcher/policy.h"
#include "batcher/verify.h"
#include "config/config.h"
#include "parser/shape.h"
#include "pgwire/buf.h"
#include "pgwire/msg.h"
#include "pgwire/wire.h"

#define ENGINE_MAX_SLOTS 4

/* What the engine needs to know about the moment of a call. */
struct engine_ctx {
    const struct config *cfg;
    uint64_t now_ms;          /* monotonic clock */
    uint64_t wall_ms;         /* wall clock, for pattern reports only */
    uint8_t txn_status;       /* 'I', 'T' or 'E', from the latest ReadyForQuery */
    bool idle;                /* nothing of this session is in flight upstream */
    struct catalog *catalog;  /* the worker's catalog of this database, or NULL */
    struct fresh *fresh;      /* the process-wide write clock (shared by every session) */
};

/* Counters the engine reports (process-wide in pgfold, per name in the tests). */
enum engine_counter {
    ENGINE_C_LOOKUPS = 0,     /* eligible lookups decided */
    ENGINE_C_SERVER_STMTS,    /* statements of pgfold's own: batches, the foreign-key read */
    ENGINE_C_BATCHES,         /* batches whose answers were stored */
    ENGINE_C_BATCH_KEYS,      /* keys those batches fetched */
    ENGINE_C_BATCH_KEYS_USED, /* ... of which served at least once */
    ENGINE_C_BATCH_ANSWERS,   /* lookups answered from a batch */
    ENGINE_C_REPEAT_ANSWERS,  /* lookups answered from an identical earlier result */
    ENGINE_C_ROUNDTRIPS_SAVED,
    ENGINE_C_FALLBACK_ERROR,   /* a batch failed */
    ENGINE_C_FALLBACK_SIZE,    /* a batch passed max_batch_bytes */
    ENGINE_C_FALLBACK_ROWDESC, /* a batch's RowDescription or key type differed */
    ENGINE_C_VERIFIED,         /* local answers checked against the server (shadow verification) */
    ENGINE_C_VERIFY_STALE,     /* ... that differed because the rows changed since the batch */
    ENGINE_C_VERIFY_MISMATCH,  /* ... that differed under the same snapshot: pgfold bugs */
    ENGINE_C_VERIFY_SKIPPED,   /* checks that could not complete (the statement failed) */
    ENGINE_C_COUNT,
};

/* A detected pattern, as the registry of patterns keys it. */
struct engine_pattern {
    uint64_t fingerprint;        /* the repeated query's shape */
    uint64_t source_fingerprint; /* the query whose result fed the keys */
    const char *repeated;
    const char *source;
    const char *source_column;
    const char *source_table;
    const char *key_table;
    const char *key_column;
    const char *sql; /* the repeated statement's text as this lookup sent it (its comments
                        may say which code sent it); not NUL-terminated */
    size_t sqllen;
};

/* What one event adds to a pattern's figures. */
struct engine_delta {
    uint64_t loops, lookups, batches, fetched, used, saved;
    const char *backoff; /* "none", "cautious", "paused"; NULL = unchanged */
    uint64_t verified, stale, mismatched;
    uint64_t stale_age_ms; /* the age of a stale answer (the pattern keeps the oldest) */
    bool stopped;          /* verification stopped answering the pattern locally */
};

/* Why a batch's answers were not stored. */
enum engine_discard {
    ENGINE_DISCARD_FAILED = 0, /* an error came back */
    ENGINE_DISCARD_SIZE,       /* the rows passed max_batch_bytes */
    ENGINE_DISCARD_ROWDESC,    /* the RowDescription differs from the statement's */
    ENGINE_DISCARD_KEYTYPE,    /* an untyped key means another type in the statement */
};

struct engine_hooks {
    void *ctx;
    void (*count)(void *ctx, enum engine_counter c, uint64_t n);
    /* The cache bytes this session holds changed from `before` to `now`. */
    void (*cache_bytes)(void *ctx, uint64_t before, uint64_t now);
    /* Finds or creates the pattern and applies d; returns an opaque handle (NULL when the
     * registry is full); *created tells whether it is new. */
    void *(*pattern_find)(void *ctx, const struct engine_pattern *key, uint64_t wall_ms,
                          const struct engine_delta *d, bool *created);
    void (*pattern_add)(void *ctx, void *pattern, uint64_t wall_ms, const struct engine_delta *d);
    /* A new pattern's first loop is over: it ran `lookups` times (worth a log line). */
    void (*loop_done)(void *ctx, void *pattern, uint64_t lookups);
    /* A batch of nkeys was discarded; the client's statement runs as if nothing happened. */
    void (*discarded)(void *ctx, enum engine_discard why, int nkeys, uint32_t key_oid,
                      uint32_t inferred_oid);
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
    uint32_t param_oid; /* declared type of a parameter key, 0 if none; the cast's if cast */
    uint32_t cast_oid;  /* the key is written `<key>::<type>`: that key type, else 0 */
    int param;          /* 1-based parameter, 0 for a literal */
    char key[KEYSRC_MAX_KEY];
    size_t keylen;
};

/*
 * One eligible lookup as the client sent it: the caller fills everything above `nkeys`; the
 * engine computes the candidate keys. Pointers are the caller's and need only live through
 * the call they are passed to.
 */
struct lookup {
    struct shape *shape;
    uint64_t stmt_id; /* the exact statement: engine_stmt_id() */
    bool extended;
    const char *sql;
    size_t sqllen;
    const struct shape_lits *lits; /* simple protocol: the text's literals */
    const struct msg_bind *bind;   /* extended protocol */
    const uint32_t *oids;          /* Parse types of the statement */
    int noids;
    uint8_t formats[2 * MSG_MAX_PARAMS + 2]; /* result format codes: int16 count, codes */
    size_t nformats;                         /* bytes of formats */

    int nkeys;
    struct lookup_key k[ENGINE_MAX_SLOTS];
};

/* The statement's id: its text without its literal values (their values go in the cache key). */
uint64_t engine_stmt_id(const char *sql, size_t len, const struct shape_lits *lits);

enum engine_verdict {
    ENGINE_FORWARD = 0, /* send it upstream; capture its answer (engine_capture_key) */
    ENGINE_LOCAL,       /* answer it from *answer */
    ENGINE_BATCH,       /* send the batch of *plan, park the statement, decide it again after */
    ENGINE_LOAD_FKEYS,  /* read CATALOG_SQL first (autocommit, idle), then decide it again */
};

/* engine_decide flags */
#define ENGINE_RETRY (1u << 0)   /* after its batch: answer or forward, never batch again */
#define ENGINE_RESUMED (1u << 1) /* decided before (it was parked): do not count it again */

/*
 * The batch to send, fully written out: the caller puts these on the wire in this order
 *   [SAVEPOINT]  Parse/Describe/Close single  Parse/Bind/Describe/Execute batch  [RELEASE]  Sync
 * and routes the responses to engine_batch_*(). Strings are owned by the plan; values point
 * into the lookup's Bind (valid for the engine_decide call only). engine_plan_free releases it.
 */
struct engine_plan {
    bool savepoint;    /* inside a transaction block: wrap the batch in a savepoint */
    char *single_sql;  /* the client's statement (a literal key as one more parameter) */
    int single_ntypes; /* parameter types of its Parse: the client's own */
    const uint32_t *single_oids;
    char *batch_sql;
    int nparams; /* of the batch: the client's parameters and the key array */
    uint32_t oids[MSG_MAX_PARAMS];
    int16_t fmts[MSG_MAX_PARAMS];
    const uint8_t *vals[MSG_MAX_PARAMS];
    int32_t lens[MSG_MAX_PARAMS];
    int nres;
    int16_t res[MSG_MAX_PARAMS + 1];
    char *array; /* the key array's text, vals[nparams - 1] */
    int nkeys;
};
void engine_plan_free(struct engine_plan *p);

struct engine;

/* Creates a session's engine under cfg's cache limits; hooks may be NULL. NULL on ENOMEM. */
struct engine *engine_new(const struct config *cfg, const struct engine_hooks *hooks);
/* Reports the loops still open (loop_done) and frees everything. NULL is ignored. */
void engine_free(struct engine *e);

/* engine_effects result flags */
#define ENGINE_FX_FORGET_STATEMENTS (1u << 0) /* the server may have dropped named statements */

/*
 * What running a statement of this shape (NULL: unparseable) does, applied when the client
 * sends it, in client order: invalidation, the transaction block's isolation, and the tables
 * it writes, published to every session at the next ReadyForQuery. Returns ENGINE_FX_* flags
 * for the caller's own tables.
 */
unsigned engine_effects(struct engine *e, const struct engine_ctx *cx, const struct shape *sh);
/* Empties the session's cache (pgfold's own reasons). */
void engine_invalidate(struct engine *e);
/* A FunctionCall, or anything else that may write anything: empties the cache, and every
 * session's answers are refused once the server confirms it. */
void engine_write_unknown(struct engine *e);
/*
 * A ReadyForQuery moved the status from before to cx->txn_status: the writes sent since the
 * last one are published to every session (and again at each ReadyForQuery until the block
 * ends, so a commit is never missed), before the client hears of it.
 */
void engine_status(struct engine *e, const struct engine_ctx *cx, uint8_t before);

/*
 * Decides a lookup (flags: ENGINE_RETRY, ENGINE_RESUMED). ENGINE_LOCAL sets *answer;
 * ENGINE_BATCH fills *plan (release it with engine_plan_free once written) and starts the
 * batch's bookkeeping: the responses go to engine_batch_*() until engine_batch_finish().
 */
enum engine_verdict engine_decide(struct engine *e, const struct engine_ctx *cx, struct lookup *lk,
                                  unsigned flags, const struct answer **answer,
                                  struct engine_plan *plan);

/* What a forwarded lookup's answer will be cached under: its cache key, the cache epoch, and
 * what the answer depends on, as one opaque allocation the caller keeps with the message. */
struct engine_ticket {
    uint8_t *data; /* malloc'd; the caller owns it */
    size_t len;
};
/*
 * Should the answer of this forwarded lookup (just decided ENGINE_FORWARD) be cached? Only a
 * lookup that is part of a loop (its key was traced to a recent result) is. Returns 0 with *t
 * filled, -ENOENT when not, -ENOMEM.
 */
int engine_capture_key(struct engine *e, const struct engine_ctx *cx, const struct lookup *lk,
                       struct engine_ticket *t) __attribute__((warn_unused_result));

/* ---- the batch's responses -------------------------------------------------------------- */

/* Which of the batch's statements a response belongs to. */
enum engine_part {
    ENGINE_PART_SINGLE = 0, /* the Describe of the client's statement */
    ENGINE_PART_BATCH,
};
void engine_batch_msg(struct engine *e, const struct engine_ctx *cx, enum engine_part part,
                      const struct wire_msg *m);
/* An error came back for any message of the batch's round trip (savepoint included). */
void engine_batch_failed(struct engine *e);
bool engine_batch_has_failed(const struct engine *e);

enum engine_outcome {
    ENGINE_STORED = 0, /* the answers are in the cache: decide the statement again (retry) */
    ENGINE_DISCARDED,  /* nothing stored: the statement runs as if nothing had happened */
    ENGINE_RELEARN,    /* nothing stored, but the key's type was learned for the shape's next
                          batch (no back-off) */
};
/*
 * The batch's Sync answered (after the rollback, if one was needed): checks and stores. In
 * every outcome the parked statement is then decided again with ENGINE_RETRY (answered from
 * the cache, or forwarded).
 */
enum engine_outcome engine_batch_finish(struct engine *e, const struct engine_ctx *cx);

/* ---- forwarded results ------------------------------------------------------------------- */

enum engine_stream_kind {
    ENGINE_STREAM_QUERY = 0,  /* a simple Query's results */
    ENGINE_STREAM_DESCRIBE_P, /* a Describe of a portal (its RowDescription) */
    ENGINE_STREAM_EXECUTE,    /* an Execute's rows */
    ENGINE_STREAM_OTHER,
};

/* What a forwarded message's result means to the engine (the caller keeps it per message). */
struct engine_stream {
    enum engine_stream_kind kind;
    bool source;               /* record the result's key columns */
    bool capture;              /* keep its RowDescription and rows for the answer cache */
    const struct shape *shape; /* the statement, when known */
    uint64_t source_id;        /* the exact statement and its parameters, 0 if unknown */
    uint64_t portal;           /* Execute: the portal instance (its chunks are one result); 0 */
    const uint8_t *desc;       /* Execute: its rows' RowDescription body when none streams
                                  (the statement or portal was described earlier), or NULL */
    size_t desclen;
    const uint8_t *ticket;     /* engine_capture_key's: store the answer at CommandComplete */
    size_t ticket_len;
};
/* Are the rows of a statement of this shape worth recording as a key source (a read, or a
 * FETCH from a cursor)? */
bool engine_result_is_source(const struct shape *sh);

/* One server message of that result (RowDescription, DataRow, CommandComplete, errors ...). */
void engine_stream(struct engine *e, const struct engine_ctx *cx, const struct engine_stream *st,
                   const struct wire_msg *m);

/* ---- shadow verification (batcher/verify.h) ------------------------------------------------ */

/*
 * Is a check of this answer, run now in this session, exact: under the snapshot the answer was
 * fetched in (an answer of the REPEATABLE READ / SERIALIZABLE block still open)?
 */
bool engine_answer_exact(const struct engine *e, const struct engine_ctx *cx,
                         const struct answer *a);

/*
 * The check of a local answer of pattern `fingerprint` came back: counted, added to the
 * pattern's figures, and a mismatch stops the pattern being answered locally, in every session
 * of the process (fresh_distrust) and in this one whatever happens to that set. age_ms: how old
 * the answer was when it was served.
 */
void engine_verified(struct engine *e, const struct engine_ctx *cx, uint64_t fingerprint,
                     enum verify_outcome outcome, uint64_t age_ms);
/* A check that could not complete (its statement failed): counted, no outcome. */
void engine_verify_skipped(struct engine *e);

/* ---- inspection (tests, admin) ---------------------------------------------------------- */

size_t engine_cache_bytes(const struct engine *e);
size_t engine_answer_count(const struct engine *e);
const struct keysrc *engine_sources(const struct engine *e);
/* The statistics of one shape, NULL if never seen. */
const struct policy_shape *engine_shape_stats(struct engine *e, uint64_t fingerprint);
/* Is the open transaction block believed REPEATABLE READ or SERIALIZABLE? */
bool engine_snapshot_block(const struct engine *e);

#endif
