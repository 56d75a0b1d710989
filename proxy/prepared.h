/*
 * prepared: the session's named prepared statements and portals, as the server holds them.
 *
 * A name maps to an entry that owns copies of its strings. The unnamed statement and the
 * unnamed portal are ordinary entries under the name "". The session adds an entry only when
 * the server confirms it (ParseComplete, BindComplete), so this table mirrors server state.
 */
#ifndef PGFOLD_PREPARED_H
#define PGFOLD_PREPARED_H

#include <stddef.h>
#include <stdint.h>

struct prepared {
    struct prepared *next; /* hash chain */
    char *name;
    char *sql;             /* statements: the query text; portals: the statement's name */
    uint32_t *param_oids;  /* statements only */
    int nparams;
};

struct prepared_table {
    struct prepared **slots;
    size_t nslots;
    size_t count;
};

void prepared_init(struct prepared_table *t);
/* Frees every entry and the slot array. */
void prepared_clear(struct prepared_table *t);
/* Returns the entry for name, or NULL. The pointer is valid until the entry is replaced. */
struct prepared *prepared_get(const struct prepared_table *t, const char *name);
/*
 * Adds or replaces name with a copy of sql and param_oids. Returns 0 or -ENOMEM (the table
 * is unchanged on failure).
 */
int prepared_put(struct prepared_table *t, const char *name, const char *sql,
                 const uint32_t *param_oids, int nparams) __attribute__((warn_unused_result));
/* Removes name if present. */
void prepared_del(struct prepared_table *t, const char *name);

#endif
