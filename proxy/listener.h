/*
 * listener: the sockets pgfold accepts clients on, opened by the main thread.
 *
 * A listen spec is a comma-separated list of "host:port", "[v6addr]:port", or a unix socket
 * directory "/dir" (socket file /dir/.s.PGSQL.6432) or "/dir:PORT", as libpq clients expect.
 */
#ifndef PGFOLD_LISTENER_H
#define PGFOLD_LISTENER_H

#include <stdbool.h>
#include <stddef.h>

#define LISTENER_MAX 16

struct listener {
    int fd;
    bool is_unix;
    char path[256]; /* unix socket file, removed on close */
    char name[300]; /* for logs */
};

/*
 * Opens every socket named by spec as a non-blocking listening socket. Returns the number
 * opened (at least 1), or a negative errno with a message in err (nothing left open).
 */
int listener_open_all(const char *spec, struct listener *out, int max, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* Closes the socket and removes a unix socket file. */
void listener_close(struct listener *l);

/* Parses "host:port" / "[addr]:port" into host and port. Returns 0 or -EINVAL. */
int listener_split_hostport(const char *spec, char *host, size_t hostlen, char *port,
                            size_t portlen) __attribute__((warn_unused_result));

#endif
