/* llm.h - calls an OpenAI-compatible POST {base}/chat/completions.
 *
 * Connect timeout 5 s, LLM_TIMEOUT_S per attempt, at most two retries on
 * 408/409/429/5xx and transport errors with backoff that honours retry-after-ms
 * and retry-after, and every attempt ends before the caller's deadline. The key
 * is sent as a Bearer token and never logged. */
#ifndef LINEBOT_LLM_H
#define LINEBOT_LLM_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "core/completion.h"
#include "io/http_client.h"

struct llm_client {
    const struct config *cfg;
    struct http_client *http;
    const atomic_int *cancel; /* may be NULL: abort (shutdown) */
};

enum llm_result {
    LLM_OK = 0,
    LLM_FAILED,     /* the model could not answer: error status, garbage, timeouts */
    LLM_CANCELLED,  /* `cancel` was set */
};

/* A model's answer and what the response said about it. */
struct llm_answer {
    char *text;              /* cleaned of <think>; malloc'd */
    char *model;             /* the model that answered (the response's "model", else the
                                one asked for); malloc'd */
    int64_t prompt_tokens;   /* OpenAI "usage"; -1 each when the response had none */
    int64_t completion_tokens;
    int64_t total_tokens;
    long status;             /* on LLM_FAILED: the last attempt's HTTP status (0: none came) */
};
void llm_answer_free(struct llm_answer *a);

/* `deadline_ms` is on clock_monotonic_ms(). On LLM_OK `*answer` is filled.
 * Nothing is logged here: on failure `err` says why, naming every attempt
 * ("attempt 1/3: status 503; attempt 2/3: ..."), without secrets, and the
 * caller logs it once. */
enum llm_result llm_complete(struct llm_client *llm, const struct llm_message *msgs, size_t n,
                             int64_t deadline_ms, struct llm_answer *answer, char *err, size_t errlen);

/* Where a request goes: one model of the catalogue (core/models.h). The
 * strings are borrowed for the call. */
struct llm_target {
    enum llm_provider provider;
    const char *base_url;
    const char *api_key;   /* "" or NULL: no Authorization header */
    const char *model;     /* the provider's model id */
};

/* llm_complete to `target` instead of the LLM_* settings: the same attempts,
 * timeouts and retries, decided for that model on its own (each call keeps
 * its own attempt count and back-off; the connections to each model's host
 * stay warm side by side in the client). */
enum llm_result llm_complete_to(struct llm_client *llm, const struct llm_target *target,
                                const struct llm_message *msgs, size_t n, int64_t deadline_ms,
                                struct llm_answer *answer, char *err, size_t errlen);

/* GET {base}/models, one attempt within `timeout_ms`: the ids the provider
 * lists ({"data":[{"id":...}]}, as OpenAI, DashScope's compatible mode,
 * Ollama and vLLM answer). LLM_OK fills `out` (call llm_models_free). On
 * LLM_FAILED `err` says why (the status and the provider's message; never the
 * key) and `status` (may be NULL) holds the HTTP status, 0 when none came: a
 * 404 means the provider has no list. For `linebot doctor`. */
struct llm_models {
    char **ids;
    size_t n;
};
enum llm_result llm_list_models(struct llm_client *llm, long timeout_ms, struct llm_models *out, long *status,
                                char *err, size_t errlen);
/* The same at `target`'s base URL, with its key (`target->model` is not
 * used): a catalogue model's endpoint. */
enum llm_result llm_list_models_at(struct llm_client *llm, const struct llm_target *target, long timeout_ms,
                                   struct llm_models *out, long *status, char *err, size_t errlen);
void llm_models_free(struct llm_models *m);

#endif
