/*
 * fuzz_shape: SQL shape analysis (parser/shape.c and the files behind it), the shape cache,
 * slot values and the batched SQL.
 *
 * Input:
 *   byte 0   flags
 *            bit 0     Parse parameter types follow (extended protocol); else none (simple)
 *            bits 1-4  key type of the batch: int8 int4 int2 oid text varchar bpchar name uuid
 *            bits 5-7  seed of the literal variant the harness writes (below)
 *   [if bit 0: a count byte n (n % 12 types), then n bytes, each an index into a table of type
 *    OIDs; an index >= 0xf0 is followed by a raw big-endian OID]
 *   the SQL text; a NUL byte, if any, ends it and what follows is a second text.
 *
 * For the first text: shape_analyze directly, then through a shape cache. For every candidate
 * slot of a lookup: the slot's value (unquoted) and its canonical key forms, and the batch SQL in
 * both forms. Invariants (they are the parser's promises, docs/parser.md):
 *   - a batch query parses (pg_query_parse), is one read-only statement, and takes exactly
 *     one more parameter than the statement;
 *   - a text that shares the cached shape of another (texts that differ only in literal
 *     values) gets a batch query with the same fingerprint: no literal value, key or not,
 *     can change what the batch query is. That is what keeps key values from injecting SQL.
 * The second text, and a variant of the first with every literal replaced by an awkward one of
 * the same kind, go through the same cache to test that sharing.
 */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include <pg_query.h>

#include "parser/keyval.h"
#include "parser/shape.h"
#include "parser/shapecache.h"
#include "tests/fuzz/fuzz_util.h"

static const uint32_t oid_table[16] = {
    0,
    16,
    KEYVAL_OID_INT8,
    KEYVAL_OID_INT2,
    KEYVAL_OID_INT4,
    KEYVAL_OID_TEXT,
    KEYVAL_OID_OID,
    KEYVAL_OID_VARCHAR,
    KEYVAL_OID_BPCHAR,
    KEYVAL_OID_NAME,
    KEYVAL_OID_UUID,
    1700,
    705,
    3802,
    1114,
    0xffffffffu,
};

static const uint32_t key_oids[9] = {
    KEYVAL_OID_INT8,    KEYVAL_OID_INT4,   KEYVAL_OID_INT2, KEYVAL_OID_OID,  KEYVAL_OID_TEXT,
    KEYVAL_OID_VARCHAR, KEYVAL_OID_BPCHAR, KEYVAL_OID_NAME, KEYVAL_OID_UUID,
};

/* Awkward spellings per literal kind, for the variant text. */
static const char *const int_lits[] = {"0", "007", "9223372036854775808", "42", "1"};
static const char *const num_lits[] = {"1.5", ".5", "1e3", "0.0", "1E-2"};
static const char *const str_lits[] = {
    "'x'",
    "'it''s'",
    "E'a\\'b'",
    "$$x$$",
    "$q$'); DROP TABLE t; --$q$",
    "''",
    "'); DROP TABLE t; --'",
    "E'\\x41\\n'",
    "'\"'",
    "$a$$a$",
};
static const char *const other_lits[] = {"B'01'", "X'ff'"};

static void
check_slots(const struct shape *s)
{
    FUZZ_CHECK(s->kind != SHAPE_LOOKUP || s->nslots >= 1, "lookup without slots");
    for (int i = 0; i < s->nslots; i++) {
        const struct shape_slot *sl = &s->slots[i];
        FUZZ_CHECK((uint64_t)sl->off + sl->len <= s->len, "slot %d outside the text", i);
        FUZZ_CHECK(sl->param >= 0 && sl->param <= s->nparams, "slot %d parameter %d of %d", i,
                   sl->param, s->nparams);
        FUZZ_CHECK(sl->param > 0 || (sl->lit >= 0 && sl->lit < s->nlits), "slot %d literal %d", i,
                   sl->lit);
        FUZZ_CHECK(sl->column != NULL, "slot %d without a column", i);
    }
    for (int i = 0; i < s->nlits; i++)
        FUZZ_CHECK((uint64_t)s->lits[i].off + s->lits[i].len <= s->len &&
                       (i == 0 || s->lits[i].off >= s->lits[i - 1].off + s->lits[i - 1].len),
                   "literal %d out of place", i);
}

/*
 * Checks one batch query; returns its fingerprint. libpg_query must parse it, and pgfold's
 * own analysis must see one read-only statement with one parameter more than the original.
 */
