/* test_lang.c - the users' languages, with the real binary.
 *
 * The fixed texts (help, reset, the media notice, the apology, slow down,
 * truncated) come in the language of the user's LINE profile, else in the
 * script of the message (always so in groups); the profile is asked only when
 * a fixed text is about to be sent, once a day at most. Every override applies
 * in every language. Full-width commands work, and the trigger goes with the
 * punctuation after it.
 *
 * The oracle is the translations as written down here, one distinctive piece
 * of each, not the table in src/core/texts.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "harness.h"

#define USER_JA "Ue2e0000000000000000000000000ja01"
#define USER_ZH "Ue2e0000000000000000000000000zh01"
#define USER_EN "Ue2e0000000000000000000000000en01"
#define USER_NONE "Ue2e00000000000000000000000none01" /* no language in the profile */
#define GROUP "Ce2e00000000000000000000000group01"
#define BOT_ID E2E_DESTINATION

enum { EN, JA, ZH };

/* One distinctive piece of each built-in text, per language. */
struct expected {
    const char *name;
    const char *in[3];
};
static const struct expected HELP = {"help", {"Commands:", "コマンド", "指令"}};
static const struct expected RESET = {"reset", {"forgotten our conversation", "会話を忘れました", "忘記我們的對話"}};
static const struct expected MEDIA = {"media", {"I can only read text", "テキストしか読めません", "只看得懂文字"}};
static const struct expected APOLOGY = {"apology", {"couldn't come up with an answer", "お答えできませんでした", "沒辦法回答"}};
static const struct expected SLOW = {"slow down", {"faster than I can answer", "お待ちください", "請稍等一分鐘"}};
static const struct expected TRUNCATED = {"truncated", {"(truncated)", "ここで省略します", "以下省略"}};

/* The text of the newest message delivered to `chat` (malloc'd). */
static char *last_text(struct world *w, const char *chat)
{
    char *text = NULL;
    for (size_t i = 0, n = fake_line_message_count(w->line); i < n; i++) {
        struct fake_line_message m;
        if (fake_line_message_at(w->line, i, &m) && m.chat_id && strcmp(m.chat_id, chat) == 0) {
            free(text);
            text = strdup(m.text);
        }
    }
    assert_non_null(text);
    return text;
}

/* The newest message to `chat` is `e` in `lang`, and in no other language. */
static void assert_in_lang(struct world *w, const char *chat, const struct expected *e, int lang)
{
    char *text = last_text(w, chat);
    if (!strstr(text, e->in[lang]))
        fail_msg("%s for %s: expected \"%s\" in:\n%s", e->name, chat, e->in[lang], text);
    for (int other = EN; other <= ZH; other++)
        if (other != lang && strstr(text, e->in[other]))
            fail_msg("%s for %s: did not expect \"%s\" in:\n%s", e->name, chat, e->in[other], text);
    free(text);
}

static size_t profile_calls(struct world *w, const char *user)
{
    char path[128];
    snprintf(path, sizeof path, "/v2/bot/profile/%s", user ? user : "");
    return fake_line_request_count(w->line, "GET", path);
}

static void profiles(struct world *w)
{
    fake_line_set_profile(w->line, USER_JA, "Aiko", "ja");
    fake_line_set_profile(w->line, USER_ZH, "Mei", "zh-TW");
    fake_line_set_profile(w->line, USER_EN, "Emma", "en-US");
    fake_line_set_profile(w->line, USER_NONE, "Nobody", NULL);
    fake_line_set_name(w->line, GROUP, USER_JA, "Aiko");
    fake_line_set_name(w->line, GROUP, USER_ZH, "Mei");
}

static void send_image(struct world *w, const char *user)
{
    send_event(w, ev_message(w, &(struct ev){.user = user, .message_type = "image"}));
}

/* A group text that mentions the bot ("@Bot" at the start). */
static void group_mention(struct world *w, const char *user, const char *text)
{
    struct ev o = {.user = user, .group = GROUP, .text = text, .n_mentions = 1};
    o.mentions[0] = mention_of(text, "@Bot", true);
    o.mentions[0].user_id = BOT_ID;
    send_event(w, ev_message(w, &o));
}

