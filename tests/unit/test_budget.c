/* test_budget.c - the budgets' arithmetic (core/budget.c): the day and its
 * reset across midnight in UTC, in a fixed offset (+09:00), across daylight
 * saving time (a hand-written New York and a zone that skips midnight, and
 * the real America/New_York through io/timezone.c when the machine has
 * zoneinfo); offsets as LINEBOT_TIMEZONE takes them; token estimates; the
 * cheaper model. The expected instants were worked out with date(1), not
 * with the code under test. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/budget.h"
#include "io/timezone.h"
#include "run/answer_record.h"

#define S 1000LL
#define H (3600 * S)
/* 2026-12-07T00:00:00Z = 1796601600 s, day 20794 since 1970-01-01. */
#define DEC7 (1796601600 * S)
#define DEC7_DAY 20794

static int64_t utc(int64_t t) { (void)t; return 0; }
static int64_t tokyo(int64_t t) { (void)t; return 9 * H; }
static int64_t minus_five(int64_t t) { (void)t; return -5 * H - 30 * 60 * S; }

/* New York in 2026: EDT (-4) from 2026-03-08T07:00Z to 2026-11-01T06:00Z. */
static int64_t new_york(int64_t t)
{
    return t >= 1772953200 * S && t < 1793512800 * S ? -4 * H : -5 * H;
}

/* A zone that moves its clocks from 23:59:59 to 01:00 at 2026-12-08 local
 * (UTC before, UTC+1 after): 2026-12-08 starts at 2026-12-08T00:00Z. */
#define SKIP_AT (DEC7 + 24 * H)
static int64_t skips_midnight(int64_t t) { return t < SKIP_AT ? 0 : 1 * H; }

static void test_day_and_reset_utc(void **state)
{
    assert_int_equal(budget_day(DEC7, utc), DEC7_DAY);
    assert_int_equal(budget_day(DEC7 - 1, utc), DEC7_DAY - 1);
    assert_int_equal(budget_day(DEC7 + 24 * H - 1, utc), DEC7_DAY);
    assert_int_equal(budget_reset_ms(DEC7, utc), DEC7 + 24 * H);
    assert_int_equal(budget_reset_ms(DEC7 + 24 * H - 1, utc), DEC7 + 24 * H);
    assert_int_equal(budget_reset_ms(DEC7 - 1, utc), DEC7);
    /* Before 1970: floor, not truncation. */
    assert_int_equal(budget_day(-1, utc), -1);
    char *t = budget_clock_text(DEC7 + 24 * H, utc, NULL);
    assert_string_equal(t, "00:00 (UTC+00:00)");
    free(t);
}

static void test_day_and_reset_offset(void **state)
{
    /* 14:59:59Z is 23:59:59 in Tokyo: still Dec 7; 15:00Z is Dec 8 there. */
    assert_int_equal(budget_day(DEC7 + 15 * H - 1, tokyo), DEC7_DAY);
    assert_int_equal(budget_day(DEC7 + 15 * H, tokyo), DEC7_DAY + 1);
    assert_int_equal(budget_reset_ms(DEC7 + 15 * H - 1, tokyo), DEC7 + 15 * H);
    assert_int_equal(budget_reset_ms(DEC7 + 15 * H, tokyo), DEC7 + 39 * H);
    /* 00:30Z on Dec 7 is 09:30 on Dec 7 in Tokyo, but still Dec 6 at -05:30. */
    assert_int_equal(budget_day(DEC7 + H / 2, tokyo), DEC7_DAY);
    assert_int_equal(budget_day(DEC7 + H / 2, minus_five), DEC7_DAY - 1);
    assert_int_equal(budget_reset_ms(DEC7 + H / 2, minus_five), DEC7 + 5 * H + 30 * 60 * S);
    char *t = budget_clock_text(DEC7 + 15 * H, tokyo, NULL);
    assert_string_equal(t, "00:00 (UTC+09:00)");
    free(t);
    t = budget_clock_text(DEC7 + 5 * H + 30 * 60 * S, minus_five, "Somewhere/Else");
    assert_string_equal(t, "00:00 (Somewhere/Else)");
    free(t);
}

static void check_new_york(budget_offset_fn ny)
{
    /* 2026-03-07 12:00Z (07:00 EST): the day ends at 2026-03-08 00:00 EST = 05:00Z. */
    assert_int_equal(budget_reset_ms(1772884800 * S, ny), 1772946000 * S);
    /* 2026-10-31 12:00Z (08:00 EDT): ends at 2026-11-01 00:00 EDT = 04:00Z. */
    assert_int_equal(budget_reset_ms(1793448000 * S, ny), 1793505600 * S);
    /* 2026-11-01 12:00Z (07:00 EST, a 25-hour day): ends at 2026-11-02 00:00 EST = 05:00Z. */
    assert_int_equal(budget_reset_ms(1793534400 * S, ny), 1793595600 * S);
    assert_int_equal(budget_day(1793505600 * S - 1, ny) + 1, budget_day(1793505600 * S, ny));
}

static void test_reset_across_dst(void **state)
{
    check_new_york(new_york);
    /* Midnight skipped: the day starts at the jump. */
    assert_int_equal(budget_reset_ms(DEC7 + 12 * H, skips_midnight), SKIP_AT);
    assert_int_equal(budget_day(SKIP_AT, skips_midnight), DEC7_DAY + 1);
}

