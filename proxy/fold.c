/*
 * fold: the rewrite and observe paths of a session, on the protocol side. The engine
 * (batcher/engine.h) decides; this file and its two siblings act. See fold.h for the contract
 * with session.c and docs/batching.md for the rules.
 *
 * Here: the fold's lifecycle and its one state (fold_set_state), the engine's hooks (counters
 * and patterns into the process-wide stats, the lines worth logging), the context each engine
 * call gets, and the simple Query path: a Query is decided at once, and its verdict acted on
 *   local   - the cached answer's bytes go straight to to_client;
 *   batch   - fold_batch.c sends the plan, the Query is parked and the session blocked until
 *             the batch's Sync answers; then it is decided again;
 *   forward - the Query goes upstream unchanged, flagged so its answer is captured and its
 *             result's key columns recorded on the way back.
 * Extended-protocol Sync groups take the same verdicts in fold_group.c.
 */
#include "proxy/fold.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "parser/comment.h"
#include "parser/shapecache.h"
#include "proxy/fold_int.h"
#include "proxy/log.h"
#include "proxy/stats.h"

/* ---- the engine's hooks ------------------------------------------------------------------ */

static void
hook_count(void *ctx, enum engine_counter c, uint64_t n)
{
    struct session *s = ctx;
    if (!s->st)
        return;
    struct stats_counters *sc = &s->st->c;
    stats_counter *const field[ENGINE_C_COUNT] = {
        [ENGINE_C_LOOKUPS] = &sc->lookups,
        [ENGINE_C_SERVER_STMTS] = &sc->server_stmts,
        [ENGINE_C_BATCHES] = &sc->batches,
        [ENGINE_C_BATCH_KEYS] = &sc->batch_keys,
        [ENGINE_C_BATCH_KEYS_USED] = &sc->batch_keys_used,
        [ENGINE_C_BATCH_ANSWERS] = &sc->batch_answers,
        [ENGINE_C_REPEAT_ANSWERS] = &sc->repeat_answers,
        [ENGINE_C_ROUNDTRIPS_SAVED] = &sc->roundtrips_saved,
        [ENGINE_C_FALLBACK_ERROR] = &sc->fallback_error,
        [ENGINE_C_FALLBACK_SIZE] = &sc->fallback_size,
        [ENGINE_C_FALLBACK_ROWDESC] = &sc->fallback_rowdesc,
        [ENGINE_C_VERIFIED] = &sc->verified,
        [ENGINE_C_VERIFY_STALE] = &sc->verify_stale,
        [ENGINE_C_VERIFY_MISMATCH] = &sc->verify_mismatch,
        [ENGINE_C_VERIFY_SKIPPED] = &sc->verify_skipped,
    };
    if ((unsigned)c < ENGINE_C_COUNT && field[c])
        stats_add(field[c], n);
    /* A batch sent inside a block came with a SAVEPOINT and a RELEASE: two statements that
     * the savings figures charge against it (proxy/savings.h). */
    if (c == ENGINE_C_BATCHES && s->txn_status != 'I')
        stats_add(&sc->block_batch_stmts, 2 * n);
}

/* Keeps the process-wide cache gauges up to date with this session's holdings. */
static void
hook_cache_bytes(void *ctx, uint64_t before, uint64_t now)
{
    struct session *s = ctx;
    struct stats *st = s->st;
    if (!st)
        return;
    if (now > before)
        stats_add(&st->c.cache_bytes, now - before);
    else
        atomic_fetch_sub_explicit(&st->c.cache_bytes, before - now, memory_order_relaxed);
    uint64_t max = stats_get(&st->c.session_cache_max);
    while (now > max && !atomic_compare_exchange_weak(&st->c.session_cache_max, &max, now))
        ;
}

/* Where a pattern event of this session comes from: its names, the location comment of the
 * statement (sql may be NULL), its mode, whether it is inside a block. The comment is read
 * here, before the registry's lock is taken. */
