/*
 * keysrc: records and searches the key columns of recent results. See keysrc.h.
 *
 * Columns keep their values in one arena each, with offsets per row, so a 10,000-row source
 * costs a few allocations, not one per value. Searching is a linear scan of the recent
 * columns of the right class; it only runs on a cache miss, and a hit turns the following
 * lookups of the loop into cache hits, so it runs about once per batch.
 */
#include "batcher/keysrc.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pgwire/rowmsg.h"

#define ABSENT UINT32_MAX

void
keysrc_init(struct keysrc *ks, size_t max_results, size_t max_rows, size_t max_bytes)
{
    memset(ks, 0, sizeof(*ks));
    buf_init(&ks->pend_desc);
    buf_init(&ks->pend_row);
    ks->max_results = max_results > KEYSRC_MAX_RESULTS ? KEYSRC_MAX_RESULTS : max_results;
    ks->max_rows = max_rows;
    ks->max_bytes = max_bytes;
}

static void
result_free(struct keysrc_result *r)
{
    if (!r)
        return;
    for (int i = 0; i < r->capcols; i++) {
        buf_free(&r->cols[i].arena);
        free(r->cols[i].off);
        free(r->cols[i].len);
    }
    free(r->cols);
    free(r);
}

void
keysrc_abort(struct keysrc *ks)
{
    result_free(ks->cur);
    ks->cur = NULL;
    ks->pending = false;
}

void
keysrc_clear(struct keysrc *ks)
{
    keysrc_abort(ks);
    result_free(ks->spare);
    ks->spare = NULL;
    buf_free(&ks->pend_desc);
    buf_free(&ks->pend_row);
    for (int i = 0; i < ks->count; i++)
        result_free(ks->results[i]);
    ks->count = 0;
    ks->rows = 0;
    ks->bytes = 0;
}

static void
copy_name(char *dst, size_t cap, const char *src)
{
    size_t n = src ? strnlen(src, cap - 1) : 0;
    if (n)
        memcpy(dst, src, n);
    dst[n] = '\0';
}

/* A result with room for nkeys columns: the spare one if it fits, else a new one. */
static struct keysrc_result *
recycle(struct keysrc *ks, int nkeys)
{
    struct keysrc_result *r = ks->spare;
    ks->spare = NULL;
    if (r && r->capcols >= nkeys) {
        struct keysrc_col *cols = r->cols;
        int cap = r->capcols;
        memset(r, 0, sizeof(*r));
        r->cols = cols;
        r->capcols = cap;
        return r;
    }
    result_free(r);
    r = calloc(1, sizeof(*r));
    if (!r || !(r->cols = calloc((size_t)nkeys, sizeof(*r->cols)))) {
        free(r);
        return NULL;
    }
    r->capcols = nkeys;
    for (int i = 0; i < nkeys; i++)
        buf_init(&r->cols[i].arena);
    return r;
}

/* Parses the waiting RowDescription and starts the result for real. */
static void
materialize(struct keysrc *ks, const uint8_t *desc, size_t desclen, uint64_t source_shape,
            const char *source_table, const char *source_sql)
{
    struct rowmsg_col cols[64];
    int n = rowmsg_desc(desc, desclen, cols, 64);
    if (n <= 0)
        return;
    int nkeys = 0;
    for (int i = 0; i < n && i < 64; i++) {
        enum keyval_class cls = keyval_class(cols[i].type_oid);
        nkeys += cls != KEYVAL_CLASS_NONE && cls != KEYVAL_CLASS_BPCHAR;
    }
    if (nkeys == 0)
        return;
    struct keysrc_result *r = recycle(ks, nkeys);
    if (!r)
        return;
    for (int i = 0; i < n && i < 64; i++) {
        enum keyval_class cls = keyval_class(cols[i].type_oid);
        if (cls == KEYVAL_CLASS_NONE || cls == KEYVAL_CLASS_BPCHAR)
            continue;
        struct keysrc_col *c = &r->cols[r->ncols++];
        buf_reset(&c->arena); /* storage of a recycled column stays allocated */
        copy_name(c->name, sizeof(c->name), cols[i].name);
        c->table_oid = cols[i].table_oid;
        c->attnum = cols[i].attnum;
        c->type_oid = cols[i].type_oid;
        c->format = cols[i].format;
        c->index = i;
        c->cls = cls;
    }
    r->source_shape = source_shape;
    copy_name(r->source_table, sizeof(r->source_table), source_table);
    copy_name(r->source_sql, sizeof(r->source_sql), source_sql);
    r->bytes = sizeof(*r) + (size_t)nkeys * sizeof(*r->cols);
    ks->cur = r;
}

