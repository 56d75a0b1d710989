/*
 * test_wire: the protocol codec (proxy/wire.c) and the byte buffer under it (proxy/buf.c).
 *
 * Framing is checked against byte literals taken from the PostgreSQL message formats, one table
 * row per message type in each direction: whole, cut at every byte, and streamed through a buf
 * in chunks of every size. Then the length field's edges (below 4, negative, above the limit,
 * exactly the limit), startup framing, the bounds-checked cursor and its sticky error, the
 * error-field reader and the messages pgfold writes itself. Last, struct buf's own contract.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pgwire/buf.h"
#include "pgwire/wire.h"
#include "tests/unit/fixtures.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

static uint32_t
be32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static void
put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* ---- framing: every message type, both directions --------------------------------------- */

struct frame_case {
    const char *name;
    uint8_t type;
    const uint8_t *body;
    size_t body_len;
};

/* Bodies as they appear on the wire (adjacent literals keep escapes from running together). */
static const struct frame_case frame_cases[] = {
    /* frontend */
    {"Bind", FE_BIND, BYTES("\0" "s1\0" "\0\1" "\0\0" "\0\1" "\0\0\0\1" "7" "\0\0")},
    {"Close", FE_CLOSE, BYTES("S" "s1\0")},
    {"CopyData (F)", FE_COPY_DATA, BYTES("1\t2\n")},
    {"CopyDone (F)", FE_COPY_DONE, BYTES("")},
    {"CopyFail", FE_COPY_FAIL, BYTES("aborted by user\0")},
    {"Describe", FE_DESCRIBE, BYTES("P" "\0")},
    {"Execute", FE_EXECUTE, BYTES("\0" "\0\0\0\0")},
    {"Flush", FE_FLUSH, BYTES("")},
    {"FunctionCall", FE_FUNCTION_CALL, BYTES("\0\0\x06\x3e" "\0\0" "\0\1" "\0\0\0\1" "x" "\0\0")},
    {"Parse", FE_PARSE, BYTES("s1\0" "SELECT $1\0" "\0\1" "\0\0\0\x17")},
    {"PasswordMessage", FE_PASSWORD, BYTES("md5" "0123456789abcdef0123456789abcdef\0")},
    {"SASLInitialResponse", FE_PASSWORD, BYTES("SCRAM-SHA-256\0" "\0\0\0\x08" "n,,n=,r=")},
    {"Query", FE_QUERY, BYTES("SELECT 1\0")},
    {"Sync", FE_SYNC, BYTES("")},
    {"Terminate", FE_TERMINATE, BYTES("")},
    /* backend */
    {"AuthenticationOk", BE_AUTH, BYTES("\0\0\0\0")},
    {"AuthenticationMD5Password", BE_AUTH, BYTES("\0\0\0\5" "salt")},
    {"AuthenticationSASL", BE_AUTH, BYTES("\0\0\0\x0a" "SCRAM-SHA-256\0" "\0")},
    {"BackendKeyData", BE_BACKEND_KEY, BYTES("\0\0\x30\x39" "\x12\x34\x56\x78")},
    {"BindComplete", BE_BIND_COMPLETE, BYTES("")},
    {"CloseComplete", BE_CLOSE_COMPLETE, BYTES("")},
    {"CommandComplete", BE_COMMAND_COMPLETE, BYTES("INSERT 0 1\0")},
    {"CopyBothResponse", BE_COPY_BOTH, BYTES("\0" "\0\0")},
    {"CopyData (B)", BE_COPY_DATA, BYTES("\x77" "\0\0\0\0")},
    {"CopyDone (B)", BE_COPY_DONE, BYTES("")},
    {"CopyInResponse", BE_COPY_IN, BYTES("\0" "\0\2" "\0\0" "\0\0")},
    {"CopyOutResponse", BE_COPY_OUT, BYTES("\1" "\0\1" "\0\1")},
    {"DataRow", BE_DATA_ROW, BYTES("\0\2" "\0\0\0\1" "1" "\xff\xff\xff\xff")},
    {"EmptyQueryResponse", BE_EMPTY_QUERY, BYTES("")},
    {"ErrorResponse", BE_ERROR, BYTES("SERROR\0" "VERROR\0" "C42601\0" "Msyntax error\0" "\0")},
    {"FunctionCallResponse", BE_FUNCTION_RESULT, BYTES("\0\0\0\1" "t")},
    {"NegotiateProtocolVersion", BE_NEGOTIATE_VERSION,
     BYTES("\0\0\0\0" "\0\0\0\1" "_pq_.x\0")},
    {"NoData", BE_NO_DATA, BYTES("")},
    {"NoticeResponse", BE_NOTICE, BYTES("SNOTICE\0" "C00000\0" "Mhello\0" "\0")},
    {"NotificationResponse", BE_NOTIFICATION, BYTES("\0\0\0\x2a" "chan\0" "payload\0")},
    {"ParameterDescription", BE_PARAM_DESCRIPTION, BYTES("\0\1" "\0\0\0\x17")},
    {"ParameterStatus", BE_PARAM_STATUS, BYTES("TimeZone\0" "UTC\0")},
    {"ParseComplete", BE_PARSE_COMPLETE, BYTES("")},
    {"PortalSuspended", BE_PORTAL_SUSPENDED, BYTES("")},
    {"ReadyForQuery", BE_READY, BYTES("T")},
    {"RowDescription", BE_ROW_DESCRIPTION,
     BYTES("\0\1" "a\0" "\0\0\0\0" "\0\0" "\0\0\0\x17" "\0\4" "\xff\xff\xff\xff" "\0\0")},
    /* unknown types still frame: rejecting them is the session's job, not the codec's */
    {"unknown type 'z'", 'z', BYTES("junk")},
    {"unknown type 0xff", 0xff, BYTES("")},
};

