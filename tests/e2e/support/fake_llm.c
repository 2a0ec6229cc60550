/* fake_llm.c - the fake OpenAI-compatible server (see fake_llm.h). */
#include "fake_llm.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "e2e_util.h"
#include "fake_common.h"
#include "fake_http.h"

struct scripted {
    int status;
    char *body;
    char *headers;
    int delay_ms;
};

struct llm_request {
    char *line; /* "METHOD /path" */
    char *body;
    char *auth;
    int status;
    int64_t at_ms;
};

struct by_system {
    char *needle;
    char *content; /* NULL: the rule is off */
    int delay_ms;
};

struct fake_llm {
    struct fake_http *http;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    char *api_key;
    char base_url[64];

    struct scripted *queue;
    size_t n_queue, head_queue, cap_queue;
    char *fixed_answer;
    int always_status;
    char *always_body;
    int delay_ms;
    json_t *models; /* GET /v1/models ids, NULL: 404 */
    struct by_system *by_system; /* answers for requests whose system prompt matches */
    size_t n_by_system, cap_by_system;

    struct llm_request *requests;
    size_t n_requests, cap_requests;
    unsigned long long next_id;

    /* voice: the recording expected, the transcript answered, the calls */
    unsigned char *audio;
    size_t audio_len;
    char *transcript;
    int next_status; /* a scripted transcription answer, 0: none */
    char *next_body;
    struct fake_llm_transcription *transcriptions;
    size_t n_transcriptions, cap_transcriptions;
};

static void on_transcription(struct fake_llm *f, const struct fake_http_request *req, struct fake_http_response *r);

char *fake_llm_completion_body(const char *content)
{
    json_t *o = json_pack("{s:s,s:s,s:I,s:s,s:[{s:i,s:{s:s,s:s},s:s}],s:{s:i,s:i,s:i}}",
                          "id", "chatcmpl-fake", "object", "chat.completion",
                          "created", (json_int_t)(e2e_now_ms() / 1000), "model", "test-model",
                          "choices", "index", 0, "message", "role", "assistant",
                          "content", content, "finish_reason", "stop",
                          "usage", "prompt_tokens", 10, "completion_tokens", 10,
                          "total_tokens", 20);
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return s;
}

/* OpenAI's error answers: {"error":{"message":...,"type":...,"param":null,"code":...}}. */
static void openai_error(struct fake_http_response *r, int status, const char *message, const char *type,
                         const char *code)
{
    fake_http_respond_json(r, status,
                           json_pack("{s:{s:s,s:s,s:n,s:s}}", "error", "message", message, "type", type,
                                     "param", "code", code));
}

/* Text of a message content: a string, or the "text" parts of an array. */
static char *content_text(json_t *content)
{
    if (json_is_string(content))
        return e2e_strdup(json_string_value(content));
    if (!json_is_array(content))
        return NULL;
    struct e2e_buf b = {0};
    size_t i;
    json_t *part;
    json_array_foreach(content, i, part) {
        const char *t = json_string_value(json_object_get(part, "text"));
        if (t)
            e2e_buf_adds(&b, t);
    }
    return e2e_buf_take(&b);
}

/* The content of the first message when it is a system message (malloc'd). */
static char *system_content(json_t *messages)
{
    json_t *m = json_array_get(messages, 0);
    const char *role = json_string_value(json_object_get(m, "role"));
    if (!role || strcmp(role, "system") != 0)
        return NULL;
    return content_text(json_object_get(m, "content"));
}

/* The first rule whose needle is in the system prompt, or NULL. */
static const struct by_system *system_rule(struct fake_llm *f, json_t *messages)
{
    char *system = system_content(messages);
    const struct by_system *rule = NULL;
    for (size_t i = 0; system && !rule && i < f->n_by_system; i++)
        if (f->by_system[i].content && strstr(system, f->by_system[i].needle))
            rule = &f->by_system[i];
    free(system);
    return rule;
}

