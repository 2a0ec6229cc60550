/* webhook.c - the LINE webhook: X-Line-Signature check and parsing into events.
 *
 * Pure: no I/O, no clock. The body is hostile until the signature says
 * otherwise, and even then we trust only its shape, not its types: every field
 * is read through jansson's type-checked getters, so a field with the wrong
 * JSON type reads as absent. Nothing here fails because of an unexpected field
 * or event type; only a body that is not a JSON object with an "events" array
 * is an error.
 *
 * Strings: JSON_ALLOW_NUL is deliberately not set, so jansson rejects "\u0000"
 * anywhere in the body. Every string we hand out is then a plain C string whose
 * strlen() is its whole value; nothing downstream can be fooled by a hidden
 * tail after a NUL.
 *
 * Each event keeps its canonical JSON (compact, keys sorted) in raw_json. That
 * is what the inbox stores and what line_event_parse() reads back (and keeps
 * as it is, without a second dump), and, when
 * LINE sends no webhookEventId, its SHA-256 is the event's id. Canonical dumps
 * are a fixed point (dump(load(dump(x))) == dump(x)), so the id is the same
 * whether it is computed from the webhook or from the stored event. */
#include "core/webhook.h"

#include "core/alloc.h"
#include "core/buf.h"
#include "core/format.h"

#include <assert.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#define HMAC_SHA256_LEN 32
#define SIGNATURE_B64_LEN 44 /* 32 bytes -> 43 base64 digits + one '=' */
#define CANONICAL_FLAGS (JSON_COMPACT | JSON_SORT_KEYS)
#define EVENT_ID_HASH_PREFIX "sha256:"

/* ---- signature ---------------------------------------------------------- */

static int b64_digit_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

/* Decodes the header into exactly 32 bytes, or fails. EVP_DecodeBlock alone is
 * too lenient (it trims whitespace, reads '=' in the middle as zero bits and
 * accepts non-canonical final digits), so the shape is checked first: the only
 * accepted form is 43 base64 digits, whose last one carries no stray bits,
 * followed by one '='. */
static bool decode_signature(const char *b64, unsigned char out[HMAC_SHA256_LEN])
{
    if (b64 == NULL || strnlen(b64, SIGNATURE_B64_LEN + 1) != SIGNATURE_B64_LEN)
        return false;
    if (b64[SIGNATURE_B64_LEN - 1] != '=')
        return false;
    for (size_t i = 0; i < SIGNATURE_B64_LEN - 1; i++) {
        int v = b64_digit_value((unsigned char)b64[i]);
        if (v < 0)
            return false;
        /* 43 digits carry 258 bits; the last digit's low 2 bits must be 0. */
        if (i == SIGNATURE_B64_LEN - 2 && (v & 3) != 0)
            return false;
    }
    unsigned char buf[HMAC_SHA256_LEN + 1]; /* the '=' decodes as one zero byte */
    int n = EVP_DecodeBlock(buf, (const unsigned char *)b64, SIGNATURE_B64_LEN);
    if (n != HMAC_SHA256_LEN + 1)
        return false;
    memcpy(out, buf, HMAC_SHA256_LEN);
    OPENSSL_cleanse(buf, sizeof buf);
    return true;
}

bool webhook_signature_valid(const char *channel_secret, const void *body, size_t body_len,
                             const char *signature_b64)
{
    /* An empty secret would make every forged body "valid": refuse it. */
    if (channel_secret == NULL || channel_secret[0] == '\0')
        return false;
    if (body == NULL) {
        if (body_len != 0)
            return false;
        body = "";
    }
    size_t secret_len = strlen(channel_secret);
    if (secret_len > INT_MAX)
        return false;

    unsigned char given[HMAC_SHA256_LEN];
    if (!decode_signature(signature_b64, given))
        return false;

    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int mac_len = 0;
    if (HMAC(EVP_sha256(), channel_secret, (int)secret_len, body, body_len, mac, &mac_len) ==
            NULL ||
        mac_len != HMAC_SHA256_LEN) {
        OPENSSL_cleanse(mac, sizeof mac);
        return false;
    }
    bool ok = CRYPTO_memcmp(mac, given, HMAC_SHA256_LEN) == 0;
    OPENSSL_cleanse(mac, sizeof mac);
    return ok;
}

/* ---- field access --------------------------------------------------------- */

/* jansson's getters return NULL for a wrong type or a non-object parent, so a
 * chain like json_object_get(json_object_get(ev, "source"), "type") is safe. */