/* The frame a case must produce: type, big-endian length (body + 4), body. Caller frees. */
static uint8_t *
expected_frame(const struct frame_case *fc, size_t *n)
{
    *n = fc->body_len + 5;
    uint8_t *p = malloc(*n);
    assert_non_null(p);
    p[0] = fc->type;
    put_be32(p + 1, (uint32_t)(fc->body_len + 4));
    if (fc->body_len)
        memcpy(p + 5, fc->body, fc->body_len);
    return p;
}

static void
assert_msg_is(const struct wire_msg *m, const uint8_t *frame, const struct frame_case *fc)
{
    assert_ptr_equal(m->raw, frame);
    assert_int_equal(m->type, fc->type);
    assert_ptr_equal(m->body, frame + 5);
    assert_int_equal(m->body_len, fc->body_len);
    assert_int_equal(m->wire_len, fc->body_len + 5);
    if (fc->body_len)
        assert_memory_equal(m->body, fc->body, fc->body_len);
}

/* Building a message with buf_msg_begin/put/end produces exactly the expected frame. */
static void
test_frame_encode(void **state)
{
    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(frame_cases); i++) {
        const struct frame_case *fc = &frame_cases[i];
        size_t n;
        uint8_t *want = expected_frame(fc, &n);
        struct buf b;
        buf_init(&b);
        buf_msg_begin(&b, fc->type);
        buf_put(&b, fc->body, fc->body_len);
        buf_msg_end(&b);
        assert_int_equal(buf_error(&b), 0);
        assert_int_equal(buf_used(&b), n);
        assert_memory_equal(buf_head(&b), want, n);
        buf_free(&b);
        free(want);
    }
}

/* Whole frames decode; every proper prefix asks for more; trailing bytes are left alone. */
static void
test_frame_decode_every_prefix(void **state)
{
    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(frame_cases); i++) {
        const struct frame_case *fc = &frame_cases[i];
        size_t n;
        uint8_t *frame = expected_frame(fc, &n);
        struct wire_msg m;
        for (size_t k = 0; k < n; k++) {
            if (wire_frame(frame, k, FX_MAX_MSG, &m) != -EAGAIN)
                fail_msg("%s: prefix of %zu/%zu bytes did not return -EAGAIN", fc->name, k, n);
        }
        assert_int_equal(wire_frame(frame, n, FX_MAX_MSG, &m), 0);
        assert_msg_is(&m, frame, fc);

        /* The same frame followed by the start of another message. */
        uint8_t *two = malloc(n + 3);
        assert_non_null(two);
        memcpy(two, frame, n);
        memcpy(two + n, "Z\0\0", 3);
        assert_int_equal(wire_frame(two, n + 3, FX_MAX_MSG, &m), 0);
        assert_msg_is(&m, two, fc);
        free(two);
        free(frame);
    }
}

