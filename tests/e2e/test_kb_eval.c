/* test_kb_eval.c - `linebot kb eval` (issue 12), the real binary on a real
 * store.
 *
 * - The evaluation set (tests/data/kb-eval: Japanese, Chinese and English
 *   documents and questions users would ask) is synced and evaluated at
 *   k = 5: recall@5 over all its questions must stay at or above 0.9. The
 *   figures are printed, so CI's log shows them per language. On
 *   PostgreSQL too (with LINEBOT_TEST_PG_URL), where every question must
 *   find its passage at the same rank as on SQLite.
 * - The figures themselves, on two tiny documents where the rank of every
 *   answer is plain from the words (the oracle is the hand count in this
 *   file): recall, MRR, the late, miss and noise lines.
 * - The default LINEBOT_KB_MIN_SCORE (0, chosen by the evaluation set, see
 *   README.md): a knowledge base of one short file, whose BM25 scores are
 *   all about 0, is used to answer.
 * - Bad input: a missing file, a line that is not JSON or lacks "expect"
 *   (one line on stderr naming the line number, exit 1), an empty knowledge
 *   base, usage errors (exit 2), --help. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "pg_scratch.h"

#define EVAL_SET FIXTURES_DIR "/../data/kb-eval"
#define RECALL_FLOOR 0.9

static int kb(struct world *w, const char *const *args, char **out, char **err)
{
    const char *argv[16] = {"kb"};
    size_t i = 0;
    for (; args[i] && i < 14; i++)
        argv[i + 1] = args[i];
    argv[i + 1] = NULL;
    return bot_run(w, argv, NULL, out, err);
}

/* The line of `out` that starts with `prefix` and a tab (malloc'd), or NULL. */
static char *line_starting(const char *out, const char *prefix)
{
    size_t plen = strlen(prefix);
    for (const char *p = out; p && *p;) {
        size_t len = strcspn(p, "\n");
        if (len > plen && strncmp(p, prefix, plen) == 0 && p[plen] == '\t')
            return e2e_printf("%.*s", (int)len, p);
        p += len + (p[len] == '\n');
    }
    return NULL;
}

static char *write_in(struct world *w, const char *name, const char *text)
{
    char *path = e2e_printf("%s/%s", w->dir, name);
    assert_true(e2e_write_file(path, text));
    return path;
}

/* The output without the scores (field 3 of the lines per question):
 * PostgreSQL computes BM25 in SQL, and may differ in the last digits. */
static char *without_scores(const char *out)
{
    struct e2e_buf b = {0};
    for (const char *p = out; *p;) {
        size_t len = strcspn(p, "\n");
        char *line = e2e_printf("%.*s", (int)len, p);
        bool per_question = strncmp(line, "late\t", 5) == 0 || strncmp(line, "low\t", 4) == 0 ||
                            strncmp(line, "miss\t", 5) == 0 || strncmp(line, "noise\t", 6) == 0;
        char *f = line;
        for (int i = 0; per_question && i < 3 && f; i++)
            f = strchr(f + 1, '\t');
        char *after = f ? strchr(f + 1, '\t') : NULL;
        if (per_question && f && after) {
            e2e_buf_add(&b, line, (size_t)(f - line));
            e2e_buf_adds(&b, after);
        } else {
            e2e_buf_adds(&b, line);
        }
        e2e_buf_adds(&b, "\n");
        free(line);
        p += len + (p[len] == '\n');
    }
    return e2e_buf_take(&b);
}

static char *sqlite_figures; /* the SQLite run's output, without scores */

static void eval_set_on(void **state, const char *db)
{
    struct world *w = world_new(state, db ? (const char *[]){db, NULL} : NULL);
    char *out = NULL, *err = NULL;

    assert_int_equal(kb(w, (const char *[]){"sync", EVAL_SET "/docs", NULL}, &out, &err), 0);
    assert_contains(out, "added");
    free(out);
    free(err);
    int rc = kb(w, (const char *[]){"eval", "-k", "5", EVAL_SET "/questions.jsonl", NULL}, &out, &err);
    fprintf(stderr, "kb eval -k 5 of the evaluation set on %s:\n%s%s", db ? "PostgreSQL" : "SQLite", out, err);
    assert_int_equal(rc, 0);
    assert_contains(out, "tag\tquestions\trecall@5\tmrr\tabove_min\toff_topic\tquiet\n");
    /* Every language is there, with its own questions. */
    static const char *const tags[] = {"ja", "zh", "en", "all"};
    double recall = 0;
    for (size_t i = 0; i < sizeof tags / sizeof tags[0]; i++) {
        char *row = line_starting(out, tags[i]);
        if (!row)
            fail_msg("no row for %s", tags[i]);
        int questions = 0, off_topic = 0;
        double mrr = 0;
        assert_int_equal(sscanf(row + strlen(tags[i]), "\t%d\t%lf\t%lf\t%*d\t%d", &questions, &recall, &mrr, &off_topic),
                         4);
        assert_true(questions >= 15);
        assert_true(off_topic >= 3);
        assert_true(mrr > 0 && mrr <= recall);
        free(row);
    }
    /* recall now holds the row `all`. */
    if (recall < RECALL_FLOOR)
        fail_msg("recall@5 is %.4f, under %.2f: retrieval got worse (see the miss lines above)", recall, RECALL_FLOOR);
    char *figures = without_scores(out);
    if (!db) {
        free(sqlite_figures);
        sqlite_figures = figures;
    } else {
        if (sqlite_figures)
            assert_string_equal(figures, sqlite_figures);
        free(figures);
    }
    free(out);
    free(err);
    world_finish(w);
}

