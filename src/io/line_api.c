/* line_api.c - the LINE Messaging API calls the bot makes.
 *
 * Thin: each call builds its JSON with jansson, sends it through http_client
 * with the channel access token as a Bearer header, and maps LINE's answer to
 * an enum line_result. What may be retried follows from what a repeat could do
 * to the user:
 *
 * - reply: exactly one attempt on a 5xx or a transport error (timeout, reset).
 *   Either may happen after LINE delivered the reply, and a second attempt
 *   would then come back as "Invalid reply token" (the token is single-use),
 *   which the caller could not tell from "the token expired before we sent
 *   anything". Returning LINE_SERVER_ERROR / LINE_TRANSPORT_ERROR instead says
 *   honestly "maybe delivered" and leaves the choice (push fallback or not) to
 *   the caller. Only 429 is retried: LINE refuses a rate-limited request before
 *   processing it, so nothing was sent. At most 3 attempts, honouring
 *   Retry-After, within a 10 s budget.
 * - push: carries X-Line-Retry-Key, so LINE runs it at most once per key and
 *   answers a repeat of an accepted push with 409. A 5xx or a transport error
 *   is therefore retried with the same key, at most twice (after 500 ms and
 *   1500 ms), and 409 means "already delivered" (LINE_ALREADY_ACCEPTED). 429
 *   backs off the same way as for reply. Without a retry key nothing but 429
 *   is retried, for the reason given for reply.
 *
 * Waits between attempts are cut short when api->cancel is set. Every error
 * status (transport errors as 0) is counted in metrics. Errors are values:
 * nothing here logs; each failed attempt is described, with LINE's "message"
 * field and never with the token, in the caller's `err`, and the caller logs
 * the failure once. */
#include "io/line_api.h"

#include <ctype.h>
#include <curl/curl.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/completion.h"
#include "core/utf8.h"
#include "io/clock.h"
#include "obs/metrics.h"

#define LINE_CONNECT_TIMEOUT_MS 5000L
#define LINE_SEND_TIMEOUT_MS 10000L     /* reply and push */
#define LINE_LOADING_TIMEOUT_MS 3000L   /* best effort: never hold up an answer */
#define LINE_PROFILE_TIMEOUT_MS 5000L
#define LINE_SETUP_TIMEOUT_MS 10000L     /* webhook get/set, bot info */
#define LINE_WEBHOOK_TEST_TIMEOUT_MS 30000L /* LINE calls the webhook and waits for it */
#define LINE_MAX_ATTEMPTS 3
#define LINE_RATE_LIMIT_BUDGET_MS 10000 /* the most we wait in total on 429s */
#define LINE_ERROR_MESSAGE_MAX 200
#define LINE_MAX_RESPONSE_BYTES ((size_t)256 * 1024)

static const int64_t push_backoff_ms[LINE_MAX_ATTEMPTS - 1] = {500, 1500};
static const int64_t rate_limit_backoff_ms[LINE_MAX_ATTEMPTS - 1] = {1000, 2000};

void line_sent_free(struct line_sent *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n; i++)
        free(s->ids[i]);
    free(s->ids);
    s->ids = NULL;
    s->n = 0;
}

const char *line_result_name(enum line_result r)
{
    switch (r) {
    case LINE_OK: return "ok";
    case LINE_INVALID_REPLY_TOKEN: return "invalid_reply_token";
    case LINE_ALREADY_ACCEPTED: return "already_accepted";
    case LINE_RATE_LIMITED: return "rate_limited";
    case LINE_REJECTED: return "rejected";
    case LINE_SERVER_ERROR: return "server_error";
    case LINE_TRANSPORT_ERROR: return "transport_error";
    }
    return "unknown";
}

/* ---- small helpers ------------------------------------------------------ */

static int contains_ci(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    for (; hay && *hay; hay++) {
        size_t i = 0;
        while (i < n && hay[i] &&
               tolower((unsigned char)hay[i]) == tolower((unsigned char)needle[i]))
            i++;
        if (i == n)
            return 1;
    }
    return 0;
}

/* `base` without trailing slashes, then `path` (which starts with '/'). */
static char *join_url(const char *base, const char *path)
{
    size_t bl = strlen(base);
    while (bl > 0 && base[bl - 1] == '/')
        bl--;
    return xasprintf("%.*s%s", (int)bl, base, path);
}

