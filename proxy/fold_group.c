/*
 * fold_group: extended-protocol lookups on the rewrite path.
 *
 * A Sync group of the form [Parse unnamed] Bind(unnamed portal, a lookup's statement)
 * [Describe portal] Execute(no row limit) Sync is held until its Sync and then decided as one
 * lookup: answered locally, batched, or forwarded as it came. Nothing else is ever held: a
 * message that cannot continue such a group goes upstream at once (after the held part), and so
 * does everything up to the next Sync, one message at a time (fold_fwd.c). pgfold never holds
 * what the client may be waiting on: when the client's bytes run out with a group held and no
 * Sync in hand (a libpq pipeline that sends no Sync, a driver that waits before its Sync), the
 * held part is forwarded too (fold_client_drained). The server would answer none of a held
 * group's messages before its Sync anyway, so holding one costs no round trip.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "parser/shapecache.h"
#include "pgwire/wire.h"
#include "proxy/fold_int.h"

#define LOOKUP_GROUP_MAX 5 /* Parse Bind Describe Execute Sync */

static bool
group_put(struct fold *f, const struct wire_msg *m)
{
    if (f->gn >= FOLD_GROUP_MAX || buf_used(&f->graw) + m->wire_len > (1u << 20))
        return false;
    f->g[f->gn].type = m->type;
    f->g[f->gn].off = buf_used(&f->graw);
    f->g[f->gn].len = m->wire_len;
    buf_put(&f->graw, m->raw, m->wire_len);
    if (buf_error(&f->graw))
        return false;
    f->gn++;
    return true;
}

static void
group_msg(const struct fold *f, int i, struct wire_msg *m)
{
    const uint8_t *p = buf_head(&f->graw) + f->g[i].off;
    m->raw = p;
    m->type = p[0];
    m->body = p + 5;
    m->body_len = f->g[i].len - 5;
    m->wire_len = f->g[i].len;
}

bool
fold_group_parses_unnamed(const struct fold *f)
{
    for (int i = 0; i < f->gn; i++) {
        struct wire_msg m;
        group_msg(f, i, &m);
        if (m.type == FE_PARSE && m.body_len > 0 && m.body[0] == '\0')
            return true;
    }
    return false;
}

void
fold_group_drop(struct fold *f)
{
    f->gn = 0;
    buf_reset(&f->graw);
}

/* Forwards every held message as it came, with the same flags a simple Query would get. */
void
fold_group_flush(struct session *s, const struct lookup *lk)
{
    struct fold *f = s->fold;
    for (int i = 0; i < f->gn && s->state != SESSION_CLOSING; i++) {
        struct wire_msg m;
        group_msg(f, i, &m);
        (void)fold_forward(s, &m, lk);
    }
    fold_group_drop(f);
}

/* ---- answering a group locally --------------------------------------------------------- */

/* Writes the whole group's answer from a cached entry. */
static void
answer_group(struct session *s, const struct answer *a, const struct msg_parse *parsed)
{
    struct fold *f = s->fold;
    for (int i = 0; i < f->gn; i++) {
        switch (f->g[i].type) {
        case FE_PARSE:
            msg_put_simple(&s->to_client, BE_PARSE_COMPLETE);
            break;
        case FE_BIND:
            msg_put_simple(&s->to_client, BE_BIND_COMPLETE);
            break;
        case FE_DESCRIBE:
            buf_put(&s->to_client, a->desc, a->desclen);
            break;
        case FE_EXECUTE:
            buf_put(&s->to_client, a->rows, a->rowslen);
            msg_put_complete(&s->to_client, a->tag);
            break;
        case FE_SYNC:
            wire_put_ready(&s->to_client, s->txn_status);
            break;
        default:
            break;
        }
    }
    if (parsed) {
        /* The client now believes the unnamed statement is this text; the server does not. */
        fold_owe(f, parsed->sql, parsed->sqllen, parsed->oids, parsed->n);
        prepared_del(&s->stmts, "");
    }
    fold_group_drop(f);
}

