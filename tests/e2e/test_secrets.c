/* test_secrets.c - what must never leave the bot: secrets in its log, and
 * the model's thoughts in an answer (issue 16, parts 4 and 6).
 *
 * Secrets: an upstream that echoes credentials. A small fake of its own here
 * (on fake_http) plays both the model and LINE: the model answers 401 with
 * OpenAI's "Incorrect API key provided: <the key it received>", LINE answers
 * 401 with a message that repeats the access token it received. The bot logs
 * those failures; its whole output (stdout and stderr) must then hold none of
 * the key, the access token or the channel secret, and must hold the masked
 * form instead, so the test sees that the failures were logged at all.
 *
 * Thoughts: the world's fake LLM answers with nested and unclosed <think>
 * blocks; the user receives only what is outside them. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fake_http.h"
#include "harness.h"

#define USER_A "Ue2e0000000000000000000000000000a"

/* Not "sk-" shaped: only the configured-secret masking can catch it. */
#define ECHO_KEY "e2e-model-key-Zq8pL2xW9vR4mN7b"

/* ---- the echoing upstream ------------------------------------------------ */

struct echo_fake {
    struct fake_http *http;
    char url[64];
    pthread_mutex_t mu;
    size_t llm_requests;
    size_t line_requests;
    char *last_llm_auth; /* the Authorization the model endpoint received */
};

/* The credentials after "Bearer " (or the whole header), "" when none. */
static const char *bearer_of(const struct fake_http_request *req)
{
    const char *auth = fake_http_header(req, "Authorization");
    if (!auth)
        return "";
    return strncmp(auth, "Bearer ", 7) == 0 ? auth + 7 : auth;
}

static void echo_on_request(void *ctx, const struct fake_http_request *req, struct fake_http_response *resp)
{
    struct echo_fake *f = ctx;
    const char *credential = bearer_of(req);
    json_t *body;
    pthread_mutex_lock(&f->mu);
    if (strcmp(req->path, "/v1/chat/completions") == 0) {
        f->llm_requests++;
        free(f->last_llm_auth);
        f->last_llm_auth = e2e_strdup(fake_http_header(req, "Authorization"));
        /* What OpenAI answers to a wrong key (it repeats the key). */
        char *message = e2e_printf("Incorrect API key provided: %s. You can find your API key at "
                                   "https://platform.openai.com/account/api-keys.", credential);
        body = json_pack("{s:{s:s, s:s, s:n, s:s}}", "error", "message", message, "type",
                         "invalid_request_error", "param", "code", "invalid_api_key");
        free(message);
    } else {
        f->line_requests++;
        char *message = e2e_printf("Authentication failed: invalid access token %s", credential);
        body = json_pack("{s:s}", "message", message);
        free(message);
    }
    pthread_mutex_unlock(&f->mu);
    fake_http_respond_json(resp, 401, body);
}

static void echo_stop(void *arg)
{
    struct echo_fake *f = arg;
    fake_http_stop(f->http);
    pthread_mutex_destroy(&f->mu);
    free(f->last_llm_auth);
    free(f);
}

static void echo_dump(void *arg)
{
    struct echo_fake *f = arg;
    pthread_mutex_lock(&f->mu);
    fprintf(stderr, "---- echo fake: %zu model request(s), %zu LINE request(s), last key header %s\n",
            f->llm_requests, f->line_requests, f->last_llm_auth ? "present" : "(none)");
    pthread_mutex_unlock(&f->mu);
}

static struct echo_fake *echo_start(struct world *w)
{
    struct echo_fake *f = e2e_xmalloc(sizeof *f);
    *f = (struct echo_fake){0};
    pthread_mutex_init(&f->mu, NULL);
    f->http = fake_http_start(echo_on_request, f, 1u << 20);
    assert_non_null(f->http);
    snprintf(f->url, sizeof f->url, "http://127.0.0.1:%d", fake_http_port(f->http));
    world_add_fake(w, echo_dump, echo_stop, f);
    return f;
}

static size_t echo_count(struct echo_fake *f, bool llm)
{
    pthread_mutex_lock(&f->mu);
    size_t n = llm ? f->llm_requests : f->line_requests;
    pthread_mutex_unlock(&f->mu);
    return n;
}

/* Waits until the bot's log holds every one of `needles` (NULL-terminated). */
static bool wait_log_has(struct world *w, const char *const *needles, int timeout_ms)
{
    int64_t deadline = e2e_mono_ms() + e2e_ms(timeout_ms);
    for (;;) {
        char *log = bot_log(w);
        bool all = true;
        for (const char *const *n = needles; *n; n++)
            all = all && strstr(log, *n) != NULL;
        free(log);
        if (all)
            return true;
        if (e2e_mono_ms() > deadline)
            return false;
        e2e_sleep_ms(50);
    }
}

/* No piece of `secret` of `piece` bytes or more is anywhere in `log`. */
static void assert_no_piece(const char *log, const char *secret, size_t piece, const char *what)
{
    size_t n = strlen(secret);
    for (size_t i = 0; i + piece <= n; i++) {
        char *needle = e2e_printf("%.*s", (int)piece, secret + i);
        if (strstr(log, needle))
            fail_msg("the log holds \"%s\", a piece of %s:\n%.4000s", needle, what, log);
        free(needle);
    }
}

/* The bot's output holds none of the secrets of this world. */
static void assert_log_clean(struct world *w, const char *key)
{
    char *log = bot_log(w);
    assert_no_piece(log, key, 12, "the model key");
    assert_no_piece(log, E2E_ACCESS_TOKEN, 12, "the access token");
    assert_no_piece(log, E2E_CHANNEL_SECRET, 12, "the channel secret");
    free(log);
}

