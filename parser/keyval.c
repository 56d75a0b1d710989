/*
 * keyval: canonical key bytes, and the reverse trip into a text-format array parameter.
 *
 * The rules mirror PostgreSQL 15's input and receive functions for the key types (int8in and
 * friends via pg_strtoint*, oidin's strtoul quirks, string_to_uuid, bpchar's blank-insensitive
 * equality, namein's 63-byte cut), because two keys are the same key exactly when the server
 * would find the same rows for them. Anything these functions are unsure of is refused with a
 * negative errno: a key that cannot be canonicalised is simply never batched.
 *
 * Owns nothing and keeps no state; every output goes to a caller's buffer except the one array
 * literal that keyval_array_build allocates.
 */
#include "parser/keyval.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define NAME_MAX_BYTES 63 /* NAMEDATALEN - 1 */
#define UUID_BYTES 16

enum keyval_class
keyval_class(uint32_t oid)
{
    switch (oid) {
    case KEYVAL_OID_INT2:
    case KEYVAL_OID_INT4:
    case KEYVAL_OID_INT8:
    case KEYVAL_OID_OID:
        return KEYVAL_CLASS_INT;
    case KEYVAL_OID_UUID:
        return KEYVAL_CLASS_UUID;
    case KEYVAL_OID_TEXT:
    case KEYVAL_OID_VARCHAR:
        return KEYVAL_CLASS_TEXT;
    case KEYVAL_OID_BPCHAR:
        return KEYVAL_CLASS_BPCHAR;
    case KEYVAL_OID_NAME:
        return KEYVAL_CLASS_NAME;
    default:
        return KEYVAL_CLASS_NONE;
    }
}

/* One row per key type: its SQL name and the OID of its array type (pg_type.typarray). */
static const struct {
    uint32_t oid;
    const char *name;
    uint32_t array_oid;
} key_types[] = {
    {KEYVAL_OID_NAME, "name", 1003},     {KEYVAL_OID_INT8, "int8", 1016},
    {KEYVAL_OID_INT2, "int2", 1005},     {KEYVAL_OID_INT4, "int4", 1007},
    {KEYVAL_OID_TEXT, "text", 1009},     {KEYVAL_OID_OID, "oid", 1028},
    {KEYVAL_OID_BPCHAR, "bpchar", 1014}, {KEYVAL_OID_VARCHAR, "varchar", 1015},
    {KEYVAL_OID_UUID, "uuid", 2951},
};

const char *
keyval_type_name(uint32_t oid)
{
    for (size_t i = 0; i < sizeof(key_types) / sizeof(key_types[0]); i++)
        if (key_types[i].oid == oid)
            return key_types[i].name;
    return NULL;
}

uint32_t
keyval_oid_named(const char *name)
{
    for (size_t i = 0; name && i < sizeof(key_types) / sizeof(key_types[0]); i++)
        if (strcmp(key_types[i].name, name) == 0)
            return key_types[i].oid;
    return 0;
}

uint32_t
keyval_array_oid(uint32_t oid)
{
    for (size_t i = 0; i < sizeof(key_types) / sizeof(key_types[0]); i++)
        if (key_types[i].oid == oid)
            return key_types[i].array_oid;
    return 0;
}