/*
 * All frames back to back, fed through a struct buf in chunks of every size from 1 to 19 and
 * then all at once, framed and consumed as a transport would: the same messages come out, in
 * order, whatever the split.
 */
static void
test_frame_stream_every_chunk_size(void **state)
{
    (void)state;
    struct buf stream;
    buf_init(&stream);
    for (size_t i = 0; i < ARRAY_LEN(frame_cases); i++)
        fx_raw(&stream, frame_cases[i].type, frame_cases[i].body, frame_cases[i].body_len);
    assert_int_equal(buf_error(&stream), 0);
    const size_t total = buf_used(&stream);

    for (size_t chunk = 1;; chunk++) {
        if (chunk > 19)
            chunk = total;
        struct buf in;
        buf_init(&in);
        size_t next = 0;
        for (size_t off = 0; off < total; off += chunk) {
            size_t n = total - off < chunk ? total - off : chunk;
            buf_put(&in, buf_head(&stream) + off, n);
            struct wire_msg m;
            int rc;
            while ((rc = wire_frame(buf_head(&in), buf_used(&in), FX_MAX_MSG, &m)) == 0) {
                assert_true(next < ARRAY_LEN(frame_cases));
                const struct frame_case *fc = &frame_cases[next++];
                assert_int_equal(m.type, fc->type);
                assert_int_equal(m.body_len, fc->body_len);
                if (fc->body_len)
                    assert_memory_equal(m.body, fc->body, fc->body_len);
                buf_consume(&in, m.wire_len);
            }
            assert_int_equal(rc, -EAGAIN);
        }
        assert_int_equal(next, ARRAY_LEN(frame_cases));
        assert_int_equal(buf_used(&in), 0);
        buf_free(&in);
        if (chunk == total)
            break;
    }
    buf_free(&stream);
}

/* ---- framing: the length field ---------------------------------------------------------- */

struct len_case {
    const char *name;
    uint32_t len;   /* the length field */
    size_t max;     /* the limit passed to wire_frame */
    size_t avail;   /* bytes present, header included (at most sizeof the test buffer) */
    int rc;
};

static const struct len_case len_cases[] = {
    {"length 0", 0, 1024, 5, -EPROTO},
    {"length 1", 1, 1024, 5, -EPROTO},
    {"length 2", 2, 1024, 5, -EPROTO},
    {"length 3", 3, 1024, 5, -EPROTO},
    {"length 3, more bytes present", 3, 1024, 64, -EPROTO},
    {"length 4 (empty body)", 4, 1024, 5, 0},
    {"negative: 0x80000000", 0x80000000u, 1024, 5, -EPROTO},
    {"negative: 0xffffffff", 0xffffffffu, 1024, 5, -EPROTO},
    {"negative even with no limit", 0x80000000u, SIZE_MAX, 5, -EPROTO},
    {"INT32_MAX with no limit: valid, incomplete", 0x7fffffffu, SIZE_MAX, 5, -EAGAIN},
    {"INT32_MAX over 1 GiB limit", 0x7fffffffu, (size_t)1 << 30, 5, -EMSGSIZE},
    {"1 GiB + 1 over 1 GiB limit", (1u << 30) + 1, (size_t)1 << 30, 5, -EMSGSIZE},
    {"exactly 1 GiB: accepted, incomplete", 1u << 30, (size_t)1 << 30, 5, -EAGAIN},
    {"max + 1, rejected before the body arrives", 33, 32, 5, -EMSGSIZE},
    {"exactly max, complete", 32, 32, 33, 0},
    {"exactly max, one byte short", 32, 32, 32, -EAGAIN},
    {"bad length but header incomplete", 0, 1024, 4, -EAGAIN},
    {"only the type byte", 0x80000000u, 1024, 1, -EAGAIN},
    {"nothing", 4, 1024, 0, -EAGAIN},
};

static void
test_frame_lengths(void **state)
{
    (void)state;
    int bad = 0;
    for (size_t i = 0; i < ARRAY_LEN(len_cases); i++) {
        const struct len_case *lc = &len_cases[i];
        uint8_t p[64] = {'Q'};
        put_be32(p + 1, lc->len);
        struct wire_msg m;
        int rc = wire_frame(p, lc->avail, lc->max, &m);
        if (rc != lc->rc) {
            print_error("%s: got %d, want %d\n", lc->name, rc, lc->rc);
            bad++;
        } else if (rc == 0) {
            assert_int_equal(m.body_len, lc->len - 4);
            assert_int_equal(m.wire_len, (size_t)lc->len + 1);
        }
    }
    assert_int_equal(bad, 0);
}

