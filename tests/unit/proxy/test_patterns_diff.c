/*
 * test_patterns_diff: the regression gate's comparison (proxy/patterns_diff.c) and the admin
 * address it reads (proxy/fetch.c), one line per case: two /patterns documents, the options,
 * the exit status and what the report must say.
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

#include "proxy/fetch.h"
#include "proxy/patterns_diff.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* One pattern as /patterns renders it (the fields the gate reads), with one site. */
#define PAT(fp, lookups, loops, site)                                                              \
    "{\"fingerprint\":\"" fp "\",\"source_fingerprint\":\"s1\",\"source_column\":\"question_id\"," \
    "\"query\":\"SELECT * FROM q WHERE id = $1\",\"source_query\":\"SELECT * FROM c\","            \
    "\"lookups\":" #lookups ",\"loops\":" #loops ",\"suggestion\":\"select_related('question')\"," \
    "\"seen_under\":[" site "]}"
#define SITE(loc, loops)                                                                           \
    "{\"database\":\"app\",\"user\":\"web\",\"application_name\":\"shop\",\"location\":\"" loc     \
    "\",\"loops\":" #loops "}"
#define LOC "controller=orders action=index"

static const struct diff_case {
    const char *name;
    const char *base, *now;
    double factor;
    uint64_t min;
    int rc;
    const char *want[6]; /* in the report (out), or in err when rc is 2 */
} cases[] = {
    {"identical",
     "[" PAT("a", 10, 2, SITE(LOC, 2)) "]",
     "[" PAT("a", 10, 2, SITE(LOC, 2)) "]",
     1.5,
     2,
     0,
     {"patterns-diff: 0 new, 0 grown past 1.50x, 1 within, 0 gone"}},
    {"a new pattern, printed in order",
     "[]",
     "[" PAT("a", 10, 2, SITE(LOC, 2)) "]",
     1.5,
     2,
     1,
     {"NEW N+1 pattern (10 lookups in 2 loops)\n"
      "     source query     SELECT * FROM c (column question_id)\n"
      "  -> repeated query   SELECT * FROM q WHERE id = $1\n"
      "  -> location         database app, user web, application_name shop, at " LOC " (2 loops)\n"
      "  -> fix              select_related('question')\n",
      "1 new, 0 grown"}},
    {"grown past the factor",
     "[" PAT("a", 10, 2, SITE(LOC, 2)) "]",
     "[" PAT("a", 20, 4, SITE(LOC, 4)) "]",
     1.5,
     2,
     1,
     {"GROWN N+1 pattern: 20 lookups, baseline 10 (2.00x > 1.50x) (20 lookups in 4 loops)",
      "0 new, 1 grown"}},
    {"grown exactly by the factor is within",
     "[" PAT("a", 10, 2, SITE(LOC, 2)) "]",
     "[" PAT("a", 20, 4, SITE(LOC, 4)) "]",
     2.0,
     2,
     0,
     {"0 new, 0 grown past 2.00x, 1 within"}},
    {"fewer lookups is within",
     "[" PAT("a", 10, 2, SITE(LOC, 2)) "]",
     "[" PAT("a", 3, 1, SITE(LOC, 1)) "]",
     1.5,
     2,
     0,
     {"1 within"}},
    {"under --min-lookups is left out",
     "[]",
     "[" PAT("a", 1, 1, SITE(LOC, 1)) "]",
     1.5,
     2,
     0,
     {"0 new", "1 under 2 lookups"}},
    {"a pattern gone is no failure",
     "[" PAT("a", 10, 2, SITE(LOC, 2)) "]",
     "[]",
     1.5,
     2,
     0,
     {"0 new, 0 grown past 1.50x, 0 within, 1 gone"}},
    {"matched by fingerprints and column, not text",
     "[" PAT("a", 10, 2, SITE(LOC, 2)) "]",
     "[" PAT("b", 10, 2, SITE(LOC, 2)) "]",
     1.5,
     2,
     1,
     {"NEW N+1", "1 new", "1 gone"}},
    {"an object with a patterns member",
     "{\"patterns\":[" PAT("a", 10, 2, SITE(LOC, 2)) "]}",
     "[" PAT("a", 10, 2, SITE(LOC, 2)) "]",
     1.5,
     2,
     0,
     {"1 within"}},
    {"a site without a location comment",
     "[]",
     "[" PAT("a", 10, 2, SITE("", 2)) "]",
     1.5,
     2,
     1,
     {"application_name shop (2 loops) - no location comment: docs/patterns-gate.md"}},
    {"no sites at all",
     "[]",
     "[" PAT("a", 10, 2, ) "]",
     1.5,
     2,
     1,
     {"  -> location         unknown"}},
    {"more sites than printed",
     "[]",
     "[" PAT("a", 10, 4,
             SITE("controller=a", 1) "," SITE("controller=b", 1) "," SITE(
                 "controller=c", 1) "," SITE("controller=d", 1)) "]",
     1.5,
     2,
     1,
     {"at controller=c (1 loop)\n", "and 1 more site\n"}},
    /* inputs that are not /patterns documents */
    {"baseline not JSON", "[{", "[]", 1.5, 2, 2, {"base: not JSON"}},
    {"baseline empty", "", "[]", 1.5, 2, 2, {"base: not JSON"}},
    {"current not a list", "[]", "{\"patterns\":7}", 1.5, 2, 2, {"now: not a /patterns document"}},
    {"a pattern without fingerprint",
     "[{\"lookups\":3}]",
     "[]",
     1.5,
     2,
     2,
     {"base: pattern 1 has no fingerprint or lookups"}},
    {"lookups not a number",
     "[]",
     "[{\"fingerprint\":\"a\",\"lookups\":\"3\"}]",
     1.5,
     2,
     2,
     {"now: pattern 1 has no fingerprint or lookups"}},
};

