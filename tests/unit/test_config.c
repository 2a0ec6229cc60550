/* test_config.c - configuration: defaults, aliases, presets and every error
 * message that stops start-up. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "core/settings.h"

#define BASE "LINE_CHANNEL_SECRET=s3cret-value", "LINE_CHANNEL_ACCESS_TOKEN=tok-value", "OPENAI_API_KEY=sk-abc"

static int load(struct config *cfg, char *err, char *const *env) { return config_load(cfg, env, err, 256); }

static void test_defaults(void **state)
{
    char *env[] = {BASE, NULL};
    struct config cfg;
    char err[256];
    assert_int_equal(load(&cfg, err, env), 0);
    assert_string_equal(cfg.host, "0.0.0.0");
    assert_int_equal(cfg.port, 8080);
    assert_string_equal(cfg.line_api_base, "https://api.line.me");
    assert_string_equal(cfg.line_data_api_base, "https://api-data.line.me");
    assert_int_equal(cfg.provider, LLM_PROVIDER_OPENAI);
    assert_string_equal(cfg.llm_base_url, "https://api.openai.com/v1");
    assert_string_equal(cfg.llm_api_key, "sk-abc");
    assert_string_equal(cfg.db, "./linebot.db");
    assert_false(cfg.push_fallback);
    assert_null(cfg.trigger);
    assert_int_equal(cfg.history_turns, 10);
    assert_int_equal(cfg.retention_days, 30);
    assert_int_equal(cfg.rate_limit, 10);
    assert_int_equal(cfg.group_context, 0);
    assert_string_equal(cfg.greeting, "");
    assert_int_equal(cfg.log_level, LOG_INFO);
    assert_non_null(strstr(cfg.system_prompt, "LINE"));
    config_free(&cfg);
}

static void test_missing_secret_names_variable(void **state)
{
    char *env[] = {"LINE_CHANNEL_ACCESS_TOKEN=t", "OPENAI_API_KEY=k", NULL};
    struct config cfg;
    char err[256];
    assert_int_equal(load(&cfg, err, env), -1);
    assert_non_null(strstr(err, "LINE_CHANNEL_SECRET"));
    assert_null(strchr(err, '\n'));
}

static void test_missing_token_names_variable(void **state)
{
    char *env[] = {"LINE_CHANNEL_SECRET=s", "OPENAI_API_KEY=k", NULL};
    struct config cfg;
    char err[256];
    assert_int_equal(load(&cfg, err, env), -1);
    assert_non_null(strstr(err, "LINE_CHANNEL_ACCESS_TOKEN"));
}

static void test_access_token_alias(void **state)
{
    char *env[] = {"LINE_CHANNEL_SECRET=s", "LINE_ACCESS_TOKEN=alias", "LLM_API_KEY=k", NULL};
    struct config cfg;
    char err[256];
    assert_int_equal(load(&cfg, err, env), 0);
    assert_string_equal(cfg.access_token, "alias");
    config_free(&cfg);
}

static void test_missing_key_is_fatal_except_ollama(void **state)
{
    char *env[] = {"LINE_CHANNEL_SECRET=s", "LINE_CHANNEL_ACCESS_TOKEN=t", NULL};
    struct config cfg;
    char err[256];
    assert_int_equal(load(&cfg, err, env), -1);
    assert_non_null(strstr(err, "LLM_API_KEY"));

    char *ollama[] = {"LINE_CHANNEL_SECRET=s", "LINE_CHANNEL_ACCESS_TOKEN=t", "LLM_PROVIDER=ollama", NULL};
    assert_int_equal(load(&cfg, err, ollama), 0);
    assert_string_equal(cfg.llm_base_url, "http://localhost:11434/v1");
    assert_string_equal(cfg.llm_api_key, "");
    config_free(&cfg);
}

static void test_key_precedence(void **state)
{
    char *env[] = {"LINE_CHANNEL_SECRET=s", "LINE_CHANNEL_ACCESS_TOKEN=t", "LLM_PROVIDER=dashscope",
                   "OPENAI_API_KEY=openai", "DASHSCOPE_API_KEY=dash", NULL};
    struct config cfg;
    char err[256];
    assert_int_equal(load(&cfg, err, env), 0);
    assert_string_equal(cfg.llm_api_key, "dash");
    assert_string_equal(cfg.llm_base_url, "https://dashscope-intl.aliyuncs.com/compatible-mode/v1");
    assert_string_equal(cfg.llm_model, "qwen-plus");
    config_free(&cfg);

    char *env2[] = {"LINE_CHANNEL_SECRET=s", "LINE_CHANNEL_ACCESS_TOKEN=t", "LLM_PROVIDER=dashscope-cn",
                    "LLM_API_KEY=wins", "DASHSCOPE_API_KEY=dash", "LLM_BASE_URL=http://127.0.0.1:9/v1/", NULL};
    assert_int_equal(load(&cfg, err, env2), 0);
    assert_string_equal(cfg.llm_api_key, "wins");
    assert_string_equal(cfg.llm_base_url, "http://127.0.0.1:9/v1"); /* override, slash trimmed */
    assert_int_equal(cfg.provider, LLM_PROVIDER_DASHSCOPE_CN);
    config_free(&cfg);
}