/* ---- startup framing -------------------------------------------------------------------- */

struct startup_len_case {
    const char *name;
    uint32_t len;
    size_t avail;
    int rc;
};

/*
 * PostgreSQL (ProcessStartupPacket) subtracts the length word itself and then requires
 * 4 <= len <= MAX_STARTUP_PACKET_LENGTH (10000): a whole packet is 8 to 10004 bytes.
 */
static const struct startup_len_case startup_len_cases[] = {
    {"length 0", 0, 8, -EPROTO},
    {"length 4 (no version)", 4, 8, -EPROTO},
    {"length 7", 7, 8, -EPROTO},
    {"length 8 (version only)", 8, 8, 0},
    {"length 8, one byte short", 8, 7, -EAGAIN},
    {"length 10000", 10000, 10000, 0},
    {"length 10001 (body of 9997)", 10001, 10001, 0},
    {"length 10004 (body of exactly 10000)", 10004, 10004, 0},
    {"length 10005 (body of 10001)", 10005, 10005, -EPROTO},
    {"length 10005 rejected before the body arrives", 10005, 4, -EPROTO},
    {"length 65536", 65536, 4, -EPROTO},
    {"negative", 0x80000000u, 4, -EPROTO},
    {"0xffffffff", 0xffffffffu, 4, -EPROTO},
    {"length field incomplete", 8, 3, -EAGAIN},
    {"nothing", 8, 0, -EAGAIN},
};

static void
test_frame_startup_lengths(void **state)
{
    (void)state;
    static uint8_t p[10008];
    int bad = 0;
    for (size_t i = 0; i < ARRAY_LEN(startup_len_cases); i++) {
        const struct startup_len_case *sc = &startup_len_cases[i];
        memset(p, 0, sizeof(p));
        put_be32(p, sc->len);
        put_be32(p + 4, WIRE_PROTO_3);
        struct wire_msg m;
        int rc = wire_frame_startup(p, sc->avail, &m);
        if (rc != sc->rc) {
            print_error("%s: got %d, want %d\n", sc->name, rc, sc->rc);
            bad++;
        } else if (rc == 0) {
            assert_ptr_equal(m.raw, p);
            assert_int_equal(m.type, 0);
            assert_ptr_equal(m.body, p + 4);
            assert_int_equal(m.body_len, sc->len - 4);
            assert_int_equal(m.wire_len, sc->len);
        }
    }
    assert_int_equal(bad, 0);
}

/* A real StartupMessage and an SSLRequest frame as untyped packets, one after the other. */
static void
test_frame_startup_packets(void **state)
{
    (void)state;
    static const uint8_t two[] = "\0\0\0\x08" "\x04\xd2\x16\x2f"               /* SSLRequest */
                                 "\0\0\0\x12" "\0\3\0\0" "user\0" "bob\0" "\0"; /* Startup */
    struct wire_msg m;
    assert_int_equal(wire_frame_startup(two, sizeof(two) - 1, &m), 0);
    assert_int_equal(m.wire_len, 8);
    assert_int_equal(be32(m.body), WIRE_SSL_CODE);
    assert_int_equal(wire_frame_startup(two + 8, sizeof(two) - 1 - 8, &m), 0);
    assert_int_equal(m.wire_len, 0x12);
    assert_int_equal(be32(m.body), WIRE_PROTO_3);
    assert_memory_equal(m.body + 4, "user\0bob\0", 10);
    for (size_t k = 0; k < 0x12; k++)
        assert_int_equal(wire_frame_startup(two + 8, k, &m), -EAGAIN);
}

/* ---- the read cursor -------------------------------------------------------------------- */