static char *last_user_content(json_t *messages)
{
    for (size_t i = json_array_size(messages); i-- > 0;) {
        json_t *m = json_array_get(messages, i);
        const char *role = json_string_value(json_object_get(m, "role"));
        if (role && strcmp(role, "user") == 0)
            return content_text(json_object_get(m, "content"));
    }
    return NULL;
}

static void add_header_lines(struct fake_http_response *r, const char *lines)
{
    if (!lines)
        return;
    char *copy = e2e_strdup(lines), *save = NULL;
    for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *colon = strchr(line, ':');
        if (!colon)
            continue;
        *colon = '\0';
        const char *value = colon + 1;
        while (*value == ' ')
            value++;
        fake_http_response_header(r, line, value);
    }
    free(copy);
}

/* Validates like OpenAI; returns true when the request is acceptable. */
static bool validate(struct fake_llm *f, const struct fake_http_request *req, json_t *body,
                     struct fake_http_response *r)
{
    if (strcmp(req->path, "/v1/chat/completions") != 0) {
        openai_error(r, 404, "Unknown request URL", "invalid_request_error", "unknown_url");
        return false;
    }
    if (strcmp(req->method, "POST") != 0) {
        openai_error(r, 405, "Method not allowed", "invalid_request_error", "method");
        return false;
    }
    if (!fake_http_has_bearer(req, f->api_key)) {
        openai_error(r, 401, "Incorrect API key provided", "invalid_request_error", "invalid_api_key");
        return false;
    }
    json_t *messages = json_object_get(body, "messages");
    if (!json_is_object(body) || !json_is_string(json_object_get(body, "model")) ||
        !json_is_array(messages) || json_array_size(messages) == 0) {
        openai_error(r, 400, "The request needs a model and a non-empty messages array",
                     "invalid_request_error", "invalid_body");
        return false;
    }
    size_t i;
    json_t *m;
    json_array_foreach(messages, i, m) {
        const char *role = json_string_value(json_object_get(m, "role"));
        json_t *content = json_object_get(m, "content");
        if (!role || (strcmp(role, "system") && strcmp(role, "user") && strcmp(role, "assistant") &&
                      strcmp(role, "developer") && strcmp(role, "tool")) ||
            !(json_is_string(content) || json_is_array(content))) {
            openai_error(r, 400, "Each message needs a valid role and a content", "invalid_request_error",
                         "invalid_message");
            return false;
        }
    }
    if (json_is_true(json_object_get(body, "stream"))) {
        openai_error(r, 400, "The fake does not stream", "invalid_request_error", "stream");
        return false;
    }
    return true;
}

static void on_request(void *ctx, const struct fake_http_request *req, struct fake_http_response *r)
{
    struct fake_llm *f = ctx;
    json_t *body = json_loadb(req->body, req->body_len, 0, NULL);
    pthread_mutex_lock(&f->mu);
    if (strcmp(req->path, "/v1/audio/transcriptions") == 0) { /* counted apart */
        on_transcription(f, req, r);
        pthread_mutex_unlock(&f->mu);
        json_decref(body);
        return;
    }
    if (strcmp(req->path, "/v1/models") == 0 && f->models) {
        if (strcmp(req->method, "GET") != 0) {
            openai_error(r, 405, "Method not allowed", "invalid_request_error", "method");
        } else if (!fake_http_has_bearer(req, f->api_key)) {
            openai_error(r, 401, "Incorrect API key provided", "invalid_request_error", "invalid_api_key");
        } else {
            json_t *data = json_array();
            size_t i;
            json_t *id;
            json_array_foreach(f->models, i, id) {
                json_array_append_new(data, json_pack("{s:O,s:s,s:i,s:s}", "id", id, "object", "model", "created",
                                                      1700000000, "owned_by", "fake"));
            }
            fake_http_respond_json(r, 200, json_pack("{s:s,s:o}", "object", "list", "data", data));
        }
    } else if (validate(f, req, body, r)) {
        const struct by_system *rule = system_rule(f, json_object_get(body, "messages"));
        if (rule) {
            r->status = 200;
            r->body = fake_llm_completion_body(rule->content);
            r->delay_ms = rule->delay_ms;
        } else if (f->head_queue < f->n_queue) {
            struct scripted *s = &f->queue[f->head_queue++];
            r->status = s->status;
            r->body = e2e_strdup(s->body);
            r->delay_ms = s->delay_ms;
            add_header_lines(r, s->headers);
        } else if (f->always_status) {
            r->status = f->always_status;
            r->body = e2e_strdup(f->always_body);
            r->delay_ms = f->delay_ms;
        } else {
            char *content;
            if (f->fixed_answer) {
                content = e2e_strdup(f->fixed_answer);
            } else {
                char *last = last_user_content(json_object_get(body, "messages"));
                content = e2e_printf("echo: %s", last ? last : "");
                free(last);
            }
            r->status = 200;
            r->body = fake_llm_completion_body(content);
            r->delay_ms = f->delay_ms;
            free(content);
        }
    }
    char rid[40];
    snprintf(rid, sizeof rid, "req_fake%llu", f->next_id++);
    fake_http_response_header(r, "x-request-id", rid);
    struct llm_request rec = {
        .line = e2e_printf("%s %s", req->method, req->path),
        .body = e2e_strdup(req->body),
        .auth = e2e_strdup(fake_http_header(req, "Authorization")),
        .status = r->status,
        .at_ms = e2e_mono_ms(),
    };
    FAKE_VEC_PUSH(f->requests, f->n_requests, f->cap_requests, rec);
    pthread_cond_broadcast(&f->cv);
    pthread_mutex_unlock(&f->mu);
    json_decref(body);
}

