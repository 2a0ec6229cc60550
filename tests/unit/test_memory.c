/* test_memory.c - memory of the user (issue 11) in core: the command parser,
 * the facts in the system prompt under their size cap, the extraction
 * answer's parser fed garbage, the choice of the extraction model, and the
 * settings that stop start-up. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "core/chat.h"
#include "core/memory.h"
#include "core/models.h"

/* ---- the command parser ---- */

static void expect_verb(const char *text, enum memory_verb verb)
{
    struct memory_command c;
    if (!memory_parse_command(text, &c))
        fail_msg("not a memory command: %s", text);
    if (c.verb != verb)
        fail_msg("%s: verb %d, want %d", text, (int)c.verb, (int)verb);
}

static void test_commands(void **state)
{
    (void)state;
    struct memory_command c;
    assert_true(memory_parse_command("/remember I am vegetarian  ", &c));
    assert_int_equal(c.verb, MEMORY_REMEMBER);
    assert_int_equal(c.arg_len, strlen("I am vegetarian"));
    assert_memory_equal(c.arg, "I am vegetarian", c.arg_len);
    /* A full-width slash, as a Japanese keyboard types it, and any case. */
    assert_true(memory_parse_command("\xef\xbc\x8fREMEMBER "
                                     "\xe5\x90\x8d\xe5\x89\x8d\xe3\x81\xaf\xe5\xa4\xaa\xe9\x83\x8e",
                                     &c));
    assert_int_equal(c.verb, MEMORY_REMEMBER);
    assert_string_equal(c.arg, "\xe5\x90\x8d\xe5\x89\x8d\xe3\x81\xaf\xe5\xa4\xaa\xe9\x83\x8e");

    expect_verb("/remember", MEMORY_USAGE);
    expect_verb("/remember   ", MEMORY_USAGE);
    expect_verb("/memory", MEMORY_SHOW);
    expect_verb("/Memory off", MEMORY_OPT_OUT);
    expect_verb("/memory ON", MEMORY_OPT_IN);
    expect_verb("/memory please", MEMORY_USAGE);
    expect_verb("/forget all", MEMORY_FORGET_ALL);
    expect_verb("/forget", MEMORY_USAGE);
    expect_verb("/forget 0", MEMORY_USAGE);
    expect_verb("/forget -1", MEMORY_USAGE);
    expect_verb("/forget 2x", MEMORY_USAGE);
    expect_verb("/forget 99999", MEMORY_USAGE);
    assert_true(memory_parse_command("/forget 12", &c));
    assert_int_equal(c.verb, MEMORY_FORGET_ONE);
    assert_int_equal(c.number, 12);
    /* Full-width words, digits and space, as a Japanese keyboard in full-width mode types them. */
    expect_verb("／ｆｏｒｇｅｔ　ａｌｌ", MEMORY_FORGET_ALL);
    expect_verb("／ｍｅｍｏｒｙ　ＯＦＦ", MEMORY_OPT_OUT);
    expect_verb("／ｆｏｒｇｅｔ　１２ｘ", MEMORY_USAGE);
    expect_verb("／ｆｏｒｇｅｔ　１２３４５", MEMORY_USAGE);
    assert_true(memory_parse_command("／ｆｏｒｇｅｔ　１２", &c));
    assert_int_equal(c.verb, MEMORY_FORGET_ONE);
    assert_int_equal(c.number, 12);
    assert_false(memory_parse_command("／ｆｏｒｇｅｔｔｉｎｇ", &c));

    /* Not commands: other words, no slash, a longer word. */
    assert_false(memory_parse_command("/rememberme", &c));
    assert_false(memory_parse_command("/memorys", &c));
    assert_false(memory_parse_command("remember this", &c));
    assert_false(memory_parse_command("/model", &c));
    assert_false(memory_parse_command("", &c));
    assert_false(memory_parse_command(NULL, &c));
}

