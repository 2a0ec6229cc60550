/* test_redact.c - masking secrets in text: configured values (whole,
 * case-sensitive, overlapping), the length floor, "Bearer" credentials and
 * "sk-" keys. Every expectation is a literal string. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "core/redact.h"

static void expect(const char *in, const struct redact_secret *s, size_t n, const char *want)
{
    char *out = redact_text(in, s, n);
    assert_non_null(out);
    assert_string_equal(out, want);
    free(out);
}

static void test_no_secrets(void **state)
{
    (void)state;
    expect("", NULL, 0, "");
    expect("nothing to hide here", NULL, 0, "nothing to hide here");
    assert_null(redact_text(NULL, NULL, 0));
}

static void test_configured_secret(void **state)
{
    (void)state;
    const struct redact_secret s[] = {{"LLM_API_KEY", "key-0123456789"}};
    expect("status 401 (provider error: Incorrect API key provided: key-0123456789.)", s, 1,
           "status 401 (provider error: Incorrect API key provided: [redacted LLM_API_KEY].)");
    /* Every occurrence, at the start and at the end. */
    expect("key-0123456789 and key-0123456789", s, 1,
           "[redacted LLM_API_KEY] and [redacted LLM_API_KEY]");
    /* Case-sensitive: another case is another string. */
    expect("KEY-0123456789", s, 1, "KEY-0123456789");
    /* Only whole occurrences: a prefix or a cut-off copy is not the secret. */
    expect("key-01234567", s, 1, "key-01234567");
    /* Nameless secret. */
    const struct redact_secret anon[] = {{NULL, "hunter2hunter2"}};
    expect("pw=hunter2hunter2;", anon, 1, "pw=[redacted];");
}

static void test_several_secrets(void **state)
{
    (void)state;
    const struct redact_secret s[] = {
        {"LINE_CHANNEL_SECRET", "channel-secret-abc"},
        {"LINE_CHANNEL_ACCESS_TOKEN", "access-token-xyz-123"},
        {"LLM_API_KEY", NULL},
    };
    expect("secret channel-secret-abc token access-token-xyz-123 end", s, 3,
           "secret [redacted LINE_CHANNEL_SECRET] token [redacted LINE_CHANNEL_ACCESS_TOKEN] end");
}

static void test_short_secrets_ignored(void **state)
{
    (void)state;
    /* Below 8 bytes a value would mask common words: it is not registered. */
    const struct redact_secret s[] = {{"LLM_API_KEY", "test"}, {"X", "1234567"}, {"Y", ""}};
    expect("a test of 1234567 things", s, 3, "a test of 1234567 things");
    assert_false(redact_is_maskable(NULL));
    assert_false(redact_is_maskable(""));
    assert_false(redact_is_maskable("1234567"));
    assert_true(redact_is_maskable("12345678"));
    const struct redact_secret eight[] = {{"K", "12345678"}};
    expect("x12345678y", eight, 1, "x[redacted K]y");
}

static void test_overlapping_secrets(void **state)
{
    (void)state;
    /* Two secrets share bytes: neither's tail survives; one mask for the run. */
    const struct redact_secret s[] = {{"A", "ABCDEFGHIJ"}, {"B", "GHIJKLMNOP"}};
    expect("<ABCDEFGHIJKLMNOP>", s, 2, "<[redacted A]>");
    expect("<GHIJKLMNOP|ABCDEFGHIJ>", s, 2, "<[redacted B]|[redacted A]>");
    /* One secret inside another, either order. */
    const struct redact_secret in[] = {{"SHORT", "CDEFGHIJ"}, {"LONG", "ABCDEFGHIJKL"}};
    expect("ABCDEFGHIJKL", in, 2, "[redacted LONG]");
    expect("xxCDEFGHIJxx", in, 2, "xx[redacted SHORT]xx");
    /* A secret overlapping itself. */
    const struct redact_secret self[] = {{"S", "aaaaaaaa"}};
    expect("aaaaaaaaaaa!", self, 1, "[redacted S]!");
    /* Next to each other: one run, one mask. */
    const struct redact_secret adj[] = {{"A", "11111111"}, {"B", "22222222"}};
    expect("1111111122222222", adj, 2, "[redacted A]");
}

