/*
 * lex: literal constants of a SQL text, found without libpg_query, for the shape cache's hot path.
 *
 * The rules follow PostgreSQL 15's scan.l with standard_conforming_strings on: comments (nested
 * block comments, line comments, also inside operator runs), quoted identifiers, '' / E'' / B''
 * / X'' strings, dollar quotes, numbers, $n parameters. Only literal tokens are reported; all
 * other text is what the cache compares byte for byte.
 *
 * Where the server's scanner does something this one does not model (string continuation over
 * a newline, U&'' and N'' strings, numbers with trailing letters) it returns -ENOTSUP rather
 * than guess. The shape cache also checks, once per shape, that this scanner and libpg_query's
 * agree on the analysed text before letting other texts share the shape.
 */
#include "parser/lex.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static int
ident_start(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c >= 0x80;
}

static int
ident_cont(unsigned char c)
{
    return ident_start(c) || (c >= '0' && c <= '9') || c == '$';
}

static int
is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

static int
push(struct shape_lits *l, size_t off, size_t end, enum keyval_lit type)
{
    if (l->n == l->cap) {
        int cap = l->cap ? l->cap * 2 : 16;
        struct shape_lit *v = realloc(l->v, (size_t)cap * sizeof(*v));
        if (v == NULL)
            return -ENOMEM;
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n].off = (uint32_t)off;
    l->v[l->n].len = (uint32_t)(end - off);
    l->v[l->n].type = type;
    l->n++;
    return 0;
}

/* Skips a block comment starting at s[i] == '/', s[i+1] == '*'. Block comments nest. */
static int
skip_block_comment(const char *s, size_t len, size_t *i)
{
    size_t j = *i + 2;
    int depth = 1;

    while (j + 1 < len) {
        if (s[j] == '/' && s[j + 1] == '*') {
            depth++;
            j += 2;
        } else if (s[j] == '*' && s[j + 1] == '/') {
            j += 2;
            if (--depth == 0) {
                *i = j;
                return 0;
            }
        } else {
            j++;
        }
    }
    return -EINVAL;
}

/*
 * The server joins 'a' <newline> 'b' into one string. Such text is rare enough to refuse: after
 * a closing quote, look over whitespace and line comments for a newline followed by a quote.
 */
static int
continues(const char *s, size_t len, size_t i)
{
    int newline = 0;

    while (i < len) {
        char c = s[i];
        if (c == '\n' || c == '\r') {
            newline = 1;
            i++;
        } else if (c == ' ' || c == '\t' || c == '\f') {
            i++;
        } else if (c == '-' && i + 1 < len && s[i + 1] == '-') {
            while (i < len && s[i] != '\n' && s[i] != '\r')
                i++;
        } else {
            return newline && c == '\'';
        }
    }
    return 0;
}

/* How a quoted string's body reads: backslash escapes (E''), '' as a quote (not in B''/X''). */
#define Q_ESCAPES 1
#define Q_DOUBLING 2

/* A quoted string whose opening quote is at s[q]. */
static int
scan_quoted(const char *s, size_t len, size_t q, int mode, size_t *end)
{
    size_t j = q + 1;

    while (j < len) {
        if ((mode & Q_ESCAPES) && s[j] == '\\') {
            j += 2;
        } else if (s[j] == '\'') {
            if ((mode & Q_DOUBLING) && j + 1 < len && s[j + 1] == '\'') {
                j += 2;
            } else {
                if (continues(s, len, j + 1))
                    return -ENOTSUP;
                *end = j + 1;
                return 0;
            }
        } else {
            j++;
        }
    }
    return -EINVAL;
}

/* $tag$ ... $tag$ starting at s[i] == '$'. */
static int
scan_dollar(const char *s, size_t len, size_t i, size_t *end)
{
    size_t t = i + 1, tag;

    if (t < len && ident_start((unsigned char)s[t]))
        while (t < len && ident_cont((unsigned char)s[t]) && s[t] != '$')
            t++;
    if (t >= len || s[t] != '$')
        return -ENOTSUP;
    tag = t + 1 - i;
    for (size_t j = t + 1; j + tag <= len; j++) {
        if (s[j] == '$' && memcmp(s + j, s + i, tag) == 0) {
            *end = j + tag;
            return 0;
        }
    }
    return -EINVAL;
}

