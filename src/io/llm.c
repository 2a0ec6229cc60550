/* llm.c - calls an OpenAI-compatible POST {base}/chat/completions.
 *
 * The wire format lives in core/completion.c; this file only moves bytes and
 * decides when to try again. At most 3 attempts: a retryable status (408,
 * 409, 429, 5xx) or a transport error earns another try, any other 4xx or an
 * unreadable 200 ends the call at once (a broken answer is unlikely to mend
 * itself, and each attempt costs the user seconds). Every attempt ends before
 * the caller's deadline: its timeout is min(LLM_TIMEOUT_S, time left), none
 * starts with less than a second left, and a back-off that would end past the
 * deadline gives up instead of sleeping. The API key only ever travels in the
 * Authorization header. Errors are values: nothing here logs a failure; the
 * reasons of all attempts go into the caller's `err` (statuses and provider
 * messages, never the key or the conversation), and the worker logs them once.
 *
 * Which parameters a request carries (max_tokens or max_completion_tokens,
 * reasoning_effort, enable_thinking) is core/completion.c's decision, from
 * LLM_PROVIDER, the base URL's host (read with curl_url()) and the model. A
 * 400 that names a parameter gets the setting behind it appended. */
#include "io/llm.h"

#include <curl/curl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/alloc.h"
#include "core/redact.h"
#include "io/clock.h"
#include "obs/log.h"
#include "obs/metrics.h"

#define LLM_MAX_ATTEMPTS 3
#define LLM_CONNECT_TIMEOUT_MS 5000L
#define LLM_MIN_ATTEMPT_MS 1000   /* no attempt starts with less time than this */
#define LLM_DEFAULT_TIMEOUT_S 30
#define LLM_MAX_RESPONSE_BYTES ((size_t)4 * 1024 * 1024)

static const int64_t backoff_ms[LLM_MAX_ATTEMPTS - 1] = {1000, 2000};

static bool is_dashscope(enum llm_provider p)
{
    return p == LLM_PROVIDER_DASHSCOPE || p == LLM_PROVIDER_DASHSCOPE_CN ||
           p == LLM_PROVIDER_DASHSCOPE_US;
}

/* The host name in `url` as curl reads it (without the port), malloc'd;
 * NULL when there is none. */
static char *url_host(const char *url)
{
    CURLU *u = curl_url();
    if (!u)
        alloc_fail("curl_url", 0);
    char *host = NULL;
    char *part = NULL;
    if (url && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_HOST, &part, 0) == CURLUE_OK && part) {
        host = xstrdup(part);
        curl_free(part);
    }
    curl_url_cleanup(u);
    return host;
}

/* The request's parameters for this server and model. */
static struct completion_options request_options(const struct config *cfg, const struct llm_target *t)
{
    char *host = url_host(t->base_url);
    struct completion_server server = {
        .openai_provider = t->provider == LLM_PROVIDER_OPENAI,
        .dashscope_provider = is_dashscope(t->provider),
        .host = completion_host_kind(host),
    };
#ifdef LINEBOT_TESTING
    /* Test builds only: a loopback fake stands in for a DashScope host. */
    if (cfg->test_dashscope_host && host && strcasecmp(host, cfg->test_dashscope_host) == 0)
        server.host = COMPLETION_HOST_DASHSCOPE;
#endif
    free(host);
    return (struct completion_options){
        .model = t->model,
        .max_tokens = cfg->llm_max_tokens,
        .max_completion_tokens = completion_uses_max_completion_tokens(&server),
        .reasoning_effort = completion_takes_reasoning_effort(t->model) ? cfg->reasoning_effort : NULL,
        .send_enable_thinking = completion_sends_enable_thinking(&server),
        .enable_thinking = cfg->thinking,
    };
}

/* {base}{path}, whether or not `base` ends with slashes. */
static char *endpoint_url(const char *base, const char *path)
{
    size_t bl = strlen(base);
    while (bl > 0 && base[bl - 1] == '/')
        bl--;
    return xasprintf("%.*s%s", (int)bl, base, path);
}

/* Up to a quarter of `ms` of random extra wait, so that workers that failed
 * together do not retry together. Not for cryptography. */
