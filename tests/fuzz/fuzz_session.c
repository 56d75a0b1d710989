/*
 * fuzz_session: the protocol state machine (proxy/session.c) and, in rewrite and observe
 * modes, the rewrite path behind it (proxy/fold*.c, batcher/, the shape cache), driven by an
 * arbitrary conversation from both sides with no sockets.
 *
 * Input is a script:
 *   byte 0   flags
 *            bits 0-1  mode: passthrough, rewrite, observe, rewrite
 *            bits 2-3  consistency: window, transaction, snapshot, window
 *            bit 4     the upstream setting names a default database
 *            bit 5     small limits (message size, caches, batch size, staleness)
 *            bit 6     the session is over max_client_conn (rejected after its startup packet)
 *            bit 7     start logged in: a canned startup packet and trust login run first
 *   byte 1   more flags
 *            bit 0     the worker already knows the database's foreign keys (there are none);
 *                      otherwise this session is the one to ask the server for them
 *   then operations, each a header byte h and its operands:
 *            h & 0x80        0 = from the client, 1 = from the server
 *            (h >> 5) & 3    0, 1: one message: type byte, u16 body length, body; the harness
 *                                  writes the length field
 *                            2:    raw bytes: u16 length, bytes, framed as they are
 *                            3:    client: a startup-phase packet: u16 length, body (the
 *                                  harness writes the length word); server: as 0
 *            h & 0x1f        advance the clock by this many times 16 ms first
 *
 * The harness is conn.c's feed() loop without the sockets: per-side carry buffers for partial
 * messages, wire_frame_startup while the client is in the startup phase, no client message while
 * a batch is in flight (delivered once the server side unblocks the session), nothing after the
 * session asks to close. Invariants: no crash, leak or undefined behaviour; whatever the session
 * queues for either side after the startup phase is a sequence of whole, well-formed messages;
 * and in passthrough and observe modes pgfold is a pipe: until the session closes itself, the
 * bytes it queued for the server are a prefix of what the client sent after its startup packet
 * (observe mode may hold an extended-protocol group until its Sync), and the bytes it queued
 * for the client are exactly what the server sent (but an AuthenticationSASL, whose
 * SCRAM-SHA-256-PLUS the session may strip).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <string.h>

#include "batcher/catalog.h"
#include "batcher/fresh.h"
#include "config/config.h"
#include "parser/shapecache.h"
#include "pgwire/buf.h"
#include "proxy/fold.h"
#include "proxy/log.h"
#include "proxy/session.h"
#include "proxy/stats.h"
#include "pgwire/wire.h"
#include "tests/fuzz/fuzz_util.h"

/*
 * The log sink: log.c writes to stderr, which would drown libFuzzer's output and cost a
 * system call per line. These replace it (log.o is then never linked): every line is still
 * formatted, so a bad argument to a log call is found, and then dropped.
 */
volatile int log_current_level = LOG_DEBUG;

void
log_setup(config_log_level level, config_log_format format)
{
    (void)format;
    log_current_level = (int)level;
}

