/* test_progress.c - slow answers: "still working" and the "show the answer"
 * button (issue 13 part 5), with the real binary, on SQLite and PostgreSQL.
 *
 * The fake LLM answers late (its delay), and LINEBOT_PROGRESS_S is small, so
 * the bot spends the event's reply token on "still working" before the
 * answer is ready. The oracles are what the fake LINE accepted: which API
 * delivered what (reply or push), with which reply token (the postback's,
 * issued by the test), and how many deliveries each chat got; the fake LINE
 * refuses a reply token used twice, as LINE does. A tap is a postback webhook
 * carrying the data of the button the bot sent. PostgreSQL cases run on a
 * scratch schema of LINEBOT_TEST_PG_URL and are skipped without it. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "pg_scratch.h"

#define USER_A "Ue2e0000000000000000000000000000a"
#define USER_B "Ue2e0000000000000000000000000000b"
#define ANSWER "Here is the slow answer."
#define PROGRESS_TEXT "Still working on it."
#define BUTTON "Show the answer"

/* Waits until the bot's log holds `needle` (at most `timeout_ms`). */
static bool log_has(struct world *w, const char *needle, int timeout_ms)
{
    int64_t until = e2e_mono_ms() + e2e_ms(timeout_ms);
    for (;;) {
        char *log = bot_log(w);
        bool found = strstr(log, needle) != NULL;
        free(log);
        if (found)
            return true;
        if (e2e_mono_ms() > until)
            return false;
        e2e_sleep_ms(100);
    }
}

/* Delivery `i` (in the order LINE accepted them) to anyone. */
static struct fake_line_message message(struct world *w, size_t i)
{
    struct fake_line_message m;
    assert_true(fake_line_message_at(w->line, i, &m));
    return m;
}

/* Asks a question whose answer takes `delay_ms`, and waits for "still
 * working": returns the data of its button (malloc'd). */
static char *ask_slow(struct world *w, const char *user, int delay_ms)
{
    fake_llm_push_answer(w->llm, ANSWER, delay_ms);
    send_text(w, user, "a hard question");
    assert_true(fake_line_wait_deliveries(w->line, user, 1, e2e_ms(10000)));
    struct fake_line_message m = message(w, fake_line_message_count(w->line) - 1);
    assert_string_equal(m.api, "reply");
    assert_contains(m.text, PROGRESS_TEXT);
    json_t *body = NULL;
    json_t *items = world_last_quick_reply(w, &body);
    char *data = quick_reply_data(items, BUTTON);
    json_decref(body);
    assert_true(strncmp(data, "v1|a|", 5) == 0);
    return data;
}

/* Taps the button: a postback with a fresh reply token; returns that token. */
static const char *tap(struct world *w, const char *user, const char *data)
{
    json_t *ev = send_event(w, ev_postback(w, &(struct ev){.user = user}, data));
    return ev_get(ev, "replyToken");
}

/* The answer went out once, by reply with `token`, as the chat's delivery
 * number `n` (1-based), and nothing was pushed. */
static void assert_answered_by(struct world *w, const char *user, const char *token, size_t n)
{
    assert_answers(w, user, n);
    struct fake_line_message m = message(w, fake_line_message_count(w->line) - 1);
    assert_string_equal(m.api, "reply");
    assert_string_equal(m.text, ANSWER);
    assert_string_equal(m.reply_token, token);
    assert_int_equal(fake_line_request_count(w->line, "POST", FAKE_LINE_PUSH_PATH), 0);
}

/* The answer is ready before the tap: the tap delivers it with its own
 * token; a second tap finds nothing and sends nothing. */
static void tap_after_ready(void **state, const char *db)
{
    const char *const overrides[] = {"LINEBOT_PROGRESS_S=1", db, NULL};
    struct world *w = world_start(state, overrides);
    char *data = ask_slow(w, USER_A, 3000);
    assert_true(log_has(w, "answer parked", 10000));
    assert_answers(w, USER_A, 1); /* parked, not sent */
    const char *token = tap(w, USER_A, data);
    assert_answered_by(w, USER_A, token, 2);
    tap(w, USER_A, data); /* the second tap */
    world_quiet(w);
    assert_answers(w, USER_A, 2);
    assert_int_equal(fake_llm_request_count(w->llm), 1);
    free(data);
    world_finish(w);
}

static void test_tap_after_ready_sqlite(void **state) { tap_after_ready(state, NULL); }
static void test_tap_after_ready_postgres(void **state) { pg_scratch_run(state, "progress", tap_after_ready); }

/* A tap while the model is still working: its token is held until the
 * answer is ready, then the answer goes with it. */