static int64_t jitter_ms(int64_t ms)
{
    static _Thread_local uint64_t state;
    if (state == 0)
        state = (uint64_t)clock_monotonic_ms() * 0x9E3779B97F4A7C15ULL ^ (uint64_t)(uintptr_t)&state;
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    int64_t span = ms / 4;
    return span > 0 ? (int64_t)(state % (uint64_t)span) : 0;
}

/* Sleeps until `until` (monotonic ms) in small steps; -1 when cancelled. */
static int sleep_until(const struct llm_client *llm, int64_t until)
{
    for (;;) {
        if (llm->cancel && atomic_load(llm->cancel))
            return -1;
        int64_t left = until - clock_monotonic_ms();
        if (left <= 0)
            return 0;
        clock_sleep_ms(left < 50 ? left : 50);
    }
}

/* "status N (provider error: ...)" for a non-2xx answer: the error body
 * ({"error": {...}}) usually says why. */
static void status_reason(const struct http_response *resp, char *out, size_t outlen)
{
    char perr[160] = "";
    char *ignored = NULL;
    if (completion_parse_response(resp->body, resp->body_len, &ignored, perr, sizeof(perr)) == 0 ||
        strncmp(perr, "provider error", 14) != 0)
        perr[0] = '\0';
    free(ignored);
    snprintf(out, outlen, "status %ld%s%s%s", resp->status, perr[0] ? " (" : "", perr, perr[0] ? ")" : "");
}

static void set_err(char *err, size_t errlen, const char *reason)
{
    if (err && errlen)
        snprintf(err, errlen, "%s", reason);
}

/* Appends `text` to the string in `buf`, cut to fit where no piece of a
 * credential the provider echoed is left (redact_cut). */
static void append(char *buf, size_t size, const char *text)
{
    size_t used = strlen(buf);
    if (used + 1 >= size)
        return;
    size_t n = redact_cut(text, strlen(text), size - used - 1);
    memcpy(buf + used, text, n);
    buf[used + n] = '\0';
}

/* `reasons`, then " (hint)" when a 400 named a parameter a setting changes:
 * the hint says what to do, so the reasons are cut to make room for it. */
static void set_err_hint(char *err, size_t errlen, const char *reasons, const char *hint)
{
    size_t tail = hint ? strlen(hint) + 3 : 0; /* " (" hint ")" */
    if (!err || !errlen)
        return;
    if (!hint || tail + 1 >= errlen) {
        set_err(err, errlen, reasons);
        return;
    }
    err[0] = '\0';
    append(err, errlen - tail, reasons);
    size_t used = strlen(err);
    snprintf(err + used, errlen - used, " (%s)", hint);
}

static enum llm_result cancelled(char *err, size_t errlen)
{
    set_err(err, errlen, "cancelled");
    return LLM_CANCELLED;
}

void llm_answer_free(struct llm_answer *a)
{
    if (!a)
        return;
    free(a->text);
    free(a->model);
    a->text = NULL;
    a->model = NULL;
}

/* The LLM_* settings as a target: the model of a set-up without a catalogue. */
static struct llm_target config_target(const struct config *cfg)
{
    return (struct llm_target){.provider = cfg->provider, .base_url = cfg->llm_base_url,
                               .api_key = cfg->llm_api_key, .model = cfg->llm_model};
}

enum llm_result llm_complete(struct llm_client *llm, const struct llm_message *msgs, size_t n,
                             int64_t deadline_ms, struct llm_answer *answer, char *err, size_t errlen)
{
    struct llm_target t = config_target(llm->cfg);
    return llm_complete_to(llm, &t, msgs, n, deadline_ms, answer, err, errlen);
}

enum llm_result llm_complete_to(struct llm_client *llm, const struct llm_target *target,
                                const struct llm_message *msgs, size_t n, int64_t deadline_ms,
                                struct llm_answer *answer, char *err, size_t errlen)
{
    const struct config *cfg = llm->cfg;
    *answer = (struct llm_answer){.prompt_tokens = -1, .completion_tokens = -1, .total_tokens = -1};
    set_err(err, errlen, "");

