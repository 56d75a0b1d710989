/*
 * fold_fwd: forwarding extended-protocol messages on the rewrite path, one at a time, with
 * what each does to the engine's caches; and the client's unnamed statement when pgfold's own
 * traffic displaced it on the server.
 *
 * A message that cannot be part of a foldable lookup goes upstream at once (fold_group.c
 * decides which). Forwarded messages of the current Sync group are remembered only as far as
 * later ones need them: the Parses (so an Execute knows its statement's text before the server
 * confirmed it), the statement of each portal bound, and whether the group parsed the unnamed
 * statement. All of it is forgotten at Sync. An Execute's statement then tells the engine what
 * running it does (invalidation) and whether its result is a key source.
 *
 * The unnamed statement: when pgfold answered a group that parsed it, or replaced it with its
 * own batch Parse, the server no longer holds what the client believes. The client's text is
 * kept as "owed" and re-parsed (an internal Parse, its ParseComplete swallowed) before any
 * forwarded message that uses the unnamed statement without parsing it first.
 */
#include <stdlib.h>
#include <string.h>

#include "parser/shapecache.h"
#include "pgwire/rowmsg.h"
#include "pgwire/wire.h"
#include "proxy/fold_int.h"

struct pending *
fold_send(struct fold *f, pend_kind kind, enum fold_role role)
{
    struct pending *p = session_inject(f->s, kind, (int)role, &f->out);
    buf_reset(&f->out);
    if (!p && f->s->state != SESSION_CLOSING)
        session_fail(f->s, "53200", "out of memory");
    return p;
}

