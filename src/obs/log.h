/* log.h - logs on stdout, one line per event: a JSON object, or a short text
 * line for a person at a terminal (LOG_FORMAT).
 *
 * Every line has ts, level and msg, and event_id, chat_type and request_id
 * when they are set: they come from a per-thread context that the front door
 * and the worker set while they handle a request or an event, and a key with
 * no value is left out. Callers never pass secrets or
 * message text above debug level; as a second line of defence every line is
 * written with the secrets given to log_set_secrets masked, and "Bearer"
 * credentials and "sk-" keys too (core/redact.h), whatever its source. */
#ifndef LINEBOT_LOG_H
#define LINEBOT_LOG_H

#include "config.h"
#include "core/redact.h"

#include <stdbool.h>
#include <stddef.h>

void log_init(enum log_level level);
enum log_level log_get_level(void);
/* Parses "debug", "info", "warn"/"warning", "error". Returns 0 or -1. */
int log_parse_level(const char *s, enum log_level *out);

/* Parses "text" or "json" (any case). Returns 0 or -1. */
int log_parse_format(const char *s, enum log_format *out);
/* The format of every line from now on; returns the one chosen.
 * LOG_FORMAT_AUTO is text when stdout is a terminal and JSON otherwise, and
 * always JSON when `serverless` (Lambda's and Function Compute's log
 * pipelines parse JSON lines); an explicit format is kept as it is. A text
 * line is "HH:MM:SS.mmm LEVEL [chat_type #short-event-id] message" (UTC; the
 * chat part only when set), masked and cut like a JSON line. The default,
 * before any call, is JSON. */
enum log_format log_set_format(enum log_format format, bool serverless);

/* The secrets to mask in every line from now on (copied; replaces any set
 * before). Values too short to mask are skipped, and at most LOG_MAX_SECRETS
 * are kept. Not thread-safe: call once at start, before any other thread
 * exists (then every thread only reads them). */
#define LOG_MAX_SECRETS 32
void log_set_secrets(const struct redact_secret *secrets, size_t n);

/* Secrets that come with one request, such as the credentials Function
 * Compute passes in each request's headers: masked in this thread's lines,
 * like those above, until log_clear_request_secrets. The strings are not
 * copied: they must outlive the call to log_clear_request_secrets. At most
 * LOG_MAX_REQUEST_SECRETS; values too short to mask are skipped. */
#define LOG_MAX_REQUEST_SECRETS 4
void log_set_request_secrets(const struct redact_secret *secrets, size_t n);
void log_clear_request_secrets(void);

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
