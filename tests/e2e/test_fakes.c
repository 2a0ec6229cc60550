/* test_fakes.c - self-tests of the e2e support library, without the bot.
 *
 * The cases trust the fakes to be as strict as LINE and OpenAI; this file is
 * why they may. It drives the fakes with libcurl and checks: Bearer auth,
 * single-use and expiring reply tokens, 1..5 messages of 1..5000 UTF-16
 * units, push retry keys (UUID, 409 on reuse), loading/start, member names,
 * scripted faults and delays, the records and wait helpers; the fake LLM's
 * echo, script queue, fixed answers and non-blocking delays; and the harness's
 * signature and UTF-16 helpers against LINE's published vectors. */
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

#define AUTH "Authorization: Bearer " E2E_ACCESS_TOKEN
#define JSON_CT "Content-Type: application/json"

static struct fake_line *line_start(void)
{
    struct fake_line *f = fake_line_start(E2E_ACCESS_TOKEN);
    assert_non_null(f);
    return f;
}

/* POSTs `body` to the fake LINE at `path` with auth (and optional extra header). */
static long line_post(struct fake_line *f, const char *path, const char *body, const char *extra,
                      struct http_result *out)
{
    char url[128];
    snprintf(url, sizeof url, "%s%s", fake_line_url(f), path);
    const char *headers[] = {AUTH, JSON_CT, extra, NULL};
    struct http_result tmp;
    struct http_result *r = out ? out : &tmp;
    http_do("POST", url, body, strlen(body), headers, r);
    long status = r->status;
    if (!out)
        http_result_free(r);
    return status;
}

static char *reply_body(const char *token, int n_messages, const char *text)
{
    json_t *msgs = json_array();
    for (int i = 0; i < n_messages; i++)
        json_array_append_new(msgs, json_pack("{s:s,s:s}", "type", "text", "text", text));
    json_t *o = json_pack("{s:s,s:o}", "replyToken", token, "messages", msgs);
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return s;
}

static char *push_body(const char *to, const char *text)
{
    json_t *o = json_pack("{s:s,s:[{s:s,s:s}]}", "to", to, "messages", "type", "text", "text", text);
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return s;
}

static void test_line_requires_bearer_token(void **state)
{
    (void)state;
    struct fake_line *f = line_start();
    fake_line_issue_token(f, "tok1", 60000);
    char *body = reply_body("tok1", 1, "hi");
    char url[128];
    snprintf(url, sizeof url, "%s%s", fake_line_url(f), FAKE_LINE_REPLY_PATH);
    const char *none[] = {JSON_CT, NULL};
    const char *wrong[] = {JSON_CT, "Authorization: Bearer nope", NULL};
    const char *basic[] = {JSON_CT, "Authorization: " E2E_ACCESS_TOKEN, NULL};
    assert_int_equal(http_request("POST", url, body, strlen(body), none, NULL, NULL), 401);
    assert_int_equal(http_request("POST", url, body, strlen(body), wrong, NULL, NULL), 401);
    assert_int_equal(http_request("POST", url, body, strlen(body), basic, NULL, NULL), 401);
    assert_int_equal(fake_line_message_count(f), 0);
    /* The token survived the refused attempts. */
    assert_int_equal(line_post(f, FAKE_LINE_REPLY_PATH, body, NULL, NULL), 200);
    assert_int_equal(fake_line_request_count_status(f, FAKE_LINE_REPLY_PATH, 401), 3);
    free(body);
    fake_line_stop(f);
}

static void test_line_reply_token_single_use(void **state)
{
    (void)state;
    struct fake_line *f = line_start();
    fake_line_issue_token_for(f, "tokA", "Ualice", 60000);
    char *body = reply_body("tokA", 2, "hello");
    struct http_result r;
    assert_int_equal(line_post(f, FAKE_LINE_REPLY_PATH, body, NULL, &r), 200);
    json_t *o = json_loads(r.body, 0, NULL);
    json_t *sent = json_object_get(o, "sentMessages");
    assert_int_equal(json_array_size(sent), 2);
    const char *id0 = json_string_value(json_object_get(json_array_get(sent, 0), "id"));
    const char *id1 = json_string_value(json_object_get(json_array_get(sent, 1), "id"));
    assert_non_null(id0);
    assert_non_null(id1);
    assert_string_not_equal(id0, id1);
    assert_true(strspn(id0, "0123456789") == strlen(id0));
    assert_true(fake_line_is_sent_id(f, id0));
    const char *q = json_string_value(json_object_get(json_array_get(sent, 0), "quoteToken"));
    assert_non_null(q);
    assert_int_equal(q[0], 'q');
    json_decref(o);
    http_result_free(&r);

    assert_int_equal(line_post(f, FAKE_LINE_REPLY_PATH, body, NULL, &r), 400);
    assert_non_null(strstr(r.body, "Invalid reply token"));
    http_result_free(&r);

    char *unknown = reply_body("never-issued", 1, "x");
    assert_int_equal(line_post(f, FAKE_LINE_REPLY_PATH, unknown, NULL, NULL), 400);
    free(unknown);

    assert_int_equal(fake_line_message_count(f), 2);
    assert_int_equal(fake_line_delivery_count(f, "Ualice"), 1);
    assert_int_equal(fake_line_message_count_to(f, "Ualice"), 2);
    struct fake_line_message m;
    assert_true(fake_line_message_at(f, 1, &m));
    assert_string_equal(m.api, "reply");
    assert_string_equal(m.reply_token, "tokA");
    assert_string_equal(m.text, "hello");
    char *texts = fake_line_texts(f, "Ualice", "|");
    assert_string_equal(texts, "hello|hello");
    free(texts);

    /* A consumed-by-the-test token is refused too. */
    fake_line_issue_token(f, "tokB", 60000);
    fake_line_consume_token(f, "tokB");
    char *b2 = reply_body("tokB", 1, "x");
    assert_int_equal(line_post(f, FAKE_LINE_REPLY_PATH, b2, NULL, NULL), 400);
    free(b2);
    free(body);
    fake_line_stop(f);
}

