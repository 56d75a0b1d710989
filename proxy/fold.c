/*
 * fold: the client side of the rewrite path. Decides, per statement, whether to answer
 * locally, batch, or forward. See fold.h for the contract and docs/batching.md for the rules.
 *
 * Data flow: a simple Query is decided at once. Extended-protocol messages are gathered until
 * Sync (or anything fold does not model, which flushes the group as it came); a group of the
 * form [Parse] Bind [Describe portal] Execute Sync over one eligible statement is then decided
 * like a Query. A decision is one of:
 *   local   - the answer cache holds it: the response bytes go straight to to_client;
 *   batch   - the key sits in a recent result column: fold_batch.c sends the batch, the
 *             statement is parked, and the session is blocked until the batch's Sync answers;
 *   forward - the messages go upstream unchanged, flagged so the answer is cached and the
 *             result's key columns recorded on the way back.
 * Local answers are only given when nothing else is in flight, so the transaction status they
 * report is the server's own.
 */
#include "proxy/fold.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "config/config.h"
#include "parser/shapecache.h"
#include "proxy/fold_int.h"
#include "proxy/log.h"
#include "pgwire/wire.h"

static void
log_loop_cb(struct policy_shape *ps, void *ctx)
{
    fold_log_loop(ctx, ps);
}

struct fold *
fold_new(struct session *s, struct shapecache *shapes)
{
    struct fold *f = calloc(1, sizeof(*f));
    if (!f)
        return NULL;
    const struct config *cfg = s->cfg;
    f->s = s;
    f->shapes = shapes;
    keysrc_init(&f->src, cfg->source_results, cfg->source_rows, cfg->session_cache_bytes / 4);
    answer_init(&f->answers, cfg->session_cache_bytes - cfg->session_cache_bytes / 4);
    policy_init(&f->policy);
    f->last_status = 'I';
    return f;
}

void
fold_free(struct fold *f)
{
    if (!f)
        return;
    policy_each(&f->policy, log_loop_cb, f);
    if (f->fk_loading && f->s->fkeys)
        f->s->fkeys->requested = false; /* let another session ask */
    keysrc_clear(&f->src);
    answer_free(&f->answers);
    fold_account(f);
    policy_free(&f->policy);
    shape_lits_free(&f->lits);
    buf_free(&f->cap.key);
    buf_free(&f->cap.desc);
    buf_free(&f->cap.rows);
    buf_free(&f->last_desc);
    buf_free(&f->graw);
    buf_free(&f->parked);
    buf_free(&f->resume);
    buf_free(&f->scratch);
    buf_free(&f->others);
    buf_free(&f->key0);
    foldb_free(f);
    fold_owed_clear(f);
    free(f);
}

bool
fold_blocked(const struct fold *f)
{
    return f && f->blocked;
}

void
fold_note_status(struct session *s, uint8_t before)
{
    struct fold *f = s->fold;
    if (before == 'I' && s->txn_status != 'I')
        f->txn_seq++; /* a transaction block began */
    if (before != 'I' && s->txn_status == 'I') {
        fold_invalidate(f); /* it ended */
        f->snapshot_iso = false;
        f->block_fresh = false;
    }
}

void
fold_owed_clear(struct fold *f)
{
    free(f->owed_sql);
    free(f->owed_oids);
    f->owed_sql = NULL;
    f->owed_oids = NULL;
    f->owed_n = 0;
}

void
fold_invalidate(struct fold *f)
{
    answer_clear(&f->answers);
    f->epoch++;
    fold_account(f);
}

struct pending *
fold_internal(struct session *s, pend_kind kind, enum fold_role role)
{
    struct pending p = {.kind = kind, .origin = PEND_INTERNAL, .role = (int)role,
                        .t0_us = s->now_us};
    if (pending_push(&s->fifo, &p) != 0)
        return NULL;
    return pending_at(&s->fifo, s->fifo.count - 1);
}

/* ---- invalidation (DESIGN.md §4) ------------------------------------------------------- */

static const char *
skip_space(const char *p)
{
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
        p++;
    return p;
}

