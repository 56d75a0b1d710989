/*
 * test_rowmsg: RowDescription and DataRow arithmetic (batcher/rowmsg.c). Bodies come from the
 * server, so every malformed one must end in -EPROTO, never a read past the end: the broken
 * inputs are byte literals, one line each (ASan checks the "never" part). Cutting the batch's
 * ordinal column must give byte for byte what the single statement sends, which the tests
 * check against messages built directly with the fixtures.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "pgwire/rowmsg.h"
#include "tests/unit/fixtures.h"

/* Byte literals are laid out by hand, one case per line. */
/* clang-format off */
/* One int4 column "id" of table 16384, attnum 1, typlen 4, typmod -1, text: 21 bytes. */
#define COL_ID "id\0" "\0\0\x40\0" "\0\x01" "\0\0\0\x17" "\0\x04" "\xff\xff\xff\xff" "\0\0"
/* The batch's ordinal: int8, no table. */
#define COL_ORD "pgfold_ord\0" "\0\0\0\0" "\0\0" "\0\0\0\x14" "\0\x08" "\xff\xff\xff\xff" "\0\0"
/* clang-format on */

static const struct fx_col single_cols[] = {
    {"id", 16384, 1, 23, 4, -1, 0},
    {"title", 16384, 2, 25, -1, -1, 1},
    {"?column?", 0, 0, 1043, -1, 68, 0},
};

static const struct fx_col ord_col = {"pgfold_ord", 0, 0, 20, 8, -1, 0};

/* A RowDescription built from columns, as a body in b. */
static void
desc_of(struct buf *b, const struct fx_col *cols, int n)
{
    buf_reset(b);
    be_row_desc_cols(b, cols, n);
}

/* ---- rowmsg_desc ----------------------------------------------------------------------- */

static void
test_desc_parse(void **state)
{
    struct buf b;
    struct rowmsg_col cols[4];
    (void)state;
    buf_init(&b);
    desc_of(&b, single_cols, 3);
    memset(cols, 0x5a, sizeof(cols));
    assert_int_equal(rowmsg_desc(fx_body(&b), fx_body_len(&b), cols, 4), 3);
    for (int i = 0; i < 3; i++) {
        assert_string_equal(cols[i].name, single_cols[i].name);
        assert_int_equal(cols[i].table_oid, single_cols[i].table_oid);
        assert_int_equal(cols[i].attnum, single_cols[i].attnum);
        assert_int_equal(cols[i].type_oid, single_cols[i].type_oid);
        assert_int_equal(cols[i].typlen, single_cols[i].typlen);
        assert_int_equal(cols[i].typmod, single_cols[i].typmod);
        assert_int_equal(cols[i].format, single_cols[i].format);
        /* Names point into the body, not into a copy. */
        assert_true((const uint8_t *)cols[i].name >= fx_body(&b) &&
                    (const uint8_t *)cols[i].name < fx_body(&b) + fx_body_len(&b));
    }
    assert_int_equal(cols[3].attnum, 0x5a5a); /* untouched */

    /* Fewer slots than columns: the count is still the whole count, extra slots untouched. */
    memset(cols, 0x5a, sizeof(cols));
    assert_int_equal(rowmsg_desc(fx_body(&b), fx_body_len(&b), cols, 1), 3);
    assert_string_equal(cols[0].name, "id");
    assert_int_equal(cols[1].attnum, 0x5a5a);
    assert_int_equal(rowmsg_desc(fx_body(&b), fx_body_len(&b), NULL, 0), 3);

    /* Large counts and extreme values survive. */
    struct fx_col odd = {"", UINT32_MAX, -7, UINT32_MAX, -2, INT32_MIN, 1};
    desc_of(&b, &odd, 1);
    assert_int_equal(rowmsg_desc(fx_body(&b), fx_body_len(&b), cols, 4), 1);
    assert_string_equal(cols[0].name, "");
    assert_int_equal(cols[0].table_oid, UINT32_MAX);
    assert_int_equal(cols[0].attnum, -7);
    assert_int_equal(cols[0].typlen, -2);
    assert_int_equal(cols[0].typmod, INT32_MIN);
    buf_free(&b);
}

#define RAW(s) (const uint8_t *)(s), sizeof(s) - 1

