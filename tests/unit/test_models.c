/* test_models.c - the model catalogue (LINEBOT_MODELS and every error that
 * stops start-up), LINEBOT_ADMINS, and the /model command as core/chat.c
 * decides it (typed, tapped, refused, forged). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "core/chat.h"
#include "core/models.h"
#include "core/postback.h"

#define BASE "LINE_CHANNEL_SECRET=s3cret-value", "LINE_CHANNEL_ACCESS_TOKEN=tok-value"

/* The presets as config.c has them, written out here: the test's own oracle. */
static const struct model_preset presets[] = {
    {"openai", LLM_PROVIDER_OPENAI, "https://api.openai.com/v1", "OPENAI_API_KEY"},
    {"dashscope", LLM_PROVIDER_DASHSCOPE, "https://dashscope-intl.aliyuncs.com/compatible-mode/v1",
     "DASHSCOPE_API_KEY"},
    {"ollama", LLM_PROVIDER_OLLAMA, "http://localhost:11434/v1", NULL},
    {"custom", LLM_PROVIDER_CUSTOM, NULL, NULL},
};
#define N_PRESETS (sizeof presets / sizeof presets[0])

static int parse(const char *json, char *const *env, const char *def, struct model_catalogue *c, char *err)
{
    return models_parse(json, env, presets, N_PRESETS, def, c, err, 384);
}

/* Parsing fails, and the one-line message contains every `want`. */
static void expect_error(const char *json, char *const *env, const char *want1, const char *want2)
{
    struct model_catalogue c;
    char err[384];
    if (parse(json, env, NULL, &c, err) != -1)
        fail_msg("accepted: %s", json);
    if (!strstr(err, want1) || (want2 && !strstr(err, want2)))
        fail_msg("for %s: \"%s\" does not name \"%s\" / \"%s\"", json, err, want1, want2 ? want2 : "");
    assert_null(strchr(err, '\n'));
    assert_int_equal(c.n, 0);
}

static void test_catalogue_fields(void **state)
{
    char *env[] = {"OPENAI_API_KEY=sk-openai-key", "FAST_KEY=fast-secret-key", "DASHSCOPE_API_KEY=ds-key", NULL};
    struct model_catalogue c;
    char err[384];
    const char *json =
        "[{\"name\": \"fast\", \"model\": \"gpt-4o-mini\", \"api_key_env\": \"FAST_KEY\", \"label\": \"Fast one\","
        "  \"base_url\": \"http://127.0.0.1:9/v1//\", \"vision\": true, \"audio\": false, \"audio_via\": \"chat\","
        "  \"input_price\": 0.15, \"output_price\": 0.6},"
        " {\"name\": \"qwen\", \"model\": \"qwen-plus\", \"provider\": \"dashscope\"},"
        " {\"name\": \"local.llama_3-2\", \"model\": \"llama3.2\", \"provider\": \"ollama\"},"
        " {\"name\": \"gpt\", \"model\": \"gpt-4o\"}]";
    assert_int_equal(parse(json, env, NULL, &c, err), 0);
    assert_int_equal(c.n, 4);
    assert_int_equal(c.default_index, 0);
    assert_int_equal(c.n_warnings, 0);
    const struct model_entry *fast = &c.items[0];
    assert_string_equal(fast->name, "fast");
    assert_string_equal(fast->model, "gpt-4o-mini");
    assert_int_equal(fast->provider, LLM_PROVIDER_OPENAI);
    assert_string_equal(fast->base_url, "http://127.0.0.1:9/v1");
    assert_string_equal(fast->api_key, "fast-secret-key");
    assert_string_equal(fast->api_key_env, "FAST_KEY");
    assert_string_equal(fast->label, "Fast one");
    assert_true(fast->vision);
    assert_false(fast->audio);
    assert_string_equal(fast->audio_via, "chat");
    assert_true(fast->input_price > 0.149 && fast->input_price < 0.151);
    assert_true(fast->output_price > 0.599 && fast->output_price < 0.601);
    /* The default key rule, per item: the provider's own variable. */
    assert_string_equal(c.items[1].api_key, "ds-key");
    assert_string_equal(c.items[1].base_url, "https://dashscope-intl.aliyuncs.com/compatible-mode/v1");
    assert_int_equal(c.items[1].provider, LLM_PROVIDER_DASHSCOPE);
    assert_true(c.items[1].input_price < 0); /* not set */
    assert_null(c.items[1].label);
    assert_string_equal(models_label(&c.items[1]), "qwen");
    assert_string_equal(c.items[2].api_key, ""); /* ollama needs none */
    assert_string_equal(c.items[3].api_key, "sk-openai-key");
    assert_string_equal(c.items[3].base_url, "https://api.openai.com/v1");
    assert_ptr_equal(models_find(&c, "gpt"), &c.items[3]);
    assert_null(models_find(&c, "GPT"));
    assert_ptr_equal(models_for_chat(&c, "qwen"), &c.items[1]);
    assert_ptr_equal(models_for_chat(&c, "gone"), &c.items[0]); /* removed since: the default */
    assert_ptr_equal(models_for_chat(&c, NULL), &c.items[0]);
    models_free(&c);

    /* LLM_API_KEY wins over the provider's variable, as today. */
    char *env2[] = {"LLM_API_KEY=llm-key-value", "OPENAI_API_KEY=sk-openai-key", NULL};
    assert_int_equal(parse("[{\"name\":\"a\",\"model\":\"m\"}]", env2, NULL, &c, err), 0);
    assert_string_equal(c.items[0].api_key, "llm-key-value");
    assert_string_equal(c.items[0].api_key_env, "LLM_API_KEY");
    models_free(&c);
}

