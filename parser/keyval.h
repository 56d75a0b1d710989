/*
 * keyval: one canonical byte string per key value, whatever form the key arrived in.
 *
 * A lookup's key can reach pgfold as a SQL literal (simple protocol), as a text-format or
 * binary-format Bind parameter, or as a text- or binary-format DataRow value of an earlier
 * result. The batcher compares keys from all of these, so each is reduced to the same bytes:
 *
 *   integers (int2, int4, int8, oid)  decimal, no '+', no leading zeros, "-" only below zero
 *   uuid                              lowercase, hyphenated 8-4-4-4-12
 *   text, varchar                     the bytes as they are
 *   bpchar                            the bytes without trailing spaces (bpchar equality ignores
 *                                     them, so 'ab' and 'ab  ' are one key)
 *   name                              the bytes, cut to 63 bytes at a UTF-8 boundary as namein does
 *
 * A canonical string is also valid text input for its type, so the batcher can send keys back to
 * the server unchanged, as elements of one text-format array parameter (keyval_array_*).
 * Canonical strings carry no type tag: compare them only within one class (keyval_class).
 *
 * Pure functions: no allocation except keyval_array_build, no pg_query, no global state.
 */
#ifndef PGFOLD_KEYVAL_H
#define PGFOLD_KEYVAL_H

#include <stddef.h>
#include <stdint.h>

/* Type OIDs of the key types pgfold understands. */
#define KEYVAL_OID_NAME 19
#define KEYVAL_OID_INT8 20
#define KEYVAL_OID_INT2 21
#define KEYVAL_OID_INT4 23
#define KEYVAL_OID_TEXT 25
#define KEYVAL_OID_OID 26
#define KEYVAL_OID_BPCHAR 1042
#define KEYVAL_OID_VARCHAR 1043
#define KEYVAL_OID_UUID 2950

/* Longest canonical string of a fixed-size type (uuid: 36, int8: 20). */
#define KEYVAL_FIXED_MAX 40

/* What kind of SQL literal a key was written as. */
enum keyval_lit {
    KEYVAL_LIT_NONE = 0,
    KEYVAL_LIT_INTEGER, /* 7, 007, 9999999999 (digits only) */
    KEYVAL_LIT_NUMERIC, /* 1.5, .5, 1e3 */
    KEYVAL_LIT_STRING,  /* 'x', E'x', $$x$$ */
    KEYVAL_LIT_OTHER,   /* B'01', X'ff': never a key */
};

/* Comparison classes: keys of one class compare by their canonical bytes. */
enum keyval_class {
    KEYVAL_CLASS_NONE = 0, /* not a key type */
    KEYVAL_CLASS_INT,      /* int2, int4, int8, oid */
    KEYVAL_CLASS_UUID,
    KEYVAL_CLASS_TEXT, /* text, varchar */
    KEYVAL_CLASS_BPCHAR,
    KEYVAL_CLASS_NAME,
};

/* The class of a type OID; KEYVAL_CLASS_NONE for every type not listed above. */
enum keyval_class keyval_class(uint32_t oid);

/* The SQL type name for a key type OID ("int8", "uuid", ...), or NULL if not a key type. */
const char *keyval_type_name(uint32_t oid);

/* The key type OID of a type name as keyval_type_name spells it ("int8" -> 20), or 0. */
uint32_t keyval_oid_named(const char *name);

/* The OID of the array type over a key type (int8 -> 1016), or 0 if not a key type. */
uint32_t keyval_array_oid(uint32_t oid);

/*
 * Canonical form of a text-format value (a Bind parameter or DataRow field in format 0) of type
 * oid, following the type's input function (int8in, uuid_in, ...): integers may carry spaces
 * around them and a sign. Writes *outlen bytes to out (not NUL-terminated).
 * Returns 0; -EINVAL if the value is not valid input for the type or oid is not a key type;
 * -ERANGE if an integer is out of the type's range; -ENOSPC if cap is too small (cap >= len
 * always suffices for text types, KEYVAL_FIXED_MAX for the others).
 */
int keyval_canon_text(uint32_t oid, const char *val, size_t len, char *out, size_t cap,
                      size_t *outlen) __attribute__((warn_unused_result));

/*
 * Canonical form of a binary-format value (format 1) of type oid: big-endian integers of exactly
 * 2, 4, 8 or 4 (oid) bytes, 16 uuid bytes, or the raw bytes of a text type.
 * Returns 0, -EINVAL for a wrong length or type, -ENOSPC if cap is too small.
 */
int keyval_canon_binary(uint32_t oid, const char *val, size_t len, char *out, size_t cap,
                        size_t *outlen) __attribute__((warn_unused_result));

/*
 * Canonical form of a SQL literal used as a key for a column of type oid. value is the literal
 * unquoted and unescaped (what shape_slot_value gives; "-7" for a negated integer), lit its kind.
 * A string literal is typed by the column, like a text-format value; an integer literal is only
 * a key for an integer column; a numeric literal never is (PostgreSQL would compare as numeric).
 * Returns 0, -EINVAL when the literal cannot be a key of that type, -ERANGE, or -ENOSPC.
 */
int keyval_canon_literal(uint32_t oid, enum keyval_lit lit, const char *value, size_t len,
                         char *out, size_t cap, size_t *outlen) __attribute__((warn_unused_result));

/*
 * The value of a literal token as it is written in SQL (with standard_conforming_strings on):
 * 'it''s' -> it's; E'a\'b\n' -> a'b<newline>; $q$x$q$ -> x; 007 -> 007 (numbers are copied).
 * Returns 0; -ENOTSUP for forms pgfold does not decode (U&'...', E'\u...', escapes that make
 * non-ASCII or NUL bytes, bit strings); -EINVAL for a malformed token; -ENOSPC if cap is too small
 * (cap >= len always suffices).
 */
int keyval_unquote(const char *raw, size_t len, char *out, size_t cap, size_t *outlen)
    __attribute__((warn_unused_result));

/*
 * One element of a text-format array literal: the key in double quotes, with '"' and '\\'
 * escaped by a backslash ("a\"b"), so any bytes survive array_in. Needs at most 2 * len + 2
 * bytes. Returns 0 or -ENOSPC.
 */
int keyval_array_elem(const char *key, size_t len, char *out, size_t cap, size_t *outlen)
    __attribute__((warn_unused_result));

/*
 * A whole text-format array literal {"k1","k2",...} of n keys, in a new NUL-terminated buffer
 * that the caller frees with free(). This is the value the batcher binds (format 0) for the
 * batch query's key-array parameter. Returns 0 or -ENOMEM.
 */
int keyval_array_build(const char *const *keys, const size_t *lens, size_t n, char **out,
                       size_t *outlen) __attribute__((warn_unused_result));

#endif
