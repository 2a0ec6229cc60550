/* line_content.c - the bytes of a message (see line_content.h).
 *
 * Waits are polls: LINE gives no signal when a transcoding ends or a 202
 * turns into content, so the content (or the transcoding state) is asked
 * again every CONTENT_POLL_MS until the deadline. Each request gets what is
 * left of the time, at most CONTENT_REQUEST_MS. */
#include "io/line_content.h"

#include <curl/curl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "io/clock.h"

#define CONTENT_POLL_MS 1000
#define CONTENT_REQUEST_MS 30000L
#define CONTENT_CONNECT_MS 5000L
#define CONTENT_STATUS_BYTES ((size_t)16 * 1024) /* the transcoding state's JSON */

void content_free(struct content *c)
{
    if (!c)
        return;
    free(c->data);
    c->data = NULL;
    c->len = 0;
}

const char *content_result_name(enum content_result r)
{
    switch (r) {
    case CONTENT_OK: return "ok";
    case CONTENT_EXPIRED: return "expired";
    case CONTENT_TOO_LARGE: return "too_large";
    case CONTENT_NOT_HTTPS: return "not_https";
    case CONTENT_BLOCKED: return "blocked_address";
    case CONTENT_TRANSCODE_FAILED: return "transcode_failed";
    case CONTENT_NOT_READY: return "not_ready";
    case CONTENT_FAILED: return "failed";
    case CONTENT_CANCELLED: return "cancelled";
    }
    return "unknown";
}

static bool cancelled(const struct line_api *api)
{
    return api->cancel && atomic_load(api->cancel);
}

/* Sleeps one poll interval, or less when the deadline is nearer. False when
 * no time is left for another request, or on shutdown. */
static bool wait_poll(const struct line_api *api, int64_t deadline_ms)
{
    int64_t left = deadline_ms - clock_monotonic_ms();
    if (left <= CONTENT_POLL_MS + 500 || cancelled(api))
        return false;
    clock_sleep_ms(CONTENT_POLL_MS);
    return !cancelled(api);
}

/* {data base}/v2/bot/message/{id}/content{tail}, the id escaped. */
static char *content_url(const struct line_api *api, const char *message_id, const char *tail)
{
    const char *base = api->cfg->line_data_api_base ? api->cfg->line_data_api_base : "https://api-data.line.me";
    size_t bl = strlen(base);
    while (bl > 0 && base[bl - 1] == '/')
        bl--;
    char *id = curl_easy_escape(NULL, message_id, 0);
    if (!id)
        alloc_fail("curl_easy_escape", strlen(message_id) * 3 + 1);
    char *url = xasprintf("%.*s/v2/bot/message/%s/content%s", (int)bl, base, id, tail);
    curl_free(id);
    return url;
}

/* One GET. Returns -1 when no answer came (resp->error says why). */
static int get(struct line_api *api, const char *url, bool line, const struct content_policy *policy, size_t max,
               int64_t deadline_ms, struct http_response *resp)
{
    char *auth = line ? xasprintf("Authorization: Bearer %s", api->cfg->access_token ? api->cfg->access_token : "")
                      : NULL;
    const char *headers[] = {auth, NULL};
    int64_t left = deadline_ms - clock_monotonic_ms();
    long timeout = left < CONTENT_REQUEST_MS ? (long)(left > 1 ? left : 1) : CONTENT_REQUEST_MS;
    struct http_request req = {
        .method = "GET",
        .url = url,
        .headers = auth ? headers : NULL,
        .connect_timeout_ms = CONTENT_CONNECT_MS < timeout ? CONTENT_CONNECT_MS : timeout,
        .timeout_ms = timeout,
        .cancel = api->cancel,
        .max_response_bytes = max,
        .https_only = !line && !policy->allow_loopback,
        .follow_redirects = !line,
        .public_only = !line,
        .allow_loopback = !line && policy->allow_loopback,
    };
    int rc = http_client_do(api->http, &req, resp);
    if (auth) {
        memset(auth, 0, strlen(auth)); /* the token should not linger on the heap */
        free(auth);
    }
    return rc;
}

