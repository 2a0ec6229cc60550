/* test_voice.c - voice messages with the real binary (issue 13).
 *
 * The fake LINE serves a real m4a (tests/fixtures/audio/voice-2s.m4a, two
 * seconds of a tone made with ffmpeg) at GET /v2/bot/message/{id}/content,
 * says "processing" at .../content/transcoding for a while, and may answer
 * 202 or 404. The catalogue has the chat's model ("plain", no audio), one
 * transcription model called at /audio/transcriptions ("ear") and one called
 * through chat/completions with an input_audio part ("asr", "audio_via":
 * "chat"), all on the same fake LLM. The oracles: the multipart request the
 * fake parsed itself (the file's name, type and bytes, the model), the
 * input_audio part it decoded itself, the question the chat model got (the
 * transcript), the history a later request carries, the texts LINE
 * delivered (the 🎤 line, and each bad input's notice), the requests that
 * reached the fake LINE (nothing fetched for a recording that is too long),
 * the usage /usage reports and the log. */
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "fake_lambda.h"
#include "harness.h"
#include "pg_scratch.h"

#define USER_A "Ue2e0000000000000000000000000000a"
#define GROUP "Ce2e00000000000000000000000000001"
#define TRANSCRIPT "What is the capital of France?"
#define FIXTURE FIXTURES_DIR "/audio/voice-2s.m4a"

static unsigned char *fixture(size_t *len)
{
    FILE *fp = fopen(FIXTURE, "rb");
    if (!fp)
        fail_msg("cannot open %s", FIXTURE);
    unsigned char *data = e2e_xmalloc(1 << 20);
    *len = fread(data, 1, 1 << 20, fp);
    fclose(fp);
    assert_true(*len > 100 && memcmp(data + 4, "ftyp", 4) == 0);
    return data;
}

/* The catalogue and the test's settings (`db`: a LINEBOT_DB override or
 * NULL). Call env_free. */
static char **catalogue(struct world *w, const char *db, const char *const *extra)
{
    size_t n = 0;
    while (extra && extra[n])
        n++;
    char **env = calloc(n + 5, sizeof *env);
    const char *base = fake_llm_base_url(w->llm);
    env[0] = e2e_printf("LINEBOT_MODELS=[{\"name\":\"plain\",\"model\":\"model-plain\",\"provider\":\"custom\","
                        "\"base_url\":\"%s\",\"api_key_env\":\"KEY_A\"},"
                        "{\"name\":\"ear\",\"model\":\"model-ear\",\"provider\":\"custom\",\"base_url\":\"%s\","
                        "\"api_key_env\":\"KEY_A\",\"audio\":true},"
                        "{\"name\":\"asr\",\"model\":\"model-asr\",\"provider\":\"custom\",\"base_url\":\"%s\","
                        "\"api_key_env\":\"KEY_A\",\"audio\":true,\"audio_via\":\"chat\"}]",
                        base, base, base);
    env[1] = e2e_printf("KEY_A=%s", E2E_LLM_KEY);
    env[2] = e2e_printf("LINEBOT_LANG=en");
    size_t k = 3;
    if (db)
        env[k++] = e2e_printf("%s", db);
    for (size_t i = 0; i < n; i++)
        env[k++] = e2e_printf("%s", extra[i]);
    return env;
}

static void env_free(char **env)
{
    for (char **e = env; *e; e++)
        free(*e);
    free(env);
}

static struct world *start_on(void **state, const char *db, const char *const *extra)
{
    struct world *w = world_new(state, NULL);
    char **env = catalogue(w, db, extra);
    bot_start(w, (const char *const *)env);
    env_free(env);
    return w;
}

static struct world *start(void **state, const char *const *extra)
{
    return start_on(state, NULL, extra);
}

