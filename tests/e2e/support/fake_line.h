/* fake_line.h - a strict fake of the LINE Messaging API for end-to-end tests.
 *
 * It is as strict as LINE where the bot can go wrong: the channel access token
 * must be sent as a Bearer token, reply tokens are single-use, expire, and must
 * have been issued by the test (as LINE issues them in webhooks), a message is
 * 1..5 text objects of 1..5000 UTF-16 code units (with a quickReply, 1..13
 * postback items: label 1..20, data 1..300, displayText 1..300, as LINE
 * limits them; 400 otherwise), and a push retry key is a
 * UUID that LINE accepts only once (409 after that). Everything that reaches the
 * fake is recorded, so a test can assert what the user saw and how it got there.
 *
 * Endpoints:
 *   POST /v2/bot/message/reply        {replyToken, messages}
 *   POST /v2/bot/message/push         {to, messages}, optional X-Line-Retry-Key
 *   POST /v2/bot/chat/loading/start   {chatId, loadingSeconds} -> 202 {}
 *   GET  /v2/bot/profile/{userId}
 *   GET  /v2/bot/group/{groupId}/member/{userId}
 *   GET  /v2/bot/room/{roomId}/member/{userId}
 *   GET  /v2/bot/info                          {displayName, basicId, ...}
 *   GET  /v2/bot/channel/webhook/endpoint      {endpoint, active}
 *   PUT  /v2/bot/channel/webhook/endpoint      {endpoint}: https only, at most 500 chars
 *   POST /v2/bot/channel/webhook/test          optional {endpoint} -> the verdict a test set
 *   GET  /v2/bot/message/quota                 {type:"none"} or {type:"limited", value}
 *   GET  /v2/bot/message/quota/consumption     {totalUsage}: the set count plus accepted pushes
 *
 * Thread-safe: the server threads record under a mutex and signal a condition
 * variable, which the wait helpers sleep on. Strings returned in the record
 * structs stay valid until fake_line_stop(). */
#ifndef E2E_FAKE_LINE_H
#define E2E_FAKE_LINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FAKE_LINE_REPLY_PATH "/v2/bot/message/reply"
#define FAKE_LINE_PUSH_PATH "/v2/bot/message/push"
#define FAKE_LINE_LOADING_PATH "/v2/bot/chat/loading/start"

struct fake_line;

/* Starts the fake; `access_token` is the Bearer token it accepts. NULL on failure. */
struct fake_line *fake_line_start(const char *access_token);
void fake_line_stop(struct fake_line *f);
int fake_line_port(const struct fake_line *f);
const char *fake_line_url(const struct fake_line *f); /* "http://127.0.0.1:<port>" */

/* Makes `token` a valid reply token for `ttl_ms` (as if LINE had put it in a
 * webhook). `chat_id` (may be NULL) is the chat a reply with it goes to, so
 * replies can be counted per chat. */
void fake_line_issue_token(struct fake_line *f, const char *token, int ttl_ms);
void fake_line_issue_token_for(struct fake_line *f, const char *token, const char *chat_id,
                               int ttl_ms);
/* Marks an issued token as used (as if another reply had consumed it). */
void fake_line_consume_token(struct fake_line *f, const char *token);
/* Registers a quote token (webhook message.quoteToken) the bot may quote. */
void fake_line_add_quote_token(struct fake_line *f, const char *quote_token);

/* Display name for the member/profile endpoints. `chat_id` NULL (or equal to
 * `user_id`) sets /v2/bot/profile/{user_id}; otherwise the group or room member. */
void fake_line_set_name(struct fake_line *f, const char *chat_id, const char *user_id,
                        const char *name);

/* /v2/bot/profile/{user_id} with `language` (NULL: none, as when the user
 * has not consented to share it). */
void fake_line_set_profile(struct fake_line *f, const char *user_id, const char *name, const char *language);

#define FAKE_LINE_BOT_INFO_PATH "/v2/bot/info"
#define FAKE_LINE_WEBHOOK_PATH "/v2/bot/channel/webhook/endpoint"
#define FAKE_LINE_WEBHOOK_TEST_PATH "/v2/bot/channel/webhook/test"

#define FAKE_LINE_QUOTA_PATH "/v2/bot/message/quota"
/* The month's push quota: `limit` messages (< 0: type "none", the default),
 * `used` of them sent before; every accepted push request after this call
 * adds one to totalUsage, as LINE counts a push to one user. */
void fake_line_set_quota(struct fake_line *f, long long limit, long long used);
/* What GET /v2/bot/info answers (default "E2E Bot", "@e2ebot"). */
void fake_line_set_bot_info(struct fake_line *f, const char *display_name, const char *basic_id);
/* The registered webhook (default none: endpoint "" and inactive). A PUT
 * changes the endpoint and leaves `active` as it was, as LINE does. */
void fake_line_set_webhook(struct fake_line *f, const char *endpoint, bool active);
/* The registered endpoint now (malloc'd, "" when none). */
char *fake_line_webhook_endpoint(struct fake_line *f);
/* The verdict POST /v2/bot/channel/webhook/test answers (default success,
 * statusCode 200, reason "OK", detail "200"). Its timestamp is the time of
 * the request. */
