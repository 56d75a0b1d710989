/*
 * fetch: a blocking HTTP GET of the admin port (fetch.h).
 *
 * Written by hand rather than with libcurl: it is one request to pgfold's own HTTP/1.0-style
 * server on a loopback or private address, with no TLS, redirects, chunking or keep-alive to
 * speak of, and the daemon binary would otherwise link curl for this alone. The socket is
 * non-blocking and every wait goes through poll() against one deadline, so a server that
 * accepts and never answers costs timeout_ms, not forever.
 */
#include "proxy/fetch.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_PORT 6433

static void
seterr(char *err, size_t errlen, const char *fmt, const char *a, int port, const char *b)
{
    snprintf(err, errlen, fmt, a, port, b);
}

int
fetch_parse_url(const char *url, const char *dflt_path, char *host, size_t hostlen, int *port,
                char *path, size_t pathlen)
{
    const char *p = url;
    if (strncasecmp(p, "http://", 7) == 0)
        p += 7;
    else if (strstr(p, "://") != NULL)
        return -EINVAL; /* https or anything else: not the admin port */
    const char *slash = strchr(p, '/');
    size_t hl = slash ? (size_t)(slash - p) : strlen(p);
    const char *colon = NULL;
    const char *hs = p, *he = p + hl;
    if (hl > 0 && *p == '[') {
        const char *rb = memchr(p, ']', hl);
        if (!rb)
            return -EINVAL;
        hs = p + 1;
        he = rb;
        colon = rb + 1 < p + hl && rb[1] == ':' ? rb + 1 : NULL;
        if (!colon && rb + 1 != p + hl)
            return -EINVAL;
    } else {
        colon = memchr(p, ':', hl);
        he = colon ? colon : p + hl;
    }
    size_t n = (size_t)(he - hs);
    if (n == 0 || n >= hostlen)
        return -EINVAL;
    memcpy(host, hs, n);
    host[n] = '\0';
    *port = DEFAULT_PORT;
    if (colon) {
        char *end;
        long v = strtol(colon + 1, &end, 10);
        if (end == colon + 1 || end != p + hl || v < 1 || v > 65535)
            return -EINVAL;
        *port = (int)v;
    }
    if (strcmp(host, "*") == 0 || strcmp(host, "0.0.0.0") == 0)
        snprintf(host, hostlen, "127.0.0.1");
    else if (strcmp(host, "::") == 0)
        snprintf(host, hostlen, "::1");
    const char *pth = slash && slash[1] ? slash : dflt_path;
    if (strlen(pth) >= pathlen || strpbrk(pth, " \r\n") != NULL)
        return -EINVAL;
    snprintf(path, pathlen, "%s", pth);
    return 0;
}

static long long
now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits for events on fd until the deadline. Returns 0, or -ETIMEDOUT. */
static int
wait_fd(int fd, short events, long long deadline)
{
    for (;;) {
        long long left = deadline - now_ms();
        if (left <= 0)
            return -ETIMEDOUT;
        struct pollfd pf = {.fd = fd, .events = events};
        int rc = poll(&pf, 1, (int)left);
        if (rc > 0)
            return 0;
        if (rc < 0 && errno != EINTR)
            return -errno;
    }
}

/* Connects to one address. Returns the socket or -errno. */
static int
connect_one(const struct addrinfo *ai, long long deadline)
{
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
        return fd;
    int rc = errno == EINPROGRESS ? wait_fd(fd, POLLOUT, deadline) : -errno;
    if (rc == 0) {
        int err = 0;
        socklen_t el = sizeof(err);
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) != 0)
            rc = -errno;
        else if (err != 0)
            rc = -err;
        else
            return fd;
    }
    close(fd);
    return rc;
}

