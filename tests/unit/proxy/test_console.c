/*
 * test_console: pgfold's admin console (proxy/console.c) and its SCRAM-SHA-256 (scram.c),
 * with byte fixtures, as test_session*.c test the session.
 *
 * SCRAM is checked against RFC 7677's example exchange first, then through the console with a
 * client written here from RFC 5802 (so the oracle is not scram.c itself). The console's
 * answers are read back message by message and compared with what PostgreSQL sends for the
 * same steps: the login's messages, a result set, ErrorResponse then ReadyForQuery, the skip to
 * Sync after an extended-protocol message.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include "proxy/console.h"
#include "proxy/scram.h"
#include "proxy/server.h"
#include "proxy/session.h"
#include "proxy/version.h"
#include "tests/unit/fixtures.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* ---- SCRAM: RFC 7677 section 3 --------------------------------------------------------- */

#define RFC_CLIENT_FIRST "n,,n=user,r=rOprNGfwEbeRWgbNEkqO"
#define RFC_SERVER_NONCE "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
#define RFC_NONCE "rOprNGfwEbeRWgbNEkqO" RFC_SERVER_NONCE
#define RFC_SERVER_FIRST "r=" RFC_NONCE ",s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
#define RFC_CLIENT_FINAL "c=biws,r=" RFC_NONCE ",p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
#define RFC_SERVER_FINAL "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="

static void
rfc_scram(struct scram *sc, const char *password)
{
    uint8_t salt[SCRAM_SALT_LEN + 2];
    assert_int_equal(EVP_DecodeBlock(salt, (const unsigned char *)"W22ZaJ0SNY7soEsUEjb6gQ==", 24),
                     18);
    assert_int_equal(scram_init(sc, password, salt, RFC_SERVER_NONCE), 0);
}

static void
assert_buf_str(const struct buf *b, const char *s)
{
    assert_int_equal(buf_error(b), 0);
    assert_int_equal(buf_used(b), strlen(s));
    assert_memory_equal(buf_head(b), s, strlen(s));
}

static void
test_scram_rfc7677(void **state)
{
    (void)state;
    struct scram sc;
    struct buf out;
    buf_init(&out);
    rfc_scram(&sc, "pencil");
    assert_int_equal(scram_first(&sc, BYTES(RFC_CLIENT_FIRST), &out), 0);
    assert_buf_str(&out, RFC_SERVER_FIRST);
    buf_reset(&out);
    assert_int_equal(scram_final(&sc, BYTES(RFC_CLIENT_FINAL), &out), 0);
    assert_buf_str(&out, RFC_SERVER_FINAL);
    scram_clear(&sc);

    /* The same exchange against another password: the proof does not match. */
    rfc_scram(&sc, "pencil2");
    buf_reset(&out);
    assert_int_equal(scram_first(&sc, BYTES(RFC_CLIENT_FIRST), &out), 0);
    buf_reset(&out);
    assert_int_equal(scram_final(&sc, BYTES(RFC_CLIENT_FINAL), &out), -EACCES);
    assert_int_equal(buf_used(&out), 0);
    scram_clear(&sc);
    buf_free(&out);
}

/* Client messages scram.c must refuse, with the code it must refuse them with. */
static const struct {
    const char *first, *final;
    int rc;
} scram_bad[] = {
    {"p=tls-server-end-point,,n=,r=abc", NULL, -ENOTSUP}, /* channel binding: never offered */
    {"n,a=admin,n=,r=abc", NULL, -ENOTSUP},               /* authorization identity */
    {"x,,n=,r=abc", NULL, -EPROTO},
    {"n,,r=abc", NULL, -EPROTO}, /* no n= */
    {"n,,n=,r=", NULL, -EPROTO}, /* empty nonce */
    {"n,,n=,r=a\x7f"
     "b",
     NULL, -EPROTO},
    {"n,,", NULL, -EPROTO},
    {RFC_CLIENT_FIRST, "c=biws,r=" RFC_NONCE, -EPROTO},           /* no proof */
    {RFC_CLIENT_FIRST, "c=eSws,r=" RFC_NONCE ",p=AAAA", -EPROTO}, /* "y,," is not what came */
    {RFC_CLIENT_FIRST,
     "c=biws,r=rOprNGfwEbeRWgbNEkqO,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
     -EPROTO}, /* the client's nonce alone */
    {RFC_CLIENT_FIRST, "c=biws,r=" RFC_NONCE ",p=!!!!", -EPROTO},
    {RFC_CLIENT_FIRST, "c=biws,r=" RFC_NONCE ",p=AAAA", -EPROTO}, /* proof of the wrong size */
};

