/* quick_reply.h - LINE quick reply buttons, built within LINE's limits.
 *
 * A quick reply is the row of buttons under a message (LINE: at most 13
 * items; a postback action's label 20 characters, data 300, displayText
 * 300 and required). The builder refuses an item that breaks a limit, so
 * nothing the bot sends is turned down by LINE with a 400 for its buttons.
 * Characters are counted as LINE counts text: UTF-16 code units. Pure. */
#ifndef LINEBOT_QUICK_REPLY_H
#define LINEBOT_QUICK_REPLY_H

#include <jansson.h>
#include <stddef.h>

#define QUICK_REPLY_MAX 13
#define QUICK_REPLY_LABEL_MAX 20
#define QUICK_REPLY_DATA_MAX 300
#define QUICK_REPLY_TEXT_MAX 300

/* One postback button. Strings owned. */
struct quick_reply_item {
    char *label;        /* what the button shows */
    char *data;         /* what the postback event carries back (core/postback.h) */
    char *display_text; /* what appears in the chat as the user's message when tapped */
};

struct quick_reply {
    struct quick_reply_item items[QUICK_REPLY_MAX];
    size_t n;
};

/* Adds a postback button. Returns 0, or -1 (nothing added) when the row is
 * full or a field is empty, not UTF-8, or over LINE's limit. */
int quick_reply_add(struct quick_reply *qr, const char *label, const char *data, const char *display_text);
void quick_reply_free(struct quick_reply *qr);
/* A deep copy of `from` into `to` (which is overwritten, not freed). */
void quick_reply_copy(struct quick_reply *to, const struct quick_reply *from);

/* LINE's "quickReply" object ({"items":[{"type":"action","action":{...}}]}),
 * a new reference; NULL when `qr` has no items. */
json_t *quick_reply_json(const struct quick_reply *qr);
/* Reads what quick_reply_json wrote (items that break a limit are skipped). */
void quick_reply_from_json(const json_t *json, struct quick_reply *qr);

#endif