static void test_catalogue_default_and_warnings(void **state)
{
    char *env[] = {"OPENAI_API_KEY=sk-openai-key", NULL};
    struct model_catalogue c;
    char err[384];
    const char *json = "[{\"name\":\"a\",\"model\":\"m1\",\"temperature\":0.2},{\"name\":\"b\",\"model\":\"m2\"}]";
    assert_int_equal(parse(json, env, "b", &c, err), 0);
    assert_int_equal(c.default_index, 1);
    assert_int_equal(c.n_warnings, 1); /* unknown fields are warned about, not fatal */
    assert_non_null(strstr(c.warnings[0], "temperature"));
    assert_non_null(strstr(c.warnings[0], "item 1"));
    models_free(&c);
    assert_int_equal(parse(json, env, "c", &c, err), -1);
    assert_non_null(strstr(err, "LINEBOT_DEFAULT_MODEL"));
}

static void test_catalogue_errors(void **state)
{
    char *env[] = {"OPENAI_API_KEY=sk-openai-key", NULL};
    char *no_key[] = {"OTHER=1", NULL};
    expect_error("[{\"name\":\"a\",\"model\":\"m\"", env, "not valid JSON", NULL);
    expect_error("{\"name\":\"a\"}", env, "JSON array", NULL);
    expect_error("[]", env, "JSON array", NULL);
    expect_error("[\"a\"]", env, "item 1", "must be an object");
    expect_error("[{\"model\":\"m\"}]", env, "item 1", "field name");
    expect_error("[{\"name\":\"\",\"model\":\"m\"}]", env, "item 1", "field name");
    expect_error("[{\"name\":\"has space\",\"model\":\"m\"}]", env, "item 1", "field name");
    expect_error("[{\"name\":\"a|b\",\"model\":\"m\"}]", env, "item 1", "field name");
    expect_error("[{\"name\":\"abcdefghijklmnopqrstuvwxyz0123456\",\"model\":\"m\"}]", env, "item 1", "field name");
    expect_error("[{\"name\":7,\"model\":\"m\"}]", env, "item 1", "field name");
    expect_error("[{\"name\":\"a\",\"model\":\"m\"},{\"name\":\"a\",\"model\":\"n\"}]", env,
                 "item 2 (\"a\") field name", "used twice");
    expect_error("[{\"name\":\"a\"}]", env, "item 1 (\"a\") field model", NULL);
    expect_error("[{\"name\":\"a\",\"model\":\"m\",\"provider\":\"acme\"}]", env, "field provider", NULL);
    expect_error("[{\"name\":\"a\",\"model\":\"m\",\"provider\":\"custom\"}]", env, "field base_url", NULL);
    expect_error("[{\"name\":\"a\",\"model\":\"m\",\"base_url\":\"ftp://host/v1\"}]", env, "field base_url", NULL);
    expect_error("[{\"name\":\"a\",\"model\":\"m\",\"base_url\":\"not a url\"}]", env, "field base_url", NULL);
    expect_error("[{\"name\":\"a\",\"model\":\"m\",\"base_url\":\"http://\"}]", env, "field base_url", NULL);
    expect_error("[{\"name\":\"a\",\"model\":\"m\",\"label\":\"123456789012345678901\"}]", env, "field label", NULL);
    /* 11 emoji are 22 UTF-16 units: over LINE's 20. */
    expect_error("[{\"name\":\"a\",\"model\":\"m\",\"label\":\"\\ud83d\\ude00\\ud83d\\ude00\\ud83d\\ude00\\ud83d\\ude00"
                 "\\ud83d\\ude00\\ud83d\\ude00\\ud83d\\ude00\\ud83d\\ude00\\ud83d\\ude00\\ud83d\\ude00\\ud83d\\ude00\"}]",
                 env, "field label", NULL);
    expect_error("[{\"name\":\"a\",\"model\":\"m\",\"label\":\"\"}]", env, "field label", NULL);
    expect_error("[{\"name\":\"a\",\"model\":\"m\",\"api_key_env\":\"MISSING_KEY\"}]", env, "field api_key_env",
                 "MISSING_KEY");
    expect_error("[{\"name\":\"a\",\"model\":\"m\"}]", no_key, "item 1 (\"a\") field api_key_env", "OPENAI_API_KEY");
    expect_error("[{\"name\":\"q\",\"model\":\"m\",\"provider\":\"dashscope\"}]", env, "field api_key_env",
                 "DASHSCOPE_API_KEY");
    expect_error("[{\"name\":\"a\",\"model\":\"m\",\"vision\":\"yes\"}]", env, "field vision", NULL);
    expect_error("[{\"name\":\"a\",\"model\":\"m\",\"audio\":1}]", env, "field audio", NULL);
    expect_error("[{\"name\":\"a\",\"model\":\"m\",\"input_price\":-1}]", env, "field input_price", NULL);
    expect_error("[{\"name\":\"a\",\"model\":\"m\",\"output_price\":\"cheap\"}]", env, "field output_price", NULL);
    expect_error("[{\"name\":\"a\",\"model\":\"m\",\"audio_via\":\"whisper\"}]", env, "field audio_via", NULL);

    /* 32 models is the most; 33 is refused. */
    char json[4096] = "[";
    for (int i = 0; i < 33; i++)
        snprintf(json + strlen(json), sizeof json - strlen(json), "%s{\"name\":\"m%d\",\"model\":\"x\"}",
                 i ? "," : "", i);
    strcat(json, "]");
    expect_error(json, env, "JSON array", NULL);

    /* A label of 20 CJK characters fits (20 UTF-16 units, 60 bytes). */
    struct model_catalogue c;
    char err[384];
    assert_int_equal(parse("[{\"name\":\"a\",\"model\":\"m\",\"label\":\"\xe9\xab\x98\xe9\x80\x9f\xe9\xab\x98\xe9\x80"
                           "\x9f\xe9\xab\x98\xe9\x80\x9f\xe9\xab\x98\xe9\x80\x9f\xe9\xab\x98\xe9\x80\x9f\xe9\xab\x98"
                           "\xe9\x80\x9f\xe9\xab\x98\xe9\x80\x9f\xe9\xab\x98\xe9\x80\x9f\xe9\xab\x98\xe9\x80\x9f\xe9"
                           "\xab\x98\xe9\x80\x9f\"}]",
                           env, NULL, &c, err),
                     0);
    models_free(&c);
}

