/*
 * shape: the parser's public face. Analysis itself lives in analyze.c, stmt.c and select.c;
 * this file owns a shape's lifetime (reference counting, freeing) and everything computed from
 * a shape and the text in hand: the key literal's value and the batched SQL of DESIGN.md 5.4.
 *
 * A shape can stand for many texts that differ only in their literals, so positions recorded
 * in shape->text are carried over to the text in hand by literal-length deltas: between two
 * literals the texts are byte-identical, so a position after literal i moves by how much
 * literal i's end moved. The batched SQL is spliced from the text in hand, never from
 * shape->text, which keeps every other literal (LIMIT 21, status = 'open') as the client wrote
 * it. Keys never enter SQL text: they travel as one array parameter.
 */
#include "parser/shape.h"

#include <ctype.h>
#include <errno.h>
#include <pg_query.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parser/analyze.h"

#define KEY_EXPR "(pgfold_k.pgfold_v)"

int
shape_analyze(const char *sql, size_t len, const uint32_t *param_oids, int nparams,
              struct shape **out)
{
    return analyze_run(sql, len, param_oids, nparams, out);
}

struct shape *
shape_ref(struct shape *s)
{
    s->refs++;
    return s;
}

static void
shape_free(struct shape *s)
{
    for (int i = 0; i < s->nslots; i++) {
        struct shape_slot *sl = &s->slots[i];
        free(sl->lit_value);
        free(sl->qualifier);
        free(sl->column);
        free(sl->schema);
        free(sl->table);
        free(sl->cast_type);
    }
    for (int i = 0; i < s->ntables; i++) {
        free(s->tables[i].schema);
        free(s->tables[i].name);
    }
    free(s->slots);
    free(s->tables);
    free(s->lits);
    free(s->prefs);
    free(s->txn.name);
    free(s->session.name);
    free(s->text);
    free(s->normalized);
    free(s->error);
    free(s);
}

void
shape_unref(struct shape *s)
{
    if (s == NULL || --s->refs > 0)
        return;
    shape_free(s);
}

void
shape_lits_free(struct shape_lits *lits)
{
    free(lits->v);
    lits->v = NULL;
    lits->n = 0;
    lits->cap = 0;
}

const char *
shape_kind_name(enum shape_kind kind)
{
    static const char *const names[SHAPE_KIND_COUNT] = {
        "unknown", "empty", "lookup", "read", "write", "txn", "session", "utility",
    };
    return (unsigned)kind < SHAPE_KIND_COUNT ? names[kind] : "invalid";
}

void
shape_thread_exit(void)
{
    pg_query_exit();
}

/* The text in hand: its bytes and literal list, checked to fit the shape. */
struct view {
    const char *sql;
    size_t len;
    const struct shape_lit *lits;
};

static int
view_of(const struct shape *s, const char *sql, size_t len, const struct shape_lits *lits,
        struct view *v)
{
    size_t at = 0, vat = 0;

    v->sql = s->text;
    v->len = s->len;
    v->lits = s->lits;
    if (sql == NULL)
        return 0;
    if (lits == NULL || lits->n != s->nlits)
        return -EINVAL;
    if (!s->shareable)
        return len == s->len && memcmp(sql, s->text, len) == 0 ? 0 : -EINVAL;
    /* Same literal kinds, and the same bytes between the literals. */
    for (int i = 0; i <= s->nlits; i++) {
        size_t end = i < s->nlits ? s->lits[i].off : s->len;
        size_t vend = i < s->nlits ? lits->v[i].off : len;
        if (i < s->nlits && lits->v[i].type != s->lits[i].type)
            return -EINVAL;
        if (vend < vat || vend > len || end - at != vend - vat ||
            memcmp(s->text + at, sql + vat, end - at) != 0)
            return -EINVAL;
        if (i < s->nlits) {
            at = end + s->lits[i].len;
            vat = vend + lits->v[i].len;
        }
    }
    v->sql = sql;
    v->len = len;
    v->lits = lits->v;
    return 0;
}

/* Where a position of shape->text (not inside a literal) lies in the text in hand. */
static size_t
map_pos(const struct shape *s, const struct view *v, uint32_t pos)
{
    int lo = 0, hi = s->nlits;

    if (v->lits == s->lits)
        return pos;
    while (lo < hi) { /* count literals ending at or before pos */
        int mid = lo + (hi - lo) / 2;
        if (s->lits[mid].off + s->lits[mid].len <= pos)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == 0)
        return pos;
    return pos - (s->lits[lo - 1].off + s->lits[lo - 1].len) +
           (v->lits[lo - 1].off + v->lits[lo - 1].len);
}

int
shape_slot_value(const struct shape *s, const char *sql, size_t len, const struct shape_lits *lits,
                 int slot, char *out, size_t cap, size_t *outlen)
{
    const struct shape_slot *sl;
    const struct shape_lit *lit;
    struct view v;
    size_t n = 0, w;
    int rc;

    if (slot < 0 || slot >= s->nslots || s->slots[slot].param != 0)
        return -EINVAL;
    sl = &s->slots[slot];
    rc = view_of(s, sql, len, lits, &v);
    if (rc < 0)
        return rc;
    if (v.lits == s->lits || !s->shareable) {
        if (cap < sl->lit_value_len)
            return -ENOSPC;
        memcpy(out, sl->lit_value, sl->lit_value_len);
        *outlen = sl->lit_value_len;
        return 0;
    }
    lit = &v.lits[sl->lit];
    if (sl->flags & SHAPE_SLOT_NEGATIVE) {
        if (cap < 1)
            return -ENOSPC;
        out[n++] = '-';
    }
    rc = keyval_unquote(v.sql + lit->off, lit->len, out + n, cap - n, &w);
    if (rc < 0)
        return rc;
    *outlen = n + w;
    return 0;
}

