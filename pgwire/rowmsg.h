/*
 * rowmsg: the RowDescription and DataRow arithmetic the batcher needs: reading a result's
 * column descriptions, iterating a DataRow's fields, and cutting the batch's leading ordinal
 * column off both so each key's answer is byte for byte what the single query returns.
 *
 * Pure: works on message bodies the caller owns, through the bounds-checked wire cursor.
 */
#ifndef PGFOLD_ROWMSG_H
#define PGFOLD_ROWMSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pgwire/buf.h"

struct rowmsg_col {
    const char *name; /* points into the body */
    uint32_t table_oid;
    int16_t attnum;
    uint32_t type_oid;
    int16_t typlen;
    int32_t typmod;
    int16_t format;
};

/*
 * Parses a RowDescription body into at most max columns. Returns the column count (which may
 * exceed max: only the first max are filled) or -EPROTO.
 */
int rowmsg_desc(const uint8_t *body, size_t len, struct rowmsg_col *cols, int max)
    __attribute__((warn_unused_result));

/* Iterates a DataRow body: call with *pos = 0, get field i in order. */
struct rowmsg_field {
    const uint8_t *val; /* NULL for SQL NULL */
    int32_t len;
};
/* Returns the field count of a DataRow body, or -EPROTO. */
int rowmsg_nfields(const uint8_t *body, size_t len);
/* Reads the next field at *pos; returns 0 or -EPROTO. */
int rowmsg_next(const uint8_t *body, size_t len, size_t *pos, struct rowmsg_field *f)
    __attribute__((warn_unused_result));

/*
 * Appends to out the RowDescription message (type and length included) of body without its
 * first column. Returns 0 or -EPROTO.
 */
int rowmsg_desc_drop_first(const uint8_t *body, size_t len, struct buf *out)
    __attribute__((warn_unused_result));

/*
 * Appends to out a RowDescription body like body, with the format codes a Bind asked for
 * (nres 0: all text; 1: all res[0]; else one per column): what a statement's Describe says,
 * as the rows of a portal bound from it arrive. Returns 0 or -EPROTO (also for a column count
 * that does not match nres).
 */
int rowmsg_desc_set_formats(const uint8_t *body, size_t len, int nres, const int16_t *res,
                            struct buf *out) __attribute__((warn_unused_result));

/*
 * Compares two RowDescription bodies column by column, ignoring format codes (a statement
 * Describe reports them all as text). Returns true when names, table OIDs, attribute numbers,
 * types, lengths and modifiers all match.
 */
bool rowmsg_desc_same_shape(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen);

/*
 * Splits a batch DataRow body whose first field is the key's ordinal (int8, text or binary
 * as fmt says): *ord receives it, and the DataRow message without that field is appended to
 * out. Returns 0 or -EPROTO.
 */
int rowmsg_row_drop_first(const uint8_t *body, size_t len, int16_t fmt, int64_t *ord,
                          struct buf *out) __attribute__((warn_unused_result));

#endif
