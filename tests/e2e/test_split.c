/* test_split.c - long answers against LINE's limits, with the real binary.
 *
 * A reply carries at most 5 text messages of at most 5000 UTF-16 code units
 * each (the fake LINE refuses anything else). Long answers are split into as
 * few messages as fit, nothing is lost but whitespace at the cuts, no cut
 * falls inside a user-perceived character (emoji sequences, flags), and what
 * does not fit in 5 messages ends with "(truncated)". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

#define USER_A "Ue2e0000000000000000000000000000a"

/* Plain prose (nothing Markdown would change) of exactly `n` bytes. */
static char *prose(size_t n)
{
    struct e2e_buf b = {0};
    for (int i = 1; b.len < n; i++) {
        e2e_buf_addf(&b, "Sentence %d talks calmly about the weather and the sea. ", i);
        if (i % 9 == 0)
            e2e_buf_adds(&b, "\n\n");
    }
    b.data[n] = '\0';
    while (n > 0 && (b.data[n - 1] == ' ' || b.data[n - 1] == '\n'))
        b.data[--n] = 'x';
    return b.data;
}

/* Sends one message whose answer is `answer`; returns the answer's messages
 * (one reply) after checking they are a single delivery by reply. */
static size_t ask_for(struct world *w, const char *answer)
{
    fake_llm_set_fixed_answer(w->llm, answer);
    json_t *ev = send_text(w, USER_A, "tell me everything");
    assert_answers(w, USER_A, 1);
    size_t n = fake_line_message_count(w->line);
    for (size_t i = 0; i < n; i++) {
        struct fake_line_message m;
        assert_true(fake_line_message_at(w->line, i, &m));
        assert_string_equal(m.api, "reply");
        assert_string_equal(m.reply_token, ev_get(ev, "replyToken"));
        size_t units = e2e_utf16_len(m.text, strlen(m.text));
        if (units > 5000 || units == 0)
            fail_msg("message %zu has %zu UTF-16 units", i, units);
    }
    /* The fake refused nothing on the way. */
    assert_int_equal(fake_line_request_count_status(w->line, FAKE_LINE_REPLY_PATH, 400), 0);
    return n;
}

static char *joined(struct world *w)
{
    return fake_line_texts(w->line, USER_A, "");
}

static void test_12000_chars_in_three_messages(void **state)
{
    struct world *w = world_start(state, NULL);
    char *answer = prose(12000);
    assert_int_equal(ask_for(w, answer), 3);
    char *got = joined(w);
    char *a = e2e_strip_ws(answer), *g = e2e_strip_ws(got);
    if (strcmp(a, g) != 0)
        fail_msg("the three messages are not the answer (modulo whitespace)");
    free(a);
    free(g);
    free(got);
    free(answer);
    world_finish(w);
}

static void test_japanese_split_by_utf16_units_not_bytes(void **state)
{
    struct world *w = world_start(state, NULL);
    /* 6000 characters = 6000 UTF-16 units but 18000 bytes: two messages. */
    const char *sentence = "\xE3\x81\x93\xE3\x82\x8C\xE3\x81\xAF\xE3\x83\x86\xE3\x82\xB9"
                           "\xE3\x83\x88\xE3\x81\xAE\xE6\x96\x87\xE3\x81\xA7\xE3\x81\x99"
                           "\xE3\x80\x82"; /* これはテストの文です。 (11 characters) */
    struct e2e_buf b = {0};
    while (e2e_utf16_len(b.data ? b.data : "", b.len) + 11 <= 6000)
        e2e_buf_adds(&b, sentence);
    while (e2e_utf16_len(b.data, b.len) < 6000)
        e2e_buf_adds(&b, "\xE3\x81\x82"); /* あ */
    char *answer = e2e_buf_take(&b);
    assert_int_equal(e2e_utf16_len(answer, strlen(answer)), 6000);
    assert_int_equal(ask_for(w, answer), 2);
    char *got = joined(w);
    char *a = e2e_strip_ws(answer), *g = e2e_strip_ws(got);
    assert_string_equal(a, g);
    free(a);
    free(g);
    free(got);
    free(answer);
    world_finish(w);
}

