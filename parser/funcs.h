/*
 * funcs: the allow-list of functions a batchable SELECT may call (internal to parser/).
 *
 * A SELECT is provably read-only only if every function it calls is known to be free of side
 * effects and not volatile. The list names PostgreSQL built-ins (schema-less or pg_catalog)
 * that ORMs and hand-written lookups use; anything else, including every user-defined
 * function, makes the statement SHAPE_WRITE. docs/parser.md explains the choice.
 */
#ifndef PGFOLD_FUNCS_H
#define PGFOLD_FUNCS_H

enum funcs_class {
    FUNCS_NONE = 0, /* not on the list: may write or is volatile */
    FUNCS_SCALAR,   /* immutable or stable, no side effects (includes set-returning ones) */
    FUNCS_AGG,      /* an aggregate */
    FUNCS_WINDOW,   /* a window-only function */
};

/* The class of a lowercase function name as the parser stores it ("count", "lower"). */
enum funcs_class funcs_find(const char *name);

#endif