static void test_real_zone(void **state)
{
    char err[256];
    if (access("/usr/share/zoneinfo/America/New_York", R_OK) != 0) {
        skip();
    }
    assert_int_equal(timezone_setup("America/New_York", err, sizeof err), 0);
    assert_string_equal(timezone_name(), "America/New_York");
    check_new_york(timezone_offset_ms);
    /* Offsets need no file; garbage and paths are refused with a reason. */
    assert_int_equal(timezone_setup("+09:00", err, sizeof err), 0);
    assert_null(timezone_name());
    assert_int_equal(timezone_offset_ms(DEC7), 9 * H);
    assert_int_equal(timezone_setup("Mars/Olympus_Mons", err, sizeof err), -1);
    assert_non_null(strstr(err, "Mars/Olympus_Mons"));
    assert_int_equal(timezone_setup("../../etc/passwd", err, sizeof err), -1);
    assert_int_equal(timezone_setup("", err, sizeof err), 0);
    assert_int_equal(timezone_offset_ms(DEC7), 0);
}

static void test_parse_offset(void **state)
{
    int64_t off = 1;
    assert_int_equal(budget_parse_offset("UTC", &off), 0);
    assert_int_equal(off, 0);
    assert_int_equal(budget_parse_offset("+09:00", &off), 0);
    assert_int_equal(off, 9 * H);
    assert_int_equal(budget_parse_offset("-05:30", &off), 0);
    assert_int_equal(off, -5 * H - 30 * 60 * S);
    assert_int_equal(budget_parse_offset("+0900", &off), 0);
    assert_int_equal(off, 9 * H);
    assert_int_equal(budget_parse_offset("UTC+8", &off), 0);
    assert_int_equal(off, 8 * H);
    assert_int_equal(budget_parse_offset("+14:00", &off), 0);
    const char *bad[] = {"Asia/Tokyo", "+15:00", "+09:60", "+9:00", "+09:0", "09:00", "+", "+09:00x", "", NULL};
    for (size_t i = 0; bad[i]; i++)
        assert_int_equal(budget_parse_offset(bad[i], &off), -1);
}

static void test_over_and_estimates(void **state)
{
    assert_false(budget_over(1000000, 0)); /* 0: off */
    assert_false(budget_over(99, 100));
    assert_true(budget_over(100, 100));   /* at the limit: refused */
    assert_true(budget_over(150, 100));
    assert_int_equal(budget_estimate_tokens(NULL), 0);
    assert_int_equal(budget_estimate_tokens(""), 0);
    assert_int_equal(budget_estimate_tokens("abcd"), 1);
    assert_int_equal(budget_estimate_tokens("abcde"), 2);
    assert_int_equal(budget_estimate_tokens("こんにちは"), 5);     /* 5 characters, 15 bytes */
    assert_int_equal(budget_estimate_tokens("hi 世界"), 1 + 2);     /* "hi " and two characters */
}

static void test_cheaper_model(void **state)
{
    struct model_entry items[4] = {
        {.name = "big", .input_price = 5, .output_price = 15},
        {.name = "free", .input_price = -1, .output_price = -1},
        {.name = "small", .input_price = 0.15, .output_price = 0.6},
        {.name = "mid", .input_price = 1, .output_price = 2},
    };
    struct model_catalogue cat = {.items = items, .n = 4};
    assert_ptr_equal(budget_cheaper_model(&cat, &items[0]), &items[2]);
    assert_ptr_equal(budget_cheaper_model(&cat, &items[3]), &items[2]);
    assert_null(budget_cheaper_model(&cat, &items[2])); /* already the cheapest */
    assert_null(budget_cheaper_model(&cat, &items[1])); /* no price: nothing to compare */
    assert_true(budget_cost(&items[0], 1000000, 2000000) == 5 + 30);
    assert_true(budget_cost(&items[1], 1000, 1000) == 0);
}

/* The charge rides in the answer record, so that an answer resumed after a
 * crash is charged what its one model call cost; a partial charge is none. */
static void test_answer_record_charge(void **state)
{
    struct answer_record rec, back;
    answer_record_init(&rec);
    rec.mode = SEND_REPLY;
    rec.parts.parts = calloc(1, sizeof *rec.parts.parts);
    rec.parts.parts[0] = strdup("hi");
    rec.parts.n = 1;
    rec.charge = (struct answer_charge){.model = strdup("small"), .day = DEC7_DAY, .prompt_tokens = 12,
                                        .completion_tokens = 3, .estimated = true};
    char *json = answer_record_json(&rec);
    assert_int_equal(answer_record_parse(json, &back), 0);
    assert_string_equal(back.charge.model, "small");
    assert_int_equal(back.charge.day, DEC7_DAY);
    assert_int_equal(back.charge.prompt_tokens, 12);
    assert_int_equal(back.charge.completion_tokens, 3);
    assert_true(back.charge.estimated);
    free(json);
    answer_record_free(&back);
    answer_record_free(&rec);
    assert_int_equal(answer_record_parse("{\"parts\":[\"hi\"],\"charge\":{\"model\":\"x\",\"day\":1,"
                                         "\"prompt_tokens\":-5,\"completion_tokens\":1}}", &back), 0);
    assert_null(back.charge.model);
    answer_record_free(&back);
    assert_int_equal(answer_record_parse("{\"parts\":[\"hi\"]}", &back), 0); /* older records: none */
    assert_null(back.charge.model);
    answer_record_free(&back);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_day_and_reset_utc),  cmocka_unit_test(test_day_and_reset_offset),
        cmocka_unit_test(test_reset_across_dst),   cmocka_unit_test(test_real_zone),
        cmocka_unit_test(test_parse_offset),       cmocka_unit_test(test_over_and_estimates),
        cmocka_unit_test(test_cheaper_model),      cmocka_unit_test(test_answer_record_charge),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