static void test_line_reply_token_expires(void **state)
{
    (void)state;
    struct fake_line *f = line_start();
    fake_line_issue_token(f, "short", 50);
    e2e_sleep_ms(120);
    char *body = reply_body("short", 1, "late");
    struct http_result r;
    assert_int_equal(line_post(f, FAKE_LINE_REPLY_PATH, body, NULL, &r), 400);
    assert_non_null(strstr(r.body, "Invalid reply token"));
    http_result_free(&r);
    assert_int_equal(fake_line_message_count(f), 0);
    free(body);
    fake_line_stop(f);
}

static void test_line_message_limits(void **state)
{
    (void)state;
    struct fake_line *f = line_start();
    fake_line_issue_token(f, "t", 60000);

    char *six = reply_body("t", 6, "x");
    assert_int_equal(line_post(f, FAKE_LINE_REPLY_PATH, six, NULL, NULL), 400);
    free(six);
    char *zero = reply_body("t", 0, "x");
    assert_int_equal(line_post(f, FAKE_LINE_REPLY_PATH, zero, NULL, NULL), 400);
    free(zero);
    char *empty = reply_body("t", 1, "");
    assert_int_equal(line_post(f, FAKE_LINE_REPLY_PATH, empty, NULL, NULL), 400);
    free(empty);

    /* 2500 emoji = 5000 UTF-16 units (10000 bytes): allowed; one more unit is not. */
    struct e2e_buf b = {0};
    for (int i = 0; i < 2500; i++)
        e2e_buf_adds(&b, "\xF0\x9F\x98\x80");
    char *max = e2e_buf_take(&b);
    char *over = e2e_printf("%sa", max);
    assert_int_equal(e2e_utf16_len(max, strlen(max)), 5000);
    char *bad = reply_body("t", 1, over);
    struct http_result r;
    assert_int_equal(line_post(f, FAKE_LINE_REPLY_PATH, bad, NULL, &r), 400);
    assert_non_null(strstr(r.body, "messages[0].text"));
    http_result_free(&r);
    free(bad);

    /* 5001 ASCII characters too. */
    char *ascii = e2e_xmalloc(5002);
    memset(ascii, 'a', 5001);
    ascii[5001] = '\0';
    char *bad2 = reply_body("t", 1, ascii);
    assert_int_equal(line_post(f, FAKE_LINE_REPLY_PATH, bad2, NULL, NULL), 400);
    free(bad2);

    json_t *img = json_pack("{s:s,s:[{s:s,s:s,s:s}]}", "replyToken", "t", "messages", "type",
                            "image", "originalContentUrl", "https://x", "previewImageUrl",
                            "https://x");
    char *imgs = json_dumps(img, JSON_COMPACT);
    assert_int_equal(line_post(f, FAKE_LINE_REPLY_PATH, imgs, NULL, NULL), 400);
    free(imgs);
    json_decref(img);

    /* Unknown quote token: refused. */
    const char *badq = "{\"replyToken\":\"t\",\"messages\":[{\"type\":\"text\",\"text\":\"x\","
                       "\"quoteToken\":\"nope\"}]}";
    assert_int_equal(line_post(f, FAKE_LINE_REPLY_PATH, badq, NULL, NULL), 400);
    fake_line_add_quote_token(f, "good-q");
    const char *goodq = "{\"replyToken\":\"t\",\"messages\":[{\"type\":\"text\",\"text\":\"x\","
                        "\"quoteToken\":\"good-q\"}]}";

    /* None of the refused requests used the token; five max-size messages pass. */
    assert_int_equal(fake_line_message_count(f), 0);
    json_t *five = json_array();
    for (int i = 0; i < 5; i++)
        json_array_append_new(five, json_pack("{s:s,s:s}", "type", "text", "text", max));
    json_t *o = json_pack("{s:s,s:o}", "replyToken", "t", "messages", five);
    char *ok = json_dumps(o, JSON_COMPACT);
    assert_int_equal(line_post(f, FAKE_LINE_REPLY_PATH, ok, NULL, NULL), 200);
    assert_int_equal(fake_line_message_count(f), 5);
    fake_line_issue_token(f, "t2", 60000);
    json_t *gq = json_loads(goodq, 0, NULL);
    json_object_set_new(gq, "replyToken", json_string("t2"));
    char *gqs = json_dumps(gq, JSON_COMPACT);
    assert_int_equal(line_post(f, FAKE_LINE_REPLY_PATH, gqs, NULL, NULL), 200);
    struct fake_line_message m;
    assert_true(fake_line_message_at(f, 5, &m));
    assert_string_equal(m.quote_token, "good-q");
    free(gqs);
    json_decref(gq);
    free(ok);
    json_decref(o);
    free(ascii);
    free(over);
    free(max);

    /* Wrong content type and invalid JSON. */
    char url[128];
    snprintf(url, sizeof url, "%s%s", fake_line_url(f), FAKE_LINE_PUSH_PATH);
    const char *text_ct[] = {AUTH, "Content-Type: text/plain", NULL};
    char *pb = push_body("Ux", "hi");
    assert_int_equal(http_request("POST", url, pb, strlen(pb), text_ct, NULL, NULL), 415);
    assert_int_equal(line_post(f, FAKE_LINE_PUSH_PATH, "{not json", NULL, NULL), 400);
    free(pb);
    fake_line_stop(f);
}

