/* fake_line.c - the strict fake LINE Messaging API (see fake_line.h).
 *
 * One mutex guards all state. The server threads validate a request the way
 * LINE does, record it, and broadcast the condition variable; tests read
 * snapshots and wait on the same variable. Records are only ever appended, and
 * their strings live until fake_line_stop(), so a snapshot can hand them out. */
#include "fake_line.h"

#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "e2e_util.h"
#include "fake_common.h"
#include "fake_http.h"

struct token {
    char *token;
    char *chat_id;
    int64_t expires_ms; /* e2e_mono_ms() */
    bool used;
};

struct member_name {
    char *chat_id; /* NULL for /v2/bot/profile */
    char *user_id;
    char *name;
    char *language; /* /v2/bot/profile only, NULL: none (no consent) */
};

struct fault {
    char *prefix;
    int status;
    int count;
    bool after_delivery; /* LINE did the work, then the answer was lost */
};

struct delay {
    char *prefix;
    int ms;
};

struct accepted_key {
    char *key;
    char *request_id;
    char *sent_json; /* sentMessages array of the accepted push */
};

struct content_item {
    char *message_id;
    unsigned char *data;
    size_t len;
    char *content_type; /* what the header claims */
    int not_ready;      /* 202s left before the bytes */
    int processing;     /* transcoding: "processing" answers left */
    bool transcode_fails;
};

struct fake_line {
    struct content_item *contents;
    size_t n_contents, cap_contents;
    struct fake_http *http;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    char *access_token;
    char url[64];
    uint64_t next_id;
    size_t n_deliveries;

    struct token *tokens;
    size_t n_tokens, cap_tokens;
    char **quote_tokens;
    size_t n_quote_tokens, cap_quote_tokens;
    struct member_name *names;
    size_t n_names, cap_names;
    struct fault *faults;
    size_t n_faults, cap_faults;
    struct delay *delays;
    size_t n_delays, cap_delays;
    struct accepted_key *keys;
    size_t n_keys, cap_keys;
    struct fake_line_message *messages;
    size_t n_messages, cap_messages;
    struct fake_line_request *requests;
    size_t n_requests, cap_requests;
    char *bot_name, *bot_basic_id;      /* GET /v2/bot/info */
    char *webhook_endpoint;             /* "" when none is registered */
    bool webhook_active;
    bool test_success;                  /* the verdict of webhook/test */
    int test_status_code;
    char *test_reason, *test_detail;
    long long quota_limit;              /* GET /v2/bot/message/quota; < 0: type "none" */
    long long quota_used;               /* totalUsage before the pushes counted since */
    size_t quota_pushes_at;             /* accepted pushes when the quota was set */
    char **loading_chats; /* accepted loading/start chat ids */
    size_t n_loading, cap_loading;
};

#define E2E_FAKE_BOT_USER_ID "Ue2ebot00000000000000000000000000"

/* LINE's error answers: {"message":...[,"details":[{"message":...,"property":...}]]}. */
static void set_error(struct fake_http_response *r, int status, const char *message,
                      const char *property, const char *detail)
{
    json_t *o = json_pack("{s:s}", "message", message);
    if (property) {
        json_object_set_new(o, "details",
                            json_pack("[{s:s,s:s}]", "message", detail, "property", property));
    }
    fake_http_respond_json(r, status, o);
}

static struct token *find_token(struct fake_line *f, const char *token)
{
    for (size_t i = 0; i < f->n_tokens; i++)
        if (strcmp(f->tokens[i].token, token) == 0)
            return &f->tokens[i];
    return NULL;
}

static bool known_quote_token(struct fake_line *f, const char *q)
{
    for (size_t i = 0; i < f->n_quote_tokens; i++)
        if (strcmp(f->quote_tokens[i], q) == 0)
            return true;
    return false;
}

/* LINE's checks on a message's "quickReply": 1..13 items, each
 * {"type":"action","action":{...}}; a postback action has a label of 1..20
 * characters, data of 1..300 and, as the bot must always send it, a
 * displayText of 1..300 (UTF-16 units, as LINE counts). `prop` names the
 * message. Returns true when valid, else fills `r`. */
static bool validate_quick_reply(json_t *qr, const char *msg_prop, struct fake_http_response *r)
{
    char prop[128], detail[160];
    json_t *items = json_object_get(qr, "items");
    snprintf(prop, sizeof prop, "%s.quickReply.items", msg_prop);
    if (!json_is_object(qr) || !json_is_array(items) || json_array_size(items) < 1 || json_array_size(items) > 13) {
        set_error(r, 400, "The request body has 1 error(s)", prop, "Size must be between 1 and 13");
        return false;
    }
    for (size_t k = 0; k < json_array_size(items); k++) {
        json_t *item = json_array_get(items, k);
        json_t *action = json_object_get(item, "action");
        snprintf(prop, sizeof prop, "%s.quickReply.items[%zu]", msg_prop, k);
        const char *type = json_string_value(json_object_get(item, "type"));
        const char *atype = json_string_value(json_object_get(action, "type"));
        if (!type || strcmp(type, "action") != 0 || !json_is_object(action) || !atype ||
            strcmp(atype, "postback") != 0) {
            set_error(r, 400, "The request body has 1 error(s)", prop,
                      "The fake accepts postback actions only (the bot sends nothing else)");
            return false;
        }
        static const struct {
            const char *field;
            size_t max;
        } limits[] = {{"label", 20}, {"data", 300}, {"displayText", 300}};
        for (size_t l = 0; l < sizeof limits / sizeof limits[0]; l++) {
            json_t *v = json_object_get(action, limits[l].field);
            snprintf(prop, sizeof prop, "%s.quickReply.items[%zu].action.%s", msg_prop, k, limits[l].field);
            size_t units = json_is_string(v) ? e2e_utf16_len(json_string_value(v), json_string_length(v)) : 0;
            if (units < 1 || units > limits[l].max) {
                snprintf(detail, sizeof detail, "Length must be between 1 and %zu (got %zu)", limits[l].max,
                         units);
                set_error(r, 400, "The request body has 1 error(s)", prop, detail);
                return false;
            }
        }
    }
    return true;
}

