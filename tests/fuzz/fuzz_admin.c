/*
 * fuzz_admin: the admin port's HTTP request head (proxy/http.c).
 *
 * Input: byte 0 is the size of each read (1 + value), byte 1 picks the buffer size (the admin
 * port's 8 KiB, or a small one so "too large" is reachable), the rest is what the client sends.
 * The bytes arrive read by read as admin.c's on_req_read sees them: after each read the whole
 * head so far is parsed, in a heap block of exactly that size (no terminator to lean on), until
 * the verdict is anything but "more".
 *
 * Oracle: the parser admin.c used before http.c existed (sscanf "%15s %255s %15s" over the
 * NUL-terminated buffer), kept below verbatim in effect. Both must answer the same status at
 * the same read, with the same path.
 *
 * Once a head is complete, http_bearer_ok (admin_token) is checked for the token "s3cret"
 * against a reference written line by line: a header line after the request line, its name
 * "authorization" in any case, a colon, blanks, "bearer" in any case, a space, spaces, then
 * exactly the token up to a blank or line end.
 */
#include <ctype.h>
#include <stdbool.h>
#include <string.h>

#include "proxy/http.h"
#include "tests/fuzz/fuzz_util.h"

#define ADMIN_REQ_MAX 8192 /* admin.c's buffer */

/* admin.c's on_req_read and route before the refactor, minus the sockets. */
static int
old_parse(char *in, size_t len, size_t cap, char *path_out)
{
    in[len] = '\0';
    if (memchr(in, '\0', len))
        return 400;
    if (memmem(in, len, "\r\n\r\n", 4) || memmem(in, len, "\n\n", 2)) {
        char method[16], path[256], version[16];
        if (sscanf(in, "%15s %255s %15s", method, path, version) != 3 ||
            strncmp(version, "HTTP/1.", 7) != 0 || path[0] != '/')
            return 400;
        if (strcmp(method, "GET") != 0)
            return 405;
        char *q = strchr(path, '?');
        if (q)
            *q = '\0';
        strcpy(path_out, path);
        return 200;
    }
    if (len >= cap - 1)
        return 413;
    return 0;
}

static bool
ci_prefix(const char *p, size_t n, const char *word)
{
    size_t w = strlen(word);
    if (n < w)
        return false;
    for (size_t i = 0; i < w; i++)
        if (tolower((unsigned char)p[i]) != word[i])
            return false;
    return true;
}

/* The reference reading of "Authorization: Bearer <token>" (see the top of the file). */
static bool
ref_bearer(const char *buf, size_t len, const char *token)
{
    size_t at = 0;
    bool ok = false;
    while (at < len) {
        size_t eol = at;
        while (eol < len && buf[eol] != '\n')
            eol++;
        if (at > 0) { /* not the request line */
            const char *l = buf + at;
            size_t n = eol - at, i = 14;
            if (ci_prefix(l, n, "authorization:")) {
                while (i < n && (l[i] == ' ' || l[i] == '\t'))
                    i++;
                if (ci_prefix(l + i, n - i, "bearer ")) {
                    i += 7;
                    while (i < n && l[i] == ' ')
                        i++;
                    size_t j = i;
                    while (j < n && !strchr(" \t\r", l[j]))
                        j++;
                    ok |= j - i == strlen(token) && memcmp(l + i, token, j - i) == 0;
                }
            }
        }
        at = eol + 1;
    }
    return ok;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_in in = {data, size};
    size_t chunk = 1 + fuzz_u8(&in);
    uint8_t sz = fuzz_u8(&in);
    size_t cap = sz & 0x80 ? 16 + (sz & 0x7f) : ADMIN_REQ_MAX;
    size_t total = in.left < cap - 1 ? in.left : cap - 1; /* on_req_alloc leaves one byte */
    char *old = malloc(cap);
    FUZZ_CHECK(old != NULL, "malloc");

    size_t len = 0;
    http_verdict v = HTTP_MORE;
    int o = 0;
    while (len < total) {
        len = len + chunk < total ? len + chunk : total;
        char *buf = malloc(len);
        FUZZ_CHECK(buf != NULL, "malloc");
        memcpy(buf, in.p, len);
        struct http_head h;
        v = http_parse_head(buf, len, cap, &h);
        if (v == HTTP_GET || v == HTTP_NOT_GET)
            FUZZ_CHECK(http_bearer_ok(buf, len, "s3cret") == ref_bearer(buf, len, "s3cret"),
                       "http_bearer_ok disagrees with the reference");
        free(buf);
        memcpy(old, in.p, len);
        char old_path[256];
        o = old_parse(old, len, cap, old_path);
        FUZZ_CHECK((int)v == o, "after %zu bytes: http_parse_head says %d, the old parser %d", len,
                   (int)v, o);
        if (v == HTTP_GET)
            FUZZ_CHECK(strcmp(h.path, old_path) == 0, "path \"%s\", the old parser \"%s\"", h.path,
                       old_path);
        if (v == HTTP_GET || v == HTTP_NOT_GET)
            FUZZ_CHECK(h.path[0] == '/' && strlen(h.method) < 16 && strlen(h.version) < 16,
                       "request line fields");
        if (v != HTTP_MORE)
            break;
    }
    FUZZ_CHECK(v != HTTP_MORE || total < cap - 1, "a full buffer must get an answer");
    free(old);
    return 0;
}
