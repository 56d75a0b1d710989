/*
 * test_config: config/ against its contract in config.h and DESIGN.md §2.
 *
 * Most tests are tables, one case per line: a key and a value with the parsed result or the
 * piece of error text expected; an INI file body with the line the error must name; an argv
 * with the settings it must produce. Files are written to mkstemp temporaries and removed.
 * Every failing case leaves the struct config exactly as it was, and each table checks that.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/config.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define OK NULL /* expected error text: none */

/* Where each key lives, so tables can name fields by their key. */
enum ftype { F_U64, F_ENUM, F_INT, F_STR };

struct field {
    const char *key;
    size_t off;
    enum ftype type;
};

/* clang-format cannot lay out a brace initializer inside a macro. */
/* clang-format off */
#define U64(f) {#f, offsetof(struct config, f), F_U64}
#define ENM(f) {#f, offsetof(struct config, f), F_ENUM}
#define INT(f) {#f, offsetof(struct config, f), F_INT}
#define STR(f) {#f, offsetof(struct config, f), F_STR}

static const struct field fields[] = {
    STR(listen), STR(upstream), STR(admin_listen), ENM(mode), ENM(consistency),
    U64(max_staleness_ms), U64(max_batch_keys), U64(max_batch_bytes), U64(session_cache_bytes),
    U64(max_client_conn), U64(workers), ENM(log_level), ENM(log_format), U64(max_message_bytes),
    U64(shutdown_timeout_ms), U64(connect_timeout_ms), U64(buffer_bytes),
    U64(shape_cache_entries), U64(source_rows), U64(source_results), STR(batch_allow),
    STR(batch_deny),
    /* derived by config_validate(), not keys */
    STR(upstream_host), INT(upstream_port), STR(upstream_dbname), STR(upstream_sslmode),
};
/* clang-format on */

/* The settings keys; the derived upstream_* fields are not keys. */
#define NKEYS 22

static const struct field *
field_find(const char *key)
{
    for (size_t i = 0; i < ARRAY_LEN(fields); i++)
        if (strcasecmp(fields[i].key, key) == 0)
            return &fields[i];
    return NULL;
}

/*
 * Checks one field: strings against str, numbers against num. Returns 0 when it matches,
 * else describes the difference in why.
 */
static int
field_check(const struct config *c, const char *key, uint64_t num, const char *str, char *why,
            size_t whylen)
{
    const struct field *f = field_find(key);
    const char *p = (const char *)c + f->off;
    uint64_t got = 0;
    int e;

    if (f->type == F_STR) {
        if (strcmp(p, str) == 0)
            return 0;
        snprintf(why, whylen, "%s is '%s', expected '%s'", key, p, str);
        return -1;
    }
    if (f->type == F_U64) {
        memcpy(&got, p, sizeof(got));
    } else {
        memcpy(&e, p, sizeof(e));
        got = (uint64_t)e;
    }
    if (got == num)
        return 0;
    snprintf(why, whylen, "%s is %llu, expected %llu", key, (unsigned long long)got,
             (unsigned long long)num);
    return -1;
}

/* Writes text to a new temporary file and returns its path in path (at least 32 bytes). */
static void
write_temp(const char *text, char *path)
{
    int fd;
    size_t n = strlen(text);

    strcpy(path, "/tmp/pgfold-test-XXXXXX");
    fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, n), (ssize_t)n);
    close(fd);
}

/* ---- defaults ---- */

static const struct {
    const char *key;
    uint64_t num;
    const char *str;
} default_cases[] = {
    {"listen", 0, "127.0.0.1:6432"},
    {"upstream", 0, ""},
    {"admin_listen", 0, "127.0.0.1:6433"},
    {"mode", MODE_REWRITE, NULL},
    {"consistency", CONSISTENCY_WINDOW, NULL},
    {"max_staleness_ms", 1000, NULL},
    {"max_batch_keys", 1000, NULL},
    {"max_batch_bytes", 16 << 20, NULL},
    {"session_cache_bytes", 8 << 20, NULL},
    {"max_client_conn", 1000, NULL},
    {"workers", 0, NULL},
    {"log_level", LOG_INFO, NULL},
    {"log_format", LOG_FORMAT_TEXT, NULL},
    {"max_message_bytes", 1 << 30, NULL},
    {"shutdown_timeout_ms", 30000, NULL},
    {"connect_timeout_ms", 10000, NULL},
    {"buffer_bytes", 256 << 10, NULL},
    {"shape_cache_entries", 10000, NULL},
    {"source_rows", 10000, NULL},
    {"source_results", 8, NULL},
    {"batch_allow", 0, ""},
    {"batch_deny", 0, ""},
    {"upstream_host", 0, "/var/run/postgresql"},
    {"upstream_port", 5432, NULL},
    {"upstream_dbname", 0, ""},
    {"upstream_sslmode", 0, "prefer"},
};

static void
test_defaults(void **state)
{
    struct config c;
    char why[512], err[512];

    (void)state;
    config_defaults(&c);
    for (size_t i = 0; i < ARRAY_LEN(default_cases); i++)
        if (field_check(&c, default_cases[i].key, default_cases[i].num, default_cases[i].str, why,
                        sizeof(why)) < 0)
            fail_msg("default %zu: %s", i, why);
    assert_int_equal(ARRAY_LEN(default_cases), ARRAY_LEN(fields));
    assert_int_equal(config_validate(&c, err, sizeof(err)), 0);
    print_message("defaults: %zu cases\n", ARRAY_LEN(default_cases));
}

/* ---- config_set: good and bad values for every key ---- */

struct set_case {
    const char *key;
    const char *value;
    const char *err; /* OK, or a piece of the expected message */
    uint64_t num;    /* expected value of a number or enum key */
    const char *str; /* expected value of a string key */
};