static const char *str_at(const json_t *obj, const char *key)
{
    return json_string_value(json_object_get(obj, key));
}

static const char *nonempty_str_at(const json_t *obj, const char *key)
{
    const char *s = str_at(obj, key);
    return s != NULL && s[0] != '\0' ? s : NULL;
}

/* A copy of src, NULL for NULL. */
static char *dup_or_null(const char *src)
{
    return src != NULL ? xstrdup(src) : NULL;
}

static const struct {
    const char *name;
    enum event_kind kind;
} event_kinds[] = {
    {"message", EVENT_MESSAGE},
    {"messageEdited", EVENT_MESSAGE_EDITED},
    {"unsend", EVENT_UNSEND},
    {"follow", EVENT_FOLLOW},
    {"unfollow", EVENT_UNFOLLOW},
    {"join", EVENT_JOIN},
    {"leave", EVENT_LEAVE},
    {"memberJoined", EVENT_MEMBER_JOINED},
    {"memberLeft", EVENT_MEMBER_LEFT},
    {"postback", EVENT_POSTBACK},
    {"videoPlayComplete", EVENT_VIDEO_PLAY_COMPLETE},
    {"beacon", EVENT_BEACON},
    {"accountLink", EVENT_ACCOUNT_LINK},
    {"things", EVENT_THINGS},
    {"membership", EVENT_MEMBERSHIP},
    {"module", EVENT_MODULE},
    {"activated", EVENT_ACTIVATED},
    {"deactivated", EVENT_DEACTIVATED},
    {"botSuspended", EVENT_BOT_SUSPENDED},
    {"botResumed", EVENT_BOT_RESUMED},
    {"delivery", EVENT_DELIVERY},
};

static enum event_kind event_kind_of(const char *type)
{
    if (type == NULL)
        return EVENT_UNKNOWN;
    for (size_t i = 0; i < sizeof event_kinds / sizeof event_kinds[0]; i++)
        if (strcmp(type, event_kinds[i].name) == 0)
            return event_kinds[i].kind;
    return EVENT_UNKNOWN;
}

static const struct {
    const char *name;
    enum message_kind kind;
} message_kinds[] = {
    {"text", MESSAGE_TEXT},         {"image", MESSAGE_IMAGE}, {"video", MESSAGE_VIDEO},
    {"audio", MESSAGE_AUDIO},       {"file", MESSAGE_FILE},   {"location", MESSAGE_LOCATION},
    {"sticker", MESSAGE_STICKER},
};

static enum message_kind message_kind_of(const char *type)
{
    if (type == NULL)
        return MESSAGE_NONE;
    for (size_t i = 0; i < sizeof message_kinds / sizeof message_kinds[0]; i++)
        if (strcmp(type, message_kinds[i].name) == 0)
            return message_kinds[i].kind;
    return MESSAGE_OTHER;
}

/* ---- one event ---------------------------------------------------------- */

/* Source: chat_type and chat_id go together. A source whose id for its type is
 * missing (or empty, or not a string) gets CHAT_NONE, so a caller that sees a
 * chat type can always use chat_id. */
static void parse_source(const json_t *source, struct line_event *ev)
{
    const char *type = str_at(source, "type");
    const char *id = NULL;
    enum chat_type chat = CHAT_NONE;
    if (type != NULL && strcmp(type, "user") == 0) {
        chat = CHAT_USER;
        id = nonempty_str_at(source, "userId");
    } else if (type != NULL && strcmp(type, "group") == 0) {
        chat = CHAT_GROUP;
        id = nonempty_str_at(source, "groupId");
    } else if (type != NULL && strcmp(type, "room") == 0) {
        chat = CHAT_ROOM;
        id = nonempty_str_at(source, "roomId");
    }
    ev->chat_type = id != NULL ? chat : CHAT_NONE;
    ev->chat_id = dup_or_null(id);
    ev->user_id = dup_or_null(nonempty_str_at(source, "userId"));
}

/* Mentions are kept only when they lie inside message.text: index and length
 * non-negative integers with index + length <= the text's UTF-16 length.
 * Anything else (missing, negative, wrong type, past the end) is skipped, so a
 * caller may slice the text by any mention it gets. */