/* Percent-encodes everything but RFC 3986's unreserved characters (what
 * curl_easy_escape does), so an id can never add a path segment or a query
 * to the URL. The handle is not used on this platform (curl documents it as
 * ignored); it fails only when it cannot allocate, or on input over 8 MB,
 * which no id from a webhook body can be. Freed with free(). */
static char *path_escape(const char *s)
{
    char *escaped = curl_easy_escape(NULL, s, 0);
    if (!escaped)
        alloc_fail("curl_easy_escape", strlen(s) * 3 + 1);
    char *out = xstrdup(escaped);
    curl_free(escaped);
    return out;
}

/* LINE's error "message" from a response body, followed by up to three of
 * its "details" as "(property: message; ...)" (the message alone often says
 * only "The request body has 1 error(s)"), at most LINE_ERROR_MESSAGE_MAX
 * bytes (cut at a UTF-8 boundary), or NULL. A 2xx body is no error and is not
 * parsed here (parse_sent reads it). */
static char *error_message(const struct http_response *r)
{
    if (!r->body || r->body_len == 0 || (r->status >= 200 && r->status <= 299))
        return NULL;
    json_t *root = json_loadb(r->body, r->body_len, 0, NULL);
    json_t *m = json_is_object(root) ? json_object_get(root, "message") : NULL;
    char *out = NULL;
    if (json_is_string(m)) {
        char *text = xstrdup(json_string_value(m));
        json_t *details = json_object_get(root, "details");
        size_t added = 0;
        for (size_t i = 0; json_is_array(details) && i < json_array_size(details) && added < 3; i++) {
            json_t *d = json_array_get(details, i);
            const char *dm = json_string_value(json_object_get(d, "message"));
            const char *prop = json_string_value(json_object_get(d, "property"));
            if (!dm)
                continue;
            char *longer = xasprintf("%s%s%s%s%s", text, added ? "; " : " (", prop ? prop : "", prop ? ": " : "", dm);
            free(text);
            text = longer;
            added++;
        }
        if (added) {
            char *closed = xasprintf("%s)", text);
            free(text);
            text = closed;
        }
        out = xstrndup(text, utf8_prefix(text, strlen(text), LINE_ERROR_MESSAGE_MAX));
        free(text);
    }
    json_decref(root);
    return out;
}

/* sentMessages[].id from a 200 (or a push's 409) body. All or nothing: the
 * ids are only returned when every element has one, so that ids[i] is the
 * i-th message sent. A hostile or odd body just gives no ids. */
static void parse_sent(const struct http_response *r, struct line_sent *sent)
{
    if (!sent || !r->body)
        return;
    json_t *root = json_loadb(r->body, r->body_len, 0, NULL);
    json_t *arr = json_is_object(root) ? json_object_get(root, "sentMessages") : NULL;
    size_t n = json_is_array(arr) ? json_array_size(arr) : 0;
    char **ids = n ? xcalloc(n, sizeof(*ids)) : NULL;
    size_t got = 0;
    for (size_t i = 0; i < n; i++) {
        json_t *e = json_array_get(arr, i);
        json_t *id = json_is_object(e) ? json_object_get(e, "id") : NULL;
        if (!json_is_string(id))
            break;
        ids[got++] = xstrdup(json_string_value(id));
    }
    if (ids && got == n) {
        sent->ids = ids;
        sent->n = n;
    } else if (ids) {
        for (size_t i = 0; i < got; i++)
            free(ids[i]);
        free(ids);
    }
    json_decref(root);
}

/* Sleeps `ms` in small steps; returns -1 as soon as api->cancel is set. */
static int sleep_cancellable(const struct line_api *api, int64_t ms)
{
    int64_t end = clock_monotonic_ms() + ms;
    for (;;) {
        if (api->cancel && atomic_load(api->cancel))
            return -1;
        int64_t left = end - clock_monotonic_ms();
        if (left <= 0)
            return 0;
        clock_sleep_ms(left < 50 ? left : 50);
    }
}

enum call_kind { CALL_REPLY, CALL_PUSH, CALL_OTHER };

