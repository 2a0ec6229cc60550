/* line_api.h - the LINE Messaging API calls the bot makes.
 *
 * Thin: builds the JSON, sends it with http_client, classifies the answer.
 * A reply is sent once: a 5xx or a timeout may come after LINE delivered it,
 * so those come back as "maybe delivered" (LINE_SERVER_ERROR,
 * LINE_TRANSPORT_ERROR) and the caller decides (run/worker.c retries with the
 * same single-use token and never falls back to push after that). Only 429,
 * which LINE refuses before processing, is retried here. A push carries an
 * X-Line-Retry-Key, so LINE runs it at most once per key: 5xx and timeouts are
 * retried with the same key, and 409 means it was already accepted.
 * Every error status is counted in metrics (linebot_line_api_errors_total).
 *
 * Errors are values: nothing here logs. Each call takes an `err` buffer (may
 * be NULL) that it empties, and on a failure describes every failed attempt
 * there (statuses and LINE's "message", never the token); the caller logs it
 * once. A call that succeeds after failed attempts may leave their story in
 * `err` too. */
#ifndef LINEBOT_LINE_API_H
#define LINEBOT_LINE_API_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "core/format.h"
#include "core/quick_reply.h"
#include "core/webhook.h"
#include "io/http_client.h"

enum line_result {
    LINE_OK = 0,
    LINE_INVALID_REPLY_TOKEN, /* 400 "Invalid reply token": used, expired or unknown */
    LINE_ALREADY_ACCEPTED,    /* 409 on a push: this retry key was already accepted */
    LINE_RATE_LIMITED,        /* 429 after the allowed back-off */
    LINE_REJECTED,            /* another 4xx: the request itself is wrong */
    LINE_SERVER_ERROR,        /* 5xx after retries */
    LINE_TRANSPORT_ERROR,     /* no answer (timeout, connection refused) after retries */
};

struct line_api {
    const struct config *cfg;
    struct http_client *http;
    const atomic_int *cancel; /* may be NULL: abort waits (shutdown) */
};

/* Message ids LINE returned (sentMessages[].id), in order. */
struct line_sent {
    char **ids;
    size_t n;
};
void line_sent_free(struct line_sent *s);

/* POST /v2/bot/message/reply with the parts as text messages (at most 5).
 * `quote_token` (may be NULL) makes the first message quote the user's message.
 * `sent` (may be NULL) receives sentMessages ids. `status` (may be NULL) gets
 * the last HTTP status. */
enum line_result line_reply(struct line_api *api, const char *reply_token,
                            const struct text_parts *parts, const char *quote_token,
                            struct line_sent *sent, long *status, char *err, size_t errlen);

/* POST /v2/bot/message/push to `to` with X-Line-Retry-Key `retry_key` (a UUID).
 * Retried (same key) only on 5xx and timeouts; 409 is LINE_ALREADY_ACCEPTED. */
enum line_result line_push(struct line_api *api, const char *to, const struct text_parts *parts,
                           const char *retry_key, struct line_sent *sent, long *status, char *err,
                           size_t errlen);

/* line_reply and line_push with quick reply buttons (core/quick_reply.h)
 * under the last message; `quick_reply` may be NULL or empty. */
enum line_result line_reply_qr(struct line_api *api, const char *reply_token, const struct text_parts *parts,
                               const char *quote_token, const struct quick_reply *quick_reply,
                               struct line_sent *sent, long *status, char *err, size_t errlen);
/* line_push_qr's `quote_token` (may be NULL) quotes like a reply's: LINE
 * takes quote tokens in pushes too, and they do not expire. */
enum line_result line_push_qr(struct line_api *api, const char *to, const struct text_parts *parts,
                              const char *quote_token, const struct quick_reply *quick_reply,
                              const char *retry_key, struct line_sent *sent, long *status, char *err,
                              size_t errlen);

/* POST /v2/bot/chat/loading/start; `seconds` is rounded up to LINE's 5..60 steps.
 * Best effort: one attempt, short timeout. */
enum line_result line_loading_start(struct line_api *api, const char *user_id, int seconds, char *err,
                                    size_t errlen);

/* The same in two halves, so that nothing waits for LINE's answer: begin
 * sends it as the HTTP client's side request, which goes on while the
 * client's next requests (the model's) run; end waits for it if it is not
 * done yet and reports a failure in `err`. Call end before the next begin, and before
 * the reply: an animation started after the answer would linger. */
