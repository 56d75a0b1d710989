/*
 * relay: a TCP delay relay, the "network" of `make bench`.
 *
 *     relay LISTEN_PORT TARGET_HOST TARGET_PORT ONE_WAY_DELAY_US
 *
 * Listens on 127.0.0.1:LISTEN_PORT. Every accepted connection gets its own connection to
 * TARGET_HOST:TARGET_PORT, and every chunk of bytes read from either side is written to the
 * other side ONE_WAY_DELAY_US microseconds after it was read, so a request/response exchange
 * pays 2 x ONE_WAY_DELAY_US more than it would without the relay. An end of stream travels the
 * same way (it is forwarded as shutdown(SHUT_WR) after the delay); an error or reset on either
 * side closes both at once.
 *
 * How data moves: one thread, one epoll set, one timerfd. A read lands in a static buffer and is
 * copied into a chunk stamped with its due time (CLOCK_MONOTONIC, nanoseconds) at the tail of
 * that direction's FIFO. Because the delay is the same for every chunk, FIFO order is due-time
 * order, so order is preserved by construction. After every batch of events the loop writes
 * every chunk whose time has come, then arms the timerfd (absolute time) at the earliest due
 * time still queued. The timer slack is set to 1 ns so the kernel does not round wake-ups up by
 * its default 50 us. A wake-up still comes some tens of microseconds late on a virtual machine,
 * and the relay's own hop costs a little. The relay does not guess that away (an estimate learnt
 * from its own wake-ups is one long preemption away from being wrong by milliseconds); instead
 * bench/run.sh measures the round trip it really adds and chooses ONE_WAY_DELAY_US so that it
 * is the one asked for.
 *
 * Bounds: a direction holds at most DIR_MAX_BYTES (+ one read) of queued bytes; past that the
 * relay stops reading from its source until the queue drains, so a slow reader slows the
 * writer instead of growing memory (TCP backpressure passes through). At most MAX_CONNS
 * connections; more are accepted and closed at once.
 *
 * What it is not: a traffic shaper. There is no bandwidth limit, jitter or loss; the only
 * thing it adds is a fixed latency, which is what the N+1 benchmarks need. Both sockets set
 * TCP_NODELAY so Nagle's algorithm adds nothing on top.
 */
#include <errno.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#define CHUNK_MAX (64 * 1024)
#define DIR_MAX_BYTES (1024 * 1024)
#define MAX_CONNS 4096
#define MAX_EVENTS 128
#define UNWATCHED UINT32_MAX /* struct end.events of an fd outside the epoll set */

/* A run of bytes read at one moment; len 0 marks the end of the stream. */
struct chunk {
    struct chunk *next;
    uint64_t due_ns;
    size_t len, off;
    char data[];
};

/* One direction of a connection: read from fds[from], delayed, written to fds[1 - from]. */
struct flow {
    struct chunk *head, *tail;
    size_t queued;
    bool read_eof; /* the source said EOF (or is gone); nothing more will be queued */
    bool blocked;  /* the last write hit EAGAIN: wait for EPOLLOUT on the destination */
    bool shut;     /* the end-of-stream marker has been forwarded */
};

/* An epoll registration: which connection, which side (0 = client, 1 = target). */
struct end {
    struct conn *conn;
    int side;
    uint32_t events; /* what epoll watches now, or UNWATCHED */
};

struct conn {
    int fds[2];
    struct end ends[2];
    struct flow flows[2]; /* flows[0]: client -> target; flows[1]: target -> client */
    bool connecting;      /* the target connect() has not completed yet */
    bool dead;
    size_t slot; /* index in conns[] */
};

static struct conn *conns[MAX_CONNS];
static size_t nconns;
static int epfd, timerfd_, listenfd;
static struct end listen_tag, timer_tag; /* epoll data of the listening socket and the timer */
static uint64_t delay_ns;
static struct sockaddr_storage target_addr;
static socklen_t target_len;
static char readbuf[CHUNK_MAX];