static void
test_cursor_reads_in_bounds(void **state)
{
    (void)state;
    static const uint8_t body[] = "\x01" "\xff\xfe" "\x80\0\0\0" "\x7f\xff\xff\xff" "ab\0" "\0"
                                  "xyz";
    struct wire_cursor c;
    wire_cursor_init(&c, body, sizeof(body) - 1);
    size_t len = 99;
    assert_int_equal(wire_get_u8(&c), 1);
    assert_int_equal(wire_get_i16(&c), -2);
    assert_int_equal(wire_get_i32(&c), INT32_MIN);
    assert_int_equal(wire_get_i32(&c), INT32_MAX);
    assert_string_equal(wire_get_str(&c, &len), "ab");
    assert_int_equal(len, 2);
    assert_string_equal(wire_get_str(&c, &len), "");
    assert_int_equal(len, 0);
    const uint8_t *p = wire_get_bytes(&c, 3);
    assert_non_null(p);
    assert_memory_equal(p, "xyz", 3);
    assert_non_null(wire_get_bytes(&c, 0)); /* zero bytes at the very end is still in bounds */
    assert_int_equal(c.left, 0);
    assert_int_equal(c.err, 0);
}

typedef enum { OP_U8, OP_I16, OP_I32, OP_STR, OP_BYTES } cursor_op;

struct cursor_case {
    const char *name;
    const uint8_t *body;
    size_t len;
    cursor_op op;
    size_t nbytes; /* OP_BYTES only */
};

/* One read that runs past the end: each must return zero, "" or NULL and set -EPROTO. */
static const struct cursor_case cursor_cases[] = {
    {"u8 on empty", BYTES(""), OP_U8, 0},
    {"i16 on 1 byte", BYTES("\x7f"), OP_I16, 0},
    {"i32 on 3 bytes", BYTES("\x7f\x7f\x7f"), OP_I32, 0},
    {"i32 on empty", BYTES(""), OP_I32, 0},
    {"unterminated string", BYTES("abc"), OP_STR, 0},
    {"string on empty", BYTES(""), OP_STR, 0},
    {"4 bytes of 3", BYTES("abc"), OP_BYTES, 4},
    {"SIZE_MAX bytes", BYTES("abc"), OP_BYTES, SIZE_MAX},
};

static void
test_cursor_past_end_is_sticky(void **state)
{
    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(cursor_cases); i++) {
        const struct cursor_case *cc = &cursor_cases[i];
        struct wire_cursor c;
        wire_cursor_init(&c, cc->body, cc->len);
        size_t slen = 99;
        switch (cc->op) {
        case OP_U8:
            assert_int_equal(wire_get_u8(&c), 0);
            break;
        case OP_I16:
            assert_int_equal(wire_get_i16(&c), 0);
            break;
        case OP_I32:
            assert_int_equal(wire_get_i32(&c), 0);
            break;
        case OP_STR:
            assert_string_equal(wire_get_str(&c, &slen), "");
            assert_int_equal(slen, 0);
            break;
        case OP_BYTES:
            assert_null(wire_get_bytes(&c, cc->nbytes));
            break;
        }
        if (c.err != -EPROTO)
            fail_msg("%s: err %d, want -EPROTO", cc->name, c.err);
        /* Nothing was consumed, and every later read fails too, even one that would fit. */
        assert_int_equal(c.left, cc->len);
        assert_int_equal(wire_get_u8(&c), 0);
        assert_null(wire_get_bytes(&c, 0));
        assert_string_equal(wire_get_str(&c, NULL), "");
        assert_int_equal(c.err, -EPROTO);
        assert_int_equal(c.left, cc->len);
    }
}

/* A string followed by a failed read: the string returned earlier stays valid. */
static void
test_cursor_error_after_good_reads(void **state)
{
    (void)state;
    static const uint8_t body[] = "name\0" "\0\1";
    struct wire_cursor c;
    wire_cursor_init(&c, body, sizeof(body) - 1);
    const char *s = wire_get_str(&c, NULL);
    assert_int_equal(wire_get_i32(&c), 0); /* only 2 bytes left */
    assert_int_equal(c.err, -EPROTO);
    assert_string_equal(s, "name");
    assert_int_equal(c.left, 2);
}

/* ---- ErrorResponse fields and the messages pgfold writes -------------------------------- */

struct field_case {
    const char *name;
    const uint8_t *body;
    size_t len;
    uint8_t field;
    const char *want; /* NULL: absent */
};

#define ERR_BODY "SERROR\0" "VERROR\0" "C23505\0" "Mduplicate key\0" "Dkey (id)=(1)\0" "\0"

