/*
 * decide: the verdict on one lookup. See engine.h for the contract, docs/batching.md for the
 * rules.
 *
 * A lookup's candidate keys are read as the lookup spells them (a literal, a text or binary
 * parameter) into canonical form. If the answer cache holds a fresh answer for one of them,
 * the verdict is "answer locally". Otherwise, if the key sits in a column of a recent result
 * (a key source), the best such column is chosen and the column's values not yet answered are
 * batched; the first time that happens for a database the foreign keys are read first.
 * Everything else is forwarded, and its answer captured on the way back.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "batcher/engine_int.h"

/* ---- keys and cache keys ---------------------------------------------------------------- */

static uint64_t
hash_more(uint64_t h, const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 1099511628211ULL;
    return h;
}

/* Texts that differ in a key literal share answers and nothing else does: every literal
 * token is left out of the id (their values go into the cache key's `others`). */
uint64_t
engine_stmt_id(const char *sql, size_t len, const struct shape_lits *lits)
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
engine_cache_key(struct engine *e, const struct lookup *lk, const struct lookup_key *k,
                 const char *key, size_t keylen, struct buf *out)
{
    lookup_others(lk, k, &e->others);
    answer_key(out, lk->stmt_id, lk->formats, lk->nformats, buf_head(&e->others),
               buf_used(&e->others), key, keylen);
}

/*
 * The key type a cast on the key names (`$1::int8`, `'42'::uuid`), 0 for no cast; -1 for one
 * whose result pgfold cannot predict: a type that is not a key type, a modifier that may cut the
 * value (varchar(3)), or bpchar, whose trailing blanks do not count.
 */
static int64_t
slot_cast(const struct shape_slot *sl)
{
    if (!(sl->flags & SHAPE_SLOT_CAST))
        return 0;
    uint32_t oid = sl->flags & SHAPE_SLOT_CAST_MOD ? 0 : keyval_oid_named(sl->cast_type);
    enum keyval_class c = keyval_class(oid);
    return c == KEYVAL_CLASS_NONE || c == KEYVAL_CLASS_BPCHAR ? -1 : (int64_t)oid;
}

static enum lk_class
class_of(uint32_t oid)
{
    enum keyval_class c = keyval_class(oid);
    return c == KEYVAL_CLASS_INT ? LK_INT : c == KEYVAL_CLASS_UUID ? LK_UUID : LK_TEXT;
}

/* Computes the key of candidate slot i as the lookup spells it. Returns false if unusable. */
static bool
literal_key(struct lookup *lk, int i, struct lookup_key *k)
{
    const struct shape_slot *sl = &lk->shape->slots[i];
    char raw[KEYSRC_MAX_KEY];
    size_t rl;
    int64_t cast = slot_cast(sl);
    if (cast < 0 ||
        shape_slot_value(lk->shape, lk->sql, lk->sqllen, lk->lits, i, raw, sizeof(raw), &rl) != 0)
        return false;
    k->param = 0;
    if (cast > 0) {
        /* '42'::int8 reads the string as an int8; 42::int2 narrows an integer. */
        k->cls = class_of((uint32_t)cast);
        k->param_oid = k->cast_oid = (uint32_t)cast;
        return keyval_canon_literal(k->cast_oid, sl->lit_type, raw, rl, k->key, sizeof(k->key),
                                    &k->keylen) == 0;
    }
    if (sl->lit_type == KEYVAL_LIT_INTEGER) {
        k->cls = LK_INT;
        return keyval_canon_literal(KEYVAL_OID_INT8, sl->lit_type, raw, rl, k->key, sizeof(k->key),
                                    &k->keylen) == 0;
    }
    if (sl->lit_type != KEYVAL_LIT_STRING)
        return false;
    k->cls = LK_STR;
    memcpy(k->key, raw, rl);
    k->keylen = rl;
    return true;
}

/*
 * A parameter cast to key type c: PostgreSQL gives an untyped parameter type c, reads a text one
 * with c's input function, and converts one of c's own class by value (int4 to int8). Any other
 * pairing (name to int8, which has no cast; int4 to text) is not read as a key.
 */
