/*
 * admin: a deliberately small HTTP/1.0-style server for the admin port.
 *
 * Each request is read into a fixed 8 KiB buffer until the blank line that ends its head;
 * http.c reads the request line (no body is ever accepted), one response is written, and the
 * connection closes. The counters it reports are atomics owned by struct server.
 */
#include "proxy/admin.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "proxy/http.h"
#include "proxy/listener.h"
#include "proxy/log.h"
#include "proxy/server.h"
#include "proxy/stats.h"
#include "proxy/version.h"

#define ADMIN_REQ_MAX 8192

struct admin_req {
    struct probe_wait wait;        /* first: /ready's callback finds the request from it */
    struct admin_req *prev, *next; /* the admin's list, oldest first */
    uv_tcp_t tcp;
    uv_timer_t idle;
    int handles; /* freed when both the socket and the timer are closed */
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
    if (--r->handles > 0)
        return;
    struct admin *a = r->a;
    if (r->prev)
        r->prev->next = r->next;
    else
        a->oldest = r->next;
    if (r->next)
        r->next->prev = r->prev;
    else
        a->newest = r->prev;
    a->nconns--;
    free(r->out);
    free(r);
}

/* Closes the connection and its timer; memory goes in the last close callback. */
static void
req_close(struct admin_req *r)
{
    if (!uv_is_closing((uv_handle_t *)&r->idle))
        uv_close((uv_handle_t *)&r->idle, on_req_closed);
    if (!uv_is_closing((uv_handle_t *)&r->tcp))
        uv_close((uv_handle_t *)&r->tcp, on_req_closed);
}

static void
on_req_idle(uv_timer_t *t)
{
    req_close(t->data); /* a request that never completes does not hold a slot forever */
}

static void
on_req_written(uv_write_t *w, int status)
{
    (void)status;
    struct admin_req *r = w->data;
    req_close(r);
}

static void
respond(struct admin_req *r, int code, const char *ctype, const char *body)
{
    const char *reason = code == 200   ? "OK"
                         : code == 400 ? "Bad Request"
                         : code == 401 ? "Unauthorized"
                         : code == 404 ? "Not Found"
                         : code == 405 ? "Method Not Allowed"
                         : code == 413 ? "Request Too Large"
                         : code == 503 ? "Service Unavailable"
                                       : "Internal Server Error";
    size_t blen = strlen(body);
    size_t cap = blen + 256;
    r->out = malloc(cap);
    if (!r->out) {
        req_close(r);
        return;
    }
    int n = snprintf(r->out, cap,
                     "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n%s"
                     "Connection: close\r\n\r\n%s",
                     code, reason, ctype, blen,
                     code == 401 ? "WWW-Authenticate: Bearer realm=\"pgfold\"\r\n" : "", body);
    uv_buf_t b = uv_buf_init(r->out, (unsigned)n);
    r->wreq.data = r;
    r->done = 1;
    uv_read_stop((uv_stream_t *)&r->tcp);
    if (uv_write(&r->wreq, (uv_stream_t *)&r->tcp, &b, 1, on_req_written) < 0)
        req_close(r);
}

static void
respond_buf(struct admin_req *r, int code, const char *ctype, struct buf *body)
{
    buf_put_u8(body, 0);
    respond(r, buf_error(body) ? 500 : code, ctype,
            buf_error(body) ? "out of memory\n" : (const char *)buf_head(body));
    buf_free(body);
}

static uint64_t
now_ms(void)
{
    return uv_hrtime() / 1000000;
}

static void
put_json_kv(struct buf *b, const char *k, const char *v, int comma)
{
    if (comma)
        buf_put_u8(b, ',');
    stats_json_str(b, k);
    buf_put_u8(b, ':');
    stats_json_str(b, v);
}

static void
put_json_num(struct buf *b, const char *k, unsigned long long v)
{
    char tmp[32];
    buf_put_u8(b, ',');
    stats_json_str(b, k);
    int n = snprintf(tmp, sizeof(tmp), ":%llu", v);
    buf_put(b, tmp, (size_t)n);
}