    int64_t start = clock_monotonic_ms();
    struct completion_options opt = request_options(cfg, target);
    char *body = completion_request_json(&opt, msgs, n);
    char *url = endpoint_url(target->base_url ? target->base_url : "", "/chat/completions");
    const char *key = target->api_key;
    char *auth = key && *key ? xasprintf("Authorization: Bearer %s", key) : NULL;
    enum llm_result result = LLM_FAILED;

    const char *headers[3];
    size_t nh = 0;
    if (auth)
        headers[nh++] = auth; /* omitted for servers without keys (Ollama) */
    headers[nh++] = "Content-Type: application/json";
    headers[nh] = NULL;

    int64_t per_attempt_ms = (int64_t)(cfg->llm_timeout_s > 0 ? cfg->llm_timeout_s
                                                              : LLM_DEFAULT_TIMEOUT_S) * 1000;
    /* Every attempt's reason, in order: the one line the caller logs. */
    char reasons[512] = "";
    char reason[192] = "deadline reached before the first attempt";
    const char *hint = NULL; /* the setting behind a parameter a 400 refused */

    for (int attempt = 1; attempt <= LLM_MAX_ATTEMPTS; attempt++) {
        if (llm->cancel && atomic_load(llm->cancel)) {
            result = cancelled(err, errlen);
            goto done;
        }
        int64_t left = deadline_ms - clock_monotonic_ms();
        if (left < LLM_MIN_ATTEMPT_MS) {
            if (attempt > 1)
                append(reasons, sizeof(reasons), "; no time left for another attempt");
            else
                append(reasons, sizeof(reasons), reason);
            break;
        }
        int64_t timeout = per_attempt_ms < left ? per_attempt_ms : left;
        struct http_request req = {
            .method = "POST",
            .url = url,
            .headers = headers,
            .body = body,
            .body_len = strlen(body),
            .connect_timeout_ms = LLM_CONNECT_TIMEOUT_MS < timeout ? LLM_CONNECT_TIMEOUT_MS : (long)timeout,
            .timeout_ms = (long)timeout,
            .cancel = llm->cancel,
            .max_response_bytes = LLM_MAX_RESPONSE_BYTES,
        };
        struct http_response resp;
        int rc = http_client_do(llm->http, &req, &resp);
        int retryable;

        if (rc != 0 && resp.cancelled) {
            http_response_free(&resp);
            result = cancelled(err, errlen);
            goto done;
        }
        if (rc == 0 && resp.status >= 200 && resp.status <= 299) {
            char perr[160];
            struct completion_meta meta;
            if (completion_parse_answer(resp.body, resp.body_len, &answer->text, &meta, perr, sizeof(perr)) == 0) {
                answer->model = meta.model ? meta.model : xstrdup(target->model ? target->model : "");
                answer->prompt_tokens = meta.prompt_tokens;
                answer->completion_tokens = meta.completion_tokens;
                answer->total_tokens = meta.total_tokens;
                http_response_free(&resp);
                result = LLM_OK;
                goto done;
            }
            snprintf(reason, sizeof(reason), "bad response: %s", perr);
            retryable = 0;
        } else if (rc == 0) {
            answer->status = resp.status;
            status_reason(&resp, reason, sizeof(reason));
            if (resp.status == 400)
                hint = completion_error_hint(resp.body, resp.body_len);
            retryable = completion_status_retryable(resp.status);
        } else if (resp.timed_out) {
            snprintf(reason, sizeof(reason), "timeout after %lld ms", (long long)timeout);
            retryable = 1;
        } else {
            snprintf(reason, sizeof(reason), "transport: ");
            append(reason, sizeof(reason), resp.error);
            retryable = 1;
        }
        char head[32];
        snprintf(head, sizeof(head), "%sattempt %d/%d: ", attempt > 1 ? "; " : "", attempt, LLM_MAX_ATTEMPTS);
        append(reasons, sizeof(reasons), head);
        append(reasons, sizeof(reasons), reason);

        if (!retryable || attempt == LLM_MAX_ATTEMPTS) {
            http_response_free(&resp);
            break;
        }
        int64_t wait = rc == 0 ? http_response_retry_after_ms(&resp, clock_now_ms())
                               : -1;
        http_response_free(&resp);
        if (wait < 0)
            wait = backoff_ms[attempt - 1] + jitter_ms(backoff_ms[attempt - 1]);
        int64_t resume = clock_monotonic_ms() + wait;
        if (resume + LLM_MIN_ATTEMPT_MS > deadline_ms) {
            char more[80];
            snprintf(more, sizeof(more), "; a retry in %lld ms would pass the deadline", (long long)wait);
            append(reasons, sizeof(reasons), more);
            break;
        }
        if (sleep_until(llm, resume) != 0) {
            result = cancelled(err, errlen);
            goto done;
        }
    }
    set_err_hint(err, errlen, reasons, hint);

done:
    if (result == LLM_OK) {
        double seconds = (double)(clock_monotonic_ms() - start) / 1000.0;
        metrics_llm_latency(seconds);
        log_debug("llm: answer of %zu bytes in %.3f s", strlen(answer->text), seconds);
    } else if (result == LLM_FAILED) {
        metrics_llm_error();
    }
    if (auth) {
        memset(auth, 0, strlen(auth)); /* the key should not linger on the heap */
        free(auth);
    }
    free(url);
    free(body);
    return result;
}

