/*
 * console: the protocol half of pgfold's admin console. See console.h for what it answers.
 *
 * One state per console (console_set_state is the only place it changes):
 *
 *   NEW ──local, no admin_token──▶ READY ──Terminate──▶ DONE
 *    ├──admin_token set──▶ SASL_FIRST ──SASLInitialResponse──▶ SASL_FINAL ──right proof──▶ READY
 *    └──not local, no admin_token──▶ DONE          (any wrong step of the exchange ──▶ DONE)
 *
 * The login mirrors PostgreSQL's: AuthenticationSASL offering SCRAM-SHA-256, the two SASL
 * round trips, then AuthenticationOk, the ParameterStatus messages psql and drivers read, and
 * ReadyForQuery. Errors during the login are FATAL with PostgreSQL's SQLSTATEs and words
 * (28P01 "password authentication failed for user ..."); after it, a bad command is an ERROR
 * and the session goes on. The commands themselves are in console_show.c.
 */
#include "proxy/console.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pgwire/msg.h"
#include "proxy/console_int.h"
#include "proxy/scram.h"
#include "proxy/version.h"

typedef enum {
    CONSOLE_NEW = 0,    /* console_start not called yet */
    CONSOLE_SASL_FIRST, /* AuthenticationSASL sent: SASLInitialResponse next */
    CONSOLE_SASL_FINAL, /* AuthenticationSASLContinue sent: SASLResponse next */
    CONSOLE_READY,      /* logged in: queries */
    CONSOLE_DONE,       /* refused, failed or terminated: nothing more */
} console_state;

struct console {
    struct session *s;
    struct console_env env;
    console_state state;
    bool skipping; /* an extended-protocol message was refused: ignore all until Sync */
    struct scram scram;
};

#define AUTH_OK 0
#define AUTH_SASL 10
#define AUTH_SASL_CONTINUE 11
#define AUTH_SASL_FINAL 12

static void
console_set_state(struct console *c, console_state st)
{
    switch (st) {
    case CONSOLE_NEW:
    case CONSOLE_SASL_FIRST:
    case CONSOLE_SASL_FINAL:
    case CONSOLE_READY:
    case CONSOLE_DONE:
        c->state = st;
        return;
    default:
        fprintf(stderr, "console_set_state: unknown state %d\n", (int)st);
        abort();
    }
}

struct console *
console_new(struct session *s, const struct console_env *env)
{
    struct console *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->s = s;
    c->env = *env;
    return c;
}

void
console_free(struct console *c)
{
    if (!c)
        return;
    scram_clear(&c->scram);
    free(c);
}

bool
console_authenticating(const struct console *c)
{
    return c->state == CONSOLE_NEW || c->state == CONSOLE_SASL_FIRST ||
           c->state == CONSOLE_SASL_FINAL;
}

/* ---- messages -------------------------------------------------------------------------- */

/* An ErrorResponse with a HINT (none when hint is NULL). */
static void
put_error(struct buf *b, const char *severity, const char *code, const char *msg, const char *hint)
{
    buf_msg_begin(b, BE_ERROR);
    buf_put_u8(b, 'S');
    buf_put_str(b, severity);
    buf_put_u8(b, 'V');
    buf_put_str(b, severity);
    buf_put_u8(b, 'C');
    buf_put_str(b, code);
    buf_put_u8(b, 'M');
    buf_put_str(b, msg);
    if (hint) {
        buf_put_u8(b, 'H');
        buf_put_str(b, hint);
    }
    buf_put_u8(b, 0);
    buf_msg_end(b);
}

static void
put_auth(struct buf *b, int32_t code, const void *data, size_t len)
{
    buf_msg_begin(b, BE_AUTH);
    buf_put_i32(b, code);
    buf_put(b, data, len);
    buf_msg_end(b);
}

static void
put_param(struct buf *b, const char *name, const char *value)
{
    buf_msg_begin(b, BE_PARAM_STATUS);
    buf_put_str(b, name);
    buf_put_str(b, value);
    buf_msg_end(b);
}

