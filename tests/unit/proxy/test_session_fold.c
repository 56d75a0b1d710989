/*
 * test_session_fold: a rewrite-mode session never holds what the client may be waiting on.
 *
 * Each row is a run of client messages (one letter each) fed to a session in rewrite mode and
 * how many of their bytes must have gone upstream at once, before the transport reports that
 * the client's bytes ran out; after session_client_drained() everything must have gone. Only a
 * group that can still become one foldable lookup ([Parse unnamed] Bind [Describe portal]
 * Execute Sync over a lookup's statement) may wait, and only while the client has sent more.
 *
 *   P  Parse of the unnamed statement, a lookup      p  Parse of a named lookup statement
 *   W  Parse of the unnamed statement, an INSERT     B  Bind of the unnamed statement
 *   I  Bind of the prepared INSERT "ins"             D  Describe portal     S  Describe statement
 *   E  Execute                                       L  Execute with a row limit
 *   Y  Sync      H  Flush      C  Close statement "x"
 */
#include "tests/unit/session_harness.h"

#include "parser/shapecache.h"
#include "proxy/fold.h"

#define LOOKUP_SQL "SELECT id, v FROM t WHERE id = $1"

struct hold_case {
    const char *name;
    const char *msgs;
    const char *held; /* the messages (a suffix of msgs) still held before drained; "" none */
};

// clang-format off
static const struct hold_case cases[] = {
    {"prepared INSERTs pipelined without Sync go at once", "IDEIDEIDE", ""},
    {"an INSERT parsed and executed without Sync goes at once", "WBDE", ""},
    {"a lookup without Sync waits only until the bytes run out", "PBDE", "PBDE"},
    {"a lookup whose Sync is still to come waits", "PBE", "PBE"},
    {"a lookup followed by Flush goes at the Flush", "PBDEH", ""},
    {"a second Execute: the group cannot be one lookup", "PBEBE", ""},
    {"a group larger than any lookup goes at once", "PBEBEY", ""},
    {"a named Parse is never held", "pBEY", ""},
    {"Describe of a statement is never held", "PSBEY", ""},
    {"a row limit is never held", "PBLY", ""},
    {"a Close is never held", "CY", ""},
    {"a Sync alone is never held", "Y", ""},
};
// clang-format on

struct ffx {
    struct fx f;
    struct shapecache *sc;
    const struct hold_case *c; /* the table row (cmocka's initial state) */
};

static int
fold_setup(void **state)
{
    struct ffx *x = calloc(1, sizeof(*x));
    assert_non_null(x);
    x->c = *state;
    config_defaults(&x->f.cfg);
    x->f.cfg.upstream_dbname[0] = '\0';
    session_init(&x->f.s, 1, &x->f.cfg);
    buf_init(&x->f.in);
    assert_int_equal(shapecache_new(64, &x->sc), 0);
    x->f.s.shapes = x->sc;
    x->f.s.fold = fold_new(&x->f.s, x->sc);
    assert_non_null(x->f.s.fold);
    go_ready(&x->f);
    /* The prepared INSERT "ins", as the server confirmed it. */
    fe_parse(&x->f.in, "ins", "INSERT INTO t VALUES ($1)", 0, NULL);
    fe_sync(&x->f.in);
    assert_int_equal(client(&x->f), SESSION_CONTINUE);
    buf_msg_begin(&x->f.in, BE_PARSE_COMPLETE);
    buf_msg_end(&x->f.in);
    be_ready(&x->f.in, 'I');
    assert_int_equal(server(&x->f), SESSION_CONTINUE);
    assert_stmt(&x->f.s, "ins", "INSERT INTO t VALUES ($1)");
    *state = x;
    return 0;
}

static int
fold_teardown(void **state)
{
    struct ffx *x = *state;
    session_close(&x->f.s);
    buf_free(&x->f.in);
    shapecache_free(x->sc);
    free(x);
    return 0;
}

