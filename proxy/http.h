/*
 * http: the admin port's request head, parsed with no sockets and no state.
 *
 * admin.c reads a request into a fixed buffer and calls http_parse_head after every read; the
 * answer says whether to wait for more bytes or how to answer. Only the request line is read
 * (method, target, version); header lines are ignored and no body is ever accepted.
 */
#ifndef PGFOLD_HTTP_H
#define PGFOLD_HTTP_H

#include <stdbool.h>
#include <stddef.h>

/* What to do with the bytes received so far. Values are the HTTP status to answer with. */
typedef enum {
    HTTP_MORE = 0,          /* no blank line yet: read on */
    HTTP_GET = 200,         /* a GET request for http_head.path: route it */
    HTTP_BAD_REQUEST = 400, /* a NUL byte (binary junk, a TLS hello) or a bad request line */
    HTTP_NOT_GET = 405,     /* a well-formed request line with another method */
    HTTP_TOO_LARGE = 413,   /* the head filled the buffer without ending */
} http_verdict;

/* The request line, each part cut to its field's size like sscanf's %15s/%255s/%15s. */
struct http_head {
    char method[16];
    char path[256]; /* the target without its query string ("/metrics") */
    char version[16];
};

/*
 * Parses buf[0..len), everything received so far (need not be NUL-terminated). cap is the
 * size of the caller's buffer: a head without its blank line that has reached cap - 1 bytes is
 * too large. Fills *out for HTTP_GET and HTTP_NOT_GET. Never reads outside buf[0..len).
 */
http_verdict http_parse_head(const char *buf, size_t len, size_t cap, struct http_head *out);

/*
 * True when the head buf[0..len) has a header line "Authorization: Bearer <token>" (names
 * case-insensitive) whose token equals token. Compares in time independent of where a wrong
 * token differs. token must not be empty.
 */
bool http_bearer_ok(const char *buf, size_t len, const char *token);

#endif