void
console_put_rowdesc(struct buf *b, const struct console_col *cols, int n)
{
    buf_msg_begin(b, BE_ROW_DESCRIPTION);
    buf_put_i16(b, (int16_t)n);
    for (int i = 0; i < n; i++) {
        buf_put_str(b, cols[i].name);
        buf_put_i32(b, 0); /* no table */
        buf_put_i16(b, 0);
        buf_put_i32(b, (int32_t)cols[i].type);
        buf_put_i16(b, cols[i].type == CONSOLE_INT8 ? 8 : -1);
        buf_put_i32(b, -1);
        buf_put_i16(b, 0); /* text format */
    }
    buf_msg_end(b);
}

void
console_put_row(struct buf *b, const char *const *vals, int n)
{
    buf_msg_begin(b, BE_DATA_ROW);
    buf_put_i16(b, (int16_t)n);
    for (int i = 0; i < n; i++) {
        if (!vals[i]) {
            buf_put_i32(b, -1);
            continue;
        }
        size_t len = strlen(vals[i]);
        buf_put_i32(b, (int32_t)len);
        buf_put(b, vals[i], len);
    }
    buf_msg_end(b);
}

/* ---- the login -------------------------------------------------------------------------- */

/* Ends the login with a FATAL error: reported to env.login, sent, and the session closes. */
static session_action
refuse(struct console *c, const char *code, const char *msg)
{
    if (c->env.login)
        c->env.login(c->env.ctx, code, msg);
    put_error(&c->s->to_client, "FATAL", code, msg, NULL);
    scram_clear(&c->scram);
    console_set_state(c, CONSOLE_DONE);
    session_set_state(c->s, SESSION_CLOSING);
    return SESSION_CLOSE;
}

/* AuthenticationOk, what libpq and psql read from ParameterStatus, ReadyForQuery. */
static session_action
welcome(struct console *c)
{
    struct buf *b = &c->s->to_client;
    put_auth(b, AUTH_OK, NULL, 0);
    put_param(b, "application_name", c->s->application_name);
    put_param(b, "client_encoding", "UTF8");
    put_param(b, "DateStyle", "ISO, MDY");
    put_param(b, "integer_datetimes", "on");
    put_param(b, "IntervalStyle", "postgres");
    put_param(b, "is_superuser", "off");
    put_param(b, "server_encoding", "UTF8");
    /* PgBouncer's console says "1.18.0/bouncer": the version, then whose it is. */
    put_param(b, "server_version", PGFOLD_VERSION_STRING "/pgfold");
    put_param(b, "standard_conforming_strings", "on");
    put_param(b, "TimeZone", "UTC");
    wire_put_ready(b, 'I');
    scram_clear(&c->scram);
    console_set_state(c, CONSOLE_READY);
    session_set_state(c->s, SESSION_READY);
    if (c->env.login)
        c->env.login(c->env.ctx, NULL, NULL);
    return SESSION_CONTINUE;
}

session_action
console_start(struct console *c)
{
    const char *token = c->s->cfg ? c->s->cfg->admin_token : "";
    if (!token[0] && !c->env.local)
        return refuse(c, "28000",
                      "pgfold: the console is open only over the unix socket and loopback "
                      "(set admin_token to log in with a password from elsewhere)");
    if (!token[0])
        return welcome(c);
    if (scram_init(&c->scram, token, NULL, NULL) != 0)
        return refuse(c, "XX000", "pgfold: could not start SCRAM authentication");
    static const char mechanisms[] = "SCRAM-SHA-256\0"; /* and the list's empty terminator */
    put_auth(&c->s->to_client, AUTH_SASL, mechanisms, sizeof(mechanisms));
    console_set_state(c, CONSOLE_SASL_FIRST);
    return SESSION_CONTINUE;
}

/* SASLInitialResponse: the mechanism, then the client-first-message. */
static session_action
sasl_first(struct console *c, const struct wire_msg *m)
{
    struct wire_cursor cur;
    wire_cursor_init(&cur, m->body, m->body_len);
    const char *mech = wire_get_str(&cur, NULL);
    int32_t len = wire_get_i32(&cur);
    const uint8_t *data = len >= 0 ? wire_get_bytes(&cur, (size_t)len) : NULL;
    if (cur.err || !data)
        return refuse(c, "08P01", "malformed SASL message");
    if (strcmp(mech, "SCRAM-SHA-256") != 0)
        return refuse(c, "08P01", "client selected an invalid SASL authentication mechanism");
    struct buf out;
    buf_init(&out);
    int rc = scram_first(&c->scram, data, (size_t)len, &out);
    if (rc == 0 && !buf_error(&out))
        put_auth(&c->s->to_client, AUTH_SASL_CONTINUE, buf_head(&out), buf_used(&out));
    buf_free(&out);
    if (rc == -ENOTSUP)
        return refuse(c, "0A000",
                      "pgfold: channel binding and authorization identities are "
                      "not supported by the console");
    if (rc != 0)
        return refuse(c, "08P01", "malformed SCRAM message");
    console_set_state(c, CONSOLE_SASL_FINAL);
    return SESSION_CONTINUE;
}