static void parse_mentions(const json_t *message, struct line_event *ev)
{
    const json_t *list = json_object_get(json_object_get(message, "mention"), "mentionees");
    if (!json_is_array(list) || ev->text == NULL || json_array_size(list) == 0)
        return;
    size_t text_units = utf16_len(ev->text, strlen(ev->text));
    ev->mentions = xcalloc(json_array_size(list), sizeof *ev->mentions);

    size_t i;
    const json_t *m;
    json_array_foreach(list, i, m) {
        const json_t *jindex = json_object_get(m, "index");
        const json_t *jlength = json_object_get(m, "length");
        if (!json_is_integer(jindex) || !json_is_integer(jlength))
            continue;
        json_int_t index = json_integer_value(jindex);
        json_int_t length = json_integer_value(jlength);
        if (index < 0 || length < 0 || (unsigned long long)index > text_units ||
            (unsigned long long)length > text_units - (size_t)index)
            continue;
        const char *type = str_at(m, "type");
        struct mention *out = &ev->mentions[ev->n_mentions++];
        out->index = (size_t)index;
        out->length = (size_t)length;
        out->is_self = json_is_true(json_object_get(m, "isSelf"));
        out->is_all = type != NULL && strcmp(type, "all") == 0;
    }
    if (ev->n_mentions == 0) {
        free(ev->mentions);
        ev->mentions = NULL;
    }
}

/* imageSet index and total: 1..IMAGE_SET_MAX, else 0 (missing). */
#define IMAGE_SET_MAX 100

static int small_count_at(const json_t *obj, const char *key)
{
    const json_t *v = json_object_get(obj, key);
    if (!json_is_integer(v))
        return 0;
    json_int_t n = json_integer_value(v);
    return n >= 1 && n <= IMAGE_SET_MAX ? (int)n : 0;
}

/* The sticker's keywords joined by ", " (strings only, at most 20 of them,
 * as LINE sends up to 15), or NULL when there are none. */
static char *sticker_keywords(const json_t *message)
{
    struct buf b;
    buf_init(&b, SIZE_MAX); /* the webhook body's cap bounds it */
    size_t i;
    const json_t *k;
    json_array_foreach(json_object_get(message, "keywords"), i, k) {
        const char *s = json_string_value(k);
        if (i >= 20)
            break;
        if (s && s[0] && buf_addf(&b, "%s%s", b.len ? ", " : "", s) != 0)
            break;
    }
    if (b.len == 0) {
        buf_free(&b);
        return NULL;
    }
    return buf_take(&b, NULL);
}

/* What an image, video, audio or file message says about its content. */
static void parse_content(const json_t *message, struct line_event *ev)
{
    const json_t *provider = json_object_get(message, "contentProvider");
    const char *type = str_at(provider, "type");
    ev->content_external = type != NULL && strcmp(type, "external") == 0;
    if (ev->content_external)
        ev->content_url = dup_or_null(nonempty_str_at(provider, "originalContentUrl"));
    const json_t *set = json_object_get(message, "imageSet");
    ev->image_set_id = dup_or_null(nonempty_str_at(set, "id"));
    if (ev->image_set_id) {
        ev->image_set_index = small_count_at(set, "index");
        ev->image_set_total = small_count_at(set, "total");
    }
    /* audio and video: the length LINE measured, checked before any fetch */
    const json_t *duration = json_object_get(message, "duration");
    json_int_t ms = json_is_integer(duration) ? json_integer_value(duration) : -1;
    ev->duration_ms = ms >= 0 ? (int64_t)ms : -1;
    if (ev->message_kind == MESSAGE_FILE) {
        ev->file_name = dup_or_null(nonempty_str_at(message, "fileName"));
        const json_t *size = json_object_get(message, "fileSize");
        json_int_t bytes = json_is_integer(size) ? json_integer_value(size) : -1;
        ev->file_size = bytes >= 0 ? (int64_t)bytes : -1;
    }
}

/* message and messageEdited share the message object's shape. text is only
 * taken from text messages (a sticker's "text" is not something a user
 * typed: it is kept apart, with the sticker's keywords). */
static void parse_message(const json_t *message, struct line_event *ev)
{
    ev->message_kind = message_kind_of(str_at(message, "type"));
    ev->file_size = -1;
    ev->message_id = dup_or_null(nonempty_str_at(message, "id"));
    ev->quoted_message_id = dup_or_null(nonempty_str_at(message, "quotedMessageId"));
    ev->quote_token = dup_or_null(nonempty_str_at(message, "quoteToken"));
    if (ev->message_kind == MESSAGE_STICKER) {
        ev->sticker_keywords = sticker_keywords(message);
        ev->sticker_text = dup_or_null(nonempty_str_at(message, "text"));
    }
    if (ev->message_kind == MESSAGE_IMAGE || ev->message_kind == MESSAGE_VIDEO ||
        ev->message_kind == MESSAGE_AUDIO || ev->message_kind == MESSAGE_FILE)
        parse_content(message, ev);
    if (ev->message_kind != MESSAGE_TEXT)
        return;
    ev->text = dup_or_null(str_at(message, "text"));
    parse_mentions(message, ev);
}