static const struct set_case set_cases[] = {
    /* listen */
    {"listen", "127.0.0.1:6432", OK, 0, "127.0.0.1:6432"},
    {"listen", "0.0.0.0:7000", OK, 0, "0.0.0.0:7000"},
    {"listen", "*:6432", OK, 0, "*:6432"},
    {"listen", "localhost:6432", OK, 0, "localhost:6432"},
    {"listen", "[::1]:6432", OK, 0, "[::1]:6432"},
    {"listen", "[fe80::1%eth0]:6432", OK, 0, "[fe80::1%eth0]:6432"},
    {"listen", "/var/run/pgfold", OK, 0, "/var/run/pgfold"},
    {"listen", "/tmp:7432", OK, 0, "/tmp:7432"},
    {"listen", "  127.0.0.1:6000\t", OK, 0, "127.0.0.1:6000"},
    {"listen", "127.0.0.1:6432, /tmp", OK, 0, "127.0.0.1:6432, /tmp"},
    {"listen", "[::1]:6432,127.0.0.1:6432,/tmp:7000", OK, 0, "[::1]:6432,127.0.0.1:6432,/tmp:7000"},
    {"listen", "127.0.0.1:6432,,/tmp", "empty address in list", 0, NULL},
    {"listen", "127.0.0.1:6432,", "empty address in list", 0, NULL},
    {"listen", "127.0.0.1:6432,nonsense",
     "expected host:port or an absolute unix socket directory, got 'nonsense'", 0, NULL},
    {"listen", "", "key 'listen': must not be empty", 0, NULL},
    {"listen", "   ", "must not be empty", 0, NULL},
    {"listen", "127.0.0.1", "expected host:port or an absolute unix socket directory", 0, NULL},
    {"listen", "127.0.0.1:0", "port must be between 1 and 65535", 0, NULL},
    {"listen", "127.0.0.1:65536", "port must be between 1 and 65535", 0, NULL},
    {"listen", "127.0.0.1:http", "port must be between 1 and 65535", 0, NULL},
    {"listen", "127.0.0.1:-1", "port must be between 1 and 65535", 0, NULL},
    {"listen", ":6432", "expected host:port", 0, NULL},
    {"listen", "::1:6432", "IPv6 addresses need brackets", 0, NULL},
    {"listen", "[::1:6432", "expected [address]:port", 0, NULL},
    {"listen", "[zz::1]:6432", "bad IPv6 address", 0, NULL},
    {"listen", "bad host:6432", "expected host:port", 0, NULL},
    {"listen", "relative/dir", "expected host:port", 0, NULL},
    {"listen", "/tmp:0", "port must be between 1 and 65535", 0, NULL},
    {"listen",
     "/a/very/long/directory/name/that/goes/on/and/on/and/on/and/on/and/on/and/on/and/on/and/on/"
     "and/on",
     "unix socket directory is too long", 0, NULL},
    /* upstream */
    {"upstream", "postgresql://db.internal:5432/appdb?sslmode=prefer", OK, 0,
     "postgresql://db.internal:5432/appdb?sslmode=prefer"},
    {"upstream", "host=db port=5433 dbname=app", OK, 0, "host=db port=5433 dbname=app"},
    {"upstream", "", OK, 0, ""},
    {"upstream", "garbage", "key 'upstream': missing \"=\" after \"garbage\"", 0, NULL},
    {"upstream", "bogus=1", "invalid connection option \"bogus\"", 0, NULL},
    {"upstream", "host='unterminated", "unterminated quoted string", 0, NULL},
    {"upstream", "postgresql://db/app?nonsense=1", "invalid URI query parameter", 0, NULL},
    {"upstream", "host=db port=70000", "invalid port number", 0, NULL},
    {"upstream", "postgresql://db:notaport/app", "invalid", 0, NULL},
    {"upstream", "postgresql://db/app?sslmode=sometimes", "invalid sslmode value", 0, NULL},
    {"upstream", "postgresql://app@db/app", "remove the user", 0, NULL},
    {"upstream", "host=db password=secret", "remove the password", 0, NULL},
    {"upstream", "host=a,b", "several hosts are not supported", 0, NULL},
    {"upstream", "service=prod", "service files are not supported", 0, NULL},
    /* admin_listen */
    {"admin_listen", "", OK, 0, ""},
    {"admin_listen", "127.0.0.1:9000", OK, 0, "127.0.0.1:9000"},
    {"admin_listen", "[::]:6433", OK, 0, "[::]:6433"},
    {"admin_listen", "/tmp", "the admin port is HTTP over TCP", 0, NULL},
    {"admin_listen", "localhost", "key 'admin_listen': expected host:port", 0, NULL},
    {"admin_listen", "127.0.0.1:99999", "port must be between 1 and 65535", 0, NULL},
    /* mode, consistency, log_level, log_format */
    {"mode", "rewrite", OK, MODE_REWRITE, NULL},
    {"mode", "observe", OK, MODE_OBSERVE, NULL},
    {"mode", "passthrough", OK, MODE_PASSTHROUGH, NULL},
    {"mode", "OBSERVE", OK, MODE_OBSERVE, NULL},
    {"mode", "fast", "key 'mode': expected one of rewrite, observe, passthrough, got 'fast'", 0,
     NULL},
    {"mode", "", "expected one of rewrite, observe, passthrough, got ''", 0, NULL},
    {"consistency", "window", OK, CONSISTENCY_WINDOW, NULL},
    {"consistency", "transaction", OK, CONSISTENCY_TRANSACTION, NULL},
    {"consistency", "snapshot", OK, CONSISTENCY_SNAPSHOT, NULL},
    {"consistency", "eventual", "expected one of window, transaction, snapshot", 0, NULL},
    {"log_level", "error", OK, LOG_ERROR, NULL},
    {"log_level", "warn", OK, LOG_WARN, NULL},
    {"log_level", "warning", OK, LOG_WARN, NULL},
    {"log_level", "info", OK, LOG_INFO, NULL},
    {"log_level", "Debug", OK, LOG_DEBUG, NULL},
    {"log_level", "trace", "expected one of error, warn, info, debug, got 'trace'", 0, NULL},
    {"log_format", "text", OK, LOG_FORMAT_TEXT, NULL},
    {"log_format", "json", OK, LOG_FORMAT_JSON, NULL},
    {"log_format", "xml", "expected one of text, json", 0, NULL},
    /* durations */
    {"max_staleness_ms", "1000", OK, 1000, NULL},
    {"max_staleness_ms", "500ms", OK, 500, NULL},
    {"max_staleness_ms", "2s", OK, 2000, NULL},
    {"max_staleness_ms", "1min", OK, 60000, NULL},
    {"max_staleness_ms", "1h", OK, 3600000, NULL},
    {"max_staleness_ms", "1d", OK, 86400000, NULL},
    {"max_staleness_ms", "2 s", OK, 2000, NULL},
    {"max_staleness_ms", "0", OK, 0, NULL},
    {"max_staleness_ms", "-1", "expected milliseconds with an optional unit", 0, NULL},
    {"max_staleness_ms", "1.5s", "expected milliseconds with an optional unit", 0, NULL},
    {"max_staleness_ms", "5sec", "got '5sec'", 0, NULL},
    {"max_staleness_ms", "1w", "expected milliseconds", 0, NULL},
    {"max_staleness_ms", "", "expected milliseconds", 0, NULL},
    {"max_staleness_ms", "2d", "must be between 0 and 1d, got '2d'", 0, NULL},
    {"max_staleness_ms", "99999999999999999999", "must be between", 0, NULL},
    {"max_staleness_ms", "18446744073709551615min", "must be between", 0, NULL},
    {"shutdown_timeout_ms", "0", OK, 0, NULL},
    {"shutdown_timeout_ms", "30s", OK, 30000, NULL},
    {"shutdown_timeout_ms", "2d", "must be between 0 and 1d", 0, NULL},
    {"shutdown_timeout_ms", "soon", "expected milliseconds", 0, NULL},
    {"connect_timeout_ms", "10s", OK, 10000, NULL},
    {"connect_timeout_ms", "250", OK, 250, NULL},
    {"connect_timeout_ms", "0", "must be between 1ms and 1d, got '0'", 0, NULL},
    {"connect_timeout_ms", "-5s", "expected milliseconds", 0, NULL},
    /* counts */
    {"max_batch_keys", "500", OK, 500, NULL},
    {"max_batch_keys", "1", OK, 1, NULL},
    {"max_batch_keys", "1000000", OK, 1000000, NULL},
    {"max_batch_keys", "007", OK, 7, NULL},
    {"max_batch_keys", "lots", "key 'max_batch_keys': expected a positive integer, got 'lots'", 0,
     NULL},
    {"max_batch_keys", "0", "must be between 1 and 1000000, got '0'", 0, NULL},
    {"max_batch_keys", "-5", "expected a positive integer, got '-5'", 0, NULL},
    {"max_batch_keys", "+5", "expected a positive integer", 0, NULL},
    {"max_batch_keys", "0x10", "expected a positive integer", 0, NULL},
    {"max_batch_keys", "10k", "expected a positive integer", 0, NULL},
    {"max_batch_keys", "1 000", "expected a positive integer", 0, NULL},
    {"max_batch_keys", "1000001", "must be between 1 and 1000000", 0, NULL},
    {"max_batch_keys", "18446744073709551616", "must be between 1 and 1000000", 0, NULL},
    {"max_client_conn", "1", OK, 1, NULL},
    {"max_client_conn", "100", OK, 100, NULL},
    {"max_client_conn", "0", "must be between 1 and 1000000", 0, NULL},
    {"max_client_conn", "2000000", "must be between 1 and 1000000", 0, NULL},
    {"max_client_conn", "many", "expected a positive integer", 0, NULL},
    {"workers", "0", OK, 0, NULL},
    {"workers", "8", OK, 8, NULL},
    {"workers", "-1", "expected a non-negative integer, got '-1'", 0, NULL},
    {"workers", "1025", "must be between 0 and 1024", 0, NULL},
    {"workers", "auto", "expected a non-negative integer", 0, NULL},
    {"shape_cache_entries", "10000", OK, 10000, NULL},
    {"shape_cache_entries", "1", OK, 1, NULL},
    {"shape_cache_entries", "0", "must be between 1 and 10000000", 0, NULL},
    {"shape_cache_entries", "ten", "expected a positive integer", 0, NULL},
    {"source_rows", "50", OK, 50, NULL},
    {"source_rows", "0", "must be between 1", 0, NULL},
    {"source_rows", "1e4", "expected a positive integer", 0, NULL},
    {"source_results", "8", OK, 8, NULL},
    {"source_results", "1000", OK, 1000, NULL},
    {"source_results", "1001", "must be between 1 and 1000", 0, NULL},
    {"source_results", "0", "must be between 1 and 1000", 0, NULL},
    /* sizes */
    {"max_batch_bytes", "16MB", OK, 16 << 20, NULL},
    {"max_batch_bytes", "8kB", OK, 8192, NULL},
    {"max_batch_bytes", "8KB", OK, 8192, NULL},
    {"max_batch_bytes", "1GB", OK, 1 << 30, NULL},
    {"max_batch_bytes", "1TB", OK, 1ULL << 40, NULL},
    {"max_batch_bytes", "4096", OK, 4096, NULL},
    {"max_batch_bytes", "512B", OK, 512, NULL},
    {"max_batch_bytes", "2 MB", OK, 2 << 20, NULL},
    {"max_batch_bytes", "16mb", "expected bytes with an optional unit (B, kB, MB, GB, TB)", 0,
     NULL},
    {"max_batch_bytes", "16M", "expected bytes", 0, NULL},
    {"max_batch_bytes", "16 MB extra", "expected bytes", 0, NULL},
    {"max_batch_bytes", "-1", "expected bytes", 0, NULL},
    {"max_batch_bytes", "0", "must be between 1 and 1TB, got '0'", 0, NULL},
    {"max_batch_bytes", "2TB", "must be between 1 and 1TB", 0, NULL},
    {"max_batch_bytes", "17179869184GB", "must be between", 0, NULL},
    {"session_cache_bytes", "8MB", OK, 8 << 20, NULL},
    {"session_cache_bytes", "64kB", OK, 64 << 10, NULL},
    {"session_cache_bytes", "0", "must be between 1 and 1TB", 0, NULL},
    {"session_cache_bytes", "abc", "expected bytes", 0, NULL},
    {"max_message_bytes", "1GB", OK, 1 << 30, NULL},
    {"max_message_bytes", "1kB", OK, 1024, NULL},
    {"max_message_bytes", "512", "must be between 1kB and 1GB", 0, NULL},
    {"max_message_bytes", "2GB", "must be between 1kB and 1GB", 0, NULL},
    {"buffer_bytes", "256kB", OK, 256 << 10, NULL},
    {"buffer_bytes", "1MB", OK, 1 << 20, NULL},
    {"buffer_bytes", "100", "must be between 1kB and 1GB", 0, NULL},
    {"buffer_bytes", "lots", "expected bytes", 0, NULL},
    /* lists */
    {"batch_allow", "users, public.orders", OK, 0, "users,public.orders"},
    {"batch_allow", "Users", OK, 0, "users"},
    {"batch_allow", "a0b1c2d3e4f5a6b7", OK, 0, "a0b1c2d3e4f5a6b7"},
    {"batch_allow", "", OK, 0, ""},
    {"batch_allow", "users,,orders", "key 'batch_allow': empty item", 0, NULL},
    {"batch_allow", "users,", "empty item", 0, NULL},
    {"batch_allow", "my table", "'my table' is not a table name or fingerprint", 0, NULL},
    {"batch_deny", "orders", OK, 0, "orders"},
    {"batch_deny", " a , b ", OK, 0, "a,b"},
    {"batch_deny", "bad!", "'bad!' is not a table name or fingerprint", 0, NULL},
    /* key names */
    {"MAX_BATCH_KEYS", "7", OK, 7, NULL},
    {"max_bath_keys", "1", "unknown key 'max_bath_keys'", 0, NULL},
    {"", "1", "unknown key ''", 0, NULL},
    {"upstream_host", "db", "unknown key 'upstream_host'", 0, NULL},
};

