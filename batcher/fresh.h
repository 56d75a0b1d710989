/*
 * fresh: the process-wide write clock, so every session of one pgfold sees the writes of every
 * other (DESIGN.md §4, "Across sessions").
 *
 * A write that the server confirmed on any session is published here with the tables it
 * touched (or as touching anything, when pgfold cannot tell). A cached answer remembers the
 * clock value read before its statement went upstream (`since`) and the tables it read; it may
 * be served only while no write to one of those tables, and no write that could touch
 * anything, was published after that. Readers never lock: the clock and the per-table stamps
 * are relaxed-ordered atomics (a stamp only grows), and tables are hashed into a fixed array,
 * so two tables sharing a slot only cost an extra miss. A DDL counter tells the workers that
 * what they read from the catalog is out of date.
 *
 * Pure C11 atomics: no locks, no clock, no I/O. One struct per process, shared by all workers.
 */
#ifndef PGFOLD_FRESH_H
#define PGFOLD_FRESH_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FRESH_SLOTS 4096
#define FRESH_DISTRUST 256 /* patterns shadow verification stopped, per process */

struct fresh {
    atomic_uint_fast64_t clock; /* the latest stamp given out */
    atomic_uint_fast64_t all;   /* stamp of the latest write that could touch anything */
    atomic_uint_fast64_t ddl;   /* DDL statements published: catalogs read before are stale */
    atomic_uint_fast64_t slot[FRESH_SLOTS]; /* stamp of the latest write to a table hashed here */
    /* Fingerprints of the patterns no session answers locally any more: shadow verification
     * found an answer of theirs wrong under the snapshot it was fetched in (batcher/verify.h). */
    atomic_uint_fast64_t distrusted[FRESH_DISTRUST];
};

void fresh_init(struct fresh *f);

/* The hash a table name is published and checked under (names compared as given). */
uint64_t fresh_table(const char *name);

/* The clock now: take it before a read goes upstream, and keep it with its answer. */
uint64_t fresh_now(struct fresh *f);

/*
 * Publishes one confirmed write: to the n tables (hashes from fresh_table), and to anything at
 * all when all is set; ddl counts a schema change too. Returns the write's stamp.
 */
uint64_t fresh_publish(struct fresh *f, const uint64_t *tables, int n, bool all, bool ddl);

/*
 * May an answer fetched at `since` that read these n tables (or anything, when any is set) be
 * served? True when no write published after since could have changed it.
 */
bool fresh_unchanged(struct fresh *f, uint64_t since, const uint64_t *tables, int n, bool any);

/* DDL statements published so far. */
uint64_t fresh_ddl(struct fresh *f);

/* Stops every session answering this pattern locally. Returns false if the set is full (then
 * the caller's own session still stops: see engine_verified). */
bool fresh_distrust(struct fresh *f, uint64_t fingerprint);
bool fresh_distrusted(struct fresh *f, uint64_t fingerprint);

#endif
