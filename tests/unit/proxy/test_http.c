/*
 * test_http: the admin port's request head (proxy/http.c), one case per line: the bytes
 * received so far, the buffer size, the verdict and the path routed.
 *
 * The verdicts are those admin.c gave before the parser moved out of it (sscanf over the
 * NUL-terminated buffer); tests/fuzz/fuzz_admin.c checks the same against that code for
 * arbitrary input.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "proxy/http.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define CAP 8192

static const struct http_case {
    const char *in;
    size_t cap;
    http_verdict want;
    const char *path; /* for HTTP_GET */
} cases[] = {
    {"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", CAP, HTTP_GET, "/metrics"},
    {"GET /health HTTP/1.0\n\n", CAP, HTTP_GET, "/health"},
    {"GET /stats?pretty=1&x HTTP/1.1\r\n\r\n", CAP, HTTP_GET, "/stats"},
    {"GET / HTTP/1.1\r\n\r\n", CAP, HTTP_GET, "/"},
    {"\r\n\r\nGET /health HTTP/1.1\r\n\r\n", CAP, HTTP_GET, "/health"}, /* blank lines first */
    {"  GET\t/health\nHTTP/1.1 \n\n", CAP, HTTP_GET, "/health"}, /* any whitespace separates */
    {"GET /metrics HTTP/1.1\r\nHost: x\r\n", CAP, HTTP_MORE, NULL},
    {"GET /metrics", CAP, HTTP_MORE, NULL},
    {"", CAP, HTTP_MORE, NULL},
    {"POST /metrics HTTP/1.1\r\n\r\n", CAP, HTTP_NOT_GET, NULL},
    {"get /metrics HTTP/1.1\r\n\r\n", CAP, HTTP_NOT_GET, NULL},
    {"GET metrics HTTP/1.1\r\n\r\n", CAP, HTTP_BAD_REQUEST, NULL},
    {"GET /metrics HTTP/2.0\r\n\r\n", CAP, HTTP_BAD_REQUEST, NULL},
    {"GET /metrics\r\n\r\n", CAP, HTTP_BAD_REQUEST, NULL},
    {"GET\r\n\r\n", CAP, HTTP_BAD_REQUEST, NULL},
    /* a method longer than 15 bytes runs on into the path, as sscanf's %15s did */
    {"GETGETGETGETGETGETGET /health HTTP/1.1\r\n\r\n", CAP, HTTP_BAD_REQUEST, NULL},
    {"GETGETGETGETGET/x /y HTTP/1.1\r\n\r\n", CAP, HTTP_BAD_REQUEST, NULL}, /* version "/y" */
    {"GETX /x HTTP/1.1\r\n\r\n", CAP, HTTP_NOT_GET, NULL},
    /* a version cut at 15 bytes still starts HTTP/1. */
    {"GET /a HTTP/1.1xxxxxxxxxxxxxxxx\r\n\r\n", CAP, HTTP_GET, "/a"},
    /* too large: the head filled the buffer but its last byte (admin.c reads at most cap - 1)
     * without ending */
    {"GET /health HTTP/1.1\r\nX: aaaaaa", 32, HTTP_TOO_LARGE, NULL},
    {"GET /health HTTP/1.1\r\nX: aaaaa", 32, HTTP_MORE, NULL},
    {"GET /health HTTP/1.1\r\nX: a\r\n\r\n", 32, HTTP_GET, "/health"},
};

static void
test_cases(void **state)
{
    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        const struct http_case *c = &cases[i];
        size_t n = strlen(c->in);
        char *in = malloc(n ? n : 1); /* no terminator to lean on */
        assert_non_null(in);
        memcpy(in, c->in, n);
        struct http_head h;
        http_verdict v = http_parse_head(in, n, c->cap, &h);
        if (v != c->want)
            fail_msg("case %zu: verdict %d, want %d", i, (int)v, (int)c->want);
        if (c->path)
            assert_string_equal(h.path, c->path);
        free(in);
    }
}

/* A NUL anywhere is junk (binary data, a TLS hello), whatever else is there. */
static void
test_nul(void **state)
{
    (void)state;
    static const char tls[] = "\x16\x03\x01\x00\xa5\x01\x00";
    static const char late[] = "GET /health HTTP/1.1\r\n\0\r\n\r\n";
    struct http_head h;
    assert_int_equal(http_parse_head(tls, sizeof(tls) - 1, CAP, &h), HTTP_BAD_REQUEST);
    assert_int_equal(http_parse_head(late, sizeof(late) - 1, CAP, &h), HTTP_BAD_REQUEST);
}

/* Parts longer than their fields are cut, never overrun (ASan and memcheck watch). */
static void
test_long_parts(void **state)
{
    (void)state;
    char in[700];
    struct http_head h;
    memset(in, 'a', sizeof(in));
    memcpy(in, "GET /", 5);
    memcpy(in + 600, " HTTP/1.1\r\n\r\n", 13);
    assert_int_equal(http_parse_head(in, 613, CAP, &h), HTTP_BAD_REQUEST); /* spills into
                                                                             the version */
    memcpy(in + 5 + 250, " HTTP/1.0\n\n", 11);
    assert_int_equal(http_parse_head(in, 5 + 250 + 11, CAP, &h), HTTP_GET);
    assert_int_equal(strlen(h.path), 251);
}

/* admin_token: the Authorization header, bearer scheme, exact token. */
static void
test_bearer(void **state)
{
    (void)state;
    static const struct {
        const char *head;
        bool ok;
    } bc[] = {
        {"GET /metrics HTTP/1.1\r\nAuthorization: Bearer s3cret\r\n\r\n", true},
        {"GET /metrics HTTP/1.1\r\nhost: x\r\nauthorization:bearer   s3cret\r\n\r\n", true},
        {"GET /metrics HTTP/1.1\nAUTHORIZATION: BEARER s3cret\n\n", true},
        {"GET /metrics HTTP/1.1\r\nAuthorization: Bearer s3cre\r\n\r\n", false},
        {"GET /metrics HTTP/1.1\r\nAuthorization: Bearer s3cret2\r\n\r\n", false},
        {"GET /metrics HTTP/1.1\r\nAuthorization: Basic s3cret\r\n\r\n", false},
        {"GET /metrics HTTP/1.1\r\nX-Authorization: Bearer s3cret\r\n\r\n", false},
        {"GET /Authorization: Bearer s3cret HTTP/1.1\r\n\r\n", false}, /* request line */
        {"GET /metrics HTTP/1.1\r\n\r\n", false},
        {"GET /metrics HTTP/1.1\r\nAuthorization: Bearer", false},
        {"GET /metrics HTTP/1.1\r\nAuthorization: Bearer \r\n\r\n", false},
    };
    for (size_t i = 0; i < ARRAY_LEN(bc); i++)
        if (http_bearer_ok(bc[i].head, strlen(bc[i].head), "s3cret") != bc[i].ok)
            fail_msg("bearer case %zu: want %d", i, bc[i].ok);
    /* Never reads past len: the token's tail is outside the span. */
    const char *h = "GET / HTTP/1.1\r\nAuthorization: Bearer s3cretXYZ";
    assert_false(http_bearer_ok(h, strlen(h) - 4, "s3cret"));
    assert_true(http_bearer_ok(h, strlen(h) - 3, "s3cret"));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cases),
        cmocka_unit_test(test_bearer),
        cmocka_unit_test(test_nul),
        cmocka_unit_test(test_long_parts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