static void test_presets(void **state)
{
    struct config cfg;
    char err[256];
    char *us[] = {BASE, "LLM_PROVIDER=dashscope-us", "DASHSCOPE_API_KEY=d", NULL};
    assert_int_equal(load(&cfg, err, us), 0);
    assert_string_equal(cfg.llm_base_url, "https://dashscope-us.aliyuncs.com/compatible-mode/v1");
    config_free(&cfg);
    char *cn[] = {BASE, "LLM_PROVIDER=DashScope-CN", "DASHSCOPE_API_KEY=d", NULL};
    assert_int_equal(load(&cfg, err, cn), 0);
    assert_string_equal(cfg.llm_base_url, "https://dashscope.aliyuncs.com/compatible-mode/v1");
    config_free(&cfg);
    char *custom[] = {BASE, "LLM_PROVIDER=custom", NULL};
    assert_int_equal(load(&cfg, err, custom), -1);
    assert_non_null(strstr(err, "LLM_BASE_URL"));
}

static void test_bad_values(void **state)
{
    struct config cfg;
    char err[256];
    struct {
        const char *setting;
        const char *named;
    } cases[] = {
        {"PORT=eighty", "PORT"},
        {"PORT=70000", "PORT"},
        {"LINEBOT_WORKERS=0", "LINEBOT_WORKERS"},
        {"LINEBOT_PUSH_FALLBACK=maybe", "LINEBOT_PUSH_FALLBACK"},
        {"LLM_PROVIDER=skynet", "LLM_PROVIDER"},
        {"LOG_LEVEL=loud", "LOG_LEVEL"},
        {"LLM_BASE_URL=ftp://x", "LLM_BASE_URL"},
        {"LLM_BASE_URL=http://", "LLM_BASE_URL"},
        {"LLM_BASE_URL=https:///v1", "LLM_BASE_URL"},
        {"LLM_BASE_URL=http://a b/v1", "LLM_BASE_URL"},
        {"LINE_API_BASE_URL=file:///etc/passwd", "LINE_API_BASE_URL"},
        {"LINE_API_BASE_URL=https://api.line.me/\x01", "LINE_API_BASE_URL"},
        {"LINE_DATA_API_BASE_URL=https://exa mple.com", "LINE_DATA_API_BASE_URL"},
        {"AWS_ENDPOINT_URL=lambda.example.com", "AWS_ENDPOINT_URL"},
        {"LINEBOT_FC_ENDPOINT=https://user@:443/", "LINEBOT_FC_ENDPOINT"},
        {"LINEBOT_RATE_LIMIT=-1", "LINEBOT_RATE_LIMIT"},
        {"LINEBOT_HISTORY_TURNS=12x", "LINEBOT_HISTORY_TURNS"},
        {"LINEBOT_MAX_CONN_PER_IP=-1", "LINEBOT_MAX_CONN_PER_IP"},
        {"LINEBOT_MAX_CONN_PER_IP=lots", "LINEBOT_MAX_CONN_PER_IP"},
        {"LINEBOT_MAX_CONNECTIONS=0", "LINEBOT_MAX_CONNECTIONS"},
        {"LINEBOT_MAX_CONNECTIONS=1000001", "LINEBOT_MAX_CONNECTIONS"},
        {"LINEBOT_HEADER_TIMEOUT_S=0", "LINEBOT_HEADER_TIMEOUT_S"},
        {"LINEBOT_HEADER_TIMEOUT_S=3601", "LINEBOT_HEADER_TIMEOUT_S"},
        {"LINEBOT_REQUEST_TIMEOUT_S=0", "LINEBOT_REQUEST_TIMEOUT_S"},
        {"LINEBOT_REQUEST_TIMEOUT_S=5", "LINEBOT_REQUEST_TIMEOUT_S"}, /* below the head's default 10 */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *env[] = {BASE, (char *)cases[i].setting, NULL};
        assert_int_equal(load(&cfg, err, env), -1);
        assert_non_null(strstr(err, cases[i].named));
        /* Secrets never appear in messages. */
        assert_null(strstr(err, "s3cret-value"));
        assert_null(strstr(err, "tok-value"));
        assert_null(strstr(err, "sk-abc"));
    }
}

