/* test_images.c - images (and stickers) with the real binary (issue 13).
 *
 * The fake LINE serves content: PNG and JPEG files made here (media.c), at
 * GET /v2/bot/message/{id}/content, with 202 for a while when asked, 404 for
 * what it does not have (expired), and the same bytes at /external/{id} for
 * an `external` contentProvider. The catalogue has a model without vision
 * (the default) and one with it, on the same fake LLM. The oracles: the
 * model id the fake LLM was asked, the images it received (data: URLs it
 * decodes itself and compares with the bytes made here), the transcript of
 * what the model saw (history: "[image]" and the first line of the answer),
 * the texts LINE delivered (each bad input's notice names its reason), and
 * the requests that reached the fakes. */
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "harness.h"
#include "media.h"

#define USER_A "Ue2e0000000000000000000000000000a"
#define USER_B "Ue2e0000000000000000000000000000b"
#define GROUP "Ce2e00000000000000000000000000001"

/* The catalogue: "plain" (default, no vision) and "eye" (vision), plus the
 * test's own settings. Call env_free. */
static char **catalogue(struct world *w, const char *const *extra)
{
    size_t n = 0;
    while (extra && extra[n])
        n++;
    char **env = calloc(n + 4, sizeof *env);
    env[0] = e2e_printf("LINEBOT_MODELS=[{\"name\":\"plain\",\"model\":\"model-plain\",\"provider\":\"custom\","
                        "\"base_url\":\"%s\",\"api_key_env\":\"KEY_A\"},"
                        "{\"name\":\"eye\",\"model\":\"model-eye\",\"provider\":\"custom\",\"base_url\":\"%s\","
                        "\"api_key_env\":\"KEY_A\",\"vision\":true}]",
                        fake_llm_base_url(w->llm), fake_llm_base_url(w->llm));
    env[1] = e2e_printf("KEY_A=%s", E2E_LLM_KEY);
    bool lang = false;
    for (size_t i = 0; i < n; i++)
        lang = lang || strncmp(extra[i], "LINEBOT_LANG=", 13) == 0;
    env[2] = e2e_printf("%s", lang ? "LINEBOT_GROUP_CONTEXT=0" : "LINEBOT_LANG=en");
    for (size_t i = 0; i < n; i++)
        env[3 + i] = e2e_printf("%s", extra[i]);
    return env;
}

static void env_free(char **env)
{
    for (char **e = env; *e; e++)
        free(*e);
    free(env);
}

static struct world *start(void **state, const char *const *extra)
{
    struct world *w = world_new(state, NULL);
    char **env = catalogue(w, extra);
    bot_start(w, (const char *const *)env);
    env_free(env);
    return w;
}

/* An image message `id` from `user` (in `group` when not NULL). */
static json_t *image_event(struct world *w, const char *user, const char *group, const char *id)
{
    return ev_message(w, &(struct ev){.user = user, .group = group, .message_type = "image", .message_id = id});
}

static void set_image_set(json_t *ev, const char *set_id, int index, int total)
{
    json_t *set = json_pack("{s:s}", "id", set_id);
    if (index)
        json_object_set_new(set, "index", json_integer(index));
    if (total)
        json_object_set_new(set, "total", json_integer(total));
    json_object_set_new(json_object_get(ev, "message"), "imageSet", set);
}

static void set_external(json_t *ev, const char *url)
{
    json_object_set_new(json_object_get(ev, "message"), "contentProvider",
                        json_pack("{s:s,s:s,s:s}", "type", "external", "originalContentUrl", url, "previewImageUrl",
                                  url));
}

