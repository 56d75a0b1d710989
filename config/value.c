/*
 * value: the grammar of single setting values. Numbers with PostgreSQL's units ("16MB",
 * "500ms"), listen addresses, comma lists, and the upstream connection string, which libpq
 * itself parses so pgfold accepts exactly what psql would.
 *
 * Owns no state. Input is one trimmed value; output is the parsed value or a short phrase
 * saying what was expected. Numbers are parsed digit by digit, not with strtoull, which
 * would quietly accept "-1", "+5", " 7" and "0x10".
 */
#include "config/value.h"

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <libpq-fe.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

void
value_fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    if (err == NULL || errlen == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

struct unit {
    const char *suffix;
    uint64_t mult;
};

/* Case-sensitive like PostgreSQL's, plus "KB", which people write anyway. */
static const struct unit size_units[] = {
    {"B", 1},           {"kB", 1ULL << 10}, {"KB", 1ULL << 10}, {"MB", 1ULL << 20},
    {"GB", 1ULL << 30}, {"TB", 1ULL << 40}, {NULL, 0},
};

static const struct unit duration_units[] = {
    {"ms", 1}, {"s", 1000}, {"min", 60000}, {"h", 3600000}, {"d", 86400000}, {NULL, 0},
};

static void say(char *why, size_t whylen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
say(char *why, size_t whylen, const char *fmt, ...)
{
    va_list ap;

    if (why == NULL || whylen == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(why, whylen, fmt, ap);
    va_end(ap);
}

/* Reads the leading digits of s; *end points past them. Fails on no digits or overflow. */
static int
parse_digits(const char *s, uint64_t *out, const char **end)
{
    uint64_t v = 0;
    const char *p = s;

    if (!isdigit((unsigned char)*p))
        return -EINVAL;
    for (; isdigit((unsigned char)*p); p++) {
        uint64_t d = (uint64_t)(*p - '0');
        if (v > (UINT64_MAX - d) / 10)
            return -ERANGE;
        v = v * 10 + d;
    }
    *out = v;
    *end = p;
    return 0;
}

/* Digits, optional blanks, optional unit from the table, nothing else. */
static int
parse_scaled(const char *s, const struct unit *units, uint64_t *out)
{
    const char *p;
    uint64_t v;
    int rc = parse_digits(s, &v, &p);

    if (rc < 0)
        return rc;
    while (*p == ' ' || *p == '\t')
        p++;
    if (*p == '\0') {
        *out = v;
        return 0;
    }
    for (const struct unit *u = units; u->suffix != NULL; u++) {
        if (strcmp(p, u->suffix) != 0)
            continue;
        if (v > UINT64_MAX / u->mult)
            return -ERANGE;
        *out = v * u->mult;
        return 0;
    }
    return -EINVAL;
}

int
value_parse_count(const char *s, uint64_t *out)
{
    const char *end;
    uint64_t v;
    int rc = parse_digits(s, &v, &end);

    if (rc < 0)
        return rc;
    if (*end != '\0')
        return -EINVAL;
    *out = v;
    return 0;
}

int
value_parse_fraction(const char *s, uint64_t *out)
{
    uint64_t whole = 0, frac = 0, scale = 1000000;
    const char *p = s;
    bool digits = false;

    for (; *p >= '0' && *p <= '9'; p++, digits = true) {
        whole = whole * 10 + (uint64_t)(*p - '0');
        if (whole > 100)
            return -ERANGE;
    }
    if (*p == '.') {
        for (p++; *p >= '0' && *p <= '9'; p++, digits = true) {
            if (scale == 1)
                return -EINVAL; /* finer than a millionth */
            scale /= 10;
            frac += (uint64_t)(*p - '0') * scale;
        }
    }
    if (!digits)
        return -EINVAL;
    uint64_t v = whole * 1000000 + frac;
    if (*p == '%') {
        p++;
        if (v % 100 != 0)
            return -EINVAL;
        v /= 100;
    }
    if (*p != '\0')
        return -EINVAL;
    if (v > 1000000)
        return -ERANGE;
    *out = v;
    return 0;
}

void
value_format_fraction(uint64_t v, char *buf, size_t len)
{
    char digits[8];
    int n;

    if (v % 1000000 == 0) {
        snprintf(buf, len, "%llu", (unsigned long long)(v / 1000000));
        return;
    }
    snprintf(digits, sizeof(digits), "%06llu", (unsigned long long)(v % 1000000));
    n = 6;
    while (n > 1 && digits[n - 1] == '0')
        n--;
    snprintf(buf, len, "%llu.%.*s", (unsigned long long)(v / 1000000), n, digits);
}

int
value_parse_size(const char *s, uint64_t *out)
{
    return parse_scaled(s, size_units, out);
}

int
value_parse_duration(const char *s, uint64_t *out)
{
    return parse_scaled(s, duration_units, out);
}

/* units must run from the largest multiplier down and end with the bare one. */
static void
format_scaled(uint64_t v, const struct unit *units, char *buf, size_t len)
{
    const struct unit *u = units;

    while (v != 0 && u->mult != 1 && v % u->mult != 0)
        u++;
    if (v == 0)
        snprintf(buf, len, "0");
    else
        snprintf(buf, len, "%llu%s", (unsigned long long)(v / u->mult), u->suffix);
}

void
value_format_size(uint64_t v, char *buf, size_t len)
{
    static const struct unit shown[] = {
        {"TB", 1ULL << 40}, {"GB", 1ULL << 30}, {"MB", 1ULL << 20}, {"kB", 1ULL << 10}, {"", 1},
    };

    format_scaled(v, shown, buf, len);
}

void
value_format_duration(uint64_t v, char *buf, size_t len)
{
    static const struct unit shown[] = {
        {"d", 86400000}, {"h", 3600000}, {"min", 60000}, {"s", 1000}, {"ms", 1},
    };

    format_scaled(v, shown, buf, len);
}

static int
parse_port(const char *s, int *port)
{
    uint64_t v;

    if (value_parse_count(s, &v) < 0 || v < 1 || v > 65535)
        return -EINVAL;
    *port = (int)v;
    return 0;
}

/* Host names and IPv4 addresses: letters, digits, '.', '-', '_'. */
static int
host_name_ok(const char *h, size_t n)
{
    if (n == 0 || n > 253)
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)h[i];
        if (!isalnum(ch) && ch != '.' && ch != '-' && ch != '_')
            return 0;
    }
    return 1;
}

/* Inside brackets: hex digits, ':' and '.', then an optional "%zone". */
static int
host_v6_ok(const char *h, size_t n)
{
    size_t i = 0;

    for (; i < n && h[i] != '%'; i++) {
        unsigned char ch = (unsigned char)h[i];
        if (!isxdigit(ch) && ch != ':' && ch != '.')
            return 0;
    }
    if (i == 0 || memchr(h, ':', i) == NULL)
        return 0;
    return i == n || host_name_ok(h + i + 1, n - i - 1);
}

/*
 * A directory, optionally ":port". The socket file is DIR/.s.PGSQL.PORT, as PostgreSQL names
 * it, so clients connect with host=DIR port=PORT; it must fit in sockaddr_un's 108 bytes.
 */
static int
parse_unix(const char *s, char *host, size_t hostlen, int *port, char *why, size_t whylen)
{
    const char *colon = strrchr(s, ':');
    size_t n = strlen(s);
    int p = VALUE_UNIX_PORT;

    if (colon != NULL && colon[1] != '\0' && strspn(colon + 1, "0123456789") == strlen(colon + 1)) {
        if (parse_port(colon + 1, &p) < 0) {
            say(why, whylen, "port must be between 1 and 65535, got '%s'", s);
            return -EINVAL;
        }
        n = (size_t)(colon - s);
    }
    if (n + strlen("/.s.PGSQL.65535") + 1 > 108) {
        say(why, whylen, "unix socket directory is too long (max %zu bytes), got '%s'",
            108 - strlen("/.s.PGSQL.65535") - 1, s);
        return -EINVAL;
    }
    snprintf(host, hostlen, "%.*s", (int)n, s);
    *port = p;
    return 0;
}

/* Splits "host:port" or "[v6]:port" at the colon that starts the port. */
static int
split_host_port(const char *s, const char *what, const char **h, size_t *hn, const char **pt,
                char *why, size_t whylen)
{
    const char *colon;

    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        if (close == NULL || close[1] != ':') {
            say(why, whylen, "expected [address]:port, got '%s'", s);
            return -EINVAL;
        }
        *h = s + 1;
        *hn = (size_t)(close - s - 1);
        *pt = close + 2;
        if (!host_v6_ok(*h, *hn)) {
            say(why, whylen, "bad IPv6 address in '%s'", s);
            return -EINVAL;
        }
        return 0;
    }
    colon = strrchr(s, ':');
    if (colon == NULL) {
        say(why, whylen, "expected %s, got '%s'", what, s);
        return -EINVAL;
    }
    *h = s;
    *hn = (size_t)(colon - s);
    *pt = colon + 1;
    if (memchr(s, ':', *hn) != NULL) {
        say(why, whylen, "IPv6 addresses need brackets, like [::1]:6432, got '%s'", s);
        return -EINVAL;
    }
    return 0;
}

