/* test_lambda.c - the real binary as an AWS Lambda custom runtime.
 *
 * The bot is started with AWS_LAMBDA_RUNTIME_API pointing at fake_lambda (the
 * Runtime API and the Invoke API on loopback), mostly the way Lambda starts
 * it: as `bootstrap`, without arguments. Each case queues API Gateway / Function
 * URL events carrying signed LINE webhooks and checks what the runtime posts
 * back ({"statusCode":...}), the asynchronous self-invocation (signed with
 * SigV4, which the fake recomputes and refuses when wrong), the work
 * invocation that the fake delivers from it, and what the user got on the
 * fake LINE: exactly one answer.
 *
 * Waiting: the runtime does one invocation at a time, so "back in GET next
 * with nothing queued" (fake_lambda_wait_idle) means everything so far is
 * finished; the cases wait on that instead of sleeping.
 *
 * The first case checks the stand-in itself with a literal request whose
 * signature was computed outside linebot: it must accept that one and refuse
 * what AWS refuses (a wrong secret, a missing or foreign session token, a
 * body changed after signing, a synchronous invoke, an expired date), or the
 * other cases would prove nothing. The stand-in checks signatures with its
 * own SigV4 implementation (support/fake_sig.h), not with the bot's signer.
 *
 * A runtime is stopped with SIGTERM at the end (exit 0 or death by the signal
 * are both fine: Lambda freezes and kills runtimes, it never asks them to exit). */
#include <openssl/evp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include "fake_lambda.h"
#include "harness.h"

#define USER_A "Ue2e0000000000000000000000000000a"
#define USER_B "Ue2e0000000000000000000000000000b"
#define MAX_WEBHOOK (1024 * 1024)

/* ---- the world ---- */

static struct world *lambda_world(void **state, struct fake_lambda **out)
{
    struct world *w = world_new(state, NULL);
    struct fake_lambda *fl = fake_lambda_start(NULL);
    assert_non_null(fl);
    world_add_fake(w, fake_lambda_dump_cb, fake_lambda_stop_cb, fl);
    *out = fl;
    return w;
}

/* Starts the bot with Lambda's environment (plus `extra`), as `bootstrap`
 * without arguments or as `linebot serve`; does not wait. */
static void lambda_spawn(struct world *w, struct fake_lambda *fl, bool bootstrap, const char *const *extra)
{
    char *api = e2e_printf("AWS_LAMBDA_RUNTIME_API=%s", fake_lambda_runtime_api(fl));
    char *endpoint = e2e_printf("AWS_ENDPOINT_URL_LAMBDA=%s", fake_lambda_url(fl));
    const char *env[48] = {
        api,
        endpoint,
        "AWS_LAMBDA_FUNCTION_NAME=" FAKE_LAMBDA_FUNCTION,
        "AWS_LAMBDA_FUNCTION_VERSION=$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE=512",
        "AWS_REGION=" FAKE_AWS_REGION,
        "AWS_DEFAULT_REGION=" FAKE_AWS_REGION,
        "AWS_ACCESS_KEY_ID=" FAKE_AWS_ACCESS_KEY_ID,
        "AWS_SECRET_ACCESS_KEY=" FAKE_AWS_SECRET_ACCESS_KEY,
        "AWS_SESSION_TOKEN=" FAKE_AWS_SESSION_TOKEN,
        "_HANDLER=bootstrap",
        "LAMBDA_TASK_ROOT=/var/task",
        /* Lambda sets neither: the harness's HOST/PORT must not matter. */
        "HOST",
        "PORT",
    };
    size_t n = 0;
    while (env[n])
        n++;
    for (const char *const *x = extra; x && *x && n < 47; x++)
        env[n++] = *x;
    env[n] = NULL;
    if (bootstrap)
        bot_spawn_bootstrap(w, env);
    else
        bot_spawn(w, env);
    free(api);
    free(endpoint);
}

/* Starts the runtime and waits until it asks for its first invocation. */
static void lambda_start(struct world *w, struct fake_lambda *fl, bool bootstrap, const char *const *extra)
{
    lambda_spawn(w, fl, bootstrap, extra);
    if (!fake_lambda_wait_idle(fl, e2e_ms(15000))) {
        bot_print_log(w, 60);
        fail_msg("the runtime never asked for an invocation (GET /runtime/invocation/next)");
    }
}

static void wait_idle(struct world *w, struct fake_lambda *fl)
{
    (void)w; /* for symmetry with the harness's waits */
    if (!fake_lambda_wait_idle(fl, e2e_ms(E2E_WAIT_MS)))
        fail_msg("the runtime did not finish its invocations within %d ms", e2e_ms(E2E_WAIT_MS));
}

/* Checks the protocol, stops the runtime (Lambda stops runtimes with a
 * signal: exit 0 or death by SIGTERM are both fine) and ends the world. */
static void lambda_finish(struct world *w, struct fake_lambda *fl)
{
    char *problems = fake_lambda_problems(fl);
    if (problems)
        fail_msg("the fake Lambda saw protocol problems:\n%s", problems);
    for (size_t i = 0; i < fake_lambda_invocation_count(fl); i++) {
        struct fake_lambda_invocation inv;
        assert_true(fake_lambda_invocation_at(fl, i, &inv));
        if (inv.delivered && inv.n_results != 1)
            fail_msg("invocation %s got %d results, want exactly 1", inv.request_id, inv.n_results);
    }
    if (w->pid > 0) {
        int status = bot_term(w, e2e_ms(10000));
        if (status == -1) {
            bot_kill9(w);
            fail_msg("the runtime did not stop within 10 s of SIGTERM");
        }
        bool clean = (WIFEXITED(status) && WEXITSTATUS(status) == 0) ||
                     (WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM);
        if (!clean)
            fail_msg("the runtime ended badly on SIGTERM (wait status 0x%x)", status);
    }
    world_finish(w);
}

/* ---- Lambda events ---- */

enum event_kind {
    HTTP_API,     /* API Gateway HTTP API, payload 2.0, lower-case header names */
    FUNCTION_URL, /* Lambda function URL (2.0), body base64, header names in mixed case */
    REST_API,     /* API Gateway REST API, payload 1.0, headers and multiValueHeaders */
    REST_API_MULTI_ONLY, /* 1.0 with the signature only in multiValueHeaders */
};

static char *b64(const char *data, size_t len)
{
    char *out = e2e_xmalloc(4 * ((len + 2) / 3) + 1);
    EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)data, (int)len);
    return out;
}

