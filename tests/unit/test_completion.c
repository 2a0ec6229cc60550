/* test_completion.c - the chat-completions wire format: the request body,
 * the dialect (which parameters a server and a model take), reading (and
 * cleaning) answers from well-formed and hostile responses, the setting
 * behind a refused parameter, and which statuses are worth a retry. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "core/completion.h"

/* ---- request ------------------------------------------------------------ */

static json_t *request(const struct completion_options *opt, const struct llm_message *m, size_t n)
{
    char *s = completion_request_json(opt, m, n);
    assert_non_null(s);
    json_t *j = json_loads(s, 0, NULL);
    assert_non_null(j);
    free(s);
    return j;
}

static void test_request_basic(void **state)
{
    (void)state;
    struct llm_message m[] = {{"system", "Be brief."}, {"user", "Hello \"you\""}};
    struct completion_options opt = {.model = "gpt-4o-mini", .max_tokens = 256};
    json_t *j = request(&opt, m, 2);
    assert_string_equal(json_string_value(json_object_get(j, "model")), "gpt-4o-mini");
    assert_int_equal(json_integer_value(json_object_get(j, "max_tokens")), 256);
    assert_null(json_object_get(j, "enable_thinking"));
    json_t *msgs = json_object_get(j, "messages");
    assert_int_equal(json_array_size(msgs), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(msgs, 0), "role")), "system");
    assert_string_equal(json_string_value(json_object_get(json_array_get(msgs, 1), "content")),
                        "Hello \"you\"");
    json_decref(j);
}

/* A message with images: content parts, the text first, then image_url
 * parts holding data: URLs (base64 by RFC 4648's own test vectors). */
static void test_request_with_images(void **state)
{
    (void)state;
    char *a = completion_data_url("image/png", "foob", 4);
    assert_string_equal(a, "data:image/png;base64,Zm9vYg==");
    char *b = completion_data_url("image/jpeg", "foobar", 6);
    assert_string_equal(b, "data:image/jpeg;base64,Zm9vYmFy");
    char *empty = completion_data_url("image/gif", "", 0);
    assert_string_equal(empty, "data:image/gif;base64,");
    const char *urls[] = {a, b};
    struct llm_message m[] = {{"system", "Be brief."}, {"user", "What is this?", urls, 2}};
    json_t *j = request(&(struct completion_options){.model = "vl"}, m, 2);
    json_t *msgs = json_object_get(j, "messages");
    assert_string_equal(json_string_value(json_object_get(json_array_get(msgs, 0), "content")), "Be brief.");
    json_t *parts = json_object_get(json_array_get(msgs, 1), "content");
    assert_int_equal(json_array_size(parts), 3);
    assert_string_equal(json_string_value(json_object_get(json_array_get(parts, 0), "type")), "text");
    assert_string_equal(json_string_value(json_object_get(json_array_get(parts, 0), "text")), "What is this?");
    for (size_t i = 1; i < 3; i++) {
        json_t *p = json_array_get(parts, i);
        assert_string_equal(json_string_value(json_object_get(p, "type")), "image_url");
        assert_string_equal(json_string_value(json_object_get(json_object_get(p, "image_url"), "url")), urls[i - 1]);
    }
    json_decref(j);
    free(a);
    free(b);
    free(empty);
}

/* Large data: URLs are pasted into the body after jansson (fewer copies of
 * a 10 MB image): the body must read back the same, in order, also when a
 * user's text holds the placeholder the splicing uses, or a large value
 * needs escaping. */
