/*
 * shapecache: shapes by text, so the hot path does no parsing.
 *
 * Layout: a fixed pool of entries allocated up front, a chained hash table over them, and a
 * doubly linked list in recency order (head = most recently used); a full cache recycles the
 * tail. Each entry holds one reference to its shape.
 *
 * Keys. lex_scan finds the literal constants of the incoming text. The skeleton key hashes the
 * bytes between literals plus each literal's kind; a skeleton entry matches a text whose
 * literals have the same kinds and whose bytes between them are equal. Analysis decides whether
 * a shape may be shared that way (shape->shareable: one DML/SELECT statement, literals libpg_query
 * and lex_scan agree on, key literals pgfold can decode); otherwise the entry is exact and
 * matches only the identical text. With no literals the two keys hash alike, so a text costs at
 * most two probes. Parse parameter types are hashed and compared as part of either key.
 *
 * Single-threaded by design (one cache per worker); nothing here blocks or reads a clock.
 */
#include "parser/shapecache.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "parser/lex.h"

struct entry {
    uint64_t hash;
    struct shape *shape;
    uint32_t *oids;
    int noids;
    int exact;
    struct entry *hnext;       /* hash chain, or free list */
    struct entry *prev, *next; /* recency list */
};

struct shapecache {
    struct entry *pool;
    size_t cap;
    struct entry *free;
    struct entry **buckets;
    size_t mask;
    struct entry lru; /* sentinel: lru.next is the newest, lru.prev the oldest */
    struct shapecache_stats st;
};

int
shapecache_new(size_t entries, struct shapecache **out)
{
    struct shapecache *c = calloc(1, sizeof(*c));
    size_t nb = 16;

    if (c == NULL)
        return -ENOMEM;
    while (nb < entries * 2)
        nb *= 2;
    c->cap = entries;
    c->pool = calloc(entries ? entries : 1, sizeof(*c->pool));
    c->buckets = calloc(nb, sizeof(*c->buckets));
    if (c->pool == NULL || c->buckets == NULL) {
        free(c->pool);
        free(c->buckets);
        free(c);
        return -ENOMEM;
    }
    c->mask = nb - 1;
    for (size_t i = 0; i < entries; i++) {
        c->pool[i].hnext = c->free;
        c->free = &c->pool[i];
    }
    c->lru.next = c->lru.prev = &c->lru;
    c->st.capacity = entries;
    *out = c;
    return 0;
}

void
shapecache_free(struct shapecache *c)
{
    if (c == NULL)
        return;
    for (struct entry *e = c->lru.next; e != &c->lru; e = e->next) {
        shape_unref(e->shape);
        free(e->oids);
    }
    free(c->pool);
    free(c->buckets);
    free(c);
}

void
shapecache_stats(const struct shapecache *c, struct shapecache_stats *out)
{
    *out = c->st;
}

static uint64_t
mix(uint64_t h, uint64_t v)
{
    h ^= v;
    h *= 0x9E3779B97F4A7C15ull;
    return h ^ (h >> 29);
}

static uint64_t
hash_bytes(uint64_t h, const char *p, size_t n)
{
    uint64_t v = 0;

    for (; n >= 8; p += 8, n -= 8) {
        memcpy(&v, p, 8);
        h = mix(h, v);
    }
    v = 0;
    if (n > 0)
        memcpy(&v, p, n);
    return mix(h, v ^ ((uint64_t)n << 59));
}

/* Hash of the bytes between literals, each literal's kind, and the parameter types. */
static uint64_t
key_hash(const char *sql, size_t len, const struct shape_lit *lits, int n, const uint32_t *oids,
         int noids)
{
    uint64_t h = 0x243F6A8885A308D3ull ^ (uint64_t)(noids > 0 ? noids : 0);
    size_t at = 0;

    for (int i = 0; i < n; i++) {
        h = hash_bytes(h, sql + at, lits[i].off - at);
        h = mix(h, 0xA5A50000u + (uint64_t)lits[i].type);
        at = lits[i].off + lits[i].len;
    }
    h = hash_bytes(h, sql + at, len - at);
    for (int i = 0; i < noids; i++)
        h = mix(h, oids[i]);
    return h;
}

static int
same_skeleton(const struct shape *s, const char *sql, size_t len, const struct shape_lits *l)
{
    size_t at = 0, vat = 0;

    if (l->n != s->nlits)
        return 0;
    for (int i = 0; i <= s->nlits; i++) {
        size_t end = i < s->nlits ? s->lits[i].off : s->len;
        size_t vend = i < s->nlits ? l->v[i].off : len;
        if (i < s->nlits && l->v[i].type != s->lits[i].type)
            return 0;
        if (end - at != vend - vat || memcmp(s->text + at, sql + vat, end - at) != 0)
            return 0;
        if (i < s->nlits) {
            at = end + s->lits[i].len;
            vat = vend + l->v[i].len;
        }
    }
    return 1;
}

static int
matches(const struct entry *e, const char *sql, size_t len, const struct shape_lits *lits,
        const uint32_t *oids, int noids)
{
    const struct shape *s = e->shape;

    if (e->noids != noids || (noids > 0 && memcmp(e->oids, oids, noids * sizeof(*oids)) != 0))
        return 0;
    if (e->exact)
        return len == s->len && memcmp(sql, s->text, len) == 0;
    return lits != NULL && same_skeleton(s, sql, len, lits);
}

static struct entry *
find(struct shapecache *c, uint64_t h, const char *sql, size_t len, const struct shape_lits *lits,
     const uint32_t *oids, int noids)
{
    for (struct entry *e = c->buckets[h & c->mask]; e != NULL; e = e->hnext)
        if (e->hash == h && matches(e, sql, len, lits, oids, noids))
            return e;
    return NULL;
}

