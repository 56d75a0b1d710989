/*
 * fold_batch: pgfold's own traffic on the session's connection, and the routing of server
 * responses to the engine.
 *
 * A batch is one pipelined round trip, entirely of pgfold's own (internal) pending entries:
 *   [SAVEPOINT pgfold_batch]                      inside a transaction block only
 *   Parse/Describe/Close of the single statement  what PostgreSQL says its RowDescription is
 *   Parse/Bind/Describe/Execute of the batch      keys bound as one text array parameter
 *   [RELEASE SAVEPOINT pgfold_batch]
 *   Sync
 * The engine wrote the plan (split.c) and checks the responses; this file puts the messages on
 * the wire, hands each response to the engine, and at the batch's ReadyForQuery either rolls
 * back to the savepoint (a failed batch inside a block: one more round trip, so the client's
 * transaction is as it was) or finishes and decides the parked statement again. The foreign-key
 * read is the same dance with one simple Query.
 *
 * Responses to forwarded client messages go to the engine as a stream (engine_stream) so their
 * answers are captured and their key columns recorded; none is held back from the client.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/fold_int.h"
#include "proxy/log.h"
#include "proxy/stats.h"

#define SINGLE_NAME "pgfold_single"

/* ---- sending --------------------------------------------------------------------------- */

static bool
send_plan(struct fold *f, const struct engine_plan *p)
{
    msg_put_parse(&f->out, SINGLE_NAME, p->single_sql, p->single_ntypes, p->single_oids);
    if (!fold_send(f, PEND_PARSE, ROLE_SINGLE))
        return false;
    msg_put_describe(&f->out, 'S', SINGLE_NAME);
    if (!fold_send(f, PEND_DESCRIBE_S, ROLE_SINGLE))
        return false;
    msg_put_close(&f->out, 'S', SINGLE_NAME);
    if (!fold_send(f, PEND_CLOSE, ROLE_SINGLE))
        return false;
    msg_put_parse(&f->out, "", p->batch_sql, p->nparams, p->oids);
    if (!fold_send(f, PEND_PARSE, ROLE_BATCH))
        return false;
    msg_put_bind(&f->out, "", p->nparams, p->fmts, p->vals, p->lens, p->nres, p->res);
    if (!fold_send(f, PEND_BIND, ROLE_BATCH))
        return false;
    msg_put_describe(&f->out, 'P', "");
    if (!fold_send(f, PEND_DESCRIBE_P, ROLE_BATCH))
        return false;
    msg_put_execute(&f->out, "");
    return fold_send(f, PEND_EXECUTE, ROLE_BATCH) != NULL;
}

bool
fold_send_batch(struct session *s, const struct engine_plan *plan)
{
    struct fold *f = s->fold;
    f->savepoint = plan->savepoint;
    buf_reset(&f->abort_err);
    bool ok =
        (!plan->savepoint || fold_send_sql(f, "SAVEPOINT pgfold_batch", ROLE_SAVEPOINT)) &&
        send_plan(f, plan) &&
        (!plan->savepoint || fold_send_sql(f, "RELEASE SAVEPOINT pgfold_batch", ROLE_RELEASE));
    if (ok) {
        msg_put_sync(&f->out);
        ok = fold_send(f, PEND_SYNC, ROLE_SYNC) != NULL;
    }
    if (!ok)
        return false; /* out of memory: fold_send ended the session */
    fold_set_state(f, FOLD_BATCH);
    f->batch_t0_us = s->now_us;
    f->batch_keys = plan->nkeys;
    f->batch_rows = 0;
    snprintf(f->batch_sql, sizeof(f->batch_sql), "%s", plan->single_sql);
    return true;
}

bool
fold_send_fkeys(struct session *s)
{
    struct fold *f = s->fold;
    /* A simple Query drops the unnamed statement: the client's becomes owed (a client that
     * Binds it again without a Parse, as PQexecPrepared("") does, got "unnamed prepared
     * statement does not exist"). */
    fold_unnamed_displaced(s);
    /* Two Queries, pipelined: one round trip, one statement each (as the stats count them). */
    msg_put_query(&f->out, FKEYS_SQL);
    if (!fold_send(f, PEND_QUERY, ROLE_FKEYS))
        return false;
    msg_put_query(&f->out, CATALOG_REL_SQL);
    if (!fold_send(f, PEND_QUERY, ROLE_FKEYS))
        return false;
    if (s->st)
        stats_add(&s->st->c.server_stmts, 2);
    catalog_reset(s->catalog); /* what it held is stale: read it again */
    s->catalog->ddl = s->fresh ? fresh_ddl(s->fresh) : 0;
    s->catalog->requested = true;
    fold_set_state(f, FOLD_FKEYS);
    return true;
}

