/*
 * test_answer: the session's answer cache (batcher/answer.c). What it promises: an entry holds
 * exactly the bytes it was given; one entry per key; the least recently used entry goes first
 * when the byte bound is reached; c->bytes is the exact sum of the entries; an entry larger
 * than the bound is refused; answer_key() keeps apart everything that makes two answers
 * different. The LRU cases are a table of operation scripts; a seeded random walk is checked
 * against a small model of the same rules.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "batcher/answer.h"
#include "tests/unit/fixtures.h"

/* Bytes an entry costs: the header and the three copies, one allocation. */
static size_t
entry_bytes(size_t keylen, size_t desclen, size_t rowslen)
{
    return sizeof(struct answer) + keylen + desclen + rowslen;
}

/* Walks the LRU list both ways and the hash table: counts, links, bytes, findability. */
static void
check_cache(const struct answer_cache *c)
{
    size_t n = 0, bytes = 0;
    const struct answer *prev = NULL;
    for (const struct answer *a = c->head; a; a = a->next) {
        assert_ptr_equal(a->prev, prev);
        assert_int_equal(a->bytes, entry_bytes(a->keylen, a->desclen, a->rowslen));
        assert_true(answer_has(c, a->key, a->keylen));
        bytes += a->bytes;
        n++;
        prev = a;
    }
    assert_ptr_equal(c->tail, prev);
    assert_int_equal(n, c->count);
    assert_int_equal(bytes, c->bytes);
    assert_true(c->bytes <= c->max_bytes);
}

/* The keys from most to least recently used, as one string (keys are one letter here). */
static void
lru_order(const struct answer_cache *c, char *out, size_t cap)
{
    size_t n = 0;
    for (const struct answer *a = c->head; a && n + 1 < cap; a = a->next)
        out[n++] = a->keylen ? (char)a->key[0] : '?';
    out[n] = '\0';
}

static struct answer *
put_plain(struct answer_cache *c, const void *key, size_t keylen, size_t rowslen)
{
    static uint8_t rows[8192];
    memset(rows, 'r', sizeof(rows));
    assert_true(rowslen <= sizeof(rows));
    return answer_put(c, (const uint8_t *)key, keylen, 1, NULL, 0, rows, rowslen, 1, "SELECT 1", 0,
                      0, 0);
}

static void
test_put_get_has(void **state)
{
    struct answer_cache c;
    struct buf desc, rows;
    (void)state;
    answer_init(&c, 1 << 20);
    buf_init(&desc);
    buf_init(&rows);
    be_row_desc(&desc, "id");
    be_data_row(&rows, "1");
    be_data_row(&rows, "2");

    /* An empty cache has no table yet: lookups must still be safe. */
    assert_null(answer_get(&c, BYTES("k1")));
    assert_false(answer_has(&c, BYTES("k1")));

    struct answer *a = answer_put(&c, BYTES("k1"), 42, buf_head(&desc), buf_used(&desc),
                                  buf_head(&rows), buf_used(&rows), 2, "SELECT 2", 1000, 7, 3);
    assert_non_null(a);
    assert_ptr_equal(answer_get(&c, BYTES("k1")), a);
    assert_true(answer_has(&c, BYTES("k1")));
    assert_int_equal(a->shape_id, 42);
    assert_int_equal(a->nrows, 2);
    assert_string_equal(a->tag, "SELECT 2");
    assert_int_equal(a->fetched_ms, 1000);
    assert_int_equal(a->txn_seq, 7);
    assert_int_equal(a->batch_id, 3);
    assert_false(a->used);
    assert_int_equal(a->keylen, 2);
    assert_memory_equal(a->key, "k1", 2);
    assert_int_equal(a->desclen, buf_used(&desc));
    assert_memory_equal(a->desc, buf_head(&desc), a->desclen);
    assert_int_equal(a->rowslen, buf_used(&rows));
    assert_memory_equal(a->rows, buf_head(&rows), a->rowslen);

    /* The entry is a copy: the caller's buffers may change or go. */
    buf_free(&desc);
    buf_free(&rows);
    assert_memory_equal(a->key, "k1", 2);

    /* Prefixes, extensions and NUL-extended keys are other keys. */
    assert_null(answer_get(&c, BYTES("k")));
    assert_null(answer_get(&c, BYTES("k10")));
    assert_null(answer_get(&c, BYTES("k1\0")));
    assert_false(answer_has(&c, BYTES("")));

    /* No RowDescription and no rows (a lookup answered "SELECT 0"). */
    struct answer *e = answer_put(&c, BYTES("k2"), 42, NULL, 0, NULL, 0, 0, "SELECT 0", 1, 0, 0);
    assert_non_null(e);
    assert_int_equal(e->desclen, 0);
    assert_int_equal(e->rowslen, 0);
    assert_int_equal(e->bytes, entry_bytes(2, 0, 0));

    /* A tag longer than the field is cut, still terminated. */
    struct answer *t = answer_put(&c, BYTES("k3"), 1, NULL, 0, NULL, 0, 0,
                                  "SELECT 123456789012345678901234567890", 1, 0, 0);
    assert_non_null(t);
    assert_int_equal(strlen(t->tag), sizeof(t->tag) - 1);
    assert_memory_equal(t->tag, "SELECT 1234567890123456", sizeof(t->tag) - 1);
    check_cache(&c);
    answer_free(&c);
}