static const struct desc_case {
    const uint8_t *body;
    size_t len;
    int rc;
} desc_cases[] = {
    /* clang-format off */
    {RAW("\0\0"), 0},
    {RAW("\0\x01" COL_ID), 1},
    {RAW("\0\x02" COL_ID COL_ID), 2},                  /* duplicate names are legal */
    {RAW("\0\x01" "\0" "\0\0\0\0\0\0\0\0\0\x19\xff\xff\0\0\0\0\0\0"), 1}, /* empty name */
    {RAW(""), -EPROTO},                                /* no count */
    {RAW("\0"), -EPROTO},                              /* half a count */
    {RAW("\xff\xff"), -EPROTO},                        /* count -1 */
    {RAW("\x80\0"), -EPROTO},                          /* count -32768 */
    {RAW("\0\x01"), -EPROTO},                          /* count 1, no column */
    {RAW("\0\x02" COL_ID), -EPROTO},                   /* count 2, one column */
    {RAW("\0\x01" "id"), -EPROTO},                     /* name without NUL */
    {RAW("\0\x01" "id\0"), -EPROTO},                   /* name only */
    {RAW("\0\x01" "id\0" "\0\0\x40"), -EPROTO},        /* table OID cut */
    {RAW("\0\x01" "id\0" "\0\0\x40\0" "\0\x01" "\0\0\0\x17" "\0\x04" "\xff\xff\xff\xff" "\0"), -EPROTO}, /* format cut */
    {RAW("\0\x01" COL_ID "\0"), -EPROTO},              /* one trailing byte */
    {RAW("\0\x01" COL_ID COL_ID), -EPROTO},            /* a column more than counted */
    {RAW("\0\0" "x"), -EPROTO},                        /* trailing after zero columns */
    /* clang-format on */
};

static void
test_desc_broken(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(desc_cases) / sizeof(desc_cases[0]); i++) {
        const struct desc_case *c = &desc_cases[i];
        struct rowmsg_col cols[4];
        /* A private copy of exactly len bytes, so ASan sees any read past it. */
        uint8_t *body = malloc(c->len ? c->len : 1);
        assert_non_null(body);
        memcpy(body, c->body, c->len);
        int rc = rowmsg_desc(body, c->len, cols, 4);
        if (rc != c->rc)
            fail_msg("case %zu (%zu bytes): %d, want %d", i, c->len, rc, c->rc);
        free(body);
    }
}

/* ---- rowmsg_nfields / rowmsg_next ---------------------------------------------------- */

/* "[v]" per field, "N" for NULL, "!" where a read fails (and the walk stops). */
static void
walk_row(const uint8_t *body, size_t len, char *out, size_t cap)
{
    size_t pos = 0, w = 0;
    int n = rowmsg_nfields(body, len);
    out[0] = '\0';
    if (n < 0) {
        snprintf(out, cap, "#");
        return;
    }
    for (int i = 0; i < n; i++) {
        struct rowmsg_field f;
        if (rowmsg_next(body, len, &pos, &f) != 0) {
            snprintf(out + w, cap - w, "!");
            return;
        }
        if (f.val)
            w += (size_t)snprintf(out + w, cap - w, "[%.*s]", (int)f.len, (const char *)f.val);
        else
            w += (size_t)snprintf(out + w, cap - w, "N");
    }
}

static const struct row_case {
    const uint8_t *body;
    size_t len;
    const char *want;
} row_cases[] = {
    /* clang-format off */
    {RAW("\0\0"), ""},
    {RAW("\0\x02" "\0\0\0\x01" "1" "\xff\xff\xff\xff"), "[1]N"},
    {RAW("\0\x03" "\0\0\0\0" "\0\0\0\x02" "ab" "\0\0\0\x01" "c"), "[][ab][c]"},
    {RAW(""), "#"},                                     /* no count */
    {RAW("\0"), "#"},                                   /* half a count */
    {RAW("\xff\xfe"), "#"},                             /* negative count */
    {RAW("\0\x01"), "!"},                               /* no field */
    {RAW("\0\x01" "\0\0\0"), "!"},                      /* length cut */
    {RAW("\0\x01" "\xff\xff\xff\xfe"), "!"},            /* length -2 */
    {RAW("\0\x01" "\x80\0\0\0"), "!"},                  /* length INT32_MIN */
    {RAW("\0\x01" "\0\0\0\x05" "abc"), "!"},            /* value cut */
    {RAW("\0\x01" "\x7f\xff\xff\xff" "abc"), "!"},      /* length INT32_MAX */
    {RAW("\0\x02" "\0\0\0\x01" "1"), "[1]!"},           /* second field missing */
    /* clang-format on */
};

