/* completion.c - the OpenAI-compatible chat-completions wire format.
 *
 * Pure: no I/O and no clock (the caller passes "now"). It builds the request
 * body, reads the answer out of a response that may come from OpenAI,
 * DashScope, Ollama or any look-alike server, and removes what users must not
 * see: <think> blocks in the content, and reasoning_content, which is never
 * read at all. Responses are treated as hostile input: every field is checked
 * for its type, and a missing or odd field is an error, never a crash. */
#include "core/completion.h"

#include "core/alloc.h"
#include "core/buf.h"
#include "core/redact.h"
#include "core/utf8.h"

#include <ctype.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define PROVIDER_MESSAGE_MAX 200

/* A JSON string for `s` (NULL becomes ""). jansson refuses invalid UTF-8,
 * so such text is sent with each bad byte replaced by U+FFFD. */
static json_t *json_text(const char *s)
{
    if (!s)
        s = "";
    json_t *j = json_string(s);
    if (j)
        return j;
    char *clean = utf8_sanitize(s, strlen(s));
    j = json_string(clean);
    free(clean);
    return j;
}

char *completion_data_url(const char *mime, const void *data, size_t len)
{
    static const char prefix_fmt[] = "data:%s;base64,";
    size_t prefix = strlen(mime) + sizeof prefix_fmt - 3;
    size_t encoded = 4 * ((len + 2) / 3);
    char *url = xmalloc(prefix + encoded + 1);
    snprintf(url, prefix + 1, prefix_fmt, mime);
    /* EVP_EncodeBlock writes no line breaks, and the NUL after the text. */
    EVP_EncodeBlock((unsigned char *)url + prefix, data, (int)len);
    return url;
}

/* Large values spliced in after json_dumps (completion_request_json): a
 * data: URL of a 10 MB image is 13 MB, and through jansson it would be held
 * three more times (json_string's copy, the output buffer growing by
 * doubling, the output). Each goes into the tree as a short placeholder,
 * "\u0001linebot-splice-N\u0001" once dumped, replaced by the value itself.
 * Only values that need no escaping are spliced (data: URLs never do). */
#define SPLICE_MIN 4096
struct splice {
    const char **values;
    size_t n, cap;
};

static bool splice_safe(const char *v, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (v[i] < 0x20 || v[i] > 0x7e || v[i] == '"' || v[i] == '\\')
            return false;
    return true;
}

/* A JSON string for `v`: a placeholder when `sp` takes it, else its text. */
static json_t *large_text(struct splice *sp, const char *v)
{
    size_t len = v ? strlen(v) : 0;
    if (!sp || len < SPLICE_MIN || !splice_safe(v, len))
        return json_text(v);
    if (sp->n == sp->cap) {
        sp->cap = sp->cap ? 2 * sp->cap : 4;
        sp->values = xrealloc_array(sp->values, sp->cap, sizeof *sp->values);
    }
    char placeholder[48];
    snprintf(placeholder, sizeof placeholder, "\x01linebot-splice-%zu\x01", sp->n);
    sp->values[sp->n++] = v;
    return json_string(placeholder);
}

/* A message's content: its text alone, or the text and its images as parts. */
static json_t *message_content(const struct llm_message *m, struct splice *sp)
{
    if (!m->n_images && !m->audio_url)
        return json_text(m->content);
    json_t *parts = json_array();
    if (!m->audio_url || (m->content && m->content[0])) {
        json_t *text = json_object();
        json_object_set_new(text, "type", json_string("text"));
        json_object_set_new(text, "text", json_text(m->content));
        json_array_append_new(parts, text);
    }
    if (m->audio_url) /* DashScope's shape for qwen3-asr-flash */
        json_array_append_new(parts, json_pack("{s:s,s:{s:o}}", "type", "input_audio", "input_audio", "data",
                                               large_text(sp, m->audio_url)));
    for (size_t i = 0; i < m->n_images; i++) {
        json_t *image = json_object();
        json_t *url = json_object();
        json_object_set_new(url, "url", large_text(sp, m->image_urls[i]));
        json_object_set_new(image, "type", json_string("image_url"));
        json_object_set_new(image, "image_url", url);
        json_array_append_new(parts, image);
    }
    return parts;
}