/* LINE's checks on "messages". Returns true when valid, else fills `r`. */
static bool validate_messages(struct fake_line *f, json_t *messages, struct fake_http_response *r)
{
    char prop[64], detail[160];
    if (!json_is_array(messages)) {
        set_error(r, 400, "The request body has 1 error(s)", "messages", "Must be specified");
        return false;
    }
    size_t n = json_array_size(messages);
    if (n < 1 || n > 5) {
        set_error(r, 400, "The request body has 1 error(s)", "messages",
                  "Size must be between 1 and 5");
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        json_t *m = json_array_get(messages, i);
        snprintf(prop, sizeof prop, "messages[%zu]", i);
        if (!json_is_object(m)) {
            set_error(r, 400, "The request body has 1 error(s)", prop, "Must be an object");
            return false;
        }
        const char *type = json_string_value(json_object_get(m, "type"));
        if (!type || strcmp(type, "text") != 0) {
            snprintf(prop, sizeof prop, "messages[%zu].type", i);
            set_error(r, 400, "The request body has 1 error(s)", prop,
                      "The fake accepts text messages only (the bot sends nothing else)");
            return false;
        }
        json_t *text = json_object_get(m, "text");
        snprintf(prop, sizeof prop, "messages[%zu].text", i);
        if (!json_is_string(text)) {
            set_error(r, 400, "The request body has 1 error(s)", prop, "Must be specified");
            return false;
        }
        size_t units = e2e_utf16_len(json_string_value(text), json_string_length(text));
        if (units == 0) {
            set_error(r, 400, "The request body has 1 error(s)", prop, "May not be empty");
            return false;
        }
        if (units > 5000) {
            snprintf(detail, sizeof detail, "Length must be between 0 and 5000 (got %zu)", units);
            set_error(r, 400, "The request body has 1 error(s)", prop, detail);
            return false;
        }
        json_t *q = json_object_get(m, "quoteToken");
        if (q && (!json_is_string(q) || !known_quote_token(f, json_string_value(q)))) {
            snprintf(prop, sizeof prop, "messages[%zu].quoteToken", i);
            set_error(r, 400, "The request body has 1 error(s)", prop, "Invalid quote token");
            return false;
        }
        json_t *qr = json_object_get(m, "quickReply");
        snprintf(prop, sizeof prop, "messages[%zu]", i);
        if (qr && !validate_quick_reply(qr, prop, r))
            return false;
    }
    return true;
}

/* Records the messages as delivered; returns the sentMessages array (new ref). */
static json_t *deliver(struct fake_line *f, const char *api, const char *chat_id,
                       const char *reply_token, const char *retry_key, json_t *messages)
{
    json_t *sent = json_array();
    size_t delivery = f->n_deliveries++;
    int64_t now = e2e_mono_ms();
    for (size_t i = 0; i < json_array_size(messages); i++) {
        json_t *m = json_array_get(messages, i);
        char id[32], quote[48];
        uint64_t n = f->next_id++;
        snprintf(id, sizeof id, "%llu", (unsigned long long)n);
        snprintf(quote, sizeof quote, "qFake%llu", (unsigned long long)n);
        struct fake_line_message msg = {
            .api = api,
            .chat_id = e2e_strdup(chat_id),
            .text = e2e_strdup(json_string_value(json_object_get(m, "text"))),
            .reply_token = e2e_strdup(reply_token),
            .retry_key = e2e_strdup(retry_key),
            .quote_token = e2e_strdup(json_string_value(json_object_get(m, "quoteToken"))),
            .id = e2e_strdup(id),
            .delivery = delivery,
            .at_ms = now,
        };
        FAKE_VEC_PUSH(f->messages, f->n_messages, f->cap_messages, msg);
        FAKE_VEC_PUSH(f->quote_tokens, f->n_quote_tokens, f->cap_quote_tokens, e2e_strdup(quote));
        json_array_append_new(sent, json_pack("{s:s,s:s}", "id", id, "quoteToken", quote));
    }
    return sent;
}

static void new_request_id(struct fake_line *f, char out[37])
{
    uint64_t n = f->next_id++;
    snprintf(out, 37, "00000000-0000-4000-8000-%012llx", (unsigned long long)(n & 0xffffffffffffULL));
}

static void handle_reply(struct fake_line *f, json_t *body, struct fake_http_response *r)
{
    json_t *tok = json_object_get(body, "replyToken");
    if (!json_is_string(tok) || json_string_length(tok) == 0) {
        set_error(r, 400, "The request body has 1 error(s)", "replyToken", "Must be specified");
        return;
    }
    if (!validate_messages(f, json_object_get(body, "messages"), r))
        return;
    struct token *t = find_token(f, json_string_value(tok));
    if (!t || t->used || e2e_mono_ms() > t->expires_ms) {
        set_error(r, 400, "Invalid reply token", NULL, NULL);
        return;
    }
    t->used = true;
    json_t *sent = deliver(f, "reply", t->chat_id, t->token, NULL, json_object_get(body, "messages"));
    fake_http_respond_json(r, 200, json_pack("{s:o}", "sentMessages", sent));
}

