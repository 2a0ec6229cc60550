/* test_memory.c - memory of the user and the rolling summary of long chats
 * (issue 11), with the real binary, on SQLite and on PostgreSQL.
 *
 * The oracles are what users saw (the texts LINE received), what the fake
 * LLM received (the system prompts of the answers, and how many extraction
 * requests came: those are the requests whose system prompt asks for
 * "lasting facts about the user", answered by the fake with the JSON the
 * test gives), and the bot's log for when an extraction was written.
 * The harness runs every other test with LINEBOT_MEMORY=explicit and
 * LINEBOT_SUMMARY=0; these set auto and 1, the defaults. PostgreSQL cases run on a scratch schema of
 * LINEBOT_TEST_PG_URL and are skipped without it. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "pg_scratch.h"

#define USER "Ue2e0000000000000000000000000000a"
#define OTHER "Ue2e0000000000000000000000000000b"
#define GROUP "Ce2egroup0000000000000000000000001"
#define EXTRACT "lasting facts about the user" /* what the extraction's system prompt says */
#define NOTICE "I remember things about you"
#define FOLD "running summary" /* what the summary's system prompt says */


/* ---- helpers ---- */

/* The last text delivered to `chat` (malloc'd). */
static char *last_text(struct world *w, const char *chat)
{
    char *all = world_texts(w, chat);
    char *last = all, *p = all;
    while ((p = strstr(p, "\n---\n")) != NULL) {
        p += 5;
        last = p;
    }
    char *copy = e2e_strdup(last);
    free(all);
    return copy;
}

/* `user` says `text` in their 1:1 chat, which then has `answers` answers;
 * returns the last text (malloc'd). */
static char *say(struct world *w, const char *user, const char *text, size_t answers)
{
    send_text(w, user, text);
    assert_answers(w, user, answers);
    return last_text(w, user);
}

/* The same, asserting the reply contains `want`. */
static void say_expect(struct world *w, const char *user, const char *text, size_t answers, const char *want)
{
    char *got = say(w, user, text, answers);
    assert_contains(got, want);
    free(got);
}

/* Waits until the fake LLM got `n` extraction requests. */
static void wait_extractions(struct world *w, size_t n)
{
    int64_t until = e2e_mono_ms() + e2e_ms(E2E_WAIT_MS);
    while (fake_llm_count_system(w->llm, EXTRACT) < n && e2e_mono_ms() < until)
        e2e_sleep_ms(20);
    if (fake_llm_count_system(w->llm, EXTRACT) != n)
        fail_msg("want %zu extraction request(s), got %zu", n, fake_llm_count_system(w->llm, EXTRACT));
}

/* Waits until the bot's log holds `needle` `n` times. */
static void wait_log(struct world *w, const char *needle, int n)
{
    int64_t until = e2e_mono_ms() + e2e_ms(E2E_WAIT_MS);
    for (;;) {
        char *log = bot_log(w);
        int found = 0;
        for (const char *p = log; (p = strstr(p, needle)) != NULL; p += strlen(needle))
            found++;
        free(log);
        if (found >= n)
            return;
        if (e2e_mono_ms() >= until)
            fail_msg("\"%s\" is in the log %d time(s), want %d", needle, found, n);
        e2e_sleep_ms(20);
    }
}

/* The system prompt of the newest request that was not an extraction nor a
 * fold (malloc'd). */
static char *last_answer_system(struct world *w)
{
    for (size_t i = fake_llm_request_count(w->llm); i-- > 0;) {
        char *system = fake_llm_request_content(w->llm, i, 0);
        if (system && !strstr(system, EXTRACT) && !strstr(system, FOLD))
            return system;
        free(system);
    }
    fail_msg("no answer request");
    return NULL;
}

/* ---- the commands ---- */

