/*
 * test_patterns: the pattern registry's attribution and savings (proxy/attrib.c, stats.c,
 * savings.c), without sockets.
 *
 *   sites    a run of events (site letter and loops) -> the sites listed, most loops first,
 *            with their over-count: the first site stays, the others follow Space-Saving
 *   savings  events of rewrite and observe sessions, in and out of blocks -> the pattern's
 *            saved and would-save figures and the process-wide ones, never mixed
 *   render   /patterns is JSON that says the same (parsed back with jansson), its text shows
 *            no comment, and a comment names the site
 *   median   upstream round trips -> the median each estimate multiplies by
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "proxy/attrib.h"
#include "proxy/savings.h"
#include "proxy/stats.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* ---- sites ------------------------------------------------------------------------------- */

/* events: "a1 b3 f0" = site a with 1 loop, ...; want: "a:1:0 b:3:0" as listed (name:loops:over) */
static const struct site_case {
    const char *name;
    const char *events;
    const char *want;
} site_cases[] = {
    {"one site", "a1 a1 a1", "a:3:0"},
    {"a site seen without a loop is listed while there is room", "a0", "a:0:0"},
    {"distinct sites, the most loops first, ties in order", "a1 b1 c2 d1 e1",
     "c:2:0 a:1:0 b:1:0 d:1:0 e:1:0"},
    {"a new site takes the slot of the fewest loops (the oldest of them) and inherits them",
     "a1 b3 c3 d3 e3 f1", "f:4:3 c:3:0 d:3:0 e:3:0 a:1:0"},
    {"the first site is never replaced, however few its loops", "a1 b5 c5 d5 e5 f1 g1",
     "f:6:5 g:6:5 d:5:0 e:5:0 a:1:0"},
    {"a site seen without a loop does not reshuffle a full table", "a1 b1 c1 d1 e1 f0",
     "a:1:0 b:1:0 c:1:0 d:1:0 e:1:0"},
    {"a site that comes back after being replaced starts from the smallest count",
     "a1 b2 c2 d2 e2 f1 b1", "f:3:2 b:3:2 d:2:0 e:2:0 a:1:0"},
};

static void
render_sites(const struct attrib *a, char *out, size_t cap)
{
    struct buf b;
    buf_init(&b);
    attrib_render_json(a, &b);
    buf_put_u8(&b, 0);
    json_t *sites = json_loads((const char *)buf_head(&b), 0, NULL);
    assert_non_null(sites);
    size_t i, o = 0;
    json_t *s;
    out[0] = '\0';
    json_array_foreach(sites, i, s)
    {
        o += (size_t)snprintf(out + o, cap - o, "%s%s:%lld:%lld", i ? " " : "",
                              json_string_value(json_object_get(s, "application_name")),
                              json_integer_value(json_object_get(s, "loops")),
                              json_integer_value(json_object_get(s, "loops_overcount")));
    }
    json_decref(sites);
    buf_free(&b);
}

static void
test_sites(void **state)
{
    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(site_cases); i++) {
        const struct site_case *c = &site_cases[i];
        struct attrib a;
        memset(&a, 0, sizeof(a));
        uint64_t t = 0;
        for (const char *p = c->events; *p; p++) {
            if (*p == ' ')
                continue;
            char name[2] = {p[0], 0};
            struct attrib_origin o = {.database = "db", .user = "u", .application = name};
            attrib_note(&a, &o, (uint64_t)(p[1] - '0'), ++t);
            p++;
        }
        char got[256];
        render_sites(&a, got, sizeof(got));
        if (strcmp(got, c->want) != 0)
            fail_msg("%s: [%s], want [%s]", c->name, got, c->want);
        assert_true(a.nsites <= ATTRIB_SITES);
    }
}