static void handle_push(struct fake_line *f, const struct fake_http_request *req, json_t *body,
                        struct fake_http_response *r)
{
    const char *key = fake_http_header(req, "X-Line-Retry-Key");
    if (key && !e2e_is_uuid(key)) {
        set_error(r, 400, "The value of the X-Line-Retry-Key header is invalid", NULL, NULL);
        return;
    }
    if (key) {
        for (size_t i = 0; i < f->n_keys; i++) {
            if (strcasecmp(f->keys[i].key, key) == 0) {
                fake_http_respond_json(r, 409,
                                       json_pack("{s:s,s:o}", "message", "The retry key is already accepted",
                                                 "sentMessages", json_loads(f->keys[i].sent_json, 0, NULL)));
                fake_http_response_header(r, "x-line-accepted-request-id", f->keys[i].request_id);
                return;
            }
        }
    }
    json_t *to = json_object_get(body, "to");
    if (!json_is_string(to) || json_string_length(to) == 0) {
        set_error(r, 400, "The request body has 1 error(s)", "to", "Must be specified");
        return;
    }
    if (!validate_messages(f, json_object_get(body, "messages"), r))
        return;
    json_t *sent = deliver(f, "push", json_string_value(to), NULL, key, json_object_get(body, "messages"));
    if (key) {
        char rid[37];
        new_request_id(f, rid);
        struct accepted_key k = {
            .key = e2e_strdup(key),
            .request_id = e2e_strdup(rid),
            .sent_json = json_dumps(sent, JSON_COMPACT),
        };
        FAKE_VEC_PUSH(f->keys, f->n_keys, f->cap_keys, k);
    }
    fake_http_respond_json(r, 200, json_pack("{s:o}", "sentMessages", sent));
}

static void handle_loading(struct fake_line *f, json_t *body, struct fake_http_response *r)
{
    json_t *chat = json_object_get(body, "chatId");
    if (!json_is_string(chat) || json_string_value(chat)[0] != 'U') {
        set_error(r, 400, "The request body has 1 error(s)", "chatId",
                  "Must be the user ID of a one-to-one chat");
        return;
    }
    json_t *secs = json_object_get(body, "loadingSeconds");
    if (secs) {
        json_int_t v = json_is_integer(secs) ? json_integer_value(secs) : -1;
        if (v < 5 || v > 60 || v % 5 != 0) {
            set_error(r, 400, "The request body has 1 error(s)", "loadingSeconds",
                      "Must be a multiple of 5 between 5 and 60");
            return;
        }
    }
    FAKE_VEC_PUSH(f->loading_chats, f->n_loading, f->cap_loading, e2e_strdup(json_string_value(chat)));
    fake_http_respond(r, 202, "{}");
}

static void handle_name(struct fake_line *f, const char *chat_id, const char *user_id,
                        struct fake_http_response *r)
{
    for (size_t i = 0; i < f->n_names; i++) {
        struct member_name *m = &f->names[i];
        bool chat_ok = chat_id ? (m->chat_id && strcmp(m->chat_id, chat_id) == 0) : !m->chat_id;
        if (chat_ok && strcmp(m->user_id, user_id) == 0) {
            json_t *profile = json_pack("{s:s,s:s,s:s}", "displayName", m->name, "userId", user_id,
                                        "pictureUrl", "https://profile.line-scdn.net/fake");
            if (m->language)
                json_object_set_new(profile, "language", json_string(m->language));
            fake_http_respond_json(r, 200, profile);
            return;
        }
    }
    set_error(r, 404, "Not found", NULL, NULL);
}

/* LINE's rules for a webhook URL: https, at most 500 characters. */
static bool webhook_url_ok(json_t *endpoint, struct fake_http_response *r)
{
    const char *url = json_string_value(endpoint);
    if (!url || strncmp(url, "https://", 8) != 0 || strlen(url) <= 8) {
        set_error(r, 400, "The request body has 1 error(s)", "endpoint", "Must be a valid HTTPS URL");
        return false;
    }
    if (strlen(url) > 500) {
        set_error(r, 400, "The request body has 1 error(s)", "endpoint", "Size must be between 0 and 500");
        return false;
    }
    return true;
}

static void handle_webhook_set(struct fake_line *f, json_t *body, struct fake_http_response *r)
{
    json_t *endpoint = json_object_get(body, "endpoint");
    if (!webhook_url_ok(endpoint, r))
        return;
    free(f->webhook_endpoint);
    f->webhook_endpoint = e2e_strdup(json_string_value(endpoint));
    fake_http_respond(r, 200, "{}");
}

static void handle_webhook_test(struct fake_line *f, json_t *body, struct fake_http_response *r)
{
    json_t *endpoint = json_object_get(body, "endpoint");
    if (endpoint && !webhook_url_ok(endpoint, r))
        return;
    if (!endpoint && !f->webhook_endpoint[0]) {
        set_error(r, 400, "Webhook URL is not set", NULL, NULL);
        return;
    }
    char ts[40];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S.000Z", &tm);
    fake_http_respond_json(r, 200,
                           json_pack("{s:b,s:s,s:i,s:s,s:s}", "success", f->test_success, "timestamp", ts,
                                     "statusCode", f->test_status_code, "reason", f->test_reason, "detail",
                                     f->test_detail));
}