static void test_front_door_limits(void **state)
{
    (void)state;
    struct config cfg;
    char err[256];
    char *defaults[] = {BASE, NULL};
    assert_int_equal(load(&cfg, err, defaults), 0);
    assert_int_equal(cfg.max_conn_per_ip, 64);
    assert_int_equal(cfg.max_connections, 1000);
    assert_int_equal(cfg.header_timeout_s, 10);
    assert_int_equal(cfg.request_timeout_s, 30);
    config_free(&cfg);

    char *set[] = {BASE, "LINEBOT_MAX_CONN_PER_IP=0", "LINEBOT_MAX_CONNECTIONS=5000", "LINEBOT_HEADER_TIMEOUT_S=3",
                   "LINEBOT_REQUEST_TIMEOUT_S=3", NULL};
    assert_int_equal(load(&cfg, err, set), 0);
    assert_int_equal(cfg.max_conn_per_ip, 0);
    assert_int_equal(cfg.max_connections, 5000);
    assert_int_equal(cfg.header_timeout_s, 3);
    assert_int_equal(cfg.request_timeout_s, 3);
    config_free(&cfg);

    /* Function Compute: every request comes from its proxy, so no per-address limit. */
    char *fc[] = {BASE, "FC_FUNCTION_NAME=bot", "LINEBOT_MAX_CONN_PER_IP=10", NULL};
    assert_int_equal(load(&cfg, err, fc), 0);
    assert_int_equal(cfg.max_conn_per_ip, 0);
    config_free(&cfg);

    /* The whole request's deadline is checked against a head deadline that was set. */
    char *short_request[] = {BASE, "LINEBOT_HEADER_TIMEOUT_S=20", "LINEBOT_REQUEST_TIMEOUT_S=15", NULL};
    assert_int_equal(load(&cfg, err, short_request), -1);
    assert_non_null(strstr(err, "LINEBOT_REQUEST_TIMEOUT_S"));
    assert_non_null(strstr(err, "LINEBOT_HEADER_TIMEOUT_S"));
}

static void test_max_event_age(void **state)
{
    (void)state;
    struct config cfg;
    char err[256];
    char *defaults[] = {BASE, NULL};
    assert_int_equal(load(&cfg, err, defaults), 0);
    assert_int_equal(cfg.max_event_age_s, 86400); /* one day */
    config_free(&cfg);

    char *set[] = {BASE, "LINEBOT_MAX_EVENT_AGE_S=3600", NULL};
    assert_int_equal(load(&cfg, err, set), 0);
    assert_int_equal(cfg.max_event_age_s, 3600);
    config_free(&cfg);

    /* Exactly the retention is allowed: a purged id is then always too old. */
    char *equal[] = {BASE, "LINEBOT_RETENTION_DAYS=2", "LINEBOT_MAX_EVENT_AGE_S=172800", NULL};
    assert_int_equal(load(&cfg, err, equal), 0);
    config_free(&cfg);

    /* Longer than the dedup retention: refused at start, naming both. */
    char *longer[] = {BASE, "LINEBOT_RETENTION_DAYS=2", "LINEBOT_MAX_EVENT_AGE_S=172801", NULL};
    assert_int_equal(load(&cfg, err, longer), -1);
    assert_non_null(strstr(err, "LINEBOT_MAX_EVENT_AGE_S"));
    assert_non_null(strstr(err, "LINEBOT_RETENTION_DAYS"));
    char *too_long[] = {BASE, "LINEBOT_MAX_EVENT_AGE_S=2592001", NULL}; /* default retention: 30 days */
    assert_int_equal(load(&cfg, err, too_long), -1);
    assert_non_null(strstr(err, "LINEBOT_MAX_EVENT_AGE_S"));
    char *zero[] = {BASE, "LINEBOT_MAX_EVENT_AGE_S=0", NULL};
    assert_int_equal(load(&cfg, err, zero), -1);
    assert_non_null(strstr(err, "LINEBOT_MAX_EVENT_AGE_S"));
}

