/*
 * fuzz_keyval: key canonicalization (parser/keyval.c) against independent oracles.
 *
 * Input: byte 0 picks the type (one of the nine key types, or a type that is not a key), the
 * rest is the value. Every entry point runs on it, into buffers of exactly the size it may use,
 * so a write past what the contract allows is an ASan report. Invariants:
 *   - canonical forms are fixed points: canonicalising a canonical string gives it back;
 *   - integers agree with a reference parser of PostgreSQL's int2/int4/int8/oid input rules,
 *     binary integers with their two's complement value, binary uuids with their text form;
 *   - an unquoted literal is what PostgreSQL itself reads: when the value parses with
 *     libpg_query as one string constant, keyval_unquote gives exactly that constant's bytes
 *     (a key pgfold reads differently from the server would be a different key);
 *   - keyval_array_build's literal decodes (array_in's quoting rules) back to the keys.
 */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include <pg_query.h>
#include <pg_query/pg_query.pb-c.h>

#include "parser/keyval.h"
#include "tests/fuzz/fuzz_util.h"

static const uint32_t oids[10] = {
    KEYVAL_OID_INT8,    KEYVAL_OID_INT4,   KEYVAL_OID_INT2, KEYVAL_OID_OID,  KEYVAL_OID_TEXT,
    KEYVAL_OID_VARCHAR, KEYVAL_OID_BPCHAR, KEYVAL_OID_NAME, KEYVAL_OID_UUID, 1700,
};

/* A copy in a heap block of exactly n bytes (n may be 0): reads past it are caught. */
static char *
exact(const void *p, size_t n)
{
    char *q = malloc(n ? n : 1);
    FUZZ_CHECK(q != NULL, "malloc");
    if (p && n)
        memcpy(q, p, n);
    return q;
}

static bool
c_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* PostgreSQL 15's integer input, independently: returns false when the server would refuse. */
static bool
ref_int(uint32_t oid, const char *s, size_t len, __int128 *out)
{
    size_t i = 0;
    bool neg = false;
    __int128 v = 0;
    while (i < len && c_space(s[i]))
        i++;
    if (i < len && (s[i] == '+' || s[i] == '-'))
        neg = s[i++] == '-';
    size_t d0 = i;
    while (i < len && s[i] >= '0' && s[i] <= '9') {
        v = v * 10 + (s[i++] - '0');
        if (v > ((__int128)1 << 70))
            return false;
    }
    if (i == d0)
        return false;
    while (i < len && c_space(s[i]))
        i++;
    if (i != len)
        return false;
    if (neg)
        v = -v;
    switch (oid) {
    case KEYVAL_OID_INT2:
        if (v < -32768 || v > 32767)
            return false;
        break;
    case KEYVAL_OID_INT4:
        if (v < INT32_MIN || v > INT32_MAX)
            return false;
        break;
    case KEYVAL_OID_INT8:
        if (v < INT64_MIN || v > INT64_MAX)
            return false;
        break;
    case KEYVAL_OID_OID: /* strtoul: a negative value wraps, within the 32-bit range */
        if (v < -(__int128)2147483648 || v > 4294967295)
            return false;
        if (v < 0)
            v += (__int128)1 << 32;
        break;
    default:
        return false;
    }
    *out = v;
    return true;
}

static bool
decimal_equals(const char *s, size_t n, __int128 v)
{
    char tmp[48];
    size_t k = sizeof(tmp);
    bool neg = v < 0;
    unsigned __int128 m = neg ? (unsigned __int128)(-(v + 1)) + 1 : (unsigned __int128)v;
    do {
        tmp[--k] = (char)('0' + (int)(m % 10));
        m /= 10;
    } while (m);
    if (neg)
        tmp[--k] = '-';
    return n == sizeof(tmp) - k && memcmp(s, tmp + k, n) == 0;
}