static void
run_set_case(size_t i, const struct set_case *t)
{
    struct config c, before;
    char err[512] = "", why[512];
    int rc;

    config_defaults(&c);
    before = c;
    rc = config_set(&c, t->key, t->value, err, sizeof(err));
    if (t->err == OK && rc != 0)
        fail_msg("set %zu (%s = '%s'): rc %d: %s", i, t->key, t->value, rc, err);
    if (t->err == OK && field_check(&c, t->key, t->num, t->str, why, sizeof(why)) < 0)
        fail_msg("set %zu (%s = '%s'): %s", i, t->key, t->value, why);
    if (t->err == OK)
        return;
    if (rc >= 0)
        fail_msg("set %zu (%s = '%s'): accepted, expected '%s'", i, t->key, t->value, t->err);
    if (strstr(err, t->err) == NULL)
        fail_msg("set %zu (%s = '%s'): error '%s', expected '%s'", i, t->key, t->value, err,
                 t->err);
    if (memcmp(&c, &before, sizeof(c)) != 0)
        fail_msg("set %zu (%s = '%s'): a rejected value changed the config", i, t->key, t->value);
}

static void
test_set_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(set_cases); i++)
        run_set_case(i, &set_cases[i]);
    print_message("config_set: %zu cases\n", ARRAY_LEN(set_cases));
}