/* Splits "/v2/bot/{kind}/{id}/member/{user}" into id and user. */
static bool parse_member_path(const char *path, const char *kind, char *id, char *user, size_t cap)
{
    char prefix[32];
    snprintf(prefix, sizeof prefix, "/v2/bot/%s/", kind);
    if (!fake_starts_with(path, prefix))
        return false;
    const char *p = path + strlen(prefix);
    const char *slash = strstr(p, "/member/");
    if (!slash || slash == p)
        return false;
    const char *u = slash + strlen("/member/");
    if (!*u || strchr(u, '/') || (size_t)(slash - p) >= cap || strlen(u) >= cap)
        return false;
    memcpy(id, p, (size_t)(slash - p));
    id[slash - p] = '\0';
    strcpy(user, u);
    return true;
}

/* Push requests accepted so far (under f->mu). */
static size_t accepted_pushes(struct fake_line *f)
{
    size_t n = 0;
    for (size_t i = 0; i < f->n_requests; i++)
        if (strcmp(f->requests[i].path, FAKE_LINE_PUSH_PATH) == 0 && f->requests[i].status == 200)
            n++;
    return n;
}

static struct content_item *find_content(struct fake_line *f, const char *id, size_t id_len)
{
    for (size_t i = 0; i < f->n_contents; i++)
        if (strlen(f->contents[i].message_id) == id_len && strncmp(f->contents[i].message_id, id, id_len) == 0)
            return &f->contents[i];
    return NULL;
}

/* GET /v2/bot/message/{id}/content[/transcoding], and /external/{id} (no
 * auth: someone else's server). Returns false for other paths. */
static bool route_content(struct fake_line *f, const struct fake_http_request *req, struct fake_http_response *r)
{
    static const char prefix[] = "/v2/bot/message/";
    static const char external[] = FAKE_LINE_EXTERNAL_PATH;
    const char *id, *tail;
    if (fake_starts_with(req->path, external)) {
        id = req->path + strlen(external);
        tail = id + strlen(id);
    } else if (fake_starts_with(req->path, prefix)) {
        id = req->path + strlen(prefix);
        tail = strchr(id, '/');
        if (!tail || (strcmp(tail, "/content") != 0 && strcmp(tail, "/content/transcoding") != 0))
            return false;
        if (!fake_http_has_bearer(req, f->access_token)) {
            set_error(r, 401, "Authentication failed.", NULL, NULL);
            return true;
        }
    } else {
        return false;
    }
    if (strcmp(req->method, "GET") != 0) {
        set_error(r, 405, "Method Not Allowed", NULL, NULL);
        return true;
    }
    struct content_item *c = find_content(f, id, (size_t)(tail - id));
    if (!c) {
        set_error(r, 404, "Not found", NULL, NULL);
    } else if (strcmp(tail, "/content/transcoding") == 0) {
        const char *status = c->processing > 0 ? "processing" : c->transcode_fails ? "failed" : "succeeded";
        if (c->processing > 0)
            c->processing--;
        fake_http_respond_json(r, 200, json_pack("{s:s}", "status", status));
    } else if (c->not_ready > 0) {
        c->not_ready--;
        fake_http_respond(r, 202, "");
    } else {
        fake_http_respond_bytes(r, 200, c->data, c->len, c->content_type);
    }
    return true;
}

static void route(struct fake_line *f, const struct fake_http_request *req,
                  struct fake_http_response *r)
{
    if (route_content(f, req, r))
        return;
    for (size_t i = 0; i < f->n_delays; i++)
        if (f->delays[i].ms > 0 && fake_starts_with(req->path, f->delays[i].prefix))
            r->delay_ms = f->delays[i].ms;

    if (!fake_http_has_bearer(req, f->access_token)) {
        set_error(r, 401, "Authentication failed. Confirm that the access token in the "
                          "authorization header is valid.", NULL, NULL);
        return;
    }
    for (size_t i = 0; i < f->n_faults; i++) {
        struct fault *fl = &f->faults[i];
        if (fl->count > 0 && !fl->after_delivery && fake_starts_with(req->path, fl->prefix)) {
            fl->count--;
            set_error(r, fl->status, "scripted failure", NULL, NULL);
            return;
        }
    }

