/* test_chat_line.c - `linebot chat`'s two halves of LINE: the JSON of
 * cli/chat_wire.c, and the stand-in of cli/chat_line.c reached the way the
 * bot reaches it (http_client, routed to its Unix socket).
 *
 * Nothing in the bot sends quick replies yet, so the e2e test cannot pick
 * one through the binary: here a reply carrying quick reply buttons goes to
 * the stand-in over the real socket, and the test checks what it prints,
 * which choices it offers, and the postback event a pick becomes. The
 * mention offsets are counted by hand (UTF-16 units), not by the bot's own
 * utf16_len. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "cli/chat_line.h"
#include "cli/chat_wire.h"
#include "core/alloc.h"
#include "io/http_client.h"

static const struct chat_wire_event group_event = {
    .destination = "Ubot",
    .user_id = "Ualice",
    .group_id = "Cgroup",
    .event_id = "01EV",
    .reply_token = "rt1",
    .message_id = "100",
    .quote_token = "q1",
    .timestamp_ms = 1700000000000,
};

static json_t *only_event(const char *body)
{
    json_t *root = json_loads(body, 0, NULL);
    assert_non_null(root);
    assert_string_equal(json_string_value(json_object_get(root, "destination")), "Ubot");
    assert_int_equal(json_array_size(json_object_get(root, "events")), 1);
    json_t *ev = json_incref(json_array_get(json_object_get(root, "events"), 0));
    json_decref(root);
    return ev;
}

static void test_group_text_mentions_the_bot(void **state)
{
    (void)state;
    /* "hi " is 3 units, "@bot" 4; U+1F600 is 2 units (a surrogate pair), 4 bytes. */
    char *body = chat_wire_text(&group_event, "hi @bot \xF0\x9F\x98\x80 @bot");
    json_t *ev = only_event(body);
    assert_string_equal(json_string_value(json_object_get(ev, "type")), "message");
    assert_string_equal(json_string_value(json_object_get(ev, "replyToken")), "rt1");
    json_t *src = json_object_get(ev, "source");
    assert_string_equal(json_string_value(json_object_get(src, "type")), "group");
    assert_string_equal(json_string_value(json_object_get(src, "groupId")), "Cgroup");
    assert_string_equal(json_string_value(json_object_get(src, "userId")), "Ualice");
    json_t *m = json_object_get(ev, "message");
    json_t *list = json_object_get(json_object_get(m, "mention"), "mentionees");
    assert_int_equal(json_array_size(list), 2);
    json_t *first = json_array_get(list, 0), *second = json_array_get(list, 1);
    assert_int_equal(json_integer_value(json_object_get(first, "index")), 3);
    assert_int_equal(json_integer_value(json_object_get(first, "length")), 4);
    assert_true(json_is_true(json_object_get(first, "isSelf")));
    assert_int_equal(json_integer_value(json_object_get(second, "index")), 11); /* 3 + 4 + 1 + 2 + 1 */
    assert_int_equal(json_integer_value(json_object_get(second, "length")), 4);
    json_decref(ev);
    free(body);
}

static void test_one_to_one_text_has_no_mention(void **state)
{
    (void)state;
    struct chat_wire_event e = group_event;
    e.group_id = NULL;
    char *body = chat_wire_text(&e, "hello @bot");
    json_t *ev = only_event(body);
    json_t *src = json_object_get(ev, "source");
    assert_string_equal(json_string_value(json_object_get(src, "type")), "user");
    assert_null(json_object_get(src, "groupId"));
    json_t *m = json_object_get(ev, "message");
    assert_string_equal(json_string_value(json_object_get(m, "text")), "hello @bot");
    assert_null(json_object_get(m, "mention"));
    json_decref(ev);
    free(body);
}

static void test_postback(void **state)
{
    (void)state;
    char *body = chat_wire_postback(&group_event, "linebot:answer=01EV");
    json_t *ev = only_event(body);
    assert_string_equal(json_string_value(json_object_get(ev, "type")), "postback");
    assert_string_equal(json_string_value(json_object_get(json_object_get(ev, "postback"), "data")),
                        "linebot:answer=01EV");
    assert_null(json_object_get(ev, "message"));
    json_decref(ev);
    free(body);
}

