/*
 * select: is this SELECT provably read-only, and is it a single-key lookup?
 *
 * Two passes over the parse tree. The first (select_walk) is a generic walk of every protobuf
 * message, driven by protobuf-c's descriptors so that no node type can be missed: it records
 * tables and CTE names and flags what makes a statement unsafe to answer from a cache (row
 * locks, data-modifying CTEs, SELECT INTO, functions outside funcs.c's allow-list) and what
 * makes per-key splitting harder (aggregates, window functions at the top level, subqueries).
 * The second looks only at the top-level WHERE (of each branch of a set operation) for AND
 * conjuncts `<column> = <key>` and turns each into a candidate key slot, resolving the
 * column's qualifier against the FROM list.
 *
 * Spans come from libpg_query's token list via analyze.c; the text itself is never re-lexed.
 */
#include "parser/select.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "parser/funcs.h"

#define MAX_DEPTH 4000 /* far deeper than any tree libpg_query's own stack check lets through */

#define NOT_READ_ONLY (SHAPE_F_LOCKING | SHAPE_F_MODIFYING_CTE | SHAPE_F_UNSAFE_FUNC | SHAPE_F_INTO)
#define NOT_ANY                                                                                    \
    (SHAPE_F_LIMIT | SHAPE_F_OFFSET | SHAPE_F_AGGREGATE | SHAPE_F_GROUP_BY | SHAPE_F_DISTINCT |    \
     SHAPE_F_WINDOW | SHAPE_F_SETOP | SHAPE_F_VALUES)

struct walk {
    struct analyze *a;
    unsigned flags;
    int sel_depth; /* SelectStmts entered; 1 = the statement's own top level */
    int depth;
};

/* The function's name if it is schema-less or in pg_catalog, else NULL. */
static const char *
func_name(const PgQuery__FuncCall *f)
{
    const PgQuery__Node *last, *schema;

    if (f->n_funcname == 0 || f->n_funcname > 2)
        return NULL;
    last = f->funcname[f->n_funcname - 1];
    if (last->node_case != PG_QUERY__NODE__NODE_STRING)
        return NULL;
    if (f->n_funcname == 2) {
        schema = f->funcname[0];
        if (schema->node_case != PG_QUERY__NODE__NODE_STRING ||
            strcmp(schema->string->sval, "pg_catalog") != 0)
            return NULL;
    }
    return last->string->sval;
}

static void
visit_func(struct walk *w, const PgQuery__FuncCall *f)
{
    const char *name = func_name(f);
    enum funcs_class cls = name != NULL ? funcs_find(name) : FUNCS_NONE;

    if (cls == FUNCS_NONE)
        w->flags |= SHAPE_F_UNSAFE_FUNC;
    if (w->sel_depth != 1)
        return;
    if (f->over != NULL)
        w->flags |= SHAPE_F_WINDOW;
    else if (cls == FUNCS_AGG || f->agg_star || f->agg_distinct || f->n_agg_order > 0 ||
             f->agg_filter != NULL || f->agg_within_group)
        w->flags |= SHAPE_F_AGGREGATE;
}

/*
 * `type $n` is libpg_query's own extension (PostgreSQL has `type 'literal'` only; libpg_query
 * accepts a parameter there so its normalized output re-parses). Replacing that $n with the
 * batch's key expression would turn the cast into a call of a function named like the type,
 * so a statement with such a parameter is never a lookup. The server refuses it anyway.
 */
static void
visit_cast(struct walk *w, const PgQuery__TypeCast *tc)
{
    const PgQuery__Node *arg = tc->arg;

    if (tc->location < 0 && arg != NULL && arg->node_case == PG_QUERY__NODE__NODE_PARAM_REF &&
        tc->type_name != NULL && tc->type_name->location < arg->param_ref->location)
        w->a->collect = 0;
}

static void walk_msg(struct walk *w, const ProtobufCMessage *m);

