/*
 * msg: the extended-protocol messages pgfold reads into plain structs (Parse, Bind) and the
 * ones it writes itself: the requests of its own traffic (Parse, Bind, Describe, Execute,
 * Close, Sync, Query) and the responses it synthesizes for local answers (ParseComplete,
 * BindComplete, CommandComplete). ErrorResponse and ReadyForQuery are in wire.h.
 *
 * Pure codec: no state, no allocation; reads point into the caller's message body.
 */
#ifndef PGFOLD_PGWIRE_MSG_H
#define PGFOLD_PGWIRE_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pgwire/buf.h"

#define MSG_MAX_PARAMS 256

struct msg_bind {
    const char *portal;
    const char *stmt;
    int nparams;
    int16_t pfmt[MSG_MAX_PARAMS];       /* expanded: one code per parameter */
    const uint8_t *val[MSG_MAX_PARAMS]; /* NULL for SQL NULL */
    int32_t len[MSG_MAX_PARAMS];
    int nres;           /* result format codes as sent (0, 1 or n) */
    const uint8_t *res; /* the raw int16 codes */
};

/* A Parse body: name, SQL text and parameter types (pointers into the body). */
struct msg_parse {
    const char *name;
    const char *sql;
    size_t sqllen;
    int n;
    uint32_t oids[MSG_MAX_PARAMS];
};

/* Parses a Parse body. Returns 0, or -EPROTO (also beyond MSG_MAX_PARAMS types). */
int msg_read_parse(const uint8_t *body, size_t len, struct msg_parse *p)
    __attribute__((warn_unused_result));

/* Parses a Bind body. Returns 0, -EPROTO, or -E2BIG beyond MSG_MAX_PARAMS parameters. */
int msg_read_bind(const uint8_t *body, size_t len, struct msg_bind *b)
    __attribute__((warn_unused_result));

/* Appends Parse(name, sql, oids). */
void msg_put_parse(struct buf *b, const char *name, const char *sql, int n, const uint32_t *oids);
/*
 * Appends Bind(portal "", stmt) with n parameters (formats given per parameter, NULL values
 * for SQL NULL) and the raw result-format codes.
 */
void msg_put_bind(struct buf *b, const char *stmt, int n, const int16_t *fmts,
                  const uint8_t *const *vals, const int32_t *lens, int nres, const int16_t *res);
/* The same, binding a named portal. */
void msg_put_bind_portal(struct buf *b, const char *portal, const char *stmt, int n,
                         const int16_t *fmts, const uint8_t *const *vals, const int32_t *lens,
                         int nres, const int16_t *res);
void msg_put_describe(struct buf *b, uint8_t what, const char *name);
void msg_put_execute(struct buf *b, const char *portal);
void msg_put_close(struct buf *b, uint8_t what, const char *name);
void msg_put_sync(struct buf *b);
void msg_put_query(struct buf *b, const char *sql);

/* Responses: ParseComplete, BindComplete, CommandComplete. */
void msg_put_simple(struct buf *b, uint8_t type);
void msg_put_complete(struct buf *b, const char *tag);

#endif
