/*
 * answer: a chained hash table threaded on an LRU list. See answer.h.
 *
 * Each entry is one allocation (header, key, RowDescription, rows), so eviction is one free
 * and the byte count is exact.
 */
#include "batcher/answer.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t
hash_bytes(const uint8_t *p, size_t n)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 1099511628211ULL;
    return h ^ (h >> 29);
}

void
answer_init(struct answer_cache *c, size_t max_bytes)
{
    memset(c, 0, sizeof(*c));
    c->max_bytes = max_bytes;
}

static void
lru_unlink(struct answer_cache *c, struct answer *a)
{
    if (a->prev)
        a->prev->next = a->next;
    else
        c->head = a->next;
    if (a->next)
        a->next->prev = a->prev;
    else
        c->tail = a->prev;
    a->prev = a->next = NULL;
}

static void
lru_front(struct answer_cache *c, struct answer *a)
{
    a->next = c->head;
    a->prev = NULL;
    if (c->head)
        c->head->prev = a;
    c->head = a;
    if (!c->tail)
        c->tail = a;
}

void
answer_del(struct answer_cache *c, struct answer *a)
{
    struct answer **pp = &c->slots[a->hash & (c->nslots - 1)];
    while (*pp && *pp != a)
        pp = &(*pp)->hnext;
    if (*pp)
        *pp = a->hnext;
    lru_unlink(c, a);
    c->count--;
    c->bytes -= a->bytes;
    free(a);
}

void
answer_clear(struct answer_cache *c)
{
    while (c->head)
        answer_del(c, c->head);
}

void
answer_free(struct answer_cache *c)
{
    answer_clear(c);
    free(c->slots);
    size_t max = c->max_bytes;
    answer_init(c, max);
}

void
answer_key(struct buf *out, uint64_t shape_id, const uint8_t *formats, size_t nformats,
           const uint8_t *others, size_t otherslen, const char *key, size_t keylen)
{
    buf_reset(out);
    buf_put(out, &shape_id, sizeof(shape_id));
    buf_put_i32(out, (int32_t)nformats);
    buf_put(out, formats, nformats);
    buf_put_i32(out, (int32_t)otherslen);
    buf_put(out, others, otherslen);
    buf_put(out, key, keylen);
}

static struct answer *
find(const struct answer_cache *c, const uint8_t *key, size_t keylen, uint64_t h)
{
    if (c->nslots == 0)
        return NULL;
    for (struct answer *a = c->slots[h & (c->nslots - 1)]; a; a = a->hnext)
        if (a->hash == h && a->keylen == keylen && memcmp(a->key, key, keylen) == 0)
            return a;
    return NULL;
}

struct answer *
answer_get(struct answer_cache *c, const uint8_t *key, size_t keylen)
{
    struct answer *a = find(c, key, keylen, hash_bytes(key, keylen));
    if (a) {
        lru_unlink(c, a);
        lru_front(c, a);
    }
    return a;
}

bool
answer_has(const struct answer_cache *c, const uint8_t *key, size_t keylen)
{
    return find(c, key, keylen, hash_bytes(key, keylen)) != NULL;
}

static int
grow(struct answer_cache *c)
{
    size_t n = c->nslots ? c->nslots * 2 : 64;
    struct answer **slots = calloc(n, sizeof(*slots));
    if (!slots)
        return -ENOMEM;
    for (size_t i = 0; i < c->nslots; i++) {
        struct answer *a = c->slots[i];
        while (a) {
            struct answer *next = a->hnext;
            a->hnext = slots[a->hash & (n - 1)];
            slots[a->hash & (n - 1)] = a;
            a = next;
        }
    }
    free(c->slots);
    c->slots = slots;
    c->nslots = n;
    return 0;
}

struct answer *
answer_put(struct answer_cache *c, const uint8_t *key, size_t keylen, uint64_t shape_id,
           const uint8_t *desc, size_t desclen, const uint8_t *rows, size_t rowslen,
           uint64_t nrows, const char *tag, uint64_t now_ms, uint64_t txn_seq, uint32_t batch_id)
{
    size_t bytes = sizeof(struct answer) + keylen + desclen + rowslen;
    uint64_t h = hash_bytes(key, keylen);
    struct answer *old = find(c, key, keylen, h);
    if (old)
        answer_del(c, old); /* even if the new one is not kept: never serve the older one */
    if (bytes > c->max_bytes)
        return NULL;
    while (c->tail && c->bytes + bytes > c->max_bytes)
        answer_del(c, c->tail);
    if (c->count >= c->nslots && grow(c) != 0)
        return NULL;
    struct answer *a = malloc(bytes);
    if (!a)
        return NULL;
    memset(a, 0, sizeof(*a));
    a->key = (uint8_t *)(a + 1);
    a->desc = a->key + keylen;
    a->rows = a->desc + desclen;
    memcpy(a->key, key, keylen);
    if (desclen)
        memcpy(a->desc, desc, desclen);
    if (rowslen)
        memcpy(a->rows, rows, rowslen);
    a->keylen = keylen;
    a->desclen = desclen;
    a->rowslen = rowslen;
    a->bytes = bytes;
    a->hash = h;
    a->shape_id = shape_id;
    a->nrows = nrows;
    size_t tl = strnlen(tag, sizeof(a->tag) - 1);
    memcpy(a->tag, tag, tl);
    a->tag[tl] = '\0';
    a->fetched_ms = now_ms;
    a->txn_seq = txn_seq;
    a->batch_id = batch_id;
    a->hnext = c->slots[h & (c->nslots - 1)];
    c->slots[h & (c->nslots - 1)] = a;
    lru_front(c, a);
    c->count++;
    c->bytes += bytes;
    return a;
}
