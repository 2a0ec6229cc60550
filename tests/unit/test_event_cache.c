/* test_event_cache.c - the hand-over of parsed events from ingest to the
 * worker (run/event_cache.c): taken once by id, a miss for anything else,
 * the oldest pushed out when the ring is full, nothing leaked (ASan). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "run/event_cache.h"

static void make_event(struct line_event *ev, const char *id, const char *text)
{
    char json[256];
    snprintf(json, sizeof json,
             "{\"type\":\"message\",\"webhookEventId\":\"%s\",\"source\":{\"type\":\"user\",\"userId\":\"U1\"},"
             "\"replyToken\":\"r\",\"message\":{\"type\":\"text\",\"id\":\"m1\",\"text\":\"%s\"}}",
             id, text);
    assert_int_equal(line_event_parse(json, strlen(json), ev), 0);
    assert_string_equal(ev->event_id, id);
}

static void test_put_take(void **state)
{
    (void)state;
    struct event_cache c;
    struct line_event ev, got;

    event_cache_init(&c);
    make_event(&ev, "E1", "hello");
    event_cache_put(&c, &ev);
    assert_null(ev.event_id); /* moved */
    assert_false(event_cache_take(&c, "E2", &got));
    assert_false(event_cache_take(&c, "E", &got));
    assert_true(event_cache_take(&c, "E1", &got));
    assert_string_equal(got.event_id, "E1");
    assert_string_equal(got.text, "hello");
    assert_string_equal(got.reply_token, "r");
    line_event_free(&got);
    assert_false(event_cache_take(&c, "E1", &got)); /* taken once */
    event_cache_destroy(&c);
}

/* A full ring forgets its oldest entries; the newest are all there. */
static void test_ring_pushes_out_oldest(void **state)
{
    (void)state;
    struct event_cache c;
    struct line_event ev, got;
    char id[32];

    event_cache_init(&c);
    for (int i = 0; i < EVENT_CACHE_SLOTS + 10; i++) {
        snprintf(id, sizeof id, "E%d", i);
        make_event(&ev, id, id);
        event_cache_put(&c, &ev);
    }
    for (int i = 0; i < 10; i++) {
        snprintf(id, sizeof id, "E%d", i);
        assert_false(event_cache_take(&c, id, &got));
    }
    for (int i = 10; i < EVENT_CACHE_SLOTS + 10; i++) {
        snprintf(id, sizeof id, "E%d", i);
        assert_true(event_cache_take(&c, id, &got));
        assert_string_equal(got.text, id);
        line_event_free(&got);
    }
    /* entries left behind are freed by destroy (ASan would see a leak) */
    make_event(&ev, "left", "x");
    event_cache_put(&c, &ev);
    event_cache_destroy(&c);
}

/* An event without an id is never kept. */
static void test_no_id(void **state)
{
    (void)state;
    struct event_cache c;
    struct line_event ev, got;

    event_cache_init(&c);
    memset(&ev, 0, sizeof ev);
    event_cache_put(&c, &ev);
    assert_false(event_cache_take(&c, "", &got));
    event_cache_destroy(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_put_take),
        cmocka_unit_test(test_ring_pushes_out_oldest),
        cmocka_unit_test(test_no_id),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
