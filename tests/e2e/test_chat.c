/* test_chat.c - one-to-one conversations with the real binary.
 *
 * What the user sees (Markdown turned into plain text, <think> removed), what
 * the model is sent (system prompt first, the history of this chat only),
 * the /reset and /help commands, events that get no answer (standby,
 * stickers), media and follow greetings, the rate limit, and privacy:
 * unsend, edit and unfollow change what the model sees next. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

#define USER_A "Ue2e0000000000000000000000000000a"
#define USER_B "Ue2e0000000000000000000000000000b"

static char *only_text(struct world *w, const char *chat)
{
    return world_texts(w, chat);
}

static void test_markdown_is_sent_as_plain_text(void **state)
{
    struct world *w = world_start(state, NULL);
    fake_llm_set_fixed_answer(w->llm, "# Title\n\nSome **bold** and *italic* text.\n\n"
                                      "- first item\n- second item\n\n"
                                      "See [the docs](https://example.com/docs).");
    send_text(w, USER_A, "format please");
    assert_answers(w, USER_A, 1);
    char *t = only_text(w, USER_A);
    assert_contains(t, "Title");
    assert_contains(t, "Some bold and italic text.");
    assert_contains(t, "first item");
    assert_contains(t, "second item");
    assert_contains(t, "the docs (https://example.com/docs)");
    assert_not_contains(t, "**");
    assert_not_contains(t, "# ");
    assert_not_contains(t, "*italic*");
    assert_not_contains(t, "[the docs]");
    assert_not_contains(t, "- first");
    free(t);
    world_finish(w);
}

static void test_think_block_is_removed(void **state)
{
    struct world *w = world_start(state, NULL);
    fake_llm_set_fixed_answer(w->llm, "<think>x</think>Answer");
    send_text(w, USER_A, "think first");
    assert_answers(w, USER_A, 1);
    char *t = only_text(w, USER_A);
    assert_string_equal(t, "Answer");
    free(t);
    world_finish(w);
}

/* messages[j] of LLM request i has this role and content. */
static void assert_turn(struct world *w, size_t i, size_t j, const char *role, const char *content)
{
    char *r = fake_llm_request_role(w->llm, i, j);
    char *c = fake_llm_request_content(w->llm, i, j);
    if (!r || strcmp(r, role) != 0 || !c || strcmp(c, content) != 0) {
        char *tr = fake_llm_request_transcript(w->llm, i);
        fail_msg("request %zu message %zu: want %s \"%s\", got %s \"%s\"; transcript:\n%s", i, j,
                 role, content, r ? r : "(none)", c ? c : "(none)", tr);
    }
    free(r);
    free(c);
}

static void assert_message_count(struct world *w, size_t i, size_t n)
{
    size_t got = fake_llm_request_message_count(w->llm, i);
    if (got != n) {
        char *tr = fake_llm_request_transcript(w->llm, i);
        fail_msg("request %zu: want %zu messages, got %zu; transcript:\n%s", i, n, got, tr);
    }
}

static void test_history_sent_with_the_next_question(void **state)
{
    struct world *w = world_start(state, (const char *[]){
        "LLM_SYSTEM_PROMPT=You are the e2e test bot. Answer briefly.", NULL});
    send_text(w, USER_A, "my name is Kim");
    assert_answers(w, USER_A, 1);
    send_text(w, USER_A, "what is my name?");
    assert_answers(w, USER_A, 2);
    assert_int_equal(fake_llm_request_count(w->llm), 2);

    assert_message_count(w, 0, 2);
    assert_turn(w, 0, 0, "system", "You are the e2e test bot. Answer briefly.");
    assert_turn(w, 0, 1, "user", "my name is Kim");

    assert_message_count(w, 1, 4);
    assert_turn(w, 1, 0, "system", "You are the e2e test bot. Answer briefly.");
    assert_turn(w, 1, 1, "user", "my name is Kim");
    assert_turn(w, 1, 2, "assistant", "echo: my name is Kim");
    assert_turn(w, 1, 3, "user", "what is my name?");

    /* Another chat does not see it. */
    send_text(w, USER_B, "who am I?");
    assert_answers(w, USER_B, 1);
    assert_message_count(w, 2, 2);
    assert_turn(w, 2, 1, "user", "who am I?");
    char *tr = fake_llm_request_transcript(w->llm, 2);
    assert_not_contains(tr, "Kim");
    free(tr);
    world_finish(w);
}

