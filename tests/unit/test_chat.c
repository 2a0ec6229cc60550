/* test_chat.c - the chat rules: who gets an answer, what the model sees. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/chat.h"
#include "core/models.h"

static struct config base_cfg(void)
{
    struct config c;
    memset(&c, 0, sizeof c);
    c.system_prompt = (char *)chat_default_system_prompt;
    c.history_turns = 10;
    c.history_chars = 6000;
    c.rate_limit = 10;
    c.greeting = (char *)"";
    c.media_text = (char *)"I can only read text for now.";
    c.error_text = (char *)"Sorry.";
    return c;
}

static struct line_event text_event(enum chat_type type, const char *text)
{
    struct line_event ev;
    memset(&ev, 0, sizeof ev);
    ev.kind = EVENT_MESSAGE;
    ev.type = (char *)"message";
    ev.message_kind = MESSAGE_TEXT;
    ev.chat_type = type;
    ev.chat_id = (char *)(type == CHAT_USER ? "U1" : type == CHAT_GROUP ? "C1" : "R1");
    ev.user_id = (char *)"U1";
    ev.reply_token = (char *)"rt";
    ev.text = (char *)text;
    ev.message_id = (char *)"m1";
    return ev;
}

static enum chat_action decide(const struct config *cfg, const struct line_event *ev, bool quotes_bot, char **text)
{
    struct chat_facts facts = {.quotes_bot_message = quotes_bot};
    struct chat_decision d;
    chat_decide(cfg, ev, &facts, &d);
    /* The ingest pre-filter must never drop what the rules would act on. */
    if (d.action != CHAT_IGNORE)
        assert_true(chat_needs_work(cfg, ev));
    enum chat_action a = d.action;
    if (text)
        *text = d.text ? strdup(d.text) : NULL;
    chat_decision_free(&d);
    return a;
}

static void test_one_to_one_always_answered(void **state)
{
    struct config cfg = base_cfg();
    struct line_event ev = text_event(CHAT_USER, "  hello there ");
    char *text;
    assert_int_equal(decide(&cfg, &ev, false, &text), CHAT_ANSWER);
    assert_string_equal(text, "hello there");
    free(text);
}

static void test_group_needs_address(void **state)
{
    struct config cfg = base_cfg();
    struct line_event ev = text_event(CHAT_GROUP, "hello everyone");
    assert_int_equal(decide(&cfg, &ev, false, NULL), CHAT_IGNORE);
    assert_false(chat_needs_work(&cfg, &ev));
    struct line_event room = text_event(CHAT_ROOM, "hello everyone");
    assert_int_equal(decide(&cfg, &room, false, NULL), CHAT_IGNORE);
}

static void test_group_self_mention_stripped(void **state)
{
    struct config cfg = base_cfg();
    /* "😀 @Bot what time is it?": the emoji is 2 UTF-16 units, so @Bot starts at 3. */
    struct line_event ev = text_event(CHAT_GROUP, "\xF0\x9F\x98\x80 @Bot what time is it?");
    struct mention m = {.index = 3, .length = 4, .is_self = true};
    ev.mentions = &m;
    ev.n_mentions = 1;
    char *text;
    assert_int_equal(decide(&cfg, &ev, false, &text), CHAT_ANSWER);
    assert_string_equal(text, "\xF0\x9F\x98\x80  what time is it?");
    free(text);
}

static void test_all_mention_is_not_address(void **state)
{
    struct config cfg = base_cfg();
    struct line_event ev = text_event(CHAT_GROUP, "@All meeting now");
    struct mention m = {.index = 0, .length = 4, .is_all = true};
    ev.mentions = &m;
    ev.n_mentions = 1;
    assert_int_equal(decide(&cfg, &ev, false, NULL), CHAT_IGNORE);
    /* Someone else mentioned: still not the bot. */
    struct mention other = {.index = 0, .length = 4, .is_self = false};
    ev.mentions = &other;
    assert_int_equal(decide(&cfg, &ev, false, NULL), CHAT_IGNORE);
}