static void test_booleans(void **state)
{
    const char *yes[] = {"1", "true", "TRUE", "yes", "on"};
    const char *no[] = {"0", "false", "False", "no", "off"};
    bool b;
    for (size_t i = 0; i < 5; i++) {
        assert_int_equal(config_parse_bool(yes[i], &b), 0);
        assert_true(b);
        assert_int_equal(config_parse_bool(no[i], &b), 0);
        assert_false(b);
    }
    assert_int_equal(config_parse_bool("2", &b), -1);
    assert_int_equal(config_parse_bool("", &b), -1);

    struct config cfg;
    char err[256];
    char *env[] = {BASE, "LINEBOT_PUSH_FALLBACK=true", "LINEBOT_TRIGGER=bot,", "LOG_LEVEL=DEBUG", NULL};
    assert_int_equal(load(&cfg, err, env), 0);
    assert_true(cfg.push_fallback);
    assert_string_equal(cfg.trigger, "bot,");
    assert_int_equal(cfg.log_level, LOG_DEBUG);
    config_free(&cfg);
}

static void test_empty_means_none(void **state)
{
    struct config cfg;
    char err[256];
    char *env[] = {BASE, "LINEBOT_MEDIA_TEXT=", "LINEBOT_TRIGGER=", "LINEBOT_GREETING=Hi!", NULL};
    assert_int_equal(load(&cfg, err, env), 0);
    assert_string_equal(cfg.media_text, "");
    assert_null(cfg.trigger);
    assert_string_equal(cfg.greeting, "Hi!");
    config_free(&cfg);
}

/* LINEBOT_REASONING_EFFORT: low by default, none or empty to send nothing,
 * any case; anything else stops start-up naming the setting. */
static void test_reasoning_effort(void **state)
{
    struct config cfg;
    char err[256];
    char *unset[] = {BASE, NULL};
    assert_int_equal(load(&cfg, err, unset), 0);
    assert_string_equal(cfg.reasoning_effort, "low");
    config_free(&cfg);
    static const char *const ok[][2] = {{"minimal", "minimal"}, {"low", "low"}, {"MEDIUM", "medium"},
                                        {"high", "high"}, {"none", NULL}, {"None", NULL}, {"", NULL}};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        char setting[64];
        snprintf(setting, sizeof setting, "LINEBOT_REASONING_EFFORT=%s", ok[i][0]);
        char *env[] = {BASE, setting, NULL};
        assert_int_equal(load(&cfg, err, env), 0);
        if (ok[i][1])
            assert_string_equal(cfg.reasoning_effort, ok[i][1]);
        else
            assert_null(cfg.reasoning_effort);
        config_free(&cfg);
    }
    static const char *const bad[] = {"LINEBOT_REASONING_EFFORT=extreme", "LINEBOT_REASONING_EFFORT= low",
                                      "LINEBOT_REASONING_EFFORT=0", NULL};
    for (const char *const *b = bad; *b; b++) {
        char *env[] = {BASE, (char *)*b, NULL};
        assert_int_equal(load(&cfg, err, env), -1);
        assert_string_equal(err, "LINEBOT_REASONING_EFFORT must be one of minimal, low, medium, high, none");
    }
}

/* The test-build host override is read only with LINEBOT_TESTING: this
 * library is the one release builds link, and it ignores the variable. */
static void test_dashscope_host_override_not_in_release(void **state)
{
    struct config cfg;
    char err[256];
    char *env[] = {BASE, "LINEBOT_TEST_DASHSCOPE_HOST=127.0.0.1", NULL};
    assert_int_equal(load(&cfg, err, env), 0);
    assert_null(cfg.test_dashscope_host);
    config_free(&cfg);
}

/* What a copy leaves around a credential is removed: outer whitespace with
 * CR and LF, one pair of matching quotes, whitespace inside them. */
