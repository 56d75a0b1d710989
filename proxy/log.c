/*
 * log: formats one line per call and writes it with a single write(2) so lines from worker
 * threads never interleave. Text: "2026-11-22T04:20:00.123Z INFO [s=12] message".
 * JSON: {"ts":"...","level":"info","session":12,"msg":"..."}; an event adds "event" and one
 * key per field after "msg" (which holds the same line as the text format).
 */
#include "proxy/log.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

volatile int log_current_level = LOG_INFO;
static config_log_format log_format = LOG_FORMAT_TEXT;

void
log_setup(config_log_level level, config_log_format format)
{
    log_current_level = (int)level;
    log_format = format;
}

static size_t
json_escape(char *dst, size_t cap, const char *src)
{
    size_t n = 0;
    for (; *src && n + 7 < cap; src++) {
        unsigned char ch = (unsigned char)*src;
        if (ch == '"' || ch == '\\') {
            dst[n++] = '\\';
            dst[n++] = (char)ch;
        } else if (ch < 0x20) {
            n += (size_t)snprintf(dst + n, cap - n, "\\u%04x", ch);
        } else {
            dst[n++] = (char)ch;
        }
    }
    dst[n] = '\0';
    return n;
}

/* "2026-11-22T04:20:00.123Z" */
static void
timestamp(char *ts, size_t cap)
{
    struct timespec now;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &now);
    gmtime_r(&now.tv_sec, &tm);
    size_t tl = strftime(ts, cap, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(ts + tl, cap - tl, ".%03ldZ", now.tv_nsec / 1000000);
}

/*
 * Writes one line: msg, and for JSON the extra keys in `extra` (already ",\"k\":v..."
 * formatted, or ""). The line is cut at its buffer's end rather than split.
 */
static void
emit(config_log_level level, uint64_t session_id, const char *msg, const char *extra)
{
    char line[8192], ts[40];
    timestamp(ts, sizeof(ts));
    const char *name = config_log_level_name(level);
    int n;
    if (log_format == LOG_FORMAT_JSON) {
        char esc[4096], sid[32] = "";
        json_escape(esc, sizeof(esc), msg);
        if (session_id)
            snprintf(sid, sizeof(sid), ",\"session\":%llu", (unsigned long long)session_id);
        n = snprintf(line, sizeof(line), "{\"ts\":\"%s\",\"level\":\"%s\"%s,\"msg\":\"%s\"%s}\n",
                     ts, name, sid, esc, extra);
    } else if (session_id) {
        n = snprintf(line, sizeof(line), "%s %s [s=%llu] %s\n", ts, name,
                     (unsigned long long)session_id, msg);
    } else {
        n = snprintf(line, sizeof(line), "%s %s %s\n", ts, name, msg);
    }
    if (n > (int)sizeof(line) - 1) {
        n = (int)sizeof(line) - 1;
        line[n - 1] = '\n';
    }
    ssize_t w = write(STDERR_FILENO, line, (size_t)n);
    (void)w;
}

void
log_write(config_log_level level, uint64_t session_id, const char *fmt, ...)
{
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    emit(level, session_id, msg, "");
}

/* Does a text value need quotes to read back as one value? */
static bool
needs_quotes(const char *v)
{
    if (!*v)
        return true;
    for (; *v; v++)
        if (*v == ' ' || *v == '"' || *v == '=' || *v == '\\' || (unsigned char)*v < 0x20)
            return true;
    return false;
}

/* snprintf at out[n], returning the new length clamped to the buffer (cap - 1 at most). */
static size_t put(char *out, size_t cap, size_t n, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static size_t
put(char *out, size_t cap, size_t n, const char *fmt, ...)
{
    if (n + 1 >= cap)
        return n;
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(out + n, cap - n, fmt, ap);
    va_end(ap);
    if (k < 0)
        return n;
    return n + (size_t)k < cap ? n + (size_t)k : cap - 1;
}

/* Appends " key=value" to out (value quoted and escaped when it must be). */
static size_t
text_field(char *out, size_t cap, size_t n, const struct log_field *f)
{
    if (!f->str)
        return put(out, cap, n, " %s=%llu", f->key, (unsigned long long)f->num);
    if (!needs_quotes(f->str))
        return put(out, cap, n, " %s=%s", f->key, f->str);
    n = put(out, cap, n, " %s=\"", f->key);
    for (const char *p = f->str; *p; p++) {
        unsigned char ch = (unsigned char)*p;
        if (ch == '"' || ch == '\\')
            n = put(out, cap, n, "\\%c", ch);
        else if (ch < 0x20)
            n = put(out, cap, n, "\\x%02x", ch);
        else
            n = put(out, cap, n, "%c", ch);
    }
    return put(out, cap, n, "\"");
}

/* Appends ,"key":value to out (a JSON string or number). */
static size_t
json_field(char *out, size_t cap, size_t n, const struct log_field *f)
{
    char esc[1024];
    if (!f->str)
        return put(out, cap, n, ",\"%s\":%llu", f->key, (unsigned long long)f->num);
    json_escape(esc, sizeof(esc), f->str);
    return put(out, cap, n, ",\"%s\":\"%s\"", f->key, esc);
}

void
log_event(config_log_level level, uint64_t session_id, const char *event,
          const struct log_field *fields, size_t nf)
{
    char msg[2048], extra[3072], esc[128];
    size_t m = put(msg, sizeof(msg), 0, "%s:", event);
    size_t x = 0;
    extra[0] = '\0';
    json_escape(esc, sizeof(esc), event);
    if (log_format == LOG_FORMAT_JSON)
        x = put(extra, sizeof(extra), 0, ",\"event\":\"%s\"", esc);
    for (size_t i = 0; i < nf; i++) {
        m = text_field(msg, sizeof(msg), m, &fields[i]);
        if (log_format == LOG_FORMAT_JSON)
            x = json_field(extra, sizeof(extra), x, &fields[i]);
    }
    emit(level, session_id, msg, extra);
}
