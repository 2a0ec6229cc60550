/* test_lambda_slow.c - slow and interrupted work on AWS Lambda (issue 13,
 * parts 5 and 6), with the real binary as a custom runtime against
 * fake_lambda (the Runtime API and the Invoke API on loopback).
 *
 * A webhook invocation hands its events to an asynchronous invocation of the
 * function, and that work invocation does the slow part: the "still working"
 * message with its "show the answer" button, the parked answer, a content
 * fetch. Between invocations nothing runs (Lambda freezes the runtime; here
 * it waits in GET next), so the wait for a tap (LINEBOT_PROGRESS_WAIT_S) is
 * checked by the invocations that come: another user's work invocation, or
 * a schedule. A runtime killed inside a work invocation is Lambda's "runtime
 * exited" error: the stand-in retries the asynchronous invocation as Lambda
 * does (support/fake_lambda.h), on the restarted runtime.
 *
 * The oracles are what the fake LINE accepted (which API, which reply token,
 * how many deliveries per chat; it refuses a reply token used twice), what
 * the fake LLM was asked (how often, which image bytes it decoded), the
 * invocations and their results the stand-in recorded, and the log lines the
 * README promises. PostgreSQL cases run on a scratch schema of
 * LINEBOT_TEST_PG_URL and are skipped without it. */
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "fake_lambda.h"
#include "harness.h"
#include "vision_retry.h"
#include "pg_scratch.h"

#define USER_A "Ue2e0000000000000000000000000000a"
#define USER_B "Ue2e0000000000000000000000000000b"
#define ANSWER "Here is the slow answer."
#define PROGRESS_TEXT "Still working on it."
#define BUTTON "Show the answer"

/* ---- the runtime ---- */

static struct world *lambda_world(void **state, struct fake_lambda **out)
{
    struct world *w = world_new(state, NULL);
    struct fake_lambda *fl = fake_lambda_start(NULL);
    assert_non_null(fl);
    world_add_fake(w, fake_lambda_dump_cb, fake_lambda_stop_cb, fl);
    *out = fl;
    return w;
}

/* Starts the runtime as Lambda does (`bootstrap`, Lambda's environment,
 * plus `extra`) and waits until it asks for its first invocation. */
static void lambda_start(struct world *w, struct fake_lambda *fl, const char *const *extra)
{
    char *api = e2e_printf("AWS_LAMBDA_RUNTIME_API=%s", fake_lambda_runtime_api(fl));
    char *endpoint = e2e_printf("AWS_ENDPOINT_URL_LAMBDA=%s", fake_lambda_url(fl));
    const char *env[32] = {api, endpoint, "AWS_LAMBDA_FUNCTION_NAME=" FAKE_LAMBDA_FUNCTION,
                           "AWS_LAMBDA_FUNCTION_VERSION=$LATEST", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE=512",
                           "AWS_REGION=" FAKE_AWS_REGION, "AWS_ACCESS_KEY_ID=" FAKE_AWS_ACCESS_KEY_ID,
                           "AWS_SECRET_ACCESS_KEY=" FAKE_AWS_SECRET_ACCESS_KEY,
                           "AWS_SESSION_TOKEN=" FAKE_AWS_SESSION_TOKEN, "_HANDLER=bootstrap", "HOST", "PORT"};
    size_t n = 0;
    while (env[n])
        n++;
    for (const char *const *x = extra; x && *x && n < 31; x++)
        env[n++] = *x;
    env[n] = NULL;
    bot_spawn_bootstrap(w, env);
    free(api);
    free(endpoint);
    if (!fake_lambda_wait_idle(fl, e2e_ms(15000))) {
        bot_print_log(w, 60);
        fail_msg("the runtime never asked for an invocation (GET /runtime/invocation/next)");
    }
}

/* Waits until the runtime is back in GET next with nothing queued: every
 * invocation so far (the hand-offs' included) is finished. */
static void wait_idle(struct fake_lambda *fl)
{
    if (!fake_lambda_wait_idle(fl, e2e_ms(E2E_WAIT_MS)))
        fail_msg("the runtime did not finish its invocations within %d ms", e2e_ms(E2E_WAIT_MS));
}

/* Every invocation handed out ended with one response, except the attempts
 * a runtime died in ("exit"); no protocol problems. Then SIGTERM (Lambda
 * never asks a runtime to exit: death by the signal is fine too). */