static void test_credentials_are_trimmed(void **state)
{
    (void)state;
    struct config cfg;
    char err[256];
    char *env[] = {"LINE_CHANNEL_SECRET= \"0123456789abcdef0123456789abcdef\"\r\n",
                   "LINE_CHANNEL_ACCESS_TOKEN='tok-value '",
                   "LLM_API_KEY=\tsk-key-value\r",
                   "AWS_SECRET_ACCESS_KEY=\" aws-secret \"",
                   "ALIBABA_CLOUD_ACCESS_KEY_SECRET=ali-secret\n",
                   "LLM_MODEL= model \r", /* not a credential: kept as it is */
                   NULL};
    assert_int_equal(load(&cfg, err, env), 0);
    assert_string_equal(cfg.channel_secret, "0123456789abcdef0123456789abcdef");
    assert_string_equal(cfg.access_token, "tok-value");
    assert_string_equal(cfg.llm_api_key, "sk-key-value");
    assert_string_equal(cfg.aws_secret_access_key, "aws-secret");
    assert_string_equal(cfg.alibaba_access_key_secret, "ali-secret");
    assert_string_equal(cfg.llm_model, " model \r");
    config_free(&cfg);

    /* Quotes that do not match stay; a credential of only spaces and quotes is unset. */
    char *odd[] = {"LINE_CHANNEL_SECRET=\"abc'", "LINE_CHANNEL_ACCESS_TOKEN=tok", "LLM_API_KEY=k", NULL};
    assert_int_equal(load(&cfg, err, odd), 0);
    assert_string_equal(cfg.channel_secret, "\"abc'");
    config_free(&cfg);
    char *blank[] = {"LINE_CHANNEL_SECRET= \"\" \r", "LINE_CHANNEL_ACCESS_TOKEN=tok", "LLM_API_KEY=k", NULL};
    assert_int_equal(load(&cfg, err, blank), -1);
    assert_non_null(strstr(err, "LINE_CHANNEL_SECRET is not set"));
    /* An empty primary key falls back to the provider's own variable. */
    char *fallback[] = {BASE, "LLM_API_KEY=' '", "OPENAI_API_KEY=\"sk-fallback\"", NULL};
    assert_int_equal(load(&cfg, err, fallback), 0);
    assert_string_equal(cfg.llm_api_key, "sk-fallback");
    config_free(&cfg);
}

static void test_channel_secret_shape(void **state)
{
    (void)state;
    assert_null(config_channel_secret_problem("0123456789abcdef0123456789ABCDEF"));
    assert_non_null(config_channel_secret_problem("0123456789abcdef0123456789abcde"));   /* 31 */
    assert_non_null(config_channel_secret_problem("0123456789abcdef0123456789abcdef0")); /* 33 */
    assert_non_null(config_channel_secret_problem("0123456789abcdef0123456789abcdeg"));  /* not hex */
    assert_non_null(config_channel_secret_problem(""));
    char token[173];
    memset(token, 'A', 172);
    token[172] = '\0';
    const char *why = config_channel_secret_problem(token);
    assert_non_null(strstr(why, "swapped"));
    assert_null(strstr(why, "AAAA")); /* never the value */
}

/* The defaults and bounds are the table's (core/settings.c). */
static void test_defaults_and_bounds_come_from_the_table(void **state)
{
    (void)state;
    struct config cfg;
    char err[256];
    char *env[] = {BASE, NULL};
    assert_int_equal(load(&cfg, err, env), 0);
    assert_int_equal(cfg.port, atoi(settings_find("PORT")->def));
    assert_int_equal(cfg.workers, atoi(settings_find("LINEBOT_WORKERS")->def));
    assert_string_equal(cfg.greeting, settings_find("LINEBOT_GREETING")->def);
    /* The fixed texts have no default in the table: unset, each is the
     * built-in text in the user's language (core/texts.c). */
    assert_null(settings_find("LINEBOT_MEDIA_TEXT")->def);
    assert_null(cfg.media_text);
    assert_string_equal(cfg.line_api_base, settings_find("LINE_API_BASE_URL")->def);
    config_free(&cfg);
    const struct setting *row = settings_find("LLM_TIMEOUT_S");
    char over[64], under[64];
    snprintf(over, sizeof over, "LLM_TIMEOUT_S=%lld", row->max + 1);
    snprintf(under, sizeof under, "LLM_TIMEOUT_S=%lld", row->max);
    char *bad[] = {BASE, over, NULL};
    assert_int_equal(load(&cfg, err, bad), -1);
    char expect[96];
    snprintf(expect, sizeof expect, "LLM_TIMEOUT_S must be a whole number from %lld to %lld", row->min, row->max);
    assert_string_equal(err, expect);
    char *good[] = {BASE, under, NULL};
    assert_int_equal(load(&cfg, err, good), 0);
    assert_int_equal(cfg.llm_timeout_s, (int)row->max);
    config_free(&cfg);
}

/* The knowledge base's embeddings (issue 12): off unless LINEBOT_EMBED_MODEL
 * is set; the default model's base URL and key, or their own; the key is
 * masked in logs; `linebot kb` reads them without the LINE settings. */