/* An image and a file message, with the fields LINE's own examples carry
 * (fixtures 03 and 07 of the LINE reference). */
static void test_image_and_file_messages(void **state)
{
    (void)state;
    struct chat_wire_event e = group_event;
    e.group_id = NULL;
    char *body = chat_wire_image(&e);
    json_t *ev = only_event(body);
    assert_string_equal(json_string_value(json_object_get(ev, "type")), "message");
    json_t *m = json_object_get(ev, "message");
    assert_string_equal(json_string_value(json_object_get(m, "type")), "image");
    assert_string_equal(json_string_value(json_object_get(m, "id")), "100");
    assert_string_equal(json_string_value(json_object_get(m, "quoteToken")), "q1");
    assert_string_equal(json_string_value(json_object_get(json_object_get(m, "contentProvider"), "type")), "line");
    json_decref(ev);
    free(body);

    body = chat_wire_file(&e, "r\xC3\xA9sum\xC3\xA9 \"v2\".pdf", 2138);
    ev = only_event(body);
    m = json_object_get(ev, "message");
    assert_string_equal(json_string_value(json_object_get(m, "type")), "file");
    assert_string_equal(json_string_value(json_object_get(m, "id")), "100");
    assert_string_equal(json_string_value(json_object_get(m, "fileName")), "r\xC3\xA9sum\xC3\xA9 \"v2\".pdf");
    assert_int_equal(json_integer_value(json_object_get(m, "fileSize")), 2138);
    assert_null(json_object_get(m, "quoteToken")); /* LINE's file messages have none */
    json_decref(ev);
    free(body);
}

#define QUICK_REPLY_BODY                                                                                   \
    "{\"replyToken\":\"%s\",\"messages\":["                                                                \
    "{\"type\":\"image\",\"originalContentUrl\":\"https://x/y.png\"},"                                     \
    "{\"type\":\"text\",\"text\":\"Pick one\\nor two\",\"quickReply\":{\"items\":["                        \
    "{\"type\":\"action\",\"action\":{\"type\":\"postback\",\"label\":\"Yes\",\"data\":\"answer=yes\","    \
    "\"displayText\":\"Yes please\"}},"                                                                    \
    "{\"type\":\"action\",\"action\":{\"type\":\"message\",\"label\":\"No\",\"text\":\"no thanks\"}},"     \
    "{\"type\":\"action\",\"action\":{\"type\":\"camera\",\"label\":\"Camera\"}},"                         \
    "{\"type\":\"action\"}]}}]}"

static void test_read_quick_replies(void **state)
{
    (void)state;
    char body[1024];
    snprintf(body, sizeof body, QUICK_REPLY_BODY, "rt");
    struct chat_shown s;
    assert_int_equal(chat_wire_read(body, strlen(body), &s), 0);
    assert_int_equal(s.n_texts, 2);
    assert_string_equal(s.texts[0], "[image message]");
    assert_string_equal(s.texts[1], "Pick one\nor two");
    assert_int_equal(s.n_choices, 3); /* the item without an action is no button */
    assert_int_equal(s.choices[0].kind, CHAT_CHOICE_POSTBACK);
    assert_string_equal(s.choices[0].label, "Yes");
    assert_string_equal(s.choices[0].data, "answer=yes");
    assert_string_equal(s.choices[0].text, "Yes please");
    assert_int_equal(s.choices[1].kind, CHAT_CHOICE_MESSAGE);
    assert_string_equal(s.choices[1].text, "no thanks");
    assert_int_equal(s.choices[2].kind, CHAT_CHOICE_OTHER);
    chat_shown_free(&s);

    assert_int_equal(chat_wire_read("{\"to\":\"U1\"}", 11, &s), -1);
    assert_int_equal(chat_wire_read("not json", 8, &s), -1);
    assert_int_equal(s.n_texts, 0);
}

/* ---- the stand-in over its socket ---- */

struct stand_in {
    char dir[64];
    char socket_path[128];
    FILE *out;
    struct chat_line *line;
    struct http_client *http;
};