/* Every key has at least one good and one bad value in the table above. */
static void
test_set_covers_every_key(void **state)
{
    (void)state;
    for (size_t f = 0; f < NKEYS; f++) {
        int good = 0, bad = 0;
        for (size_t i = 0; i < ARRAY_LEN(set_cases); i++) {
            if (strcmp(set_cases[i].key, fields[f].key) != 0)
                continue;
            good += set_cases[i].err == OK;
            bad += set_cases[i].err != OK;
        }
        if (good == 0 || bad == 0)
            fail_msg("key %s: %d good and %d bad cases", fields[f].key, good, bad);
    }
}

static void
test_set_messages(void **state)
{
    struct config c;
    char err[512];
    char big[2000];

    (void)state;
    config_defaults(&c);
    assert_int_equal(config_set(&c, "max_batch_keys", "lots", err, sizeof(err)), -EINVAL);
    assert_string_equal(err, "key 'max_batch_keys': expected a positive integer, got 'lots'");
    assert_int_equal(config_set(&c, "max_bath_keys", "1", err, sizeof(err)), -ENOENT);
    assert_string_equal(err, "unknown key 'max_bath_keys'");

    /* A short error buffer truncates; none at all is allowed. */
    assert_int_equal(config_set(&c, "workers", "x", err, 8), -EINVAL);
    assert_int_equal(strlen(err), 7);
    assert_int_equal(config_set(&c, "workers", "x", NULL, 0), -EINVAL);

    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    assert_int_equal(config_set(&c, "upstream", big, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "too long"));
    memcpy(big, "host=", 5);
    big[1100] = '\0';
    assert_int_equal(config_set(&c, "upstream", big, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "too long (max 1023 bytes)"));
    big[300] = '\0';
    big[0] = '/';
    assert_int_equal(config_set(&c, "listen", big, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "too long (max 255 bytes)"));

    /* DIR/.s.PGSQL.65535 must fit in sun_path's 108 bytes: 92 is the longest directory. */
    snprintf(big, sizeof(big), "/%091d", 0);
    assert_int_equal(config_set(&c, "listen", big, err, sizeof(err)), 0);
    assert_string_equal(c.listen, big);
    snprintf(big, sizeof(big), "/%092d", 0);
    assert_int_equal(config_set(&c, "listen", big, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "key 'listen': unix socket directory is too long (max 92 bytes)"));
}

/* ---- upstream: what config_validate derives, URI and key=value alike ---- */

static const struct {
    const char *upstream;
    const char *host;
    int port;
    const char *dbname;
    const char *sslmode;
} upstream_cases[] = {
    {"postgresql://db.internal:5432/appdb?sslmode=prefer", "db.internal", 5432, "appdb", "prefer"},
    {"postgres://db:6543/x", "db", 6543, "x", "prefer"},
    {"postgresql://db?sslmode=disable", "db", 5432, "", "disable"},
    {"postgresql:///appdb", "/var/run/postgresql", 5432, "appdb", "prefer"},
    {"postgresql://%2Ftmp:5999/db", "/tmp", 5999, "db", "prefer"},
    {"postgresql://[::1]:5433/db", "::1", 5433, "db", "prefer"},
    {"postgresql://db/app?sslmode=verify-full&application_name=x", "db", 5432, "app",
     "verify-full"},
    {"host=10.0.0.5 port=5433 dbname=app sslmode=require", "10.0.0.5", 5433, "app", "require"},
    {"host=/tmp port=5999", "/tmp", 5999, "", "prefer"},
    {"hostaddr=127.0.0.1 host=db.internal", "127.0.0.1", 5432, "", "prefer"},
    {"dbname=app", "/var/run/postgresql", 5432, "app", "prefer"},
    {"host=db connect_timeout=5 application_name=x", "db", 5432, "", "prefer"},
    {"host = 'db' dbname = 'my app'", "db", 5432, "my app", "prefer"},
    {"", "/var/run/postgresql", 5432, "", "prefer"},
};

static void
test_upstream_table(void **state)
{
    struct config c;
    char err[512];

    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(upstream_cases); i++) {
        config_defaults(&c);
        snprintf(c.upstream, sizeof(c.upstream), "%s", upstream_cases[i].upstream);
        if (config_validate(&c, err, sizeof(err)) != 0)
            fail_msg("upstream %zu (%s): %s", i, upstream_cases[i].upstream, err);
        assert_string_equal(c.upstream_host, upstream_cases[i].host);
        assert_int_equal(c.upstream_port, upstream_cases[i].port);
        assert_string_equal(c.upstream_dbname, upstream_cases[i].dbname);
        assert_string_equal(c.upstream_sslmode, upstream_cases[i].sslmode);
        assert_string_equal(c.upstream, upstream_cases[i].upstream); /* kept as written */
    }
    print_message("upstream: %zu cases\n", ARRAY_LEN(upstream_cases));
}

/* ---- config_addr_split ---- */

static const struct {
    const char *addr;
    int rc;
    const char *host;
    int port;
} addr_cases[] = {
    {"127.0.0.1:6432", 0, "127.0.0.1", 6432},
    {"[::1]:7000", 0, "::1", 7000},
    {"*:6432", 0, "*", 6432},
    {"db.local:1", 0, "db.local", 1},
    {"/tmp", 0, "/tmp", 6432},
    {"/var/run/pgfold:7432", 0, "/var/run/pgfold", 7432},
    {"nonsense", -EINVAL, NULL, 0},
    {"", -EINVAL, NULL, 0},
};

static void
test_addr_split(void **state)
{
    char host[CONFIG_ADDR_MAX];
    int port;

    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(addr_cases); i++) {
        int rc = config_addr_split(addr_cases[i].addr, host, sizeof(host), &port);
        assert_int_equal(rc, addr_cases[i].rc);
        if (rc != 0)
            continue;
        assert_string_equal(host, addr_cases[i].host);
        assert_int_equal(port, addr_cases[i].port);
    }
}

