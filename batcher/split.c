/*
 * split: the batch, from its plan to one cached answer per key.
 *
 * engine_batch_start writes the plan (docs/batching.md, "The batch on the wire"): the client's
 * statement as pgfold Describes it, to learn what it returns and how it types an untyped key,
 * and the LATERAL batch over a key array. The caller sends it and routes the responses here.
 * engine_batch_finish then checks them (no error, under max_batch_bytes, the batch's
 * RowDescription after its ordinal equal to the statement's, the key type the statement's
 * own) and splits the rows by ordinal into one answer per key, each byte for byte what the
 * single statement returns for that key. Anything else discards the batch; the client's
 * statement then runs as if nothing had happened.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batcher/engine_int.h"
#include "pgwire/rowmsg.h"

static void
copy_text(char *dst, size_t cap, const char *src)
{
    size_t n = src ? strnlen(src, cap - 1) : 0;
    if (n)
        memcpy(dst, src, n);
    dst[n] = '\0';
}

void
engine_plan_free(struct engine_plan *p)
{
    free(p->single_sql);
    free(p->batch_sql);
    free(p->array);
    p->single_sql = p->batch_sql = p->array = NULL;
}

void
engine_batch_clear(struct engine *e)
{
    struct engine_batch *b = &e->b;
    for (int i = 0; i < b->nkeys; i++) {
        free(b->keys[i]);
        buf_free(&b->rows[i]);
    }
    free(b->keys);
    free(b->keylens);
    free(b->rows);
    free(b->nrows);
    buf_free(&b->single_desc);
    buf_free(&b->batch_desc);
    memset(b, 0, sizeof(*b));
    b->key_pidx = -1;
}

static int
int_width(uint32_t oid)
{
    return oid == KEYVAL_OID_INT2 ? 2 : oid == KEYVAL_OID_INT4 ? 4 : oid == KEYVAL_OID_INT8 ? 8 : 0;
}

uint32_t
engine_key_oid(const struct lookup_key *k, const struct keysrc_hit *hit,
               const struct policy_shape *ps)
{
    uint32_t col = hit->col->type_oid;
    if (k->cls == LK_STR)
        return ps && ps->untyped_key_oid ? ps->untyped_key_oid : col;
    if (k->cast_oid)
        return k->cast_oid; /* the batch reads its keys through the same cast */
    if (!k->param_oid || !keyval_type_name(k->param_oid))
        return col;
    /* An integer key compares the same whatever its integer type: bind the wider of the
     * parameter's and the column's, so a column value beyond the parameter's range (psycopg
     * sends small ints as int2) does not fail the whole batch. */
    if (k->cls == LK_INT && int_width(col) > int_width(k->param_oid) && int_width(k->param_oid))
        return col;
    return k->param_oid;
}

/* Result format codes for the batch: the client's, with the ordinal's in front if per column. */
static int
batch_result_formats(const struct lookup *lk, int16_t *out, int16_t *ordfmt)
{
    int nres = lk->extended ? lk->bind->nres : 0;
    *ordfmt = 0;
    if (nres == 0)
        return 0;
    const uint8_t *r = lk->bind->res;
    if (nres == 1) {
        out[0] = (int16_t)((r[0] << 8) | r[1]);
        *ordfmt = out[0];
        return 1;
    }
    out[0] = 0;
    for (int i = 0; i < nres; i++)
        out[i + 1] = (int16_t)((r[2 * i] << 8) | r[2 * i + 1]);
    return nres + 1;
}

/*
 * The statement pgfold Describes to learn what the client's statement returns. For an untyped
 * key (a string literal, or a parameter of type 0) PostgreSQL gives the key the type its
 * context asks for (int4 for "int4col = '5'"), and the batch binds its keys as another type (the
 * source column's): the two must agree, or the batch could answer where the statement fails
 * ('1099511627776' is out of range for int4) or compare differently (bpchar ignores trailing
 * spaces, text does not). So the key's type is asked for too: a parameter key's is in the
 * statement's ParameterDescription as it is; a literal key is replaced by one more parameter
 * ($n+1, unspecified type) in the statement Described. *pidx: the key's 0-based position in
 * the ParameterDescription, -1 for a typed key.
 */
