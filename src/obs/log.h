/* log.h - JSON logs, one object per line on stdout.
 *
 * Every line has ts, level, msg, event_id, chat_type and request_id. The last
 * three come from a per-thread context that the front door and the worker set
 * while they handle a request or an event. Callers never pass secrets or
 * message text above debug level. */
#ifndef LINEBOT_LOG_H
#define LINEBOT_LOG_H

#include "config.h"

void log_init(enum log_level level);
enum log_level log_get_level(void);
/* Parses "debug", "info", "warn"/"warning", "error". Returns 0 or -1. */
int log_parse_level(const char *s, enum log_level *out);

/* Per-thread context (copied; NULL clears a field). */
void log_set_event(const char *event_id, const char *chat_type);
void log_set_request_id(const char *request_id);
void log_clear_context(void);

/* Writes one line at `level` if enabled. `fmt` is printf-style; the result is
 * JSON-escaped. */
void log_write(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_debug(...) log_write(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_write(LOG_INFO, __VA_ARGS__)
#define log_warn(...) log_write(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_write(LOG_ERROR, __VA_ARGS__)

#endif
