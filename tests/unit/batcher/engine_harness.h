/*
 * engine_harness: what the engine's tests share. One engine under test with a config, a
 * context, counters caught through its hooks, and helpers that play the server's side:
 * a source result streaming back, a lookup in either protocol, a batch's responses.
 *
 * The schema the helpers speak of is the seed's: polls_question(id int4, question_text text)
 * with table OID 1001, polls_choice(id int4, question_id int4, choice_text text) with 1002.
 */
#ifndef PGFOLD_TESTS_ENGINE_HARNESS_H
#define PGFOLD_TESTS_ENGINE_HARNESS_H

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

#include "batcher/engine.h"
#include "parser/shapecache.h"
#include "tests/unit/fixtures.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#define Q_OID 1001
#define C_OID 1002

static const struct fx_col question_cols[] = {
    {"id", Q_OID, 1, KEYVAL_OID_INT4, 4, -1, 0},
    {"question_text", Q_OID, 2, KEYVAL_OID_TEXT, -1, -1, 0},
};
static const struct fx_col choice_cols[] = {
    {"id", C_OID, 1, KEYVAL_OID_INT4, 4, -1, 0},
    {"question_id", C_OID, 2, KEYVAL_OID_INT4, 4, -1, 0},
    {"choice_text", C_OID, 3, KEYVAL_OID_TEXT, -1, -1, 0},
};

#define CHOICES_SQL "SELECT id, question_id, choice_text FROM polls_choice"
#define QUESTION_SQL(k) "SELECT id, question_text FROM polls_question WHERE id = " k

struct efx {
    struct config cfg;
    struct engine *e;
    struct shapecache *sc;
    struct shape_lits lits;
    struct engine_ctx cx;
    struct catalog cat;
    struct fresh fresh;
    uint64_t counts[ENGINE_C_COUNT];
    int discards[4];
    struct shape *held[8]; /* shapes the current lookups point at, released at teardown */
    int nheld;
    struct msg_bind bind;
    struct buf m;
    const void *user; /* the test's initial state (a table row) */
    uint64_t source_id; /* what efx_source's results are recorded as having run (0: unknown) */
    char pattern_col[64]; /* the source column of the latest pattern the engine reported */
    int patterns;          /* pattern reports */
};

static inline void
efx_count(void *ctx, enum engine_counter c, uint64_t n)
{
    struct efx *f = ctx;
    f->counts[c] += n;
}

static inline void
efx_discarded(void *ctx, enum engine_discard why, int nkeys, uint32_t key_oid, uint32_t inferred)
{
    (void)nkeys;
    (void)key_oid;
    (void)inferred;
    struct efx *f = ctx;
    f->discards[why]++;
}

static inline void *
efx_pattern_find(void *ctx, const struct engine_pattern *key, uint64_t wall_ms,
                 const struct engine_delta *d, bool *created)
{
    (void)wall_ms;
    (void)d;
    struct efx *f = ctx;
    snprintf(f->pattern_col, sizeof(f->pattern_col), "%s", key->source_column);
    f->patterns++;
    *created = false;
    return f;
}

/* (Re)creates the engine under f->cfg, keeping the context. */
static inline void
efx_restart(struct efx *f)
{
    const struct engine_hooks hooks = {.ctx = f,
                                       .count = efx_count,
                                       .discarded = efx_discarded,
                                       .pattern_find = efx_pattern_find};
    engine_free(f->e);
    f->e = engine_new(&f->cfg, &hooks);
    assert_non_null(f->e);
}

static inline int
efx_setup(void **state)
{
    struct efx *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    f->user = *state;
    config_defaults(&f->cfg);
    assert_int_equal(shapecache_new(100, &f->sc), 0);
    catalog_init(&f->cat, "test");
    f->cat.loaded = true; /* read, and empty: no foreign keys (names decide), no relations */
    fresh_init(&f->fresh);
    f->cx = (struct engine_ctx){.cfg = &f->cfg,
                                .now_ms = 1000000,
                                .wall_ms = 1,
                                .txn_status = 'I',
                                .idle = true,
                                .catalog = &f->cat,
                                .fresh = &f->fresh};
    buf_init(&f->m);
    efx_restart(f);
    *state = f;
    return 0;
}

static inline int
efx_teardown(void **state)
{
    struct efx *f = *state;
    engine_free(f->e);
    for (int i = 0; i < f->nheld; i++)
        shape_unref(f->held[i]);
    shapecache_free(f->sc);
    shape_lits_free(&f->lits);
    catalog_free(&f->cat);
    buf_free(&f->m);
    free(f);
    return 0; /* main() calls shape_thread_exit() once, after every test */
}