static int stand_in_setup(void **state)
{
    struct stand_in *s = xcalloc(1, sizeof *s);
    snprintf(s->dir, sizeof s->dir, "/tmp/test_chat_line-XXXXXX");
    assert_non_null(mkdtemp(s->dir));
    snprintf(s->socket_path, sizeof s->socket_path, "%s/line.sock", s->dir);
    s->out = tmpfile();
    assert_non_null(s->out);
    char err[256];
    s->line = chat_line_start(s->socket_path, "tok", s->out, false, err, sizeof err);
    assert_non_null(s->line);
    assert_int_equal(http_global_init(), 0);
    http_route_unix_socket("http://line.invalid", s->socket_path);
    s->http = http_client_new();
    *state = s;
    return 0;
}

static int stand_in_teardown(void **state)
{
    struct stand_in *s = *state;
    http_client_free(s->http);
    http_route_unix_socket(NULL, NULL);
    http_global_cleanup();
    chat_line_stop(s->line);
    fclose(s->out);
    rmdir(s->dir);
    free(s);
    return 0;
}

static long call(struct stand_in *s, const char *method, const char *path, const char *auth, const char *body,
                 char **resp_body)
{
    char url[256], header[128];
    snprintf(url, sizeof url, "http://line.invalid%s", path);
    snprintf(header, sizeof header, "Authorization: Bearer %s", auth);
    const char *headers[] = {header, "Content-Type: application/json", NULL};
    struct http_request req = {.method = method, .url = url, .headers = headers, .body = body,
                               .body_len = body ? strlen(body) : 0};
    struct http_response resp = {0};
    int rc = http_client_do(s->http, &req, &resp);
    assert_int_equal(rc, 0);
    long status = resp.status;
    if (resp_body)
        *resp_body = xstrdup(resp.body ? resp.body : "");
    http_response_free(&resp);
    return status;
}

static char *printed(struct stand_in *s)
{
    fflush(s->out);
    long n = ftell(s->out);
    char *text = xcalloc(1, (size_t)n + 1);
    rewind(s->out);
    assert_int_equal(fread(text, 1, (size_t)n, s->out), (size_t)n);
    return text;
}

static void test_stand_in_shows_quick_replies(void **state)
{
    struct stand_in *s = *state;
    chat_line_issue_token(s->line, "rt-1");
    char body[1024], *resp;
    snprintf(body, sizeof body, QUICK_REPLY_BODY, "rt-1");
    assert_int_equal(call(s, "POST", "/v2/bot/message/reply", "tok", body, &resp), 200);
    json_t *root = json_loads(resp, 0, NULL);
    assert_int_equal(json_array_size(json_object_get(root, "sentMessages")), 2);
    json_decref(root);
    free(resp);
    char *text = printed(s);
    assert_string_equal(text, "bot: [image message]\n"
                              "bot: Pick one\n"
                              "     or two\n"
                              "  [1] Yes\n"
                              "  [2] No\n"
                              "  [3] Camera (not available here)\n"
                              "  (type a number to pick)\n");
    free(text);

    assert_int_equal(chat_line_choice_count(s->line), 3);
    struct chat_choice c;
    assert_true(chat_line_choice(s->line, 1, &c));
    assert_int_equal(c.kind, CHAT_CHOICE_POSTBACK);
    assert_string_equal(c.data, "answer=yes");
    chat_choice_free(&c);
    assert_true(chat_line_choice(s->line, 2, &c));
    assert_string_equal(c.text, "no thanks");
    chat_choice_free(&c);
    assert_false(chat_line_choice(s->line, 4, &c));
    assert_false(chat_line_choice(s->line, 0, &c));
    chat_line_clear_choices(s->line);
    assert_int_equal(chat_line_choice_count(s->line), 0);

    /* A reply token is good once, as at LINE. */
    assert_int_equal(call(s, "POST", "/v2/bot/message/reply", "tok", body, &resp), 400);
    assert_non_null(strstr(resp, "Invalid reply token"));
    free(resp);
}