/* chat_decide sends the commands to CHAT_MEMORY, and a question stays one. */
static void test_decide(void **state)
{
    (void)state;
    struct config cfg;
    memset(&cfg, 0, sizeof cfg);
    struct line_event ev;
    memset(&ev, 0, sizeof ev);
    ev.kind = EVENT_MESSAGE;
    ev.message_kind = MESSAGE_TEXT;
    ev.chat_type = CHAT_USER;
    ev.chat_id = "U1";
    ev.user_id = "U1";
    struct chat_decision d;
    ev.text = "/forget all";
    chat_decide(&cfg, &ev, NULL, &d);
    assert_int_equal(d.action, CHAT_MEMORY);
    assert_true(d.rate_limited);
    chat_decision_free(&d);
    ev.text = "what do you remember about me?";
    chat_decide(&cfg, &ev, NULL, &d);
    assert_int_equal(d.action, CHAT_ANSWER);
    chat_decision_free(&d);
}

/* ---- cleaning a fact ---- */

static void test_clean_fact(void **state)
{
    (void)state;
    char *f = memory_clean_fact("  Likes\ncats\t\tand  dogs \r\n", strlen("  Likes\ncats\t\tand  dogs \r\n"));
    assert_string_equal(f, "Likes cats and dogs");
    free(f);
    assert_null(memory_clean_fact(" \n\t ", 4));
    assert_null(memory_clean_fact("bad \xff utf8", 10));
    /* Cut at MEMORY_FACT_MAX bytes, never inside a character: 500 "é" (2
     * bytes each) and one more. */
    char long_fact[1100] = "";
    for (int i = 0; i < MEMORY_FACT_MAX / 2 + 1; i++)
        strcat(long_fact, "\xc3\xa9");
    f = memory_clean_fact(long_fact, strlen(long_fact));
    assert_int_equal(strlen(f), MEMORY_FACT_MAX);
    free(f);
    strcpy(long_fact, "a");
    for (int i = 0; i < MEMORY_FACT_MAX / 2; i++)
        strcat(long_fact, "\xc3\xa9");
    f = memory_clean_fact(long_fact, strlen(long_fact));
    assert_int_equal(strlen(f), MEMORY_FACT_MAX - 1); /* "a" and whole characters only */
    free(f);
}

/* ---- facts in the system prompt ---- */

static void test_prompt_note_cap(void **state)
{
    (void)state;
    const char *facts[] = {"Is called Taro", "Is vegetarian", "Works as a nurse"};
    char *note = memory_prompt_note(facts, 3, 1000, false, NULL);
    assert_non_null(note);
    assert_true(strncmp(note, "\n\n", 2) == 0);
    assert_non_null(strstr(note, "\n- Is called Taro\n- Is vegetarian\n- Works as a nurse"));
    assert_null(strstr(note, "private"));
    free(note);

    /* 14 + 13 = 27 units fit in 27; the third does not, and ends the list. */
    note = memory_prompt_note(facts, 3, 27, false, NULL);
    assert_non_null(strstr(note, "- Is called Taro\n- Is vegetarian"));
    assert_null(strstr(note, "nurse"));
    free(note);
    note = memory_prompt_note(facts, 3, 26, false, NULL);
    assert_non_null(strstr(note, "Taro"));
    assert_null(strstr(note, "vegetarian"));
    free(note);
    /* Nothing fits: no note at all. */
    assert_null(memory_prompt_note(facts, 3, 13, false, NULL));
    assert_null(memory_prompt_note(facts, 0, 1000, false, NULL));

    /* The cap counts UTF-16 units: these 4 characters are 4, an emoji 2. */
    const char *cjk[] = {"\xe9\x87\x8e\xe8\x8f\x9c\xe3\x81\x8c\xe5\xa5\xbd", "\xf0\x9f\x90\xb1"};
    note = memory_prompt_note(cjk, 2, 5, false, NULL);
    assert_non_null(note);
    assert_null(strstr(note, "\xf0\x9f\x90\xb1"));
    free(note);
    note = memory_prompt_note(cjk, 2, 6, false, NULL);
    assert_non_null(strstr(note, "\xf0\x9f\x90\xb1"));
    free(note);

    /* In a group: the speaker's name and the instruction to keep them private. */
    note = memory_prompt_note(facts, 1, 1000, true, "Hanako");
    assert_non_null(strstr(note, "Hanako"));
    assert_non_null(strstr(note, "never reveal"));
    free(note);
}

