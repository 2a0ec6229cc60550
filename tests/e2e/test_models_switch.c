/* test_models_switch.c - switching models from inside the chat (issue 11),
 * with the real binary, on SQLite and on PostgreSQL.
 *
 * Two fake LLM servers that accept different keys stand for two providers;
 * LINEBOT_MODELS names one model on each. The oracles are what the fakes
 * received: the server a question reached, the Authorization it carried and
 * the model id in its body; the quickReply LINE got with the /model answer
 * (checked against LINE's limits by the fake LINE, which answers 400 as LINE
 * does); and the texts users saw. A tap is a postback webhook carrying the
 * data of the button the bot sent. PostgreSQL cases run on a scratch schema
 * of LINEBOT_TEST_PG_URL and are skipped without it. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "pg_scratch.h"

#define USER_A "Ue2e0000000000000000000000000000a"
#define USER_B "Ue2e0000000000000000000000000000b"
#define ADMIN "Ue2eadmin0000000000000000000000001"
#define GROUP "Ce2egroup0000000000000000000000001"
#define KEY_B "second-provider-key-0123456789"

/* ---- the second provider ---- */

static void llm_dump(void *arg) { fake_llm_dump(arg); }
static void llm_stop(void *arg) { fake_llm_stop(arg); }

/* A second fake LLM (stopped with the world) that accepts only KEY_B. */
static struct fake_llm *second_llm(struct world *w)
{
    struct fake_llm *b = fake_llm_start(KEY_B);
    assert_non_null(b);
    world_add_fake(w, llm_dump, llm_stop, b);
    return b;
}

/* The start-up settings: "alpha" on the world's fake (key test-key, read
 * from KEY_ALPHA), "beta" on `b` (KEY_BETA). */
static char **catalogue_env(struct world *w, struct fake_llm *b)
{
    char **env = calloc(4, sizeof *env);
    env[0] = e2e_printf("LINEBOT_MODELS=[{\"name\":\"alpha\",\"model\":\"model-a\",\"provider\":\"custom\","
                        "\"base_url\":\"%s\",\"api_key_env\":\"KEY_ALPHA\",\"label\":\"Alpha\"},"
                        "{\"name\":\"beta\",\"model\":\"model-b\",\"provider\":\"custom\",\"base_url\":\"%s\","
                        "\"api_key_env\":\"KEY_BETA\",\"vision\":true,\"input_price\":0.5}]",
                        fake_llm_base_url(w->llm), fake_llm_base_url(b));
    env[1] = e2e_printf("KEY_ALPHA=%s", E2E_LLM_KEY);
    env[2] = e2e_printf("KEY_BETA=%s", KEY_B);
    return env;
}

static void env_free(char **env)
{
    for (char **e = env; *e; e++)
        free(*e);
    free(env);
}

/* ---- PostgreSQL scratch schemas ---- */

static const char *pg_url; /* LINEBOT_TEST_PG_URL; NULL: PostgreSQL cases skip */

/* ---- events and what LINE received ---- */

/* `user` says `text` in a 1:1 chat and gets exactly one more answer; returns
 * the texts delivered to that chat (malloc'd). */
static char *say(struct world *w, const char *user, const char *text, size_t answers_before)
{
    send_text(w, user, text);
    assert_answers(w, user, answers_before + 1);
    return world_texts(w, user);
}

/* The one request `llm` got last: it carried `key` and asked for `model`. */
static void assert_asked(struct fake_llm *llm, size_t count, const char *key, const char *model)
{
    assert_int_equal(fake_llm_request_count(llm), count);
    char *auth = fake_llm_request_auth(llm, count - 1);
    char *want = e2e_printf("Bearer %s", key);
    assert_string_equal(auth, want);
    json_t *req = fake_llm_request_json(llm, count - 1);
    assert_string_equal(json_string_value(json_object_get(req, "model")), model);
    json_decref(req);
    free(want);
    free(auth);
}

/* ---- the cases ---- */

/* /model lists with buttons; a tap switches; the next question goes to the
 * other server with its key and model id; a restart keeps the choice; typing
 * /model NAME switches back. `db` (may be NULL) selects the store. */
