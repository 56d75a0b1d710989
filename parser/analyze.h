/*
 * analyze: the state of one shape analysis, shared by analyze.c (the driver: libpg_query calls,
 * tokens, fingerprint), stmt.c (what kind of statement) and select.c (is a SELECT a lookup).
 * Internal to parser/: this is where libpg_query's protobuf structs meet struct shape.
 */
#ifndef PGFOLD_ANALYZE_H
#define PGFOLD_ANALYZE_H

#include <pg_query.h>
#include <pg_query/pg_query.pb-c.h>

#include "parser/shape.h"

struct analyze {
    struct shape *s;            /* under construction; s->text is NUL-terminated */
    PgQuery__ScanResult *scan;  /* libpg_query's tokens of s->text */
    const uint32_t *param_oids; /* Parse types, may be NULL */
    int nparam_oids;
    int collect;  /* look for key slots: one statement, not opted out */
    int no_slots; /* a $n that cannot be bound: never a lookup */
    int err;      /* first allocation failure, sticky; checked once at the end */
    char **ctes;  /* CTE names seen, to keep them out of shape->tables */
    int nctes, capctes;
};

/*
 * Runs the whole analysis of sql[0..len) into a new shape (see shape_analyze).
 * Returns 0, -ENOMEM or -E2BIG.
 */
int analyze_run(const char *sql, size_t len, const uint32_t *param_oids, int nparams,
                struct shape **out) __attribute__((warn_unused_result));

/* strdup that records -ENOMEM in a->err and returns NULL. NULL in, NULL out. */
char *analyze_strdup(struct analyze *a, const char *str);

/* Appends a zeroed slot to a->s; NULL (with a->err set) on allocation failure. */
struct shape_slot *analyze_add_slot(struct analyze *a);

/* Records a table (deduplicated) and a CTE name. */
void analyze_add_table(struct analyze *a, const char *schema, const char *name);
void analyze_add_cte(struct analyze *a, const char *name);

/*
 * Byte offset just past the `count`-th token (comments skipped) starting with the token at
 * `off`; 0 if no token starts at off.
 */
uint32_t analyze_tokens_end(const struct analyze *a, uint32_t off, int count);

/* Index of the first literal of s->lits starting at or after off; s->nlits if none. */
int analyze_lit_from(const struct analyze *a, uint32_t off);

#endif
