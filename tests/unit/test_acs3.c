/* test_acs3.c - unit tests for core/acs3: Alibaba Cloud signature V3.
 *
 * The vector is Alibaba's own: the worked example of "Request syntax and
 * signature method V3" (also what Function Compute's signature documentation
 * points to), an ECS RunInstances call to ecs.cn-shanghai.aliyuncs.com with
 * AccessKey YourAccessKeyId / YourAccessKeySecret, x-acs-date
 * 2023-10-26T10:22:32Z and nonce 3156853299f313e23d1673dc12e1703d. Its
 * canonical request, string to sign (hash 7ea06492...), signature
 * (06563a9e...83c0) and Authorization header are compared byte for byte.
 *
 * Then the request we actually send (FC 3.0 InvokeFunction with STS
 * credentials, signed as Alibaba's SDK signs it: host, content-type and the
 * x-acs-* headers, x-fc-invocation-type left out), against literal values
 * computed outside linebot with python3's hashlib/hmac straight from the V3
 * document's steps (sorted lowercase headers, SHA-256 of the canonical
 * request, HMAC-SHA256 keyed with the secret as is); then the encoding and
 * canonicalization rules, and hostile input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "core/acs3.h"

#define EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define DOC_TIME INT64_C(1698315752) /* 2023-10-26T10:22:32Z */
#define DOC_NONCE "3156853299f313e23d1673dc12e1703d"
#define DOC_SECRET "YourAccessKeySecret"

static const char *find_header(const struct acs3_result *r, const char *name)
{
    for (size_t i = 0; i < r->n_headers; i++)
        if (strcmp(r->headers[i].name, name) == 0)
            return r->headers[i].value;
    return NULL;
}

/* ---- the published example ---------------------------------------------- */

static void test_published_run_instances(void **state)
{
    (void)state;
    /* Given out of order: the signer sorts. */
    const struct acs3_param params[] = {
        {"RegionId", "cn-shanghai"},
        {"ImageId", "win2019_1809_x64_dtc_zh-cn_40G_alibase_20230811.vhd"},
    };
    struct acs3_request req = {
        .method = "POST",
        .host = "ecs.cn-shanghai.aliyuncs.com",
        .path = "/",
        .params = params,
        .n_params = 2,
        .action = "RunInstances",
        .version = "2014-05-26",
        .access_key_id = "YourAccessKeyId",
        .access_key_secret = DOC_SECRET,
        .now_epoch_s = DOC_TIME,
        .nonce = DOC_NONCE,
    };
    struct acs3_result r;
    char err[256];
    assert_int_equal(acs3_sign(&req, &r, err, sizeof err), 0);
    assert_string_equal(r.canonical_request,
                        "POST\n"
                        "/\n"
                        "ImageId=win2019_1809_x64_dtc_zh-cn_40G_alibase_20230811.vhd&RegionId=cn-shanghai\n"
                        "host:ecs.cn-shanghai.aliyuncs.com\n"
                        "x-acs-action:RunInstances\n"
                        "x-acs-content-sha256:" EMPTY_SHA256 "\n"
                        "x-acs-date:2023-10-26T10:22:32Z\n"
                        "x-acs-signature-nonce:" DOC_NONCE "\n"
                        "x-acs-version:2014-05-26\n"
                        "\n"
                        "host;x-acs-action;x-acs-content-sha256;x-acs-date;x-acs-signature-nonce;x-acs-version\n"
                        EMPTY_SHA256);
    assert_string_equal(r.string_to_sign,
                        "ACS3-HMAC-SHA256\n7ea06492da5221eba5297e897ce16e55f964061054b7695beedaac1145b1e259");
    assert_string_equal(r.signature, "06563a9e1b43f5dfe96b81484da74bceab24a1d853912eee15083a6f0f3283c0");
    assert_string_equal(find_header(&r, "Authorization"),
                        "ACS3-HMAC-SHA256 Credential=YourAccessKeyId,"
                        "SignedHeaders=host;x-acs-action;x-acs-content-sha256;x-acs-date;x-acs-signature-nonce;"
                        "x-acs-version,"
                        "Signature=06563a9e1b43f5dfe96b81484da74bceab24a1d853912eee15083a6f0f3283c0");
    assert_string_equal(r.canonical_query,
                        "ImageId=win2019_1809_x64_dtc_zh-cn_40G_alibase_20230811.vhd&RegionId=cn-shanghai");
    assert_int_equal(r.n_headers, 6);
    assert_string_equal(find_header(&r, "x-acs-action"), "RunInstances");
    assert_string_equal(find_header(&r, "x-acs-version"), "2014-05-26");
    assert_string_equal(find_header(&r, "x-acs-date"), "2023-10-26T10:22:32Z");
    assert_string_equal(find_header(&r, "x-acs-signature-nonce"), DOC_NONCE);
    assert_string_equal(find_header(&r, "x-acs-content-sha256"), EMPTY_SHA256);
    assert_null(find_header(&r, "x-acs-security-token"));
    acs3_result_free(&r);
}

