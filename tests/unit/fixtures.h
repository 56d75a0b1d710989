/*
 * fixtures: builders for PostgreSQL protocol messages, shared by the unit tests.
 *
 * Each fe_* (frontend), be_* (backend) or st_* (startup phase) helper appends one whole message
 * to a struct buf with buf_msg_begin, the buf_put family and buf_msg_end, so a test writes the
 * conversation it means ("Parse, Bind, Execute, Sync") instead of hand-counted length fields.
 * Bodies follow the layouts in the PostgreSQL "Message Formats" chapter. The tests of the codec
 * itself (test_wire.c) check against byte literals instead, so their oracle is independent of
 * buf_msg_begin/buf_msg_end (fx_raw below writes its length field by hand for the same reason).
 */
#ifndef PGFOLD_TESTS_FIXTURES_H
#define PGFOLD_TESTS_FIXTURES_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "pgwire/buf.h"
#include "pgwire/wire.h"

/* A string literal with embedded NULs, as pointer and length (the literal's own NUL dropped). */
#define BYTES(s) (const uint8_t *)(s), (sizeof(s) - 1)

/* Generous frame limit for tests that are not about limits. */
#define FX_MAX_MSG ((size_t)1 << 30)

/* Any typed message from a type byte (0 included) and a raw body. */
static inline void
fx_raw(struct buf *b, uint8_t type, const void *body, size_t len)
{
    buf_put_u8(b, type);
    buf_put_i32(b, (int32_t)(len + 4));
    buf_put(b, body, len);
}

/* ---- startup phase ---------------------------------------------------------------------- */

/* A startup packet: code, then the raw tail (parameters and terminator, exactly as given). */
static inline void
st_packet(struct buf *b, uint32_t code, const void *tail, size_t len)
{
    buf_msg_begin(b, 0);
    buf_put_i32(b, (int32_t)code);
    buf_put(b, tail, len);
    buf_msg_end(b);
}

/* A v3 StartupMessage from a NULL-terminated list of key, value, key, value, ... */
static inline void
st_startup(struct buf *b, const char *const *kv)
{
    buf_msg_begin(b, 0);
    buf_put_i32(b, WIRE_PROTO_3);
    for (; kv[0]; kv += 2) {
        buf_put_str(b, kv[0]);
        buf_put_str(b, kv[1]);
    }
    buf_put_u8(b, 0);
    buf_msg_end(b);
}

static inline void
st_cancel(struct buf *b, int32_t pid, int32_t key)
{
    buf_msg_begin(b, 0);
    buf_put_i32(b, WIRE_CANCEL_CODE);
    buf_put_i32(b, pid);
    buf_put_i32(b, key);
    buf_msg_end(b);
}

/* ---- frontend ----------------------------------------------------------------------------- */

static inline void
fe_query(struct buf *b, const char *sql)
{
    buf_msg_begin(b, FE_QUERY);
    buf_put_str(b, sql);
    buf_msg_end(b);
}

static inline void
fe_parse(struct buf *b, const char *name, const char *sql, int16_t n, const uint32_t *oids)
{
    buf_msg_begin(b, FE_PARSE);
    buf_put_str(b, name);
    buf_put_str(b, sql);
    buf_put_i16(b, n);
    for (int i = 0; i < n; i++)
        buf_put_i32(b, (int32_t)oids[i]);
    buf_msg_end(b);
}

/* Bind with one text parameter "7" (or none when stmt takes none: pass nparams 0). */
static inline void
fe_bind(struct buf *b, const char *portal, const char *stmt, int16_t nparams)
{
    buf_msg_begin(b, FE_BIND);
    buf_put_str(b, portal);
    buf_put_str(b, stmt);
    buf_put_i16(b, 0); /* parameter format codes: all text */
    buf_put_i16(b, nparams);
    for (int i = 0; i < nparams; i++) {
        buf_put_i32(b, 1);
        buf_put_u8(b, '7');
    }
    buf_put_i16(b, 0); /* result format codes: all text */
    buf_msg_end(b);
}

static inline void
fe_target(struct buf *b, uint8_t type, uint8_t what, const char *name)
{
    buf_msg_begin(b, type);
    buf_put_u8(b, what);
    buf_put_str(b, name);
    buf_msg_end(b);
}

static inline void
fe_describe(struct buf *b, uint8_t what, const char *name)
{
    fe_target(b, FE_DESCRIBE, what, name);
}

static inline void
fe_close(struct buf *b, uint8_t what, const char *name)
{
    fe_target(b, FE_CLOSE, what, name);
}