static enum line_result classify(int rc, long status, const char *message, enum call_kind kind)
{
    if (rc != 0 || status == 0)
        return LINE_TRANSPORT_ERROR;
    if (status >= 200 && status <= 299)
        return LINE_OK;
    if (status == 400 && kind == CALL_REPLY && contains_ci(message, "invalid reply token"))
        return LINE_INVALID_REPLY_TOKEN;
    if (status == 409 && kind == CALL_PUSH)
        return LINE_ALREADY_ACCEPTED;
    if (status == 429)
        return LINE_RATE_LIMITED;
    if (status >= 500)
        return LINE_SERVER_ERROR;
    return LINE_REJECTED; /* other 4xx, and anything unexpected */
}

/* One HTTP exchange with LINE. Headers: Authorization, Content-Type for a
 * body, and X-Line-Retry-Key when `retry_key` is given. */
/* Sends one request to LINE and waits for the answer; with `side`, only
 * starts it as the client's side request (http_client_side_start) and returns
 * 0, or -1 with resp->error set. */
static int line_request(struct line_api *api, const char *method, const char *path, const char *body,
                        const char *retry_key, long timeout_ms, bool side, struct http_response *resp)
{
    const char *base = api->cfg->line_api_base ? api->cfg->line_api_base : "https://api.line.me";
    const char *token = api->cfg->access_token ? api->cfg->access_token : "";
    char *url = join_url(base, path);
    char *auth = xasprintf("Authorization: Bearer %s", token);
    char key_header[128];
    const char *headers[4];
    size_t nh = 0;
    int rc;

    headers[nh++] = auth;
    if (body)
        headers[nh++] = "Content-Type: application/json";
    if (retry_key && *retry_key && strlen(retry_key) < 64) {
        snprintf(key_header, sizeof(key_header), "X-Line-Retry-Key: %s", retry_key);
        headers[nh++] = key_header;
    }
    headers[nh] = NULL;

    struct http_request req = {
        .method = method,
        .url = url,
        .headers = headers,
        .body = body,
        .body_len = body ? strlen(body) : 0,
        .connect_timeout_ms = timeout_ms < LINE_CONNECT_TIMEOUT_MS ? timeout_ms : LINE_CONNECT_TIMEOUT_MS,
        .timeout_ms = timeout_ms,
        .cancel = api->cancel,
        .max_response_bytes = LINE_MAX_RESPONSE_BYTES,
    };
    if (side) {
        memset(resp, 0, sizeof(*resp));
        rc = http_client_side_start(api->http, &req, resp->error, sizeof(resp->error));
    } else {
        rc = http_client_do(api->http, &req, resp);
    }
    memset(auth, 0, strlen(auth)); /* the token should not linger on the heap */
    free(auth);
    free(url);
    return rc;
}

static int line_send(struct line_api *api, const char *method, const char *path, const char *body,
                     const char *retry_key, long timeout_ms, struct http_response *resp)
{
    return line_request(api, method, path, body, retry_key, timeout_ms, false, resp);
}

/* Starts `err` empty (it may be NULL). */
static void err_clear(char *err, size_t errlen)
{
    if (err && errlen)
        err[0] = '\0';
}

/* Appends one sentence to `err`, after a "; " when it is not the first,
 * truncating to fit. */
static void err_add(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void err_add(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || errlen == 0)
        return;
    size_t used = strnlen(err, errlen - 1);
    if (used && used + 2 < errlen) {
        memcpy(err + used, "; ", 3);
        used += 2;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err + used, errlen - used, fmt, ap);
    va_end(ap);
}

/* Counts one failed attempt and describes it in `err`. `message` is LINE's
 * error message. */
static void note_failure(char *err, size_t errlen, const char *op, int rc, const struct http_response *resp,
                         const char *message, enum line_result result, int attempt)
{
    if (rc != 0) {
        if (!resp->cancelled)
            metrics_line_error(0);
        err_add(err, errlen, "LINE %s attempt %d: %s (%s)", op, attempt, line_result_name(result), resp->error);
        return;
    }
    metrics_line_error(resp->status);
    if (result == LINE_ALREADY_ACCEPTED)
        err_add(err, errlen, "LINE %s attempt %d: status 409, the retry key was already accepted", op, attempt);
    else
        err_add(err, errlen, "LINE %s attempt %d: status %ld %s: %s%s", op, attempt, resp->status,
                line_result_name(result), message ? message : "(no message)",
                /* A wrong or revoked token: the log names the setting. */
                resp->status == 401 ? " (LINE refused LINE_CHANNEL_ACCESS_TOKEN; `linebot doctor` checks it)" : "");
}