/*
 * Recognizes a lone lookup group and fills lk. Returns the index of its Parse or -1 when
 * there is none, and -2 when the group is not a lookup.
 */
static int
group_lookup(struct session *s, struct lookup *lk, struct msg_bind *bi, struct msg_parse *pi,
             bool *has_describe)
{
    struct fold *f = s->fold;
    int i = 0, parse_at = -1;
    struct wire_msg m;
    *has_describe = false;
    group_msg(f, 0, &m);
    if (m.type == FE_PARSE) {
        if (msg_read_parse(m.body, m.body_len, pi) != 0 || pi->name[0] != '\0')
            return -2; /* a named statement is created once: let the server do it */
        parse_at = 0;
        i = 1;
    }
    if (i >= f->gn || f->g[i].type != FE_BIND)
        return -2;
    group_msg(f, i, &m);
    if (msg_read_bind(m.body, m.body_len, bi) != 0 || bi->portal[0] != '\0')
        return -2;
    if (parse_at < 0 && !fold_stmt_text(s, bi->stmt, pi))
        return -2;
    if (++i < f->gn && f->g[i].type == FE_DESCRIBE) {
        group_msg(f, i, &m);
        if (m.body_len != 2 || m.body[0] != 'P')
            return -2;
        *has_describe = true;
        i++;
    }
    if (i + 2 != f->gn || f->g[i].type != FE_EXECUTE || f->g[i + 1].type != FE_SYNC)
        return -2;
    group_msg(f, i, &m);
    if (m.body_len != 5 || m.body[0] != '\0' || memcmp(m.body + 1, "\0\0\0\0", 4) != 0)
        return -2; /* a row limit (PortalSuspended) is forwarded */
    lk->extended = true;
    lk->sql = pi->sql;
    lk->sqllen = pi->sqllen;
    lk->bind = bi;
    lk->oids = pi->oids;
    lk->noids = pi->n;
    lk->formats[0] = (uint8_t)(bi->nres >> 8);
    lk->formats[1] = (uint8_t)bi->nres;
    if (bi->nres)
        memcpy(lk->formats + 2, bi->res, (size_t)bi->nres * 2);
    lk->nformats = 2 + (size_t)bi->nres * 2;
    return parse_at;
}

/* Acts on the verdict for a lookup group. */
static void
group_verdict(struct session *s, struct lookup *lk, unsigned flags, bool has_describe,
              const struct msg_parse *parsed)
{
    struct fold *f = s->fold;
    const struct answer *a = NULL;
    struct engine_plan plan;
    struct engine_ctx cx = fold_ctx(s);
    enum engine_verdict v = engine_decide(f->eng, &cx, lk, flags, &a, &plan);
    if (v == ENGINE_LOCAL && has_describe && a->desclen == 0)
        v = ENGINE_FORWARD; /* the cached answer lacks the RowDescription this group asks for */
    if (v == ENGINE_LOCAL) {
        fold_verify_fault(a);
        fold_verify_offer(s, lk, a, has_describe);
        answer_group(s, a, parsed);
        fold_observe_local(f);
        return;
    }
    bool parked = fold_park(s, v, &plan);
    if (s->state == SESSION_CLOSING)
        return;
    if (parked)
        f->parked_kind = PARKED_GROUP; /* the group stays open until the wait ends */
    else
        fold_group_flush(s, lk);
}