static void test_eval_set(void **state)
{
    eval_set_on(state, NULL);
}

static void test_eval_set_postgres(void **state)
{
    pg_scratch_run(state, "kbeval", eval_set_on);
}

static void test_figures(void **state)
{
    struct world *w = world_new(state, NULL);
    char *out = NULL, *err = NULL;
    char *a = write_in(w, "a.md", "# Hours\n\nWe open at nine.\n");
    char *b = write_in(w, "b.md", "# Prices\n\nCoffee costs three dollars.\n");
    /* Two more, none of the questions' words: with two chunks alone, a word
     * in one of them has an IDF of 0 (FTS5's bm25()), every score too. */
    char *c = write_in(w, "c.md", "# Parking\n\nThe car park is behind the shop.\n");
    char *d = write_in(w, "d.md", "# Pets\n\nDogs are welcome on the terrace.\n");
    /* By hand: 1 and 2 come first (only one document has their words); 3's
     * answer has none of its words (miss); 4's document has one of its
     * three words and the other has two (rank 2); 5 matches nothing
     * (quiet); 6 matches a document (noise). */
    char *questions = write_in(w, "q.jsonl",
                               "{\"q\": \"When do you open?\", \"expect\": \"open at nine\", \"tag\": \"x\"}\n"
                               "{\"q\": \"coffee price\", \"expect\": [\"four\", \"three dollars\"], \"tag\": \"x\"}\n"
                               "\n"
                               "{\"q\": \"coffee\", \"expect\": \"open at nine\", \"tag\": \"y\"}\n"
                               "{\"q\": \"open nine coffee\", \"expect\": \"three dollars\", \"tag\": \"y\"}\n"
                               "{\"q\": \"bananas\", \"expect\": null}\n"
                               "{\"q\": \"coffee\", \"expect\": null}\r\n");
    assert_int_equal(kb(w, (const char *[]){"add", a, b, c, d, NULL}, &out, &err), 0);
    free(out);
    free(err);

    assert_int_equal(kb(w, (const char *[]){"eval", "--min-score", "0.01", questions, NULL}, &out, &err), 0);
    char *miss = line_starting(out, "miss"), *late = line_starting(out, "late"), *noise = line_starting(out, "noise");
    assert_non_null(miss);
    assert_non_null(late);
    assert_non_null(noise);
    /* kind, line, rank, score, question, title (of the first hit, for a miss). */
    assert_true(strncmp(miss, "miss\t4\t-\t", 9) == 0);
    assert_contains(miss, "\tcoffee\tPrices");
    assert_true(strncmp(late, "late\t5\t2\t", 9) == 0);
    assert_contains(late, "\topen nine coffee\tPrices");
    assert_true(strncmp(noise, "noise\t7\t1\t", 10) == 0);
    assert_not_contains(out, "bananas");
    assert_not_contains(out, "When do you open");
    assert_contains(out, "min_score\t0.0100\n");
    assert_contains(out, "x\t2\t1.0000\t1.0000\t2\t0\t0\n");
    assert_contains(out, "y\t2\t0.5000\t0.2500\t1\t0\t0\n");
    assert_contains(out, "all\t4\t0.7500\t0.6250\t3\t2\t1\n");
    free(miss);
    free(late);
    free(noise);
    free(out);
    free(err);

    /* k = 1: question 5's answer at rank 2 is a miss now; a high minimum
     * score makes 6 quiet and the found answers not above it. */
    assert_int_equal(kb(w, (const char *[]){"eval", "-k", "1", "--min-score", "999", questions, NULL}, &out, &err),
                     0);
    assert_contains(out, "tag\tquestions\trecall@1\tmrr\tabove_min\toff_topic\tquiet\n");
    assert_contains(out, "all\t4\t0.5000\t0.5000\t0\t2\t2\n");
    assert_true(strncmp(out, "low\t1\t1\t", 8) == 0);
    free(out);
    free(err);
    free(a);
    free(b);
    free(c);
    free(d);
    free(questions);
    world_finish(w);
}