/* Runs one question against the echoing upstream with `key` as the model key;
 * returns after the bot has logged both failures with `masks` in them. */
static struct echo_fake *run_echo(struct world **wp, void **state, const char *key, const char *const *masks)
{
    struct world *w = world_new(state, NULL);
    struct echo_fake *f = echo_start(w);
    char *llm_url = e2e_printf("LLM_BASE_URL=%s/v1", f->url);
    char *line_url = e2e_printf("LINE_API_BASE_URL=%s", f->url);
    char *key_var = e2e_printf("LLM_API_KEY=%s", key);
    const char *extra[] = {llm_url, line_url, key_var, "LOG_LEVEL=debug", NULL};
    bot_start(w, extra);
    free(llm_url);
    free(line_url);
    free(key_var);

    send_text(w, USER_A, "hello?");
    /* The oracle for "the upstream echoed it": what the fake received. */
    int64_t deadline = e2e_mono_ms() + e2e_ms(E2E_WAIT_MS);
    while ((echo_count(f, true) < 1 || echo_count(f, false) < 1) && e2e_mono_ms() < deadline)
        e2e_sleep_ms(20);
    assert_true(echo_count(f, true) >= 1);
    assert_true(echo_count(f, false) >= 1);
    pthread_mutex_lock(&f->mu);
    char *want_auth = e2e_printf("Bearer %s", key);
    assert_string_equal(f->last_llm_auth, want_auth);
    free(want_auth);
    pthread_mutex_unlock(&f->mu);

    if (!wait_log_has(w, masks, E2E_WAIT_MS)) {
        char *log = bot_log(w);
        fail_msg("the masked forms never appeared in the log:\n%.6000s", log);
    }
    *wp = w;
    return f;
}

/* The key, echoed by the model's 401, is masked by name; so is the access
 * token that LINE's 401 repeats. */
static void test_echoed_key_and_token_are_masked(void **state)
{
    struct world *w = NULL;
    const char *const masks[] = {
        "Incorrect API key provided: [redacted LLM_API_KEY]",
        "invalid access token [redacted LINE_CHANNEL_ACCESS_TOKEN]",
        NULL,
    };
    run_echo(&w, state, ECHO_KEY, masks);
    assert_log_clean(w, ECHO_KEY);
    bot_stop(w);
    assert_log_clean(w, ECHO_KEY); /* shutdown lines too */
    world_finish(w);
}

/* A long key (OpenAI's project keys have 164 characters) does not fit in the
 * error message, which is cut inside it. No piece may survive the cut. The
 * key is not "sk-" shaped, so only a cut that drops the whole word helps. */
static void test_long_echoed_key_leaves_no_piece(void **state)
{
    char key[200] = "proj-";
    for (size_t i = strlen(key); i < 164; i++)
        key[i] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"[(i * 7) % 64];
    key[164] = '\0';
    struct world *w = NULL;
    const char *const masks[] = {"status 401 (provider error: invalid_request_error: Incorrect API key provided:",
                                 "[redacted LINE_CHANNEL_ACCESS_TOKEN]", NULL};
    run_echo(&w, state, key, masks);
    assert_log_clean(w, key);
    world_finish(w);
}

/* A credential too short to be masked (it could be any word in a log line)
 * is named at start-up, without its value. */
static void test_short_secret_is_warned_about(void **state)
{
    struct world *w = world_new(state, NULL);
    const char *extra[] = {"LLM_API_KEY=k3y-42", NULL};
    bot_start(w, extra);
    const char *const warned[] = {"LLM_API_KEY is shorter than 8 characters", NULL};
    if (!wait_log_has(w, warned, E2E_WAIT_MS)) {
        char *log = bot_log(w);
        fail_msg("no warning about the short key:\n%.4000s", log);
    }
    char *log = bot_log(w);
    const char *line = strstr(log, "LLM_API_KEY is shorter");
    const char *end = strchr(line, '\n');
    char *warning = e2e_printf("%.*s", end ? (int)(end - line) : (int)strlen(line), line);
    assert_null(strstr(warning, "k3y-42"));
    assert_null(strstr(log, "LINE_CHANNEL_SECRET is shorter")); /* the test's own are long enough */
    free(warning);
    free(log);
    world_finish(w);
}

/* ---- <think> ------------------------------------------------------------- */

static void expect_answer_for(void **state, const char *model_says, const char *user_sees)
{
    struct world *w = world_start(state, NULL);
    fake_llm_set_fixed_answer(w->llm, model_says);
    send_text(w, USER_A, "think first");
    assert_answers(w, USER_A, 1);
    char *t = world_texts(w, USER_A);
    assert_string_equal(t, user_sees);
    free(t);
    world_finish(w);
}

static void test_nested_think_is_removed_whole(void **state)
{
    expect_answer_for(state, "<think><think>a</think> secret</think>answer", "answer");
}

static void test_unclosed_think_removes_the_rest(void **state)
{
    expect_answer_for(state, "Visible part.<think>hidden plan, cut off", "Visible part.");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        E2E_TEST(test_echoed_key_and_token_are_masked),
        E2E_TEST(test_long_echoed_key_leaves_no_piece),
        E2E_TEST(test_short_secret_is_warned_about),
        E2E_TEST(test_nested_think_is_removed_whole),
        E2E_TEST(test_unclosed_think_removes_the_rest),
    };
    return E2E_RUN(tests);
}
