/*
 * test_keyval: canonical keys from every form a key can arrive in, and back into a text-format
 * array. Table-driven: one line per case. The rule under test is DESIGN.md 5.2: a key compares
 * equal however it arrived (literal, text parameter, binary parameter, DataRow field).
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

#include "parser/keyval.h"

enum form { TEXT, BINARY, LIT_INT, LIT_NUM, LIT_STR };

/* A byte string with an explicit length, for binary inputs with NUL bytes. */
#define B(s) s, sizeof(s) - 1

static const struct canon_case {
    uint32_t oid;
    enum form form;
    const char *in;
    size_t inlen;
    int rc;
    const char *want;
} canon_cases[] = {
    /* integers, text format: spaces, signs, leading zeros, range */
    {KEYVAL_OID_INT8, TEXT, B("7"), 0, "7"},
    {KEYVAL_OID_INT8, TEXT, B("007"), 0, "7"},
    {KEYVAL_OID_INT8, TEXT, B("  +7 "), 0, "7"},
    {KEYVAL_OID_INT8, TEXT, B("-7"), 0, "-7"},
    {KEYVAL_OID_INT8, TEXT, B("-0"), 0, "0"},
    {KEYVAL_OID_INT8, TEXT, B("-000"), 0, "0"},
    {KEYVAL_OID_INT8, TEXT, B("9223372036854775807"), 0, "9223372036854775807"},
    {KEYVAL_OID_INT8, TEXT, B("-9223372036854775808"), 0, "-9223372036854775808"},
    {KEYVAL_OID_INT8, TEXT, B("9223372036854775808"), -ERANGE, NULL},
    {KEYVAL_OID_INT8, TEXT, B("99999999999999999999999"), -ERANGE, NULL},
    {KEYVAL_OID_INT8, TEXT, B(""), -EINVAL, NULL},
    {KEYVAL_OID_INT8, TEXT, B(" "), -EINVAL, NULL},
    {KEYVAL_OID_INT8, TEXT, B("7a"), -EINVAL, NULL},
    {KEYVAL_OID_INT8, TEXT, B("1_000"), -EINVAL, NULL},
    {KEYVAL_OID_INT8, TEXT, B("0x10"), -EINVAL, NULL},
    {KEYVAL_OID_INT8, TEXT, B("1.0"), -EINVAL, NULL},
    {KEYVAL_OID_INT8, TEXT, B("- 7"), -EINVAL, NULL},
    {KEYVAL_OID_INT8, TEXT, B("7\0"), -EINVAL, NULL},
    {KEYVAL_OID_INT4, TEXT, B("2147483647"), 0, "2147483647"},
    {KEYVAL_OID_INT4, TEXT, B("-2147483648"), 0, "-2147483648"},
    {KEYVAL_OID_INT4, TEXT, B("2147483648"), -ERANGE, NULL},
    {KEYVAL_OID_INT4, TEXT, B("\t42\n"), 0, "42"},
    {KEYVAL_OID_INT2, TEXT, B("32767"), 0, "32767"},
    {KEYVAL_OID_INT2, TEXT, B("-32768"), 0, "-32768"},
    {KEYVAL_OID_INT2, TEXT, B("32768"), -ERANGE, NULL},
    {KEYVAL_OID_INT2, TEXT, B("-32769"), -ERANGE, NULL},
    {KEYVAL_OID_OID, TEXT, B("4294967295"), 0, "4294967295"},
    {KEYVAL_OID_OID, TEXT, B("4294967296"), -ERANGE, NULL},
    {KEYVAL_OID_OID, TEXT, B("-1"), 0, "4294967295"},
    {KEYVAL_OID_OID, TEXT, B("-2147483648"), 0, "2147483648"},
    {KEYVAL_OID_OID, TEXT, B("-2147483649"), -ERANGE, NULL},
    {KEYVAL_OID_OID, TEXT, B("0042"), 0, "42"},
    /* integers, binary format: big-endian, two's complement, exact widths */
    {KEYVAL_OID_INT8, BINARY, B("\0\0\0\0\0\0\0\x07"), 0, "7"},
    {KEYVAL_OID_INT8, BINARY, B("\xff\xff\xff\xff\xff\xff\xff\xf9"), 0, "-7"},
    {KEYVAL_OID_INT8, BINARY, B("\x80\0\0\0\0\0\0\0"), 0, "-9223372036854775808"},
    {KEYVAL_OID_INT8, BINARY, B("\x7f\xff\xff\xff\xff\xff\xff\xff"), 0, "9223372036854775807"},
    {KEYVAL_OID_INT8, BINARY, B("\0\0\0\x07"), -EINVAL, NULL},
    {KEYVAL_OID_INT4, BINARY, B("\0\0\0\x07"), 0, "7"},
    {KEYVAL_OID_INT4, BINARY, B("\xff\xff\xff\xff"), 0, "-1"},
    {KEYVAL_OID_INT4, BINARY, B("\x80\0\0\0"), 0, "-2147483648"},
    {KEYVAL_OID_INT4, BINARY, B("\0\0\x07"), -EINVAL, NULL},
    {KEYVAL_OID_INT2, BINARY, B("\0\x07"), 0, "7"},
    {KEYVAL_OID_INT2, BINARY, B("\xff\xf9"), 0, "-7"},
    {KEYVAL_OID_INT2, BINARY, B("\x80\0"), 0, "-32768"},
    {KEYVAL_OID_OID, BINARY, B("\xff\xff\xff\xff"), 0, "4294967295"},
    {KEYVAL_OID_OID, BINARY, B("\0\0\x30\x39"), 0, "12345"},
    /* integers as SQL literals */
    {KEYVAL_OID_INT8, LIT_INT, B("007"), 0, "7"},
    {KEYVAL_OID_INT8, LIT_INT, B("-7"), 0, "-7"},
    {KEYVAL_OID_INT4, LIT_INT, B("9999999999"), -ERANGE, NULL},
    {KEYVAL_OID_INT8, LIT_STR, B("7"), 0, "7"},
    {KEYVAL_OID_INT8, LIT_STR, B(" 07 "), 0, "7"},
    {KEYVAL_OID_INT8, LIT_NUM, B("7.0"), -EINVAL, NULL},
    {KEYVAL_OID_TEXT, LIT_INT, B("7"), -EINVAL, NULL},
    {KEYVAL_OID_UUID, LIT_INT, B("7"), -EINVAL, NULL},
    /* uuid: case, hyphens after any group of four, braces */
    {KEYVAL_OID_UUID, TEXT, B("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"), 0,
     "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"},
    {KEYVAL_OID_UUID, TEXT, B("A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11"), 0,
     "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"},
    {KEYVAL_OID_UUID, TEXT, B("{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}"), 0,
     "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"},
    {KEYVAL_OID_UUID, TEXT, B("a0eebc999c0b4ef8bb6d6bb9bd380a11"), 0,
     "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"},
    {KEYVAL_OID_UUID, TEXT, B("a0ee-bc99-9c0b-4ef8-bb6d-6bb9-bd38-0a11"), 0,
     "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"},
    {KEYVAL_OID_UUID, TEXT, B("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a1"), -EINVAL, NULL},
    {KEYVAL_OID_UUID, TEXT, B("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a111"), -EINVAL, NULL},
    {KEYVAL_OID_UUID, TEXT, B("a0eebc9-99c0b-4ef8-bb6d-6bb9bd380a11"), -EINVAL, NULL},
    {KEYVAL_OID_UUID, TEXT, B("g0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"), -EINVAL, NULL},
    {KEYVAL_OID_UUID, TEXT, B(" a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"), -EINVAL, NULL},
    {KEYVAL_OID_UUID, TEXT, B("{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"), -EINVAL, NULL},
    {KEYVAL_OID_UUID, LIT_STR, B("A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11"), 0,
     "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"},
    {KEYVAL_OID_UUID, BINARY, B("\xa0\xee\xbc\x99\x9c\x0b\x4e\xf8\xbb\x6d\x6b\xb9\xbd\x38\x0a\x11"),
     0, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"},
    {KEYVAL_OID_UUID, BINARY, B("\xa0\xee\xbc\x99"), -EINVAL, NULL},
    /* text types: bytes as they are; bpchar without trailing spaces; name cut at 63 */
    {KEYVAL_OID_TEXT, TEXT, B("Zoë"), 0, "Zoë"},
    {KEYVAL_OID_TEXT, TEXT, B(" a "), 0, " a "},
    {KEYVAL_OID_TEXT, TEXT, B(""), 0, ""},
    {KEYVAL_OID_TEXT, BINARY, B("Zoë"), 0, "Zoë"},
    {KEYVAL_OID_VARCHAR, TEXT, B("ab  "), 0, "ab  "},
    {KEYVAL_OID_VARCHAR, BINARY, B("ab  "), 0, "ab  "},
    {KEYVAL_OID_BPCHAR, TEXT, B("ab  "), 0, "ab"},
    {KEYVAL_OID_BPCHAR, TEXT, B("  ab"), 0, "  ab"},
    {KEYVAL_OID_BPCHAR, TEXT, B("ab\t"), 0, "ab\t"},
    {KEYVAL_OID_BPCHAR, BINARY, B("ab   "), 0, "ab"},
    {KEYVAL_OID_BPCHAR, LIT_STR, B("ab "), 0, "ab"},
    {KEYVAL_OID_NAME, TEXT, B("pg_class"), 0, "pg_class"},
    {KEYVAL_OID_NAME, TEXT, B("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaabbb"),
     0, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"},
    {KEYVAL_OID_NAME, TEXT,
     B("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\xc3\xa9"), 0,
     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"},
    {KEYVAL_OID_NAME, BINARY,
     B("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaabbb"), -EINVAL, NULL},
    /* not key types */
    {16, TEXT, B("t"), -EINVAL, NULL},
    {1700, TEXT, B("7"), -EINVAL, NULL},
    {1700, BINARY, B("\0\x07"), -EINVAL, NULL},
};

static void
test_canon(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(canon_cases) / sizeof(canon_cases[0]); i++) {
        const struct canon_case *c = &canon_cases[i];
        char out[128];
        size_t n = 0;
        int rc;
        switch (c->form) {
        case TEXT:
            rc = keyval_canon_text(c->oid, c->in, c->inlen, out, sizeof(out), &n);
            break;
        case BINARY:
            rc = keyval_canon_binary(c->oid, c->in, c->inlen, out, sizeof(out), &n);
            break;
        case LIT_INT:
            rc = keyval_canon_literal(c->oid, KEYVAL_LIT_INTEGER, c->in, c->inlen, out, sizeof(out),
                                      &n);
            break;
        case LIT_NUM:
            rc = keyval_canon_literal(c->oid, KEYVAL_LIT_NUMERIC, c->in, c->inlen, out, sizeof(out),
                                      &n);
            break;
        default:
            rc = keyval_canon_literal(c->oid, KEYVAL_LIT_STRING, c->in, c->inlen, out, sizeof(out),
                                      &n);
        }
        if (rc != c->rc || (rc == 0 && (n != strlen(c->want) || memcmp(out, c->want, n) != 0)))
            fail_msg("case %zu (oid %u, form %d, \"%.*s\"): rc %d want %d, got \"%.*s\" want "
                     "\"%s\"",
                     i, c->oid, (int)c->form, (int)c->inlen, c->in, rc, c->rc, (int)n, out,
                     c->want ? c->want : "");
    }
}

/* The promise itself: one key, four arrivals, one canonical string. */
static void
test_same_key_any_form(void **state)
{
    char a[64], b[64], c[64], d[64];
    size_t na, nb, nc, nd;

    (void)state;
    assert_int_equal(
        keyval_canon_literal(KEYVAL_OID_INT8, KEYVAL_LIT_INTEGER, "007", 3, a, sizeof(a), &na), 0);
    assert_int_equal(keyval_canon_text(KEYVAL_OID_INT4, "7", 1, b, sizeof(b), &nb), 0);
    assert_int_equal(
        keyval_canon_binary(KEYVAL_OID_INT8, "\0\0\0\0\0\0\0\x07", 8, c, sizeof(c), &nc), 0);
    assert_int_equal(keyval_canon_binary(KEYVAL_OID_INT2, "\0\x07", 2, d, sizeof(d), &nd), 0);
    assert_memory_equal(a, "7", 1);
    assert_true(na == 1 && nb == 1 && nc == 1 && nd == 1);
    assert_memory_equal(a, b, 1);
    assert_memory_equal(a, c, 1);
    assert_memory_equal(a, d, 1);
    assert_int_equal(keyval_class(KEYVAL_OID_INT2), keyval_class(KEYVAL_OID_OID));
    assert_int_equal(keyval_class(KEYVAL_OID_VARCHAR), KEYVAL_CLASS_TEXT);
    assert_int_equal(keyval_class(KEYVAL_OID_BPCHAR), KEYVAL_CLASS_BPCHAR);
    assert_int_equal(keyval_class(700), KEYVAL_CLASS_NONE);
}

static void
test_small_buffers(void **state)
{
    char out[4];
    size_t n;

    (void)state;
    assert_int_equal(keyval_canon_text(KEYVAL_OID_INT8, "12345", 5, out, sizeof(out), &n), -ENOSPC);
    assert_int_equal(keyval_canon_text(KEYVAL_OID_TEXT, "hello", 5, out, sizeof(out), &n), -ENOSPC);
    assert_int_equal(keyval_canon_text(KEYVAL_OID_UUID, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", 36,
                                       out, sizeof(out), &n),
                     -ENOSPC);
    assert_int_equal(keyval_unquote("'hello'", 7, out, sizeof(out), &n), -ENOSPC);
    assert_int_equal(keyval_array_elem("abc", 3, out, sizeof(out), &n), -ENOSPC);
}

static const struct unquote_case {
    const char *raw;
    int rc;
    const char *want;
} unquote_cases[] = {
    {"'abc'", 0, "abc"},
    {"''", 0, ""},
    {"'it''s'", 0, "it's"},
    {"'a\\b'", 0, "a\\b"}, /* standard_conforming_strings: backslash is a character */
    {"'Zoë'", 0, "Zoë"},
    {"E'it\\'s'", 0, "it's"},
    {"e'a''b'", 0, "a'b"},
    {"E'tab\\there'", 0, "tab\there"},
    {"E'\\n\\r\\b\\f'", 0, "\n\r\b\f"},
    {"E'back\\\\slash'", 0, "back\\slash"},
    {"E'\\x41\\102\\q'", 0, "ABq"},
    {"E'\\x'", 0, "x"},
    {"E'\\u00e9'", -ENOTSUP, NULL},
    {"E'\\xe9'", -ENOTSUP, NULL},
    {"E'\\0'", -ENOTSUP, NULL},
    {"E'open\\'", -EINVAL, NULL},
    {"$$O'Brien$$", 0, "O'Brien"},
    {"$tag$a$$b$tag$", 0, "a$$b"},
    {"$tag$a$tog$", -EINVAL, NULL},
    {"007", 0, "007"},
    {"1.5e3", 0, "1.5e3"},
    {"U&'d\\0061t'", -ENOTSUP, NULL},
    {"B'0101'", -ENOTSUP, NULL},
    {"X'ff'", -ENOTSUP, NULL},
    {"'unterminated", -EINVAL, NULL},
    {"'a'b'", -EINVAL, NULL},
    {"abc", -EINVAL, NULL},
};

static void
test_unquote(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(unquote_cases) / sizeof(unquote_cases[0]); i++) {
        const struct unquote_case *c = &unquote_cases[i];
        char out[64];
        size_t n = 0;
        int rc = keyval_unquote(c->raw, strlen(c->raw), out, sizeof(out), &n);
        if (rc != c->rc || (rc == 0 && (n != strlen(c->want) || memcmp(out, c->want, n) != 0)))
            fail_msg("unquote %s: rc %d want %d, got \"%.*s\"", c->raw, rc, c->rc, (int)n, out);
    }
}

static const struct elem_case {
    const char *key;
    const char *want;
} elem_cases[] = {
    {"7", "\"7\""},         {"", "\"\""},
    {"NULL", "\"NULL\""},   {"a,b", "\"a,b\""},
    {"{x}", "\"{x}\""},     {" sp ", "\" sp \""},
    {"b\"c", "\"b\\\"c\""}, {"back\\slash", "\"back\\\\slash\""},
    {"Zoë", "\"Zoë\""},
};

static void
test_array_elem(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(elem_cases) / sizeof(elem_cases[0]); i++) {
        char out[64];
        size_t n = 0;
        assert_int_equal(
            keyval_array_elem(elem_cases[i].key, strlen(elem_cases[i].key), out, sizeof(out), &n),
            0);
        if (n != strlen(elem_cases[i].want) || memcmp(out, elem_cases[i].want, n) != 0)
            fail_msg("elem %s: got %.*s want %s", elem_cases[i].key, (int)n, out,
                     elem_cases[i].want);
    }
}

