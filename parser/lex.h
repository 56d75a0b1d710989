/*
 * lex: the shape cache's fast literal scanner (internal to parser/).
 *
 * Finds the literal constants of a SQL text the way PostgreSQL's scanner would, without
 * libpg_query (whose pg_query_scan costs ~14 us on a 300-byte query; this costs well under one).
 * It recognises only what it is sure of and refuses the rest, so the cache falls back to keying
 * that text exactly.
 */
#ifndef PGFOLD_LEX_H
#define PGFOLD_LEX_H

#include <stddef.h>

#include "parser/shape.h"

/*
 * Fills lits with the literal tokens of sql[0..len), growing lits->v as needed.
 * Returns 0; -ENOTSUP for spellings it will not vouch for (U&'', N'', string continuation
 * across a newline, digits followed by letters, a stray '$'); -EINVAL for an unterminated
 * string, quoted identifier or comment; -ENOMEM. On error lits->n is unspecified.
 */
int lex_scan(const char *sql, size_t len, struct shape_lits *lits)
    __attribute__((warn_unused_result));

#endif