static void test_bad_input(void **state)
{
    struct world *w = world_new(state, NULL);
    char *out = NULL, *err = NULL;
    char *doc = write_in(w, "a.md", "# Hours\n\nWe open at nine.\n");
    char *good = write_in(w, "good.jsonl", "{\"q\": \"open\", \"expect\": \"nine\"}\n");

    /* No documents yet: said so, before any figure. */
    assert_int_equal(kb(w, (const char *[]){"add", doc, NULL}, &out, &err), 0);
    free(out);
    free(err);
    assert_int_equal(kb(w, (const char *[]){"eval", "--kb", "other", good, NULL}, &out, &err), 1);
    assert_contains(err, "knowledge base other has no documents");
    assert_string_equal(out, "");
    free(out);
    free(err);

    static const struct {
        const char *text;
        const char *says;
    } bad[] = {
        {"{\"q\": \"open\", \"expect\": \"nine\"}\n\n{\"q\": \"open\", \"expect\": \"nine\"\n", ":3: not JSON"},
        {"{\"q\": \"open\"}\n", ":1: \"expect\" is missing"},
        {"{\"q\": \"\", \"expect\": \"nine\"}\n", ":1: \"q\" must be the question"},
        {"[1, 2]\n", ":1: must be a JSON object"},
        {"{\"q\": \"open\", \"expect\": 3}\n", ":1: \"expect\" must be a string"},
        {"{\"q\": \"open\", \"expect\": []}\n", ":1: \"expect\" must not be an empty list"},
        {"{\"q\": \"open\", \"expect\": \"nine\", \"tag\": 1}\n", ":1: \"tag\" must be"},
        {"{\"q\": \"open\", \"q\": \"x\", \"expect\": \"nine\"}\n", ":1: not JSON: duplicate object key"},
        {"{\"q\": \"\xff\", \"expect\": \"nine\"}\n", ":1: not JSON"},
        {"\n\n", ": no questions in it"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *path = write_in(w, "bad.jsonl", bad[i].text);
        assert_int_equal(kb(w, (const char *[]){"eval", path, NULL}, &out, &err), 1);
        char *expected = e2e_printf("linebot kb eval: %s%s", path, bad[i].says);
        assert_contains(err, expected);
        assert_string_equal(out, ""); /* no figures over part of a file */
        free(expected);
        free(path);
        free(out);
        free(err);
    }
    assert_int_equal(kb(w, (const char *[]){"eval", "/nonexistent/q.jsonl", NULL}, &out, &err), 1);
    assert_contains(err, "linebot kb eval: /nonexistent/q.jsonl: No such file or directory");
    free(out);
    free(err);
    assert_int_equal(kb(w, (const char *[]){"eval", w->dir, NULL}, &out, &err), 1);
    assert_contains(err, "is a folder");
    free(out);
    free(err);

    /* Usage errors exit 2 with the usage; --help exits 0. */
    static const char *const usage[][4] = {
        {"eval", NULL}, {"eval", "-k", "0", NULL}, {"eval", "--min-score", "x", NULL}, {"eval", "--bogus", NULL},
    };
    for (size_t i = 0; i < sizeof usage / sizeof usage[0]; i++) {
        assert_int_equal(kb(w, usage[i], &out, &err), 2);
        assert_contains(err, "Usage: linebot kb eval");
        free(out);
        free(err);
    }
    assert_int_equal(kb(w, (const char *[]){"eval", "a.jsonl", "b.jsonl", NULL}, &out, &err), 2);
    assert_contains(err, "one FILE only");
    free(out);
    free(err);
    assert_int_equal(kb(w, (const char *[]){"eval", "--help", NULL}, &out, &err), 0);
    assert_contains(out, "recall@N");
    free(out);
    free(err);
    assert_int_equal(kb(w, (const char *[]){"--help", NULL}, &out, &err), 0);
    assert_contains(out, "eval [--kb NAME] [-k N] FILE");
    free(out);
    free(err);
    free(doc);
    free(good);
    world_finish(w);
}

/* One file, one chunk: BM25's IDF is 0 for every word (see README.md,
 * "Why LINEBOT_KB_MIN_SCORE is 0"); the bot answers from it all the same. */
static void test_one_file_is_used(void **state)
{
    struct world *w = world_new(state, NULL);
    char *out = NULL, *err = NULL;
    char *doc = write_in(w, "hours.md", "# Hours\n\nWe open at nine and close at six. Parking is free.\n");
    assert_int_equal(kb(w, (const char *[]){"add", doc, NULL}, &out, &err), 0);
    free(out);
    free(err);
    assert_int_equal(kb(w, (const char *[]){"search", "When do you open?", NULL}, &out, &err), 0);
    assert_contains(out, "1\t0.0000\t"); /* the score that 0.2 refused */
    free(out);
    free(err);
    bot_start(w, NULL);
    fake_llm_set_fixed_answer(w->llm, "At nine [1].");
    send_text(w, E2E_USER, "When do you open?");
    assert_answers(w, E2E_USER, 1);
    char *tr = fake_llm_request_transcript(w->llm, 0);
    assert_contains(tr, "We open at nine and close at six.");
    free(tr);
    char *texts = world_texts(w, E2E_USER);
    assert_contains(texts, "At nine [1].\n\nSources\n[1] Hours");
    free(texts);
    free(doc);
    world_finish(w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        E2E_TEST(test_eval_set),
        E2E_TEST(test_eval_set_postgres),
        E2E_TEST(test_figures),
        E2E_TEST(test_one_file_is_used),
        E2E_TEST(test_bad_input),
    };
    int failed = E2E_RUN(tests);
    free(sqlite_figures);
    return failed;
}