static bool
cast_param_key(struct lookup_key *k, uint32_t oid, int16_t fmt, const char *v, size_t vl,
               uint32_t c)
{
    enum keyval_class from = keyval_class(oid);
    k->cls = class_of(c);
    k->cast_oid = k->param_oid = c;
    /* An untyped parameter takes the cast's type: its binary form is c's. */
    if (oid == 0 && fmt == 1)
        return keyval_canon_binary(c, v, vl, k->key, sizeof(k->key), &k->keylen) == 0;
    /* text's binary form is its bytes */
    if (oid == 0 || from == KEYVAL_CLASS_TEXT)
        return keyval_canon_text(c, v, vl, k->key, sizeof(k->key), &k->keylen) == 0;
    if (from != keyval_class(c))
        return false;
    char tmp[KEYSRC_MAX_KEY];
    size_t tl;
    int rc = fmt == 1 ? keyval_canon_binary(oid, v, vl, tmp, sizeof(tmp), &tl)
                      : keyval_canon_text(oid, v, vl, tmp, sizeof(tmp), &tl);
    /* and it must survive the conversion: 70000::int2 fails */
    return rc == 0 && keyval_canon_text(c, tmp, tl, k->key, sizeof(k->key), &k->keylen) == 0;
}

static bool
param_key(struct lookup *lk, int i, struct lookup_key *k)
{
    const struct shape_slot *sl = &lk->shape->slots[i];
    int p = sl->param;
    int64_t cast = slot_cast(sl);
    if (p < 1 || p > lk->bind->nparams || !lk->bind->val[p - 1] || cast < 0)
        return false;
    uint32_t oid = p <= lk->noids ? lk->oids[p - 1] : 0;
    const char *v = (const char *)lk->bind->val[p - 1];
    size_t vl = (size_t)lk->bind->len[p - 1];
    k->param = p;
    k->param_oid = oid;
    if (cast > 0)
        return cast_param_key(k, oid, lk->bind->pfmt[p - 1], v, vl, (uint32_t)cast);
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
    k->cls = class_of(oid);
    int rc = lk->bind->pfmt[p - 1] == 1
                 ? keyval_canon_binary(oid, v, vl, k->key, sizeof(k->key), &k->keylen)
                 : keyval_canon_text(oid, v, vl, k->key, sizeof(k->key), &k->keylen);
    return rc == 0;
}

static void
lookup_keys(struct lookup *lk)
{
    lk->nkeys = 0;
    for (int i = 0; i < lk->shape->nslots && lk->nkeys < ENGINE_MAX_SLOTS; i++) {
        struct lookup_key *k = &lk->k[lk->nkeys];
        memset(k, 0, sizeof(*k));
        k->slot = i;
        bool ok = lk->shape->slots[i].param > 0 ? lk->extended && param_key(lk, i, k)
                                                : literal_key(lk, i, k);
        if (ok)
            lk->nkeys++;
    }
}

/* ---- choosing the source column ------------------------------------------------------- */

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

/* Did the column also hold the shape's previous key, in an earlier row than this hit? */
static bool
held_previous(const struct policy_shape *ps, const struct keysrc_hit *h)
{
    if (!ps || !ps->prev_key_len)
        return false;
    for (uint32_t r = 0; r < h->row; r++) {
        const char *v;
        size_t vl;
        if (keysrc_value(h->col, r, &v, &vl) && vl == ps->prev_key_len &&
            !memcmp(v, ps->prev_key, vl))
            return true;
    }
    return false;
}

static bool
declared_fk(const struct engine_ctx *cx, const struct keysrc_hit *h, const struct shape_slot *sl)
{
    const struct fkeys *k = cx->catalog && cx->catalog->loaded ? &cx->catalog->fk : NULL;
    return k &&
           (fkeys_forward(k, h->col->table_oid, h->col->attnum, sl->table, sl->column) ||
            fkeys_reverse(k, sl->table, sl->column, h->col->table_oid, h->col->attnum));
}