static void test_request_with_large_images(void **state)
{
    (void)state;
    size_t len = 30000;
    char *raw = malloc(len);
    for (size_t i = 0; i < len; i++)
        raw[i] = (char)(i * 7 + 3);
    char *a = completion_data_url("image/png", raw, len), *b = completion_data_url("image/jpeg", raw, len - 1);
    char *odd = malloc(len + 1); /* quotes and a backslash: escaped, not pasted */
    memset(odd, 'x', len);
    memcpy(odd + 100, "\"q\\", 3);
    odd[len] = '\0';
    const char *texts[] = {"What are these?", "\x01linebot-splice-0\x01", "\x01linebot-splice-1\x01"};
    for (size_t t = 0; t < 3; t++) {
        const char *urls[] = {a, odd, b};
        struct llm_message m[] = {{"user", texts[t], urls, 3}, {"user", "\x01linebot-splice-2\x01", urls + 2, 1}};
        json_t *j = request(&(struct completion_options){.model = "vl"}, m, 2);
        json_t *msgs = json_object_get(j, "messages");
        json_t *parts = json_object_get(json_array_get(msgs, 0), "content");
        assert_int_equal(json_array_size(parts), 4);
        assert_string_equal(json_string_value(json_object_get(json_array_get(parts, 0), "text")), texts[t]);
        for (size_t i = 1; i < 4; i++)
            assert_string_equal(
                json_string_value(json_object_get(json_object_get(json_array_get(parts, i), "image_url"), "url")),
                urls[i - 1]);
        parts = json_object_get(json_array_get(msgs, 1), "content");
        assert_string_equal(json_string_value(json_object_get(json_array_get(parts, 0), "text")),
                            "\x01linebot-splice-2\x01");
        assert_string_equal(
            json_string_value(json_object_get(json_object_get(json_array_get(parts, 1), "image_url"), "url")), b);
        json_decref(j);
    }
    free(raw);
    free(a);
    free(b);
    free(odd);
}

static void test_request_no_max_tokens_thinking(void **state)
{
    (void)state;
    struct llm_message m[] = {{"user", "hi"}};
    struct completion_options opt = {.model = "qwen-plus", .max_tokens = 0,
                                     .send_enable_thinking = true, .enable_thinking = false};
    json_t *j = request(&opt, m, 1);
    assert_null(json_object_get(j, "max_tokens"));
    assert_true(json_is_false(json_object_get(j, "enable_thinking")));
    json_decref(j);

    opt.enable_thinking = true;
    j = request(&opt, m, 1);
    assert_true(json_is_true(json_object_get(j, "enable_thinking")));
    json_decref(j);
}

/* The budget goes out under one name only, as the dialect says. */
static void test_request_max_completion_tokens(void **state)
{
    (void)state;
    struct llm_message m[] = {{"user", "hi"}};
    struct completion_options opt = {.model = "gpt-5-mini", .max_tokens = 700, .max_completion_tokens = true};
    json_t *j = request(&opt, m, 1);
    assert_int_equal(json_integer_value(json_object_get(j, "max_completion_tokens")), 700);
    assert_null(json_object_get(j, "max_tokens"));
    assert_null(json_object_get(j, "reasoning_effort"));
    json_decref(j);

    opt.max_tokens = 0; /* 0: neither name */
    j = request(&opt, m, 1);
    assert_null(json_object_get(j, "max_completion_tokens"));
    assert_null(json_object_get(j, "max_tokens"));
    json_decref(j);
}

static void test_request_reasoning_effort(void **state)
{
    (void)state;
    struct llm_message m[] = {{"user", "hi"}};
    struct completion_options opt = {.model = "o3", .max_tokens = 50, .max_completion_tokens = true,
                                     .reasoning_effort = "low"};
    char *s = completion_request_json(&opt, m, 1);
    /* The exact body: an independent oracle for names, types and order. */
    assert_string_equal(s, "{\"model\":\"o3\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],"
                           "\"max_completion_tokens\":50,\"reasoning_effort\":\"low\"}");
    free(s);
}

static void test_request_invalid_utf8_repaired(void **state)
{
    (void)state;
    /* A history truncated inside a character must not make the body fail. */
    struct llm_message m[] = {{"user", "caf\xC3"}, {"assistant", NULL}};
    struct completion_options opt = {.model = "m"};
    json_t *j = request(&opt, m, 2);
    json_t *msgs = json_object_get(j, "messages");
    assert_string_equal(json_string_value(json_object_get(json_array_get(msgs, 0), "content")),
                        "caf\xEF\xBF\xBD");
    assert_string_equal(json_string_value(json_object_get(json_array_get(msgs, 1), "content")), "");
    json_decref(j);
}

/* ---- parsing ------------------------------------------------------------ */

static int parse(const char *body, char **answer, char *err)
{
    return completion_parse_response(body, strlen(body), answer, err, 256);
}

static void expect_answer(const char *body, const char *want)
{
    char *answer = NULL;
    char err[256];
    int rc = parse(body, &answer, err);
    if (rc != 0)
        fail_msg("parse failed: %s", err);
    assert_string_equal(answer, want);
    free(answer);
}

static void expect_error(const char *body, const char *err_contains)
{
    char *answer = (char *)1;
    char err[256] = "";
    assert_int_equal(parse(body, &answer, err), -1);
    assert_null(answer);
    if (!strstr(err, err_contains))
        fail_msg("error \"%s\" lacks \"%s\"", err, err_contains);
}

