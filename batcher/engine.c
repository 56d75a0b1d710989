/*
 * engine: lifecycle, effects and freshness. See engine.h for the contract.
 *
 * This file owns what the session's statements do to the answer cache (DESIGN.md §4): which
 * statements empty it, how transaction blocks and their isolation levels are followed, and
 * when a cached answer may still be used under the consistency mode. The verdicts are in
 * decide.c, the batch's responses in split.c, forwarded results in capture.c.
 */
#include "batcher/engine.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "batcher/engine_int.h"

static void
loop_done_cb(struct policy_shape *ps, void *ctx)
{
    engine_loop_done(ctx, ps);
}

struct engine *
engine_new(const struct config *cfg, const struct engine_hooks *hooks)
{
    struct engine *e = calloc(1, sizeof(*e));
    if (!e)
        return NULL;
    if (hooks)
        e->hooks = *hooks;
    size_t src_bytes = cfg->session_cache_bytes / 4;
    keysrc_init(&e->src, cfg->source_results, cfg->source_rows, src_bytes);
    answer_init(&e->answers, cfg->session_cache_bytes - src_bytes);
    policy_init(&e->policy);
    e->b.key_pidx = -1;
    return e;
}

void
engine_free(struct engine *e)
{
    if (!e)
        return;
    policy_each(&e->policy, loop_done_cb, e);
    keysrc_clear(&e->src);
    answer_free(&e->answers);
    engine_account(e);
    policy_free(&e->policy);
    buf_free(&e->cap.desc);
    buf_free(&e->cap.rows);
    buf_free(&e->last_desc);
    buf_free(&e->others);
    buf_free(&e->scratch);
    buf_free(&e->key0);
    engine_batch_clear(e);
    free(e);
}

void
engine_count(struct engine *e, enum engine_counter c, uint64_t n)
{
    if (e->hooks.count && n)
        e->hooks.count(e->hooks.ctx, c, n);
}

/* Reports the session's cache holdings when they changed. */
void
engine_account(struct engine *e)
{
    uint64_t now = e->answers.bytes + e->src.bytes;
    if (now == e->accounted)
        return;
    if (e->hooks.cache_bytes)
        e->hooks.cache_bytes(e->hooks.ctx, e->accounted, now);
    e->accounted = now;
}

void
engine_invalidate(struct engine *e)
{
    answer_clear(&e->answers);
    e->epoch++;
    engine_account(e);
}

bool
engine_catalog_current(const struct engine_ctx *cx)
{
    return cx->fresh && catalog_current(cx->catalog, fresh_ddl(cx->fresh));
}

void
engine_write_unknown(struct engine *e)
{
    engine_invalidate(e);
    e->pw.all = true;
}

/* Adds what a write of this shape touches to the writes waiting for confirmation. */
static void
note_write(struct engine *e, const struct engine_ctx *cx, const struct shape *sh)
{
    struct engine_writes *w = &e->pw;
    if (w->all)
        return;
    uint64_t t[CATALOG_MAX_WRITE];
    int n = 0;
    bool all = false;
    catalog_write_set(cx->catalog, engine_catalog_current(cx), sh, t, CATALOG_MAX_WRITE, &n, &all);
    for (int i = 0; i < n && !all; i++) {
        bool seen = false;
        for (int j = 0; j < w->n && !seen; j++)
            seen = w->t[j] == t[i];
        if (seen)
            continue;
        if (w->n == CATALOG_MAX_WRITE)
            all = true;
        else
            w->t[w->n++] = t[i];
    }
    w->all = all;
}

void
engine_status(struct engine *e, const struct engine_ctx *cx, uint8_t before)
{
    if (before == 'I' && cx->txn_status != 'I')
        e->txn_seq++; /* a transaction block began */
    if (before != 'I' && cx->txn_status == 'I') {
        engine_invalidate(e); /* it ended */
        e->snapshot_iso = false;
        e->block_fresh = false;
    }
    struct engine_writes *w = &e->pw;
    if (cx->fresh && (w->n || w->all || w->ddl))
        fresh_publish(cx->fresh, w->t, w->n, w->all, w->ddl);
    w->ddl = false; /* counted once: the catalog reloads once */
    if (cx->txn_status == 'I')
        w->n = 0, w->all = false; /* committed (or rolled back): published for good */
}

/* ---- invalidation (DESIGN.md §4) ------------------------------------------------------- */

static const char *
skip_space(const char *p)
{
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
        p++;
    return p;
}

