/* test_fc_slow.c - slow answers on Alibaba Function Compute (issue 13,
 * parts 5 and 6), with the real binary in FC mode (listening on
 * FC_CUSTOM_LISTEN_PORT) and fake_fc delivering its asynchronous work
 * invocations.
 *
 * The webhook is handed to an asynchronous invocation, whose drain sends
 * "still working" with the "show the answer" button and parks the answer.
 * FC starts no background work in an instance, so the wait for a tap
 * (LINEBOT_PROGRESS_WAIT_S) is checked by the invocations that come: here a
 * timer trigger's event invocation. An instance killed inside a work
 * invocation is FC's function error: the stand-in retries the asynchronous
 * invocation as FC does (support/fake_fc.h), on the restarted bot. The
 * oracles are what the fake LINE accepted (API, reply token, deliveries per
 * chat), what the fake LLM was asked (how often, which image bytes), the
 * deliveries fake_fc recorded, and the log line the README promises. */
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "fake_fc.h"
#include "harness.h"
#include "vision_retry.h"

#define USER_A "Ue2e0000000000000000000000000000a"
#define ANSWER "Here is the slow answer."
#define PROGRESS_TEXT "Still working on it."
#define BUTTON "Show the answer"

/* The world and fake_fc, no bot yet. */
static struct world *fc_world(void **state, struct fake_fc **out)
{
    struct world *w = world_new(state, NULL);
    struct fake_fc *ff = fake_fc_start(NULL);
    assert_non_null(ff);
    world_add_fake(w, fake_fc_dump_cb, fake_fc_stop_cb, ff);
    fake_fc_add_credentials(ff, FAKE_FC_ENV_KEY_ID, FAKE_FC_ENV_SECRET, NULL);
    w->port_var = "FC_CUSTOM_LISTEN_PORT";
    *out = ff;
    return w;
}

/* Starts the bot in FC mode (an instance), handing off with the
 * environment's AccessKey, and points fake_fc's deliveries at it. */
static void fc_boot(struct world *w, struct fake_fc *ff, const char *const *extra)
{
    char *endpoint = e2e_printf("LINEBOT_FC_ENDPOINT=%s", fake_fc_url(ff));
    const char *env[32] = {endpoint, "FC_FUNCTION_NAME=" FAKE_FC_FUNCTION, "FC_REGION=" FAKE_FC_REGION,
                           "FC_ACCOUNT_ID=" FAKE_FC_ACCOUNT_ID, "FC_FUNCTION_HANDLER=index.handler",
                           "FC_FUNCTION_MEMORY_SIZE=512", "FC_INSTANCE_ID=c-e2e-instance-0001",
                           "ALIBABA_CLOUD_ACCESS_KEY_ID=" FAKE_FC_ENV_KEY_ID,
                           "ALIBABA_CLOUD_ACCESS_KEY_SECRET=" FAKE_FC_ENV_SECRET, "PORT"};
    size_t n = 0;
    while (env[n])
        n++;
    for (const char *const *x = extra; x && *x && n < 31; x++)
        env[n++] = *x;
    env[n] = NULL;
    bot_start(w, env);
    free(endpoint);
    fake_fc_set_target(ff, w->port);
}

static struct world *fc_start(void **state, struct fake_fc **out, const char *const *extra)
{
    struct world *w = fc_world(state, out);
    fc_boot(w, *out, extra);
    return w;
}

/* Posts `ev` and waits until the fake has delivered `deliveries` work
 * invocations in all, each answered 200 with x-fc-status 200. */
static void deliver(struct world *w, struct fake_fc *ff, json_t *ev, size_t deliveries)
{
    send_event(w, ev);
    if (!fake_fc_wait_deliveries(ff, deliveries, e2e_ms(E2E_WAIT_MS)))
        fail_msg("fake FC delivered %zu work invocation(s), want %zu", fake_fc_delivery_count(ff), deliveries);
    struct fake_fc_delivery d;
    assert_true(fake_fc_delivery_at(ff, deliveries - 1, &d));
    if (d.status != 200 || !d.fc_status || strcmp(d.fc_status, "200") != 0)
        fail_msg("work invocation %s: want 200 / x-fc-status 200, got %ld / %s: %s", d.request_id, d.status,
                 d.fc_status ? d.fc_status : "none", d.response ? d.response : "");
}

