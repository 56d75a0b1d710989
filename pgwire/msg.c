/*
 * msg: extended-protocol message reading and writing. See msg.h.
 *
 * Reads go through the bounds-checked cursor; a malformed Bind or Parse simply makes the
 * caller forward the message untouched, so the server gives the client the error it would
 * have given anyway. Writes go through buf, whose errors are sticky.
 */
#include "pgwire/msg.h"

#include <errno.h>
#include <string.h>

#include "pgwire/wire.h"

int
msg_read_parse(const uint8_t *body, size_t len, struct msg_parse *p)
{
    struct wire_cursor c;
    wire_cursor_init(&c, body, len);
    p->name = wire_get_str(&c, NULL);
    p->sql = wire_get_str(&c, &p->sqllen);
    p->n = wire_get_i16(&c);
    if (c.err || p->n < 0 || p->n > MSG_MAX_PARAMS)
        return -EPROTO;
    for (int i = 0; i < p->n; i++)
        p->oids[i] = (uint32_t)wire_get_i32(&c);
    return c.err;
}

int
msg_read_bind(const uint8_t *body, size_t len, struct msg_bind *b)
{
    struct wire_cursor c;
    wire_cursor_init(&c, body, len);
    b->portal = wire_get_str(&c, NULL);
    b->stmt = wire_get_str(&c, NULL);
    int nf = wire_get_i16(&c);
    if (c.err || nf < 0)
        return -EPROTO;
    const uint8_t *fmts = wire_get_bytes(&c, (size_t)nf * 2);
    int np = wire_get_i16(&c);
    if (c.err || np < 0 || (nf > 1 && nf != np))
        return -EPROTO;
    if (np > MSG_MAX_PARAMS)
        return -E2BIG;
    b->nparams = np;
    for (int i = 0; i < np; i++) {
        int k = nf == 0 ? -1 : nf == 1 ? 0 : i;
        b->pfmt[i] = k < 0 ? 0 : (int16_t)((fmts[2 * k] << 8) | fmts[2 * k + 1]);
        b->len[i] = wire_get_i32(&c);
        b->val[i] = NULL;
        if (b->len[i] >= 0)
            b->val[i] = wire_get_bytes(&c, (size_t)b->len[i]);
        else if (b->len[i] != -1)
            return -EPROTO;
    }
    b->nres = wire_get_i16(&c);
    if (c.err || b->nres < 0)
        return -EPROTO;
    b->res = wire_get_bytes(&c, (size_t)b->nres * 2);
    return c.err || c.left != 0 ? -EPROTO : 0;
}

void
msg_put_parse(struct buf *b, const char *name, const char *sql, int n, const uint32_t *oids)
{
    buf_msg_begin(b, 'P');
    buf_put_str(b, name);
    buf_put_str(b, sql);
    buf_put_i16(b, (int16_t)n);
    for (int i = 0; i < n; i++)
        buf_put_i32(b, (int32_t)oids[i]);
    buf_msg_end(b);
}

void
msg_put_bind(struct buf *b, const char *stmt, int n, const int16_t *fmts,
             const uint8_t *const *vals, const int32_t *lens, int nres, const int16_t *res)
{
    msg_put_bind_portal(b, "", stmt, n, fmts, vals, lens, nres, res);
}

void
msg_put_bind_portal(struct buf *b, const char *portal, const char *stmt, int n,
                    const int16_t *fmts, const uint8_t *const *vals, const int32_t *lens,
                    int nres, const int16_t *res)
{
    buf_msg_begin(b, 'B');
    buf_put_str(b, portal);
    buf_put_str(b, stmt);
    buf_put_i16(b, (int16_t)n);
    for (int i = 0; i < n; i++)
        buf_put_i16(b, fmts[i]);
    buf_put_i16(b, (int16_t)n);
    for (int i = 0; i < n; i++) {
        buf_put_i32(b, vals[i] ? lens[i] : -1);
        if (vals[i])
            buf_put(b, vals[i], (size_t)lens[i]);
    }
    buf_put_i16(b, (int16_t)nres);
    for (int i = 0; i < nres; i++)
        buf_put_i16(b, res[i]);
    buf_msg_end(b);
}

void
msg_put_describe(struct buf *b, uint8_t what, const char *name)
{
    buf_msg_begin(b, 'D');
    buf_put_u8(b, what);
    buf_put_str(b, name);
    buf_msg_end(b);
}

void
msg_put_execute(struct buf *b, const char *portal)
{
    buf_msg_begin(b, 'E');
    buf_put_str(b, portal);
    buf_put_i32(b, 0);
    buf_msg_end(b);
}

void
msg_put_close(struct buf *b, uint8_t what, const char *name)
{
    buf_msg_begin(b, 'C');
    buf_put_u8(b, what);
    buf_put_str(b, name);
    buf_msg_end(b);
}

void
msg_put_sync(struct buf *b)
{
    buf_msg_begin(b, 'S');
    buf_msg_end(b);
}

void
msg_put_query(struct buf *b, const char *sql)
{
    buf_msg_begin(b, 'Q');
    buf_put_str(b, sql);
    buf_msg_end(b);
}

void
msg_put_simple(struct buf *b, uint8_t type)
{
    buf_msg_begin(b, type);
    buf_msg_end(b);
}

void
msg_put_complete(struct buf *b, const char *tag)
{
    buf_msg_begin(b, 'C');
    buf_put_str(b, tag);
    buf_msg_end(b);
}