void
fold_mark_capture(struct fold *f, struct pending *p, const struct lookup *lk)
{
    struct engine_ticket t;
    if (!p)
        return;
    struct engine_ctx cx = fold_ctx(f->s);
    if (engine_capture_key(f->eng, &cx, lk, &t) != 0)
        return;
    p->key = t.data;
    p->key_len = t.len;
    p->flags |= PEND_F_CAPTURE;
}

/* ---- pgfold's own responses ------------------------------------------------------------ */

/* A response to one of pgfold's own messages. Returns true when the client must not see it. */
static bool
internal_response(struct session *s, const struct pending *h, const struct wire_msg *m)
{
    struct fold *f = s->fold;
    enum fold_role role = (enum fold_role)h->role;
    if (role == ROLE_VERIFY || role == ROLE_VERIFY_SP)
        return fold_verify_response(s, h, m);
    struct engine_ctx cx = fold_ctx(s);
    switch (m->type) {
    case BE_NOTICE:
    case BE_NOTIFICATION:
    case BE_PARAM_STATUS:
        return false;
    case BE_DATA_ROW:
        if (role == ROLE_FKEYS && s->catalog &&
            catalog_add_datarow(s->catalog, m->body, m->body_len) != 0)
            slog_debug(s, "catalog row not understood: what it describes stays unknown");
        else if (role == ROLE_BATCH) {
            f->batch_rows++;
            engine_batch_msg(f->eng, &cx, ENGINE_PART_BATCH, m);
        }
        return true;
    case BE_ROW_DESCRIPTION:
    case BE_PARAM_DESCRIPTION:
        if (role == ROLE_SINGLE || role == ROLE_BATCH)
            engine_batch_msg(f->eng, &cx,
                             role == ROLE_SINGLE ? ENGINE_PART_SINGLE : ENGINE_PART_BATCH, m);
        return true;
    case BE_ERROR: {
        if (role == ROLE_RESTORE)
            return false; /* the client's own statement failed: it must hear of it */
        engine_batch_failed(f->eng);
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
        if ((role == ROLE_SAVEPOINT || role == ROLE_ROLLBACK) && buf_used(&f->abort_err) == 0) {
            const char *code = wire_error_field(m->body, m->body_len, 'C');
            if (!code || strcmp(code, "3B001") != 0)
                buf_put(&f->abort_err, m->raw, m->wire_len);
        }
        return true;
    }
    default:
        return true;
    }
}

/* ---- the end of a wait ------------------------------------------------------------------ */

/*
 * Answers the statement parked for a batch with an ErrorResponse and ReadyForQuery, without
 * running it: used when pgfold's own statements left the client's transaction block aborted.
 * A parked group fails at its first message; a Parse of the unnamed statement in it drops the
 * old unnamed statement even when it fails (exec_parse_message), so nothing is owed any more.
 */
void
fold_fail_parked(struct session *s, const uint8_t *err, size_t len)
{
    struct fold *f = s->fold;
    buf_put(&s->to_client, err, len);
    wire_put_ready(&s->to_client, s->txn_status);
    if (f->parked_kind == PARKED_GROUP && fold_group_parses_unnamed(f))
        fold_owed_clear(f);
    buf_reset(&f->parked);
    f->parked_kind = PARKED_NONE;
    fold_group_drop(f);
}

