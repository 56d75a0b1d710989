/*
 * stats: process-wide counters, latency histograms and the registry of detected N+1
 * patterns, written by the workers and read by the admin port.
 *
 * Counters and histogram buckets are relaxed atomics (a few per statement, no lock). The
 * pattern registry is a small table under one mutex; workers touch it once per lookup that
 * belongs to a pattern, the admin thread when it renders /patterns. Patterns are never freed
 * before exit (the registry is capped at STATS_MAX_PATTERNS), so a worker may keep a pointer.
 */
#ifndef PGFOLD_STATS_H
#define PGFOLD_STATS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>

#include "batcher/engine.h"
#include "pgwire/buf.h"
#include "proxy/attrib.h"

#define STATS_MAX_PATTERNS 1000
#define STATS_BUCKETS 17

typedef atomic_uint_fast64_t stats_counter;

struct stats_hist {
    stats_counter bucket[STATS_BUCKETS]; /* cumulative on render, not here */
    stats_counter count;
    stats_counter sum_us;
};

struct stats_counters {
    stats_counter client_stmts;     /* Query, Execute, FunctionCall received */
    stats_counter server_stmts;     /* forwarded statements plus batches */
    stats_counter lookups;          /* eligible lookups seen (rewrite and observe) */
    stats_counter batches;
    stats_counter batch_keys;
    stats_counter batch_keys_used;
    stats_counter batch_answers;    /* client statements answered from a batch */
    stats_counter repeat_answers;   /* answered from an identical earlier result */
    stats_counter roundtrips_saved;
    stats_counter fallback_error;   /* a batch failed */
    stats_counter fallback_size;    /* a batch passed max_batch_bytes */
    stats_counter fallback_rowdesc; /* a batch's RowDescription differed */
    stats_counter cache_bytes;      /* gauge: answer caches and key sources of all sessions */
    stats_counter session_cache_max; /* gauge: the most one session has held */
    stats_counter verified;         /* local answers checked against the server */
    stats_counter verify_stale;     /* ... the rows had changed since the batch */
    stats_counter verify_mismatch;  /* ... wrong under the same snapshot: a pgfold bug */
    stats_counter verify_skipped;   /* checks that did not complete */
    stats_counter verify_stale_age_max; /* gauge: the oldest stale answer served, ms */

    /* What folding saved, or in observe mode would have saved (docs/patterns.md). */
    stats_counter block_batch_stmts; /* SAVEPOINT + RELEASE of the batches sent in a block */
    stats_counter would_save;        /* observe: lookups a batch per loop would have answered */
    stats_counter would_block_stmts; /* observe: SAVEPOINT + RELEASE such batches would cost */

    struct stats_hist client_latency;   /* client statement: received -> ReadyForQuery sent */
    struct stats_hist upstream_latency; /* pgfold -> server round trip: sent -> ReadyForQuery */
};

struct stats_pattern {
    uint64_t fingerprint;        /* the repeated query's shape */
    uint64_t source_fingerprint; /* the query whose result fed the keys */
    char repeated[512];          /* normalized text */
    char source[160];
    char source_column[64];
    char key_table[64];
    char key_column[64];
    char source_table[64];
    uint64_t first_seen_ms, last_seen_ms; /* wall clock */
    uint64_t loops;              /* source results the pattern was seen on */
    uint64_t lookups;
    uint64_t batches;
    uint64_t keys_fetched;
    uint64_t keys_used;
    uint64_t roundtrips_saved;   /* rewrite sessions only (docs/patterns.md) */
    char backoff[16];            /* "none", "cautious", "paused" */
    /* shadow verification (batcher/verify.h) */
    uint64_t verified, stale, mismatched;
    uint64_t stale_age_max_ms; /* the oldest stale answer found */
    bool stopped;              /* a mismatch stopped its local answers */

    /* Savings by mode (savings.h), and where the pattern was seen (attrib.h). */
    uint64_t block_batches;        /* rewrite: its batches sent inside a transaction block */
    uint64_t observed_loops;       /* observe sessions: loops seen */
    uint64_t observed_block_loops; /* ... of which inside a transaction block */
    uint64_t would_save;           /* observe sessions: lookups but the first of each loop */
    struct attrib attrib;
};

/* Where an event comes from: the session's names and the statement's location comment, its
 * mode (observe: savings are would-be), and whether it runs inside a transaction block (a
 * batch there costs a SAVEPOINT and a RELEASE). */
struct stats_origin {
    struct attrib_origin where;
    bool named; /* where is filled (the event carried the statement's text) */
    bool observe;
    bool in_block;
};

