/* test_personas.c - personas from inside the chat (issue 11) and the group
 * quote, with the real binary, on SQLite and on PostgreSQL.
 *
 * LINEBOT_PERSONAS names two presets. The oracles are what the fakes
 * received: the system message the fake LLM got (the persona's text in it,
 * the built-in rules kept or replaced by LLM_SYSTEM_PROMPT), the quickReply
 * LINE got with the /persona answer (checked against LINE's limits by the
 * fake LINE, which answers 400 as LINE does), the texts users saw, and the
 * quoteToken on each message the bot sent. A tap is a postback webhook
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
#define ADMIN "Ue2eadmin0000000000000000000000001"
#define GROUP "Ce2egroup0000000000000000000000001"
#define ROOM "Re2eroom00000000000000000000000001"

#define PIRATE "Talk like a pirate, matey."
#define TEACHER "Explain like a patient teacher."
#define CUSTOM "You are Ken, who loves cats."
/* A sentence of the built-in rules (core/chat.c), to tell that they stayed. */
#define BUILTIN_RULE "Always answer in the language the user writes in."

static const char presets_setting[] =
    "LINEBOT_PERSONAS=[{\"name\":\"pirate\",\"label\":\"Pirate\",\"prompt\":\"" PIRATE "\"},"
    "{\"name\":\"teacher\",\"prompt\":\"" TEACHER "\"}]";

/* ---- PostgreSQL scratch schemas ---- */

static const char *pg_url; /* LINEBOT_TEST_PG_URL; NULL: PostgreSQL cases skip */

/* ---- events and what the fakes received ---- */

/* The texts of the last answer to `chat` (its last delivery), joined (malloc'd). */
static char *last_answer(struct world *w, const char *chat)
{
    size_t last = (size_t)-1;
    for (size_t i = 0; i < fake_line_message_count(w->line); i++) {
        struct fake_line_message m;
        assert_true(fake_line_message_at(w->line, i, &m));
        if (m.chat_id && strcmp(m.chat_id, chat) == 0)
            last = m.delivery;
    }
    char *out = e2e_strdup("");
    for (size_t i = 0; i < fake_line_message_count(w->line); i++) {
        struct fake_line_message m;
        assert_true(fake_line_message_at(w->line, i, &m));
        if (m.delivery == last) {
            char *joined = e2e_printf("%s%s", out, m.text);
            free(out);
            out = joined;
        }
    }
    return out;
}

/* `user` says `text` in a 1:1 chat and gets answer number `n`; returns its text (malloc'd). */
static char *say(struct world *w, const char *user, const char *text, size_t n)
{
    send_text(w, user, text);
    assert_answers(w, user, n);
    return last_answer(w, user);
}

/* The system message of the LLM's request `i` (malloc'd), checked to be the first. */
static char *system_of(struct world *w, size_t i)
{
    assert_true(fake_llm_wait_requests(w->llm, i + 1, e2e_ms(E2E_WAIT_MS)));
    char *role = fake_llm_request_role(w->llm, i, 0);
    assert_non_null(role);
    assert_string_equal(role, "system");
    free(role);
    return fake_llm_request_content(w->llm, i, 0);
}

/* `linebot admin --json ARGS...` on the bot's store: its JSON (new reference). */
static json_t *admin_json(struct world *w, const char *a1, const char *a2)
{
    char *out = NULL, *err = NULL;
    int rc = bot_run(w, (const char *[]){"admin", "--json", a1, a2, NULL}, NULL, &out, &err);
    if (rc != 0)
        fail_msg("linebot admin %s %s: exit %d: %s", a1, a2 ? a2 : "", rc, err);
    json_t *j = json_loads(out, 0, NULL);
    if (!j)
        fail_msg("linebot admin %s: not JSON: %s", a1, out);
    free(out);
    free(err);
    return j;
}

/* The "persona" of `chat` in `linebot admin chats` (a copy; NULL for null). */
static char *admin_persona(struct world *w, const char *chat)
{
    json_t *chats = admin_json(w, "chats", NULL);
    size_t i;
    json_t *row;
    char *persona = NULL;
    bool found = false;
    json_array_foreach(chats, i, row) {
        if (strcmp(json_string_value(json_object_get(row, "chat_id")), chat) == 0) {
            found = true;
            const char *p = json_string_value(json_object_get(row, "persona"));
            persona = p ? e2e_strdup(p) : NULL;
        }
    }
    json_decref(chats);
    if (!found)
        fail_msg("linebot admin chats does not list %s", chat);
    return persona;
}

/* ---- the cases ---- */

/* Presets by command and by tap, a custom one (and one over the limit),
 * reset; each reaches the model's system message after the built-in rules;
 * a restart keeps the chat's persona. `db` (may be NULL) selects the store. */