/* Decides the parked statement again, in state RESUME or RETRY; back to OPEN unless it parks. */
void
fold_resume(struct session *s)
{
    struct fold *f = s->fold;
    unsigned flags = ENGINE_RESUMED | (f->state == FOLD_RETRY ? ENGINE_RETRY : 0);
    enum fold_parked kind = f->parked_kind;
    f->parked_kind = PARKED_NONE;
    if (kind == PARKED_GROUP) {
        fold_group_decide(s, flags);
    } else if (kind == PARKED_QUERY && buf_used(&f->parked) > 0) {
        struct wire_msg m;
        buf_reset(&f->resume);
        buf_swap(&f->resume, &f->parked); /* fold_query may park it again */
        if (wire_frame(buf_head(&f->resume), buf_used(&f->resume), SIZE_MAX, &m) == 0)
            fold_query(s, &m, flags);
    }
    if (f->state == FOLD_RESUME || f->state == FOLD_RETRY)
        fold_set_state(f, FOLD_OPEN);
}

/* A batch that took log_batch_over_ms or longer: one info line with its figures. */
static void
log_slow(struct session *s, const struct fold *f)
{
    uint64_t us = s->now_us - f->batch_t0_us;
    if (us < s->cfg->log_batch_over_ms * 1000)
        return;
    const struct log_field fields[] = {
        LOG_NUM("duration_ms", us / 1000),
        LOG_NUM("keys", f->batch_keys),
        LOG_NUM("rows", f->batch_rows),
        LOG_STR("query", f->batch_sql),
    };
    log_event_at(LOG_INFO, s->id, "slow batch", fields, sizeof(fields) / sizeof(fields[0]));
}

static void
finish(struct session *s)
{
    struct fold *f = s->fold;
    struct engine_ctx cx = fold_ctx(s);
    log_slow(s, f);
    (void)engine_batch_finish(f->eng, &cx);
    /* Still in a failed block after the rollback: pgfold's own statements aborted it, and the
     * client's statement, forwarded now, would only get 25P02. It answers with the error that
     * aborted the block instead, as if that error had hit it (a cancel meant for it). */
    if (f->savepoint && s->txn_status == 'E' && buf_used(&f->abort_err) > 0) {
        struct buf err = f->abort_err;
        buf_init(&f->abort_err);
        fold_set_state(f, FOLD_OPEN);
        fold_fail_parked(s, buf_head(&err), buf_used(&err));
        buf_free(&err);
        return;
    }
    buf_reset(&f->abort_err);
    fold_set_state(f, FOLD_RETRY);
    fold_resume(s);
}

void
fold_after_ready(struct session *s)
{
    struct fold *f = s->fold;
    if (s->fifo.count > 0)
        return;
    switch (f->state) {
    case FOLD_FKEYS:
        if (s->catalog) {
            catalog_finish(s->catalog);
            s->catalog->loaded = true; /* also after an error: it knows nothing then */
            s->catalog->requested = false;
        }
        fold_set_state(f, FOLD_RESUME);
        fold_resume(s);
        return;
    case FOLD_BATCH:
        if (engine_batch_has_failed(f->eng) && f->savepoint) {
            fold_unnamed_displaced(s); /* a simple Query: it drops the unnamed statement */
            msg_put_query(&f->out,
                          "ROLLBACK TO SAVEPOINT pgfold_batch; RELEASE SAVEPOINT pgfold_batch");
            if (fold_send(f, PEND_QUERY, ROLE_ROLLBACK))
                fold_set_state(f, FOLD_ROLLBACK);
            return;
        }
        finish(s);
        return;
    case FOLD_ROLLBACK:
        finish(s);
        return;
    default:
        return;
    }
}

/* ---- routing server responses ----------------------------------------------------------- */

static enum engine_stream_kind
stream_kind(pend_kind k)
{
    switch (k) {
    case PEND_QUERY:
        return ENGINE_STREAM_QUERY;
    case PEND_DESCRIBE_P:
        return ENGINE_STREAM_DESCRIBE_P;
    case PEND_EXECUTE:
        return ENGINE_STREAM_EXECUTE;
    default:
        return ENGINE_STREAM_OTHER;
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
        struct engine_stream st = {
            .kind = stream_kind(h->kind),
            .source = (h->flags & PEND_F_SOURCE) != 0,
            .capture = (h->flags & PEND_F_CAPTURE) != 0,
            .shape = h->shape,
            .source_id = h->source_id,
            .portal = h->portal_id,
            .desc = h->desc,
            .desclen = h->desclen,
            .ticket = h->key,
            .ticket_len = h->key_len,
        };
        struct engine_ctx cx = fold_ctx(s);
        engine_stream(s->fold->eng, &cx, &st, m);
    }
    return false;
}