static const struct field_case field_cases[] = {
    {"severity", BYTES(ERR_BODY), 'S', "ERROR"},
    {"sqlstate", BYTES(ERR_BODY), 'C', "23505"},
    {"message", BYTES(ERR_BODY), 'M', "duplicate key"},
    {"last field", BYTES(ERR_BODY), 'D', "key (id)=(1)"},
    {"absent field", BYTES(ERR_BODY), 'H', NULL},
    {"empty value", BYTES("C\0" "\0"), 'C', ""},
    {"empty body", BYTES(""), 'C', NULL},
    {"terminator only", BYTES("\0"), 'C', NULL},
    {"field after the terminator is not read", BYTES("SERROR\0" "\0" "C12345\0"), 'C', NULL},
    {"bytes after the terminator are not fields", BYTES("SERROR\0" "\0" "\0" "C12345\0"), 'C',
     NULL},
    {"unterminated value", BYTES("SERROR\0" "C4260"), 'C', NULL},
    {"missing final terminator still finds fields", BYTES("SERROR\0" "C42601\0"), 'C', "42601"},
    {"field code without value", BYTES("C"), 'C', NULL},
};

static void
test_error_field(void **state)
{
    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(field_cases); i++) {
        const struct field_case *fc = &field_cases[i];
        const char *got = wire_error_field(fc->body, fc->len, fc->field);
        if (fc->want == NULL && got != NULL)
            fail_msg("%s: got \"%s\", want absent", fc->name, got);
        if (fc->want != NULL && (got == NULL || strcmp(got, fc->want) != 0))
            fail_msg("%s: got %s%s%s, want \"%s\"", fc->name, got ? "\"" : "",
                     got ? got : "NULL", got ? "\"" : "", fc->want);
    }
}

/* wire_put_error writes one ErrorResponse that frames and reads back field for field. */
static void
test_put_error_round_trip(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b);
    buf_put(&b, "junk", 4); /* something before it, consumed, so offsets are not all zero */
    buf_consume(&b, 4);
    wire_put_error(&b, "FATAL", "08P01", "invalid frontend message type 122");
    assert_int_equal(buf_error(&b), 0);

    struct wire_msg m;
    assert_int_equal(wire_frame(buf_head(&b), buf_used(&b), FX_MAX_MSG, &m), 0);
    assert_int_equal(m.wire_len, buf_used(&b));
    assert_int_equal(m.type, BE_ERROR);
    static const char want[] = "SFATAL\0" "VFATAL\0" "C08P01\0"
                               "Minvalid frontend message type 122\0" "\0";
    assert_int_equal(m.body_len, sizeof(want) - 1);
    assert_memory_equal(m.body, want, sizeof(want) - 1);
    assert_string_equal(wire_error_field(m.body, m.body_len, 'S'), "FATAL");
    assert_string_equal(wire_error_field(m.body, m.body_len, 'V'), "FATAL");
    assert_string_equal(wire_error_field(m.body, m.body_len, 'C'), "08P01");
    assert_string_equal(wire_error_field(m.body, m.body_len, 'M'),
                        "invalid frontend message type 122");
    buf_free(&b);
}

static void
test_put_ready(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b);
    wire_put_ready(&b, 'I');
    wire_put_ready(&b, 'E');
    assert_int_equal(buf_used(&b), 12);
    assert_memory_equal(buf_head(&b), "Z\0\0\0\5I" "Z\0\0\0\5E", 12);
    buf_free(&b);
}

/* ---- struct buf --------------------------------------------------------------------------- */

static void
test_buf_msg_length_patching(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b);
    buf_msg_begin(&b, 'Q');
    buf_put_str(&b, "SELECT 1");
    buf_msg_end(&b);
    buf_msg_begin(&b, 0); /* untyped, as a startup packet */
    buf_put_i32(&b, WIRE_PROTO_3);
    buf_put_u8(&b, 0);
    buf_msg_end(&b);
    buf_msg_begin(&b, 'S');
    buf_msg_end(&b);
    buf_msg_end(&b); /* no message open: no-op */
    static const uint8_t want[] = "Q\0\0\0\x0d" "SELECT 1\0"
                                  "\0\0\0\x09" "\0\3\0\0" "\0"
                                  "S\0\0\0\4";
    assert_int_equal(buf_error(&b), 0);
    assert_int_equal(buf_used(&b), sizeof(want) - 1);
    assert_memory_equal(buf_head(&b), want, sizeof(want) - 1);
    assert_int_equal(b.msg_at, SIZE_MAX);
    buf_free(&b);
}