static void test_line_push_retry_key(void **state)
{
    (void)state;
    struct fake_line *f = line_start();
    char *body = push_body("Ubob", "pushed");
    assert_int_equal(line_post(f, FAKE_LINE_PUSH_PATH, body, "X-Line-Retry-Key: not-a-uuid", NULL),
                     400);
    const char *key = "X-Line-Retry-Key: 123e4567-e89b-42d3-a456-426614174000";
    struct http_result r;
    assert_int_equal(line_post(f, FAKE_LINE_PUSH_PATH, body, key, &r), 200);
    json_t *o = json_loads(r.body, 0, NULL);
    const char *id = json_string_value(json_object_get(json_array_get(json_object_get(o, "sentMessages"), 0), "id"));
    assert_non_null(id);
    char *first_id = e2e_strdup(id);
    json_decref(o);
    http_result_free(&r);

    assert_int_equal(line_post(f, FAKE_LINE_PUSH_PATH, body, key, &r), 409);
    assert_non_null(strstr(r.body, "The retry key is already accepted"));
    assert_true(e2e_contains_ci(r.headers, "x-line-accepted-request-id:"));
    assert_non_null(strstr(r.body, first_id)); /* 409 carries the original sentMessages */
    http_result_free(&r);
    /* Same key, upper case: the same UUID. */
    assert_int_equal(line_post(f, FAKE_LINE_PUSH_PATH, body,
                               "X-Line-Retry-Key: 123E4567-E89B-42D3-A456-426614174000", NULL),
                     409);

    /* Without a key, every push is delivered. */
    assert_int_equal(line_post(f, FAKE_LINE_PUSH_PATH, body, NULL, NULL), 200);
    assert_int_equal(line_post(f, FAKE_LINE_PUSH_PATH, body, NULL, NULL), 200);
    assert_int_equal(fake_line_delivery_count(f, "Ubob"), 3);
    struct fake_line_message m;
    assert_true(fake_line_message_at(f, 0, &m));
    assert_string_equal(m.api, "push");
    assert_string_equal(m.retry_key, "123e4567-e89b-42d3-a456-426614174000");
    assert_true(fake_line_message_at(f, 1, &m));
    assert_null(m.retry_key);

    const char *no_to = "{\"messages\":[{\"type\":\"text\",\"text\":\"x\"}]}";
    assert_int_equal(line_post(f, FAKE_LINE_PUSH_PATH, no_to, NULL, NULL), 400);
    free(first_id);
    free(body);
    fake_line_stop(f);
}

