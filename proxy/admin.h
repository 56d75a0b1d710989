/*
 * admin: the HTTP endpoint on admin_listen, served by the main thread's loop.
 *
 * GET /health (liveness: pgfold answers), /ready (readiness: the upstream accepts a
 * connection, proxy/probe.c; 503 otherwise), /metrics (Prometheus 0.0.4), /stats (JSON),
 * /patterns (JSON), / (HTML). GET only, requests of at most 8 KiB; anything else gets
 * 400/404/405/413. With admin_token set, everything but /health and /ready needs it.
 */
#ifndef PGFOLD_ADMIN_H
#define PGFOLD_ADMIN_H

#include <stddef.h>
#include <uv.h>

#include "proxy/probe.h"

struct server;

#define ADMIN_MAX_CONNS 64 /* open admin connections (fewer when descriptors are scarce) */
#define ADMIN_IDLE_MS 5000 /* a request must arrive whole within this */

struct admin_req;

struct admin {
    struct admin_req *oldest, *newest; /* open connections, in arrival order */
    uv_loop_t *loop;
    struct server *srv;
    uv_tcp_t tcp;
    int open;
    int nconns;
    int max_conns; /* past this a new connection closes the oldest still waiting */
    struct probe probe; /* /ready's check of the upstream */
};

/* Starts listening. Returns 0 (also when admin_listen is empty) or -1 with err filled. */
int admin_open(struct admin *a, uv_loop_t *loop, struct server *srv, char *err, size_t errlen)
    __attribute__((warn_unused_result));
/* Stops listening (open requests finish on their own). */
void admin_close(struct admin *a);

#endif