static inline void
fe_execute(struct buf *b, const char *portal, int32_t max_rows)
{
    buf_msg_begin(b, FE_EXECUTE);
    buf_put_str(b, portal);
    buf_put_i32(b, max_rows);
    buf_msg_end(b);
}

/* A message with an empty body: Sync, Flush, Terminate, CopyDone, and most completions. */
static inline void
fx_empty(struct buf *b, uint8_t type)
{
    buf_msg_begin(b, type);
    buf_msg_end(b);
}

static inline void
fe_sync(struct buf *b)
{
    fx_empty(b, FE_SYNC);
}

static inline void
fe_flush(struct buf *b)
{
    fx_empty(b, FE_FLUSH);
}

static inline void
fe_terminate(struct buf *b)
{
    fx_empty(b, FE_TERMINATE);
}

static inline void
fx_copy_data(struct buf *b, const char *data)
{
    fx_raw(b, FE_COPY_DATA, data, strlen(data));
}

static inline void
fx_copy_done(struct buf *b)
{
    fx_empty(b, FE_COPY_DONE);
}

static inline void
fe_copy_fail(struct buf *b, const char *why)
{
    buf_msg_begin(b, FE_COPY_FAIL);
    buf_put_str(b, why);
    buf_msg_end(b);
}

/* FunctionCall of oid with no arguments, text result. */
static inline void
fe_function_call(struct buf *b, int32_t oid)
{
    buf_msg_begin(b, FE_FUNCTION_CALL);
    buf_put_i32(b, oid);
    buf_put_i16(b, 0);
    buf_put_i16(b, 0);
    buf_put_i16(b, 0);
    buf_msg_end(b);
}

static inline void
fe_password(struct buf *b, const char *pw)
{
    buf_msg_begin(b, FE_PASSWORD);
    buf_put_str(b, pw);
    buf_msg_end(b);
}

/* SASLInitialResponse: mechanism, then the client-first-message with its length. */
static inline void
fe_sasl_initial(struct buf *b, const char *mech, const char *data)
{
    buf_msg_begin(b, FE_PASSWORD);
    buf_put_str(b, mech);
    buf_put_i32(b, (int32_t)strlen(data));
    buf_put(b, data, strlen(data));
    buf_msg_end(b);
}

/* SASLResponse: raw data. */
static inline void
fe_sasl_response(struct buf *b, const char *data)
{
    fx_raw(b, FE_PASSWORD, data, strlen(data));
}

/* ---- backend ------------------------------------------------------------------------------ */

/* Authentication request: code, then optional extra bytes (salt, SASL data). */
static inline void
be_auth(struct buf *b, int32_t code, const void *extra, size_t len)
{
    buf_msg_begin(b, BE_AUTH);
    buf_put_i32(b, code);
    buf_put(b, extra, len);
    buf_msg_end(b);
}

static inline void
be_param_status(struct buf *b, const char *k, const char *v)
{
    buf_msg_begin(b, BE_PARAM_STATUS);
    buf_put_str(b, k);
    buf_put_str(b, v);
    buf_msg_end(b);
}

static inline void
be_backend_key(struct buf *b, int32_t pid, int32_t key)
{
    buf_msg_begin(b, BE_BACKEND_KEY);
    buf_put_i32(b, pid);
    buf_put_i32(b, key);
    buf_msg_end(b);
}

static inline void
be_ready(struct buf *b, uint8_t status)
{
    buf_msg_begin(b, BE_READY);
    buf_put_u8(b, status);
    buf_msg_end(b);
}

static inline void
be_param_desc(struct buf *b, uint32_t oid)
{
    buf_msg_begin(b, BE_PARAM_DESCRIPTION);
    buf_put_i16(b, 1);
    buf_put_i32(b, (int32_t)oid);
    buf_msg_end(b);
}

/* RowDescription of one int4 text column. */
static inline void
be_row_desc(struct buf *b, const char *col)
{
    buf_msg_begin(b, BE_ROW_DESCRIPTION);
    buf_put_i16(b, 1);
    buf_put_str(b, col);
    buf_put_i32(b, 0);  /* table oid */
    buf_put_i16(b, 0);  /* column number */
    buf_put_i32(b, 23); /* int4 */
    buf_put_i16(b, 4);
    buf_put_i32(b, -1);
    buf_put_i16(b, 0);
    buf_msg_end(b);
}

static inline void
be_data_row(struct buf *b, const char *val)
{
    buf_msg_begin(b, BE_DATA_ROW);
    buf_put_i16(b, 1);
    buf_put_i32(b, (int32_t)strlen(val));
    buf_put(b, val, strlen(val));
    buf_msg_end(b);
}

