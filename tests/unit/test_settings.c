/* test_settings.c - the settings table, credential trimming, the "did you
 * mean" warnings (core/settings.c) and the .env syntax (core/dotenv.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "core/dotenv.h"
#include "core/settings.h"

/* ---- the table ------------------------------------------------------------ */

/* Every row is whole: a unique name, help, a group, a default that its own
 * parser accepts, bounds around an int's default, choices for a choice. */
static void test_table_rows_are_whole(void **state)
{
    (void)state;
    size_t n;
    const struct setting *t = settings_table(&n);
    assert_true(n > 50);
    for (size_t i = 0; i < n; i++) {
        assert_non_null(t[i].help);
        assert_non_null(t[i].group);
        assert_ptr_equal(settings_find(t[i].name), &t[i]); /* unique */
        for (const char *c = t[i].name; *c; c++)
            assert_true((*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || *c == '_');
        switch (t[i].type) {
        case SETTING_INT: {
            assert_non_null(t[i].def);
            char *end;
            long long d = strtoll(t[i].def, &end, 10);
            assert_true(*end == '\0' && t[i].min <= d && d <= t[i].max);
            break;
        }
        case SETTING_BOOL: {
            bool b;
            assert_int_equal(config_parse_bool(t[i].def, &b), 0);
            break;
        }
        case SETTING_CHOICE:
            assert_non_null(t[i].choices);
            if (t[i].def)
                assert_non_null(strstr(t[i].choices, t[i].def));
            break;
        default:
            assert_null(t[i].choices);
        }
    }
    assert_null(settings_find("LINE_CHANEL_SECRET"));
    assert_true(settings_find("LINEBOT_FAILPOINT")->flags & SETTING_HIDDEN);
    assert_true(settings_find("LLM_API_KEY")->flags & SETTING_SECRET);
    assert_false(settings_find("LLM_MODEL")->flags & SETTING_SECRET);
}

/* ---- trimming ------------------------------------------------------------- */

static void expect_trim(const char *in, const char *out, bool changed)
{
    bool c = !changed;
    char *t = settings_trim_credential(in, &c);
    assert_string_equal(t, out);
    assert_int_equal(c, changed);
    free(t);
}

static void test_trim_credential(void **state)
{
    (void)state;
    expect_trim("abc", "abc", false);
    expect_trim("abc\r", "abc", true);
    expect_trim("abc\r\n", "abc", true);
    expect_trim(" \tabc ", "abc", true);
    expect_trim("\"abc\"", "abc", true);
    expect_trim("'abc'", "abc", true);
    expect_trim(" \" abc \" \r", "abc", true);
    expect_trim("\"\"abc\"\"", "\"abc\"", true); /* one pair only */
    expect_trim("\"abc'", "\"abc'", false);       /* not a pair */
    expect_trim("a b", "a b", false);             /* inside: kept */
    expect_trim("\"", "\"", false);
    expect_trim("", "", false);
    expect_trim(" \"\" ", "", true);
}

/* ---- did you mean --------------------------------------------------------- */

static void test_suggest(void **state)
{
    (void)state;
    assert_string_equal(settings_suggest("LINE_CHANEL_SECRET"), "LINE_CHANNEL_SECRET"); /* a letter missing */
    assert_string_equal(settings_suggest("LLM_MODLE"), "LLM_MODEL");                     /* two swapped */
    assert_string_equal(settings_suggest("LINEBOT_WORKER"), "LINEBOT_WORKERS");
    assert_string_equal(settings_suggest("LINE_CHANNEL_ACCES_TOKEN"), "LINE_CHANNEL_ACCESS_TOKEN");
    assert_string_equal(settings_suggest("LLM_APIKEY"), "LLM_API_KEY");
    assert_null(settings_suggest("LINEBOT_SOMETHING_ELSE"));
    assert_null(settings_suggest("LINEBOT_TEST_CLOCK_OFFSET")); /* hidden rows are never suggested */
    char longname[300];
    memset(longname, 'L', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    assert_null(settings_suggest(longname));
}

struct warnings {
    char text[4096];
    int n;
};

static void collect(void *arg, const char *message)
{
    struct warnings *w = arg;
    size_t used = strlen(w->text);
    snprintf(w->text + used, sizeof w->text - used, "%s\n", message);
    w->n++;
}

static void test_check_env(void **state)
{
    (void)state;
    struct warnings w = {.n = 0};
    char *env[] = {"LINE_CHANNEL_SECRET=0123456789abcdef0123456789abcdef\r",
                   "LINE_CHANNEL_ACCESS_TOKEN=\"tok-VALUE-1\"",
                   "LLM_API_KEY=sk-VALUE-2",
                   "LINE_CHANEL_SECRET=VALUE-3",
                   "LLM_MODLE=VALUE-4",
                   "LLM_MODLE=VALUE-5", /* twice: one warning */
                   "LINEBOT_WHATEVER=VALUE-6",
                   "LINEBOT_TEST_PG_URL=VALUE-7", /* the tests' own */
                   "LINEBOT_FAILPOINT=VALUE-8",   /* known, hidden */
                   "HOME=/root",                  /* not ours */
                   "LINE_X\x1b[2J=VALUE-9",       /* a name is printed safely */
                   NULL};
    settings_check_env(env, collect, &w);
    assert_int_equal(w.n, 6);
    assert_non_null(strstr(w.text, "LINE_CHANNEL_SECRET has spaces, line breaks or quotes around it"));
    assert_non_null(strstr(w.text, "LINE_CHANNEL_ACCESS_TOKEN has spaces, line breaks or quotes around it"));
    assert_null(strstr(w.text, "LLM_API_KEY"));
    assert_non_null(strstr(w.text, "LINE_CHANEL_SECRET is not a setting of linebot and is ignored: did you mean "
                                   "LINE_CHANNEL_SECRET?"));
    assert_non_null(strstr(w.text, "LLM_MODLE is not a setting of linebot and is ignored: did you mean LLM_MODEL?"));
    assert_non_null(strstr(w.text, "LINEBOT_WHATEVER is not a setting of linebot and is ignored (`linebot serve "
                                   "--help` lists them)"));
    assert_non_null(strstr(w.text, "LINE_X??2J is not a setting"));
    assert_null(strstr(w.text, "VALUE"));
    assert_null(strstr(w.text, "0123456789abcdef"));
    assert_null(strstr(w.text, "\x1b"));
}

/* ---- .env ----------------------------------------------------------------- */

static struct dotenv parse_ok(const char *text)
{
    struct dotenv d;
    size_t line = 0;
    char err[160];
    int rc = dotenv_parse(text, strlen(text), &d, &line, err, sizeof err);
    if (rc != 0)
        fail_msg("line %zu: %s", line, err);
    return d;
}

static void expect_entry(const struct dotenv *d, size_t i, const char *name, const char *value)
{
    assert_true(i < d->n);
    assert_string_equal(d->entries[i].name, name);
    assert_string_equal(d->entries[i].value, value);
}

static void test_dotenv_syntax(void **state)
{
    (void)state;
    struct dotenv d = parse_ok("\xEF\xBB\xBF# a comment\r\n"
                               "\r\n"
                               "A=plain\r\n"
                               "export B=exported\n"
                               "  C = spaced out  \n"
                               "D=value # comment\n"
                               "E=a#b\n"
                               "F='single \\n $X # kept'\n"
                               "G=\"double \\\"q\\\" \\\\ \\n\\t \\$ \\x\" # comment\n"
                               "H=\n"
                               "I=\"two\r\nlines\"\n"
                               "A=again\n"
                               "J=last-without-newline");
    assert_int_equal(d.n, 11);
    expect_entry(&d, 0, "A", "plain");
    expect_entry(&d, 1, "B", "exported");
    expect_entry(&d, 2, "C", "spaced out");
    expect_entry(&d, 3, "D", "value");
    expect_entry(&d, 4, "E", "a#b");
    expect_entry(&d, 5, "F", "single \\n $X # kept");
    expect_entry(&d, 6, "G", "double \"q\" \\ \n\t $ \\x");
    expect_entry(&d, 7, "H", "");
    expect_entry(&d, 8, "I", "two\nlines");
    expect_entry(&d, 9, "A", "again");
    expect_entry(&d, 10, "J", "last-without-newline");
    dotenv_free(&d);

    d = parse_ok("");
    assert_int_equal(d.n, 0);
    dotenv_free(&d);
}

static void expect_error(const char *text, size_t len, size_t want_line, const char *want)
{
    struct dotenv d;
    size_t line = 0;
    char err[160];
    assert_int_equal(dotenv_parse(text, len, &d, &line, err, sizeof err), -1);
    assert_int_equal(line, want_line);
    if (!strstr(err, want))
        fail_msg("\"%s\" does not say \"%s\"", err, want);
    assert_null(strstr(err, "SECRET-VALUE"));
    assert_int_equal(d.n, 0);
}

static void test_dotenv_errors(void **state)
{
    (void)state;
    const char *t;
    t = "A=1\nSECRET-VALUE\n";
    expect_error(t, strlen(t), 2, "expected NAME=value");
    t = "A=1\n\nB SECRET-VALUE\n";
    expect_error(t, strlen(t), 3, "no `=`");
    t = "1A=SECRET-VALUE\n";
    expect_error(t, strlen(t), 1, "expected NAME=value");
    t = "A=1\nB=\"SECRET-VALUE\nC=2\n";
    expect_error(t, strlen(t), 2, "never closed");
    t = "A='SECRET-VALUE' SECRET-VALUE\n";
    expect_error(t, strlen(t), 1, "after the closing quote");
    expect_error("A=1\nB=SECRET\0VALUE\n", 18, 2, "NUL");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table_rows_are_whole),
        cmocka_unit_test(test_trim_credential),
        cmocka_unit_test(test_suggest),
        cmocka_unit_test(test_check_env),
        cmocka_unit_test(test_dotenv_syntax),
        cmocka_unit_test(test_dotenv_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