/*
 * Does the column hold another value than key anywhere in its result? A column whose rows all
 * hold the key is constant across the loop (the request's own user_id, in a lookup keyed on a
 * run and a user): batching on it fetches that one key, which saves nothing, while the slot
 * whose values vary is the loop's key. (The loop's last key is no exception: its column varies
 * over the rows before, and a batch from there would fetch it alone, which start_batch
 * refuses; the lookup is still the loop's, as /patterns reports it.)
 */
static bool
column_varies(const struct keysrc_hit *h, const char *key, size_t keylen)
{
    for (uint32_t i = 1; i < h->res->nrows; i++) {
        /* rows after the hit first (the loop goes on there), then the ones before it */
        uint32_t r = h->row + i < h->res->nrows ? h->row + i : h->row + i - h->res->nrows;
        const char *v;
        size_t vl;
        if (keysrc_value(h->col, r, &v, &vl) && (vl != keylen || memcmp(v, key, vl) != 0))
            return true;
    }
    return false;
}

/* Scores every place one candidate key occurs; keeps the best in *best. */
static void
score_key(struct engine *e, const struct engine_ctx *cx, const struct lookup *lk, int ki,
          const struct policy_shape *ps, struct choice *best)
{
    static const uint32_t probe_oid[] = {KEYVAL_OID_INT8, KEYVAL_OID_TEXT, KEYVAL_OID_UUID,
                                         KEYVAL_OID_NAME};
    static const enum keyval_class probe_cls[] = {KEYVAL_CLASS_INT, KEYVAL_CLASS_TEXT,
                                                  KEYVAL_CLASS_UUID, KEYVAL_CLASS_NAME};
    const struct lookup_key *k = &lk->k[ki];
    const struct shape_slot *sl = &lk->shape->slots[k->slot];
    struct policy_target t = {sl->table, sl->column};
    for (size_t pc = 0; pc < sizeof(probe_oid) / sizeof(probe_oid[0]); pc++) {
        char canon[KEYSRC_MAX_KEY];
        size_t cl;
        if (!class_fits(k->cls, probe_cls[pc], k->key, k->keylen, probe_oid[pc], canon, &cl))
            continue;
        struct keysrc_hit hits[8];
        int nh = keysrc_find(&e->src, probe_cls[pc], canon, cl, hits, 8);
        for (int h = 0; h < nh; h++) {
            /* The lookup's own earlier answers (its batch's rows, a multi-row answer of the
             * same statement) hold the keys it already looked up: no source of its loop. */
            if (hits[h].res->source_shape == lk->shape->fingerprint)
                continue;
            if (!column_varies(&hits[h], canon, cl))
                continue;
            int sc = policy_score(&t, &hits[h], held_previous(ps, &hits[h]),
                                  declared_fk(cx, &hits[h], sl));
            if (sc > best->score)
                *best = (struct choice){sc, ki, hits[h]};
        }
    }
}

/* Finds the best source column for any of the lookup's candidate keys. */
static bool
choose_source(struct engine *e, const struct engine_ctx *cx, const struct lookup *lk,
              const struct policy_shape *ps, struct choice *best)
{
    best->score = 0;
    if (e->src.count == 0)
        return false; /* no multi-row result to trace the key to (pgbench -S, say) */
    for (int ki = 0; ki < lk->nkeys; ki++)
        score_key(e, cx, lk, ki, ps, best);
    return best->score > 0;
}

/* ---- patterns ------------------------------------------------------------------------------ */

const char *
engine_backoff_name(const struct policy_shape *ps)
{
    if (ps->lookups < ps->paused_until)
        return "paused";
    return ps->cautious ? "cautious" : "none";
}

/* A new pattern is reported once, when its first loop is over (the next loop begins, or the
 * session ends), so the report can say how many lookups the loop made. */
void
engine_loop_done(struct engine *e, struct policy_shape *ps)
{
    if (!ps->log_pending || !ps->pattern)
        return;
    ps->log_pending = false;
    if (e->hooks.loop_done)
        e->hooks.loop_done(e->hooks.ctx, ps->pattern, ps->loop_lookups);
}

