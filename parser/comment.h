/*
 * comment: the code location an application writes into a statement's comment.
 *
 * ORMs can tag every statement with the code that sent it, in a block comment at the end of
 * the text (or, with Rails' prepend_comment, at its start). The comment's body is one of:
 *
 *   sqlcommenter (Django, Flask, Spring, Node, Rails 7.1's :sqlcommenter format)
 *       controller='orders',action='index',route='%2Forders%2F'
 *       keys and values URL-encoded, values single-quoted, a quote inside escaped as \'
 *   Rails query log tags (7.0's :legacy format) and marginalia
 *       application:Shop,controller:orders,action:index
 *       key:value pairs, comma-separated, values as written
 *
 * comment_location() reads such a comment into a struct comment_loc: only the keys that name a
 * place in the code (comment_key below). Everything else a comment may carry is dropped on
 * purpose: traceparent, tracestate, pid, hostname, db_driver and framework change per request
 * or per process, and a location that changes per request would make every loop a location of
 * its own.
 *
 * The comment never changes a statement's shape: the fingerprint (libpg_query) ignores
 * comments. The location travels beside the shape, for reports only.
 *
 * Pure: no allocation, no pg_query, no global state. The scanner follows PostgreSQL's lexical
 * rules as far as finding comments needs them (strings, E'' strings, quoted identifiers, dollar
 * quotes, nested block comments, line comments), so a comment-like text inside a string literal
 * is never taken for a comment.
 */
#ifndef PGFOLD_COMMENT_H
#define PGFOLD_COMMENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The keys kept, in the order a location lists them. */
enum comment_key {
    COMMENT_K_APPLICATION = 0,           /* Rails, marginalia: the application's name */
    COMMENT_K_APP_NAME,                  /* sqlcommenter Django: the Django app */
    COMMENT_K_CONTROLLER,                /* sqlcommenter, Rails: controller (Django: view) */
    COMMENT_K_CONTROLLER_WITH_NAMESPACE, /* marginalia */
    COMMENT_K_NAMESPACED_CONTROLLER,     /* Rails 7.1 */
    COMMENT_K_ACTION,
    COMMENT_K_JOB,             /* Rails: the ActiveJob class */
    COMMENT_K_ROUTE,           /* sqlcommenter: the URL route */
    COMMENT_K_LINE,            /* marginalia: source file and line */
    COMMENT_K_SOURCE_LOCATION, /* Rails 7.1: source file and line */
    COMMENT_K_COUNT,
};

enum comment_style {
    COMMENT_STYLE_NONE = 0,
    COMMENT_STYLE_SQLCOMMENTER, /* key='value' */
    COMMENT_STYLE_TAGS,         /* key:value (Rails query log tags, marginalia) */
};

#define COMMENT_VALUE_MAX 96   /* bytes of one value (NUL included); longer ones are cut */
#define COMMENT_LOC_BYTES 200  /* bytes of all values together (NULs included) */
#define COMMENT_MAX_BYTES 4096 /* a comment longer than this is not read as a location */

/*
 * A code location: n tags in enum comment_key order, each key at most once. Values are
 * decoded (sqlcommenter's URL-encoding undone), valid UTF-8 with no control characters (any
 * other byte reads '?'), NUL-terminated one after the other in text. Fixed size, no
 * pointers: copy it by assignment; compare with comment_loc_equal.
 */
struct comment_loc {
    uint8_t n;
    uint8_t style; /* enum comment_style */
    uint8_t key[COMMENT_K_COUNT];
    uint16_t len; /* bytes of text in use */
    char text[COMMENT_LOC_BYTES];
};

/*
 * Reads the code location of sql[0..len) (need not be NUL-terminated): the last block comment
 * after the statement that carries a location key, else the first one before it. Fills *loc
 * (zeroed first) and returns 0 when at least one location key was found; -ENOENT when there is
 * no such comment; -EINVAL when the text has an unterminated comment, string or quoted
 * identifier (the server rejects it anyway). A comment is skipped as a whole when it is
 * longer than COMMENT_MAX_BYTES, holds a nested comment, or breaks its style's syntax
 * (sqlcommenter: a value not quoted, a quote not closed); a pair whose percent-encoding is
 * broken (%zz, a cut %4) is skipped alone.
 */
int comment_location(const char *sql, size_t len, struct comment_loc *loc)
    __attribute__((warn_unused_result));

/*
 * The statement without the block comments and whitespace before it, and without the run of
 * whitespace, ';' and block comments after it when that run holds a comment: *off and *n
 * give the span. Text that cannot be scanned comes back whole. For reports: two texts of one
 * pattern differ only in their location comments, and the first one seen must not show its
 * location as the pattern's.
 */
void comment_trim(const char *sql, size_t len, size_t *off, size_t *n);

/* Same keys, same values. */
bool comment_loc_equal(const struct comment_loc *a, const struct comment_loc *b);

/* The i-th tag (0 <= i < loc->n): its key's name ("controller") and its value. */
const char *comment_loc_key(const struct comment_loc *loc, int i);
const char *comment_loc_value(const struct comment_loc *loc, int i);

/*
 * Writes the location for people ("controller=orders action=index route=/orders/"), cut to
 * fit cap (always NUL-terminated when cap > 0); "" for no tags. Returns the length written.
 */
size_t comment_loc_format(const struct comment_loc *loc, char *out, size_t cap);

/* "sqlcommenter", "tags" or "none". */
const char *comment_style_name(enum comment_style style);

#endif
