/*
 * comment: the code location in a statement's leading or trailing comment (comment.h).
 *
 * Two steps. The scanner walks the text with PostgreSQL's lexical rules, only as far as
 * finding top-level block comments needs them, and keeps the spans of the comments before
 * the first token and after the last one. Then each candidate's body is read as a list of
 * key/value pairs in one of two styles, and only the location keys are kept, decoded and
 * made safe to print (valid UTF-8, no control characters), into a fixed-size struct.
 *
 * Nothing here allocates; every buffer is bounded by the constants in comment.h, whatever the
 * input. The common case (no comment at either end) costs two short looks at the text's ends.
 */
#include "parser/comment.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* Comments kept at each end: more than any ORM writes. */
#define SCAN_KEEP 4

struct span {
    size_t off, end; /* from the opening '/' to just after the closing '/' */
};

struct scan {
    struct span head[SCAN_KEEP]; /* comments before the first token */
    int nhead;
    struct span tail[SCAN_KEEP]; /* the last comments after the last token, in order */
    int ntail;
    bool tok_seen;
    size_t first_tok;    /* where the first token starts */
    size_t last_tok_end; /* where the last token ends */
    size_t open_comment; /* on -EINVAL: where a block comment that never ends starts, or 0 */
};

/* ---- the scanner ------------------------------------------------------------------------- */

/* PostgreSQL 15's whitespace (scan.l); a vertical tab is not, before PostgreSQL 16. */
static bool
is_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f';
}

static bool
ident_start(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c >= 0x80;
}

static bool
is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

static bool
ident_cont(unsigned char c)
{
    return ident_start(c) || is_digit(c) || c == '$';
}

/* A block comment at s[i] ("/" "*"); block comments nest. Sets *end past it; -EINVAL when it
 * never ends. */
static int
skip_block(const char *s, size_t len, size_t i, size_t *end)
{
    int depth = 0;
    while (i + 1 < len) {
        if (s[i] == '/' && s[i + 1] == '*') {
            depth++;
            i += 2;
        } else if (s[i] == '*' && s[i + 1] == '/') {
            i += 2;
            if (--depth == 0) {
                *end = i;
                return 0;
            }
        } else {
            i++;
        }
    }
    return -EINVAL;
}

/* A quoted run at s[i] == q: a doubled q stands for itself; with backslash (E'' strings) a
 * backslash escapes the next byte. Returns the index past the closing quote, 0 if none. */
static size_t
skip_quoted(const char *s, size_t len, size_t i, char q, bool backslash)
{
    for (i++; i < len; i++) {
        if (backslash && s[i] == '\\') {
            i++;
        } else if (s[i] == q) {
            if (i + 1 < len && s[i + 1] == q)
                i++;
            else
                return i + 1;
        }
    }
    return 0;
}

/* At s[i] == '$': a parameter ($1), a dollar quote ($tag$ ... $tag$) or a lone '$'. Returns
 * the index past it, 0 for an unterminated dollar quote. */
static size_t
skip_dollar(const char *s, size_t len, size_t i)
{
    size_t j = i + 1;
    if (j < len && is_digit((unsigned char)s[j])) {
        while (j < len && is_digit((unsigned char)s[j]))
            j++;
        return j;
    }
    if (j < len && ident_start((unsigned char)s[j])) {
        j++;
        while (j < len && ident_cont((unsigned char)s[j]) && s[j] != '$')
            j++;
    }
    if (j >= len || s[j] != '$')
        return i + 1; /* not a delimiter: an operator character as far as we care */
    size_t dl = j + 1 - i;
    for (size_t k = j + 1; k + dl <= len; k++)
        if (memcmp(s + k, s + i, dl) == 0)
            return k + dl;
    return 0;
}

/* One token at s[i] (not space, not a comment). Returns the index past it, 0 when a string,
 * quoted identifier or dollar quote never ends. */