static void test_trigger(void **state)
{
    struct config cfg = base_cfg();
    cfg.trigger = (char *)"bot,";
    struct line_event ev = text_event(CHAT_GROUP, "Bot, translate hello");
    char *text;
    assert_int_equal(decide(&cfg, &ev, false, &text), CHAT_ANSWER);
    assert_string_equal(text, "translate hello");
    free(text);
    struct line_event mid = text_event(CHAT_GROUP, "hey bot, hi");
    assert_int_equal(decide(&cfg, &mid, false, NULL), CHAT_IGNORE);
    /* In one-to-one chats the trigger is just text. */
    struct line_event dm = text_event(CHAT_USER, "bot, hi");
    assert_int_equal(decide(&cfg, &dm, false, &text), CHAT_ANSWER);
    assert_string_equal(text, "bot, hi");
    free(text);
}

static void test_quote_of_bot_message(void **state)
{
    struct config cfg = base_cfg();
    struct line_event ev = text_event(CHAT_GROUP, "why?");
    ev.quoted_message_id = (char *)"bot-msg-1";
    assert_true(chat_needs_work(&cfg, &ev));
    assert_int_equal(decide(&cfg, &ev, true, NULL), CHAT_ANSWER);
    assert_int_equal(decide(&cfg, &ev, false, NULL), CHAT_IGNORE);
}

static void test_group_context(void **state)
{
    struct config cfg = base_cfg();
    cfg.group_context = 5;
    struct line_event ev = text_event(CHAT_GROUP, "lunch at noon?");
    char *text;
    assert_int_equal(decide(&cfg, &ev, false, &text), CHAT_STORE_CONTEXT);
    assert_string_equal(text, "lunch at noon?");
    free(text);
}

/* Postbacks: only the bot's own button that takes over a parked answer is work. */
static void test_postback_adopt(void **state)
{
    struct config cfg = base_cfg();
    struct line_event ev = text_event(CHAT_USER, NULL);
    ev.kind = EVENT_POSTBACK;
    ev.postback_data = (char *)"linebot:answer=ev-123";
    assert_true(chat_needs_work(&cfg, &ev));
    ev.postback_data = (char *)"linebot:answer=";
    assert_false(chat_needs_work(&cfg, &ev));
    ev.postback_data = (char *)"action=buy&item=1";
    assert_false(chat_needs_work(&cfg, &ev));
    ev.postback_data = NULL;
    assert_false(chat_needs_work(&cfg, &ev));
    ev.postback_data = (char *)"linebot:answer=ev-123";
    ev.standby = true;
    assert_false(chat_needs_work(&cfg, &ev));
}

/* Images go to the model only when some model has vision; in groups an
 * image alone is chatter. A sticker with keywords or text is answered in a
 * 1:1 chat from them. */
static void test_images_and_stickers(void **state)
{
    (void)state;
    struct config cfg = base_cfg();
    struct line_event image = text_event(CHAT_USER, NULL);
    image.message_kind = MESSAGE_IMAGE;
    assert_false(chat_vision_available(&cfg));
    assert_int_equal(decide(&cfg, &image, false, NULL), CHAT_REPLY_FIXED); /* the media text */

    struct model_entry items[2] = {{.name = (char *)"plain"}, {.name = (char *)"eye", .vision = true}};
    struct model_catalogue cat = {.items = items, .n = 2};
    cfg.models = &cat;
    assert_true(chat_vision_available(&cfg));
    char *text = NULL;
    assert_int_equal(decide(&cfg, &image, false, &text), CHAT_ANSWER);
    assert_string_equal(text, "");
    free(text);
    struct chat_decision d;
    chat_decide(&cfg, &image, &(struct chat_facts){0}, &d);
    assert_true(d.image && d.rate_limited);
    chat_decision_free(&d);
    /* LINEBOT_MEDIA_TEXT="" silences media, not what a model can read. */
    cfg.media_text = (char *)"";
    assert_int_equal(decide(&cfg, &image, false, NULL), CHAT_ANSWER);
    struct line_event group_image = text_event(CHAT_GROUP, NULL);
    group_image.message_kind = MESSAGE_IMAGE;
    assert_int_equal(decide(&cfg, &group_image, false, NULL), CHAT_IGNORE);
    assert_false(chat_needs_work(&cfg, &group_image));

    struct line_event sticker = text_event(CHAT_USER, NULL);
    sticker.message_kind = MESSAGE_STICKER;
    sticker.sticker_keywords = (char *)"happy, smile";
    sticker.sticker_text = (char *)"Thanks!";
    assert_int_equal(decide(&cfg, &sticker, false, &text), CHAT_ANSWER);
    assert_non_null(strstr(text, "sticker"));
    assert_non_null(strstr(text, "happy, smile"));
    assert_non_null(strstr(text, "Thanks!"));
    free(text);
    struct line_event group_sticker = sticker;
    group_sticker.chat_type = CHAT_GROUP;
    group_sticker.chat_id = (char *)"C1";
    assert_int_equal(decide(&cfg, &group_sticker, false, NULL), CHAT_IGNORE);
}