enum line_result line_loading_begin(struct line_api *api, const char *user_id, int seconds, char *err,
                                    size_t errlen);
enum line_result line_loading_end(struct line_api *api, char *err, size_t errlen);

/* GET /v2/bot/group/{id}/member/{userId} or /v2/bot/room/{id}/member/{userId}
 * (for CHAT_USER: /v2/bot/profile/{userId}). On LINE_OK `display_name` is set. */
enum line_result line_member_name(struct line_api *api, enum chat_type chat_type,
                                  const char *chat_id, const char *user_id, char **display_name, char *err,
                                  size_t errlen);

/* GET /v2/bot/profile/{userId}: the display name and the `language` LINE
 * gives only when the user has consented (BCP 47, e.g. "ja", "zh-TW"). On
 * LINE_OK `display_name` is set and `language` is the language, "" when the
 * profile has none (or it is not a string). */
enum line_result line_user_profile(struct line_api *api, const char *user_id, char **display_name, char **language,
                                   char *err, size_t errlen);

/* A UUID (8-4-4-4-12 lowercase hex, version 4 layout, variant bits set) derived
 * deterministically from `seed` (the webhookEventId): the same event always
 * gets the same push retry key. Writes 37 bytes into `out`. */
void line_retry_key(const char *seed, char out[37]);

/* ---- set-up calls (linebot webhook, linebot doctor) ----------------------
 * One attempt each, nothing retried: a person is waiting at a terminal and
 * runs the command again. On a failure `err` names the call, the status and
 * LINE's "message" (never the token). `status` (may be NULL) gets the HTTP
 * status, 0 when none came. */

/* The month's push quota (issue 11): GET /v2/bot/message/quota and GET
 * /v2/bot/message/quota/consumption, one attempt each, within a few seconds.
 * On LINE_OK *limit is the month's messages (-1: "type":"none", no limit)
 * and *used the messages sent this month. A quota answer without a number
 * is LINE_SERVER_ERROR. */
enum line_result line_message_quota(struct line_api *api, int64_t *limit, int64_t *used, char *err,
                                    size_t errlen);

/* GET /v2/bot/info: the bot's "displayName" and "basicId" (e.g. "@123abcde").
 * On LINE_OK both are set (malloc'd; "" when LINE left one out). */
struct line_bot_info {
    char *display_name;
    char *basic_id;
};
enum line_result line_bot_info(struct line_api *api, struct line_bot_info *out, long *status, char *err,
                               size_t errlen);
void line_bot_info_free(struct line_bot_info *info);

/* GET /v2/bot/channel/webhook/endpoint. On LINE_OK `endpoint` is set
 * (malloc'd, "" when none is registered) and `active` says whether "Use
 * webhook" is on. */
struct line_webhook {
    char *endpoint;
    bool active;
};
enum line_result line_webhook_get(struct line_api *api, struct line_webhook *out, long *status, char *err,
                                  size_t errlen);
void line_webhook_free(struct line_webhook *wh);

/* PUT /v2/bot/channel/webhook/endpoint {"endpoint": url}. The caller checks
 * the URL first (line_webhook_url_check). */
enum line_result line_webhook_set(struct line_api *api, const char *url, long *status, char *err,
                                  size_t errlen);

/* POST /v2/bot/channel/webhook/test, with {"endpoint": url} when `url` is
 * not NULL (else LINE tests the registered one). LINE_OK means LINE ran the
 * test; its verdict is in `out` (strings malloc'd, "" when absent; status_code
 * -1 when absent). */
struct line_webhook_test {
    bool success;
    char *timestamp;
    long status_code; /* the status the webhook answered LINE's test with */
    char *reason;
    char *detail;
};
enum line_result line_webhook_test(struct line_api *api, const char *url, struct line_webhook_test *out,
                                   long *status, char *err, size_t errlen);
void line_webhook_test_free(struct line_webhook_test *t);

/* 0 when `url` is a webhook URL LINE can take: https:// with a host, as read
 * by curl_url() (http_url_split). Else -1 with the reason in `err`. */
int line_webhook_url_check(const char *url, char *err, size_t errlen);

const char *line_result_name(enum line_result r);

#endif
