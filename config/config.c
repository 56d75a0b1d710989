/*
 * config: the table of settings and everything that walks it. Each key of struct config has
 * one row below (name, kind, field, default text, limits, whether it needs a restart, help),
 * and defaults, config_set, validation, reload and the usage text are loops over that table,
 * so a new key is one new row.
 *
 * Values arrive as text (from the INI file in load.c, from flags, or from the defaults column)
 * and are parsed by value.c; this file adds the key name to every complaint. It owns no state
 * beyond the constant table. No libuv, no logging, no clock.
 */
#include "config/config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config/value.h"

enum key_kind {
    KIND_COUNT,    /* plain integer */
    KIND_SIZE,     /* bytes, "16MB" */
    KIND_DURATION, /* milliseconds, "500ms" */
    KIND_FRACTION, /* 0..1 in millionths, "0.01" */
    KIND_ENUM,
    KIND_LISTEN,   /* host:port or unix directory, never empty */
    KIND_ADMIN,    /* host:port or empty */
    KIND_UPSTREAM, /* libpq connection string */
    KIND_LIST,     /* comma list of names */
    KIND_PATH,     /* a file name, or empty; opened (and checked) by its user at startup */
    KIND_SECRET,   /* text never printed back (admin_token) */
    KIND_NAME,     /* a database or role name (at most 63 bytes), or empty */
};

struct enum_name {
    const char *name;
    int value;
    int alias; /* accepted, never printed */
};

struct key {
    const char *name;
    enum key_kind kind;
    size_t offset;
    size_t size;
    const char *def;
    uint64_t min, max; /* numbers only */
    const struct enum_name *names;
    int restart; /* 1: reload leaves it alone */
    const char *help;
};

_Static_assert(sizeof(config_mode) == sizeof(int), "enum fields are stored as int");
_Static_assert(sizeof(config_consistency) == sizeof(int), "enum fields are stored as int");
_Static_assert(sizeof(config_log_level) == sizeof(int), "enum fields are stored as int");
_Static_assert(sizeof(config_log_format) == sizeof(int), "enum fields are stored as int");
_Static_assert(sizeof(config_tls_mode) == sizeof(int), "enum fields are stored as int");

static const struct enum_name mode_names[] = {
    {"rewrite", MODE_REWRITE, 0},
    {"observe", MODE_OBSERVE, 0},
    {"passthrough", MODE_PASSTHROUGH, 0},
    {NULL, 0, 0},
};

static const struct enum_name consistency_names[] = {
    {"window", CONSISTENCY_WINDOW, 0},
    {"transaction", CONSISTENCY_TRANSACTION, 0},
    {"snapshot", CONSISTENCY_SNAPSHOT, 0},
    {NULL, 0, 0},
};

static const struct enum_name level_names[] = {
    {"error", LOG_ERROR, 0}, {"warn", LOG_WARN, 0},    {"info", LOG_INFO, 0},
    {"debug", LOG_DEBUG, 0}, {"warning", LOG_WARN, 1}, {NULL, 0, 0},
};

static const struct enum_name tls_names[] = {
    {"disable", TLS_DISABLE, 0},
    {"allow", TLS_ALLOW, 0},
    {"require", TLS_REQUIRE, 0},
    {"prefer", TLS_ALLOW, 1}, /* PgBouncer's spelling of the same thing */
    {NULL, 0, 0},
};

static const struct enum_name format_names[] = {
    {"text", LOG_FORMAT_TEXT, 0},
    {"json", LOG_FORMAT_JSON, 0},
    {NULL, 0, 0},
};

/* clang-format cannot lay out a brace initializer inside a macro. */
/* clang-format off */
#define FIELD(f) offsetof(struct config, f), sizeof(((struct config *)0)->f)
#define NUMBER(kind, f, def, lo, hi, help) {#f, kind, FIELD(f), def, lo, hi, NULL, 0, help}
#define ENUM(f, def, names, help) {#f, KIND_ENUM, FIELD(f), def, 0, 0, names, 0, help}
#define TEXT(kind, f, def, restart, help) {#f, kind, FIELD(f), def, 0, 0, NULL, restart, help}
/* clang-format on */

#define MS_DAY 86400000ULL
#define KB 1024ULL
#define GB (1ULL << 30)
#define TB (1ULL << 40)