enum llm_result llm_list_models(struct llm_client *llm, long timeout_ms, struct llm_models *out, long *status,
                                char *err, size_t errlen)
{
    struct llm_target target = config_target(llm->cfg);
    return llm_list_models_at(llm, &target, timeout_ms, out, status, err, errlen);
}

enum llm_result llm_list_models_at(struct llm_client *llm, const struct llm_target *target, long timeout_ms,
                                   struct llm_models *out, long *status, char *err, size_t errlen)
{
    out->ids = NULL;
    out->n = 0;
    if (status)
        *status = 0;
    set_err(err, errlen, "");
    char *url = endpoint_url(target->base_url ? target->base_url : "", "/models");
    const char *key = target->api_key;
    char *auth = key && *key ? xasprintf("Authorization: Bearer %s", key) : NULL;
    const char *headers[2] = {auth, NULL};
    struct http_request req = {
        .method = "GET",
        .url = url,
        .headers = auth ? headers : NULL,
        .connect_timeout_ms = LLM_CONNECT_TIMEOUT_MS < timeout_ms ? LLM_CONNECT_TIMEOUT_MS : timeout_ms,
        .timeout_ms = timeout_ms,
        .cancel = llm->cancel,
        .max_response_bytes = LLM_MAX_RESPONSE_BYTES,
    };
    struct http_response resp;
    int rc = http_client_do(llm->http, &req, &resp);
    enum llm_result result = LLM_FAILED;
    if (rc != 0) {
        if (err && errlen)
            snprintf(err, errlen, "%s%s", resp.timed_out ? "timeout: " : "transport: ", resp.error);
    } else {
        if (status)
            *status = resp.status;
        json_t *root = resp.body_len ? json_loadb(resp.body, resp.body_len, 0, NULL) : NULL;
        json_t *data = json_is_object(root) ? json_object_get(root, "data") : NULL;
        if (resp.status >= 200 && resp.status <= 299 && json_is_array(data)) {
            size_t n = json_array_size(data);
            out->ids = xcalloc(n ? n : 1, sizeof *out->ids);
            for (size_t i = 0; i < n; i++) {
                const char *id = json_string_value(json_object_get(json_array_get(data, i), "id"));
                if (id)
                    out->ids[out->n++] = xstrdup(id);
            }
            result = LLM_OK;
        } else if (resp.status >= 200 && resp.status <= 299) {
            set_err(err, errlen, "the answer is not a model list ({\"data\":[...]})");
        } else {
            if (err && errlen)
                status_reason(&resp, err, errlen);
        }
        json_decref(root);
    }
    http_response_free(&resp);
    if (auth) {
        memset(auth, 0, strlen(auth)); /* the key should not linger on the heap */
        free(auth);
    }
    free(url);
    return result;
}

void llm_models_free(struct llm_models *m)
{
    for (size_t i = 0; i < m->n; i++)
        free(m->ids[i]);
    free(m->ids);
    m->ids = NULL;
    m->n = 0;
}
