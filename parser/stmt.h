/*
 * stmt: the kind of one parsed statement (internal to parser/). SELECTs go on to select.c;
 * transaction control and session statements fill shape->txn and shape->session.
 */
#ifndef PGFOLD_STMT_H
#define PGFOLD_STMT_H

#include "parser/analyze.h"

/* Classifies one statement of a->s->text, recording its tables, flags and details. */
enum shape_kind stmt_classify(struct analyze *a, const PgQuery__Node *stmt);

#endif
