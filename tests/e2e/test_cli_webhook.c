/* test_cli_webhook.c - `linebot webhook set URL | get | test [URL]` against
 * the fake LINE.
 *
 * The real binary runs once per command (bot_run). The oracle is what the
 * fake LINE received (method, path, JSON body, the literal Authorization
 * header) and the state it keeps (the registered endpoint), plus the exit
 * status and the text printed. The commands must work with nothing but the
 * LINE token: every case removes the model, store and port settings. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

#define HOOK_URL "https://bot.example.com/callback"

/* Only LINE settings: a model or store setting the command read would be missing. */
static const char *const line_only[] = {"LLM_PROVIDER", "LLM_BASE_URL", "LLM_API_KEY", "LLM_MODEL",
                                        "LINE_CHANNEL_SECRET", "LINEBOT_DB", "PORT", "HOST", NULL};

static int run(struct world *w, const char *const *args, const char *const *extra, char **out, char **err)
{
    const char *env[24];
    size_t n = 0;
    for (const char *const *p = line_only; *p; p++)
        env[n++] = *p;
    for (const char *const *p = extra; p && *p && n < 23; p++)
        env[n++] = *p;
    env[n] = NULL;
    return bot_run(w, args, env, out, err);
}

/* The last request the fake LINE received; fails when there is none. */
static struct fake_line_request last_request(struct world *w)
{
    struct fake_line_request q;
    size_t n = fake_line_request_total(w->line);
    assert_true(n > 0);
    assert_true(fake_line_request_at(w->line, n - 1, &q));
    return q;
}

/* The request's body parsed; its "endpoint" must be `want` (NULL: absent). */
static void assert_endpoint_body(const char *body, const char *want)
{
    json_t *j = json_loads(body, 0, NULL);
    if (!json_is_object(j))
        fail_msg("request body is not a JSON object: %s", body);
    const char *got = json_string_value(json_object_get(j, "endpoint"));
    if (want)
        assert_string_equal(got ? got : "(absent)", want);
    else
        assert_null(json_object_get(j, "endpoint"));
    json_decref(j);
}

static void test_set_registers_the_url(void **state)
{
    struct world *w = world_new(state, NULL);
    char *out, *err;
    int rc = run(w, (const char *[]){"webhook", "set", HOOK_URL, NULL}, NULL, &out, &err);
    if (rc != 0)
        fail_msg("exit %d; stderr:\n%s", rc, err);
    assert_contains(out, HOOK_URL);
    struct fake_line_request q = last_request(w);
    assert_string_equal(q.method, "PUT");
    assert_string_equal(q.path, "/v2/bot/channel/webhook/endpoint");
    assert_string_equal(q.authorization, "Bearer " E2E_ACCESS_TOKEN);
    assert_endpoint_body(q.body, HOOK_URL);
    assert_int_equal(q.status, 200);
    char *now = fake_line_webhook_endpoint(w->line);
    assert_string_equal(now, HOOK_URL);
    free(now);
    assert_not_contains(out, E2E_ACCESS_TOKEN);
    assert_not_contains(err, E2E_ACCESS_TOKEN);
    free(out);
    free(err);
    world_finish(w);
}

static void test_set_refuses_a_url_line_cannot_call(void **state)
{
    struct world *w = world_new(state, NULL);
    static const char *const bad[] = {"http://bot.example.com/callback", "bot.example.com/callback",
                                      "https:///callback", "ftp://bot.example.com/", NULL};
    for (const char *const *u = bad; *u; u++) {
        char *err;
        int rc = run(w, (const char *[]){"webhook", "set", *u, NULL}, NULL, NULL, &err);
        if (rc != 2)
            fail_msg("set %s: exit %d (want 2); stderr:\n%s", *u, rc, err);
        assert_contains(err, *u);
        free(err);
    }
    char *err;
    assert_int_equal(run(w, (const char *[]){"webhook", "set", "http://bot.example.com/x", NULL}, NULL, NULL, &err),
                     2);
    assert_contains(err, "https://");
    free(err);
    assert_int_equal(fake_line_request_total(w->line), 0);
    char *now = fake_line_webhook_endpoint(w->line);
    assert_string_equal(now, "");
    free(now);
    world_finish(w);
}