static void test_parse_normal(void **state)
{
    (void)state;
    expect_answer("{\"id\":\"x\",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\","
                  "\"content\":\"  Hello there!\\n\"},\"finish_reason\":\"stop\"}]}",
                  "Hello there!");
}

static void test_parse_content_parts(void **state)
{
    (void)state;
    expect_answer("{\"choices\":[{\"message\":{\"content\":[{\"type\":\"text\",\"text\":\"Hel\"},"
                  "{\"type\":\"image_url\",\"image_url\":{\"url\":\"x\"}},"
                  "{\"type\":\"text\",\"text\":\"lo\"},{\"type\":\"text\",\"text\":5}]}}]}",
                  "Hello");
}

static void test_parse_think_blocks(void **state)
{
    (void)state;
    expect_answer("{\"choices\":[{\"message\":{\"content\":"
                  "\"<think>plan</think>\\n\\nA<think>more</think>B\"}}]}",
                  "AB");
    expect_answer("{\"choices\":[{\"message\":{\"content\":"
                  "\"<think><think>a</think> secret</think>answer\"}}]}",
                  "answer");
    /* Only thinking, cut off before any answer. */
    expect_error("{\"choices\":[{\"message\":{\"content\":\"<think>still going\"},"
                 "\"finish_reason\":\"length\"}]}",
                 "finish_reason length");
}

/* An empty answer cut at the limit names the setting to raise; one that is
 * empty for another reason does not. */
static void test_parse_empty_at_limit_names_setting(void **state)
{
    (void)state;
    expect_error("{\"choices\":[{\"message\":{\"content\":\"\"},\"finish_reason\":\"length\"}]}",
                 "raise LINEBOT_MAX_TOKENS");
    expect_error("{\"choices\":[{\"message\":{\"content\":null},\"finish_reason\":\"length\"}]}",
                 "raise LINEBOT_MAX_TOKENS");
    char *answer = NULL;
    char err[256];
    const char *stop = "{\"choices\":[{\"message\":{\"content\":\" \"},\"finish_reason\":\"stop\"}]}";
    assert_int_equal(parse(stop, &answer, err), -1);
    assert_string_equal(err, "empty answer");
}

static void test_parse_reasoning_content_ignored(void **state)
{
    (void)state;
    expect_answer("{\"choices\":[{\"message\":{\"reasoning_content\":\"secret thoughts\","
                  "\"content\":\"Answer\"}}]}",
                  "Answer");
    expect_error("{\"choices\":[{\"message\":{\"reasoning_content\":\"only thoughts\","
                 "\"content\":\"\"}}]}",
                 "empty answer");
}

static void test_parse_errors(void **state)
{
    (void)state;
    expect_error("{\"choices\":[]}", "no choices");
    expect_error("{\"object\":\"chat.completion\"}", "no choices");
    expect_error("{\"choices\":[{\"message\":{\"content\":\"   \\n\"}}]}", "empty answer");
    expect_error("{\"choices\":[{\"message\":{\"content\":null,\"tool_calls\":[]}}]}", "empty answer");
    expect_error("not json at all", "not JSON");
    expect_error("", "empty");
    expect_error("[1,2,3]", "not a JSON object");
}

static void test_parse_wrong_types(void **state)
{
    (void)state;
    expect_error("{\"choices\":{\"0\":1}}", "no choices");
    expect_error("{\"choices\":[\"text\"]}", "message");
    expect_error("{\"choices\":[{\"message\":\"hi\"}]}", "message");
    expect_error("{\"choices\":[{\"message\":{\"content\":42}}]}", "empty answer");
    expect_error("{\"choices\":[{\"message\":{\"content\":{\"text\":\"x\"}}}]}", "empty answer");
}

