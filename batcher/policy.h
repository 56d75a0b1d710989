/*
 * policy: when to speculate, and on which source column.
 *
 * Per session, per shape: how many lookups, batches, keys fetched and keys used, and the
 * back-off state. A shape whose batches go mostly unused needs more evidence (the previous
 * lookup's key in the same source column, after the current one's predecessor) before it
 * speculates again, and after repeated waste it stops speculating for a number of lookups.
 *
 * Choosing a source column: the key may sit in several columns of recent results (key 1 is
 * both polls_choice.id and polls_choice.question_id of the first row). A foreign key declared
 * in pg_constraint between the two columns decides first (+200). Then names, the way a
 * foreign key is usually spelled: a lookup on <table>.id is fed by a column <table>_id (forward
 * loop); a lookup on <x>_id is fed by the id column of the table <x> (reverse loop); the same
 * column name on both sides is the next best; a column that also held the previous key of
 * this shape outranks one that did not. A wrong guess only wastes keys: every answer is still
 * what the server returned for that key.
 *
 * Pure: no clock, no sockets.
 */
#ifndef PGFOLD_POLICY_H
#define PGFOLD_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "batcher/keysrc.h"

/* Back-off thresholds (documented in docs/batching.md). */
#define POLICY_WASTE_RATIO 0.5     /* below this used/fetched ratio a batch counts as waste */
#define POLICY_WASTE_STRIKES 3     /* wasteful batches in a row before a pause */
#define POLICY_PAUSE_LOOKUPS 1000  /* lookups a paused shape forwards before trying again */
#define POLICY_BLOCK_MIN_KEYS 4   /* keys a batch inside a transaction block must fetch */
#define POLICY_EVIDENCE 40         /* the least score a column needs to be batched from: a name
                                      or foreign key, or the shape's previous key in it */

struct policy_shape {
    struct policy_shape *next;
    uint64_t id;
    uint64_t lookups, batches, keys_fetched, keys_used;
    uint64_t local_batch, local_repeat, forwarded, fallbacks;
    uint32_t strikes;      /* wasteful batches in a row */
    uint64_t paused_until; /* lookup count until which speculation is off */
    bool cautious;         /* needs two keys from one column before speculating */
    char prev_key[KEYSRC_MAX_KEY];
    size_t prev_key_len;
    uint32_t last_batch_id;
    void *pattern;            /* the caller's record of this shape's latest pattern (opaque) */
    uint64_t loop_lookups;    /* lookups of the current loop */
    bool log_pending;         /* the pattern is new: report it when its first loop ends */
    uint64_t last_source_seq; /* the source result the latest lookup was traced to */
    uint64_t last_batch_keys, last_batch_used;
    /* Untyped keys (string literals, parameters of type 0): the type PostgreSQL gives the key
     * in this statement (its ParameterDescription), learned from a batch's Describe; 0 until
     * then. Batches of untyped keys bind them as this type. */
    uint32_t untyped_key_oid;
    bool distrusted; /* shadow verification found an answer wrong: never answered locally */
};

struct policy {
    struct policy_shape **slots;
    size_t nslots, count;
};

void policy_init(struct policy *p);
void policy_free(struct policy *p);
/* Calls fn for every shape's stats. */
void policy_each(struct policy *p, void (*fn)(struct policy_shape *, void *), void *ctx);
/* The stats of a shape, or NULL if it has none yet. */
struct policy_shape *policy_find(struct policy *p, uint64_t id);
/* The stats of a shape, created on first use; NULL on allocation failure. */
struct policy_shape *policy_shape(struct policy *p, uint64_t id);

/* The key slot's column as the parser read it: table (may be NULL) and column name. */
struct policy_target {
    const char *table;
    const char *column;
};

/*
 * Scores a source column for a lookup: higher is better, 0 means "do not use".
 * prev_hit tells whether the column also holds the shape's previous key; declared_fk whether
 * pg_constraint says the column references the key column or is referenced by it.
 */
int policy_score(const struct policy_target *t, const struct keysrc_hit *h, bool prev_hit,
                 bool declared_fk);

/* Says whether this shape may speculate now (call after counting the lookup). */
bool policy_may_batch(const struct policy_shape *ps, bool prev_in_same_column);

/* Records a finished batch of n keys. */
void policy_batch_done(struct policy_shape *ps, uint32_t batch_id, uint64_t n);
/* Records that a key from batch batch_id was served for the first time. */
void policy_key_used(struct policy_shape *ps, uint32_t batch_id);
/* Re-evaluates the back-off after a batch has had its chance (called when the next batch of
 * the shape is considered). */
void policy_review(struct policy_shape *ps);
/* Remembers the key of the latest lookup. */
void policy_remember(struct policy_shape *ps, const char *key, size_t len);

#endif