static int
col_append(struct keysrc_col *c, uint32_t row, const struct rowmsg_field *f)
{
    if (row >= c->cap) {
        uint32_t cap = c->cap ? c->cap * 2 : 64;
        uint32_t *off = realloc(c->off, cap * sizeof(*off));
        if (off)
            c->off = off;
        uint32_t *len = off ? realloc(c->len, cap * sizeof(*len)) : NULL;
        if (!off || !len)
            return -ENOMEM;
        c->len = len;
        c->cap = cap;
    }
    char canon[KEYSRC_MAX_KEY];
    size_t n = 0;
    int rc = -EINVAL;
    if (f->val && f->len <= KEYSRC_MAX_KEY)
        rc = c->format == 1 ? keyval_canon_binary(c->type_oid, (const char *)f->val,
                                                  (size_t)f->len, canon, sizeof(canon), &n)
                            : keyval_canon_text(c->type_oid, (const char *)f->val,
                                                (size_t)f->len, canon, sizeof(canon), &n);
    if (rc != 0) {
        c->off[row] = ABSENT;
        c->len[row] = 0;
        return 0;
    }
    c->off[row] = (uint32_t)buf_used(&c->arena);
    c->len[row] = (uint32_t)n;
    buf_put(&c->arena, canon, n);
    return buf_error(&c->arena);
}

void
keysrc_begin(struct keysrc *ks, const uint8_t *desc, size_t desclen, uint64_t source_shape,
             const char *source_table, const char *source_sql, uint64_t source_id)
{
    keysrc_abort(ks);
    buf_reset(&ks->pend_desc);
    buf_put(&ks->pend_desc, desc, desclen);
    if (buf_error(&ks->pend_desc))
        return;
    ks->pending = true;
    ks->pend_rows = 0;
    ks->pend_shape = source_shape;
    ks->pend_id = source_id;
    copy_name(ks->pend_table, sizeof(ks->pend_table), source_table);
    copy_name(ks->pend_sql, sizeof(ks->pend_sql), source_sql);
}

static void record_row(struct keysrc *ks, const uint8_t *row, size_t rowlen);

void
keysrc_row(struct keysrc *ks, const uint8_t *row, size_t rowlen)
{
    if (!ks->pending) {
        record_row(ks, row, rowlen);
        return;
    }
    if (ks->pend_rows++ == 0) {
        buf_reset(&ks->pend_row);
        buf_put(&ks->pend_row, row, rowlen);
        if (buf_error(&ks->pend_row))
            ks->pending = false;
        return;
    }
    /* A second row: this may be a loop after all. */
    ks->pending = false;
    materialize(ks, buf_head(&ks->pend_desc), buf_used(&ks->pend_desc), ks->pend_shape,
                ks->pend_table, ks->pend_sql);
    if (ks->cur)
        ks->cur->source_id = ks->pend_id;
    record_row(ks, buf_head(&ks->pend_row), buf_used(&ks->pend_row));
    record_row(ks, row, rowlen);
}

static void
record_row(struct keysrc *ks, const uint8_t *row, size_t rowlen)
{
    struct keysrc_result *r = ks->cur;
    if (!r)
        return;
    if (r->nrows >= ks->max_rows || r->bytes + rowlen + 8 * (size_t)r->ncols > ks->max_bytes)
        return; /* past the bounds: the loop folds over its first rows, forwards the rest */
    size_t pos = 0;
    struct rowmsg_field f;
    int want = 0, field = 0;
    while (want < r->ncols) {
        if (rowmsg_next(row, rowlen, &pos, &f) != 0) {
            keysrc_abort(ks);
            return;
        }
        if (field++ != r->cols[want].index)
            continue;
        size_t before = buf_used(&r->cols[want].arena);
        if (col_append(&r->cols[want], r->nrows, &f) != 0) {
            keysrc_abort(ks);
            return;
        }
        r->bytes += buf_used(&r->cols[want].arena) - before + 8;
        want++;
    }
    r->nrows++;
}

