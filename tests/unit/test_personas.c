/* test_personas.c - persona presets (LINEBOT_PERSONAS and every error that
 * stops start-up), the /persona command as core/chat.c decides it (typed,
 * tapped, refused, forged, over the limit), the persona's place in the
 * system prompt with and without LLM_SYSTEM_PROMPT, and the /persona answer
 * with its buttons within LINE's limits. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "core/chat.h"
#include "core/format.h"
#include "core/personas.h"
#include "core/texts.h"

#define BASE "LINE_CHANNEL_SECRET=s3cret-value", "LINE_CHANNEL_ACCESS_TOKEN=tok-value", "OPENAI_API_KEY=sk-abc-value"

static const char two_presets[] =
    "[{\"name\":\"pirate\",\"label\":\"Pirate\",\"prompt\":\"Talk like a pirate.\"},"
    "{\"name\":\"teacher\",\"prompt\":\"Explain like a patient teacher.\"}]";

/* Parsing fails, and the one-line message contains both wants. */
static void expect_error(const char *json, const char *want1, const char *want2)
{
    struct persona_catalogue c;
    char err[384];
    if (personas_parse(json, &c, err, sizeof err) != -1)
        fail_msg("accepted: %.200s", json);
    if (!strstr(err, want1) || (want2 && !strstr(err, want2)))
        fail_msg("for %.200s: \"%s\" does not name \"%s\" / \"%s\"", json, err, want1, want2 ? want2 : "");
    assert_null(strchr(err, '\n'));
    assert_int_equal(c.n, 0);
    assert_null(c.items);
}

/* A JSON string of `n` times `unit` (malloc'd, with quotes). */
static char *repeated(const char *unit, size_t n)
{
    size_t len = strlen(unit);
    char *s = malloc(n * len + 3);
    s[0] = '"';
    for (size_t i = 0; i < n; i++)
        memcpy(s + 1 + i * len, unit, len);
    s[1 + n * len] = '"';
    s[2 + n * len] = '\0';
    return s;
}

static void test_parse_fields(void **state)
{
    (void)state;
    struct persona_catalogue c;
    char err[384];
    assert_int_equal(personas_parse(two_presets, &c, err, sizeof err), 0);
    assert_int_equal(c.n, 2);
    assert_string_equal(c.items[0].name, "pirate");
    assert_string_equal(c.items[0].label, "Pirate");
    assert_string_equal(c.items[0].prompt, "Talk like a pirate.");
    assert_null(c.items[1].label);
    assert_int_equal(c.n_warnings, 0);
    /* Names are found in any case: a phone capitalises what is typed. */
    assert_ptr_equal(personas_find(&c, "PIRATE"), &c.items[0]);
    assert_ptr_equal(personas_find(&c, "teacher"), &c.items[1]);
    assert_null(personas_find(&c, "chef"));
    assert_null(personas_find(&c, NULL));
    assert_null(personas_find(NULL, "pirate"));
    /* What a chat's stored choice gives the prompt. */
    assert_string_equal(personas_prompt(&c, "pirate", NULL), "Talk like a pirate.");
    assert_null(personas_prompt(&c, "removed-since", NULL)); /* falls back to the default */
    assert_string_equal(personas_prompt(&c, NULL, "Be brief."), "Be brief.");
    assert_null(personas_prompt(&c, NULL, NULL));
    assert_null(personas_prompt(&c, NULL, ""));
    personas_free(&c);

    /* Unknown fields are warned about, by item and name, not fatal. */
    assert_int_equal(personas_parse("[{\"name\":\"a\",\"prompt\":\"p\",\"emoji\":\"x\"}]", &c, err, sizeof err), 0);
    assert_int_equal(c.n_warnings, 1);
    assert_non_null(strstr(c.warnings[0], "item 1 (\"a\")"));
    assert_non_null(strstr(c.warnings[0], "emoji"));
    personas_free(&c);

    /* Limits are inclusive: a label of 20 units (CJK), a prompt of 4000. */
    char *label = repeated("\xe6\xb5\xb7", 20); /* 海 */
    char *prompt = repeated("a", 4000);
    char *json = malloc(strlen(label) + strlen(prompt) + 64);
    sprintf(json, "[{\"name\":\"x\",\"label\":%s,\"prompt\":%s}]", label, prompt);
    assert_int_equal(personas_parse(json, &c, err, sizeof err), 0);
    personas_free(&c);
    free(json);
    free(label);
    free(prompt);
}

