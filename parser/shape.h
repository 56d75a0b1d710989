/*
 * shape: what one SQL string is, as far as batching cares.
 *
 * shape_analyze turns SQL text (plus, for the extended protocol, the parameter type OIDs of the
 * Parse message) into a struct shape: the statement kind, the libpg_query fingerprint, the
 * candidate key slots of an eligible single-key read, flags, tables, and everything
 * shape_batch_sql needs to write the batched form. A parse failure is SHAPE_UNKNOWN, never an
 * error. Analysis costs a full libpg_query parse (~100-200 us), so the proxy goes through the
 * per-worker shape cache (shapecache.h), which runs it once per distinct shape.
 *
 * Shapes are immutable once built and reference-counted (not atomically: a shape belongs to one
 * worker thread). Positions (off, len) are byte offsets into shape->text.
 *
 * One shape can stand for many texts. The shape cache shares a SELECT/INSERT/UPDATE/DELETE shape
 * between texts that differ only in their literal constants ("... id = 7" and "... id = 8"), so
 * shape->text is the first such text seen. Everything specific to the text in hand (the key
 * literal's value, the other literals, the batched SQL) is therefore computed from that text and
 * its literal list (struct shape_lits), never from shape->text.
 *
 * The literal scanning assumes standard_conforming_strings = on (the default since 9.1, and what
 * libpg_query assumes). A session that turns it off must not use the parser's answers.
 */
#ifndef PGFOLD_SHAPE_H
#define PGFOLD_SHAPE_H

#include <stddef.h>
#include <stdint.h>

#include "parser/keyval.h"

enum shape_kind {
    SHAPE_UNKNOWN = 0, /* does not parse with the PostgreSQL 15 grammar */
    SHAPE_EMPTY,       /* only whitespace and comments: the server sends EmptyQueryResponse */
    SHAPE_LOOKUP,      /* eligible single-key read: nslots >= 1 */
    SHAPE_READ,        /* provably read-only, not eligible (SELECT, SHOW, EXPLAIN, VALUES) */
    SHAPE_WRITE,       /* may change data or take row locks: DML, SELECT FOR UPDATE, SELECT with a
                          function outside the allow-list, data-modifying CTE, SELECT INTO,
                          COPY FROM, CALL, DO, TRUNCATE */
    SHAPE_TXN,         /* transaction control; see struct shape_txn */
    SHAPE_SESSION,     /* SET, RESET, SET ROLE, SET SESSION AUTHORIZATION, SET TRANSACTION,
                          DISCARD; see struct shape_session */
    SHAPE_UTILITY,     /* everything else: DDL, COPY TO, LOCK, VACUUM, PREPARE/EXECUTE/DEALLOCATE,
                          LISTEN/NOTIFY, FETCH/MOVE/CLOSE, ... */
};
#define SHAPE_KIND_COUNT (SHAPE_UTILITY + 1)

/* shape->flags. All but MULTI/OPTOUT/RESERVED describe the top-level SELECT. */
#define SHAPE_F_LIMIT (1u << 0) /* LIMIT or FETCH FIRST (not LIMIT ALL) */
#define SHAPE_F_OFFSET (1u << 1)
#define SHAPE_F_ORDER_BY (1u << 2)
#define SHAPE_F_DISTINCT (1u << 3)  /* DISTINCT or DISTINCT ON */
#define SHAPE_F_AGGREGATE (1u << 4) /* an aggregate call or HAVING at the top level */
#define SHAPE_F_GROUP_BY (1u << 5)
#define SHAPE_F_WINDOW (1u << 6)  /* a window function (OVER) at the top level */
#define SHAPE_F_SETOP (1u << 7)   /* UNION / INTERSECT / EXCEPT */
#define SHAPE_F_LOCKING (1u << 8) /* FOR UPDATE / NO KEY UPDATE / SHARE / KEY SHARE anywhere */
#define SHAPE_F_MODIFYING_CTE (1u << 9)
#define SHAPE_F_UNSAFE_FUNC (1u << 10) /* a function outside the read-only allow-list */
#define SHAPE_F_WITH (1u << 11)        /* has a WITH clause */
#define SHAPE_F_INTO (1u << 12)        /* SELECT ... INTO creates a table */
#define SHAPE_F_MULTI (1u << 13)       /* several statements in one string */
#define SHAPE_F_OPTOUT (1u << 14)      /* a comment containing pgfold:off */
#define SHAPE_F_TABLESAMPLE (1u << 15)
#define SHAPE_F_SUBQUERY (1u << 16) /* a subquery anywhere (FROM, WHERE, target list) */
#define SHAPE_F_RESERVED (1u << 17) /* uses an identifier starting with pgfold_ */
#define SHAPE_F_VALUES (1u << 18)   /* a VALUES list */