static void presets_set_reset(void **state, const char *db)
{
    /* More messages in a minute than the default rate limit lets through. */
    const char *const overrides[] = {presets_setting, "LINEBOT_RATE_LIMIT=0", db, NULL};
    struct world *w = world_new(state, overrides);
    bot_start(w, NULL);

    char *text = say(w, USER_A, "/persona", 1);
    assert_contains(text, "No persona is set");
    assert_contains(text, "pirate (Pirate)");
    assert_contains(text, "teacher");
    free(text);
    assert_int_equal(fake_llm_request_count(w->llm), 0); /* a command, not a question */
    json_t *body;
    json_t *items = world_last_quick_reply(w, &body);
    assert_int_equal(json_array_size(items), 2);
    char *pirate = quick_reply_data(items, "Pirate");
    char *teacher = quick_reply_data(items, "teacher");
    json_decref(body);

    /* The tap. */
    send_event(w, ev_postback(w, &(struct ev){.user = USER_A}, pirate));
    assert_answers(w, USER_A, 2);
    text = last_answer(w, USER_A);
    assert_string_equal(text, "OK, my persona in this chat is now pirate (Pirate).");
    free(text);
    free(say(w, USER_A, "hello?", 3));
    char *sys = system_of(w, 0);
    assert_contains(sys, BUILTIN_RULE);
    assert_contains(sys, PIRATE);
    assert_true(strstr(sys, BUILTIN_RULE) < strstr(sys, PIRATE));
    free(sys);
    /* Another chat keeps the default. */
    free(say(w, USER_B, "and me?", 1));
    sys = system_of(w, 1);
    assert_not_contains(sys, PIRATE);
    assert_contains(sys, BUILTIN_RULE);
    free(sys);

    /* Typed, in any case. */
    text = say(w, USER_A, "/persona Teacher", 4);
    assert_string_equal(text, "OK, my persona in this chat is now teacher.");
    free(text);
    free(say(w, USER_A, "what is rain?", 5));
    sys = system_of(w, 2);
    assert_contains(sys, TEACHER);
    assert_not_contains(sys, PIRATE);
    free(sys);

    /* A persona of one's own; one over the limit is refused with the limit
     * and leaves the persona as it was. */
    text = say(w, USER_A, "/persona set " CUSTOM, 6);
    assert_string_equal(text, "OK, I'll use your persona in this chat.");
    free(text);
    char *long_one = calloc(1, 1100);
    strcpy(long_one, "/persona set ");
    memset(long_one + strlen(long_one), 'x', 1001);
    text = say(w, USER_A, long_one, 7);
    assert_string_equal(text, "Sorry, a persona can be at most 1000 characters.");
    free(text);
    free(long_one);
    free(say(w, USER_A, "who are you?", 8));
    sys = system_of(w, 3);
    assert_contains(sys, CUSTOM);
    assert_contains(sys, BUILTIN_RULE);
    assert_not_contains(sys, TEACHER);
    free(sys);

    /* After a restart the persona is kept. */
    bot_restart(w, NULL);
    free(say(w, USER_A, "still Ken?", 9));
    sys = system_of(w, 4);
    assert_contains(sys, CUSTOM);
    free(sys);
    text = say(w, USER_A, "/persona", 10);
    assert_contains(text, "Current persona (your own): " CUSTOM);
    free(text);
    /* The operator sees it in `linebot admin chats`. */
    text = admin_persona(w, USER_A);
    assert_non_null(text);
    assert_string_equal(text, "(custom)");
    free(text);
    assert_null(admin_persona(w, USER_B));

    /* An unknown name gets the list; a stale button is ignored. */
    text = say(w, USER_A, "/persona chef", 11);
    assert_contains(text, "I don't know the persona \"chef\".");
    assert_contains(text, "- teacher");
    free(text);
    size_t line_before = fake_line_request_total(w->line);
    send_event(w, ev_postback(w, &(struct ev){.user = USER_A}, "v1|p|chef"));
    world_quiet(w);
    assert_int_equal(fake_line_request_total(w->line), line_before);

    /* Reset: the default again, the system prompt alone. */
    text = say(w, USER_A, "/persona reset", 12);
    assert_string_equal(text, "OK, back to my default persona.");
    free(text);
    free(say(w, USER_A, "and now?", 13));
    sys = system_of(w, 5);
    assert_not_contains(sys, CUSTOM);
    assert_not_contains(sys, "persona");
    assert_contains(sys, BUILTIN_RULE);
    free(sys);
    /* The old teacher button still picks. */
    send_event(w, ev_postback(w, &(struct ev){.user = USER_A}, teacher));
    assert_answers(w, USER_A, 14);
    free(say(w, USER_A, "last one", 15));
    sys = system_of(w, 6);
    assert_contains(sys, TEACHER);
    free(sys);
    text = admin_persona(w, USER_A);
    assert_string_equal(text, "teacher");
    free(text);
    /* `linebot admin forget` drops it with the rest of the chat. */
    json_t *forgot = admin_json(w, "forget", USER_A);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(forgot, "removed"), "personas")), 1);
    json_decref(forgot);
    free(say(w, USER_A, "who am I talking to?", 16));
    sys = system_of(w, 7);
    assert_not_contains(sys, TEACHER);
    free(sys);

    /* /help names the command. */
    text = say(w, USER_A, "/help", 17);
    assert_contains(text, "/persona - ");
    free(text);
    free(pirate);
    free(teacher);
    world_finish(w);
}