static void test_default_system_prompt_comes_first(void **state)
{
    struct world *w = world_start(state, NULL);
    send_text(w, USER_A, "hi");
    assert_answers(w, USER_A, 1);
    char *r = fake_llm_request_role(w->llm, 0, 0);
    char *c = fake_llm_request_content(w->llm, 0, 0);
    assert_string_equal(r, "system");
    assert_non_null(c);
    assert_true(strlen(c) > 10);
    free(r);
    free(c);
    world_finish(w);
}

static void test_reset_clears_history_without_the_model(void **state)
{
    struct world *w = world_start(state, NULL);
    send_text(w, USER_A, "remember the number 4711");
    assert_answers(w, USER_A, 1);
    json_t *reset = send_text(w, USER_A, "/reset");
    assert_answers(w, USER_A, 2);
    assert_int_equal(fake_llm_request_count(w->llm), 1);
    struct fake_line_message m;
    assert_true(fake_line_message_at(w->line, 1, &m));
    assert_string_equal(m.api, "reply");
    assert_string_equal(m.reply_token, ev_get(reset, "replyToken"));
    assert_true(strlen(m.text) > 0);

    send_text(w, USER_A, "what was the number?");
    assert_answers(w, USER_A, 3);
    assert_int_equal(fake_llm_request_count(w->llm), 2);
    assert_message_count(w, 1, 2);
    assert_turn(w, 1, 1, "user", "what was the number?");
    char *tr = fake_llm_request_transcript(w->llm, 1);
    assert_not_contains(tr, "4711");
    assert_not_contains(tr, "/reset");
    free(tr);
    world_finish(w);
}

static void test_help_lists_commands_without_the_model(void **state)
{
    struct world *w = world_start(state, NULL);
    json_t *ev = send_text(w, USER_A, "/help");
    assert_answers(w, USER_A, 1);
    assert_int_equal(fake_llm_request_count(w->llm), 0);
    struct fake_line_message m;
    assert_true(fake_line_message_at(w->line, 0, &m));
    assert_string_equal(m.reply_token, ev_get(ev, "replyToken"));
    assert_contains(m.text, "/reset");
    assert_contains(m.text, "/help");
    /* /help is not part of the conversation. */
    send_text(w, USER_A, "hello");
    assert_answers(w, USER_A, 2);
    char *tr = fake_llm_request_transcript(w->llm, 0);
    assert_not_contains(tr, "/help");
    free(tr);
    world_finish(w);
}

static void test_standby_events_not_answered(void **state)
{
    struct world *w = world_start(state, (const char *[]){"LINEBOT_PUSH_FALLBACK=1", NULL});
    send_event(w, ev_message(w, &(struct ev){.user = USER_A, .text = "hello", .standby = true}));
    world_quiet(w);
    assert_untouched(w, 0, 0);
    world_finish(w);
}

/* A sticker without keywords or text says nothing to answer (one with them
 * is answered: test_images.c). */
static void test_stickers_ignored(void **state)
{
    struct world *w = world_start(state, NULL);
    json_t *ev = ev_message(w, &(struct ev){.user = USER_A, .message_type = "sticker"});
    json_object_del(json_object_get(ev, "message"), "keywords");
    send_event(w, ev);
    world_quiet(w);
    assert_int_equal(fake_llm_request_count(w->llm), 0);
    assert_int_equal(fake_line_message_count(w->line), 0);
    assert_int_equal(fake_line_request_count(w->line, "POST", "/v2/bot/message/"), 0);
    world_finish(w);
}

static void test_image_gets_the_media_text(void **state)
{
    struct world *w = world_start(state, NULL);
    json_t *ev = send_event(w, ev_message(w, &(struct ev){.user = USER_A, .message_type = "image"}));
    assert_answers(w, USER_A, 1);
    assert_int_equal(fake_llm_request_count(w->llm), 0);
    struct fake_line_message m;
    assert_true(fake_line_message_at(w->line, 0, &m));
    assert_string_equal(m.api, "reply");
    assert_string_equal(m.reply_token, ev_get(ev, "replyToken"));
    assert_true(e2e_contains_ci(m.text, "I can only read text for now"));
    world_finish(w);
}

static void test_image_silent_when_media_text_empty(void **state)
{
    struct world *w = world_start(state, (const char *[]){"LINEBOT_MEDIA_TEXT=", NULL});
    send_event(w, ev_message(w, &(struct ev){.user = USER_A, .message_type = "image"}));
    send_event(w, ev_message(w, &(struct ev){.user = USER_A, .message_type = "audio"}));
    world_quiet(w);
    assert_int_equal(fake_llm_request_count(w->llm), 0);
    assert_int_equal(fake_line_message_count(w->line), 0);
    world_finish(w);
}