/* Dumping an object fails only when jansson cannot allocate. */
static char *canonical_dump(const json_t *obj)
{
    char *text = json_dumps(obj, CANONICAL_FLAGS);
    if (text == NULL)
        alloc_fail("json_dumps", 0);
    return text;
}

/* The event's id: LINE's webhookEventId, else the SHA-256 of its canonical
 * JSON (`canonical`, or dumped here when the caller has none). */
static void set_event_id(const json_t *obj, struct line_event *ev, const char *canonical)
{
    const char *id = nonempty_str_at(obj, "webhookEventId");
    if (id != NULL) {
        ev->has_webhook_event_id = true;
        ev->event_id = xstrdup(id);
        return;
    }
    char *dumped = canonical ? NULL : canonical_dump(obj);
    const char *text = canonical ? canonical : dumped;
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int digest_len = 0;
    /* SHA-256 in memory fails only when OpenSSL cannot allocate its context. */
    if (!EVP_Digest(text, strlen(text), digest, &digest_len, EVP_sha256(), NULL))
        alloc_fail("EVP_Digest", strlen(text));
    free(dumped);
    size_t prefix = sizeof EVENT_ID_HASH_PREFIX - 1;
    ev->event_id = xmalloc(prefix + 2 * (size_t)digest_len + 1);
    memcpy(ev->event_id, EVENT_ID_HASH_PREFIX, prefix);
    static const char hex[] = "0123456789abcdef";
    for (unsigned int i = 0; i < digest_len; i++) {
        ev->event_id[prefix + 2 * i] = hex[digest[i] >> 4];
        ev->event_id[prefix + 2 * i + 1] = hex[digest[i] & 0xF];
    }
    ev->event_id[prefix + 2 * (size_t)digest_len] = '\0';
}

/* Fills `ev` (zeroed by the caller) from one event object. `stored` is the
 * text the object was read from when that is an inbox row (already
 * canonical: it is kept as it is, not dumped again), else NULL. */
static void fill_event(const json_t *obj, struct line_event *ev, const char *stored, size_t stored_len)
{
    if (stored) {
        ev->raw_json = xstrndup(stored, stored_len);
        set_event_id(obj, ev, NULL);
    } else {
        ev->raw_json = canonical_dump(obj);
        set_event_id(obj, ev, ev->raw_json);
    }

    const char *type = str_at(obj, "type");
    ev->kind = event_kind_of(type);
    ev->type = dup_or_null(type);

    const json_t *ts = json_object_get(obj, "timestamp");
    ev->timestamp_ms = json_is_integer(ts) ? (int64_t)json_integer_value(ts) : 0;
    const char *mode = str_at(obj, "mode");
    ev->standby = mode != NULL && strcmp(mode, "standby") == 0;
    ev->redelivery =
        json_is_true(json_object_get(json_object_get(obj, "deliveryContext"), "isRedelivery"));

    parse_source(json_object_get(obj, "source"), ev);
    ev->reply_token = dup_or_null(nonempty_str_at(obj, "replyToken"));

    switch (ev->kind) {
    case EVENT_MESSAGE:
    case EVENT_MESSAGE_EDITED:
        parse_message(json_object_get(obj, "message"), ev);
        break;
    case EVENT_UNSEND:
        ev->unsend_message_id = dup_or_null(nonempty_str_at(json_object_get(obj, "unsend"), "messageId"));
        break;
    case EVENT_POSTBACK:
        ev->postback_data = dup_or_null(str_at(json_object_get(obj, "postback"), "data"));
        break;
    default:
        break;
    }
}

/* ---- public API --------------------------------------------------------- */

static void set_err(char *err, size_t errlen, const char *reason)
{
    if (err != NULL && errlen > 0)
        snprintf(err, errlen, "%s", reason);
}

