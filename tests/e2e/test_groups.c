/* test_groups.c - groups and rooms with the real binary.
 *
 * In a group the bot answers only when addressed: a mention of the bot
 * (isSelf), the trigger word, or a reply quoting one of its own messages.
 * The model sees the question without the mention, prefixed with the
 * speaker's display name (fetched from LINE's member profile), and, with
 * LINEBOT_GROUP_CONTEXT, recent un-addressed messages as context. Mention
 * offsets are UTF-16 units, as LINE sends them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

#define GROUP "Ce2e000000000000000000000000000g1"
#define ROOM "Re2e000000000000000000000000000r1"
#define ALICE "Ue2e00000000000000000000000alice"
#define BOB "Ue2e000000000000000000000000bob0"
#define BOT_ID "Ue2ebot00000000000000000000000000"

static void names(struct world *w)
{
    fake_line_set_name(w->line, GROUP, ALICE, "Alice");
    fake_line_set_name(w->line, GROUP, BOB, "Bob");
    fake_line_set_name(w->line, ROOM, ALICE, "Alice");
}

/* A group text from `user`; when `at` is non-NULL, it is a mention of the bot. */
static json_t *group_text(struct world *w, const char *chat, const char *user, const char *text,
                          const char *at)
{
    struct ev o = {.user = user, .text = text};
    if (chat[0] == 'R')
        o.room = chat;
    else
        o.group = chat;
    if (at) {
        o.mentions[0] = mention_of(text, at, true);
        o.mentions[0].user_id = BOT_ID;
        o.n_mentions = 1;
    }
    return send_event(w, ev_message(w, &o));
}

static void test_unaddressed_group_message_ignored(void **state)
{
    struct world *w = world_start(state, NULL);
    names(w);
    group_text(w, GROUP, BOB, "just chatting with friends", NULL);
    world_quiet(w);
    assert_int_equal(fake_llm_request_count(w->llm), 0);
    assert_int_equal(fake_line_message_count(w->line), 0);
    /* The bot still works in this group when addressed. */
    group_text(w, GROUP, ALICE, "@Bot are you there?", "@Bot");
    assert_answers(w, GROUP, 1);
    assert_int_equal(fake_llm_request_count(w->llm), 1);
    char *tr = fake_llm_request_transcript(w->llm, 0);
    assert_not_contains(tr, "just chatting");
    free(tr);
    world_finish(w);
}

static void test_mention_answered_without_the_mention(void **state)
{
    struct world *w = world_start(state, NULL);
    names(w);
    json_t *ev = group_text(w, GROUP, ALICE, "@Bot what is the capital of France?", "@Bot");
    assert_answers(w, GROUP, 1);
    struct fake_line_message m;
    assert_true(fake_line_message_at(w->line, 0, &m));
    assert_string_equal(m.api, "reply");
    assert_string_equal(m.reply_token, ev_get(ev, "replyToken"));
    char *last = fake_llm_request_last_user(w->llm, 0);
    assert_contains(last, "what is the capital of France?");
    assert_not_contains(last, "@Bot");
    assert_contains(last, "Alice");
    free(last);
    /* The name came from the group member profile. */
    assert_true(fake_line_request_count_status(w->line, "/v2/bot/group/" GROUP "/member/" ALICE, 200) >= 1);
    /* LINE shows the loading animation only in one-to-one chats. */
    assert_int_equal(fake_line_request_count(w->line, NULL, FAKE_LINE_LOADING_PATH), 0);
    world_finish(w);
}

static void test_mention_offsets_are_utf16(void **state)
{
    struct world *w = world_start(state, NULL);
    names(w);
    /* Two emoji (2 UTF-16 units, 4 bytes each) before the mention. */
    group_text(w, GROUP, ALICE, "\xF0\x9F\x98\x80\xF0\x9F\x8E\x89 hey @Bot how are you today?", "@Bot");
    assert_answers(w, GROUP, 1);
    char *last = fake_llm_request_last_user(w->llm, 0);
    assert_not_contains(last, "@Bot");
    assert_not_contains(last, "Bot");
    assert_contains(last, "hey");
    assert_contains(last, "how are you today?");
    free(last);
    world_finish(w);
}