/* help, reset and the media notice follow the profile's language. */
static void test_language_from_profile(void **state)
{
    struct world *w = world_start(state, NULL);
    profiles(w);
    const char *users[] = {USER_EN, USER_JA, USER_ZH};
    for (int lang = EN; lang <= ZH; lang++) {
        const char *u = users[lang];
        send_text(w, u, "/help");
        assert_answers(w, u, 1);
        assert_in_lang(w, u, &HELP, lang);
        send_text(w, u, "/reset");
        assert_answers(w, u, 2);
        assert_in_lang(w, u, &RESET, lang);
        send_image(w, u);
        assert_answers(w, u, 3);
        assert_in_lang(w, u, &MEDIA, lang);
        /* One profile call for three fixed texts: the language is cached. */
        assert_int_equal(profile_calls(w, u), 1);
    }
    /* A user LINE has no profile of (404): asked once, not for every fixed
     * text; the texts follow the script ("/help" is English). */
    const char *nobody = "Ue2e000000000000000000000unknown2";
    send_text(w, nobody, "/help");
    assert_answers(w, nobody, 1);
    assert_in_lang(w, nobody, &HELP, EN);
    send_text(w, nobody, "／ｒｅｓｅｔ");
    assert_answers(w, nobody, 2);
    send_image(w, nobody);
    assert_answers(w, nobody, 3);
    assert_int_equal(profile_calls(w, nobody), 1);
    /* The model was never asked. */
    assert_int_equal(fake_llm_request_count(w->llm), 0);
    world_finish(w);
}

/* The apology and the truncated mark too; an ordinary answer asks no profile. */
static void test_profile_asked_only_for_fixed_texts(void **state)
{
    struct world *w = world_start(state, NULL);
    profiles(w);
    send_text(w, USER_JA, "hello");
    send_text(w, USER_ZH, "hello");
    assert_answers(w, USER_JA, 1);
    assert_answers(w, USER_ZH, 1);
    assert_int_equal(profile_calls(w, NULL), 0);

    fake_llm_set_always(w->llm, 400, "{\"error\":{\"message\":\"e2e: refused\"}}");
    send_text(w, USER_JA, "hello again");
    assert_answers(w, USER_JA, 2);
    assert_in_lang(w, USER_JA, &APOLOGY, JA);
    assert_int_equal(profile_calls(w, USER_JA), 1);
    assert_int_equal(profile_calls(w, USER_ZH), 0);

    /* An answer longer than five LINE messages ends with the mark, in Chinese. */
    fake_llm_set_always(w->llm, 0, NULL);
    char *long_answer = malloc(30001);
    assert_non_null(long_answer);
    for (size_t i = 0; i < 30000; i++)
        long_answer[i] = i % 50 == 49 ? ' ' : 'x';
    long_answer[30000] = '\0';
    fake_llm_set_fixed_answer(w->llm, long_answer);
    free(long_answer);
    send_text(w, USER_ZH, "tell me everything");
    assert_answers(w, USER_ZH, 2);
    assert_in_lang(w, USER_ZH, &TRUNCATED, ZH);
    assert_int_equal(profile_calls(w, USER_ZH), 1);

    /* Short answers again: no more profile calls. */
    fake_llm_set_fixed_answer(w->llm, NULL);
    send_text(w, USER_ZH, "thanks");
    send_text(w, USER_JA, "thanks");
    assert_answers(w, USER_ZH, 3);
    assert_answers(w, USER_JA, 3);
    assert_int_equal(profile_calls(w, NULL), 2);
    world_finish(w);
}

/* A profile without a language (no consent): the message's script decides. */
static void test_language_from_script(void **state)
{
    struct world *w = world_start(state, (const char *[]){"LINEBOT_RATE_LIMIT=1", NULL});
    profiles(w);
    struct {
        const char *first, *second;
        int lang;
    } cases[] = {
        {"こんにちは", "ありがとう", JA},
        {"你好", "謝謝你", ZH},
        {"hello", "thanks", EN},
    };
    for (size_t i = 0; i < 3; i++) {
        char user[64];
        snprintf(user, sizeof user, "Ue2e00000000000000000000000script%zu", i);
        fake_line_set_profile(w->line, user, "Nobody", NULL);
        send_text(w, user, cases[i].first);
        assert_answers(w, user, 1);
        send_text(w, user, cases[i].second); /* over the limit: slow down */
        assert_answers(w, user, 2);
        assert_in_lang(w, user, &SLOW, cases[i].lang);
        assert_int_equal(profile_calls(w, user), 1);
    }
    /* A profile LINE cannot give (404): the script too. */
    send_text(w, "Ue2e000000000000000000000unknown1", "すみません");
    send_text(w, "Ue2e000000000000000000000unknown1", "もう一度");
    assert_answers(w, "Ue2e000000000000000000000unknown1", 2);
    assert_in_lang(w, "Ue2e000000000000000000000unknown1", &SLOW, JA);

    world_finish(w);
}