static void test_parse_provider_error(void **state)
{
    (void)state;
    expect_error("{\"error\":{\"message\":\"Rate limit reached for gpt-4o\",\"type\":\"requests\","
                 "\"code\":\"rate_limit_exceeded\"}}",
                 "provider error: requests: Rate limit reached for gpt-4o");
    expect_error("{\"error\":{\"code\":\"InvalidApiKey\"}}", "provider error: InvalidApiKey");
    expect_error("{\"error\":\"boom\"}", "provider error: boom");
    expect_error("{\"error\":{\"code\":400}}", "provider error: 400");

    /* A long provider message is cut at 200 bytes, between words. */
    char body[1024];
    char longmsg[601] = "";
    for (int i = 0; i < 120; i++)
        strcat(longmsg, "abcd ");
    snprintf(body, sizeof(body), "{\"error\":{\"type\":\"t\",\"message\":\"%s\"}}", longmsg);
    char *answer = NULL;
    char err[512];
    assert_int_equal(completion_parse_response(body, strlen(body), &answer, err, sizeof(err)), -1);
    assert_int_equal(strlen(err), strlen("provider error: t: ") + 200);
    /* A cut inside a word drops the whole word. */
    snprintf(body, sizeof(body), "{\"error\":{\"type\":\"t\",\"message\":\"ab%s\"}}", longmsg);
    assert_int_equal(completion_parse_response(body, strlen(body), &answer, err, sizeof(err)), -1);
    assert_int_equal(strlen(err), strlen("provider error: t: ") + 197);
}

/* A provider that echoes the key: a cut never leaves a piece of it, in the
 * 200-byte limit nor in a short caller buffer (what the log could not mask). */
static void test_provider_error_never_cuts_a_key(void **state)
{
    (void)state;
    char key[301];
    for (size_t i = 0; i < 300; i++)
        key[i] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"[i % 62];
    key[300] = '\0';
    char body[1024];
    snprintf(body, sizeof(body),
             "{\"error\":{\"type\":\"invalid_request_error\",\"message\":"
             "\"Incorrect API key provided: %s. You can find your API key at https://x.\"}}", key);
    char *answer = NULL;
    char err[512];
    assert_int_equal(completion_parse_response(body, strlen(body), &answer, err, sizeof(err)), -1);
    assert_string_equal(err, "provider error: invalid_request_error: Incorrect API key provided: ");
    assert_null(strstr(err, "ABCD"));

    /* A key that fits in the message but not in the caller's 100 bytes. */
    snprintf(body, sizeof(body),
             "{\"error\":{\"type\":\"invalid_request_error\",\"message\":"
             "\"Incorrect API key provided: key-0123456789abcdefghij0123456789.\"}}");
    char small[100];
    assert_int_equal(completion_parse_response(body, strlen(body), &answer, small, sizeof(small)), -1);
    assert_string_equal(small, "provider error: invalid_request_error: Incorrect API key provided: ");
    /* With room, the whole key is there (for the log to mask whole). */
    assert_int_equal(completion_parse_response(body, strlen(body), &answer, err, sizeof(err)), -1);
    assert_string_equal(err, "provider error: invalid_request_error: Incorrect API key provided: "
                             "key-0123456789abcdefghij0123456789.");
}

/* ---- <think> ------------------------------------------------------------ */

static void expect_strip(const char *in, const char *want)
{
    char *out = completion_strip_think(in);
    assert_non_null(out);
    assert_string_equal(out, want);
    free(out);
}

static void test_strip_think(void **state)
{
    (void)state;
    expect_strip("no tags", "no tags");
    expect_strip("<think>a</think>b", "b");
    expect_strip("x<think>1</think>y<think>2</think>z", "xyz");
    expect_strip("<think>only thinking, never closed", "");
    expect_strip("  \n<think>only thinking", "  \n");
    /* The template already opened the block: content starts inside it. */
    expect_strip("reasoning here</think>\n\nThe answer", "\n\nThe answer");
    expect_strip("", "");
    expect_strip("<think></think>", "");
    expect_strip("<think", "<think");
    expect_strip("a</think", "a</think");
    assert_null(completion_strip_think(NULL));
}

/* Issue 16: a nested block leaked its tail ("secret</think>answer"). */
static void test_strip_think_nested(void **state)
{
    (void)state;
    expect_strip("<think><think>a</think> secret</think>answer", "answer");
    expect_strip("<think>1<think>2<think>3</think>4</think>5</think>answer", "answer");
    expect_strip("A<think>x<think>y</think>z</think>B<think>w</think>C", "ABC");
    /* Still inside the outer block when the text ends: nothing after it. */
    expect_strip("A<think><think>a</think> secret", "A");
    /* Opening tags back to back, closed together. */
    expect_strip("<think><think></think></think>ok", "ok");
}