static size_t
skip_token(const char *s, size_t len, size_t i)
{
    unsigned char c = (unsigned char)s[i];
    if (c == '\'')
        return skip_quoted(s, len, i, '\'', false);
    if (c == '"')
        return skip_quoted(s, len, i, '"', false);
    if (c == '$')
        return skip_dollar(s, len, i);
    if (ident_start(c)) {
        size_t j = i + 1;
        while (j < len && ident_cont((unsigned char)s[j]))
            j++;
        /* E'...' (and e'...'): the one string form in which a backslash escapes a quote */
        if (j == i + 1 && (c == 'E' || c == 'e') && j < len && s[j] == '\'')
            return skip_quoted(s, len, j, '\'', true);
        return j;
    }
    if (is_digit(c) || c == '.') {
        size_t j = i + 1;
        while (j < len && (ident_cont((unsigned char)s[j]) || s[j] == '.'))
            j++;
        return j;
    }
    return i + 1;
}

static void
note_comment(struct scan *sc, size_t off, size_t end)
{
    struct span sp = {off, end};
    if (!sc->tok_seen && sc->nhead < SCAN_KEEP)
        sc->head[sc->nhead++] = sp;
    if (sc->ntail == SCAN_KEEP) {
        memmove(sc->tail, sc->tail + 1, (SCAN_KEEP - 1) * sizeof(sc->tail[0]));
        sc->ntail--;
    }
    sc->tail[sc->ntail++] = sp;
}

/* Walks the whole text. Returns 0, or -EINVAL for an unterminated comment or quote. */
static int
scan(const char *s, size_t len, struct scan *sc)
{
    memset(sc, 0, sizeof(*sc));
    size_t i = 0;
    while (i < len) {
        unsigned char c = (unsigned char)s[i];
        bool two = i + 1 < len;
        if (is_space(c) || c == ';') {
            i++;
        } else if (c == '/' && two && s[i + 1] == '*') {
            size_t end;
            if (skip_block(s, len, i, &end) != 0) {
                sc->open_comment = i;
                return -EINVAL;
            }
            note_comment(sc, i, end);
            i = end;
        } else if (c == '-' && two && s[i + 1] == '-') {
            /* PostgreSQL's scanner ends a line comment at \n or \r (non_newline) */
            while (i < len && s[i] != '\n' && s[i] != '\r')
                i++;
        } else {
            if (!sc->tok_seen)
                sc->first_tok = i;
            sc->tok_seen = true;
            sc->ntail = 0;
            i = skip_token(s, len, i);
            if (i == 0)
                return -EINVAL;
            sc->last_tok_end = i;
        }
    }
    return 0;
}

/* Could the text start or end with a block comment? (Most statements carry none.) */
static bool
maybe_comment(const char *s, size_t len)
{
    size_t a = 0, b = len;
    while (a < len && is_space((unsigned char)s[a]))
        a++;
    while (b > a && (is_space((unsigned char)s[b - 1]) || s[b - 1] == ';'))
        b--;
    if (b - a < 4)
        return false;
    return (s[a] == '/' && s[a + 1] == '*') || (s[b - 2] == '*' && s[b - 1] == '/');
}

/* ---- values -------------------------------------------------------------------------------- */

static const char *const key_names[COMMENT_K_COUNT] = {
    [COMMENT_K_APPLICATION] = "application",
    [COMMENT_K_APP_NAME] = "app_name",
    [COMMENT_K_CONTROLLER] = "controller",
    [COMMENT_K_CONTROLLER_WITH_NAMESPACE] = "controller_with_namespace",
    [COMMENT_K_NAMESPACED_CONTROLLER] = "namespaced_controller",
    [COMMENT_K_ACTION] = "action",
    [COMMENT_K_JOB] = "job",
    [COMMENT_K_ROUTE] = "route",
    [COMMENT_K_LINE] = "line",
    [COMMENT_K_SOURCE_LOCATION] = "source_location",
};

/* The values found so far, one per key (the first pair of a key wins). */
struct found {
    char v[COMMENT_K_COUNT][COMMENT_VALUE_MAX];
    size_t n[COMMENT_K_COUNT];
    bool set[COMMENT_K_COUNT];
};

