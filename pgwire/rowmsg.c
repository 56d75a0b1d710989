/*
 * rowmsg: RowDescription/DataRow field work for the batcher. See rowmsg.h.
 *
 * Everything here reads through struct wire_cursor, so a malformed message from the server
 * becomes -EPROTO (and the batch is discarded), never an out-of-bounds read.
 */
#include "pgwire/rowmsg.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pgwire/wire.h"

static int
read_col(struct wire_cursor *c, struct rowmsg_col *col)
{
    col->name = wire_get_str(c, NULL);
    col->table_oid = (uint32_t)wire_get_i32(c);
    col->attnum = wire_get_i16(c);
    col->type_oid = (uint32_t)wire_get_i32(c);
    col->typlen = wire_get_i16(c);
    col->typmod = wire_get_i32(c);
    col->format = wire_get_i16(c);
    return c->err;
}

int
rowmsg_desc(const uint8_t *body, size_t len, struct rowmsg_col *cols, int max)
{
    struct wire_cursor c;
    wire_cursor_init(&c, body, len);
    int n = wire_get_i16(&c);
    if (c.err || n < 0)
        return -EPROTO;
    for (int i = 0; i < n; i++) {
        struct rowmsg_col tmp;
        if (read_col(&c, i < max ? &cols[i] : &tmp) != 0)
            return -EPROTO;
    }
    return c.left == 0 ? n : -EPROTO;
}

int
rowmsg_nfields(const uint8_t *body, size_t len)
{
    struct wire_cursor c;
    wire_cursor_init(&c, body, len);
    int n = wire_get_i16(&c);
    return c.err || n < 0 ? -EPROTO : n;
}

int
rowmsg_next(const uint8_t *body, size_t len, size_t *pos, struct rowmsg_field *f)
{
    if (*pos == 0)
        *pos = 2;
    struct wire_cursor c;
    if (*pos > len)
        return -EPROTO;
    wire_cursor_init(&c, body + *pos, len - *pos);
    f->len = wire_get_i32(&c);
    if (c.err || f->len < -1)
        return -EPROTO;
    f->val = NULL;
    if (f->len >= 0) {
        f->val = wire_get_bytes(&c, (size_t)f->len);
        if (!f->val)
            return -EPROTO;
    }
    *pos = len - c.left;
    return 0;
}

int
rowmsg_desc_drop_first(const uint8_t *body, size_t len, struct buf *out)
{
    struct wire_cursor c;
    wire_cursor_init(&c, body, len);
    int n = wire_get_i16(&c);
    struct rowmsg_col first;
    if (c.err || n < 1 || read_col(&c, &first) != 0)
        return -EPROTO;
    buf_msg_begin(out, 'T');
    buf_put_i16(out, (int16_t)(n - 1));
    buf_put(out, c.p, c.left);
    buf_msg_end(out);
    return 0;
}

int
rowmsg_desc_set_formats(const uint8_t *body, size_t len, int nres, const int16_t *res,
                        struct buf *out)
{
    struct wire_cursor c;
    wire_cursor_init(&c, body, len);
    int n = wire_get_i16(&c);
    if (c.err || n < 0 || (nres > 1 && nres != n))
        return -EPROTO;
    buf_put_i16(out, (int16_t)n);
    for (int i = 0; i < n; i++) {
        struct rowmsg_col col;
        if (read_col(&c, &col) != 0)
            return -EPROTO;
        buf_put_str(out, col.name);
        buf_put_i32(out, (int32_t)col.table_oid);
        buf_put_i16(out, col.attnum);
        buf_put_i32(out, (int32_t)col.type_oid);
        buf_put_i16(out, col.typlen);
        buf_put_i32(out, col.typmod);
        buf_put_i16(out, nres == 0 ? 0 : nres == 1 ? res[0] : res[i]);
    }
    return c.left == 0 ? buf_error(out) : -EPROTO;
}

bool
rowmsg_desc_same_shape(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
    struct wire_cursor ca, cb;
    wire_cursor_init(&ca, a, alen);
    wire_cursor_init(&cb, b, blen);
    int na = wire_get_i16(&ca), nb = wire_get_i16(&cb);
    if (ca.err || cb.err || na != nb)
        return false;
    for (int i = 0; i < na; i++) {
        struct rowmsg_col x, y;
        if (read_col(&ca, &x) != 0 || read_col(&cb, &y) != 0)
            return false;
        if (strcmp(x.name, y.name) != 0 || x.table_oid != y.table_oid || x.attnum != y.attnum ||
            x.type_oid != y.type_oid || x.typlen != y.typlen || x.typmod != y.typmod)
            return false;
    }
    return ca.left == 0 && cb.left == 0;
}

static int
parse_ord(const struct rowmsg_field *f, int16_t fmt, int64_t *ord)
{
    if (!f->val)
        return -EPROTO;
    if (fmt == 1) {
        if (f->len != 8)
            return -EPROTO;
        uint64_t u = 0;
        for (int i = 0; i < 8; i++)
            u = (u << 8) | f->val[i];
        *ord = (int64_t)u;
        return 0;
    }
    int64_t v = 0;
    if (f->len < 1 || f->len > 19)
        return -EPROTO;
    for (int i = 0; i < f->len; i++) {
        if (f->val[i] < '0' || f->val[i] > '9')
            return -EPROTO;
        int d = f->val[i] - '0';
        if (v > (INT64_MAX - d) / 10)
            return -EPROTO;
        v = v * 10 + d;
    }
    *ord = v;
    return 0;
}

int
rowmsg_row_drop_first(const uint8_t *body, size_t len, int16_t fmt, int64_t *ord, struct buf *out)
{
    int n = rowmsg_nfields(body, len);
    size_t pos = 0;
    struct rowmsg_field f;
    if (n < 1 || rowmsg_next(body, len, &pos, &f) != 0 || parse_ord(&f, fmt, ord) != 0)
        return -EPROTO;
    buf_msg_begin(out, 'D');
    buf_put_i16(out, (int16_t)(n - 1));
    buf_put(out, body + pos, len - pos);
    buf_msg_end(out);
    return 0;
}
