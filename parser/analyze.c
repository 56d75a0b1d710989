/*
 * analyze: the slow path that turns one SQL text into a struct shape with libpg_query.
 *
 * Data flow: the text is copied and NUL-terminated, parsed to protobuf and unpacked into C
 * structs (pg_query_parse_protobuf), and scanned into tokens (pg_query_scan). The tokens give
 * the literal constants, every $n, comments (for the pgfold:off opt-out) and identifiers (for
 * names that would collide with the batch query's pgfold_ aliases). Each statement of the tree
 * goes to stmt_classify; the results are merged into one kind for the whole string. Last come
 * the fingerprint and the normalized text, and the decision whether texts that differ only in
 * their literals may share this shape (the shape cache's token key).
 *
 * Owns the shape until analyze_run returns it; libpg_query's results never outlive the call.
 * This is the only place, with stmt.c and select.c, that sees libpg_query's types.
 */
#include "parser/analyze.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "parser/lex.h"
#include "parser/stmt.h"

#define MAX_TEXT (1u << 30)
#define MAX_PARAMS 65535

char *
analyze_strdup(struct analyze *a, const char *str)
{
    char *p;

    if (str == NULL)
        return NULL;
    p = strdup(str);
    if (p == NULL)
        a->err = -ENOMEM;
    return p;
}

struct shape_slot *
analyze_add_slot(struct analyze *a)
{
    struct shape *s = a->s;
    struct shape_slot *v = realloc(s->slots, (size_t)(s->nslots + 1) * sizeof(*v));

    if (v == NULL) {
        a->err = -ENOMEM;
        return NULL;
    }
    s->slots = v;
    memset(&v[s->nslots], 0, sizeof(v[0]));
    v[s->nslots].lit = -1;
    return &v[s->nslots++];
}

static int
same_name(const char *x, const char *y)
{
    return (x == NULL && y == NULL) || (x != NULL && y != NULL && strcmp(x, y) == 0);
}

void
analyze_add_table(struct analyze *a, const char *schema, const char *name)
{
    struct shape *s = a->s;
    struct shape_table *v;

    if (name == NULL || *name == '\0')
        return;
    if (schema != NULL && *schema == '\0')
        schema = NULL;
    for (int i = 0; i < s->ntables; i++)
        if (same_name(s->tables[i].schema, schema) && strcmp(s->tables[i].name, name) == 0)
            return;
    v = realloc(s->tables, (size_t)(s->ntables + 1) * sizeof(*v));
    if (v == NULL) {
        a->err = -ENOMEM;
        return;
    }
    s->tables = v;
    v[s->ntables].schema = analyze_strdup(a, schema);
    v[s->ntables].name = analyze_strdup(a, name);
    s->ntables++;
}

void
analyze_add_cte(struct analyze *a, const char *name)
{
    if (name == NULL)
        return;
    if (a->nctes == a->capctes) {
        int cap = a->capctes ? a->capctes * 2 : 4;
        char **v = realloc(a->ctes, (size_t)cap * sizeof(*v));
        if (v == NULL) {
            a->err = -ENOMEM;
            return;
        }
        a->ctes = v;
        a->capctes = cap;
    }
    a->ctes[a->nctes++] = (char *)name; /* points into the parse tree, which outlives it */
}

static int
is_comment(const PgQuery__ScanToken *t)
{
    return t->token == PG_QUERY__TOKEN__SQL_COMMENT || t->token == PG_QUERY__TOKEN__C_COMMENT;
}

uint32_t
analyze_tokens_end(const struct analyze *a, uint32_t off, int count)
{
    size_t lo = 0, hi = a->scan->n_tokens;
    PgQuery__ScanToken **t = a->scan->tokens;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if ((uint32_t)t[mid]->start < off)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == a->scan->n_tokens || (uint32_t)t[lo]->start != off)
        return 0;
    for (; lo < a->scan->n_tokens; lo++) {
        if (is_comment(t[lo]))
            continue;
        if (--count == 0)
            return (uint32_t)t[lo]->end;
    }
    return 0;
}