static void lambda_finish(struct world *w, struct fake_lambda *fl)
{
    char *problems = fake_lambda_problems(fl);
    if (problems)
        fail_msg("the fake Lambda saw protocol problems:\n%s", problems);
    for (size_t i = 0; i < fake_lambda_invocation_count(fl); i++) {
        struct fake_lambda_invocation inv;
        assert_true(fake_lambda_invocation_at(fl, i, &inv));
        bool died = inv.result_kind && strcmp(inv.result_kind, "exit") == 0;
        if (inv.delivered && !died && (inv.n_results != 1 || strcmp(inv.result_kind, "response") != 0))
            fail_msg("invocation %s got %d result(s) (%s), want exactly 1 response", inv.request_id,
                     inv.n_results, inv.result_kind ? inv.result_kind : "none");
    }
    if (w->pid > 0) {
        int status = bot_term(w, e2e_ms(10000));
        if (status == -1) {
            bot_kill9(w);
            fail_msg("the runtime did not stop within 10 s of SIGTERM");
        }
        if (!(WIFEXITED(status) && WEXITSTATUS(status) == 0) && !(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM))
            fail_msg("the runtime ended badly on SIGTERM (wait status 0x%x)", status);
    }
    world_finish(w);
}

/* ---- webhooks through API Gateway ---- */

/* Queues API Gateway's HTTP API event around the signed webhook of `ev`,
 * waits for its answer (it must be 200), and returns its request id. */
static const char *post(struct fake_lambda *fl, json_t *ev)
{
    char *body = webhook_body(ev, NULL);
    char *sig = line_signature(E2E_CHANNEL_SECRET, body, strlen(body));
    json_t *event = json_pack("{s:s,s:s,s:s,s:{s:s,s:s},s:{s:{s:s,s:s},s:s},s:s,s:b}", "version", "2.0",
                              "routeKey", "POST /callback", "rawPath", "/callback", "headers", "content-type",
                              "application/json", "x-line-signature", sig, "requestContext", "http", "method",
                              "POST", "path", "/callback", "requestId", "slowReq=", "body", body,
                              "isBase64Encoded", 0);
    char *payload = json_dumps(event, JSON_COMPACT);
    const char *rid = fake_lambda_enqueue(fl, payload);
    free(payload);
    json_decref(event);
    free(sig);
    free(body);
    if (!fake_lambda_wait_result(fl, rid, e2e_ms(E2E_WAIT_MS)))
        fail_msg("webhook invocation %s got no result", rid);
    struct fake_lambda_invocation inv;
    assert_true(fake_lambda_invocation(fl, rid, &inv));
    if (strcmp(inv.result_kind, "response") != 0 || !strstr(inv.result, "\"statusCode\":200"))
        fail_msg("webhook invocation %s: want statusCode 200, got %s %s", rid, inv.result_kind, inv.result);
    return rid;
}

/* Posts `ev` and waits until its work invocation is finished too. */
static void deliver(struct fake_lambda *fl, json_t *ev)
{
    post(fl, ev);
    wait_idle(fl);
}

/* ---- what LINE got ---- */

static struct fake_line_message message(struct world *w, size_t i)
{
    struct fake_line_message m;
    assert_true(fake_line_message_at(w->line, i, &m));
    return m;
}

static struct fake_line_message last_message(struct world *w)
{
    return message(w, fake_line_message_count(w->line) - 1);
}

/* Exactly `n` deliveries to `chat` now (the runtime is idle: nothing is on its way). */
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

/* A question from `user` whose answer takes `delay_ms`: its work invocation
 * sends "still working" with the button by the event's reply token, and
 * parks the answer. Returns the button's data (malloc'd); `ts_ms` gets the
 * event's timestamp. */
static char *ask_slow(struct world *w, struct fake_lambda *fl, const char *user, int delay_ms, int64_t *ts_ms)
{
    fake_llm_push_answer(w->llm, ANSWER, delay_ms);
    json_t *ev = ev_message(w, &(struct ev){.user = user, .text = "a hard question"});
    *ts_ms = e2e_now_ms();
    deliver(fl, ev);
    assert_delivered(w, user, 1);
    struct fake_line_message m = last_message(w);
    assert_string_equal(m.api, "reply");
    assert_string_equal(m.reply_token, ev_get(ev, "replyToken"));
    assert_contains(m.text, PROGRESS_TEXT);
    json_t *body = NULL;
    char *data = quick_reply_data(world_last_quick_reply(w, &body), BUTTON);
    json_decref(body);
    assert_true(strncmp(data, "v1|a|", 5) == 0);
    assert_contains(data, ev_get(ev, "webhookEventId"));
    if (!log_has(w, "answer parked"))
        fail_msg("the work invocation ended without parking the answer");
    return data;
}