/* The Lambda event that carries `body` with X-Line-Signature `sig` (NULL: none). */
static char *lambda_event(enum event_kind kind, const char *body, size_t len, const char *sig)
{
    static unsigned long seq;
    char reqid[64];
    snprintf(reqid, sizeof reqid, "e2eApiReq%06lu=", ++seq);
    json_t *ev;
    if (kind == HTTP_API || kind == FUNCTION_URL) {
        bool url = kind == FUNCTION_URL;
        json_t *headers = json_object();
        json_object_set_new(headers, url ? "Content-Type" : "content-type",
                            json_string("application/json; charset=utf-8"));
        json_object_set_new(headers, url ? "Host" : "host",
                            json_string(url ? "abcdefg.lambda-url.ap-northeast-1.on.aws"
                                            : "abcdefg.execute-api.ap-northeast-1.amazonaws.com"));
        json_object_set_new(headers, url ? "User-Agent" : "user-agent", json_string("LineBotWebhook/2.0"));
        json_object_set_new(headers, url ? "X-Forwarded-Proto" : "x-forwarded-proto", json_string("https"));
        if (sig)
            json_object_set_new(headers, url ? "X-Line-Signature" : "x-line-signature", json_string(sig));
        char *b = url ? b64(body, len) : NULL;
        ev = json_pack("{s:s,s:s,s:s,s:s,s:o,s:{s:s,s:s,s:s,s:{s:s,s:s,s:s,s:s,s:s},s:s,s:s,s:s,s:s,s:I},"
                       "s:s%,s:b}",
                       "version", "2.0", "routeKey", url ? "$default" : "POST /callback", "rawPath", "/callback",
                       "rawQueryString", "", "headers", headers, "requestContext", "accountId",
                       url ? "anonymous" : "123456789012", "apiId", "abcdefg", "domainName",
                       url ? "abcdefg.lambda-url.ap-northeast-1.on.aws"
                           : "abcdefg.execute-api.ap-northeast-1.amazonaws.com",
                       "http", "method", "POST", "path", "/callback", "protocol", "HTTP/1.1", "sourceIp",
                       "147.92.150.192", "userAgent", "LineBotWebhook/2.0", "requestId", reqid, "routeKey",
                       url ? "$default" : "POST /callback", "stage", "$default", "time", "21/Feb/2025:10:00:00 +0000",
                       "timeEpoch", (json_int_t)e2e_now_ms(), "body", url ? b : body, url ? strlen(b) : len,
                       "isBase64Encoded", url);
        free(b);
    } else {
        json_t *headers = json_pack("{s:s,s:s}", "Content-Type", "application/json; charset=utf-8", "Host",
                                    "abcdefg.execute-api.ap-northeast-1.amazonaws.com");
        json_t *multi = json_pack("{s:[s],s:[s]}", "Content-Type", "application/json; charset=utf-8", "Host",
                                  "abcdefg.execute-api.ap-northeast-1.amazonaws.com");
        if (sig) {
            if (kind == REST_API)
                json_object_set_new(headers, "X-Line-Signature", json_string(sig));
            json_object_set_new(multi, "X-Line-Signature", json_pack("[s]", sig));
        }
        ev = json_pack("{s:s,s:s,s:s,s:o,s:o,s:n,s:n,s:n,s:{s:s,s:s,s:s,s:s,s:s,s:s},s:s%,s:b}", "resource",
                       "/callback", "path", "/callback", "httpMethod", "POST", "headers", headers,
                       "multiValueHeaders", multi, "queryStringParameters", "multiValueQueryStringParameters",
                       "pathParameters", "requestContext", "accountId", "123456789012", "resourcePath",
                       "/callback", "httpMethod", "POST", "path", "/prod/callback", "stage", "prod", "requestId",
                       reqid, "body", body, len, "isBase64Encoded", 0);
    }
    assert_non_null(ev);
    char *s = json_dumps(ev, JSON_COMPACT);
    json_decref(ev);
    return s;
}

/* Queues a webhook invocation of `body`, correctly signed; returns its request id. */
static const char *post(struct fake_lambda *fl, enum event_kind kind, const char *body)
{
    char *sig = line_signature(E2E_CHANNEL_SECRET, body, strlen(body));
    char *event = lambda_event(kind, body, strlen(body), sig);
    const char *rid = fake_lambda_enqueue(fl, event);
    free(event);
    free(sig);
    return rid;
}

static const char *post_events(struct fake_lambda *fl, enum event_kind kind, json_t *ev)
{
    char *body = webhook_body(ev, NULL);
    const char *rid = post(fl, kind, body);
    free(body);
    return rid;
}

/* Waits for invocation `rid` to end; it must end with a response (not an
 * error). Returns the response's statusCode; `inv` (may be NULL) gets the record. */
static int wait_status(struct fake_lambda *fl, const char *rid, struct fake_lambda_invocation *inv)
{
    if (!fake_lambda_wait_result(fl, rid, e2e_ms(E2E_WAIT_MS)))
        fail_msg("invocation %s got no response within %d ms", rid, e2e_ms(E2E_WAIT_MS));
    struct fake_lambda_invocation rec;
    assert_true(fake_lambda_invocation(fl, rid, &rec));
    if (strcmp(rec.result_kind, "response") != 0)
        fail_msg("invocation %s ended with an %s (%s): %s", rid, rec.result_kind,
                 rec.error_type ? rec.error_type : "", rec.result);
    json_t *o = json_loads(rec.result, 0, NULL);
    json_t *code = json_object_get(o, "statusCode");
    if (!json_is_integer(code))
        fail_msg("the response of %s has no statusCode: %s", rid, rec.result);
    int status = (int)json_integer_value(code);
    /* What API Gateway turns into the HTTP answer. */
    json_t *body = json_object_get(o, "body");
    if (body && !json_is_string(body))
        fail_msg("the response of %s has a body that is not a string: %s", rid, rec.result);
    json_decref(o);
    if (inv)
        *inv = rec;
    return status;
}

/* Asserts invoke `i` was accepted: signed right (the fake recomputed it),
 * asynchronous, with the session token; returns the work invocation's id. */
static const char *assert_invoke_ok(struct fake_lambda *fl, size_t i)
{
    struct fake_lambda_invoke iv;
    if (!fake_lambda_invoke_at(fl, i, &iv))
        fail_msg("no invoke #%zu reached the fake Lambda", i);
    if (!iv.signature_ok || iv.status != 202)
        fail_msg("invoke #%zu was refused (%d): %s", i, iv.status, iv.problem ? iv.problem : "?");
    assert_string_equal(iv.invocation_type, "Event");
    assert_non_null(iv.security_token);
    assert_string_equal(iv.security_token, FAKE_AWS_SESSION_TOKEN);
    assert_contains(iv.authorization, "Credential=" FAKE_AWS_ACCESS_KEY_ID "/");
    assert_contains(iv.authorization, "/" FAKE_AWS_REGION "/lambda/aws4_request");
    /* The token is signed, as the AWS SDKs sign it. */
    assert_contains(iv.signed_headers, "x-amz-security-token");
    json_t *p = json_loadb(iv.body, iv.body_len, 0, NULL);
    if (!json_is_object(p) || !json_is_array(json_object_get(p, "events")))
        fail_msg("the invoke payload is not a work payload: %.500s", iv.body);
    json_decref(p);
    assert_non_null(iv.request_id);
    return iv.request_id;
}

static void assert_untouched_llm_line(struct world *w)
{
    assert_int_equal(fake_llm_request_count(w->llm), 0);
    assert_int_equal(fake_line_request_total(w->line), 0);
}

