/* test_handoff.c - serverless work payloads: ids only with a shared store,
 * whole events otherwise, split under the platform's cap, read back intact. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/handoff.h"

static void make_events(struct handoff_event *evs, size_t n, size_t event_size)
{
    for (size_t i = 0; i < n; i++) {
        char id[32];
        snprintf(id, sizeof id, "E%zu", i);
        evs[i].event_id = strdup(id);
        evs[i].chat_id = strdup("U1");
        evs[i].timestamp_ms = 1000 + (int64_t)i;
        evs[i].event_json = malloc(event_size + 1);
        memset(evs[i].event_json, 'x', event_size);
        evs[i].event_json[event_size] = '\0';
    }
}

static void free_events(struct handoff_event *evs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(evs[i].event_id);
        free(evs[i].chat_id);
        free(evs[i].event_json);
    }
}

static void roundtrip_all(const struct handoff_payloads *p, size_t expect_events, bool expect_bodies)
{
    size_t seen = 0;
    for (size_t i = 0; i < p->n; i++) {
        struct handoff_event *evs;
        size_t n;
        assert_int_equal(handoff_parse(p->bodies[i], p->lens[i], &evs, &n), 1);
        for (size_t k = 0; k < n; k++) {
            char id[32];
            snprintf(id, sizeof id, "E%zu", seen + k);
            assert_string_equal(evs[k].event_id, id);
            assert_int_equal(evs[k].timestamp_ms, 1000 + (int64_t)(seen + k));
            if (expect_bodies)
                assert_non_null(evs[k].event_json);
            else
                assert_null(evs[k].event_json);
        }
        seen += n;
        handoff_events_free(evs, n);
    }
    assert_int_equal(seen, expect_events);
}

static void test_ids_only_one_payload(void **state)
{
    struct handoff_event evs[20];
    make_events(evs, 20, 5000);
    struct handoff_payloads p;
    assert_int_equal(handoff_build(evs, 20, true, HANDOFF_MAX_FC, &p), 0);
    assert_int_equal(p.n, 1);
    assert_true(p.lens[0] < 2000);
    roundtrip_all(&p, 20, false);
    handoff_payloads_free(&p);
    free_events(evs, 20);
}

static void test_split_under_cap(void **state)
{
    struct handoff_event evs[40];
    make_events(evs, 40, 10000); /* 400 KB of events, 128 KB cap */
    struct handoff_payloads p;
    assert_int_equal(handoff_build(evs, 40, false, HANDOFF_MAX_FC, &p), 0);
    assert_true(p.n >= 4);
    for (size_t i = 0; i < p.n; i++)
        assert_true(p.lens[i] <= HANDOFF_MAX_FC);
    roundtrip_all(&p, 40, true);
    handoff_payloads_free(&p);
    free_events(evs, 40);
}

static void test_oversized_event_travels_as_id(void **state)
{
    struct handoff_event evs[1];
    make_events(evs, 1, 200 * 1024);
    struct handoff_payloads p;
    assert_int_equal(handoff_build(evs, 1, false, HANDOFF_MAX_FC, &p), 0);
    assert_int_equal(p.n, 1);
    assert_true(p.lens[0] <= HANDOFF_MAX_FC);
    roundtrip_all(&p, 1, false);
    handoff_payloads_free(&p);
    free_events(evs, 1);
}

/* The one refusal left (memory running out aborts): an id JSON cannot hold.
 * Nothing is handed back, not even the payloads built before it. */
static void test_build_refuses_an_id_that_is_not_utf8(void **state)
{
    (void)state;
    struct handoff_event evs[3];
    make_events(evs, 3, 10);
    free(evs[2].event_id);
    evs[2].event_id = strdup("E\xff");
    struct handoff_payloads p;
    assert_int_equal(handoff_build(evs, 3, false, 120, &p), -1); /* 120 bytes: one event a payload */
    assert_int_equal(p.n, 0);
    assert_null(p.bodies);
    assert_null(p.lens);
    free_events(evs, 3);
}

static void test_parse_other_and_bad(void **state)
{
    struct handoff_event *evs;
    size_t n;
    assert_int_equal(handoff_parse("{\"version\":\"2.0\"}", 17, &evs, &n), 0);
    assert_int_equal(handoff_parse("garbage", 7, &evs, &n), 0);
    assert_int_equal(handoff_parse("{\"linebot\":\"work\",\"events\":5}", 29, &evs, &n), -1);
    const char *skips = "{\"linebot\":\"work\",\"events\":[{\"id\":\"\"},7,{\"id\":\"A\",\"ts\":\"x\"}]}";
    assert_int_equal(handoff_parse(skips, strlen(skips), &evs, &n), 1);
    assert_int_equal(n, 1);
    assert_string_equal(evs[0].event_id, "A");
    assert_string_equal(evs[0].chat_id, "");
    handoff_events_free(evs, n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ids_only_one_payload),
        cmocka_unit_test(test_split_under_cap),
        cmocka_unit_test(test_oversized_event_travels_as_id),
        cmocka_unit_test(test_build_refuses_an_id_that_is_not_utf8),
        cmocka_unit_test(test_parse_other_and_bad),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
