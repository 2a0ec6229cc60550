/* test_models.c - models that behave differently, with the real binary.
 *
 * The oracle is the request body the fake LLM received: OpenAI's
 * max_completion_tokens with LLM_PROVIDER=openai (the harness's provider),
 * reasoning_effort for a reasoning model (gpt-5-mini, o3-mini) and never for
 * gpt-4o, and DashScope's enable_thinking with max_tokens for a DashScope
 * host even when LLM_PROVIDER=openai. The fake listens on 127.0.0.1, so the
 * test build's LINEBOT_TEST_DASHSCOPE_HOST makes that host count as
 * DashScope's. The same rules hold for each model of a LINEBOT_MODELS
 * catalogue, by its own provider, host and id. Then the log: a 400 naming reasoning_effort, and an empty
 * answer cut at the limit, each name the setting to change; a bad
 * LINEBOT_REASONING_EFFORT stops start-up naming it. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "harness.h"

#define USER_A "Ue2e0000000000000000000000000000a"
#define USER_B "Ue2e0000000000000000000000000000b"
#define USER_C "Ue2e0000000000000000000000000000c"
#define APOLOGY "E2E apology: the model failed."

/* `user` says something; waits for the one answer; returns the body of the
 * last request the fake LLM received (new reference). */
static json_t *ask(struct world *w, const char *user, const char *text)
{
    size_t before = fake_llm_request_count(w->llm);
    send_text(w, user, text);
    assert_answers(w, user, 1);
    size_t n = fake_llm_request_count(w->llm);
    assert_int_equal(n, before + 1);
    json_t *req = fake_llm_request_json(w->llm, n - 1);
    assert_non_null(req);
    return req;
}

static json_int_t int_field(json_t *req, const char *name)
{
    json_t *v = json_object_get(req, name);
    if (!json_is_integer(v))
        fail_msg("request has no integer \"%s\": %s", name, json_dumps(req, JSON_COMPACT));
    return json_integer_value(v);
}

static const char *str_field(json_t *req, const char *name)
{
    json_t *v = json_object_get(req, name);
    if (!json_is_string(v))
        fail_msg("request has no string \"%s\": %s", name, json_dumps(req, JSON_COMPACT));
    return json_string_value(v);
}

#define assert_absent(req, name)                                                                              \
    do {                                                                                                      \
        if (json_object_get((req), (name)))                                                                   \
            fail_msg("request should not carry \"%s\": %s", (name), json_dumps((req), JSON_COMPACT));       \
    } while (0)

static void test_openai_gets_max_completion_tokens(void **state)
{
    struct world *w = world_start(state, (const char *[]){"LINEBOT_MAX_TOKENS=321", NULL});
    json_t *req = ask(w, USER_A, "hello");
    assert_int_equal(int_field(req, "max_completion_tokens"), 321);
    assert_absent(req, "max_tokens");
    assert_absent(req, "reasoning_effort"); /* test-model is no reasoning model */
    assert_absent(req, "enable_thinking");
    json_decref(req);
    world_finish(w);
}

static void test_reasoning_effort_for_reasoning_models_only(void **state)
{
    struct world *w = world_start(state, (const char *[]){"LLM_MODEL=gpt-5-mini", NULL});
    json_t *req = ask(w, USER_A, "think a little");
    assert_string_equal(str_field(req, "model"), "gpt-5-mini");
    assert_string_equal(str_field(req, "reasoning_effort"), "low"); /* the default */
    assert_int_equal(int_field(req, "max_completion_tokens"), 1024);
    assert_absent(req, "max_tokens");
    json_decref(req);

    bot_restart(w, (const char *[]){"LLM_MODEL=gpt-4o", NULL});
    req = ask(w, USER_B, "no thinking here");
    assert_string_equal(str_field(req, "model"), "gpt-4o");
    assert_absent(req, "reasoning_effort");
    assert_int_equal(int_field(req, "max_completion_tokens"), 1024);
    json_decref(req);

    bot_restart(w, (const char *[]){"LLM_MODEL=o3-mini", "LINEBOT_REASONING_EFFORT=high", NULL});
    req = ask(w, USER_C, "think hard");
    assert_string_equal(str_field(req, "reasoning_effort"), "high");
    json_decref(req);
    world_finish(w);
}

