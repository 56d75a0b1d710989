/*
 * fold_verify: shadow verification on the session's own connection (issue 14; the decisions
 * are batcher/verify.h's and the engine's).
 *
 * A sampled local answer is remembered with what was served (its digest) and the statement as
 * the client sent it. When the client's bytes run out with nothing of its own in flight (a client
 * that pipelined further messages skips the check), pgfold sends the statement again, as its own
 * traffic behind the answer the client already has:
 *   [SAVEPOINT pgfold_verify]                    inside a transaction block
 *   Close S/P pgfold_verify                      a leftover of a failed check, if any
 *   Parse/Bind/Describe P/Execute pgfold_verify  the client's text, types, values and formats
 *   Sync
 *   [ROLLBACK TO SAVEPOINT pgfold_verify; RELEASE SAVEPOINT pgfold_verify]
 * Named statement and portal: the client's unnamed ones stay as they are. The rollback is sent
 * whatever happens (undoing a read-only statement changes nothing), so a check that fails cannot
 * leave the client's block aborted and needs no second round trip. Its responses are absorbed
 * into a digest (notices included: the client heard them the first time); at its ReadyForQuery
 * the engine is told the outcome.
 *
 * The check never delays the client: while only its entries are in flight the session counts as
 * idle (fold_quiet), so the next lookups are answered locally at once, and a statement the client
 * sends meanwhile simply queues behind it on the server.
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "batcher/verify.h"
#include "proxy/fold_int.h"
#include "proxy/log.h"
#include "proxy/stats.h"

#define VERIFY_NAME "pgfold_verify"

enum vstate {
    V_NONE = 0,
    V_WANT, /* sampled: sent when the client's bytes run out */
    V_SENT, /* in flight */
};

struct fold_verify {
    enum vstate state;
    uint64_t rng;
    uint64_t fingerprint;
    bool exact;      /* under the snapshot the answer was fetched in */
    bool block;      /* sent inside a transaction block: wrapped in a savepoint */
    bool failed;     /* an error came back: no outcome */
    uint64_t age_ms; /* how old the answer was when served */
    struct verify_digest served, got;
    char repeated[160]; /* the pattern's normalized text, for the log line */

    /* The statement as the client sent it. */
    char *sql;
    int noids;
    uint32_t oids[MSG_MAX_PARAMS];
    int nparams;
    int16_t pfmt[MSG_MAX_PARAMS];
    int32_t lens[MSG_MAX_PARAMS];
    size_t voff[MSG_MAX_PARAMS];
    int nres;
    int16_t res[MSG_MAX_PARAMS];
    struct buf vals; /* the parameter values, concatenated */
};

void
fold_verify_free(struct fold *f)
{
    if (!f->verify)
        return;
    free(f->verify->sql);
    buf_free(&f->verify->vals);
    free(f->verify);
    f->verify = NULL;
}

static void
forget(struct fold_verify *v)
{
    free(v->sql);
    v->sql = NULL;
    buf_reset(&v->vals);
    v->state = V_NONE;
}

bool
fold_quiet(const struct session *s)
{
    if (s->fifo.skipping)
        return false;
    for (size_t i = 0; i < s->fifo.count; i++) {
        const struct pending *p = pending_at((struct pending_fifo *)&s->fifo, i); /* read only */
        if (p->origin != PEND_INTERNAL || (p->role != ROLE_VERIFY && p->role != ROLE_VERIFY_SP))
            return false;
    }
    return true;
}

/* Copies the statement and its parameters; false if it cannot be re-sent as it came. */
static bool
keep_statement(struct fold_verify *v, const struct lookup *lk)
{
    v->sql = strndup(lk->sql, lk->sqllen);
    if (!v->sql || memchr(lk->sql, '\0', lk->sqllen))
        return false;
    v->noids = v->nparams = v->nres = 0;
    if (!lk->extended)
        return true;
    const struct msg_bind *b = lk->bind;
    if (lk->noids > MSG_MAX_PARAMS || b->nparams > MSG_MAX_PARAMS || b->nres > MSG_MAX_PARAMS)
        return false;
    v->noids = lk->noids;
    memcpy(v->oids, lk->oids, sizeof(uint32_t) * (size_t)lk->noids);
    v->nparams = b->nparams;
    for (int i = 0; i < b->nparams; i++) {
        v->pfmt[i] = b->pfmt[i];
        v->lens[i] = b->val[i] ? b->len[i] : -1;
        v->voff[i] = buf_used(&v->vals);
        if (b->val[i])
            buf_put(&v->vals, b->val[i], (size_t)b->len[i]);
    }
    v->nres = b->nres;
    for (int i = 0; i < b->nres; i++)
        v->res[i] = (int16_t)((b->res[2 * i] << 8) | b->res[2 * i + 1]);
    return !buf_error(&v->vals);
}

