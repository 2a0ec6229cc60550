/* test_summary.c - long conversations (issue 11) in core: which turns a
 * fold takes, the fold's input, and what is kept of the model's summary. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "core/summary.h"

#define U(text) {TURN_USER, NULL, (char *)(text), NULL, 0}
#define A(text) {TURN_ASSISTANT, NULL, (char *)(text), NULL, 0}

static void test_fold_count(void **state)
{
    (void)state;
    struct turn t[] = {U("aa"), A("bb"), U("cc"), A("dd"), U("ee"), A("ff"), U("gg"), A("hh")};
    /* Within 2 exchanges (4 turns) and 100 units: nothing to fold. */
    assert_int_equal(summary_fold_count(t, 4, 2, 100), 0);
    /* 6 turns for 2 exchanges: fold down to half, 2 turns (one exchange) kept. */
    assert_int_equal(summary_fold_count(t, 6, 2, 100), 4);
    assert_int_equal(summary_fold_count(t, 8, 3, 100), 5 + 1); /* 3 kept would start with an answer */
    /* Over the characters (16 > 10): keep at most 5 units, i.e. two turns of 2. */
    assert_int_equal(summary_fold_count(t, 8, 10, 10), 6);
    /* Off: no history at all is sent. */
    assert_int_equal(summary_fold_count(t, 8, 0, 100), 0);
    assert_int_equal(summary_fold_count(t, 8, 2, 0), 0);
    assert_int_equal(summary_fold_count(NULL, 0, 2, 100), 0);
    /* A group speaker's name counts as the prompt counts it ("Name: "). */
    struct turn g[] = {{TURN_USER, (char *)"Hanako", (char *)"hi", NULL, 0}, A("yo")};
    assert_int_equal(summary_fold_count(g, 2, 5, 12), 0); /* 6 + 2 + 2 + 2 */
    assert_int_equal(summary_fold_count(g, 2, 5, 10), 2); /* 12 > 10; "yo" alone is an answer */
}

static void test_input(void **state)
{
    (void)state;
    struct turn t[] = {U("I like green tea"), A("Noted!"), {TURN_USER, (char *)"Hanako", (char *)"me too", NULL, 0}};
    char *in = summary_input("They talked about tea.", t, 3);
    assert_string_equal(in, "Summary so far:\nThey talked about tea.\n\nNew messages:\nUser: I like green tea\n"
                            "Assistant: Noted!\nHanako: me too\n");
    free(in);
    in = summary_input(NULL, t, 1);
    assert_string_equal(in, "New messages:\nUser: I like green tea\n");
    free(in);
    assert_non_null(strstr(summary_prompt, "running summary"));
}

static void test_clean(void **state)
{
    (void)state;
    char *s = summary_clean("  \n They like tea. \n\n");
    assert_string_equal(s, "They like tea.");
    free(s);
    assert_null(summary_clean(" \n "));
    assert_null(summary_clean(NULL));
    assert_null(summary_clean("bad \xff"));
    char big[SUMMARY_MAX + 10];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    s = summary_clean(big);
    assert_int_equal(strlen(s), SUMMARY_MAX);
    free(s);
    s = summary_prompt_note("They like tea.");
    assert_non_null(strstr(s, "\n\nSummary of the earlier conversation"));
    assert_non_null(strstr(s, "They like tea."));
    free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fold_count),
        cmocka_unit_test(test_input),
        cmocka_unit_test(test_clean),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