static void
origin_of(const struct session *s, const char *sql, size_t sqllen, struct stats_origin *o)
{
    memset(o, 0, sizeof(*o));
    o->where.database = s->database;
    o->where.user = s->user;
    o->where.application = s->application_name;
    o->named = sql != NULL;
    if (sql && comment_location(sql, sqllen, &o->where.loc) != 0)
        o->where.loc.n = 0; /* no location: the site is the session's names alone */
    o->observe = s->cfg->mode == MODE_OBSERVE;
    o->in_block = s->txn_status != 'I';
}

static void *
hook_pattern_find(void *ctx, const struct engine_pattern *p, uint64_t wall_ms,
                  const struct engine_delta *d, bool *created)
{
    struct session *s = ctx;
    if (!s->st)
        return NULL;
    struct stats_origin o;
    origin_of(s, p->sql, p->sqllen, &o);
    return stats_pattern_find(s->st, p, wall_ms, d, &o, created);
}

static void
hook_pattern_add(void *ctx, void *pattern, uint64_t wall_ms, const struct engine_delta *d)
{
    struct session *s = ctx;
    if (!s->st)
        return;
    struct stats_origin o;
    origin_of(s, NULL, 0, &o);
    stats_pattern_add(s->st, pattern, wall_ms, d, &o);
}

static void
hook_loop_done(void *ctx, void *pattern, uint64_t lookups)
{
    struct session *s = ctx;
    const struct stats_pattern *p = pattern;
    /* Site 0 is where the pattern was first seen: this session's first loop, the one this line
     * reports (attrib.h). */
    struct attrib_site site;
    const struct attrib_site *first =
        s->st && stats_pattern_first_site(s->st, p, &site) ? &site : NULL;
    char where[ATTRIB_NAME_MAX * 3 + COMMENT_LOC_BYTES * 2 + 64] = "";
    if (first)
        attrib_describe(first, where, sizeof(where));
    slog_info(s, "N+1 pattern: \"%s\" ran %llu times for the rows of \"%s\" (column %s)%s%s%s%s",
              p->repeated, (unsigned long long)lookups, p->source, p->source_column,
              where[0] ? "; seen under " : "", where,
              first && first->loc.n == 0 ? " (no location comment)" : "",
              s->cfg->mode == MODE_OBSERVE ? "; observe mode: not batched" : "");
}

static void
hook_discarded(void *ctx, enum engine_discard why, int nkeys, uint32_t key_oid, uint32_t inferred)
{
    struct session *s = ctx;
    static const char *const reason[] = {
        [ENGINE_DISCARD_FAILED] = "it failed",
        [ENGINE_DISCARD_SIZE] = "over max_batch_bytes",
        [ENGINE_DISCARD_ROWDESC] = "RowDescription differs from the statement's",
        [ENGINE_DISCARD_KEYTYPE] = "untyped key bound as another type than the statement's",
    };
    slog_debug(s, "batch of %d keys discarded: %s (key type %u, statement's %u)", nkeys,
               reason[why], key_oid, inferred);
}

/* ---- lifecycle and state ------------------------------------------------------------------ */

struct fold *
fold_new(struct session *s, struct shapecache *shapes)
{
    struct fold *f = calloc(1, sizeof(*f));
    if (!f)
        return NULL;
    const struct engine_hooks hooks = {
        .ctx = s,
        .count = hook_count,
        .cache_bytes = hook_cache_bytes,
        .pattern_find = hook_pattern_find,
        .pattern_add = hook_pattern_add,
        .loop_done = hook_loop_done,
        .discarded = hook_discarded,
    };
    f->eng = engine_new(s->cfg, &hooks);
    if (!f->eng) {
        free(f);
        return NULL;
    }
    f->s = s;
    f->shapes = shapes;
    return f;
}

