/* transcribe.c - a voice message to text (see transcribe.h).
 *
 * The multipart call tries at most twice: a retryable status (408, 409, 429,
 * 5xx) or a transport error earns one more attempt when the deadline leaves
 * room, as a second model call would; any other 4xx is the service refusing
 * the recording, and asking again would not change its mind. The chat shape
 * goes through llm_complete_to, with its own attempts and back-off. */
#include "io/transcribe.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/completion.h"
#include "core/redact.h"
#include "io/clock.h"

#define TRANSCRIBE_ATTEMPTS 2
#define TRANSCRIBE_MIN_ATTEMPT_MS 1000
#define TRANSCRIBE_CONNECT_MS 5000L
#define TRANSCRIBE_BACKOFF_MS 1000
#define TRANSCRIBE_RESPONSE_BYTES ((size_t)1024 * 1024)
#define TRANSCRIBE_DEFAULT_TIMEOUT_S 30

const char *transcribe_result_name(enum transcribe_result r)
{
    switch (r) {
    case TRANSCRIBE_OK: return "ok";
    case TRANSCRIBE_EMPTY: return "empty";
    case TRANSCRIBE_REFUSED: return "refused";
    case TRANSCRIBE_FAILED: return "failed";
    case TRANSCRIBE_CANCELLED: return "cancelled";
    }
    return "unknown";
}

static bool refusal(long status)
{
    return status >= 400 && status < 500 && !completion_status_retryable(status);
}

/* "status N (provider error: ...)", the provider's message cut where no
 * piece of a credential it echoed is left. */
static void status_reason(const struct http_response *resp, char *err, size_t errlen)
{
    char perr[160] = "";
    char *ignored = NULL;
    if (completion_parse_response(resp->body, resp->body_len, &ignored, perr, sizeof perr) == 0 ||
        strncmp(perr, "provider error", 14) != 0)
        perr[0] = '\0';
    free(ignored);
    perr[redact_cut(perr, strlen(perr), sizeof perr - 1)] = '\0';
    snprintf(err, errlen, "status %ld%s%s%s", resp->status, perr[0] ? " (" : "", perr, perr[0] ? ")" : "");
}

