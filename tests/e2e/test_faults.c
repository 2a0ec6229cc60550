/* test_faults.c - when the model or LINE misbehave, with the real binary.
 *
 * Model: transient errors are retried (honouring retry-after-ms), lasting
 * errors, timeouts and garbage end in the configured apology and never in
 * the raw error. LINE: a failed reply is retried without double-sending; a
 * refused or stale reply token falls back to a push (with a UUID retry key,
 * retried with the same key) only when LINEBOT_PUSH_FALLBACK is on. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

#define USER_A "Ue2e0000000000000000000000000000a"
#define GROUP "Ce2e000000000000000000000000000g1"
#define APOLOGY "E2E apology: the model is unavailable right now."
#define RAW_ERROR "{\"error\":{\"message\":\"RAW-UPSTREAM-ERROR-4711 internal\",\"type\":\"server_error\"}}"

static char *text_of(struct world *w, const char *chat)
{
    return world_texts(w, chat);
}

static void test_llm_500_twice_then_answer(void **state)
{
    struct world *w = world_start(state, NULL);
    fake_llm_push(w->llm, 500, RAW_ERROR, NULL, 0);
    fake_llm_push(w->llm, 500, RAW_ERROR, NULL, 0);
    fake_llm_push_answer(w->llm, "the real answer", 0);
    send_text(w, USER_A, "please answer");
    assert_answers(w, USER_A, 1);
    char *t = text_of(w, USER_A);
    assert_string_equal(t, "the real answer");
    free(t);
    assert_int_equal(fake_llm_request_count(w->llm), 3);
    world_finish(w);
}

static void test_llm_429_honours_retry_after_ms(void **state)
{
    struct world *w = world_start(state, NULL);
    fake_llm_push(w->llm, 429, "{\"error\":{\"message\":\"Rate limit reached\",\"type\":\"requests\"}}",
                  "retry-after-ms: 300", 0);
    fake_llm_push_answer(w->llm, "after the wait", 0);
    send_text(w, USER_A, "please answer");
    assert_answers(w, USER_A, 1);
    char *t = text_of(w, USER_A);
    assert_string_equal(t, "after the wait");
    free(t);
    assert_int_equal(fake_llm_request_count(w->llm), 2);
    int64_t gap = fake_llm_request_time(w->llm, 1) - fake_llm_request_time(w->llm, 0);
    if (gap < 280)
        fail_msg("retried %lld ms after a 429 with retry-after-ms: 300", (long long)gap);
    world_finish(w);
}

static void assert_apology_only(struct world *w, const char *chat, const char *apology)
{
    assert_answers(w, chat, 1);
    char *t = text_of(w, chat);
    if (apology)
        assert_string_equal(t, apology);
    else if (!e2e_contains_ci(t, "sorry"))
        fail_msg("the default apology should say sorry; got: %s", t);
    assert_not_contains(t, "RAW-UPSTREAM");
    assert_not_contains(t, "500");
    assert_not_contains(t, "error\"");
    assert_not_contains(t, "echo:");
    free(t);
}

static void test_llm_always_500_gets_default_apology(void **state)
{
    struct world *w = world_start(state, NULL);
    fake_llm_set_always(w->llm, 500, RAW_ERROR);
    json_t *ev = send_text(w, USER_A, "are you there?");
    assert_apology_only(w, USER_A, NULL);
    struct fake_line_message m;
    assert_true(fake_line_message_at(w->line, 0, &m));
    assert_string_equal(m.reply_token, ev_get(ev, "replyToken"));
    /* At most two retries (llm.h). */
    assert_in_range(fake_llm_request_count(w->llm), 1, 3);
    world_finish(w);
}

static void test_llm_always_500_gets_configured_apology(void **state)
{
    struct world *w = world_start(state, (const char *[]){"LINEBOT_ERROR_TEXT=" APOLOGY, NULL});
    fake_llm_set_always(w->llm, 500, RAW_ERROR);
    send_text(w, USER_A, "are you there?");
    assert_apology_only(w, USER_A, APOLOGY);
    /* The failure does not poison the history: the next question has no error in it. */
    fake_llm_set_always(w->llm, 0, NULL);
    send_text(w, USER_A, "second try");
    assert_answers(w, USER_A, 2);
    size_t last = fake_llm_request_count(w->llm) - 1;
    char *tr = fake_llm_request_transcript(w->llm, last);
    assert_not_contains(tr, "RAW-UPSTREAM");
    assert_not_contains(tr, APOLOGY);
    free(tr);
    world_finish(w);
}

