/*
 * test_comment: code locations out of statement comments (parser/comment.c), one line per
 * case: the SQL text, the result code, and the location as comment_loc_format writes it.
 *
 * The comments are written the way the libraries write them: google's sqlcommenter for Django
 * (app_name, controller, db_driver, framework, route, traceparent), for Node and Spring
 * (action, controller, framework, route), Rails 7.1's :sqlcommenter format; Rails 7.0 query log
 * tags and marginalia (application, controller, action, job, line). Then hostile text: quotes,
 * comments inside strings, unterminated input, nesting, percent-encoding errors, control
 * bytes, invalid UTF-8, and sizes past every bound.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "parser/comment.h"
#include "parser/shape.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define Q "SELECT * FROM orders WHERE id = $1"

static const struct loc_case {
    const char *sql;
    int rc;
    const char *want; /* comment_loc_format; "" when rc != 0 */
    enum comment_style style;
} loc_cases[] = {
    /* no comment at all, or one that names no place in the code */
    {Q, -ENOENT, "", COMMENT_STYLE_NONE},
    {"", -ENOENT, "", COMMENT_STYLE_NONE},
    {Q " /* just a note */", -ENOENT, "", COMMENT_STYLE_NONE},
    {Q " /*+ IndexScan(orders) */", -ENOENT, "", COMMENT_STYLE_NONE},
    {Q " /* pgfold:off */", -ENOENT, "", COMMENT_STYLE_NONE},
    {Q " /*traceparent='00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'*/", -ENOENT, "",
     COMMENT_STYLE_NONE},
    {Q " /*pid:4242,hostname:web-1*/", -ENOENT, "", COMMENT_STYLE_NONE},

    /* sqlcommenter: Django (google-cloud-sqlcommenter's middleware) */
    {Q " /*app_name='polls',controller='index',db_driver='django.db.backends.postgresql',"
       "framework='django%3A4.1.4',route='polls%2F',traceparent='00-5bd66ef5095369c7b0d1f8f4bd33"
       "716a-c532cb4098ac3dd2-01',tracestate='congo%3Dt61rcWkgMzE'*/",
     0, "app_name=polls controller=index route=polls/", COMMENT_STYLE_SQLCOMMENTER},
    /* Node, Spring: action and controller; keys come out in a fixed order */
    {Q " /*action='index',controller='orders',framework='express%3A4.17.1',route='%2Forders%2F%3A"
       "id'*/",
     0, "controller=orders action=index route=/orders/:id", COMMENT_STYLE_SQLCOMMENTER},
    /* before a trailing semicolon, after it, with space around */
    {Q " /*controller='orders',action='show'*/;", 0, "controller=orders action=show",
     COMMENT_STYLE_SQLCOMMENTER},
    {Q "; /*controller='orders'*/", 0, "controller=orders", COMMENT_STYLE_SQLCOMMENTER},
    {Q "  /* controller='orders' , action='show' */  \n", 0, "controller=orders action=show",
     COMMENT_STYLE_SQLCOMMENTER},
    /* PostgreSQL 15 does not take a vertical tab for whitespace: the comment is not the end
     * (found by fuzz_comment) */
    {Q " /*controller='orders'*/\v", -ENOENT, "", COMMENT_STYLE_NONE},
    /* an escaped quote, an encoded one, an encoded key */
    {Q " /*controller='o\\'brien',action='it%27s'*/", 0, "controller=o'brien action=it's",
     COMMENT_STYLE_SQLCOMMENTER},
    {Q " /*contr%6Fller='orders'*/", 0, "controller=orders", COMMENT_STYLE_SQLCOMMENTER},
    /* '+' is not a space in sqlcommenter's encoding; %20 is */
    {Q " /*route='a+b%20c'*/", 0, "route=a+b c", COMMENT_STYLE_SQLCOMMENTER},
    /* UTF-8 percent-encoded stays; the first pair of a key wins */
    {Q " /*route='%2Fcaf%C3%A9',route='%2Fother'*/", 0, "route=/caf\xc3\xa9",
     COMMENT_STYLE_SQLCOMMENTER},

    /* Rails query log tags (7.0 :legacy) and marginalia */
    {Q " /*application:Shop,controller:orders,action:index*/", 0,
     "application=Shop controller=orders action=index", COMMENT_STYLE_TAGS},
    {Q " /*application:Shop,controller:orders,action:index,line:/app/models/order.rb:12:in "
       "`items'*/",
     0, "application=Shop controller=orders action=index line=/app/models/order.rb:12:in `items'",
     COMMENT_STYLE_TAGS},
    {Q " /*application:Shop,job:ReceiptMailerJob*/", 0, "application=Shop job=ReceiptMailerJob",
     COMMENT_STYLE_TAGS},
    /* ActiveRecord's annotate() writes spaces inside the delimiters */
    {Q " /* controller:orders, action:index */", 0, "controller=orders action=index",
     COMMENT_STYLE_TAGS},
    /* marginalia's pid and hostname, Rails' database and socket are not locations */
    {Q " /*application:Shop,controller_with_namespace:Admin::OrdersController,action:index,pid:"
       "31337,hostname:web-7,database:shop*/",
     0, "application=Shop controller_with_namespace=Admin::OrdersController action=index",
     COMMENT_STYLE_TAGS},
    /* Rails' prepend_comment: the comment comes first */
    {"/*application:Shop,controller:orders,action:index*/ " Q, 0,
     "application=Shop controller=orders action=index", COMMENT_STYLE_TAGS},
    /* both ends: the trailing one wins; a trailing one without a location does not */
    {"/*controller:first*/ " Q " /*controller:last*/", 0, "controller=last", COMMENT_STYLE_TAGS},
    {"/*controller:first*/ " Q " /* a note */", 0, "controller=first", COMMENT_STYLE_TAGS},
    /* two trailing comments: the last with a location */
    {Q " /*controller:a*/ /*traceparent='x'*/", 0, "controller=a", COMMENT_STYLE_TAGS},
    /* a pair without ':' is ignored, the others stay */
    {Q " /*controller:orders,nonsense,action:index*/", 0, "controller=orders action=index",
     COMMENT_STYLE_TAGS},

    /* not a trailing comment: in a string, a quoted identifier, a dollar quote, mid-statement */
    {"SELECT '/*controller:x*/'", -ENOENT, "", COMMENT_STYLE_NONE},
    {"SELECT 'a' || '/*controller:x*/'", -ENOENT, "", COMMENT_STYLE_NONE},
    {"SELECT \"/*controller:x*/\" FROM t", -ENOENT, "", COMMENT_STYLE_NONE},
    {"SELECT $$ /*controller:x*/ $$", -ENOENT, "", COMMENT_STYLE_NONE},
    {"SELECT $tag$ $$ /*controller:x*/ $tag$", -ENOENT, "", COMMENT_STYLE_NONE},
    {"SELECT 1 /*controller:x*/ FROM t", -ENOENT, "", COMMENT_STYLE_NONE},
    {"SELECT 1 -- /*controller:x*/", -ENOENT, "", COMMENT_STYLE_NONE},
    /* ... but a string that ends before the comment does not hide it */
    {"SELECT 'it''s' /*controller:x*/", 0, "controller=x", COMMENT_STYLE_TAGS},
    {"SELECT E'it\\'s' /*controller:x*/", 0, "controller=x", COMMENT_STYLE_TAGS},
    {"SELECT $1, $2 /*controller:x*/", 0, "controller=x", COMMENT_STYLE_TAGS},
    {"SELECT a$b$ FROM t /*controller:x*/", 0, "controller=x", COMMENT_STYLE_TAGS},
    {"SELECT 1 -- note\n /*controller:x*/", 0, "controller=x", COMMENT_STYLE_TAGS},
    /* a line comment ends at \r too, as PostgreSQL's scanner has it (found by fuzz_comment) */
    {"SELECT 1 -- note\r /*controller:x*/", 0, "controller=x", COMMENT_STYLE_TAGS},
    {"SELECT 1 /*controller:x*/ -- note\r x", -ENOENT, "", COMMENT_STYLE_NONE},
    /* a plain string is not an E string: its backslash escapes nothing */
    {"SELECT 'a\\' /*controller:x*/", 0, "controller=x", COMMENT_STYLE_TAGS},

    /* unterminated: the server would reject the text anyway */
    {"SELECT 'abc /*controller:x*/", -EINVAL, "", COMMENT_STYLE_NONE},
    {"SELECT E'abc\\' /*controller:x*/", -EINVAL, "", COMMENT_STYLE_NONE},
    {"SELECT \"abc /*controller:x*/", -EINVAL, "", COMMENT_STYLE_NONE},
    {"SELECT $q$ abc /*controller:x*/", -EINVAL, "", COMMENT_STYLE_NONE},
    {"SELECT 1 /* /*controller:x*/", -EINVAL, "", COMMENT_STYLE_NONE},
    {Q " /*controller:x", -ENOENT, "", COMMENT_STYLE_NONE},
    {"/*controller:x", -EINVAL, "", COMMENT_STYLE_NONE},
    /* nested comments are not locations (whatever they hold) */
    {Q " /*controller:x /* inner */ */", -ENOENT, "", COMMENT_STYLE_NONE},
    {Q " /*controller:x /* inner */ */ /*action:y*/", 0, "action=y", COMMENT_STYLE_TAGS},

    /* broken sqlcommenter syntax: the whole comment is ignored */
    {Q " /*controller=orders*/", -ENOENT, "", COMMENT_STYLE_NONE},
    {Q " /*controller='orders*/", -ENOENT, "", COMMENT_STYLE_NONE},
    {Q " /*controller='orders' action='x'*/", -ENOENT, "", COMMENT_STYLE_NONE},
    {Q " /*='orders'*/", -ENOENT, "", COMMENT_STYLE_NONE},
    {Q " /*controller='o',*/", 0, "controller=o", COMMENT_STYLE_SQLCOMMENTER},
    /* broken percent-encoding: that pair alone is skipped */
    {Q " /*controller='100%',action='index'*/", 0, "action=index", COMMENT_STYLE_SQLCOMMENTER},
    {Q " /*controller='%zz',action='index'*/", 0, "action=index", COMMENT_STYLE_SQLCOMMENTER},
    {Q " /*controller='%4',action='index'*/", 0, "action=index", COMMENT_STYLE_SQLCOMMENTER},
    {Q " /*contr%o='x',action='index'*/", 0, "action=index", COMMENT_STYLE_SQLCOMMENTER},
    /* decoded bytes that are not printable text come out as '?' */
    {Q " /*controller='a%00b%0Ac%7F',action='%FF%C3'*/", 0, "controller=a?b?c? action=??",
     COMMENT_STYLE_SQLCOMMENTER},
    {Q " /*controller:a\tb*/", 0, "controller=a?b", COMMENT_STYLE_TAGS},
    /* overlong UTF-8, a surrogate: not valid, so '?' per byte */
    {Q " /*route='%C0%AF',action='%ED%A0%80'*/", 0, "action=??? route=??",
     COMMENT_STYLE_SQLCOMMENTER},
    /* empty values are no location */
    {Q " /*controller='',action:*/", -ENOENT, "", COMMENT_STYLE_NONE},
    {Q " /*controller:,action:index*/", 0, "action=index", COMMENT_STYLE_TAGS},
};