static char *request_dump(const struct completion_options *opt, const struct llm_message *msgs, size_t n,
                          struct splice *sp)
{
    json_t *root = json_object();
    json_t *arr = json_array();
    json_object_set_new(root, "model", json_text(opt ? opt->model : NULL));
    for (size_t i = 0; i < n; i++) {
        json_t *m = json_object();
        json_object_set_new(m, "role", json_text(msgs[i].role));
        json_object_set_new(m, "content", message_content(&msgs[i], sp));
        json_array_append_new(arr, m);
    }
    json_object_set_new(root, "messages", arr);
    if (opt && opt->max_tokens > 0)
        json_object_set_new(root, opt->max_completion_tokens ? "max_completion_tokens" : "max_tokens",
                            json_integer(opt->max_tokens));
    if (opt && opt->reasoning_effort)
        json_object_set_new(root, "reasoning_effort", json_text(opt->reasoning_effort));
    if (opt && opt->send_enable_thinking)
        json_object_set_new(root, "enable_thinking", json_boolean(opt->enable_thinking));
    char *out = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    return out;
}

struct splice_at {
    const char *at; /* the placeholder, quotes included, in the dump */
    size_t len, value;
};

static int splice_cmp(const void *a, const void *b)
{
    const char *x = ((const struct splice_at *)a)->at, *y = ((const struct splice_at *)b)->at;
    return (x > y) - (x < y);
}

/* The dump with each placeholder replaced by its value, or NULL when one of
 * them is not there exactly once (a user's text could hold one). */
static char *splice_values(const char *dump, const struct splice *sp)
{
    struct splice_at *at = xcalloc(sp->n, sizeof *at);
    size_t total = strlen(dump);
    for (size_t i = 0; i < sp->n; i++) {
        char token[64];
        int len = snprintf(token, sizeof token, "\"\\u0001linebot-splice-%zu\\u0001\"", i);
        const char *p = strstr(dump, token);
        if (!p || strstr(p + 1, token)) {
            free(at);
            return NULL;
        }
        at[i] = (struct splice_at){p, (size_t)len, i};
        total = total - (size_t)len + strlen(sp->values[i]) + 2;
    }
    qsort(at, sp->n, sizeof *at, splice_cmp);
    char *out = xmalloc(total + 1), *o = out;
    const char *from = dump;
    for (size_t i = 0; i < sp->n; i++) {
        size_t v = strlen(sp->values[at[i].value]);
        memcpy(o, from, (size_t)(at[i].at - from));
        o += at[i].at - from;
        *o++ = '"';
        memcpy(o, sp->values[at[i].value], v);
        o += v;
        *o++ = '"';
        from = at[i].at + at[i].len;
    }
    strcpy(o, from);
    free(at);
    return out;
}

char *completion_request_json(const struct completion_options *opt,
                              const struct llm_message *msgs, size_t n)
{
    struct splice sp = {0};
    char *out = request_dump(opt, msgs, n, &sp);
    if (sp.n) {
        char *spliced = splice_values(out, &sp);
        free(out);
        out = spliced ? spliced : request_dump(opt, msgs, n, NULL);
    }
    free(sp.values);
    return out;
}

/* ---- the dialect -------------------------------------------------------- */

enum completion_host completion_host_kind(const char *host)
{
    static const char openai[] = "api.openai.com";
    static const char aliyun[] = ".aliyuncs.com";
    static const char dashscope[] = "dashscope";
    if (!host)
        return COMPLETION_HOST_OTHER;
    size_t n = strlen(host);
    if (n > 0 && host[n - 1] == '.')
        n--; /* the fully qualified form names the same host */
    if (n == sizeof openai - 1 && strncasecmp(host, openai, n) == 0)
        return COMPLETION_HOST_OPENAI;
    size_t suffix = sizeof aliyun - 1;
    if (n >= sizeof dashscope - 1 + suffix && strncasecmp(host + n - suffix, aliyun, suffix) == 0 &&
        strncasecmp(host, dashscope, sizeof dashscope - 1) == 0)
        return COMPLETION_HOST_DASHSCOPE;
    return COMPLETION_HOST_OTHER;
}