static void test_line_loading_and_names(void **state)
{
    (void)state;
    struct fake_line *f = line_start();
    assert_int_equal(line_post(f, FAKE_LINE_LOADING_PATH,
                               "{\"chatId\":\"Ucarol\",\"loadingSeconds\":20}", NULL, NULL),
                     202);
    assert_int_equal(line_post(f, FAKE_LINE_LOADING_PATH, "{\"chatId\":\"Ucarol\"}", NULL, NULL), 202);
    assert_int_equal(line_post(f, FAKE_LINE_LOADING_PATH,
                               "{\"chatId\":\"Ucarol\",\"loadingSeconds\":7}", NULL, NULL),
                     400);
    assert_int_equal(line_post(f, FAKE_LINE_LOADING_PATH,
                               "{\"chatId\":\"Ucarol\",\"loadingSeconds\":65}", NULL, NULL),
                     400);
    assert_int_equal(line_post(f, FAKE_LINE_LOADING_PATH,
                               "{\"chatId\":\"Cgroup\",\"loadingSeconds\":5}", NULL, NULL),
                     400);
    assert_int_equal(fake_line_loading_count(f, "Ucarol"), 2);
    assert_int_equal(fake_line_loading_count(f, NULL), 2);

    fake_line_set_name(f, "Cg1", "Ualice", "Alice");
    fake_line_set_name(f, "Rr1", "Ualice", "Alice in a room");
    fake_line_set_name(f, NULL, "Ubob", "Bob");
    const char *auth[] = {AUTH, NULL};
    char url[256];
    char *body = NULL;
    snprintf(url, sizeof url, "%s/v2/bot/group/Cg1/member/Ualice", fake_line_url(f));
    assert_int_equal(http_request("GET", url, NULL, 0, auth, &body, NULL), 200);
    json_t *o = json_loads(body, 0, NULL);
    assert_string_equal(json_string_value(json_object_get(o, "displayName")), "Alice");
    json_decref(o);
    free(body);
    snprintf(url, sizeof url, "%s/v2/bot/room/Rr1/member/Ualice", fake_line_url(f));
    assert_int_equal(http_request("GET", url, NULL, 0, auth, &body, NULL), 200);
    assert_non_null(strstr(body, "Alice in a room"));
    free(body);
    snprintf(url, sizeof url, "%s/v2/bot/profile/Ubob", fake_line_url(f));
    assert_int_equal(http_request("GET", url, NULL, 0, auth, &body, NULL), 200);
    assert_non_null(strstr(body, "\"Bob\""));
    free(body);
    snprintf(url, sizeof url, "%s/v2/bot/group/Cg2/member/Ualice", fake_line_url(f));
    assert_int_equal(http_request("GET", url, NULL, 0, auth, &body, NULL), 404);
    assert_non_null(strstr(body, "Not found"));
    free(body);
    snprintf(url, sizeof url, "%s/v2/bot/profile/Ualice", fake_line_url(f));
    assert_int_equal(http_request("GET", url, NULL, 0, auth, NULL, NULL), 404);
    snprintf(url, sizeof url, "%s/v2/bot/nothing", fake_line_url(f));
    assert_int_equal(http_request("GET", url, NULL, 0, auth, NULL, NULL), 404);
    fake_line_stop(f);
}

/* The set-up endpoints: bot info, the webhook endpoint and its test, as
 * strict as LINE (Bearer, https only, 500 characters, Content-Type). */
static void test_line_setup_endpoints(void **state)
{
    (void)state;
    struct fake_line *f = line_start();
    const char *auth[] = {AUTH, NULL};
    const char *auth_json[] = {AUTH, JSON_CT, NULL};
    const char *wrong[] = {"Authorization: Bearer nope", JSON_CT, NULL};
    char info[128], hook[160], test[160];
    snprintf(info, sizeof info, "%s" FAKE_LINE_BOT_INFO_PATH, fake_line_url(f));
    snprintf(hook, sizeof hook, "%s" FAKE_LINE_WEBHOOK_PATH, fake_line_url(f));
    snprintf(test, sizeof test, "%s" FAKE_LINE_WEBHOOK_TEST_PATH, fake_line_url(f));
    char *body = NULL;

    fake_line_set_bot_info(f, "Shop Bot", "@shop");
    assert_int_equal(http_request("GET", info, NULL, 0, auth, &body, NULL), 200);
    assert_non_null(strstr(body, "\"displayName\":\"Shop Bot\""));
    assert_non_null(strstr(body, "\"basicId\":\"@shop\""));
    free(body);
    assert_int_equal(http_request("GET", info, NULL, 0, wrong, NULL, NULL), 401);

    /* No webhook yet; a PUT sets the endpoint and keeps "active". */
    assert_int_equal(http_request("GET", hook, NULL, 0, auth, &body, NULL), 200);
    assert_non_null(strstr(body, "\"endpoint\":\"\""));
    assert_non_null(strstr(body, "\"active\":false"));
    free(body);
    const char *good = "{\"endpoint\":\"https://a.example/callback\"}";
    assert_int_equal(http_request("PUT", hook, good, strlen(good), wrong, NULL, NULL), 401);
    assert_int_equal(http_request("PUT", hook, good, strlen(good), auth, NULL, NULL), 415); /* no Content-Type */
    const char *plain = "{\"endpoint\":\"http://a.example/callback\"}";
    assert_int_equal(http_request("PUT", hook, plain, strlen(plain), auth_json, &body, NULL), 400);
    assert_non_null(strstr(body, "\"property\":\"endpoint\""));
    free(body);
    char *endpoint = fake_line_webhook_endpoint(f);
    assert_string_equal(endpoint, "");
    free(endpoint);
    fake_line_set_webhook(f, "", true);
    assert_int_equal(http_request("PUT", hook, good, strlen(good), auth_json, NULL, NULL), 200);
    endpoint = fake_line_webhook_endpoint(f);
    assert_string_equal(endpoint, "https://a.example/callback");
    free(endpoint);
    assert_int_equal(http_request("GET", hook, NULL, 0, auth, &body, NULL), 200);
    assert_non_null(strstr(body, "\"active\":true"));
    free(body);
    assert_int_equal(http_request("POST", hook, good, strlen(good), auth_json, NULL, NULL), 405);

    /* The test's verdict is what the test set. */
    assert_int_equal(http_request("POST", test, "{}", 2, auth_json, &body, NULL), 200);
    assert_non_null(strstr(body, "\"success\":true"));
    assert_non_null(strstr(body, "\"statusCode\":200"));
    free(body);
    fake_line_set_webhook_test(f, false, 503, "ERROR", "503 Service Unavailable");
    assert_int_equal(http_request("POST", test, good, strlen(good), auth_json, &body, NULL), 200);
    assert_non_null(strstr(body, "\"success\":false"));
    assert_non_null(strstr(body, "\"statusCode\":503"));
    assert_non_null(strstr(body, "\"detail\":\"503 Service Unavailable\""));
    free(body);
    assert_int_equal(http_request("POST", test, plain, strlen(plain), auth_json, NULL, NULL), 400);
    fake_line_stop(f);
}

