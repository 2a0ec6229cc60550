/* test_budgets.c - daily token budgets, /usage, the token metrics and the
 * push quota reserve (issue 11, part 6), with the real binary, on SQLite
 * and on PostgreSQL.
 *
 * The fake model reports 10 prompt + 10 completion tokens for every answer
 * (fake_llm_completion_body), so a limit of 20 is spent by one answer. The
 * oracles are what users saw (texts and buttons LINE accepted), what reached
 * the fake model (whether a call was made at all), GET /metrics, and the
 * times written out here by hand: with LINEBOT_TIMEZONE=+09:00 the day ends
 * at "00:00 (UTC+09:00)". The day is changed by restarting the bot with
 * LINEBOT_TEST_CLOCK_OFFSET_MS just past the next midnight in that zone, and
 * events stamped with the shifted time, as LINE would stamp them then.
 * PostgreSQL cases run on a scratch schema of LINEBOT_TEST_PG_URL and are
 * skipped without it. */
#include <jansson.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "pg_scratch.h"

#define USER_A "Ue2e0000000000000000000000000000a"
#define USER_B "Ue2e0000000000000000000000000000b"
#define GROUP "Ce2egroup0000000000000000000000001"
#define DAY_MS 86400000LL
#define TOKYO_MS (9 * 3600000LL)

/* ---- settings ---- */

/* NULL-terminated settings: `first...` (NULL-terminated), copied. */
static char **env_of(const char *first, ...)
{
    char **env = calloc(16, sizeof *env);
    size_t n = 0;
    va_list ap;
    va_start(ap, first);
    for (const char *s = first; s && n < 15; s = va_arg(ap, const char *))
        env[n++] = e2e_strdup(s);
    va_end(ap);
    return env;
}

static void env_add(char **env, char *owned)
{
    size_t n = 0;
    while (env[n])
        n++;
    assert_true(n < 15);
    env[n] = owned;
}

static void env_free(char **env)
{
    for (char **e = env; *e; e++)
        free(*e);
    free(env);
}

/* Two models on the world's fake: "big", the default, and "small", cheaper. */
static char *catalogue(struct world *w)
{
    return e2e_printf("LINEBOT_MODELS=[{\"name\":\"big\",\"model\":\"model-big\",\"provider\":\"custom\","
                      "\"base_url\":\"%s\",\"api_key_env\":\"KEY_E2E\",\"input_price\":5,\"output_price\":15},"
                      "{\"name\":\"small\",\"model\":\"model-small\",\"provider\":\"custom\",\"base_url\":\"%s\","
                      "\"api_key_env\":\"KEY_E2E\",\"label\":\"Small one\",\"input_price\":0.15,"
                      "\"output_price\":0.6}]",
                      fake_llm_base_url(w->llm), fake_llm_base_url(w->llm));
}

/* Milliseconds from now to one minute past the next midnight at +09:00. */
static int64_t to_next_tokyo_day(void)
{
    int64_t local = e2e_now_ms() + TOKYO_MS;
    return (local / DAY_MS + 1) * DAY_MS - local + 60000;
}

/* ---- events and what LINE received ---- */

/* `user` says `text` in a 1:1 chat (stamped `shift_ms` ahead of now). */
static void say_at(struct world *w, const char *user, const char *text, int64_t shift_ms)
{
    send_event(w, ev_message(w, &(struct ev){.user = user, .text = text, .timestamp_ms = e2e_now_ms() + shift_ms}));
}

/* `user` writes `text` in GROUP. */
static void say_in_group(struct world *w, const char *user, const char *text)
{
    send_event(w, ev_message(w, &(struct ev){.user = user, .group = GROUP, .text = text}));
}

/* The text of the last message LINE accepted for `chat` (malloc'd). */
static char *last_text(struct world *w, const char *chat)
{
    for (size_t i = fake_line_message_count(w->line); i-- > 0;) {
        struct fake_line_message m;
        assert_true(fake_line_message_at(w->line, i, &m));
        if (m.chat_id && strcmp(m.chat_id, chat) == 0)
            return e2e_strdup(m.text);
    }
    fail_msg("nothing was delivered to %s", chat);
    return NULL;
}

/* ---- the cases ---- */