/* Every message-typed field of m, in declaration order, oneofs by their active member. */
static void
walk_fields(struct walk *w, const ProtobufCMessage *m)
{
    const ProtobufCMessageDescriptor *d = m->descriptor;
    const char *base = (const char *)m;

    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        if (f->type != PROTOBUF_C_TYPE_MESSAGE)
            continue;
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t n = *(const size_t *)(base + f->quantifier_offset);
            ProtobufCMessage *const *v = *(ProtobufCMessage *const *const *)(base + f->offset);
            for (size_t k = 0; k < n; k++)
                if (v[k] != NULL)
                    walk_msg(w, v[k]);
            continue;
        }
        if ((f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
            *(const uint32_t *)(base + f->quantifier_offset) != f->id)
            continue;
        if (*(ProtobufCMessage *const *)(base + f->offset) != NULL)
            walk_msg(w, *(ProtobufCMessage *const *)(base + f->offset));
    }
}

static void
walk_msg(struct walk *w, const ProtobufCMessage *m)
{
    const ProtobufCMessageDescriptor *d = m->descriptor;

    if (++w->depth > MAX_DEPTH) {
        w->flags |= SHAPE_F_UNSAFE_FUNC; /* too deep to vouch for */
        w->depth--;
        return;
    }
    if (d == &pg_query__node__descriptor) {
        /* A Node is a oneof of ~250 types sharing one pointer; skip the descriptor scan. */
        const PgQuery__Node *n = (const PgQuery__Node *)m;
        if (n->node_case != PG_QUERY__NODE__NODE__NOT_SET && n->alias != NULL)
            walk_msg(w, (const ProtobufCMessage *)n->alias);
        w->depth--;
        return;
    }
    if (d == &pg_query__func_call__descriptor) {
        visit_func(w, (const PgQuery__FuncCall *)m);
    } else if (d == &pg_query__type_cast__descriptor) {
        visit_cast(w, (const PgQuery__TypeCast *)m);
    } else if (d == &pg_query__select_stmt__descriptor) {
        const PgQuery__SelectStmt *sel = (const PgQuery__SelectStmt *)m;
        if (sel->n_locking_clause > 0)
            w->flags |= SHAPE_F_LOCKING;
        if (sel->into_clause != NULL)
            w->flags |= SHAPE_F_INTO;
        w->sel_depth++;
        walk_fields(w, m);
        w->sel_depth--;
        w->depth--;
        return;
    } else if (d == &pg_query__insert_stmt__descriptor || d == &pg_query__update_stmt__descriptor ||
               d == &pg_query__delete_stmt__descriptor || d == &pg_query__merge_stmt__descriptor) {
        if (w->sel_depth > 0)
            w->flags |= SHAPE_F_MODIFYING_CTE;
    } else if (d == &pg_query__range_var__descriptor) {
        const PgQuery__RangeVar *rv = (const PgQuery__RangeVar *)m;
        analyze_add_table(w->a, rv->schemaname, rv->relname);
    } else if (d == &pg_query__common_table_expr__descriptor) {
        analyze_add_cte(w->a, ((const PgQuery__CommonTableExpr *)m)->ctename);
    } else if (d == &pg_query__range_table_sample__descriptor) {
        w->flags |= SHAPE_F_TABLESAMPLE;
    } else if (d == &pg_query__sub_link__descriptor ||
               d == &pg_query__range_subselect__descriptor) {
        w->flags |= SHAPE_F_SUBQUERY;
    }
    walk_fields(w, m);
    w->depth--;
}

unsigned
select_walk(struct analyze *a, const ProtobufCMessage *msg)
{
    struct walk w = {.a = a};

    walk_msg(&w, msg);
    return w.flags;
}

static int
is_null_const(const PgQuery__Node *n)
{
    return n->node_case == PG_QUERY__NODE__NODE_A_CONST && n->a_const->isnull;
}

