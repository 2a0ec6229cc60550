/* test_http_client.c - what http_client decides without a network: the wait
 * a Retry-After or retry-after-ms header asks for (literal dates, hostile
 * values, the cap), and how a URL splits into the Host that curl sends. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "io/http_client.h"

#define NOW_MS 784111777000LL /* Sun, 06 Nov 1994 08:49:37 GMT */

static int64_t wait_ms(const char *ms_header, const char *header, int64_t now_ms)
{
    struct http_response r = {.retry_after_ms = (char *)ms_header, .retry_after = (char *)header};
    return http_response_retry_after_ms(&r, now_ms);
}

static void test_delta_seconds(void **state)
{
    (void)state;
    assert_int_equal(http_retry_after_ms("7", NOW_MS), 7000);
    assert_int_equal(http_retry_after_ms(" 3 ", NOW_MS), 3000);
    assert_int_equal(http_retry_after_ms("0", NOW_MS), 0);
    assert_int_equal(http_retry_after_ms("120", NOW_MS), 60000);                  /* capped */
    assert_int_equal(http_retry_after_ms("99999999999999999999", NOW_MS), 60000); /* no overflow */
}

static void test_http_dates(void **state)
{
    (void)state;
    /* The three forms RFC 9110 asks recipients to accept. */
    assert_int_equal(http_retry_after_ms("Sun, 06 Nov 1994 08:49:42 GMT", NOW_MS), 5000);
    assert_int_equal(http_retry_after_ms("Sunday, 06-Nov-94 08:49:47 GMT", NOW_MS), 10000);
    assert_int_equal(http_retry_after_ms("Sun Nov  6 08:49:40 1994", NOW_MS), 3000);
    /* The clock's milliseconds count: 0.5 s before the date is a 500 ms wait. */
    assert_int_equal(http_retry_after_ms("Sun, 06 Nov 1994 08:49:38 GMT", NOW_MS + 500), 500);
    /* In the past: retry now. Far ahead: capped. */
    assert_int_equal(http_retry_after_ms("Sun, 06 Nov 1994 08:00:00 GMT", NOW_MS), 0);
    assert_int_equal(http_retry_after_ms("Thu, 01 Jan 1970 00:00:00 GMT", NOW_MS), 0);
    assert_int_equal(http_retry_after_ms("Mon, 07 Nov 1994 08:49:37 GMT", NOW_MS), 60000);
    assert_int_equal(http_retry_after_ms("Fri, 31 Dec 9999 23:59:59 GMT", NOW_MS), 60000);
    assert_int_equal(http_retry_after_ms("Thu, 01 Jan 2026 00:00:01 GMT", 1767225600000LL), 1000);
    /* curl reads a date without a time as midnight: in the past here. */
    assert_int_equal(http_retry_after_ms("Sun, 06 Nov 1994 GMT", NOW_MS), 0);
}

static void test_hostile_values(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "", "   ", "-1", "+5", "1.5", "inf", "nan", "0x10", "1e3", "tomorrow", "soon",
        "Sun, 32 Nov 1994 08:49:37 GMT", "Sun, 06 Nov 1994 25:49:37 GMT", "\x80\xff", "7 seconds",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(http_retry_after_ms(bad[i], NOW_MS), -1);
    assert_int_equal(http_retry_after_ms(NULL, NOW_MS), -1);

    char longval[8192];
    memset(longval, '9', sizeof longval - 1);
    longval[sizeof longval - 1] = '\0';
    assert_int_equal(http_retry_after_ms(longval, NOW_MS), 60000);
    memset(longval, 'A', sizeof longval - 1);
    assert_int_equal(http_retry_after_ms(longval, NOW_MS), -1);
}