static const struct key keys[] = {
    TEXT(KIND_LISTEN, listen, "127.0.0.1:6432", 1,
         "host:port, [v6]:port, *:port or a unix socket dir (/dir, /dir:port); a comma list"),
    TEXT(KIND_UPSTREAM, upstream, "", 1,
         "libpq URI or key=value; empty = /var/run/postgresql, port 5432"),
    TEXT(KIND_ADMIN, admin_listen, "127.0.0.1:6433", 1, "host:port for /metrics; empty = off"),
    ENUM(mode, "rewrite", mode_names, "rewrite | observe | passthrough"),
    ENUM(consistency, "window", consistency_names, "window | transaction | snapshot"),
    NUMBER(KIND_DURATION, max_staleness_ms, "1000", 0, MS_DAY,
           "how long a batched answer may serve autocommit lookups"),
    NUMBER(KIND_COUNT, max_batch_keys, "1000", 1, 1000000, "keys in one batched query"),
    NUMBER(KIND_SIZE, max_batch_bytes, "16MB", 1, TB, "largest batch result kept"),
    NUMBER(KIND_SIZE, session_cache_bytes, "8MB", 1, TB, "answer cache per session"),
    NUMBER(KIND_COUNT, max_client_conn, "1000", 1, 1000000, "client connections"),
    {"workers", KIND_COUNT, FIELD(workers), "0", 0, 1024, NULL, 1, "threads; 0 = one per core"},
    ENUM(log_level, "info", level_names, "error | warn | info | debug"),
    ENUM(log_format, "text", format_names, "text | json"),
    NUMBER(KIND_SIZE, max_message_bytes, "1GB", KB, GB, "largest protocol message accepted"),
    NUMBER(KIND_DURATION, shutdown_timeout_ms, "30000", 0, MS_DAY, "SIGTERM drain limit"),
    NUMBER(KIND_DURATION, connect_timeout_ms, "10000", 1, MS_DAY, "upstream connect limit"),
    NUMBER(KIND_SIZE, buffer_bytes, "256kB", KB, GB, "buffered bytes per direction"),
    NUMBER(KIND_COUNT, shape_cache_entries, "10000", 1, 10000000, "parsed shapes per worker"),
    NUMBER(KIND_COUNT, source_rows, "10000", 1, 10000000, "key-source rows per session"),
    NUMBER(KIND_COUNT, source_results, "32", 1, 1000, "key-source results per session"),
    NUMBER(KIND_FRACTION, verify_fraction, "0.01", 0, 1000000,
           "share of local answers checked against the server; 0 = off"),
    TEXT(KIND_LIST, batch_allow, "", 0, "tables or fingerprints to batch; empty = all"),
    TEXT(KIND_LIST, batch_deny, "", 0, "tables or fingerprints never batched"),
    {"client_tls_sslmode", KIND_ENUM, FIELD(client_tls_sslmode), "disable", 0, 0, tls_names, 1,
     "disable | allow | require: TLS towards clients"},
    TEXT(KIND_PATH, client_tls_cert_file, "", 1, "PEM certificate shown to clients"),
    TEXT(KIND_PATH, client_tls_key_file, "", 1, "PEM private key of that certificate"),
    TEXT(KIND_SECRET, admin_token, "", 0,
         "admin port requires 'Authorization: Bearer T' and the console password T; empty = off"),
    TEXT(KIND_NAME, admin_database, "pgfold", 0,
         "database name that reaches pgfold's console; empty = no console"),
    TEXT(KIND_NAME, ready_user, "postgres", 0,
         "role /ready's probe names in its startup packet; empty = connect only"),
    NUMBER(KIND_DURATION, log_batch_over_ms, "1000", 0, MS_DAY,
           "log batches slower than this (0 = every batch)"),
};

#define NKEYS (sizeof(keys) / sizeof(keys[0]))


static const struct key *
key_find(const char *name)
{
    for (size_t i = 0; i < NKEYS; i++)
        if (strcasecmp(keys[i].name, name) == 0)
            return &keys[i];
    return NULL;
}

static void *
field(struct config *c, const struct key *k)
{
    return (char *)c + k->offset;
}

static const void *
cfield(const struct config *c, const struct key *k)
{
    return (const char *)c + k->offset;
}

static const char *
enum_name_of(const struct enum_name *names, int v)
{
    for (const struct enum_name *e = names; e->name != NULL; e++)
        if (e->value == v && !e->alias)
            return e->name;
    return NULL;
}

