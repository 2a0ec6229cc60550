/* embed.c - the embeddings client (embed.h): batches, requests, checks. */
#include "io/embed.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/embed_wire.h"
#include "io/clock.h"
#include "io/http_client.h"

#define EMBED_TIMEOUT_MS 60000
#define EMBED_CONNECT_TIMEOUT_MS 5000
#define EMBED_ATTEMPTS 3
/* 2048 inputs x 8192 dimensions as JSON text is far beyond this; a real
 * answer for one batch (10-2048 vectors of at most 3072) fits. */
#define EMBED_MAX_RESPONSE_BYTES (256u * 1024 * 1024)

static char *endpoint(const char *base)
{
    size_t len = strlen(base);
    while (len > 0 && base[len - 1] == '/')
        len--;
    return xasprintf("%.*s/embeddings", (int)len, base);
}

/* One batch: 0 with *vecs, or -1 with `err`; *retry says whether trying
 * again could help (the server was busy or the connection failed). */
static int embed_batch(struct http_client *http, const struct embed_target *t, const char *url,
                       const char *const *texts, size_t n, size_t want_dims, long timeout_ms, float **vecs,
                       size_t *dims, int *retry, char *err, size_t errlen)
{
    char *body = embed_request_json(t->model, texts, n);
    char *auth = t->api_key && *t->api_key ? xasprintf("Authorization: Bearer %s", t->api_key) : NULL;
    const char *headers[3];
    size_t nh = 0;
    if (auth)
        headers[nh++] = auth;
    headers[nh++] = "Content-Type: application/json";
    headers[nh] = NULL;
    struct http_request req = {
        .method = "POST",
        .url = url,
        .headers = headers,
        .body = body,
        .body_len = strlen(body),
        .connect_timeout_ms = timeout_ms < EMBED_CONNECT_TIMEOUT_MS ? timeout_ms : EMBED_CONNECT_TIMEOUT_MS,
        .timeout_ms = timeout_ms,
        .max_response_bytes = EMBED_MAX_RESPONSE_BYTES,
    };
    struct http_response resp;
    int rc = -1;
    *retry = 0;
    if (http_client_do(http, &req, &resp) != 0) {
        snprintf(err, errlen, "the embeddings server cannot be reached: %s",
                 resp.timed_out ? "timed out" : resp.too_large ? "the answer is too large" : resp.error);
        *retry = !resp.too_large;
    } else if (resp.status < 200 || resp.status > 299) {
        char why[256];
        float *none = NULL;
        size_t d = 0;
        /* The server's own message, when it sent one in OpenAI's shape. */
        if (embed_parse(resp.body, resp.body_len, 0, 0, &none, &d, why, sizeof why) == 0 ||
            strncmp(why, "the embeddings server says: ", 28) != 0)
            snprintf(why, sizeof why, "no reason given");
        free(none);
        snprintf(err, errlen, "the embeddings server answered HTTP %ld (%s)", resp.status,
                 strncmp(why, "the embeddings server says: ", 28) == 0 ? why + 28 : why);
        *retry = resp.status == 429 || resp.status >= 500;
    } else {
        rc = embed_parse(resp.body, resp.body_len, n, want_dims, vecs, dims, err, errlen);
    }
    http_response_free(&resp);
    free(auth);
    free(body);
    return rc;
}

int embed_texts(struct http_client *http, const struct embed_target *target, const char *const *texts, size_t n,
                size_t want_dims, int64_t deadline_ms, void (*progress)(void *arg, size_t done), void *arg,
                float **vecs, size_t *dims, char *err, size_t errlen)
{
    *vecs = NULL;
    *dims = 0;
    if (n == 0)
        return 0;
    struct embed_limits lim;
    embed_limits_of(target->model, target->base_url, &lim);
    char *url = endpoint(target->base_url);
    float *all = NULL;
    size_t d = want_dims;
    int rc = 0;
    for (size_t at = 0; at < n && rc == 0;) {
        size_t count = embed_batch_size(texts, at, n, &lim);
        float *part = NULL;
        size_t part_dims = 0;
        int retry = 0;
        rc = -1;
        for (int attempt = 1; attempt <= (deadline_ms ? 1 : EMBED_ATTEMPTS) && rc != 0; attempt++) {
            long timeout = EMBED_TIMEOUT_MS;
            if (deadline_ms) {
                int64_t left = deadline_ms - clock_monotonic_ms();
                if (left < 50) {
                    snprintf(err, errlen, "no time left to ask the embeddings server");
                    break;
                }
                timeout = left < EMBED_TIMEOUT_MS ? (long)left : EMBED_TIMEOUT_MS;
            } else if (attempt > 1) {
                if (!retry)
                    break;
                sleep((unsigned)attempt); /* the server was busy: give it a moment */
            }
            rc = embed_batch(http, target, url, texts + at, count, d, timeout, &part, &part_dims, &retry, err,
                             errlen);
        }
        if (rc != 0)
            break;
        if (!all) {
            d = part_dims;
            all = xcalloc(n, d * sizeof *all);
        }
        memcpy(all + at * d, part, count * d * sizeof *all);
        free(part);
        at += count;
        if (progress)
            progress(arg, at);
    }
    free(url);
    if (rc != 0) {
        free(all);
        return -1;
    }
    *vecs = all;
    *dims = d;
    return 0;
}
