/*
 * fold_group: extended-protocol Sync groups on the rewrite path.
 *
 * Parse, Bind, Describe, Execute and Close are copied into the open group instead of being
 * forwarded; the server would answer none of them before Sync anyway, so holding them costs
 * no round trip. At Sync the group is decided as a whole: a lone lookup
 * ([Parse] Bind [Describe portal] Execute Sync on the unnamed portal) gets the engine's
 * verdict; everything else is forwarded exactly as it came, message by message, with the same
 * flags (invalidation, key sources) a simple Query would get. Flush, or any message fold does
 * not group, forwards the group first so order is kept.
 *
 * The unnamed statement: when pgfold answered a group that parsed it, or replaced it with its
 * own batch Parse, the server no longer holds what the client believes. The client's text is
 * kept as "owed" and re-parsed (an internal Parse, its ParseComplete swallowed) before any
 * forwarded message that uses the unnamed statement without parsing it first.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "parser/shapecache.h"
#include "pgwire/wire.h"
#include "proxy/fold_int.h"

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

struct pending *
fold_send(struct fold *f, pend_kind kind, enum fold_role role)
{
    struct pending *p = session_inject(f->s, kind, (int)role, &f->out);
    buf_reset(&f->out);
    if (!p && f->s->state != SESSION_CLOSING)
        session_fail(f->s, "53200", "out of memory");
    return p;
}

/* ---- the owed unnamed statement ----------------------------------------------------------- */

void
fold_owed_clear(struct fold *f)
{
    free(f->owed_sql);
    free(f->owed_oids);
    f->owed_sql = NULL;
    f->owed_oids = NULL;
    f->owed_n = 0;
}

/* Makes sql/oids the owed statement (copies). */
static void
owe(struct fold *f, const char *sql, size_t sqllen, const uint32_t *oids, int n)
{
    fold_owed_clear(f);
    f->owed_sql = strndup(sql, sqllen);
    f->owed_n = n;
    if (n && (f->owed_oids = malloc(sizeof(uint32_t) * (size_t)n)))
        memcpy(f->owed_oids, oids, sizeof(uint32_t) * (size_t)n);
    else if (n)
        f->owed_n = 0;
}

/*
 * pgfold's own traffic replaced or destroyed the client's unnamed statement on the server: its
 * own unnamed Parse, or a simple Query of its own (which drops the unnamed statement). Keep the
 * client's text as owed, to be parsed again before anything of the client's uses it.
 */
void
fold_unnamed_displaced(struct session *s)
{
    struct fold *f = s->fold;
    struct prepared *p = prepared_get(&s->stmts, "");
    if (p && !f->owed_sql)
        owe(f, p->sql, strlen(p->sql), p->param_oids, p->nparams);
    prepared_del(&s->stmts, "");
}

void
fold_internal_done(struct session *s, const struct pending *h)
{
    if (h->kind == PEND_PARSE && h->role == ROLE_RESTORE) {
        if (prepared_put(&s->stmts, "", h->sql, h->oids, h->nparams) != 0)
            prepared_del(&s->stmts, "");
        return;
    }
    if (h->kind == PEND_PARSE && h->role != ROLE_SINGLE) {
        fold_unnamed_displaced(s); /* pgfold's own unnamed Parse */
        return;
    }
    if (h->kind == PEND_BIND)
        prepared_del(&s->portals, "");
}

/* Re-creates the client's unnamed statement on the server if pgfold displaced it. */
static void
restore_owed(struct session *s)
{
    struct fold *f = s->fold;
    if (!f->owed_sql)
        return;
    msg_put_parse(&f->out, "", f->owed_sql, f->owed_n, f->owed_oids);
    struct pending *p = fold_send(f, PEND_PARSE, ROLE_RESTORE);
    if (p) {
        p->name = strdup("");
        p->sql = f->owed_sql;
        p->oids = f->owed_oids;
        p->nparams = f->owed_n;
        f->owed_sql = NULL; /* the pending entry owns them now */
        f->owed_oids = NULL;
    }
    fold_owed_clear(f);
}