/* The model request `i` carried exactly these images, in this order. */
static void assert_images(struct world *w, size_t i, const unsigned char *const *data, const size_t *len,
                          const char *const *mime, size_t n)
{
    struct fake_llm_image got[8];
    size_t count = fake_llm_request_images(w->llm, i, got, 8);
    if (count != n)
        fail_msg("request %zu: want %zu image(s), got %zu", i, n, count);
    for (size_t k = 0; k < n; k++) {
        assert_string_equal(got[k].mime, mime[k]);
        if (got[k].len != len[k] || memcmp(got[k].data, data[k], len[k]) != 0)
            fail_msg("request %zu image %zu: the bytes differ (%zu vs %zu bytes)", i, k, got[k].len, len[k]);
    }
    fake_llm_images_free(got, count < 8 ? count : 8);
}

static char *request_model(struct world *w, size_t i)
{
    json_t *req = fake_llm_request_json(w->llm, i);
    char *model = e2e_strdup(json_string_value(json_object_get(req, "model")));
    json_decref(req);
    return model;
}

static void test_image_goes_to_the_vision_model(void **state)
{
    struct world *w = start(state, NULL);
    size_t len;
    unsigned char *png = media_png(7, 5, 1, &len);
    fake_line_set_content(w->line, "img-1", png, len, "image/png", 0);
    fake_llm_push_answer(w->llm, "A small striped picture.\nIt has seven columns.", 0);

    send_event(w, image_event(w, USER_A, NULL, "img-1"));
    assert_answers(w, USER_A, 1);
    assert_int_equal(fake_llm_request_count(w->llm), 1);
    char *model = request_model(w, 0);
    assert_string_equal(model, "model-eye"); /* the chat's model has no vision */
    free(model);
    assert_images(w, 0, (const unsigned char *const[]){png}, (size_t[]){len}, (const char *const[]){"image/png"},
                  1);
    char *texts = world_texts(w, USER_A);
    assert_contains(texts, "A small striped picture.");
    free(texts);
    /* The content request carried the channel token. */
    struct fake_line_request r;
    bool seen = false;
    for (size_t i = 0; fake_line_request_at(w->line, i, &r); i++)
        if (strcmp(r.path, "/v2/bot/message/img-1/content") == 0) {
            assert_string_equal(r.authorization, "Bearer " E2E_ACCESS_TOKEN);
            seen = true;
        }
    assert_true(seen);
    free(png);
    world_finish(w);
}

static void test_image_then_text_follow_up(void **state)
{
    struct world *w = start(state, NULL);
    size_t len;
    unsigned char *jpeg = media_jpeg(&len);
    fake_line_set_content(w->line, "img-2", jpeg, len, "image/jpeg", 0);
    fake_llm_push_answer(w->llm, "A grey square.\nNothing else is in it.", 0);
    send_event(w, image_event(w, USER_A, NULL, "img-2"));
    assert_answers(w, USER_A, 1);

    send_text(w, USER_A, "What colour is it exactly?");
    assert_answers(w, USER_A, 2);
    assert_int_equal(fake_llm_request_count(w->llm), 2);
    char *model = request_model(w, 1);
    assert_string_equal(model, "model-eye");
    free(model);
    assert_images(w, 1, (const unsigned char *const[]){jpeg}, (size_t[]){len}, (const char *const[]){"image/jpeg"},
                  1);
    char *last = fake_llm_request_last_user(w->llm, 1);
    assert_contains(last, "What colour is it exactly?");
    free(last);
    /* History: "[image]" and the first line of the answer, never the image. */
    char *t = fake_llm_request_transcript(w->llm, 1);
    assert_contains(t, "user: [image]\n");
    assert_contains(t, "assistant: A grey square.\n");
    assert_not_contains(t, "Nothing else is in it.");
    assert_not_contains(t, "base64");
    free(t);

    /* One follow-up: the next text goes to the chat's own model, alone. */
    send_text(w, USER_A, "thanks");
    assert_answers(w, USER_A, 3);
    model = request_model(w, 2);
    assert_string_equal(model, "model-plain");
    free(model);
    assert_images(w, 2, NULL, NULL, NULL, 0);
    free(jpeg);
    world_finish(w);
}