static int
key_index(const char *k, size_t n)
{
    for (int i = 0; i < COMMENT_K_COUNT; i++)
        if (strlen(key_names[i]) == n && memcmp(key_names[i], k, n) == 0)
            return i;
    return -1;
}

/* Length of the valid UTF-8 sequence at p[0..n), 0 when it is not one (overlong forms,
 * surrogates and code points past U+10FFFF included). */
static size_t
utf8_len(const unsigned char *p, size_t n)
{
    unsigned char c = p[0];
    size_t need = c >= 0xc2 && c <= 0xdf   ? 2
                  : c >= 0xe0 && c <= 0xef ? 3
                  : c >= 0xf0 && c <= 0xf4 ? 4
                                           : 0;
    if (need == 0 || n < need)
        return 0;
    unsigned char lo = c == 0xe0 ? 0xa0 : c == 0xf0 ? 0x90 : 0x80;
    unsigned char hi = c == 0xed ? 0x9f : c == 0xf4 ? 0x8f : 0xbf;
    if (p[1] < lo || p[1] > hi)
        return 0;
    for (size_t k = 2; k < need; k++)
        if ((p[k] & 0xc0) != 0x80)
            return 0;
    return need;
}

/* Copies in[0..n) into out (cap bytes, NUL included) as printable text: a control character
 * or a byte that starts no valid UTF-8 sequence becomes '?'; a character that does not fit
 * whole ends the copy. Returns the length written. */
static size_t
sanitize(const unsigned char *in, size_t n, char *out, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < n && o + 1 < cap;) {
        size_t cl = in[i] >= 0x80 ? utf8_len(in + i, n - i) : 1;
        if (cl > 1 && o + cl >= cap)
            break;
        if (cl > 1) {
            memcpy(out + o, in + i, cl);
            o += cl;
            i += cl;
            continue;
        }
        out[o++] = cl == 1 && in[i] >= 0x20 && in[i] != 0x7f ? (char)in[i] : '?';
        i++;
    }
    out[o] = '\0';
    return o;
}

static int
hexval(unsigned char c)
{
    if (is_digit(c))
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Undoes %XX into out (cap bytes, no NUL), dropping what does not fit; *total is the decoded
 * length, stored or not. Returns 0, or -EINVAL for a '%' not followed by two hex digits. */
static int
percent_decode(const char *in, size_t n, unsigned char *out, size_t cap, size_t *total)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++, o++) {
        unsigned char c = (unsigned char)in[i];
        if (c == '%') {
            int hi = i + 2 < n ? hexval((unsigned char)in[i + 1]) : -1;
            int lo = i + 2 < n ? hexval((unsigned char)in[i + 2]) : -1;
            if (hi < 0 || lo < 0)
                return -EINVAL;
            c = (unsigned char)(hi * 16 + lo);
            i += 2;
        }
        if (o < cap)
            out[o] = c;
    }
    *total = o;
    return 0;
}

/* Records one pair (raw bytes as they came, decoded already if the style encodes). */
static void
found_put(struct found *f, const char *key, size_t kn, const unsigned char *val, size_t vn)
{
    int k = key_index(key, kn);
    if (k < 0 || f->set[k])
        return;
    f->n[k] = sanitize(val, vn, f->v[k], sizeof(f->v[k]));
    f->set[k] = f->n[k] > 0;
}

/* ---- the two styles ----------------------------------------------------------------------- */

static size_t
skip_ws(const char *b, size_t n, size_t i)
{
    while (i < n && is_space((unsigned char)b[i]))
        i++;
    return i;
}

/* sqlcommenter: the quoted value at b[i] == '\''; backslash escapes the next byte. Writes the
 * unescaped bytes (cut at cap) and returns the index past the closing quote, 0 if none. */
static size_t
sqlc_value(const char *b, size_t n, size_t i, char *out, size_t cap, size_t *outlen)
{
    size_t o = 0;
    for (i++; i < n; i++) {
        char c = b[i];
        if (c == '\'') {
            *outlen = o;
            return i + 1;
        }
        if (c == '\\' && i + 1 < n)
            c = b[++i];
        if (o < cap)
            out[o++] = c;
    }
    return 0;
}