struct fake_llm *fake_llm_start(const char *api_key)
{
    struct fake_llm *f = calloc(1, sizeof *f);
    if (!f)
        return NULL;
    pthread_mutex_init(&f->mu, NULL);
    fake_cond_init(&f->cv);
    f->api_key = e2e_strdup(api_key);
    f->http = fake_http_start(on_request, f, 16u << 20);
    if (!f->http) {
        free(f->api_key);
        free(f);
        return NULL;
    }
    snprintf(f->base_url, sizeof f->base_url, "http://127.0.0.1:%d/v1", fake_http_port(f->http));
    return f;
}

void fake_llm_stop(struct fake_llm *f)
{
    if (!f)
        return;
    fake_http_stop(f->http);
    for (size_t i = 0; i < f->n_queue; i++) {
        free(f->queue[i].body);
        free(f->queue[i].headers);
    }
    for (size_t i = 0; i < f->n_requests; i++) {
        free(f->requests[i].line);
        free(f->requests[i].body);
        free(f->requests[i].auth);
    }
    json_decref(f->models);
    for (size_t i = 0; i < f->n_by_system; i++) {
        free(f->by_system[i].needle);
        free(f->by_system[i].content);
    }
    free(f->by_system);
    free(f->audio);
    free(f->transcript);
    free(f->next_body);
    free(f->transcriptions);
    free(f->queue);
    free(f->requests);
    free(f->fixed_answer);
    free(f->always_body);
    free(f->api_key);
    pthread_cond_destroy(&f->cv);
    pthread_mutex_destroy(&f->mu);
    free(f);
}

const char *fake_llm_base_url(const struct fake_llm *f)
{
    return f->base_url;
}

void fake_llm_push(struct fake_llm *f, int status, const char *body, const char *headers,
                   int delay_ms)
{
    struct scripted s = {
        .status = status,
        .body = e2e_strdup(body ? body : ""),
        .headers = e2e_strdup(headers),
        .delay_ms = delay_ms,
    };
    pthread_mutex_lock(&f->mu);
    FAKE_VEC_PUSH(f->queue, f->n_queue, f->cap_queue, s);
    pthread_mutex_unlock(&f->mu);
}

void fake_llm_push_answer(struct fake_llm *f, const char *content, int delay_ms)
{
    char *body = fake_llm_completion_body(content);
    fake_llm_push(f, 200, body, NULL, delay_ms);
    free(body);
}

void fake_llm_set_fixed_answer(struct fake_llm *f, const char *content)
{
    pthread_mutex_lock(&f->mu);
    free(f->fixed_answer);
    f->fixed_answer = e2e_strdup(content);
    pthread_mutex_unlock(&f->mu);
}