static void
test_locations(void **state)
{
    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(loc_cases); i++) {
        const struct loc_case *c = &loc_cases[i];
        struct comment_loc loc;
        char got[512];
        int rc = comment_location(c->sql, strlen(c->sql), &loc);
        comment_loc_format(&loc, got, sizeof(got));
        if (rc != c->rc || strcmp(got, c->want) != 0 || loc.style != c->style)
            fail_msg("case %zu: %s\n  got rc %d [%s] style %d, want rc %d [%s] style %d", i, c->sql,
                     rc, got, loc.style, c->rc, c->want, c->style);
    }
}

static const struct trim_case {
    const char *sql;
    const char *want;
} trim_cases[] = {
    {Q, Q},
    {Q ";", Q ";"},
    {Q "  ", Q "  "},
    {Q " /*controller='orders'*/", Q},
    {Q " /*controller='orders'*/;", Q},
    {Q "; /*a:b*/ /*c:d*/ ", Q},
    {"/*application:Shop*/ " Q, Q},
    {"  /*a*/ /*b*/ " Q " /*c*/", Q},
    {"SELECT '/*x*/'", "SELECT '/*x*/'"},
    {"SELECT 'x /*a*/", "SELECT 'x /*a*/"}, /* cannot be scanned: whole */
    {"/* only a comment */", "/* only a comment */"},
    {"SELECT 1 /* mid */ FROM t", "SELECT 1 /* mid */ FROM t"},
    /* cut for a report inside its comment: the statement before it */
    {"SELECT * FROM \"polls_choice\" /*app_name='polls',controlle",
     "SELECT * FROM \"polls_choice\""},
    {"SELECT 1 /*a*/ /*b", "SELECT 1"},
    {"/*application:Shop,contr", "/*application:Shop,contr"},
};