/* Flags read straight off the top-level SELECT. */
static unsigned
top_flags(const PgQuery__SelectStmt *sel)
{
    unsigned f = 0;

    if (sel->limit_count != NULL && !is_null_const(sel->limit_count))
        f |= SHAPE_F_LIMIT;
    if (sel->limit_offset != NULL)
        f |= SHAPE_F_OFFSET;
    if (sel->n_sort_clause > 0)
        f |= SHAPE_F_ORDER_BY;
    if (sel->n_distinct_clause > 0)
        f |= SHAPE_F_DISTINCT;
    if (sel->n_group_clause > 0)
        f |= SHAPE_F_GROUP_BY;
    if (sel->having_clause != NULL)
        f |= SHAPE_F_AGGREGATE;
    if (sel->op != PG_QUERY__SET_OPERATION__SETOP_NONE)
        f |= SHAPE_F_SETOP;
    if (sel->with_clause != NULL)
        f |= SHAPE_F_WITH;
    if (sel->n_values_lists > 0)
        f |= SHAPE_F_VALUES;
    return f;
}

/* The key side of a comparison: a parameter or constant, possibly under one cast. */
struct key {
    const PgQuery__ParamRef *param;
    const PgQuery__AConst *cnst;
    const PgQuery__TypeCast *cast;
};

static int32_t
key_location(const struct key *k)
{
    return k->param != NULL ? k->param->location : k->cnst->location;
}

/*
 * A cast the key can be replaced under: `key::type` or CAST(key AS type). The prefix form
 * `type 'literal'` is refused: replacing its literal with an expression would make it a
 * function call.
 */
static int
cast_ok(const struct analyze *a, const PgQuery__TypeCast *tc, int32_t arg_loc)
{
    const PgQuery__TypeName *tn = tc->type_name;
    const char *at;

    if (tn == NULL || tn->n_names == 0 || tn->n_array_bounds > 0 || tn->setof || tn->pct_type)
        return 0;
    if (tc->location > arg_loc)
        return 1;
    if (tc->location < 0 || (size_t)tc->location + 5 > a->s->len)
        return 0;
    at = a->s->text + tc->location;
    return strncasecmp(at, "cast", 4) == 0 &&
           (at[4] == '(' || at[4] == ' ' || at[4] == '\t' || at[4] == '\n' || at[4] == '\r');
}

static int
key_of(const struct analyze *a, const PgQuery__Node *n, struct key *k)
{
    const PgQuery__TypeCast *tc = NULL;

    memset(k, 0, sizeof(*k));
    if (n == NULL)
        return 0;
    if (n->node_case == PG_QUERY__NODE__NODE_TYPE_CAST) {
        tc = n->type_cast;
        n = tc->arg;
        if (n == NULL)
            return 0;
    }
    if (n->node_case == PG_QUERY__NODE__NODE_PARAM_REF) {
        k->param = n->param_ref;
    } else if (n->node_case == PG_QUERY__NODE__NODE_A_CONST && !n->a_const->isnull) {
        switch (n->a_const->val_case) {
        case PG_QUERY__A__CONST__VAL_IVAL:
        case PG_QUERY__A__CONST__VAL_FVAL:
        case PG_QUERY__A__CONST__VAL_SVAL:
            k->cnst = n->a_const;
            break;
        default:
            return 0;
        }
    } else {
        return 0;
    }
    if (tc != NULL && !cast_ok(a, tc, key_location(k)))
        return 0;
    k->cast = tc;
    return 1;
}

/* A plain column reference: 1 to 4 names, no star. */
static const PgQuery__ColumnRef *
colref(const PgQuery__Node *n)
{
    if (n == NULL || n->node_case != PG_QUERY__NODE__NODE_COLUMN_REF)
        return NULL;
    if (n->column_ref->n_fields == 0 || n->column_ref->n_fields > 4)
        return NULL;
    for (size_t i = 0; i < n->column_ref->n_fields; i++)
        if (n->column_ref->fields[i]->node_case != PG_QUERY__NODE__NODE_STRING)
            return NULL;
    return n->column_ref;
}