int
value_parse_addr(const char *s, int allow_unix, char *host, size_t hostlen, int *port, char *why,
                 size_t whylen)
{
    const char *what = allow_unix ? "host:port or an absolute unix socket directory" : "host:port";
    const char *h, *pt;
    size_t hn;

    if (s[0] == '\0') {
        say(why, whylen, "must not be empty");
        return -EINVAL;
    }
    if (s[0] == '/' && allow_unix)
        return parse_unix(s, host, hostlen, port, why, whylen);
    if (s[0] == '/') {
        say(why, whylen, "expected host:port (the admin port is HTTP over TCP), got '%s'", s);
        return -EINVAL;
    }
    if (split_host_port(s, what, &h, &hn, &pt, why, whylen) < 0)
        return -EINVAL;
    if (parse_port(pt, port) < 0) {
        say(why, whylen, "port must be between 1 and 65535, got '%s'", s);
        return -EINVAL;
    }
    if (s[0] != '[' && !(hn == 1 && h[0] == '*') && !host_name_ok(h, hn)) {
        say(why, whylen, "expected %s, got '%s'", what, s);
        return -EINVAL;
    }
    snprintf(host, hostlen, "%.*s", (int)hn, h);
    return 0;
}

int
value_list_next(const char **p, char *item, size_t itemlen)
{
    const char *end = *p + strcspn(*p, ",");
    const char *a = *p, *b = end;

    while (a < b && isspace((unsigned char)*a))
        a++;
    while (b > a && isspace((unsigned char)b[-1]))
        b--;
    *p = *end == ',' ? end + 1 : NULL;
    if ((size_t)(b - a) >= itemlen)
        return -ENAMETOOLONG;
    memcpy(item, a, (size_t)(b - a));
    item[b - a] = '\0';
    return 0;
}