static void commands(void **state, const char *db)
{
    const char *const overrides[] = {"LINEBOT_MEMORY=auto", "LINEBOT_TRIGGER=bot", "LINEBOT_RATE_LIMIT=0", db,
                                     NULL};
    struct world *w = world_start(state, overrides);

    say_expect(w, USER, "/memory", 1, "don't remember anything about you yet");
    say_expect(w, USER, "/remember I am vegetarian", 2, "I'll remember that");
    say_expect(w, USER, "/remember My name is Taro", 3, "I'll remember that");
    /* Newest first, numbered as /forget takes them. */
    say_expect(w, USER, "/memory", 4, "What I remember about you:\n1. My name is Taro\n2. I am vegetarian");
    /* Said again, it counts twice and goes first. */
    say_expect(w, USER, "/remember i am VEGETARIAN", 5, "I'll remember that");
    say_expect(w, USER, "/memory", 6, "1. I am vegetarian\n2. My name is Taro");
    say_expect(w, USER, "/forget 1", 7, "forgotten: I am vegetarian");
    say_expect(w, USER, "/forget 5", 8, "There is no number 5");
    say_expect(w, USER, "/forget soon", 9, "/remember TEXT");
    char *got = say(w, USER, "/memory", 10);
    assert_contains(got, "1. My name is Taro");
    assert_not_contains(got, "vegetarian");
    free(got);
    /* Another user has a memory of their own. */
    say_expect(w, OTHER, "/memory", 1, "don't remember anything");

    /* The facts go into the system prompt. */
    free(say(w, USER, "what is my name?", 11));
    char *system = last_answer_system(w);
    assert_contains(system, "- My name is Taro");
    assert_not_contains(system, "vegetarian");
    free(system);

    /* Opted out: nothing is used or added; opted in again: used again. */
    say_expect(w, USER, "/memory off", 12, "won't remember or use anything");
    say_expect(w, USER, "/remember I like tea", 13, "Memory is off for you");
    free(say(w, USER, "and now?", 14));
    system = last_answer_system(w);
    assert_not_contains(system, "Taro");
    free(system);
    say_expect(w, USER, "/memory on", 15, "remember things about you again");
    free(say(w, USER, "and again?", 16));
    system = last_answer_system(w);
    assert_contains(system, "Taro");
    free(system);

    say_expect(w, USER, "/forget all", 17, "forgotten everything");
    say_expect(w, USER, "/memory", 18, "don't remember anything");
    /* Too long to remember. */
    char *long_text = calloc(1, 400);
    strcpy(long_text, "/remember ");
    memset(long_text + strlen(long_text), 'x', 301);
    say_expect(w, USER, long_text, 19, "300 characters at most");
    free(long_text);

    /* In a group the commands are refused: the list is private. */
    send_event(w, ev_message(w, &(struct ev){.user = USER, .group = GROUP, .text = "bot /memory"}));
    assert_answers(w, GROUP, 1);
    got = last_text(w, GROUP);
    assert_contains(got, "one-to-one chat");
    free(got);
    /* /help lists the commands and says that the bot remembers. */
    got = say(w, USER, "/help", 20);
    assert_contains(got, "/remember");
    assert_contains(got, "/forget N");
    assert_contains(got, NOTICE);
    free(got);
    world_finish(w);
}

static void test_commands_sqlite(void **state) { commands(state, NULL); }
static void test_commands_postgres(void **state) { pg_scratch_run(state, "memory", commands); }

/* ---- automatic extraction ---- */