/* ---- the request we send: FC 3.0 InvokeFunction, asynchronous ----------- */

static void sha256_hex(const void *data, size_t len, char out[65])
{
    unsigned char md[32];
    unsigned int n = 0;
    assert_int_equal(EVP_Digest(data, len, md, &n, EVP_sha256(), NULL), 1);
    for (size_t i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
}

static void test_fc_invoke_function_async(void **state)
{
    (void)state;
    const char *payload = "{\"handoff\":[\"evt-1\"]}";
    char name_enc[64], path[256];
    assert_int_equal(acs3_percent_encode("linebot", 7, name_enc, sizeof name_enc), 7);
    snprintf(path, sizeof path, "/2023-03-30/functions/%s/invocations", name_enc);
    const struct acs3_header headers[] = {
        {"Content-Type", "application/octet-stream"},
    };
    const char *secret = "sts+Secret/Value0123456789abcdefABCDEF";
    const char *token = "CAIS/wF1q6Ft5B2yfSjIr5eSexample+token/with==";
    struct acs3_request req = {
        .method = "POST",
        .host = "1234567890123456.cn-hangzhou.fc.aliyuncs.com",
        .path = path,
        .headers = headers,
        .n_headers = 1,
        .payload = payload,
        .payload_len = strlen(payload),
        .action = "InvokeFunction",
        .version = "2023-03-30",
        .access_key_id = "STS.NTexampleKeyId123",
        .access_key_secret = secret,
        .security_token = token,
        .now_epoch_s = INT64_C(1709251199), /* 2024-02-29T23:59:59Z */
        .nonce = "0f1e2d3c4b5a69788796a5b4c3d2e1f0",
    };
    struct acs3_result r;
    char err[256];
    assert_int_equal(acs3_sign(&req, &r, err, sizeof err), 0);

    const char *signed_headers = "content-type;host;x-acs-accesskey-id;x-acs-action;x-acs-content-sha256;"
                                 "x-acs-date;x-acs-security-token;x-acs-signature-nonce;x-acs-version";
    assert_string_equal(r.signed_headers, signed_headers);
    assert_string_equal(r.canonical_query, "");
    char body_hash[65];
    sha256_hex(payload, strlen(payload), body_hash);
    char expect_creq[2048];
    snprintf(expect_creq, sizeof expect_creq,
             "POST\n/2023-03-30/functions/linebot/invocations\n\n"
             "content-type:application/octet-stream\n"
             "host:1234567890123456.cn-hangzhou.fc.aliyuncs.com\n"
             "x-acs-accesskey-id:STS.NTexampleKeyId123\n"
             "x-acs-action:InvokeFunction\n"
             "x-acs-content-sha256:%s\n"
             "x-acs-date:2024-02-29T23:59:59Z\n"
             "x-acs-security-token:%s\n"
             "x-acs-signature-nonce:0f1e2d3c4b5a69788796a5b4c3d2e1f0\n"
             "x-acs-version:2023-03-30\n\n%s\n%s",
             body_hash, token, signed_headers, body_hash);
    assert_string_equal(r.canonical_request, expect_creq);

    /* String to sign and signature, recomputed here. */
    char creq_hash[65], expect_sts[128];
    sha256_hex(r.canonical_request, strlen(r.canonical_request), creq_hash);
    snprintf(expect_sts, sizeof expect_sts, "ACS3-HMAC-SHA256\n%s", creq_hash);
    assert_string_equal(r.string_to_sign, expect_sts);
    unsigned char mac[32];
    unsigned int maclen = 0;
    assert_non_null(HMAC(EVP_sha256(), secret, (int)strlen(secret), (const unsigned char *)expect_sts,
                         strlen(expect_sts), mac, &maclen));
    char sig_hex[65];
    for (size_t i = 0; i < 32; i++)
        snprintf(sig_hex + 2 * i, 3, "%02x", mac[i]);
    assert_string_equal(r.signature, sig_hex);
    /* The literal values (python3 hashlib/hmac, see the top of this file). */
    assert_string_equal(body_hash, "214de0d65ade00fc659424db7c36fdde5fa73f77e628c26aa1a2e43fbc1ee351");
    assert_string_equal(r.signature, "ef74eff7c1c6ee6a0c161c0cf668eb6c96f1e606e6d725a5fd73876ec3d7516c");

    /* The headers to add, in order. */
    static const char *const names[] = {"Authorization", "x-acs-action", "x-acs-version", "x-acs-date",
                                        "x-acs-signature-nonce", "x-acs-content-sha256",
                                        "x-acs-accesskey-id", "x-acs-security-token"};
    assert_int_equal(r.n_headers, 8);
    for (size_t i = 0; i < 8; i++)
        assert_string_equal(r.headers[i].name, names[i]);
    char expect_auth[512];
    snprintf(expect_auth, sizeof expect_auth,
             "ACS3-HMAC-SHA256 Credential=STS.NTexampleKeyId123,SignedHeaders=%s,Signature=%s", signed_headers,
             sig_hex);
    assert_string_equal(r.headers[0].value, expect_auth);
    assert_string_equal(r.headers[5].value, body_hash);
    assert_string_equal(r.headers[6].value, "STS.NTexampleKeyId123");
    assert_string_equal(r.headers[7].value, token);

    for (size_t i = 0; i < r.n_headers; i++)
        assert_null(strstr(r.headers[i].value, secret));
    assert_null(strstr(r.canonical_request, secret));
    acs3_result_free(&r);
    acs3_result_free(&r);

    /* A version or alias goes in the query (qualifier). */
    const struct acs3_param qualifier[] = {{"qualifier", "LATEST"}};
    req.params = qualifier;
    req.n_params = 1;
    assert_int_equal(acs3_sign(&req, &r, err, sizeof err), 0);
    assert_string_equal(r.canonical_query, "qualifier=LATEST");
    assert_string_equal(r.signature, "c5e23efb6d35c9686292c5a4ca134c9b6ab21e94a74fbeed7f485115b170f860");
    assert_non_null(strstr(r.canonical_request, "/invocations\nqualifier=LATEST\ncontent-type:"));
    acs3_result_free(&r);
}

/* ---- canonicalization rules --------------------------------------------- */

static struct acs3_request base_request(void)
{
    return (struct acs3_request){
        .method = "GET", .host = "example.aliyuncs.com", .path = "/", .action = "DoIt",
        .version = "2023-03-30", .access_key_id = "YourAccessKeyId", .access_key_secret = DOC_SECRET,
        .now_epoch_s = DOC_TIME, .nonce = DOC_NONCE,
    };
}

static void test_query_rules(void **state)
{
    (void)state;
    const struct acs3_param params[] = {
        {"b", "x y*z~"},          /* space %20, '*' %2A, '~' kept */
        {"a.2", "two"},
        {"a.10", "ten"},          /* sorted as bytes: a.1 < a.10 < a.2 */
        {"a.1", "one"},
        {"B", "1+1=2/3&4"},       /* uppercase first; reserved characters encoded */
        {"c", NULL},              /* no value */
        {"d", ""},
        {"\xe4\xb8\xad", "\xe6\x96\x87"}, /* UTF-8, each byte encoded */
    };
    struct acs3_request req = base_request();
    req.params = params;
    req.n_params = sizeof params / sizeof params[0];
    struct acs3_result r;
    char err[256];
    assert_int_equal(acs3_sign(&req, &r, err, sizeof err), 0);
    const char *expect = "B=1%2B1%3D2%2F3%264&a.1=one&a.10=ten&a.2=two&b=x%20y%2Az~&c=&d=&%E4%B8%AD=%E6%96%87";
    assert_string_equal(r.canonical_query, expect);
    assert_non_null(strstr(r.canonical_request, expect));
    acs3_result_free(&r);

    /* Repeated names are refused. */
    const struct acs3_param repeated[] = {{"k", "1"}, {"j", "0"}, {"k", "2"}};
    req.params = repeated;
    req.n_params = 3;
    assert_int_equal(acs3_sign(&req, &r, err, sizeof err), -1);
    assert_non_null(strstr(err, "repeated"));

    /* No parameters: an empty line. */
    req.params = NULL;
    req.n_params = 0;
    assert_int_equal(acs3_sign(&req, &r, err, sizeof err), 0);
    assert_string_equal(r.canonical_query, "");
    assert_true(strncmp(r.canonical_request, "GET\n/\n\nhost:", 12) == 0);
    acs3_result_free(&r);
}

static void test_header_rules(void **state)
{
    (void)state;
    const struct acs3_header headers[] = {
        {"X-Acs-Zeta", "  keep   inner  spacing \t"},
        {"Content-Type", "\tapplication/json; charset=utf-8 "},
        {"x-acs-alpha", ""},
    };
    struct acs3_request req = base_request();
    req.method = "PUT";
    req.host = "127.0.0.1:9000";
    req.path = "/a/b%20c/";
    req.headers = headers;
    req.n_headers = 3;
    req.now_epoch_s = 0;
    struct acs3_result r;
    char err[256];
    assert_int_equal(acs3_sign(&req, &r, err, sizeof err), 0);
    assert_string_equal(r.canonical_request,
                        "PUT\n/a/b%20c/\n\n"
                        "content-type:application/json; charset=utf-8\n"
                        "host:127.0.0.1:9000\n"
                        "x-acs-action:DoIt\n"
                        "x-acs-alpha:\n"
                        "x-acs-content-sha256:" EMPTY_SHA256 "\n"
                        "x-acs-date:1970-01-01T00:00:00Z\n"
                        "x-acs-signature-nonce:" DOC_NONCE "\n"
                        "x-acs-version:2023-03-30\n"
                        "x-acs-zeta:keep   inner  spacing\n\n"
                        "content-type;host;x-acs-action;x-acs-alpha;x-acs-content-sha256;x-acs-date;"
                        "x-acs-signature-nonce;x-acs-version;x-acs-zeta\n" EMPTY_SHA256);
    acs3_result_free(&r);
}

static void test_dates(void **state)
{
    (void)state;
    static const struct {
        int64_t t;
        const char *date;
    } cases[] = {
        {0, "1970-01-01T00:00:00Z"},
        {INT64_C(951782400), "2000-02-29T00:00:00Z"},
        {DOC_TIME, "2023-10-26T10:22:32Z"},
        {INT64_C(1709251199), "2024-02-29T23:59:59Z"},
        {INT64_C(253402300799), "9999-12-31T23:59:59Z"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct acs3_request req = base_request();
        req.now_epoch_s = cases[i].t;
        struct acs3_result r;
        char err[256];
        assert_int_equal(acs3_sign(&req, &r, err, sizeof err), 0);
        assert_string_equal(find_header(&r, "x-acs-date"), cases[i].date);
        acs3_result_free(&r);
    }
}

static void test_percent_encode(void **state)
{
    (void)state;
    char out[16];
    assert_int_equal(acs3_percent_encode("fn:alias", 8, out, sizeof out), 10);
    assert_string_equal(out, "fn%3Aalias");
    assert_int_equal(acs3_percent_encode("a/b c*~", 7, out, sizeof out), 13);
    assert_string_equal(out, "a%2Fb%20c%2A~");
    assert_int_equal(acs3_percent_encode("", 0, out, sizeof out), 0);
    assert_int_equal(acs3_percent_encode("abcdefghijklmno", 15, out, sizeof out), 15);
    assert_int_equal(acs3_percent_encode("abcdefghijklmnop", 16, out, sizeof out), (size_t)-1);
    assert_string_equal(out, "");
    assert_int_equal(acs3_percent_encode(NULL, 1, out, sizeof out), (size_t)-1);
    assert_int_equal(acs3_percent_encode("x", 1, NULL, 0), (size_t)-1);
}

/* ---- hostile input ------------------------------------------------------ */

static void expect_error(const struct acs3_request *req, const char *why)
{
    struct acs3_result r;
    char err[256];
    memset(&r, 0xA5, sizeof r);
    print_message("hostile: %s\n", why);
    assert_int_equal(acs3_sign(req, &r, err, sizeof err), -1);
    assert_true(strncmp(err, "acs3: ", 6) == 0 && strlen(err) > 6);
    assert_int_equal(r.n_headers, 0);
    assert_null(r.canonical_request);
    assert_null(strstr(err, DOC_SECRET));
    if (req != NULL && req->access_key_secret != NULL && req->access_key_secret[0] != '\0')
        assert_null(strstr(err, req->access_key_secret));
    acs3_result_free(&r);
}

static void test_hostile_input(void **state)
{
    (void)state;
    char err[64];
    struct acs3_result r;
    struct acs3_request q = base_request();
    assert_int_equal(acs3_sign(NULL, &r, err, sizeof err), -1);
    assert_int_equal(acs3_sign(&q, NULL, err, sizeof err), -1);
    assert_int_equal(acs3_sign(&q, &r, NULL, 0), 0);
    acs3_result_free(&r);
    expect_error(NULL, "no request");

#define BAD(field, value, why)                                                                     \
    do {                                                                                           \
        q = base_request();                                                                        \
        q.field = value;                                                                           \
        expect_error(&q, why);                                                                     \
    } while (0)
    BAD(method, NULL, "method NULL");
    BAD(method, "get", "method lowercase");
    BAD(host, "", "host empty");
    BAD(host, "x.com\r\nEvil: 1", "host with CRLF");
    BAD(path, NULL, "path NULL");
    BAD(path, "", "path empty");
    BAD(path, "x", "path without '/'");
    BAD(path, "/fn:alias", "path not encoded (':')");
    BAD(path, "/a b", "path not encoded (space)");
    BAD(path, "/a%3a", "path with lowercase hex");
    BAD(path, "/a%3", "path with a cut escape");
    BAD(path, "/a%", "path ending in '%'");
    BAD(path, "/a%G0", "path with a bad escape");
    BAD(path, "/a//b", "path with //");
    BAD(path, "/a/../b", "path with ..");
    BAD(path, "/./", "path with .");
    BAD(path, "/a?b", "path with a query");
    BAD(action, NULL, "action NULL");
    BAD(action, "Run Instances", "action with a space");
    BAD(version, "", "version empty");
    BAD(version, "2023/03/30", "version with '/'");
    BAD(access_key_id, NULL, "key id NULL");
    BAD(access_key_id, "id,Signature=x", "key id injecting into Authorization");
    BAD(access_key_secret, NULL, "secret NULL");
    BAD(access_key_secret, "", "secret empty");
    BAD(access_key_secret, "secret with spaces", "secret with spaces");
    BAD(security_token, "tok\nen", "token with LF");
    BAD(nonce, NULL, "nonce NULL");
    BAD(nonce, "", "nonce empty");
    BAD(nonce, "short", "nonce too short");
    BAD(nonce, "0123456789abcdef\r\n", "nonce with CRLF");
    BAD(nonce, "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0", "nonce too long");
    BAD(now_epoch_s, -1, "time before 1970");
    BAD(now_epoch_s, INT64_C(253402300800), "time after 9999");
    BAD(now_epoch_s, INT64_MIN, "time at INT64_MIN");
    BAD(payload_len, 1, "payload NULL with a length");
    q = base_request();
    q.payload = "x";
    q.payload_len = ACS3_MAX_PAYLOAD + 1;
    expect_error(&q, "payload over the limit");
    BAD(n_params, 1, "params NULL with a count");
    BAD(n_headers, 1, "headers NULL with a count");

    size_t big = ACS3_MAX_TOKEN + 16; /* longer than every limit */
    char *long_str = malloc(big + 1);
    assert_non_null(long_str);
    memset(long_str, 'a', big);
    long_str[big] = '\0';
    BAD(host, long_str, "host over the limit");
    BAD(security_token, long_str, "token over the limit");
    BAD(access_key_secret, long_str, "secret over the limit");
    BAD(access_key_id, long_str, "key id over the limit");
    long_str[0] = '/';
    BAD(path, long_str, "path over the limit");
    long_str[0] = 'a';

    struct acs3_param params[ACS3_MAX_PARAMS + 1];
    for (size_t i = 0; i < ACS3_MAX_PARAMS + 1; i++)
        params[i] = (struct acs3_param){"p", "v"};
    q = base_request();
    q.params = params;
    q.n_params = ACS3_MAX_PARAMS + 1;
    expect_error(&q, "too many params");
    q.n_params = 1;
    params[0] = (struct acs3_param){"", "v"};
    expect_error(&q, "param with an empty name");
    params[0] = (struct acs3_param){NULL, "v"};
    expect_error(&q, "param with a NULL name");
    long_str[ACS3_MAX_PARAM_LEN + 1] = '\0';
    params[0] = (struct acs3_param){"p", long_str};
    expect_error(&q, "param value over the limit");
    params[0] = (struct acs3_param){long_str, "v"};
    expect_error(&q, "param name over the limit");
    memset(long_str, 'a', big);

    struct acs3_header headers[ACS3_MAX_HEADERS + 1];
    for (size_t i = 0; i < ACS3_MAX_HEADERS + 1; i++)
        headers[i] = (struct acs3_header){"x-acs-a", "v"};
    q = base_request();
    q.headers = headers;
    q.n_headers = ACS3_MAX_HEADERS + 1;
    expect_error(&q, "too many headers");
    q.n_headers = 1;
    static const struct {
        const char *name, *value, *why;
    } bad_headers[] = {
        {NULL, "v", "header NULL name"},
        {"", "v", "header empty name"},
        {"x-acs-a b", "v", "header name with a space"},
        {"x-acs-a:", "v", "header name with a colon"},
        {"x-acs-a", NULL, "header NULL value"},
        {"x-acs-a", "v\r\nEvil: 1", "header value with CRLF"},
        {"host", "other", "caller sets host"},
        {"authorization", "x", "caller sets Authorization"},
        {"Host", "other", "caller sets Host"},
        {"X-Acs-Date", "2023-10-26T10:22:32Z", "caller sets x-acs-date"},
        {"x-acs-signature-nonce", DOC_NONCE, "caller sets the nonce header"},
        {"x-acs-content-sha256", EMPTY_SHA256, "caller sets the payload hash"},
        {"x-acs-security-token", "t", "caller sets the token header"},
        {"x-acs-accesskey-id", "id", "caller sets the key id header"},
        {"x-acs-action", "Other", "caller sets the action header"},
        {"x-acs-version", "1", "caller sets the version header"},
    };
    for (size_t i = 0; i < sizeof bad_headers / sizeof bad_headers[0]; i++) {
        headers[0] = (struct acs3_header){bad_headers[i].name, bad_headers[i].value};
        expect_error(&q, bad_headers[i].why);
    }
    headers[0] = (struct acs3_header){"Content-Type", "a"};
    headers[1] = (struct acs3_header){"content-type", "b"};
    q.n_headers = 2;
    expect_error(&q, "repeated header");
    q.n_headers = 1;
    long_str[ACS3_MAX_HEADER_NAME + 1] = '\0';
    headers[0] = (struct acs3_header){long_str, "v"};
    expect_error(&q, "header name over the limit");
    memset(long_str, 'a', big);
    long_str[ACS3_MAX_HEADER_VALUE + 1] = '\0';
    headers[0] = (struct acs3_header){"x-acs-a", long_str};
    expect_error(&q, "header value over the limit");
    free(long_str);
#undef BAD

    char tiny[3];
    q = base_request();
    q.nonce = NULL;
    assert_int_equal(acs3_sign(&q, &r, tiny, sizeof tiny), -1);
    assert_string_equal(tiny, "ac");
    q = base_request();
    q.security_token = "";
    assert_int_equal(acs3_sign(&q, &r, err, sizeof err), 0);
    assert_int_equal(r.n_headers, 6);
    acs3_result_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_published_run_instances),
        cmocka_unit_test(test_fc_invoke_function_async),
        cmocka_unit_test(test_query_rules),
        cmocka_unit_test(test_header_rules),
        cmocka_unit_test(test_dates),
        cmocka_unit_test(test_percent_encode),
        cmocka_unit_test(test_hostile_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