static bool
iso_snapshot(enum shape_isolation iso)
{
    return iso == SHAPE_ISO_REPEATABLE_READ || iso == SHAPE_ISO_SERIALIZABLE;
}

/*
 * A level given to the open block after its BEGIN (SET TRANSACTION, or a BEGIN with a level
 * inside the block, which PostgreSQL only warns about but applies). PostgreSQL accepts it only
 * before the block's first query, so a REPEATABLE READ level is believed only while the block
 * is fresh; any other level (or a late one, which fails) means the block is not a snapshot block.
 */
static void
set_block_isolation(struct engine *e, const struct engine_ctx *cx, enum shape_isolation iso)
{
    if (iso == SHAPE_ISO_DEFAULT)
        return;
    e->snapshot_iso = iso_snapshot(iso) && e->block_fresh && cx->txn_status == 'T';
}

/*
 * A multi-statement Query that is not only reads: its txn/session fields describe just its last
 * such statement, so assume the worst of the rest. It may end a block and begin another without
 * the status ever passing through 'I' ("COMMIT; BEGIN ISOLATION LEVEL REPEATABLE READ"), undo
 * the session's writes ("ROLLBACK TO SAVEPOINT a; RELEASE a"), or change a level that is then
 * rolled back with it: empty the cache, start a new block number, and believe a snapshot block
 * only when the string ends with a BEGIN that says so and sets nothing.
 */
static unsigned
multi_effects(struct engine *e, const struct engine_ctx *cx, const struct shape *sh)
{
    const unsigned reads = (1u << SHAPE_LOOKUP) | (1u << SHAPE_READ) | (1u << SHAPE_EMPTY);
    const unsigned known = reads | (1u << SHAPE_TXN) | (1u << SHAPE_SESSION);
    unsigned fx = 0;
    if ((sh->contains & ~reads) == 0)
        return 0;
    engine_invalidate(e);
    /* Its tables are every table the string names; anything it cannot name touches all. */
    if ((sh->contains & ~(known | (1u << SHAPE_WRITE))) ||
        (sh->text && strcasestr(sh->text, "prepared")))
        e->pw.all = true;
    else if (sh->contains & (1u << SHAPE_WRITE))
        note_write(e, cx, sh);
    e->block_fresh = false;
    if (sh->contains & (1u << SHAPE_SESSION))
        e->default_snapshot = false;
    /* DISCARD ALL/PLANS and DEALLOCATE drop prepared statements; which statement of the string
     * did is not known, so any mention of them counts. */
    if ((sh->contains & ((1u << SHAPE_SESSION) | (1u << SHAPE_UTILITY))) && sh->text &&
        (strcasestr(sh->text, "discard") || strcasestr(sh->text, "deallocate")))
        fx |= ENGINE_FX_FORGET_STATEMENTS;
    if (sh->contains & ((1u << SHAPE_TXN) | (1u << SHAPE_SESSION))) {
        e->txn_seq++;
        e->snapshot_iso = !(sh->contains & (1u << SHAPE_SESSION)) &&
                          sh->txn.op == SHAPE_TXN_BEGIN && iso_snapshot(sh->txn.isolation);
    }
    return fx;
}

static void
txn_effects(struct engine *e, const struct engine_ctx *cx, const struct shape *sh)
{
    /* A prepared transaction's writes become visible at COMMIT PREPARED, on any session, and
     * which tables they were is not known here. */
    if (sh->txn.op == SHAPE_TXN_COMMIT_PREPARED || sh->txn.op == SHAPE_TXN_ROLLBACK_PREPARED)
        e->pw.all = true;
    if (sh->txn.op == SHAPE_TXN_BEGIN) {
        if (cx->txn_status != 'I') {
            /* Inside a block BEGIN is only a warning, but a level it names applies. */
            set_block_isolation(e, cx, sh->txn.isolation);
            return;
        }
        e->snapshot_iso = sh->txn.isolation == SHAPE_ISO_DEFAULT ? e->default_snapshot
                                                                 : iso_snapshot(sh->txn.isolation);
        e->block_fresh = true;
        return;
    }
    e->block_fresh = false;
    if (sh->txn.op == SHAPE_TXN_SAVEPOINT || sh->txn.op == SHAPE_TXN_RELEASE)
        return;
    engine_invalidate(e);
}

