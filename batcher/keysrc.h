/*
 * keysrc: the key sources of a session. The key-typed columns of its recent multi-row results,
 * each as the canonical key values in row order, so that a lookup's key can be traced back
 * to the loop that produced it and the loop's remaining keys fetched in one batch.
 *
 * A result is recorded while it streams to the client (keysrc_begin, keysrc_row per DataRow,
 * keysrc_end) and kept only if it had at least two rows; nothing is parsed or canonicalised
 * before the second row arrives. Bounded: at most max_results results and max_rows rows in
 * all, within max_bytes; the oldest result goes first; of a result larger than that, its first
 * max_rows rows (within max_bytes) are kept, so a loop over it folds over those. Values longer than
 * KEYSRC_MAX_KEY bytes are not keys and are recorded as absent.
 *
 * Pure: no sockets, no clock.
 */
#ifndef PGFOLD_KEYSRC_H
#define PGFOLD_KEYSRC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "parser/keyval.h"
#include "pgwire/buf.h"

#define KEYSRC_MAX_KEY 256
#define KEYSRC_MAX_RESULTS 64
#define KEYSRC_RETIRED 64 /* retirements remembered (older ones are forgotten) */

struct keysrc_col {
    char name[64];
    uint32_t table_oid;
    int16_t attnum;
    uint32_t type_oid;
    int16_t format;
    int index; /* position in the row */
    enum keyval_class cls;
    struct buf arena; /* the values, back to back */
    uint32_t *off;    /* value i is arena[off[i] .. off[i+1]); UINT32_MAX start = absent */
    uint32_t *len;
    uint32_t cap;
};

struct keysrc_result {
    uint64_t seq;
    uint64_t source_id;    /* the exact statement (text and parameters) that produced it, 0 if
                              unknown: when it runs again, this result retires */
    uint64_t source_shape; /* fingerprint of the statement that produced it, 0 if unknown */
    char source_table[64]; /* its single table, when the statement had exactly one */
    char source_sql[160];  /* its text, cut, for reports */
    bool resumed;          /* taken back by keysrc_resume for its portal's next chunk */
    int ncols;
    int capcols; /* columns allocated (a recycled result may have more than it uses) */
    struct keysrc_col *cols;
    uint32_t nrows;
    size_t bytes;
};

struct keysrc {
    struct keysrc_result *results[KEYSRC_MAX_RESULTS]; /* [0] is the newest */
    int count;
    size_t rows;
    size_t bytes;
    size_t max_results, max_rows, max_bytes;
    uint64_t next_seq;
    struct keysrc_result *cur;   /* being recorded, or NULL */
    uint64_t retired[KEYSRC_RETIRED]; /* seqs of results whose statement ran again (a ring) */
    uint64_t susp_seq, susp_portal;   /* the result of a portal suspended mid-way (its chunks) */
    unsigned nretired;
    struct keysrc_result *spare; /* a dropped one-row result, kept for reuse (no malloc for
                                    the single-row results most statements return) */

    /* A result is only parsed once its second row arrives (most results have one): until
     * then its RowDescription and first row wait here, copied. */
    bool pending;
    uint32_t pend_rows;
    struct buf pend_desc, pend_row;
    uint64_t pend_shape;
    uint64_t pend_id;
    char pend_table[64];
    char pend_sql[160];
};

/* A place a key was seen. */
struct keysrc_hit {
    struct keysrc_result *res;
    struct keysrc_col *col;
    uint32_t row;
};

void keysrc_init(struct keysrc *ks, size_t max_results, size_t max_rows, size_t max_bytes);
/* Forgets every result (and any result being recorded). */
void keysrc_clear(struct keysrc *ks);

/*
 * Starts recording a result whose RowDescription body is given. source_* describe the
 * statement (may be 0/NULL); source_id names the exact statement, parameters included (0:
 * unknown): a result kept under an id retires every older result of the same id, because the
 * application ran the statement again (the next page render) and loops now follow the new one.
 * Does nothing if the result has no key-typed column.
 */
void keysrc_begin(struct keysrc *ks, const uint8_t *desc, size_t desclen, uint64_t source_shape,
                  const char *source_table, const char *source_sql, uint64_t source_id);
/*
 * Has the result with this sequence number not been retired (its statement ran again)? A result
 * evicted for room is not retired: the loop over it may still be going on.
 */
bool keysrc_alive(const struct keysrc *ks, uint64_t seq);
/* Records one DataRow body of the result being recorded. */
void keysrc_row(struct keysrc *ks, const uint8_t *row, size_t rowlen);
/* Ends the result: kept if it had two or more rows, else dropped. */
void keysrc_end(struct keysrc *ks);
/*
 * A portal read with a row limit stopped at PortalSuspended: the rows so far are kept as a
 * result at once (the loop over them may run before the next chunk is asked for), and its next
 * chunk (keysrc_resume with the same portal) appends to that same result: the chunks are one
 * result. portal identifies the portal instance (0: unknown, then it is keysrc_end).
 */
void keysrc_suspend(struct keysrc *ks, uint64_t portal);
/* The next chunk of that portal begins: reopens its result for keysrc_row. False when there
 * is none (another portal, or the result was evicted): then keysrc_begin as usual. */
bool keysrc_resume(struct keysrc *ks, uint64_t portal);
/* Drops the result being recorded (the statement failed). */
void keysrc_abort(struct keysrc *ks);

/* Value i of a column: returns false for an absent (NULL or over-long) value. */
bool keysrc_value(const struct keysrc_col *col, uint32_t i, const char **val, size_t *len);

/*
 * Finds where a canonical key of class cls occurs: the first row of each column of each result
 * (newest first) holding it. Returns the number of hits written (at most max).
 */
int keysrc_find(struct keysrc *ks, enum keyval_class cls, const char *key, size_t keylen,
                struct keysrc_hit *hits, int max);

/* Says whether a key is already answered (so a batch does not fetch it again). */
typedef bool (*keysrc_cached_cb)(void *ctx, const char *key, size_t len);

/*
 * Collects the keys to batch from a column: first the current key, then the column's other
 * values in row order, deduplicated, skipping absent ones and those cached() says are
 * answered, until max keys. Pointers refer into the column's storage (valid until the next
 * keysrc call that records or clears). Returns the number of keys, or -ENOMEM.
 */
int keysrc_collect(const struct keysrc_col *col, uint32_t nrows, const char *cur, size_t curlen,
                   keysrc_cached_cb cached, void *ctx, size_t max, const char **keys,
                   size_t *lens) __attribute__((warn_unused_result));

/*
 * The same, from row `start` on. A loop walks its source in order, so the rows before the
 * current key's are keys it has used already: re-fetching them (their answers may have been
 * evicted) would spend the batch on keys nobody asks for again.
 */
int keysrc_collect_from(const struct keysrc_col *col, uint32_t start, uint32_t nrows,
                        const char *cur, size_t curlen, keysrc_cached_cb cached, void *ctx,
                        size_t max, const char **keys, size_t *lens)
    __attribute__((warn_unused_result));

#endif