/* How long to wait before retrying a 429: Retry-After when LINE sent one. */
static int64_t rate_limit_wait_ms(const struct http_response *resp, int attempt)
{
    int64_t ms = http_response_retry_after_ms(resp, clock_now_ms());
    return ms >= 0 ? ms : rate_limit_backoff_ms[attempt - 1];
}

/* [{"type":"text","text":...}, ...] for 1..5 parts; the first quotes
 * `quote_token` when given. NULL when the parts cannot be sent as they are. */
static json_t *text_messages(const struct text_parts *parts, const char *quote_token,
                             const struct quick_reply *quick_reply)
{
    if (!parts || parts->n == 0 || parts->n > LINE_MAX_MESSAGES)
        return NULL;
    json_t *arr = json_array();
    for (size_t i = 0; i < parts->n; i++) {
        json_t *text = parts->parts[i] ? json_string(parts->parts[i]) : NULL;
        json_t *m = text ? json_pack("{s:s, s:o}", "type", "text", "text", text) : NULL;
        if (m && i == 0 && quote_token && *quote_token &&
            json_object_set_new(m, "quoteToken", json_string(quote_token)) != 0) {
            json_decref(m);
            m = NULL;
        }
        /* The buttons go under the last message: LINE shows them only there. */
        json_t *qr = m && i + 1 == parts->n ? quick_reply_json(quick_reply) : NULL;
        if (qr)
            json_object_set_new(m, "quickReply", qr);
        if (!m || json_array_append_new(arr, m) != 0) {
            json_decref(arr);
            return NULL;
        }
    }
    return arr;
}

/* The body for reply or push: {"<id_field>": id, "messages": [...]}. */
static char *message_body(const char *id_field, const char *id, const struct text_parts *parts,
                          const char *quote_token, const struct quick_reply *quick_reply)
{
    if (!id || !*id)
        return NULL;
    json_t *msgs = text_messages(parts, quote_token, quick_reply);
    if (!msgs)
        return NULL;
    json_t *root = json_pack("{s:s, s:o}", id_field, id, "messages", msgs);
    char *body = root ? json_dumps(root, JSON_COMPACT) : NULL;
    json_decref(root);
    return body;
}

static void set_status(long *status, long v)
{
    if (status)
        *status = v;
}

static void clear_sent(struct line_sent *sent)
{
    if (sent) {
        sent->ids = NULL;
        sent->n = 0;
    }
}

/* ---- the calls ---------------------------------------------------------- */

enum line_result line_reply(struct line_api *api, const char *reply_token,
                            const struct text_parts *parts, const char *quote_token,
                            struct line_sent *sent, long *status, char *err, size_t errlen)
{
    return line_reply_qr(api, reply_token, parts, quote_token, NULL, sent, status, err, errlen);
}

enum line_result line_reply_qr(struct line_api *api, const char *reply_token, const struct text_parts *parts,
                               const char *quote_token, const struct quick_reply *quick_reply,
                               struct line_sent *sent, long *status, char *err, size_t errlen)
{
    clear_sent(sent);
    set_status(status, 0);
    err_clear(err, errlen);
    char *body = message_body("replyToken", reply_token, parts, quote_token, quick_reply);
    if (!body) {
        err_add(err, errlen, "LINE reply not sent: needs a reply token and 1..%d valid UTF-8 parts (got %zu)",
                LINE_MAX_MESSAGES, parts ? parts->n : 0);
        return LINE_REJECTED;
    }

    enum line_result result = LINE_TRANSPORT_ERROR;
    int64_t budget_end = clock_monotonic_ms() + LINE_RATE_LIMIT_BUDGET_MS;
    for (int attempt = 1; attempt <= LINE_MAX_ATTEMPTS; attempt++) {
        struct http_response resp;
        int rc = line_send(api, "POST", "/v2/bot/message/reply", body, NULL, LINE_SEND_TIMEOUT_MS,
                           &resp);
        char *message = rc == 0 ? error_message(&resp) : NULL;
        result = classify(rc, resp.status, message, CALL_REPLY);
        set_status(status, resp.status);
        if (result == LINE_OK) {
            parse_sent(&resp, sent);
            free(message);
            http_response_free(&resp);
            break;
        }
        note_failure(err, errlen, "reply", rc, &resp, message, result, attempt);
        /* Only a 429 is known not to have been processed; a monthly quota
         * will not lift within seconds. */
        int retry = result == LINE_RATE_LIMITED && attempt < LINE_MAX_ATTEMPTS &&
                    !contains_ci(message, "monthly limit");
        int64_t wait = retry ? rate_limit_wait_ms(&resp, attempt) : 0;
        free(message);
        http_response_free(&resp);
        if (!retry || clock_monotonic_ms() + wait > budget_end || sleep_cancellable(api, wait) != 0)
            break;
    }
    free(body);
    return result;
}

