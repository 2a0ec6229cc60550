/* test_crash.c - crashes, restarts and shutdowns of the real binary.
 *
 * Test builds have failpoints: LINEBOT_FAILPOINT=<name> makes the bot SIGKILL
 * itself the first time it reaches that point. For each point in the worker's
 * path the bot is killed there, restarted on the same database without the
 * failpoint, and the user must end up with exactly one answer: never none,
 * never two. Also: kill -9 right after acknowledging a batch, SIGTERM during a
 * slow model call, history surviving a restart, an apology resumed after a
 * crash staying an apology, and a resumed answer counted once against the
 * rate limit. */
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "harness.h"

#define USER_A "Ue2e0000000000000000000000000000a"
#define USER_B "Ue2e0000000000000000000000000000b"

static const char *const no_failpoint[] = {"LINEBOT_FAILPOINT", NULL};

/* Posts one message with the failpoint set, waits for the bot to die there,
 * restarts it, and checks the user got exactly one answer. `sent_before_crash`:
 * the failpoint is after LINE accepted the answer. */
static void crash_at(void **state, const char *failpoint, bool sent_before_crash)
{
    char *fp = e2e_printf("LINEBOT_FAILPOINT=%s", failpoint);
    struct world *w = world_start(state, (const char *[]){fp, "LINEBOT_PUSH_FALLBACK=1", NULL});
    free(fp);
    json_t *ev = ev_message(w, &(struct ev){.user = USER_A, .text = "survive the crash"});
    /* The failpoint may kill the bot after the commit but before its 200 has
     * left: LINE then sees no answer and redelivers, which is done below. */
    long posted = bot_send(w, ev, NULL);
    if (posted != 200 && posted != 0)
        fail_msg("POST /callback answered %ld, want 200 (or no answer: killed after the commit)", posted);
    int status = bot_wait_exit(w, e2e_ms(E2E_WAIT_MS));
    if (status == -1)
        fail_msg("the bot did not reach failpoint %s", failpoint);
    if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL)
        fail_msg("the bot should have died of SIGKILL at %s (wait status 0x%x)", failpoint, status);
    assert_int_equal(fake_line_delivery_count(w->line, USER_A), sent_before_crash ? 1 : 0);

    bot_start(w, no_failpoint);
    if (posted != 200) /* LINE's redelivery: stored already, so not answered twice */
        assert_int_equal(bot_send(w, ev, NULL), 200);
    /* A longer watch than usual: recovery runs at start-up, a second send
     * would come from there. */
    size_t n = world_answers_grace(w, USER_A, 1, 2000);
    if (n != 1) {
        char *t = world_texts(w, USER_A);
        fail_msg("after a crash at %s: want exactly 1 answer, got %zu:\n%s", failpoint, n, t);
    }
    assert_int_equal(fake_line_message_count_to(w->line, USER_A), 1);
    struct fake_line_message m;
    assert_true(fake_line_message_at(w->line, 0, &m));
    assert_string_equal(m.text, "echo: survive the crash");
    world_finish(w);
}

static void test_crash_after_claim(void **state)
{
    crash_at(state, "worker_after_claim", false);
}

static void test_crash_after_llm(void **state)
{
    crash_at(state, "worker_after_llm", false);
}

static void test_crash_after_sending_recorded(void **state)
{
    crash_at(state, "worker_after_sending_recorded", false);
}

static void test_crash_after_send(void **state)
{
    crash_at(state, "worker_after_send", true);
}

/* One column of the inbox row of `event_id`, read straight from the bot's
 * SQLite file (the inbox is `linebot_inbox` once the tables carry the
 * PostgreSQL names, `inbox` before); malloc'd, NULL when absent. */
