/*
 * listener: opens TCP and unix listening sockets with plain socket calls so the main thread
 * can accept with accept4() and hand the fds to workers. Owns the fds until listener_close().
 */
#include "proxy/listener.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define BACKLOG 1024

int
listener_split_hostport(const char *spec, char *host, size_t hostlen, char *port, size_t portlen)
{
    const char *colon;
    const char *h = spec;
    size_t hl;
    if (spec[0] == '[') {
        const char *close = strchr(spec, ']');
        if (!close || close[1] != ':')
            return -EINVAL;
        h = spec + 1;
        hl = (size_t)(close - h);
        colon = close + 1;
    } else {
        colon = strrchr(spec, ':');
        if (!colon)
            return -EINVAL;
        hl = (size_t)(colon - spec);
    }
    if (hl >= hostlen || strlen(colon + 1) >= portlen || colon[1] == '\0')
        return -EINVAL;
    memcpy(host, h, hl);
    host[hl] = '\0';
    strcpy(port, colon + 1);
    return 0;
}

static int
open_unix(const char *item, struct listener *l, char *err, size_t errlen)
{
    char dir[200];
    int port = 6432;
    const char *colon = strrchr(item, ':');
    size_t dl = colon ? (size_t)(colon - item) : strlen(item);
    if (colon)
        port = atoi(colon + 1);
    if (dl >= sizeof(dir) || port <= 0 || port > 65535) {
        snprintf(err, errlen, "bad unix socket spec '%s'", item);
        return -EINVAL;
    }
    memcpy(dir, item, dl);
    dir[dl] = '\0';
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    int n = snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/.s.PGSQL.%d", dir, port);
    if (n < 0 || (size_t)n >= sizeof(sa.sun_path)) {
        snprintf(err, errlen, "unix socket path too long for '%s'", item);
        return -ENAMETOOLONG;
    }
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    unlink(sa.sun_path); /* a stale socket from an earlier run */
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, BACKLOG) < 0) {
        int e = errno;
        snprintf(err, errlen, "cannot listen on %s: %s", sa.sun_path, strerror(e));
        close(fd);
        return -e;
    }
    chmod(sa.sun_path, 0777);
    l->fd = fd;
    l->is_unix = true;
    snprintf(l->path, sizeof(l->path), "%s", sa.sun_path);
    snprintf(l->name, sizeof(l->name), "unix:%s", sa.sun_path);
    return 1;
}

static int
open_tcp(const char *item, struct listener *out, int max, char *err, size_t errlen)
{
    char host[256], port[16];
    if (listener_split_hostport(item, host, sizeof(host), port, sizeof(port)) != 0) {
        snprintf(err, errlen, "bad listen address '%s' (want host:port)", item);
        return -EINVAL;
    }
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE};
    struct addrinfo *res;
    int rc = getaddrinfo(host[0] && strcmp(host, "*") ? host : NULL, port, &hints, &res);
    if (rc != 0) {
        snprintf(err, errlen, "cannot resolve listen address '%s': %s", item, gai_strerror(rc));
        return -EINVAL;
    }
    int n = 0, last = 0;
    for (struct addrinfo *ai = res; ai && n < max; ai = ai->ai_next) {
        int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0)
            continue;
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (ai->ai_family == AF_INET6)
            setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, BACKLOG) < 0) {
            last = errno;
            close(fd);
            continue;
        }
        out[n].fd = fd;
        out[n].is_unix = false;
        out[n].path[0] = '\0';
        snprintf(out[n].name, sizeof(out[n].name), "tcp:%s", item);
        n++;
    }
    freeaddrinfo(res);
    if (n == 0) {
        snprintf(err, errlen, "cannot listen on %s: %s", item, strerror(last ? last : EINVAL));
        return -(last ? last : EINVAL);
    }
    return n;
}

int
listener_open_all(const char *spec, struct listener *out, int max, char *err, size_t errlen)
{
    char copy[1024];
    snprintf(copy, sizeof(copy), "%s", spec);
    int n = 0;
    char *save = NULL;
    for (char *item = strtok_r(copy, ", ", &save); item; item = strtok_r(NULL, ", ", &save)) {
        int rc = item[0] == '/' ? open_unix(item, &out[n], err, errlen)
                                : open_tcp(item, &out[n], max - n, err, errlen);
        if (rc < 0) {
            while (n > 0)
                listener_close(&out[--n]);
            return rc;
        }
        n += rc;
        if (n >= max)
            break;
    }
    if (n == 0) {
        snprintf(err, errlen, "no listen address given");
        return -EINVAL;
    }
    return n;
}

void
listener_close(struct listener *l)
{
    if (l->fd >= 0)
        close(l->fd);
    l->fd = -1;
    if (l->path[0])
        unlink(l->path);
    l->path[0] = '\0';
}