enum line_result line_push(struct line_api *api, const char *to, const struct text_parts *parts,
                           const char *retry_key, struct line_sent *sent, long *status, char *err, size_t errlen)
{
    return line_push_qr(api, to, parts, NULL, NULL, retry_key, sent, status, err, errlen);
}

enum line_result line_push_qr(struct line_api *api, const char *to, const struct text_parts *parts,
                              const char *quote_token, const struct quick_reply *quick_reply,
                              const char *retry_key, struct line_sent *sent, long *status, char *err,
                              size_t errlen)
{
    clear_sent(sent);
    set_status(status, 0);
    err_clear(err, errlen);
    char *body = message_body("to", to, parts, quote_token, quick_reply);
    if (!body) {
        err_add(err, errlen, "LINE push not sent: needs a recipient and 1..%d valid UTF-8 parts (got %zu)",
                LINE_MAX_MESSAGES, parts ? parts->n : 0);
        return LINE_REJECTED;
    }
    int idempotent = retry_key && *retry_key;
    if (idempotent && strspn(retry_key, "0123456789abcdefABCDEF-") != strlen(retry_key)) {
        err_add(err, errlen, "LINE push not sent: the retry key is not a hex UUID");
        free(body);
        return LINE_REJECTED; /* and never let it reach a header line */
    }

    enum line_result result = LINE_TRANSPORT_ERROR;
    int64_t budget_end = clock_monotonic_ms() + LINE_RATE_LIMIT_BUDGET_MS;
    for (int attempt = 1; attempt <= LINE_MAX_ATTEMPTS; attempt++) {
        struct http_response resp;
        int rc = line_send(api, "POST", "/v2/bot/message/push", body, retry_key,
                           LINE_SEND_TIMEOUT_MS, &resp);
        char *message = rc == 0 ? error_message(&resp) : NULL;
        result = classify(rc, resp.status, message, CALL_PUSH);
        set_status(status, resp.status);
        if (result == LINE_OK) {
            parse_sent(&resp, sent);
            free(message);
            http_response_free(&resp);
            break;
        }
        note_failure(err, errlen, "push", rc, &resp, message, result, attempt);
        int retry = 0;
        int64_t wait = 0;
        if (result == LINE_ALREADY_ACCEPTED) {
            parse_sent(&resp, sent); /* LINE's 409 may repeat the first answer's sentMessages */
        } else if (attempt < LINE_MAX_ATTEMPTS && !resp.cancelled) {
            if (result == LINE_RATE_LIMITED && !contains_ci(message, "monthly limit")) {
                retry = 1;
                wait = rate_limit_wait_ms(&resp, attempt);
                if (clock_monotonic_ms() + wait > budget_end)
                    retry = 0;
            } else if (idempotent &&
                       (result == LINE_SERVER_ERROR || result == LINE_TRANSPORT_ERROR)) {
                retry = 1;
                wait = push_backoff_ms[attempt - 1];
            }
        }
        free(message);
        http_response_free(&resp);
        if (!retry || sleep_cancellable(api, wait) != 0)
            break;
    }
    free(body);
    return result;
}

enum line_result line_loading_begin(struct line_api *api, const char *user_id, int seconds, char *err,
                                    size_t errlen)
{
    err_clear(err, errlen);
    if (!user_id || !*user_id) {
        err_add(err, errlen, "LINE loading/start not sent: no chat id");
        return LINE_REJECTED;
    }
    /* LINE accepts 5..60 in steps of 5. */
    int s = seconds <= 5 ? 5 : seconds >= 60 ? 60 : (seconds + 4) / 5 * 5;
    json_t *root = json_pack("{s:s, s:i}", "chatId", user_id, "loadingSeconds", s);
    char *body = root ? json_dumps(root, JSON_COMPACT) : NULL;
    json_decref(root);
    if (!body) {
        err_add(err, errlen, "LINE loading/start not sent: the chat id is not valid UTF-8");
        return LINE_REJECTED;
    }

    struct http_response resp;
    int rc = line_request(api, "POST", "/v2/bot/chat/loading/start", body, NULL, LINE_LOADING_TIMEOUT_MS, true,
                          &resp);
    free(body);
    if (rc != 0) {
        note_failure(err, errlen, "loading/start", rc, &resp, NULL, LINE_TRANSPORT_ERROR, 1);
        return LINE_TRANSPORT_ERROR;
    }
    return LINE_OK;
}

