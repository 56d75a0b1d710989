/*
 * log: formats one line per call and writes it with a single write(2) so lines from worker
 * threads never interleave. Text: "2026-11-22T04:20:00.123Z INFO [s=12] message".
 * JSON: {"ts":"...","level":"info","session":12,"msg":"..."}.
 */
#include "proxy/log.h"

#include <stdarg.h>
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

void
log_write(config_log_level level, uint64_t session_id, const char *fmt, ...)
{
    char msg[2048], line[4608], ts[40];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);

    struct timespec now;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &now);
    gmtime_r(&now.tv_sec, &tm);
    size_t tl = strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(ts + tl, sizeof(ts) - tl, ".%03ldZ", now.tv_nsec / 1000000);

    const char *name = config_log_level_name(level);
    int n;
    if (log_format == LOG_FORMAT_JSON) {
        char esc[4096];
        json_escape(esc, sizeof(esc), msg);
        if (session_id)
            n = snprintf(line, sizeof(line),
                         "{\"ts\":\"%s\",\"level\":\"%s\",\"session\":%llu,\"msg\":\"%s\"}\n", ts,
                         name, (unsigned long long)session_id, esc);
        else
            n = snprintf(line, sizeof(line), "{\"ts\":\"%s\",\"level\":\"%s\",\"msg\":\"%s\"}\n",
                         ts, name, esc);
    } else if (session_id) {
        n = snprintf(line, sizeof(line), "%s %s [s=%llu] %s\n", ts, name,
                     (unsigned long long)session_id, msg);
    } else {
        n = snprintf(line, sizeof(line), "%s %s %s\n", ts, name, msg);
    }
    if (n > (int)sizeof(line) - 1)
        n = (int)sizeof(line) - 1;
    ssize_t w = write(STDERR_FILENO, line, (size_t)n);
    (void)w;
}