/* A user over the limit: one notice (when the day ends, a cheaper model's
 * button), then silence; commands still work; /usage; the metrics; and after
 * the day changes (in +09:00) an answer again. */
static void user_over_the_limit(void **state, const char *db)
{
    const char *const overrides[] = {"LINEBOT_USER_DAILY_TOKENS=20", "LINEBOT_TIMEZONE=+09:00",
                                     "LINEBOT_RATE_LIMIT=0", "KEY_E2E=" E2E_LLM_KEY, db, NULL};
    struct world *w = world_new(state, overrides);
    char **env = env_of(NULL);
    env_add(env, catalogue(w));
    bot_start(w, (const char *const *)env);

    say_at(w, USER_A, "hello", 0);
    assert_answers(w, USER_A, 1);
    char *t = last_text(w, USER_A);
    assert_string_equal(t, "echo: hello");
    free(t);
    assert_int_equal(fake_llm_request_count(w->llm), 1);
    /* 10 + 10 tokens of "big" at 5 and 15 per million: 0.0002. */
    assert_true(bot_metric(w, "linebot_llm_tokens_total{model=\"big\",kind=\"prompt\"}") == 10);
    assert_true(bot_metric(w, "linebot_llm_tokens_total{model=\"big\",kind=\"completion\"}") == 10);
    assert_true(fabs(bot_metric(w, "linebot_llm_cost_total{model=\"big\"}") - 0.0002) < 1e-9);
    assert_true(bot_metric(w, "linebot_llm_tokens_total{model=\"small\",kind=\"prompt\"}") == -1);

    /* At the limit: the day's one notice, no model call. */
    say_at(w, USER_A, "and now?", 0);
    assert_answers(w, USER_A, 2);
    t = last_text(w, USER_A);
    assert_contains(t, "You've used up today's tokens. Your limit resets at 00:00 (UTC+09:00).");
    assert_contains(t, "cheaper model: small");
    free(t);
    json_t *body;
    json_t *items = world_last_quick_reply(w, &body);
    assert_int_equal(json_array_size(items), 1);
    json_t *action = json_object_get(json_array_get(items, 0), "action");
    assert_string_equal(json_string_value(json_object_get(action, "label")), "Small one");
    assert_string_equal(json_string_value(json_object_get(action, "data")), "v1|m|small");
    json_decref(body);
    assert_int_equal(fake_llm_request_count(w->llm), 1);

    /* Then silence for this user, while another user is answered. */
    say_at(w, USER_A, "hello?", 0);
    say_at(w, USER_B, "hi", 0);
    assert_answers(w, USER_B, 1);
    assert_answers(w, USER_A, 2);
    assert_int_equal(fake_llm_request_count(w->llm), 2);

    /* Commands still work over the limit. */
    say_at(w, USER_A, "/usage", 0);
    assert_answers(w, USER_A, 3);
    t = last_text(w, USER_A);
    assert_string_equal(t, "Today you've used 20 tokens of your daily 20. It resets at 00:00 (UTC+09:00).");
    free(t);
    say_at(w, USER_A, "/help", 0);
    assert_answers(w, USER_A, 4);
    t = last_text(w, USER_A);
    assert_contains(t, "/usage");
    free(t);
    assert_int_equal(fake_llm_request_count(w->llm), 2);

    /* The next day in Tokyo: answered again, with its own count. */
    int64_t shift = to_next_tokyo_day();
    env_add(env, e2e_printf("LINEBOT_TEST_CLOCK_OFFSET_MS=%lld", (long long)shift));
    bot_restart(w, (const char *const *)env);
    say_at(w, USER_A, "a new day", shift);
    assert_answers(w, USER_A, 5);
    t = last_text(w, USER_A);
    assert_string_equal(t, "echo: a new day");
    free(t);
    assert_int_equal(fake_llm_request_count(w->llm), 3);
    say_at(w, USER_A, "/usage", shift);
    assert_answers(w, USER_A, 6);
    t = last_text(w, USER_A);
    assert_string_equal(t, "Today you've used 20 tokens of your daily 20. It resets at 00:00 (UTC+09:00).");
    free(t);
    env_free(env);
    world_finish(w);
}

