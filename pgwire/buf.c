/*
 * buf: growable byte buffers with a sticky error. See buf.h for the contract.
 *
 * Owns only its storage. Growth doubles, so appending a stream of small messages costs
 * amortized O(1); consumed space at the front is reclaimed when the buffer would otherwise grow.
 */
#include "pgwire/buf.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void
buf_init(struct buf *b)
{
    memset(b, 0, sizeof(*b));
    b->msg_at = SIZE_MAX;
}

void
buf_free(struct buf *b)
{
    free(b->data);
    buf_init(b);
}

void
buf_reset(struct buf *b)
{
    b->start = 0;
    b->len = 0;
    b->err = 0;
    b->msg_at = SIZE_MAX;
}

int
buf_reserve(struct buf *b, size_t n)
{
    if (b->err)
        return b->err;
    if (b->cap - b->len >= n)
        return 0;
    /* Reclaim the consumed front before growing, unless a message is being built. */
    if (b->start > 0 && b->msg_at == SIZE_MAX) {
        size_t used = b->len - b->start;
        memmove(b->data, b->data + b->start, used);
        b->start = 0;
        b->len = used;
        if (b->cap - b->len >= n)
            return 0;
    }
    size_t need = b->len + n;
    if (need < b->len) {
        b->err = -ENOMEM;
        return b->err;
    }
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    uint8_t *p = realloc(b->data, cap);
    if (!p) {
        b->err = -ENOMEM;
        return b->err;
    }
    b->data = p;
    b->cap = cap;
    return 0;
}

void
buf_commit(struct buf *b, size_t n)
{
    b->len += n;
}

void
buf_consume(struct buf *b, size_t n)
{
    b->start += n;
    if (b->start >= b->len) {
        b->start = 0;
        b->len = 0;
    }
}

void
buf_put(struct buf *b, const void *p, size_t n)
{
    if (n == 0 || buf_reserve(b, n) != 0)
        return;
    memcpy(b->data + b->len, p, n);
    b->len += n;
}

void
buf_put_u8(struct buf *b, uint8_t v)
{
    buf_put(b, &v, 1);
}

void
buf_put_i16(struct buf *b, int16_t v)
{
    uint8_t x[2] = {(uint8_t)((uint16_t)v >> 8), (uint8_t)v};
    buf_put(b, x, 2);
}

void
buf_put_i32(struct buf *b, int32_t v)
{
    uint32_t u = (uint32_t)v;
    uint8_t x[4] = {(uint8_t)(u >> 24), (uint8_t)(u >> 16), (uint8_t)(u >> 8), (uint8_t)u};
    buf_put(b, x, 4);
}

void
buf_put_str(struct buf *b, const char *s)
{
    buf_put(b, s, strlen(s) + 1);
}

void
buf_puts(struct buf *b, const char *s)
{
    buf_put(b, s, strlen(s));
}

void
buf_msg_begin(struct buf *b, uint8_t type)
{
    if (type)
        buf_put_u8(b, type);
    b->msg_at = b->len;
    buf_put_i32(b, 0);
}

void
buf_msg_end(struct buf *b)
{
    if (b->err || b->msg_at == SIZE_MAX)
        return;
    size_t n = b->len - b->msg_at;
    if (n > INT32_MAX) {
        b->err = -EMSGSIZE;
        return;
    }
    uint32_t u = (uint32_t)n;
    uint8_t *p = b->data + b->msg_at;
    p[0] = (uint8_t)(u >> 24);
    p[1] = (uint8_t)(u >> 16);
    p[2] = (uint8_t)(u >> 8);
    p[3] = (uint8_t)u;
    b->msg_at = SIZE_MAX;
}

void
buf_swap(struct buf *a, struct buf *b)
{
    struct buf t = *a;
    *a = *b;
    *b = t;
}