/* OpenAI's POST {base}/audio/transcriptions. */
static enum transcribe_result via_transcriptions(struct llm_client *llm, const struct model_entry *model,
                                                 const void *data, size_t len, int64_t deadline_ms,
                                                 struct voice_transcript *out, char *err, size_t errlen)
{
    size_t bl = strlen(model->base_url ? model->base_url : "");
    while (bl > 0 && model->base_url[bl - 1] == '/')
        bl--;
    char *url = xasprintf("%.*s/audio/transcriptions", (int)bl, model->base_url ? model->base_url : "");
    char *auth = model->api_key && model->api_key[0] ? xasprintf("Authorization: Bearer %s", model->api_key) : NULL;
    const char *headers[] = {auth, NULL};
    const struct http_form_part form[] = {
        {.name = "file", .data = data, .len = len, .filename = "voice.m4a", .type = "audio/mp4"},
        {.name = "model", .data = model->model, .len = strlen(model->model)},
        {.name = "response_format", .data = "json", .len = 4},
    };
    int64_t per_attempt = (int64_t)(llm->cfg->llm_timeout_s > 0 ? llm->cfg->llm_timeout_s
                                                                : TRANSCRIBE_DEFAULT_TIMEOUT_S) * 1000;
    enum transcribe_result result = TRANSCRIBE_FAILED;
    snprintf(err, errlen, "deadline reached before the first attempt");
    for (int attempt = 1; attempt <= TRANSCRIBE_ATTEMPTS; attempt++) {
        int64_t left = deadline_ms - clock_monotonic_ms();
        if (left < TRANSCRIBE_MIN_ATTEMPT_MS)
            break;
        long timeout = (long)(per_attempt < left ? per_attempt : left);
        struct http_request req = {
            .method = "POST",
            .url = url,
            .headers = auth ? headers : NULL,
            .form = form,
            .n_form = sizeof form / sizeof form[0],
            .connect_timeout_ms = TRANSCRIBE_CONNECT_MS < timeout ? TRANSCRIBE_CONNECT_MS : timeout,
            .timeout_ms = timeout,
            .cancel = llm->cancel,
            .max_response_bytes = TRANSCRIBE_RESPONSE_BYTES,
        };
        struct http_response resp;
        int rc = http_client_do(llm->http, &req, &resp);
        bool again = false;
        if (rc != 0 && resp.cancelled) {
            snprintf(err, errlen, "cancelled");
            result = TRANSCRIBE_CANCELLED;
        } else if (rc != 0) {
            snprintf(err, errlen, "attempt %d: %s", attempt, resp.error);
            again = true;
        } else if (resp.status == 200) {
            int parsed = voice_parse_transcription(resp.body, resp.body_len, out, err, errlen);
            result = parsed == 0 ? TRANSCRIBE_OK : parsed > 0 ? TRANSCRIBE_EMPTY : TRANSCRIBE_FAILED;
        } else {
            status_reason(&resp, err, errlen);
            result = refusal(resp.status) ? TRANSCRIBE_REFUSED : TRANSCRIBE_FAILED;
            again = result == TRANSCRIBE_FAILED && completion_status_retryable(resp.status);
        }
        http_response_free(&resp);
        if (!again || attempt == TRANSCRIBE_ATTEMPTS ||
            clock_monotonic_ms() + TRANSCRIBE_BACKOFF_MS + TRANSCRIBE_MIN_ATTEMPT_MS > deadline_ms)
            break;
        clock_sleep_ms(TRANSCRIBE_BACKOFF_MS);
        if (llm->cancel && atomic_load(llm->cancel)) {
            result = TRANSCRIBE_CANCELLED;
            break;
        }
    }
    if (auth) {
        memset(auth, 0, strlen(auth)); /* the key should not linger on the heap */
        free(auth);
    }
    free(url);
    return result;
}

/* chat/completions with an input_audio part (DashScope's qwen3-asr-flash). */
static enum transcribe_result via_chat(struct llm_client *llm, const struct model_entry *model, const void *data,
                                       size_t len, int64_t deadline_ms, struct voice_transcript *out, char *err,
                                       size_t errlen)
{
    char *audio = completion_data_url("audio/mp4", data, len);
    struct llm_message msg = {.role = "user", .content = "", .audio_url = audio};
    struct llm_target target = {.provider = model->provider, .base_url = model->base_url,
                                .api_key = model->api_key, .model = model->model};
    struct llm_answer a;
    enum llm_result lr = llm_complete_to(llm, &target, &msg, 1, deadline_ms, &a, err, errlen);
    free(audio);
    enum transcribe_result result;
    if (lr == LLM_CANCELLED) {
        result = TRANSCRIBE_CANCELLED;
    } else if (lr != LLM_OK) {
        result = refusal(a.status) ? TRANSCRIBE_REFUSED : TRANSCRIBE_FAILED;
    } else {
        out->text = voice_clean_text(a.text);
        out->prompt_tokens = a.prompt_tokens;
        out->completion_tokens = a.completion_tokens;
        result = out->text[0] ? TRANSCRIBE_OK : TRANSCRIBE_EMPTY;
        if (result == TRANSCRIBE_EMPTY)
            snprintf(err, errlen, "the transcript is empty");
    }
    llm_answer_free(&a);
    return result;
}

enum transcribe_result transcribe_audio(struct llm_client *llm, const struct model_entry *model, const void *data,
                                        size_t len, int64_t deadline_ms, struct voice_transcript *out, char *err,
                                        size_t errlen)
{
    *out = (struct voice_transcript){.prompt_tokens = -1, .completion_tokens = -1, .seconds = -1};
    if (model->audio_via && strcmp(model->audio_via, "chat") == 0)
        return via_chat(llm, model, data, len, deadline_ms, out, err, errlen);
    return via_transcriptions(llm, model, data, len, deadline_ms, out, err, errlen);
}
