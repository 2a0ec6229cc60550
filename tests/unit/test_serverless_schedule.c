/* test_serverless_schedule.c - which invocation payloads are a schedule's
 * (serverless_is_schedule): EventBridge's "Scheduled Event" on Lambda and a
 * timer trigger's event on FC do the housekeeping; anything else, including
 * look-alikes, stays ignored. The payloads are written as the platforms'
 * documentation shows them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "run/serverless.h"

static bool is_schedule(const char *s) { return serverless_is_schedule(s, strlen(s)); }

static void test_eventbridge_scheduled_event(void **state)
{
    (void)state;
    assert_true(is_schedule("{\"version\":\"0\",\"id\":\"53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa\","
                            "\"detail-type\":\"Scheduled Event\",\"source\":\"aws.events\","
                            "\"account\":\"123456789012\",\"time\":\"2015-10-08T16:53:06Z\","
                            "\"region\":\"us-east-1\",\"resources\":[\"arn:aws:events:us-east-1:123456789012:rule/"
                            "my-scheduled-rule\"],\"detail\":{}}"));
}

static void test_fc_timer_trigger(void **state)
{
    (void)state;
    assert_true(is_schedule("{\"triggerTime\":\"2018-02-09T05:49:00Z\",\"triggerName\":\"timer-trigger\","
                            "\"payload\":\"awesome-fc\"}"));
}

static void test_other_payloads_are_not(void **state)
{
    (void)state;
    static const char *const others[] = {
        "",
        "not json",
        "[1,2,3]",
        "null",
        "{}",
        "{\"hello\":\"a timer trigger, say\"}",
        "{\"detail-type\":\"Scheduled Event\"}",                               /* no source */
        "{\"detail-type\":\"Scheduled Event\",\"source\":\"my.app\"}",         /* someone else's event */
        "{\"detail-type\":\"Object Created\",\"source\":\"aws.events\"}",
        "{\"detail-type\":7,\"source\":\"aws.events\"}",
        "{\"triggerTime\":\"2018-02-09T05:49:00Z\"}",                           /* half a timer */
        "{\"triggerTime\":1,\"triggerName\":\"t\"}",
        "{\"linebot\":\"work\",\"events\":[]}",
    };
    for (size_t i = 0; i < sizeof others / sizeof others[0]; i++)
        assert_false(is_schedule(others[i]));
    /* Bytes after a valid document, and a NUL inside: not one JSON object. */
    static const char trailing[] = "{\"triggerTime\":\"a\",\"triggerName\":\"b\"}x";
    static const char nul[] = "{\"triggerTime\":\"a\"\0,\"triggerName\":\"b\"}";
    assert_true(serverless_is_schedule(trailing, sizeof trailing - 2)); /* without the x: it is one */
    assert_false(serverless_is_schedule(trailing, sizeof trailing - 1));
    assert_false(serverless_is_schedule(nul, sizeof nul - 1));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_eventbridge_scheduled_event),
        cmocka_unit_test(test_fc_timer_trigger),
        cmocka_unit_test(test_other_payloads_are_not),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