/* Same names, another location: another site; the same location in another style: the same. */
static void
test_site_identity(void **state)
{
    (void)state;
    struct attrib a;
    memset(&a, 0, sizeof(a));
    const char *s1 = "SELECT 1 /*controller='orders',action='index'*/";
    const char *s2 = "SELECT 1 /*controller:orders,action:index*/";
    const char *s3 = "SELECT 1 /*controller:orders,action:show*/";
    struct attrib_origin o = {.database = "db", .user = "u", .application = "app"};
    assert_int_equal(comment_location(s1, strlen(s1), &o.loc), 0);
    attrib_note(&a, &o, 1, 1);
    assert_int_equal(comment_location(s2, strlen(s2), &o.loc), 0);
    attrib_note(&a, &o, 1, 2);
    assert_int_equal(comment_location(s3, strlen(s3), &o.loc), 0);
    attrib_note(&a, &o, 1, 3);
    o.database = "other";
    attrib_note(&a, &o, 1, 4);
    assert_int_equal(a.nsites, 3);
    assert_int_equal(attrib_top(&a)->loops, 2);
    char line[512];
    attrib_describe(&a.site[0], line, sizeof(line));
    assert_string_equal(line, "database db, user u, application_name app, at controller=orders "
                              "action=index");
    struct attrib_site bare = {0};
    assert_int_equal(attrib_describe(&bare, line, sizeof(line)), 0);
}

/* ---- savings ----------------------------------------------------------------------------- */

static const struct engine_pattern key = {
    .fingerprint = 0xabc,
    .source_fingerprint = 0xdef,
    .repeated = "SELECT * FROM q WHERE id = $1 /*controller='orders',action='index'*/",
    .source = "/*application:Shop*/ SELECT * FROM c",
    .source_column = "q_id",
    .source_table = "c",
    .key_table = "q",
    .key_column = "id",
};

/* One event of a session: find with the statement (named), or add. */
struct event {
    bool find;
    bool observe, in_block;
    struct engine_delta d;
};

static const struct savings_case {
    const char *name;
    struct event ev[8];
    int nev;
    int64_t saved_rt, saved_st, would_rt, would_st;    /* -1: the figure renders as null */
    uint64_t g_saved, g_block, g_would, g_would_block; /* process-wide counters */
} savings_cases[] = {
    {"rewrite, autocommit: a batch, then its answers",
     {{true, false, false, {.loops = 1, .lookups = 1}},
      {false, false, false, {.batches = 1, .fetched = 3}},
      {false, false, false, {.lookups = 1, .used = 1, .saved = 1}},
      {false, false, false, {.lookups = 1, .used = 1, .saved = 1}}},
     4,
     2,
     2,
     -1,
     -1,
     0,
     0,
     0,
     0},
    {"rewrite, in a block: each batch costs SAVEPOINT and RELEASE",
     {{true, false, true, {.loops = 1, .lookups = 1}},
      {false, false, true, {.batches = 1, .fetched = 5}},
      {false, false, true, {.lookups = 4, .used = 4, .saved = 4}}},
     3,
     4,
     2,
     -1,
     -1,
     0,
     0,
     0,
     0},
    {"rewrite, a batch that saved nothing in a block: below zero",
     {{true, false, true, {.loops = 1, .lookups = 1}}, {false, false, true, {.batches = 1}}},
     2,
     0,
     -2,
     -1,
     -1,
     0,
     0,
     0,
     0},
    {"rewrite, never batched: nothing claimed",
     {{true, false, false, {.loops = 1, .lookups = 1}}, {true, false, false, {.lookups = 1}}},
     2,
     -1,
     -1,
     -1,
     -1,
     0,
     0,
     0,
     0},
    {"observe: would save every lookup but the first of each loop",
     {{true, true, false, {.loops = 1, .lookups = 1}},
      {true, true, false, {.lookups = 1, .saved = 1}},
      {true, true, false, {.lookups = 1, .saved = 1}},
      {true, true, false, {.loops = 1, .lookups = 1}},
      {true, true, false, {.lookups = 1, .saved = 1}}},
     5,
     -1,
     -1,
     3,
     3,
     0,
     0,
     3,
     0},
    {"observe, in a block: the batch it would send would cost two statements",
     {{true, true, true, {.loops = 1, .lookups = 1}},
      {true, true, true, {.lookups = 1, .saved = 1}},
      {true, true, true, {.lookups = 1, .saved = 1}}},
     3,
     -1,
     -1,
     2,
     0,
     0,
     0,
     2,
     2},
    {"both modes (a reload between sessions): the figures stay apart",
     {{true, true, false, {.loops = 1, .lookups = 1}},
      {true, true, false, {.lookups = 1, .saved = 1}},
      {true, false, false, {.loops = 1, .lookups = 1}},
      {false, false, false, {.batches = 1, .fetched = 2}},
      {false, false, false, {.lookups = 1, .saved = 1}}},
     5,
     1,
     1,
     1,
     1,
     0,
     0,
     1,
     0},
};

