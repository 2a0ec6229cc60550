/* chat_wire.h - what `linebot chat` and LINE say to each other, as JSON.
 *
 * Pure: no I/O. The terminal's lines become webhook bodies made the way LINE
 * makes them (a text message, with "@bot" as a mention of the bot in a group;
 * an image or a file, whose bytes the stand-in serves as LINE would; a
 * postback), and the bodies the bot sends to LINE's reply and push calls
 * become what a LINE app would show: the texts, and the quick reply buttons of
 * the last message as numbered choices. */
#ifndef LINEBOT_CHAT_WIRE_H
#define LINEBOT_CHAT_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Written in a group line, this word is a mention of the bot. */
#define CHAT_WIRE_MENTION "@bot"

/* Who speaks, where, and the ids of the event to build. */
struct chat_wire_event {
    const char *destination; /* the bot's user id */
    const char *user_id;
    const char *group_id;    /* NULL: a one-to-one chat */
    const char *event_id;    /* webhookEventId */
    const char *reply_token;
    const char *message_id;  /* messages */
    const char *quote_token; /* text and image messages */
    int64_t timestamp_ms;
};

/* {"destination":..,"events":[one text message event]} (malloc'd). In a
 * group, each CHAT_WIRE_MENTION in `text` is a mention of the bot (isSelf,
 * UTF-16 index and length, as LINE counts them). `text` must be UTF-8. */
char *chat_wire_text(const struct chat_wire_event *e, const char *text);

/* The same with one image message whose content LINE keeps
 * (contentProvider "line"): the bot fetches it by its message id. */
char *chat_wire_image(const struct chat_wire_event *e);

/* The same with one file message: `name` (UTF-8) and its size in bytes. */
char *chat_wire_file(const struct chat_wire_event *e, const char *name, long long size);

/* The same with one postback event carrying `data` (malloc'd). */
char *chat_wire_postback(const struct chat_wire_event *e, const char *data);

/* A quick reply button. */
enum chat_choice_kind {
    CHAT_CHOICE_POSTBACK, /* sends a postback event with `data` */
    CHAT_CHOICE_MESSAGE,  /* sends `text` as the user's message */
    CHAT_CHOICE_OTHER,    /* camera, location, a link...: nothing to do in a terminal */
};
struct chat_choice {
    enum chat_choice_kind kind;
    char *label;
    char *data; /* postback data; NULL otherwise */
    char *text; /* message: its text; postback: its displayText (may be NULL) */
};

/* What a LINE app shows for one reply or push. */
struct chat_shown {
    char **texts; /* one per message: its text, or "[<type> message]" */
    size_t n_texts;
    struct chat_choice *choices; /* the last message's quick reply buttons */
    size_t n_choices;
};

/* Reads the body of a reply or push ({"messages":[...]}). Returns 0, or -1
 * when it is not such a body (then `out` is empty). */
int chat_wire_read(const char *body, size_t len, struct chat_shown *out);
void chat_shown_free(struct chat_shown *s);
void chat_choice_free(struct chat_choice *c);

#endif
