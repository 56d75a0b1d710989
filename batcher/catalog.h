/*
 * catalog: what pgfold knows of one database's schema, read in-band with CATALOG_SQL once per
 * worker and database (again after DDL): the foreign keys (fkeys.h, for choosing source
 * columns) and the relations, for freshness across sessions:
 *
 *   reads   an answer over a plain table depends on that table; over a view, on the plain
 *           tables the view reads (a view over anything else, or calling a user-defined or
 *           volatile function, is never cached); a relation the catalog does not know (created
 *           after it was read, a temporary table) makes the answer depend on every write;
 *           relations in pg_catalog and information_schema are never cached at all;
 *   writes  a write touches the tables it names, the tables their ON DELETE/UPDATE CASCADE,
 *           SET NULL and SET DEFAULT foreign keys reach, and their inheritance parents and
 *           children; a write to a table with user triggers or rules, to a view, or to a
 *           relation the catalog does not know may touch anything.
 *
 * Relations are known by name, without schema: two tables of one name in two schemas share
 * their fate, which only costs a miss. Pure data: filled from CATALOG_SQL's rows, no I/O.
 */
#ifndef PGFOLD_CATALOG_H
#define PGFOLD_CATALOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "batcher/answer.h"
#include "batcher/fkeys.h"
#include "parser/shape.h"

/*
 * Two result sets: FKEYS_SQL's 8 columns, then one row per relation, edge or view dependency
 * with 4 text columns (kind, a, b, c):
 *   r  relation a, relkind b, c 'true' if it has user triggers or rules
 *   c  a write to a reaches b (a foreign key of b with a cascading action)
 *   i  a is an inheritance parent of b
 *   v  view a reads relation b of relkind c (c ends in '!' for a catalog relation)
 *   f  view a calls a user-defined or volatile function
 */
#define CATALOG_REL_SQL                                                                            \
    "SELECT 'r', c.relname::text, c.relkind::text, (c.relhasrules OR EXISTS (SELECT 1 FROM "       \
    "pg_catalog.pg_trigger t WHERE t.tgrelid = c.oid AND NOT t.tgisinternal))::text FROM "        \
    "pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE "        \
    "c.relkind IN ('r', 'p', 'v', 'm', 'f') AND n.nspname <> 'information_schema' AND n.nspname " \
    "!~ '^pg_' UNION ALL SELECT 'c', p.relname::text, ch.relname::text, '' FROM "                  \
    "pg_catalog.pg_constraint k JOIN pg_catalog.pg_class p ON p.oid = k.confrelid JOIN "           \
    "pg_catalog.pg_class ch ON ch.oid = k.conrelid WHERE k.contype = 'f' AND (k.confdeltype IN "   \
    "('c', 'n', 'd') OR k.confupdtype IN ('c', 'n', 'd')) UNION ALL SELECT 'i', p.relname::text, " \
    "ch.relname::text, '' FROM pg_catalog.pg_inherits i JOIN pg_catalog.pg_class p ON p.oid = "    \
    "i.inhparent JOIN pg_catalog.pg_class ch ON ch.oid = i.inhrelid UNION ALL SELECT DISTINCT "    \
    "'v', v.relname::text, t.relname::text, t.relkind::text || CASE WHEN tn.nspname = "           \
    "'information_schema' OR tn.nspname ~ '^pg_' THEN '!' ELSE '' END FROM pg_catalog.pg_rewrite " \
    "r JOIN pg_catalog.pg_class v ON v.oid = r.ev_class JOIN pg_catalog.pg_depend d ON d.classid " \
    "= 'pg_catalog.pg_rewrite'::pg_catalog.regclass AND d.objid = r.oid AND d.refclassid = "       \
    "'pg_catalog.pg_class'::pg_catalog.regclass JOIN pg_catalog.pg_class t ON t.oid = d.refobjid " \
    "JOIN pg_catalog.pg_namespace tn ON tn.oid = t.relnamespace WHERE v.relkind = 'v' AND t.oid " \
    "<> v.oid UNION ALL SELECT DISTINCT 'f', v.relname::text, p.provolatile::text, '' FROM pg_catalog.pg_rewrite r " \
    "JOIN pg_catalog.pg_class v ON v.oid = r.ev_class JOIN pg_catalog.pg_depend d ON d.classid = " \
    "'pg_catalog.pg_rewrite'::pg_catalog.regclass AND d.objid = r.oid AND d.refclassid = "         \
    "'pg_catalog.pg_proc'::pg_catalog.regclass JOIN pg_catalog.pg_proc p ON p.oid = d.refobjid "   \
    "WHERE v.relkind = 'v' AND (p.oid >= 16384 OR p.provolatile = 'v') /* pgfold:off */ LIMIT "    \
    "200000"
/* (The 'f' rows' third column is the function's provolatile, 'v' for volatile.) */

/* CATALOG_SQL is FKEYS_SQL and CATALOG_REL_SQL, sent as two pipelined Queries. */

#define CATALOG_MAX_WRITE 32 /* tables one write may name before it counts as touching anything */

struct catalog_rel {
    uint64_t hash; /* fresh_table(name); 0 marks an empty slot */
    char kind;     /* relkind: r p v m f */
    bool writes_others; /* user triggers or rules */
    bool view_ok;       /* a view over tables and views, calling no volatile function */
    bool view_any;      /* ... that reads more than its tables (another view, or a user
                           function that may read anything): its answers depend on any write */
};

struct catalog_edge {
    char kind; /* 'c', 'i', 'v' */
    uint64_t from, to;
    char to_kind; /* 'v': the relkind read; '!' when it is a catalog relation */
};

struct catalog {
    char database[64];
    bool loaded;    /* CATALOG_SQL answered (also with an error: then it knows nothing) */
    bool requested; /* a session has sent it and waits */
    uint64_t ddl;   /* fresh_ddl() when it was sent: later DDL makes it stale */
    struct fkeys fk;
    struct catalog_rel *rels; /* open addressing by hash, nslots a power of two */
    size_t nslots, nrels;
    struct catalog_edge *edges;
    size_t nedges, capedges;
};

void catalog_init(struct catalog *c, const char *database);
void catalog_free(struct catalog *c);
/* Forgets everything read (before reading it again); keeps the database name. */
void catalog_reset(struct catalog *c);

/* One DataRow body of CATALOG_SQL (either result set). Returns 0 or -EINVAL / -ENOMEM (the
 * row is skipped: what it described stays unknown, which is the safe side). */
int catalog_add_datarow(struct catalog *c, const uint8_t *body, size_t len)
    __attribute__((warn_unused_result));
/* All rows are in: works out which views may be cached. */
void catalog_finish(struct catalog *c);

/* Is it read, and read after the latest DDL (ddl_now = fresh_ddl())? */
bool catalog_current(const struct catalog *c, uint64_t ddl_now);

/* Does the statement read a relation of pg_catalog or information_schema? */
bool catalog_reads_system(const struct shape *sh);

/*
 * The tables an answer of this shape depends on, into d (t, n, any). c may be NULL or not
 * current (pass current = catalog_current(...)): then the answer depends on every write.
 * Returns false when the answer must not be cached at all (a system relation, a view pgfold
 * cannot see through).
 */
bool catalog_read_deps(const struct catalog *c, bool current, const struct shape *sh,
                       struct answer_deps *d);

/*
 * The tables a write of this shape touches: up to max hashes into out, *n of them; *all when
 * it may touch anything (then out is not needed).
 */
void catalog_write_set(const struct catalog *c, bool current, const struct shape *sh,
                       uint64_t *out, int max, int *n, bool *all);

#endif