int
value_parse_listen(const char *s, char *why, size_t whylen)
{
    char item[CONFIG_ADDR_MAX], host[CONFIG_ADDR_MAX];
    const char *p = s;
    int port;

    if (s[0] == '\0') {
        say(why, whylen, "must not be empty");
        return -EINVAL;
    }
    while (p != NULL) {
        if (value_list_next(&p, item, sizeof(item)) < 0) {
            say(why, whylen, "address too long in '%s'", s);
            return -EINVAL;
        }
        if (item[0] == '\0') {
            say(why, whylen, "empty address in list '%s'", s);
            return -EINVAL;
        }
        if (value_parse_addr(item, 1, host, sizeof(host), &port, why, whylen) < 0)
            return -EINVAL;
    }
    return 0;
}

/* Table names (optionally schema-qualified) and hex fingerprints share one alphabet. */
static int
list_item_ok(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)p[i];
        if (!isalnum(ch) && ch != '_' && ch != '.' && ch != '$')
            return 0;
    }
    return 1;
}

int
value_parse_list(const char *s, char *out, size_t outlen, char *why, size_t whylen)
{
    char item[CONFIG_LIST_MAX];
    const char *p = s;
    size_t used = 0, n;

    out[0] = '\0';
    while (*s != '\0' && p != NULL) {
        if (value_list_next(&p, item, sizeof(item)) < 0 || (n = strlen(item)) == 0) {
            say(why, whylen, "empty item in list '%s'", s);
            return -EINVAL;
        }
        if (!list_item_ok(item, n)) {
            say(why, whylen, "'%s' is not a table name or fingerprint", item);
            return -EINVAL;
        }
        if (used + (used > 0) + n + 1 > outlen) {
            say(why, whylen, "list is too long (max %zu bytes)", outlen - 1);
            return -EINVAL;
        }
        if (used > 0)
            out[used++] = ',';
        for (size_t i = 0; i < n; i++)
            out[used++] = (char)tolower((unsigned char)item[i]);
        out[used] = '\0';
    }
    return 0;
}