/* Voice goes to the transcription model in 1:1 chats when there is one
 * (else the media text); in groups it is chatter, media text or not. */
static void test_voice(void **state)
{
    (void)state;
    struct config cfg = base_cfg();
    struct line_event voice = text_event(CHAT_USER, NULL);
    voice.message_kind = MESSAGE_AUDIO;
    assert_int_equal(decide(&cfg, &voice, false, NULL), CHAT_REPLY_FIXED); /* the media text */
    struct model_entry ear = {.name = (char *)"ear", .audio = true};
    cfg.transcribe_model = &ear;
    cfg.media_text = (char *)""; /* silences media, not what a model can hear */
    assert_true(chat_needs_work(&cfg, &voice));
    struct chat_decision d;
    chat_decide(&cfg, &voice, &(struct chat_facts){0}, &d);
    assert_int_equal(d.action, CHAT_ANSWER);
    assert_true(d.audio && d.rate_limited && !d.image);
    assert_string_equal(d.text, "");
    chat_decision_free(&d);
    struct line_event group_voice = text_event(CHAT_GROUP, NULL);
    group_voice.message_kind = MESSAGE_AUDIO;
    assert_int_equal(decide(&cfg, &group_voice, false, NULL), CHAT_IGNORE);
    assert_false(chat_needs_work(&cfg, &group_voice));
}

static void test_standby_and_stickers(void **state)
{
    struct config cfg = base_cfg();
    struct line_event ev = text_event(CHAT_USER, "hi");
    ev.standby = true;
    assert_int_equal(decide(&cfg, &ev, false, NULL), CHAT_IGNORE);
    assert_false(chat_needs_work(&cfg, &ev));
    struct line_event sticker = text_event(CHAT_USER, NULL);
    sticker.message_kind = MESSAGE_STICKER;
    assert_int_equal(decide(&cfg, &sticker, false, NULL), CHAT_IGNORE);
    assert_false(chat_needs_work(&cfg, &sticker));
    /* Privacy still applies in standby. */
    struct line_event unsend = text_event(CHAT_USER, NULL);
    unsend.kind = EVENT_UNSEND;
    unsend.standby = true;
    unsend.unsend_message_id = (char *)"m9";
    assert_int_equal(decide(&cfg, &unsend, false, NULL), CHAT_UNSEND);
}

static void test_media(void **state)
{
    struct config cfg = base_cfg();
    enum message_kind kinds[] = {MESSAGE_IMAGE, MESSAGE_AUDIO, MESSAGE_VIDEO};
    for (size_t i = 0; i < 3; i++) {
        struct line_event ev = text_event(CHAT_USER, NULL);
        ev.message_kind = kinds[i];
        struct chat_decision d;
        chat_decide(&cfg, &ev, NULL, &d);
        assert_int_equal(d.action, CHAT_REPLY_FIXED);
        assert_int_equal(d.fixed, TEXT_MEDIA);
        chat_decision_free(&d);
        /* Groups: silence. */
        ev.chat_type = CHAT_GROUP;
        assert_int_equal(decide(&cfg, &ev, false, NULL), CHAT_IGNORE);
    }
    cfg.media_text = (char *)"";
    struct line_event img = text_event(CHAT_USER, NULL);
    img.message_kind = MESSAGE_IMAGE;
    assert_int_equal(decide(&cfg, &img, false, NULL), CHAT_IGNORE);
    assert_false(chat_needs_work(&cfg, &img));
}

/* Files (issue 13): 1:1 ones go to the chat's documents, even with the
 * media text silenced; in groups a file alone is chatter. /files and
 * /files clear are commands in either. */