void fake_llm_set_always(struct fake_llm *f, int status, const char *body)
{
    pthread_mutex_lock(&f->mu);
    free(f->always_body);
    f->always_status = status;
    f->always_body = e2e_strdup(body ? body : "");
    pthread_mutex_unlock(&f->mu);
}

void fake_llm_set_delay(struct fake_llm *f, int delay_ms)
{
    pthread_mutex_lock(&f->mu);
    f->delay_ms = delay_ms;
    pthread_mutex_unlock(&f->mu);
}

size_t fake_llm_request_count(struct fake_llm *f)
{
    pthread_mutex_lock(&f->mu);
    size_t n = f->n_requests;
    pthread_mutex_unlock(&f->mu);
    return n;
}

bool fake_llm_wait_requests(struct fake_llm *f, size_t n, int timeout_ms)
{
    pthread_mutex_lock(&f->mu);
    bool ok = fake_cond_wait_count(&f->cv, &f->mu, &f->n_requests, n, timeout_ms);
    pthread_mutex_unlock(&f->mu);
    return ok;
}

json_t *fake_llm_request_json(struct fake_llm *f, size_t i)
{
    json_t *j = NULL;
    pthread_mutex_lock(&f->mu);
    if (i < f->n_requests)
        j = json_loads(f->requests[i].body, 0, NULL);
    pthread_mutex_unlock(&f->mu);
    return j;
}

void fake_llm_set_models(struct fake_llm *f, const char *const *ids)
{
    json_t *list = NULL;
    if (ids) {
        list = json_array();
        for (const char *const *p = ids; *p; p++)
            json_array_append_new(list, json_string(*p));
    }
    pthread_mutex_lock(&f->mu);
    json_decref(f->models);
    f->models = list;
    pthread_mutex_unlock(&f->mu);
}

char *fake_llm_request_line(struct fake_llm *f, size_t i)
{
    char *s = NULL;
    pthread_mutex_lock(&f->mu);
    if (i < f->n_requests)
        s = e2e_strdup(f->requests[i].line);
    pthread_mutex_unlock(&f->mu);
    return s;
}

char *fake_llm_request_auth(struct fake_llm *f, size_t i)
{
    char *s = NULL;
    pthread_mutex_lock(&f->mu);
    if (i < f->n_requests)
        s = e2e_strdup(f->requests[i].auth);
    pthread_mutex_unlock(&f->mu);
    return s;
}

int64_t fake_llm_request_time(struct fake_llm *f, size_t i)
{
    int64_t t = -1;
    pthread_mutex_lock(&f->mu);
    if (i < f->n_requests)
        t = f->requests[i].at_ms;
    pthread_mutex_unlock(&f->mu);
    return t;
}

static json_t *request_messages(struct fake_llm *f, size_t i, json_t **root)
{
    *root = fake_llm_request_json(f, i);
    json_t *m = json_object_get(*root, "messages");
    return json_is_array(m) ? m : NULL;
}

size_t fake_llm_request_message_count(struct fake_llm *f, size_t i)
{
    json_t *root;
    json_t *m = request_messages(f, i, &root);
    size_t n = m ? json_array_size(m) : 0;
    json_decref(root);
    return n;
}

char *fake_llm_request_role(struct fake_llm *f, size_t i, size_t j)
{
    json_t *root;
    json_t *m = request_messages(f, i, &root);
    char *s = e2e_strdup(json_string_value(json_object_get(json_array_get(m, j), "role")));
    json_decref(root);
    return s;
}

char *fake_llm_request_content(struct fake_llm *f, size_t i, size_t j)
{
    json_t *root;
    json_t *m = request_messages(f, i, &root);
    char *s = content_text(json_object_get(json_array_get(m, j), "content"));
    json_decref(root);
    return s;
}

char *fake_llm_request_last_user(struct fake_llm *f, size_t i)
{
    json_t *root;
    json_t *m = request_messages(f, i, &root);
    char *s = m ? last_user_content(m) : NULL;
    json_decref(root);
    return s;
}