/* In a group the script of the message decides, whatever the profile says,
 * and no profile is asked. */
static void test_group_language_by_script(void **state)
{
    struct world *w = world_start(state, NULL);
    profiles(w);
    fake_llm_set_always(w->llm, 400, "{\"error\":{\"message\":\"e2e: refused\"}}");
    group_mention(w, USER_JA, "@Bot 今天天氣如何？");
    assert_answers(w, GROUP, 1);
    assert_in_lang(w, GROUP, &APOLOGY, ZH);
    group_mention(w, USER_ZH, "@Bot 今日の天気は？");
    assert_answers(w, GROUP, 2);
    assert_in_lang(w, GROUP, &APOLOGY, JA);
    group_mention(w, USER_JA, "@Bot how is the weather?");
    assert_answers(w, GROUP, 3);
    assert_in_lang(w, GROUP, &APOLOGY, EN);
    assert_int_equal(profile_calls(w, NULL), 0);
    world_finish(w);
}

/* LINEBOT_LANG fixes the language: no profile is asked. */
static void test_fixed_language(void **state)
{
    struct world *w = world_start(state, (const char *[]){"LINEBOT_LANG=zh-TW", NULL});
    profiles(w);
    send_text(w, USER_JA, "/help");
    assert_answers(w, USER_JA, 1);
    assert_in_lang(w, USER_JA, &HELP, ZH);
    assert_int_equal(profile_calls(w, NULL), 0);
    world_finish(w);
}

/* A language the bot has no texts in stops the start, naming the setting. */
static void test_unknown_language_stops_the_start(void **state)
{
    struct world *w = world_new(state, NULL);
    bot_spawn(w, (const char *[]){"LINEBOT_LANG=fr", NULL});
    int status = bot_wait_exit(w, e2e_ms(10000));
    if (status == -1)
        fail_msg("the bot kept running with LINEBOT_LANG=fr");
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 2);
    char *log = bot_log(w);
    assert_contains(log, "LINEBOT_LANG must be auto, en, ja or zh-TW");
    free(log);
    world_finish(w);
}

/* ／reset and ／ｈｅｌｐ, as a Japanese keyboard types them. */
static void test_full_width_commands(void **state)
{
    struct world *w = world_start(state, NULL);
    profiles(w);
    send_text(w, USER_JA, "覚えておいて: 42");
    assert_answers(w, USER_JA, 1);
    send_text(w, USER_JA, "／reset");
    assert_answers(w, USER_JA, 2);
    assert_in_lang(w, USER_JA, &RESET, JA);
    send_text(w, USER_JA, "／ｈｅｌｐ");
    assert_answers(w, USER_JA, 3);
    assert_in_lang(w, USER_JA, &HELP, JA);
    assert_int_equal(fake_llm_request_count(w->llm), 1);
    /* The history is gone: the next question comes alone. */
    send_text(w, USER_JA, "何を覚えていますか？");
    assert_answers(w, USER_JA, 4);
    char *tr = fake_llm_request_transcript(w->llm, 1);
    assert_not_contains(tr, "42");
    assert_not_contains(tr, "reset");
    free(tr);
    world_finish(w);
}

/* The commands issues 11 to 13 added, typed on a Japanese keyboard in
 * full-width mode (word and space): each reaches its own command, answered
 * in Japanese, and none reaches the model. */