static void test_files(void **state)
{
    (void)state;
    struct config cfg = base_cfg();
    cfg.media_text = (char *)"";
    struct line_event file = text_event(CHAT_USER, NULL);
    file.message_kind = MESSAGE_FILE;
    struct chat_decision d;
    chat_decide(&cfg, &file, NULL, &d);
    assert_int_equal(d.action, CHAT_FILE);
    assert_true(d.rate_limited);
    chat_decision_free(&d);
    assert_true(chat_needs_work(&cfg, &file));
    file.chat_type = CHAT_GROUP;
    assert_int_equal(decide(&cfg, &file, false, NULL), CHAT_IGNORE);
    assert_false(chat_needs_work(&cfg, &file));

    char *text = NULL;
    struct line_event ev = text_event(CHAT_USER, "/files");
    assert_int_equal(decide(&cfg, &ev, false, &text), CHAT_FILES);
    assert_string_equal(text, "");
    free(text);
    ev = text_event(CHAT_USER, "\xef\xbc\x8f" "FILES  Clear ");
    assert_int_equal(decide(&cfg, &ev, false, &text), CHAT_FILES);
    assert_string_equal(text, "clear");
    free(text);
    ev = text_event(CHAT_USER, "/files everything");
    assert_int_equal(decide(&cfg, &ev, false, &text), CHAT_FILES);
    assert_string_equal(text, ""); /* any other argument lists */
    free(text);
    ev = text_event(CHAT_USER, "/filesystem");
    assert_int_equal(decide(&cfg, &ev, false, NULL), CHAT_ANSWER);
    bool clear = true;
    assert_false(chat_parse_files_command("files", &clear));
    assert_true(chat_parse_files_command("/files clearly", &clear));
    assert_false(clear);
}

static void test_commands(void **state)
{
    struct config cfg = base_cfg();
    struct line_event ev = text_event(CHAT_USER, "/reset");
    assert_int_equal(decide(&cfg, &ev, false, NULL), CHAT_RESET);
    ev.text = (char *)" /HELP ";
    assert_int_equal(decide(&cfg, &ev, false, NULL), CHAT_REPLY_FIXED);
    ev.text = (char *)"/resetting my router";
    assert_int_equal(decide(&cfg, &ev, false, NULL), CHAT_ANSWER);
    /* In a group the command must be addressed. */
    struct line_event g = text_event(CHAT_GROUP, "@Bot /reset");
    struct mention m = {.index = 0, .length = 4, .is_self = true};
    g.mentions = &m;
    g.n_mentions = 1;
    assert_int_equal(decide(&cfg, &g, false, NULL), CHAT_RESET);
    g.n_mentions = 0;
    assert_int_equal(decide(&cfg, &g, false, NULL), CHAT_IGNORE);
}