static uint64_t
now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void
set_nodelay(int fd)
{
    int one = 1;

    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

/* Makes epoll watch one end for exactly events (0 = take it out of the set, so a hung-up
 * socket nobody waits on cannot wake the loop over and over). Returns 0 or -errno. */
static int
end_watch(struct conn *c, int side, uint32_t events)
{
    struct end *e = &c->ends[side];
    struct epoll_event ev = {.events = events, .data.ptr = e};
    int op;

    if (e->events == events || (events == 0 && e->events == UNWATCHED))
        return 0;
    if (events == 0)
        op = EPOLL_CTL_DEL;
    else
        op = e->events == UNWATCHED ? EPOLL_CTL_ADD : EPOLL_CTL_MOD;
    if (epoll_ctl(epfd, op, c->fds[side], &ev) < 0)
        return -errno;
    e->events = events ? events : UNWATCHED;
    return 0;
}

/* Recomputes what both ends of a connection wait for, from the state of its two flows. */
static void
conn_rewatch(struct conn *c)
{
    for (int side = 0; side < 2; side++) {
        const struct flow *in = &c->flows[side];      /* read from this side */
        const struct flow *out = &c->flows[1 - side]; /* written to this side */
        uint32_t ev = 0;

        if (!in->read_eof && in->queued < DIR_MAX_BYTES && !(side == 1 && c->connecting))
            ev |= EPOLLIN;
        if (out->blocked || (side == 1 && c->connecting))
            ev |= EPOLLOUT;
        if (end_watch(c, side, ev) < 0)
            c->dead = true;
    }
}

static void
flow_clear(struct flow *f)
{
    while (f->head) {
        struct chunk *k = f->head;

        f->head = k->next;
        free(k);
    }
    f->tail = NULL;
    f->queued = 0;
}

/* Frees a connection: its sockets (which leaves the epoll set) and its queued bytes. */
static void
conn_free(struct conn *c)
{
    close(c->fds[0]);
    close(c->fds[1]);
    flow_clear(&c->flows[0]);
    flow_clear(&c->flows[1]);
    conns[c->slot] = conns[--nconns];
    conns[c->slot]->slot = c->slot;
    free(c);
}

/* Appends a chunk of len bytes (len 0 = end of stream) due delay_ns from now. */
static int
flow_push(struct flow *f, const char *data, size_t len)
{
    struct chunk *k = malloc(sizeof(*k) + len);

    if (!k)
        return -ENOMEM;
    k->next = NULL;
    k->due_ns = now_ns() + delay_ns;
    k->len = len;
    k->off = 0;
    if (len)
        memcpy(k->data, data, len);
    if (f->tail)
        f->tail->next = k;
    else
        f->head = k;
    f->tail = k;
    f->queued += len;
    return 0;
}

/* Reads what side has to say into its flow. EOF and errors end reading from that side. */
static void
conn_read(struct conn *c, int side)
{
    struct flow *f = &c->flows[side];
    ssize_t n = read(c->fds[side], readbuf, sizeof(readbuf));

    if (n > 0) {
        if (flow_push(f, readbuf, (size_t)n) < 0)
            c->dead = true;
        return;
    }
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n < 0) { /* reset: the other side sees a reset too, now */
        c->dead = true;
        return;
    }
    f->read_eof = true;
    if (flow_push(f, NULL, 0) < 0)
        c->dead = true;
}

/* Writes every due chunk of one flow. Sets f->blocked on EAGAIN, c->dead on errors. */
static void
flow_flush(struct conn *c, int from, uint64_t now)
{
    struct flow *f = &c->flows[from];
    int fd = c->fds[1 - from];

    if (f->blocked || (from == 0 && c->connecting))
        return;
    while (f->head && f->head->due_ns <= now) {
        struct chunk *k = f->head;

        if (k->len == 0) {
            shutdown(fd, SHUT_WR);
            f->shut = true;
        } else {
            ssize_t n = send(fd, k->data + k->off, k->len - k->off, MSG_NOSIGNAL);

            if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
                f->blocked = true;
                return;
            }
            if (n < 0) {
                c->dead = true;
                return;
            }
            k->off += (size_t)n;
            f->queued -= (size_t)n;
            if (k->off < k->len)
                continue; /* a partial write: the next send will most likely say EAGAIN */
        }
        f->head = k->next;
        if (!f->head)
            f->tail = NULL;
        free(k);
    }
}

