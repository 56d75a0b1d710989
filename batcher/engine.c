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
multi_effects(struct engine *e, const struct shape *sh)
{
    const unsigned reads = (1u << SHAPE_LOOKUP) | (1u << SHAPE_READ) | (1u << SHAPE_EMPTY);
    unsigned fx = 0;
    if ((sh->contains & ~reads) == 0)
        return 0;
    engine_invalidate(e);
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

unsigned
engine_effects(struct engine *e, const struct engine_ctx *cx, const struct shape *sh)
{
    if (!sh) {
        engine_invalidate(e);
        e->block_fresh = false;
        return 0;
    }
    if (sh->flags & SHAPE_F_MULTI)
        return multi_effects(e, sh);
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
    default:
        e->block_fresh = false;
        engine_invalidate(e); /* write, utility, unknown */
        /* DEALLOCATE drops statements behind the model's back: forget them all, so a Bind
         * to a dropped one is forwarded and gets the server's error. */
        if (sh->kind == SHAPE_UTILITY && sh->normalized &&
            strncasecmp(skip_space(sh->normalized), "deallocate", 10) == 0)
            return ENGINE_FX_FORGET_STATEMENTS;
        return 0;
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
    /* Fetched inside the transaction block still open: good for the whole block (what the
     * transaction mode promises, and window mode includes it). */
    bool same_block = a->txn_seq != 0 && a->txn_seq == e->txn_seq && cx->txn_status == 'T';
    /* A REPEATABLE READ / SERIALIZABLE block sees one snapshot: an answer fetched before it
     * began, however young, may be from another instant, even in window mode. */
    if (cx->cfg->consistency != CONSISTENCY_WINDOW || (cx->txn_status == 'T' && e->snapshot_iso))
        return same_block;
    return same_block || cx->now_ms - a->fetched_ms <= cx->cfg->max_staleness_ms;
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
