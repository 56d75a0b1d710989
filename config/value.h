/*
 * value: parsing and printing of single setting values, private to config/.
 *
 * Each parser takes the trimmed text of one value and either stores the result or explains,
 * in a short phrase written to why, what it expected. None of them knows key names, files or
 * lines: config.c adds the key, load.c adds the file and line.
 */
#ifndef PGFOLD_CONFIG_VALUE_H
#define PGFOLD_CONFIG_VALUE_H

#include <stddef.h>
#include <stdint.h>

#include "config/config.h"

/* The unix socket port used when listen names a directory without ":port". */
#define VALUE_UNIX_PORT 6432

/* Where libpq looks when the upstream names no host (Debian's DEFAULT_PGSOCKET_DIR). */
#define VALUE_PG_SOCKET_DIR "/var/run/postgresql"
#define VALUE_PG_PORT 5432

/* What config_validate() derives from the upstream connection string. */
struct value_upstream {
    char host[CONFIG_ADDR_MAX];
    int port;
    char dbname[CONFIG_ADDR_MAX];
    char sslmode[32];
    char sslrootcert[CONFIG_ADDR_MAX];
    char sslcert[CONFIG_ADDR_MAX];
    char sslkey[CONFIG_ADDR_MAX];
    int sslsni;
};

/*
 * Plain decimal integer ("1000"). Returns 0, -EINVAL when the text is not one, or -ERANGE
 * when it does not fit in 64 bits.
 */
/* Writes a formatted message into err (when err is non-NULL and errlen > 0). */
void value_fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

int value_parse_count(const char *s, uint64_t *out);
/* A fraction between 0 and 1 as millionths: "0.01" -> 10000, "1" -> 1000000, "5%" -> 50000.
 * More than six decimals, or more than 1, is -EINVAL / -ERANGE. */
int value_parse_fraction(const char *s, uint64_t *out);
/* Millionths back as the shortest decimal: 10000 -> "0.01". */
void value_format_fraction(uint64_t v, char *buf, size_t len);

/* Bytes with an optional unit B, kB (or KB), MB, GB, TB; 1024 multipliers. Same returns. */
int value_parse_size(const char *s, uint64_t *out);

/* Milliseconds with an optional unit ms, s, min, h, d. Same returns. */
int value_parse_duration(const char *s, uint64_t *out);

/* Prints a byte count in the largest unit that divides it exactly ("16MB", "1000"). */
void value_format_size(uint64_t v, char *buf, size_t len);

/* Prints milliseconds the same way ("500ms", "2s", "1min", "0"). */
void value_format_duration(uint64_t v, char *buf, size_t len);

/*
 * One listen address: "host:port", "[v6]:port", "*:port", or (when allow_unix) an absolute
 * directory, optionally followed by ":port". Stores the host without brackets ("*" stays "*";
 * a directory stays a path starting with '/') and the port. Returns 0 or -EINVAL.
 */
int value_parse_addr(const char *s, int allow_unix, char *host, size_t hostlen, int *port,
                     char *why, size_t whylen);

/* The listen setting: one address or a comma list of them, none empty. Returns 0 or -EINVAL. */
int value_parse_listen(const char *s, char *why, size_t whylen);

/*
 * Copies the next comma-separated item of *p, trimmed, into item and moves *p past it (to
 * NULL after the last item). Returns 0, or -ENAMETOOLONG when the item does not fit.
 */
int value_list_next(const char **p, char *item, size_t itemlen);

/*
 * A comma list of table names or fingerprints: items are trimmed, lowercased and rejoined
 * with bare commas into out ("users,public.orders"). Returns 0 or -EINVAL.
 */
int value_parse_list(const char *s, char *out, size_t outlen, char *why, size_t whylen);

/* Returns 1 when the two normalized lists share an item, copying it into item. */
int value_lists_overlap(const char *a, const char *b, char *item, size_t itemlen);

/*
 * A libpq connection string, URI or key=value, parsed with PQconninfoParse (no connection is
 * made, no environment variable is read). Fills *u with the host (or hostaddr), port, dbname
 * and sslmode, using libpq's defaults for what is absent. Returns 0, -EINVAL with libpq's own
 * message in why, or -ENOMEM.
 */
int value_parse_upstream(const char *s, struct value_upstream *u, char *why, size_t whylen);

/*
 * config_set() without the "key 'K': " prefix, for callers that name the setting their own
 * way (the command-line flags). Defined in config.c.
 */
int config_set_reason(struct config *c, const char *key, const char *value, char *why,
                      size_t whylen) __attribute__((warn_unused_result));

#endif