static int b64_value(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    return c == '+' ? 62 : c == '/' ? 63 : -1;
}

/* Strict RFC 4648 base64 with padding: false for anything else. */
static bool b64_decode(const char *s, unsigned char **out, size_t *len)
{
    size_t n = strlen(s);
    if (n % 4)
        return false;
    unsigned char *buf = e2e_xmalloc(n / 4 * 3 + 1);
    size_t o = 0;
    for (size_t i = 0; i < n; i += 4) {
        int v[4];
        int pad = 0;
        for (int k = 0; k < 4; k++) {
            if (s[i + k] == '=' && i + 4 == n && k >= 2) {
                v[k] = 0;
                pad++;
            } else if (pad || (v[k] = b64_value(s[i + k])) < 0) {
                free(buf);
                return false;
            }
        }
        unsigned long triple = (unsigned long)v[0] << 18 | (unsigned long)v[1] << 12 | (unsigned long)v[2] << 6 |
                               (unsigned long)v[3];
        buf[o++] = (unsigned char)(triple >> 16);
        if (pad < 2)
            buf[o++] = (unsigned char)(triple >> 8);
        if (pad < 1)
            buf[o++] = (unsigned char)triple;
    }
    *out = buf;
    *len = o;
    return true;
}

size_t fake_llm_request_images(struct fake_llm *f, size_t i, struct fake_llm_image *out, size_t max)
{
    json_t *root;
    json_t *m = request_messages(f, i, &root);
    json_t *content = NULL;
    for (size_t k = json_array_size(m); k-- > 0;) {
        const char *role = json_string_value(json_object_get(json_array_get(m, k), "role"));
        if (role && strcmp(role, "user") == 0) {
            content = json_object_get(json_array_get(m, k), "content");
            break;
        }
    }
    size_t n = 0, k;
    json_t *part;
    json_array_foreach(content, k, part) {
        const char *type = json_string_value(json_object_get(part, "type"));
        if (!type || strcmp(type, "image_url") != 0)
            continue;
        if (n < max) {
            struct fake_llm_image *img = &out[n];
            memset(img, 0, sizeof *img);
            const char *url = json_string_value(json_object_get(json_object_get(part, "image_url"), "url"));
            const char *semi = url ? strstr(url, ";base64,") : NULL;
            if (url && strncmp(url, "data:", 5) == 0 && semi && (size_t)(semi - url - 5) < sizeof img->mime &&
                b64_decode(semi + 8, &img->data, &img->len))
                snprintf(img->mime, sizeof img->mime, "%.*s", (int)(semi - url - 5), url + 5);
        }
        n++;
    }
    json_decref(root);
    return n;
}

void fake_llm_images_free(struct fake_llm_image *images, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(images[i].data);
        images[i].data = NULL;
    }
}

char *fake_llm_request_transcript(struct fake_llm *f, size_t i)
{
    json_t *root;
    json_t *m = request_messages(f, i, &root);
    struct e2e_buf b = {0};
    size_t k;
    json_t *msg;
    json_array_foreach(m, k, msg) {
        char *c = content_text(json_object_get(msg, "content"));
        const char *role = json_string_value(json_object_get(msg, "role"));
        e2e_buf_addf(&b, "%s: %s\n", role ? role : "?", c ? c : "");
        free(c);
    }
    json_decref(root);
    return e2e_buf_take(&b);
}

void fake_llm_dump(struct fake_llm *f)
{
    pthread_mutex_lock(&f->mu);
    fprintf(stderr, "---- fake LLM: %zu request(s)\n", f->n_requests);
    for (size_t i = 0; i < f->n_requests; i++)
        fprintf(stderr, "  #%zu -> %d body: %.600s\n", i, f->requests[i].status, f->requests[i].body);
    pthread_mutex_unlock(&f->mu);
}