static json_t *load_json(const char *text, size_t len, enum webhook_parse_status *status,
                         char *err, size_t errlen)
{
    json_error_t jerr;
    if (text == NULL) {
        *status = WEBHOOK_PARSE_BAD_JSON;
        set_err(err, errlen, "no body");
        return NULL;
    }
    /* JSON_DECODE_ANY only so that `"x"` or `5` load and get the clearer
     * "not a JSON object" reason below. jerr.text may quote the body, so it
     * is not copied into `err`; the position is enough to find the fault. */
    json_t *root = json_loadb(text, len, JSON_DECODE_ANY, &jerr);
    if (root == NULL) {
        /* With alloc_init's allocator jansson cannot run out of memory, so
         * a NULL here is the body's fault. */
        *status = WEBHOOK_PARSE_BAD_JSON;
        if (err != NULL && errlen > 0)
            snprintf(err, errlen, "not valid JSON (line %d, column %d)", jerr.line, jerr.column);
        return NULL;
    }
    if (!json_is_object(root)) {
        json_decref(root);
        *status = WEBHOOK_PARSE_BAD_JSON;
        set_err(err, errlen, "not a JSON object");
        return NULL;
    }
    *status = WEBHOOK_PARSE_OK;
    return root;
}

enum webhook_parse_status webhook_parse(const char *body, size_t len, struct webhook *out,
                                        char *err, size_t errlen)
{
    enum webhook_parse_status status;
    memset(out, 0, sizeof *out);
    set_err(err, errlen, "");

    json_t *root = load_json(body, len, &status, err, errlen);
    if (root == NULL)
        return status;

    const json_t *events = json_object_get(root, "events");
    if (!json_is_array(events)) {
        json_decref(root);
        set_err(err, errlen, "no \"events\" array");
        return WEBHOOK_PARSE_NO_EVENTS;
    }
    out->destination = dup_or_null(str_at(root, "destination"));

    /* Entries that are not objects are skipped (documented), and get no slot:
     * "[1,1,1,...]" should not cost a struct line_event per byte pair. */
    size_t n = 0, i;
    const json_t *item;
    json_array_foreach(events, i, item)
        n += json_is_object(item);
    if (n > 0)
        out->events = xcalloc(n, sizeof *out->events);
    json_array_foreach(events, i, item) {
        if (!json_is_object(item))
            continue;
        assert(out->n_events < n);
        fill_event(item, &out->events[out->n_events++], NULL, 0);
    }
    json_decref(root);
    return WEBHOOK_PARSE_OK;
}

void webhook_free(struct webhook *wh)
{
    if (wh == NULL)
        return;
    for (size_t i = 0; i < wh->n_events; i++)
        line_event_free(&wh->events[i]);
    free(wh->events);
    free(wh->destination);
    memset(wh, 0, sizeof *wh);
}

int line_event_parse(const char *json, size_t len, struct line_event *ev)
{
    enum webhook_parse_status status;
    memset(ev, 0, sizeof *ev);
    json_t *obj = load_json(json, len, &status, NULL, 0);
    if (obj == NULL)
        return -1;
    fill_event(obj, ev, json, len);
    json_decref(obj);
    return 0;
}

void line_event_free(struct line_event *ev)
{
    if (ev == NULL)
        return;
    free(ev->type);
    free(ev->event_id);
    free(ev->chat_id);
    free(ev->user_id);
    free(ev->reply_token);
    free(ev->message_id);
    free(ev->text);
    free(ev->quoted_message_id);
    free(ev->quote_token);
    free(ev->mentions);
    free(ev->unsend_message_id);
    free(ev->postback_data);
    free(ev->content_url);
    free(ev->file_name);
    free(ev->image_set_id);
    free(ev->sticker_keywords);
    free(ev->sticker_text);
    free(ev->raw_json);
    memset(ev, 0, sizeof *ev);
}

const char *chat_type_name(enum chat_type t)
{
    switch (t) {
    case CHAT_USER:
        return "user";
    case CHAT_GROUP:
        return "group";
    case CHAT_ROOM:
        return "room";
    case CHAT_NONE:
    default:
        return "none";
    }
}

int64_t event_age_ms(int64_t then_ms, int64_t now_ms)
{
    if (then_ms >= 0 && now_ms < INT64_MIN + then_ms)
        return INT64_MIN;
    if (then_ms < 0 && now_ms > INT64_MAX + then_ms)
        return INT64_MAX;
    return now_ms - then_ms;
}

enum event_time event_time_judge(int64_t sent_ms, int64_t arrival_ms, int64_t max_age_ms, int64_t *effective_ms)
{
    int64_t age = event_age_ms(sent_ms, arrival_ms);
    *effective_ms = arrival_ms;
    if (age < -EVENT_MAX_AHEAD_MS)
        return EVENT_TIME_AHEAD;
    if (age > max_age_ms)
        return EVENT_TIME_TOO_OLD;
    *effective_ms = sent_ms;
    return EVENT_TIME_OK;
}
