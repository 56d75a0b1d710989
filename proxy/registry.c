/*
 * registry: the process-wide list of client connections. See registry.h for who writes what.
 *
 * One mutex guards the list and the strings; it is taken twice per connection (start and end),
 * once at login, and once per SHOW CLIENTS, never per statement. The counters a session
 * changes per statement are stored with relaxed atomics by the one thread that owns it, so a
 * reader may see a figure a few messages old, never a torn one.
 */
#include "proxy/registry.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/session.h"

int
registry_init(struct registry *r)
{
    memset(r, 0, sizeof(*r));
    return pthread_mutex_init(&r->lock, NULL) == 0 ? 0 : -ENOMEM;
}

void
registry_destroy(struct registry *r)
{
    pthread_mutex_destroy(&r->lock);
}

static void
copy_str(char *dst, size_t cap, const char *src)
{
    snprintf(dst, cap, "%s", src ? src : "");
}

void
registry_add(struct registry *r, struct registry_entry *e, uint64_t id, uint64_t now_ms,
             const char *peer, bool local)
{
    memset(e, 0, sizeof(*e));
    e->id = id;
    e->started_ms = now_ms;
    copy_str(e->peer, sizeof(e->peer), peer);
    e->local = local;
    atomic_init(&e->state, REGISTRY_STARTUP);
    pthread_mutex_lock(&r->lock);
    e->next = r->head;
    if (r->head)
        r->head->prev = e;
    r->head = e;
    r->count++;
    pthread_mutex_unlock(&r->lock);
}

void
registry_remove(struct registry *r, struct registry_entry *e)
{
    pthread_mutex_lock(&r->lock);
    if (e->prev)
        e->prev->next = e->next;
    else if (r->head == e)
        r->head = e->next;
    if (e->next)
        e->next->prev = e->prev;
    e->prev = e->next = NULL;
    r->count--;
    pthread_mutex_unlock(&r->lock);
}

void
registry_login(struct registry *r, struct registry_entry *e, const struct session *s,
               const char *client_tls, const char *server_tls)
{
    pthread_mutex_lock(&r->lock);
    copy_str(e->user, sizeof(e->user), s->user);
    copy_str(e->database, sizeof(e->database), s->database);
    copy_str(e->application_name, sizeof(e->application_name), s->application_name);
    copy_str(e->client_tls, sizeof(e->client_tls), client_tls);
    copy_str(e->server_tls, sizeof(e->server_tls), server_tls);
    e->logged_in = true;
    pthread_mutex_unlock(&r->lock);
}

/* The state a session is in, in SHOW CLIENTS' words. */
static registry_state
state_of(const struct session *s, bool console)
{
    switch (s->state) {
    case SESSION_STARTUP:
        return REGISTRY_STARTUP;
    case SESSION_AUTH:
        return REGISTRY_AUTH;
    case SESSION_COPY_BOTH:
        return REGISTRY_COPY;
    case SESSION_CLOSING:
        return REGISTRY_CLOSING;
    case SESSION_READY:
        break;
    default:
        abort();
    }
    if (console)
        return REGISTRY_CONSOLE;
    if (session_pending(s) > 0)
        return REGISTRY_ACTIVE;
    if (s->txn_status == 'T')
        return REGISTRY_IDLE_TX;
    return s->txn_status == 'E' ? REGISTRY_IDLE_TX_FAILED : REGISTRY_IDLE;
}

void
registry_publish(struct registry_entry *e, const struct session *s, bool console,
                 uint64_t statements, uint64_t forwarded)
{
    /* Single writer: a plain load and store, no read-modify-write on the hot path. */
    atomic_store_explicit(&e->state, (int)state_of(s, console), memory_order_relaxed);
    atomic_store_explicit(&e->statements, statements, memory_order_relaxed);
    atomic_store_explicit(&e->folded, statements > forwarded ? statements - forwarded : 0,
                          memory_order_relaxed);
    atomic_store_explicit(&e->server_statements, s->fifo.statements, memory_order_relaxed);
}

static void
row_of(const struct registry_entry *e, struct registry_row *out)
{
    out->id = e->id;
    out->started_ms = e->started_ms;
    memcpy(out->peer, e->peer, sizeof(out->peer));
    out->logged_in = e->logged_in;
    memcpy(out->user, e->user, sizeof(out->user));
    memcpy(out->database, e->database, sizeof(out->database));
    memcpy(out->application_name, e->application_name, sizeof(out->application_name));
    memcpy(out->client_tls, e->client_tls, sizeof(out->client_tls));
    memcpy(out->server_tls, e->server_tls, sizeof(out->server_tls));
    out->state = (registry_state)atomic_load_explicit(&e->state, memory_order_relaxed);
    out->statements = atomic_load_explicit(&e->statements, memory_order_relaxed);
    out->folded = atomic_load_explicit(&e->folded, memory_order_relaxed);
    out->server_statements = atomic_load_explicit(&e->server_statements, memory_order_relaxed);
}

long
registry_snapshot(struct registry *r, struct registry_row **rows)
{
    pthread_mutex_lock(&r->lock);
    size_t n = r->count;
    struct registry_row *out = malloc((n ? n : 1) * sizeof(*out));
    if (!out) {
        pthread_mutex_unlock(&r->lock);
        return -ENOMEM;
    }
    size_t i = 0;
    for (const struct registry_entry *e = r->head; e && i < n; e = e->next)
        row_of(e, &out[i++]);
    pthread_mutex_unlock(&r->lock);
    *rows = out;
    return (long)i;
}

const char *
registry_state_name(registry_state st)
{
    switch (st) {
    case REGISTRY_STARTUP:
        return "startup";
    case REGISTRY_AUTH:
        return "auth";
    case REGISTRY_IDLE:
        return "idle";
    case REGISTRY_ACTIVE:
        return "active";
    case REGISTRY_IDLE_TX:
        return "idle in transaction";
    case REGISTRY_IDLE_TX_FAILED:
        return "idle in transaction (aborted)";
    case REGISTRY_COPY:
        return "copy both";
    case REGISTRY_CLOSING:
        return "closing";
    case REGISTRY_CONSOLE:
        return "console";
    }
    return "?";
}
