/*
 * fold_batch: the server side of the rewrite path. Sends a speculative batch, consumes its
 * responses, checks them, and turns them into one cached answer per key; and, for traffic
 * that is forwarded, captures answers and key sources as they stream back to the client.
 *
 * One batch is one pipelined round trip on the session's own connection, entirely of pgfold's
 * own (internal) pending entries:
 *   [SAVEPOINT pgfold_batch]                      inside a transaction block only
 *   Parse/Describe/Close of the single statement  what PostgreSQL says its RowDescription is
 *   Parse/Bind/Describe/Execute of the batch      keys bound as one text array parameter
 *   [RELEASE SAVEPOINT pgfold_batch]
 *   Sync
 * On an error the server skips to Sync; inside a block pgfold then rolls back to its
 * savepoint (one more round trip), so the client's transaction is as it was. A batch whose
 * RowDescription (after the ordinal) differs from the single statement's, or whose rows pass
 * max_batch_bytes, is discarded. Either way the client's statement then runs as if nothing
 * had happened.
 */
#include <errno.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "pgwire/rowmsg.h"
#include "proxy/fold_int.h"
#include "proxy/log.h"
#include "pgwire/wire.h"

#define SINGLE_NAME "pgfold_single"

static uint32_t next_batch_id; /* per thread would be nicer; only used to tell batches apart */

void
foldb_free(struct fold *f)
{
    struct batch *b = &f->b;
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
    buf_free(&b->others);
    buf_free(&b->abort_err);
    memset(b, 0, sizeof(*b));
}