/* The statement ran again: its older results (and the answers fetched for them) retire. */
static void
retire(struct keysrc *ks, uint64_t source_id)
{
    int kept = 0;
    for (int i = 0; i < ks->count; i++) {
        struct keysrc_result *old = ks->results[i];
        if (old->source_id != source_id) {
            ks->results[kept++] = old;
            continue;
        }
        ks->rows -= old->nrows;
        ks->bytes -= old->bytes;
        ks->retired[ks->nretired++ % KEYSRC_RETIRED] = old->seq;
        result_free(old);
    }
    ks->count = kept;
}

bool
keysrc_alive(const struct keysrc *ks, uint64_t seq)
{
    unsigned n = ks->nretired < KEYSRC_RETIRED ? ks->nretired : KEYSRC_RETIRED;
    for (unsigned i = 0; i < n; i++)
        if (ks->retired[i] == seq)
            return false;
    return seq != 0 && seq <= ks->next_seq;
}

/* Puts r in front of the results, evicting the oldest for room. A result taken back for its
 * next chunk (keysrc_resume) keeps its sequence number: its loop's answers are still its. */
static void
publish(struct keysrc *ks, struct keysrc_result *r, bool new_seq)
{
    if (new_seq) {
        r->seq = ++ks->next_seq;
        if (r->source_id)
            retire(ks, r->source_id);
    }
    r->resumed = false;
    while (ks->count > 0 &&
           ((size_t)ks->count >= ks->max_results || ks->rows + r->nrows > ks->max_rows ||
            ks->bytes + r->bytes > ks->max_bytes)) {
        struct keysrc_result *old = ks->results[--ks->count];
        ks->rows -= old->nrows;
        ks->bytes -= old->bytes;
        result_free(old);
    }
    memmove(&ks->results[1], &ks->results[0], (size_t)ks->count * sizeof(ks->results[0]));
    ks->results[0] = r;
    ks->count++;
    ks->rows += r->nrows;
    ks->bytes += r->bytes;
}

void
keysrc_end(struct keysrc *ks)
{
    if (ks->pending) {
        ks->pending = false; /* one row or none: no loop, nothing was allocated */
        return;
    }
    struct keysrc_result *r = ks->cur;
    ks->cur = NULL;
    if (!r)
        return;
    if (r->resumed && r->bytes <= ks->max_bytes) {
        publish(ks, r, false); /* the last chunk of a portal read in pieces */
        return;
    }
    if (r->nrows < 2 && !ks->spare && r->bytes < 4096) {
        ks->spare = r; /* one row is no loop: keep the storage for the next result */
        return;
    }
    if (r->nrows < 2 || r->bytes > ks->max_bytes) {
        result_free(r); /* the last row may also have passed the bound */
        return;
    }
    publish(ks, r, true);
}

/* A result still waiting for its second row, made a result now (a chunk of one row). */
static void
materialize_pending(struct keysrc *ks)
{
    if (!ks->pending)
        return;
    ks->pending = false;
    materialize(ks, buf_head(&ks->pend_desc), buf_used(&ks->pend_desc), ks->pend_shape,
                ks->pend_table, ks->pend_sql);
    if (!ks->cur)
        return;
    ks->cur->source_id = ks->pend_id;
    if (ks->pend_rows)
        record_row(ks, buf_head(&ks->pend_row), buf_used(&ks->pend_row));
}

void
keysrc_suspend(struct keysrc *ks, uint64_t portal)
{
    ks->susp_seq = 0;
    if (!portal) {
        keysrc_end(ks);
        return;
    }
    materialize_pending(ks);
    struct keysrc_result *r = ks->cur;
    ks->cur = NULL;
    if (!r)
        return;
    if (r->nrows == 0 || r->bytes > ks->max_bytes) {
        result_free(r);
        return;
    }
    publish(ks, r, !r->resumed);
    ks->susp_seq = r->seq;
    ks->susp_portal = portal;
}

bool
keysrc_resume(struct keysrc *ks, uint64_t portal)
{
    if (!portal || portal != ks->susp_portal || !ks->susp_seq)
        return false;
    uint64_t seq = ks->susp_seq;
    ks->susp_seq = 0;
    for (int i = 0; i < ks->count; i++) {
        struct keysrc_result *r = ks->results[i];
        if (r->seq != seq)
            continue;
        memmove(&ks->results[i], &ks->results[i + 1],
                (size_t)(ks->count - i - 1) * sizeof(ks->results[0]));
        ks->count--;
        ks->rows -= r->nrows;
        ks->bytes -= r->bytes;
        keysrc_abort(ks);
        ks->cur = r;
        r->resumed = true;
        return true;
    }
    return false; /* evicted meanwhile */
}

