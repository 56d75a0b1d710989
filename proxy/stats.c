/*
 * stats: counters, histograms and the pattern registry, and their renderings for the admin
 * port (Prometheus text format 0.0.4 and JSON). See stats.h for who writes what.
 */
#include "proxy/stats.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "parser/comment.h"
#include "proxy/savings.h"

/* Upper bounds in microseconds; the last bucket is +Inf. */
static const uint64_t bounds_us[STATS_BUCKETS - 1] = {
    100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000, 1000000,
    2500000, 5000000, 10000000,
};

int
stats_init(struct stats *st)
{
    memset(st, 0, sizeof(*st));
    if (pthread_mutex_init(&st->lock, NULL) != 0)
        return -1;
    st->patterns = calloc(STATS_MAX_PATTERNS, sizeof(*st->patterns));
    return st->patterns ? 0 : -1;
}

void
stats_destroy(struct stats *st)
{
    pthread_mutex_destroy(&st->lock);
    free(st->patterns);
    st->patterns = NULL;
}

void
stats_observe(struct stats_hist *h, uint64_t us)
{
    size_t i = 0;
    while (i < STATS_BUCKETS - 1 && us > bounds_us[i])
        i++;
    stats_add(&h->bucket[i], 1);
    stats_add(&h->count, 1);
    stats_add(&h->sum_us, us);
}

static void
copy_str(char *dst, size_t cap, const char *src)
{
    size_t n = src ? strnlen(src, cap - 1) : 0;
    if (n)
        memcpy(dst, src, n);
    dst[n] = '\0';
}

/* A query's text for reports, without the location comments at its ends: the pattern keeps
 * the first text it saw, and that text's location is not the pattern's. */
static void
copy_sql(char *dst, size_t cap, const char *src)
{
    size_t off = 0, n = 0;
    if (src)
        comment_trim(src, strlen(src), &off, &n);
    n = n < cap - 1 ? n : cap - 1;
    if (n)
        memcpy(dst, src + off, n);
    dst[n] = '\0';
}

static void
apply(struct stats_pattern *p, uint64_t now_ms, const struct engine_delta *d,
      const struct stats_origin *o)
{
    bool observe = o && o->observe, in_block = o && o->in_block;
    p->last_seen_ms = now_ms;
    p->loops += d->loops;
    p->lookups += d->lookups;
    p->batches += d->batches;
    p->keys_fetched += d->fetched;
    p->keys_used += d->used;
    /* The engine reports one "saved" for both modes; which it is depends on the session's
     * mode (a reload may leave sessions of both kinds running). */
    if (observe) {
        p->would_save += d->saved;
        p->observed_loops += d->loops;
        p->observed_block_loops += in_block ? d->loops : 0;
    } else {
        p->roundtrips_saved += d->saved;
        p->block_batches += in_block ? d->batches : 0;
    }
    if (d->backoff)
        copy_str(p->backoff, sizeof(p->backoff), d->backoff);
    p->verified += d->verified;
    p->stale += d->stale;
    p->mismatched += d->mismatched;
    if (d->stale && d->stale_age_ms > p->stale_age_max_ms)
        p->stale_age_max_ms = d->stale_age_ms;
    p->stopped |= d->stopped;
    if (o && o->named)
        attrib_note(&p->attrib, &o->where, d->loops, now_ms);
}

/* The process-wide would-be savings (the saved ones come through the engine's counters). */
static void
count_would(struct stats *st, const struct engine_delta *d, const struct stats_origin *o)
{
    if (!o || !o->observe)
        return;
    stats_add(&st->c.would_save, d->saved);
    if (o->in_block)
        stats_add(&st->c.would_block_stmts, 2 * d->loops);
}

