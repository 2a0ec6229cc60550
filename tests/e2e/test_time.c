/* test_time.c - the event timestamp, which the sender sets, with the real binary.
 *
 * A timestamp is trusted only within bounds: INT64 extremes must not crash the
 * deadline arithmetic (the sanitizer build aborts on an overflow), an event
 * older than LINEBOT_MAX_EVENT_AGE_S is acknowledged and not acted on (so a
 * captured body replayed after the purge removed its id is never answered
 * again: tested with the bot's clock moved on), a
 * timestamp far ahead is replaced by the arrival time (for the reply deadline
 * and for the order in its chat), and a 1970 stamp cannot jump ahead of the
 * events already waiting in its chat. Push fallback is on where noted, so that
 * an event the bot wrongly acts on shows up as a delivery even after its reply
 * token would have expired. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "harness.h"

#define USER_A "Ue2e0000000000000000000000000000a"
#define DAY_MS (24LL * 3600 * 1000)

/* The model takes this long, so that later events queue behind the first. */
#define SLOW_MODEL_MS 1500

static void assert_texts(struct world *w, const char *chat, const char *want)
{
    char *t = world_texts(w, chat);
    if (strcmp(t, want) != 0)
        fail_msg("%s: want texts\n%s\ngot\n%s", chat, want, t);
    free(t);
}

/* Sends "first" (held by the slow model), waits until the model has it, so
 * that the events sent next wait in the chat behind it. */
static void occupy_chat(struct world *w)
{
    fake_llm_set_delay(w->llm, SLOW_MODEL_MS);
    send_text(w, USER_A, "first");
    assert_true(fake_llm_wait_requests(w->llm, 1, e2e_ms(E2E_WAIT_MS)));
}

static void test_int64_max_is_answered_by_reply_with_arrival_time(void **state)
{
    struct world *w = world_start(state, NULL);
    json_t *ev = send_event(w, ev_message(w, &(struct ev){.user = USER_A, .text = "from the end of time",
                                                          .timestamp_ms = INT64_MAX}));
    assert_answers(w, USER_A, 1);
    struct fake_line_message m;
    assert_true(fake_line_message_at(w->line, 0, &m));
    assert_string_equal(m.api, "reply");
    assert_string_equal(m.reply_token, ev_get(ev, "replyToken"));
    assert_string_equal(m.text, "echo: from the end of time");
    assert_true(bot_running(w));
    world_finish(w);
}

static void test_int64_min_is_acknowledged_not_answered_and_the_bot_goes_on(void **state)
{
    struct world *w = world_start(state, (const char *[]){"LINEBOT_PUSH_FALLBACK=1", NULL});
    send_event(w, ev_message(w, &(struct ev){.user = USER_A, .text = "from before time",
                                             .timestamp_ms = INT64_MIN}));
    send_text(w, USER_A, "still there?");
    assert_answers(w, USER_A, 1);
    assert_texts(w, USER_A, "echo: still there?");
    assert_true(bot_running(w));
    char *log = bot_log(w);
    assert_contains(log, "not acted on");
    free(log);
    world_finish(w);
}

static void test_31_days_old_is_acknowledged_not_answered(void **state)
{
    struct world *w = world_start(state, (const char *[]){"LINEBOT_PUSH_FALLBACK=1", NULL});
    json_t *old = ev_message(w, &(struct ev){.user = USER_A, .text = "captured long ago",
                                             .timestamp_ms = e2e_now_ms() - 31 * DAY_MS});
    char *body = webhook_body(old, NULL);
    assert_int_equal(bot_post_webhook(w, body), 200);
    world_quiet(w);
    assert_int_equal(fake_line_message_count(w->line), 0);
    assert_int_equal(fake_llm_request_count(w->llm), 0);
    /* The same captured body again (a replay): still nothing. */
    assert_int_equal(bot_post_webhook(w, body), 200);
    world_quiet(w);
    assert_int_equal(fake_line_message_count(w->line), 0);
    free(body);
    char *log = bot_log(w);
    assert_contains(log, "LINEBOT_MAX_EVENT_AGE_S");
    free(log);
    world_finish(w);
}

/* Rows of the inbox that hold `event_id` (its dedup record). */
static long long inbox_rows(struct world *w, const char *event_id)
{
    return world_sqlite_count(w, "SELECT count(*) FROM linebot_inbox WHERE event_id = ?1", event_id);
}

/* A body answered, then replayed once the retention purge has removed its
 * id (the bot restarted 31 days later, by its clock): nothing remembers the
 * id, and the age check alone keeps it from being answered twice. */