static char *
capture(FILE *f, char **buf)
{
    fflush(f);
    return *buf;
}

static void
test_compare(void **state)
{
    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        const struct diff_case *c = &cases[i];
        char *ob = NULL, *eb = NULL;
        size_t ol = 0, el = 0;
        FILE *out = open_memstream(&ob, &ol), *err = open_memstream(&eb, &el);
        struct patterns_diff_opts o = {.factor = c->factor, .min_lookups = c->min};
        int rc = patterns_diff_compare(c->base, strlen(c->base), "base", c->now, strlen(c->now),
                                       "now", &o, out, err);
        const char *text = c->rc == PATTERNS_DIFF_ERROR ? capture(err, &eb) : capture(out, &ob);
        if (rc != c->rc)
            fail_msg("%s: exit %d, want %d\n%s%s", c->name, rc, c->rc, capture(out, &ob),
                     capture(err, &eb));
        for (size_t k = 0; k < ARRAY_LEN(c->want) && c->want[k]; k++)
            if (!strstr(text, c->want[k]))
                fail_msg("%s: no [%s] in:\n%s", c->name, c->want[k], text);
        fclose(out);
        fclose(err);
        free(ob);
        free(eb);
    }
}

static const struct url_case {
    const char *url;
    int rc;
    const char *host;
    int port;
    const char *path;
} urls[] = {
    {"http://127.0.0.1:6433/patterns", 0, "127.0.0.1", 6433, "/patterns"},
    {"http://127.0.0.1:7000", 0, "127.0.0.1", 7000, "/patterns"},
    {"127.0.0.1:7000", 0, "127.0.0.1", 7000, "/patterns"},
    {"localhost", 0, "localhost", 6433, "/patterns"},
    {"HTTP://db.internal:80/x/patterns", 0, "db.internal", 80, "/x/patterns"},
    {"[::1]:6433", 0, "::1", 6433, "/patterns"},
    {"http://[::1]/p", 0, "::1", 6433, "/p"},
    {"*:6433", 0, "127.0.0.1", 6433, "/patterns"}, /* admin_listen's every address */
    {"0.0.0.0:6433", 0, "127.0.0.1", 6433, "/patterns"},
    {"[::]:6433", 0, "::1", 6433, "/patterns"},
    {"https://127.0.0.1:6433", -EINVAL, NULL, 0, NULL},
    {"127.0.0.1:", -EINVAL, NULL, 0, NULL},
    {"127.0.0.1:0", -EINVAL, NULL, 0, NULL},
    {"127.0.0.1:65536", -EINVAL, NULL, 0, NULL},
    {"127.0.0.1:12x", -EINVAL, NULL, 0, NULL},
    {":6433", -EINVAL, NULL, 0, NULL},
    {"[::1", -EINVAL, NULL, 0, NULL},
    {"[::1]x", -EINVAL, NULL, 0, NULL},
    {"127.0.0.1:6433/a b", -EINVAL, NULL, 0, NULL},
    {"", -EINVAL, NULL, 0, NULL},
};

static void
test_urls(void **state)
{
    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(urls); i++) {
        const struct url_case *u = &urls[i];
        char host[64] = "", path[64] = "";
        int port = 0;
        int rc =
            fetch_parse_url(u->url, "/patterns", host, sizeof(host), &port, path, sizeof(path));
        if (rc != u->rc)
            fail_msg("%s: rc %d, want %d", u->url, rc, u->rc);
        if (rc == 0 &&
            (strcmp(host, u->host) != 0 || port != u->port || strcmp(path, u->path) != 0))
            fail_msg("%s: %s %d %s, want %s %d %s", u->url, host, port, path, u->host, u->port,
                     u->path);
    }
}

/* Nothing listens: a clear error, not a hang. */
static void
test_fetch_refused(void **state)
{
    (void)state;
    struct buf body;
    char err[256] = "";
    buf_init(&body);
    /* port 1 on loopback: nothing listens there on a test machine */
    int rc = fetch_get("127.0.0.1", 1, "/patterns", "", 2000, &body, err, sizeof(err));
    assert_true(rc < 0);
    assert_non_null(strstr(err, "127.0.0.1:1: "));
    assert_int_equal(buf_used(&body), 0);
    buf_free(&body);
}

static void
test_wanted(void **state)
{
    (void)state;
    char *a[] = {"pgfold", "--listen", "x", "--patterns-diff=b.json", NULL};
    char *b[] = {"pgfold", "--patterns", "x", NULL};
    assert_true(patterns_diff_wanted(4, a));
    assert_false(patterns_diff_wanted(3, b));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_compare),
        cmocka_unit_test(test_urls),
        cmocka_unit_test(test_fetch_refused),
        cmocka_unit_test(test_wanted),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