static unsigned
session_effects(struct engine *e, const struct engine_ctx *cx, const struct shape *sh)
{
    unsigned fx = 0;
    const struct shape_session *ss = &sh->session;
    if (ss->op == SHAPE_SESSION_DISCARD &&
        (ss->discard == SHAPE_DISCARD_ALL || ss->discard == SHAPE_DISCARD_PLANS))
        fx |= ENGINE_FX_FORGET_STATEMENTS;
    if (ss->op == SHAPE_SESSION_SET_TRANSACTION)
        set_block_isolation(e, cx, sh->txn.isolation);
    if (ss->op == SHAPE_SESSION_SET_CHARACTERISTICS && sh->txn.isolation != SHAPE_ISO_DEFAULT) {
        /* Inside a block it is undone if the block rolls back (or the savepoint around it
         * does): believe a REPEATABLE READ default only when set outside any block. */
        e->default_snapshot = cx->txn_status == 'I' && iso_snapshot(sh->txn.isolation);
    }
    if (ss->op == SHAPE_SESSION_RESET_ALL || ss->op == SHAPE_SESSION_DISCARD ||
        (ss->name && strcmp(ss->name, "default_transaction_isolation") == 0))
        e->default_snapshot = false; /* unknown or reset: assume READ COMMITTED */
    if (ss->name && strcmp(ss->name, "transaction_isolation") == 0)
        e->snapshot_iso = false; /* SET [LOCAL] transaction_isolation: value not parsed */
    engine_invalidate(e);
    return fx;
}

/* Does the statement's text start with this word (case-insensitive, a whole word)? */
static bool
verb_is(const char *text, const char *verb)
{
    size_t n = strlen(verb);
    return strncasecmp(text, verb, n) == 0 && !(text[n] >= 'a' && text[n] <= 'z') &&
           !(text[n] >= 'A' && text[n] <= 'Z');
}

/*
 * A utility statement (or one the parser could not read). Most may change anything (EXECUTE of
 * a prepared write, COPY, DDL): the session's cache is emptied and every session's answers are
 * refused once it is confirmed. The few below change no table data and leave every answer
 * alone (a FETCH loop over a cursor keeps its loop's answers). Schema changes also make the
 * catalog stale.
 */
static unsigned
utility_effects(struct engine *e, const struct shape *sh)
{
    static const char *const harmless[] = {"fetch", "move", "close", "declare", "listen",
                                           "unlisten", "notify", "lock", "checkpoint", "vacuum",
                                           "analyze", "prepare", "deallocate", "show", "load"};
    static const char *const ddl[] = {"create", "alter", "drop", "comment", "grant", "revoke",
                                      "security", "reindex", "refresh", "import"};
    const char *t = skip_space(sh->normalized ? sh->normalized : sh->text ? sh->text : "");
    bool schema = false, quiet = false;
    for (size_t i = 0; i < sizeof(ddl) / sizeof(ddl[0]); i++)
        schema = schema || verb_is(t, ddl[i]);
    for (size_t i = 0; sh->kind == SHAPE_UTILITY && i < sizeof(harmless) / sizeof(harmless[0]); i++)
        quiet = quiet || verb_is(t, harmless[i]);
    if (schema && sh->kind == SHAPE_UTILITY)
        e->pw.ddl = true;
    if (!quiet || schema)
        e->pw.all = true;
    /* LOCK changes no data, but the reads after it must see what was committed before the
     * lock was granted, not an answer from before it (DESIGN.md §4). */
    if (!quiet || schema || verb_is(t, "lock"))
        engine_invalidate(e);
    /* DEALLOCATE drops statements behind the model's back: forget them all, so a Bind to a
     * dropped one is forwarded and gets the server's error. */
    return sh->kind == SHAPE_UTILITY && verb_is(t, "deallocate") ? ENGINE_FX_FORGET_STATEMENTS : 0;
}

unsigned
engine_effects(struct engine *e, const struct engine_ctx *cx, const struct shape *sh)
{
    if (!sh) {
        engine_write_unknown(e);
        e->block_fresh = false;
        return 0;
    }
    if (sh->flags & SHAPE_F_MULTI)
        return multi_effects(e, cx, sh);
    switch (sh->kind) {
    case SHAPE_LOOKUP:
    case SHAPE_READ:
        e->block_fresh = false; /* it takes the block's snapshot */
        return 0;
    case SHAPE_EMPTY:
        return 0;
    case SHAPE_TXN:
        txn_effects(e, cx, sh);
        return 0;
    case SHAPE_SESSION:
        return session_effects(e, cx, sh);
    case SHAPE_WRITE:
        e->block_fresh = false;
        engine_invalidate(e);
        note_write(e, cx, sh);
        return 0;
    default:
        e->block_fresh = false;
        return utility_effects(e, sh); /* utility, unknown */
    }
}