static void test_reasoning_effort_none_sends_nothing(void **state)
{
    struct world *w = world_start(state, (const char *[]){"LLM_MODEL=gpt-5", "LINEBOT_REASONING_EFFORT=none", NULL});
    json_t *req = ask(w, USER_A, "hello");
    assert_absent(req, "reasoning_effort");
    assert_int_equal(int_field(req, "max_completion_tokens"), 1024);
    json_decref(req);
    world_finish(w);
}

/* The blog posts' set-up: DashScope's URL with LLM_PROVIDER=openai. */
static void test_dashscope_host_with_openai_provider(void **state)
{
    struct world *w = world_start(state, (const char *[]){"LINEBOT_TEST_DASHSCOPE_HOST=127.0.0.1",
                                                          "LLM_MODEL=qwen-plus", "LINEBOT_MAX_TOKENS=222", NULL});
    json_t *req = ask(w, USER_A, "ni hao");
    json_t *thinking = json_object_get(req, "enable_thinking");
    if (!json_is_false(thinking))
        fail_msg("want enable_thinking:false: %s", json_dumps(req, JSON_COMPACT));
    assert_int_equal(int_field(req, "max_tokens"), 222);
    assert_absent(req, "max_completion_tokens");
    json_decref(req);

    bot_restart(w, (const char *[]){"LINEBOT_THINKING=1", NULL});
    req = ask(w, USER_B, "think then");
    thinking = json_object_get(req, "enable_thinking");
    if (!json_is_true(thinking))
        fail_msg("want enable_thinking:true with LINEBOT_THINKING=1: %s", json_dumps(req, JSON_COMPACT));
    assert_int_equal(int_field(req, "max_tokens"), 222);
    json_decref(req);
    world_finish(w);
}

/* OpenAI's refusal of an effort the model does not take: the log says which
 * setting stops it; with that setting the next message is answered. */
static void test_400_naming_reasoning_effort_logs_the_setting(void **state)
{
    struct world *w = world_start(state, (const char *[]){"LLM_MODEL=o3-mini", "LINEBOT_REASONING_EFFORT=minimal",
                                                          "LINEBOT_ERROR_TEXT=" APOLOGY, NULL});
    fake_llm_push(w->llm, 400,
                  "{\"error\":{\"message\":\"Unsupported value: 'reasoning_effort' does not support 'minimal' with "
                  "this model. Supported values are: 'low', 'medium', and 'high'.\",\"type\":"
                  "\"invalid_request_error\",\"param\":\"reasoning_effort\",\"code\":\"unsupported_value\"}}",
                  NULL, 0);
    json_t *req = ask(w, USER_A, "hello");
    assert_string_equal(str_field(req, "reasoning_effort"), "minimal");
    json_decref(req);
    char *t = world_texts(w, USER_A);
    assert_string_equal(t, APOLOGY);
    free(t);
    assert_int_equal(fake_llm_request_count(w->llm), 1); /* a 400 is not retried */
    char *log = bot_log(w);
    assert_contains(log, "status 400");
    assert_contains(log, "(set LINEBOT_REASONING_EFFORT=none to stop sending reasoning_effort");
    free(log);

    bot_restart(w, (const char *[]){"LINEBOT_REASONING_EFFORT=none", NULL});
    req = ask(w, USER_B, "hello again");
    assert_absent(req, "reasoning_effort");
    json_decref(req);
    t = world_texts(w, USER_B);
    assert_string_equal(t, "echo: hello again");
    free(t);
    world_finish(w);
}

/* A reasoning model that spent the whole budget thinking. */
static void test_empty_answer_at_limit_logs_max_tokens(void **state)
{
    struct world *w = world_start(state, (const char *[]){"LLM_MODEL=gpt-5-nano", "LINEBOT_ERROR_TEXT=" APOLOGY,
                                                          NULL});
    fake_llm_push(w->llm, 200,
                  "{\"id\":\"c1\",\"object\":\"chat.completion\",\"model\":\"gpt-5-nano\",\"choices\":[{\"index\":0,"
                  "\"message\":{\"role\":\"assistant\",\"content\":\"\"},\"finish_reason\":\"length\"}],"
                  "\"usage\":{\"prompt_tokens\":20,\"completion_tokens\":1024,\"total_tokens\":1044}}",
                  NULL, 0);
    json_t *req = ask(w, USER_A, "a hard question");
    json_decref(req);
    char *t = world_texts(w, USER_A);
    assert_string_equal(t, APOLOGY);
    free(t);
    char *log = bot_log(w);
    assert_contains(log, "cut at the token limit (finish_reason length): raise LINEBOT_MAX_TOKENS");
    free(log);
    world_finish(w);
}