static void
test_scram_malformed(void **state)
{
    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(scram_bad); i++) {
        struct scram sc;
        struct buf out;
        buf_init(&out);
        rfc_scram(&sc, "pencil");
        int rc =
            scram_first(&sc, (const uint8_t *)scram_bad[i].first, strlen(scram_bad[i].first), &out);
        if (scram_bad[i].final) {
            assert_int_equal(rc, 0);
            rc = scram_final(&sc, (const uint8_t *)scram_bad[i].final, strlen(scram_bad[i].final),
                             &out);
        }
        if (rc != scram_bad[i].rc)
            fail_msg("case %zu: got %d, want %d", i, rc, scram_bad[i].rc);
        scram_clear(&sc);
        buf_free(&out);
    }
}

/* ---- the console -------------------------------------------------------------------------- */

struct cfx {
    struct config cfg;
    struct server srv;
    struct session s;
    struct console *con;
    struct buf in;
    int logins;
    char login_state[8]; /* "" after a success, else the SQLSTATE reported */
    int reloads;
};

static void
on_login(void *ctx, const char *sqlstate, const char *message)
{
    struct cfx *f = ctx;
    (void)message;
    f->logins++;
    snprintf(f->login_state, sizeof(f->login_state), "%s", sqlstate ? sqlstate : "");
}

static void
on_reload(void *ctx)
{
    struct cfx *f = ctx;
    f->reloads++;
}

static int
setup(void **state)
{
    struct cfx *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    config_defaults(&f->cfg);
    assert_int_equal(stats_init(&f->srv.st), 0);
    assert_int_equal(registry_init(&f->srv.clients), 0);
    f->srv.nworkers = 2;
    session_init(&f->s, 7, &f->cfg);
    buf_init(&f->in);
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    struct cfx *f = *state;
    console_free(f->con);
    session_close(&f->s);
    stats_destroy(&f->srv.st);
    registry_destroy(&f->srv.clients);
    buf_free(&f->in);
    free(f);
    return 0;
}

/* The startup packet for the console, then console_start as the transport would call it. */
static session_action
start(struct cfx *f, bool local)
{
    static const char *const kv[] = {"user", "ops", "database", "pgfold", "application_name",
                                     "psql", NULL};
    st_startup(&f->in, kv);
    struct wire_msg m;
    assert_int_equal(wire_frame_startup(buf_head(&f->in), buf_used(&f->in), &m), 0);
    assert_int_equal(session_on_startup(&f->s, &m), SESSION_CONNECT);
    assert_true(f->s.admin);
    assert_int_equal(buf_used(&f->s.to_server), 0); /* nothing goes upstream */
    buf_reset(&f->in);
    const struct console_env env = {&f->srv, local, f, on_login, on_reload};
    f->con = console_new(&f->s, &env);
    assert_non_null(f->con);
    return console_start(f->con);
}

/* Hands every message in f->in to the console; returns the last action. */
static session_action
feed(struct cfx *f)
{
    const uint8_t *p = buf_head(&f->in);
    size_t n = buf_used(&f->in), off = 0;
    session_action a = SESSION_CONTINUE;
    while (off < n) {
        struct wire_msg m;
        assert_int_equal(wire_frame(p + off, n - off, FX_MAX_MSG, &m), 0);
        a = console_on_client(f->con, &m);
        off += m.wire_len;
    }
    buf_reset(&f->in);
    return a;
}

/* The type letters of every message in b ("RSSZ"); empties b when take is set. */
static const char *
types(struct buf *b, bool take)
{
    static char out[256];
    size_t n = 0, off = 0;
    while (off < buf_used(b) && n + 1 < sizeof(out)) {
        struct wire_msg m;
        assert_int_equal(wire_frame(buf_head(b) + off, buf_used(b) - off, FX_MAX_MSG, &m), 0);
        out[n++] = (char)m.type;
        off += m.wire_len;
    }
    out[n] = '\0';
    if (take)
        buf_reset(b);
    return out;
}