int
analyze_lit_from(const struct analyze *a, uint32_t off)
{
    int lo = 0, hi = a->s->nlits;

    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        if (a->s->lits[mid].off < off)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Case-insensitive substring test on a token's bytes. */
static int
contains_ci(const char *p, size_t n, const char *needle)
{
    size_t k = strlen(needle);

    for (size_t i = 0; i + k <= n; i++)
        if (strncasecmp(p + i, needle, k) == 0)
            return 1;
    return 0;
}

static enum keyval_lit
number_type(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] < '0' || p[i] > '9')
            return KEYVAL_LIT_NUMERIC;
    return KEYVAL_LIT_INTEGER;
}

/* Records one $n token. The protocol allows 65535 parameters; beyond that none can be bound. */
static void
add_pref(struct analyze *a, const PgQuery__ScanToken *t)
{
    struct shape *s = a->s;
    size_t tl = (size_t)(t->end - t->start);
    long num = tl > 6 ? MAX_PARAMS + 1 : strtol(s->text + t->start + 1, NULL, 10);

    if (num < 1 || num > MAX_PARAMS) {
        a->no_slots = 1;
        return;
    }
    s->prefs[s->nprefs].off = (uint32_t)t->start;
    s->prefs[s->nprefs].len = (uint32_t)tl;
    s->prefs[s->nprefs].n = (int)num;
    if (num > s->nparams)
        s->nparams = (int)num;
    s->nprefs++;
}

/*
 * Walks libpg_query's tokens once: literals into s->lits, $n into s->prefs, and the opt-out
 * comment and reserved names into flags. Returns 0 or -ENOMEM.
 */
static int
collect_tokens(struct analyze *a)
{
    struct shape *s = a->s;
    size_t n = a->scan->n_tokens;

    s->lits = calloc(n ? n : 1, sizeof(*s->lits));
    s->prefs = calloc(n ? n : 1, sizeof(*s->prefs));
    if (s->lits == NULL || s->prefs == NULL)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++) {
        const PgQuery__ScanToken *t = a->scan->tokens[i];
        const char *p = s->text + t->start;
        size_t tl = (size_t)(t->end - t->start);
        enum keyval_lit type = KEYVAL_LIT_NONE;

        switch (t->token) {
        case PG_QUERY__TOKEN__ICONST:
        case PG_QUERY__TOKEN__FCONST:
            type = number_type(p, tl);
            break;
        case PG_QUERY__TOKEN__USCONST:
            s->shareable = -1; /* libpg_query reports no usable span for U&'' strings */
            /* fall through */
        case PG_QUERY__TOKEN__SCONST:
            type = KEYVAL_LIT_STRING;
            break;
        case PG_QUERY__TOKEN__BCONST:
        case PG_QUERY__TOKEN__XCONST:
            type = KEYVAL_LIT_OTHER;
            break;
        case PG_QUERY__TOKEN__PARAM:
            add_pref(a, t);
            break;
        case PG_QUERY__TOKEN__SQL_COMMENT:
        case PG_QUERY__TOKEN__C_COMMENT:
            if (contains_ci(p, tl, "pgfold:off"))
                s->flags |= SHAPE_F_OPTOUT;
            break;
        case PG_QUERY__TOKEN__IDENT:
            if (tl > 0 && *p == '"') {
                p++;
                tl--;
            }
            if (tl >= 7 && strncasecmp(p, "pgfold_", 7) == 0)
                s->flags |= SHAPE_F_RESERVED;
            break;
        default:
            break;
        }
        if (type != KEYVAL_LIT_NONE) {
            s->lits[s->nlits].off = (uint32_t)t->start;
            s->lits[s->nlits].len = (uint32_t)tl;
            s->lits[s->nlits].type = type;
            s->nlits++;
        }
    }
    return 0;
}

