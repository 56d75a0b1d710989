/*
 * wire: framing, bounds-checked field reads, and the few messages pgfold writes itself.
 *
 * Owns nothing: every function works on memory the caller holds. Network bytes are never
 * asserted on; each read checks what is left and turns a short message into -EPROTO.
 */
#include "pgwire/wire.h"

#include <errno.h>
#include <string.h>

void
wire_cursor_init(struct wire_cursor *c, const uint8_t *p, size_t n)
{
    c->p = p;
    c->left = n;
    c->err = 0;
}

const uint8_t *
wire_get_bytes(struct wire_cursor *c, size_t n)
{
    if (c->err || c->left < n) {
        c->err = -EPROTO;
        return NULL;
    }
    const uint8_t *r = c->p;
    c->p += n;
    c->left -= n;
    return r;
}

uint8_t
wire_get_u8(struct wire_cursor *c)
{
    const uint8_t *p = wire_get_bytes(c, 1);
    return p ? p[0] : 0;
}

int16_t
wire_get_i16(struct wire_cursor *c)
{
    const uint8_t *p = wire_get_bytes(c, 2);
    return p ? (int16_t)(((uint16_t)p[0] << 8) | p[1]) : 0;
}

int32_t
wire_get_i32(struct wire_cursor *c)
{
    const uint8_t *p = wire_get_bytes(c, 4);
    if (!p)
        return 0;
    return (int32_t)(((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) |
                     p[3]);
}

const char *
wire_get_str(struct wire_cursor *c, size_t *len_out)
{
    const uint8_t *nul = c->err ? NULL : memchr(c->p, 0, c->left);
    if (!nul) {
        c->err = -EPROTO;
        if (len_out)
            *len_out = 0;
        return "";
    }
    size_t n = (size_t)(nul - c->p);
    const char *s = (const char *)c->p;
    c->p += n + 1;
    c->left -= n + 1;
    if (len_out)
        *len_out = n;
    return s;
}

static uint32_t
be32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

int
wire_frame(const uint8_t *p, size_t n, size_t max, struct wire_msg *m)
{
    if (n < 5)
        return -EAGAIN;
    uint32_t len = be32(p + 1);
    if (len < 4 || len > INT32_MAX)
        return -EPROTO;
    if (len > max)
        return -EMSGSIZE;
    if (n < (size_t)len + 1)
        return -EAGAIN;
    m->raw = p;
    m->type = p[0];
    m->body = p + 5;
    m->body_len = len - 4;
    m->wire_len = (size_t)len + 1;
    return 0;
}

int
wire_frame_startup(const uint8_t *p, size_t n, struct wire_msg *m)
{
    if (n < 4)
        return -EAGAIN;
    uint32_t len = be32(p);
    if (len < 8 || len - 4 > WIRE_STARTUP_MAX)
        return -EPROTO; /* PostgreSQL limits the packet without its length word */
    if (n < len)
        return -EAGAIN;
    m->raw = p;
    m->type = 0;
    m->body = p + 4;
    m->body_len = len - 4;
    m->wire_len = len;
    return 0;
}

void
wire_put_error_detail(struct buf *b, const char *severity, const char *sqlstate,
                      const char *message, const char *detail)
{
    buf_msg_begin(b, BE_ERROR);
    buf_put_u8(b, 'S');
    buf_put_str(b, severity);
    buf_put_u8(b, 'V');
    buf_put_str(b, severity);
    buf_put_u8(b, 'C');
    buf_put_str(b, sqlstate);
    buf_put_u8(b, 'M');
    buf_put_str(b, message);
    if (detail) {
        buf_put_u8(b, 'D');
        buf_put_str(b, detail);
    }
    buf_put_u8(b, 0);
    buf_msg_end(b);
}

void
wire_put_error(struct buf *b, const char *severity, const char *sqlstate, const char *message)
{
    wire_put_error_detail(b, severity, sqlstate, message, NULL);
}

void
wire_put_ready(struct buf *b, uint8_t status)
{
    buf_msg_begin(b, BE_READY);
    buf_put_u8(b, status);
    buf_msg_end(b);
}

const char *
wire_error_field(const uint8_t *body, size_t len, uint8_t field)
{
    struct wire_cursor c;
    wire_cursor_init(&c, body, len);
    while (!c.err && c.left > 0) {
        uint8_t f = wire_get_u8(&c);
        if (f == 0)
            break;
        const char *v = wire_get_str(&c, NULL);
        if (c.err)
            return NULL;
        if (f == field)
            return v;
    }
    return NULL;
}
