/* test_cli_doctor.c - `linebot doctor` against the fake LINE and LLM.
 *
 * One good set-up passes every check; then each way the issue names breaks
 * it one at a time: settings that do not parse, a secret that is not 32 hex
 * characters (or is the token), a token LINE refuses, a model that cannot be
 * reached or refuses the key, a store that cannot be written, and an unset or
 * inactive webhook (a warning: exit 0). The oracle is the checklist's lines,
 * the exit status, and what the fakes received; no secret may be printed. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fake_embed.h"
#include "harness.h"

#define GOOD_SECRET "0123456789abcdef0123456789ABCDEF"
#define HOOK_URL "https://bot.example.com/callback"

/* A world whose set-up is right: a 32-hex secret, a registered active
 * webhook, a model list with the configured model, a readable CA file. */
static struct world *good_world(void **state)
{
    struct world *w = world_new(state, (const char *[]){"LINE_CHANNEL_SECRET=" GOOD_SECRET, NULL});
    fake_line_set_webhook(w->line, HOOK_URL, true);
    fake_llm_set_models(w->llm, (const char *[]){"other-model", E2E_MODEL, NULL});
    return w;
}

/* Runs doctor with `extra`; checks that no secret value was printed.
 * `err_out` (may be NULL) gets stderr, where start-up warnings go. */
static int doctor_err(struct world *w, const char *const *extra, char **out, char **err_out)
{
    char *err;
    int rc = bot_run(w, (const char *[]){"doctor", NULL}, extra, out, &err);
    static const char *const secrets[] = {GOOD_SECRET, E2E_CHANNEL_SECRET, E2E_ACCESS_TOKEN,
                                          "wrong-token-0123456789", "wrong-key-0123456789", "secretpw123",
                                          "postgres://", NULL};
    for (const char *const *s = secrets; *s; s++) {
        assert_not_contains(*out, *s);
        assert_not_contains(err, *s);
    }
    if (err_out)
        *err_out = err;
    else
        free(err);
    return rc;
}

static int doctor(struct world *w, const char *const *extra, char **out)
{
    return doctor_err(w, extra, out, NULL);
}

static void test_good_setup_passes(void **state)
{
    struct world *w = good_world(state);
    char *out;
    int rc = doctor(w, NULL, &out);
    if (rc != 0)
        fail_msg("exit %d:\n%s", rc, out);
    assert_contains(out, "ok   settings:");
    assert_contains(out, "ok   LINE channel secret:");
    assert_contains(out, "ok   LINE token: bot \"E2E Bot\" (@e2ebot)\n");
    assert_contains(out, "ok   webhook endpoint: " HOOK_URL " (active)\n");
    assert_contains(out, "ok   model: " E2E_MODEL " is listed at ");
    assert_contains(out, " ms)\n");
    assert_contains(out, "ok   store: ");
    assert_contains(out, "ok   clock: ");
    assert_contains(out, "All checks passed");
    assert_not_contains(out, "FAIL");
    assert_not_contains(out, "fix:");

    /* What LINE and the model were asked, with the right credentials. */
    assert_int_equal(fake_line_request_count(w->line, "GET", "/v2/bot/info"), 1);
    assert_int_equal(fake_line_request_count(w->line, "GET", "/v2/bot/channel/webhook/endpoint"), 1);
    struct fake_line_request q;
    assert_true(fake_line_request_at(w->line, 0, &q));
    assert_string_equal(q.path, "/v2/bot/info");
    assert_string_equal(q.authorization, "Bearer " E2E_ACCESS_TOKEN);
    assert_int_equal(fake_llm_request_count(w->llm), 1);
    char *line = fake_llm_request_line(w->llm, 0);
    char *auth = fake_llm_request_auth(w->llm, 0);
    assert_string_equal(line, "GET /v1/models");
    assert_string_equal(auth, "Bearer " E2E_LLM_KEY);
    free(line);
    free(auth);
    free(out);
    world_finish(w);
}

