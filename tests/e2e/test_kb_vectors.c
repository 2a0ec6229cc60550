/* test_kb_vectors.c - the knowledge base's vectors (issue 12), the real
 * binary against a fake embeddings server (support/fake_embed.h).
 *
 * The fake's vectors put "cost" and "fee" in one meaning: the question
 * "How much does it cost?" shares no word with "The entrance fee is 1200
 * yen", so lexical search cannot find that passage; with
 * LINEBOT_EMBED_MODEL on, the model gets it. Also: `kb add` embeds in
 * batches within DashScope's 10 inputs (the fake refuses more and counts
 * it), for the one model the fake serves; a change of model makes the bot
 * search lexically and say so once in its log; `kb add` refuses to mix
 * models; `kb reembed` fixes it and the running bot sees it; a removed
 * document's vectors are gone from the running bot; an embeddings server
 * that fails leaves the question answered (lexically). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fake_embed.h"
#include "harness.h"

#define EMBED_KEY "e2e-embed-key-0123456789"
#define MODEL_V4 "text-embedding-v4"
#define MODEL_V3 "text-embedding-v3"
#define QUESTION "How much does it cost?"
#define PASSAGE "The entrance fee is 1200 yen for adults."

static void stop_embed(void *arg)
{
    fake_embed_stop(arg);
}

static int kb(struct world *w, const char *const *args, const char *const *extra, char **out, char **err)
{
    const char *argv[12] = {"kb"};
    size_t i = 0;
    for (; args[i] && i < 10; i++)
        argv[i + 1] = args[i];
    argv[i + 1] = NULL;
    return bot_run(w, argv, extra, out, err);
}

static size_t count_of(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

/* Asks QUESTION as `user`; returns the model's request transcript (malloc'd). */
static char *ask(struct world *w, const char *user, size_t *answers)
{
    size_t before = fake_llm_request_count(w->llm);
    send_text(w, user, QUESTION);
    assert_answers(w, user, ++*answers);
    assert_int_equal(fake_llm_request_count(w->llm), before + 1);
    return fake_llm_request_transcript(w->llm, before);
}