static void test_llm_timeout_gets_apology(void **state)
{
    struct world *w = world_start(state, (const char *[]){
        "LINEBOT_ERROR_TEXT=" APOLOGY, "LLM_TIMEOUT_S=1", NULL});
    fake_llm_set_delay(w->llm, 3000);
    int64_t t0 = e2e_mono_ms();
    send_text(w, USER_A, "slow question");
    assert_apology_only(w, USER_A, APOLOGY);
    struct fake_line_message m;
    assert_true(fake_line_message_at(w->line, 0, &m));
    /* Each attempt was cut at about 1 s: the apology came long before 3 s x attempts. */
    int64_t took = m.at_ms - t0;
    size_t attempts = fake_llm_request_count(w->llm);
    if (took > (int64_t)attempts * 2500)
        fail_msg("apology after %lld ms for %zu attempt(s) with LLM_TIMEOUT_S=1", (long long)took,
                 attempts);
    world_finish(w);
}

static void test_llm_garbage_gets_apology(void **state)
{
    struct world *w = world_start(state, (const char *[]){"LINEBOT_ERROR_TEXT=" APOLOGY, NULL});
    fake_llm_set_always(w->llm, 200, "this is <html> not json");
    send_text(w, USER_A, "question one");
    assert_apology_only(w, USER_A, APOLOGY);
    fake_llm_set_always(w->llm, 200, "{\"id\":\"x\",\"object\":\"chat.completion\",\"choices\":[]}");
    send_text(w, USER_A, "question two");
    assert_answers(w, USER_A, 2);
    struct fake_line_message m;
    assert_true(fake_line_message_at(w->line, 1, &m));
    assert_string_equal(m.text, APOLOGY);
    world_finish(w);
}

static void test_line_reply_500_retried_and_delivered_once(void **state)
{
    struct world *w = world_start(state, NULL);
    fake_line_fail_next(w->line, FAKE_LINE_REPLY_PATH, 500, 2);
    send_text(w, USER_A, "hello through a flaky LINE");
    assert_answers(w, USER_A, 1);
    assert_int_equal(fake_line_request_count(w->line, "POST", FAKE_LINE_REPLY_PATH), 3);
    char *t = text_of(w, USER_A);
    assert_string_equal(t, "echo: hello through a flaky LINE");
    free(t);
    assert_true(bot_metric(w, "linebot_line_api_errors_total{status=\"500\"}") >= 2);
    assert_int_equal(bot_metric(w, "linebot_events_answered_total"), 1);
    world_finish(w);
}

/* Exactly one answer, pushed to `to` with a UUID retry key and this text. */
static void assert_pushed_once(struct world *w, const char *to, const char *text)
{
    assert_answers(w, to, 1);
    struct fake_line_message m;
    assert_true(fake_line_message_at(w->line, 0, &m));
    assert_string_equal(m.api, "push");
    assert_string_equal(m.chat_id, to);
    if (!e2e_is_uuid(m.retry_key))
        fail_msg("push without a UUID X-Line-Retry-Key (got %s)", m.retry_key ? m.retry_key : "none");
    assert_string_equal(m.text, text);
}

static void test_push_fallback_when_token_unknown(void **state)
{
    struct world *w = world_start(state, (const char *[]){"LINEBOT_PUSH_FALLBACK=1", NULL});
    send_event(w, ev_message(w, &(struct ev){.user = USER_A, .text = "unknown token",
                                             .token_not_issued = true}));
    assert_pushed_once(w, USER_A, "echo: unknown token");
    assert_true(fake_line_request_count_status(w->line, FAKE_LINE_REPLY_PATH, 400) >= 1);
    world_finish(w);
}

static void test_push_fallback_when_token_already_used(void **state)
{
    struct world *w = world_start(state, (const char *[]){"LINEBOT_PUSH_FALLBACK=1", NULL});
    json_t *ev = ev_message(w, &(struct ev){.user = USER_A, .text = "used token"});
    fake_line_consume_token(w->line, ev_get(ev, "replyToken"));
    send_event(w, ev);
    assert_pushed_once(w, USER_A, "echo: used token");
    world_finish(w);
}

static void test_push_fallback_in_a_group(void **state)
{
    struct world *w = world_start(state, (const char *[]){"LINEBOT_PUSH_FALLBACK=1", NULL});
    const char *text = "@Bot hello group";
    struct ev o = {.group = GROUP, .user = USER_A, .text = text, .token_not_issued = true,
                   .n_mentions = 1};
    o.mentions[0] = mention_of(text, "@Bot", true);
    send_event(w, ev_message(w, &o));
    assert_answers(w, GROUP, 1);
    struct fake_line_message m;
    assert_true(fake_line_message_at(w->line, 0, &m));
    assert_string_equal(m.api, "push");
    assert_string_equal(m.chat_id, GROUP);
    assert_true(e2e_is_uuid(m.retry_key));
    world_finish(w);
}