bool
fold_send_sql(struct fold *f, const char *sql, enum fold_role role)
{
    static const int16_t none[1] = {0};
    msg_put_parse(&f->out, "", sql, 0, NULL);
    if (!fold_send(f, PEND_PARSE, role))
        return false;
    msg_put_bind(&f->out, "", 0, none, NULL, NULL, 0, none);
    if (!fold_send(f, PEND_BIND, role))
        return false;
    msg_put_execute(&f->out, "");
    return fold_send(f, PEND_EXECUTE, role) != NULL;
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

void
fold_owe(struct fold *f, const char *sql, size_t sqllen, const uint32_t *oids, int n)
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
        fold_owe(f, p->sql, strlen(p->sql), p->param_oids, p->nparams);
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
    if (h->role == ROLE_VERIFY) {
        fold_verify_done(s, h); /* named statement and portal: nothing of the client's moved */
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

/* ---- statements and portals of the Sync group --------------------------------------------- */

static bool
from_prepared(const struct prepared *p, struct msg_parse *pi)
{
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

bool
fold_stmt_text(struct session *s, const char *name, struct msg_parse *pi)
{
    struct fold *f = s->fold;
    /* The latest Parse of that name forwarded in this Sync group, not yet confirmed. */
    const uint8_t *p = buf_head(&f->sg_parses);
    const uint8_t *end = p ? p + buf_used(&f->sg_parses) : NULL; /* NULL + 0 is undefined */
    bool found = false;
    while (p && p < end) {
        struct wire_msg m;
        if (wire_frame(p, (size_t)(end - p), SIZE_MAX, &m) != 0)
            break;
        struct msg_parse tmp;
        if (msg_read_parse(m.body, m.body_len, &tmp) == 0 && strcmp(tmp.name, name) == 0) {
            *pi = tmp;
            found = true;
        }
        p += m.wire_len;
    }
    if (found)
        return true;
    struct prepared *st = prepared_get(&s->stmts, name);
    if (!st && name[0] == '\0' && f->owed_sql && f->owed_n <= MSG_MAX_PARAMS) {
        /* pgfold's own Parse displaced it: the client's statement is the owed one (a Bind
         * that is forwarded re-creates it first). Without this the lookup that triggered a
         * batch, and the next one, were forwarded instead of answered. */
        pi->name = "";
        pi->sql = f->owed_sql;
        pi->sqllen = strlen(f->owed_sql);
        pi->n = f->owed_n;
        if (f->owed_n)
            memcpy(pi->oids, f->owed_oids, sizeof(uint32_t) * (size_t)f->owed_n);
        return true;
    }
    return from_prepared(st, pi);
}

/* The statement a portal runs: its Bind in this Sync group, else the server-confirmed one. */
static const char *
portal_stmt(struct session *s, const char *portal)
{
    struct fold *f = s->fold;
    if (f->sg_bound && strcmp(f->sg_portal, portal) == 0)
        return f->sg_portal_stmt;
    const struct prepared *p = prepared_get(&s->portals, portal);
    return p ? p->sql : NULL;
}

/* Does message m use the unnamed statement without having parsed it in this Sync group? */
static bool
uses_unnamed(const struct fold *f, const struct wire_msg *m)
{
    if (f->sg_parsed_unnamed)
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

/* Notes a Bind's portal and statement for the Executes after it. */
static void
note_bind(struct fold *f, const struct wire_msg *m)
{
    struct wire_cursor c;
    wire_cursor_init(&c, m->body, m->body_len);
    const char *portal = wire_get_str(&c, NULL);
    const char *stmt = wire_get_str(&c, NULL);
    f->sg_bound = !c.err && strlen(portal) < sizeof(f->sg_portal) &&
                  strlen(stmt) < sizeof(f->sg_portal_stmt);
    if (!f->sg_bound)
        return;
    strcpy(f->bound_portal, portal);
    f->bound_portal_id = ++f->portal_seq;
    strcpy(f->sg_portal, portal);
    strcpy(f->sg_portal_stmt, stmt);
    f->sg_bind_hash = fold_hash(0, m->body, m->body_len);
    f->sg_described = false;
    struct msg_bind b;
    f->sg_nres = -1;
    if (msg_read_bind(m->body, m->body_len, &b) == 0 && b.nres <= 64) {
        f->sg_nres = b.nres;
        for (int i = 0; i < b.nres; i++)
            f->sg_res[i] = (int16_t)((b.res[2 * i] << 8) | b.res[2 * i + 1]);
    }
}

/*
 * The RowDescription an Execute's rows will have when none streams before them: the portal's,
 * if a Describe of it was answered earlier (a portal read in chunks), else, for a portal bound
 * in this Sync group without a Describe, its statement's (a driver that Describes a statement
 * once) with the Bind's result formats. Copied into the pending entry; nothing when unknown.
 */
static void
execute_desc(struct session *s, const char *portal, const char *stmt, struct pending *p)
{
    struct fold *f = s->fold;
    bool bound_here = f->sg_bound && strcmp(f->sg_portal, portal) == 0;
    if (bound_here && f->sg_described)
        return; /* its RowDescription streams just before */
    const struct prepared *e = bound_here ? NULL : prepared_get(&s->portals, portal);
    struct buf d;
    buf_init(&d);
    if (e && e->desclen)
        buf_put(&d, e->desc, e->desclen);
    else if (bound_here && f->sg_nres >= 0 && (e = prepared_get(&s->stmts, stmt)) && e->desclen &&
             rowmsg_desc_set_formats(e->desc, e->desclen, f->sg_nres, f->sg_res, &d) != 0)
        buf_reset(&d);
    if (buf_used(&d) && !buf_error(&d) && (p->desc = malloc(buf_used(&d)))) {
        memcpy(p->desc, buf_head(&d), buf_used(&d));
        p->desclen = buf_used(&d);
    }
    buf_free(&d);
}

/* Flags an Execute with what its statement does: invalidation and key-source recording. */
static void
execute_effects(struct session *s, const struct wire_msg *m, struct pending *p)
{
    struct fold *f = s->fold;
    struct wire_cursor c;
    wire_cursor_init(&c, m->body, m->body_len);
    const char *portal = wire_get_str(&c, NULL);
    const char *stmt = c.err ? NULL : portal_stmt(s, portal);
    struct msg_parse pi;
    struct shape *sh = NULL;
    if (!stmt || !fold_stmt_text(s, stmt, &pi) ||
        shapecache_get(f->shapes, pi.sql, pi.sqllen, pi.oids, pi.n, &sh, &f->lits) != 0)
        sh = NULL; /* unknown: the engine assumes the worst */
    fold_effects(f, sh);
    if (p && engine_result_is_source(sh)) {
        p->flags |= PEND_F_SOURCE;
        p->shape = shape_ref(sh);
        p->portal_id = strcmp(f->bound_portal, portal) == 0 ? f->bound_portal_id : 0;
        execute_desc(s, portal, stmt, p);
        /* The exact statement: its text and, when its Bind is in hand, its parameters. */
        p->source_id = fold_hash(f->sg_bound && strcmp(f->sg_portal, portal) == 0 ? f->sg_bind_hash
                                                                                  : 0,
                                 pi.sql, pi.sqllen);
    }
    shape_unref(sh);
}

void
fold_sync_group_end(struct fold *f)
{
    f->sg_open = false;
    f->sg_parsed_unnamed = false;
    f->sg_bound = false;
    buf_reset(&f->sg_parses);
}

struct pending *
fold_forward(struct session *s, const struct wire_msg *m, const struct lookup *lk)
{
    struct fold *f = s->fold;
    if (uses_unnamed(f, m))
        restore_owed(s);
    if (m->type == FE_PARSE) {
        buf_put(&f->sg_parses, m->raw, m->wire_len);
        if (m->body_len > 0 && m->body[0] == '\0') {
            f->sg_parsed_unnamed = true;
            fold_owed_clear(f); /* the client replaces it itself */
        }
    }
    if (m->type == FE_BIND)
        note_bind(f, m);
    struct pending *p = session_forward(s, m);
    if (m->type == FE_EXECUTE) {
        execute_effects(s, m, p);
        if (lk)
            fold_mark_capture(f, p, lk);
    }
    if (m->type == FE_DESCRIBE && p && p->kind == PEND_DESCRIBE_P) {
        if (f->sg_bound && p->name && strcmp(p->name, f->sg_portal) == 0)
            f->sg_described = true;
        if (lk)
            p->flags |= PEND_F_CAPTURE;
    }
    if (m->type == FE_SYNC)
        fold_sync_group_end(f);
    else
        f->sg_open = true;
    return p;
}
