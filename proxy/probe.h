/*
 * probe: does the upstream accept a connection right now? The answer behind GET /ready.
 *
 * A probe connects to the upstream (TCP or its unix socket) and, unless ready_user is empty,
 * sends a startup packet naming ready_user, then judges the server's first answer as
 * pg_isready does: an authentication request, or AuthenticationOk, means the server accepts
 * connections; an error says why not (57P03 "the database system is starting up", 53300 "too
 * many clients", ...). It never authenticates: at a password request it closes (PostgreSQL
 * logs nothing for that), after AuthenticationOk it waits for ReadyForQuery and sends Terminate
 * (nothing logged either). One probe at a time, on the main loop; its answer is reused for a
 * second, so /ready polled by many checks costs the upstream one connection a second at most.
 */
#ifndef PGFOLD_PROBE_H
#define PGFOLD_PROBE_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "config/config.h"

#define PROBE_CACHE_MS 1000   /* an answer younger than this is reused */
#define PROBE_TIMEOUT_MS 2000 /* (or connect_timeout_ms if shorter): no answer = not ready */

struct probe_try;

/* Someone waiting for an answer; done is called once, on the loop's thread. */
struct probe_wait {
    struct probe_wait *next;
    void (*done)(struct probe_wait *w, bool ready, const char *why);
};

struct probe {
    uv_loop_t *loop;
    const struct config *cfg; /* the main thread's copy (upstream, ready_user) */
    uint64_t answered_ms;     /* when the last answer came; 0 = never */
    bool ready;
    char why[192]; /* the last answer in words: "accepting connections", ... */
    struct probe_try *running;
    struct probe_wait *waiters;
};

void probe_init(struct probe *p, uv_loop_t *loop, const struct config *cfg);

/*
 * Answers w: at once from an answer younger than PROBE_CACHE_MS, else when the probe running
 * (or started now) ends. w must stay valid until its done callback.
 */
void probe_ask(struct probe *p, struct probe_wait *w);

#endif
