/*
 * select: whether a SELECT is provably read-only and, if so, whether it is a single-key lookup
 * (internal to parser/). Also the generic tree walk that finds tables, functions and locking
 * in any statement.
 */
#ifndef PGFOLD_SELECT_H
#define PGFOLD_SELECT_H

#include "parser/analyze.h"

/*
 * Classifies a SELECT as SHAPE_LOOKUP, SHAPE_READ or SHAPE_WRITE, adding its flags, tables and,
 * when a->collect is set, its candidate key slots to a->s.
 */
enum shape_kind select_classify(struct analyze *a, const PgQuery__SelectStmt *sel);

/*
 * Walks any parse-tree message, recording tables and CTE names in a->s, and returns the
 * SHAPE_F_* flags it finds (locking, unsafe functions, data-modifying CTEs, subqueries, ...).
 */
unsigned select_walk(struct analyze *a, const ProtobufCMessage *msg);

#endif