static void
test_array_build(void **state)
{
    const char *keys[] = {"a", "b\"c", "", "d\\e"};
    size_t lens[] = {1, 3, 0, 3};
    char *out = NULL;
    size_t n = 0;

    (void)state;
    assert_int_equal(keyval_array_build(keys, lens, 4, &out, &n), 0);
    assert_string_equal(out, "{\"a\",\"b\\\"c\",\"\",\"d\\\\e\"}");
    assert_int_equal(n, strlen(out));
    free(out);
    assert_int_equal(keyval_array_build(keys, lens, 0, &out, &n), 0);
    assert_string_equal(out, "{}");
    free(out);
}

static void
test_type_names(void **state)
{
    (void)state;
    assert_string_equal(keyval_type_name(KEYVAL_OID_INT8), "int8");
    assert_string_equal(keyval_type_name(KEYVAL_OID_UUID), "uuid");
    assert_string_equal(keyval_type_name(KEYVAL_OID_BPCHAR), "bpchar");
    assert_null(keyval_type_name(16));
    assert_int_equal(keyval_array_oid(KEYVAL_OID_INT8), 1016);
    assert_int_equal(keyval_array_oid(KEYVAL_OID_TEXT), 1009);
    assert_int_equal(keyval_array_oid(KEYVAL_OID_UUID), 2951);
    assert_int_equal(keyval_array_oid(16), 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_canon),         cmocka_unit_test(test_same_key_any_form),
        cmocka_unit_test(test_small_buffers), cmocka_unit_test(test_unquote),
        cmocka_unit_test(test_array_elem),    cmocka_unit_test(test_array_build),
        cmocka_unit_test(test_type_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