static void auto_extraction(void **state, const char *db)
{
    const char *const overrides[] = {"LINEBOT_MEMORY=auto", "LINEBOT_MEMORY_EVERY=2", "LINEBOT_TRIGGER=bot",
                                     "LINEBOT_GROUP_CONTEXT=5", db, NULL};
    struct world *w = world_start(state, overrides);
    fake_llm_answer_system(w->llm, EXTRACT,
                           "{\"facts\":[{\"fact\":\"Is vegetarian\",\"message\":2}]}", 0);

    /* The first answer says once that the bot remembers. */
    send_text(w, USER, "hello");
    assert_answers(w, USER, 1); /* one reply: the answer, then the notice */
    char *got = world_texts(w, USER);
    assert_contains(got, "echo: hello");
    assert_contains(got, NOTICE);
    free(got);
    /* The notice rides on an ordinary answer: no profile call for its language. */
    assert_int_equal(fake_line_request_count(w->line, "GET", "/v2/bot/profile"), 0);
    assert_int_equal(fake_llm_count_system(w->llm, EXTRACT), 0); /* one turn: not yet */

    json_t *veggie = send_text(w, USER, "I never eat meat");
    assert_answers(w, USER, 2);
    got = last_text(w, USER);
    assert_not_contains(got, NOTICE); /* once only */
    free(got);
    wait_extractions(w, 1);
    wait_log(w, "1 fact(s) extracted", 1);
    /* What the extraction read: the two messages, numbered. */
    char *input = NULL;
    for (size_t i = 0; i < fake_llm_request_count(w->llm) && !input; i++) {
        char *system = fake_llm_request_content(w->llm, i, 0);
        if (system && strstr(system, EXTRACT))
            input = fake_llm_request_last_user(w->llm, i);
        free(system);
    }
    assert_contains(input, "1. hello\n2. I never eat meat");
    free(input);
    say_expect(w, USER, "/memory", 3, "1. Is vegetarian");

    /* The fact is in the user's next prompt, in their 1:1 chat... */
    free(say(w, USER, "what should I cook?", 4));
    char *system = last_answer_system(w);
    assert_contains(system, "- Is vegetarian");
    free(system);
    /* ...and in a group, for them only, kept private. */
    send_event(w, ev_message(w, &(struct ev){.user = USER, .group = GROUP, .text = "bot what should I eat?"}));
    assert_answers(w, GROUP, 1);
    system = last_answer_system(w);
    assert_contains(system, "- Is vegetarian");
    assert_contains(system, "never reveal");
    free(system);
    send_event(w, ev_message(w, &(struct ev){.user = OTHER, .group = GROUP, .text = "bot and me?"}));
    assert_answers(w, GROUP, 2);
    system = last_answer_system(w);
    assert_not_contains(system, "vegetarian");
    free(system);

    /* Group chatter never becomes a fact: many turns in the group, addressed
     * and not, and no extraction comes. */
    for (int i = 0; i < 4; i++) {
        char text[64];
        snprintf(text, sizeof text, "I am a pilot, number %d", i);
        send_event(w, ev_message(w, &(struct ev){.user = USER, .group = GROUP, .text = text}));
        snprintf(text, sizeof text, "bot I live in Kyoto %d", i);
        send_event(w, ev_message(w, &(struct ev){.user = USER, .group = GROUP, .text = text}));
    }
    assert_answers(w, GROUP, 6);
    world_quiet(w);
    assert_int_equal(fake_llm_count_system(w->llm, EXTRACT), 1);

    /* Unsending the message the fact came from deletes the fact. */
    send_event(w, ev_unsend(w, &(struct ev){.user = USER, .message_id = ev_get(veggie, "message.id")}));
    world_quiet(w);
    say_expect(w, USER, "/memory", 5, "don't remember anything");
    world_finish(w);
}

static void test_auto_sqlite(void **state) { auto_extraction(state, NULL); }
static void test_auto_postgres(void **state) { pg_scratch_run(state, "memory", auto_extraction); }

/* The extraction is a model call the user caused: its tokens count against
 * their daily budget. Each call of the fake reports 10 + 10 tokens: two
 * answers and one extraction are 60. */
static void test_extraction_counts_against_budget(void **state)
{
    const char *const overrides[] = {"LINEBOT_MEMORY=auto", "LINEBOT_MEMORY_EVERY=2",
                                     "LINEBOT_USER_DAILY_TOKENS=1000", NULL};
    struct world *w = world_start(state, overrides);
    fake_llm_answer_system(w->llm, EXTRACT, "{\"facts\":[{\"fact\":\"Is vegetarian\",\"message\":2}]}", 0);
    send_text(w, USER, "hello");
    assert_answers(w, USER, 1);
    send_text(w, USER, "I never eat meat");
    assert_answers(w, USER, 2);
    wait_extractions(w, 1);
    wait_log(w, "1 fact(s) extracted", 1);
    say_expect(w, USER, "/usage", 3, "used 60 tokens");
    world_finish(w);
}

/* An extraction that fails or answers garbage writes nothing, and the
 * answers go on as before. Explicit mode never extracts. */