static char *inbox_column(struct world *w, const char *event_id, const char *column)
{
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(w->db_path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
        fail_msg("cannot open %s: %s", w->db_path, sqlite3_errmsg(db));
    sqlite3_busy_timeout(db, 5000);
    const char *table = "inbox";
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'linebot_inbox'", -1,
                           &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        table = "linebot_inbox";
    sqlite3_finalize(st);
    char *sql = e2e_printf("SELECT %s FROM %s WHERE event_id = ?", column, table);
    char *out = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        fail_msg("%s: %s", sql, sqlite3_errmsg(db));
    sqlite3_bind_text(st, 1, event_id, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
        out = strdup((const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    sqlite3_close(db);
    free(sql);
    return out;
}

/* The model fails, so the answer is the apology; the bot dies right after
 * recording it. Resumed after the restart, it is sent once, and finished as
 * what it is: an apology (counted as failed), not an answer. */
static void test_crash_after_an_apology_was_recorded(void **state)
{
    struct world *w = world_start(state, (const char *[]){"LINEBOT_FAILPOINT=worker_after_sending_recorded",
                                                           "LINEBOT_ERROR_TEXT=sorry, no answer now", NULL});
    fake_llm_set_always(w->llm, 500, "{\"error\":{\"message\":\"down\"}}");
    json_t *ev = ev_message(w, &(struct ev){.user = USER_A, .text = "are you there?"});
    long posted = bot_send(w, ev, NULL);
    if (posted != 200 && posted != 0)
        fail_msg("POST /callback answered %ld, want 200 (or no answer: killed after the commit)", posted);
    int status = bot_wait_exit(w, e2e_ms(E2E_WAIT_MS));
    if (status == -1 || !WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL)
        fail_msg("the bot should have died of SIGKILL at worker_after_sending_recorded (wait status 0x%x)", status);
    assert_int_equal(fake_line_delivery_count(w->line, USER_A), 0);
    const char *event_id = ev_get(ev, "webhookEventId");
    char *state_before = inbox_column(w, event_id, "state");
    assert_non_null(state_before);
    assert_string_equal(state_before, "sending");
    free(state_before);

    bot_start(w, no_failpoint);
    if (posted != 200)
        assert_int_equal(bot_send(w, ev, NULL), 200);
    size_t n = world_answers_grace(w, USER_A, 1, 2000);
    assert_int_equal(n, 1);
    char *t = world_texts(w, USER_A);
    assert_string_equal(t, "sorry, no answer now");
    free(t);

    char *outcome = inbox_column(w, event_id, "outcome");
    if (!outcome || strcmp(outcome, "apologized") != 0)
        fail_msg("the resumed apology was finished as \"%s\", want \"apologized\"", outcome ? outcome : "(null)");
    free(outcome);
    assert_true(bot_metric(w, "linebot_events_failed_total") == 1);
    assert_true(bot_metric(w, "linebot_events_answered_total") == 0);
    world_finish(w);
}

/* The rate count is written with the finish: an answer resumed after a
 * crash (which skips decide) still counts, once. With a limit of 1, the
 * next message gets the slow-down reply (counted 2nd), the one after it
 * nothing. */
static void test_rate_count_survives_a_crash(void **state)
{
    struct world *w = world_start(state, (const char *[]){"LINEBOT_FAILPOINT=worker_after_sending_recorded",
                                                           "LINEBOT_RATE_LIMIT=1",
                                                           "LINEBOT_SLOW_DOWN_TEXT=E2E slow down please", NULL});
    json_t *ev = ev_message(w, &(struct ev){.user = USER_A, .text = "count me once"});
    long posted = bot_send(w, ev, NULL);
    if (posted != 200 && posted != 0)
        fail_msg("POST /callback answered %ld, want 200 (or no answer: killed after the commit)", posted);
    int status = bot_wait_exit(w, e2e_ms(E2E_WAIT_MS));
    if (status == -1 || !WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL)
        fail_msg("the bot should have died of SIGKILL at worker_after_sending_recorded (wait status 0x%x)", status);
    bot_start(w, no_failpoint);
    if (posted != 200)
        assert_int_equal(bot_send(w, ev, NULL), 200);
    assert_int_equal(world_answers(w, USER_A, 1), 1);
    send_text(w, USER_A, "second");
    assert_int_equal(world_answers(w, USER_A, 2), 2);
    send_text(w, USER_A, "third");
    world_quiet(w);
    assert_int_equal(fake_line_delivery_count(w->line, USER_A), 2);
    char *t = world_texts(w, USER_A);
    assert_string_equal(t, "echo: count me once\n---\nE2E slow down please");
    free(t);
    world_finish(w);
}

/* Waits (bounded) until the inbox row of `event_id` has `column` = `want`. */
static void wait_inbox_column(struct world *w, const char *event_id, const char *column, const char *want)
{
    int64_t deadline = e2e_mono_ms() + e2e_ms(E2E_WAIT_MS);
    for (;;) {
        char *got = inbox_column(w, event_id, column);
        bool same = got && strcmp(got, want) == 0;
        if (same || e2e_mono_ms() > deadline) {
            if (!same)
                fail_msg("inbox row %s: %s is \"%s\", want \"%s\"", event_id, column, got ? got : "(null)", want);
            free(got);
            return;
        }
        free(got);
        e2e_sleep_ms(20);
    }
}

/* Runs one statement on the bot's SQLite file (the bot is stopped). */
static void db_exec(struct world *w, const char *sql, const char *const *params, size_t n)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    if (sqlite3_open(w->db_path, &db) != SQLITE_OK || sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        fail_msg("%s: %s", sql, sqlite3_errmsg(db));
    for (size_t i = 0; i < n; i++)
        sqlite3_bind_text(st, (int)i + 1, params[i], -1, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_DONE)
        fail_msg("%s: %s", sql, sqlite3_errmsg(db));
    sqlite3_finalize(st);
    sqlite3_close(db);
}

/* The model that answered and its token usage are kept on the inbox row, also
 * when the answer is resumed after a crash (they travel in the answer record).
 * The fake model says "test-model" and usage 10 + 10 = 20. */
static void test_model_and_usage_survive_a_crash(void **state)
{
    struct world *w = world_start(state, (const char *[]){"LINEBOT_FAILPOINT=worker_after_sending_recorded", NULL});
    json_t *ev = ev_message(w, &(struct ev){.user = USER_A, .text = "count my tokens"});
    long posted = bot_send(w, ev, NULL);
    if (bot_wait_exit(w, e2e_ms(E2E_WAIT_MS)) == -1)
        fail_msg("the bot did not reach failpoint worker_after_sending_recorded");
    bot_start(w, no_failpoint);
    if (posted != 200)
        assert_int_equal(bot_send(w, ev, NULL), 200);
    assert_int_equal(world_answers_grace(w, USER_A, 1, 1000), 1);
    const char *event_id = ev_get(ev, "webhookEventId");
    wait_inbox_column(w, event_id, "outcome", "answered");
    static const char *const want[][2] = {
        {"model", "test-model"}, {"prompt_tokens", "10"}, {"completion_tokens", "10"}, {"total_tokens", "20"}};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        char *got = inbox_column(w, event_id, want[i][0]);
        if (!got || strcmp(got, want[i][1]) != 0)
            fail_msg("inbox %s is \"%s\", want \"%s\"", want[i][0], got ? got : "(null)", want[i][1]);
        free(got);
    }
    assert_true(bot_metric(w, "linebot_events_answered_total") == 1);
    world_finish(w);
}

/* An answer parked by an instance (state `waiting`, as the "still working"
 * button of a later issue leaves it) is taken over by the postback that names
 * it ("linebot:answer=<event id>", see run/stage_deliver.c), posted to
 * /callback like any webhook, and replied with the postback's own token,
 * once; the parked row is finished as handed over. A postback from another
 * chat naming the same answer gets nothing. The parked row is written here
 * straight into the store: no feature parks yet. */
static void test_postback_takes_over_a_parked_answer(void **state)
{
    struct world *w = world_start(state, NULL);
    char *now = e2e_printf("%lld", (long long)e2e_now_ms());
    db_exec(w,
            "INSERT INTO linebot_inbox (event_id, chat_id, timestamp_ms, state, answer) VALUES ('parked-1', ?, ?, "
            "'waiting', '{\"mode\":\"none\",\"outcome\":\"answered\",\"parts\":[\"the parked answer\"],"
            "\"history\":{\"text\":\"draw me a cat\",\"answer\":\"the parked answer\"}}')",
            (const char *[]){USER_A, now}, 2);
    free(now);

    /* Another chat's postback: nothing waits for it there. */
    json_t *stranger = send_event(w, ev_postback(w, &(struct ev){.user = USER_B}, "linebot:answer=parked-1"));
    wait_inbox_column(w, ev_get(stranger, "webhookEventId"), "outcome", "ignored");
    assert_int_equal(fake_line_message_count(w->line), 0);

    json_t *ev = send_event(w, ev_postback(w, &(struct ev){.user = USER_A}, "linebot:answer=parked-1"));
    assert_int_equal(world_answers_grace(w, USER_A, 1, 1000), 1);
    struct fake_line_message m;
    assert_true(fake_line_message_at(w->line, 0, &m));
    assert_string_equal(m.api, "reply");
    assert_string_equal(m.reply_token, ev_get(ev, "replyToken"));
    assert_string_equal(m.text, "the parked answer");
    wait_inbox_column(w, ev_get(ev, "webhookEventId"), "outcome", "answered");
    wait_inbox_column(w, "parked-1", "outcome", "handed_over");
    /* A second press of the button finds nothing left. */
    json_t *again = send_event(w, ev_postback(w, &(struct ev){.user = USER_A}, "linebot:answer=parked-1"));
    wait_inbox_column(w, ev_get(again, "webhookEventId"), "outcome", "ignored");
    assert_int_equal(world_answers_grace(w, USER_A, 1, 500), 1);
    /* The exchange is remembered: the next question carries it to the model. */
    send_text(w, USER_A, "and a dog?");
    assert_answers(w, USER_A, 2);
    char *tr = fake_llm_request_transcript(w->llm, 0);
    assert_contains(tr, "draw me a cat");
    assert_contains(tr, "the parked answer");
    free(tr);
    world_finish(w);
}

/* An internal job of a kind this binary does not know is finished as
 * unsupported (and the answers go on). */
static void test_internal_job_of_unknown_kind(void **state)
{
    struct world *w = world_start(state, NULL);
    bot_stop(w);
    char *now = e2e_printf("%lld", (long long)e2e_now_ms());
    db_exec(w, "INSERT INTO linebot_inbox (event_id, kind, chat_id, timestamp_ms, state, payload) VALUES "
               "('task:from-the-future:1', 'from-the-future', '', ?, 'pending', '{}')",
            (const char *[]){now}, 1);
    free(now);
    bot_start(w, NULL);
    wait_inbox_column(w, "task:from-the-future:1", "outcome", "unsupported");
    wait_inbox_column(w, "task:from-the-future:1", "state", "done");
    send_text(w, USER_A, "still there?");
    assert_answers(w, USER_A, 1);
    world_finish(w);
}

static void test_kill9_after_ack_of_a_batch(void **state)
{
    enum { USERS = 20 };
    struct world *w = world_start(state, NULL);
    fake_llm_set_delay(w->llm, 1000);
    char users[USERS][40];
    json_t *evs[USERS];
    for (int i = 0; i < USERS; i++) {
        snprintf(users[i], sizeof users[i], "Ue2ebatch0000000000000000000000%02d", i);
        char text[32];
        snprintf(text, sizeof text, "batch message %d", i);
        evs[i] = ev_message(w, &(struct ev){.user = users[i], .text = text});
    }
    char *body = webhook_body(evs[0], evs[1], evs[2], evs[3], evs[4], evs[5], evs[6], evs[7],
                              evs[8], evs[9], evs[10], evs[11], evs[12], evs[13], evs[14],
                              evs[15], evs[16], evs[17], evs[18], evs[19], NULL);
    assert_int_equal(bot_post_webhook(w, body), 200);
    bot_kill9(w);
    free(body);
    size_t before = fake_line_delivery_count(w->line, NULL);

    bot_start(w, NULL);
    fake_line_wait_deliveries(w->line, NULL, USERS, e2e_ms(60000));
    e2e_sleep_ms(e2e_ms(1000));
    for (int i = 0; i < USERS; i++) {
        size_t n = fake_line_delivery_count(w->line, users[i]);
        if (n != 1)
            fail_msg("user %d: want exactly 1 answer, got %zu (%zu answered before the kill)", i,
                     n, before);
    }
    assert_int_equal(fake_line_delivery_count(w->line, NULL), USERS);
    world_finish(w);
}

static void test_sigterm_during_a_slow_model_call(void **state)
{
    struct world *w = world_start(state, NULL);
    fake_llm_set_delay(w->llm, 3000);
    send_text(w, USER_A, "answer me after the restart");
    assert_true(fake_llm_wait_requests(w->llm, 1, e2e_ms(E2E_WAIT_MS)));
    int status = bot_term(w, e2e_ms(20000));
    if (status == -1) {
        bot_kill9(w);
        fail_msg("the bot did not exit within 20 s of SIGTERM");
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        fail_msg("SIGTERM during a model call: want exit code 0, got wait status 0x%x", status);

    fake_llm_set_delay(w->llm, 0);
    bot_start(w, NULL);
    assert_answers(w, USER_A, 1);
    char *t = world_texts(w, USER_A);
    assert_string_equal(t, "echo: answer me after the restart");
    free(t);
    world_finish(w);
}

static void test_history_survives_a_restart(void **state)
{
    struct world *w = world_start(state, NULL);
    send_text(w, USER_A, "my cat is called Miso");
    assert_answers(w, USER_A, 1);
    bot_restart(w, NULL);
    send_text(w, USER_A, "what is my cat called?");
    assert_answers(w, USER_A, 2);
    char *tr = fake_llm_request_transcript(w->llm, 1);
    assert_contains(tr, "my cat is called Miso");
    free(tr);
    world_finish(w);
}

static void test_duplicate_after_restart_not_answered_again(void **state)
{
    struct world *w = world_start(state, NULL);
    json_t *ev = send_text(w, USER_A, "once, even across restarts");
    assert_answers(w, USER_A, 1);
    bot_kill9(w);
    bot_start(w, NULL);
    send_event(w, ev_redelivered(w, ev));
    world_quiet(w);
    assert_int_equal(fake_line_delivery_count(w->line, USER_A), 1);
    assert_int_equal(fake_llm_request_count(w->llm), 1);
    world_finish(w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        E2E_TEST(test_crash_after_claim),
        E2E_TEST(test_crash_after_llm),
        E2E_TEST(test_crash_after_sending_recorded),
        E2E_TEST(test_crash_after_send),
        E2E_TEST(test_crash_after_an_apology_was_recorded),
        E2E_TEST(test_rate_count_survives_a_crash),
        E2E_TEST(test_model_and_usage_survive_a_crash),
        E2E_TEST(test_postback_takes_over_a_parked_answer),
        E2E_TEST(test_internal_job_of_unknown_kind),
        E2E_TEST(test_kill9_after_ack_of_a_batch),
        E2E_TEST(test_sigterm_during_a_slow_model_call),
        E2E_TEST(test_history_survives_a_restart),
        E2E_TEST(test_duplicate_after_restart_not_answered_again),
    };
    return E2E_RUN(tests);
}