static void tap_before_ready(void **state, const char *db)
{
    const char *const overrides[] = {"LINEBOT_PROGRESS_S=1", db, NULL};
    struct world *w = world_start(state, overrides);
    char *data = ask_slow(w, USER_A, 5000);
    const char *token = tap(w, USER_A, data);
    assert_false(log_has(w, "answer parked", 500)); /* the tap came first */
    assert_answered_by(w, USER_A, token, 2);
    free(data);
    world_finish(w);
}

static void test_tap_before_ready_sqlite(void **state) { tap_before_ready(state, NULL); }
static void test_tap_before_ready_postgres(void **state) { pg_scratch_run(state, "progress", tap_before_ready); }

/* A tap waits for an answer that takes long: before the tap's token runs
 * out, it gets "still working" again with a new button (the bot's clock runs
 * 44 s ahead, so the event and the tap look old at once), and a tap on that
 * one gets the answer. Each token is used once. */
static void tap_token_runs_out(void **state, const char *db)
{
    const char *const overrides[] = {"LINEBOT_PROGRESS_S=40", "LINEBOT_TEST_CLOCK_OFFSET_MS=44000", db, NULL};
    struct world *w = world_start(state, overrides);
    char *data = ask_slow(w, USER_A, 6000);
    const char *first_tap = tap(w, USER_A, data);
    assert_true(fake_line_wait_deliveries(w->line, USER_A, 2, e2e_ms(5000)));
    struct fake_line_message m = message(w, fake_line_message_count(w->line) - 1);
    assert_string_equal(m.api, "reply");
    assert_string_equal(m.reply_token, first_tap);
    assert_contains(m.text, PROGRESS_TEXT);
    json_t *body = NULL;
    char *again = quick_reply_data(world_last_quick_reply(w, &body), BUTTON);
    json_decref(body);
    assert_string_equal(again, data);
    assert_true(log_has(w, "answer parked", 15000));
    assert_answers(w, USER_A, 2);
    const char *token = tap(w, USER_A, again);
    assert_answered_by(w, USER_A, token, 3);
    free(again);
    free(data);
    world_finish(w);
}

static void test_tap_token_runs_out_sqlite(void **state) { tap_token_runs_out(state, NULL); }
static void test_tap_token_runs_out_postgres(void **state) { pg_scratch_run(state, "progress", tap_token_runs_out); }

/* The bot restarts between "still working" and the tap: the parked answer
 * is in the store, and the restarted bot delivers it once. */
static void restart_before_tap(void **state, const char *db)
{
    const char *const overrides[] = {"LINEBOT_PROGRESS_S=1", db, NULL};
    struct world *w = world_start(state, overrides);
    char *data = ask_slow(w, USER_A, 2000);
    assert_true(log_has(w, "answer parked", 10000));
    bot_restart(w, NULL);
    const char *token = tap(w, USER_A, data);
    assert_answered_by(w, USER_A, token, 2);
    assert_int_equal(fake_llm_request_count(w->llm), 1);
    free(data);
    world_finish(w);
}

static void test_restart_before_tap_sqlite(void **state) { restart_before_tap(state, NULL); }
static void test_restart_before_tap_postgres(void **state) { pg_scratch_run(state, "progress", restart_before_tap); }

/* The bot is killed while the model works, after "still working" went out:
 * the event is worked on again, its spent token is refused, and the answer
 * is parked (push fallback off), so the button of the first run gets it,
 * once. */
static void killed_while_working(void **state, const char *db)
{
    const char *const overrides[] = {"LINEBOT_PROGRESS_S=1", db, NULL};
    struct world *w = world_start(state, overrides);
    char *data = ask_slow(w, USER_A, 30000);
    fake_llm_push_answer(w->llm, ANSWER, 1000); /* for the run after the restart */
    bot_kill9(w);
    bot_start(w, NULL);
    /* PostgreSQL is shared: the killed claim is taken over once its lease
     * (30 s) runs out; SQLite frees it at start-up. */
    assert_true(log_has(w, "answer parked", 50000));
    const char *token = tap(w, USER_A, data);
    assert_answered_by(w, USER_A, token, 2);
    free(data);
    world_finish(w);
}

static void test_killed_while_working_sqlite(void **state) { killed_while_working(state, NULL); }
static void test_killed_while_working_postgres(void **state)
{
    pg_scratch_run(state, "progress", killed_while_working);
}

/* Nobody taps within LINEBOT_PROGRESS_WAIT_S: with push fallback the answer
 * is pushed, once; a tap after that finds nothing. */