static char *
single_text(const struct lookup *lk, const struct lookup_key *k, int *pidx)
{
    *pidx = -1;
    if (k->cls != LK_STR)
        return strndup(lk->sql, lk->sqllen);
    if (k->param) {
        *pidx = k->param - 1;
        return strndup(lk->sql, lk->sqllen);
    }
    const struct shape_slot *sl = &lk->shape->slots[k->slot];
    if (!lk->lits || sl->lit < 0 || sl->lit >= lk->lits->n)
        return strndup(lk->sql, lk->sqllen);
    const struct shape_lit *lit = &lk->lits->v[sl->lit];
    if ((size_t)lit->off + lit->len > lk->sqllen)
        return strndup(lk->sql, lk->sqllen);
    struct buf b;
    buf_init(&b);
    char param[16];
    int n = snprintf(param, sizeof(param), " $%d ", lk->shape->nparams + 1);
    buf_put(&b, lk->sql, lit->off);
    buf_put(&b, param, (size_t)n);
    buf_put(&b, lk->sql + lit->off + lit->len, lk->sqllen - lit->off - lit->len);
    char *out = buf_error(&b) ? NULL : strndup((const char *)buf_head(&b), buf_used(&b));
    buf_free(&b);
    if (out)
        *pidx = lk->shape->nparams;
    return out;
}

/* Fills the plan's statements and parameters. Returns 0 or a negative code. */
static int
write_plan(struct engine *e, const struct lookup *lk, const struct lookup_key *k, uint32_t key_oid,
           struct engine_plan *p)
{
    int n = lk->shape->nparams;
    if (n + 1 > MSG_MAX_PARAMS || (lk->extended && lk->bind->nparams != n))
        return -E2BIG;
    int rc = shape_batch_sql(lk->shape, lk->sql, lk->sqllen, lk->lits, k->slot,
                             keyval_type_name(key_oid), SHAPE_BATCH_LATERAL, &p->batch_sql);
    if (rc != 0)
        return rc;
    for (int i = 0; i < n; i++) {
        p->oids[i] = i < lk->noids ? lk->oids[i] : 0;
        p->fmts[i] = lk->bind->pfmt[i];
        p->vals[i] = lk->bind->val[i];
        p->lens[i] = lk->bind->len[i];
    }
    if (k->param) {
        /* The key's own $n is no longer referenced: give it a type and bind NULL. */
        p->oids[k->param - 1] = k->param_oid ? k->param_oid : key_oid;
        p->vals[k->param - 1] = NULL;
    }
    p->oids[n] = keyval_array_oid(key_oid);
    p->fmts[n] = 0;
    p->vals[n] = (const uint8_t *)p->array;
    p->lens[n] = (int32_t)strlen(p->array);
    p->nparams = n + 1;
    p->nres = batch_result_formats(lk, p->res, &e->b.ordfmt);
    p->single_sql = single_text(lk, k, &e->b.key_pidx);
    if (!p->single_sql)
        return -ENOMEM;
    /* Types for the client's parameters only: the key's $n+1 (a literal key) stays unspecified. */
    p->single_ntypes = lk->extended ? lk->noids : 0;
    if (e->b.key_pidx >= 0 && !k->param && p->single_ntypes > n)
        p->single_ntypes = n;
    p->single_oids = lk->oids;
    return 0;
}