static void switch_and_restart(void **state, const char *db)
{
    const char *const overrides[] = {db, NULL};
    struct world *w = world_new(state, db ? overrides : NULL);
    struct fake_llm *b = second_llm(w);
    char **env = catalogue_env(w, b);
    bot_start(w, (const char *const *)env);

    char *texts = say(w, USER_A, "/model", 0);
    assert_contains(texts, "Current model: alpha");
    assert_contains(texts, "beta");
    free(texts);
    assert_int_equal(fake_llm_request_count(w->llm) + fake_llm_request_count(b), 0); /* a command, not a question */
    json_t *body;
    json_t *items = world_last_quick_reply(w, &body);
    assert_int_equal(json_array_size(items), 2);
    char *data = quick_reply_data(items, "beta");
    char *alpha_data = quick_reply_data(items, "Alpha"); /* the label, not the name */
    assert_true(strlen(data) <= 300);
    json_decref(body);

    /* The tap. */
    send_event(w, ev_postback(w, &(struct ev){.user = USER_A}, data));
    assert_answers(w, USER_A, 2);
    texts = world_texts(w, USER_A);
    assert_contains(texts, "now uses beta");
    free(texts);

    /* A question goes to beta's server, with beta's key and model id. */
    free(say(w, USER_A, "which model are you?", 2));
    assert_asked(b, 1, KEY_B, "model-b");
    assert_int_equal(fake_llm_request_count(w->llm), 0);
    /* Another chat still has the default. */
    free(say(w, USER_B, "and me?", 0));
    assert_asked(w->llm, 1, E2E_LLM_KEY, "model-a");

    /* After a restart the choice is kept. */
    bot_restart(w, (const char *const *)env);
    free(say(w, USER_A, "still there?", 3));
    assert_asked(b, 2, KEY_B, "model-b");

    /* Typed, the other way; the old button of alpha still works too. */
    texts = say(w, USER_A, "/model alpha", 4);
    assert_contains(texts, "now uses alpha");
    free(texts);
    free(say(w, USER_A, "and now?", 5));
    assert_asked(w->llm, 2, E2E_LLM_KEY, "model-a");
    send_event(w, ev_postback(w, &(struct ev){.user = USER_A}, data));
    assert_answers(w, USER_A, 7);
    send_event(w, ev_postback(w, &(struct ev){.user = USER_A}, alpha_data));
    assert_answers(w, USER_A, 8);
    free(say(w, USER_A, "last one", 8));
    assert_asked(w->llm, 3, E2E_LLM_KEY, "model-a");
    assert_int_equal(fake_llm_request_count(b), 2);

    free(data);
    free(alpha_data);
    env_free(env);
    world_finish(w);
}

static void test_switch_sqlite(void **state) { switch_and_restart(state, NULL); }

static void test_switch_postgres(void **state) { pg_scratch_run(state, "models", switch_and_restart); }

/* On PostgreSQL the choice is shared: a second instance on the same schema
 * uses the model the first one stored. */
static void test_shared_between_instances(void **state)
{
    if (!pg_url)
        skip();
    char schema[96];
    char *db = pg_scratch_db(pg_url, "models", schema, sizeof schema);
    const char *const overrides[] = {db, NULL};
    struct world *w = world_new(state, overrides);
    struct fake_llm *b = second_llm(w);
    char **env = catalogue_env(w, b);
    bot_start(w, (const char *const *)env);
    free(say(w, USER_A, "/model beta", 0));
    bot_stop(w);

    /* Another instance (its own port and LINE fake, the same database). */
    struct world *w2 = world_new(state, overrides);
    char **env2 = calloc(4, sizeof *env2);
    env2[0] = e2e_printf("LINEBOT_MODELS=[{\"name\":\"alpha\",\"model\":\"model-a\",\"provider\":\"custom\","
                         "\"base_url\":\"%s\",\"api_key_env\":\"KEY_ALPHA\"},{\"name\":\"beta\",\"model\":"
                         "\"model-b\",\"provider\":\"custom\",\"base_url\":\"%s\",\"api_key_env\":\"KEY_BETA\"}]",
                         fake_llm_base_url(w2->llm), fake_llm_base_url(b));
    env2[1] = e2e_printf("KEY_ALPHA=%s", E2E_LLM_KEY);
    env2[2] = e2e_printf("KEY_BETA=%s", KEY_B);
    bot_start(w2, (const char *const *)env2);
    free(say(w2, USER_A, "who answers?", 0));
    assert_asked(b, 1, KEY_B, "model-b");
    assert_int_equal(fake_llm_request_count(w2->llm), 0);
    world_finish(w2);
    *state = w;
    env_free(env2);
    env_free(env);
    world_finish(w);
    pg_scratch_drop(pg_url, schema);
    free(db);
}

/* In a group with LINEBOT_ADMINS, a member who is not an admin cannot switch
 * by tapping (the postback's source.userId is checked) nor by typing. */
