/*
 * prepared: a small chained hash table of statement and portal names.
 *
 * Owns every entry and the strings in it. Sized for the common case of a handful of names per
 * session and grows by doubling when drivers (JDBC, asyncpg, Rails) keep hundreds.
 */
#include "proxy/prepared.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static uint64_t
hash_name(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 1099511628211ULL;
    return h;
}

#define PREPARED_FREE_MAX 16

void
prepared_init(struct prepared_table *t)
{
    memset(t, 0, sizeof(*t));
}

static void
entry_free(struct prepared *e)
{
    free(e->name);
    free(e->sql);
    free(e->param_oids);
    free(e->desc);
    free(e);
}

/* Keeps a removed entry's storage for the next prepared_put, up to a few. */
static void
entry_release(struct prepared_table *t, struct prepared *e)
{
    if (t->nfree >= PREPARED_FREE_MAX) {
        entry_free(e);
        return;
    }
    e->next = t->free_list;
    t->free_list = e;
    t->nfree++;
}

void
prepared_reset(struct prepared_table *t)
{
    if (t->count == 0)
        return;
    for (size_t i = 0; i < t->nslots; i++) {
        struct prepared *e = t->slots[i];
        t->slots[i] = NULL;
        while (e) {
            struct prepared *n = e->next;
            entry_release(t, e);
            e = n;
        }
    }
    t->count = 0;
}

void
prepared_clear(struct prepared_table *t)
{
    for (size_t i = 0; i < t->nslots; i++) {
        struct prepared *e = t->slots[i];
        while (e) {
            struct prepared *n = e->next;
            entry_free(e);
            e = n;
        }
    }
    while (t->free_list) {
        struct prepared *n = t->free_list->next;
        entry_free(t->free_list);
        t->free_list = n;
    }
    free(t->slots);
    prepared_init(t);
}

struct prepared *
prepared_get(const struct prepared_table *t, const char *name)
{
    if (t->nslots == 0)
        return NULL;
    struct prepared *e = t->slots[hash_name(name) & (t->nslots - 1)];
    while (e && strcmp(e->name, name) != 0)
        e = e->next;
    return e;
}

static int
grow(struct prepared_table *t)
{
    size_t n = t->nslots ? t->nslots * 2 : 8;
    struct prepared **slots = calloc(n, sizeof(*slots));
    if (!slots)
        return -ENOMEM;
    for (size_t i = 0; i < t->nslots; i++) {
        struct prepared *e = t->slots[i];
        while (e) {
            struct prepared *next = e->next;
            size_t j = hash_name(e->name) & (n - 1);
            e->next = slots[j];
            slots[j] = e;
            e = next;
        }
    }
    free(t->slots);
    t->slots = slots;
    t->nslots = n;
    return 0;
}

/* Copies s into *p, growing the buffer only when it is too small. */
static int
set_str(char **p, size_t *cap, const char *s)
{
    size_t n = strlen(s) + 1;
    if (n > *cap) {
        char *q = realloc(*p, n);
        if (!q)
            return -ENOMEM;
        *p = q;
        *cap = n;
    }
    memcpy(*p, s, n);
    return 0;
}

static int
entry_set(struct prepared *e, const char *name, const char *sql, const uint32_t *oids, int n)
{
    if (set_str(&e->name, &e->name_cap, name) != 0 ||
        set_str(&e->sql, &e->sql_cap, sql ? sql : "") != 0)
        return -ENOMEM;
    if (n > e->oids_cap) {
        uint32_t *o = realloc(e->param_oids, sizeof(uint32_t) * (size_t)n);
        if (!o)
            return -ENOMEM;
        e->param_oids = o;
        e->oids_cap = n;
    }
    e->nparams = n > 0 ? n : 0;
    if (e->nparams)
        memcpy(e->param_oids, oids, sizeof(uint32_t) * (size_t)e->nparams);
    e->desclen = 0; /* a new statement or portal: not described yet */
    return 0;
}

int
prepared_set_desc(struct prepared *e, const uint8_t *body, size_t len)
{
    if (len > e->desc_cap) {
        uint8_t *d = realloc(e->desc, len);
        if (!d) {
            e->desclen = 0;
            return -ENOMEM;
        }
        e->desc = d;
        e->desc_cap = len;
    }
    if (len)
        memcpy(e->desc, body, len);
    e->desclen = len;
    return 0;
}

int
prepared_set_params(struct prepared *e, const uint32_t *oids, int n)
{
    if (n > e->oids_cap) {
        uint32_t *o = realloc(e->param_oids, sizeof(uint32_t) * (size_t)n);
        if (!o)
            return -ENOMEM;
        e->param_oids = o;
        e->oids_cap = n;
    }
    e->nparams = n;
    if (n)
        memcpy(e->param_oids, oids, sizeof(uint32_t) * (size_t)n);
    return 0;
}

int
prepared_put(struct prepared_table *t, const char *name, const char *sql,
             const uint32_t *param_oids, int nparams)
{
    struct prepared *e = prepared_get(t, name);
    if (e) {
        if (entry_set(e, name, sql, param_oids, nparams) == 0)
            return 0;
        prepared_del(t, name); /* half updated: forget it rather than keep it wrong */
        return -ENOMEM;
    }
    if (t->count >= t->nslots && grow(t) != 0)
        return -ENOMEM;
    if (t->free_list) {
        e = t->free_list;
        t->free_list = e->next;
        t->nfree--;
    } else if (!(e = calloc(1, sizeof(*e)))) {
        return -ENOMEM;
    }
    if (entry_set(e, name, sql, param_oids, nparams) != 0) {
        entry_free(e);
        return -ENOMEM;
    }
    size_t j = hash_name(name) & (t->nslots - 1);
    e->next = t->slots[j];
    t->slots[j] = e;
    t->count++;
    return 0;
}

void
prepared_del(struct prepared_table *t, const char *name)
{
    if (t->nslots == 0)
        return;
    struct prepared **pp = &t->slots[hash_name(name) & (t->nslots - 1)];
    while (*pp) {
        if (strcmp((*pp)->name, name) == 0) {
            struct prepared *e = *pp;
            *pp = e->next;
            entry_release(t, e);
            t->count--;
            return;
        }
        pp = &(*pp)->next;
    }
}