/* SASLResponse: the client-final-message with its proof. */
static session_action
sasl_final(struct console *c, const struct wire_msg *m)
{
    struct buf out;
    buf_init(&out);
    int rc = scram_final(&c->scram, m->body, m->body_len, &out);
    if (rc == 0 && !buf_error(&out))
        put_auth(&c->s->to_client, AUTH_SASL_FINAL, buf_head(&out), buf_used(&out));
    buf_free(&out);
    if (rc == -EACCES) {
        char msg[160];
        snprintf(msg, sizeof(msg), "password authentication failed for user \"%s\"", c->s->user);
        return refuse(c, "28P01", msg);
    }
    if (rc != 0)
        return refuse(c, "08P01", "malformed SCRAM message");
    return welcome(c);
}

static session_action
login_msg(struct console *c, const struct wire_msg *m)
{
    if (m->type == FE_TERMINATE) {
        /* A client without the password gives up here (libpq: "no password supplied"):
         * PostgreSQL ends such a login silently, and so does this. */
        snprintf(c->s->close_reason, sizeof(c->s->close_reason),
                 "client gave up during authentication");
        console_set_state(c, CONSOLE_DONE);
        session_set_state(c->s, SESSION_CLOSING);
        return SESSION_CLOSE;
    }
    if (m->type != FE_PASSWORD) {
        char msg[64];
        snprintf(msg, sizeof(msg), "expected SASL response, got message type %d", m->type);
        return refuse(c, "08P01", msg);
    }
    return c->state == CONSOLE_SASL_FIRST ? sasl_first(c, m) : sasl_final(c, m);
}

/* ---- commands --------------------------------------------------------------------------- */

/* The next word of [*p, end) (letters, digits, '_'), upper-cased into w; "" at the end. */
static void
next_word(const char **p, const char *end, char *w, size_t cap)
{
    const char *q = *p;
    while (q < end && isspace((unsigned char)*q))
        q++;
    size_t n = 0;
    if (q < end && !isalnum((unsigned char)*q) && *q != '_') {
        w[n++] = *q++; /* a lone symbol is a word of its own, for the error message */
    } else {
        while (q < end && (isalnum((unsigned char)*q) || *q == '_')) {
            if (n + 1 < cap)
                w[n++] = (char)toupper((unsigned char)*q);
            q++;
        }
    }
    w[n] = '\0';
    *p = q;
}

static const struct {
    const char *item;
    int (*show)(const struct console_show *sh);
} shows[] = {
    {"STATS", console_show_stats},     {"PATTERNS", console_show_patterns},
    {"CLIENTS", console_show_clients}, {"CONFIG", console_show_config},
    {"VERSION", console_show_version}, {"HELP", console_show_help},
};

static int
syntax_error(struct console *c, const char *near)
{
    char msg[128];
    if (near[0])
        snprintf(msg, sizeof(msg), "syntax error at or near \"%s\"", near);
    else
        snprintf(msg, sizeof(msg), "syntax error at end of input");
    put_error(&c->s->to_client, "ERROR", "42601", msg,
              "pgfold's console knows SHOW STATS, PATTERNS, CLIENTS, CONFIG, VERSION, HELP and "
              "RELOAD (SHOW HELP).");
    return -EINVAL;
}

static int
show(struct console *c, const char *item, const char *rest)
{
    if (rest[0])
        return syntax_error(c, rest);
    for (size_t i = 0; i < sizeof(shows) / sizeof(shows[0]); i++) {
        if (strcmp(item, shows[i].item) != 0)
            continue;
        struct console_show sh = {&c->s->to_client, c->env.srv, c->s->cfg, c->s->now_ms};
        return shows[i].show(&sh);
    }
    char msg[128];
    snprintf(msg, sizeof(msg), "unrecognized SHOW item \"%s\"", item);
    put_error(&c->s->to_client, "ERROR", "42704", msg,
              "SHOW STATS, PATTERNS, CLIENTS, CONFIG, VERSION or HELP.");
    return -EINVAL;
}