void
fold_verify_offer(struct session *s, const struct lookup *lk, const struct answer *a,
                  bool desc_served)
{
    struct fold *f = s->fold;
    uint64_t fraction = s->cfg->verify_fraction;
    if (fraction == 0 || s->txn_status == 'E' || s->copy_in || s->copy_out)
        return;
    if (!f->verify) {
        f->verify = calloc(1, sizeof(*f->verify));
        if (!f->verify)
            return;
        buf_init(&f->verify->vals);
        f->verify->rng = (s->id + 1) * 0x9e3779b97f4a7c15ULL ^ s->now_us;
    }
    struct fold_verify *v = f->verify;
    if (v->state != V_NONE || !verify_sample(&v->rng, fraction))
        return; /* one check at a time */
    if (!keep_statement(v, lk)) {
        forget(v);
        return;
    }
    struct engine_ctx cx = fold_ctx(s);
    v->fingerprint = lk->shape->fingerprint;
    v->exact = engine_answer_exact(f->eng, &cx, a);
    v->age_ms = s->now_ms > a->fetched_ms ? s->now_ms - a->fetched_ms : 0;
    verify_digest_init(&v->served);
    if (desc_served && a->desclen)
        verify_digest_desc(&v->served, a->desc, a->desclen);
    if (verify_digest_rows(&v->served, a->rows, a->rowslen) != 0) {
        forget(v);
        return;
    }
    verify_digest_tag(&v->served, a->tag, strlen(a->tag));
    const char *text = lk->shape->normalized ? lk->shape->normalized : lk->shape->text;
    snprintf(v->repeated, sizeof(v->repeated), "%s", text ? text : "");
    v->state = V_WANT;
}

void
fold_verify_client(struct fold *f)
{
    if (f->verify && f->verify->state == V_WANT)
        forget(f->verify); /* the client pipelined more: skip the check */
}

static bool
send_check(struct fold *f, struct fold_verify *v)
{
    const uint8_t *vals[MSG_MAX_PARAMS];
    for (int i = 0; i < v->nparams; i++)
        vals[i] = v->lens[i] < 0 ? NULL : buf_head(&v->vals) + v->voff[i];
    msg_put_close(&f->out, 'S', VERIFY_NAME);
    if (!fold_send(f, PEND_CLOSE, ROLE_VERIFY))
        return false;
    msg_put_close(&f->out, 'P', VERIFY_NAME);
    if (!fold_send(f, PEND_CLOSE, ROLE_VERIFY))
        return false;
    msg_put_parse(&f->out, VERIFY_NAME, v->sql, v->noids, v->oids);
    if (!fold_send(f, PEND_PARSE, ROLE_VERIFY))
        return false;
    msg_put_bind_portal(&f->out, VERIFY_NAME, VERIFY_NAME, v->nparams, v->pfmt, vals, v->lens,
                        v->nres, v->res);
    if (!fold_send(f, PEND_BIND, ROLE_VERIFY))
        return false;
    msg_put_describe(&f->out, 'P', VERIFY_NAME);
    if (!fold_send(f, PEND_DESCRIBE_P, ROLE_VERIFY))
        return false;
    msg_put_execute(&f->out, VERIFY_NAME);
    if (!fold_send(f, PEND_EXECUTE, ROLE_VERIFY))
        return false;
    msg_put_sync(&f->out);
    return fold_send(f, PEND_SYNC, ROLE_VERIFY) != NULL;
}

void
fold_verify_drained(struct session *s)
{
    struct fold *f = s->fold;
    struct fold_verify *v = f->verify;
    if (!v || v->state != V_WANT)
        return;
    /* Only behind nothing of the client's, in a state the statement ran in. */
    if (f->state != FOLD_OPEN || f->gn || s->fifo.count || s->fifo.skipping ||
        s->txn_status == 'E' || s->copy_in || s->copy_out) {
        forget(v);
        return;
    }
    v->block = s->txn_status == 'T';
    v->failed = false;
    verify_digest_init(&v->got);
    bool ok = (!v->block || fold_send_sql(f, "SAVEPOINT " VERIFY_NAME, ROLE_VERIFY_SP)) && send_check(f, v);
    if (ok && v->block) {
        fold_unnamed_displaced(s); /* a simple Query: it drops the unnamed statement */
        msg_put_query(&f->out,
                      "ROLLBACK TO SAVEPOINT " VERIFY_NAME "; RELEASE SAVEPOINT " VERIFY_NAME);
        ok = fold_send(f, PEND_QUERY, ROLE_VERIFY_SP) != NULL;
    }
    if (!ok)
        return; /* out of memory: fold_send ended the session */
    if (s->st)
        stats_add(&s->st->c.server_stmts, v->block ? 4 : 1);
    v->state = V_SENT;
}