enum line_result line_loading_end(struct line_api *api, char *err, size_t errlen)
{
    err_clear(err, errlen);
    if (!http_client_side_pending(api->http))
        return LINE_OK;
    struct http_response resp;
    int rc = http_client_side_finish(api->http, &resp);
    enum line_result result = classify(rc, resp.status, NULL, CALL_OTHER);
    if (result != LINE_OK) {
        char *message = rc == 0 ? error_message(&resp) : NULL;
        note_failure(err, errlen, "loading/start", rc, &resp, message, result, 1);
        free(message);
    }
    http_response_free(&resp);
    return result;
}

enum line_result line_loading_start(struct line_api *api, const char *user_id, int seconds, char *err,
                                    size_t errlen)
{
    enum line_result r = line_loading_begin(api, user_id, seconds, err, errlen);
    return r == LINE_OK ? line_loading_end(api, err, errlen) : r;
}

/* line_member_name, and for a 1:1 profile the language too (`language` may
 * be NULL: not wanted). */
static enum line_result profile_get(struct line_api *api, enum chat_type chat_type, const char *chat_id,
                                    const char *user_id, char **display_name, char **language, char *err,
                                    size_t errlen)
{
    *display_name = NULL;
    if (language)
        *language = NULL;
    err_clear(err, errlen);
    if (!user_id || !*user_id || (chat_type != CHAT_USER && (!chat_id || !*chat_id))) {
        err_add(err, errlen, "LINE profile not asked: needs a user id, and a group or room id outside 1:1 chats");
        return LINE_REJECTED;
    }

    char *uid = path_escape(user_id);
    char *cid = chat_type == CHAT_USER ? NULL : path_escape(chat_id);
    char *path = NULL;
    enum line_result result = LINE_REJECTED;

    switch (chat_type) {
    case CHAT_USER:
        path = xasprintf("/v2/bot/profile/%s", uid);
        break;
    case CHAT_GROUP:
        path = xasprintf("/v2/bot/group/%s/member/%s", cid, uid);
        break;
    case CHAT_ROOM:
        path = xasprintf("/v2/bot/room/%s/member/%s", cid, uid);
        break;
    default:
        err_add(err, errlen, "LINE profile not asked: unknown chat type %d", (int)chat_type);
        goto done;
    }

    struct http_response resp;
    int rc = line_send(api, "GET", path, NULL, NULL, LINE_PROFILE_TIMEOUT_MS, &resp);
    result = classify(rc, resp.status, NULL, CALL_OTHER);
    if (result == LINE_OK) {
        json_t *root = json_loadb(resp.body ? resp.body : "", resp.body_len, 0, NULL);
        json_t *name = json_is_object(root) ? json_object_get(root, "displayName") : NULL;
        if (json_is_string(name))
            *display_name = xstrdup(json_string_value(name));
        if (*display_name && language) {
            const char *lang = json_string_value(json_object_get(root, "language"));
            *language = xstrdup(lang ? lang : "");
        }
        json_decref(root);
        if (!*display_name) {
            err_add(err, errlen, "LINE profile: 200 without a displayName");
            result = LINE_SERVER_ERROR;
        }
    } else {
        char *message = rc == 0 ? error_message(&resp) : NULL;
        note_failure(err, errlen, "profile", rc, &resp, message, result, 1);
        free(message);
    }
    http_response_free(&resp);
done:
    free(path);
    free(uid);
    free(cid);
    return result;
}

enum line_result line_member_name(struct line_api *api, enum chat_type chat_type,
                                  const char *chat_id, const char *user_id, char **display_name, char *err,
                                  size_t errlen)
{
    return profile_get(api, chat_type, chat_id, user_id, display_name, NULL, err, errlen);
}

enum line_result line_user_profile(struct line_api *api, const char *user_id, char **display_name, char **language,
                                   char *err, size_t errlen)
{
    return profile_get(api, CHAT_USER, NULL, user_id, display_name, language, err, errlen);
}

