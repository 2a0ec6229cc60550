/* log.c - one line per event on stdout, JSON or text (see log.h).
 *
 * A line is built in a stack buffer and written with one write(2), so lines
 * from different threads never interleave. Every text that goes into a line
 * (the message and the context fields) first passes core/redact.c with the
 * configured secrets: this is the one place all logging goes through, so a
 * secret that reached a message by any path (an upstream error body that
 * echoes the API key, copied into an error by io/llm.c) is masked here. */
#include "obs/log.h"

#include "core/alloc.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

static atomic_int current_level = LOG_INFO;
static atomic_int current_format = LOG_FORMAT_JSON;

static _Thread_local char ctx_event_id[128];
static _Thread_local char ctx_chat_type[16];
static _Thread_local char ctx_request_id[128];

static const char *const level_names[] = {"debug", "info", "warn", "error"};
/* Text lines: one width, so the messages line up. */
static const char *const level_labels[] = {"DEBUG", "INFO ", "WARN ", "ERROR"};

/* Written by log_set_secrets before any other thread exists, only read
 * afterwards: no lock needed. */
static struct redact_secret secrets[LOG_MAX_SECRETS];
static size_t n_secrets;

void log_set_secrets(const struct redact_secret *list, size_t n)
{
    for (size_t i = 0; i < n_secrets; i++) {
        free((char *)secrets[i].name);
        free((char *)secrets[i].value);
    }
    n_secrets = 0;
    for (size_t i = 0; i < n && n_secrets < LOG_MAX_SECRETS; i++) {
        if (!redact_is_maskable(list[i].value))
            continue;
        secrets[n_secrets].name = list[i].name ? xstrdup(list[i].name) : NULL;
        secrets[n_secrets].value = xstrdup(list[i].value);
        n_secrets++;
    }
}

static _Thread_local struct redact_secret request_secrets[LOG_MAX_REQUEST_SECRETS];
static _Thread_local size_t n_request_secrets;

void log_set_request_secrets(const struct redact_secret *list, size_t n)
{
    n_request_secrets = 0;
    for (size_t i = 0; i < n && n_request_secrets < LOG_MAX_REQUEST_SECRETS; i++)
        if (redact_is_maskable(list[i].value))
            request_secrets[n_request_secrets++] = list[i];
}

void log_clear_request_secrets(void) { n_request_secrets = 0; }

/* `s` with every secret masked: the configured ones and this thread's
 * request's (malloc'd). */
static char *masked(const char *s)
{
    if (n_request_secrets == 0)
        return redact_text(s, secrets, n_secrets);
    struct redact_secret all[LOG_MAX_SECRETS + LOG_MAX_REQUEST_SECRETS];
    memcpy(all, secrets, n_secrets * sizeof *all);
    memcpy(all + n_secrets, request_secrets, n_request_secrets * sizeof *all);
    return redact_text(s, all, n_secrets + n_request_secrets);
}

void log_init(enum log_level level) { atomic_store(&current_level, (int)level); }
enum log_level log_get_level(void) { return (enum log_level)atomic_load(&current_level); }

int log_parse_level(const char *s, enum log_level *out)
{
    static const struct { const char *name; enum log_level level; } names[] = {
        {"debug", LOG_DEBUG}, {"info", LOG_INFO}, {"warn", LOG_WARN},
        {"warning", LOG_WARN}, {"error", LOG_ERROR},
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (strcasecmp(s, names[i].name) == 0) {
            *out = names[i].level;
            return 0;
        }
    }
    return -1;
}

int log_parse_format(const char *s, enum log_format *out)
{
    if (strcasecmp(s, "json") == 0)
        *out = LOG_FORMAT_JSON;
    else if (strcasecmp(s, "text") == 0)
        *out = LOG_FORMAT_TEXT;
    else
        return -1;
    return 0;
}

enum log_format log_set_format(enum log_format format, bool serverless)
{
    if (format == LOG_FORMAT_AUTO)
        format = !serverless && isatty(STDOUT_FILENO) ? LOG_FORMAT_TEXT : LOG_FORMAT_JSON;
    atomic_store(&current_format, (int)format);
    return format;
}

static void set_field(char *dst, size_t cap, const char *src)
{
    if (!src) {
        dst[0] = '\0';
        return;
    }
    snprintf(dst, cap, "%s", src);
}

void log_set_event(const char *event_id, const char *chat_type)
{
    set_field(ctx_event_id, sizeof ctx_event_id, event_id);
    set_field(ctx_chat_type, sizeof ctx_chat_type, chat_type);
}

void log_set_request_id(const char *request_id)
{
    set_field(ctx_request_id, sizeof ctx_request_id, request_id);
}

void log_clear_context(void)
{
    ctx_event_id[0] = ctx_chat_type[0] = ctx_request_id[0] = '\0';
}

struct line_buf {
    char data[8192];
    size_t len;
};

static void put_raw(struct line_buf *b, const char *s)
{
    size_t n = strlen(s);
    if (n > sizeof b->data - 8 - b->len)
        n = sizeof b->data - 8 - b->len;
    memcpy(b->data + b->len, s, n);
    b->len += n;
}

/* Room kept after the message for the three context fields (at most 127
 * bytes each, plus their keys and escapes) and the closing brace: a long
 * message is cut, and the line stays one JSON object. */
#define LOG_TAIL_ROOM 1024

/* Appends `s`, escaping controls, so that the line stays one line; stops
 * short of `limit` (a length of the line) without splitting an escape or a
 * UTF-8 character. As a JSON string (`json`): in quotes, with '"' and '\'
 * escaped too; as text: bare. */