static void
test_replace_same_key(void **state)
{
    struct answer_cache c;
    (void)state;
    answer_init(&c, 1 << 20);
    assert_non_null(put_plain(&c, BYTES("a"), 10));
    assert_non_null(put_plain(&c, BYTES("b"), 10));
    struct answer *a2 =
        answer_put(&c, BYTES("a"), 9, NULL, 0, (const uint8_t *)"xyz", 3, 1, "SELECT 1", 50, 2, 9);
    assert_non_null(a2);
    assert_int_equal(c.count, 2);
    assert_int_equal(c.bytes, entry_bytes(1, 0, 3) + entry_bytes(1, 0, 10));
    assert_ptr_equal(answer_get(&c, BYTES("a")), a2);
    assert_int_equal(a2->rowslen, 3);
    assert_memory_equal(a2->rows, "xyz", 3);
    assert_int_equal(a2->shape_id, 9);
    assert_int_equal(a2->batch_id, 9);
    assert_ptr_equal(c.head, a2); /* the new copy is the most recent */
    check_cache(&c);
    answer_free(&c);
}

/*
 * LRU scripts. Sizes are in units: an entry of k units costs exactly k * UNIT bytes, and the
 * cache holds 3 units. Ops, three characters each: "+A2" put A of 2 units, "?A0" get A,
 * "hA0" has A (must not touch the order), "-A0" delete A. want is the order afterwards, most
 * recent first.
 */
#define UNIT (sizeof(struct answer) + 1 + 100)
#define CAP_UNITS 3

static const struct lru_case {
    const char *ops;
    const char *want;
} lru_cases[] = {
    {"+A1+B1+C1", "CBA"},
    {"+A1+B1+C1+D1", "DCB"},                /* the oldest goes */
    {"+A1+B1+C1?A0+D1", "DAC"},             /* a get protects A: B goes */
    {"+A1+B1+C1hA0+D1", "DCB"},             /* has does not protect */
    {"+A1+B1+C1?A0?B0+D1+E1", "EDB"},       /* C, then A */
    {"+A1+B1+C1+A1", "ACB"},                /* replacing moves to the front, evicts nothing */
    {"+A1+B1+C1+B3", "B"},                  /* the old B is freed first, then A and C */
    {"+A1+B1+C1+D2", "DC"},                 /* a bigger entry evicts as many as it needs */
    {"+A2+B2", "B"},                        /* 4 units do not fit in 3 */
    {"+A3", "A"},                           /* exactly the bound fits */
    {"+A1+B4", "A"},                        /* larger than the bound: refused, A untouched */
    {"+A4", ""},                            /* refused on an empty cache */
    {"+A1+B1-B0+C1+D1", "DCA"},             /* a deleted entry frees its room */
    {"+A1+B1+C1-A0-C0-B0", ""},             /* tail, head, last */
    {"?Z0hZ0+A1", "A"},                     /* misses change nothing */
    {"+A1+B1+C1?C0?C0+D1", "DCB"},          /* getting the head keeps it the head */
    {"+A1+B1+C1?A0?B0?C0?A0+D1+E1", "EDA"}, /* order follows the last get */
};