static void test_line_scripted_faults_and_delay(void **state)
{
    (void)state;
    struct fake_line *f = line_start();
    fake_line_issue_token(f, "tf", 60000);
    fake_line_fail_next(f, FAKE_LINE_REPLY_PATH, 500, 2);
    char *body = reply_body("tf", 1, "after faults");
    assert_int_equal(line_post(f, FAKE_LINE_REPLY_PATH, body, NULL, NULL), 500);
    assert_int_equal(line_post(f, FAKE_LINE_REPLY_PATH, body, NULL, NULL), 500);
    assert_int_equal(line_post(f, FAKE_LINE_REPLY_PATH, body, NULL, NULL), 200);
    assert_int_equal(fake_line_request_count(f, "POST", FAKE_LINE_REPLY_PATH), 3);
    assert_int_equal(fake_line_request_count_status(f, FAKE_LINE_REPLY_PATH, 500), 2);
    assert_int_equal(fake_line_message_count(f), 1);

    /* Delivered, but the answer is lost: the token is used up all the same. */
    fake_line_issue_token(f, "tg", 60000);
    fake_line_fail_after_delivery(f, FAKE_LINE_REPLY_PATH, 502, 1);
    char *b3 = reply_body("tg", 1, "lost answer");
    assert_int_equal(line_post(f, FAKE_LINE_REPLY_PATH, b3, NULL, NULL), 502);
    assert_int_equal(fake_line_message_count(f), 2);
    assert_int_equal(line_post(f, FAKE_LINE_REPLY_PATH, b3, NULL, NULL), 400);
    free(b3);
    fake_line_fail_after_delivery(f, FAKE_LINE_PUSH_PATH, 500, 1);
    char *b4 = push_body("Ulost", "lost push");
    const char *k = "X-Line-Retry-Key: 00000000-1111-4222-8333-444444444444";
    assert_int_equal(line_post(f, FAKE_LINE_PUSH_PATH, b4, k, NULL), 500);
    assert_int_equal(line_post(f, FAKE_LINE_PUSH_PATH, b4, k, NULL), 409);
    assert_int_equal(fake_line_delivery_count(f, "Ulost"), 1);
    free(b4);

    fake_line_set_delay(f, FAKE_LINE_PUSH_PATH, 400);
    char *pb = push_body("Ud", "slow");
    struct http_result r;
    line_post(f, FAKE_LINE_PUSH_PATH, pb, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_true(r.elapsed_ms >= 350);
    http_result_free(&r);
    free(pb);
    free(body);
    fake_line_stop(f);
}

struct delayed_post {
    struct fake_line *f;
    int delay_ms;
};

static void *post_later(void *arg)
{
    struct delayed_post *d = arg;
    e2e_sleep_ms(d->delay_ms);
    char *pb = push_body("Uwait", "arrives later");
    line_post(d->f, FAKE_LINE_PUSH_PATH, pb, NULL, NULL);
    free(pb);
    return NULL;
}

static void test_line_wait_helpers(void **state)
{
    (void)state;
    struct fake_line *f = line_start();
    assert_false(fake_line_wait_messages(f, 1, 100));
    struct delayed_post d = {f, 200};
    pthread_t t;
    pthread_create(&t, NULL, post_later, &d);
    int64_t t0 = e2e_mono_ms();
    assert_true(fake_line_wait_messages(f, 1, 5000));
    assert_true(e2e_mono_ms() - t0 < 2000);
    assert_true(fake_line_wait_deliveries(f, "Uwait", 1, 100));
    assert_true(fake_line_wait_requests(f, FAKE_LINE_PUSH_PATH, 1, 100));
    assert_false(fake_line_wait_deliveries(f, "Uother", 1, 100));
    pthread_join(t, NULL);
    fake_line_stop(f);
}

/* ---- fake LLM ---- */

static long llm_post(struct fake_llm *f, const char *body, const char *auth, struct http_result *out)
{
    char url[128];
    snprintf(url, sizeof url, "%s/chat/completions", fake_llm_base_url(f));
    const char *headers[] = {JSON_CT, auth, NULL};
    http_do("POST", url, body, strlen(body), headers, out);
    return out->status;
}

static const char *chat_req =
    "{\"model\":\"test-model\",\"messages\":[{\"role\":\"system\",\"content\":\"sys\"},"
    "{\"role\":\"user\",\"content\":\"first\"},{\"role\":\"assistant\",\"content\":\"a1\"},"
    "{\"role\":\"user\",\"content\":\"second question\"}]}";

static char *answer_of(const char *body)
{
    json_t *o = json_loads(body, 0, NULL);
    const char *c = json_string_value(json_object_get(
        json_object_get(json_array_get(json_object_get(o, "choices"), 0), "message"), "content"));
    char *s = e2e_strdup(c);
    json_decref(o);
    return s;
}

static void test_llm_echo_and_auth(void **state)
{
    (void)state;
    struct fake_llm *f = fake_llm_start(E2E_LLM_KEY);
    assert_non_null(f);
    struct http_result r;
    assert_int_equal(llm_post(f, chat_req, "Authorization: Bearer wrong", &r), 401);
    http_result_free(&r);
    assert_int_equal(llm_post(f, chat_req, "Authorization: Bearer " E2E_LLM_KEY, &r), 200);
    char *a = answer_of(r.body);
    assert_string_equal(a, "echo: second question");
    free(a);
    http_result_free(&r);
    assert_int_equal(llm_post(f, "{\"model\":\"m\",\"messages\":[]}",
                              "Authorization: Bearer " E2E_LLM_KEY, &r), 400);
    http_result_free(&r);

    assert_int_equal(fake_llm_request_count(f), 3);
    char *auth = fake_llm_request_auth(f, 1);
    assert_string_equal(auth, "Bearer " E2E_LLM_KEY);
    free(auth);
    assert_int_equal(fake_llm_request_message_count(f, 1), 4);
    char *role = fake_llm_request_role(f, 1, 0);
    assert_string_equal(role, "system");
    free(role);
    char *c = fake_llm_request_content(f, 1, 2);
    assert_string_equal(c, "a1");
    free(c);
    char *last = fake_llm_request_last_user(f, 1);
    assert_string_equal(last, "second question");
    free(last);
    char *tr = fake_llm_request_transcript(f, 1);
    assert_non_null(strstr(tr, "assistant: a1\n"));
    free(tr);
    fake_llm_stop(f);
}

/* GET /v1/models: 404 until a test gives a list, then the list, Bearer checked. */
static void test_llm_models(void **state)
{
    (void)state;
    struct fake_llm *f = fake_llm_start(E2E_LLM_KEY);
    assert_non_null(f);
    char url[128];
    snprintf(url, sizeof url, "%s/models", fake_llm_base_url(f));
    const char *auth[] = {"Authorization: Bearer " E2E_LLM_KEY, NULL};
    const char *wrong[] = {"Authorization: Bearer wrong", NULL};
    assert_int_equal(http_request("GET", url, NULL, 0, auth, NULL, NULL), 404);
    fake_llm_set_models(f, (const char *[]){"m1", "m2", NULL});
    char *body = NULL;
    assert_int_equal(http_request("GET", url, NULL, 0, auth, &body, NULL), 200);
    json_t *o = json_loads(body, 0, NULL);
    json_t *data = json_object_get(o, "data");
    assert_int_equal(json_array_size(data), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(data, 1), "id")), "m2");
    json_decref(o);
    free(body);
    assert_int_equal(http_request("GET", url, NULL, 0, wrong, NULL, NULL), 401);
    char *line = fake_llm_request_line(f, 1);
    assert_string_equal(line, "GET /v1/models");
    free(line);
    fake_llm_set_models(f, NULL);
    assert_int_equal(http_request("GET", url, NULL, 0, auth, NULL, NULL), 404);
    fake_llm_stop(f);
}