static void
test_buf_put_integers(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b);
    buf_put_u8(&b, 0xab);
    buf_put_i16(&b, -2);
    buf_put_i16(&b, 0x1234);
    buf_put_i32(&b, -1);
    buf_put_i32(&b, INT32_MIN);
    buf_put_i32(&b, 0x01020304);
    buf_put_str(&b, "");
    buf_put(&b, "ignored", 0);
    static const uint8_t want[] = "\xab" "\xff\xfe" "\x12\x34" "\xff\xff\xff\xff" "\x80\0\0\0"
                                  "\x01\x02\x03\x04" "\0";
    assert_int_equal(buf_used(&b), sizeof(want) - 1);
    assert_memory_equal(buf_head(&b), want, sizeof(want) - 1);
    buf_free(&b);
}

/* A failure is sticky: later writes do nothing, the error stays until buf_reset. */
static void
test_buf_sticky_error(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b);
    buf_put(&b, "ab", 2);
    b.err = -ENOMEM; /* as a failed realloc would leave it */
    buf_put(&b, "cd", 2);
    buf_put_u8(&b, 1);
    buf_put_i16(&b, 1);
    buf_put_i32(&b, 1);
    buf_put_str(&b, "x");
    buf_msg_begin(&b, 'Q');
    buf_put_str(&b, "SELECT 1");
    buf_msg_end(&b);
    wire_put_error(&b, "FATAL", "08P01", "x");
    assert_int_equal(buf_reserve(&b, 1), -ENOMEM);
    assert_int_equal(buf_error(&b), -ENOMEM);
    assert_int_equal(buf_used(&b), 2);
    assert_memory_equal(buf_head(&b), "ab", 2);

    buf_reset(&b);
    assert_int_equal(buf_error(&b), 0);
    assert_int_equal(buf_used(&b), 0);
    assert_int_equal(b.msg_at, SIZE_MAX);
    wire_put_ready(&b, 'I');
    assert_int_equal(buf_used(&b), 6);
    assert_memory_equal(buf_head(&b), "Z\0\0\0\5I", 6);
    buf_free(&b);
}

/* A message that grew past INT32_MAX cannot be framed: msg_end sets -EMSGSIZE. */
static void
test_buf_msg_too_large(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b);
    buf_msg_begin(&b, 'd');
    buf_put(&b, "x", 1);
    /* Simulate 2 GiB of body without allocating it: only len is consulted before the patch. */
    size_t real_len = b.len;
    b.len = b.msg_at + (size_t)INT32_MAX + 1;
    buf_msg_end(&b);
    assert_int_equal(buf_error(&b), -EMSGSIZE);
    b.len = real_len;
    assert_memory_equal(buf_head(&b), "d\0\0\0\0x", 6); /* length never patched */
    buf_put(&b, "y", 1);
    assert_int_equal(buf_used(&b), 6);
    buf_free(&b);
}

static void
test_buf_reserve_commit(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b);
    assert_int_equal(buf_reserve(&b, 4096), 0);
    assert_true(b.cap - b.len >= 4096);
    memcpy(b.data + b.len, "read", 4); /* as a socket read into the reserved space */
    buf_commit(&b, 4);
    assert_int_equal(buf_used(&b), 4);
    assert_memory_equal(buf_head(&b), "read", 4);
    buf_free(&b);
    assert_null(b.data);
    assert_int_equal(b.cap, 0);
    buf_put(&b, "again", 5); /* reusable after buf_free */
    assert_memory_equal(buf_head(&b), "again", 5);
    buf_free(&b);
}

/* Growth keeps every byte, across many doublings. */
static void
test_buf_growth(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b);
    for (int i = 0; i < 10000; i++)
        buf_put_i32(&b, i);
    assert_int_equal(buf_used(&b), 40000);
    for (int i = 0; i < 10000; i++)
        assert_int_equal((int32_t)be32(buf_head(&b) + 4 * i), i);
    buf_free(&b);
}