/* ---- set-up calls ------------------------------------------------------- */

/* A string member of `obj` (malloc'd), "" when absent or not a string. */
static char *json_str_member(json_t *obj, const char *key)
{
    const char *v = json_string_value(json_object_get(obj, key));
    return xstrdup(v ? v : "");
}

/* One attempt of a set-up call. On LINE_OK `*answer` (may be NULL) is the
 * parsed 2xx body, an empty object when it had none; a 2xx body that is not
 * a JSON object is LINE_SERVER_ERROR. */
static enum line_result setup_call(struct line_api *api, const char *op, const char *method, const char *path,
                                   const char *body, long timeout_ms, json_t **answer, long *status, char *err,
                                   size_t errlen)
{
    err_clear(err, errlen);
    set_status(status, 0);
    if (answer)
        *answer = NULL;
    struct http_response resp;
    int rc = line_send(api, method, path, body, NULL, timeout_ms, &resp);
    char *message = rc == 0 ? error_message(&resp) : NULL;
    enum line_result result = classify(rc, resp.status, message, CALL_OTHER);
    set_status(status, rc == 0 ? resp.status : 0);
    if (result == LINE_OK) {
        json_t *root = resp.body_len ? json_loadb(resp.body, resp.body_len, 0, NULL) : json_object();
        if (!json_is_object(root)) {
            json_decref(root);
            err_add(err, errlen, "LINE %s: status %ld with a body that is not a JSON object", op, resp.status);
            result = LINE_SERVER_ERROR;
        } else if (answer) {
            *answer = root;
        } else {
            json_decref(root);
        }
    } else if (rc != 0) {
        err_add(err, errlen, "LINE %s: no answer (%s)", op, resp.error);
    } else {
        /* One attempt, read by a person: no attempt number, no result name. */
        err_add(err, errlen, "LINE %s: status %ld: %s", op, resp.status, message ? message : "(no message)");
    }
    free(message);
    http_response_free(&resp);
    return result;
}

/* {"endpoint": url} (malloc'd), NULL when `url` is not valid UTF-8. */
static char *endpoint_body(const char *url)
{
    json_t *root = json_pack("{s:s}", "endpoint", url);
    char *body = root ? json_dumps(root, JSON_COMPACT) : NULL;
    json_decref(root);
    return body;
}

enum line_result line_bot_info(struct line_api *api, struct line_bot_info *out, long *status, char *err,
                               size_t errlen)
{
    memset(out, 0, sizeof *out);
    json_t *root;
    enum line_result r =
        setup_call(api, "bot/info", "GET", "/v2/bot/info", NULL, LINE_SETUP_TIMEOUT_MS, &root, status, err, errlen);
    if (r == LINE_OK) {
        out->display_name = json_str_member(root, "displayName");
        out->basic_id = json_str_member(root, "basicId");
        json_decref(root);
    }
    return r;
}

#define LINE_QUOTA_TIMEOUT_MS 3000L /* asked before a push, which waits for it */

enum line_result line_message_quota(struct line_api *api, int64_t *limit, int64_t *used, char *err,
                                    size_t errlen)
{
    *limit = -1;
    *used = 0;
    json_t *quota, *consumption;
    enum line_result r = setup_call(api, "message/quota", "GET", "/v2/bot/message/quota", NULL,
                                    LINE_QUOTA_TIMEOUT_MS, &quota, NULL, err, errlen);
    if (r != LINE_OK)
        return r;
    const char *type = json_string_value(json_object_get(quota, "type"));
    json_t *value = json_object_get(quota, "value");
    bool unlimited = type && strcmp(type, "none") == 0;
    if (!unlimited && !json_is_integer(value)) {
        json_decref(quota);
        err_add(err, errlen, "LINE message/quota: no \"value\" for type \"%s\"", type ? type : "?");
        return LINE_SERVER_ERROR;
    }
    *limit = unlimited ? -1 : (int64_t)json_integer_value(value);
    json_decref(quota);
    if (unlimited)
        return LINE_OK; /* nothing to count against */
    r = setup_call(api, "message/quota/consumption", "GET", "/v2/bot/message/quota/consumption", NULL,
                   LINE_QUOTA_TIMEOUT_MS, &consumption, NULL, err, errlen);
    if (r != LINE_OK)
        return r;
    json_t *total = json_object_get(consumption, "totalUsage");
    if (!json_is_integer(total)) {
        json_decref(consumption);
        err_add(err, errlen, "LINE message/quota/consumption: no \"totalUsage\"");
        return LINE_SERVER_ERROR;
    }
    *used = (int64_t)json_integer_value(total);
    json_decref(consumption);
    return LINE_OK;
}