bool completion_uses_max_completion_tokens(const struct completion_server *s)
{
    if (s->host == COMPLETION_HOST_OPENAI)
        return true;
    return s->openai_provider && s->host != COMPLETION_HOST_DASHSCOPE;
}

bool completion_sends_enable_thinking(const struct completion_server *s)
{
    if (s->host == COMPLETION_HOST_DASHSCOPE)
        return true;
    return s->dashscope_provider && s->host != COMPLETION_HOST_OPENAI;
}

/* `model` is `family` or one of its variants: "gpt-5", "gpt-5-mini",
 * "gpt-5.1", but not "gpt-50". */
static bool model_in_family(const char *model, const char *family)
{
    size_t n = strlen(family);
    return strncasecmp(model, family, n) == 0 && (model[n] == '\0' || model[n] == '-' || model[n] == '.');
}

/* A "-chat" part in the id: "gpt-5-chat-latest", "gpt-5.1-chat". */
static bool model_is_chat_variant(const char *model)
{
    for (const char *p = strchr(model, '-'); p; p = strchr(p + 1, '-'))
        if (strncasecmp(p, "-chat", 5) == 0 && (p[5] == '\0' || p[5] == '-'))
            return true;
    return false;
}

bool completion_takes_reasoning_effort(const char *model)
{
    static const char *const reasoning[] = {"o1", "o3", "o4", "gpt-5"};
    /* The first o1 models came before the parameter and answer 400 to it. */
    static const char *const refuse[] = {"o1-mini", "o1-preview"};
    if (!model || model_is_chat_variant(model))
        return false;
    for (size_t i = 0; i < sizeof refuse / sizeof refuse[0]; i++)
        if (model_in_family(model, refuse[i]))
            return false;
    for (size_t i = 0; i < sizeof reasoning / sizeof reasoning[0]; i++)
        if (model_in_family(model, reasoning[i]))
            return true;
    return false;
}

/* ---- which setting a refused parameter comes from ---------------------- */

/* Every parameter a setting changes, and what to tell the operator. A
 * parameter the bot never sends (temperature, top_p, ...) has no row: no
 * setting would change it. */
static const struct {
    const char *param;
    const char *hint;
} param_hints[] = {
    {"max_completion_tokens", "LINEBOT_MAX_TOKENS sets max_completion_tokens: change it, or set 0 to stop sending it"},
    {"max_tokens", "LINEBOT_MAX_TOKENS sets max_tokens: change it, or set 0 to stop sending it"},
    {"reasoning_effort", "set LINEBOT_REASONING_EFFORT=none to stop sending reasoning_effort, or pick another effort"},
    {"enable_thinking", "LINEBOT_THINKING sets enable_thinking, which DashScope hosts get"},
    {"model", "LLM_MODEL sets model"},
    {"messages", "LINEBOT_HISTORY_TURNS, LINEBOT_HISTORY_CHARS and LLM_SYSTEM_PROMPT shape messages"},
};
#define PARAM_HINTS (sizeof param_hints / sizeof param_hints[0])

static bool is_ident(char c)
{
    return isalnum((unsigned char)c) || c == '_';
}

static bool is_quote(char c)
{
    return c == '\'' || c == '"' || c == '`';
}

/* The row of a "param" value: "messages[1].content" is "messages". */
static const char *hint_of_param(const char *param)
{
    size_t n = strcspn(param, ".[");
    for (size_t i = 0; i < PARAM_HINTS; i++)
        if (strlen(param_hints[i].param) == n && strncmp(param, param_hints[i].param, n) == 0)
            return param_hints[i].hint;
    return NULL;
}

/* The row of the first parameter `message` names: a whole word, after a
 * quote unless it has an underscore (plain words such as "model" appear in
 * every message). */