void fake_llm_answer_system(struct fake_llm *f, const char *needle, const char *content, int delay_ms)
{
    pthread_mutex_lock(&f->mu);
    size_t i = 0;
    while (i < f->n_by_system && strcmp(f->by_system[i].needle, needle) != 0)
        i++;
    if (i == f->n_by_system) {
        struct by_system rule = {.needle = e2e_strdup(needle), .content = NULL};
        FAKE_VEC_PUSH(f->by_system, f->n_by_system, f->cap_by_system, rule);
    }
    free(f->by_system[i].content);
    f->by_system[i].content = e2e_strdup(content);
    f->by_system[i].delay_ms = delay_ms;
    pthread_mutex_unlock(&f->mu);
}

size_t fake_llm_count_system(struct fake_llm *f, const char *needle)
{
    size_t n = 0;
    pthread_mutex_lock(&f->mu);
    for (size_t i = 0; i < f->n_requests; i++) {
        json_t *body = json_loads(f->requests[i].body, 0, NULL);
        char *system = system_content(json_object_get(body, "messages"));
        if (system && strstr(system, needle))
            n++;
        free(system);
        json_decref(body);
    }
    pthread_mutex_unlock(&f->mu);
    return n;
}

/* ---- voice (issue 13) ---- */

/* The value of `key`="..." in a part's header line (malloc'd), or NULL. */
static char *header_param(const char *headers, size_t len, const char *key)
{
    char *h = e2e_xmalloc(len + 1);
    memcpy(h, headers, len);
    h[len] = '\0';
    char *needle = e2e_printf("%s=\"", key), *value = NULL;
    for (char *at = strstr(h, needle); at; at = strstr(at + 1, needle)) {
        if (at != h && at[-1] != ' ' && at[-1] != ';')
            continue; /* "filename=" is no "name=" */
        char *start = at + strlen(needle), *end = strchr(start, '"');
        if (end)
            value = e2e_printf("%.*s", (int)(end - start), start);
        break;
    }
    free(needle);
    free(h);
    return value;
}

static const char *mem_find(const char *hay, size_t n, const char *needle, size_t k)
{
    for (size_t i = 0; k <= n && i <= n - k; i++)
        if (memcmp(hay + i, needle, k) == 0)
            return hay + i;
    return NULL;
}

/* POST /v1/audio/transcriptions: the multipart body read here, as RFC 7578
 * says it is laid out (the bot's encoder, libcurl, is not its own oracle). */