static void test_user_limit_sqlite(void **state) { user_over_the_limit(state, NULL); }

static void test_user_limit_postgres(void **state) { pg_scratch_run(state, "budgets", user_over_the_limit); }

/* A group's cap: spent by one member, the notice goes to the group once,
 * then the group gets silence, whoever asks; one-to-one chats are not
 * capped by it; /usage works in the group. */
static void chat_over_the_limit(void **state, const char *db)
{
    const char *const overrides[] = {"LINEBOT_CHAT_DAILY_TOKENS=20", "LINEBOT_TRIGGER=bot",
                                     "LINEBOT_RATE_LIMIT=0", db, NULL};
    struct world *w = world_start(state, overrides);
    say_in_group(w, USER_A, "bot, first question");
    assert_answers(w, GROUP, 1);
    say_in_group(w, USER_B, "bot, second question");
    assert_answers(w, GROUP, 2);
    char *t = last_text(w, GROUP);
    assert_string_equal(t, "This chat has used up today's tokens. The limit resets at 00:00 (UTC+00:00).");
    free(t);
    say_in_group(w, USER_A, "bot, third question");
    world_quiet(w);
    assert_answers(w, GROUP, 2);
    assert_int_equal(fake_llm_request_count(w->llm), 1);
    /* One-to-one: no cap there. */
    say_at(w, USER_B, "just us", 0);
    assert_answers(w, USER_B, 1);
    assert_int_equal(fake_llm_request_count(w->llm), 2);
    /* A command in the capped group. */
    say_in_group(w, USER_A, "bot, /usage");
    assert_answers(w, GROUP, 3);
    t = last_text(w, GROUP);
    assert_string_equal(t, "Today you've used 20 tokens. There's no daily limit.");
    free(t);
    world_finish(w);
}

static void test_chat_limit_sqlite(void **state) { chat_over_the_limit(state, NULL); }

static void test_chat_limit_postgres(void **state) { pg_scratch_run(state, "budgets", chat_over_the_limit); }

/* A provider that reports no usage: an estimate is charged, and marked. */
static void test_estimated_usage(void **state)
{
    struct world *w = world_start(state, (const char *const[]){"LINEBOT_USER_DAILY_TOKENS=100000", NULL});
    /* "abcdefgh": 8 ASCII characters, two tokens by the estimate. */
    fake_llm_push(w->llm, 200,
                  "{\"id\":\"x\",\"object\":\"chat.completion\",\"model\":\"test-model\",\"choices\":[{\"index\":0,"
                  "\"message\":{\"role\":\"assistant\",\"content\":\"abcdefgh\"},\"finish_reason\":\"stop\"}]}",
                  NULL, 0);
    say_at(w, USER_A, "count me", 0);
    assert_answers(w, USER_A, 1);
    char *series = e2e_printf("linebot_llm_tokens_total{model=\"%s\",kind=\"completion\"}", E2E_MODEL);
    assert_true(bot_metric(w, series) == 2);
    free(series);
    series = e2e_printf("linebot_llm_tokens_total{model=\"%s\",kind=\"prompt\"}", E2E_MODEL);
    double prompt = bot_metric(w, series);
    free(series);
    assert_true(prompt > 0);
    char *log = bot_log(w);
    assert_contains(log, "completion tokens (estimated)");
    free(log);
    /* /usage counts the estimate: prompt + 2. */
    say_at(w, USER_A, "/usage", 0);
    assert_answers(w, USER_A, 2);
    char *t = last_text(w, USER_A);
    char *want = e2e_printf("Today you've used %.0f tokens of your daily 100000.", prompt + 2);
    assert_contains(t, want);
    free(want);
    free(t);
    world_finish(w);
}

/* Killed after the answer went out, or after the model answered and before
 * anything was recorded: after the restart the event is charged once. */