static void test_replay_after_its_id_was_purged_is_not_answered(void **state)
{
    struct world *w = world_start(state, (const char *[]){"LINEBOT_PUSH_FALLBACK=1", NULL});
    json_t *ev = ev_message(w, &(struct ev){.user = USER_A, .text = "answer me once"});
    char *id = e2e_strdup(json_string_value(json_object_get(ev, "webhookEventId")));
    char *body = webhook_body(ev, NULL);
    assert_int_equal(bot_post_webhook(w, body), 200);
    assert_answers(w, USER_A, 1);
    assert_int_equal(inbox_rows(w, id), 1);

    bot_stop(w);
    bot_start(w, (const char *[]){"LINEBOT_PUSH_FALLBACK=1", "LINEBOT_TEST_CLOCK_OFFSET_MS=2678400000", NULL});
    int64_t until = e2e_mono_ms() + e2e_ms(10000);
    while (inbox_rows(w, id) != 0 && e2e_mono_ms() < until)
        e2e_sleep_ms(50);
    assert_int_equal(inbox_rows(w, id), 0); /* purged: 31 days is past LINEBOT_RETENTION_DAYS (30) */

    assert_int_equal(bot_post_webhook(w, body), 200);
    world_quiet(w);
    assert_int_equal(fake_line_message_count(w->line), 1);
    assert_int_equal(fake_llm_request_count(w->llm), 1);
    char *log = bot_log(w);
    assert_contains(log, "LINEBOT_MAX_EVENT_AGE_S");
    free(log);
    free(body);
    free(id);
    world_finish(w);
}

static void test_max_event_age_is_a_setting(void **state)
{
    /* Two hours old: acted on by default (one day), not with a one-hour
     * limit; half an hour old still is (pushed: its reply token is stale). */
    struct world *w = world_start(state, (const char *[]){"LINEBOT_PUSH_FALLBACK=1", "LINEBOT_MAX_EVENT_AGE_S=3600",
                                                          NULL});
    send_event(w, ev_message(w, &(struct ev){.user = USER_A, .text = "two hours ago",
                                             .timestamp_ms = e2e_now_ms() - 2 * 3600 * 1000}));
    send_event(w, ev_message(w, &(struct ev){.user = "Ue2e0000000000000000000000000000b", .text = "half an hour ago",
                                             .timestamp_ms = e2e_now_ms() - 30 * 60 * 1000}));
    assert_answers(w, NULL, 1);
    assert_int_equal(fake_line_message_count_to(w->line, USER_A), 0);
    world_finish(w);
}

static void test_a_year_ahead_is_timed_and_ordered_by_arrival(void **state)
{
    struct world *w = world_start(state, NULL);
    occupy_chat(w);
    /* Stamped a year ahead, it would be ordered after everything sent for a
     * year; with its arrival time it keeps its place before "after". */
    json_t *future = send_event(w, ev_message(w, &(struct ev){.user = USER_A, .text = "from next year",
                                                              .timestamp_ms = e2e_now_ms() + 365 * DAY_MS}));
    e2e_sleep_ms(20);
    send_text(w, USER_A, "after");
    assert_answers(w, USER_A, 3);
    assert_texts(w, USER_A, "echo: first\n---\necho: from next year\n---\necho: after");
    /* Answered by reply: the reply deadline ran from its arrival. */
    for (size_t i = 0; i < 3; i++) {
        struct fake_line_message m;
        assert_true(fake_line_message_at(w->line, i, &m));
        assert_string_equal(m.api, "reply");
        if (strcmp(m.text, "echo: from next year") == 0)
            assert_string_equal(m.reply_token, ev_get(future, "replyToken"));
    }
    world_finish(w);
}

static void test_1970_does_not_jump_ahead_of_waiting_events(void **state)
{
    struct world *w = world_start(state, (const char *[]){"LINEBOT_PUSH_FALLBACK=1", NULL});
    occupy_chat(w);
    send_text(w, USER_A, "second");
    /* 1 ms after the epoch (0 means "now" to the builder). */
    send_event(w, ev_message(w, &(struct ev){.user = USER_A, .text = "from 1970", .timestamp_ms = 1}));
    assert_answers(w, USER_A, 2);
    assert_texts(w, USER_A, "echo: first\n---\necho: second");
    world_finish(w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        E2E_TEST(test_int64_max_is_answered_by_reply_with_arrival_time),
        E2E_TEST(test_int64_min_is_acknowledged_not_answered_and_the_bot_goes_on),
        E2E_TEST(test_31_days_old_is_acknowledged_not_answered),
        E2E_TEST(test_replay_after_its_id_was_purged_is_not_answered),
        E2E_TEST(test_max_event_age_is_a_setting),
        E2E_TEST(test_a_year_ahead_is_timed_and_ordered_by_arrival),
        E2E_TEST(test_1970_does_not_jump_ahead_of_waiting_events),
    };
    return E2E_RUN(tests);
}