/* The server may have dropped named statements: stop trusting the table for them. */
static void
forget_statements(struct fold *f)
{
    prepared_clear(&f->s->stmts);
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
set_block_isolation(struct fold *f, enum shape_isolation iso)
{
    if (iso == SHAPE_ISO_DEFAULT)
        return;
    f->snapshot_iso = iso_snapshot(iso) && f->block_fresh && f->s->txn_status == 'T';
}

/*
 * A multi-statement Query that is not only reads: its txn/session fields describe just its last
 * such statement, so assume the worst of the rest. It may end a block and begin another without
 * the status ever passing through 'I' ("COMMIT; BEGIN ISOLATION LEVEL REPEATABLE READ"), undo
 * the session's writes ("ROLLBACK TO SAVEPOINT a; RELEASE a"), or change a level that is then
 * rolled back with it: empty the cache, start a new block number, and believe a snapshot block
 * only when the string ends with a BEGIN that says so and sets nothing.
 */
static void
multi_effects(struct fold *f, const struct shape *sh)
{
    const unsigned reads = (1u << SHAPE_LOOKUP) | (1u << SHAPE_READ) | (1u << SHAPE_EMPTY);
    if ((sh->contains & ~reads) == 0)
        return;
    fold_invalidate(f);
    f->block_fresh = false;
    if (sh->contains & (1u << SHAPE_SESSION))
        f->default_snapshot = false;
    /* DISCARD ALL/PLANS and DEALLOCATE drop prepared statements; which statement of the string
     * did is not known, so any mention of them counts. */
    if ((sh->contains & ((1u << SHAPE_SESSION) | (1u << SHAPE_UTILITY))) && sh->text &&
        (strcasestr(sh->text, "discard") || strcasestr(sh->text, "deallocate")))
        forget_statements(f);
    if (sh->contains & ((1u << SHAPE_TXN) | (1u << SHAPE_SESSION))) {
        f->txn_seq++;
        f->snapshot_iso = !(sh->contains & (1u << SHAPE_SESSION)) && sh->txn.op == SHAPE_TXN_BEGIN &&
                          iso_snapshot(sh->txn.isolation);
    }
}

/* Applies what executing a statement of this shape does to the cache. */
void
fold_effects(struct fold *f, const struct shape *sh)
{
    if (!sh) {
        fold_invalidate(f);
        f->block_fresh = false;
        return;
    }
    if (sh->flags & SHAPE_F_MULTI) {
        multi_effects(f, sh);
        return;
    }
    switch (sh->kind) {
    case SHAPE_LOOKUP:
    case SHAPE_READ:
        f->block_fresh = false; /* it takes the block's snapshot */
        return;
    case SHAPE_EMPTY:
        return;
    case SHAPE_TXN:
        if (sh->txn.op == SHAPE_TXN_BEGIN) {
            if (f->s->txn_status != 'I') {
                /* Inside a block BEGIN is only a warning, but a level it names applies. */
                set_block_isolation(f, sh->txn.isolation);
                return;
            }
            f->snapshot_iso = sh->txn.isolation == SHAPE_ISO_DEFAULT ? f->default_snapshot
                                                                     : iso_snapshot(sh->txn.isolation);
            f->block_fresh = true;
            return;
        }
        f->block_fresh = false;
        if (sh->txn.op == SHAPE_TXN_SAVEPOINT || sh->txn.op == SHAPE_TXN_RELEASE)
            return;
        fold_invalidate(f);
        return;
    case SHAPE_SESSION:
        if (sh->session.op == SHAPE_SESSION_DISCARD && (sh->session.discard == SHAPE_DISCARD_ALL ||
                                                        sh->session.discard == SHAPE_DISCARD_PLANS))
            forget_statements(f);
        if (sh->session.op == SHAPE_SESSION_SET_TRANSACTION)
            set_block_isolation(f, sh->txn.isolation);
        if (sh->session.op == SHAPE_SESSION_SET_CHARACTERISTICS &&
            sh->txn.isolation != SHAPE_ISO_DEFAULT) {
            /* Inside a block it is undone if the block rolls back (or the savepoint around it
             * does): believe a REPEATABLE READ default only when set outside any block. */
            f->default_snapshot = f->s->txn_status == 'I' && iso_snapshot(sh->txn.isolation);
        }
        if (sh->session.op == SHAPE_SESSION_RESET_ALL || sh->session.op == SHAPE_SESSION_DISCARD ||
            (sh->session.name && strcmp(sh->session.name, "default_transaction_isolation") == 0))
            f->default_snapshot = false; /* unknown or reset: assume READ COMMITTED */
        if (sh->session.name && strcmp(sh->session.name, "transaction_isolation") == 0)
            f->snapshot_iso = false; /* SET [LOCAL] transaction_isolation: value not parsed */
        fold_invalidate(f);
        return;
    default:
        f->block_fresh = false;
        /* DEALLOCATE drops statements behind the model's back: forget them all, so a Bind
         * to a dropped one is forwarded and gets the server's error. */
        if (sh->kind == SHAPE_UTILITY && sh->normalized &&
            strncasecmp(skip_space(sh->normalized), "deallocate", 10) == 0)
            forget_statements(f);
        fold_invalidate(f); /* write, utility, unknown */
        return;
    }
}

/* ---- keys and cache keys ---------------------------------------------------------------- */

static uint64_t
hash_more(uint64_t h, const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 1099511628211ULL;
    return h;
}

/* The statement's id: its text with every literal token left out (their values go in
 * `others`), so texts that differ in a key literal share answers and nothing else does. */
uint64_t
fold_stmt_id(const char *sql, size_t len, const struct shape_lits *lits)
{
    uint64_t h = 1469598103934665603ULL;
    size_t at = 0;
    for (int i = 0; lits && i < lits->n; i++) {
        h = hash_more(h, sql + at, lits->v[i].off - at);
        h = hash_more(h, "\x01", 1);
        at = lits->v[i].off + lits->v[i].len;
    }
    return hash_more(h, sql + at, len - at);
}

/* Serializes everything but key slot k that an answer depends on. */
static void
lookup_others(const struct lookup *lk, const struct lookup_key *k, struct buf *o)
{
    buf_reset(o);
    uint8_t cls = (uint8_t)k->cls;
    buf_put(o, &cls, 1);
    buf_put_i32(o, k->slot);
    int skip = k->param ? -1 : lk->shape->slots[k->slot].lit;
    for (int i = 0; lk->lits && i < lk->lits->n; i++) {
        if (i == skip)
            continue;
        buf_put_i32(o, (int32_t)lk->lits->v[i].len);
        buf_put(o, lk->sql + lk->lits->v[i].off, lk->lits->v[i].len);
    }
    if (!lk->extended)
        return;
    for (int i = 0; i < lk->noids; i++)
        buf_put_i32(o, (int32_t)lk->oids[i]);
    for (int i = 0; i < lk->bind->nparams; i++) {
        if (i + 1 == k->param)
            continue;
        buf_put_i16(o, lk->bind->pfmt[i]);
        buf_put_i32(o, lk->bind->val[i] ? lk->bind->len[i] : -1);
        if (lk->bind->val[i])
            buf_put(o, lk->bind->val[i], (size_t)lk->bind->len[i]);
    }
}

void
fold_cache_key(struct fold *f, const struct lookup *lk, const struct lookup_key *k,
               const char *key, size_t keylen, struct buf *out)
{
    lookup_others(lk, k, &f->others);
    answer_key(out, lk->stmt_id, lk->formats, lk->nformats, buf_head(&f->others),
               buf_used(&f->others), key, keylen);
}

/* Computes the key of candidate slot i as the lookup spells it. Returns false if unusable. */
static bool
literal_key(struct lookup *lk, int i, struct lookup_key *k)
{
    const struct shape_slot *sl = &lk->shape->slots[i];
    char raw[KEYSRC_MAX_KEY];
    size_t rl;
    if (shape_slot_value(lk->shape, lk->sql, lk->sqllen, lk->lits, i, raw, sizeof(raw), &rl) != 0)
        return false;
    k->param = 0;
    if (sl->lit_type == KEYVAL_LIT_INTEGER && !sl->cast_type) {
        k->cls = LK_INT;
        return keyval_canon_literal(KEYVAL_OID_INT8, sl->lit_type, raw, rl, k->key,
                                    sizeof(k->key), &k->keylen) == 0;
    }
    if (sl->lit_type != KEYVAL_LIT_STRING || sl->cast_type)
        return false;
    k->cls = LK_STR;
    memcpy(k->key, raw, rl);
    k->keylen = rl;
    return true;
}

static bool
param_key(struct lookup *lk, int i, struct lookup_key *k)
{
    const struct shape_slot *sl = &lk->shape->slots[i];
    int p = sl->param;
    if (p < 1 || p > lk->bind->nparams || !lk->bind->val[p - 1] || sl->cast_type)
        return false;
    uint32_t oid = p <= lk->noids ? lk->oids[p - 1] : 0;
    const char *v = (const char *)lk->bind->val[p - 1];
    size_t vl = (size_t)lk->bind->len[p - 1];
    k->param = p;
    k->param_oid = oid;
    if (oid == 0) {
        if (lk->bind->pfmt[p - 1] != 0 || vl > sizeof(k->key))
            return false;
        k->cls = LK_STR;
        memcpy(k->key, v, vl);
        k->keylen = vl;
        return true;
    }
    enum keyval_class c = keyval_class(oid);
    if (c == KEYVAL_CLASS_NONE || c == KEYVAL_CLASS_BPCHAR)
        return false;
    k->cls = c == KEYVAL_CLASS_INT ? LK_INT : c == KEYVAL_CLASS_UUID ? LK_UUID : LK_TEXT;
    int rc = lk->bind->pfmt[p - 1] == 1
                 ? keyval_canon_binary(oid, v, vl, k->key, sizeof(k->key), &k->keylen)
                 : keyval_canon_text(oid, v, vl, k->key, sizeof(k->key), &k->keylen);
    return rc == 0;
}

static void
lookup_keys(struct lookup *lk)
{
    lk->nkeys = 0;
    for (int i = 0; i < lk->shape->nslots && lk->nkeys < FOLD_MAX_SLOTS; i++) {
        struct lookup_key *k = &lk->k[lk->nkeys];
        memset(k, 0, sizeof(*k));
        k->slot = i;
        bool ok = lk->shape->slots[i].param > 0 ? lk->extended && param_key(lk, i, k)
                                                  : literal_key(lk, i, k);
        if (ok)
            lk->nkeys++;
    }
}

/* ---- deciding ----------------------------------------------------------------------- */

/* May a cached answer be used now, under the consistency mode? */
bool
fold_cache_usable(struct fold *f)
{
    struct session *s = f->s;
    if (s->txn_status == 'E' || s->fifo.count > 0 || s->cfg->mode != MODE_REWRITE)
        return false;
    switch (s->cfg->consistency) {
    case CONSISTENCY_WINDOW:
        return true;
    case CONSISTENCY_TRANSACTION:
        return s->txn_status == 'T';
    case CONSISTENCY_SNAPSHOT:
        return s->txn_status == 'T' && f->snapshot_iso;
    }
    return false;
}

static bool
fresh(struct fold *f, const struct answer *a)
{
    struct session *s = f->s;
    /* Fetched inside the transaction block still open: good for the whole block (what the
     * transaction mode promises, and window mode includes it). */
    bool same_block = a->txn_seq != 0 && a->txn_seq == f->txn_seq && s->txn_status == 'T';
    /* A REPEATABLE READ / SERIALIZABLE block sees one snapshot: an answer fetched before it
     * began, however young, may be from another instant, even in window mode. */
    if (s->cfg->consistency != CONSISTENCY_WINDOW || (s->txn_status == 'T' && f->snapshot_iso))
        return same_block;
    return same_block || s->now_ms - a->fetched_ms <= s->cfg->max_staleness_ms;
}

/* Is a source column of class c comparable with a lookup key of class lk? */
static bool
class_fits(enum lk_class lk, enum keyval_class c, const char *key, size_t len, uint32_t oid,
           char *canon, size_t *canonlen)
{
    switch (lk) {
    case LK_INT:
        if (c != KEYVAL_CLASS_INT)
            return false;
        break;
    case LK_UUID:
        if (c != KEYVAL_CLASS_UUID)
            return false;
        break;
    case LK_TEXT:
        if (c != KEYVAL_CLASS_TEXT && c != KEYVAL_CLASS_NAME)
            return false;
        break;
    case LK_STR:
        break;
    default:
        return false;
    }
    /* Bring the key into the column's canonical form; identity for text. */
    return keyval_canon_text(oid, key, len, canon, KEYSRC_MAX_KEY, canonlen) == 0;
}

struct choice {
    int score;
    int ki;
    struct keysrc_hit hit;
};

/* Finds the best source column for any of the lookup's candidate keys. */
static bool
choose_source(struct fold *f, struct lookup *lk, struct policy_shape *ps, struct choice *best)
{
    static const uint32_t probe_oid[] = {0, KEYVAL_OID_INT8, KEYVAL_OID_TEXT, KEYVAL_OID_UUID,
                                         KEYVAL_OID_NAME};
    static const enum keyval_class probe_cls[] = {KEYVAL_CLASS_NONE, KEYVAL_CLASS_INT,
                                                  KEYVAL_CLASS_TEXT, KEYVAL_CLASS_UUID,
                                                  KEYVAL_CLASS_NAME};
    best->score = 0;
    if (f->src.count == 0)
        return false; /* no multi-row result to trace the key to (pgbench -S, say) */
    for (int ki = 0; ki < lk->nkeys; ki++) {
        struct lookup_key *k = &lk->k[ki];
        const struct shape_slot *sl = &lk->shape->slots[k->slot];
        struct policy_target t = {sl->table, sl->column};
        for (size_t pc = 1; pc < sizeof(probe_oid) / sizeof(probe_oid[0]); pc++) {
            char canon[KEYSRC_MAX_KEY];
            size_t cl;
            if (!class_fits(k->cls, probe_cls[pc], k->key, k->keylen, probe_oid[pc], canon, &cl))
                continue;
            struct keysrc_hit hits[8];
            int nh = keysrc_find(&f->src, probe_cls[pc], canon, cl, hits, 8);
            for (int h = 0; h < nh; h++) {
                bool prev = false;
                if (ps && ps->prev_key_len) {
                    for (uint32_t r = 0; r < hits[h].row && !prev; r++) {
                        const char *v;
                        size_t vl;
                        prev = keysrc_value(hits[h].col, r, &v, &vl) && vl == ps->prev_key_len &&
                               !memcmp(v, ps->prev_key, vl);
                    }
                }
                bool fk = f->s->fkeys && f->s->fkeys->loaded &&
                          (fkeys_forward(f->s->fkeys, hits[h].col->table_oid, hits[h].col->attnum,
                                         sl->table, sl->column) ||
                           fkeys_reverse(f->s->fkeys, sl->table, sl->column,
                                         hits[h].col->table_oid, hits[h].col->attnum));
                int sc = policy_score(&t, &hits[h], prev, fk);
                if (sc > best->score)
                    *best = (struct choice){sc, ki, hits[h]};
            }
        }
    }
    return best->score > 0;
}

struct cached_ctx {
    struct fold *f;
    struct lookup *lk;
    struct lookup_key *k;
    struct buf key;
};

static bool
is_cached(void *ctx, const char *key, size_t len)
{
    struct cached_ctx *c = ctx;
    fold_cache_key(c->f, c->lk, c->k, key, len, &c->key);
    const struct answer *a = answer_get(&c->f->answers, buf_head(&c->key), buf_used(&c->key));
    return a && fresh(c->f, a);
}

const char *
fold_backoff_name(const struct policy_shape *ps)
{
    if (ps->lookups < ps->paused_until)
        return "paused";
    return ps->cautious ? "cautious" : "none";
}

/* A lookup was traced to a source column: record the pattern (and log it the first time). */
static void
pattern_seen(struct fold *f, const struct lookup *lk, struct policy_shape *ps,
             const struct choice *ch)
{
    struct session *s = f->s;
    /* A statement resumed after its batch was recorded when it first came; one resumed
     * after the foreign-key query (parked before it got here) was not. */
    if (!s->st || !ps || (f->resuming && f->resume_retry))
        return;
    const struct shape_slot *sl = &lk->shape->slots[lk->k[ch->ki].slot];
    struct stats_pattern_key key = {
        .fingerprint = lk->shape->fingerprint,
        .source_fingerprint = ch->hit.res->source_shape,
        .repeated = lk->shape->normalized ? lk->shape->normalized : lk->shape->text,
        .source = ch->hit.res->source_sql,
        .source_column = ch->hit.col->name,
        .source_table = ch->hit.res->source_table,
        .key_table = sl->table,
        .key_column = sl->column,
    };
    bool observe = s->cfg->mode == MODE_OBSERVE;
    bool new_loop = ch->hit.res->seq != ps->last_source_seq;
    /* Would-be savings in observe mode: every lookup of a loop but the first, whose round
     * trip the batch would have taken. */
    struct stats_delta d = {.loops = new_loop, .lookups = 1, .saved = observe && !new_loop,
                            .backoff = fold_backoff_name(ps)};
    if (new_loop)
        fold_log_loop(f, ps); /* the previous loop of this shape is over */
    bool created;
    struct stats_pattern *p =
        stats_pattern_find(s->st, &key, (uint64_t)time(NULL) * 1000, &d, &created);
    if (new_loop || p != ps->pattern)
        ps->loop_lookups = 0;
    ps->loop_lookups++;
    ps->pattern = p;
    ps->last_source_seq = ch->hit.res->seq;
    if (created)
        ps->log_pending = true;
}

/*
 * Logs a pattern once, when its first loop is over (the next loop begins, or the session
 * ends), so the line can say how many lookups the loop made.
 */
void
fold_log_loop(struct fold *f, struct policy_shape *ps)
{
    struct stats_pattern *p = ps->pattern;
    if (!ps->log_pending || !p)
        return;
    ps->log_pending = false;
    slog_info(f->s, "N+1 pattern: \"%s\" ran %llu times for the rows of \"%s\" (column %s)%s",
              p->repeated, (unsigned long long)ps->loop_lookups, p->source, p->source_column,
              f->s->cfg->mode == MODE_OBSERVE ? "; observe mode: not batched" : "");
}

/* Brings the process-wide cache gauges up to date with this session's holdings. */
void
fold_account(struct fold *f)
{
    struct stats *st = f->s->st;
    uint64_t now = f->answers.bytes + f->src.bytes;
    if (!st || now == f->accounted)
        return;
    if (now > f->accounted)
        stats_add(&st->c.cache_bytes, now - f->accounted);
    else
        atomic_fetch_sub_explicit(&st->c.cache_bytes, f->accounted - now, memory_order_relaxed);
    f->accounted = now;
    uint64_t max = stats_get(&st->c.session_cache_max);
    while (now > max && !atomic_compare_exchange_weak(&st->c.session_cache_max, &max, now))
        ;
}

void
fold_observe_local(struct fold *f)
{
    if (f->s->st)
        stats_observe(&f->s->st->c.client_latency, f->s->now_us - f->recv_us);
}

/*
 * Reads the database's foreign keys in-band, once per worker and database, the first time a
 * lookup is traced to a source. Only from autocommit (a catalog query needs no savepoint
 * there) and when nothing else is in flight. Returns true if the lookup was parked for it.
 */
static bool
load_fkeys(struct fold *f)
{
    struct session *s = f->s;
    struct fkeys *k = s->fkeys;
    if (!k || k->loaded || k->requested || s->txn_status != 'I' || s->fifo.count > 0 ||
        s->cfg->mode != MODE_REWRITE)
        return false;
    /* A simple Query drops the unnamed statement: the client's becomes owed (a client that
     * Binds it again without a Parse, as PQexecPrepared("") does, got "unnamed prepared
     * statement does not exist"). */
    fold_unnamed_displaced(s);
    msg_put_query(&s->to_server, FKEYS_SQL);
    if (!fold_internal(s, PEND_QUERY, ROLE_FKEYS))
        return false;
    FOLD_COUNT(f, server_stmts, 1);
    k->requested = true;
    f->fk_loading = true;
    f->blocked = true;
    f->resume_retry = false; /* decide again, with the keys known */
    return true;
}

static bool
try_batch(struct fold *f, struct lookup *lk, struct policy_shape *ps)
{
    struct choice ch;
    if (!choose_source(f, lk, ps, &ch))
        return false;
    if (load_fkeys(f))
        return true;
    pattern_seen(f, lk, ps, &ch);
    struct lookup_key *k = &lk->k[ch.ki];
    if (f->s->cfg->mode != MODE_REWRITE || !fold_cache_usable(f))
        return false;
    if (ps) {
        policy_review(ps);
        if (!policy_may_batch(ps, ch.score >= 40))
            return false;
    }
    if (!keyval_type_name(foldb_key_oid(k, &ch.hit, ps)))
        return false; /* an untyped key PostgreSQL reads as a type keys cannot be bound as */
    size_t max = f->s->cfg->max_batch_keys;
    const char **keys = malloc(max * sizeof(*keys));
    size_t *lens = malloc(max * sizeof(*lens));
    char canon[KEYSRC_MAX_KEY];
    size_t cl = 0;
    int n = -1;
    if (keys && lens && keyval_canon_text(ch.hit.col->type_oid, k->key, k->keylen, canon,
                                          sizeof(canon), &cl) == 0) {
        struct cached_ctx cc = {f, lk, k, {0}};
        buf_init(&cc.key);
        n = keysrc_collect_from(ch.hit.col, ch.hit.row, ch.hit.res->nrows, canon, cl, is_cached,
                                &cc, max, keys, lens);
        buf_free(&cc.key);
    }
    if (n > 0)
        foldb_start(f->s, lk, k, &ch.hit, keys, lens, n, ps);
    free(keys);
    free(lens);
    return n > 0;
}

/* Does the comma list (lowercase, no spaces) name this item? */
static bool
list_has(const char *list, const char *item)
{
    size_t n = strlen(item);
    for (const char *p = list; *p;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len == n && strncasecmp(p, item, n) == 0)
            return true;
        if (!end)
            break;
        p = end + 1;
    }
    return false;
}