/* A Japanese keyboard types the slash, and perhaps the letters, full-width. */
static void test_full_width_commands(void **state)
{
    struct config cfg = base_cfg();
    const char *resets[] = {"\xef\xbc\x8freset" /* ／reset */,
                            "\xef\xbc\x8f\xef\xbd\x92\xef\xbd\x85\xef\xbd\x93\xef\xbd\x85\xef\xbd\x94" /* ／ｒｅｓｅｔ */,
                            "\xe3\x80\x80\xef\xbc\x8fRESET\xe3\x80\x80" /* 　／RESET　 */};
    for (size_t i = 0; i < sizeof resets / sizeof resets[0]; i++) {
        struct line_event ev = text_event(CHAT_USER, resets[i]);
        struct chat_decision d;
        chat_decide(&cfg, &ev, NULL, &d);
        assert_int_equal(d.action, CHAT_RESET);
        assert_int_equal(d.fixed, TEXT_RESET);
        chat_decision_free(&d);
    }
    struct line_event ev = text_event(CHAT_USER, "\xef\xbc\x8fhelp");
    struct chat_decision d;
    chat_decide(&cfg, &ev, NULL, &d);
    assert_int_equal(d.action, CHAT_REPLY_FIXED);
    assert_int_equal(d.fixed, TEXT_HELP);
    chat_decision_free(&d);
    /* Only the whole text is a command; a full-width word is not a slash. */
    ev.text = (char *)"\xef\xbc\x8freset\xe3\x81\x97\xe3\x81\xa6" /* ／resetして */;
    assert_int_equal(decide(&cfg, &ev, false, NULL), CHAT_ANSWER);
    ev.text = (char *)"\xef\xbd\x92\xef\xbd\x85\xef\xbd\x93\xef\xbd\x85\xef\xbd\x94" /* ｒｅｓｅｔ */;
    assert_int_equal(decide(&cfg, &ev, false, NULL), CHAT_ANSWER);
    ev.text = (char *)"/\xff\xfe"; /* not UTF-8: no command, and no crash */
    assert_int_equal(decide(&cfg, &ev, false, NULL), CHAT_ANSWER);

    /* Every other command too, its word in full-width letters and its
     * argument after an ideographic space; the argument stays as typed. */
    const struct {
        const char *text;
        enum chat_action action;
        const char *arg; /* d.text; NULL: not checked */
    } others[] = {
        {"\xef\xbc\x8f\xef\xbd\x8d\xef\xbd\x8f\xef\xbd\x84\xef\xbd\x85\xef\xbd\x8c" /* ／ｍｏｄｅｌ */, CHAT_MODEL, ""},
        {"\xef\xbc\x8f\xef\xbd\x8d\xef\xbd\x8f\xef\xbd\x84\xef\xbd\x85\xef\xbd\x8c\xe3\x80\x80qwen-max\xe3\x80\x80"
         /* ／ｍｏｄｅｌ　qwen-max　 */,
         CHAT_MODEL, "qwen-max"},
        {"\xef\xbc\x8f\xef\xbd\x90\xef\xbd\x85\xef\xbd\x92\xef\xbd\x93\xef\xbd\x8f\xef\xbd\x8e\xef\xbd\x81" /* ／ｐｅｒｓｏｎａ */,
         CHAT_PERSONA, NULL},
        {"\xef\xbc\x8f\xef\xbd\x95\xef\xbd\x93\xef\xbd\x81\xef\xbd\x87\xef\xbd\x85" /* ／ｕｓａｇｅ */, CHAT_USAGE, NULL},
        {"\xef\xbc\x8f\xef\xbd\x86\xef\xbd\x89\xef\xbd\x8c\xef\xbd\x85\xef\xbd\x93" /* ／ｆｉｌｅｓ */, CHAT_FILES, ""},
        {"\xef\xbc\x8f\xef\xbd\x92\xef\xbd\x85\xef\xbd\x8d\xef\xbd\x85\xef\xbd\x8d\xef\xbd\x82\xef\xbd\x85\xef\xbd\x92"
         "\xe3\x80\x80\xe7\x8c\xab\xe3\x81\x8c\xe5\xa5\xbd\xe3\x81\x8d" /* ／ｒｅｍｅｍｂｅｒ　猫が好き */,
         CHAT_MEMORY, NULL},
        {"\xef\xbc\x8f\xef\xbd\x8d\xef\xbd\x85\xef\xbd\x8d\xef\xbd\x8f\xef\xbd\x92\xef\xbd\x99" /* ／ｍｅｍｏｒｙ */, CHAT_MEMORY,
         NULL},
        {"\xef\xbc\x8f\xef\xbd\x86\xef\xbd\x8f\xef\xbd\x92\xef\xbd\x87\xef\xbd\x85\xef\xbd\x94 all" /* ／ｆｏｒｇｅｔ all */,
         CHAT_MEMORY, NULL},
        /* A word that only starts like one is no command. */
        {"\xef\xbc\x8f\xef\xbd\x8d\xef\xbd\x8f\xef\xbd\x84\xef\xbd\x85\xef\xbd\x8c\xe3\x81\xa7" /* ／ｍｏｄｅｌで */, CHAT_ANSWER,
         NULL},
    };
    for (size_t i = 0; i < sizeof others / sizeof others[0]; i++) {
        char *text = NULL;
        ev = text_event(CHAT_USER, others[i].text);
        enum chat_action a = decide(&cfg, &ev, false, &text);
        if (a != others[i].action)
            fail_msg("%s: action %d, expected %d", others[i].text, (int)a, (int)others[i].action);
        if (others[i].arg)
            assert_string_equal(text, others[i].arg);
        free(text);
    }
}

/* The trigger goes together with the punctuation written right after it. */
static void test_trigger_punctuation(void **state)
{
    struct config cfg = base_cfg();
    cfg.trigger = (char *)"\xe3\x83\x9c\xe3\x83\x83\xe3\x83\x88"; /* ボット */
    const char *question = "\xe4\xbb\x8a\xe6\x97\xa5\xe3\x81\xae\xe4\xba\x88\xe5\xae\x9a\xe3\x81\xaf\xef\xbc\x9f"; /* 今日の予定は？ */
    const char *seps[] = {"\xe3\x80\x81" /* 、 */, "\xef\xbc\x8c" /* ， */, ",", ":", "\xef\xbc\x9a" /* ： */,
                          " ", "\xe3\x80\x81 ", ""};
    for (size_t i = 0; i < sizeof seps / sizeof seps[0]; i++) {
        char text[128];
        snprintf(text, sizeof text, "%s%s%s", cfg.trigger, seps[i], question);
        struct line_event ev = text_event(CHAT_GROUP, text);
        char *got = NULL;
        assert_int_equal(decide(&cfg, &ev, false, &got), CHAT_ANSWER);
        assert_string_equal(got, question);
        free(got);
    }
    /* Only one mark goes: the rest is the user's. */
    cfg.trigger = (char *)"Bot";
    struct line_event ev = text_event(CHAT_GROUP, "bot: :) hi");
    char *got = NULL;
    assert_int_equal(decide(&cfg, &ev, false, &got), CHAT_ANSWER);
    assert_string_equal(got, ":) hi");
    free(got);
}

