/*
 * shapecache: a bounded LRU of analysed shapes, one per worker thread, no locks.
 *
 * Each statement text is analysed once. Texts whose shape allows it (a single SELECT, INSERT,
 * UPDATE or DELETE, with literals pgfold can read) are keyed by their literal-insensitive
 * skeleton, the text with every literal constant cut out, so "... WHERE id = 7 LIMIT 21" and
 * "... WHERE id = 8 LIMIT 21" share one shape and a hit costs a scan for literals, a hash and
 * a compare. Other texts are keyed exactly. The Parse message's parameter types are part of
 * the key.
 *
 * Texts longer than SHAPECACHE_MAX_TEXT are analysed on every call and never stored, so one
 * huge IN list cannot fill the cache's memory.
 */
#ifndef PGFOLD_SHAPECACHE_H
#define PGFOLD_SHAPECACHE_H

#include <stddef.h>
#include <stdint.h>

#include "parser/shape.h"

#define SHAPECACHE_MAX_TEXT (64 * 1024)

struct shapecache;

struct shapecache_stats {
    uint64_t hits;
    uint64_t misses;   /* analyses that were stored */
    uint64_t uncached; /* analyses of texts too long to store */
    uint64_t evictions;
    size_t entries; /* shapes held now */
    size_t capacity;
};

/*
 * Creates a cache holding at most `entries` shapes (config key shape_cache_entries; 0 turns
 * caching off: every call analyses). Returns 0 or -ENOMEM; *out is freed with shapecache_free.
 */
int shapecache_new(size_t entries, struct shapecache **out) __attribute__((warn_unused_result));

/* Drops the cache's reference to every shape and frees it. Shapes callers hold stay valid. */
void shapecache_free(struct shapecache *c);

/*
 * The shape of sql[0..len), analysing it on a miss. param_oids/nparams are the Parse types,
 * zeros included (pass the Parse message's count even when every type is 0; NULL/0 for the
 * simple protocol). On success *shape holds a new reference for the caller
 * (release with shape_unref) and *lits is overwritten with the literal list of this very text,
 * which is what shape_slot_value and shape_batch_sql need alongside it (the shape may have been
 * built from another text with other literal values). lits is caller-owned and reusable; after
 * warm-up a hit allocates nothing.
 * Returns 0, -ENOMEM, or -E2BIG (text over 1 GiB).
 */
int shapecache_get(struct shapecache *c, const char *sql, size_t len, const uint32_t *param_oids,
                   int nparams, struct shape **shape, struct shape_lits *lits)
    __attribute__((warn_unused_result));

/* Counters since creation. */
void shapecache_stats(const struct shapecache *c, struct shapecache_stats *out);

#endif