void fake_line_set_webhook_test(struct fake_line *f, bool success, int status_code, const char *reason,
                                const char *detail);

/* The next `count` requests whose path starts with `path_prefix` are answered
 * `status` with {"message":"scripted failure"} (after the auth check). Several
 * calls queue up in order. */
void fake_line_fail_next(struct fake_line *f, const char *path_prefix, int status, int count);
/* The next `count` successful requests under `path_prefix` take effect (the
 * reply is delivered, the retry key accepted, the token used) but are answered
 * `status`: LINE did the work and the answer was lost on the way back. */
void fake_line_fail_after_delivery(struct fake_line *f, const char *path_prefix, int status,
                                   int count);
/* Every request whose path starts with `path_prefix` is answered after `delay_ms`
 * (its effect, e.g. a delivered reply, is recorded before the delay). 0 removes. */
void fake_line_set_delay(struct fake_line *f, const char *path_prefix, int delay_ms);

/* ---- message content (issue 13) ----
 * GET /v2/bot/message/{id}/content answers the bytes set here, with the
 * Content-Type given (what the header claims: the bytes may say otherwise),
 * after answering 202 `not_ready` times; an id never set answers 404, as
 * LINE does for expired content. The same bytes are served without auth at
 * FAKE_LINE_EXTERNAL_PATH{id}: the originalContentUrl of an `external`
 * contentProvider, someone else's server. */
#define FAKE_LINE_EXTERNAL_PATH "/external/"
void fake_line_set_content(struct fake_line *f, const char *message_id, const void *data, size_t len,
                           const char *content_type, int not_ready);
/* GET .../content/transcoding of a content set above: {"status":"processing"}
 * `processing` times, then "failed" when `fails`, else "succeeded". */
void fake_line_set_transcoding(struct fake_line *f, const char *message_id, int processing, bool fails);

/* One text message LINE accepted (delivered to the user). */
struct fake_line_message {
    const char *api;         /* "reply" or "push" */
    const char *chat_id;     /* push: "to"; reply: the chat its token was issued for (may be NULL) */
    const char *text;
    const char *reply_token; /* reply only */
    const char *retry_key;   /* push only, NULL when the push had none */
    const char *quote_token; /* the quoteToken the bot put on the message, or NULL */
    const char *id;          /* the sentMessages id the fake returned */
    size_t delivery;         /* index of the accepted request (messages of one reply share it) */
    int64_t at_ms;           /* e2e_mono_ms() when accepted */
};

/* One HTTP request that reached the fake, whatever the answer. */
struct fake_line_request {
    const char *method;
    const char *path;
    int status;
    const char *body;
    const char *authorization; /* may be NULL */
    const char *retry_key;     /* may be NULL */
    const char *response;      /* the body the fake answered */
    int64_t at_ms;
};

size_t fake_line_message_count(struct fake_line *f);
bool fake_line_message_at(struct fake_line *f, size_t i, struct fake_line_message *out);
/* Messages delivered to `chat_id` (NULL = all). */
size_t fake_line_message_count_to(struct fake_line *f, const char *chat_id);
/* Accepted reply/push requests ("answers") to `chat_id` (NULL = all). */
size_t fake_line_delivery_count(struct fake_line *f, const char *chat_id);
/* Texts delivered to `chat_id` (NULL = all), joined with `sep`; malloc'd. */
char *fake_line_texts(struct fake_line *f, const char *chat_id, const char *sep);
/* True when `id` is a sentMessages id the fake returned. */
bool fake_line_is_sent_id(struct fake_line *f, const char *id);

size_t fake_line_request_total(struct fake_line *f);
bool fake_line_request_at(struct fake_line *f, size_t i, struct fake_line_request *out);
/* Requests with `method` (NULL = any) whose path starts with `path_prefix`. */
size_t fake_line_request_count(struct fake_line *f, const char *method, const char *path_prefix);
/* Same, answered with `status`. */
size_t fake_line_request_count_status(struct fake_line *f, const char *path_prefix, int status);
/* Accepted loading/start requests for `chat_id` (NULL = all). */
size_t fake_line_loading_count(struct fake_line *f, const char *chat_id);

/* Wait until at least `n` messages (to `chat_id`; NULL = all) / deliveries /
 * requests have been recorded. Return true when reached, false on timeout. */
bool fake_line_wait_messages(struct fake_line *f, size_t n, int timeout_ms);
bool fake_line_wait_messages_to(struct fake_line *f, const char *chat_id, size_t n, int timeout_ms);
bool fake_line_wait_deliveries(struct fake_line *f, const char *chat_id, size_t n, int timeout_ms);
bool fake_line_wait_requests(struct fake_line *f, const char *path_prefix, size_t n,
                             int timeout_ms);

/* Prints every request (for a failing test's log). */
void fake_line_dump(struct fake_line *f);

#endif
