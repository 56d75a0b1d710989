/*
 * bench_parser: what the parser costs per statement. Reports, without asserting anything:
 *
 *   hit      shapecache_get on a ~300-byte Django lookup whose key literal changes every call,
 *            plus extracting and canonicalising the key (the proxy's per-query hot path;
 *            target <= 3 us)
 *   hit $n   the same for an extended-protocol text (exact key, no literals)
 *   miss     shape_analyze of the same text: libpg_query parse, scan, fingerprint, normalize
 *   batch    shape_batch_sql for the text in hand
 *   canon    keyval_canon_* for int8 text/binary and uuid text
 *
 * Usage: bench_parser [iterations]  (default 200000; misses run a twentieth of that)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "parser/keyval.h"
#include "parser/shape.h"
#include "parser/shapecache.h"

#define NTEXTS 1024

static double
now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static const char *template =
    "SELECT \"polls_question\".\"id\", \"polls_question\".\"question_text\", "
    "\"polls_question\".\"pub_date\", \"polls_question\".\"author_id\", "
    "\"polls_question\".\"created_at\" FROM \"polls_question\" INNER JOIN \"auth_user\" ON "
    "(\"polls_question\".\"author_id\" = \"auth_user\".\"id\") WHERE \"polls_question\".\"id\" = "
    "%d LIMIT 21";

static const char *extended =
    "SELECT \"polls_question\".\"id\", \"polls_question\".\"question_text\", "
    "\"polls_question\".\"pub_date\", \"polls_question\".\"author_id\", "
    "\"polls_question\".\"created_at\" FROM \"polls_question\" INNER JOIN \"auth_user\" ON "
    "(\"polls_question\".\"author_id\" = \"auth_user\".\"id\") WHERE \"polls_question\".\"id\" = "
    "$1 LIMIT $2";

static void
report(const char *what, double ns, long n)
{
    printf("%-44s %9.0f ns/op  (%ld ops)\n", what, ns / (double)n, n);
}

/* The hot path: look up the shape, pull the key literal out, canonicalise it. */
static int
hit_once(struct shapecache *c, const char *sql, size_t len, struct shape_lits *lits, size_t *keylen)
{
    struct shape *s;
    char val[64], key[KEYVAL_FIXED_MAX];
    size_t n;
    int rc = shapecache_get(c, sql, len, NULL, 0, &s, lits);

    if (rc < 0)
        return rc;
    rc = shape_slot_value(s, sql, len, lits, 0, val, sizeof(val), &n);
    if (rc == 0)
        rc = keyval_canon_literal(KEYVAL_OID_INT8, s->slots[0].lit_type, val, n, key, sizeof(key),
                                  keylen);
    shape_unref(s);
    return rc;
}

int
main(int argc, char **argv)
{
    long iters = argc > 1 ? atol(argv[1]) : 200000, misses = iters / 20 ? iters / 20 : 1;
    static char texts[NTEXTS][512];
    static size_t lens[NTEXTS];
    struct shape_lits lits = {0};
    struct shapecache *c;
    struct shape *s;
    size_t keylen, total = 0, n;
    double t0;
    char out[64], *q;

    for (int i = 0; i < NTEXTS; i++)
        lens[i] = (size_t)snprintf(texts[i], sizeof(texts[i]), template, 1000 + i * 7919);
    printf("Django lookup text: %zu bytes\n", lens[0]);
    if (shapecache_new(10000, &c) < 0)
        return 1;

    /* warm: one miss, then every text shares that shape */
    if (hit_once(c, texts[0], lens[0], &lits, &keylen) < 0)
        return 1;
    t0 = now_ns();
    for (long i = 0; i < iters; i++) {
        if (hit_once(c, texts[i % NTEXTS], lens[i % NTEXTS], &lits, &keylen) < 0)
            return 1;
        total += keylen;
    }
    report("cache hit + key extract + canon (simple)", now_ns() - t0, iters);

    t0 = now_ns();
    for (long i = 0; i < iters; i++) {
        if (shapecache_get(c, extended, strlen(extended), NULL, 0, &s, &lits) < 0)
            return 1;
        total += (size_t)s->nslots;
        shape_unref(s);
    }
    report("cache hit (extended, $1 text)", now_ns() - t0, iters);

    t0 = now_ns();
    for (long i = 0; i < misses; i++) {
        if (shape_analyze(texts[i % NTEXTS], lens[i % NTEXTS], NULL, 0, &s) < 0)
            return 1;
        total += (size_t)s->nslots;
        shape_unref(s);
    }
    report("cache miss (full shape_analyze)", now_ns() - t0, misses);

    if (shapecache_get(c, texts[5], lens[5], NULL, 0, &s, &lits) < 0)
        return 1;
    t0 = now_ns();
    for (long i = 0; i < misses; i++) {
        if (shape_batch_sql(s, texts[5], lens[5], &lits, 0, "int8", SHAPE_BATCH_LATERAL, &q) < 0)
            return 1;
        total += strlen(q);
        free(q);
    }
    report("shape_batch_sql (LATERAL, text in hand)", now_ns() - t0, misses);
    shape_unref(s);

    t0 = now_ns();
    for (long i = 0; i < iters; i++) {
        if (keyval_canon_text(KEYVAL_OID_INT8, "  000123456789 ", 15, out, sizeof(out), &n) < 0)
            return 1;
        total += n;
    }
    report("keyval_canon_text int8", now_ns() - t0, iters);

    t0 = now_ns();
    for (long i = 0; i < iters; i++) {
        if (keyval_canon_binary(KEYVAL_OID_INT8, "\0\0\0\0\x07\x5b\xcd\x15", 8, out, sizeof(out),
                                &n) < 0)
            return 1;
        total += n;
    }
    report("keyval_canon_binary int8", now_ns() - t0, iters);

    t0 = now_ns();
    for (long i = 0; i < iters; i++) {
        if (keyval_canon_text(KEYVAL_OID_UUID, "A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11", 36, out,
                              sizeof(out), &n) < 0)
            return 1;
        total += n;
    }
    report("keyval_canon_text uuid", now_ns() - t0, iters);

    printf("(checksum %zu)\n", total);
    shape_lits_free(&lits);
    shapecache_free(c);
    shape_thread_exit();
    return 0;
}
