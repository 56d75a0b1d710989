/*
 * pending: a ring buffer of struct pending. See pending.h.
 *
 * Grows by doubling; a pipelining client can queue thousands of messages before reading, and
 * each costs one slot here until its response passes.
 */
#include "proxy/pending.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "parser/shape.h"

void
pending_release(struct pending *p)
{
    free(p->name);
    free(p->sql);
    free(p->oids);
    free(p->stmt_name);
    free(p->key);
    shape_unref(p->shape);
    p->name = p->sql = p->stmt_name = NULL;
    p->oids = NULL;
    p->key = NULL;
    free(p->desc);
    p->desc = NULL;
    p->shape = NULL;
}

static int
grow(struct pending_fifo *f)
{
    size_t cap = f->cap ? f->cap * 2 : 16;
    struct pending *items = malloc(sizeof(*items) * cap);
    if (!items)
        return -ENOMEM;
    for (size_t i = 0; i < f->count; i++)
        items[i] = f->items[(f->head + i) & (f->cap - 1)];
    free(f->items);
    f->items = items;
    f->cap = cap;
    f->head = 0;
    return 0;
}

int
pending_push(struct pending_fifo *f, struct pending *p)
{
    if (f->count == f->cap && grow(f) != 0) {
        pending_release(p);
        return -ENOMEM;
    }
    f->items[(f->head + f->count) & (f->cap - 1)] = *p;
    f->count++;
    f->statements += p->kind == PEND_QUERY || p->kind == PEND_EXECUTE;
    return 0;
}

struct pending *
pending_head(struct pending_fifo *f)
{
    return f->count ? &f->items[f->head] : NULL;
}

struct pending *
pending_at(struct pending_fifo *f, size_t i)
{
    return &f->items[(f->head + i) & (f->cap - 1)];
}

void
pending_pop(struct pending_fifo *f)
{
    if (!f->count)
        return;
    pending_release(&f->items[f->head]);
    f->head = (f->head + 1) & (f->cap - 1);
    f->count--;
}

void
pending_remove(struct pending_fifo *f, size_t from, size_t to, int k)
{
    size_t w = from;
    for (size_t r = from; r < f->count; r++) {
        struct pending *p = pending_at(f, r);
        if (r < to && (k < 0 || (int)p->kind == k)) {
            pending_release(p);
            continue;
        }
        if (w != r)
            *pending_at(f, w) = *p;
        w++;
    }
    f->count = w;
}

void
pending_clear(struct pending_fifo *f)
{
    while (f->count)
        pending_pop(f);
    free(f->items);
    memset(f, 0, sizeof(*f));
}