/* A voice message `id` of `duration_ms` (< 0: none) from USER_A, or in `group`. */
static json_t *voice_event(struct world *w, const char *group, const char *id, long duration_ms)
{
    json_t *ev = ev_message(w, &(struct ev){.user = USER_A, .group = group, .message_type = "audio",
                                            .message_id = id});
    json_t *message = json_object_get(ev, "message");
    json_object_del(message, "text");
    if (duration_ms >= 0)
        json_object_set_new(message, "duration", json_integer(duration_ms));
    json_object_set_new(message, "contentProvider", json_pack("{s:s}", "type", "line"));
    return ev;
}

/* The fake LINE has `id`'s recording, transcoded after `processing` polls,
 * then .../content answers 202 `not_ready` times. */
static unsigned char *serve_slow(struct world *w, const char *id, int processing, int not_ready, size_t *len)
{
    unsigned char *m4a = fixture(len);
    fake_line_set_content(w->line, id, m4a, *len, "audio/x-m4a", not_ready);
    fake_line_set_transcoding(w->line, id, processing, false);
    fake_llm_set_audio(w->llm, m4a, *len, TRANSCRIPT);
    return m4a;
}

static unsigned char *serve(struct world *w, const char *id, int processing, size_t *len)
{
    return serve_slow(w, id, processing, 0, len);
}

static char *request_model(struct world *w, size_t i)
{
    json_t *req = fake_llm_request_json(w->llm, i);
    char *model = e2e_strdup(json_string_value(json_object_get(req, "model")));
    json_decref(req);
    return model;
}

/* The one transcription request: the file (name, type, bytes) and model. */
static void assert_one_transcription(struct world *w, size_t want)
{
    struct fake_llm_transcription t[4];
    size_t n = fake_llm_transcriptions(w->llm, t, 4);
    assert_int_equal(n, want);
    for (size_t i = 0; i < n && i < 4; i++) {
        assert_string_equal(t[i].model, "model-ear");
        size_t fl = strlen(t[i].filename);
        assert_true(fl > 4 && strcmp(t[i].filename + fl - 4, ".m4a") == 0);
        assert_string_equal(t[i].type, "audio/mp4");
        assert_true(t[i].same_bytes);
        assert_true(t[i].bearer);
    }
}

/* The fake's own multipart reading, checked with bodies written here by
 * hand (RFC 7578), not by libcurl: the bytes of the file may hold CR, LF,
 * NUL and dashes (never the delimiter, which RFC 2046 rules out); a file
 * name that is no .m4a and a missing model are refused as OpenAI does. */
static long post_multipart(struct world *w, const char *file_name, const char *model, struct http_result *out)
{
    static const unsigned char audio[] = "\0\0\0\x1c" "ftypM4A \r\n--Xy\r\n\r\n\0";
    char *url = e2e_printf("%s/audio/transcriptions", fake_llm_base_url(w->llm));
    char *auth = e2e_printf("Authorization: Bearer %s", E2E_LLM_KEY);
    const char *headers[] = {"Content-Type: multipart/form-data; boundary=XyZ", auth, NULL};
    struct e2e_buf b = {0};
    e2e_buf_addf(&b, "--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"%s\"\r\n"
                     "Content-Type: audio/mp4\r\n\r\n", file_name);
    e2e_buf_add(&b, audio, sizeof audio - 1);
    if (model)
        e2e_buf_addf(&b, "\r\n--XyZ\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\n%s", model);
    e2e_buf_adds(&b, "\r\n--XyZ--\r\n");
    size_t len = b.len;
    char *body = e2e_buf_take(&b);
    fake_llm_set_audio(w->llm, audio, sizeof audio - 1, "heard");
    http_do("POST", url, body, len, headers, out);
    free(body);
    free(auth);
    free(url);
    return out->status;
}