static void test_image_quoted_in_a_group(void **state)
{
    struct world *w = start(state, (const char *const[]){"LINEBOT_TRIGGER=bot", NULL});
    size_t len;
    unsigned char *png = media_png(4, 4, 2, &len);
    fake_line_set_content(w->line, "img-g", png, len, "image/png", 0);
    /* The image alone is group chatter: not stored, not fetched, not answered. */
    send_event(w, image_event(w, USER_A, GROUP, "img-g"));
    world_quiet(w);
    assert_int_equal(fake_llm_request_count(w->llm), 0);
    assert_int_equal(fake_line_request_count(w->line, "GET", "/v2/bot/message/img-g/content"), 0);

    send_event(w, ev_message(w, &(struct ev){.user = USER_B, .group = GROUP, .text = "bot what is in this picture?",
                                             .quoted_message_id = "img-g"}));
    assert_answers(w, GROUP, 1);
    assert_int_equal(fake_llm_request_count(w->llm), 1);
    assert_images(w, 0, (const unsigned char *const[]){png}, (size_t[]){len}, (const char *const[]){"image/png"},
                  1);
    char *last = fake_llm_request_last_user(w->llm, 0);
    assert_contains(last, "what is in this picture?");
    free(last);

    /* Quoting a message that is no image: the text is answered alone. */
    send_event(w, ev_message(w, &(struct ev){.user = USER_B, .group = GROUP, .text = "bot and this one?",
                                             .quoted_message_id = "not-an-image"}));
    assert_answers(w, GROUP, 2);
    assert_images(w, 1, NULL, NULL, NULL, 0);
    free(png);
    world_finish(w);
}

static void test_image_set_of_three_gets_one_answer(void **state)
{
    struct world *w = start(state, NULL);
    unsigned char *img[3];
    size_t len[3];
    const char *ids[3] = {"set-a", "set-b", "set-c"};
    for (int i = 0; i < 3; i++) {
        img[i] = media_png(3, 3, (unsigned)(10 + i), &len[i]);
        fake_line_set_content(w->line, ids[i], img[i], len[i], "image/png", 0);
    }
    /* Sent in the order 2, 1, 3 (by index): the model gets 1, 2, 3. */
    const int index[3] = {2, 1, 3};
    json_t *ev[3];
    int64_t now = e2e_now_ms();
    for (int i = 0; i < 3; i++) {
        ev[i] = ev_message(w, &(struct ev){.user = USER_A, .message_type = "image",
                                           .message_id = ids[index[i] - 1], .timestamp_ms = now + i});
        set_image_set(ev[i], "SET1", index[i], 3);
    }
    send_event(w, ev[0]);
    e2e_sleep_ms(300);
    assert_int_equal(bot_send(w, ev[1], ev[2], NULL), 200);
    assert_answers(w, USER_A, 1);
    world_quiet(w);
    assert_int_equal(fake_line_delivery_count(w->line, USER_A), 1);
    assert_int_equal(fake_llm_request_count(w->llm), 1);
    assert_images(w, 0, (const unsigned char *const[]){img[0], img[1], img[2]}, len,
                  (const char *const[]){"image/png", "image/png", "image/png"}, 3);
    for (int i = 0; i < 3; i++)
        free(img[i]);
    world_finish(w);
}

static void test_image_set_without_index_waits_three_seconds(void **state)
{
    struct world *w = start(state, NULL);
    unsigned char *img[2];
    size_t len[2];
    const char *ids[2] = {"old-a", "old-b"};
    for (int i = 0; i < 2; i++) {
        img[i] = media_png(2, 2, (unsigned)(20 + i), &len[i]);
        fake_line_set_content(w->line, ids[i], img[i], len[i], "image/png", 0);
    }
    /* Old Android clients: an imageSet id, no index nor total. */
    json_t *a = image_event(w, USER_A, NULL, ids[0]);
    set_image_set(a, "SET2", 0, 0);
    send_event(w, a);
    e2e_sleep_ms(1500);
    json_t *b = image_event(w, USER_A, NULL, ids[1]);
    set_image_set(b, "SET2", 0, 0);
    send_event(w, b);
    assert_answers(w, USER_A, 1);
    world_quiet(w);
    assert_int_equal(fake_line_delivery_count(w->line, USER_A), 1);
    assert_images(w, 0, (const unsigned char *const[]){img[0], img[1]}, len,
                  (const char *const[]){"image/png", "image/png"}, 2);
    for (int i = 0; i < 2; i++)
        free(img[i]);
    world_finish(w);
}