static void test_retry_after_ms_header_first(void **state)
{
    (void)state;
    assert_int_equal(wait_ms("1500", NULL, NOW_MS), 1500);
    assert_int_equal(wait_ms(" 20.2 ", NULL, NOW_MS), 21); /* rounded up */
    assert_int_equal(wait_ms("0", "30", NOW_MS), 0);
    assert_int_equal(wait_ms("999999", NULL, NOW_MS), 60000);
    /* An unusable retry-after-ms falls back to Retry-After. */
    assert_int_equal(wait_ms("soon", "2", NOW_MS), 2000);
    assert_int_equal(wait_ms("-5", "Sun, 06 Nov 1994 08:49:42 GMT", NOW_MS), 5000);
    assert_int_equal(wait_ms(NULL, NULL, NOW_MS), -1);
    assert_int_equal(wait_ms("", "", NOW_MS), -1);
    assert_int_equal(wait_ms("nan", "inf", NOW_MS), -1);
    assert_int_equal(wait_ms("1.", "x", NOW_MS), -1);
}

static void expect_split(const char *url, const char *scheme, const char *host, const char *path)
{
    struct http_url u;
    char err[128] = "";
    assert_int_equal(http_url_split(url, &u, err, sizeof err), 0);
    assert_string_equal(u.scheme, scheme);
    assert_string_equal(u.host, host);
    assert_string_equal(u.path, path);
}

static void expect_refused(const char *url)
{
    struct http_url u;
    char err[128] = "";
    assert_int_equal(http_url_split(url, &u, err, sizeof err), -1);
    assert_true(strncmp(err, "invalid URL", 11) == 0);
    assert_null(strstr(err, "secret")); /* the URL itself is never quoted */
    assert_string_equal(u.host, "");
}

static void test_url_split(void **state)
{
    (void)state;
    expect_split("https://lambda.us-east-1.amazonaws.com", "https", "lambda.us-east-1.amazonaws.com", "");
    expect_split("https://lambda.us-east-1.amazonaws.com/", "https", "lambda.us-east-1.amazonaws.com", "");
    expect_split("http://127.0.0.1:9001/base/v1", "http", "127.0.0.1:9001", "/base/v1");
    expect_split("HTTPS://Example.COM:443/x", "https", "Example.COM", "/x"); /* default port: no ":443" */
    expect_split("http://example.com:80", "http", "example.com", "");
    expect_split("https://example.com:8443", "https", "example.com:8443", "");
    expect_split("http://[::1]:8080/p", "http", "[::1]:8080", "/p");
    expect_split("https://user:secret@host.example/p?q=1", "https", "host.example", "/p");

    expect_refused("ftp://example.com/secret");
    expect_refused("http://");
    expect_refused("http:///secret");
    expect_refused("example.com/secret");
    expect_refused("http://exa mple.com/secret");
    expect_refused("");
    expect_refused(NULL);
}

/* A request whose URL curl_url() refuses never reaches the network, and the
 * reason does not quote the URL. */
static void test_bad_url_refused_before_sending(void **state)
{
    (void)state;
    static const char *const bad[] = {"ftp://example.com/?secret=1", "http:///secret", "http://exa mple/secret",
                                      "not a url secret"};
    struct http_client *c = http_client_new();
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct http_request req = {.method = "GET", .url = bad[i]};
        struct http_response resp;
        assert_int_equal(http_client_do(c, &req, &resp), -1);
        assert_int_equal(resp.status, 0);
        assert_true(strncmp(resp.error, "invalid URL", 11) == 0);
        assert_null(strstr(resp.error, "secret"));
        http_response_free(&resp);

        char err[256] = "";
        assert_int_equal(http_client_side_start(c, &req, err, sizeof err), -1);
        assert_true(strncmp(err, "invalid URL", 11) == 0);
        assert_false(http_client_side_pending(c));
    }
    http_client_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_delta_seconds),
        cmocka_unit_test(test_http_dates),
        cmocka_unit_test(test_hostile_values),
        cmocka_unit_test(test_retry_after_ms_header_first),
        cmocka_unit_test(test_url_split),
        cmocka_unit_test(test_bad_url_refused_before_sending),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
