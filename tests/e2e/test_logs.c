/* test_logs.c - the log as people and log pipelines read it, from the real
 * binary: LOG_FORMAT=text and json, a LOG_FORMAT the bot refuses, keys left
 * out when they have no value, the question and answer texts at debug level
 * only, an apology logged as an apology, and a token LINE refuses logged
 * naming LINE_CHANNEL_ACCESS_TOKEN.
 *
 * The oracles are the inputs: the event id the test sent (its last eight
 * characters in a text line, the whole id in JSON), the text the test chose,
 * and the line shapes the README documents, checked with regular
 * expressions and a JSON parser, never with the bot's own code. */
#include "harness.h"

#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>

/* Waits until the bot's log holds `needle`; fails the test when it never does. */
static void wait_log(struct world *w, const char *needle)
{
    int64_t deadline = e2e_mono_ms() + e2e_ms(E2E_WAIT_MS);
    for (;;) {
        char *log = bot_log(w);
        bool found = strstr(log, needle) != NULL;
        if (found) {
            free(log);
            return;
        }
        if (e2e_mono_ms() > deadline)
            fail_msg("never in the log: \"%s\"\n%.6000s", needle, log);
        free(log);
        e2e_sleep_ms(50);
    }
}

/* The bot's own lines: the log without the harness's "==== e2e:" lines
 * (a NULL-terminated array of malloc'd lines; free with free_lines). */
static char **bot_lines(struct world *w)
{
    char *log = bot_log(w);
    size_t n = 0, cap = 16;
    char **lines = malloc(cap * sizeof *lines);
    assert_non_null(lines);
    char *save = NULL;
    for (char *l = strtok_r(log, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        if (strncmp(l, "==== e2e:", 9) == 0)
            continue;
        if (n + 2 > cap) {
            cap *= 2;
            lines = realloc(lines, cap * sizeof *lines);
            assert_non_null(lines);
        }
        lines[n++] = strdup(l);
    }
    lines[n] = NULL;
    free(log);
    return lines;
}

static void free_lines(char **lines)
{
    for (char **l = lines; *l; l++)
        free(*l);
    free(lines);
}

static bool matches(const char *line, const char *pattern)
{
    regex_t re;
    if (regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB) != 0)
        fail_msg("bad pattern /%s/", pattern);
    bool ok = regexec(&re, line, 0, NULL, 0) == 0;
    regfree(&re);
    return ok;
}

/* The first line of `lines` that holds `needle`, or NULL. */
static const char *line_with(char **lines, const char *needle)
{
    for (char **l = lines; *l; l++)
        if (strstr(*l, needle))
            return *l;
    return NULL;
}

#define TIME_RE "[0-2][0-9]:[0-5][0-9]:[0-6][0-9]\\.[0-9]{3}"

/* LOG_FORMAT=text: every line is "time LEVEL [chat] message"; the lines of
 * an event name its chat type and the end of its id. */
static void test_text_lines(void **state)
{
    const char *const env[] = {"LOG_FORMAT=text", NULL};
    struct world *w = world_start(state, env);
    json_t *ev = send_text(w, E2E_USER, "hello there");
    assert_answers(w, E2E_USER, 1);
    wait_log(w, "answered by");

    const char *id = ev_get(ev, "webhookEventId");
    assert_true(strlen(id) > 8);
    char **lines = bot_lines(w);
    assert_non_null(lines[0]);
    for (char **l = lines; *l; l++)
        if (!matches(*l, "^" TIME_RE " (DEBUG|INFO |WARN |ERROR) [^ ]"))
            fail_msg("not a text log line: \"%s\"", *l);
    const char *start = line_with(lines, "starting on");
    assert_non_null(start);
    assert_true(matches(start, "^" TIME_RE " INFO  linebot [^ ]+ starting on 127\\.0\\.0\\.1:[0-9]+ "));
    const char *answered = line_with(lines, "answered by");
    assert_non_null(answered);
    char *want = e2e_printf(" INFO  [user #%s] answered by reply in 1 message(s)", id + strlen(id) - 8);
    assert_contains(answered, want);
    free(want);
    assert_null(line_with(lines, "\"level\""));
    free_lines(lines);
    world_finish(w);
}

/* LOG_FORMAT=json: every line is one JSON object with ts, level and msg;
 * the context keys are there when they have a value, and absent (never
 * null) when they have none. */
static void test_json_lines(void **state)
{
    const char *const env[] = {"LOG_FORMAT=json", NULL};
    struct world *w = world_start(state, env);
    json_t *ev = send_text(w, E2E_USER, "hello there");
    assert_answers(w, E2E_USER, 1);
    wait_log(w, "answered by");

    char **lines = bot_lines(w);
    bool saw_start = false, saw_answered = false;
    for (char **l = lines; *l; l++) {
        json_t *o = json_loads(*l, 0, NULL);
        if (!json_is_object(o))
            fail_msg("not a JSON object: \"%s\"", *l);
        assert_true(json_is_string(json_object_get(o, "ts")));
        assert_true(json_is_string(json_object_get(o, "level")));
        const char *msg = json_string_value(json_object_get(o, "msg"));
        assert_non_null(msg);
        const char *key;
        json_t *v;
        json_object_foreach(o, key, v) {
            if (json_is_null(v))
                fail_msg("a key with no value (%s) in \"%s\"", key, *l);
        }
        if (strstr(msg, "starting on")) {
            saw_start = true;
            assert_null(json_object_get(o, "event_id"));
            assert_null(json_object_get(o, "chat_type"));
            assert_null(json_object_get(o, "request_id"));
        }
        if (strncmp(msg, "answered by", 11) == 0) {
            saw_answered = true;
            assert_string_equal(json_string_value(json_object_get(o, "event_id")), ev_get(ev, "webhookEventId"));
            assert_string_equal(json_string_value(json_object_get(o, "chat_type")), "user");
        }
        json_decref(o);
    }
    assert_true(saw_start);
    assert_true(saw_answered);
    free_lines(lines);
    world_finish(w);
}