static void put_escaped(struct line_buf *b, const char *s, size_t limit, bool json)
{
    static const char hex[] = "0123456789abcdef";
    if (limit > sizeof b->data - 8)
        limit = sizeof b->data - 8;
    if (json)
        put_raw(b, "\"");
    size_t char_start = b->len; /* where the character being copied began */
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        unsigned char c = *p;
        if ((c & 0xC0) != 0x80)
            char_start = b->len;
        if (b->len + 8 >= limit) {
            b->len = char_start; /* never half a character */
            break;
        }
        if (json && (c == '"' || c == '\\')) {
            b->data[b->len++] = '\\';
            b->data[b->len++] = (char)c;
        } else if (c == '\n') {
            b->data[b->len++] = '\\';
            b->data[b->len++] = 'n';
        } else if (c < 0x20 || c == 0x7f) {
            memcpy(b->data + b->len, "\\u00", 4);
            b->len += 4;
            b->data[b->len++] = hex[c >> 4];
            b->data[b->len++] = hex[c & 15];
        } else {
            b->data[b->len++] = (char)c;
        }
    }
    if (json)
        put_raw(b, "\"");
}

/* Appends `s` with the secrets masked, as a JSON string or bare text. */
static void put_redacted(struct line_buf *b, const char *s, size_t limit, bool json)
{
    char *clean = masked(s);
    put_escaped(b, clean, limit, json);
    free(clean);
}

/* A context field, left out when it is unset: a reader tells "no event" by
 * the key's absence, and lines outside an event stay short. */
static void put_field(struct line_buf *b, const char *key, const char *value)
{
    if (!value || !value[0])
        return;
    put_raw(b, ",\"");
    put_raw(b, key);
    put_raw(b, "\":");
    put_redacted(b, value, sizeof b->data, true);
}

/* `ts` in UTC to the millisecond ("2026-12-07T08:49:37.123" with the date,
 * "08:49:37.123" without), followed by `tail`. */
static void format_time(char *out, size_t len, const struct timespec *ts, bool with_date, const char *tail)
{
    struct tm tm;
    gmtime_r(&ts->tv_sec, &tm);
    size_t w = with_date ? strftime(out, len, "%Y-%m-%dT%H:%M:%S", &tm) : strftime(out, len, "%H:%M:%S", &tm);
    snprintf(out + w, len - w, ".%03ld%s", ts->tv_nsec / 1000000, tail);
}

static void build_json(struct line_buf *b, const struct timespec *ts, enum log_level level, const char *msg)
{
    char when[40];
    format_time(when, sizeof when, ts, true, "Z");
    put_raw(b, "{\"ts\":\"");
    put_raw(b, when);
    put_raw(b, "\",\"level\":\"");
    put_raw(b, level_names[level]);
    put_raw(b, "\",\"msg\":");
    put_redacted(b, msg, sizeof b->data - LOG_TAIL_ROOM, true);
    put_field(b, "event_id", ctx_event_id);
    put_field(b, "chat_type", ctx_chat_type);
    put_field(b, "request_id", ctx_request_id);
    put_raw(b, "}");
}

/* Characters of an event id shown in a text line: its end, since LINE's ids
 * (ULIDs) begin with their time and look alike within a minute. */
#define TEXT_EVENT_ID_CHARS 8

/* "HH:MM:SS.mmm LEVEL [chat_type #event] message": the chat comes before the
 * message, so a cut message never costs it. */
static void build_text(struct line_buf *b, const struct timespec *ts, enum log_level level, const char *msg)
{
    char when[24];
    format_time(when, sizeof when, ts, false, " ");
    put_raw(b, when);
    put_raw(b, level_labels[level]);
    if (ctx_chat_type[0] || ctx_event_id[0]) {
        put_raw(b, " [");
        if (ctx_chat_type[0])
            put_redacted(b, ctx_chat_type, sizeof b->data, false);
        if (ctx_event_id[0]) {
            put_raw(b, ctx_chat_type[0] ? " #" : "#");
            /* Masked first, then shortened: the end of a clean text is clean. */
            char *clean = masked(ctx_event_id);
            size_t n = strlen(clean);
            const char *tail = clean + (n > TEXT_EVENT_ID_CHARS ? n - TEXT_EVENT_ID_CHARS : 0);
            while (((unsigned char)*tail & 0xC0) == 0x80) /* start on a whole character */
                tail++;
            put_escaped(b, tail, sizeof b->data, false);
            free(clean);
        }
        put_raw(b, "]");
    }
    put_raw(b, " ");
    put_redacted(b, msg, sizeof b->data - LOG_TAIL_ROOM, false);
}

void log_write(enum log_level level, const char *fmt, ...)
{
    if ((int)level < atomic_load(&current_level))
        return;
    /* The whole message, however long: it is cut only after redaction (by
     * the line's size), so a cut never leaves part of a secret unmasked. */
    va_list ap;
    va_start(ap, fmt);
    int need = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *msg = xmalloc(need > 0 ? (size_t)need + 1 : 1);
    msg[0] = '\0';
    if (need > 0) {
        va_start(ap, fmt);
        vsnprintf(msg, (size_t)need + 1, fmt, ap);
        va_end(ap);
    }

    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct line_buf b; /* not zeroed: only data[0, len) is ever read */
    b.len = 0;
    if (atomic_load(&current_format) == LOG_FORMAT_TEXT)
        build_text(&b, &ts, level, msg);
    else
        build_json(&b, &ts, level, msg);
    free(msg);
    b.data[b.len++] = '\n';

    const char *p = b.data;
    size_t left = b.len;
    while (left > 0) {
        ssize_t n = write(STDOUT_FILENO, p, left);
        if (n <= 0)
            break;
        p += n;
        left -= (size_t)n;
    }
}