/* ---- the extraction ---- */

static void test_extract_input(void **state)
{
    (void)state;
    const char *known[] = {"Is vegetarian"};
    const char *said[] = {"hi there", "I moved to\nOsaka last year"};
    char *in = memory_extract_input(known, 1, said, 2);
    assert_string_equal(in, "Already known:\n- Is vegetarian\n\nMessages:\n1. hi there\n"
                            "2. I moved to Osaka last year\n");
    free(in);
    assert_non_null(strstr(memory_extract_prompt, "lasting facts about the user"));
}

static void test_parse_extraction(void **state)
{
    (void)state;
    struct memory_extracted out[MEMORY_FACTS_PER_EXTRACTION];
    int n = memory_parse_extraction("{\"facts\":[{\"fact\":\"Is vegetarian\",\"message\":2},"
                                    "{\"fact\":\" Lives in\\nOsaka \",\"message\":1}]}",
                                    2, out);
    assert_int_equal(n, 2);
    assert_string_equal(out[0].text, "Is vegetarian");
    assert_int_equal(out[0].message, 2);
    assert_string_equal(out[1].text, "Lives in Osaka");
    assert_int_equal(out[1].message, 1);
    memory_extracted_free(out, 2);

    /* In a code fence, with words around it. */
    n = memory_parse_extraction("Sure!\n```json\n{\"facts\":[{\"fact\":\"Is a nurse\",\"message\":1}]}\n```", 1, out);
    assert_int_equal(n, 1);
    assert_string_equal(out[0].text, "Is a nurse");
    memory_extracted_free(out, 1);

    /* Nothing to keep. */
    assert_int_equal(memory_parse_extraction("{\"facts\":[]}", 3, out), 0);

    /* At most three are taken. */
    n = memory_parse_extraction("{\"facts\":[{\"fact\":\"a\",\"message\":1},{\"fact\":\"b\",\"message\":1},"
                                "{\"fact\":\"c\",\"message\":1},{\"fact\":\"d\",\"message\":1}]}",
                                1, out);
    assert_int_equal(n, 3);
    assert_string_equal(out[2].text, "c");
    memory_extracted_free(out, 3);

    /* Garbage: -1, and nothing to free. */
    static const char *const garbage[] = {
        NULL,
        "",
        "I could not find any facts.",
        "{",
        "}{",
        "[{\"fact\":\"x\",\"message\":1}]",
        "{\"facts\":{}}",
        "{\"facts\":\"Is vegetarian\"}",
        "{\"fact\":[{\"fact\":\"x\",\"message\":1}]}",
        "{\"facts\":[{\"fact\":\"x\",\"message\":0}]}",
        "{\"facts\":[{\"fact\":\"x\",\"message\":3}]}",
        "{\"facts\":[{\"fact\":\"x\",\"message\":-1}]}",
        "{\"facts\":[{\"fact\":\"x\",\"message\":\"1\"}]}",
        "{\"facts\":[{\"fact\":\"x\",\"message\":1.5}]}",
        "{\"facts\":[{\"fact\":\"x\"}]}",
        "{\"facts\":[{\"fact\":\"   \",\"message\":1}]}",
        "{\"facts\":[{\"fact\":42,\"message\":1}]}",
        "{\"facts\":[\"x\"]}",
        /* A good fact, then a bad one: all or nothing. */
        "{\"facts\":[{\"fact\":\"good\",\"message\":1},{\"fact\":null,\"message\":1}]}",
        "{\"facts\":[{\"fact\":\"x\",\"message\":99999999999999999999}]}",
    };
    for (size_t i = 0; i < sizeof garbage / sizeof garbage[0]; i++) {
        n = memory_parse_extraction(garbage[i], 2, out);
        if (n != -1)
            fail_msg("garbage %zu taken (%d): %s", i, n, garbage[i] ? garbage[i] : "(null)");
    }
    /* No messages: no fact can name one. */
    assert_int_equal(memory_parse_extraction("{\"facts\":[{\"fact\":\"x\",\"message\":1}]}", 0, out), -1);
}

