/*
 * config_harness: what the test_config_*.c files share: the table of where each key lives in
 * struct config (so tables name fields by key), a field check, and temporary files. Static
 * inline so each test file takes only what it uses.
 *
 * Most tests are tables, one case per line: a key and a value with the parsed result or the
 * piece of error text expected; an INI file body with the line the error must name; an argv
 * with the settings it must produce. Files are written to mkstemp temporaries and removed.
 * Every failing case leaves the struct config exactly as it was, and each table checks that.
 */
#ifndef PGFOLD_TEST_CONFIG_HARNESS_H
#define PGFOLD_TEST_CONFIG_HARNESS_H

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
    U64(shape_cache_entries), U64(source_rows), U64(source_results), U64(verify_fraction),
    STR(batch_allow),
    STR(batch_deny), ENM(client_tls_sslmode), STR(client_tls_cert_file), STR(client_tls_key_file),
    STR(admin_token), STR(admin_database), STR(ready_user), U64(log_batch_over_ms),
    /* derived by config_validate(), not keys */
    STR(upstream_host), INT(upstream_port), STR(upstream_dbname), STR(upstream_sslmode),
    STR(upstream_sslrootcert), STR(upstream_sslcert), STR(upstream_sslkey), INT(upstream_sslsni),
};
/* clang-format on */
#undef U64
#undef ENM
#undef INT
#undef STR

/* The settings keys; the derived upstream_* fields are not keys. */
#define NKEYS 30

static inline const struct field *
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
static inline int
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
static inline void
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

#endif