static void
test_trim(void **state)
{
    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(trim_cases); i++) {
        const struct trim_case *c = &trim_cases[i];
        size_t off = 99, n = 99;
        comment_trim(c->sql, strlen(c->sql), &off, &n);
        if (n != strlen(c->want) || memcmp(c->sql + off, c->want, n) != 0)
            fail_msg("trim case %zu: [%s] gave [%.*s], want [%s]", i, c->sql, (int)n, c->sql + off,
                     c->want);
    }
}

/* Not NUL-terminated: the length is all there is (the wire's statement text). */
static void
test_length_bound(void **state)
{
    (void)state;
    const char sql[] = Q " /*controller:orders*/ /*controller:beyond*/";
    size_t n = strlen(Q " /*controller:orders*/");
    struct comment_loc loc;
    assert_int_equal(comment_location(sql, n, &loc), 0);
    assert_string_equal(comment_loc_value(&loc, 0), "orders");
    assert_int_equal(comment_location(NULL, 0, &loc), -ENOENT);
}

/* Sizes past every bound: a huge comment, a huge value, every key at its longest. */
static void
test_bounds(void **state)
{
    (void)state;
    size_t big = 1 << 20;
    char *sql = malloc(big + 64);
    assert_non_null(sql);
    struct comment_loc loc;

    /* a 1 MiB comment is not read as a location */
    int n = snprintf(sql, 64, Q " /*controller:");
    memset(sql + n, 'a', big);
    memcpy(sql + n + big, "*/", 3);
    assert_int_equal(comment_location(sql, strlen(sql), &loc), -ENOENT);

    /* a value of 1,000 bytes is cut to COMMENT_VALUE_MAX - 1 */
    n = snprintf(sql, 64, Q " /*controller:");
    memset(sql + n, 'b', 1000);
    memcpy(sql + n + 1000, ",action:index*/", 16);
    assert_int_equal(comment_location(sql, strlen(sql), &loc), 0);
    assert_int_equal(loc.n, 2);
    assert_int_equal(strlen(comment_loc_value(&loc, 0)), COMMENT_VALUE_MAX - 1);
    assert_string_equal(comment_loc_value(&loc, 1), "index");

    /* an encoded value cut mid-character stays valid UTF-8: a 2-byte character never halves */
    n = snprintf(sql, 64, Q " /*route='");
    for (int i = 0; i < 200; i++)
        n += snprintf(sql + n, 16, "%%C3%%A9");
    memcpy(sql + n, "'*/", 4);
    assert_int_equal(comment_location(sql, strlen(sql), &loc), 0);
    assert_int_equal(strlen(comment_loc_value(&loc, 0)), COMMENT_VALUE_MAX - 2);

    /* every key with a long value: they all fit in COMMENT_LOC_BYTES, the later ones cut */
    static const char *const keys[] = {"application",
                                       "app_name",
                                       "controller",
                                       "controller_with_namespace",
                                       "namespaced_controller",
                                       "action",
                                       "job",
                                       "route",
                                       "line",
                                       "source_location"};
    n = snprintf(sql, 64, Q " /*");
    for (size_t k = 0; k < ARRAY_LEN(keys); k++) {
        n += snprintf(sql + n, 64, "%s%s:", k ? "," : "", keys[k]);
        memset(sql + n, 'c', 80);
        n += 80;
    }
    memcpy(sql + n, "*/", 3);
    assert_int_equal(comment_location(sql, strlen(sql), &loc), 0);
    assert_true(loc.len <= COMMENT_LOC_BYTES);
    assert_true(loc.n >= 2);
    assert_string_equal(comment_loc_key(&loc, 0), "application");
    char out[COMMENT_LOC_BYTES * 2];
    assert_true(comment_loc_format(&loc, out, sizeof(out)) < sizeof(out));
    assert_int_equal(comment_loc_format(&loc, out, 8), 7); /* cut, still terminated */
    assert_int_equal(strlen(out), 7);

    /* many pairs, none kept: linear, no location */
    n = snprintf(sql, 64, Q " /*");
    for (int i = 0; i < 500; i++)
        n += snprintf(sql + n, 16, "k%d:v,", i);
    memcpy(sql + n, "*/", 3);
    assert_int_equal(comment_location(sql, strlen(sql), &loc), -ENOENT);
    free(sql);
}