static void test_follow_gets_the_greeting(void **state)
{
    struct world *w = world_start(state, (const char *[]){
        "LINEBOT_GREETING=Welcome to the e2e bot!", NULL});
    json_t *ev = send_event(w, ev_follow(w, &(struct ev){.user = USER_A}));
    assert_answers(w, USER_A, 1);
    struct fake_line_message m;
    assert_true(fake_line_message_at(w->line, 0, &m));
    assert_string_equal(m.api, "reply");
    assert_string_equal(m.reply_token, ev_get(ev, "replyToken"));
    assert_string_equal(m.text, "Welcome to the e2e bot!");
    assert_int_equal(fake_llm_request_count(w->llm), 0);
    world_finish(w);
}

static void test_follow_silent_without_greeting(void **state)
{
    struct world *w = world_start(state, NULL);
    send_event(w, ev_follow(w, &(struct ev){.user = USER_A}));
    world_quiet(w);
    assert_int_equal(fake_line_message_count(w->line), 0);
    assert_int_equal(fake_llm_request_count(w->llm), 0);
    bot_stop(w);
    bot_start(w, (const char *[]){"LINEBOT_GREETING=", NULL});
    send_event(w, ev_follow(w, &(struct ev){.user = USER_B}));
    world_quiet(w);
    assert_int_equal(fake_line_message_count(w->line), 0);
    world_finish(w);
}

static void test_rate_limit(void **state)
{
    struct world *w = world_start(state, (const char *[]){
        "LINEBOT_RATE_LIMIT=2", "LINEBOT_SLOW_DOWN_TEXT=E2E slow down please", NULL});
    json_t *ev[4];
    for (int i = 0; i < 3; i++) {
        char text[32];
        snprintf(text, sizeof text, "message %d", i + 1);
        ev[i] = send_text(w, USER_A, text);
        assert_answers(w, USER_A, (size_t)i + 1);
    }
    ev[3] = send_text(w, USER_A, "message 4");
    world_quiet(w);
    assert_int_equal(fake_line_delivery_count(w->line, USER_A), 3);
    assert_int_equal(fake_llm_request_count(w->llm), 2);
    const char *want[] = {"echo: message 1", "echo: message 2", "E2E slow down please"};
    for (size_t i = 0; i < 3; i++) {
        struct fake_line_message m;
        assert_true(fake_line_message_at(w->line, i, &m));
        assert_string_equal(m.text, want[i]);
        assert_string_equal(m.reply_token, ev_get(ev[i], "replyToken"));
    }
    /* Other users are not limited by USER_A. */
    send_text(w, USER_B, "I am new");
    assert_answers(w, USER_B, 1);
    world_finish(w);
}

static void test_unsend_removes_message_from_history(void **state)
{
    struct world *w = world_start(state, NULL);
    fake_llm_set_fixed_answer(w->llm, "Noted.");
    json_t *a = send_text(w, USER_A, "my password is swordfish");
    assert_answers(w, USER_A, 1);
    send_event(w, ev_unsend(w, &(struct ev){.user = USER_A, .message_id = ev_get(a, "message.id")}));
    world_quiet(w);
    send_text(w, USER_A, "what did I tell you?");
    assert_answers(w, USER_A, 2);
    assert_int_equal(fake_llm_request_count(w->llm), 2);
    char *tr = fake_llm_request_transcript(w->llm, 1);
    assert_not_contains(tr, "swordfish");
    assert_contains(tr, "what did I tell you?");
    free(tr);
    world_finish(w);
}

static void test_edit_replaces_text_in_history(void **state)
{
    struct world *w = world_start(state, NULL);
    fake_llm_set_fixed_answer(w->llm, "Noted.");
    json_t *a = send_text(w, USER_A, "my favourite colour is blue");
    assert_answers(w, USER_A, 1);
    send_event(w, ev_edited(w, &(struct ev){.user = USER_A, .message_id = ev_get(a, "message.id"),
                                            .text = "my favourite colour is green"}));
    world_quiet(w);
    /* An edit is not a new question. */
    assert_int_equal(fake_llm_request_count(w->llm), 1);
    assert_int_equal(fake_line_delivery_count(w->line, USER_A), 1);
    send_text(w, USER_A, "what is my favourite colour?");
    assert_answers(w, USER_A, 2);
    char *tr = fake_llm_request_transcript(w->llm, 1);
    assert_contains(tr, "my favourite colour is green");
    assert_not_contains(tr, "blue");
    free(tr);
    world_finish(w);
}

