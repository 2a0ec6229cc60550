/* test_texts.c - the fixed texts in every language, their overrides, and the
 * choice of a user's language from a profile or a script. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "config.h"
#include "core/texts.h"

/* "{}" marks in `s`. */
static int count_marks(const char *s)
{
    int n = 0;
    for (const char *at = strstr(s, "{}"); at; at = strstr(at + 2, "{}"))
        n++;
    return n;
}

/* Every text that has a built-in one has it in every language, each its own,
 * with as many "{}" marks as the English one: a translation that drops one
 * would show a value nowhere, one that adds one would show it twice. */
static void test_every_text_in_every_language(void **state)
{
    (void)state;
    int checked = 0;
    for (int id = TEXT_NONE + 1; id < TEXT_COUNT; id++) {
        if (id == TEXT_GREETING)
            continue; /* empty unless set: there is no built-in greeting */
        const char *en = texts_builtin((enum text_id)id, LANG_EN), *ja = texts_builtin((enum text_id)id, LANG_JA),
                   *zh = texts_builtin((enum text_id)id, LANG_ZH_TW);
        assert_true(en[0] && ja[0] && zh[0]);
        assert_string_not_equal(en, ja);
        assert_string_not_equal(en, zh);
        assert_string_not_equal(ja, zh);
        assert_int_equal(count_marks(ja), count_marks(en));
        assert_int_equal(count_marks(zh), count_marks(en));
        /* The written language is the one named ("出典" is Han alone). */
        if (id != TEXT_KB_SOURCES)
            assert_int_equal(texts_lang_of_script(ja), LANG_JA);
        assert_int_equal(texts_lang_of_script(zh), LANG_ZH_TW);
        checked++;
    }
    assert_true(checked > 40);
    assert_int_equal(count_marks(texts_builtin(TEXT_USAGE, LANG_EN)), 3);
    assert_string_equal(texts_builtin(TEXT_GREETING, LANG_JA), "");
    assert_string_equal(texts_builtin((enum text_id)99, (enum lang)99), "");
}

static void test_overrides_apply_in_every_language(void **state)
{
    (void)state;
    struct config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.lang = LANG_AUTO;
    assert_true(texts_need_lang(&cfg, TEXT_HELP));
    assert_string_equal(texts_get(&cfg, TEXT_HELP, LANG_JA), texts_builtin(TEXT_HELP, LANG_JA));
    cfg.help_text = (char *)"help!";
    cfg.media_text = (char *)"";
    for (int lang = LANG_EN; lang < LANG_COUNT; lang++) {
        assert_string_equal(texts_get(&cfg, TEXT_HELP, (enum lang)lang), "help!");
        assert_string_equal(texts_get(&cfg, TEXT_MEDIA, (enum lang)lang), "");
    }
    assert_false(texts_need_lang(&cfg, TEXT_HELP));
    assert_true(texts_need_lang(&cfg, TEXT_RESET));
    cfg.lang = LANG_JA;
    assert_false(texts_need_lang(&cfg, TEXT_RESET));
}

static void test_parse_lang(void **state)
{
    (void)state;
    enum lang l;
    assert_int_equal(texts_parse_lang("auto", &l), 0);
    assert_int_equal(l, LANG_AUTO);
    assert_int_equal(texts_parse_lang("JA", &l), 0);
    assert_int_equal(l, LANG_JA);
    assert_int_equal(texts_parse_lang("zh-tw", &l), 0);
    assert_int_equal(l, LANG_ZH_TW);
    assert_int_equal(texts_parse_lang("en", &l), 0);
    assert_int_equal(l, LANG_EN);
    assert_int_equal(texts_parse_lang("fr", &l), -1);
    assert_int_equal(texts_parse_lang("", &l), -1);
    assert_string_equal(texts_lang_name(LANG_ZH_TW), "zh-TW");
}

static void test_lang_of_profile(void **state)
{
    (void)state;
    assert_int_equal(texts_lang_of_profile("ja"), LANG_JA);
    assert_int_equal(texts_lang_of_profile("ja-JP"), LANG_JA);
    assert_int_equal(texts_lang_of_profile("zh-TW"), LANG_ZH_TW);
    assert_int_equal(texts_lang_of_profile("zh-Hant"), LANG_ZH_TW);
    assert_int_equal(texts_lang_of_profile("zh"), LANG_ZH_TW);
    assert_int_equal(texts_lang_of_profile("en"), LANG_EN);
    assert_int_equal(texts_lang_of_profile("th"), LANG_EN);
    assert_int_equal(texts_lang_of_profile("jam"), LANG_EN); /* not "ja" */
    assert_int_equal(texts_lang_of_profile(""), LANG_AUTO);
    assert_int_equal(texts_lang_of_profile(NULL), LANG_AUTO);
}

static void test_lang_of_script(void **state)
{
    (void)state;
    assert_int_equal(texts_lang_of_script("hello"), LANG_EN);
    assert_int_equal(texts_lang_of_script(NULL), LANG_EN);
    assert_int_equal(texts_lang_of_script(""), LANG_EN);
    assert_int_equal(texts_lang_of_script("\xe4\xbb\x8a\xe6\x97\xa5\xe3\x81\xaf"), LANG_JA);          /* 今日は */
    assert_int_equal(texts_lang_of_script("\xe3\x82\xab\xe3\x83\xac\xe3\x83\xbc"), LANG_JA);          /* カレー */
    assert_int_equal(texts_lang_of_script("\xef\xbd\xb6\xef\xbe\x9a\xef\xbd\xb0"), LANG_JA);          /* ｶﾚｰ */
    assert_int_equal(texts_lang_of_script("\xe4\xbb\x8a\xe5\xa4\xa9\xe5\xa5\xbd\xe5\x97\x8e"), LANG_ZH_TW); /* 今天好嗎 */
    assert_int_equal(texts_lang_of_script("ok \xe5\xa5\xbd"), LANG_ZH_TW);
    assert_int_equal(texts_lang_of_script("\xf0\xa0\x80\x80"), LANG_ZH_TW); /* U+20000, Extension B */
    assert_int_equal(texts_lang_of_script("\xea\xb0\x80"), LANG_EN);        /* 가: Hangul is neither */
    assert_int_equal(texts_lang_of_script("\xe3\x83\xbb"), LANG_EN);        /* ・ alone says nothing */
    assert_int_equal(texts_lang_of_script("\xff\xe3\x81"), LANG_EN);        /* broken bytes */
    assert_int_equal(texts_lang_of_script("\xff\xe3\x81\x82"), LANG_JA);    /* あ after a broken byte */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_text_in_every_language),
        cmocka_unit_test(test_overrides_apply_in_every_language),
        cmocka_unit_test(test_parse_lang),
        cmocka_unit_test(test_lang_of_profile),
        cmocka_unit_test(test_lang_of_script),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
