/* completion.h - the OpenAI-compatible chat-completions wire format.
 *
 * Pure: builds the request body, decides which parameters a server and model
 * take (the dialect), reads the answer out of a response, cleans what users
 * must not see (<think> blocks, reasoning_content), and names the setting
 * behind a parameter a provider refuses. */
#ifndef LINEBOT_COMPLETION_H
#define LINEBOT_COMPLETION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct llm_message {
    const char *role;     /* "system", "user", "assistant" */
    const char *content;
    /* Images for a vision model (issue 13): data: URLs ("data:image/png;
     * base64,..."). With any, the content is sent as parts: the text, then
     * one {"type":"image_url","image_url":{"url":...}} per image. */
    const char *const *image_urls;
    size_t n_images;
    /* A recording for a model called with "audio_via": "chat" (issue 13): a
     * data: URL ("data:audio/mp4;base64,..."), sent as the part
     * {"type":"input_audio","input_audio":{"data":...}}, after the text
     * when the content is not empty. NULL: none. */
    const char *audio_url;
};

/* A data: URL of `len` bytes of type `mime`, base64 (malloc'd). */
char *completion_data_url(const char *mime, const void *data, size_t len);

struct completion_options {
    const char *model;
    int max_tokens;               /* 0 = not sent */
    bool max_completion_tokens;   /* send it as "max_completion_tokens" (OpenAI), not "max_tokens" */
    const char *reasoning_effort; /* "reasoning_effort"; NULL = not sent */
    bool send_enable_thinking;    /* DashScope: send "enable_thinking" */
    bool enable_thinking;         /* its value */
};

/* Returns a malloc'd JSON body: {"model":..., "messages":[...], ...}. Text
 * that is not valid UTF-8 is sent with each bad byte replaced by U+FFFD. */
char *completion_request_json(const struct completion_options *opt,
                              const struct llm_message *msgs, size_t n);

/* ---- the dialect: which parameters a server and a model take ----------- */

/* What a base URL's host name (as curl_url() gives it, no port) says about
 * the server: api.openai.com, a DashScope host (a *.aliyuncs.com name that
 * starts with "dashscope": dashscope, dashscope-intl, dashscope-us, ...), or
 * anything else. Case and one trailing dot do not matter; NULL is OTHER. */
enum completion_host {
    COMPLETION_HOST_OTHER,
    COMPLETION_HOST_OPENAI,
    COMPLETION_HOST_DASHSCOPE,
};
enum completion_host completion_host_kind(const char *host);

/* The server a request goes to: what LLM_PROVIDER says, and its host. */
struct completion_server {
    bool openai_provider;    /* LLM_PROVIDER=openai */
    bool dashscope_provider; /* LLM_PROVIDER=dashscope, dashscope-cn or dashscope-us */
    enum completion_host host;
};

/* OpenAI's own API takes the budget only as "max_completion_tokens" from its
 * reasoning models, and as either from the others: true for api.openai.com
 * whatever the provider says, and for LLM_PROVIDER=openai unless the host is
 * DashScope's (the blog posts' way to reach Qwen), which keeps "max_tokens". */
bool completion_uses_max_completion_tokens(const struct completion_server *s);

/* DashScope's "enable_thinking": sent to every DashScope host whatever the
 * provider says, and for a dashscope provider (a proxy in front of it),
 * never to api.openai.com. */
bool completion_sends_enable_thinking(const struct completion_server *s);

/* Whether `model` takes "reasoning_effort": OpenAI's reasoning models, ids
 * o1, o3, o4 and gpt-5 and their dated or sized variants (o3-mini,
 * gpt-5-nano, gpt-5.1, ...), but not o1-mini and o1-preview, which refuse
 * it, nor a "-chat" variant (gpt-5-chat-latest), which does not reason.
 * NULL is false. */
bool completion_takes_reasoning_effort(const char *model);

/* The setting behind a parameter that a 400 response body refuses, as a
 * short hint for the log ("set LINEBOT_REASONING_EFFORT=none to stop sending
 * reasoning_effort"), or NULL when the error names none that a setting
 * changes. The parameter is the error's "param" (OpenAI), else the first one
 * the message names: quoted ('max_tokens', "model", `messages`), or bare
 * when the name has an underscore (DashScope writes
 * "parameter.enable_thinking must be ..."). Static string. */
const char *completion_error_hint(const char *body, size_t len);

/* Reads choices[0].message.content from a 200 response body, strips
 * <think> blocks (see completion_strip_think) and surrounding whitespace; reasoning_content is never used. Returns 0 with *answer malloc'd
 * (non-empty), or -1 with a short reason in `err` (no body content). An
 * empty answer cut at the limit (finish_reason "length", which a reasoning
 * model reaches while thinking) names LINEBOT_MAX_TOKENS as the setting to
 * raise. */
int completion_parse_response(const char *body, size_t len, char **answer, char *err, size_t errlen);

/* Removes <think>...</think> blocks whole, nested or not; an unclosed
 * <think> removes everything after it, and a </think> outside any block
 * removes everything before it (the chat template opened that block).
 * Returns a malloc'd copy (NULL only for NULL). */
char *completion_strip_think(const char *text);

/* What a 200 response says about itself, beside the answer: the model that
 * answered ("model", NULL when absent; malloc'd) and OpenAI's "usage" token
 * counts (-1 each when absent). Never fails: an odd body gives nothing. */
struct completion_meta {
    char *model;
    int64_t prompt_tokens;
    int64_t completion_tokens;
    int64_t total_tokens;
};
void completion_parse_meta(const char *body, size_t len, struct completion_meta *meta);

/* completion_parse_response and completion_parse_meta in one parse: on
 * success `meta` (may be NULL) gets the model and usage; on failure it is
 * left empty (model NULL, counts -1). */
int completion_parse_answer(const char *body, size_t len, char **answer, struct completion_meta *meta, char *err,
                            size_t errlen);

/* True for statuses worth retrying: 408, 409, 429, 5xx. */
bool completion_status_retryable(long status);

#endif