static void
test_row_fields(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(row_cases) / sizeof(row_cases[0]); i++) {
        const struct row_case *c = &row_cases[i];
        uint8_t *body = malloc(c->len ? c->len : 1);
        char got[64];
        assert_non_null(body);
        memcpy(body, c->body, c->len);
        walk_row(body, c->len, got, sizeof(got));
        if (strcmp(got, c->want) != 0)
            fail_msg("case %zu: \"%s\", want \"%s\"", i, got, c->want);
        free(body);
    }
    /* A position past the end is refused, not read. */
    size_t pos = 10;
    struct rowmsg_field f;
    assert_int_equal(rowmsg_next((const uint8_t *)"\0\x01\0\0\0\0", 6, &pos, &f), -EPROTO);
}

/* ---- rowmsg_desc_drop_first ------------------------------------------------------------ */

static void
test_desc_drop_first(void **state)
{
    struct buf batch, want, out;
    struct fx_col cols[4];
    (void)state;
    buf_init(&batch);
    buf_init(&want);
    buf_init(&out);
    cols[0] = ord_col;
    memcpy(&cols[1], single_cols, sizeof(single_cols));
    for (int n = 0; n <= 3; n++) {
        desc_of(&batch, cols, n + 1);
        desc_of(&want, single_cols, n);
        buf_reset(&out);
        assert_int_equal(rowmsg_desc_drop_first(fx_body(&batch), fx_body_len(&batch), &out), 0);
        assert_int_equal(buf_used(&out), buf_used(&want));
        assert_memory_equal(buf_head(&out), buf_head(&want), buf_used(&want));
    }
    /* It appends: what was in out stays in front. */
    buf_reset(&out);
    buf_put(&out, "xy", 2);
    assert_int_equal(rowmsg_desc_drop_first(fx_body(&batch), fx_body_len(&batch), &out), 0);
    assert_memory_equal(buf_head(&out), "xy", 2);
    assert_memory_equal(buf_head(&out) + 2, buf_head(&want), buf_used(&want));

    /* clang-format off */
    static const struct desc_case bad[] = {
        {RAW(""), -EPROTO},
        {RAW("\0"), -EPROTO},
        {RAW("\0\0"), -EPROTO},                               /* no column to drop */
        {RAW("\xff\xff" COL_ORD), -EPROTO},                   /* negative count */
        {RAW("\0\x01" "pgfold_ord"), -EPROTO},                /* first name without NUL */
        {RAW("\0\x02" "pgfold_ord\0" "\0\0\0\0"), -EPROTO}, /* first column cut */
    };
    /* clang-format on */
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        buf_reset(&out);
        if (rowmsg_desc_drop_first(bad[i].body, bad[i].len, &out) != -EPROTO)
            fail_msg("bad case %zu accepted", i);
    }
    buf_free(&batch);
    buf_free(&want);
    buf_free(&out);
}

/* The batcher's check: the batch's description minus the ordinal has the single's shape. */
static bool
batch_matches(const uint8_t *batch, size_t blen, const uint8_t *single, size_t slen)
{
    struct buf cut;
    buf_init(&cut);
    bool ok = rowmsg_desc_drop_first(batch, blen, &cut) == 0 &&
              rowmsg_desc_same_shape(single, slen, buf_head(&cut) + 5, buf_used(&cut) - 5);
    buf_free(&cut);
    return ok;
}

static void
test_drop_then_compare(void **state)
{
    (void)state;
    assert_true(batch_matches(RAW("\0\x02" COL_ORD COL_ID), RAW("\0\x01" COL_ID)));
    assert_false(batch_matches(RAW("\0\x01" COL_ORD), RAW("\0\x01" COL_ID)));
    assert_false(batch_matches(RAW("\0\x03" COL_ORD COL_ID), RAW("\0\x01" COL_ID)));
    assert_false(batch_matches(RAW("\0\x02" COL_ORD COL_ID "\0"), RAW("\0\x01" COL_ID)));
    /* A tail cut short is caught by the comparison if not by the cut. */
    assert_false(batch_matches(RAW("\0\x02" COL_ORD "id\0\0\0"), RAW("\0\x01" COL_ID)));
}

/* ---- rowmsg_desc_same_shape ---------------------------------------------------------- */