/* shape_slot.flags */
#define SHAPE_SLOT_KEY_LEFT (1u << 0) /* written `<key> = <column>` */
#define SHAPE_SLOT_IN (1u << 1)       /* written `<column> IN (<key>)` */
#define SHAPE_SLOT_CAST (1u << 2)     /* the key carries a cast: $1::int8, '..'::uuid, CAST() */
#define SHAPE_SLOT_NEGATIVE (1u << 3) /* a literal written with a leading minus sign */
#define SHAPE_SLOT_REUSED (1u << 4)   /* $n also appears elsewhere; the batch replaces every use */
#define SHAPE_SLOT_ANY_OK (1u << 5)   /* SHAPE_BATCH_ANY is valid for this slot */
#define SHAPE_SLOT_CAST_MOD (1u << 6) /* the cast has a type modifier or array bounds
                                         (varchar(10), int8[]) or names a schema other than
                                         pg_catalog: it may change the value */

/*
 * A candidate key: a top-level AND conjunct `<column> = <key>` (either side), or
 * `<column> IN (<key>)` with one element, of the top-level WHERE (or of each branch of a set
 * operation). Where several conjuncts qualify all are listed; the batcher picks the one whose
 * values match a source column.
 */
struct shape_slot {
    int param;                /* 1-based $n, or 0 for a literal key */
    int lit;                  /* index into the literal list (shape->lits, struct shape_lits),
                                 or -1 for a parameter key */
    enum keyval_lit lit_type; /* kind of literal; KEYVAL_LIT_NONE for a parameter */
    char *lit_value;          /* literal key of shape->text, unquoted and unescaped as the
                                 server reads it ("-7" when negated); NULL for a parameter.
                                 For another text use shape_slot_value(). */
    size_t lit_value_len;
    uint32_t off, len;  /* the key in shape->text: the $n token, or the literal token
                           (with its leading minus sign when negated) */
    char *qualifier;    /* as written, dot-joined: "polls_choice", "c1_0", "s.t"; NULL
                           when the column is unqualified */
    char *column;       /* "id", "question_id" */
    char *schema;       /* schema of the resolved table; NULL unless written in the SQL */
    char *table;        /* the table the column resolves to: the FROM item the qualifier
                           names (an alias resolves to its table), or the only FROM item
                           when unqualified. NULL when that item is not a table (subquery,
                           CTE, function, join alias) or is not unique. */
    char *cast_type;    /* type name of an explicit cast on the key ("int8", "uuid"), or
                           NULL */
    uint32_t param_oid; /* for a parameter key: its Parse type OID, 0 if unspecified */
    unsigned flags;     /* SHAPE_SLOT_* */

    /* Private to shape.c: spans used to write the = ANY form. */
    uint32_t col_off, col_len;   /* the column reference */
    uint32_t conj_off, conj_len; /* the whole comparison */
};

/* A literal constant token of a text. */
struct shape_lit {
    uint32_t off, len; /* byte span of the token, quotes and E prefix included, minus sign
                          excluded */
    enum keyval_lit type;
};

/*
 * The literal constants of one text, in order. Caller-owned and reusable: shapecache_get
 * overwrites it on each call and grows v as needed; release with shape_lits_free.
 */
struct shape_lits {
    struct shape_lit *v;
    int n;
    int cap;
};

struct shape_table {
    char *schema; /* NULL unless written */
    char *name;
};

enum shape_txn_op {
    SHAPE_TXN_NONE = 0,
    SHAPE_TXN_BEGIN,    /* BEGIN / START TRANSACTION */
    SHAPE_TXN_COMMIT,   /* COMMIT / END */
    SHAPE_TXN_ROLLBACK, /* ROLLBACK / ABORT */
    SHAPE_TXN_SAVEPOINT,
    SHAPE_TXN_RELEASE,
    SHAPE_TXN_ROLLBACK_TO,
    SHAPE_TXN_PREPARE, /* PREPARE TRANSACTION */
    SHAPE_TXN_COMMIT_PREPARED,
    SHAPE_TXN_ROLLBACK_PREPARED,
};