static void test_vectors_find_what_words_do_not(void **state)
{
    struct world *w = world_new(state, NULL);
    struct fake_embed *fe = fake_embed_start(EMBED_KEY, MODEL_V4, 10);
    assert_non_null(fe);
    world_add_fake(w, NULL, stop_embed, fe);
    char *url = e2e_printf("LINEBOT_EMBED_BASE_URL=%s", fake_embed_base_url(fe));
    const char *v4[] = {"LINEBOT_EMBED_MODEL=" MODEL_V4, url, "LINEBOT_EMBED_API_KEY_ENV=E2E_EMBED_KEY",
                        "E2E_EMBED_KEY=" EMBED_KEY, NULL};
    const char *v3[] = {"LINEBOT_EMBED_MODEL=" MODEL_V3, url, "LINEBOT_EMBED_API_KEY_ENV=E2E_EMBED_KEY",
                        "E2E_EMBED_KEY=" EMBED_KEY, NULL};

    /* A price page, and a manual of 25 sections (more than two batches of 10). */
    char *fees = e2e_printf("%s/fees.md", w->dir), *manual = e2e_printf("%s/manual.md", w->dir);
    assert_true(e2e_write_file(fees, "# Admission\n\n" PASSAGE "\n"));
    struct e2e_buf m = {0};
    for (int i = 1; i <= 25; i++) {
        e2e_buf_addf(&m, "# Section %d\n\n", i);
        for (int j = 0; j < 8; j++)
            e2e_buf_addf(&m, "Step %d of section %d: tighten the brass screws of the lamp bracket gently. ", j, i);
        e2e_buf_adds(&m, "\n\n");
    }
    assert_true(e2e_write_file(manual, m.data));
    free(m.data);

    char *out = NULL, *err = NULL;
    assert_int_equal(kb(w, (const char *[]){"add", fees, manual, NULL}, v4, &out, &err), 0);
    long chunks = 0;
    for (const char *line = out; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
        const char *tab = strchr(strchr(line, '\t') + 1, '\t');
        chunks += atol(tab + 1);
    }
    assert_true(chunks >= 26);
    free(out);
    free(err);
    struct fake_embed_stats s;
    fake_embed_stats(fe, &s);
    assert_int_equal(s.violations, 0);
    assert_int_equal(s.wrong_model, 0);
    assert_int_equal(s.max_batch, 10);
    assert_int_equal(s.inputs, (size_t)chunks);
    assert_true(s.requests >= 3);

    /* Without embeddings the passage is not found; with them it is. */
    size_t answers = 0;
    bot_start(w, NULL);
    fake_llm_set_fixed_answer(w->llm, "It is 1200 yen [1].");
    char *tr = ask(w, E2E_USER, &answers);
    assert_not_contains(tr, PASSAGE);
    free(tr);
    bot_restart(w, v4);
    size_t before = s.requests;
    tr = ask(w, E2E_USER, &answers);
    assert_contains(tr, PASSAGE);
    assert_not_contains(tr, "brass screws");
    free(tr);
    fake_embed_stats(fe, &s);
    assert_int_equal(s.requests, before + 1); /* the question, one call */
    char *texts = world_texts(w, E2E_USER);
    assert_contains(texts, "It is 1200 yen [1].\n\nSources\n[1] Admission");
    free(texts);
    char *log = bot_log(w);
    assert_contains(log, "(1 by vectors), 1 given to the model");
    free(log);

    /* Another model configured: lexical only, said once, no embeddings asked. */
    bot_restart(w, v3);
    before = s.requests;
    for (int i = 0; i < 2; i++) {
        tr = ask(w, E2E_USER, &answers);
        assert_not_contains(tr, PASSAGE);
        free(tr);
    }
    fake_embed_stats(fe, &s);
    assert_int_equal(s.requests, before);
    log = bot_log(w);
    assert_int_equal(count_of(log, "holds embeddings of " MODEL_V4 ", not of " MODEL_V3), 1);
    free(log);

    /* `kb add` does not mix models; `kb reembed` moves the knowledge base over. */
    char *more = e2e_printf("%s/more.md", w->dir);
    assert_true(e2e_write_file(more, "# Garden\n\nThe garden has roses and a pond.\n"));
    assert_int_equal(kb(w, (const char *[]){"add", more, NULL}, v3, &out, &err), 1);
    assert_contains(err, "holds embeddings of " MODEL_V4 ", not of " MODEL_V3);
    assert_contains(err, "linebot kb reembed --kb default");
    free(out);
    free(err);
    assert_int_equal(kb(w, (const char *[]){"reembed", NULL}, NULL, &out, &err), 2);
    assert_contains(err, "needs LINEBOT_EMBED_MODEL");
    free(out);
    free(err);
    fake_embed_set_model(fe, MODEL_V3);
    assert_int_equal(kb(w, (const char *[]){"reembed", NULL}, v3, &out, &err), 0);
    char *want = e2e_printf("knowledge base default: %ld passages embedded with " MODEL_V3 "\n", chunks);
    assert_string_equal(out, want);
    free(want);
    free(out);
    free(err);
    fake_embed_stats(fe, &s);
    assert_int_equal(s.violations, 0);
    e2e_sleep_ms(1100); /* the running bot looks again at most once a second */
    tr = ask(w, E2E_USER, &answers);
    assert_contains(tr, PASSAGE);
    free(tr);

    /* A removed document is gone from the running bot's vectors too. */
    assert_int_equal(kb(w, (const char *[]){"remove", fees, NULL}, NULL, &out, &err), 0);
    free(out);
    free(err);
    e2e_sleep_ms(1100);
    tr = ask(w, E2E_USER, &answers);
    assert_not_contains(tr, PASSAGE);
    free(tr);

    /* The embeddings server fails: answered anyway, lexically, and logged. */
    assert_int_equal(kb(w, (const char *[]){"add", fees, NULL}, v3, &out, &err), 0);
    free(out);
    free(err);
    fake_embed_set_failing(fe, 503);
    e2e_sleep_ms(1100);
    tr = ask(w, E2E_USER, &answers);
    assert_not_contains(tr, PASSAGE);
    free(tr);
    log = bot_log(w);
    assert_contains(log, "the question could not be embedded, searching lexically: the embeddings server answered"
                         " HTTP 503");
    free(log);

    free(more);
    free(fees);
    free(manual);
    free(url);
    world_finish(w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        E2E_TEST(test_vectors_find_what_words_do_not),
    };
    return E2E_RUN(tests);
}