/* A growing output string whose failure is sticky and checked once. */
struct buf {
    char *p;
    size_t len, cap;
    int err;
};

static void
put(struct buf *b, const char *p, size_t n)
{
    if (b->err)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        char *q;
        while (cap < b->len + n + 1)
            cap *= 2;
        q = realloc(b->p, cap);
        if (q == NULL) {
            b->err = -ENOMEM;
            return;
        }
        b->p = q;
        b->cap = cap;
    }
    memcpy(b->p + b->len, p, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void
puts_(struct buf *b, const char *str)
{
    put(b, str, strlen(str));
}

static void __attribute__((format(printf, 2, 3))) putf(struct buf *b, const char *fmt, ...)
{
    char tmp[256];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(tmp))
        b->err = -EINVAL;
    else
        put(b, tmp, (size_t)n);
}

/* A type name safe to paste after "::": letters, digits, '_', '.', ' ' and '"'. */
static int
type_name_ok(const char *t)
{
    size_t n = t != NULL ? strlen(t) : 0;

    if (n == 0 || n > 128)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = t[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == ' ' || c == '"'))
            return 0;
    }
    return 1;
}

/* Copies text-in-hand bytes from *pos up to the mapped position `to`. */
static void
copy_to(struct buf *b, const struct view *v, size_t *pos, size_t to)
{
    if (to < *pos || to > v->len) {
        b->err = -EINVAL;
        return;
    }
    put(b, v->sql + *pos, to - *pos);
    *pos = to;
}

/* The statement with the key (every use of $n for a parameter) replaced by KEY_EXPR. */
static void
lateral_body(struct buf *b, const struct shape *s, const struct view *v,
             const struct shape_slot *sl)
{
    size_t pos = map_pos(s, v, s->stmt_off);

    if (sl->param == 0) {
        copy_to(b, v, &pos, map_pos(s, v, sl->off));
        puts_(b, KEY_EXPR);
        pos = map_pos(s, v, sl->off + sl->len);
    } else {
        for (int i = 0; i < s->nprefs; i++) {
            const struct shape_pref *r = &s->prefs[i];
            if (r->n != sl->param || r->off < s->stmt_off || r->off >= s->stmt_end)
                continue;
            copy_to(b, v, &pos, map_pos(s, v, r->off));
            puts_(b, KEY_EXPR);
            pos = map_pos(s, v, r->off + r->len);
        }
    }
    copy_to(b, v, &pos, map_pos(s, v, s->stmt_end));
}

/* The statement with the key column put first and `= <key>` turned into `= ANY(array)`. */
static void
any_body(struct buf *b, const struct shape *s, const struct view *v, const struct shape_slot *sl,
         const char *key_type)
{
    size_t pos = map_pos(s, v, s->stmt_off);
    size_t col = map_pos(s, v, sl->col_off);

    copy_to(b, v, &pos, map_pos(s, v, s->target_off));
    /* "SELECT!x" and "SELECT\"x\"" are written without a space: keep the key column off the
     * SELECT keyword. */
    if (pos > 0 && !strchr(" \t\n\r\f\v", v->sql[pos - 1]))
        put(b, " ", 1);
    put(b, v->sql + col, sl->col_len);
    puts_(b, " AS pgfold_key, ");
    copy_to(b, v, &pos, map_pos(s, v, sl->conj_off));
    /* "WHERE-7 = x": the minus sign kept the keyword apart; the column must not join it. */
    if (b->len > 0 && (isalnum((unsigned char)b->p[b->len - 1]) || b->p[b->len - 1] == '_' ||
                       b->p[b->len - 1] == '$' || (unsigned char)b->p[b->len - 1] >= 0x80))
        put(b, " ", 1);
    put(b, v->sql + col, sl->col_len);
    putf(b, " = ANY($%d::%s[])", s->nparams + 1, key_type);
    pos = map_pos(s, v, sl->conj_off + sl->conj_len);
    copy_to(b, v, &pos, map_pos(s, v, s->stmt_end));
}

int
shape_batch_sql(const struct shape *s, const char *sql, size_t len, const struct shape_lits *lits,
                int slot, const char *key_type, enum shape_batch_form form, char **out_sql)
{
    struct buf b = {0};
    const struct shape_slot *sl;
    struct view v;
    int rc;

    if (s->kind != SHAPE_LOOKUP || slot < 0 || slot >= s->nslots || !type_name_ok(key_type))
        return -EINVAL;
    if (s->nparams >= 65535)
        return -E2BIG; /* no room for the key array in the protocol's 16-bit count */
    sl = &s->slots[slot];
    rc = view_of(s, sql, len, lits, &v);
    if (rc < 0)
        return rc;
    if (form == SHAPE_BATCH_LATERAL) {
        putf(&b,
             "SELECT pgfold_k.pgfold_ord, pgfold_t.* FROM unnest($%d::%s[]) WITH ORDINALITY "
             "AS pgfold_k(pgfold_v, pgfold_ord) CROSS JOIN LATERAL (",
             s->nparams + 1, key_type);
        lateral_body(&b, s, &v, sl);
        /* The newline ends a trailing -- comment before the parenthesis closes. */
        puts_(&b, "\n) AS pgfold_t");
    } else if (form == SHAPE_BATCH_ANY && (sl->flags & SHAPE_SLOT_ANY_OK)) {
        any_body(&b, s, &v, sl, key_type);
    } else {
        return -EINVAL;
    }
    if (b.err) {
        free(b.p);
        return b.err;
    }
    *out_sql = b.p;
    return 0;
}
