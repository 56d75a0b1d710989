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
    struct prepared *next; /* hash chain, or the free list */
    char *name;
    char *sql;             /* statements: the query text; portals: the statement's name */
    uint32_t *param_oids;  /* statements only */
    int nparams;
    uint8_t *desc;         /* RowDescription body from the server's answer to a Describe of it */
    size_t desclen;        /* 0: not described (or NoData) */
    size_t name_cap, sql_cap, desc_cap; /* allocated sizes: a reused entry keeps its storage */
    int oids_cap;
};

/*
 * Entries removed by prepared_del or prepared_reset go to a short free list and are reused
 * by the next prepared_put: a driver that binds the unnamed portal once per transaction
 * would otherwise allocate and free an entry every time.
 */
struct prepared_table {
    struct prepared **slots;
    size_t nslots;
    size_t count;
    struct prepared *free_list;
    size_t nfree;
};

void prepared_init(struct prepared_table *t);
/* Frees every entry and the slot array. */
void prepared_clear(struct prepared_table *t);
/* Removes every entry (keeping storage for reuse). Cheap when the table is empty. */
void prepared_reset(struct prepared_table *t);
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

/* Keeps a copy of the RowDescription body the server gave for a Describe of the entry.
 * Returns 0 or -ENOMEM (the entry is then left undescribed). */
int prepared_set_desc(struct prepared *e, const uint8_t *body, size_t len)
    __attribute__((warn_unused_result));
/* Sets the parameter types (a statement whose Parse gave none: the server's
 * ParameterDescription). Returns 0 or -ENOMEM (unchanged). */
int prepared_set_params(struct prepared *e, const uint32_t *oids, int n)
    __attribute__((warn_unused_result));

#endif