static inline void
be_command_complete(struct buf *b, const char *tag)
{
    buf_msg_begin(b, BE_COMMAND_COMPLETE);
    buf_put_str(b, tag);
    buf_msg_end(b);
}

/* ErrorResponse or NoticeResponse, written field by field (independent of wire_put_error). */
static inline void
be_error_typed(struct buf *b, uint8_t type, const char *sev, const char *code, const char *msg)
{
    buf_msg_begin(b, type);
    buf_put_u8(b, 'S');
    buf_put_str(b, sev);
    buf_put_u8(b, 'V');
    buf_put_str(b, sev);
    buf_put_u8(b, 'C');
    buf_put_str(b, code);
    buf_put_u8(b, 'M');
    buf_put_str(b, msg);
    buf_put_u8(b, 0);
    buf_msg_end(b);
}

static inline void
be_error(struct buf *b, const char *code, const char *msg)
{
    be_error_typed(b, BE_ERROR, "ERROR", code, msg);
}

static inline void
be_notice(struct buf *b, const char *msg)
{
    be_error_typed(b, BE_NOTICE, "NOTICE", "00000", msg);
}

static inline void
be_notification(struct buf *b, int32_t pid, const char *channel, const char *payload)
{
    buf_msg_begin(b, BE_NOTIFICATION);
    buf_put_i32(b, pid);
    buf_put_str(b, channel);
    buf_put_str(b, payload);
    buf_msg_end(b);
}

/* CopyInResponse / CopyOutResponse / CopyBothResponse: text format, ncols text columns. */
static inline void
be_copy_response(struct buf *b, uint8_t type, int16_t ncols)
{
    buf_msg_begin(b, type);
    buf_put_u8(b, 0);
    buf_put_i16(b, ncols);
    for (int i = 0; i < ncols; i++)
        buf_put_i16(b, 0);
    buf_msg_end(b);
}

static inline void
be_function_result(struct buf *b, const char *val)
{
    buf_msg_begin(b, BE_FUNCTION_RESULT);
    buf_put_i32(b, (int32_t)strlen(val));
    buf_put(b, val, strlen(val));
    buf_msg_end(b);
}

/* ---- results with chosen columns (the batcher's tests) ---------------------------------- */

/* One RowDescription column, field for field as the server sends it. */
struct fx_col {
    const char *name;
    uint32_t table_oid;
    int16_t attnum;
    uint32_t type_oid;
    int16_t typlen;
    int32_t typmod;
    int16_t format;
};

/* A RowDescription of n columns. */
static inline void
be_row_desc_cols(struct buf *b, const struct fx_col *cols, int n)
{
    buf_msg_begin(b, BE_ROW_DESCRIPTION);
    buf_put_i16(b, (int16_t)n);
    for (int i = 0; i < n; i++) {
        buf_put_str(b, cols[i].name);
        buf_put_i32(b, (int32_t)cols[i].table_oid);
        buf_put_i16(b, cols[i].attnum);
        buf_put_i32(b, (int32_t)cols[i].type_oid);
        buf_put_i16(b, cols[i].typlen);
        buf_put_i32(b, cols[i].typmod);
        buf_put_i16(b, cols[i].format);
    }
    buf_msg_end(b);
}

/* One DataRow field: len bytes at val, or SQL NULL when val is NULL. */
struct fx_field {
    const void *val;
    int32_t len;
};

/* Field initialisers: a string literal (embedded NULs kept), and SQL NULL. */
/* clang-format off */
#define FX_F(s) {(s), (int32_t)(sizeof(s) - 1)}
#define FX_NULL {NULL, -1}
/* clang-format on */

/* A DataRow of n fields. */
static inline void
be_data_row_fields(struct buf *b, const struct fx_field *f, int n)
{
    buf_msg_begin(b, BE_DATA_ROW);
    buf_put_i16(b, (int16_t)n);
    for (int i = 0; i < n; i++) {
        buf_put_i32(b, f[i].val ? f[i].len : -1);
        if (f[i].val)
            buf_put(b, f[i].val, (size_t)f[i].len);
    }
    buf_msg_end(b);
}

/* The body of the one message at the head of b: what follows its type byte and length. */
static inline const uint8_t *
fx_body(const struct buf *b)
{
    return buf_head(b) + 5;
}

static inline size_t
fx_body_len(const struct buf *b)
{
    return buf_used(b) - 5;
}

#endif