/* The i-th message of b. */
static struct wire_msg
nth(const struct buf *b, int i)
{
    struct wire_msg m = {0};
    size_t off = 0;
    for (int k = 0; k <= i; k++) {
        assert_int_equal(wire_frame(buf_head(b) + off, buf_used(b) - off, FX_MAX_MSG, &m), 0);
        off += m.wire_len;
    }
    return m;
}

static void
test_local_trust(void **state)
{
    struct cfx *f = *state;
    assert_int_equal(start(f, true), SESSION_CONTINUE);
    /* AuthenticationOk, ten ParameterStatus, ReadyForQuery 'I': what psql reads at login. */
    struct wire_msg ok = nth(&f->s.to_client, 0);
    assert_int_equal(ok.type, BE_AUTH);
    assert_int_equal(ok.body_len, 4);
    assert_string_equal(types(&f->s.to_client, false), "RSSSSSSSSSSZ");
    struct wire_msg z = nth(&f->s.to_client, 11);
    assert_int_equal(z.body[0], 'I');
    assert_int_equal(f->logins, 1);
    assert_string_equal(f->login_state, "");
    assert_false(console_authenticating(f->con));
    assert_int_equal(f->s.state, SESSION_READY);
}

/* Not local and no admin_token: FATAL 28000 before any authentication request. */
static void
test_remote_refused(void **state)
{
    struct cfx *f = *state;
    assert_int_equal(start(f, false), SESSION_CLOSE);
    struct wire_msg e = nth(&f->s.to_client, 0);
    assert_string_equal(types(&f->s.to_client, false), "E");
    assert_string_equal(wire_error_field(e.body, e.body_len, 'V'), "FATAL");
    assert_string_equal(wire_error_field(e.body, e.body_len, 'C'), "28000");
    assert_string_equal(f->login_state, "28000");
    assert_int_equal(f->s.state, SESSION_CLOSING);
}

static void
test_show_version(void **state)
{
    struct cfx *f = *state;
    start(f, true);
    buf_reset(&f->s.to_client);
    fe_query(&f->in, "show version;");
    assert_int_equal(feed(f), SESSION_CONTINUE);
    /* Exactly what PostgreSQL sends for a one-row SHOW: */
    struct buf want;
    buf_init(&want);
    buf_msg_begin(&want, BE_ROW_DESCRIPTION);
    buf_put_i16(&want, 1);
    buf_put_str(&want, "version");
    buf_put_i32(&want, 0);
    buf_put_i16(&want, 0);
    buf_put_i32(&want, 25); /* text */
    buf_put_i16(&want, -1);
    buf_put_i32(&want, -1);
    buf_put_i16(&want, 0);
    buf_msg_end(&want);
    be_data_row(&want, "pgfold " PGFOLD_VERSION_STRING);
    be_command_complete(&want, "SHOW");
    be_ready(&want, 'I');
    assert_int_equal(buf_used(&f->s.to_client), buf_used(&want));
    assert_memory_equal(buf_head(&f->s.to_client), buf_head(&want), buf_used(&want));
    buf_free(&want);
}

/* One Query, several statements: results in order, one ReadyForQuery; empty ones skipped. */
static const struct {
    const char *sql;
    const char *types; /* what comes back */
} query_cases[] = {
    {"SHOW VERSION; SHOW VERSION", "TDCTDCZ"},
    {"  ;; ", "IZ"},
    {"", "IZ"},
    {"SHOW HELP", "TDDDDDDDCZ"},
    {"SHOW STATS", NULL}, /* rows: whatever stats_items lists; checked below */
    {"SELECT 1", "EZ"},
    {"SHOW", "EZ"},
    {"SHOW NOTHING", "EZ"},
    {"SHOW VERSION extra", "EZ"},
    {"RELOAD", "CZ"},
    {"RELOAD now", "EZ"},
    {"SHOW VERSION; BOGUS; SHOW VERSION", "TDCEZ"}, /* an error ends the rest, as in PostgreSQL */
    {"show clients", "TDCZ"},                       /* the registry holds one connection */
    {"SHOW CONFIG", NULL},
};