static void test_parse_errors(void **state)
{
    (void)state;
    expect_error("[{\"name\":", "LINEBOT_PERSONAS is not valid JSON", NULL);
    expect_error("{\"name\":\"a\",\"prompt\":\"p\"}", "LINEBOT_PERSONAS must be a JSON array", NULL);
    expect_error("[]", "LINEBOT_PERSONAS must be a JSON array of 1 to 32", NULL);
    expect_error("[\"pirate\"]", "item 1 field (all)", NULL);
    expect_error("[{\"prompt\":\"p\"}]", "item 1 field name", "required");
    expect_error("[{\"name\":\"\",\"prompt\":\"p\"}]", "item 1 field name", NULL);
    expect_error("[{\"name\":\"a b\",\"prompt\":\"p\"}]", "item 1 field name", "A-Z");
    expect_error("[{\"name\":\"a|b\",\"prompt\":\"p\"}]", "item 1 field name", NULL);
    expect_error("[{\"name\":\"abcdefghijklmnopqrstuvwxyz0123456\",\"prompt\":\"p\"}]", "item 1 field name", "32");
    expect_error("[{\"name\":7,\"prompt\":\"p\"}]", "item 1 field name", "string");
    expect_error("[{\"name\":\"Set\",\"prompt\":\"p\"}]", "item 1 (\"Set\") field name", "command");
    expect_error("[{\"name\":\"a\",\"prompt\":\"p\"},{\"name\":\"reset\",\"prompt\":\"p\"}]",
                 "item 2 (\"reset\") field name", "command");
    expect_error("[{\"name\":\"a\",\"prompt\":\"p\"},{\"name\":\"A\",\"prompt\":\"q\"}]", "item 2 (\"A\") field name",
                 "twice");
    expect_error("[{\"name\":\"a\"}]", "item 1 (\"a\") field prompt", "required");
    expect_error("[{\"name\":\"a\",\"prompt\":\"\"}]", "item 1 (\"a\") field prompt", "empty");
    expect_error("[{\"name\":\"a\",\"prompt\":[\"p\"]}]", "item 1 (\"a\") field prompt", "string");
    expect_error("[{\"name\":\"a\",\"prompt\":\"p\",\"label\":\"\"}]", "item 1 (\"a\") field label", "20");
    expect_error("[{\"name\":\"a\",\"prompt\":\"p\",\"label\":\"123456789012345678901\"}]", "field label", "20");
    expect_error("[{\"name\":\"a\",\"prompt\":\"p\",\"label\":true}]", "field label", "string");
    /* 11 emoji are 22 UTF-16 units, over LINE's 20 for a label. */
    expect_error("[{\"name\":\"a\",\"prompt\":\"p\",\"label\":\"\xf0\x9f\x8f\xb4\xf0\x9f\x8f\xb4\xf0\x9f\x8f\xb4"
                 "\xf0\x9f\x8f\xb4\xf0\x9f\x8f\xb4\xf0\x9f\x8f\xb4\xf0\x9f\x8f\xb4\xf0\x9f\x8f\xb4\xf0\x9f\x8f\xb4"
                 "\xf0\x9f\x8f\xb4\xf0\x9f\x8f\xb4\"}]",
                 "field label", NULL);
    char *prompt = repeated("a", 4001);
    char *json = malloc(strlen(prompt) + 64);
    sprintf(json, "[{\"name\":\"long\",\"prompt\":%s}]", prompt);
    expect_error(json, "item 1 (\"long\") field prompt", "4000");
    free(json);
    free(prompt);
    /* 33 presets. */
    char many[4096] = "[";
    for (int i = 0; i < 33; i++)
        snprintf(many + strlen(many), sizeof many - strlen(many), "%s{\"name\":\"p%d\",\"prompt\":\"x\"}",
                 i ? "," : "", i);
    strcat(many, "]");
    expect_error(many, "1 to 32", NULL);
    expect_error("[{\"name\":\"a\",\"prompt\":\"p\",\"prompt\":\"q\"}]", "not valid JSON", NULL);
}