static void
internal_msgs_savepoint(struct session *s, const char *sql, enum fold_role role)
{
    static const int16_t none[1] = {0};
    msg_put_parse(&s->to_server, "", sql, 0, NULL);
    fold_internal(s, PEND_PARSE, role);
    msg_put_bind(&s->to_server, "", 0, none, NULL, NULL, 0, none);
    fold_internal(s, PEND_BIND, role);
    msg_put_execute(&s->to_server, "");
    fold_internal(s, PEND_EXECUTE, role);
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

static int
send_batch(struct session *s, const struct lookup *lk, const struct lookup_key *k,
           uint32_t key_oid, const char *array)
{
    struct fold *f = s->fold;
    char *sql = NULL;
    const char *tname = keyval_type_name(key_oid);
    int rc = shape_batch_sql(lk->shape, lk->sql, lk->sqllen, lk->lits, k->slot, tname, SHAPE_BATCH_LATERAL,
                             &sql);
    int n = lk->shape->nparams;
    if (rc != 0 || n + 1 > MSG_MAX_PARAMS || (lk->extended && lk->bind->nparams != n)) {
        free(sql);
        return rc ? rc : -E2BIG;
    }
    uint32_t oids[MSG_MAX_PARAMS];
    int16_t fmts[MSG_MAX_PARAMS], res[MSG_MAX_PARAMS + 1];
    const uint8_t *vals[MSG_MAX_PARAMS];
    int32_t lens[MSG_MAX_PARAMS];
    for (int i = 0; i < n; i++) {
        oids[i] = i < lk->noids ? lk->oids[i] : 0;
        fmts[i] = lk->bind->pfmt[i];
        vals[i] = lk->bind->val[i];
        lens[i] = lk->bind->len[i];
    }
    if (k->param) {
        /* The key's own $n is no longer referenced: give it a type and bind NULL. */
        oids[k->param - 1] = k->param_oid ? k->param_oid : key_oid;
        vals[k->param - 1] = NULL;
    }
    oids[n] = keyval_array_oid(key_oid);
    fmts[n] = 0;
    vals[n] = (const uint8_t *)array;
    lens[n] = (int32_t)strlen(array);
    int nres = batch_result_formats(lk, res, &f->b.ordfmt);

    char *single = single_text(lk, k, &f->b.key_pidx);
    if (!single) {
        free(sql);
        return -ENOMEM;
    }
    /* Types for the client's parameters only: the key's $n+1 (a literal key) stays unspecified. */
    int ntypes = lk->extended ? lk->noids : 0;
    if (f->b.key_pidx >= 0 && !k->param && ntypes > lk->shape->nparams)
        ntypes = lk->shape->nparams;
    msg_put_parse(&s->to_server, SINGLE_NAME, single, ntypes, lk->oids);
    fold_internal(s, PEND_PARSE, ROLE_SINGLE);
    msg_put_describe(&s->to_server, 'S', SINGLE_NAME);
    fold_internal(s, PEND_DESCRIBE_S, ROLE_SINGLE);
    msg_put_close(&s->to_server, 'S', SINGLE_NAME);
    fold_internal(s, PEND_CLOSE, ROLE_SINGLE);
    free(single);

    msg_put_parse(&s->to_server, "", sql, n + 1, oids);
    fold_internal(s, PEND_PARSE, ROLE_BATCH);
    msg_put_bind(&s->to_server, "", n + 1, fmts, vals, lens, nres, res);
    fold_internal(s, PEND_BIND, ROLE_BATCH);
    msg_put_describe(&s->to_server, 'P', "");
    fold_internal(s, PEND_DESCRIBE_P, ROLE_BATCH);
    msg_put_execute(&s->to_server, "");
    fold_internal(s, PEND_EXECUTE, ROLE_BATCH);
    free(sql);
    return 0;
}

static int
int_width(uint32_t oid)
{
    return oid == KEYVAL_OID_INT2 ? 2 : oid == KEYVAL_OID_INT4 ? 4 : oid == KEYVAL_OID_INT8 ? 8 : 0;
}

uint32_t
foldb_key_oid(const struct lookup_key *k, const struct keysrc_hit *hit, const struct policy_shape *ps)
{
    uint32_t col = hit->col->type_oid;
    if (k->cls == LK_STR)
        return ps && ps->untyped_key_oid ? ps->untyped_key_oid : col;
    if (!k->param_oid || !keyval_type_name(k->param_oid))
        return col;
    /* An integer key compares the same whatever its integer type: bind the wider of the
     * parameter's and the column's, so a column value beyond the parameter's range (psycopg
     * sends small ints as int2) does not fail the whole batch. */
    if (k->cls == LK_INT && int_width(col) > int_width(k->param_oid) && int_width(k->param_oid))
        return col;
    return k->param_oid;
}

void
foldb_start(struct session *s, const struct lookup *lk, const struct lookup_key *k,
            const struct keysrc_hit *hit, const char *const *keys, const size_t *lens,
            int nkeys, struct policy_shape *ps)
{
    struct fold *f = s->fold;
    struct batch *b = &f->b;
    foldb_free(f);
    uint32_t key_oid = foldb_key_oid(k, hit, ps);
    char *array = NULL;
    size_t alen;
    b->keys = calloc((size_t)nkeys, sizeof(*b->keys));
    b->keylens = calloc((size_t)nkeys, sizeof(*b->keylens));
    b->rows = calloc((size_t)nkeys, sizeof(*b->rows));
    b->nrows = calloc((size_t)nkeys, sizeof(*b->nrows));
    if (!b->keys || !b->keylens || !b->rows || !b->nrows ||
        keyval_array_build(keys, lens, (size_t)nkeys, &array, &alen) != 0)
        goto fail;
    b->nkeys = nkeys;
    for (int i = 0; i < nkeys; i++) {
        /* Store each key's cache key: the lookup's pointers do not outlive this call. */
        fold_cache_key(f, lk, k, keys[i], lens[i], &b->rows[i]);
        b->keys[i] = malloc(buf_used(&b->rows[i]) + 1);
        if (!b->keys[i])
            goto fail;
        memcpy(b->keys[i], buf_head(&b->rows[i]), buf_used(&b->rows[i]));
        b->keylens[i] = buf_used(&b->rows[i]);
        buf_reset(&b->rows[i]);
    }
    b->savepoint = s->txn_status == 'T';
    if (b->savepoint)
        internal_msgs_savepoint(s, "SAVEPOINT pgfold_batch", ROLE_SAVEPOINT);
    if (send_batch(s, lk, k, key_oid, array) != 0)
        goto fail_sent;
    if (b->savepoint)
        internal_msgs_savepoint(s, "RELEASE SAVEPOINT pgfold_batch", ROLE_RELEASE);
    msg_put_sync(&s->to_server);
    fold_internal(s, PEND_SYNC, ROLE_SYNC);
    free(array);
    b->active = true;
    b->id = ++next_batch_id;
    b->ps = ps;
    b->key_oid = key_oid;
    f->blocked = true;
    f->resume_retry = true;
    return;
fail_sent:
    /* The savepoint went out alone: end the round trip so the server state stays known. */
    if (b->savepoint) {
        internal_msgs_savepoint(s, "RELEASE SAVEPOINT pgfold_batch", ROLE_RELEASE);
        msg_put_sync(&s->to_server);
        fold_internal(s, PEND_SYNC, ROLE_SYNC);
        b->active = true;
        b->failed = true;
        b->id = ++next_batch_id;
        f->blocked = true;
        f->resume_retry = true;
        free(array);
        return;
    }
fail:
    free(array);
    foldb_free(f);
}

/* ---- responses ------------------------------------------------------------------------ */

static void
batch_row(struct fold *f, const struct wire_msg *m)
{
    struct batch *b = &f->b;
    if (b->too_big || b->failed)
        return;
    int64_t ord = 0;
    size_t before_total = b->bytes;
    struct buf tmp;
    buf_init(&tmp);
    if (rowmsg_row_drop_first(m->body, m->body_len, b->ordfmt, &ord, &tmp) != 0 || ord < 1 ||
        ord > b->nkeys) {
        b->failed = true;
        buf_free(&tmp);
        return;
    }
    b->bytes = before_total + buf_used(&tmp);
    if (b->bytes > f->s->cfg->max_batch_bytes) {
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

/* One row of FKEYS_SQL, in text format. */
static void
fkeys_row(struct session *s, const struct wire_msg *m)
{
    const char *fields[8];
    size_t lens[8];
    size_t pos = 0;
    struct rowmsg_field fl;
    if (!s->fkeys || rowmsg_nfields(m->body, m->body_len) != 8)
        return;
    for (int i = 0; i < 8; i++) {
        if (rowmsg_next(m->body, m->body_len, &pos, &fl) != 0)
            return;
        fields[i] = (const char *)fl.val;
        lens[i] = fl.val ? (size_t)fl.len : 0;
    }
    if (fkeys_add_row(s->fkeys, fields, lens) != 0)
        return; /* a row it cannot read is skipped: names decide for that key */
}

/* A response to one of pgfold's own messages. Returns true when the client must not see it. */
static bool
internal_response(struct session *s, const struct pending *h, const struct wire_msg *m)
{
    struct fold *f = s->fold;
    struct batch *b = &f->b;
    enum fold_role role = (enum fold_role)h->role;
    switch (m->type) {
    case BE_NOTICE:
    case BE_NOTIFICATION:
    case BE_PARAM_STATUS:
        return false;
    case BE_ROW_DESCRIPTION:
        if (role == ROLE_SINGLE) {
            copy_body(&b->single_desc, m);
            b->single_seen = true;
        } else if (role == ROLE_BATCH) {
            copy_body(&b->batch_desc, m);
        }
        return true;
    case BE_PARAM_DESCRIPTION:
        if (role == ROLE_SINGLE && b->key_pidx >= 0) {
            struct wire_cursor c;
            wire_cursor_init(&c, m->body, m->body_len);
            int n = wire_get_i16(&c);
            for (int i = 0; i < n && !c.err; i++) {
                uint32_t oid = (uint32_t)wire_get_i32(&c);
                if (i == b->key_pidx && !c.err)
                    b->inferred_oid = oid;
            }
        }
        return true;
    case BE_DATA_ROW:
        if (role == ROLE_BATCH)
            batch_row(f, m);
        else if (role == ROLE_FKEYS)
            fkeys_row(s, m);
        return true;
    case BE_ERROR: {
        if (role == ROLE_RESTORE)
            return false; /* the client's own statement failed: it must hear of it */
        b->failed = true;
        /* FATAL or PANIC: the backend is going away (pg_terminate_backend, a shutdown) and
         * takes the client's session with it. The client must hear why, as it would direct;
         * swallowed, it saw only the socket close (the transport does not add 08006 after a
         * FATAL from the server). */
        const char *sev = wire_error_field(m->body, m->body_len, 'V');
        if (sev && (strcmp(sev, "FATAL") == 0 || strcmp(sev, "PANIC") == 0))
            return false;
        /* An error on pgfold's SAVEPOINT, or on the ROLLBACK TO that undoes a failed batch,
         * leaves the client's transaction block aborted: a cancel can land on either. Keep
         * it for the client's statement (finish()). 3B001 on the ROLLBACK TO only says that
         * the SAVEPOINT had failed. */
        if ((role == ROLE_SAVEPOINT || role == ROLE_ROLLBACK) && buf_used(&b->abort_err) == 0) {
            const char *code = wire_error_field(m->body, m->body_len, 'C');
            if (!code || strcmp(code, "3B001") != 0)
                buf_put(&b->abort_err, m->raw, m->wire_len);
        }
        return true;
    }
    default:
        return true;
    }
}

/* The transaction block an answer belongs to: its number while one is open, else 0. */
static uint64_t
block_seq(const struct session *s)
{
    return s->txn_status == 'T' ? s->fold->txn_seq : 0;
}

static void
store_answers(struct session *s)
{
    struct fold *f = s->fold;
    struct batch *b = &f->b;
    struct buf desc;
    buf_init(&desc);
    if (rowmsg_desc_drop_first(buf_head(&b->batch_desc), buf_used(&b->batch_desc), &desc) != 0)
        return;
    for (int i = 0; i < b->nkeys; i++) {
        char tag[24];
        snprintf(tag, sizeof(tag), "SELECT %llu", (unsigned long long)b->nrows[i]);
        answer_put(&f->answers, (const uint8_t *)b->keys[i], b->keylens[i], 0,
                   buf_head(&desc), buf_used(&desc), buf_head(&b->rows[i]),
                   buf_used(&b->rows[i]), b->nrows[i], tag, s->now_ms, block_seq(s), b->id);
    }
    buf_free(&desc);
}

static bool
rowdesc_matches(struct batch *b)
{
    if (!b->single_seen || buf_used(&b->batch_desc) == 0)
        return false;
    struct buf cut;
    buf_init(&cut);
    bool same = rowmsg_desc_drop_first(buf_head(&b->batch_desc), buf_used(&b->batch_desc),
                                       &cut) == 0 &&
                rowmsg_desc_same_shape(buf_head(&b->single_desc), buf_used(&b->single_desc),
                                       buf_head(&cut) + 5, buf_used(&cut) - 5);
    buf_free(&cut);
    return same;
}

/* Does an untyped key mean the same bound as the batch's key type as in the statement? */
static bool
key_type_matches(const struct batch *b)
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
finish(struct session *s)
{
    struct fold *f = s->fold;
    struct batch *b = &f->b;
    bool type_ok = key_type_matches(b);
    if (!type_ok && b->inferred_oid && b->ps) {
        /* Learned: the next batch of this shape binds its keys as the type PostgreSQL gives
         * them (if that is a key type at all; try_batch checks). Not the batch's fault: no
         * pause. */
        b->ps->untyped_key_oid = b->inferred_oid;
        slog_debug(s, "batch of %d keys discarded: untyped key bound as type %u, the statement reads "
                      "it as %u (learned)", b->nkeys, b->key_oid, b->inferred_oid);
        FOLD_COUNT(f, server_stmts, 1);
        FOLD_COUNT(f, fallback_rowdesc, 1);
        foldb_free(f);
        f->blocked = false;
        fold_account(f);
        fold_resume(s);
        return;
    }
    bool ok = type_ok && !b->failed && !b->too_big && rowdesc_matches(b);
    FOLD_COUNT(f, server_stmts, 1);
    if (ok) {
        store_answers(s);
        FOLD_COUNT(f, batches, 1);
        FOLD_COUNT(f, batch_keys, (uint64_t)b->nkeys);
        if (b->ps) {
            policy_batch_done(b->ps, b->id, (uint64_t)b->nkeys);
            struct stats_delta d = {.batches = 1, .fetched = (uint64_t)b->nkeys,
                                    .backoff = fold_backoff_name(b->ps)};
            if (s->st)
                stats_pattern_add(s->st, b->ps->pattern, (uint64_t)time(NULL) * 1000, &d);
        }
    } else {
        slog_debug(s, "batch of %d keys discarded: %s", b->nkeys,
                   b->too_big ? "over max_batch_bytes" : b->failed ? "it failed" :
                   !type_ok ? "untyped key of unknown type" : "RowDescription differs from the statement's");
        if (b->too_big)
            FOLD_COUNT(f, fallback_size, 1);
        else if (b->failed)
            FOLD_COUNT(f, fallback_error, 1);
        else
            FOLD_COUNT(f, fallback_rowdesc, 1);
        if (b->ps) {
            b->ps->fallbacks++;
            b->ps->paused_until = b->ps->lookups + POLICY_PAUSE_LOOKUPS;
        }
    }
    /* Still in a failed block after the rollback: pgfold's own statements aborted it, and
     * the client's statement, forwarded now, would only get 25P02. It answers with the error
     * that aborted the block instead, as if that error had hit it (a cancel meant for it). */
    struct buf err = b->abort_err;
    buf_init(&b->abort_err);
    bool aborted = b->savepoint && s->txn_status == 'E' && buf_used(&err) > 0;
    foldb_free(f);
    f->blocked = false;
    fold_account(f);
    if (aborted)
        fold_fail_parked(s, buf_head(&err), buf_used(&err));
    else
        fold_resume(s);
    buf_free(&err);
}

void
fold_after_ready(struct session *s)
{
    struct fold *f = s->fold;
    struct batch *b = &f->b;
    if (f->fk_loading && s->fifo.count == 0) {
        f->fk_loading = false;
        if (s->fkeys) {
            s->fkeys->loaded = true; /* also after an error: names decide then */
            s->fkeys->requested = false;
        }
        f->blocked = false;
        fold_resume(s);
        return;
    }
    if (!b->active || s->fifo.count > 0)
        return;
    if (b->failed && b->savepoint && !b->rollback_sent) {
        fold_unnamed_displaced(s); /* a simple Query: it drops the unnamed statement */
        msg_put_query(&s->to_server,
                      "ROLLBACK TO SAVEPOINT pgfold_batch; RELEASE SAVEPOINT pgfold_batch");
        fold_internal(s, PEND_QUERY, ROLE_ROLLBACK);
        b->rollback_sent = true;
        return;
    }
    finish(s);
}

/* ---- capture of forwarded traffic -------------------------------------------------------- */

static void
capture_reset(struct fold *f)
{
    f->cap.on = false;
    f->cap.dropped = false;
    buf_reset(&f->cap.desc);
    buf_reset(&f->cap.rows);
    f->cap.nrows = 0;
}

static void
capture_store(struct session *s, const struct pending *h, const struct wire_msg *m)
{
    struct fold *f = s->fold;
    if (h->key && (f->cap.dropped || buf_error(&f->cap.rows))) {
        /* Too large to keep: the client now has a newer answer than any cached one. */
        struct answer *old = answer_get(&f->answers, h->key, h->key_len);
        if (old)
            answer_del(&f->answers, old);
    } else if (h->key && h->epoch == f->epoch)
        answer_put(&f->answers, h->key, h->key_len, 0, buf_head(&f->cap.desc),
                   buf_used(&f->cap.desc), buf_head(&f->cap.rows), buf_used(&f->cap.rows),
                   f->cap.nrows, (const char *)m->body, s->now_ms, block_seq(s), 0);
    capture_reset(f);
}

static void
source_begin(struct fold *f, const struct pending *h, const uint8_t *desc, size_t len)
{
    const struct shape *sh = h->shape;
    const char *table = sh && sh->ntables == 1 ? sh->tables[0].name : NULL;
    keysrc_begin(&f->src, desc, len, sh ? sh->fingerprint : 0, table,
                 sh ? sh->normalized : NULL);
    f->src_active = true;
}

static void
client_response(struct session *s, const struct pending *h, const struct wire_msg *m)
{
    struct fold *f = s->fold;
    bool capture = (h->flags & PEND_F_CAPTURE) != 0;
    switch (m->type) {
    case BE_ROW_DESCRIPTION:
        if (h->kind == PEND_DESCRIBE_P)
            copy_body(&f->last_desc, m);
        if (capture) {
            capture_reset(f);
            f->cap.on = true;
            buf_put(&f->cap.desc, m->raw, m->wire_len);
        }
        if (h->kind == PEND_QUERY && (h->flags & PEND_F_SOURCE))
            source_begin(f, h, m->body, m->body_len);
        break;
    case BE_DATA_ROW:
        if (h->kind == PEND_EXECUTE && (h->flags & PEND_F_SOURCE) && !f->src_active &&
            buf_used(&f->last_desc))
            source_begin(f, h, buf_head(&f->last_desc), buf_used(&f->last_desc));
        if (f->src_active)
            keysrc_row(&f->src, m->body, m->body_len);
        if (capture && buf_used(&f->cap.rows) + m->wire_len <= s->cfg->max_batch_bytes) {
            buf_put(&f->cap.rows, m->raw, m->wire_len);
            f->cap.nrows++;
        } else if (capture) {
            buf_reset(&f->cap.rows);
            f->cap.dropped = true; /* too large to keep */
        }
        break;
    case BE_COMMAND_COMPLETE:
        if (f->src_active)
            keysrc_end(&f->src);
        f->src_active = false;
        if (capture && (h->kind == PEND_QUERY || h->kind == PEND_EXECUTE))
            capture_store(s, h, m);
        break;
    case BE_ERROR:
    case BE_EMPTY_QUERY:
    case BE_PORTAL_SUSPENDED:
        keysrc_abort(&f->src);
        f->src_active = false;
        capture_reset(f);
        break;
    default:
        break;
    }
}

bool
fold_server(struct session *s, const struct wire_msg *m)
{
    struct pending *h = pending_head(&s->fifo);
    if (!h)
        return false;
    if (h->origin == PEND_INTERNAL)
        return internal_response(s, h, m);
    if (h->flags & (PEND_F_CAPTURE | PEND_F_SOURCE) || h->kind == PEND_DESCRIBE_P) {
        client_response(s, h, m);
        if (m->type == BE_COMMAND_COMPLETE)
            fold_account(s->fold);
    }
    return false;
}