static inline struct shape *
efx_shape(struct efx *f, const char *sql, const uint32_t *oids, int n)
{
    struct shape *sh = NULL;
    assert_int_equal(shapecache_get(f->sc, sql, strlen(sql), oids, n, &sh, &f->lits), 0);
    assert_non_null(sh);
    if (f->nheld == (int)ARRAY_LEN(f->held)) {
        shape_unref(f->held[0]);
        memmove(f->held, f->held + 1, sizeof(f->held[0]) * (ARRAY_LEN(f->held) - 1));
        f->nheld--;
    }
    f->held[f->nheld++] = sh;
    return sh;
}

/* Hands one message in f->m to engine_stream, then empties f->m. */
static inline void
efx_stream_msg(struct efx *f, const struct engine_stream *st)
{
    struct wire_msg m;
    assert_int_equal(wire_frame(buf_head(&f->m), buf_used(&f->m), FX_MAX_MSG, &m), 0);
    engine_stream(f->e, &f->cx, st, &m);
    buf_reset(&f->m);
}

/* A source result streaming back to the client: a simple Query of sql with these rows. */
static inline void
efx_source(struct efx *f, const char *sql, const struct fx_col *cols, int ncols,
           const char *const *rows, int nrows)
{
    struct engine_stream st = {.kind = ENGINE_STREAM_QUERY,
                               .source = true,
                               .shape = efx_shape(f, sql, NULL, 0),
                               .source_id = f->source_id};
    be_row_desc_cols(&f->m, cols, ncols);
    efx_stream_msg(f, &st);
    for (int r = 0; r < nrows; r++) {
        struct fx_field fl[8];
        for (int c = 0; c < ncols; c++) {
            const char *v = rows[r * ncols + c];
            fl[c] = (struct fx_field){v, v ? (int32_t)strlen(v) : -1};
        }
        be_data_row_fields(&f->m, fl, ncols);
        efx_stream_msg(f, &st);
    }
    char tag[32];
    snprintf(tag, sizeof(tag), "SELECT %d", nrows);
    be_command_complete(&f->m, tag);
    efx_stream_msg(f, &st);
}

/* The seed's choices: question_id 1, 1, 2, 3, 3, 4, 5 (ids 1..7): five questions, enough for a
 * batch inside a transaction block (POLICY_BLOCK_MIN_KEYS). */
static inline void
efx_choices(struct efx *f)
{
    static const char *const rows[] = {"1", "1", "a", "2", "1", "b", "3", "2", "c", "4", "3",
                                       "d", "5", "3", "e", "6", "4", "f", "7", "5", "g"};
    efx_source(f, CHOICES_SQL, choice_cols, 3, rows, 7);
}

/* Fills lk for a simple-protocol lookup of sql. */
static inline void
efx_lookup_simple(struct efx *f, const char *sql, struct lookup *lk)
{
    memset(lk, 0, sizeof(*lk));
    lk->shape = efx_shape(f, sql, NULL, 0);
    lk->sql = sql;
    lk->sqllen = strlen(sql);
    lk->lits = &f->lits;
    lk->stmt_id = engine_stmt_id(sql, lk->sqllen, &f->lits);
}

/* Decides a simple-protocol lookup. */
static inline enum engine_verdict
efx_decide(struct efx *f, const char *sql, unsigned flags, const struct answer **a,
           struct engine_plan *plan)
{
    struct lookup lk;
    efx_lookup_simple(f, sql, &lk);
    return engine_decide(f->e, &f->cx, &lk, flags, a, plan);
}

/* The verdict alone: a plan it came with is freed. */
static inline int
efx_verdict(struct efx *f, const char *sql, unsigned flags)
{
    const struct answer *a = NULL;
    struct engine_plan plan;
    enum engine_verdict v = efx_decide(f, sql, flags, &a, &plan);
    if (v == ENGINE_BATCH)
        engine_plan_free(&plan);
    return v;
}

/* Hands one message in f->m to engine_batch_msg, then empties f->m. */
static inline void
efx_batch_msg(struct efx *f, enum engine_part part)
{
    struct wire_msg m;
    assert_int_equal(wire_frame(buf_head(&f->m), buf_used(&f->m), FX_MAX_MSG, &m), 0);
    engine_batch_msg(f->e, &f->cx, part, &m);
    buf_reset(&f->m);
}