static void test_get_prints_endpoint_and_active(void **state)
{
    struct world *w = world_new(state, NULL);
    fake_line_set_webhook(w->line, HOOK_URL, true);
    char *out;
    /* LINE_ACCESS_TOKEN is the other accepted name of the token. */
    int rc = run(w, (const char *[]){"webhook", "get", NULL},
                 (const char *[]){"LINE_CHANNEL_ACCESS_TOKEN", "LINE_ACCESS_TOKEN=" E2E_ACCESS_TOKEN, NULL}, &out,
                 NULL);
    assert_int_equal(rc, 0);
    assert_contains(out, "endpoint: " HOOK_URL "\n");
    assert_contains(out, "active:   yes\n");
    struct fake_line_request q = last_request(w);
    assert_string_equal(q.method, "GET");
    assert_string_equal(q.path, "/v2/bot/channel/webhook/endpoint");
    assert_string_equal(q.authorization, "Bearer " E2E_ACCESS_TOKEN);
    free(out);

    fake_line_set_webhook(w->line, HOOK_URL, false);
    assert_int_equal(run(w, (const char *[]){"webhook", "get", NULL}, NULL, &out, NULL), 0);
    assert_contains(out, "active:   no\n");
    assert_contains(out, "Use webhook");
    free(out);

    fake_line_set_webhook(w->line, "", false);
    assert_int_equal(run(w, (const char *[]){"webhook", "get", NULL}, NULL, &out, NULL), 0);
    assert_contains(out, "endpoint: (none)\n");
    free(out);
    world_finish(w);
}

static void test_line_errors_are_shown_without_the_token(void **state)
{
    struct world *w = world_new(state, NULL);
    const char *wrong = "LINE_CHANNEL_ACCESS_TOKEN=wrong-token-0123456789abcdef";
    static const char *const subs[][4] = {{"webhook", "get", NULL}, {"webhook", "set", HOOK_URL, NULL},
                                          {"webhook", "test", NULL}};
    for (size_t i = 0; i < 3; i++) {
        char *out, *err;
        int rc = run(w, subs[i], (const char *[]){wrong, NULL}, &out, &err);
        if (rc != 1)
            fail_msg("%s with a refused token: exit %d (want 1); stderr:\n%s", subs[i][1], rc, err);
        assert_contains(err, "401");
        assert_contains(err, "Authentication failed"); /* LINE's own message */
        assert_contains(err, "LINE_CHANNEL_ACCESS_TOKEN");
        assert_not_contains(err, "wrong-token-0123456789abcdef");
        assert_not_contains(out, "wrong-token-0123456789abcdef");
        free(out);
        free(err);
    }
    struct fake_line_request q = last_request(w);
    assert_string_equal(q.authorization, "Bearer wrong-token-0123456789abcdef");

    /* A failure at LINE: its message reaches the user, and nothing is set. */
    fake_line_fail_next(w->line, "/v2/bot/channel/webhook/endpoint", 500, 1);
    char *err;
    assert_int_equal(run(w, (const char *[]){"webhook", "set", HOOK_URL, NULL}, NULL, NULL, &err), 1);
    assert_contains(err, "500");
    assert_contains(err, "scripted failure");
    free(err);
    char *now = fake_line_webhook_endpoint(w->line);
    assert_string_equal(now, "");
    free(now);

    /* A URL LINE refuses (longer than its 500 characters): its details say why. */
    char longer[640];
    memset(longer, 'a', sizeof longer - 1);
    longer[sizeof longer - 1] = '\0';
    char *long_url = e2e_printf("https://bot.example.com/%s", longer);
    assert_int_equal(run(w, (const char *[]){"webhook", "set", long_url, NULL}, NULL, NULL, &err), 1);
    assert_contains(err, "400");
    assert_contains(err, "endpoint: Size must be between 0 and 500");
    free(long_url);
    free(err);

    /* LINE unreachable. */
    assert_int_equal(run(w, (const char *[]){"webhook", "get", NULL},
                         (const char *[]){"LINE_API_BASE_URL=http://127.0.0.1:1", NULL}, NULL, &err),
                     1);
    assert_contains(err, "could not be reached");
    free(err);
    world_finish(w);
}

