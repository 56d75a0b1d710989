/*
 * worker: a thread running one libuv loop and every connection accepted onto it.
 *
 * The main thread never touches a worker's loop: it puts requests in the inbox under the
 * lock and wakes the loop with uv_async_send(). The worker takes the whole inbox at once,
 * then acts on it outside the lock. A draining or stopping worker closes its own handles when
 * its last connection is gone, which ends uv_run() and the thread.
 */
#include "proxy/worker.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "parser/shapecache.h"
#include "batcher/catalog.h"
#include "proxy/conn.h"
#include "proxy/log.h"
#include "proxy/server.h"

static void
maybe_exit(struct worker *w)
{
    if ((!w->draining && !w->stopping) || w->nconns > 0)
        return;
    if (!uv_is_closing((uv_handle_t *)&w->wake)) {
        uv_close((uv_handle_t *)&w->wake, NULL);
        uv_close((uv_handle_t *)&w->drain_timer, NULL);
    }
}

struct catalog *
worker_catalog(struct worker *w, const char *database)
{
    for (int i = 0; i < w->ncatalogs; i++)
        if (strcmp(w->catalogs[i].database, database) == 0)
            return &w->catalogs[i];
    if (!w->catalogs && !(w->catalogs = calloc(WORKER_FKEY_DBS, sizeof(*w->catalogs))))
        return NULL;
    if (w->ncatalogs == WORKER_FKEY_DBS || strlen(database) >= sizeof(w->catalogs[0].database))
        return NULL; /* names decide the source columns; every answer depends on every write */
    catalog_init(&w->catalogs[w->ncatalogs], database);
    return &w->catalogs[w->ncatalogs++];
}

void
worker_conn_removed(struct worker *w)
{
    maybe_exit(w);
}

static void
on_drain_timeout(uv_timer_t *t)
{
    struct worker *w = t->data;
    log_info("worker %d: shutdown timeout, terminating %zu sessions", w->index, w->nconns);
    conn_terminate_all(w, "57P01", "terminating connection due to administrator command");
}

static void
on_wake(uv_async_t *a)
{
    struct worker *w = a->data;
    struct worker_inbox in;
    uv_mutex_lock(&w->lock);
    in = w->inbox;
    memset(&w->inbox, 0, sizeof(w->inbox));
    uv_mutex_unlock(&w->lock);

    if (in.reload)
        w->cfg = in.cfg;
    for (size_t i = 0; i < in.count; i++) {
        if (w->draining || w->stopping) {
            close(in.fds[i]);
            continue;
        }
        int rc = conn_start(w, in.fds[i], in.is_unix[i]);
        if (rc < 0)
            log_warn("worker %d: could not adopt a connection: %s", w->index, uv_strerror(rc));
    }
    free(in.fds);
    free(in.is_unix);
    if (in.stop && !w->stopping) {
        w->stopping = true;
        conn_abort_all(w);
    }
    if (in.drain && !w->draining) {
        w->draining = true;
        uv_timer_start(&w->drain_timer, on_drain_timeout, w->cfg.shutdown_timeout_ms, 0);
    }
    maybe_exit(w);
}

static void
worker_main(void *arg)
{
    struct worker *w = arg;
    uv_run(&w->loop, UV_RUN_DEFAULT);
    shapecache_free(w->shapes);
    w->shapes = NULL;
    for (int i = 0; i < w->ncatalogs; i++)
        catalog_free(&w->catalogs[i]);
    free(w->catalogs);
    w->catalogs = NULL;
    /* No pg_query_exit() here: libpg_query frees its per-thread memory in a thread-exit
     * destructor of its own, and calling both frees it twice (seen under ASan). */
    atomic_store(&w->finished, true);
}

int
worker_start(struct worker *w, struct server *srv, int index)
{
    memset(w, 0, sizeof(*w));
    w->srv = srv;
    w->index = index;
    w->cfg = srv->cfg;
    int rc = uv_loop_init(&w->loop);
    if (rc < 0)
        return rc;
    if (shapecache_new(w->cfg.shape_cache_entries, &w->shapes) != 0)
        return UV_ENOMEM;
    uv_mutex_init(&w->lock);
    uv_async_init(&w->loop, &w->wake, on_wake);
    w->wake.data = w;
    uv_timer_init(&w->loop, &w->drain_timer);
    w->drain_timer.data = w;
    return uv_thread_create(&w->thread, worker_main, w);
}

void
worker_hand_off(struct worker *w, int fd, bool is_unix)
{
    uv_mutex_lock(&w->lock);
    struct worker_inbox *in = &w->inbox;
    if (in->count == in->cap) {
        size_t cap = in->cap ? in->cap * 2 : 16;
        int *fds = realloc(in->fds, cap * sizeof(*fds));
        if (fds)
            in->fds = fds;
        bool *u = fds ? realloc(in->is_unix, cap * sizeof(*u)) : NULL;
        if (u)
            in->is_unix = u;
        if (!fds || !u) {
            uv_mutex_unlock(&w->lock);
            close(fd);
            log_error("worker %d: out of memory queueing a connection", w->index);
            return;
        }
        in->cap = cap;
    }
    in->fds[in->count] = fd;
    in->is_unix[in->count] = is_unix;
    in->count++;
    uv_mutex_unlock(&w->lock);
    uv_async_send(&w->wake);
}

void
worker_drain(struct worker *w)
{
    uv_mutex_lock(&w->lock);
    w->inbox.drain = true;
    uv_mutex_unlock(&w->lock);
    uv_async_send(&w->wake);
}

void
worker_stop(struct worker *w)
{
    uv_mutex_lock(&w->lock);
    w->inbox.stop = true;
    uv_mutex_unlock(&w->lock);
    uv_async_send(&w->wake);
}

void
worker_reload(struct worker *w, const struct config *cfg)
{
    uv_mutex_lock(&w->lock);
    w->inbox.reload = true;
    w->inbox.cfg = *cfg;
    uv_mutex_unlock(&w->lock);
    uv_async_send(&w->wake);
}

void
worker_join(struct worker *w)
{
    uv_thread_join(&w->thread);
    uv_loop_close(&w->loop);
    uv_mutex_destroy(&w->lock);
    free(w->inbox.fds);
    free(w->inbox.is_unix);
}