static uint64_t
check_batch(const char *batch, const struct shape *orig)
{
    PgQueryParseResult pr = pg_query_parse(batch);
    FUZZ_CHECK(pr.error == NULL, "batch query does not parse: %s\n  statement: %.*s\n  batch: %s",
               pr.error ? pr.error->message : "", (int)orig->len, orig->text, batch);
    pg_query_free_parse_result(pr);
    struct shape *b;
    FUZZ_CHECK(shape_analyze(batch, strlen(batch), NULL, 0, &b) == 0, "analyze batch");
    FUZZ_CHECK(b->kind == SHAPE_READ && b->nstmts == 1 && !(b->flags & SHAPE_F_MULTI),
               "batch is %s with %d statements: %s", shape_kind_name(b->kind), b->nstmts, batch);
    FUZZ_CHECK(b->nparams == orig->nparams + 1, "batch takes %d parameters, want %d: %s",
               b->nparams, orig->nparams + 1, batch);
    uint64_t fp = b->fingerprint;
    shape_unref(b);
    return fp;
}

/* The slot's value in the text in hand, and its canonical key forms. */
static void
check_value(const struct shape *s, const char *sql, size_t len, const struct shape_lits *lits,
            int slot)
{
    size_t cap = (sql ? len : s->len) + 1, n = 0;
    char *val = malloc(cap); /* exactly the documented bound, so an overrun is caught */
    FUZZ_CHECK(val != NULL, "malloc");
    int rc = shape_slot_value(s, sql, len, lits, slot, val, cap, &n);
    const struct shape_slot *sl = &s->slots[slot];
    FUZZ_CHECK(sl->param == 0 || rc == -EINVAL, "a parameter slot has a value");
    FUZZ_CHECK(rc == 0 || rc == -EINVAL || rc == -ENOTSUP, "slot value: %d", rc);
    if (rc == 0) {
        FUZZ_CHECK(n <= cap, "slot value length");
        char key[KEYVAL_FIXED_MAX];
        for (size_t i = 0; i < sizeof(key_oids) / sizeof(key_oids[0]); i++) {
            size_t kl;
            char *big = malloc(n ? n : 1);
            FUZZ_CHECK(big != NULL, "malloc");
            if (keyval_class(key_oids[i]) == KEYVAL_CLASS_INT ||
                keyval_class(key_oids[i]) == KEYVAL_CLASS_UUID)
                (void)keyval_canon_literal(key_oids[i], sl->lit_type, val, n, key, sizeof(key),
                                           &kl);
            else
                (void)keyval_canon_literal(key_oids[i], sl->lit_type, val, n, big, n, &kl);
            free(big);
        }
    }
    free(val);
}

/* Both batch forms of every slot; fps[slot * 2 + form] receives fingerprints (0 = none). */
static void
batches(const struct shape *s, const char *sql, size_t len, const struct shape_lits *lits,
        const char *key_type, uint64_t *fps, int nfps)
{
    for (int i = 0; i < s->nslots; i++) {
        check_value(s, sql, len, lits, i);
        for (int form = 0; form <= 1; form++) {
            char *q = NULL;
            int rc =
                shape_batch_sql(s, sql, len, lits, i, key_type, (enum shape_batch_form)form, &q);
            bool any_ok = s->slots[i].flags & SHAPE_SLOT_ANY_OK;
            FUZZ_CHECK(rc == 0 || rc == -E2BIG || (form == 1 && !any_ok && rc == -EINVAL),
                       "shape_batch_sql slot %d form %d: %d", i, form, rc);
            uint64_t fp = rc == 0 ? check_batch(q, s) : 0;
            if (i * 2 + form < nfps)
                fps[i * 2 + form] = fp;
            free(q);
        }
    }
}

/* The text with every literal token replaced by an awkward one of the same kind. */
static char *
variant(const char *sql, size_t len, const struct shape_lits *lits, unsigned seed, size_t *outlen)
{
    size_t cap = len + 1;
    for (int i = 0; i < lits->n; i++)
        cap += 40;
    char *out = malloc(cap);
    FUZZ_CHECK(out != NULL, "malloc");
    size_t at = 0, n = 0;
    for (int i = 0; i < lits->n; i++) {
        const struct shape_lit *l = &lits->v[i];
        memcpy(out + n, sql + at, l->off - at);
        n += l->off - at;
        unsigned k = seed + (unsigned)i * 7;
        const char *rep;
        switch (l->type) {
        case KEYVAL_LIT_INTEGER:
            rep = int_lits[k % (sizeof(int_lits) / sizeof(int_lits[0]))];
            break;
        case KEYVAL_LIT_NUMERIC:
            rep = num_lits[k % (sizeof(num_lits) / sizeof(num_lits[0]))];
            break;
        case KEYVAL_LIT_STRING:
            rep = str_lits[k % (sizeof(str_lits) / sizeof(str_lits[0]))];
            break;
        default:
            rep = other_lits[k % 2];
            break;
        }
        memcpy(out + n, rep, strlen(rep));
        n += strlen(rep);
        at = l->off + l->len;
    }
    memcpy(out + n, sql + at, len - at);
    n += len - at;
    out[n] = '\0';
    *outlen = n;
    return out;
}

