/*
 * fuzz_wire: the wire codec (proxy/wire.c, proxy/buf.c) and the message-body readers built on
 * it (batcher/rowmsg.c, msg_read_bind), plus the startup packet through session_on_startup.
 *
 * Input: one flags byte, then a byte stream as one side of a connection would send it.
 *   bit 0     1 = frontend stream (startup-phase packets first, typed messages after a
 *             StartupMessage is accepted), 0 = backend stream (typed messages only)
 *   bit 1     max_message_bytes 256 instead of 1 GiB (exercises -EMSGSIZE)
 *   bit 2     the configuration names a default database (startup packet rewriting)
 *   bits 3-7  chunk size of the second, incremental framing pass, 1 + value
 *
 * The stream is framed twice: once whole, and once in chunks through a carry buffer exactly as
 * conn.c's feed() does. Both must cut the same messages and end with the same error, and both
 * sessions must queue the same bytes. Every message is then decoded by type through the
 * bounds-checked cursor and the batcher's readers, with round-trip checks where a writer exists.
 */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "pgwire/rowmsg.h"
#include "config/config.h"
#include "pgwire/buf.h"
#include "pgwire/msg.h"
#include "proxy/session.h"
#include "pgwire/wire.h"
#include "tests/fuzz/fuzz_util.h"

#define MAX_MSGS 4096

struct cut {
    size_t off; /* in the stream */
    size_t len; /* wire_len */
    uint8_t type;
    bool startup; /* an untyped startup-phase packet */
};

struct pass {
    struct session s;
    bool typed;   /* past the startup phase */
    bool stopped; /* the session closed, or framing failed */
    int err;
    struct cut cuts[MAX_MSGS];
    size_t n;
};

/* ---- framing --------------------------------------------------------------------------------- */

/* Delivers one framed message to the pass's session, the way conn.c's deliver() would. */
static void
deliver(struct pass *ps, const struct wire_msg *m, bool frontend)
{
    if (!frontend || ps->typed)
        return; /* typed messages are decoded separately; the session target drives them */
    session_action a = session_on_startup(&ps->s, m);
    if (a == SESSION_CONNECT)
        ps->typed = true;
    else if (a == SESSION_CLOSE || a == SESSION_CANCEL)
        ps->stopped = true;
    /* anything else (an SSLRequest answered): the client goes on in the startup phase */
}

/* Frames what it can of p[0..n), which starts at stream offset base. Returns bytes consumed. */
static size_t
frame_some(struct pass *ps, const uint8_t *p, size_t n, size_t base, size_t max, bool frontend)
{
    size_t off = 0;
    while (off < n && !ps->stopped) {
        struct wire_msg m;
        bool startup = frontend && !ps->typed;
        int rc = startup ? wire_frame_startup(p + off, n - off, &m)
                         : wire_frame(p + off, n - off, max, &m);
        if (rc == -EAGAIN)
            break;
        if (rc < 0) {
            ps->err = rc;
            ps->stopped = true;
            break;
        }
        FUZZ_CHECK(m.raw == p + off && m.wire_len <= n - off, "frame outside the input");
        FUZZ_CHECK(m.body + m.body_len == m.raw + m.wire_len, "body does not end the message");
        FUZZ_CHECK(startup || m.wire_len == m.body_len + 5, "typed length");
        FUZZ_CHECK(!startup || (m.type == 0 && m.wire_len == m.body_len + 4), "startup length");
        if (ps->n < MAX_MSGS)
            ps->cuts[ps->n++] = (struct cut){
                .off = base + off, .len = m.wire_len, .type = m.type, .startup = startup};
        deliver(ps, &m, frontend);
        off += m.wire_len;
    }
    return off;
}

/* conn.c's feed(): frame straight from the chunk; carry only a trailing partial message. */
static void
frame_chunked(struct pass *ps, const uint8_t *data, size_t size, size_t chunk, size_t max,
              bool frontend)
{
    struct buf carry;
    buf_init(&carry);
    size_t pos = 0, carried_from = 0;
    while (pos < size && !ps->stopped) {
        size_t n = size - pos < chunk ? size - pos : chunk;
        if (buf_used(&carry) == 0) {
            size_t used = frame_some(ps, data + pos, n, pos, max, frontend);
            if (used < n && !ps->stopped) {
                buf_put(&carry, data + pos + used, n - used);
                carried_from = pos + used;
            }
        } else {
            buf_put(&carry, data + pos, n);
            FUZZ_CHECK(buf_error(&carry) == 0, "carry buffer failed");
            size_t used =
                frame_some(ps, buf_head(&carry), buf_used(&carry), carried_from, max, frontend);
            buf_consume(&carry, used);
            carried_from += used;
        }
        pos += n;
    }
    buf_free(&carry);
}