/* ---- the extraction model ---- */

static void test_pick_model(void **state)
{
    (void)state;
    struct model_catalogue c = {0};
    struct model_entry items[3] = {
        {.name = "big", .input_price = 5, .output_price = 15},
        {.name = "small", .input_price = 0.5, .output_price = 1.5},
        {.name = "free", .input_price = -1, .output_price = -1},
    };
    c.items = items;
    c.n = 3;
    c.default_index = 0;
    assert_string_equal(memory_pick_model(&c, NULL)->name, "small");
    assert_string_equal(memory_pick_model(&c, "free")->name, "free");
    assert_null(memory_pick_model(&c, "nope"));
    /* No prices: the default. */
    items[0].input_price = -1;
    items[1].output_price = -1;
    c.default_index = 2;
    assert_string_equal(memory_pick_model(&c, NULL)->name, "free");
}

/* ---- the settings ---- */

#define BASE "LINE_CHANNEL_SECRET=s3cret-value", "LINE_CHANNEL_ACCESS_TOKEN=tok-value", "LLM_API_KEY=k"

static void test_settings(void **state)
{
    (void)state;
    struct config cfg;
    char err[512];
    char *defaults[] = {BASE, "LLM_MODEL=m1", NULL};
    assert_int_equal(config_load(&cfg, defaults, err, sizeof err), 0);
    assert_int_equal(cfg.memory, MEMORY_AUTO);
    assert_int_equal(cfg.memory_every, 6);
    assert_string_equal(cfg.memory_model, "m1");
    config_free(&cfg);

    char *set[] = {BASE,
                   "LINEBOT_MODELS=[{\"name\":\"a\",\"model\":\"x\",\"input_price\":2,\"output_price\":2},"
                   "{\"name\":\"b\",\"model\":\"y\",\"input_price\":1,\"output_price\":1}]",
                   "LINEBOT_MEMORY=explicit", "LINEBOT_MEMORY_EVERY=3", NULL};
    assert_int_equal(config_load(&cfg, set, err, sizeof err), 0);
    assert_int_equal(cfg.memory, MEMORY_EXPLICIT);
    assert_int_equal(cfg.memory_every, 3);
    assert_string_equal(cfg.memory_model, "b"); /* the cheapest */
    config_free(&cfg);

    char *unknown[] = {BASE, "LINEBOT_MEMORY_MODEL=nope", NULL};
    assert_int_equal(config_load(&cfg, unknown, err, sizeof err), -1);
    assert_non_null(strstr(err, "LINEBOT_MEMORY_MODEL"));
    char *bad_mode[] = {BASE, "LINEBOT_MEMORY=sometimes", NULL};
    assert_int_equal(config_load(&cfg, bad_mode, err, sizeof err), -1);
    assert_non_null(strstr(err, "LINEBOT_MEMORY"));
    char *bad_every[] = {BASE, "LINEBOT_MEMORY_EVERY=0", NULL};
    assert_int_equal(config_load(&cfg, bad_every, err, sizeof err), -1);
    assert_non_null(strstr(err, "LINEBOT_MEMORY_EVERY"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_commands),
        cmocka_unit_test(test_decide),
        cmocka_unit_test(test_clean_fact),
        cmocka_unit_test(test_prompt_note_cap),
        cmocka_unit_test(test_extract_input),
        cmocka_unit_test(test_parse_extraction),
        cmocka_unit_test(test_pick_model),
        cmocka_unit_test(test_settings),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