static void
run_lru_script(const char *ops, struct answer_cache *c)
{
    static uint8_t rows[4 * UNIT];
    memset(rows, 'r', sizeof(rows));
    for (const char *op = ops; op[0]; op += 3) {
        uint8_t key = (uint8_t)op[1];
        size_t units = (size_t)(op[2] - '0');
        struct answer *a;
        switch (op[0]) {
        case '+':
            answer_put(c, &key, 1, 1, NULL, 0, rows, units * UNIT - entry_bytes(1, 0, 0), 1,
                       "SELECT 1", 0, 0, 0);
            break;
        case '?':
            answer_get(c, &key, 1);
            break;
        case 'h':
            answer_has(c, &key, 1);
            break;
        case '-':
            a = answer_get(c, &key, 1);
            assert_non_null(a);
            answer_del(c, a);
            break;
        default:
            fail_msg("bad op %c", op[0]);
        }
        check_cache(c);
    }
}

static void
test_lru_scripts(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(lru_cases) / sizeof(lru_cases[0]); i++) {
        struct answer_cache c;
        char got[16];
        answer_init(&c, CAP_UNITS * UNIT);
        run_lru_script(lru_cases[i].ops, &c);
        lru_order(&c, got, sizeof(got));
        if (strcmp(got, lru_cases[i].want) != 0)
            fail_msg("case %zu %s: order \"%s\", want \"%s\"", i, lru_cases[i].ops, got,
                     lru_cases[i].want);
        assert_int_equal(c.bytes % UNIT, 0);
        answer_free(&c);
    }
}

static void
test_too_large_not_stored(void **state)
{
    struct answer_cache c;
    (void)state;
    size_t max = entry_bytes(1, 0, 1000);
    answer_init(&c, max);
    assert_null(put_plain(&c, BYTES("a"), 1001));
    assert_int_equal(c.count, 0);
    assert_int_equal(c.bytes, 0);
    assert_false(answer_has(&c, BYTES("a")));
    /* One byte less is exactly the bound. */
    assert_non_null(put_plain(&c, BYTES("a"), 1000));
    assert_int_equal(c.bytes, max);
    /* A zero bound stores nothing. */
    struct answer_cache z;
    answer_init(&z, 0);
    assert_null(answer_put(&z, BYTES("a"), 1, NULL, 0, NULL, 0, 0, "SELECT 0", 0, 0, 0));
    assert_int_equal(z.count, 0);
    check_cache(&c);
    answer_free(&c);
    answer_free(&z);
}

static void
test_clear_and_free(void **state)
{
    struct answer_cache c;
    char key[16];
    (void)state;
    answer_init(&c, 1 << 20);
    for (int i = 0; i < 100; i++) {
        snprintf(key, sizeof(key), "k%d", i);
        assert_non_null(put_plain(&c, key, strlen(key), (size_t)i));
    }
    assert_int_equal(c.count, 100);
    answer_clear(&c);
    assert_int_equal(c.count, 0);
    assert_int_equal(c.bytes, 0);
    assert_null(c.head);
    assert_null(c.tail);
    assert_non_null(c.slots); /* the table stays for reuse */
    for (int i = 0; i < 100; i++) {
        snprintf(key, sizeof(key), "k%d", i);
        assert_false(answer_has(&c, (const uint8_t *)key, strlen(key)));
    }
    /* Usable after a clear, and after a free (which keeps the bound). */
    assert_non_null(put_plain(&c, BYTES("again"), 5));
    assert_true(answer_has(&c, BYTES("again")));
    check_cache(&c);
    answer_free(&c);
    assert_null(c.slots);
    assert_int_equal(c.max_bytes, 1 << 20);
    assert_int_equal(c.count, 0);
    assert_non_null(put_plain(&c, BYTES("after"), 5));
    check_cache(&c);
    answer_clear(&c);
    answer_clear(&c); /* twice is harmless */
    answer_free(&c);
    answer_free(&c);
}

/* Many entries: the table grows (64, 128, ...) and every entry stays reachable. */
static void
test_grow(void **state)
{
    struct answer_cache c;
    char key[16];
    (void)state;
    answer_init(&c, (size_t)64 << 20);
    for (int i = 0; i < 1000; i++) {
        snprintf(key, sizeof(key), "key-%d", i);
        assert_non_null(put_plain(&c, key, strlen(key), (size_t)(i % 7)));
    }
    assert_int_equal(c.count, 1000);
    assert_true(c.nslots >= c.count);
    for (int i = 0; i < 1000; i++) {
        snprintf(key, sizeof(key), "key-%d", i);
        struct answer *a = answer_get(&c, (const uint8_t *)key, strlen(key));
        assert_non_null(a);
        assert_int_equal(a->rowslen, (size_t)(i % 7));
    }
    check_cache(&c);
    answer_free(&c);
}