static void group_non_admin_refused(void **state, const char *db)
{
    const char *const overrides[] = {"LINEBOT_ADMINS=" ADMIN, "LINEBOT_TRIGGER=bot", db, NULL};
    struct world *w = world_new(state, overrides);
    struct fake_llm *b = second_llm(w);
    char **env = catalogue_env(w, b);
    bot_start(w, (const char *const *)env);

    send_event(w, ev_postback(w, &(struct ev){.user = USER_A, .group = GROUP}, "v1|m|beta"));
    assert_answers(w, GROUP, 1);
    char *texts = world_texts(w, GROUP);
    assert_contains(texts, "only the group's admins");
    free(texts);
    send_event(w, ev_message(w, &(struct ev){.user = USER_A, .group = GROUP, .text = "bot /model beta"}));
    assert_answers(w, GROUP, 2);
    send_event(w, ev_message(w, &(struct ev){.user = USER_A, .group = GROUP, .text = "bot hello"}));
    assert_answers(w, GROUP, 3);
    assert_int_equal(fake_llm_request_count(b), 0); /* still the default */
    assert_int_equal(fake_llm_request_count(w->llm), 1);

    /* The admin's tap switches the whole group. */
    send_event(w, ev_postback(w, &(struct ev){.user = ADMIN, .group = GROUP}, "v1|m|beta"));
    assert_answers(w, GROUP, 4);
    texts = world_texts(w, GROUP);
    assert_contains(texts, "now uses beta");
    free(texts);
    send_event(w, ev_message(w, &(struct ev){.user = USER_A, .group = GROUP, .text = "bot hello again"}));
    assert_answers(w, GROUP, 5);
    assert_asked(b, 1, KEY_B, "model-b");
    env_free(env);
    world_finish(w);
}

static void test_group_non_admin_refused_sqlite(void **state) { group_non_admin_refused(state, NULL); }
static void test_group_non_admin_refused_postgres(void **state)
{
    pg_scratch_run(state, "models", group_non_admin_refused);
}

/* An unknown name gets the list; forged or stale button data is ignored,
 * and said so at debug. */
static void test_unknown_and_forged(void **state)
{
    struct world *w = world_new(state, NULL);
    struct fake_llm *b = second_llm(w);
    char **env = catalogue_env(w, b);
    bot_start(w, (const char *const *)env);

    char *texts = say(w, USER_A, "/model gamma", 0);
    assert_contains(texts, "I don't know the model \"gamma\"");
    assert_contains(texts, "alpha");
    assert_contains(texts, "beta");
    free(texts);
    json_t *body;
    json_t *items = world_last_quick_reply(w, &body);
    assert_int_equal(json_array_size(items), 2);
    json_decref(body);

    size_t line_before = fake_line_request_total(w->line);
    send_event(w, ev_postback(w, &(struct ev){.user = USER_A}, "v1|m|gamma"));
    send_event(w, ev_postback(w, &(struct ev){.user = USER_A}, "v1|q|alpha"));
    send_event(w, ev_postback(w, &(struct ev){.user = USER_A}, "v9|m|alpha"));
    send_event(w, ev_postback(w, &(struct ev){.user = USER_A}, "somebody else's data"));
    world_quiet(w);
    assert_untouched(w, 0, line_before);
    assert_int_equal(fake_llm_request_count(b), 0);
    char *log = bot_log(w);
    assert_contains(log, "postback names no model of the catalogue");
    assert_contains(log, "postback data unknown or forged");
    free(log);
    env_free(env);
    world_finish(w);
}

/* The fake refuses what LINE refuses, and the bot's own buttons pass with
 * many models: 13 buttons, every model in the text. */