/* The statement a Bind in the group refers to: the group's own Parse, else the table. */
static bool
stmt_text(struct session *s, int upto, const char *name, struct msg_parse *pi)
{
    struct fold *f = s->fold;
    for (int i = upto - 1; i >= 0; i--) {
        struct wire_msg m;
        group_msg(f, i, &m);
        if (m.type == FE_PARSE && msg_read_parse(m.body, m.body_len, pi) == 0 &&
            strcmp(pi->name, name) == 0)
            return true;
    }
    struct prepared *p = prepared_get(&s->stmts, name);
    if (!p && name[0] == '\0' && f->owed_sql && f->owed_n <= MSG_MAX_PARAMS) {
        /* pgfold's own Parse displaced it: the client's statement is the owed one (a Bind
         * that is forwarded re-creates it first, fold_group_flush). Without this the lookup
         * that triggered a batch, and the next one, were forwarded instead of answered. */
        pi->name = "";
        pi->sql = f->owed_sql;
        pi->sqllen = strlen(f->owed_sql);
        pi->n = f->owed_n;
        if (f->owed_n)
            memcpy(pi->oids, f->owed_oids, sizeof(uint32_t) * (size_t)f->owed_n);
        return true;
    }
    if (!p || p->nparams > MSG_MAX_PARAMS)
        return false;
    pi->name = p->name;
    pi->sql = p->sql;
    pi->sqllen = strlen(p->sql);
    pi->n = p->nparams;
    if (p->nparams)
        memcpy(pi->oids, p->param_oids, sizeof(uint32_t) * (size_t)p->nparams);
    return true;
}

/* ---- forwarding a group as it came -------------------------------------------------------- */

/* Does message m use the unnamed statement without having parsed it in this group? */
static bool
uses_unnamed(const struct wire_msg *m, bool parsed)
{
    if (parsed)
        return false;
    if (m->type == FE_BIND) {
        struct wire_cursor c;
        wire_cursor_init(&c, m->body, m->body_len);
        (void)wire_get_str(&c, NULL);
        const char *stmt = wire_get_str(&c, NULL);
        return !c.err && stmt[0] == '\0';
    }
    if (m->type == FE_DESCRIBE || m->type == FE_CLOSE)
        return m->body_len >= 2 && m->body[0] == 'S' && m->body[1] == '\0';
    return false;
}

/* Flags an Execute with what its statement does: invalidation and key-source recording. */
static void
execute_effects(struct session *s, int idx, const char *stmt, struct pending *p)
{
    struct fold *f = s->fold;
    struct msg_parse pi;
    struct shape *sh = NULL;
    if (!stmt_text(s, idx, stmt, &pi) ||
        shapecache_get(f->shapes, pi.sql, pi.sqllen, pi.oids, pi.n, &sh, &f->lits) != 0)
        sh = NULL;
    fold_effects(f, sh);
    if (p && sh && (sh->kind == SHAPE_READ || sh->kind == SHAPE_LOOKUP)) {
        p->flags |= PEND_F_SOURCE;
        p->shape = shape_ref(sh);
    }
    shape_unref(sh);
}

/* The statement name of a Bind body ("" when malformed: the server will say so). */
static void
bind_stmt(const struct wire_msg *m, char *out, size_t cap)
{
    struct wire_cursor c;
    wire_cursor_init(&c, m->body, m->body_len);
    (void)wire_get_str(&c, NULL);
    const char *stmt = wire_get_str(&c, NULL);
    snprintf(out, cap, "%s", c.err ? "" : stmt);
}

void
fold_group_flush(struct session *s, const struct lookup *lk)
{
    struct fold *f = s->fold;
    bool parsed_unnamed = false;
    char bound_stmt[128] = "";
    for (int i = 0; i < f->gn && s->state != SESSION_CLOSING; i++) {
        struct wire_msg m;
        group_msg(f, i, &m);
        if (uses_unnamed(&m, parsed_unnamed))
            restore_owed(s);
        if (m.type == FE_PARSE && m.body_len > 0 && m.body[0] == '\0') {
            parsed_unnamed = true;
            fold_owed_clear(f); /* the client replaces it itself */
        }
        if (m.type == FE_BIND)
            bind_stmt(&m, bound_stmt, sizeof(bound_stmt));
        struct pending *p = session_forward(s, &m);
        if (m.type == FE_EXECUTE) {
            execute_effects(s, i, bound_stmt, p);
            if (lk)
                fold_mark_capture(f, p, lk);
        }
        if (m.type == FE_DESCRIBE && lk && p && p->kind == PEND_DESCRIBE_P)
            p->flags |= PEND_F_CAPTURE;
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
        owe(f, parsed->sql, parsed->sqllen, parsed->oids, parsed->n);
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
    if (parse_at < 0 && !stmt_text(s, i, bi->stmt, pi))
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

session_action
fold_group_add(struct session *s, const struct wire_msg *m)
{
    struct fold *f = s->fold;
    if (s->copy_in || !group_put(f, m)) {
        fold_group_flush(s, NULL);
        session_forward(s, m);
        return s->state == SESSION_CLOSING ? SESSION_CLOSE : SESSION_CONTINUE;
    }
    if (m->type == FE_SYNC)
        return fold_group_decide(s, 0);
    return SESSION_CONTINUE;
}