void
log_write(config_log_level level, uint64_t session_id, const char *fmt, ...)
{
    char line[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    (void)level;
    (void)session_id;
}

void
log_event(config_log_level level, uint64_t session_id, const char *event,
          const struct log_field *fields, size_t nf)
{
    char line[2048];
    size_t n = (size_t)snprintf(line, sizeof(line), "%s:", event);
    for (size_t i = 0; i < nf && n < sizeof(line); i++)
        n += fields[i].str ? (size_t)snprintf(line + n, sizeof(line) - n, " %s=%s",
                                              fields[i].key, fields[i].str)
                           : (size_t)snprintf(line + n, sizeof(line) - n, " %s=%llu",
                                              fields[i].key, (unsigned long long)fields[i].num);
    (void)level;
    (void)session_id;
}

/* Passthrough and observe modes: what went in and what came out, per direction. */
struct pipe_check {
    bool on;
    struct buf client_in, server_out; /* client bytes delivered; bytes queued for the server */
    struct buf server_in, client_out; /* the same the other way */
};

struct harness {
    struct config cfg;
    struct pipe_check pipe;
    struct session s;
    struct shapecache *shapes;
    struct catalog cat;
    struct fresh fresh;
    struct stats *st;
    struct buf carry[2]; /* [0] client, [1] server */
    bool closing;
    uint64_t now_ms;
};

static void
check_framed(const struct buf *b, size_t from, const char *side)
{
    FUZZ_CHECK(buf_error(b) == 0, "to_%s failed: %d", side, buf_error(b));
    size_t n = buf_used(b);
    if (from == n)
        return;
    const uint8_t *p = buf_head(b);
    while (from < n) {
        struct wire_msg m;
        int rc = wire_frame(p + from, n - from, SIZE_MAX, &m);
        FUZZ_CHECK(rc == 0, "to_%s holds a broken message at %zu of %zu (rc %d)", side, from, n,
                   rc);
        from += m.wire_len;
    }
}

/*
 * FUZZ_TRACE=1 prints the conversation as the session sees it, one line per message: who sent
 * it, its type, and the types of what the session queued for each side. For reading a crash.
 */
static int trace = -1;

static void
trace_types(const char *label, const struct buf *b, size_t from)
{
    if (from == buf_used(b))
        return;
    fprintf(stderr, " %s", label);
    const uint8_t *p = buf_head(b);
    while (from < buf_used(b)) {
        struct wire_msg m;
        if (wire_frame(p + from, buf_used(b) - from, SIZE_MAX, &m) != 0) {
            fprintf(stderr, " (%zu bytes)", buf_used(b) - from);
            return;
        }
        fprintf(stderr, " %c", m.type >= 0x20 && m.type < 0x7f ? m.type : '?');
        from += m.wire_len;
    }
}

static void
trace_msg(const struct session *s, bool from_client, const struct wire_msg *m, bool startup,
          size_t before_c, size_t before_s)
{
    fprintf(stderr, "%s %c len %zu [%s]", from_client ? "C>" : "S>",
            startup                             ? '0'
            : m->type >= 0x20 && m->type < 0x7f ? m->type
                                                : '?',
            m->body_len, session_state_name(s->state));
    if (!startup) {
        trace_types("to server:", &s->to_server, before_s);
        trace_types("to client:", &s->to_client, before_c);
    }
    fputc('\n', stderr);
}

static bool
is_prefix(const struct buf *a, const struct buf *b)
{
    return buf_used(a) <= buf_used(b) &&
           (buf_used(a) == 0 || memcmp(buf_head(a), buf_head(b), buf_used(a)) == 0);
}

/* Records one delivery for the pipe check and checks it; stops checking once the session has
 * closed itself (it then queues errors of its own). */
static void
pipe_note(struct harness *h, bool from_client, const struct wire_msg *m, session_state before,
          session_action a, size_t before_c, size_t before_s)
{
    struct pipe_check *pc = &h->pipe;
    const struct session *s = &h->s;
    if (!pc->on)
        return;
    if (a == SESSION_CLOSE || s->state == SESSION_CLOSING) {
        pc->on = false;
        return;
    }
    if (before == SESSION_STARTUP)
        return; /* startup packets may gain a database; checked by fuzz_wire */
    if (!from_client && before == SESSION_AUTH && m->type == BE_AUTH) {
        /* possibly rewritten: take it as sent */
        if (buf_used(&s->to_client) > before_c)
            buf_put(&pc->server_in, buf_head(&s->to_client) + before_c,
                    buf_used(&s->to_client) - before_c);
    } else
        buf_put(from_client ? &pc->client_in : &pc->server_in, m->raw, m->wire_len);
    if (buf_used(&s->to_server) > before_s)
        buf_put(&pc->server_out, buf_head(&s->to_server) + before_s,
                buf_used(&s->to_server) - before_s);
    if (buf_used(&s->to_client) > before_c)
        buf_put(&pc->client_out, buf_head(&s->to_client) + before_c,
                buf_used(&s->to_client) - before_c);
    FUZZ_CHECK(is_prefix(&pc->server_out, &pc->client_in),
               "%s mode changed what the client sent (%zu bytes out, %zu in)",
               config_mode_name(h->cfg.mode), buf_used(&pc->server_out), buf_used(&pc->client_in));
    FUZZ_CHECK(buf_used(&pc->client_out) == buf_used(&pc->server_in) &&
                   is_prefix(&pc->client_out, &pc->server_in),
               "%s mode changed what the server sent (%zu bytes out, %zu in)",
               config_mode_name(h->cfg.mode), buf_used(&pc->client_out), buf_used(&pc->server_in));
}

/* conn.c's act(), for what the harness models: a close stops everything. */
static void
act(struct harness *h, session_action a)
{
    switch (a) {
    case SESSION_CONTINUE:
        return;
    case SESSION_CONNECT:
        if (h->s.fold) {
            h->s.catalog = &h->cat;
            h->s.fresh = &h->fresh;
        }
        return;
    case SESSION_CANCEL:
    case SESSION_CLOSE:
        h->closing = true;
        return;
    default:
        return; /* e.g. starting TLS: the transport's business; the conversation goes on */
    }
}

static void
deliver(struct harness *h, bool from_client, const struct wire_msg *m, bool startup)
{
    size_t before_c = buf_used(&h->s.to_client), before_s = buf_used(&h->s.to_server);
    session_state before = h->s.state;
    session_action a;
    if (!from_client)
        a = session_on_server(&h->s, m);
    else if (startup)
        a = session_on_startup(&h->s, m);
    else
        a = session_on_client(&h->s, m);
    if (!startup) {
        check_framed(&h->s.to_client, before_c, "client");
        check_framed(&h->s.to_server, before_s, "server");
    }
    if (trace < 0)
        trace = getenv("FUZZ_TRACE") != NULL;
    if (trace)
        trace_msg(&h->s, from_client, m, startup, before_c, before_s);
    pipe_note(h, from_client, m, before, a, before_c, before_s);
    act(h, a);
}

/* conn.c's feed(): frames and delivers every whole message of p[0..n) plus the carry. */
static void
feed(struct harness *h, bool from_client, const uint8_t *p, size_t n)
{
    struct buf *carry = &h->carry[from_client ? 0 : 1];
    const uint8_t *data = p;
    size_t len = n, off = 0;
    if (buf_used(carry)) {
        buf_put(carry, p, n);
        FUZZ_CHECK(buf_error(carry) == 0, "carry");
        data = buf_head(carry);
        len = buf_used(carry);
    }
    h->s.now_ms = h->now_ms;
    h->s.now_us = h->now_ms * 1000;
    while (off < len && !h->closing) {
        if (from_client && session_blocked(&h->s))
            break;
        struct wire_msg m;
        bool startup = from_client && h->s.state == SESSION_STARTUP;
        int rc = startup ? wire_frame_startup(data + off, len - off, &m)
                         : wire_frame(data + off, len - off, h->cfg.max_message_bytes, &m);
        if (rc == -EAGAIN)
            break;
        if (rc < 0) {
            /* conn.c's frame_error(): a FATAL for the client, then close. */
            session_fail(&h->s, "08P01", "invalid message length");
            h->closing = true;
            break;
        }
        deliver(h, from_client, &m, startup);
        off += m.wire_len;
    }
    if (data == p) {
        if (off < len && !h->closing)
            buf_put(carry, data + off, len - off);
    } else {
        buf_consume(carry, off);
    }
}

/* The transport sent everything: empty both output buffers. */
static void
drained(struct harness *h)
{
    FUZZ_CHECK(buf_error(&h->s.to_client) == 0 && buf_error(&h->s.to_server) == 0,
               "output buffer failed");
    buf_reset(&h->s.to_client);
    buf_reset(&h->s.to_server);
}

/* Client bytes, then (as release_client does after server bytes) anything held back. */
static void
send_side(struct harness *h, bool from_client, const uint8_t *p, size_t n)
{
    if (h->closing)
        return;
    feed(h, from_client, p, n);
    if (!from_client && !h->closing && !session_blocked(&h->s) && buf_used(&h->carry[0]))
        feed(h, true, NULL, 0);
    drained(h);
}

/* A message with the length written by the harness (typed, or untyped when type < 0). */
static void
send_msg(struct harness *h, bool from_client, int type, const uint8_t *body, size_t len)
{
    struct buf b;
    buf_init(&b);
    if (type >= 0)
        buf_put_u8(&b, (uint8_t)type);
    buf_put_i32(&b, (int32_t)(len + 4));
    buf_put(&b, body, len);
    FUZZ_CHECK(buf_error(&b) == 0, "message buffer");
    send_side(h, from_client, buf_head(&b), buf_used(&b));
    buf_free(&b);
}

static void
prologue(struct harness *h)
{
    static const uint8_t startup[] = "\0\3\0\0user\0fuzz\0database\0fuzzdb\0";
    static const uint8_t auth_ok[] = {0, 0, 0, 0};
    static const uint8_t scs[] = "standard_conforming_strings\0on";
    static const uint8_t key[] = {0, 0, 0x10, 0x92, 0x5e, 0xed, 0x5e, 0xed};
    static const uint8_t idle[] = {'I'};
    send_msg(h, true, -1, startup, sizeof(startup)); /* its NUL is the terminator */
    send_msg(h, false, BE_AUTH, auth_ok, sizeof(auth_ok));
    send_msg(h, false, BE_PARAM_STATUS, scs, sizeof(scs));
    send_msg(h, false, BE_BACKEND_KEY, key, sizeof(key));
    send_msg(h, false, BE_READY, idle, sizeof(idle));
}

static void
configure(struct config *cfg, uint8_t flags)
{
    static const char *const modes[] = {"passthrough", "rewrite", "observe", "rewrite"};
    static const char *const cons[] = {"window", "transaction", "snapshot", "window"};
    static const char *const small[][2] = {
        {"max_message_bytes", "4096"},  {"max_batch_keys", "3"},      {"max_batch_bytes", "1kB"},
        {"session_cache_bytes", "8kB"}, {"source_rows", "4"},         {"source_results", "2"},
        {"max_staleness_ms", "50ms"},   {"shape_cache_entries", "4"},
    };
    char err[512];
    config_defaults(cfg);
    FUZZ_CHECK(config_set(cfg, "mode", modes[flags & 3], err, sizeof(err)) == 0, "%s", err);
    FUZZ_CHECK(config_set(cfg, "consistency", cons[(flags >> 2) & 3], err, sizeof(err)) == 0, "%s",
               err);
    if (flags & 0x20)
        for (size_t i = 0; i < sizeof(small) / sizeof(small[0]); i++)
            FUZZ_CHECK(config_set(cfg, small[i][0], small[i][1], err, sizeof(err)) == 0, "%s", err);
    if (flags & 0x10)
        snprintf(cfg->upstream_dbname, sizeof(cfg->upstream_dbname), "fuzzdb");
}

/*
 * The process-wide counters, emptied for each run. Made once: stats_init allocates the whole
 * pattern registry (about 1 MB) up front, which per run would be most of the time spent.
 */
static struct stats *
fresh_stats(void)
{
    static struct stats st;
    static bool ready;
    if (!ready) {
        FUZZ_CHECK(stats_init(&st) == 0, "stats_init");
        ready = true;
    }
    memset(&st.c, 0, sizeof(st.c));
    memset(st.patterns, 0, st.npatterns * sizeof(*st.patterns));
    st.npatterns = 0;
    return &st;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_in in = {data, size};
    uint8_t flags = fuzz_u8(&in);
    uint8_t flags2 = fuzz_u8(&in);
    struct harness *h = calloc(1, sizeof(*h));
    FUZZ_CHECK(h != NULL, "calloc");
    /* Built once per flag combination: config_set's string compares would otherwise fill
     * libFuzzer's comparison table with key names on every run. */
    static struct config configs[64];
    static bool configured[64];
    if (!configured[flags & 63]) {
        configure(&configs[flags & 63], flags);
        configured[flags & 63] = true;
    }
    h->cfg = configs[flags & 63];
    h->st = fresh_stats();
    /* The default 10,000 entries are allocated up front: page faults would be most of a run. */
    size_t entries = h->cfg.shape_cache_entries < 16 ? h->cfg.shape_cache_entries : 16;
    FUZZ_CHECK(shapecache_new(entries, &h->shapes) == 0, "shapecache_new");
    catalog_init(&h->cat, "fuzzdb");
    h->cat.loaded = flags2 & 1;
    fresh_init(&h->fresh);
    buf_init(&h->carry[0]);
    buf_init(&h->carry[1]);
    session_init(&h->s, 1, &h->cfg);
    h->s.shapes = h->shapes;
    h->s.st = h->st;
    h->now_ms = 1000000;
    if (h->cfg.mode != MODE_PASSTHROUGH)
        h->s.fold = fold_new(&h->s, h->shapes);
    h->pipe.on = h->cfg.mode != MODE_REWRITE;
    buf_init(&h->pipe.client_in);
    buf_init(&h->pipe.server_out);
    buf_init(&h->pipe.server_in);
    buf_init(&h->pipe.client_out);
    if (flags & 0x40) {
        h->s.reject = true;
        h->s.reject_state = "53300";
        h->s.reject_msg = "sorry, too many clients already";
    }
    if (flags & 0x80)
        prologue(h);

    while (in.left > 0 && !h->closing) {
        uint8_t op = fuzz_u8(&in);
        bool from_client = !(op & 0x80);
        int kind = (op >> 5) & 3;
        h->now_ms += (uint64_t)(op & 0x1f) * 16;
        if (kind == 2) {
            size_t n;
            const uint8_t *p = fuzz_bytes(&in, fuzz_u16(&in), &n);
            send_side(h, from_client, p, n);
            continue;
        }
        int type = kind == 3 && from_client ? -1 : fuzz_u8(&in);
        size_t n;
        const uint8_t *body = fuzz_bytes(&in, fuzz_u16(&in), &n);
        send_msg(h, from_client, type, body, n);
    }

    session_close(&h->s);
    shapecache_free(h->shapes);
    catalog_free(&h->cat);
    buf_free(&h->carry[0]);
    buf_free(&h->carry[1]);
    buf_free(&h->pipe.client_in);
    buf_free(&h->pipe.server_out);
    buf_free(&h->pipe.server_in);
    buf_free(&h->pipe.client_out);
    free(h);
    return 0;
}