static void test_the_fake_reads_multipart(void **state)
{
    struct world *w = world_new(state, NULL);
    struct http_result r;
    assert_int_equal(post_multipart(w, "voice.m4a", "model-ear", &r), 200);
    assert_contains(r.body, "\"text\":\"heard\"");
    http_result_free(&r);
    struct fake_llm_transcription t[4];
    assert_int_equal(fake_llm_transcriptions(w->llm, t, 4), 1);
    assert_string_equal(t[0].model, "model-ear");
    assert_string_equal(t[0].filename, "voice.m4a");
    assert_string_equal(t[0].type, "audio/mp4");
    assert_true(t[0].same_bytes && t[0].bearer);
    assert_int_equal(post_multipart(w, "voice.wav.txt", "model-ear", &r), 400);
    assert_contains(r.body, "Invalid file format");
    http_result_free(&r);
    assert_int_equal(post_multipart(w, "voice.m4a", NULL, &r), 400);
    assert_contains(r.body, "model");
    http_result_free(&r);
    world_finish(w);
}

/* Voice → transcription (multipart) → the chat's model asked the words → the
 * answer under the 🎤 line; the history keeps the words as the user's turn. */
static void voice_is_transcribed_and_answered(void **state, const char *db)
{
    struct world *w = start_on(state, db, NULL);
    size_t len;
    unsigned char *m4a = serve(w, "v-1", 2, &len);
    fake_llm_push_answer(w->llm, "Paris.", 0);

    send_event(w, voice_event(w, NULL, "v-1", 2000));
    assert_answers(w, USER_A, 1);
    char *texts = world_texts(w, USER_A);
    assert_string_equal(texts, "\xF0\x9F\x8E\xA4 \"" TRANSCRIPT "\"\nParis.");
    free(texts);
    assert_one_transcription(w, 1);
    /* LINE's transcoding was waited for: "processing" twice, then "succeeded". */
    assert_int_equal(fake_line_request_count(w->line, "GET", "/v2/bot/message/v-1/content/transcoding"), 3);
    /* The animation while LINE transcodes and the service listens, and again for the model. */
    assert_int_equal(fake_line_request_count(w->line, "POST", "/v2/bot/chat/loading/start"), 2);
    assert_int_equal(fake_llm_request_count(w->llm), 1);
    char *model = request_model(w, 0);
    assert_string_equal(model, "model-plain");
    free(model);
    char *last = fake_llm_request_last_user(w->llm, 0);
    assert_string_equal(last, TRANSCRIPT);
    free(last);

    /* The next text sees the words, not audio, and not the 🎤 line. */
    send_text(w, USER_A, "And of Italy?");
    assert_answers(w, USER_A, 2);
    char *t = fake_llm_request_transcript(w->llm, 1);
    assert_contains(t, "user: " TRANSCRIPT "\n");
    assert_contains(t, "assistant: Paris.\n");
    assert_not_contains(t, "\xF0\x9F\x8E\xA4");
    assert_not_contains(t, "base64");
    free(t);
    free(m4a);
    world_finish(w);
}

static void test_voice_answered_sqlite(void **state) { voice_is_transcribed_and_answered(state, NULL); }
static void test_voice_answered_postgres(void **state)
{
    pg_scratch_run(state, "voice", voice_is_transcribed_and_answered);
}