static void test_unfollow_forgets_the_user(void **state)
{
    struct world *w = world_start(state, NULL);
    send_text(w, USER_A, "I live in Osaka");
    assert_answers(w, USER_A, 1);
    send_event(w, ev_unfollow(w, &(struct ev){.user = USER_A}));
    world_quiet(w);
    send_event(w, ev_follow(w, &(struct ev){.user = USER_A}));
    world_quiet(w);
    send_text(w, USER_A, "where do I live?");
    assert_answers(w, USER_A, 2);
    assert_message_count(w, 1, 2);
    assert_turn(w, 1, 1, "user", "where do I live?");
    world_finish(w);
}

static void test_unicode_and_json_escapes_round_trip(void **state)
{
    struct world *w = world_start(state, NULL);
    const char *text = "\xE3\x81\x93\xE3\x82\x93\xE3\x81\xAB\xE3\x81\xA1\xE3\x81\xAF "
                       "\xF0\x9F\x98\x80 \"quoted\" back\\slash\tand a tab";
    send_text(w, USER_A, text);
    assert_answers(w, USER_A, 1);
    char *last = fake_llm_request_last_user(w->llm, 0);
    assert_string_equal(last, text);
    free(last);
    char *t = world_texts(w, USER_A);
    char *want = e2e_printf("echo: %s", text);
    assert_string_equal(t, want);
    free(want);
    free(t);
    world_finish(w);
}

static void test_burst_in_one_chat_each_answered_with_its_own_token(void **state)
{
    enum { N = 5 };
    struct world *w = world_start(state, NULL);
    fake_llm_set_delay(w->llm, 200);
    json_t *ev[N];
    for (int i = 0; i < N; i++) {
        char text[32];
        snprintf(text, sizeof text, "burst %d", i);
        ev[i] = send_text(w, USER_A, text);
    }
    assert_answers(w, USER_A, N);
    for (size_t i = 0; i < fake_line_message_count(w->line); i++) {
        struct fake_line_message m;
        fake_line_message_at(w->line, i, &m);
        int k = -1;
        for (int j = 0; j < N; j++)
            if (strcmp(m.reply_token, ev_get(ev[j], "replyToken")) == 0)
                k = j;
        assert_true(k >= 0);
        char want[32];
        snprintf(want, sizeof want, "echo: burst %d", k);
        assert_string_equal(m.text, want);
    }
    world_finish(w);
}

static void test_history_turns_limit(void **state)
{
    struct world *w = world_start(state, (const char *[]){"LINEBOT_HISTORY_TURNS=2", NULL});
    const char *msgs[] = {"alpha one", "bravo two", "charlie three", "delta four"};
    for (size_t i = 0; i < 4; i++) {
        send_text(w, USER_A, msgs[i]);
        assert_answers(w, USER_A, i + 1);
    }
    char *tr = fake_llm_request_transcript(w->llm, 3);
    assert_not_contains(tr, "alpha one");
    assert_contains(tr, "charlie three");
    assert_contains(tr, "delta four");
    free(tr);
    world_finish(w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        E2E_TEST(test_markdown_is_sent_as_plain_text),
        E2E_TEST(test_think_block_is_removed),
        E2E_TEST(test_history_sent_with_the_next_question),
        E2E_TEST(test_default_system_prompt_comes_first),
        E2E_TEST(test_reset_clears_history_without_the_model),
        E2E_TEST(test_help_lists_commands_without_the_model),
        E2E_TEST(test_standby_events_not_answered),
        E2E_TEST(test_stickers_ignored),
        E2E_TEST(test_image_gets_the_media_text),
        E2E_TEST(test_image_silent_when_media_text_empty),
        E2E_TEST(test_follow_gets_the_greeting),
        E2E_TEST(test_follow_silent_without_greeting),
        E2E_TEST(test_rate_limit),
        E2E_TEST(test_unsend_removes_message_from_history),
        E2E_TEST(test_edit_replaces_text_in_history),
        E2E_TEST(test_unfollow_forgets_the_user),
        E2E_TEST(test_unicode_and_json_escapes_round_trip),
        E2E_TEST(test_burst_in_one_chat_each_answered_with_its_own_token),
        E2E_TEST(test_history_turns_limit),
    };
    return E2E_RUN(tests);
}