/* A lookup was traced to a source column: record the pattern. */
static void
pattern_seen(struct engine *e, const struct engine_ctx *cx, const struct lookup *lk,
             struct policy_shape *ps, const struct choice *ch)
{
    if (!e->hooks.pattern_find || !ps)
        return;
    const struct shape_slot *sl = &lk->shape->slots[lk->k[ch->ki].slot];
    struct engine_pattern key = {
        .fingerprint = lk->shape->fingerprint,
        .source_fingerprint = ch->hit.res->source_shape,
        .repeated = lk->shape->normalized ? lk->shape->normalized : lk->shape->text,
        .source = ch->hit.res->source_sql,
        .source_column = ch->hit.col->name,
        .source_table = ch->hit.res->source_table,
        .key_table = sl->table,
        .key_column = sl->column,
        .sql = lk->sql,
        .sqllen = lk->sqllen,
    };
    bool observe = cx->cfg->mode == MODE_OBSERVE;
    bool new_loop = ch->hit.res->seq != ps->last_source_seq;
    /* Would-be savings in observe mode: every lookup of a loop but the first, whose round
     * trip the batch would have taken. */
    struct engine_delta d = {.loops = new_loop,
                             .lookups = 1,
                             .saved = observe && !new_loop,
                             .backoff = engine_backoff_name(ps)};
    if (new_loop)
        engine_loop_done(e, ps); /* the previous loop of this shape is over */
    bool created = false;
    void *p = e->hooks.pattern_find(e->hooks.ctx, &key, cx->wall_ms, &d, &created);
    if (new_loop || p != ps->pattern)
        ps->loop_lookups = 0;
    ps->loop_lookups++;
    ps->pattern = p;
    ps->last_source_seq = ch->hit.res->seq;
    if (created)
        ps->log_pending = true;
}

/* ---- batching -------------------------------------------------------------------------- */

struct cached_ctx {
    struct engine *e;
    const struct engine_ctx *cx;
    const struct lookup *lk;
    const struct lookup_key *k;
    struct buf key;
};

/* Is this source key one the batch should leave out: answered already, or refused by the
 * lookup's cast (a column's int8 beyond `$1::int4`), which would fail the whole batch? */
static bool
skip_key(void *ctx, const char *key, size_t len)
{
    struct cached_ctx *c = ctx;
    char tmp[KEYSRC_MAX_KEY];
    size_t tl;
    if (c->k->cast_oid && keyval_canon_text(c->k->cast_oid, key, len, tmp, sizeof(tmp), &tl) != 0)
        return true;
    engine_cache_key(c->e, c->lk, c->k, key, len, &c->key);
    const struct answer *a = answer_get(&c->e->answers, buf_head(&c->key), buf_used(&c->key));
    return a && engine_fresh(c->e, c->cx, a);
}

/*
 * The catalog (foreign keys, relations) is read in-band, once per worker and database and again
 * after DDL, the first time a lookup is traced to a source: only from autocommit (a catalog
 * query needs no savepoint there) and when nothing else is in flight.
 */
static bool
need_catalog(const struct engine_ctx *cx)
{
    const struct catalog *c = cx->catalog;
    return c && !c->requested && !engine_catalog_current(cx) && cx->txn_status == 'I' &&
           cx->idle && cx->cfg->mode == MODE_REWRITE;
}