/* {integer}, {decimal}, {real} of scan.l; digits run into letters are refused. */
static int
scan_number(const char *s, size_t len, size_t i, size_t *end, enum keyval_lit *type)
{
    size_t j = i;
    int numeric = s[i] == '.';

    while (j < len && is_digit((unsigned char)s[j]))
        j++;
    if (j < len && s[j] == '.' && !(j + 1 < len && s[j + 1] == '.')) {
        numeric = 1;
        j++;
        while (j < len && is_digit((unsigned char)s[j]))
            j++;
    }
    if (j < len && (s[j] == 'e' || s[j] == 'E')) {
        size_t k = j + 1;
        if (k < len && (s[k] == '+' || s[k] == '-'))
            k++;
        if (k >= len || !is_digit((unsigned char)s[k]))
            return -ENOTSUP;
        numeric = 1;
        j = k;
        while (j < len && is_digit((unsigned char)s[j]))
            j++;
    }
    if (j < len && ident_cont((unsigned char)s[j]))
        return -ENOTSUP;
    *end = j;
    *type = numeric ? KEYVAL_LIT_NUMERIC : KEYVAL_LIT_INTEGER;
    return 0;
}

/* An identifier or keyword at s[i]; one-letter prefixes may start a special string. */
static int
scan_word(const char *s, size_t len, size_t *i, struct shape_lits *l)
{
    size_t st = *i, j = *i + 1, end;
    unsigned char c = (unsigned char)s[st];
    int rc;

    while (j < len && ident_cont((unsigned char)s[j]))
        j++;
    *i = j;
    if (j - st != 1 || j >= len)
        return 0;
    if ((c == 'u' || c == 'U') && s[j] == '&')
        return j + 1 < len && (s[j + 1] == '\'' || s[j + 1] == '"') ? -ENOTSUP : 0;
    if (s[j] != '\'')
        return 0;
    switch (c) {
    case 'e':
    case 'E':
        rc = scan_quoted(s, len, j, Q_ESCAPES | Q_DOUBLING, &end);
        if (rc == 0)
            rc = push(l, st, end, KEYVAL_LIT_STRING);
        break;
    case 'b':
    case 'B':
    case 'x':
    case 'X':
        rc = scan_quoted(s, len, j, 0, &end);
        if (rc == 0)
            rc = push(l, st, end, KEYVAL_LIT_OTHER);
        break;
    case 'n':
    case 'N':
        return -ENOTSUP; /* N'..' is NATIONAL CHARACTER '..': a cast the cache will not model */
    default:
        return 0; /* an identifier followed by a plain string: the string is its own token */
    }
    if (rc == 0)
        *i = end;
    return rc;
}

/* A quoted identifier "...", with "" inside. */
static int
skip_quoted_ident(const char *s, size_t len, size_t *i)
{
    size_t j = *i + 1;

    while (j < len) {
        if (s[j] == '"') {
            if (j + 1 < len && s[j + 1] == '"') {
                j += 2;
                continue;
            }
            *i = j + 1;
            return 0;
        }
        j++;
    }
    return -EINVAL;
}

int
lex_scan(const char *s, size_t len, struct shape_lits *l)
{
    size_t i = 0, end;
    enum keyval_lit type;
    int rc = 0;

    l->n = 0;
    if (len > UINT32_MAX)
        return -ENOTSUP;
    while (i < len && rc == 0) {
        unsigned char c = (unsigned char)s[i];
        unsigned char next = i + 1 < len ? (unsigned char)s[i + 1] : 0;

        if (c == '-' && next == '-') {
            while (i < len && s[i] != '\n' && s[i] != '\r')
                i++;
        } else if (c == '/' && next == '*') {
            rc = skip_block_comment(s, len, &i);
        } else if (c == '\'') {
            rc = scan_quoted(s, len, i, Q_DOUBLING, &end);
            if (rc == 0) {
                rc = push(l, i, end, KEYVAL_LIT_STRING);
                i = end;
            }
        } else if (c == '"') {
            rc = skip_quoted_ident(s, len, &i);
        } else if (ident_start(c)) {
            rc = scan_word(s, len, &i, l);
        } else if (c == '.' && next == '.') {
            i += 2; /* scan.l's dot_dot token: "1..2" is 1, .., 2 */
        } else if (is_digit(c) || (c == '.' && is_digit(next))) {
            rc = scan_number(s, len, i, &end, &type);
            if (rc == 0) {
                rc = push(l, i, end, type);
                i = end;
            }
        } else if (c == '$' && is_digit(next)) {
            i++;
            while (i < len && is_digit((unsigned char)s[i]))
                i++;
            if (i < len && ident_cont((unsigned char)s[i]))
                rc = -ENOTSUP;
        } else if (c == '$') {
            rc = scan_dollar(s, len, i, &end);
            if (rc == 0) {
                rc = push(l, i, end, KEYVAL_LIT_STRING);
                i = end;
            }
        } else if (c == '\0') {
            rc = -ENOTSUP; /* the server would stop reading here */
        } else {
            i++;
        }
    }
    return rc;
}