static void test_config(void **state)
{
    (void)state;
    struct config cfg;
    char err[384];
    char *none[] = {BASE, NULL};
    assert_int_equal(config_load(&cfg, none, err, sizeof err), 0);
    assert_non_null(cfg.personas);
    assert_int_equal(cfg.personas->n, 0);
    config_free(&cfg);

    char setting[512];
    snprintf(setting, sizeof setting, "LINEBOT_PERSONAS=%s", two_presets);
    char *env[] = {BASE, setting, NULL};
    assert_int_equal(config_load(&cfg, env, err, sizeof err), 0);
    assert_int_equal(cfg.personas->n, 2);
    config_free(&cfg);

    char *bad[] = {BASE, "LINEBOT_PERSONAS=[{\"name\":\"chef\",\"prompt\":7}]", NULL};
    assert_int_equal(config_load(&cfg, bad, err, sizeof err), -1);
    assert_non_null(strstr(err, "LINEBOT_PERSONAS item 1 (\"chef\") field prompt"));

    /* @file */
    char path[] = "/tmp/linebot-test-personas-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, two_presets, strlen(two_presets)), (ssize_t)strlen(two_presets));
    close(fd);
    snprintf(setting, sizeof setting, "LINEBOT_PERSONAS=@%s", path);
    assert_int_equal(config_load(&cfg, env, err, sizeof err), 0);
    assert_string_equal(cfg.personas->items[1].name, "teacher");
    config_free(&cfg);
    unlink(path);
    assert_int_equal(config_load(&cfg, env, err, sizeof err), -1);
    assert_non_null(strstr(err, "LINEBOT_PERSONAS"));
    assert_non_null(strstr(err, "cannot be read"));
}

/* ---- the command ---- */

static void expect_command(const char *text, enum chat_persona_op want, const char *want_arg)
{
    enum chat_persona_op op = (enum chat_persona_op)-1;
    const char *arg = NULL;
    size_t len = 99;
    if (!chat_parse_persona_command(text, &op, &arg, &len))
        fail_msg("not a /persona command: %s", text);
    if (op != want)
        fail_msg("%s: op %d, want %d", text, (int)op, (int)want);
    if (len != strlen(want_arg) || memcmp(arg, want_arg, len) != 0)
        fail_msg("%s: argument \"%.*s\", want \"%s\"", text, (int)len, arg, want_arg);
}

static void test_parse_command(void **state)
{
    (void)state;
    expect_command("/persona", PERSONA_SHOW, "");
    expect_command("/persona   ", PERSONA_SHOW, "");
    expect_command("/Persona pirate", PERSONA_PICK, "pirate");
    expect_command("/persona\tTeacher ", PERSONA_PICK, "Teacher");
    expect_command("\xef\xbc\x8fpersona pirate", PERSONA_PICK, "pirate"); /* ／ from a Japanese keyboard */
    expect_command("/persona set Be brief.", PERSONA_SET, "Be brief.");
    expect_command("/persona SET  You are Ken.\nYou love cats. ", PERSONA_SET, "You are Ken.\nYou love cats.");
    expect_command("/persona set\nmulti\nline", PERSONA_SET, "multi\nline");
    expect_command("/persona set", PERSONA_SHOW, ""); /* nothing to set: how to, with the list */
    expect_command("/persona set   ", PERSONA_SHOW, "");
    expect_command("/persona settle", PERSONA_PICK, "settle");
    expect_command("/persona reset", PERSONA_RESET, "");
    expect_command("/persona RESET ", PERSONA_RESET, "");
    expect_command("/persona reset now", PERSONA_PICK, "reset now"); /* no preset has that name: the list */
    enum chat_persona_op op;
    const char *arg;
    size_t len;
    assert_false(chat_parse_persona_command("/personas", &op, &arg, &len));
    assert_false(chat_parse_persona_command("persona pirate", &op, &arg, &len));
    assert_false(chat_parse_persona_command(" /persona", &op, &arg, &len));
    assert_false(chat_parse_persona_command("/model", &op, &arg, &len));
    assert_false(chat_parse_persona_command("", &op, &arg, &len));
    assert_false(chat_parse_persona_command(NULL, &op, &arg, &len));
}