/* ---- through config_load ---- */

static void test_config_without_catalogue(void **state)
{
    char *env[] = {BASE, "OPENAI_API_KEY=sk-abc-value", "LLM_MODEL=gpt-4.1-mini", NULL};
    struct config cfg;
    char err[384];
    assert_int_equal(config_load(&cfg, env, err, sizeof err), 0);
    assert_int_equal(cfg.models->n, 1); /* today's one model, named after LLM_MODEL */
    assert_string_equal(cfg.models->items[0].name, "gpt-4.1-mini");
    assert_string_equal(cfg.models->items[0].model, "gpt-4.1-mini");
    assert_string_equal(cfg.models->items[0].base_url, "https://api.openai.com/v1");
    assert_string_equal(cfg.models->items[0].api_key, "sk-abc-value");
    assert_int_equal(cfg.n_admins, 0);
    config_free(&cfg);

    char *env2[] = {BASE, "OPENAI_API_KEY=sk-abc-value", "LINEBOT_DEFAULT_MODEL=other", NULL};
    assert_int_equal(config_load(&cfg, env2, err, sizeof err), -1);
    assert_non_null(strstr(err, "LINEBOT_DEFAULT_MODEL"));
}

static void test_config_catalogue(void **state)
{
    /* No LLM_API_KEY nor OPENAI_API_KEY: each model names its own key. */
    char *env[] = {BASE,
                   "KEY_A=key-a-value-123",
                   "KEY_B=key-b-value-456",
                   "LINEBOT_MODELS=[{\"name\":\"a\",\"model\":\"ma\",\"api_key_env\":\"KEY_A\"},"
                   "{\"name\":\"b\",\"model\":\"mb\",\"api_key_env\":\"KEY_B\",\"provider\":\"custom\","
                   "\"base_url\":\"http://127.0.0.1:1/v1\"}]",
                   "LINEBOT_DEFAULT_MODEL=b",
                   "LINEBOT_ADMINS= Uadmin1 ,,Uadmin2,",
                   NULL};
    struct config cfg;
    char err[384];
    assert_int_equal(config_load(&cfg, env, err, sizeof err), 0);
    assert_int_equal(cfg.models->n, 2);
    assert_int_equal(cfg.models->default_index, 1);
    /* The LLM_* fields hold the default model: what doctor and the start line use. */
    assert_string_equal(cfg.llm_model, "mb");
    assert_string_equal(cfg.llm_base_url, "http://127.0.0.1:1/v1");
    assert_string_equal(cfg.llm_api_key, "key-b-value-456");
    assert_int_equal(cfg.provider, LLM_PROVIDER_CUSTOM);
    assert_int_equal(cfg.n_admins, 2);
    assert_string_equal(cfg.admins[0], "Uadmin1");
    assert_string_equal(cfg.admins[1], "Uadmin2");

    /* Both keys are masked in logs. */
    struct redact_secret secrets[CONFIG_MAX_SECRETS];
    size_t n = config_secrets(&cfg, secrets, CONFIG_MAX_SECRETS);
    bool a = false, b = false;
    for (size_t i = 0; i < n; i++) {
        a = a || strcmp(secrets[i].value, "key-a-value-123") == 0;
        b = b || strcmp(secrets[i].value, "key-b-value-456") == 0;
    }
    assert_true(a && b);
    config_free(&cfg);

    /* A bad catalogue stops start-up with the item and the field. */
    char *bad[] = {BASE, "LINEBOT_MODELS=[{\"name\":\"a\",\"model\":\"m\",\"api_key_env\":\"NOPE\"}]", NULL};
    assert_int_equal(config_load(&cfg, bad, err, sizeof err), -1);
    assert_non_null(strstr(err, "item 1 (\"a\") field api_key_env"));
}

