/* test_voice.c - voice messages' pure parts: what a transcription service
 * answers (and the hostile answers it may give), the estimate for a
 * recording, and the 🎤 line, cut between characters. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/voice.h"

#define MIC "\xF0\x9F\x8E\xA4"
#define ELLIPSIS "\xE2\x80\xA6"

static int parse(const char *body, struct voice_transcript *t)
{
    char err[128];
    return voice_parse_transcription(body, strlen(body), t, err, sizeof err);
}

static void test_transcription_answers(void **state)
{
    (void)state;
    struct voice_transcript t;
    /* gpt-4o-transcribe: tokens */
    assert_int_equal(parse("{\"text\":\"  Hello there.\\n\",\"usage\":{\"type\":\"tokens\",\"input_tokens\":14,"
                           "\"output_tokens\":45,\"total_tokens\":59}}", &t), 0);
    assert_string_equal(t.text, "Hello there.");
    assert_int_equal(t.prompt_tokens, 14);
    assert_int_equal(t.completion_tokens, 45);
    assert_int_equal(t.seconds, -1);
    voice_transcript_free(&t);
    /* whisper-1: seconds, rounded up */
    assert_int_equal(parse("{\"text\":\"hi\",\"usage\":{\"type\":\"duration\",\"seconds\":2.2}}", &t), 0);
    assert_int_equal(t.seconds, 3);
    assert_int_equal(t.prompt_tokens, -1);
    voice_transcript_free(&t);
    /* no usage; odd usage fields are ignored, not trusted */
    assert_int_equal(parse("{\"text\":\"hi\",\"usage\":{\"input_tokens\":-5,\"output_tokens\":\"9\"}}", &t), 0);
    assert_int_equal(t.prompt_tokens, -1);
    assert_int_equal(t.completion_tokens, -1);
    voice_transcript_free(&t);
    /* nothing heard */
    assert_int_equal(parse("{\"text\":\" \\n \"}", &t), 1);
    voice_transcript_free(&t);
    /* hostile or broken */
    assert_int_equal(parse("{\"text\":42}", &t), -1);
    voice_transcript_free(&t);
    assert_int_equal(parse("[\"text\"]", &t), -1);
    voice_transcript_free(&t);
    assert_int_equal(parse("not json", &t), -1);
    voice_transcript_free(&t);
}

static void test_clean_text_caps_and_repairs(void **state)
{
    (void)state;
    char *big = malloc(VOICE_TRANSCRIPT_MAX * 2 + 1);
    memset(big, 'a', VOICE_TRANSCRIPT_MAX * 2);
    big[VOICE_TRANSCRIPT_MAX * 2] = '\0';
    char *clean = voice_clean_text(big);
    assert_int_equal(strlen(clean), VOICE_TRANSCRIPT_MAX);
    free(clean);
    free(big);
    clean = voice_clean_text("ok \xff!");
    assert_string_equal(clean, "ok \xEF\xBF\xBD!"); /* U+FFFD */
    free(clean);
}

static void test_estimate(void **state)
{
    (void)state;
    assert_int_equal(voice_estimate_tokens(3000), 3 * VOICE_TOKENS_PER_SECOND);
    assert_int_equal(voice_estimate_tokens(3001), 4 * VOICE_TOKENS_PER_SECOND);
    assert_int_equal(voice_estimate_tokens(-1), 1);
}

static void test_transcript_line(void **state)
{
    (void)state;
    char *line = voice_transcript_line("  Hello\n\n  there  ");
    assert_string_equal(line, MIC " \"Hello there\"");
    free(line);
    /* 61 characters of three bytes each: 59 of them and the ellipsis. */
    char words[61 * 3 + 1] = "";
    for (int i = 0; i < 61; i++)
        strcat(words, "\xE3\x81\x82");
    line = voice_transcript_line(words);
    char want[300];
    snprintf(want, sizeof want, MIC " \"%.*s" ELLIPSIS "\"", 59 * 3, words);
    assert_string_equal(line, want);
    free(line);
    /* exactly 60: kept whole */
    words[60 * 3] = '\0';
    line = voice_transcript_line(words);
    strcpy(want, MIC " \"");
    strcat(want, words);
    strcat(want, "\"");
    assert_string_equal(line, want);
    free(line);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_transcription_answers),
        cmocka_unit_test(test_clean_text_caps_and_repairs),
        cmocka_unit_test(test_estimate),
        cmocka_unit_test(test_transcript_line),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