static void test_at_all_and_other_mentions_ignored(void **state)
{
    struct world *w = world_start(state, NULL);
    names(w);
    const char *text = "@All good morning everyone";
    struct ev all = {.group = GROUP, .user = BOB, .text = text, .n_mentions = 1};
    all.mentions[0] = (struct mention_spec){.index = 0, .length = 4, .all = true};
    send_event(w, ev_message(w, &all));

    const char *text2 = "@Alice can you help?";
    struct ev other = {.group = GROUP, .user = BOB, .text = text2, .n_mentions = 1};
    other.mentions[0] = mention_of(text2, "@Alice", false);
    other.mentions[0].user_id = ALICE;
    send_event(w, ev_message(w, &other));
    world_quiet(w);
    assert_int_equal(fake_llm_request_count(w->llm), 0);
    assert_int_equal(fake_line_message_count(w->line), 0);
    world_finish(w);
}

static void test_trigger_word(void **state)
{
    struct world *w = world_start(state, (const char *[]){"LINEBOT_TRIGGER=bot,", NULL});
    names(w);
    group_text(w, GROUP, ALICE, "bot, hello", NULL);
    assert_answers(w, GROUP, 1);
    char *last = fake_llm_request_last_user(w->llm, 0);
    assert_contains(last, "hello");
    assert_not_contains(last, "bot,");
    free(last);
    /* Without the trigger: silence. */
    group_text(w, GROUP, BOB, "hello everyone", NULL);
    world_quiet(w);
    assert_int_equal(fake_llm_request_count(w->llm), 1);
    assert_int_equal(fake_line_delivery_count(w->line, GROUP), 1);
    world_finish(w);
}

static void test_reply_quoting_the_bot_is_answered(void **state)
{
    struct world *w = world_start(state, NULL);
    names(w);
    group_text(w, GROUP, ALICE, "@Bot tell me a fact", "@Bot");
    assert_answers(w, GROUP, 1);
    struct fake_line_message m;
    assert_true(fake_line_message_at(w->line, 0, &m));
    const char *bot_message_id = m.id;

    /* Quoting someone else's message is not addressing the bot. */
    json_t *someone = group_text(w, GROUP, BOB, "nice one", NULL);
    send_event(w, ev_message(w, &(struct ev){.group = GROUP, .user = ALICE, .text = "agreed",
                                             .quoted_message_id = ev_get(someone, "message.id")}));
    world_quiet(w);
    assert_int_equal(fake_llm_request_count(w->llm), 1);

    send_event(w, ev_message(w, &(struct ev){.group = GROUP, .user = BOB, .text = "really? why?",
                                             .quoted_message_id = bot_message_id}));
    assert_answers(w, GROUP, 2);
    assert_int_equal(fake_llm_request_count(w->llm), 2);
    char *last = fake_llm_request_last_user(w->llm, 1);
    assert_contains(last, "really? why?");
    assert_contains(last, "Bob");
    free(last);
    world_finish(w);
}

static void test_room_mention_answered_with_room_member_name(void **state)
{
    struct world *w = world_start(state, NULL);
    names(w);
    group_text(w, ROOM, ALICE, "@Bot hello room", "@Bot");
    assert_answers(w, ROOM, 1);
    char *last = fake_llm_request_last_user(w->llm, 0);
    assert_contains(last, "hello room");
    assert_contains(last, "Alice");
    assert_not_contains(last, "@Bot");
    free(last);
    assert_true(fake_line_request_count_status(w->line, "/v2/bot/room/" ROOM "/member/" ALICE, 200) >= 1);
    /* A room message without mention: silence. */
    group_text(w, ROOM, ALICE, "talking to humans", NULL);
    world_quiet(w);
    assert_int_equal(fake_llm_request_count(w->llm), 1);
    world_finish(w);
}

static void test_unknown_member_name_still_answered(void **state)
{
    struct world *w = world_start(state, NULL);
    /* No names on the fake: the member lookup answers 404. */
    group_text(w, GROUP, BOB, "@Bot anyone home?", "@Bot");
    assert_answers(w, GROUP, 1);
    char *last = fake_llm_request_last_user(w->llm, 0);
    assert_contains(last, "anyone home?");
    free(last);
    world_finish(w);
}