static struct fake_line_message last_message(struct world *w)
{
    struct fake_line_message m;
    assert_true(fake_line_message_at(w->line, fake_line_message_count(w->line) - 1, &m));
    return m;
}

static void assert_delivered(struct world *w, const char *chat, size_t n)
{
    size_t got = fake_line_delivery_count(w->line, chat);
    if (got != n) {
        char *t = world_texts(w, chat);
        fail_msg("%s: want %zu delivery(ies), got %zu; texts:\n%.3000s", chat, n, got, t);
    }
}

static bool log_has(struct world *w, const char *needle)
{
    char *log = bot_log(w);
    bool found = strstr(log, needle) != NULL;
    free(log);
    return found;
}

/* A slow question: "still working" with the button, the answer parked by
 * the work invocation. Returns the button's data (malloc'd). */
static char *ask_slow(struct world *w, struct fake_fc *ff, int64_t *ts_ms)
{
    fake_llm_push_answer(w->llm, ANSWER, 2500);
    json_t *ev = ev_message(w, &(struct ev){.user = USER_A, .text = "a hard question"});
    *ts_ms = e2e_now_ms();
    deliver(w, ff, ev, 1);
    assert_delivered(w, USER_A, 1);
    struct fake_line_message m = last_message(w);
    assert_string_equal(m.api, "reply");
    assert_string_equal(m.reply_token, ev_get(ev, "replyToken"));
    assert_contains(m.text, PROGRESS_TEXT);
    json_t *body = NULL;
    char *data = quick_reply_data(world_last_quick_reply(w, &body), BUTTON);
    json_decref(body);
    if (!log_has(w, "answer parked"))
        fail_msg("the work invocation ended without parking the answer");
    return data;
}

/* The tap's webhook goes through its own work invocation, which delivers
 * the parked answer with the tap's token, once. */
static void test_tap_delivers_once(void **state)
{
    struct fake_fc *ff;
    struct world *w = fc_start(state, &ff, (const char *const[]){"LINEBOT_PROGRESS_S=1", NULL});
    int64_t ts;
    char *data = ask_slow(w, ff, &ts);
    json_t *tap = ev_postback(w, &(struct ev){.user = USER_A}, data);
    deliver(w, ff, tap, 2);
    assert_delivered(w, USER_A, 2);
    struct fake_line_message m = last_message(w);
    assert_string_equal(m.api, "reply");
    assert_string_equal(m.reply_token, ev_get(tap, "replyToken"));
    assert_string_equal(m.text, ANSWER);
    deliver(w, ff, ev_postback(w, &(struct ev){.user = USER_A}, data), 3); /* the second tap */
    world_quiet(w);
    assert_delivered(w, USER_A, 2);
    assert_int_equal(fake_line_request_count(w->line, "POST", FAKE_LINE_PUSH_PATH), 0);
    assert_int_equal(fake_llm_request_count(w->llm), 1);
    free(data);
    assert_int_equal(fake_fc_pending(ff), 0);
    world_finish(w);
}

/* Nobody taps, and no message comes: a timer trigger's event invocation
 * finds the answer past LINEBOT_PROGRESS_WAIT_S and pushes it (push
 * fallback on), once, with a retry key. */
