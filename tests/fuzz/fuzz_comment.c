/*
 * fuzz_comment: code locations out of statement comments (parser/comment.c).
 *
 * Input: byte 0 is a buffer size for comment_loc_format, the rest is the SQL text, copied into
 * a heap block of exactly its size (not NUL-terminated: the wire's statements are not).
 * Invariants:
 *   - comment_location returns 0, -ENOENT or -EINVAL; on 0 the location is well formed: keys
 *     in order and known, each value non-empty, NUL-terminated inside text, at most
 *     COMMENT_VALUE_MAX - 1 bytes, valid UTF-8 with no control character; otherwise it is empty;
 *   - a location only ever comes from a real comment at an end of the statement: when
 *     PostgreSQL's own scanner (libpg_query) reads the text, its first token or its last one
 *     (';' and line comments aside) is a block comment;
 *   - comment_trim gives a span inside the text, and trimming that span again changes nothing;
 *   - comment_loc_format stays inside any buffer size and terminates it.
 */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include <pg_query.h>
#include <pg_query/pg_query.pb-c.h>

#include "parser/comment.h"
#include "tests/fuzz/fuzz_util.h"

/* Length of the valid UTF-8 character at p (0: none), as an independent check. */
static size_t
utf8_char(const unsigned char *p, size_t n)
{
    if (p[0] < 0x80)
        return p[0] >= 0x20 && p[0] != 0x7f ? 1 : 0;
    size_t need = p[0] >= 0xf0 ? 4 : p[0] >= 0xe0 ? 3 : p[0] >= 0xc2 ? 2 : 0;
    if (need == 0 || need > n || p[0] > 0xf4)
        return 0;
    uint32_t cp = p[0] & (0x7f >> need);
    for (size_t k = 1; k < need; k++) {
        if ((p[k] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (p[k] & 0x3f);
    }
    static const uint32_t least[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < least[need] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return need;
}

static void
check_loc(const struct comment_loc *loc, int rc)
{
    if (rc != 0) {
        FUZZ_CHECK(rc == -ENOENT || rc == -EINVAL, "rc %d", rc);
        FUZZ_CHECK(loc->n == 0 && loc->len == 0, "empty location on %d", rc);
        return;
    }
    FUZZ_CHECK(loc->n >= 1 && loc->n <= COMMENT_K_COUNT, "n %d", loc->n);
    FUZZ_CHECK(loc->len <= COMMENT_LOC_BYTES, "len %d", loc->len);
    FUZZ_CHECK(loc->style != COMMENT_STYLE_NONE, "style");
    size_t off = 0;
    for (int i = 0; i < loc->n; i++) {
        FUZZ_CHECK(loc->key[i] < COMMENT_K_COUNT && (i == 0 || loc->key[i] > loc->key[i - 1]),
                   "key %d at %d", loc->key[i], i);
        const char *v = comment_loc_value(loc, i);
        FUZZ_CHECK(v == loc->text + off, "value %d at %zu", i, off);
        size_t vl = strnlen(v, loc->len - off);
        FUZZ_CHECK(vl > 0 && vl < loc->len - off && vl <= COMMENT_VALUE_MAX - 1, "value %d len %zu",
                   i, vl);
        for (size_t k = 0; k < vl;) {
            size_t cl = utf8_char((const unsigned char *)v + k, vl - k);
            FUZZ_CHECK(cl > 0, "value %d byte %zu not printable UTF-8", i, k);
            k += cl;
        }
        off += vl + 1;
    }
    FUZZ_CHECK(off == loc->len, "values end at %zu, len %d", off, loc->len);
}

/* Is PostgreSQL's first or last real token a block comment? -1 when it cannot scan the text. */
static int
pg_comment_at_an_end(const char *sql)
{
    PgQueryScanResult sr = pg_query_scan(sql);
    int res = -1;
    if (sr.error == NULL) {
        PgQuery__ScanResult *st =
            pg_query__scan_result__unpack(NULL, sr.pbuf.len, (const uint8_t *)sr.pbuf.data);
        FUZZ_CHECK(st != NULL, "unpack");
        int first = -1, last = -1;
        for (size_t i = 0; i < st->n_tokens; i++) {
            const PgQuery__ScanToken *t = st->tokens[i];
            if (t->token == PG_QUERY__TOKEN__SQL_COMMENT ||
                (t->end - t->start == 1 && sql[t->start] == ';'))
                continue;
            if (first < 0)
                first = (int)i;
            last = (int)i;
        }
        res = (first >= 0 && st->tokens[first]->token == PG_QUERY__TOKEN__C_COMMENT) ||
              (last >= 0 && st->tokens[last]->token == PG_QUERY__TOKEN__C_COMMENT);
        pg_query__scan_result__free_unpacked(st, NULL);
    }
    pg_query_free_scan_result(sr);
    return res;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t cap = data[0];
    size_t len = size - 1;
    char *sql = malloc(len ? len : 1);
    FUZZ_CHECK(sql != NULL, "malloc");
    memcpy(sql, data + 1, len);

    struct comment_loc loc;
    int rc = comment_location(sql, len, &loc);
    check_loc(&loc, rc);

    if (rc == 0 && memchr(sql, '\0', len) == NULL) {
        char *z = malloc(len + 1);
        FUZZ_CHECK(z != NULL, "malloc");
        memcpy(z, sql, len);
        z[len] = '\0';
        FUZZ_CHECK(pg_comment_at_an_end(z) != 0, "a location from no comment at an end: %s", z);
        free(z);
    }

    size_t off = 0, n = 0;
    comment_trim(sql, len, &off, &n);
    FUZZ_CHECK(off <= len && n <= len - off, "trim %zu+%zu of %zu", off, n, len);
    size_t off2 = 0, n2 = 0;
    comment_trim(sql + off, n, &off2, &n2);
    FUZZ_CHECK(off2 == 0 && n2 == n, "trim again: %zu+%zu of %zu", off2, n2, n);

    char *out = malloc(cap ? cap : 1);
    FUZZ_CHECK(out != NULL, "malloc");
    size_t w = comment_loc_format(&loc, out, cap);
    FUZZ_CHECK(cap == 0 ? w == 0 : (w < cap && out[w] == '\0'), "format %zu into %zu", w, cap);
    free(out);
    free(sql);
    return 0;
}