static void test_personas_sqlite(void **state) { presets_set_reset(state, NULL); }

static void test_personas_postgres(void **state) { pg_scratch_run(state, "personas", presets_set_reset); }

/* On PostgreSQL the persona is shared: a second instance on the same schema
 * uses the persona the first one stored. */
static void test_shared_between_instances(void **state)
{
    if (!pg_url)
        skip();
    char schema[96];
    char *db = pg_scratch_db(pg_url, "personas", schema, sizeof schema);
    const char *const overrides[] = {presets_setting, db, NULL};
    struct world *w = world_new(state, overrides);
    bot_start(w, NULL);
    free(say(w, USER_A, "/persona pirate", 1));
    world_finish(w);

    w = world_new(state, overrides);
    bot_start(w, NULL);
    free(say(w, USER_A, "ahoy?", 1));
    char *sys = system_of(w, 0);
    assert_contains(sys, PIRATE);
    free(sys);
    world_finish(w);
    pg_scratch_drop(pg_url, schema);
    free(db);
}

/* LLM_SYSTEM_PROMPT replaces the built-in rules; the persona is still appended. */
static void test_with_operator_prompt(void **state)
{
    const char *const overrides[] = {presets_setting, "LLM_SYSTEM_PROMPT=You only talk about trains.", NULL};
    struct world *w = world_start(state, overrides);
    free(say(w, USER_A, "/persona pirate", 1));
    free(say(w, USER_A, "hi", 2));
    char *sys = system_of(w, 0);
    assert_true(strncmp(sys, "You only talk about trains.", 27) == 0);
    assert_not_contains(sys, BUILTIN_RULE);
    assert_contains(sys, PIRATE);
    assert_string_equal(sys + strlen(sys) - strlen(PIRATE), PIRATE);
    free(sys);
    world_finish(w);
}

/* In a group with LINEBOT_ADMINS, a member who is not an admin can look but
 * not change, tapped or typed; the admin's tap changes the whole group. */
static void group_non_admin_refused(void **state, const char *db)
{
    const char *const overrides[] = {presets_setting, "LINEBOT_ADMINS=" ADMIN, "LINEBOT_TRIGGER=bot", db, NULL};
    struct world *w = world_start(state, overrides);

    send_event(w, ev_postback(w, &(struct ev){.user = USER_A, .group = GROUP}, "v1|p|pirate"));
    assert_answers(w, GROUP, 1);
    char *text = last_answer(w, GROUP);
    assert_string_equal(text, "Sorry, only the group's admins can change the persona here.");
    free(text);
    send_event(w, ev_message(w, &(struct ev){.user = USER_A, .group = GROUP, .text = "bot /persona set Be rude."}));
    assert_answers(w, GROUP, 2);
    text = last_answer(w, GROUP);
    assert_contains(text, "only the group's admins");
    free(text);
    send_event(w, ev_message(w, &(struct ev){.user = USER_A, .group = GROUP, .text = "bot /persona"}));
    assert_answers(w, GROUP, 3);
    text = last_answer(w, GROUP);
    assert_contains(text, "No persona is set");
    free(text);
    send_event(w, ev_message(w, &(struct ev){.user = USER_A, .group = GROUP, .text = "bot hello"}));
    assert_answers(w, GROUP, 4);
    char *sys = system_of(w, 0);
    assert_not_contains(sys, PIRATE);
    assert_not_contains(sys, "Be rude.");
    free(sys);

    send_event(w, ev_postback(w, &(struct ev){.user = ADMIN, .group = GROUP}, "v1|p|pirate"));
    assert_answers(w, GROUP, 5);
    text = last_answer(w, GROUP);
    assert_contains(text, "now pirate");
    free(text);
    send_event(w, ev_message(w, &(struct ev){.user = USER_A, .group = GROUP, .text = "bot hello again"}));
    assert_answers(w, GROUP, 6);
    sys = system_of(w, 1);
    assert_contains(sys, PIRATE);
    free(sys);
    world_finish(w);
}