/* Connects to the first address of host:port that answers. Returns the socket or -errno. */
static int
connect_to(const char *host, int port, long long deadline)
{
    char svc[16];
    snprintf(svc, sizeof(svc), "%d", port);
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;
    if (getaddrinfo(host, svc, &hints, &res) != 0)
        return -EHOSTUNREACH;
    int rc = -ECONNREFUSED;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        rc = connect_one(ai, deadline);
        if (rc >= 0)
            break;
    }
    freeaddrinfo(res);
    return rc;
}

static int
send_all(int fd, const char *p, size_t n, long long deadline)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w > 0) {
            p += w;
            n -= (size_t)w;
        } else if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            int rc = wait_fd(fd, POLLOUT, deadline);
            if (rc != 0)
                return rc;
        } else if (w < 0 && errno != EINTR) {
            return -errno;
        }
    }
    return 0;
}

/* Reads until the server closes, at most FETCH_MAX_BODY plus a head. */
static int
recv_all(int fd, struct buf *in, long long deadline)
{
    for (;;) {
        if (buf_used(in) > FETCH_MAX_BODY + 65536)
            return -E2BIG;
        if (buf_reserve(in, 65536) != 0)
            return -ENOMEM;
        ssize_t r = recv(fd, in->data + in->len, 65536, 0);
        if (r > 0) {
            buf_commit(in, (size_t)r);
        } else if (r == 0) {
            return 0;
        } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
            int rc = wait_fd(fd, POLLIN, deadline);
            if (rc != 0)
                return rc;
        } else if (errno != EINTR) {
            return -errno;
        }
    }
}

/* Checks the status line and appends the body. */
static int
take_body(const struct buf *in, struct buf *body, char *err, size_t errlen)
{
    const char *p = (const char *)buf_head(in);
    size_t n = buf_used(in);
    const char *end = p ? memmem(p, n, "\r\n\r\n", 4) : NULL;
    int status = 0;
    if (!end || n < 12 || strncmp(p, "HTTP/1.", 7) != 0 || sscanf(p + 9, "%3d", &status) != 1) {
        snprintf(err, errlen, "not an HTTP response");
        return -EPROTO;
    }
    if (status != 200) {
        const char *eol = memchr(p, '\r', n);
        snprintf(err, errlen, "HTTP %.*s%s", (int)(eol - p - 9), p + 9,
                 status == 401 ? " (set PGFOLD_ADMIN_TOKEN, or -c the file with admin_token)" : "");
        return status == 401 ? -EACCES : -EPROTO;
    }
    size_t hl = (size_t)(end + 4 - p);
    buf_put(body, p + hl, n - hl);
    return buf_error(body) ? -ENOMEM : 0;
}

int
fetch_get(const char *host, int port, const char *path, const char *token, int timeout_ms,
          struct buf *body, char *err, size_t errlen)
{
    long long deadline = now_ms() + timeout_ms;
    int fd = connect_to(host, port, deadline);
    if (fd < 0) {
        seterr(err, errlen, "%s:%d: %s", host, port, strerror(-fd));
        return fd;
    }
    struct buf req, in;
    buf_init(&req);
    buf_init(&in);
    char line[1024];
    snprintf(line, sizeof(line), "GET %s HTTP/1.0\r\nHost: %s\r\nConnection: close\r\n", path,
             host);
    buf_puts(&req, line);
    if (token && token[0]) {
        buf_puts(&req, "Authorization: Bearer ");
        buf_puts(&req, token);
        buf_puts(&req, "\r\n");
    }
    buf_puts(&req, "\r\n");
    int rc = buf_error(&req) ? -ENOMEM
                             : send_all(fd, (const char *)buf_head(&req), buf_used(&req), deadline);
    if (rc == 0)
        rc = recv_all(fd, &in, deadline);
    close(fd);
    if (rc != 0)
        seterr(err, errlen, "%s:%d: %s", host, port, strerror(-rc));
    else
        rc = take_body(&in, body, err, errlen);
    buf_free(&req);
    buf_free(&in);
    return rc;
}
