/*
 * test_config_values: config/ against its contract in config.h and DESIGN.md §2, value by
 * value: every key's default, good and bad values for every key through config_set (units,
 * ranges, lists, messages), what config_validate derives from upstream and which combinations
 * it refuses, config_addr_split, and the enum names.
 *
 * File loading, flags and reload are in test_config_load.c; the field table is in
 * config_harness.h.
 */

#include "tests/unit/config_harness.h"

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
    {"source_results", 32, NULL},
    {"verify_fraction", 10000, NULL},
    {"batch_allow", 0, ""},
    {"batch_deny", 0, ""},
    {"client_tls_sslmode", TLS_DISABLE, NULL},
    {"client_tls_cert_file", 0, ""},
    {"client_tls_key_file", 0, ""},
    {"admin_token", 0, ""},
    {"admin_database", 0, "pgfold"},
    {"ready_user", 0, "postgres"},
    {"log_batch_over_ms", 1000, NULL},
    {"upstream_host", 0, "/var/run/postgresql"},
    {"upstream_port", 5432, NULL},
    {"upstream_dbname", 0, ""},
    {"upstream_sslmode", 0, "prefer"},
    {"upstream_sslrootcert", 0, ""},
    {"upstream_sslcert", 0, ""},
    {"upstream_sslkey", 0, ""},
    {"upstream_sslsni", 1, NULL},
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

#define S16 "abcdefghijklmnop"
#define S256 S16 S16 S16 S16 S16 S16 S16 S16 S16 S16 S16 S16 S16 S16 S16 S16

static const struct set_case set_cases[] = {
    /* TLS and the admin token */
    {"client_tls_sslmode", "disable", OK, TLS_DISABLE, NULL},
    {"client_tls_sslmode", "allow", OK, TLS_ALLOW, NULL},
    {"client_tls_sslmode", "Require", OK, TLS_REQUIRE, NULL},
    {"client_tls_sslmode", "prefer", OK, TLS_ALLOW, NULL},
    {"client_tls_sslmode", "verify-full", "expected one of disable, allow, require", 0, NULL},
    {"client_tls_cert_file", "/etc/pgfold/server.crt", OK, 0, "/etc/pgfold/server.crt"},
    {"client_tls_cert_file", "/" S256, "too long (max 255 bytes)", 0, NULL},
    {"client_tls_key_file", "/etc/pgfold/server.key", OK, 0, "/etc/pgfold/server.key"},
    {"client_tls_key_file", S256, "too long", 0, NULL},
    {"admin_token", "s3cret-token", OK, 0, "s3cret-token"},
    {"admin_token", "", OK, 0, ""},
    {"admin_token", S256, "too long", 0, NULL},
    /* the console and /ready (names: NAMEDATALEN - 1 bytes at most, as PostgreSQL's) */
    {"admin_database", "pgbouncer", OK, 0, "pgbouncer"},
    {"admin_database", "", OK, 0, ""},
    {"admin_database", S16 S16 S16 S16, "too long (max 63 bytes)", 0, NULL},
    {"ready_user", "monitor", OK, 0, "monitor"},
    {"ready_user", "", OK, 0, ""},
    {"ready_user", S16 S16 S16 S16, "too long (max 63 bytes)", 0, NULL},
    {"log_batch_over_ms", "250ms", OK, 250, NULL},
    {"log_batch_over_ms", "0", OK, 0, NULL},
    {"log_batch_over_ms", "slow", "expected milliseconds", 0, NULL},
    {"upstream", "host=db sslmode=verify-full sslrootcert=/etc/ca.crt", OK, 0,
     "host=db sslmode=verify-full sslrootcert=/etc/ca.crt"},
    {"upstream", "host=db sslcert=/c.crt", "sslcert and sslkey go together", 0, NULL},
    {"upstream", "host=db sslsni=2", "invalid sslsni value", 0, NULL},
    {"upstream", "host=db sslrootcert=/" S256, "certificate path is too long", 0, NULL},
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
    /* fractions, kept in millionths */
    {"verify_fraction", "0.01", OK, 10000, NULL},
    {"verify_fraction", "0", OK, 0, NULL},
    {"verify_fraction", "1", OK, 1000000, NULL},
    {"verify_fraction", "1.0", OK, 1000000, NULL},
    {"verify_fraction", ".5", OK, 500000, NULL},
    {"verify_fraction", "0.000001", OK, 1, NULL},
    {"verify_fraction", "5%", OK, 50000, NULL},
    {"verify_fraction", "100%", OK, 1000000, NULL},
    {"verify_fraction", "0.0000001", "expected a fraction from 0 to 1", 0, NULL},
    {"verify_fraction", "1.5", "must be between 0 and 1, got '1.5'", 0, NULL},
    {"verify_fraction", "101%", "must be between 0 and 1", 0, NULL},
    {"verify_fraction", "-0.1", "expected a fraction", 0, NULL},
    {"verify_fraction", "half", "expected a fraction", 0, NULL},
    {"verify_fraction", ".", "expected a fraction", 0, NULL},
    {"verify_fraction", "0.5.1", "expected a fraction", 0, NULL},
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
    {"client_tls_sslmode", "allow", "client_tls_cert_file", "/x.crt",
     "key 'client_tls_sslmode': allow needs client_tls_cert_file and client_tls_key_file"},
    {"client_tls_sslmode", "require", "client_tls_key_file", "/x.key", "require needs"},
    {"client_tls_sslmode", "disable", "client_tls_key_file", "/x.key", OK},
    {"admin_database", "appdb", "upstream", "host=db dbname=appdb",
     "key 'admin_database': 'appdb' is also the upstream's database"},
    {"admin_database", "", "upstream", "host=db dbname=appdb", OK},
    {"admin_database", "pgfold", "upstream", "host=db dbname=appdb", OK},
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

/* ---- names ---- */

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
        cmocka_unit_test(test_validate_table),
        cmocka_unit_test(test_validate_direct_writes),
        cmocka_unit_test(test_names),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
