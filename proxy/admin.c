/*
 * admin: a deliberately small HTTP/1.0-style server for the admin port.
 *
 * Each request is read into a fixed 8 KiB buffer until the blank line that ends its head;
 * the request line is split by hand (no body is ever accepted), one response is written, and
 * the connection closes. The counters it reports are atomics owned by struct server.
 */
#include "proxy/admin.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/listener.h"
#include "proxy/log.h"
#include "proxy/server.h"

#define ADMIN_REQ_MAX 8192

struct admin_req {
    uv_tcp_t tcp;
    struct admin *a;
    char in[ADMIN_REQ_MAX];
    size_t len;
    char *out;
    uv_write_t wreq;
    int done;
};

static void
on_req_closed(uv_handle_t *h)
{
    struct admin_req *r = h->data;
    free(r->out);
    free(r);
}

static void
on_req_written(uv_write_t *w, int status)
{
    (void)status;
    struct admin_req *r = w->data;
    uv_close((uv_handle_t *)&r->tcp, on_req_closed);
}

static void
respond(struct admin_req *r, int code, const char *ctype, const char *body)
{
    const char *reason = code == 200 ? "OK" : code == 400 ? "Bad Request" : code == 404
                                      ? "Not Found" : code == 405 ? "Method Not Allowed"
                                                                   : "Request Too Large";
    size_t blen = strlen(body);
    size_t cap = blen + 256;
    r->out = malloc(cap);
    if (!r->out) {
        uv_close((uv_handle_t *)&r->tcp, on_req_closed);
        return;
    }
    int n = snprintf(r->out, cap,
                     "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                     "Connection: close\r\n\r\n%s",
                     code, reason, ctype, blen, body);
    uv_buf_t b = uv_buf_init(r->out, (unsigned)n);
    r->wreq.data = r;
    r->done = 1;
    uv_read_stop((uv_stream_t *)&r->tcp);
    if (uv_write(&r->wreq, (uv_stream_t *)&r->tcp, &b, 1, on_req_written) < 0)
        uv_close((uv_handle_t *)&r->tcp, on_req_closed);
}

static void
metrics(struct admin_req *r, int json)
{
    struct server_stats *st = &r->a->srv->stats;
    char body[2048];
    unsigned long long conns = atomic_load(&st->client_conns);
    unsigned long long acc = atomic_load(&st->accepted_total);
    unsigned long long rej = atomic_load(&st->rejected_total);
    if (json) {
        snprintf(body, sizeof(body),
                 "{\"version\":\"0.1.0\",\"mode\":\"%s\",\"client_connections\":%llu,"
                 "\"accepted_total\":%llu,\"rejected_total\":%llu}\n",
                 config_mode_name(r->a->srv->cfg.mode), conns, acc, rej);
        respond(r, 200, "application/json", body);
        return;
    }
    snprintf(body, sizeof(body),
             "# HELP pgfold_client_connections Open client connections.\n"
             "# TYPE pgfold_client_connections gauge\n"
             "pgfold_client_connections %llu\n"
             "# HELP pgfold_accepted_connections_total Client connections accepted.\n"
             "# TYPE pgfold_accepted_connections_total counter\n"
             "pgfold_accepted_connections_total %llu\n"
             "# HELP pgfold_rejected_connections_total Clients refused over max_client_conn.\n"
             "# TYPE pgfold_rejected_connections_total counter\n"
             "pgfold_rejected_connections_total %llu\n",
             conns, acc, rej);
    respond(r, 200, "text/plain; version=0.0.4", body);
}

static void
route(struct admin_req *r)
{
    char method[16], path[256];
    if (sscanf(r->in, "%15s %255s", method, path) != 2) {
        respond(r, 400, "text/plain", "bad request\n");
        return;
    }
    if (strcmp(method, "GET") != 0) {
        respond(r, 405, "text/plain", "only GET\n");
        return;
    }
    if (strcmp(path, "/health") == 0)
        respond(r, 200, "text/plain", "ok\n");
    else if (strcmp(path, "/metrics") == 0)
        metrics(r, 0);
    else if (strcmp(path, "/stats") == 0)
        metrics(r, 1);
    else
        respond(r, 404, "text/plain", "not found\n");
}

static void
on_req_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
    (void)hint;
    struct admin_req *r = h->data;
    b->base = r->in + r->len;
    b->len = ADMIN_REQ_MAX - 1 - r->len;
}

static void
on_req_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    (void)b;
    struct admin_req *r = s->data;
    if (r->done)
        return;
    if (n < 0) {
        uv_close((uv_handle_t *)&r->tcp, on_req_closed);
        return;
    }
    r->len += (size_t)n;
    r->in[r->len] = '\0';
    if (strstr(r->in, "\r\n\r\n") || strstr(r->in, "\n\n"))
        route(r);
    else if (r->len >= ADMIN_REQ_MAX - 1)
        respond(r, 413, "text/plain", "request too large\n");
}

static void
on_admin_conn(uv_stream_t *server, int status)
{
    struct admin *a = server->data;
    if (status < 0)
        return;
    struct admin_req *r = calloc(1, sizeof(*r));
    if (!r)
        return;
    r->a = a;
    uv_tcp_init(a->loop, &r->tcp);
    r->tcp.data = r;
    if (uv_accept(server, (uv_stream_t *)&r->tcp) < 0) {
        uv_close((uv_handle_t *)&r->tcp, on_req_closed);
        return;
    }
    uv_read_start((uv_stream_t *)&r->tcp, on_req_alloc, on_req_read);
}

int
admin_open(struct admin *a, uv_loop_t *loop, struct server *srv, char *err, size_t errlen)
{
    memset(a, 0, sizeof(*a));
    a->loop = loop;
    a->srv = srv;
    if (srv->cfg.admin_listen[0] == '\0')
        return 0;
    char host[256], port[16];
    struct sockaddr_storage ss;
    if (listener_split_hostport(srv->cfg.admin_listen, host, sizeof(host), port, sizeof(port)) !=
            0 ||
        (uv_ip4_addr(host, atoi(port), (struct sockaddr_in *)&ss) != 0 &&
         uv_ip6_addr(host, atoi(port), (struct sockaddr_in6 *)&ss) != 0)) {
        snprintf(err, errlen, "admin_listen '%s': want an IP address and port",
                 srv->cfg.admin_listen);
        return -1;
    }
    uv_tcp_init(loop, &a->tcp);
    a->tcp.data = a;
    int rc = uv_tcp_bind(&a->tcp, (struct sockaddr *)&ss, 0);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&a->tcp, 128, on_admin_conn);
    if (rc < 0) {
        snprintf(err, errlen, "admin_listen %s: %s", srv->cfg.admin_listen, uv_strerror(rc));
        uv_close((uv_handle_t *)&a->tcp, NULL);
        return -1;
    }
    a->open = 1;
    log_info("admin listening on http://%s", srv->cfg.admin_listen);
    return 0;
}

void
admin_close(struct admin *a)
{
    if (a->open && !uv_is_closing((uv_handle_t *)&a->tcp))
        uv_close((uv_handle_t *)&a->tcp, NULL);
    a->open = 0;
}