static int
is_eq(const PgQuery__AExpr *e)
{
    const PgQuery__Node *op;

    if (e->n_name == 0 || e->n_name > 2)
        return 0;
    op = e->name[e->n_name - 1];
    if (op->node_case != PG_QUERY__NODE__NODE_STRING || strcmp(op->string->sval, "=") != 0)
        return 0;
    return e->n_name == 1 || (e->name[0]->node_case == PG_QUERY__NODE__NODE_STRING &&
                              strcmp(e->name[0]->string->sval, "pg_catalog") == 0);
}

static int
param_slot(struct analyze *a, const PgQuery__ParamRef *p, struct shape_slot *sl)
{
    const struct shape *s = a->s;
    int uses = 0, found = 0;

    for (int i = 0; i < s->nprefs; i++) {
        if (s->prefs[i].n != p->number)
            continue;
        uses++;
        if (s->prefs[i].off == (uint32_t)p->location) {
            sl->off = s->prefs[i].off;
            sl->len = s->prefs[i].len;
            found = 1;
        }
    }
    if (!found || p->number < 1)
        return 0;
    sl->param = p->number;
    if (p->number <= a->nparam_oids && a->param_oids != NULL)
        sl->param_oid = a->param_oids[p->number - 1];
    if (uses > 1)
        sl->flags |= SHAPE_SLOT_REUSED;
    return 1;
}

/* Counts the minus signs between a negated constant's location and its token. -1 if other text. */
static int
minus_signs(const char *p, const char *end)
{
    int n = 0;

    while (p < end) {
        if (*p == '-' && p + 1 < end && p[1] == '-') {
            while (p < end && *p != '\n' && *p != '\r')
                p++;
        } else if (*p == '/' && p + 1 < end && p[1] == '*') {
            const char *close = strstr(p + 2, "*/");
            if (close == NULL || close >= end || memchr(p + 2, '/', (size_t)(close - p - 2)))
                return -1; /* nested comments here are not worth modelling */
            p = close + 2;
        } else if (*p == '-') {
            n++;
            p++;
        } else if (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r' || *p == '\f') {
            p++;
        } else {
            return -1;
        }
    }
    return n;
}

/* The value libpg_query read, for literals pgfold's own unquoting declines. */
static int
pg_value(const PgQuery__AConst *c, char *buf, size_t cap)
{
    if (c->val_case == PG_QUERY__A__CONST__VAL_IVAL)
        return snprintf(buf, cap, "%d", c->ival->ival);
    if (c->val_case == PG_QUERY__A__CONST__VAL_FVAL)
        return snprintf(buf, cap, "%s", c->fval->fval);
    return snprintf(buf, cap, "%s", c->sval->sval);
}

static int
literal_slot(struct analyze *a, const PgQuery__AConst *c, struct shape_slot *sl)
{
    struct shape *s = a->s;
    int i = analyze_lit_from(a, (uint32_t)c->location), signs = 0;
    const struct shape_lit *lit;
    size_t cap, n = 0;
    char *v;

    if (i >= s->nlits)
        return 0;
    lit = &s->lits[i];
    if (lit->len == 0)
        return 0; /* libpg_query gives U&'' strings no span: nothing to splice */
    if (lit->off != (uint32_t)c->location)
        signs = minus_signs(s->text + c->location, s->text + lit->off);
    if (signs < 0)
        return 0;
    if ((c->val_case == PG_QUERY__A__CONST__VAL_SVAL) != (lit->type == KEYVAL_LIT_STRING) ||
        lit->type == KEYVAL_LIT_OTHER)
        return 0;
    cap = lit->len + strlen(c->val_case == PG_QUERY__A__CONST__VAL_SVAL ? c->sval->sval : "") + 32;
    v = malloc(cap);
    if (v == NULL) {
        a->err = -ENOMEM;
        return 0;
    }
    if (signs % 2 == 1) {
        v[n++] = '-';
        sl->flags |= SHAPE_SLOT_NEGATIVE;
    }
    if (keyval_unquote(s->text + lit->off, lit->len, v + n, cap - n - 1, &n) < 0 ||
        (lit->type == KEYVAL_LIT_STRING &&
         (n != strlen(c->sval->sval) || memcmp(v, c->sval->sval, n) != 0))) {
        /* A spelling the cache cannot decode per call: keep the shape to this one text. */
        s->shareable = -1;
        n = (size_t)pg_value(c, v, cap);
    } else if (signs % 2 == 1) {
        n++;
    }
    v[n] = '\0';
    sl->lit = i;
    sl->lit_type = lit->type;
    sl->lit_value = v;
    sl->lit_value_len = n;
    sl->off = (uint32_t)c->location;
    sl->len = lit->off + lit->len - sl->off;
    return 1;
}

