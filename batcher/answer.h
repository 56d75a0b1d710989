/*
 * answer: the session's cache of complete answers to eligible lookups.
 *
 * Keyed by bytes the caller builds with answer_key(): (shape, the statement's other parameter
 * values, the canonical key, the result formats). An entry holds exactly what PostgreSQL sent
 * for that statement: the RowDescription message (when known), the DataRow messages and the
 * CommandComplete tag, with the time it was fetched and which batch fetched it.
 *
 * Bounded by bytes (least recently used goes first). Pure: time is an argument; no locks (one
 * cache per session, one session per loop thread).
 */
#ifndef PGFOLD_ANSWER_H
#define PGFOLD_ANSWER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pgwire/buf.h"

#define ANSWER_MAX_DEPS 8

/*
 * What an answer depends on besides its key (DESIGN.md §4): the key source it was traced to
 * (it retires with it), and the tables it read, with the process-wide write clock before its
 * statement went upstream (batcher/fresh.h).
 */
struct answer_deps {
    uint64_t since;   /* fresh_now() before the statement was sent */
    uint64_t src_seq; /* keysrc result the key was traced to; 0 = none */
    bool any;         /* depends on every write (pgfold cannot tell which tables) */
    uint8_t n;
    uint64_t t[ANSWER_MAX_DEPS]; /* fresh_table() hashes */
};

struct answer {
    struct answer *hnext;
    struct answer *prev, *next; /* LRU: head is the most recent */
    uint64_t hash;
    uint64_t shape_id;
    uint64_t fetched_ms;
    uint64_t txn_seq;  /* the transaction block it was fetched in; 0 = outside any block */
    uint32_t batch_id; /* 0 = cached from a forwarded single lookup */
    struct answer_deps deps; /* set by the caller after answer_put */
    bool used;         /* served locally at least once */
    uint64_t nrows;
    char tag[24];      /* "SELECT 3" */
    size_t keylen, desclen, rowslen, bytes;
    uint8_t *key;      /* the rest point into this one allocation */
    uint8_t *desc;     /* RowDescription message, whole; desclen 0 when unknown */
    uint8_t *rows;     /* DataRow messages, whole, concatenated */
};

struct answer_cache {
    struct answer **slots;
    size_t nslots;
    size_t count;
    size_t bytes;
    size_t max_bytes;
    struct answer *head, *tail;
};

void answer_init(struct answer_cache *c, size_t max_bytes);
/* Frees every entry (invalidation), keeps the table. */
void answer_clear(struct answer_cache *c);
/* Frees everything. */
void answer_free(struct answer_cache *c);

/*
 * Builds a cache key into out (reset first): the shape id, the result format codes, the other
 * parameters (already canonical bytes, as the caller serialized them) and the key.
 */
void answer_key(struct buf *out, uint64_t shape_id, const uint8_t *formats, size_t nformats,
                const uint8_t *others, size_t otherslen, const char *key, size_t keylen);

/* Finds an entry and marks it most recently used; NULL if absent. */
struct answer *answer_get(struct answer_cache *c, const uint8_t *key, size_t keylen);

/* True if the key is cached (does not touch the LRU order). */
bool answer_has(const struct answer_cache *c, const uint8_t *key, size_t keylen);

/*
 * Stores a copy of an answer, replacing any entry with the same key and evicting the least
 * recently used ones to stay within max_bytes. An answer larger than max_bytes is not stored,
 * and the older entry for its key is removed all the same.
 * Returns the entry, or NULL when it was not stored (too large, or out of memory).
 */
struct answer *answer_put(struct answer_cache *c, const uint8_t *key, size_t keylen,
                          uint64_t shape_id, const uint8_t *desc, size_t desclen,
                          const uint8_t *rows, size_t rowslen, uint64_t nrows, const char *tag,
                          uint64_t now_ms, uint64_t txn_seq, uint32_t batch_id);

/* Removes one entry. */
void answer_del(struct answer_cache *c, struct answer *a);

#endif