static void test_voice_through_chat_input_audio(void **state)
{
    struct world *w = start(state, (const char *const[]){"LINEBOT_TRANSCRIBE_MODEL=asr", NULL});
    size_t len;
    unsigned char *m4a = serve(w, "v-chat", 0, &len);
    fake_llm_push_answer(w->llm, "  " TRANSCRIPT "\n", 0); /* the transcription */
    fake_llm_push_answer(w->llm, "Paris.", 0);
    send_event(w, voice_event(w, NULL, "v-chat", 1500));
    assert_answers(w, USER_A, 1);
    assert_int_equal(fake_llm_request_count(w->llm), 2);
    char *model = request_model(w, 0);
    assert_string_equal(model, "model-asr");
    free(model);
    assert_int_equal(fake_llm_request_audio(w->llm, 0), 1); /* data:audio/mp4;base64, the same bytes */
    assert_int_equal(fake_llm_request_audio(w->llm, 1), -1);
    model = request_model(w, 1);
    assert_string_equal(model, "model-plain");
    free(model);
    char *last = fake_llm_request_last_user(w->llm, 1);
    assert_string_equal(last, TRANSCRIPT);
    free(last);
    assert_int_equal(fake_llm_transcriptions(w->llm, NULL, 0), 0);
    char *texts = world_texts(w, USER_A);
    assert_string_equal(texts, "\xF0\x9F\x8E\xA4 \"" TRANSCRIPT "\"\nParis.");
    free(texts);
    free(m4a);
    world_finish(w);
}

static void test_long_transcript_line_is_cut(void **state)
{
    struct world *w = start(state, NULL);
    size_t len;
    unsigned char *m4a = serve(w, "v-cut", 0, &len);
    /* 70 characters, Japanese: cut to 59 and an ellipsis, between characters. */
    char words[70 * 3 + 1] = "";
    for (int i = 0; i < 70; i++)
        strcat(words, i % 2 ? "\xE3\x81\x84" : "\xE3\x81\x82"); /* い, あ */
    fake_llm_set_audio(w->llm, m4a, len, words);
    fake_llm_push_answer(w->llm, "OK.", 0);
    send_event(w, voice_event(w, NULL, "v-cut", 2000));
    assert_answers(w, USER_A, 1);
    char want[200];
    snprintf(want, sizeof want, "\xF0\x9F\x8E\xA4 \"%.*s\xE2\x80\xA6\"\nOK.", 59 * 3, words);
    char *texts = world_texts(w, USER_A);
    assert_string_equal(texts, want);
    free(texts);
    char *last = fake_llm_request_last_user(w->llm, 0);
    assert_string_equal(last, words); /* the model gets all of it */
    free(last);
    free(m4a);
    world_finish(w);
}

/* One bad input: the user gets `notice`, the chat model is not asked, and the
 * log names `logged`. */
static void expect_notice(struct world *w, const char *notice, const char *logged)
{
    assert_answers(w, USER_A, 1);
    char *texts = world_texts(w, USER_A);
    assert_contains(texts, notice);
    free(texts);
    assert_int_equal(fake_llm_request_count(w->llm), 0);
    char *log = bot_log(w);
    assert_contains(log, logged);
    free(log);
}

static void test_too_long_is_refused_before_any_fetch(void **state)
{
    struct world *w = start(state, NULL);
    size_t len;
    unsigned char *m4a = serve(w, "v-long", 0, &len);
    send_event(w, voice_event(w, NULL, "v-long", 120001));
    expect_notice(w, "too long for me. The limit is 120 seconds.", "LINEBOT_MAX_AUDIO_S");
    assert_int_equal(fake_line_request_count(w->line, NULL, "/v2/bot/message/v-long"), 0);
    assert_int_equal(fake_llm_transcriptions(w->llm, NULL, 0), 0);
    free(m4a);
    world_finish(w);
}

static void test_content_202_then_the_recording(void **state)
{
    struct world *w = start(state, (const char *const[]){"LINEBOT_MAX_AUDIO_S=5", NULL});
    size_t len;
    unsigned char *m4a = serve_slow(w, "v-202", 0, 2, &len); /* 202, 202, then the bytes */
    fake_llm_push_answer(w->llm, "Paris.", 0);
    send_event(w, voice_event(w, NULL, "v-202", 5000)); /* exactly the limit: allowed */
    assert_answers(w, USER_A, 1);
    assert_int_equal(fake_line_request_count_status(w->line, "/v2/bot/message/v-202/content", 202), 2);
    assert_one_transcription(w, 1);
    free(m4a);
    world_finish(w);
}