/* One statement of a Query, [p, end). Returns 0, or -EINVAL after queueing its error. */
static int
run(struct console *c, const char *p, const char *end)
{
    char verb[32], item[32], rest[32];
    next_word(&p, end, verb, sizeof(verb));
    next_word(&p, end, item, sizeof(item));
    next_word(&p, end, rest, sizeof(rest));
    if (strcmp(verb, "SHOW") == 0)
        return item[0] ? show(c, item, rest) : syntax_error(c, "");
    if (strcmp(verb, "RELOAD") == 0) {
        if (item[0])
            return syntax_error(c, item);
        if (c->env.reload)
            c->env.reload(c->env.ctx);
        msg_put_complete(&c->s->to_client, "RELOAD");
        return 0;
    }
    return syntax_error(c, verb);
}

/* A simple Query: its statements (split at ';') in order, up to the first error. */
static session_action
query(struct console *c, const struct wire_msg *m)
{
    struct wire_cursor cur;
    size_t len;
    wire_cursor_init(&cur, m->body, m->body_len);
    const char *sql = wire_get_str(&cur, &len);
    if (cur.err) {
        session_fail(c->s, "08P01", "invalid message format (message type 'Q')");
        console_set_state(c, CONSOLE_DONE);
        return SESSION_CLOSE;
    }
    const char *end = sql + len, *p = sql;
    bool any = false;
    while (p < end) {
        const char *semi = memchr(p, ';', (size_t)(end - p));
        const char *stop = semi ? semi : end;
        const char *q = p;
        while (q < stop && isspace((unsigned char)*q))
            q++;
        if (q < stop) {
            any = true;
            if (run(c, q, stop) != 0)
                break;
        }
        p = semi ? semi + 1 : end;
    }
    if (!any)
        msg_put_simple(&c->s->to_client, BE_EMPTY_QUERY);
    wire_put_ready(&c->s->to_client, 'I');
    return SESSION_CONTINUE;
}

/* Parse, Bind, Describe, Execute, Close, Flush, Sync, FunctionCall: none is served. */
static session_action
extended(struct console *c, const struct wire_msg *m)
{
    if (m->type == FE_SYNC) {
        c->skipping = false;
        wire_put_ready(&c->s->to_client, 'I');
        return SESSION_CONTINUE;
    }
    if (m->type == FE_FLUSH || c->skipping)
        return SESSION_CONTINUE;
    put_error(&c->s->to_client, "ERROR", "0A000",
              "pgfold console: only the simple query protocol is supported",
              "Use psql, or a driver's simple query mode.");
    if (m->type == FE_FUNCTION_CALL)
        wire_put_ready(&c->s->to_client, 'I'); /* a FunctionCall is its own cycle */
    else
        c->skipping = true; /* as a server does after an error: until Sync */
    return SESSION_CONTINUE;
}

session_action
console_on_client(struct console *c, const struct wire_msg *m)
{
    c->s->stats.client_msgs++;
    if (c->state == CONSOLE_DONE)
        return SESSION_CLOSE;
    if (console_authenticating(c))
        return login_msg(c, m);
    switch (m->type) {
    case FE_QUERY:
        if (c->skipping)
            return SESSION_CONTINUE;
        return query(c, m);
    case FE_TERMINATE:
        snprintf(c->s->close_reason, sizeof(c->s->close_reason), "client terminated");
        console_set_state(c, CONSOLE_DONE);
        session_set_state(c->s, SESSION_CLOSING);
        return SESSION_CLOSE;
    case FE_PARSE:
    case FE_BIND:
    case FE_DESCRIBE:
    case FE_EXECUTE:
    case FE_CLOSE:
    case FE_FLUSH:
    case FE_SYNC:
    case FE_FUNCTION_CALL:
        return extended(c, m);
    case FE_COPY_DATA:
    case FE_COPY_DONE:
    case FE_COPY_FAIL:
        return SESSION_CONTINUE; /* outside COPY a server ignores them too */
    default: {
        char msg[64];
        snprintf(msg, sizeof(msg), "invalid frontend message type %d", m->type);
        session_fail(c->s, "08P01", msg);
        console_set_state(c, CONSOLE_DONE);
        return SESSION_CLOSE;
    }
    }
}
