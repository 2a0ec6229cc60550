/* chat_wire.c - the JSON between `linebot chat` and the bot (see chat_wire.h). */
#include "cli/chat_wire.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/format.h"

/* The event fields every kind shares; `type` is "message" or "postback". */
static json_t *wire_event(const struct chat_wire_event *e, const char *type)
{
    json_t *source = e->group_id ? json_pack("{s:s,s:s,s:s}", "type", "group", "groupId", e->group_id, "userId",
                                             e->user_id)
                                 : json_pack("{s:s,s:s}", "type", "user", "userId", e->user_id);
    return json_pack("{s:s,s:s,s:I,s:o,s:s,s:{s:b},s:s}", "type", type, "mode", "active", "timestamp",
                     (json_int_t)e->timestamp_ms, "source", source, "webhookEventId", e->event_id,
                     "deliveryContext", "isRedelivery", 0, "replyToken", e->reply_token);
}

static char *wire_body(const struct chat_wire_event *e, json_t *event)
{
    json_t *body = json_pack("{s:s,s:[o]}", "destination", e->destination, "events", event);
    char *s = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    if (!s)
        alloc_fail("json_dumps", 0);
    char *out = xstrdup(s);
    free(s);
    return out;
}

/* LINE's mentionees for each CHAT_WIRE_MENTION in `text`, or NULL when none. */
static json_t *wire_mentions(const struct chat_wire_event *e, const char *text)
{
    json_t *list = json_array();
    size_t word = strlen(CHAT_WIRE_MENTION);
    for (const char *p = strstr(text, CHAT_WIRE_MENTION); p; p = strstr(p + word, CHAT_WIRE_MENTION)) {
        json_array_append_new(list, json_pack("{s:I,s:I,s:s,s:s,s:b}", "index",
                                              (json_int_t)utf16_len(text, (size_t)(p - text)), "length",
                                              (json_int_t)utf16_len(p, word), "type", "user", "userId",
                                              e->destination, "isSelf", 1));
    }
    if (json_array_size(list) == 0) {
        json_decref(list);
        return NULL;
    }
    return list;
}

/* A message event carrying `message` (reference stolen). */
static char *wire_message(const struct chat_wire_event *e, json_t *message)
{
    json_t *event = wire_event(e, "message");
    json_object_set_new(event, "message", message);
    return wire_body(e, event);
}

char *chat_wire_text(const struct chat_wire_event *e, const char *text)
{
    json_t *message = json_pack("{s:s,s:s,s:s,s:s}", "id", e->message_id, "type", "text", "quoteToken",
                                e->quote_token, "text", text);
    json_t *mentions = e->group_id ? wire_mentions(e, text) : NULL;
    if (mentions)
        json_object_set_new(message, "mention", json_pack("{s:o}", "mentionees", mentions));
    return wire_message(e, message);
}

char *chat_wire_image(const struct chat_wire_event *e)
{
    return wire_message(e, json_pack("{s:s,s:s,s:s,s:{s:s}}", "id", e->message_id, "type", "image", "quoteToken",
                                     e->quote_token, "contentProvider", "type", "line"));
}

char *chat_wire_file(const struct chat_wire_event *e, const char *name, long long size)
{
    /* LINE's file messages carry no quoteToken. */
    return wire_message(e, json_pack("{s:s,s:s,s:s,s:I}", "id", e->message_id, "type", "file", "fileName", name,
                                     "fileSize", (json_int_t)size));
}

char *chat_wire_postback(const struct chat_wire_event *e, const char *data)
{
    json_t *event = wire_event(e, "postback");
    json_object_set_new(event, "postback", json_pack("{s:s}", "data", data));
    return wire_body(e, event);
}

static char *string_or_null(json_t *obj, const char *key)
{
    const char *s = json_string_value(json_object_get(obj, key));
    return s ? xstrdup(s) : NULL;
}

/* A button from a quick reply item; false when it has no action. */
static bool wire_choice(json_t *item, struct chat_choice *c)
{
    json_t *action = json_object_get(item, "action");
    const char *type = json_string_value(json_object_get(action, "type"));
    if (!type)
        return false;
    memset(c, 0, sizeof *c);
    c->label = string_or_null(action, "label");
    if (strcmp(type, "postback") == 0 && json_is_string(json_object_get(action, "data"))) {
        c->kind = CHAT_CHOICE_POSTBACK;
        c->data = string_or_null(action, "data");
        c->text = string_or_null(action, "displayText");
    } else if (strcmp(type, "message") == 0 && json_is_string(json_object_get(action, "text"))) {
        c->kind = CHAT_CHOICE_MESSAGE;
        c->text = string_or_null(action, "text");
    } else {
        c->kind = CHAT_CHOICE_OTHER;
    }
    if (!c->label) /* LINE requires a label, except on a few action types */
        c->label = xstrdup(c->text ? c->text : type);
    return true;
}

int chat_wire_read(const char *body, size_t len, struct chat_shown *out)
{
    memset(out, 0, sizeof *out);
    json_t *root = json_loadb(body, len, 0, NULL);
    json_t *messages = json_object_get(root, "messages");
    if (!json_is_array(messages)) {
        json_decref(root);
        return -1;
    }
    size_t n = json_array_size(messages);
    out->texts = xcalloc(n ? n : 1, sizeof *out->texts);
    json_t *last = NULL;
    for (size_t i = 0; i < n; i++) {
        json_t *m = json_array_get(messages, i);
        const char *type = json_string_value(json_object_get(m, "type"));
        const char *text = json_string_value(json_object_get(m, "text"));
        if (type && strcmp(type, "text") == 0 && text)
            out->texts[out->n_texts++] = xstrdup(text);
        else
            out->texts[out->n_texts++] = xasprintf("[%s message]", type ? type : "unknown");
        last = m;
    }
    json_t *items = json_object_get(json_object_get(last, "quickReply"), "items");
    size_t n_items = json_array_size(items);
    if (n_items) {
        out->choices = xcalloc(n_items, sizeof *out->choices);
        for (size_t i = 0; i < n_items; i++)
            if (wire_choice(json_array_get(items, i), &out->choices[out->n_choices]))
                out->n_choices++;
    }
    json_decref(root);
    return 0;
}

void chat_choice_free(struct chat_choice *c)
{
    free(c->label);
    free(c->data);
    free(c->text);
    memset(c, 0, sizeof *c);
}

void chat_shown_free(struct chat_shown *s)
{
    for (size_t i = 0; i < s->n_texts; i++)
        free(s->texts[i]);
    free(s->texts);
    for (size_t i = 0; i < s->n_choices; i++)
        chat_choice_free(&s->choices[i]);
    free(s->choices);
    memset(s, 0, sizeof *s);
}