static void test_transcoding_failed(void **state)
{
    struct world *w = start(state, NULL);
    size_t len;
    unsigned char *m4a = serve(w, "v-tf", 1, &len);
    fake_line_set_transcoding(w->line, "v-tf", 1, true);
    send_event(w, voice_event(w, NULL, "v-tf", 2000));
    expect_notice(w, "LINE couldn't prepare that recording", "transcode_failed");
    assert_int_equal(fake_line_request_count_status(w->line, "/v2/bot/message/v-tf/content", 200), 2);
    assert_int_equal(fake_llm_transcriptions(w->llm, NULL, 0), 0);
    free(m4a);
    world_finish(w);
}

static void test_expired_recording(void **state)
{
    struct world *w = start(state, NULL);
    send_event(w, voice_event(w, NULL, "v-gone", 2000)); /* the fake has nothing: 404 */
    expect_notice(w, "LINE no longer has that file", "expired");
    assert_int_equal(fake_llm_transcriptions(w->llm, NULL, 0), 0);
    world_finish(w);
}

static void test_recording_over_the_cap(void **state)
{
    struct world *w = start(state, (const char *const[]){"LINEBOT_MAX_CONTENT_MB=1", NULL});
    size_t len;
    unsigned char *m4a = fixture(&len);
    /* An m4a's first box, then 1.5 MB of anything. */
    size_t big = 1536 * 1024;
    unsigned char *data = e2e_xmalloc(big);
    memset(data, 0x55, big);
    memcpy(data, m4a, len);
    fake_line_set_content(w->line, "v-big", data, big, "audio/x-m4a", 0);
    send_event(w, voice_event(w, NULL, "v-big", 2000));
    expect_notice(w, "too large for me. The limit is 1 MB.", "too_large");
    assert_int_equal(fake_llm_transcriptions(w->llm, NULL, 0), 0);
    free(data);
    free(m4a);
    world_finish(w);
}

static void test_transcription_endpoint_refuses(void **state)
{
    struct world *w = start(state, NULL);
    size_t len;
    unsigned char *m4a = serve(w, "v-400", 0, &len);
    fake_llm_push_transcription(w->llm, 400,
                                "{\"error\":{\"message\":\"Audio file might be corrupted or unsupported\","
                                "\"type\":\"invalid_request_error\",\"param\":\"file\",\"code\":\"invalid_value\"}}");
    send_event(w, voice_event(w, NULL, "v-400", 2000));
    expect_notice(w, "speech recognition service couldn't read that recording", "refused");
    char *log = bot_log(w);
    assert_contains(log, "might be corrupted");
    free(log);
    assert_one_transcription(w, 1); /* a refusal is not asked again */
    free(m4a);
    world_finish(w);
}

static void test_nothing_heard(void **state)
{
    struct world *w = start(state, NULL);
    size_t len;
    unsigned char *m4a = serve(w, "v-quiet", 0, &len);
    fake_llm_push_transcription(w->llm, 200, "{\"text\":\" \\n \"}");
    send_event(w, voice_event(w, NULL, "v-quiet", 2000));
    expect_notice(w, "couldn't hear any words", "(empty)");
    free(m4a);
    world_finish(w);
}

static void test_content_type_that_lies(void **state)
{
    struct world *w = start(state, NULL);
    static const char png[] = "\x89PNG\r\n\x1a\n\0\0\0\rIHDR not a recording at all";
    fake_line_set_content(w->line, "v-png", png, sizeof png - 1, "audio/x-m4a", 0);
    send_event(w, voice_event(w, NULL, "v-png", 2000));
    expect_notice(w, "doesn't look like a voice message", "no m4a");
    assert_int_equal(fake_llm_transcriptions(w->llm, NULL, 0), 0);
    world_finish(w);
}

/* The transcription counts toward the user's budget: the reported usage
 * (40 + 8) and the answer's (10 + 10); then, without usage, an estimate from
 * the duration (3 s: 75 tokens of input). */