static void
check_uuid_form(const char *s, size_t n)
{
    FUZZ_CHECK(n == 36, "uuid length %zu", n);
    for (size_t i = 0; i < n; i++) {
        bool hyphen = i == 8 || i == 13 || i == 18 || i == 23;
        FUZZ_CHECK(hyphen ? s[i] == '-'
                          : ((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')),
                   "uuid byte %zu", i);
    }
}

/* Canonical output of oid re-canonicalises to itself. */
static void
fixed_point(uint32_t oid, const char *canon, size_t n)
{
    size_t cap = n > KEYVAL_FIXED_MAX ? n : KEYVAL_FIXED_MAX, m;
    char *in = exact(canon, n), *out = exact(NULL, cap);
    int rc = keyval_canon_text(oid, in, n, out, cap, &m);
    FUZZ_CHECK(rc == 0 && m == n && memcmp(out, canon, n) == 0,
               "canonical form of %u is not a fixed point (rc %d)", oid, rc);
    free(in);
    free(out);
}

static void
check_text(uint32_t oid, const char *val, size_t len)
{
    enum keyval_class cls = keyval_class(oid);
    bool fixed = cls == KEYVAL_CLASS_INT || cls == KEYVAL_CLASS_UUID;
    size_t cap = fixed ? KEYVAL_FIXED_MAX : len, n = 0;
    char *out = exact(NULL, cap);
    int rc = keyval_canon_text(oid, val, len, out, cap, &n);
    FUZZ_CHECK(rc == 0 || rc == -EINVAL || rc == -ERANGE, "canon_text %d", rc);
    FUZZ_CHECK(rc == 0 || cls != KEYVAL_CLASS_TEXT, "text refused");
    if (cls == KEYVAL_CLASS_INT) {
        __int128 v;
        bool ok = ref_int(oid, val, len, &v);
        FUZZ_CHECK(ok == (rc == 0), "int %u: reference says %d, keyval %d", oid, ok, rc);
        if (ok)
            FUZZ_CHECK(decimal_equals(out, n, v), "int %u: wrong value", oid);
    }
    if (rc == 0) {
        FUZZ_CHECK(n <= cap, "length");
        if (cls == KEYVAL_CLASS_UUID)
            check_uuid_form(out, n);
        if (cls == KEYVAL_CLASS_BPCHAR)
            FUZZ_CHECK(n == 0 || out[n - 1] != ' ', "bpchar keeps a trailing space");
        if (cls == KEYVAL_CLASS_NAME)
            FUZZ_CHECK(n <= 63, "name longer than 63 bytes");
        fixed_point(oid, out, n);
        /* A buffer one byte short is refused, not overrun. */
        if (n > 0) {
            char *small = exact(NULL, n - 1);
            size_t m;
            FUZZ_CHECK(keyval_canon_text(oid, val, len, small, n - 1, &m) == -ENOSPC,
                       "short buffer accepted");
            free(small);
        }
        char *lit = exact(NULL, cap);
        size_t m;
        int lrc = keyval_canon_literal(oid, KEYVAL_LIT_STRING, val, len, lit, cap, &m);
        FUZZ_CHECK(lrc == 0 && m == n && memcmp(lit, out, n) == 0, "string literal differs");
        lrc = keyval_canon_literal(oid, KEYVAL_LIT_INTEGER, val, len, lit, cap, &m);
        FUZZ_CHECK((lrc == 0) == (cls == KEYVAL_CLASS_INT), "integer literal for class %d", cls);
        FUZZ_CHECK(keyval_canon_literal(oid, KEYVAL_LIT_NUMERIC, val, len, lit, cap, &m) == -EINVAL,
                   "numeric literal accepted");
        free(lit);
    }
    free(out);
}

static void
check_binary(uint32_t oid, const char *val, size_t len)
{
    size_t cap = len > KEYVAL_FIXED_MAX ? len : KEYVAL_FIXED_MAX, n = 0;
    char *out = exact(NULL, cap);
    int rc = keyval_canon_binary(oid, val, len, out, cap, &n);
    const uint8_t *u = (const uint8_t *)val;
    __int128 v = 0;
    bool is_int = true;
    switch (oid) {
    case KEYVAL_OID_INT2:
        FUZZ_CHECK((rc == 0) == (len == 2), "int2 binary length");
        if (len == 2)
            v = (int16_t)(u[0] << 8 | u[1]);
        break;
    case KEYVAL_OID_INT4:
    case KEYVAL_OID_OID:
        FUZZ_CHECK((rc == 0) == (len == 4), "int4 binary length");
        if (len == 4) {
            uint32_t x = (uint32_t)u[0] << 24 | (uint32_t)u[1] << 16 | (uint32_t)u[2] << 8 | u[3];
            v = oid == KEYVAL_OID_OID ? (__int128)x : (__int128)(int32_t)x;
        }
        break;
    case KEYVAL_OID_INT8:
        FUZZ_CHECK((rc == 0) == (len == 8), "int8 binary length");
        if (len == 8) {
            uint64_t x = 0;
            for (int i = 0; i < 8; i++)
                x = x << 8 | u[i];
            v = (int64_t)x;
        }
        break;
    default:
        is_int = false;
    }
    if (rc == 0) {
        if (is_int)
            FUZZ_CHECK(decimal_equals(out, n, v), "binary int %u: wrong value", oid);
        if (oid == KEYVAL_OID_UUID) {
            check_uuid_form(out, n);
            /* The same bytes written as text canonicalise to the same string. */
            char text[40], back[KEYVAL_FIXED_MAX];
            size_t m;
            for (int i = 0; i < 16; i++)
                snprintf(text + 2 * i, 3, "%02X", u[i]);
            FUZZ_CHECK(keyval_canon_text(oid, text, 32, back, sizeof(back), &m) == 0 && m == n &&
                           memcmp(back, out, n) == 0,
                       "uuid text and binary disagree");
        }
        fixed_point(oid, out, n);
    }
    free(out);
}

/* What PostgreSQL reads for `SELECT <raw>` when that is one string constant; NULL otherwise. */
static char *
pg_string_const(const char *raw, size_t len, size_t *outlen)
{
    char *sql = malloc(len + 8);
    FUZZ_CHECK(sql != NULL, "malloc");
    memcpy(sql, "SELECT ", 7);
    memcpy(sql + 7, raw, len);
    sql[len + 7] = '\0';
    char *res = NULL;
    /* One token after SELECT, and all of raw: keyval_unquote is only ever given a token. */
    PgQueryScanResult sr = pg_query_scan(sql);
    bool one = false;
    if (sr.error == NULL) {
        PgQuery__ScanResult *st =
            pg_query__scan_result__unpack(NULL, sr.pbuf.len, (const uint8_t *)sr.pbuf.data);
        one = st && st->n_tokens == 2 && st->tokens[1]->start == 7 &&
              (size_t)st->tokens[1]->end == len + 7;
        if (st)
            pg_query__scan_result__free_unpacked(st, NULL);
    }
    pg_query_free_scan_result(sr);
    if (!one) {
        free(sql);
        return NULL;
    }
    PgQueryProtobufParseResult pr = pg_query_parse_protobuf(sql);
    if (pr.error == NULL) {
        PgQuery__ParseResult *t = pg_query__parse_result__unpack(
            NULL, pr.parse_tree.len, (const uint8_t *)pr.parse_tree.data);
        if (t && t->n_stmts == 1 &&
            t->stmts[0]->stmt->node_case == PG_QUERY__NODE__NODE_SELECT_STMT) {
            const PgQuery__SelectStmt *s = t->stmts[0]->stmt->select_stmt;
            if (s->n_target_list == 1 && !s->from_clause && !s->where_clause &&
                s->n_values_lists == 0 &&
                s->target_list[0]->node_case == PG_QUERY__NODE__NODE_RES_TARGET &&
                s->target_list[0]->res_target->val && !s->target_list[0]->res_target->name[0]) {
                const PgQuery__Node *v = s->target_list[0]->res_target->val;
                if (v->node_case == PG_QUERY__NODE__NODE_A_CONST &&
                    v->a_const->val_case == PG_QUERY__A__CONST__VAL_SVAL) {
                    res = strdup(v->a_const->sval->sval);
                    *outlen = strlen(res);
                }
            }
        }
        if (t)
            pg_query__parse_result__free_unpacked(t, NULL);
    }
    pg_query_free_protobuf_parse_result(pr);
    free(sql);
    return res;
}

static void
check_unquote(const char *raw, size_t len)
{
    size_t n = 0;
    char *out = exact(NULL, len);
    int rc = keyval_unquote(raw, len, out, len, &n);
    FUZZ_CHECK(rc == 0 || rc == -EINVAL || rc == -ENOTSUP, "unquote %d", rc);
    if (rc == 0) {
        FUZZ_CHECK(n <= len, "unquoted longer than quoted");
        bool quoted =
            len > 0 && (raw[0] == '\'' || raw[0] == '$' || raw[0] == 'e' || raw[0] == 'E');
        if (quoted && !memchr(raw, 0, len)) {
            size_t pn;
            char *pg = pg_string_const(raw, len, &pn);
            if (pg)
                FUZZ_CHECK(pn == n && memcmp(pg, out, n) == 0,
                           "keyval_unquote reads %.*s as \"%.*s\", PostgreSQL as \"%s\"", (int)len,
                           raw, (int)n, out, pg);
            free(pg);
        }
    }
    free(out);
}

/* array_in's reading of keyval_array_build's output: {"k1","k2"} with \" and \\ escapes. */
static void
check_array(const char *val, size_t len)
{
    const char *keys[16];
    size_t lens[16], nk = 0, at = 0;
    while (nk < 16) {
        const char *sep = memchr(val + at, 0xff, len - at);
        size_t end = sep ? (size_t)(sep - val) : len;
        keys[nk] = val + at;
        lens[nk++] = end - at;
        if (!sep)
            break;
        at = end + 1;
    }
    char *arr;
    size_t alen;
    FUZZ_CHECK(keyval_array_build(keys, lens, nk, &arr, &alen) == 0, "array_build");
    FUZZ_CHECK(arr[alen] == '\0' && arr[0] == '{' && arr[alen - 1] == '}', "array delimiters");
    size_t p = 1;
    for (size_t k = 0; k < nk; k++) {
        if (k > 0)
            FUZZ_CHECK(arr[p++] == ',', "array separator");
        FUZZ_CHECK(arr[p++] == '"', "array element quote");
        size_t m = 0;
        while (arr[p] != '"') {
            if (arr[p] == '\\')
                p++;
            FUZZ_CHECK(p < alen && m < lens[k] && arr[p] == keys[k][m], "array element %zu", k);
            p++;
            m++;
        }
        FUZZ_CHECK(m == lens[k], "array element %zu is short", k);
        p++;
    }
    FUZZ_CHECK(p == alen - 1, "array trailer");
    free(arr);

    /* keyval_array_elem with too little room refuses, never overruns. */
    size_t need = 2 * lens[0] + 2, got;
    for (size_t cap = 0; cap <= need && cap < 8; cap++) {
        char *o = exact(NULL, cap);
        int rc = keyval_array_elem(keys[0], lens[0], o, cap, &got);
        FUZZ_CHECK(rc == 0 || rc == -ENOSPC, "array_elem %d", rc);
        FUZZ_CHECK(rc != 0 || got <= cap, "array_elem length");
        free(o);
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint32_t oid = oids[data[0] % 10];
    char *val = exact(data + 1, size - 1);
    size_t len = size - 1;
    check_text(oid, val, len);
    check_binary(oid, val, len);
    check_unquote(val, len);
    check_array(val, len);
    FUZZ_CHECK(keyval_class(oid) == KEYVAL_CLASS_NONE || keyval_array_oid(oid) != 0, "array oid");
    FUZZ_CHECK((keyval_type_name(oid) != NULL) == (keyval_class(oid) != KEYVAL_CLASS_NONE),
               "type name");
    free(val);
    return 0;
}