static void
put_msg(struct buf *b, char c)
{
    switch (c) {
    case 'P':
        fe_parse(b, "", LOOKUP_SQL, 0, NULL);
        break;
    case 'p':
        fe_parse(b, "named", LOOKUP_SQL, 0, NULL);
        break;
    case 'W':
        fe_parse(b, "", "INSERT INTO t VALUES ($1)", 0, NULL);
        break;
    case 'B':
        fe_bind(b, "", "", 1);
        break;
    case 'I':
        fe_bind(b, "", "ins", 1);
        break;
    case 'D':
        fe_describe(b, 'P', "");
        break;
    case 'S':
        fe_describe(b, 'S', "");
        break;
    case 'E':
        fe_execute(b, "", 0);
        break;
    case 'L':
        fe_execute(b, "", 10);
        break;
    case 'Y':
        fe_sync(b);
        break;
    case 'H':
        fe_flush(b);
        break;
    case 'C':
        fe_close(b, 'S', "x");
        break;
    default:
        fail_msg("unknown message letter %c", c);
    }
}

static void
run_case(void **state)
{
    struct ffx *x = *state;
    const struct hold_case *c = x->c;
    struct buf all, held;
    buf_init(&all);
    buf_init(&held);
    size_t nheld = strlen(c->held);
    for (const char *m = c->msgs; *m; m++) {
        put_msg(&x->f.in, *m);
        put_msg(&all, *m);
        if ((size_t)(m - c->msgs) >= strlen(c->msgs) - nheld)
            put_msg(&held, *m);
    }
    session_action a = feed(&x->f, session_on_client, false);
    assert_int_equal(a, SESSION_CONTINUE);
    /* Before drained: everything but the held suffix went upstream unchanged. */
    size_t sent = buf_used(&all) - buf_used(&held);
    if (buf_used(&x->f.s.to_server) != sent)
        fail_msg("%s: %zu bytes upstream before drained, want %zu", c->name,
                 buf_used(&x->f.s.to_server), sent);
    assert_memory_equal(buf_head(&x->f.s.to_server), buf_head(&all), sent);
    assert_int_equal(session_client_drained(&x->f.s), SESSION_CONTINUE);
    /* After: all of it, in order (a complete lookup group is decided at its Sync; with no
     * source result it is forwarded as it came). */
    assert_int_equal(buf_used(&x->f.s.to_server), buf_used(&all));
    assert_memory_equal(buf_head(&x->f.s.to_server), buf_head(&all), buf_used(&all));
    assert_int_equal(buf_used(&x->f.s.to_client), 0);
    buf_free(&all);
    buf_free(&held);
}

/* A whole lookup group in one read is decided at its Sync: nothing is left for drained. */
static void
test_lookup_group_decided_at_sync(void **state)
{
    struct ffx *x = *state;
    fe_parse(&x->f.in, "", LOOKUP_SQL, 0, NULL);
    fe_bind(&x->f.in, "", "", 1);
    fe_execute(&x->f.in, "", 0);
    fe_sync(&x->f.in);
    size_t n = buf_used(&x->f.in);
    assert_int_equal(feed(&x->f, session_on_client, false), SESSION_CONTINUE);
    assert_int_equal(buf_used(&x->f.s.to_server), n); /* forwarded: no source to fold from */
    assert_fifo(&x->f.s, "PBES");
}

int
main(void)
{
    struct CMUnitTest table[ARRAY_LEN(cases) + 1];
    for (size_t i = 0; i < ARRAY_LEN(cases); i++)
        table[i] = (struct CMUnitTest){cases[i].name, run_case, fold_setup, fold_teardown,
                                       (void *)&cases[i]};
    table[ARRAY_LEN(cases)] =
        (struct CMUnitTest){"a lookup group is decided at its Sync",
                            test_lookup_group_decided_at_sync, fold_setup, fold_teardown, NULL};
    int rc = _cmocka_run_group_tests("fold holding", table, ARRAY_LEN(table), NULL, NULL);
    shape_thread_exit();
    return rc;
}