static void charged_once(void **state, const char *failpoint, size_t model_calls)
{
    char *fp = e2e_printf("LINEBOT_FAILPOINT=%s", failpoint);
    struct world *w = world_start(state, (const char *const[]){fp, "LINEBOT_USER_DAILY_TOKENS=1000", NULL});
    free(fp);
    json_t *ev = ev_message(w, &(struct ev){.user = USER_A, .text = "once only"});
    long posted = bot_send(w, ev, NULL);
    if (posted != 200 && posted != 0)
        fail_msg("POST /callback answered %ld", posted);
    int status = bot_wait_exit(w, e2e_ms(E2E_WAIT_MS));
    if (status == -1 || !WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL)
        fail_msg("the bot did not die at %s", failpoint);
    bot_start(w, (const char *const[]){"LINEBOT_FAILPOINT", NULL});
    if (posted != 200)
        assert_int_equal(bot_send(w, ev, NULL), 200);
    assert_answers(w, USER_A, 1);
    assert_int_equal(fake_llm_request_count(w->llm), model_calls);
    say_at(w, USER_A, "/usage", 0);
    assert_answers(w, USER_A, 2);
    char *t = last_text(w, USER_A);
    assert_contains(t, "Today you've used 20 tokens of your daily 1000.");
    free(t);
    world_finish(w);
}

static void test_charged_once_after_send_crash(void **state) { charged_once(state, "worker_after_send", 1); }
static void test_charged_once_after_llm_crash(void **state) { charged_once(state, "worker_after_llm", 2); }

/* Push fallback and LINEBOT_PUSH_RESERVE: 5 messages left of 100 with a
 * reserve of 10: not pushed, logged. */
static void push_refused_by_reserve(void **state, const char *db)
{
    struct world *w = world_start(state, (const char *const[]){"LINEBOT_PUSH_FALLBACK=1", "LINEBOT_PUSH_RESERVE=10",
                                                                db, NULL});
    fake_line_set_quota(w->line, 100, 95);
    send_event(w, ev_message(w, &(struct ev){.user = USER_A, .text = "push me", .token_not_issued = true}));
    assert_true(fake_line_wait_requests(w->line, FAKE_LINE_QUOTA_PATH "/consumption", 1, e2e_ms(E2E_WAIT_MS)));
    world_quiet(w);
    assert_int_equal(fake_line_delivery_count(w->line, USER_A), 0);
    assert_int_equal(fake_line_request_count(w->line, "POST", FAKE_LINE_PUSH_PATH), 0);
    char *log = bot_log(w);
    assert_contains(log, "not pushing: 5 of the month's 100 push messages left, LINEBOT_PUSH_RESERVE is 10");
    free(log);
    world_finish(w);
}

static void test_push_refused_by_reserve_sqlite(void **state) { push_refused_by_reserve(state, NULL); }
static void test_push_refused_by_reserve_postgres(void **state)
{
    pg_scratch_run(state, "budgets", push_refused_by_reserve);
}

/* Enough left: pushed, and the quota is read once for two pushes (cached);
 * a quota of type "none" has no limit. */
static void test_push_within_reserve(void **state)
{
    struct world *w = world_start(state, (const char *const[]){"LINEBOT_PUSH_FALLBACK=1", "LINEBOT_PUSH_RESERVE=10",
                                                                NULL});
    fake_line_set_quota(w->line, 100, 50);
    send_event(w, ev_message(w, &(struct ev){.user = USER_A, .text = "one", .token_not_issued = true}));
    assert_answers(w, USER_A, 1);
    send_event(w, ev_message(w, &(struct ev){.user = USER_B, .text = "two", .token_not_issued = true}));
    assert_answers(w, USER_B, 1);
    assert_int_equal(fake_line_request_count(w->line, "GET", FAKE_LINE_QUOTA_PATH "/consumption"), 1);
    assert_int_equal(fake_line_request_count(w->line, "GET", FAKE_LINE_QUOTA_PATH), 2); /* quota + consumption */
    world_finish(w);

    w = world_start(state, (const char *const[]){"LINEBOT_PUSH_FALLBACK=1", "LINEBOT_PUSH_RESERVE=1000000", NULL});
    send_event(w, ev_message(w, &(struct ev){.user = USER_A, .text = "unlimited", .token_not_issued = true}));
    assert_answers(w, USER_A, 1);
    assert_int_equal(fake_line_request_count(w->line, "GET", FAKE_LINE_QUOTA_PATH "/consumption"), 0);
    world_finish(w);
}

