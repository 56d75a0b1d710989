/*
 * engine_int: the engine's state, shared by the files of the engine (engine.c: lifecycle,
 * effects and freshness; decide.c: keys and verdicts; split.c: the batch's responses;
 * capture.c: forwarded results). Private to batcher/: nothing outside includes it.
 */
#ifndef PGFOLD_ENGINE_INT_H
#define PGFOLD_ENGINE_INT_H

#include "batcher/engine.h"

/* The batch in flight: what its responses are checked against and split into. */
struct engine_batch {
    bool failed;
    bool too_big;
    uint32_t id;
    int nkeys;
    char **keys; /* each key's cache key */
    size_t *keylens;
    struct buf *rows; /* each key's DataRows */
    uint64_t *nrows;
    size_t bytes;
    struct buf single_desc; /* T body from the Describe of the single statement */
    bool single_seen;
    struct buf batch_desc; /* T body of the batch (ordinal first) */
    int16_t ordfmt;
    struct policy_shape *ps;
    uint32_t key_oid;      /* the type the batch binds its keys as */
    int key_pidx;          /* untyped key: its 0-based parameter in the single statement's
                              ParameterDescription; -1 when the key is typed */
    uint32_t inferred_oid; /* that ParameterDescription entry, 0 until seen */
    struct answer_deps deps; /* what its answers depend on */
    /* Its rows become a key source of their own (the next level of a nested loop): */
    uint64_t fingerprint, stmt_id;
    char table[64];
    char sql[160];
};

/* The writes this session sent and has not seen confirmed by a ReadyForQuery outside a block. */
struct engine_writes {
    uint64_t t[CATALOG_MAX_WRITE];
    int n;
    bool all; /* something that may touch anything */
    bool ddl;
};

struct engine {
    struct engine_hooks hooks;
    struct keysrc src;
    struct answer_cache answers;
    struct policy policy;
    uint64_t epoch;         /* bumps on every invalidation */
    uint64_t txn_seq;       /* bumps when a transaction block starts */
    bool snapshot_iso;      /* the open block is REPEATABLE READ or SERIALIZABLE */
    bool default_snapshot;  /* SET SESSION CHARACTERISTICS made that the session default */
    bool block_fresh;       /* the open block has run nothing yet that takes its snapshot */
    uint64_t accounted;     /* cache bytes last reported through hooks.cache_bytes */
    uint32_t next_batch_id; /* per session: batch ids are only compared within it */

    /* Capture of a forwarded lookup's answer. */
    struct {
        bool dropped; /* too large to keep */
        struct buf desc, rows;
        uint64_t nrows;
    } cap;
    struct buf last_desc; /* T body of the client's latest Describe of a portal */
    bool src_active;

    struct engine_batch b;
    struct engine_writes pw;

    /* The lookup being decided: what its answer depends on, and where its key was traced. */
    struct answer_deps cur;

    struct buf others;
    struct buf scratch;
    struct buf key0; /* cache key of the current lookup's first candidate, for capture */
    bool key0_valid;
};

/* The front of a capture ticket (engine_capture_key); the cache key follows it. */
struct engine_ticket_head {
    uint64_t epoch;
    struct answer_deps deps;
};

/* engine.c */
void engine_count(struct engine *e, enum engine_counter c, uint64_t n);
void engine_account(struct engine *e);
bool engine_cache_usable(const struct engine *e, const struct engine_ctx *cx);
bool engine_fresh(const struct engine *e, const struct engine_ctx *cx, const struct answer *a);
/* The transaction block an answer belongs to: its number while one is open, else 0. */
uint64_t engine_block_seq(const struct engine *e, const struct engine_ctx *cx);
const char *engine_backoff_name(const struct policy_shape *ps);
void engine_loop_done(struct engine *e, struct policy_shape *ps);

/* Is the catalog read and read after the latest DDL? */
bool engine_catalog_current(const struct engine_ctx *cx);

/* decide.c */
void engine_cache_key(struct engine *e, const struct lookup *lk, const struct lookup_key *k,
                      const char *key, size_t keylen, struct buf *out);

/* split.c */
/* Writes the plan for key k traced to source column hit, and starts the batch's record.
 * Returns 0, or a negative code (nothing started, the lookup is forwarded). */
int engine_batch_start(struct engine *e, const struct engine_ctx *cx, const struct lookup *lk,
                       const struct lookup_key *k, const struct keysrc_hit *hit,
                       const char *const *keys, const size_t *lens, int nkeys,
                       struct policy_shape *ps, struct engine_plan *plan);
void engine_batch_clear(struct engine *e);
/* The type a batch binds its keys as, for key k traced to source column hit. */
uint32_t engine_key_oid(const struct lookup_key *k, const struct keysrc_hit *hit,
                        const struct policy_shape *ps);

#endif