/* isspace() in the C locale, which is what the server's integer input functions use. */
static int
is_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static int
hex_value(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Writes sign and magnitude in decimal. */
static int
put_decimal(int negative, uint64_t mag, char *out, size_t cap, size_t *outlen)
{
    char tmp[24];
    size_t n = 0;

    do {
        tmp[n++] = (char)('0' + mag % 10);
        mag /= 10;
    } while (mag != 0);
    if (negative)
        tmp[n++] = '-';
    if (cap < n)
        return -ENOSPC;
    for (size_t i = 0; i < n; i++)
        out[i] = tmp[n - 1 - i];
    *outlen = n;
    return 0;
}

/*
 * Parses [spaces][sign]digits[spaces] like pg_strtoint64, into sign and magnitude. Fails on
 * anything else (PG 15 knows no underscores or hex in integer input).
 */
static int
parse_integer(const char *s, size_t len, int *negative, uint64_t *mag)
{
    size_t i = 0;
    uint64_t v = 0;

    while (i < len && is_space((unsigned char)s[i]))
        i++;
    *negative = 0;
    if (i < len && (s[i] == '-' || s[i] == '+'))
        *negative = s[i++] == '-';
    if (i == len || s[i] < '0' || s[i] > '9')
        return -EINVAL;
    for (; i < len && s[i] >= '0' && s[i] <= '9'; i++) {
        uint64_t d = (uint64_t)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return -ERANGE;
        v = v * 10 + d;
    }
    while (i < len && is_space((unsigned char)s[i]))
        i++;
    if (i != len)
        return -EINVAL;
    *mag = v;
    return 0;
}

static int
canon_int_text(uint32_t oid, const char *s, size_t len, char *out, size_t cap, size_t *outlen)
{
    int neg, rc;
    uint64_t mag;

    rc = parse_integer(s, len, &neg, &mag);
    if (rc < 0)
        return rc;
    if (mag == 0)
        neg = 0;
    switch (oid) {
    case KEYVAL_OID_INT2:
        if (mag > (neg ? 32768u : 32767u))
            return -ERANGE;
        break;
    case KEYVAL_OID_INT4:
        if (mag > (neg ? 2147483648u : 2147483647u))
            return -ERANGE;
        break;
    case KEYVAL_OID_INT8:
        if (mag > (neg ? (uint64_t)1 << 63 : ((uint64_t)1 << 63) - 1))
            return -ERANGE;
        break;
    case KEYVAL_OID_OID:
        /* oidin goes through strtoul: -1 is accepted and wraps to 4294967295. */
        if (neg) {
            if (mag > 2147483648u)
                return -ERANGE;
            mag = 4294967296u - mag;
            neg = 0;
        } else if (mag > 4294967295u) {
            return -ERANGE;
        }
        break;
    default:
        return -EINVAL;
    }
    return put_decimal(neg, mag, out, cap, outlen);
}

static int
put_uuid(const unsigned char *b, char *out, size_t cap, size_t *outlen)
{
    static const char hex[] = "0123456789abcdef";
    size_t n = 0;

    if (cap < 36)
        return -ENOSPC;
    for (int i = 0; i < UUID_BYTES; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out[n++] = '-';
        out[n++] = hex[b[i] >> 4];
        out[n++] = hex[b[i] & 15];
    }
    *outlen = n;
    return 0;
}

/* string_to_uuid: optional braces, 32 hex digits, a '-' allowed after any group of four. */
static int
canon_uuid_text(const char *s, size_t len, char *out, size_t cap, size_t *outlen)
{
    unsigned char b[UUID_BYTES];
    size_t i = 0;
    int braces = 0;

    if (i < len && s[i] == '{') {
        braces = 1;
        i++;
    }
    for (int k = 0; k < UUID_BYTES; k++) {
        int hi, lo;
        if (i + 2 > len)
            return -EINVAL;
        hi = hex_value((unsigned char)s[i]);
        lo = hex_value((unsigned char)s[i + 1]);
        if (hi < 0 || lo < 0)
            return -EINVAL;
        b[k] = (unsigned char)(hi << 4 | lo);
        i += 2;
        if (i < len && s[i] == '-' && k % 2 == 1 && k < UUID_BYTES - 1)
            i++;
    }
    if (braces) {
        if (i >= len || s[i] != '}')
            return -EINVAL;
        i++;
    }
    if (i != len)
        return -EINVAL;
    return put_uuid(b, out, cap, outlen);
}

/* Copies the bytes of a text-class value, applying bpchar's and name's equality rules. */
static int
canon_string(uint32_t oid, const char *s, size_t len, char *out, size_t cap, size_t *outlen)
{
    if (oid == KEYVAL_OID_BPCHAR) {
        while (len > 0 && s[len - 1] == ' ')
            len--;
    } else if (oid == KEYVAL_OID_NAME && len > NAME_MAX_BYTES) {
        len = NAME_MAX_BYTES;
        while (len > 0 && ((unsigned char)s[len] & 0xC0) == 0x80)
            len--;
    }
    if (cap < len)
        return -ENOSPC;
    if (len > 0)
        memmove(out, s, len);
    *outlen = len;
    return 0;
}

int
keyval_canon_text(uint32_t oid, const char *val, size_t len, char *out, size_t cap, size_t *outlen)
{
    switch (keyval_class(oid)) {
    case KEYVAL_CLASS_INT:
        return canon_int_text(oid, val, len, out, cap, outlen);
    case KEYVAL_CLASS_UUID:
        return canon_uuid_text(val, len, out, cap, outlen);
    case KEYVAL_CLASS_TEXT:
    case KEYVAL_CLASS_BPCHAR:
    case KEYVAL_CLASS_NAME:
        return canon_string(oid, val, len, out, cap, outlen);
    default:
        return -EINVAL;
    }
}

static uint64_t
read_be(const unsigned char *p, size_t n)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

int
keyval_canon_binary(uint32_t oid, const char *val, size_t len, char *out, size_t cap,
                    size_t *outlen)
{
    const unsigned char *p = (const unsigned char *)val;
    uint64_t v;

    switch (oid) {
    case KEYVAL_OID_INT2:
        if (len != 2)
            return -EINVAL;
        v = read_be(p, 2);
        if (v & 0x8000)
            return put_decimal(1, 0x10000 - v, out, cap, outlen);
        return put_decimal(0, v, out, cap, outlen);
    case KEYVAL_OID_INT4:
        if (len != 4)
            return -EINVAL;
        v = read_be(p, 4);
        if (v & 0x80000000u)
            return put_decimal(1, 0x100000000u - v, out, cap, outlen);
        return put_decimal(0, v, out, cap, outlen);
    case KEYVAL_OID_INT8:
        if (len != 8)
            return -EINVAL;
        v = read_be(p, 8);
        if (v >> 63)
            return put_decimal(1, ~v + 1, out, cap, outlen);
        return put_decimal(0, v, out, cap, outlen);
    case KEYVAL_OID_OID:
        if (len != 4)
            return -EINVAL;
        return put_decimal(0, read_be(p, 4), out, cap, outlen);
    case KEYVAL_OID_UUID:
        if (len != UUID_BYTES)
            return -EINVAL;
        return put_uuid(p, out, cap, outlen);
    case KEYVAL_OID_NAME:
        /* namerecv refuses names that do not fit; it does not cut them. */
        if (len > NAME_MAX_BYTES)
            return -EINVAL;
        return canon_string(oid, val, len, out, cap, outlen);
    case KEYVAL_OID_TEXT:
    case KEYVAL_OID_VARCHAR:
    case KEYVAL_OID_BPCHAR:
        return canon_string(oid, val, len, out, cap, outlen);
    default:
        return -EINVAL;
    }
}

int
keyval_canon_literal(uint32_t oid, enum keyval_lit lit, const char *value, size_t len, char *out,
                     size_t cap, size_t *outlen)
{
    enum keyval_class cls = keyval_class(oid);

    if (lit == KEYVAL_LIT_STRING)
        return keyval_canon_text(oid, value, len, out, cap, outlen);
    if (lit == KEYVAL_LIT_INTEGER && cls == KEYVAL_CLASS_INT)
        return keyval_canon_text(oid, value, len, out, cap, outlen);
    return -EINVAL;
}

/* 'it''s' */
static int
unquote_standard(const char *s, size_t len, char *out, size_t cap, size_t *outlen)
{
    size_t n = 0;

    if (len < 2 || s[len - 1] != '\'')
        return -EINVAL;
    for (size_t i = 1; i < len - 1; i++) {
        if (s[i] == '\'') {
            if (i + 1 >= len - 1 || s[i + 1] != '\'')
                return -EINVAL;
            i++;
        }
        if (n >= cap)
            return -ENOSPC;
        out[n++] = s[i];
    }
    *outlen = n;
    return 0;
}

/* Decodes one backslash escape of an E'' string at s[*i] (just after the backslash). */
static int
unescape_one(const char *s, size_t end, size_t *i, unsigned char *byte)
{
    unsigned char c = (unsigned char)s[*i];
    unsigned v = 0;
    int digits = 0;

    switch (c) {
    case 'b':
        *byte = '\b';
        break;
    case 'f':
        *byte = '\f';
        break;
    case 'n':
        *byte = '\n';
        break;
    case 'r':
        *byte = '\r';
        break;
    case 't':
        *byte = '\t';
        break;
    case 'u':
    case 'U':
        return -ENOTSUP; /* needs the server encoding */
    case 'x':
        while (digits < 2 && *i + 1 < end && hex_value((unsigned char)s[*i + 1]) >= 0) {
            v = v * 16 + (unsigned)hex_value((unsigned char)s[++*i]);
            digits++;
        }
        if (digits == 0) {
            *byte = 'x';
            break;
        }
        if (v == 0 || v >= 0x80)
            return -ENOTSUP; /* the server checks such bytes against its encoding */
        *byte = (unsigned char)v;
        break;
    default:
        if (c >= '0' && c <= '7') {
            v = c - '0';
            while (++digits < 3 && *i + 1 < end && s[*i + 1] >= '0' && s[*i + 1] <= '7')
                v = v * 8 + (unsigned)(s[++*i] - '0');
            if (v == 0 || v >= 0x80)
                return -ENOTSUP;
            *byte = (unsigned char)v;
            break;
        }
        *byte = c;
    }
    return 0;
}

/* E'a\'b' */
static int
unquote_escape(const char *s, size_t len, char *out, size_t cap, size_t *outlen)
{
    size_t n = 0, end = len - 1;

    if (len < 3 || s[end] != '\'')
        return -EINVAL;
    for (size_t i = 2; i < end; i++) {
        unsigned char b = (unsigned char)s[i];
        if (b == '\\') {
            int rc;
            if (++i >= end)
                return -EINVAL;
            rc = unescape_one(s, end, &i, &b);
            if (rc < 0)
                return rc;
        } else if (b == '\'') {
            if (i + 1 >= end || s[i + 1] != '\'')
                return -EINVAL;
            i++;
        }
        if (n >= cap)
            return -ENOSPC;
        out[n++] = (char)b;
    }
    *outlen = n;
    return 0;
}

/* $tag$...$tag$ */
static int
unquote_dollar(const char *s, size_t len, char *out, size_t cap, size_t *outlen)
{
    const char *close = memchr(s + 1, '$', len - 1);
    size_t tag, body;

    if (close == NULL)
        return -EINVAL;
    tag = (size_t)(close - s) + 1;
    if (len < 2 * tag || memcmp(s, s + len - tag, tag) != 0)
        return -EINVAL;
    body = len - 2 * tag;
    if (cap < body)
        return -ENOSPC;
    if (body > 0)
        memcpy(out, s + tag, body);
    *outlen = body;
    return 0;
}

int
keyval_unquote(const char *raw, size_t len, char *out, size_t cap, size_t *outlen)
{
    unsigned char c;

    if (len == 0)
        return -EINVAL;
    c = (unsigned char)raw[0];
    if ((c >= '0' && c <= '9') || c == '.') {
        for (size_t i = 0; i < len; i++)
            if (!strchr("0123456789.eE+-", raw[i]))
                return -EINVAL;
        if (cap < len)
            return -ENOSPC;
        memcpy(out, raw, len);
        *outlen = len;
        return 0;
    }
    if (c == '\'')
        return unquote_standard(raw, len, out, cap, outlen);
    if ((c == 'e' || c == 'E') && len > 1 && raw[1] == '\'')
        return unquote_escape(raw, len, out, cap, outlen);
    if (c == '$')
        return unquote_dollar(raw, len, out, cap, outlen);
    if (strchr("bBxXuUnN", c))
        return -ENOTSUP;
    return -EINVAL;
}

int
keyval_array_elem(const char *key, size_t len, char *out, size_t cap, size_t *outlen)
{
    size_t n = 0;

    if (cap < 2)
        return -ENOSPC;
    out[n++] = '"';
    for (size_t i = 0; i < len; i++) {
        if (key[i] == '"' || key[i] == '\\') {
            if (n + 1 >= cap)
                return -ENOSPC;
            out[n++] = '\\';
        }
        if (n + 1 >= cap)
            return -ENOSPC;
        out[n++] = key[i];
    }
    out[n++] = '"';
    *outlen = n;
    return 0;
}

int
keyval_array_build(const char *const *keys, const size_t *lens, size_t n, char **out,
                   size_t *outlen)
{
    size_t cap = 3, len = 0;
    char *buf;

    for (size_t i = 0; i < n; i++)
        cap += 2 * lens[i] + 3;
    buf = malloc(cap);
    if (buf == NULL)
        return -ENOMEM;
    buf[len++] = '{';
    for (size_t i = 0; i < n; i++) {
        size_t w;
        if (i > 0)
            buf[len++] = ',';
        /* cap was sized for the worst case, so this cannot run out of room. */
        if (keyval_array_elem(keys[i], lens[i], buf + len, cap - len, &w) < 0) {
            free(buf);
            return -ENOMEM;
        }
        len += w;
    }
    buf[len++] = '}';
    buf[len] = '\0';
    *out = buf;
    *outlen = len;
    return 0;
}
