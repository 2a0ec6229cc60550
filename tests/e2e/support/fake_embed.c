/* fake_embed.c - the fake embeddings server (fake_embed.h). */
#include "fake_embed.h"

#include <ctype.h>
#include <jansson.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "e2e_util.h"
#include "fake_http.h"

#define MEANINGS 2 /* dimensions 0 and 1; the hashed words use the others */

struct fake_embed {
    struct fake_http *http;
    pthread_mutex_t mu;
    char *api_key;
    char *model;
    size_t max_batch;
    int failing;
    char base_url[64];
    struct fake_embed_stats stats;
};

static const struct {
    const char *word;
    int meaning;
} thesaurus[] = {
    {"cost", 0}, {"price", 0}, {"fee", 0}, {"fees", 0}, {"charge", 0},
    {"open", 1}, {"opening", 1}, {"hours", 1}, {"closed", 1}, {"close", 1},
};

static void embed_text(const char *text, double *v)
{
    memset(v, 0, FAKE_EMBED_DIMS * sizeof *v);
    const char *p = text;
    bool any = false;
    while (*p) {
        while (*p && !isalnum((unsigned char)*p))
            p++;
        char word[64];
        size_t n = 0;
        while (*p && isalnum((unsigned char)*p)) {
            if (n < sizeof word - 1)
                word[n++] = (char)tolower((unsigned char)*p);
            p++;
        }
        if (n == 0)
            break;
        word[n] = '\0';
        any = true;
        int meaning = -1;
        for (size_t i = 0; i < sizeof thesaurus / sizeof thesaurus[0]; i++)
            if (strcmp(word, thesaurus[i].word) == 0)
                meaning = thesaurus[i].meaning;
        if (meaning >= 0) {
            v[meaning] += 1.0;
        } else {
            uint32_t h = 2166136261u;
            for (size_t i = 0; i < n; i++)
                h = (h ^ (uint8_t)word[i]) * 16777619u;
            v[MEANINGS + h % (FAKE_EMBED_DIMS - MEANINGS)] += 0.1;
        }
    }
    if (!any) /* no words (CJK only, say): still a vector */
        v[FAKE_EMBED_DIMS - 1] = 0.1;
}

static void error_body(struct fake_http_response *r, int status, const char *message)
{
    fake_http_respond_json(r, status, json_pack("{s:{s:s,s:s}}", "error", "message", message, "type",
                                                "invalid_request_error"));
}

static void on_request(void *ctx, const struct fake_http_request *req, struct fake_http_response *r)
{
    struct fake_embed *f = ctx;
    json_t *body = json_loadb(req->body, req->body_len, 0, NULL);
    pthread_mutex_lock(&f->mu);
    json_t *input = json_object_get(body, "input");
    const char *model = json_string_value(json_object_get(body, "model"));
    if (strcmp(req->path, "/v1/embeddings") != 0 || strcmp(req->method, "POST") != 0) {
        error_body(r, 404, "Unknown request URL");
    } else if (f->stats.requests++, !fake_http_has_bearer(req, f->api_key)) {
        error_body(r, 401, "Incorrect API key provided");
    } else if (f->failing) {
        error_body(r, f->failing, "The fake is failing on purpose");
    } else if (!model || strcmp(model, f->model) != 0) {
        f->stats.wrong_model++;
        error_body(r, 404, "The model does not exist");
    } else if (!json_is_array(input) || json_array_size(input) == 0) {
        error_body(r, 400, "input must be a non-empty list of strings");
    } else if (json_array_size(input) > f->max_batch) {
        f->stats.violations++;
        if (json_array_size(input) > f->stats.max_batch)
            f->stats.max_batch = json_array_size(input);
        error_body(r, 400, "batch size is invalid, it should not be larger than the limit");
    } else {
        if (json_array_size(input) > f->stats.max_batch)
            f->stats.max_batch = json_array_size(input);
        json_t *data = json_array();
        size_t i;
        json_t *text;
        json_array_foreach(input, i, text) {
            double v[FAKE_EMBED_DIMS];
            embed_text(json_is_string(text) ? json_string_value(text) : "", v);
            json_t *emb = json_array();
            for (size_t d = 0; d < FAKE_EMBED_DIMS; d++)
                json_array_append_new(emb, json_real(v[d]));
            json_array_append_new(data, json_pack("{s:s,s:i,s:o}", "object", "embedding", "index", (int)i,
                                                  "embedding", emb));
        }
        f->stats.inputs += json_array_size(input);
        fake_http_respond_json(r, 200, json_pack("{s:s,s:o,s:s,s:{s:i,s:i}}", "object", "list", "data", data,
                                                 "model", f->model, "usage", "prompt_tokens", 1, "total_tokens",
                                                 1));
    }
    pthread_mutex_unlock(&f->mu);
    json_decref(body);
}

struct fake_embed *fake_embed_start(const char *api_key, const char *model, size_t max_batch)
{
    struct fake_embed *f = calloc(1, sizeof *f);
    if (!f)
        return NULL;
    pthread_mutex_init(&f->mu, NULL);
    f->api_key = e2e_strdup(api_key);
    f->model = e2e_strdup(model);
    f->max_batch = max_batch;
    f->http = fake_http_start(on_request, f, 16u << 20);
    if (!f->http) {
        free(f->api_key);
        free(f->model);
        free(f);
        return NULL;
    }
    snprintf(f->base_url, sizeof f->base_url, "http://127.0.0.1:%d/v1", fake_http_port(f->http));
    return f;
}

void fake_embed_stop(struct fake_embed *f)
{
    if (!f)
        return;
    fake_http_stop(f->http);
    pthread_mutex_destroy(&f->mu);
    free(f->api_key);
    free(f->model);
    free(f);
}

const char *fake_embed_base_url(const struct fake_embed *f)
{
    return f->base_url;
}

void fake_embed_set_model(struct fake_embed *f, const char *model)
{
    pthread_mutex_lock(&f->mu);
    free(f->model);
    f->model = e2e_strdup(model);
    pthread_mutex_unlock(&f->mu);
}

void fake_embed_set_failing(struct fake_embed *f, int status)
{
    pthread_mutex_lock(&f->mu);
    f->failing = status;
    pthread_mutex_unlock(&f->mu);
}

void fake_embed_stats(struct fake_embed *f, struct fake_embed_stats *out)
{
    pthread_mutex_lock(&f->mu);
    *out = f->stats;
    pthread_mutex_unlock(&f->mu);
}