/* Collects the keys of the chosen column and starts the batch. Returns true if it did. */
static bool
start_batch(struct engine *e, const struct engine_ctx *cx, const struct lookup *lk,
            const struct choice *ch, struct policy_shape *ps, struct engine_plan *plan)
{
    const struct lookup_key *k = &lk->k[ch->ki];
    size_t max = cx->cfg->max_batch_keys;
    const char **keys = malloc(max * sizeof(*keys));
    size_t *lens = malloc(max * sizeof(*lens));
    char canon[KEYSRC_MAX_KEY];
    size_t cl = 0;
    int n = -1;
    if (keys && lens &&
        keyval_canon_text(ch->hit.col->type_oid, k->key, k->keylen, canon, sizeof(canon), &cl) ==
            0) {
        struct cached_ctx cc = {e, cx, lk, k, {0}};
        buf_init(&cc.key);
        n = keysrc_collect_from(ch->hit.col, ch->hit.row, ch->hit.res->nrows, canon, cl, skip_key,
                                &cc, max, keys, lens);
        buf_free(&cc.key);
    }
    /* A batch of the current key alone saves nothing. Inside a block it is wrapped in
     * SAVEPOINT and RELEASE: three statements where direct runs one per key, so it must
     * fetch more keys than that to send fewer statements. */
    int least = cx->txn_status == 'T' ? POLICY_BLOCK_MIN_KEYS : 2;
    bool started =
        n >= least && engine_batch_start(e, cx, lk, k, &ch->hit, keys, lens, n, ps, plan) == 0;
    free(keys);
    free(lens);
    return started;
}

static enum engine_verdict
try_batch(struct engine *e, const struct engine_ctx *cx, const struct lookup *lk,
          struct policy_shape *ps, struct engine_plan *plan)
{
    struct choice ch;
    if (!choose_source(e, cx, lk, ps, &ch))
        return ENGINE_FORWARD;
    e->cur.src_seq = ch.hit.res->seq; /* part of a loop: its answer may be kept */
    if (need_catalog(cx))
        return ENGINE_LOAD_FKEYS;
    pattern_seen(e, cx, lk, ps, &ch);
    if (cx->cfg->mode != MODE_REWRITE || !engine_cache_usable(e, cx))
        return ENGINE_FORWARD;
    /* Only a coincidence of values (no foreign key, no name to go by, and the column did not
     * hold this shape's previous key): wait for the next lookup to confirm the column. */
    if (ch.score < POLICY_EVIDENCE)
        return ENGINE_FORWARD;
    if (ps) {
        policy_review(ps);
        if (!policy_may_batch(ps, ch.score >= POLICY_EVIDENCE))
            return ENGINE_FORWARD;
    }
    if (!keyval_type_name(engine_key_oid(&lk->k[ch.ki], &ch.hit, ps)))
        return ENGINE_FORWARD; /* an untyped key PostgreSQL reads as a type keys cannot be bound as
                                */
    return start_batch(e, cx, lk, &ch, ps, plan) ? ENGINE_BATCH : ENGINE_FORWARD;
}

/* ---- batch_allow / batch_deny ----------------------------------------------------------- */

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

/* May this shape be batched and answered locally at all? */
static bool
shape_permitted(const struct config *cfg, const struct shape *sh)
{
    if (cfg->batch_deny[0] && list_names(cfg->batch_deny, sh))
        return false;
    return !cfg->batch_allow[0] || list_names(cfg->batch_allow, sh);
}

/* ---- the verdict ------------------------------------------------------------------------- */

/* Records a local answer's counters. */
static void
served(struct engine *e, const struct engine_ctx *cx, struct policy_shape *ps, struct answer *a,
       bool retry)
{
    bool first_use = a->batch_id && !a->used;
    if (first_use) {
        a->used = true;
        engine_count(e, ENGINE_C_BATCH_KEYS_USED, 1);
        if (ps)
            policy_key_used(ps, a->batch_id);
    }
    if (a->batch_id) {
        engine_count(e, ENGINE_C_BATCH_ANSWERS, 1);
        if (ps) {
            ps->local_batch++;
            ps->loop_lookups += !retry;
            /* The lookup that triggered the batch was counted when it was traced and saved
             * no round trip (the batch was one). */
            struct engine_delta d = {.lookups = !retry, .used = first_use, .saved = !retry};
            if (e->hooks.pattern_add && ps->pattern)
                e->hooks.pattern_add(e->hooks.ctx, ps->pattern, cx->wall_ms, &d);
        }
    } else {
        engine_count(e, ENGINE_C_REPEAT_ANSWERS, 1);
        if (ps)
            ps->local_repeat++;
    }
    engine_count(e, ENGINE_C_ROUNDTRIPS_SAVED, !retry);
}

