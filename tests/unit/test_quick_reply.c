/* test_quick_reply.c - quick reply buttons against LINE's limits, and the
 * postback data format: round trip, and data that is not ours; the buttons
 * kept in the answer record. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/postback.h"
#include "core/quick_reply.h"
#include "run/answer_record.h"
#include "run/stage.h"

static void test_limits(void **state)
{
    struct quick_reply qr = {0};
    char s20[21], s21[22], s300[301], s301[302];
    memset(s20, 'a', 20), s20[20] = '\0';
    memset(s21, 'a', 21), s21[21] = '\0';
    memset(s300, 'd', 300), s300[300] = '\0';
    memset(s301, 'd', 301), s301[301] = '\0';

    assert_int_equal(quick_reply_add(&qr, s20, s300, s300), 0);
    assert_int_equal(quick_reply_add(&qr, s21, "d", "t"), -1);   /* label over 20 */
    assert_int_equal(quick_reply_add(&qr, "l", s301, "t"), -1);  /* data over 300 */
    assert_int_equal(quick_reply_add(&qr, "l", "d", s301), -1);  /* displayText over 300 */
    assert_int_equal(quick_reply_add(&qr, "l", "d", ""), -1);    /* displayText required */
    assert_int_equal(quick_reply_add(&qr, "l", "d", NULL), -1);
    assert_int_equal(quick_reply_add(&qr, "", "d", "t"), -1);
    assert_int_equal(quick_reply_add(&qr, "l", "", "t"), -1);
    assert_int_equal(quick_reply_add(&qr, "\xff", "d", "t"), -1); /* not UTF-8 */
    /* Characters as LINE counts them: 10 emoji are 20 UTF-16 units, 11 are 22. */
    char emoji10[64] = "", emoji11[64] = "";
    for (int i = 0; i < 10; i++)
        strcat(emoji10, "\xf0\x9f\x98\x80");
    snprintf(emoji11, sizeof emoji11, "%s\xf0\x9f\x98\x80", emoji10);
    assert_int_equal(quick_reply_add(&qr, emoji10, "d", "t"), 0);
    assert_int_equal(quick_reply_add(&qr, emoji11, "d", "t"), -1);
    assert_int_equal(qr.n, 2);
    for (size_t i = qr.n; i < QUICK_REPLY_MAX; i++)
        assert_int_equal(quick_reply_add(&qr, "l", "d", "t"), 0);
    assert_int_equal(quick_reply_add(&qr, "l", "d", "t"), -1); /* 13 at most */
    assert_int_equal(qr.n, 13);
    quick_reply_free(&qr);
    assert_int_equal(qr.n, 0);
}

static void test_json(void **state)
{
    struct quick_reply qr = {0}, back;
    assert_null(quick_reply_json(&qr));
    assert_int_equal(quick_reply_add(&qr, "Fast", "v1|m|fast", "/model fast"), 0);
    json_t *j = quick_reply_json(&qr);
    char *s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
    assert_string_equal(s, "{\"items\":[{\"action\":{\"data\":\"v1|m|fast\",\"displayText\":\"/model fast\","
                           "\"label\":\"Fast\",\"type\":\"postback\"},\"type\":\"action\"}]}");
    free(s);
    quick_reply_from_json(j, &back);
    assert_int_equal(back.n, 1);
    assert_string_equal(back.items[0].data, "v1|m|fast");
    json_decref(j);
    quick_reply_free(&back);
    quick_reply_free(&qr);
}

/* The buttons are part of the answer kept while sending, so that an answer
 * resumed after a crash goes out with them. */
static void test_answer_record_keeps_buttons(void **state)
{
    struct answer_record rec, back;
    answer_record_init(&rec);
    rec.mode = SEND_REPLY;
    rec.parts.parts = calloc(1, sizeof *rec.parts.parts);
    rec.parts.parts[0] = strdup("Models: ...");
    rec.parts.n = 1;
    assert_int_equal(quick_reply_add(&rec.quick_reply, "Fast", "v1|m|fast", "/model fast"), 0);
    assert_int_equal(quick_reply_add(&rec.quick_reply, "Smart", "v1|m|smart", "/model smart"), 0);
    char *json = answer_record_json(&rec);
    assert_int_equal(answer_record_parse(json, &back), 0);
    assert_int_equal(back.quick_reply.n, 2);
    assert_string_equal(back.quick_reply.items[1].label, "Smart");
    assert_string_equal(back.quick_reply.items[1].data, "v1|m|smart");
    assert_string_equal(back.quick_reply.items[1].display_text, "/model smart");
    free(json);
    answer_record_free(&back);
    answer_record_free(&rec);

    /* A record without buttons (every answer of the model) has none, and older records read alike. */
    assert_int_equal(answer_record_parse("{\"mode\":\"reply\",\"parts\":[\"hi\"]}", &back), 0);
    assert_int_equal(back.quick_reply.n, 0);
    answer_record_free(&back);
}