static void test_content_not_ready_is_asked_again(void **state)
{
    struct world *w = start(state, NULL);
    size_t len;
    unsigned char *png = media_png(5, 5, 3, &len);
    fake_line_set_content(w->line, "img-slow", png, len, "image/png", 2); /* 202, 202, then the bytes */
    send_event(w, image_event(w, USER_A, NULL, "img-slow"));
    assert_answers(w, USER_A, 1);
    assert_int_equal(fake_line_request_count_status(w->line, "/v2/bot/message/img-slow/content", 202), 2);
    assert_int_equal(fake_line_request_count_status(w->line, "/v2/bot/message/img-slow/content", 200), 1);
    assert_images(w, 0, (const unsigned char *const[]){png}, (size_t[]){len}, (const char *const[]){"image/png"},
                  1);
    free(png);
    world_finish(w);
}

/* One bad input: the user gets `notice`, the model is not asked (unless
 * `asked`), and the log names `logged`. */
static void expect_notice(struct world *w, const char *notice, size_t asked, const char *logged)
{
    assert_answers(w, USER_A, 1);
    char *texts = world_texts(w, USER_A);
    assert_contains(texts, notice);
    free(texts);
    assert_int_equal(fake_llm_request_count(w->llm), asked);
    char *log = bot_log(w);
    assert_contains(log, logged);
    free(log);
}

static void test_expired_content(void **state)
{
    struct world *w = start(state, NULL);
    send_event(w, image_event(w, USER_A, NULL, "img-gone")); /* the fake has nothing: 404 */
    expect_notice(w, "LINE no longer has that file", 0, "expired");
    world_finish(w);
}

static void test_expired_content_in_japanese(void **state)
{
    struct world *w = start(state, (const char *const[]){"LINEBOT_LANG=ja", NULL});
    send_event(w, image_event(w, USER_A, NULL, "img-gone"));
    expect_notice(w, "そのファイルはLINEにもう残っていません", 0, "expired");
    world_finish(w);
}

static void test_content_over_the_cap(void **state)
{
    struct world *w = start(state, (const char *const[]){"LINEBOT_MAX_CONTENT_MB=1", NULL});
    size_t len;
    unsigned char *png = media_png(700, 700, 4, &len); /* about 1.5 MB */
    assert_true(len > 1024 * 1024);
    fake_line_set_content(w->line, "img-big", png, len, "image/png", 0);
    send_event(w, image_event(w, USER_A, NULL, "img-big"));
    expect_notice(w, "too large for me. The limit is 1 MB.", 0, "too_large");
    free(png);
    world_finish(w);
}

static void test_image_the_model_rejects(void **state)
{
    struct world *w = start(state, NULL);
    size_t len;
    unsigned char *png = media_png(3, 3, 5, &len);
    fake_line_set_content(w->line, "img-bad", png, len, "image/png", 0);
    fake_llm_push(w->llm, 400, "{\"error\":{\"message\":\"Invalid image data\",\"type\":\"invalid_request_error\"}}",
                  NULL, 0);
    send_event(w, image_event(w, USER_A, NULL, "img-bad"));
    expect_notice(w, "the model couldn't read that image", 1, "refused the image");
    free(png);
    world_finish(w);
}

static void test_content_type_that_lies(void **state)
{
    struct world *w = start(state, NULL);
    static const char pdf[] = "%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n";
    fake_line_set_content(w->line, "img-pdf", pdf, sizeof pdf - 1, "image/png", 0);
    send_event(w, image_event(w, USER_A, NULL, "img-pdf"));
    expect_notice(w, "doesn't look like an image I can read", 0, "no PNG, JPEG, GIF or WebP");
    world_finish(w);
}