/* The effective configuration, minus anything secret (upstream carries no password). */
static void
config_json(struct buf *b, const struct config *c)
{
    char port[16];
    buf_put_u8(b, '{');
    put_json_kv(b, "listen", c->listen, 0);
    put_json_kv(b, "upstream_host", c->upstream_host, 1);
    snprintf(port, sizeof(port), "%d", c->upstream_port);
    put_json_kv(b, "upstream_port", port, 1);
    put_json_kv(b, "upstream_dbname", c->upstream_dbname, 1);
    put_json_kv(b, "admin_listen", c->admin_listen, 1);
    put_json_kv(b, "mode", config_mode_name(c->mode), 1);
    put_json_kv(b, "consistency", config_consistency_name(c->consistency), 1);
    put_json_num(b, "max_staleness_ms", c->max_staleness_ms);
    put_json_num(b, "max_batch_keys", c->max_batch_keys);
    put_json_num(b, "max_batch_bytes", c->max_batch_bytes);
    put_json_num(b, "session_cache_bytes", c->session_cache_bytes);
    put_json_num(b, "max_client_conn", c->max_client_conn);
    put_json_num(b, "workers", c->workers);
    put_json_kv(b, "log_level", config_log_level_name(c->log_level), 1);
    put_json_kv(b, "log_format", config_log_format_name(c->log_format), 1);
    buf_put_u8(b, '}');
}

static void
snapshot(struct admin *a, struct stats_process *p)
{
    server_snapshot(a->srv, &a->srv->cfg, now_ms(), p);
}

static void
stats_page(struct admin_req *r)
{
    struct server *srv = r->a->srv;
    struct stats_process p;
    snapshot(r->a, &p);
    struct buf b;
    buf_init(&b);
    char up[32];
    snprintf(up, sizeof(up), "%.3f", (double)p.uptime_ms / 1000.0);
    buf_put_u8(&b, '{');
    put_json_kv(&b, "version", PGFOLD_VERSION_STRING, 0);
    buf_puts(&b, ",\"uptime_seconds\":");
    buf_put(&b, up, strlen(up));
    put_json_num(&b, "workers_running", (unsigned long long)srv->nworkers);
    put_json_num(&b, "client_connections", p.client_conns);
    put_json_num(&b, "accepted_connections", p.accepted);
    put_json_num(&b, "rejected_connections", p.rejected);
    put_json_num(&b, "login_failures", p.login_failures);
    put_json_num(&b, "upstream_connect_failures", p.upstream_failures);
    buf_puts(&b, ",\"counters\":");
    stats_render_counters_json(&srv->st, &b);
    buf_puts(&b, ",\"config\":");
    config_json(&b, &srv->cfg);
    buf_put(&b, "}\n", 2);
    respond_buf(r, 200, "application/json", &b);
}

static void
html_escape(struct buf *b, const char *s)
{
    for (; *s; s++) {
        if (*s == '<')
            buf_put(b, "&lt;", 4);
        else if (*s == '>')
            buf_put(b, "&gt;", 4);
        else if (*s == '&')
            buf_put(b, "&amp;", 5);
        else if (*s == '"')
            buf_put(b, "&quot;", 6);
        else
            buf_put_u8(b, (uint8_t)*s);
    }
}