static void
apply_events(struct stats *st, const struct savings_case *c, struct stats_pattern **pp)
{
    struct stats_pattern *p = NULL;
    for (int k = 0; k < c->nev; k++) {
        const struct event *e = &c->ev[k];
        struct stats_origin o = {.named = e->find, .observe = e->observe, .in_block = e->in_block};
        o.where.database = "db";
        o.where.user = "u";
        o.where.application = "app";
        bool created = false;
        if (e->find) {
            const char *sql = "SELECT * FROM q WHERE id = 1 /*controller:orders*/";
            assert_int_equal(comment_location(sql, strlen(sql), &o.where.loc), 0);
            p = stats_pattern_find(st, &key, 1000 + (uint64_t)k, &e->d, &o, &created);
            assert_non_null(p);
            assert_int_equal(created, k == 0);
        } else {
            stats_pattern_add(st, p, 1000 + (uint64_t)k, &e->d, &o);
        }
    }
    *pp = p;
}

static void
check_savings(const char *name, const char *what, const struct savings *s, int64_t rt, int64_t sts)
{
    if ((rt < 0) != !s->any || (rt >= 0 && (s->roundtrips != rt || s->statements != sts)))
        fail_msg("%s: %s: any %d rt %lld st %lld, want rt %lld st %lld", name, what, s->any,
                 (long long)s->roundtrips, (long long)s->statements, (long long)rt, (long long)sts);
}

static void
test_savings(void **state)
{
    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(savings_cases); i++) {
        const struct savings_case *c = &savings_cases[i];
        struct stats st;
        assert_int_equal(stats_init(&st), 0);
        struct stats_pattern *p;
        apply_events(&st, c, &p);
        struct savings saved, would;
        savings_of_pattern(p, 200.0, &saved, &would);
        check_savings(c->name, "pattern saved", &saved, c->saved_rt, c->saved_st);
        check_savings(c->name, "pattern would save", &would, c->would_rt, c->would_st);
        if (saved.any)
            assert_true(saved.est_ms == (double)saved.roundtrips * 0.2);
        /* the engine's own counter carries the saved round trips; the rest are ours */
        if (stats_get(&st.c.block_batch_stmts) != c->g_block ||
            stats_get(&st.c.would_save) != c->g_would ||
            stats_get(&st.c.would_block_stmts) != c->g_would_block)
            fail_msg("%s: process-wide block %llu would %llu would-block %llu", c->name,
                     (unsigned long long)stats_get(&st.c.block_batch_stmts),
                     (unsigned long long)stats_get(&st.c.would_save),
                     (unsigned long long)stats_get(&st.c.would_block_stmts));
        assert_int_equal(p->attrib.nsites, 1);
        stats_destroy(&st);
    }
}

/* ---- render -------------------------------------------------------------------------------- */

static json_t *
patterns_json(struct stats *st)
{
    struct buf b;
    buf_init(&b);
    stats_render_patterns_json(st, 0, false, &b);
    buf_put_u8(&b, 0);
    json_error_t je;
    json_t *d = json_loads((const char *)buf_head(&b), 0, &je);
    if (!d)
        fail_msg("not JSON: %s: %s", je.text, (const char *)buf_head(&b));
    buf_free(&b);
    return d;
}