/* What a failed or non-200 GET means. */
static enum content_result failure(const struct http_response *resp, int rc, const char *what, char *err,
                                   size_t errlen)
{
    if (rc != 0) {
        snprintf(err, errlen, "%s: %s", what, resp->error);
        if (resp->cancelled)
            return CONTENT_CANCELLED;
        if (resp->too_large)
            return CONTENT_TOO_LARGE;
        if (resp->blocked)
            return CONTENT_BLOCKED;
        if (resp->scheme_refused) /* redirected to http */
            return CONTENT_NOT_HTTPS;
        return CONTENT_FAILED;
    }
    snprintf(err, errlen, "%s: status %ld", what, resp->status);
    if (resp->status == 404 || resp->status == 410)
        return CONTENT_EXPIRED;
    return CONTENT_FAILED;
}

/* Audio and video: polls .../content/transcoding until "succeeded". */
static enum content_result wait_transcoded(struct line_api *api, const char *message_id,
                                           const struct content_policy *policy, int64_t deadline_ms, char *err,
                                           size_t errlen)
{
    char *url = content_url(api, message_id, "/transcoding");
    enum content_result result = CONTENT_NOT_READY;
    snprintf(err, errlen, "transcoding: still processing at the deadline");
    for (;;) {
        struct http_response resp;
        int rc = get(api, url, true, policy, CONTENT_STATUS_BYTES, deadline_ms, &resp);
        if (rc != 0 || resp.status != 200) {
            result = failure(&resp, rc, "transcoding", err, errlen);
            http_response_free(&resp);
            break;
        }
        json_t *root = json_loadb(resp.body ? resp.body : "", resp.body_len, 0, NULL);
        const char *status = json_string_value(json_object_get(root, "status"));
        bool succeeded = status && strcmp(status, "succeeded") == 0;
        bool failed = status && strcmp(status, "failed") == 0;
        json_decref(root);
        http_response_free(&resp);
        if (succeeded) {
            result = CONTENT_OK;
            break;
        }
        if (failed) {
            snprintf(err, errlen, "transcoding: LINE says it failed");
            result = CONTENT_TRANSCODE_FAILED;
            break;
        }
        if (!wait_poll(api, deadline_ms)) {
            result = cancelled(api) ? CONTENT_CANCELLED : CONTENT_NOT_READY;
            break;
        }
    }
    free(url);
    return result;
}

enum content_result line_content_get(struct line_api *api, const struct content_source *src,
                                     const struct content_policy *policy, int64_t deadline_ms, struct content *out,
                                     char *err, size_t errlen)
{
    *out = (struct content){0};
    snprintf(err, errlen, "%s", "");
    bool line = src->external_url == NULL;
    char *url;
    if (line) {
        if (!src->message_id || !src->message_id[0]) {
            snprintf(err, errlen, "the message has no id");
            return CONTENT_FAILED;
        }
        if (src->transcoded) {
            enum content_result r = wait_transcoded(api, src->message_id, policy, deadline_ms, err, errlen);
            if (r != CONTENT_OK)
                return r;
        }
        url = content_url(api, src->message_id, "");
    } else {
        struct http_url parts;
        if (http_url_split(src->external_url, &parts, err, errlen) != 0)
            return CONTENT_NOT_HTTPS; /* not even an http(s) URL */
        if (strcmp(parts.scheme, "https") != 0 && !policy->allow_loopback) {
            snprintf(err, errlen, "external content: the URL is not https");
            return CONTENT_NOT_HTTPS;
        }
        url = xstrdup(src->external_url);
    }

    enum content_result result;
    for (;;) {
        struct http_response resp;
        int rc = get(api, url, line, policy, policy->max_bytes, deadline_ms, &resp);
        if (rc == 0 && resp.status == 200) {
            out->len = resp.body_len;
            out->data = (unsigned char *)(resp.body ? resp.body : xstrdup(""));
            resp.body = NULL;
            http_response_free(&resp);
            result = CONTENT_OK;
            break;
        }
        if (rc == 0 && resp.status == 202 && line) { /* not ready yet: ask again */
            http_response_free(&resp);
            if (!wait_poll(api, deadline_ms)) {
                snprintf(err, errlen, "content: still 202 (not ready) at the deadline");
                result = cancelled(api) ? CONTENT_CANCELLED : CONTENT_NOT_READY;
                break;
            }
            continue;
        }
        result = failure(&resp, rc, line ? "content" : "external content", err, errlen);
        http_response_free(&resp);
        break;
    }
    free(url);
    return result;
}