/* Kinds of a multi-statement string merge to the one that asks the most of the batcher. */
static int
kind_rank(enum shape_kind k)
{
    switch (k) {
    case SHAPE_WRITE:
        return 6;
    case SHAPE_SESSION:
        return 5;
    case SHAPE_TXN:
        return 4;
    case SHAPE_UTILITY:
        return 3;
    case SHAPE_LOOKUP:
    case SHAPE_READ:
        return 2;
    case SHAPE_EMPTY:
        return 1;
    default:
        return 0;
    }
}

static void
classify_all(struct analyze *a, const PgQuery__ParseResult *pr)
{
    struct shape *s = a->s;
    enum shape_kind kind = SHAPE_EMPTY;

    s->nstmts = (int)pr->n_stmts;
    a->collect =
        pr->n_stmts == 1 && !a->no_slots && !(s->flags & (SHAPE_F_OPTOUT | SHAPE_F_RESERVED));
    for (size_t i = 0; i < pr->n_stmts; i++) {
        enum shape_kind k = stmt_classify(a, pr->stmts[i]->stmt);
        s->contains |= 1u << k;
        if (kind_rank(k) > kind_rank(kind))
            kind = k;
    }
    if (pr->n_stmts > 1) {
        s->flags |= SHAPE_F_MULTI;
        if (kind == SHAPE_LOOKUP)
            kind = SHAPE_READ;
    }
    if (kind == SHAPE_LOOKUP && s->nslots == 0)
        kind = SHAPE_READ;
    s->kind = kind;
    if (pr->n_stmts == 1) {
        const PgQuery__RawStmt *rs = pr->stmts[0];
        s->stmt_off = (uint32_t)rs->stmt_location;
        s->stmt_end =
            rs->stmt_len ? (uint32_t)(rs->stmt_location + rs->stmt_len) : (uint32_t)s->len;
        switch (rs->stmt->node_case) {
        case PG_QUERY__NODE__NODE_SELECT_STMT:
        case PG_QUERY__NODE__NODE_INSERT_STMT:
        case PG_QUERY__NODE__NODE_UPDATE_STMT:
        case PG_QUERY__NODE__NODE_DELETE_STMT:
            break;
        default:
            s->shareable = -1; /* literals of utility statements can carry meaning */
        }
    } else {
        s->shareable = -1;
    }
}

/* Drops tables that are really CTE names (unqualified and equal to a WITH name). */
static void
drop_cte_tables(struct analyze *a)
{
    struct shape *s = a->s;
    int w = 0;

    for (int i = 0; i < s->ntables; i++) {
        int cte = 0;
        for (int j = 0; j < a->nctes && s->tables[i].schema == NULL; j++)
            cte |= strcmp(a->ctes[j], s->tables[i].name) == 0;
        if (cte) {
            free(s->tables[i].name);
            continue;
        }
        s->tables[w++] = s->tables[i];
    }
    s->ntables = w;
}

/* Whether the shape cache's own scanner sees exactly libpg_query's literals. */
static int
lexer_agrees(const struct shape *s)
{
    struct shape_lits l = {0};
    int ok = lex_scan(s->text, s->len, &l) == 0 && l.n == s->nlits;

    for (int i = 0; ok && i < l.n; i++)
        ok = l.v[i].off == s->lits[i].off && l.v[i].len == s->lits[i].len &&
             l.v[i].type == s->lits[i].type;
    shape_lits_free(&l);
    return ok;
}

static void
set_unknown(struct analyze *a, const char *why)
{
    a->s->kind = SHAPE_UNKNOWN;
    a->s->error = analyze_strdup(a, why);
    a->s->shareable = -1;
}

/*
 * Does the text hold a Unicode-escape string or identifier (U&'...', U&"...")? libpg_query
 * 15-4.0's pg_query_normalize miscounts the length of some of them (fuzz_shape found
 * `DO U&'d\0061'$$...$$`: a memcpy of -15 bytes), so such texts keep no normalized form.
 */