/* Collects FROM items: RangeVars by alias or name, anything else by alias only. */
struct item {
    const char *name;
    const PgQuery__RangeVar *rv;
};

static int
from_items(PgQuery__Node **from, size_t n, struct item *out, int cap, int k)
{
    for (size_t i = 0; i < n && k < cap; i++) {
        const PgQuery__Node *f = from[i];
        const PgQuery__Alias *al = NULL;
        if (f == NULL)
            continue;
        switch (f->node_case) {
        case PG_QUERY__NODE__NODE_RANGE_VAR:
            al = f->range_var->alias;
            out[k].rv = f->range_var;
            out[k++].name = al != NULL ? al->aliasname : f->range_var->relname;
            continue;
        case PG_QUERY__NODE__NODE_JOIN_EXPR:
            if (f->join_expr->alias == NULL) {
                PgQuery__Node *both[2] = {f->join_expr->larg, f->join_expr->rarg};
                k = from_items(both, 2, out, cap, k);
                continue;
            }
            al = f->join_expr->alias;
            break;
        case PG_QUERY__NODE__NODE_RANGE_SUBSELECT:
            al = f->range_subselect->alias;
            break;
        case PG_QUERY__NODE__NODE_RANGE_FUNCTION:
            al = f->range_function->alias;
            break;
        default:
            break;
        }
        out[k].rv = NULL;
        out[k++].name = al != NULL ? al->aliasname : NULL;
    }
    return k;
}

static int
is_cte(const struct analyze *a, const PgQuery__RangeVar *rv)
{
    if (rv->schemaname != NULL && *rv->schemaname != '\0')
        return 0;
    for (int i = 0; i < a->nctes; i++)
        if (strcmp(a->ctes[i], rv->relname) == 0)
            return 1;
    return 0;
}

static const char *
field(const PgQuery__ColumnRef *c, size_t i)
{
    return c->fields[i]->string->sval;
}

/* The table a column reference belongs to, when the FROM list says so unambiguously. */
static const PgQuery__RangeVar *
resolve(const struct analyze *a, const PgQuery__SelectStmt *sel, const PgQuery__ColumnRef *c)
{
    struct item items[64];
    int n = from_items(sel->from_clause, sel->n_from_clause, items, 64, 0), hits = 0;
    const PgQuery__RangeVar *rv = NULL;
    size_t nq = c->n_fields - 1;

    for (int i = 0; i < n; i++) {
        const PgQuery__RangeVar *r = items[i].rv;
        int match;
        if (nq == 0)
            match = 1;
        else if (nq == 1)
            match = items[i].name != NULL && strcmp(items[i].name, field(c, 0)) == 0;
        else
            match = r != NULL && r->alias == NULL && r->schemaname != NULL &&
                    strcmp(r->schemaname, field(c, nq - 2)) == 0 &&
                    strcmp(r->relname, field(c, nq - 1)) == 0;
        if (match) {
            hits++;
            rv = r;
        }
    }
    if (hits != 1 || rv == NULL || is_cte(a, rv))
        return NULL;
    return rv;
}

static char *
qualifier(struct analyze *a, const PgQuery__ColumnRef *c)
{
    size_t len = 0;
    char *q;

    if (c->n_fields < 2)
        return NULL;
    for (size_t i = 0; i + 1 < c->n_fields; i++)
        len += strlen(field(c, i)) + 1;
    q = malloc(len);
    if (q == NULL) {
        a->err = -ENOMEM;
        return NULL;
    }
    q[0] = '\0';
    for (size_t i = 0; i + 1 < c->n_fields; i++) {
        if (i > 0)
            strcat(q, ".");
        strcat(q, field(c, i));
    }
    return q;
}