session_action
fold_group_decide(struct session *s, unsigned flags)
{
    struct fold *f = s->fold;
    struct lookup lk = {0};
    struct msg_bind *bi = malloc(sizeof(*bi));
    struct msg_parse *pi = malloc(sizeof(*pi));
    bool has_describe = false;
    int parse_at = bi && pi ? group_lookup(s, &lk, bi, pi, &has_describe) : -2;
    struct shape *sh = NULL;
    if (parse_at > -2 &&
        shapecache_get(f->shapes, lk.sql, lk.sqllen, lk.oids, lk.noids, &sh, &f->lits) != 0)
        sh = NULL;
    lk.lits = &f->lits;
    if (sh && sh->kind == SHAPE_LOOKUP && !(sh->flags & (SHAPE_F_MULTI | SHAPE_F_OPTOUT))) {
        lk.shape = sh;
        lk.stmt_id = engine_stmt_id(lk.sql, lk.sqllen, &f->lits);
        group_verdict(s, &lk, flags, has_describe, parse_at == 0 ? pi : NULL);
    } else {
        fold_group_flush(s, NULL);
    }
    shape_unref(sh);
    free(bi);
    free(pi);
    return s->state == SESSION_CLOSING ? SESSION_CLOSE : SESSION_CONTINUE;
}

/* Is this a lookup's statement, as the Bind in m (after the held messages) names it? */
static bool
binds_lookup(struct session *s, const struct wire_msg *m)
{
    struct fold *f = s->fold;
    struct wire_cursor c;
    wire_cursor_init(&c, m->body, m->body_len);
    const char *portal = wire_get_str(&c, NULL);
    const char *stmt = wire_get_str(&c, NULL);
    if (c.err || portal[0] != '\0')
        return false;
    struct msg_parse pi;
    bool known;
    if (f->gn == 1) {
        struct wire_msg pm;
        group_msg(f, 0, &pm);
        known = msg_read_parse(pm.body, pm.body_len, &pi) == 0 && strcmp(pi.name, stmt) == 0;
    } else {
        known = fold_stmt_text(s, stmt, &pi);
    }
    struct shape *sh = NULL;
    if (!known || shapecache_get(f->shapes, pi.sql, pi.sqllen, pi.oids, pi.n, &sh, &f->lits) != 0)
        return false;
    bool lookup = sh && sh->kind == SHAPE_LOOKUP && !(sh->flags & (SHAPE_F_MULTI | SHAPE_F_OPTOUT));
    shape_unref(sh);
    return lookup;
}

/* Can m continue the held messages towards one foldable lookup group? */
static bool
can_hold(struct session *s, const struct wire_msg *m)
{
    struct fold *f = s->fold;
    if (s->copy_in || f->sg_open || f->gn >= LOOKUP_GROUP_MAX)
        return false;
    uint8_t last = f->gn ? f->g[f->gn - 1].type : 0;
    switch (m->type) {
    case FE_PARSE:
        return f->gn == 0 && m->body_len > 0 && m->body[0] == '\0';
    case FE_BIND:
        return (last == 0 || last == FE_PARSE) && binds_lookup(s, m);
    case FE_DESCRIBE:
        return last == FE_BIND && m->body_len == 2 && m->body[0] == 'P' && m->body[1] == '\0';
    case FE_EXECUTE:
        /* the unnamed portal, no row limit (a limit means PortalSuspended: forwarded) */
        return (last == FE_BIND || last == FE_DESCRIBE) && m->body_len == 5 &&
               memcmp(m->body, "\0\0\0\0\0", 5) == 0;
    case FE_SYNC:
        return last == FE_EXECUTE;
    default:
        return false;
    }
}

session_action
fold_group_add(struct session *s, const struct wire_msg *m)
{
    struct fold *f = s->fold;
    if (!can_hold(s, m) || !group_put(f, m)) {
        if (f->gn)
            fold_group_flush(s, NULL);
        if (s->state != SESSION_CLOSING)
            (void)fold_forward(s, m, NULL);
        return s->state == SESSION_CLOSING ? SESSION_CLOSE : SESSION_CONTINUE;
    }
    if (m->type == FE_SYNC)
        return fold_group_decide(s, 0);
    return SESSION_CONTINUE;
}

void
fold_client_drained(struct session *s)
{
    struct fold *f = s->fold;
    if (f && f->gn && f->parked_kind != PARKED_GROUP && f->state == FOLD_OPEN)
        fold_group_flush(s, NULL); /* no Sync in hand: the client may be waiting on these */
    if (f && s->state != SESSION_CLOSING)
        fold_verify_drained(s);
}