static void test_stand_in_is_line_enough(void **state)
{
    struct stand_in *s = *state;
    char *resp;
    assert_int_equal(call(s, "POST", "/v2/bot/message/push", "wrong", "{\"to\":\"U1\",\"messages\":[]}", &resp),
                     401);
    free(resp);
    /* The model's text may hold escape sequences: none reaches the terminal. */
    assert_int_equal(call(s, "POST", "/v2/bot/message/push", "tok",
                          "{\"to\":\"U1\",\"messages\":[{\"type\":\"text\",\"text\":"
                          "\"pushed\\u001b[2J\\u009b1m\\u0007\\u00e9\\t!\"}]}",
                          NULL),
                     200);
    chat_line_add_user(s->line, "Uann", "Ann");
    assert_int_equal(call(s, "GET", "/v2/bot/profile/Uann", "tok", NULL, &resp), 200);
    assert_non_null(strstr(resp, "\"displayName\":\"Ann\""));
    free(resp);
    assert_int_equal(call(s, "GET", "/v2/bot/group/C1/member/Uann", "tok", NULL, NULL), 200);
    assert_int_equal(call(s, "GET", "/v2/bot/profile/Unobody", "tok", NULL, NULL), 404);
    assert_int_equal(call(s, "POST", "/v2/bot/chat/loading/start", "tok", "{\"chatId\":\"U1\",\"loadingSeconds\":5}",
                          NULL),
                     202);
    assert_int_equal(call(s, "GET", "/v2/bot/info", "tok", NULL, NULL), 404);
    char *text = printed(s);
    /* Controls are U+FFFD and a tab a space, as admin and kb print them (cli/term_text.h). */
    assert_string_equal(text, "bot: pushed\xEF\xBF\xBD[2J\xEF\xBF\xBD"
                              "1m\xEF\xBF\xBD\xC3\xA9 !\n(bot is typing...)\n"); /* not a terminal: no spinner */
    free(text);
}

/* What the terminal sent is served as LINE serves content: with the token
 * only, byte for byte, and the oldest gone (404) once CHAT_LINE_CONTENTS
 * newer ones came. */
static void test_stand_in_serves_content(void **state)
{
    struct stand_in *s = *state;
    static const unsigned char bytes[] = {0xFF, 0xD8, 0x00, 'a', 0x00, 0xD9};
    unsigned char *data = xmalloc(sizeof bytes);
    memcpy(data, bytes, sizeof bytes);
    chat_line_add_content(s->line, "501", data, sizeof bytes);
    assert_int_equal(call(s, "GET", "/v2/bot/message/501/content", "wrong", NULL, NULL), 401);
    char url[] = "http://line.invalid/v2/bot/message/501/content";
    const char *headers[] = {"Authorization: Bearer tok", NULL};
    struct http_request req = {.method = "GET", .url = url, .headers = headers};
    struct http_response resp = {0};
    assert_int_equal(http_client_do(s->http, &req, &resp), 0);
    assert_int_equal(resp.status, 200);
    assert_int_equal(resp.body_len, sizeof bytes);
    assert_memory_equal(resp.body, bytes, sizeof bytes);
    http_response_free(&resp);
    assert_int_equal(call(s, "GET", "/v2/bot/message/502/content", "tok", NULL, NULL), 404);
    assert_int_equal(call(s, "GET", "/v2/bot/message//content", "tok", NULL, NULL), 404);
    for (int i = 0; i < CHAT_LINE_CONTENTS; i++) {
        char id[16];
        snprintf(id, sizeof id, "6%02d", i);
        chat_line_add_content(s->line, id, (unsigned char *)xstrdup("x"), 1);
    }
    assert_int_equal(call(s, "GET", "/v2/bot/message/501/content", "tok", NULL, NULL), 404);
    assert_int_equal(call(s, "GET", "/v2/bot/message/600/content", "tok", NULL, NULL), 200);
}

int main(void)
{
    alloc_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_group_text_mentions_the_bot),
        cmocka_unit_test(test_one_to_one_text_has_no_mention),
        cmocka_unit_test(test_postback),
        cmocka_unit_test(test_image_and_file_messages),
        cmocka_unit_test(test_read_quick_replies),
        cmocka_unit_test_setup_teardown(test_stand_in_shows_quick_replies, stand_in_setup, stand_in_teardown),
        cmocka_unit_test_setup_teardown(test_stand_in_is_line_enough, stand_in_setup, stand_in_teardown),
        cmocka_unit_test_setup_teardown(test_stand_in_serves_content, stand_in_setup, stand_in_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