/* The head of the page, and the process's figures as a table. */
static void
index_counters(struct admin *a, struct buf *b)
{
    struct stats_process p;
    struct stats_item items[STATS_MAX_ITEMS];
    snapshot(a, &p);
    size_t n = stats_items(&a->srv->st, &p, items, STATS_MAX_ITEMS);
    buf_puts(b, "<!doctype html><html><head><meta charset=\"utf-8\"><title>pgfold</title>"
                "<style>body{font-family:sans-serif;margin:2em}td,th{padding:.2em .6em;"
                "border-bottom:1px solid #ddd;text-align:left;vertical-align:top}"
                "td.n{text-align:right}code{font-size:90%}</style></head><body><h1>pgfold</h1>"
                "<p><a href=\"/metrics\">/metrics</a> &middot; <a href=\"/stats\">/stats"
                "</a> &middot; <a href=\"/patterns\">/patterns</a> &middot; <a href=\"/ready\">"
                "/ready</a></p><table><tr><th>version</th><td>");
    html_escape(b, p.version);
    buf_puts(b, "</td></tr><tr><th>mode</th><td>");
    html_escape(b, p.mode);
    char v[32];
    snprintf(v, sizeof(v), "%llu.%03llu s", (unsigned long long)(p.uptime_ms / 1000),
             (unsigned long long)(p.uptime_ms % 1000));
    buf_puts(b, "</td></tr><tr><th>uptime</th><td>");
    buf_puts(b, v);
    buf_puts(b, "</td></tr></table><h2>Counters</h2><table><tr><th>counter</th><th>value</th>"
                "<th>what</th></tr>");
    for (size_t i = 0; i < n; i++) {
        buf_puts(b, "<tr><td><code>");
        html_escape(b, items[i].key);
        buf_puts(b, "</code></td><td class=\"n\">");
        stats_item_value(&items[i], v, sizeof(v));
        buf_puts(b, v);
        buf_puts(b, "</td><td>");
        html_escape(b, items[i].help);
        buf_puts(b, "</td></tr>");
    }
    buf_puts(b, "</table>");
}

/* A page for people: the process, its counters and the patterns, no scripts. */
static void
index_page(struct admin_req *r)
{
    struct stats *st = &r->a->srv->st;
    bool observe = r->a->srv->cfg.mode == MODE_OBSERVE;
    struct buf b;
    buf_init(&b);
    index_counters(r->a, &b);
    buf_puts(&b, "<h2>N+1 patterns</h2>");
    if (observe)
        buf_puts(&b, "<p>Observe mode: nothing is batched; the round trips are what batching "
                     "would save.</p>");
    buf_puts(&b, "<table><tr><th>repeated query</th><th>source query (column)</th><th>lookups"
                 "</th><th>batches</th><th>keys used / fetched</th><th>");
    buf_puts(&b, observe ? "round trips it would save" : "round trips saved");
    buf_puts(&b, "</th><th>fix</th><th>saved, or would save</th><th>seen under</th></tr>");
    double rtt_us = stats_rtt_median_us(st, NULL);
    pthread_mutex_lock(&st->lock);
    for (size_t i = 0; i < st->npatterns; i++) {
        struct stats_pattern *p = &st->patterns[i];
        char tip[512], nums[200];
        stats_suggestion(p, tip, sizeof(tip));
        buf_put(&b, "<tr><td><code>", 14);
        html_escape(&b, p->repeated);
        buf_put(&b, "</code></td><td><code>", 22);
        html_escape(&b, p->source);
        buf_put(&b, "</code> (", 9);
        html_escape(&b, p->source_column);
        int n = snprintf(nums, sizeof(nums),
                         ")</td><td class=\"n\">%llu</td><td class=\"n\">%llu</td>"
                         "<td class=\"n\">%llu / %llu</td><td class=\"n\">%llu</td><td>",
                         (unsigned long long)p->lookups, (unsigned long long)p->batches,
                         (unsigned long long)p->keys_used, (unsigned long long)p->keys_fetched,
                         (unsigned long long)(observe ? p->would_save : p->roundtrips_saved));
        buf_put(&b, nums, (size_t)n);
        html_escape(&b, tip);
        buf_put(&b, "</td>", 5);
        stats_render_pattern_html(p, rtt_us, &b);
        buf_put(&b, "</tr>", 5);
    }
    pthread_mutex_unlock(&st->lock);
    buf_puts(&b, "</table></body></html>\n");
    respond_buf(r, 200, "text/html; charset=utf-8", &b);
}

/* /ready's answer, now or when the probe is done (the request waits, reading nothing). */
static void
on_ready(struct probe_wait *w, bool ready, const char *why)
{
    struct admin_req *r = (struct admin_req *)w;
    char body[256];
    snprintf(body, sizeof(body), "%s%s\n", ready ? "ready: " : "not ready: ", why);
    respond(r, ready ? 200 : 503, "text/plain", body);
}

static void
ready_page(struct admin_req *r)
{
    r->done = 1; /* neither a read nor the connection cap may close it while it waits */
    uv_read_stop((uv_stream_t *)&r->tcp);
    uv_timer_stop(&r->idle);
    r->wait.done = on_ready;
    probe_ask(&r->a->probe, &r->wait);
}