/* Without LOG_FORMAT, on a file (not a terminal), the lines are JSON. */
static void test_default_off_a_terminal_is_json(void **state)
{
    struct world *w = world_start(state, NULL);
    wait_log(w, "starting on");
    char **lines = bot_lines(w);
    const char *start = line_with(lines, "starting on");
    assert_non_null(start);
    json_t *o = json_loads(start, 0, NULL);
    assert_true(json_is_object(o));
    json_decref(o);
    free_lines(lines);
    world_finish(w);
}

/* A LOG_FORMAT the bot does not know stops the start, naming the setting. */
static void test_bad_format_stops_the_start(void **state)
{
    struct world *w = world_new(state, NULL);
    const char *const env[] = {"LOG_FORMAT=xml", NULL};
    bot_spawn(w, env);
    int status = bot_wait_exit(w, e2e_ms(E2E_WAIT_MS));
    assert_true(status != -1 && WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 2);
    char *log = bot_log(w);
    assert_contains(log, "LOG_FORMAT must be text or json");
    assert_not_contains(log, "starting on");
    free(log);
    world_finish(w);
}

/* LOG_LEVEL=debug logs the question and the model's answer, masked like any
 * line; LOG_LEVEL=info logs neither. */
static void run_texts(void **state, const char *level, bool want_texts)
{
    const char *const env[] = {level, "LOG_FORMAT=json", NULL};
    struct world *w = world_start(state, env);
    fake_llm_set_fixed_answer(w->llm, "The capital is Paris, as always.");
    send_text(w, E2E_USER, "What is the capital of France? My token is " E2E_ACCESS_TOKEN);
    assert_answers(w, E2E_USER, 1);
    wait_log(w, "answered by reply in 1 message(s)");
    char *log = bot_log(w);
    if (want_texts) {
        assert_contains(log, "\"msg\":\"question: What is the capital of France? My token is [redacted "
                             "LINE_CHANNEL_ACCESS_TOKEN]\"");
        assert_contains(log, "\"msg\":\"model's answer: The capital is Paris, as always.\"");
    } else {
        assert_not_contains(log, "capital");
        assert_not_contains(log, "question:");
        assert_not_contains(log, "model's answer:");
    }
    assert_not_contains(log, E2E_ACCESS_TOKEN);
    free(log);
    world_finish(w);
}

static void test_debug_logs_the_texts(void **state) { run_texts(state, "LOG_LEVEL=debug", true); }
static void test_info_logs_no_text(void **state) { run_texts(state, "LOG_LEVEL=info", false); }

/* The model fails: the user gets the apology, and the log says an apology
 * was sent, never that the event was answered. */
static void test_apology_is_logged_as_one(void **state)
{
    const char *const env[] = {"LOG_FORMAT=text", NULL};
    struct world *w = world_start(state, env);
    fake_llm_set_always(w->llm, 500, "{\"error\":{\"message\":\"e2e: the model is down\"}}");
    json_t *ev = send_text(w, E2E_USER, "are you there?");
    assert_answers(w, E2E_USER, 1);
    wait_log(w, "apology sent by");
    const char *id = ev_get(ev, "webhookEventId");
    char **lines = bot_lines(w);
    char *want = e2e_printf(" INFO  [user #%s] apology sent by reply in 1 message(s)", id + strlen(id) - 8);
    const char *line = line_with(lines, "apology sent by");
    assert_contains(line, want);
    free(want);
    assert_null(line_with(lines, "answered by"));
    assert_null(line_with(lines, "model's answer:"));
    assert_non_null(line_with(lines, "question: are you there?")); /* the harness runs at debug */
    free_lines(lines);
    world_finish(w);
}

/* A token LINE refuses: the log line names the setting to fix, never the token. */
static void test_refused_token_names_the_setting(void **state)
{
    const char *const env[] = {"LOG_FORMAT=text", "LINE_CHANNEL_ACCESS_TOKEN=revoked-token-0123456789", NULL};
    struct world *w = world_start(state, env);
    send_text(w, E2E_USER, "hello?");
    wait_log(w, "could not deliver the answer");
    char **lines = bot_lines(w);
    const char *line = line_with(lines, "could not deliver the answer");
    assert_contains(line, "status 401");
    assert_contains(line, "LINE refused LINE_CHANNEL_ACCESS_TOKEN; `linebot doctor` checks it");
    assert_null(line_with(lines, "revoked-token-0123456789"));
    free_lines(lines);
    world_finish(w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        E2E_TEST(test_text_lines),
        E2E_TEST(test_json_lines),
        E2E_TEST(test_default_off_a_terminal_is_json),
        E2E_TEST(test_bad_format_stops_the_start),
        E2E_TEST(test_debug_logs_the_texts),
        E2E_TEST(test_info_logs_no_text),
        E2E_TEST(test_apology_is_logged_as_one),
        E2E_TEST(test_refused_token_names_the_setting),
    };
    return E2E_RUN(tests);
}