/* key='value',key='value': -EINVAL on broken syntax (the whole comment is then ignored). */
static int
parse_sqlcommenter(const char *b, size_t n, struct found *f)
{
    char raw[COMMENT_MAX_BYTES]; /* a value, unescaped: never longer than the comment */
    unsigned char key[32], val[COMMENT_VALUE_MAX + 8];
    size_t i = skip_ws(b, n, 0);
    while (i < n) {
        size_t ks = i;
        while (i < n && b[i] != '=' && b[i] != ',')
            i++;
        size_t ke = i;
        while (ke > ks && is_space((unsigned char)b[ke - 1]))
            ke--;
        if (i >= n || b[i] != '=' || ke == ks)
            return -EINVAL;
        i = skip_ws(b, n, i + 1);
        size_t rn = 0, kn = 0, vn = 0;
        if (i >= n || b[i] != '\'' || (i = sqlc_value(b, n, i, raw, sizeof(raw), &rn)) == 0)
            return -EINVAL;
        /* a pair with broken percent-encoding, or a key too long to be one we keep, is skipped
         * alone */
        if (percent_decode(b + ks, ke - ks, key, sizeof(key), &kn) == 0 && kn <= sizeof(key) &&
            percent_decode(raw, rn, val, sizeof(val), &vn) == 0)
            found_put(f, (const char *)key, kn, val, vn < sizeof(val) ? vn : sizeof(val));
        i = skip_ws(b, n, i);
        if (i < n && b[i] != ',')
            return -EINVAL;
        i = skip_ws(b, n, i + 1);
    }
    return 0;
}

/* key:value,key:value (values as written; a pair without ':' is ignored). */
static void
parse_tags(const char *b, size_t n, struct found *f)
{
    size_t i = 0;
    while (i < n) {
        size_t ps = i;
        while (i < n && b[i] != ',')
            i++;
        const char *colon = memchr(b + ps, ':', i - ps);
        if (colon) {
            size_t ks = skip_ws(b, n, ps), ke = (size_t)(colon - b);
            while (ke > ks && is_space((unsigned char)b[ke - 1]))
                ke--;
            size_t vs = skip_ws(b, i, ke + 1), ve = i;
            while (ve > vs && is_space((unsigned char)b[ve - 1]))
                ve--;
            found_put(f, b + ks, ke - ks, (const unsigned char *)b + vs, ve - vs);
        }
        i++;
    }
}

/* Packs the values found into loc in key order, within COMMENT_LOC_BYTES. */
static void
pack(const struct found *f, enum comment_style style, struct comment_loc *loc)
{
    for (int k = 0; k < COMMENT_K_COUNT; k++) {
        if (!f->set[k])
            continue;
        size_t room = sizeof(loc->text) - loc->len;
        if (room < 2)
            break;
        /* a value cut here is cut at a character boundary (sanitize) */
        size_t w = sanitize((const unsigned char *)f->v[k], f->n[k], loc->text + loc->len, room);
        if (w == 0)
            break;
        loc->key[loc->n++] = (uint8_t)k;
        loc->len = (uint16_t)(loc->len + w + 1);
    }
    loc->style = loc->n ? (uint8_t)style : COMMENT_STYLE_NONE;
}

/* Where c first appears in b[0..n); n if nowhere. */
static size_t
index_of(const char *b, size_t n, char c)
{
    const char *p = memchr(b, c, n);
    return p ? (size_t)(p - b) : n;
}

/* Reads one comment (the span includes its delimiters). 0 when it gave a location. */
static int
read_comment(const char *s, struct span sp, struct comment_loc *loc)
{
    const char *b = s + sp.off + 2;
    size_t n = sp.end - sp.off - 4;
    if (n > COMMENT_MAX_BYTES || memmem(b, n, "/*", 2) != NULL)
        return -ENOENT;
    size_t eq = index_of(b, n, '='), co = index_of(b, n, ':');
    struct found f;
    memset(&f, 0, sizeof(f));
    enum comment_style style = COMMENT_STYLE_NONE;
    if (eq < co) {
        if (parse_sqlcommenter(b, n, &f) != 0)
            return -ENOENT;
        style = COMMENT_STYLE_SQLCOMMENTER;
    } else if (co < n) {
        parse_tags(b, n, &f);
        style = COMMENT_STYLE_TAGS;
    }
    memset(loc, 0, sizeof(*loc));
    pack(&f, style, loc);
    return loc->n ? 0 : -ENOENT;
}