static void test_postback_round_trip(void **state)
{
    char data[QUICK_REPLY_DATA_MAX + 1];
    struct postback pb;
    assert_int_equal(postback_format(POSTBACK_MODEL, "gpt-4o.mini_2", data, sizeof data), 0);
    assert_string_equal(data, "v1|m|gpt-4o.mini_2");
    assert_int_equal(postback_parse(data, &pb), 0);
    assert_int_equal(pb.kind, POSTBACK_MODEL);
    assert_string_equal(pb.arg, "gpt-4o.mini_2");
    assert_true(postback_is_ours(data));

    /* The longest argument still fits LINE's 300. */
    char arg[POSTBACK_ARG_MAX + 2];
    memset(arg, 'x', POSTBACK_ARG_MAX), arg[POSTBACK_ARG_MAX] = '\0';
    assert_int_equal(postback_format(POSTBACK_MODEL, arg, data, sizeof data), 0);
    assert_true(strlen(data) <= QUICK_REPLY_DATA_MAX);
    assert_int_equal(postback_parse(data, &pb), 0);
    memset(arg, 'x', POSTBACK_ARG_MAX + 1), arg[POSTBACK_ARG_MAX + 1] = '\0';
    assert_int_equal(postback_format(POSTBACK_MODEL, arg, data, sizeof data), -1);

    assert_int_equal(postback_format(POSTBACK_MODEL, "", data, sizeof data), -1);
    assert_int_equal(postback_format(POSTBACK_MODEL, "a|b", data, sizeof data), -1);
    assert_int_equal(postback_format(POSTBACK_MODEL, "a b", data, sizeof data), -1);
    assert_int_equal(postback_format(POSTBACK_UNKNOWN, "a", data, sizeof data), -1);
    assert_int_equal(postback_format(POSTBACK_MODEL, "abc", data, 6), -1); /* does not fit */
}

/* The parked-answer button uses the same format (kind 'a'); the first
 * release's "linebot:answer=<id>" is still read. */
static void test_adopt_data(void **state)
{
    char data[QUICK_REPLY_DATA_MAX + 1];
    assert_int_equal(postback_format(POSTBACK_ANSWER, "sha256:0123abcd", data, sizeof data), 0);
    assert_string_equal(data, "v1|a|sha256:0123abcd");
    struct line_event ev;
    memset(&ev, 0, sizeof ev);
    ev.kind = EVENT_POSTBACK;
    ev.postback_data = data;
    assert_string_equal(deliver_adopt_target(&ev), "sha256:0123abcd");
    ev.postback_data = (char *)"linebot:answer=01ABC";
    assert_string_equal(deliver_adopt_target(&ev), "01ABC");
    ev.postback_data = (char *)"v1|m|fast"; /* a model button is not an adoption */
    assert_null(deliver_adopt_target(&ev));
    ev.postback_data = (char *)"v1|a|";
    assert_null(deliver_adopt_target(&ev));
    ev.kind = EVENT_MESSAGE;
    ev.postback_data = data;
    assert_null(deliver_adopt_target(&ev));
}

static void test_postback_forged(void **state)
{
    static const char *const bad[] = {
        "", "v1", "v1|", "v1|m", "v1|m|", "v1|z|fast", "v2|m|fast", "V1|m|fast", "v1|mm|fast",
        "v1|m|fa|st", "v1|m|fa st", "v1|m|\xe9\xab\x98", "v1|m|a\n", "linebot:answer=ev-1", " v1|m|fast",
    };
    struct postback pb;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (postback_parse(bad[i], &pb) != -1)
            fail_msg("accepted \"%s\"", bad[i]);
        assert_int_equal(pb.kind, POSTBACK_UNKNOWN);
    }
    assert_int_equal(postback_parse(NULL, &pb), -1);
    char longer[400];
    memset(longer, 'x', sizeof longer - 1), longer[sizeof longer - 1] = '\0';
    memcpy(longer, "v1|m|", 5);
    assert_int_equal(postback_parse(longer, &pb), -1);

    assert_true(postback_is_ours("v2|q|x")); /* a newer release's button reaches the worker */
    assert_false(postback_is_ours("v|m|x"));
    assert_false(postback_is_ours("linebot:answer=e"));
    assert_false(postback_is_ours(NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_json),
        cmocka_unit_test(test_answer_record_keeps_buttons),
        cmocka_unit_test(test_postback_round_trip),
        cmocka_unit_test(test_adopt_data),
        cmocka_unit_test(test_postback_forged),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