static void test_model_without_list_gets_one_token(void **state)
{
    struct world *w = good_world(state);
    fake_llm_set_models(w->llm, NULL); /* GET /v1/models: 404 */
    char *out;
    int rc = doctor(w, NULL, &out);
    if (rc != 0)
        fail_msg("exit %d:\n%s", rc, out);
    assert_contains(out, "ok   model: " E2E_MODEL " answered a one-token request");
    assert_int_equal(fake_llm_request_count(w->llm), 2);
    json_t *req = fake_llm_request_json(w->llm, 1);
    assert_non_null(req);
    /* LLM_PROVIDER=openai (the harness's): OpenAI's name for the budget. */
    assert_int_equal(json_integer_value(json_object_get(req, "max_completion_tokens")), 1);
    assert_string_equal(json_string_value(json_object_get(req, "model")), E2E_MODEL);
    json_decref(req);
    free(out);
    world_finish(w);
}

static void test_bad_settings(void **state)
{
    struct world *w = good_world(state);
    char *out;
    assert_int_equal(doctor(w, (const char *[]){"LINEBOT_WORKERS=many", NULL}, &out), 1);
    assert_contains(out, "FAIL settings: LINEBOT_WORKERS");
    assert_contains(out, "     fix: ");
    free(out);
    assert_int_equal(fake_line_request_total(w->line), 0);
    world_finish(w);
}

static void test_bad_secret_format(void **state)
{
    struct world *w = good_world(state);
    char *out;
    /* 35 characters, not all hexadecimal. */
    assert_int_equal(doctor(w, (const char *[]){"LINE_CHANNEL_SECRET=e2e-channel-secret-0123456789abcdef", NULL}, &out),
                     1);
    assert_contains(out, "FAIL LINE channel secret: LINE_CHANNEL_SECRET (35 characters) is not 32 hexadecimal");
    assert_contains(out, "     fix: copy the Channel secret from the Basic settings tab");
    assert_contains(out, "ok   LINE token:"); /* the other checks still run */
    assert_contains(out, "1 check(s) failed");
    free(out);

    /* The secret and the token swapped: the secret is a long token. */
    char tokenish[200];
    memset(tokenish, 'A', 150);
    tokenish[150] = '\0';
    char *swapped = e2e_printf("LINE_CHANNEL_SECRET=%s", tokenish);
    assert_int_equal(doctor(w, (const char *[]){swapped, NULL}, &out), 1);
    assert_contains(out, "swapped");
    assert_not_contains(out, tokenish);
    free(swapped);
    free(out);

    /* A quote on one side only is not trimmed (only a matching pair is). */
    assert_int_equal(doctor(w, (const char *[]){"LINE_CHANNEL_SECRET=" GOOD_SECRET "'", NULL}, &out), 1);
    assert_contains(out, "spaces, line breaks or quotes");
    free(out);

    /* A trailing space, as copied from a web page, is removed with a warning. */
    char *err;
    assert_int_equal(doctor_err(w, (const char *[]){"LINE_CHANNEL_SECRET=" GOOD_SECRET " ", NULL}, &out, &err), 0);
    assert_contains(out, "ok   LINE channel secret:");
    assert_contains(err, "LINE_CHANNEL_SECRET has spaces, line breaks or quotes around it");
    free(err);
    free(out);
    world_finish(w);
}

static void test_token_refused(void **state)
{
    struct world *w = good_world(state);
    char *out;
    assert_int_equal(doctor(w, (const char *[]){"LINE_CHANNEL_ACCESS_TOKEN=wrong-token-0123456789", NULL}, &out), 1);
    assert_contains(out, "FAIL LINE token: LINE refused LINE_CHANNEL_ACCESS_TOKEN");
    assert_contains(out, "Authentication failed"); /* LINE's message */
    assert_contains(out, "     fix: issue a long-lived channel access token");
    assert_contains(out, "skip webhook endpoint:");
    assert_contains(out, "ok   model:");
    struct fake_line_request q;
    assert_true(fake_line_request_at(w->line, 0, &q));
    assert_string_equal(q.authorization, "Bearer wrong-token-0123456789");
    assert_int_equal(q.status, 401);
    free(out);
    world_finish(w);
}

/* Pasted-credential mistakes: a CR or a pair of quotes around the token is
 * removed at start-up (with a warning naming the setting); what cannot be
 * removed safely, a quote on one side, is named before LINE is asked. */