static void on_transcription(struct fake_llm *f, const struct fake_http_request *req, struct fake_http_response *r)
{
    struct fake_llm_transcription t = {.bearer = fake_http_has_bearer(req, f->api_key)};
    const char *ctype = fake_http_header(req, "Content-Type");
    const char *b = ctype ? strstr(ctype, "boundary=") : NULL;
    char *delim = b ? e2e_printf("\r\n--%s", b + 9) : NULL;
    bool has_file = false;
    /* Parts start after "--boundary\r\n"; prepend "\r\n" so each delimiter looks alike. */
    size_t n = req->body_len + 2;
    char *body = e2e_xmalloc(n + 1);
    memcpy(body, "\r\n", 2);
    memcpy(body + 2, req->body, req->body_len);
    const char *at = delim ? mem_find(body, n, delim, strlen(delim)) : NULL;
    while (at) {
        const char *part = at + strlen(delim);
        if (part + 2 > body + n || memcmp(part, "--", 2) == 0)
            break; /* the closing delimiter */
        part += 2; /* CRLF */
        const char *next = mem_find(part, (size_t)(body + n - part), delim, strlen(delim));
        const char *end_headers = next ? mem_find(part, (size_t)(next - part), "\r\n\r\n", 4) : NULL;
        if (!end_headers)
            break;
        const char *data = end_headers + 4;
        size_t len = (size_t)(next - data);
        char *name = header_param(part, (size_t)(end_headers - part), "name");
        char *filename = header_param(part, (size_t)(end_headers - part), "filename");
        if (name && strcmp(name, "model") == 0) {
            snprintf(t.model, sizeof t.model, "%.*s", (int)len, data);
        } else if (name && strcmp(name, "file") == 0) {
            has_file = true;
            snprintf(t.filename, sizeof t.filename, "%s", filename ? filename : "");
            const char *type = mem_find(part, (size_t)(end_headers - part), "Content-Type: ", 14);
            if (type) {
                const char *eol = mem_find(type, (size_t)(end_headers + 2 - type), "\r\n", 2);
                snprintf(t.type, sizeof t.type, "%.*s", (int)(eol - type - 14), type + 14);
            }
            t.same_bytes = f->audio && len == f->audio_len && memcmp(data, f->audio, len) == 0;
        }
        free(name);
        free(filename);
        at = next;
    }
    free(body);
    free(delim);
    size_t fl = strlen(t.filename);
    if (!t.bearer) {
        openai_error(r, 401, "Incorrect API key provided", "invalid_request_error", "invalid_api_key");
    } else if (!has_file || fl < 4 || strcmp(t.filename + fl - 4, ".m4a") != 0) {
        openai_error(r, 400, "Invalid file format. Supported formats: ['flac', 'm4a', 'mp3', 'mp4', 'mpeg', "
                     "'mpga', 'oga', 'ogg', 'wav', 'webm']", "invalid_request_error", "invalid_value");
    } else if (!t.model[0]) {
        openai_error(r, 400, "you must provide a model parameter", "invalid_request_error", "missing_model");
    } else if (f->next_status) {
        r->status = f->next_status;
        r->body = e2e_strdup(f->next_body);
        f->next_status = 0;
    } else {
        fake_http_respond_json(r, 200, json_pack("{s:s,s:{s:s,s:i,s:i,s:i}}", "text",
                                                 f->transcript ? f->transcript : "", "usage", "type", "tokens",
                                                 "input_tokens", 40, "output_tokens", 8, "total_tokens", 48));
    }
    FAKE_VEC_PUSH(f->transcriptions, f->n_transcriptions, f->cap_transcriptions, t);
    pthread_cond_broadcast(&f->cv);
}

void fake_llm_set_audio(struct fake_llm *f, const void *recording, size_t len, const char *transcript)
{
    pthread_mutex_lock(&f->mu);
    free(f->audio);
    f->audio = e2e_xmalloc(len ? len : 1);
    memcpy(f->audio, recording, len);
    f->audio_len = len;
    free(f->transcript);
    f->transcript = e2e_strdup(transcript);
    pthread_mutex_unlock(&f->mu);
}

void fake_llm_push_transcription(struct fake_llm *f, int status, const char *body)
{
    pthread_mutex_lock(&f->mu);
    f->next_status = status;
    free(f->next_body);
    f->next_body = e2e_strdup(body ? body : "");
    pthread_mutex_unlock(&f->mu);
}

size_t fake_llm_transcriptions(struct fake_llm *f, struct fake_llm_transcription *out, size_t max)
{
    pthread_mutex_lock(&f->mu);
    size_t n = f->n_transcriptions;
    for (size_t i = 0; i < n && i < max; i++)
        out[i] = f->transcriptions[i];
    pthread_mutex_unlock(&f->mu);
    return n;
}

int fake_llm_request_audio(struct fake_llm *f, size_t i)
{
    json_t *root;
    json_t *m = request_messages(f, i, &root);
    int found = -1;
    size_t k, p;
    json_t *msg, *part;
    json_array_foreach(m, k, msg) {
        json_array_foreach(json_object_get(msg, "content"), p, part) {
            const char *type = json_string_value(json_object_get(part, "type"));
            if (!type || strcmp(type, "input_audio") != 0)
                continue;
            const char *url = json_string_value(json_object_get(json_object_get(part, "input_audio"), "data"));
            static const char prefix[] = "data:audio/mp4;base64,";
            unsigned char *data = NULL;
            size_t len = 0;
            pthread_mutex_lock(&f->mu);
            found = url && strncmp(url, prefix, sizeof prefix - 1) == 0 &&
                    b64_decode(url + sizeof prefix - 1, &data, &len) && f->audio && len == f->audio_len &&
                    memcmp(data, f->audio, len) == 0;
            pthread_mutex_unlock(&f->mu);
            free(data);
        }
    }
    json_decref(root);
    return found;
}
