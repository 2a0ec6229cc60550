/* test_apigw.c - Lambda HTTP events: payload 2.0, 1.0, Function URLs, base64
 * bodies, header case, and hostile payloads. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "core/apigw.h"

static void test_v2_http_api(void **state)
{
    const char *ev = "{\"version\":\"2.0\",\"routeKey\":\"POST /callback\",\"rawPath\":\"/callback\","
                     "\"headers\":{\"x-line-signature\":\"abc=\",\"content-type\":\"application/json\"},"
                     "\"requestContext\":{\"requestId\":\"req-1\",\"http\":{\"method\":\"POST\",\"path\":\"/callback\"}},"
                     "\"body\":\"{\\\"events\\\":[]}\",\"isBase64Encoded\":false}";
    struct http_event h;
    assert_int_equal(apigw_parse(ev, strlen(ev), &h), APIGW_HTTP);
    assert_string_equal(h.method, "POST");
    assert_string_equal(h.path, "/callback");
    assert_string_equal(h.request_id, "req-1");
    assert_string_equal(http_event_header(&h, "X-Line-Signature"), "abc=");
    assert_int_equal(h.body_len, 13);
    assert_memory_equal(h.body, "{\"events\":[]}", 13);
    http_event_free(&h);
}

static void test_function_url_base64(void **state)
{
    /* base64("{\"a\":1}") = eyJhIjoxfQ== ; Function URLs send bodies base64-encoded. */
    const char *ev = "{\"version\":\"2.0\",\"rawPath\":\"/callback\",\"headers\":{\"X-LINE-SIGNATURE\":\"s\"},"
                     "\"requestContext\":{\"http\":{\"method\":\"POST\"}},\"body\":\"eyJhIjoxfQ==\","
                     "\"isBase64Encoded\":true}";
    struct http_event h;
    assert_int_equal(apigw_parse(ev, strlen(ev), &h), APIGW_HTTP);
    assert_string_equal(h.body, "{\"a\":1}");
    assert_int_equal(h.body_len, 7);
    assert_string_equal(http_event_header(&h, "x-line-signature"), "s");
    assert_null(h.request_id);
    http_event_free(&h);
}

static void test_v1_rest_api(void **state)
{
    const char *ev = "{\"resource\":\"/callback\",\"path\":\"/callback\",\"httpMethod\":\"POST\","
                     "\"headers\":{\"Content-Type\":\"application/json\"},"
                     "\"multiValueHeaders\":{\"X-Line-Signature\":[\"sig1\"]},"
                     "\"requestContext\":{\"requestId\":\"r1\"},\"body\":\"x\",\"isBase64Encoded\":false}";
    struct http_event h;
    assert_int_equal(apigw_parse(ev, strlen(ev), &h), APIGW_HTTP);
    assert_string_equal(h.method, "POST");
    assert_string_equal(http_event_header(&h, "x-line-signature"), "sig1");
    assert_string_equal(http_event_header(&h, "content-type"), "application/json");
    http_event_free(&h);
}

static void test_binary_body_keeps_nuls(void **state)
{
    /* base64 of bytes 00 01 02 ff */
    const char *ev = "{\"version\":\"2.0\",\"rawPath\":\"/\",\"requestContext\":{\"http\":{\"method\":\"POST\"}},"
                     "\"body\":\"AAEC/w\",\"isBase64Encoded\":true}";
    struct http_event h;
    assert_int_equal(apigw_parse(ev, strlen(ev), &h), APIGW_HTTP);
    assert_int_equal(h.body_len, 4);
    assert_memory_equal(h.body, "\x00\x01\x02\xff", 4);
    http_event_free(&h);
}

static void test_not_http_and_bad(void **state)
{
    struct http_event h;
    const char *work = "{\"linebot\":\"work\",\"events\":[]}";
    assert_int_equal(apigw_parse(work, strlen(work), &h), APIGW_NOT_HTTP);
    assert_int_equal(apigw_parse("nope", 4, &h), APIGW_BAD);
    assert_int_equal(apigw_parse("[1]", 3, &h), APIGW_BAD);
    const char *badb64 = "{\"version\":\"2.0\",\"rawPath\":\"/\",\"requestContext\":{\"http\":{\"method\":\"POST\"}},"
                         "\"body\":\"%%%\",\"isBase64Encoded\":true}";
    assert_int_equal(apigw_parse(badb64, strlen(badb64), &h), APIGW_BAD);
    const char *wrong_types = "{\"version\":\"2.0\",\"rawPath\":5,\"requestContext\":{\"http\":{\"method\":[]}}}";
    assert_int_equal(apigw_parse(wrong_types, strlen(wrong_types), &h), APIGW_BAD);
    const char *no_body = "{\"httpMethod\":\"GET\",\"path\":\"/healthz\",\"headers\":null,\"body\":null}";
    assert_int_equal(apigw_parse(no_body, strlen(no_body), &h), APIGW_HTTP);
    assert_int_equal(h.body_len, 0);
    http_event_free(&h);
}

static void test_base64(void **state)
{
    char *out;
    size_t n;
    assert_int_equal(base64_decode("aGVsbG8=", 8, &out, &n), 0);
    assert_int_equal(n, 5);
    assert_string_equal(out, "hello");
    free(out);
    assert_int_equal(base64_decode("aGVsbG8", 7, &out, &n), 0); /* unpadded */
    assert_string_equal(out, "hello");
    free(out);
    assert_int_equal(base64_decode("", 0, &out, &n), 0);
    assert_int_equal(n, 0);
    free(out);
    assert_int_equal(base64_decode("a", 1, &out, &n), -1);
    assert_int_equal(base64_decode("aGV sbG8=", 9, &out, &n), -1);
}

static void test_response(void **state)
{
    char *r = apigw_response(401, NULL, "{\"error\":\"invalid signature\"}");
    json_t *j = json_loads(r, 0, NULL);
    assert_int_equal(json_integer_value(json_object_get(j, "statusCode")), 401);
    assert_string_equal(json_string_value(json_object_get(j, "body")), "{\"error\":\"invalid signature\"}");
    assert_string_equal(json_string_value(json_object_get(json_object_get(j, "headers"), "content-type")),
                        "application/json");
    json_decref(j);
    assert_null(apigw_response(200, NULL, "caf\xc3")); /* not UTF-8: JSON cannot carry it */
    free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_v2_http_api),     cmocka_unit_test(test_function_url_base64),
        cmocka_unit_test(test_v1_rest_api),     cmocka_unit_test(test_binary_body_keeps_nuls),
        cmocka_unit_test(test_not_http_and_bad), cmocka_unit_test(test_base64),
        cmocka_unit_test(test_response),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