static void test_group_non_admin_refused_sqlite(void **state) { group_non_admin_refused(state, NULL); }
static void test_group_non_admin_refused_postgres(void **state)
{
    pg_scratch_run(state, "personas", group_non_admin_refused);
}

/* The messages sent to `chat` by `api` ("reply" or "push"): each quotes
 * nothing but the first, which quotes `quote`. Returns how many there were. */
static size_t assert_first_quoted(struct world *w, const char *chat, const char *api, const char *quote)
{
    size_t n = 0;
    for (size_t i = 0; i < fake_line_message_count(w->line); i++) {
        struct fake_line_message m;
        assert_true(fake_line_message_at(w->line, i, &m));
        if (!m.chat_id || strcmp(m.chat_id, chat) != 0 || strcmp(m.api, api) != 0)
            continue;
        if (n++ == 0 && quote) {
            if (!m.quote_token || strcmp(m.quote_token, quote) != 0)
                fail_msg("the first %s message to %s quotes %s, not %s", api, chat,
                         m.quote_token ? m.quote_token : "nothing", quote);
        } else if (m.quote_token) {
            fail_msg("message %zu by %s to %s quotes %s", n, api, chat, m.quote_token);
        }
    }
    return n;
}

/* In groups and rooms the first message of an answer quotes the question
 * with the incoming message's quoteToken, by reply and by push alike; the
 * rest do not, and a 1:1 chat gets no quote at all. */
static void group_quote_first_message_only(void **state, const char *db)
{
    const char *const overrides[] = {"LINEBOT_TRIGGER=bot", "LINEBOT_PUSH_FALLBACK=1", db, NULL};
    struct world *w = world_start(state, overrides);
    /* Two paragraphs over LINE's 5000 characters together: two messages. */
    char *answer = calloc(1, 6100);
    memset(answer, 'a', 3000);
    strcat(answer, "\n\n");
    memset(answer + strlen(answer), 'b', 3000);
    fake_llm_set_fixed_answer(w->llm, answer);
    free(answer);

    json_t *ev = send_event(w, ev_message(w, &(struct ev){.user = USER_A, .group = GROUP, .text = "bot tell me"}));
    assert_answers(w, GROUP, 1);
    assert_non_null(ev_get(ev, "message.quoteToken"));
    assert_int_equal(assert_first_quoted(w, GROUP, "reply", ev_get(ev, "message.quoteToken")), 2);

    /* A room, and its answer pushed (LINE refused the reply token). */
    json_t *room_ev = send_event(
        w, ev_message(w, &(struct ev){.user = USER_A, .room = ROOM, .text = "bot and here?", .token_not_issued = true}));
    assert_answers(w, ROOM, 1);
    assert_int_equal(assert_first_quoted(w, ROOM, "push", ev_get(room_ev, "message.quoteToken")), 2);

    send_text(w, USER_B, "tell me too");
    assert_answers(w, USER_B, 1);
    assert_int_equal(assert_first_quoted(w, USER_B, "reply", NULL), 2);
    world_finish(w);
}

static void test_group_quote_first_message_only_sqlite(void **state) { group_quote_first_message_only(state, NULL); }
static void test_group_quote_first_message_only_postgres(void **state)
{
    pg_scratch_run(state, "personas", group_quote_first_message_only);
}

/* A bad LINEBOT_PERSONAS stops start-up with one line naming the item and field. */
static void test_bad_personas_stop_start(void **state)
{
    struct world *w = world_new(state, NULL);
    const char *const bad[] = {"LINEBOT_PERSONAS=[{\"name\":\"chef\",\"prompt\":\"Cook.\"},{\"name\":\"reset\","
                               "\"prompt\":\"x\"}]",
                               NULL};
    bot_spawn(w, bad);
    int status = bot_wait_exit(w, e2e_ms(E2E_WAIT_MS));
    assert_true(status != -1 && status != 0);
    char *log = bot_log(w);
    assert_contains(log, "LINEBOT_PERSONAS item 2 (\"reset\") field name");
    free(log);
    world_finish(w);
}

int main(void)
{
    pg_url = pg_scratch_url();
    if (!pg_url)
        fprintf(stderr, "[  SKIPPED ] PostgreSQL cases: LINEBOT_TEST_PG_URL is not set\n");
    const struct CMUnitTest tests[] = {
        E2E_TEST(test_personas_sqlite),
        E2E_TEST(test_personas_postgres),
        E2E_TEST(test_shared_between_instances),
        E2E_TEST(test_with_operator_prompt),
        E2E_TEST(test_group_non_admin_refused_sqlite),
        E2E_TEST(test_group_non_admin_refused_postgres),
        E2E_TEST(test_group_quote_first_message_only_sqlite),
        E2E_TEST(test_group_quote_first_message_only_postgres),
        E2E_TEST(test_bad_personas_stop_start),
    };
    return E2E_RUN(tests);
}