bool
keysrc_value(const struct keysrc_col *col, uint32_t i, const char **val, size_t *len)
{
    if (col->off[i] == ABSENT)
        return false;
    /* A column whose values are all empty strings never allocated its arena: no pointer
     * arithmetic on NULL, and no NULL for memcmp/memcpy even with a length of 0 (both are
     * undefined behaviour; UBSan stopped pgfold on a key '' found by the differential test). */
    const uint8_t *base = buf_head(&col->arena);
    *val = base ? (const char *)base + col->off[i] : "";
    *len = col->len[i];
    return true;
}

/* The first row of col holding key, or -1. */
static int64_t
first_row(const struct keysrc_col *col, uint32_t nrows, const char *key, size_t keylen)
{
    for (uint32_t i = 0; i < nrows; i++) {
        const char *v;
        size_t vl;
        if (keysrc_value(col, i, &v, &vl) && vl == keylen && !memcmp(v, key, keylen))
            return i;
    }
    return -1;
}

int
keysrc_find(struct keysrc *ks, enum keyval_class cls, const char *key, size_t keylen,
            struct keysrc_hit *hits, int max)
{
    int n = 0;
    for (int r = 0; r < ks->count && n < max; r++) {
        struct keysrc_result *res = ks->results[r];
        for (int c = 0; c < res->ncols && n < max; c++) {
            struct keysrc_col *col = &res->cols[c];
            int64_t row = col->cls == cls ? first_row(col, res->nrows, key, keylen) : -1;
            if (row >= 0)
                hits[n++] = (struct keysrc_hit){res, col, (uint32_t)row};
        }
    }
    return n;
}

static uint64_t
hash_key(const char *p, size_t n)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (uint8_t)p[i]) * 1099511628211ULL;
    return h | 1; /* 0 marks an empty slot */
}

/* Adds a key to the dedup set; returns false if it was there already. */
static bool
set_add(uint64_t *set, uint32_t *idx, size_t cap, const char **keys, const size_t *lens,
        const char *k, size_t kl, uint32_t slot_value)
{
    uint64_t h = hash_key(k, kl);
    for (size_t i = h & (cap - 1);; i = (i + 1) & (cap - 1)) {
        if (set[i] == 0) {
            set[i] = h;
            idx[i] = slot_value;
            return true;
        }
        if (set[i] == h && lens[idx[i]] == kl && !memcmp(keys[idx[i]], k, kl))
            return false;
    }
}

int
keysrc_collect(const struct keysrc_col *col, uint32_t nrows, const char *cur, size_t curlen,
               keysrc_cached_cb cached, void *ctx, size_t max, const char **keys, size_t *lens)
{
    return keysrc_collect_from(col, 0, nrows, cur, curlen, cached, ctx, max, keys, lens);
}

int
keysrc_collect_from(const struct keysrc_col *col, uint32_t start, uint32_t nrows,
                    const char *cur, size_t curlen, keysrc_cached_cb cached, void *ctx,
                    size_t max, const char **keys, size_t *lens)
{
    if (max == 0)
        return 0;
    size_t cap = 16;
    while (cap < max * 2)
        cap *= 2;
    uint64_t *set = calloc(cap, sizeof(*set));
    uint32_t *idx = calloc(cap, sizeof(*idx));
    if (!set || !idx) {
        free(set);
        free(idx);
        return -ENOMEM;
    }
    size_t n = 0;
    keys[0] = cur;
    lens[0] = curlen;
    set_add(set, idx, cap, keys, lens, cur, curlen, 0);
    n = 1;
    for (uint32_t i = start; i < nrows && n < max; i++) {
        const char *v;
        size_t vl;
        if (!keysrc_value(col, i, &v, &vl))
            continue;
        if (cached && cached(ctx, v, vl))
            continue;
        keys[n] = v;
        lens[n] = vl;
        if (set_add(set, idx, cap, keys, lens, v, vl, (uint32_t)n))
            n++;
    }
    free(set);
    free(idx);
    return (int)n;
}
