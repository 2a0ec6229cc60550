/* test_selfinvoke.c - unit tests for the invoke target of run/selfinvoke:
 * the Host and path that are signed are the ones libcurl sends (its URL API
 * takes the endpoint apart; a default port is left out of Host, as curl's
 * own Host header leaves it out). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "run/selfinvoke.h"

#define API "/2023-03-30/functions/linebot/invocations"

static void expect_target(const char *endpoint, const char *want_host, const char *want_path)
{
    char host[300], path[1024], err[128];
    if (selfinvoke_target(endpoint, API, host, sizeof host, path, sizeof path, err, sizeof err) != 0)
        fail_msg("%s: %s", endpoint, err);
    assert_string_equal(host, want_host);
    assert_string_equal(path, want_path);
}

static void test_targets(void **state)
{
    (void)state;
    expect_target("https://1234567890123456.cn-hangzhou.fc.aliyuncs.com", "1234567890123456.cn-hangzhou.fc.aliyuncs.com",
                  API);
    /* curl sends no ":443" for https, and no ":80" for http: neither is signed. */
    expect_target("https://lambda.ap-northeast-1.amazonaws.com:443/", "lambda.ap-northeast-1.amazonaws.com", API);
    expect_target("http://example.com:80", "example.com", API);
    expect_target("https://example.com:8443", "example.com:8443", API);
    expect_target("http://127.0.0.1:9000/base/", "127.0.0.1:9000", "/base" API);
    expect_target("http://127.0.0.1:9000/a/b", "127.0.0.1:9000", "/a/b" API);
    expect_target("http://[::1]:9000", "[::1]:9000", API);
}

static void test_unreadable_endpoints(void **state)
{
    (void)state;
    char host[300], path[1024], err[128];
    const char *bad[] = {"", "not a url", "http://", "https://exa mple.com", "http://host:99999"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        if (selfinvoke_target(bad[i], API, host, sizeof host, path, sizeof path, err, sizeof err) == 0)
            fail_msg("\"%s\" was accepted as %s%s", bad[i], host, path);
        assert_true(err[0] != '\0');
    }
    /* Too long for the caller's buffers. */
    assert_int_equal(selfinvoke_target("https://example.com", API, host, 5, path, sizeof path, err, sizeof err), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_targets),
        cmocka_unit_test(test_unreadable_endpoints),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
