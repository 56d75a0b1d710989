/*
 * worker: one thread, one libuv loop, and the connections it serves.
 *
 * The main thread accepts sockets and hands them over with worker_hand_off(); everything
 * else a worker does happens on its own thread. Cross-thread requests (new sockets, drain,
 * stop, reload) go through a mutex-guarded inbox and one uv_async_t.
 */
#ifndef PGFOLD_WORKER_H
#define PGFOLD_WORKER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "config/config.h"

struct server;
struct conn;
struct shapecache;

#define WORKER_READ_CHUNK 65536
#define WORKER_FKEY_DBS 16

struct worker_inbox {
    int *fds;
    bool *is_unix;
    size_t count;
    size_t cap;
    bool drain;
    bool stop;
    bool reload;
    struct config cfg; /* valid when reload */
};

struct worker {
    struct server *srv;
    int index;
    uv_loop_t loop;
    uv_thread_t thread;
    uv_async_t wake;
    uv_timer_t drain_timer;
    uv_mutex_t lock;
    struct worker_inbox inbox; /* guarded by lock */

    /* Loop thread only. */
    struct config cfg;
    struct shapecache *shapes; /* parser shape cache, this thread's own */
    struct catalog *catalogs;  /* per database (WORKER_FKEY_DBS), read lazily, in-band */
    int ncatalogs;
    struct conn *conns; /* every live connection, for drain and stop */
    size_t nconns;
    bool draining;
    bool stopping;
    atomic_bool finished; /* set by the thread as it ends; read by main */
    uint8_t scratch[WORKER_READ_CHUNK]; /* every read lands here first */
};

/* Starts the thread. Returns 0 or a negative libuv code. */
int worker_start(struct worker *w, struct server *srv, int index)
    __attribute__((warn_unused_result));
/* Queues an accepted socket for the worker (any thread). Closes fd if it cannot. */
void worker_hand_off(struct worker *w, int fd, bool is_unix);
/* Asks the worker to finish its sessions within shutdown_timeout_ms and then exit. */
void worker_drain(struct worker *w);
/* Asks the worker to close everything now and exit. */
void worker_stop(struct worker *w);
/* Hands the worker a new copy of the tunables. */
void worker_reload(struct worker *w, const struct config *cfg);
/* Waits for the thread to end and frees the loop. */
void worker_join(struct worker *w);

/* The worker's catalog of a database (created empty on first use), or NULL. */
struct catalog *worker_catalog(struct worker *w, const char *database);

/* Called by conn.c on the loop thread after a connection was freed. */
void worker_conn_removed(struct worker *w);

#endif