static void
test_equal(void **state)
{
    (void)state;
    struct comment_loc a, b, c;
    const char *s1 = Q " /*controller='orders',action='index'*/";
    const char *s2 = Q " /*action:index,controller:orders,pid:7*/";
    const char *s3 = Q " /*controller:orders,action:show*/";
    assert_int_equal(comment_location(s1, strlen(s1), &a), 0);
    assert_int_equal(comment_location(s2, strlen(s2), &b), 0);
    assert_int_equal(comment_location(s3, strlen(s3), &c), 0);
    /* the same place whichever style named it */
    assert_true(comment_loc_equal(&a, &b));
    assert_false(comment_loc_equal(&a, &c));
    assert_string_equal(comment_style_name(a.style), "sqlcommenter");
    assert_string_equal(comment_style_name(b.style), "tags");
    assert_string_equal(comment_loc_key(&a, 5), "");
    assert_string_equal(comment_loc_value(&a, -1), "");
}

/* "The same statement with and without a comment is one pattern": patterns are keyed by the
 * fingerprint, and libpg_query's fingerprint ignores comments wherever they are. */
static const char *const fp_variants[] = {
    "SELECT \"polls_question\".\"id\" FROM \"polls_question\" WHERE \"polls_question\".\"id\" = 3",
    "SELECT \"polls_question\".\"id\" FROM \"polls_question\" WHERE \"polls_question\".\"id\" = 4 "
    "/*app_name='polls',controller='index',route='polls%2F',traceparent='00-aa-bb-01'*/",
    "SELECT \"polls_question\".\"id\" FROM \"polls_question\" WHERE \"polls_question\".\"id\" = 5 "
    "/*app_name='polls',controller='detail',traceparent='00-cc-dd-01'*/;",
    "/*application:Polls,controller:questions,action:show*/ SELECT \"polls_question\".\"id\" FROM "
    "\"polls_question\" WHERE \"polls_question\".\"id\" = 6",
    "SELECT \"polls_question\".\"id\" /* mid */ FROM \"polls_question\" WHERE "
    "\"polls_question\".\"id\" = 7 -- line\n",
};