/* The same rules for each model of a LINEBOT_MODELS catalogue, by its own
 * provider, host and id: an OpenAI reasoning model and a Qwen model on a
 * DashScope host (the fake reached as "localhost", which the test build's
 * LINEBOT_TEST_DASHSCOPE_HOST makes DashScope's) in one catalogue. */
static void test_catalogue_models_each_get_their_rules(void **state)
{
    struct world *w = world_new(state, NULL);
    const char *url = fake_llm_base_url(w->llm);
    const char *port = strrchr(url, ':');
    assert_non_null(port);
    char *models = e2e_printf("LINEBOT_MODELS=[{\"name\":\"reason\",\"model\":\"gpt-5-mini\",\"provider\":\"openai\","
                              "\"base_url\":\"%s\",\"api_key_env\":\"LLM_API_KEY\"},"
                              "{\"name\":\"qwen\",\"model\":\"qwen-plus\",\"provider\":\"custom\","
                              "\"base_url\":\"http://localhost%s\",\"api_key_env\":\"LLM_API_KEY\"}]",
                              url, port);
    bot_start(w, (const char *[]){models, "LINEBOT_TEST_DASHSCOPE_HOST=localhost", "LINEBOT_MAX_TOKENS=300", NULL});
    json_t *req = ask(w, USER_A, "think a little");
    assert_string_equal(str_field(req, "model"), "gpt-5-mini");
    assert_string_equal(str_field(req, "reasoning_effort"), "low");
    assert_int_equal(int_field(req, "max_completion_tokens"), 300);
    assert_absent(req, "max_tokens");
    assert_absent(req, "enable_thinking");
    json_decref(req);

    send_text(w, USER_B, "/model qwen");
    assert_answers(w, USER_B, 1);
    size_t before = fake_llm_request_count(w->llm);
    send_text(w, USER_B, "ni hao");
    assert_answers(w, USER_B, 2);
    assert_int_equal(fake_llm_request_count(w->llm), before + 1);
    req = fake_llm_request_json(w->llm, before);
    assert_string_equal(str_field(req, "model"), "qwen-plus");
    if (!json_is_false(json_object_get(req, "enable_thinking")))
        fail_msg("want enable_thinking:false: %s", json_dumps(req, JSON_COMPACT));
    assert_int_equal(int_field(req, "max_tokens"), 300);
    assert_absent(req, "max_completion_tokens");
    assert_absent(req, "reasoning_effort");
    json_decref(req);
    free(models);
    world_finish(w);
}

static void test_bad_reasoning_effort_stops_start_up(void **state)
{
    struct world *w = world_new(state, NULL);
    bot_spawn(w, (const char *[]){"LINEBOT_REASONING_EFFORT=maximum", NULL});
    int status = bot_wait_exit(w, e2e_ms(10000));
    if (status == -1)
        fail_msg("the bot kept running with LINEBOT_REASONING_EFFORT=maximum");
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 2);
    char *log = bot_log(w);
    assert_contains(log, "linebot: LINEBOT_REASONING_EFFORT must be one of minimal, low, medium, high, none");
    free(log);
    assert_int_equal(fake_llm_request_count(w->llm), 0);
    world_finish(w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        E2E_TEST(test_openai_gets_max_completion_tokens),
        E2E_TEST(test_reasoning_effort_for_reasoning_models_only),
        E2E_TEST(test_reasoning_effort_none_sends_nothing),
        E2E_TEST(test_dashscope_host_with_openai_provider),
        E2E_TEST(test_400_naming_reasoning_effort_logs_the_setting),
        E2E_TEST(test_empty_answer_at_limit_logs_max_tokens),
        E2E_TEST(test_catalogue_models_each_get_their_rules),
        E2E_TEST(test_bad_reasoning_effort_stops_start_up),
    };
    return E2E_RUN(tests);
}