static void test_group_context(void **state)
{
    struct world *w = world_start(state, (const char *[]){"LINEBOT_GROUP_CONTEXT=3", NULL});
    names(w);
    group_text(w, GROUP, BOB, "I brought apples", NULL);
    group_text(w, GROUP, ALICE, "and I brought pears", NULL);
    world_quiet(w);
    assert_int_equal(fake_llm_request_count(w->llm), 0);
    group_text(w, GROUP, ALICE, "@Bot what fruit do we have?", "@Bot");
    assert_answers(w, GROUP, 1);
    assert_int_equal(fake_llm_request_count(w->llm), 1);
    char *tr = fake_llm_request_transcript(w->llm, 0);
    assert_contains(tr, "apples");
    assert_contains(tr, "pears");
    assert_contains(tr, "what fruit do we have?");
    free(tr);
    world_finish(w);
}

static void test_no_group_context_by_default(void **state)
{
    struct world *w = world_start(state, NULL);
    names(w);
    group_text(w, GROUP, BOB, "I brought apples", NULL);
    group_text(w, GROUP, ALICE, "and I brought pears", NULL);
    world_quiet(w);
    group_text(w, GROUP, ALICE, "@Bot what fruit do we have?", "@Bot");
    assert_answers(w, GROUP, 1);
    char *tr = fake_llm_request_transcript(w->llm, 0);
    assert_not_contains(tr, "apples");
    assert_not_contains(tr, "pears");
    free(tr);
    world_finish(w);
}

static void test_group_history_shared_by_the_group(void **state)
{
    struct world *w = world_start(state, NULL);
    names(w);
    group_text(w, GROUP, ALICE, "@Bot the meeting is at 3pm", "@Bot");
    assert_answers(w, GROUP, 1);
    group_text(w, GROUP, BOB, "@Bot when is the meeting?", "@Bot");
    assert_answers(w, GROUP, 2);
    char *tr = fake_llm_request_transcript(w->llm, 1);
    assert_contains(tr, "the meeting is at 3pm");
    free(tr);
    /* Alice's one-to-one chat is another conversation. */
    send_text(w, ALICE, "hi privately");
    assert_answers(w, ALICE, 1);
    tr = fake_llm_request_transcript(w->llm, 2);
    assert_not_contains(tr, "3pm");
    free(tr);
    world_finish(w);
}

static void test_join_greeting(void **state)
{
    struct world *w = world_start(state, (const char *[]){"LINEBOT_GREETING=Hello group!", NULL});
    json_t *ev = send_event(w, ev_join(w, &(struct ev){.group = GROUP}));
    assert_answers(w, GROUP, 1);
    struct fake_line_message m;
    assert_true(fake_line_message_at(w->line, 0, &m));
    assert_string_equal(m.reply_token, ev_get(ev, "replyToken"));
    assert_string_equal(m.text, "Hello group!");
    send_event(w, ev_leave(w, &(struct ev){.group = GROUP}));
    world_quiet(w);
    assert_int_equal(fake_line_message_count(w->line), 1);
    assert_int_equal(fake_llm_request_count(w->llm), 0);
    world_finish(w);
}

static void test_mention_from_member_without_user_id(void **state)
{
    struct world *w = world_start(state, NULL);
    const char *text = "@Bot hello from someone anonymous";
    struct ev o = {.group = GROUP, .no_user_id = true, .text = text, .n_mentions = 1};
    o.mentions[0] = mention_of(text, "@Bot", true);
    send_event(w, ev_message(w, &o));
    assert_answers(w, GROUP, 1);
    char *last = fake_llm_request_last_user(w->llm, 0);
    assert_contains(last, "hello from someone anonymous");
    free(last);
    assert_int_equal(fake_line_request_count(w->line, "GET", "/v2/bot/group/"), 0);
    world_finish(w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        E2E_TEST(test_unaddressed_group_message_ignored),
        E2E_TEST(test_mention_answered_without_the_mention),
        E2E_TEST(test_mention_offsets_are_utf16),
        E2E_TEST(test_at_all_and_other_mentions_ignored),
        E2E_TEST(test_trigger_word),
        E2E_TEST(test_reply_quoting_the_bot_is_answered),
        E2E_TEST(test_room_mention_answered_with_room_member_name),
        E2E_TEST(test_unknown_member_name_still_answered),
        E2E_TEST(test_group_context),
        E2E_TEST(test_no_group_context_by_default),
        E2E_TEST(test_group_history_shared_by_the_group),
        E2E_TEST(test_join_greeting),
        E2E_TEST(test_mention_from_member_without_user_id),
    };
    return E2E_RUN(tests);
}