struct stats_pattern *
stats_pattern_find(struct stats *st, const struct engine_pattern *key, uint64_t now_ms,
                   const struct engine_delta *d, const struct stats_origin *o, bool *created)
{
    const char *col = key->source_column ? key->source_column : "";
    *created = false;
    count_would(st, d, o);
    pthread_mutex_lock(&st->lock);
    struct stats_pattern *p = NULL;
    for (size_t i = 0; i < st->npatterns && !p; i++) {
        struct stats_pattern *q = &st->patterns[i];
        if (q->fingerprint == key->fingerprint &&
            q->source_fingerprint == key->source_fingerprint && strcmp(q->source_column, col) == 0)
            p = q;
    }
    if (!p && st->npatterns < STATS_MAX_PATTERNS) {
        p = &st->patterns[st->npatterns++];
        p->fingerprint = key->fingerprint;
        p->source_fingerprint = key->source_fingerprint;
        copy_sql(p->repeated, sizeof(p->repeated), key->repeated);
        copy_sql(p->source, sizeof(p->source), key->source);
        copy_str(p->source_column, sizeof(p->source_column), col);
        copy_str(p->source_table, sizeof(p->source_table), key->source_table);
        copy_str(p->key_table, sizeof(p->key_table), key->key_table);
        copy_str(p->key_column, sizeof(p->key_column), key->key_column);
        p->first_seen_ms = now_ms;
        *created = true;
    }
    if (p)
        apply(p, now_ms, d, o);
    pthread_mutex_unlock(&st->lock);
    return p;
}

void
stats_pattern_add(struct stats *st, struct stats_pattern *p, uint64_t now_ms,
                  const struct engine_delta *d, const struct stats_origin *o)
{
    count_would(st, d, o);
    if (!p)
        return;
    pthread_mutex_lock(&st->lock);
    apply(p, now_ms, d, o);
    pthread_mutex_unlock(&st->lock);
}

bool
stats_pattern_first_site(struct stats *st, const struct stats_pattern *p, struct attrib_site *out)
{
    pthread_mutex_lock(&st->lock);
    bool any = p->attrib.nsites > 0;
    if (any)
        *out = p->attrib.site[0];
    pthread_mutex_unlock(&st->lock);
    return any;
}

double
stats_rtt_median_us(struct stats *st, uint64_t *n)
{
    struct stats_hist *h = &st->c.upstream_latency;
    uint64_t b[STATS_BUCKETS], total = 0;
    for (size_t i = 0; i < STATS_BUCKETS; i++)
        total += b[i] = stats_get(&h->bucket[i]);
    if (n)
        *n = total;
    if (total == 0)
        return 0;
    /* The bucket holding the middle observation, and the point inside it as if its
     * observations were spread evenly (Prometheus' histogram_quantile does the same). */
    double half = (double)total / 2, cum = 0;
    for (size_t i = 0; i < STATS_BUCKETS; i++) {
        if (cum + (double)b[i] < half) {
            cum += (double)b[i];
            continue;
        }
        double lo = i ? (double)bounds_us[i - 1] : 0;
        if (i == STATS_BUCKETS - 1)
            return lo; /* the +Inf bucket: its lower bound, the most that can be claimed */
        return lo + ((double)bounds_us[i] - lo) * (half - cum) / (double)b[i];
    }
    return 0;
}

void
stats_render_pattern_html(const struct stats_pattern *p, double rtt_us, struct buf *out)
{
    buf_puts(out, "<td>");
    savings_render_html(p, rtt_us, out);
    buf_puts(out, "</td><td>");
    attrib_render_html(&p->attrib, out);
    buf_puts(out, "</td>");
}

/* ---- rendering ---------------------------------------------------------------------------- */

static void
vbprintf(struct buf *b, const char *fmt, va_list ap0)
{
    va_list ap;
    va_copy(ap, ap0);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || buf_reserve(b, (size_t)n + 1) != 0)
        return;
    va_copy(ap, ap0);
    vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

static void
bprintf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
bprintf(struct buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vbprintf(b, fmt, ap);
    va_end(ap);
}

void
stats_printf(struct buf *out, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vbprintf(out, fmt, ap);
    va_end(ap);
}