static struct line_event event(enum event_kind kind, enum chat_type type, const char *user, const char *text)
{
    struct line_event ev;
    memset(&ev, 0, sizeof ev);
    ev.kind = kind;
    ev.message_kind = kind == EVENT_MESSAGE ? MESSAGE_TEXT : MESSAGE_NONE;
    ev.chat_type = type;
    ev.chat_id = (char *)(type == CHAT_USER ? user : "C1");
    ev.user_id = (char *)user;
    ev.reply_token = (char *)"rt";
    if (kind == EVENT_MESSAGE)
        ev.text = (char *)text;
    else
        ev.postback_data = (char *)text;
    return ev;
}

/* chat_decide on `ev`: the action, and for CHAT_PERSONA the op and text. */
static void expect_decision(const struct config *cfg, const struct line_event *ev, enum chat_action action,
                            int op_or_fixed, const char *text)
{
    struct chat_decision d;
    chat_decide(cfg, ev, NULL, &d);
    const char *what = ev->text ? ev->text : ev->postback_data;
    if (d.action != action)
        fail_msg("%.60s: action %d (%s), want %d", what, (int)d.action, d.reason, (int)action);
    if (action == CHAT_PERSONA && (int)d.persona_op != op_or_fixed)
        fail_msg("%.60s: op %d, want %d", what, (int)d.persona_op, op_or_fixed);
    if (action == CHAT_REPLY_FIXED && (int)d.fixed != op_or_fixed)
        fail_msg("%.60s: text %d, want %d", what, (int)d.fixed, op_or_fixed);
    if (text && (!d.text || strcmp(d.text, text) != 0))
        fail_msg("%.60s: text \"%s\", want \"%s\"", what, d.text ? d.text : "(null)", text);
    if (action != CHAT_IGNORE)
        assert_true(d.rate_limited);
    chat_decision_free(&d);
}

/* `unit` `n` times after "/persona set " (malloc'd). */
static char *set_command(const char *unit, size_t n)
{
    size_t len = strlen(unit);
    char *s = malloc(16 + n * len);
    strcpy(s, "/persona set ");
    for (size_t i = 0; i < n; i++)
        strcat(s, unit);
    return s;
}