/*
 * A seeded random walk of puts (varied sizes, some too large), gets, has and deletes, checked
 * after every step against a model of the documented rules: LRU order, replacement, refusal of
 * oversize entries, and the exact byte count.
 */
#define MODEL_KEYS 24

struct model {
    int order[MODEL_KEYS]; /* keys, most recent first */
    size_t bytes[MODEL_KEYS];
    int n;
    size_t total, max;
};

static int
model_find(const struct model *m, int key)
{
    for (int i = 0; i < m->n; i++)
        if (m->order[i] == key)
            return i;
    return -1;
}

static void
model_remove(struct model *m, int i)
{
    m->total -= m->bytes[m->order[i]];
    memmove(&m->order[i], &m->order[i + 1], (size_t)(m->n - i - 1) * sizeof(int));
    m->n--;
}

static void
model_front(struct model *m, int key)
{
    memmove(&m->order[1], &m->order[0], (size_t)m->n * sizeof(int));
    m->order[0] = key;
    m->n++;
}

static void
model_put(struct model *m, int key, size_t bytes)
{
    if (bytes > m->max)
        return;
    int i = model_find(m, key);
    if (i >= 0)
        model_remove(m, i);
    while (m->n > 0 && m->total + bytes > m->max)
        model_remove(m, m->n - 1);
    m->bytes[key] = bytes;
    m->total += bytes;
    model_front(m, key);
}

static void
model_get(struct model *m, int key)
{
    int i = model_find(m, key);
    if (i < 0)
        return;
    model_remove(m, i);
    m->total += m->bytes[key];
    model_front(m, key);
}

static void
test_random_walk_accounting(void **state)
{
    struct answer_cache c;
    struct model m = {.max = 6000};
    static uint8_t rows[8192];
    uint32_t seed = 12345;
    (void)state;
    answer_init(&c, m.max);
    for (int step = 0; step < 5000; step++) {
        seed = seed * 1103515245u + 12345u;
        uint32_t r = seed >> 8;
        uint8_t key = (uint8_t)(r % MODEL_KEYS);
        switch ((r >> 8) % 8) {
        case 0:
        case 1:
        case 2: {
            size_t rl = (r >> 12) % 7000; /* sometimes beyond the bound */
            /* Whether a refused put drops an older answer of that key is not specified. */
            if (entry_bytes(1, 0, rl) > m.max && model_find(&m, key) >= 0)
                break;
            answer_put(&c, &key, 1, 1, NULL, 0, rows, rl, 1, "SELECT 1", 0, 0, 0);
            model_put(&m, key, entry_bytes(1, 0, rl));
            break;
        }
        case 3:
        case 4:
            answer_get(&c, &key, 1);
            model_get(&m, key);
            break;
        case 5: {
            struct answer *a = answer_get(&c, &key, 1);
            model_get(&m, key);
            if (a) {
                answer_del(&c, a);
                model_remove(&m, model_find(&m, key));
            }
            break;
        }
        case 6:
            assert_int_equal(answer_has(&c, &key, 1), model_find(&m, key) >= 0);
            break;
        default:
            if (((r >> 12) % 50) == 0) {
                answer_clear(&c);
                m.n = 0;
                m.total = 0;
            }
        }
        check_cache(&c);
        assert_int_equal(c.count, (size_t)m.n);
        assert_int_equal(c.bytes, m.total);
        int i = 0;
        for (const struct answer *a = c.head; a; a = a->next, i++)
            if (a->key[0] != m.order[i])
                fail_msg("step %d: position %d holds %d, model %d", step, i, a->key[0], m.order[i]);
    }
    answer_free(&c);
}

/*
 * answer_key: the cache key of a lookup. Two lookups may share an answer only when shape,
 * result formats, other parameters and key are all the same; each field is length-framed, so
 * bytes moving from one field to the next make another key.
 */
struct key_args {
    uint64_t shape;
    const char *fmts;
    size_t nfmts;
    const char *others;
    size_t olen;
    const char *key;
    size_t klen;
};

#define S(s) (s), (sizeof(s) - 1)