static void test_no_push_without_fallback(void **state)
{
    struct world *w = world_start(state, NULL);
    send_event(w, ev_message(w, &(struct ev){.user = USER_A, .text = "unknown token",
                                             .token_not_issued = true}));
    assert_true(fake_line_wait_requests(w->line, FAKE_LINE_REPLY_PATH, 1, e2e_ms(E2E_WAIT_MS)));
    world_quiet(w);
    assert_int_equal(fake_line_request_count(w->line, NULL, FAKE_LINE_PUSH_PATH), 0);
    assert_int_equal(fake_line_message_count(w->line), 0);
    world_finish(w);
}

/* Waits until the metric `series` reaches `want`; returns its last value. */
static double wait_metric(struct world *w, const char *series, double want)
{
    double v = bot_metric(w, series);
    for (int64_t end = e2e_mono_ms() + e2e_ms(E2E_WAIT_MS); v != want && e2e_mono_ms() < end;) {
        e2e_sleep_ms(50);
        v = bot_metric(w, series);
    }
    return v;
}

static void test_expired_event_counted_and_logged(void **state)
{
    struct world *w = world_start(state, NULL);
    /* Exported from the start, at 0: an alert on it needs the series. */
    if (bot_metric(w, "linebot_events_expired_total") != 0)
        fail_msg("linebot_events_expired_total is not exported as 0 at start");
    /* Two minutes old: its reply token is too old, and push fallback is off. */
    send_event(w, ev_message(w, &(struct ev){.user = USER_A, .text = "too late",
                                             .timestamp_ms = e2e_now_ms() - 2 * 60 * 1000}));
    send_event(w, ev_message(w, &(struct ev){.user = "Ue2e0000000000000000000000000000b", .text = "too late too",
                                             .timestamp_ms = e2e_now_ms() - 2 * 60 * 1000}));
    send_event(w, ev_message(w, &(struct ev){.user = "Ue2e0000000000000000000000000000c", .text = "too late three",
                                             .timestamp_ms = e2e_now_ms() - 2 * 60 * 1000}));
    if (wait_metric(w, "linebot_events_expired_total", 3) != 3)
        fail_msg("linebot_events_expired_total is %g after three expired events",
                 bot_metric(w, "linebot_events_expired_total"));
    assert_true(bot_metric(w, "linebot_events_failed_total") == 3);
    assert_int_equal(fake_line_message_count(w->line), 0);
    /* An error the first time in a minute (two if the events straddle a
     * minute's turn), not one per event. */
    char *log = bot_log(w);
    size_t errors = 0;
    for (const char *p = log; (p = strstr(p, "events are expiring unanswered")) != NULL; p++)
        errors++;
    if (errors < 1 || errors > 2)
        fail_msg("want one rate-limited error about expiring events, got %zu:\n%.3000s", errors, log);
    free(log);
    world_finish(w);
}

static void test_old_event_pushed_without_reply_attempt(void **state)
{
    struct world *w = world_start(state, (const char *[]){"LINEBOT_PUSH_FALLBACK=1", NULL});
    /* Five minutes old: its reply token has expired at LINE (the fake would
     * still take it, so a reply here would show the bot did not check). */
    send_event(w, ev_message(w, &(struct ev){.user = USER_A, .text = "from the past",
                                             .timestamp_ms = e2e_now_ms() - 5 * 60 * 1000}));
    assert_pushed_once(w, USER_A, "echo: from the past");
    assert_int_equal(fake_line_request_count(w->line, NULL, FAKE_LINE_REPLY_PATH), 0);
    world_finish(w);
}

static void test_push_retried_with_the_same_key(void **state)
{
    struct world *w = world_start(state, (const char *[]){"LINEBOT_PUSH_FALLBACK=1", NULL});
    fake_line_fail_next(w->line, FAKE_LINE_PUSH_PATH, 500, 1);
    send_event(w, ev_message(w, &(struct ev){.user = USER_A, .text = "flaky push",
                                             .token_not_issued = true}));
    assert_pushed_once(w, USER_A, "echo: flaky push");
    size_t pushes = 0;
    const char *key = NULL;
    for (size_t i = 0; i < fake_line_request_total(w->line); i++) {
        struct fake_line_request q;
        fake_line_request_at(w->line, i, &q);
        if (strcmp(q.path, FAKE_LINE_PUSH_PATH) != 0)
            continue;
        pushes++;
        assert_non_null(q.retry_key);
        if (key)
            assert_string_equal(q.retry_key, key);
        key = q.retry_key;
    }
    assert_int_equal(pushes, 2);
    world_finish(w);
}