/* The target connect() finished (EPOLLOUT): check whether it worked. */
static void
conn_connected(struct conn *c)
{
    int err = 0;
    socklen_t len = sizeof(err);

    if (getsockopt(c->fds[1], SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err != 0) {
        c->dead = true;
        return;
    }
    c->connecting = false;
}

static void
accept_all(void)
{
    for (;;) {
        int cfd = accept4(listenfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        struct conn *c;
        int tfd;

        if (cfd < 0)
            return; /* EAGAIN, or a connection that went away before accept */
        if (nconns == MAX_CONNS) {
            close(cfd);
            continue;
        }
        tfd = socket(target_addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        c = calloc(1, sizeof(*c));
        if (tfd < 0 || !c ||
            (connect(tfd, (struct sockaddr *)&target_addr, target_len) < 0 &&
             errno != EINPROGRESS)) {
            close(cfd);
            if (tfd >= 0)
                close(tfd);
            free(c);
            continue;
        }
        set_nodelay(cfd);
        set_nodelay(tfd);
        c->fds[0] = cfd;
        c->fds[1] = tfd;
        c->connecting = true;
        for (int side = 0; side < 2; side++) {
            c->ends[side].conn = c;
            c->ends[side].side = side;
            c->ends[side].events = UNWATCHED;
        }
        c->slot = nconns;
        conns[nconns++] = c;
        conn_rewatch(c);
    }
}

/* One pass over every connection: write what is due, drop what is finished, re-watch, and
 * return the earliest due time still queued (0 = none). */
static uint64_t
sweep(void)
{
    uint64_t now = now_ns(), next = 0;

    for (size_t i = 0; i < nconns;) {
        struct conn *c = conns[i];

        for (int from = 0; from < 2; from++)
            flow_flush(c, from, now);
        if (c->dead || (c->flows[0].shut && c->flows[1].shut)) {
            conn_free(c); /* moves the last connection into slot i */
            continue;
        }
        conn_rewatch(c);
        if (c->dead) {
            conn_free(c);
            continue;
        }
        for (int from = 0; from < 2; from++) {
            const struct flow *f = &c->flows[from];

            if (f->head && !f->blocked && !(from == 0 && c->connecting) &&
                (next == 0 || f->head->due_ns < next))
                next = f->head->due_ns;
        }
        i++;
    }
    return next;
}

static void
arm_timer(uint64_t due_ns)
{
    struct itimerspec its = {0}; /* all zero disarms */

    if (due_ns != 0) {
        its.it_value.tv_sec = (time_t)(due_ns / 1000000000u);
        its.it_value.tv_nsec = (long)(due_ns % 1000000000u);
    }
    (void)timerfd_settime(timerfd_, TFD_TIMER_ABSTIME, &its, NULL);
}

static void
handle_event(const struct epoll_event *ev)
{
    struct end *e = ev->data.ptr;
    struct conn *c;

    if (e == &timer_tag) { /* nothing to do but clear it: sweep() writes what is due */
        uint64_t expirations;

        (void)!read(timerfd_, &expirations, sizeof(expirations));
        return;
    }
    if (e == &listen_tag) {
        accept_all();
        return;
    }
    c = e->conn;
    if (c->dead)
        return;
    if (ev->events & EPOLLERR) { /* a reset, or a failed connect: both sides go */
        c->dead = true;
        return;
    }
    if (e->side == 1 && c->connecting && (ev->events & (EPOLLOUT | EPOLLHUP)))
        conn_connected(c);
    if (ev->events & EPOLLOUT)
        c->flows[1 - e->side].blocked = false;
    if ((ev->events & (EPOLLIN | EPOLLHUP)) && !c->flows[e->side].read_eof && !c->dead &&
        !(e->side == 1 && c->connecting))
        conn_read(c, e->side);
}

static int
parse_num(const char *s, long min, long max, long *out)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < min || v > max)
        return -EINVAL;
    *out = v;
    return 0;
}

static int
setup(long listen_port, const char *host, const char *port)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai;
    struct sockaddr_in sin = {.sin_family = AF_INET};
    struct epoll_event ev = {.events = EPOLLIN};
    int one = 1, rc;

    if ((rc = getaddrinfo(host, port, &hints, &ai)) != 0) {
        fprintf(stderr, "relay: %s:%s: %s\n", host, port, gai_strerror(rc));
        return -1;
    }
    memcpy(&target_addr, ai->ai_addr, ai->ai_addrlen);
    target_len = ai->ai_addrlen;
    freeaddrinfo(ai);

    listenfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    sin.sin_port = htons((uint16_t)listen_port);
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (listenfd < 0 || setsockopt(listenfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
        bind(listenfd, (struct sockaddr *)&sin, sizeof(sin)) < 0 || listen(listenfd, 512) < 0) {
        fprintf(stderr, "relay: listen on 127.0.0.1:%ld: %s\n", listen_port, strerror(errno));
        return -1;
    }
    epfd = epoll_create1(EPOLL_CLOEXEC);
    timerfd_ = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (epfd < 0 || timerfd_ < 0)
        return -1;
    ev.data.ptr = &listen_tag;
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, listenfd, &ev) < 0)
        return -1;
    ev.data.ptr = &timer_tag;
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, timerfd_, &ev) < 0)
        return -1;
    return 0;
}

int
main(int argc, char **argv)
{
    struct epoll_event evs[MAX_EVENTS];
    long listen_port, target_port, delay_us;
    struct rlimit rl;

    if (argc != 5 || parse_num(argv[1], 1, 65535, &listen_port) < 0 ||
        parse_num(argv[3], 1, 65535, &target_port) < 0 ||
        parse_num(argv[4], 0, 10000000, &delay_us) < 0) {
        fprintf(stderr, "usage: relay LISTEN_PORT TARGET_HOST TARGET_PORT ONE_WAY_DELAY_US\n"
                        "  forwards 127.0.0.1:LISTEN_PORT to TARGET_HOST:TARGET_PORT, delaying "
                        "each direction by ONE_WAY_DELAY_US\n");
        return 2;
    }
    delay_ns = (uint64_t)delay_us * 1000u;
    (void)prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max; /* two descriptors per connection */
        (void)setrlimit(RLIMIT_NOFILE, &rl);
    }
    signal(SIGPIPE, SIG_IGN);
    if (setup(listen_port, argv[2], argv[3]) < 0)
        return 1;
    fprintf(stderr, "relay: 127.0.0.1:%ld -> %s:%ld, one-way delay %ld us\n", listen_port, argv[2],
            target_port, delay_us);

    for (;;) {
        int n = epoll_wait(epfd, evs, MAX_EVENTS, -1);

        if (n < 0 && errno != EINTR) {
            perror("relay: epoll_wait");
            return 1;
        }
        for (int i = 0; i < n; i++)
            handle_event(&evs[i]);
        arm_timer(sweep());
    }
}