/* A GET for path (query string already cut off). */
static void
route(struct admin_req *r, const char *path)
{
    struct server *srv = r->a->srv;
    struct buf b;
    buf_init(&b);
    if (strcmp(path, "/health") == 0) {
        respond(r, 200, "text/plain", "ok\n");
    } else if (strcmp(path, "/ready") == 0) {
        ready_page(r);
    } else if (strcmp(path, "/metrics") == 0) {
        struct stats_process p;
        snapshot(r->a, &p);
        stats_render_metrics(&srv->st, &p, &b);
        respond_buf(r, 200, "text/plain; version=0.0.4", &b);
        return;
    } else if (strcmp(path, "/stats") == 0) {
        stats_page(r);
    } else if (strcmp(path, "/patterns") == 0) {
        stats_render_patterns_json(&srv->st, now_ms(), srv->cfg.mode == MODE_OBSERVE, &b);
        buf_put_u8(&b, '\n');
        respond_buf(r, 200, "application/json", &b);
        return;
    } else if (strcmp(path, "/") == 0) {
        index_page(r);
    } else {
        respond(r, 404, "text/plain", "not found\n");
    }
    buf_free(&b);
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
        req_close(r);
        return;
    }
    r->len += (size_t)n;
    struct http_head head;
    switch (http_parse_head(r->in, r->len, ADMIN_REQ_MAX, &head)) {
    case HTTP_MORE:
        return;
    case HTTP_GET:
        /* admin_token: everything but the liveness and readiness probes needs the bearer
         * token (orchestrators' probes send none). */
        if (r->a->srv->cfg.admin_token[0] && strcmp(head.path, "/health") != 0 &&
            strcmp(head.path, "/ready") != 0 &&
            !http_bearer_ok(r->in, r->len, r->a->srv->cfg.admin_token)) {
            respond(r, 401, "text/plain", "unauthorized: send Authorization: Bearer <admin_token>\n");
            return;
        }
        route(r, head.path);
        return;
    case HTTP_NOT_GET:
        respond(r, 405, "text/plain", "only GET\n");
        return;
    case HTTP_TOO_LARGE:
        respond(r, 413, "text/plain", "request too large\n");
        return;
    case HTTP_BAD_REQUEST:
    default:
        respond(r, 400, "text/plain", "bad request\n");
        return;
    }
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
    r->prev = a->newest;
    if (a->newest)
        a->newest->next = r;
    else
        a->oldest = r;
    a->newest = r;
    a->nconns++;
    uv_tcp_init(a->loop, &r->tcp);
    r->tcp.data = r;
    uv_timer_init(a->loop, &r->idle);
    r->idle.data = r;
    r->handles = 2;
    if (uv_accept(server, (uv_stream_t *)&r->tcp) < 0) {
        req_close(r);
        return;
    }
    /* At the cap, a slow or silent client gives way: the oldest still waiting is closed, so
     * the port keeps answering and never holds many descriptors. */
    if (a->nconns > a->max_conns) {
        for (struct admin_req *o = a->oldest; o && o != r; o = o->next) {
            if (!o->done && !uv_is_closing((uv_handle_t *)&o->tcp)) {
                req_close(o);
                break;
            }
        }
    }
    uv_timer_start(&r->idle, on_req_idle, ADMIN_IDLE_MS, 0);
    uv_read_start((uv_stream_t *)&r->tcp, on_req_alloc, on_req_read);
}

int
admin_open(struct admin *a, uv_loop_t *loop, struct server *srv, char *err, size_t errlen)
{
    memset(a, 0, sizeof(*a));
    a->loop = loop;
    a->srv = srv;
    probe_init(&a->probe, loop, &srv->cfg);
    /* The admin port may use a sixteenth of the descriptors: never what SQL clients need. */
    struct rlimit rl;
    a->max_conns = ADMIN_MAX_CONNS;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur / 16 < (rlim_t)a->max_conns)
        a->max_conns = rl.rlim_cur / 16 > 2 ? (int)(rl.rlim_cur / 16) : 2;
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