/* A copy of a file (the binary, a zone), mode kept. */
static void copy_file(const char *from, const char *to)
{
    FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
    assert_non_null(in);
    assert_non_null(out);
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0)
        assert_int_equal(fwrite(buf, 1, n, out), n);
    fclose(in);
    assert_int_equal(fclose(out), 0);
    struct stat st;
    assert_int_equal(stat(from, &st), 0);
    assert_int_equal(chmod(to, st.st_mode & 07777), 0);
}

/* A zone name is found in /usr/share/zoneinfo or in zoneinfo/ next to the
 * binary (as the Lambda and FC packages bring it); one found nowhere stops
 * the start and says so. */
static void test_zone_names(void **state)
{
    if (access("/usr/share/zoneinfo/Asia/Tokyo", R_OK) != 0)
        skip();
    struct world *w = world_new(state, (const char *const[]){"LINEBOT_USER_DAILY_TOKENS=50", NULL});
    bot_start(w, (const char *const[]){"LINEBOT_TIMEZONE=Asia/Tokyo", NULL});
    say_at(w, USER_A, "/usage", 0);
    assert_answers(w, USER_A, 1);
    char *t = last_text(w, USER_A);
    assert_string_equal(t, "Today you've used 0 tokens of your daily 50. It resets at 00:00 (Asia/Tokyo).");
    free(t);
    bot_stop(w);

    /* Nowhere: the start stops, naming the setting. */
    bot_spawn(w, (const char *const[]){"LINEBOT_TIMEZONE=Test/Packaged", NULL});
    int status = bot_wait_exit(w, e2e_ms(E2E_WAIT_MS));
    assert_true(status != -1 && WIFEXITED(status) && WEXITSTATUS(status) != 0);
    char *log = bot_log(w);
    assert_contains(log, "LINEBOT_TIMEZONE: no zone file for \"Test/Packaged\"");
    free(log);

    /* A package: the binary with zoneinfo/ beside it. */
    char *dir = e2e_printf("%s/pkg", w->dir);
    char *zones = e2e_printf("%s/zoneinfo", dir);
    char *test_dir = e2e_printf("%s/Test", zones);
    assert_int_equal(mkdir(dir, 0755), 0);
    assert_int_equal(mkdir(zones, 0755), 0);
    assert_int_equal(mkdir(test_dir, 0755), 0);
    char *bin = e2e_printf("%s/bootstrap", dir);
    char *zone = e2e_printf("%s/Packaged", test_dir);
    const char *under_test = getenv("E2E_LINEBOT_BIN");
    copy_file(under_test && *under_test ? under_test : LINEBOT_BIN, bin);
    copy_file("/usr/share/zoneinfo/Asia/Tokyo", zone);
    setenv("E2E_LINEBOT_BIN", bin, 1);
    bot_start(w, (const char *const[]){"LINEBOT_TIMEZONE=Test/Packaged", NULL});
    if (under_test)
        setenv("E2E_LINEBOT_BIN", under_test, 1);
    else
        unsetenv("E2E_LINEBOT_BIN");
    say_at(w, USER_A, "/usage", 0);
    assert_answers(w, USER_A, 2);
    t = last_text(w, USER_A);
    assert_contains(t, "It resets at 00:00 (Test/Packaged).");
    free(t);
    world_finish(w);
    free(dir);
    free(zones);
    free(test_dir);
    free(bin);
    free(zone);
}

int main(void)
{
    if (!pg_scratch_url())
        fprintf(stderr, "[  SKIPPED ] PostgreSQL cases: LINEBOT_TEST_PG_URL is not set\n");
    const struct CMUnitTest tests[] = {
        E2E_TEST(test_user_limit_sqlite),
        E2E_TEST(test_user_limit_postgres),
        E2E_TEST(test_chat_limit_sqlite),
        E2E_TEST(test_chat_limit_postgres),
        E2E_TEST(test_estimated_usage),
        E2E_TEST(test_charged_once_after_send_crash),
        E2E_TEST(test_charged_once_after_llm_crash),
        E2E_TEST(test_push_refused_by_reserve_sqlite),
        E2E_TEST(test_push_refused_by_reserve_postgres),
        E2E_TEST(test_push_within_reserve),
        E2E_TEST(test_zone_names),
    };
    return E2E_RUN(tests);
}