    bool is_post = strcmp(req->method, "POST") == 0;
    bool is_get = strcmp(req->method, "GET") == 0;
    char id[256], user[256];
    if (strcmp(req->path, FAKE_LINE_REPLY_PATH) == 0 || strcmp(req->path, FAKE_LINE_PUSH_PATH) == 0 ||
        strcmp(req->path, FAKE_LINE_LOADING_PATH) == 0) {
        if (!is_post) {
            set_error(r, 405, "Method Not Allowed", NULL, NULL);
            return;
        }
        const char *ct = fake_http_header(req, "Content-Type");
        if (!ct || strncasecmp(ct, "application/json", 16) != 0) {
            set_error(r, 415, "Unsupported Media Type (Content-Type must be application/json)",
                      NULL, NULL);
            return;
        }
        json_error_t jerr;
        json_t *body = json_loadb(req->body, req->body_len, 0, &jerr);
        if (!json_is_object(body)) {
            json_decref(body);
            set_error(r, 400, "The request body has 1 error(s)", "body", "Invalid JSON");
            return;
        }
        if (strcmp(req->path, FAKE_LINE_REPLY_PATH) == 0)
            handle_reply(f, body, r);
        else if (strcmp(req->path, FAKE_LINE_PUSH_PATH) == 0)
            handle_push(f, req, body, r);
        else
            handle_loading(f, body, r);
        json_decref(body);
    } else if (strcmp(req->path, FAKE_LINE_QUOTA_PATH) == 0 ||
               strcmp(req->path, FAKE_LINE_QUOTA_PATH "/consumption") == 0) {
        if (!is_get)
            set_error(r, 405, "Method Not Allowed", NULL, NULL);
        else if (strcmp(req->path, FAKE_LINE_QUOTA_PATH) == 0)
            fake_http_respond_json(r, 200, f->quota_limit < 0 ? json_pack("{s:s}", "type", "none")
                                                              : json_pack("{s:s,s:I}", "type", "limited", "value",
                                                                          (json_int_t)f->quota_limit));
        else
            fake_http_respond_json(r, 200, json_pack("{s:I}", "totalUsage",
                                                     (json_int_t)(f->quota_used + (long long)(accepted_pushes(f) -
                                                                                              f->quota_pushes_at))));
  } else if (strcmp(req->path, FAKE_LINE_BOT_INFO_PATH) == 0) {
        if (!is_get)
            set_error(r, 405, "Method Not Allowed", NULL, NULL);
        else
            fake_http_respond_json(r, 200,
                                   json_pack("{s:s,s:s,s:s,s:s,s:s}", "userId", E2E_FAKE_BOT_USER_ID, "basicId",
                                             f->bot_basic_id, "displayName", f->bot_name, "chatMode", "bot",
                                             "markAsReadMode", "auto"));
    } else if (strcmp(req->path, FAKE_LINE_WEBHOOK_PATH) == 0 && is_get) {
        fake_http_respond_json(r, 200, json_pack("{s:s,s:b}", "endpoint", f->webhook_endpoint, "active",
                                                 f->webhook_active));
    } else if ((strcmp(req->path, FAKE_LINE_WEBHOOK_PATH) == 0 && strcmp(req->method, "PUT") == 0) ||
               (strcmp(req->path, FAKE_LINE_WEBHOOK_TEST_PATH) == 0 && is_post)) {
        const char *ct = fake_http_header(req, "Content-Type");
        json_t *body = json_loadb(req->body, req->body_len, 0, NULL);
        if (!ct || strncasecmp(ct, "application/json", 16) != 0)
            set_error(r, 415, "Unsupported Media Type (Content-Type must be application/json)", NULL, NULL);
        else if (!json_is_object(body))
            set_error(r, 400, "The request body has 1 error(s)", "body", "Invalid JSON");
        else if (strcmp(req->path, FAKE_LINE_WEBHOOK_PATH) == 0)
            handle_webhook_set(f, body, r);
        else
            handle_webhook_test(f, body, r);
        json_decref(body);
    } else if (strcmp(req->path, FAKE_LINE_WEBHOOK_PATH) == 0 || strcmp(req->path, FAKE_LINE_WEBHOOK_TEST_PATH) == 0) {
        set_error(r, 405, "Method Not Allowed", NULL, NULL);
    } else if (fake_starts_with(req->path, "/v2/bot/profile/")) {
        const char *u = req->path + strlen("/v2/bot/profile/");
        if (!is_get)
            set_error(r, 405, "Method Not Allowed", NULL, NULL);
        else if (!*u || strchr(u, '/'))
            set_error(r, 404, "Not found", NULL, NULL);
        else
            handle_name(f, NULL, u, r);
    } else if (parse_member_path(req->path, "group", id, user, sizeof id) ||
               parse_member_path(req->path, "room", id, user, sizeof id)) {
        if (!is_get)
            set_error(r, 405, "Method Not Allowed", NULL, NULL);
        else
            handle_name(f, id, user, r);
    } else {
        set_error(r, 404, "Not found", NULL, NULL);
    }
    if (r->status >= 200 && r->status < 300) {
        for (size_t i = 0; i < f->n_faults; i++) {
            struct fault *fl = &f->faults[i];
            if (fl->count > 0 && fl->after_delivery && fake_starts_with(req->path, fl->prefix)) {
                fl->count--;
                fake_http_response_clear(r);
                set_error(r, fl->status, "scripted failure after delivery", NULL, NULL);
                return;
            }
        }
    }
}

static void on_request(void *ctx, const struct fake_http_request *req, struct fake_http_response *r)
{
    struct fake_line *f = ctx;
    pthread_mutex_lock(&f->mu);
    route(f, req, r);
    char rid[37];
    new_request_id(f, rid);
    fake_http_response_header(r, "x-line-request-id", rid);
    struct fake_line_request rec = {
        .method = e2e_strdup(req->method),
        .path = e2e_strdup(req->path),
        .status = r->status,
        .body = e2e_strdup(req->body),
        .authorization = e2e_strdup(fake_http_header(req, "Authorization")),
        .retry_key = e2e_strdup(fake_http_header(req, "X-Line-Retry-Key")),
        .response = e2e_strdup(r->body ? r->body : ""),
        .at_ms = e2e_mono_ms(),
    };
    FAKE_VEC_PUSH(f->requests, f->n_requests, f->cap_requests, rec);
    pthread_cond_broadcast(&f->cv);
    pthread_mutex_unlock(&f->mu);
}

struct fake_line *fake_line_start(const char *access_token)
{
    struct fake_line *f = calloc(1, sizeof *f);
    if (!f)
        return NULL;
    pthread_mutex_init(&f->mu, NULL);
    fake_cond_init(&f->cv);
    f->access_token = e2e_strdup(access_token);
    f->next_id = 500000000000000001ULL;
    f->bot_name = e2e_strdup("E2E Bot");
    f->quota_limit = -1;
    f->bot_basic_id = e2e_strdup("@e2ebot");
    f->webhook_endpoint = e2e_strdup("");
    f->test_success = true;
    f->test_status_code = 200;
    f->test_reason = e2e_strdup("OK");
    f->test_detail = e2e_strdup("200");
    f->http = fake_http_start(on_request, f, 4u << 20);
    if (!f->http) {
        free(f->access_token);
        free(f);
        return NULL;
    }
    snprintf(f->url, sizeof f->url, "http://127.0.0.1:%d", fake_http_port(f->http));
    return f;
}

