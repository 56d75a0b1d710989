/*
 * buf: a growable byte buffer that is both the wire writer and the socket input queue.
 *
 * Writes never fail one by one: a failed allocation (or a message grown past its limit) makes
 * the error sticky, every later write is a no-op, and the owner checks buf_error() once, when it
 * is about to send. Reads consume from the front (buf_consume) and the buffer compacts lazily.
 */
#ifndef PGFOLD_BUF_H
#define PGFOLD_BUF_H

#include <stddef.h>
#include <stdint.h>

struct buf {
    uint8_t *data;
    size_t start; /* first unconsumed byte */
    size_t len;   /* one past the last byte written */
    size_t cap;
    int err;      /* sticky: 0 or a negative code */
    size_t msg_at; /* offset of the length field of the message being built, or SIZE_MAX */
};

void buf_init(struct buf *b);
/* Frees the storage; the struct may be reused after buf_init(). */
void buf_free(struct buf *b);
/* Drops all content and the sticky error, keeps the storage. */
void buf_reset(struct buf *b);

static inline size_t
buf_used(const struct buf *b)
{
    return b->len - b->start;
}

/* NULL for a buffer that never allocated (NULL + 0 is undefined behaviour in C). */
static inline const uint8_t *
buf_head(const struct buf *b)
{
    return b->data ? b->data + b->start : NULL;
}

static inline int
buf_error(const struct buf *b)
{
    return b->err;
}

/* Makes room for at least n more bytes at the tail; returns 0 or -ENOMEM (and sets err). */
int buf_reserve(struct buf *b, size_t n) __attribute__((warn_unused_result));
/* Marks n bytes written at the tail (after a read into the space buf_reserve made). */
void buf_commit(struct buf *b, size_t n);
/* Consumes n bytes from the front. */
void buf_consume(struct buf *b, size_t n);

void buf_put(struct buf *b, const void *p, size_t n);
void buf_put_u8(struct buf *b, uint8_t v);
void buf_put_i16(struct buf *b, int16_t v);
void buf_put_i32(struct buf *b, int32_t v);
/* A NUL-terminated string, terminator included (the protocol's String). */
void buf_put_str(struct buf *b, const char *s);
/* A string's bytes without the terminator (for text such as HTTP and JSON). */
void buf_puts(struct buf *b, const char *s);

/* Starts a typed protocol message (type 0 = untyped, as in startup packets). */
void buf_msg_begin(struct buf *b, uint8_t type);
/* Patches the length of the message begun last. */
void buf_msg_end(struct buf *b);

/* Swaps the contents of two buffers (used to hand a filled buffer to an in-flight write). */
void buf_swap(struct buf *a, struct buf *b);

#endif