static void
test_queries(void **state)
{
    struct cfx *f = *state;
    struct registry_entry e;
    registry_add(&f->srv.clients, &e, 3, 0, "127.0.0.1:5000", true);
    start(f, true);
    buf_reset(&f->s.to_client);
    for (size_t i = 0; i < ARRAY_LEN(query_cases); i++) {
        fe_query(&f->in, query_cases[i].sql);
        assert_int_equal(feed(f), SESSION_CONTINUE);
        const char *got = types(&f->s.to_client, false);
        if (query_cases[i].types && strcmp(got, query_cases[i].types) != 0)
            fail_msg("case %zu (%s): got %s, want %s", i, query_cases[i].sql, got,
                     query_cases[i].types);
        size_t n = strlen(got);
        if (!query_cases[i].types && (n < 4 || got[0] != 'T' || strcmp(got + n - 2, "CZ") != 0))
            fail_msg("case %zu (%s): got %s", i, query_cases[i].sql, got);
        buf_reset(&f->s.to_client);
    }
    assert_int_equal(f->reloads, 1);
    registry_remove(&f->srv.clients, &e);
}

static void
test_error_fields(void **state)
{
    struct cfx *f = *state;
    start(f, true);
    buf_reset(&f->s.to_client);
    fe_query(&f->in, "SELECT 1");
    feed(f);
    struct wire_msg e = nth(&f->s.to_client, 0);
    assert_string_equal(wire_error_field(e.body, e.body_len, 'S'), "ERROR");
    assert_string_equal(wire_error_field(e.body, e.body_len, 'C'), "42601");
    assert_string_equal(wire_error_field(e.body, e.body_len, 'M'),
                        "syntax error at or near \"SELECT\"");
    assert_non_null(wire_error_field(e.body, e.body_len, 'H'));
    buf_reset(&f->s.to_client);
    fe_query(&f->in, "SHOW NOTHING");
    feed(f);
    e = nth(&f->s.to_client, 0);
    assert_string_equal(wire_error_field(e.body, e.body_len, 'C'), "42704");
}

/* Extended protocol: one ErrorResponse, the rest skipped until Sync, then all is well. */
static void
test_extended_refused(void **state)
{
    struct cfx *f = *state;
    start(f, true);
    buf_reset(&f->s.to_client);
    fe_parse(&f->in, "", "SHOW VERSION", 0, NULL);
    fe_bind(&f->in, "", "", 0);
    fe_describe(&f->in, 'P', "");
    fe_execute(&f->in, "", 0);
    fe_flush(&f->in);
    fe_query(&f->in, "SHOW VERSION"); /* also skipped: the server ignores all until Sync */
    assert_int_equal(feed(f), SESSION_CONTINUE);
    struct wire_msg e = nth(&f->s.to_client, 0);
    assert_string_equal(types(&f->s.to_client, false), "E");
    assert_string_equal(wire_error_field(e.body, e.body_len, 'C'), "0A000");
    buf_reset(&f->s.to_client);
    fe_sync(&f->in);
    fe_query(&f->in, "SHOW VERSION");
    feed(f);
    assert_string_equal(types(&f->s.to_client, true), "ZTDCZ");
    fe_function_call(&f->in, 1);
    feed(f);
    assert_string_equal(types(&f->s.to_client, true), "EZ");
    fe_terminate(&f->in);
    assert_int_equal(feed(f), SESSION_CLOSE);
    assert_int_equal(buf_used(&f->s.to_client), 0);
    assert_string_equal(f->s.close_reason, "client terminated");
}

/* ---- SCRAM through the console, with a client written from RFC 5802 ---------------------------
 */

static void
hmac256(const uint8_t *key, size_t klen, const void *msg, size_t len, uint8_t *out)
{
    unsigned int n = 32;
    assert_non_null(HMAC(EVP_sha256(), key, (int)klen, msg, len, out, &n));
}

