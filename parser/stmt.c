/*
 * stmt: what kind of statement a parse-tree root is.
 *
 * One switch over libpg_query's node types maps every statement to a shape_kind: DML to
 * SHAPE_WRITE, transaction control to SHAPE_TXN (with its options), SET/RESET/DISCARD to
 * SHAPE_SESSION, the provably read-only utilities (SHOW, EXPLAIN without ANALYZE) to SHAPE_READ,
 * and everything else to SHAPE_UTILITY, which the batcher treats as "not provably read-only".
 * SELECTs are select.c's job. Every statement is also walked once for the tables it names.
 *
 * Writes only into the shape under construction; the tree belongs to analyze.c.
 */
#include "parser/stmt.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "parser/select.h"

static const char *
const_str(const PgQuery__Node *n)
{
    if (n == NULL || n->node_case != PG_QUERY__NODE__NODE_A_CONST)
        return NULL;
    if (n->a_const->val_case != PG_QUERY__A__CONST__VAL_SVAL)
        return NULL;
    return n->a_const->sval->sval;
}

/* A boolean option value as defGetBoolean reads it; absent means true. */
static int
option_bool(const PgQuery__Node *arg)
{
    const char *str;

    if (arg == NULL)
        return 1;
    if (arg->node_case == PG_QUERY__NODE__NODE_A_CONST) {
        const PgQuery__AConst *c = arg->a_const;
        if (c->val_case == PG_QUERY__A__CONST__VAL_IVAL)
            return c->ival->ival != 0;
        if (c->val_case == PG_QUERY__A__CONST__VAL_BOOLVAL)
            return c->boolval->boolval != 0;
    }
    if (arg->node_case == PG_QUERY__NODE__NODE_INTEGER)
        return arg->integer->ival != 0;
    if (arg->node_case == PG_QUERY__NODE__NODE_BOOLEAN)
        return arg->boolean->boolval != 0;
    str = arg->node_case == PG_QUERY__NODE__NODE_STRING ? arg->string->sval : const_str(arg);
    if (str != NULL &&
        (strcasecmp(str, "false") == 0 || strcasecmp(str, "off") == 0 || strcmp(str, "0") == 0))
        return 0;
    return 1;
}

static enum shape_isolation
isolation(const char *level)
{
    if (level == NULL)
        return SHAPE_ISO_DEFAULT;
    if (strcmp(level, "read uncommitted") == 0)
        return SHAPE_ISO_READ_UNCOMMITTED;
    if (strcmp(level, "read committed") == 0)
        return SHAPE_ISO_READ_COMMITTED;
    if (strcmp(level, "repeatable read") == 0)
        return SHAPE_ISO_REPEATABLE_READ;
    if (strcmp(level, "serializable") == 0)
        return SHAPE_ISO_SERIALIZABLE;
    return SHAPE_ISO_DEFAULT;
}

/* transaction_isolation / transaction_read_only / transaction_deferrable options. */
static void
txn_options(struct shape_txn *t, PgQuery__Node **opts, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const PgQuery__DefElem *d;
        if (opts[i]->node_case != PG_QUERY__NODE__NODE_DEF_ELEM)
            continue;
        d = opts[i]->def_elem;
        if (strcmp(d->defname, "transaction_isolation") == 0)
            t->isolation = isolation(const_str(d->arg));
        else if (strcmp(d->defname, "transaction_read_only") == 0)
            t->read_only = option_bool(d->arg);
        else if (strcmp(d->defname, "transaction_deferrable") == 0)
            t->deferrable = option_bool(d->arg);
    }
}

static enum shape_kind
transaction(struct analyze *a, const PgQuery__TransactionStmt *ts)
{
    struct shape_txn *t = &a->s->txn;

    free(t->name);
    memset(t, 0, sizeof(*t));
    t->read_only = -1;
    t->deferrable = -1;
    switch (ts->kind) {
    case PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_BEGIN:
    case PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_START:
        t->op = SHAPE_TXN_BEGIN;
        txn_options(t, ts->options, ts->n_options);
        break;
    case PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_COMMIT:
        t->op = SHAPE_TXN_COMMIT;
        break;
    case PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_ROLLBACK:
        t->op = SHAPE_TXN_ROLLBACK;
        break;
    case PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_SAVEPOINT:
        t->op = SHAPE_TXN_SAVEPOINT;
        break;
    case PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_RELEASE:
        t->op = SHAPE_TXN_RELEASE;
        break;
    case PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_ROLLBACK_TO:
        t->op = SHAPE_TXN_ROLLBACK_TO;
        break;
    case PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_PREPARE:
        t->op = SHAPE_TXN_PREPARE;
        break;
    case PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_COMMIT_PREPARED:
        t->op = SHAPE_TXN_COMMIT_PREPARED;
        break;
    case PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_ROLLBACK_PREPARED:
        t->op = SHAPE_TXN_ROLLBACK_PREPARED;
        break;
    default:
        return SHAPE_UTILITY;
    }
    t->chain = ts->chain;
    if (ts->savepoint_name != NULL && *ts->savepoint_name != '\0')
        t->name = analyze_strdup(a, ts->savepoint_name);
    else if (ts->gid != NULL && *ts->gid != '\0')
        t->name = analyze_strdup(a, ts->gid);
    return SHAPE_TXN;
}

static void
set_session_name(struct analyze *a, const char *name)
{
    struct shape_session *ss = &a->s->session;

    free(ss->name);
    ss->name = name != NULL && *name != '\0' ? analyze_strdup(a, name) : NULL;
    for (char *p = ss->name; p != NULL && *p != '\0'; p++)
        *p = (char)tolower((unsigned char)*p);
}