static const struct shape_case {
    struct fx_col b[2];
    int nb;
    bool same;
} shape_cases[] = {
    /* against {"id", 16384, 1, 23, 4, -1, 0}, {"title", 16384, 2, 25, -1, -1, 0} */
    {{{"id", 16384, 1, 23, 4, -1, 0}, {"title", 16384, 2, 25, -1, -1, 0}}, 2, true},
    {{{"id", 16384, 1, 23, 4, -1, 1}, {"title", 16384, 2, 25, -1, -1, 1}}, 2, true},
    {{{"id", 16384, 1, 23, 4, -1, 1}, {"title", 16384, 2, 25, -1, -1, 0}}, 2, true},
    {{{"ID", 16384, 1, 23, 4, -1, 0}, {"title", 16384, 2, 25, -1, -1, 0}}, 2, false},
    {{{"id", 16384, 1, 23, 4, -1, 0}, {"titl", 16384, 2, 25, -1, -1, 0}}, 2, false},
    {{{"id", 16385, 1, 23, 4, -1, 0}, {"title", 16384, 2, 25, -1, -1, 0}}, 2, false},
    {{{"id", 16384, 3, 23, 4, -1, 0}, {"title", 16384, 2, 25, -1, -1, 0}}, 2, false},
    {{{"id", 16384, 1, 20, 4, -1, 0}, {"title", 16384, 2, 25, -1, -1, 0}}, 2, false},
    {{{"id", 16384, 1, 23, 8, -1, 0}, {"title", 16384, 2, 25, -1, -1, 0}}, 2, false},
    {{{"id", 16384, 1, 23, 4, -1, 0}, {"title", 16384, 2, 25, -1, 68, 0}}, 2, false},
    {{{"title", 16384, 2, 25, -1, -1, 0}, {"id", 16384, 1, 23, 4, -1, 0}}, 2, false},
    {{{"id", 16384, 1, 23, 4, -1, 0}}, 1, false},
};

static void
test_same_shape(void **state)
{
    static const struct fx_col a[] = {
        {"id", 16384, 1, 23, 4, -1, 0},
        {"title", 16384, 2, 25, -1, -1, 0},
    };
    struct buf ba, bb;
    (void)state;
    buf_init(&ba);
    buf_init(&bb);
    desc_of(&ba, a, 2);
    for (size_t i = 0; i < sizeof(shape_cases) / sizeof(shape_cases[0]); i++) {
        const struct shape_case *c = &shape_cases[i];
        desc_of(&bb, c->b, c->nb);
        bool ab =
            rowmsg_desc_same_shape(fx_body(&ba), fx_body_len(&ba), fx_body(&bb), fx_body_len(&bb));
        bool ba_ =
            rowmsg_desc_same_shape(fx_body(&bb), fx_body_len(&bb), fx_body(&ba), fx_body_len(&ba));
        if (ab != c->same || ba_ != c->same)
            fail_msg("case %zu: %d/%d, want %d", i, ab, ba_, c->same);
    }
    /* A third column more on one side. */
    struct fx_col three[3] = {a[0], a[1], {"x", 0, 0, 25, -1, -1, 0}};
    desc_of(&bb, three, 3);
    assert_false(
        rowmsg_desc_same_shape(fx_body(&ba), fx_body_len(&ba), fx_body(&bb), fx_body_len(&bb)));

    /* Malformed bodies never compare equal, not even to themselves. */
    assert_true(rowmsg_desc_same_shape(RAW("\0\0"), RAW("\0\0")));
    assert_true(rowmsg_desc_same_shape(RAW("\0\x01" COL_ID), RAW("\0\x01" COL_ID)));
    assert_false(rowmsg_desc_same_shape(RAW(""), RAW("")));
    assert_false(rowmsg_desc_same_shape(RAW("\0\x01" COL_ID "\0"), RAW("\0\x01" COL_ID "\0")));
    assert_false(rowmsg_desc_same_shape(RAW("\0\x01" COL_ID "\0"), RAW("\0\x01" COL_ID)));
    /* clang-format off */
    assert_false(rowmsg_desc_same_shape(RAW("\0\x01" "id"), RAW("\0\x01" "id")));
    /* clang-format on */
    assert_false(rowmsg_desc_same_shape(RAW("\0\x02" COL_ID), RAW("\0\x02" COL_ID)));
    buf_free(&ba);
    buf_free(&bb);
}

/* ---- rowmsg_row_drop_first ------------------------------------------------------------ */