static void test_decide(void **state)
{
    (void)state;
    struct persona_catalogue cat;
    char err[384];
    assert_int_equal(personas_parse(two_presets, &cat, err, sizeof err), 0);
    char *admins[] = {(char *)"Uadmin"};
    struct config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.personas = &cat;

    struct line_event ev = event(EVENT_MESSAGE, CHAT_USER, "U1", "/persona");
    expect_decision(&cfg, &ev, CHAT_PERSONA, PERSONA_SHOW, "");
    ev = event(EVENT_MESSAGE, CHAT_USER, "U1", "/persona Pirate");
    expect_decision(&cfg, &ev, CHAT_PERSONA, PERSONA_PICK, "Pirate");
    ev = event(EVENT_MESSAGE, CHAT_USER, "U1", "/persona chef"); /* unknown: the worker shows the list */
    expect_decision(&cfg, &ev, CHAT_PERSONA, PERSONA_PICK, "chef");
    ev = event(EVENT_MESSAGE, CHAT_USER, "U1", "/persona set Be brief.");
    expect_decision(&cfg, &ev, CHAT_PERSONA, PERSONA_SET, "Be brief.");
    ev = event(EVENT_MESSAGE, CHAT_USER, "U1", "/persona reset");
    expect_decision(&cfg, &ev, CHAT_PERSONA, PERSONA_RESET, "");

    /* The limit is 1000 characters as LINE counts them (UTF-16 units). */
    char *text = set_command("a", 1000);
    ev = event(EVENT_MESSAGE, CHAT_USER, "U1", text);
    expect_decision(&cfg, &ev, CHAT_PERSONA, PERSONA_SET, NULL);
    free(text);
    text = set_command("a", 1001);
    ev = event(EVENT_MESSAGE, CHAT_USER, "U1", text);
    expect_decision(&cfg, &ev, CHAT_PERSONA, PERSONA_TOO_LONG, NULL);
    free(text);
    text = set_command("\xe7\x8c\xab", 1000); /* 猫: 3 bytes, 1 unit */
    ev = event(EVENT_MESSAGE, CHAT_USER, "U1", text);
    expect_decision(&cfg, &ev, CHAT_PERSONA, PERSONA_SET, NULL);
    free(text);
    text = set_command("\xf0\x9f\x90\xb1", 501); /* 🐱: 2 units each, 1002 */
    ev = event(EVENT_MESSAGE, CHAT_USER, "U1", text);
    expect_decision(&cfg, &ev, CHAT_PERSONA, PERSONA_TOO_LONG, NULL);
    free(text);

    /* A tap: ours, and names a preset. */
    ev = event(EVENT_POSTBACK, CHAT_USER, "U1", "v1|p|teacher");
    assert_true(chat_needs_work(&cfg, &ev));
    expect_decision(&cfg, &ev, CHAT_PERSONA, PERSONA_PICK, "teacher");
    const char *forged[] = {"v1|p|gone", "v1|p|", "v1|p|pirate|x", "v2|p|pirate", "v1|P|pirate", "persona"};
    for (size_t i = 0; i < sizeof forged / sizeof forged[0]; i++) {
        ev = event(EVENT_POSTBACK, CHAT_USER, "U1", forged[i]);
        expect_decision(&cfg, &ev, CHAT_IGNORE, 0, NULL);
    }
    /* Without presets every persona button is stale. */
    struct config bare;
    memset(&bare, 0, sizeof bare);
    ev = event(EVENT_POSTBACK, CHAT_USER, "U1", "v1|p|pirate");
    expect_decision(&bare, &ev, CHAT_IGNORE, 0, NULL);

    /* Groups with LINEBOT_ADMINS: only admins change it, typed or tapped;
     * everyone may look. */
    cfg.admins = admins;
    cfg.n_admins = 1;
    cfg.trigger = (char *)"bot";
    const char *changes[] = {"bot /persona pirate", "bot /persona set Be loud.", "bot /persona reset"};
    for (size_t i = 0; i < sizeof changes / sizeof changes[0]; i++) {
        ev = event(EVENT_MESSAGE, CHAT_GROUP, "Uother", changes[i]);
        expect_decision(&cfg, &ev, CHAT_REPLY_FIXED, TEXT_PERSONA_REFUSED, NULL);
        ev = event(EVENT_MESSAGE, CHAT_GROUP, "Uadmin", changes[i]);
        expect_decision(&cfg, &ev, CHAT_PERSONA, i == 0 ? PERSONA_PICK : i == 1 ? PERSONA_SET : PERSONA_RESET,
                        NULL);
    }
    ev = event(EVENT_MESSAGE, CHAT_GROUP, "Uother", "bot /persona");
    expect_decision(&cfg, &ev, CHAT_PERSONA, PERSONA_SHOW, "");
    ev = event(EVENT_POSTBACK, CHAT_GROUP, "Uother", "v1|p|pirate");
    expect_decision(&cfg, &ev, CHAT_REPLY_FIXED, TEXT_PERSONA_REFUSED, NULL);
    ev = event(EVENT_POSTBACK, CHAT_GROUP, NULL, "v1|p|pirate"); /* no userId: not an admin */
    expect_decision(&cfg, &ev, CHAT_REPLY_FIXED, TEXT_PERSONA_REFUSED, NULL);
    ev = event(EVENT_POSTBACK, CHAT_GROUP, "Uadmin", "v1|p|pirate");
    expect_decision(&cfg, &ev, CHAT_PERSONA, PERSONA_PICK, "pirate");
    ev = event(EVENT_MESSAGE, CHAT_USER, "Uother", "/persona pirate"); /* 1:1: the user's own chat */
    expect_decision(&cfg, &ev, CHAT_PERSONA, PERSONA_PICK, "pirate");
    personas_free(&cat);
}