static void
test_buf_consume_and_compaction(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b);
    uint8_t block[300];
    for (size_t i = 0; i < sizeof(block); i++)
        block[i] = (uint8_t)i;
    buf_put(&b, block, sizeof(block)); /* cap 256 -> 512 */
    size_t cap = b.cap;
    assert_int_equal(cap, 512);

    buf_consume(&b, 250);
    assert_int_equal(buf_used(&b), 50);
    assert_memory_equal(buf_head(&b), block + 250, 50);

    /* 300 more do not fit after len (212 free) but do after reclaiming the front. */
    buf_put(&b, block, sizeof(block));
    assert_int_equal(b.cap, cap);
    assert_int_equal(b.start, 0);
    assert_int_equal(buf_used(&b), 350);
    assert_memory_equal(buf_head(&b), block + 250, 50);
    assert_memory_equal(buf_head(&b) + 50, block, 300);

    /* Consuming everything rewinds to the start of the storage. */
    buf_consume(&b, 350);
    assert_int_equal(buf_used(&b), 0);
    assert_int_equal(b.start, 0);
    assert_int_equal(b.len, 0);

    /* Over-consuming is clamped to empty. */
    buf_put(&b, "ab", 2);
    buf_consume(&b, 10);
    assert_int_equal(buf_used(&b), 0);
    buf_free(&b);
}

/* While a message is open the front is not moved (msg_at is an absolute offset). */
static void
test_buf_no_compaction_inside_message(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b);
    uint8_t block[200];
    memset(block, 'x', sizeof(block));
    buf_put(&b, block, sizeof(block));
    buf_consume(&b, 190);
    buf_msg_begin(&b, 'd');
    buf_put(&b, block, sizeof(block)); /* must grow, not compact */
    buf_msg_end(&b);
    assert_int_equal(buf_error(&b), 0);
    assert_int_equal(buf_used(&b), 10 + 5 + 200);
    const uint8_t *p = buf_head(&b) + 10;
    assert_int_equal(p[0], 'd');
    assert_int_equal(be32(p + 1), 204);
    struct wire_msg m;
    buf_consume(&b, 10);
    assert_int_equal(wire_frame(buf_head(&b), buf_used(&b), FX_MAX_MSG, &m), 0);
    assert_int_equal(m.body_len, 200);
    buf_free(&b);
}

static void
test_buf_swap(void **state)
{
    (void)state;
    struct buf a, b;
    buf_init(&a);
    buf_init(&b);
    buf_put(&a, "first", 5);
    buf_put(&b, "second!", 7);
    buf_consume(&b, 1);
    b.err = -ENOMEM;
    const uint8_t *a_data = a.data;
    buf_swap(&a, &b);
    assert_int_equal(buf_used(&a), 6);
    assert_memory_equal(buf_head(&a), "econd!", 6);
    assert_int_equal(buf_error(&a), -ENOMEM);
    assert_ptr_equal(b.data, a_data);
    assert_int_equal(buf_used(&b), 5);
    assert_memory_equal(buf_head(&b), "first", 5);
    assert_int_equal(buf_error(&b), 0);
    buf_free(&a);
    buf_free(&b);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_frame_encode),
        cmocka_unit_test(test_frame_decode_every_prefix),
        cmocka_unit_test(test_frame_stream_every_chunk_size),
        cmocka_unit_test(test_frame_lengths),
        cmocka_unit_test(test_frame_startup_lengths),
        cmocka_unit_test(test_frame_startup_packets),
        cmocka_unit_test(test_cursor_reads_in_bounds),
        cmocka_unit_test(test_cursor_past_end_is_sticky),
        cmocka_unit_test(test_cursor_error_after_good_reads),
        cmocka_unit_test(test_error_field),
        cmocka_unit_test(test_put_error_round_trip),
        cmocka_unit_test(test_put_ready),
        cmocka_unit_test(test_buf_msg_length_patching),
        cmocka_unit_test(test_buf_put_integers),
        cmocka_unit_test(test_buf_sticky_error),
        cmocka_unit_test(test_buf_msg_too_large),
        cmocka_unit_test(test_buf_reserve_commit),
        cmocka_unit_test(test_buf_growth),
        cmocka_unit_test(test_buf_consume_and_compaction),
        cmocka_unit_test(test_buf_no_compaction_inside_message),
        cmocka_unit_test(test_buf_swap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