/* A second text through the cache: if it shares the first's shape, the batches must match. */
static void
check_sharing(struct shapecache *c, const struct shape *s1, const char *sql, size_t len,
              const uint32_t *oids, int noids, const char *key_type, const uint64_t *fps1, int nfps)
{
    struct shape *s2;
    struct shape_lits l2 = {0};
    int rc = shapecache_get(c, sql, len, oids, noids, &s2, &l2);
    FUZZ_CHECK(rc == 0, "shapecache_get: %d", rc);
    check_slots(s2);
    if (s2 == s1 && s1->kind == SHAPE_LOOKUP) {
        uint64_t fps2[16] = {0};
        batches(s2, sql, len, &l2, key_type, fps2, nfps);
        for (int i = 0; i < nfps; i++)
            FUZZ_CHECK(fps1[i] == fps2[i],
                       "texts sharing a shape give different batches (slot %d form %d)\n"
                       "  shape text: %.*s\n  this text:  %.*s",
                       i / 2, i % 2, (int)s1->len, s1->text, (int)len, sql);
    }
    shape_unref(s2);
    shape_lits_free(&l2);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_in in = {data, size};
    uint8_t flags = fuzz_u8(&in);
    uint32_t oids[12];
    int noids = 0;
    if (flags & 1) {
        noids = fuzz_u8(&in) % 12;
        for (int i = 0; i < noids; i++) {
            uint8_t k = fuzz_u8(&in);
            oids[i] = k >= 0xf0 ? fuzz_u32(&in) : oid_table[k & 15];
        }
    }
    const char *key_type = keyval_type_name(key_oids[((flags >> 1) & 15) % 9]);
    unsigned seed = flags >> 5;

    /* The texts, NUL-terminated copies (the parser takes a length; the checks print them). */
    const uint8_t *nul = memchr(in.p, 0, in.left);
    size_t len1 = nul ? (size_t)(nul - in.p) : in.left;
    char *sql1 = strndup((const char *)in.p, len1);
    char *sql2 = nul ? strndup((const char *)nul + 1, in.left - len1 - 1) : NULL;
    FUZZ_CHECK(sql1 != NULL, "strndup");

    struct shape *s;
    int rc = shape_analyze(sql1, len1, noids ? oids : NULL, noids, &s);
    FUZZ_CHECK(rc == 0, "shape_analyze: %d", rc);
    check_slots(s);
    FUZZ_CHECK(s->nparams >= noids, "nparams %d below the %d types given", s->nparams, noids);
    uint64_t direct[16] = {0};
    batches(s, NULL, 0, NULL, key_type, direct, 16);
    shape_unref(s);

    struct shapecache *c;
    FUZZ_CHECK(shapecache_new(4, &c) == 0, "shapecache_new");
    struct shape_lits l1 = {0};
    rc = shapecache_get(c, sql1, len1, noids ? oids : NULL, noids, &s, &l1);
    FUZZ_CHECK(rc == 0, "shapecache_get: %d", rc);
    uint64_t fps[16] = {0};
    batches(s, sql1, len1, &l1, key_type, fps, 16);
    for (int i = 0; i < 16; i++)
        FUZZ_CHECK(fps[i] == direct[i], "the cache's shape batches differently (%d)", i);
    if (sql2)
        check_sharing(c, s, sql2, strlen(sql2), noids ? oids : NULL, noids, key_type, fps, 16);
    if (l1.n > 0 && s->kind == SHAPE_LOOKUP) {
        size_t vlen;
        char *v = variant(sql1, len1, &l1, seed, &vlen);
        check_sharing(c, s, v, vlen, noids ? oids : NULL, noids, key_type, fps, 16);
        free(v);
    }
    shape_unref(s);
    shape_lits_free(&l1);
    shapecache_free(c);
    free(sql1);
    free(sql2);
    return 0;
}