static void test_test_prints_the_verdict(void **state)
{
    struct world *w = world_new(state, NULL);
    fake_line_set_webhook(w->line, HOOK_URL, true);
    char *out, *err;
    int rc = run(w, (const char *[]){"webhook", "test", NULL}, NULL, &out, &err);
    if (rc != 0)
        fail_msg("exit %d; stderr:\n%s", rc, err);
    assert_contains(out, "success:    true\n");
    assert_contains(out, "statusCode: 200\n");
    assert_contains(out, "reason:     OK\n");
    assert_contains(out, "detail:     200\n");
    assert_contains(out, "timestamp:  20");
    struct fake_line_request q = last_request(w);
    assert_string_equal(q.method, "POST");
    assert_string_equal(q.path, "/v2/bot/channel/webhook/test");
    assert_string_equal(q.authorization, "Bearer " E2E_ACCESS_TOKEN);
    assert_endpoint_body(q.body, NULL);
    free(out);
    free(err);

    /* With a URL: LINE tests that one. */
    rc = run(w, (const char *[]){"webhook", "test", "https://other.example.com/callback", NULL}, NULL, &out, NULL);
    assert_int_equal(rc, 0);
    q = last_request(w);
    assert_endpoint_body(q.body, "https://other.example.com/callback");
    free(out);
    world_finish(w);
}

static void test_test_exits_1_when_line_says_no(void **state)
{
    struct world *w = world_new(state, NULL);
    fake_line_set_webhook(w->line, HOOK_URL, true);
    fake_line_set_webhook_test(w->line, false, 404, "ERROR", "404 Not Found");
    char *out, *err;
    int rc = run(w, (const char *[]){"webhook", "test", NULL}, NULL, &out, &err);
    assert_int_equal(rc, 1);
    assert_contains(out, "success:    false\n");
    assert_contains(out, "statusCode: 404\n");
    assert_contains(out, "reason:     ERROR\n");
    assert_contains(out, "detail:     404 Not Found\n");
    assert_contains(err, "could not deliver");
    free(out);
    free(err);
    world_finish(w);
}

static void test_usage(void **state)
{
    struct world *w = world_new(state, NULL);
    char *out, *err;
    assert_int_equal(run(w, (const char *[]){"webhook", "--help", NULL}, NULL, &out, NULL), 0);
    assert_contains(out, "linebot webhook set URL");
    assert_contains(out, "linebot webhook get");
    assert_contains(out, "linebot webhook test");
    free(out);
    static const char *const bad[][5] = {{"webhook", NULL}, {"webhook", "frob", NULL},
                                         {"webhook", "set", NULL}, {"webhook", "get", "extra", NULL},
                                         {"webhook", "test", HOOK_URL, "extra", NULL}};
    for (size_t i = 0; i < 5; i++) {
        assert_int_equal(run(w, bad[i], NULL, NULL, &err), 2);
        assert_contains(err, "Usage: linebot webhook");
        free(err);
    }
    /* The main help names the command. */
    assert_int_equal(run(w, (const char *[]){"--help", NULL}, NULL, &out, NULL), 0);
    assert_contains(out, "linebot webhook");
    free(out);
    /* No token: a clear message naming the setting, nothing sent. */
    assert_int_equal(run(w, (const char *[]){"webhook", "get", NULL}, (const char *[]){"LINE_CHANNEL_ACCESS_TOKEN", NULL},
                         NULL, &err),
                     1);
    assert_contains(err, "LINE_CHANNEL_ACCESS_TOKEN is not set");
    free(err);
    assert_int_equal(fake_line_request_total(w->line), 0);
    world_finish(w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        E2E_TEST(test_set_registers_the_url),
        E2E_TEST(test_set_refuses_a_url_line_cannot_call),
        E2E_TEST(test_get_prints_endpoint_and_active),
        E2E_TEST(test_line_errors_are_shown_without_the_token),
        E2E_TEST(test_test_prints_the_verdict),
        E2E_TEST(test_test_exits_1_when_line_says_no),
        E2E_TEST(test_usage),
    };
    return E2E_RUN(tests);
}
