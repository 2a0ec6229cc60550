/* chat.c - the chat rules (see chat.h): who gets an answer, what the model sees.
 *
 * One-to-one chats always get an answer. Groups and rooms are quiet unless the
 * bot is addressed: an isSelf mention, the trigger word at the start, or a reply
 * that quotes one of the bot's own messages. @All is not addressing the bot. */
#include "core/chat.h"

#include "core/alloc.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/command.h"
#include "core/format.h"
#include "core/memory.h"
#include "core/models.h"
#include "core/personas.h"
#include "core/postback.h"

#include <utf8proc.h>

const char chat_default_system_prompt[] =
    "You are a helpful assistant chatting with people inside the LINE messaging app. "
    "Always answer in the language the user writes in. Keep answers short and conversational, "
    "like a chat message: a few sentences unless the user asks for more. "
    "Write plain text: no Markdown, no headings, no tables; simple lists are fine.";

static const char group_prompt_note[] =
    "\n\nThis is a group chat: each user message starts with the speaker's name and a colon.";

/* Above a chat's persona (chat.h: the rules before it stay in force). */
static const char persona_prompt_note[] =
    "\n\nThe persona for this chat, chosen by its users. Take on its character and tone, "
    "and keep to the rules above:\n";

static bool is_space_byte(unsigned char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

/* Trims ASCII whitespace and the ideographic space U+3000 (common after a
 * mention typed on a Japanese keyboard) from both ends, in place. */
static void trim(char *s)
{
    size_t len = strlen(s), start = 0;
    for (;;) {
        if (start < len && is_space_byte((unsigned char)s[start]))
            start++;
        else if (len - start >= 3 && memcmp(s + start, "\xe3\x80\x80", 3) == 0)
            start += 3;
        else
            break;
    }
    for (;;) {
        if (len > start && is_space_byte((unsigned char)s[len - 1]))
            len--;
        else if (len - start >= 3 && memcmp(s + len - 3, "\xe3\x80\x80", 3) == 0)
            len -= 3;
        else
            break;
    }
    memmove(s, s + start, len - start);
    s[len - start] = '\0';
}

/* The punctuation that may follow the trigger: "ボット、", "Bot, ", "Bot:",
 * "ボット：", "機器人，". Its length in bytes at `s`, 0 when there is none. */
static size_t trigger_punct_len(const char *s)
{
    static const char *const punct[] = {"\xe3\x80\x81" /* 、 */, "\xef\xbc\x8c" /* ， */, ",", ":",
                                        "\xef\xbc\x9a" /* ： */};
    for (size_t i = 0; i < sizeof punct / sizeof punct[0]; i++)
        if (strncmp(s, punct[i], strlen(punct[i])) == 0)
            return strlen(punct[i]);
    return 0;
}

static int cmp_mention(const void *a, const void *b)
{
    const struct mention *x = a, *y = b;
    return x->index < y->index ? -1 : x->index > y->index;
}

char *chat_strip_address(const struct line_event *ev, const char *trigger, bool *addressed)
{
    const char *text = ev->text ? ev->text : "";
    size_t len = strlen(text);
    bool found = false;
    char *out = xmalloc(len + 1);

    /* Remove self mentions, in text order, skipping overlapping or out-of-range ones. */
    struct mention *self = NULL;
    size_t n_self = 0;
    if (ev->n_mentions) {
        self = xrealloc_array(NULL, ev->n_mentions, sizeof *self);
        for (size_t i = 0; i < ev->n_mentions; i++)
            if (ev->mentions[i].is_self && !ev->mentions[i].is_all)
                self[n_self++] = ev->mentions[i];
        qsort(self, n_self, sizeof *self, cmp_mention);
    }
    size_t o = 0, pos = 0;
    for (size_t i = 0; i < n_self; i++) {
        size_t a = utf16_to_byte_offset(text, len, self[i].index);
        size_t b = utf16_to_byte_offset(text, len, self[i].index + self[i].length);
        if (a < pos || b <= a)
            continue;
        memcpy(out + o, text + pos, a - pos);
        o += a - pos;
        pos = b;
        found = true;
    }
    memcpy(out + o, text + pos, len - pos);
    o += len - pos;
    out[o] = '\0';
    free(self);
    trim(out);

    if (trigger && trigger[0]) {
        size_t tl = strlen(trigger);
        if (strncasecmp(out, trigger, tl) == 0) {
            tl += trigger_punct_len(out + tl);
            memmove(out, out + tl, strlen(out + tl) + 1);
            trim(out);
            found = true;
        }
    }
    if (addressed)
        *addressed = found;
    return out;
}

/* The text as a command, in its compatibility form (NFKC): a Japanese
 * keyboard types "／reset" or "／ｒｅｓｅｔ", which then read "/reset".
 * malloc'd; NULL when it is no command (does not start with a slash of
 * either width) or not valid UTF-8. */
static char *command_of(const char *text)
{
    if (text[0] != '/' && strncmp(text, "\xef\xbc\x8f" /* ／ */, 3) != 0)
        return NULL;
    return (char *)utf8proc_NFKC((const utf8proc_uint8_t *)text);
}

static bool is_command(const char *command_text, const char *command)
{
    if (!command_text)
        return false;
    size_t n = strlen(command);
    if (strncasecmp(command_text, command, n) != 0)
        return false;
    /* "/reset" or "/reset@bot"-style suffixes are not LINE conventions; allow only
     * the bare command (trailing spaces were trimmed). */
    return command_text[n] == '\0';
}

static bool is_media(enum message_kind k)
{
    return k == MESSAGE_IMAGE || k == MESSAGE_VIDEO || k == MESSAGE_AUDIO || k == MESSAGE_FILE;
}

static bool has_self_mention(const struct line_event *ev)
{
    for (size_t i = 0; i < ev->n_mentions; i++)
        if (ev->mentions[i].is_self && !ev->mentions[i].is_all)
            return true;
    return false;
}

static bool starts_with_trigger(const struct line_event *ev, const char *trigger)
{
    if (!trigger || !trigger[0] || !ev->text)
        return false;
    const char *t = ev->text;
    while (is_space_byte((unsigned char)*t))
        t++;
    return strncasecmp(t, trigger, strlen(trigger)) == 0;
}

const char chat_image_question[] =
    "Look at the image. If it asks something (a question, a problem on a screenshot, text to read), answer it; "
    "otherwise describe it briefly.";

bool chat_vision_available(const struct config *cfg)
{
    if (cfg->vision_model)
        return true;
    for (size_t i = 0; cfg->models && i < cfg->models->n; i++)
        if (cfg->models->items[i].vision)
            return true;
    return false;
}

static bool sticker_answerable(const struct line_event *ev)
{
    return ev->message_kind == MESSAGE_STICKER && (ev->sticker_keywords || ev->sticker_text);
}

char *chat_sticker_text(const struct line_event *ev)
{
    const char *k = ev->sticker_keywords, *t = ev->sticker_text;
    return xasprintf("(The user sent a LINE sticker.%s%s%s%s%s) React to it briefly, as a friend would.",
                     k ? " Its keywords: " : "", k ? k : "", k ? "." : "", t ? " Its text: " : "", t ? t : "");
}

/* LINEBOT_MEDIA_TEXT set to "": media get no answer. */
static bool media_silenced(const struct config *cfg)
{
    return cfg->media_text && !cfg->media_text[0];
}

bool chat_needs_work(const struct config *cfg, const struct line_event *ev)
{
    switch (ev->kind) {
    case EVENT_UNSEND:
    case EVENT_MESSAGE_EDITED:
    case EVENT_UNFOLLOW:
    case EVENT_LEAVE:
        /* Privacy: applies in standby mode too. */
        return ev->chat_id != NULL;
    case EVENT_FOLLOW:
    case EVENT_JOIN:
        return !ev->standby && ev->chat_id && cfg->greeting && cfg->greeting[0] && ev->reply_token;
    case EVENT_POSTBACK:
        /* Only the bot's own buttons: the v1 format (/model; checked in full
         * by chat_decide) and "take over the parked answer"; any other
         * postback data is not ours to act on. */
        if (!ev->standby && ev->chat_id && ev->reply_token && postback_is_ours(ev->postback_data))
            return true;
        return !ev->standby && ev->chat_id && ev->reply_token && ev->postback_data &&
               strncmp(ev->postback_data, CHAT_ADOPT_PREFIX, strlen(CHAT_ADOPT_PREFIX)) == 0 &&
               ev->postback_data[strlen(CHAT_ADOPT_PREFIX)] != '\0';
    case EVENT_MESSAGE:
        break;
    default:
        return false;
    }
    if (ev->standby || !ev->chat_id)
        return false;
    if (ev->chat_type == CHAT_USER)
        return ev->message_kind == MESSAGE_TEXT || sticker_answerable(ev) ||
               (ev->message_kind == MESSAGE_IMAGE && chat_vision_available(cfg)) ||
               (ev->message_kind == MESSAGE_AUDIO && cfg->transcribe_model) || ev->message_kind == MESSAGE_FILE ||
               (is_media(ev->message_kind) && !media_silenced(cfg));
    if (ev->message_kind != MESSAGE_TEXT)
        return false;
    return has_self_mention(ev) || starts_with_trigger(ev, cfg->trigger) || ev->quoted_message_id ||
           cfg->group_context > 0;
}

static void decide(struct chat_decision *d, enum chat_action action, const char *reason)
{
    d->action = action;
    d->reason = reason;
}

/* ---- /model (issue 11): the command, the buttons' postbacks, who may switch ---- */


bool chat_parse_model_command(const char *text, const char **name, size_t *name_len)
{
    const char *arg = command_arg(text, "model", name_len);
    if (!arg)
        return false;
    *name = arg;
    return true;
}

bool chat_may_switch_model(const struct config *cfg, const struct line_event *ev)
{
    if (ev->chat_type == CHAT_USER || cfg->n_admins == 0)
        return true;
    for (size_t i = 0; ev->user_id && i < cfg->n_admins; i++)
        if (strcmp(ev->user_id, cfg->admins[i]) == 0)
            return true;
    return false;
}

/* /model and /model NAME (d->text is the stripped message; rate_limited set). */
static bool decide_model_command(const struct config *cfg, const struct line_event *ev, struct chat_decision *d)
{
    const char *name;
    size_t len;
    if (!chat_parse_model_command(d->text, &name, &len))
        return false;
    if (len > 0 && !chat_may_switch_model(cfg, ev)) {
        d->fixed = TEXT_MODEL_REFUSED;
        decide(d, CHAT_REPLY_FIXED, "/model NAME by a non-admin");
        return true;
    }
    memmove(d->text, name, len);
    d->text[len] = '\0';
    decide(d, CHAT_MODEL, len ? "/model NAME" : "/model");
    return true;
}

/* ---- /persona (issue 11) ---- */

bool chat_parse_persona_command(const char *text, enum chat_persona_op *op, const char **arg, size_t *arg_len)
{
    size_t len = 0;
    const char *a = command_arg(text, "persona", &len);
    if (!a)
        return false;
    *op = PERSONA_SHOW;
    *arg = a + len; /* "" */
    *arg_len = 0;
    size_t rest = 0;
    const char *t;
    if (command_word(a, len, "reset", &rest) && rest == 0) {
        *op = PERSONA_RESET;
    } else if ((t = command_word(a, len, "set", &rest))) {
        if (rest > 0) { /* "/persona set" alone shows how */
            *op = PERSONA_SET;
            *arg = t;
            *arg_len = rest;
        }
    } else if (len > 0) {
        *op = PERSONA_PICK;
        *arg = a;
        *arg_len = len;
    }
    return true;
}

/* /persona and its forms (d->text is the stripped message; rate_limited set). */
static bool decide_persona_command(const struct config *cfg, const struct line_event *ev, struct chat_decision *d)
{
    enum chat_persona_op op;
    const char *arg;
    size_t len;
    if (!chat_parse_persona_command(d->text, &op, &arg, &len))
        return false;
    if (op != PERSONA_SHOW && !chat_may_switch_model(cfg, ev)) {
        d->fixed = TEXT_PERSONA_REFUSED;
        decide(d, CHAT_REPLY_FIXED, "/persona change by a non-admin");
        return true;
    }
    if (op == PERSONA_SET && utf16_len(arg, len) > PERSONAS_CUSTOM_MAX)
        op = PERSONA_TOO_LONG;
    memmove(d->text, arg, len);
    d->text[len] = '\0';
    d->persona_op = op;
    static const char *const reasons[] = {
        [PERSONA_SHOW] = "/persona", [PERSONA_PICK] = "/persona NAME", [PERSONA_SET] = "/persona set",
        [PERSONA_RESET] = "/persona reset", [PERSONA_TOO_LONG] = "/persona set over the limit",
    };
    decide(d, CHAT_PERSONA, reasons[op]);
    return true;
}

/* A tap on one of the bot's buttons. Data that is not exactly ours, or names
 * a model the catalogue no longer has, is ignored (logged at debug by the
 * worker with the reason). */
static void decide_postback(const struct config *cfg, const struct line_event *ev, struct chat_decision *d)
{
    struct postback pb;
    if (ev->standby || !ev->chat_id || !ev->reply_token) {
        decide(d, CHAT_IGNORE, "postback that cannot be answered");
        return;
    }
    if (postback_parse(ev->postback_data, &pb) != 0) {
        decide(d, CHAT_IGNORE, "postback data unknown or forged");
        return;
    }
    if (pb.kind == POSTBACK_PERSONA) {
        if (!personas_find(cfg->personas, pb.arg)) {
            decide(d, CHAT_IGNORE, "postback names no persona preset");
            return;
        }
        d->rate_limited = true;
        if (!chat_may_switch_model(cfg, ev)) {
            d->fixed = TEXT_PERSONA_REFUSED;
            decide(d, CHAT_REPLY_FIXED, "persona button tapped by a non-admin");
            return;
        }
        d->text = xstrdup(pb.arg);
        d->persona_op = PERSONA_PICK;
        decide(d, CHAT_PERSONA, "persona button");
        return;
    }
    if (pb.kind != POSTBACK_MODEL || !models_find(cfg->models, pb.arg)) {
        decide(d, CHAT_IGNORE, "postback names no model of the catalogue");
        return;
    }
    d->rate_limited = true;
    if (!chat_may_switch_model(cfg, ev)) {
        d->fixed = TEXT_MODEL_REFUSED;
        decide(d, CHAT_REPLY_FIXED, "model button tapped by a non-admin");
        return;
    }
    d->text = xstrdup(pb.arg);
    decide(d, CHAT_MODEL, "model button");
}

void chat_decide(const struct config *cfg, const struct line_event *ev, const struct chat_facts *facts,
                 struct chat_decision *d)
{
    memset(d, 0, sizeof *d);
    switch (ev->kind) {
    case EVENT_UNSEND:
        {
            decide(d, ev->chat_id && ev->unsend_message_id ? CHAT_UNSEND : CHAT_IGNORE, "unsend");
            return;
        }
    case EVENT_MESSAGE_EDITED:
        if (!ev->chat_id || !ev->message_id || ev->message_kind != MESSAGE_TEXT || !ev->text)
            {
                decide(d, CHAT_IGNORE, "edit without text");
                return;
            }
        d->text = xstrdup(ev->text);
        {
            decide(d, CHAT_EDIT, "messageEdited");
            return;
        }
    case EVENT_UNFOLLOW:
    case EVENT_LEAVE:
        {
            decide(d, ev->chat_id ? CHAT_FORGET : CHAT_IGNORE, "unfollow/leave");
            return;
        }
    case EVENT_FOLLOW:
    case EVENT_JOIN:
        if (!chat_needs_work(cfg, ev))
            {
                decide(d, CHAT_IGNORE, "no greeting");
                return;
            }
        d->fixed = TEXT_GREETING;
        {
            decide(d, CHAT_REPLY_FIXED, "greeting");
            return;
        }
    case EVENT_POSTBACK:
        decide_postback(cfg, ev, d);
        return;
    case EVENT_MESSAGE:
        break;
    default:
        {
            decide(d, CHAT_IGNORE, "event type not answered");
            return;
        }
    }

    if (ev->standby)
        {
            decide(d, CHAT_IGNORE, "standby mode");
            return;
        }
    if (!ev->chat_id)
        {
            decide(d, CHAT_IGNORE, "no chat");
            return;
        }

    bool group = ev->chat_type != CHAT_USER;
    if (ev->message_kind != MESSAGE_TEXT) {
        /* Groups: an image is used only when a message addressing the bot
         * quotes it (run/stage_fetch.c); group chatter is not kept. */
        if (!group && ev->message_kind == MESSAGE_IMAGE && chat_vision_available(cfg)) {
            d->image = true;
            d->text = xstrdup("");
            d->rate_limited = true;
            decide(d, CHAT_ANSWER, "image in one-to-one chat");
            return;
        }
        if (!group && ev->message_kind == MESSAGE_AUDIO && cfg->transcribe_model) {
            d->audio = true;
            d->text = xstrdup("");
            d->rate_limited = true;
            decide(d, CHAT_ANSWER, "voice message in one-to-one chat");
            return;
        }
        if (!group && ev->message_kind == MESSAGE_FILE) {
            d->rate_limited = true;
            decide(d, CHAT_FILE, "file in one-to-one chat");
            return;
        }
        if (!group && sticker_answerable(ev)) {
            d->text = chat_sticker_text(ev);
            d->rate_limited = true;
            decide(d, CHAT_ANSWER, "sticker in one-to-one chat");
            return;
        }
        if (!group && is_media(ev->message_kind) && !media_silenced(cfg)) {
            d->fixed = TEXT_MEDIA;
            d->rate_limited = true;
            {
                decide(d, CHAT_REPLY_FIXED, "media in one-to-one chat");
                return;
            }
        }
        {
            decide(d, CHAT_IGNORE, "not text");
            return;
        }
    }

    bool addressed = false;
    d->text = chat_strip_address(ev, group ? cfg->trigger : NULL, &addressed);
    if (group && !addressed && facts && facts->quotes_bot_message)
        addressed = true;

    if (group && !addressed) {
        if (cfg->group_context > 0 && d->text[0])
            {
                decide(d, CHAT_STORE_CONTEXT, "group message kept as context");
                return;
            }
        free(d->text);
        d->text = NULL;
        {
            decide(d, CHAT_IGNORE, "group message not addressed to the bot");
            return;
        }
    }

    d->rate_limited = true;
    char *command = command_of(d->text);
    bool reset = is_command(command, "/reset");
    bool help = is_command(command, "/help") || (!d->text[0] && !ev->quoted_message_id);
    bool usage = is_command(command, "/usage");
    free(command);
    if (usage) {
        decide(d, CHAT_USAGE, "/usage");
        return;
    }
    if (reset) {
        d->fixed = TEXT_RESET;
        decide(d, CHAT_RESET, "/reset");
        return;
    }
    if (help) {
        d->fixed = TEXT_HELP;
        decide(d, CHAT_REPLY_FIXED, "/help");
        return;
    }
    if (decide_model_command(cfg, ev, d) || decide_persona_command(cfg, ev, d))
        return;
    bool clear = false;
    if (chat_parse_files_command(d->text, &clear)) {
        d->text[0] = '\0';
        if (clear)
            strcpy(d->text, "clear"); /* "/files clear" is longer */
        decide(d, CHAT_FILES, clear ? "/files clear" : "/files");
        return;
    }
    struct memory_command memory; /* run/stage_memory.c parses it again and acts */
    if (memory_parse_command(d->text, &memory)) {
        decide(d, CHAT_MEMORY, "memory command");
        return;
    }
    decide(d, CHAT_ANSWER, group ? "addressed in group" : "one-to-one text");
}

bool chat_parse_files_command(const char *text, bool *clear)
{
    size_t len = 0;
    const char *arg = command_arg(text, "files", &len);
    if (!arg)
        return false;
    size_t rest = 0;
    *clear = command_word(arg, len, "clear", &rest) && rest == 0;
    return true;
}

void chat_decision_free(struct chat_decision *d)
{
    free(d->text);
    d->text = NULL;
}

enum rate_verdict chat_rate_verdict(int64_t count, int limit)
{
    if (limit <= 0 || count <= limit)
        return RATE_ALLOW;
    return count == (int64_t)limit + 1 ? RATE_WARN : RATE_SILENT;
}

/* ---- prompt ---- */

static char *joinf(const char *a, const char *sep, const char *b)
{
    return xasprintf("%s%s%s", a, sep, b);
}

/* The content of a user or context turn: "Name: text" in groups. */
static char *turn_content(bool group, const char *speaker, const char *text)
{
    if (group)
        return joinf(speaker && speaker[0] ? speaker : "Someone", ": ", text ? text : "");
    return xstrdup(text ? text : "");
}

static void push_message(struct prompt *p, const char *role, char *content)
{
    p->messages[p->n].role = role;
    p->messages[p->n].content = content;
    p->n++;
}

void chat_build_prompt(const struct config *cfg, enum chat_type chat_type, const char *persona,
                       const struct turn *history, size_t n_history, const char *speaker, const char *quoted_text,
                       const char *text, struct prompt *out)
{
    bool group = chat_type == CHAT_GROUP || chat_type == CHAT_ROOM;
    memset(out, 0, sizeof *out);
    out->messages = xcalloc(n_history + 2, sizeof *out->messages);

    const char *system = cfg->system_prompt ? cfg->system_prompt : chat_default_system_prompt;
    bool with_persona = persona && persona[0];
    push_message(out, "system",
                 xasprintf("%s%s%s%s", system, group ? group_prompt_note : "", with_persona ? persona_prompt_note : "",
                           with_persona ? persona : ""));

    /* Keep the newest turns whose text fits the character budget. */
    size_t first = n_history, budget = cfg->history_chars > 0 ? (size_t)cfg->history_chars : 0;
    size_t used = 0;
    while (first > 0) {
        const struct turn *t = &history[first - 1];
        /* "Characters" as LINE counts them: UTF-16 code units. */
        size_t cost = (t->text ? utf16_len(t->text, strlen(t->text)) : 0) +
                      (t->speaker ? utf16_len(t->speaker, strlen(t->speaker)) + 2 : 0);
        if (used + cost > budget)
            break;
        used += cost;
        first--;
    }
    /* A conversation should not start with the bot's half of a turn. */
    while (first < n_history && history[first].role == TURN_ASSISTANT)
        first++;

    for (size_t i = first; i < n_history; i++) {
        const struct turn *t = &history[i];
        if (!t->text)
            continue;
        if (t->role == TURN_ASSISTANT)
            push_message(out, "assistant", xstrdup(t->text));
        else
            push_message(out, "user", turn_content(group, t->speaker, t->text));
    }

    char *question = turn_content(group, speaker, text);
    if (quoted_text && quoted_text[0]) {
        char *q = xasprintf("(Replying to this earlier message: \"%s\")\n%s", quoted_text, question);
        free(question);
        question = q;
    }
    push_message(out, "user", question);
}

void prompt_free(struct prompt *p)
{
    for (size_t i = 0; i < p->n; i++)
        free((char *)p->messages[i].content);
    free(p->messages);
    p->messages = NULL;
    p->n = 0;
}
