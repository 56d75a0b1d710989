/*
 * fkeys: the single-column foreign keys of one database, as pg_constraint declares them, so
 * the batcher can tell which result column feeds a lookup: a source column that references
 * the lookup's key column (forward loop), or is referenced by it (reverse loop).
 *
 * Filled from the rows of FKEYS_SQL (text format), the first result set of CATALOG_SQL
 * (catalog.h), once per worker and database; pure data, no I/O here.
 */
#ifndef PGFOLD_FKEYS_H
#define PGFOLD_FKEYS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Columns: conrelid, conkey[1], confrelid, confkey[1], relname, attname, frelname, fattname. */
#define FKEYS_SQL                                                                                 \
    "SELECT c.conrelid::int8, c.conkey[1], c.confrelid::int8, c.confkey[1], r.relname, "          \
    "a.attname, fr.relname, fa.attname FROM pg_catalog.pg_constraint c "                          \
    "JOIN pg_catalog.pg_class r ON r.oid = c.conrelid "                                           \
    "JOIN pg_catalog.pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1] "       \
    "JOIN pg_catalog.pg_class fr ON fr.oid = c.confrelid "                                        \
    "JOIN pg_catalog.pg_attribute fa ON fa.attrelid = c.confrelid AND fa.attnum = c.confkey[1] "  \
    "WHERE c.contype = 'f' AND array_length(c.conkey, 1) = 1 /* pgfold:off */ LIMIT 20000"

struct fkey {
    uint32_t rel, frel; /* referencing and referenced table OIDs */
    int16_t att, fatt;
    char relname[64], attname[64], frelname[64], fattname[64];
};

struct fkeys {
    struct fkey *v;
    size_t n, cap;
};

void fkeys_init(struct fkeys *k);
void fkeys_free(struct fkeys *k);
/* Adds one row of FKEYS_SQL: 8 text fields (pointers and lengths). Returns 0 or -EINVAL. */
int fkeys_add_row(struct fkeys *k, const char *const *fields, const size_t *lens)
    __attribute__((warn_unused_result));

/* Adds one DataRow body of FKEYS_SQL (text format). Returns 0 or -EINVAL (the row is skipped:
 * names decide for that key). */
int fkeys_add_datarow(struct fkeys *k, const uint8_t *body, size_t len)
    __attribute__((warn_unused_result));

/*
 * Does the source column (table OID, attribute number from RowDescription) reference the
 * key column (forward), or does the key column reference it (reverse)? Table names are
 * compared without schema.
 */
bool fkeys_forward(const struct fkeys *k, uint32_t src_rel, int16_t src_att, const char *key_table,
                   const char *key_column);
bool fkeys_reverse(const struct fkeys *k, const char *key_table, const char *key_column,
                   uint32_t src_rel, int16_t src_att);

#endif