static void test_llm_script_queue(void **state)
{
    (void)state;
    struct fake_llm *f = fake_llm_start(E2E_LLM_KEY);
    const char *auth = "Authorization: Bearer " E2E_LLM_KEY;
    fake_llm_push(f, 429, "{\"error\":{\"message\":\"slow down\"}}", "retry-after-ms: 100", 0);
    fake_llm_push(f, 200, "garbage", NULL, 0);
    fake_llm_push_answer(f, "scripted", 0);
    struct http_result r;
    assert_int_equal(llm_post(f, chat_req, auth, &r), 429);
    assert_true(e2e_contains_ci(r.headers, "retry-after-ms: 100"));
    http_result_free(&r);
    assert_int_equal(llm_post(f, chat_req, auth, &r), 200);
    assert_string_equal(r.body, "garbage");
    http_result_free(&r);
    assert_int_equal(llm_post(f, chat_req, auth, &r), 200);
    char *a = answer_of(r.body);
    assert_string_equal(a, "scripted");
    free(a);
    http_result_free(&r);

    fake_llm_set_fixed_answer(f, "always this");
    assert_int_equal(llm_post(f, chat_req, auth, &r), 200);
    a = answer_of(r.body);
    assert_string_equal(a, "always this");
    free(a);
    http_result_free(&r);
    fake_llm_set_always(f, 503, "{\"error\":{\"message\":\"down\"}}");
    assert_int_equal(llm_post(f, chat_req, auth, &r), 503);
    http_result_free(&r);
    fake_llm_set_always(f, 0, NULL);
    fake_llm_set_fixed_answer(f, NULL);
    assert_int_equal(llm_post(f, chat_req, auth, &r), 200);
    a = answer_of(r.body);
    assert_string_equal(a, "echo: second question");
    free(a);
    http_result_free(&r);
    assert_true(fake_llm_wait_requests(f, 6, 100));
    assert_false(fake_llm_wait_requests(f, 7, 100));
    fake_llm_stop(f);
}

