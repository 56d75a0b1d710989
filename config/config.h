/*
 * config: pgfold's settings. Defaults, the INI file (parsed with inih), command-line flags
 * that override it, validation, and reload of the tunables on SIGHUP.
 *
 * Pure: no libuv, no logging, no clock. Errors come back as text in a caller's buffer, naming
 * the file, line and key, so the caller decides how to print them.
 */
#ifndef PGFOLD_CONFIG_H
#define PGFOLD_CONFIG_H

#include <stddef.h>
#include <stdio.h>
#include <stdint.h>

typedef enum {
    MODE_REWRITE = 0,
    MODE_OBSERVE,
    MODE_PASSTHROUGH,
} config_mode;

typedef enum {
    CONSISTENCY_WINDOW = 0,
    CONSISTENCY_TRANSACTION,
    CONSISTENCY_SNAPSHOT,
} config_consistency;

typedef enum {
    LOG_ERROR = 0,
    LOG_WARN,
    LOG_INFO,
    LOG_DEBUG,
} config_log_level;

typedef enum {
    TLS_DISABLE = 0, /* SSLRequest answered 'N': clients talk plain text */
    TLS_ALLOW,       /* TLS for clients that ask, plain text for the rest */
    TLS_REQUIRE,     /* a client must ask for TLS; a plain startup packet is refused */
} config_tls_mode;

typedef enum {
    LOG_FORMAT_TEXT = 0,
    LOG_FORMAT_JSON,
} config_log_format;

#define CONFIG_ADDR_MAX 256
#define CONFIG_URI_MAX 1024
#define CONFIG_LIST_MAX 1024
#define CONFIG_NAME_MAX 64 /* a PostgreSQL name: NAMEDATALEN, terminator included */

/*
 * Every setting, with the value in force. Strings are fixed arrays so a struct config can be
 * copied by assignment (the reload path copies the tunables into each worker).
 */
struct config {
    char listen[CONFIG_ADDR_MAX];       /* host:port, or a unix socket directory (starts with /);
                                           or a comma list of them */
    char upstream[CONFIG_URI_MAX];      /* libpq URI or key=value string, as written */
    char admin_listen[CONFIG_ADDR_MAX]; /* host:port; empty = admin port off */
    config_mode mode;
    config_consistency consistency;
    uint64_t max_staleness_ms;
    uint64_t max_batch_keys;
    uint64_t max_batch_bytes;
    uint64_t session_cache_bytes;
    uint64_t max_client_conn;
    uint64_t workers; /* 0 = one per core */
    config_log_level log_level;
    config_log_format log_format;

    /* Limits and tunables beyond DESIGN.md §2, each with a documented default. */
    uint64_t max_message_bytes;   /* largest protocol message accepted; default 1 GiB */
    uint64_t shutdown_timeout_ms; /* SIGTERM drain limit; default 30000 */
    uint64_t connect_timeout_ms;  /* upstream connect limit; default 10000 */
    uint64_t buffer_bytes;        /* per-direction buffered bytes before reading pauses; 256KB */
    uint64_t shape_cache_entries; /* parser shape LRU size per worker; default 10000 */
    uint64_t source_rows;         /* key-source rows remembered per session; default 10000 */
    uint64_t source_results;      /* key-source results remembered per session; default 8 */
    uint64_t verify_fraction;     /* local answers shadow-verified, in millionths; 10000 = 1% */
    char batch_allow[CONFIG_LIST_MAX]; /* comma list of fingerprints or table names; empty = all */
    char batch_deny[CONFIG_LIST_MAX];  /* comma list of fingerprints or table names */

    /* TLS towards clients (docs/security.md); restart-only. */
    config_tls_mode client_tls_sslmode;
    char client_tls_cert_file[CONFIG_ADDR_MAX]; /* PEM certificate (chain) shown to clients */
    char client_tls_key_file[CONFIG_ADDR_MAX];  /* its PEM private key */
    char admin_token[CONFIG_ADDR_MAX]; /* admin port bearer token and console password; empty =
                                          no check on HTTP, console over loopback/unix only */
    char admin_database[CONFIG_NAME_MAX]; /* database name that reaches pgfold's console */
    char ready_user[CONFIG_NAME_MAX];     /* role /ready's probe names; empty = connect only */
    uint64_t log_batch_over_ms;           /* log batches slower than this; 0 = every batch */

