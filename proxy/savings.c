/*
 * savings: the figures of savings.h from the counters and the pattern registry, and their
 * renderings for /metrics, /stats, /patterns and the HTML page.
 *
 * Counts are exact; time is an estimate and says so. The estimate multiplies the round trips
 * by the median of the upstream round-trip histogram (stats_rtt_median_us): the typical cost of
 * one statement's trip to the server as pgfold measured it on this process's own traffic,
 * rather than the mean, which a few long statements would dominate.
 */
#include "proxy/savings.h"

#include <stdio.h>

static void
finish(struct savings *s, bool any, int64_t roundtrips, int64_t overhead, double rtt_us)
{
    s->any = any;
    s->roundtrips = roundtrips;
    s->statements = roundtrips - overhead;
    s->est_ms = (double)roundtrips * rtt_us / 1000.0;
}

void
savings_of_pattern(const struct stats_pattern *p, double rtt_us, struct savings *saved,
                   struct savings *would)
{
    finish(saved, p->batches > 0 || p->roundtrips_saved > 0, (int64_t)p->roundtrips_saved,
           2 * (int64_t)p->block_batches, rtt_us);
    finish(would, p->observed_loops > 0 || p->would_save > 0, (int64_t)p->would_save,
           2 * (int64_t)p->observed_block_loops, rtt_us);
}

void
savings_of_process(struct stats *st, double rtt_us, struct savings *saved, struct savings *would)
{
    struct stats_counters *c = &st->c;
    uint64_t rt = stats_get(&c->roundtrips_saved), wrt = stats_get(&c->would_save);
    finish(saved, stats_get(&c->batches) > 0 || rt > 0, (int64_t)rt,
           (int64_t)stats_get(&c->block_batch_stmts), rtt_us);
    finish(would, wrt > 0, (int64_t)wrt, (int64_t)stats_get(&c->would_block_stmts), rtt_us);
}

static void
json_one(struct buf *out, const char *name, const struct savings *s, double rtt_us)
{
    stats_printf(out, ",\"%s\":", name);
    if (!s->any) {
        buf_puts(out, "null");
        return;
    }
    stats_printf(out,
                 "{\"roundtrips\":%lld,\"statements\":%lld,\"estimated_time_ms\":%.3f,"
                 "\"per_roundtrip_ms\":%.3f}",
                 (long long)s->roundtrips, (long long)s->statements, s->est_ms, rtt_us / 1000.0);
}

void
savings_render_pattern_json(const struct stats_pattern *p, double rtt_us, struct buf *out)
{
    struct savings saved, would;
    savings_of_pattern(p, rtt_us, &saved, &would);
    json_one(out, "saved", &saved, rtt_us);
    json_one(out, "would_save", &would, rtt_us);
}

void
savings_render_counters_json(struct stats *st, struct buf *out)
{
    uint64_t n = 0;
    double rtt_us = stats_rtt_median_us(st, &n);
    struct savings saved, would;
    savings_of_process(st, rtt_us, &saved, &would);
    buf_puts(out, ",\"savings\":{\"basis\":\"estimated_time_ms = roundtrips x median upstream "
                  "round trip\"");
    stats_printf(out, ",\"upstream_roundtrips_measured\":%llu", (unsigned long long)n);
    json_one(out, "saved", &saved, rtt_us);
    json_one(out, "would_save", &would, rtt_us);
    buf_put_u8(out, '}');
}

static void
series(struct buf *out, const char *name, const char *type, const char *help, double v)
{
    stats_printf(out, "# HELP %s %s\n# TYPE %s %s\n%s %.6g\n", name, help, name, type, name, v);
}

void
savings_render_metrics(struct stats *st, struct buf *out)
{
    double rtt_us = stats_rtt_median_us(st, NULL);
    struct savings saved, would;
    savings_of_process(st, rtt_us, &saved, &would);
    /* Statements saved can go down (a batch in a block costs two more), so it is a gauge;
     * round trips only grow. */
    series(out, "pgfold_statements_saved", "gauge",
           "Rewrite mode: server statements not run, less SAVEPOINT/RELEASE around batches.",
           (double)saved.statements);
    series(out, "pgfold_estimated_time_saved_seconds", "gauge",
           "Rewrite mode, an estimate: round trips saved x median upstream round trip.",
           saved.est_ms / 1000.0);
    series(out, "pgfold_roundtrips_would_save_total", "counter",
           "Observe mode: round trips one batch per loop would have saved (nothing was batched).",
           (double)would.roundtrips);
    series(out, "pgfold_statements_would_save", "gauge",
           "Observe mode: server statements one batch per loop would have saved.",
           (double)would.statements);
    series(out, "pgfold_estimated_time_would_save_seconds", "gauge",
           "Observe mode, an estimate: round trips that would be saved x median upstream round "
           "trip.",
           would.est_ms / 1000.0);
}

static void
html_one(struct buf *out, const char *label, const struct savings *s)
{
    stats_printf(out, "%s: %lld round trip%s, %lld statement%s, ~%.1f ms (estimate)", label,
                 (long long)s->roundtrips, s->roundtrips == 1 ? "" : "s", (long long)s->statements,
                 s->statements == 1 ? "" : "s", s->est_ms);
}

void
savings_render_html(const struct stats_pattern *p, double rtt_us, struct buf *out)
{
    struct savings saved, would;
    savings_of_pattern(p, rtt_us, &saved, &would);
    if (saved.any)
        html_one(out, "saved", &saved);
    if (saved.any && would.any)
        buf_puts(out, "<br>");
    if (would.any)
        html_one(out, "would save (observe mode, nothing batched)", &would);
    if (!saved.any && !would.any)
        buf_puts(out, "nothing batched");
}