/* ---- the prompt ---- */

static void test_prompt(void **state)
{
    (void)state;
    struct config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.history_chars = 6000;
    struct prompt p;
    static const char persona[] = "Talk like a pirate.";

    /* The built-in rules stay, and the persona comes after them. */
    chat_build_prompt(&cfg, CHAT_USER, persona, NULL, 0, NULL, NULL, "hi", &p);
    assert_int_equal(p.n, 2);
    const char *sys = p.messages[0].content;
    assert_memory_equal(sys, chat_default_system_prompt, strlen(chat_default_system_prompt));
    assert_non_null(strstr(sys, "keep to the rules above"));
    assert_true(strlen(sys) > strlen(persona));
    assert_string_equal(sys + strlen(sys) - strlen(persona), persona);
    assert_string_equal(p.messages[1].content, "hi");
    prompt_free(&p);

    /* No persona, or an empty one: the system prompt alone. */
    chat_build_prompt(&cfg, CHAT_USER, NULL, NULL, 0, NULL, NULL, "hi", &p);
    assert_string_equal(p.messages[0].content, chat_default_system_prompt);
    prompt_free(&p);
    chat_build_prompt(&cfg, CHAT_USER, "", NULL, 0, NULL, NULL, "hi", &p);
    assert_string_equal(p.messages[0].content, chat_default_system_prompt);
    prompt_free(&p);

    /* LLM_SYSTEM_PROMPT replaces the built-in rules; the persona is still appended. */
    cfg.system_prompt = (char *)"You answer questions about trains only.";
    chat_build_prompt(&cfg, CHAT_USER, persona, NULL, 0, NULL, NULL, "hi", &p);
    sys = p.messages[0].content;
    assert_memory_equal(sys, cfg.system_prompt, strlen(cfg.system_prompt));
    assert_null(strstr(sys, "plain text")); /* nothing of the built-in rules */
    assert_null(strstr(sys, "Markdown"));
    assert_string_equal(sys + strlen(sys) - strlen(persona), persona);
    prompt_free(&p);

    /* In a group the group note comes before the persona: the persona is last. */
    chat_build_prompt(&cfg, CHAT_GROUP, persona, NULL, 0, "Alice", NULL, "hi", &p);
    sys = p.messages[0].content;
    const char *note = strstr(sys, "group chat");
    const char *at = strstr(sys, persona);
    assert_non_null(note);
    assert_non_null(at);
    assert_true(note < at);
    assert_string_equal(at, persona);
    assert_string_equal(p.messages[1].content, "Alice: hi");
    prompt_free(&p);
}

/* ---- the answer ---- */