static void test_token_with_cr_or_quotes(void **state)
{
    struct world *w = good_world(state);
    static const char *const fixable[] = {"LINE_CHANNEL_ACCESS_TOKEN=" E2E_ACCESS_TOKEN "\r",
                                          "LINE_CHANNEL_ACCESS_TOKEN=\"" E2E_ACCESS_TOKEN "\"", NULL};
    for (const char *const *b = fixable; *b; b++) {
        char *out, *err;
        assert_int_equal(doctor_err(w, (const char *[]){*b, NULL}, &out, &err), 0);
        assert_contains(out, "ok   LINE token:");
        assert_contains(err, "LINE_CHANNEL_ACCESS_TOKEN has spaces, line breaks or quotes around it");
        free(err);
        free(out);
    }
    for (size_t i = 0; i < fake_line_request_total(w->line); i++) {
        struct fake_line_request q;
        assert_true(fake_line_request_at(w->line, i, &q));
        assert_string_equal(q.authorization, "Bearer " E2E_ACCESS_TOKEN);
    }
    size_t info_asked = fake_line_request_count(w->line, NULL, "/v2/bot/info");
    char *out;
    assert_int_equal(doctor(w, (const char *[]){"LINE_CHANNEL_ACCESS_TOKEN=\"" E2E_ACCESS_TOKEN, NULL}, &out), 1);
    assert_contains(out, "FAIL LINE token: LINE_CHANNEL_ACCESS_TOKEN has spaces, line breaks or quotes around it");
    assert_contains(out, "     fix: remove them");
    free(out);
    assert_int_equal(fake_line_request_count(w->line, NULL, "/v2/bot/info"), info_asked);

    /* The same for the model's key. */
    size_t asked = fake_llm_request_count(w->llm);
    assert_int_equal(doctor(w, (const char *[]){"LLM_API_KEY='" E2E_LLM_KEY, NULL}, &out), 1);
    assert_contains(out, "FAIL model: the API key (LLM_API_KEY, OPENAI_API_KEY or DASHSCOPE_API_KEY) has spaces");
    free(out);
    assert_int_equal(fake_llm_request_count(w->llm), asked);
    assert_int_equal(doctor(w, (const char *[]){"LLM_API_KEY='" E2E_LLM_KEY "'", NULL}, &out), 0);
    assert_contains(out, "ok   model:");
    free(out);
    world_finish(w);
}

static void test_model_unreachable(void **state)
{
    struct world *w = good_world(state);
    char *out;
    assert_int_equal(doctor(w, (const char *[]){"LLM_BASE_URL=http://127.0.0.1:1/v1", NULL}, &out), 1);
    assert_contains(out, "FAIL model: http://127.0.0.1:1/v1 could not be reached");
    assert_contains(out, "     fix: check LLM_PROVIDER, LLM_BASE_URL");
    assert_contains(out, "ok   LINE token:");
    free(out);
    world_finish(w);
}

static void test_model_key_refused(void **state)
{
    struct world *w = good_world(state);
    char *out;
    const char *const wrong_key[] = {"LLM_API_KEY=wrong-key-0123456789", NULL};
    assert_int_equal(doctor(w, wrong_key, &out), 1);
    assert_contains(out, "FAIL model: ");
    assert_contains(out, "refused the key (status 401");
    assert_contains(out, "     fix: check LLM_API_KEY");
    char *auth = fake_llm_request_auth(w->llm, 0);
    assert_string_equal(auth, "Bearer wrong-key-0123456789");
    free(auth);
    free(out);

    /* A provider without a model list: the one-token request is refused. */
    fake_llm_set_models(w->llm, NULL);
    assert_int_equal(doctor(w, wrong_key, &out), 1);
    assert_contains(out, "refused the key");
    assert_contains(out, "     fix: check LLM_API_KEY");
    free(out);
    world_finish(w);
}

static void test_model_not_listed_is_a_warning(void **state)
{
    struct world *w = good_world(state);
    fake_llm_set_models(w->llm, (const char *[]){"other-model", NULL});
    char *out;
    assert_int_equal(doctor(w, NULL, &out), 0);
    assert_contains(out, "warn model: " E2E_MODEL " is not among the models listed at ");
    assert_contains(out, "     fix: check LLM_MODEL (the provider lists 1 model(s), e.g. other-model)");
    free(out);
    world_finish(w);
}