/* Taps the button: a postback with a fresh reply token, through a webhook
 * invocation and its work invocation; returns that token. */
static const char *tap(struct world *w, struct fake_lambda *fl, const char *user, const char *data)
{
    json_t *ev = ev_postback(w, &(struct ev){.user = user}, data);
    deliver(fl, ev);
    return ev_get(ev, "replyToken");
}

/* Sleeps until LINEBOT_PROGRESS_S + LINEBOT_PROGRESS_WAIT_S (`total_s`)
 * after the event at `ts_ms` are past, with a margin. */
static void wait_past(int64_t ts_ms, int total_s)
{
    int64_t left = ts_ms + total_s * 1000LL + 700 - e2e_now_ms();
    if (left > 0)
        e2e_sleep_ms((int)left);
}

/* ---- cases ---- */

/* The answer is parked by the work invocation; the tap's own webhook and
 * work invocations deliver it with the tap's token, once. A second tap finds
 * nothing. */
static void tap_delivers_once(void **state, const char *db)
{
    struct fake_lambda *fl;
    struct world *w = lambda_world(state, &fl);
    lambda_start(w, fl, (const char *const[]){"LINEBOT_PROGRESS_S=1", db, NULL});
    int64_t ts;
    char *data = ask_slow(w, fl, USER_A, 3000, &ts);

    const char *token = tap(w, fl, USER_A, data);
    assert_delivered(w, USER_A, 2);
    struct fake_line_message m = last_message(w);
    assert_string_equal(m.api, "reply");
    assert_string_equal(m.reply_token, token);
    assert_string_equal(m.text, ANSWER);

    tap(w, fl, USER_A, data); /* the second tap */
    world_quiet(w);
    assert_delivered(w, USER_A, 2);
    assert_int_equal(fake_line_request_count(w->line, "POST", FAKE_LINE_PUSH_PATH), 0);
    assert_int_equal(fake_llm_request_count(w->llm), 1);
    /* Three webhooks, each handed to one work invocation, none retried. */
    assert_int_equal(fake_lambda_invoke_count(fl), 3);
    assert_int_equal(fake_lambda_invocation_count(fl), 6);
    free(data);
    lambda_finish(w, fl);
}

static void test_tap_delivers_once_sqlite(void **state) { tap_delivers_once(state, NULL); }
static void test_tap_delivers_once_postgres(void **state) { pg_scratch_run(state, "lambda_slow", tap_delivers_once); }

/* Nobody taps. Nothing runs between invocations, so the answer waits past
 * LINEBOT_PROGRESS_WAIT_S until an invocation comes: here another user's
 * message, whose work invocation pushes it (push fallback on), once, with a
 * retry key, besides answering its own event. A tap after that finds
 * nothing. */
static void push_after_wait(void **state, const char *db)
{
    struct fake_lambda *fl;
    struct world *w = lambda_world(state, &fl);
    lambda_start(w, fl, (const char *const[]){"LINEBOT_PROGRESS_S=1", "LINEBOT_PROGRESS_WAIT_S=2",
                                              "LINEBOT_PUSH_FALLBACK=1", db, NULL});
    int64_t ts;
    char *data = ask_slow(w, fl, USER_A, 2000, &ts);
    wait_past(ts, 1 + 2);
    assert_delivered(w, USER_A, 1); /* frozen between invocations */

    fake_llm_push_answer(w->llm, "Hello B.", 0);
    json_t *ev = ev_message(w, &(struct ev){.user = USER_B, .text = "hello"});
    deliver(fl, ev);
    assert_delivered(w, USER_B, 1);
    assert_delivered(w, USER_A, 2);
    assert_int_equal(fake_line_request_count(w->line, "POST", FAKE_LINE_PUSH_PATH), 1);
    bool pushed = false;
    for (size_t i = 0; i < fake_line_message_count(w->line); i++) {
        struct fake_line_message m = message(w, i);
        if (strcmp(m.api, "push") != 0)
            continue;
        assert_string_equal(m.chat_id, USER_A);
        assert_string_equal(m.text, ANSWER);
        assert_true(m.retry_key && e2e_is_uuid(m.retry_key));
        pushed = true;
    }
    assert_true(pushed);
    assert_true(log_has(w, "not asked for within LINEBOT_PROGRESS_WAIT_S: pushing them"));

    tap(w, fl, USER_A, data);
    world_quiet(w);
    assert_delivered(w, USER_A, 2);
    assert_int_equal(fake_llm_request_count(w->llm), 2);
    free(data);
    lambda_finish(w, fl);
}