/* Prints a number the way its kind is written in messages ("16MB", "1d", "1000"). */
static void
number_format(enum key_kind kind, uint64_t v, char *buf, size_t len)
{
    if (kind == KIND_SIZE)
        value_format_size(v, buf, len);
    else if (kind == KIND_FRACTION)
        value_format_fraction(v, buf, len);
    else if (kind == KIND_DURATION)
        value_format_duration(v, buf, len);
    else
        snprintf(buf, len, "%llu", (unsigned long long)v);
}

static int
set_number(struct config *c, const struct key *k, const char *s, char *why, size_t whylen)
{
    char lo[32], hi[32];
    uint64_t v = 0;
    int rc;

    if (k->kind == KIND_SIZE)
        rc = value_parse_size(s, &v);
    else if (k->kind == KIND_DURATION)
        rc = value_parse_duration(s, &v);
    else if (k->kind == KIND_FRACTION)
        rc = value_parse_fraction(s, &v);
    else
        rc = value_parse_count(s, &v);
    if (rc == -EINVAL && k->kind == KIND_FRACTION) {
        value_fail(why, whylen, "expected a fraction from 0 to 1 (0.01, 1%%), got '%s'", s);
        return -EINVAL;
    }
    if (rc == -EINVAL && k->kind == KIND_COUNT) {
        value_fail(why, whylen, "expected a %s integer, got '%s'",
             k->min > 0 ? "positive" : "non-negative", s);
        return -EINVAL;
    }
    if (rc == -EINVAL && k->kind == KIND_SIZE) {
        value_fail(why, whylen, "expected bytes with an optional unit (B, kB, MB, GB, TB), got '%s'", s);
        return -EINVAL;
    }
    if (rc == -EINVAL) {
        value_fail(why, whylen,
             "expected milliseconds with an optional unit (ms, s, min, h, d), got '%s'", s);
        return -EINVAL;
    }
    if (rc == -ERANGE || v < k->min || v > k->max) {
        number_format(k->kind, k->min, lo, sizeof(lo));
        number_format(k->kind, k->max, hi, sizeof(hi));
        value_fail(why, whylen, "must be between %s and %s, got '%s'", lo, hi, s);
        return -EINVAL;
    }
    memcpy(field(c, k), &v, sizeof(v));
    return 0;
}

static int
set_enum(struct config *c, const struct key *k, const char *s, char *why, size_t whylen)
{
    char list[128] = "";
    size_t used = 0;

    for (const struct enum_name *e = k->names; e->name != NULL; e++) {
        if (strcasecmp(e->name, s) == 0) {
            memcpy(field(c, k), &e->value, sizeof(int));
            return 0;
        }
        if (!e->alias)
            used += (size_t)snprintf(list + used, sizeof(list) - used, "%s%s", used > 0 ? ", " : "",
                                     e->name);
    }
    value_fail(why, whylen, "expected one of %s, got '%s'", list, s);
    return -EINVAL;
}

static int
set_text(struct config *c, const struct key *k, const char *s, char *why, size_t whylen)
{
    struct value_upstream up;
    char host[CONFIG_ADDR_MAX], list[CONFIG_LIST_MAX];
    int port, rc = 0;

    if (strlen(s) >= k->size) {
        value_fail(why, whylen, "too long (max %zu bytes)", k->size - 1);
        return -EINVAL;
    }
    if (k->kind == KIND_LISTEN)
        rc = value_parse_listen(s, why, whylen);
    else if (k->kind == KIND_ADMIN && s[0] != '\0')
        rc = value_parse_addr(s, 0, host, sizeof(host), &port, why, whylen);
    else if (k->kind == KIND_UPSTREAM)
        rc = value_parse_upstream(s, &up, why, whylen);
    else if (k->kind == KIND_LIST)
        rc = value_parse_list(s, list, sizeof(list), why, whylen);
    if (rc < 0)
        return rc;
    snprintf(field(c, k), k->size, "%s", k->kind == KIND_LIST ? list : s);
    if (k->kind == KIND_UPSTREAM) {
        memcpy(c->upstream_host, up.host, sizeof(c->upstream_host));
        c->upstream_port = up.port;
        memcpy(c->upstream_dbname, up.dbname, sizeof(c->upstream_dbname));
        memcpy(c->upstream_sslmode, up.sslmode, sizeof(c->upstream_sslmode));
        memcpy(c->upstream_sslrootcert, up.sslrootcert, sizeof(c->upstream_sslrootcert));
        memcpy(c->upstream_sslcert, up.sslcert, sizeof(c->upstream_sslcert));
        memcpy(c->upstream_sslkey, up.sslkey, sizeof(c->upstream_sslkey));
        c->upstream_sslsni = up.sslsni;
    }
    return 0;
}