static void
test_fingerprint_ignores_comments(void **state)
{
    (void)state;
    uint64_t fp0 = 0;
    for (size_t i = 0; i < ARRAY_LEN(fp_variants); i++) {
        struct shape *sh = NULL;
        assert_int_equal(shape_analyze(fp_variants[i], strlen(fp_variants[i]), NULL, 0, &sh), 0);
        assert_int_equal(sh->kind, SHAPE_LOOKUP);
        assert_int_equal(sh->nslots, 1);
        if (i == 0)
            fp0 = sh->fingerprint;
        else if (sh->fingerprint != fp0)
            fail_msg("variant %zu: fingerprint %016llx, want %016llx", i,
                     (unsigned long long)sh->fingerprint, (unsigned long long)fp0);
        shape_unref(sh);
    }
    /* and a different statement is a different pattern, comment or not */
    const char *other = "SELECT \"polls_choice\".\"id\" FROM \"polls_choice\" WHERE "
                        "\"polls_choice\".\"id\" = 3 /*app_name='polls'*/";
    struct shape *sh = NULL;
    assert_int_equal(shape_analyze(other, strlen(other), NULL, 0, &sh), 0);
    assert_true(sh->fingerprint != fp0);
    shape_unref(sh);
    shape_thread_exit();
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_locations),    cmocka_unit_test(test_trim),
        cmocka_unit_test(test_length_bound), cmocka_unit_test(test_bounds),
        cmocka_unit_test(test_equal),        cmocka_unit_test(test_fingerprint_ignores_comments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