static void test_quick_reply_limits(void **state)
{
    struct world *w = world_new(state, NULL);
    /* The fake LINE: a label of 21, no displayText, 14 items: 400 each. */
    static const char *const bad[] = {
        "{\"type\":\"action\",\"action\":{\"type\":\"postback\",\"label\":\"123456789012345678901\","
        "\"data\":\"d\",\"displayText\":\"t\"}}",
        "{\"type\":\"action\",\"action\":{\"type\":\"postback\",\"label\":\"l\",\"data\":\"d\"}}",
    };
    char *headers[] = {e2e_printf("Authorization: Bearer %s", E2E_ACCESS_TOKEN), "Content-Type: application/json",
                       NULL};
    char *url = e2e_printf("%s%s", fake_line_url(w->line), FAKE_LINE_REPLY_PATH);
    for (size_t i = 0; i < 3; i++) {
        char token[32];
        snprintf(token, sizeof token, "limit-token-%zu", i);
        fake_line_issue_token(w->line, token, 60000);
        char items[4096] = "";
        if (i < 2) {
            snprintf(items, sizeof items, "%s", bad[i]);
        } else {
            for (int k = 0; k < 14; k++)
                snprintf(items + strlen(items), sizeof items - strlen(items),
                         "%s{\"type\":\"action\",\"action\":{\"type\":\"postback\",\"label\":\"l\",\"data\":\"d\","
                         "\"displayText\":\"t\"}}", k ? "," : "");
        }
        char *body = e2e_printf("{\"replyToken\":\"%s\",\"messages\":[{\"type\":\"text\",\"text\":\"hi\","
                                "\"quickReply\":{\"items\":[%s]}}]}", token, items);
        long status = http_request("POST", url, body, strlen(body), (const char *const *)headers, NULL, NULL);
        if (status != 400)
            fail_msg("the fake LINE accepted %s (%ld)", body, status);
        free(body);
    }
    free(url);
    free(headers[0]);

    /* 15 models with labels of 20 characters: "模型NN" and 8 times "高速"
     * (CJK: 3 bytes and 1 UTF-16 unit each). */
    char models[8192] = "LINEBOT_MODELS=[";
    for (int i = 0; i < 15; i++) {
        char label[80];
        snprintf(label, sizeof label, "\xe6\xa8\xa1\xe5\x9e\x8b%02d", i);
        for (int k = 0; k < 8; k++)
            strcat(label, "\xe9\xab\x98\xe9\x80\x9f");
        assert_int_equal(e2e_utf16_len(label, strlen(label)), 20);
        snprintf(models + strlen(models), sizeof models - strlen(models),
                 "%s{\"name\":\"m%02d\",\"model\":\"x%d\",\"provider\":\"custom\",\"base_url\":\"%s\","
                 "\"label\":\"%s\"}",
                 i ? "," : "", i, i, fake_llm_base_url(w->llm), label);
    }
    strcat(models, "]");
    const char *const extra[] = {models, NULL};
    bot_start(w, extra);
    char *texts = say(w, USER_A, "/model", 0);
    for (int i = 0; i < 15; i++) {
        char name[8];
        snprintf(name, sizeof name, "m%02d", i);
        assert_contains(texts, name);
    }
    free(texts);
    json_t *body;
    json_t *items = world_last_quick_reply(w, &body);
    assert_int_equal(json_array_size(items), 13);
    json_decref(body);
    assert_int_equal(fake_line_request_count_status(w->line, FAKE_LINE_REPLY_PATH, 400), 3); /* only ours above */
    world_finish(w);
}

/* A bad catalogue stops start-up with one line naming the item and field. */
static void test_bad_catalogue_stops_start(void **state)
{
    struct world *w = world_new(state, NULL);
    const char *const missing_key[] = {
        "LINEBOT_MODELS=[{\"name\":\"a\",\"model\":\"m\",\"api_key_env\":\"NO_SUCH_KEY\"}]", NULL};
    bot_spawn(w, missing_key);
    int status = bot_wait_exit(w, e2e_ms(E2E_WAIT_MS));
    assert_true(status != -1 && status != 0);
    char *log = bot_log(w);
    assert_contains(log, "LINEBOT_MODELS item 1 (\"a\") field api_key_env");
    free(log);
    const char *const bad_url[] = {
        "LINEBOT_MODELS=[{\"name\":\"a\",\"model\":\"m\"},{\"name\":\"b\",\"model\":\"m\",\"base_url\":\"ftp://x\"}]",
        NULL};
    bot_spawn(w, bad_url);
    status = bot_wait_exit(w, e2e_ms(E2E_WAIT_MS));
    assert_true(status != -1 && status != 0);
    log = bot_log(w);
    assert_contains(log, "LINEBOT_MODELS item 2 (\"b\") field base_url");
    free(log);
    world_finish(w);
}

int main(void)
{
    pg_url = pg_scratch_url();
    if (!pg_url)
        fprintf(stderr, "[  SKIPPED ] PostgreSQL cases: LINEBOT_TEST_PG_URL is not set\n");
    const struct CMUnitTest tests[] = {
        E2E_TEST(test_switch_sqlite),
        E2E_TEST(test_switch_postgres),
        E2E_TEST(test_shared_between_instances),
        E2E_TEST(test_group_non_admin_refused_sqlite),
        E2E_TEST(test_group_non_admin_refused_postgres),
        E2E_TEST(test_unknown_and_forged),
        E2E_TEST(test_quick_reply_limits),
        E2E_TEST(test_bad_catalogue_stops_start),
    };
    return E2E_RUN(tests);
}