static void test_lifecycle_events(void **state)
{
    struct config cfg = base_cfg();
    struct line_event ev = text_event(CHAT_USER, NULL);
    ev.kind = EVENT_FOLLOW;
    assert_int_equal(decide(&cfg, &ev, false, NULL), CHAT_IGNORE);
    cfg.greeting = (char *)"Welcome!";
    assert_int_equal(decide(&cfg, &ev, false, NULL), CHAT_REPLY_FIXED);
    ev.kind = EVENT_JOIN;
    ev.chat_type = CHAT_GROUP;
    assert_int_equal(decide(&cfg, &ev, false, NULL), CHAT_REPLY_FIXED);
    ev.kind = EVENT_UNFOLLOW;
    assert_int_equal(decide(&cfg, &ev, false, NULL), CHAT_FORGET);
    ev.kind = EVENT_LEAVE;
    assert_int_equal(decide(&cfg, &ev, false, NULL), CHAT_FORGET);
    ev.kind = EVENT_POSTBACK;
    assert_int_equal(decide(&cfg, &ev, false, NULL), CHAT_IGNORE);
    ev.kind = EVENT_MESSAGE_EDITED;
    ev.message_kind = MESSAGE_TEXT;
    ev.text = (char *)"edited";
    char *text;
    assert_int_equal(decide(&cfg, &ev, false, &text), CHAT_EDIT);
    assert_string_equal(text, "edited");
    free(text);
}

static void test_rate_limit(void **state)
{
    (void)state;
    /* limit 2: the 1st and 2nd message of the window pass, the 3rd gets the
     * one "slow down" reply, every later one is silent. */
    assert_int_equal(chat_rate_verdict(1, 2), RATE_ALLOW);
    assert_int_equal(chat_rate_verdict(2, 2), RATE_ALLOW);
    assert_int_equal(chat_rate_verdict(3, 2), RATE_WARN);
    assert_int_equal(chat_rate_verdict(4, 2), RATE_SILENT);
    assert_int_equal(chat_rate_verdict(1000000, 2), RATE_SILENT);
    assert_int_equal(chat_rate_verdict(INT64_MAX, 2), RATE_SILENT);
    assert_int_equal(chat_rate_verdict(1, 1), RATE_ALLOW);
    assert_int_equal(chat_rate_verdict(2, 1), RATE_WARN);
    /* No limit (0 or below): always allowed. */
    for (int64_t i = 1; i < 100; i++) {
        assert_int_equal(chat_rate_verdict(i, 0), RATE_ALLOW);
        assert_int_equal(chat_rate_verdict(i, -5), RATE_ALLOW);
    }
    assert_int_equal(chat_rate_verdict(INT64_MAX, 0), RATE_ALLOW);
}

static void test_prompt_one_to_one(void **state)
{
    struct config cfg = base_cfg();
    struct turn hist[] = {
        {.role = TURN_USER, .text = (char *)"my name is Ken"},
        {.role = TURN_ASSISTANT, .text = (char *)"Hi Ken!"},
    };
    struct prompt p;
    chat_build_prompt(&cfg, CHAT_USER, NULL, hist, 2, NULL, NULL, "what is my name?", &p);
    assert_int_equal(p.n, 4);
    assert_string_equal(p.messages[0].role, "system");
    assert_string_equal(p.messages[0].content, chat_default_system_prompt);
    assert_string_equal(p.messages[1].role, "user");
    assert_string_equal(p.messages[1].content, "my name is Ken");
    assert_string_equal(p.messages[2].role, "assistant");
    assert_string_equal(p.messages[3].content, "what is my name?");
    prompt_free(&p);

    cfg.system_prompt = (char *)"You are a pirate.";
    chat_build_prompt(&cfg, CHAT_USER, NULL, NULL, 0, NULL, NULL, "hi", &p);
    assert_string_equal(p.messages[0].content, "You are a pirate.");
    assert_int_equal(p.n, 2);
    prompt_free(&p);
}