/* Does a batch_allow/batch_deny list name this shape (fingerprint or a table)? */
static bool
list_names(const char *list, const struct shape *sh)
{
    char fp[20], qualified[256];
    snprintf(fp, sizeof(fp), "%016llx", (unsigned long long)sh->fingerprint);
    if (list_has(list, fp))
        return true;
    for (int i = 0; i < sh->ntables; i++) {
        if (list_has(list, sh->tables[i].name))
            return true;
        if (sh->tables[i].schema) {
            snprintf(qualified, sizeof(qualified), "%s.%s", sh->tables[i].schema,
                     sh->tables[i].name);
            if (list_has(list, qualified))
                return true;
        }
    }
    return false;
}

/* batch_allow / batch_deny: may this shape be batched and answered locally at all? */
static bool
shape_permitted(const struct config *cfg, const struct shape *sh)
{
    if (cfg->batch_deny[0] && list_names(cfg->batch_deny, sh))
        return false;
    return !cfg->batch_allow[0] || list_names(cfg->batch_allow, sh);
}

enum fold_verdict
fold_decide(struct fold *f, struct lookup *lk, bool retry, const struct answer **out)
{
    if (!f->resuming)
        FOLD_COUNT(f, lookups, 1);
    f->block_fresh = false; /* forwarded or batched, it takes the block's snapshot */
    if (!shape_permitted(f->s->cfg, lk->shape))
        return V_FORWARD;
    lookup_keys(lk);
    struct policy_shape *ps = policy_shape(&f->policy, lk->shape->fingerprint);
    if (ps && !f->resuming)
        ps->lookups++;
    if (lk->nkeys == 0)
        return V_FORWARD;
    f->key0_valid = false;
    if (fold_cache_usable(f)) {
        for (int i = 0; i < lk->nkeys; i++) {
            struct buf *kb = i == 0 ? &f->key0 : &f->scratch;
            fold_cache_key(f, lk, &lk->k[i], lk->k[i].key, lk->k[i].keylen, kb);
            f->key0_valid = true;
            struct answer *a = answer_get(&f->answers, buf_head(kb), buf_used(kb));
            if (!a || !fresh(f, a))
                continue;
            bool first_use = a->batch_id && !a->used;
            if (first_use) {
                a->used = true;
                FOLD_COUNT(f, batch_keys_used, 1);
                if (ps)
                    policy_key_used(ps, a->batch_id);
            }
            if (a->batch_id) {
                FOLD_COUNT(f, batch_answers, 1);
                if (ps) {
                    ps->local_batch++;
                    ps->loop_lookups += !retry;
                    /* The lookup that triggered the batch was counted when it was traced
                     * and saved no round trip (the batch was one). */
                    struct stats_delta d = {.lookups = !retry, .used = first_use, .saved = !retry};
                    if (f->s->st)
                        stats_pattern_add(f->s->st, ps->pattern, (uint64_t)time(NULL) * 1000, &d);
                }
            } else {
                FOLD_COUNT(f, repeat_answers, 1);
                if (ps)
                    ps->local_repeat++;
            }
            FOLD_COUNT(f, roundtrips_saved, !retry);
            if (ps)
                policy_remember(ps, lk->k[i].key, lk->k[i].keylen);
            *out = a;
            return V_LOCAL;
        }
    }
    if (!retry && try_batch(f, lk, ps))
        return V_BATCH;
    if (ps) {
        ps->forwarded++;
        if (lk->nkeys)
            policy_remember(ps, lk->k[0].key, lk->k[0].keylen);
    }
    return V_FORWARD;
}