static void test_garbage_writes_nothing(void **state)
{
    const char *const overrides[] = {"LINEBOT_MEMORY=auto", "LINEBOT_MEMORY_EVERY=1", NULL};
    struct world *w = world_start(state, overrides);
    fake_llm_answer_system(w->llm, EXTRACT, "Sure! The user is vegetarian.", 0);
    send_text(w, USER, "I never eat meat");
    assert_answers(w, USER, 1);
    wait_extractions(w, 1);
    wait_log(w, "not the JSON asked for", 1);
    fake_llm_answer_system(w->llm, EXTRACT, "{\"facts\":[{\"fact\":\"Is vegetarian\",\"message\":7}]}", 0);
    say_expect(w, USER, "really never", 2, "echo: really never");
    wait_extractions(w, 2);
    wait_log(w, "not the JSON asked for", 2);
    say_expect(w, USER, "/memory", 3, "don't remember anything");
    bot_stop(w);

    const char *const explicit_mode[] = {"LINEBOT_MEMORY=explicit", NULL};
    bot_start(w, explicit_mode);
    say_expect(w, USER, "one more", 4, "echo: one more");
    say_expect(w, USER, "and another", 5, "echo: and another");
    world_quiet(w);
    assert_int_equal(fake_llm_count_system(w->llm, EXTRACT), 2);
    bot_stop(w);

    const char *const off[] = {"LINEBOT_MEMORY=off", NULL};
    bot_start(w, off);
    say_expect(w, USER, "/remember I like tea", 6, "memory is turned off");
    world_finish(w);
}

/* Fewer than LINEBOT_MEMORY_EVERY new turns are read anyway once they have
 * been idle for 10 minutes (the bot's clock is moved on, as a restart 11
 * minutes later would find it). */
static void test_idle_extraction(void **state)
{
    const char *const overrides[] = {"LINEBOT_MEMORY=auto", NULL};
    struct world *w = world_start(state, overrides);
    fake_llm_answer_system(w->llm, EXTRACT, "{\"facts\":[{\"fact\":\"Is vegetarian\",\"message\":1}]}", 0);
    free(say(w, USER, "I never eat meat", 1));
    world_quiet(w);
    assert_int_equal(fake_llm_count_system(w->llm, EXTRACT), 0);
    bot_stop(w);
    const char *const later[] = {"LINEBOT_TEST_CLOCK_OFFSET_MS=660000", NULL};
    bot_start(w, later);
    wait_extractions(w, 1);
    wait_log(w, "1 fact(s) extracted", 1);
    bot_restart(w, NULL); /* back to the fakes' time, for LINE's reply tokens */
    say_expect(w, USER, "/memory", 2, "1. Is vegetarian");
    world_finish(w);
}

/* The extraction is a durable job: killed while the model works on it, the
 * bot does it again after the restart, and its fact is written once; a
 * finished extraction is not done again by a restart. */
static void test_extraction_survives_crash(void **state)
{
    const char *const overrides[] = {"LINEBOT_MEMORY=auto", "LINEBOT_MEMORY_EVERY=2", NULL};
    struct world *w = world_start(state, overrides);
    fake_llm_answer_system(w->llm, EXTRACT, "{\"facts\":[{\"fact\":\"Is vegetarian\",\"message\":1}]}", 60000);
    free(say(w, USER, "I never eat meat", 1));
    free(say(w, USER, "not even fish", 2));
    wait_extractions(w, 1);
    bot_kill9(w);

    fake_llm_answer_system(w->llm, EXTRACT, "{\"facts\":[{\"fact\":\"Is vegetarian\",\"message\":1}]}", 0);
    bot_start(w, NULL);
    wait_extractions(w, 2);
    wait_log(w, "1 fact(s) extracted", 1);
    say_expect(w, USER, "/memory", 3, "1. Is vegetarian");

    bot_restart(w, NULL);
    world_quiet(w);
    assert_int_equal(fake_llm_count_system(w->llm, EXTRACT), 2);
    char *got = say(w, USER, "/memory", 4);
    assert_contains(got, "1. Is vegetarian");
    assert_not_contains(got, "2.");
    free(got);
    world_finish(w);
}

