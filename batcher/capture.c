/*
 * capture: forwarded results as they stream back to the client.
 *
 * Two things are taken from them, without holding a byte back: the answer of a forwarded
 * lookup (its RowDescription, DataRows and tag, stored in the answer cache under the ticket's
 * key when its CommandComplete arrives, unless the cache was invalidated meanwhile), and the
 * key-typed columns of a read's result (recorded in keysrc as a key source). A result too
 * large to keep is dropped, and an older cached answer for its key with it: the client has
 * now seen a newer answer than any cached one.
 */
#include <string.h>
#include <strings.h>

#include "batcher/engine_int.h"

static void
capture_reset(struct engine *e)
{
    e->cap.dropped = false;
    buf_reset(&e->cap.desc);
    buf_reset(&e->cap.rows);
    e->cap.nrows = 0;
}

static void
capture_store(struct engine *e, const struct engine_ctx *cx, const struct engine_stream *st,
              const struct wire_msg *m)
{
    struct engine_ticket_head head;
    if (!st->ticket || st->ticket_len <= sizeof(head)) {
        capture_reset(e);
        return;
    }
    memcpy(&head, st->ticket, sizeof(head));
    const uint8_t *key = st->ticket + sizeof(head);
    size_t keylen = st->ticket_len - sizeof(head);
    if (e->cap.dropped || buf_error(&e->cap.rows)) {
        struct answer *old = answer_get(&e->answers, key, keylen);
        if (old)
            answer_del(&e->answers, old);
    } else if (head.epoch == e->epoch) {
        struct answer *a =
            answer_put(&e->answers, key, keylen, 0, buf_head(&e->cap.desc),
                       buf_used(&e->cap.desc), buf_head(&e->cap.rows), buf_used(&e->cap.rows),
                       e->cap.nrows, (const char *)m->body, cx->now_ms, engine_block_seq(e, cx), 0);
        if (a)
            a->deps = head.deps;
    }
    capture_reset(e);
}

static void
source_begin(struct engine *e, const struct engine_stream *st, const uint8_t *desc, size_t len)
{
    const struct shape *sh = st->shape;
    if (sh && catalog_reads_system(sh))
        return; /* a driver's catalog introspection: its oids are no application's keys */
    const char *table = sh && sh->ntables == 1 ? sh->tables[0].name : NULL;
    keysrc_begin(&e->src, desc, len, sh ? sh->fingerprint : 0, table, sh ? sh->normalized : NULL,
                 st->source_id);
    e->src_active = true;
}

static void
on_row(struct engine *e, const struct engine_ctx *cx, const struct engine_stream *st,
       const struct wire_msg *m)
{
    if (st->kind == ENGINE_STREAM_EXECUTE && st->source && !e->src_active) {
        if (keysrc_resume(&e->src, st->portal))
            e->src_active = true; /* the next chunk of a portal read in pieces */
        else if (st->desc && st->desclen)
            source_begin(e, st, st->desc, st->desclen);
        else if (buf_used(&e->last_desc))
            source_begin(e, st, buf_head(&e->last_desc), buf_used(&e->last_desc));
    }
    if (e->src_active)
        keysrc_row(&e->src, m->body, m->body_len);
    if (!st->capture)
        return;
    if (buf_used(&e->cap.rows) + m->wire_len <= cx->cfg->max_batch_bytes) {
        buf_put(&e->cap.rows, m->raw, m->wire_len);
        e->cap.nrows++;
    } else {
        buf_reset(&e->cap.rows);
        e->cap.dropped = true; /* too large to keep */
    }
}

bool
engine_result_is_source(const struct shape *sh)
{
    if (!sh)
        return false;
    if (sh->kind == SHAPE_READ || sh->kind == SHAPE_LOOKUP)
        return true;
    /* FETCH from a cursor: a chunk of its SELECT (psycopg's server-side cursors, a fetch
     * loop in SQL). */
    const char *t = sh->normalized ? sh->normalized : sh->text;
    while (t && (*t == ' ' || *t == '\n' || *t == '\t' || *t == '\r'))
        t++;
    return sh->kind == SHAPE_UTILITY && !(sh->flags & SHAPE_F_MULTI) && t &&
           strncasecmp(t, "fetch", 5) == 0 && (t[5] == ' ' || t[5] == '\n' || t[5] == '\t');
}

void
engine_stream(struct engine *e, const struct engine_ctx *cx, const struct engine_stream *st,
              const struct wire_msg *m)
{
    switch (m->type) {
    case BE_ROW_DESCRIPTION:
        if (st->kind == ENGINE_STREAM_DESCRIBE_P) {
            buf_reset(&e->last_desc);
            buf_put(&e->last_desc, m->body, m->body_len);
        }
        if (st->capture) {
            capture_reset(e);
            buf_put(&e->cap.desc, m->raw, m->wire_len);
        }
        if (st->kind == ENGINE_STREAM_QUERY && st->source)
            source_begin(e, st, m->body, m->body_len);
        return;
    case BE_DATA_ROW:
        on_row(e, cx, st, m);
        return;
    case BE_COMMAND_COMPLETE:
        if (e->src_active)
            keysrc_end(&e->src);
        e->src_active = false;
        if (st->capture && (st->kind == ENGINE_STREAM_QUERY || st->kind == ENGINE_STREAM_EXECUTE))
            capture_store(e, cx, st, m);
        engine_account(e);
        return;
    case BE_PORTAL_SUSPENDED:
        /* A chunk of a portal read with a row limit (JDBC's fetch size, a streaming cursor):
         * the loop over it runs before the next chunk is asked for. A source of its own. */
        if (e->src_active)
            keysrc_suspend(&e->src, st->portal);
        e->src_active = false;
        capture_reset(e);
        return;
    case BE_ERROR:
    case BE_EMPTY_QUERY:
        keysrc_abort(&e->src);
        e->src_active = false;
        capture_reset(e);
        return;
    default:
        return;
    }
}