static void test_every_command_full_width(void **state)
{
    struct world *w = world_start(state, (const char *[]){"LINEBOT_MEMORY=explicit", "LINEBOT_RATE_LIMIT=100", NULL});
    profiles(w);
    static const struct {
        const char *typed, *expected;
    } cases[] = {
        {"／ｍｏｄｅｌ", "現在のモデル"},
        {"／ｍｏｄｅｌ　ｎｏ－ｓｕｃｈ", "というモデルはありません"},
        {"／ｐｅｒｓｏｎａ", "ペルソナは設定されていません"},
        {"／ｐｅｒｓｏｎａ　ｓｅｔ　海賊のように話してください", "ペルソナを設定しました"},
        {"／ｕｓａｇｅ", "本日の使用量は 0 トークンです"},
        {"／ｆｉｌｅｓ", "このチャットには文書がありません"},
        {"／ｒｅｍｅｍｂｅｒ　猫が好きです", "覚えました"},
        {"／ｍｅｍｏｒｙ", "猫が好きです"},
        {"／ｆｏｒｇｅｔ　１", "忘れました: 猫が好きです"},
        {"／ｍｅｍｏｒｙ　ｏｆｆ", "覚えたり使ったりしません"},
        {"／ｆｉｌｅｓ　ｃｌｅａｒ", "文書を 0 件削除しました"},
        {"／ｐｅｒｓｏｎａ　ｒｅｓｅｔ", "ペルソナを標準に戻しました"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        send_text(w, USER_JA, cases[i].typed);
        assert_answers(w, USER_JA, i + 1);
        char *text = last_text(w, USER_JA);
        if (!strstr(text, cases[i].expected))
            fail_msg("%s: expected \"%s\" in:\n%s", cases[i].typed, cases[i].expected, text);
        free(text);
    }
    assert_int_equal(fake_llm_request_count(w->llm), 0);
    world_finish(w);
}

/* LINEBOT_TRIGGER=ボット: "ボット、今日の予定は？" reaches the model as
 * "今日の予定は？". */
static void test_trigger_with_punctuation(void **state)
{
    struct world *w = world_start(state, (const char *[]){"LINEBOT_TRIGGER=ボット", NULL});
    profiles(w);
    const char *texts[] = {"ボット、今日の予定は？", "ボット，今日の予定は？", "ボット：今日の予定は？",
                           "ボット, 今日の予定は？", "ボット: 今日の予定は？"};
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        send_event(w, ev_message(w, &(struct ev){.user = USER_JA, .group = GROUP, .text = texts[i]}));
        assert_answers(w, GROUP, i + 1);
        char *last = fake_llm_request_last_user(w->llm, i);
        assert_string_equal(last, "Aiko: 今日の予定は？");
        free(last);
    }
    world_finish(w);
}

/* Every override applies in every language, and asks no profile. */
static void test_every_override_in_every_language(void **state)
{
    struct world *w = world_start(state, (const char *[]){
        "LINEBOT_HELP_TEXT=E2E help", "LINEBOT_RESET_TEXT=E2E reset", "LINEBOT_MEDIA_TEXT=E2E media",
        "LINEBOT_ERROR_TEXT=E2E apology", "LINEBOT_SLOW_DOWN_TEXT=E2E slow", "LINEBOT_TRUNCATED_TEXT=E2E cut",
        "LINEBOT_RATE_LIMIT=4", NULL});
    profiles(w);
    char *long_answer = malloc(30001);
    assert_non_null(long_answer);
    for (size_t i = 0; i < 30000; i++)
        long_answer[i] = i % 50 == 49 ? ' ' : 'x';
    long_answer[30000] = '\0';
    const char *users[] = {USER_EN, USER_JA, USER_ZH, USER_NONE};
    for (size_t i = 0; i < 4; i++) {
        const char *u = users[i];
        send_text(w, u, "/help");
        assert_answers(w, u, 1);
        char *t = last_text(w, u);
        assert_string_equal(t, "E2E help");
        free(t);
        send_text(w, u, "/reset");
        assert_answers(w, u, 2);
        t = last_text(w, u);
        assert_string_equal(t, "E2E reset");
        free(t);
        send_image(w, u);
        assert_answers(w, u, 3);
        t = last_text(w, u);
        assert_string_equal(t, "E2E media");
        free(t);
        fake_llm_set_always(w->llm, 400, "{\"error\":{\"message\":\"e2e: refused\"}}");
        send_text(w, u, "こんにちは");
        assert_answers(w, u, 4);
        t = last_text(w, u);
        assert_string_equal(t, "E2E apology");
        free(t);
        fake_llm_set_always(w->llm, 0, NULL);
        send_text(w, u, "你好"); /* the fifth message in a minute: over the limit */
        assert_answers(w, u, 5);
        t = last_text(w, u);
        assert_string_equal(t, "E2E slow");
        free(t);
    }
    /* The truncated mark, after a newline, for a user of each language (the
     * rate limit is per user: new ones). */
    fake_llm_set_fixed_answer(w->llm, long_answer);
    const char *langs[] = {"en", "ja", "zh-TW"};
    for (size_t i = 0; i < 3; i++) {
        char user[64];
        snprintf(user, sizeof user, "Ue2e000000000000000000000000long%zu", i);
        fake_line_set_profile(w->line, user, "Long", langs[i]);
        send_text(w, user, "tell me everything");
        assert_answers(w, user, 1);
        char *t = last_text(w, user);
        size_t len = strlen(t);
        assert_true(len > strlen("\nE2E cut"));
        assert_string_equal(t + len - strlen("\nE2E cut"), "\nE2E cut");
        free(t);
    }
    free(long_answer);
    assert_int_equal(profile_calls(w, NULL), 0);
    world_finish(w);
}