int
value_lists_overlap(const char *a, const char *b, char *item, size_t itemlen)
{
    for (const char *p = a; *p != '\0';) {
        size_t n = strcspn(p, ",");
        for (const char *q = b; *q != '\0';) {
            size_t m = strcspn(q, ",");
            if (n == m && strncmp(p, q, n) == 0) {
                snprintf(item, itemlen, "%.*s", (int)n, p);
                return 1;
            }
            q += m + (q[m] == ',');
        }
        p += n + (p[n] == ',');
    }
    return 0;
}

/* The options pgfold reads from the upstream string, pulled out before they are freed. */
struct conninfo {
    const char *host, *hostaddr, *port, *dbname, *sslmode, *user, *password, *service;
    const char *sslrootcert, *sslcert, *sslkey, *sslsni;
};

static void
conninfo_pick(PQconninfoOption *opts, struct conninfo *ci)
{
    memset(ci, 0, sizeof(*ci));
    for (PQconninfoOption *o = opts; o->keyword != NULL; o++) {
        const char *v = (o->val != NULL && o->val[0] != '\0') ? o->val : NULL;
        if (strcmp(o->keyword, "host") == 0)
            ci->host = v;
        else if (strcmp(o->keyword, "hostaddr") == 0)
            ci->hostaddr = v;
        else if (strcmp(o->keyword, "port") == 0)
            ci->port = v;
        else if (strcmp(o->keyword, "dbname") == 0)
            ci->dbname = v;
        else if (strcmp(o->keyword, "sslmode") == 0)
            ci->sslmode = v;
        else if (strcmp(o->keyword, "user") == 0)
            ci->user = v;
        else if (strcmp(o->keyword, "password") == 0)
            ci->password = v;
        else if (strcmp(o->keyword, "service") == 0)
            ci->service = v;
        else if (strcmp(o->keyword, "sslrootcert") == 0)
            ci->sslrootcert = v;
        else if (strcmp(o->keyword, "sslcert") == 0)
            ci->sslcert = v;
        else if (strcmp(o->keyword, "sslkey") == 0)
            ci->sslkey = v;
        else if (strcmp(o->keyword, "sslsni") == 0)
            ci->sslsni = v;
    }
}

static int
sslmode_ok(const char *m)
{
    static const char *const modes[] = {"disable", "allow",     "prefer",
                                        "require", "verify-ca", "verify-full"};

    for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++)
        if (strcmp(m, modes[i]) == 0)
            return 1;
    return 0;
}