void
fold_free(struct fold *f)
{
    if (!f)
        return;
    if (f->state == FOLD_FKEYS && f->s->catalog)
        f->s->catalog->requested = false; /* let another session ask */
    engine_free(f->eng);
    shape_lits_free(&f->lits);
    buf_free(&f->graw);
    buf_free(&f->sg_parses);
    buf_free(&f->parked);
    buf_free(&f->resume);
    buf_free(&f->abort_err);
    buf_free(&f->out);
    fold_owed_clear(f);
    fold_verify_free(f);
    free(f);
}

static const char *
state_name(enum fold_state st)
{
    static const char *const names[] = {"open", "fkeys", "batch", "rollback", "resume", "retry"};
    return (unsigned)st < sizeof(names) / sizeof(names[0]) ? names[st] : "?";
}

/* Is from -> to a move the rewrite path can make? (The diagram in fold_int.h.) */
static bool
allowed(enum fold_state from, enum fold_state to)
{
    switch (to) {
    case FOLD_OPEN:
        return from != FOLD_FKEYS;
    case FOLD_FKEYS:
        return from == FOLD_OPEN;
    case FOLD_BATCH:
        return from == FOLD_OPEN || from == FOLD_RESUME;
    case FOLD_ROLLBACK:
        return from == FOLD_BATCH;
    case FOLD_RESUME:
        return from == FOLD_FKEYS;
    case FOLD_RETRY:
        return from == FOLD_BATCH || from == FOLD_ROLLBACK;
    }
    return false;
}

/* The single place the rewrite path's state changes; an impossible move is a bug. */
void
fold_set_state(struct fold *f, enum fold_state st)
{
    if (!allowed(f->state, st)) {
        fprintf(stderr, "fold_set_state: impossible move %s -> %s (session %llu)\n",
                state_name(f->state), state_name(st), (unsigned long long)f->s->id);
        abort();
    }
    f->state = st;
}

bool
fold_blocked(const struct fold *f)
{
    return f && (f->state == FOLD_FKEYS || f->state == FOLD_BATCH || f->state == FOLD_ROLLBACK);
}

struct engine_ctx
fold_ctx(const struct session *s)
{
    return (struct engine_ctx){
        .cfg = s->cfg,
        .now_ms = s->now_ms,
        .wall_ms = (uint64_t)time(NULL) * 1000,
        .txn_status = s->txn_status,
        .idle = fold_quiet(s), /* shadow verification in flight is no wait for the client */
        .catalog = s->catalog,
        .fresh = s->fresh,
    };
}

void
fold_note_status(struct session *s, uint8_t before)
{
    struct engine_ctx cx = fold_ctx(s);
    engine_status(s->fold->eng, &cx, before);
}

void
fold_effects(struct fold *f, const struct shape *sh)
{
    struct engine_ctx cx = fold_ctx(f->s);
    if (engine_effects(f->eng, &cx, sh) & ENGINE_FX_FORGET_STATEMENTS)
        prepared_clear(&f->s->stmts); /* a Bind to a dropped one then gets the server's error */
}

void
fold_observe_local(struct fold *f)
{
    if (f->s->st)
        stats_observe(&f->s->st->c.client_latency, f->s->now_us - f->recv_us);
}

/* ---- simple Query ----------------------------------------------------------------------- */

static void
answer_query(struct session *s, const struct answer *a)
{
    buf_put(&s->to_client, a->desc, a->desclen);
    buf_put(&s->to_client, a->rows, a->rowslen);
    msg_put_complete(&s->to_client, a->tag);
    wire_put_ready(&s->to_client, s->txn_status);
}

uint64_t
fold_hash(uint64_t h, const void *p, size_t n)
{
    const uint8_t *b = p;
    if (h == 0)
        h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 1099511628211ULL;
    return h ? h : 1;
}

static void
flag_source(struct pending *p, struct shape *sh, const struct wire_msg *m)
{
    if (p && engine_result_is_source(sh)) {
        p->flags |= PEND_F_SOURCE;
        p->shape = shape_ref(sh);
        p->source_id = fold_hash(0, m->body, m->body_len); /* the exact text */
    }
}