static const struct ord_case {
    int16_t fmt;
    struct fx_field ord;
    int rc;
    int64_t want;
} ord_cases[] = {
    {0, FX_F("3"), 0, 3},
    {0, FX_F("1"), 0, 1},
    {0, FX_F("0"), 0, 0},
    {0, FX_F("000042"), 0, 42},
    {0, FX_F("9223372036854775807"), 0, INT64_MAX},
    {0, FX_F("9223372036854775808"), -EPROTO, 0},  /* INT64_MAX + 1 */
    {0, FX_F("9999999999999999999"), -EPROTO, 0},  /* 19 digits, beyond int8 */
    {0, FX_F("10000000000000000000"), -EPROTO, 0}, /* 20 digits */
    {0, FX_F(""), -EPROTO, 0},
    {0, FX_F("-1"), -EPROTO, 0},
    {0, FX_F("+1"), -EPROTO, 0},
    {0, FX_F(" 1"), -EPROTO, 0},
    {0, FX_F("1a"), -EPROTO, 0},
    {0, FX_NULL, -EPROTO, 0},
    {1, FX_F("\0\0\0\0\0\0\0\x03"), 0, 3},
    {1, FX_F("\0\0\x01\0\0\0\0\0"), 0, (int64_t)1 << 40},
    {1, FX_F("\x7f\xff\xff\xff\xff\xff\xff\xff"), 0, INT64_MAX},
    {1, FX_F("\xff\xff\xff\xff\xff\xff\xff\xff"), 0, -1}, /* callers check the range */
    {1, FX_F("\0\0\0\x03"), -EPROTO, 0},                  /* int4 width */
    {1, FX_F("3"), -EPROTO, 0},                           /* text in a binary column */
    {1, FX_F("\0\0\0\0\0\0\0\0\x03"), -EPROTO, 0},        /* 9 bytes */
    {1, FX_NULL, -EPROTO, 0},
};

static void
test_row_drop_first(void **state)
{
    static const struct fx_field rest[] = {FX_F("7"), FX_NULL, FX_F(""), FX_F("a\0b")};
    struct buf in, want, out;
    int failed = 0;
    (void)state;
    buf_init(&in);
    buf_init(&want);
    buf_init(&out);
    be_data_row_fields(&want, rest, 4); /* what the single statement sends */
    for (size_t i = 0; i < sizeof(ord_cases) / sizeof(ord_cases[0]); i++) {
        const struct ord_case *c = &ord_cases[i];
        struct fx_field f[5] = {c->ord, rest[0], rest[1], rest[2], rest[3]};
        int64_t ord = -99;
        buf_reset(&in);
        buf_reset(&out);
        be_data_row_fields(&in, f, 5);
        int rc = rowmsg_row_drop_first(fx_body(&in), fx_body_len(&in), c->fmt, &ord, &out);
        if (rc != c->rc || (rc == 0 && ord != c->want)) {
            failed++;
            print_error("case %zu (fmt %d, \"%.*s\"): rc %d ord %lld, want rc %d ord %lld\n", i,
                        c->fmt, c->ord.val ? (int)c->ord.len : 4,
                        c->ord.val ? (const char *)c->ord.val : "NULL", rc, (long long)ord, c->rc,
                        (long long)c->want);
        }
        if (rc == 0 && (buf_used(&out) != buf_used(&want) ||
                        memcmp(buf_head(&out), buf_head(&want), buf_used(&want)) != 0)) {
            failed++;
            print_error("case %zu: the row without its ordinal differs\n", i);
        }
    }
    /* Only the ordinal: an empty DataRow remains. */
    struct fx_field only = FX_F("5");
    int64_t ord = 0;
    buf_reset(&in);
    buf_reset(&out);
    be_data_row_fields(&in, &only, 1);
    assert_int_equal(rowmsg_row_drop_first(fx_body(&in), fx_body_len(&in), 0, &ord, &out), 0);
    assert_int_equal(ord, 5);
    assert_int_equal(buf_used(&out), 7);
    assert_memory_equal(buf_head(&out), "D\0\0\0\x06\0\0", 7);

    /* Broken rows. */
    /* clang-format off */
    static const struct desc_case bad[] = {
        {RAW(""), -EPROTO},
        {RAW("\0"), -EPROTO},
        {RAW("\0\0"), -EPROTO},                             /* no ordinal */
        {RAW("\xff\xff" "\0\0\0\x01" "1"), -EPROTO},       /* negative count */
        {RAW("\0\x01" "\0\0\0\x02" "1"), -EPROTO},         /* ordinal cut */
        {RAW("\0\x01" "\xff\xff\xff\xfe"), -EPROTO},       /* length -2 */
    };
    /* clang-format on */
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        buf_reset(&out);
        if (rowmsg_row_drop_first(bad[i].body, bad[i].len, 0, &ord, &out) != -EPROTO)
            fail_msg("bad row %zu accepted", i);
    }
    buf_free(&in);
    buf_free(&want);
    buf_free(&out);
    if (failed)
        fail_msg("%d ordinal case(s) failed", failed);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_desc_parse),        cmocka_unit_test(test_desc_broken),
        cmocka_unit_test(test_row_fields),        cmocka_unit_test(test_desc_drop_first),
        cmocka_unit_test(test_drop_then_compare), cmocka_unit_test(test_same_shape),
        cmocka_unit_test(test_row_drop_first),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