int fake_line_port(const struct fake_line *f)
{
    return fake_http_port(f->http);
}

const char *fake_line_url(const struct fake_line *f)
{
    return f->url;
}

void fake_line_stop(struct fake_line *f)
{
    if (!f)
        return;
    fake_http_stop(f->http);
    for (size_t i = 0; i < f->n_tokens; i++) {
        free(f->tokens[i].token);
        free(f->tokens[i].chat_id);
    }
    for (size_t i = 0; i < f->n_quote_tokens; i++)
        free(f->quote_tokens[i]);
    for (size_t i = 0; i < f->n_names; i++) {
        free(f->names[i].chat_id);
        free(f->names[i].user_id);
        free(f->names[i].name);
        free(f->names[i].language);
    }
    for (size_t i = 0; i < f->n_faults; i++)
        free(f->faults[i].prefix);
    for (size_t i = 0; i < f->n_delays; i++)
        free(f->delays[i].prefix);
    for (size_t i = 0; i < f->n_keys; i++) {
        free(f->keys[i].key);
        free(f->keys[i].request_id);
        free(f->keys[i].sent_json);
    }
    for (size_t i = 0; i < f->n_messages; i++) {
        struct fake_line_message *m = &f->messages[i];
        free((char *)m->chat_id);
        free((char *)m->text);
        free((char *)m->reply_token);
        free((char *)m->retry_key);
        free((char *)m->quote_token);
        free((char *)m->id);
    }
    for (size_t i = 0; i < f->n_requests; i++) {
        struct fake_line_request *q = &f->requests[i];
        free((char *)q->method);
        free((char *)q->path);
        free((char *)q->body);
        free((char *)q->authorization);
        free((char *)q->retry_key);
        free((char *)q->response);
    }
    for (size_t i = 0; i < f->n_loading; i++)
        free(f->loading_chats[i]);
    for (size_t i = 0; i < f->n_contents; i++) {
        free(f->contents[i].message_id);
        free(f->contents[i].data);
        free(f->contents[i].content_type);
    }
    free(f->contents);
    free(f->tokens);
    free(f->quote_tokens);
    free(f->names);
    free(f->faults);
    free(f->delays);
    free(f->keys);
    free(f->messages);
    free(f->requests);
    free(f->loading_chats);
    free(f->bot_name);
    free(f->bot_basic_id);
    free(f->webhook_endpoint);
    free(f->test_reason);
    free(f->test_detail);
    free(f->access_token);
    pthread_cond_destroy(&f->cv);
    pthread_mutex_destroy(&f->mu);
    free(f);
}

void fake_line_issue_token(struct fake_line *f, const char *token, int ttl_ms)
{
    fake_line_issue_token_for(f, token, NULL, ttl_ms);
}

void fake_line_issue_token_for(struct fake_line *f, const char *token, const char *chat_id,
                               int ttl_ms)
{
    pthread_mutex_lock(&f->mu);
    struct token *t = find_token(f, token);
    if (t) {
        free(t->chat_id);
        t->chat_id = e2e_strdup(chat_id);
        t->expires_ms = e2e_mono_ms() + ttl_ms;
        t->used = false;
    } else {
        struct token n = {
            .token = e2e_strdup(token),
            .chat_id = e2e_strdup(chat_id),
            .expires_ms = e2e_mono_ms() + ttl_ms,
        };
        FAKE_VEC_PUSH(f->tokens, f->n_tokens, f->cap_tokens, n);
    }
    pthread_mutex_unlock(&f->mu);
}

void fake_line_consume_token(struct fake_line *f, const char *token)
{
    pthread_mutex_lock(&f->mu);
    struct token *t = find_token(f, token);
    if (t)
        t->used = true;
    pthread_mutex_unlock(&f->mu);
}

void fake_line_add_quote_token(struct fake_line *f, const char *quote_token)
{
    pthread_mutex_lock(&f->mu);
    FAKE_VEC_PUSH(f->quote_tokens, f->n_quote_tokens, f->cap_quote_tokens, e2e_strdup(quote_token));
    pthread_mutex_unlock(&f->mu);
}

void fake_line_set_name(struct fake_line *f, const char *chat_id, const char *user_id,
                        const char *name)
{
    if (chat_id && strcmp(chat_id, user_id) == 0)
        chat_id = NULL;
    struct member_name m = {
        .chat_id = e2e_strdup(chat_id),
        .user_id = e2e_strdup(user_id),
        .name = e2e_strdup(name),
    };
    pthread_mutex_lock(&f->mu);
    FAKE_VEC_PUSH(f->names, f->n_names, f->cap_names, m);
    pthread_mutex_unlock(&f->mu);
}

void fake_line_set_profile(struct fake_line *f, const char *user_id, const char *name, const char *language)
{
    struct member_name m = {
        .user_id = e2e_strdup(user_id),
        .name = e2e_strdup(name),
        .language = language ? e2e_strdup(language) : NULL,
    };
    pthread_mutex_lock(&f->mu);
    FAKE_VEC_PUSH(f->names, f->n_names, f->cap_names, m);
    pthread_mutex_unlock(&f->mu);
}

void fake_line_set_bot_info(struct fake_line *f, const char *display_name, const char *basic_id)
{
    pthread_mutex_lock(&f->mu);
    free(f->bot_name);
    free(f->bot_basic_id);
    f->bot_name = e2e_strdup(display_name);
    f->bot_basic_id = e2e_strdup(basic_id);
    pthread_mutex_unlock(&f->mu);
}