static void kb_add_fixtures(struct world *w)
{
    const char *argv[] = {"kb", "add", FIXTURES_DIR "/kb/ja-guide.md", FIXTURES_DIR "/kb/zh-info.html",
                          FIXTURES_DIR "/kb/en-faq.txt", NULL};
    char *out = NULL, *err = NULL;
    if (bot_run(w, argv, NULL, &out, &err) != 0)
        fail_msg("kb add: %s", err);
    free(out);
    free(err);
}

/* The knowledge base's texts: the line over the sources ends an ordinary
 * answer, so it is in the language of the question and costs no profile
 * call; the strict "I don't know" is a fixed text in the user's language.
 * LINEBOT_KB_SOURCES_LABEL and LINEBOT_KB_UNKNOWN_TEXT apply in every
 * language. */
static void test_knowledge_base_texts(void **state)
{
    struct world *w = world_new(state, NULL);
    kb_add_fixtures(w);
    bot_start(w, NULL);
    profiles(w);
    static const struct expected SOURCES = {"sources", {"\n\nSources\n[1] ", "\n\n出典\n[1] ", "\n\n資料來源\n[1] "}};
    static const struct expected UNKNOWN = {
        "unknown", {"I don't know that from the documents", "手元の資料には", "我手邊的資料裡找不到"}};
    const char *users[] = {USER_EN, USER_JA, USER_ZH};
    const char *questions[] = {"is there parking?", "料金はいくらですか", "成人票多少錢？"};
    const char *unanswerable[] = {"zebra xylophone quokka", "明日の天気", "明天天氣"};
    for (int lang = EN; lang <= ZH; lang++) {
        fake_llm_set_fixed_answer(w->llm, "An answer [1].");
        send_text(w, users[lang], questions[lang]);
        assert_answers(w, users[lang], 1);
        assert_in_lang(w, users[lang], &SOURCES, lang);
    }
    assert_int_equal(profile_calls(w, NULL), 0);

    bot_restart(w, (const char *[]){"LINEBOT_KB_STRICT=1", NULL});
    for (int lang = EN; lang <= ZH; lang++) {
        send_text(w, users[lang], unanswerable[lang]);
        assert_answers(w, users[lang], 2);
        assert_in_lang(w, users[lang], &UNKNOWN, lang);
    }

    bot_restart(w, (const char *[]){"LINEBOT_KB_STRICT=1", "LINEBOT_KB_SOURCES_LABEL=E2E sources",
                                    "LINEBOT_KB_UNKNOWN_TEXT=E2E unknown", NULL});
    for (int lang = EN; lang <= ZH; lang++) {
        send_text(w, users[lang], questions[lang]);
        assert_answers(w, users[lang], 3);
        char *t = last_text(w, users[lang]);
        assert_contains(t, "\n\nE2E sources\n[1] ");
        free(t);
        send_text(w, users[lang], unanswerable[lang]);
        assert_answers(w, users[lang], 4);
        t = last_text(w, users[lang]);
        assert_string_equal(t, "E2E unknown");
        free(t);
    }
    world_finish(w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        E2E_TEST(test_language_from_profile),
        E2E_TEST(test_profile_asked_only_for_fixed_texts),
        E2E_TEST(test_language_from_script),
        E2E_TEST(test_group_language_by_script),
        E2E_TEST(test_fixed_language),
        E2E_TEST(test_unknown_language_stops_the_start),
        E2E_TEST(test_full_width_commands),
        E2E_TEST(test_every_command_full_width),
        E2E_TEST(test_trigger_with_punctuation),
        E2E_TEST(test_every_override_in_every_language),
        E2E_TEST(test_knowledge_base_texts),
    };
    return E2E_RUN(tests);
}