/* ---- freshness ---------------------------------------------------------------------------- */

/* May a cached answer be used now, under the consistency mode? */
bool
engine_cache_usable(const struct engine *e, const struct engine_ctx *cx)
{
    if (cx->txn_status == 'E' || !cx->idle || cx->cfg->mode != MODE_REWRITE)
        return false;
    switch (cx->cfg->consistency) {
    case CONSISTENCY_WINDOW:
        return true;
    case CONSISTENCY_TRANSACTION:
        return cx->txn_status == 'T';
    case CONSISTENCY_SNAPSHOT:
        return cx->txn_status == 'T' && e->snapshot_iso;
    }
    return false;
}

bool
engine_fresh(const struct engine *e, const struct engine_ctx *cx, const struct answer *a)
{
    /* An answer belongs to the loop that fetched it: once its key source is gone (evicted, or
     * retired because the application ran the source statement again) it is not used. */
    if (a->deps.src_seq && !keysrc_alive(&e->src, a->deps.src_seq))
        return false;
    /* Fetched inside the transaction block still open: good for the whole block (what the
     * transaction mode promises, and window mode includes it). */
    bool same_block = a->txn_seq != 0 && a->txn_seq == e->txn_seq && cx->txn_status == 'T';
    /* A REPEATABLE READ / SERIALIZABLE block sees one snapshot: an answer fetched before it
     * began, however young, may be from another instant, even in window mode. */
    if (cx->cfg->consistency != CONSISTENCY_WINDOW || (cx->txn_status == 'T' && e->snapshot_iso))
        return same_block;
    if (same_block)
        return true;
    if (cx->now_ms - a->fetched_ms > cx->cfg->max_staleness_ms)
        return false;
    /* Another session of this pgfold wrote one of its tables after it was fetched. */
    return !cx->fresh ||
           fresh_unchanged(cx->fresh, a->deps.since, a->deps.t, a->deps.n, a->deps.any);
}

bool
engine_answer_exact(const struct engine *e, const struct engine_ctx *cx, const struct answer *a)
{
    return cx->txn_status == 'T' && e->snapshot_iso && a->txn_seq != 0 && a->txn_seq == e->txn_seq;
}

void
engine_verified(struct engine *e, const struct engine_ctx *cx, uint64_t fingerprint,
                enum verify_outcome outcome, uint64_t age_ms)
{
    struct policy_shape *ps = policy_shape(&e->policy, fingerprint);
    struct engine_delta d = {.verified = 1};
    engine_count(e, ENGINE_C_VERIFIED, 1);
    if (outcome == VERIFY_STALE) {
        engine_count(e, ENGINE_C_VERIFY_STALE, 1);
        d.stale = 1;
        d.stale_age_ms = age_ms;
    } else if (outcome == VERIFY_MISMATCH) {
        engine_count(e, ENGINE_C_VERIFY_MISMATCH, 1);
        d.mismatched = 1;
        d.stopped = true;
        if (cx->fresh)
            (void)fresh_distrust(cx->fresh, fingerprint);
        if (ps)
            ps->distrusted = true;
        engine_invalidate(e); /* what else this session holds was fetched the same way */
    }
    if (ps && ps->pattern && e->hooks.pattern_add)
        e->hooks.pattern_add(e->hooks.ctx, ps->pattern, cx->wall_ms, &d);
}

void
engine_verify_skipped(struct engine *e)
{
    engine_count(e, ENGINE_C_VERIFY_SKIPPED, 1);
}

uint64_t
engine_block_seq(const struct engine *e, const struct engine_ctx *cx)
{
    return cx->txn_status == 'T' ? e->txn_seq : 0;
}

/* ---- inspection ---------------------------------------------------------------------------- */

size_t
engine_cache_bytes(const struct engine *e)
{
    return e->answers.bytes + e->src.bytes;
}

size_t
engine_answer_count(const struct engine *e)
{
    return e->answers.count;
}

const struct keysrc *
engine_sources(const struct engine *e)
{
    return &e->src;
}

const struct policy_shape *
engine_shape_stats(struct engine *e, uint64_t fingerprint)
{
    return policy_find(&e->policy, fingerprint);
}

bool
engine_snapshot_block(const struct engine *e)
{
    return e->snapshot_iso;
}