/* An unclosed block anywhere removes everything after it. */
static void test_strip_think_unclosed(void **state)
{
    (void)state;
    expect_strip("<think>a</think>ok<think>late and open", "ok");
    expect_strip("Use a <think> tag like this", "Use a ");
    expect_strip("answer<think>", "answer");
}

/* A closing tag outside every block: what came before it was thinking. */
static void test_strip_think_stray_close(void **state)
{
    (void)state;
    expect_strip("x<think>y</think>z</think>w", "w");
    expect_strip("a</think>b</think>c", "c");
    expect_strip("plan</think><think>more</think>answer", "answer");
}

static void test_status_retryable(void **state)
{
    (void)state;
    long yes[] = {408, 409, 429, 500, 502, 503, 504, 599};
    long no[] = {0, 200, 301, 400, 401, 403, 404, 413, 422, 600};
    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
        assert_true(completion_status_retryable(yes[i]));
    for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
        assert_false(completion_status_retryable(no[i]));
}

/* One parse gives the answer, the model and the usage; a failed parse leaves
 * the meta empty. */
static void test_parse_answer_with_meta(void **state)
{
    (void)state;
    const char *body = "{\"model\":\"qwen-plus\",\"choices\":[{\"message\":{\"content\":\"hi\"}}],"
                       "\"usage\":{\"prompt_tokens\":12,\"completion_tokens\":3,\"total_tokens\":15}}";
    char err[128], *answer = NULL;
    struct completion_meta meta;
    assert_int_equal(completion_parse_answer(body, strlen(body), &answer, &meta, err, sizeof err), 0);
    assert_string_equal(answer, "hi");
    assert_string_equal(meta.model, "qwen-plus");
    assert_int_equal(meta.prompt_tokens, 12);
    assert_int_equal(meta.completion_tokens, 3);
    assert_int_equal(meta.total_tokens, 15);
    free(answer);
    free(meta.model);

    const char *bad = "{\"model\":\"qwen-plus\",\"choices\":[],\"usage\":{\"total_tokens\":15}}";
    assert_int_equal(completion_parse_answer(bad, strlen(bad), &answer, &meta, err, sizeof err), -1);
    assert_null(answer);
    assert_null(meta.model);
    assert_int_equal(meta.total_tokens, -1);
}

/* ---- the dialect ------------------------------------------------------- */

static void test_host_kind(void **state)
{
    (void)state;
    assert_int_equal(completion_host_kind("api.openai.com"), COMPLETION_HOST_OPENAI);
    assert_int_equal(completion_host_kind("API.OpenAI.com."), COMPLETION_HOST_OPENAI);
    assert_int_equal(completion_host_kind("eu.api.openai.com"), COMPLETION_HOST_OTHER);
    assert_int_equal(completion_host_kind("api.openai.com.evil.example"), COMPLETION_HOST_OTHER);
    /* The presets' hosts, and any dashscope* name under aliyuncs.com. */
    assert_int_equal(completion_host_kind("dashscope.aliyuncs.com"), COMPLETION_HOST_DASHSCOPE);
    assert_int_equal(completion_host_kind("dashscope-intl.aliyuncs.com"), COMPLETION_HOST_DASHSCOPE);
    assert_int_equal(completion_host_kind("dashscope-us.aliyuncs.com"), COMPLETION_HOST_DASHSCOPE);
    assert_int_equal(completion_host_kind("DashScope-Intl.Aliyuncs.COM"), COMPLETION_HOST_DASHSCOPE);
    assert_int_equal(completion_host_kind("dashscope-finance.aliyuncs.com."), COMPLETION_HOST_DASHSCOPE);
    assert_int_equal(completion_host_kind("oss.aliyuncs.com"), COMPLETION_HOST_OTHER);
    assert_int_equal(completion_host_kind("dashscope.example.com"), COMPLETION_HOST_OTHER);
    assert_int_equal(completion_host_kind("dashscope.aliyuncs.com.example.com"), COMPLETION_HOST_OTHER);
    assert_int_equal(completion_host_kind(".aliyuncs.com"), COMPLETION_HOST_OTHER);
    assert_int_equal(completion_host_kind("127.0.0.1"), COMPLETION_HOST_OTHER);
    assert_int_equal(completion_host_kind(""), COMPLETION_HOST_OTHER);
    assert_int_equal(completion_host_kind(NULL), COMPLETION_HOST_OTHER);
}

