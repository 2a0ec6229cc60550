/* completion.h - the OpenAI-compatible chat-completions wire format.
 *
 * Pure: builds the request body, reads the answer out of a response, and
 * cleans what users must not see (<think> blocks, reasoning_content). */
#ifndef LINEBOT_COMPLETION_H
#define LINEBOT_COMPLETION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct llm_message {
    const char *role;     /* "system", "user", "assistant" */
    const char *content;
};

struct completion_options {
    const char *model;
    int max_tokens;            /* 0 = not sent */
    bool send_enable_thinking; /* DashScope: send "enable_thinking" */
    bool enable_thinking;      /* its value */
};

/* Returns a malloc'd JSON body: {"model":..., "messages":[...], ...}. Text
 * that is not valid UTF-8 is sent with each bad byte replaced by U+FFFD. */
char *completion_request_json(const struct completion_options *opt,
                              const struct llm_message *msgs, size_t n);

/* Reads choices[0].message.content from a 200 response body, strips
 * <think> blocks (see completion_strip_think) and surrounding whitespace; reasoning_content is never used. Returns 0 with *answer malloc'd
 * (non-empty), or -1 with a short reason in `err` (no body content). */
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