bool
fold_verify_response(struct session *s, const struct pending *h, const struct wire_msg *m)
{
    struct fold_verify *v = s->fold->verify;
    bool check = h->role == ROLE_VERIFY && v && v->state == V_SENT;
    switch (m->type) {
    case BE_NOTIFICATION:
    case BE_PARAM_STATUS:
        return false; /* events of the session, not of the statement */
    case BE_ROW_DESCRIPTION:
        if (check)
            verify_digest_desc(&v->got, m->raw, m->wire_len);
        return true;
    case BE_DATA_ROW:
        if (check)
            verify_digest_row(&v->got, m->raw, m->wire_len);
        return true;
    case BE_COMMAND_COMPLETE:
        if (check)
            verify_digest_tag(&v->got, (const char *)m->body, strnlen((const char *)m->body, m->body_len));
        return true;
    case BE_ERROR: {
        const char *sev = wire_error_field(m->body, m->body_len, 'V');
        if (v && v->state == V_SENT)
            v->failed = true;
        if (sev && (strcmp(sev, "FATAL") == 0 || strcmp(sev, "PANIC") == 0))
            return false; /* the backend is going away: the client must hear why */
        const char *code = wire_error_field(m->body, m->body_len, 'C');
        slog_debug(s, "verification statement failed (%s): no outcome", code ? code : "?");
        return true;
    }
    default:
        return true;
    }
}

/* The check's Sync answered: judge, count, and report a mismatch. */
static void
judge(struct session *s, struct fold_verify *v)
{
    struct fold *f = s->fold;
    struct engine_ctx cx = fold_ctx(s);
    if (v->failed) {
        engine_verify_skipped(f->eng);
        return;
    }
    enum verify_outcome o = verify_judge(&v->served, &v->got, v->exact);
    if (o == VERIFY_MISMATCH)
        slog_error(s,
                   "verification: pattern %016llx answered wrong under its own snapshot "
                   "(served %016llx: %llu rows, \"%s\"; server %016llx: %llu rows, \"%s\"); "
                   "no longer answered locally: \"%s\"",
                   (unsigned long long)v->fingerprint,
                   (unsigned long long)verify_digest_value(&v->served),
                   (unsigned long long)v->served.nrows, v->served.tag,
                   (unsigned long long)verify_digest_value(&v->got),
                   (unsigned long long)v->got.nrows, v->got.tag, v->repeated);
    else if (o == VERIFY_STALE)
        slog_debug(s, "verification: pattern %016llx served an answer %llu ms old whose rows "
                      "have changed since",
                   (unsigned long long)v->fingerprint, (unsigned long long)v->age_ms);
    if (o == VERIFY_STALE && s->st) {
        stats_counter *g = &s->st->c.verify_stale_age_max;
        uint64_t cur = stats_get(g);
        while (v->age_ms > cur && !atomic_compare_exchange_weak(g, &cur, v->age_ms))
            ;
    }
    engine_verified(f->eng, &cx, v->fingerprint, o, v->age_ms);
}

void
fold_verify_done(struct session *s, const struct pending *h)
{
    struct fold_verify *v = s->fold->verify;
    if (h->role != ROLE_VERIFY || h->kind != PEND_SYNC || !v || v->state != V_SENT)
        return;
    judge(s, v);
    forget(v);
}

void
fold_verify_fault(const struct answer *a)
{
#ifdef PGFOLD_FAULT_HOOKS
    /* Test builds only (build/pgfold-hooks): PGFOLD_FAULT_CORRUPT_ANSWERS=1 flips one bit of
     * the last byte of every answer's first row before it is served, a stand-in for a bug in
     * how answers are cut from a batch. */
    static int on = -1;
    if (on < 0) {
        const char *e = getenv("PGFOLD_FAULT_CORRUPT_ANSWERS");
        on = e && e[0] == '1';
    }
    if (!on || a->rowslen < 7)
        return;
    uint8_t *r = (uint8_t *)a->rows;
    size_t n = 1 + ((size_t)r[1] << 24 | (size_t)r[2] << 16 | (size_t)r[3] << 8 | r[4]);
    int nf = r[5] << 8 | r[6];
    size_t off = 7, last = 0;
    for (int i = 0; i < nf && off + 4 <= n && n <= a->rowslen; i++) {
        int32_t len = (int32_t)((uint32_t)r[off] << 24 | (uint32_t)r[off + 1] << 16 |
                                (uint32_t)r[off + 2] << 8 | r[off + 3]);
        off += 4;
        if (len > 0 && off + (size_t)len <= n) {
            last = off + (size_t)len - 1;
            off += (size_t)len;
        }
    }
    if (last)
        r[last] ^= 1; /* the last byte of the row's last non-empty field */
#else
    (void)a;
#endif
}