void fake_line_set_quota(struct fake_line *f, long long limit, long long used)
{
    pthread_mutex_lock(&f->mu);
    f->quota_limit = limit;
    f->quota_used = used;
    f->quota_pushes_at = accepted_pushes(f);
    pthread_mutex_unlock(&f->mu);
}

void fake_line_set_webhook(struct fake_line *f, const char *endpoint, bool active)
{
    pthread_mutex_lock(&f->mu);
    free(f->webhook_endpoint);
    f->webhook_endpoint = e2e_strdup(endpoint ? endpoint : "");
    f->webhook_active = active;
    pthread_mutex_unlock(&f->mu);
}

char *fake_line_webhook_endpoint(struct fake_line *f)
{
    pthread_mutex_lock(&f->mu);
    char *s = e2e_strdup(f->webhook_endpoint);
    pthread_mutex_unlock(&f->mu);
    return s;
}

void fake_line_set_webhook_test(struct fake_line *f, bool success, int status_code, const char *reason,
                                const char *detail)
{
    pthread_mutex_lock(&f->mu);
    free(f->test_reason);
    free(f->test_detail);
    f->test_success = success;
    f->test_status_code = status_code;
    f->test_reason = e2e_strdup(reason);
    f->test_detail = e2e_strdup(detail);
    pthread_mutex_unlock(&f->mu);
}

void fake_line_set_content(struct fake_line *f, const char *message_id, const void *data, size_t len,
                           const char *content_type, int not_ready)
{
    pthread_mutex_lock(&f->mu);
    struct content_item c = {.message_id = e2e_strdup(message_id),
                             .data = e2e_xmalloc(len ? len : 1),
                             .len = len,
                             .content_type = e2e_strdup(content_type),
                             .not_ready = not_ready};
    memcpy(c.data, data, len);
    FAKE_VEC_PUSH(f->contents, f->n_contents, f->cap_contents, c);
    pthread_mutex_unlock(&f->mu);
}

void fake_line_set_transcoding(struct fake_line *f, const char *message_id, int processing, bool fails)
{
    pthread_mutex_lock(&f->mu);
    struct content_item *c = find_content(f, message_id, strlen(message_id));
    if (c) {
        c->processing = processing;
        c->transcode_fails = fails;
    }
    pthread_mutex_unlock(&f->mu);
}

void fake_line_fail_next(struct fake_line *f, const char *path_prefix, int status, int count)
{
    struct fault fl = {.prefix = e2e_strdup(path_prefix), .status = status, .count = count};
    pthread_mutex_lock(&f->mu);
    FAKE_VEC_PUSH(f->faults, f->n_faults, f->cap_faults, fl);
    pthread_mutex_unlock(&f->mu);
}

void fake_line_fail_after_delivery(struct fake_line *f, const char *path_prefix, int status,
                                   int count)
{
    struct fault fl = {.prefix = e2e_strdup(path_prefix), .status = status, .count = count,
                       .after_delivery = true};
    pthread_mutex_lock(&f->mu);
    FAKE_VEC_PUSH(f->faults, f->n_faults, f->cap_faults, fl);
    pthread_mutex_unlock(&f->mu);
}

void fake_line_set_delay(struct fake_line *f, const char *path_prefix, int delay_ms)
{
    pthread_mutex_lock(&f->mu);
    for (size_t i = 0; i < f->n_delays; i++) {
        if (strcmp(f->delays[i].prefix, path_prefix) == 0) {
            f->delays[i].ms = delay_ms;
            pthread_mutex_unlock(&f->mu);
            return;
        }
    }
    struct delay d = {.prefix = e2e_strdup(path_prefix), .ms = delay_ms};
    FAKE_VEC_PUSH(f->delays, f->n_delays, f->cap_delays, d);
    pthread_mutex_unlock(&f->mu);
}

static bool same_chat(const char *want, const char *have)
{
    return !want || (have && strcmp(want, have) == 0);
}

size_t fake_line_message_count(struct fake_line *f)
{
    pthread_mutex_lock(&f->mu);
    size_t n = f->n_messages;
    pthread_mutex_unlock(&f->mu);
    return n;
}

bool fake_line_message_at(struct fake_line *f, size_t i, struct fake_line_message *out)
{
    pthread_mutex_lock(&f->mu);
    bool ok = i < f->n_messages;
    if (ok)
        *out = f->messages[i];
    pthread_mutex_unlock(&f->mu);
    return ok;
}

static size_t count_messages_locked(struct fake_line *f, const char *chat_id)
{
    size_t n = 0;
    for (size_t i = 0; i < f->n_messages; i++)
        if (same_chat(chat_id, f->messages[i].chat_id))
            n++;
    return n;
}

static size_t count_deliveries_locked(struct fake_line *f, const char *chat_id)
{
    size_t n = 0;
    for (size_t i = 0; i < f->n_messages; i++) {
        bool first = i == 0 || f->messages[i - 1].delivery != f->messages[i].delivery;
        if (first && same_chat(chat_id, f->messages[i].chat_id))
            n++;
    }
    return n;
}

size_t fake_line_message_count_to(struct fake_line *f, const char *chat_id)
{
    pthread_mutex_lock(&f->mu);
    size_t n = count_messages_locked(f, chat_id);
    pthread_mutex_unlock(&f->mu);
    return n;
}

