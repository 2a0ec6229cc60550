/* chat.h - the chat rules: whether and how the bot answers an event, and what
 * it sends the model.
 *
 * Pure: the worker gathers the facts (the event, the chat's history, whether a
 * quoted message is one of the bot's) and this module decides. */
#ifndef LINEBOT_CHAT_H
#define LINEBOT_CHAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "core/completion.h"
#include "core/texts.h"
#include "core/webhook.h"

extern const char chat_default_system_prompt[];

/* ---- history turns (also the store's unit of history) ---- */
enum turn_role { TURN_USER, TURN_ASSISTANT, TURN_CONTEXT };

struct turn {
    enum turn_role role;      /* TURN_CONTEXT: a group message not addressed to the bot */
    char *speaker;            /* display name in groups and rooms, may be NULL */
    char *text;
    char *message_id;         /* LINE message id (user) or first sent id (assistant); may be NULL */
    int64_t timestamp_ms;
};

/* ---- what to do with an event ---- */
enum chat_action {
    CHAT_IGNORE,        /* nothing to do */
    CHAT_ANSWER,        /* ask the model about `text` */
    CHAT_REPLY_FIXED,   /* reply the `fixed` text (media notice, greeting, help) without the model */
    CHAT_RESET,         /* clear the chat's history, then reply the `fixed` text */
    CHAT_STORE_CONTEXT, /* group message not addressed to the bot: keep `text` as context */
    CHAT_UNSEND,        /* remove ev->unsend_message_id from history */
    CHAT_EDIT,          /* replace the text of ev->message_id in history with `text` */
    CHAT_FORGET,        /* unfollow / leave: delete everything about ev->chat_id */
    CHAT_MODEL,         /* /model or its button: `text` is the model name, "" to show the list */
    CHAT_MEMORY,        /* /remember, /memory, /forget: `text` is the command (core/memory.h) */
};

struct chat_decision {
    enum chat_action action;
    char *text;             /* malloc'd: the user's words without the bot's mention or trigger */
    enum text_id fixed;     /* CHAT_REPLY_FIXED, CHAT_RESET: which text (its language is chosen later) */
    bool rate_limited;      /* counts toward the user's per-minute limit */
    const char *reason;     /* short, for debug logs: why this action */
};

/* Facts the worker looked up in the store. */
struct chat_facts {
    bool quotes_bot_message; /* message.quotedMessageId is one of the bot's sent messages */
};

/* Decides what to do with `ev`. */
void chat_decide(const struct config *cfg, const struct line_event *ev, const struct chat_facts *facts,
                struct chat_decision *out);
void chat_decision_free(struct chat_decision *d);

/* Cheap pre-filter for ingest: false when no fact from the store could make the
 * event need any work (standby, stickers, group chatter that is not kept...),
 * so it never enters the inbox. Must be true whenever chat_decide could return
 * anything but CHAT_IGNORE. */
/* Postback data that takes over an answer parked for this chat: the prefix,
 * then the event id of the parked answer (see run/stage_deliver.c). */
#define CHAT_ADOPT_PREFIX "linebot:answer="

bool chat_needs_work(const struct config *cfg, const struct line_event *ev);

/* The user's text with every isSelf mention removed (LINE's UTF-16 index/length)
 * and, when `trigger` is set and starts the text, the trigger removed together
 * with the punctuation right after it ("ボット、..." and "Bot: ..."); trimmed.
 * `addressed` (may be NULL) tells whether a self mention or the trigger was
 * found. Returns malloc'd text. */
char *chat_strip_address(const struct line_event *ev, const char *trigger, bool *addressed);

/* ---- /model (issue 11) ----
 * "/model" shows the chat's model and the catalogue, "/model NAME" and the
 * buttons' postbacks (core/postback.h) switch. In groups and rooms only
 * LINEBOT_ADMINS may switch, when it is set. */

/* True when `text` (already stripped of the bot's mention) is the /model
 * command; `*name` then points at its argument inside `text` ("" for none). */
bool chat_parse_model_command(const char *text, const char **name, size_t *name_len);
/* Whether the speaker of `ev` may switch the chat's model. */
bool chat_may_switch_model(const struct config *cfg, const struct line_event *ev);

/* ---- rate limit: a fixed one-minute window per user ---- */
enum rate_verdict { RATE_ALLOW, RATE_WARN, RATE_SILENT };
/* The verdict for the `count`-th message of a user in the current window
 * (store_rate_count counts it atomically): up to `limit` RATE_ALLOW, the
 * first one over RATE_WARN, the rest RATE_SILENT. limit <= 0: no limit. */
enum rate_verdict chat_rate_verdict(int64_t count, int limit);

/* ---- the prompt ---- */
struct prompt {
    struct llm_message *messages; /* contents are malloc'd and owned */
    size_t n;
};

/* Builds the messages for the model: the system prompt, then the history
 * (oldest first, only the newest turns that fit cfg->history_chars), then the
 * question. In groups and rooms user turns read "Name: text". A quoted
 * message's text (may be NULL) is put before the question. */
void chat_build_prompt(const struct config *cfg, enum chat_type chat_type, const struct turn *history,
                       size_t n_history, const char *speaker, const char *quoted_text, const char *text,
                       struct prompt *out);
void prompt_free(struct prompt *p);

#endif