int
engine_batch_start(struct engine *e, const struct engine_ctx *cx, const struct lookup *lk,
                   const struct lookup_key *k, const struct keysrc_hit *hit,
                   const char *const *keys, const size_t *lens, int nkeys, struct policy_shape *ps,
                   struct engine_plan *plan)
{
    struct engine_batch *b = &e->b;
    engine_batch_clear(e);
    memset(plan, 0, sizeof(*plan));
    uint32_t key_oid = engine_key_oid(k, hit, ps);
    size_t alen;
    b->keys = calloc((size_t)nkeys, sizeof(*b->keys));
    b->keylens = calloc((size_t)nkeys, sizeof(*b->keylens));
    b->rows = calloc((size_t)nkeys, sizeof(*b->rows));
    b->nrows = calloc((size_t)nkeys, sizeof(*b->nrows));
    if (!b->keys || !b->keylens || !b->rows || !b->nrows ||
        keyval_array_build(keys, lens, (size_t)nkeys, &plan->array, &alen) != 0)
        goto fail;
    b->nkeys = nkeys;
    for (int i = 0; i < nkeys; i++) {
        /* Store each key's cache key: the lookup's pointers do not outlive this call. */
        engine_cache_key(e, lk, k, keys[i], lens[i], &b->rows[i]);
        b->keys[i] = malloc(buf_used(&b->rows[i]) + 1);
        if (!b->keys[i])
            goto fail;
        memcpy(b->keys[i], buf_head(&b->rows[i]), buf_used(&b->rows[i]));
        b->keylens[i] = buf_used(&b->rows[i]);
        buf_reset(&b->rows[i]);
    }
    if (write_plan(e, lk, k, key_oid, plan) != 0)
        goto fail;
    plan->savepoint = cx->txn_status == 'T';
    plan->nkeys = nkeys;
    b->deps = e->cur;
    b->deps.src_seq = hit->res->seq;
    b->fingerprint = lk->shape->fingerprint;
    b->stmt_id = lk->stmt_id;
    copy_text(b->table, sizeof(b->table), lk->shape->ntables == 1 ? lk->shape->tables[0].name : NULL);
    copy_text(b->sql, sizeof(b->sql), lk->shape->normalized ? lk->shape->normalized : lk->shape->text);
    b->deps.since = cx->fresh ? fresh_now(cx->fresh) : 0;
    b->id = ++e->next_batch_id;
    b->ps = ps;
    b->key_oid = key_oid;
    return 0;
fail:
    engine_plan_free(plan);
    engine_batch_clear(e);
    return -ENOMEM;
}

/* ---- responses ------------------------------------------------------------------------ */

static void
batch_row(struct engine *e, const struct engine_ctx *cx, const struct wire_msg *m)
{
    struct engine_batch *b = &e->b;
    if (b->too_big || b->failed)
        return;
    int64_t ord = 0;
    struct buf tmp;
    buf_init(&tmp);
    if (rowmsg_row_drop_first(m->body, m->body_len, b->ordfmt, &ord, &tmp) != 0 || ord < 1 ||
        ord > b->nkeys) {
        b->failed = true;
        buf_free(&tmp);
        return;
    }
    b->bytes += buf_used(&tmp);
    if (b->bytes > cx->cfg->max_batch_bytes) {
        b->too_big = true;
        buf_free(&tmp);
        return;
    }
    buf_put(&b->rows[ord - 1], buf_head(&tmp), buf_used(&tmp));
    b->nrows[ord - 1]++;
    buf_free(&tmp);
}

static void
copy_body(struct buf *dst, const struct wire_msg *m)
{
    buf_reset(dst);
    buf_put(dst, m->body, m->body_len);
}

/* The single statement's ParameterDescription: the type it gives an untyped key. */
static void
param_desc(struct engine_batch *b, const struct wire_msg *m)
{
    if (b->key_pidx < 0)
        return;
    struct wire_cursor c;
    wire_cursor_init(&c, m->body, m->body_len);
    int n = wire_get_i16(&c);
    for (int i = 0; i < n && !c.err; i++) {
        uint32_t oid = (uint32_t)wire_get_i32(&c);
        if (i == b->key_pidx && !c.err)
            b->inferred_oid = oid;
    }
}