static void test_timer_trigger_pushes_after_wait(void **state)
{
    struct fake_fc *ff;
    struct world *w = fc_start(state, &ff, (const char *const[]){"LINEBOT_PROGRESS_S=1", "LINEBOT_PROGRESS_WAIT_S=2",
                                                               "LINEBOT_PUSH_FALLBACK=1", NULL});
    int64_t ts;
    char *data = ask_slow(w, ff, &ts);
    int64_t left = ts + 3700 - e2e_now_ms();
    if (left > 0)
        e2e_sleep_ms((int)left);
    assert_delivered(w, USER_A, 1); /* nothing runs between invocations */

    /* FC's timer trigger, as it invokes the function. */
    static const char timer[] = "{\"triggerTime\":\"2026-12-07T10:00:00Z\",\"triggerName\":\"linebot-e2e-timer\","
                                "\"payload\":\"\"}";
    static const char *const headers[] = {"x-fc-control-path: /invoke", "x-fc-request-id: 1-e2e-timer-0001",
                                          "x-fc-function-name: " FAKE_FC_FUNCTION,
                                          "Content-Type: application/octet-stream", NULL};
    char url[128];
    snprintf(url, sizeof url, "%s/invoke", w->base_url);
    struct http_result r;
    http_do("POST", url, timer, strlen(timer), headers, &r);
    assert_int_equal(r.status, 200);
    assert_contains(r.body, "done");
    http_result_free(&r);

    assert_true(log_has(w, "scheduled invocation: housekeeping and the inbox"));
    assert_delivered(w, USER_A, 2);
    struct fake_line_message m = last_message(w);
    assert_string_equal(m.api, "push");
    assert_string_equal(m.chat_id, USER_A);
    assert_string_equal(m.text, ANSWER);
    assert_true(m.retry_key && e2e_is_uuid(m.retry_key));
    assert_true(log_has(w, "not asked for within LINEBOT_PROGRESS_WAIT_S: pushing them"));
    deliver(w, ff, ev_postback(w, &(struct ev){.user = USER_A}, data), 2); /* a late tap */
    world_quiet(w);
    assert_delivered(w, USER_A, 2);
    assert_int_equal(fake_line_request_count(w->line, "POST", FAKE_LINE_PUSH_PATH), 1);
    free(data);
    assert_int_equal(fake_fc_pending(ff), 0);
    world_finish(w);
}

/* The model answered an image, then the instance is killed before LINE got
 * anything (the failpoint). FC retries the asynchronous invocation on a new
 * instance: the image is fetched and asked again, and answered exactly once. */
static void test_kill9_between_fetch_and_answer_is_retried(void **state)
{
    struct fake_fc *ff;
    struct world *w = fc_world(state, &ff);
    struct vision_retry v;
    vision_retry_setup(w, &v, USER_A, "img-fc-k9");
    fc_boot(w, ff, vision_retry_env(&v, true));
    /* The kill may come before the webhook's 200 left: then LINE redelivers. */
    long posted = bot_send(w, v.ev, NULL);
    if (posted != 200 && posted != 0)
        fail_msg("POST /callback answered %ld, want 200 (or no answer: killed after the hand-off)", posted);
    int status = bot_wait_exit(w, e2e_ms(E2E_WAIT_MS));
    if (status == -1 || !WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL)
        fail_msg("the instance should have died of SIGKILL after the model call (wait status 0x%x)", status);
    assert_true(fake_fc_wait_deliveries(ff, 1, e2e_ms(E2E_WAIT_MS)));
    struct fake_fc_delivery killed;
    assert_true(fake_fc_delivery_at(ff, 0, &killed));
    assert_int_equal(killed.status, 0); /* no answer: the instance died */
    assert_int_equal(fake_line_delivery_count(w->line, USER_A), 0);
    assert_int_equal(fake_llm_request_count(w->llm), 1);

    /* FC starts a new instance; the retry goes to it. */
    fc_boot(w, ff, vision_retry_env(&v, false));
    if (posted != 200)
        assert_int_equal(bot_send(w, v.ev, NULL), 200);
    assert_true(fake_fc_wait_deliveries(ff, 2, e2e_ms(E2E_WAIT_MS)));
    vision_retry_assert_answered_once(w, &v);
    struct fake_fc_delivery retry;
    assert_true(fake_fc_delivery_at(ff, 1, &retry));
    assert_int_equal(retry.attempt, 2);
    assert_string_equal(retry.payload, killed.payload);
    assert_int_equal(retry.status, 200);
    assert_string_equal(retry.fc_status, "200");
    vision_retry_free(&v);
    assert_int_equal(fake_fc_pending(ff), 0);
    world_finish(w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        E2E_TEST(test_tap_delivers_once),
        E2E_TEST(test_timer_trigger_pushes_after_wait),
        E2E_TEST(test_kill9_between_fetch_and_answer_is_retried),
    };
    return E2E_RUN(tests);
}
