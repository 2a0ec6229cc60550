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
    char *user_id;            /* the speaker's LINE user id (user and context turns); may be NULL.
                                 Written, never read back into prompts: `linebot admin forget` finds a
                                 user's turns in groups by it */
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
    CHAT_PERSONA,       /* /persona or its button: `persona_op` says what, `text` its argument */
    CHAT_USAGE,         /* /usage: the user's tokens today, the limit, when it resets */
    CHAT_MEMORY,        /* /remember, /memory, /forget: `text` is the command (core/memory.h) */
    CHAT_FILE,          /* a file in a 1:1 chat: into the chat's own knowledge base (run/stage_files.c) */
    CHAT_FILES,         /* /files: `text` "" lists the chat's documents, "clear" removes them */
};

/* What /persona asks for (CHAT_PERSONA). */
enum chat_persona_op {
    PERSONA_SHOW,     /* /persona: the chat's persona and the presets */
    PERSONA_PICK,     /* /persona NAME or a button: `text` is the name (maybe unknown: then the list) */
    PERSONA_SET,      /* /persona set TEXT: `text` is the persona, within PERSONAS_CUSTOM_MAX */
    PERSONA_RESET,    /* /persona reset: back to the default */
    PERSONA_TOO_LONG, /* /persona set TEXT over PERSONAS_CUSTOM_MAX: the user is told the limit */
};

struct chat_decision {
    enum chat_action action;
    char *text;             /* malloc'd: the user's words without the bot's mention or trigger */
    enum text_id fixed;     /* CHAT_REPLY_FIXED, CHAT_RESET: which text (its language is chosen later) */
    enum chat_persona_op persona_op; /* CHAT_PERSONA */
    bool rate_limited;      /* counts toward the user's per-minute limit */
    bool image;             /* CHAT_ANSWER: the event is an image, for the vision model (`text` "") */
    bool audio;             /* CHAT_ANSWER: the event is a voice message; its transcript becomes `text` */
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
/* Whether the speaker of `ev` may switch the chat's model, or change its
 * persona (LINEBOT_ADMINS in groups and rooms). */
bool chat_may_switch_model(const struct config *cfg, const struct line_event *ev);

/* ---- /persona (issue 11) ----
 * "/persona" shows the chat's persona and the presets (with buttons),
 * "/persona NAME" and the buttons' postbacks pick a preset, "/persona set
 * TEXT" sets a custom one, "/persona reset" goes back to the default. Like
 * /model, only LINEBOT_ADMINS may change it in groups and rooms. */

/* True when `text` (already stripped of the bot's mention) is the /persona
 * command (its slash may be full-width, its name in any case). `*op` is
 * PERSONA_SHOW, _PICK, _SET or _RESET; `*arg` points at the name or the text
 * inside `text` (`*arg_len` bytes, trimmed; "" for show and reset).
 * "/persona set" without a text shows the list. */
bool chat_parse_persona_command(const char *text, enum chat_persona_op *op, const char **arg, size_t *arg_len);

/* ---- images and stickers (issue 13) ---- */

/* True when some model can read images: LINEBOT_VISION_MODEL, or an item of
 * the catalogue with "vision": true. Without one, images get the media text. */
bool chat_vision_available(const struct config *cfg);

/* Voice messages in one-to-one chats are transcribed (run/stage_transcribe.c)
 * when a catalogue model has "audio": true (cfg->transcribe_model); without
 * one they get the media text. In groups and rooms a voice message cannot
 * mention the bot, so it is group chatter: neither stored nor fetched. */

/* What the model is asked with an image that came without words. */
extern const char chat_image_question[];

/* What the model is told of a sticker: its keywords and text, as LINE
 * describes it (malloc'd). A sticker without either is not answered. */
char *chat_sticker_text(const struct line_event *ev);

/* ---- files (issue 13) ----
 * A file sent in a 1:1 chat goes into the chat's own knowledge base
 * (io/kb_chat.h, run/stage_files.c); /files lists its documents and
 * /files clear removes them. */

/* True when `text` (stripped of the bot's mention) is /files; *clear tells
 * /files clear. Any other argument lists, as /files alone does. */
bool chat_parse_files_command(const char *text, bool *clear);

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
 * message's text (may be NULL) is put before the question.
 * The system message is cfg->system_prompt (LLM_SYSTEM_PROMPT, else the
 * built-in rules), then the group note, then the chat's `persona` (may be
 * NULL: none) under a line that keeps the rules above it in force: a
 * persona adds a character, it never replaces the operator's prompt. */
void chat_build_prompt(const struct config *cfg, enum chat_type chat_type, const char *persona,
                       const struct turn *history, size_t n_history, const char *speaker, const char *quoted_text,
                       const char *text, struct prompt *out);
void prompt_free(struct prompt *p);

#endif