struct slow_call {
    struct fake_llm *f;
    int64_t elapsed_ms;
    long status;
};

static void *call_llm(void *arg)
{
    struct slow_call *s = arg;
    struct http_result r;
    s->status = llm_post(s->f, chat_req, "Authorization: Bearer " E2E_LLM_KEY, &r);
    s->elapsed_ms = r.elapsed_ms;
    http_result_free(&r);
    return NULL;
}

static void test_llm_delay_does_not_block_others(void **state)
{
    (void)state;
    struct fake_llm *f = fake_llm_start(E2E_LLM_KEY);
    fake_llm_push_answer(f, "slow one", 1500);
    struct slow_call slow = {.f = f};
    pthread_t t;
    pthread_create(&t, NULL, call_llm, &slow);
    assert_true(fake_llm_wait_requests(f, 1, 2000));
    struct slow_call fast = {.f = f};
    call_llm(&fast);
    assert_int_equal(fast.status, 200);
    assert_true(fast.elapsed_ms < 700);
    pthread_join(t, NULL);
    assert_int_equal(slow.status, 200);
    assert_true(slow.elapsed_ms >= 1400);
    fake_llm_stop(f);
}

static void test_llm_stop_cuts_delay(void **state)
{
    (void)state;
    struct fake_llm *f = fake_llm_start(E2E_LLM_KEY);
    fake_llm_set_delay(f, 30000);
    struct slow_call slow = {.f = f};
    pthread_t t;
    pthread_create(&t, NULL, call_llm, &slow);
    assert_true(fake_llm_wait_requests(f, 1, 2000));
    int64_t t0 = e2e_mono_ms();
    fake_llm_stop(f);
    assert_true(e2e_mono_ms() - t0 < 2000);
    pthread_join(t, NULL);
}

/* ---- harness helpers ---- */

static void test_signature_vectors(void **state)
{
    (void)state;
    json_error_t err;
    json_t *root = json_load_file(FIXTURES_DIR "/signatures.json", 0, &err);
    assert_non_null(root);
    json_t *vectors = json_object_get(root, "vectors");
    assert_true(json_array_size(vectors) >= 2);
    size_t i;
    json_t *v;
    json_array_foreach(vectors, i, v) {
        const char *secret = json_string_value(json_object_get(v, "channel_secret"));
        const char *body = json_string_value(json_object_get(v, "body"));
        const char *want = json_string_value(json_object_get(v, "signature"));
        char *got = line_signature(secret, body, strlen(body));
        assert_string_equal(got, want);
        free(got);
    }
    json_decref(root);
}