static void test_prompt_group_names_and_quote(void **state)
{
    struct config cfg = base_cfg();
    struct turn hist[] = {
        {.role = TURN_CONTEXT, .speaker = (char *)"Bob", .text = (char *)"pizza or sushi?"},
    };
    struct prompt p;
    chat_build_prompt(&cfg, CHAT_GROUP, NULL, hist, 1, "Alice", "the earlier answer", "which one?", &p);
    assert_int_equal(p.n, 3);
    assert_string_equal(p.messages[1].content, "Bob: pizza or sushi?");
    assert_non_null(strstr(p.messages[2].content, "Alice: which one?"));
    assert_non_null(strstr(p.messages[2].content, "the earlier answer"));
    assert_non_null(strstr(p.messages[0].content, "group"));
    prompt_free(&p);
}

static void test_prompt_history_budget(void **state)
{
    struct config cfg = base_cfg();
    cfg.history_chars = 25;
    struct turn hist[] = {
        {.role = TURN_USER, .text = (char *)"oldest question here"},   /* 20 */
        {.role = TURN_ASSISTANT, .text = (char *)"old answer"},        /* 10 */
        {.role = TURN_USER, .text = (char *)"newer q"},                /* 7 */
        {.role = TURN_ASSISTANT, .text = (char *)"newer a"},           /* 7 */
    };
    struct prompt p;
    chat_build_prompt(&cfg, CHAT_USER, NULL, hist, 4, NULL, NULL, "now", &p);
    /* 7 + 7 + 10 = 24 fits, but it would start with the bot's "old answer": dropped. */
    assert_int_equal(p.n, 4);
    assert_string_equal(p.messages[1].content, "newer q");
    assert_string_equal(p.messages[2].content, "newer a");
    prompt_free(&p);
}

static void test_empty_mention_gets_help(void **state)
{
    struct config cfg = base_cfg();
    struct line_event ev = text_event(CHAT_GROUP, "@Bot");
    struct mention m = {.index = 0, .length = 4, .is_self = true};
    ev.mentions = &m;
    ev.n_mentions = 1;
    assert_int_equal(decide(&cfg, &ev, false, NULL), CHAT_REPLY_FIXED);
}

static void test_hostile_mentions(void **state)
{
    struct config cfg = base_cfg();
    struct line_event ev = text_event(CHAT_GROUP, "@Bot hi");
    struct mention m[] = {
        {.index = 0, .length = 4, .is_self = true},
        {.index = 2, .length = 100000, .is_self = true}, /* overlaps and runs past the end */
        {.index = SIZE_MAX - 1, .length = 5, .is_self = true},
    };
    ev.mentions = m;
    ev.n_mentions = 3;
    char *text;
    assert_int_equal(decide(&cfg, &ev, false, &text), CHAT_ANSWER);
    assert_string_equal(text, "hi");
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_to_one_always_answered),
        cmocka_unit_test(test_group_needs_address),
        cmocka_unit_test(test_group_self_mention_stripped),
        cmocka_unit_test(test_all_mention_is_not_address),
        cmocka_unit_test(test_trigger),
        cmocka_unit_test(test_quote_of_bot_message),
        cmocka_unit_test(test_group_context),
        cmocka_unit_test(test_postback_adopt),
        cmocka_unit_test(test_standby_and_stickers),
        cmocka_unit_test(test_images_and_stickers),
        cmocka_unit_test(test_voice),
        cmocka_unit_test(test_media),
        cmocka_unit_test(test_commands),
        cmocka_unit_test(test_full_width_commands),
        cmocka_unit_test(test_trigger_punctuation),
        cmocka_unit_test(test_lifecycle_events),
        cmocka_unit_test(test_rate_limit),
        cmocka_unit_test(test_prompt_one_to_one),
        cmocka_unit_test(test_prompt_group_names_and_quote),
        cmocka_unit_test(test_prompt_history_budget),
        cmocka_unit_test(test_empty_mention_gets_help),
        cmocka_unit_test(test_hostile_mentions),
        cmocka_unit_test(test_files),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