/* ---- config_load_file ---- */

struct file_case {
    const char *text;
    const char *err; /* OK, or the text expected right after the path */
    const char *key; /* for OK: a key to check */
    uint64_t num;
    const char *str;
};

static const struct file_case file_cases[] = {
    {"[pgfold]\nmax_batch_keys = 500\n", OK, "max_batch_keys", 500, NULL},
    {"[pgfold]\nlisten = 127.0.0.1:7000 ; inline comment\n", OK, "listen", 0, "127.0.0.1:7000"},
    {"; comment\n# another\n\n[pgfold]\nmax_batch_bytes = 32MB\n", OK, "max_batch_bytes", 32 << 20,
     NULL},
    {"[pgfold]\nmax_batch_keys = 100\n[pgfold]\nmax_batch_keys = 200\n", OK, "max_batch_keys", 200,
     NULL},
    {"[pgfold]\nmode = observe\n[pgfold]\nworkers = 2\n", OK, "mode", MODE_OBSERVE, NULL},
    {"[pgfold]\nmax_batch_keys = 100\nmax_batch_keys = 300\n", OK, "max_batch_keys", 300, NULL},
    {"[pgfold]\nmax_batch_keys = 100\n[empty]\n", OK, "max_batch_keys", 100, NULL},
    {"", OK, "max_batch_keys", 1000, NULL},
    {"[pgfold]\nupstream = host=db port=5433 dbname=app\n", OK, "upstream_port", 5433, NULL},
    {"[pgfold]\nupstream = postgresql://db.internal:5432/appdb?sslmode=prefer\n", OK,
     "upstream_dbname", 0, "appdb"},
    {"[PGFOLD]\nWorkers = 4\n", OK, "workers", 4, NULL},
    {"\xEF\xBB\xBF[pgfold]\nworkers = 3\n", OK, "workers", 3, NULL},
    {"[pgfold]\r\nworkers = 5\r\n", OK, "workers", 5, NULL},
    {"[pgfold]\nworkers: 6\n", OK, "workers", 6, NULL},
    {"[pgfold]\nadmin_listen =\n", OK, "admin_listen", 0, ""},
    {"[pgfold]\nworkers = 7", OK, "workers", 7, NULL},
    {"[pgfold]\nlisten = 127.0.0.1:6432\nmax_bath_keys = 5\n", ":3: unknown key 'max_bath_keys'",
     NULL, 0, NULL},
    {"[pgfold]\n\n\n\n\n\nmax_batch_keys = lots\n",
     ":7: key 'max_batch_keys': expected a positive integer, got 'lots'", NULL, 0, NULL},
    {"workers = 2\n[pgfold]\n", ":1: key 'workers': outside any section", NULL, 0, NULL},
    {"[pgfold]\nworkers = 2\n[db]\nhost = x\n",
     ":4: key 'host': in section [db], expected [pgfold]", NULL, 0, NULL},
    {"[pgfold]\nthis line has no equals sign\n", ":2: syntax error", NULL, 0, NULL},
    {"[pgfold\nworkers = 1\n", ":1: syntax error", NULL, 0, NULL},
    {"[pgfold]\nlisten =\n", ":2: key 'listen': must not be empty", NULL, 0, NULL},
    {"[pgfold]\nmax_batch_bytes = 16XB\n", ":2: key 'max_batch_bytes': expected bytes", NULL, 0,
     NULL},
    {"[pgfold]\nworkers = 1\nnot valid\nmax_batch_keys = 0\n", ":3: syntax error", NULL, 0, NULL},
    {"[pgfold]\nmax_batch_keys = 0\nnot valid\n", ":2: key 'max_batch_keys': must be between", NULL,
     0, NULL},
    {"[pgfold]\nworkers = 4\nmax_batch_keys = nope\n", ":3: key 'max_batch_keys'", NULL, 0, NULL},
    {"[pgfold]\nmode = fast\n",
     ":2: key 'mode': expected one of rewrite, observe, passthrough, got 'fast'", NULL, 0, NULL},
    {"[pgfold]\nupstream = garbage\n", ":2: key 'upstream': missing \"=\" after \"garbage\"", NULL,
     0, NULL},
    {"[pgfold]\nlisten = 127.0.0.1:6432\n  6433\n", ":3: key 'listen': expected host:port", NULL, 0,
     NULL},
    {"[pgfold]\nupstream = "
     "host=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\nworkers = 1\n",
     ":2: line too long", NULL, 0, NULL},
};

static void
run_file_case(size_t i, const struct file_case *t)
{
    struct config c, before;
    char path[64], err[512] = "", why[512], want[600];
    int rc;

    write_temp(t->text, path);
    config_defaults(&c);
    before = c;
    rc = config_load_file(&c, path, err, sizeof(err));
    unlink(path);
    if (t->err == OK) {
        if (rc != 0)
            fail_msg("file %zu: rc %d: %s", i, rc, err);
        if (field_check(&c, t->key, t->num, t->str, why, sizeof(why)) < 0)
            fail_msg("file %zu: %s", i, why);
        return;
    }
    snprintf(want, sizeof(want), "%s%s", path, t->err);
    if (rc >= 0)
        fail_msg("file %zu: accepted, expected '%s'", i, t->err);
    if (strncmp(err, want, strlen(want)) != 0)
        fail_msg("file %zu: error '%s', expected it to start with '%s'", i, err, want);
    if (memcmp(&c, &before, sizeof(c)) != 0)
        fail_msg("file %zu: a rejected file changed the config", i);
}

static void
test_file_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(file_cases); i++)
        run_file_case(i, &file_cases[i]);
    print_message("config_load_file: %zu cases\n", ARRAY_LEN(file_cases));
}

static void
test_file_exact_message(void **state)
{
    struct config c;
    char path[64], err[512], want[600];

    (void)state;
    write_temp("[pgfold]\nlisten = 127.0.0.1:6432\nmax_bath_keys = 5\n", path);
    config_defaults(&c);
    assert_int_equal(config_load_file(&c, path, err, sizeof(err)), -ENOENT);
    snprintf(want, sizeof(want), "%s:3: unknown key 'max_bath_keys'", path);
    assert_string_equal(err, want);
    unlink(path);
}

static void
test_file_unreadable(void **state)
{
    struct config c;
    char path[64], err[512];

    (void)state;
    config_defaults(&c);
    assert_int_equal(config_load_file(&c, "/nonexistent/pgfold.ini", err, sizeof(err)), -ENOENT);
    assert_string_equal(err, "/nonexistent/pgfold.ini: cannot open: No such file or directory");

    assert_int_equal(config_load_file(&c, "/tmp", err, sizeof(err)), -EISDIR);
    assert_string_equal(err, "/tmp: cannot read: Is a directory");

    if (geteuid() == 0)
        return; /* root reads anything; the permission case cannot be shown */
    write_temp("[pgfold]\n", path);
    chmod(path, 0);
    assert_int_equal(config_load_file(&c, path, err, sizeof(err)), -EACCES);
    assert_non_null(strstr(err, "cannot open: Permission denied"));
    unlink(path);
}