static void
add_slot(struct analyze *a, const PgQuery__SelectStmt *sel, const PgQuery__ColumnRef *c,
         const struct key *k, unsigned flags)
{
    struct shape_slot sl = {.lit = -1, .flags = flags}, *dst;
    const PgQuery__RangeVar *rv;
    uint32_t col_end;

    if (k->param != NULL ? !param_slot(a, k->param, &sl) : !literal_slot(a, k->cnst, &sl))
        return;
    dst = analyze_add_slot(a);
    if (dst == NULL) {
        free(sl.lit_value);
        return;
    }
    if (k->cast != NULL) {
        const PgQuery__TypeName *tn = k->cast->type_name;
        const PgQuery__Node *last = tn->names[tn->n_names - 1];
        const PgQuery__Node *first = tn->names[0];
        sl.flags |= SHAPE_SLOT_CAST;
        if (tn->n_typmods > 0 || tn->n_array_bounds > 0 || tn->setof || tn->pct_type)
            sl.flags |= SHAPE_SLOT_CAST_MOD;
        /* Only pg_catalog's types are known by name: myschema.uuid may be anything. */
        if (tn->n_names > 2 || (tn->n_names == 2 && (first->node_case != PG_QUERY__NODE__NODE_STRING ||
                                                     strcmp(first->string->sval, "pg_catalog"))))
            sl.flags |= SHAPE_SLOT_CAST_MOD;
        if (last->node_case == PG_QUERY__NODE__NODE_STRING)
            sl.cast_type = analyze_strdup(a, last->string->sval);
    }
    sl.qualifier = qualifier(a, c);
    sl.column = analyze_strdup(a, field(c, c->n_fields - 1));
    rv = resolve(a, sel, c);
    if (rv != NULL) {
        sl.schema =
            rv->schemaname != NULL && *rv->schemaname ? analyze_strdup(a, rv->schemaname) : NULL;
        sl.table = analyze_strdup(a, rv->relname);
    }
    sl.col_off = (uint32_t)c->location;
    col_end = analyze_tokens_end(a, sl.col_off, (int)(2 * c->n_fields - 1));
    sl.col_len = col_end > sl.col_off ? col_end - sl.col_off : 0;
    if (sl.flags & SHAPE_SLOT_KEY_LEFT) {
        sl.conj_off = sl.off;
        sl.conj_len = col_end > sl.off ? col_end - sl.off : 0;
    } else {
        sl.conj_off = sl.col_off;
        sl.conj_len = sl.off + sl.len - sl.col_off;
    }
    *dst = sl;
}

static void
try_conjunct(struct analyze *a, const PgQuery__AExpr *e, const PgQuery__SelectStmt *sel)
{
    const PgQuery__ColumnRef *c;
    struct key k;

    if (!is_eq(e))
        return;
    if (e->kind == PG_QUERY__A__EXPR__KIND__AEXPR_OP) {
        if ((c = colref(e->lexpr)) != NULL && key_of(a, e->rexpr, &k))
            add_slot(a, sel, c, &k, 0);
        else if ((c = colref(e->rexpr)) != NULL && key_of(a, e->lexpr, &k))
            add_slot(a, sel, c, &k, SHAPE_SLOT_KEY_LEFT);
    } else if (e->kind == PG_QUERY__A__EXPR__KIND__AEXPR_IN) {
        const PgQuery__Node *r = e->rexpr;
        if ((c = colref(e->lexpr)) != NULL && r != NULL &&
            r->node_case == PG_QUERY__NODE__NODE_LIST && r->list->n_items == 1 &&
            key_of(a, r->list->items[0], &k))
            add_slot(a, sel, c, &k, SHAPE_SLOT_IN);
    }
}