static void test_push_after_wait_sqlite(void **state) { push_after_wait(state, NULL); }
static void test_push_after_wait_postgres(void **state) { pg_scratch_run(state, "lambda_slow", push_after_wait); }

/* Push fallback off, and no traffic: a scheduled invocation (EventBridge's
 * event) finds the answer past its wait and drops it with the log line;
 * nothing is pushed, and a later tap finds nothing. */
static void test_schedule_drops_after_wait(void **state)
{
    struct fake_lambda *fl;
    struct world *w = lambda_world(state, &fl);
    lambda_start(w, fl, (const char *const[]){"LINEBOT_PROGRESS_S=1", "LINEBOT_PROGRESS_WAIT_S=2", NULL});
    int64_t ts;
    char *data = ask_slow(w, fl, USER_A, 2000, &ts);
    wait_past(ts, 1 + 2);
    assert_false(log_has(w, "dropping them"));

    const char *rid = fake_lambda_enqueue(
        fl, "{\"version\":\"0\",\"id\":\"e2e-schedule-1\",\"detail-type\":\"Scheduled Event\","
            "\"source\":\"aws.events\",\"account\":\"123456789012\",\"region\":\"" FAKE_AWS_REGION "\","
            "\"resources\":[\"arn:aws:events:" FAKE_AWS_REGION ":123456789012:rule/linebot-e2e\"],\"detail\":{}}");
    assert_true(fake_lambda_wait_result(fl, rid, e2e_ms(E2E_WAIT_MS)));
    wait_idle(fl);
    assert_true(log_has(w, "scheduled invocation: housekeeping and the inbox"));
    if (!log_has(w, "not asked for within LINEBOT_PROGRESS_WAIT_S: dropping them (push fallback is off)"))
        fail_msg("the scheduled invocation did not drop the parked answer");
    tap(w, fl, USER_A, data);
    world_quiet(w);
    assert_delivered(w, USER_A, 1);
    assert_int_equal(fake_line_request_count(w->line, "POST", FAKE_LINE_PUSH_PATH), 0);
    assert_int_equal(fake_lambda_invoke_count(fl), 2); /* the two webhooks' hand-offs, nothing more */
    free(data);
    lambda_finish(w, fl);
}

/* ---- the slow housekeeping on a schedule ---- */

static const char schedule_event[] =
    "{\"version\":\"0\",\"id\":\"e2e-schedule-2\",\"detail-type\":\"Scheduled Event\","
    "\"source\":\"aws.events\",\"account\":\"123456789012\",\"region\":\"" FAKE_AWS_REGION "\","
    "\"resources\":[\"arn:aws:events:" FAKE_AWS_REGION ":123456789012:rule/linebot-e2e\"],\"detail\":{}}";

/* Stops the runtime, starts a new one with `extra`, and gives it one
 * scheduled invocation; returns when the runtime is idle again. */
static void restart_and_schedule(struct world *w, struct fake_lambda *fl, const char *const *extra)
{
    int status = bot_term(w, e2e_ms(10000));
    assert_true(status != -1);
    lambda_start(w, fl, extra);
    const char *rid = fake_lambda_enqueue(fl, schedule_event);
    assert_true(fake_lambda_wait_result(fl, rid, e2e_ms(E2E_WAIT_MS)));
    wait_idle(fl);
}

static long long history_rows(struct world *w)
{
    return world_sqlite_count(w, "SELECT count(*) FROM linebot_history", NULL);
}

/* A Lambda instance has no idle worker to purge in the background: a
 * runtime that starts two days later (the test clock) purges the history
 * past LINEBOT_RETENTION_DAYS on its scheduled invocation. */
static void test_schedule_purges_past_retention(void **state)
{
    struct fake_lambda *fl;
    struct world *w = lambda_world(state, &fl);
    const char *keep = "LINEBOT_RETENTION_DAYS=1";
    lambda_start(w, fl, (const char *const[]){keep, NULL});
    post(fl, ev_message(w, &(struct ev){.user = USER_A, .text = "hello"}));
    wait_idle(fl);
    assert_delivered(w, USER_A, 1);
    assert_int_equal(history_rows(w), 2); /* the question and the answer */

    restart_and_schedule(w, fl, (const char *const[]){keep, "LINEBOT_TEST_CLOCK_OFFSET_MS=172800000", NULL});
    assert_int_equal(history_rows(w), 0);
    lambda_finish(w, fl);
}