enum shape_isolation {
    SHAPE_ISO_DEFAULT = 0, /* not given */
    SHAPE_ISO_READ_UNCOMMITTED,
    SHAPE_ISO_READ_COMMITTED,
    SHAPE_ISO_REPEATABLE_READ,
    SHAPE_ISO_SERIALIZABLE,
};

/* For SHAPE_TXN, and for SET TRANSACTION / SET SESSION CHARACTERISTICS (isolation, read_only,
 * deferrable only). In a multi-statement string: the last such statement. */
struct shape_txn {
    enum shape_txn_op op;
    enum shape_isolation isolation;
    int read_only;  /* -1 not given, 0 READ WRITE, 1 READ ONLY */
    int deferrable; /* -1 not given, 0, 1 */
    int chain;      /* COMMIT/ROLLBACK AND CHAIN */
    char *name;     /* savepoint name or prepared-transaction gid; NULL otherwise */
};

enum shape_session_op {
    SHAPE_SESSION_NONE = 0,
    SHAPE_SESSION_SET,   /* SET [LOCAL] name ... (also SET name TO DEFAULT) */
    SHAPE_SESSION_RESET, /* RESET name */
    SHAPE_SESSION_RESET_ALL,
    SHAPE_SESSION_SET_ROLE,            /* SET ROLE / RESET ROLE (name "role") */
    SHAPE_SESSION_SET_AUTH,            /* SET/RESET SESSION AUTHORIZATION */
    SHAPE_SESSION_SET_TRANSACTION,     /* SET TRANSACTION ... (see shape.txn) */
    SHAPE_SESSION_SET_CHARACTERISTICS, /* SET SESSION CHARACTERISTICS AS TRANSACTION ... */
    SHAPE_SESSION_DISCARD,
};

enum shape_discard {
    SHAPE_DISCARD_NONE = 0,
    SHAPE_DISCARD_ALL,
    SHAPE_DISCARD_PLANS,
    SHAPE_DISCARD_SEQUENCES,
    SHAPE_DISCARD_TEMP,
};

/* For SHAPE_SESSION. In a multi-statement string: the last such statement. */
struct shape_session {
    enum shape_session_op op;
    char *name;   /* lowercase setting name ("search_path", "role", "timezone"), or NULL */
    int is_local; /* SET LOCAL */
    int is_reset; /* RESET ROLE, RESET SESSION AUTHORIZATION, SET x TO DEFAULT */
    enum shape_discard discard;
};

struct shape {
    int refs; /* see shape_ref / shape_unref */
    enum shape_kind kind;
    unsigned flags;    /* SHAPE_F_* */
    unsigned contains; /* bit (1u << kind) for each statement's own kind */
    int nstmts;
    uint64_t fingerprint; /* pg_query_fingerprint: the shape's id; 0 when unknown */
    char *text;           /* the analysed text, NUL-terminated; see "one shape, many texts" */
    size_t len;
    char *normalized; /* pg_query_normalize, constants as $n, for humans; NULL if unknown */
    char *error;      /* the parse error for SHAPE_UNKNOWN, else NULL */
    int nparams;      /* N: max($n referenced, number of Parse types given) */
    int nslots;
    struct shape_slot *slots;
    int nlits; /* literal constants of shape->text, every one of them */
    struct shape_lit *lits;
    int ntables;
    struct shape_table *tables; /* every table named, deduplicated, CTE names excluded */
    struct shape_txn txn;
    struct shape_session session;

    /* Private to the parser. */
    int shareable;               /* texts that differ only in literals may share this shape */
    uint32_t stmt_off, stmt_end; /* the statement without trailing ';' and what follows */
    uint32_t target_off;         /* start of the first target (for the = ANY form), 0 if none */
    int nprefs;                  /* every $n token of the text, in order */
    struct shape_pref {
        uint32_t off, len;
        int n;
    } * prefs;
};

/* The two batched forms of DESIGN.md section 5.4. */
enum shape_batch_form {
    SHAPE_BATCH_LATERAL = 0,
    SHAPE_BATCH_ANY,
};