/* The server's side of a batch over polls_question: the single statement's Describe, the
 * batch's RowDescription (ordinal first), and one row per (ordinal, id, text) triple. */
static inline void
efx_batch_rows(struct efx *f, const struct fx_col *single, int ncols, const char *const *rows,
               int nrows)
{
    be_row_desc_cols(&f->m, single, ncols);
    efx_batch_msg(f, ENGINE_PART_SINGLE);
    struct fx_col bcols[8] = {{"pgfold_ord", 0, 0, KEYVAL_OID_INT8, 8, -1, 0}};
    memcpy(bcols + 1, question_cols, sizeof(question_cols));
    be_row_desc_cols(&f->m, bcols, 3);
    efx_batch_msg(f, ENGINE_PART_BATCH);
    for (int r = 0; r < nrows; r++) {
        const char *const *v = rows + 3 * r;
        struct fx_field fl[3] = {{v[0], (int32_t)strlen(v[0])},
                                 {v[1], (int32_t)strlen(v[1])},
                                 {v[2], (int32_t)strlen(v[2])}};
        be_data_row_fields(&f->m, fl, 3);
        efx_batch_msg(f, ENGINE_PART_BATCH);
    }
}

/* Builds the DataRow message (id, text) a single lookup returns, into out. */
static inline void
efx_question_row(struct buf *out, const char *id, const char *text)
{
    struct fx_field fl[2] = {{id, (int32_t)strlen(id)}, {text, (int32_t)strlen(text)}};
    buf_reset(out);
    be_data_row_fields(out, fl, 2);
}

/* The seed's loop up to its first batch, answered for keys 1, 2, 3 (question texts q1..q3):
 * afterwards the cache holds all three. */
static inline void
efx_batched(struct efx *f)
{
    static const char *const rows[] = {"1", "1", "q1", "2", "2", "q2", "3", "3", "q3"};
    const struct answer *a = NULL;
    struct engine_plan plan;
    efx_choices(f);
    assert_int_equal(efx_decide(f, QUESTION_SQL("1"), 0, &a, &plan), ENGINE_BATCH);
    engine_plan_free(&plan);
    efx_batch_rows(f, question_cols, 2, rows, 3);
    assert_int_equal(engine_batch_finish(f->e, &f->cx), ENGINE_STORED);
}

/* A forwarded lookup of key 7 whose answer streams back, captured under its ticket: part of a
 * loop (7 is in a recent result) but decided while something else was in flight, so forwarded
 * and captured rather than batched. */
static inline void
efx_capture(struct efx *f, bool overtaken)
{
    static const struct fx_col cols[] = {{"ref", 0, 0, KEYVAL_OID_INT4, 4, -1, 0}};
    static const char *const rows[] = {"7", "8"};
    efx_source(f, "SELECT ref FROM refs", cols, 1, rows, 2);
    const struct answer *a = NULL;
    struct engine_plan plan;
    struct lookup lk;
    struct engine_ticket t;
    efx_lookup_simple(f, QUESTION_SQL("7"), &lk);
    f->cx.idle = false;
    assert_int_equal(engine_decide(f->e, &f->cx, &lk, 0, &a, &plan), ENGINE_FORWARD);
    assert_int_equal(engine_capture_key(f->e, &f->cx, &lk, &t), 0);
    f->cx.idle = true;
    if (overtaken)
        engine_invalidate(f->e); /* a write went out after the lookup */
    struct engine_stream st = {.kind = ENGINE_STREAM_QUERY, .capture = true, .ticket = t.data,
                               .ticket_len = t.len};
    be_row_desc_cols(&f->m, question_cols, 2);
    efx_stream_msg(f, &st);
    efx_question_row(&f->m, "7", "q7");
    efx_stream_msg(f, &st);
    be_command_complete(&f->m, "SELECT 1");
    efx_stream_msg(f, &st);
    free(t.data);
}

/* One row of CATALOG_SQL's second result set: kind, a, b, c (text). */
static inline void
efx_catalog_row(struct efx *f, const char *kind, const char *a, const char *b, const char *c)
{
    struct fx_field fl[4] = {{kind, (int32_t)strlen(kind)}, {a, (int32_t)strlen(a)},
                             {b, (int32_t)strlen(b)}, {c, (int32_t)strlen(c)}};
    be_data_row_fields(&f->m, fl, 4);
    assert_int_equal(catalog_add_datarow(&f->cat, fx_body(&f->m), fx_body_len(&f->m)), 0);
    buf_reset(&f->m);
}

#endif