static void budget_counts_the_transcription(void **state, const char *db)
{
    struct world *w = start_on(state, db, (const char *const[]){"LINEBOT_USER_DAILY_TOKENS=100000", NULL});
    size_t len;
    unsigned char *m4a = serve(w, "v-b1", 0, &len);
    fake_line_set_content(w->line, "v-b2", m4a, len, "audio/x-m4a", 0);
    fake_llm_push_answer(w->llm, "Paris.", 0);
    send_event(w, voice_event(w, NULL, "v-b1", 2000));
    assert_answers(w, USER_A, 1);
    send_text(w, USER_A, "/usage");
    assert_answers(w, USER_A, 2);
    char *texts = world_texts(w, USER_A);
    assert_contains(texts, "Today you've used 68 tokens of your daily 100000.");
    free(texts);

    fake_llm_push_transcription(w->llm, 200, "{\"text\":\"hello there\"}");
    fake_llm_push_answer(w->llm, "Hi.", 0);
    send_event(w, voice_event(w, NULL, "v-b2", 3000));
    assert_answers(w, USER_A, 3);
    char *log = bot_log(w);
    /* 75 (3 s) + 10 prompt; 3 ("hello there") + 10 completion */
    assert_contains(log, "model usage: plain, 85 prompt + 13 completion tokens (estimated)");
    free(log);
    free(m4a);
    world_finish(w);
}

static void test_budget_sqlite(void **state) { budget_counts_the_transcription(state, NULL); }
static void test_budget_postgres(void **state) { pg_scratch_run(state, "voice", budget_counts_the_transcription); }

static void test_voice_in_a_group_is_chatter(void **state)
{
    struct world *w = start(state, (const char *const[]){"LINEBOT_TRIGGER=bot", NULL});
    size_t len;
    unsigned char *m4a = serve(w, "v-g", 0, &len);
    send_event(w, voice_event(w, GROUP, "v-g", 2000));
    world_quiet(w);
    assert_int_equal(fake_line_delivery_count(w->line, GROUP), 0);
    assert_int_equal(fake_line_request_count(w->line, NULL, "/v2/bot/message/v-g"), 0);
    assert_int_equal(fake_llm_transcriptions(w->llm, NULL, 0), 0);
    free(m4a);
    world_finish(w);
}

static void test_without_a_transcription_model_the_media_text(void **state)
{
    struct world *w = world_new(state, NULL);
    char *models = e2e_printf("LINEBOT_MODELS=[{\"name\":\"plain\",\"model\":\"model-plain\",\"provider\":\"custom\","
                              "\"base_url\":\"%s\",\"api_key_env\":\"KEY_A\"}]",
                              fake_llm_base_url(w->llm));
    char *key = e2e_printf("KEY_A=%s", E2E_LLM_KEY);
    bot_start(w, (const char *const[]){models, key, "LINEBOT_LANG=en", NULL});
    send_event(w, voice_event(w, NULL, "v-none", 2000));
    assert_answers(w, USER_A, 1);
    char *texts = world_texts(w, USER_A);
    assert_string_equal(texts, "Sorry, I can only read text for now.");
    free(texts);
    assert_int_equal(fake_line_request_count(w->line, NULL, "/v2/bot/message/v-none"), 0);
    free(models);
    free(key);
    world_finish(w);
}

static void test_transcribe_model_setting_is_checked_at_start(void **state)
{
    struct world *w = world_new(state, NULL);
    char **env = catalogue(w, NULL, (const char *const[]){"LINEBOT_TRANSCRIBE_MODEL=nosuch", NULL});
    bot_assert_start_refused(w, (const char *const *)env,
                             (const char *const[]){"LINEBOT_TRANSCRIBE_MODEL", "names no model of the catalogue", NULL});
    env_free(env);
    env = catalogue(w, NULL, (const char *const[]){"LINEBOT_TRANSCRIBE_MODEL=plain", NULL});
    bot_assert_start_refused(w, (const char *const *)env,
                             (const char *const[]){"LINEBOT_TRANSCRIBE_MODEL", "without \"audio\": true", NULL});
    env_free(env);
    world_finish(w);
}

