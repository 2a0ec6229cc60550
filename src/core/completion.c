/* completion.c - the OpenAI-compatible chat-completions wire format.
 *
 * Pure: no I/O and no clock (the caller passes "now"). It builds the request
 * body, reads the answer out of a response that may come from OpenAI,
 * DashScope, Ollama or any look-alike server, and removes what users must not
 * see: <think> blocks in the content, and reasoning_content, which is never
 * read at all. Responses are treated as hostile input: every field is checked
 * for its type, and a missing or odd field is an error, never a crash. */
#include "core/completion.h"

#include <ctype.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define RETRY_AFTER_MAX_MS 60000
#define PROVIDER_MESSAGE_MAX 200

/* Copy of `s` with every invalid UTF-8 sequence replaced by U+FFFD, so that
 * jansson (which refuses invalid UTF-8) always accepts it. NULL on OOM. */
static char *utf8_sanitize(const char *s)
{
    size_t len = strlen(s);
    char *out = malloc(len * 3 + 1); /* worst case: every byte becomes U+FFFD */
    if (!out)
        return NULL;
    const unsigned char *p = (const unsigned char *)s;
    size_t o = 0;
    while (*p) {
        unsigned char c = p[0];
        size_t n = 0;
        unsigned int cp = 0;
        if (c < 0x80) {
            out[o++] = (char)c;
            p++;
            continue;
        } else if (c >= 0xC2 && c <= 0xDF) {
            n = 2;
            cp = c & 0x1F;
        } else if (c >= 0xE0 && c <= 0xEF) {
            n = 3;
            cp = c & 0x0F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            n = 4;
            cp = c & 0x07;
        }
        size_t i = 1;
        for (; n && i < n; i++) {
            if ((p[i] & 0xC0) != 0x80)
                break;
            cp = (cp << 6) | (p[i] & 0x3F);
        }
        int ok = n && i == n;
        if (ok && ((n == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
                   (n == 4 && (cp < 0x10000 || cp > 0x10FFFF))))
            ok = 0;
        if (ok) {
            memcpy(out + o, p, n);
            o += n;
            p += n;
        } else {
            memcpy(out + o, "\xEF\xBF\xBD", 3);
            o += 3;
            p += 1;
        }
    }
    out[o] = '\0';
    return out;
}

/* A JSON string for `s` (NULL becomes ""), repairing invalid UTF-8. */
static json_t *json_text(const char *s)
{
    if (!s)
        s = "";
    json_t *j = json_string(s);
    if (j)
        return j;
    char *clean = utf8_sanitize(s);
    if (!clean)
        return NULL;
    j = json_string(clean);
    free(clean);
    return j;
}

char *completion_request_json(const struct completion_options *opt,
                              const struct llm_message *msgs, size_t n)
{
    json_t *root = json_object();
    json_t *arr = json_array();
    char *out = NULL;
    if (!root || !arr)
        goto done;
    if (json_object_set_new(root, "model", json_text(opt ? opt->model : NULL)) != 0)
        goto done;
    for (size_t i = 0; i < n; i++) {
        json_t *m = json_object();
        if (!m)
            goto done;
        if (json_array_append_new(arr, m) != 0 ||
            json_object_set_new(m, "role", json_text(msgs[i].role)) != 0 ||
            json_object_set_new(m, "content", json_text(msgs[i].content)) != 0)
            goto done;
    }
    if (json_object_set(root, "messages", arr) != 0)
        goto done;
    if (opt && opt->max_tokens > 0 &&
        json_object_set_new(root, "max_tokens", json_integer(opt->max_tokens)) != 0)
        goto done;
    if (opt && opt->send_enable_thinking &&
        json_object_set_new(root, "enable_thinking", json_boolean(opt->enable_thinking)) != 0)
        goto done;
    out = json_dumps(root, JSON_COMPACT);
done:
    json_decref(arr);
    json_decref(root);
    return out;
}

/* ---- <think> removal ---------------------------------------------------- */

static const char THINK_OPEN[] = "<think>";
static const char THINK_CLOSE[] = "</think>";

/* Removes every <think>...</think> block. Two more shapes occur in practice:
 * an opening tag with no end at the very start means the model only thought
 * (cut off by max_tokens), so nothing is left; and a closing tag with no
 * opening one before it (servers whose chat template already emitted
 * "<think>" in the prompt) means everything up to it was thinking. An
 * unterminated tag later in the text is kept as it is: it is more likely
 * part of the answer than a thought. */
char *completion_strip_think(const char *text)
{
    if (!text)
        return NULL;
    size_t len = strlen(text);
    char *out = malloc(len + 1);
    if (!out)
        return NULL;
    const char *p = text;
    size_t o = 0;

    const char *first_open = strstr(p, THINK_OPEN);
    const char *first_close = strstr(p, THINK_CLOSE);
    if (first_close && (!first_open || first_close < first_open))
        p = first_close + sizeof(THINK_CLOSE) - 1;

    for (;;) {
        const char *open = strstr(p, THINK_OPEN);
        if (!open)
            break;
        const char *close = strstr(open + sizeof(THINK_OPEN) - 1, THINK_CLOSE);
        if (!close) {
            const char *q = p;
            while (q < open && isspace((unsigned char)*q))
                q++;
            if (q == open && o == 0)
                p = open + strlen(open); /* only thinking, nothing else */
            break;
        }
        memcpy(out + o, p, (size_t)(open - p));
        o += (size_t)(open - p);
        p = close + sizeof(THINK_CLOSE) - 1;
    }
    size_t rest = strlen(p);
    memcpy(out + o, p, rest);
    o += rest;
    out[o] = '\0';
    return out;
}

/* ---- response parsing --------------------------------------------------- */

static void set_err(char *err, size_t errlen, const char *msg)
{
    if (err && errlen)
        snprintf(err, errlen, "%s", msg);
}

/* Cuts `s` to at most `max` bytes without splitting a UTF-8 sequence. */
static void utf8_truncate(char *s, size_t max)
{
    size_t len = strlen(s);
    if (len <= max)
        return;
    size_t cut = max;
    while (cut > 0 && ((unsigned char)s[cut] & 0xC0) == 0x80)
        cut--;
    s[cut] = '\0';
}

/* "provider error: <type or code>: <message>" from {"error": ...}. */
static void provider_error(json_t *error, char *err, size_t errlen)
{
    const char *kind = NULL;
    const char *message = NULL;
    char code_buf[32];

    if (json_is_string(error)) {
        message = json_string_value(error);
    } else if (json_is_object(error)) {
        json_t *type = json_object_get(error, "type");
        json_t *code = json_object_get(error, "code");
        json_t *msg = json_object_get(error, "message");
        if (json_is_string(type) && json_string_length(type) > 0)
            kind = json_string_value(type);
        else if (json_is_string(code))
            kind = json_string_value(code);
        else if (json_is_integer(code)) {
            snprintf(code_buf, sizeof(code_buf), "%lld", (long long)json_integer_value(code));
            kind = code_buf;
        }
        if (json_is_string(msg))
            message = json_string_value(msg);
    }

    /* One byte more than kept, so utf8_truncate sees where a cut falls. */
    char kind_s[66] = "";
    char msg_s[PROVIDER_MESSAGE_MAX + 2] = "";
    if (kind) {
        snprintf(kind_s, sizeof(kind_s), "%s", kind);
        utf8_truncate(kind_s, 64);
    }
    if (message) {
        snprintf(msg_s, sizeof(msg_s), "%s", message);
        utf8_truncate(msg_s, PROVIDER_MESSAGE_MAX);
    }
    if (!err || !errlen)
        return;
    if (kind && message)
        snprintf(err, errlen, "provider error: %s: %s", kind_s, msg_s);
    else if (kind || message)
        snprintf(err, errlen, "provider error: %s%s", kind_s, msg_s);
    else
        snprintf(err, errlen, "provider error");
}

/* The text of message.content: a string, or an array of parts of which the
 * {"type":"text","text":...} ones (and bare strings) are concatenated.
 * Returns a malloc'd string, or NULL when there is no text (or on OOM). */
static char *content_text(json_t *content)
{
    if (json_is_string(content))
        return strdup(json_string_value(content));
    if (!json_is_array(content))
        return NULL;

    size_t total = 0, i;
    json_t *part;
    json_array_foreach(content, i, part) {
        if (json_is_string(part)) {
            total += strlen(json_string_value(part));
        } else if (json_is_object(part)) {
            json_t *type = json_object_get(part, "type");
            json_t *text = json_object_get(part, "text");
            if ((!type || (json_is_string(type) && strcmp(json_string_value(type), "text") == 0)) &&
                json_is_string(text))
                total += strlen(json_string_value(text));
        }
    }
    char *out = malloc(total + 1);
    if (!out)
        return NULL;
    size_t o = 0;
    json_array_foreach(content, i, part) {
        const char *s = NULL;
        if (json_is_string(part)) {
            s = json_string_value(part);
        } else if (json_is_object(part)) {
            json_t *type = json_object_get(part, "type");
            json_t *text = json_object_get(part, "text");
            if ((!type || (json_is_string(type) && strcmp(json_string_value(type), "text") == 0)) &&
                json_is_string(text))
                s = json_string_value(text);
        }
        if (s) {
            size_t l = strlen(s);
            memcpy(out + o, s, l);
            o += l;
        }
    }
    out[o] = '\0';
    return out;
}

/* Trims leading and trailing whitespace in place; returns the start. */
static char *trim(char *s)
{
    while (*s && isspace((unsigned char)*s))
        s++;
    size_t len = strlen(s);
    while (len > 0 && isspace((unsigned char)s[len - 1]))
        len--;
    s[len] = '\0';
    return s;
}

int completion_parse_response(const char *body, size_t len, char **answer, char *err, size_t errlen)
{
    *answer = NULL;
    if (err && errlen)
        err[0] = '\0';
    if (!body || len == 0) {
        set_err(err, errlen, "empty response body");
        return -1;
    }

    json_error_t jerr;
    json_t *root = json_loadb(body, len, 0, &jerr);
    if (!root) {
        set_err(err, errlen, "response is not JSON");
        return -1;
    }
    int rc = -1;
    char *text = NULL;

    if (!json_is_object(root)) {
        set_err(err, errlen, "response is not a JSON object");
        goto done;
    }
    json_t *error = json_object_get(root, "error");
    if (error && !json_is_null(error)) {
        provider_error(error, err, errlen);
        goto done;
    }
    json_t *choices = json_object_get(root, "choices");
    if (!json_is_array(choices) || json_array_size(choices) == 0) {
        set_err(err, errlen, "response has no choices");
        goto done;
    }
    json_t *choice = json_array_get(choices, 0);
    json_t *message = json_is_object(choice) ? json_object_get(choice, "message") : NULL;
    if (!json_is_object(message)) {
        set_err(err, errlen, "choices[0].message is missing");
        goto done;
    }
    json_t *finish = json_object_get(choice, "finish_reason");
    const char *finish_reason = json_is_string(finish) ? json_string_value(finish) : NULL;

    text = content_text(json_object_get(message, "content"));
    char *clean = text ? completion_strip_think(text) : NULL;
    char *t = clean ? trim(clean) : NULL;
    if (!t || !*t) {
        if (finish_reason && strcmp(finish_reason, "length") == 0)
            set_err(err, errlen, "empty answer (finish_reason=length: max_tokens spent)");
        else
            set_err(err, errlen, "empty answer");
        free(clean);
        goto done;
    }
    *answer = strdup(t);
    free(clean);
    if (!*answer) {
        set_err(err, errlen, "out of memory");
        goto done;
    }
    rc = 0;
done:
    free(text);
    json_decref(root);
    return rc;
}

/* A count in "usage", or -1 when it is absent or not a count. */
static int64_t usage_count(json_t *usage, const char *name)
{
    json_t *v = json_is_object(usage) ? json_object_get(usage, name) : NULL;
    return json_is_integer(v) && json_integer_value(v) >= 0 ? (int64_t)json_integer_value(v) : -1;
}

void completion_parse_meta(const char *body, size_t len, struct completion_meta *meta)
{
    *meta = (struct completion_meta){.prompt_tokens = -1, .completion_tokens = -1, .total_tokens = -1};
    json_t *root = body && len ? json_loadb(body, len, 0, NULL) : NULL;
    if (!json_is_object(root)) {
        json_decref(root);
        return;
    }
    json_t *model = json_object_get(root, "model");
    if (json_is_string(model) && json_string_length(model) > 0 && json_string_length(model) <= 200)
        meta->model = strdup(json_string_value(model));
    json_t *usage = json_object_get(root, "usage");
    meta->prompt_tokens = usage_count(usage, "prompt_tokens");
    meta->completion_tokens = usage_count(usage, "completion_tokens");
    meta->total_tokens = usage_count(usage, "total_tokens");
    json_decref(root);
}

/* ---- retry-after -------------------------------------------------------- */

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* Parses an HTTP-date in any of the three forms RFC 9110 asks recipients to
 * accept: "Sun, 06 Nov 1994 08:49:37 GMT" (IMF-fixdate), "Sunday, 06-Nov-94
 * 08:49:37 GMT" (RFC 850) and "Sun Nov  6 08:49:37 1994" (asctime). Locale
 * free. Returns 0 with *epoch set, or -1. */
static int parse_http_date(const char *s, int64_t *epoch)
{
    static const char *const months[] = {"jan", "feb", "mar", "apr", "may", "jun",
                                         "jul", "aug", "sep", "oct", "nov", "dec"};
    int day = -1, month = -1, hh = -1, mm = -1, ss = -1;
    int64_t year = -1;
    const char *p = s;

    while (*p) {
        if (*p == ' ' || *p == ',' || *p == '-' || *p == '\t') {
            p++;
        } else if (isalpha((unsigned char)*p)) {
            const char *w = p;
            while (isalpha((unsigned char)*p))
                p++;
            size_t wl = (size_t)(p - w);
            int found = 0;
            if (wl == 3) {
                for (int i = 0; i < 12; i++) {
                    if (strncasecmp(w, months[i], 3) == 0) {
                        if (month >= 0)
                            return -1;
                        month = i + 1;
                        found = 1;
                    }
                }
            }
            if (!found && wl < 3)
                return -1; /* week day names and GMT are otherwise ignored */
        } else if (isdigit((unsigned char)*p)) {
            const char *w = p;
            long v = 0;
            while (isdigit((unsigned char)*p) && p - w < 5)
                v = v * 10 + (*p++ - '0');
            if (isdigit((unsigned char)*p))
                return -1;
            size_t wl = (size_t)(p - w);
            if (*p == ':') {
                if (hh >= 0 || wl > 2)
                    return -1;
                int m2 = 0, s2 = 0;
                if (!isdigit((unsigned char)p[1]) || !isdigit((unsigned char)p[2]) || p[3] != ':' ||
                    !isdigit((unsigned char)p[4]) || !isdigit((unsigned char)p[5]))
                    return -1;
                m2 = (p[1] - '0') * 10 + (p[2] - '0');
                s2 = (p[4] - '0') * 10 + (p[5] - '0');
                hh = (int)v;
                mm = m2;
                ss = s2;
                p += 6;
            } else if (day < 0 && wl <= 2) {
                day = (int)v;
            } else if (year < 0 && (wl == 4 || wl == 2)) {
                year = wl == 2 ? (v < 70 ? 2000 + v : 1900 + v) : v;
            } else {
                return -1;
            }
        } else {
            return -1;
        }
    }
    if (day < 1 || day > 31 || month < 1 || year < 1970 || hh < 0 || hh > 23 || mm > 59 || ss > 60)
        return -1;
    *epoch = days_from_civil(year, month, day) * 86400 + hh * 3600 + mm * 60 + ss;
    return 0;
}

static int64_t clamp_ms(double ms)
{
    if (ms <= 0)
        return 0;
    if (ms >= RETRY_AFTER_MAX_MS)
        return RETRY_AFTER_MAX_MS;
    return (int64_t)ceil(ms);
}

/* A non-negative decimal number spanning the whole string (blanks around are
 * fine). `integer_only` refuses a fraction. Returns 0 or -1. */
static int parse_number(const char *s, int integer_only, double *out)
{
    while (*s == ' ' || *s == '\t')
        s++;
    if (!isdigit((unsigned char)*s))
        return -1; /* no sign, no "inf", no "nan", no hex */
    double v = 0;
    while (isdigit((unsigned char)*s)) {
        v = v * 10 + (*s - '0');
        s++;
    }
    if (*s == '.' && !integer_only) {
        double scale = 0.1;
        s++;
        if (!isdigit((unsigned char)*s))
            return -1;
        while (isdigit((unsigned char)*s)) {
            v += (*s - '0') * scale;
            scale /= 10;
            s++;
        }
    }
    while (*s == ' ' || *s == '\t')
        s++;
    if (*s)
        return -1;
    *out = v;
    return 0;
}

int64_t completion_retry_after_ms(const char *retry_after_ms, const char *retry_after,
                                  int64_t now_epoch_s)
{
    double v;
    if (retry_after_ms && parse_number(retry_after_ms, 0, &v) == 0)
        return clamp_ms(v);
    if (retry_after) {
        if (parse_number(retry_after, 1, &v) == 0)
            return clamp_ms(v * 1000.0);
        int64_t at;
        if (parse_http_date(retry_after, &at) == 0) {
            int64_t diff = at - now_epoch_s;
            if (diff > RETRY_AFTER_MAX_MS / 1000)
                return RETRY_AFTER_MAX_MS;
            return clamp_ms((double)diff * 1000.0);
        }
    }
    return -1;
}

bool completion_status_retryable(long status)
{
    return status == 408 || status == 409 || status == 429 || (status >= 500 && status <= 599);
}