/* ---- decoding by type ------------------------------------------------------------------------ */

static void
check_inside(const uint8_t *body, size_t len, const void *p, size_t n)
{
    const uint8_t *q = p;
    FUZZ_CHECK(q >= body && q + n <= body + len, "pointer outside the body");
}

static void
decode_bind(const uint8_t *body, size_t len)
{
    struct msg_bind *b = malloc(sizeof(*b));
    FUZZ_CHECK(b != NULL, "malloc");
    if (msg_read_bind(body, len, b) == 0) {
        check_inside(body, len, b->portal, strlen(b->portal) + 1);
        check_inside(body, len, b->stmt, strlen(b->stmt) + 1);
        FUZZ_CHECK(b->nparams >= 0 && b->nparams <= MSG_MAX_PARAMS, "nparams %d", b->nparams);
        for (int i = 0; i < b->nparams; i++) {
            FUZZ_CHECK((b->val[i] == NULL) == (b->len[i] == -1), "NULL value with a length");
            if (b->val[i])
                check_inside(body, len, b->val[i], (size_t)b->len[i]);
        }
        FUZZ_CHECK(b->nres >= 0, "nres");
        check_inside(body, len, b->res, (size_t)b->nres * 2);
        FUZZ_CHECK(b->res + (size_t)b->nres * 2 == body + len, "Bind has trailing bytes");
    }
    free(b);
}

static void
decode_frontend(uint8_t type, const uint8_t *body, size_t len)
{
    struct wire_cursor c;
    wire_cursor_init(&c, body, len);
    switch (type) {
    case FE_QUERY:
        (void)wire_get_str(&c, NULL);
        break;
    case FE_PARSE: {
        (void)wire_get_str(&c, NULL);
        (void)wire_get_str(&c, NULL);
        int n = wire_get_i16(&c);
        for (int i = 0; i < n && !c.err; i++)
            (void)wire_get_i32(&c);
        break;
    }
    case FE_BIND:
        decode_bind(body, len);
        break;
    case FE_DESCRIBE:
    case FE_CLOSE:
        (void)wire_get_u8(&c);
        (void)wire_get_str(&c, NULL);
        break;
    case FE_EXECUTE:
        (void)wire_get_str(&c, NULL);
        (void)wire_get_i32(&c);
        break;
    case FE_FUNCTION_CALL: {
        (void)wire_get_i32(&c);
        int nf = wire_get_i16(&c);
        if (nf > 0)
            (void)wire_get_bytes(&c, (size_t)nf * 2);
        int na = wire_get_i16(&c);
        for (int i = 0; i < na && !c.err; i++) {
            int32_t l = wire_get_i32(&c);
            if (l > 0)
                (void)wire_get_bytes(&c, (size_t)l);
        }
        (void)wire_get_i16(&c);
        break;
    }
    case FE_COPY_FAIL:
        (void)wire_get_str(&c, NULL);
        break;
    default:
        (void)wire_get_bytes(&c, len);
        break;
    }
    FUZZ_CHECK(c.left <= len && c.p == body + (len - c.left), "cursor out of step");
    FUZZ_CHECK(c.err == 0 || c.err == -EPROTO, "cursor error %d", c.err);
}

static void
decode_row_desc(const uint8_t *body, size_t len, struct buf *prev)
{
    struct rowmsg_col cols[8];
    int n = rowmsg_desc(body, len, cols, 8);
    if (n < 0)
        return;
    for (int i = 0; i < n && i < 8; i++)
        check_inside(body, len, cols[i].name, strlen(cols[i].name) + 1);
    FUZZ_CHECK(rowmsg_desc_same_shape(body, len, body, len), "a description differs from itself");
    if (buf_used(prev))
        (void)rowmsg_desc_same_shape(body, len, buf_head(prev), buf_used(prev));
    buf_reset(prev);
    buf_put(prev, body, len);

    struct buf out;
    buf_init(&out);
    int rc = rowmsg_desc_drop_first(body, len, &out);
    if (n == 0) {
        FUZZ_CHECK(rc < 0, "dropped a column of an empty description");
    } else {
        FUZZ_CHECK(rc == 0 && buf_error(&out) == 0, "drop_first failed on a valid description");
        struct wire_msg m;
        FUZZ_CHECK(wire_frame(buf_head(&out), buf_used(&out), SIZE_MAX, &m) == 0 &&
                       m.wire_len == buf_used(&out) && m.type == BE_ROW_DESCRIPTION,
                   "drop_first wrote a bad message");
        FUZZ_CHECK(rowmsg_desc(m.body, m.body_len, cols, 8) == n - 1, "drop_first count");
    }
    buf_free(&out);
}