/* Parses s (already trimmed) into k's field; on failure the field is left as it was. */
static int
key_set(struct config *c, const struct key *k, const char *s, char *why, size_t whylen)
{
    switch (k->kind) {
    case KIND_COUNT:
    case KIND_SIZE:
    case KIND_DURATION:
    case KIND_FRACTION:
        return set_number(c, k, s, why, whylen);
    case KIND_ENUM:
        return set_enum(c, k, s, why, whylen);
    case KIND_LISTEN:
    case KIND_ADMIN:
    case KIND_UPSTREAM:
    case KIND_LIST:
    case KIND_PATH:
    case KIND_SECRET:
    case KIND_NAME:
        return set_text(c, k, s, why, whylen);
    default:
        abort();
    }
}

/* The value as config_set() would accept it back: "16MB", "rewrite", the string itself. */
static void
key_format(const struct config *c, const struct key *k, char *buf, size_t len)
{
    uint64_t v;
    int e;

    switch (k->kind) {
    case KIND_COUNT:
    case KIND_SIZE:
    case KIND_DURATION:
    case KIND_FRACTION:
        memcpy(&v, cfield(c, k), sizeof(v));
        /* Durations print as plain milliseconds: every duration key's name ends in _ms. */
        number_format(k->kind == KIND_DURATION ? KIND_COUNT : k->kind, v, buf, len);
        return;
    case KIND_ENUM:
        memcpy(&e, cfield(c, k), sizeof(e));
        if (enum_name_of(k->names, e) != NULL)
            snprintf(buf, len, "%s", enum_name_of(k->names, e));
        else
            snprintf(buf, len, "%d", e);
        return;
    default:
        snprintf(buf, len, "%.*s", (int)strnlen(cfield(c, k), k->size), (const char *)cfield(c, k));
        return;
    }
}

void
config_defaults(struct config *c)
{
    char why[256];

    memset(c, 0, sizeof(*c));
    for (size_t i = 0; i < NKEYS; i++)
        if (key_set(c, &keys[i], keys[i].def, why, sizeof(why)) < 0)
            abort(); /* a default the parser rejects is a bug in the table above */
}

int
config_set_reason(struct config *c, const char *key, const char *value, char *why, size_t whylen)
{
    const struct key *k = key_find(key);
    char text[CONFIG_URI_MAX];
    size_t n;

    if (k == NULL) {
        value_fail(why, whylen, "unknown key '%s'", key);
        return -ENOENT;
    }
    if (value == NULL)
        value = "";
    value += strspn(value, " \t\r\n");
    n = strlen(value);
    while (n > 0 && strchr(" \t\r\n", value[n - 1]) != NULL)
        n--;
    if (n >= sizeof(text)) {
        value_fail(why, whylen, "too long (max %zu bytes)", sizeof(text) - 1);
        return -EINVAL;
    }
    memcpy(text, value, n);
    text[n] = '\0';
    return key_set(c, k, text, why, whylen);
}

int
config_set(struct config *c, const char *key, const char *value, char *err, size_t errlen)
{
    char why[512];
    int rc = config_set_reason(c, key, value, why, sizeof(why));

    if (rc == -ENOENT)
        value_fail(err, errlen, "%s", why);
    else if (rc < 0)
        value_fail(err, errlen, "key '%s': %s", key_find(key)->name, why);
    return rc;
}

int
config_addr_split(const char *addr, char *host, size_t hostlen, int *port)
{
    return value_parse_addr(addr, 1, host, hostlen, port, NULL, 0);
}