static const struct key_pair {
    struct key_args a, b;
    bool equal;
} key_pairs[] = {
    {{1, S(""), S(""), S("7")}, {1, S(""), S(""), S("7")}, true},
    {{1, S("\1"), S("p\0q"), S("7")}, {1, S("\1"), S("p\0q"), S("7")}, true},
    {{1, NULL, 0, NULL, 0, S("7")}, {1, S(""), S(""), S("7")}, true}, /* NULL and empty */
    {{1, S(""), S(""), S("")}, {1, S(""), S(""), S("")}, true},
    {{1, S(""), S(""), S("7")}, {2, S(""), S(""), S("7")}, false},
    {{1, S(""), S(""), S("7")}, {1ULL | 1ULL << 63, S(""), S(""), S("7")}, false},
    {{1, S("\0"), S(""), S("7")}, {1, S("\1"), S(""), S("7")}, false},
    {{1, S("\0\1"), S(""), S("7")}, {1, S("\1\0"), S(""), S("7")}, false},
    {{1, S("\1"), S(""), S("7")}, {1, S("\1\1"), S(""), S("7")}, false},
    {{1, S(""), S("a"), S("7")}, {1, S(""), S("b"), S("7")}, false},
    {{1, S(""), S(""), S("7")}, {1, S(""), S("x"), S("7")}, false},
    {{1, S(""), S("ab"), S("c")}, {1, S(""), S("a"), S("bc")}, false}, /* others|key border */
    {{1, S("\1"), S(""), S("7")}, {1, S(""), S("\1"), S("7")}, false}, /* formats|others */
    {{1, S(""), S(""), S("7")}, {1, S(""), S(""), S("8")}, false},
    {{1, S(""), S(""), S("7")}, {1, S(""), S(""), S("07")}, false}, /* canonical is the caller's */
    {{1, S(""), S(""), S("")}, {1, S(""), S(""), S("\0")}, false},
    {{1, S(""), S(""), S("7")}, {1, S(""), S(""), S("70")}, false},
};

static void
build_key(struct buf *out, const struct key_args *k)
{
    answer_key(out, k->shape, (const uint8_t *)k->fmts, k->nfmts, (const uint8_t *)k->others,
               k->olen, k->key, k->klen);
    assert_int_equal(buf_error(out), 0);
}

static void
test_answer_key(void **state)
{
    struct buf a, b;
    (void)state;
    buf_init(&a);
    buf_init(&b);
    for (size_t i = 0; i < sizeof(key_pairs) / sizeof(key_pairs[0]); i++) {
        const struct key_pair *p = &key_pairs[i];
        buf_put(&a, "stale", 5); /* answer_key resets its output first */
        build_key(&a, &p->a);
        build_key(&b, &p->b);
        bool eq =
            buf_used(&a) == buf_used(&b) && memcmp(buf_head(&a), buf_head(&b), buf_used(&a)) == 0;
        if (eq != p->equal)
            fail_msg("pair %zu: keys %s, want %s", i, eq ? "equal" : "differ",
                     p->equal ? "equal" : "differ");
    }
    buf_free(&a);
    buf_free(&b);
}

/* Keys built by answer_key work as cache keys: two formats, one cached answer each. */
static void
test_answer_key_in_cache(void **state)
{
    struct answer_cache c;
    struct buf k;
    (void)state;
    answer_init(&c, 1 << 20);
    buf_init(&k);
    answer_key(&k, 5, (const uint8_t *)"\0", 1, NULL, 0, "7", 1);
    assert_non_null(answer_put(&c, buf_head(&k), buf_used(&k), 5, NULL, 0, (const uint8_t *)"text",
                               4, 1, "SELECT 1", 0, 0, 0));
    answer_key(&k, 5, (const uint8_t *)"\1", 1, NULL, 0, "7", 1);
    assert_false(answer_has(&c, buf_head(&k), buf_used(&k)));
    assert_non_null(answer_put(&c, buf_head(&k), buf_used(&k), 5, NULL, 0,
                               (const uint8_t *)"binary", 6, 1, "SELECT 1", 0, 0, 0));
    answer_key(&k, 5, (const uint8_t *)"\0", 1, NULL, 0, "7", 1);
    struct answer *a = answer_get(&c, buf_head(&k), buf_used(&k));
    assert_non_null(a);
    assert_memory_equal(a->rows, "text", 4);
    assert_int_equal(c.count, 2);
    check_cache(&c);
    buf_free(&k);
    answer_free(&c);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_put_get_has),
        cmocka_unit_test(test_replace_same_key),
        cmocka_unit_test(test_lru_scripts),
        cmocka_unit_test(test_too_large_not_stored),
        cmocka_unit_test(test_clear_and_free),
        cmocka_unit_test(test_grow),
        cmocka_unit_test(test_random_walk_accounting),
        cmocka_unit_test(test_answer_key),
        cmocka_unit_test(test_answer_key_in_cache),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