static void test_utf16_and_mentions(void **state)
{
    (void)state;
    assert_int_equal(e2e_utf16_len("abc", 3), 3);
    assert_int_equal(e2e_utf16_len("\xC3\xA9", 2), 1);             /* é */
    assert_int_equal(e2e_utf16_len("\xE3\x81\x82", 3), 1);         /* あ */
    assert_int_equal(e2e_utf16_len("\xF0\x9F\x98\x80", 4), 2);     /* 😀 */
    assert_int_equal(e2e_utf16_len("\xFF", 1), 1);                 /* invalid byte */
    const char *text = "\xF0\x9F\x98\x80 hi @Bot there";
    struct mention_spec m = mention_of(text, "@Bot", true);
    assert_int_equal(m.index, 6);
    assert_int_equal(m.length, 4);
    assert_int_equal(e2e_utf16_to_byte(text, strlen(text), 6), 8);
    assert_true(e2e_is_uuid("123e4567-e89b-12d3-a456-426614174000"));
    assert_false(e2e_is_uuid("123e4567e89b12d3a456426614174000"));
    assert_false(e2e_is_uuid("123e4567-e89b-12d3-a456-42661417400g"));
    assert_true(e2e_contains_ci("Sorry!", "sorry"));
    char *s = e2e_strip_ws(" a b\n\tc ");
    assert_string_equal(s, "abc");
    free(s);
}

static void test_builders(void **state)
{
    struct world *w = world_new(state, NULL);
    json_t *ev = ev_message(w, &(struct ev){.group = "Cgrp", .user = "Uu", .text = "@Bot hi",
                                            .mentions = {mention_of("@Bot hi", "@Bot", true)},
                                            .n_mentions = 1, .quoted_message_id = "123"});
    assert_string_equal(ev_get(ev, "type"), "message");
    assert_string_equal(ev_get(ev, "source.type"), "group");
    assert_string_equal(ev_chat(ev), "Cgrp");
    assert_string_equal(ev_get(ev, "message.text"), "@Bot hi");
    assert_string_equal(ev_get(ev, "message.quotedMessageId"), "123");
    assert_non_null(ev_get(ev, "replyToken"));
    assert_non_null(ev_get(ev, "webhookEventId"));
    json_t *me = json_array_get(json_object_get(json_object_get(json_object_get(ev, "message"), "mention"), "mentionees"), 0);
    assert_true(json_is_true(json_object_get(me, "isSelf")));

    /* The builder issued the reply token for the group on the fake. */
    char url[128];
    snprintf(url, sizeof url, "%s%s", fake_line_url(w->line), FAKE_LINE_REPLY_PATH);
    char *body = reply_body(ev_get(ev, "replyToken"), 1, "ok");
    const char *headers[] = {AUTH, JSON_CT, NULL};
    assert_int_equal(http_request("POST", url, body, strlen(body), headers, NULL, NULL), 200);
    assert_int_equal(fake_line_delivery_count(w->line, "Cgrp"), 1);
    free(body);

    json_t *sb = ev_message(w, &(struct ev){.standby = true});
    assert_null(ev_get(sb, "replyToken"));
    assert_string_equal(ev_get(sb, "mode"), "standby");
    json_t *re = ev_redelivered(w, sb);
    assert_true(json_is_true(json_object_get(json_object_get(re, "deliveryContext"), "isRedelivery")));
    assert_string_equal(ev_get(re, "webhookEventId"), ev_get(sb, "webhookEventId"));
    json_t *un = ev_unsend(w, &(struct ev){.message_id = "42"});
    assert_string_equal(ev_get(un, "unsend.messageId"), "42");
    json_t *ed = ev_edited(w, &(struct ev){.message_id = "42", .text = "new"});
    assert_string_equal(ev_get(ed, "message.text"), "new");

    char *wh = webhook_body(ev, sb, NULL);
    json_t *o = json_loads(wh, 0, NULL);
    assert_int_equal(json_array_size(json_object_get(o, "events")), 2);
    assert_string_equal(json_string_value(json_object_get(o, "destination")), E2E_DESTINATION);
    json_decref(o);
    free(wh);

    /* metrics_value returns a double: compare as doubles, not through cmocka's integers. */
    assert_true(metrics_value("# HELP x\nlinebot_a 3\nlinebot_b{type=\"m\"} 4.5\n", "linebot_b{type=\"m\"}") == 4.5);
    assert_true(metrics_value("linebot_a 3\n", "linebot_c") == -1.0);
    world_finish(w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_line_requires_bearer_token),
        cmocka_unit_test(test_line_reply_token_single_use),
        cmocka_unit_test(test_line_reply_token_expires),
        cmocka_unit_test(test_line_message_limits),
        cmocka_unit_test(test_line_push_retry_key),
        cmocka_unit_test(test_line_loading_and_names),
        cmocka_unit_test(test_line_setup_endpoints),
        cmocka_unit_test(test_line_scripted_faults_and_delay),
        cmocka_unit_test(test_line_wait_helpers),
        cmocka_unit_test(test_llm_echo_and_auth),
        cmocka_unit_test(test_llm_models),
        cmocka_unit_test(test_llm_script_queue),
        cmocka_unit_test(test_llm_delay_does_not_block_others),
        cmocka_unit_test(test_llm_stop_cuts_delay),
        cmocka_unit_test(test_signature_vectors),
        cmocka_unit_test(test_utf16_and_mentions),
        E2E_TEST(test_builders),
    };
    return E2E_RUN(tests);
}