/* Two addresses collide when their ports match and either host covers the other. */
static int
addrs_collide(const char *a, const char *b)
{
    char ha[CONFIG_ADDR_MAX], hb[CONFIG_ADDR_MAX];
    int pa, pb;

    if (config_addr_split(a, ha, sizeof(ha), &pa) < 0 ||
        config_addr_split(b, hb, sizeof(hb), &pb) < 0 || pa != pb)
        return 0;
    if (strcmp(ha, hb) == 0)
        return 1;
    if (ha[0] == '/' || hb[0] == '/')
        return 0;
    return strcmp(ha, "*") == 0 || strcmp(hb, "*") == 0 || strcmp(ha, "0.0.0.0") == 0 ||
           strcmp(hb, "0.0.0.0") == 0 || strcmp(ha, "::") == 0 || strcmp(hb, "::") == 0;
}

/* The upstream is pgfold itself when its host and port name one of our listen addresses. */
static int
listen_is_upstream(const char *addr, const struct config *c)
{
    char host[CONFIG_ADDR_MAX];
    int port;

    return config_addr_split(addr, host, sizeof(host), &port) == 0 &&
           strcmp(host, c->upstream_host) == 0 && port == c->upstream_port;
}

static int
validate_cross(const struct config *c, char *err, size_t errlen)
{
    char addr[CONFIG_ADDR_MAX], item[CONFIG_LIST_MAX];

    for (const char *p = c->listen; p != NULL;) {
        if (value_list_next(&p, addr, sizeof(addr)) < 0)
            break; /* config_validate has already checked every item */
        if (c->admin_listen[0] != '\0' && addrs_collide(addr, c->admin_listen)) {
            value_fail(err, errlen, "key 'admin_listen': '%s' is the same address as listen '%s'",
                 c->admin_listen, addr);
            return -EINVAL;
        }
        if (listen_is_upstream(addr, c)) {
            value_fail(err, errlen, "key 'upstream': points at pgfold's own listen address '%s'", addr);
            return -EINVAL;
        }
    }
    if (c->client_tls_sslmode != TLS_DISABLE &&
        (c->client_tls_cert_file[0] == '\0' || c->client_tls_key_file[0] == '\0')) {
        value_fail(err, errlen, "key 'client_tls_sslmode': %s needs client_tls_cert_file and "
                   "client_tls_key_file", config_tls_mode_name(c->client_tls_sslmode));
        return -EINVAL;
    }
    if (c->admin_database[0] != '\0' && strcmp(c->admin_database, c->upstream_dbname) == 0) {
value_fail(err, errlen,
                   "key 'admin_database': '%s' is also the upstream's database: "
                   "clients that name none would reach the console",
                   c->admin_database);
        return -EINVAL;
    }
    if (value_lists_overlap(c->batch_allow, c->batch_deny, item, sizeof(item))) {
        value_fail(err, errlen, "key 'batch_deny': '%s' is also in batch_allow", item);
        return -EINVAL;
    }
    return 0;
}

/*
 * Re-parses every field from its printed form, so a struct filled in by code (not only by
 * config_set) meets the same rules, and the upstream_* fields are derived again.
 */
int
config_validate(struct config *c, char *err, size_t errlen)
{
    char text[CONFIG_URI_MAX], why[512];

    for (size_t i = 0; i < NKEYS; i++) {
        key_format(c, &keys[i], text, sizeof(text));
        if (key_set(c, &keys[i], text, why, sizeof(why)) < 0) {
            value_fail(err, errlen, "key '%s': %s", keys[i].name, why);
            return -EINVAL;
        }
    }
    return validate_cross(c, err, errlen);
}