static void test_max_completion_tokens_rule(void **state)
{
    (void)state;
    struct completion_server s = {.openai_provider = true, .host = COMPLETION_HOST_OTHER};
    assert_true(completion_uses_max_completion_tokens(&s)); /* openai at a proxy or a fake */
    s.host = COMPLETION_HOST_OPENAI;
    assert_true(completion_uses_max_completion_tokens(&s));
    s.host = COMPLETION_HOST_DASHSCOPE; /* LLM_PROVIDER=openai with DashScope's URL */
    assert_false(completion_uses_max_completion_tokens(&s));
    /* api.openai.com whatever the provider says. */
    s = (struct completion_server){.host = COMPLETION_HOST_OPENAI};
    assert_true(completion_uses_max_completion_tokens(&s));
    s.dashscope_provider = true;
    assert_true(completion_uses_max_completion_tokens(&s));
    /* custom, ollama, dashscope elsewhere: max_tokens. */
    s = (struct completion_server){.host = COMPLETION_HOST_OTHER};
    assert_false(completion_uses_max_completion_tokens(&s));
    s.dashscope_provider = true;
    assert_false(completion_uses_max_completion_tokens(&s));
}

static void test_enable_thinking_rule(void **state)
{
    (void)state;
    /* Every DashScope host, whatever the provider says. */
    struct completion_server s = {.openai_provider = true, .host = COMPLETION_HOST_DASHSCOPE};
    assert_true(completion_sends_enable_thinking(&s));
    s = (struct completion_server){.host = COMPLETION_HOST_DASHSCOPE};
    assert_true(completion_sends_enable_thinking(&s));
    s = (struct completion_server){.dashscope_provider = true, .host = COMPLETION_HOST_OTHER};
    assert_true(completion_sends_enable_thinking(&s));
    s = (struct completion_server){.dashscope_provider = true, .host = COMPLETION_HOST_OPENAI};
    assert_false(completion_sends_enable_thinking(&s));
    s = (struct completion_server){.openai_provider = true, .host = COMPLETION_HOST_OTHER};
    assert_false(completion_sends_enable_thinking(&s));
    s = (struct completion_server){.host = COMPLETION_HOST_OTHER};
    assert_false(completion_sends_enable_thinking(&s));
}

static void test_takes_reasoning_effort(void **state)
{
    (void)state;
    static const char *const yes[] = {"o1", "o1-2024-12-17", "o3", "o3-mini", "o3-pro", "o4-mini",
                                      "o4-mini-2025-04-16", "gpt-5", "gpt-5-mini", "gpt-5-nano",
                                      "gpt-5-2025-08-07", "gpt-5.1", "GPT-5-Mini", NULL};
    static const char *const no[] = {"gpt-4o", "gpt-4o-mini", "gpt-4.1", "gpt-5-chat-latest", "gpt-5-chat",
                                     "gpt-5.1-chat-latest", "o1-mini", "o1-mini-2024-09-12", "o1-preview",
                                     "gpt-50", "o10", "o3x", "qwen-plus", "qwen3-235b-a22b", "llama3.2",
                                     "test-model", "", "chat-gpt-5", NULL};
    for (const char *const *m = yes; *m; m++)
        if (!completion_takes_reasoning_effort(*m))
            fail_msg("%s should take reasoning_effort", *m);
    for (const char *const *m = no; *m; m++)
        if (completion_takes_reasoning_effort(*m))
            fail_msg("%s should not take reasoning_effort", *m);
    assert_false(completion_takes_reasoning_effort(NULL));
}

static void expect_hint(const char *body, const char *want)
{
    const char *hint = completion_error_hint(body, strlen(body));
    if (!want) {
        if (hint)
            fail_msg("no hint expected for %s, got \"%s\"", body, hint);
        return;
    }
    if (!hint || !strstr(hint, want))
        fail_msg("hint for %s: want \"%s\", got \"%s\"", body, want, hint ? hint : "(none)");
}