/* A fresh cached answer for one of the lookup's keys, or NULL. */
static struct answer *
cached_answer(struct engine *e, const struct engine_ctx *cx, const struct lookup *lk, int *ki)
{
    for (int i = 0; i < lk->nkeys; i++) {
        struct buf *kb = i == 0 ? &e->key0 : &e->scratch;
        engine_cache_key(e, lk, &lk->k[i], lk->k[i].key, lk->k[i].keylen, kb);
        e->key0_valid = true;
        struct answer *a = answer_get(&e->answers, buf_head(kb), buf_used(kb));
        if (a && engine_fresh(e, cx, a)) {
            *ki = i;
            return a;
        }
    }
    return NULL;
}

enum engine_verdict
engine_decide(struct engine *e, const struct engine_ctx *cx, struct lookup *lk, unsigned flags,
              const struct answer **answer, struct engine_plan *plan)
{
    bool retry = flags & ENGINE_RETRY, resumed = flags & ENGINE_RESUMED;
    memset(plan, 0, sizeof(*plan)); /* engine_plan_free of an unfilled plan is harmless */
    if (!resumed)
        engine_count(e, ENGINE_C_LOOKUPS, 1);
    e->block_fresh = false; /* forwarded or batched, it takes the block's snapshot */
    lk->nkeys = 0;
    e->key0_valid = false;
    memset(&e->cur, 0, sizeof(e->cur));
    if (!shape_permitted(cx->cfg, lk->shape) ||
        !catalog_read_deps(cx->catalog, engine_catalog_current(cx), lk->shape, &e->cur))
        return ENGINE_FORWARD; /* a system relation, or a view pgfold cannot see through */
    lookup_keys(lk);
    struct policy_shape *ps = policy_shape(&e->policy, lk->shape->fingerprint);
    if (ps && !resumed)
        ps->lookups++;
    if (lk->nkeys == 0)
        return ENGINE_FORWARD;
    /* Shadow verification found one of this pattern's answers wrong: the server answers it. */
    if ((ps && ps->distrusted) ||
        (cx->fresh && fresh_distrusted(cx->fresh, lk->shape->fingerprint)))
        return ENGINE_FORWARD;
    int ki = 0;
    struct answer *a = engine_cache_usable(e, cx) ? cached_answer(e, cx, lk, &ki) : NULL;
    if (a) {
        served(e, cx, ps, a, retry);
        if (ps)
            policy_remember(ps, lk->k[ki].key, lk->k[ki].keylen);
        *answer = a;
        return ENGINE_LOCAL;
    }
    if (!retry) {
        enum engine_verdict v = try_batch(e, cx, lk, ps, plan);
        if (v != ENGINE_FORWARD)
            return v;
    }
    if (ps) {
        ps->forwarded++;
        policy_remember(ps, lk->k[0].key, lk->k[0].keylen);
    }
    return ENGINE_FORWARD;
}

int
engine_capture_key(struct engine *e, const struct engine_ctx *cx, const struct lookup *lk,
                   struct engine_ticket *t)
{
    if (lk->nkeys == 0 || cx->cfg->mode != MODE_REWRITE || cx->txn_status == 'E' ||
        e->cur.src_seq == 0)
        return -ENOENT; /* not part of a loop: an old answer would only be a guess */
    if (!e->key0_valid) /* decide() computed it unless the cache was not usable */
        engine_cache_key(e, lk, &lk->k[0], lk->k[0].key, lk->k[0].keylen, &e->key0);
    struct engine_ticket_head head = {.epoch = e->epoch, .deps = e->cur};
    head.deps.since = cx->fresh ? fresh_now(cx->fresh) : 0;
    t->len = sizeof(head) + buf_used(&e->key0);
    t->data = malloc(t->len);
    if (!t->data)
        return -ENOMEM;
    memcpy(t->data, &head, sizeof(head));
    memcpy(t->data + sizeof(head), buf_head(&e->key0), buf_used(&e->key0));
    return 0;
}