static enum shape_kind
variable_set(struct analyze *a, const PgQuery__VariableSetStmt *vs)
{
    struct shape_session *ss = &a->s->session;
    const char *name = vs->name != NULL ? vs->name : "";

    ss->is_local = vs->is_local;
    ss->is_reset = vs->kind == PG_QUERY__VARIABLE_SET_KIND__VAR_RESET ||
                   vs->kind == PG_QUERY__VARIABLE_SET_KIND__VAR_SET_DEFAULT;
    ss->discard = SHAPE_DISCARD_NONE;
    set_session_name(a, vs->name);
    if (vs->kind == PG_QUERY__VARIABLE_SET_KIND__VAR_RESET_ALL) {
        ss->op = SHAPE_SESSION_RESET_ALL;
    } else if (vs->kind == PG_QUERY__VARIABLE_SET_KIND__VAR_SET_MULTI) {
        int chars = strcmp(name, "SESSION CHARACTERISTICS") == 0;
        ss->op = chars ? SHAPE_SESSION_SET_CHARACTERISTICS : SHAPE_SESSION_SET_TRANSACTION;
        txn_options(&a->s->txn, vs->args, vs->n_args);
    } else if (strcmp(name, "role") == 0) {
        ss->op = SHAPE_SESSION_SET_ROLE;
    } else if (strcmp(name, "session_authorization") == 0) {
        ss->op = SHAPE_SESSION_SET_AUTH;
    } else if (vs->kind == PG_QUERY__VARIABLE_SET_KIND__VAR_RESET) {
        ss->op = SHAPE_SESSION_RESET;
    } else {
        ss->op = SHAPE_SESSION_SET;
    }
    return SHAPE_SESSION;
}

static enum shape_kind
discard(struct analyze *a, const PgQuery__DiscardStmt *ds)
{
    struct shape_session *ss = &a->s->session;

    set_session_name(a, NULL);
    ss->op = SHAPE_SESSION_DISCARD;
    ss->is_local = 0;
    ss->is_reset = 0;
    switch (ds->target) {
    case PG_QUERY__DISCARD_MODE__DISCARD_PLANS:
        ss->discard = SHAPE_DISCARD_PLANS;
        break;
    case PG_QUERY__DISCARD_MODE__DISCARD_SEQUENCES:
        ss->discard = SHAPE_DISCARD_SEQUENCES;
        break;
    case PG_QUERY__DISCARD_MODE__DISCARD_TEMP:
        ss->discard = SHAPE_DISCARD_TEMP;
        break;
    default:
        ss->discard = SHAPE_DISCARD_ALL;
    }
    return SHAPE_SESSION;
}

/* The kind of a statement nested in EXPLAIN or DECLARE: never a lookup of its own. */
static enum shape_kind
inner_kind(struct analyze *a, const PgQuery__Node *n)
{
    int collect = a->collect;
    enum shape_kind k;

    a->collect = 0;
    k = stmt_classify(a, n);
    a->collect = collect;
    return k == SHAPE_LOOKUP ? SHAPE_READ : k;
}

/* EXPLAIN only plans; EXPLAIN ANALYZE runs the statement and is what the statement is. */
static enum shape_kind
explain(struct analyze *a, const PgQuery__ExplainStmt *es)
{
    int analyze = 0;
    enum shape_kind k;

    for (size_t i = 0; i < es->n_options; i++) {
        const PgQuery__Node *o = es->options[i];
        if (o->node_case == PG_QUERY__NODE__NODE_DEF_ELEM &&
            strcmp(o->def_elem->defname, "analyze") == 0)
            analyze = option_bool(o->def_elem->arg);
    }
    k = inner_kind(a, es->query);
    if (!analyze)
        return SHAPE_READ;
    return k == SHAPE_READ || k == SHAPE_WRITE ? k : SHAPE_UTILITY;
}

enum shape_kind
stmt_classify(struct analyze *a, const PgQuery__Node *n)
{
    enum shape_kind k;

    if (n == NULL)
        return SHAPE_UTILITY;
    switch (n->node_case) {
    case PG_QUERY__NODE__NODE_SELECT_STMT:
        return select_classify(a, n->select_stmt);
    case PG_QUERY__NODE__NODE_TRANSACTION_STMT:
        return transaction(a, n->transaction_stmt);
    case PG_QUERY__NODE__NODE_VARIABLE_SET_STMT:
        return variable_set(a, n->variable_set_stmt);
    case PG_QUERY__NODE__NODE_DISCARD_STMT:
        return discard(a, n->discard_stmt);
    case PG_QUERY__NODE__NODE_VARIABLE_SHOW_STMT:
        return SHAPE_READ;
    case PG_QUERY__NODE__NODE_EXPLAIN_STMT:
        return explain(a, n->explain_stmt);
    case PG_QUERY__NODE__NODE_DECLARE_CURSOR_STMT:
        k = inner_kind(a, n->declare_cursor_stmt->query);
        return k == SHAPE_READ ? SHAPE_READ : SHAPE_WRITE;
    default:
        break;
    }
    (void)select_walk(a, &n->base);
    switch (n->node_case) {
    case PG_QUERY__NODE__NODE_INSERT_STMT:
    case PG_QUERY__NODE__NODE_UPDATE_STMT:
    case PG_QUERY__NODE__NODE_DELETE_STMT:
    case PG_QUERY__NODE__NODE_MERGE_STMT:
    case PG_QUERY__NODE__NODE_TRUNCATE_STMT:
    case PG_QUERY__NODE__NODE_CALL_STMT:
    case PG_QUERY__NODE__NODE_DO_STMT:
        return SHAPE_WRITE;
    case PG_QUERY__NODE__NODE_COPY_STMT:
        return n->copy_stmt->is_from ? SHAPE_WRITE : SHAPE_UTILITY;
    default:
        return SHAPE_UTILITY;
    }
}