    /* Derived from upstream by config_validate() with libpq's PQconninfoParse. */
    char upstream_host[CONFIG_ADDR_MAX]; /* host name, address, or unix socket directory */
    int upstream_port;
    char upstream_dbname[CONFIG_ADDR_MAX]; /* default database; empty = client's choice */
    char upstream_sslmode[32];             /* libpq's default when absent: prefer */
    char upstream_sslrootcert[CONFIG_ADDR_MAX]; /* CA file for verify-ca/verify-full, or "system" */
    char upstream_sslcert[CONFIG_ADDR_MAX];     /* client certificate towards the server */
    char upstream_sslkey[CONFIG_ADDR_MAX];
    int upstream_sslsni;                        /* send the host name in the TLS hello (1) */
};

/* What config_parse_args() asks main() to do. */
typedef enum {
    CONFIG_RUN = 0,
    CONFIG_HELP,
    CONFIG_VERSION,
} config_action;

/* Fills *c with every default. Never fails. */
void config_defaults(struct config *c);

/*
 * Sets one key from its text value, as the INI file and the flags spell it ("16MB", "500ms").
 * Returns 0, or -EINVAL for a bad value and -ENOENT for an unknown key, with a message (without
 * file or line) in err.
 */
int config_set(struct config *c, const char *key, const char *value, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/*
 * Loads an INI file over *c. Keys live in [pgfold]; a section may appear twice, later values
 * win. Returns 0, or a negative code with "FILE:LINE: key 'K': reason" (or "FILE: reason" when
 * the file cannot be read) in err.
 */
int config_load_file(struct config *c, const char *path, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/*
 * Parses argv: -c FILE, --listen, --upstream, --admin-listen, --mode, --workers, --log-level,
 * --version, --help. The file (if any) is loaded first, then the flags override it, whatever
 * their order on the line. On success stores the action in *action and returns 0; otherwise a
 * negative code with the reason in err. config_file receives the -c path (or "" for none) so
 * the caller can reload it on SIGHUP.
 */
int config_parse_args(struct config *c, int argc, char **argv, config_action *action,
                      char *config_file, size_t config_file_len, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/*
 * Checks cross-key rules and derives the upstream_* fields from upstream with libpq.
 * Returns 0 or -EINVAL with the reason in err.
 */
int config_validate(struct config *c, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/*
 * Copies the keys that may change without a restart (everything but listen, admin_listen,
 * upstream, workers) from src into dst and writes a human line per changed key into
 * changed ("max_batch_keys 1000 -> 500; ..."). Returns the number of keys changed.
 * A restart-only key that differs is not copied and not counted, but still named in changed
 * ("listen '127.0.0.1:6432' -> '127.0.0.1:7000' needs a restart, not applied").
 */
int config_reload_tunables(struct config *dst, const struct config *src, char *changed,
                           size_t changed_len);

/* One key as SHOW CONFIG and /stats print it. */
struct config_key_info {
    const char *name;
    char value[CONFIG_URI_MAX]; /* as config_set takes it back; "(set)" for a secret */
    const char *def;            /* the default, as the table spells it */
    int reloadable;             /* 1: SIGHUP applies a change */
    const char *help;
};

/*
 * Describes the i-th key of c (in --help order) into *out. Returns 0, or -ENOENT when i is
 * past the last key. A secret's value is never copied: out->value is "(set)" or "".
 */
int config_describe(const struct config *c, size_t i, struct config_key_info *out)
    __attribute__((warn_unused_result));

/* Writes the usage text: every flag and every config key with its default. */
void config_usage(FILE *out);

/* Names for printing: "rewrite", "window", "info", "text". */
const char *config_mode_name(config_mode m);
const char *config_consistency_name(config_consistency c);
const char *config_log_level_name(config_log_level l);
const char *config_log_format_name(config_log_format f);
const char *config_tls_mode_name(config_tls_mode m);

/*
 * Splits one address (admin_listen, or one item of the comma list that listen may be) into
 * host and port. "host:port" and "[v6]:port" give the host without brackets; "*:port" gives
 * "*", meaning every address. A unix socket directory gives the directory itself as host (it
 * starts with '/') and the port that names the socket file DIR/.s.PGSQL.PORT: the ":port"
 * written after the directory, else 6432. Returns 0 or -EINVAL.
 */
int config_addr_split(const char *addr, char *host, size_t hostlen, int *port)
    __attribute__((warn_unused_result));

#endif