struct stats {
    struct stats_counters c;
    pthread_mutex_t lock; /* guards the patterns */
    struct stats_pattern *patterns;
    size_t npatterns;
    uint64_t started_ms;
};

int stats_init(struct stats *st) __attribute__((warn_unused_result));
void stats_destroy(struct stats *st);

static inline void
stats_add(stats_counter *c, uint64_t n)
{
    atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

static inline uint64_t
stats_get(stats_counter *c)
{
    return atomic_load_explicit(c, memory_order_relaxed);
}

/* Records one latency observation in microseconds. */
void stats_observe(struct stats_hist *h, uint64_t us);

/* A pattern's key and an event's deltas are the engine's own (struct engine_pattern,
 * struct engine_delta in batcher/engine.h). */

/*
 * Finds or creates the pattern for key (NULL when the registry is full) and applies d, coming
 * from o (NULL: a rewrite session outside a block, no names). The process-wide savings
 * counters move even when the registry is full. *created tells whether it is new (the caller
 * logs it once). The pointer stays valid until stats_destroy().
 */
struct stats_pattern *stats_pattern_find(struct stats *st, const struct engine_pattern *key,
                                         uint64_t now_ms, const struct engine_delta *d,
                                         const struct stats_origin *o, bool *created);
/* Applies d, from o (as above), to a pattern found earlier (NULL: only the counters). */
void stats_pattern_add(struct stats *st, struct stats_pattern *p, uint64_t now_ms,
                       const struct engine_delta *d, const struct stats_origin *o);

/* Copies where p was first seen (attrib.h: site 0) into *out, under the registry's lock.
 * Returns false when p has no site. */
bool stats_pattern_first_site(struct stats *st, const struct stats_pattern *p,
                              struct attrib_site *out);

/*
 * The median upstream round trip in microseconds, interpolated within its histogram bucket;
 * 0 before any was measured. *n receives the number of round trips measured (may be NULL).
 * The basis of every estimated time saved (docs/patterns.md).
 */
double stats_rtt_median_us(struct stats *st, uint64_t *n);

/* Appends the HTML cells of one pattern's savings and sites (escaped); registry lock held. */
void stats_render_pattern_html(const struct stats_pattern *p, double rtt_us, struct buf *out);

/*
 * The process around the counters, as its owner (proxy/server.c) sees it at one instant:
 * what /metrics, /stats, the HTML page and the console's SHOW STATS add to struct stats.
 */
struct stats_process {
    const char *version;
    const char *mode;  /* the running mode's name */
    bool observe;      /* mode = observe: the patterns' round trips are would-be savings */
    uint64_t uptime_ms;
    uint64_t workers;
    uint64_t client_conns; /* open now */
    uint64_t accepted, rejected, login_failures, upstream_failures;
};

/* One figure, under the names each rendering gives it. */
struct stats_item {
    const char *key;    /* SHOW STATS and the HTML page: "connections_accepted" */
    const char *metric; /* Prometheus: "pgfold_connections_accepted_total" */
    const char *label;  /* a label pair ("reason=\"error\"") or NULL */
    const char *type;   /* "counter" or "gauge" */
    const char *help;
    uint64_t value;
    bool milli; /* value is in thousandths (uptime): printed as a decimal */
};

#define STATS_MAX_ITEMS 40

/*
 * Fills out with every figure of st and p, in the order they are printed (items of one
 * metric family are adjacent). Returns how many (at most max).
 */
size_t stats_items(struct stats *st, const struct stats_process *p, struct stats_item *out,
                   size_t max);
/* An item's value as text: "12", "3.250". */
void stats_item_value(const struct stats_item *it, char *out, size_t cap);

/*
 * Renders: Prometheus text (0.0.4) with every item and the histograms, the /stats counters
 * object, the /patterns JSON body. In observe mode each pattern's round trips are reported as
 * "roundtrips_would_save" and its "roundtrips_saved" is 0: nothing was batched.
 */
void stats_render_metrics(struct stats *st, const struct stats_process *p, struct buf *out);
void stats_render_counters_json(struct stats *st, struct buf *out);
void stats_render_patterns_json(struct stats *st, uint64_t now_ms, bool observe, struct buf *out);
/* One line of advice in ORM terms for a pattern. */
void stats_suggestion(const struct stats_pattern *p, char *out, size_t cap);

/* Appends a JSON string literal (quoted, escaped). */
void stats_json_str(struct buf *out, const char *s);
/* Appends s escaped for HTML text and attribute values. */
void stats_html_str(struct buf *out, const char *s);
/* Appends printf-formatted text (nothing on a format error; the buffer's error is sticky). */
void stats_printf(struct buf *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
