/*
 * fkeys: a flat array of foreign keys, searched linearly. A database has tens to a few
 * thousand of them and the search runs once per batch decision, not per lookup.
 */
#include "batcher/fkeys.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pgwire/rowmsg.h"

void
fkeys_init(struct fkeys *k)
{
    memset(k, 0, sizeof(*k));
}

void
fkeys_free(struct fkeys *k)
{
    free(k->v);
    k->v = NULL;
    k->n = k->cap = 0;
}

static int
parse_uint(const char *s, size_t n, uint64_t max, uint64_t *out)
{
    uint64_t v = 0;
    if (n == 0 || n > 20)
        return -EINVAL;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -EINVAL;
        v = v * 10 + (uint64_t)(s[i] - '0'); /* v <= max <= UINT32_MAX before: no wrap */
        if (v > max)
            return -EINVAL;
    }
    *out = v;
    return 0;
}

static void
copy_field(char *dst, size_t cap, const char *src, size_t n)
{
    if (n > cap - 1)
        n = cap - 1;
    if (n)
        memcpy(dst, src, n); /* src is NULL for a NULL field */
    dst[n] = '\0';
}

int
fkeys_add_row(struct fkeys *k, const char *const *f, const size_t *len)
{
    uint64_t rel, att, frel, fatt;
    for (int i = 0; i < 8; i++)
        if (!f[i])
            return -EINVAL;
    if (parse_uint(f[0], len[0], UINT32_MAX, &rel) || parse_uint(f[1], len[1], INT16_MAX, &att) ||
        parse_uint(f[2], len[2], UINT32_MAX, &frel) || parse_uint(f[3], len[3], INT16_MAX, &fatt))
        return -EINVAL;
    if (k->n == k->cap) {
        size_t cap = k->cap ? k->cap * 2 : 32;
        struct fkey *v = realloc(k->v, cap * sizeof(*v));
        if (!v)
            return -ENOMEM;
        k->v = v;
        k->cap = cap;
    }
    struct fkey *e = &k->v[k->n++];
    e->rel = (uint32_t)rel;
    e->att = (int16_t)att;
    e->frel = (uint32_t)frel;
    e->fatt = (int16_t)fatt;
    copy_field(e->relname, sizeof(e->relname), f[4], len[4]);
    copy_field(e->attname, sizeof(e->attname), f[5], len[5]);
    copy_field(e->frelname, sizeof(e->frelname), f[6], len[6]);
    copy_field(e->fattname, sizeof(e->fattname), f[7], len[7]);
    return 0;
}

bool
fkeys_forward(const struct fkeys *k, uint32_t src_rel, int16_t src_att, const char *key_table,
              const char *key_column)
{
    if (!key_table || !key_column || src_rel == 0)
        return false;
    for (size_t i = 0; i < k->n; i++) {
        const struct fkey *e = &k->v[i];
        if (e->rel == src_rel && e->att == src_att && strcmp(e->frelname, key_table) == 0 &&
            strcmp(e->fattname, key_column) == 0)
            return true;
    }
    return false;
}

bool
fkeys_reverse(const struct fkeys *k, const char *key_table, const char *key_column,
              uint32_t src_rel, int16_t src_att)
{
    if (!key_table || !key_column || src_rel == 0)
        return false;
    for (size_t i = 0; i < k->n; i++) {
        const struct fkey *e = &k->v[i];
        if (e->frel == src_rel && e->fatt == src_att && strcmp(e->relname, key_table) == 0 &&
            strcmp(e->attname, key_column) == 0)
            return true;
    }
    return false;
}

int
fkeys_add_datarow(struct fkeys *k, const uint8_t *body, size_t len)
{
    const char *fields[8];
    size_t lens[8];
    size_t pos = 0;
    struct rowmsg_field fl;
    if (rowmsg_nfields(body, len) != 8)
        return -EINVAL;
    for (int i = 0; i < 8; i++) {
        if (rowmsg_next(body, len, &pos, &fl) != 0)
            return -EINVAL;
        fields[i] = (const char *)fl.val;
        lens[i] = fl.val ? (size_t)fl.len : 0;
    }
    return fkeys_add_row(k, fields, lens);
}