static void test_config_catalogue_file(void **state)
{
    char path[] = "/tmp/linebot-test-models-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char *json = "[{\"name\":\"filed\",\"model\":\"m\",\"provider\":\"ollama\"}]";
    assert_int_equal(write(fd, json, strlen(json)), (ssize_t)strlen(json));
    close(fd);
    char setting[128];
    snprintf(setting, sizeof setting, "LINEBOT_MODELS=@%s", path);
    char *env[] = {BASE, setting, NULL};
    struct config cfg;
    char err[384];
    assert_int_equal(config_load(&cfg, env, err, sizeof err), 0);
    assert_string_equal(cfg.models->items[0].name, "filed");
    config_free(&cfg);
    unlink(path);
    assert_int_equal(config_load(&cfg, env, err, sizeof err), -1);
    assert_non_null(strstr(err, "LINEBOT_MODELS"));
}

/* ---- the /model command in core/chat.c ---- */

static struct model_catalogue two_models(void)
{
    char *env[] = {"OPENAI_API_KEY=sk-openai-key", NULL};
    struct model_catalogue c;
    char err[384];
    assert_int_equal(parse("[{\"name\":\"fast\",\"model\":\"m1\",\"label\":\"Fast\"},{\"name\":\"smart\","
                           "\"model\":\"m2\"}]",
                           env, NULL, &c, err),
                     0);
    return c;
}

static struct line_event event(enum event_kind kind, enum chat_type type, const char *user, const char *text)
{
    struct line_event ev;
    memset(&ev, 0, sizeof ev);
    ev.kind = kind;
    ev.message_kind = kind == EVENT_MESSAGE ? MESSAGE_TEXT : MESSAGE_NONE;
    ev.chat_type = type;
    ev.chat_id = (char *)(type == CHAT_USER ? user : "C1");
    ev.user_id = (char *)user;
    ev.reply_token = (char *)"rt";
    if (kind == EVENT_MESSAGE)
        ev.text = (char *)text;
    else
        ev.postback_data = (char *)text;
    return ev;
}

static void test_parse_model_command(void **state)
{
    const char *name;
    size_t len;
    assert_true(chat_parse_model_command("/model", &name, &len));
    assert_int_equal(len, 0);
    assert_true(chat_parse_model_command("/MODEL  fast ", &name, &len));
    assert_int_equal(len, 4);
    assert_memory_equal(name, "fast", 4);
    assert_true(chat_parse_model_command("/model\tsmart", &name, &len));
    assert_int_equal(len, 5);
    /* The full-width slash a Japanese keyboard types, as /reset and /persona take it. */
    assert_true(chat_parse_model_command("\xef\xbc\x8fmodel fast", &name, &len));
    assert_int_equal(len, 4);
    assert_memory_equal(name, "fast", 4);
    assert_false(chat_parse_model_command("/models", &name, &len));
    assert_false(chat_parse_model_command("model fast", &name, &len));
    assert_false(chat_parse_model_command(" /model", &name, &len));
    assert_false(chat_parse_model_command(NULL, &name, &len));
}

static void test_decide_model(void **state)
{
    struct model_catalogue cat = two_models();
    char *admins[] = {(char *)"Uadmin"};
    struct config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.models = &cat;
    struct chat_decision d;

    struct line_event ev = event(EVENT_MESSAGE, CHAT_USER, "U1", "/model");
    chat_decide(&cfg, &ev, NULL, &d);
    assert_int_equal(d.action, CHAT_MODEL);
    assert_string_equal(d.text, "");
    assert_true(d.rate_limited);
    chat_decision_free(&d);

    ev = event(EVENT_MESSAGE, CHAT_USER, "U1", "/model smart");
    chat_decide(&cfg, &ev, NULL, &d);
    assert_int_equal(d.action, CHAT_MODEL);
    assert_string_equal(d.text, "smart");
    chat_decision_free(&d);

    /* An unknown name is still CHAT_MODEL: the worker answers with the list. */
    ev = event(EVENT_MESSAGE, CHAT_USER, "U1", "/model nope");
    chat_decide(&cfg, &ev, NULL, &d);
    assert_int_equal(d.action, CHAT_MODEL);
    assert_string_equal(d.text, "nope");
    chat_decision_free(&d);

    /* A tap: the postback is ours and names a model of the catalogue. */
    ev = event(EVENT_POSTBACK, CHAT_USER, "U1", "v1|m|fast");
    assert_true(chat_needs_work(&cfg, &ev));
    chat_decide(&cfg, &ev, NULL, &d);
    assert_int_equal(d.action, CHAT_MODEL);
    assert_string_equal(d.text, "fast");
    chat_decision_free(&d);

    /* Forged or stale data is ignored. */
    const char *forged[] = {"v1|m|gone", "v1|x|fast", "v2|m|fast", "v1|m|", "v1|m|fast|x", "v1|m|fa st", "hello"};
    for (size_t i = 0; i < sizeof forged / sizeof forged[0]; i++) {
        ev = event(EVENT_POSTBACK, CHAT_USER, "U1", forged[i]);
        chat_decide(&cfg, &ev, NULL, &d);
        if (d.action != CHAT_IGNORE)
            fail_msg("acted on postback data %s", forged[i]);
        chat_decision_free(&d);
    }
    ev = event(EVENT_POSTBACK, CHAT_USER, "U1", "hello");
    assert_false(chat_needs_work(&cfg, &ev)); /* not even queued */
    ev = event(EVENT_POSTBACK, CHAT_USER, "U1", "v1|m|fast");
    ev.reply_token = NULL;
    assert_false(chat_needs_work(&cfg, &ev));

    /* Groups with LINEBOT_ADMINS: only admins switch, typed or tapped. */
    cfg.admins = admins;
    cfg.n_admins = 1;
    ev = event(EVENT_POSTBACK, CHAT_GROUP, "Uother", "v1|m|smart");
    assert_true(chat_needs_work(&cfg, &ev));
    chat_decide(&cfg, &ev, NULL, &d);
    assert_int_equal(d.action, CHAT_REPLY_FIXED);
    assert_int_equal(d.fixed, TEXT_MODEL_REFUSED);
    chat_decision_free(&d);
    ev = event(EVENT_POSTBACK, CHAT_GROUP, "Uadmin", "v1|m|smart");
    chat_decide(&cfg, &ev, NULL, &d);
    assert_int_equal(d.action, CHAT_MODEL);
    chat_decision_free(&d);
    ev = event(EVENT_POSTBACK, CHAT_GROUP, NULL, "v1|m|smart"); /* no userId: not an admin */
    chat_decide(&cfg, &ev, NULL, &d);
    assert_int_equal(d.action, CHAT_REPLY_FIXED);
    chat_decision_free(&d);
    cfg.trigger = (char *)"bot";
    ev = event(EVENT_MESSAGE, CHAT_GROUP, "Uother", "bot /model smart");
    chat_decide(&cfg, &ev, NULL, &d);
    assert_int_equal(d.action, CHAT_REPLY_FIXED);
    assert_int_equal(d.fixed, TEXT_MODEL_REFUSED);
    chat_decision_free(&d);
    ev = event(EVENT_MESSAGE, CHAT_GROUP, "Uother", "bot /model"); /* the list is for everyone */
    chat_decide(&cfg, &ev, NULL, &d);
    assert_int_equal(d.action, CHAT_MODEL);
    chat_decision_free(&d);
    ev = event(EVENT_MESSAGE, CHAT_USER, "Uother", "/model smart"); /* 1:1: the user's own chat */
    chat_decide(&cfg, &ev, NULL, &d);
    assert_int_equal(d.action, CHAT_MODEL);
    chat_decision_free(&d);
    models_free(&cat);
}

static void test_menu(void **state)
{
    struct model_catalogue cat = two_models();
    char *text = models_menu_text(&cat, &cat.items[1], "I don't know the model \"x\".", LANG_EN);
    assert_non_null(strstr(text, "I don't know the model"));
    assert_non_null(strstr(text, "Current model: smart"));
    assert_non_null(strstr(text, "fast (Fast)"));
    free(text);
    /* In Japanese and Chinese too: the texts table's words around the names. */
    text = models_menu_text(&cat, &cat.items[1], NULL, LANG_JA);
    assert_string_equal(text, "現在のモデル: smart\nモデル一覧:\n- fast (Fast)\n* smart\n"
                              "ボタンをタップするか、/model 名前 と入力すると切り替えられます。");
    free(text);
    text = models_switched_text(&cat.items[1], LANG_ZH_TW);
    assert_string_equal(text, "好的，這個聊天室現在改用 smart。");
    free(text);
    struct quick_reply qr;
    models_menu_buttons(&cat, &qr);
    assert_int_equal(qr.n, 2);
    assert_string_equal(qr.items[0].label, "Fast");
    assert_string_equal(qr.items[0].data, "v1|m|fast");
    assert_string_equal(qr.items[0].display_text, "/model fast");
    assert_string_equal(qr.items[1].label, "smart");
    quick_reply_free(&qr);
    text = models_switched_text(&cat.items[0], LANG_EN);
    assert_non_null(strstr(text, "fast"));
    free(text);
    models_free(&cat);

    /* More than 13 models: 13 buttons, and every model in the text. */
    char json[4096] = "[";
    for (int i = 0; i < 20; i++)
        snprintf(json + strlen(json), sizeof json - strlen(json), "%s{\"name\":\"model-%02d\",\"model\":\"x\"}",
                 i ? "," : "", i);
    strcat(json, "]");
    char *env[] = {"OPENAI_API_KEY=sk-openai-key", NULL};
    char err[384];
    assert_int_equal(parse(json, env, NULL, &cat, err), 0);
    models_menu_buttons(&cat, &qr);
    assert_int_equal(qr.n, 13);
    text = models_menu_text(&cat, &cat.items[0], NULL, LANG_EN);
    for (int i = 0; i < 20; i++) {
        char name[16];
        snprintf(name, sizeof name, "model-%02d", i);
        assert_non_null(strstr(text, name));
    }
    free(text);
    quick_reply_free(&qr);
    models_free(&cat);

    /* A model named after a long LLM_MODEL: its button label is cut to 20. */
    models_single(&cat, LLM_PROVIDER_CUSTOM, "org/some-very-long-model-name-v2:latest", "http://h/v1", "");
    models_menu_buttons(&cat, &qr);
    assert_int_equal(qr.n, 1);
    assert_int_equal(strlen(qr.items[0].label), 20);
    assert_string_equal(qr.items[0].data, "v1|m|org/some-very-long-model-name-v2:latest");
    quick_reply_free(&qr);
    models_free(&cat);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_catalogue_fields),
        cmocka_unit_test(test_catalogue_default_and_warnings),
        cmocka_unit_test(test_catalogue_errors),
        cmocka_unit_test(test_config_without_catalogue),
        cmocka_unit_test(test_config_catalogue),
        cmocka_unit_test(test_config_catalogue_file),
        cmocka_unit_test(test_parse_model_command),
        cmocka_unit_test(test_decide_model),
        cmocka_unit_test(test_menu),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