static void
test_render(void **state)
{
    (void)state;
    struct stats st;
    assert_int_equal(stats_init(&st), 0);
    struct stats_pattern *p;
    apply_events(&st, &savings_cases[6], &p);
    json_t *d = patterns_json(&st);
    json_t *q = json_array_get(d, 0);
    assert_string_equal(json_string_value(json_object_get(q, "query")),
                        "SELECT * FROM q WHERE id = $1");
    assert_string_equal(json_string_value(json_object_get(q, "source_query")), "SELECT * FROM c");
    assert_int_equal(json_integer_value(json_object_get(q, "roundtrips_saved")), 1);
    json_t *saved = json_object_get(q, "saved"), *would = json_object_get(q, "would_save");
    assert_int_equal(json_integer_value(json_object_get(saved, "roundtrips")), 1);
    assert_int_equal(json_integer_value(json_object_get(would, "statements")), 1);
    assert_true(json_real_value(json_object_get(saved, "per_roundtrip_ms")) == 0.0);
    json_t *site = json_array_get(json_object_get(q, "seen_under"), 0);
    assert_string_equal(json_string_value(json_object_get(site, "location")), "controller=orders");
    assert_string_equal(json_string_value(json_object_get(site, "comment_style")), "tags");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(site, "tags"), "controller")), "orders");
    assert_int_equal(json_integer_value(json_object_get(site, "loops")), 2);
    json_decref(d);

    /* /stats: the process-wide figures, labelled */
    struct buf b;
    buf_init(&b);
    stats_render_counters_json(&st, &b);
    buf_put_u8(&b, 0);
    json_t *c = json_loads((const char *)buf_head(&b), 0, NULL);
    assert_non_null(c);
    json_t *sv = json_object_get(c, "savings");
    assert_true(json_is_null(json_object_get(sv, "saved"))); /* no engine counter moved */
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(sv, "would_save"), "roundtrips")), 1);
    json_decref(c);
    buf_reset(&b);

    /* /metrics has every series, the HTML cell labels both figures and escapes the sites */
    const struct stats_process proc = {.version = "test", .mode = "rewrite"};
    stats_render_metrics(&st, &proc, &b);
    buf_put_u8(&b, 0);
    const char *m = (const char *)buf_head(&b);
    assert_non_null(strstr(m, "\npgfold_statements_saved 0\n"));
    assert_non_null(strstr(m, "\npgfold_roundtrips_would_save_total 1\n"));
    assert_non_null(strstr(m, "# TYPE pgfold_estimated_time_saved_seconds gauge\n"));
    buf_reset(&b);
    stats_render_pattern_html(p, 300.0, &b);
    buf_put_u8(&b, 0);
    const char *h = (const char *)buf_head(&b);
    assert_non_null(strstr(h, "saved: 1 round trip, 1 statement, ~0.3 ms (estimate)<br>"));
    assert_non_null(strstr(h, "would save (observe mode, nothing batched): 1 round trip"));
    assert_non_null(strstr(h, "at controller=orders (2 loops)"));
    buf_free(&b);
    stats_destroy(&st);
}

/* The registry's cap: no pattern past it, but the process-wide figures still move. */
static void
test_full(void **state)
{
    (void)state;
    struct stats st;
    assert_int_equal(stats_init(&st), 0);
    struct engine_pattern k = key;
    struct engine_delta d = {.loops = 1, .lookups = 1, .saved = 1};
    struct stats_origin o = {.named = true, .observe = true};
    bool created;
    for (uint64_t i = 0; i <= STATS_MAX_PATTERNS; i++) {
        k.fingerprint = i + 1;
        struct stats_pattern *p = stats_pattern_find(&st, &k, 1, &d, &o, &created);
        assert_true(i < STATS_MAX_PATTERNS ? p != NULL : p == NULL);
    }
    assert_int_equal(stats_get(&st.c.would_save), STATS_MAX_PATTERNS + 1);
    stats_destroy(&st);
}

/* ---- median ---------------------------------------------------------------------------------- */

static const struct median_case {
    const char *name;
    uint64_t us[8];
    int n;
    double want;
} median_cases[] = {
    {"none measured", {0}, 0, 0},
    {"all in one bucket: its middle", {300, 300, 300, 300}, 4, 375},
    {"the bucket of the middle observation", {50, 60, 700, 800}, 4, 100},
    {"spread within the bucket", {50, 300, 400, 450}, 4, 250 + 250.0 * 1 / 3},
    {"past the last bound: its lower bound", {20000000, 30000000}, 2, 10000000},
};

static void
test_median(void **state)
{
    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(median_cases); i++) {
        const struct median_case *c = &median_cases[i];
        struct stats st;
        assert_int_equal(stats_init(&st), 0);
        for (int k = 0; k < c->n; k++)
            stats_observe(&st.c.upstream_latency, c->us[k]);
        uint64_t n = 99;
        double got = stats_rtt_median_us(&st, &n);
        if (got < c->want - 1e-6 || got > c->want + 1e-6 || n != (uint64_t)c->n)
            fail_msg("%s: %f over %llu, want %f over %d", c->name, got, (unsigned long long)n,
                     c->want, c->n);
        stats_destroy(&st);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sites),   cmocka_unit_test(test_site_identity),
        cmocka_unit_test(test_savings), cmocka_unit_test(test_render),
        cmocka_unit_test(test_full),    cmocka_unit_test(test_median),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