/* With LINEBOT_MODELS every model of the catalogue is checked, each by its
 * own base URL and key; one endpoint's list is asked for once. A model whose
 * key is refused or whose host cannot be reached fails doctor (exit 1),
 * naming that model and its key's variable; one the list lacks warns. */
static void test_catalogue_models(void **state)
{
    struct world *w = good_world(state);
    const char *url = fake_llm_base_url(w->llm);
    char *two = e2e_printf("LINEBOT_MODELS=[{\"name\":\"fast\",\"model\":\"" E2E_MODEL "\",\"provider\":\"custom\","
                           "\"base_url\":\"%s\",\"api_key_env\":\"LLM_KEY_FAST\"},"
                           "{\"name\":\"smart\",\"model\":\"smart-model\",\"provider\":\"custom\","
                           "\"base_url\":\"%s\",\"api_key_env\":\"LLM_KEY_SMART\"}]",
                           url, url);
    fake_llm_set_models(w->llm, (const char *[]){E2E_MODEL, "smart-model", NULL});
    char *out, *err;
    int rc = doctor_err(w, (const char *[]){two, "LLM_KEY_FAST=" E2E_LLM_KEY, "LLM_KEY_SMART=" E2E_LLM_KEY, NULL}, &out, &err);
    if (rc != 0)
        fail_msg("exit %d:\n%s", rc, out);
    assert_contains(out, "ok   model \"fast\": " E2E_MODEL " is listed at ");
    assert_contains(out, "ok   model \"smart\": smart-model is listed at ");
    assert_int_equal(fake_llm_request_count(w->llm), 1); /* one endpoint, one key: one list */
    assert_not_contains(err, "LLM_KEY_FAST"); /* the catalogue's key variables are settings too */
    assert_not_contains(err, "LLM_KEY_SMART");
    free(out);
    free(err);

    /* The second model's key is refused: doctor fails and names its variable. */
    size_t before = fake_llm_request_count(w->llm);
    assert_int_equal(doctor(w, (const char *[]){two, "LLM_KEY_FAST=" E2E_LLM_KEY, "LLM_KEY_SMART=wrong-key-0123456789", NULL},
                            &out),
                     1);
    assert_contains(out, "ok   model \"fast\": ");
    assert_contains(out, "FAIL model \"smart\": ");
    assert_contains(out, "refused the key (status 401");
    assert_contains(out, "     fix: check LLM_KEY_SMART: a key of this provider");
    assert_int_equal(fake_llm_request_count(w->llm) - before, 2); /* two keys: two lists */
    free(out);

    /* One the list lacks is a warning; one on a host that does not answer fails. */
    char *far = e2e_printf("LINEBOT_MODELS=[{\"name\":\"fast\",\"model\":\"" E2E_MODEL "\",\"provider\":\"custom\","
                           "\"base_url\":\"%s\",\"api_key_env\":\"LLM_KEY_FAST\"},"
                           "{\"name\":\"new\",\"model\":\"new-model\",\"provider\":\"custom\","
                           "\"base_url\":\"%s\",\"api_key_env\":\"LLM_KEY_FAST\"}]",
                           url, url);
    assert_int_equal(doctor(w, (const char *[]){far, "LLM_KEY_FAST=" E2E_LLM_KEY, NULL}, &out), 0);
    assert_contains(out, "warn model \"new\": new-model is not among the models listed at ");
    assert_contains(out, "     fix: check its model (the provider lists 2 model(s)");
    free(out);
    free(far);
    far = e2e_printf("LINEBOT_MODELS=[{\"name\":\"fast\",\"model\":\"" E2E_MODEL "\",\"provider\":\"custom\","
                     "\"base_url\":\"%s\",\"api_key_env\":\"LLM_KEY_FAST\"},"
                     "{\"name\":\"gone\",\"model\":\"gone-model\",\"provider\":\"custom\","
                     "\"base_url\":\"http://127.0.0.1:1/v1\",\"api_key_env\":\"LLM_KEY_FAST\"}]",
                     url);
    assert_int_equal(doctor(w, (const char *[]){far, "LLM_KEY_FAST=" E2E_LLM_KEY, NULL}, &out), 1);
    assert_contains(out, "FAIL model \"gone\": http://127.0.0.1:1/v1 could not be reached");
    assert_contains(out, "     fix: check the provider and base_url of \"gone\" in LINEBOT_MODELS and the network");
    free(out);
    free(far);
    free(two);
    world_finish(w);
}

