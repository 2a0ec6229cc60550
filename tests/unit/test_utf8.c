/* test_utf8.c - UTF-8 validation and repair against byte sequences whose
 * verdict is written out here (from the Unicode standard, Table 3-7), not
 * computed: overlong forms, surrogates, values above U+10FFFF, truncated and
 * stray continuation bytes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "core/utf8.h"

#define S(lit) lit, sizeof(lit) - 1

static void test_valid(void **state)
{
    (void)state;
    assert_true(utf8_valid(S("")));
    assert_true(utf8_valid(S("plain ascii")));
    assert_true(utf8_valid(S("\xC2\x80")));             /* U+0080, smallest 2-byte */
    assert_true(utf8_valid(S("\xDF\xBF")));             /* U+07FF */
    assert_true(utf8_valid(S("\xE0\xA0\x80")));         /* U+0800, smallest 3-byte */
    assert_true(utf8_valid(S("\xED\x9F\xBF")));         /* U+D7FF, just below the surrogates */
    assert_true(utf8_valid(S("\xEE\x80\x80")));         /* U+E000, just above */
    assert_true(utf8_valid(S("\xEF\xBF\xBD")));         /* U+FFFD itself */
    assert_true(utf8_valid(S("\xF0\x90\x80\x80")));     /* U+10000, smallest 4-byte */
    assert_true(utf8_valid(S("\xF4\x8F\xBF\xBF")));     /* U+10FFFF, the last */
    assert_true(utf8_valid(S("\xE3\x81\x93\xE3\x82\x93\xF0\x9F\x98\x80"))); /* こん😀 */
    assert_true(utf8_valid(S("a\0b")));                 /* NUL is a character */
}

static void test_invalid(void **state)
{
    (void)state;
    assert_false(utf8_valid(S("\xC0\x80")));            /* overlong NUL */
    assert_false(utf8_valid(S("\xC1\xBF")));            /* overlong U+007F */
    assert_false(utf8_valid(S("\xE0\x80\xAF")));        /* overlong '/' in 3 bytes */
    assert_false(utf8_valid(S("\xE0\x9F\xBF")));        /* overlong U+07FF */
    assert_false(utf8_valid(S("\xF0\x8F\xBF\xBF")));    /* overlong U+FFFF */
    assert_false(utf8_valid(S("\xED\xA0\x80")));        /* U+D800, a surrogate */
    assert_false(utf8_valid(S("\xED\xBF\xBF")));        /* U+DFFF */
    assert_false(utf8_valid(S("\xED\xA0\xBD\xED\xB8\x80"))); /* a CESU-8 pair */
    assert_false(utf8_valid(S("\xF4\x90\x80\x80")));    /* U+110000 */
    assert_false(utf8_valid(S("\xF5\x80\x80\x80")));
    assert_false(utf8_valid(S("\xFF")));
    assert_false(utf8_valid(S("\x80")));                /* a lone continuation byte */
    assert_false(utf8_valid(S("\xC3")));                /* truncated at the end */
    assert_false(utf8_valid(S("\xE3\x81")));
    assert_false(utf8_valid(S("\xF0\x9F\x98")));
    assert_false(utf8_valid(S("\xE3\x81" "a")));        /* truncated in the middle */
    assert_false(utf8_valid(S("ok\xE3\x81\x93\xFE")));
}

static void expect_sanitized(const char *in, size_t len, const char *expect)
{
    char *out = utf8_sanitize(in, len);
    assert_string_equal(out, expect);
    assert_true(utf8_valid(out, strlen(out)));
    free(out);
}

static void test_sanitize(void **state)
{
    (void)state;
    expect_sanitized(S(""), "");
    expect_sanitized(S("h\xC3\xA9llo"), "h\xC3\xA9llo");
    /* One U+FFFD per bad byte; the good text after a bad lead byte survives. */
    expect_sanitized(S("a\xC0\x80z"), "a\xEF\xBF\xBD\xEF\xBF\xBDz");
    expect_sanitized(S("\xED\xA0\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
    expect_sanitized(S("\xE3\x81" "a"), "\xEF\xBF\xBD\xEF\xBF\xBD" "a");
    expect_sanitized(S("\xF0\x9F\x98"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
    expect_sanitized(S("x\xF0\x9F\x98\x80"), "x\xF0\x9F\x98\x80");
    expect_sanitized(S("a\0b"), "a\xEF\xBF\xBD" "b"); /* a C string again */
    expect_sanitized(S("\xFF\xFF"), "\xEF\xBF\xBD\xEF\xBF\xBD");
}

static void test_prefix(void **state)
{
    (void)state;
    const char *s = "a\xE3\x81\x93\xF0\x9F\x98\x80"; /* a, こ (3 bytes), 😀 (4 bytes) */
    size_t len = strlen(s);
    assert_int_equal(utf8_prefix(s, len, 100), len);
    assert_int_equal(utf8_prefix(s, len, len), len);
    assert_int_equal(utf8_prefix(s, len, 7), 4); /* never inside 😀 */
    assert_int_equal(utf8_prefix(s, len, 4), 4);
    assert_int_equal(utf8_prefix(s, len, 3), 1); /* never inside こ */
    assert_int_equal(utf8_prefix(s, len, 1), 1);
    assert_int_equal(utf8_prefix(s, len, 0), 0);
    /* Invalid bytes are single characters: a cut may fall after any of them. */
    assert_int_equal(utf8_prefix(S("\xFF\xFF\xFF"), 2), 2);
    assert_int_equal(utf8_prefix(S("\xE3\x81" "abc"), 3), 3);
}

/* Characters as a reader counts them: "料金 ok😀" is 6 (2 of 3 bytes, 3 of 1,
 * one of 4). */
static void test_chars(void **state)
{
    (void)state;
    const char *s = "\xe6\x96\x99\xe9\x87\x91 ok\xf0\x9f\x98\x80";
    size_t len = strlen(s);
    assert_int_equal(len, 13);
    assert_int_equal(utf8_chars(s, len), 6);
    assert_int_equal(utf8_chars("", 0), 0);
    assert_int_equal(utf8_chars_prefix(s, len, 0), 0);
    assert_int_equal(utf8_chars_prefix(s, len, 1), 3);
    assert_int_equal(utf8_chars_prefix(s, len, 2), 6);
    assert_int_equal(utf8_chars_prefix(s, len, 5), 9);
    assert_int_equal(utf8_chars_prefix(s, len, 6), 13);
    assert_int_equal(utf8_chars_prefix(s, len, 100), 13);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid),
        cmocka_unit_test(test_invalid),
        cmocka_unit_test(test_sanitize),
        cmocka_unit_test(test_prefix),
        cmocka_unit_test(test_chars),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
