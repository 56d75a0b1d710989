/*
 * catalog: one database's relations and foreign keys. See catalog.h for what they mean.
 *
 * Relations live in an open-addressing table keyed by their name's hash; edges (cascades,
 * inheritance, view dependencies) in a flat array, searched linearly: a write looks at them
 * once per table it names, and there are a handful per table in real schemas.
 */
#include "batcher/catalog.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "batcher/fresh.h"
#include "pgwire/rowmsg.h"

void
catalog_init(struct catalog *c, const char *database)
{
    memset(c, 0, sizeof(*c));
    size_t n = strnlen(database, sizeof(c->database) - 1);
    memcpy(c->database, database, n);
    fkeys_init(&c->fk);
}

void
catalog_reset(struct catalog *c)
{
    fkeys_free(&c->fk);
    free(c->rels);
    free(c->edges);
    c->rels = NULL;
    c->edges = NULL;
    c->nslots = c->nrels = c->nedges = c->capedges = 0;
    c->loaded = false;
}

void
catalog_free(struct catalog *c)
{
    catalog_reset(c);
}

bool
catalog_current(const struct catalog *c, uint64_t ddl_now)
{
    return c && c->loaded && c->ddl == ddl_now;
}

/* ---- relations -------------------------------------------------------------------------- */

static struct catalog_rel *
rel_find(const struct catalog *c, uint64_t h)
{
    if (!c->nslots || h == 0)
        return NULL;
    for (size_t i = h & (c->nslots - 1);; i = (i + 1) & (c->nslots - 1)) {
        if (c->rels[i].hash == h)
            return &c->rels[i];
        if (c->rels[i].hash == 0)
            return NULL;
    }
}

static int
rels_grow(struct catalog *c)
{
    size_t n = c->nslots ? c->nslots * 2 : 256;
    struct catalog_rel *v = calloc(n, sizeof(*v));
    if (!v)
        return -ENOMEM;
    for (size_t i = 0; i < c->nslots; i++) {
        if (!c->rels[i].hash)
            continue;
        size_t j = c->rels[i].hash & (n - 1);
        while (v[j].hash)
            j = (j + 1) & (n - 1);
        v[j] = c->rels[i];
    }
    free(c->rels);
    c->rels = v;
    c->nslots = n;
    return 0;
}

static int
rel_add(struct catalog *c, uint64_t h, char kind, bool writes_others)
{
    if (h == 0)
        h = 1;
    struct catalog_rel *r = rel_find(c, h);
    if (!r) {
        if ((c->nrels + 1) * 2 > c->nslots && rels_grow(c) != 0)
            return -ENOMEM;
        size_t j = h & (c->nslots - 1);
        while (c->rels[j].hash)
            j = (j + 1) & (c->nslots - 1);
        r = &c->rels[j];
        r->hash = h;
        c->nrels++;
    } else if (r->kind != kind) {
        writes_others = true; /* two relations of one name and different kinds: be careful */
    }
    r->kind = kind;
    r->writes_others = r->writes_others || writes_others;
    r->view_ok = kind == 'v';
    return 0;
}

static int
edge_add(struct catalog *c, char kind, uint64_t from, uint64_t to, char to_kind)
{
    if (c->nedges == c->capedges) {
        size_t cap = c->capedges ? c->capedges * 2 : 64;
        struct catalog_edge *v = realloc(c->edges, cap * sizeof(*v));
        if (!v)
            return -ENOMEM;
        c->edges = v;
        c->capedges = cap;
    }
    c->edges[c->nedges++] = (struct catalog_edge){kind, from, to, to_kind};
    return 0;
}

/* A text field as a NUL-terminated name (cut at 63 bytes, as PostgreSQL's NAMEDATALEN). */
static uint64_t
field_hash(const struct rowmsg_field *f)
{
    char name[64];
    size_t n = f->val ? (size_t)f->len : 0;
    if (n > sizeof(name) - 1)
        n = sizeof(name) - 1;
    if (n)
        memcpy(name, f->val, n);
    name[n] = '\0';
    uint64_t h = fresh_table(name);
    return h ? h : 1;
}

static char
field_char(const struct rowmsg_field *f, int i)
{
    return f->val && f->len > i ? (char)f->val[i] : '\0';
}