void
stats_json_str(struct buf *out, const char *s)
{
    buf_put_u8(out, '"');
    for (; s && *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            bprintf(out, "\\%c", ch);
        else if (ch < 0x20)
            bprintf(out, "\\u%04x", ch);
        else
            buf_put_u8(out, ch);
    }
    buf_put_u8(out, '"');
}

void
stats_html_str(struct buf *out, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '<':
            buf_puts(out, "&lt;");
            break;
        case '>':
            buf_puts(out, "&gt;");
            break;
        case '&':
            buf_puts(out, "&amp;");
            break;
        case '"':
            buf_puts(out, "&quot;");
            break;
        case '\'':
            buf_puts(out, "&#39;");
            break;
        default:
            buf_put_u8(out, (uint8_t)*s);
        }
    }
}

static void
histogram(struct buf *b, const char *name, const char *help, struct stats_hist *h)
{
    bprintf(b, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
    uint64_t cum = 0;
    for (size_t i = 0; i < STATS_BUCKETS; i++) {
        cum += stats_get(&h->bucket[i]);
        if (i < STATS_BUCKETS - 1)
            bprintf(b, "%s_bucket{le=\"%g\"} %llu\n", name, (double)bounds_us[i] / 1e6,
                    (unsigned long long)cum);
        else
            bprintf(b, "%s_bucket{le=\"+Inf\"} %llu\n", name, (unsigned long long)cum);
    }
    bprintf(b, "%s_sum %.6f\n%s_count %llu\n", name, (double)stats_get(&h->sum_us) / 1e6, name,
            (unsigned long long)stats_get(&h->count));
}

/* clang-format off */
#define ITEM(k, m, l, t, h, v) {.key = (k), .metric = (m), .label = (l), .type = (t), .help = (h), .value = (v)}
/* clang-format on */

size_t
stats_items(struct stats *st, const struct stats_process *p, struct stats_item *out, size_t max)
{
    struct stats_counters *c = &st->c;
    pthread_mutex_lock(&st->lock);
    uint64_t np = st->npatterns;
    pthread_mutex_unlock(&st->lock);
    const char *fb = "pgfold_fallbacks_total";
    const char *fbh = "Batches discarded, by reason.";
    const struct stats_item all[] = {
        {.key = "uptime_seconds", .metric = "pgfold_uptime_seconds", .type = "gauge",
         .help = "Seconds since pgfold started.", .value = p->uptime_ms, .milli = true},
        ITEM("workers", "pgfold_workers", NULL, "gauge", "Worker threads.", p->workers),
        ITEM("client_connections", "pgfold_client_connections", NULL, "gauge",
             "Open client connections.", p->client_conns),
        ITEM("connections_accepted", "pgfold_connections_accepted_total", NULL, "counter",
             "Client connections accepted.", p->accepted),
        ITEM("connections_rejected", "pgfold_connections_rejected_total", NULL, "counter",
             "Client connections refused by pgfold itself (max_client_conn).", p->rejected),
        ITEM("login_failures", "pgfold_login_failures_total", NULL, "counter",
             "Logins refused, by the server or by pgfold's console.", p->login_failures),
        ITEM("upstream_connect_failures", "pgfold_upstream_connect_failures_total", NULL,
             "counter", "Upstream connections that could not be made.", p->upstream_failures),
        ITEM("client_statements", "pgfold_client_statements_total", NULL, "counter",
             "Statements clients sent (Query, Execute).", stats_get(&c->client_stmts)),
        ITEM("server_statements", "pgfold_server_statements_total", NULL, "counter",
             "Statements pgfold sent upstream (forwarded plus batches).",
             stats_get(&c->server_stmts)),
        ITEM("lookups", "pgfold_lookups_total", NULL, "counter",
             "Eligible single-key lookups seen.", stats_get(&c->lookups)),
        ITEM("batches", "pgfold_batches_total", NULL, "counter",
             "Speculative batches that were used.", stats_get(&c->batches)),
        ITEM("batch_keys", "pgfold_batch_keys_total", NULL, "counter", "Keys fetched by batches.",
             stats_get(&c->batch_keys)),
        ITEM("batch_keys_used", "pgfold_batch_keys_used_total", NULL, "counter",
             "Batched keys a client asked for.", stats_get(&c->batch_keys_used)),
        ITEM("batch_answers", "pgfold_batch_answers_total", NULL, "counter",
             "Client statements answered from a batch.", stats_get(&c->batch_answers)),
        ITEM("repeat_answers", "pgfold_repeat_answers_total", NULL, "counter",
             "Client statements answered from an identical earlier result.",
             stats_get(&c->repeat_answers)),
        ITEM("roundtrips_saved", "pgfold_roundtrips_saved_total", NULL, "counter",
             "Upstream round trips not made (0 in observe mode: nothing is batched).",
             stats_get(&c->roundtrips_saved)),
        ITEM("fallbacks_error", fb, "reason=\"error\"", "counter", fbh,
             stats_get(&c->fallback_error)),
        ITEM("fallbacks_size", fb, "reason=\"size\"", "counter", fbh,
             stats_get(&c->fallback_size)),
        ITEM("fallbacks_rowdescription", fb, "reason=\"rowdescription\"", "counter", fbh,
             stats_get(&c->fallback_rowdesc)),
        ITEM("cache_bytes", "pgfold_cache_bytes", NULL, "gauge",
             "Bytes held by session answer caches and key sources.", stats_get(&c->cache_bytes)),
        ITEM("session_cache_bytes_max", "pgfold_session_cache_bytes_max", NULL, "gauge",
             "The most bytes one session has held.", stats_get(&c->session_cache_max)),
        ITEM("patterns", "pgfold_patterns", NULL, "gauge", "Detected N+1 patterns.", np),
        ITEM("verified", "pgfold_verified_total", NULL, "counter",
             "Local answers checked against the server (verify_fraction).",
             stats_get(&c->verified)),
        ITEM("verify_mismatches", "pgfold_verify_mismatches_total", NULL, "counter",
             "Checked answers wrong under the snapshot they were fetched in (pgfold bugs).",
             stats_get(&c->verify_mismatch)),
        ITEM("verify_stale", "pgfold_verify_stale_total", NULL, "counter",
             "Checked answers whose rows had changed since the batch (a writer pgfold did not see).",
             stats_get(&c->verify_stale)),
        ITEM("verify_skipped", "pgfold_verify_skipped_total", NULL, "counter",
             "Checks that did not complete.", stats_get(&c->verify_skipped)),
        {.key = "verify_stale_age_max_seconds", .metric = "pgfold_verify_stale_age_max_seconds",
         .type = "gauge", .help = "The oldest stale answer found, served.",
         .value = stats_get(&c->verify_stale_age_max), .milli = true},
    };
    size_t n = sizeof(all) / sizeof(all[0]);
    if (n > max)
        n = max;
    memcpy(out, all, n * sizeof(all[0]));
    return n;
}

void
stats_item_value(const struct stats_item *it, char *out, size_t cap)
{
    if (it->milli)
        snprintf(out, cap, "%llu.%03llu", (unsigned long long)(it->value / 1000),
                 (unsigned long long)(it->value % 1000));
    else
        snprintf(out, cap, "%llu", (unsigned long long)it->value);
}

/* Prometheus label values escape backslash, double quote and newline. */
static void
label_value(struct buf *b, const char *s)
{
    for (; *s; s++) {
        if (*s == '\\' || *s == '"')
            buf_put_u8(b, '\\');
        if (*s == '\n') {
            buf_puts(b, "\\n");
            continue;
        }
        buf_put_u8(b, (uint8_t)*s);
    }
}

void
stats_render_metrics(struct stats *st, const struct stats_process *p, struct buf *out)
{
    struct stats_item items[STATS_MAX_ITEMS];
    size_t n = stats_items(st, p, items, STATS_MAX_ITEMS);
    bprintf(out, "# HELP pgfold_info pgfold's version and running mode (always 1).\n"
                 "# TYPE pgfold_info gauge\npgfold_info{version=\"");
    label_value(out, p->version);
    buf_puts(out, "\",mode=\"");
    label_value(out, p->mode);
    buf_puts(out, "\"} 1\n");
    for (size_t i = 0; i < n; i++) {
        const struct stats_item *it = &items[i];
        char v[32];
        if (i == 0 || strcmp(items[i - 1].metric, it->metric) != 0)
            bprintf(out, "# HELP %s %s\n# TYPE %s %s\n", it->metric, it->help, it->metric,
                    it->type);
        stats_item_value(it, v, sizeof(v));
        bprintf(out, "%s%s%s%s %s\n", it->metric, it->label ? "{" : "", it->label ? it->label : "",
                it->label ? "}" : "", v);
    }
    histogram(out, "pgfold_client_statement_seconds",
              "Client statement latency through pgfold, to ReadyForQuery.", &st->c.client_latency);
    histogram(out, "pgfold_upstream_roundtrip_seconds",
              "Round trips from pgfold to the server, to ReadyForQuery.", &st->c.upstream_latency);
    savings_render_metrics(st, out);
}

void
stats_render_counters_json(struct stats *st, struct buf *out)
{
    struct stats_counters *c = &st->c;
    bprintf(out,
            "{\"client_statements\":%llu,\"server_statements\":%llu,\"lookups\":%llu,"
            "\"batches\":%llu,\"batch_keys\":%llu,\"batch_keys_used\":%llu,"
            "\"batch_answers\":%llu,\"repeat_answers\":%llu,\"roundtrips_saved\":%llu,"
            "\"fallbacks\":{\"error\":%llu,\"size\":%llu,\"rowdescription\":%llu}",
            (unsigned long long)stats_get(&c->client_stmts),
            (unsigned long long)stats_get(&c->server_stmts),
            (unsigned long long)stats_get(&c->lookups),
            (unsigned long long)stats_get(&c->batches),
            (unsigned long long)stats_get(&c->batch_keys),
            (unsigned long long)stats_get(&c->batch_keys_used),
            (unsigned long long)stats_get(&c->batch_answers),
            (unsigned long long)stats_get(&c->repeat_answers),
            (unsigned long long)stats_get(&c->roundtrips_saved),
            (unsigned long long)stats_get(&c->fallback_error),
            (unsigned long long)stats_get(&c->fallback_size),
            (unsigned long long)stats_get(&c->fallback_rowdesc));
    savings_render_counters_json(st, out);
    buf_put_u8(out, '}');
}

/* "polls_question" -> "question": the last word of a table name, the ORM's model name. */
static const char *
last_word(const char *table)
{
    const char *dot = strrchr(table, '.');
    const char *t = dot ? dot + 1 : table;
    const char *us = strrchr(t, '_');
    return us && us[1] ? us + 1 : t;
}

void
stats_suggestion(const struct stats_pattern *p, char *out, size_t cap)
{
    size_t cl = strlen(p->source_column);
    bool forward = cl > 3 && strcasecmp(p->source_column + cl - 3, "_id") == 0;
    if (forward) {
        int rel = (int)(cl - 3);
        snprintf(out, cap,
                 "load %s for all rows of the source query at once: Django "
                 "select_related('%.*s') or prefetch_related('%.*s'); SQLAlchemy "
                 "selectinload(...%.*s); Rails includes(:%.*s)",
                 p->key_table[0] ? p->key_table : "the related rows", rel, p->source_column, rel,
                 p->source_column, rel, p->source_column, rel, p->source_column);
        return;
    }
    size_t sl = strlen(p->source_table);
    if (sl && strncmp(p->key_table, p->source_table, sl) == 0 && p->key_table[sl] == '_' &&
        p->key_table[sl + 1]) {
        /* A many-to-many through table named <source>_<relation> (Django's book_tags). */
        const char *rel = p->key_table + sl + 1;
        snprintf(out, cap,
                 "load the %s of all %s rows at once: Django prefetch_related('%s'); "
                 "SQLAlchemy selectinload(...%s); Rails includes(:%s)",
                 rel, p->source_table, rel, rel, rel);
        return;
    }
    const char *child = p->key_table[0] ? last_word(p->key_table) : "related";
    snprintf(out, cap,
             "load the %s rows of all %s rows at once: Django prefetch_related('%s_set') (or "
             "the related_name); SQLAlchemy selectinload; Rails includes(:%ss)",
             p->key_table[0] ? p->key_table : "related",
             p->source_table[0] ? p->source_table : "source", child, child);
}

void
stats_render_patterns_json(struct stats *st, uint64_t now_ms, bool observe, struct buf *out)
{
    (void)now_ms;
    double rtt_us = stats_rtt_median_us(st, NULL);
    pthread_mutex_lock(&st->lock);
    buf_put_u8(out, '[');
    for (size_t i = 0; i < st->npatterns; i++) {
        struct stats_pattern *p = &st->patterns[i];
        char fp[20], sfp[20], tip[512];
        snprintf(fp, sizeof(fp), "%016llx", (unsigned long long)p->fingerprint);
        snprintf(sfp, sizeof(sfp), "%016llx", (unsigned long long)p->source_fingerprint);
        stats_suggestion(p, tip, sizeof(tip));
        if (i)
            buf_put_u8(out, ',');
        bprintf(out, "{\"fingerprint\":\"%s\",\"query\":", fp);
        stats_json_str(out, p->repeated);
        bprintf(out, ",\"source_fingerprint\":\"%s\",\"source_query\":", sfp);
        stats_json_str(out, p->source);
        bprintf(out, ",\"source_column\":");
        stats_json_str(out, p->source_column);
        bprintf(out, ",\"key_table\":");
        stats_json_str(out, p->key_table);
        bprintf(out, ",\"key_column\":");
        stats_json_str(out, p->key_column);
        bprintf(out,
                ",\"first_seen_ms\":%llu,\"last_seen_ms\":%llu,\"loops\":%llu,\"lookups\":%llu,"
                "\"batches\":%llu,\"keys_fetched\":%llu,\"keys_used\":%llu,"
                "\"roundtrips_saved\":%llu,",
                (unsigned long long)p->first_seen_ms, (unsigned long long)p->last_seen_ms,
                (unsigned long long)p->loops, (unsigned long long)p->lookups,
                (unsigned long long)p->batches, (unsigned long long)p->keys_fetched,
                (unsigned long long)p->keys_used,
                (unsigned long long)p->roundtrips_saved);
        if (observe)
            bprintf(out, "\"roundtrips_would_save\":%llu,", (unsigned long long)p->would_save);
        bprintf(out, "\"backoff\":");
        stats_json_str(out, p->backoff[0] ? p->backoff : "none");
        bprintf(out,
                ",\"verified\":%llu,\"verify_mismatches\":%llu,\"verify_stale\":%llu,"
                "\"verify_stale_age_max_ms\":%llu,\"verify_stopped\":%s",
                (unsigned long long)p->verified, (unsigned long long)p->mismatched,
                (unsigned long long)p->stale, (unsigned long long)p->stale_age_max_ms,
                p->stopped ? "true" : "false");
        bprintf(out, ",\"suggestion\":");
        stats_json_str(out, tip);
        savings_render_pattern_json(p, rtt_us, out);
        bprintf(out, ",\"seen_under\":");
        attrib_render_json(&p->attrib, out);
        buf_put_u8(out, '}');
    }
    buf_put_u8(out, ']');
    pthread_mutex_unlock(&st->lock);
}