static void
conjuncts(struct analyze *a, const PgQuery__Node *n, const PgQuery__SelectStmt *sel)
{
    if (n == NULL)
        return;
    if (n->node_case == PG_QUERY__NODE__NODE_BOOL_EXPR &&
        n->bool_expr->boolop == PG_QUERY__BOOL_EXPR_TYPE__AND_EXPR) {
        for (size_t i = 0; i < n->bool_expr->n_args; i++)
            conjuncts(a, n->bool_expr->args[i], sel);
    } else if (n->node_case == PG_QUERY__NODE__NODE_A_EXPR) {
        try_conjunct(a, n->a_expr, sel);
    }
}

static void
find_slots(struct analyze *a, const PgQuery__SelectStmt *sel)
{
    if (sel == NULL)
        return;
    if (sel->op == PG_QUERY__SET_OPERATION__SETOP_NONE) {
        conjuncts(a, sel->where_clause, sel);
        return;
    }
    find_slots(a, sel->larg);
    find_slots(a, sel->rarg);
}

/* ORDER BY 1 would shift when the = ANY form adds a column in front. */
static int
orders_by_position(const PgQuery__SelectStmt *sel)
{
    for (size_t i = 0; i < sel->n_sort_clause; i++) {
        const PgQuery__Node *n = sel->sort_clause[i];
        if (n->node_case == PG_QUERY__NODE__NODE_SORT_BY && n->sort_by->node != NULL &&
            n->sort_by->node->node_case == PG_QUERY__NODE__NODE_A_CONST)
            return 1;
    }
    return 0;
}

/*
 * Whether the parentheses among the tokens in [off, off + len) fail to pair up: an operand in
 * parentheses of its own, `id = ($1)` or `(id) = 1`. The parse tree keeps no parentheses, so
 * the conjunct's span cuts such a pair, and the = ANY form that replaces the span would not
 * parse. Pairs wholly inside (`id OPERATOR(pg_catalog.=) $1`) are fine.
 */
static int
span_cuts_parens(const struct analyze *a, uint32_t off, uint32_t len)
{
    int depth = 0;

    for (size_t i = 0; i < a->scan->n_tokens; i++) {
        const PgQuery__ScanToken *t = a->scan->tokens[i];
        if ((uint32_t)t->start >= off + len)
            break;
        if ((uint32_t)t->start < off)
            continue;
        if (t->token == PG_QUERY__TOKEN__ASCII_40)
            depth++;
        else if (t->token == PG_QUERY__TOKEN__ASCII_41 && --depth < 0)
            return 1;
    }
    return depth != 0;
}

static void
mark_any_ok(struct analyze *a, const PgQuery__SelectStmt *sel, unsigned flags)
{
    struct shape *s = a->s;

    if (sel->n_target_list == 0 ||
        sel->target_list[0]->node_case != PG_QUERY__NODE__NODE_RES_TARGET)
        return;
    s->target_off = (uint32_t)sel->target_list[0]->res_target->location;
    if ((flags & NOT_ANY) || orders_by_position(sel))
        return;
    for (int i = 0; i < s->nslots; i++) {
        struct shape_slot *sl = &s->slots[i];
        if (sl->flags & (SHAPE_SLOT_CAST | SHAPE_SLOT_IN | SHAPE_SLOT_REUSED))
            continue;
        if (sl->col_len == 0 || sl->conj_len == 0 || s->target_off == 0 ||
            s->target_off >= sl->conj_off || span_cuts_parens(a, sl->conj_off, sl->conj_len))
            continue;
        sl->flags |= SHAPE_SLOT_ANY_OK;
    }
}

enum shape_kind
select_classify(struct analyze *a, const PgQuery__SelectStmt *sel)
{
    unsigned f = top_flags(sel) | select_walk(a, &sel->base);

    a->s->flags |= f;
    if (f & NOT_READ_ONLY)
        return SHAPE_WRITE;
    if (!a->collect || (f & SHAPE_F_TABLESAMPLE))
        return SHAPE_READ;
    find_slots(a, sel);
    if (a->s->nslots == 0)
        return SHAPE_READ;
    mark_any_ok(a, sel, f);
    return SHAPE_LOOKUP;
}