static void stop_embed(void *arg)
{
    fake_embed_stop(arg);
}

/* With LINEBOT_EMBED_MODEL, doctor embeds one text: a refused key or a
 * model the server does not have fails (exit 1). */
static void test_embeddings(void **state)
{
    struct world *w = good_world(state);
    struct fake_embed *fe = fake_embed_start("e2e-embed-key-0123456789", "e2e-embed", 10);
    assert_non_null(fe);
    world_add_fake(w, NULL, stop_embed, fe);
    char *url = e2e_printf("LINEBOT_EMBED_BASE_URL=%s", fake_embed_base_url(fe));
    const char *good[] = {"LINEBOT_EMBED_MODEL=e2e-embed", url, "LINEBOT_EMBED_API_KEY_ENV=LLM_EMBED_KEY",
                          "LLM_EMBED_KEY=e2e-embed-key-0123456789", NULL};
    char *out;
    int rc = doctor(w, good, &out);
    if (rc != 0)
        fail_msg("exit %d:\n%s", rc, out);
    char *want = e2e_printf("ok   embeddings: e2e-embed answered at %s (%d dimensions, ", fake_embed_base_url(fe),
                            FAKE_EMBED_DIMS);
    assert_contains(out, want);
    free(want);
    assert_not_contains(out, "e2e-embed-key");
    free(out);
    struct fake_embed_stats st;
    fake_embed_stats(fe, &st);
    assert_int_equal(st.requests, 1);

    const char *wrong_key[] = {"LINEBOT_EMBED_MODEL=e2e-embed", url, "LINEBOT_EMBED_API_KEY_ENV=LLM_EMBED_KEY",
                               "LLM_EMBED_KEY=wrong-key-0123456789", NULL};
    assert_int_equal(doctor(w, wrong_key, &out), 1);
    assert_contains(out, "FAIL embeddings: ");
    assert_contains(out, "refused the key (the embeddings server answered HTTP 401");
    assert_contains(out, "     fix: check the key LINEBOT_EMBED_API_KEY_ENV names");
    free(out);

    const char *other_model[] = {"LINEBOT_EMBED_MODEL=no-such-embed", url, "LINEBOT_EMBED_API_KEY_ENV=LLM_EMBED_KEY",
                                 "LLM_EMBED_KEY=e2e-embed-key-0123456789", NULL};
    assert_int_equal(doctor(w, other_model, &out), 1);
    assert_contains(out, "FAIL embeddings: no-such-embed at ");
    assert_contains(out, "HTTP 404");
    assert_contains(out, "     fix: check LINEBOT_EMBED_MODEL and LINEBOT_EMBED_BASE_URL");
    free(out);
    free(url);
    world_finish(w);
}

static void test_line_unreachable_and_ca_unreadable(void **state)
{
    struct world *w = good_world(state);
    char *ca = e2e_printf("SSL_CERT_FILE=%s/no-such-ca.pem", w->dir);
    char *out;
    assert_int_equal(doctor(w, (const char *[]){"LINE_API_BASE_URL=http://127.0.0.1:1", ca, NULL}, &out), 1);
    assert_contains(out, "FAIL CA bundle: SSL_CERT_FILE ");
    assert_contains(out, "cannot be read");
    assert_contains(out, "FAIL LINE token: LINE could not be reached");
    assert_contains(out, "     fix: check the network, LINE_API_BASE_URL");
    assert_contains(out, "2 check(s) failed");
    free(ca);
    free(out);
    world_finish(w);
}