static void test_external_url_over_http_is_refused(void **state)
{
    struct world *w = start(state, NULL);
    size_t len;
    unsigned char *png = media_png(3, 3, 6, &len);
    fake_line_set_content(w->line, "ext-1", png, len, "image/png", 0);
    json_t *ev = image_event(w, USER_A, NULL, "ext-1");
    char *url = e2e_printf("%s" FAKE_LINE_EXTERNAL_PATH "ext-1", fake_line_url(w->line));
    set_external(ev, url);
    send_event(w, ev);
    expect_notice(w, "secure (https) links", 0, "not https");
    assert_int_equal(fake_line_request_count(w->line, NULL, FAKE_LINE_EXTERNAL_PATH), 0);
    assert_int_equal(fake_line_request_count(w->line, NULL, "/v2/bot/message/ext-1"), 0);
    free(url);
    free(png);
    world_finish(w);
}

static void test_external_url_at_a_loopback_address_is_refused(void **state)
{
    struct world *w = start(state, NULL);
    json_t *ev = image_event(w, USER_A, NULL, "ext-2");
    /* https, but to 127.0.0.1: refused before any connection. */
    char *url = e2e_printf("https://127.0.0.1:%d" FAKE_LINE_EXTERNAL_PATH "ext-2", fake_line_port(w->line));
    set_external(ev, url);
    send_event(w, ev);
    expect_notice(w, "can't open content from that address", 0, "blocked_address");
    assert_int_equal(fake_line_request_count(w->line, NULL, FAKE_LINE_EXTERNAL_PATH), 0);
    free(url);
    world_finish(w);
}

static void test_external_url_fetched_without_the_token(void **state)
{
    struct world *w = start(state, (const char *const[]){"LINEBOT_TEST_ALLOW_LOOPBACK_CONTENT=1", NULL});
    size_t len;
    unsigned char *jpeg = media_jpeg(&len);
    fake_line_set_content(w->line, "ext-3", jpeg, len, "application/octet-stream", 0);
    json_t *ev = image_event(w, USER_A, NULL, "ext-3");
    char *url = e2e_printf("%s" FAKE_LINE_EXTERNAL_PATH "ext-3", fake_line_url(w->line));
    set_external(ev, url);
    send_event(w, ev);
    assert_answers(w, USER_A, 1);
    assert_images(w, 0, (const unsigned char *const[]){jpeg}, (size_t[]){len}, (const char *const[]){"image/jpeg"},
                  1);
    /* Someone else's server never gets the channel token; LINE was not asked. */
    struct fake_line_request r;
    size_t external = 0;
    for (size_t i = 0; fake_line_request_at(w->line, i, &r); i++)
        if (strncmp(r.path, FAKE_LINE_EXTERNAL_PATH, strlen(FAKE_LINE_EXTERNAL_PATH)) == 0) {
            assert_null(r.authorization);
            external++;
        }
    assert_int_equal(external, 1);
    assert_int_equal(fake_line_request_count(w->line, NULL, "/v2/bot/message/ext-3"), 0);
    free(url);
    free(jpeg);
    world_finish(w);
}

static void test_sticker_answered_from_its_keywords(void **state)
{
    struct world *w = start(state, NULL);
    json_t *ev = ev_message(w, &(struct ev){.user = USER_A, .message_type = "sticker"});
    json_object_set_new(json_object_get(ev, "message"), "text", json_string("Thank you!"));
    send_event(w, ev);
    assert_answers(w, USER_A, 1);
    char *last = fake_llm_request_last_user(w->llm, 0);
    assert_contains(last, "sticker");
    assert_contains(last, "happy, smile");
    assert_contains(last, "Thank you!");
    free(last);
    char *model = request_model(w, 0);
    assert_string_equal(model, "model-plain"); /* words: the chat's own model */
    free(model);
    world_finish(w);
}