/* ---- config_parse_args ---- */

#define FILE_ARG "@FILE" /* replaced by the path of a file with the text below */
#define ARGS_FILE "[pgfold]\nworkers = 2\nmax_batch_keys = 500\nmode = passthrough\n"

struct args_case {
    const char *argv[10];
    const char *err; /* OK, or a piece of the expected message */
    config_action action;
    const char *key; /* for OK: a key to check */
    uint64_t num;
    const char *str;
};

static const struct args_case args_cases[] = {
    {{"pgfold"}, OK, CONFIG_RUN, "workers", 0, NULL},
    {{"pgfold", "--help"}, OK, CONFIG_HELP, "workers", 0, NULL},
    {{"pgfold", "-h"}, OK, CONFIG_HELP, "workers", 0, NULL},
    {{"pgfold", "--version"}, OK, CONFIG_VERSION, "workers", 0, NULL},
    {{"pgfold", "-V"}, OK, CONFIG_VERSION, "workers", 0, NULL},
    {{"pgfold", "--version", "--help"}, OK, CONFIG_HELP, "workers", 0, NULL},
    {{"pgfold", "-c", "/nonexistent.ini", "--help"}, OK, CONFIG_HELP, "workers", 0, NULL},
    {{"pgfold", "--listen", "127.0.0.1:7000"}, OK, CONFIG_RUN, "listen", 0, "127.0.0.1:7000"},
    {{"pgfold", "--listen=/tmp"}, OK, CONFIG_RUN, "listen", 0, "/tmp"},
    {{"pgfold", "--upstream", "host=db port=6000"}, OK, CONFIG_RUN, "upstream_port", 6000, NULL},
    {{"pgfold", "--admin-listen", "127.0.0.1:7001"},
     OK,
     CONFIG_RUN,
     "admin_listen",
     0,
     "127.0.0.1:7001"},
    {{"pgfold", "--admin-listen="}, OK, CONFIG_RUN, "admin_listen", 0, ""},
    {{"pgfold", "--mode", "observe"}, OK, CONFIG_RUN, "mode", MODE_OBSERVE, NULL},
    {{"pgfold", "--workers", "4"}, OK, CONFIG_RUN, "workers", 4, NULL},
    {{"pgfold", "--log-level", "debug"}, OK, CONFIG_RUN, "log_level", LOG_DEBUG, NULL},
    {{"pgfold", "--workers", "3", "--workers", "5"}, OK, CONFIG_RUN, "workers", 5, NULL},
    {{"pgfold", "-c", FILE_ARG}, OK, CONFIG_RUN, "workers", 2, NULL},
    {{"pgfold", "--config", FILE_ARG}, OK, CONFIG_RUN, "max_batch_keys", 500, NULL},
    {{"pgfold", "-c", FILE_ARG, "--workers", "4"}, OK, CONFIG_RUN, "workers", 4, NULL},
    {{"pgfold", "--workers", "4", "-c", FILE_ARG}, OK, CONFIG_RUN, "workers", 4, NULL},
    {{"pgfold", "--mode=observe", "-c", FILE_ARG}, OK, CONFIG_RUN, "mode", MODE_OBSERVE, NULL},
    {{"pgfold", "--mode=observe", "-c", FILE_ARG}, OK, CONFIG_RUN, "max_batch_keys", 500, NULL},
    {{"pgfold", "--bogus"}, "unknown option '--bogus'", CONFIG_RUN, NULL, 0, NULL},
    {{"pgfold", "-x"}, "unknown option '-x'", CONFIG_RUN, NULL, 0, NULL},
    {{"pgfold", "--l", "x"}, "ambiguous option '--l'", CONFIG_RUN, NULL, 0, NULL},
    {{"pgfold", "--bogus=1"}, "unknown option '--bogus'", CONFIG_RUN, NULL, 0, NULL},
    {{"pgfold", "--work", "3"}, OK, CONFIG_RUN, "workers", 3, NULL},
    {{"pgfold", "--listen"}, "option '--listen' needs a value", CONFIG_RUN, NULL, 0, NULL},
    {{"pgfold", "-c"}, "option '-c' needs a value", CONFIG_RUN, NULL, 0, NULL},
    {{"pgfold", "--help=yes"}, "option '--help' takes no value", CONFIG_RUN, NULL, 0, NULL},
    {{"pgfold", "extra"}, "unexpected argument 'extra'", CONFIG_RUN, NULL, 0, NULL},
    {{"pgfold", "--workers", "lots"},
     "option '--workers': expected a non-negative integer, got 'lots'",
     CONFIG_RUN,
     NULL,
     0,
     NULL},
    {{"pgfold", "--mode", "fast"}, "option '--mode': expected one of", CONFIG_RUN, NULL, 0, NULL},
    {{"pgfold", "--listen="}, "option '--listen': must not be empty", CONFIG_RUN, NULL, 0, NULL},
    {{"pgfold", "--upstream", "garbage"},
     "option '--upstream': missing \"=\"",
     CONFIG_RUN,
     NULL,
     0,
     NULL},
    {{"pgfold", "-c", "/nonexistent.ini"},
     "/nonexistent.ini: cannot open",
     CONFIG_RUN,
     NULL,
     0,
     NULL},
    {{"pgfold", "-c", FILE_ARG, "--workers", "x"}, "option '--workers'", CONFIG_RUN, NULL, 0, NULL},
};

static void
run_args_case(size_t i, const struct args_case *t, const char *file)
{
    struct config c, before;
    char *argv[11] = {NULL};
    char cfile[256] = "x", err[512] = "", why[512];
    config_action action = CONFIG_VERSION;
    int argc = 0, rc;

    for (; t->argv[argc] != NULL; argc++)
        argv[argc] = (char *)(strcmp(t->argv[argc], FILE_ARG) == 0 ? file : t->argv[argc]);
    config_defaults(&c);
    before = c;
    rc = config_parse_args(&c, argc, argv, &action, cfile, sizeof(cfile), err, sizeof(err));
    if (t->err != OK) {
        if (rc >= 0 || strstr(err, t->err) == NULL)
            fail_msg("args %zu: rc %d, error '%s', expected '%s'", i, rc, err, t->err);
        if (memcmp(&c, &before, sizeof(c)) != 0)
            fail_msg("args %zu: rejected flags changed the config", i);
        return;
    }
    if (rc != 0)
        fail_msg("args %zu: rc %d: %s", i, rc, err);
    if (action != t->action)
        fail_msg("args %zu: action %d, expected %d", i, (int)action, (int)t->action);
    if (field_check(&c, t->key, t->num, t->str, why, sizeof(why)) < 0)
        fail_msg("args %zu: %s", i, why);
    for (int a = 0; a < argc; a++)
        if (argv[a] == file && action == CONFIG_RUN && strcmp(cfile, file) != 0)
            fail_msg("args %zu: config_file '%s', expected '%s'", i, cfile, file);
    if (argc == 1 && cfile[0] != '\0')
        fail_msg("args %zu: config_file '%s', expected ''", i, cfile);
}