/*
 * Analyses sql[0..len) (need not be NUL-terminated; a NUL byte inside makes it SHAPE_UNKNOWN).
 * param_oids/nparams are the Parse message's parameter types (0 = unspecified); pass NULL/0 for
 * the simple protocol. On success *out is a new shape with one reference, which the caller
 * releases with shape_unref. Unparseable SQL is a success with kind SHAPE_UNKNOWN.
 * Returns 0, -ENOMEM, or -E2BIG if len exceeds 1 GiB.
 */
int shape_analyze(const char *sql, size_t len, const uint32_t *param_oids, int nparams,
                  struct shape **out) __attribute__((warn_unused_result));

/* Adds a reference. Returns s. */
struct shape *shape_ref(struct shape *s);

/* Drops a reference; frees the shape with the last one. NULL is ignored. */
void shape_unref(struct shape *s);

/*
 * Writes the value of candidate slot `slot` as it appears in sql[0..len) (a text this shape
 * stands for, with lits its literal list as filled by shapecache_get): unquoted, unescaped, with
 * a leading '-' when negated. Pass sql = NULL, lits = NULL for shape->text itself. Feed the result
 * to keyval_canon_literal together with slot->lit_type. Returns 0; -EINVAL for a parameter slot or
 * a literal list that does not fit the shape; -ENOTSUP for literal spellings pgfold does not decode
 * (the call is then simply not batched); -ENOSPC if cap is too small (the token's length plus one
 * always suffices).
 */
int shape_slot_value(const struct shape *s, const char *sql, size_t len,
                     const struct shape_lits *lits, int slot, char *out, size_t cap, size_t *outlen)
    __attribute__((warn_unused_result));

/*
 * Writes the batched query for candidate slot `slot` into a new NUL-terminated string *out_sql
 * (caller frees). sql[0..len)/lits are the text in hand and its literal list as above (NULL, 0,
 * NULL for shape->text). key_type is the SQL type of the keys ("int8", "text", "uuid", ...; see
 * keyval_type_name); it names the array element type of the new parameter.
 *
 * With N = s->nparams, the key array is parameter $(N+1); every other parameter keeps its
 * number and meaning, and every other literal stays in the text.
 *
 * SHAPE_BATCH_LATERAL (always valid):
 *   SELECT pgfold_k.pgfold_ord, pgfold_t.* FROM unnest($N+1::<key_type>[]) WITH ORDINALITY
 *   AS pgfold_k(pgfold_v, pgfold_ord) CROSS JOIN LATERAL (<statement>\n) AS pgfold_t
 * where <statement> is the text without its trailing ';' and with the key (every use of $n
 * for a parameter slot) replaced by (pgfold_k.pgfold_v). Column 1 is the 1-based position of
 * the key in the array (int8); the statement's own columns follow. Rows of one key keep the
 * statement's order; rows of different keys may interleave, so group by column 1.
 *
 * SHAPE_BATCH_ANY (only if slot->flags has SHAPE_SLOT_ANY_OK):
 *   the statement with `<column> = <key>` replaced by `<column> = ANY($N+1::<key_type>[])`,
 *   and `<column> AS pgfold_key, ` inserted before the first target. Column 1 is the key
 *   column's value; the statement's own columns follow.
 *
 * In both forms a parameter slot's $n is no longer referenced. PostgreSQL rejects a Parse
 * whose unreferenced parameter has no type ("could not determine data type of parameter $n"),
 * so the batcher's Parse must give $n a concrete type OID (the client's, or the key type's)
 * and its Bind may send NULL for it. See docs/parser.md.
 *
 * Returns 0; -EINVAL for a bad slot, form, key_type, or a literal list that does not fit;
 * -E2BIG when N is already 65535 (the protocol's limit); -ENOMEM.
 */
int shape_batch_sql(const struct shape *s, const char *sql, size_t len,
                    const struct shape_lits *lits, int slot, const char *key_type,
                    enum shape_batch_form form, char **out_sql) __attribute__((warn_unused_result));

/* Frees the array of a literal list and zeroes it. */
void shape_lits_free(struct shape_lits *lits);

/* "lookup", "read", ... for logs and the admin port. */
const char *shape_kind_name(enum shape_kind kind);

/* Releases libpg_query's per-thread memory. Call from each worker thread before it exits. */
void shape_thread_exit(void);

#endif
