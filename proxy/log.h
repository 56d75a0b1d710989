/*
 * log: leveled log lines, as text or JSON, to stderr, with the session id on session lines.
 *
 * The macros test the level before evaluating their arguments, and the compiler checks the
 * format strings. Safe to call from any worker thread: one line is one write(2).
 *
 * Events (a connection's login and close, a failed login, a slow batch) carry named fields:
 * as text they read "login: peer=127.0.0.1:5000 user=app ..." (values with spaces quoted), as
 * JSON each field is a key of its own beside "msg", so a log pipeline needs no parsing.
 */
#ifndef PGFOLD_LOG_H
#define PGFOLD_LOG_H

#include <stddef.h>
#include <stdint.h>

#include "config/config.h"

extern volatile int log_current_level;

void log_setup(config_log_level level, config_log_format format);
void log_write(config_log_level level, uint64_t session_id, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define log_at(lvl, sid, ...)                                                                     \
    do {                                                                                          \
        if ((int)(lvl) <= log_current_level)                                                      \
            log_write((lvl), (sid), __VA_ARGS__);                                                 \
    } while (0)

/* One named field of an event: a string (str not NULL) or an unsigned number. */
struct log_field {
    const char *key;
    const char *str;
    uint64_t num;
};

#define LOG_STR(k, v) {(k), (v) ? (v) : "", 0}
#define LOG_NUM(k, v) {(k), NULL, (uint64_t)(v)}

/* Writes one event line: "<event>: k=v k=v" as text, or JSON with each field as a key. */
void log_event(config_log_level level, uint64_t session_id, const char *event,
               const struct log_field *fields, size_t n);

#define log_event_at(lvl, sid, event, fields, n)                                                  \
    do {                                                                                          \
        if ((int)(lvl) <= log_current_level)                                                      \
            log_event((lvl), (sid), (event), (fields), (n));                                      \
    } while (0)

/* Process-wide lines. */
#define log_error(...) log_at(LOG_ERROR, 0, __VA_ARGS__)
#define log_warn(...) log_at(LOG_WARN, 0, __VA_ARGS__)
#define log_info(...) log_at(LOG_INFO, 0, __VA_ARGS__)
#define log_debug(...) log_at(LOG_DEBUG, 0, __VA_ARGS__)

/* Session lines: s is a struct session *. */
#define slog_error(s, ...) log_at(LOG_ERROR, (s)->id, __VA_ARGS__)
#define slog_warn(s, ...) log_at(LOG_WARN, (s)->id, __VA_ARGS__)
#define slog_info(s, ...) log_at(LOG_INFO, (s)->id, __VA_ARGS__)
#define slog_debug(s, ...) log_at(LOG_DEBUG, (s)->id, __VA_ARGS__)

#endif