void
engine_batch_msg(struct engine *e, const struct engine_ctx *cx, enum engine_part part,
                 const struct wire_msg *m)
{
    struct engine_batch *b = &e->b;
    switch (m->type) {
    case BE_ROW_DESCRIPTION:
        if (part == ENGINE_PART_SINGLE) {
            copy_body(&b->single_desc, m);
            b->single_seen = true;
        } else {
            copy_body(&b->batch_desc, m);
        }
        return;
    case BE_PARAM_DESCRIPTION:
        if (part == ENGINE_PART_SINGLE)
            param_desc(b, m);
        return;
    case BE_DATA_ROW:
        if (part == ENGINE_PART_BATCH)
            batch_row(e, cx, m);
        return;
    case BE_ERROR:
        b->failed = true;
        return;
    default:
        return;
    }
}

void
engine_batch_failed(struct engine *e)
{
    e->b.failed = true;
}

bool
engine_batch_has_failed(const struct engine *e)
{
    return e->b.failed;
}

/* ---- checking and splitting ------------------------------------------------------------- */

static void
store_answers(struct engine *e, const struct engine_ctx *cx)
{
    struct engine_batch *b = &e->b;
    struct buf desc;
    buf_init(&desc);
    if (rowmsg_desc_drop_first(buf_head(&b->batch_desc), buf_used(&b->batch_desc), &desc) != 0) {
        buf_free(&desc);
        return;
    }
    for (int i = 0; i < b->nkeys; i++) {
        char tag[24];
        snprintf(tag, sizeof(tag), "SELECT %llu", (unsigned long long)b->nrows[i]);
        struct answer *a = answer_put(&e->answers, (const uint8_t *)b->keys[i], b->keylens[i], 0,
                                      buf_head(&desc), buf_used(&desc), buf_head(&b->rows[i]),
                                      buf_used(&b->rows[i]), b->nrows[i], tag, cx->now_ms,
                                      engine_block_seq(e, cx), b->id);
        if (a)
            a->deps = b->deps;
    }
    buf_free(&desc);
}

static bool
rowdesc_matches(const struct engine_batch *b)
{
    if (!b->single_seen || buf_used(&b->batch_desc) == 0)
        return false;
    struct buf cut;
    buf_init(&cut);
    bool same =
        rowmsg_desc_drop_first(buf_head(&b->batch_desc), buf_used(&b->batch_desc), &cut) == 0 &&
        rowmsg_desc_same_shape(buf_head(&b->single_desc), buf_used(&b->single_desc),
                               buf_head(&cut) + 5, buf_used(&cut) - 5);
    buf_free(&cut);
    return same;
}

/* Does an untyped key mean the same bound as the batch's key type as in the statement? */
static bool
key_type_matches(const struct engine_batch *b)
{
    if (b->key_pidx < 0)
        return true;
    uint32_t a = b->inferred_oid, k = b->key_oid;
    if (a == k)
        return true;
    /* varchar has no operators of its own: "varchar = unknown" compares as text. */
    return (a == KEYVAL_OID_TEXT || a == KEYVAL_OID_VARCHAR) &&
           (k == KEYVAL_OID_TEXT || k == KEYVAL_OID_VARCHAR);
}

static void
discarded(struct engine *e, enum engine_discard why)
{
    static const enum engine_counter counter[] = {
        [ENGINE_DISCARD_FAILED] = ENGINE_C_FALLBACK_ERROR,
        [ENGINE_DISCARD_SIZE] = ENGINE_C_FALLBACK_SIZE,
        [ENGINE_DISCARD_ROWDESC] = ENGINE_C_FALLBACK_ROWDESC,
        [ENGINE_DISCARD_KEYTYPE] = ENGINE_C_FALLBACK_ROWDESC,
    };
    struct engine_batch *b = &e->b;
    engine_count(e, counter[why], 1);
    if (e->hooks.discarded)
        e->hooks.discarded(e->hooks.ctx, why, b->nkeys, b->key_oid, b->inferred_oid);
}

