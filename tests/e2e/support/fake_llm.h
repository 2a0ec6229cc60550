/* fake_llm.h - a fake OpenAI-compatible chat completions server.
 *
 * POST /v1/chat/completions (base URL "http://127.0.0.1:<port>/v1"), and
 * GET /v1/models once a test gives it a list (else 404, as for a provider
 * without one). It checks
 * what OpenAI checks that matters here (Bearer key, JSON with "model" and a
 * non-empty "messages" array), records every request, and answers:
 *   0. the answer for its system prompt, when one was set
 *      (fake_llm_answer_system), else
 *   1. the next scripted response, if any were queued (status, raw body,
 *      extra headers, delay), else
 *   2. the "always" response, if set (e.g. always 500), else
 *   3. a completion whose content is the fixed answer, if set, else
 *      "echo: <content of the last user message>".
 * A delay holds only its own connection (one thread per connection), so a slow
 * answer never blocks another request. Thread-safe; wait helpers use a
 * condition variable. */
#ifndef E2E_FAKE_LLM_H
#define E2E_FAKE_LLM_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct fake_llm;

/* Starts the fake; `api_key` is the key it accepts as "Bearer <api_key>". */
struct fake_llm *fake_llm_start(const char *api_key);
void fake_llm_stop(struct fake_llm *f);
const char *fake_llm_base_url(const struct fake_llm *f); /* ".../v1" */

/* Queues one raw response. `headers` is NULL or "Name: value" lines separated
 * by '\n'. `body` is sent as is (may be invalid JSON on purpose). */
void fake_llm_push(struct fake_llm *f, int status, const char *body, const char *headers,
                   int delay_ms);
/* Queues one 200 completion whose message content is `content`. */
void fake_llm_push_answer(struct fake_llm *f, const char *content, int delay_ms);
/* Answer every unscripted request with `content` (NULL: back to echo). */
void fake_llm_set_fixed_answer(struct fake_llm *f, const char *content);
/* Answer every unscripted request with this status and body (status 0: back
 * to normal). */
void fake_llm_set_always(struct fake_llm *f, int status, const char *body);
/* Delay every unscripted answer by `delay_ms`. */
void fake_llm_set_delay(struct fake_llm *f, int delay_ms);

/* GET /v1/models answers these ids (NULL-terminated; Bearer key checked);
 * NULL: 404 again. */
void fake_llm_set_models(struct fake_llm *f, const char *const *ids);

/* Answer every request whose system prompt (its first message, role
 * "system") contains `needle` with a 200 completion of `content`, before any
 * scripted or fixed answer (e.g. the bot's background extraction calls),
 * after `delay_ms`; content NULL turns the rule off. Setting a needle again
 * replaces it. */
void fake_llm_answer_system(struct fake_llm *f, const char *needle, const char *content, int delay_ms);
/* How many requests so far had `needle` in their system prompt. */
size_t fake_llm_count_system(struct fake_llm *f, const char *needle);

/* A 200 chat.completion body with `content` (malloc'd). */
char *fake_llm_completion_body(const char *content);

size_t fake_llm_request_count(struct fake_llm *f);
bool fake_llm_wait_requests(struct fake_llm *f, size_t n, int timeout_ms);

/* Request `i` parsed as JSON (new reference; NULL when out of range or not JSON). */
json_t *fake_llm_request_json(struct fake_llm *f, size_t i);
/* Its method and path, "GET /v1/models" (malloc'd, NULL when out of range). */
char *fake_llm_request_line(struct fake_llm *f, size_t i);
/* Its Authorization header (malloc'd, NULL when none or out of range). */
char *fake_llm_request_auth(struct fake_llm *f, size_t i);
/* When request i arrived (e2e_mono_ms()), -1 when out of range. */
int64_t fake_llm_request_time(struct fake_llm *f, size_t i);
/* Number of entries in its "messages" array. */
size_t fake_llm_request_message_count(struct fake_llm *f, size_t i);
/* Role / content of messages[j] of request i (malloc'd; NULL when absent).
 * Array contents are flattened to their text parts. */
char *fake_llm_request_role(struct fake_llm *f, size_t i, size_t j);
char *fake_llm_request_content(struct fake_llm *f, size_t i, size_t j);
/* Content of the last message with role "user" of request i (malloc'd). */
char *fake_llm_request_last_user(struct fake_llm *f, size_t i);
/* Every message of request i as "role: content" lines (malloc'd), for
 * substring checks and failure messages. */
char *fake_llm_request_transcript(struct fake_llm *f, size_t i);

/* The images of the last user message of request i: its image_url parts,
 * each a data: URL, decoded here (a base64 decoder of the fake's own, so
 * the bot's encoder is not its own oracle). Returns how many parts there
 * were (max at most are filled); a part that is no well-formed
 * "data:<type>;base64,<data>" URL gets mime "" and no bytes. */
struct fake_llm_image {
    char mime[64];
    unsigned char *data; /* malloc'd */
    size_t len;
};
size_t fake_llm_request_images(struct fake_llm *f, size_t i, struct fake_llm_image *out, size_t max);
void fake_llm_images_free(struct fake_llm_image *images, size_t n);

void fake_llm_dump(struct fake_llm *f);

/* ---- voice (issue 13) ----
 * POST /v1/audio/transcriptions (OpenAI's multipart shape): the fake parses
 * the multipart body itself, answers 400 as OpenAI does for a `file` whose
 * name does not end in a known extension (.m4a here) or a missing `model`,
 * else the scripted answer (fake_llm_push_transcription) or
 * {"text": <transcript>, "usage": {"type":"tokens","input_tokens":40,
 * "output_tokens":8,"total_tokens":48}}. These calls are counted apart
 * from chat completions (fake_llm_request_count does not see them). */
void fake_llm_set_audio(struct fake_llm *f, const void *recording, size_t len, const char *transcript);
/* The next transcription request answers `status` with `body` as is. */
void fake_llm_push_transcription(struct fake_llm *f, int status, const char *body);
struct fake_llm_transcription {
    char model[64];    /* the `model` field */
    char filename[64]; /* the `file` part's filename */
    char type[64];     /* the `file` part's Content-Type */
    bool same_bytes;   /* the `file` part's bytes equal the recording set above */
    bool bearer;       /* the request carried the fake's key */
};
/* How many transcription requests came; the first `max` are filled in. */
size_t fake_llm_transcriptions(struct fake_llm *f, struct fake_llm_transcription *out, size_t max);
/* Chat request i's input_audio part: 1 when it is a "data:audio/mp4;
 * base64," URL whose bytes (decoded here) equal the recording, 0 when it
 * differs, -1 when the request has none. */
int fake_llm_request_audio(struct fake_llm *f, size_t i);

#endif