static void push_after_wait(void **state, const char *db)
{
    const char *const overrides[] = {"LINEBOT_PROGRESS_S=1", "LINEBOT_PROGRESS_WAIT_S=2",
                                     "LINEBOT_PUSH_FALLBACK=1", db, NULL};
    struct world *w = world_start(state, overrides);
    char *data = ask_slow(w, USER_A, 2000);
    assert_answers(w, USER_A, 2);
    struct fake_line_message m = message(w, fake_line_message_count(w->line) - 1);
    assert_string_equal(m.api, "push");
    assert_string_equal(m.text, ANSWER);
    assert_true(m.retry_key && e2e_is_uuid(m.retry_key));
    tap(w, USER_A, data);
    world_quiet(w);
    assert_answers(w, USER_A, 2);
    free(data);
    world_finish(w);
}

static void test_push_after_wait_sqlite(void **state) { push_after_wait(state, NULL); }
static void test_push_after_wait_postgres(void **state) { pg_scratch_run(state, "progress", push_after_wait); }

/* Push fallback off: the answer waits out LINEBOT_PROGRESS_WAIT_S, then is
 * dropped with a log line; nothing is pushed. */
static void test_dropped_after_wait(void **state)
{
    struct world *w = world_start(state, (const char *const[]){"LINEBOT_PROGRESS_S=1",
                                                                "LINEBOT_PROGRESS_WAIT_S=2", NULL});
    char *data = ask_slow(w, USER_A, 2000);
    assert_true(log_has(w, "dropping them", 15000));
    world_quiet(w);
    assert_answers(w, USER_A, 1);
    assert_int_equal(fake_line_request_count(w->line, "POST", FAKE_LINE_PUSH_PATH), 0);
    free(data);
    world_finish(w);
}

/* Forged and foreign data: an unknown id, a malformed datum, and the
 * button of user A's answer tapped in user B's chat all find nothing; the
 * answer is still there for A's own tap. */
static void forged_postbacks(void **state, const char *db)
{
    const char *const overrides[] = {"LINEBOT_PROGRESS_S=1", db, NULL};
    struct world *w = world_start(state, overrides);
    char *data = ask_slow(w, USER_A, 2000);
    assert_true(log_has(w, "answer parked", 10000));
    tap(w, USER_A, "v1|a|01HZZZZZZZZZZZZZZZZZZZZZZZ");
    tap(w, USER_A, "v1|a|");
    tap(w, USER_A, "v1|a|' OR 1=1 --");
    tap(w, USER_B, data);
    world_quiet(w);
    assert_answers(w, USER_A, 1);
    assert_answers(w, USER_B, 0);
    const char *token = tap(w, USER_A, data);
    assert_answered_by(w, USER_A, token, 2);
    assert_true(bot_running(w));
    free(data);
    world_finish(w);
}

static void test_forged_sqlite(void **state) { forged_postbacks(state, NULL); }
static void test_forged_postgres(void **state) { pg_scratch_run(state, "progress", forged_postbacks); }

/* A quick answer sends no "still working": the reply token goes to it. */
static void test_fast_answer_has_no_progress(void **state)
{
    struct world *w = world_start(state, (const char *const[]){"LINEBOT_PROGRESS_S=2", NULL});
    fake_llm_push_answer(w->llm, ANSWER, 0);
    send_text(w, USER_A, "an easy question");
    assert_answers(w, USER_A, 1);
    e2e_sleep_ms(2500);
    world_quiet(w);
    assert_answers(w, USER_A, 1);
    char *texts = world_texts(w, USER_A);
    assert_string_equal(texts, ANSWER);
    free(texts);
    world_finish(w);
}

int main(void)
{
    if (!pg_scratch_url())
        fprintf(stderr, "[  SKIPPED ] PostgreSQL cases: LINEBOT_TEST_PG_URL is not set\n");
    const struct CMUnitTest tests[] = {
        E2E_TEST(test_tap_after_ready_sqlite),
        E2E_TEST(test_tap_after_ready_postgres),
        E2E_TEST(test_tap_before_ready_sqlite),
        E2E_TEST(test_tap_before_ready_postgres),
        E2E_TEST(test_tap_token_runs_out_sqlite),
        E2E_TEST(test_tap_token_runs_out_postgres),
        E2E_TEST(test_restart_before_tap_sqlite),
        E2E_TEST(test_restart_before_tap_postgres),
        E2E_TEST(test_killed_while_working_sqlite),
        E2E_TEST(test_killed_while_working_postgres),
        E2E_TEST(test_push_after_wait_sqlite),
        E2E_TEST(test_push_after_wait_postgres),
        E2E_TEST(test_dropped_after_wait),
        E2E_TEST(test_forged_sqlite),
        E2E_TEST(test_forged_postgres),
        E2E_TEST(test_fast_answer_has_no_progress),
    };
    return E2E_RUN(tests);
}
