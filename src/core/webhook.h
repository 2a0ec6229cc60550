/* webhook.h - the LINE webhook: signature check and parsing into events.
 *
 * Pure: no I/O. The signature is HMAC-SHA256 over the raw body bytes with the
 * channel secret, base64-encoded, compared in constant time. Parsing accepts
 * every event type LINE documents (and ones it does not yet): unknown types and
 * unknown fields are kept as EVENT_UNKNOWN / ignored, never an error. */
#ifndef LINEBOT_WEBHOOK_H
#define LINEBOT_WEBHOOK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* True when `signature_b64` (the X-Line-Signature header, may be NULL) is the
 * base64 HMAC-SHA256 of `body` under `channel_secret`. Constant-time compare. */
bool webhook_signature_valid(const char *channel_secret, const void *body, size_t body_len,
                             const char *signature_b64);

enum chat_type { CHAT_NONE = 0, CHAT_USER, CHAT_GROUP, CHAT_ROOM };

enum event_kind {
    EVENT_UNKNOWN = 0,
    EVENT_MESSAGE,
    EVENT_MESSAGE_EDITED,
    EVENT_UNSEND,
    EVENT_FOLLOW,
    EVENT_UNFOLLOW,
    EVENT_JOIN,
    EVENT_LEAVE,
    EVENT_MEMBER_JOINED,
    EVENT_MEMBER_LEFT,
    EVENT_POSTBACK,
    EVENT_VIDEO_PLAY_COMPLETE,
    EVENT_BEACON,
    EVENT_ACCOUNT_LINK,
    EVENT_THINGS,
    EVENT_MEMBERSHIP,
    EVENT_MODULE,
    EVENT_ACTIVATED,
    EVENT_DEACTIVATED,
    EVENT_BOT_SUSPENDED,
    EVENT_BOT_RESUMED,
    EVENT_DELIVERY,
};

enum message_kind {
    MESSAGE_NONE = 0,
    MESSAGE_TEXT,
    MESSAGE_IMAGE,
    MESSAGE_VIDEO,
    MESSAGE_AUDIO,
    MESSAGE_FILE,
    MESSAGE_LOCATION,
    MESSAGE_STICKER,
    MESSAGE_OTHER,
};

/* One entry of message.mention.mentionees. index/length are in UTF-16 code
 * units of message.text, as LINE sends them. */
struct mention {
    size_t index;
    size_t length;
    bool is_self;   /* isSelf: true - this mentions the bot */
    bool is_all;    /* type "all" (@All) */
};

/* One webhook event. All strings are owned (NUL-terminated, may be NULL when
 * the event has no such field). */
struct line_event {
    enum event_kind kind;
    char *type;                 /* the raw "type" string, e.g. "message" */
    char *event_id;             /* webhookEventId, or "sha256:<hex>" of the event's canonical JSON */
    bool has_webhook_event_id;
    int64_t timestamp_ms;
    bool standby;               /* mode == "standby" */
    bool redelivery;            /* deliveryContext.isRedelivery */

    enum chat_type chat_type;   /* from source.type */
    char *chat_id;              /* userId / groupId / roomId: where an answer goes */
    char *user_id;              /* source.userId (may be NULL in groups) */
    char *reply_token;

    /* message / messageEdited */
    enum message_kind message_kind;
    char *message_id;
    char *text;                 /* message.text, for text messages */
    char *quoted_message_id;    /* message.quotedMessageId */
    char *quote_token;          /* message.quoteToken */
    struct mention *mentions;
    size_t n_mentions;

    /* image, video, audio, file: where the content is (io/line_content.h) */
    bool content_external;      /* contentProvider.type "external" */
    char *content_url;          /* its originalContentUrl (external only), NULL otherwise */
    char *image_set_id;         /* imageSet.id: images sent together */
    int image_set_index;        /* imageSet.index, 1-based; 0 when missing (old Android clients) */
    int image_set_total;        /* imageSet.total; 0 when missing */
    int64_t duration_ms;        /* audio and video: message.duration (ms); -1 when missing or odd */
    char *file_name;            /* file: message.fileName; NULL when missing */
    int64_t file_size;          /* file: message.fileSize in bytes; -1 when missing or odd */
    /* sticker */
    char *sticker_keywords;     /* keywords, joined by ", "; NULL when none */
    char *sticker_text;         /* a message sticker's text; NULL when none */

    /* unsend */
    char *unsend_message_id;    /* unsend.messageId */

    /* postback */
    char *postback_data;

    char *raw_json;             /* this event, compact JSON with sorted keys (what the inbox stores;
                                 * from line_event_parse, the stored text as given) */
};

struct webhook {
    char *destination;
    struct line_event *events;
    size_t n_events;
};

enum webhook_parse_status {
    WEBHOOK_PARSE_OK = 0,
    WEBHOOK_PARSE_BAD_JSON,     /* not JSON, or not a JSON object */
    WEBHOOK_PARSE_NO_EVENTS,    /* object without an "events" array */
};

/* Parses a webhook body. On WEBHOOK_PARSE_OK `out` owns the events (free with
 * webhook_free). Entries of "events" that are not objects are skipped. `err`
 * gets a short reason on failure (no body content in it). */
enum webhook_parse_status webhook_parse(const char *body, size_t len, struct webhook *out,
                                        char *err, size_t errlen);
void webhook_free(struct webhook *wh);

/* Parses one event from JSON (as stored in the inbox: line_event.raw_json,
 * which keeps `json` as it is rather than dumping it again). Returns 0, or -1
 * when `json` is not a JSON object. */
int line_event_parse(const char *json, size_t len, struct line_event *ev);
void line_event_free(struct line_event *ev);

const char *chat_type_name(enum chat_type t); /* "user", "group", "room", "none" */

/* ---- event time ----
 * The sender sets an event's timestamp, so it is bounded before the bot does
 * arithmetic with it: anything from INT64_MIN to INT64_MAX can arrive. */

/* A timestamp this far ahead of the arrival time is a wrong clock, not an event
 * from the future: the arrival time is used instead. */
#define EVENT_MAX_AHEAD_MS (5 * 60 * 1000)

enum event_time {
    EVENT_TIME_OK,      /* the sender's timestamp is plausible: it is used */
    EVENT_TIME_AHEAD,   /* more than EVENT_MAX_AHEAD_MS ahead: the arrival time is used */
    EVENT_TIME_TOO_OLD, /* older than `max_age_ms`: not to be acted on */
};

/* Judges the sender's `sent_ms` against `arrival_ms` (when the webhook was
 * received). `*effective_ms` gets the time to order and time the event by:
 * `sent_ms` when EVENT_TIME_OK, else `arrival_ms`. Never overflows. */
enum event_time event_time_judge(int64_t sent_ms, int64_t arrival_ms, int64_t max_age_ms, int64_t *effective_ms);

/* now_ms - then_ms, saturated at INT64_MIN and INT64_MAX instead of
 * overflowing: the age of an event whatever its timestamp says. */
int64_t event_age_ms(int64_t then_ms, int64_t now_ms);

#endif