/* ---- the interface ------------------------------------------------------------------------ */

int
comment_location(const char *sql, size_t len, struct comment_loc *loc)
{
    memset(loc, 0, sizeof(*loc));
    if (!sql || !maybe_comment(sql, len))
        return -ENOENT;
    struct scan sc;
    if (scan(sql, len, &sc) != 0)
        return -EINVAL;
    for (int i = sc.ntail - 1; i >= 0; i--)
        if (read_comment(sql, sc.tail[i], loc) == 0)
            return 0;
    for (int i = 0; i < sc.nhead; i++)
        if (read_comment(sql, sc.head[i], loc) == 0)
            return 0;
    memset(loc, 0, sizeof(*loc));
    return -ENOENT;
}

void
comment_trim(const char *sql, size_t len, size_t *off, size_t *n)
{
    struct scan sc;
    *off = 0;
    *n = len;
    if (!sql || len == 0)
        return;
    int rc = scan(sql, len, &sc);
    /* A text cut for a report (the key sources keep 160 bytes) may end inside its comment:
     * what precedes that comment is the statement. */
    if (rc != 0 && sc.open_comment > 0 && sc.tok_seen) {
        len = sc.open_comment;
        while (len > 0 && is_space((unsigned char)sql[len - 1]))
            len--;
        *n = len;
        rc = scan(sql, len, &sc);
    }
    if (rc != 0 || !sc.tok_seen || (sc.nhead == 0 && sc.ntail == 0))
        return;
    size_t start = sc.nhead > 0 ? sc.first_tok : 0;
    size_t end = sc.ntail > 0 ? sc.last_tok_end : len;
    *off = start;
    *n = end - start;
}

bool
comment_loc_equal(const struct comment_loc *a, const struct comment_loc *b)
{
    return a->n == b->n && a->len == b->len && memcmp(a->key, b->key, a->n) == 0 &&
           memcmp(a->text, b->text, a->len) == 0;
}

/* The offset of the i-th value in loc->text. */
static size_t
value_off(const struct comment_loc *loc, int i)
{
    size_t o = 0;
    for (int k = 0; k < i && o < loc->len; k++)
        o += strnlen(loc->text + o, loc->len - o) + 1;
    return o;
}

const char *
comment_loc_key(const struct comment_loc *loc, int i)
{
    if (i < 0 || i >= loc->n || loc->key[i] >= COMMENT_K_COUNT)
        return "";
    return key_names[loc->key[i]];
}

const char *
comment_loc_value(const struct comment_loc *loc, int i)
{
    if (i < 0 || i >= loc->n)
        return "";
    size_t o = value_off(loc, i);
    return o < loc->len ? loc->text + o : "";
}

size_t
comment_loc_format(const struct comment_loc *loc, char *out, size_t cap)
{
    size_t o = 0;
    if (cap == 0)
        return 0;
    out[0] = '\0';
    for (int i = 0; i < loc->n; i++) {
        int w = snprintf(out + o, cap - o, "%s%s=%s", i ? " " : "", comment_loc_key(loc, i),
                         comment_loc_value(loc, i));
        if (w < 0 || (size_t)w >= cap - o) {
            o = strnlen(out, cap);
            break;
        }
        o += (size_t)w;
    }
    return o;
}

const char *
comment_style_name(enum comment_style style)
{
    switch (style) {
    case COMMENT_STYLE_SQLCOMMENTER:
        return "sqlcommenter";
    case COMMENT_STYLE_TAGS:
        return "tags";
    case COMMENT_STYLE_NONE:
        break;
    }
    return "none";
}