/* The client-final-message for password, given the server-first-message. */
static void
client_final(const char *password, const char *bare, const char *server_first, char *out,
             size_t cap)
{
    char nonce[128], salt64[64];
    int iters = 0;
    assert_int_equal(sscanf(server_first, "r=%127[^,],s=%63[^,],i=%d", nonce, salt64, &iters), 3);
    uint8_t salt[64], salted[32], ck[32], sk[32], sig[32], proof[32];
    int slen = EVP_DecodeBlock(salt, (const unsigned char *)salt64, (int)strlen(salt64));
    slen -= (salt64[strlen(salt64) - 1] == '=') + (salt64[strlen(salt64) - 2] == '=');
    assert_int_equal(PKCS5_PBKDF2_HMAC(password, (int)strlen(password), salt, slen, iters,
                                       EVP_sha256(), 32, salted),
                     1);
    char without[200], auth[1024];
    snprintf(without, sizeof(without), "c=biws,r=%s", nonce);
    snprintf(auth, sizeof(auth), "%s,%s,%s", bare, server_first, without);
    hmac256(salted, 32, "Client Key", 10, ck);
    SHA256(ck, 32, sk);
    hmac256(sk, 32, auth, strlen(auth), sig);
    for (int i = 0; i < 32; i++)
        proof[i] = ck[i] ^ sig[i];
    char p64[64];
    EVP_EncodeBlock((unsigned char *)p64, proof, 32);
    snprintf(out, cap, "%s,p=%s", without, p64);
}

/* Logs in with password through AuthenticationSASL; returns the last action. */
static session_action
scram_login(struct cfx *f, const char *password)
{
    snprintf(f->cfg.admin_token, sizeof(f->cfg.admin_token), "%s", "s3cret");
    assert_int_equal(start(f, false), SESSION_CONTINUE); /* a password makes remote fine */
    struct wire_msg m = nth(&f->s.to_client, 0);
    assert_string_equal(types(&f->s.to_client, false), "R");
    assert_int_equal(m.body_len, 4 + sizeof("SCRAM-SHA-256") + 1);
    assert_memory_equal(m.body + 4, "SCRAM-SHA-256\0", 15);
    buf_reset(&f->s.to_client);
    const char *bare = "n=,r=fyko+d2lbbFgONRv9qkxdawL";
    char first[64];
    snprintf(first, sizeof(first), "n,,%s", bare);
    fe_sasl_initial(&f->in, "SCRAM-SHA-256", first);
    assert_int_equal(feed(f), SESSION_CONTINUE);
    m = nth(&f->s.to_client, 0);
    assert_int_equal(m.type, BE_AUTH);
    char server_first[256];
    snprintf(server_first, sizeof(server_first), "%.*s", (int)m.body_len - 4,
             (const char *)m.body + 4);
    assert_int_equal(strncmp(server_first, "r=fyko+d2lbbFgONRv9qkxdawL", 26), 0);
    buf_reset(&f->s.to_client);
    char final[512];
    client_final(password, bare, server_first, final, sizeof(final));
    fe_sasl_response(&f->in, final);
    return feed(f);
}

static void
test_scram_right_password(void **state)
{
    struct cfx *f = *state;
    assert_int_equal(scram_login(f, "s3cret"), SESSION_CONTINUE);
    /* SASLFinal, AuthenticationOk, the ParameterStatus messages, ReadyForQuery. */
    assert_string_equal(types(&f->s.to_client, false), "RRSSSSSSSSSSZ");
    struct wire_msg m = nth(&f->s.to_client, 0);
    assert_int_equal(m.body[3], 12);
    assert_memory_equal(m.body + 4, "v=", 2);
    assert_string_equal(f->login_state, "");
    buf_reset(&f->s.to_client);
    fe_query(&f->in, "SHOW VERSION");
    feed(f);
    assert_string_equal(types(&f->s.to_client, true), "TDCZ");
}

static void
test_scram_wrong_password(void **state)
{
    struct cfx *f = *state;
    assert_int_equal(scram_login(f, "guess"), SESSION_CLOSE);
    struct wire_msg e = nth(&f->s.to_client, 0);
    assert_string_equal(types(&f->s.to_client, false), "E");
    assert_string_equal(wire_error_field(e.body, e.body_len, 'V'), "FATAL");
    assert_string_equal(wire_error_field(e.body, e.body_len, 'C'), "28P01");
    assert_string_equal(wire_error_field(e.body, e.body_len, 'M'),
                        "password authentication failed for user \"ops\"");
    assert_string_equal(f->login_state, "28P01");
    assert_null(memmem(buf_head(&f->s.to_client), buf_used(&f->s.to_client), "s3cret", 6));
}