static const char *hint_in_message(const char *message)
{
    for (const char *p = message; *p; p++) {
        if (p > message && is_ident(p[-1]))
            continue;
        for (size_t i = 0; i < PARAM_HINTS; i++) {
            const char *name = param_hints[i].param;
            size_t n = strlen(name);
            if (strncmp(p, name, n) != 0 || is_ident(p[n]))
                continue;
            if (strchr(name, '_') || (p > message && is_quote(p[-1])))
                return param_hints[i].hint;
        }
    }
    return NULL;
}

const char *completion_error_hint(const char *body, size_t len)
{
    json_t *root = body && len ? json_loadb(body, len, 0, NULL) : NULL;
    if (!json_is_object(root)) {
        json_decref(root);
        return NULL;
    }
    /* {"error":{"message","param"}} (OpenAI, DashScope, Ollama), {"error":
     * "..."}, or the fields at the top (vLLM's older {"object":"error"}). */
    json_t *error = json_object_get(root, "error");
    json_t *holder = json_is_object(error) ? error : root;
    json_t *param = json_object_get(holder, "param");
    json_t *message = json_is_string(error) ? error : json_object_get(holder, "message");
    const char *hint = NULL;
    if (json_is_string(param))
        hint = hint_of_param(json_string_value(param));
    else if (json_is_string(message))
        hint = hint_in_message(json_string_value(message));
    json_decref(root);
    return hint;
}

/* ---- <think> removal ---------------------------------------------------- */

static const char THINK_OPEN[] = "<think>";
static const char THINK_CLOSE[] = "</think>";

/* Removes <think>...</think> blocks whole, nested or not, by counting depth:
 * text is kept only outside every block. An opening tag that is never closed
 * removes everything after it (a model cut off by max_tokens while thinking,
 * or a block that hides a closing tag we cannot see: either way what follows
 * is not known to be the answer). A closing tag outside any block means the
 * server's chat template already emitted "<think>" in the prompt, so all the
 * text before it was thinking and is dropped too. Thoughts are never worth
 * the risk of showing them, so a literal tag in an answer loses text rather
 * than let a thought through. */
char *completion_strip_think(const char *text)
{
    if (!text)
        return NULL;
    const size_t open_len = sizeof(THINK_OPEN) - 1;
    const size_t close_len = sizeof(THINK_CLOSE) - 1;
    char *out = xmalloc(strlen(text) + 1);
    size_t o = 0;
    size_t depth = 0;
    for (const char *p = text; *p;) {
        if (strncmp(p, THINK_OPEN, open_len) == 0) {
            depth++;
            p += open_len;
        } else if (strncmp(p, THINK_CLOSE, close_len) == 0) {
            if (depth > 0)
                depth--;
            else
                o = 0; /* everything so far was inside the template's block */
            p += close_len;
        } else {
            if (depth == 0)
                out[o++] = *p;
            p++;
        }
    }
    out[o] = '\0';
    return out;
}

/* ---- response parsing --------------------------------------------------- */

static void set_err(char *err, size_t errlen, const char *msg)
{
    if (err && errlen)
        snprintf(err, errlen, "%s", msg);
}

/* Cuts `s` to at most `max` bytes, never inside a character nor a run of
 * credential characters (redact_cut): a provider that echoes the API key in
 * its message ("Incorrect API key provided: ...") must not leave a piece of
 * it, which the log's masking (whole secrets) could not recognize. */
static void cut_text(char *s, size_t max)
{
    s[redact_cut(s, strlen(s), max)] = '\0';
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

    /* One byte more than kept, so cut_text sees where a cut falls. */
    char kind_s[66] = "";
    char msg_s[PROVIDER_MESSAGE_MAX + 2] = "";
    if (kind) {
        snprintf(kind_s, sizeof(kind_s), "%s", kind);
        cut_text(kind_s, 64);
    }
    if (message) {
        snprintf(msg_s, sizeof(msg_s), "%s", message);
        cut_text(msg_s, PROVIDER_MESSAGE_MAX);
    }
    if (!err || !errlen)
        return;
    char full[sizeof("provider error: : ") + sizeof(kind_s) + sizeof(msg_s)];
    if (kind && message)
        snprintf(full, sizeof(full), "provider error: %s: %s", kind_s, msg_s);
    else if (kind || message)
        snprintf(full, sizeof(full), "provider error: %s%s", kind_s, msg_s);
    else
        snprintf(full, sizeof(full), "provider error");
    /* The caller's buffer may be shorter: cut there the same careful way. */
    cut_text(full, errlen - 1);
    snprintf(err, errlen, "%s", full);
}