static void test_store_not_writable(void **state)
{
    struct world *w = good_world(state);
    char *db = e2e_printf("LINEBOT_DB=%s/no-such-dir/linebot.db", w->dir);
    char *out;
    assert_int_equal(doctor(w, (const char *[]){db, NULL}, &out), 1);
    assert_contains(out, "FAIL store: LINEBOT_DB cannot be opened");
    assert_contains(out, "     fix: point LINEBOT_DB at a file in a directory the bot may write");
    free(db);
    free(out);
    world_finish(w);
}

/* PostgreSQL: the URL (and its password) is never printed. */
static void test_store_postgres(void **state)
{
    struct world *w = good_world(state);
    char *out;
    assert_int_equal(doctor(w, (const char *[]){"LINEBOT_DB=postgres://u:secretpw123@127.0.0.1:1/db", NULL}, &out), 1);
    assert_contains(out, "FAIL store: LINEBOT_DB cannot be opened");
    assert_contains(out, "     fix: check the host, the database, the role and its password in LINEBOT_DB");
    free(out);

    const char *pg = getenv("LINEBOT_TEST_PG_URL");
    if (pg && *pg) {
        char *db = e2e_printf("LINEBOT_DB=%s", pg);
        assert_int_equal(doctor(w, (const char *[]){db, NULL}, &out), 0);
        assert_contains(out, "ok   store: the PostgreSQL database opens and is writable\n");
        free(db);
        free(out);
    }
    world_finish(w);
}

static void test_webhook_unset_or_inactive_is_a_warning(void **state)
{
    struct world *w = good_world(state);
    fake_line_set_webhook(w->line, "", false);
    char *out;
    assert_int_equal(doctor(w, NULL, &out), 0);
    assert_contains(out, "warn webhook endpoint: none registered");
    assert_contains(out, "     fix: linebot webhook set https://");
    assert_contains(out, "Ready, with 1 warning(s)");
    assert_not_contains(out, "FAIL");
    free(out);

    fake_line_set_webhook(w->line, HOOK_URL, false);
    assert_int_equal(doctor(w, NULL, &out), 0);
    assert_contains(out, "warn webhook endpoint: " HOOK_URL " (inactive");
    assert_contains(out, "     fix: turn \"Use webhook\" on");
    free(out);
    world_finish(w);
}

static void test_clock_off_is_a_warning(void **state)
{
    struct world *w = good_world(state);
    char *out;
    assert_int_equal(doctor(w, (const char *[]){"LINEBOT_TEST_CLOCK_OFFSET_MS=3600000", NULL}, &out), 0);
    assert_contains(out, "warn clock: ");
    assert_contains(out, "ahead of LINE's");
    assert_contains(out, "     fix: sync the clock with NTP");
    free(out);
    world_finish(w);
}

static void test_usage(void **state)
{
    struct world *w = good_world(state);
    char *out, *err;
    assert_int_equal(bot_run(w, (const char *[]){"doctor", "--help", NULL}, NULL, &out, NULL), 0);
    assert_contains(out, "Usage: linebot doctor");
    free(out);
    assert_int_equal(bot_run(w, (const char *[]){"doctor", "now", NULL}, NULL, NULL, &err), 2);
    assert_contains(err, "Usage: linebot doctor");
    free(err);
    assert_int_equal(bot_run(w, (const char *[]){"--help", NULL}, NULL, &out, NULL), 0);
    assert_contains(out, "linebot doctor");
    free(out);
    world_finish(w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        E2E_TEST(test_good_setup_passes),
        E2E_TEST(test_model_without_list_gets_one_token),
        E2E_TEST(test_bad_settings),
        E2E_TEST(test_bad_secret_format),
        E2E_TEST(test_token_refused),
        E2E_TEST(test_token_with_cr_or_quotes),
        E2E_TEST(test_model_unreachable),
        E2E_TEST(test_model_key_refused),
        E2E_TEST(test_model_not_listed_is_a_warning),
        E2E_TEST(test_catalogue_models),
        E2E_TEST(test_embeddings),
        E2E_TEST(test_line_unreachable_and_ca_unreadable),
        E2E_TEST(test_store_not_writable),
        E2E_TEST(test_store_postgres),
        E2E_TEST(test_webhook_unset_or_inactive_is_a_warning),
        E2E_TEST(test_clock_off_is_a_warning),
        E2E_TEST(test_usage),
    };
    return E2E_RUN(tests);
}