static void test_menu(void **state)
{
    (void)state;
    struct persona_catalogue cat;
    char err[384];
    assert_int_equal(personas_parse(two_presets, &cat, err, sizeof err), 0);

    char *text = personas_menu_text(&cat, "pirate", NULL, NULL, LANG_EN);
    assert_string_equal(text, "Current persona: pirate\nPresets:\n* pirate (Pirate)\n- teacher\n"
                              "Tap a button or type /persona NAME to pick one.\n"
                              "Type /persona set TEXT for your own, /persona reset for the default.");
    free(text);
    text = personas_menu_text(&cat, NULL, NULL, "I don't know the persona \"x\".", LANG_JA);
    assert_string_equal(text, "I don't know the persona \"x\".\n"
                              "ペルソナは設定されていません（標準の話し方です）。\nプリセット一覧:\n- pirate (Pirate)\n"
                              "- teacher\nボタンをタップするか、/persona 名前 と入力すると選べます。\n"
                              "/persona set 内容 で自分だけのペルソナを設定、/persona reset で標準に戻せます。");
    free(text);
    /* A custom persona is shown back, cut after 200 characters. */
    char custom[400];
    memset(custom, 'z', 300);
    custom[300] = '\0';
    text = personas_menu_text(&cat, NULL, custom, NULL, LANG_EN);
    char want[300];
    snprintf(want, sizeof want, "Current persona (your own): %.200s...\n", custom);
    assert_memory_equal(text, want, strlen(want));
    free(text);
    /* A preset the operator removed reads as the default. */
    text = personas_menu_text(&cat, "gone", NULL, NULL, LANG_ZH_TW);
    assert_non_null(strstr(text, "目前沒有設定角色"));
    free(text);
    /* Without presets: no list, no buttons, still how to set one's own. */
    struct persona_catalogue none = {0};
    text = personas_menu_text(&none, NULL, NULL, NULL, LANG_EN);
    assert_string_equal(text, "No persona is set: I talk in my default style.\n"
                              "Type /persona set TEXT for your own, /persona reset for the default.");
    free(text);

    text = personas_picked_text(&cat.items[0], LANG_EN);
    assert_string_equal(text, "OK, my persona in this chat is now pirate (Pirate).");
    free(text);
    text = personas_picked_text(&cat.items[1], LANG_ZH_TW);
    assert_string_equal(text, "好的，這個聊天室的角色已改為 teacher。");
    free(text);

    struct quick_reply qr;
    personas_menu_buttons(&cat, &qr);
    assert_int_equal(qr.n, 2);
    assert_string_equal(qr.items[0].label, "Pirate");
    assert_string_equal(qr.items[0].data, "v1|p|pirate");
    assert_string_equal(qr.items[0].display_text, "/persona pirate");
    assert_string_equal(qr.items[1].label, "teacher");
    quick_reply_free(&qr);
    personas_menu_buttons(&none, &qr);
    assert_int_equal(qr.n, 0);
    personas_free(&cat);

    /* 20 presets with names of 32: 13 buttons within LINE's limits (label
     * 20, data 300, displayText present), every preset in the text. */
    char json[4096] = "[";
    for (int i = 0; i < 20; i++)
        snprintf(json + strlen(json), sizeof json - strlen(json),
                 "%s{\"name\":\"persona-with-a-long-name-%06d\",\"prompt\":\"x\"}", i ? "," : "", i);
    strcat(json, "]");
    assert_int_equal(personas_parse(json, &cat, err, sizeof err), 0);
    personas_menu_buttons(&cat, &qr);
    assert_int_equal(qr.n, 13);
    for (size_t i = 0; i < qr.n; i++) {
        assert_true(utf16_len(qr.items[i].label, strlen(qr.items[i].label)) <= 20);
        assert_true(qr.items[i].label[0]);
        assert_true(strlen(qr.items[i].data) <= 300);
        assert_true(qr.items[i].display_text && qr.items[i].display_text[0]);
    }
    assert_string_equal(qr.items[0].label, "persona-with-a-long-");
    quick_reply_free(&qr);
    text = personas_menu_text(&cat, NULL, NULL, NULL, LANG_EN);
    for (int i = 0; i < 20; i++) {
        char name[40];
        snprintf(name, sizeof name, "persona-with-a-long-name-%06d", i);
        assert_non_null(strstr(text, name));
    }
    free(text);
    personas_free(&cat);
}

/* The limit fills in; help names the command. (That every text is there in
 * every language is test_texts' check, for all of them.) */
static void test_texts(void **state)
{
    (void)state;
    char *filled = texts_fill(texts_builtin(TEXT_PERSONA_TOO_LONG, LANG_EN), "1000");
    assert_string_equal(filled, "Sorry, a persona can be at most 1000 characters.");
    free(filled);
    /* /help: one line per command, in every language. */
    static const char *const commands[] = {"/reset - ", "/model - ", "/persona - ", "/help - "};
    for (int lang = LANG_EN; lang < LANG_COUNT; lang++) {
        const char *help = texts_builtin(TEXT_HELP, (enum lang)lang);
        for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
            const char *at = strstr(help, commands[i]);
            if (!at || (at != help && at[-1] != '\n'))
                fail_msg("help in %s lacks a line for %s", texts_lang_name((enum lang)lang), commands[i]);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_fields),
        cmocka_unit_test(test_parse_errors),
        cmocka_unit_test(test_config),
        cmocka_unit_test(test_parse_command),
        cmocka_unit_test(test_decide),
        cmocka_unit_test(test_prompt),
        cmocka_unit_test(test_menu),
        cmocka_unit_test(test_texts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