/* A kill -9 between fetching and answering (after the chat model answered,
 * before LINE got anything): after the restart the voice message is
 * answered exactly once, transcribed again from the same bytes. */
static void test_kill9_between_fetch_and_answer(void **state)
{
    struct world *w = start(state, (const char *const[]){"LINEBOT_FAILPOINT=worker_after_llm",
                                                         "LINEBOT_PUSH_FALLBACK=1", NULL});
    size_t len;
    unsigned char *m4a = serve(w, "v-k9", 0, &len);
    json_t *ev = voice_event(w, NULL, "v-k9", 2000);
    long posted = bot_send(w, ev, NULL);
    if (posted != 200 && posted != 0)
        fail_msg("POST /callback answered %ld, want 200 (or no answer: killed after the commit)", posted);
    int status = bot_wait_exit(w, e2e_ms(E2E_WAIT_MS));
    if (status == -1 || !WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL)
        fail_msg("the bot should have died of SIGKILL after the model call (wait status 0x%x)", status);
    assert_int_equal(fake_line_delivery_count(w->line, USER_A), 0);
    assert_int_equal(fake_llm_request_count(w->llm), 1);

    char **env = catalogue(w, NULL, (const char *const[]){"LINEBOT_FAILPOINT", NULL});
    bot_start(w, (const char *const *)env);
    env_free(env);
    if (posted != 200)
        assert_int_equal(bot_send(w, ev, NULL), 200);
    size_t n = world_answers_grace(w, USER_A, 1, 2000);
    if (n != 1) {
        char *t = world_texts(w, USER_A);
        fail_msg("after a kill -9 between fetch and answer: want exactly 1 answer, got %zu:\n%s", n, t);
    }
    assert_one_transcription(w, 2);
    char *texts = world_texts(w, USER_A);
    assert_contains(texts, "\xF0\x9F\x8E\xA4 \"" TRANSCRIPT "\"\n");
    free(texts);
    free(m4a);
    world_finish(w);
}

/* Lambda: the webhook invocation hands the voice message to an asynchronous
 * invocation of itself, which waits for LINE's transcoding, transcribes and
 * answers, once, with the reply token. */