/* Appends "; item" to out, never past len; a full buffer just stops growing. */
static void append(char *out, size_t len, size_t *used, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void
append(char *out, size_t len, size_t *used, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (out == NULL || *used + 1 >= len)
        return;
    if (*used > 0) {
        n = snprintf(out + *used, len - *used, "; ");
        *used = *used + (size_t)n < len ? *used + (size_t)n : len - 1;
    }
    va_start(ap, fmt);
    n = vsnprintf(out + *used, len - *used, fmt, ap);
    va_end(ap);
    if (n > 0)
        *used = *used + (size_t)n < len ? *used + (size_t)n : len - 1;
}

int
config_reload_tunables(struct config *dst, const struct config *src, char *changed,
                       size_t changed_len)
{
    char was[CONFIG_URI_MAX], now[CONFIG_URI_MAX];
    size_t used = 0;
    int n = 0;

    if (changed != NULL && changed_len > 0)
        changed[0] = '\0';
    for (size_t i = 0; i < NKEYS; i++) {
        const struct key *k = &keys[i];
        key_format(dst, k, was, sizeof(was));
        key_format(src, k, now, sizeof(now));
        if (strcmp(was, now) == 0)
            continue;
        if (k->kind == KIND_SECRET) {
            snprintf(was, sizeof(was), "%s", was[0] ? "(hidden)" : "");
            snprintf(now, sizeof(now), "%s", now[0] ? "(set)" : "");
        }
        if (k->restart) {
            append(changed, changed_len, &used, "%s '%s' -> '%s' needs a restart, not applied",
                   k->name, was, now);
            continue;
        }
        memcpy(field(dst, k), cfield(src, k), k->size);
        append(changed, changed_len, &used, "%s %s -> %s", k->name, was[0] ? was : "''",
               now[0] ? now : "''");
        n++;
    }
    return n;
}

int
config_describe(const struct config *c, size_t i, struct config_key_info *out)
{
    if (i >= NKEYS)
        return -ENOENT;
    const struct key *k = &keys[i];
    out->name = k->name;
    out->def = k->def;
    out->reloadable = !k->restart;
    out->help = k->help;
    if (k->kind == KIND_SECRET)
        snprintf(out->value, sizeof(out->value), "%s", *(const char *)cfield(c, k) ? "(set)" : "");
    else
        key_format(c, k, out->value, sizeof(out->value));
    return 0;
}

/* The flags, in the order --help lists them; key is the setting a flag overrides. */
static const struct {
    const char *spelling;
    const char *key;
    const char *help;
} usage_flags[] = {
    {"-c, --config=FILE", NULL, "read settings from FILE (INI, section [pgfold])"},
    {"    --listen=ADDR", "listen", NULL},
    {"    --upstream=CONNINFO", "upstream", NULL},
    {"    --admin-listen=ADDR", "admin_listen", NULL},
    {"    --mode=MODE", "mode", NULL},
    {"    --workers=N", "workers", NULL},
    {"    --log-level=LEVEL", "log_level", NULL},
    {"-V, --version", NULL, "print the version and exit"},
    {"-h, --help", NULL, "print this help and exit"},
};

void
config_usage(FILE *out)
{
    fprintf(out, "Usage: pgfold [-c FILE] [OPTION]...\n"
                 "A PostgreSQL proxy that folds N+1 lookups into batched queries.\n\n"
                 "Options (a flag overrides the file, wherever it appears):\n");
    for (size_t i = 0; i < sizeof(usage_flags) / sizeof(usage_flags[0]); i++) {
        const struct key *k = usage_flags[i].key ? key_find(usage_flags[i].key) : NULL;
        if (k == NULL)
            fprintf(out, "  %-26s %s\n", usage_flags[i].spelling, usage_flags[i].help);
        else
            fprintf(out, "  %-26s sets %s (default: %s)\n", usage_flags[i].spelling, k->name,
                    k->def[0] != '\0' ? k->def : "none");
    }
    fprintf(out, "\nRegression gate: pgfold --patterns-diff BASELINE.json [--admin URL]\n"
                 "  compares the N+1 patterns with a saved baseline and exits 1 on a new or\n"
                 "  grown one (pgfold --patterns-diff --help; docs/patterns-gate.md).\n");
    fprintf(out, "\nSettings, in section [pgfold] of the file, with their defaults.\n"
                 "Sizes take B, kB, MB, GB, TB; durations take ms (the default), s, min, h, d.\n");
    for (size_t i = 0; i < NKEYS; i++)
        fprintf(out, "  %-20s = %-16s ; %s\n", keys[i].name, keys[i].def, keys[i].help);
}

const char *
config_mode_name(config_mode m)
{
    const char *n = enum_name_of(mode_names, (int)m);
    return n != NULL ? n : "unknown";
}

const char *
config_consistency_name(config_consistency c)
{
    const char *n = enum_name_of(consistency_names, (int)c);
    return n != NULL ? n : "unknown";
}

const char *
config_log_level_name(config_log_level l)
{
    const char *n = enum_name_of(level_names, (int)l);
    return n != NULL ? n : "unknown";
}

const char *
config_log_format_name(config_log_format f)
{
    const char *n = enum_name_of(format_names, (int)f);
    return n != NULL ? n : "unknown";
}

const char *
config_tls_mode_name(config_tls_mode m)
{
    const char *n = enum_name_of(tls_names, (int)m);
    return n != NULL ? n : "unknown";
}