/* Exactly `n` answers to `chat` now (the runtime is idle, so nothing is on its way). */
static void assert_answered(struct world *w, const char *chat, size_t n)
{
    size_t got = fake_line_delivery_count(w->line, chat);
    if (got != n) {
        char *t = world_texts(w, chat);
        fail_msg("%s: want %zu answer(s), got %zu; texts:\n%.3000s", chat, n, got, t);
    }
}

/* ---- log lines ---- */

/* "2025-02-21T10:00:00.123Z" -> Unix ms, -1 when unreadable. */
static int64_t log_ts_ms(const char *ts)
{
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    int ms = 0, n = 0;
    if (!ts || sscanf(ts, "%4d-%2d-%2dT%2d:%2d:%2d.%3dZ%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
                      &tm.tm_min, &tm.tm_sec, &ms, &n) != 7 || ts[n] != '\0')
        return -1;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    return (int64_t)timegm(&tm) * 1000 + ms;
}

/* Every JSON line of the bot's log, parsed (a new array). */
static json_t *log_json_lines(struct world *w)
{
    char *log = bot_log(w);
    json_t *out = json_array();
    char *save = NULL;
    for (char *line = strtok_r(log, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        if (line[0] != '{')
            continue;
        json_t *o = json_loads(line, 0, NULL);
        if (json_is_object(o))
            json_array_append_new(out, o);
        else
            json_decref(o);
    }
    free(log);
    return out;
}

/* Log records (with "level") whose message starts with `prefix`: the first one. */
static json_t *find_log(json_t *lines, const char *prefix)
{
    size_t i;
    json_t *o;
    json_array_foreach(lines, i, o) {
        const char *msg = json_string_value(json_object_get(o, "msg"));
        if (json_object_get(o, "level") && msg && strncmp(msg, prefix, strlen(prefix)) == 0)
            return o;
    }
    return NULL;
}

static const char *str_or_null(json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "(null)";
}

/* Every log record written strictly inside invocation `rid` (by timestamp)
 * carries request_id `rid`; returns how many there were. */
static size_t assert_request_ids(json_t *lines, struct fake_lambda *fl, const char *rid)
{
    struct fake_lambda_invocation inv;
    assert_true(fake_lambda_invocation(fl, rid, &inv));
    size_t n = 0, i;
    json_t *o;
    json_array_foreach(lines, i, o) {
        if (!json_object_get(o, "level"))
            continue;
        int64_t t = log_ts_ms(json_string_value(json_object_get(o, "ts")));
        if (t <= inv.delivered_wall_ms || t >= inv.result_wall_ms)
            continue;
        n++;
        const char *got = json_string_value(json_object_get(o, "request_id"));
        if (!got || strcmp(got, rid) != 0) {
            char *s = json_dumps(o, JSON_COMPACT);
            fail_msg("a log line written during invocation %s has request_id %s:\n%s", rid, got ? got : "null", s);
        }
    }
    return n;
}

/* ---- the stand-in itself ---- */

/* A literal Invoke request, signed at LITERAL_TIME for LITERAL_HOST. The
 * signatures were computed outside linebot, with python3's hashlib/hmac
 * straight from AWS's SigV4 document (that code reproduces AWS's published
 * get-vanilla vector, 5fa00fa3...fbf31): canonical request
 *   POST\n/2015-03-31/functions/linebot-e2e/invocations\n\n
 *   content-type:application/json\nhost:LITERAL_HOST\nx-amz-date:20260101T000000Z\n
 *   x-amz-invocation-type:Event\nx-amz-security-token:FAKE_AWS_SESSION_TOKEN\n\n
 *   <signed headers>\nhex(sha256(LITERAL_BODY))
 * scope 20260101/ap-northeast-1/lambda/aws4_request, key FAKE_AWS_SECRET_ACCESS_KEY
 * (LITERAL_SIG) or "wrong-secret" (LITERAL_SIG_WRONG_SECRET). Neither this
 * test nor the stand-in calls the bot's signer. */
#define LITERAL_TIME INT64_C(1767225600) /* 2026-01-01T00:00:00Z */
#define LITERAL_HOST "lambda.ap-northeast-1.amazonaws.com"
#define LITERAL_BODY "{\"linebot\":\"work\",\"events\":[]}"
#define LITERAL_SIGNED "content-type;host;x-amz-date;x-amz-invocation-type;x-amz-security-token"
#define LITERAL_SIG "6d2f39c3946d09e06466cfd57bdb0fff013d08ccc63977c4ae46e18a00e287c2"
#define LITERAL_SIG_WRONG_SECRET "e543efb6d8ecf65b74392a856b8d62598b3d88bc08dfcc6d468805bdf8efbfea"

/* Sends the literal request with `signature`, `type` and `token` (NULL: no
 * X-Amz-Security-Token header) and `body`; returns the fake's status. */
static long literal_invoke(struct fake_lambda *fl, const char *signature, const char *type, const char *token,
                           const char *body)
{
    char *h[8];
    size_t n = 0;
    h[n++] = e2e_strdup("Host: " LITERAL_HOST);
    h[n++] = e2e_printf("X-Amz-Invocation-Type: %s", type);
    h[n++] = e2e_strdup("Content-Type: application/json");
    h[n++] = e2e_strdup("X-Amz-Date: 20260101T000000Z");
    if (token)
        h[n++] = e2e_printf("X-Amz-Security-Token: %s", token);
    h[n++] = e2e_printf("Authorization: AWS4-HMAC-SHA256 Credential=" FAKE_AWS_ACCESS_KEY_ID
                        "/20260101/" FAKE_AWS_REGION "/lambda/aws4_request, SignedHeaders=" LITERAL_SIGNED
                        ", Signature=%s", signature);
    h[n] = NULL;
    char *url = e2e_printf("%s/2015-03-31/functions/" FAKE_LAMBDA_FUNCTION "/invocations", fake_lambda_url(fl));
    long status = http_request("POST", url, body, strlen(body), (const char *const *)h, NULL, NULL);
    free(url);
    for (size_t i = 0; i < n; i++)
        free(h[i]);
    return status;
}

static void test_the_stand_in_checks_sigv4(void **state)
{
    (void)state;
    struct fake_lambda *fl = fake_lambda_start(NULL);
    assert_non_null(fl);
    fake_lambda_set_now(fl, LITERAL_TIME + 60);
    const char *tok = FAKE_AWS_SESSION_TOKEN;
    assert_int_equal(literal_invoke(fl, LITERAL_SIG, "Event", tok, LITERAL_BODY), 202);
    /* A wrong secret, a missing or foreign session token, a body changed after signing. */
    assert_int_equal(literal_invoke(fl, LITERAL_SIG_WRONG_SECRET, "Event", tok, LITERAL_BODY), 403);
    assert_int_equal(literal_invoke(fl, LITERAL_SIG, "Event", NULL, LITERAL_BODY), 403);
    assert_int_equal(literal_invoke(fl, LITERAL_SIG, "Event", "other-token", LITERAL_BODY), 403);
    assert_int_equal(literal_invoke(fl, LITERAL_SIG, "Event", tok, "{\"linebot\":\"work\",\"events\":[1]}"), 403);
    assert_int_equal(literal_invoke(fl, LITERAL_SIG, "RequestResponse", tok, LITERAL_BODY), 400);
    fake_lambda_fail_invokes(fl, 429, 1);
    assert_int_equal(literal_invoke(fl, LITERAL_SIG, "Event", tok, LITERAL_BODY), 429);
    /* Signed long ago: expired. */
    fake_lambda_set_now(fl, 0);
    assert_int_equal(literal_invoke(fl, LITERAL_SIG, "Event", tok, LITERAL_BODY), 403);
    assert_int_equal(fake_lambda_invoke_accepted(fl), 1);
    /* Only the accepted one became an invocation, and only one result per invocation. */
    assert_int_equal(fake_lambda_invocation_count(fl), 1);
    fake_lambda_stop(fl);
}

/* ---- cases ---- */

static void test_http_api_webhook_is_acknowledged_then_answered_by_the_async_invocation(void **state)
{
    struct fake_lambda *fl;
    struct world *w = lambda_world(state, &fl);
    lambda_start(w, fl, true, NULL);
    fake_llm_set_delay(w->llm, 2000);

    json_t *ev = ev_message(w, &(struct ev){.user = USER_A, .text = "hello from API Gateway"});
    const char *rid = post_events(fl, HTTP_API, ev);
    struct fake_lambda_invocation hook;
    assert_int_equal(wait_status(fl, rid, &hook), 200);
    /* The webhook invocation answers in milliseconds, whatever the model does. */
    if (hook.result_ms - hook.delivered_ms > e2e_ms(1000))
        fail_msg("the webhook invocation took %lld ms", (long long)(hook.result_ms - hook.delivered_ms));

    /* It handed the event to an asynchronous invocation of itself. */
    assert_int_equal(fake_lambda_invoke_count(fl), 1);
    const char *work = assert_invoke_ok(fl, 0);
    struct fake_lambda_invoke iv;
    assert_true(fake_lambda_invoke_at(fl, 0, &iv));
    assert_contains(iv.body, ev_get(ev, "webhookEventId"));

    struct fake_lambda_invocation done;
    if (!fake_lambda_wait_result(fl, work, e2e_ms(E2E_WAIT_MS)))
        fail_msg("the work invocation %s never ended", work);
    assert_true(fake_lambda_invocation(fl, work, &done));
    assert_string_equal(done.result_kind, "response");
    assert_contains(done.result, "done");
    wait_idle(w, fl);

    /* Answered exactly once, by the work invocation, with the reply token. */
    assert_answered(w, USER_A, 1);
    struct fake_line_message m;
    assert_true(fake_line_message_at(w->line, 0, &m));
    assert_string_equal(m.api, "reply");
    assert_string_equal(m.reply_token, ev_get(ev, "replyToken"));
    assert_string_equal(m.text, "echo: hello from API Gateway");
    assert_int_equal(fake_llm_request_count(w->llm), 1);
    /* LINE had its 200 long before the model answered. */
    if (m.at_ms - hook.result_ms < 1500)
        fail_msg("the reply came %lld ms after the webhook response; the model takes 2000 ms, so the webhook "
                 "invocation must have answered first",
                 (long long)(m.at_ms - hook.result_ms));
    assert_true(m.at_ms >= done.delivered_ms && m.at_ms <= done.result_ms);
    assert_int_equal(fake_lambda_invocation_count(fl), 2);
    lambda_finish(w, fl);
}

static void test_function_url_base64_body_and_mixed_case_headers(void **state)
{
    struct fake_lambda *fl;
    struct world *w = lambda_world(state, &fl);
    lambda_start(w, fl, true, NULL);
    json_t *ev = ev_message(w, &(struct ev){.user = USER_A, .text = "base64 über Function URL ✓"});
    const char *rid = post_events(fl, FUNCTION_URL, ev);
    assert_int_equal(wait_status(fl, rid, NULL), 200);
    assert_invoke_ok(fl, 0);
    wait_idle(w, fl);
    assert_answered(w, USER_A, 1);
    char *t = world_texts(w, USER_A);
    assert_string_equal(t, "echo: base64 über Function URL ✓");
    free(t);
    lambda_finish(w, fl);
}

static void test_rest_api_v1_event_is_answered(void **state)
{
    struct fake_lambda *fl;
    struct world *w = lambda_world(state, &fl);
    /* `linebot serve` runs the Lambda runtime too when AWS_LAMBDA_RUNTIME_API is set. */
    lambda_start(w, fl, false, NULL);
    json_t *a = ev_message(w, &(struct ev){.user = USER_A, .text = "via REST API"});
    assert_int_equal(wait_status(fl, post_events(fl, REST_API, a), NULL), 200);
    json_t *b = ev_message(w, &(struct ev){.user = USER_B, .text = "signature in multiValueHeaders only"});
    assert_int_equal(wait_status(fl, post_events(fl, REST_API_MULTI_ONLY, b), NULL), 200);
    wait_idle(w, fl);
    assert_int_equal(fake_lambda_invoke_accepted(fl), 2);
    assert_answered(w, USER_A, 1);
    assert_answered(w, USER_B, 1);
    char *t = world_texts(w, USER_B);
    assert_string_equal(t, "echo: signature in multiValueHeaders only");
    free(t);
    lambda_finish(w, fl);
}

static void test_bad_signature_is_401_without_invoke_or_model(void **state)
{
    struct fake_lambda *fl;
    struct world *w = lambda_world(state, &fl);
    lambda_start(w, fl, true, NULL);
    json_t *ev = ev_message(w, &(struct ev){.user = USER_A, .text = "forged"});
    char *body = webhook_body(ev, NULL);
    char *bad = line_signature("not-the-channel-secret", body, strlen(body));
    char *event = lambda_event(HTTP_API, body, strlen(body), bad);
    assert_int_equal(wait_status(fl, fake_lambda_enqueue(fl, event), NULL), 401);
    free(event);
    event = lambda_event(FUNCTION_URL, body, strlen(body), NULL); /* no signature at all */
    assert_int_equal(wait_status(fl, fake_lambda_enqueue(fl, event), NULL), 401);
    free(event);
    /* Signed over other bytes than the ones delivered. */
    char *other = line_signature(E2E_CHANNEL_SECRET, "{}", 2);
    event = lambda_event(REST_API, body, strlen(body), other);
    assert_int_equal(wait_status(fl, fake_lambda_enqueue(fl, event), NULL), 401);
    free(event);
    free(other);
    free(bad);
    free(body);
    wait_idle(w, fl);
    assert_int_equal(fake_lambda_invoke_count(fl), 0);
    assert_int_equal(fake_lambda_invocation_count(fl), 3);
    assert_untouched_llm_line(w);
    lambda_finish(w, fl);
}

static void test_malformed_and_oversized_requests(void **state)
{
    struct fake_lambda *fl;
    struct world *w = lambda_world(state, &fl);
    lambda_start(w, fl, true, NULL);
    /* A correctly signed body that is not JSON. */
    assert_int_equal(wait_status(fl, post(fl, HTTP_API, "{\"destination\":\"U1\",\"events\":[{"), NULL), 400);
    /* An invocation payload that is not JSON at all. */
    assert_int_equal(wait_status(fl, fake_lambda_enqueue(fl, "this is not an event"), NULL), 400);
    /* A base64 body that is not base64. */
    char *event = lambda_event(HTTP_API, "{}", 2, "sig");
    json_t *o = json_loads(event, 0, NULL);
    json_object_set_new(o, "body", json_string("!!! not base64 !!!"));
    json_object_set_new(o, "isBase64Encoded", json_true());
    char *bad64 = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    assert_int_equal(wait_status(fl, fake_lambda_enqueue(fl, bad64), NULL), 400);
    free(bad64);
    free(event);
    /* One byte over 1 MiB, correctly signed, as plain text and as base64. */
    size_t len = MAX_WEBHOOK + 1;
    char *big = e2e_xmalloc(len + 1);
    static const char head[] = "{\"destination\":\"" E2E_DESTINATION "\",\"events\":[],\"pad\":\"";
    memcpy(big, head, sizeof head - 1);
    memset(big + sizeof head - 1, 'x', len - (sizeof head - 1) - 2);
    memcpy(big + len - 2, "\"}", 2);
    big[len] = '\0';
    assert_int_equal(wait_status(fl, post(fl, HTTP_API, big), NULL), 413);
    assert_int_equal(wait_status(fl, post(fl, FUNCTION_URL, big), NULL), 413);
    free(big);
    wait_idle(w, fl);
    assert_int_equal(fake_lambda_invoke_count(fl), 0);
    assert_untouched_llm_line(w);
    lambda_finish(w, fl);
}

static void test_same_webhook_event_id_is_handed_off_and_answered_once(void **state)
{
    struct fake_lambda *fl;
    struct world *w = lambda_world(state, &fl);
    lambda_start(w, fl, true, NULL);
    json_t *ev = ev_message(w, &(struct ev){.user = USER_A, .text = "only once"});
    /* LINE's redelivery arrives while the first is still waiting for its work invocation... */
    const char *first = post_events(fl, HTTP_API, ev);
    const char *second = post_events(fl, HTTP_API, ev_redelivered(w, ev));
    assert_int_equal(wait_status(fl, first, NULL), 200);
    assert_int_equal(wait_status(fl, second, NULL), 200);
    wait_idle(w, fl);
    /* ...and once more after it was answered. */
    assert_int_equal(wait_status(fl, post_events(fl, FUNCTION_URL, ev_redelivered(w, ev)), NULL), 200);
    wait_idle(w, fl);
    assert_int_equal(fake_lambda_invoke_count(fl), 1);
    assert_invoke_ok(fl, 0);
    assert_answered(w, USER_A, 1);
    assert_int_equal(fake_llm_request_count(w->llm), 1);
    lambda_finish(w, fl);
}

static void test_failed_hand_off_is_5xx_and_the_redelivery_is_answered_once(void **state)
{
    struct fake_lambda *fl;
    struct world *w = lambda_world(state, &fl);
    lambda_start(w, fl, true, NULL);
    fake_lambda_fail_invokes(fl, 500, 1);
    fake_lambda_fail_invokes(fl, 429, 1);
    json_t *ev = ev_message(w, &(struct ev){.user = USER_A, .text = "do not lose me"});

    int status = wait_status(fl, post_events(fl, HTTP_API, ev), NULL);
    if (status < 500 || status > 599)
        fail_msg("a failed hand-off (Invoke answered 500) must be answered 5xx so LINE redelivers; got %d", status);
    wait_idle(w, fl);
    assert_int_equal(fake_lambda_invoke_count(fl), 1);
    struct fake_lambda_invoke iv;
    assert_true(fake_lambda_invoke_at(fl, 0, &iv));
    assert_true(iv.signature_ok); /* it failed for the scripted reason only */
    assert_int_equal(iv.status, 500);
    assert_int_equal(fake_lambda_invocation_count(fl), 1);
    assert_untouched_llm_line(w);

    /* LINE redelivers; Lambda throttles this time. */
    status = wait_status(fl, post_events(fl, HTTP_API, ev_redelivered(w, ev)), NULL);
    if (status < 500 || status > 599)
        fail_msg("a throttled hand-off (Invoke answered 429) must be answered 5xx; got %d", status);
    wait_idle(w, fl);
    assert_untouched_llm_line(w);

    /* Third time lucky: the redelivery must not be dropped as a duplicate. */
    assert_int_equal(wait_status(fl, post_events(fl, HTTP_API, ev_redelivered(w, ev)), NULL), 200);
    wait_idle(w, fl);
    assert_int_equal(fake_lambda_invoke_count(fl), 3);
    assert_invoke_ok(fl, 2);
    assert_answered(w, USER_A, 1);
    char *t = world_texts(w, USER_A);
    assert_string_equal(t, "echo: do not lose me");
    free(t);
    assert_int_equal(fake_llm_request_count(w->llm), 1);
    lambda_finish(w, fl);
}

static void test_inline_mode_answers_inside_the_webhook_invocation(void **state)
{
    struct fake_lambda *fl;
    struct world *w = lambda_world(state, &fl);
    lambda_start(w, fl, true, (const char *[]){"LINEBOT_ASYNC=inline", NULL});
    fake_llm_set_delay(w->llm, 300);
    json_t *ev = ev_message(w, &(struct ev){.user = USER_A, .text = "inline please"});
    struct fake_lambda_invocation hook;
    assert_int_equal(wait_status(fl, post_events(fl, HTTP_API, ev), &hook), 200);
    wait_idle(w, fl);
    assert_int_equal(fake_lambda_invoke_count(fl), 0);
    assert_int_equal(fake_lambda_invocation_count(fl), 1);
    assert_answered(w, USER_A, 1);
    struct fake_line_message m;
    assert_true(fake_line_message_at(w->line, 0, &m));
    assert_string_equal(m.text, "echo: inline please");
    if (m.at_ms > hook.result_ms)
        fail_msg("inline: the reply came %lld ms after the webhook invocation's response",
                 (long long)(m.at_ms - hook.result_ms));
    lambda_finish(w, fl);
}

static void test_missing_channel_secret_is_an_init_error(void **state)
{
    struct fake_lambda *fl;
    struct world *w = lambda_world(state, &fl);
    lambda_spawn(w, fl, true, (const char *[]){"LINE_CHANNEL_SECRET", NULL});
    if (!fake_lambda_wait_init_error(fl, e2e_ms(15000)))
        fail_msg("no POST /runtime/init/error");
    struct fake_lambda_init_error e;
    assert_true(fake_lambda_init_error_at(fl, 0, &e));
    json_t *o = json_loads(e.body, 0, NULL);
    const char *msg = json_string_value(json_object_get(o, "errorMessage"));
    if (!msg || !strstr(msg, "LINE_CHANNEL_SECRET"))
        fail_msg("the init error must name LINE_CHANNEL_SECRET: %s", e.body);
    assert_non_null(json_string_value(json_object_get(o, "errorType")));
    json_decref(o);
    assert_non_null(e.error_type);
    assert_not_contains(e.body, E2E_ACCESS_TOKEN);
    assert_not_contains(e.body, FAKE_AWS_SECRET_ACCESS_KEY);
    int status = bot_wait_exit(w, e2e_ms(10000));
    if (status == -1)
        fail_msg("the runtime kept running after its init error");
    if (!WIFEXITED(status) || WEXITSTATUS(status) == 0)
        fail_msg("after an init error the process must exit non-zero (wait status 0x%x)", status);
    assert_int_equal(fake_lambda_init_error_count(fl), 1);
    assert_int_equal(fake_lambda_poll_count(fl), 0);
    lambda_finish(w, fl);
}

static void test_unopenable_store_is_an_init_error(void **state)
{
    struct fake_lambda *fl;
    struct world *w = lambda_world(state, &fl);
    lambda_spawn(w, fl, true, (const char *[]){"LINEBOT_DB=/nonexistent-e2e-dir/sub/linebot.db", NULL});
    if (!fake_lambda_wait_init_error(fl, e2e_ms(15000)))
        fail_msg("no POST /runtime/init/error when the store cannot be opened");
    int status = bot_wait_exit(w, e2e_ms(10000));
    if (status == -1)
        fail_msg("the runtime kept running after its init error");
    if (!WIFEXITED(status) || WEXITSTATUS(status) == 0)
        fail_msg("after an init error the process must exit non-zero (wait status 0x%x)", status);
    assert_int_equal(fake_lambda_poll_count(fl), 0);
    lambda_finish(w, fl);
}

/* The EMF record (a JSON line with "_aws") whose metric `name` equals `value`. */
static json_t *find_emf(json_t *lines, const char *name, double value)
{
    size_t i;
    json_t *o;
    json_array_foreach(lines, i, o) {
        if (json_object_get(o, "_aws") && json_number_value(json_object_get(o, name)) == value)
            return o;
    }
    return NULL;
}

static void assert_emf_record(json_t *rec, const char *const *names)
{
    char *s = json_dumps(rec, JSON_COMPACT);
    json_t *cw = json_array_get(json_object_get(json_object_get(rec, "_aws"), "CloudWatchMetrics"), 0);
    if (!json_is_integer(json_object_get(json_object_get(rec, "_aws"), "Timestamp")))
        fail_msg("EMF record without _aws.Timestamp: %s", s);
    const char *ns = json_string_value(json_object_get(cw, "Namespace"));
    if (!ns || strcmp(ns, "LineBot") != 0)
        fail_msg("EMF record not in namespace LineBot: %s", s);
    json_t *metrics = json_object_get(cw, "Metrics");
    for (const char *const *n = names; *n; n++) {
        bool found = false;
        size_t i;
        json_t *m;
        json_array_foreach(metrics, i, m) {
            const char *mn = json_string_value(json_object_get(m, "Name"));
            found = found || (mn && strcmp(mn, *n) == 0);
        }
        if (!found || !json_is_number(json_object_get(rec, *n)))
            fail_msg("EMF record lacks metric %s: %s", *n, s);
    }
    /* Every dimension named must be a member of the record. */
    json_t *dims = json_array_get(json_object_get(cw, "Dimensions"), 0);
    size_t i;
    json_t *d;
    json_array_foreach(dims, i, d) {
        if (!json_object_get(rec, json_string_value(d)))
            fail_msg("EMF dimension %s is not in the record: %s", json_string_value(d), s);
    }
    const char *fn = json_string_value(json_object_get(rec, "FunctionName"));
    if (!fn || strcmp(fn, FAKE_LAMBDA_FUNCTION) != 0)
        fail_msg("EMF record's FunctionName is not %s: %s", FAKE_LAMBDA_FUNCTION, s);
    free(s);
}

static void test_emf_metrics_and_request_ids_in_the_logs(void **state)
{
    struct fake_lambda *fl;
    struct world *w = lambda_world(state, &fl);
    lambda_start(w, fl, true, NULL);
    fake_llm_set_delay(w->llm, 200);
    json_t *ev = ev_message(w, &(struct ev){.user = USER_A, .text = "measure me"});
    const char *hook = post_events(fl, HTTP_API, ev);
    assert_int_equal(wait_status(fl, hook, NULL), 200);
    const char *work = assert_invoke_ok(fl, 0);
    wait_idle(w, fl);
    assert_answered(w, USER_A, 1);

    json_t *lines = log_json_lines(w);
    /* One EMF record per invocation that changed something. */
    json_t *rec = find_emf(lines, "Webhooks", 1);
    if (!rec)
        fail_msg("no EMF record with Webhooks = 1 on stdout");
    assert_emf_record(rec, (const char *[]){"Webhooks", "EventsAnswered", "AsyncHandoffLatencyMs", NULL});
    rec = find_emf(lines, "EventsAnswered", 1);
    if (!rec)
        fail_msg("no EMF record with EventsAnswered = 1 on stdout");
    assert_emf_record(rec, (const char *[]){"Webhooks", "EventsAnswered", "EventsExpired", "LLMLatencyMs",
                                            "LLMErrors", "LINEAPIErrors", NULL});
    if (json_number_value(json_object_get(rec, "EventsExpired")) != 0)
        fail_msg("an answered event reported EventsExpired %g", json_number_value(json_object_get(rec, "EventsExpired")));
    /* Budgets: the fake model reports 10 prompt + 10 completion tokens. */
    assert_emf_record(rec, (const char *[]){"LLMTokens", "LLMPromptTokens", "LLMCompletionTokens", NULL});
    if (json_number_value(json_object_get(rec, "LLMTokens")) != 20)
        fail_msg("LLMTokens is %g; the model reported 20", json_number_value(json_object_get(rec, "LLMTokens")));
    if (json_number_value(json_object_get(rec, "LLMLatencyMs")) < 150)
        fail_msg("LLMLatencyMs is %g; the model took 200 ms", json_number_value(json_object_get(rec, "LLMLatencyMs")));
    /* Nothing failed in this invocation: the error counts are 0, not merely present. */
    if (json_number_value(json_object_get(rec, "LLMErrors")) != 0 ||
        json_number_value(json_object_get(rec, "LINEAPIErrors")) != 0)
        fail_msg("a clean answer reported LLMErrors %g, LINEAPIErrors %g",
                 json_number_value(json_object_get(rec, "LLMErrors")),
                 json_number_value(json_object_get(rec, "LINEAPIErrors")));

    /* The platform's request id is in the log lines of its invocation. */
    json_t *l = find_log(lines, "webhook:");
    if (!l || strcmp(str_or_null(l, "request_id"), hook) != 0)
        fail_msg("the webhook line must carry request_id %s; got %s", hook,
                 l ? str_or_null(l, "request_id") : "no line");
    l = find_log(lines, "answered");
    if (!l || strcmp(str_or_null(l, "request_id"), work) != 0)
        fail_msg("the work invocation's \"answered\" line must carry request_id %s; got %s", work,
                 l ? str_or_null(l, "request_id") : "no line");
    assert_request_ids(lines, fl, hook);
    assert_true(assert_request_ids(lines, fl, work) >= 1); /* the model takes 200 ms: lines in between */
    json_decref(lines);

    /* A model failure shows in the next invocation's record as LLMErrors >= 1. */
    fake_llm_set_always(w->llm, 500, "{\"error\":{\"message\":\"e2e: the model is down\"}}");
    ev = ev_message(w, &(struct ev){.user = USER_B, .text = "measure my failure"});
    hook = post_events(fl, HTTP_API, ev);
    assert_int_equal(wait_status(fl, hook, NULL), 200);
    assert_invoke_ok(fl, 1);
    wait_idle(w, fl);
    assert_answered(w, USER_B, 1); /* the apology */
    lines = log_json_lines(w);
    size_t i;
    json_t *o, *failed = NULL;
    json_array_foreach(lines, i, o) {
        if (json_object_get(o, "_aws") && json_number_value(json_object_get(o, "LLMErrors")) >= 1)
            failed = o;
    }
    if (!failed)
        fail_msg("no EMF record counts the model failure in LLMErrors");
    json_decref(lines);

    /* An event whose reply token is too old (push fallback off) expires
     * unanswered: the record of its invocation says so in EventsExpired. */
    ev = ev_message(w, &(struct ev){.user = USER_A, .text = "too late", .timestamp_ms = e2e_now_ms() - 2 * 60 * 1000});
    hook = post_events(fl, HTTP_API, ev);
    assert_int_equal(wait_status(fl, hook, NULL), 200);
    assert_invoke_ok(fl, 2);
    wait_idle(w, fl);
    lines = log_json_lines(w);
    if (!find_emf(lines, "EventsExpired", 1))
        fail_msg("no EMF record counts the expired event in EventsExpired");
    json_decref(lines);
    lambda_finish(w, fl);
}

static void test_work_invocation_keeps_to_its_deadline(void **state)
{
    struct fake_lambda *fl;
    struct world *w = lambda_world(state, &fl);
    lambda_start(w, fl, true, (const char *[]){"LINEBOT_ERROR_TEXT=e2e: the model was too slow", NULL});
    /* Lambda stops an invocation at its deadline: the answer must be out before. */
    fake_lambda_set_deadline(fl, 10000);
    fake_llm_set_delay(w->llm, 60000);
    json_t *ev = ev_message(w, &(struct ev){.user = USER_A, .text = "take your time"});
    assert_int_equal(wait_status(fl, post_events(fl, HTTP_API, ev), NULL), 200);
    const char *work = assert_invoke_ok(fl, 0);
    struct fake_lambda_invocation done;
    if (!fake_lambda_wait_result(fl, work, e2e_ms(15000)))
        fail_msg("the work invocation did not end by its deadline");
    assert_true(fake_lambda_invocation(fl, work, &done));
    assert_string_equal(done.result_kind, "response");
    if (done.result_wall_ms >= done.deadline_wall_ms)
        fail_msg("the work invocation responded %lld ms after its deadline",
                 (long long)(done.result_wall_ms - done.deadline_wall_ms));
    assert_answered(w, USER_A, 1);
    struct fake_line_message m;
    assert_true(fake_line_message_at(w->line, 0, &m));
    assert_string_equal(m.text, "e2e: the model was too slow");
    assert_string_equal(m.api, "reply");
    assert_true(m.at_ms <= done.result_ms);
    assert_int_equal(fake_llm_request_count(w->llm), 1);
    wait_idle(w, fl);
    lambda_finish(w, fl);
}

static void test_async_event_delivered_twice_is_answered_once(void **state)
{
    struct fake_lambda *fl;
    struct world *w = lambda_world(state, &fl);
    lambda_start(w, fl, true, NULL);
    fake_lambda_set_duplicate_invokes(fl, true);
    json_t *ev = ev_message(w, &(struct ev){.user = USER_A, .text = "at least once, answered once"});
    assert_int_equal(wait_status(fl, post_events(fl, HTTP_API, ev), NULL), 200);
    wait_idle(w, fl);
    assert_int_equal(fake_lambda_invoke_count(fl), 1);
    assert_int_equal(fake_lambda_invocation_count(fl), 3);
    for (size_t i = 1; i < 3; i++) {
        struct fake_lambda_invocation inv;
        assert_true(fake_lambda_invocation_at(fl, i, &inv));
        assert_true(inv.from_invoke);
        if (!inv.result_kind || strcmp(inv.result_kind, "response") != 0)
            fail_msg("work invocation %s ended with %s: %s", inv.request_id,
                     inv.result_kind ? inv.result_kind : "nothing", inv.result ? inv.result : "");
    }
    assert_answered(w, USER_A, 1);
    assert_int_equal(fake_llm_request_count(w->llm), 1);
    lambda_finish(w, fl);
}

static char *big_webhook(struct world *w, char users[][40], int n_users, const char *prefix)
{
    struct e2e_buf long_text = {0};
    for (int i = 0; i < 4000; i++)
        e2e_buf_adds(&long_text, "あ");
    char *text = e2e_buf_take(&long_text);
    json_t *arr = json_array();
    for (int i = 0; i < n_users; i++) {
        snprintf(users[i], 40, "%s%03d", prefix, i);
        json_array_append(arr, ev_message(w, &(struct ev){.user = users[i], .text = text}));
    }
    json_t *o = json_pack("{s:s,s:o}", "destination", E2E_DESTINATION, "events", arr);
    char *body = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    free(text);
    return body;
}

static void test_big_webhook_is_split_under_the_async_payload_cap(void **state)
{
    enum { USERS = 30 };
    struct fake_lambda *fl;
    struct world *w = lambda_world(state, &fl);
    lambda_start(w, fl, true, NULL);
    char users[USERS][40];
    char *body = big_webhook(w, users, USERS, "Ue2esplit000000000000000000000");
    assert_true(strlen(body) > 300 * 1024 && strlen(body) < MAX_WEBHOOK);
    assert_int_equal(wait_status(fl, post(fl, HTTP_API, body), NULL), 200);
    free(body);
    wait_idle(w, fl);
    size_t n = fake_lambda_invoke_count(fl);
    if (n < 2)
        fail_msg("%zu invoke(s) for ~360 KB of events; want them split under %d bytes", n, FAKE_LAMBDA_ASYNC_MAX);
    for (size_t i = 0; i < n; i++)
        assert_invoke_ok(fl, i);
    for (int i = 0; i < USERS; i++)
        assert_answered(w, users[i], 1);
    assert_int_equal(fake_llm_request_count(w->llm), USERS);
    lambda_finish(w, fl);
}

static void test_partly_failed_hand_off_loses_nothing_and_answers_once(void **state)
{
    enum { USERS = 30 };
    struct fake_lambda *fl;
    struct world *w = lambda_world(state, &fl);
    lambda_start(w, fl, true, NULL);
    char users[USERS][40];
    char *body = big_webhook(w, users, USERS, "Ue2epartial0000000000000000000");
    /* The first payload is accepted, the second fails. */
    fake_lambda_fail_invokes_after(fl, 1, 500, 1);
    int status = wait_status(fl, post(fl, HTTP_API, body), NULL);
    if (status < 500 || status > 599)
        fail_msg("a hand-off with a failed payload must be answered 5xx so LINE redelivers; got %d", status);
    wait_idle(w, fl);
    size_t first_round = fake_lambda_invoke_count(fl);
    assert_true(first_round >= 2);
    assert_invoke_ok(fl, 0);
    size_t answered_early = fake_line_delivery_count(w->line, NULL);
    /* LINE redelivers the whole webhook (isRedelivery is per event; the ids are the same). */
    assert_int_equal(wait_status(fl, post(fl, HTTP_API, body), NULL), 200);
    wait_idle(w, fl);
    for (size_t i = first_round; i < fake_lambda_invoke_count(fl); i++)
        assert_invoke_ok(fl, i);
    for (int i = 0; i < USERS; i++)
        assert_answered(w, users[i], 1);
    assert_int_equal(fake_llm_request_count(w->llm), USERS);
    assert_true(answered_early > 0 && answered_early < USERS);
    free(body);
    lambda_finish(w, fl);
}

static void test_aws_endpoint_url_is_the_fallback_override(void **state)
{
    struct fake_lambda *fl;
    struct world *w = lambda_world(state, &fl);
    char *general = e2e_printf("AWS_ENDPOINT_URL=%s", fake_lambda_url(fl));
    lambda_start(w, fl, true, (const char *[]){"AWS_ENDPOINT_URL_LAMBDA", general, NULL});
    free(general);
    json_t *ev = ev_message(w, &(struct ev){.user = USER_A, .text = "generic endpoint"});
    assert_int_equal(wait_status(fl, post_events(fl, HTTP_API, ev), NULL), 200);
    wait_idle(w, fl);
    assert_invoke_ok(fl, 0);
    assert_answered(w, USER_A, 1);
    lambda_finish(w, fl);
}

static void test_aws_endpoint_url_lambda_wins_over_aws_endpoint_url(void **state)
{
    struct fake_lambda *fl;
    struct world *w = lambda_world(state, &fl);
    /* AWS_ENDPOINT_URL points nowhere: were it used, the hand-off would fail. */
    lambda_start(w, fl, true, (const char *[]){"AWS_ENDPOINT_URL=http://127.0.0.1:9", NULL});
    json_t *ev = ev_message(w, &(struct ev){.user = USER_A, .text = "service-specific endpoint"});
    assert_int_equal(wait_status(fl, post_events(fl, HTTP_API, ev), NULL), 200);
    wait_idle(w, fl);
    assert_invoke_ok(fl, 0);
    assert_answered(w, USER_A, 1);
    lambda_finish(w, fl);
}

/* Queues an HTTP API event `method` `path` without a body; returns its statusCode. */
static int http_api_call(struct fake_lambda *fl, const char *method, const char *path)
{
    char *event = lambda_event(HTTP_API, "", 0, NULL);
    json_t *o = json_loads(event, 0, NULL);
    json_object_set_new(o, "rawPath", json_string(path));
    json_t *http = json_object_get(json_object_get(o, "requestContext"), "http");
    json_object_set_new(http, "method", json_string(method));
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    int status = wait_status(fl, fake_lambda_enqueue(fl, s), NULL);
    free(s);
    free(event);
    return status;
}

static void test_other_routes_and_foreign_invocation_payloads(void **state)
{
    struct fake_lambda *fl;
    struct world *w = lambda_world(state, &fl);
    lambda_start(w, fl, true, NULL);
    assert_int_equal(http_api_call(fl, "GET", "/healthz"), 200);
    assert_int_equal(http_api_call(fl, "GET", "/prod/healthz"), 200); /* a stage prefix */
    assert_int_equal(http_api_call(fl, "GET", "/callback"), 405);
    assert_int_equal(http_api_call(fl, "POST", "/elsewhere"), 404);

    /* Not HTTP and not linebot work (a schedule, a test event...): ignored, not an error. */
    static const char *const foreign[] = {
        "{\"version\":\"0\",\"source\":\"aws.events\",\"detail-type\":\"Scheduled Event\",\"detail\":{}}",
        "{\"linebot\":\"work\",\"events\":7}",
        "[1,2,3]",
    };
    for (size_t i = 0; i < sizeof foreign / sizeof foreign[0]; i++) {
        const char *rid = fake_lambda_enqueue(fl, foreign[i]);
        if (!fake_lambda_wait_result(fl, rid, e2e_ms(E2E_WAIT_MS)))
            fail_msg("foreign payload #%zu got no result", i);
        struct fake_lambda_invocation inv;
        assert_true(fake_lambda_invocation(fl, rid, &inv));
        if (strcmp(inv.result_kind, "response") != 0)
            fail_msg("foreign payload #%zu ended with an %s: %s", i, inv.result_kind, inv.result);
    }
    /* Work whose event cannot be read: finished without a crash or a message. */
    const char *rid = fake_lambda_enqueue(
        fl, "{\"linebot\":\"work\",\"events\":[{\"id\":\"01E2EBROKEN\",\"chat\":\"" USER_A "\",\"ts\":1,"
            "\"event\":\"{not an event\"}]}");
    assert_true(fake_lambda_wait_result(fl, rid, e2e_ms(E2E_WAIT_MS)));
    wait_idle(w, fl);
    assert_true(bot_running(w));
    assert_int_equal(fake_lambda_invoke_count(fl), 0);
    assert_untouched_llm_line(w);
    /* And the runtime still answers webhooks. */
    json_t *ev = ev_message(w, &(struct ev){.user = USER_A, .text = "still here?"});
    assert_int_equal(wait_status(fl, post_events(fl, HTTP_API, ev), NULL), 200);
    wait_idle(w, fl);
    assert_answered(w, USER_A, 1);
    lambda_finish(w, fl);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_the_stand_in_checks_sigv4),
        E2E_TEST(test_http_api_webhook_is_acknowledged_then_answered_by_the_async_invocation),
        E2E_TEST(test_function_url_base64_body_and_mixed_case_headers),
        E2E_TEST(test_rest_api_v1_event_is_answered),
        E2E_TEST(test_bad_signature_is_401_without_invoke_or_model),
        E2E_TEST(test_malformed_and_oversized_requests),
        E2E_TEST(test_same_webhook_event_id_is_handed_off_and_answered_once),
        E2E_TEST(test_failed_hand_off_is_5xx_and_the_redelivery_is_answered_once),
        E2E_TEST(test_inline_mode_answers_inside_the_webhook_invocation),
        E2E_TEST(test_missing_channel_secret_is_an_init_error),
        E2E_TEST(test_unopenable_store_is_an_init_error),
        E2E_TEST(test_emf_metrics_and_request_ids_in_the_logs),
        E2E_TEST(test_work_invocation_keeps_to_its_deadline),
        E2E_TEST(test_async_event_delivered_twice_is_answered_once),
        E2E_TEST(test_big_webhook_is_split_under_the_async_payload_cap),
        E2E_TEST(test_partly_failed_hand_off_loses_nothing_and_answers_once),
        E2E_TEST(test_aws_endpoint_url_is_the_fallback_override),
        E2E_TEST(test_aws_endpoint_url_lambda_wins_over_aws_endpoint_url),
        E2E_TEST(test_other_routes_and_foreign_invocation_payloads),
    };
    return E2E_RUN(tests);
}