static void
lru_unlink(struct entry *e)
{
    e->prev->next = e->next;
    e->next->prev = e->prev;
}

static void
lru_push(struct shapecache *c, struct entry *e)
{
    e->next = c->lru.next;
    e->prev = &c->lru;
    c->lru.next->prev = e;
    c->lru.next = e;
}

/* Takes a free entry, recycling the least recently used one when the pool is empty. */
static struct entry *
take_entry(struct shapecache *c)
{
    struct entry *e = c->free, **pp;

    if (e != NULL) {
        c->free = e->hnext;
        return e;
    }
    e = c->lru.prev;
    lru_unlink(e);
    for (pp = &c->buckets[e->hash & c->mask]; *pp != e; pp = &(*pp)->hnext)
        ;
    *pp = e->hnext;
    shape_unref(e->shape);
    free(e->oids);
    c->st.evictions++;
    c->st.entries--;
    return e;
}

/* Stores s (taking over the caller's reference) under hash h. */
static int
insert(struct shapecache *c, uint64_t h, struct shape *s, int exact, const uint32_t *oids,
       int noids)
{
    uint32_t *copy = NULL;
    struct entry *e;

    if (noids > 0) {
        copy = malloc((size_t)noids * sizeof(*copy));
        if (copy == NULL)
            return -ENOMEM;
        memcpy(copy, oids, (size_t)noids * sizeof(*copy));
    }
    e = take_entry(c);
    e->hash = h;
    e->shape = s;
    e->oids = copy;
    e->noids = noids;
    e->exact = exact;
    e->hnext = c->buckets[h & c->mask];
    c->buckets[h & c->mask] = e;
    lru_push(c, e);
    c->st.entries++;
    return 0;
}

/* Overwrites lits with the shape's own literal list (for texts keyed exactly). */
static int
copy_lits(struct shape_lits *lits, const struct shape *s)
{
    if (lits->cap < s->nlits) {
        struct shape_lit *v = realloc(lits->v, (size_t)s->nlits * sizeof(*v));
        if (v == NULL)
            return -ENOMEM;
        lits->v = v;
        lits->cap = s->nlits;
    }
    if (s->nlits > 0)
        memcpy(lits->v, s->lits, (size_t)s->nlits * sizeof(*lits->v));
    lits->n = s->nlits;
    return 0;
}

/* Hands the caller its reference and the literal list of the text in hand. */
static int
give(struct shape *s, int exact, struct shape_lits *lits, struct shape **out)
{
    if (exact && copy_lits(lits, s) < 0) {
        shape_unref(s);
        return -ENOMEM;
    }
    *out = s;
    return 0;
}

/*
 * The entry whose shape was built from exactly this text (and these parameter types), found
 * without lexing: its key is the hash of the whole text, which is also the skeleton key of a
 * text without literals. Drivers using the extended protocol send the same text every time,
 * so this is their hot path.
 */
static struct entry *
find_verbatim(struct shapecache *c, const char *sql, size_t len, const uint32_t *oids,
              int noids)
{
    uint64_t h = key_hash(sql, len, NULL, 0, oids, noids);
    for (struct entry *e = c->buckets[h & c->mask]; e != NULL; e = e->hnext) {
        const struct shape *s = e->shape;
        if (e->hash == h && s->len == len && memcmp(s->text, sql, len) == 0 &&
            e->noids == noids && (noids == 0 || memcmp(e->oids, oids, noids * sizeof(*oids)) == 0))
            return e;
    }
    return NULL;
}

int
shapecache_get(struct shapecache *c, const char *sql, size_t len, const uint32_t *param_oids,
               int nparams, struct shape **shape, struct shape_lits *lits)
{
    if (nparams < 0 || (nparams > 0 && param_oids == NULL))
        nparams = 0;
    if (c->cap > 0 && len <= SHAPECACHE_MAX_TEXT) {
        struct entry *v = find_verbatim(c, sql, len, param_oids, nparams);
        if (v != NULL) {
            /* The shape's own literal list is this text's. */
            c->st.hits++;
            lru_unlink(v);
            lru_push(c, v);
            return give(shape_ref(v->shape), 1, lits, shape);
        }
    }
    int lexed = lex_scan(sql, len, lits) == 0, exact, rc;
    int same = lexed && lits->n == 0; /* no literals: the skeleton is the text */
    uint64_t th = 0, xh = 0;
    struct entry *e = NULL;
    struct shape *s;

    if (c->cap > 0 && len <= SHAPECACHE_MAX_TEXT) {
        if (lexed) {
            th = key_hash(sql, len, lits->v, lits->n, param_oids, nparams);
            e = find(c, th, sql, len, lits, param_oids, nparams);
        }
        xh = same ? th : key_hash(sql, len, NULL, 0, param_oids, nparams);
        if (e == NULL && !same)
            e = find(c, xh, sql, len, NULL, param_oids, nparams);
        if (e != NULL) {
            c->st.hits++;
            lru_unlink(e);
            lru_push(c, e);
            return give(shape_ref(e->shape), e->exact, lits, shape);
        }
    }
    rc = shape_analyze(sql, len, param_oids, nparams, &s);
    if (rc < 0)
        return rc;
    exact = !(lexed && s->shareable);
    if (c->cap == 0 || len > SHAPECACHE_MAX_TEXT) {
        c->st.uncached++;
        return give(s, exact, lits, shape);
    }
    rc = insert(c, exact ? xh : th, s, exact, param_oids, nparams);
    if (rc < 0) {
        shape_unref(s);
        return rc;
    }
    c->st.misses++;
    return give(shape_ref(s), exact, lits, shape);
}