static void test_emoji_never_broken(void **state)
{
    struct world *w = world_start(state, NULL);
    /* family (ZWJ sequence, 11 units) + thumbs up with skin tone (4) + flag of
     * Japan (two regional indicators, 4): 19 units, no spaces, repeated. */
    const char *family = "\xF0\x9F\x91\xA8\xE2\x80\x8D\xF0\x9F\x91\xA9\xE2\x80\x8D"
                         "\xF0\x9F\x91\xA7\xE2\x80\x8D\xF0\x9F\x91\xA6";
    const char *thumbs = "\xF0\x9F\x91\x8D\xF0\x9F\x8F\xBD";
    const char *flag = "\xF0\x9F\x87\xAF\xF0\x9F\x87\xB5";
    char *pattern = e2e_printf("%s%s%s", family, thumbs, flag);
    size_t pl = strlen(pattern), lf = strlen(family), lt = strlen(thumbs);
    assert_int_equal(e2e_utf16_len(pattern, pl), 19);
    struct e2e_buf b = {0};
    for (int i = 0; i < 600; i++)
        e2e_buf_adds(&b, pattern);
    char *answer = e2e_buf_take(&b); /* 11400 units */

    size_t n = ask_for(w, answer);
    assert_int_equal(n, 3);
    char *got = joined(w);
    assert_string_equal(got, answer); /* no whitespace anywhere, so nothing may differ */
    size_t offset = 0;
    for (size_t i = 0; i + 1 < n; i++) {
        struct fake_line_message m;
        fake_line_message_at(w->line, i, &m);
        offset += strlen(m.text);
        size_t r = offset % pl;
        if (r != 0 && r != lf && r != lf + lt)
            fail_msg("message %zu ends inside an emoji sequence (byte %zu of the pattern)", i, r);
    }
    free(got);
    free(answer);
    free(pattern);
    world_finish(w);
}

static void test_40000_chars_truncated_in_five(void **state)
{
    struct world *w = world_start(state, NULL);
    char *answer = prose(40000);
    assert_int_equal(ask_for(w, answer), 5);
    struct fake_line_message last;
    assert_true(fake_line_message_at(w->line, 4, &last));
    size_t ll = strlen(last.text);
    const char *mark = "(truncated)";
    if (ll < strlen(mark) || strcmp(last.text + ll - strlen(mark), mark) != 0)
        fail_msg("the last message does not end with (truncated): ...%s",
                 last.text + (ll > 80 ? ll - 80 : 0));
    /* Everything before the mark is the start of the answer. */
    char *got = joined(w);
    got[strlen(got) - strlen(mark)] = '\0';
    char *a = e2e_strip_ws(answer), *g = e2e_strip_ws(got);
    size_t gl = strlen(g);
    while (gl > 0 && (g[gl - 1] == '.' || (unsigned char)g[gl - 1] >= 0x80))
        g[--gl] = '\0'; /* an ellipsis before the mark is fine */
    /* The five messages are well filled (LINE allows 25000 units). */
    size_t units = 0;
    for (size_t i = 0; i < 5; i++) {
        struct fake_line_message m;
        fake_line_message_at(w->line, i, &m);
        units += e2e_utf16_len(m.text, strlen(m.text));
    }
    if (units < 20000)
        fail_msg("five messages carry only %zu UTF-16 units of a 40000-character answer", units);
    if (strncmp(a, g, gl) != 0)
        fail_msg("the five messages are not the beginning of the answer");
    free(a);
    free(g);
    free(got);
    free(answer);
    world_finish(w);
}

static void test_short_answer_is_one_message(void **state)
{
    struct world *w = world_start(state, NULL);
    char *answer = prose(4900);
    assert_int_equal(ask_for(w, answer), 1);
    free(answer);
    world_finish(w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        E2E_TEST(test_12000_chars_in_three_messages),
        E2E_TEST(test_japanese_split_by_utf16_units_not_bytes),
        E2E_TEST(test_emoji_never_broken),
        E2E_TEST(test_40000_chars_truncated_in_five),
        E2E_TEST(test_short_answer_is_one_message),
    };
    return E2E_RUN(tests);
}
