/*
 * fold_msg: reading the client's extended-protocol messages (Bind, Execute, Describe) into
 * plain structs, and writing the ones pgfold sends itself (Parse, Bind, Describe, Execute,
 * Close, Sync) plus the responses it synthesizes. Pure codec work for fold.c.
 */
#ifndef PGFOLD_FOLD_MSG_H
#define PGFOLD_FOLD_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proxy/buf.h"

#define FOLD_MAX_PARAMS 256

struct bind_info {
    const char *portal;
    const char *stmt;
    int nparams;
    int16_t pfmt[FOLD_MAX_PARAMS];      /* expanded: one code per parameter */
    const uint8_t *val[FOLD_MAX_PARAMS]; /* NULL for SQL NULL */
    int32_t len[FOLD_MAX_PARAMS];
    int nres;                            /* result format codes as sent (0, 1 or n) */
    const uint8_t *res;                  /* the raw int16 codes */
};

/* Parses a Bind body. Returns 0, -EPROTO, or -E2BIG beyond FOLD_MAX_PARAMS parameters. */
int foldmsg_bind(const uint8_t *body, size_t len, struct bind_info *b)
    __attribute__((warn_unused_result));

/* Appends Parse(name, sql, oids). */
void foldmsg_parse(struct buf *b, const char *name, const char *sql, int n, const uint32_t *oids);
/*
 * Appends Bind(portal "", stmt) with n parameters (formats given per parameter, NULL values
 * for SQL NULL) and the raw result-format codes.
 */
void foldmsg_bindmsg(struct buf *b, const char *stmt, int n, const int16_t *fmts,
                     const uint8_t *const *vals, const int32_t *lens, int nres,
                     const int16_t *res);
void foldmsg_describe(struct buf *b, uint8_t what, const char *name);
void foldmsg_execute(struct buf *b, const char *portal);
void foldmsg_close(struct buf *b, uint8_t what, const char *name);
void foldmsg_sync(struct buf *b);
void foldmsg_query(struct buf *b, const char *sql);

/* Responses: ParseComplete, BindComplete, CommandComplete. */
void foldmsg_simple(struct buf *b, uint8_t type);
void foldmsg_complete(struct buf *b, const char *tag);

#endif