/* Marks a forwarded lookup so its answer is cached when it comes back. */
void
fold_mark_capture(struct fold *f, struct pending *p, const struct lookup *lk)
{
    if (!p || lk->nkeys == 0 || f->s->cfg->mode != MODE_REWRITE || f->s->txn_status == 'E')
        return;
    if (!f->key0_valid) /* decide() computed it unless the cache was not usable */
        fold_cache_key(f, lk, &lk->k[0], lk->k[0].key, lk->k[0].keylen, &f->key0);
    p->key = malloc(buf_used(&f->key0));
    if (!p->key)
        return;
    memcpy(p->key, buf_head(&f->key0), buf_used(&f->key0));
    p->key_len = buf_used(&f->key0);
    p->epoch = f->epoch;
    p->flags |= PEND_F_CAPTURE;
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

session_action
fold_query(struct session *s, const struct wire_msg *m, bool retry)
{
    struct fold *f = s->fold;
    size_t len = strnlen((const char *)m->body, m->body_len);
    struct shape *sh = NULL;
    if (len + 1 != m->body_len ||
        shapecache_get(f->shapes, (const char *)m->body, len, NULL, 0, &sh, &f->lits) != 0)
        sh = NULL;
    if (!retry) {
        fold_effects(f, sh);
        /* A simple Query drops the unnamed statement: nothing is owed any more. */
        fold_owed_clear(f);
    }
    if (sh && sh->kind == SHAPE_LOOKUP && !(sh->flags & (SHAPE_F_MULTI | SHAPE_F_OPTOUT))) {
        struct lookup lk = {.shape = sh, .sql = (const char *)m->body, .sqllen = len};
        lk.stmt_id = fold_stmt_id(lk.sql, len, &f->lits);
        lk.lits = &f->lits;
        const struct answer *a = NULL;
        enum fold_verdict v = fold_decide(f, &lk, retry, &a);
        if (v == V_LOCAL) {
            answer_query(s, a);
            fold_observe_local(f);
        } else if (v == V_BATCH) {
            buf_reset(&f->parked);
            buf_put(&f->parked, m->raw, m->wire_len);
            f->parked_group = false;
        } else {
            struct pending *p = session_forward(s, m);
            if (p) {
                p->flags |= PEND_F_SOURCE;
                p->shape = shape_ref(sh);
                fold_mark_capture(f, p, &lk);
            }
        }
        shape_unref(sh);
        return SESSION_CONTINUE;
    }
    struct pending *p = session_forward(s, m);
    if (p && sh && (sh->kind == SHAPE_READ || sh->kind == SHAPE_LOOKUP)) {
        p->flags |= PEND_F_SOURCE;
        p->shape = shape_ref(sh);
    }
    shape_unref(sh);
    return SESSION_CONTINUE;
}