/* Rules pgfold adds on top of libpq's grammar; libpq itself would only notice at connect. */
static int
conninfo_check(const struct conninfo *ci, char *why, size_t whylen)
{
    const char *host = ci->hostaddr != NULL ? ci->hostaddr : ci->host;

    if (ci->user != NULL || ci->password != NULL) {
        say(why, whylen, "remove the %s: pgfold relays each client's own user and password",
            ci->user != NULL ? "user" : "password");
        return -EINVAL;
    }
    if (ci->service != NULL) {
        say(why, whylen, "service files are not supported; write host and port instead");
        return -EINVAL;
    }
    if ((host != NULL && strchr(host, ',') != NULL) ||
        (ci->port != NULL && strchr(ci->port, ',') != NULL)) {
        say(why, whylen, "several hosts are not supported; name one upstream");
        return -EINVAL;
    }
    if (host != NULL && strlen(host) >= CONFIG_ADDR_MAX) {
        say(why, whylen, "host is too long (max %d bytes)", CONFIG_ADDR_MAX - 1);
        return -EINVAL;
    }
    if (ci->dbname != NULL && strlen(ci->dbname) >= CONFIG_ADDR_MAX) {
        say(why, whylen, "dbname is too long (max %d bytes)", CONFIG_ADDR_MAX - 1);
        return -EINVAL;
    }
    if (ci->sslmode != NULL && !sslmode_ok(ci->sslmode)) {
        say(why, whylen, "invalid sslmode value: \"%s\"", ci->sslmode);
        return -EINVAL;
    }
    const char *paths[] = {ci->sslrootcert, ci->sslcert, ci->sslkey};
    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        if (paths[i] != NULL && strlen(paths[i]) >= CONFIG_ADDR_MAX) {
            say(why, whylen, "certificate path is too long (max %d bytes)", CONFIG_ADDR_MAX - 1);
            return -EINVAL;
        }
    }
    if ((ci->sslcert != NULL) != (ci->sslkey != NULL)) {
        say(why, whylen, "sslcert and sslkey go together");
        return -EINVAL;
    }
    if (ci->sslsni != NULL && strcmp(ci->sslsni, "0") != 0 && strcmp(ci->sslsni, "1") != 0) {
        say(why, whylen, "invalid sslsni value: \"%s\"", ci->sslsni);
        return -EINVAL;
    }
    return 0;
}

static int
conninfo_fill(const struct conninfo *ci, struct value_upstream *u, char *why, size_t whylen)
{
    const char *host = ci->hostaddr != NULL ? ci->hostaddr : ci->host;
    int rc = conninfo_check(ci, why, whylen);

    if (rc < 0)
        return rc;
    u->port = VALUE_PG_PORT;
    if (ci->port != NULL && parse_port(ci->port, &u->port) < 0) {
        say(why, whylen, "invalid port number: \"%s\"", ci->port);
        return -EINVAL;
    }
    snprintf(u->host, sizeof(u->host), "%s", host != NULL ? host : VALUE_PG_SOCKET_DIR);
    snprintf(u->dbname, sizeof(u->dbname), "%s", ci->dbname != NULL ? ci->dbname : "");
    snprintf(u->sslmode, sizeof(u->sslmode), "%s", ci->sslmode != NULL ? ci->sslmode : "prefer");
    snprintf(u->sslrootcert, sizeof(u->sslrootcert), "%s", ci->sslrootcert ? ci->sslrootcert : "");
    snprintf(u->sslcert, sizeof(u->sslcert), "%s", ci->sslcert ? ci->sslcert : "");
    snprintf(u->sslkey, sizeof(u->sslkey), "%s", ci->sslkey ? ci->sslkey : "");
    u->sslsni = ci->sslsni == NULL || strcmp(ci->sslsni, "0") != 0;
    return 0;
}

int
value_parse_upstream(const char *s, struct value_upstream *u, char *why, size_t whylen)
{
    char *msg = NULL;
    PQconninfoOption *opts = PQconninfoParse(s, &msg);
    struct conninfo ci;
    int rc;

    memset(u, 0, sizeof(*u)); /* whole arrays are copied out; keep their tails zero */
    if (opts == NULL) {
        size_t n = msg != NULL ? strcspn(msg, "\n") : 0;
        say(why, whylen, "%.*s", (int)n, msg != NULL ? msg : "out of memory");
        rc = msg != NULL ? -EINVAL : -ENOMEM;
        PQfreemem(msg);
        return rc;
    }
    conninfo_pick(opts, &ci);
    rc = conninfo_fill(&ci, u, why, whylen);
    PQconninfoFree(opts);
    return rc;
}