size_t fake_line_delivery_count(struct fake_line *f, const char *chat_id)
{
    pthread_mutex_lock(&f->mu);
    size_t n = count_deliveries_locked(f, chat_id);
    pthread_mutex_unlock(&f->mu);
    return n;
}

char *fake_line_texts(struct fake_line *f, const char *chat_id, const char *sep)
{
    struct e2e_buf b = {0};
    bool first = true;
    pthread_mutex_lock(&f->mu);
    for (size_t i = 0; i < f->n_messages; i++) {
        if (!same_chat(chat_id, f->messages[i].chat_id))
            continue;
        if (!first)
            e2e_buf_adds(&b, sep);
        e2e_buf_adds(&b, f->messages[i].text);
        first = false;
    }
    pthread_mutex_unlock(&f->mu);
    return e2e_buf_take(&b);
}

bool fake_line_is_sent_id(struct fake_line *f, const char *id)
{
    bool found = false;
    pthread_mutex_lock(&f->mu);
    for (size_t i = 0; i < f->n_messages && !found; i++)
        found = strcmp(f->messages[i].id, id) == 0;
    pthread_mutex_unlock(&f->mu);
    return found;
}

size_t fake_line_request_total(struct fake_line *f)
{
    pthread_mutex_lock(&f->mu);
    size_t n = f->n_requests;
    pthread_mutex_unlock(&f->mu);
    return n;
}

bool fake_line_request_at(struct fake_line *f, size_t i, struct fake_line_request *out)
{
    pthread_mutex_lock(&f->mu);
    bool ok = i < f->n_requests;
    if (ok)
        *out = f->requests[i];
    pthread_mutex_unlock(&f->mu);
    return ok;
}

static size_t count_requests_locked(struct fake_line *f, const char *method, const char *prefix,
                                    int status)
{
    size_t n = 0;
    for (size_t i = 0; i < f->n_requests; i++) {
        struct fake_line_request *q = &f->requests[i];
        if (method && strcmp(q->method, method) != 0)
            continue;
        if (prefix && !fake_starts_with(q->path, prefix))
            continue;
        if (status && q->status != status)
            continue;
        n++;
    }
    return n;
}

size_t fake_line_request_count(struct fake_line *f, const char *method, const char *path_prefix)
{
    pthread_mutex_lock(&f->mu);
    size_t n = count_requests_locked(f, method, path_prefix, 0);
    pthread_mutex_unlock(&f->mu);
    return n;
}

size_t fake_line_request_count_status(struct fake_line *f, const char *path_prefix, int status)
{
    pthread_mutex_lock(&f->mu);
    size_t n = count_requests_locked(f, NULL, path_prefix, status);
    pthread_mutex_unlock(&f->mu);
    return n;
}

size_t fake_line_loading_count(struct fake_line *f, const char *chat_id)
{
    size_t n = 0;
    pthread_mutex_lock(&f->mu);
    for (size_t i = 0; i < f->n_loading; i++)
        if (same_chat(chat_id, f->loading_chats[i]))
            n++;
    pthread_mutex_unlock(&f->mu);
    return n;
}

enum wait_kind { WAIT_MESSAGES, WAIT_DELIVERIES, WAIT_REQUESTS };

struct wait_goal {
    enum wait_kind kind;
    const char *key; /* chat id, or path prefix for WAIT_REQUESTS; NULL: any */
    size_t n;
};

static bool goal_reached(void *ctx, const void *arg)
{
    struct fake_line *f = ctx;
    const struct wait_goal *g = arg;
    size_t have = g->kind == WAIT_MESSAGES     ? count_messages_locked(f, g->key)
                  : g->kind == WAIT_DELIVERIES ? count_deliveries_locked(f, g->key)
                                               : count_requests_locked(f, NULL, g->key, 0);
    return have >= g->n;
}

static bool wait_for(struct fake_line *f, enum wait_kind kind, const char *key, size_t n,
                     int timeout_ms)
{
    struct wait_goal goal = {kind, key, n};
    pthread_mutex_lock(&f->mu);
    bool reached = fake_cond_wait_until(&f->cv, &f->mu, timeout_ms, goal_reached, f, &goal);
    pthread_mutex_unlock(&f->mu);
    return reached;
}

bool fake_line_wait_messages(struct fake_line *f, size_t n, int timeout_ms)
{
    return wait_for(f, WAIT_MESSAGES, NULL, n, timeout_ms);
}

bool fake_line_wait_messages_to(struct fake_line *f, const char *chat_id, size_t n, int timeout_ms)
{
    return wait_for(f, WAIT_MESSAGES, chat_id, n, timeout_ms);
}

bool fake_line_wait_deliveries(struct fake_line *f, const char *chat_id, size_t n, int timeout_ms)
{
    return wait_for(f, WAIT_DELIVERIES, chat_id, n, timeout_ms);
}

bool fake_line_wait_requests(struct fake_line *f, const char *path_prefix, size_t n, int timeout_ms)
{
    return wait_for(f, WAIT_REQUESTS, path_prefix, n, timeout_ms);
}

void fake_line_dump(struct fake_line *f)
{
    pthread_mutex_lock(&f->mu);
    fprintf(stderr, "---- fake LINE: %zu request(s)\n", f->n_requests);
    for (size_t i = 0; i < f->n_requests; i++) {
        struct fake_line_request *q = &f->requests[i];
        fprintf(stderr, "  #%zu %s %s -> %d%s%s\n     body: %.400s\n     answer: %.300s\n", i,
                q->method, q->path, q->status, q->retry_key ? " retry-key=" : "",
                q->retry_key ? q->retry_key : "", q->body, q->response);
    }
    pthread_mutex_unlock(&f->mu);
}