static void
test_args_table(void **state)
{
    char path[64];

    (void)state;
    write_temp(ARGS_FILE, path);
    for (size_t i = 0; i < ARRAY_LEN(args_cases); i++)
        run_args_case(i, &args_cases[i], path);
    unlink(path);
    print_message("config_parse_args: %zu cases\n", ARRAY_LEN(args_cases));
}

/* The file is loaded before the flags, whatever their order, and only then the flags win. */
static void
test_args_file_then_flags(void **state)
{
    char path[64], err[512], cfile[256];
    char *before[] = {"pgfold", "--log-level", "warn", "--workers", "9", "-c", path};
    char *after[] = {"pgfold", "-c", path, "--log-level", "warn", "--workers", "9"};
    struct config a, b;
    config_action action;

    (void)state;
    write_temp("[pgfold]\nworkers = 2\nlog_level = error\nsource_rows = 77\n", path);
    config_defaults(&a);
    config_defaults(&b);
    assert_int_equal(
        config_parse_args(&a, 7, before, &action, cfile, sizeof(cfile), err, sizeof(err)), 0);
    assert_int_equal(
        config_parse_args(&b, 7, after, &action, cfile, sizeof(cfile), err, sizeof(err)), 0);
    unlink(path);
    assert_int_equal(a.workers, 9);
    assert_int_equal(a.log_level, LOG_WARN);
    assert_int_equal(a.source_rows, 77);
    assert_memory_equal(&a, &b, sizeof(a));
    assert_string_equal(cfile, path);
}

/* ---- config_validate ---- */

struct validate_case {
    const char *key1, *value1;
    const char *key2, *value2;
    const char *err; /* OK, or a piece of the expected message */
};

static const struct validate_case validate_cases[] = {
    {"listen", "127.0.0.1:6432", "admin_listen", "127.0.0.1:6433", OK},
    {"listen", "127.0.0.1:6432", "admin_listen", "127.0.0.1:6432",
     "key 'admin_listen': '127.0.0.1:6432' is the same address as listen"},
    {"listen", "*:6432", "admin_listen", "127.0.0.1:6432", "same address as listen"},
    {"listen", "127.0.0.1:6432", "admin_listen", "[::]:6432", "same address as listen"},
    {"listen", "/tmp", "admin_listen", "127.0.0.1:6432", OK},
    {"listen", "127.0.0.1:6432", "admin_listen", "", OK},
    {"listen", "127.0.0.1:6432", "upstream", "host=127.0.0.1 port=6432",
     "key 'upstream': points at pgfold's own listen address"},
    {"listen", "/tmp", "upstream", "host=/tmp port=6432", "points at pgfold's own listen"},
    {"listen", "/tmp:5999", "upstream", "host=/tmp port=5432", OK},
    {"listen", "127.0.0.1:6432", "upstream", "host=127.0.0.1 port=5432", OK},
    {"listen", "/tmp,127.0.0.1:7000", "admin_listen", "127.0.0.1:7000",
     "'127.0.0.1:7000' is the same address as listen '127.0.0.1:7000'"},
    {"listen", "127.0.0.1:6432,/tmp", "upstream", "host=/tmp port=6432",
     "points at pgfold's own listen address '/tmp'"},
    {"listen", "127.0.0.1:6432,/tmp", "admin_listen", "127.0.0.1:6433", OK},
    {"batch_allow", "users,orders", "batch_deny", "Orders",
     "key 'batch_deny': 'orders' is also in batch_allow"},
    {"batch_allow", "users", "batch_deny", "orders", OK},
};

static void
test_validate_table(void **state)
{
    struct config c;
    char err[512] = "";

    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(validate_cases); i++) {
        const struct validate_case *t = &validate_cases[i];
        config_defaults(&c);
        assert_int_equal(config_set(&c, t->key1, t->value1, err, sizeof(err)), 0);
        assert_int_equal(config_set(&c, t->key2, t->value2, err, sizeof(err)), 0);
        int rc = config_validate(&c, err, sizeof(err));
        if (t->err == OK && rc != 0)
            fail_msg("validate %zu: rc %d: %s", i, rc, err);
        if (t->err != OK && (rc != -EINVAL || strstr(err, t->err) == NULL))
            fail_msg("validate %zu: rc %d, error '%s', expected '%s'", i, rc, err, t->err);
    }
    print_message("config_validate: %zu cases\n", ARRAY_LEN(validate_cases));
}

/* Fields written by code, not through config_set, meet the same rules. */
static void
test_validate_direct_writes(void **state)
{
    struct config c;
    char err[512];

    (void)state;
    config_defaults(&c);
    c.max_batch_keys = 0;
    assert_int_equal(config_validate(&c, err, sizeof(err)), -EINVAL);
    assert_string_equal(err, "key 'max_batch_keys': must be between 1 and 1000000, got '0'");

    config_defaults(&c);
    c.mode = (config_mode)7;
    assert_int_equal(config_validate(&c, err, sizeof(err)), -EINVAL);
    assert_string_equal(err, "key 'mode': expected one of rewrite, observe, passthrough, got '7'");

    config_defaults(&c);
    strcpy(c.listen, "nonsense");
    assert_int_equal(config_validate(&c, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "key 'listen'"));

    config_defaults(&c);
    c.listen[0] = '\0';
    assert_int_equal(config_validate(&c, err, sizeof(err)), -EINVAL);
    assert_string_equal(err, "key 'listen': must not be empty");

    config_defaults(&c);
    strcpy(c.upstream, "postgresql://db:7000/app");
    assert_int_equal(config_validate(&c, err, sizeof(err)), 0);
    assert_string_equal(c.upstream_host, "db");
    assert_int_equal(c.upstream_port, 7000);

    config_defaults(&c);
    strcpy(c.upstream, "nonsense");
    assert_int_equal(config_validate(&c, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "key 'upstream': missing \"=\" after \"nonsense\""));
}

/* ---- config_reload_tunables ---- */

static void
test_reload_nothing_changed(void **state)
{
    struct config dst, src;
    char changed[256] = "junk";

    (void)state;
    config_defaults(&dst);
    config_defaults(&src);
    assert_int_equal(config_reload_tunables(&dst, &src, changed, sizeof(changed)), 0);
    assert_string_equal(changed, "");
    assert_int_equal(config_reload_tunables(&dst, &src, NULL, 0), 0);
}