/* unfollow deletes the user's memory; `linebot admin forget` does too. */
static void test_unfollow_and_admin_forget(void **state)
{
    const char *const overrides[] = {"LINEBOT_MEMORY=auto", "LINEBOT_GREETING=Welcome!", NULL};
    struct world *w = world_start(state, overrides);
    say_expect(w, USER, "/remember I am vegetarian", 1, "I'll remember that");
    send_event(w, ev_unfollow(w, &(struct ev){.user = USER}));
    world_quiet(w);
    /* Following again: the greeting says the bot remembers (the notice was forgotten too). */
    send_event(w, ev_follow(w, &(struct ev){.user = USER}));
    assert_answers(w, USER, 2);
    char *got = last_text(w, USER);
    assert_contains(got, "Welcome!");
    assert_contains(got, NOTICE);
    free(got);
    say_expect(w, USER, "/memory", 3, "don't remember anything");

    say_expect(w, USER, "/remember I like tea", 4, "I'll remember that");
    bot_stop(w);
    char *out = NULL;
    const char *const args[] = {"admin", "forget", USER, NULL};
    assert_int_equal(bot_run(w, args, NULL, &out, NULL), 0);
    assert_contains(out, "facts remembered about the user");
    free(out);
    bot_start(w, NULL);
    say_expect(w, USER, "/memory", 5, "don't remember anything");
    world_finish(w);
}

/* ---- long conversations ---- */

/* A chat over LINEBOT_HISTORY_TURNS gets its oldest turns folded into a
 * summary by a background call; the summary goes to the model as context
 * instead of those turns; /reset clears it. */
static void rolling_summary(void **state, const char *db)
{
    const char *const overrides[] = {"LINEBOT_SUMMARY=1", "LINEBOT_HISTORY_TURNS=2", db, NULL};
    struct world *w = world_start(state, overrides);
    fake_llm_answer_system(w->llm, FOLD, "SUMMARY-1: the user likes green tea", 0);
    free(say(w, USER, "I like green tea", 1));
    free(say(w, USER, "second", 2));
    world_quiet(w);
    assert_int_equal(fake_llm_count_system(w->llm, FOLD), 0); /* 4 turns: 2 exchanges fit */
    free(say(w, USER, "third", 3));
    wait_log(w, "turn(s) folded into the chat's summary", 1);
    assert_int_equal(fake_llm_count_system(w->llm, FOLD), 1);
    /* The fold read the oldest two exchanges. */
    char *input = NULL;
    for (size_t i = 0; i < fake_llm_request_count(w->llm) && !input; i++) {
        char *system = fake_llm_request_content(w->llm, i, 0);
        if (system && strstr(system, FOLD))
            input = fake_llm_request_last_user(w->llm, i);
        free(system);
    }
    assert_contains(input, "User: I like green tea\nAssistant: echo: I like green tea\nUser: second\n"
                           "Assistant: echo: second\n");
    assert_not_contains(input, "third");
    free(input);

    /* The next question: the summary in the system prompt, and only the
     * turns after it as history (system, third, its answer, the question). */
    free(say(w, USER, "fourth", 4));
    size_t last = fake_llm_request_count(w->llm) - 1;
    char *system = last_answer_system(w);
    assert_contains(system, "SUMMARY-1: the user likes green tea");
    free(system);
    assert_int_equal(fake_llm_request_message_count(w->llm, last), 4);
    char *transcript = fake_llm_request_transcript(w->llm, last);
    assert_not_contains(transcript, "user: I like green tea");
    assert_contains(transcript, "user: third");
    free(transcript);

    /* /reset clears it. */
    free(say(w, USER, "/reset", 5));
    free(say(w, USER, "fifth", 6));
    system = last_answer_system(w);
    assert_not_contains(system, "SUMMARY-1");
    free(system);
    world_quiet(w);
    assert_int_equal(fake_llm_count_system(w->llm, FOLD), 1);
    world_finish(w);
}

static void test_summary_sqlite(void **state) { rolling_summary(state, NULL); }
static void test_summary_postgres(void **state) { pg_scratch_run(state, "memory", rolling_summary); }

int main(void)
{
    if (!pg_scratch_url())
        fprintf(stderr, "[  SKIPPED ] PostgreSQL cases: LINEBOT_TEST_PG_URL is not set\n");
    const struct CMUnitTest tests[] = {
        E2E_TEST(test_commands_sqlite),
        E2E_TEST(test_commands_postgres),
        E2E_TEST(test_auto_sqlite),
        E2E_TEST(test_auto_postgres),
        E2E_TEST(test_extraction_counts_against_budget),
        E2E_TEST(test_garbage_writes_nothing),
        E2E_TEST(test_idle_extraction),
        E2E_TEST(test_extraction_survives_crash),
        E2E_TEST(test_unfollow_and_admin_forget),
        E2E_TEST(test_summary_sqlite),
        E2E_TEST(test_summary_postgres),
    };
    return E2E_RUN(tests);
}
