/*
 * fetch: one blocking HTTP GET of pgfold's own admin port, for command-line tools
 * (pgfold --patterns-diff). Not for the proxy's loops: it blocks.
 *
 * The admin port speaks plain HTTP/1.x and closes after each response (admin.c), so this is
 * one request with "Connection: close", read until the server closes, with a deadline. It
 * takes no TLS and follows no redirects: it talks to pgfold, not to the web.
 */
#ifndef PGFOLD_FETCH_H
#define PGFOLD_FETCH_H

#include <stddef.h>

#include "pgwire/buf.h"

#define FETCH_MAX_BODY (64u << 20) /* a response past this is refused */

/*
 * Splits an admin address or URL into host, port and path: "http://127.0.0.1:6433/patterns",
 * "127.0.0.1:6433", "[::1]:6433/x", "localhost" (port 6433). A host of "*", "0.0.0.0" or "::"
 * (admin_listen's "every address") becomes the loopback address. path defaults to dflt_path.
 * Returns 0 or -EINVAL.
 */
int fetch_parse_url(const char *url, const char *dflt_path, char *host, size_t hostlen, int *port,
                    char *path, size_t pathlen) __attribute__((warn_unused_result));

/*
 * GETs path from host:port within timeout_ms, with "Authorization: Bearer <token>" when token
 * is not empty, and appends the body of a 200 response to *body. Returns 0; otherwise a
 * negative code with a sentence in err ("127.0.0.1:6433: connection refused", "HTTP 401 ...").
 */
int fetch_get(const char *host, int port, const char *path, const char *token, int timeout_ms,
              struct buf *body, char *err, size_t errlen) __attribute__((warn_unused_result));

#endif