static void test_lambda_async_invocation_answers_voice(void **state)
{
    struct world *w = world_new(state, NULL);
    struct fake_lambda *fl = fake_lambda_start(NULL);
    assert_non_null(fl);
    world_add_fake(w, fake_lambda_dump_cb, fake_lambda_stop_cb, fl);
    char **models = catalogue(w, NULL, NULL);
    char *api = e2e_printf("AWS_LAMBDA_RUNTIME_API=%s", fake_lambda_runtime_api(fl));
    char *endpoint = e2e_printf("AWS_ENDPOINT_URL_LAMBDA=%s", fake_lambda_url(fl));
    const char *env[] = {api, endpoint, "AWS_LAMBDA_FUNCTION_NAME=" FAKE_LAMBDA_FUNCTION,
                         "AWS_LAMBDA_FUNCTION_VERSION=$LATEST", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE=512",
                         "AWS_REGION=" FAKE_AWS_REGION, "AWS_ACCESS_KEY_ID=" FAKE_AWS_ACCESS_KEY_ID,
                         "AWS_SECRET_ACCESS_KEY=" FAKE_AWS_SECRET_ACCESS_KEY,
                         "AWS_SESSION_TOKEN=" FAKE_AWS_SESSION_TOKEN, "_HANDLER=bootstrap", "HOST", "PORT",
                         models[0], models[1], models[2], NULL};
    bot_spawn_bootstrap(w, env);
    if (!fake_lambda_wait_idle(fl, e2e_ms(15000)))
        fail_msg("the runtime never asked for an invocation");
    size_t len;
    unsigned char *m4a = serve(w, "v-lambda", 2, &len);
    fake_llm_push_answer(w->llm, "Paris.", 0);

    /* API Gateway's HTTP API event around the signed webhook. */
    char *body = webhook_body(voice_event(w, NULL, "v-lambda", 2000), NULL);
    char *sig = line_signature(E2E_CHANNEL_SECRET, body, strlen(body));
    json_t *event = json_pack("{s:s,s:s,s:s,s:{s:s,s:s},s:{s:{s:s,s:s},s:s},s:s,s:b}", "version", "2.0",
                              "routeKey", "POST /callback", "rawPath", "/callback", "headers", "content-type",
                              "application/json", "x-line-signature", sig, "requestContext", "http", "method",
                              "POST", "path", "/callback", "requestId", "voiceReq1=", "body", body,
                              "isBase64Encoded", 0);
    char *payload = json_dumps(event, JSON_COMPACT);
    const char *rid = fake_lambda_enqueue(fl, payload);
    assert_true(fake_lambda_wait_result(fl, rid, e2e_ms(E2E_WAIT_MS)));
    assert_answers(w, USER_A, 1);
    if (!fake_lambda_wait_idle(fl, e2e_ms(E2E_WAIT_MS)))
        fail_msg("the runtime did not finish its invocations");
    assert_int_equal(fake_lambda_invoke_count(fl), 1); /* the asynchronous hand-off */
    assert_int_equal(fake_lambda_invocation_count(fl), 2);
    char *texts = world_texts(w, USER_A);
    assert_string_equal(texts, "\xF0\x9F\x8E\xA4 \"" TRANSCRIPT "\"\nParis.");
    free(texts);
    assert_one_transcription(w, 1);
    char *problems = fake_lambda_problems(fl);
    if (problems)
        fail_msg("the fake Lambda saw protocol problems:\n%s", problems);
    int status = bot_term(w, e2e_ms(10000));
    assert_true((WIFEXITED(status) && WEXITSTATUS(status) == 0) ||
                (WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM));
    free(payload);
    json_decref(event);
    free(sig);
    free(body);
    free(api);
    free(endpoint);
    env_free(models);
    free(m4a);
    world_finish(w);
}

int main(void)
{
    if (!pg_scratch_url())
        fprintf(stderr, "[  SKIPPED ] PostgreSQL cases: LINEBOT_TEST_PG_URL is not set\n");
    const struct CMUnitTest tests[] = {
        E2E_TEST(test_the_fake_reads_multipart),
        E2E_TEST(test_voice_answered_sqlite),
        E2E_TEST(test_voice_answered_postgres),
        E2E_TEST(test_voice_through_chat_input_audio),
        E2E_TEST(test_long_transcript_line_is_cut),
        E2E_TEST(test_too_long_is_refused_before_any_fetch),
        E2E_TEST(test_content_202_then_the_recording),
        E2E_TEST(test_transcoding_failed),
        E2E_TEST(test_expired_recording),
        E2E_TEST(test_recording_over_the_cap),
        E2E_TEST(test_transcription_endpoint_refuses),
        E2E_TEST(test_nothing_heard),
        E2E_TEST(test_content_type_that_lies),
        E2E_TEST(test_budget_sqlite),
        E2E_TEST(test_budget_postgres),
        E2E_TEST(test_voice_in_a_group_is_chatter),
        E2E_TEST(test_without_a_transcription_model_the_media_text),
        E2E_TEST(test_transcribe_model_setting_is_checked_at_start),
        E2E_TEST(test_kill9_between_fetch_and_answer),
        E2E_TEST(test_lambda_async_invocation_answers_voice),
    };
    return E2E_RUN(tests);
}