/* During the login: another mechanism, another message, or giving up. */
static void
test_login_bad_steps(void **state)
{
    struct cfx *f = *state;
    snprintf(f->cfg.admin_token, sizeof(f->cfg.admin_token), "%s", "s3cret");
    start(f, true);
    buf_reset(&f->s.to_client);
    fe_sasl_initial(&f->in, "SCRAM-SHA-256-PLUS", "p=tls-server-end-point,,n=,r=x");
    assert_int_equal(feed(f), SESSION_CLOSE);
    struct wire_msg e = nth(&f->s.to_client, 0);
    assert_string_equal(wire_error_field(e.body, e.body_len, 'C'), "08P01");

    console_free(f->con);
    session_close(&f->s);
    session_init(&f->s, 8, &f->cfg);
    start(f, true);
    buf_reset(&f->s.to_client);
    fe_query(&f->in, "SHOW VERSION");
    assert_int_equal(feed(f), SESSION_CLOSE);
    e = nth(&f->s.to_client, 0);
    assert_string_equal(wire_error_field(e.body, e.body_len, 'M'),
                        "expected SASL response, got message type 81");

    console_free(f->con);
    session_close(&f->s);
    session_init(&f->s, 9, &f->cfg);
    start(f, true);
    buf_reset(&f->s.to_client);
    fe_terminate(&f->in);
    assert_int_equal(feed(f), SESSION_CLOSE);
    assert_int_equal(buf_used(&f->s.to_client), 0); /* silent, as PostgreSQL */
}

/* The startup packet decides: admin_database by name, by the user's name, or not at all. */
static void
test_startup_routing(void **state)
{
    struct cfx *f = *state;
    static const struct {
        const char *const kv[5];
        const char *admin_db, *upstream_db;
        bool console;
    } cases[] = {
        {{"user", "u", "database", "pgfold", NULL}, "pgfold", "", true},
        {{"user", "u", "database", "app", NULL}, "pgfold", "", false},
        {{"user", "pgfold", NULL}, "pgfold", "", true},     /* PostgreSQL's default: the user */
        {{"user", "pgfold", NULL}, "pgfold", "app", false}, /* ... unless upstream names one */
        {{"user", "u", "database", "admin", NULL}, "admin", "", true},
        {{"user", "u", "database", "pgfold", NULL}, "", "", false}, /* console off */
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        session_close(&f->s);
        snprintf(f->cfg.admin_database, sizeof(f->cfg.admin_database), "%s", cases[i].admin_db);
        snprintf(f->cfg.upstream_dbname, sizeof(f->cfg.upstream_dbname), "%s",
                 cases[i].upstream_db);
        session_init(&f->s, 1, &f->cfg);
        st_startup(&f->in, cases[i].kv);
        struct wire_msg m;
        assert_int_equal(wire_frame_startup(buf_head(&f->in), buf_used(&f->in), &m), 0);
        assert_int_equal(session_on_startup(&f->s, &m), SESSION_CONNECT);
        buf_reset(&f->in);
        if (f->s.admin != cases[i].console)
            fail_msg("case %zu: admin %d, want %d", i, f->s.admin, cases[i].console);
        if (cases[i].console != (buf_used(&f->s.to_server) == 0))
            fail_msg("case %zu: the startup packet went %s", i,
                     cases[i].console ? "upstream" : "nowhere");
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scram_rfc7677),
        cmocka_unit_test(test_scram_malformed),
        cmocka_unit_test_setup_teardown(test_local_trust, setup, teardown),
        cmocka_unit_test_setup_teardown(test_remote_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_show_version, setup, teardown),
        cmocka_unit_test_setup_teardown(test_queries, setup, teardown),
        cmocka_unit_test_setup_teardown(test_error_fields, setup, teardown),
        cmocka_unit_test_setup_teardown(test_extended_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_scram_right_password, setup, teardown),
        cmocka_unit_test_setup_teardown(test_scram_wrong_password, setup, teardown),
        cmocka_unit_test_setup_teardown(test_login_bad_steps, setup, teardown),
        cmocka_unit_test_setup_teardown(test_startup_routing, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