void line_bot_info_free(struct line_bot_info *info)
{
    free(info->display_name);
    free(info->basic_id);
    memset(info, 0, sizeof *info);
}

enum line_result line_webhook_get(struct line_api *api, struct line_webhook *out, long *status, char *err,
                                  size_t errlen)
{
    memset(out, 0, sizeof *out);
    json_t *root;
    enum line_result r = setup_call(api, "webhook/endpoint", "GET", "/v2/bot/channel/webhook/endpoint", NULL,
                                    LINE_SETUP_TIMEOUT_MS, &root, status, err, errlen);
    if (r == LINE_OK) {
        out->endpoint = json_str_member(root, "endpoint");
        out->active = json_is_true(json_object_get(root, "active"));
        json_decref(root);
    }
    return r;
}

void line_webhook_free(struct line_webhook *wh)
{
    free(wh->endpoint);
    memset(wh, 0, sizeof *wh);
}

enum line_result line_webhook_set(struct line_api *api, const char *url, long *status, char *err, size_t errlen)
{
    char *body = url ? endpoint_body(url) : NULL;
    if (!body) {
        err_clear(err, errlen);
        set_status(status, 0);
        err_add(err, errlen, "LINE webhook/endpoint not set: the URL is missing or not valid UTF-8");
        return LINE_REJECTED;
    }
    enum line_result r = setup_call(api, "webhook/endpoint", "PUT", "/v2/bot/channel/webhook/endpoint", body,
                                    LINE_SETUP_TIMEOUT_MS, NULL, status, err, errlen);
    free(body);
    return r;
}

enum line_result line_webhook_test(struct line_api *api, const char *url, struct line_webhook_test *out,
                                   long *status, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    out->status_code = -1;
    char *body = url ? endpoint_body(url) : xstrdup("{}");
    if (!body) {
        err_clear(err, errlen);
        set_status(status, 0);
        err_add(err, errlen, "LINE webhook/test not sent: the URL is not valid UTF-8");
        return LINE_REJECTED;
    }
    json_t *root;
    enum line_result r = setup_call(api, "webhook/test", "POST", "/v2/bot/channel/webhook/test", body,
                                    LINE_WEBHOOK_TEST_TIMEOUT_MS, &root, status, err, errlen);
    free(body);
    if (r == LINE_OK) {
        out->success = json_is_true(json_object_get(root, "success"));
        out->timestamp = json_str_member(root, "timestamp");
        json_t *code = json_object_get(root, "statusCode");
        if (json_is_integer(code))
            out->status_code = (long)json_integer_value(code);
        out->reason = json_str_member(root, "reason");
        out->detail = json_str_member(root, "detail");
        json_decref(root);
    }
    return r;
}

void line_webhook_test_free(struct line_webhook_test *t)
{
    free(t->timestamp);
    free(t->reason);
    free(t->detail);
    memset(t, 0, sizeof *t);
}

int line_webhook_url_check(const char *url, char *err, size_t errlen)
{
    struct http_url parsed;
    char why[128];
    if (!url || !*url) {
        snprintf(err, errlen, "no URL given");
        return -1;
    }
    if (http_url_split(url, &parsed, why, sizeof why) != 0) {
        snprintf(err, errlen, "not a URL LINE can call (%s)", why);
        return -1;
    }
    if (strcmp(parsed.scheme, "https") != 0) {
        snprintf(err, errlen, "LINE only calls https:// webhook URLs (this one is %s://)", parsed.scheme);
        return -1;
    }
    return 0;
}

void line_retry_key(const char *seed, char out[37])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    const char *s = seed ? seed : "";
    if (EVP_Digest(s, strlen(s), md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen < 16)
        memset(md, 0, sizeof(md)); /* cannot happen with a working libcrypto */
    md[6] = (unsigned char)((md[6] & 0x0F) | 0x40); /* version 4 */
    md[8] = (unsigned char)((md[8] & 0x3F) | 0x80); /* variant 10xx */
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out[o++] = '-';
        out[o++] = hex[md[i] >> 4];
        out[o++] = hex[md[i] & 15];
    }
    out[o] = '\0';
}