bool
fold_park(struct session *s, enum engine_verdict v, struct engine_plan *plan)
{
    bool parked = false;
    if (v == ENGINE_BATCH) {
        parked = fold_send_batch(s, plan);
        engine_plan_free(plan);
    } else if (v == ENGINE_LOAD_FKEYS) {
        parked = fold_send_fkeys(s);
    }
    return parked;
}

/* Acts on the verdict for a lookup Query. */
static void
query_verdict(struct session *s, const struct wire_msg *m, struct lookup *lk, unsigned flags)
{
    struct fold *f = s->fold;
    const struct answer *a = NULL;
    struct engine_plan plan;
    struct engine_ctx cx = fold_ctx(s);
    enum engine_verdict v = engine_decide(f->eng, &cx, lk, flags, &a, &plan);
    if (v == ENGINE_LOCAL) {
        fold_verify_fault(a);
        fold_verify_offer(s, lk, a, true);
        answer_query(s, a);
        fold_observe_local(f);
        return;
    }
    bool parked = fold_park(s, v, &plan);
    if (s->state == SESSION_CLOSING)
        return;
    if (parked) {
        buf_reset(&f->parked);
        buf_put(&f->parked, m->raw, m->wire_len);
        f->parked_kind = PARKED_QUERY;
        return;
    }
    struct pending *p = session_forward(s, m);
    flag_source(p, lk->shape, m);
    fold_mark_capture(f, p, lk);
}

session_action
fold_query(struct session *s, const struct wire_msg *m, unsigned flags)
{
    struct fold *f = s->fold;
    size_t len = strnlen((const char *)m->body, m->body_len);
    struct shape *sh = NULL;
    if (len + 1 != m->body_len ||
        shapecache_get(f->shapes, (const char *)m->body, len, NULL, 0, &sh, &f->lits) != 0)
        sh = NULL;
    if (!(flags & ENGINE_RESUMED))
        fold_effects(f, sh);
    /* A simple Query drops the unnamed statement: nothing is owed any more (also after
     * pgfold's own traffic displaced it while this Query was parked). */
    fold_owed_clear(f);
    if (sh && sh->kind == SHAPE_LOOKUP && !(sh->flags & (SHAPE_F_MULTI | SHAPE_F_OPTOUT))) {
        struct lookup lk = {.shape = sh, .sql = (const char *)m->body, .sqllen = len};
        lk.stmt_id = engine_stmt_id(lk.sql, len, &f->lits);
        lk.lits = &f->lits;
        query_verdict(s, m, &lk, flags);
    } else {
        flag_source(session_forward(s, m), sh, m);
    }
    shape_unref(sh);
    return s->state == SESSION_CLOSING ? SESSION_CLOSE : SESSION_CONTINUE;
}

/* ---- the client side ---------------------------------------------------------------------- */

session_action
fold_client(struct session *s, const struct wire_msg *m)
{
    struct fold *f = s->fold;
    f->recv_us = s->now_us;
    fold_verify_client(f);
    switch (m->type) {
    case FE_QUERY:
        if (f->gn)
            fold_group_flush(s, NULL);
        fold_sync_group_end(f); /* the server answers a Query with ReadyForQuery */
        return fold_query(s, m, 0);
    case FE_PARSE:
    case FE_BIND:
    case FE_DESCRIBE:
    case FE_EXECUTE:
    case FE_CLOSE:
    case FE_SYNC:
        return fold_group_add(s, m);
    default:
        if (f->gn)
            fold_group_flush(s, NULL);
        if (m->type == FE_FUNCTION_CALL) {
            engine_write_unknown(f->eng);
            fold_sync_group_end(f); /* answered with ReadyForQuery, like a Query */
        }
        session_forward(s, m);
        return s->state == SESSION_CLOSING ? SESSION_CLOSE : SESSION_CONTINUE;
    }
}