int
catalog_add_datarow(struct catalog *c, const uint8_t *body, size_t len)
{
    int nf = rowmsg_nfields(body, len);
    if (nf == 8)
        return fkeys_add_datarow(&c->fk, body, len);
    if (nf != 4)
        return -EINVAL;
    struct rowmsg_field f[4];
    size_t pos = 0;
    for (int i = 0; i < 4; i++)
        if (rowmsg_next(body, len, &pos, &f[i]) != 0)
            return -EINVAL;
    switch (field_char(&f[0], 0)) {
    case 'r':
        return rel_add(c, field_hash(&f[1]), field_char(&f[2], 0), field_char(&f[3], 0) == 't');
    case 'c':
    case 'i':
        return edge_add(c, field_char(&f[0], 0), field_hash(&f[1]), field_hash(&f[2]), 0);
    case 'v': {
        char k = field_char(&f[3], 0);
        if (field_char(&f[3], 1) == '!')
            k = '!';
        return edge_add(c, 'v', field_hash(&f[1]), field_hash(&f[2]), k);
    }
    case 'f':
        /* a volatile function: never cached; a user's stable one may read any table */
        return edge_add(c, 'v', field_hash(&f[1]), 0, field_char(&f[2], 0) == 'v' ? '!' : 'a');
    default:
        return -EINVAL;
    }
}

void
catalog_finish(struct catalog *c)
{
    for (size_t i = 0; i < c->nedges; i++) {
        const struct catalog_edge *e = &c->edges[i];
        if (e->kind != 'v' || e->to_kind == 'r' || e->to_kind == 'p')
            continue;
        struct catalog_rel *v = rel_find(c, e->from);
        if (!v)
            continue;
        if (e->to_kind == 'v' || e->to_kind == 'a')
            v->view_any = true; /* reads another view, or calls a user's stable function */
        else
            v->view_ok = false; /* a system relation, a foreign table or materialized view, a
                                   volatile function */
    }
}

/* ---- reads and writes --------------------------------------------------------------------- */

static bool
system_name(const struct shape_table *t)
{
    if (t->schema)
        return strcmp(t->schema, "pg_catalog") == 0 || strcmp(t->schema, "information_schema") == 0 ||
               strncmp(t->schema, "pg_", 3) == 0;
    /* pg_catalog is searched first whatever search_path says: pg_class means pg_catalog's. */
    return strncmp(t->name, "pg_", 3) == 0;
}

bool
catalog_reads_system(const struct shape *sh)
{
    for (int i = 0; i < sh->ntables; i++)
        if (system_name(&sh->tables[i]))
            return true;
    return false;
}

static void
dep_add(struct answer_deps *d, uint64_t h)
{
    for (int i = 0; i < d->n; i++)
        if (d->t[i] == h)
            return;
    if (d->n == ANSWER_MAX_DEPS)
        d->any = true;
    else
        d->t[d->n++] = h;
}

/* The plain tables view v reads. */
static void
view_deps(const struct catalog *c, uint64_t v, struct answer_deps *d)
{
    for (size_t i = 0; i < c->nedges; i++)
        if (c->edges[i].kind == 'v' && c->edges[i].from == v && c->edges[i].to)
            dep_add(d, c->edges[i].to);
}

bool
catalog_read_deps(const struct catalog *c, bool current, const struct shape *sh,
                  struct answer_deps *d)
{
    d->n = 0;
    d->any = !current || sh->ntables == 0;
    if (catalog_reads_system(sh))
        return false;
    for (int i = 0; i < sh->ntables && !d->any; i++) {
        uint64_t h = fresh_table(sh->tables[i].name);
        const struct catalog_rel *r = rel_find(c, h ? h : 1);
        if (!r) {
            d->any = true; /* created after the catalog was read, or temporary */
        } else if (r->kind == 'v') {
            if (!r->view_ok)
                return false;
            view_deps(c, r->hash, d);
            d->any |= r->view_any;
        } else {
            dep_add(d, r->hash);
        }
    }
    return true;
}

static bool
set_add(uint64_t *out, int max, int *n, uint64_t h)
{
    for (int i = 0; i < *n; i++)
        if (out[i] == h)
            return true;
    if (*n == max)
        return false;
    out[(*n)++] = h;
    return true;
}

void
catalog_write_set(const struct catalog *c, bool current, const struct shape *sh, uint64_t *out,
                  int max, int *n, bool *all)
{
    *n = 0;
    *all = !current || sh->ntables == 0;
    for (int i = 0; i < sh->ntables && !*all; i++) {
        uint64_t h = fresh_table(sh->tables[i].name);
        const struct catalog_rel *r = rel_find(c, h ? h : 1);
        *all = !r || r->kind == 'v' || r->writes_others || !set_add(out, max, n, r->hash);
    }
    /* What the written tables reach: cascading foreign keys, inheritance both ways. */
    for (int k = 0; k < *n && !*all; k++) {
        for (size_t i = 0; i < c->nedges && !*all; i++) {
            const struct catalog_edge *e = &c->edges[i];
            uint64_t other = e->kind == 'c' && e->from == out[k]   ? e->to
                             : e->kind == 'i' && e->from == out[k] ? e->to
                             : e->kind == 'i' && e->to == out[k]   ? e->from
                                                                    : 0;
            if (!other)
                continue;
            const struct catalog_rel *r = rel_find(c, other);
            *all = (r && r->writes_others) || !set_add(out, max, n, other);
        }
    }
}