static void test_vision_model_setting_is_checked_at_start(void **state)
{
    struct world *w = world_new(state, NULL);
    char **env = catalogue(w, (const char *const[]){"LINEBOT_VISION_MODEL=plain", NULL});
    bot_assert_start_refused(w, (const char *const *)env,
                             (const char *const[]){"LINEBOT_VISION_MODEL", "vision", NULL});
    env_free(env);
    env = catalogue(w, (const char *const[]){"LINEBOT_VISION_MODEL=nosuch", NULL});
    bot_assert_start_refused(w, (const char *const *)env,
                             (const char *const[]){"names no model of the catalogue", NULL});
    env_free(env);
    world_finish(w);
}

/* A kill -9 between fetching the image and answering it (the failpoint
 * kills the bot after the model answered, before LINE got anything): after
 * the restart the image is answered exactly once, and the model saw the same
 * bytes again. */
static void test_kill9_between_fetch_and_answer(void **state)
{
    struct world *w = start(state, (const char *const[]){"LINEBOT_FAILPOINT=worker_after_llm",
                                                         "LINEBOT_PUSH_FALLBACK=1", NULL});
    size_t len;
    unsigned char *jpeg = media_jpeg(&len);
    fake_line_set_content(w->line, "img-k9", jpeg, len, "image/jpeg", 0);
    json_t *ev = image_event(w, USER_A, NULL, "img-k9");
    /* The kill may come before the webhook's 200 left: then LINE redelivers. */
    long posted = bot_send(w, ev, NULL);
    if (posted != 200 && posted != 0)
        fail_msg("POST /callback answered %ld, want 200 (or no answer: killed after the commit)", posted);
    int status = bot_wait_exit(w, e2e_ms(E2E_WAIT_MS));
    if (status == -1 || !WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL)
        fail_msg("the bot should have died of SIGKILL after the model call (wait status 0x%x)", status);
    assert_int_equal(fake_line_delivery_count(w->line, USER_A), 0);
    assert_int_equal(fake_llm_request_count(w->llm), 1);

    char **env = catalogue(w, (const char *const[]){"LINEBOT_FAILPOINT", NULL});
    bot_start(w, (const char *const *)env);
    env_free(env);
    if (posted != 200)
        assert_int_equal(bot_send(w, ev, NULL), 200);
    size_t n = world_answers_grace(w, USER_A, 1, 2000); /* recovery at start-up would be the second */
    if (n != 1) {
        char *t = world_texts(w, USER_A);
        fail_msg("after a kill -9 between fetch and answer: want exactly 1 answer, got %zu:\n%s", n, t);
    }
    assert_int_equal(fake_llm_request_count(w->llm), 2);
    assert_images(w, 1, (const unsigned char *const[]){jpeg}, (size_t[]){len}, (const char *const[]){"image/jpeg"},
                  1);
    free(jpeg);
    world_finish(w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        E2E_TEST(test_image_goes_to_the_vision_model),
        E2E_TEST(test_image_then_text_follow_up),
        E2E_TEST(test_image_quoted_in_a_group),
        E2E_TEST(test_image_set_of_three_gets_one_answer),
        E2E_TEST(test_kill9_between_fetch_and_answer),
        E2E_TEST(test_image_set_without_index_waits_three_seconds),
        E2E_TEST(test_content_not_ready_is_asked_again),
        E2E_TEST(test_expired_content),
        E2E_TEST(test_expired_content_in_japanese),
        E2E_TEST(test_content_over_the_cap),
        E2E_TEST(test_image_the_model_rejects),
        E2E_TEST(test_content_type_that_lies),
        E2E_TEST(test_external_url_over_http_is_refused),
        E2E_TEST(test_external_url_at_a_loopback_address_is_refused),
        E2E_TEST(test_external_url_fetched_without_the_token),
        E2E_TEST(test_sticker_answered_from_its_keywords),
        E2E_TEST(test_vision_model_setting_is_checked_at_start),
    };
    return E2E_RUN(tests);
}
