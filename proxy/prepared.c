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
    free(e);
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

int
prepared_put(struct prepared_table *t, const char *name, const char *sql,
             const uint32_t *param_oids, int nparams)
{
    if (t->count >= t->nslots && grow(t) != 0)
        return -ENOMEM;
    struct prepared *e = calloc(1, sizeof(*e));
    if (!e)
        return -ENOMEM;
    e->name = strdup(name);
    e->sql = strdup(sql ? sql : "");
    e->nparams = nparams > 0 ? nparams : 0;
    if (e->nparams) {
        e->param_oids = malloc(sizeof(uint32_t) * (size_t)e->nparams);
        if (e->param_oids)
            memcpy(e->param_oids, param_oids, sizeof(uint32_t) * (size_t)e->nparams);
    }
    if (!e->name || !e->sql || (e->nparams && !e->param_oids)) {
        entry_free(e);
        return -ENOMEM;
    }
    prepared_del(t, name);
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
            entry_free(e);
            t->count--;
            return;
        }
        pp = &(*pp)->next;
    }
}