static void
decode_data_row(const uint8_t *body, size_t len)
{
    int n = rowmsg_nfields(body, len);
    size_t pos = 0;
    int i = 0;
    for (; i < n; i++) {
        struct rowmsg_field f;
        if (rowmsg_next(body, len, &pos, &f) != 0)
            break;
        FUZZ_CHECK(f.len >= -1 && (f.val == NULL) == (f.len == -1), "field");
        if (f.val)
            check_inside(body, len, f.val, (size_t)f.len);
        FUZZ_CHECK(pos <= len, "position past the row");
    }
    for (int16_t fmt = 0; fmt <= 1; fmt++) {
        struct buf out;
        buf_init(&out);
        int64_t ord;
        int rc = rowmsg_row_drop_first(body, len, fmt, &ord, &out);
        if (rc == 0) {
            FUZZ_CHECK(n >= 1, "dropped a field of an empty row");
            struct wire_msg m;
            FUZZ_CHECK(wire_frame(buf_head(&out), buf_used(&out), SIZE_MAX, &m) == 0 &&
                           m.wire_len == buf_used(&out) && m.type == BE_DATA_ROW,
                       "row_drop_first wrote a bad message");
            FUZZ_CHECK(rowmsg_nfields(m.body, m.body_len) == n - 1, "row_drop_first count");
        }
        buf_free(&out);
    }
}

static void
decode_error(const uint8_t *body, size_t len)
{
    static const uint8_t fields[] = "SVCMDHPpqWstcdnFLR";
    for (const uint8_t *f = fields; *f; f++) {
        const char *v = wire_error_field(body, len, *f);
        if (v)
            check_inside(body, len, v, strlen(v) + 1);
    }
}

static void
decode_backend(uint8_t type, const uint8_t *body, size_t len, struct buf *prev_desc)
{
    struct wire_cursor c;
    wire_cursor_init(&c, body, len);
    switch (type) {
    case BE_ROW_DESCRIPTION:
        decode_row_desc(body, len, prev_desc);
        break;
    case BE_DATA_ROW:
        decode_data_row(body, len);
        break;
    case BE_ERROR:
    case BE_NOTICE:
        decode_error(body, len);
        break;
    case BE_PARAM_STATUS:
        (void)wire_get_str(&c, NULL);
        (void)wire_get_str(&c, NULL);
        break;
    case BE_NOTIFICATION:
        (void)wire_get_i32(&c);
        (void)wire_get_str(&c, NULL);
        (void)wire_get_str(&c, NULL);
        break;
    case BE_PARAM_DESCRIPTION: {
        int n = wire_get_i16(&c);
        for (int i = 0; i < n && !c.err; i++)
            (void)wire_get_i32(&c);
        break;
    }
    case BE_COPY_IN:
    case BE_COPY_OUT:
    case BE_COPY_BOTH: {
        (void)wire_get_u8(&c);
        int n = wire_get_i16(&c);
        for (int i = 0; i < n && !c.err; i++)
            (void)wire_get_i16(&c);
        break;
    }
    case BE_NEGOTIATE_VERSION: {
        (void)wire_get_i32(&c);
        int32_t n = wire_get_i32(&c);
        for (int32_t i = 0; i < n && !c.err; i++)
            (void)wire_get_str(&c, NULL);
        break;
    }
    default:
        (void)wire_get_i32(&c);
        (void)wire_get_bytes(&c, c.left);
        break;
    }
    FUZZ_CHECK(c.left <= len && c.p == body + (len - c.left), "cursor out of step");
}

/* ---- writers --------------------------------------------------------------------------------- */

/* wire_put_error of strings taken from the input reads back field by field. */
static void
error_round_trip(const uint8_t *data, size_t size)
{
    char sev[8], code[6], msg[64];
    size_t n = size < sizeof(msg) - 1 ? size : sizeof(msg) - 1;
    memcpy(msg, data, n);
    msg[n] = '\0';
    snprintf(sev, sizeof(sev), "%s", size > 3 && (data[3] & 1) ? "FATAL" : "ERROR");
    snprintf(code, sizeof(code), "%.5s", msg);
    struct buf b;
    buf_init(&b);
    wire_put_error(&b, sev, code, msg);
    wire_put_ready(&b, size > 0 ? data[0] : 'I');
    struct wire_msg m;
    FUZZ_CHECK(wire_frame(buf_head(&b), buf_used(&b), SIZE_MAX, &m) == 0, "error frame");
    const char *v = wire_error_field(m.body, m.body_len, 'S');
    FUZZ_CHECK(v && strcmp(v, sev) == 0, "S field");
    v = wire_error_field(m.body, m.body_len, 'C');
    FUZZ_CHECK(v && strcmp(v, code) == 0, "C field");
    v = wire_error_field(m.body, m.body_len, 'M');
    FUZZ_CHECK(v && strcmp(v, msg) == 0, "M field");
    struct wire_msg z;
    FUZZ_CHECK(wire_frame(m.raw + m.wire_len, buf_used(&b) - m.wire_len, 6, &z) == 0 &&
                   z.type == BE_READY && z.body_len == 1 && z.wire_len == 6,
               "ReadyForQuery frame");
    buf_free(&b);
}