static void test_bearer(void **state)
{
    (void)state;
    expect("Authorization: Bearer abcDEF123456", NULL, 0, "Authorization: Bearer [redacted]");
    expect("bearer  eyJhbGciOi.J9-x_y~z+/w==, next", NULL, 0, "bearer  [redacted], next");
    expect("BEARER abcdefgh", NULL, 0, "BEARER [redacted]");
    /* Too short to be a credential, or not the word "Bearer". */
    expect("the bearer of news", NULL, 0, "the bearer of news");
    expect("Bearer abc", NULL, 0, "Bearer abc");
    expect("cupbearer abcdefghijk", NULL, 0, "cupbearer abcdefghijk");
    expect("Bearer:abcdefghijk", NULL, 0, "Bearer:abcdefghijk");
    expect("Bearer", NULL, 0, "Bearer");
    expect("Bearer ", NULL, 0, "Bearer ");
}

static void test_sk_keys(void **state)
{
    (void)state;
    expect("Incorrect API key provided: sk-proj-AbC_123-xyz0987654321. You can", NULL, 0,
           "Incorrect API key provided: sk-[redacted]. You can");
    /* Exactly 16 key characters after "sk-", and 15. */
    expect("sk-0123456789abcdef", NULL, 0, "sk-[redacted]");
    expect("sk-0123456789abcde", NULL, 0, "sk-0123456789abcde");
    /* "sk-" inside a longer word is not a key. */
    expect("risk-management-and-more-words", NULL, 0, "risk-management-and-more-words");
    expect("(sk-aaaaaaaaaaaaaaaaaaaa)", NULL, 0, "(sk-[redacted])");
    expect("sk-", NULL, 0, "sk-");
}

static void test_configured_key_keeps_its_name(void **state)
{
    (void)state;
    /* A configured key that also looks like sk-...: named by its setting. */
    const struct redact_secret s[] = {{"LLM_API_KEY", "sk-0123456789abcdefXYZ"}};
    expect("key sk-0123456789abcdefXYZ.", s, 1, "key [redacted LLM_API_KEY].");
    /* The configured token after "Bearer". */
    const struct redact_secret t[] = {{"LINE_CHANNEL_ACCESS_TOKEN", "tok/ABCDEFGH=="}};
    expect("Bearer tok/ABCDEFGH==", t, 1, "Bearer [redacted LINE_CHANNEL_ACCESS_TOKEN]");
}

static void test_bytes_around_are_kept(void **state)
{
    (void)state;
    /* Text that is not valid UTF-8 and control characters pass through. */
    const struct redact_secret s[] = {{"K", "\xC3\xA9secret!!"}};
    expect("\x01\xFF\xC3\xA9secret!!\xC3", s, 1, "\x01\xFF[redacted K]\xC3");
}

/* A cut never leaves a piece of a credential, nor half a character. */
static void test_cut(void **state)
{
    (void)state;
    const char *msg = "Incorrect API key provided: sk-abcdefghijklmnopqrstuvwxyz. See docs";
    size_t len = strlen(msg);
    size_t key_at = strlen("Incorrect API key provided: ");

    assert_int_equal(redact_cut(msg, len, len), len);         /* fits: as it is */
    assert_int_equal(redact_cut(msg, len, len + 10), len);
    assert_int_equal(redact_cut(msg, len, key_at + 10), key_at); /* inside the key: it goes whole */
    assert_int_equal(redact_cut(msg, len, key_at + 3), key_at);
    assert_int_equal(redact_cut(msg, len, key_at), key_at);       /* at its start: nothing of it */
    assert_int_equal(redact_cut(msg, len, key_at - 1), key_at - 1); /* at the blank before it */
    assert_int_equal(redact_cut(msg, len, 5), 0);                 /* inside the first word */
    /* "é" is two bytes: a cut between them moves back to before it */
    const char *e = "caf\xc3\xa9 ok";
    assert_int_equal(redact_cut(e, strlen(e), 4), 3);
    assert_int_equal(redact_cut(e, strlen(e), 6), 6); /* before "ok" */
    assert_int_equal(redact_cut(e, strlen(e), 7), 6); /* inside it: before it */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cut),
        cmocka_unit_test(test_no_secrets),
        cmocka_unit_test(test_configured_secret),
        cmocka_unit_test(test_several_secrets),
        cmocka_unit_test(test_short_secrets_ignored),
        cmocka_unit_test(test_overlapping_secrets),
        cmocka_unit_test(test_bearer),
        cmocka_unit_test(test_sk_keys),
        cmocka_unit_test(test_configured_key_keeps_its_name),
        cmocka_unit_test(test_bytes_around_are_kept),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