/*
 * The batch's rows, every key's in key order, are a result the client is about to see piece by
 * piece: the source of the next level of a nested loop (run -> course -> program). Recorded
 * like a forwarded result; a later batch of the same statement retires it.
 */
static void
record_source(struct engine *e)
{
    struct engine_batch *b = &e->b;
    struct buf desc;
    buf_init(&desc);
    if (rowmsg_desc_drop_first(buf_head(&b->batch_desc), buf_used(&b->batch_desc), &desc) != 0 ||
        buf_used(&desc) < 5) {
        buf_free(&desc);
        return;
    }
    keysrc_begin(&e->src, buf_head(&desc) + 5, buf_used(&desc) - 5, b->fingerprint,
                 b->table[0] ? b->table : NULL, b->sql, b->stmt_id ^ 0x9e3779b97f4a7c15ULL);
    for (int i = 0; i < b->nkeys; i++) {
        const uint8_t *p = buf_head(&b->rows[i]), *end = p + buf_used(&b->rows[i]);
        while (p && p + 5 <= end) {
            struct wire_msg m;
            if (wire_frame(p, (size_t)(end - p), SIZE_MAX, &m) != 0)
                break;
            keysrc_row(&e->src, m.body, m.body_len);
            p += m.wire_len;
        }
    }
    keysrc_end(&e->src);
    buf_free(&desc);
}

static void
stored(struct engine *e, const struct engine_ctx *cx)
{
    struct engine_batch *b = &e->b;
    store_answers(e, cx);
    record_source(e);
    engine_count(e, ENGINE_C_BATCHES, 1);
    engine_count(e, ENGINE_C_BATCH_KEYS, (uint64_t)b->nkeys);
    if (!b->ps)
        return;
    policy_batch_done(b->ps, b->id, (uint64_t)b->nkeys);
    struct engine_delta d = {
        .batches = 1, .fetched = (uint64_t)b->nkeys, .backoff = engine_backoff_name(b->ps)};
    if (e->hooks.pattern_add && b->ps->pattern)
        e->hooks.pattern_add(e->hooks.ctx, b->ps->pattern, cx->wall_ms, &d);
}

enum engine_outcome
engine_batch_finish(struct engine *e, const struct engine_ctx *cx)
{
    struct engine_batch *b = &e->b;
    enum engine_outcome out = ENGINE_STORED;
    engine_count(e, ENGINE_C_SERVER_STMTS, 1);
    bool type_ok = key_type_matches(b);
    if (!type_ok && b->inferred_oid && b->ps) {
        /* Learned: the next batch of this shape binds its keys as the type PostgreSQL gives
         * them (if that is a key type at all; try_batch checks). Not the batch's fault: no
         * pause. */
        b->ps->untyped_key_oid = b->inferred_oid;
        discarded(e, ENGINE_DISCARD_KEYTYPE);
        out = ENGINE_RELEARN;
    } else if (type_ok && !b->failed && !b->too_big && rowdesc_matches(b)) {
        stored(e, cx);
    } else {
        discarded(e, b->too_big  ? ENGINE_DISCARD_SIZE
                     : b->failed ? ENGINE_DISCARD_FAILED
                     : !type_ok  ? ENGINE_DISCARD_KEYTYPE
                                 : ENGINE_DISCARD_ROWDESC);
        if (b->ps) {
            b->ps->fallbacks++;
            b->ps->paused_until = b->ps->lookups + POLICY_PAUSE_LOOKUPS;
        }
        out = ENGINE_DISCARDED;
    }
    engine_batch_clear(e);
    engine_account(e);
    return out;
}