static void test_reply_delivered_but_answer_lost_is_not_sent_twice(void **state)
{
    struct world *w = world_start(state, (const char *[]){"LINEBOT_PUSH_FALLBACK=1", NULL});
    /* LINE delivers the reply but the bot sees 502: a retry finds the token
     * used, and a push now would be a second copy. */
    fake_line_fail_after_delivery(w->line, FAKE_LINE_REPLY_PATH, 502, 1);
    send_text(w, USER_A, "delivered once");
    assert_answers(w, USER_A, 1);
    world_quiet(w);
    assert_int_equal(fake_line_delivery_count(w->line, USER_A), 1);
    assert_int_equal(fake_line_request_count(w->line, NULL, FAKE_LINE_PUSH_PATH), 0);
    world_finish(w);
}

static void test_push_delivered_but_answer_lost_is_not_sent_twice(void **state)
{
    struct world *w = world_start(state, (const char *[]){"LINEBOT_PUSH_FALLBACK=1", NULL});
    fake_line_fail_after_delivery(w->line, FAKE_LINE_PUSH_PATH, 500, 1);
    send_event(w, ev_message(w, &(struct ev){.user = USER_A, .text = "pushed once",
                                             .token_not_issued = true}));
    assert_answers(w, USER_A, 1);
    world_quiet(w);
    assert_int_equal(fake_line_delivery_count(w->line, USER_A), 1);
    /* The retry with the same key got 409 and stopped there. */
    assert_int_equal(fake_line_request_count_status(w->line, FAKE_LINE_PUSH_PATH, 409), 1);
    assert_int_equal(fake_line_request_count(w->line, NULL, FAKE_LINE_PUSH_PATH), 2);
    world_finish(w);
}

static void test_line_reply_429_retried(void **state)
{
    struct world *w = world_start(state, NULL);
    fake_line_fail_next(w->line, FAKE_LINE_REPLY_PATH, 429, 1);
    send_text(w, USER_A, "rate limited once");
    assert_answers(w, USER_A, 1);
    assert_int_equal(fake_line_request_count(w->line, "POST", FAKE_LINE_REPLY_PATH), 2);
    assert_true(bot_metric(w, "linebot_line_api_errors_total{status=\"429\"}") >= 1);
    world_finish(w);
}

static void test_wrong_access_token_fails_cleanly(void **state)
{
    struct world *w = world_start(state, (const char *[]){
        "LINEBOT_PUSH_FALLBACK=1", "LINE_CHANNEL_ACCESS_TOKEN=revoked-token", NULL});
    send_text(w, USER_A, "nobody will see this");
    assert_true(fake_line_wait_requests(w->line, FAKE_LINE_REPLY_PATH, 1, e2e_ms(E2E_WAIT_MS)));
    world_quiet(w);
    assert_int_equal(fake_line_message_count(w->line), 0);
    /* 401 is final: no retry storm, and no push (the token was not the problem). */
    assert_in_range(fake_line_request_count(w->line, NULL, FAKE_LINE_REPLY_PATH), 1, 3);
    assert_int_equal(fake_line_request_count(w->line, NULL, FAKE_LINE_PUSH_PATH), 0);
    assert_true(bot_metric(w, "linebot_line_api_errors_total{status=\"401\"}") >= 1);
    assert_int_equal(bot_get(w, "/healthz", NULL), 200);
    world_finish(w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        E2E_TEST(test_llm_500_twice_then_answer),
        E2E_TEST(test_llm_429_honours_retry_after_ms),
        E2E_TEST(test_llm_always_500_gets_default_apology),
        E2E_TEST(test_llm_always_500_gets_configured_apology),
        E2E_TEST(test_llm_timeout_gets_apology),
        E2E_TEST(test_llm_garbage_gets_apology),
        E2E_TEST(test_line_reply_500_retried_and_delivered_once),
        E2E_TEST(test_push_fallback_when_token_unknown),
        E2E_TEST(test_push_fallback_when_token_already_used),
        E2E_TEST(test_push_fallback_in_a_group),
        E2E_TEST(test_no_push_without_fallback),
        E2E_TEST(test_old_event_pushed_without_reply_attempt),
        E2E_TEST(test_expired_event_counted_and_logged),
        E2E_TEST(test_push_retried_with_the_same_key),
        E2E_TEST(test_reply_delivered_but_answer_lost_is_not_sent_twice),
        E2E_TEST(test_push_delivered_but_answer_lost_is_not_sent_twice),
        E2E_TEST(test_line_reply_429_retried),
        E2E_TEST(test_wrong_access_token_fails_cleanly),
    };
    return E2E_RUN(tests);
}