/* Bodies as the providers write them. */
static void test_error_hint(void **state)
{
    (void)state;
    /* OpenAI: "param". */
    expect_hint("{\"error\":{\"message\":\"Unsupported value: 'reasoning_effort' does not support 'minimal' "
                "with this model.\",\"type\":\"invalid_request_error\",\"param\":\"reasoning_effort\","
                "\"code\":\"unsupported_value\"}}",
                "set LINEBOT_REASONING_EFFORT=none to stop sending reasoning_effort");
    expect_hint("{\"error\":{\"message\":\"Unsupported parameter: 'max_tokens' is not supported with this "
                "model. Use 'max_completion_tokens' instead.\",\"type\":\"invalid_request_error\","
                "\"param\":\"max_tokens\",\"code\":\"unsupported_parameter\"}}",
                "LINEBOT_MAX_TOKENS sets max_tokens");
    expect_hint("{\"error\":{\"message\":\"Invalid 'messages[1].content': string too long.\","
                "\"param\":\"messages[1].content\"}}",
                "LINEBOT_HISTORY_CHARS");
    expect_hint("{\"error\":{\"message\":\"x\",\"param\":\"model\"}}", "LLM_MODEL");
    /* The message only: the first parameter it names, quoted or with an underscore. */
    expect_hint("{\"error\":{\"message\":\"Unsupported parameter: 'max_tokens' is not supported with this "
                "model. Use 'max_completion_tokens' instead.\",\"param\":null}}",
                "LINEBOT_MAX_TOKENS sets max_tokens");
    expect_hint("{\"error\":{\"code\":\"invalid_parameter_error\",\"param\":null,\"message\":\"<400> "
                "InternalError.Algo.InvalidParameter: parameter.enable_thinking must be set to false for "
                "non-streaming calls\",\"type\":\"invalid_request_error\"}}",
                "LINEBOT_THINKING");
    expect_hint("{\"error\":\"max_completion_tokens is too large\"}", "LINEBOT_MAX_TOKENS sets max_completion_tokens");
    /* vLLM's older shape: the fields at the top. */
    expect_hint("{\"object\":\"error\",\"message\":\"'max_tokens' is too large: 9000. This model's maximum "
                "context length is 8192 tokens\",\"type\":\"BadRequestError\",\"param\":null,\"code\":400}",
                "LINEBOT_MAX_TOKENS sets max_tokens");
    expect_hint("{\"error\":{\"message\":\"Invalid value for `model`: qwen9.\"}}", "LLM_MODEL");
    expect_hint("{\"error\":{\"message\":\"unknown field \\\"reasoning_effort\\\"\"}}", "LINEBOT_REASONING_EFFORT");
    /* Plain words and parameters no setting sends: no hint. */
    expect_hint("{\"error\":{\"message\":\"This model does not support these messages.\"}}", NULL);
    expect_hint("{\"error\":{\"message\":\"Unsupported value: 'temperature' does not support 0.2\","
                "\"param\":\"temperature\"}}",
                NULL);
    expect_hint("{\"error\":{\"message\":\"Unsupported value: 'temperature'\"}}", NULL);
    expect_hint("{\"error\":{\"message\":\"my_max_tokens_x is odd\"}}", NULL);
    expect_hint("{\"error\":{\"message\":\"bad\",\"param\":5}}", NULL);
    expect_hint("not json", NULL);
    expect_hint("[\"max_tokens\"]", NULL);
    assert_null(completion_error_hint(NULL, 0));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_answer_with_meta),
        cmocka_unit_test(test_request_basic),
        cmocka_unit_test(test_request_with_images),
        cmocka_unit_test(test_request_with_large_images),
        cmocka_unit_test(test_request_no_max_tokens_thinking),
        cmocka_unit_test(test_request_max_completion_tokens),
        cmocka_unit_test(test_request_reasoning_effort),
        cmocka_unit_test(test_request_invalid_utf8_repaired),
        cmocka_unit_test(test_parse_empty_at_limit_names_setting),
        cmocka_unit_test(test_host_kind),
        cmocka_unit_test(test_max_completion_tokens_rule),
        cmocka_unit_test(test_enable_thinking_rule),
        cmocka_unit_test(test_takes_reasoning_effort),
        cmocka_unit_test(test_error_hint),
        cmocka_unit_test(test_parse_normal),
        cmocka_unit_test(test_parse_content_parts),
        cmocka_unit_test(test_parse_think_blocks),
        cmocka_unit_test(test_parse_reasoning_content_ignored),
        cmocka_unit_test(test_parse_errors),
        cmocka_unit_test(test_parse_wrong_types),
        cmocka_unit_test(test_parse_provider_error),
        cmocka_unit_test(test_provider_error_never_cuts_a_key),
        cmocka_unit_test(test_strip_think),
        cmocka_unit_test(test_strip_think_nested),
        cmocka_unit_test(test_strip_think_unclosed),
        cmocka_unit_test(test_strip_think_stray_close),
        cmocka_unit_test(test_status_retryable),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