/* Fewer than LINEBOT_MEMORY_EVERY turns are read for facts once the user has
 * been idle for 10 minutes: a runtime 11 minutes later (the test clock)
 * queues the extraction on its scheduled invocation, and the next one works
 * it (the platform's deadline, read on the shifted clock, leaves the first
 * no time to). */
static void test_schedule_extracts_idle_memory(void **state)
{
    struct fake_lambda *fl;
    struct world *w = lambda_world(state, &fl);
    const char *memory = "LINEBOT_MEMORY=auto";
    fake_llm_answer_system(w->llm, "lasting facts about the user",
                           "{\"facts\":[{\"fact\":\"Is vegetarian\",\"message\":1}]}", 0);
    lambda_start(w, fl, (const char *const[]){memory, NULL});
    post(fl, ev_message(w, &(struct ev){.user = USER_A, .text = "I never eat meat"}));
    wait_idle(fl);
    assert_delivered(w, USER_A, 1);
    assert_int_equal(fake_llm_count_system(w->llm, "lasting facts about the user"), 0);

    restart_and_schedule(w, fl, (const char *const[]){memory, "LINEBOT_TEST_CLOCK_OFFSET_MS=660000", NULL});
    restart_and_schedule(w, fl, (const char *const[]){memory, NULL});
    assert_int_equal(fake_llm_count_system(w->llm, "lasting facts about the user"), 1);
    assert_true(log_has(w, "1 fact(s) extracted"));
    lambda_finish(w, fl);
}

/* The model answered an image, then the runtime is killed before LINE got
 * anything (the failpoint). Lambda reports the attempt as a runtime exit and
 * retries the asynchronous invocation on a new runtime: the image is fetched
 * and asked again, and answered exactly once. */
static void test_kill9_between_fetch_and_answer_is_retried(void **state)
{
    struct fake_lambda *fl;
    struct world *w = lambda_world(state, &fl);
    struct vision_retry v;
    vision_retry_setup(w, &v, USER_A, "img-k9");
    lambda_start(w, fl, vision_retry_env(&v, true));
    post(fl, v.ev);
    int status = bot_wait_exit(w, e2e_ms(E2E_WAIT_MS));
    if (status == -1 || !WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL)
        fail_msg("the runtime should have died of SIGKILL after the model call (wait status 0x%x)", status);
    assert_int_equal(fake_line_delivery_count(w->line, USER_A), 0);
    assert_int_equal(fake_llm_request_count(w->llm), 1);
    assert_int_equal(fake_lambda_invocation_count(fl), 2); /* the webhook, the work it handed off */

    /* Lambda starts a new runtime; it gets the retry. */
    lambda_start(w, fl, vision_retry_env(&v, false));
    wait_idle(fl);
    vision_retry_assert_answered_once(w, &v);

    struct fake_lambda_invocation killed, retry;
    assert_int_equal(fake_lambda_invocation_count(fl), 3);
    assert_true(fake_lambda_invocation_at(fl, 1, &killed));
    assert_true(fake_lambda_invocation_at(fl, 2, &retry));
    assert_true(killed.from_invoke);
    assert_string_equal(killed.result_kind, "exit");
    assert_int_equal(retry.attempt, 2);
    assert_string_equal(retry.retry_of, killed.request_id);
    assert_string_equal(retry.result_kind, "response");
    assert_contains(retry.result, "done");
    assert_int_equal(fake_lambda_invoke_count(fl), 1);
    vision_retry_free(&v);
    lambda_finish(w, fl);
}

int main(void)
{
    if (!pg_scratch_url())
        fprintf(stderr, "[  SKIPPED ] PostgreSQL cases: LINEBOT_TEST_PG_URL is not set\n");
    const struct CMUnitTest tests[] = {
        E2E_TEST(test_tap_delivers_once_sqlite),
        E2E_TEST(test_tap_delivers_once_postgres),
        E2E_TEST(test_push_after_wait_sqlite),
        E2E_TEST(test_push_after_wait_postgres),
        E2E_TEST(test_schedule_drops_after_wait),
        E2E_TEST(test_schedule_purges_past_retention),
        E2E_TEST(test_schedule_extracts_idle_memory),
        E2E_TEST(test_kill9_between_fetch_and_answer_is_retried),
    };
    return E2E_RUN(tests);
}