static void
test_reload_tunables(void **state)
{
    struct config dst, src;
    char changed[1024], err[256];

    (void)state;
    config_defaults(&dst);
    config_defaults(&src);
    assert_int_equal(config_set(&src, "max_batch_keys", "500", err, sizeof(err)), 0);
    assert_int_equal(config_set(&src, "mode", "observe", err, sizeof(err)), 0);
    assert_int_equal(config_set(&src, "max_batch_bytes", "32MB", err, sizeof(err)), 0);
    assert_int_equal(config_set(&src, "batch_deny", "users", err, sizeof(err)), 0);
    assert_int_equal(config_reload_tunables(&dst, &src, changed, sizeof(changed)), 4);
    assert_string_equal(changed, "mode rewrite -> observe; max_batch_keys 1000 -> 500; "
                                 "max_batch_bytes 16MB -> 32MB; batch_deny '' -> users");
    assert_int_equal(dst.max_batch_keys, 500);
    assert_int_equal(dst.mode, MODE_OBSERVE);
    assert_int_equal(dst.max_batch_bytes, 32 << 20);
    assert_string_equal(dst.batch_deny, "users");
    assert_int_equal(config_reload_tunables(&dst, &src, changed, sizeof(changed)), 0);
}

static void
test_reload_restart_keys(void **state)
{
    struct config dst, src;
    char changed[1024], err[256];

    (void)state;
    config_defaults(&dst);
    config_defaults(&src);
    assert_int_equal(config_set(&src, "listen", "127.0.0.1:7000", err, sizeof(err)), 0);
    assert_int_equal(config_set(&src, "upstream", "host=db", err, sizeof(err)), 0);
    assert_int_equal(config_set(&src, "admin_listen", "", err, sizeof(err)), 0);
    assert_int_equal(config_set(&src, "workers", "4", err, sizeof(err)), 0);
    assert_int_equal(config_set(&src, "log_level", "debug", err, sizeof(err)), 0);
    assert_int_equal(config_reload_tunables(&dst, &src, changed, sizeof(changed)), 1);
    assert_non_null(strstr(changed, "listen '127.0.0.1:6432' -> '127.0.0.1:7000' needs a restart"));
    assert_non_null(strstr(changed, "upstream '' -> 'host=db' needs a restart"));
    assert_non_null(strstr(changed, "admin_listen '127.0.0.1:6433' -> '' needs a restart"));
    assert_non_null(strstr(changed, "workers '0' -> '4' needs a restart"));
    assert_non_null(strstr(changed, "log_level info -> debug"));
    assert_string_equal(dst.listen, "127.0.0.1:6432");
    assert_string_equal(dst.upstream, "");
    assert_string_equal(dst.upstream_host, "/var/run/postgresql");
    assert_string_equal(dst.admin_listen, "127.0.0.1:6433");
    assert_int_equal(dst.workers, 0);
    assert_int_equal(dst.log_level, LOG_DEBUG);
}

static void
test_reload_small_buffer(void **state)
{
    struct config dst, src;
    char changed[16];
    char err[256];

    (void)state;
    config_defaults(&dst);
    config_defaults(&src);
    assert_int_equal(config_set(&src, "max_batch_keys", "500", err, sizeof(err)), 0);
    assert_int_equal(config_set(&src, "source_rows", "5", err, sizeof(err)), 0);
    memset(changed, 'x', sizeof(changed));
    assert_int_equal(config_reload_tunables(&dst, &src, changed, sizeof(changed)), 2);
    assert_int_equal(strlen(changed), sizeof(changed) - 1);
    assert_int_equal(dst.source_rows, 5);
}

/* ---- usage and names ---- */

static void
test_usage(void **state)
{
    static const char *const want[] = {
        "-c, --config=FILE",
        "--listen=ADDR",
        "--upstream=CONNINFO",
        "--admin-listen=ADDR",
        "--mode=MODE",
        "--workers=N",
        "--log-level=LEVEL",
        "-V, --version",
        "-h, --help",
        "16MB",
        "8MB",
        "256kB",
        "1GB",
        "127.0.0.1:6433",
    };
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);

    (void)state;
    assert_non_null(out);
    config_usage(out);
    fclose(out);
    for (size_t i = 0; i < ARRAY_LEN(want); i++)
        if (strstr(text, want[i]) == NULL)
            fail_msg("usage lacks '%s'", want[i]);
    for (size_t i = 0; i < NKEYS; i++) {
        char line[64];
        snprintf(line, sizeof(line), "\n  %s ", fields[i].key);
        if (strstr(text, line) == NULL)
            fail_msg("usage lacks key '%s' on a line of its own", fields[i].key);
    }
    free(text);
}

static void
test_names(void **state)
{
    (void)state;
    assert_string_equal(config_mode_name(MODE_REWRITE), "rewrite");
    assert_string_equal(config_mode_name(MODE_OBSERVE), "observe");
    assert_string_equal(config_mode_name(MODE_PASSTHROUGH), "passthrough");
    assert_string_equal(config_mode_name((config_mode)42), "unknown");
    assert_string_equal(config_consistency_name(CONSISTENCY_WINDOW), "window");
    assert_string_equal(config_consistency_name(CONSISTENCY_TRANSACTION), "transaction");
    assert_string_equal(config_consistency_name(CONSISTENCY_SNAPSHOT), "snapshot");
    assert_string_equal(config_log_level_name(LOG_ERROR), "error");
    assert_string_equal(config_log_level_name(LOG_WARN), "warn");
    assert_string_equal(config_log_level_name(LOG_INFO), "info");
    assert_string_equal(config_log_level_name(LOG_DEBUG), "debug");
    assert_string_equal(config_log_format_name(LOG_FORMAT_TEXT), "text");
    assert_string_equal(config_log_format_name(LOG_FORMAT_JSON), "json");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_set_table),
        cmocka_unit_test(test_set_covers_every_key),
        cmocka_unit_test(test_set_messages),
        cmocka_unit_test(test_upstream_table),
        cmocka_unit_test(test_addr_split),
        cmocka_unit_test(test_file_table),
        cmocka_unit_test(test_file_exact_message),
        cmocka_unit_test(test_file_unreadable),
        cmocka_unit_test(test_args_table),
        cmocka_unit_test(test_args_file_then_flags),
        cmocka_unit_test(test_validate_table),
        cmocka_unit_test(test_validate_direct_writes),
        cmocka_unit_test(test_reload_nothing_changed),
        cmocka_unit_test(test_reload_tunables),
        cmocka_unit_test(test_reload_restart_keys),
        cmocka_unit_test(test_reload_small_buffer),
        cmocka_unit_test(test_usage),
        cmocka_unit_test(test_names),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
