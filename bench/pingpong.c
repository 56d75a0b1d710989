/*
 * pingpong: measures a TCP round trip, to tell what bench/relay adds and what a bare loopback
 * round trip costs on this machine (the floor under every client <-> pgfold exchange).
 *
 *     pingpong serve PORT                 echo server on 127.0.0.1:PORT (poll, until killed)
 *     pingpong ping HOST PORT COUNT [SIZE]
 *
 * ping connects (TCP_NODELAY), warms up with 100 exchanges, then sends SIZE bytes (default
 * 64) and waits for all of them to come back, COUNT times, timing each exchange with
 * CLOCK_MONOTONIC. It prints one line of microseconds:
 *
 *     rtt_us n=COUNT min=.. p50=.. p90=.. p99=.. max=.. mean=..
 *
 * The server is a single poll() loop that writes back whatever it reads; a client's bytes are
 * small enough that a write never blocks, so a blocking write is fine here.
 */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_CLIENTS 64

static double
now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int
serve(int port)
{
    struct pollfd fds[MAX_CLIENTS + 1];
    struct sockaddr_in sin = {.sin_family = AF_INET};
    int nfds = 1, one = 1;
    char buf[65536];

    fds[0].fd = socket(AF_INET, SOCK_STREAM, 0);
    fds[0].events = POLLIN;
    sin.sin_port = htons((uint16_t)port);
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fds[0].fd < 0 || setsockopt(fds[0].fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
        bind(fds[0].fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 || listen(fds[0].fd, 64) < 0) {
        perror("pingpong: listen");
        return 1;
    }
    for (;;) {
        if (poll(fds, (nfds_t)nfds, -1) < 0 && errno != EINTR)
            return 1;
        for (int i = nfds - 1; i >= 1; i--) {
            ssize_t n;

            if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            n = read(fds[i].fd, buf, sizeof(buf));
            if (n > 0 && write(fds[i].fd, buf, (size_t)n) == n)
                continue;
            close(fds[i].fd);
            fds[i] = fds[--nfds];
        }
        if (fds[0].revents & POLLIN) {
            int c = accept(fds[0].fd, NULL, NULL);

            if (c >= 0 && nfds <= MAX_CLIENTS) {
                setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
                fds[nfds].fd = c;
                fds[nfds].events = POLLIN;
                fds[nfds++].revents = 0;
            } else if (c >= 0) {
                close(c);
            }
        }
    }
}

/* One exchange: send size bytes, read size bytes back. Returns 0 or -1. */
static int
exchange(int fd, char *buf, size_t size)
{
    size_t got = 0;

    if (write(fd, buf, size) != (ssize_t)size)
        return -1;
    while (got < size) {
        ssize_t n = read(fd, buf + got, size - got);

        if (n <= 0)
            return -1;
        got += (size_t)n;
    }
    return 0;
}

static int
cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

static int
ping(const char *host, const char *port, long count, long size)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai;
    double *t = calloc((size_t)count, sizeof(double)), sum = 0;
    char *buf = calloc(1, (size_t)size);
    int fd, one = 1;

    if (!t || !buf || getaddrinfo(host, port, &hints, &ai) != 0)
        return 1;
    fd = socket(ai->ai_family, SOCK_STREAM, 0);
    if (fd < 0 || connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
        perror("pingpong: connect");
        return 1;
    }
    freeaddrinfo(ai);
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    for (int i = 0; i < 100; i++)
        if (exchange(fd, buf, (size_t)size) < 0)
            return 1;
    for (long i = 0; i < count; i++) {
        double t0 = now_us();

        if (exchange(fd, buf, (size_t)size) < 0) {
            fprintf(stderr, "pingpong: connection lost\n");
            return 1;
        }
        t[i] = now_us() - t0;
        sum += t[i];
    }
    qsort(t, (size_t)count, sizeof(double), cmp_double);
    printf("rtt_us n=%ld min=%.1f p50=%.1f p90=%.1f p99=%.1f max=%.1f mean=%.1f\n", count, t[0],
           t[count / 2], t[count * 9 / 10], t[count * 99 / 100], t[count - 1], sum / (double)count);
    close(fd);
    free(t);
    free(buf);
    return 0;
}

int
main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "serve") == 0)
        return serve(atoi(argv[2]));
    if ((argc == 5 || argc == 6) && strcmp(argv[1], "ping") == 0 && atol(argv[4]) > 0)
        return ping(argv[2], argv[3], atol(argv[4]), argc == 6 ? atol(argv[5]) : 64);
    fprintf(stderr, "usage: pingpong serve PORT | pingpong ping HOST PORT COUNT [SIZE]\n");
    return 2;
}