/* What session_on_startup queued for the server is one well-formed startup packet. */
static void
check_startup_out(const struct session *s, bool want_db)
{
    struct wire_msg m;
    const struct buf *b = &s->to_server;
    FUZZ_CHECK(buf_error(b) == 0, "to_server failed");
    FUZZ_CHECK(wire_frame_startup(buf_head(b), buf_used(b), &m) == 0 && m.wire_len == buf_used(b),
               "forwarded startup packet does not frame");
    struct wire_cursor c;
    wire_cursor_init(&c, m.body, m.body_len);
    FUZZ_CHECK((uint32_t)wire_get_i32(&c) >> 16 == 3, "protocol version");
    bool db = false;
    while (c.left > 1) {
        const char *k = wire_get_str(&c, NULL);
        (void)wire_get_str(&c, NULL);
        FUZZ_CHECK(c.err == 0, "forwarded startup parameters");
        db |= strcmp(k, "database") == 0;
    }
    FUZZ_CHECK(c.left == 1 && c.p[0] == 0, "forwarded startup terminator");
    FUZZ_CHECK(!want_db || db, "default database not added");
}

static bool
buf_same(const struct buf *x, const struct buf *y)
{
    return buf_used(x) == buf_used(y) &&
           (buf_used(x) == 0 || memcmp(buf_head(x), buf_head(y), buf_used(x)) == 0);
}

/* ---- entry ----------------------------------------------------------------------------------- */

static struct pass pass_a, pass_b;

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t flags = data[0];
    data++;
    size--;
    bool frontend = flags & 1;
    size_t max = flags & 2 ? 256 : (size_t)1 << 30;
    size_t chunk = 1 + (flags >> 3);

    struct config cfg;
    config_defaults(&cfg);
    if (flags & 4)
        snprintf(cfg.upstream_dbname, sizeof(cfg.upstream_dbname), "fuzzdb");

    struct pass *a = &pass_a, *b = &pass_b;
    memset(a, 0, sizeof(*a));
    memset(b, 0, sizeof(*b));
    session_init(&a->s, 1, &cfg);
    session_init(&b->s, 2, &cfg);

    (void)frame_some(a, data, size, 0, max, frontend);
    frame_chunked(b, data, size, chunk, max, frontend);

    FUZZ_CHECK(a->n == b->n, "whole and chunked framing cut %zu and %zu messages", a->n, b->n);
    for (size_t i = 0; i < a->n; i++)
        FUZZ_CHECK(a->cuts[i].off == b->cuts[i].off && a->cuts[i].len == b->cuts[i].len &&
                       a->cuts[i].type == b->cuts[i].type &&
                       a->cuts[i].startup == b->cuts[i].startup,
                   "message %zu differs between whole and chunked framing", i);
    FUZZ_CHECK(a->err == b->err, "framing errors differ: %d vs %d", a->err, b->err);
    FUZZ_CHECK(a->typed == b->typed, "startup phase differs");
    FUZZ_CHECK(buf_same(&a->s.to_server, &b->s.to_server),
               "the two sessions queued different bytes for the server");
    FUZZ_CHECK(buf_same(&a->s.to_client, &b->s.to_client),
               "the two sessions queued different bytes for the client");

    /* A startup naming admin_database is pgfold's console: nothing goes upstream. */
    if (frontend && a->typed && !a->s.admin) {
        bool named_db = a->s.database[0] != '\0';
        check_startup_out(&a->s, named_db || (flags & 4));
    }

    struct buf prev_desc;
    buf_init(&prev_desc);
    for (size_t i = 0; i < a->n; i++) {
        const struct cut *ct = &a->cuts[i];
        if (ct->startup)
            continue;
        const uint8_t *body = data + ct->off + 5;
        size_t len = ct->len - 5;
        if (frontend)
            decode_frontend(ct->type, body, len);
        else
            decode_backend(ct->type, body, len, &prev_desc);
    }
    buf_free(&prev_desc);
    error_round_trip(data, size);

    session_close(&a->s);
    session_close(&b->s);
    return 0;
}