static void test_embeddings(void **state)
{
    (void)state;
    struct config cfg;
    char err[256];
    assert_int_equal(load(&cfg, err, (char *[]){BASE, NULL}), 0);
    assert_null(cfg.embed_model);
    config_free(&cfg);

    char *dashscope[] = {BASE, "LLM_PROVIDER=dashscope", "DASHSCOPE_API_KEY=sk-dash-0123456789",
                         "LINEBOT_EMBED_MODEL=text-embedding-v4", NULL};
    assert_int_equal(load(&cfg, err, dashscope), 0);
    assert_string_equal(cfg.embed_model, "text-embedding-v4");
    assert_string_equal(cfg.embed_base_url, "https://dashscope-intl.aliyuncs.com/compatible-mode/v1");
    assert_string_equal(cfg.embed_api_key, "sk-dash-0123456789");
    assert_true(cfg.kb_min_cosine == 0.5);
    config_free(&cfg);

    char *own[] = {BASE, "LINEBOT_EMBED_MODEL=e5", "LINEBOT_EMBED_BASE_URL=http://127.0.0.1:9/v1/",
                   "LINEBOT_EMBED_API_KEY_ENV=MY_EMBED_KEY", "MY_EMBED_KEY= 'emb-key-0123456789'\n",
                   "LINEBOT_KB_MIN_COSINE=0.3", NULL};
    assert_int_equal(load(&cfg, err, own), 0);
    assert_string_equal(cfg.embed_base_url, "http://127.0.0.1:9/v1");
    assert_string_equal(cfg.embed_api_key, "emb-key-0123456789");
    assert_true(cfg.kb_min_cosine == 0.3);
    struct redact_secret secrets[CONFIG_MAX_SECRETS];
    size_t n = config_secrets(&cfg, secrets, CONFIG_MAX_SECRETS);
    bool masked = false;
    for (size_t i = 0; i < n; i++)
        masked |= strcmp(secrets[i].value, "emb-key-0123456789") == 0;
    assert_true(masked);
    config_free(&cfg);

    /* `linebot kb`: no LINE settings, no model key needed with both own settings. */
    assert_int_equal(config_load_embed(&cfg, own + 3, err, sizeof err), 0);
    assert_string_equal(cfg.embed_model, "e5");
    assert_string_equal(cfg.embed_api_key, "emb-key-0123456789");
    config_free(&cfg);
    assert_int_equal(config_load_embed(&cfg, (char *[]){"LINEBOT_DB=/tmp/x.db", NULL}, err, sizeof err), 0);
    assert_null(cfg.embed_model);
    config_free(&cfg);

    char *unset_key[] = {BASE, "LINEBOT_EMBED_MODEL=e5", "LINEBOT_EMBED_API_KEY_ENV=NOT_THERE", NULL};
    assert_int_equal(load(&cfg, err, unset_key), -1);
    assert_non_null(strstr(err, "LINEBOT_EMBED_API_KEY_ENV"));
    char *bad_cosine[] = {BASE, "LINEBOT_EMBED_MODEL=e5", "LINEBOT_KB_MIN_COSINE=2", NULL};
    assert_int_equal(load(&cfg, err, bad_cosine), -1);
    assert_non_null(strstr(err, "LINEBOT_KB_MIN_COSINE"));
    char *bad_url[] = {BASE, "LINEBOT_EMBED_MODEL=e5", "LINEBOT_EMBED_BASE_URL=ftp://x", NULL};
    assert_int_equal(load(&cfg, err, bad_url), -1);
    assert_non_null(strstr(err, "LINEBOT_EMBED_BASE_URL"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_missing_secret_names_variable),
        cmocka_unit_test(test_missing_token_names_variable),
        cmocka_unit_test(test_access_token_alias),
        cmocka_unit_test(test_missing_key_is_fatal_except_ollama),
        cmocka_unit_test(test_key_precedence),
        cmocka_unit_test(test_presets),
        cmocka_unit_test(test_bad_values),
        cmocka_unit_test(test_front_door_limits),
        cmocka_unit_test(test_max_event_age),
        cmocka_unit_test(test_booleans),
        cmocka_unit_test(test_empty_means_none),
        cmocka_unit_test(test_reasoning_effort),
        cmocka_unit_test(test_dashscope_host_override_not_in_release),
        cmocka_unit_test(test_credentials_are_trimmed),
        cmocka_unit_test(test_channel_secret_shape),
        cmocka_unit_test(test_defaults_and_bounds_come_from_the_table),
        cmocka_unit_test(test_embeddings),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