static bool
has_unicode_escape(const struct analyze *a)
{
    for (size_t i = 0; a->scan && i < a->scan->n_tokens; i++)
        if (a->scan->tokens[i]->token == PG_QUERY__TOKEN__USCONST ||
            a->scan->tokens[i]->token == PG_QUERY__TOKEN__UIDENT)
            return true;
    return false;
}

static void
fingerprint(struct analyze *a)
{
    PgQueryFingerprintResult fp = pg_query_fingerprint(a->s->text);

    if (fp.error == NULL)
        a->s->fingerprint = fp.fingerprint;
    pg_query_free_fingerprint_result(fp);
    if (has_unicode_escape(a))
        return; /* the callers fall back to the text as it came */
    PgQueryNormalizeResult nr = pg_query_normalize(a->s->text);
    if (nr.error == NULL)
        a->s->normalized = analyze_strdup(a, nr.normalized_query);
    pg_query_free_normalize_result(nr);
}

/* Parse, scan, classify. Leaves the kind SHAPE_UNKNOWN when libpg_query refuses the text. */
static void
analyze_text(struct analyze *a)
{
    PgQueryProtobufParseResult pr = pg_query_parse_protobuf(a->s->text);
    PgQueryScanResult sr = {0};
    PgQuery__ParseResult *tree = NULL;
    int scanned = 0;

    if (pr.error != NULL) {
        set_unknown(a, pr.error->message);
        goto out;
    }
    sr = pg_query_scan(a->s->text);
    scanned = 1;
    if (sr.error != NULL) {
        set_unknown(a, sr.error->message);
        goto out;
    }
    tree = pg_query__parse_result__unpack(NULL, pr.parse_tree.len,
                                          (const uint8_t *)pr.parse_tree.data);
    a->scan = pg_query__scan_result__unpack(NULL, sr.pbuf.len, (const uint8_t *)sr.pbuf.data);
    if (tree == NULL || a->scan == NULL) {
        a->err = -ENOMEM;
        goto out;
    }
    if (collect_tokens(a) < 0) {
        a->err = -ENOMEM;
        goto out;
    }
    classify_all(a, tree);
    drop_cte_tables(a);
    fingerprint(a);
out:
    if (tree != NULL)
        pg_query__parse_result__free_unpacked(tree, NULL);
    if (a->scan != NULL)
        pg_query__scan_result__free_unpacked(a->scan, NULL);
    a->scan = NULL;
    if (scanned)
        pg_query_free_scan_result(sr);
    pg_query_free_protobuf_parse_result(pr);
}

int
analyze_run(const char *sql, size_t len, const uint32_t *param_oids, int nparams,
            struct shape **out)
{
    struct analyze a = {0};
    struct shape *s;

    if (len > MAX_TEXT)
        return -E2BIG;
    s = calloc(1, sizeof(*s));
    if (s == NULL)
        return -ENOMEM;
    s->refs = 1;
    s->txn.read_only = -1;
    s->txn.deferrable = -1;
    s->nparams = nparams > 0 ? nparams : 0;
    s->len = len;
    s->text = malloc(len + 1);
    if (s->text == NULL) {
        free(s);
        return -ENOMEM;
    }
    if (len > 0)
        memcpy(s->text, sql, len);
    s->text[len] = '\0';
    a.s = s;
    a.param_oids = param_oids;
    a.nparam_oids = nparams;

    if (memchr(s->text, '\0', len) != NULL)
        set_unknown(&a, "NUL byte in query text");
    else
        analyze_text(&a);
    /* During analysis -1 records a veto; what is left is decided by the two scanners. */
    if (s->shareable == 0)
        s->shareable = lexer_agrees(s);
    else
        s->shareable = 0;
    free(a.ctes);
    if (a.err < 0) {
        shape_unref(s);
        return a.err;
    }
    *out = s;
    return 0;
}
