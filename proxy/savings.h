/*
 * savings: what folding saved, and in observe mode what it would have saved, labelled as
 * such, from the counters and the pattern registry of stats.h. docs/patterns.md defines every
 * figure; in short:
 *
 *   round trips   rewrite: lookups answered locally without a batch of their own (a batch's
 *                 round trip replaces the lookup that triggered it); observe: the lookups of
 *                 each loop but the first, which one batch per loop would have answered
 *   statements    the same, less the SAVEPOINT and RELEASE around each batch sent (or, in
 *                 observe mode, that would be sent) inside a transaction block
 *   time          an estimate: round trips x the median upstream round trip pgfold measured
 *
 * Saved and would-save figures never mix: a session's mode decides which one its events feed.
 * Renderings write "saved": null (or leave the series at 0) where nothing was batched.
 */
#ifndef PGFOLD_SAVINGS_H
#define PGFOLD_SAVINGS_H

#include <stdbool.h>
#include <stdint.h>

#include "pgwire/buf.h"
#include "proxy/stats.h"

struct savings {
    bool any; /* something to report: else it renders as null */
    int64_t roundtrips;
    int64_t statements; /* may be below zero: batches in blocks that saved little */
    double est_ms;      /* roundtrips x the median upstream round trip */
};

/* A pattern's figures (registry lock held), with rtt_us from stats_rtt_median_us(). */
void savings_of_pattern(const struct stats_pattern *p, double rtt_us, struct savings *saved,
                        struct savings *would);
/* The process-wide figures: also the repeated answers, and patterns past the registry's cap. */
void savings_of_process(struct stats *st, double rtt_us, struct savings *saved,
                        struct savings *would);

/* Appends ,"saved":{...}|null,"would_save":{...}|null to a pattern's JSON object. */
void savings_render_pattern_json(const struct stats_pattern *p, double rtt_us, struct buf *out);
/* Appends ,"savings":{...} to the /stats counters object. */
void savings_render_counters_json(struct stats *st, struct buf *out);
/* Appends the Prometheus series (text format 0.0.4). */
void savings_render_metrics(struct stats *st, struct buf *out);
/* Appends a pattern's figures for the HTML page, escaped, labelled saved / would save. */
void savings_render_html(const struct stats_pattern *p, double rtt_us, struct buf *out);

#endif