/* The {"type":"text","text":...} part's text (or a bare string part's), else NULL. */
static const char *part_text(json_t *part)
{
    if (json_is_string(part))
        return json_string_value(part);
    json_t *type = json_object_get(part, "type");
    json_t *text = json_object_get(part, "text");
    if ((!type || (json_is_string(type) && strcmp(json_string_value(type), "text") == 0)) &&
        json_is_string(text))
        return json_string_value(text);
    return NULL;
}

/* The text of message.content: a string, or an array of parts of which the
 * text ones are concatenated. Returns a malloc'd string, or NULL when there
 * is no text. `body_len` caps the sum: decoded JSON strings are never longer
 * than the body they were read from, so the cap only states that bound. */
static char *content_text(json_t *content, size_t body_len)
{
    if (json_is_string(content))
        return xstrdup(json_string_value(content));
    if (!json_is_array(content))
        return NULL;
    struct buf out;
    buf_init(&out, body_len);
    size_t i;
    json_t *part;
    json_array_foreach(content, i, part) {
        const char *s = part_text(part);
        if (s && buf_adds(&out, s) != 0)
            break;
    }
    return buf_take(&out, NULL);
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

/* A count in "usage", or -1 when it is absent or not a count. */
static int64_t usage_count(json_t *usage, const char *name)
{
    json_t *v = json_is_object(usage) ? json_object_get(usage, name) : NULL;
    return json_is_integer(v) && json_integer_value(v) >= 0 ? (int64_t)json_integer_value(v) : -1;
}

/* The model and usage of a parsed response (`root` may be anything). */
static void meta_from_root(json_t *root, struct completion_meta *meta)
{
    *meta = (struct completion_meta){.prompt_tokens = -1, .completion_tokens = -1, .total_tokens = -1};
    if (!json_is_object(root))
        return;
    json_t *model = json_object_get(root, "model");
    if (json_is_string(model) && json_string_length(model) > 0 && json_string_length(model) <= 200)
        meta->model = xstrdup(json_string_value(model));
    json_t *usage = json_object_get(root, "usage");
    meta->prompt_tokens = usage_count(usage, "prompt_tokens");
    meta->completion_tokens = usage_count(usage, "completion_tokens");
    meta->total_tokens = usage_count(usage, "total_tokens");
}

void completion_parse_meta(const char *body, size_t len, struct completion_meta *meta)
{
    json_t *root = body && len ? json_loadb(body, len, 0, NULL) : NULL;
    meta_from_root(root, meta);
    json_decref(root);
}

int completion_parse_response(const char *body, size_t len, char **answer, char *err, size_t errlen)
{
    return completion_parse_answer(body, len, answer, NULL, err, errlen);
}

int completion_parse_answer(const char *body, size_t len, char **answer, struct completion_meta *meta, char *err,
                            size_t errlen)
{
    *answer = NULL;
    if (meta)
        meta_from_root(NULL, meta);
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

    text = content_text(json_object_get(message, "content"), len);
    char *clean = text ? completion_strip_think(text) : NULL;
    char *t = clean ? trim(clean) : NULL;
    if (!t || !*t) {
        if (finish_reason && strcmp(finish_reason, "length") == 0)
            set_err(err, errlen,
                    "empty answer, cut at the token limit (finish_reason length): raise LINEBOT_MAX_TOKENS");
        else
            set_err(err, errlen, "empty answer");
        free(clean);
        goto done;
    }
    *answer = xstrdup(t);
    free(clean);
    if (meta)
        meta_from_root(root, meta);
    rc = 0;
done:
    free(text);
    json_decref(root);
    return rc;
}

bool completion_status_retryable(long status)
{
    return status == 408 || status == 409 || status == 429 || (status >= 500 && status <= 599);
}
