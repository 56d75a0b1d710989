/*
 * http: the request head of the admin port. See http.h.
 *
 * The request line is split the way the admin port always has (it used sscanf with
 * "%15s %255s %15s"): whitespace of any kind separates the parts, leading whitespace and blank
 * lines before them are skipped, and a part longer than its field is cut there, the rest of
 * it becoming the next part. It is written out by hand so it works on a buffer that is not
 * NUL-terminated; tests/fuzz/fuzz_admin.c checks it against sscanf.
 */
#include "proxy/http.h"

#include <stdbool.h>
#include <string.h>

/* isspace() in the C locale, which is what sscanf's %s used (pgfold never sets a locale). */
static bool
is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

/* sscanf's "%Ns": skips whitespace, copies at most cap - 1 other bytes. False at the end. */
static bool
next_part(const char **p, const char *end, char *out, size_t cap)
{
    const char *q = *p;
    size_t n = 0;

    while (q < end && is_space(*q))
        q++;
    if (q == end)
        return false;
    while (q < end && !is_space(*q) && n < cap - 1)
        out[n++] = *q++;
    out[n] = '\0';
    *p = q;
    return true;
}

static bool
head_ended(const char *buf, size_t len)
{
    return memmem(buf, len, "\r\n\r\n", 4) != NULL || memmem(buf, len, "\n\n", 2) != NULL;
}

http_verdict
http_parse_head(const char *buf, size_t len, size_t cap, struct http_head *out)
{
    const char *p = buf, *end = buf + len;

    if (memchr(buf, '\0', len) != NULL)
        return HTTP_BAD_REQUEST; /* no NUL in an HTTP head (nor in TLS junk that reached us) */
    if (!head_ended(buf, len))
        return len + 1 >= cap ? HTTP_TOO_LARGE : HTTP_MORE;
    if (!next_part(&p, end, out->method, sizeof(out->method)) ||
        !next_part(&p, end, out->path, sizeof(out->path)) ||
        !next_part(&p, end, out->version, sizeof(out->version)) ||
        strncmp(out->version, "HTTP/1.", 7) != 0 || out->path[0] != '/')
        return HTTP_BAD_REQUEST;
    char *q = strchr(out->path, '?');
    if (q != NULL)
        *q = '\0';
    return strcmp(out->method, "GET") == 0 ? HTTP_GET : HTTP_NOT_GET;
}

/* Case-insensitive prefix test over a bounded span. */
static bool
starts_with_ci(const char *p, const char *end, const char *word)
{
    size_t n = strlen(word);
    if ((size_t)(end - p) < n)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = p[i];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        if (c != word[i])
            return false;
    }
    return true;
}

bool
http_bearer_ok(const char *buf, size_t len, const char *token)
{
    const char *end = buf + len;
    size_t tlen = strlen(token);
    bool ok = false;

    /* Header lines start after a newline; the request line is never one. */
    for (const char *p = memchr(buf, '\n', len); p && p < end; p = memchr(p, '\n', (size_t)(end - p))) {
        p++;
        if (!starts_with_ci(p, end, "authorization:"))
            continue;
        const char *v = p + strlen("authorization:");
        while (v < end && (*v == ' ' || *v == '\t'))
            v++;
        if (!starts_with_ci(v, end, "bearer "))
            continue;
        v += strlen("bearer ");
        while (v < end && *v == ' ')
            v++;
        const char *e = v;
        while (e < end && *e != '\r' && *e != '\n' && *e != ' ' && *e != '\t')
            e++;
        /* Compare every byte whatever the first difference: the time says nothing of the token. */
        size_t vlen = (size_t)(e - v);
        unsigned char diff = vlen != tlen;
        for (size_t i = 0; i < tlen; i++)
            diff |= (unsigned char)(token[i] ^ (i < vlen ? v[i] : 0));
        ok = ok || diff == 0;
    }
    return ok;
}
